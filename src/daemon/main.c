/* SPDX-License-Identifier: MIT */

/* smsprovd: the SMS Provider for operating system deployment, as a D-Bus service. */

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/manager.h"
#include "config.h"
#include "smsprov/macro.h"
#include "util/log.h"

static void help(void) {
        printf("smsprovd [OPTIONS...]\n\n"
               "Configuration Manager-style SMS Provider for OS deployment images, on D-Bus.\n\n"
               "  -h --help                 Show this help\n"
               "     --version              Show the version\n"
               "     --system               Serve on the system bus (default)\n"
               "     --user                 Serve on the user's session bus\n"
               "     --bus-address=ADDRESS  Serve on the bus at ADDRESS\n"
               "     --config=FILE          Read options from FILE (\"name = value\" lines; the command line wins)\n"
               "     --state-dir=DIR        Site database and built images (default /var/lib/smsprovd)\n"
               "     --database=URI         The site database: postgresql://… shared by several hosts (default\n"
               "                            STATE_DIR/site.db)\n"
               "     --library-dir=DIR      Built images and the content library, shared storage that every host of\n"
               "                            the site mounts at the same path (default STATE_DIR)\n"
               "     --site-code=ABC        Site code: 3 characters A-Z 0-9; fixed when the database is created\n"
               "     --content-root=DIR     A directory callers' paths may point into (repeatable)\n"
               "     --dp-root=DIR          A directory distribution points' ContentRoots may be in (repeatable)\n"
               "     --adk-root=DIR         Deployment kit: <arch>/winpe.wim, <arch>/WinPE_OCs/<Name>/\n"
               "     --osd-bin-root=DIR     OSD binaries to inject: i386/, x64/, arm64/\n"
               "     --log-level=LEVEL      error, warning, info or debug\n"
               "     --job-linger=SEC       How long a finished job stays on the bus (default 60)\n"
               "     --job-lease=SEC        A host that has not renewed its jobs' lease for SEC seconds is taken\n"
               "                            to have stopped: any host fails its jobs (default 30)\n"
               "     --host-name=NAME       The name this provider goes by in the site database (default the\n"
               "                            host name); two providers of one site on one machine need two\n"
               "                            names\n"
               "     --time-scale=N         Run refresh schedules N times faster (for tests)\n"
               "     --polkit               Let polkit decide writes on any bus (always on the system bus)\n"
               "     --max-jobs=N           Jobs queued or running at once (default 64)\n"
               "     --max-jobs-per-caller=N  Of those, from one bus connection (default 16)\n"
               "     --max-query-rows=N     Rows one ExecQuery may return (default 100000)\n"
               "     --max-query-steps=N    Work one query may do, in LIKE matcher steps, 16 for each SQLite\n"
               "                            instruction (default 300000000); beyond it LimitsExceeded\n"
               "     --max-reply-bytes=N    No message sent is larger: a bigger reply is LimitsExceeded\n"
               "                            (default 16777216, 1048576-134217728)\n"
               "     --scrub-interval=SEC   Hash the whole content library again every SEC seconds (default 0: never)\n"
               "     --max-calls=N          Calls waiting for a worker or for polkit at once (default 256)\n"
               "     --max-calls-per-caller=N  Of those, from one bus connection (default 32)\n"
               "     --test-hold-dir=DIR    Tests only, with --bus-address: hold jobs at test points (DIR/<point>)\n");
}

/* The numeric options: name, bounds, and where the value goes. */
typedef struct NumericOption {
        const char *name;
        unsigned long min, max;
        unsigned *value;
} NumericOption;

static int parse_numeric(const NumericOption *o, const char *text) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(text, &end, 10);
        if (errno || end == text || *end || *text == '-' || v < o->min || v > o->max) {
                log_error("--%s wants %lu-%lu, got '%s'.", o->name, o->min, o->max, text);
                return -EINVAL;
        }
        *o->value = (unsigned) v;
        return 0;
}

/* Appends a borrowed string to a NULL-terminated list. */
static int list_push(char ***list, size_t *n, char *s) {
        char **l = realloc(*list, (*n + 2) * sizeof(char *));
        if (!l)
                return log_oom();
        l[(*n)++] = s;
        l[*n] = NULL;
        *list = l;
        return 0;
}

/* What config_argv() allocates: the new argv and, apart (getopt reorders argv), the option
 * strings it made. */
typedef struct ConfigArgv {
        char **argv;
        char **owned; /* NULL-terminated */
} ConfigArgv;

static void config_argv_done(ConfigArgv *c) {
        strv_free(c->owned);
        free(c->argv);
        *c = (ConfigArgv) {};
}

/* --config=FILE: "name = value" lines, one option each (the long option's name without "--";
 * "#" starts a comment; content-root and dp-root may repeat), read before the command line, which wins.
 * Returns a new argv: argv[0], the file's options, then the rest of argv. */
