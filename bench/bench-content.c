/* SPDX-License-Identifier: MIT */

/* bench-content: the content library against cp and sha256sum, in one run on the same files.
 *
 * In a temporary directory on one file system (under $TMPDIR, default /tmp), makes a package of
 * about --size-mb MiB (default 1024, or $BENCH_CONTENT_MB) in --files files of mixed sizes, then:
 *   1. `cp -r` of the package, the reference, against ingest into the site library plus
 *      content_dp_distribute() to --dps distribution points (default 10), hard links in AUTO mode;
 *   2. a refresh with unchanged content (version 2: ingest, which the stat cache makes a stat walk,
 *      and the same distributions) against the first run;
 *   3. content_dp_verify() of one DP against `sha256sum` of the same published files.
 * Every side starts with the page cache as the previous step left it and after a sync(), so that
 * no side pays for another's writeback. The size shrinks, with a message, when the file system
 * lacks room for the source, the cp copy and the site library. Nothing here asserts a time: the
 * closing line names the figures that miss their goal; the exit status says whether the run
 * worked. */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "smsprov/content.h"
#include "smsprov/path.h"
#include "util/parallel.h"

#define PACKAGE_ID "LAB00001"
#define MIN_SIZE_MB 16
#define MAX_DPS 64
#define MIN(a, b) ((a) < (b) ? (a) : (b))

typedef struct Row {
        char metric[48], value[24], reference[40], ratio[16], goal[16];
        int met; /* -1: no goal */
} Row;

static Row rows[16];
static size_t n_rows;
static char *scratch; /* removed by die() too */

static void cleanup(void) {
        if (scratch && !getenv("BENCH_KEEP"))
                (void) path_remove_tree(scratch);
}

static _Noreturn __attribute__((format(printf, 1, 2))) void die(const char *fmt, ...) {
        va_list ap;

        fputs("bench-content: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        cleanup();
        exit(EXIT_FAILURE);
}

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static char *join(const char *a, const char *b) {
        char *p;
        if (asprintf(&p, "%s/%s", a, b) < 0)
                die("out of memory");
        return p;
}

static void mkdir_parents(const char *path) {
        char *p = strdup(path);
        for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = 0;
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        die("mkdir %s: %m", p);
                *s = '/';
        }
        free(p);
}

/* Incompressible and different in every file, so that nothing is deduplicated by accident. */
static void write_random_file(const char *path, uint64_t size, uint64_t seed, void *buf, size_t buf_size) {
        uint64_t x = seed * 0x9E3779B97F4A7C15u + 0x632BE59BD9B4E019u;
        int fd;

        mkdir_parents(path);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                die("create %s: %m", path);
        while (size > 0) {
                size_t n = size < buf_size ? (size_t) size : buf_size;
                uint64_t *w = buf;
                for (size_t i = 0; i < (n + 7) / 8; i++) {
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        w[i] = x;
                }
                if (write(fd, buf, n) != (ssize_t) n)
                        die("write %s: %m", path);
                size -= n;
        }
        close(fd);
}

/* Mixed sizes: a tenth of the files hold 60% of the bytes, a quarter hold 30%, the rest 10%. */
static uint64_t make_package(const char *dir, uint64_t total, unsigned n_files) {
        unsigned n_large = n_files / 10 ? n_files / 10 : 1, n_medium = n_files / 4;
        unsigned n_small = n_files - n_large - n_medium;
        size_t buf_size = 1 << 20;
        void *buf = malloc(buf_size);
        uint64_t written = 0;

        if (!buf)
                die("out of memory");
        for (unsigned i = 0; i < n_files; i++) {
                uint64_t share, size;
                unsigned k;
                if (i < n_large)
                        share = total * 6 / 10, k = n_large;
                else if (i < n_large + n_medium)
                        share = total * 3 / 10, k = n_medium;
                else
                        share = total / 10, k = n_small;
                /* ±50% around the class's mean, the same in every run */
                size = share / k / 2 + (share / k) * ((i * 2654435761u) % 1000) / 1000;
                char name[64];
                snprintf(name, sizeof name, "dir%02u/sub%u/file%03u.bin", i % 8, i % 3, i);
                char *path = join(dir, name);
                write_random_file(path, size, i + 1, buf, buf_size);
                free(path);
                written += size;
        }
        free(buf);
        return written;
}

static int evict_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        if (type == FTW_F && S_ISREG(st->st_mode)) {
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd >= 0) {
                        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
                        close(fd);
                }
        }
        return 0;
}

