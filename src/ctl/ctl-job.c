/* SPDX-License-Identifier: MIT */

/* Following jobs, and the jobs, wait and cancel commands; see ctl-job.h. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "ctl/ctl-bus.h"
#include "ctl/ctl-job.h"
#include "ctl/ctl-output.h"
#include "ctl/ctl-value.h"

/* QueryOSDBinaryInjectionStatus lives on this class's static interface (API.md §5). */
#define CONTEXT_CLASS "SMS_BootImagePackage"
#define TICK_USEC (250 * USEC_PER_MSEC)
#define POLL_TICKS 8 /* read the job's state every 2 s as well, in case the daemon went away */
#define CONTEXT_POLL_USEC (500 * USEC_PER_MSEC)
#define MIN(a, b) ((a) < (b) ? (a) : (b))

static const char *const job_state_names[_JOB_STATE_MAX] = {
        [JOB_STATE_QUEUED] = "queued",       [JOB_STATE_RUNNING] = "running", [JOB_STATE_COMPLETED] = "completed",
        [JOB_STATE_FAILED] = "failed",       [JOB_STATE_CANCELED] = "canceled",
};

const char *job_state_to_string(uint32_t state) {
        return state < _JOB_STATE_MAX ? job_state_names[state] : "unknown";
}


typedef struct Follow Follow;

struct JobWatch {
        Ctl *ctl;
        sd_bus_slot *slot;
        Follow *follow; /* the job being followed, if any */
};

struct Follow {
        Ctl *ctl;
        const char *path;
        bool owned;
        json_object *props;
        bool done;
        bool have_completed;
        bool success;
        char *error_name;
        char *error_message;
        bool cancel_requested;
        bool detached;
        bool stop; /* leave the event loop */
        int failure; /* an error while following (ctl.h convention) */
        unsigned ticks;

        /* Display. */
        bool tty;
        bool bar_drawn;
        int last_decile;
        uint32_t last_state;
        char *last_text;
};

/* --- the job's properties ---------------------------------------------------------------------- */

static uint64_t prop_u64(json_object *props, const char *name) {
        json_object *v;
        return json_object_object_get_ex(props, name, &v) ? json_object_get_uint64(v) : 0;
}

static const char *prop_str(json_object *props, const char *name) {
        json_object *v;
        const char *s = json_object_object_get_ex(props, name, &v) ? json_object_get_string(v) : NULL;
        return s ? s : "";
}

static const char *job_name(const char *path) {
        const char *slash = strrchr(path, '/');
        return slash ? slash + 1 : path;
}

static int job_read_props(Ctl *c, const char *path, json_object *props) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = ctl_get_all(c, path, SMSPROV_JOB_IFACE, &reply);
        if (r < 0)
                return r;
        return ctl_value_read_dict(reply, props);
}

/* --- display ----------------------------------------------------------------------------------- */

static unsigned terminal_columns(void) {
        struct winsize ws = {};
        if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_col < 20)
                return 80;
        return ws.ws_col;
}

/* "45%  21.3 MiB  8.1 MiB/s  3.0s left", from what the job reports. The time left comes from the
 * rate when the job reports one, from the time it has run otherwise. */
