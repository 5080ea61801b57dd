/* SPDX-License-Identifier: MIT */

/* The first steps of the scripts admins already have (issue 15), step for step as the SDK samples
 * take them, with only the transport changed: find the site code and the provider's namespace in
 * SMS_ProviderLocation, find the distribution points in SMS_SystemResourceList, and hand their
 * NAL paths to AddDistributionPoints (or to a new SMS_DistributionPoint). Then the WQL and the WMI
 * paths such scripts write: names in any case, quoted numbers, bare integer keys, '[[]' in LIKE,
 * the namespace prefix. The two classes are read-only and follow the DPs as they come and go. */

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
#define DP_ROLE "SMS Distribution Point"

static TestEnv env;
static char host[256];
static char wim[4096];

/* One row of a query: its object path and the string (or boolean, as "true"/"false") values of
 * the properties asked for. */
typedef struct Row {
        char *path;
        char *values[4];
} Row;

static void rows_free(Row *rows, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(rows[i].path);
                for (size_t k = 0; k < ELEMENTSOF(rows[i].values); k++)
                        free(rows[i].values[k]);
        }
        free(rows);
}

/* Runs Site.ExecQuery, which must succeed, and returns its rows with the values of the properties
 * named in props (NULL-terminated, at most four). */
static size_t query(const char *wql, const char *const *props, Row **ret) {
        sd_bus_message *reply = NULL;
        Row *rows = NULL;
        size_t n = 0;

        assert_null(test_invoke(&env, ROOT, IFACE "Site", "ExecQuery", &reply, "s", wql));
        assert_true(sd_bus_message_enter_container(reply, 'a', "(oa{sv})") > 0);
        while (sd_bus_message_enter_container(reply, 'r', "oa{sv}") > 0) {
                const char *path;
                rows = realloc(rows, (n + 1) * sizeof(Row));
                assert_non_null(rows);
                rows[n] = (Row) {};
                assert_true(sd_bus_message_read(reply, "o", &path) > 0);
                rows[n].path = strdup(path);
                assert_true(sd_bus_message_enter_container(reply, 'a', "{sv}") > 0);
                while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                        const char *name, *contents = NULL;
                        size_t k = 0;
                        assert_true(sd_bus_message_read(reply, "s", &name) > 0);
                        while (props[k] && !streq(props[k], name))
                                k++;
                        assert_true(sd_bus_message_peek_type(reply, NULL, &contents) > 0);
                        if (!props[k])
                                assert_true(sd_bus_message_skip(reply, "v") > 0);
                        else if (streq(contents, "b")) {
                                int b = 0;
                                assert_true(sd_bus_message_read(reply, "v", "b", &b) > 0);
                                rows[n].values[k] = strdup(b ? "true" : "false");
                        } else {
                                const char *s;
                                assert_true(sd_bus_message_read(reply, "v", "s", &s) > 0);
                                rows[n].values[k] = strdup(s);
                        }
                        assert_true(sd_bus_message_exit_container(reply) > 0);
                }
                assert_true(sd_bus_message_exit_container(reply) > 0);
                assert_true(sd_bus_message_exit_container(reply) > 0);
                n++;
        }
        sd_bus_message_unref(reply);
        *ret = rows;
        return n;
}

/* Site.GetObject: the object path, or the error's name (both owned by the caller). */
static char *get_object(const char *wmi_path) {
        sd_bus_message *reply = NULL;
        const char *error, *path;
        char *s;

        error = test_invoke(&env, ROOT, IFACE "Site", "GetObject", &reply, "s", wmi_path);
        if (error)
                return strdup(error);
        assert_true(sd_bus_message_read(reply, "o", &path) > 0);
        s = strdup(path);
        sd_bus_message_unref(reply);
        return s;
}

static void assert_get_object(const char *wmi_path, const char *expected) {
        _cleanup_free_ char *got = get_object(wmi_path);
        if (!streq(got, expected))
                fail_msg("GetObject %s\n  got:      %s\n  expected: %s", wmi_path, got, expected);
}

