/* SPDX-License-Identifier: MIT */

/* Instances in a PostgreSQL site database, read and written generically from the class
 * descriptors, and WQL queries compiled for PostgreSQL (wql_compile_sql_dialect()). */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smsprov/macro.h"
#include "store/pg-internal.h"

#define SQLBUF_PG { .dollar_params = true }

/* The key text of a result row, from its key columns at `first`. NULL when memory ran out. */
static char *row_key(const PGresult *res, int row, int first, const SmsClass *c) {
        CimValue values[SMS_MAX_KEYS];
        const CimValue *pointers[SMS_MAX_KEYS];
        char *key = NULL;
        bool ok = true;

        for (size_t k = 0; k < c->n_keys; k++) {
                CimType type = c->all[c->key_indexes[k]]->type;
                ok = ok && pg_read_value(res, row, first + (int) k, type, &values[k]) >= 0;
                if (!ok)
                        values[k] = cim_value_null(type);
                pointers[k] = &values[k];
        }
        if (ok && sms_class_key_format(c, pointers, &key) < 0)
                key = NULL;
        for (size_t k = 0; k < c->n_keys; k++)
                cim_value_clear(&values[k]);
        return key;
}

static int not_found(SmsError *e, const SmsClass *c, const char *key) {
        return sms_error_set(e, SMS_ERROR_NOT_FOUND, "no %s with key " SMS_QUOTE_FMT, c->name, SMS_QUOTE(key));
}

static bool changed_one_row(const PGresult *res) {
        return streq(PQcmdTuples((PGresult *) res), "1");
}

