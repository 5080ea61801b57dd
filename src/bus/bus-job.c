/* SPDX-License-Identifier: MIT */

/* Job objects at /org/smsprov/Provider1/job/_<Id> (API.md §5, org.smsprov.Provider1.Job).
 * Progress is coalesced to one PropertiesChanged per 100 ms per job; a finished job stays on the
 * bus for 60 s and is then removed. The outcome is in the site database (table job) and, for a
 * job with a ContextID, in that ContextID's status queue. */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus/bus-job.h"
#include "bus/bus-managed.h"
#include "bus/bus-util.h"
#include "smsprov/image-outputs.h"
#include "smsprov/macro.h"
#include "util/log.h"
#include "util/time-util.h"

#define JOB_PREFIX SMSPROV_OBJECT_ROOT "/job"
#define JOB_INTERFACE SMSPROV_INTERFACE_PREFIX "Job"
#define JOB_COALESCE_USEC (100 * USEC_PER_MSEC)
#define JOB_LINGER_USEC (60 * USEC_PER_SEC)
#define JOB_STATUS_WRITE_USEC (1 * USEC_PER_SEC)

/* The bus layer's side of a job. */
struct BusJob {
        Manager *manager;
        Job *job;
        char *path;
        char *target_path;
        char *owner;               /* the caller's connection, NULL for the daemon's own jobs */
        sd_event_source *coalesce; /* pending PropertiesChanged */
        sd_event_source *linger;   /* removal after the job finished */
        uint64_t status_written_usec;
        BusJob *next;
};

static char *job_path(uint64_t id) {
        char *p = NULL;
        if (asprintf(&p, JOB_PREFIX "/_%" PRIu64, id) < 0)
                return NULL;
        return p;
}

static BusJob *bus_job_free(BusJob *bj) {
        if (!bj)
                return NULL;
        sd_event_source_disable_unref(bj->coalesce);
        sd_event_source_disable_unref(bj->linger);
        if (bj->job)
                bj->job->owner_data = NULL;
        job_unref(bj->job);
        free(bj->path);
        free(bj->target_path);
        free(bj->owner);
        free(bj);
        return NULL;
}

static void bus_job_unlink(Manager *m, BusJob *bj) {
        for (BusJob **p = &m->bus_jobs; *p; p = &(*p)->next)
                if (*p == bj) {
                        *p = bj->next;
                        return;
                }
}

static BusJob *bus_job_find(Manager *m, const char *path) {
        for (BusJob *bj = m->bus_jobs; bj; bj = bj->next)
                if (streq(bj->path, path))
                        return bj;
        return NULL;
}

static unsigned bus_job_owned_active(Manager *m, const char *owner) {
        unsigned n = 0;
        for (BusJob *bj = m->bus_jobs; bj; bj = bj->next)
                if (bj->job->state <= JOB_STATE_RUNNING && bj->owner && streq(bj->owner, owner))
                        n++;
        return n;
}

bool bus_job_target_active(Manager *m, const char *target) {
        for (BusJob *bj = m->bus_jobs; bj; bj = bj->next)
                if (bj->job->state <= JOB_STATE_RUNNING && streq(bj->job->target, target))
                        return true;
        return false;
}

/* --- persistence ------------------------------------------------------------------------------ */

static void job_record(Manager *m, Job *j) {
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

        if (store_job_update(m->site.store, &sj, &e) < 0)
                log_warning("Failed to record job %" PRIu64 ": %s", j->id, e.message ? e.message : "");
        sms_error_clear(&e);
}

static void job_record_context(Manager *m, Job *j) {
        JobProgress p = job_get_progress(j, NULL);
        SmsError e = SMS_ERROR_NULL;
        uint32_t status = j->state == JOB_STATE_COMPLETED ? 0 : j->state >= JOB_STATE_FAILED ? 2 : 1;
        const char *text = j->state >= JOB_STATE_FAILED && j->error.message ? j->error.message : p.text;

        if (!*j->context_id)
                return;
        if (store_context_status_set(m->site.store, j->context_id, status,
                                     status == 0 ? (p.max_progress ? p.max_progress : 1) : p.progress,
                                     p.max_progress ? p.max_progress : 1, text, j->error_code,
                                     j->state >= JOB_STATE_FAILED && j->error.message ? j->error.message : "",
                                     &e) < 0)
                log_warning("Failed to record the status of ContextID %s: %s", j->context_id,
                            e.message ? e.message : "");
        sms_error_clear(&e);
}

