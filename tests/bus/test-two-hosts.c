/* SPDX-License-Identifier: MIT */

/* Two providers on one site (issue 16): two smsprovd processes, each on a private bus of its own,
 * over one PostgreSQL database. A change made through one host reaches the clients of the other
 * as signals (InterfacesAdded, PropertiesChanged, InterfacesRemoved), and of two hosts' Puts that
 * read the same SedoObjectVersion only the first is made. Jobs are their host's: a host that
 * restarts fails only its own, a host killed has its jobs failed by the other once their lease
 * ran out, and one build of a package and one ExportDefaultBootImage run at a time on the whole
 * site. With one library directory and two state directories, a boot image built through one
 * host is distributed through the other. Runs under tests/helpers/pg-server.sh only (meson:
 * two-hosts-postgresql); on SQLite one host has the site to itself, and every case is skipped. */

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "../helpers/test-db.h"
#include "../helpers/wim-gen.h"
#include "test-env.h"

#define ROOT "/org/smsprov/Provider1"
#define BASE_IFACE "org.smsprov.Provider1.SMS_PackageBaseclass"
#define BOOT_IFACE "org.smsprov.Provider1.SMS_BootImagePackage"
#define BOOT_STATIC "org.smsprov.Provider1.SMS_BootImagePackage.Static"

/* Each host under a name of its own (both run on this machine), with a short lease: host b
 * takes a killed host a's jobs for stopped a few seconds after a's last renewal, and a renewal
 * (every third of it) may come late by two seconds before a live host's jobs are at risk. Host b
 * reads a's content root too, to build a's packages. */
static const char *args_a[] = { "--host-name=host-a", "--job-lease=3", NULL };
static const char *args_b[4] = { "--host-name=host-b", "--job-lease=3" };

typedef struct Hosts {
        TestEnv a, b;
} Hosts;

/* What host b's client heard: signals by member, and the properties PropertiesChanged named
 * (changed or invalidated). */
typedef struct Heard {
        unsigned added, changed, removed;
        char *added_path, *removed_path;
        bool description;
} Heard;

static int on_interfaces(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Heard *h = userdata;
        const char *path = NULL;
        bool added = strcmp(sd_bus_message_get_member(m), "InterfacesAdded") == 0;

        assert_true(sd_bus_message_read(m, "o", &path) > 0);
        free(added ? h->added_path : h->removed_path);
        if (added) {
                h->added++;
                h->added_path = strdup(path);
        } else {
                h->removed++;
                h->removed_path = strdup(path);
        }
        return 0;
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Heard *h = userdata;
        h->changed++;
        h->description |= test_properties_changed_names(m, "Description");
        return 0;
}

static const char *put_description(TestEnv *env, const char *path, const char *sedo, const char *text) {
        if (sedo)
                return test_invoke(env, path, BASE_IFACE, "Put", NULL, "a{sv}", 2, "SedoObjectVersion", "s", sedo,
                                   "Description", "s", text);
        return test_invoke(env, path, BASE_IFACE, "Put", NULL, "a{sv}", 1, "Description", "s", text);
}

/* Create, Put and Delete through host a are InterfacesAdded, PropertiesChanged and
 * InterfacesRemoved on host b's bus, and b reads what a wrote. */
