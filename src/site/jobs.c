/* SPDX-License-Identifier: MIT */

/* The engine's jobs (site-jobs.h): their rows in the site database, their ContextID status
 * queues, the limits, and the time a finished job is kept. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "smsprov/image-outputs.h"
#include "smsprov/macro.h"
#include "smsprov/site-drivers.h"
#include "smsprov/site-jobs.h"
#include "util/log.h"
#include "util/time-util.h"

#define JOB_STATUS_WRITE_USEC (1 * USEC_PER_SEC)

/* --- the observer ------------------------------------------------------------------------------ */

#define NOTIFY(site, member, ...)                                                                      \
        do {                                                                                           \
                if ((site)->observer && (site)->observer->member)                                      \
                        (site)->observer->member((site)->observer_data, __VA_ARGS__);                  \
        } while (0)

void site_notify(Site *site, SiteNotice notice, const SmsClass *c, const char *key, const size_t *changed, size_t n) {
        if ((notice == SITE_NOTICE_CHANGED && n == 0) || site_hold_notice(site, notice, c, key, changed, n))
                return;
        switch (notice) {
        case SITE_NOTICE_ADDED:
                NOTIFY(site, object_added, c, key);
                break;
        case SITE_NOTICE_CHANGED:
                NOTIFY(site, object_changed, c, key, changed, n);
                break;
        case SITE_NOTICE_REMOVED:
                NOTIFY(site, object_removed, c, key);
                break;
        case SITE_NOTICE_CHANGE_NOTIFICATION:
                NOTIFY(site, change_notification, c, key);
                break;
        }
}

void site_notify_added(Site *site, const SmsClass *c, const char *key) {
        site_notify(site, SITE_NOTICE_ADDED, c, key, NULL, 0);
}

void site_notify_changed(Site *site, const SmsClass *c, const char *key, const size_t *changed, size_t n) {
        site_notify(site, SITE_NOTICE_CHANGED, c, key, changed, n);
}

void site_notify_removed(Site *site, const SmsClass *c, const char *key) {
        site_notify(site, SITE_NOTICE_REMOVED, c, key, NULL, 0);
}

void site_notify_change_notification(Site *site, const SmsClass *c, const char *key) {
        site_notify(site, SITE_NOTICE_CHANGE_NOTIFICATION, c, key, NULL, 0);
}

/* --- records ----------------------------------------------------------------------------------- */

static void job_record(Site *site, Job *j) {
        StoreJob sj = {
                .id = j->id,
                .state = j->state,
                .start_usec = j->start_usec,
                .end_usec = j->end_usec,
                .error_name = sms_error_is_set(&j->error) ? sms_error_code_to_name(j->error.code) : "",
                .error_message = j->error.message ? j->error.message : "",
                .error_code = j->error_code,
        };
        SmsError e = SMS_ERROR_NULL;

        if (store_job_update(site->store, &sj, &e) < 0)
                log_warning("Failed to record job %" PRIu64 ": %s", j->id, e.message ? e.message : "");
        sms_error_clear(&e);
}

static void job_release_lease(Site *site, Job *j) {
        SmsError e = SMS_ERROR_NULL;

        if (store_lease_release(site->store, j->id, &e) < 0)
                log_warning("Failed to release the site lease of job %" PRIu64 ": %s", j->id, e.message ? e.message : "");
        sms_error_clear(&e);
}

static void job_record_context(Site *site, Job *j) {
        JobProgress p = job_get_progress(j, NULL);
        SmsError e = SMS_ERROR_NULL;
        uint32_t status = j->state == JOB_STATE_COMPLETED ? 0 : j->state >= JOB_STATE_FAILED ? 2 : 1;
        const char *text = j->state >= JOB_STATE_FAILED && j->error.message ? j->error.message : p.text;

        if (!*j->context_id)
                return;
        if (store_context_status_set(site->store, j->context_id, status,
                                     status == 0 ? (p.max_progress ? p.max_progress : 1) : p.progress,
                                     p.max_progress ? p.max_progress : 1, text, j->error_code,
                                     j->state >= JOB_STATE_FAILED && j->error.message ? j->error.message : "",
                                     &e) < 0)
                log_warning("Failed to record the status of ContextID %s: %s", j->context_id,
                            e.message ? e.message : "");
        sms_error_clear(&e);
}

