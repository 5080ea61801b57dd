/* SPDX-License-Identifier: MIT */

/* The job table and the ContextID status queues. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "smsprov/macro.h"
#include "store/store-internal.h"
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
                    "INSERT INTO job (Operation, Target, ContextID, StartedByUID, State, SubmitTime) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    &st, e);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, j->operation, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, j->target ? j->target : "", -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, j->context_id ? j->context_id : "", -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, j->uid);
        sqlite3_bind_int64(st, 5, j->state);
        sqlite3_bind_int64(st, 6, (sqlite3_int64) j->submit_usec);
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

void store_interrupted_jobs_free(StoreInterruptedJob *j, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(j[i].operation);
                free(j[i].target);
                free(j[i].context_id);
        }
        free(j);
}

int sqlite_store_jobs_fail_interrupted(Store *s, uint64_t now, StoreInterruptedJob **ret, size_t *ret_n, SmsError *e) {
        StoreInterruptedJob *jobs = NULL;
        size_t n = 0;
        sqlite3_stmt *st;
        int rc, r;

        r = prepare(s, "SELECT Id, Operation, Target, ContextID FROM job WHERE State IN (0, 1) ORDER BY Id", &st, e);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                StoreInterruptedJob *p = realloc(jobs, (n + 1) * sizeof(StoreInterruptedJob));
                if (!p) {
                        sqlite3_finalize(st);
                        store_interrupted_jobs_free(jobs, n);
                        return -ENOMEM;
                }
                jobs = p;
                jobs[n++] = (StoreInterruptedJob) {
                        .id = (uint64_t) sqlite3_column_int64(st, 0),
                        .operation = strdup((const char *) sqlite3_column_text(st, 1)),
                        .target = strdup((const char *) sqlite3_column_text(st, 2)),
                        .context_id = strdup((const char *) sqlite3_column_text(st, 3)),
                };
                if (!jobs[n - 1].operation || !jobs[n - 1].target || !jobs[n - 1].context_id) {
                        sqlite3_finalize(st);
                        store_interrupted_jobs_free(jobs, n);
                        return -ENOMEM;
                }
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
                store_interrupted_jobs_free(jobs, n);
                return store_error(s, rc, e, "reading interrupted jobs");
        }

        r = prepare(s,
                    "UPDATE job SET State = 3, EndTime = ?, ErrorName = 'Failed', ErrorMessage = "
                    "'WBEM_E_FAILED: smsprovd stopped while the job ran', ErrorCode = 4 WHERE State IN (0, 1)",
                    &st, e);
        if (r >= 0) {
                sqlite3_bind_int64(st, 1, (sqlite3_int64) now);
                r = step_done(s, st, e, "failing interrupted jobs");
        }
        if (r < 0) {
                store_interrupted_jobs_free(jobs, n);
                return r;
        }
        *ret = jobs;
        *ret_n = n;
        return 0;
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