static int config_argv(const char *path, int argc, char **argv, int *ret_argc, ConfigArgv *ret) {
        _cleanup_(fclosep) FILE *f = fopen(path, "re");
        _cleanup_(config_argv_done) ConfigArgv c = {};
        char line[4096];
        int n = 1;

        if (!f)
                return log_error_errno(-errno, "Cannot read the configuration file %s: %m", path);
        c.argv = calloc((size_t) argc + 256, sizeof(char *));
        c.owned = calloc(256, sizeof(char *));
        if (!c.argv || !c.owned)
                return log_oom();
        c.argv[0] = argv[0];
        for (unsigned lineno = 1; fgets(line, sizeof line, f); lineno++) {
                char *p = line, *eq, *end;
                p[strcspn(p, "#\r\n")] = 0;
                while (*p == ' ' || *p == '\t')
                        p++;
                if (!*p)
                        continue;
                eq = strchr(p, '=');
                if (!eq || n >= 250) {
                        log_error("%s:%u: expected \"name = value\".", path, lineno);
                        return -EINVAL;
                }
                end = eq;
                while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
                        end--;
                *end = 0;
                char *value = eq + 1;
                while (*value == ' ' || *value == '\t')
                        value++;
                for (char *t = value + strlen(value); t > value && (t[-1] == ' ' || t[-1] == '\t'); t--)
                        t[-1] = 0;
                if (streq(p, "config") || asprintf(&c.owned[n - 1], "--%s=%s", p, value) < 0) {
                        c.owned[n - 1] = NULL;
                        log_error("%s:%u: '%s' cannot be set here.", path, lineno, p);
                        return -EINVAL;
                }
                c.argv[n] = c.owned[n - 1];
                n++;
        }
        for (int i = 1; i < argc; i++)
                c.argv[n++] = argv[i];
        *ret_argc = n;
        *ret = c;
        c = (ConfigArgv) {};
        return 0;
}