/* AddDistributionPoints(SiteCode[], NALPath[]) on a package: its job, or NULL with the error's
 * name in *ret_error. */
static char *add_distribution_points(const char *package, char *const *sites, char *const *nals, size_t n,
                                     const char **ret_error) {
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char *job = NULL;

        assert_int_equal(sd_bus_message_new_method_call(env.bus, &m, "org.smsprov.Provider1", package,
                                                        IFACE "SMS_PackageBaseclass", "AddDistributionPoints"),
                         0);
        for (int array = 0; array < 2; array++) {
                assert_true(sd_bus_message_open_container(m, 'a', "s") >= 0);
                for (size_t i = 0; i < n; i++)
                        assert_true(sd_bus_message_append(m, "s", array == 0 ? sites[i] : nals[i]) >= 0);
                assert_true(sd_bus_message_close_container(m) >= 0);
        }
        *ret_error = NULL;
        if (sd_bus_call(env.bus, m, TEST_CALL_TIMEOUT_USEC, &error, &reply) < 0) {
                static char name[256];
                snprintf(name, sizeof name, "%s", error.name ? error.name : "");
                *ret_error = name;
        } else {
                const char *path;
                assert_true(sd_bus_message_read(reply, "o", &path) > 0);
                job = strdup(path);
        }
        sd_bus_error_free(&error);
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);
        return job;
}

static char *dp_nal(const char *server) {
        char *nal = NULL;
        assert_true(asprintf(&nal, "[\"Display=\\\\%s\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\%s\\", server, server) > 0);
        return nal;
}

/* Registers a distribution point (SMS_DistributionPointInfo) in a folder of its own. */
static char *register_dp(const char *server) {
        _cleanup_free_ char *nal = dp_nal(server), *root = NULL;
        char *path = NULL;

        assert_true(asprintf(&root, "%s/dps/%s", env.dir, server) > 0);
        assert_int_equal(mkdir(root, 0755), 0);
        assert_null(test_create(&env, "SMS_DistributionPointInfo", &path, NULL, 2, "{sv}{sv}", "NALPath", "s", nal,
                                "ContentRoot", "s", root));
        return path;
}

static char *new_image_package(const char *name) {
        char *path = NULL, *job = NULL;
        assert_null(test_create(&env, "SMS_ImagePackage", &path, &job, 3, "{sv}{sv}{sv}", "Name", "s", name,
                                "PkgSourceFlag", "u", 2, "PkgSourcePath", "s", wim));
        free(job);
        return path;
}

/* --- tests ------------------------------------------------------------------------------------- */

/* Step one of most scripts: SELECT * FROM SMS_ProviderLocation WHERE ProviderForLocalSite = true,
 * and the site code and namespace from its one row. The namespace prefixes the WMI paths the
 * script builds. The class cannot be written. */
