/* SPDX-License-Identifier: MIT */

/* The writes callers ask for (site-writes.h): Create, Put, Delete, SetSourceSite and Unlock,
 * AddChangeNotification. Each is one transaction of the objects engine (site.c) and then what
 * follows from it: the observer told, the refresh timer moved, the job it starts. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "smsprov/macro.h"
#include "smsprov/site-distribution.h"
#include "smsprov/site-drivers.h"
#include "smsprov/site-image.h"
#include "smsprov/site-schedule.h"
#include "smsprov/site-writes.h"
#include "util/log.h"

int site_create(Site *site, const SmsClass *c, SiteChange *changes, size_t n, const SiteCaller *caller,
                char **ret_key, uint64_t *ret_job, SmsError *e) {
        _cleanup_free_ char *key = NULL;
        uint64_t job = 0;
        int r;

        if (streq(c->name, "SMS_Driver"))
                return sms_error_set(e, SMS_ERROR_NOT_SUPPORTED,
                                     "SMS_Driver instances come from INF files: call CreateFromINF");
        /* An assignment to a DP distributes at once: the job limit before the row, which would
         * otherwise stay INSTALL_PENDING with no distribution behind it. */
        bool assigns = streq(c->name, "SMS_DistributionPoint");
        if (assigns) {
                r = site_job_check_limits(site, caller->peer, e);
                if (r < 0)
                        return r;
        }
        /* One transaction: the object, and the distribution an assignment starts. */
        r = site_begin(site, e);
        if (r < 0)
                return r;
        r = site_object_create(site, c, changes, n, NULL, 0, caller, &key, e);
        if (r >= 0) {
                site_notify_added(site, c, key);
                if (assigns)
                        r = site_distribution_created(site, key, caller, &job, e);
        }
        r = site_end(site, r, e);
        if (r < 0)
                return r;
        site_schedule_update(site, c, key);
        *ret_key = TAKE_PTR(key);
        if (ret_job)
                *ret_job = job;
        return 0;
}

SitePutTriggers site_put_triggers(const SmsClass *c, const SiteChange *changes, size_t n) {
        SitePutTriggers t = {};
        for (size_t i = 0; i < n; i++) {
                const SmsProperty *p = c->all[changes[i].index];
                if ((p->flags & SMS_PROP_WRITE_ONLY) && !changes[i].value.null && changes[i].value.b) {
                        t.refresh_source |= streq(p->name, "RefreshPkgSourceFlag");
                        t.refresh_dp |= streq(p->name, "RefreshNow");
                }
        }
        return t;
}

/* The object as the Put will leave it, as far as a triggered job reads it: the stored row with
 * the written values over it. NULL (and 0) when the Put carries a stale SedoObjectVersion:
 * site_object_put() then refuses it with VersionMismatch, before anything else. */