static char *progress_summary(json_object *props, unsigned *ret_percent) {
        uint64_t progress = prop_u64(props, "Progress"), max = prop_u64(props, "MaxProgress");
        uint64_t bytes = prop_u64(props, "Bytes"), rate = prop_u64(props, "Rate"), start = prop_u64(props, "StartTime");
        unsigned percent = max > 0 ? (unsigned) (MIN(progress, max) * 100 / max) : 0;
        uint64_t left_usec = 0, now;
        struct timespec ts;
        char buf[256];
        size_t n;

        clock_gettime(CLOCK_REALTIME, &ts);
        now = (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
        if (progress > 0 && progress < max) {
                double remaining = (double) (max - progress) / (double) progress;
                if (rate > 0 && bytes > 0)
                        left_usec = (uint64_t) ((double) bytes * remaining / (double) rate * (double) USEC_PER_SEC);
                else if (start > 0 && now > start)
                        left_usec = (uint64_t) ((double) (now - start) * remaining);
        }

        n = (size_t) snprintf(buf, sizeof buf, "%3u%%", percent);
        if (bytes > 0) {
                _cleanup_free_ char *b = ctl_format_bytes(bytes);
                n += (size_t) snprintf(buf + n, sizeof buf - n, "  %s", b ? b : "");
        }
        if (rate > 0 && n < sizeof buf) {
                _cleanup_free_ char *b = ctl_format_bytes(rate);
                n += (size_t) snprintf(buf + n, sizeof buf - n, "  %s/s", b ? b : "");
        }
        if (left_usec >= USEC_PER_SEC && n < sizeof buf) {
                _cleanup_free_ char *d = ctl_format_duration(left_usec);
                snprintf(buf + n, sizeof buf - n, "  %s left", d ? d : "");
        }
        if (ret_percent)
                *ret_percent = percent;
        return strdup(buf);
}

static void bar_clear(Follow *f) {
        if (f->bar_drawn) {
                fputs("\r\033[K", stderr);
                fflush(stderr);
                f->bar_drawn = false;
        }
}

static void bar_draw(Follow *f) {
        uint32_t state = (uint32_t) prop_u64(f->props, "State");
        _cleanup_free_ char *summary = NULL, *line = NULL;
        unsigned columns = terminal_columns(), percent = 0, width;
        char bar[64];

        if (f->ctl->quiet || state >= JOB_STATE_COMPLETED)
                return;
        if (state == JOB_STATE_QUEUED) {
                if (asprintf(&line, "%s %s: queued", job_name(f->path), prop_str(f->props, "Operation")) < 0)
                        return;
        } else {
                summary = progress_summary(f->props, &percent);
                if (!summary)
                        return;
                width = columns >= 100 ? 30 : 20;
                size_t filled = (size_t) percent * width / 100;
                for (size_t i = 0; i < width; i++)
                        bar[i] = i < filled ? '#' : '-';
                bar[width] = 0;
                const char *text = prop_str(f->props, "ProgressText");
                if (asprintf(&line, "%s %s [%s] %s%s%s", job_name(f->path), prop_str(f->props, "Operation"), bar,
                             summary, *text ? "  " : "", text) < 0)
                        return;
        }
        /* Never wrap: a wrapped line cannot be redrawn with \r. */
        if (strlen(line) >= columns)
                line[columns - 1] = 0;
        fprintf(stderr, "\r%s\033[K", line);
        fflush(stderr);
        f->bar_drawn = true;
}

/* Without a terminal: a line when the state or the text changes, or per 10 percent. */
static void plain_line(Follow *f) {
        uint32_t state = (uint32_t) prop_u64(f->props, "State");
        const char *text = prop_str(f->props, "ProgressText");
        _cleanup_free_ char *summary = NULL;
        unsigned percent = 0;

        if (f->ctl->quiet || state >= JOB_STATE_COMPLETED)
                return;
        summary = progress_summary(f->props, &percent);
        if (!summary)
                return;
        int decile = (int) percent / 10;
        if (state == f->last_state && decile == f->last_decile && streq_ptr(text, f->last_text))
                return;
        f->last_state = state;
        f->last_decile = decile;
        free(f->last_text);
        f->last_text = strdup(text);
        if (state == JOB_STATE_QUEUED)
                fprintf(stderr, "%s %s: queued\n", job_name(f->path), prop_str(f->props, "Operation"));
        else
                fprintf(stderr, "%s %s: %s%s%s\n", job_name(f->path), prop_str(f->props, "Operation"), summary,
                        *text ? "  " : "", text);
        fflush(stderr);
}

static void follow_show(Follow *f) {
        if (f->tty)
                bar_draw(f);
        else
                plain_line(f);
}

/* --- following --------------------------------------------------------------------------------- */

static void follow_check_done(Follow *f) {
        if (f->have_completed || prop_u64(f->props, "State") >= JOB_STATE_COMPLETED) {
                f->done = true;
                f->stop = true;
        }
}

static int on_job_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        JobWatch *w = userdata;
        Follow *f = w->follow;
        const char *iface, *name, *message;
        int success, r;

        if (!f || f->done || !streq_ptr(sd_bus_message_get_path(m), f->path))
                return 0;
        if (sd_bus_message_is_signal(m, "org.freedesktop.DBus.Properties", "PropertiesChanged")) {
                r = sd_bus_message_read(m, "s", &iface);
                if (r < 0 || !streq(iface, SMSPROV_JOB_IFACE))
                        return 0;
                r = ctl_value_read_dict(m, f->props);
                if (r < 0) {
                        f->failure = r;
                        f->stop = true;
                        return 0;
                }
                follow_show(f);
        } else if (sd_bus_message_is_signal(m, SMSPROV_JOB_IFACE, "Completed")) {
                r = sd_bus_message_read(m, "bss", &success, &name, &message);
                if (r < 0)
                        return 0;
                f->have_completed = true;
                f->success = success;
                free(f->error_name);
                free(f->error_message);
                f->error_name = strdup(name);
                f->error_message = strdup(message);
        }
        follow_check_done(f);
        return 0;
}