static void test_site_code_from_provider_location(void **state) {
        static const char *const props[] = { "SiteCode", "Machine", "NamespacePath", "ProviderForLocalSite", NULL };
        _cleanup_free_ char *site_code = test_get_string(&env, ROOT, IFACE "Site", "SiteCode"), *namespace = NULL,
                            *wmi = NULL, *path = NULL;
        Row *rows = NULL;

        assert_int_equal(query("SELECT * FROM SMS_ProviderLocation WHERE ProviderForLocalSite = true", props, &rows), 1);
        assert_string_equal(rows[0].values[0], site_code);
        assert_string_equal(rows[0].values[1], host);
        assert_true(asprintf(&namespace, "\\\\%s\\root\\sms\\site_%s", host, site_code) > 0);
        assert_string_equal(rows[0].values[2], namespace);
        assert_string_equal(rows[0].values[3], "true");

        /* GetObject by the key, in any case and order, finds the row's path; its properties read. */
        assert_true(asprintf(&wmi, "sms_providerlocation.MACHINE=\"%s\",sitecode='lab'", host) > 0);
        assert_get_object(wmi, rows[0].path);
        path = test_get_string(&env, rows[0].path, IFACE "SMS_ProviderLocation", "SiteCode");
        assert_string_equal(path, "LAB");

        /* Read-only: no Create, no Put, nothing changed. */
        assert_string_equal(test_create(&env, "SMS_ProviderLocation", NULL, NULL, 1, "{sv}", "SiteCode", "s", "XYZ"),
                            SMSPROV_ERR("NotSupported"));
        assert_string_equal(test_invoke(&env, rows[0].path, IFACE "SMS_ProviderLocation", "Put", NULL, "a{sv}", 1,
                                        "Machine", "s", "elsewhere"),
                            "org.freedesktop.DBus.Error.UnknownMethod");
        assert_string_equal(test_invoke(&env, rows[0].path, IFACE "SMS_ProviderLocation", "Delete", NULL, NULL),
                            "org.freedesktop.DBus.Error.UnknownMethod");
        assert_int_equal(test_count_rows(&env, "SELECT * FROM SMS_ProviderLocation"), 1);
        free(path);
        path = test_get_string(&env, rows[0].path, IFACE "SMS_ProviderLocation", "Machine");
        assert_string_equal(path, host);
        rows_free(rows, 1);
}

/* The SDK's distribution samples: the DPs from SMS_SystemResourceList WHERE RoleName = 'SMS
 * Distribution Point' AND SiteCode = <the site code>, their NALPath and SiteCode handed to
 * AddDistributionPoints; or, the other way, copied into a new SMS_DistributionPoint. The content
 * arrives on each. */
static void test_distribute_to_dps_found_in_system_resource_list(void **state) {
        static const char *const props[] = { "NALPath", "SiteCode", "ServerName", "RoleName", NULL };
        _cleanup_free_ char *dp1 = register_dp("dp1"), *dp2 = register_dp("dp2"), *site_code = NULL, *wql = NULL;
        _cleanup_free_ char *first = new_image_package("Windows 11 (scripts)"), *second = NULL, *job = NULL;
        char *sites[2] = {}, *nals[2] = {};
        const char *error;
        Row *rows = NULL;
        size_t n;

        assert_non_null(dp1);
        assert_non_null(dp2);
        site_code = test_get_string(&env, ROOT, IFACE "Site", "SiteCode");
        assert_true(asprintf(&wql,
                             "SELECT * FROM SMS_SystemResourceList WHERE RoleName = 'SMS Distribution Point' AND "
                             "SiteCode = '%s'",
                             site_code) > 0);
        n = query(wql, props, &rows);
        assert_int_equal(n, 2);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *nal = NULL;
                assert_string_equal(rows[i].values[3], DP_ROLE);
                assert_string_equal(rows[i].values[1], site_code);
                nal = dp_nal(rows[i].values[2]);
                assert_string_equal(rows[i].values[0], nal);
                sites[i] = rows[i].values[1];
                nals[i] = rows[i].values[0];
        }

        job = add_distribution_points(first, sites, nals, n, &error);
        assert_null(error);
        assert_int_equal(test_wait_job(&env, job, NULL), 2);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(test_dp_state(&env, strrchr(first, '/') + 1, nals[i], NULL), 0); /* INSTALLED */

        /* The assignment as an instance: PackageID, and NALPath and SiteCode copied from the row. */
        second = new_image_package("Windows 11 (assigned)");
        free(job);
        job = NULL;
        assert_null(test_create(&env, "SMS_DistributionPoint", NULL, &job, 3, "{sv}{sv}{sv}", "PackageID", "s",
                                strrchr(second, '/') + 1, "ServerNALPath", "s", nals[1], "SiteCode", "s", sites[1]));
        assert_int_equal(test_wait_job(&env, job, NULL), 2);
        assert_int_equal(test_dp_state(&env, strrchr(second, '/') + 1, nals[1], NULL), 0);

        /* This host's roles are no DPs: handing them to AddDistributionPoints is refused. */
        rows_free(rows, n);
        n = query("SELECT * FROM SMS_SystemResourceList WHERE RoleName <> 'SMS Distribution Point' ORDER BY RoleName",
                  props, &rows);
        assert_int_equal(n, 2);
        assert_string_equal(rows[0].values[3], "SMS Provider");
        assert_string_equal(rows[1].values[3], "SMS Site Server");
        assert_string_equal(rows[1].values[2], host);
        free(job);
        job = add_distribution_points(first, &rows[1].values[1], &rows[1].values[0], 1, &error);
        assert_null(job);
        assert_non_null(error);
        assert_true(strncmp(error, SMSPROV_ERR(""), strlen(SMSPROV_ERR(""))) == 0);
        rows_free(rows, n);
}

