/* SPDX-License-Identifier: MIT */

/* Job objects at /org/smsprov/Provider1/job/_<Id> (API.md §5, org.smsprov.Provider1.Job): the
 * bus face of the engine's jobs (site-jobs.h), which keeps them, records them and forgets them
 * after the linger time. Progress is coalesced here to one PropertiesChanged per 100 ms per job. */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus/bus-job.h"
#include "bus/bus-managed.h"
#include "bus/bus-util.h"
#include "smsprov/macro.h"
#include "smsprov/site-jobs.h"
#include "util/log.h"
#include "util/time-util.h"

#define JOB_PREFIX SMSPROV_OBJECT_ROOT "/job"
#define JOB_INTERFACE SMSPROV_INTERFACE_PREFIX "Job"
#define JOB_COALESCE_USEC (100 * USEC_PER_MSEC)

/* The bus layer's side of a job (SiteJob.observer_data): its pending PropertiesChanged. Made at
 * the first progress; without it (out of memory) each change is emitted at once. */
typedef struct BusJob {
        Manager *manager;
        SiteJob *job;
        sd_event_source *coalesce;
} BusJob;

char *bus_job_path(uint64_t id) {
        char *p = NULL;
        if (asprintf(&p, JOB_PREFIX "/_%" PRIu64, id) < 0)
                return NULL;
        return p;
}

int bus_job_reply(sd_bus_message *msg, uint64_t id) {
        _cleanup_free_ char *path = id ? bus_job_path(id) : strdup("/");
        if (!path)
                return -ENOMEM;
        return sd_bus_reply_method_return(msg, "o", path);
}

/* The object a job works on: a package, the site (the content library's scrub), or none. */
static char *job_target_path(const Job *j) {
        const char *dot = strchr(j->target, '.');
        _cleanup_free_ char *name = dot ? strndup(j->target, (size_t) (dot - j->target)) : NULL;
        const SmsClass *c = name ? sms_model_find_class(name) : NULL;

        if (c)
                return instance_path(c, dot + 1);
        return strdup(dot && streq(j->target, "Site.contentlib") ? SMSPROV_OBJECT_ROOT : "/");
}

static SiteJob *job_from_path(Manager *m, const char *path) {
        static const char prefix[] = JOB_PREFIX "/_";
        const char *p = path + sizeof prefix - 1;
        char *end;
        uint64_t id;

        if (strncmp(path, prefix, sizeof prefix - 1) != 0 || !*p || *p == '0')
                return NULL;
        errno = 0;
        id = strtoull(p, &end, 10);
        if (errno || *end)
                return NULL;
        return site_job_find(&m->site, id);
}

static BusJob *bus_job_free(BusJob *bj) {
        if (!bj)
                return NULL;
        sd_event_source_disable_unref(bj->coalesce);
        free(bj);
        return NULL;
}

/* --- signals (the observer's job calls) -------------------------------------------------------- */

static void emit_progress(Manager *m, SiteJob *sj) {
        _cleanup_free_ char *path = bus_job_path(sj->job->id);
        if (path)
                sd_bus_emit_properties_changed(m->bus, path, JOB_INTERFACE, "State", "Progress", "MaxProgress",
                                               "ProgressText", "Bytes", "Rate", "StartTime", NULL);
}

static int on_coalesce(sd_event_source *s, uint64_t usec, void *userdata) {
        BusJob *bj = userdata;

        bj->coalesce = sd_event_source_disable_unref(bj->coalesce);
        emit_progress(bj->manager, bj->job);
        return 0;
}

void bus_job_added(void *userdata, SiteJob *sj) {
        Manager *m = userdata;
        _cleanup_free_ char *path = bus_job_path(sj->job->id);

        if (!path)
                return;
        sd_bus_emit_object_added(m->bus, path);
        sd_bus_emit_signal(m->bus, SMSPROV_OBJECT_ROOT, SMSPROV_INTERFACE_PREFIX "Site", "JobNew", "to", sj->job->id,
                           path);
}

