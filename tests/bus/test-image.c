/* SPDX-License-Identifier: MIT */

/* Image metadata, boot image builds, ExportDefaultBootImage and jobs, end to end: WIMs made at run
 * time with wimlib, the real daemon on a private bus, the built images opened with wimlib and
 * their SYSTEM hive read back with hivex. */

#include <errno.h>
#include <fcntl.h>
#include <hivex.h>
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
#include <wimlib.h>

#include <cmocka.h>

#include "../helpers/wim-gen.h"
#include "test-env.h"

#define ROOT "/org/smsprov/Provider1"
#define IFACE "org.smsprov.Provider1."
#define BASE IFACE "SMS_PackageBaseclass"
#define BOOT IFACE "SMS_BootImagePackage"
#define BOOT_STATIC IFACE "SMS_BootImagePackage.Static"

static TestEnv env;

/* --- helpers ----------------------------------------------------------------------------------- */

static char *path_in(const char *dir, const char *name) {
        char *p = NULL;
        assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

static size_t count_packages(void) {
        return test_count_rows(&env, "SELECT PackageID FROM SMS_PackageBaseclass");
}

/* Reads a file out of image 1 of a WIM. */
static char *wim_file(const char *wim_path, const char *path_in_wim) {
        WIMStruct *wim = NULL;
        char *dir = path_in(env.dir, "extract.XXXXXX");
        char *out = NULL, *data = NULL;
        const char *paths[] = { path_in_wim };

        assert_non_null(mkdtemp(dir));
        assert_int_equal(wimlib_open_wim(wim_path, 0, &wim), 0);
        int r = wimlib_extract_paths(wim, 1, dir, paths, 1, WIMLIB_EXTRACT_FLAG_NO_PRESERVE_DIR_STRUCTURE);
        wimlib_free(wim);
        if (r == 0) {
                const char *base = strrchr(path_in_wim, '\\');
                out = path_in(dir, base ? base + 1 : path_in_wim);
                FILE *f = fopen(out, "re");
                if (f) {
                        data = calloc(1, 1 << 16);
                        size_t n = fread(data, 1, (1 << 16) - 1, f);
                        data[n] = 0;
                        fclose(f);
                }
        }
        if (data && strstr(path_in_wim, "config\\SYSTEM")) {
                /* The hive: return the WinPECacheThreshold value as text. */
                hive_h *h = hivex_open(out, 0);
                assert_non_null(h);
                hive_node_h node = hivex_root(h);
                node = hivex_node_get_child(h, node, "ControlSet001");
                node = node ? hivex_node_get_child(h, node, "Services") : 0;
                node = node ? hivex_node_get_child(h, node, "FBWF") : 0;
                hive_value_h v = node ? hivex_node_get_value(h, node, "WinPECacheThreshold") : 0;
                free(data);
                data = NULL;
                if (v) {
                        int32_t dword = hivex_value_dword(h, v);
                        assert_true(asprintf(&data, "%d", dword) > 0);
                }
                hivex_close(h);
        }
        test_rm_rf(dir);
        free(dir);
        free(out);
        return data;
}

static char *file_hash(const char *path) {
        char cmd[1024], *line = calloc(1, 128);
        snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        assert_non_null(fgets(line, 128, p));
        pclose(p);
        line[64] = 0;
        return line;
}

/* The temporaries of imaging/build.c: ".<name>.tmp-XXXXXX" files and ".<name>.staging-XXXXXX"
 * folders (the latter also hold a replaced image until it is released). */
static size_t count_temp_files(const char *dir) {
        return test_count_files(dir, "-name '.*tmp-*' -o -name '.*staging-*'");
}

/* --- tests ------------------------------------------------------------------------------------- */

static void test_get_image_properties(void **state) {
        char *multi = test_env_content_path(&env, "multi.wim"), *xml = NULL;
        sd_bus_message *reply = NULL;

        assert_null(test_invoke(&env, ROOT "/class/SMS_ImagePackage", IFACE "SMS_ImagePackage.Static", "GetImageProperties",
                                &reply, "s", multi));
        sd_bus_message_read(reply, "s", &xml);
        assert_non_null(strstr(xml, "<WIM>"));
        assert_non_null(strstr(xml, "<IMAGE Index=\"3\">"));
        assert_non_null(strstr(xml, "<Property Name=\"Image name\">Image 2</Property>"));
        assert_non_null(strstr(xml, "<Property Name=\"Architecture\">0</Property>"));
        sd_bus_message_unref(reply);

        char *boot = test_env_content_path(&env, "boot.wim");
        assert_null(
                test_invoke(&env, ROOT "/class/SMS_BootImagePackage", BOOT_STATIC, "GetImageProperties", &reply, "s", boot));
        sd_bus_message_read(reply, "s", &xml);
        assert_non_null(strstr(xml, "<Property Name=\"OS version\">10.0.22621.1</Property>"));
        assert_non_null(strstr(xml, "<Property Name=\"Language\">en-US</Property>"));
        sd_bus_message_unref(reply);

        /* Bad files: each its named error. */
        char *text = test_env_content_path(&env, "notawim.wim"), *cut = test_env_content_path(&env, "truncated.wim");
        assert_string_equal(test_invoke(&env, ROOT "/class/SMS_BootImagePackage", BOOT_STATIC, "GetImageProperties", NULL,
                                        "s", text),
                            SMSPROV_ERR("ImageError"));
        assert_string_equal(test_invoke(&env, ROOT "/class/SMS_BootImagePackage", BOOT_STATIC, "GetImageProperties", NULL,
                                        "s", cut),
                            SMSPROV_ERR("ImageError"));
        assert_string_equal(test_invoke(&env, ROOT "/class/SMS_BootImagePackage", BOOT_STATIC, "GetImageProperties", NULL,
                                        "s", "/etc/hostname"),
                            SMSPROV_ERR("PathNotAllowed"));
        assert_string_equal(test_invoke(&env, ROOT "/class/SMS_BootImagePackage", BOOT_STATIC, "GetImageProperties", NULL,
                                        "s", env.content_dir),
                            SMSPROV_ERR("InvalidParameter"));
        free(text);
        free(cut);
        free(boot);
        free(multi);
}

static void test_image_package_metadata(void **state) {
        char *boot = test_env_content_path(&env, "boot.wim"), *path = NULL, *job = NULL;

        /* Name comes from the image when the caller gives none. */
        assert_null(test_create(&env, "SMS_ImagePackage", &path, &job, 2, "{sv}{sv}", "PkgSourceFlag", "u", 2,
                                "PkgSourcePath", "s", boot));
        assert_string_equal(job, "/");
        char *name = test_get_string(&env, path, BASE, "Name");
        assert_string_equal(name, "Microsoft Windows PE (x64)");
        char *arch = test_get_string(&env, path, IFACE "SMS_ImagePackage", "Architecture");
        assert_string_equal(arch, "9");
        char *version = test_get_string(&env, path, IFACE "SMS_ImagePackage", "ImageOSVersion");
        assert_string_equal(version, "10.0.22621.1");
        char *language = test_get_string(&env, path, BASE, "Language");
        assert_string_equal(language, "en-US");
        assert_true(test_get_u32(&env, path, BASE, "PackageSize") > 0);
        char *xml = test_get_string(&env, path, IFACE "SMS_ImagePackage", "ImageProperty");
        assert_non_null(strstr(xml, "Image name"));
        free(name);
        free(arch);
        free(version);
        free(language);
        free(xml);
        free(path);
        free(job);

        /* An OS install package reads sources/install.wim of its folder. */
        char *setup = test_env_content_path(&env, "setup");
        assert_null(test_create(&env, "SMS_OperatingSystemInstallPackage", &path, &job, 2, "{sv}{sv}", "Name", "s",
                                "Upgrade", "PkgSourcePath", "s", setup));
        arch = test_get_string(&env, path, IFACE "SMS_OperatingSystemInstallPackage", "Architecture");
        assert_string_equal(arch, "0");
        name = test_get_string(&env, path, BASE, "Name");
        assert_string_equal(name, "Upgrade"); /* the caller's name wins */
        free(name);
        free(arch);
        free(path);
        free(job);
        free(setup);
        free(boot);
}

/* Reference §5.2, "Extract a specific image index": a new one-image WIM under the state directory;
 * the source stays as it is. */
static void test_image_package_extracts_one_index(void **state) {
        char *multi = test_env_content_path(&env, "multi.wim"), *path = NULL, *job = NULL;
        char *before = file_hash(multi);

        assert_null(test_create(&env, "SMS_ImagePackage", &path, &job, 2, "{sv}{sv}", "PkgSourcePath", "s", multi,
                                "ImageIndex", "u", 2));
        assert_string_not_equal(job, "/");
        assert_int_equal(test_wait_job(&env, job, NULL), 2);
        char *id = test_get_string(&env, path, BASE, "PackageID"),
             *source = test_get_string(&env, path, BASE, "PkgSourcePath");
        char want[512];
        snprintf(want, sizeof want, "%s/images/%s/multi.%s.wim", env.state_dir, id, id);
        assert_string_equal(source, want);
        WIMStruct *wim = NULL;
        struct wimlib_wim_info info;
        assert_int_equal(wimlib_open_wim(source, 0, &wim), 0);
        assert_int_equal(wimlib_get_wim_info(wim, &info), 0);
        assert_int_equal(info.image_count, 1);
        assert_string_equal(wimlib_get_image_name(wim, 1), "Image 2");
        wimlib_free(wim);
        char *name = test_get_string(&env, path, BASE, "Name");
        assert_string_equal(name, "Image 2");
        char *xml = test_get_string(&env, path, IFACE "SMS_ImagePackage", "ImageProperty");
        assert_non_null(strstr(xml, "Image 2"));
        assert_null(strstr(xml, "Image 3"));
        assert_int_equal(test_get_u32(&env, path, BASE, "ActionInProgress"), 0);
        char *after = file_hash(multi);
        assert_string_equal(after, before);

        assert_string_equal(test_create(&env, "SMS_ImagePackage", NULL, NULL, 2, "{sv}{sv}", "PkgSourcePath", "s", multi,
                                        "ImageIndex", "u", 9),
                            SMSPROV_ERR("ImageError"));
        assert_string_equal(test_create(&env, "SMS_ImagePackage", NULL, NULL, 2, "{sv}{sv}", "PkgSourcePath", "s", multi,
                                        "ImageIndex", "u", 0),
                            SMSPROV_ERR("ValueOutOfRange"));
        assert_string_equal(test_create(&env, "SMS_ImagePackage", NULL, NULL, 1, "{sv}", "ImageIndex", "u", 1),
                            SMSPROV_ERR("InvalidParameter"));
        assert_string_equal(test_create(&env, "SMS_OperatingSystemInstallPackage", NULL, NULL, 2, "{sv}{sv}",
                                        "PkgSourcePath", "s", multi, "ImageIndex", "u", 1),
                            SMSPROV_ERR("InvalidProperty"));
        free(after);
        free(before);
        free(xml);
        free(name);
        free(id);
        free(source);
        free(multi);
        free(path);
        free(job);
}

/* SMS_ImageInformation: one row per image, keyed (PackageID, Index), gone with the package. */
static void test_image_information(void **state) {
        char *multi = test_env_content_path(&env, "multi.wim"), *path = NULL, *job = NULL, wql[256], wmi[128];
        sd_bus_message *reply = NULL;
        const char *object;

        assert_null(test_create(&env, "SMS_ImagePackage", &path, &job, 1, "{sv}", "PkgSourcePath", "s", multi));
        char *id = test_get_string(&env, path, BASE, "PackageID");
        snprintf(wql, sizeof wql, "SELECT * FROM SMS_ImageInformation WHERE PackageID = '%s'", id);
        assert_int_equal(test_count_rows(&env, wql), 3);
        snprintf(wql, sizeof wql,
                 "SELECT Name FROM SMS_ImageInformation WHERE PackageID = '%s' AND Architecture = '0' AND ObjectType = 18",
                 id);
        assert_int_equal(test_count_rows(&env, wql), 1); /* images alternate x64, x86, x64 */

        snprintf(wmi, sizeof wmi, "SMS_ImageInformation.Index=2,PackageID=\"%s\"", id);
        assert_null(test_invoke(&env, ROOT, IFACE "Site", "GetObject", &reply, "s", wmi));
        sd_bus_message_read(reply, "o", &object);
        char *row = strdup(object);
        sd_bus_message_unref(reply);
        char *name = test_get_string(&env, row, IFACE "SMS_ImageInformation", "Name");
        assert_string_equal(name, "Image 2");
        assert_int_equal(test_get_u32(&env, row, IFACE "SMS_ImageInformation", "Index"), 2);

        snprintf(wmi, sizeof wmi, "SMS_ImageInformation.PackageID=\"%s\",Index=9", id);
        assert_string_equal(test_invoke(&env, ROOT, IFACE "Site", "GetObject", NULL, "s", wmi), SMSPROV_ERR("NotFound"));
        snprintf(wmi, sizeof wmi, "SMS_ImageInformation.PackageID=\"%s\"", id);
        assert_string_equal(test_invoke(&env, ROOT, IFACE "Site", "GetObject", NULL, "s", wmi),
                            SMSPROV_ERR("InvalidParameter"));

        assert_null(test_invoke(&env, path, BASE, "Delete", NULL, NULL));
        snprintf(wql, sizeof wql, "SELECT * FROM SMS_ImageInformation WHERE PackageID = '%s'", id);
        assert_int_equal(test_count_rows(&env, wql), 0);

        free(name);
        free(row);
        free(id);
        free(multi);
        free(path);
        free(job);
}

static void test_create_bad_wims_change_nothing(void **state) {
        size_t before = count_packages();
        char *text = test_env_content_path(&env, "notawim.wim"), *cut = test_env_content_path(&env, "truncated.wim"),
             *boot = test_env_content_path(&env, "boot.wim");

        assert_string_equal(test_create(&env, "SMS_BootImagePackage", NULL, NULL, 1, "{sv}", "ImagePath", "s", text),
                            SMSPROV_ERR("ImageError"));
        assert_string_equal(test_create(&env, "SMS_BootImagePackage", NULL, NULL, 1, "{sv}", "ImagePath", "s", cut),
                            SMSPROV_ERR("ImageError"));
        assert_string_equal(test_create(&env, "SMS_BootImagePackage", NULL, NULL, 2, "{sv}{sv}", "ImagePath", "s", boot,
                                        "ImageIndex", "u", 5),
                            SMSPROV_ERR("ImageError"));
        assert_string_equal(test_create(&env, "SMS_ImagePackage", NULL, NULL, 1, "{sv}", "PkgSourcePath", "s", text),
                            SMSPROV_ERR("ImageError"));
        assert_string_equal(test_create(&env, "SMS_BootImagePackage", NULL, NULL, 2, "{sv}{sv}", "ImagePath", "s", boot,
                                        "OptionalComponents", "au", 1, 9999),
                            SMSPROV_ERR("ValueOutOfRange"));
        assert_int_equal(count_packages(), before);
        free(text);
        free(cut);
        free(boot);
}

static void test_boot_image_build(void **state) {
        char *boot = test_env_content_path(&env, "boot.wim"), *bmp = test_env_content_path(&env, "background.bmp"),
             *pre = test_env_content_path(&env, "prestart"), *drivers = test_env_content_path(&env, "drivers/nic");
        char *path = NULL, *job = NULL, *err = NULL;
        char *source_hash = file_hash(boot);

        /* WinPE-PowerShell: 15 on x86, so 41 on x64 (reference §4.4). */
        uint32_t powershell = 15 + 26;
        assert_null(test_create(&env, "SMS_BootImagePackage", &path, &job, 8, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}", "Name",
                                "s", "Lab boot image", "ImagePath", "s", boot, "ContextID", "s", "ctx-build",
                                "EnableLabShell", "b", 1, "ScratchSpace", "u", 256, "BackgroundBitmapPath", "s", bmp,
                                "PreExecSourceDirectory", "s", pre, "PreExecCommandLine", "s", "cmd /c prestart.cmd"));
        assert_string_not_equal(job, "/");
        assert_int_equal(test_wait_job(&env, job, &err), 2);
        assert_string_equal(err, "");
        free(err);

        char *id = test_get_string(&env, path, BASE, "PackageID");
        char *built = test_get_string(&env, path, BASE, "PkgSourcePath");
        char want[512];
        /* Each version a file of its own (smsprov/image-outputs.h). */
        snprintf(want, sizeof want, "%s/images/%s/1/boot.%s.wim", env.state_dir, id, id);
        assert_string_equal(built, want);
        assert_int_equal(test_get_u32(&env, path, BASE, "SourceVersion"), 1);
        assert_int_equal(test_get_u32(&env, path, BASE, "ActionInProgress"), 0);

        /* What went into the image. */
        char *s = wim_file(built, "\\sms\\bin\\x64\\TsBootShell.exe");
        assert_non_null(s);
        assert_string_equal(s, "TsBootShell.exe for x64\n");
        free(s);
        s = wim_file(built, "\\Windows\\System32\\winpeshl.ini");
        assert_non_null(strstr(s, "[LaunchApps]"));
        assert_non_null(strstr(s, "%SYSTEMDRIVE%\\sms\\bin\\x64\\TsBootShell.exe"));
        free(s);
        s = wim_file(built, "\\sms\\bin\\x64\\TsBootShell.ini");
        assert_non_null(strstr(s, "EnableDebugShell=true"));
        free(s);
        s = wim_file(built, "\\sms\\PKG\\SMS10000\\prestart.cmd");
        assert_non_null(s);
        free(s);
        s = wim_file(built, "\\Windows\\System32\\winpe.bmp");
        assert_string_equal(s, "BM fake bitmap\n");
        free(s);
        s = wim_file(built, "\\Windows\\System32\\WinPE-WMI.txt"); /* always added */
        assert_string_equal(s, "WinPE-WMI amd64\n");
        free(s);
        s = wim_file(built, "\\Windows\\System32\\config\\SYSTEM");
        assert_non_null(s);
        assert_string_equal(s, "256");
        free(s);
        /* The source is untouched. */
        char *after_hash = file_hash(boot);
        assert_string_equal(after_hash, source_hash);
        free(after_hash);

        /* The ContextID's status queue says complete; unknown IDs have no status. */
        sd_bus_message *reply = NULL;
        uint32_t status, progress, max;
        const char *text, *ext;
        int32_t code;
        assert_null(test_invoke(&env, ROOT "/class/SMS_BootImagePackage", BOOT_STATIC, "QueryOSDBinaryInjectionStatus",
                                &reply, "s", "ctx-build"));
        sd_bus_message_read(reply, "uuusis", &status, &progress, &max, &text, &code, &ext);
        assert_int_equal(status, 0);
        assert_int_equal(code, 0);
        assert_int_equal(progress, max);
        sd_bus_message_unref(reply);
        assert_null(test_invoke(&env, ROOT "/class/SMS_BootImagePackage", BOOT_STATIC, "QueryOSDBinaryInjectionStatus",
                                &reply, "s", "no-such-context"));
        sd_bus_message_read(reply, "uuusis", &status, &progress, &max, &text, &code, &ext);
        assert_int_equal(status, 3);
        sd_bus_message_unref(reply);
        assert_null(test_invoke(&env, ROOT "/class/SMS_BootImagePackage", BOOT_STATIC, "DeleteContextID", NULL, "s",
                                "ctx-build"));
        assert_null(test_invoke(&env, ROOT "/class/SMS_BootImagePackage", BOOT_STATIC, "QueryOSDBinaryInjectionStatus",
                                &reply, "s", "ctx-build"));
        sd_bus_message_read(reply, "uuusis", &status, &progress, &max, &text, &code, &ext);
        assert_int_equal(status, 3);
        sd_bus_message_unref(reply);

        /* Drivers and an optional component, then UpdateOptionalComponents: each rebuild moves the
         * source version on. */
        assert_null(test_invoke(&env, ROOT "/class/SMS_Driver", IFACE "SMS_Driver.Static", "CreateFromINF", &reply, "ss",
                                drivers, "nic.inf"));
        const char *driver;
        sd_bus_message_read(reply, "o", &driver);
        assert_string_equal(driver, ROOT "/SMS_Driver/1");
        sd_bus_message_unref(reply);
        char *driver_copy = test_get_string(&env, ROOT "/SMS_Driver/1", IFACE "SMS_Driver", "ContentSourcePath");
        assert_null(test_invoke(&env, path, BASE, "Put", NULL, "a{sv}", 1, "ReferencedDrivers", "a(us)", 1, 1,
                                driver_copy));
        free(driver_copy);
        char pid[16];
        snprintf(pid, sizeof pid, "%u", powershell);
        assert_null(test_invoke(&env, path, BOOT, "UpdateOptionalComponents", &reply, "as", 1, pid));
        const char *job2;
        sd_bus_message_read(reply, "o", &job2);
        char *job2c = strdup(job2);
        sd_bus_message_unref(reply);
        assert_int_equal(test_wait_job(&env, job2c, NULL), 2);
        assert_int_equal(test_get_u32(&env, path, BASE, "SourceVersion"), 2);
        free(built);
        built = test_get_string(&env, path, BASE, "PkgSourcePath");
        snprintf(want, sizeof want, "%s/images/%s/2/boot.%s.wim", env.state_dir, id, id);
        assert_string_equal(built, want);
        s = wim_file(built, "\\Windows\\System32\\WinPE-PowerShell.txt");
        assert_string_equal(s, "WinPE-PowerShell amd64\n");
        free(s);
        s = wim_file(built, "\\sms\\drivers\\1\\nic.inf");
        assert_non_null(s);
        free(s);
        s = wim_file(built, "\\Windows\\System32\\winpeshl.ini");
        assert_non_null(strstr(s, "LoadDrivers.cmd"));
        free(s);

        /* Wrong IDs: unknown, or x86's for an x64 image. Nothing changes. */
        assert_string_equal(test_invoke(&env, path, BOOT, "UpdateOptionalComponents", NULL, "as", 1, "9999"),
                            SMSPROV_ERR("ValueOutOfRange"));
        assert_string_equal(test_invoke(&env, path, BOOT, "UpdateOptionalComponents", NULL, "as", 1, "15"),
                            SMSPROV_ERR("ValueOutOfRange"));
        assert_string_equal(test_invoke(&env, path, BOOT, "UpdateOptionalComponents", NULL, "as", 1, "fifteen"),
                            SMSPROV_ERR("InvalidParameter"));
        assert_int_equal(test_get_u32(&env, path, BASE, "SourceVersion"), 2);

        /* Cancel of a finished job. */
        assert_string_equal(test_invoke(&env, job2c, IFACE "Job", "Cancel", NULL, NULL), SMSPROV_ERR("Failed"));

        /* Deleting the package deletes what was built for it. */
        assert_null(test_invoke(&env, path, BASE, "Delete", NULL, NULL));
        struct stat st;
        assert_true(stat(built, &st) < 0);

        free(job2c);
        free(id);
        free(built);
        free(source_hash);
        free(boot);
        free(bmp);
        free(pre);
        free(drivers);
        free(path);
        free(job);
}

