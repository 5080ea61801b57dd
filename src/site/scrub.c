/* SPDX-License-Identifier: MIT */

/* The scrub of the site's content library (site-scrub.h; API.md §5, Site.ScrubContentLibrary, and
 * --scrub-interval): a job that hashes every library file again, the only way to find damage that
 * left a file's metadata alone. What differs is removed from the library (content_site_scrub) and
 * named in a status message; each package naming it is distributed again to its DPs, whose
 * distribution job reads the package source first and so takes the file again from it where the
 * source still has those bytes (the DPs keep their own good copies meanwhile). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smsprov/content.h"
#include "smsprov/macro.h"
#include "smsprov/site-distribution.h"
#include "smsprov/site-jobs.h"
#include "smsprov/site-recover.h"
#include "smsprov/site-scrub.h"
#include "util/log.h"

/* After distmgr's 2301-2305 (distribution.c). */
enum {
        MESSAGE_SCRUBBED = 2306,
        MESSAGE_SCRUB_FOUND = 2307,
};

#define SCRUB_NAMED_MAX 20 /* hashes one status message names; the rest are counted */

typedef struct Scrub {
        Site *site;
        SiteCaller caller;
        char **bad, **packages;
} Scrub;

static void scrub_free(void *p) {
        Scrub *s = p;
        strv_free(s->bad);
        strv_free(s->packages);
        free(s);
}

static bool scrub_progress(void *userdata, uint64_t done, uint64_t total, const char *text) {
        Job *job = userdata;
        job_set_progress(job, total ? (uint32_t) (done >= total ? 100 : done * 100 / total) : 0, 100, done, total,
                         text);
        return job_should_continue(job);
}

static int scrub_work(Job *job, void *userdata, SmsError *e) {
        Scrub *s = userdata;
        _cleanup_free_ char *lib = NULL;

        if (asprintf(&lib, "%s/contentlib", s->site->library_dir) < 0)
                return -ENOMEM;
        /* The scrub removes files: not before the start-up recovery has swept the library
         * (site-recover.h), the gate every writer of it passes. */
        site_recover_once(lib);
        return content_site_scrub(lib, scrub_progress, job, &s->bad, &s->packages, e);
}

/* "<hash>, <hash> and 3 more" */
static char *list_names(char **l) {
        _cleanup_free_ char *text = NULL;
        size_t n = strv_length(l), size = 0;
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return NULL;
        for (size_t i = 0; i < n && i < SCRUB_NAMED_MAX; i++)
                fprintf(f, "%s%s", i ? ", " : "", l[i]);
        if (n > SCRUB_NAMED_MAX)
                fprintf(f, " and %zu more", n - SCRUB_NAMED_MAX);
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(text);
}

/* Main thread: the status message, then the packages' distributions. */
static int scrub_finish(Job *job, void *userdata, int result, SmsError *e) {
        Scrub *s = userdata;
        Site *site = s->site;
        _cleanup_free_ char *files = NULL, *packages = NULL, *text = NULL;
        size_t n;

        if (result < 0)
                return result;
        n = strv_length(s->bad);
        if (n == 0) {
                (void) site_report(site, MESSAGE_SCRUBBED, 0x40000000u, &s->caller, "Site", "contentlib",
                                   "content library scrubbed: every file matches its SHA-256");
                return 0;
        }
        files = list_names(s->bad);
        packages = list_names(s->packages);
        if (!files || !packages ||
            asprintf(&text,
                     "content library scrubbed: %zu file%s did not match %s SHA-256 and %s removed (%s); packages "
                     "naming them, distributed again from their sources: %s",
                     n, n == 1 ? "" : "s", n == 1 ? "its" : "their", n == 1 ? "was" : "were", files,
                     *packages ? packages : "none") < 0)
                return -ENOMEM;
        log_warning("%s", text);
        (void) site_report(site, MESSAGE_SCRUB_FOUND, 0xC0000000u, &s->caller, "Site", "contentlib", text);
        job_set_progress(job, 100, 100, 0, 0, text);

        for (char **id = s->packages; id && *id; id++) {
                const SmsClass *c = NULL;
                SmsError inner = SMS_ERROR_NULL;
                if (site_package_class(site, *id, &c, &inner) < 0) {
                        /* Deleted since: nothing to distribute. Anything else is said. */
                        if (inner.code != SMS_ERROR_NOT_FOUND)
                                log_warning("Failed to distribute %s again after the scrub: %s", *id,
                                            inner.message ? inner.message : "");
                } else if (site_distribution_package_updated(site, c, *id, false, &s->caller, NULL) < 0)
                        log_warning("Failed to distribute %s again after the scrub.", *id);
                sms_error_clear(&inner);
        }
        return 0;
}

int site_scrub_start(Site *site, const SiteCaller *caller, uint64_t *ret_job, SmsError *e) {
        Scrub *s;
        int r;

        /* One at a time: a second would read everything again for nothing. */
        if (site_job_target_active(site, "Site.contentlib"))
                return sms_error_set(e, SMS_ERROR_BUSY, "a scrub of the content library is queued or running");
        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        *s = (Scrub) { .site = site, .caller = site_caller_keep(caller) };
        JobSpec spec = site_job_spec("ScrubContentLibrary", "Site.contentlib", caller, scrub_work, scrub_finish, s,
                                     scrub_free);
        r = site_job_start(site, &spec, ret_job, e);
        if (r < 0)
                scrub_free(s);
        return r;
}

static int on_scrub_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        Site *site = userdata;
        SiteCaller daemon = { .uid = 0 };
        SmsError e = SMS_ERROR_NULL;

        if (site_scrub_start(site, &daemon, NULL, &e) < 0)
                log_warning("Scheduled scrub of the content library not started: %s", e.message ? e.message : "");
        sms_error_clear(&e);
        (void) sd_event_source_set_time_relative(source, site->scrub_interval_usec);
        return sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
}

int site_scrub_schedule(Site *site, uint64_t interval_usec) {
        site->scrub_interval_usec = interval_usec;
        site->scrub_source = sd_event_source_disable_unref(site->scrub_source);
        if (interval_usec == 0)
                return 0;
        return sd_event_add_time_relative(site->event, &site->scrub_source, CLOCK_MONOTONIC, interval_usec,
                                          interval_usec / 100, on_scrub_timer, site);
}
