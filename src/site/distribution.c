/* SPDX-License-Identifier: MIT */

/* SiteDistribution: putting package versions on distribution points (reference §3.9, §7.9, §7.10).
 * A distribution job takes the package's current version into the site's content library once,
 * then publishes it on each target DP; each DP's outcome lands in its
 * SMS_PackageStatusDistPointsSummarizer state, and one DP failing does not stop the others. */

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smsprov/content.h"
#include "smsprov/macro.h"
#include "smsprov/site-distribution.h"
#include "smsprov/site-jobs.h"
#include "smsprov/site-recover.h"
#include "util/log.h"
#include "util/parallel.h"
#include "util/time-util.h"

/* Status message IDs for distribution outcomes, after distmgr's 2301 ("processed package"). */
enum {
        MESSAGE_DISTRIBUTED = 2301,
        MESSAGE_DISTRIBUTION_FAILED = 2302,
        MESSAGE_REMOVED = 2303,
        MESSAGE_VERIFIED = 2304,
        MESSAGE_VERIFY_FAILED = 2305,
};

typedef struct Target {
        char *nal;
        char *content_root;  /* the DP's ContentRoot as registered */
        char *dp_root;       /* as the work resolved it */
        ContentLinkMode mode;
        char *pxe_name;      /* boot image on a PXE DP: its name in the PXE store */
        atomic_bool cancel;  /* CancelDistribution of this DP */
        atomic_uint pct;     /* progress of this DP's part, 0-100 */
        atomic_uint_fast64_t done_bytes, total_bytes;
        int result;
        SmsError error;
        char **bad_paths;    /* VerifyPackage */
} Target;

struct SiteDistribution {
        Site *site;
        const SmsClass *class;
        char *package_id;
        uint32_t version;
        char *source;        /* what the package's content is: a file or a folder */
        ContentRoots roots;  /* the site's, for the work to resolve `source` beneath one */
        Site dp_scope;       /* site_dp_scope_copy(), for the work to resolve each ContentRoot */
        SiteDistributionAction action;
        bool source_failed;  /* the package's content could not be read: every DP fails */
        Target *targets;
        size_t n_targets;
        SiteCaller caller;
        Job *job;            /* while running */
        SiteDistribution *next; /* the site's list of running distributions */
};

static void distribution_free(void *p) {
        SiteDistribution *d = p;
        for (size_t i = 0; i < d->n_targets; i++) {
                free(d->targets[i].nal);
                free(d->targets[i].content_root);
                free(d->targets[i].dp_root);
                free(d->targets[i].pxe_name);
                sms_error_clear(&d->targets[i].error);
                strv_free(d->targets[i].bad_paths);
        }
        free(d->targets);
        free(d->package_id);
        free(d->source);
        content_roots_done(&d->roots);
        site_dp_scope_done(&d->dp_scope);
        free(d);
}

static char *site_library(Site *site) {
        char *p = NULL;
        if (asprintf(&p, "%s/contentlib", site->library_dir) < 0)
                return NULL;
        return p;
}

/* Where the work may find the package's content: beneath a content root, or for a boot image
 * (whose PkgSourcePath is the image the daemon built) beneath the state directory's images/. */
static int distribution_roots(Site *site, const SmsClass *c, ContentRoots *ret) {
        _cleanup_free_ char *images = NULL;

        if (sms_class_find_property(c, "ImagePath") < 0)
                return content_roots_copy(&site->roots, ret);
        if (asprintf(&images, "%s/images", site->library_dir) < 0)
                return -ENOMEM;
        *ret = (ContentRoots) {};
        /* Missing (nothing built yet): no root, and the work refuses the source as outside. */
        int r = content_roots_add(ret, images, NULL);
        return r == -ENOMEM ? r : 0;
}

/* The key text of a package's assignment to a DP (SMS_DistributionPoint and its summarizer). */
static char *assignment_key(const char *package_id, const char *nal, const char *site_code) {
        const SmsClass *c = sms_model_find_class("SMS_DistributionPoint");
        CimValue id = { .type = CIM_STRING, .str = (char *) package_id }, n = { .type = CIM_STRING, .str = (char *) nal },
                 s = { .type = CIM_STRING, .str = (char *) site_code };
        const CimValue *values[] = { &id, &n, &s };
        char *key = NULL;
        /* Declaration order of the keys: PackageID, ServerNALPath, SiteCode. */
        if (sms_class_key_format(c, values, &key) < 0)
                return NULL;
        return key;
}

