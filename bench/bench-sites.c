/* SPDX-License-Identifier: MIT */

/* bench-sites: one site, several providers (issue 16). The same calls against smsprovd on
 * PostgreSQL and on SQLite in the same run, a change on host A seen as a signal on host B, and the
 * read throughput of two hosts against one.
 *
 * Runs under tests/helpers/pg-server.sh, which starts a private PostgreSQL server and names it in
 * SMSPROV_TEST_POSTGRESQL. Each host is a BenchEnv of its own (bench-env.h): a private bus, the real
 * smsprovd with its own state directory; the PostgreSQL hosts share the server's database. Nothing
 * here asserts a time: see bench/README.md. */

#include <errno.h>
#include <getopt.h>
#include <signal.h>
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
#define PROPERTIES "org.freedesktop.DBus.Properties"

const char bench_name[] = "bench-sites";

static const TableLayout table_layout = {
        .width = { 34, 34, 30 },
        .keep = { 45, 39, 39, 47 },
};

typedef struct Host {
        BenchEnv env;
        const char *name;
} Host;

typedef struct Bench {
        BenchEnv options;  /* --smsprovd and --source-root, copied into each host */
        const char *database;
        unsigned n;        /* packages */
        unsigned clients;  /* client processes of the throughput figure */
        char **paths;      /* the packages' objects, the same on every host of a site */
} Bench;

static void host_start(Bench *b, Host *h, const char *name, bool postgresql) {
        char *database = NULL;

        h->env = b->options;
        h->name = name;
        bench_env_make_dir(&h->env, name);
        bench_env_start_bus(&h->env);
        if (postgresql && asprintf(&database, "--database=%s", b->database) < 0)
                die("out of memory");
        bench_env_start_daemon(&h->env, (char *const[]) { database, NULL });
        free(database);
}

/* --- one host's calls, on either database -------------------------------------------------------- */

typedef struct Figures {
        double create_per_s, put_per_s;
        Stats create, put, get, query;
} Figures;

static double rate(unsigned n, double total_us) {
        return n / (total_us / 1e6);
}

static void fill(Bench *b, Host *h, Figures *f) {
        static const char *const classes[] = { "SMS_ImagePackage", "SMS_OperatingSystemInstallPackage" };
        double *lat = calloc(b->n, sizeof(double)), t0 = now_us();

        /* The packages of the site being measured (each database numbers its own). */
        for (unsigned i = 0; b->paths && i < b->n; i++)
                free(b->paths[i]);
        free(b->paths);
        if (!lat || !(b->paths = calloc(b->n, sizeof(char *))))
                die("out of memory");
        for (unsigned i = 0; i < b->n; i++) {
                char class_path[128], name[32];
                sd_bus_message *reply = NULL;
                const char *path, *job;

                snprintf(name, sizeof name, "bench-%05u", i);
                snprintf(class_path, sizeof class_path, ROOT "/class/%s", classes[i % 2]);
                lat[i] = call_timed(h->env.bus, &reply, PROVIDER, class_path, PROVIDER ".Class", "Create", "a{sv}", 1,
                                    "Name", "s", name);
                if (sd_bus_message_read(reply, "oo", &path, &job) < 0)
                        die("cannot read the reply of Create");
                if (!(b->paths[i] = strdup(path)))
                        die("out of memory");
                sd_bus_message_unref(reply);
        }
        f->create_per_s = rate(b->n, now_us() - t0);
        f->create = stats(lat, b->n);
        free(lat);
}

/* `runs` calls of one kind, i numbering them: the median and the 99th percentile. */
static Stats timed(Bench *b, Host *h, unsigned runs, double (*one)(Bench *b, Host *h, unsigned i),
                   double *ret_per_s) {
        double *lat = calloc(runs, sizeof(double)), t0 = now_us();
        Stats s;

        if (!lat)
                die("out of memory");
        for (unsigned i = 0; i < runs; i++)
                lat[i] = one(b, h, i);
        if (ret_per_s)
                *ret_per_s = rate(runs, now_us() - t0);
        s = stats(lat, runs);
        free(lat);
        return s;
}

