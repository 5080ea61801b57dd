/* SPDX-License-Identifier: MIT */

/* Confinement where a path is used, not only where it is stored (issue 11 §2). For each path
 * property and each operation that reads it, a thread keeps exchanging a name inside the content
 * root (renameat2 RENAME_EXCHANGE, so the name always exists) between the real object and a symlink
 * to a place outside every root, while the operation runs; 200 rounds each. A marker text is in
 * every file outside: it must never appear on a DP, in a built WIM (the WIMs are uncompressed, so
 * their bytes are searched as they are), in image properties or in an export, and nothing may be
 * written outside. Each operation either succeeds with the real bytes or fails with a named error.
 *
 * The rounds race by design; on correct code no interleaving can fail them. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <wimlib.h>

#include <cmocka.h>

#include "../helpers/wim-gen.h"
#include "smsprov/macro.h"
#include "test-env.h"

#define ROOT "/org/smsprov/Provider1"
#define IFACE "org.smsprov.Provider1."
#define BASE IFACE "SMS_PackageBaseclass"
#define BOOT IFACE "SMS_BootImagePackage"
#define BOOT_STATIC IFACE "SMS_BootImagePackage.Static"
#define ROUNDS_DEFAULT 200

/* $SMSPROV_SWAP_ROUNDS overrides the number of rounds (for a quick look; the suite runs 200). */
static unsigned ROUNDS = ROUNDS_DEFAULT;

static TestEnv env;
static char marker[64];      /* in every file outside the roots */
static char *outside;        /* <tmp>/outside: marker.txt, file.txt, nic.inf, outside.wim, export/ */
static char *dp_root, *dp_nal;
static char *inside_wim;     /* the bytes behind content/dist/swap.wim */
static size_t inside_wim_size;

/* --- helpers ----------------------------------------------------------------------------------- */

static char *path_in(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *path_in(const char *dir, const char *fmt, ...) {
        char *rel = NULL, *p = NULL;
        va_list ap;
        va_start(ap, fmt);
        assert_true(vasprintf(&rel, fmt, ap) > 0);
        va_end(ap);
        assert_true(asprintf(&p, "%s/%s", dir, rel) > 0);
        free(rel);
        return p;
}

static bool has_marker(const char *data, size_t size) {
        return memmem(data, size, marker, strlen(marker)) != NULL;
}

/* The file's bytes never hold the marker; false when there is no file. */
static bool file_exists_clean(const char *path, const char *what) {
        size_t n;
        char *data = test_read_file(path, 0, &n);
        if (!data)
                return false;
        if (has_marker(data, n))
                fail_msg("%s: %s holds the marker of a file outside the content roots (daemon log: stderr of this "
                         "test)",
                         what, path);
        free(data);
        return true;
}

static const char *tree_what;
static int check_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        if (type == FTW_F)
                file_exists_clean(path, tree_what);
        return 0;
}

static void tree_clean(const char *dir, const char *what) {
        tree_what = what;
        assert_int_equal(nftw(dir, check_entry, 16, FTW_PHYS), 0);
}

static void write_text(const char *path, const char *text) {
        assert_int_equal(test_write_file(path, text, strlen(text)), 0);
}

/* An uncompressed WIM of `tree` whose image is named after the marker. */
static void make_marker_wim(const char *tree, const char *path) {
        WIMStruct *wim = NULL;
        assert_int_equal(wimlib_create_new_wim(WIMLIB_COMPRESSION_TYPE_NONE, &wim), 0);
        assert_int_equal(wimlib_add_image(wim, tree, marker, NULL, 0), 0);
        assert_int_equal(wimlib_write(wim, path, WIMLIB_ALL_IMAGES, 0, 1), 0);
        wimlib_free(wim);
}

static bool is_named_error(const char *name) {
        return name && strncmp(name, SMSPROV_ERR(""), strlen(SMSPROV_ERR(""))) == 0;
}

