/* SPDX-License-Identifier: MIT */

/* bench-content: the content library against cp and sha256sum doing the same work, in one run on
 * the same files (issue 12 §7).
 *
 * In a temporary directory (under $TMPDIR, default /tmp) makes a package of about --size-mb MiB
 * (default 1024, or $BENCH_CONTENT_MB) in --files files of mixed sizes, then per run, the two sides
 * of each comparison taking turns going first:
 *   1. ingest into the site library (hashed, durable) against `cp -r && sync`;
 *   2. ingest plus content_dp_distribute() to --dps DPs (default 10; ten independent copies, no
 *      inode shared) against `cp -r` and ten more `cp -r` of that copy, then `sync`;
 *   3. a refresh with unchanged content (version 2: every library file stat'ed, none read)
 *      against the first;
 *   4. content_dp_verify() of one DP against `sha256sum` of the same published files.
 * BENCH_EXT4=0 leaves out the runs on $TMPDIR's own file system.
 * As root with mkfs.xfs at hand (and BENCH_XFS not 0), 1 to 4 again on an XFS file system made
 * with reflink=1 on a loop device, against `cp -r --reflink=always`: there the copies share extents
 * and what is left is mostly hashing. Each figure is the best of --runs (default 5). Nothing here
 * asserts a time: the closing line names the figures that miss their goal; the exit status says
 * whether the run worked. */

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
#include <sys/mount.h>
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
        char metric[64], value[24], reference[40], ratio[16], goal[16];
        int met; /* -1: no goal */
} Row;

static Row rows[32];
static size_t n_rows;
static char *scratch;      /* removed by die() too */
static char *xfs_mount;    /* the XFS file system's mount point while mounted */
static char xfs_loop[64];  /* and its loop device */

static void xfs_teardown(void) {
        if (xfs_mount) {
                (void) umount2(xfs_mount, MNT_DETACH);
                free(xfs_mount);
                xfs_mount = NULL;
        }
        if (xfs_loop[0]) {
                char *cmd = NULL;
                if (asprintf(&cmd, "losetup -d '%s'", xfs_loop) >= 0)
                        (void) system(cmd);
                free(cmd);
                xfs_loop[0] = 0;
        }
}

static void cleanup(void) {
        xfs_teardown();
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

/* The best of the runs of each figure on one file system. */
typedef struct Figures {
        double ingest, ingest_ref;                       /* 1. */
        double first, first_ingest, first_dist, first_ref; /* 2. */
        double first_cpu, ref_cpu;
        double second, second_ingest, second_dist;       /* 3. */
        double verify, sha;                              /* 4. */
} Figures;

#define FIGURES_NONE                                                                                          \
        ((Figures) { .ingest = HUGE_VAL, .ingest_ref = HUGE_VAL, .first = HUGE_VAL, .first_ref = HUGE_VAL,    \
                     .first_cpu = HUGE_VAL, .ref_cpu = HUGE_VAL, .second = HUGE_VAL, .verify = HUGE_VAL,     \
                     .sha = HUGE_VAL })

static void append(char **s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(char **s, const char *fmt, ...) {
        char *more = NULL, *joined = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&more, fmt, ap) < 0)
                die("out of memory");
        va_end(ap);
        if (asprintf(&joined, "%s%s", *s ? *s : "", more) < 0)
                die("out of memory");
        free(*s);
        free(more);
        *s = joined;
}

/* The runs on the file system holding `base` (the package is at `src`, on the same one). With
 * `reflink`, the reference copies are `cp -r --reflink=always`; the content library makes reflinks
 * there by itself. */