/* --- signals ----------------------------------------------------------------------------------- */

static void emit_progress(BusJob *bj) {
        if (!bj->path)
                return;
        sd_bus_emit_properties_changed(bj->manager->bus, bj->path, JOB_INTERFACE, "State", "Progress", "MaxProgress",
                                       "ProgressText", "Bytes", "Rate", "StartTime", NULL);
}

static int on_coalesce(sd_event_source *s, uint64_t usec, void *userdata) {
        BusJob *bj = userdata;
        Manager *m = bj->manager;

        bj->coalesce = sd_event_source_disable_unref(bj->coalesce);
        emit_progress(bj);
        if (bj->job->state <= JOB_STATE_RUNNING && now_monotonic_usec() - bj->status_written_usec >= JOB_STATUS_WRITE_USEC) {
                bj->status_written_usec = now_monotonic_usec();
                job_record_context(m, bj->job);
        }
        return 0;
}

static void job_changed(Job *j, void *userdata) {
        BusJob *bj = j->owner_data;
        Manager *m = userdata;

        if (!bj || bj->coalesce)
                return;
        if (j->state == JOB_STATE_RUNNING && j->start_usec && bj->status_written_usec == 0) {
                bj->status_written_usec = now_monotonic_usec();
                job_record(m, j);
                job_record_context(m, j);
        }
        if (sd_event_add_time_relative(m->event, &bj->coalesce, CLOCK_MONOTONIC, JOB_COALESCE_USEC, 0, on_coalesce,
                                       bj) < 0)
                emit_progress(bj);
}

static int on_linger(sd_event_source *s, uint64_t usec, void *userdata) {
        BusJob *bj = userdata;
        Manager *m = bj->manager;

        sd_bus_emit_interfaces_removed(m->bus, bj->path, JOB_INTERFACE, NULL);
        bus_job_unlink(m, bj);
        bus_job_free(bj);
        return 0;
}

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

static void job_finished(Job *j, void *userdata) {
        BusJob *bj = j->owner_data;
        Manager *m = userdata;
        const char *error_name = "";
        char name[128] = "";

        job_prefix_error_message(j);
        job_record(m, j);
        job_record_context(m, j);
        if (!bj)
                return;

        bj->coalesce = sd_event_source_disable_unref(bj->coalesce);
        sd_bus_emit_properties_changed(m->bus, bj->path, JOB_INTERFACE, "State", "Progress", "MaxProgress",
                                       "ProgressText", "Bytes", "Rate", "StartTime", "EndTime", "Cancelable",
                                       "ErrorName", "ErrorMessage", "ErrorCode", NULL);
        if (sms_error_is_set(&j->error)) {
                snprintf(name, sizeof name, SMSPROV_ERROR_PREFIX "%s", sms_error_code_to_name(j->error.code));
                error_name = name;
        }
        sd_bus_emit_signal(m->bus, bj->path, JOB_INTERFACE, "Completed", "bss", j->state == JOB_STATE_COMPLETED,
                           error_name, j->error.message ? j->error.message : "");
        sd_bus_emit_signal(m->bus, SMSPROV_OBJECT_ROOT, SMSPROV_INTERFACE_PREFIX "Site", "JobRemoved", "tos", j->id,
                           bj->path, job_state_to_result(j->state));

        if (sd_event_add_time_relative(m->event, &bj->linger, CLOCK_MONOTONIC, m->job_linger_usec, 0, on_linger,
                                       bj) < 0) {
                sd_bus_emit_interfaces_removed(m->bus, bj->path, JOB_INTERFACE, NULL);
                bus_job_unlink(m, bj);
                bus_job_free(bj);
        }
}

static int on_jobs_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        job_queue_dispatch(m->jobs);
        return 0;
}

/* --- starting jobs ----------------------------------------------------------------------------- */

