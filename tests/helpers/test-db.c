/* SPDX-License-Identifier: MIT */

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
