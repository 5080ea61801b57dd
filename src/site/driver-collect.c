/* SPDX-License-Identifier: MIT */

/* Collecting the driver catalog's copies that no SMS_Driver names any more (site-drivers.h):
 * after a driver's Delete and when the jobs start (a crash may have come between a Delete and
 * its collection).
 *
 * Decided on the main thread, which can read the catalog; done on an idle worker of the job queue
 * under the import lock, which imports hold while they look for an existing copy or make one. An
 * import that began after the decision may have found a copy the decision thought unnamed: the
 * worker then leaves everything to the next collection (the import serial tells it). A copy a
 * running build may still stage is not collected either: nothing is while a boot image has a job
 * queued or running. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "smsprov/content.h"
#include "smsprov/job.h"
#include "smsprov/macro.h"
#include "smsprov/site-drivers.h"
#include "smsprov/site-jobs.h"
#include "util/log.h"

typedef struct Collect {
        char *site_lib, *lock;
        char **keep;                /* the copies driver rows name (package IDs) */
        const uint64_t *serial;     /* Site.driver_import_serial, read on the worker */
        uint64_t serial_decided;
} Collect;

static void collect_free(Collect *c) {
        free(c->site_lib);
        free(c->lock);
        strv_free(c->keep);
        free(c);
}

static void collect_run(void *p) {
        Collect *c = p;
        _cleanup_strv_free_ char **ids = NULL;
        _cleanup_close_ int lock_fd = -1;
        SmsError e = SMS_ERROR_NULL;

        /* No lock file: no import ever ran, so there is no copy to collect. */
        lock_fd = open(c->lock, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (lock_fd < 0 || flock(lock_fd, LOCK_EX) < 0 ||
            __atomic_load_n(c->serial, __ATOMIC_ACQUIRE) != c->serial_decided) {
                collect_free(c);
                return;
        }
        if (content_site_list(c->site_lib, "DRV-", &ids, &e) < 0)
                log_warning("Failed to list the driver catalog's copies: %s", e.message);
        for (char **id = ids; id && *id; id++) {
                if (strv_contains(c->keep, *id))
                        continue;
                if (content_site_remove(c->site_lib, *id, &e) < 0) {
                        log_warning("Failed to remove the unused driver copy %s: %s", *id, e.message);
                        sms_error_clear(&e);
                } else
                        log_info("Removed the driver copy %s, which no driver names any more.", *id);
        }
        sms_error_clear(&e);
        collect_free(c);
}

/* Is a job of a boot image queued or running (a build that may stage a driver's copy)? */
static bool boot_image_job_active(Site *site) {
        static const char prefix[] = "SMS_BootImagePackage.";

        for (SiteJob *sj = site->site_jobs; sj; sj = sj->next)
                if (sj->job->state <= JOB_STATE_RUNNING && strncmp(sj->job->target, prefix, strlen(prefix)) == 0)
                        return true;
        return false;
}

/* The package IDs of the copies the catalog's rows name. */
static int named_copies(Site *site, char ***ret, SmsError *e) {
        _cleanup_(wql_query_freep) WqlQuery *q = NULL;
        _cleanup_strv_free_ char **keep = NULL;
        WqlRow *rows = NULL;
        size_t n = 0;
        int r;

        /* Every row, however many: the site's own question, not a caller's. */
        r = site_query_in(site->store, SIZE_MAX, "SELECT ContentSourcePath FROM SMS_Driver", &q, &rows, &n, e);
        if (r < 0)
                return r;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const char *path = rows[i].values[0].null ? NULL : rows[i].values[0].str, *slash;
                if (path && (slash = strrchr(path, '/')))
                        r = strv_extend(&keep, slash + 1);
        }
        wql_rows_free(rows, n, q->n_columns);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(keep);
        return 0;
}

void site_driver_collect(Site *site) {
        SmsError e = SMS_ERROR_NULL;
        Collect *c;
        int r;

        /* A library other hosts share (--library-dir): their imports on the way are not counted
         * here, so nothing is collected; the copies stay, as before collection existed. */
        if (!site->jobs || !site->library_dir || !streq(site->library_dir, site->state_dir))
                return;
        /* An import on its way may name a copy the rows do not yet: the next collection decides. */
        if (site->driver_imports > 0 || boot_image_job_active(site))
                return;
        c = calloc(1, sizeof(Collect));
        if (!c)
                return;
        c->serial = &site->driver_import_serial;
        c->serial_decided = site->driver_import_serial;
        r = named_copies(site, &c->keep, &e);
        if (r >= 0)
                r = site_driver_paths(site->library_dir, &c->site_lib, &c->lock);
        if (r < 0) {
                log_warning("Not collecting unused driver copies: %s", e.message ? e.message : strerror(-r));
                sms_error_clear(&e);
                collect_free(c);
                return;
        }
        job_queue_run_later(site->jobs, collect_run, c);
}
