/* SPDX-License-Identifier: MIT */

/* monitor: live events of the site, one line each (one JSON object per line with --json) until
 * SIGINT or SIGTERM. Jobs, creations, changes and deletions come as signals; status messages
 * (SMS_StatusMessage rows) have no signal and are read with a query once a second. */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "ctl/ctl-bus.h"
#include "ctl/ctl-generic.h"
#include "ctl/ctl-job.h"
#include "ctl/ctl-monitor.h"
#include "ctl/ctl-output.h"
#include "ctl/ctl-schema.h"
#include "ctl/ctl-value.h"

#define STATUS_POLL_USEC USEC_PER_SEC
#define STATUS_CLASS "SMS_StatusMessage"


typedef struct Monitor {
        Ctl *ctl;
        uint64_t since_usec;
        int64_t last_record;
        CtlClassCache classes; /* for the types of changed properties */
        bool stop;
        int failure;
} Monitor;

static uint64_t now_realtime(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static void print_line(const char *fmt, ...) _printf_(1, 2);
static void print_line(const char *fmt, ...) {
        char stamp[32];
        time_t t = time(NULL);
        struct tm tm;
        va_list ap;

        if (!localtime_r(&t, &tm) || strftime(stamp, sizeof stamp, "%H:%M:%S", &tm) == 0)
                stamp[0] = 0;
        printf("%s ", stamp);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        fflush(stdout);
}

/* The name people use for an object: "SMS_BootImagePackage LAB00001", "job _7". */
static char *object_name(const char *path) {
        _cleanup_free_ char *cls = ctl_path_class(path), *key = ctl_path_key(path);
        char *s = NULL;

        if (ctl_is_job_path(path)) {
                if (asprintf(&s, "job %s", strrchr(path, '/') + 1) < 0)
                        return NULL;
        } else if (cls && key) {
                if (asprintf(&s, "%s %s", cls, key) < 0)
                        return NULL;
        } else
                s = strdup(path);
        return s;
}

/* --json: every signal as {"Time", "Event", "Path", "Interface", "Args": […]}. */
static int print_signal_json(Monitor *mon, sd_bus_message *m) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object(), *args = json_object_new_array();
        int r;

        if (!o || !args)
                return ctl_oom();
        if ((r = ctl_value_read_json_items(m, true, args)) < 0 ||
            (r = json_add(o, "Time", json_object_new_uint64(now_realtime()))) < 0 ||
            (r = json_add(o, "Event", json_object_new_string(sd_bus_message_get_member(m)))) < 0 ||
            (r = json_add(o, "Path", json_object_new_string(sd_bus_message_get_path(m)))) < 0 ||
            (r = json_add(o, "Interface", json_object_new_string(sd_bus_message_get_interface(m)))) < 0 ||
            (r = json_add(o, "Args", TAKE_PTR(args))) < 0)
                return r;
        return ctl_json_print(mon->ctl, TAKE_PTR(o));
}

/* "Name=value, …" of a changed-properties dict. */
static char *changes_text(json_object *changed, const CtlClass *k) {
        char *s = strdup(""), *more = NULL;

        json_object_object_foreach(changed, name, value) {
                const CtlProperty *p = k ? ctl_class_property(k, name) : NULL;
                _cleanup_free_ char *text = ctl_value_format(value, p ? p->type : _CIM_TYPE_INVALID, false);
                if (!s || !text || asprintf(&more, "%s%s%s=%s", s, *s ? ", " : "", name, text) < 0) {
                        free(s);
                        return NULL;
                }
                free(s);
                s = more;
        }
        return s;
}

