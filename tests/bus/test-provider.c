/* SPDX-License-Identifier: MIT */

/* The provider end to end: a private dbus-daemon, the real smsprovd, an sd-bus client. Every
 * class is created, every property read and written the way a script would, and every bad input
 * gets its named error and changes nothing. */

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <libpq-fe.h>
#include <sqlite3.h>
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
#include "test-env.h"
#include "../helpers/test-db.h"

#define ROOT "/org/smsprov/Provider1"
#define IFACE "org.smsprov.Provider1."
#define CLASS_IFACE IFACE "Class"
#define BASE_IFACE IFACE "SMS_PackageBaseclass"

static const char *const package_classes[] = {
        "SMS_BootImagePackage",
        "SMS_ImagePackage",
        "SMS_OperatingSystemInstallPackage",
};

/* --- helpers ----------------------------------------------------------------------------------- */

typedef struct SchemaEntry {
        char name[64];
        char type[32];
        char qualifiers[256]; /* ",key,read,lazy," */
} SchemaEntry;

static size_t read_schema(TestEnv *env, const char *class_name, SchemaEntry *out, size_t max) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        char path[256];
        size_t n = 0;
        const char *name, *type;

        snprintf(path, sizeof path, ROOT "/class/%s", class_name);
        assert_int_equal(sd_bus_get_property(env->bus, "org.smsprov.Provider1", path, CLASS_IFACE, "PropertySchema",
                                             &error, &reply, "a(ssas)"),
                         0);
        assert_true(sd_bus_message_enter_container(reply, 'a', "(ssas)") > 0);
        while (sd_bus_message_enter_container(reply, 'r', "ssas") > 0) {
                char **q = NULL;
                assert_true(sd_bus_message_read(reply, "ss", &name, &type) > 0);
                assert_true(sd_bus_message_read_strv(reply, &q) >= 0);
                assert_true(n < max);
                snprintf(out[n].name, sizeof out[n].name, "%s", name);
                snprintf(out[n].type, sizeof out[n].type, "%s", type);
                strcpy(out[n].qualifiers, ",");
                for (char **i = q; i && *i; i++) {
                        strncat(out[n].qualifiers, *i, sizeof out[n].qualifiers - strlen(out[n].qualifiers) - 2);
                        strcat(out[n].qualifiers, ",");
                        free(*i);
                }
                free(q);
                n++;
                sd_bus_message_exit_container(reply);
        }
        sd_bus_message_unref(reply);
        return n;
}

static bool has_qualifier(const SchemaEntry *s, const char *q) {
        char needle[64];
        snprintf(needle, sizeof needle, ",%s,", q);
        return strstr(s->qualifiers, needle) != NULL;
}

static bool is_lazy(const SchemaEntry *s) {
        return has_qualifier(s, "lazy") || has_qualifier(s, "large");
}

static const char *interface_of(TestEnv *env, const char *class_name, const char *prop) {
        /* The base class's properties live on the base interface. */
        static SchemaEntry base[128];
        static size_t n_base;
        static char iface[128];
        if (n_base == 0)
                n_base = read_schema(env, "SMS_PackageBaseclass", base, 128);
        for (size_t i = 0; i < n_base; i++)
                if (strcmp(base[i].name, prop) == 0)
                        return BASE_IFACE;
        snprintf(iface, sizeof iface, IFACE "%s", class_name);
        return iface;
}

/* Names present in a GetAll of one interface. */
static bool get_all_has(TestEnv *env, const char *path, const char *iface, const char *prop) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *name;
        bool found = false;

        assert_int_equal(sd_bus_call_method(env->bus, "org.smsprov.Provider1", path, "org.freedesktop.DBus.Properties",
                                            "GetAll", &error, &reply, "s", iface),
                         1);
        assert_true(sd_bus_message_enter_container(reply, 'a', "{sv}") > 0);
        while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                assert_true(sd_bus_message_read(reply, "s", &name) > 0);
                if (strcmp(name, prop) == 0)
                        found = true;
                sd_bus_message_skip(reply, "v");
                sd_bus_message_exit_container(reply);
        }
        sd_bus_message_unref(reply);
        return found;
}

/* Put with one property; returns the error name or NULL. */
static const char *put_v(TestEnv *env, const char *path, unsigned n, const char *types, ...) {
        static char name[256];
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL;
        va_list ap;
        int r;

        assert_int_equal(sd_bus_message_new_method_call(env->bus, &m, "org.smsprov.Provider1", path, BASE_IFACE, "Put"),
                         0);
        sd_bus_message_open_container(m, 'a', "{sv}");
        if (n) {
                va_start(ap, types);
                assert_true(sd_bus_message_appendv(m, types, ap) >= 0);
                va_end(ap);
        }
        sd_bus_message_close_container(m);
        r = sd_bus_call(env->bus, m, 0, &error, NULL);
        sd_bus_message_unref(m);
        if (r >= 0)
                return NULL;
        snprintf(name, sizeof name, "%s", error.name);
        if (getenv("SMSPROV_TEST_VERBOSE"))
                fprintf(stderr, "Put: %s: %s\n", error.name, error.message);
        sd_bus_error_free(&error);
        return name;
}

static size_t query_count(TestEnv *env, const char *wql, const char **ret_error) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        static char name[256];
        size_t n = 0;

        *ret_error = NULL;
        if (sd_bus_call_method(env->bus, "org.smsprov.Provider1", ROOT, IFACE "Site", "ExecQuery", &error, &reply, "s",
                               wql) < 0) {
                snprintf(name, sizeof name, "%s", error.name);
                if (getenv("SMSPROV_TEST_VERBOSE"))
                        fprintf(stderr, "%s: %s: %s\n", wql, error.name, error.message);
                sd_bus_error_free(&error);
                *ret_error = name;
                return 0;
        }
        assert_true(sd_bus_message_enter_container(reply, 'a', "(oa{sv})") > 0);
        while (sd_bus_message_skip(reply, "(oa{sv})") > 0)
                n++;
        sd_bus_message_unref(reply);
        return n;
}

/* Waits until no job of the site is queued or running, so that tests see settled packages. */
static void wait_jobs_idle(TestEnv *env) {
        const char *err;
        TEST_WAIT_UNTIL(query_count(env, "SELECT * FROM SMS_PackageBaseclass WHERE ActionInProgress <> 0", &err) == 0,
                        "every build of the site to end");
}

