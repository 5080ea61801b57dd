/* SPDX-License-Identifier: MIT */
#pragma once

/* The site database behind a table of operations: store.h's functions look the table up in the
 * Store they are given and call its entry, so that the engine above never knows which database
 * stands behind it. SQLite (store.c and its neighbours) is the one backend today; another (a
 * shared PostgreSQL for several providers on one site) fills in the same table and begins its
 * own Store with a StoreHead. Each entry has the contract of the store.h function of its name. */

#include "smsprov/store.h"

typedef struct StoreBackend {
        const char *name;
        /* Does this backend open `location` (a path, or a URL of its scheme)? */
        bool (*handles)(const char *location);
        /* store_open_host(), with host never NULL */
        int (*open)(const char *path, const char *site_code, const char *host, Store **ret, SmsError *e);
        Store *(*close)(Store *s);
        int (*new_reader)(const Store *writer, Store **ret);
        int (*reader_open)(Store *reader, SmsError *e);
        const char *(*site_code)(const Store *s);
        const char *(*site_name)(const Store *s);
        const char *(*host)(const Store *s);
        unsigned (*schema_version)(const Store *s);
        uint64_t (*generation)(const Store *s);
        int (*begin)(Store *s, SmsError *e);
        int (*commit)(Store *s, SmsError *e);
        void (*rollback)(Store *s);
        int (*object_load)(Store *s, const SmsClass *c, const char *key, SmsObject **ret, SmsError *e);
        int (*object_class)(Store *s, const SmsClass *base, const char *key, const SmsClass **ret, SmsError *e);
        int (*object_insert)(Store *s, SmsObject *o, SmsError *e);
        /* store_object_update(), or store_object_update_guarded() with guard not NULL */
        int (*object_update)(Store *s, const SmsObject *o, const size_t *indexes, size_t n, size_t guard_index,
                             const CimValue *guard, SmsError *e);
        int (*object_delete)(Store *s, const SmsClass *c, const char *key, SmsError *e);
        int (*object_delete_all)(Store *s, const SmsClass *c, int match_index, const CimValue *match, SmsError *e);
        int (*object_enumerate)(Store *s, const SmsClass *c, char ***ret_keys, const SmsClass ***ret_classes, size_t *ret_n, SmsError *e);
        size_t (*object_count)(Store *s, const SmsClass *c);
        int (*query)(Store *s, const WqlQuery *q, size_t max_rows, WqlRow **ret, size_t *ret_n, SmsError *e);
        int (*query_page)(Store *s, const WqlQuery *q, const StoreSortValue *after, size_t max_rows, WqlRow **ret, size_t *ret_n, StoreSortValue **ret_next, SmsError *e);
        int (*cursor_encode)(const Store *s, const char *query, const StoreSortValue *v, size_t n, char **ret);
        int (*cursor_decode)(const Store *s, const char *query, const char *cursor, size_t n_expected, StoreSortValue **ret, SmsError *e);
        void (*set_query_budget)(Store *s, uint64_t max_steps);
        int (*status_message_add)(Store *s, const StoreStatusMessage *m, int64_t *ret_record_id, SmsError *e);
        int (*integrity_check)(Store *s, SmsError *e);
        int (*job_insert)(Store *s, const StoreJob *j, uint64_t *ret_id, SmsError *e);
        int (*job_update)(Store *s, const StoreJob *j, SmsError *e);
        int (*jobs_renew)(Store *s, uint64_t expires_usec, SmsError *e);
        int (*job_hold)(Store *s, uint64_t job_id, uint64_t expires_usec, SmsError *e);
        int (*schedule_claim)(Store *s, const char *package_id, uint64_t due_usec, SmsError *e);
        /* store_jobs_fail_interrupted() (own) or store_jobs_fail_expired() (expired) */
        int (*jobs_fail)(Store *s, bool expired, uint64_t now_usec, StoreInterruptedJob **ret, size_t *ret_n, SmsError *e);
        int (*lease_take)(Store *s, const char *name, uint64_t job_id, uint64_t now_usec, SmsError *e);
        int (*lease_release)(Store *s, uint64_t job_id, SmsError *e);
        int (*context_status_set)(Store *s, const char *context_id, uint32_t status, uint32_t progress, uint32_t max_progress, const char *text, int32_t error_code, const char *extended, SmsError *e);
        int (*context_status_get)(Store *s, const char *context_id, StoreContextStatus *ret, SmsError *e);
        int (*context_status_delete)(Store *s, const char *context_id, SmsError *e);
        /* store_watch(), and with f NULL store_unwatch() */
        int (*watch)(Store *s, sd_event *event, StoreChangeFunc f, void *userdata, SmsError *e);
} StoreBackend;

/* How long a write waits for another connection's write lock before it is Busy. */
#define STORE_BUSY_TIMEOUT_MSEC 5000u

/* The first member of every backend's Store. The nesting of transactions is kept here, above
 * the backends: a backend's begin, commit and rollback see only the outermost ones. */
typedef struct StoreHead {
        const StoreBackend *backend;
        unsigned depth; /* store_begin() calls not yet ended */
        bool doomed;    /* an inner transaction rolled back: the outermost one will too */
} StoreHead;

#define STORE_BACKEND(s) (((const StoreHead *) (s))->backend)

/* The backends of this build. */
extern const StoreBackend store_sqlite_backend;
extern const StoreBackend store_postgresql_backend; /* pg-internal.h */