/* Writes the summarizer's state of one assignment (and its status message). */
static void set_state(Site *site, const char *package_id, const char *nal, uint32_t state, int64_t version,
                      bool copied, int retries, const SiteCaller *caller) {
        const SmsClass *c = sms_model_find_class("SMS_PackageStatusDistPointsSummarizer");
        _cleanup_free_ char *key = assignment_key(package_id, nal, store_site_code(site->store));
        _cleanup_free_ size_t *changed = NULL;
        SiteChange values[5];
        size_t n = 0, n_changed = 0;
        uint64_t now = now_usec();

        if (!key)
                return;
        values[n++] = (SiteChange) { .index = (size_t) sms_class_find_property(c, "State"),
                                     .value = cim_value_uint(CIM_UINT32, state) };
        values[n++] = (SiteChange) { .index = (size_t) sms_class_find_property(c, "SummaryDate"),
                                     .value = cim_value_uint(CIM_DATETIME, now) };
        if (version >= 0)
                values[n++] = (SiteChange) { .index = (size_t) sms_class_find_property(c, "SourceVersion"),
                                             .value = cim_value_uint(CIM_UINT32, (uint64_t) version) };
        if (copied)
                values[n++] = (SiteChange) { .index = (size_t) sms_class_find_property(c, "LastCopied"),
                                             .value = cim_value_uint(CIM_DATETIME, now) };
        if (retries >= 0)
                values[n++] = (SiteChange) { .index = (size_t) sms_class_find_property(c, "RetryCount"),
                                             .value = cim_value_uint(CIM_UINT32, (uint64_t) retries) };
        if (site_object_set_derived(site, c, key, values, n, caller, "updated the distribution state of",
                                    &changed, &n_changed, NULL) >= 0)
                site_notify_changed(site, c, key, changed, n_changed);
}

static void report(Site *site, uint32_t id, bool error, const SiteCaller *caller, const char *package_id,
                   const char *nal, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static void report(Site *site, uint32_t id, bool error, const SiteCaller *caller, const char *package_id,
                   const char *nal, const char *fmt, ...) {
        _cleanup_free_ char *text = NULL, *detail = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&detail, fmt, ap) < 0)
                detail = NULL;
        va_end(ap);
        if (asprintf(&text, "%s on %s: %s", package_id, nal, detail ? detail : "") < 0)
                return;
        site_report(site, id, error ? 0xC0000000u : 0x40000000u, caller, "SMS_DistributionPoint", package_id, text);
}

/* --- the work ------------------------------------------------------------------------------------ */

typedef struct TargetProgress {
        Job *job;
        SiteDistribution *d; /* NULL while the source is read */
        Target *target;
} TargetProgress;

/* The DPs run at once: the job's progress is their mean, its bytes their sums. */
static bool target_progress(void *userdata, uint64_t done, uint64_t total, const char *text) {
        TargetProgress *tp = userdata;
        uint32_t pct = total ? (uint32_t) (done >= total ? 100 : done * 100 / total) : 0;
        uint64_t sum_pct = 0, sum_done = 0, sum_total = 0;

        if (!tp->d) {
                job_set_progress(tp->job, pct, 100, done, total, text);
                return job_should_continue(tp->job);
        }
        atomic_store(&tp->target->pct, pct);
        atomic_store(&tp->target->done_bytes, done);
        atomic_store(&tp->target->total_bytes, total);
        for (size_t i = 0; i < tp->d->n_targets; i++) {
                Target *t = &tp->d->targets[i];
                sum_pct += atomic_load(&t->pct);
                sum_done += atomic_load(&t->done_bytes);
                sum_total += atomic_load(&t->total_bytes);
        }
        job_set_progress(tp->job, (uint32_t) (sum_pct / tp->d->n_targets), 100, sum_done, sum_total, text);
        return job_should_continue(tp->job) && !atomic_load(&tp->target->cancel);
}

typedef struct TargetRun {
        Job *job;
        SiteDistribution *d;
        const char *lib;
} TargetRun;

#define VERIFY_NAMED_MAX 20 /* paths one status message names; the rest are counted */

/* "a.wim, sub/b.txt and 3 more" */
static char *list_paths(char **l) {
        _cleanup_free_ char *text = NULL;
        size_t n = strv_length(l), size = 0;
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return NULL;
        for (size_t i = 0; i < n && i < VERIFY_NAMED_MAX; i++)
                fprintf(f, "%s%s", i ? ", " : "", l[i]);
        if (n > VERIFY_NAMED_MAX)
                fprintf(f, " and %zu more", n - VERIFY_NAMED_MAX);
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(text);
}

