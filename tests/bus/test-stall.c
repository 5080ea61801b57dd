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
static FuseHold hold;
static char *package, *package_id, *dp2_root;

static const char held_nal[] = "[\"Display=\\\\held\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\held\\";
static const char dp2_nal[] = "[\"Display=\\\\dp2\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\dp2\\";

static bool exists(const char *path) {
        struct stat st;
        return lstat(path, &st) == 0;
}


static void test_restart_while_dp_root_held(void **state) {
        char *planted = NULL, *published = NULL, wql[256];
        sd_bus_message *reply = NULL;
        const char *job;

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
        assert_true(sd_bus_message_read(reply, "o", &job) > 0);
        char *job_path = strdup(job);
        reply = sd_bus_message_unref(reply);
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_restart_while_dp_root_held),
        };
        char *mount_point = NULL, *wim = NULL;
        int r;

        signal(SIGPIPE, SIG_IGN);
        if (test_env_start(&env) < 0)
                return 1;
        wim = test_env_content_path(&env, "small.wim");
        if (test_make_winpe_wim(wim, "9", false, 0, true) < 0)
                return 1;
        /* The held DP's root is the root of the FUSE mount, beneath the world's --dp-root. */
        if (asprintf(&mount_point, "%s/held", env.dir) < 0 || mkdir(mount_point, 0755) < 0)
                return 1;
        r = fuse_hold_start(&hold, mount_point, "file", wim);
        if (r < 0) {
                printf("no FUSE mount here (%s): skipped\n", strerror(-r));
                test_env_stop(&env);
                return 77;
        }
        if (asprintf(&dp2_root, "%s/dp2", env.dir) < 0 || mkdir(dp2_root, 0755) < 0 ||
            test_create(&env, "SMS_DistributionPointInfo", NULL, NULL, 2, "{sv}{sv}", "NALPath", "s", held_nal,
                        "ContentRoot", "s", mount_point) ||
            test_create(&env, "SMS_DistributionPointInfo", NULL, NULL, 2, "{sv}{sv}", "NALPath", "s", dp2_nal,
                        "ContentRoot", "s", dp2_root) ||
            test_create(&env, "SMS_ImagePackage", &package, NULL, 1, "{sv}", "PkgSourcePath", "s", wim)) {
                fprintf(stderr, "setting up the DPs and the package failed\n");
                fuse_hold_stop(&hold);
                test_env_stop(&env);
                return 1;
        }
        package_id = test_get_string(&env, package, IFACE "SMS_PackageBaseclass", "PackageID");

        r = cmocka_run_group_tests(tests, NULL, NULL);

        fuse_hold_stop(&hold);
        if (test_env_stop(&env) < 0 && r == 0)
                r = 1;
        free(package);
        free(package_id);
        free(dp2_root);
        free(mount_point);
        free(wim);
        return r;
}