/* Starts a job by a method returning (o); NULL and *ret_error when the call was refused. */
static char *start_job(const char *path, const char *iface, const char *method, const char **ret_error,
                       const char *types, ...) {
        sd_bus_message *reply = NULL;
        const char *e = NULL, *j;
        char *job = NULL;

        if (!types)
                e = test_invoke(&env, path, iface, method, &reply, NULL);
        else if (streq(types, "sus")) {
                va_list ap;
                va_start(ap, types);
                const char *a = va_arg(ap, const char *);
                uint32_t u = va_arg(ap, uint32_t);
                const char *b = va_arg(ap, const char *);
                va_end(ap);
                e = test_invoke(&env, path, iface, method, &reply, "sus", a, u, b);
        } else
                fail_msg("start_job: types %s", types);
        *ret_error = e;
        if (e) {
                if (!is_named_error(e))
                        fail_msg("%s: refused with %s, not a named error", method, e);
                return NULL;
        }
        assert_true(sd_bus_message_read(reply, "o", &j) > 0);
        job = strdup(j);
        sd_bus_message_unref(reply);
        return job;
}

/* Waits for the job; true when it completed, false when it failed with a named error. Takes job. */
static bool job_completed(char *job, const char *what) {
        char *err = NULL;
        uint32_t state = test_wait_job(&env, job, &err);
        bool ok = state == 2;
        if (!ok && getenv("SMSPROV_TEST_VERBOSE")) {
                char *msg = test_get_string(&env, job, IFACE "Job", "ErrorMessage");
                fprintf(stderr, "%s: job %s ended in state %u: %s: %s\n", what, job, state, err, msg);
                free(msg);
        }
        if (!ok && (state != 3 || !is_named_error(err)))
                fail_msg("%s: job %s ended in state %u with '%s', want completed or failed with a named error", what,
                         job, state, err);
        free(err);
        free(job);
        return ok;
}

/* --- the swapping ------------------------------------------------------------------------------- */

/* Exchanges `path` (the real object) with `alt` (a symlink out) as fast as it can. */
typedef struct Swapper {
        char *path, *alt;
        pthread_t thread;
        atomic_bool run;
        unsigned long exchanges;
} Swapper;

static void *swap_loop(void *p) {
        Swapper *s = p;
        while (atomic_load(&s->run))
                if (renameat2(AT_FDCWD, s->path, AT_FDCWD, s->alt, RENAME_EXCHANGE) == 0)
                        s->exchanges++;
        return NULL;
}

/* Makes `rel` (in the content root) exchangeable with a symlink to `target`. */
static void swapper_init(Swapper *s, const char *rel, const char *target) {
        *s = (Swapper) { .path = test_env_content_path(&env, rel) };
        assert_true(asprintf(&s->alt, "%s.alt", s->path) > 0);
        assert_int_equal(symlink(target, s->alt), 0);
}

static void swappers_start(Swapper *s, size_t n) {
        for (size_t i = 0; i < n; i++) {
                atomic_store(&s[i].run, true);
                assert_int_equal(pthread_create(&s[i].thread, NULL, swap_loop, &s[i]), 0);
        }
}

/* Stops them with the real objects in place again. */
static void swappers_stop(Swapper *s, size_t n) {
        for (size_t i = 0; i < n; i++) {
                atomic_store(&s[i].run, false);
                pthread_join(s[i].thread, NULL);
                if (s[i].exchanges % 2) {
                        assert_int_equal(renameat2(AT_FDCWD, s[i].path, AT_FDCWD, s[i].alt, RENAME_EXCHANGE), 0);
                        s[i].exchanges++;
                }
        }
}

/* One exchange by hand: the link in place of the real object, or back. */
static void swapper_flip(Swapper *s) {
        assert_int_equal(renameat2(AT_FDCWD, s->path, AT_FDCWD, s->alt, RENAME_EXCHANGE), 0);
        s->exchanges++;
}

/* The held round: the job was started while the real object was in place (so the call's own check
 * passed); it waits at its start point while the link is put in place, then runs. Correct code
 * either kept what it checked or resolves again and refuses; code that uses the stored name again
 * reads through the link, every time. Returns whether the job completed. */
static bool held_round(const char *point, Swapper *s, char *job, const char *what) {
        if (!job)
                fail_msg("%s: refused while the real object was in place", what);
        test_wait_held(&env, point, job);
        swapper_flip(s);
        test_release(&env, point);
        bool ok = job_completed(job, what);
        swapper_flip(s);
        return ok;
}