int job_watch_new(Ctl *c, JobWatch **ret) {
        _cleanup_(job_watch_freep) JobWatch *w = calloc(1, sizeof(JobWatch));
        int r;

        if (!w)
                return ctl_oom();
        w->ctl = c;
        /* Synchronous: the match is in place before the call that may start the job is sent. */
        r = sd_bus_add_match(c->bus, &w->slot,
                             "type='signal',sender='" SMSPROV_SERVICE "',path_namespace='" SMSPROV_JOB_PREFIX "'",
                             on_job_signal, w);
        if (r < 0)
                return ctl_bus_error(NULL, r);
        *ret = TAKE_PTR(w);
        return 0;
}

JobWatch *job_watch_free(JobWatch *w) {
        if (!w)
                return NULL;
        sd_bus_slot_unref(w->slot);
        free(w);
        return NULL;
}

void job_outcome_done(JobOutcome *o) {
        free(o->error_name);
        free(o->error_message);
        json_object_put(o->props);
        *o = (JobOutcome) {};
}

static int ask_cancel(Follow *f) {
        _cleanup_close_ int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
        char answer[16] = "";
        ssize_t n;

        if (fd < 0)
                return 0;
        bar_clear(f);
        dprintf(fd, "Cancel job %s (%s)? [y/N] ", job_name(f->path), prop_str(f->props, "Operation"));
        n = read(fd, answer, sizeof answer - 1);
        if (n <= 0)
                return 0;
        return answer[0] == 'y' || answer[0] == 'Y';
}

static void request_cancel(Follow *f) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

        if (f->cancel_requested)
                return;
        f->cancel_requested = true;
        bar_clear(f);
        ctl_info(f->ctl, "Canceling job %s.", job_name(f->path));
        /* A job that ended meanwhile refuses with Failed; the outcome says what happened. */
        if (sd_bus_call_method(f->ctl->bus, SMSPROV_SERVICE, f->path, SMSPROV_JOB_IFACE, "Cancel", &error, NULL, NULL) <
            0)
                ctl_info(f->ctl, "Job %s: %s", job_name(f->path), error.message ? error.message : "cannot cancel");
}