int pg_store_object_load(Store *s, const SmsClass *c, const char *key, SmsObject **ret, SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        _cleanup_(pg_clearp) PGresult *res = NULL;
        _cleanup_(pg_params_done) PgParams p = {};
        SqlBuf b = SQLBUF_PG;
        int r;

        store_sql_load(&b, c);
        r = pg_params_add_key(&p, c, key);
        if (r < 0) {
                free(b.s);
                return r;
        }
        r = pg_exec_sqlbuf(s, &b, &p, &res, e, "loading an instance");
        if (r < 0)
                return r;
        if (PQntuples(res) == 0)
                return not_found(e, c, key);

        o = sms_object_new(c);
        if (!o)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_all; i++) {
                r = pg_read_value(res, 0, (int) i, c->all[i]->type, &o->values[i]);
                if (r < 0)
                        return r == -ENOMEM ? r
                                            : sms_error_set(e, SMS_ERROR_FAILED,
                                                            "site database: %s.%s of %s does not decode", c->name,
                                                            c->all[i]->name, key);
        }
        /* The key as stored: a lookup is case-insensitive, the object path is not. */
        if (sms_object_key_format(o, &o->key) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

int pg_store_object_class(Store *s, const SmsClass *base, const char *key, const SmsClass **ret, SmsError *e) {
        const char *disc = store_class_discriminator(base);
        _cleanup_(pg_clearp) PGresult *res = NULL;
        _cleanup_(pg_params_done) PgParams p = {};
        const SmsClass *found = NULL;
        SqlBuf b = SQLBUF_PG;
        int r;

        store_sql_class_of(&b, base);
        r = pg_params_add_key(&p, base, key);
        if (r >= 0)
                r = pg_exec_sqlbuf(s, &b, &p, &res, e, "finding the class of an instance");
        else
                free(b.s);
        if (r == -ENOMEM)
                return sms_error_set(e, SMS_ERROR_FAILED, "finding the class of %s: out of memory", base->name);
        if (r < 0)
                return r;
        if (PQntuples(res) == 1)
                found = disc ? sms_class_find_by_discriminator(base, pg_get_int(res, 0, 0)) : base;
        if (!found || found->abstract)
                return not_found(e, base, key);
        *ret = found;
        return 0;
}

/* The site's next PackageID number (store_object_insert_key()). */
static int next_package_number(Store *s, int64_t *ret, SmsError *e) {
        _cleanup_(pg_clearp) PGresult *res = NULL;
        int r;

        r = pg_exec(s,
                    "UPDATE site SET next_package_number = next_package_number + 1 WHERE id = 1 "
                    "RETURNING next_package_number - 1",
                    NULL, &res, e, "allocating a PackageID");
        if (r < 0)
                return r;
        if (PQntuples(res) != 1)
                return sms_error_set(e, SMS_ERROR_FAILED, "allocating a PackageID: the site row is missing");
        *ret = pg_get_int(res, 0, 0);
        return 0;
}

/* ON CONFLICT DO NOTHING: an existing key is an answer (AlreadyExists), not an error that would
 * abort the transaction around it. */
int pg_store_object_insert(Store *s, SmsObject *o, SmsError *e) {
        const SmsClass *c = o->class;
        _cleanup_free_ char *key = NULL;
        _cleanup_(pg_clearp) PGresult *res = NULL;
        _cleanup_(pg_params_done) PgParams p = {};
        SqlBuf b = SQLBUF_PG;
        bool rowid = c->key_kind == SMS_KEY_ROWID;
        int r;

        if (!s->in_transaction)
                return sms_error_set(e, SMS_ERROR_FAILED, "insert outside a transaction");

        r = store_object_insert_key(s, o, s->site_code, next_package_number, &key, e);
        if (r < 0)
                return r;

        sqlbuf_append(&b, "INSERT INTO ");
        sqlbuf_append_identifier(&b, store_class_table(c));
        sqlbuf_append(&b, " (");
        for (size_t i = 0; i < c->n_all; i++) {
                if (rowid && i == c->key_index)
                        continue;
                sqlbuf_append(&b, p.n ? ", " : "");
                sqlbuf_append_identifier(&b, sms_property_column(c->all[i]));
                if (!pg_params_add_value(&p, &o->values[i])) {
                        free(b.s);
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s.%s does not encode", c->name,
                                             c->all[i]->name);
                }
        }
        sqlbuf_append(&b, ") VALUES (");
        for (size_t i = 0; i < p.n; i++) {
                sqlbuf_append(&b, i ? ", " : "");
                sqlbuf_append_param(&b, (unsigned) i + 1);
        }
        sqlbuf_append(&b, ") ON CONFLICT DO NOTHING RETURNING ");
        if (rowid)
                sqlbuf_append_identifier(&b, sms_property_column(c->all[c->key_index]));
        else
                sqlbuf_append(&b, "1");
        r = pg_exec_sqlbuf(s, &b, &p, &res, e, "inserting an instance");
        /* a foreign key that finds nothing (pg_error() says Busy for it, as for a delete) */
        if (r < 0 && streq(s->last_sqlstate, "23503")) {
                sms_error_clear(e);
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s refers to an object that does not exist",
                                     c->name);
        }
        if (r < 0)
                return r;
        if (PQntuples(res) != 1) {
                _cleanup_free_ char *text = NULL;
                if (!key && sms_object_key_format(o, &text) < 0)
                        text = NULL;
                return sms_error_set(e, SMS_ERROR_ALREADY_EXISTS, "%s " SMS_QUOTE_FMT " already exists", c->name,
                                     SMS_QUOTE(key ? key : text ? text : "(this key)"));
        }

        if (rowid)
                o->values[c->key_index] = (CimValue) { .type = c->all[c->key_index]->type, .i = pg_get_int(res, 0, 0) };
        free(o->key);
        o->key = NULL;
        return sms_object_key_format(o, &o->key);
}