static void swappers_done(Swapper *s, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(s[i].path);
                free(s[i].alt);
        }
}

typedef struct Counts {
        unsigned ok, failed;
} Counts;

static void report(const char *what, const Counts *c, const Swapper *s, size_t n) {
        unsigned long exchanges = 0;
        for (size_t i = 0; i < n; i++)
                exchanges += s[i].exchanges;
        fprintf(stderr, "# %s: %u rounds succeeded with the real bytes, %u failed with a named error (%lu exchanges)\n",
                what, c->ok, c->failed, exchanges);
        assert_int_equal(c->ok + c->failed, ROUNDS);
}

/* --- PkgSourcePath: AddDistributionPoints and RefreshPkgSource ---------------------------------- */

static char *add_dp(const char *package, const char **ret_error) {
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char *job = NULL;
        static char name[256];

        assert_int_equal(sd_bus_message_new_method_call(env.bus, &m, "org.smsprov.Provider1", package, BASE,
                                                        "AddDistributionPoints"),
                         0);
        assert_true(sd_bus_message_append(m, "as", 1, "LAB") >= 0);
        assert_true(sd_bus_message_append(m, "as", 1, dp_nal) >= 0);
        if (sd_bus_call(env.bus, m, TEST_CALL_TIMEOUT_USEC, &error, &reply) < 0) {
                snprintf(name, sizeof name, "%s", error.name ? error.name : "(none)");
                *ret_error = name;
                if (!is_named_error(name))
                        fail_msg("AddDistributionPoints: %s: %s", name, error.message);
                sd_bus_error_free(&error);
        } else {
                const char *j;
                assert_true(sd_bus_message_read(reply, "o", &j) > 0);
                job = strdup(j);
                *ret_error = NULL;
        }
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);
        return job;
}

/* What the DP publishes for the package is the real source, byte for byte, or nothing. */
static void check_dp_file(const char *id, bool want_present, const char *what) {
        char *published = path_in(dp_root, "SCCMContentLib/DataLib/%s/swap.wim", id);
        size_t n;
        char *data = test_read_file(published, 0, &n);

        if (!data) {
                if (want_present)
                        fail_msg("%s: %s is missing after a completed distribution", what, published);
        } else {
                if (has_marker(data, n))
                        fail_msg("%s: %s holds the marker of a file outside the content roots", what, published);
                if (n != inside_wim_size || memcmp(data, inside_wim, n) != 0)
                        fail_msg("%s: %s is not the real source's bytes (%zu bytes, want %zu)", what, published, n,
                                 inside_wim_size);
        }
        free(data);
        free(published);
}

static char *new_package(const char *source) {
        char *path = NULL;
        assert_null(test_create(&env, "SMS_ImagePackage", &path, NULL, 2, "{sv}{sv}", "Name", "s", "swapped",
                                "PkgSourcePath", "s", source));
        return path;
}

static void test_distribution(void **state) {
        Swapper s;
        Counts c = {};
        char *marker_wim = path_in(outside, "outside.wim");

        swapper_init(&s, "dist/swap.wim", marker_wim);

        /* Without swapping the distribution works: the rounds below can succeed. */
        const char *e;
        char *pkg0 = new_package(s.path), *id0 = test_get_string(&env, pkg0, BASE, "PackageID");
        assert_true(job_completed(add_dp(pkg0, &e), "AddDistributionPoints without swapping"));
        check_dp_file(id0, true, "AddDistributionPoints without swapping");
        free(id0);
        free(pkg0);

        /* The link in place after the call's check, before the job reads the source. */
        pkg0 = new_package(s.path);
        id0 = test_get_string(&env, pkg0, BASE, "PackageID");
        test_hold(&env, "Distribute");
        bool held_ok = held_round("Distribute", &s, add_dp(pkg0, &e), "AddDistributionPoints, link swapped in");
        check_dp_file(id0, held_ok, "AddDistributionPoints, link swapped in");
        free(id0);
        free(pkg0);

        for (unsigned i = 0; i < ROUNDS; i++) {
                char *pkg = new_package(s.path); /* while nothing swaps: Create reads it too */
                char *id = test_get_string(&env, pkg, BASE, "PackageID");

                swappers_start(&s, 1);
                char *job = add_dp(pkg, &e);
                bool ok = job && job_completed(job, "AddDistributionPoints");
                swappers_stop(&s, 1);
                check_dp_file(id, ok, "AddDistributionPoints");
                if (ok)
                        c.ok++;
                else
                        c.failed++;
                free(id);
                free(pkg);
        }
        report("PkgSourcePath, AddDistributionPoints", &c, &s, 1);
        tree_clean(dp_root, "AddDistributionPoints");
        swappers_done(&s, 1);
        free(marker_wim);
}