/* Drops what a side wrote from the page cache (after sync(), so it is clean): the next side then
 * writes into memory as warm as this one had, and not into pages a virtual machine's host must
 * first provide, which costs more than the copy itself. */
static void evict(const char *dir) {
        (void) nftw(dir, evict_one, 16, FTW_PHYS);
}

/* Touches `mib` MiB of memory once and gives it back. A virtual machine's host may provide guest
 * memory only when it is first touched, which makes a copy into such memory several times slower
 * than the copy itself (here `cp -r` of 1 GiB took 0.27 s or 2.9 s depending on it). Afterwards
 * the page cache both sides write into comes from memory that is already backed. */
static void warm_memory(uint64_t mib) {
        size_t n = (size_t) mib << 20;
        volatile char *p = malloc(n);

        if (!p)
                return;
        for (size_t i = 0; i < n; i += 4096)
                p[i] = 1;
        free((void *) p);
}

static void run(const char *shell_command) {
        pid_t pid = fork();
        int status;

        if (pid < 0)
                die("fork: %m");
        if (pid == 0) {
                execl("/bin/sh", "sh", "-c", shell_command, (char *) NULL);
                _exit(127);
        }
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                die("'%s' failed", shell_command);
}

static void add_row(const char *metric, double value, double reference, bool percent, double goal, bool less_than) {
        Row *r = &rows[n_rows++];
        double ratio = reference > 0 ? value / reference : 0;

        snprintf(r->metric, sizeof r->metric, "%s", metric);
        snprintf(r->value, sizeof r->value, "%.3f s", value);
        snprintf(r->reference, sizeof r->reference, "%.3f s", reference);
        if (percent) {
                snprintf(r->ratio, sizeof r->ratio, "%.1f%%", ratio * 100);
                snprintf(r->goal, sizeof r->goal, "%s %.0f%%", less_than ? "<" : "≤", goal * 100);
        } else {
                snprintf(r->ratio, sizeof r->ratio, "%.2f×", ratio);
                if (goal > 0)
                        snprintf(r->goal, sizeof r->goal, "≤ %.2f×", goal);
                else
                        snprintf(r->goal, sizeof r->goal, "—");
        }
        r->met = goal <= 0 ? -1 : less_than ? ratio < goal : ratio <= goal;
}

static void add_info(const char *metric, double value, const char *reference) {
        Row *r = &rows[n_rows++];
        snprintf(r->metric, sizeof r->metric, "%s", metric);
        snprintf(r->value, sizeof r->value, "%.3f s", value);
        snprintf(r->reference, sizeof r->reference, "%s", reference);
        snprintf(r->ratio, sizeof r->ratio, "—");
        snprintf(r->goal, sizeof r->goal, "—");
        r->met = -1;
}

typedef struct Distribution {
        const char *site;
        char **dps;
        uint32_t version;
} Distribution;

static void distribute_one(size_t i, void *userdata) {
        const Distribution *d = userdata;
        SmsError e = SMS_ERROR_NULL;
        ContentDistributeStats s = {};

        if (content_dp_distribute(d->site, d->dps[i], PACKAGE_ID, d->version, CONTENT_LINK_AUTO, NULL, NULL, NULL, &s,
                                  &e) < 0)
                die("distribute to %s: %s", d->dps[i], e.message);
        if (s.files_copied > 0)
                fprintf(stderr, "bench-content: %s: %" PRIu64 " files copied, not linked\n", d->dps[i],
                        s.files_copied);
}

/* One ingest and the distributions, CONTENT_DP_PARALLEL DPs at once as the daemon's distribution
 * job does; returns the seconds, and each part's. */
static double ingest_and_distribute(const char *site, char **dps, unsigned n_dps, const char *src, uint32_t version,
                                    double *ret_ingest, double *ret_distribute) {
        SmsError e = SMS_ERROR_NULL;
        ContentManifest m = {};
        double t0 = now(), t1;

        if (content_site_ingest(site, PACKAGE_ID, version, src, NULL, NULL, &m, &e) < 0)
                die("ingest: %s", e.message);
        content_manifest_done(&m);
        t1 = now();
        parallel_for(n_dps, CONTENT_DP_PARALLEL, distribute_one,
                     &(Distribution) { .site = site, .dps = dps, .version = version });
        *ret_ingest = t1 - t0;
        *ret_distribute = now() - t1;
        return now() - t0;
}