static double put_one(Bench *b, Host *h, unsigned i) {
        char description[32];

        snprintf(description, sizeof description, "bench put %u", i);
        return call_timed(h->env.bus, NULL, PROVIDER, b->paths[(size_t) i * 7919 % b->n], BASE_IFACE, "Put", "a{sv}", 1,
                          "Description", "s", description);
}

/* A different package each time: the daemon reads it from the database. */
static double get_one(Bench *b, Host *h, unsigned i) {
        return call_timed(h->env.bus, NULL, PROVIDER, b->paths[(size_t) i * 7919 % b->n], PROPERTIES, "Get", "ss",
                          BASE_IFACE, "Name");
}

static double query_one(Bench *b, Host *h, unsigned i) {
        char query[128];

        snprintf(query, sizeof query, "SELECT * FROM SMS_PackageBaseclass WHERE Name = 'bench-%05u'",
                 (unsigned) ((size_t) i * 7919 % b->n));
        return call_timed(h->env.bus, NULL, PROVIDER, ROOT, PROVIDER ".Site", "ExecQuery", "s", query);
}

static void measure(Bench *b, Host *h, Figures *f) {
        fprintf(stderr, "bench-sites: %s: %u creates\n", h->name, b->n);
        fill(b, h, f);
        f->put = timed(b, h, 1000, put_one, &f->put_per_s);
        f->get = timed(b, h, 5000, get_one, NULL);
        f->query = timed(b, h, 1000, query_one, NULL);
}

static void compare_rows(const Figures *pg, const Figures *lite) {
        struct {
                const char *metric;
                double pg_per_s, lite_per_s;
                Stats pg, lite;
        } r[] = {
                { "Create", pg->create_per_s, lite->create_per_s, pg->create, lite->create },
                { "Put (Description)", pg->put_per_s, lite->put_per_s, pg->put, lite->put },
                { "Properties.Get Name, other pkgs", 0, 0, pg->get, lite->get },
                { "ExecQuery 1 row (Name)", 0, 0, pg->query, lite->query },
        };

        for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
                if (r[i].pg_per_s > 0)
                        row(GOAL_NONE, r[i].metric, fmt("%.0f/s (p50 %.0f us)", r[i].pg_per_s, r[i].pg.median),
                            fmt("SQLite %.0f/s (p50 %.0f us)", r[i].lite_per_s, r[i].lite.median),
                            fmt("%.2fx SQLite's rate", r[i].pg_per_s / r[i].lite_per_s));
                else
                        row(GOAL_NONE, r[i].metric, fmt("p50 %.0f, p99 %.0f us", r[i].pg.median, r[i].pg.p99),
                            fmt("SQLite p50 %.0f, p99 %.0f us", r[i].lite.median, r[i].lite.p99),
                            fmt("%.2fx SQLite's p50", r[i].pg.median / r[i].lite.median));
}

/* --- two hosts ----------------------------------------------------------------------------------- */

static int on_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        (*(unsigned *) userdata)++;
        return 0;
}

/* A Put through host A, and the time until host B's client hears its PropertiesChanged (which
 * the daemon on B emits when A's NOTIFY reaches it); beside it, the Put's own round trip. */
