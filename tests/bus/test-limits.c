/* SPDX-License-Identifier: MIT */

/* Resource limits (issue 6): queued jobs per caller and in total, and rows per query. A caller
 * that floods is refused with LimitsExceeded; other callers are still served. The daemon runs
 * with small limits (--max-jobs=8 --max-jobs-per-caller=3 --max-query-rows=5) so that the test
 * needs few objects; the defaults are the same code with other numbers.
 *
 * So that no job can finish while the callers flood, both job workers are held first: two
 * distributions wait at their start (the Distribute test point); every later job stays queued
 * until the test lets go. */

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

#include "../helpers/wim-gen.h"
#include "smsprov/macro.h"
#include "test-env.h"

#define ROOT "/org/smsprov/Provider1"
#define IFACE "org.smsprov.Provider1."
#define N_BOOT 9

static TestEnv env;
static char *boot[N_BOOT];  /* boot image packages */
static char *blocker[2];    /* image packages whose distributions hold the two job workers */
static const char dp_nal[] = "[\"Display=\\\\dp1\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\dp1\\";

static uint32_t job_state(sd_bus *bus, const char *job) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint32_t s = 0;
        if (sd_bus_get_property_trivial(bus, "org.smsprov.Provider1", job, IFACE "Job", "State", &error, 'u', &s) < 0)
                fail_msg("State of %s: %s", job, error.message);
        return s;
}

static void wait_job(sd_bus *bus, const char *job) {
        uint32_t s = 0;
        TEST_WAIT_UNTIL((s = job_state(bus, job)) >= 2, "job %s to end (State %u)", job, s);
        assert_int_equal(s, 2);
}

static sd_bus *connect_client(void) {
        sd_bus *bus = NULL;
        assert_int_equal(sd_bus_new(&bus), 0);
        assert_true(sd_bus_set_address(bus, env.address) >= 0);
        assert_true(sd_bus_set_bus_client(bus, true) >= 0);
        assert_true(sd_bus_start(bus) >= 0);
        return bus;
}

/* Sends UpdateImage for each package without waiting for the replies. */
static void send_updates(sd_bus *bus, char **pkgs, size_t n, uint64_t *cookies) {
        for (size_t i = 0; i < n; i++) {
                sd_bus_message *m = NULL;
                assert_int_equal(sd_bus_message_new_method_call(bus, &m, "org.smsprov.Provider1", pkgs[i],
                                                                IFACE "SMS_BootImagePackage", "UpdateImage"), 0);
                assert_true(sd_bus_send(bus, m, &cookies[i]) >= 0);
                sd_bus_message_unref(m);
        }
        assert_true(sd_bus_flush(bus) >= 0);
}

/* Collects the replies in order. Returns how many were refused with LimitsExceeded; every other
 * reply must be a job, whose path is stored in jobs[]. */
static unsigned collect_replies(sd_bus *bus, size_t n, const uint64_t *cookies, char **jobs) {
        unsigned refused = 0;

        for (size_t i = 0; i < n; i++) {
                sd_bus_message *reply = NULL;
                for (;;) {
                        assert_true(sd_bus_process(bus, &reply) >= 0);
                        if (reply) {
                                uint64_t c = 0;
                                if (sd_bus_message_get_reply_cookie(reply, &c) >= 0 && c == cookies[i])
                                        break;
                                sd_bus_message_unref(reply);
                                reply = NULL;
                                continue;
                        }
                        assert_true(sd_bus_wait(bus, 5000000) >= 0);
                }
                const sd_bus_error *e = sd_bus_message_get_error(reply);
                jobs[i] = NULL;
                if (e) {
                        if (!streq(e->name, SMSPROV_ERR("LimitsExceeded")))
                                fail_msg("UpdateImage: %s: %s", e->name, e->message);
                        refused++;
                } else {
                        const char *j;
                        assert_true(sd_bus_message_read(reply, "o", &j) > 0);
                        jobs[i] = strdup(j);
                }
                sd_bus_message_unref(reply);
        }
        return refused;
}

static unsigned flood(sd_bus *bus, char **pkgs, size_t n, char **jobs) {
        uint64_t cookies[N_BOOT];
        send_updates(bus, pkgs, n, cookies);
        return collect_replies(bus, n, cookies, jobs);
}

/* Distributes an image package to the test's DP; returns the job. */
static char *distribute(sd_bus *bus, const char *pkg) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *j;
        if (test_call(&env, pkg, IFACE "SMS_PackageBaseclass", "AddDistributionPoints", &error, &reply, "asas", 1, "LAB",
                      1, dp_nal) < 0)
                fail_msg("AddDistributionPoints: %s", error.message);
        assert_true(sd_bus_message_read(reply, "o", &j) > 0);
        char *job = strdup(j);
        sd_bus_message_unref(reply);
        (void) bus;
        return job;
}

