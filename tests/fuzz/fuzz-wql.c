/* SPDX-License-Identifier: MIT */

/* libFuzzer target: WQL text through the whole query path of Site.ExecQuery (API.md §5):
 * wql_parse() → wql_check() against the real class model → wql_compile_sql() → the statement run
 * by SQLite on a site database holding a few rows of every class (store_query()).
 *
 * Invariants checked beyond "no crash, no leak, no undefined behaviour":
 *   - every failure is a named error of the documented kind (InvalidQuery, InvalidClass), never
 *     Failed or a bare errno; a failed call leaves no result behind;
 *   - a checked query compiles to SQL with exactly one '?' per bound parameter (nothing from the
 *     query text is pasted into the statement);
 *   - a query that compiles is accepted and run by SQLite: the compiler's own limits must refuse
 *     what SQLite would refuse (parser stack, expression depth, variable count). */

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "smsprov/class.h"
#include "smsprov/macro.h"
#include "smsprov/store.h"
#include "smsprov/wql.h"

static Store *store;

/* A value for property p of the n-th seeded object. Strings include the characters LIKE and
 * quoting care about, so that WHERE clauses have something to chew on. */
static void seed_value(const SmsProperty *p, unsigned n, CimValue *v) {
        static const char *const strings[] = {
                "Windows 11 [x64] 100%_done", "it's \"quoted\" \\ back", "LAB00001", "", "Grüße ☃",
        };
        static const uint64_t uints[] = { 0, 1, 255, 4294967295u, 1700000000000000u };
        const char *s = strings[n % ELEMENTSOF(strings)];

        *v = cim_value_null(p->type);
        switch (p->type) {
        case CIM_STRING:
                if (cim_value_set_string(v, s) < 0)
                        abort();
                break;
        case CIM_BOOLEAN:
                *v = cim_value_bool(n & 1);
                break;
        case CIM_SINT32:
        case CIM_SINT64:
                *v = (CimValue) { .type = p->type, .i = (int64_t) n * 7 - 10 };
                break;
        case CIM_UINT8:
                *v = cim_value_uint(p->type, uints[n % 3]);
                break;
        case CIM_UINT32:
        case CIM_UINT64:
        case CIM_DATETIME:
                *v = cim_value_uint(p->type, uints[n % ELEMENTSOF(uints)]);
                break;
        case CIM_STRING_ARRAY:
                v->null = false;
                v->strv = calloc(3, sizeof(char *));
                if (!v->strv || !(v->strv[0] = strdup(s)) || !(v->strv[1] = strdup("x64")))
                        abort();
                break;
        case CIM_UINT32_ARRAY:
                v->null = false;
                v->u32s.data = calloc(2, sizeof(uint32_t));
                if (!v->u32s.data)
                        abort();
                v->u32s.data[0] = n;
                v->u32s.data[1] = 4294967295u;
                v->u32s.n = 2;
                break;
        default: /* byte arrays, drivers, schedules: NULL */
                break;
        }
}

/* An in-memory site database with a few rows of each concrete class. Rows the store
 * refuses (a foreign key, a constraint) are simply not there: the point is to have data. */
static void seed(void) {
        SmsError e = SMS_ERROR_NULL;
        size_t added = 0;

        if (store_open(":memory:", "FUZ", &store, &e) < 0)
                fuzz_fail("store_open: %s", e.message);
        for (const SmsClass *const *cp = sms_model_classes(); *cp; cp++) {
                const SmsClass *c = *cp;
                if (c->abstract || c->methods_only)
                        continue;
                for (unsigned n = 0; n < 4; n++) {
                        _cleanup_(sms_object_freep) SmsObject *o = sms_object_new(c);
                        if (!o)
                                abort();
                        for (size_t i = 0; i < c->n_all; i++) {
                                CimValue *v = &o->values[i];
                                if (n == 0 && sms_property_default(c->all[i], v) >= 0 && !v->null)
                                        continue;
                                cim_value_clear(v);
                                seed_value(c->all[i], n + (unsigned) i, v);
                        }
                        /* Distinct caller-chosen keys that satisfy the foreign keys. */
                        for (size_t k = 0; k < c->n_keys; k++) {
                                CimValue *v = &o->values[c->key_indexes[k]];
                                cim_value_clear(v);
                                if (v->type == CIM_STRING) {
                                        /* Package IDs name the packages seeded first (the site
                                         * allocates FUZ00001…), other keys match each other
                                         * (a DP's ServerNALPath is a DP info's NALPath). */
                                        char key[16];
                                        if (strcmp(c->all[c->key_indexes[k]]->name, "PackageID") == 0)
                                                snprintf(key, sizeof key, "FUZ%05X", n + 1);
                                        else
                                                snprintf(key, sizeof key, "K%u", n);
                                        if (cim_value_set_string(v, key) < 0)
                                                abort();
                                } else
                                        *v = cim_type_is_signed(v->type) ? (CimValue) { .type = v->type, .i = n }
                                                                         : cim_value_uint(v->type, n);
                        }
                        if (store_begin(store, &e) < 0)
                                fuzz_fail("store_begin: %s", e.message);
                        if (store_object_insert(store, o, &e) >= 0 && store_commit(store, &e) >= 0)
                                added++;
                        else {
                                if (getenv("FUZZ_VERBOSE"))
                                        fprintf(stderr, "fuzz-wql: no %s row %u: %s\n", c->name, n,
                                                e.message ? e.message : "?");
                                store_rollback(store);
                        }
                        sms_error_clear(&e);
                }
        }
        if (getenv("FUZZ_VERBOSE"))
                fprintf(stderr, "fuzz-wql: seeded %zu rows\n", added);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc;
        (void) argv;
        if (sms_model_init() < 0)
                fuzz_fail("sms_model_init");
        seed();
        return 0;
}

