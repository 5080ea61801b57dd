/* SPDX-License-Identifier: MIT */

/* Distribution points end to end: DPs as directories, packages distributed, refreshed,
 * redistributed, verified, removed; bad arguments refused with nothing changed; a DP that goes
 * away fails alone; a stop in the middle is retried. */

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

static TestEnv env;
static char *dp_root[4];
static char *dp_nal[4];
static char *dp_path[3]; /* the SMS_DistributionPointInfo objects of dp1-dp3 */

/* --- helpers ----------------------------------------------------------------------------------- */

/* The state row of a package on a DP: State and SourceVersion; -1 when there is no row. */
static int dp_state(const char *package_id, int dp, uint32_t *ret_version) {
        return test_dp_state(&env, package_id, dp_nal[dp], ret_version);
}

/* Waits until the package's state on a DP is `want` (with `version` when not 0). */
static void wait_state(const char *package_id, int dp, int want, uint32_t version) {
        uint32_t v = 0;
        int s = -2;
        TEST_WAIT_UNTIL((s = dp_state(package_id, dp, &v)) == want && (version == 0 || v == version),
                        "%s on DP %d: state %d version %u, want %d version %u", package_id, dp, s, v, want, version);
}

/* stat() of the path the format makes: false when it fails. */
static bool stat_fmt(struct stat *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool stat_fmt(struct stat *st, const char *fmt, ...) {
        char path[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(path, sizeof path, fmt, ap);
        va_end(ap);
        return stat(path, st) == 0;
}

#define file_exists(...) stat_fmt(&(struct stat) {}, __VA_ARGS__)

static size_t count_assignments(void) {
        return test_count_rows(&env, "SELECT PackageID FROM SMS_DistributionPoint");
}

static char *new_image_package(const char *name, const char *source, uint32_t flags) {
        char *path = NULL, *job = NULL;
        assert_null(test_create(&env, "SMS_ImagePackage", &path, &job, 4, "{sv}{sv}{sv}{sv}", "Name", "s", name,
                                "PkgSourceFlag", "u", 2, "PkgSourcePath", "s", source, "PkgFlags", "u", flags));
        free(job);
        return path;
}

static char *add_dps(const char *package, char **ret_error, unsigned n, ...) {
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *sites[8], *nals[8];
        va_list ap;
        char *job = NULL;

        va_start(ap, n);
        for (unsigned i = 0; i < n; i++) {
                sites[i] = va_arg(ap, const char *);
                nals[i] = va_arg(ap, const char *);
        }
        va_end(ap);
        assert_int_equal(sd_bus_message_new_method_call(env.bus, &m, "org.smsprov.Provider1", package, BASE,
                                                        "AddDistributionPoints"),
                         0);
        sd_bus_message_open_container(m, 'a', "s");
        for (unsigned i = 0; i < n; i++)
                sd_bus_message_append(m, "s", sites[i]);
        sd_bus_message_close_container(m);
        sd_bus_message_open_container(m, 'a', "s");
        for (unsigned i = 0; i < n && strcmp(sites[0], "MISMATCH") != 0; i++)
                sd_bus_message_append(m, "s", nals[i]);
        sd_bus_message_close_container(m);
        if (sd_bus_call(env.bus, m, 0, &error, &reply) < 0) {
                if (getenv("SMSPROV_TEST_VERBOSE"))
                        fprintf(stderr, "AddDistributionPoints: %s: %s\n", error.name, error.message);
                *ret_error = strdup(error.name);
                sd_bus_error_free(&error);
        } else {
                const char *j;
                sd_bus_message_read(reply, "o", &j);
                job = strdup(j);
                *ret_error = NULL;
        }
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);
        return job;
}

/* --- tests ------------------------------------------------------------------------------------- */

static void test_distribution_points(void **state) {
        /* Registration: NAL path parsed, ServerName and SiteCode derived. */
        for (int i = 0; i < 3; i++) {
                char *path = NULL;
                assert_null(test_create(&env, "SMS_DistributionPointInfo", &path, NULL, 5, "{sv}{sv}{sv}{sv}{sv}", "NALPath",
                                        "s", dp_nal[i], "ContentRoot", "s", dp_root[i], "IsPXE", "b", i == 2, "IsMulticast",
                                        "b", i == 2, "ContentLinkMode", "u", i == 1 ? 1 : 0));
                char *server = test_get_string(&env, path, IFACE "SMS_DistributionPointInfo", "ServerName");
                char want[8];
                snprintf(want, sizeof want, "dp%d", i + 1);
                assert_string_equal(server, want);
                char *site = test_get_string(&env, path, IFACE "SMS_DistributionPointInfo", "SiteCode");
                assert_string_equal(site, "LAB");
                free(server);
                free(site);
                dp_path[i] = path;
        }
        /* A DP of another site may be registered, but gets no content from this site. */
        assert_null(test_create(&env, "SMS_DistributionPointInfo", NULL, NULL, 2, "{sv}{sv}", "NALPath", "s", dp_nal[3],
                                "ContentRoot", "s", dp_root[3]));

        assert_string_equal(test_create(&env, "SMS_DistributionPointInfo", NULL, NULL, 2, "{sv}{sv}", "NALPath", "s",
                                        "\\\\dp9\\", "ContentRoot", "s", dp_root[0]),
                            SMSPROV_ERR("InvalidParameter"));
        /* A missing directory where a DP may be (outside every --dp-root is test-dp-root's). */
        char *missing = NULL;
        assert_true(asprintf(&missing, "%s/dps/nonexistent", env.dir) > 0);
        assert_string_equal(test_create(&env, "SMS_DistributionPointInfo", NULL, NULL, 2, "{sv}{sv}", "NALPath", "s",
                                        "[\"Display=\\\\dp9\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\dp9\\", "ContentRoot", "s",
                                        missing),
                            SMSPROV_ERR("InvalidParameter"));
        free(missing);
        assert_string_equal(test_create(&env, "SMS_DistributionPointInfo", NULL, NULL, 2, "{sv}{sv}", "NALPath", "s",
                                        dp_nal[0], "ContentRoot", "s", dp_root[0]),
                            SMSPROV_ERR("AlreadyExists"));
}

static void test_distribute_refresh_verify_remove(void **state) {
        char *wim = test_env_content_path(&env, "boot.wim"), *err = NULL;
        char *pkg = new_image_package("Distributed image", wim, 0);
        char *id = test_get_string(&env, pkg, BASE, "PackageID");

        /* Bad arguments: nothing changes. */
        size_t before = count_assignments();
        char *job = add_dps(pkg, &err, 1, "MISMATCH", dp_nal[0]);
        assert_string_equal(err, SMSPROV_ERR("InvalidParameter"));
        free(err);
        job = add_dps(pkg, &err, 2, "LAB", dp_nal[0], "LAB", "[\"Display=\\\\nodp\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\nodp\\");
        assert_string_equal(err, SMSPROV_ERR("NotFound"));
        free(err);
        job = add_dps(pkg, &err, 1, "XYZ", dp_nal[3]);
        assert_string_equal(err, SMSPROV_ERR("InvalidParameter"));
        free(err);
        job = add_dps(pkg, &err, 1, "XYZ", dp_nal[0]);
        assert_string_equal(err, SMSPROV_ERR("InvalidParameter"));
        free(err);
        assert_int_equal(count_assignments(), before);

        /* Two DPs: one sharing data with the site library, one copying. */
        job = add_dps(pkg, &err, 2, "LAB", dp_nal[0], "LAB", dp_nal[1]);
        assert_null(err);
        assert_int_equal(test_wait_job(&env, job, NULL), 2);
        free(job);
        wait_state(id, 0, 0, 1);
        wait_state(id, 1, 0, 1);
        struct stat a, b;
        assert_true(stat_fmt(&a, "%s/SCCMContentLib/DataLib/%s/boot.wim", dp_root[0], id));
        assert_true(stat_fmt(&b, "%s/SCCMContentLib/DataLib/%s/boot.wim", dp_root[1], id));
        assert_int_not_equal(a.st_ino, 0);
        assert_int_not_equal(a.st_ino, b.st_ino); /* copy mode: its own inode */

        /* Refresh: a new source version reaches both DPs. */
        assert_int_equal(test_make_winpe_wim(wim, "9", true, 4096, true), 0);
        sd_bus_message *reply = NULL;
        assert_null(test_invoke(&env, pkg, BASE, "RefreshPkgSource", &reply, NULL));
        const char *j;
        sd_bus_message_read(reply, "o", &j);
        assert_int_equal(test_wait_job(&env, j, NULL), 2);
        sd_bus_message_unref(reply);
        assert_int_equal(test_get_u32(&env, pkg, BASE, "SourceVersion"), 2);
        wait_state(id, 0, 0, 2);
        wait_state(id, 1, 0, 2);

        /* RefreshNow on one DP: its lost file comes back; no new source version. */
        char lost[2048];
        snprintf(lost, sizeof lost, "%s/SCCMContentLib/DataLib/%s/boot.wim", dp_root[1], id);
        assert_int_equal(unlink(lost), 0);
        char wmi[2600], *assignment = NULL;
        {
                /* The NAL path's own quotes and backslashes, escaped for the WMI path. */
                char esc[1200], *w = esc;
                for (const char *p = dp_nal[1]; *p; p++) {
                        if (*p == '"' || *p == '\\')
                                *w++ = '\\';
                        *w++ = *p;
                }
                *w = 0;
                snprintf(wmi, sizeof wmi, "SMS_DistributionPoint.PackageID=\"%s\",ServerNALPath=\"%s\",SiteCode=\"LAB\"", id,
                         esc);
        }
        assert_null(test_invoke(&env, ROOT, IFACE "Site", "GetObject", &reply, "s", wmi));
        sd_bus_message_read(reply, "o", &j);
        assignment = strdup(j);
        sd_bus_message_unref(reply);
        assert_null(test_invoke(&env, assignment, IFACE "SMS_DistributionPoint", "Put", NULL, "a{sv}", 1, "RefreshNow",
                                "b", 1));
        TEST_WAIT_UNTIL(file_exists("%s", lost), "RefreshNow to bring back %s", lost);
        assert_int_equal(test_get_u32(&env, pkg, BASE, "SourceVersion"), 2);
        wait_state(id, 1, 0, 2);

        /* VerifyPackage after corrupting a file on a DP: the job fails, the state says so. */
        FILE *f = fopen(lost, "r+e");
        assert_non_null(f);
        fputs("corrupted", f);
        fclose(f);
        assert_null(test_invoke(&env, ROOT "/class/SMS_DistributionPoint", IFACE "SMS_DistributionPoint.Static",
                                "VerifyPackage", &reply, "ss", id, dp_nal[1]));
        sd_bus_message_read(reply, "o", &j);
        assert_int_equal(test_wait_job(&env, j, NULL), 3);
        sd_bus_message_unref(reply);
        assert_int_equal(dp_state(id, 1, NULL), 3);
        /* The other DP verifies clean. */
        assert_null(test_invoke(&env, ROOT "/class/SMS_DistributionPoint", IFACE "SMS_DistributionPoint.Static",
                                "VerifyPackage", &reply, "ss", id, dp_nal[0]));
        sd_bus_message_read(reply, "o", &j);
        assert_int_equal(test_wait_job(&env, j, NULL), 2);
        sd_bus_message_unref(reply);

        /* Nothing to cancel; a package on DPs cannot be deleted. */
        assert_string_equal(test_invoke(&env, ROOT "/class/SMS_DistributionPoint", IFACE "SMS_DistributionPoint.Static",
                                        "CancelDistribution", NULL, "ss", id, dp_nal[0]),
                            SMSPROV_ERR("Failed"));
        assert_string_equal(test_invoke(&env, pkg, BASE, "Delete", NULL, NULL), SMSPROV_ERR("Busy"));
        /* Nor can a DP that holds it. */
        assert_string_equal(test_invoke(&env, dp_path[1], IFACE "SMS_DistributionPointInfo", "Delete", NULL, NULL),
                            SMSPROV_ERR("Busy"));

        /* Removal: REMOVAL_PENDING, then the content and the row are gone. */
        assert_null(test_invoke(&env, assignment, IFACE "SMS_DistributionPoint", "Delete", NULL, NULL));
        TEST_WAIT_UNTIL(dp_state(id, 1, NULL) == -1, "the assignment of %s to DP 1 to go", id);
        assert_false(file_exists("%s/SCCMContentLib/DataLib/%s", dp_root[1], id));
        assert_int_equal(dp_state(id, 0, NULL), 0);

        free(assignment);
        free(id);
        free(pkg);
        free(wim);
}

static void test_pxe_and_multicast(void **state) {
        char *wim = test_env_content_path(&env, "boot.wim"), *path = NULL, *job = NULL, *err = NULL;

        /* A boot image deployed from PXE DPs (PkgFlags 0x800) lands in dp3's PXE store. */
        assert_null(test_create(&env, "SMS_BootImagePackage", &path, &job, 2, "{sv}{sv}", "ImagePath", "s", wim, "PkgFlags",
                                "u", 0x800));
        assert_int_equal(test_wait_job(&env, job, NULL), 2);
        free(job);
        char *id = test_get_string(&env, path, BASE, "PackageID");
        job = add_dps(path, &err, 1, "LAB", dp_nal[2]);
        assert_null(err);
        assert_int_equal(test_wait_job(&env, job, NULL), 2);
        free(job);
        wait_state(id, 2, 0, 1);
        assert_true(file_exists("%s/RemoteInstall/SMSImages/%s/boot.%s.wim", dp_root[2], id, id));

        /* Only via multicast (0x400 with 0x100): refused for a DP without multicast. */
        char *multicast = new_image_package("Multicast only", wim, 0x500);
        size_t before = count_assignments();
        job = add_dps(multicast, &err, 1, "LAB", dp_nal[0]);
        assert_string_equal(err, SMSPROV_ERR("InvalidParameter"));
        free(err);
        assert_int_equal(count_assignments(), before);
        job = add_dps(multicast, &err, 1, "LAB", dp_nal[2]);
        assert_null(err);
        assert_int_equal(test_wait_job(&env, job, NULL), 2);
        free(job);

        free(multicast);
        free(id);
        free(path);
        free(wim);
}

static void test_missing_dp_fails_alone(void **state) {
        char *wim = test_env_content_path(&env, "boot.wim"), *err = NULL;
        char *pkg = new_image_package("Half distributed", wim, 0);
        char *id = test_get_string(&env, pkg, BASE, "PackageID");
        char moved[1024];

        /* dp2 disappears (unmounted, say): the distribution fails there and succeeds on dp1. */
        snprintf(moved, sizeof moved, "%s.away", dp_root[1]);
        assert_int_equal(rename(dp_root[1], moved), 0);
        char *job = add_dps(pkg, &err, 2, "LAB", dp_nal[0], "LAB", dp_nal[1]);
        assert_null(err);
        assert_int_equal(test_wait_job(&env, job, NULL), 3);
        free(job);
        assert_int_equal(dp_state(id, 0, NULL), 0);
        assert_int_equal(dp_state(id, 1, NULL), 3);
        assert_int_equal(rename(moved, dp_root[1]), 0);

        /* AddChangeNotification re-evaluates: the failed DP gets the content now. */
        assert_null(test_invoke(&env, pkg, BASE, "AddChangeNotification", NULL, NULL));
        wait_state(id, 1, 0, 1);

        free(id);
        free(pkg);
        free(wim);
}

/* A package of big.wim named NAME whose distribution to dp2 is held at its start: its path and
 * PackageID, and the job. */
static char *held_distribution(const char *name, char **ret_pkg, char **ret_id) {
        char *big = test_env_content_path(&env, "big.wim"), *err = NULL;

        *ret_pkg = new_image_package(name, big, 0);
        *ret_id = test_get_string(&env, *ret_pkg, BASE, "PackageID");
        test_hold(&env, "Distribute");
        char *job = add_dps(*ret_pkg, &err, 1, "LAB", dp_nal[1]);
        assert_null(err);
        test_wait_held(&env, "Distribute", job);
        free(big);
        return job;
}

static void test_restart_mid_distribution_resumes(void **state) {
        char *pkg, *id;

        /* Killed while the distribution runs (held at its start). */
        char *job = held_distribution("Big image", &pkg, &id);
        assert_int_equal(test_env_stop_daemon(&env, SIGKILL), 0);
        test_release(&env, "Distribute");
        assert_int_equal(test_env_start_daemon(&env, NULL), 0);
        /* The interrupted distribution is retried at start and ends installed. */
        wait_state(id, 1, 0, 1);
        free(job);
        free(id);
        free(pkg);
}

/* An OS install package's content is its setup folder: the tree arrives on the DP as it is. */
static void test_os_install_package(void **state) {
        char *setup = test_env_content_path(&env, "setup"), *path = NULL, *job = NULL, *err = NULL;
        char *sources = test_env_content_path(&env, "setup/sources"), *wim = test_env_content_path(&env, "setup/sources/install.wim");
        char *readme = test_env_content_path(&env, "setup/setup.exe");

        mkdir(setup, 0755);
        mkdir(sources, 0755);
        assert_int_equal(test_make_winpe_wim(wim, "9", false, 0, true), 0);
        assert_int_equal(test_write_file(readme, "MZ", 2), 0);
        assert_null(test_create(&env, "SMS_OperatingSystemInstallPackage", &path, &job, 3, "{sv}{sv}{sv}", "Name", "s",
                                "Upgrade", "PkgSourceFlag", "u", 2, "PkgSourcePath", "s", setup));
        free(job);
        char *id = test_get_string(&env, path, BASE, "PackageID");
        job = add_dps(path, &err, 1, "LAB", dp_nal[0]);
        assert_null(err);
        assert_int_equal(test_wait_job(&env, job, NULL), 2);
        wait_state(id, 0, 0, 1);
        assert_true(file_exists("%s/SCCMContentLib/DataLib/%s/sources/install.wim", dp_root[0], id));
        assert_true(file_exists("%s/SCCMContentLib/DataLib/%s/setup.exe", dp_root[0], id));
        free(job);
        free(id);
        free(path);
        free(readme);
        free(wim);
        free(sources);
        free(setup);
}

/* CancelDistribution stops a distribution to one DP: INSTALL_FAILED there. */
static void test_cancel_distribution(void **state) {
        char *pkg, *id;

        /* The distribution is held at its start while CancelDistribution arrives, then goes on
         * and stops at that DP. */
        char *job = held_distribution("Canceled", &pkg, &id);
        assert_null(test_invoke(&env, ROOT "/class/SMS_DistributionPoint", IFACE "SMS_DistributionPoint.Static",
                                "CancelDistribution", NULL, "ss", id, dp_nal[1]));
        test_release(&env, "Distribute");
        assert_int_not_equal(test_wait_job(&env, job, NULL), 2);
        assert_int_equal(dp_state(id, 1, NULL), 3);
        free(job);
        free(id);
        free(pkg);
}

/* SMS_ScheduleMethods: the documented interval string (reference §7.3) both ways. */
static void test_schedule_methods(void **state) {
        static const char *const example = "791378800008000055147880001B200055177880001E2000";
        sd_bus_message *reply = NULL;
        const char *classes[3] = {}, *name, *s;
        uint32_t day = 0;
        size_t n = 0;

        assert_null(test_invoke(&env, ROOT "/class/SMS_ScheduleMethods", IFACE "SMS_ScheduleMethods.Static",
                                "ReadFromString", &reply, "s", example));
        assert_true(sd_bus_message_enter_container(reply, 'a', "(sa{sv})") > 0);
        while (sd_bus_message_enter_container(reply, 'r', "sa{sv}") > 0) {
                assert_true(n < 3);
                sd_bus_message_read(reply, "s", &classes[n]);
                sd_bus_message_enter_container(reply, 'a', "{sv}");
                while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                        sd_bus_message_read(reply, "s", &name);
                        if (n == 1 && strcmp(name, "Day") == 0)
                                sd_bus_message_read(reply, "v", "u", &day);
                        else
                                sd_bus_message_skip(reply, "v");
                        sd_bus_message_exit_container(reply);
                }
                sd_bus_message_exit_container(reply);
                sd_bus_message_exit_container(reply);
                n++;
        }
        assert_int_equal(n, 3);
        assert_string_equal(classes[0], "SMS_ST_NonRecurring");
        assert_string_equal(classes[1], "SMS_ST_RecurWeekly");
        assert_int_equal(day, 3);
        /* Back to the same string: send the tokens we got. */
        sd_bus_message *m = NULL, *back = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        assert_true(sd_bus_message_rewind(reply, true) >= 0);
        assert_int_equal(sd_bus_message_new_method_call(env.bus, &m, "org.smsprov.Provider1", ROOT "/class/SMS_ScheduleMethods",
                                                        IFACE "SMS_ScheduleMethods.Static", "WriteToString"),
                         0);
        assert_true(sd_bus_message_copy(m, reply, true) >= 0);
        assert_true(sd_bus_call(env.bus, m, 0, &error, &back) >= 0);
        sd_bus_message_read(back, "s", &s);
        assert_string_equal(s, example);
        sd_bus_message_unref(back);
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);

        assert_string_equal(test_invoke(&env, ROOT "/class/SMS_ScheduleMethods", IFACE "SMS_ScheduleMethods.Static",
                                        "ReadFromString", NULL, "s", "0001200000"),
                            SMSPROV_ERR("InvalidParameter"));
        /* 16 bytes, the first of them the start of a 3-byte character: answered (an error message
         * quoting that byte alone was not UTF-8, and sd-bus sent no reply at all). */
        assert_string_equal(test_invoke(&env, ROOT "/class/SMS_ScheduleMethods", IFACE "SMS_ScheduleMethods.Static",
                                        "ReadFromString", NULL, "s", "\xe8\xa3\x94" "aaaaaaaaaaaaa"),
                            SMSPROV_ERR("InvalidParameter"));
        assert_string_equal(test_invoke(&env, ROOT, IFACE "Site", "ExecQuery", NULL, "s",
                                        "SELECT * FROM SMS_ScheduleMethods"),
                            SMSPROV_ERR("InvalidQuery"));
}

