/* SPDX-License-Identifier: MIT */

/* Resource limits (issue 6, issue 11 §5): queued jobs per caller and in total, rows per query,
 * and calls waiting for an answer (deferred replies) per caller and in total. A caller that
 * floods is refused with LimitsExceeded; other callers are still served. The daemon runs with
 * small limits (--max-jobs=8 --max-jobs-per-caller=3 --max-query-rows=5 --max-calls=11
 * --max-calls-per-caller=3) so that the test needs few objects; the defaults are the same code
 * with other numbers.
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

#include "../helpers/fuse-hold.h"
#include "../helpers/wim-gen.h"
#include "smsprov/macro.h"
#include "test-env.h"

#define ROOT "/org/smsprov/Provider1"
#define IFACE "org.smsprov.Provider1."
#define N_BOOT 9

static TestEnv env;
static char *boot[N_BOOT];  /* boot image packages */
static char *blocker[2];    /* image packages whose distributions hold the two job workers */
static char *small_wim;     /* a WIM in the content root */
static FuseHold hold = { .server = -1, .control = -1 }; /* a file system the test holds */
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

/* Collects the replies, in whatever order they come: a build's files are looked up on a worker
 * before it is answered, a refusal is answered at once. Returns how many were refused with
 * LimitsExceeded; every other reply must be a job, whose path is stored in jobs[] at the index
 * of its call. */
