/* SPDX-License-Identifier: MIT */

/* bench-provider: figures for smsprovd against references measured in the same run.
 *
 * Starts a private dbus-daemon, the real smsprovd and the bare sd-bus echo-server in a temporary
 * directory, fills the site with N packages and prints creates/s, puts/s, property and query
 * round trips, GetManagedObjects and the daemon's memory. Nothing here asserts a time: figures
 * that miss their goal are listed at the end, and the exit status says only whether the run
 * itself worked. See bench/README.md. */

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "bench-env.h"

#define BASE_IFACE PROVIDER ".SMS_PackageBaseclass"
#define ECHO "org.smsprov.Bench"
#define ECHO_PATH "/org/smsprov/Bench"
#define PROPERTIES "org.freedesktop.DBus.Properties"
#define BLOCK 100

typedef struct Bench {
        BenchEnv env;           /* smsprovd, with echo-server as the reference */
        unsigned n;             /* packages to create */
        const char *echo_server;
        char **paths;           /* the created packages */
        double fsync_per_s;     /* the disk's commit floor, the reference for writes */
        double echo_call_median; /* the reference for queries */
} Bench;

const char bench_name[] = "bench";

static const TableLayout table_layout = {
        .width = { 36, 36, 28 },
        .keep = { 47, 39, 39, 47 },
};

/* --- processes --------------------------------------------------------------------------------- */

/* A "Vm…:" field of /proc/PID/status, in KiB; -1 if missing. */
static long proc_status_kib(pid_t pid, const char *field) {
        char path[64], line[256];
        size_t len = strlen(field);
        long kib = -1;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof line, f))
                if (strncmp(line, field, len) == 0 && line[len] == ':') {
                        kib = strtol(line + len + 1, NULL, 10);
                        break;
                }
        fclose(f);
        return kib;
}

/* Resets VmHWM to the current RSS (Linux ≥ 4.0); false if the kernel refuses. */
static bool reset_peak_rss(pid_t pid) {
        char path[64];
        bool ok;
        int fd;

        snprintf(path, sizeof path, "/proc/%d/clear_refs", (int) pid);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        ok = write(fd, "5", 1) == 1;
        close(fd);
        return ok;
}

/* CPU time the process's main thread has used, in µs (/proc/PID/schedstat, ns resolution); -1
 * if unknown. The main thread is where both servers answer reads. */
