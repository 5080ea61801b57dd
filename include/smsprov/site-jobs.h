/* SPDX-License-Identifier: MIT */
#pragma once

/* The engine's jobs (site/jobs.c): every long operation is recorded in the site database, queued
 * on the job queue (jobs/), reported to the observer as it moves, and kept for the linger time
 * after it ends so that its outcome can still be read; the database keeps it for good (and under
 * its ContextID for QueryOSDBinaryInjectionStatus). The limits on queued jobs, in all and per
 * caller, and the rule "one job of a package at a time" are decided here. Main thread only. */

#include <stdbool.h>
#include <stdint.h>

#include "smsprov/job.h"
#include "smsprov/site.h"

struct SiteJob {
        Site *site;
        Job *job;
        char *owner;                  /* the caller's connection; NULL for the daemon's own jobs */
        uint64_t status_written_usec; /* the ContextID status is written at most once a second */
        sd_event_source *linger;      /* forgetting a finished job */
        void *observer_data;          /* the observer's, released by its job_removed */
        /* While held (transaction.c): its plan's abort, and whether site_job_start() still runs,
         * whose caller keeps the userdata when it fails. */
        void (*abort)(Site *site, void *userdata);
        bool caller_keeps;
        bool leased; /* holds a site lease row (site_job_start_leased()) */
        JobFinishFn finish; /* the job's own, which finish_fenced() calls (jobs.c) */
        SiteJob *next;
};

#define SITE_DEFAULT_MAX_JOBS 64
#define SITE_DEFAULT_MAX_JOBS_PER_CALLER 16 /* so that one flooding caller leaves room for others */
#define SITE_DEFAULT_JOB_LINGER_USEC (60ULL * 1000000ULL)
/* A host renews its jobs' leases every third of this; a host that has not for this long is
 * taken to have stopped, and its jobs fail. */
#define SITE_DEFAULT_JOB_LEASE_USEC (30ULL * 1000000ULL)

/* Fails the jobs a previous run left queued or running (status messages, their ContextIDs in
 * error, their packages reset and their build leftovers removed), then starts the job queue
 * with `n_workers` threads and watches it on `event`, and with it other hosts' changes to the
 * site (site_watch_start()). The limits in `site` are used as set (0: the defaults above). */
int site_jobs_start(Site *site, sd_event *event, unsigned n_workers);
/* Ends the watch of other hosts' changes, cancels the running jobs, waits for their work to
 * stop, records them as canceled, and forgets every job (job_removed for each). */
void site_jobs_stop(Site *site);

/* Jobs' hosts and leases (job-lease.c): fails this host's jobs that a stop cut short and other
 * hosts' jobs whose lease ran out, then (with `event`) renews this host's leases and fails
 * expired ones every third of site->job_lease_usec (0: the default above). */
int site_job_leases_start(Site *site, sd_event *event);
void site_job_leases_stop(Site *site);
/* Until when the lease of a job recorded now holds. */
uint64_t site_job_lease_expiry(Site *site);

/* The spec of a job a caller starts: cancelable, counted against the caller's connection. */
static inline JobSpec site_job_spec(const char *operation, const char *target, const SiteCaller *caller,
                                    JobWorkFn work, JobFinishFn finish, void *userdata,
                                    void (*free_userdata)(void *userdata)) {
        return (JobSpec) { .operation = operation, .target = target, .uid = caller->uid, .owner = caller->peer,
                           .cancelable = true, .work = work, .finish = finish, .userdata = userdata,
                           .free_userdata = free_userdata };
}

/* Test points (--test-hold-dir, jobs/test-point.c): every job waits at its Operation's point. */
int site_jobs_set_test_dir(Site *site, int dir_fd);

/* LimitsExceeded when one more job (of `owner`, NULL for the daemon's own) may not be queued. */
int site_job_check_limits(Site *site, const char *owner, SmsError *e);
/* Records a job, queues it and reports it (job_added); inside an engine transaction
 * (site_begin()), queues and reports it when the outermost one commits, and drops it if that
 * rolls back. spec->id is filled in, and so is *ret_id (optional). LimitsExceeded when too many
 * jobs are queued. On failure spec->userdata is still the caller's. */
