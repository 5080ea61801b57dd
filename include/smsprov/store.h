/* SPDX-License-Identifier: MIT */
#pragma once

/* The site database. One connection, owned by the main thread: WAL, foreign keys, a busy
 * timeout, BEGIN IMMEDIATE for writes, one transaction per D-Bus write. Rows are read and written
 * generically from the class descriptors: the column of each property is in its descriptor.
 *
 * This is the only place that knows SQLite. The interface deals in classes, keys and CimValues so
 * that another database (a shared PostgreSQL for several hosts) can stand behind it later. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "smsprov/class.h"
#include "smsprov/error.h"
#include "smsprov/wql.h"

typedef struct Store Store;

/* Opens (creating if needed) the database at `path`, applies every pending migration in order
 * and checks the site code: a new database takes `site_code` (required then); an existing one
 * must match it when it is not NULL. A database newer than this daemon knows is refused. */
int store_open(const char *path, const char *site_code, Store **ret, SmsError *e);
/* The same for the host named `host` (NULL: gethostname()): the name it goes by in the site
 * database, as SMS_ProviderLocation's Machine, the host of its jobs and the MachineName of its
 * status messages. Two providers of one site on one machine need two names. */
int store_open_host(const char *path, const char *site_code, const char *host, Store **ret, SmsError *e);
/* The host this store writes as. */
const char *store_host(const Store *s);
Store *store_close(Store *s);
/* A read-only connection to the same database, for queries in a worker thread (WAL lets it read
 * while the main thread writes): store_new_reader() on the main thread copies what it needs of
 * the writer (path, query budget, cursor key) without any I/O; store_reader_open() in the worker
 * opens it. It answers store_query(), store_query_page() and the cursor functions, used by one
 * thread at a time. Close it with store_close(). */
int store_new_reader(const Store *writer, Store **ret);
int store_reader_open(Store *reader, SmsError *e);
static inline void store_closep(Store **s) {
        store_close(*s);
}

const char *store_site_code(const Store *s);
const char *store_site_name(const Store *s);
/* The schema version recorded in PRAGMA user_version, and the newest one this build knows. */
unsigned store_schema_version(const Store *s);
unsigned store_schema_version_known(void);
/* Moves on with every committed write transaction; caches compare it to know they are stale. */
uint64_t store_generation(const Store *s);

/* Write transactions. store_begin() takes the write lock at once (BEGIN IMMEDIATE). They nest
 * flat: only the outermost begin and commit reach the database, and a rollback inside makes the
 * outermost commit roll back and fail (Failed). */
int store_begin(Store *s, SmsError *e);
int store_commit(Store *s, SmsError *e);
void store_rollback(Store *s);
/* Ends the transaction as R says: commits when R >= 0 (returning the commit's result), else
 * rolls back and returns R. */
int store_end(Store *s, int r, SmsError *e);
bool store_in_transaction(const Store *s);

/* Loads the instance of concrete class `c` with the given key; -ENOENT (and NotFound) when there
 * is none. Every property is read, lazy ones included. */
int store_object_load(Store *s, const SmsClass *c, const char *key, SmsObject **ret, SmsError *e);
/* The concrete class of the row with this key among `base` and its descendants: -ENOENT (and
 * NotFound) when there is none, Failed when the database cannot say (a caller must not take
 * that for "gone"). */
int store_object_class(Store *s, const SmsClass *base, const char *key, const SmsClass **ret, SmsError *e);

/* Inserts a new instance; allocates its key according to the class's key_kind and stores it in
 * o->key and in the key property. Must run inside a transaction. */
int store_object_insert(Store *s, SmsObject *o, SmsError *e);
/* Writes the listed properties of an existing row. Must run inside a transaction. */
int store_object_update(Store *s, const SmsObject *o, const size_t *indexes, size_t n, SmsError *e);
/* The same, written only while property `guard_index` still holds `guard` in the database: the
 * comparison is part of the UPDATE, so that of two writers (two hosts of a shared database) that
 * read the same value only one wins. The other gets VersionMismatch and nothing is written.
 * For SedoObjectVersion, WMI's optimistic concurrency. */
int store_object_update_guarded(Store *s, const SmsObject *o, const size_t *indexes, size_t n, size_t guard_index,
                                const CimValue *guard, SmsError *e);
int store_object_delete(Store *s, const SmsClass *c, const char *key, SmsError *e);
/* Deletes every row of c (and its descendants), or with `match_index` set (≥ 0) the rows whose
 * property match_index equals `match`. Must run inside a transaction. */
int store_object_delete_all(Store *s, const SmsClass *c, int match_index, const CimValue *match, SmsError *e);

