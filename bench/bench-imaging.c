/* SPDX-License-Identifier: MIT */

/* bench-imaging: smsprovd's imaging against wimlib-imagex and cp, in one run on the same files.
 *
 * Starts a private dbus-daemon and the real smsprovd (with the stand-in deployment kit and OSD
 * binaries of tools/stand-in-kit.sh) in a temporary directory, makes WinPE-like WIMs with the test
 * helpers, and times, each side in turn:
 *   1. a boot image build (Create of an SMS_BootImagePackage, then UpdateImage) against
 *      `cp SOURCE OUT && wimlib-imagex update OUT 1 < commands` adding the same trees and files;
 *   2. ExportDefaultBootImage against `wimlib-imagex export` and `cp` of the kit's winpe.wim;
 *   3. GetImageProperties on a 5-image WIM against `wimlib-imagex info --xml`.
 * A job's time runs from the call to its Completed signal. Nothing here asserts a time: figures that
 * miss their goal are listed at the end, and the exit status says only whether the run itself
 * worked. See bench/README.md. */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "hive-gen.h"
#include "wim-gen.h"

#define PROVIDER "org.smsprov.Provider1"
#define ROOT "/org/smsprov/Provider1"
#define BOOT_CLASS ROOT "/class/SMS_BootImagePackage"
#define BOOT_STATIC PROVIDER ".SMS_BootImagePackage.Static"
#define JOB_IFACE PROVIDER ".Job"
#define RUNS 5
#define PROPERTY_RUNS 50
#define JOB_TIMEOUT_US (1800.0 * 1e6)

/* What the build adds (src/imaging/boot-image.c, src/jobs/image-jobs.c) for an x64 image without
 * drivers, prestart command or bitmap. */
static const char *const components[] = { "WinPE-WMI", "WinPE-Scripting", "WinPE-WDS-Tools", "WinPE-SecureStartup" };
static const char winpeshl_ini[] = "[LaunchApps]\r\n%SYSTEMDRIVE%\\sms\\bin\\x64\\TsBootShell.exe\r\n";
static const char tsbootshell_ini[] =
        "[Shell]\r\nEnableDebugShell=false\r\n"
        "Run=%SYSTEMDRIVE%\\sms\\bin\\x64\\TsmBootstrap.exe /env:WinPE /configpath:%CONFIGPATH%\r\n";

typedef struct Bench {
        const char *smsprovd, *source_root;
        unsigned wim_mib;
        char *dir, *address;
        pid_t dbus_pid, daemon_pid;
        sd_bus *bus;
} Bench;

/* A Completed signal of some job, kept until wait_job() claims it. */
typedef struct Completion {
        char path[128], error[512];
        bool success;
        double at_us;
} Completion;

enum { GOAL_NONE = -1, GOAL_MISSED = 0, GOAL_MET = 1 };

typedef struct Row {
        char metric[40], value[44], reference[44], ratio[48];
        int goal;
} Row;

static Row rows[16];
static size_t n_rows;
static Completion completions[8];
static unsigned n_completions;
static char *recent[8]; /* jobs not yet reported by dump_recent_jobs() */
static size_t n_recent;
static Bench *current; /* for die() */

static void bench_stop(Bench *b);