/* A boot image from the test WIM, its first build done. */
static char *new_boot_image(TestEnv *env, const char *name) {
        char *wim = test_env_content_path(env, "boot.wim");
        char *path = NULL;
        const char *err = test_create(env, "SMS_BootImagePackage", &path, NULL, 2, "{sv}{sv}", "Name", "s", name,
                                      "ImagePath", "s", wim);
        free(wim);
        assert_null(err);
        wait_jobs_idle(env);
        return path;
}

/* --- tests ------------------------------------------------------------------------------------- */

static void test_site_properties(void **state) {
        TestEnv *env = *state;
        char *code = test_get_string(env, ROOT, IFACE "Site", "SiteCode");
        assert_string_equal(code, "LAB");
        free(code);
        char *version = test_get_string(env, ROOT, IFACE "Site", "ProviderVersion");
        assert_true(strlen(version) > 0);
        free(version);

        sd_bus_error error = SD_BUS_ERROR_NULL;
        char **classes = NULL;
        assert_int_equal(sd_bus_get_property_strv(env->bus, "org.smsprov.Provider1", ROOT, IFACE "Site", "Classes",
                                                  &error, &classes),
                         0);
        size_t found = 0;
        for (char **c = classes; c && *c; c++) {
                for (size_t i = 0; i < 3; i++)
                        if (strcmp(*c, package_classes[i]) == 0)
                                found++;
                free(*c);
        }
        free(classes);
        assert_int_equal(found, 3);
}

static void test_create_each_class_and_read(void **state) {
        TestEnv *env = *state;
        char *wim = test_env_content_path(env, "boot.wim");

        for (size_t c = 0; c < 3; c++) {
                SchemaEntry schema[128];
                size_t n = read_schema(env, package_classes[c], schema, 128);
                char *path = NULL, iface[128];
                const char *err;

                if (c == 0)
                        err = test_create(env, package_classes[c], &path, NULL, 2, "{sv}{sv}", "Name", "s", "Boot",
                                          "ImagePath", "s", wim);
                else
                        err = test_create(env, package_classes[c], &path, NULL, 3, "{sv}{sv}{sv}", "Name", "s", "Image",
                                          "PkgSourceFlag", "u", 2, "PkgSourcePath", "s", wim);
                assert_null(err);
                assert_non_null(strstr(path, package_classes[c]));
                wait_jobs_idle(env); /* a boot image's first build sets SourceVersion 1 */

                /* Every non-lazy property is in GetAll, every lazy one is not but answers Get. */
                for (size_t i = 0; i < n; i++) {
                        if (has_qualifier(&schema[i], "create_only"))
                                continue; /* a Create parameter, not a property */
                        const char *prop_iface = interface_of(env, package_classes[c], schema[i].name);
                        bool listed = get_all_has(env, path, prop_iface, schema[i].name);
                        if (is_lazy(&schema[i]))
                                assert_false(listed);
                        else if (!listed)
                                fail_msg("%s.%s is missing from GetAll", package_classes[c], schema[i].name);

                        sd_bus_error error = SD_BUS_ERROR_NULL;
                        sd_bus_message *reply = NULL;
                        if (sd_bus_call_method(env->bus, "org.smsprov.Provider1", path, "org.freedesktop.DBus.Properties",
                                               "Get", &error, &reply, "ss", prop_iface, schema[i].name) < 0)
                                fail_msg("Get %s: %s", schema[i].name, error.message);
                        sd_bus_message_unref(reply);
                }

                char *id = test_get_string(env, path, BASE_IFACE, "PackageID");
                assert_int_equal(strlen(id), 8);
                assert_memory_equal(id, "LAB", 3);
                char *site = test_get_string(env, path, BASE_IFACE, "SourceSite");
                assert_string_equal(site, "LAB");
                char *sedo = test_get_string(env, path, BASE_IFACE, "SedoObjectVersion");
                assert_int_equal(strlen(sedo), 36);
                assert_int_equal(test_get_u32(env, path, BASE_IFACE, "PackageType"), c == 0 ? 258 : c == 1 ? 257 : 259);
                assert_int_equal(test_get_u32(env, path, BASE_IFACE, "SourceVersion"), 1);
                assert_int_equal(test_get_u32(env, path, BASE_IFACE, "PkgSourceFlag"), c == 0 ? 1 : 2);
                assert_int_equal(test_get_u32(env, path, BASE_IFACE, "Priority"), 2);
                snprintf(iface, sizeof iface, IFACE "%s", package_classes[c]);
                free(id);
                free(site);
                free(sedo);
                free(path);
        }
        free(wim);
}

/* A valid value for a writable property, chosen from its schema entry, appended as {sv}. */
static bool is_blob_size(const char *name) {
        return strcmp(name, "IconSize") == 0 || strcmp(name, "ISVDataSize") == 0;
}

static uint32_t catalog_driver_id;
static char *catalog_driver_copy;