/* The path of the job held at `point` (DIR/<point>.<id>.held), NULL while there is none. */
static char *find_held(const char *point) {
        DIR *d = opendir(env.hold_dir);
        char *job = NULL;
        size_t n = strlen(point);

        assert_non_null(d);
        for (struct dirent *de; !job && (de = readdir(d));) {
                size_t k = strlen(de->d_name);
                if (strncmp(de->d_name, point, n) == 0 && de->d_name[n] == '.' && k > n + 6 &&
                    streq(de->d_name + k - 5, ".held"))
                        assert_true(asprintf(&job, ROOT "/job/_%.*s", (int) (k - n - 6), de->d_name + n + 1) > 0);
        }
        closedir(d);
        return job;
}

/* A completed refresh has started the distribution of the new version (held at its start); it
 * runs now. Returns whether it completed. */
static bool run_refresh_distribution(Swapper *s, bool flip) {
        char *dist = NULL;

        TEST_WAIT_UNTIL((dist = find_held("Distribute")) != NULL, "the refresh's distribution to be held");
        test_wait_held(&env, "Distribute", dist);
        if (flip)
                swapper_flip(s);
        test_release(&env, "Distribute");
        bool ok = job_completed(dist, "RefreshPkgSource's distribution");
        if (flip)
                swapper_flip(s);
        return ok;
}

static void test_refresh(void **state) {
        Swapper s;
        Counts c = {};
        char *marker_wim = path_in(outside, "outside.wim");
        const char *e;

        swapper_init(&s, "refresh/swap.wim", marker_wim);
        char *pkg = new_package(s.path);
        char *id = test_get_string(&env, pkg, BASE, "PackageID");
        assert_true(job_completed(add_dp(pkg, &e), "AddDistributionPoints"));
        check_dp_file(id, true, "AddDistributionPoints without swapping");

        /* The refresh reads the source (its metadata) and the distribution that follows reads it
         * again: the link in place between the two. */
        test_hold(&env, "Distribute");
        assert_true(job_completed(start_job(pkg, BASE, "RefreshPkgSource", &e, NULL), "RefreshPkgSource"));
        run_refresh_distribution(&s, true);
        check_dp_file(id, true, "RefreshPkgSource, link swapped in");

        for (unsigned i = 0; i < ROUNDS; i++) {
                test_hold(&env, "Distribute");
                swappers_start(&s, 1);
                char *job = start_job(pkg, BASE, "RefreshPkgSource", &e, NULL);
                bool ok = job && job_completed(job, "RefreshPkgSource");
                if (ok)
                        ok = run_refresh_distribution(&s, false);
                else
                        test_release(&env, "Distribute");
                swappers_stop(&s, 1);
                /* A failed refresh leaves the previous version: the real bytes as well. */
                check_dp_file(id, true, "RefreshPkgSource");
                ok ? c.ok++ : c.failed++;
        }
        report("PkgSourcePath, RefreshPkgSource", &c, &s, 1);
        tree_clean(dp_root, "RefreshPkgSource");
        swappers_done(&s, 1);
        free(id);
        free(pkg);
        free(marker_wim);
}

/* --- ImagePath: UpdateImage, ReloadImageProperties, GetImageProperties -------------------------- */

static char *new_boot_image(unsigned n, const char *props, ...);

/* A file the daemon made from a caller's input (`whose`: "the built image"): there, without the
 * marker of a file outside the content roots, and with `want_text` when given. */
