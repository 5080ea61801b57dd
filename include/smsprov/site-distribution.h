/* SPDX-License-Identifier: MIT */
#pragma once

/* Distribution (site/distribution.c): a job takes the package's current version into the site's
 * content library once, then publishes it on each target DP at once; each DP's outcome lands in
 * its SMS_PackageStatusDistPointsSummarizer state (the per-DP state machine of reference §7.10:
 * pending, updating, installed, retrying, failed, removal pending), with a status message, and
 * one DP failing does not stop the others. Main thread; the work runs on the job queue. */

#include <stdbool.h>
#include <stdint.h>

#include "smsprov/site-jobs.h"
#include "smsprov/site.h"

/* Distribution states (reference §7.10). */
enum {
        SITE_DP_INSTALLED = 0,
        SITE_DP_INSTALL_PENDING = 1,
        SITE_DP_INSTALL_RETRYING = 2,
        SITE_DP_INSTALL_FAILED = 3,
        SITE_DP_REMOVAL_PENDING = 4,
        SITE_DP_REMOVAL_FAILED = 6,
        SITE_DP_CONTENT_UPDATING = 7,
};

/* Interrupted distributions are retried this many times after restarts, then fail. */
#define SITE_DISTRIBUTION_MAX_RETRIES 3

typedef enum SiteDistributionAction {
        SITE_DISTRIBUTE,
        SITE_REMOVE_CONTENT,
        SITE_VERIFY_CONTENT,
} SiteDistributionAction;

/* Starts a job that distributes, removes or verifies a package's current version on the given
 * DPs (NAL paths). n = 0 starts none: *ret_job is 0. */
int site_distribution_start(Site *site, const SmsClass *c, const char *package_id, char *const *nals, size_t n,
                            SiteDistributionAction action, const SiteCaller *caller, uint64_t *ret_job, SmsError *e);

/* AddDistributionPoints: the assignments (pairs of site code and NAL path) that are new are
 * created, every one checked before any is, then distributed in one job (0 when all existed). */
int site_distribution_add_points(Site *site, const SmsClass *c, const char *package_id, char *const *site_codes,
                                 char *const *nals, size_t n, const SiteCaller *caller, uint64_t *ret_job,
                                 SmsError *e);
/* VerifyPackage of one assignment: NotFound when the package is not on that DP. */
int site_distribution_verify(Site *site, const char *package_id, const char *nal, const SiteCaller *caller,
                             uint64_t *ret_job, SmsError *e);
/* CancelDistribution: stops the DP's part of a running distribution; Failed when none runs. */
int site_distribution_cancel(Site *site, const char *package_id, const char *nal, SmsError *e);

/* A package has a new version (a build, a refresh) or was announced changed: distribute it to
 * its DPs — all of them, or with only_stale those that do not have this version installed. */
int site_distribution_package_updated(Site *site, const SmsClass *c, const char *package_id, bool only_stale,
                                      const SiteCaller *caller, uint64_t *ret_job);

/* The SMS_DistributionPoint hooks: after Create, instead of Delete, and RefreshNow. */
int site_distribution_created(Site *site, const char *assignment_key, const SiteCaller *caller, uint64_t *ret_job,
                              SmsError *e);
int site_distribution_remove(Site *site, const char *assignment_key, const SiteCaller *caller, SmsError *e);
/* RefreshNow made ready, nothing written: a Put starts it once its write is committed. */
int site_distribution_refresh_prepare(Site *site, const char *assignment_key, const SiteCaller *caller,
                                      SiteJobPlan **ret, SmsError *e);

/* How many DPs a package is assigned to (a package on DPs cannot be deleted). Failed when the
 * database cannot say: a Delete is then refused, not allowed. */
int site_distribution_count(Site *site, const char *package_id, size_t *ret, SmsError *e);

/* At start: the content libraries are recovered (site-recover.h), and distributions a stop
 * interrupted are retried, or failed after the retry limit. */
void site_distribution_resume(Site *site);
