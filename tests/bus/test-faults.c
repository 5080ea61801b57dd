/* SPDX-License-Identifier: MIT */

/* Faults: smsprovd killed with SIGKILL at random points of boot image builds and distributions,
 * 20 rounds. After every restart the site database passes PRAGMA integrity_check, no temporary
 * file is left, every package still shows a version it really has (its built WIM exists and every
 * manifest on a DP names only files that exist), and the daemon serves again. */

#include <dirent.h>
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
#include "test-env.h"

#define ROOT "/org/smsprov/Provider1"
#define IFACE "org.smsprov.Provider1."
#define BASE IFACE "SMS_PackageBaseclass"
#define ROUNDS 20

static TestEnv env;
static char *dp_root, *dp_nal;

/* Lets the first build or distribution of a Create finish: the rounds start from a good state. */
static void let_finish(char *job) {
        if (strcmp(job, "/") != 0)
                (void) test_wait_job(&env, job, NULL);
        free(job);
}

/* No build running (ActionInProgress) and no distribution pending, retrying or updating. */
static bool idle(void) {
        return test_count_rows(&env, "SELECT PackageID FROM SMS_PackageBaseclass WHERE ActionInProgress <> 0") == 0 &&
               test_count_rows(&env, "SELECT PackageID FROM SMS_PackageStatusDistPointsSummarizer "
                                     "WHERE State IN (1, 2, 4, 7)") == 0;
}

static void wait_idle(void) {
        TEST_WAIT_UNTIL(idle(), "no build running and no distribution pending");
}

/* Every temporary name the daemon's writers use: ".<name>.tmp-XXXXXX" (imaging), and the
 * content library's. */
static size_t count_leftovers(const char *dir) {
        return test_count_files(dir, "-name '*.tmp-*' -o -name '.tmp*' -o -name '*.staging-*'");
}

/* Every manifest on the DP names files that exist in its FileLib. */
static void check_dp_manifests(void) {
        char cmd[2048];
        /* bash for ${hash:0:2}; lines that are no "<sha256> <size> <path>" (a header) are skipped. */
        snprintf(cmd, sizeof cmd,
                 "bash -c 'cd \"%s/SCCMContentLib\" 2>/dev/null || exit 0; "
                 "for m in PkgLib/*/*.manifest; do [ -e \"$m\" ] || continue; "
                 "while read -r hash size path; do [[ $hash =~ ^[0-9a-f]{64}$ ]] || continue; "
                 "f=FileLib/${hash:0:2}/$hash; "
                 "[ -f \"$f\" ] || { echo \"$m names missing $f\"; exit 1; }; done < \"$m\"; done'",
                 dp_root);
        assert_int_equal(system(cmd), 0);
}

static void check_database(bool restarted) {
        test_env_check_database(&env);
        if (!restarted)
                return;
        /* After a restart no job of the killed daemon is left queued or running; its
         * interrupted ones are failed. */
        assert_int_equal(test_env_db_number(&env, "SELECT count(*) FROM job WHERE \"State\" IN (0, 1) AND "
                                                  "\"SubmitTime\" < (SELECT max(\"SubmitTime\") FROM job "
                                                  "WHERE \"State\" = 3 AND \"ErrorMessage\" LIKE '%stopped while%')"),
                         0);
}

static void test_kill_at_random_points(void **state) {
        char *big = test_env_content_path(&env, "big.wim");
        char *boot = NULL, *image = NULL, *job = NULL;
        assert_null(test_create(&env, "SMS_BootImagePackage", &boot, &job, 1, "{sv}", "ImagePath", "s", big));
        let_finish(job);
        assert_null(test_create(&env, "SMS_ImagePackage", &image, &job, 2, "{sv}{sv}", "PkgSourceFlag", "u", 2,
                                "PkgSourcePath", "s", big));
        let_finish(job);
        char *id = test_get_string(&env, image, BASE, "PackageID");
        unsigned seed = (unsigned) time(NULL);
        sd_bus_message *reply = NULL;

        fprintf(stderr, "# seed %u\n", seed);
        srand(seed);
        assert_null(test_invoke(&env, image, BASE, "AddDistributionPoints", &reply, "asas", 1, "LAB", 1, dp_nal));
        sd_bus_message_unref(reply);

        for (int round = 0; round < ROUNDS; round++) {
                /* A rebuild and a refresh (which distributes), then the kill somewhere in them. */
                assert_null(test_invoke(&env, boot, IFACE "SMS_BootImagePackage", "UpdateImage", &reply, NULL));
                sd_bus_message_unref(reply);
                if (test_invoke(&env, image, BASE, "RefreshPkgSource", &reply, NULL) == NULL)
                        sd_bus_message_unref(reply);
                /* The pause only picks where the kill lands (seeded, printed above); what is checked
                 * after it must hold wherever that is, so no outcome depends on the timing. */
                usleep((useconds_t) (rand() % 200000));
                assert_int_equal(test_env_stop_daemon(&env, SIGKILL), 0);

                check_database(false);
                assert_int_equal(test_env_start_daemon(&env, NULL), 0);
                wait_idle();
                check_database(true);
                assert_int_equal(count_leftovers(env.state_dir), 0);

                /* The boot image shows a version whose file exists. */
                char *built = test_get_string(&env, boot, BASE, "PkgSourcePath");
                struct stat st;
                assert_int_equal(stat(built, &st), 0);
                assert_true(test_get_u32(&env, boot, BASE, "SourceVersion") >= 1);
                free(built);
                check_dp_manifests();
        }

        /* Still serving, and the DP ends up with the image's last version. */
        uint32_t version = test_get_u32(&env, image, BASE, "SourceVersion");
        assert_null(test_invoke(&env, image, BASE, "AddChangeNotification", NULL, NULL));
        char wql[2600], esc[1200], *w = esc;
        for (const char *p = dp_nal; *p; p++) {
                if (*p == '\\' || *p == '\'')
                        *w++ = '\\';
                *w++ = *p;
        }
        *w = 0;
        snprintf(wql, sizeof wql,
                 "SELECT SourceVersion FROM SMS_PackageStatusDistPointsSummarizer WHERE PackageID = '%s' AND "
                 "State = 0 AND SourceVersion = %u AND ServerNALPath = '%s'",
                 id, version, esc);
        TEST_WAIT_UNTIL(test_count_rows(&env, wql) == 1, "the DP to reach version %u", version);
        check_dp_manifests();

        free(id);
        free(image);
        free(boot);
        free(big);
}

static int setup(void **state) {
        if (test_env_start(&env) < 0)
                return -1;
        free(test_env_make_wim(&env, "big.wim", 32u << 20, false));
        assert_true(asprintf(&dp_root, "%s/dp1", env.dir) > 0);
        assert_int_equal(mkdir(dp_root, 0755), 0);
        dp_nal = strdup("[\"Display=\\\\dp1\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\dp1\\");
        char *job = NULL;
        assert_null(test_create(&env, "SMS_DistributionPointInfo", NULL, &job, 3, "{sv}{sv}{sv}", "NALPath", "s", dp_nal,
                                "ContentRoot", "s", dp_root, "ContentLinkMode", "u", 1));
        let_finish(job);
        *state = &env;
        return 0;
}

static int teardown(void **state) {
        free(dp_root);
        free(dp_nal);
        return test_env_stop(&env);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_kill_at_random_points),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, setup, teardown);
}