static void check_made(const char *path, const char *whose, const char *what, const char *want_text) {
        size_t n;
        char *data = test_read_file(path, 0, &n);
        if (!data)
                fail_msg("%s: %s %s is missing", what, whose, path);
        if (has_marker(data, n))
                fail_msg("%s: %s %s holds the marker of a file outside the content roots", what, whose, path);
        if (want_text && !memmem(data, n, want_text, strlen(want_text)))
                fail_msg("%s: %s %s lacks the real input's bytes '%s'", what, whose, path, want_text);
        free(data);
}

static void check_built(const char *pkg, const char *what, const char *want_text) {
        char *built = test_get_string(&env, pkg, BASE, "PkgSourcePath");
        check_made(built, "the built image", what, want_text);
        free(built);
}

static void test_image_path(void **state) {
        Swapper s;
        Counts build = {}, reload = {}, props = {};
        char *marker_wim = path_in(outside, "outside.wim");
        const char *e;

        swapper_init(&s, "boot/swap.wim", marker_wim);
        char *pkg = new_boot_image(1, "{sv}", "ImagePath", "s", s.path); /* the control round */
        test_hold(&env, "UpdateImage");
        held_round("UpdateImage", &s, start_job(pkg, BOOT, "UpdateImage", &e, NULL), "UpdateImage, link swapped in");
        check_built(pkg, "UpdateImage, link swapped in", NULL);
        swappers_start(&s, 1);
        for (unsigned i = 0; i < ROUNDS; i++) {
                char *job = start_job(pkg, BOOT, "UpdateImage", &e, NULL);
                if (job && job_completed(job, "UpdateImage"))
                        build.ok++;
                else
                        build.failed++;
                check_built(pkg, "UpdateImage", NULL);

                e = test_invoke(&env, pkg, BOOT, "ReloadImageProperties", NULL, NULL);
                if (e && !is_named_error(e))
                        fail_msg("ReloadImageProperties: %s", e);
                e ? reload.failed++ : reload.ok++;
                char *xml = test_get_string(&env, pkg, BOOT, "ImageProperty");
                if (strstr(xml, marker))
                        fail_msg("ReloadImageProperties read the image outside the roots: %s", xml);
                free(xml);

                sd_bus_message *reply = NULL;
                e = test_invoke(&env, ROOT "/class/SMS_BootImagePackage", BOOT_STATIC, "GetImageProperties", &reply, "s",
                                s.path);
                if (e && !is_named_error(e))
                        fail_msg("GetImageProperties: %s", e);
                if (!e) {
                        const char *x;
                        assert_true(sd_bus_message_read(reply, "s", &x) > 0);
                        if (strstr(x, marker))
                                fail_msg("GetImageProperties read the image outside the roots: %s", x);
                        sd_bus_message_unref(reply);
                        props.ok++;
                } else
                        props.failed++;
        }
        swappers_stop(&s, 1);
        report("ImagePath, UpdateImage", &build, &s, 1);
        report("ImagePath, ReloadImageProperties", &reload, &s, 1);
        report("ImagePath, GetImageProperties", &props, &s, 1);
        swappers_done(&s, 1);
        free(pkg);
        free(marker_wim);
}

/* --- the build's other inputs ------------------------------------------------------------------- */

/* A folder input whose subfolder `sub` is exchanged with a link to the outside folder (whose
 * file.txt holds the marker); the real sub/file.txt holds `text`. */
static void make_swapped_folder(Swapper *s, const char *folder, const char *text) {
        char *p = test_env_content_path(&env, folder), *sub = NULL, *f = NULL;
        assert_true(asprintf(&sub, "%s/sub", folder) > 0);
        f = path_in(p, "sub/file.txt");
        write_text(f, text);
        swapper_init(s, sub, outside);
        free(f);
        free(sub);
        free(p);
}

/* `want_text`: what the real input puts into the image, NULL when the image may hold a link
 * instead (a link inside a folder input is stored as a link). */
