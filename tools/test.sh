#!/usr/bin/env bash
# Builds smsprovd and runs every test: once in a normal build and once with AddressSanitizer and
# UndefinedBehaviorSanitizer; then the console (cockpit/: npm ci, build, and its test in headless
# Chromium against the normal build's daemon); then runs each libFuzzer target for a short while
# (about a minute; FUZZ_SECONDS changes it). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

. tools/deps.sh
smsprov_install_deps "${SMSPROV_CONSOLE_PACKAGES[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

run_suite() {
        local dir=$1; shift
        if [ ! -f "$dir/build.ninja" ]; then
                meson setup "$dir" "$@"
        else
                meson configure "$dir" "$@" >/dev/null
        fi
        ninja -C "$dir"
        # The per-test timeouts only turn a hang into a failure: multiplied so that a machine loaded
        # by other work (another tools/test.sh, say) never reaches them.
        meson test -C "$dir" --print-errorlogs --num-processes 2 --timeout-multiplier 4
}

status=0 failed=()
started=$SECONDS
stage() { # stage NAME COMMAND...: runs one stage, remembers it when it fails
        local name=$1 t0=$SECONDS; shift
        echo "=== $name ==="
        if ! "$@"; then
                status=1 failed+=("$name")
        fi
        echo "=== $name: $((SECONDS - t0)) s ==="
}
stage "normal build" run_suite build/test -Db_sanitize=none
stage "address,undefined sanitizer build" \
        run_suite build/test-sanitize -Db_sanitize=address,undefined -Db_lundef=false
stage "console (Cockpit page in headless Chromium)" \
        tests/console/run.sh build/test/src/smsprovd build/test/console
stage "fuzzers (clang, libFuzzer, ASan+UBSan; FUZZ_SECONDS=${FUZZ_SECONDS:-60} each)" \
        tests/fuzz/run-fuzzers.sh

if [ $status -eq 0 ]; then
        echo "tools/test.sh: all test suites passed in $((SECONDS - started)) s"
else
        # The end of the output is what a CI page shows: name what failed there.
        for dir in build/test build/test-sanitize; do
                [ ! -f "$dir/meson-logs/testlog.json" ] || tools/failed-tests.py "$dir" || true
        done
        printf 'tools/test.sh: FAILED after %d s in:' $((SECONDS - started)) >&2
        printf ' [%s]' "${failed[@]}" >&2
        echo >&2
fi
exit $status