/* A failed step must have failed with one of the named codes (and a message). */
static void expect_code_in(const char *step, int r, const SmsError *e, const SmsErrorCode *allowed, size_t n) {
        bool ok = false;

        if (r >= 0)
                return;
        for (size_t i = 0; i < n; i++)
                ok = ok || e->code == allowed[i];
        if (!ok)
                fuzz_fail("%s failed with %s (%d): %s", step, sms_error_code_to_name(e->code), r,
                          e->message ? e->message : "(no message)");
        if (!fuzz_error_message_ok(e))
                fuzz_fail("%s failed without a message that D-Bus can carry", step);
}
#define expect_code(step, r, e, ...)                                                               \
        expect_code_in(step, r, e, (const SmsErrorCode[]) { __VA_ARGS__ },                         \
                       sizeof((const SmsErrorCode[]) { __VA_ARGS__ }) / sizeof(SmsErrorCode))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = fuzz_string(data, size);
        _cleanup_(wql_query_freep) WqlQuery *q = NULL;
        SmsError e = SMS_ERROR_NULL;
        WqlSql sql = {};
        int r;

        r = wql_parse(text, &q, &e);
        expect_code("wql_parse", r, &e, SMS_ERROR_INVALID_QUERY);
        if (r < 0) {
                if (q)
                        fuzz_fail("wql_parse failed but returned a query");
                sms_error_clear(&e);
                return 0;
        }
        if (!q || !q->class_name)
                fuzz_fail("wql_parse succeeded without a class name");

        r = wql_check(q, &e);
        /* LimitsExceeded: a LIKE pattern over WQL_MAX_LIKE_PATTERN bytes. */
        expect_code("wql_check", r, &e, SMS_ERROR_INVALID_QUERY, SMS_ERROR_INVALID_CLASS, SMS_ERROR_LIMITS_EXCEEDED);
        if (r < 0) {
                sms_error_clear(&e);
                return 0;
        }
        if (!q->class)
                fuzz_fail("wql_check succeeded without a class");
        for (size_t i = 0; i < q->n_columns; i++)
                if (q->columns[i] >= q->class->n_all || sms_property_is_lazy(q->class->all[q->columns[i]]))
                        fuzz_fail("column %zu is out of range or lazy", q->columns[i]);

        r = wql_compile_sql(q, &sql, &e);
        expect_code("wql_compile_sql", r, &e, SMS_ERROR_INVALID_QUERY);
        if (r < 0) {
                sms_error_clear(&e);
                return 0;
        }
        size_t marks = 0;
        for (const char *p = sql.sql; *p; p++)
                marks += *p == '?';
        if (marks != sql.n_params)
                fuzz_fail("SQL has %zu '?' for %zu parameters: %s", marks, sql.n_params, sql.sql);
        for (size_t i = 0; i < sql.n_params; i++)
                if (cim_type_is_array(sql.params[i].type))
                        fuzz_fail("parameter %zu is an array", i);
        wql_sql_done(&sql);

        WqlRow *rows = NULL;
        size_t n = 0;
        r = store_query(store, q, 1000, &rows, &n, &e);
        expect_code("store_query", r, &e, SMS_ERROR_LIMITS_EXCEEDED);
        if (r >= 0)
                wql_rows_free(rows, n, q->n_columns);
        sms_error_clear(&e);
        return 0;
}