int bus_job_check_limits(Manager *m, const char *owner, SmsError *e) {
        if (job_queue_active(m->jobs) >= m->max_jobs)
                return sms_error_set(e, SMS_ERROR_LIMITS_EXCEEDED, "%u jobs are already queued or running",
                                     job_queue_active(m->jobs));
        if (owner && bus_job_owned_active(m, owner) >= m->max_jobs_per_caller)
                return sms_error_set(e, SMS_ERROR_LIMITS_EXCEEDED, "%s already has %u jobs queued or running", owner,
                                     m->max_jobs_per_caller);
        return 0;
}

/* A job row that never reached the queue: failed, not left QUEUED (which the next start would
 * report as interrupted by a stop). */
static void job_record_unqueued(Manager *m, uint64_t id, const char *why) {
        _cleanup_free_ char *text = NULL;
        uint64_t now = now_usec();

        if (asprintf(&text, "WBEM_E_FAILED: the job could not be queued: %s", why) < 0)
                text = NULL;
        StoreJob sj = { .id = id, .state = JOB_STATE_FAILED, .start_usec = 0, .end_usec = now,
                        .error_name = "Failed", .error_message = text ? text : "the job could not be queued",
                        .error_code = 4 };
        SmsError e = SMS_ERROR_NULL;
        if (store_job_update(m->site.store, &sj, &e) < 0)
                log_warning("Failed to record that job %" PRIu64 " was not queued: %s", id, e.message ? e.message : "");
        sms_error_clear(&e);
}

int bus_job_start(Manager *m, JobSpec *spec, const char *target_path, char **ret_path, SmsError *e) {
        _cleanup_free_ char *path = NULL;
        BusJob *bj;
        Job *j = NULL;
        uint64_t id;
        int r;

        r = bus_job_check_limits(m, spec->owner, e);
        if (r < 0)
                return r;

        /* Everything the job needs on the bus is allocated before it is queued: once queued, the
         * job owns spec->userdata, and nothing may fail after that. */
        bj = calloc(1, sizeof(BusJob));
        if (!bj)
                return -ENOMEM;
        *bj = (BusJob) { .manager = m, .target_path = strdup(target_path ? target_path : "/"),
                         .owner = spec->owner ? strdup(spec->owner) : NULL };
        if (!bj->target_path || (spec->owner && !bj->owner)) {
                bus_job_free(bj);
                return -ENOMEM;
        }

        StoreJob sj = {
                .operation = spec->operation,
                .target = spec->target,
                .context_id = spec->context_id,
                .uid = (uint32_t) spec->uid,
                .state = JOB_STATE_QUEUED,
                .submit_usec = now_usec(),
        };
        r = store_job_insert(m->site.store, &sj, &id, e);
        if (r < 0) {
                bus_job_free(bj);
                return r;
        }
        spec->id = id;
        path = job_path(id);
        bj->path = path ? strdup(path) : NULL;
        if (!bj->path) {
                job_record_unqueued(m, id, strerror(ENOMEM));
                bus_job_free(bj);
                return -ENOMEM;
        }

        r = job_submit(m->jobs, spec, &j);
        if (r < 0) {
                job_record_unqueued(m, id, strerror(-r));
                bus_job_free(bj);
                return sms_error_set(e, SMS_ERROR_FAILED, "cannot queue the job: %s", strerror(-r));
        }
        bj->job = job_ref(j);
        j->owner_data = bj;
        bj->next = m->bus_jobs;
        m->bus_jobs = bj;

        if (*j->context_id)
                job_record_context(m, j);
        sd_bus_emit_object_added(m->bus, bj->path);
        sd_bus_emit_signal(m->bus, SMSPROV_OBJECT_ROOT, SMSPROV_INTERFACE_PREFIX "Site", "JobNew", "to", id, bj->path);
        if (ret_path)
                *ret_path = TAKE_PTR(path);
        return 0;
}

/* --- planned jobs ------------------------------------------------------------------------------ */

BusJobPlan *bus_job_plan_free(BusJobPlan *plan) {
        if (!plan)
                return NULL;
        if (plan->spec.userdata && plan->spec.free_userdata)
                plan->spec.free_userdata(plan->spec.userdata);
        free(plan->operation);
        free(plan->target);
        free(plan->context_id);
        free(plan->owner);
        free(plan->target_path);
        free(plan);
        return NULL;
}