static int on_interrupt(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Follow *f = userdata;
        bool ask = f->tty && isatty(STDIN_FILENO) && si->ssi_signo == SIGINT;

        if (f->cancel_requested || (!ask && !f->owned)) {
                /* A second interrupt, or one while waiting for a job this command did not start. */
                f->detached = true;
                f->stop = true;
                return 0;
        }
        if (!ask || ask_cancel(f))
                request_cancel(f);
        follow_show(f);
        return 0;
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Follow *f = userdata;
        int r;

        if (++f->ticks % POLL_TICKS == 0) {
                r = job_read_props(f->ctl, f->path, f->props);
                if (r < 0) {
                        f->failure = r;
                        f->stop = true;
                        return 0;
                }
                follow_check_done(f);
        }
        if (f->tty)
                bar_draw(f);
        /* A timer fires once; arm it again. */
        r = sd_event_source_set_time_relative(s, TICK_USEC);
        return r < 0 ? r : sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static int follow_loop(Follow *f) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        sigset_t old;
        int r;

        r = ctl_event_new(f->ctl, on_interrupt, on_tick, TICK_USEC, f, &old, &event);
        if (r < 0)
                return r;
        follow_show(f);
        follow_check_done(f);
        /* Not sd_event_loop(): leaving it closes the attached bus, which goes on being used. */
        while (r >= 0 && !f->stop)
                r = sd_event_run(event, UINT64_MAX);
        sd_bus_detach_event(f->ctl->bus);
        /* Drop the signal sources (they own the signalfd) before the signals are unblocked. */
        event = sd_event_unref(event);
        sigprocmask(SIG_SETMASK, &old, NULL);
        bar_clear(f);
        return r < 0 ? ctl_bus_error(NULL, r) : 0;
}

int job_follow(Ctl *c, JobWatch *w, const char *path, bool owned, JobOutcome *ret) {
        _cleanup_(job_watch_freep) JobWatch *own_watch = NULL;
        Follow f = {
                .ctl = c,
                .path = path,
                .owned = owned,
                .tty = c->stderr_tty,
                .last_decile = -1,
                .last_state = UINT32_MAX,
        };
        int r;

        if (!w) {
                r = job_watch_new(c, &own_watch);
                if (r < 0)
                        return r;
                w = own_watch;
        }
        f.props = json_object_new_object();
        if (!f.props)
                return ctl_oom();
        w->follow = &f;
        r = job_read_props(c, path, f.props);
        if (r >= 0)
                r = follow_loop(&f);
        w->follow = NULL;
        if (r >= 0 && f.failure < 0)
                r = f.failure;
        /* The final state: a finished job stays on the bus for a while (API.md §5). */
        if (r >= 0 && !f.detached)
                r = job_read_props(c, path, f.props);
        if (r < 0) {
                json_object_put(f.props);
                free(f.error_name);
                free(f.error_message);
                free(f.last_text);
                return r;
        }
        if (!f.error_name || !*f.error_name) {
                free(f.error_name);
                free(f.error_message);
                f.error_name = strdup(prop_str(f.props, "ErrorName"));
                f.error_message = strdup(prop_str(f.props, "ErrorMessage"));
        }
        json_object_object_add(f.props, "__PATH", json_object_new_string(path));
        *ret = (JobOutcome) {
                .state = (uint32_t) prop_u64(f.props, "State"),
                .error_name = f.error_name,
                .error_message = f.error_message,
                .props = f.props,
                .detached = f.detached,
        };
        free(f.last_text);
        if (!ret->error_name || !ret->error_message) {
                job_outcome_done(ret);
                return ctl_oom();
        }
        return 0;
}

int job_outcome_report(Ctl *c, const JobOutcome *o) {
        const char *path = prop_str(o->props, "__PATH"), *text = prop_str(o->props, "ProgressText");
        uint64_t start = prop_u64(o->props, "StartTime"), end = prop_u64(o->props, "EndTime");

        if (o->detached)
                return ctl_errorf(CTL_EXIT_FAILED, CTL_ERROR_FAILED,
                                  "interrupted; job %s goes on (smsctl wait %s, smsctl cancel %s)", path,
                                  job_name(path), job_name(path));
        if (o->state == JOB_STATE_COMPLETED) {
                _cleanup_free_ char *took = end > start && start > 0 ? ctl_format_duration(end - start) : NULL;
                ctl_info(c, "Job %s (%s) completed%s%s%s%s.", job_name(path), prop_str(o->props, "Operation"),
                         took ? " in " : "", took ? took : "", *text ? ": " : "", text);
                return 0;
        }
        return ctl_errorf(CTL_EXIT_FAILED, *o->error_name ? o->error_name : CTL_ERROR_FAILED, "%s",
                          *o->error_message ? o->error_message : job_state_to_string(o->state));
}