static void run_build_rounds(const char *what, const char *pkg, Swapper *s, const char *want_text) {
        Counts c = {};
        const char *e;

        /* The package's first build ran without swapping: the real bytes are in. */
        check_built(pkg, what, want_text);

        test_hold(&env, "UpdateImage");
        bool ok = held_round("UpdateImage", s, start_job(pkg, BOOT, "UpdateImage", &e, NULL), what);
        check_built(pkg, what, ok ? want_text : NULL);

        swappers_start(s, 1);
        for (unsigned i = 0; i < ROUNDS; i++) {
                char *job = start_job(pkg, BOOT, "UpdateImage", &e, NULL);
                ok = job && job_completed(job, what);
                ok ? c.ok++ : c.failed++;
                /* The image of a failed round is the previous one: it is checked as well. */
                check_built(pkg, what, ok ? want_text : NULL);
        }
        swappers_stop(s, 1);
        report(what, &c, s, 1);
}

static void test_pre_exec_source_directory(void **state) {
        Swapper s;
        char *boot = test_env_content_path(&env, "boot.wim"), *pre = test_env_content_path(&env, "pre");

        make_swapped_folder(&s, "pre", "inside prestart file");
        char *pkg = new_boot_image(2, "{sv}{sv}", "ImagePath", "s", boot, "PreExecSourceDirectory", "s", pre);
        check_built(pkg, "PreExecSourceDirectory without swapping", "inside prestart file");
        /* The link may be what the copy found: the real bytes are then not there, only a link. */
        run_build_rounds("PreExecSourceDirectory, UpdateImage", pkg, &s, NULL);
        swappers_done(&s, 1);
        free(pkg);
        free(pre);
        free(boot);
}

static void test_background_bitmap_path(void **state) {
        Swapper s;
        char *boot = test_env_content_path(&env, "boot.wim"), *bmp = test_env_content_path(&env, "bg.bmp");
        char *marker_file = path_in(outside, "marker.txt");

        write_text(bmp, "BM inside bitmap");
        swapper_init(&s, "bg.bmp", marker_file);
        char *pkg = new_boot_image(2, "{sv}{sv}", "ImagePath", "s", boot, "BackgroundBitmapPath", "s", bmp);
        run_build_rounds("BackgroundBitmapPath, UpdateImage", pkg, &s, "BM inside bitmap");
        swappers_done(&s, 1);
        free(pkg);
        free(marker_file);
        free(bmp);
        free(boot);
}

/* A driver's files are read once, by CreateFromINF, into the site's content library; builds take
 * that copy. The import resolves every file the INF names beneath DriverPath: with the INF's
 * subfolder swapped for a link out of the root, an import either copies the real file or is
 * refused, and the catalog's copy never holds the marker. */
static char *import_round(const char *drv, unsigned round, const char **ret_error) {
        char *inf = path_in(drv, "nic.inf"), *text = NULL, *copy = NULL;
        sd_bus_message *reply = NULL;
        const char *driver;

        /* A new INF each round (a comment differs), so that every round copies again. */
        assert_true(asprintf(&text,
                             "; round %u\r\n[Version]\r\nSignature=\"$Windows NT$\"\r\nClass=Net\r\n"
                             "[SourceDisksNames]\r\n1=d,,,\\sub\r\n[SourceDisksFiles]\r\nfile.txt=1\r\n"
                             "[Manufacturer]\r\nM=M,NTamd64\r\n[M.NTamd64]\r\n\"NIC\"=I,PCI\\VEN_1\r\n",
                             round) > 0);
        write_text(inf, text);
        *ret_error = test_invoke(&env, ROOT "/class/SMS_Driver", IFACE "SMS_Driver.Static", "CreateFromINF", &reply,
                                 "ss", drv, "nic.inf");
        if (!*ret_error) {
                assert_int_equal(sd_bus_message_read(reply, "o", &driver), 1);
                copy = test_get_string(&env, driver, IFACE "SMS_Driver", "ContentSourcePath");
        }
        sd_bus_message_unref(reply);
        free(text);
        free(inf);
        return copy;
}

static void check_driver_copy(const char *copy, const char *what) {
        char *file = path_in(copy, "sub/file.txt");
        check_made(file, "the catalog's copy", what, "inside driver file");
        free(file);
}

