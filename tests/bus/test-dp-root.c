/* SPDX-License-Identifier: MIT */

/* Distribution points only where --dp-root allows (issue 11 §3): a ContentRoot outside every
 * dp-root, one that leaves it through '..' or a symlink, one holding the state directory or inside
 * the daemon's own files there, and one overlapping a content root are PathNotAllowed, and nothing
 * is created there; a DP that stops being allowed fails alone and is not swept at start-up.
 * test-env passes --dp-root=<world directory>. */

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../helpers/wim-gen.h"
#include "smsprov/macro.h"
#include "test-env.h"

#define ROOT "/org/smsprov/Provider1"
#define IFACE "org.smsprov.Provider1."
#define BASE IFACE "SMS_PackageBaseclass"
#define DPI IFACE "SMS_DistributionPointInfo"

static TestEnv env;
static char *outside; /* a directory beside the world, beneath no dp-root */
static unsigned n_nals;

static bool exists(const char *dir, const char *name) {
        _cleanup_free_ char *p = test_strf("%s/%s", dir, name);
        struct stat st;
        return lstat(p, &st) == 0;
}

/* A fresh NAL path for this site: \\dpN\ */
static char *new_nal(void) {
        n_nals++;
        return test_strf("[\"Display=\\\\dp%u\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\dp%u\\", n_nals, n_nals);
}

static const char *create_dp(const char *nal, const char *root, char **ret_path) {
        return test_create(&env, "SMS_DistributionPointInfo", ret_path, NULL, 2, "{sv}{sv}", "NALPath", "s", nal,
                           "ContentRoot", "s", root);
}

static char *new_package(const char *wim) {
        char *pkg = NULL;
        assert_null(test_create(&env, "SMS_ImagePackage", &pkg, NULL, 1, "{sv}", "PkgSourcePath", "s", wim));
        return pkg;
}

/* AddDistributionPoints of pkg to one DP; returns the job's final State. */
static uint32_t distribute(const char *pkg, const char *nal) {
        sd_bus_message *reply = NULL;
        const char *job;
        assert_null(test_invoke(&env, pkg, BASE, "AddDistributionPoints", &reply, "asas", 1, "LAB", 1, nal));
        assert_true(sd_bus_message_read(reply, "o", &job) > 0);
        uint32_t state = test_wait_job(&env, job, NULL);
        sd_bus_message_unref(reply);
        return state;
}

static size_t count_state(const char *package_id, uint32_t state) {
        _cleanup_free_ char *q = test_strf("SELECT State FROM SMS_PackageStatusDistPointsSummarizer "
                                           "WHERE PackageID = '%s' AND State = %u",
                                           package_id, state);
        return test_count_rows(&env, q);
}

