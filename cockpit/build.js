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
    // Fonts and pictures inline: the page is exactly the four files meson installs.
    loader: { ".js": "jsx", ".woff": "dataurl", ".woff2": "dataurl", ".svg": "dataurl", ".png": "dataurl", ".jpg": "dataurl" },
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "warning",
}).then(() => {
    for (const f of ["index.html", "manifest.json"])
        fs.copyFileSync(path.join(__dirname, "src", f), path.join(out, f));
}).catch(() => process.exit(1));
