#!/usr/bin/env bash
# Builds smsprovd and runs it on a private bus with its state in ./.state, until Ctrl-C.
#   tools/run.sh [--site-code=ABC] [--console]
# --console also serves the OS Deployment console (cockpit/) from a cockpit-ws of its own with a
# local session on this bus, and prints the URL to open.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
site_code=LAB
console=
for arg in "$@"; do
        case "$arg" in
        --site-code=*) site_code=${arg#--site-code=} ;;
        --console) console=1 ;;
        -h|--help) echo "usage: tools/run.sh [--site-code=ABC] [--console]"; exit 0 ;;
        *) echo "tools/run.sh: unknown argument '$arg'" >&2; exit 2 ;;
        esac
done

. tools/deps.sh
smsprov_install_deps ${console:+"${SMSPROV_CONSOLE_PACKAGES[@]}"}

[ -f build/run/build.ninja ] || meson setup build/run >/dev/null
ninja -C build/run >/dev/null

state=$top/.state
mkdir -p "$state/content" "$state/dps"
# Boot image builds need a deployment kit and OSD binaries: a stand-in unless already there.
. tools/stand-in-kit.sh
[ -d "$state/adk" ] || make_stand_in_kit "$state/adk" "$state/osd-bin"
# A unix socket path must stay short; fall back to /tmp for deep checkouts.
sock=$state/bus
[ ${#sock} -lt 100 ] || sock=$(mktemp -u /tmp/smsprov-bus.XXXXXX)
rm -f "$sock"
address=unix:path=$sock

dbus-daemon --session --nofork --nopidfile --nosyslog --address="$address" &
dbus_pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done

build/run/src/smsprovd --bus-address="$address" --state-dir="$state" --site-code="$site_code" \
        --content-root="$state/content" --dp-root="$state/dps" --adk-root="$state/adk" --osd-bin-root="$state/osd-bin" &
daemon_pid=$!

stop() {
        # A second Ctrl-C (or timeout(1) passing the signal on) must not cut the clean-up short and
        # leave dbus-daemon behind.
        trap '' INT TERM
        trap - EXIT
        [ -z "$console" ] || cockpit_stop
        kill -TERM "$daemon_pid" 2>/dev/null || true
        wait "$daemon_pid" 2>/dev/null || true
        kill -TERM "$dbus_pid" 2>/dev/null || true
        wait "$dbus_pid" 2>/dev/null || true
        rm -f "$sock"
        echo "smsprovd and its bus stopped."
}
trap stop INT TERM EXIT

for _ in $(seq 200); do
        busctl --address="$address" status org.smsprov.Provider1 >/dev/null 2>&1 && break
        kill -0 "$daemon_pid" 2>/dev/null || { echo "smsprovd failed to start" >&2; exit 1; }
        sleep 0.05
done

if [ -n "$console" ]; then
        . tools/cockpit-ws.sh
        console_build >/dev/null
        cockpit_start "$state/xdg" "$address" 2>"$state/cockpit-ws.log"
        cat <<MSG

The OS Deployment console: open ${COCKPIT_URL}smsprovd
(cockpit-ws logs you in as $(id -un) with no password; its log is $state/cockpit-ws.log)
MSG
fi

cat <<MSG

smsprovd is running for site $(busctl --address="$address" get-property org.smsprov.Provider1 \
        /org/smsprov/Provider1 org.smsprov.Provider1.Site SiteCode | cut -d'"' -f2).
State: $state (content root: $state/content, distribution points in: $state/dps)
Bus:   $address

Try, in another terminal:

  export SMSPROV_BUS=$address
  busctl --address=\$SMSPROV_BUS tree org.smsprov.Provider1
  busctl --address=\$SMSPROV_BUS call org.smsprov.Provider1 /org/smsprov/Provider1/class/SMS_ImagePackage \\
        org.smsprov.Provider1.Class Create 'a{sv}' 1 Name s "Windows 11 23H2"
  busctl --address=\$SMSPROV_BUS call org.smsprov.Provider1 /org/smsprov/Provider1 \\
        org.smsprov.Provider1.Site ExecQuery s "SELECT PackageID, Name FROM SMS_PackageBaseclass"

or with smsctl:

  export PATH=$top/build/run/src/ctl:\$PATH
  smsctl --bus-address=\$SMSPROV_BUS list SMS_PackageBaseclass

Press Ctrl-C to stop.
MSG
wait "$daemon_pid"