static void test_refused_content_roots(void **state) {
        _cleanup_free_ char *link = test_strf("%s/link-out", env.dir), *images = test_strf("%s/images", env.state_dir),
                            *contentlib = test_strf("%s/contentlib", env.state_dir),
                            *content_sub = test_strf("%s/sub", env.content_dir), *dps = test_strf("%s/dps", env.dir),
                            *dotdot = test_strf("%s/dps/../..", env.dir),
                            *inside_images = test_strf("%s/images/dp", env.state_dir);
        assert_int_equal(symlink(outside, link), 0);
        mkdir(images, 0700);
        mkdir(inside_images, 0755);
        mkdir(contentlib, 0700);
        assert_int_equal(mkdir(content_sub, 0755), 0);
        mkdir(dps, 0755);

        const struct {
                const char *root, *why;
        } refused[] = {
                { "/", "outside every dp-root" },
                { "/etc", "outside every dp-root" },
                { outside, "outside every dp-root" },
                { link, "a symlink out of the dp-root" },
                { dotdot, "'..' out of the dp-root" },
                { env.dir, "holds the state directory" },
                { env.state_dir, "is the state directory" },
                { images, "the daemon's images/" },
                { inside_images, "inside the daemon's images/" },
                { contentlib, "the daemon's contentlib/" },
                { env.content_dir, "is a content root" },
                { content_sub, "inside a content root" },
        };
        for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
                _cleanup_free_ char *nal = new_nal();
                const char *err = create_dp(nal, refused[i].root, NULL);
                if (!err || strcmp(err, SMSPROV_ERR("PathNotAllowed")) != 0)
                        fail_msg("ContentRoot %s (%s): expected PathNotAllowed, got %s; daemon log: stderr of this test",
                                 refused[i].root, refused[i].why, err ? err : "success");
                /* Nothing created there (the directories that exist). */
                struct stat st;
                if (stat(refused[i].root, &st) == 0) {
                        assert_false(exists(refused[i].root, "SCCMContentLib"));
                        assert_false(exists(refused[i].root, "RemoteInstall"));
                }
        }
        assert_int_equal(test_count_rows(&env, "SELECT NALPath FROM SMS_DistributionPointInfo"), 0);

        /* Put: the same check; the DP keeps its ContentRoot. */
        _cleanup_free_ char *nal = new_nal(), *good = test_strf("%s/dps/put", env.dir), *path = NULL;
        assert_int_equal(mkdir(good, 0755), 0);
        assert_null(create_dp(nal, good, &path));
        for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
                const char *err = test_invoke(&env, path, DPI, "Put", NULL, "a{sv}", 1, "ContentRoot", "s",
                                              refused[i].root);
                if (!err || strcmp(err, SMSPROV_ERR("PathNotAllowed")) != 0)
                        fail_msg("Put ContentRoot %s (%s): expected PathNotAllowed, got %s", refused[i].root,
                                 refused[i].why, err ? err : "success");
        }
        _cleanup_free_ char *now = test_get_string(&env, path, DPI, "ContentRoot");
        assert_string_equal(now, good);
        assert_false(exists(outside, "SCCMContentLib"));
}

/* The tools/run.sh layout: the state directory holds a folder of DPs beside the daemon's own files. */
static void test_allowed_inside_state_dir(void **state) {
        _cleanup_free_ char *wim = test_env_content_path(&env, "boot.wim"), *nal = new_nal(),
                            *root = test_strf("%s/dps", env.state_dir), *dp = test_strf("%s/dps/dp", env.state_dir);
        mkdir(root, 0755);
        assert_int_equal(mkdir(dp, 0755), 0);
        assert_null(create_dp(nal, dp, NULL));

        _cleanup_free_ char *pkg = new_package(wim);
        _cleanup_free_ char *id = test_get_string(&env, pkg, BASE, "PackageID");
        assert_int_equal(distribute(pkg, nal), 2);
        assert_int_equal(count_state(id, 0), 1);
        _cleanup_free_ char *served = test_strf("SCCMContentLib/DataLib/%s/boot.wim", id);
        assert_true(exists(dp, served));
}

/* A DP whose ContentRoot became a symlink out of the dp-root (or whose dp-root the administrator
 * dropped) is neither swept at start-up nor written by a distribution, which fails there alone. */
