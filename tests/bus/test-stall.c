/* SPDX-License-Identifier: MIT */

/* No file work on the event loop (issue 11 §4): a distribution point whose ContentRoot is on a
 * file system that never answers (a FUSE mount the test holds, tests/helpers/fuse-hold.h) keeps
 * neither the daemon from taking its name at start-up nor anyone else from being answered.
 *
 * Restarted while the DP's root is held, the daemon's start-up recovery of that DP waits on its
 * own thread: the name is owned, another client's Get of SiteCode and an ExecQuery of one package
 * are answered, and a distribution to a second DP runs to its end (its library swept first:
 * a temporary planted there is gone before the content arrives), all while the held DP has not
 * answered. Order, not time: every assertion is made while the mount is held.
 *
 * The same for the paths callers give: a Put of a PkgSourcePath, a Create of an image package on
 * a held content mount and a Create of a DP whose ContentRoot is the held DP, sent before a Ping
 * on the same connection, leave the Ping answered (their handlers returned) and another client's
 * Get and ExecQuery answered while they wait; so does a distribution to the held DP, whose
 * directory only its job looks up. So do the calls that start a job on files there (UpdateImage,
 * RefreshPkgSource, ExportDefaultBootImage), which look them up before the job starts. And
 * queries have workers of their own: with both workers of authorized calls held, another
 * client's ExecQuery is answered.
 *
 * Needs FUSE (root, /dev/fuse); elsewhere it says why and exits 77 (skipped). */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../helpers/fuse-hold.h"
#include "../helpers/wim-gen.h"
#include "smsprov/macro.h"
#include "test-env.h"

#define ROOT "/org/smsprov/Provider1"
#define IFACE "org.smsprov.Provider1."

static TestEnv env;
static FuseHold hold, content_hold; /* the DP's root; a folder beneath the content root */
static char *package, *package_id, *package_source, *dp2_root, *mount_point, *held_wim, *put_pkg;

static const char held_nal[] = "[\"Display=\\\\held\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\held\\";
static const char dp2_nal[] = "[\"Display=\\\\dp2\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\dp2\\";
static const char held3_nal[] = "[\"Display=\\\\held3\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\held3\\";

static bool exists(const char *path) {
        struct stat st;
        return lstat(path, &st) == 0;
}


static void test_restart_while_dp_root_held(void **state) {
        char *planted = NULL, *published = NULL, wql[256];
        sd_bus_message *reply = NULL;

        /* A temporary a killed writer left in the second DP's library. */
        assert_true(asprintf(&planted, "%s/SCCMContentLib/.tmp-planted", dp2_root) > 0);
        assert_true(asprintf(&published, "%s/SCCMContentLib/PkgLib/%s/current", dp2_root, package_id) > 0);
        char *lib = strndup(planted, strrchr(planted, '/') - planted);
        assert_non_null(lib);
        (void) mkdir(lib, 0755);
        free(lib);
        int fd = open(planted, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        close(fd);

        assert_int_equal(test_env_stop_daemon(&env, SIGTERM), 0);
        assert_int_equal(fuse_hold(&hold), 0);
        /* Owning the name is the daemon's last step of its start: with the recovery of the held
         * DP on the event loop this never happened. */
        assert_int_equal(test_env_start_daemon(&env, NULL), 0);

        sd_bus *other = test_connect_client(&env);
        test_assert_site_code(other, "LAB");
        sd_bus_flush_close_unref(other);
        snprintf(wql, sizeof wql, "SELECT PackageID FROM SMS_ImagePackage WHERE PackageID = '%s'", package_id);
        assert_int_equal(test_count_rows(&env, wql), 1);

        /* The other DP is not held up by the held one's recovery: swept, then written. */
        assert_null(test_invoke(&env, package, IFACE "SMS_PackageBaseclass", "AddDistributionPoints", &reply, "asas",
                                1, "LAB", 1, dp2_nal));
        char *job_path = test_job_of(reply);
        char *error_name = NULL;
        assert_int_equal(test_wait_job(&env, job_path, &error_name), 2);
        free(error_name);
        free(job_path);
        if (exists(planted) || !exists(published))
                fail_msg("expected %s swept and %s published while the other DP is held", planted, published);

        /* Let go: the held recovery finishes, and the daemon stops cleanly. */
        assert_int_equal(fuse_release(&hold), 0);
        free(planted);
        free(published);
}

/* Answered only once the daemon has handled every call the connection sent before. */
static void ping(sd_bus *bus) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;

        assert_int_equal(sd_bus_message_new_method_call(bus, &m, "org.smsprov.Provider1", ROOT,
                                                        "org.freedesktop.DBus.Peer", "Ping"),
                         0);
        if (sd_bus_call(bus, m, TEST_CALL_TIMEOUT_USEC, &error, &reply) < 0)
                fail_msg("Ping after the calls on held paths: %s: %s (a handler waits on the file system)",
                         error.name, error.message);
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);
}