static int print_signal_text(Monitor *mon, sd_bus_message *m) {
        _cleanup_free_ char *who = object_name(sd_bus_message_get_path(m));
        const char *member = sd_bus_message_get_member(m), *iface = sd_bus_message_get_interface(m);
        int r;

        if (!who)
                return ctl_oom();
        if (streq(iface, SMSPROV_SITE_IFACE) && streq(member, "JobNew")) {
                _cleanup_(json_object_putp) json_object *props = json_object_new_object();
                json_object *op = NULL, *target = NULL;
                const char *path;
                uint64_t id;

                if (!props)
                        return ctl_oom();
                r = sd_bus_message_read(m, "to", &id, &path);
                if (r < 0)
                        return 0;
                /* What the job does: its Operation and Target. A job gone already shows without. */
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                if (sd_bus_call_method(mon->ctl->bus, SMSPROV_SERVICE, path, "org.freedesktop.DBus.Properties", "GetAll",
                                       NULL, &reply, "s", SMSPROV_JOB_IFACE) >= 0)
                        (void) ctl_value_read_dict(reply, props);
                json_object_object_get_ex(props, "Operation", &op);
                json_object_object_get_ex(props, "Target", &target);
                _cleanup_free_ char *what = target ? object_name(json_object_get_string(target)) : NULL;
                print_line("job _%" PRIu64 " queued: %s%s%s", id, op ? json_object_get_string(op) : "",
                           what && !streq(json_object_get_string(target), "/") ? " " : "",
                           what && !streq(json_object_get_string(target), "/") ? what : "");
        } else if (streq(iface, SMSPROV_SITE_IFACE) && streq(member, "JobRemoved")) {
                const char *path, *result;
                uint64_t id;
                if (sd_bus_message_read(m, "tos", &id, &path, &result) >= 0)
                        print_line("job _%" PRIu64 " %s", id, result);
        } else if (streq(iface, SMSPROV_SITE_IFACE) && streq(member, "ChangeNotification")) {
                const char *id, *path;
                if (sd_bus_message_read(m, "so", &id, &path) >= 0)
                        print_line("change notification for %s", id);
        } else if (streq(iface, SMSPROV_JOB_IFACE) && streq(member, "Completed")) {
                const char *name, *message;
                int success;
                if (sd_bus_message_read(m, "bss", &success, &name, &message) >= 0 && !success)
                        print_line("%s: %s: %s", who, name, message);
        } else if (streq(iface, "org.freedesktop.DBus.Properties") && streq(member, "PropertiesChanged")) {
                _cleanup_(json_object_putp) json_object *changed = json_object_new_object();
                _cleanup_free_ char *text = NULL;
                const char *changed_iface;

                if (!changed)
                        return ctl_oom();
                if (sd_bus_message_read(m, "s", &changed_iface) < 0 || ctl_value_read_dict(m, changed) < 0)
                        return 0;
                if (ctl_is_job_path(sd_bus_message_get_path(m))) {
                        /* Job progress: state, percent and what it is doing. */
                        json_object *state = NULL, *progress = NULL, *max = NULL, *ptext = NULL;
                        json_object_object_get_ex(changed, "State", &state);
                        json_object_object_get_ex(changed, "Progress", &progress);
                        json_object_object_get_ex(changed, "MaxProgress", &max);
                        json_object_object_get_ex(changed, "ProgressText", &ptext);
                        uint64_t p = progress ? json_object_get_uint64(progress) : 0, mx = max ? json_object_get_uint64(max) : 0;
                        print_line("%s %s %" PRIu64 "%% %s", who,
                                   state ? job_state_to_string((uint32_t) json_object_get_uint64(state)) : "",
                                   mx ? p * 100 / mx : 0, ptext ? json_object_get_string(ptext) : "");
                        return 0;
                }
                _cleanup_free_ char *cls = ctl_path_class(sd_bus_message_get_path(m));
                text = changes_text(changed, ctl_class_cache_get(mon->ctl, &mon->classes, cls));
                if (!text)
                        return ctl_oom();
                print_line("%s changed: %s", who, text);
        } else if (streq(iface, "org.freedesktop.DBus.ObjectManager") && streq(member, "InterfacesAdded")) {
                const char *path;
                if (sd_bus_message_read(m, "o", &path) >= 0 && !ctl_is_job_path(path)) {
                        _cleanup_free_ char *name = object_name(path);
                        print_line("%s created", name ? name : path);
                }
        } else if (streq(iface, "org.freedesktop.DBus.ObjectManager") && streq(member, "InterfacesRemoved")) {
                const char *path;
                if (sd_bus_message_read(m, "o", &path) >= 0 && !ctl_is_job_path(path)) {
                        _cleanup_free_ char *name = object_name(path);
                        print_line("%s deleted", name ? name : path);
                }
        }
        return 0;
}

