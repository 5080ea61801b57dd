/* SPDX-License-Identifier: MIT */

/* Instances in the site database, read and written generically from the class descriptors. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smsprov/macro.h"
#include "store/store-internal.h"

/* Binds a key given as text (sms_class_key_format()); a text that is no key of c binds NULLs,
 * which match nothing. Integer keys bind as integers so that the primary key index is used.
 * SQLITE_NOMEM when memory ran out: that is no answer about the key. */
static int bind_key(sqlite3_stmt *st, int first, const SmsClass *c, const char *key) {
        CimValue values[SMS_MAX_KEYS];
        int rc = SQLITE_OK, r;

        r = sms_class_key_parse(c, key, values, NULL);
        if (r < 0) {
                for (size_t k = 0; k < c->n_keys; k++) {
                        cim_value_clear(&values[k]);
                        sqlite3_bind_null(st, first + (int) k);
                }
                return r == -ENOMEM ? SQLITE_NOMEM : SQLITE_OK;
        }
        for (size_t k = 0; k < c->n_keys; k++) {
                if (rc == SQLITE_OK)
                        rc = store_bind_value(st, first + (int) k, &values[k]);
                cim_value_clear(&values[k]);
        }
        return rc;
}

/* The key text of the row at the statement's current position, from its key columns. */
static char *row_key(sqlite3_stmt *st, int first, const SmsClass *c) {
        CimValue values[SMS_MAX_KEYS];
        const CimValue *pointers[SMS_MAX_KEYS];
        char *key = NULL;
        bool ok = true;

        for (size_t k = 0; k < c->n_keys; k++) {
                ok = ok && store_read_value(st, first + (int) k, c->all[c->key_indexes[k]]->type, &values[k]) >= 0;
                if (!ok)
                        values[k] = cim_value_null(c->all[c->key_indexes[k]]->type);
                pointers[k] = &values[k];
        }
        if (ok && sms_class_key_format(c, pointers, &key) < 0)
                key = NULL;
        for (size_t k = 0; k < c->n_keys; k++)
                cim_value_clear(&values[k]);
        return key;
}

/* Prepares the statement built in b, which it frees. -ENOMEM when building it ran out of memory;
 * what names the statement in an error. */
static int sqlbuf_prepare(Store *s, SqlBuf *b, unsigned flags, sqlite3_stmt **ret, const char *what, SmsError *e) {
        int rc;

        if (b->oom) {
                free(b->s);
                return -ENOMEM;
        }
        rc = sqlite3_prepare_v3(s->db, b->s, -1, flags, ret, NULL);
        free(b->s);
        *b = (SqlBuf) {};
        return rc == SQLITE_OK ? 0 : store_error(s, rc, e, what);
}

static int prepare_load(Store *s, const SmsClass *c, sqlite3_stmt **ret, SmsError *e) {
        size_t slot = store_class_slot(c);
        SqlBuf b = {};
        int r;

        if (slot < STORE_MAX_CLASSES && s->load_stmt[slot]) {
                sqlite3_reset(s->load_stmt[slot]);
                sqlite3_clear_bindings(s->load_stmt[slot]);
                *ret = s->load_stmt[slot];
                return 0;
        }

        store_sql_load(&b, c);
        r = sqlbuf_prepare(s, &b, SQLITE_PREPARE_PERSISTENT, ret, "preparing a load", e);
        if (r < 0)
                return r;
        if (slot < STORE_MAX_CLASSES)
                s->load_stmt[slot] = *ret;
        return 0;
}