static void test_build_busy_and_cancel(void **state) {
        char *big = test_env_content_path(&env, "big.wim"), *path = NULL, *job = NULL;

        assert_null(test_create(&env, "SMS_BootImagePackage", &path, &job, 2, "{sv}{sv}", "ImagePath", "s", big, "ContextID",
                                "s", "ctx-cancel"));
        assert_int_equal(test_wait_job(&env, job, NULL), 2);
        char *built = test_get_string(&env, path, BASE, "PkgSourcePath");
        char *before = file_hash(built);
        char *images = path_in(env.state_dir, "images");

        /* Two builds of one package: the second is refused while the first runs (held at its
         * start). Then cancel the first: the previous image stays, nothing temporary is left, the
         * source version does not move. */
        sd_bus_message *reply = NULL;
        test_hold(&env, "UpdateImage");
        assert_null(test_invoke(&env, path, BOOT, "UpdateImage", &reply, NULL));
        const char *j;
        sd_bus_message_read(reply, "o", &j);
        char *running = strdup(j);
        sd_bus_message_unref(reply);
        test_wait_held(&env, "UpdateImage", running);
        assert_string_equal(test_invoke(&env, path, BOOT, "UpdateDefaultImage", NULL, NULL), SMSPROV_ERR("Busy"));
        assert_null(test_invoke(&env, running, IFACE "Job", "Cancel", NULL, NULL));
        test_release(&env, "UpdateImage");
        char *err = NULL;
        assert_int_equal(test_wait_job(&env, running, &err), 4);
        assert_string_equal(err, SMSPROV_ERR("Canceled"));
        free(err);
        /* Its message reads like a call's error message: the WBEM code name first. */
        char *message = test_get_string(&env, running, IFACE "Job", "ErrorMessage");
        assert_true(strncmp(message, "WBEM_E_", 7) == 0);
        free(message);
        char *after = file_hash(built);
        assert_string_equal(after, before);
        assert_int_equal(count_temp_files(images), 0);
        assert_int_equal(test_get_u32(&env, path, BASE, "SourceVersion"), 1);
        assert_int_equal(test_get_u32(&env, path, BASE, "ActionInProgress"), 0);

        /* The ContextID reports the cancellation as an error. */
        uint32_t status, progress, max;
        const char *text, *ext;
        int32_t code;
        assert_null(test_invoke(&env, ROOT "/class/SMS_BootImagePackage", BOOT_STATIC, "QueryOSDBinaryInjectionStatus",
                                &reply, "s", "ctx-cancel"));
        sd_bus_message_read(reply, "uuusis", &status, &progress, &max, &text, &code, &ext);
        assert_int_equal(status, 2);
        assert_int_not_equal(code, 0);
        sd_bus_message_unref(reply);

        free(running);
        free(after);
        free(before);
        free(built);
        free(images);
        free(big);
        free(path);
        free(job);
}