int bus_job_plan_new(const JobSpec *spec, const char *target_path, BusJobPlan **ret) {
        BusJobPlan *plan = calloc(1, sizeof(BusJobPlan));

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
        plan->target_path = strdup(target_path ? target_path : "/");
        if (!plan->operation || !plan->target || !plan->context_id || (spec->owner && !plan->owner) ||
            !plan->target_path) {
                bus_job_plan_free(plan);
                return -ENOMEM;
        }
        plan->spec.operation = plan->operation;
        plan->spec.target = plan->target;
        plan->spec.context_id = plan->context_id;
        plan->spec.owner = plan->owner;
        *ret = plan;
        return 0;
}

int bus_job_plan_ready(Manager *m, const BusJobPlan *plan, SmsError *e) {
        if (plan->exclusive && bus_job_target_active(m, plan->target))
                return sms_error_set(e, SMS_ERROR_BUSY, "%s has a job queued or running", plan->target);
        return bus_job_check_limits(m, plan->spec.owner, e);
}

int bus_job_plan_start(Manager *m, BusJobPlan *plan, char **ret_path, SmsError *e) {
        int r;

        /* First: a job that may not be queued shows no pending state at all. */
        r = bus_job_plan_ready(m, plan, e);
        if (r >= 0 && plan->begin)
                r = plan->begin(m, plan->spec.userdata, e);
        if (r < 0) {
                bus_job_plan_free(plan);
                return r;
        }
        r = bus_job_start(m, &plan->spec, plan->target_path, ret_path, e);
        if (r < 0) {
                if (plan->abort)
                        plan->abort(m, plan->spec.userdata);
                bus_job_plan_free(plan);
                return r;
        }
        plan->spec.userdata = NULL; /* the job's now */
        bus_job_plan_free(plan);
        return 0;
}

/* --- the Job interface ------------------------------------------------------------------------- */

static int job_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                    sd_bus_error *error) {
        BusJob *bj = bus_job_find(userdata, path);
        if (!bj)
                return 0;
        *found = bj;
        return 1;
}

static int job_enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***ret_nodes, sd_bus_error *error) {
        Manager *m = userdata;
        size_t n = 0, i = 0;
        char **nodes;
        int r;

        for (BusJob *bj = m->bus_jobs; bj; bj = bj->next)
                n++;
        nodes = calloc(n + 1, sizeof(char *));
        if (!nodes)
                return -ENOMEM;
        for (BusJob *bj = m->bus_jobs; bj; bj = bj->next)
                if (!(nodes[i++] = strdup(bj->path))) {
                        strv_free(nodes);
                        return -ENOMEM;
                }
        r = bus_introspect_check_children(m, bus, prefix, nodes, error);
        if (r < 0) {
                strv_free(nodes);
                return r;
        }
        *ret_nodes = nodes;
        return 0;
}

/* One getter for the Job properties, by name: they are few and the job holds them in different
 * shapes (progress under a lock, errors in an SmsError). */
static int job_property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        BusJob *bj = userdata;
        Job *j = bj->job;
        JobProgress p;

        pthread_mutex_lock(&j->lock);
        p = j->progress;
        pthread_mutex_unlock(&j->lock);

        if (streq(property, "Id"))
                return sd_bus_message_append(reply, "t", j->id);
        if (streq(property, "Operation"))
                return sd_bus_message_append(reply, "s", j->operation);
        if (streq(property, "Target"))
                return sd_bus_message_append(reply, "o", bj->target_path);
        if (streq(property, "ContextID"))
                return sd_bus_message_append(reply, "s", j->context_id);
        if (streq(property, "StartedByUID"))
                return sd_bus_message_append(reply, "u", (uint32_t) j->uid);
        if (streq(property, "State"))
                return sd_bus_message_append(reply, "u", (uint32_t) j->state);
        if (streq(property, "Progress"))
                return sd_bus_message_append(reply, "u", j->state == JOB_STATE_COMPLETED && p.max_progress
                                                                 ? p.max_progress : p.progress);
        if (streq(property, "MaxProgress"))
                return sd_bus_message_append(reply, "u", p.max_progress);
        if (streq(property, "ProgressText"))
                return sd_bus_message_append(reply, "s", p.text);
        if (streq(property, "Bytes"))
                return sd_bus_message_append(reply, "t", p.bytes);
        if (streq(property, "Rate"))
                return sd_bus_message_append(reply, "t", j->state == JOB_STATE_RUNNING ? p.rate : 0);
        if (streq(property, "SubmitTime"))
                return sd_bus_message_append(reply, "t", j->submit_usec);
        if (streq(property, "StartTime"))
                return sd_bus_message_append(reply, "t", j->start_usec);
        if (streq(property, "EndTime"))
                return sd_bus_message_append(reply, "t", j->end_usec);
        if (streq(property, "Cancelable"))
                return sd_bus_message_append(reply, "b", j->cancelable && j->state <= JOB_STATE_RUNNING);
        if (streq(property, "ErrorName")) {
                char name[128] = "";
                if (sms_error_is_set(&j->error))
                        snprintf(name, sizeof name, SMSPROV_ERROR_PREFIX "%s", sms_error_code_to_name(j->error.code));
                return sd_bus_message_append(reply, "s", name);
        }
        if (streq(property, "ErrorMessage"))
                return sd_bus_message_append(reply, "s", j->error.message ? j->error.message : "");
        if (streq(property, "ErrorCode"))
                return sd_bus_message_append(reply, "i", j->error_code);
        return -ENOENT;
}

