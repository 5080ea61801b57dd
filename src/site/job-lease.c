/* SPDX-License-Identifier: MIT */

/* Jobs' hosts and leases (site-jobs.h): a host fails its own jobs that a stop cut short when it
 * starts, renews the lease of the jobs it runs from its loop, and fails the jobs of a host whose
 * lease ran out (that host stopped) when it starts and on the same timer. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smsprov/image-outputs.h"
#include "smsprov/macro.h"
#include "smsprov/site-jobs.h"
#include "util/log.h"
#include "util/time-util.h"

/* The two kinds of interrupted job: this host's own, cut short by its stop, and another host's,
 * whose lease ran out. The texts are printf formats of the job's id, operation, target and host
 * (the reason: of the host). */
typedef struct Interruption {
        int (*fail)(Store *s, uint64_t now_usec, StoreInterruptedJob **ret, size_t *ret_n, SmsError *e);
        const char *log;
        const char *status; /* the status message */
        const char *reason; /* the ContextID's status */
        bool own;           /* its build leftovers are in this host's state directory */
} Interruption;

static const Interruption interruptions[] = {
        {
                .fail = store_jobs_fail_interrupted,
                .log = "Job %" PRIu64 " (%s %s) was interrupted by a stop of %s; marked failed.",
                .status = "Job %" PRIu64 " (%s of %s) was interrupted when smsprovd on %s stopped; it failed.",
                .reason = "smsprovd stopped while the job ran (on host %s)",
                .own = true,
        },
        {
                .fail = store_jobs_fail_expired,
                .log = "Job %" PRIu64 " (%s %s) of host %s: its lease ran out; marked failed.",
                .status = "Job %" PRIu64 " (%s of %s) failed: host %s, which ran it, stopped renewing its lease.",
                .reason = "host %s stopped while the job ran: its lease on the job ran out",
        },
};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral" /* the formats of the table above */
/* Jobs a stop cut short: failed, with a status message and their ContextID in error; their
 * packages show the last good build again, and what this host's builds left behind goes. */
static int fail_jobs(Site *site, const Interruption *in) {
        SmsError e = SMS_ERROR_NULL;
        StoreInterruptedJob *jobs = NULL;
        size_t n = 0;
        int r;

        r = in->fail(site->store, now_usec(), &jobs, &n, &e);
        if (r < 0) {
                log_error("Failed to recover interrupted jobs: %s", e.message ? e.message : strerror(-r));
                sms_error_clear(&e);
                return r;
        }
        for (size_t i = 0; i < n; i++) {
                const StoreInterruptedJob *j = &jobs[i];
                _cleanup_free_ char *text = NULL, *reason = NULL;

                log_warning(in->log, j->id, j->operation, j->target, j->host);
                if (asprintf(&text, in->status, j->id, j->operation, j->target, j->host) < 0)
                        text = NULL;
                if (asprintf(&reason, in->reason, j->host) < 0)
                        reason = NULL;
                StoreStatusMessage msg = {
                        .message_id = 39999,
                        .message_type = 256,
                        .severity = 0xC0000000u,
                        .description = text,
                        .ins_strings = { j->operation, j->target, j->context_id },
                };
                if (store_begin(site->store, NULL) >= 0) {
                        if (*j->context_id)
                                store_context_status_set(site->store, j->context_id, 2, 0, 1, reason, 4, reason, NULL);
                        if (store_status_message_add(site->store, &msg, NULL, NULL) < 0 ||
                            store_commit(site->store, NULL) < 0)
                                store_rollback(site->store);
                }
        }
        char **targets = calloc(n + 1, sizeof(char *));
        for (size_t i = 0; targets && i < n; i++)
                targets[i] = jobs[i].target;
        if (in->own) {
                site_recover_interrupted(site, targets, targets ? n : 0, NULL);
                image_outputs_sweep(site);
        } else
                site_reset_interrupted_packages(site, targets, targets ? n : 0);
        free(targets);
        store_interrupted_jobs_free(jobs, n);
        return 0;
}
#pragma GCC diagnostic pop

static uint64_t lease_usec(const Site *site) {
        return site->job_lease_usec ? site->job_lease_usec : SITE_DEFAULT_JOB_LEASE_USEC;
}

uint64_t site_job_lease_expiry(Site *site) {
        return now_usec() + lease_usec(site);
}

/* A third of the lease: a renewal may come late twice before the lease runs out. */
static uint64_t lease_interval(Site *site) {
        return lease_usec(site) / 3;
}

static int on_lease_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        Site *site = userdata;
        SmsError e = SMS_ERROR_NULL;

        if (store_jobs_renew(site->store, site_job_lease_expiry(site), &e) < 0)
                log_warning("Failed to renew the lease of this host's jobs: %s", e.message ? e.message : "");
        sms_error_clear(&e);
        (void) fail_jobs(site, &interruptions[1]);
        (void) sd_event_source_set_time_relative(source, lease_interval(site));
        return 0;
}

int site_job_leases_start(Site *site, sd_event *event) {
        int r;

        for (size_t i = 0; i < ELEMENTSOF(interruptions); i++) {
                r = fail_jobs(site, &interruptions[i]);
                if (r < 0)
                        return r;
        }
        if (!event)
                return 0;
        r = sd_event_add_time_relative(event, &site->lease_source, CLOCK_MONOTONIC, lease_interval(site), 0,
                                       on_lease_timer, site);
        if (r < 0)
                return log_error_errno(r, "Failed to start the timer of the job leases: %m");
        return sd_event_source_set_enabled(site->lease_source, SD_EVENT_ON);
}

void site_job_leases_stop(Site *site) {
        site->lease_source = sd_event_source_disable_unref(site->lease_source);
}