static int put_preview(Site *site, const SmsClass *c, const char *key, const SiteChange *changes, size_t n,
                       SmsObject **ret, SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        int sedo = sms_class_find_property(c, "SedoObjectVersion"), r;

        r = site_object_load(site, c, key, &o, e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                size_t idx = changes[i].index;
                if (sedo >= 0 && idx == (size_t) sedo) {
                        const CimValue *stored = &o->values[idx];
                        if (changes[i].value.type != CIM_STRING || stored->null || !streq(changes[i].value.str, stored->str)) {
                                *ret = NULL;
                                return 0;
                        }
                        continue;
                }
                if (c->all[idx]->flags & SMS_PROP_WRITE_ONLY)
                        continue;
                cim_value_clear(&o->values[idx]);
                r = cim_value_copy(&o->values[idx], &changes[i].value);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(o);
        return 0;
}

/* Makes the triggered job ready before the Put is committed: a job that cannot start (a source
 * gone, a package busy, the job limits) refuses the Put, and nothing changes. *ret is NULL when
 * there is nothing to start, or when the Put is stale (it fails by itself). */
int site_put_prepare(Site *site, const SmsClass *c, const char *key, const SiteChange *changes, size_t n,
                     const SiteCaller *caller, SiteJobPlan **ret, SmsError *e) {
        SitePutTriggers t = site_put_triggers(c, changes, n);
        _cleanup_(sms_object_freep) SmsObject *after = NULL;
        int r;

        *ret = NULL;
        if (!t.refresh_source && !t.refresh_dp)
                return 0;
        r = put_preview(site, c, key, changes, n, &after, e);
        if (r < 0 || !after)
                return r;
        r = t.refresh_source ? site_image_refresh_prepare(site, c, key, after, caller, ret, e)
                             : site_distribution_refresh_prepare(site, key, caller, ret, e);
        if (r >= 0)
                r = site_job_check_limits(site, caller->peer, e);
        if (r < 0)
                *ret = site_job_plan_free(*ret);
        return r;
}

void site_note_referenced_drivers(Site *site, const SmsClass *c, const char *key, const SiteChange *changes,
                                  size_t n, const SiteCaller *caller) {
        int i = sms_class_find_property(c, "ReferencedDrivers");
        for (size_t k = 0; i >= 0 && k < n; k++)
                if (changes[k].index == (size_t) i) {
                        site_driver_note_boot_classes(site, c, key, caller);
                        return;
                }
}

int site_put(Site *site, const SmsClass *c, const char *key, SiteChange *changes, size_t n, SiteJobPlan *plan,
             const SiteCaller *caller, uint64_t *ret_job, SmsError *e) {
        _cleanup_free_ size_t *changed = NULL;
        size_t n_changed = 0;
        int r;

        if (ret_job)
                *ret_job = 0;
        /* One transaction: the write and the job it triggers, or neither. */
        r = site_begin(site, e);
        if (r < 0) {
                site_job_plan_free(plan); /* never ran */
                return r;
        }
        r = plan ? site_job_plan_ready(site, plan, e) : 0;
        if (r >= 0)
                r = site_object_put(site, c, key, changes, n, caller, &changed, &n_changed, e);
        if (r >= 0) {
                site_notify_changed(site, c, key, changed, n_changed);
                r = plan ? site_job_plan_start(site, TAKE_PTR(plan), ret_job, e) : 0;
        }
        r = site_end(site, r, e);
        site_job_plan_free(plan); /* never started: its job never ran */
        if (r < 0)
                return r;
        site_note_referenced_drivers(site, c, key, changes, n, caller);
        /* A new RefreshSchedule or PkgSourceFlag moves the package's refresh timer. */
        site_schedule_update(site, c, key);
        return 0;
}

/* Is a job of this package (a build, a refresh, an extraction, a distribution) queued or
 * running? Its work may still write the package's folders and rows. */
static bool package_has_job(Site *site, const SmsClass *c, const char *key) {
        _cleanup_free_ char *target = site_job_target(c, key);
        return !target || site_job_target_active(site, target);
}

int site_delete(Site *site, const SmsClass *c, const char *key, const SiteCaller *caller, SmsError *e) {
        int r;

        /* An assignment goes when its content has left the DP: REMOVAL_PENDING until then. */
        if (streq(c->name, "SMS_DistributionPoint")) {
                r = site_object_check_writable(site, c, key, e);
                if (r < 0)
                        return r;
                return site_distribution_remove(site, key, caller, e);
        }
        if (streq(c->name, "SMS_Driver")) {
                r = site_driver_check_deletable(site, key, e);
                if (r < 0)
                        return r;
        }
        if (sms_class_is_a(c, sms_model_find_class("SMS_PackageBaseclass"))) {
                size_t n_dps = 0;
                if (package_has_job(site, c, key))
                        return sms_error_set(e, SMS_ERROR_BUSY,
                                             "%s has a job queued or running; wait for it or cancel it first", key);
                /* Fails closed: a package whose DPs cannot be counted is not deleted. */
                r = site_distribution_count(site, key, &n_dps, e);
                if (r < 0)
                        return r;
                if (n_dps > 0)
                        return sms_error_set(e, SMS_ERROR_BUSY,
                                             "%s is on %zu distribution point(s); remove it from them first (delete "
                                             "its SMS_DistributionPoint instances)",
                                             key, n_dps);
        }
        r = site_object_delete(site, c, key, caller, e);
        if (r < 0)
                return r;
        site_schedule_update(site, c, key); /* drops the timer */
        /* Nothing runs between the commit and this report, so no caller sees the object gone
         * before it is told. */
        site_notify_removed(site, c, key);
        if (streq(c->name, "SMS_Driver"))
                site_driver_collect(site); /* its copy, unless another driver names it */
        return 0;
}

int site_change_notification(Site *site, const SmsClass *c, const char *key, const SiteCaller *caller, SmsError *e) {
        int r;

        r = site_package_add_change_notification(site, c, key, caller, e);
        if (r < 0)
                return r;
        site_notify_change_notification(site, c, key);
        /* The site re-evaluates the package's distribution: DPs without its current version get it. */
        (void) site_distribution_package_updated(site, c, key, true, caller, NULL);
        return 0;
}

int site_set_source_site(Site *site, const SmsClass *c, const char *key, const char *source_site,
                         const SiteCaller *caller, SmsError *e) {
        _cleanup_free_ size_t *changed = NULL;
        size_t n_changed = 0;
        int r;

        r = site_package_set_source_site(site, c, key, source_site ? source_site : store_site_code(site->store), caller,
                                         &changed, &n_changed, e);
        if (r < 0)
                return r;
        site_notify_changed(site, c, key, changed, n_changed);
        return 0;
}