static int method_cancel(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusJob *bj = userdata;
        Manager *m = bj->manager;
        SiteCaller caller;
        int r;

        r = authz_check_write(m, msg, AUTHZ_ACTION_CANCEL_JOB, &caller, error);
        if (r != 0)
                return r;
        if (bj->job->state > JOB_STATE_RUNNING)
                return bus_set_error(error, SMS_ERROR_FAILED, "job %" PRIu64 " has already finished (%s)", bj->job->id,
                                     job_state_to_result(bj->job->state));
        if (!bj->job->cancelable)
                return bus_set_error(error, SMS_ERROR_NOT_SUPPORTED, "job %" PRIu64 " (%s) cannot be canceled",
                                     bj->job->id, bj->job->operation);
        job_cancel(bj->job);
        return sd_bus_reply_method_return(msg, NULL);
}

#define JOB_PROPERTY(name, sig, flags) SD_BUS_PROPERTY(name, sig, job_property_get, 0, flags)
#define CONST SD_BUS_VTABLE_PROPERTY_CONST
#define CHANGES SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE

static const sd_bus_vtable job_vtable[] = {
        SD_BUS_VTABLE_START(0),
        JOB_PROPERTY("Id", "t", CONST),
        JOB_PROPERTY("Operation", "s", CONST),
        JOB_PROPERTY("Target", "o", CONST),
        JOB_PROPERTY("ContextID", "s", CONST),
        JOB_PROPERTY("StartedByUID", "u", CONST),
        JOB_PROPERTY("State", "u", CHANGES),
        JOB_PROPERTY("Progress", "u", CHANGES),
        JOB_PROPERTY("MaxProgress", "u", CHANGES),
        JOB_PROPERTY("ProgressText", "s", CHANGES),
        JOB_PROPERTY("Bytes", "t", CHANGES),
        JOB_PROPERTY("Rate", "t", CHANGES),
        JOB_PROPERTY("SubmitTime", "t", CONST),
        JOB_PROPERTY("StartTime", "t", CHANGES),
        JOB_PROPERTY("EndTime", "t", CHANGES),
        JOB_PROPERTY("Cancelable", "b", CHANGES),
        JOB_PROPERTY("ErrorName", "s", CHANGES),
        JOB_PROPERTY("ErrorMessage", "s", CHANGES),
        JOB_PROPERTY("ErrorCode", "i", CHANGES),
        SD_BUS_METHOD("Cancel", "", "", method_cancel, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_NAMES("Completed", "bss", SD_BUS_PARAM(Success) SD_BUS_PARAM(ErrorName)
                                 SD_BUS_PARAM(ErrorMessage), 0),
        SD_BUS_VTABLE_END,
};

int bus_job_setup(Manager *m) {
        JobQueueCallbacks callbacks = { .changed = job_changed, .finished = job_finished, .userdata = m };
        SmsError e = SMS_ERROR_NULL;
        StoreInterruptedJob *interrupted = NULL;
        size_t n = 0;
        int r;

        /* Jobs a crash cut short: failed, with a status message and their ContextID in error. */
        r = store_jobs_fail_interrupted(m->site.store, now_usec(), &interrupted, &n, &e);
        if (r < 0) {
                log_error("Failed to recover interrupted jobs: %s", e.message ? e.message : strerror(-r));
                sms_error_clear(&e);
                return r;
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *text = NULL;
                log_warning("Job %" PRIu64 " (%s %s) was interrupted by a stop; marked failed.", interrupted[i].id,
                            interrupted[i].operation, interrupted[i].target);
                if (asprintf(&text, "Job %" PRIu64 " (%s of %s) was interrupted when smsprovd stopped; it failed.",
                             interrupted[i].id, interrupted[i].operation, interrupted[i].target) < 0)
                        text = NULL;
                StoreStatusMessage msg = {
                        .message_id = 39999,
                        .message_type = 256,
                        .severity = 0xC0000000u,
                        .description = text,
                        .ins_strings = { interrupted[i].operation, interrupted[i].target, interrupted[i].context_id },
                };
                if (store_begin(m->site.store, NULL) >= 0) {
                        if (*interrupted[i].context_id)
                                store_context_status_set(m->site.store, interrupted[i].context_id, 2, 0, 1,
                                                         "smsprovd stopped while the job ran", 4,
                                                         "smsprovd stopped while the job ran", NULL);
                        if (store_status_message_add(m->site.store, &msg, NULL, NULL) < 0 ||
                            store_commit(m->site.store, NULL) < 0)
                                store_rollback(m->site.store);
                }
        }
        /* Their packages show the last good build again; what the builds left behind goes. */
        char **targets = calloc(n + 1, sizeof(char *));
        for (size_t i = 0; targets && i < n; i++)
                targets[i] = interrupted[i].target;
        site_recover_interrupted(&m->site, targets, targets ? n : 0, NULL);
        image_outputs_sweep(&m->site);
        free(targets);
        store_interrupted_jobs_free(interrupted, n);

        r = job_queue_new(2, &callbacks, &m->jobs);
        if (r < 0)
                return log_error_errno(r, "Failed to start the job workers: %m");
        r = sd_event_add_io(m->event, &m->jobs_source, job_queue_fd(m->jobs), EPOLLIN, on_jobs_ready, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the job queue: %m");
        return 0;
}

int bus_job_append_managed(BusManagedReply *w, sd_bus_error *error) {
        int r;

        for (BusJob *bj = bus_managed_manager(w)->bus_jobs; bj; bj = bj->next) {
                const BusManagedInterface iface = { JOB_INTERFACE, job_vtable, bj };
                r = bus_managed_append(w, bj->path, &iface, 1, error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int bus_job_register(Manager *m) {
        int r;

        r = sd_bus_add_fallback_vtable(m->bus, NULL, JOB_PREFIX, JOB_INTERFACE, job_vtable, job_find, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register the job objects: %m");
        r = sd_bus_add_node_enumerator(m->bus, NULL, JOB_PREFIX, job_enumerate, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the job enumerator: %m");
        return 0;
}

void bus_job_shutdown(Manager *m) {
        /* Running jobs are canceled; their work removes what it had started (temporary files)
         * and the database records them as canceled. */
        for (BusJob *bj = m->bus_jobs; bj; bj = bj->next)
                job_cancel(bj->job);
        m->jobs_source = sd_event_source_disable_unref(m->jobs_source);
        if (m->jobs) {
                /* Let the workers finish their cancellation, then record what is left. */
                for (int i = 0; i < 500 && job_queue_active(m->jobs) > 0; i++) {
                        job_queue_dispatch(m->jobs);
                        if (job_queue_active(m->jobs) > 0)
                                usleep(10000);
                }
                m->jobs = job_queue_free(m->jobs);
        }
        while (m->bus_jobs) {
                BusJob *bj = m->bus_jobs;
                m->bus_jobs = bj->next;
                if (bj->job->state <= JOB_STATE_RUNNING) {
                        bj->job->state = JOB_STATE_CANCELED;
                        bj->job->end_usec = now_usec();
                        sms_error_set(&bj->job->error, SMS_ERROR_CANCELED, "smsprovd stopped");
                        job_record(m, bj->job);
                        job_record_context(m, bj->job);
                }
                bus_job_free(bj);
        }
}