static void bench_fs(const char *base, const char *src, bool reflink, unsigned n_dps, unsigned n_runs,
                     bool verify_too, Figures *f) {
        const char *cp = reflink ? "cp -r --reflink=always" : "cp -r";
        SmsError e = SMS_ERROR_NULL;
        char **bad = NULL;

        for (unsigned run_index = 0; run_index < n_runs; run_index++) {
                double t, cpu, run_ref = 0, run_first = 0, run_ingest = 0, first_ingest = 0, run_dist, run_second;
                char name[32], *one_cmd = NULL, *all_cmd = NULL, *sha_cmd = NULL, *site, *dps[MAX_DPS];

                /* Every run in directories of its own, removed once its figures are taken. */
                snprintf(name, sizeof name, "run%u", run_index);
                char *dir = join(base, name), *one = join(dir, "cp-one"), *copies = join(dir, "cp-copies");
                if (mkdir(dir, 0755) < 0 || mkdir(copies, 0755) < 0)
                        die("mkdir %s: %m", dir);
                site = join(dir, "contentlib");
                append(&one_cmd, "%s '%s' '%s' && sync", cp, src, one);
                append(&all_cmd, "%s '%s' '%s/c00'", cp, src, copies);
                for (unsigned i = 0; i < n_dps; i++) {
                        snprintf(name, sizeof name, "dp%02u", i);
                        dps[i] = join(dir, name);
                        if (mkdir(dps[i], 0755) < 0)
                                die("mkdir %s: %m", dps[i]);
                        append(&all_cmd, " && %s '%s/c00' '%s/c%02u'", cp, copies, copies, i + 1);
                }
                append(&all_cmd, " && sync");
                append(&sha_cmd, "find '%s/SCCMContentLib/DataLib/" PACKAGE_ID "' -type f -print0 | "
                       "xargs -0 sha256sum > /dev/null", dps[0]);
                sync();

                /* 1 and 2: the references against ingest + distributions, each side first in turn */
                for (unsigned side = 0; side < 2; side++)
                        if ((side + run_index) % 2 == 0) {
                                t = now();
                                run(one_cmd);
                                f->ingest_ref = MIN(f->ingest_ref, now() - t);
                                evict(one);
                                sync();
                                cpu = cpu_seconds(RUSAGE_CHILDREN);
                                t = now();
                                run(all_cmd);
                                run_ref = now() - t;
                                f->first_ref = MIN(f->first_ref, run_ref);
                                f->ref_cpu = MIN(f->ref_cpu, cpu_seconds(RUSAGE_CHILDREN) - cpu);
                                evict(copies);
                                sync();
                        } else {
                                cpu = cpu_seconds(RUSAGE_SELF);
                                run_first = ingest_and_distribute(site, dps, n_dps, src, 1, &run_ingest, &run_dist);
                                f->first_cpu = MIN(f->first_cpu, cpu_seconds(RUSAGE_SELF) - cpu);
                                f->ingest = MIN(f->ingest, run_ingest);
                                first_ingest = run_ingest;
                                if (run_first < f->first)
                                        f->first = run_first, f->first_ingest = run_ingest, f->first_dist = run_dist;
                                sync();
                        }

                /* 3. the same content again, as a refresh makes it */
                run_second = ingest_and_distribute(site, dps, n_dps, src, 2, &run_ingest, &run_dist);
                if (run_second < f->second)
                        f->second = run_second, f->second_ingest = run_ingest, f->second_dist = run_dist;
                sync();

                /* 4. verify one DP against sha256sum of the files it publishes */
                if (verify_too) {
                        t = now();
                        if (content_dp_verify(dps[0], PACKAGE_ID, NULL, NULL, &bad, &e) < 0)
                                die("verify: %s", e.message);
                        f->verify = MIN(f->verify, now() - t);
                        if (bad[0])
                                die("verify found a bad file: %s", bad[0]);
                        free(bad);
                        t = now();
                        run(sha_cmd);
                        f->sha = MIN(f->sha, now() - t);
                }
                printf("  run %u: %s %.3f s, ingest + distributions %.3f s (ingest %.3f s), unchanged %.3f s\n",
                       run_index + 1, reflink ? "cp --reflink" : "cp", run_ref, run_first, first_ingest, run_second);
                fflush(stdout);
                /* Ten copies of the package per side do not fit many times over: each run's go. */
                if (path_remove_tree(dir) < 0)
                        die("removing %s: %m", dir);
                sync();
                free(one_cmd);
                free(all_cmd);
                free(sha_cmd);
                free(one);
                free(copies);
                free(site);
                free(dir);
                for (unsigned i = 0; i < n_dps; i++)
                        free(dps[i]);
        }
}

/* An XFS file system with reflink=1 on a loop device over a sparse file in `dir`; its mount
 * point, or NULL (with a message) where that cannot be made. */