static void test_changes_on_one_host_are_signals_on_the_other(void **state) {
        Hosts *h = *state;
        if (!h)
                skip();
        sd_bus_slot *added = NULL, *removed = NULL, *changed = NULL;
        Heard heard = {};
        char *path = NULL;

        assert_true(sd_bus_match_signal(h->b.bus, &added, "org.smsprov.Provider1", ROOT,
                                        "org.freedesktop.DBus.ObjectManager", "InterfacesAdded", on_interfaces,
                                        &heard) >= 0);
        assert_true(sd_bus_match_signal(h->b.bus, &removed, "org.smsprov.Provider1", ROOT,
                                        "org.freedesktop.DBus.ObjectManager", "InterfacesRemoved", on_interfaces,
                                        &heard) >= 0);

        assert_null(test_create(&h->a, "SMS_ImagePackage", &path, NULL, 1, "{sv}", "Name", "s", "made on a"));
        TEST_BUS_WAIT_UNTIL(h->b.bus, heard.added > 0, "InterfacesAdded on host b");
        assert_string_equal(heard.added_path, path);
        char *name = test_get_string(&h->b, path, BASE_IFACE, "Name");
        assert_string_equal(name, "made on a");
        free(name);

        assert_true(sd_bus_match_signal(h->b.bus, &changed, "org.smsprov.Provider1", path,
                                        "org.freedesktop.DBus.Properties", "PropertiesChanged", on_properties_changed,
                                        &heard) >= 0);
        /* Read on b first, so that what b answers next cannot be what it read before. */
        char *before = test_get_string(&h->b, path, BASE_IFACE, "Description");
        free(before);
        assert_null(put_description(&h->a, path, NULL, "changed on a"));
        TEST_BUS_WAIT_UNTIL(h->b.bus, heard.description, "PropertiesChanged of Description on host b");
        char *description = test_get_string(&h->b, path, BASE_IFACE, "Description");
        assert_string_equal(description, "changed on a");
        free(description);

        assert_null(test_invoke(&h->a, path, BASE_IFACE, "Delete", NULL, NULL));
        TEST_BUS_WAIT_UNTIL(h->b.bus, heard.removed > 0, "InterfacesRemoved on host b");
        assert_string_equal(heard.removed_path, path);
        assert_string_equal(test_invoke(&h->b, path, BASE_IFACE, "Delete", NULL, NULL),
                            "org.freedesktop.DBus.Error.UnknownObject");

        sd_bus_slot_unref(added);
        sd_bus_slot_unref(removed);
        sd_bus_slot_unref(changed);
        free(heard.added_path);
        free(heard.removed_path);
        free(path);
}

/* Both hosts read the same SedoObjectVersion; a's Put with it is made, b's is VersionMismatch
 * and changes nothing. */
static void test_sedo_conflict_across_hosts(void **state) {
        Hosts *h = *state;
        char *path = NULL;

        if (!h)
                skip();
        assert_null(test_create(&h->a, "SMS_ImagePackage", &path, NULL, 1, "{sv}", "Name", "s", "contested"));
        char *sedo_a = test_get_string(&h->a, path, BASE_IFACE, "SedoObjectVersion");
        char *sedo_b = test_get_string(&h->b, path, BASE_IFACE, "SedoObjectVersion");
        assert_string_equal(sedo_a, sedo_b);

        assert_null(put_description(&h->a, path, sedo_a, "a wins"));
        assert_string_equal(put_description(&h->b, path, sedo_b, "b loses"), SMSPROV_ERR("VersionMismatch"));
        char *description = test_get_string(&h->b, path, BASE_IFACE, "Description");
        assert_string_equal(description, "a wins");
        free(description);

        free(sedo_a);
        free(sedo_b);
        free(path);
}

/* --- jobs, leases and site-wide rules ------------------------------------------------------------ */

/* A call that must have been refused Busy (a call made is a failure, not a crash). */
static void assert_busy(const char *error) {
        assert_non_null(error);
        assert_string_equal(error, SMSPROV_ERR("Busy"));
}

/* A boot image made through host a from a WIM in a's content root, its first build done. */
static char *create_built_boot_image(Hosts *h, const char *name, const char *context_id) {
        char *wim = test_env_content_path(&h->a, name), *path = NULL, *job = NULL;

        assert_int_equal(test_make_winpe_wim(wim, "9", true, 0, true), 0);
        assert_null(test_create(&h->a, "SMS_BootImagePackage", &path, &job, 2, "{sv}{sv}", "ImagePath", "s", wim,
                                "ContextID", "s", context_id));
        assert_int_equal(test_wait_job(&h->a, job, NULL), 2);
        free(job);
        free(wim);
        return path;
}