int sqlite_store_object_load(Store *s, const SmsClass *c, const char *key, SmsObject **ret, SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        sqlite3_stmt *st;
        int rc, r;

        r = prepare_load(s, c, &st, e);
        if (r < 0)
                return r;

        rc = bind_key(st, 1, c, key);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
                sqlite3_reset(st);
                return sms_error_set(e, SMS_ERROR_NOT_FOUND, "no %s with key " SMS_QUOTE_FMT, c->name, SMS_QUOTE(key));
        }
        if (rc != SQLITE_ROW) {
                r = store_error(s, rc, e, "loading an instance");
                sqlite3_reset(st);
                return r;
        }

        o = sms_object_new(c);
        if (!o) {
                sqlite3_reset(st);
                return -ENOMEM;
        }
        for (size_t i = 0; i < c->n_all; i++) {
                r = store_read_value(st, (int) i, c->all[i]->type, &o->values[i]);
                if (r < 0) {
                        sqlite3_reset(st);
                        return r == -ENOMEM ? r
                                            : sms_error_set(e, SMS_ERROR_FAILED,
                                                            "site database: %s.%s of %s does not decode", c->name,
                                                            c->all[i]->name, key);
                }
        }
        sqlite3_reset(st);
        /* The key as stored: a lookup is case-insensitive, the object path is not. */
        if (sms_object_key_format(o, &o->key) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

int sqlite_store_object_class(Store *s, const SmsClass *base, const char *key, const SmsClass **ret, SmsError *e) {
        const char *disc = store_class_discriminator(base);
        const SmsClass *found = NULL;
        sqlite3_stmt *st = NULL;
        SqlBuf b = {};
        int rc, r;

        store_sql_class_of(&b, base);

        if (b.oom) {
                free(b.s);
                return sms_error_set(e, SMS_ERROR_FAILED, "finding the class of %s: out of memory", base->name);
        }
        rc = sqlite3_prepare_v2(s->db, b.s, -1, &st, NULL);
        free(b.s);
        if (rc != SQLITE_OK)
                return store_error(s, rc, e, "finding the class of an instance");
        rc = bind_key(st, 1, base, key);
        if (rc != SQLITE_OK) {
                r = store_error(s, rc, e, "finding the class of an instance");
                sqlite3_finalize(st);
                return r;
        }
        r = 0;
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                found = disc ? sms_class_find_by_discriminator(base, sqlite3_column_int64(st, 0)) : base;
        else if (rc != SQLITE_DONE)
                r = store_error(s, rc, e, "finding the class of an instance");
        sqlite3_finalize(st);
        if (r < 0)
                return r;
        if (!found || found->abstract)
                return sms_error_set(e, SMS_ERROR_NOT_FOUND, "no %s with key " SMS_QUOTE_FMT, base->name,
                                     SMS_QUOTE(key));
        *ret = found;
        return 0;
}

/* The site's next PackageID number (store_object_insert_key()). */
static int next_package_number(Store *s, int64_t *ret, SmsError *e) {
        sqlite3_stmt *st = NULL;
        int rc;

        rc = sqlite3_prepare_v2(s->db,
                                "UPDATE site SET next_package_number = next_package_number + 1 WHERE id = 1 "
                                "RETURNING next_package_number - 1",
                                -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, rc, e, "allocating a PackageID");
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) {
                int r = store_error(s, rc, e, "allocating a PackageID");
                sqlite3_finalize(st);
                return r;
        }
        *ret = sqlite3_column_int64(st, 0);
        /* Step to the end so that the UPDATE completes before the statement goes away. */
        sqlite3_step(st);
        sqlite3_finalize(st);
        return 0;
}