static char *xfs_setup(const char *dir, uint64_t size_mb) {
        char *image = join(dir, "xfs.img"), *mnt = join(dir, "xfs"), *cmd = NULL;
        FILE *p;
        int fd;

        if (geteuid() != 0 || system("command -v mkfs.xfs >/dev/null 2>&1 && command -v losetup >/dev/null 2>&1") != 0) {
                fprintf(stderr, "bench-content: XFS reflink figures skipped (needs root, mkfs.xfs and losetup)\n");
                goto fail;
        }
        fd = open(image, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        /* the source, the site library and one copy hold data; reflinks share it */
        if (fd < 0 || ftruncate(fd, (off_t) ((size_mb * 4 + 1024) << 20)) < 0)
                die("%s: %m", image);
        close(fd);
        if (asprintf(&cmd, "losetup -f --show '%s'", image) < 0)
                die("out of memory");
        p = popen(cmd, "r");
        free(cmd);
        cmd = NULL;
        if (!p || !fgets(xfs_loop, sizeof xfs_loop, p)) {
                if (p)
                        pclose(p);
                xfs_loop[0] = 0;
                fprintf(stderr, "bench-content: XFS reflink figures skipped (no loop device)\n");
                goto fail;
        }
        pclose(p);
        xfs_loop[strcspn(xfs_loop, "\n")] = 0;
        if (mkdir(mnt, 0755) < 0 || asprintf(&cmd, "mkfs.xfs -q -m reflink=1 '%s' && mount '%s' '%s'", xfs_loop,
                                             xfs_loop, mnt) < 0)
                die("%s: %m", mnt);
        if (system(cmd) != 0) {
                fprintf(stderr, "bench-content: XFS reflink figures skipped ('%s' failed)\n", cmd);
                free(cmd);
                xfs_teardown();
                goto fail;
        }
        free(cmd);
        free(image);
        xfs_mount = strdup(mnt);
        return mnt;
fail:
        free(image);
        free(mnt);
        return NULL;
}

static void add_fs_rows(const Figures *f, const char *fs, const char *cp, unsigned n_dps, double goal_first) {
        char title[96], per_dp[40];

        snprintf(title, sizeof title, "%s: ingest vs %s && sync", fs, cp);
        add_row(title, f->ingest, f->ingest_ref, false, strcmp(fs, "ext4") == 0 ? 1.1 : 0, false);
        snprintf(title, sizeof title, "%s: ingest + %u DPs vs %u × %s, sync", fs, n_dps, n_dps + 1, cp);
        add_row(title, f->first, f->first_ref, false, goal_first, false);
        add_row("  CPU time (all threads), against cp's", f->first_cpu, f->ref_cpu, false, 0, false);
        add_info("    of which ingest", f->first_ingest, "");
        snprintf(per_dp, sizeof per_dp, "%u DPs at once", MIN(n_dps, CONTENT_DP_PARALLEL));
        add_info("    of which distributions", f->first_dist, per_dp);
        snprintf(title, sizeof title, "%s: refresh, unchanged content", fs);
        add_row(title, f->second, f->first, true, 0.05, true);
        add_info("    of which ingest (stat walk)", f->second_ingest, "");
        add_info("    of which distributions", f->second_dist, per_dp);
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
        bool want_xfs = !getenv("BENCH_XFS") || strcmp(getenv("BENCH_XFS"), "0") != 0;
        bool want_ext = !getenv("BENCH_EXT4") || strcmp(getenv("BENCH_EXT4"), "0") != 0;
        unsigned n_runs = getenv("BENCH_RUNS") ? (unsigned) strtoul(getenv("BENCH_RUNS"), NULL, 10) : 5;
        Figures ext = FIGURES_NONE, xfs = FIGURES_NONE;
        bool have_xfs = false;
        uint64_t bytes, available;
        char *src;
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

        /* The source, and in one run the references' 1 + 1 + N copies and the site library and N
         * DPs (copies of their own) hold the data; the XFS image needs a few more. */
        available = room_mb(tmp);
        while (size_mb >= MIN_SIZE_MB && size_mb * (2 * n_dps + 8) + 512 > available) {
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
        warm_memory(size_mb * 3); /* the copies being written, with room to spare */
        if (want_ext) {
                printf("on %s:\n", tmp);
                bench_fs(scratch, src, false, n_dps, n_runs, true, &ext);
        }

        char *xfs_dir = want_xfs ? xfs_setup(scratch, size_mb) : NULL;
        if (xfs_dir) {
                char *xfs_src = join(xfs_dir, "source");
                printf("on XFS (reflink=1, %s):\n", xfs_loop);
                if (make_package(xfs_src, size_mb << 20, n_files) != bytes)
                        die("the package on XFS differs in size");
                sync();
                bench_fs(xfs_dir, xfs_src, true, n_dps, n_runs, true, &xfs);
                have_xfs = true;
                free(xfs_src);
                free(xfs_dir);
                xfs_teardown();
        }

        if (want_ext) {
                add_fs_rows(&ext, "ext4", "cp -r", n_dps, 1.2);
                add_row("verify one DP", ext.verify, ext.sha, false, 1.15, false);
        }
        if (have_xfs) {
                add_fs_rows(&xfs, "XFS", "cp --reflink", n_dps, 1.5);
                /* What hashing the package once costs the library: a verify hashes it once too. */
                add_info("    hashing the package once (verify one DP)", xfs.verify, "");
        }

        printf("\n%-46s %12s %22s %9s %9s\n", "metric", "value", "reference", "ratio", "goal");
        unsigned missed = 0;
        for (size_t i = 0; i < n_rows; i++) {
                printf("%-46s %12s %22s %9s %9s%s\n", rows[i].metric, rows[i].value, rows[i].reference, rows[i].ratio,
                       rows[i].goal, rows[i].met < 0 ? "" : rows[i].met ? "  met" : "  MISSED");
                missed += rows[i].met == 0;
        }
        printf("\nreferences: cp doing the same copies, then sync; the first run; sha256sum of DP 0's DataLib;\n"
               "each figure the best of %u runs, the sides taking turns going first\n", n_runs);
        if (missed)
                printf("goals missed: %u\n", missed);
        else
                printf("all goals met\n");

        free(src);
        cleanup();
        return 0;
}