/* A rebuild replaces the image by rename; the replaced file is released after the job has
 * completed (its blocks are not freed inside the rename), and nothing of it is left behind. */
static void test_rebuild_releases_replaced_image(void **state) {
        char *big = test_env_content_path(&env, "big.wim"), *path = NULL, *job = NULL;
        char *images = path_in(env.state_dir, "images");
        struct stat old_st, new_st;

        assert_null(test_create(&env, "SMS_BootImagePackage", &path, &job, 1, "{sv}", "ImagePath", "s", big));
        assert_int_equal(test_wait_job(&env, job, NULL), 2);
        char *built = test_get_string(&env, path, BASE, "PkgSourcePath");
        int old_fd = open(built, O_RDONLY | O_CLOEXEC);
        assert_true(old_fd >= 0);

        sd_bus_message *reply = NULL;
        const char *j;
        assert_null(test_invoke(&env, path, BOOT, "UpdateImage", &reply, NULL));
        sd_bus_message_read(reply, "o", &j);
        char *rebuild = strdup(j);
        sd_bus_message_unref(reply);
        assert_int_equal(test_wait_job(&env, rebuild, NULL), 2);
        assert_int_equal(test_get_u32(&env, path, BASE, "SourceVersion"), 2);

        /* A new file in the new version's folder; the old version's folder goes soon after,
         * and with it the old inode's last name. */
        char *rebuilt = test_get_string(&env, path, BASE, "PkgSourcePath");
        assert_string_not_equal(rebuilt, built);
        assert_int_equal(stat(rebuilt, &new_st), 0);
        assert_int_equal(fstat(old_fd, &old_st), 0);
        assert_true(new_st.st_ino != old_st.st_ino);
        TEST_WAIT_UNTIL(fstat(old_fd, &old_st) == 0 && old_st.st_nlink == 0 && count_temp_files(images) == 0,
                        "the replaced image to lose its last link (%ju links, %zu temporaries)",
                        (uintmax_t) old_st.st_nlink, count_temp_files(images));
        assert_int_equal(old_st.st_nlink, 0);
        assert_int_equal(count_temp_files(images), 0);
        char *old_dir = strdup(built);
        *strrchr(old_dir, '/') = 0;
        assert_true(access(old_dir, F_OK) < 0);
        close(old_fd);
        free(old_dir);
        free(rebuilt);

        free(rebuild);
        free(built);
        free(images);
        free(big);
        free(path);
        free(job);
}

