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
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "bench-env.h"
#include "hive-gen.h"
#include "wim-gen.h"

#define BOOT_CLASS ROOT "/class/SMS_BootImagePackage"
#define BOOT_STATIC PROVIDER ".SMS_BootImagePackage.Static"
#define JOB_IFACE PROVIDER ".Job"
#define RUNS 5
#define PROPERTY_RUNS 50
#define JOB_TIMEOUT_US (1800.0 * 1e6)

/* What the build adds (src/imaging/boot-image.c, src/site/image-work.c) for an x64 image without
 * drivers, prestart command or bitmap. */
static const char *const components[] = { "WinPE-WMI", "WinPE-Scripting", "WinPE-WDS-Tools", "WinPE-SecureStartup" };
static const char winpeshl_ini[] = "[LaunchApps]\r\n%SYSTEMDRIVE%\\sms\\bin\\x64\\TsBootShell.exe\r\n";
static const char tsbootshell_ini[] =
        "[Shell]\r\nEnableDebugShell=false\r\n"
        "Run=%SYSTEMDRIVE%\\sms\\bin\\x64\\TsmBootstrap.exe /env:WinPE /configpath:%CONFIGPATH%\r\n";

typedef struct Bench {
        BenchEnv env;           /* smsprovd, with the stand-in kit */
        unsigned wim_mib;
} Bench;

/* A Completed signal of some job, kept until wait_job() claims it. */
typedef struct Completion {
        char path[128], error[512];
        bool success;
        double at_us;
} Completion;

static Completion completions[8];
static unsigned n_completions;
static char *recent[8]; /* jobs not yet reported by dump_recent_jobs() */
static size_t n_recent;

const char bench_name[] = "bench-imaging";

static const TableLayout table_layout = {
        .width = { 36, 32, 32 },
        .keep = { 39, 43, 43, 47 },
};

/* A row comparing `value` with `reference` (both µs) against a goal ratio. */
static void goal_row(const char *metric, const char *how, double value, double reference, const char *ref_name,
                     double goal) {
        double ratio = value / reference;
        bool ok = ratio <= goal;

        row(ok ? GOAL_MET : GOAL_MISSED, metric, fmt("%s %.1f ms", how, value / 1e3),
            fmt("%s %.1f ms", ref_name, reference / 1e3),
            fmt("%.2fx (goal <= %.1fx) %s", ratio, goal, verdict(ok)));
}

static double min_of(const double *v, size_t n) {
        double m = v[0];
        for (size_t i = 1; i < n; i++)
                m = v[i] < m ? v[i] : m;
        return m;
}

static double file_mib(const char *path) {
        struct stat st;
        return stat(path, &st) < 0 ? -1 : (double) st.st_size / 1048576.0;
}

/* --- processes --------------------------------------------------------------------------------- */

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

/* --- the bus ----------------------------------------------------------------------------------- */

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
                int r = sd_bus_process(b->env.bus, NULL);
                if (r < 0)
                        die("the bus connection failed: %s", strerror(-r));
                if (r > 0)
                        continue;
                if (waitpid(b->env.daemon_pid, NULL, WNOHANG) == b->env.daemon_pid) {
                        b->env.daemon_pid = -1;
                        die("smsprovd exited while job %s ran", job);
                }
                if (now_us() - t0 > JOB_TIMEOUT_US)
                        die("job %s did not end", job);
                (void) sd_bus_wait(b->env.bus, 1000000);
        }
}

/* A time property of a job (µs since the epoch), 0 if unknown. */
static uint64_t job_usec(Bench *b, const char *job, const char *property) {
        uint64_t t = 0;
        (void) sd_bus_get_property_trivial(b->env.bus, PROVIDER, job, JOB_IFACE, property, NULL, 't', &t);
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
        char *p = path_in(&b->env, name);
        int r;

        fprintf(stderr, "bench-imaging: making %s\n", p);
        r = test_make_winpe_wim(p, "9", true, filler, true);
        if (r < 0)
                die("cannot make %s: %s", p, strerror(-r));
        free(p);
}

