#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ with clang in their own build directory and runs
# each for a while, starting from its seed corpus (tests/fuzz/corpus/<target>/, regression cases
# included). Exits non-zero when any target finds a crash, a leak, undefined behaviour or a
# broken invariant; the input is saved under <build>/fuzz-artifacts/<target>/.
# The target "bus" is the D-Bus surface fuzzer (fuzz-bus.c): it runs the sanitizer build's
# smsprovd on a private bus, from FUZZ_BUS_BUILD_DIR (default build/test-sanitize, the one
# tools/test.sh makes; set up here when missing); its logs go to that directory.
#
#   tests/fuzz/run-fuzzers.sh                      every target, FUZZ_SECONDS (60) each
#   FUZZ_SECONDS=600 tests/fuzz/run-fuzzers.sh wql only the WQL target, ten minutes
#
# Environment:
#   FUZZ_SECONDS    seconds per target (libFuzzer -max_total_time), default 60
#   FUZZ_BUILD_DIR  the clang build directory, default build/fuzz
#   FUZZ_JOBS       libFuzzer targets run at the same time, default one per CPU (nproc)
#   FUZZ_ARGS       extra libFuzzer arguments
#   FUZZ_SEED       the bus target's seed (it prints the one it used)
# New inputs that widen coverage go to <build>/fuzz-corpus/<target>/ (kept between runs, never
# into the source tree). To turn a finding into a regression case: minimise it with
#   <build>/tests/fuzz/fuzz-<target> -minimize_crash=1 -runs=100000 <artifact>
# and add the result to tests/fuzz/corpus/<target>/ with a name that says what it was.
set -euo pipefail
cd "$(dirname "$0")/../.."

ALL_TARGETS=(wql wmi-path nal-path schedule image-property changes wim-xml inf bus)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")
SECONDS_EACH=${FUZZ_SECONDS:-60}
BUILD=${FUZZ_BUILD_DIR:-build/fuzz}
JOBS=${FUZZ_JOBS:-$(nproc)}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

if ! command -v clang >/dev/null; then
        echo "run-fuzzers.sh: clang is not installed (tools/deps.sh installs it)" >&2
        exit 1
fi

# The fuzzers carry their own sanitizers (tests/fuzz/meson.build); the rest of this build is
# plain clang, which also shows that the project builds with clang.
if [ ! -f "$BUILD/build.ninja" ]; then
        CC=clang meson setup "$BUILD" -Db_sanitize=none -Dtests=true --buildtype=debugoptimized
fi
ninja_targets=()
for t in "${TARGETS[@]}"; do
        [ "$t" = bus ] || ninja_targets+=("tests/fuzz/fuzz-$t")
done
if [ ${#ninja_targets[@]} -gt 0 ] && ! ninja -C "$BUILD" "${ninja_targets[@]}"; then
        echo "run-fuzzers.sh: building the fuzzers failed (is libFuzzer there? clang's runtime package)" >&2
        exit 1
fi

BUS_BUILD=${FUZZ_BUS_BUILD_DIR:-build/test-sanitize}
run_bus() {
        local log="$BUS_BUILD/fuzz-bus.log"
        if [ ! -f "$BUS_BUILD/build.ninja" ]; then
                meson setup "$BUS_BUILD" -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
        fi
        if ! ninja -C "$BUS_BUILD" tests/fuzz/fuzz-bus src/smsprovd >/dev/null; then
                echo "not ok - fuzz-bus: cannot build it in $BUS_BUILD" >&2
                return 1
        fi
        if SMSPROVD="$BUS_BUILD/src/smsprovd" SOURCE_ROOT="$PWD" FUZZ_BUS_LOG_DIR="$PWD/$BUS_BUILD" \
                        "$BUS_BUILD/tests/fuzz/fuzz-bus" "$SECONDS_EACH" >"$log" 2>&1; then
                echo "ok - fuzz-bus: $(grep -E '^fuzz-bus: (seed|as )' "$log" | cut -d, -f1 | tr '\n' ';')"
                return 0
        fi
        echo "not ok - fuzz-bus: finding, see $log" >&2
        grep -E 'FINDING|the call|log:' "$log" | head -8 >&2 || true
        return 1
}

run_one() {
        [ "$1" = bus ] && { run_bus; return; }
        local t=$1 exe="$BUILD/tests/fuzz/fuzz-$1" work="$BUILD/fuzz-corpus/$1" art="$BUILD/fuzz-artifacts/$1/"
        local dict=tests/fuzz/$1.dict log="$BUILD/fuzz-$1.log" args=()
        mkdir -p "$work" "$art"
        [ -f "$dict" ] && args+=("-dict=$dict")
        # shellcheck disable=SC2086
        if "$exe" -max_total_time="$SECONDS_EACH" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
                        -artifact_prefix="$art" "${args[@]}" ${FUZZ_ARGS:-} "$work" "tests/fuzz/corpus/$t" \
                        >"$log" 2>&1; then
                echo "ok - fuzz-$t: $(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}') runs" \
                        "in ${SECONDS_EACH}s, $(grep -E '^#[0-9]+.*(DONE|pulse)' "$log" | tail -1 | grep -o 'cov: [0-9]*')"
                return 0
        fi
        echo "not ok - fuzz-$t: finding, see $log and $art" >&2
        grep -E 'ERROR: |FUZZ INVARIANT BROKEN|runtime error|SUMMARY' "$log" | head -5 >&2 || true
        return 1
}

status=0
pids=()
# The libFuzzer targets share the cores (FUZZ_JOBS at a time); the bus target runs alone after
# them, so that the 5 s its Ping allows are the daemon's alone.
for t in "${TARGETS[@]}"; do
        [ "$t" != bus ] || continue
        if [ "$JOBS" -le 1 ]; then
                run_one "$t" || status=1
        else
                run_one "$t" &
                pids+=($!)
                if [ ${#pids[@]} -ge "$JOBS" ]; then
                        wait "${pids[0]}" || status=1
                        pids=("${pids[@]:1}")
                fi
        fi
done
for p in "${pids[@]}"; do
        wait "$p" || status=1
done
for t in "${TARGETS[@]}"; do
        [ "$t" != bus ] || run_one bus || status=1
done

if [ $status -eq 0 ]; then
        echo "run-fuzzers.sh: no findings (${#TARGETS[@]} targets, ${SECONDS_EACH}s each)"
else
        echo "run-fuzzers.sh: FINDINGS" >&2
fi
exit $status