/* One DP's part; on a thread of its own, beside the other DPs'. */
static void run_target(size_t i, void *userdata) {
        TargetRun *run = userdata;
        SiteDistribution *d = run->d;
        Target *t = &d->targets[i];
        TargetProgress tp = { .job = run->job, .d = d, .target = t };

        if (!job_should_continue(run->job)) {
                t->result = sms_error_set(&t->error, SMS_ERROR_CANCELED, "canceled");
                return;
        }
        /* Resolved here, where it is used, never on the event loop: the directory may be on a
         * mount that never answers. And again at each use: --dp-root may have changed since the
         * DP was registered, the directory may be gone. A DP that fails it fails alone, and is
         * not touched. */
        t->result = site_dp_root_resolve(&d->dp_scope, t->content_root, &t->dp_root, &t->error);
        if (t->result < 0) {
                atomic_store(&t->pct, 100);
                return;
        }
        /* Not before the start-up recovery of this DP's library has swept it (site-recover.h). */
        _cleanup_free_ char *dp_lib = NULL;
        if (asprintf(&dp_lib, "%s/SCCMContentLib", t->dp_root) < 0) {
                t->result = -ENOMEM;
                return;
        }
        site_recover_once(dp_lib);
        switch (d->action) {
        case SITE_DISTRIBUTE:
                t->result = content_dp_distribute(run->lib, t->dp_root, d->package_id, d->version, t->mode,
                                                  t->pxe_name, target_progress, &tp, NULL, &t->error);
                break;
        case SITE_REMOVE_CONTENT:
                t->result = content_dp_remove(t->dp_root, d->package_id, target_progress, &tp, &t->error);
                break;
        case SITE_VERIFY_CONTENT:
                t->result = content_dp_verify(t->dp_root, d->package_id, target_progress, &tp, &t->bad_paths,
                                              &t->error);
                if (t->result >= 0 && t->bad_paths && t->bad_paths[0]) {
                        _cleanup_free_ char *names = list_paths(t->bad_paths);
                        size_t n = strv_length(t->bad_paths);
                        t->result = names ? sms_error_set(&t->error, SMS_ERROR_FAILED,
                                                          "%zu file%s differ%s from %s SHA-256 (FileLib entry or "
                                                          "published file): %s",
                                                          n, n == 1 ? "" : "s", n == 1 ? "s" : "",
                                                          n == 1 ? "its" : "their", names)
                                          : -ENOMEM;
                }
                break;
        }
        atomic_store(&t->pct, 100);
}

static int distribution_work(Job *job, void *userdata, SmsError *e) {
        SiteDistribution *d = userdata;
        _cleanup_free_ char *lib = site_library(d->site);
        int r;

        if (!lib)
                return -ENOMEM;
        if (d->action == SITE_DISTRIBUTE) {
                site_recover_once(lib); /* the site library is swept before it is written */
                ContentManifest manifest = {};
                TargetProgress tp = { .job = job };
                _cleanup_close_ int source_fd = -1;
                job_set_progress(job, 0, 100, 0, 0, "Reading the package source");
                /* Resolved again here, where it is read: what was checked when PkgSourcePath was
                 * set may have been renamed and replaced by a link since. */
                r = content_roots_resolve(&d->roots, d->source, PATH_KIND_ANY, &source_fd, e);
                if (r >= 0)
                        r = content_site_ingest_fd(lib, d->package_id, d->version, source_fd, d->source,
                                                   target_progress, &tp, &manifest, e);
                content_manifest_done(&manifest);
                if (r < 0) {
                        d->source_failed = true;
                        return r;
                }
        }

        size_t failed = 0;
        parallel_for(d->n_targets, CONTENT_DP_PARALLEL, run_target, &(TargetRun) { .job = job, .d = d, .lib = lib });
        for (size_t i = 0; i < d->n_targets; i++)
                failed += d->targets[i].result < 0;
        if (failed == 0)
                return 0;
        if (d->n_targets == 1)
                return sms_error_set(e, d->targets[0].error.code, "%s", d->targets[0].error.message
                                                                           ? d->targets[0].error.message
                                                                           : "failed");
        return sms_error_set(e, SMS_ERROR_FAILED, "%zu of %zu distribution points failed; see their states", failed,
                             d->n_targets);
}

static void distribution_unlink(Site *site, SiteDistribution *d) {
        for (SiteDistribution **p = &site->distributions; *p; p = &(*p)->next)
                if (*p == d) {
                        *p = d->next;
                        return;
                }
}

