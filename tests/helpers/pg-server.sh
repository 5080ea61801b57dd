#!/usr/bin/env bash
# Runs COMMAND with a private PostgreSQL server of its own, and stops the server after it:
#
#   tests/helpers/pg-server.sh COMMAND [ARG…]
#
# The server lives in a new temporary directory: initdb'd there, listening on a unix socket in it
# and on no TCP port (listen_addresses=''), with trust authentication for the superuser
# "smsprov". COMMAND finds it in SMSPROV_TEST_POSTGRESQL, the libpq URI of its "postgres"
# database (tests/helpers/test-db.c makes one database per test case from it).
#
# initdb and the server refuse to run as root: as root (CI) they run as the unprivileged system
# user smsprov-test, made here when it is missing, which owns the directory. Nothing waits for a
# time: pg_ctl -w returns when the server accepts connections, and fails when it cannot start.
set -euo pipefail

if [ $# -eq 0 ]; then
        echo "usage: $0 COMMAND [ARG…]" >&2
        exit 2
fi

# Debian keeps the server's programs out of PATH, in /usr/lib/postgresql/<version>/bin.
bindir=${PG_BINDIR:-}
if [ -z "$bindir" ]; then
        if command -v initdb >/dev/null 2>&1; then
                bindir=$(dirname "$(command -v initdb)")
        else
                bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
        fi
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ] || [ ! -x "$bindir/pg_ctl" ]; then
        echo "pg-server.sh: no PostgreSQL server found (tools/deps.sh installs postgresql; or set PG_BINDIR)" >&2
        exit 1
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/smsprov-pg.XXXXXX")
as_server=()
if [ "$(id -u)" -eq 0 ]; then
        user=smsprov-test
        # Tests run in parallel: one of them makes the user, the others find it.
        (
                flock 9
                id -u "$user" >/dev/null 2>&1 ||
                        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
        ) 9>>"${TMPDIR:-/tmp}/smsprov-test-user.lock"
        chown "$user" "$dir"
        as_server=(runuser -u "$user" --)
fi

stop() {
        if [ -f "$dir/data/postmaster.pid" ]; then
                "${as_server[@]}" "$bindir/pg_ctl" -D "$dir/data" -s -w -m immediate stop >/dev/null 2>&1 || true
        fi
        if [ -n "${SMSPROV_TEST_KEEP:-}" ]; then
                echo "pg-server.sh: kept $dir" >&2
        else
                rm -rf "$dir"
        fi
}
trap stop EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# --no-sync and fsync=off: a test server's files need not survive a power cut (SMSPROV_PG_FSYNC=on
# for a benchmark that compares commits with SQLite's, which syncs).
if ! "${as_server[@]}" "$bindir/initdb" -D "$dir/data" --auth=trust --username=smsprov --encoding=UTF8 \
        --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        exit 1
fi
# The server's settings live in its configuration, so that a test can stop, start and restart it
# with SMSPROV_TEST_PG_CTL alone.
printf '%s\n' "listen_addresses = ''" "unix_socket_directories = '$dir'" "fsync = ${SMSPROV_PG_FSYNC:-off}" \
        "max_connections = 200" >>"$dir/data/postgresql.conf"
# pg_ctl on this server, as its user: "$SMSPROV_TEST_PG_CTL" restart -m fast (tests/helpers/test-db.h).
printf '#!/bin/sh\nexec %s %q -D %q -s -w -l %q "$@"\n' "${as_server[*]}" "$bindir/pg_ctl" "$dir/data" \
        "$dir/server.log" >"$dir/pg_ctl"
chmod 0755 "$dir/pg_ctl"
if ! "$dir/pg_ctl" start; then
        cat "$dir/server.log" >&2
        exit 1
fi

export SMSPROV_TEST_POSTGRESQL="postgresql://smsprov@/postgres?host=$dir"
export SMSPROV_TEST_PG_CTL="$dir/pg_ctl"
status=0
"$@" || status=$?
if [ "$status" -ne 0 ] && [ -s "$dir/server.log" ]; then
        echo "--- the end of the PostgreSQL server's log ($dir/server.log)" >&2
        tail -n 30 "$dir/server.log" >&2
fi
exit "$status"