/* Starts a rebuild of path through env, held at its start; returns the job. */
static char *start_held_rebuild(TestEnv *env, const char *path) {
        sd_bus_message *reply = NULL;
        const char *j;

        test_hold(env, "UpdateImage");
        assert_null(test_invoke(env, path, BOOT_IFACE, "UpdateImage", &reply, NULL));
        assert_true(sd_bus_message_read(reply, "o", &j) > 0);
        char *job = strdup(j);
        sd_bus_message_unref(reply);
        test_wait_held(env, "UpdateImage", job);
        return job;
}

/* The status queue of a ContextID, read through env: its status, and its text in *ret_text. */
static uint32_t context_status(TestEnv *env, const char *context_id, char **ret_text) {
        sd_bus_message *reply = NULL;
        uint32_t status, progress, max;
        const char *text, *ext;
        int32_t code;

        assert_null(test_invoke(env, ROOT "/class/SMS_BootImagePackage", BOOT_STATIC, "QueryOSDBinaryInjectionStatus",
                                &reply, "s", context_id));
        assert_true(sd_bus_message_read(reply, "uuusis", &status, &progress, &max, &text, &code, &ext) > 0);
        if (ret_text)
                *ret_text = strdup(text);
        sd_bus_message_unref(reply);
        return status;
}

/* A rebuild held on host a is a's: host b, restarted, leaves it running (its package still shows
 * the build, its ContextID in progress) and refuses a build of the same package (Busy); host a,
 * restarted after a crash, fails it. */
static void test_job_claimed_by_one_host(void **state) {
        Hosts *h = *state;
        if (!h)
                skip();
        char *path = create_built_boot_image(h, "claimed.wim", "ctx-claimed");
        char *job = start_held_rebuild(&h->a, path);

        assert_int_equal(test_env_stop_daemon(&h->b, SIGTERM), 0);
        assert_int_equal(test_env_start_daemon(&h->b, args_b), 0);
        assert_int_equal(context_status(&h->b, "ctx-claimed", NULL), 1);
        assert_int_not_equal(test_get_u32(&h->b, path, BASE_IFACE, "ActionInProgress"), 0);
        assert_busy(test_invoke(&h->b, path, BOOT_IFACE, "UpdateImage", NULL, NULL));

        assert_int_equal(test_env_stop_daemon(&h->a, SIGKILL), 0);
        test_release(&h->a, "UpdateImage");
        assert_int_equal(test_env_start_daemon(&h->a, args_a), 0);
        char *text = NULL;
        assert_int_equal(context_status(&h->a, "ctx-claimed", &text), 2);
        assert_non_null(strstr(text, "smsprovd stopped"));
        assert_int_equal(test_get_u32(&h->a, path, BASE_IFACE, "ActionInProgress"), 0);

        free(text);
        free(job);
        free(path);
}

/* What host b's client heard of one package's ActionInProgress. */
typedef struct ActionHeard {
        TestEnv *env;
        const char *path;
        bool changed;
} ActionHeard;

static int on_action_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        ActionHeard *h = userdata;

        h->changed |= test_properties_changed_names(m, "ActionInProgress");
        return 0;
}

/* Has a PropertiesChanged of ActionInProgress come, and does the package read idle now? */
static bool action_reset(ActionHeard *h) {
        if (!h->changed)
                return false;
        h->changed = false;
        return test_get_u32(h->env, h->path, BASE_IFACE, "ActionInProgress") == 0;
}

/* Host a killed in the middle of a build: host b, which goes on, fails a's job once its lease
 * has run out (the package is idle again, which b signals; the ContextID's error names host a
 * and its lease), and then builds the package itself: the lease a's job held is b's now. */