/* Every key of `c` (and of its descendants when abstract), with the concrete class of each. */
int store_object_enumerate(Store *s, const SmsClass *c, char ***ret_keys, const SmsClass ***ret_classes,
                           size_t *ret_n, SmsError *e);
size_t store_object_count(Store *s, const SmsClass *c);

/* Runs a checked WQL query: rows as wql.h has them. More than max_rows rows → LimitsExceeded. */
int store_query(Store *s, const WqlQuery *q, size_t max_rows, WqlRow **ret, size_t *ret_n, SmsError *e);

/* A sort value of a paged query's row, as SQLite holds it (see store-page.c). */
typedef enum StoreSortType {
        STORE_SORT_NULL = 'N',
        STORE_SORT_INTEGER = 'I',
        STORE_SORT_REAL = 'R',
        STORE_SORT_TEXT = 'T',
        STORE_SORT_BLOB = 'B',
} StoreSortType;

typedef struct StoreSortValue {
        StoreSortType type;
        int64_t i;
        double d;
        void *data; /* TEXT and BLOB, with a NUL after the size bytes */
        size_t size;
} StoreSortValue;

void store_sort_values_free(StoreSortValue *v, size_t n);

/* One page of a checked query (wql_compile_sql_page()): at most max_rows rows after the row
 * whose wql_page_n_values(q) sort values `after` holds (NULL: from the start). *ret_next gets the
 * sort values of the page's last row when more rows follow, NULL after the last page. */
int store_query_page(Store *s, const WqlQuery *q, const StoreSortValue *after, size_t max_rows, WqlRow **ret,
                     size_t *ret_n, StoreSortValue **ret_next, SmsError *e);

/* Cursors: the sort values, signed together with the query text under the site's own key.
 * Decoding a cursor not made by this site for exactly this query text, or not carrying
 * n_expected values, is InvalidParameter. */
#define STORE_CURSOR_MAX_LENGTH (1024u * 1024u)
int store_cursor_encode(const Store *s, const char *query, const StoreSortValue *v, size_t n, char **ret);
int store_cursor_decode(const Store *s, const char *query, const char *cursor, size_t n_expected,
                        StoreSortValue **ret, SmsError *e);

/* Every query may take at most this many steps (LIKE matcher steps, and 16 for each SQLite VM
 * instruction); one that would take more ends with LimitsExceeded. 0 restores the default, which
 * is about a second of either kind of work on the build machine. */
#define STORE_DEFAULT_QUERY_STEPS UINT64_C(300000000)
void store_set_query_budget(Store *s, uint64_t max_steps);

/* An audit or status message (SMS_StatusMessage). The store adds the site code, machine, process,
 * thread and time. Must run inside a transaction so that it commits with the change it records. */
typedef struct StoreStatusMessage {
        uint32_t message_id;
        uint32_t message_type; /* 768 audit, 256 milestone */
        uint32_t severity;     /* 0x40000000 informational … */
        uint32_t uid;
        uint32_t win32_error;
        const char *component;
        const char *description;
        const char *ins_strings[5]; /* NULL-terminated */
} StoreStatusMessage;

int store_status_message_add(Store *s, const StoreStatusMessage *m, int64_t *ret_record_id, SmsError *e);

/* PRAGMA integrity_check: 0 when "ok", -EIO otherwise (with the first problem in e). */
int store_integrity_check(Store *s, SmsError *e);

/* --- jobs and status queues ------------------------------------------------------------------- */

typedef struct StoreJob {
        uint64_t id;
        const char *operation;
        const char *target;
        const char *context_id;
        uint32_t uid;
        uint32_t state;
        uint64_t submit_usec, start_usec, end_usec;
        const char *error_name;
        const char *error_message;
        int32_t error_code;
        uint64_t lease_expires_usec; /* store_job_insert(): until when this host's lease holds */
} StoreJob;

/* Records a new job (state and times from j), run by this host (store_host()) under a lease
 * until j->lease_expires_usec, and returns its Id. */
int store_job_insert(Store *s, const StoreJob *j, uint64_t *ret_id, SmsError *e);
/* Writes state, times and error of an existing job. */
int store_job_update(Store *s, const StoreJob *j, SmsError *e);
/* Moves the lease of every job this host has queued or running on to expires_usec: one
 * statement, however many jobs. */
int store_jobs_renew(Store *s, uint64_t expires_usec, SmsError *e);
/* Is job `job_id` still this host's and running? Then its lease moves on to expires_usec and 1 is
 * returned, its row locked for the rest of the transaction; 0 when another host failed it after
 * its lease ran out (or it ended). In the transaction that commits the job's outcome. */
