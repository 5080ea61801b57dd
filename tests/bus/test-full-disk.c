/* SPDX-License-Identifier: MIT */

/* A full file system, for the state directory and for a distribution point, made with small tmpfs
 * mounts (the test skips where it may not mount): the named error OutOfDiskSpace, the previous
 * state intact, and the daemon serving afterwards. */

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
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../helpers/wim-gen.h"
#include "test-env.h"

#define ROOT "/org/smsprov/Provider1"
#define IFACE "org.smsprov.Provider1."
#define BASE IFACE "SMS_PackageBaseclass"

static TestEnv env;
static bool mounted_state, mounted_dp;
static char *dp_root;

/* The site database's file system full (SQLite's: site.db is in the state directory): a write
 * to the package at path fails with OutOfDiskSpace and changes nothing; with room again, writes
 * work. */
static void assert_database_full_refuses(const char *path) {
        char *filler = test_fill_file_system(env.state_dir);
        char description[4096];
        memset(description, 'x', sizeof description - 1);
        description[sizeof description - 1] = 0;
        const char *e = NULL;
        /* Enough writes to need a new database page even if the WAL had room left. */
        for (int i = 0; i < 64 && !e; i++) {
                description[0] = (char) ('a' + i % 26);
                e = test_invoke(&env, path, BASE, "Put", NULL, "a{sv}", 1, "Description", "s", description);
        }
        assert_non_null(e);
        assert_string_equal(e, SMSPROV_ERR("OutOfDiskSpace"));
        assert_int_equal(unlink(filler), 0);
        free(filler);
        assert_null(test_invoke(&env, path, BASE, "Put", NULL, "a{sv}", 1, "Description", "s", "room again"));
}

static void test_state_directory_full(void **state) {
        if (!mounted_state)
                skip();
        char *small = test_env_content_path(&env, "small.wim"), *big = test_env_content_path(&env, "big.wim");
        char *path = NULL, *job = NULL, *err = NULL;

        /* A boot image that fits, then a rebuild from a source that does not. */
        assert_null(test_create(&env, "SMS_BootImagePackage", &path, &job, 1, "{sv}", "ImagePath", "s", small));
        assert_int_equal(test_wait_job(&env, job, NULL), 2);
        free(job);
        char *built = test_get_string(&env, path, BASE, "PkgSourcePath");
        struct stat before, after;
        assert_int_equal(stat(built, &before), 0);

        assert_null(test_invoke(&env, path, BASE, "Put", NULL, "a{sv}", 1, "ImagePath", "s", big));
        sd_bus_message *reply = NULL;
        const char *j;
        assert_null(test_invoke(&env, path, IFACE "SMS_BootImagePackage", "UpdateImage", &reply, NULL));
        sd_bus_message_read(reply, "o", &j);
        assert_int_equal(test_wait_job(&env, j, &err), 3);
        sd_bus_message_unref(reply);
        assert_string_equal(err, SMSPROV_ERR("OutOfDiskSpace"));
        free(err);

        /* The previous image is intact and still the package's. */
        assert_int_equal(stat(built, &after), 0);
        assert_int_equal(after.st_size, before.st_size);
        assert_int_equal(after.st_ino, before.st_ino);
        char *now = test_get_string(&env, path, BASE, "PkgSourcePath");
        assert_string_equal(now, built);
        assert_int_equal(test_get_u32(&env, path, BASE, "SourceVersion"), 1);
        assert_int_equal(test_get_u32(&env, path, BASE, "ActionInProgress"), 0);

        /* On PostgreSQL the database is on the server's disk, which the state directory's
         * tmpfs does not hold: there only the build fills it. */
        if (!env.database)
                assert_database_full_refuses(path);

        free(now);
        free(built);
        free(path);
        free(small);
        free(big);
}