static _Noreturn __attribute__((format(printf, 1, 2))) void die(const char *fmt, ...) {
        va_list ap;

        fputs("bench-imaging: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        if (current)
                bench_stop(current);
        exit(EXIT_FAILURE);
}

/* A formatted string that lives until eight more have been made: enough for one table row. */
static __attribute__((format(printf, 1, 2))) const char *fmt(const char *f, ...) {
        static char buf[8][64];
        static unsigned next;
        char *s = buf[next++ % 8];
        va_list ap;

        va_start(ap, f);
        vsnprintf(s, sizeof buf[0], f, ap);
        va_end(ap);
        return s;
}

static void row(int goal, const char *metric, const char *value, const char *reference, const char *ratio) {
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

/* A row comparing `value` with `reference` (both µs) against a goal ratio. */
static void goal_row(const char *metric, const char *how, double value, double reference, const char *ref_name,
                     double goal) {
        double ratio = value / reference;
        bool ok = ratio <= goal;

        row(ok ? GOAL_MET : GOAL_MISSED, metric, fmt("%s %.1f ms", how, value / 1e3),
            fmt("%s %.1f ms", ref_name, reference / 1e3),
            fmt("%.2fx (goal <= %.1fx) %s", ratio, goal, ok ? "ok" : "MISSED"));
}

static double now_us(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

static double min_of(const double *v, size_t n) {
        double m = v[0];
        for (size_t i = 1; i < n; i++)
                m = v[i] < m ? v[i] : m;
        return m;
}

/* Sorts v in place. */
static double median_of(double *v, size_t n) {
        qsort(v, n, sizeof(double), cmp_double);
        return v[n / 2];
}

static char *path_in(const Bench *b, const char *name) {
        char *s = NULL;
        if (asprintf(&s, "%s/%s", b->dir, name) < 0)
                die("out of memory");
        return s;
}

static double file_mib(const char *path) {
        struct stat st;
        return stat(path, &st) < 0 ? -1 : (double) st.st_size / 1048576.0;
}

/* --- processes --------------------------------------------------------------------------------- */

/* Forks and execs argv; stdin from `in` and stdout to `out` when given (else /dev/null for
 * stdout, unless keep_stdout). */
static pid_t spawn_io(char *const argv[], const char *in, const char *out, bool keep_stdout) {
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
                fprintf(stderr, "bench-imaging: cannot run %s: %m\n", argv[0]);
                _exit(127);
        }
        return pid;
}

/* Runs a command to its end and returns its wall time in µs, fork and exec included; dies unless
 * it exits with 0. */
static double run(const char *in, char *const argv[]) {
        double t0 = now_us();
        int status;
        pid_t pid = spawn_io(argv, in, NULL, false);

        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                die("%s %s failed (status 0x%x)", argv[0], argv[1] ? argv[1] : "", (unsigned) status);
        return now_us() - t0;
}

static void stop_child(pid_t *pid, const char *what) {
        int status = 0;

        if (*pid <= 0)
                return;
        kill(*pid, SIGTERM);
        waitpid(*pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fprintf(stderr, "bench-imaging: %s did not stop cleanly (status 0x%x)\n", what, (unsigned) status);
        *pid = -1;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        remove(path);
        return 0;
}

/* --- the bus ----------------------------------------------------------------------------------- */

/* Calls a method that must work; returns the reply. */
static sd_bus_message *call(Bench *b, const char *path, const char *iface, const char *member, const char *types, ...) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(b->bus, &m, PROVIDER, path, iface, member);
        va_start(ap, types);
        if (r >= 0 && types)
                r = sd_bus_message_appendv(m, types, ap);
        va_end(ap);
        if (r >= 0)
                r = sd_bus_call(b->bus, m, 0, &error, &reply);
        sd_bus_message_unref(m);
        if (r < 0)
                die("%s %s.%s: %s", path, iface, member, error.message ? error.message : strerror(-r));
        return reply;
}

static int on_completed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Completion *c = &completions[n_completions++ % (sizeof completions / sizeof completions[0])];
        const char *name = "", *message = "";
        int success = 0;

        c->at_us = now_us();
        snprintf(c->path, sizeof c->path, "%s", sd_bus_message_get_path(m));
        (void) sd_bus_message_read(m, "bss", &success, &name, &message);
        c->success = success;
        snprintf(c->error, sizeof c->error, "%s: %s", name, message);
        return 0;
}

/* Waits for the job's Completed signal (the match is in place before any job is started, so it
 * cannot be missed) and returns its time in µs since t0; dies if the job failed. */
static double wait_job(Bench *b, const char *job, double t0) {
        for (;;) {
                for (size_t i = 0; i < sizeof completions / sizeof completions[0]; i++)
                        if (strcmp(completions[i].path, job) == 0) {
                                completions[i].path[0] = 0;
                                if (!completions[i].success)
                                        die("job %s failed: %s", job, completions[i].error);
                                return completions[i].at_us - t0;
                        }
                int r = sd_bus_process(b->bus, NULL);
                if (r < 0)
                        die("the bus connection failed: %s", strerror(-r));
                if (r > 0)
                        continue;
                if (waitpid(b->daemon_pid, NULL, WNOHANG) == b->daemon_pid) {
                        b->daemon_pid = -1;
                        die("smsprovd exited while job %s ran", job);
                }
                if (now_us() - t0 > JOB_TIMEOUT_US)
                        die("job %s did not end", job);
                (void) sd_bus_wait(b->bus, 1000000);
        }
}

/* A time property of a job (µs since the epoch), 0 if unknown. */
static uint64_t job_usec(Bench *b, const char *job, const char *property) {
        uint64_t t = 0;
        (void) sd_bus_get_property_trivial(b->bus, PROVIDER, job, JOB_IFACE, property, NULL, 't', &t);
        return t;
}

/* With $BENCH_VERBOSE, how long the jobs since the last call were queued and ran, by their own
 * clock; read afterwards, so that reading it does not delay the next call. */
static void dump_recent_jobs(Bench *b) {
        for (size_t i = 0; i < n_recent; i++) {
                if (getenv("BENCH_VERBOSE")) {
                        uint64_t submit = job_usec(b, recent[i], "SubmitTime"),
                                 start = job_usec(b, recent[i], "StartTime"), end = job_usec(b, recent[i], "EndTime");
                        fprintf(stderr, "bench-imaging:     %s: queued %.1f ms, ran %.1f ms\n", recent[i],
                                (double) (start - submit) / 1e3, (double) (end - start) / 1e3);
                }
                free(recent[i]);
        }
        n_recent = 0;
}

/* Reads the job path out of a reply whose signature starts with `types` ("o" or "oo"), and waits
 * for the job. */
static double job_time(Bench *b, sd_bus_message *reply, const char *types, double t0, char **ret_object) {
        const char *object = NULL, *job = NULL;
        int r = strcmp(types, "oo") == 0 ? sd_bus_message_read(reply, "oo", &object, &job)
                                         : sd_bus_message_read(reply, "o", &job);

        if (r < 0 || !job || strcmp(job, "/") == 0)
                die("the reply names no job");
        if (ret_object && !(*ret_object = strdup(object)))
                die("out of memory");
        double t = wait_job(b, job, t0);
        if (n_recent < sizeof recent / sizeof recent[0] && !(recent[n_recent++] = strdup(job)))
                die("out of memory");
        sd_bus_message_unref(reply);
        return t;
}

/* --- setting up and tearing down --------------------------------------------------------------- */

static void make_wim(Bench *b, const char *name, uint64_t filler) {
        char *p = path_in(b, name);
        int r;

        fprintf(stderr, "bench-imaging: making %s\n", p);
        r = test_make_winpe_wim(p, "9", true, filler, true);
        if (r < 0)
                die("cannot make %s: %s", p, strerror(-r));
        free(p);
}

static void bench_start(Bench *b) {
        const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        char *bus_path, *listen = NULL, *bus_arg = NULL, *config = NULL, *state = NULL, *roots = NULL, *adk = NULL,
             *osd = NULL, *kit = NULL, *adk_dir, *osd_dir, *content, *multi;
        struct stat st;
        int r;

        if (asprintf(&b->dir, "%s/smsprov-bench-imaging.XXXXXX", tmp) < 0 || !mkdtemp(b->dir))
                die("cannot create a temporary directory in %s: %m", tmp);
        current = b;
        bus_path = path_in(b, "bus");
        adk_dir = path_in(b, "adk");
        osd_dir = path_in(b, "osd-bin");
        content = path_in(b, "content");
        multi = path_in(b, "content/multi.wim");
        if (asprintf(&kit, "%s/tools/stand-in-kit.sh", b->source_root) < 0 ||
            asprintf(&b->address, "unix:path=%s", bus_path) < 0 ||
            asprintf(&listen, "--address=%s", b->address) < 0 ||
            asprintf(&bus_arg, "--bus-address=%s", b->address) < 0 ||
            asprintf(&config, "--config-file=%s/tests/bus/test-bus.conf", b->source_root) < 0 ||
            asprintf(&state, "--state-dir=%s/state", b->dir) < 0 ||
            asprintf(&roots, "--content-root=%s", content) < 0 || asprintf(&adk, "--adk-root=%s", adk_dir) < 0 ||
            asprintf(&osd, "--osd-bin-root=%s", osd_dir) < 0)
                die("out of memory");
        if (mkdir(content, 0755) < 0)
                die("cannot create %s: %m", content);

        run(NULL, (char *[]) { "bash", kit, adk_dir, osd_dir, NULL });
        /* The generator is deterministic: the kit's winpe.wim is the same WIM as the source. */
        make_wim(b, "content/source.wim", (uint64_t) b->wim_mib << 20);
        char *source = path_in(b, "content/source.wim"), *winpe = path_in(b, "adk/amd64/winpe.wim");
        run(NULL, (char *[]) { "cp", source, winpe, NULL });
        if ((r = test_make_multi_image_wim(multi, 5)) < 0)
                die("cannot make %s: %s", multi, strerror(-r));

        char *dbus_argv[] = { "dbus-daemon", config, listen, "--nofork", "--nopidfile", "--nosyslog", NULL };
        b->dbus_pid = spawn_io(dbus_argv, NULL, NULL, true);
        for (int i = 0; i < 500 && stat(bus_path, &st) < 0; i++)
                sleep_ms(10);
        r = sd_bus_new(&b->bus);
        if (r >= 0)
                r = sd_bus_set_address(b->bus, b->address);
        if (r >= 0)
                r = sd_bus_set_bus_client(b->bus, 1);
        if (r >= 0)
                r = sd_bus_set_method_call_timeout(b->bus, 300ULL * 1000000ULL);
        if (r >= 0)
                r = sd_bus_start(b->bus);
        if (r >= 0) /* before any job exists: no Completed signal can be missed */
                r = sd_bus_match_signal(b->bus, NULL, NULL, NULL, JOB_IFACE, "Completed", on_completed, NULL);
        if (r < 0)
                die("cannot connect to %s: %s", b->address, strerror(-r));

        char *daemon_argv[] = { (char *) b->smsprovd, bus_arg, state, "--site-code=LAB", roots, adk, osd,
                                "--log-level=warning", NULL };
        b->daemon_pid = spawn_io(daemon_argv, NULL, NULL, true);
        for (int i = 0;; i++) {
                sd_bus_message *reply = NULL;
                int has = 0;
                if (sd_bus_call_method(b->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                       "NameHasOwner", NULL, &reply, "s", PROVIDER) >= 0)
                        (void) sd_bus_message_read(reply, "b", &has);
                sd_bus_message_unref(reply);
                if (has)
                        break;
                if (i >= 1000 || waitpid(b->daemon_pid, NULL, WNOHANG) == b->daemon_pid)
                        die("smsprovd did not appear on the bus");
                sleep_ms(10);
        }
        free(bus_path), free(listen), free(bus_arg), free(config), free(state), free(roots), free(adk), free(osd);
        free(kit), free(adk_dir), free(osd_dir), free(content), free(multi), free(source), free(winpe);
}

static void bench_stop(Bench *b) {
        current = NULL;
        b->bus = sd_bus_flush_close_unref(b->bus);
        stop_child(&b->daemon_pid, "smsprovd");
        stop_child(&b->dbus_pid, "dbus-daemon");
        if (b->dir && !getenv("BENCH_KEEP"))
                nftw(b->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(b->dir);
        free(b->address);
}

/* --- the figures ------------------------------------------------------------------------------- */

/* The reference's inputs: the generated files, the SYSTEM hive (the one the source holds; the
 * build adds it back edited), and the wimlib-imagex update commands adding all of them. */
static char *write_update_commands(Bench *b) {
        char *commands = path_in(b, "ref/commands"), *p;
        FILE *f;
        int r;

        if (mkdir(p = path_in(b, "ref"), 0755) < 0)
                die("cannot create %s: %m", p);
        free(p);
        p = path_in(b, "ref/winpeshl.ini");
        r = test_write_file(p, winpeshl_ini, strlen(winpeshl_ini));
        if (r >= 0) {
                free(p);
                p = path_in(b, "ref/TsBootShell.ini");
                r = test_write_file(p, tsbootshell_ini, strlen(tsbootshell_ini));
        }
        if (r >= 0) {
                free(p);
                p = path_in(b, "ref/SYSTEM");
                r = test_make_system_hive(p);
        }
        if (r < 0)
                die("cannot write %s: %s", p, strerror(-r));
        free(p);
        if (!(f = fopen(commands, "we")))
                die("cannot create %s: %m", commands);
        for (size_t i = 0; i < sizeof components / sizeof components[0]; i++)
                fprintf(f, "add \"%s/adk/amd64/WinPE_OCs/%s\" /\n", b->dir, components[i]);
        fprintf(f, "add \"%s/osd-bin/x64\" /sms/bin/x64\n", b->dir);
        fprintf(f, "add \"%s/ref/winpeshl.ini\" /Windows/System32/winpeshl.ini\n", b->dir);
        fprintf(f, "add \"%s/ref/TsBootShell.ini\" /sms/bin/x64/TsBootShell.ini\n", b->dir);
        fprintf(f, "add \"%s/ref/SYSTEM\" /Windows/System32/config/SYSTEM\n", b->dir);
        if (fclose(f) != 0)
                die("cannot write %s: %m", commands);
        return commands;
}

/* Writes back what earlier steps left dirty (syncfs: no root needed, the page cache stays), so that
 * no side pays for another's writeback. */
static void settle(Bench *b) {
        int fd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || syncfs(fd) < 0)
                die("cannot sync %s: %m", b->dir);
        close(fd);
}

/* cp SOURCE OUT && wimlib-imagex update OUT 1 < commands, on a fresh OUT; *fsync_us: what an
 * fsync of OUT then costs (smsprovd syncs its output; the reference does not). */
static double reference_build(const char *source, const char *out, const char *commands, double *fsync_us) {
        (void) unlink(out);
        double t = run(NULL, (char *[]) { "cp", (char *) source, (char *) out, NULL }) +
                   run(commands, (char *[]) { "wimlib-imagex", "update", (char *) out, "1", NULL });
        double t0 = now_us();
        int fd = open(out, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                die("cannot sync %s: %m", out);
        close(fd);
        *fsync_us = now_us() - t0;
        return t;
}

static void bench_build(Bench *b) {
        char *source = path_in(b, "content/source.wim"), *out = path_in(b, "ref/out.wim");
        char *commands = write_update_commands(b), *package = NULL, *built = NULL;
        double create[RUNS], update[RUNS], ref[RUNS], ref_sync[RUNS], sync_us = 0, ref_mib = 0;

        for (int i = 0; i < RUNS; i++) {
                fprintf(stderr, "bench-imaging: boot image build, round %d/%d\n", i + 1, RUNS);
                for (int side = 0; side < 2; side++)
                        if ((side + i) % 2 == 0) { /* each side first in turn */
                                settle(b);
                                ref[i] = reference_build(source, out, commands, &sync_us);
                                ref_sync[i] = ref[i] + sync_us;
                                ref_mib = file_mib(out);
                                (void) unlink(out);
                        } else {
                                free(package);
                                settle(b);
                                double t0 = now_us();
                                sd_bus_message *reply = call(b, BOOT_CLASS, PROVIDER ".Class", "Create", "a{sv}", 2,
                                                             "ImagePath", "s", source, "ScratchSpace", "u", 256);
                                create[i] = job_time(b, reply, "oo", t0, &package);
                                settle(b);
                                t0 = now_us();
                                reply = call(b, package, PROVIDER ".SMS_BootImagePackage", "UpdateImage", NULL);
                                update[i] = job_time(b, reply, "o", t0, NULL);
                        }
                fprintf(stderr, "bench-imaging:   cp+update %.1f ms (fsync after it %.1f ms), Create %.1f ms, "
                        "UpdateImage %.1f ms\n", ref[i] / 1e3, sync_us / 1e3, create[i] / 1e3, update[i] / 1e3);
                dump_recent_jobs(b);
        }
        sd_bus_error error = SD_BUS_ERROR_NULL;
        if (sd_bus_get_property_string(b->bus, PROVIDER, package, PROVIDER ".SMS_PackageBaseclass", "PkgSourcePath",
                                       &error, &built) < 0)
                die("cannot read PkgSourcePath: %s", error.message);

        double best_ref = min_of(ref, RUNS);
        row(GOAL_NONE, "Source WIM", fmt("%.1f MiB file", file_mib(source)),
            fmt("%u MiB of files, LZX", b->wim_mib), "half incompressible, stored raw");
        goal_row("Boot image build (Create)", "best", min_of(create, RUNS), best_ref, "cp+update", 1.2);
        goal_row("Boot image rebuild (UpdateImage)", "best", min_of(update, RUNS), best_ref, "cp+update", 1.2);
        row(GOAL_NONE, "  built WIM size", fmt("%.1f MiB (smsprovd)", file_mib(built)),
            fmt("%.1f MiB (cp+update)", ref_mib), "-");
        row(GOAL_NONE, "  cp+update, then fsync(OUT)", fmt("best %.1f ms", min_of(ref_sync, RUNS) / 1e3), "-",
            fmt("Create %.2fx of it", min_of(create, RUNS) / min_of(ref_sync, RUNS)));
        free(source), free(out), free(commands), free(package), free(built);
}

static void bench_export(Bench *b) {
        char *winpe = path_in(b, "adk/amd64/winpe.wim"), *ref_out = path_in(b, "ref/export.wim"),
             *cp_out = path_in(b, "ref/copy.wim"), *out = path_in(b, "content/export.wim");
        double daemon[RUNS], ref[RUNS], cp[RUNS], ref_mib = 0;

        for (int i = 0; i < RUNS; i++) {
                fprintf(stderr, "bench-imaging: ExportDefaultBootImage, round %d/%d\n", i + 1, RUNS);
                for (int side = 0; side < 3; side++)
                        switch ((side + i) % 3) { /* the order rotates */
                        case 0:
                                (void) unlink(ref_out);
                                settle(b);
                                ref[i] = run(NULL, (char *[]) { "wimlib-imagex", "export", winpe, "1", ref_out, NULL });
                                ref_mib = file_mib(ref_out);
                                (void) unlink(ref_out);
                                break;
                        case 1:
                                (void) unlink(cp_out);
                                settle(b);
                                cp[i] = run(NULL, (char *[]) { "cp", winpe, cp_out, NULL });
                                (void) unlink(cp_out);
                                break;
                        default: {
                                (void) unlink(out);
                                settle(b);
                                double t0 = now_us();
                                sd_bus_message *reply = call(b, BOOT_CLASS, BOOT_STATIC, "ExportDefaultBootImage",
                                                             "sus", "x64", 1, out);
                                daemon[i] = job_time(b, reply, "o", t0, NULL);
                                break;
                        }
                        }
                fprintf(stderr, "bench-imaging:   imagex export %.1f ms, cp %.1f ms, ExportDefaultBootImage %.1f ms\n",
                        ref[i] / 1e3, cp[i] / 1e3, daemon[i] / 1e3);
                dump_recent_jobs(b);
        }
        goal_row("ExportDefaultBootImage", "best", min_of(daemon, RUNS), min_of(ref, RUNS), "imagex export", 1.1);
        row(GOAL_NONE, "  exported WIM size", fmt("%.1f MiB (smsprovd)", file_mib(out)),
            fmt("%.1f MiB (imagex export)", ref_mib), "-");
        row(GOAL_NONE, "  cp winpe.wim (second reference)", fmt("best %.1f ms", min_of(cp, RUNS) / 1e3), "-",
            fmt("smsprovd %.2fx, export %.2fx", min_of(daemon, RUNS) / min_of(cp, RUNS),
                min_of(ref, RUNS) / min_of(cp, RUNS)));
        free(winpe), free(ref_out), free(cp_out), free(out);
}

static void bench_image_properties(Bench *b) {
        char *multi = path_in(b, "content/multi.wim");
        double bus[PROPERTY_RUNS], ref[PROPERTY_RUNS];

        fprintf(stderr, "bench-imaging: GetImageProperties\n");
        for (int i = -3; i < PROPERTY_RUNS; i++) { /* three rounds of warm-up */
                double t0 = now_us();
                sd_bus_message *reply = call(b, BOOT_CLASS, BOOT_STATIC, "GetImageProperties", "s", multi);
                double t = now_us() - t0;
                const char *xml = NULL;
                if (sd_bus_message_read(reply, "s", &xml) < 0 || !strstr(xml, "Image 5"))
                        die("GetImageProperties did not describe 5 images");
                sd_bus_message_unref(reply);
                double r = run(NULL, (char *[]) { "wimlib-imagex", "info", "--xml", multi, NULL });
                if (i >= 0)
                        bus[i] = t, ref[i] = r;
        }
        double m_bus = median_of(bus, PROPERTY_RUNS), m_ref = median_of(ref, PROPERTY_RUNS);
        bool ok = m_bus <= m_ref;
        row(ok ? GOAL_MET : GOAL_MISSED, "GetImageProperties (5 images)", fmt("p50 %.0f us", m_bus),
            fmt("imagex info --xml p50 %.0f us", m_ref),
            fmt("%.2fx (goal <= 1.0x) %s", m_bus / m_ref, ok ? "ok" : "MISSED"));
        free(multi);
}

static void print_table(const Bench *b) {
        int met = 0, missed = 0;
        bool first = true;

        printf("\n%-36s  %-32s  %-32s  %s\n", "metric", "value", "reference", "ratio/goal");
        for (size_t i = 0; i < n_rows; i++) {
                printf("%-36s  %-32s  %-32s  %s\n", rows[i].metric, rows[i].value, rows[i].reference, rows[i].ratio);
                met += rows[i].goal == GOAL_MET;
                missed += rows[i].goal == GOAL_MISSED;
        }
        printf("\nbench-imaging: %u MiB WIMs, best of %d (builds, exports), median of %d (reads); %d of %d goals met",
               b->wim_mib, RUNS, PROPERTY_RUNS, met, met + missed);
        for (size_t i = 0; i < n_rows; i++)
                if (rows[i].goal == GOAL_MISSED) {
                        printf("%s%s", first ? "; missed: " : ", ", rows[i].metric);
                        first = false;
                }
        printf(".\n");
}

static void help(void) {
        printf("bench-imaging [OPTIONS...]\n\n"
               "Benchmarks smsprovd's boot image builds, exports and WIM reads against wimlib-imagex and cp.\n\n"
               "  -h --help               Show this help\n"
               "     --wim-mib=N          Files in the source and winpe.wim, in MiB (default 200, or $BENCH_WIM_MIB)\n"
               "     --smsprovd=PATH      The daemon (default $SMSPROVD)\n"
               "     --source-root=DIR    Source tree, for tests/bus/test-bus.conf and tools/stand-in-kit.sh\n"
               "                          (default $SOURCE_ROOT or .)\n");
}

int main(int argc, char *argv[]) {
        enum { ARG_WIM_MIB = 0x100, ARG_SMSPROVD, ARG_SOURCE_ROOT };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "wim-mib", required_argument, NULL, ARG_WIM_MIB },
                { "smsprovd", required_argument, NULL, ARG_SMSPROVD },
                { "source-root", required_argument, NULL, ARG_SOURCE_ROOT },
                {},
        };
        const char *mib = getenv("BENCH_WIM_MIB");
        Bench b = {
                .dbus_pid = -1,
                .daemon_pid = -1,
                .smsprovd = getenv("SMSPROVD"),
                .source_root = getenv("SOURCE_ROOT") ? getenv("SOURCE_ROOT") : ".",
        };
        unsigned long n;
        char *end;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case ARG_WIM_MIB:
                        mib = optarg;
                        break;
                case ARG_SMSPROVD:
                        b.smsprovd = optarg;
                        break;
                case ARG_SOURCE_ROOT:
                        b.source_root = optarg;
                        break;
                default:
                        return 2;
                }
        if (optind < argc || !b.smsprovd) {
                fprintf(stderr, "bench-imaging: give --smsprovd=PATH or set $SMSPROVD; see --help\n");
                return 2;
        }
        errno = 0;
        n = strtoul(mib ? mib : "200", &end, 10);
        if (errno || *end || n > 65536) {
                fprintf(stderr, "bench-imaging: --wim-mib must be 0…65536\n");
                return 2;
        }
        b.wim_mib = (unsigned) n;
        signal(SIGPIPE, SIG_IGN);

        printf("bench-imaging: %u MiB WIMs\n", b.wim_mib);
        fflush(stdout);
        bench_start(&b);
        bench_build(&b);
        bench_export(&b);
        bench_image_properties(&b);
        bench_stop(&b);
        print_table(&b);
        return EXIT_SUCCESS;
}
