/* SPDX-License-Identifier: MIT */
#pragma once

/* The writes callers ask for (site/writes.c), each one transaction of the objects engine
 * (site.h) followed by what comes of it: the observer told, the package's refresh timer moved,
 * and the job the write starts. Errors as the site_object_…() functions they call. */

#include <stdbool.h>
#include <stdint.h>

#include "smsprov/site-jobs.h"
#include "smsprov/site.h"

/* Create of a class without files to read (site-image.h has the image classes'): an
 * SMS_DistributionPoint (an assignment) starts its distribution, *ret_job; 0 when none. A
 * distribution that cannot start takes the assignment back. */
int site_create(Site *site, const SmsClass *c, SiteChange *changes, size_t n, const SiteCaller *caller,
                char **ret_key, uint64_t *ret_job, SmsError *e);

/* The write-only triggers a Put may carry: RefreshPkgSourceFlag = true refreshes the package (a
 * boot image rebuilds), RefreshNow = true redistributes to that DP. Each is authorized as the
 * work it starts. */
typedef struct SitePutTriggers {
        bool refresh_source, refresh_dp;
} SitePutTriggers;
SitePutTriggers site_put_triggers(const SmsClass *c, const SiteChange *changes, size_t n);

/* Makes a Put's triggered job ready before the Put is committed: a job that cannot start (a
 * source gone, a package busy, the job limits) refuses the Put, and nothing changes. *ret is
 * NULL when there is nothing to start, or when the Put is stale (it then fails by itself). */
int site_put_prepare(Site *site, const SmsClass *c, const char *key, const SiteChange *changes, size_t n,
                     const SiteCaller *caller, SiteJobPlan **ret, SmsError *e);
/* The Put itself, all or nothing, once its paths (and its plan's files) were looked up: the
 * write, then the plan's job (taken; NULL when none), *ret_job 0 without one. The changes stay
 * the caller's. */
int site_put(Site *site, const SmsClass *c, const char *key, SiteChange *changes, size_t n, SiteJobPlan *plan,
             const SiteCaller *caller, uint64_t *ret_job, SmsError *e);

/* After a committed write that gave a boot image's ReferencedDrivers (a Put or a Create): notes
 * the drivers Windows PE does not load at start (site_driver_note_boot_classes()). */
void site_note_referenced_drivers(Site *site, const SmsClass *c, const char *key, const SiteChange *changes,
                                  size_t n, const SiteCaller *caller);

/* Delete: an assignment (SMS_DistributionPoint) is REMOVAL_PENDING until its content has left
 * the DP; a package with a job queued or running, or on any DP, is Busy. */
int site_delete(Site *site, const SmsClass *c, const char *key, const SiteCaller *caller, SmsError *e);

/* AddChangeNotification: recorded, reported, and the package's DPs that lack its current
 * version get it. */
int site_change_notification(Site *site, const SmsClass *c, const char *key, const SiteCaller *caller, SmsError *e);

/* SetSourceSite(code), and Unlock() with source_site NULL (this site's code). */
int site_set_source_site(Site *site, const SmsClass *c, const char *key, const char *source_site,
                         const SiteCaller *caller, SmsError *e);