static void test_no_longer_allowed(void **state) {
        _cleanup_free_ char *wim = test_env_content_path(&env, "boot.wim"), *nal_ok = new_nal(), *nal_gone = new_nal(),
                            *ok = test_strf("%s/dps/still-ok", env.dir), *gone = test_strf("%s/dps/gone", env.dir),
                            *away = test_strf("%s/gone", outside);
        assert_int_equal(mkdir(ok, 0755), 0);
        assert_int_equal(mkdir(gone, 0755), 0);
        assert_null(create_dp(nal_ok, ok, NULL));
        assert_null(create_dp(nal_gone, gone, NULL));
        _cleanup_free_ char *pkg = new_package(wim);
        assert_int_equal(distribute(pkg, nal_ok), 2);
        assert_int_equal(distribute(pkg, nal_gone), 2);

        assert_int_equal(test_env_stop_daemon(&env, SIGTERM), 0);
        assert_int_equal(rename(gone, away), 0);
        assert_int_equal(symlink(away, gone), 0);
        /* Temporaries as a killed writer leaves them: the sweep removes the one in the allowed DP
         * (which tells that it ran) and must leave the other alone. */
        _cleanup_free_ char *control = test_strf("%s/SCCMContentLib/FileLib/.tmp-control", ok),
                            *planted = test_strf("%s/SCCMContentLib/FileLib/.tmp-planted", away);
        FILE *f = fopen(control, "w");
        assert_non_null(f);
        fclose(f);
        assert_non_null(f = fopen(planted, "w"));
        fclose(f);
        assert_int_equal(test_env_start_daemon(&env, NULL), 0);
        TEST_WAIT_UNTIL(access(control, F_OK) != 0, "the start-up sweep to remove %s", control);
        if (access(planted, F_OK) != 0)
                fail_msg("the start-up sweep removed %s, beneath no dp-root", planted);

        /* A new package to both: the allowed DP gets it, the other fails and gets nothing. */
        _cleanup_free_ char *pkg2 = new_package(wim), *id2 = test_get_string(&env, pkg2, BASE, "PackageID");
        sd_bus_message *reply = NULL;
        const char *job;
        assert_null(test_invoke(&env, pkg2, BASE, "AddDistributionPoints", &reply, "asas", 2, "LAB", "LAB", 2, nal_ok,
                                nal_gone));
        assert_true(sd_bus_message_read(reply, "o", &job) > 0);
        assert_int_equal(test_wait_job(&env, job, NULL), 3);
        sd_bus_message_unref(reply);
        assert_int_equal(count_state(id2, 0), 1);
        assert_int_equal(count_state(id2, 3), 1);
        _cleanup_free_ char *served = test_strf("SCCMContentLib/DataLib/%s", id2);
        assert_true(exists(ok, served));
        assert_false(exists(away, served));
        assert_true(test_count_rows(&env, "SELECT RecordID FROM SMS_StatusMessage WHERE Description LIKE "
                                          "'%not beneath a --dp-root%'") >= 1);
}

/* A ContentRoot that holds a content root (one given at this start) is refused too. */
static void test_holding_content_root(void **state) {
        _cleanup_free_ char *outer = test_strf("%s/outer", env.dir), *inner = test_strf("%s/outer/content2", env.dir),
                            *arg = test_strf("--content-root=%s", inner), *nal = new_nal();
        assert_int_equal(mkdir(outer, 0755), 0);
        assert_int_equal(mkdir(inner, 0755), 0);
        assert_int_equal(test_env_stop_daemon(&env, SIGTERM), 0);
        const char *const extra[] = { arg, NULL };
        assert_int_equal(test_env_start_daemon(&env, extra), 0);
        assert_string_equal(create_dp(nal, outer, NULL), SMSPROV_ERR("PathNotAllowed"));
        assert_false(exists(outer, "SCCMContentLib"));
}

static int setup(void **state) {
        const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        if (test_env_start(&env) < 0)
                return -1;
        _cleanup_free_ char *wim = test_env_make_wim(&env, "boot.wim", 0, true);
        outside = test_strf("%s/smsprov-outside.XXXXXX", tmp);
        assert_non_null(mkdtemp(outside));
        chmod(outside, 0755);
        return 0;
}

static int teardown(void **state) {
        if (outside && !getenv("SMSPROV_TEST_KEEP")) {
                _cleanup_free_ char *cmd = test_strf("rm -rf '%s'", outside);
                (void) !system(cmd);
        }
        free(outside);
        return test_env_stop(&env);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_refused_content_roots),
                cmocka_unit_test(test_allowed_inside_state_dir),
                cmocka_unit_test(test_no_longer_allowed),
                cmocka_unit_test(test_holding_content_root),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