int site_job_start(Site *site, JobSpec *spec, uint64_t *ret_id, SmsError *e);
/* The same for a job that runs alone on the site, across hosts: it takes the lease row `lease`
 * (store_lease_take()) with its row, or is Busy; the lease goes when the job ends. */
int site_job_start_leased(Site *site, JobSpec *spec, const char *lease, uint64_t *ret_id, SmsError *e);
/* transaction.c's: a held job queued once its transaction committed, or dropped. */
void site_hold_job(Site *site, SiteJob *sj);
void site_job_held_queue(Site *site, SiteJob *sj);
void site_job_held_drop(Site *site, SiteJob *sj);
/* Is a job with this target ("SMS_BootImagePackage.LAB00001") queued or running? */
bool site_job_target_active(Site *site, const char *target);
/* "<class>.<key>", the target of a package's jobs. */
char *site_job_target(const SmsClass *c, const char *key);
SiteJob *site_job_find(Site *site, uint64_t id);
/* A copy of the job's progress as its work last reported it. */
JobProgress site_job_progress(const SiteJob *job);
/* "done", "failed" or "canceled" for an ended job (Site.JobRemoved's Result). */
const char *site_job_result(const SiteJob *job);
/* Job.Cancel(): a queued job ends at once, a running one at its work's next check. Failed when
 * it has already ended, NotSupported when it cannot be canceled. */
int site_job_cancel(SiteJob *job, SmsError *e);
/* How many jobs the site holds (queued, running, lingering). */
size_t site_jobs_count(Site *site);

/* A job made ready before the write that starts it is committed (a Put's trigger), or before the
 * pending state it shows is written: everything that could refuse it has been checked and
 * allocated, except the files it reads, which `check` looks up on a worker before the call goes
 * on. site_job_plan_start() checks that it may still start (site_job_plan_ready()), writes the
 * pending state (begin), then records and queues the job, all in one engine transaction; if the
 * job cannot be queued, or the transaction rolls back, abort undoes what begin did outside the
 * database (the rollback takes back its rows). A plan whose write failed is freed, and its job
 * never ran. */
typedef struct SiteJobPlan {
        JobSpec spec; /* spec.userdata is the plan's until the job is queued */
        char *operation, *target, *context_id, *owner;
        /* optional, thread-safe: the file system part of making the job ready (a source that
         * cannot be read refuses the call); a plan started without it leaves it to its job */
        int (*check)(void *userdata, SmsError *e);
        int (*begin)(Site *site, void *userdata, SmsError *e); /* optional */
        void (*abort)(Site *site, void *userdata);              /* optional */
        bool exclusive; /* one job of its target at a time */
} SiteJobPlan;

/* Copies the spec's strings and takes spec->userdata (freed with free_userdata on failure). */
int site_job_plan_new(const JobSpec *spec, SiteJobPlan **ret);
/* May the plan start now? LimitsExceeded, or Busy for an exclusive plan whose target has a job
 * queued or running. For a write that must not be committed when its job cannot start. */
int site_job_plan_ready(Site *site, const SiteJobPlan *plan, SmsError *e);
/* Always takes the plan. *ret_id (optional) is the job's Id. */
int site_job_plan_start(Site *site, SiteJobPlan *plan, uint64_t *ret_id, SmsError *e);
SiteJobPlan *site_job_plan_free(SiteJobPlan *plan);

/* A ContextID's status queue (QueryOSDBinaryInjectionStatus): an unknown ContextID is status 3
 * (no status), not an error. */
typedef StoreContextStatus SiteContextStatus;
int site_context_status_get(Site *site, const char *context_id, SiteContextStatus *ret, SmsError *e);
void site_context_status_done(SiteContextStatus *st);
int site_context_status_delete(Site *site, const char *context_id, SmsError *e);