static void test_jobs_per_caller_and_total(void **state) {
        sd_bus *a = connect_client(), *b = connect_client(), *c = connect_client();
        char *jobs[N_BOOT] = {};

        /* The two workers held (see the top): two jobs running that cannot finish. */
        test_hold(&env, "Distribute");
        char *held[2];
        for (size_t i = 0; i < 2; i++) {
                held[i] = distribute(env.bus, blocker[i]);
                test_wait_held(&env, "Distribute", held[i]);
        }

        /* Caller A asks for five builds: three are queued, two refused. */
        assert_int_equal(flood(a, boot, 5, jobs), 2);
        for (size_t i = 0; i < 3; i++)
                assert_non_null(jobs[i]);
        /* Caller B is served while A is at its cap, up to its own cap (total 8). */
        assert_int_equal(flood(b, boot + 5, 3, jobs + 5), 0);
        /* Caller C finds the total taken. */
        assert_int_equal(flood(c, boot + 8, 1, jobs + 8), 1);
        for (size_t i = 0; i < N_BOOT; i++)
                if (jobs[i])
                        assert_int_equal(job_state(a, jobs[i]), 0); /* queued behind the held workers */

        /* Let go: everything finishes. */
        test_release(&env, "Distribute");
        for (size_t i = 0; i < 2; i++) {
                wait_job(env.bus, held[i]);
                free(held[i]);
        }
        /* Reads go on meanwhile. */
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char *name = NULL;
        assert_true(sd_bus_get_property_string(c, "org.smsprov.Provider1", boot[8], IFACE "SMS_PackageBaseclass",
                                               "PackageID", &error, &name) >= 0);
        free(name);

        /* Once the builds are done, A and C are served again. */
        for (size_t i = 0; i < N_BOOT; i++)
                if (jobs[i]) {
                        wait_job(a, jobs[i]);
                        free(jobs[i]);
                        jobs[i] = NULL;
                }
        assert_int_equal(flood(c, boot + 8, 1, jobs + 8), 0);
        wait_job(c, jobs[8]);
        free(jobs[8]);
        assert_int_equal(flood(a, boot + 3, 2, jobs + 3), 0);
        wait_job(a, jobs[3]);
        wait_job(a, jobs[4]);
        free(jobs[3]);
        free(jobs[4]);

        sd_bus_flush_close_unref(a);
        sd_bus_flush_close_unref(b);
        sd_bus_flush_close_unref(c);
}

static void test_query_rows(void **state) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        char wql[256];

        /* Nine packages; the cap is five rows. */
        assert_true(test_call(&env, ROOT, IFACE "Site", "ExecQuery", &error, &reply, "s",
                              "SELECT PackageID FROM SMS_BootImagePackage") < 0);
        assert_string_equal(error.name, SMSPROV_ERR("LimitsExceeded"));
        sd_bus_error_free(&error);

        /* Narrowed with WHERE, it answers. */
        char *id = test_get_string(&env, boot[0], IFACE "SMS_PackageBaseclass", "PackageID");
        snprintf(wql, sizeof wql, "SELECT PackageID FROM SMS_BootImagePackage WHERE PackageID = '%s'", id);
        assert_int_equal(test_count_rows(&env, wql), 1);
        free(id);
}

static int setup(void **state) {
        static const char *const limits[] = { "--max-jobs=8", "--max-jobs-per-caller=3", "--max-query-rows=5", NULL };
        char *wim;

        if (test_env_start(&env) < 0)
                return -1;
        assert_int_equal(test_env_stop_daemon(&env, SIGTERM), 0);
        assert_int_equal(test_env_start_daemon(&env, limits), 0);

        wim = test_env_content_path(&env, "big.wim");
        assert_int_equal(test_make_winpe_wim(wim, "9", true, 8u << 20, false), 0);
        for (size_t i = 0; i < N_BOOT; i++) {
                char *job = NULL;
                assert_null(test_create(&env, "SMS_BootImagePackage", &boot[i], &job, 1, "{sv}", "ImagePath", "s", wim));
                wait_job(env.bus, job); /* one at a time: the creation builds count against the cap too */
                free(job);
        }
        free(wim);

        /* A DP, a first distribution (which makes the site content library), and two more image
         * packages to hold the workers with. */
        char *dp_root = NULL;
        assert_true(asprintf(&dp_root, "%s/dp1", env.dir) > 0);
        assert_int_equal(mkdir(dp_root, 0755), 0);
        assert_null(test_create(&env, "SMS_DistributionPointInfo", NULL, NULL, 2, "{sv}{sv}", "NALPath", "s", dp_nal,
                                "ContentRoot", "s", dp_root));
        free(dp_root);
        char *small = test_env_content_path(&env, "small.wim"), *first = NULL;
        assert_int_equal(test_make_winpe_wim(small, "9", false, 0, true), 0);
        for (size_t i = 0; i < 3; i++) {
                char *pkg = NULL;
                assert_null(test_create(&env, "SMS_ImagePackage", &pkg, NULL, 1, "{sv}", "PkgSourcePath", "s", small));
                if (i < 2)
                        blocker[i] = pkg;
                else
                        first = pkg;
        }
        char *job = distribute(env.bus, first);
        wait_job(env.bus, job);
        free(job);
        free(first);
        free(small);
        return 0;
}

static int teardown(void **state) {
        for (size_t i = 0; i < N_BOOT; i++)
                free(boot[i]);
        free(blocker[0]);
        free(blocker[1]);
        return test_env_stop(&env);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_jobs_per_caller_and_total),
                cmocka_unit_test(test_query_rows),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, setup, teardown);
}