int sqlite_store_object_insert(Store *s, SmsObject *o, SmsError *e) {
        const SmsClass *c = o->class;
        _cleanup_free_ char *key = NULL;
        sqlite3_stmt *st = NULL;
        SqlBuf b = {};
        int rc, r, n = 0;

        if (!s->in_transaction)
                return sms_error_set(e, SMS_ERROR_FAILED, "insert outside a transaction");

        r = store_object_insert_key(s, o, s->site_code, next_package_number, &key, e);
        if (r < 0)
                return r;

        sqlbuf_append(&b, "INSERT INTO ");
        sqlbuf_append_identifier(&b, store_class_table(c));
        sqlbuf_append(&b, " (");
        for (size_t i = 0; i < c->n_all; i++) {
                if (c->key_kind == SMS_KEY_ROWID && i == c->key_index)
                        continue;
                sqlbuf_append(&b, n++ ? ", " : "");
                sqlbuf_append_identifier(&b, sms_property_column(c->all[i]));
        }
        sqlbuf_append(&b, ") VALUES (");
        for (int i = 0; i < n; i++)
                sqlbuf_append(&b, i ? ", ?" : "?");
        sqlbuf_append(&b, ")");
        r = sqlbuf_prepare(s, &b, 0, &st, "preparing an insert", e);
        if (r < 0)
                return r;
        n = 0;
        for (size_t i = 0; i < c->n_all; i++) {
                if (c->key_kind == SMS_KEY_ROWID && i == c->key_index)
                        continue;
                rc = store_bind_value(st, ++n, &o->values[i]);
                if (rc != SQLITE_OK)
                        break;
        }
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
                _cleanup_free_ char *text = NULL;
                if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                             "%s refers to an object that does not exist", c->name);
                if (rc != SQLITE_CONSTRAINT_PRIMARYKEY && rc != SQLITE_CONSTRAINT_UNIQUE)
                        return store_error(s, rc, e, "inserting an instance");
                if (!key && sms_object_key_format(o, &text) < 0)
                        text = NULL;
                return sms_error_set(e, SMS_ERROR_ALREADY_EXISTS, "%s " SMS_QUOTE_FMT " already exists", c->name,
                                     SMS_QUOTE(key ? key : text ? text : "(this key)"));
        }

        if (c->key_kind == SMS_KEY_ROWID) {
                int64_t id = sqlite3_last_insert_rowid(s->db);
                o->values[c->key_index] = (CimValue) { .type = c->all[c->key_index]->type, .i = id };
        }
        free(o->key);
        o->key = NULL;
        return sms_object_key_format(o, &o->key);
}

int sqlite_store_object_update(Store *s, const SmsObject *o, const size_t *indexes, size_t n, size_t guard_index,
                               const CimValue *guard, SmsError *e) {
        const SmsClass *c = o->class;
        sqlite3_stmt *st = NULL;
        SqlBuf b = {};
        int rc, r;

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
                sqlbuf_append(&b, " = ?%zu", i + 1);
        }
        sqlbuf_append(&b, " WHERE ");
        store_sql_key_condition(&b, c, (unsigned) n + 1);
        store_sql_discriminator_filter(&b, c, "AND");
        if (guard)
                store_sql_guard_condition(&b, c, guard_index, (unsigned) (n + c->n_keys + 1));
        r = sqlbuf_prepare(s, &b, 0, &st, "preparing an update", e);
        if (r < 0)
                return r;
        rc = bind_key(st, (int) n + 1, c, o->key);
        for (size_t i = 0; rc == SQLITE_OK && i < n; i++)
                rc = store_bind_value(st, (int) i + 1, &o->values[indexes[i]]);
        if (rc == SQLITE_OK && guard)
                rc = store_bind_value(st, (int) (n + c->n_keys + 1), guard);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return store_error(s, rc, e, "updating an instance");
        if (sqlite3_changes(s->db) != 1 && guard)
                return store_guard_mismatch(e, c, guard_index, o->key);
        if (sqlite3_changes(s->db) != 1)
                return sms_error_set(e, SMS_ERROR_NOT_FOUND, "no %s with key " SMS_QUOTE_FMT, c->name,
                                     SMS_QUOTE(o->key));
        return 0;
}