/* Main thread: each DP's outcome into its state, status messages, removals finished. */
static int distribution_finish(Job *job, void *userdata, int result, SmsError *e) {
        SiteDistribution *d = userdata;
        Site *site = d->site;

        distribution_unlink(site, d);
        for (size_t i = 0; i < d->n_targets; i++) {
                Target *t = &d->targets[i];
                /* A failure before any DP was reached (the source) is every DP's failure. */
                bool ok = !d->source_failed && t->result >= 0 && job->state != JOB_STATE_CANCELED &&
                          !(result < 0 && e->code == SMS_ERROR_CANCELED && d->n_targets == 1);
                const char *why = t->error.message ? t->error.message : e->message ? e->message : "failed";

                switch (d->action) {
                case SITE_DISTRIBUTE:
                        if (ok && t->result >= 0) {
                                set_state(site, d->package_id, t->nal, SITE_DP_INSTALLED, d->version, true, 0, &d->caller);
                                report(site, MESSAGE_DISTRIBUTED, false, &d->caller, d->package_id, t->nal,
                                       "version %" PRIu32 " distributed", d->version);
                        } else {
                                set_state(site, d->package_id, t->nal, SITE_DP_INSTALL_FAILED, -1, false, -1, &d->caller);
                                report(site, MESSAGE_DISTRIBUTION_FAILED, true, &d->caller, d->package_id, t->nal,
                                       "distribution of version %" PRIu32 " failed: %s", d->version, why);
                        }
                        break;
                case SITE_REMOVE_CONTENT:
                        if (ok && t->result >= 0) {
                                const SmsClass *c = sms_model_find_class("SMS_DistributionPoint");
                                _cleanup_free_ char *key = assignment_key(d->package_id, t->nal, store_site_code(site->store));
                                if (key && site_object_delete(site, c, key, &d->caller, NULL) >= 0)
                                        site_notify_removed(site, c, key);
                                report(site, MESSAGE_REMOVED, false, &d->caller, d->package_id, t->nal, "content removed");
                        } else {
                                set_state(site, d->package_id, t->nal, SITE_DP_REMOVAL_FAILED, -1, false, -1, &d->caller);
                                report(site, MESSAGE_DISTRIBUTION_FAILED, true, &d->caller, d->package_id, t->nal,
                                       "removal failed: %s", why);
                        }
                        break;
                case SITE_VERIFY_CONTENT:
                        if (ok && t->result >= 0)
                                report(site, MESSAGE_VERIFIED, false, &d->caller, d->package_id, t->nal,
                                       "every file verified");
                        else {
                                set_state(site, d->package_id, t->nal, SITE_DP_INSTALL_FAILED, -1, false, -1, &d->caller);
                                report(site, MESSAGE_VERIFY_FAILED, true, &d->caller, d->package_id, t->nal,
                                       "verification failed: %s", why);
                        }
                        break;
                }
        }
        return result;
}

/* --- starting distributions ---------------------------------------------------------------------- */

/* Fills a target from the DP's registration; the package decides PXE. */
static int target_fill(Site *site, const SmsObject *package, const char *nal, Target *t, SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *dp = NULL;
        int r;

        r = site_object_load(site, sms_model_find_class("SMS_DistributionPointInfo"), nal, &dp, e);
        if (r < 0)
                return r;
        t->content_root = strdup(sms_object_string(dp, "ContentRoot")); /* resolved by run_target() */
        t->nal = strdup(dp->key);
        t->mode = sms_object_value(dp, "ContentLinkMode")->u == 1 ? CONTENT_LINK_COPY : CONTENT_LINK_AUTO;
        if (!t->nal || !t->content_root)
                return -ENOMEM;
        /* Boot images marked "deploy from PXE-enabled DPs" (PkgFlags 0x800) go to the PXE store
         * of DPs that answer PXE (reference §9, API.md §4). */
        const CimValue *pxe = sms_object_value(dp, "IsPXE"), *flags = sms_object_value(package, "PkgFlags");
        if (package && sms_object_value(package, "PackageType")->u == 258 && pxe && !pxe->null && pxe->b && flags && !flags->null &&
            (flags->u & 0x800u)) {
                _cleanup_free_ char *copy = strdup(sms_object_string(package, "PkgSourcePath"));
                if (!copy || !(t->pxe_name = strdup(basename(copy))))
                        return -ENOMEM;
        }
        return 0;
}