int pg_store_object_update(Store *s, const SmsObject *o, const size_t *indexes, size_t n, size_t guard_index,
                           const CimValue *guard, SmsError *e) {
        const SmsClass *c = o->class;
        _cleanup_(pg_clearp) PGresult *res = NULL;
        _cleanup_(pg_params_done) PgParams p = {};
        SqlBuf b = SQLBUF_PG;
        int r;

        if (!s->in_transaction)
                return sms_error_set(e, SMS_ERROR_FAILED, "update outside a transaction");
        if (n == 0)
                return 0;

        sqlbuf_append(&b, "UPDATE ");
        sqlbuf_append_identifier(&b, store_class_table(c));
        sqlbuf_append(&b, " SET ");
        for (size_t i = 0; i < n; i++) {
                sqlbuf_append(&b, i ? ", " : "");
                sqlbuf_append_identifier(&b, sms_property_column(c->all[indexes[i]]));
                sqlbuf_append(&b, " = ");
                sqlbuf_append_param(&b, (unsigned) i + 1);
                if (!pg_params_add_value(&p, &o->values[indexes[i]])) {
                        free(b.s);
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s.%s does not encode", c->name,
                                             c->all[indexes[i]]->name);
                }
        }
        sqlbuf_append(&b, " WHERE ");
        store_sql_key_condition(&b, c, (unsigned) n + 1);
        store_sql_discriminator_filter(&b, c, "AND");
        if (guard)
                store_sql_guard_condition(&b, c, guard_index, (unsigned) (n + c->n_keys + 1));
        r = pg_params_add_key(&p, c, o->key);
        if (r >= 0 && guard && !pg_params_add_value(&p, guard))
                r = sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s.%s does not encode", c->name,
                                  c->all[guard_index]->name);
        if (r >= 0)
                r = pg_exec_sqlbuf(s, &b, &p, &res, e, "updating an instance");
        else
                free(b.s);
        if (r < 0)
                return r;
        if (!changed_one_row(res))
                return guard ? store_guard_mismatch(e, c, guard_index, o->key) : not_found(e, c, o->key);
        return 0;
}

int pg_store_object_delete(Store *s, const SmsClass *c, const char *key, SmsError *e) {
        _cleanup_(pg_clearp) PGresult *res = NULL;
        _cleanup_(pg_params_done) PgParams p = {};
        SqlBuf b = SQLBUF_PG;
        int r;

        if (!s->in_transaction)
                return sms_error_set(e, SMS_ERROR_FAILED, "delete outside a transaction");

        store_sql_delete(&b, c);
        r = pg_params_add_key(&p, c, key);
        if (r >= 0)
                r = pg_exec_sqlbuf(s, &b, &p, &res, e, "deleting an instance");
        else
                free(b.s);
        if (r < 0)
                return r;
        return changed_one_row(res) ? 0 : not_found(e, c, key);
}

int pg_store_object_delete_all(Store *s, const SmsClass *c, int match_index, const CimValue *match, SmsError *e) {
        _cleanup_(pg_params_done) PgParams p = {};
        SqlBuf b = SQLBUF_PG;

        if (!s->in_transaction)
                return sms_error_set(e, SMS_ERROR_FAILED, "delete outside a transaction");
        sqlbuf_append(&b, "DELETE FROM ");
        sqlbuf_append_identifier(&b, store_class_table(c));
        sqlbuf_append(&b, " WHERE true");
        if (match_index >= 0) {
                sqlbuf_append(&b, " AND ");
                sqlbuf_append_identifier(&b, sms_property_column(c->all[match_index]));
                sqlbuf_append(&b, " = $1");
                if (!pg_params_add_value(&p, match)) {
                        free(b.s);
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "the value to match does not encode");
                }
        }
        store_sql_discriminator_filter(&b, c, "AND");
        return pg_exec_sqlbuf(s, &b, &p, NULL, e, "deleting instances");
}

int pg_store_object_enumerate(Store *s, const SmsClass *c, char ***ret_keys, const SmsClass ***ret_classes,
                              size_t *ret_n, SmsError *e) {
        const char *disc = store_class_discriminator(c);
        _cleanup_strv_free_ char **keys = NULL;
        _cleanup_free_ const SmsClass **classes = NULL;
        _cleanup_(pg_clearp) PGresult *res = NULL;
        SqlBuf b = SQLBUF_PG;
        size_t n = 0, rows;
        int r;

        store_sql_enumerate(&b, c);
        r = pg_exec_sqlbuf(s, &b, NULL, &res, e, "enumerating instances");
        if (r < 0)
                return r;

        rows = (size_t) PQntuples(res);
        keys = calloc(rows + 1, sizeof(char *));
        classes = calloc(rows + 1, sizeof(SmsClass *));
        if (!keys || !classes)
                return -ENOMEM;
        for (size_t i = 0; i < rows; i++) {
                classes[n] = disc ? sms_class_find_by_discriminator(c, pg_get_int(res, (int) i, (int) c->n_keys)) : c;
                if (!classes[n])
                        continue; /* a row of a class this build does not know */
                keys[n] = row_key(res, (int) i, 0, c);
                if (!keys[n])
                        return -ENOMEM;
                n++;
        }
        *ret_keys = TAKE_PTR(keys);
        if (ret_classes)
                *ret_classes = TAKE_PTR(classes);
        *ret_n = n;
        return 0;
}