/* A job row that never reached the queue: failed, not left QUEUED (which the next start would
 * report as interrupted by a stop). */
/* A failed job's ErrorMessage reads like a call's error message (API.md §7): the WBEM code name,
 * then the detail. */
static void job_prefix_error_message(Job *j) {
        const char *wbem = sms_error_code_to_wbem(j->error.code);
        char *m = NULL;

        if (!sms_error_is_set(&j->error) || !j->error.message || strncmp(j->error.message, "WBEM_E_", 7) == 0)
                return;
        if (asprintf(&m, "%s: %s", wbem, j->error.message) < 0)
                return;
        free(j->error.message);
        j->error.message = m;
}

/* --- the list ---------------------------------------------------------------------------------- */

static SiteJob *site_job_free(SiteJob *sj) {
        if (!sj)
                return NULL;
        sd_event_source_disable_unref(sj->linger);
        if (sj->job)
                sj->job->owner_data = NULL;
        job_unref(sj->job);
        free(sj->owner);
        free(sj);
        return NULL;
}

/* Reports the job gone and frees it. */
static void site_job_forget(Site *site, SiteJob *sj) {
        for (SiteJob **p = &site->site_jobs; *p; p = &(*p)->next)
                if (*p == sj) {
                        *p = sj->next;
                        break;
                }
        NOTIFY(site, job_removed, sj);
        site_job_free(sj);
}

SiteJob *site_job_find(Site *site, uint64_t id) {
        for (SiteJob *sj = site->site_jobs; sj; sj = sj->next)
                if (sj->job->id == id)
                        return sj;
        return NULL;
}

JobProgress site_job_progress(const SiteJob *sj) {
        JobProgress p;

        pthread_mutex_lock(&sj->job->lock);
        p = sj->job->progress;
        pthread_mutex_unlock(&sj->job->lock);
        return p;
}

const char *site_job_result(const SiteJob *sj) {
        return job_state_to_result(sj->job->state);
}

int site_job_cancel(SiteJob *sj, SmsError *e) {
        Job *j = sj->job;

        if (j->state > JOB_STATE_RUNNING)
                return sms_error_set(e, SMS_ERROR_FAILED, "job %" PRIu64 " has already finished (%s)", j->id,
                                     job_state_to_result(j->state));
        if (!j->cancelable)
                return sms_error_set(e, SMS_ERROR_NOT_SUPPORTED, "job %" PRIu64 " (%s) cannot be canceled", j->id,
                                     j->operation);
        job_cancel(j);
        return 0;
}

size_t site_jobs_count(Site *site) {
        size_t n = 0;
        for (SiteJob *sj = site->site_jobs; sj; sj = sj->next)
                n++;
        return n;
}

bool site_job_target_active(Site *site, const char *target) {
        for (SiteJob *sj = site->site_jobs; sj; sj = sj->next)
                if (sj->job->state <= JOB_STATE_RUNNING && streq(sj->job->target, target))
                        return true;
        return false;
}

char *site_job_target(const SmsClass *c, const char *key) {
        char *s = NULL;
        if (asprintf(&s, "%s.%s", c->name, key) < 0)
                return NULL;
        return s;
}

static unsigned owned_active(Site *site, const char *owner) {
        unsigned n = 0;
        for (SiteJob *sj = site->site_jobs; sj; sj = sj->next)
                if (sj->job->state <= JOB_STATE_RUNNING && sj->owner && streq(sj->owner, owner))
                        n++;
        return n;
}

/* --- the queue's callbacks (main thread) ------------------------------------------------------- */

static void on_job_changed(Job *j, void *userdata) {
        SiteJob *sj = j->owner_data;
        Site *site = userdata;

        if (!sj)
                return;
        if (j->state == JOB_STATE_RUNNING && j->start_usec) {
                uint64_t now = now_monotonic_usec();
                if (sj->status_written_usec == 0) {
                        sj->status_written_usec = now;
                        job_record(site, j);
                        job_record_context(site, j);
                } else if (now - sj->status_written_usec >= JOB_STATUS_WRITE_USEC) {
                        sj->status_written_usec = now;
                        job_record_context(site, j);
                }
        }
        NOTIFY(site, job_changed, sj);
}