static const uint32_t pending_state[] = { SITE_DP_CONTENT_UPDATING, SITE_DP_REMOVAL_PENDING, UINT32_MAX };

/* The pending state of a queued distribution (CONTENT_UPDATING, REMOVAL_PENDING), and what
 * undoes it beside the rollback when the job could not be queued. */
static int distribution_begin(Site *site, void *userdata, SmsError *e) {
        SiteDistribution *d = userdata;

        for (size_t i = 0; i < d->n_targets; i++)
                if (pending_state[d->action] != UINT32_MAX)
                        set_state(site, d->package_id, d->targets[i].nal, pending_state[d->action], -1, false, -1,
                                  &d->caller);
        d->next = site->distributions;
        site->distributions = d;
        return 0;
}

static void distribution_abort(Site *site, void *userdata) {
        distribution_unlink(site, userdata); /* the pending states go with the rollback */
}

/* Everything a distribution needs, checked and allocated, nothing written. n > 0. */
static int distribution_prepare(Site *site, const SmsClass *c, const char *package_id, char *const *nals, size_t n,
                                SiteDistributionAction action, const SiteCaller *caller, SiteJobPlan **ret,
                                SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *package = NULL;
        _cleanup_free_ char *target = NULL;
        SiteDistribution *d;
        int r;

        r = site_object_load(site, c, package_id, &package, e);
        if (r < 0)
                return r;

        d = calloc(1, sizeof(SiteDistribution));
        if (!d)
                return -ENOMEM;
        *d = (SiteDistribution) { .site = site, .class = c, .action = action, .caller = site_caller_keep(caller),
                              .version = (uint32_t) sms_object_value(package, "SourceVersion")->u };
        d->package_id = strdup(package->key);
        d->targets = calloc(n, sizeof(Target));
        if (!d->package_id || !d->targets || site_dp_scope_copy(site, &d->dp_scope) < 0) {
                distribution_free(d);
                return -ENOMEM;
        }
        if (d->action == SITE_DISTRIBUTE) {
                const char *source = sms_object_string(package, "PkgSourcePath");
                if (!*source || d->version == 0) {
                        distribution_free(d);
                        return sms_error_set(e, *source ? SMS_ERROR_BUSY : SMS_ERROR_INVALID_PARAMETER,
                                             *source ? "%s has no content version yet (its first build runs)"
                                                     : "%s has no content: set PkgSourcePath first",
                                             package->key);
                }
                d->source = strdup(source);
                if (!d->source || distribution_roots(site, c, &d->roots) < 0) {
                        distribution_free(d);
                        return -ENOMEM;
                }
        }
        for (size_t i = 0; i < n; i++) {
                r = target_fill(site, package, nals[i], &d->targets[i], e);
                d->n_targets = i + 1;
                if (r < 0) {
                        distribution_free(d);
                        return r;
                }
        }

        if (!(target = site_job_target(c, package->key))) {
                distribution_free(d);
                return -ENOMEM;
        }
        static const char *const operations[] = { "Distribute", "RemoveContent", "VerifyPackage" };
        JobSpec spec = site_job_spec(operations[action], target, caller, distribution_work, distribution_finish, d,
                                     distribution_free);
        r = site_job_plan_new(&spec, ret);
        if (r < 0)
                return r;
        (*ret)->begin = distribution_begin;
        (*ret)->abort = distribution_abort;
        return 0;
}

int site_distribution_start(Site *site, const SmsClass *c, const char *package_id, char *const *nals, size_t n,
                           SiteDistributionAction action, const SiteCaller *caller, uint64_t *ret_job, SmsError *e) {
        SiteJobPlan *plan = NULL;
        int r;

        if (n == 0) {
                *ret_job = 0;
                return 0;
        }
        r = distribution_prepare(site, c, package_id, nals, n, action, caller, &plan, e);
        if (r < 0)
                return r;
        return site_job_plan_start(site, plan, ret_job, e);
}