static void test_distribution_point_full(void **state) {
        if (!mounted_dp)
                skip();
        char *small = test_env_content_path(&env, "small.wim"), *big = test_env_content_path(&env, "big.wim");
        char *nal = strdup("[\"Display=\\\\dp1\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\dp1\\");
        sd_bus_message *reply = NULL;
        char *pkg = NULL;
        const char *j;

        assert_null(test_create(&env, "SMS_DistributionPointInfo", NULL, NULL, 3, "{sv}{sv}{sv}", "NALPath", "s", nal,
                                "ContentRoot", "s", dp_root, "ContentLinkMode", "u", 1));
        assert_null(test_create(&env, "SMS_ImagePackage", &pkg, NULL, 2, "{sv}{sv}", "PkgSourceFlag", "u", 2,
                                "PkgSourcePath", "s", small));
        char *id = test_get_string(&env, pkg, BASE, "PackageID");

        /* Version 1 fits on the DP. */
        assert_null(test_invoke(&env, pkg, BASE, "AddDistributionPoints", &reply, "asas", 1, "LAB", 1, nal));
        sd_bus_message_read(reply, "o", &j);
        assert_int_equal(test_wait_job(&env, j, NULL), 2);
        sd_bus_message_unref(reply);

        /* Version 2 does not: the DP fails, and still serves version 1. */
        assert_null(test_invoke(&env, pkg, BASE, "Put", NULL, "a{sv}", 1, "PkgSourcePath", "s", big));
        assert_null(test_invoke(&env, pkg, BASE, "RefreshPkgSource", &reply, NULL));
        sd_bus_message_read(reply, "o", &j);
        assert_int_equal(test_wait_job(&env, j, NULL), 2); /* the refresh itself */
        sd_bus_message_unref(reply);
        char current[1024], buf[32] = "";
        snprintf(current, sizeof current, "%s/SCCMContentLib/PkgLib/%s/current", dp_root, id);
        char wql[512];
        snprintf(wql, sizeof wql,
                 "SELECT State FROM SMS_PackageStatusDistPointsSummarizer WHERE PackageID = '%s' AND State = 3", id);
        TEST_WAIT_UNTIL(test_count_rows(&env, wql) == 1, "the distribution of %s to the full DP to fail", id);
        FILE *f = fopen(current, "re");
        assert_non_null(f);
        assert_non_null(fgets(buf, sizeof buf, f));
        fclose(f);
        assert_int_equal(atoi(buf), 1);
        char served[1024];
        snprintf(served, sizeof served, "%s/SCCMContentLib/DataLib/%s/small.wim", dp_root, id);
        struct stat st;
        assert_int_equal(stat(served, &st), 0);

        /* Still serving. */
        char *name = test_get_string(&env, pkg, BASE, "PackageID");
        assert_string_equal(name, id);
        free(name);
        free(id);
        free(pkg);
        free(nal);
        free(small);
        free(big);
}

/* A distribution point whose content root is read-only (a read-only bind mount): its
 * distribution fails (INSTALL_FAILED, a status message), the package and the daemon are fine. */
static void test_read_only_distribution_point(void **state) {
        if (!mounted_state)
                skip();
        char *ro = NULL, *small = test_env_content_path(&env, "small.wim");
        char *nal = strdup("[\"Display=\\\\dp2\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\dp2\\");
        sd_bus_message *reply = NULL;
        const char *j;

        assert_true(asprintf(&ro, "%s/dp-ro", env.dir) > 0);
        assert_int_equal(mkdir(ro, 0755), 0);
        assert_null(test_create(&env, "SMS_DistributionPointInfo", NULL, NULL, 2, "{sv}{sv}", "NALPath", "s", nal,
                                "ContentRoot", "s", ro));
        assert_int_equal(mount(ro, ro, NULL, MS_BIND, NULL), 0);
        assert_int_equal(mount(NULL, ro, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), 0);

        char *pkg = NULL;
        assert_null(test_create(&env, "SMS_ImagePackage", &pkg, NULL, 1, "{sv}", "PkgSourcePath", "s", small));
        char *id = test_get_string(&env, pkg, BASE, "PackageID");
        assert_null(test_invoke(&env, pkg, BASE, "AddDistributionPoints", &reply, "asas", 1, "LAB", 1, nal));
        sd_bus_message_read(reply, "o", &j);
        char *err = NULL;
        test_wait_job(&env, j, &err);
        free(err);
        sd_bus_message_unref(reply);

        char wql[512];
        snprintf(wql, sizeof wql,
                 "SELECT State FROM SMS_PackageStatusDistPointsSummarizer WHERE PackageID = '%s' AND State = 3", id);
        assert_int_equal(test_count_rows(&env, wql), 1); /* INSTALL_FAILED */

        /* Serving, and the package is whole. */
        char *again = test_get_string(&env, pkg, BASE, "PackageID");
        assert_string_equal(again, id);
        assert_int_equal(umount2(ro, 0), 0);
        free(again);
        free(id);
        free(pkg);
        free(nal);
        free(ro);
        free(small);
}

