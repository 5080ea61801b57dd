/* SPDX-License-Identifier: MIT */

/* Refresh schedules (reference §3.9, §7.3): every package with RefreshSchedule tokens and
 * PkgSourceFlag 2 has a timer in the event loop that refreshes it at the next time any token
 * names; and SMS_ScheduleMethods, which turns interval strings into tokens and back. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus/bus-image.h"
#include "bus/bus-schedule.h"
#include "bus/bus-util.h"
#include "bus/registration.h"
#include "smsprov/macro.h"
#include "util/log.h"
#include "util/time-util.h"

#define MINUTE_USEC (60ULL * USEC_PER_SEC)
#define DAY_USEC (24ULL * 60ULL * MINUTE_USEC)

struct ScheduleTimer {
        Manager *manager;
        const SmsClass *class;
        char *key;
        sd_event_source *source;
        ScheduleTimer *next;
};

/* --- when a token fires next --------------------------------------------------------------------- */

static uint64_t make_usec(const SmsScheduleToken *t, int year, int month, int day) {
        SmsScheduleToken copy = *t;
        copy.year = (unsigned) year;
        copy.month = (unsigned) month;
        copy.day = (unsigned) day;
        return sms_schedule_token_start_usec(&copy);
}

static int days_in_month(int year, int month) {
        static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        return month == 2 && leap ? 29 : days[month - 1];
}

/* 0 Sunday … 6 Saturday, for a date (Zeller's congruence, Gregorian). */
static int weekday_of(int year, int month, int day) {
        if (month < 3) {
                month += 12;
                year--;
        }
        int k = year % 100, j = year / 100;
        int h = (day + 13 * (month + 1) / 5 + k + k / 4 + j / 4 + 5 * j) % 7; /* 0 Saturday */
        return (h + 6) % 7;
}

/* The first time after `now` that the token names, or 0 when it never fires again. */
uint64_t schedule_token_next(const SmsScheduleToken *t, uint64_t now) {
        uint64_t start = sms_schedule_token_start_usec(t);

        switch (t->type) {
        case SMS_ST_NON_RECURRING:
                return start > now ? start : 0;
        case SMS_ST_RECUR_INTERVAL: {
                uint64_t period = t->day_span * DAY_USEC + t->hour_span * 60ULL * MINUTE_USEC + t->minute_span * MINUTE_USEC;
                if (period == 0)
                        return 0;
                if (start > now)
                        return start;
                return start + ((now - start) / period + 1) * period;
        }
        case SMS_ST_RECUR_WEEKLY: {
                /* The first matching weekday on or after the start, then every N weeks. */
                int wd = weekday_of((int) t->year, (int) t->month, (int) t->day);
                int delta = ((int) t->weekday - 1 - wd + 7) % 7;
                uint64_t first = start + (uint64_t) delta * DAY_USEC;
                uint64_t period = 7ULL * (t->for_number_of_weeks ? t->for_number_of_weeks : 1) * DAY_USEC;
                if (first > now)
                        return first;
                return first + ((now - first) / period + 1) * period;
        }
        case SMS_ST_RECUR_MONTHLY_BY_DATE:
        case SMS_ST_RECUR_MONTHLY_BY_WEEKDAY: {
                unsigned step = t->for_number_of_months ? t->for_number_of_months : 1;
                int year = (int) t->year, month = (int) t->month;
                /* Walk the months of the schedule until one lands after now (bounded: 1970–2100). */
                for (int i = 0; i < 12 * 130; i++) {
                        int day;
                        if (t->type == SMS_ST_RECUR_MONTHLY_BY_DATE)
                                day = t->month_day == 0 || (int) t->month_day > days_in_month(year, month)
                                              ? days_in_month(year, month)
                                              : (int) t->month_day;
                        else {
                                int first = weekday_of(year, month, 1);
                                int d = 1 + ((int) t->weekday - 1 - first + 7) % 7;
                                if (t->week_order == 0) { /* last */
                                        while (d + 7 <= days_in_month(year, month))
                                                d += 7;
                                } else
                                        d += 7 * ((int) t->week_order - 1);
                                day = d <= days_in_month(year, month) ? d : 0;
                        }
                        if (day > 0) {
                                uint64_t when = make_usec(t, year, month, day);
                                if (when > now && when >= start)
                                        return when;
                        }
                        month += (int) step;
                        while (month > 12) {
                                month -= 12;
                                year++;
                        }
                }
                return 0;
        }
        }
        return 0;
}

/* --- timers -------------------------------------------------------------------------------------- */

static ScheduleTimer *timer_free(ScheduleTimer *st) {
        if (!st)
                return NULL;
        sd_event_source_disable_unref(st->source);
        free(st->key);
        free(st);
        return NULL;
}