static void test_driver_import(void **state) {
        Swapper s;
        Counts c = {};
        const char *e;
        char *drv = test_env_content_path(&env, "drv"), *copy;

        make_swapped_folder(&s, "drv", "inside driver file");
        copy = import_round(drv, 0, &e);
        if (!copy)
                fail_msg("CreateFromINF without swapping: %s", e);
        check_driver_copy(copy, "CreateFromINF without swapping");
        free(copy);

        /* The link in place: refused, nothing copied from outside. */
        swapper_flip(&s);
        copy = import_round(drv, 1, &e);
        if (copy)
                fail_msg("CreateFromINF through a link out of the root succeeded: %s", copy);
        assert_string_equal(e, SMSPROV_ERR("PathNotAllowed"));
        swapper_flip(&s);

        swappers_start(&s, 1);
        for (unsigned i = 0; i < ROUNDS; i++) {
                copy = import_round(drv, i + 2, &e);
                if (copy) {
                        check_driver_copy(copy, "CreateFromINF while swapping");
                        c.ok++;
                } else {
                        if (!streq(e, SMSPROV_ERR("PathNotAllowed")) && !streq(e, SMSPROV_ERR("InvalidParameter")))
                                fail_msg("CreateFromINF while swapping: unexpected %s", e);
                        c.failed++;
                }
                free(copy);
        }
        swappers_stop(&s, 1);
        report("CreateFromINF", &c, &s, 1);
        swappers_done(&s, 1);
        free(drv);
}

/* --- ExportImagePath: ExportDefaultBootImage ---------------------------------------------------- */

static void test_export(void **state) {
        Swapper s;
        Counts c = {};
        char *exp = test_env_content_path(&env, "exp"), *out = test_env_content_path(&env, "exp/out.wim");
        char *target = path_in(outside, "export");
        const char *e;

        assert_int_equal(mkdir(exp, 0755), 0);
        assert_int_equal(mkdir(target, 0755), 0);
        swapper_init(&s, "exp", target);
        assert_true(job_completed(start_job(ROOT "/class/SMS_BootImagePackage", BOOT_STATIC, "ExportDefaultBootImage", &e,
                                            "sus", "x64", 1, out),
                                  "ExportDefaultBootImage without swapping"));
        assert_true(file_exists_clean(out, "ExportDefaultBootImage without swapping"));
        test_hold(&env, "ExportDefaultBootImage");
        held_round("ExportDefaultBootImage", &s,
                   start_job(ROOT "/class/SMS_BootImagePackage", BOOT_STATIC, "ExportDefaultBootImage", &e, "sus", "x64", 1,
                             out),
                   "ExportDefaultBootImage, link swapped in");
        if (test_count_files(target, "-mindepth 1") != 0)
                fail_msg("ExportDefaultBootImage wrote into %s, outside the content roots", target);
        swappers_start(&s, 1);
        for (unsigned i = 0; i < ROUNDS; i++) {
                char *job = start_job(ROOT "/class/SMS_BootImagePackage", BOOT_STATIC, "ExportDefaultBootImage", &e,
                                      "sus", "x64", 1, out);
                bool ok = job && job_completed(job, "ExportDefaultBootImage");
                ok ? c.ok++ : c.failed++;
                /* Nothing is ever written outside. */
                if (test_count_files(target, "-mindepth 1") != 0)
                        fail_msg("ExportDefaultBootImage wrote into %s, outside the content roots", target);
        }
        swappers_stop(&s, 1);
        if (!file_exists_clean(out, "ExportDefaultBootImage"))
                fail_msg("ExportDefaultBootImage: %s is missing after completed exports", out);
        report("ExportImagePath, ExportDefaultBootImage", &c, &s, 1);
        swappers_done(&s, 1);
        free(target);
        free(out);
        free(exp);
}

/* --- set-up ------------------------------------------------------------------------------------- */

static char *new_boot_image(unsigned n, const char *props, ...) {
        /* Create with up to two properties; its first build must complete. */
        char *path = NULL, *job = NULL;
        va_list ap;
        const char *k1, *v1, *k2 = NULL, *v2 = NULL;

        va_start(ap, props);
        k1 = va_arg(ap, const char *);
        (void) va_arg(ap, const char *);
        v1 = va_arg(ap, const char *);
        if (n == 2) {
                k2 = va_arg(ap, const char *);
                (void) va_arg(ap, const char *);
                v2 = va_arg(ap, const char *);
        }
        va_end(ap);
        if (n == 1)
                assert_null(test_create(&env, "SMS_BootImagePackage", &path, &job, 1, "{sv}", k1, "s", v1));
        else
                assert_null(test_create(&env, "SMS_BootImagePackage", &path, &job, 2, "{sv}{sv}", k1, "s", v1, k2, "s",
                                        v2));
        assert_true(job_completed(job, "the first build"));
        return path;
}