int store_job_hold(Store *s, uint64_t job_id, uint64_t expires_usec, SmsError *e);
/* Claims the occurrence due_usec of a package's RefreshSchedule for this host: 1 when claimed, 0
 * when a host (of a site database several share) claimed it, or a later one, before. */
int store_schedule_claim(Store *s, const char *package_id, uint64_t due_usec, SmsError *e);

/* Jobs failed because their host stopped: their ids, operations, targets, context IDs and hosts,
 * so that the caller can clean up after them, in the order of their ids. */
typedef struct StoreInterruptedJob {
        uint64_t id;
        char *operation;
        char *target;
        char *context_id;
        char *host;
} StoreInterruptedJob;
/* Marks every job of this host (and every job of no host, from before jobs had one) that was
 * queued or running as failed: the daemon stopped under it. */
int store_jobs_fail_interrupted(Store *s, uint64_t now_usec, StoreInterruptedJob **ret, size_t *ret_n,
                                SmsError *e);
/* Marks every job of another host that is queued or running and whose lease ran out before
 * now_usec as failed, with an ErrorMessage naming the host: that host stopped. */
int store_jobs_fail_expired(Store *s, uint64_t now_usec, StoreInterruptedJob **ret, size_t *ret_n, SmsError *e);
void store_interrupted_jobs_free(StoreInterruptedJob *j, size_t n);

/* Site-wide rules (one build of a package, one ExportDefaultBootImage): job `job_id` takes the
 * lease row `name`, in the transaction that records the job. It is free when no row holds it,
 * when the job that holds it has ended, or when that job's lease ran out before now_usec (its
 * host died): then it is taken over. Otherwise Busy (-EBUSY), naming the job and its host. */
int store_lease_take(Store *s, const char *name, uint64_t job_id, uint64_t now_usec, SmsError *e);
/* Gives up the lease rows job `job_id` holds (it ended). */
int store_lease_release(Store *s, uint64_t job_id, SmsError *e);

typedef struct StoreContextStatus {
        uint32_t status; /* 0 complete, 1 in progress, 2 error, 3 no status */
        uint32_t progress, max_progress;
        char *progress_text;
        int32_t error_code;
        char *extended_error_info;
} StoreContextStatus;

int store_context_status_set(Store *s, const char *context_id, uint32_t status, uint32_t progress,
                             uint32_t max_progress, const char *text, int32_t error_code, const char *extended,
                             SmsError *e);
/* An unknown ContextID is status 3 (no status), not an error. */
int store_context_status_get(Store *s, const char *context_id, StoreContextStatus *ret, SmsError *e);
int store_context_status_delete(Store *s, const char *context_id, SmsError *e);
void store_context_status_done(StoreContextStatus *st);

/* --- changes other hosts make --------------------------------------------------------------- */

/* A site database several hosts share (PostgreSQL) tells each host of the rows the others add,
 * change and remove, once they are committed; a host is never told of its own. */
typedef enum StoreChangeKind {
        STORE_CHANGE_ADDED,
        STORE_CHANGE_CHANGED,
        STORE_CHANGE_REMOVED,
        STORE_CHANGE_UNKNOWN, /* a change the store cannot place (`reason` says why) */
        STORE_CHANGE_LOST,    /* the watch ended: no more changes will come (`reason` says why) */
        /* The watch is interrupted (the database was lost, `reason` says how) and the store
         * tries again by itself, once per INTERRUPTED, until it is RESUMED: changes committed
         * meanwhile are told to no one, and what was read before may be stale. */
        STORE_CHANGE_INTERRUPTED,
        STORE_CHANGE_RESUMED,
} StoreChangeKind;

typedef struct StoreChange {
        StoreChangeKind kind;
        const SmsClass *class; /* the concrete class (ADDED, CHANGED, REMOVED) */
        const char *key;
        const size_t *changed; /* CHANGED: indexes into class->all of the properties written */
        size_t n_changed;
        const char *reason; /* UNKNOWN, LOST */
} StoreChange;

typedef void (*StoreChangeFunc)(void *userdata, const StoreChange *change);

/* Watches the changes other hosts make, from `event` (the main thread's loop): f is called once
 * for each row of an object class, and the store's generation moves on with each, so that caches
 * of what was read go stale. A database no other host shares (SQLite) has nothing to tell: 0,
 * and f is never called. store_unwatch() (and store_close()) ends it. */
int store_watch(Store *s, sd_event *event, StoreChangeFunc f, void *userdata, SmsError *e);
void store_unwatch(Store *s);
