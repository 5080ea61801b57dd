# Shell helpers: the console page beside a private bus, served by a cockpit-ws of its own with a
# local session (no systemd, no login). Sourced by tools/console.sh and tests/console/run.sh.

# console_build [DIR]: the page into DIR (default cockpit/dist; npm ci first where needed), which
# cockpit_start then serves.
console_build() {
        CONSOLE_DIST=${1:-$(dirname "${BASH_SOURCE[0]}")/../cockpit/dist}
        "$(dirname "${BASH_SOURCE[0]}")/../cockpit/build.sh" "$CONSOLE_DIST"
}

# cockpit_start DATA_DIR BUS_ADDRESS [UID]: lays the built page out in DATA_DIR/cockpit/smsprovd
# with a bus.json naming BUS_ADDRESS, starts cockpit-ws on a free loopback port with
# XDG_DATA_HOME=DATA_DIR (as UID when given: its session is that user's) and sets COCKPIT_URL and
# COCKPIT_PID.
cockpit_start() {
        local data=$1 address=$2 uid=${3:-} dist pkg port as=()
        dist=${CONSOLE_DIST:-$(dirname "${BASH_SOURCE[0]}")/../cockpit/dist}
        pkg=$data/cockpit/smsprovd
        rm -rf "$pkg"
        mkdir -p "$pkg"
        cp -r "$dist"/. "$pkg"/
        printf '{"address": "%s"}\n' "$address" >"$pkg/bus.json"
        if [ -n "$uid" ]; then
                mkdir -p "$data/home"
                chown "$uid:$uid" "$data/home"
                as=(setpriv --reuid="$uid" --regid="$uid" --clear-groups env HOME="$data/home")
        fi
        port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        # Without these the bridge starts a session dbus-daemon and an ssh-agent that outlive it.
        XDG_DATA_HOME=$data DBUS_SESSION_BUS_ADDRESS=$address SSH_AUTH_SOCK=$data/no-ssh-agent \
                "${as[@]}" /usr/lib/cockpit/cockpit-ws --no-tls --port="$port" --address=127.0.0.1 \
                --local-session=/usr/bin/cockpit-bridge &
        COCKPIT_PID=$!
        COCKPIT_URL=http://127.0.0.1:$port/
        local end=$((SECONDS + ${WAIT_SECONDS:-300}))
        until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
                kill -0 "$COCKPIT_PID" 2>/dev/null || { echo "cockpit-ws exited" >&2; return 1; }
                [ $SECONDS -lt $end ] || { echo "cockpit-ws did not listen within ${WAIT_SECONDS:-300}s" >&2; return 1; }
                sleep 0.05
        done
}

cockpit_stop() {
        [ -n "${COCKPIT_PID:-}" ] || return 0
        kill -TERM "$COCKPIT_PID" 2>/dev/null || true
        wait "$COCKPIT_PID" 2>/dev/null || true
        COCKPIT_PID=
}