static void append_valid_value(TestEnv *env, sd_bus_message *m, const SchemaEntry *s, char *file, char *dir) {
        const char *t = s->type;
        assert_true(sd_bus_message_open_container(m, 'e', "sv") >= 0);
        assert_true(sd_bus_message_append(m, "s", s->name) >= 0);
        if (strcmp(t, "String") == 0) {
                if (has_qualifier(s, "path"))
                        sd_bus_message_append(m, "v", "s", strcmp(s->name, "PreExecSourceDirectory") == 0 ? dir : file);
                else
                        sd_bus_message_append(m, "v", "s", "value ünïcode");
        } else if (strcmp(t, "Boolean") == 0)
                sd_bus_message_append(m, "v", "b", 0);
        else if (strcmp(t, "UInt32") == 0) {
                const char *values = strstr(s->qualifiers, ",values=");
                uint32_t u = 7;
                if (values)
                        u = (uint32_t) strtoul(values + 8, NULL, 10);
                if (strcmp(s->name, "ShareType") == 0 || strcmp(s->name, "PkgSourceFlag") == 0)
                        u = 2 - (strcmp(s->name, "ShareType") == 0); /* 1 and 2 keep other rules happy */
                if (strcmp(s->name, "ScratchSpace") == 0)
                        u = 128;
                if (strcmp(s->name, "PkgFlags") == 0)
                        u = 0x300; /* allow + encrypt multicast */
                if (is_blob_size(s->name))
                        u = 0; /* a blob's size: 0 clears the blob, another must be its length */
                sd_bus_message_append(m, "v", "u", u);
        } else if (strcmp(t, "UInt8[]") == 0) {
                static const uint8_t bytes[] = { 1, 2, 3, 0, 255 };
                sd_bus_message_open_container(m, 'v', "ay");
                sd_bus_message_append_array(m, 'y', bytes, sizeof bytes);
                sd_bus_message_close_container(m);
        } else if (strcmp(t, "UInt32[]") == 0)
                sd_bus_message_append(m, "v", "au", 3, 1, 15, 26);
        else if (strcmp(t, "String[]") == 0)
                sd_bus_message_append(m, "v", "as", 2, "a", "b");
        else if (strcmp(t, "SMS_Driver_Details[]") == 0)
                sd_bus_message_append(m, "v", "a(us)", 1, catalog_driver_id, catalog_driver_copy);
        else if (strcmp(t, "SMS_ScheduleToken[]") == 0) {
                sd_bus_message_open_container(m, 'v', "a(sa{sv})");
                sd_bus_message_append(m, "a(sa{sv})", 1, "SMS_ST_RecurInterval", 2, "DaySpan", "u", 7, "IsGMT", "b", 1);
                sd_bus_message_close_container(m);
        } else
                fail_msg("no test value for type %s", t);
        assert_true(sd_bus_message_close_container(m) >= 0);
        (void) env;
}

/* A driver of the catalog for every architecture, which ReferencedDrivers may name. */
static void import_catalog_driver(TestEnv *env) {
        char *folder = test_env_content_path(env, "drivers-any");
        assert_int_equal(mkdir(folder, 0755), 0);
        char *inf = test_env_make_file(env, "drivers-any/any.inf",
                                       "[Version]\r\nSignature=\"$Windows NT$\"\r\nClass=Net\r\n[Manufacturer]\r\n"
                                       "M=M,NTx86,NTamd64,NTarm64\r\n[M.NTx86]\r\n\"NIC\"=I,PCI\\VEN_1\r\n"
                                       "[M.NTamd64]\r\n\"NIC\"=I,PCI\\VEN_1\r\n[M.NTarm64]\r\n\"NIC\"=I,PCI\\VEN_1\r\n");
        sd_bus_message *reply = NULL;
        const char *driver;

        assert_null(test_invoke(env, "/org/smsprov/Provider1/class/SMS_Driver", "org.smsprov.Provider1.SMS_Driver.Static",
                                "CreateFromINF", &reply, "ss", folder, "any.inf"));
        assert_int_equal(sd_bus_message_read(reply, "o", &driver), 1);
        catalog_driver_id = (uint32_t) strtoul(strrchr(driver, '/') + 1, NULL, 10);
        catalog_driver_copy = test_get_string(env, driver, "org.smsprov.Provider1.SMS_Driver", "ContentSourcePath");
        sd_bus_message_unref(reply);
        free(folder);
        free(inf);
}

static void test_put_each_writable_property(void **state) {
        TestEnv *env = *state;
        char *wim = test_env_content_path(env, "boot.wim");
        char *file = test_env_make_file(env, "bitmap.bmp", "BM");
        char *dir = test_env_content_path(env, "prestart");
        mkdir(dir, 0755);
        import_catalog_driver(env);

        for (size_t c = 0; c < 3; c++) {
                SchemaEntry schema[128];
                size_t n = read_schema(env, package_classes[c], schema, 128);
                char *path = NULL;
                const char *err =
                        c == 0 ? test_create(env, package_classes[c], &path, NULL, 1, "{sv}", "ImagePath", "s", wim)
                               : test_create(env, package_classes[c], &path, NULL, 0, "");
                assert_null(err);
                wait_jobs_idle(env);

                for (size_t i = 0; i < n; i++) {
                        const SchemaEntry *s = &schema[i];
                        if (has_qualifier(s, "read") || has_qualifier(s, "key") || has_qualifier(s, "write_only") ||
                            has_qualifier(s, "create_only"))
                                continue;
                        char *before = test_get_string(env, path, BASE_IFACE, "SedoObjectVersion");
                        sd_bus_error error = SD_BUS_ERROR_NULL;
                        sd_bus_message *m = NULL, *reply = NULL;
                        assert_int_equal(sd_bus_message_new_method_call(env->bus, &m, "org.smsprov.Provider1", path,
                                                                        BASE_IFACE, "Put"),
                                         0);
                        sd_bus_message_open_container(m, 'a', "{sv}");
                        append_valid_value(env, m, s, file, dir);
                        if (strcmp(s->name, "RefreshSchedule") == 0)
                                sd_bus_message_append(m, "{sv}", "PkgSourceFlag", "u", 2);
                        sd_bus_message_close_container(m);
                        if (sd_bus_call(env->bus, m, 0, &error, NULL) < 0)
                                fail_msg("Put %s.%s: %s: %s", package_classes[c], s->name, error.name, error.message);
                        sd_bus_message_unref(m);

                        /* Read it back and compare with what was sent (the signature at least, and
                         * the exact value for strings and integers). */
                        assert_true(sd_bus_call_method(env->bus, "org.smsprov.Provider1", path,
                                                       "org.freedesktop.DBus.Properties", "Get", &error, &reply, "ss",
                                                       interface_of(env, package_classes[c], s->name), s->name) >= 0);
                        const char *contents = NULL;
                        assert_true(sd_bus_message_peek_type(reply, NULL, &contents) >= 0);
                        if (strcmp(s->type, "String") == 0 && !has_qualifier(s, "path")) {
                                const char *v;
                                sd_bus_message_read(reply, "v", "s", &v);
                                assert_string_equal(v, "value ünïcode");
                        } else if (strcmp(s->type, "UInt32") == 0) {
                                uint32_t v;
                                sd_bus_message_read(reply, "v", "u", &v);
                                if (is_blob_size(s->name))
                                        assert_int_equal(v, 0);
                                else
                                        assert_int_not_equal(v, 0);
                        } else if (strcmp(s->type, "SMS_ScheduleToken[]") == 0) {
                                const char *cls;
                                assert_true(sd_bus_message_enter_container(reply, 'v', "a(sa{sv})") > 0);
                                assert_true(sd_bus_message_enter_container(reply, 'a', "(sa{sv})") > 0);
                                assert_true(sd_bus_message_enter_container(reply, 'r', "sa{sv}") > 0);
                                sd_bus_message_read(reply, "s", &cls);
                                assert_string_equal(cls, "SMS_ST_RecurInterval");
                        } else if (strcmp(s->type, "UInt8[]") == 0) {
                                const void *p;
                                size_t len;
                                assert_true(sd_bus_message_enter_container(reply, 'v', "ay") > 0);
                                sd_bus_message_read_array(reply, 'y', &p, &len);
                                assert_int_equal(len, 5);
                        }
                        sd_bus_message_unref(reply);

                        char *after = test_get_string(env, path, BASE_IFACE, "SedoObjectVersion");
                        assert_string_not_equal(before, after);
                        free(before);
                        free(after);
                }
                free(path);
        }
        free(file);
        free(wim);
        free(dir);
}