static void test_reload_image_properties(void **state) {
        char *wim = test_env_content_path(&env, "reload.wim"), *path = NULL, *job = NULL;

        assert_int_equal(test_make_winpe_wim(wim, "9", true, 0, true), 0);
        assert_null(test_create(&env, "SMS_BootImagePackage", &path, &job, 1, "{sv}", "ImagePath", "s", wim));
        assert_int_equal(test_wait_job(&env, job, NULL), 2);
        char *sedo = test_get_string(&env, path, BASE, "SedoObjectVersion");

        /* The admin replaces the WIM with an x86 one; Reload picks it up. */
        assert_int_equal(test_make_winpe_wim(wim, "0", true, 0, true), 0);
        assert_null(test_invoke(&env, path, BOOT, "ReloadImageProperties", NULL, NULL));
        char *arch = test_get_string(&env, path, BOOT, "Architecture");
        assert_string_equal(arch, "0");
        /* Get → Reload → Put of another property: the reloaded values stay. */
        assert_null(test_invoke(&env, path, BASE, "Put", NULL, "a{sv}", 1, "Description", "s", "after reload"));
        free(arch);
        arch = test_get_string(&env, path, BOOT, "Architecture");
        assert_string_equal(arch, "0");
        char *sedo2 = test_get_string(&env, path, BASE, "SedoObjectVersion");
        assert_string_not_equal(sedo, sedo2);

        free(sedo2);
        free(sedo);
        free(arch);
        free(wim);
        free(path);
        free(job);
}

