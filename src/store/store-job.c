/* SPDX-License-Identifier: MIT */

/* The job table and the ContextID status queues. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smsprov/macro.h"
#include "store/store-internal.h"
#include "store/store-sql.h"
#include "util/time-util.h"

static int prepare(Store *s, const char *sql, sqlite3_stmt **ret, SmsError *e) {
        int rc = sqlite3_prepare_v2(s->db, sql, -1, ret, NULL);
        return rc == SQLITE_OK ? 0 : store_error(s, rc, e, "preparing a statement");
}

static int step_done(Store *s, sqlite3_stmt *st, SmsError *e, const char *what) {
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : store_error(s, rc, e, what);
}

int sqlite_store_job_insert(Store *s, const StoreJob *j, uint64_t *ret_id, SmsError *e) {
        sqlite3_stmt *st;
        int r;

        r = prepare(s,
                    "INSERT INTO job (Operation, Target, ContextID, StartedByUID, State, SubmitTime, Host, "
                    "LeaseExpires) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    &st, e);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, j->operation, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, j->target ? j->target : "", -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, j->context_id ? j->context_id : "", -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, j->uid);
        sqlite3_bind_int64(st, 5, j->state);
        sqlite3_bind_int64(st, 6, (sqlite3_int64) j->submit_usec);
        sqlite3_bind_text(st, 7, s->machine_name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 8, (sqlite3_int64) j->lease_expires_usec);
        r = step_done(s, st, e, "recording a job");
        if (r < 0)
                return r;
        *ret_id = (uint64_t) sqlite3_last_insert_rowid(s->db);
        return 0;
}

int sqlite_store_job_update(Store *s, const StoreJob *j, SmsError *e) {
        sqlite3_stmt *st;
        int r;

        r = prepare(s,
                    "UPDATE job SET State = ?, StartTime = ?, EndTime = ?, ErrorName = ?, ErrorMessage = ?, "
                    "ErrorCode = ? WHERE Id = ?",
                    &st, e);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, j->state);
        sqlite3_bind_int64(st, 2, (sqlite3_int64) j->start_usec);
        sqlite3_bind_int64(st, 3, (sqlite3_int64) j->end_usec);
        sqlite3_bind_text(st, 4, j->error_name ? j->error_name : "", -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, j->error_message ? j->error_message : "", -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 6, j->error_code);
        sqlite3_bind_int64(st, 7, (sqlite3_int64) j->id);
        return step_done(s, st, e, "recording a job's outcome");
}

/* The statements of store-lease.c name their parameters $1, $2 …: SQLite numbers them in the
 * order they first appear, which need not be theirs. */
static int bind_int(sqlite3_stmt *st, unsigned n, int64_t v) {
        char name[16];
        snprintf(name, sizeof name, "$%u", n);
        return sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, name), (sqlite3_int64) v);
}

static int bind_text(sqlite3_stmt *st, unsigned n, const char *v) {
        char name[16];
        snprintf(name, sizeof name, "$%u", n);
        return sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, name), v, -1, SQLITE_TRANSIENT);
}

static char *column_strdup(sqlite3_stmt *st, int column) {
        const char *t = (const char *) sqlite3_column_text(st, column);
        return strdup(t ? t : "");
}

/* A statement of store-lease.c that returns nothing, with $1 (an integer) and $2 (a text, or
 * none when NULL). */
static int run(Store *s, const char *sql, int64_t first, const char *second, const char *what, SmsError *e) {
        sqlite3_stmt *st;
        int r;

        r = prepare(s, sql, &st, e);
        if (r < 0)
                return r;
        bind_int(st, 1, first);
        if (second)
                bind_text(st, 2, second);
        return step_done(s, st, e, what);
}

int sqlite_store_jobs_renew(Store *s, uint64_t expires_usec, SmsError *e) {
        return run(s, store_sql_jobs_renew, (int64_t) expires_usec, s->machine_name,
                   "renewing the lease of this host's jobs", e);
}

/* Runs a statement of store-lease.c that may return rows: 1 when it returned one, else 0. */
static int step_any_row(Store *s, sqlite3_stmt *st, SmsError *e, const char *what) {
        int rc, row = 0;

        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
                row = 1;
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? row : store_error(s, rc, e, what);
}

int sqlite_store_job_hold(Store *s, uint64_t job_id, uint64_t expires_usec, SmsError *e) {
        sqlite3_stmt *st;
        int r;

        r = prepare(s, store_sql_job_hold, &st, e);
        if (r < 0)
                return r;
        bind_int(st, 1, (int64_t) expires_usec);
        bind_text(st, 2, s->machine_name);
        bind_int(st, 3, (int64_t) job_id);
        return step_any_row(s, st, e, "holding a job");
}

int sqlite_store_schedule_claim(Store *s, const char *package_id, uint64_t due_usec, SmsError *e) {
        sqlite3_stmt *st;
        int r;

        r = prepare(s, store_sql_schedule_claim, &st, e);
        if (r < 0)
                return r;
        bind_text(st, 1, package_id);
        bind_int(st, 2, (int64_t) due_usec);
        return step_any_row(s, st, e, "claiming a scheduled refresh");
}