static void signal_latency(Bench *b, Host *a, Host *h) {
        const unsigned runs = 500;
        double *lat = calloc(runs, sizeof(double)), *put = calloc(runs, sizeof(double));

        if (!lat || !put)
                die("out of memory");
        for (unsigned i = 0; i < runs; i++) {
                const char *path = b->paths[(size_t) i * 7919 % b->n];
                sd_bus_slot *slot = NULL;
                unsigned heard = 0;
                char description[32];
                double t0;
                int r;

                r = sd_bus_match_signal(h->env.bus, &slot, PROVIDER, path, PROPERTIES, "PropertiesChanged", on_changed,
                                        &heard);
                if (r < 0)
                        die("cannot watch %s on %s: %s", path, h->name, strerror(-r));
                /* The match is in place on B's bus before A writes. */
                call_timed(h->env.bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.Peer",
                           "Ping", NULL);
                snprintf(description, sizeof description, "signal %u", i);
                t0 = now_us();
                put[i] = call_timed(a->env.bus, NULL, PROVIDER, path, BASE_IFACE, "Put", "a{sv}", 1, "Description", "s",
                                    description);
                while (heard == 0) {
                        r = sd_bus_process(h->env.bus, NULL);
                        if (r == 0)
                                r = sd_bus_wait(h->env.bus, 30 * 1000000ULL);
                        if (r < 0)
                                die("waiting for PropertiesChanged on %s: %s", h->name, strerror(-r));
                        if (r == 0 && heard == 0 && sd_bus_process(h->env.bus, NULL) == 0)
                                die("no PropertiesChanged of %s on %s within 30 s", path, h->name);
                }
                lat[i] = now_us() - t0;
                sd_bus_slot_unref(slot);
        }
        Stats s = stats(lat, runs), p = stats(put, runs);
        row(GOAL_NONE, "Change on A seen on B", fmt("p50 %.0f, p99 %.0f us", s.median, s.p99),
            fmt("A's Put p50 %.0f, p99 %.0f us", p.median, p.p99),
            fmt("+%.0f us after A's reply (p50)", s.median - p.median));
        free(lat);
        free(put);
}

/* One client process: connects to `address`, waits for the start byte on `start`, makes `calls`
 * Gets of different packages and exits 0. */
static pid_t client_spawn(Bench *b, const char *address, int start, unsigned calls, unsigned seed) {
        pid_t pid = fork();

        if (pid < 0)
                die("fork: %m");
        if (pid > 0)
                return pid;
        sd_bus *bus = NULL;
        char go;
        if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, address) < 0 || sd_bus_set_bus_client(bus, 1) < 0 ||
            sd_bus_start(bus) < 0 || read(start, &go, 1) != 1)
                _exit(1);
        for (unsigned i = 0; i < calls; i++) {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                if (sd_bus_call_method(bus, PROVIDER, b->paths[((size_t) i * 7919 + seed * 104729) % b->n], PROPERTIES,
                                       "Get", &error, &reply, "ss", BASE_IFACE, "Name") < 0)
                        _exit(2);
                sd_bus_message_unref(reply);
        }
        sd_bus_flush_close_unref(bus);
        _exit(0);
}

/* b->clients processes, each making `calls` Gets, spread over the hosts: the calls per second of
 * them all, from the start byte to the last exit. */
static double throughput(Bench *b, Host *const *hosts, unsigned n_hosts, unsigned calls) {
        pid_t pids[64];
        int start[2];
        double t0;

        if (pipe(start) < 0)
                die("pipe: %m");
        for (unsigned i = 0; i < b->clients; i++)
                pids[i] = client_spawn(b, hosts[i % n_hosts]->env.address, start[0], calls, i);
        close(start[0]);
        t0 = now_us();
        for (unsigned i = 0; i < b->clients; i++)
                if (write(start[1], "g", 1) != 1)
                        die("cannot start the clients: %m");
        close(start[1]);
        for (unsigned i = 0; i < b->clients; i++) {
                int status;
                if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        die("a client failed (status 0x%x)", (unsigned) status);
        }
        return rate(b->clients * calls, now_us() - t0);
}