/* The DPs a package is assigned to (not being removed), as NAL paths. */
static int assigned_dps(Site *site, const char *package_id, bool only_stale, uint32_t version, char ***ret,
                        size_t *ret_n) {
        _cleanup_(wql_query_freep) WqlQuery *q = NULL;
        _cleanup_free_ char *text = NULL;
        WqlRow *rows = NULL;
        size_t n = 0, k = 0;
        char **l;
        int r;

        /* PackageIDs are [A-Z0-9]: nothing to escape. */
        if (asprintf(&text,
                     "SELECT ServerNALPath, SourceVersion, State FROM SMS_PackageStatusDistPointsSummarizer "
                     "WHERE PackageID = '%s' AND State <> 4 AND State <> 6",
                     package_id) < 0)
                return -ENOMEM;
        r = site_query(site, text, &q, &rows, &n, NULL);
        if (r < 0)
                return r;
        l = calloc(n + 1, sizeof(char *));
        for (size_t i = 0; l && i < n; i++) {
                if (only_stale && rows[i].values[1].u == version && rows[i].values[2].u == SITE_DP_INSTALLED)
                        continue;
                if (!(l[k++] = strdup(rows[i].values[0].str)))
                        break;
        }
        wql_rows_free(rows, n, q->n_columns);
        if (!l)
                return -ENOMEM;
        *ret = l;
        *ret_n = k;
        return 0;
}

int site_distribution_count(Site *site, const char *package_id, size_t *ret, SmsError *e) {
        _cleanup_strv_free_ char **nals = NULL;
        size_t n = 0;
        int r;

        r = assigned_dps(site, package_id, false, 0, &nals, &n);
        if (r < 0)
                return sms_error_set(e, SMS_ERROR_FAILED, "cannot tell which distribution points %s is on: %s",
                                     package_id, strerror(-r));
        *ret = n;
        return 0;
}

int site_distribution_package_updated(Site *site, const SmsClass *c, const char *package_id, bool only_stale,
                                     const SiteCaller *caller, uint64_t *ret_job) {
        _cleanup_strv_free_ char **nals = NULL;
        _cleanup_(sms_object_freep) SmsObject *package = NULL;
        uint64_t job = 0;
        SmsError e = SMS_ERROR_NULL;
        size_t n = 0;
        int r;

        r = site_object_load(site, c, package_id, &package, NULL);
        if (r < 0)
                return r;
        r = assigned_dps(site, package->key, only_stale, (uint32_t) sms_object_value(package, "SourceVersion")->u, &nals, &n);
        if (r < 0 || n == 0)
                return r;
        r = site_distribution_start(site, c, package->key, nals, n, SITE_DISTRIBUTE, caller, &job, &e);
        if (r < 0)
                log_warning("Failed to distribute %s to its distribution points: %s", package_id,
                            e.message ? e.message : strerror(-r));
        sms_error_clear(&e);
        if (r >= 0 && ret_job)
                *ret_job = job;
        return r;
}

/* Makes `action` ready for the package and DP of one assignment (SMS_DistributionPoint). */
static int prepare_for_assignment(Site *site, const char *assignment_key_text, SiteDistributionAction action,
                                  const SiteCaller *caller, SiteJobPlan **ret, SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *a = NULL;
        const SmsClass *pkg_class;
        int r;

        r = site_object_load(site, sms_model_find_class("SMS_DistributionPoint"), assignment_key_text, &a, e);
        if (r < 0)
                return r;
        r = site_package_class(site, sms_object_string(a, "PackageID"), &pkg_class, e);
        if (r < 0)
                return r;
        char *nal = (char *) sms_object_string(a, "ServerNALPath");
        return distribution_prepare(site, pkg_class, sms_object_string(a, "PackageID"), (char *[]) { nal, NULL }, 1, action,
                                    caller, ret, e);
}

/* Starts `action` for the package and DP of one assignment. */
static int start_for_assignment(Site *site, const char *assignment_key_text, SiteDistributionAction action,
                                const SiteCaller *caller, uint64_t *ret_job, SmsError *e) {
        SiteJobPlan *plan = NULL;
        int r;

        r = prepare_for_assignment(site, assignment_key_text, action, caller, &plan, e);
        if (r < 0)
                return r;
        return site_job_plan_start(site, plan, ret_job, e);
}

/* SMS_DistributionPoint's Create: the assignment, then its distribution. */
int site_distribution_created(Site *site, const char *assignment_key_text, const SiteCaller *caller, uint64_t *ret_job,
                             SmsError *e) {
        return start_for_assignment(site, assignment_key_text, SITE_DISTRIBUTE, caller, ret_job, e);
}

/* SMS_DistributionPoint's Delete: REMOVAL_PENDING now, the row goes when the content is gone. */
int site_distribution_remove(Site *site, const char *assignment_key_text, const SiteCaller *caller, SmsError *e) {
        return start_for_assignment(site, assignment_key_text, SITE_REMOVE_CONTENT, caller, NULL, e);
}

