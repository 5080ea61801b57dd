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

# One deadline for every wait on a state, in seconds: it only turns a hang into a failure, and no
# working daemon comes near it, however loaded the machine.
WAIT_SECONDS=${WAIT_SECONDS:-300}
# Every method call of busctl and smsctl (sd-bus reads this for its default call timeout, 25 s
# otherwise) may wait this long for its reply: a sanitizer build on a loaded machine can be slow,
# and a slow answer is not a failure; a daemon that never answers still is.
export SYSTEMD_BUS_TIMEOUT=${SYSTEMD_BUS_TIMEOUT:-120}

# wait_until WHAT COMMAND…: runs COMMAND until it succeeds (pausing briefly between tries); after
# WAIT_SECONDS, a failure that says what was awaited, and status 1.
wait_until() {
        local what=$1 end=$((SECONDS + WAIT_SECONDS))
        shift
        until "$@"; do
                if [ $SECONDS -ge $end ]; then
                        not_ok "timed out after ${WAIT_SECONDS}s waiting for $what (the daemon's log is this test's output above)"
                        return 1
                fi
                sleep 0.02
        done
}

# Test points (the daemon's --test-hold-dir; src/jobs/test-point.c), so that no test races a job:
# every job waits as it starts, running, at the point named after its Operation while `hold
# OPERATION` is in force; `release OPERATION` lets it go on (a canceled job leaves at once);
# `wait_held OPERATION [JOB]` waits until JOB (or any job) waits there and, given JOB, the daemon
# reports it running.
hold() { : >"$WORLD_HOLDS/$1"; }
release() { rm -f "$WORLD_HOLDS/$1"; }
_held() { compgen -G "$WORLD_HOLDS/$1.$2.held" >/dev/null; }
_running() { [ "$(B get-property org.smsprov.Provider1 "$1" org.smsprov.Provider1.Job State 2>/dev/null)" = "u 1" ]; }
wait_held() {
        local job=${2:-}
        if [ -z "$job" ]; then
                wait_until "a job held at $1" _held "$1" "*"
                return
        fi
        wait_until "job $job held at $1" _held "$1" "${job##*_}" &&
                wait_until "held job $job to be running" _running "$job"
}

# new_database NAME: under tests/helpers/pg-server.sh (SMSPROV_TEST_POSTGRESQL is the libpq URI of
# its "postgres" database), makes a new, empty database NAME (lower case) on that server, as
# tests/helpers/test-db.c does for the C tests, and prints its URI; prints nothing on SQLite.
new_database() {
        [ -n "${SMSPROV_TEST_POSTGRESQL:-}" ] || return 0
        local name=${1,,} uri=$SMSPROV_TEST_POSTGRESQL
        psql -X -q -v ON_ERROR_STOP=1 -d "$uri" -c "CREATE DATABASE $name" >/dev/null || return 1
        echo "${uri%%/postgres\?*}/$name?${uri#*/postgres\?}"
}

world_start() {
        WORLD=$(mktemp -d "${TMPDIR:-/tmp}/smsprov-shell.XXXXXX")
        # The site database: site.db in the state directory, or a new PostgreSQL one of this world's.
        WORLD_DATABASE=$(new_database "site_${WORLD##*.}") || return 1
        chmod 755 "$WORLD"
        WORLD_CONTENT=${WORLD_CONTENT_REL:+$WORLD/$WORLD_CONTENT_REL}
        WORLD_CONTENT=${WORLD_CONTENT:-$WORLD/content}
        mkdir -p "$WORLD_CONTENT" "$WORLD/holds"
        chmod 755 "$WORLD_CONTENT"
        WORLD_HOLDS=$WORLD/holds
        echo "# smsprovd and dbus-daemon log to this test's standard error (meson keeps it in" \
                "meson-logs/testlog.txt); the test's files are in $WORLD (kept with SMSPROV_TEST_KEEP=1)"
        make_stand_in_kit "$WORLD/adk" "$WORLD/osd-bin"
        SMSPROV_BUS=unix:path=$WORLD/bus
        export SMSPROV_BUS
        # dbus-daemon prints its address once it listens; its socket file appears a moment before,
        # when a connection is still refused.
        dbus-daemon --config-file="$SOURCE_ROOT/tests/bus/test-bus.conf" --nofork --nopidfile --nosyslog \
                --address="$SMSPROV_BUS" --print-address=3 3>"$WORLD/bus.address" &
        WORLD_DBUS=$!
        wait_until "dbus-daemon to listen" test -s "$WORLD/bus.address" || return 1
        daemon_start "$@"
}

daemon_start() {
        "$SMSPROVD" --bus-address="$SMSPROV_BUS" --state-dir="$WORLD/state" --site-code=LAB \
                --content-root="$WORLD_CONTENT" --dp-root="$WORLD" --adk-root="$WORLD/adk" --osd-bin-root="$WORLD/osd-bin" \
                --test-hold-dir="$WORLD_HOLDS" --log-level=warning ${WORLD_DATABASE:+--database="$WORLD_DATABASE"} "$@" &
        WORLD_DAEMON=$!
        local end=$((SECONDS + WAIT_SECONDS))
        until busctl --address="$SMSPROV_BUS" status org.smsprov.Provider1 >/dev/null 2>&1; do
                kill -0 "$WORLD_DAEMON" 2>/dev/null || { echo "smsprovd exited before it owned its name" >&2; return 1; }
                [ $SECONDS -lt $end ] || { echo "smsprovd did not own its name within ${WAIT_SECONDS}s" >&2; return 1; }
                sleep 0.02
        done
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

# readme_world_start: a world laid out the way tools/run.sh lays it out (state and content root
# under ./.state), and in $README_SCRIPT the README's examples (its ```sh blocks) in order, as one
# script that stops at the first failure.
readme_world_start() {
        WORLD_CONTENT_REL=.state/content
        world_start || return 1
        trap world_stop EXIT
        README_SCRIPT=$WORLD/readme-examples.sh
        {
                echo "set -euo pipefail"
                awk '/^```sh$/ { on = 1; next } /^```/ { on = 0 } on' "$SOURCE_ROOT/README.md"
        } >"$README_SCRIPT"
}

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