int main(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_SYSTEM,
                ARG_USER,
                ARG_BUS_ADDRESS,
                ARG_STATE_DIR,
                ARG_DATABASE,
                ARG_LIBRARY_DIR,
                ARG_SITE_CODE,
                ARG_CONTENT_ROOT,
                ARG_DP_ROOT,
                ARG_LOG_LEVEL,
                ARG_ADK_ROOT,
                ARG_OSD_BIN_ROOT,
                ARG_POLKIT,
                ARG_TEST_HOLD_DIR,
                ARG_HOST_NAME,
                ARG_NUMERIC, /* ARG_NUMERIC + i: numeric[i] */
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "system", no_argument, NULL, ARG_SYSTEM },
                { "user", no_argument, NULL, ARG_USER },
                { "bus-address", required_argument, NULL, ARG_BUS_ADDRESS },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "database", required_argument, NULL, ARG_DATABASE },
                { "library-dir", required_argument, NULL, ARG_LIBRARY_DIR },
                { "site-code", required_argument, NULL, ARG_SITE_CODE },
                { "content-root", required_argument, NULL, ARG_CONTENT_ROOT },
                { "dp-root", required_argument, NULL, ARG_DP_ROOT },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "adk-root", required_argument, NULL, ARG_ADK_ROOT },
                { "osd-bin-root", required_argument, NULL, ARG_OSD_BIN_ROOT },
                { "polkit", no_argument, NULL, ARG_POLKIT },
                { "test-hold-dir", required_argument, NULL, ARG_TEST_HOLD_DIR },
                { "host-name", required_argument, NULL, ARG_HOST_NAME },
                { "time-scale", required_argument, NULL, ARG_NUMERIC + 0 },
                { "job-linger", required_argument, NULL, ARG_NUMERIC + 1 },
                { "max-jobs", required_argument, NULL, ARG_NUMERIC + 2 },
                { "max-jobs-per-caller", required_argument, NULL, ARG_NUMERIC + 3 },
                { "max-query-rows", required_argument, NULL, ARG_NUMERIC + 4 },
                { "max-query-steps", required_argument, NULL, ARG_NUMERIC + 5 },
                { "max-reply-bytes", required_argument, NULL, ARG_NUMERIC + 6 },
                { "scrub-interval", required_argument, NULL, ARG_NUMERIC + 7 },
                { "max-calls", required_argument, NULL, ARG_NUMERIC + 8 },
                { "max-calls-per-caller", required_argument, NULL, ARG_NUMERIC + 9 },
                { "job-lease", required_argument, NULL, ARG_NUMERIC + 10 },
                {},
        };
        _cleanup_(config_argv_done) ConfigArgv config_args = {};
        _cleanup_(manager_freep) Manager *m = NULL;
        /* The repeatable options; the strings are argv's. */
        _cleanup_free_ char **roots = NULL, **dp_roots = NULL;
        size_t n_roots = 0, n_dp_roots = 0;
        ManagerConfig config = {
                .bus_kind = BUS_KIND_SYSTEM,
                .state_dir = "/var/lib/smsprovd",
        };
        unsigned job_linger_sec = 0, job_lease_sec = 0, max_reply_bytes = 0;
        const NumericOption numeric[] = {
                { "time-scale", 1, 3600, &config.time_scale },
                { "job-linger", 1, 86400, &job_linger_sec },
                { "max-jobs", 1, 4096, &config.max_jobs },
                { "max-jobs-per-caller", 1, 4096, &config.max_jobs_per_caller },
                { "max-query-rows", 1, 10000000, &config.max_query_rows },
                { "max-query-steps", 1000, 4000000000, &config.max_query_steps },
                /* From what every single object and property fits in (the Put size limits) to the
                 * D-Bus specification's largest message. */
                { "max-reply-bytes", 1024 * 1024, 128 * 1024 * 1024, &max_reply_bytes },
                { "scrub-interval", 0, 366u * 86400u, &config.scrub_interval_sec },
                { "max-calls", 1, 4096, &config.max_calls },
                { "max-calls-per-caller", 1, 4096, &config.max_calls_per_caller },
                { "job-lease", 1, 86400, &job_lease_sec },
        };
        int c, r;

        /* The configuration file's options go first, so that the command line overrides them. */
        for (int i = 1; i < argc; i++)
                if (strncmp(argv[i], "--config=", 9) == 0) {
                        const char *file = argv[i] + 9;
                        memmove(argv + i, argv + i + 1, (size_t) (argc - i) * sizeof(char *));
                        argc--;
                        if (config_argv(file, argc, argv, &argc, &config_args) < 0)
                                return EXIT_FAILURE;
                        argv = config_args.argv;
                        break;
                }

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case ARG_VERSION:
                        printf("smsprovd %s\n", PROVIDER_VERSION);
                        return EXIT_SUCCESS;
                case ARG_SYSTEM:
                        config.bus_kind = BUS_KIND_SYSTEM;
                        break;
                case ARG_USER:
                        config.bus_kind = BUS_KIND_USER;
                        break;
                case ARG_BUS_ADDRESS:
                        config.bus_kind = BUS_KIND_ADDRESS;
                        config.bus_address = optarg;
                        break;
                case ARG_STATE_DIR:
                        config.state_dir = optarg;
                        break;
                case ARG_DATABASE:
                        config.database = optarg;
                        break;
                case ARG_LIBRARY_DIR:
                        config.library_dir = optarg;
                        break;
                case ARG_SITE_CODE:
                        config.site_code = optarg;
                        break;
                case ARG_CONTENT_ROOT:
                        if (list_push(&roots, &n_roots, optarg) < 0)
                                return EXIT_FAILURE;
                        break;
                case ARG_DP_ROOT:
                        if (list_push(&dp_roots, &n_dp_roots, optarg) < 0)
                                return EXIT_FAILURE;
                        break;
                case ARG_LOG_LEVEL:
                        if (streq(optarg, "error"))
                                log_set_max_level(LOG_LEVEL_ERROR);
                        else if (streq(optarg, "warning"))
                                log_set_max_level(LOG_LEVEL_WARNING);
                        else if (streq(optarg, "info"))
                                log_set_max_level(LOG_LEVEL_INFO);
                        else if (streq(optarg, "debug"))
                                log_set_max_level(LOG_LEVEL_DEBUG);
                        else {
                                log_error("Unknown log level '%s'.", optarg);
                                return 2;
                        }
                        break;
                case ARG_ADK_ROOT:
                        config.adk_root = optarg;
                        break;
                case ARG_OSD_BIN_ROOT:
                        config.osd_bin_root = optarg;
                        break;
                case ARG_POLKIT:
                        config.polkit = true;
                        break;
                case ARG_TEST_HOLD_DIR:
                        config.test_hold_dir = optarg;
                        break;
                case ARG_HOST_NAME:
                        config.host_name = optarg;
                        break;
                default:
                        if (c >= ARG_NUMERIC && c < ARG_NUMERIC + (int) ELEMENTSOF(numeric)) {
                                if (parse_numeric(&numeric[c - ARG_NUMERIC], optarg) < 0)
                                        return 2;
                                break;
                        }
                        return 2;
                }
        if (optind < argc) {
                log_error("This program takes no positional arguments.");
                return 2;
        }
        config.roots = roots;
        config.dp_roots = dp_roots;
        /* A test point lets whoever can write DIR stall or kill jobs: never on a shared bus. */
        if (config.test_hold_dir && config.bus_kind != BUS_KIND_ADDRESS) {
                log_error("--test-hold-dir is for tests on a private bus (--bus-address) only.");
                return 2;
        }
        config.job_linger_usec = job_linger_sec * 1000000ULL;
        config.job_lease_usec = job_lease_sec * 1000000ULL;
        config.max_reply_bytes = max_reply_bytes;

        /* Block the signals sd-event handles before any worker thread exists: threads inherit
         * the mask, and a SIGTERM delivered to a worker would kill the daemon uncleanly. */
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        r = manager_new(&config, &m);
        if (r == -ECANCELED) /* stopped while it waited for the site database */
                return EXIT_SUCCESS;
        if (r < 0)
                return EXIT_FAILURE;
        r = manager_run(m);
        /* Freeing the manager stops the running jobs cleanly, also after the bus is lost. */
        m = manager_free(m);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