static int on_linger(sd_event_source *s, uint64_t usec, void *userdata) {
        SiteJob *sj = userdata;
        site_job_forget(sj->site, sj);
        return 0;
}

static void on_job_finished(Job *j, void *userdata) {
        SiteJob *sj = j->owner_data;
        Site *site = userdata;

        job_prefix_error_message(j);
        job_record(site, j);
        job_record_context(site, j);
        if (!sj)
                return;
        if (sj->leased)
                job_release_lease(site, j);
        NOTIFY(site, job_finished, sj);
        if (!site->event || sd_event_add_time_relative(site->event, &sj->linger, CLOCK_MONOTONIC,
                                                       site->job_linger_usec, 0, on_linger, sj) < 0)
                site_job_forget(site, sj);
}

static int on_jobs_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Site *site = userdata;
        job_queue_dispatch(site->jobs);
        return 0;
}

/* --- starting and stopping --------------------------------------------------------------------- */

int site_jobs_start(Site *site, sd_event *event, unsigned n_workers) {
        JobQueueCallbacks callbacks = { .changed = on_job_changed, .finished = on_job_finished, .userdata = site };
        SmsError e = SMS_ERROR_NULL;
        int r;

        if (!site->max_jobs)
                site->max_jobs = SITE_DEFAULT_MAX_JOBS;
        if (!site->max_jobs_per_caller)
                site->max_jobs_per_caller = SITE_DEFAULT_MAX_JOBS_PER_CALLER;
        if (!site->job_linger_usec)
                site->job_linger_usec = SITE_DEFAULT_JOB_LINGER_USEC;
        r = site_job_leases_start(site, event);
        if (r < 0)
                return r;
        r = job_queue_new(n_workers, &callbacks, &site->jobs);
        if (r < 0)
                return log_error_errno(r, "Failed to start the job workers: %m");
        site->event = sd_event_ref(event);
        r = sd_event_add_io(event, &site->jobs_source, job_queue_fd(site->jobs), EPOLLIN, on_jobs_ready, site);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the job queue: %m");
        r = site_watch_start(site, &e);
        if (r < 0) {
                log_error_errno(r, "Failed to watch the site database for other hosts' changes: %s",
                                e.message ? e.message : strerror(-r));
                sms_error_clear(&e);
                return r;
        }
        /* A crash between a driver's Delete and the collection of its copy leaves the copy. */
        site_driver_collect(site);
        return 0;
}

void site_jobs_stop(Site *site) {
        site_watch_stop(site);
        site_job_leases_stop(site);
        site->scrub_source = sd_event_source_disable_unref(site->scrub_source);
        /* Running jobs are canceled; their work removes what it had started (temporary files)
         * and the database records them as canceled. */
        for (SiteJob *sj = site->site_jobs; sj; sj = sj->next)
                job_cancel(sj->job);
        site->jobs_source = sd_event_source_disable_unref(site->jobs_source);
        if (site->jobs) {
                /* Let the workers finish their cancellation, then record what is left. */
                for (int i = 0; i < 500 && job_queue_active(site->jobs) > 0; i++) {
                        job_queue_dispatch(site->jobs);
                        if (job_queue_active(site->jobs) > 0)
                                usleep(10000);
                }
                site->jobs = job_queue_free(site->jobs);
        }
        while (site->site_jobs) {
                SiteJob *sj = site->site_jobs;
                if (sj->job->state <= JOB_STATE_RUNNING) {
                        sj->job->state = JOB_STATE_CANCELED;
                        sj->job->end_usec = now_usec();
                        sms_error_set(&sj->job->error, SMS_ERROR_CANCELED, "smsprovd stopped");
                        job_record(site, sj->job);
                        job_record_context(site, sj->job);
                }
                site_job_forget(site, sj);
        }
        site->event = sd_event_unref(site->event);
}

int site_jobs_set_test_dir(Site *site, int dir_fd) {
        return job_queue_set_test_dir(site->jobs, dir_fd, "");
}

int site_job_check_limits(Site *site, const char *owner, SmsError *e) {
        if (job_queue_active(site->jobs) >= site->max_jobs)
                return sms_error_set(e, SMS_ERROR_LIMITS_EXCEEDED, "%u jobs are already queued or running",
                                     job_queue_active(site->jobs));
        if (owner && owned_active(site, owner) >= site->max_jobs_per_caller)
                return sms_error_set(e, SMS_ERROR_LIMITS_EXCEEDED, "%s already has %u jobs queued or running", owner,
                                     site->max_jobs_per_caller);
        return 0;
}

