#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Builds the page into dist/ (or the folder given as the first argument): index.js and
// index.css bundled by esbuild, with index.html and manifest.json beside them.
const esbuild = require("esbuild");
const fs = require("fs");
const path = require("path");

const out = path.resolve(process.argv[2] || path.join(__dirname, "dist"));
fs.mkdirSync(out, { recursive: true });

esbuild.build({
    entryPoints: { index: path.join(__dirname, "src/index.jsx") },
    bundle: true,
    minify: true,
    sourcemap: false,
    target: ["es2020"],
    outdir: out,
    jsx: "automatic",
    loader: { ".js": "jsx", ".woff": "file", ".woff2": "file", ".svg": "file", ".png": "file", ".jpg": "file" },
    assetNames: "fonts/[name]",
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "warning",
}).then(() => {
    for (const f of ["index.html", "manifest.json"])
        fs.copyFileSync(path.join(__dirname, "src", f), path.join(out, f));
}).catch(() => process.exit(1));