static void test_export_default_boot_image(void **state) {
        char *out = test_env_content_path(&env, "exported/boot.wim"), *dir = test_env_content_path(&env, "exported");
        sd_bus_message *reply = NULL;
        const char *j;

        mkdir(dir, 0755);
        test_hold(&env, "ExportDefaultBootImage");
        assert_null(test_invoke(&env, ROOT "/class/SMS_BootImagePackage", BOOT_STATIC, "ExportDefaultBootImage", &reply,
                                "sus", "x64", 1, out));
        sd_bus_message_read(reply, "o", &j);
        char *job = strdup(j);
        sd_bus_message_unref(reply);
        /* One at a time: a second export while the first is held running is refused. */
        test_wait_held(&env, "ExportDefaultBootImage", job);
        char *out2 = test_env_content_path(&env, "exported/second.wim");
        assert_string_equal(test_invoke(&env, ROOT "/class/SMS_BootImagePackage", BOOT_STATIC, "ExportDefaultBootImage",
                                        NULL, "sus", "x64", 1, out2),
                            SMSPROV_ERR("Busy"));
        test_release(&env, "ExportDefaultBootImage");
        assert_int_equal(test_wait_job(&env, job, NULL), 2);
        char *s = wim_file(out, "\\Windows\\System32\\WinPE-SecureStartup.txt");
        assert_string_equal(s, "WinPE-SecureStartup amd64\n");
        free(s);
        s = wim_file(out, "\\Windows\\System32\\winpeshl.ini");
        assert_non_null(s);
        free(s);

        assert_string_equal(test_invoke(&env, ROOT "/class/SMS_BootImagePackage", BOOT_STATIC, "ExportDefaultBootImage",
                                        NULL, "sus", "sparc", 1, out),
                            SMSPROV_ERR("InvalidParameter"));
        assert_string_equal(test_invoke(&env, ROOT "/class/SMS_BootImagePackage", BOOT_STATIC, "ExportDefaultBootImage",
                                        NULL, "sus", "x64", 7, out),
                            SMSPROV_ERR("ImageError"));
        assert_string_equal(test_invoke(&env, ROOT "/class/SMS_BootImagePackage", BOOT_STATIC, "ExportDefaultBootImage",
                                        NULL, "sus", "x64", 1, "/tmp/outside.wim"),
                            SMSPROV_ERR("PathNotAllowed"));
        assert_string_equal(test_invoke(&env, ROOT "/class/SMS_BootImagePackage", BOOT_STATIC, "ExportDefaultBootImage",
                                        NULL, "sus", "x64", 1, dir),
                            SMSPROV_ERR("InvalidParameter"));
        free(job);
        free(out);
        free(out2);
        free(dir);
}

