#!/usr/bin/env bash
# Installs what smsprovd needs to build, run and test on Debian 12, skipping what is there.
# Sourced by tools/run.sh and tools/test.sh; safe to run on its own.
set -euo pipefail

SMSPROV_PACKAGES=(
        build-essential pkg-config meson ninja-build python3
        libsystemd-dev systemd dbus
        libwim-dev wimtools libsqlite3-dev sqlite3 libxml2-dev libjson-c-dev libcmocka-dev
        libhivex-dev libssl-dev
        libpq-dev postgresql # the PostgreSQL site database; the tests start a server of their own
        util-linux python3-dbusmock
        clang libclang-rt-dev strace
        xfsprogs # bench-content's XFS reflink figures (mkfs.xfs on a loop device); no test needs it
)

# The console (cockpit/): Cockpit to serve it, and what its browser test drives. Node and npm
# build it (esbuild, React and PatternFly come from npm through package-lock.json); Debian's
# only where the machine has no node and npm of its own (a Node from elsewhere bundles its npm,
# and Debian's npm package would fight it).
SMSPROV_CONSOLE_PACKAGES=(
        cockpit-ws cockpit-bridge cockpit-system chromium python3-websocket
)
command -v npm >/dev/null 2>&1 || SMSPROV_CONSOLE_PACKAGES+=(nodejs npm)

smsprov_missing_deps() {
        local p
        for p in "${SMSPROV_PACKAGES[@]}" "$@"; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
        done
}

smsprov_install_deps() {
        local missing=()
        mapfile -t missing < <(smsprov_missing_deps "$@")
        [ ${#missing[@]} -eq 0 ] && return 0

        local sudo=()
        [ "$(id -u)" -eq 0 ] || sudo=(sudo)
        # Two tools/test.sh started at once on a fresh machine must not fight over dpkg's lock: one
        # installs while the other waits here, then finds what is still missing (usually nothing).
        # apt's own lock timeout covers other users of apt (unattended-upgrades, say).
        local lock=${TMPDIR:-/tmp}/smsprov-deps.lock
        (
                flock 9
                mapfile -t missing < <(smsprov_missing_deps "$@")
                [ ${#missing[@]} -eq 0 ] && exit 0
                echo "Installing: ${missing[*]}" >&2
                "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 update -qq
                "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 \
                        install -y -qq --no-install-recommends "${missing[@]}" >&2
        ) 9>>"$lock"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
        smsprov_install_deps "$@"
fi
