/* SPDX-License-Identifier: MIT */
#pragma once

/* The PostgreSQL backend (libpq): a site database that several smsprovd hosts share. Selected by a
 * location of the form postgresql://… (or postgres://…), which is handed to libpq as it is.
 *
 * It keeps SQLite's contract (store.h): one connection for the main thread, write transactions
 * that exclude each other (BEGIN takes a site-wide advisory lock, as BEGIN IMMEDIATE takes
 * SQLite's write lock), readers on connections of their own. The schema is schema/postgresql/,
 * applied under an advisory lock so that two hosts never migrate at once. */

#include <libpq-fe.h>

#include "smsprov/store.h"
#include "store/store-backend.h"
#include "store/store-codec.h"
#include "store/store-sql.h"

struct Store {
        StoreHead head;
        PGconn *conn;
        char *location;
        char *site_code;
        char *site_name;
        unsigned schema_version;
        uint64_t generation;
        bool in_transaction;
        uint64_t query_max_steps; /* 0 = STORE_DEFAULT_QUERY_STEPS */
        char machine_name[256];
        char last_sqlstate[6]; /* of the last statement that failed: pg_error() */
        unsigned char cursor_key[STORE_CURSOR_KEY_SIZE];

        /* store_watch() (pg-watch.c): a connection of its own that LISTENs, non-blocking, read
         * from the main thread's event loop. */
        PGconn *listen_conn;
        sd_event_source *listen_source;
        sd_event *watch_event;
        sd_event_source *listen_again;  /* a timer: LISTEN again after the connection was lost */
        uint64_t listen_again_usec;     /* the wait before the next try, doubling */
        StoreChangeFunc watch_func;
        void *watch_userdata;
};

/* Parameters of one statement, all sent as text but blobs (binary bytea). */
typedef struct PgParams {
        char **values;
        int *lengths;
        int *formats;
        Oid *types;
        size_t n, cap;
        bool oom;
} PgParams;

void pg_params_done(PgParams *p);
void pg_params_add_text(PgParams *p, const char *text); /* NULL: SQL NULL */
void pg_params_add_int(PgParams *p, int64_t i);
void pg_params_add_blob(PgParams *p, const void *data, size_t size);
/* A value as store-codec.h encodes it; false only when it does not encode (not memory). */
bool pg_params_add_value(PgParams *p, const CimValue *v);
/* A key given as text (sms_class_key_format()): a text that is no key of c adds NULLs, which
 * match nothing. -ENOMEM only. */
int pg_params_add_key(PgParams *p, const SmsClass *c, const char *key);

/* Runs sql with p (may be NULL); *ret (may be NULL) gets the result, which must be
 * PGRES_COMMAND_OK or PGRES_TUPLES_OK. Errors name `what`. */
int pg_exec(Store *s, const char *sql, const PgParams *p, PGresult **ret, SmsError *e, const char *what);
/* pg_exec() of the statement built in b, which it frees. */
int pg_exec_sqlbuf(Store *s, SqlBuf *b, const PgParams *p, PGresult **ret, SmsError *e, const char *what);
/* Fills e from a failed result (or the connection's state when res is NULL). */
int pg_error(Store *s, const PGresult *res, SmsError *e, const char *what);
static inline void pg_clearp(PGresult **r) {
        PQclear(*r);
}

int64_t pg_get_int(const PGresult *res, int row, int column);
/* The value at row, column as a value of type (store_value_decode()). */
int pg_read_value(const PGresult *res, int row, int column, CimType type, CimValue *ret);

/* The PostgreSQL backend's entries, each the store.h function of its name. */
int pg_store_object_load(Store *s, const SmsClass *c, const char *key, SmsObject **ret, SmsError *e);
int pg_store_object_class(Store *s, const SmsClass *base, const char *key, const SmsClass **ret, SmsError *e);
int pg_store_object_insert(Store *s, SmsObject *o, SmsError *e);
int pg_store_object_update(Store *s, const SmsObject *o, const size_t *indexes, size_t n, size_t guard_index,
                           const CimValue *guard, SmsError *e);
int pg_store_object_delete(Store *s, const SmsClass *c, const char *key, SmsError *e);
int pg_store_object_delete_all(Store *s, const SmsClass *c, int match_index, const CimValue *match, SmsError *e);
int pg_store_object_enumerate(Store *s, const SmsClass *c, char ***ret_keys, const SmsClass ***ret_classes,
                              size_t *ret_n, SmsError *e);
size_t pg_store_object_count(Store *s, const SmsClass *c);
int pg_store_query(Store *s, const WqlQuery *q, size_t max_rows, WqlRow **ret, size_t *ret_n, SmsError *e);
int pg_store_query_page(Store *s, const WqlQuery *q, const StoreSortValue *after, size_t max_rows, WqlRow **ret,
                        size_t *ret_n, StoreSortValue **ret_next, SmsError *e);
int pg_store_job_insert(Store *s, const StoreJob *j, uint64_t *ret_id, SmsError *e);
int pg_store_job_update(Store *s, const StoreJob *j, SmsError *e);
int pg_store_jobs_renew(Store *s, uint64_t expires_usec, SmsError *e);
int pg_store_job_hold(Store *s, uint64_t job_id, uint64_t expires_usec, SmsError *e);
int pg_store_schedule_claim(Store *s, const char *package_id, uint64_t due_usec, SmsError *e);
int pg_store_jobs_fail(Store *s, bool expired, uint64_t now_usec, StoreInterruptedJob **ret, size_t *ret_n, SmsError *e);
int pg_store_lease_take(Store *s, const char *name, uint64_t job_id, uint64_t now_usec, SmsError *e);
int pg_store_lease_release(Store *s, uint64_t job_id, SmsError *e);
int pg_store_context_status_set(Store *s, const char *context_id, uint32_t status, uint32_t progress,
                                uint32_t max_progress, const char *text, int32_t error_code, const char *extended,
                                SmsError *e);
int pg_store_context_status_get(Store *s, const char *context_id, StoreContextStatus *ret, SmsError *e);
int pg_store_context_status_delete(Store *s, const char *context_id, SmsError *e);
int pg_store_watch(Store *s, sd_event *event, StoreChangeFunc f, void *userdata, SmsError *e);

/* The connection's notices ("relation already exists, skipping") are not the daemon's to print. */
void pg_notice_ignore(void *userdata, const char *message);

/* Connections (pg-connect.c). pg_connect() opens one to location, set up for the daemon; a
 * database that does not answer is -ENOTCONN, e naming it (without a password) and libpq's
 * reason. */
int pg_connect(const char *location, PGconn **ret, SmsError *e);
/* Before a statement outside a transaction: a connection the server closed (it restarted, or the
 * network went away) is made again; -ENOTCONN (e says why) while the database does not answer. */
int pg_connection_check(Store *s, SmsError *e);
/* location without its password (user:secret@, password=), for logs and errors; NULL: no memory. */
char *pg_location_display(const char *location);
/* conn's error message on one line, in buf. */
const char *pg_reason(PGconn *conn, char *buf, size_t size);
