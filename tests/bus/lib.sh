# Shell helpers for bus tests: a private dbus-daemon and the real smsprovd in a temporary
# directory, and assertions. Source it; SMSPROVD must name the daemon binary.

# A stand-in deployment kit and OSD binaries: the optional component trees and the files a boot
# image gets. (Boot image builds and exports also need winpe.wim, made by the C tests with wimlib.)
make_kit() {
        local root=$1 arch name
        for arch in x86 amd64; do
                for name in WinPE-WMI WinPE-Scripting WinPE-WDS-Tools WinPE-SecureStartup WinPE-NetFx WinPE-PowerShell; do
                        mkdir -p "$root/adk/$arch/WinPE_OCs/$name/Windows/System32"
                        echo "$name $arch" > "$root/adk/$arch/WinPE_OCs/$name/Windows/System32/$name.txt"
                done
        done
        echo "10.1.22621.1" > "$root/adk/version"
        for arch in i386 x64; do
                mkdir -p "$root/osd-bin/$arch/00000409"
                for f in TsBootShell.exe TsmBootstrap.exe TsProgressUI.exe 00000409/tsres.dll; do
                        echo "$f for $arch" > "$root/osd-bin/$arch/$f"
                done
        done
}

world_start() {
        WORLD=$(mktemp -d "${TMPDIR:-/tmp}/smsprov-shell.XXXXXX")
        chmod 755 "$WORLD"
        WORLD_CONTENT=${WORLD_CONTENT_REL:+$WORLD/$WORLD_CONTENT_REL}
        WORLD_CONTENT=${WORLD_CONTENT:-$WORLD/content}
        mkdir -p "$WORLD_CONTENT"
        chmod 755 "$WORLD_CONTENT"
        make_kit "$WORLD"
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
                --content-root="$WORLD_CONTENT" --adk-root="$WORLD/adk" --osd-bin-root="$WORLD/osd-bin" \
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
