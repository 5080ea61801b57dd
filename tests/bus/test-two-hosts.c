/* SPDX-License-Identifier: MIT */

/* Two providers on one site (issue 16): two smsprovd processes, each on a private bus of its own,
 * over one PostgreSQL database. A change made through one host reaches the clients of the other
 * as signals (InterfacesAdded, PropertiesChanged, InterfacesRemoved), and of two hosts' Puts that
 * read the same SedoObjectVersion only the first is made; with one library directory and two state
 * directories, a boot image built through one host is distributed through the other. Runs under tests/helpers/pg-server.sh
 * only (meson: two-hosts-postgresql); on SQLite one host has the site to itself, and every case
 * is skipped. */

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
                cmocka_unit_test(test_built_on_one_host_distributed_by_the_other),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, setup, teardown);
}
