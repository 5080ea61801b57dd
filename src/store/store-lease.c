/* SPDX-License-Identifier: MIT */

/* Jobs' hosts and leases, and the site's lease rows (schema/0010-job-lease.sql): the statements,
 * which both backends run as they are (quoted columns; SQLite takes $N as named parameters), and
 * what both do with the jobs a statement failed. */

#include <inttypes.h>
#include <stdlib.h>

#include "smsprov/macro.h"
#include "store/store-sql.h"

#define FAIL_JOBS(message, condition)                                                                  \
        "UPDATE job SET \"State\" = 3, \"EndTime\" = $1, \"ErrorName\" = 'Failed', \"ErrorMessage\" = " \
        message ", \"ErrorCode\" = 4 WHERE \"State\" IN (0, 1) AND " condition                           \
        " RETURNING \"Id\", \"Operation\", \"Target\", \"ContextID\", \"Host\""

/* $1 now, $2 this host. */
const char *const store_sql_jobs_fail[_STORE_JOBS_FAIL_MAX] = {
        /* A job of no host is from before jobs had one: whoever starts first fails it. */
        [STORE_JOBS_FAIL_OWN] = FAIL_JOBS("'WBEM_E_FAILED: smsprovd stopped while the job ran'",
                                          "\"Host\" IN ($2, '')"),
        [STORE_JOBS_FAIL_EXPIRED] = FAIL_JOBS("'WBEM_E_FAILED: host ' || \"Host\" || ' stopped while the job ran: "
                                              "its lease on the job ran out'",
                                              "\"Host\" NOT IN ($2, '') AND \"LeaseExpires\" < $1"),
};

/* $1 the new expiry, $2 this host. */
const char store_sql_jobs_renew[] =
        "UPDATE job SET \"LeaseExpires\" = $1 WHERE \"Host\" = $2 AND \"State\" IN (0, 1)";

/* $1 the new expiry, $2 this host, $3 the job: returns a row when the job is still this host's
 * and running (no other host failed it when its lease ran out). */
const char store_sql_job_hold[] =
        "UPDATE job SET \"LeaseExpires\" = $1 WHERE \"Host\" = $2 AND \"Id\" = $3 AND \"State\" IN (0, 1) "
        "RETURNING \"Id\"";

/* $1 the package, $2 the occurrence of its RefreshSchedule: returns a row when this host claimed
 * it, none when a host has claimed it (or a later one) before. */
const char store_sql_schedule_claim[] =
        "INSERT INTO schedule_claim (\"PackageID\", \"Due\") VALUES ($1, $2) ON CONFLICT (\"PackageID\") DO UPDATE "
        "SET \"Due\" = excluded.\"Due\" WHERE schedule_claim.\"Due\" < excluded.\"Due\" RETURNING \"Due\"";

/* $1 the name, $2 the job, $3 now: a row whose job ended or whose lease ran out is taken over.
 * It returns a row when the lease is the job's. */
const char store_sql_lease_take[] =
        "INSERT INTO site_lease (\"Name\", \"JobId\") VALUES ($1, $2) ON CONFLICT (\"Name\") DO UPDATE SET "
        "\"JobId\" = excluded.\"JobId\" WHERE NOT EXISTS (SELECT 1 FROM job WHERE job.\"Id\" = site_lease.\"JobId\" "
        "AND job.\"State\" IN (0, 1) AND job.\"LeaseExpires\" >= $3) RETURNING \"JobId\"";

/* $1 the name: the job that holds it, for the Busy message. */
const char store_sql_lease_holder[] =
        "SELECT job.\"Id\", job.\"Operation\", job.\"Host\" FROM site_lease JOIN job ON job.\"Id\" = "
        "site_lease.\"JobId\" WHERE site_lease.\"Name\" = $1";

/* $1 the job. */
const char store_sql_lease_release[] = "DELETE FROM site_lease WHERE \"JobId\" = $1";

int store_lease_busy(SmsError *e, const char *name, uint64_t job_id, const char *operation, const char *host) {
        return sms_error_set(e, SMS_ERROR_BUSY, "%s is held by job %" PRIu64 " (%s) on host %s", name, job_id,
                             operation, host);
}

void store_interrupted_jobs_sort(StoreInterruptedJob *jobs, size_t n) {
        /* RETURNING has no order of its own; the caller cleans up in the order of the ids */
        for (size_t i = 1; i < n; i++)
                for (size_t k = i; k > 0 && jobs[k - 1].id > jobs[k].id; k--) {
                        StoreInterruptedJob t = jobs[k];
                        jobs[k] = jobs[k - 1];
                        jobs[k - 1] = t;
                }
}

void store_interrupted_jobs_free(StoreInterruptedJob *j, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(j[i].operation);
                free(j[i].target);
                free(j[i].context_id);
                free(j[i].host);
        }
        free(j);
}