/* A one-minute RecurInterval refreshes the package (the daemon's schedule clock runs 60× faster
 * here), and the schedule still runs after a restart. */
static void test_refresh_schedule_fires(void **state) {
        static const char *const fast[] = { "--time-scale=60", NULL };
        char *wim = test_env_content_path(&env, "boot.wim");
        char *pkg = new_image_package("Scheduled", wim, 0);
        struct timespec ts;
        sd_bus_message *m = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;

        assert_int_equal(test_env_stop_daemon(&env, SIGTERM), 0);
        assert_int_equal(test_env_start_daemon(&env, fast), 0);
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t start = ((uint64_t) ts.tv_sec - 50) * 1000000ULL;
        assert_int_equal(sd_bus_message_new_method_call(env.bus, &m, "org.smsprov.Provider1", pkg, BASE, "Put"), 0);
        sd_bus_message_open_container(m, 'a', "{sv}");
        sd_bus_message_open_container(m, 'e', "sv");
        sd_bus_message_append(m, "s", "RefreshSchedule");
        sd_bus_message_open_container(m, 'v', "a(sa{sv})");
        sd_bus_message_append(m, "a(sa{sv})", 1, "SMS_ST_RecurInterval", 3, "MinuteSpan", "u", 1, "IsGMT", "b", 1,
                              "StartTime", "t", start);
        sd_bus_message_close_container(m);
        sd_bus_message_close_container(m);
        sd_bus_message_close_container(m);
        assert_true(sd_bus_call(env.bus, m, 0, &error, NULL) >= 0);
        sd_bus_message_unref(m);

        uint32_t v = 1;
        TEST_WAIT_UNTIL((v = test_get_u32(&env, pkg, BASE, "SourceVersion")) >= 2,
                        "the schedule to refresh %s (SourceVersion %u)", pkg, v);

        /* Stored, so it runs again after a restart. */
        assert_int_equal(test_env_stop_daemon(&env, SIGTERM), 0);
        assert_int_equal(test_env_start_daemon(&env, fast), 0);
        uint32_t after = v;
        TEST_WAIT_UNTIL((after = test_get_u32(&env, pkg, BASE, "SourceVersion")) > v,
                        "the stored schedule to refresh %s again after a restart (SourceVersion %u)", pkg, after);

        assert_int_equal(test_env_stop_daemon(&env, SIGTERM), 0);
        assert_int_equal(test_env_start_daemon(&env, NULL), 0);
        free(pkg);
        free(wim);
}