static void test_killed_host_jobs_fail_when_lease_runs_out(void **state) {
        Hosts *h = *state;
        if (!h)
                skip();
        char *path = create_built_boot_image(h, "killed.wim", "ctx-killed");
        ActionHeard heard = { .env = &h->b, .path = path };
        sd_bus_slot *slot = NULL;
        char *job = start_held_rebuild(&h->a, path);

        assert_true(sd_bus_match_signal(h->b.bus, &slot, "org.smsprov.Provider1", path,
                                        "org.freedesktop.DBus.Properties", "PropertiesChanged", on_action_changed,
                                        &heard) >= 0);
        assert_int_not_equal(test_get_u32(&h->b, path, BASE_IFACE, "ActionInProgress"), 0);
        assert_int_equal(test_env_stop_daemon(&h->a, SIGKILL), 0);
        TEST_BUS_WAIT_UNTIL(h->b.bus, action_reset(&heard), "host b to fail killed host a's build of %s", path);

        char *text = NULL;
        assert_int_equal(context_status(&h->b, "ctx-killed", &text), 2);
        assert_non_null(strstr(text, "host-a"));
        assert_non_null(strstr(text, "lease"));
        free(text);

        sd_bus_message *reply = NULL;
        const char *j;
        assert_null(test_invoke(&h->b, path, BOOT_IFACE, "UpdateImage", &reply, NULL));
        assert_true(sd_bus_message_read(reply, "o", &j) > 0);
        assert_int_equal(test_wait_job(&h->b, j, NULL), 2);
        sd_bus_message_unref(reply);
        assert_int_equal(context_status(&h->b, "ctx-killed", NULL), 0);

        /* Host a comes back for the cases that follow: nothing of its is left to fail. */
        test_release(&h->a, "UpdateImage");
        assert_int_equal(test_env_start_daemon(&h->a, args_a), 0);
        assert_int_equal(context_status(&h->a, "ctx-killed", NULL), 0);

        sd_bus_slot_unref(slot);
        free(job);
        free(path);
}

/* Host a frozen (SIGSTOP) in the middle of a build for longer than its lease: host b fails the
 * job. Woken (SIGCONT) and let go on, a finds the job no longer its own and drops its outcome: the
 * job fails, saying why, and the package keeps the version it had. */
static void test_frozen_host_outcome_dropped(void **state) {
        Hosts *h = *state;
        if (!h)
                skip();
        char *path = create_built_boot_image(h, "frozen.wim", "ctx-frozen");
        uint32_t version = test_get_u32(&h->b, path, BASE_IFACE, "SourceVersion");
        ActionHeard heard = { .env = &h->b, .path = path };
        sd_bus_slot *slot = NULL;
        char *job = start_held_rebuild(&h->a, path), *error = NULL;

        assert_true(sd_bus_match_signal(h->b.bus, &slot, "org.smsprov.Provider1", path,
                                        "org.freedesktop.DBus.Properties", "PropertiesChanged", on_action_changed,
                                        &heard) >= 0);
        assert_int_equal(kill(h->a.daemon_pid, SIGSTOP), 0);
        TEST_BUS_WAIT_UNTIL(h->b.bus, action_reset(&heard), "host b to fail frozen host a's build of %s", path);
        assert_int_equal(kill(h->a.daemon_pid, SIGCONT), 0);
        test_release(&h->a, "UpdateImage");

        assert_int_equal(test_wait_job(&h->a, job, &error), 3);
        assert_string_equal(error, SMSPROV_ERR("Failed"));
        char *message = test_get_string(&h->a, job, "org.smsprov.Provider1.Job", "ErrorMessage");
        assert_non_null(strstr(message, "outcome is dropped"));
        assert_int_equal(test_get_u32(&h->b, path, BASE_IFACE, "SourceVersion"), version);
        assert_int_equal(test_get_u32(&h->a, path, BASE_IFACE, "SourceVersion"), version);
        assert_int_equal(test_get_u32(&h->a, path, BASE_IFACE, "ActionInProgress"), 0);

        sd_bus_slot_unref(slot);
        free(message);
        free(error);
        free(job);
        free(path);
}

