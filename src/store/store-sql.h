/* SPDX-License-Identifier: MIT */
#pragma once

/* SQL text built from the class descriptors, for every backend: statements are built into a
 * SqlBuf, which knows how its backend numbers parameters (SQLite ?N, PostgreSQL $N). No
 * backend's types appear here. */

#include <stdbool.h>
#include <stddef.h>

#include "smsprov/class.h"
#include "smsprov/store.h"

/* Position of a class in sms_model_classes(), for per-class caches. */
size_t store_class_slot(const SmsClass *c);
const char *store_class_table(const SmsClass *c);
const char *store_class_discriminator(const SmsClass *c);

/* A growing string for building SQL from descriptor names. */
typedef struct SqlBuf {
        char *s;
        size_t len, cap;
        bool oom;
        bool dollar_params; /* parameters are $N (PostgreSQL), not ?N */
} SqlBuf;
void sqlbuf_append(SqlBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends "name" with embedded quotes doubled. */
void sqlbuf_append_identifier(SqlBuf *b, const char *name);
/* Appends parameter n (1-based) as the backend writes it. */
void sqlbuf_append_param(SqlBuf *b, unsigned n);

/* "k1" = ?N AND "k2" = ?N+1 …: the key of c, bound from parameter `first` on. */
void store_sql_key_condition(SqlBuf *b, const SmsClass *c, unsigned first);
/* "k1", "k2" …: the key columns, for SELECT lists. */
void store_sql_key_columns(SqlBuf *b, const SmsClass *c);

/* The statements both backends build alike from a class's descriptors (the key bound from
 * parameter 1): every column of one instance; the discriminator (or 0) of one instance of `c`
 * or its subclasses; the delete of one instance; the key columns and discriminator of every
 * instance. */
void store_sql_load(SqlBuf *b, const SmsClass *c);
void store_sql_class_of(SqlBuf *b, const SmsClass *c);
void store_sql_delete(SqlBuf *b, const SmsClass *c);
void store_sql_enumerate(SqlBuf *b, const SmsClass *c);
/* " <conj> disc IN (…)": restricts a table shared by a hierarchy to c and its descendants;
 * nothing for a table of one class. */
void store_sql_discriminator_filter(SqlBuf *b, const SmsClass *c, const char *conj);

/* " AND "column" IS ?N" (SQLite) or "IS NOT DISTINCT FROM $N" (PostgreSQL): the guard of
 * store_object_update_guarded() on property guard_index, bound as parameter n. */
void store_sql_guard_condition(SqlBuf *b, const SmsClass *c, size_t guard_index, unsigned n);
/* The VersionMismatch of a guarded update that found the guard changed. */
int store_guard_mismatch(SmsError *e, const SmsClass *c, size_t guard_index, const char *key);

/* Cursors (store-page.c) signed under a site's cursor key of STORE_CURSOR_KEY_SIZE bytes: the
 * store.h functions of these names, for any backend. */
#define STORE_CURSOR_KEY_SIZE 32
int store_cursor_encode_key(const unsigned char *key, const char *query, const StoreSortValue *v, size_t n,
                            char **ret);
int store_cursor_decode_key(const unsigned char *key, const char *query, const char *cursor, size_t n_expected,
                            StoreSortValue **ret, SmsError *e);

/* The SMS_StatusMessage row of m, from this site and machine (store-status.c), for a backend's
 * status_message_add to insert. */
int store_status_message_object(const StoreStatusMessage *m, const char *site_code, const char *machine_name,
                                SmsObject **ret);

/* Before an insert, o's key as its class's key_kind says: a new PackageID (*ret_key, to free)
 * from the site's next number, which next_number takes from the backend's site row; a caller's
 * key checked present; nothing for a row id, which the insert makes. */
typedef int (*StoreNextNumber)(Store *s, int64_t *ret, SmsError *e);
int store_object_insert_key(Store *s, SmsObject *o, const char *site_code, StoreNextNumber next_number, char **ret_key,
                            SmsError *e);

/* What every backend's open checks first: the class tables, and a site code given. */
int store_open_check(const char *site_code, SmsError *e);

/* Jobs' hosts and leases (store-lease.c): the statements both backends run, whose parameters
 * each names; the failed jobs' order; the Busy of a lease another job holds. */
typedef enum StoreJobsFail {
        STORE_JOBS_FAIL_OWN,     /* store_jobs_fail_interrupted() */
        STORE_JOBS_FAIL_EXPIRED, /* store_jobs_fail_expired() */
        _STORE_JOBS_FAIL_MAX,
} StoreJobsFail;
extern const char *const store_sql_jobs_fail[_STORE_JOBS_FAIL_MAX];
extern const char store_sql_jobs_renew[];
extern const char store_sql_job_hold[];
extern const char store_sql_schedule_claim[];
extern const char store_sql_lease_take[];
extern const char store_sql_lease_holder[];
extern const char store_sql_lease_release[];
void store_interrupted_jobs_sort(StoreInterruptedJob *jobs, size_t n);
int store_lease_busy(SmsError *e, const char *name, uint64_t job_id, const char *operation, const char *host);