/* The rows follow SMS_DistributionPointInfo: a DP registered has its row, a DP removed has none,
 * and its path no longer resolves. Nothing of the class can be written. */
static void test_system_resource_list_follows_dps(void **state) {
        static const char *const props[] = { "NALPath", NULL };
        _cleanup_free_ char *dp = register_dp("dp9"), *nal = dp_nal("dp9"), *wql = NULL, *row_path = NULL;
        _cleanup_free_ char *missing = NULL;
        size_t before = test_count_rows(&env, "SELECT * FROM SMS_SystemResourceList");
        Row *rows = NULL;

        assert_true(asprintf(&wql, "SELECT NALPath FROM SMS_SystemResourceList WHERE ServerName = 'DP9'") > 0);
        assert_int_equal(query(wql, props, &rows), 1);
        assert_string_equal(rows[0].values[0], nal);
        row_path = strdup(rows[0].path);
        rows_free(rows, 1);
        _cleanup_free_ char *server = test_get_string(&env, row_path, IFACE "SMS_SystemResourceList", "ServerName");
        assert_string_equal(server, "dp9");
        assert_string_equal(test_invoke(&env, row_path, IFACE "SMS_SystemResourceList", "Put", NULL, "a{sv}", 1,
                                        "ServerName", "s", "x"),
                            "org.freedesktop.DBus.Error.UnknownMethod");
        assert_string_equal(test_create(&env, "SMS_SystemResourceList", NULL, NULL, 2, "{sv}{sv}", "NALPath", "s", nal,
                                        "RoleName", "s", DP_ROLE),
                            SMSPROV_ERR("NotSupported"));

        assert_null(test_invoke(&env, dp, IFACE "SMS_DistributionPointInfo", "Delete", NULL, NULL));
        assert_int_equal(test_count_rows(&env, wql), 0);
        assert_int_equal(test_count_rows(&env, "SELECT * FROM SMS_SystemResourceList"), before - 1);
        assert_non_null(test_invoke(&env, row_path, "org.freedesktop.DBus.Properties", "Get", NULL, "ss",
                                    IFACE "SMS_SystemResourceList", "ServerName"));
        assert_true(asprintf(&missing,
                             "SMS_SystemResourceList.NALPath=\"[\\\"Display=\\\\\\\\dp9\\\\\\\"]MSWNET:[\\\"SMS_SITE=LAB\\\"]"
                             "\\\\\\\\dp9\\\\\",RoleName=\"SMS Distribution Point\"") > 0);
        assert_get_object(missing, SMSPROV_ERR("NotFound"));
}

