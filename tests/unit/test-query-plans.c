/* SPDX-License-Identifier: MIT */

/* The site database's plans for WQL: a comparison of a key or an indexed string property reads an
 * index, not every row, on both backends. WQL compares strings without regard to case; on
 * PostgreSQL that is lower(("column") COLLATE "C") on both sides (store-wql.c), which only an
 * index of that expression serves (schema/postgresql/0011-folded-indexes.sql). Each query is
 * compiled as the store compiles it and explained on a real site database (its migrations
 * applied), with full scans made the last resort, so that a plan without an index shows up as a
 * scan however few rows there are. */

#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "smsprov/macro.h"
#include "smsprov/site.h"
#include "smsprov/wql.h"
#include "test-db.h"

static const char *const queries[] = {
        "SELECT * FROM SMS_PackageBaseclass WHERE PackageID = 'LAB00001'",
        "SELECT * FROM SMS_ImagePackage WHERE PackageID = 'lab00001'",
        "SELECT * FROM SMS_PackageBaseclass WHERE Name = 'Windows 11'",
        "SELECT * FROM SMS_ImageInformation WHERE PackageID = 'LAB00001'",
        "SELECT * FROM SMS_DistributionPoint WHERE PackageID = 'LAB00001'",
        "SELECT * FROM SMS_DistributionPoint WHERE ServerNALPath = 'x'",
        "SELECT * FROM SMS_DistributionPointInfo WHERE NALPath = 'x'",
        "SELECT * FROM SMS_Driver WHERE CI_UniqueID = 'LAB/Driver_00'",
        "SELECT * FROM SMS_Driver WHERE DriverClass = 'Net'",
};

typedef struct Fixture {
        char dir[64];
        char *database; /* NULL: SQLite in dir (test-db.h) */
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        SmsError e = SMS_ERROR_NULL;
        Site site = {};

        strcpy(f->dir, "/tmp/smsprov-plans.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        f->database = test_db_new();
        /* Opened once for its migrations, then closed: the test reads the database itself. */
        if (site_open_at(&site, f->dir, f->database, "LAB", &e) < 0)
                fail_msg("site_open_at: %s", e.message);
        site_close(&site);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[128];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f->database);
        free(f);
        return 0;
}

static void compile(const char *text, WqlDialect dialect, WqlSql *ret) {
        _cleanup_(wql_query_freep) WqlQuery *q = NULL;
        SmsError e = SMS_ERROR_NULL;

        if (wql_parse(text, &q, &e) < 0 || wql_check(q, &e) < 0 || wql_compile_sql_dialect(q, NULL, dialect, ret, &e) < 0)
                fail_msg("%s: %s", text, e.message);
}

/* The plan's lines, one string. */
static char *explain_postgresql(PGconn *pg, const WqlSql *sql) {
        _cleanup_free_ char *statement = NULL;
        const char *values[16];
        char numbers[16][32];
        char *plan = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&plan, &size);

        assert_true(sql->n_params <= ELEMENTSOF(values));
        for (size_t i = 0; i < sql->n_params; i++) {
                const CimValue *v = &sql->params[i];
                if (v->type == CIM_STRING)
                        values[i] = v->str;
                else {
                        snprintf(numbers[i], sizeof numbers[i], "%lld", (long long) v->u);
                        values[i] = numbers[i];
                }
        }
        assert_true(asprintf(&statement, "EXPLAIN %s", sql->sql) > 0);
        PGresult *res = PQexecParams(pg, statement, (int) sql->n_params, NULL, values, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
                fail_msg("%s: %s", statement, PQerrorMessage(pg));
        for (int i = 0; i < PQntuples(res); i++)
                fprintf(f, "%s\n", PQgetvalue(res, i, 0));
        PQclear(res);
        assert_int_equal(fclose(f), 0);
        return plan;
}

static char *explain_sqlite(sqlite3 *db, const WqlSql *sql) {
        _cleanup_free_ char *statement = NULL;
        sqlite3_stmt *st = NULL;
        char *plan = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&plan, &size);

        assert_true(asprintf(&statement, "EXPLAIN QUERY PLAN %s", sql->sql) > 0);
        if (sqlite3_prepare_v2(db, statement, -1, &st, NULL) != SQLITE_OK)
                fail_msg("%s: %s", statement, sqlite3_errmsg(db));
        /* the plan does not depend on the parameters' values: unbound, they are NULL */
        while (sqlite3_step(st) == SQLITE_ROW)
                fprintf(f, "%s\n", (const char *) sqlite3_column_text(st, 3));
        sqlite3_finalize(st);
        assert_int_equal(fclose(f), 0);
        return plan;
}

/* No full scan of a table: PostgreSQL says "Seq Scan", SQLite "SCAN <table>" without an index. */
static void assert_no_full_scan(const char *query, const char *plan) {
        bool scan = strstr(plan, "Seq Scan") ||
                    (strstr(plan, "SCAN ") && !strstr(plan, "USING INDEX") && !strstr(plan, "USING COVERING INDEX") &&
                     !strstr(plan, "USING PRIMARY KEY"));
        if (scan)
                fail_msg("%s reads every row:\n%s", query, plan);
}

static void test_comparisons_read_indexes(void **state) {
        Fixture *f = *state;
        PGconn *pg = NULL;
        sqlite3 *db = NULL;

        if (f->database) {
                pg = PQconnectdb(f->database);
                assert_int_equal(PQstatus(pg), CONNECTION_OK);
                /* A scan only where nothing else can answer: with a few rows it would be cheaper. */
                PQclear(PQexec(pg, "SET enable_seqscan = off"));
        } else {
                char path[128];
                snprintf(path, sizeof path, "%s/site.db", f->dir);
                assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        }
        for (size_t i = 0; i < ELEMENTSOF(queries); i++) {
                WqlSql sql = {};
                compile(queries[i], pg ? WQL_DIALECT_POSTGRESQL : WQL_DIALECT_SQLITE, &sql);
                _cleanup_free_ char *plan = pg ? explain_postgresql(pg, &sql) : explain_sqlite(db, &sql);
                assert_no_full_scan(queries[i], plan);
                wql_sql_done(&sql);
        }
        PQfinish(pg);
        sqlite3_close(db);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_comparisons_read_indexes, setup, teardown),
        };

        if (sms_model_init() < 0)
                return 1;
        return cmocka_run_group_tests(tests, NULL, NULL);
}
