/* SPDX-License-Identifier: MIT */

/* Refresh schedules (site-schedule.h; reference §3.9, §7.3): every package with RefreshSchedule
 * tokens and PkgSourceFlag 2 has a timer in the event loop that refreshes it at the next time any
 * token names. Every host of a site arms the timers of every package; each occurrence is refreshed
 * by the host that claims it first in the site database (store_schedule_claim()). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smsprov/macro.h"
#include "smsprov/schedule.h"
#include "smsprov/site-image.h"
#include "smsprov/site-schedule.h"
#include "util/log.h"
#include "util/time-util.h"

#define MINUTE_USEC (60ULL * USEC_PER_SEC)

struct SiteScheduleTimer {
        Site *site;
        const SmsClass *class;
        char *key;
        uint64_t due; /* the occurrence it fires for, on the site's clock */
        sd_event_source *source;
        SiteScheduleTimer *next;
};

/* --- timers -------------------------------------------------------------------------------------- */

static SiteScheduleTimer *timer_free(SiteScheduleTimer *st) {
        if (!st)
                return NULL;
        sd_event_source_disable_unref(st->source);
        free(st->key);
        free(st);
        return NULL;
}

static void timer_drop(Site *site, const char *key) {
        for (SiteScheduleTimer **p = &site->schedule_timers; *p;)
                if (streq((*p)->key, key)) {
                        SiteScheduleTimer *st = *p;
                        *p = st->next;
                        timer_free(st);
                } else
                        p = &(*p)->next;
}

static int on_schedule(sd_event_source *s, uint64_t usec, void *userdata);

/* Arms the package's timer for its next scheduled refresh (or drops it). */
int site_schedule_update(Site *site, const SmsClass *c, const char *key) {
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        int sched = sms_class_find_property(c, "RefreshSchedule"), flag = sms_class_find_property(c, "PkgSourceFlag");
        uint64_t now = site->clock ? site->clock() : now_usec(), next = 0;
        SiteScheduleTimer *st;
        int r;

        timer_drop(site, key);
        if (sched < 0 || flag < 0 || site_object_load(site, c, key, &o, NULL) < 0)
                return 0;
        const CimValue *v = &o->values[sched];
        if (v->null || v->schedule.n == 0 || o->values[flag].null || o->values[flag].u != 2)
                return 0;
        for (size_t i = 0; i < v->schedule.n; i++) {
                uint64_t when = sms_schedule_token_next(&v->schedule.data[i], now);
                if (when && (!next || when < next))
                        next = when;
        }
        if (!next)
                return 0;

        st = calloc(1, sizeof(SiteScheduleTimer));
        if (!st || !(st->key = strdup(key))) {
                free(st);
                return -ENOMEM;
        }
        st->site = site;
        st->class = c;
        st->due = next;
        /* --time-scale makes schedules run faster, so that tests need not wait for minutes. */
        uint64_t delay = (next - now) / (site->time_scale ? site->time_scale : 1);
        r = sd_event_add_time_relative(site->event, &st->source, CLOCK_MONOTONIC, delay, MINUTE_USEC / 60, on_schedule, st);
        if (r < 0) {
                timer_free(st);
                return log_warning_errno(r, "Failed to arm the refresh schedule of %s: %m", key);
        }
        st->next = site->schedule_timers;
        site->schedule_timers = st;
        return 0;
}

static int on_schedule(sd_event_source *s, uint64_t usec, void *userdata) {
        SiteScheduleTimer *st = userdata;
        Site *site = st->site;
        _cleanup_free_ char *key = strdup(st->key);
        const SmsClass *c = st->class;
        SiteCaller daemon = { .uid = 0 };
        SmsError e = SMS_ERROR_NULL;
        int r;

        if (!key)
                return -ENOMEM;
        r = store_schedule_claim(site->store, key, st->due, &e);
        if (r == 0)
                log_info("Refresh schedule of %s: another host of the site refreshes it this time.", key);
        else if (r < 0)
                log_warning("Scheduled refresh of %s: it could not be claimed: %s", key, e.message ? e.message : "");
        else {
                log_info("Refresh schedule of %s: refreshing.", key);
                if (site_image_refresh_source(site, c, key, &daemon, NULL, &e) < 0)
                        log_warning("Scheduled refresh of %s failed: %s", key, e.message ? e.message : "");
        }
        sms_error_clear(&e);
        /* `st` goes away here; the next time comes from the stored schedule. */
        site_schedule_update(site, c, key);
        return 0;
}

int site_schedules_start(Site *site) {
        const SmsClass *base = sms_model_find_class("SMS_PackageBaseclass");
        _cleanup_strv_free_ char **keys = NULL;
        _cleanup_free_ const SmsClass **classes = NULL;
        size_t n = 0;
        int r;

        r = store_object_enumerate(site->store, base, &keys, &classes, &n, NULL);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                site_schedule_update(site, classes[i], keys[i]);
        return 0;
}

void site_schedules_stop(Site *site) {
        while (site->schedule_timers) {
                SiteScheduleTimer *st = site->schedule_timers;
                site->schedule_timers = st->next;
                timer_free(st);
        }
}