static void test_kill_mid_build(void **state) {
        char *big = test_env_content_path(&env, "big.wim"), *path = NULL, *job = NULL;
        char *images = path_in(env.state_dir, "images");

        assert_null(test_create(&env, "SMS_BootImagePackage", &path, &job, 2, "{sv}{sv}", "ImagePath", "s", big, "ContextID",
                                "s", "ctx-kill"));
        assert_int_equal(test_wait_job(&env, job, NULL), 2);
        char *built = test_get_string(&env, path, BASE, "PkgSourcePath");
        char *before = file_hash(built);

        /* Kill the daemon while a rebuild runs (held at its start). */
        sd_bus_message *reply = NULL;
        const char *j;
        test_hold(&env, "UpdateImage");
        assert_null(test_invoke(&env, path, BOOT, "UpdateImage", &reply, NULL));
        sd_bus_message_read(reply, "o", &j);
        char *running = strdup(j);
        sd_bus_message_unref(reply);
        test_wait_held(&env, "UpdateImage", running);
        assert_int_equal(test_env_stop_daemon(&env, SIGKILL), 0);
        test_release(&env, "UpdateImage");
        assert_int_equal(test_env_start_daemon(&env, NULL), 0);

        /* The database is whole, the image is the previous one, nothing temporary is left, the
         * package is idle again, and the ContextID says the build failed. */
        test_env_check_database(&env);

        char *after = file_hash(built);
        assert_string_equal(after, before);
        assert_int_equal(count_temp_files(images), 0);
        assert_int_equal(test_get_u32(&env, path, BASE, "ActionInProgress"), 0);
        assert_int_equal(test_get_u32(&env, path, BASE, "SourceVersion"), 1);
        uint32_t status, progress, max;
        const char *text, *ext;
        int32_t code;
        assert_null(test_invoke(&env, ROOT "/class/SMS_BootImagePackage", BOOT_STATIC, "QueryOSDBinaryInjectionStatus",
                                &reply, "s", "ctx-kill"));
        sd_bus_message_read(reply, "uuusis", &status, &progress, &max, &text, &code, &ext);
        /* The build was killed: the status is final, an error, never "in progress". */
        assert_int_equal(status, 2);
        sd_bus_message_unref(reply);

        free(after);
        free(before);
        free(built);
        free(running);
        free(images);
        free(big);
        free(path);
        free(job);
}