/* --- set-up ------------------------------------------------------------------------------------ */

static int setup(void **state) {
        if (test_env_start(&env) < 0)
                return -1;
        free(test_env_make_wim(&env, "boot.wim", 0, true));
        free(test_env_make_wim(&env, "big.wim", 64u << 20, false));
        for (int i = 0; i < 4; i++) {
                assert_true(asprintf(&dp_root[i], "%s/dps/dp%d", env.dir, i + 1) > 0);
                char *parent = NULL;
                assert_true(asprintf(&parent, "%s/dps", env.dir) > 0);
                mkdir(parent, 0755);
                free(parent);
                assert_int_equal(mkdir(dp_root[i], 0755), 0);
                assert_true(asprintf(&dp_nal[i], "[\"Display=\\\\dp%d\\\"]MSWNET:[\"SMS_SITE=%s\"]\\\\dp%d\\", i + 1,
                                     i == 3 ? "XYZ" : "LAB", i + 1) > 0);
        }
        *state = &env;
        return 0;
}

static int teardown(void **state) {
        for (int i = 0; i < 4; i++) {
                free(dp_root[i]);
                free(dp_nal[i]);
        }
        for (int i = 0; i < 3; i++)
                free(dp_path[i]);
        return test_env_stop(&env);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_distribution_points),
                cmocka_unit_test(test_distribute_refresh_verify_remove),
                cmocka_unit_test(test_pxe_and_multicast),
                cmocka_unit_test(test_missing_dp_fails_alone),
                cmocka_unit_test(test_restart_mid_distribution_resumes),
                cmocka_unit_test(test_os_install_package),
                cmocka_unit_test(test_cancel_distribution),
                cmocka_unit_test(test_schedule_methods),
                cmocka_unit_test(test_refresh_schedule_fires),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, setup, teardown);
}
