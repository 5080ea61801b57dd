/* SPDX-License-Identifier: MIT */

/* The job table and the ContextID status queues in a PostgreSQL site database (store-job.c is
 * SQLite's). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "smsprov/macro.h"
#include "store/pg-internal.h"
#include "util/time-util.h"

int pg_store_job_insert(Store *s, const StoreJob *j, uint64_t *ret_id, SmsError *e) {
        _cleanup_(pg_params_done) PgParams p = {};
        _cleanup_(pg_clearp) PGresult *res = NULL;
        int r;

        pg_params_add_text(&p, j->operation);
        pg_params_add_text(&p, j->target ? j->target : "");
        pg_params_add_text(&p, j->context_id ? j->context_id : "");
        pg_params_add_int(&p, j->uid);
        pg_params_add_int(&p, j->state);
        pg_params_add_int(&p, (int64_t) j->submit_usec);
        pg_params_add_text(&p, s->machine_name);
        pg_params_add_int(&p, (int64_t) j->lease_expires_usec);
        r = pg_exec(s,
                    "INSERT INTO job (\"Operation\", \"Target\", \"ContextID\", \"StartedByUID\", \"State\", "
                    "\"SubmitTime\", \"Host\", \"LeaseExpires\") VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                    "RETURNING \"Id\"",
                    &p, &res, e, "recording a job");
        if (r < 0)
                return r;
        *ret_id = (uint64_t) pg_get_int(res, 0, 0);
        return 0;
}

int pg_store_job_update(Store *s, const StoreJob *j, SmsError *e) {
        _cleanup_(pg_params_done) PgParams p = {};

        pg_params_add_int(&p, j->state);
        pg_params_add_int(&p, (int64_t) j->start_usec);
        pg_params_add_int(&p, (int64_t) j->end_usec);
        pg_params_add_text(&p, j->error_name ? j->error_name : "");
        pg_params_add_text(&p, j->error_message ? j->error_message : "");
        pg_params_add_int(&p, j->error_code);
        pg_params_add_int(&p, (int64_t) j->id);
        return pg_exec(s,
                       "UPDATE job SET \"State\" = $1, \"StartTime\" = $2, \"EndTime\" = $3, \"ErrorName\" = $4, "
                       "\"ErrorMessage\" = $5, \"ErrorCode\" = $6 WHERE \"Id\" = $7",
                       &p, NULL, e, "recording a job's outcome");
}

int pg_store_jobs_renew(Store *s, uint64_t expires_usec, SmsError *e) {
        _cleanup_(pg_params_done) PgParams p = {};

        pg_params_add_int(&p, (int64_t) expires_usec);
        pg_params_add_text(&p, s->machine_name);
        return pg_exec(s, store_sql_jobs_renew, &p, NULL, e, "renewing the lease of this host's jobs");
}

/* Runs a statement of store-lease.c that may return rows: 1 when it returned one, else 0. */
static int exec_any_row(Store *s, const char *sql, const PgParams *p, SmsError *e, const char *what) {
        _cleanup_(pg_clearp) PGresult *res = NULL;
        int r = pg_exec(s, sql, p, &res, e, what);

        return r < 0 ? r : PQntuples(res) > 0;
}

int pg_store_job_hold(Store *s, uint64_t job_id, uint64_t expires_usec, SmsError *e) {
        _cleanup_(pg_params_done) PgParams p = {};

        pg_params_add_int(&p, (int64_t) expires_usec);
        pg_params_add_text(&p, s->machine_name);
        pg_params_add_int(&p, (int64_t) job_id);
        return exec_any_row(s, store_sql_job_hold, &p, e, "holding a job");
}

int pg_store_schedule_claim(Store *s, const char *package_id, uint64_t due_usec, SmsError *e) {
        _cleanup_(pg_params_done) PgParams p = {};

        pg_params_add_text(&p, package_id);
        pg_params_add_int(&p, (int64_t) due_usec);
        return exec_any_row(s, store_sql_schedule_claim, &p, e, "claiming a scheduled refresh");
}

/* One statement: the jobs it fails are the ones it returns. */
int pg_store_jobs_fail(Store *s, bool expired, uint64_t now, StoreInterruptedJob **ret, size_t *ret_n,
                       SmsError *e) {
        _cleanup_(pg_params_done) PgParams p = {};
        _cleanup_(pg_clearp) PGresult *res = NULL;
        StoreInterruptedJob *jobs;
        size_t n;
        int r;

        pg_params_add_int(&p, (int64_t) now);
        pg_params_add_text(&p, s->machine_name);
        r = pg_exec(s, store_sql_jobs_fail[expired ? STORE_JOBS_FAIL_EXPIRED : STORE_JOBS_FAIL_OWN], &p, &res, e,
                    "failing interrupted jobs");
        if (r < 0)
                return r;
        n = (size_t) PQntuples(res);
        jobs = calloc(n ? n : 1, sizeof(StoreInterruptedJob));
        if (!jobs)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                jobs[i] = (StoreInterruptedJob) {
                        .id = (uint64_t) pg_get_int(res, (int) i, 0),
                        .operation = strdup(PQgetvalue(res, (int) i, 1)),
                        .target = strdup(PQgetvalue(res, (int) i, 2)),
                        .context_id = strdup(PQgetvalue(res, (int) i, 3)),
                        .host = strdup(PQgetvalue(res, (int) i, 4)),
                };
                if (!jobs[i].operation || !jobs[i].target || !jobs[i].context_id || !jobs[i].host) {
                        store_interrupted_jobs_free(jobs, i + 1);
                        return -ENOMEM;
                }
        }
        store_interrupted_jobs_sort(jobs, n);
        *ret = jobs;
        *ret_n = n;
        return 0;
}