typedef struct JobSignals {
        unsigned changed, job_new, job_removed, completed, removed;
        uint64_t first_changed_usec, last_changed_usec;
        char removed_result[32];
} JobSignals;

static uint64_t mono_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

static int on_job_signal(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        JobSignals *s = userdata;
        const char *member = sd_bus_message_get_member(m);

        if (strcmp(member, "PropertiesChanged") == 0) {
                uint64_t now = mono_usec();
                if (!s->changed++)
                        s->first_changed_usec = now;
                s->last_changed_usec = now;
        } else if (strcmp(member, "JobNew") == 0)
                s->job_new++;
        else if (strcmp(member, "JobRemoved") == 0) {
                uint64_t id;
                const char *path, *result;
                s->job_removed++;
                if (sd_bus_message_read(m, "tos", &id, &path, &result) > 0)
                        snprintf(s->removed_result, sizeof s->removed_result, "%s", result);
        } else if (strcmp(member, "Completed") == 0)
                s->completed++;
        else if (strcmp(member, "InterfacesRemoved") == 0) {
                const char *path;
                if (sd_bus_message_read(m, "o", &path) > 0 && strstr(path, "/job/"))
                        s->removed++;
        }
        return 0;
}

/* Job objects: JobNew, coalesced progress (at most one PropertiesChanged per 100 ms), Completed,
 * JobRemoved with the result, and removal from the bus after the linger time. */