/* Icon and IconSize, ISVData and ISVDataSize (reference §3): writing the bytes sets the size,
 * writing the size 0 clears the bytes, another size is refused. */
static void test_blob_sizes(void **state) {
        TestEnv *env = *state;
        char *path = NULL;
        static const uint8_t icon[] = { 0, 0, 1, 0, 9, 8, 7 };
        sd_bus_message *m = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;

        assert_null(test_create(env, "SMS_ImagePackage", &path, NULL, 0, ""));
        assert_int_equal(sd_bus_message_new_method_call(env->bus, &m, "org.smsprov.Provider1", path, BASE_IFACE, "Put"),
                         0);
        sd_bus_message_open_container(m, 'a', "{sv}");
        sd_bus_message_open_container(m, 'e', "sv");
        sd_bus_message_append(m, "s", "Icon");
        sd_bus_message_open_container(m, 'v', "ay");
        sd_bus_message_append_array(m, 'y', icon, sizeof icon);
        sd_bus_message_close_container(m);
        sd_bus_message_close_container(m);
        sd_bus_message_close_container(m);
        assert_true(sd_bus_call(env->bus, m, 0, &error, NULL) >= 0);
        sd_bus_message_unref(m);
        assert_int_equal(test_get_u32(env, path, BASE_IFACE, "IconSize"), sizeof icon);

        assert_string_equal(put_v(env, path, 1, "{sv}", "IconSize", "u", 3), SMSPROV_ERR("ValueOutOfRange"));
        assert_int_equal(test_get_u32(env, path, BASE_IFACE, "IconSize"), sizeof icon);
        assert_null(put_v(env, path, 1, "{sv}", "IconSize", "u", (uint32_t) sizeof icon));
        assert_null(put_v(env, path, 1, "{sv}", "IconSize", "u", 0));
        assert_int_equal(test_get_u32(env, path, BASE_IFACE, "IconSize"), 0);
        sd_bus_message *reply = NULL;
        const void *p;
        size_t len = 99;
        assert_true(sd_bus_get_property(env->bus, "org.smsprov.Provider1", path, BASE_IFACE, "Icon", &error, &reply, "ay")
                    >= 0);
        assert_true(sd_bus_message_read_array(reply, 'y', &p, &len) >= 0);
        assert_int_equal(len, 0);
        sd_bus_message_unref(reply);
        assert_null(test_invoke(env, path, BASE_IFACE, "Delete", NULL, NULL));
        free(path);
}

static void test_put_is_all_or_nothing(void **state) {
        TestEnv *env = *state;
        char *path = new_boot_image(env, "atomic");
        /* Description is fine, ScratchSpace 100 is not: neither may be written. */
        assert_string_equal(put_v(env, path, 2, "{sv}{sv}", "Description", "s", "changed", "ScratchSpace", "u", 100),
                            SMSPROV_ERR("ValueOutOfRange"));
        char *d = test_get_string(env, path, BASE_IFACE, "Description");
        assert_string_equal(d, "");
        free(d);
        free(path);
}

