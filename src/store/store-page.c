/* SPDX-License-Identifier: MIT */

/* Paged queries (Site.ExecQueryPage): one page of a query after a cursor, and the cursors.
 *
 * A cursor carries the sort values of the last row of the page before (the ORDER BY columns,
 * then the class key), as SQLite stored them, so that the next page starts right after that row
 * whatever was created or deleted meanwhile. Nothing is kept in the daemon. The values are
 * signed with HMAC-SHA256 under the site's cursor key (schema/0006-query-cursor.sql) together
 * with the query text: a caller can neither make one up nor carry one over to another query,
 * and a cursor stays good across restarts.
 *
 * Layout, in hex: version byte 1, then per value a tag ('N' NULL, 'I' integer, 'R' real, 'T'
 * text, 'B' blob) and its bytes (integer and real: 8 bytes big-endian; text and blob: a 4-byte
 * big-endian length, then the bytes), then the 32-byte HMAC over
 * "smsprov-cursor-1" NUL query-text NUL <version and values>. */

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "smsprov/macro.h"
#include "store/store-internal.h"

#define CURSOR_VERSION 1
#define CURSOR_MAC_SIZE 32
#define CURSOR_CONTEXT "smsprov-cursor-1"

int store_load_cursor_key(Store *s, SmsError *e) {
        sqlite3_stmt *st = NULL;
        int rc;

        rc = sqlite3_prepare_v2(s->db, "SELECT secret FROM query_cursor_key WHERE id = 1", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, rc, e, "reading the cursor key");
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == STORE_CURSOR_KEY_SIZE) {
                memcpy(s->cursor_key, sqlite3_column_blob(st, 0), STORE_CURSOR_KEY_SIZE);
                sqlite3_finalize(st);
                return 0;
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return store_error(s, rc == SQLITE_ROW ? SQLITE_CORRUPT : rc, e, "reading the cursor key");

        /* the first start with this schema: make the key */
        if (getrandom(s->cursor_key, sizeof s->cursor_key, 0) != (ssize_t) sizeof s->cursor_key)
                return sms_error_set_errno(e, errno ? errno : EIO, "Failed to make the cursor key");
        rc = sqlite3_prepare_v2(s->db, "INSERT INTO query_cursor_key (id, secret) VALUES (1, ?)", -1, &st, NULL);
        if (rc == SQLITE_OK) {
                sqlite3_bind_blob(st, 1, s->cursor_key, sizeof s->cursor_key, SQLITE_STATIC);
                rc = sqlite3_step(st);
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return store_error(s, rc, e, "storing the cursor key");
        return 0;
}

void store_sort_values_free(StoreSortValue *v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                free(v[i].data);
        free(v);
}

/* A growing byte buffer. */
typedef struct Bytes {
        unsigned char *p;
        size_t n, cap;
        bool oom;
} Bytes;

static void bytes_add(Bytes *b, const void *data, size_t n) {
        if (b->oom || n == 0)
                return;
        if (b->n + n > b->cap) {
                size_t k = (b->n + n) * 2;
                unsigned char *p = realloc(b->p, k);
                if (!p) {
                        b->oom = true;
                        return;
                }
                b->p = p;
                b->cap = k;
        }
        memcpy(b->p + b->n, data, n);
        b->n += n;
}

static void bytes_add_be(Bytes *b, uint64_t v, size_t n) {
        unsigned char buf[8];

        for (size_t i = 0; i < n; i++)
                buf[i] = (unsigned char) (v >> (8 * (n - 1 - i)));
        bytes_add(b, buf, n);
}

static uint64_t read_be(const unsigned char *p, size_t n) {
        uint64_t v = 0;

        for (size_t i = 0; i < n; i++)
                v = (v << 8) | p[i];
        return v;
}

static bool cursor_mac(const unsigned char *key, const char *query, const unsigned char *body, size_t n,
                       unsigned char mac[static CURSOR_MAC_SIZE]) {
        _cleanup_free_ unsigned char *input = NULL;
        size_t lc = sizeof CURSOR_CONTEXT, lq = strlen(query) + 1;
        unsigned len = 0;

        input = malloc(lc + lq + n);
        if (!input)
                return false;
        memcpy(input, CURSOR_CONTEXT, lc);
        memcpy(input + lc, query, lq);
        memcpy(input + lc + lq, body, n);
        return HMAC(EVP_sha256(), key, STORE_CURSOR_KEY_SIZE, input, lc + lq + n, mac, &len) &&
               len == CURSOR_MAC_SIZE;
}

int sqlite_store_cursor_encode(const Store *s, const char *query, const StoreSortValue *v, size_t n, char **ret) {
        return store_cursor_encode_key(s->cursor_key, query, v, n, ret);
}

int store_cursor_encode_key(const unsigned char *key, const char *query, const StoreSortValue *v, size_t n,
                            char **ret) {
        static const char hex[] = "0123456789abcdef";
        _cleanup_free_ unsigned char *body = NULL;
        unsigned char mac[CURSOR_MAC_SIZE];
        Bytes b = {};
        char *out;

        bytes_add_be(&b, CURSOR_VERSION, 1);
        for (size_t i = 0; i < n; i++) {
                uint64_t bits;

                bytes_add_be(&b, (uint64_t) v[i].type, 1);
                switch (v[i].type) {
                case STORE_SORT_NULL:
                        break;
                case STORE_SORT_INTEGER:
                        bytes_add_be(&b, (uint64_t) v[i].i, 8);
                        break;
                case STORE_SORT_REAL:
                        memcpy(&bits, &v[i].d, 8);
                        bytes_add_be(&b, bits, 8);
                        break;
                case STORE_SORT_TEXT:
                case STORE_SORT_BLOB:
                        assert(v[i].size <= UINT32_MAX);
                        bytes_add_be(&b, v[i].size, 4);
                        bytes_add(&b, v[i].data, v[i].size);
                        break;
                }
        }
        body = b.p;
        if (b.oom)
                return -ENOMEM;
        if (!cursor_mac(key, query, body, b.n, mac))
                return -ENOMEM;

        out = malloc(2 * (b.n + CURSOR_MAC_SIZE) + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < b.n + CURSOR_MAC_SIZE; i++) {
                unsigned char c = i < b.n ? body[i] : mac[i - b.n];
                out[2 * i] = hex[c >> 4];
                out[2 * i + 1] = hex[c & 15];
        }
        out[2 * (b.n + CURSOR_MAC_SIZE)] = 0;
        *ret = out;
        return 0;
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

static int cursor_invalid(SmsError *e) {
        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                             "the cursor was not made by this site for this query; start again with \"\"");
}

int sqlite_store_cursor_decode(const Store *s, const char *query, const char *cursor, size_t n_expected,
                        StoreSortValue **ret, SmsError *e) {
        return store_cursor_decode_key(s->cursor_key, query, cursor, n_expected, ret, e);
}

int store_cursor_decode_key(const unsigned char *key, const char *query, const char *cursor, size_t n_expected,
                            StoreSortValue **ret, SmsError *e) {
        _cleanup_free_ unsigned char *raw = NULL;
        unsigned char mac[CURSOR_MAC_SIZE];
        StoreSortValue *v = NULL;
        size_t length = strlen(cursor), n, at, k = 0;

        if (length % 2 != 0 || length / 2 < 1 + CURSOR_MAC_SIZE || length > STORE_CURSOR_MAX_LENGTH)
                return cursor_invalid(e);
        n = length / 2;
        raw = malloc(n);
        if (!raw)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                int hi = unhex(cursor[2 * i]), lo = unhex(cursor[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return cursor_invalid(e);
                raw[i] = (unsigned char) (hi << 4 | lo);
        }

        /* the signature first: nothing of an unsigned cursor is looked at */
        n -= CURSOR_MAC_SIZE;
        if (!cursor_mac(key, query, raw, n, mac))
                return -ENOMEM;
        if (CRYPTO_memcmp(mac, raw + n, CURSOR_MAC_SIZE) != 0 || raw[0] != CURSOR_VERSION)
                return cursor_invalid(e);

        v = calloc(n_expected ? n_expected : 1, sizeof(StoreSortValue));
        if (!v)
                return -ENOMEM;
        for (at = 1; at < n && k < n_expected; k++) {
                uint64_t size;

                v[k].type = raw[at++];
                switch (v[k].type) {
                case STORE_SORT_NULL:
                        continue;
                case STORE_SORT_INTEGER:
                case STORE_SORT_REAL:
                        if (n - at < 8)
                                goto invalid;
                        size = read_be(raw + at, 8);
                        if (v[k].type == STORE_SORT_INTEGER)
                                v[k].i = (int64_t) size;
                        else
                                memcpy(&v[k].d, &size, 8);
                        at += 8;
                        continue;
                case STORE_SORT_TEXT:
                case STORE_SORT_BLOB:
                        if (n - at < 4)
                                goto invalid;
                        size = read_be(raw + at, 4);
                        at += 4;
                        if (n - at < size)
                                goto invalid;
                        v[k].data = malloc(size + 1); /* text keeps a NUL after it */
                        if (!v[k].data) {
                                store_sort_values_free(v, n_expected);
                                return -ENOMEM;
                        }
                        memcpy(v[k].data, raw + at, size);
                        ((char *) v[k].data)[size] = 0;
                        v[k].size = size;
                        at += size;
                        continue;
                default:
                        goto invalid;
                }
        }
        /* signed by us but for a query of another shape (it cannot be, with the text signed too,
         * unless the schema changed between the calls): still not this query's cursor */
        if (k != n_expected || at != n)
                goto invalid;

        *ret = v;
        return 0;

invalid:
        store_sort_values_free(v, n_expected);
        return cursor_invalid(e);
}

static int bind_sort_value(sqlite3_stmt *st, int index, const StoreSortValue *v) {
        switch (v->type) {
        case STORE_SORT_NULL:
                return sqlite3_bind_null(st, index);
        case STORE_SORT_INTEGER:
                return sqlite3_bind_int64(st, index, v->i);
        case STORE_SORT_REAL:
                return sqlite3_bind_double(st, index, v->d);
        case STORE_SORT_TEXT:
                return sqlite3_bind_text(st, index, v->data, (int) v->size, SQLITE_STATIC);
        case STORE_SORT_BLOB:
                return sqlite3_bind_blob(st, index, v->data, (int) v->size, SQLITE_STATIC);
        }
        return SQLITE_MISUSE;
}

static int read_sort_value(sqlite3_stmt *st, int column, StoreSortValue *v) {
        const void *data;

        *v = (StoreSortValue) {};
        switch (sqlite3_column_type(st, column)) {
        case SQLITE_NULL:
                v->type = STORE_SORT_NULL;
                return 0;
        case SQLITE_INTEGER:
                v->type = STORE_SORT_INTEGER;
                v->i = sqlite3_column_int64(st, column);
                return 0;
        case SQLITE_FLOAT:
                v->type = STORE_SORT_REAL;
                v->d = sqlite3_column_double(st, column);
                return 0;
        case SQLITE_TEXT:
                v->type = STORE_SORT_TEXT;
                data = sqlite3_column_text(st, column);
                break;
        default:
                v->type = STORE_SORT_BLOB;
                data = sqlite3_column_blob(st, column);
                break;
        }
        v->size = (size_t) sqlite3_column_bytes(st, column);
        v->data = malloc(v->size + 1);
        if (!v->data)
                return -ENOMEM;
        if (v->size > 0)
                memcpy(v->data, data, v->size);
        ((char *) v->data)[v->size] = 0;
        return 0;
}

/* The sort values of the current row: the ORDER BY columns (after the selected ones), then the
 * key columns (the first ones). */
static int read_sort_values(sqlite3_stmt *st, const WqlQuery *q, StoreSortValue **ret) {
        size_t n = wql_page_n_values(q);
        StoreSortValue *v = calloc(n, sizeof(StoreSortValue));
        int r = 0;

        if (!v)
                return -ENOMEM;
        for (size_t k = 0; r >= 0 && k < n; k++) {
                int column = k < q->n_order ? (int) (q->class->n_keys + 1 + q->n_columns + k) : (int) (k - q->n_order);
                r = read_sort_value(st, column, &v[k]);
        }
        if (r < 0) {
                store_sort_values_free(v, n);
                return r;
        }
        *ret = v;
        return 0;
}

int sqlite_store_query_page(Store *s, const WqlQuery *q, const StoreSortValue *after, size_t max_rows, WqlRow **ret,
                     size_t *ret_n, StoreSortValue **ret_next, SmsError *e) {
        size_t n_values = wql_page_n_values(q), seen = 0;
        bool more = false;
        _cleanup_free_ bool *after_null = NULL;
        StoreSortValue *next = NULL;
        WqlSql sql = {};
        StoreRowList list = {};
        sqlite3_stmt *st = NULL;
        int rc, r;

        assert(max_rows > 0);

        if (after) {
                after_null = calloc(n_values, sizeof(bool));
                if (!after_null)
                        return -ENOMEM;
                for (size_t k = 0; k < n_values; k++)
                        after_null[k] = after[k].type == STORE_SORT_NULL;
        }
        r = wql_compile_sql_page(q, &(WqlPage) { .n_after = after ? n_values : 0, .after_null = after_null }, &sql, e);
        if (r < 0)
                return r;

        r = store_query_prepare(s, &sql, &st, e);
        if (r < 0)
                goto finish;
        for (size_t k = 0; after && k < n_values; k++)
                if ((rc = bind_sort_value(st, (int) (sql.n_params + 1 + k), &after[k])) != SQLITE_OK)
                        goto bind_failed;
        /* one row more than the page: whether there is a next page */
        rc = sqlite3_bind_int64(st, (int) (sql.n_params + (after ? n_values : 0) + 1), (sqlite3_int64) max_rows + 1);
        if (rc != SQLITE_OK)
                goto bind_failed;

        store_query_begin(s);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (seen == max_rows) {
                        /* there is more: the next page starts after the last row of this one */
                        more = true;
                        rc = SQLITE_DONE;
                        break;
                }
                seen++;
                store_sort_values_free(next, n_values);
                next = NULL;
                r = read_sort_values(st, q, &next);
                if (r < 0)
                        goto finish;

                const SmsClass *c = store_row_class(st, q);
                if (!c)
                        continue; /* a row of a class this daemon does not know: skipped, but passed */
                r = store_row_list_append(&list, st, q, c, e);
                if (r < 0)
                        goto finish;
        }
        if (rc != SQLITE_DONE) {
                r = store_error(s, rc, e, "running a query");
                goto finish;
        }
        if (!more) {
                /* the statement ran to its end: this was the last page */
                store_sort_values_free(next, n_values);
                next = NULL;
        }

        *ret = TAKE_PTR(list.rows);
        *ret_n = list.n;
        *ret_next = TAKE_PTR(next);
        r = 0;
        goto finish;

bind_failed:
        r = store_error(s, rc, e, "binding a query parameter");
finish:
        r = store_query_end(s, r, e);
        sqlite3_finalize(st);
        wql_sql_done(&sql);
        if (list.rows)
                wql_rows_free(list.rows, list.n, q->n_columns);
        store_sort_values_free(next, n_values);
        return r;
}