static int setup(void **state) {
        char *p;

        if (getenv("SMSPROV_SWAP_ROUNDS") && atoi(getenv("SMSPROV_SWAP_ROUNDS")) > 0)
                ROUNDS = (unsigned) atoi(getenv("SMSPROV_SWAP_ROUNDS"));
        if (test_env_start(&env) < 0)
                return -1;
        snprintf(marker, sizeof marker, "OUTSIDE-EVERY-ROOT-%d-%lx", (int) getpid(), (unsigned long) time(NULL));

        /* Outside: every file holds the marker; outside.wim is a WIM of them named after it. */
        outside = path_in(env.dir, "outside");
        assert_int_equal(mkdir(outside, 0755), 0);
        char *tree = path_in(env.dir, "outside-tree");
        assert_int_equal(mkdir(tree, 0755), 0);
        static const char *const names[] = { "marker.txt", "file.txt", "nic.inf", "bg.bmp", "prestart.cmd" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                p = path_in(outside, "%s", names[i]);
                write_text(p, marker);
                free(p);
                p = path_in(tree, "%s", names[i]);
                write_text(p, marker);
                free(p);
        }
        p = path_in(outside, "outside.wim");
        make_marker_wim(tree, p);
        free(p);
        free(tree);

        /* Inside: uncompressed WIMs, so that what a build adds is stored as it is. */
        p = test_env_content_path(&env, "boot.wim");
        assert_int_equal(test_make_winpe_wim(p, "9", false, 0, false), 0);
        free(p);
        static const char *const swapped_wims[] = { "dist/swap.wim", "refresh/swap.wim", "boot/swap.wim" };
        for (size_t i = 0; i < ELEMENTSOF(swapped_wims); i++) {
                p = test_env_content_path(&env, swapped_wims[i]);
                *strrchr(p, '/') = 0;
                assert_int_equal(mkdir(p, 0755), 0);
                free(p);
                p = test_env_content_path(&env, swapped_wims[i]);
                assert_int_equal(test_make_winpe_wim(p, "9", false, 0, false), 0);
                free(p);
        }
        p = test_env_content_path(&env, "dist/swap.wim");
        inside_wim = test_read_file(p, 0, &inside_wim_size);
        assert_non_null(inside_wim);
        free(p);
        p = test_env_content_path(&env, "refresh/swap.wim");
        assert_int_equal(test_write_file(p, inside_wim, inside_wim_size), 0);
        free(p);

        /* The kit's winpe.wim for ExportDefaultBootImage. */
        p = path_in(env.dir, "adk/amd64/winpe.wim");
        assert_int_equal(test_make_winpe_wim(p, "9", true, 0, true), 0);
        free(p);

        /* One DP, copying. */
        dp_root = path_in(env.dir, "dp1");
        assert_int_equal(mkdir(dp_root, 0755), 0);
        assert_true(asprintf(&dp_nal, "[\"Display=\\\\dp1\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\dp1\\") > 0);
        assert_null(test_create(&env, "SMS_DistributionPointInfo", NULL, NULL, 3, "{sv}{sv}{sv}", "NALPath", "s", dp_nal,
                                "ContentRoot", "s", dp_root, "ContentLinkMode", "u", 1));
        return 0;
}

static int teardown(void **state) {
        free(outside);
        free(dp_root);
        free(dp_nal);
        free(inside_wim);
        return test_env_stop(&env);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_distribution),
                cmocka_unit_test(test_refresh),
                cmocka_unit_test(test_image_path),
                cmocka_unit_test(test_pre_exec_source_directory),
                cmocka_unit_test(test_background_bitmap_path),
                cmocka_unit_test(test_driver_import),
                cmocka_unit_test(test_export),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, setup, teardown);
}