/* Another client is answered: a property and a query of one package. */
static void assert_others_answered(void) {
        sd_bus *other = test_connect_client(&env);
        char wql[256];

        test_assert_site_code(other, "LAB");
        snprintf(wql, sizeof wql, "SELECT PackageID FROM SMS_ImagePackage WHERE PackageID = '%s'", package_id);
        assert_int_equal(test_count_rows_on(other, wql), 1);
        sd_bus_flush_close_unref(other);
}

static void drain(sd_bus *bus) {
        while (sd_bus_process(bus, NULL) > 0)
                ;
}

static void test_given_paths_looked_up_off_the_loop(void **state) {
        sd_bus *a = test_connect_client(&env);
        TestPending put, dp, image;

        assert_int_equal(fuse_hold(&content_hold), 0);
        assert_int_equal(fuse_hold(&hold), 0);
        test_send_call(a, &put, "Put of a PkgSourcePath on the held mount", put_pkg, IFACE "SMS_PackageBaseclass",
                       "Put", "a{sv}", 1, "PkgSourcePath", "s", held_wim);
        test_send_call(a, &image, "Create of an image package on the held mount", ROOT "/class/SMS_ImagePackage",
                       IFACE "Class", "Create", "a{sv}", 1, "PkgSourcePath", "s", held_wim);
        test_send_call(a, &dp, "Create of a DP whose ContentRoot is the held DP", ROOT "/class/SMS_DistributionPointInfo",
                       IFACE "Class", "Create", "a{sv}", 2, "NALPath", "s", held3_nal, "ContentRoot", "s", mount_point);
        ping(a);
        assert_others_answered();
        /* Each still waits on its file system. */
        drain(a);
        assert_null(put.reply);
        assert_null(image.reply);
        assert_null(dp.reply);

        assert_int_equal(fuse_release(&content_hold), 0);
        assert_int_equal(fuse_release(&hold), 0);
        test_expect_ok(a, &put);
        test_expect_ok(a, &image);
        test_expect_ok(a, &dp);
        char *source = test_get_string(&env, put_pkg, IFACE "SMS_PackageBaseclass", "PkgSourcePath");
        assert_string_equal(source, held_wim);
        free(source);
        test_pending_done(&put, 1);
        test_pending_done(&image, 1);
        test_pending_done(&dp, 1);
        sd_bus_flush_close_unref(a);
}

static void test_distribution_looks_up_its_dp_off_the_loop(void **state) {
        sd_bus_message *reply = NULL;

        assert_int_equal(fuse_hold(&hold), 0);
        /* With the DP's directory looked up when the job was made, this call never returned. */
        assert_null(test_invoke(&env, package, IFACE "SMS_PackageBaseclass", "AddDistributionPoints", &reply, "asas",
                                1, "LAB", 1, held_nal));
        char *job_path = test_job_of(reply);
        assert_others_answered();
        assert_int_equal(test_get_u32(&env, job_path, "org.smsprov.Provider1.Job", "State") <= 1, 1);

        /* Let go: the job ends (the held file system is read-only, so the DP fails alone). */
        assert_int_equal(fuse_release(&hold), 0);
        char *error_name = NULL;
        uint32_t st = test_wait_job(&env, job_path, &error_name);
        if (st != 3)
                fail_msg("expected the distribution to the read-only held DP to fail, got State %u (%s)", st, error_name);
        free(error_name);
        free(job_path);
}