int job_handle(Ctl *c, JobWatch *w, const char *job_path, json_object *json) {
        _cleanup_(job_outcome_done) JobOutcome o = {};
        int r;

        if (!job_path || streq(job_path, "/"))
                return 0;
        if (!c->wait) {
                if (json)
                        return json_add(json, "Job", json_object_new_string(job_path));
                printf("%s\n", job_path);
                return 0;
        }
        r = job_follow(c, w, job_path, true, &o);
        if (r < 0)
                return r;
        if (json)
                r = json_add(json, "Job", json_object_get(o.props));
        if (r < 0)
                return r;
        return job_outcome_report(c, &o);
}

/* --- finding jobs ------------------------------------------------------------------------------ */

static int job_compare(const void *a, const void *b) {
        uint64_t x = prop_u64(*(json_object *const *) a, "Id"), y = prop_u64(*(json_object *const *) b, "Id");
        return x < y ? -1 : x > y;
}

/* Every job on the bus, from the ObjectManager, as JSON objects with "__PATH", by Id. */
static int list_jobs(Ctl *c, json_object **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(json_object_putp) json_object *jobs = json_object_new_array();
        const char *path, *iface;
        int r;

        if (!jobs)
                return ctl_oom();
        r = ctl_call(c, SMSPROV_ROOT, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", &reply, NULL);
        if (r < 0)
                return r;
        if ((r = ctl_enter_container(reply, 'a', "{oa{sa{sv}}}")) < 0)
                return r;
        while ((r = sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}")) > 0) {
                r = sd_bus_message_read(reply, "o", &path);
                if (r >= 0)
                        r = sd_bus_message_enter_container(reply, 'a', "{sa{sv}}");
                if (r < 0)
                        return ctl_bus_error(NULL, r);
                while ((r = sd_bus_message_enter_container(reply, 'e', "sa{sv}")) > 0) {
                        r = sd_bus_message_read(reply, "s", &iface);
                        if (r < 0)
                                return ctl_bus_error(NULL, r);
                        if (streq(iface, SMSPROV_JOB_IFACE)) {
                                json_object *job = json_object_new_object();
                                if (!job || json_object_array_add(jobs, job) < 0) {
                                        json_object_put(job);
                                        return ctl_oom();
                                }
                                r = json_add(job, "__PATH", json_object_new_string(path));
                                if (r < 0)
                                        return r;
                                r = ctl_value_read_dict(reply, job);
                                if (r < 0)
                                        return r;
                        } else if ((r = sd_bus_message_skip(reply, "a{sv}")) < 0)
                                return ctl_bus_error(NULL, r);
                        if ((r = ctl_exit_container(reply)) < 0)
                                return r;
                }
                /* The array, and the dictionary entry around it. */
                if ((r = ctl_end_container(reply, r)) < 0 || (r = ctl_exit_container(reply)) < 0)
                        return r;
        }
        if (r < 0)
                return ctl_bus_error(NULL, r);
        json_object_array_sort(jobs, job_compare);
        *ret = TAKE_PTR(jobs);
        return 0;
}

static bool parse_job_id(const char *spec, uint64_t *ret) {
        char *end = NULL;
        const char *p = spec[0] == '_' ? spec + 1 : spec;

        if (!*p || *p < '0' || *p > '9')
                return false;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno || *end)
                return false;
        *ret = v;
        return true;
}