/* A held job (transaction.c) whose transaction committed: queued, listed and reported. */
void site_job_held_queue(Site *site, SiteJob *sj) {
        Job *j = sj->job;

        job_queue_push(site->jobs, job_ref(j)); /* the queue's reference, and the SiteJob's */
        sj->next = site->site_jobs;
        site->site_jobs = sj;
        if (*j->context_id)
                job_record_context(site, j);
        NOTIFY(site, job_added, sj);
}

/* A held job whose transaction rolled back: it never runs. Its userdata goes with it, after the
 * plan's abort has undone what its begin did outside the database; unless site_job_start() is
 * still running, whose caller keeps its userdata on failure. */
void site_job_held_drop(Site *site, SiteJob *sj) {
        Job *j = TAKE_PTR(sj->job);

        if (sj->caller_keeps)
                j->free_userdata = NULL;
        else if (sj->abort)
                sj->abort(site, j->userdata);
        job_discard(j);
        site_job_free(sj);
}

/* The job's outcome is committed only while the job is still this host's: a host frozen past its
 * lease (a stopped VM) may find on waking that another host has failed its job and may have taken
 * the package on. Then its outcome is dropped and the job fails: its own finish sees a failure and
 * undoes what the work made. The check moves the lease on by a whole lease, so no host fails the
 * job in the moment between it and the commit of the outcome, which follows on this thread. */
static int finish_fenced(Job *j, void *userdata, int result, SmsError *e) {
        SiteJob *sj = j->owner_data;
        SmsError hold = SMS_ERROR_NULL;
        int held;

        if (!sj)
                return result;
        held = store_job_hold(sj->site->store, j->id, site_job_lease_expiry(sj->site), &hold);
        if (held == 0) {
                sms_error_clear(e);
                sms_error_set(e, SMS_ERROR_FAILED,
                              "this host's lease on the job ran out while it ran, and another host failed the job: "
                              "its outcome is dropped");
                result = -ESTALE;
        } else if (held < 0) /* the database is away: the outcome's commit will say so */
                log_warning("Failed to hold job %" PRIu64 ": %s", j->id, hold.message ? hold.message : "");
        sms_error_clear(&hold);
        return sj->finish ? sj->finish(j, userdata, result, e) : result;
}

static int job_start(Site *site, JobSpec *spec, void (*abort)(Site *site, void *userdata), const char *lease,
                     uint64_t *ret_id, SmsError *e) {
        SiteJob *sj;
        Job *j = NULL;
        uint64_t id;
        int r;

        r = site_job_check_limits(site, spec->owner, e);
        if (r < 0)
                return r;

        /* Everything the job needs is allocated before it is held: once held, the job owns
         * spec->userdata, and what may fail after is the commit, which drops it. */
        sj = calloc(1, sizeof(SiteJob));
        if (!sj)
                return -ENOMEM;
        *sj = (SiteJob) { .site = site, .owner = spec->owner ? strdup(spec->owner) : NULL, .abort = abort,
                          .caller_keeps = true };
        if (spec->owner && !sj->owner) {
                site_job_free(sj);
                return -ENOMEM;
        }

        StoreJob row = {
                .operation = spec->operation,
                .target = spec->target,
                .context_id = spec->context_id,
                .uid = (uint32_t) spec->uid,
                .state = JOB_STATE_QUEUED,
                .submit_usec = now_usec(),
                .lease_expires_usec = site_job_lease_expiry(site),
        };
        r = site_begin(site, e);
        if (r < 0) {
                site_job_free(sj);
                return r;
        }
        r = store_job_insert(site->store, &row, &id, e);
        /* Its site-wide rule, in the same transaction: another host's job may hold it. */
        if (r >= 0 && lease)
                r = store_lease_take(site->store, lease, id, row.submit_usec, e);
        if (r >= 0) {
                JobSpec fenced = *spec;
                spec->id = fenced.id = id;
                sj->finish = spec->finish;
                fenced.finish = finish_fenced;
                r = job_new(site->jobs, &fenced, &j);
                if (r < 0)
                        r = sms_error_set(e, SMS_ERROR_FAILED, "cannot queue the job: %s", strerror(-r));
        }
        if (r < 0) {
                site_job_free(sj);
                return site_end(site, r, e);
        }
        sj->job = j; /* job_new()'s reference, until site_job_held_queue() or _drop() */
        sj->leased = lease != NULL;
        j->owner_data = sj;
        site_hold_job(site, sj);
        r = site_end(site, 0, e); /* queued now, unless a transaction around this one is open */
        if (r < 0)
                return r; /* dropped, spec->userdata still the caller's */
        sj->caller_keeps = false;
        if (ret_id)
                *ret_id = id;
        return 0;
}

