#!/usr/bin/env bash
# The console in a real browser: smsprovd on a private bus, a cockpit-ws of its own with a local
# session serving the built page, headless Chromium driven over the DevTools protocol
# (console_test.py walks the views). Screenshots and logs go to the log folder:
#   tests/console/run.sh [SMSPROVD [LOG_DIR]]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
SMSPROVD=${1:-${SMSPROVD:-$top/build/h/src/smsprovd}}
LOG_DIR=${2:-${LOG_DIR:-$top/build/console-test}}
SOURCE_ROOT=$top
export SMSPROVD SOURCE_ROOT
mkdir -p "$LOG_DIR"
LOG_DIR=$(cd "$LOG_DIR" && pwd)
rm -f "$LOG_DIR"/*.png

. "$top/tests/bus/lib.sh"
. "$top/tools/cockpit-ws.sh"

[ -x "$SMSPROVD" ] || { echo "no smsprovd at $SMSPROVD (build first)" >&2; exit 2; }
# Built into the log folder: runs side by side never share a dist/.
console_build "$LOG_DIR/dist" >"$LOG_DIR/build.log" 2>&1 || { cat "$LOG_DIR/build.log" >&2; exit 1; }

reader_pid= polkit_pid=
cleanup() {
        cockpit_stop
        [ -z "$polkit_pid" ] || kill "$polkit_pid" 2>/dev/null
        [ -z "$reader_pid" ] || { COCKPIT_PID=$reader_pid; cockpit_stop; }
        [ -z "${WORLD_DAEMON:-}" ] || world_stop
}
trap cleanup EXIT

# The daemon's log goes to its own file so that the test's output stays readable. polkit is
# python3-dbusmock's polkitd on the private bus, and the daemon asks it (--polkit) as it asks the
# system bus's: root (the admin's session) passes, nobody (the reader's) is refused unless the
# test allows an action. The page asks the same polkit at load.
world_start --polkit 2>>"$LOG_DIR/smsprovd.log"
DBUS_SYSTEM_BUS_ADDRESS=$SMSPROV_BUS /usr/bin/python3 -m dbusmock --system --template polkitd >>"$LOG_DIR/polkit.log" 2>&1 &
polkit_pid=$!
_polkit_up() { B status org.freedesktop.PolicyKit1 >/dev/null 2>&1; }
wait_until "the polkitd mock to own its name" _polkit_up || exit 1
echo "# daemon log: $LOG_DIR/smsprovd.log; cockpit-ws log: $LOG_DIR/cockpit-ws.log; screenshots: $LOG_DIR"
# What an admin brings: a boot WIM in the content root and two distribution points that keep
# copies of their own (so that damaging one leaves the site's library whole).
make_wim "$WORLD_CONTENT/boot.wim"
# Its Windows PE version (ImageOSVersion), which Update Distribution Points shows beside the kit's.
wimlib-imagex info "$WORLD_CONTENT/boot.wim" 1 --image-property WINDOWS/VERSION/MAJOR=10 \
        --image-property WINDOWS/VERSION/MINOR=0 --image-property WINDOWS/VERSION/BUILD=22621 \
        --image-property WINDOWS/VERSION/SPBUILD=1 >/dev/null
mkdir -p "$WORLD_CONTENT/win11-setup/sources"
cp "$WORLD_CONTENT/boot.wim" "$WORLD_CONTENT/win11-setup/sources/install.wim"
for dp in dp1 dp2; do
        mkdir -p "$WORLD/$dp"
        B call org.smsprov.Provider1 /org/smsprov/Provider1/class/SMS_DistributionPointInfo org.smsprov.Provider1.Class \
                Create 'a{sv}' 4 NALPath s "[\"Display=\\\\$dp\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\$dp\\" \
                ContentRoot s "$WORLD/$dp" ContentLinkMode u 1 Description s "Distribution point $dp" >/dev/null
done
# A second Cockpit whose session is an unprivileged user's (nobody): polkit refuses its writes.
cockpit_start "$WORLD/xdg-reader" "$SMSPROV_BUS" 65534 2>>"$LOG_DIR/cockpit-ws.log"
reader_pid=$COCKPIT_PID reader_url=$COCKPIT_URL
cockpit_start "$WORLD/xdg" "$SMSPROV_BUS" 2>>"$LOG_DIR/cockpit-ws.log"

status=0
WORLD=$WORLD WORLD_CONTENT=$WORLD_CONTENT WORLD_HOLDS=$WORLD_HOLDS SMSPROV_BUS=$SMSPROV_BUS \
        COCKPIT_URL=$COCKPIT_URL COCKPIT_READER_URL=$reader_url LOG_DIR=$LOG_DIR \
        /usr/bin/python3 "$here/console_test.py" || status=$?
cockpit_stop
COCKPIT_PID=$reader_pid
cockpit_stop
reader_pid=
kill "$polkit_pid" 2>/dev/null || true
wait "$polkit_pid" 2>/dev/null || true # killed: it ends with 143, which set -e would take for a failure
polkit_pid=
world_stop 2>>"$LOG_DIR/smsprovd.log"
WORLD_DAEMON=
[ "$FAILED" -eq 0 ] || status=1
exit $status
