/* SPDX-License-Identifier: MIT */

/* The set-up, tear-down and helpers bench-provider and bench-imaging share; see bench-env.h. */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-env.h"

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

#define CALL_TIMEOUT_USEC (300ULL * 1000000ULL)

typedef struct Row {
        char metric[64], value[64], reference[64], ratio[64];
        int goal;
} Row;

static Row rows[24];
static size_t n_rows;
static BenchEnv *current[4]; /* the environments running, for die() */

_Noreturn void die(const char *format, ...) {
        va_list ap;

        fprintf(stderr, "%s: ", bench_name);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
        for (size_t i = 0; i < ELEMENTSOF(current); i++)
                if (current[i])
                        bench_env_stop(current[i]);
        exit(EXIT_FAILURE);
}

const char *fmt(const char *f, ...) {
        static char buf[8][64];
        static unsigned next;
        char *s = buf[next++ % 8];
        va_list ap;

        va_start(ap, f);
        vsnprintf(s, sizeof buf[0], f, ap);
        va_end(ap);
        return s;
}

double now_us(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

Stats stats(double *v, size_t n) {
        size_t p99 = (n * 99 + 99) / 100;

        qsort(v, n, sizeof(double), cmp_double);
        return (Stats) { .median = v[n / 2], .p99 = v[(p99 > 0 ? p99 : 1) - 1] };
}

/* --- processes --------------------------------------------------------------------------------- */

pid_t spawn_io(char *const argv[], const char *in, const char *out, bool keep_stdout) {
        pid_t pid = fork();

        if (pid < 0)
                die("fork: %m");
        if (pid == 0) {
                int fd;
                if (in && ((fd = open(in, O_RDONLY)) < 0 || dup2(fd, STDIN_FILENO) < 0))
                        _exit(126);
                if (!keep_stdout && ((fd = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0 ||
                                     dup2(fd, STDOUT_FILENO) < 0))
                        _exit(126);
                execvp(argv[0], argv);
                fprintf(stderr, "%s: cannot run %s: %m\n", bench_name, argv[0]);
                _exit(127);
        }
        return pid;
}

/* Sends SIGTERM to *pid, if it runs, reaps it, says so unless it exited 0, and sets *pid to -1. */
static void stop_child(pid_t *pid, const char *what) {
        int status = 0;

        if (*pid <= 0)
                return;
        kill(*pid, SIGTERM);
        waitpid(*pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fprintf(stderr, "%s: %s did not stop cleanly (status 0x%x)\n", bench_name, what, (unsigned) status);
        *pid = -1;
}

/* nftw() callback removing everything in the directory, depth first. */
static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        remove(path);
        return 0;
}

/* --- the bus ----------------------------------------------------------------------------------- */

/* call_timed() and try_call_timed() with a va_list. */
static int call_timedv(sd_bus *bus, double *ret_us, sd_bus_message **ret_reply, sd_bus_error *error,
                       const char *dest, const char *path, const char *iface, const char *member, const char *types,
                       va_list ap) {
        sd_bus_message *m = NULL;
        double t0 = now_us();
        int r;

        r = sd_bus_message_new_method_call(bus, &m, dest, path, iface, member);
        if (r >= 0 && types)
                r = sd_bus_message_appendv(m, types, ap);
        if (r >= 0)
                r = sd_bus_call(bus, m, CALL_TIMEOUT_USEC, error, ret_reply);
        *ret_us = now_us() - t0;
        sd_bus_message_unref(m);
        if (r < 0 && !sd_bus_error_is_set(error))
                sd_bus_error_set_errno(error, r);
        return r;
}

double call_timed(sd_bus *bus, sd_bus_message **ret_reply, const char *dest, const char *path, const char *iface,
                  const char *member, const char *types, ...) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        double t;
        va_list ap;
        int r;

        va_start(ap, types);
        r = call_timedv(bus, &t, &reply, &error, dest, path, iface, member, types, ap);
        va_end(ap);
        if (r < 0)
                die("%s %s.%s: %s", path, iface, member, error.message);
        if (ret_reply)
                *ret_reply = reply;
        else
                sd_bus_message_unref(reply);
        return t;
}

int try_call_timed(sd_bus *bus, double *ret_us, sd_bus_message **ret_reply, sd_bus_error *error, const char *dest,
                   const char *path, const char *iface, const char *member, const char *types, ...) {
        va_list ap;
        int r;

        va_start(ap, types);
        r = call_timedv(bus, ret_us, ret_reply, error, dest, path, iface, member, types, ap);
        va_end(ap);
        return r;
}

bool name_has_owner(sd_bus *bus, const char *name) {
        sd_bus_message *reply = NULL;
        int has = 0;

        call_timed(bus, &reply, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                   "NameHasOwner", "s", name);
        sd_bus_message_read(reply, "b", &has);
        sd_bus_message_unref(reply);
        return has;
}

/* Waits up to 10 s for `name` to have an owner; dies if *pid exits first (setting it to -1). */
static void wait_for_name(sd_bus *bus, const char *name, pid_t *pid) {
        int status;

        for (int i = 0; i < 1000; i++) {
                if (name_has_owner(bus, name))
                        return;
                if (waitpid(*pid, &status, WNOHANG) == *pid) {
                        *pid = -1;
                        die("the owner of %s exited (status 0x%x)", name, (unsigned) status);
                }
                sleep_ms(10);
        }
        die("%s did not appear on the bus", name);
}

/* --- setting up and tearing down --------------------------------------------------------------- */

char *path_in(const BenchEnv *e, const char *name) {
        char *s = NULL;
        if (asprintf(&s, "%s/%s", e->dir, name) < 0)
                die("out of memory");
        return s;
}

void bench_env_init(BenchEnv *e) {
        *e = (BenchEnv) {
                .smsprovd = getenv("SMSPROVD"),
                .source_root = getenv("SOURCE_ROOT") ? getenv("SOURCE_ROOT") : ".",
                .dbus_pid = -1,
                .daemon_pid = -1,
                .reference_pid = -1,
        };
}

bool bench_env_option(BenchEnv *e, int c, const char *arg) {
        switch (c) {
        case BENCH_ARG_SMSPROVD:
                e->smsprovd = arg;
                return true;
        case BENCH_ARG_SOURCE_ROOT:
                e->source_root = arg;
                return true;
        default:
                return false;
        }
}

bool bench_env_options_done(const BenchEnv *e, int optind, int argc) {
        if (optind < argc || !e->smsprovd) {
                fprintf(stderr, "%s: give --smsprovd=PATH or set $SMSPROVD; see --help\n", bench_name);
                return false;
        }
        return true;
}

bool bench_parse_count(const char *option, const char *arg, const char *default_arg, unsigned long min,
                       unsigned long max, unsigned *ret) {
        unsigned long n;
        char *end;

        errno = 0;
        n = strtoul(arg ? arg : default_arg, &end, 10);
        if (errno || end == (arg ? arg : default_arg) || *end || n < min || n > max) {
                fprintf(stderr, "%s: --%s must be %lu…%lu\n", bench_name, option, min, max);
                return false;
        }
        *ret = (unsigned) n;
        return true;
}

void bench_env_make_dir(BenchEnv *e, const char *prefix) {
        const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        char *content;

        if (asprintf(&e->dir, "%s/%s.XXXXXX", tmp, prefix) < 0 || !mkdtemp(e->dir))
                die("cannot create a temporary directory in %s: %m", tmp);
        for (size_t i = 0; i < ELEMENTSOF(current); i++)
                if (!current[i]) {
                        current[i] = e;
                        break;
                }
        content = path_in(e, "content");
        if (mkdir(content, 0755) < 0)
                die("cannot create %s: %m", content);
        free(content);
}

void bench_env_start_bus(BenchEnv *e) {
        char *bus_path = path_in(e, "bus"), *listen = NULL, *config = NULL;
        struct stat st;
        int r;

        if (asprintf(&e->address, "unix:path=%s", bus_path) < 0 ||
            asprintf(&listen, "--address=%s", e->address) < 0 ||
            asprintf(&config, "--config-file=%s/tests/bus/test-bus.conf", e->source_root) < 0)
                die("out of memory");

        char *dbus_argv[] = { "dbus-daemon", config, listen, "--nofork", "--nopidfile", "--nosyslog", NULL };
        e->dbus_pid = spawn_io(dbus_argv, NULL, NULL, true);
        for (int i = 0; i < 500 && stat(bus_path, &st) < 0; i++)
                sleep_ms(10);

        r = sd_bus_new(&e->bus);
        if (r >= 0)
                r = sd_bus_set_address(e->bus, e->address);
        if (r >= 0)
                r = sd_bus_set_bus_client(e->bus, 1);
        if (r >= 0)
                r = sd_bus_start(e->bus);
        if (r < 0)
                die("cannot connect to %s: %s", e->address, strerror(-r));
        free(bus_path);
        free(listen);
        free(config);
}

void bench_env_start_daemon(BenchEnv *e, char *const extra[]) {
        char *argv[16], *bus_arg = NULL, *state = NULL, *roots = NULL;
        size_t n = 0;

        if (asprintf(&bus_arg, "--bus-address=%s", e->address) < 0 ||
            asprintf(&state, "--state-dir=%s/state", e->dir) < 0 ||
            asprintf(&roots, "--content-root=%s/content", e->dir) < 0)
                die("out of memory");
        argv[n++] = (char *) e->smsprovd;
        argv[n++] = bus_arg;
        argv[n++] = state;
        argv[n++] = "--site-code=LAB";
        argv[n++] = roots;
        for (size_t i = 0; extra && extra[i]; i++) {
                if (n >= sizeof argv / sizeof argv[0] - 2)
                        die("too many arguments for smsprovd");
                argv[n++] = extra[i];
        }
        argv[n++] = "--log-level=warning";
        argv[n] = NULL;

        e->daemon_pid = spawn_io(argv, NULL, NULL, true);
        wait_for_name(e->bus, PROVIDER, &e->daemon_pid);
        free(bus_arg);
        free(state);
        free(roots);
}

void bench_env_start_reference(BenchEnv *e, char *const argv[], const char *what, const char *name) {
        e->reference_what = what;
        e->reference_pid = spawn_io(argv, NULL, NULL, true);
        wait_for_name(e->bus, name, &e->reference_pid);
}

void bench_env_stop(BenchEnv *e) {
        for (size_t i = 0; i < ELEMENTSOF(current); i++)
                if (current[i] == e)
                        current[i] = NULL;
        e->bus = sd_bus_flush_close_unref(e->bus);
        stop_child(&e->reference_pid, e->reference_what);
        stop_child(&e->daemon_pid, "smsprovd");
        stop_child(&e->dbus_pid, "dbus-daemon");
        if (e->dir && !getenv("BENCH_KEEP"))
                nftw(e->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(e->dir);
        free(e->address);
        e->dir = e->address = NULL;
}

/* --- the table --------------------------------------------------------------------------------- */

const char *verdict(bool ok) {
        return ok ? "ok" : "MISSED";
}

void row(int goal, const char *metric, const char *value, const char *reference, const char *ratio) {
        Row *r;

        if (n_rows >= sizeof rows / sizeof rows[0])
                die("too many rows");
        r = &rows[n_rows++];
        *r = (Row) { .goal = goal };
        snprintf(r->metric, sizeof r->metric, "%s", metric);
        snprintf(r->value, sizeof r->value, "%s", value);
        snprintf(r->reference, sizeof r->reference, "%s", reference);
        snprintf(r->ratio, sizeof r->ratio, "%s", ratio);
}

void print_table(const TableLayout *l, const char *summary, ...) {
        int met = 0, missed = 0;
        bool first = true;
        va_list ap;

        printf("\n%-*s  %-*s  %-*s  %s\n", l->width[0], "metric", l->width[1], "value", l->width[2], "reference",
               "ratio/goal");
        for (size_t i = 0; i < n_rows; i++) {
                printf("%-*.*s  %-*.*s  %-*.*s  %.*s\n", l->width[0], l->keep[0], rows[i].metric, l->width[1],
                       l->keep[1], rows[i].value, l->width[2], l->keep[2], rows[i].reference, l->keep[3],
                       rows[i].ratio);
                met += rows[i].goal == GOAL_MET;
                missed += rows[i].goal == GOAL_MISSED;
        }
        printf("\n%s: ", bench_name);
        va_start(ap, summary);
        vprintf(summary, ap);
        va_end(ap);
        printf("; %d of %d goals met", met, met + missed);
        for (size_t i = 0; i < n_rows; i++)
                if (rows[i].goal == GOAL_MISSED) {
                        printf("%s%.*s", first ? "; missed: " : ", ", l->keep[0], rows[i].metric);
                        first = false;
                }
        printf(".\n");
}