/* A call that starts a job refuses it when the job could not read its files, and looks them up on
 * a worker first. Else UpdateImage of a boot image whose ImagePath is on a held mount stopped the
 * daemon. */
static void test_jobs_look_up_their_files_off_the_loop(void **state) {
        sd_bus *a = test_connect_client(&env);
        char *boot = NULL, *os = NULL, *first = NULL, *export_path = NULL, *error_name = NULL;
        TestPending build, refresh, export;

        /* Made while the mount answers: the boot image's first build reads it through FUSE. */
        assert_null(test_create(&env, "SMS_BootImagePackage", &boot, &first, 1, "{sv}", "ImagePath", "s", held_wim));
        assert_int_equal(test_wait_job(&env, first, NULL), 2);
        assert_null(test_create(&env, "SMS_ImagePackage", &os, NULL, 1, "{sv}", "PkgSourcePath", "s", held_wim));
        assert_true(asprintf(&export_path, "%s.exported", held_wim) > 0);
        /* The kit's winpe.wim, which the export's check finds. */
        char *kit_wim = NULL;
        assert_true(asprintf(&kit_wim, "%s/adk/amd64/winpe.wim", env.dir) > 0);
        assert_int_equal(test_make_winpe_wim(kit_wim, "9", true, 0, true), 0);
        free(kit_wim);

        assert_int_equal(fuse_hold(&content_hold), 0);
        test_send_call(a, &build, "UpdateImage of a boot image on the held mount", boot, IFACE "SMS_BootImagePackage",
                       "UpdateImage", NULL);
        test_send_call(a, &refresh, "RefreshPkgSource of an OS image on the held mount", os, IFACE "SMS_PackageBaseclass",
                       "RefreshPkgSource", NULL);
        test_send_call(a, &export, "ExportDefaultBootImage into the held mount", ROOT "/class/SMS_BootImagePackage",
                       IFACE "SMS_BootImagePackage.Static", "ExportDefaultBootImage", "sus", "x64", 1, export_path);
        ping(a);
        assert_others_answered();
        drain(a);
        assert_null(build.reply);
        assert_null(refresh.reply);
        assert_null(export.reply);

        assert_int_equal(fuse_release(&content_hold), 0);
        test_expect_ok(a, &build);
        test_expect_ok(a, &refresh);
        test_expect_ok(a, &export);
        /* The build and the refresh read the source through the descriptors their checks opened. */
        char *jobs[] = { test_job_of(TAKE_PTR(build.reply)), test_job_of(TAKE_PTR(refresh.reply)),
                         test_job_of(TAKE_PTR(export.reply)) };
        assert_int_equal(test_wait_job(&env, jobs[0], NULL), 2);
        assert_int_equal(test_wait_job(&env, jobs[1], NULL), 2);
        /* The held file system is read-only: the export ends there, failed. */
        uint32_t st = test_wait_job(&env, jobs[2], &error_name);
        if (st != 3)
                fail_msg("expected the export into the read-only held mount to fail, got State %u (%s)", st, error_name);
        for (size_t i = 0; i < ELEMENTSOF(jobs); i++)
                free(jobs[i]);
        free(error_name);
        free(export_path);
        free(first);
        free(os);
        free(boot);
        sd_bus_flush_close_unref(a);
}