static void test_bad_inputs(void **state) {
        TestEnv *env = *state;
        char *path = new_boot_image(env, "bad");
        char *sedo = test_get_string(env, path, BASE_IFACE, "SedoObjectVersion");
        const char *err;

        /* Unknown and abstract classes. */
        err = test_invoke(env, ROOT "/class/SMS_NoSuchClass", CLASS_IFACE, "Create", NULL, "a{sv}", 0);
        assert_string_equal(err, "org.freedesktop.DBus.Error.UnknownObject");
        assert_string_equal(test_create(env, "SMS_PackageBaseclass", NULL, NULL, 0, ""), SMSPROV_ERR("NotSupported"));
        assert_string_equal(test_create(env, "SMS_StatusMessage", NULL, NULL, 0, ""), SMSPROV_ERR("NotSupported"));

        /* Create: caller-supplied PackageID, read-only property, unknown property, wrong type,
         * missing ImagePath, a path outside the content roots. */
        assert_string_equal(test_create(env, "SMS_ImagePackage", NULL, NULL, 1, "{sv}", "PackageID", "s", "LAB00099"),
                            SMSPROV_ERR("ReadOnly"));
        assert_string_equal(test_create(env, "SMS_ImagePackage", NULL, NULL, 1, "{sv}", "SourceVersion", "u", 5),
                            SMSPROV_ERR("ReadOnly"));
        assert_string_equal(test_create(env, "SMS_ImagePackage", NULL, NULL, 1, "{sv}", "NoSuchProperty", "s", "x"),
                            SMSPROV_ERR("InvalidProperty"));
        assert_string_equal(test_create(env, "SMS_ImagePackage", NULL, NULL, 1, "{sv}", "Name", "u", 5),
                            SMSPROV_ERR("TypeMismatch"));
        assert_string_equal(test_create(env, "SMS_BootImagePackage", NULL, NULL, 1, "{sv}", "Name", "s", "no image"),
                            SMSPROV_ERR("InvalidParameter"));
        assert_string_equal(test_create(env, "SMS_BootImagePackage", NULL, NULL, 1, "{sv}", "ImagePath", "s", "/etc/passwd"),
                            SMSPROV_ERR("PathNotAllowed"));

        /* Put: each kind of bad value. */
        assert_string_equal(put_v(env, path, 1, "{sv}", "NoSuchProperty", "s", "x"), SMSPROV_ERR("InvalidProperty"));
        assert_string_equal(put_v(env, path, 1, "{sv}", "SourceVersion", "u", 9), SMSPROV_ERR("ReadOnly"));
        assert_string_equal(put_v(env, path, 1, "{sv}", "PackageID", "s", "LAB00042"), SMSPROV_ERR("ReadOnly"));
        assert_string_equal(put_v(env, path, 1, "{sv}", "Architecture", "s", "9"), SMSPROV_ERR("ReadOnly"));
        assert_string_equal(put_v(env, path, 1, "{sv}", "ScratchSpace", "s", "512"), SMSPROV_ERR("TypeMismatch"));
        assert_string_equal(put_v(env, path, 1, "{sv}", "ScratchSpace", "u", 100), SMSPROV_ERR("ValueOutOfRange"));
        assert_string_equal(put_v(env, path, 1, "{sv}", "Priority", "u", 4), SMSPROV_ERR("ValueOutOfRange"));
        assert_string_equal(put_v(env, path, 1, "{sv}", "PkgFlags", "u", 0x400), SMSPROV_ERR("ValueOutOfRange"));
        assert_string_equal(put_v(env, path, 1, "{sv}", "ImageIndex", "u", 0), SMSPROV_ERR("ValueOutOfRange"));
        assert_string_equal(put_v(env, path, 1, "{sv}", "ShareType", "u", 2), SMSPROV_ERR("ValueOutOfRange"));
        assert_string_equal(put_v(env, path, 1, "{sv}", "ImagePath", "s", "relative/boot.wim"),
                            SMSPROV_ERR("InvalidParameter"));
        assert_string_equal(put_v(env, path, 1, "{sv}", "ImagePath", "s", "/nonexistent/boot.wim"),
                            SMSPROV_ERR("PathNotAllowed"));

        /* Schedules: only with PkgSourceFlag 2, at most 15 tokens, fields in range. */
        sd_bus_message *m = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        assert_int_equal(sd_bus_message_new_method_call(env->bus, &m, "org.smsprov.Provider1", path, BASE_IFACE, "Put"),
                         0);
        sd_bus_message_open_container(m, 'a', "{sv}");
        sd_bus_message_open_container(m, 'e', "sv");
        sd_bus_message_append(m, "s", "RefreshSchedule");
        sd_bus_message_open_container(m, 'v', "a(sa{sv})");
        sd_bus_message_append(m, "a(sa{sv})", 1, "SMS_ST_RecurWeekly", 1, "Day", "u", 9);
        sd_bus_message_close_container(m);
        sd_bus_message_close_container(m);
        sd_bus_message_append(m, "{sv}", "PkgSourceFlag", "u", 2);
        sd_bus_message_close_container(m);
        assert_true(sd_bus_call(env->bus, m, 0, &error, NULL) < 0);
        assert_string_equal(error.name, SMSPROV_ERR("ValueOutOfRange"));
        sd_bus_error_free(&error);
        sd_bus_message_unref(m);

        /* Nothing of the above changed the instance. */
        char *after = test_get_string(env, path, BASE_IFACE, "SedoObjectVersion");
        assert_string_equal(sedo, after);
        free(after);

        /* Stale SedoObjectVersion. */
        assert_null(put_v(env, path, 2, "{sv}{sv}", "SedoObjectVersion", "s", sedo, "Description", "s", "first"));
        assert_string_equal(put_v(env, path, 2, "{sv}{sv}", "SedoObjectVersion", "s", sedo, "Description", "s", "second"),
                            SMSPROV_ERR("VersionMismatch"));
        char *d = test_get_string(env, path, BASE_IFACE, "Description");
        assert_string_equal(d, "first");
        free(d);

        /* WMI paths and WQL. */
        assert_string_equal(test_invoke(env, ROOT, IFACE "Site", "GetObject", NULL, "s",
                                        "SMS_BootImagePackage.PackageID=\"LAB0FFFF\""),
                            SMSPROV_ERR("NotFound"));
        assert_string_equal(test_invoke(env, ROOT, IFACE "Site", "GetObject", NULL, "s",
                                        "SMS_Nothing.PackageID=\"LAB00001\""),
                            SMSPROV_ERR("InvalidClass"));
        assert_string_equal(test_invoke(env, ROOT, IFACE "Site", "GetObject", NULL, "s", "SMS_BootImagePackage"),
                            SMSPROV_ERR("InvalidParameter"));
        const char *qerr;
        query_count(env, "SELECT * FROM SMS_Nothing", &qerr);
        assert_string_equal(qerr, SMSPROV_ERR("InvalidClass"));
        query_count(env, "SELECT * FROM SMS_BootImagePackage WHERE", &qerr);
        assert_string_equal(qerr, SMSPROV_ERR("InvalidQuery"));
        query_count(env, "SELECT Nope FROM SMS_BootImagePackage", &qerr);
        assert_string_equal(qerr, SMSPROV_ERR("InvalidQuery"));
        query_count(env, "DELETE FROM SMS_BootImagePackage", &qerr);
        assert_string_equal(qerr, SMSPROV_ERR("InvalidQuery"));

        /* Bad SetSourceSite argument. */
        assert_string_equal(test_invoke(env, path, BASE_IFACE, "SetSourceSite", NULL, "s", "toolong"),
                            SMSPROV_ERR("InvalidParameter"));

        free(sedo);
        free(path);
}

/* RefreshPkgSourceFlag = true does what RefreshPkgSource() does (a boot image: a rebuild and a new
 * SourceVersion), and always reads back false. */
static void test_refresh_flag(void **state) {
        TestEnv *env = *state;
        char *path = new_boot_image(env, "refresh flag");
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int flag = 1;

        assert_int_equal(test_get_u32(env, path, BASE_IFACE, "SourceVersion"), 1);
        assert_null(put_v(env, path, 1, "{sv}", "RefreshPkgSourceFlag", "b", 1));
        wait_jobs_idle(env);
        assert_int_equal(test_get_u32(env, path, BASE_IFACE, "SourceVersion"), 2);
        assert_int_equal(sd_bus_get_property_trivial(env->bus, "org.smsprov.Provider1", path, BASE_IFACE,
                                                     "RefreshPkgSourceFlag", &error, 'b', &flag),
                         0);
        assert_false(flag);
        free(path);
}