static void test_job_signals_and_linger(void **state) {
        static const char *const linger[] = { "--job-linger=1", NULL };
        char *big = test_env_content_path(&env, "big.wim"), *path = NULL, *job = NULL;
        JobSignals s = {};
        sd_bus_slot *slot = NULL;

        assert_int_equal(test_env_stop_daemon(&env, SIGTERM), 0);
        assert_int_equal(test_env_start_daemon(&env, linger), 0);
        assert_true(sd_bus_add_match(env.bus, &slot,
                                     "type='signal',sender='org.smsprov.Provider1',path_namespace='/org/smsprov/Provider1'",
                                     on_job_signal, &s) >= 0);

        assert_null(test_create(&env, "SMS_BootImagePackage", &path, &job, 1, "{sv}", "ImagePath", "s", big));
        TEST_BUS_WAIT_UNTIL(env.bus, s.completed > 0 && s.job_removed > 0,
                            "Completed and JobRemoved of %s (%u, %u so far)", job, s.completed, s.job_removed);
        assert_int_equal(s.job_new, 1);
        assert_int_equal(s.completed, 1);
        assert_int_equal(s.job_removed, 1);
        assert_string_equal(s.removed_result, "done");
        /* Coalescing: the progress signals of one job come at most every 100 ms (plus the final
         * one at the end and a little slack for timer jitter). */
        if (s.changed > 2) {
                uint64_t span_ms = (s.last_changed_usec - s.first_changed_usec) / 1000;
                assert_true(s.changed <= span_ms / 100 + 3);
        }

        /* The job goes away after the linger time, with InterfacesRemoved. */
        TEST_BUS_WAIT_UNTIL(env.bus, s.removed > 0, "InterfacesRemoved of %s after its linger time", job);
        assert_int_equal(s.removed, 1);
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint32_t state_value;
        assert_true(sd_bus_get_property_trivial(env.bus, "org.smsprov.Provider1", job, IFACE "Job", "State", &error, 'u',
                                                &state_value) < 0);
        sd_bus_error_free(&error);

        sd_bus_slot_unref(slot);
        free(big);
        free(path);
        free(job);
}

/* --- set-up ------------------------------------------------------------------------------------ */

static void write_text(const char *path, const char *text) {
        assert_int_equal(test_write_file(path, text, strlen(text)), 0);
}

static int setup(void **state) {
        char *p;

        if (test_env_start(&env) < 0)
                return -1;
#define CONTENT(name) (p = test_env_content_path(&env, name))
        free(test_env_make_wim(&env, "boot.wim", 0, true));
        free(test_env_make_wim(&env, "big.wim", 48u << 20, false));
        assert_int_equal(test_make_multi_image_wim(CONTENT("multi.wim"), 3), 0);
        free(p);
        mkdir(CONTENT("setup"), 0755);
        free(p);
        mkdir(CONTENT("setup/sources"), 0755);
        free(p);
        assert_int_equal(test_make_winpe_wim(CONTENT("setup/sources/install.wim"), "0", false, 0, true), 0);
        free(p);
        write_text(CONTENT("notawim.wim"), "this is not a WIM file\n");
        free(p);
        write_text(CONTENT("background.bmp"), "BM fake bitmap\n");
        free(p);
        write_text(CONTENT("prestart/prestart.cmd"), "@echo prestart\r\n");
        free(p);
        write_text(CONTENT("drivers/nic/nic.inf"), "[Version]\r\nSignature=\"$Windows NT$\"\r\nClass=Net\r\n"
                                                   "[Manufacturer]\r\nM=M,NTamd64\r\n[M.NTamd64]\r\n\"NIC\"=I,PCI\\VEN_1\r\n");
        free(p);
        /* A truncated WIM: the first half of a real one. */
        {
                char *src = test_env_content_path(&env, "boot.wim"), *dst = test_env_content_path(&env, "truncated.wim");
                struct stat st;
                assert_int_equal(stat(src, &st), 0);
                char *buf = malloc((size_t) st.st_size);
                FILE *f = fopen(src, "re");
                assert_int_equal(fread(buf, 1, (size_t) st.st_size, f), (size_t) st.st_size);
                fclose(f);
                assert_int_equal(test_write_file(dst, buf, (size_t) st.st_size / 2), 0);
                free(buf);
                free(src);
                free(dst);
        }
        /* The kit's winpe.wim for ExportDefaultBootImage. */
        p = path_in(env.dir, "adk/amd64/winpe.wim");
        assert_int_equal(test_make_winpe_wim(p, "9", true, 0, true), 0);
        free(p);
        *state = &env;
        return 0;
}

static int teardown(void **state) {
        return test_env_stop(&env);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_get_image_properties),
                cmocka_unit_test(test_image_package_metadata),
                cmocka_unit_test(test_image_package_extracts_one_index),
                cmocka_unit_test(test_image_information),
                cmocka_unit_test(test_create_bad_wims_change_nothing),
                cmocka_unit_test(test_boot_image_build),
                cmocka_unit_test(test_build_busy_and_cancel),
                cmocka_unit_test(test_rebuild_releases_replaced_image),
                cmocka_unit_test(test_reload_image_properties),
                cmocka_unit_test(test_export_default_boot_image),
                cmocka_unit_test(test_kill_mid_build),
                cmocka_unit_test(test_job_signals_and_linger),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, setup, teardown);
}