int sqlite_store_jobs_fail(Store *s, bool expired, uint64_t now, StoreInterruptedJob **ret, size_t *ret_n,
                           SmsError *e) {
        StoreInterruptedJob *jobs = NULL;
        size_t n = 0;
        sqlite3_stmt *st;
        int rc, r;

        r = prepare(s, store_sql_jobs_fail[expired ? STORE_JOBS_FAIL_EXPIRED : STORE_JOBS_FAIL_OWN], &st, e);
        if (r < 0)
                return r;
        bind_int(st, 1, (int64_t) now);
        bind_text(st, 2, s->machine_name);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                StoreInterruptedJob *p = realloc(jobs, (n + 1) * sizeof(StoreInterruptedJob));
                if (!p) {
                        rc = SQLITE_NOMEM;
                        break;
                }
                jobs = p;
                jobs[n++] = (StoreInterruptedJob) {
                        .id = (uint64_t) sqlite3_column_int64(st, 0),
                        .operation = column_strdup(st, 1),
                        .target = column_strdup(st, 2),
                        .context_id = column_strdup(st, 3),
                        .host = column_strdup(st, 4),
                };
                if (!jobs[n - 1].operation || !jobs[n - 1].target || !jobs[n - 1].context_id || !jobs[n - 1].host) {
                        rc = SQLITE_NOMEM;
                        break;
                }
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
                store_interrupted_jobs_free(jobs, n);
                return rc == SQLITE_NOMEM ? -ENOMEM : store_error(s, rc, e, "failing interrupted jobs");
        }
        store_interrupted_jobs_sort(jobs, n);
        *ret = jobs;
        *ret_n = n;
        return 0;
}

int sqlite_store_lease_take(Store *s, const char *name, uint64_t job_id, uint64_t now, SmsError *e) {
        sqlite3_stmt *st;
        int rc, r;

        r = prepare(s, store_sql_lease_take, &st, e);
        if (r < 0)
                return r;
        bind_text(st, 1, name);
        bind_int(st, 2, (int64_t) job_id);
        bind_int(st, 3, (int64_t) now);
        rc = sqlite3_step(st);
        r = rc == SQLITE_ROW; /* RETURNING: the lease is the job's */
        if (r)
                rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return store_error(s, rc, e, "taking a site lease");
        if (r)
                return 0;

        r = prepare(s, store_sql_lease_holder, &st, e);
        if (r < 0)
                return r;
        bind_text(st, 1, name);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                r = store_lease_busy(e, name, (uint64_t) sqlite3_column_int64(st, 0),
                                     (const char *) sqlite3_column_text(st, 1),
                                     (const char *) sqlite3_column_text(st, 2));
        else
                r = rc == SQLITE_DONE ? store_lease_busy(e, name, 0, "?", "?")
                                      : store_error(s, rc, e, "reading who holds a site lease");
        sqlite3_finalize(st);
        return r;
}

int sqlite_store_lease_release(Store *s, uint64_t job_id, SmsError *e) {
        return run(s, store_sql_lease_release, (int64_t) job_id, NULL, "releasing a site lease", e);
}

int sqlite_store_context_status_set(Store *s, const char *context_id, uint32_t status, uint32_t progress,
                             uint32_t max_progress, const char *text, int32_t error_code, const char *extended,
                             SmsError *e) {
        sqlite3_stmt *st;
        int r;

        r = prepare(s,
                    "INSERT OR REPLACE INTO injection_status (ContextID, Status, Progress, MaxProgress, "
                    "ProgressText, ErrorCode, ExtendedErrorInfo, Updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    &st, e);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, context_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, status);
        sqlite3_bind_int64(st, 3, progress);
        sqlite3_bind_int64(st, 4, max_progress);
        sqlite3_bind_text(st, 5, text ? text : "", -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 6, error_code);
        sqlite3_bind_text(st, 7, extended ? extended : "", -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 8, (sqlite3_int64) now_usec());
        return step_done(s, st, e, "recording a ContextID status");
}

int sqlite_store_context_status_get(Store *s, const char *context_id, StoreContextStatus *ret, SmsError *e) {
        sqlite3_stmt *st;
        int rc, r;

        *ret = (StoreContextStatus) { .status = 3 };
        r = prepare(s,
                    "SELECT Status, Progress, MaxProgress, ProgressText, ErrorCode, ExtendedErrorInfo "
                    "FROM injection_status WHERE ContextID = ?",
                    &st, e);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, context_id, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                ret->status = (uint32_t) sqlite3_column_int64(st, 0);
                ret->progress = (uint32_t) sqlite3_column_int64(st, 1);
                ret->max_progress = (uint32_t) sqlite3_column_int64(st, 2);
                ret->progress_text = utf8_sanitize((const char *) sqlite3_column_text(st, 3));
                ret->error_code = (int32_t) sqlite3_column_int64(st, 4);
                ret->extended_error_info = utf8_sanitize((const char *) sqlite3_column_text(st, 5));
        } else if (rc != SQLITE_DONE) {
                r = store_error(s, rc, e, "reading a ContextID status");
                sqlite3_finalize(st);
                return r;
        }
        sqlite3_finalize(st);
        if (!ret->progress_text)
                ret->progress_text = strdup("");
        if (!ret->extended_error_info)
                ret->extended_error_info = strdup("");
        return ret->progress_text && ret->extended_error_info ? 0 : -ENOMEM;
}

int sqlite_store_context_status_delete(Store *s, const char *context_id, SmsError *e) {
        sqlite3_stmt *st;
        int r;

        r = prepare(s, "DELETE FROM injection_status WHERE ContextID = ?", &st, e);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, context_id, -1, SQLITE_TRANSIENT);
        return step_done(s, st, e, "deleting a ContextID status");
}

void store_context_status_done(StoreContextStatus *st) {
        free(st->progress_text);
        free(st->extended_error_info);
        *st = (StoreContextStatus) {};
}