static void test_locked_package(void **state) {
        TestEnv *env = *state;
        char *path = new_boot_image(env, "locked");

        assert_null(test_invoke(env, path, BASE_IFACE, "SetSourceSite", NULL, "s", "XYZ"));
        char *site = test_get_string(env, path, BASE_IFACE, "SourceSite");
        assert_string_equal(site, "XYZ");
        free(site);
        assert_string_equal(put_v(env, path, 1, "{sv}", "Description", "s", "x"), SMSPROV_ERR("Locked"));
        assert_string_equal(test_invoke(env, path, BASE_IFACE, "Delete", NULL, NULL), SMSPROV_ERR("Locked"));
        assert_null(test_invoke(env, path, BASE_IFACE, "Unlock", NULL, NULL));
        site = test_get_string(env, path, BASE_IFACE, "SourceSite");
        assert_string_equal(site, "LAB");
        free(site);
        assert_null(put_v(env, path, 1, "{sv}", "Description", "s", "x"));
        free(path);
}

static void test_query(void **state) {
        TestEnv *env = *state;
        const char *err;
        char *a = new_boot_image(env, "Query Alpha");
        char *b = new_boot_image(env, "query beta");

        assert_int_equal(query_count(env, "SELECT * FROM SMS_BootImagePackage WHERE Name = 'QUERY ALPHA'", &err), 1);
        assert_int_equal(query_count(env, "select name from sms_bootimagepackage where name like 'query%'", &err), 2);
        assert_int_equal(query_count(env, "SELECT * FROM SMS_BootImagePackage WHERE Name LIKE '[q]uery [ab]%'", &err), 2);
        assert_int_equal(query_count(env, "SELECT * FROM SMS_BootImagePackage WHERE Name IN ('query beta', 'x')", &err), 1);
        assert_int_equal(query_count(env, "SELECT * FROM SMS_BootImagePackage WHERE Name = 'nothing'", &err), 0);
        assert_null(err);
        /* Polymorphic: the base class finds boot images among all packages. */
        size_t all = query_count(env, "SELECT PackageID FROM SMS_PackageBaseclass", &err);
        size_t boot = query_count(env, "SELECT PackageID FROM SMS_BootImagePackage", &err);
        size_t images = query_count(env, "SELECT PackageID FROM SMS_ImagePackage", &err);
        size_t installs = query_count(env, "SELECT PackageID FROM SMS_OperatingSystemInstallPackage", &err);
        assert_int_equal(all, boot + images + installs);
        assert_true(boot >= 2);

        /* Row shape: the path of the concrete class, selected non-lazy properties only. */
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *path, *name;
        assert_true(sd_bus_call_method(env->bus, "org.smsprov.Provider1", ROOT, IFACE "Site", "ExecQuery", &error, &reply,
                                       "s",
                                       "SELECT Name, ImageProperty, PackageType FROM SMS_BootImagePackage WHERE "
                                       "Name = \"Query Alpha\"") >= 0);
        assert_true(sd_bus_message_enter_container(reply, 'a', "(oa{sv})") > 0);
        assert_true(sd_bus_message_enter_container(reply, 'r', "oa{sv}") > 0);
        sd_bus_message_read(reply, "o", &path);
        assert_string_equal(path, a);
        assert_true(sd_bus_message_enter_container(reply, 'a', "{sv}") > 0);
        size_t n = 0;
        while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                sd_bus_message_read(reply, "s", &name);
                assert_string_not_equal(name, "ImageProperty"); /* lazy: never in query results */
                sd_bus_message_skip(reply, "v");
                sd_bus_message_exit_container(reply);
                n++;
        }
        assert_int_equal(n, 2);
        sd_bus_message_unref(reply);

        /* Audit rows: two creates recorded with this uid. */
        char q[256];
        char *id = test_get_string(env, a, BASE_IFACE, "PackageID");
        snprintf(q, sizeof q, "SELECT * FROM SMS_StatusMessage WHERE InsStrings = '%s' AND MessageID = 30000 AND UserUID = %u",
                 id, (unsigned) getuid());
        assert_int_equal(query_count(env, q, &err), 1);
        free(id);

        /* GetObject finds the same path, by the concrete and by the base class. */
        id = test_get_string(env, b, BASE_IFACE, "PackageID");
        char wmi[128];
        snprintf(wmi, sizeof wmi, "SMS_PackageBaseclass.PackageID='%s'", id);
        assert_true(sd_bus_call_method(env->bus, "org.smsprov.Provider1", ROOT, IFACE "Site", "GetObject", &error, &reply,
                                       "s", wmi) >= 0);
        sd_bus_message_read(reply, "o", &path);
        assert_string_equal(path, b);
        sd_bus_message_unref(reply);
        free(id);

        /* A read-only class: its instances resolve by integer key, answer Get, and have no Put. */
        assert_true(sd_bus_call_method(env->bus, "org.smsprov.Provider1", ROOT, IFACE "Site", "GetObject", &error, &reply,
                                       "s", "SMS_StatusMessage.RecordID=1") >= 0);
        sd_bus_message_read(reply, "o", &path);
        assert_string_equal(path, ROOT "/SMS_StatusMessage/1");
        char *component = test_get_string(env, ROOT "/SMS_StatusMessage/1", IFACE "SMS_StatusMessage", "Component");
        assert_string_equal(component, "SMS Provider");
        free(component);
        sd_bus_message_unref(reply);
        assert_string_equal(test_invoke(env, ROOT "/SMS_StatusMessage/1", IFACE "SMS_StatusMessage", "Put", NULL,
                                        "a{sv}", 0),
                            "org.freedesktop.DBus.Error.UnknownMethod");
        free(a);
        free(b);
}