static unsigned collect_replies(sd_bus *bus, size_t n, const uint64_t *cookies, char **jobs) {
        unsigned refused = 0;

        for (size_t i = 0; i < n; i++)
                jobs[i] = NULL;
        for (size_t left = n; left > 0;) {
                sd_bus_message *reply = NULL;
                uint64_t c = 0;
                size_t i = n;

                assert_true(sd_bus_process(bus, &reply) >= 0);
                if (!reply) {
                        assert_true(sd_bus_wait(bus, 5000000) >= 0);
                        continue;
                }
                if (sd_bus_message_get_reply_cookie(reply, &c) >= 0)
                        for (i = 0; i < n && cookies[i] != c; i++)
                                ;
                if (i == n) { /* a signal, or another call's reply */
                        sd_bus_message_unref(reply);
                        continue;
                }
                const sd_bus_error *e = sd_bus_message_get_error(reply);
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
                left--;
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
        sd_bus *a = test_connect_client(&env), *b = test_connect_client(&env), *c = test_connect_client(&env);
        char *jobs[N_BOOT] = {};

        /* The two workers held (see the top): two jobs running that cannot finish. */
        test_hold(&env, "Distribute");
        char *held[2];
        for (size_t i = 0; i < 2; i++) {
                held[i] = distribute(env.bus, blocker[i]);
                test_wait_held(&env, "Distribute", held[i]);
        }

        /* Caller A asks for five builds: three are queued, two refused (which ones depends on
         * the order in which their checks end). */
        assert_int_equal(flood(a, boot, 5, jobs), 2);
        size_t queued = 0;
        for (size_t i = 0; i < 5; i++)
                queued += jobs[i] != NULL;
        assert_int_equal(queued, 3);
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

/* --- deferred calls ------------------------------------------------------------------------------ */

/* A Create of an image package whose reply is collected later. */
static void send_create(sd_bus *bus, TestPending *p, const char *source) {
        test_send_call(bus, p, "Create SMS_ImagePackage", ROOT "/class/SMS_ImagePackage", IFACE "Class", "Create",
                       "a{sv}", 1, "PkgSourcePath", "s", source);
}

/* The reply must be LimitsExceeded whose message contains `why`. */
static void expect_refused(sd_bus *bus, TestPending *p, const char *why) {
        const sd_bus_error *e = sd_bus_message_get_error(test_await(bus, p));
        if (!e || !streq(e->name, SMSPROV_ERR("LimitsExceeded")) || !strstr(e->message, why))
                fail_msg("%s: expected LimitsExceeded (%s), got %s: %s (the daemon's log is this test's output above)",
                         p->what, why, e ? e->name : "an answer", e ? e->message : "");
}

#define FLOOD 5
#define PER_CALLER 3 /* --max-calls-per-caller */

/* Each kind of deferred call, flooded from one connection whose calls cannot finish (their file
 * is on a file system the test holds, or they queue behind such calls): the caller's fourth and
 * later calls are refused at once, while a second connection's read and a build go through;
 * past the total the next caller is refused too; once the file system answers, every admitted
 * call is answered. */
static void test_deferred_calls(void **state) {
        sd_bus *a = test_connect_client(&env), *b = test_connect_client(&env), *c = test_connect_client(&env), *d = test_connect_client(&env),
               *e = test_connect_client(&env);
        TestPending reads[FLOOD], reloads[FLOOD], creates[FLOOD], others[3], b_read;
        char *mount_point = test_env_content_path(&env, "hold"), *held_wim = NULL, *held_pkg = NULL;

        assert_int_equal(mkdir(mount_point, 0755), 0);
        int r = fuse_hold_start(&hold, mount_point, "held.wim", small_wim);
        if (r < 0) {
                free(mount_point);
                print_message("no FUSE mount here (%s): skipped\n", strerror(-r));
                skip();
        }
        assert_true(asprintf(&held_wim, "%s/held.wim", mount_point) > 0);
        /* While the file system answers: a package whose source is on it. */
        assert_null(test_create(&env, "SMS_ImagePackage", &held_pkg, NULL, 1, "{sv}", "PkgSourcePath", "s", held_wim));
        assert_int_equal(fuse_hold(&hold), 0);

        /* A: reads (GetImageProperties) on the held file. The first waits on the file system, the
         * next two wait for A's turn on the read workers; the last two are refused at once. */
        for (size_t i = 0; i < FLOOD; i++)
                test_send_call(a, &reads[i], "A's GetImageProperties", ROOT "/class/SMS_ImagePackage",
                          IFACE "SMS_ImagePackage.Static", "GetImageProperties", "s", held_wim);
        for (size_t i = PER_CALLER; i < FLOOD; i++)
                expect_refused(a, &reads[i], "already has 3 calls");

        /* C: ReloadImageProperties of the package on the held file: one holds a worker of
         * authorized calls, two wait for C's turn, two are refused. */
        for (size_t i = 0; i < FLOOD; i++)
                test_send_call(c, &reloads[i], "C's ReloadImageProperties", held_pkg, IFACE "SMS_ImagePackage",
                          "ReloadImageProperties", "");
        for (size_t i = PER_CALLER; i < FLOOD; i++)
                expect_refused(c, &reloads[i], "already has 3 calls");

        /* B is served meanwhile: a read of another file (the second read worker; A has one at a
         * time), a property, and a build (whose ImagePath the second worker of authorized calls
         * looks up; C has one at a time). */
        test_send_call(b, &b_read, "B's GetImageProperties", ROOT "/class/SMS_ImagePackage", IFACE "SMS_ImagePackage.Static",
                  "GetImageProperties", "s", small_wim);
        test_expect_ok(b, &b_read);
        test_pending_done(&b_read, 1);
        char *id = test_get_string(&env, boot[0], IFACE "SMS_PackageBaseclass", "PackageID");
        free(id);
        sd_bus_message *reply = NULL;
        const char *job;
        assert_null(test_invoke(&env, boot[0], IFACE "SMS_BootImagePackage", "UpdateImage", &reply, NULL));
        assert_true(sd_bus_message_read(reply, "o", &job) > 0);
        assert_int_equal(test_wait_job(&env, job, NULL), 2);
        sd_bus_message_unref(reply);

        /* D: Creates of image packages on the held file: the first holds the second worker of
         * authorized calls, two wait for D's turn, two are refused. */
        for (size_t i = 0; i < FLOOD; i++)
                send_create(d, &creates[i], held_wim);
        for (size_t i = PER_CALLER; i < FLOOD; i++)
                expect_refused(d, &creates[i], "already has 3 calls");

        /* E: nine calls wait; E's first two make eleven, the total; its third is refused. */
        for (size_t i = 0; i < 3; i++)
                test_send_call(e, &others[i], "E's GetImageProperties", ROOT "/class/SMS_ImagePackage",
                          IFACE "SMS_ImagePackage.Static", "GetImageProperties", "s", held_wim);
        expect_refused(e, &others[2], "11 calls are already waiting");

        /* The file system answers: every admitted call is. */
        assert_int_equal(fuse_release(&hold), 0);
        for (size_t i = 0; i < PER_CALLER; i++) {
                test_expect_ok(a, &reads[i]);
                test_expect_ok(c, &reloads[i]);
                test_expect_ok(d, &creates[i]);
        }
        test_expect_ok(e, &others[0]);
        test_expect_ok(e, &others[1]);
        test_pending_done(reads, FLOOD);
        test_pending_done(reloads, FLOOD);
        test_pending_done(creates, FLOOD);
        test_pending_done(others, 3);

        /* And A may call again. */
        test_send_call(a, &reads[0], "A's GetImageProperties after the flood", ROOT "/class/SMS_ImagePackage",
                  IFACE "SMS_ImagePackage.Static", "GetImageProperties", "s", held_wim);
        test_expect_ok(a, &reads[0]);
        test_pending_done(reads, 1);

        fuse_hold_stop(&hold);
        free(held_wim);
        free(held_pkg);
        free(mount_point);
        sd_bus_flush_close_unref(a);
        sd_bus_flush_close_unref(b);
        sd_bus_flush_close_unref(c);
        sd_bus_flush_close_unref(d);
        sd_bus_flush_close_unref(e);
}

/* --- file work off the event loop ---------------------------------------------------------------- */

static bool exists(const char *path) {
        struct stat st;
        return lstat(path, &st) == 0;
}

/* A Delete of a package with a 2 GiB built image answers, and so do another client's Get of
 * SiteCode and an ExecQuery of one package, while the image is not yet freed: the removal waits
 * for an idle job worker, and the test holds both (two builds at their start). Freeing 2 GiB of
 * allocated blocks takes about a second on ext4: on the event loop that was a second of no
 * answers to anyone. */
static void test_delete_frees_images_later(void **state) {
        char *id = test_get_string(&env, boot[8], IFACE "SMS_PackageBaseclass", "PackageID");
        char *images = NULL, *big = NULL, *gone = NULL, *held[2];
        sd_bus *other = test_connect_client(&env);
        sd_bus_message *reply = NULL;
        char wql[256];

        assert_true(asprintf(&images, "%s/images/%s", env.state_dir, id) > 0);
        assert_true(asprintf(&gone, "%s/images/.%s.deleted", env.state_dir, id) > 0);
        assert_true(asprintf(&big, "%s/big.bin", images) > 0);
        assert_true(exists(images));
        int fd = open(big, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        if (posix_fallocate(fd, 0, 2LL << 30) != 0) {
                close(fd);
                unlink(big);
                print_message("no room for a 2 GiB image here: skipped\n");
                skip();
        }
        close(fd);

        /* Both job workers busy: nothing can remove the image yet. */
        test_hold(&env, "UpdateImage");
        for (size_t i = 0; i < 2; i++) {
                const char *job;
                assert_null(test_invoke(&env, boot[1 + i], IFACE "SMS_BootImagePackage", "UpdateImage", &reply, NULL));
                assert_true(sd_bus_message_read(reply, "o", &job) > 0);
                held[i] = strdup(job);
                reply = sd_bus_message_unref(reply);
                test_wait_held(&env, "UpdateImage", held[i]);
        }

        assert_null(test_invoke(&env, boot[8], IFACE "SMS_PackageBaseclass", "Delete", NULL, NULL));
        test_assert_site_code(other, "LAB");
        char *id1 = test_get_string(&env, boot[1], IFACE "SMS_PackageBaseclass", "PackageID");
        snprintf(wql, sizeof wql, "SELECT PackageID FROM SMS_BootImagePackage WHERE PackageID = '%s'", id1);
        assert_int_equal(test_count_rows(&env, wql), 1);
        free(id1);
        /* Answered, and the image is out of the package's way but not yet freed. */
        if (exists(images) || !exists(gone))
                fail_msg("expected %s moved to %s and not yet removed; got %s %s (daemon log: %s)", images, gone,
                         exists(images) ? "the images still there" : "the images moved",
                         exists(gone) ? "and kept" : "and removed already", "this test's standard error");

        /* The workers go on, and one of them frees the image. */
        test_release(&env, "UpdateImage");
        for (size_t i = 0; i < 2; i++) {
                assert_int_equal(test_wait_job(&env, held[i], NULL), 2);
                free(held[i]);
        }
        TEST_WAIT_UNTIL(!exists(gone), "%s to be removed", gone);

        sd_bus_flush_close_unref(other);
        free(images);
        free(gone);
        free(big);
        free(id);
}

static int setup(void **state) {
        static const char *const limits[] = { "--max-jobs=8", "--max-jobs-per-caller=3", "--max-query-rows=5",
                                              "--max-calls=11", "--max-calls-per-caller=3", NULL };
        char *wim;

        if (test_env_start(&env) < 0)
                return -1;
        assert_int_equal(test_env_stop_daemon(&env, SIGTERM), 0);
        assert_int_equal(test_env_start_daemon(&env, limits), 0);

        wim = test_env_make_wim(&env, "big.wim", 8u << 20, false);
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
        small_wim = strdup(small);
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
        free(small_wim);
        fuse_hold_stop(&hold); /* when a failed test left it */
        return test_env_stop(&env);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_jobs_per_caller_and_total),
                cmocka_unit_test(test_query_rows),
                cmocka_unit_test(test_deferred_calls),
                cmocka_unit_test(test_delete_frees_images_later),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, setup, teardown);
}
