/* SPDX-License-Identifier: MIT */
#pragma once

#include <sqlite3.h>

#include "smsprov/store.h"
#include "store/store-backend.h"
#include "store/store-sql.h"

#define STORE_MAX_CLASSES 32

/* The SQLite backend's Store (store-backend.h). */
struct Store {
        StoreHead head;
        sqlite3 *db;
        char *site_code;
        char *site_name;
        char *path;
        unsigned schema_version;
        uint64_t generation;
        bool in_transaction;
        /* Prepared when the store opens, so that a rollback needs no memory (store_rollback()). */
        sqlite3_stmt *rollback_stmt;
        /* Prepared once per class: SELECT every column WHERE key = ?. */
        sqlite3_stmt *load_stmt[STORE_MAX_CLASSES];
        char machine_name[256];

        /* The budget of the query that runs (store_query_begin() … _end()): SQLite's VM
         * instructions, counted by the progress handler, and wql_like()'s matcher steps both
         * draw on it. */
        uint64_t query_max_steps;   /* 0 = STORE_DEFAULT_QUERY_STEPS */
        uint64_t query_steps_left;
        bool query_running;
        bool query_over_budget;

        unsigned char cursor_key[STORE_CURSOR_KEY_SIZE]; /* signs ExecQueryPage cursors */
};

/* The SQLite backend's entries, each the store.h function of its name. */
int sqlite_store_open(const char *path, const char *site_code, const char *host, Store **ret, SmsError *e);
Store *sqlite_store_close(Store *s);
int sqlite_store_new_reader(const Store *writer, Store **ret);
int sqlite_store_reader_open(Store *reader, SmsError *e);
const char *sqlite_store_site_code(const Store *s);
const char *sqlite_store_site_name(const Store *s);
const char *sqlite_store_host(const Store *s);
unsigned sqlite_store_schema_version(const Store *s);
uint64_t sqlite_store_generation(const Store *s);
int sqlite_store_begin(Store *s, SmsError *e);
int sqlite_store_commit(Store *s, SmsError *e);
void sqlite_store_rollback(Store *s);
int sqlite_store_object_load(Store *s, const SmsClass *c, const char *key, SmsObject **ret, SmsError *e);
int sqlite_store_object_class(Store *s, const SmsClass *base, const char *key, const SmsClass **ret, SmsError *e);
int sqlite_store_object_insert(Store *s, SmsObject *o, SmsError *e);
int sqlite_store_object_update(Store *s, const SmsObject *o, const size_t *indexes, size_t n, size_t guard_index,
                               const CimValue *guard, SmsError *e);
int sqlite_store_object_delete(Store *s, const SmsClass *c, const char *key, SmsError *e);
int sqlite_store_object_delete_all(Store *s, const SmsClass *c, int match_index, const CimValue *match, SmsError *e);
int sqlite_store_object_enumerate(Store *s, const SmsClass *c, char ***ret_keys, const SmsClass ***ret_classes, size_t *ret_n, SmsError *e);
size_t sqlite_store_object_count(Store *s, const SmsClass *c);
int sqlite_store_query(Store *s, const WqlQuery *q, size_t max_rows, WqlRow **ret, size_t *ret_n, SmsError *e);
int sqlite_store_query_page(Store *s, const WqlQuery *q, const StoreSortValue *after, size_t max_rows, WqlRow **ret, size_t *ret_n, StoreSortValue **ret_next, SmsError *e);
int sqlite_store_cursor_encode(const Store *s, const char *query, const StoreSortValue *v, size_t n, char **ret);
int sqlite_store_cursor_decode(const Store *s, const char *query, const char *cursor, size_t n_expected, StoreSortValue **ret, SmsError *e);
void sqlite_store_set_query_budget(Store *s, uint64_t max_steps);
int sqlite_store_status_message_add(Store *s, const StoreStatusMessage *m, int64_t *ret_record_id, SmsError *e);
int sqlite_store_integrity_check(Store *s, SmsError *e);
int sqlite_store_job_insert(Store *s, const StoreJob *j, uint64_t *ret_id, SmsError *e);
int sqlite_store_job_update(Store *s, const StoreJob *j, SmsError *e);
int sqlite_store_jobs_renew(Store *s, uint64_t expires_usec, SmsError *e);
int sqlite_store_job_hold(Store *s, uint64_t job_id, uint64_t expires_usec, SmsError *e);
int sqlite_store_schedule_claim(Store *s, const char *package_id, uint64_t due_usec, SmsError *e);
int sqlite_store_jobs_fail(Store *s, bool expired, uint64_t now_usec, StoreInterruptedJob **ret, size_t *ret_n, SmsError *e);
int sqlite_store_lease_take(Store *s, const char *name, uint64_t job_id, uint64_t now_usec, SmsError *e);
int sqlite_store_lease_release(Store *s, uint64_t job_id, SmsError *e);
int sqlite_store_context_status_set(Store *s, const char *context_id, uint32_t status, uint32_t progress, uint32_t max_progress, const char *text, int32_t error_code, const char *extended, SmsError *e);
int sqlite_store_context_status_get(Store *s, const char *context_id, StoreContextStatus *ret, SmsError *e);
int sqlite_store_context_status_delete(Store *s, const char *context_id, SmsError *e);

/* Reads (or, the first time, makes and stores) the site's cursor key. */
int store_load_cursor_key(Store *s, SmsError *e);

/* The rows a query collects, grown as they come; freed with wql_rows_free(rows, n, q->n_columns). */
typedef struct StoreRowList {
        WqlRow *rows;
        size_t n, cap;
} StoreRowList;

/* Prepares a compiled query and binds its parameters (further ones are the caller's). */
int store_query_prepare(Store *s, const WqlSql *sql, sqlite3_stmt **ret, SmsError *e);
/* The class of st's current row: q's class, or the subclass its discriminator names; NULL for a
 * row of a class this build does not know (the caller skips it). */
const SmsClass *store_row_class(sqlite3_stmt *st, const WqlQuery *q);
/* Reads st's current row (keys from column 0, values after the discriminator) as class c onto
 * the list. A value that does not decode is Failed. */
int store_row_list_append(StoreRowList *l, sqlite3_stmt *st, const WqlQuery *q, const SmsClass *c, SmsError *e);

/* Arms and disarms the budget around one query's statement; store_query_end() turns an
 * interrupted step into LimitsExceeded (returning r otherwise). */
void store_query_begin(Store *s);
int store_query_end(Store *s, int r, SmsError *e);

/* Fills e from the connection's last error (SQLITE_FULL → OutOfDiskSpace, SQLITE_BUSY → Busy). */
int store_error(Store *s, int sqlite_rc, SmsError *e, const char *what);

/* Value ↔ column, by the CIM type (the encodings are described in schema/0001-site.sql). */
int store_bind_value(sqlite3_stmt *stmt, int index, const CimValue *v);
int store_read_value(sqlite3_stmt *stmt, int column, CimType type, CimValue *ret);