int job_find(Ctl *c, const char *spec, bool allow_context, char **ret_path) {
        _cleanup_(json_object_putp) json_object *jobs = NULL;
        json_object *found = NULL;
        uint64_t id = 0;
        bool by_id;
        int r;

        if (spec[0] == '/') {
                if (!sd_bus_object_path_is_valid(spec))
                        return ctl_usage("'%s' is not an object path", spec);
                *ret_path = strdup(spec);
                return *ret_path ? 0 : ctl_oom();
        }
        by_id = parse_job_id(spec, &id);
        r = list_jobs(c, &jobs);
        if (r < 0)
                return r;
        for (size_t i = 0; i < json_object_array_length(jobs); i++) {
                json_object *job = json_object_array_get_idx(jobs, i);
                if (by_id && prop_u64(job, "Id") == id)
                        found = job;
                /* The latest job of a ContextID, preferring one that has not ended. */
                if (!by_id && allow_context && streq(prop_str(job, "ContextID"), spec) &&
                    (!found || prop_u64(found, "State") >= JOB_STATE_COMPLETED ||
                     prop_u64(job, "State") < JOB_STATE_COMPLETED))
                        found = job;
        }
        if (!found) {
                *ret_path = NULL;
                return 0;
        }
        *ret_path = strdup(prop_str(found, "__PATH"));
        return *ret_path ? 1 : ctl_oom();
}

static int job_not_found(const char *spec) {
        return ctl_errorf(CTL_EXIT_NOT_FOUND, CTL_ERROR_NOT_FOUND,
                          "no job %s on the bus (a finished job stays there for 60 s)", spec);
}

/* --- commands ---------------------------------------------------------------------------------- */

int verb_jobs(Ctl *c, int argc, char **argv) {
        static const char *const headers[] = { "Id", "Operation", "Target", "State", "Progress", "ContextID", "SubmitTime" };
        _cleanup_(json_object_putp) json_object *jobs = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        int r;

        r = list_jobs(c, &jobs);
        if (r < 0)
                return r;
        if (c->json)
                return ctl_json_print(c, TAKE_PTR(jobs));
        t = table_new(ELEMENTSOF(headers), headers);
        if (!t)
                return ctl_oom();
        for (size_t i = 0; i < json_object_array_length(jobs); i++) {
                json_object *job = json_object_array_get_idx(jobs, i);
                const char *target = prop_str(job, "Target");
                _cleanup_free_ char *key = ctl_path_key(target);
                uint64_t max = prop_u64(job, "MaxProgress");
                char *progress = NULL;

                if (asprintf(&progress, "%" PRIu64 "%%",
                             max ? prop_u64(job, "Progress") * 100 / max
                                 : (prop_u64(job, "State") == JOB_STATE_COMPLETED ? 100 : 0)) < 0)
                        progress = NULL;
                if ((r = table_add(t, job_name(prop_str(job, "__PATH")))) < 0 ||
                    (r = table_add(t, prop_str(job, "Operation"))) < 0 ||
                    (r = table_add(t, key ? key : target)) < 0 ||
                    (r = table_add(t, job_state_to_string((uint32_t) prop_u64(job, "State")))) < 0 ||
                    (r = table_add_take(t, progress)) < 0 || (r = table_add(t, prop_str(job, "ContextID"))) < 0 ||
                    (r = table_add_take(t, ctl_format_timestamp(prop_u64(job, "SubmitTime")))) < 0)
                        return r;
        }
        return table_print(t, c, "jobs");
}