static double proc_cpu_us(pid_t pid) {
        char path[64];
        unsigned long long ns;
        FILE *f;
        int n;

        snprintf(path, sizeof path, "/proc/%d/schedstat", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        n = fscanf(f, "%llu", &ns);
        fclose(f);
        return n == 1 ? (double) ns / 1e3 : -1;
}

/* CPU time of all the process's threads, in µs (/proc/PID/stat, clock-tick resolution). */
static double proc_total_cpu_us(pid_t pid) {
        char path[64], buf[1024], *p;
        unsigned long utime, stime;
        size_t n;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        /* after "pid (comm)": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
         * cmajflt utime stime */
        p = strrchr(buf, ')');
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
                return -1;
        return (double) (utime + stime) * 1e6 / (double) sysconf(_SC_CLK_TCK);
}

/* --- the bus ----------------------------------------------------------------------------------- */

/* Entries of the array that opens the reply: structs 'r' or dict entries 'e' whose contents
 * begin with an object path; *ret_matching counts the paths that contain `match`. */
static long count_entries(sd_bus_message *m, char element, const char *contents, const char *match,
                          long *ret_matching) {
        char array[64];
        const char *path = "";
        long n = 0, matching = 0;
        int r;

        snprintf(array, sizeof array, element == 'r' ? "(%s)" : "{%s}", contents);
        r = sd_bus_message_enter_container(m, 'a', array);
        while (r >= 0 && (r = sd_bus_message_enter_container(m, element, contents)) > 0) {
                r = sd_bus_message_read(m, "o", &path);
                if (r >= 0)
                        r = sd_bus_message_skip(m, contents + 1);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                matching += match && strstr(path, match);
                n++;
        }
        if (r < 0)
                die("cannot parse the reply: %s", strerror(-r));
        if (ret_matching)
                *ret_matching = matching;
        return n;
}

/* A UInt32 figure dbus-daemon keeps about a connection (org.freedesktop.DBus.Debug.Stats), or
 * -1 when the bus was built without statistics. */
static long bus_connection_stat(Bench *b, const char *name, const char *key) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *k;
        uint32_t u;
        long value = -1;
        int r;

        r = sd_bus_call_method(b->env.bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                               "org.freedesktop.DBus.Debug.Stats", "GetConnectionStats", &error, &reply, "s", name);
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                r = sd_bus_message_read(reply, "s", &k);
                if (r >= 0 && strcmp(k, key) == 0 && sd_bus_message_read(reply, "v", "u", &u) >= 0)
                        value = u;
                else if (r >= 0)
                        r = sd_bus_message_skip(reply, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        sd_bus_message_unref(reply);
        sd_bus_error_free(&error);
        return value;
}

/* --- setting up and tearing down --------------------------------------------------------------- */

static void bench_start(Bench *b) {
        char *boot;
        int fd;

        bench_env_make_dir(&b->env, "smsprov-bench");
        boot = path_in(&b->env, "content/boot.wim");
        if ((fd = open(boot, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0)
                die("cannot create %s: %m", boot);
        close(fd);
        free(boot);

        bench_env_start_bus(&b->env);
        bench_env_start_daemon(&b->env, NULL);
        char *echo_argv[] = { (char *) b->echo_server, b->env.address, ECHO, NULL };
        bench_env_start_reference(&b->env, echo_argv, "echo-server", ECHO);
}

static void bench_stop(Bench *b) {
        bench_env_stop(&b->env);
        for (unsigned i = 0; b->paths && i < b->n; i++)
                free(b->paths[i]);
        free(b->paths);
}

/* --- the figures ------------------------------------------------------------------------------- */

/* The reference for writes: 4 KiB pwrite + fdatasync in the state directory, what one SQLite
 * commit in WAL mode with synchronous=FULL costs at least. The median, as a rate: a busy disk
 * makes single syncs slow, and the mean would follow them. */
static void measure_fsync_floor(Bench *b) {
        char *probe = path_in(&b->env, "state/fsync-probe"), block[4096] = {};
        double lat[200];
        int fd;

        fd = open(probe, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                die("cannot create %s: %m", probe);
        for (size_t i = 0; i < sizeof lat / sizeof lat[0]; i++) {
                double t0 = now_us();
                if (pwrite(fd, block, sizeof block, (off_t) (i * sizeof block)) != sizeof block || fdatasync(fd) < 0)
                        die("cannot write %s: %m", probe);
                lat[i] = now_us() - t0;
        }
        b->fsync_per_s = 1e6 / stats(lat, sizeof lat / sizeof lat[0]).median;
        close(fd);
        unlink(probe);
        free(probe);
}

static void write_rate_row(Bench *b, const char *metric, unsigned n, double total_us, double cpu_us, double *lat) {
        double per_s = n / (total_us / 1e6);
        Stats s = stats(lat, n);

        row(GOAL_NONE, metric, fmt("%.0f/s (p50 %.0f, p99 %.0f us)", per_s, s.median, s.p99),
            fmt("fdatasync %.0f/s", b->fsync_per_s),
            fmt("%.2fx the fsync floor; cpu %.0f us/call", per_s / b->fsync_per_s, cpu_us / n));
}

static void bench_create(Bench *b) {
        static const char *const classes[] = { "SMS_ImagePackage", "SMS_OperatingSystemInstallPackage" };
        double *lat = calloc(b->n, sizeof(double)), t0 = now_us(), cpu0 = proc_total_cpu_us(b->env.daemon_pid);
        b->paths = calloc(b->n, sizeof(char *));
        if (!lat || !b->paths)
                die("out of memory");
        for (unsigned i = 0; i < b->n; i++) {
                char class_path[128], name[32], version[16];
                sd_bus_message *reply = NULL;
                const char *path, *job;

                snprintf(name, sizeof name, "bench-%05u", i);
                snprintf(version, sizeof version, "%u", i % 10);
                /* OS images and OS install packages without a source: Create is then a database
                 * write. (A boot image's Create reads and builds a WIM: bench-imaging's business.) */
                snprintf(class_path, sizeof class_path, ROOT "/class/%s", classes[i % 2]);
                lat[i] = call_timed(b->env.bus, &reply, PROVIDER, class_path, PROVIDER ".Class", "Create", "a{sv}", 2,
                                    "Name", "s", name, "Version", "s", version);
                if (sd_bus_message_read(reply, "oo", &path, &job) < 0 || !(b->paths[i] = strdup(path)))
                        die("cannot read the reply of Create");
                sd_bus_message_unref(reply);
                if ((i + 1) % 1000 == 0)
                        fprintf(stderr, "bench: created %u/%u\n", i + 1, b->n);
        }
        write_rate_row(b, "Create", b->n, now_us() - t0, proc_total_cpu_us(b->env.daemon_pid) - cpu0, lat);
        free(lat);
}

static void bench_put(Bench *b) {
        const unsigned n = 1000;
        double *lat = calloc(n, sizeof(double)), t0 = now_us(), cpu0 = proc_total_cpu_us(b->env.daemon_pid);

        if (!lat)
                die("out of memory");
        for (unsigned i = 0; i < n; i++) {
                char description[32];

                snprintf(description, sizeof description, "bench put %u", i);
                lat[i] = call_timed(b->env.bus, NULL, PROVIDER, b->paths[(size_t) i * b->n / n], BASE_IFACE, "Put",
                                    "a{sv}", 1, "Description", "s", description);
        }
        write_rate_row(b, "Put (Description)", n, now_us() - t0, proc_total_cpu_us(b->env.daemon_pid) - cpu0, lat);
        free(lat);
}

enum { READ_GET, READ_ECHO_GET, READ_ECHO, READ_GET_MANY, _READ_MAX };

/* One read round trip of the given kind; i numbers the call. */
static double read_call(Bench *b, unsigned kind, unsigned i) {
        switch (kind) {
        case READ_GET: /* one package: after the first call the daemon answers from its cache */
                return call_timed(b->env.bus, NULL, PROVIDER, b->paths[b->n / 2], PROPERTIES, "Get", "ss", BASE_IFACE,
                                  "Name");
        case READ_ECHO_GET:
                return call_timed(b->env.bus, NULL, ECHO, ECHO_PATH, PROPERTIES, "Get", "ss", ECHO, "Name");
        case READ_ECHO:
                return call_timed(b->env.bus, NULL, ECHO, ECHO_PATH, ECHO, "Echo", "s", "Boot image (x64)");
        default: /* a different package each time: the find callback reads the database */
                return call_timed(b->env.bus, NULL, PROVIDER, b->paths[i % b->n], PROPERTIES, "Get", "ss", BASE_IFACE,
                                  "Name");
        }
}

/* Every kind of read in blocks of BLOCK calls whose order rotates, so that a slow patch of the
 * machine hits them all alike. */
static void bench_get(Bench *b) {
        const unsigned n = 5000;
        double *lat[_READ_MAX], cpu[_READ_MAX] = {}; /* the server's CPU time per call */
        Stats s[_READ_MAX];

        for (unsigned k = 0; k < _READ_MAX; k++) {
                if (!(lat[k] = calloc(n, sizeof(double))))
                        die("out of memory");
                for (unsigned c = 0; c < BLOCK; c++) /* warm-up */
                        read_call(b, k, n + c);
        }
        for (unsigned i = 0; i < n; i += BLOCK)
                for (unsigned j = 0; j < _READ_MAX; j++) {
                        unsigned k = (i / BLOCK + j) % _READ_MAX;
                        pid_t server = k == READ_ECHO_GET || k == READ_ECHO ? b->env.reference_pid : b->env.daemon_pid;
                        double cpu0 = proc_cpu_us(server);

                        for (unsigned c = i; c < i + BLOCK && c < n; c++)
                                lat[k][c] = read_call(b, k, c);
                        cpu[k] += proc_cpu_us(server) - cpu0;
                }
        for (unsigned k = 0; k < _READ_MAX; k++) {
                s[k] = stats(lat[k], n);
                cpu[k] /= n;
                free(lat[k]);
        }
        b->echo_call_median = s[READ_ECHO].median;

        double ratio = s[READ_GET].median / s[READ_ECHO_GET].median;
        row(ratio <= 1.3 ? GOAL_MET : GOAL_MISSED, "Properties.Get Name (provider)",
            fmt("p50 %.1f, p99 %.1f us", s[READ_GET].median, s[READ_GET].p99),
            fmt("echo Get p50 %.1f us", s[READ_ECHO_GET].median),
            fmt("%.2fx (goal <= 1.3x) %s", ratio, verdict(ratio <= 1.3)));
        row(GOAL_NONE, "Properties.Get Name, other pkgs",
            fmt("p50 %.1f, p99 %.1f us", s[READ_GET_MANY].median, s[READ_GET_MANY].p99),
            fmt("echo Get p50 %.1f us", s[READ_ECHO_GET].median),
            fmt("%.2fx (uncached)", s[READ_GET_MANY].median / s[READ_ECHO_GET].median));
        row(GOAL_NONE, "Properties.Get Name (echo)",
            fmt("p50 %.1f, p99 %.1f us", s[READ_ECHO_GET].median, s[READ_ECHO_GET].p99), "-", "reference");
        row(GOAL_NONE, "Echo(s) method (echo)", fmt("p50 %.1f, p99 %.1f us", s[READ_ECHO].median, s[READ_ECHO].p99),
            "-", fmt("reference; provider Get %.2fx", s[READ_GET].median / s[READ_ECHO].median));
        /* Server CPU per call does not depend on where the scheduler puts the four processes. */
        row(GOAL_NONE, "Server CPU per Get: provider",
            fmt("%.1f us (other pkgs %.1f us)", cpu[READ_GET], cpu[READ_GET_MANY]),
            fmt("echo Get %.1f us", cpu[READ_ECHO_GET]),
            fmt("%.2fx (uncached %.2fx)", cpu[READ_GET] / cpu[READ_ECHO_GET], cpu[READ_GET_MANY] / cpu[READ_ECHO_GET]));
}

static void bench_query(Bench *b, const char *metric, const char *query, unsigned runs, long expect_rows,
                        double goal_ms) {
        double *lat = calloc(runs, sizeof(double)), cpu0 = proc_cpu_us(b->env.daemon_pid), cpu;
        Stats s;

        if (!lat)
                die("out of memory");

        for (unsigned i = 0; i < runs; i++) {
                sd_bus_message *reply = NULL;
                long got;

                lat[i] = call_timed(b->env.bus, &reply, PROVIDER, ROOT, PROVIDER ".Site", "ExecQuery", "s", query);
                if (i == 0 && (got = count_entries(reply, 'r', "oa{sv}", NULL, NULL)) != expect_rows)
                        die("%s returned %ld rows, expected %ld", query, got, expect_rows);
                sd_bus_message_unref(reply);
        }
        cpu = (proc_cpu_us(b->env.daemon_pid) - cpu0) / runs;
        s = stats(lat, runs);
        free(lat);
        bool ok = s.median / 1e3 < goal_ms;
        row(ok ? GOAL_MET : GOAL_MISSED, metric,
            fmt("p50 %.2f, p99 %.2f ms (cpu %.2f)", s.median / 1e3, s.p99 / 1e3, cpu / 1e3),
            fmt("Echo p50 %.1f us", b->echo_call_median),
            fmt("%.1fx Echo; goal < %g ms %s", s.median / b->echo_call_median, goal_ms, verdict(ok)));
}

static void bench_queries(Bench *b) {
        unsigned id = b->n < 300 ? b->n : 300; /* LAB0012C with the default N */
        long lo = b->n < 100 ? b->n : 100, hi = b->n < 200 ? b->n : 200;
        char query[160];

        snprintf(query, sizeof query, "SELECT * FROM SMS_PackageBaseclass WHERE PackageID = 'LAB%05X'", id);
        bench_query(b, "ExecQuery 1 row (PackageID)", query, 500, 1, 2);
        snprintf(query, sizeof query,
                 "SELECT * FROM SMS_PackageBaseclass WHERE Name >= 'bench-%05ld' AND Name < 'bench-%05ld'", lo, hi);
        bench_query(b, fmt("ExecQuery %ld rows (Name range)", hi - lo), query, 200, hi - lo, 10);
}

static void bench_idle_rss(Bench *b) {
        sleep_ms(1000);
        long rss = proc_status_kib(b->env.daemon_pid, "VmRSS");
        bool ok = rss >= 0 && rss <= 30 * 1024;
        row(ok ? GOAL_MET : GOAL_MISSED, "Daemon RSS idle", fmt("%.1f MiB", rss / 1024.0),
            fmt("%u packages", b->n), fmt("goal <= 30 MiB %s", verdict(ok)));
}

/* After a failed call: is the daemon still running, and still on the bus? */
static const char *daemon_state(Bench *b) {
        int status;

        if (waitpid(b->env.daemon_pid, &status, WNOHANG) == b->env.daemon_pid) {
                b->env.daemon_pid = -1;
                return fmt("smsprovd exited (status 0x%x)", (unsigned) status);
        }
        return name_has_owner(b->env.bus, PROVIDER) ? "smsprovd still on the bus" : "smsprovd running, off the bus";
}

static void bench_managed_objects(Bench *b) {
        const int runs = 5;
        double lat[5];
        long objects = 0, messages = 0;
        bool reset = reset_peak_rss(b->env.daemon_pid);
        long rss_before = proc_status_kib(b->env.daemon_pid, "VmRSS");

        for (int i = 0; i < runs; i++) {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;

                if (try_call_timed(b->env.bus, &lat[i], &reply, &error, PROVIDER, ROOT,
                                   "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", NULL) < 0) {
                        fprintf(stderr, "bench: GetManagedObjects: %s: %s\n", error.name, error.message);
                        row(GOAL_MISSED, "GetManagedObjects", "FAILED", error.name, daemon_state(b));
                        sd_bus_error_free(&error);
                        return;
                }
                if (i == 0)
                        objects = count_entries(reply, 'e', "oa{sa{sv}}", "/SMS_StatusMessage/", &messages);
                sd_bus_message_unref(reply);
        }
        long hwm = proc_status_kib(b->env.daemon_pid, "VmHWM"),
             rss_after = proc_status_kib(b->env.daemon_pid, "VmRSS");
        long peak = bus_connection_stat(b, PROVIDER, "PeakIncomingBytes");
        Stats s = stats(lat, runs);
        double growth = (hwm - rss_before) / 1024.0;
        bool ok_time = s.median < 1e6, ok_mem = reset && growth < 32;

        row(ok_time ? GOAL_MET : GOAL_MISSED, "GetManagedObjects",
            fmt("p50 %.0f ms (max %.0f)", s.median / 1e3, s.p99 / 1e3), fmt("%ld objects (%ld msgs)", objects, messages),
            fmt("%.1f us/object; goal < 1 s %s", s.median / (double) objects, verdict(ok_time)));
        row(ok_mem ? GOAL_MET : GOAL_MISSED, "GetManagedObjects peak RSS growth", fmt("%.1f MiB", growth),
            fmt("RSS before %.1f MiB", rss_before / 1024.0),
            reset ? fmt("goal < 32 MiB %s", verdict(ok_mem)) : "VmHWM could not be reset");
        row(GOAL_NONE, "GetManagedObjects reply size", peak < 0 ? "-" : fmt("~%.1f MiB", peak / 1048576.0),
            "dbus-daemon stats", fmt("peak bytes queued from smsprovd; %.0f B/object", peak / (double) objects));
        row(GOAL_NONE, "Daemon RSS after GetManagedObjects", fmt("%.1f MiB", rss_after / 1024.0),
            fmt("peak %.1f MiB", hwm / 1024.0), "-");
}

static char *default_echo_server(const char *argv0) {
        char self[4096], *slash, *s = NULL;
        ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);

        if (len <= 0)
                snprintf(self, sizeof self, "%s", argv0);
        else
                self[len] = 0;
        slash = strrchr(self, '/');
        if (asprintf(&s, "%.*s/echo-server", slash ? (int) (slash - self) : 1, slash ? self : ".") < 0)
                die("out of memory");
        return s;
}

static void help(void) {
        printf("bench-provider [OPTIONS...]\n\n"
               "Benchmarks smsprovd against a bare sd-bus service on a private bus.\n\n"
               "  -h --help               Show this help\n"
               "     --packages=N         Packages to create (default 10000, or $BENCH_PACKAGES)\n"
               BENCH_ENV_HELP
               "     --echo-server=PATH   The reference server (default: echo-server next to this program)\n");
}

int main(int argc, char *argv[]) {
        const char *packages = getenv("BENCH_PACKAGES");
        char *echo_default = NULL;
        Bench b = {
                .echo_server = getenv("ECHO_SERVER"),
        };
        const BenchOption own[] = { { "packages", &packages }, { "echo-server", &b.echo_server } };
        int r = bench_env_parse(&b.env, argc, argv, own, sizeof own / sizeof own[0], help);

        if (r >= 0)
                return r;
        if (!bench_parse_count("packages", packages, "10000", 1, 0xFFFFF, &b.n))
                return 2;
        if (!b.echo_server)
                b.echo_server = echo_default = default_echo_server(argv[0]);

        printf("bench: %u packages\n", b.n);
        fflush(stdout);
        bench_start(&b);
        measure_fsync_floor(&b);
        bench_create(&b);
        bench_put(&b);
        fprintf(stderr, "bench: property round trips\n");
        bench_get(&b);
        fprintf(stderr, "bench: queries\n");
        bench_queries(&b);
        bench_idle_rss(&b);
        fprintf(stderr, "bench: GetManagedObjects\n");
        bench_managed_objects(&b);
        bench_stop(&b);
        print_table(&table_layout, "%u packages", b.n);
        free(echo_default);
        return EXIT_SUCCESS;
}
