# Shell helpers for bus tests: a private dbus-daemon and the real smsprovd in a temporary
# directory, and assertions. Source it; SMSPROVD must name the daemon binary.

. "$(dirname "${BASH_SOURCE[0]}")/../../tools/stand-in-kit.sh"

# A small WinPE-like WIM with its architecture set: make_wim PATH [ARCH-CODE]
make_wim() {
        local tree
        tree=$(mktemp -d)
        mkdir -p "$tree/Windows/System32/config"
        echo "[LaunchApps]" > "$tree/Windows/System32/winpeshl.ini"
        wimlib-imagex capture "$tree" "$1" "Microsoft Windows PE (x64)" >/dev/null
        wimlib-imagex info "$1" 1 --image-property WINDOWS/ARCH="${2:-9}" \
                --image-property WINDOWS/LANGUAGES/DEFAULT=en-US >/dev/null
        rm -rf "$tree"
}

world_start() {
        WORLD=$(mktemp -d "${TMPDIR:-/tmp}/smsprov-shell.XXXXXX")
        chmod 755 "$WORLD"
        WORLD_CONTENT=${WORLD_CONTENT_REL:+$WORLD/$WORLD_CONTENT_REL}
        WORLD_CONTENT=${WORLD_CONTENT:-$WORLD/content}
        mkdir -p "$WORLD_CONTENT"
        chmod 755 "$WORLD_CONTENT"
        make_stand_in_kit "$WORLD/adk" "$WORLD/osd-bin"
        SMSPROV_BUS=unix:path=$WORLD/bus
        export SMSPROV_BUS
        dbus-daemon --config-file="$SOURCE_ROOT/tests/bus/test-bus.conf" --nofork --nopidfile --nosyslog \
                --address="$SMSPROV_BUS" &
        WORLD_DBUS=$!
        for _ in $(seq 200); do [ -S "$WORLD/bus" ] && break; sleep 0.02; done
        daemon_start "$@"
}

daemon_start() {
        "$SMSPROVD" --bus-address="$SMSPROV_BUS" --state-dir="$WORLD/state" --site-code=LAB \
                --content-root="$WORLD_CONTENT" --dp-root="$WORLD" --adk-root="$WORLD/adk" --osd-bin-root="$WORLD/osd-bin" \
                --log-level=warning "$@" &
        WORLD_DAEMON=$!
        for _ in $(seq 500); do
                busctl --address="$SMSPROV_BUS" status org.smsprov.Provider1 >/dev/null 2>&1 && return 0
                kill -0 "$WORLD_DAEMON" 2>/dev/null || { echo "smsprovd exited" >&2; return 1; }
                sleep 0.02
        done
        echo "smsprovd did not come up" >&2
        return 1
}

daemon_stop() {
        kill -"${1:-TERM}" "$WORLD_DAEMON" 2>/dev/null || true
        wait "$WORLD_DAEMON" 2>/dev/null || true
}

world_stop() {
        local status=0
        kill -TERM "$WORLD_DAEMON" 2>/dev/null || true
        wait "$WORLD_DAEMON" 2>/dev/null || status=$?
        # A clean stop exits 0; under the sanitizers a leak makes it fail.
        [ "$status" -eq 0 ] || { echo "smsprovd did not stop cleanly (exit $status)" >&2; FAILED=$((FAILED + 1)); }
        kill "$WORLD_DBUS" 2>/dev/null || true
        wait "$WORLD_DBUS" 2>/dev/null || true
        [ -n "${SMSPROV_TEST_KEEP:-}" ] || rm -rf "$WORLD"
}

B() { busctl --address="$SMSPROV_BUS" "$@"; }

PASSED=0
FAILED=0
ok() { PASSED=$((PASSED + 1)); echo "ok - $*"; }
not_ok() { FAILED=$((FAILED + 1)); echo "not ok - $*"; }

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
        if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1: expected '$2', got '$3'"; fi
}

# expect_fail TEXT DESCRIPTION busctl-args...: the call must fail and busctl's message must contain
# TEXT. smsprovd's messages start with the WBEM code name (WBEM_E_READ_ONLY: …), which is what
# busctl shows of an error; the exact D-Bus error names are checked by the sd-bus tests.
expect_fail() {
        local want=$1 what=$2 out
        shift 2
        if out=$(B "$@" 2>&1); then
                not_ok "$what: succeeded, expected a failure with $want"
                return
        fi
        case "$out" in
        *"$want"*) ok "$what ($want)" ;;
        *) not_ok "$what: expected '$want' in: $out" ;;
        esac
}

finish() {
        echo "$PASSED passed, $FAILED failed"
        [ "$FAILED" -eq 0 ]
}