/* Two callers, as one connection has one deferred call running at a time. */
static void test_queries_not_behind_authorized_calls(void **state) {
        sd_bus *callers[] = { test_connect_client(&env), test_connect_client(&env) };
        TestPending puts[ELEMENTSOF(callers)];

        test_hold(&env, "call.Put");
        for (size_t i = 0; i < ELEMENTSOF(puts); i++)
                test_send_call(callers[i], &puts[i], "Put of a PkgSourcePath, held", put_pkg, IFACE "SMS_PackageBaseclass",
                               "Put", "a{sv}", 1, "PkgSourcePath", "s", package_source);
        test_wait_held_calls(&env, "call.Put", 2);
        assert_others_answered();
        test_release(&env, "call.Put");
        for (size_t i = 0; i < ELEMENTSOF(puts); i++) {
                test_expect_ok(callers[i], &puts[i]);
                sd_bus_flush_close_unref(callers[i]);
        }
        test_pending_done(puts, ELEMENTSOF(puts));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_restart_while_dp_root_held),
                cmocka_unit_test(test_given_paths_looked_up_off_the_loop),
                cmocka_unit_test(test_distribution_looks_up_its_dp_off_the_loop),
                cmocka_unit_test(test_jobs_look_up_their_files_off_the_loop),
                cmocka_unit_test(test_queries_not_behind_authorized_calls),
        };
        char *content_mount = NULL;
        int r;

        signal(SIGPIPE, SIG_IGN);
        if (test_env_start(&env) < 0)
                return 1;
        package_source = test_env_content_path(&env, "small.wim");
        /* With a SYSTEM hive: a boot image is built from it too. */
        if (test_make_winpe_wim(package_source, "9", true, 0, true) < 0)
                return 1;
        /* The held DP's root is the root of the FUSE mount, beneath the world's --dp-root. */
        if (asprintf(&mount_point, "%s/held", env.dir) < 0 || mkdir(mount_point, 0755) < 0)
                return 1;
        r = fuse_hold_start(&hold, mount_point, "file", package_source);
        if (r < 0) {
                printf("no FUSE mount here (%s): skipped\n", strerror(-r));
                test_env_stop(&env);
                return 77;
        }
        /* A held folder beneath the content root, for the paths callers give. */
        content_mount = test_env_content_path(&env, "held");
        if (mkdir(content_mount, 0755) < 0 || asprintf(&held_wim, "%s/held.wim", content_mount) < 0 ||
            fuse_hold_start(&content_hold, content_mount, "held.wim", package_source) < 0) {
                fprintf(stderr, "mounting the held content folder failed\n");
                fuse_hold_stop(&hold);
                test_env_stop(&env);
                return 1;
        }
        if (asprintf(&dp2_root, "%s/dp2", env.dir) < 0 || mkdir(dp2_root, 0755) < 0 ||
            test_create(&env, "SMS_DistributionPointInfo", NULL, NULL, 2, "{sv}{sv}", "NALPath", "s", held_nal,
                        "ContentRoot", "s", mount_point) ||
            test_create(&env, "SMS_DistributionPointInfo", NULL, NULL, 2, "{sv}{sv}", "NALPath", "s", dp2_nal,
                        "ContentRoot", "s", dp2_root) ||
            test_create(&env, "SMS_ImagePackage", &package, NULL, 1, "{sv}", "PkgSourcePath", "s", package_source) ||
            test_create(&env, "SMS_ImagePackage", &put_pkg, NULL, 1, "{sv}", "PkgSourcePath", "s", package_source)) {
                fprintf(stderr, "setting up the DPs and the packages failed\n");
                fuse_hold_stop(&content_hold);
                fuse_hold_stop(&hold);
                test_env_stop(&env);
                return 1;
        }
        package_id = test_get_string(&env, package, IFACE "SMS_PackageBaseclass", "PackageID");

        r = cmocka_run_group_tests(tests, NULL, NULL);

        fuse_hold_stop(&content_hold);
        fuse_hold_stop(&hold);
        if (test_env_stop(&env) < 0 && r == 0)
                r = 1;
        free(package);
        free(package_id);
        free(dp2_root);
        free(mount_point);
        free(content_mount);
        free(held_wim);
        free(put_pkg);
        free(package_source);
        return r;
}