/* RefreshNow on one assignment: the current version to that DP again, no new SourceVersion. */
int site_distribution_refresh_prepare(Site *site, const char *assignment_key_text, const SiteCaller *caller,
                                     SiteJobPlan **ret, SmsError *e) {
        return prepare_for_assignment(site, assignment_key_text, SITE_DISTRIBUTE, caller, ret, e);
}

/* Temporaries of writers a stop killed, in the site library and on every DP: swept on a thread
 * of its own (site/recover.c), so that a DP whose ContentRoot never answers does not keep the
 * daemon from serving. A library is written only once it is recovered: the distribution work
 * passes site_recover_once() for the site library and for each DP before it writes there. */
static void recover_libraries(Site *site) {
        _cleanup_free_ char *lib = site_library(site);
        _cleanup_(wql_query_freep) WqlQuery *q = NULL;
        WqlRow *rows = NULL;
        char **roots = NULL;
        size_t n = 0;
        int r;

        if (!lib || site_query(site, "SELECT ContentRoot FROM SMS_DistributionPointInfo", &q, &rows, &n, NULL) < 0)
                return; /* each library is then recovered by its first writer */
        roots = calloc(n + 1, sizeof(char *));
        for (size_t i = 0; roots && i < n; i++)
                if (!(roots[i] = strdup(rows[i].values[0].str))) {
                        strv_free(roots);
                        roots = NULL;
                        break;
                }
        wql_rows_free(rows, n, q->n_columns);
        r = roots ? site_recover_start(site, lib, roots) : -ENOMEM;
        if (r < 0)
                log_warning_errno(r, "Failed to start recovering the content libraries (their first writers will): %m");
}

/* After a restart: distributions that were running start again (INSTALL_RETRYING), up to
 * SITE_DISTRIBUTION_MAX_RETRIES times; then they are INSTALL_FAILED. */
void site_distribution_resume(Site *site) {
        _cleanup_(wql_query_freep) WqlQuery *q = NULL;
        WqlRow *rows = NULL;
        size_t n = 0;
        SiteCaller daemon = { .uid = 0 };

        recover_libraries(site);

        if (site_query(site,
                       "SELECT PackageID, ServerNALPath, RetryCount, State FROM SMS_PackageStatusDistPointsSummarizer "
                       "WHERE State = 1 OR State = 2 OR State = 7 OR State = 4",
                       &q, &rows, &n, NULL) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                const char *id = rows[i].values[0].str, *nal = rows[i].values[1].str;
                uint32_t retries = (uint32_t) rows[i].values[2].u + 1, state = (uint32_t) rows[i].values[3].u;
                bool removing = state == SITE_DP_REMOVAL_PENDING;
                const SmsClass *c = NULL;
                SmsError e = SMS_ERROR_NULL;

                /* A package deleted since is skipped; one the database cannot tell about is
                 * left pending, for the next start. */
                if (site_package_class(site, id, &c, &e) < 0) {
                        if (e.code != SMS_ERROR_NOT_FOUND)
                                log_warning("Not resuming the distribution of %s to %s: %s", id, nal,
                                            e.message ? e.message : "");
                        sms_error_clear(&e);
                        continue;
                }
                if (retries > SITE_DISTRIBUTION_MAX_RETRIES) {
                        set_state(site, id, nal, removing ? SITE_DP_REMOVAL_FAILED : SITE_DP_INSTALL_FAILED, -1, false,
                                  (int) retries, &daemon);
                        report(site, MESSAGE_DISTRIBUTION_FAILED, true, &daemon, id, nal,
                               "gave up after %u interrupted attempts", SITE_DISTRIBUTION_MAX_RETRIES);
                        continue;
                }
                set_state(site, id, nal, removing ? state : SITE_DP_INSTALL_RETRYING, -1, false, (int) retries, &daemon);
                if (site_distribution_start(site, c, id, (char *[]) { (char *) nal, NULL }, 1,
                                           removing ? SITE_REMOVE_CONTENT : SITE_DISTRIBUTE, &daemon, NULL, &e) < 0)
                        log_warning("Failed to resume the distribution of %s to %s: %s", id, nal,
                                    e.message ? e.message : "");
                sms_error_clear(&e);
        }
        wql_rows_free(rows, n, q ? q->n_columns : 0);
}


/* --- what the methods ask ------------------------------------------------------------------------ */

/* Validates (pass 0, a dry run of the class rules) or creates (pass 1) the assignment of the
 * package to one DP. -EEXIST with AlreadyExists when it is there already. */