int pg_store_lease_take(Store *s, const char *name, uint64_t job_id, uint64_t now, SmsError *e) {
        _cleanup_(pg_params_done) PgParams p = {}, q = {};
        _cleanup_(pg_clearp) PGresult *res = NULL, *holder = NULL;
        int r;

        pg_params_add_text(&p, name);
        pg_params_add_int(&p, (int64_t) job_id);
        pg_params_add_int(&p, (int64_t) now);
        r = pg_exec(s, store_sql_lease_take, &p, &res, e, "taking a site lease");
        if (r < 0 || PQntuples(res) > 0)
                return r;
        pg_params_add_text(&q, name);
        r = pg_exec(s, store_sql_lease_holder, &q, &holder, e, "reading who holds a site lease");
        if (r < 0)
                return r;
        if (PQntuples(holder) == 0)
                return store_lease_busy(e, name, 0, "?", "?");
        return store_lease_busy(e, name, (uint64_t) pg_get_int(holder, 0, 0), PQgetvalue(holder, 0, 1),
                                PQgetvalue(holder, 0, 2));
}

int pg_store_lease_release(Store *s, uint64_t job_id, SmsError *e) {
        _cleanup_(pg_params_done) PgParams p = {};

        pg_params_add_int(&p, (int64_t) job_id);
        return pg_exec(s, store_sql_lease_release, &p, NULL, e, "releasing a site lease");
}

int pg_store_context_status_set(Store *s, const char *context_id, uint32_t status, uint32_t progress,
                                uint32_t max_progress, const char *text, int32_t error_code, const char *extended,
                                SmsError *e) {
        _cleanup_(pg_params_done) PgParams p = {};

        pg_params_add_text(&p, context_id);
        pg_params_add_int(&p, status);
        pg_params_add_int(&p, progress);
        pg_params_add_int(&p, max_progress);
        pg_params_add_text(&p, text ? text : "");
        pg_params_add_int(&p, error_code);
        pg_params_add_text(&p, extended ? extended : "");
        pg_params_add_int(&p, (int64_t) now_usec());
        return pg_exec(s,
                       "INSERT INTO injection_status (\"ContextID\", \"Status\", \"Progress\", \"MaxProgress\", "
                       "\"ProgressText\", \"ErrorCode\", \"ExtendedErrorInfo\", \"Updated\") "
                       "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (\"ContextID\") DO UPDATE SET "
                       "\"Status\" = $2, \"Progress\" = $3, \"MaxProgress\" = $4, \"ProgressText\" = $5, "
                       "\"ErrorCode\" = $6, \"ExtendedErrorInfo\" = $7, \"Updated\" = $8",
                       &p, NULL, e, "recording a ContextID status");
}

int pg_store_context_status_get(Store *s, const char *context_id, StoreContextStatus *ret, SmsError *e) {
        _cleanup_(pg_params_done) PgParams p = {};
        _cleanup_(pg_clearp) PGresult *res = NULL;
        int r;

        *ret = (StoreContextStatus) { .status = 3 };
        pg_params_add_text(&p, context_id);
        r = pg_exec(s,
                    "SELECT \"Status\", \"Progress\", \"MaxProgress\", \"ProgressText\", \"ErrorCode\", "
                    "\"ExtendedErrorInfo\" FROM injection_status WHERE \"ContextID\" = $1",
                    &p, &res, e, "reading a ContextID status");
        if (r < 0)
                return r;
        if (PQntuples(res) == 1) {
                ret->status = (uint32_t) pg_get_int(res, 0, 0);
                ret->progress = (uint32_t) pg_get_int(res, 0, 1);
                ret->max_progress = (uint32_t) pg_get_int(res, 0, 2);
                ret->progress_text = utf8_sanitize(PQgetvalue(res, 0, 3));
                ret->error_code = (int32_t) pg_get_int(res, 0, 4);
                ret->extended_error_info = utf8_sanitize(PQgetvalue(res, 0, 5));
        }
        if (!ret->progress_text)
                ret->progress_text = strdup("");
        if (!ret->extended_error_info)
                ret->extended_error_info = strdup("");
        return ret->progress_text && ret->extended_error_info ? 0 : -ENOMEM;
}

int pg_store_context_status_delete(Store *s, const char *context_id, SmsError *e) {
        _cleanup_(pg_params_done) PgParams p = {};

        pg_params_add_text(&p, context_id);
        return pg_exec(s, "DELETE FROM injection_status WHERE \"ContextID\" = $1", &p, NULL, e,
                       "deleting a ContextID status");
}