static void timer_drop(Manager *m, const char *key) {
        for (ScheduleTimer **p = &m->schedule_timers; *p;)
                if (streq((*p)->key, key)) {
                        ScheduleTimer *st = *p;
                        *p = st->next;
                        timer_free(st);
                } else
                        p = &(*p)->next;
}

static int on_schedule(sd_event_source *s, uint64_t usec, void *userdata);

/* Arms the package's timer for its next scheduled refresh (or drops it). */
int bus_schedule_update(Manager *m, const SmsClass *c, const char *key) {
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        int sched = sms_class_find_property(c, "RefreshSchedule"), flag = sms_class_find_property(c, "PkgSourceFlag");
        uint64_t now = now_usec(), next = 0;
        ScheduleTimer *st;
        int r;

        timer_drop(m, key);
        if (sched < 0 || flag < 0 || site_object_load(&m->site, c, key, &o, NULL) < 0)
                return 0;
        const CimValue *v = &o->values[sched];
        if (v->null || v->schedule.n == 0 || o->values[flag].null || o->values[flag].u != 2)
                return 0;
        for (size_t i = 0; i < v->schedule.n; i++) {
                uint64_t when = schedule_token_next(&v->schedule.data[i], now);
                if (when && (!next || when < next))
                        next = when;
        }
        if (!next)
                return 0;

        st = calloc(1, sizeof(ScheduleTimer));
        if (!st || !(st->key = strdup(key))) {
                free(st);
                return -ENOMEM;
        }
        st->manager = m;
        st->class = c;
        /* --time-scale makes schedules run faster, so that tests need not wait for minutes. */
        uint64_t delay = (next - now) / (m->time_scale ? m->time_scale : 1);
        r = sd_event_add_time_relative(m->event, &st->source, CLOCK_MONOTONIC, delay, MINUTE_USEC / 60, on_schedule, st);
        if (r < 0) {
                timer_free(st);
                return log_warning_errno(r, "Failed to arm the refresh schedule of %s: %m", key);
        }
        st->next = m->schedule_timers;
        m->schedule_timers = st;
        return 0;
}

static int on_schedule(sd_event_source *s, uint64_t usec, void *userdata) {
        ScheduleTimer *st = userdata;
        Manager *m = st->manager;
        _cleanup_free_ char *key = strdup(st->key);
        const SmsClass *c = st->class;
        SiteCaller daemon = { .uid = 0 };
        SmsError e = SMS_ERROR_NULL;

        if (!key)
                return -ENOMEM;
        log_info("Refresh schedule of %s: refreshing.", key);
        if (bus_image_refresh_source(m, c, key, &daemon, NULL, &e) < 0)
                log_warning("Scheduled refresh of %s failed: %s", key, e.message ? e.message : "");
        sms_error_clear(&e);
        /* `st` goes away here; the next time comes from the stored schedule. */
        bus_schedule_update(m, c, key);
        return 0;
}

int bus_schedule_setup(Manager *m) {
        const SmsClass *base = sms_model_find_class("SMS_PackageBaseclass");
        _cleanup_strv_free_ char **keys = NULL;
        _cleanup_free_ const SmsClass **classes = NULL;
        size_t n = 0;
        int r;

        r = store_object_enumerate(m->site.store, base, &keys, &classes, &n, NULL);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                bus_schedule_update(m, classes[i], keys[i]);
        return 0;
}

void bus_schedule_shutdown(Manager *m) {
        while (m->schedule_timers) {
                ScheduleTimer *st = m->schedule_timers;
                m->schedule_timers = st->next;
                timer_free(st);
        }
}

/* --- SMS_ScheduleMethods -------------------------------------------------------------------------- */

static int method_read_from_string(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        CimValue v = { .type = CIM_SCHEDULE_ARRAY };
        SmsError e = SMS_ERROR_NULL;
        const char *s;
        int r;

        r = sd_bus_message_read(msg, "s", &s);
        if (r < 0)
                return r;
        r = sms_schedule_decode(s, &v.schedule.data, &v.schedule.n, &e);
        if (r < 0) {
                return bus_reply_error_take(error, &e, r);
        }
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = bus_append_value(reply, &v);
        cim_value_clear(&v);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_write_to_string(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *s = NULL;
        CimValue v = {};
        SmsError e = SMS_ERROR_NULL;
        int r;

        r = bus_read_value(msg, CIM_SCHEDULE_ARRAY, &v, &e);
        if (r >= 0)
                r = sms_schedule_encode(v.schedule.data, v.schedule.n, &s, &e);
        cim_value_clear(&v);
        if (r < 0) {
                return bus_reply_error_take(error, &e, r);
        }
        return sd_bus_reply_method_return(msg, "s", s);
}

const BusMethodHandler bus_schedule_static_handlers[] = {
        { "ReadFromString", method_read_from_string },
        { "WriteToString", method_write_to_string },
        {},
};