int sqlite_store_object_delete(Store *s, const SmsClass *c, const char *key, SmsError *e) {
        sqlite3_stmt *st = NULL;
        SqlBuf b = {};
        int rc, r;

        if (!s->in_transaction)
                return sms_error_set(e, SMS_ERROR_FAILED, "delete outside a transaction");

        store_sql_delete(&b, c);
        r = sqlbuf_prepare(s, &b, 0, &st, "preparing a delete", e);
        if (r < 0)
                return r;
        rc = bind_key(st, 1, c, key);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return store_error(s, rc, e, "deleting an instance");
        if (sqlite3_changes(s->db) != 1)
                return sms_error_set(e, SMS_ERROR_NOT_FOUND, "no %s with key " SMS_QUOTE_FMT, c->name, SMS_QUOTE(key));
        return 0;
}

int sqlite_store_object_delete_all(Store *s, const SmsClass *c, int match_index, const CimValue *match, SmsError *e) {
        sqlite3_stmt *st = NULL;
        SqlBuf b = {};
        int rc;

        if (!s->in_transaction)
                return sms_error_set(e, SMS_ERROR_FAILED, "delete outside a transaction");
        sqlbuf_append(&b, "DELETE FROM ");
        sqlbuf_append_identifier(&b, store_class_table(c));
        sqlbuf_append(&b, " WHERE 1");
        if (match_index >= 0) {
                sqlbuf_append(&b, " AND ");
                sqlbuf_append_identifier(&b, sms_property_column(c->all[match_index]));
                sqlbuf_append(&b, " = ?1");
        }
        store_sql_discriminator_filter(&b, c, "AND");
        if (b.oom) {
                free(b.s);
                return -ENOMEM;
        }
        rc = sqlite3_prepare_v2(s->db, b.s, -1, &st, NULL);
        free(b.s);
        if (rc == SQLITE_OK && match_index >= 0)
                rc = store_bind_value(st, 1, match);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : store_error(s, rc, e, "deleting instances");
}