/* No job on the bus for a ContextID: its status queue (QueryOSDBinaryInjectionStatus), polled. */
static int wait_context(Ctl *c, const char *context) {
        _cleanup_free_ char *object = ctl_class_object(CONTEXT_CLASS), *iface = ctl_static_interface(CONTEXT_CLASS);
        _cleanup_free_ char *last = NULL;
        uint32_t status, progress, max;
        const char *text, *info;
        int32_t code;
        int r;

        if (!object || !iface)
                return ctl_oom();
        for (;;) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                char line[512];

                r = ctl_call(c, object, iface, "QueryOSDBinaryInjectionStatus", &reply, "s", context);
                if (r < 0)
                        return r;
                r = sd_bus_message_read(reply, "uuusis", &status, &progress, &max, &text, &code, &info);
                if (r < 0)
                        return ctl_bus_error(NULL, r);
                if (status != 1) {
                        if (status == 3)
                                return ctl_errorf(CTL_EXIT_NOT_FOUND, CTL_ERROR_NOT_FOUND,
                                                  "no job and no status for ContextID %s", context);
                        if (c->json) {
                                json_object *o = json_object_new_object();
                                if (!o)
                                        return ctl_oom();
                                if ((r = json_add(o, "ContextID", json_object_new_string(context))) < 0 ||
                                    (r = json_add(o, "Status", json_object_new_int64(status))) < 0 ||
                                    (r = json_add(o, "Progress", json_object_new_int64(progress))) < 0 ||
                                    (r = json_add(o, "MaxProgress", json_object_new_int64(max))) < 0 ||
                                    (r = json_add(o, "ProgressText", json_object_new_string(text))) < 0 ||
                                    (r = json_add(o, "ErrorCode", json_object_new_int64(code))) < 0 ||
                                    (r = json_add(o, "ExtendedErrorInfo", json_object_new_string(info))) < 0) {
                                        json_object_put(o);
                                        return r;
                                }
                                r = ctl_json_print(c, o);
                                if (r < 0)
                                        return r;
                        }
                        if (status == 0) {
                                ctl_info(c, "ContextID %s: complete%s%s.", context, *text ? ": " : "", text);
                                return 0;
                        }
                        return ctl_errorf(CTL_EXIT_FAILED, CTL_ERROR_FAILED, "ContextID %s: %s (error code %" PRIi32 ")",
                                          context, *info ? info : text, code);
                }
                snprintf(line, sizeof line, "ContextID %s: %u%% %s", context, max ? progress * 100 / max : 0, text);
                if (!streq_ptr(line, last)) {
                        ctl_info(c, "%s", line);
                        free(last);
                        last = strdup(line);
                }
                struct timespec ts = { .tv_nsec = (long) CONTEXT_POLL_USEC * 1000 };
                nanosleep(&ts, NULL);
        }
}

/* A job someone else started, followed to its end; with --json its properties are printed, unless
 * following was interrupted (the job goes on). */
static int job_follow_print(Ctl *c, JobWatch *w, const char *path, JobOutcome *o) {
        int r = job_follow(c, w, path, false, o);
        if (r < 0 || !c->json || o->detached)
                return r;
        return ctl_json_print(c, json_object_get(o->props));
}

int verb_wait(Ctl *c, int argc, char **argv) {
        _cleanup_(job_outcome_done) JobOutcome o = {};
        _cleanup_free_ char *path = NULL;
        int r;

        r = job_find(c, argv[1], true, &path);
        if (r < 0)
                return r;
        if (!path) {
                uint64_t id;
                if (parse_job_id(argv[1], &id))
                        return job_not_found(argv[1]);
                return wait_context(c, argv[1]);
        }
        r = job_follow_print(c, NULL, path, &o);
        if (r < 0)
                return r;
        return job_outcome_report(c, &o);
}

int verb_cancel(Ctl *c, int argc, char **argv) {
        _cleanup_(job_outcome_done) JobOutcome o = {};
        _cleanup_(job_watch_freep) JobWatch *w = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        r = job_find(c, argv[1], true, &path);
        if (r < 0)
                return r;
        if (!path)
                return job_not_found(argv[1]);
        if (c->wait) {
                r = job_watch_new(c, &w);
                if (r < 0)
                        return r;
        }
        r = ctl_call(c, path, SMSPROV_JOB_IFACE, "Cancel", NULL, NULL);
        if (r < 0)
                return r;
        if (!c->wait) {
                json_object *doc = c->json ? json_object_new_object() : NULL;
                if (c->json && (!doc || json_add(doc, "Job", json_object_new_string(path)) < 0)) {
                        json_object_put(doc);
                        return ctl_oom();
                }
                return doc ? ctl_json_print(c, doc) : 0;
        }
        r = job_follow_print(c, w, path, &o);
        if (r < 0)
                return r;
        if (o.state == JOB_STATE_CANCELED) {
                ctl_info(c, "Job %s (%s) canceled.", job_name(path), prop_str(o.props, "Operation"));
                return 0;
        }
        if (o.state == JOB_STATE_COMPLETED)
                return ctl_errorf(CTL_EXIT_FAILED, CTL_ERROR_FAILED, "job %s completed before it could be canceled",
                                  job_name(path));
        return job_outcome_report(c, &o);
}