static void bench_start(Bench *b) {
        char *kit = NULL, *adk = NULL, *osd = NULL, *adk_dir, *osd_dir, *multi, *source, *winpe;
        int r;

        bench_env_make_dir(&b->env, "smsprov-bench-imaging");
        adk_dir = path_in(&b->env, "adk");
        osd_dir = path_in(&b->env, "osd-bin");
        multi = path_in(&b->env, "content/multi.wim");
        if (asprintf(&kit, "%s/tools/stand-in-kit.sh", b->env.source_root) < 0 ||
            asprintf(&adk, "--adk-root=%s", adk_dir) < 0 || asprintf(&osd, "--osd-bin-root=%s", osd_dir) < 0)
                die("out of memory");

        run(NULL, (char *[]) { "bash", kit, adk_dir, osd_dir, NULL });
        /* The generator is deterministic: the kit's winpe.wim is the same WIM as the source. */
        make_wim(b, "content/source.wim", (uint64_t) b->wim_mib << 20);
        source = path_in(&b->env, "content/source.wim");
        winpe = path_in(&b->env, "adk/amd64/winpe.wim");
        run(NULL, (char *[]) { "cp", source, winpe, NULL });
        if ((r = test_make_multi_image_wim(multi, 5)) < 0)
                die("cannot make %s: %s", multi, strerror(-r));

        bench_env_start_bus(&b->env);
        r = sd_bus_set_method_call_timeout(b->env.bus, 300ULL * 1000000ULL);
        if (r >= 0) /* before any job exists: no Completed signal can be missed */
                r = sd_bus_match_signal(b->env.bus, NULL, NULL, NULL, JOB_IFACE, "Completed", on_completed, NULL);
        if (r < 0)
                die("cannot connect to %s: %s", b->env.address, strerror(-r));
        bench_env_start_daemon(&b->env, (char *[]) { adk, osd, NULL });
        free(kit), free(adk), free(osd), free(adk_dir), free(osd_dir), free(multi), free(source), free(winpe);
}

/* --- the figures ------------------------------------------------------------------------------- */

/* The reference's inputs: the generated files, the SYSTEM hive (the one the source holds; the
 * build adds it back edited), and the wimlib-imagex update commands adding all of them. */
static char *write_update_commands(Bench *b) {
        char *commands = path_in(&b->env, "ref/commands"), *p;
        FILE *f;
        int r;

        if (mkdir(p = path_in(&b->env, "ref"), 0755) < 0)
                die("cannot create %s: %m", p);
        free(p);
        p = path_in(&b->env, "ref/winpeshl.ini");
        r = test_write_file(p, winpeshl_ini, strlen(winpeshl_ini));
        if (r >= 0) {
                free(p);
                p = path_in(&b->env, "ref/TsBootShell.ini");
                r = test_write_file(p, tsbootshell_ini, strlen(tsbootshell_ini));
        }
        if (r >= 0) {
                free(p);
                p = path_in(&b->env, "ref/SYSTEM");
                r = test_make_system_hive(p);
        }
        if (r < 0)
                die("cannot write %s: %s", p, strerror(-r));
        free(p);
        if (!(f = fopen(commands, "we")))
                die("cannot create %s: %m", commands);
        for (size_t i = 0; i < sizeof components / sizeof components[0]; i++)
                fprintf(f, "add \"%s/adk/amd64/WinPE_OCs/%s\" /\n", b->env.dir, components[i]);
        fprintf(f, "add \"%s/osd-bin/x64\" /sms/bin/x64\n", b->env.dir);
        fprintf(f, "add \"%s/ref/winpeshl.ini\" /Windows/System32/winpeshl.ini\n", b->env.dir);
        fprintf(f, "add \"%s/ref/TsBootShell.ini\" /sms/bin/x64/TsBootShell.ini\n", b->env.dir);
        fprintf(f, "add \"%s/ref/SYSTEM\" /Windows/System32/config/SYSTEM\n", b->env.dir);
        if (fclose(f) != 0)
                die("cannot write %s: %m", commands);
        return commands;
}

/* Writes back what earlier steps left dirty (syncfs: no root needed, the page cache stays), so that
 * no side pays for another's writeback. */