static void test_optional_component_catalog(void **state) {
        TestEnv *env = *state;
        const char *err;

        /* The stand-in kit holds six components per architecture (tests/bus/lib.sh). */
        assert_int_equal(query_count(env, "SELECT * FROM SMS_OSDeploymentKitWinPEOptionalComponent", &err), 12);
        assert_int_equal(query_count(env,
                                     "SELECT Name FROM SMS_OSDeploymentKitWinPEOptionalComponent WHERE IsRequired = TRUE "
                                     "AND Architecture = 'X64'",
                                     &err),
                         4);
        /* Reference §4.4: WinPE-WMI is 26 on x86 and 52 on x64; WinPE-Scripting 18 and 44. */
        assert_int_equal(query_count(env,
                                     "SELECT * FROM SMS_OSDeploymentKitWinPEOptionalComponent WHERE UniqueID IN (26, 52, "
                                     "18, 44) AND LanguageID = 1033",
                                     &err),
                         4);
        assert_int_equal(query_count(env,
                                     "SELECT * FROM SMS_OSDeploymentKitWinPEOptionalComponent WHERE Name = "
                                     "'WinPE-PowerShell' AND DependentComponentNames = 'WinPE-NetFx'",
                                     &err),
                         2);
        assert_null(err);
}

/* Audit rows are many and unbounded: they answer queries and Get, but GetManagedObjects does
 * not carry them (its reply would outgrow the bus's message size limit). */
static void test_object_manager_leaves_out_status_messages(void **state) {
        TestEnv *env = *state;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *path;
        size_t packages = 0, messages = 0;

        assert_true(sd_bus_call_method(env->bus, "org.smsprov.Provider1", ROOT, "org.freedesktop.DBus.ObjectManager",
                                       "GetManagedObjects", &error, &reply, NULL) >= 0);
        assert_true(sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}") > 0);
        while (sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}") > 0) {
                assert_true(sd_bus_message_read(reply, "o", &path) > 0);
                if (strstr(path, "/SMS_StatusMessage/"))
                        messages++;
                if (strstr(path, "/SMS_BootImagePackage/"))
                        packages++;
                sd_bus_message_skip(reply, "a{sa{sv}}");
                sd_bus_message_exit_container(reply);
        }
        sd_bus_message_unref(reply);
        assert_true(packages > 0);
        assert_int_equal(messages, 0);
}

/* Another process holds the site database's write lock: a write waits for the busy timeout and
 * then fails with Busy, reads go on (WAL), and once the lock is gone writes work again. On
 * PostgreSQL the write lock is the advisory lock every host's write transaction takes
 * (src/store/pg-store.c, LOCK_WRITE), held here by a connection of the test's own. */