/* CPU seconds (user + system, all threads) of this process, or of its waited-for children. */
static double cpu_seconds(int who) {
        struct rusage ru;
        if (getrusage(who, &ru) < 0)
                die("getrusage: %m");
        return (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6 + (double) ru.ru_stime.tv_sec +
               (double) ru.ru_stime.tv_usec / 1e6;
}

static uint64_t room_mb(const char *dir) {
        struct statvfs sv;
        if (statvfs(dir, &sv) < 0)
                die("statvfs %s: %m", dir);
        return (uint64_t) sv.f_bavail * sv.f_frsize >> 20;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "size-mb", required_argument, NULL, 's' },
                { "files", required_argument, NULL, 'f' },
                { "dps", required_argument, NULL, 'd' },
                { "runs", required_argument, NULL, 'r' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        uint64_t size_mb = getenv("BENCH_CONTENT_MB") ? strtoull(getenv("BENCH_CONTENT_MB"), NULL, 10) : 1024;
        unsigned n_files = 200, n_dps = 10;
        const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        char *src;
        double first = HUGE_VAL, first_ingest = 0, first_dist = 0;
        double second = HUGE_VAL, second_ingest = 0, second_dist = 0;
        double cp = HUGE_VAL, cp_sync = HUGE_VAL, verify = HUGE_VAL, sha = HUGE_VAL;
        double cp_cpu = HUGE_VAL, first_cpu = HUGE_VAL;
        unsigned n_runs = getenv("BENCH_RUNS") ? (unsigned) strtoul(getenv("BENCH_RUNS"), NULL, 10) : 3;
        uint64_t bytes, available;
        SmsError e = SMS_ERROR_NULL;
        char **bad = NULL;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        size_mb = strtoull(optarg, NULL, 10);
                        break;
                case 'f':
                        n_files = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'd':
                        n_dps = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'r':
                        n_runs = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                default:
                        printf("%s [--size-mb=N] [--files=N] [--dps=N] [--runs=N]\n", argv[0]);
                        return c == 'h' ? 0 : 2;
                }
        if (size_mb < MIN_SIZE_MB || n_files < 10 || n_dps < 1 || n_dps > MAX_DPS || n_runs < 1)
                die("--size-mb at least %d, --files at least 10, --dps 1 to %d, --runs at least 1", MIN_SIZE_MB,
                    MAX_DPS);

        /* The source, and per run cp's copy and the site library, hold the data; DPs only links. */
        available = room_mb(tmp);
        while (size_mb >= MIN_SIZE_MB && size_mb * (1 + 2 * n_runs) + size_mb / 10 + 256 > available) {
                uint64_t smaller = size_mb / 2;
                fprintf(stderr,
                        "bench-content: %s has %" PRIu64 " MiB free, not enough for %" PRIu64 " MiB; trying %" PRIu64
                        " MiB\n",
                        tmp, available, size_mb, smaller);
                size_mb = smaller;
        }
        if (size_mb < MIN_SIZE_MB)
                die("not enough room in %s", tmp);

        scratch = join(tmp, "bench-content-XXXXXX");
        if (!mkdtemp(scratch))
                die("mkdtemp: %m");
        src = join(scratch, "source");

        printf("bench-content: %" PRIu64 " MiB in %u files, %u DPs, best of %u runs, in %s\n", size_mb, n_files, n_dps,
               n_runs, scratch);
        bytes = make_package(src, size_mb << 20, n_files);
        sync();
        warm_memory(size_mb * 3); /* cp's copy and the site library, with room to spare */
        /* The runs alternate the sides, and each figure is the best of its runs: on a shared or
         * virtual machine a slow moment then hurts no side alone. */
        for (unsigned run_index = 0; run_index < n_runs; run_index++) {
                double t, cpu, run_cp = 0, run_first = 0, run_ingest, run_dist, run_second;
                char name[32], *copy_cmd, *sha_cmd, *ref, *site, *dps[MAX_DPS];

                /* Every run in directories of its own, and nothing removed until the end: ext4
                 * makes new inodes slowly while many were deleted in the last seconds, which
                 * would charge one run for the cleanup of the previous. */
                snprintf(name, sizeof name, "run%u", run_index);
                char *dir = join(scratch, name);
                if (mkdir(dir, 0755) < 0)
                        die("mkdir %s: %m", dir);
                ref = join(dir, "cp-copy");
                site = join(dir, "contentlib");
                for (unsigned i = 0; i < n_dps; i++) {
                        snprintf(name, sizeof name, "dp%02u", i);
                        dps[i] = join(dir, name);
                        if (mkdir(dps[i], 0755) < 0)
                                die("mkdir %s: %m", dps[i]);
                }
                if (asprintf(&copy_cmd, "cp -r '%s' '%s'", src, ref) < 0 ||
                    asprintf(&sha_cmd, "find '%s/SCCMContentLib/DataLib/" PACKAGE_ID "' -type f -print0 | "
                             "xargs -0 sha256sum > /dev/null", dps[0]) < 0)
                        die("out of memory");
                sync();

                /* 1. cp -r against ingest + distribute to every DP, each side first in turn */
                for (unsigned side = 0; side < 2; side++)
                        if ((side + run_index) % 2 == 0) {
                                cpu = cpu_seconds(RUSAGE_CHILDREN);
                                t = now();
                                run(copy_cmd);
                                run_cp = now() - t;
                                cp_cpu = MIN(cp_cpu, cpu_seconds(RUSAGE_CHILDREN) - cpu);
                                sync();
                                cp_sync = MIN(cp_sync, now() - t);
                                cp = MIN(cp, run_cp);
                                evict(ref);
                        } else {
                                cpu = cpu_seconds(RUSAGE_SELF);
                                run_first = ingest_and_distribute(site, dps, n_dps, src, 1, &run_ingest, &run_dist);
                                first_cpu = MIN(first_cpu, cpu_seconds(RUSAGE_SELF) - cpu);
                                if (run_first < first)
                                        first = run_first, first_ingest = run_ingest, first_dist = run_dist;
                                sync();
                        }

                /* 2. the same content again, as a refresh makes it */
                run_second = ingest_and_distribute(site, dps, n_dps, src, 2, &run_ingest, &run_dist);
                if (run_second < second)
                        second = run_second, second_ingest = run_ingest, second_dist = run_dist;
                sync();

                /* 3. verify one DP against sha256sum of the files it publishes */
                t = now();
                if (content_dp_verify(dps[0], PACKAGE_ID, NULL, NULL, &bad, &e) < 0)
                        die("verify: %s", e.message);
                verify = MIN(verify, now() - t);
                if (bad[0])
                        die("verify found a bad file: %s", bad[0]);
                free(bad);
                t = now();
                run(sha_cmd);
                sha = MIN(sha, now() - t);
                evict(site); /* the next run's first side then writes into these pages */
                printf("  run %u: cp -r %.3f s, ingest + distributions %.3f s, unchanged %.3f s\n", run_index + 1,
                       run_cp, run_first, run_second);
                free(copy_cmd);
                free(sha_cmd);
                free(ref);
                free(site);
                free(dir);
                for (unsigned i = 0; i < n_dps; i++)
                        free(dps[i]);
        }

        char title[96];
        snprintf(title, sizeof title, "ingest + %u distributions (%.0f MiB)", n_dps, (double) bytes / (1 << 20));
        add_row(title, first, cp, false, 1.3, false);
        add_row("  the same, against cp -r && sync", first, cp_sync, false, 0, false);
        add_row("  CPU time (all threads), against cp's", first_cpu, cp_cpu, false, 0, false);
        add_info("    of which ingest", first_ingest, "");
        char per_dp[40];
        snprintf(per_dp, sizeof per_dp, "%u DPs at once", MIN(n_dps, CONTENT_DP_PARALLEL));
        add_info("    of which distributions", first_dist, per_dp);
        add_row("refresh, unchanged content", second, first, true, 0.05, true);
        add_info("    of which ingest (stat walk)", second_ingest, "");
        add_info("    of which distributions", second_dist, per_dp);
        add_row("verify one DP", verify, sha, false, 1.15, false);

        printf("\n%-44s %12s %22s %9s %9s\n", "metric", "value", "reference", "ratio", "goal");
        unsigned missed = 0;
        for (size_t i = 0; i < n_rows; i++) {
                printf("%-44s %12s %22s %9s %9s%s\n", rows[i].metric, rows[i].value, rows[i].reference, rows[i].ratio,
                       rows[i].goal, rows[i].met < 0 ? "" : rows[i].met ? "  met" : "  MISSED");
                missed += rows[i].met == 0;
        }
        printf("\nreferences: cp -r of the package (then with sync), the first run, sha256sum of DP 0's DataLib;\n"
               "each figure the best of %u runs\n", n_runs);
        if (missed)
                printf("goals missed: %u\n", missed);
        else
                printf("all goals met\n");

        free(src);
        cleanup();
        return 0;
}