static void read_scaling(Bench *b, Host *a, Host *h) {
        const unsigned calls = 4000;
        Host *one[] = { a }, *two[] = { a, h };
        double r1 = 0, r2 = 0;

        /* Taking turns, best of three each: a busy moment of the machine hurts both alike. */
        for (int i = 0; i < 3; i++) {
                double x = throughput(b, one, 1, calls), y = throughput(b, two, 2, calls);
                r1 = x > r1 ? x : r1;
                r2 = y > r2 ? y : r2;
        }
        bool ok = r2 / r1 >= 1.6;
        row(ok ? GOAL_MET : GOAL_MISSED, fmt("Reads, %u clients on 2 hosts", b->clients), fmt("%.0f Gets/s", r2),
            fmt("1 host: %.0f Gets/s", r1), fmt("%.2fx (goal >= 1.6x) %s", r2 / r1, verdict(ok)));
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        row(GOAL_NONE, "CPUs online", fmt("%ld", cpus), "-",
            "clients, dbus-daemons and hosts share them");
}

/* --- main ---------------------------------------------------------------------------------------- */

static void help(void) {
        printf("bench-sites [OPTIONS...]\n\n"
               "Benchmarks smsprovd on PostgreSQL against SQLite, and two hosts on one site.\n"
               "Run it under tests/helpers/pg-server.sh (ninja -C build bench-sites).\n\n"
               "  -h --help               Show this help\n"
               "     --packages=N         Packages to create on each database (default 10000, or $BENCH_PACKAGES)\n"
               "     --clients=N          Client processes of the read throughput figure (default 4)\n"
               "     --smsprovd=PATH      The daemon (default $SMSPROVD)\n"
               "     --source-root=DIR    Source tree, for tests/bus/test-bus.conf (default $SOURCE_ROOT or .)\n");
}

int main(int argc, char *argv[]) {
        enum { ARG_PACKAGES = BENCH_ARG_OWN, ARG_CLIENTS };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "packages", required_argument, NULL, ARG_PACKAGES },
                { "clients", required_argument, NULL, ARG_CLIENTS },
                BENCH_ENV_OPTIONS,
                {},
        };
        const char *packages = getenv("BENCH_PACKAGES"), *clients = NULL;
        Bench b = { .database = getenv("SMSPROV_TEST_POSTGRESQL") };
        Host lite = {}, a = {}, h = {};
        Figures on_pg = {}, on_lite = {};
        int c;

        bench_env_init(&b.options);
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case ARG_PACKAGES:
                        packages = optarg;
                        break;
                case ARG_CLIENTS:
                        clients = optarg;
                        break;
                default:
                        if (!bench_env_option(&b.options, c, optarg))
                                return 2;
                }
        if (!bench_env_options_done(&b.options, optind, argc) ||
            !bench_parse_count("packages", packages, "10000", 1, 0xFFFFF, &b.n) ||
            !bench_parse_count("clients", clients, "4", 2, 64, &b.clients))
                return 2;
        if (!b.database) {
                fprintf(stderr, "bench-sites: no PostgreSQL server: run it under tests/helpers/pg-server.sh\n");
                return 2;
        }

        printf("bench-sites: %u packages on each database, %u read clients\n", b.n, b.clients);
        fflush(stdout);
        host_start(&b, &lite, "smsprov-bench-sqlite", false);
        measure(&b, &lite, &on_lite);
        bench_env_stop(&lite.env);

        host_start(&b, &a, "smsprov-bench-host-a", true);
        measure(&b, &a, &on_pg);
        compare_rows(&on_pg, &on_lite);

        fprintf(stderr, "bench-sites: a second host\n");
        host_start(&b, &h, "smsprov-bench-host-b", true);
        signal_latency(&b, &a, &h);
        fprintf(stderr, "bench-sites: read throughput\n");
        read_scaling(&b, &a, &h);
        bench_env_stop(&h.env);
        bench_env_stop(&a.env);

        print_table(&table_layout, "%u packages", b.n);
        for (unsigned i = 0; i < b.n; i++)
                free(b.paths[i]);
        free(b.paths);
        return EXIT_SUCCESS;
}