static const char *export(TestEnv *env, const char *name, char **ret_job) {
        char *dir = test_env_content_path(env, "exported"), *out = NULL;
        sd_bus_message *reply = NULL;
        const char *j, *error;

        mkdir(dir, 0755);
        assert_true(asprintf(&out, "%s/%s", dir, name) > 0);
        error = test_invoke(env, ROOT "/class/SMS_BootImagePackage", BOOT_STATIC, "ExportDefaultBootImage", &reply,
                            "sus", "x64", 1, out);
        if (!error && ret_job) {
                assert_true(sd_bus_message_read(reply, "o", &j) > 0);
                *ret_job = strdup(j);
        }
        sd_bus_message_unref(reply);
        free(out);
        free(dir);
        return error;
}

/* ExportDefaultBootImage runs one at a time on the whole site: while host a's is held, host b's
 * is Busy; once a's has finished, b's runs. */
static void test_export_lock_across_hosts(void **state) {
        Hosts *h = *state;
        char *job_a = NULL, *job_b = NULL;

        if (!h)
                skip();
        test_hold(&h->a, "ExportDefaultBootImage");
        assert_null(export(&h->a, "a.wim", &job_a));
        test_wait_held(&h->a, "ExportDefaultBootImage", job_a);
        assert_busy(export(&h->b, "b.wim", NULL));

        test_release(&h->a, "ExportDefaultBootImage");
        assert_int_equal(test_wait_job(&h->a, job_a, NULL), 2);
        assert_null(export(&h->b, "b.wim", &job_b));
        assert_int_equal(test_wait_job(&h->b, job_b, NULL), 2);

        free(job_a);
        free(job_b);
}

/* Audit rows name the host that wrote them (MachineName), and SMS_ProviderLocation lists both
 * hosts: each goes by its own name in the site database. */
static void test_audit_rows_name_the_host(void **state) {
        Hosts *h = *state;
        char *path_a = NULL, *path_b = NULL;

        if (!h)
                skip();
        assert_null(test_create(&h->a, "SMS_ImagePackage", &path_a, NULL, 1, "{sv}", "Name", "s", "audited on a"));
        assert_null(test_create(&h->b, "SMS_ImagePackage", &path_b, NULL, 1, "{sv}", "Name", "s", "audited on b"));
        for (TestEnv *env = &h->a; env; env = env == &h->a ? &h->b : NULL) {
                assert_int_equal(test_count_rows(env, "SELECT RecordID FROM SMS_StatusMessage WHERE MessageID = 30000 "
                                                      "AND MachineName = 'host-a' AND Description LIKE '%audited on a%'"),
                                 1);
                assert_int_equal(test_count_rows(env, "SELECT RecordID FROM SMS_StatusMessage WHERE MessageID = 30000 "
                                                      "AND MachineName = 'host-b' AND Description LIKE '%audited on b%'"),
                                 1);
                assert_int_equal(test_count_rows(env, "SELECT Machine FROM SMS_ProviderLocation WHERE Machine = "
                                                      "'host-a' OR Machine = 'host-b'"),
                                 2);
        }
        free(path_a);
        free(path_b);
}

/* One library directory (--library-dir), two state directories: a boot image built through host
 * a is distributed through host b, which reads a's built file from the library directory. */