size_t pg_store_object_count(Store *s, const SmsClass *c) {
        _cleanup_(pg_clearp) PGresult *res = NULL;
        SqlBuf b = SQLBUF_PG;

        sqlbuf_append(&b, "SELECT count(*) FROM ");
        sqlbuf_append_identifier(&b, store_class_table(c));
        sqlbuf_append(&b, " WHERE true");
        store_sql_discriminator_filter(&b, c, "AND");
        if (pg_exec_sqlbuf(s, &b, NULL, &res, NULL, "counting instances") < 0)
                return 0;
        return (size_t) pg_get_int(res, 0, 0);
}

/* --- queries ----------------------------------------------------------------------------------- */

/* The query budget as a time limit: STORE_DEFAULT_QUERY_STEPS is about a second of work on
 * SQLite, so the same budget gives PostgreSQL the same time. Over it, PostgreSQL cancels the
 * statement (57014), which query_end() turns into LimitsExceeded. */
static int query_begin(Store *s, SmsError *e) {
        uint64_t steps = s->query_max_steps ? s->query_max_steps : STORE_DEFAULT_QUERY_STEPS;
        uint64_t ms = steps / (STORE_DEFAULT_QUERY_STEPS / 1000);
        char sql[64];

        snprintf(sql, sizeof sql, "SET statement_timeout = %" PRIu64, ms > 0 ? ms : 1);
        return pg_exec(s, sql, NULL, NULL, e, "setting the query's time limit");
}

static int query_end(Store *s, int r, PGresult *res, SmsError *e) {
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        uint64_t steps = s->query_max_steps ? s->query_max_steps : STORE_DEFAULT_QUERY_STEPS;

        PQclear(PQexec(s->conn, "SET statement_timeout = 0"));
        if (state && streq(state, "57014")) {
                sms_error_clear(e);
                return sms_error_set(e, SMS_ERROR_LIMITS_EXCEEDED,
                                     "the query needs more than %" PRIu64 " steps (--max-query-steps); narrow it "
                                     "with WHERE",
                                     steps);
        }
        return r;
}

/* Runs the compiled query (with the page's extra parameters in p after its own); *ret gets the
 * rows. */
static int query_run(Store *s, const WqlSql *sql, PgParams *p, PGresult **ret, SmsError *e) {
        PGresult *res;
        ExecStatusType status;
        int r;

        if (p->oom)
                return -ENOMEM;
        r = query_begin(s, e);
        if (r < 0)
                return r;
        res = PQexecParams(s->conn, sql->sql, (int) p->n, p->types, (const char *const *) p->values, p->lengths,
                           p->formats, 0);
        status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        r = status == PGRES_TUPLES_OK ? 0 : pg_error(s, res, e, "running a query");
        r = query_end(s, r, res, e);
        if (r < 0) {
                PQclear(res);
                return r;
        }
        *ret = res;
        return 0;
}

static int query_params(const WqlSql *sql, PgParams *p) {
        for (size_t i = 0; i < sql->n_params; i++)
                if (!pg_params_add_value(p, &sql->params[i]))
                        return -EINVAL;
        return p->oom ? -ENOMEM : 0;
}

