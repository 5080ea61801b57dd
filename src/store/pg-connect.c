/* SPDX-License-Identifier: MIT */

/* Connections to the PostgreSQL site database (pg-internal.h): making one, naming the database
 * and libpq's reason in errors, and making it again after the database was lost. */

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "smsprov/macro.h"
#include "store/pg-internal.h"

/* libpq waits this long for a server that does not answer, unless the location says otherwise: a
 * reconnect runs on the main thread. */
#define CONNECT_TIMEOUT_SEC "10"

char *pg_location_display(const char *location) {
        char *d = strdup(location), *authority, *at, *colon, *query;

        if (!d)
                return NULL;
        /* postgresql://user:secret@host/db → postgresql://user@host/db */
        authority = strstr(d, "://");
        authority = authority ? authority + 3 : d;
        at = strpbrk(authority, "@/?");
        if (at && *at == '@') {
                colon = memchr(authority, ':', (size_t) (at - authority));
                if (colon)
                        memmove(colon, at, strlen(at) + 1);
        }
        /* …?password=secret&host=… → …?host=… */
        query = strchr(d, '?');
        for (char *p = query; p && *p;) {
                char *next = strchr(p + 1, '&');
                if (strncmp(p + 1, "password=", 9) == 0) {
                        if (next)
                                memmove(p + 1, next + 1, strlen(next + 1) + 1);
                        else
                                *p = 0;
                        continue;
                }
                p = next;
        }
        return d;
}

const char *pg_reason(PGconn *conn, char *buf, size_t size) {
        const char *m = conn ? PQerrorMessage(conn) : "out of memory";
        size_t n = 0;
        bool space = false;

        /* libpq's messages span lines ("connection to server … failed: …\n\tIs the server
         * running…"): one line for a log or an error reply. */
        for (; *m && n + 1 < size; m++) {
                if (*m == '\n' || *m == '\t' || *m == ' ') {
                        space = n > 0;
                        continue;
                }
                if (space && n + 2 < size)
                        buf[n++] = ' ';
                space = false;
                buf[n++] = *m;
        }
        buf[n] = 0;
        return n ? buf : "no reason given";
}

/* The settings every connection of the daemon starts with. */
static int connection_setup(PGconn *conn) {
        PGresult *res;
        bool ok;

        PQsetNoticeProcessor(conn, pg_notice_ignore, NULL);
        res = PQexec(conn, "SET client_encoding = 'UTF8'");
        ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        return ok ? 0 : -ENOTCONN;
}

int pg_connect(const char *location, PGconn **ret, SmsError *e) {
        /* The location is expanded as a connection string; what it sets wins over the defaults
         * before it. */
        static const char *const keywords[] = { "connect_timeout", "dbname", NULL };
        const char *values[] = { CONNECT_TIMEOUT_SEC, location, NULL };
        PGconn *conn = PQconnectdbParams(keywords, values, 1);
        int r;

        if (!conn)
                return -ENOMEM;
        r = PQstatus(conn) == CONNECTION_OK ? connection_setup(conn) : -ENOTCONN;
        if (r < 0) {
                _cleanup_free_ char *display = pg_location_display(location);
                char reason[1024];
                sms_error_set(e, SMS_ERROR_FAILED, "cannot connect to the site database %s: %s",
                              display ? display : "(out of memory)", pg_reason(conn, reason, sizeof reason));
                PQfinish(conn);
                return r;
        }
        *ret = conn;
        return 0;
}

/* Has the server closed this idle connection? Between statements nothing is due from it, so
 * anything to read is its goodbye (a shutdown's FATAL message, then the end of the stream), which
 * PQconsumeInput() reads without blocking, taking the connection to CONNECTION_BAD at the end. */
static void notice_closed(PGconn *conn) {
        for (unsigned i = 0; i < 8 && PQstatus(conn) == CONNECTION_OK; i++) {
                struct pollfd p = { .fd = PQsocket(conn), .events = POLLIN };
                if (p.fd < 0 || poll(&p, 1, 0) <= 0 || !PQconsumeInput(conn))
                        break;
        }
}

int pg_connection_check(Store *s, SmsError *e) {
        char reason[1024];

        /* Inside a transaction a lost connection took the transaction with it: that write fails
         * (its statements say so) and the next one connects again. */
        if (s->in_transaction || !s->conn)
                return 0;
        notice_closed(s->conn);
        if (PQstatus(s->conn) == CONNECTION_OK)
                return 0;
        PQreset(s->conn);
        if (PQstatus(s->conn) == CONNECTION_OK && connection_setup(s->conn) >= 0)
                return 0;
        _cleanup_free_ char *display = pg_location_display(s->location);
        sms_error_set(e, SMS_ERROR_FAILED, "the site database %s is unreachable: %s",
                      display ? display : "(out of memory)", pg_reason(s->conn, reason, sizeof reason));
        return -ENOTCONN;
}