static void test_built_on_one_host_distributed_by_the_other(void **state) {
        Hosts *h = *state;
        char *wim, *path = NULL, *job = NULL, *dp = NULL, *nal = NULL, *dps = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *distribution;

        if (!h)
                skip();
        wim = test_env_content_path(&h->a, "boot.wim");
        assert_int_equal(test_make_winpe_wim(wim, "9", true, 0, true), 0);
        assert_null(test_create(&h->a, "SMS_BootImagePackage", &path, &job, 1, "{sv}", "ImagePath", "s", wim));
        assert_int_equal(test_wait_job(&h->a, job, NULL), 2);
        char *id = test_get_string(&h->a, path, BASE_IFACE, "PackageID");
        char *built = test_get_string(&h->a, path, BASE_IFACE, "PkgSourcePath");
        size_t n = strlen(h->a.library_dir);
        if (strncmp(built, h->a.library_dir, n) != 0 || strncmp(built + n, "/images/", 8) != 0)
                fail_msg("the built image %s is not in the library directory %s", built, h->a.library_dir);
        assert_int_equal(test_count_files(h->a.state_dir, "-name '*.wim'"), 0);

        /* The library directory is the daemon's own, as the state directory is: no DP in it. */
        char *inside = NULL;
        assert_true(asprintf(&inside, "%s/images", h->a.library_dir) > 0);
        assert_string_equal(test_create(&h->a, "SMS_DistributionPointInfo", NULL, NULL, 2, "{sv}{sv}", "NALPath", "s",
                                        "[\"Display=\\\\dp9\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\dp9\\", "ContentRoot",
                                        "s", inside),
                            SMSPROV_ERR("PathNotAllowed"));
        free(inside);

        /* A DP of host b's, and the distribution through b. */
        assert_true(asprintf(&dps, "%s/dps", h->b.dir) > 0 && asprintf(&dp, "%s/dp1", dps) > 0);
        assert_int_equal(mkdir(dps, 0755), 0);
        assert_int_equal(mkdir(dp, 0755), 0);
        assert_true(asprintf(&nal, "[\"Display=\\\\dp1\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\dp1\\") > 0);
        assert_null(test_create(&h->b, "SMS_DistributionPointInfo", NULL, NULL, 2, "{sv}{sv}", "NALPath", "s", nal,
                                "ContentRoot", "s", dp));
        assert_true(test_call(&h->b, path, BASE_IFACE, "AddDistributionPoints", &error, &reply, "asas", 1, "LAB", 1,
                              nal) >= 0);
        assert_true(sd_bus_message_read(reply, "o", &distribution) > 0);
        free(job);
        job = strdup(distribution);
        sd_bus_message_unref(reply);
        assert_int_equal(test_wait_job(&h->b, job, NULL), 2);
        assert_int_equal(test_dp_state(&h->b, id, nal, NULL), 0);
        assert_true(test_count_files(dp, "-name '*.wim'") >= 1);

        free(id);
        free(built);
        free(wim);
        free(path);
        free(job);
        free(dp);
        free(dps);
        free(nal);
}

static int setup(void **state) {
        static Hosts hosts;

        if (!test_db_postgresql()) {
                fprintf(stderr, "# two hosts need a shared PostgreSQL database (run under pg-server.sh)\n");
                *state = NULL;
                return 0;
        }
        /* Two state directories, one library directory. */
        if (test_env_start_two_hosts(&hosts.a, &hosts.b, "library") < 0)
                return -1;
        /* Again under their names, with the short lease; each with the kit's winpe.wim that
         * ExportDefaultBootImage exports. */
        static char content_a[4096];
        snprintf(content_a, sizeof content_a, "--content-root=%s", hosts.a.content_dir);
        args_b[2] = content_a;
        for (TestEnv *env = &hosts.a; env; env = env == &hosts.a ? &hosts.b : NULL) {
                char *winpe = NULL;
                assert_true(asprintf(&winpe, "%s/adk/amd64/winpe.wim", env->dir) > 0);
                assert_int_equal(test_make_winpe_wim(winpe, "9", true, 0, true), 0);
                free(winpe);
                if (test_env_stop_daemon(env, SIGTERM) < 0 ||
                    test_env_start_daemon(env, env == &hosts.a ? args_a : args_b) < 0)
                        return -1;
        }
        *state = &hosts;
        return 0;
}

static int teardown(void **state) {
        Hosts *h = *state;
        return h ? test_env_stop_two_hosts(&h->a, &h->b) : 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_changes_on_one_host_are_signals_on_the_other),
                cmocka_unit_test(test_sedo_conflict_across_hosts),
                cmocka_unit_test(test_job_claimed_by_one_host),
                cmocka_unit_test(test_killed_host_jobs_fail_when_lease_runs_out),
                cmocka_unit_test(test_frozen_host_outcome_dropped),
                cmocka_unit_test(test_export_lock_across_hosts),
                cmocka_unit_test(test_audit_rows_name_the_host),
                cmocka_unit_test(test_built_on_one_host_distributed_by_the_other),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, setup, teardown);
}