/* Row `row` of a query's result as class c, onto rows[*n]. */
static int row_read(const PGresult *res, int row, const WqlQuery *q, const SmsClass *c, WqlRow *ret, SmsError *e) {
        WqlRow w = { .class = c, .key = row_key(res, row, 0, q->class),
                     .values = calloc(q->n_columns ? q->n_columns : 1, sizeof(CimValue)) };
        int r = 0;

        if (!w.key || !w.values)
                r = -ENOMEM;
        for (size_t j = 0; r >= 0 && j < q->n_columns; j++)
                r = pg_read_value(res, row, (int) (j + q->class->n_keys + 1), q->class->all[q->columns[j]]->type,
                                  &w.values[j]);
        if (r < 0) {
                free(w.key);
                if (w.values)
                        for (size_t j = 0; j < q->n_columns; j++)
                                cim_value_clear(&w.values[j]);
                free(w.values);
                return r == -ENOMEM ? r : sms_error_set(e, SMS_ERROR_FAILED, "site database: a value does not decode");
        }
        *ret = w;
        return 0;
}

static const SmsClass *row_class(const PGresult *res, int row, const WqlQuery *q) {
        if (!store_class_discriminator(q->class))
                return q->class;
        return sms_class_find_by_discriminator(q->class, pg_get_int(res, row, (int) q->class->n_keys));
}

/* Rows [0, n_rows) of res, those of classes this build knows, as WqlRows. */
static int rows_read(const PGresult *res, int n_rows, const WqlQuery *q, size_t max_rows, WqlRow **ret,
                     size_t *ret_n, SmsError *e) {
        WqlRow *rows = calloc(n_rows > 0 ? (size_t) n_rows : 1, sizeof(WqlRow));
        size_t n = 0;
        int r = 0;

        if (!rows)
                return -ENOMEM;
        for (int i = 0; r >= 0 && i < n_rows; i++) {
                const SmsClass *c = row_class(res, i, q);
                if (!c)
                        continue;
                if (n >= max_rows)
                        r = sms_error_set(e, SMS_ERROR_LIMITS_EXCEEDED,
                                          "the query returns more than %zu rows; narrow it with WHERE", max_rows);
                else
                        r = row_read(res, i, q, c, &rows[n], e);
                if (r >= 0)
                        n++;
        }
        if (r < 0) {
                wql_rows_free(rows, n, q->n_columns);
                return r;
        }
        *ret = rows;
        *ret_n = n;
        return 0;
}

int pg_store_query(Store *s, const WqlQuery *q, size_t max_rows, WqlRow **ret, size_t *ret_n, SmsError *e) {
        _cleanup_(wql_sql_done) WqlSql sql = {};
        _cleanup_(pg_params_done) PgParams p = {};
        _cleanup_(pg_clearp) PGresult *res = NULL;
        int r;

        r = wql_compile_sql_dialect(q, NULL, WQL_DIALECT_POSTGRESQL, &sql, e);
        if (r < 0)
                return r;
        r = query_params(&sql, &p);
        if (r < 0)
                return r == -ENOMEM ? r : sms_error_set(e, SMS_ERROR_INVALID_QUERY, "a literal does not encode");
        r = query_run(s, &sql, &p, &res, e);
        if (r < 0)
                return r;
        return rows_read(res, PQntuples(res), q, max_rows, ret, ret_n, e);
}

/* --- pages ------------------------------------------------------------------------------------- */

#define FLOAT8_OID 701
#define FLOAT4_OID 700
#define INT2_OID 21
#define INT4_OID 23
#define INT8_OID 20
#define BYTEA_OID 17

static void params_add_sort_value(PgParams *p, const StoreSortValue *v) {
        char buf[64];

        switch (v->type) {
        case STORE_SORT_NULL:
                pg_params_add_text(p, NULL);
                return;
        case STORE_SORT_INTEGER:
                pg_params_add_int(p, v->i);
                return;
        case STORE_SORT_REAL:
                snprintf(buf, sizeof buf, "%.17g", v->d);
                pg_params_add_text(p, buf);
                return;
        case STORE_SORT_TEXT:
                pg_params_add_text(p, v->data);
                return;
        case STORE_SORT_BLOB:
                pg_params_add_blob(p, v->data, v->size);
                return;
        }
        p->oom = true;
}

