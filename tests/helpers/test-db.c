/* SPDX-License-Identifier: MIT */

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-db.h"

bool test_db_postgresql(void) {
        const char *uri = getenv("SMSPROV_TEST_POSTGRESQL");
        return uri && *uri;
}

/* SMSPROV_TEST_POSTGRESQL is postgresql://USER@/postgres?host=DIR: the same with another
 * database's name in place of "postgres". */
char *test_db_new(void) {
        static unsigned counter;
        const char *admin = getenv("SMSPROV_TEST_POSTGRESQL");
        const char *slash, *query;
        char name[64], sql[128], *uri = NULL;
        PGconn *conn;
        PGresult *res;

        if (!test_db_postgresql())
                return NULL;
        snprintf(name, sizeof name, "site_%ld_%u", (long) getpid(), counter++);
        conn = PQconnectdb(admin);
        if (PQstatus(conn) != CONNECTION_OK) {
                fprintf(stderr, "test-db: cannot connect to %s: %s", admin, PQerrorMessage(conn));
                abort();
        }
        snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
        res = PQexec(conn, sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                fprintf(stderr, "test-db: %s: %s", sql, PQerrorMessage(conn));
                abort();
        }
        PQclear(res);
        PQfinish(conn);

        slash = strstr(admin, "@/");
        query = slash ? strchr(slash, '?') : NULL;
        if (!slash || !query || asprintf(&uri, "%.*s/%s%s", (int) (slash + 1 - admin), admin, name, query) < 0)
                abort();
        return uri;
}

void test_db_exec(const char *location, const char *sql) {
        PGconn *conn = PQconnectdb(location);
        PGresult *res = PQexec(conn, sql);

        if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
                fprintf(stderr, "test-db: %s: %s", sql, PQerrorMessage(conn));
                abort();
        }
        PQclear(res);
        PQfinish(conn);
}

long test_db_number(const char *location, const char *sql) {
        PGconn *conn = PQconnectdb(location);
        PGresult *res = PQexec(conn, sql);
        long n;

        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1) {
                fprintf(stderr, "test-db: %s: %s", sql, PQerrorMessage(conn));
                abort();
        }
        n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        PQfinish(conn);
        return n;
}

static pid_t server_spawnv(const char *action, va_list ap) {
        const char *ctl = getenv("SMSPROV_TEST_PG_CTL");
        const char *argv[16] = { ctl, action };
        size_t n = 2;
        const char *a;
        pid_t pid;

        if (!ctl || !*ctl) {
                fprintf(stderr, "test-db: SMSPROV_TEST_PG_CTL is not set (run under tests/helpers/pg-server.sh)\n");
                abort();
        }
        while ((a = va_arg(ap, const char *)) && n < 15)
                argv[n++] = a;
        argv[n] = NULL;
        pid = fork();
        if (pid == 0) {
                execv(ctl, (char *const *) argv);
                _exit(127);
        }
        if (pid < 0)
                abort();
        return pid;
}

pid_t test_db_server_spawn(const char *action, ...) {
        va_list ap;
        va_start(ap, action);
        pid_t pid = server_spawnv(action, ap);
        va_end(ap);
        return pid;
}

void test_db_server(const char *action, ...) {
        va_list ap;
        int status = 0;

        va_start(ap, action);
        pid_t pid = server_spawnv(action, ap);
        va_end(ap);
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "test-db: pg_ctl %s failed (status 0x%x)\n", action, (unsigned) status);
                abort();
        }
}