int sqlite_store_object_enumerate(Store *s, const SmsClass *c, char ***ret_keys, const SmsClass ***ret_classes,
                           size_t *ret_n, SmsError *e) {
        const char *disc = store_class_discriminator(c);
        _cleanup_strv_free_ char **keys = NULL;
        _cleanup_free_ const SmsClass **classes = NULL;
        size_t n = 0, cap = 0;
        sqlite3_stmt *st = NULL;
        SqlBuf b = {};
        int rc, r;

        store_sql_enumerate(&b, c);
        r = sqlbuf_prepare(s, &b, 0, &st, "enumerating instances", e);
        if (r < 0)
                return r;

        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (n + 1 >= cap) {
                        cap = cap ? cap * 2 : 64;
                        char **k = realloc(keys, cap * sizeof(char *));
                        if (k)
                                keys = k;
                        const SmsClass **cl = realloc(classes, cap * sizeof(SmsClass *));
                        if (cl)
                                classes = cl;
                        if (!k || !cl) {
                                sqlite3_finalize(st);
                                return -ENOMEM;
                        }
                }
                keys[n] = row_key(st, 0, c);
                keys[n + 1] = NULL;
                classes[n] = disc ? sms_class_find_by_discriminator(c, sqlite3_column_int64(st, (int) c->n_keys)) : c;
                if (!keys[n]) {
                        sqlite3_finalize(st);
                        return -ENOMEM;
                }
                if (!classes[n]) {
                        free(keys[n]);
                        keys[n] = NULL;
                        continue; /* a row of a class this build does not know */
                }
                n++;
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return store_error(s, rc, e, "enumerating instances");

        if (!keys && !(keys = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *ret_keys = TAKE_PTR(keys);
        if (ret_classes)
                *ret_classes = TAKE_PTR(classes);
        *ret_n = n;
        return 0;
}

size_t sqlite_store_object_count(Store *s, const SmsClass *c) {
        sqlite3_stmt *st = NULL;
        size_t n = 0;
        SqlBuf b = {};

        sqlbuf_append(&b, "SELECT count(*) FROM ");
        sqlbuf_append_identifier(&b, store_class_table(c));
        sqlbuf_append(&b, " WHERE 1");
        store_sql_discriminator_filter(&b, c, "AND");
        if (!b.oom && sqlite3_prepare_v2(s->db, b.s, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
                n = (size_t) sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        free(b.s);
        return n;
}

static int row_read(sqlite3_stmt *st, const WqlQuery *q, const SmsClass *c, WqlRow *ret) {
        WqlRow row = { .class = c, .key = row_key(st, 0, q->class),
                         .values = calloc(q->n_columns ? q->n_columns : 1, sizeof(CimValue)) };
        int r = 0;

        if (!row.key || !row.values)
                r = -ENOMEM;
        for (size_t j = 0; r >= 0 && j < q->n_columns; j++)
                r = store_read_value(st, (int) (j + q->class->n_keys + 1), q->class->all[q->columns[j]]->type,
                                     &row.values[j]);
        if (r < 0) {
                free(row.key);
                if (row.values)
                        for (size_t j = 0; j < q->n_columns; j++)
                                cim_value_clear(&row.values[j]);
                free(row.values);
                return r;
        }
        *ret = row;
        return 0;
}

const SmsClass *store_row_class(sqlite3_stmt *st, const WqlQuery *q) {
        if (!store_class_discriminator(q->class))
                return q->class;
        return sms_class_find_by_discriminator(q->class, sqlite3_column_int64(st, (int) q->class->n_keys));
}

int store_row_list_append(StoreRowList *l, sqlite3_stmt *st, const WqlQuery *q, const SmsClass *c, SmsError *e) {
        if (l->n >= l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 16;
                WqlRow *p = reallocarray(l->rows, cap, sizeof(WqlRow));
                if (!p)
                        return -ENOMEM;
                l->rows = p;
                l->cap = cap;
        }
        int r = row_read(st, q, c, &l->rows[l->n]);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return sms_error_set(e, SMS_ERROR_FAILED, "site database: a value does not decode");
        l->n++;
        return 0;
}

int store_query_prepare(Store *s, const WqlSql *sql, sqlite3_stmt **ret, SmsError *e) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(s->db, sql->sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, rc, e, "preparing a query");
        for (size_t i = 0; i < sql->n_params; i++)
                if ((rc = store_bind_value(st, (int) i + 1, &sql->params[i])) != SQLITE_OK) {
                        int r = store_error(s, rc, e, "binding a query parameter");
                        sqlite3_finalize(st);
                        return r;
                }
        *ret = st;
        return 0;
}

int sqlite_store_query(Store *s, const WqlQuery *q, size_t max_rows, WqlRow **ret, size_t *ret_n, SmsError *e) {
        WqlSql sql = {};
        StoreRowList list = {};
        sqlite3_stmt *st = NULL;
        int rc, r;

        r = wql_compile_sql(q, &sql, e);
        if (r < 0)
                return r;
        r = store_query_prepare(s, &sql, &st, e);
        if (r < 0)
                goto finish;

        store_query_begin(s);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const SmsClass *c = store_row_class(st, q);
                if (!c)
                        continue;
                if (list.n >= max_rows) {
                        r = sms_error_set(e, SMS_ERROR_LIMITS_EXCEEDED,
                                          "the query returns more than %zu rows; narrow it with WHERE", max_rows);
                        goto finish;
                }
                r = store_row_list_append(&list, st, q, c, e);
                if (r < 0)
                        goto finish;
        }
        if (rc != SQLITE_DONE) {
                r = store_error(s, rc, e, "running a query");
                goto finish;
        }

        *ret = TAKE_PTR(list.rows);
        *ret_n = list.n;
        r = 0;
finish:
        r = store_query_end(s, r, e);
        sqlite3_finalize(st);
        wql_sql_done(&sql);
        if (list.rows)
                wql_rows_free(list.rows, list.n, q->n_columns);
        return r;
}