static int read_sort_value(const PGresult *res, int row, int column, StoreSortValue *v) {
        const char *text = PQgetvalue(res, row, column);
        unsigned char *blob;

        *v = (StoreSortValue) {};
        if (PQgetisnull(res, row, column)) {
                v->type = STORE_SORT_NULL;
                return 0;
        }
        switch (PQftype(res, column)) {
        case INT2_OID:
        case INT4_OID:
        case INT8_OID:
                v->type = STORE_SORT_INTEGER;
                v->i = strtoll(text, NULL, 10);
                return 0;
        case FLOAT4_OID:
        case FLOAT8_OID:
                v->type = STORE_SORT_REAL;
                v->d = strtod(text, NULL);
                return 0;
        case BYTEA_OID:
                v->type = STORE_SORT_BLOB;
                blob = PQunescapeBytea((const unsigned char *) text, &v->size);
                if (!blob)
                        return -ENOMEM;
                v->data = malloc(v->size + 1);
                if (v->data) {
                        memcpy(v->data, blob, v->size);
                        ((char *) v->data)[v->size] = 0;
                }
                PQfreemem(blob);
                return v->data ? 0 : -ENOMEM;
        default:
                v->type = STORE_SORT_TEXT;
                v->size = strlen(text);
                v->data = strdup(text);
                return v->data ? 0 : -ENOMEM;
        }
}

/* The sort values of a row: the ORDER BY columns (after the selected ones), then the key
 * columns (the first ones). */
static int read_sort_values(const PGresult *res, int row, const WqlQuery *q, StoreSortValue **ret) {
        size_t n = wql_page_n_values(q);
        StoreSortValue *v = calloc(n, sizeof(StoreSortValue));
        int r = 0;

        if (!v)
                return -ENOMEM;
        for (size_t k = 0; r >= 0 && k < n; k++) {
                int column = k < q->n_order ? (int) (q->class->n_keys + 1 + q->n_columns + k) : (int) (k - q->n_order);
                r = read_sort_value(res, row, column, &v[k]);
        }
        if (r < 0) {
                store_sort_values_free(v, n);
                return r;
        }
        *ret = v;
        return 0;
}

int pg_store_query_page(Store *s, const WqlQuery *q, const StoreSortValue *after, size_t max_rows, WqlRow **ret,
                        size_t *ret_n, StoreSortValue **ret_next, SmsError *e) {
        size_t n_values = wql_page_n_values(q);
        _cleanup_free_ bool *after_null = NULL;
        _cleanup_(wql_sql_done) WqlSql sql = {};
        _cleanup_(pg_params_done) PgParams p = {};
        _cleanup_(pg_clearp) PGresult *res = NULL;
        StoreSortValue *next = NULL;
        int n_rows, r;

        assert(max_rows > 0);

        if (after) {
                after_null = calloc(n_values, sizeof(bool));
                if (!after_null)
                        return -ENOMEM;
                for (size_t k = 0; k < n_values; k++)
                        after_null[k] = after[k].type == STORE_SORT_NULL;
        }
        r = wql_compile_sql_dialect(q, &(WqlPage) { .n_after = after ? n_values : 0, .after_null = after_null },
                                    WQL_DIALECT_POSTGRESQL, &sql, e);
        if (r < 0)
                return r;
        r = query_params(&sql, &p);
        if (r < 0)
                return r == -ENOMEM ? r : sms_error_set(e, SMS_ERROR_INVALID_QUERY, "a literal does not encode");
        for (size_t k = 0; after && k < n_values; k++)
                params_add_sort_value(&p, &after[k]);
        /* one row more than the page: whether there is a next page */
        pg_params_add_int(&p, (int64_t) max_rows + 1);
        r = query_run(s, &sql, &p, &res, e);
        if (r < 0)
                return r;

        n_rows = PQntuples(res);
        if ((size_t) n_rows > max_rows) {
                /* there is more: the next page starts after the last row of this one */
                n_rows = (int) max_rows;
                r = read_sort_values(res, n_rows - 1, q, &next);
                if (r < 0)
                        return r;
        }
        r = rows_read(res, n_rows, q, SIZE_MAX, ret, ret_n, e);
        if (r < 0) {
                store_sort_values_free(next, n_values);
                return r;
        }
        *ret_next = next;
        return 0;
}