static void settle(Bench *b) {
        int fd = open(b->env.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || syncfs(fd) < 0)
                die("cannot sync %s: %m", b->env.dir);
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
        char *source = path_in(&b->env, "content/source.wim"), *out = path_in(&b->env, "ref/out.wim");
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
                                sd_bus_message *reply = NULL;
                                double t0 = now_us();
                                call_timed(b->env.bus, &reply, PROVIDER, BOOT_CLASS, PROVIDER ".Class", "Create",
                                           "a{sv}", 2, "ImagePath", "s", source, "ScratchSpace", "u", 256);
                                create[i] = job_time(b, reply, "oo", t0, &package);
                                settle(b);
                                t0 = now_us();
                                call_timed(b->env.bus, &reply, PROVIDER, package, PROVIDER ".SMS_BootImagePackage",
                                           "UpdateImage", NULL);
                                update[i] = job_time(b, reply, "o", t0, NULL);
                        }
                fprintf(stderr, "bench-imaging:   cp+update %.1f ms (fsync after it %.1f ms), Create %.1f ms, "
                        "UpdateImage %.1f ms\n", ref[i] / 1e3, sync_us / 1e3, create[i] / 1e3, update[i] / 1e3);
                dump_recent_jobs(b);
        }
        sd_bus_error error = SD_BUS_ERROR_NULL;
        if (sd_bus_get_property_string(b->env.bus, PROVIDER, package, PROVIDER ".SMS_PackageBaseclass", "PkgSourcePath",
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
        char *winpe = path_in(&b->env, "adk/amd64/winpe.wim"), *ref_out = path_in(&b->env, "ref/export.wim"),
             *cp_out = path_in(&b->env, "ref/copy.wim"), *out = path_in(&b->env, "content/export.wim");
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
                                sd_bus_message *reply = NULL;
                                double t0 = now_us();
                                call_timed(b->env.bus, &reply, PROVIDER, BOOT_CLASS, BOOT_STATIC,
                                           "ExportDefaultBootImage", "sus", "x64", 1, out);
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
        char *multi = path_in(&b->env, "content/multi.wim");
        double bus[PROPERTY_RUNS], ref[PROPERTY_RUNS];

        fprintf(stderr, "bench-imaging: GetImageProperties\n");
        for (int i = -3; i < PROPERTY_RUNS; i++) { /* three rounds of warm-up */
                sd_bus_message *reply = NULL;
                double t = call_timed(b->env.bus, &reply, PROVIDER, BOOT_CLASS, BOOT_STATIC, "GetImageProperties",
                                      "s", multi);
                const char *xml = NULL;
                if (sd_bus_message_read(reply, "s", &xml) < 0 || !strstr(xml, "Image 5"))
                        die("GetImageProperties did not describe 5 images");
                sd_bus_message_unref(reply);
                double r = run(NULL, (char *[]) { "wimlib-imagex", "info", "--xml", multi, NULL });
                if (i >= 0)
                        bus[i] = t, ref[i] = r;
        }
        double m_bus = stats(bus, PROPERTY_RUNS).median, m_ref = stats(ref, PROPERTY_RUNS).median;
        bool ok = m_bus <= m_ref;
        row(ok ? GOAL_MET : GOAL_MISSED, "GetImageProperties (5 images)", fmt("p50 %.0f us", m_bus),
            fmt("imagex info --xml p50 %.0f us", m_ref),
            fmt("%.2fx (goal <= 1.0x) %s", m_bus / m_ref, ok ? "ok" : "MISSED"));
        free(multi);
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
        const char *mib = getenv("BENCH_WIM_MIB");
        const BenchOption own[] = { { "wim-mib", &mib } };
        Bench b = {};
        int r = bench_env_parse(&b.env, argc, argv, own, sizeof own / sizeof own[0], help);

        if (r >= 0)
                return r;
        if (!bench_parse_count("wim-mib", mib, "200", 0, 65536, &b.wim_mib))
                return 2;
        signal(SIGPIPE, SIG_IGN);

        printf("bench-imaging: %u MiB WIMs\n", b.wim_mib);
        fflush(stdout);
        bench_start(&b);
        bench_build(&b);
        bench_export(&b);
        bench_image_properties(&b);
        bench_env_stop(&b.env);
        print_table(&table_layout, "%u MiB WIMs, best of %d (builds, exports), median of %d (reads)", b.wim_mib, RUNS,
                    PROPERTY_RUNS);
        return EXIT_SUCCESS;
}