int site_job_start(Site *site, JobSpec *spec, uint64_t *ret_id, SmsError *e) {
        return job_start(site, spec, NULL, NULL, ret_id, e);
}

int site_job_start_leased(Site *site, JobSpec *spec, const char *lease, uint64_t *ret_id, SmsError *e) {
        return job_start(site, spec, NULL, lease, ret_id, e);
}

/* --- ContextID status queues ------------------------------------------------------------------ */

int site_context_status_get(Site *site, const char *context_id, SiteContextStatus *ret, SmsError *e) {
        return store_context_status_get(site->store, context_id, ret, e);
}

void site_context_status_done(SiteContextStatus *st) {
        store_context_status_done(st);
}

int site_context_status_delete(Site *site, const char *context_id, SmsError *e) {
        return store_context_status_delete(site->store, context_id, e);
}

/* --- planned jobs ------------------------------------------------------------------------------ */

SiteJobPlan *site_job_plan_free(SiteJobPlan *plan) {
        if (!plan)
                return NULL;
        if (plan->spec.userdata && plan->spec.free_userdata)
                plan->spec.free_userdata(plan->spec.userdata);
        free(plan->operation);
        free(plan->target);
        free(plan->context_id);
        free(plan->owner);
        free(plan);
        return NULL;
}

int site_job_plan_new(const JobSpec *spec, SiteJobPlan **ret) {
        SiteJobPlan *plan = calloc(1, sizeof(SiteJobPlan));

        if (!plan) {
                if (spec->free_userdata)
                        spec->free_userdata(spec->userdata);
                return -ENOMEM;
        }
        plan->spec = *spec;
        plan->operation = strdup(spec->operation ? spec->operation : "");
        plan->target = strdup(spec->target ? spec->target : "");
        plan->context_id = strdup(spec->context_id ? spec->context_id : "");
        plan->owner = spec->owner ? strdup(spec->owner) : NULL;
        if (!plan->operation || !plan->target || !plan->context_id || (spec->owner && !plan->owner)) {
                site_job_plan_free(plan);
                return -ENOMEM;
        }
        plan->spec.operation = plan->operation;
        plan->spec.target = plan->target;
        plan->spec.context_id = plan->context_id;
        plan->spec.owner = plan->owner;
        *ret = plan;
        return 0;
}

int site_job_plan_ready(Site *site, const SiteJobPlan *plan, SmsError *e) {
        if (plan->exclusive && site_job_target_active(site, plan->target))
                return sms_error_set(e, SMS_ERROR_BUSY, "%s has a job queued or running", plan->target);
        return site_job_check_limits(site, plan->spec.owner, e);
}

int site_job_plan_start(Site *site, SiteJobPlan *plan, uint64_t *ret_id, SmsError *e) {
        bool began = false;
        int r;

        /* One transaction: the pending state that begin writes and the job's row, or neither. */
        r = site_begin(site, e);
        if (r < 0) {
                site_job_plan_free(plan);
                return r;
        }
        /* First: a job that may not be queued shows no pending state at all. */
        r = site_job_plan_ready(site, plan, e);
        if (r >= 0 && plan->begin) {
                r = plan->begin(site, plan->spec.userdata, e);
                began = r >= 0;
        }
        if (r >= 0) {
                r = job_start(site, &plan->spec, plan->abort, plan->exclusive ? plan->target : NULL, ret_id, e);
                if (r >= 0)
                        plan->spec.userdata = NULL; /* the job's now, and dropped with it */
        }
        if (r < 0 && began && plan->abort)
                plan->abort(site, plan->spec.userdata);
        r = site_end(site, r, e);
        site_job_plan_free(plan);
        return r;
}
