#!/bin/sh
# Builds the console into OUTDIR (default cockpit/dist): `npm ci` first when node_modules is
# missing or older than package-lock.json, then build.js. Used by meson (-Dconsole=true),
# tools/run.sh --console and the browser test.
set -eu
out=${1:-$(dirname "$0")/dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        npm ci --no-audit --no-fund --loglevel=error >&2
fi
exec node build.js "$out"