static void test_database_locked_by_another_process(void **state) {
        TestEnv *env = *state;
        char *path = new_boot_image(env, "locked database");
        char db_path[512];
        sqlite3 *db = NULL;
        PGconn *pg = NULL;

        if (env->database) {
                pg = PQconnectdb(env->database);
                assert_int_equal(PQstatus(pg), CONNECTION_OK);
                PQclear(PQexec(pg, "SELECT pg_advisory_lock(x'736d737000000002'::bigint)"));
        } else {
                snprintf(db_path, sizeof db_path, "%s/site.db", env->state_dir);
                assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
                assert_int_equal(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
        }

        assert_string_equal(put_v(env, path, 1, "{sv}", "Description", "s", "while locked"), SMSPROV_ERR("Busy"));
        char *name = test_get_string(env, path, BASE_IFACE, "Name");
        assert_string_equal(name, "locked database");
        free(name);

        if (pg)
                PQfinish(pg); /* ends the session, and its lock */
        else {
                assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
                sqlite3_close(db);
        }
        assert_null(put_v(env, path, 1, "{sv}", "Description", "s", "after the lock"));
        free(path);
}

static int signal_count;
static int on_signal(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        signal_count++;
        return 0;
}

static void wait_signals(TestEnv *env, int want) {
        for (int i = 0; i < 200 && signal_count < want; i++) {
                int r = sd_bus_process(env->bus, NULL);
                if (r == 0)
                        sd_bus_wait(env->bus, 10000);
        }
}

static void test_signals_and_delete(void **state) {
        TestEnv *env = *state;
        sd_bus_slot *added = NULL, *changed = NULL, *removed = NULL, *notified = NULL;

        assert_true(sd_bus_match_signal(env->bus, &added, "org.smsprov.Provider1", ROOT, "org.freedesktop.DBus.ObjectManager",
                                        "InterfacesAdded", on_signal, NULL) >= 0);
        signal_count = 0;
        char *path = new_boot_image(env, "signals");
        wait_signals(env, 1);
        assert_int_equal(signal_count, 1);

        assert_true(sd_bus_match_signal(env->bus, &changed, "org.smsprov.Provider1", path,
                                        "org.freedesktop.DBus.Properties", "PropertiesChanged", on_signal, NULL) >= 0);
        signal_count = 0;
        assert_null(put_v(env, path, 1, "{sv}", "Description", "s", "signalled"));
        wait_signals(env, 1);
        assert_int_equal(signal_count, 1);

        assert_true(sd_bus_match_signal(env->bus, &notified, "org.smsprov.Provider1", ROOT, IFACE "Site",
                                        "ChangeNotification", on_signal, NULL) >= 0);
        signal_count = 0;
        assert_null(test_invoke(env, path, BASE_IFACE, "AddChangeNotification", NULL, NULL));
        wait_signals(env, 1);
        assert_int_equal(signal_count, 1);

        assert_true(sd_bus_match_signal(env->bus, &removed, "org.smsprov.Provider1", ROOT,
                                        "org.freedesktop.DBus.ObjectManager", "InterfacesRemoved", on_signal, NULL) >= 0);
        signal_count = 0;
        assert_null(test_invoke(env, path, BASE_IFACE, "Delete", NULL, NULL));
        wait_signals(env, 1);
        assert_int_equal(signal_count, 1);

        /* The deleted object answers nothing any more. */
        assert_string_equal(test_invoke(env, path, BASE_IFACE, "Delete", NULL, NULL),
                            "org.freedesktop.DBus.Error.UnknownObject");
        assert_string_equal(put_v(env, path, 1, "{sv}", "Description", "s", "ghost"),
                            "org.freedesktop.DBus.Error.UnknownObject");
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char *s = NULL;
        assert_true(sd_bus_get_property_string(env->bus, "org.smsprov.Provider1", path, BASE_IFACE, "Name", &error, &s) < 0);
        sd_bus_error_free(&error);

        sd_bus_slot_unref(added);
        sd_bus_slot_unref(changed);
        sd_bus_slot_unref(removed);
        sd_bus_slot_unref(notified);
        free(path);
}

static void test_restart_keeps_everything(void **state) {
        TestEnv *env = *state;
        char *path = new_boot_image(env, "durable");
        char *id = test_get_string(env, path, BASE_IFACE, "PackageID");
        assert_null(put_v(env, path, 2, "{sv}{sv}", "Description", "s", "kept", "ScratchSpace", "u", 256));
        char *sedo = test_get_string(env, path, BASE_IFACE, "SedoObjectVersion");

        /* A clean stop and a kill: both keep every committed write. */
        for (int round = 0; round < 2; round++) {
                assert_int_equal(test_env_stop_daemon(env, round == 0 ? SIGTERM : SIGKILL), 0);
                assert_int_equal(test_env_start_daemon(env, NULL), 0);
                char *d = test_get_string(env, path, BASE_IFACE, "Description");
                assert_string_equal(d, "kept");
                free(d);
                char *s = test_get_string(env, path, BASE_IFACE, "SedoObjectVersion");
                assert_string_equal(s, sedo);
                free(s);
                sd_bus_error error = SD_BUS_ERROR_NULL;
                uint32_t u = 0;
                assert_int_equal(sd_bus_get_property_trivial(env->bus, "org.smsprov.Provider1", path,
                                                             IFACE "SMS_BootImagePackage", "ScratchSpace", &error, 'u', &u),
                                 0);
                assert_int_equal(u, 256);
        }

        /* PackageIDs are never reused: delete the newest, create again, get a new number. */
        assert_null(test_invoke(env, path, BASE_IFACE, "Delete", NULL, NULL));
        char *again = new_boot_image(env, "after delete");
        char *id2 = test_get_string(env, again, BASE_IFACE, "PackageID");
        assert_true(strcmp(id2, id) > 0);
        free(id);
        free(id2);
        free(again);
        free(sedo);
        free(path);
}

static void test_site_code_fixed(void **state) {
        TestEnv *env = *state;
        static const char *const other_site[] = { "--site-code=XYZ", NULL };

        assert_int_equal(test_env_stop_daemon(env, SIGTERM), 0);
        assert_int_not_equal(test_env_start_daemon(env, other_site), 0);
        assert_int_equal(test_env_start_daemon(env, NULL), 0);
}

static void test_newer_schema_refused(void **state) {
        TestEnv *env = *state;
        char db_path[512];
        sqlite3 *db;

        assert_int_equal(test_env_stop_daemon(env, SIGTERM), 0);
        if (env->database) {
                /* The schema_version table records each migration; one this build does not know. */
                test_db_exec(env->database, "INSERT INTO schema_version (version, name, applied) VALUES (999, 'x', 0)");
                assert_int_not_equal(test_env_start_daemon(env, NULL), 0);
                test_db_exec(env->database, "DELETE FROM schema_version WHERE version = 999");
                assert_int_equal(test_env_start_daemon(env, NULL), 0);
                return;
        }
        snprintf(db_path, sizeof db_path, "%s/site.db", env->state_dir);
        sqlite3_stmt *st;
        int version;
        assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        version = sqlite3_column_int(st, 0);
        assert_true(version >= 1);
        sqlite3_finalize(st);
        assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        assert_int_not_equal(test_env_start_daemon(env, NULL), 0);

        assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
        char restore[64];
        snprintf(restore, sizeof restore, "PRAGMA user_version = %d", version);
        assert_int_equal(sqlite3_exec(db, restore, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        assert_int_equal(test_env_start_daemon(env, NULL), 0);
}

static void test_symlink_out_of_root(void **state) {
        TestEnv *env = *state;
        char *link = test_env_content_path(env, "escape.wim");
        char *dotdot = NULL;
        assert_int_equal(symlink("/etc/passwd", link), 0);
        assert_string_equal(test_create(env, "SMS_BootImagePackage", NULL, NULL, 1, "{sv}", "ImagePath", "s", link),
                            SMSPROV_ERR("PathNotAllowed"));
        assert_true(asprintf(&dotdot, "%s/../../../etc/passwd", env->content_dir) > 0);
        assert_string_equal(test_create(env, "SMS_BootImagePackage", NULL, NULL, 1, "{sv}", "ImagePath", "s", dotdot),
                            SMSPROV_ERR("PathNotAllowed"));
        char *dir = test_env_content_path(env, "a-directory.wim");
        mkdir(dir, 0755);
        assert_string_equal(test_create(env, "SMS_BootImagePackage", NULL, NULL, 1, "{sv}", "ImagePath", "s", dir),
                            SMSPROV_ERR("InvalidParameter"));
        free(dir);
        free(dotdot);
        free(link);
}

static int setup(void **state) {
        static TestEnv env;
        if (test_env_start(&env) < 0)
                return -1;
        char *wim = test_env_content_path(&env, "boot.wim");
        int r = test_make_winpe_wim(wim, "9", true, 0, true);
        free(wim);
        if (r < 0)
                return -1;
        *state = &env;
        return 0;
}

static int teardown(void **state) {
        return test_env_stop(*state);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_site_properties),
                cmocka_unit_test(test_create_each_class_and_read),
                cmocka_unit_test(test_put_each_writable_property),
                cmocka_unit_test(test_put_is_all_or_nothing),
                cmocka_unit_test(test_bad_inputs),
                cmocka_unit_test(test_symlink_out_of_root),
                cmocka_unit_test(test_blob_sizes),
                cmocka_unit_test(test_refresh_flag),
                cmocka_unit_test(test_locked_package),
                cmocka_unit_test(test_query),
                cmocka_unit_test(test_optional_component_catalog),
                cmocka_unit_test(test_object_manager_leaves_out_status_messages),
                cmocka_unit_test(test_database_locked_by_another_process),
                cmocka_unit_test(test_signals_and_delete),
                cmocka_unit_test(test_restart_keeps_everything),
                cmocka_unit_test(test_site_code_fixed),
                cmocka_unit_test(test_newer_schema_refused),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, setup, teardown);
}