static int on_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Monitor *mon = userdata;
        int r;

        r = mon->ctl->json ? print_signal_json(mon, m) : print_signal_text(mon, m);
        if (r < 0) {
                mon->failure = r;
                mon->stop = true;
        }
        return 0;
}

/* New SMS_StatusMessage rows since the monitor started. */
static int poll_status(Monitor *mon) {
        _cleanup_(json_object_putp) json_object *rows = NULL;
        _cleanup_free_ char *wql = NULL;
        int r;

        if (asprintf(&wql,
                     "SELECT * FROM " STATUS_CLASS " WHERE Time >= %" PRIu64 " AND RecordID > %" PRIi64
                     " ORDER BY RecordID",
                     mon->since_usec, mon->last_record) < 0)
                return ctl_oom();
        r = ctl_query_rows(mon->ctl, wql, &rows);
        if (r < 0)
                return r;
        for (size_t i = 0; i < json_object_array_length(rows); i++) {
                json_object *row = json_object_array_get_idx(rows, i), *v;

                if (json_object_object_get_ex(row, "RecordID", &v) && json_object_get_int64(v) > mon->last_record)
                        mon->last_record = json_object_get_int64(v);
                if (mon->ctl->json) {
                        r = json_add(row, "Event", json_object_new_string("StatusMessage"));
                        if (r < 0)
                                return r;
                        r = ctl_json_print(mon->ctl, json_object_get(row));
                        if (r < 0)
                                return r;
                        continue;
                }
                json_object *id = NULL, *description = NULL;
                json_object_object_get_ex(row, "MessageID", &id);
                json_object_object_get_ex(row, "Description", &description);
                print_line("status message %s: %s", id ? json_object_to_json_string(id) : "?",
                           description ? json_object_get_string(description) : "");
        }
        return 0;
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Monitor *mon = userdata;
        int r;

        r = poll_status(mon);
        if (r < 0) {
                mon->failure = r;
                mon->stop = true;
                return 0;
        }
        /* A timer fires once; arm it again. */
        r = sd_event_source_set_time_relative(s, STATUS_POLL_USEC);
        return r < 0 ? r : sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static int on_stop(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Monitor *mon = userdata;
        mon->stop = true;
        return 0;
}

int verb_monitor(Ctl *c, int argc, char **argv) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        Monitor mon = { .ctl = c, .since_usec = now_realtime() };
        int r;

        r = sd_bus_add_match(c->bus, &slot, "type='signal',sender='" SMSPROV_SERVICE "'", on_signal, &mon);
        if (r < 0)
                return ctl_bus_error(NULL, r);
        /* A first query: the bus and the daemon are there, and status messages start from now. */
        r = poll_status(&mon);
        if (r < 0)
                return r;

        r = ctl_event_new(c, on_stop, on_status_timer, STATUS_POLL_USEC, &mon, NULL, &event);
        if (r < 0)
                return r;
        ctl_info(c, "Monitoring " SMSPROV_SERVICE "; Ctrl-C to stop.");
        while (r >= 0 && !mon.stop)
                r = sd_event_run(event, UINT64_MAX);
        sd_bus_detach_event(c->bus);
        ctl_class_cache_done(&mon.classes);
        if (r < 0)
                return ctl_bus_error(NULL, r);
        return mon.failure;
}