void bus_job_changed(void *userdata, SiteJob *sj) {
        Manager *m = userdata;
        BusJob *bj = sj->observer_data;

        if (!bj) {
                bj = calloc(1, sizeof(BusJob));
                if (!bj) {
                        emit_progress(m, sj);
                        return;
                }
                *bj = (BusJob) { .manager = m, .job = sj };
                sj->observer_data = bj;
        }
        if (bj->coalesce)
                return;
        if (sd_event_add_time_relative(m->event, &bj->coalesce, CLOCK_MONOTONIC, JOB_COALESCE_USEC, 0, on_coalesce,
                                       bj) < 0)
                emit_progress(m, sj);
}

void bus_job_finished(void *userdata, SiteJob *sj) {
        Manager *m = userdata;
        BusJob *bj = sj->observer_data;
        Job *j = sj->job;
        _cleanup_free_ char *path = bus_job_path(j->id);
        const char *error_name = "";
        char name[128] = "";

        if (bj)
                bj->coalesce = sd_event_source_disable_unref(bj->coalesce);
        if (!path)
                return;
        sd_bus_emit_properties_changed(m->bus, path, JOB_INTERFACE, "State", "Progress", "MaxProgress",
                                       "ProgressText", "Bytes", "Rate", "StartTime", "EndTime", "Cancelable",
                                       "ErrorName", "ErrorMessage", "ErrorCode", NULL);
        if (sms_error_is_set(&j->error)) {
                snprintf(name, sizeof name, SMSPROV_ERROR_PREFIX "%s", sms_error_code_to_name(j->error.code));
                error_name = name;
        }
        sd_bus_emit_signal(m->bus, path, JOB_INTERFACE, "Completed", "bss", j->state == JOB_STATE_COMPLETED,
                           error_name, j->error.message ? j->error.message : "");
        sd_bus_emit_signal(m->bus, SMSPROV_OBJECT_ROOT, SMSPROV_INTERFACE_PREFIX "Site", "JobRemoved", "tos", j->id,
                           path, site_job_result(sj));
}

void bus_job_removed(void *userdata, SiteJob *sj) {
        Manager *m = userdata;
        _cleanup_free_ char *path = bus_job_path(sj->job->id);

        if (path && m->bus)
                sd_bus_emit_interfaces_removed(m->bus, path, JOB_INTERFACE, NULL);
        sj->observer_data = bus_job_free(sj->observer_data);
}

/* --- the Job interface ------------------------------------------------------------------------- */

static int job_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                    sd_bus_error *error) {
        SiteJob *sj = job_from_path(userdata, path);
        if (!sj)
                return 0;
        *found = sj;
        return 1;
}

static int job_enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***ret_nodes, sd_bus_error *error) {
        Manager *m = userdata;
        size_t n = site_jobs_count(&m->site), i = 0;
        char **nodes;
        int r;

        nodes = calloc(n + 1, sizeof(char *));
        if (!nodes)
                return -ENOMEM;
        for (SiteJob *sj = m->site.site_jobs; sj; sj = sj->next)
                if (!(nodes[i++] = bus_job_path(sj->job->id))) {
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
        SiteJob *sj = userdata;
        Job *j = sj->job;
        JobProgress p;

        p = site_job_progress(sj);

        if (streq(property, "Id"))
                return sd_bus_message_append(reply, "t", j->id);
        if (streq(property, "Operation"))
                return sd_bus_message_append(reply, "s", j->operation);
        if (streq(property, "Target")) {
                _cleanup_free_ char *target = job_target_path(j);
                return target ? sd_bus_message_append(reply, "o", target) : -ENOMEM;
        }
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
        SiteJob *sj = userdata;
        Manager *m = sd_bus_slot_get_userdata(sd_bus_get_current_slot(sd_bus_message_get_bus(msg)));
        SmsError e = SMS_ERROR_NULL;
        SiteCaller caller;
        int r;

        r = authz_check_write(m, msg, AUTHZ_ACTION_CANCEL_JOB, &caller, error);
        if (r != 0)
                return r;
        r = site_job_cancel(sj, &e);
        if (r < 0)
                return bus_reply_error_take(error, &e, r);
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

int bus_job_append_managed(BusManagedReply *w, sd_bus_error *error) {
        int r;

        for (SiteJob *sj = bus_managed_manager(w)->site.site_jobs; sj; sj = sj->next) {
                _cleanup_free_ char *path = bus_job_path(sj->job->id);
                const BusManagedInterface iface = { JOB_INTERFACE, job_vtable, sj };
                if (!path)
                        return -ENOMEM;
                r = bus_managed_append(w, path, &iface, 1, error);
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