/* A read-only state directory (a read-only bind mount over it): the daemon refuses to start with
 * a message naming the cause and exit status 1, not a crash; with the mount gone it serves the
 * same site again. (A database already open for writing cannot be made read-only under the
 * daemon: the kernel refuses to remount while files are open for writing.) */
static void test_state_directory_read_only(void **state) {
        /* SQLite's: on PostgreSQL the site database is not in the state directory. */
        if (!mounted_state || env.database)
                skip();
        assert_int_equal(test_env_stop_daemon(&env, SIGTERM), 0);
        assert_int_equal(mount(env.state_dir, env.state_dir, NULL, MS_BIND, NULL), 0);
        assert_int_equal(mount(NULL, env.state_dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), 0);

        char *cmd = NULL, out[4096] = "";
        assert_true(asprintf(&cmd, "'%s' --bus-address='%s' --state-dir='%s' --site-code=LAB 2>&1", getenv("SMSPROVD"),
                             env.address, env.state_dir) > 0);
        FILE *p = popen(cmd, "re");
        assert_non_null(p);
        size_t n = fread(out, 1, sizeof out - 1, p);
        out[n] = 0;
        int status = pclose(p);
        fprintf(stderr, "# %s", out);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 1);
        assert_non_null(strstr(out, "read-only file system"));
        free(cmd);

        assert_int_equal(umount2(env.state_dir, 0), 0);
        assert_int_equal(test_env_start_daemon(&env, NULL), 0);
        char *desc = test_get_string(&env, ROOT "/class/SMS_BootImagePackage", IFACE "Class", "Name");
        assert_string_equal(desc, "SMS_BootImagePackage");
        free(desc);
        /* The same site: the boot image of the first case is still there. */
        assert_int_equal(test_count_rows(&env, "SELECT PackageID FROM SMS_BootImagePackage"), 1);
}

static int setup(void **state) {
        if (test_env_start(&env) < 0)
                return -1;
        free(test_env_make_wim(&env, "small.wim", 0, true));
        free(test_env_make_wim(&env, "big.wim", 24u << 20, false));

        /* The state directory on a 16 MiB tmpfs (the database and small builds fit, a 24 MiB
         * build does not), and a DP on a 4 MiB one. Without permission to mount: skip. */
        assert_int_equal(test_env_stop_daemon(&env, SIGTERM), 0);
        mounted_state = mount("tmpfs", env.state_dir, "tmpfs", 0, "size=16m,mode=0700") == 0;
        assert_true(asprintf(&dp_root, "%s/dp1", env.dir) > 0);
        assert_int_equal(mkdir(dp_root, 0755), 0);
        mounted_dp = mount("tmpfs", dp_root, "tmpfs", 0, "size=4m,mode=0755") == 0;
        if (!mounted_state || !mounted_dp)
                fprintf(stderr, "# cannot mount tmpfs (%s): the full-disk cases are skipped\n", strerror(errno));
        assert_int_equal(test_env_start_daemon(&env, NULL), 0);
        *state = &env;
        return 0;
}

static int teardown(void **state) {
        int r = test_env_stop_daemon(&env, SIGTERM);
        if (mounted_state)
                umount2(env.state_dir, MNT_DETACH);
        if (mounted_dp)
                umount2(dp_root, MNT_DETACH);
        free(dp_root);
        int k = test_env_stop(&env);
        return r < 0 ? r : k;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_state_directory_full),
                cmocka_unit_test(test_distribution_point_full),
                cmocka_unit_test(test_read_only_distribution_point),
                cmocka_unit_test(test_state_directory_read_only),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, setup, teardown);
}