static int assignment_create(Site *site, unsigned pass, const char *package_id, const char *nal,
                             const char *site_code, const SiteCaller *caller, char **ret_key, SmsError *e) {
        const SmsClass *dp_class = sms_model_find_class("SMS_DistributionPoint");
        static const char *const names[] = { "PackageID", "ServerNALPath", "SiteCode" };
        const char *vals[] = { package_id, nal, site_code };
        SiteChange ch[3] = {};
        int r;

        for (size_t k = 0; k < 3; k++) {
                ch[k].index = (size_t) sms_class_find_property(dp_class, names[k]);
                cim_value_set_string(&ch[k].value, vals[k]);
        }
        r = pass == 0 ? site_object_validate_create(site, dp_class, ch, 3, e)
                      : site_object_create(site, dp_class, ch, 3, NULL, 0, caller, ret_key, e);
        for (size_t k = 0; k < 3; k++)
                cim_value_clear(&ch[k].value);
        return r;
}

int site_distribution_add_points(Site *site, const SmsClass *c, const char *package_id, char *const *site_codes,
                                 char *const *nals, size_t n, const SiteCaller *caller, uint64_t *ret_job,
                                 SmsError *e) {
        const SmsClass *dp_class = sms_model_find_class("SMS_DistributionPoint");
        _cleanup_strv_free_ char **added = NULL;
        size_t n_added = 0, would_add = 0;
        int r;

        r = site_object_check_writable(site, c, package_id, e);
        if (r < 0)
                return r;
        added = calloc(n + 1, sizeof(char *));
        if (!added)
                return -ENOMEM;
        /* First what would be created, all checked; then the job limit before any row (an
         * assignment without its distribution would stay INSTALL_PENDING); then the assignments
         * and their distribution in one transaction, so that the call changes nothing when the
         * distribution cannot start. */
        for (size_t i = 0; i < n; i++) {
                r = assignment_create(site, 0, package_id, nals[i], site_codes[i], caller, NULL, e);
                if (r == -EEXIST && e && e->code == SMS_ERROR_ALREADY_EXISTS) {
                        sms_error_clear(e); /* already there: nothing to add */
                        continue;
                }
                if (r < 0)
                        return r;
                would_add++;
        }
        if (would_add > 0) {
                r = site_job_check_limits(site, caller->peer, e);
                if (r < 0)
                        return r;
        }
        r = site_begin(site, e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_free_ char *akey = NULL;
                r = assignment_create(site, 1, package_id, nals[i], site_codes[i], caller, &akey, e);
                if (r == -EEXIST && e && e->code == SMS_ERROR_ALREADY_EXISTS) {
                        sms_error_clear(e);
                        r = 0;
                        continue;
                }
                if (r >= 0) {
                        site_notify_added(site, dp_class, akey);
                        if (!(added[n_added++] = strdup(nals[i])))
                                r = -ENOMEM;
                }
        }
        if (r >= 0)
                r = site_distribution_start(site, c, package_id, added, n_added, SITE_DISTRIBUTE, caller, ret_job, e);
        return site_end(site, r, e);
}

int site_distribution_verify(Site *site, const char *package_id, const char *nal, const SiteCaller *caller,
                             uint64_t *ret_job, SmsError *e) {
        const SmsClass *c = NULL;
        _cleanup_free_ char *akey = NULL;
        _cleanup_(sms_object_freep) SmsObject *assignment = NULL;
        int r;

        r = site_package_class(site, package_id, &c, e);
        if (r < 0)
                return r;
        akey = assignment_key(package_id, nal, store_site_code(site->store));
        if (!akey)
                return -ENOMEM;
        r = site_object_load(site, sms_model_find_class("SMS_DistributionPoint"), akey, &assignment, e);
        if (r < 0)
                return r;
        return site_distribution_start(site, c, package_id, (char *[]) { (char *) nal, NULL }, 1, SITE_VERIFY_CONTENT,
                                       caller, ret_job, e);
}

int site_distribution_cancel(Site *site, const char *package_id, const char *nal, SmsError *e) {
        bool found = false;

        for (SiteDistribution *d = site->distributions; d; d = d->next)
                if (d->action == SITE_DISTRIBUTE && strcasecmp(d->package_id, package_id) == 0)
                        for (size_t i = 0; i < d->n_targets; i++)
                                if (strcasecmp(d->targets[i].nal, nal) == 0) {
                                        atomic_store(&d->targets[i].cancel, true);
                                        found = true;
                                }
        if (!found)
                return sms_error_set(e, SMS_ERROR_FAILED, "no distribution of %s to %s is running", package_id, nal);
        return 0;
}