/* WQL and WMI paths as scripts write them, over the bus. */
static void test_wql_and_paths_as_scripts_write(void **state) {
        static const char *const props[] = { "Name", "NALPath", NULL };
        _cleanup_free_ char *package = new_image_package("Boot [x64] (scripts)"), *wmi = NULL, *id = NULL;
        _cleanup_free_ char *namespace = NULL;
        Row *rows = NULL;
        size_t n;

        id = strdup(strrchr(package, '/') + 1);
        /* names in any case, a quoted number for an integer, '[[]' for a literal '[' */
        n = query("select name from sms_imagepackage where NAME like '%[[]x64]%' and pkgsourceflag = '2'", props, &rows);
        assert_int_equal(n, 1);
        assert_string_equal(rows[0].values[0], "Boot [x64] (scripts)");
        assert_string_equal(rows[0].path, package);
        rows_free(rows, n);
        n = query("SELECT * FROM sms_systemresourcelist WHERE rolename = 'sms distribution point' AND "
                  "nalpath LIKE '[[]\"Display=%[[]\"SMS_SITE=LAB\"]%'",
                  props, &rows);
        assert_int_equal(n, test_count_rows(&env, "SELECT * FROM SMS_SystemResourceList WHERE RoleName = "
                                                  "'SMS Distribution Point'"));
        assert_true(n >= 1);
        rows_free(rows, n);
        assert_int_equal(test_count_rows(&env, "SELECT * FROM SMS_OSDeploymentKitWinPEOptionalComponent WHERE "
                                               "LanguageID = '1033' AND UniqueID IS IN (52, '40')"),
                         2);

        /* paths: names in any case, the namespace from SMS_ProviderLocation, bare integer keys */
        assert_true(asprintf(&wmi, "sms_imagepackage.packageid=\"%s\"", id) > 0);
        assert_get_object(wmi, package);
        n = query("SELECT NamespacePath FROM SMS_ProviderLocation", (const char *const[]) { "NamespacePath", NULL },
                  &rows);
        assert_int_equal(n, 1);
        namespace = strdup(rows[0].values[0]);
        rows_free(rows, n);
        free(wmi);
        assert_true(asprintf(&wmi, "%s:SMS_PackageBaseclass.PackageID='%s'", namespace, id) > 0);
        assert_get_object(wmi, package);
        free(wmi);
        assert_true(asprintf(&wmi, "\\\\.\\root\\sms\\site_LAB:SMS_ImagePackage.PackageID=\"%s\"", id) > 0);
        assert_get_object(wmi, package);
        assert_get_object("SMS_OSDeploymentKitWinPEOptionalComponent.UniqueID=52",
                          ROOT "/SMS_OSDeploymentKitWinPEOptionalComponent/52");
        assert_get_object("sms_osdeploymentkitwinpeoptionalcomponent.uniqueid='52'",
                          ROOT "/SMS_OSDeploymentKitWinPEOptionalComponent/52");
        assert_get_object("SMS_StatusMessage.RecordID=1", ROOT "/SMS_StatusMessage/1");
        assert_get_object("SMS_OSDeploymentKitWinPEOptionalComponent.UniqueID=52x", SMSPROV_ERR("InvalidParameter"));
        assert_get_object("SMS_OSDeploymentKitWinPEOptionalComponent.UniqueID=99999", SMSPROV_ERR("NotFound"));
        assert_get_object("SMS_NoSuchClass.ID=1", SMSPROV_ERR("InvalidClass"));
}

static int setup(void **state) {
        char *dps = NULL;

        if (test_env_start(&env) < 0)
                return -1;
        if (gethostname(host, sizeof host - 1) < 0)
                return -1;
        snprintf(wim, sizeof wim, "%s/os.wim", env.content_dir);
        if (test_make_winpe_wim(wim, "9", true, 0, true) < 0)
                return -1;
        if (asprintf(&dps, "%s/dps", env.dir) < 0 || mkdir(dps, 0755) < 0)
                return -1;
        free(dps);
        *state = &env;
        return 0;
}

/* The steps in the order a script takes them: the DPs the distribution registers stay for the
 * tests after it. */
static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_site_code_from_provider_location),
        cmocka_unit_test(test_distribute_to_dps_found_in_system_resource_list),
        cmocka_unit_test(test_system_resource_list_follows_dps),
        cmocka_unit_test(test_wql_and_paths_as_scripts_write),
};

static int teardown(void **state) {
        return test_env_stop(&env);
}

int main(void) {
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, setup, teardown);
}
