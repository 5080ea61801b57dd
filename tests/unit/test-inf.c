/* SPDX-License-Identifier: MIT */

/* model/inf.c: driver INF files as the driver catalog reads them. Every INF here is written by
 * the test (a NIC, a storage controller, a multi-architecture package, UTF-16 and Windows-1252
 * encodings) or built from bytes (broken UTF-16); malformed ones must fail with InvalidParameter
 * naming their line. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "smsprov/error.h"
#include "smsprov/inf.h"
#include "smsprov/macro.h"
#include "smsprov/utf8.h"

static InfDriver *parse_ok_bytes(const void *data, size_t size) {
        SmsError e = SMS_ERROR_NULL;
        InfDriver *d = NULL;

        if (inf_parse(data, size, &d, &e) < 0)
                fail_msg("inf_parse() failed: %s: %s", sms_error_code_to_name(e.code), e.message);
        assert_false(sms_error_is_set(&e));
        assert_non_null(d);
        return d;
}

static InfDriver *parse_ok(const char *text) {
        return parse_ok_bytes(text, strlen(text));
}

/* The parse fails with InvalidParameter and a message that holds what (e.g. "line 3: …"). */
static void parse_fails_bytes(const void *data, size_t size, const char *what) {
        SmsError e = SMS_ERROR_NULL;
        InfDriver *d = NULL;

        int r = inf_parse(data, size, &d, &e);
        if (r >= 0)
                fail_msg("inf_parse() accepted an INF that should fail with \"%s\"", what);
        assert_int_equal(r, -EINVAL);
        assert_null(d);
        assert_int_equal(e.code, SMS_ERROR_INVALID_PARAMETER);
        assert_non_null(e.message);
        assert_true(utf8_is_valid(e.message));
        if (!strstr(e.message, what))
                fail_msg("message \"%s\" does not say \"%s\"", e.message, what);
        sms_error_clear(&e);
}

static void parse_fails(const char *text, const char *what) {
        parse_fails_bytes(text, strlen(text), what);
}

/* The text with every LF made CRLF. */
static char *crlf(const char *text) {
        char *out = malloc(strlen(text) * 2 + 1), *w = out;

        assert_non_null(out);
        for (const char *s = text; *s; s++) {
                if (*s == '\n')
                        *w++ = '\r';
                *w++ = *s;
        }
        *w = 0;
        return out;
}

/* The UTF-8 text as UTF-16 with a byte order mark; *ret_size is its size in bytes. */
static uint8_t *utf16(const char *text, bool big_endian, size_t *ret_size) {
        uint8_t *out = malloc(strlen(text) * 4 + 2);
        size_t n = 0;

        assert_non_null(out);
        out[n++] = big_endian ? 0xFE : 0xFF;
        out[n++] = big_endian ? 0xFF : 0xFE;
        for (const char *s = text; *s;) {
                uint32_t c;
                size_t len = utf8_decode(s, &c);
                assert_true(len > 0);
                s += len;
                uint16_t units[2] = { (uint16_t) c };
                size_t n_units = 1;
                if (c >= 0x10000) {
                        units[0] = (uint16_t) (0xD800 + ((c - 0x10000) >> 10));
                        units[1] = (uint16_t) (0xDC00 + ((c - 0x10000) & 0x3FF));
                        n_units = 2;
                }
                for (size_t i = 0; i < n_units; i++) {
                        out[n++] = (uint8_t) (big_endian ? units[i] >> 8 : units[i] & 0xFF);
                        out[n++] = (uint8_t) (big_endian ? units[i] & 0xFF : units[i] >> 8);
                }
        }
        *ret_size = n;
        return out;
}

static uint64_t date_usec(int year, int month, int day) {
        struct tm tm = { .tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day };
        return (uint64_t) timegm(&tm) * USEC_PER_SEC;
}

static void assert_strv(char **l, const char *const *expected, size_t n) {
        assert_non_null(l);
        for (size_t i = 0; i < n; i++) {
                if (!l[i])
                        fail_msg("list ends after %zu entries, expected %zu", i, n);
                assert_string_equal(l[i], expected[i]);
        }
        if (l[n])
                fail_msg("list has more than %zu entries: \"%s\"", n, l[n]);
}

static const InfFile *find_file(const InfDriver *d, const char *directory, const char *name) {
        for (size_t i = 0; i < d->n_files; i++)
                if (streq(d->files[i].directory, directory) && streq(d->files[i].name, name))
                        return &d->files[i];
        fail_msg("no file %s/%s", directory, name);
        return NULL;
}

/* A network adapter: several models and IDs, an ID listed twice in another case, a continuation,
 * quotes, comments, localized strings, and an unterminated quote in a section nothing reads. */
static const char nic_inf[] =
        "; Contoso network adapter\n"
        "[Version]\n"
        "Signature   = \"$WINDOWS NT$\"\n"
        "Class       = Net\n"
        "ClassGUID   = {4d36e972-e325-11ce-bfc1-08002be10318}\n"
        "Provider    = %Contoso%\n"
        "CatalogFile = contoso.cat\n"
        "DriverVer   = 03/14/2023,12.19.2.45 ; the date and version\n"
        "\n"
        "[Manufacturer]\n"
        "%Contoso% = Contoso, NTamd64.10.0...16299, NTamd64.6.3\n"
        "\n"
        "[Contoso.NTamd64.10.0...16299]\n"
        "; DisplayName            Section    DeviceID\n"
        "%E1000.DeviceDesc%     = E1000.ndi, PCI\\VEN_8086&DEV_100E, PCI\\VEN_8086&DEV_100E&SUBSYS_001E8086\n"
        "%E1004.DeviceDesc%     = E1000.ndi, PCI\\VEN_8086&DEV_1004\n"
        "\"%E100F.DeviceDesc%\"   = E1000.ndi, \\\n"
        "                         PCI\\VEN_8086&DEV_100F\n"
        "\n"
        "[contoso.ntamd64.6.3]\n"
        "%E1000.DeviceDesc%     = E1000.ndi, pci\\ven_8086&dev_100e   ; the same ID in another case\n"
        "\n"
        "[E1000.ndi.NT]\n"
        "AddReg    = e1000.reg\n"
        "CopyFiles = e1000.CopyFiles\n"
        "HKR, Ndi, Service, 0, \"e1000   ; a quote that nothing reads\n"
        "\n"
        "[SourceDisksNames]\n"
        "1 = %DiskName%,,,\"\"\n"
        "\n"
        "[SourceDisksFiles]\n"
        "e1000.sys    = 1,,123456\n"
        "e1000msg.dll = 1\n"
        "\n"
        "[Strings]\n"
        "Contoso          = \"Contoso, Ltd.\"\n"
        "E1000.DeviceDesc = \"Contoso PRO/1000 MT Network Connection\"\n"
        "E1004.DeviceDesc =   Contoso PRO/1000 MT Server Adapter   \n"
        "E100F.DeviceDesc = \"Contoso \"\"Gigabit\"\" Adapter; fiber\"\n"
        "DiskName         = \"Contoso Driver Disk\"\n"
        "\n"
        "[Strings.0407]\n"
        "Contoso          = \"Contoso GmbH\"\n"
        "E1000.DeviceDesc = \"Contoso PRO/1000 MT-Netzwerkverbindung\"\n";

static void check_nic(const InfDriver *d) {
        static const char *const hardware_ids[] = {
                "PCI\\VEN_8086&DEV_100E", "PCI\\VEN_8086&DEV_1004", "PCI\\VEN_8086&DEV_100F",
        };
        static const char *const compatible_ids[] = { "PCI\\VEN_8086&DEV_100E&SUBSYS_001E8086" };

        assert_string_equal(d->driver_class, "Net");
        assert_string_equal(d->class_guid, "{4d36e972-e325-11ce-bfc1-08002be10318}");
        assert_string_equal(d->driver_provider, "Contoso, Ltd.");
        assert_string_equal(d->driver_version, "12.19.2.45");
        assert_int_equal(d->driver_date, date_usec(2023, 3, 14));
        assert_string_equal(d->catalog_file, "contoso.cat");
        assert_int_equal(d->n_catalog_files, 1);
        assert_int_equal(d->catalog_files[0].architectures, INF_ARCH_ALL);
        assert_string_equal(d->localized_display_name, "Contoso PRO/1000 MT Network Connection");
        assert_int_equal(d->n_localized_names, 1);
        assert_int_equal(d->localized_names[0].language_id, 0x0407);
        assert_string_equal(d->localized_names[0].display_name, "Contoso PRO/1000 MT-Netzwerkverbindung");

        assert_int_equal(d->n_models, 4);
        assert_string_equal(d->models[0].manufacturer, "Contoso, Ltd.");
        assert_string_equal(d->models[0].install_section, "E1000.ndi");
        assert_string_equal(d->models[0].target, "NTamd64.10.0...16299");
        assert_int_equal(d->models[0].architecture, INF_ARCH_X64);
        assert_int_equal(d->models[0].line, 15);
        assert_string_equal(d->models[0].hardware_id, "PCI\\VEN_8086&DEV_100E");
        assert_strv(d->models[0].compatible_ids, compatible_ids, 1);
        assert_string_equal(d->models[1].description, "Contoso PRO/1000 MT Server Adapter");
        assert_strv(d->models[1].compatible_ids, NULL, 0);
        /* A quoted key, a continuation line, "" inside quotes, a ';' inside them. */
        assert_string_equal(d->models[2].description, "Contoso \"Gigabit\" Adapter; fiber");
        assert_string_equal(d->models[2].hardware_id, "PCI\\VEN_8086&DEV_100F");
        assert_int_equal(d->models[2].line, 17);
        assert_string_equal(d->models[3].target, "NTamd64.6.3");
        assert_int_equal(d->models[3].line, 21);

        assert_strv(d->hardware_ids, hardware_ids, ELEMENTSOF(hardware_ids));
        assert_strv(d->compatible_ids, compatible_ids, ELEMENTSOF(compatible_ids));
        assert_int_equal(d->platforms, INF_ARCH_BIT(INF_ARCH_X64));

        assert_int_equal(d->n_files, 2);
        assert_string_equal(d->files[0].name, "e1000.sys");
        assert_string_equal(d->files[0].directory, "");
        assert_string_equal(d->files[0].disk_id, "1");
        assert_int_equal(d->files[0].architectures, INF_ARCH_ALL);
        assert_int_equal(d->files[0].line, 32);
        assert_string_equal(d->files[1].name, "e1000msg.dll");
}

static void test_nic(void **state) {
        _cleanup_(inf_driver_freep) InfDriver *d = parse_ok(nic_inf);
        check_nic(d);

        /* The same INF with CRLF line ends, and with a UTF-8 BOM. */
        _cleanup_free_ char *dos = crlf(nic_inf);
        _cleanup_(inf_driver_freep) InfDriver *d2 = parse_ok(dos);
        check_nic(d2);
        _cleanup_free_ char *bom = NULL;
        assert_true(asprintf(&bom, "\xEF\xBB\xBF%s", dos) > 0);
        _cleanup_(inf_driver_freep) InfDriver *d3 = parse_ok(bom);
        check_nic(d3);
}

/* A storage controller: lower-case names, decorated CatalogFile, an undecorated models section
 * beside decorated ones, an entry with only a compatible ID, %% in a value, and disks whose path
 * depends on the architecture. */
static const char storage_inf[] =
        "[version]\n"
        "signature=\"$Windows NT$\"\n"
        "class=SCSIAdapter\n"
        "classguid={4D36E97B-E325-11CE-BFC1-08002BE10318}\n"
        "provider=%FABRIKAM%\n"
        "driverver=1-5-2021,4.2\n"
        "catalogfile.ntamd64=fbstor64.cat\n"
        "CatalogFile.NTx86=fbstor.cat\n"
        "\n"
        "[MANUFACTURER]\n"
        "%FABRIKAM%=Fabrikam,NTx86,NTamd64\n"
        "\n"
        "[Fabrikam]\n"
        "%Ctrl.DeviceDesc%=fbstor_Inst,PCI\\VEN_1AF4&DEV_1001\n"
        "\n"
        "[Fabrikam.NTx86]\n"
        "%Ctrl.DeviceDesc%=fbstor_Inst,PCI\\VEN_1AF4&DEV_1001&SUBSYS_00021AF4,PCI\\VEN_1AF4&DEV_1001\n"
        "Fabrikam 100%% Compatible Controller = fbstor_Inst,,PCI\\CC_010400\n"
        "\n"
        "[fabrikam.ntamd64]\n"
        "%Ctrl.DeviceDesc%=fbstor_Inst,PCI\\VEN_1AF4&DEV_1001&SUBSYS_00021AF4,PCI\\VEN_1AF4&DEV_1001\n"
        "\n"
        "[SourceDisksNames.x86]\n"
        "1 = %Disk%,,,\\i386\n"
        "\n"
        "[SourceDisksNames.amd64]\n"
        "1 = %Disk%,,,\\amd64\\\n"
        "\n"
        "[SourceDisksFiles]\n"
        "fbstor.sys = 1,,\n"
        "fbcoinst.dll = 1,sub\n"
        "\n"
        "[Strings]\n"
        "FABRIKAM=\"Fabrikam, Inc.\"\n"
        "Ctrl.DeviceDesc=\"Fabrikam SCSI Controller\"\n"
        "Disk=\"Fabrikam Installation Disk\"\n";

static void test_storage(void **state) {
        static const char *const hardware_ids[] = {
                "PCI\\VEN_1AF4&DEV_1001", "PCI\\VEN_1AF4&DEV_1001&SUBSYS_00021AF4",
        };
        static const char *const compatible_ids[] = { "PCI\\VEN_1AF4&DEV_1001", "PCI\\CC_010400" };
        _cleanup_(inf_driver_freep) InfDriver *d = parse_ok(storage_inf);

        assert_string_equal(d->driver_class, "SCSIAdapter");
        assert_string_equal(d->driver_provider, "Fabrikam, Inc.");
        assert_string_equal(d->driver_version, "4.2");
        assert_int_equal(d->driver_date, date_usec(2021, 1, 5));
        /* No undecorated CatalogFile: the first decorated one. */
        assert_string_equal(d->catalog_file, "fbstor64.cat");
        assert_int_equal(d->n_catalog_files, 2);
        assert_string_equal(d->catalog_files[0].name, "fbstor64.cat");
        assert_int_equal(d->catalog_files[0].architectures, INF_ARCH_BIT(INF_ARCH_X64));
        assert_string_equal(d->catalog_files[1].name, "fbstor.cat");
        assert_int_equal(d->catalog_files[1].architectures, INF_ARCH_BIT(INF_ARCH_X86));
        assert_int_equal(d->n_localized_names, 0);

        /* The undecorated section first, then NTx86 and NTamd64 as [Manufacturer] lists them. */
        assert_int_equal(d->n_models, 4);
        assert_string_equal(d->models[0].target, "");
        assert_int_equal(d->models[0].architecture, INF_ARCH_X86);
        assert_string_equal(d->models[1].target, "NTx86");
        assert_string_equal(d->models[2].description, "Fabrikam 100% Compatible Controller");
        assert_null(d->models[2].hardware_id);
        assert_string_equal(d->models[2].compatible_ids[0], "PCI\\CC_010400");
        assert_string_equal(d->models[3].target, "NTamd64");
        assert_int_equal(d->models[3].architecture, INF_ARCH_X64);
        assert_string_equal(d->localized_display_name, "Fabrikam SCSI Controller");
        assert_strv(d->hardware_ids, hardware_ids, ELEMENTSOF(hardware_ids));
        assert_strv(d->compatible_ids, compatible_ids, ELEMENTSOF(compatible_ids));
        assert_int_equal(d->platforms, INF_ARCH_BIT(INF_ARCH_X86) | INF_ARCH_BIT(INF_ARCH_X64));

        /* One undecorated entry, a directory per architecture: its disk's path differs. */
        unsigned others = INF_ARCH_BIT(INF_ARCH_ARM64) | INF_ARCH_BIT(INF_ARCH_IA64) | INF_ARCH_BIT(INF_ARCH_ARM);
        assert_int_equal(d->n_files, 6);
        assert_int_equal(find_file(d, "i386", "fbstor.sys")->architectures, INF_ARCH_BIT(INF_ARCH_X86));
        assert_int_equal(find_file(d, "amd64", "fbstor.sys")->architectures, INF_ARCH_BIT(INF_ARCH_X64));
        assert_int_equal(find_file(d, "", "fbstor.sys")->architectures, others);
        assert_int_equal(find_file(d, "i386/sub", "fbcoinst.dll")->architectures, INF_ARCH_BIT(INF_ARCH_X86));
        assert_int_equal(find_file(d, "amd64/sub", "fbcoinst.dll")->architectures, INF_ARCH_BIT(INF_ARCH_X64));
        assert_int_equal(find_file(d, "sub", "fbcoinst.dll")->architectures, others);
}

/* One driver for x86, x64 and arm64, with decorated [SourceDisksFiles]; ia64 is named but has no
 * models section, so it is no platform of the driver. */
static const char multi_arch_inf[] =
        "[Version]\n"
        "Signature=\"$WINDOWS NT$\"\n"
        "Class=System\n"
        "ClassGuid={4d36e97d-e325-11ce-bfc1-08002be10318}\n"
        "Provider=%Mfg%\n"
        "DriverVer=12/31/2024,1.0.0.7\n"
        "CatalogFile=multi.cat\n"
        "\n"
        "[Manufacturer]\n"
        "%Mfg%=Models,NTx86,NTamd64,NTarm64,NTia64.5.2\n"
        "\n"
        "[Models.NTx86]\n"
        "%Dev%=Dev_Install,ACPI\\ABCD0001\n"
        "[Models.NTamd64]\n"
        "%Dev%=Dev_Install,ACPI\\ABCD0001\n"
        "[Models.NTarm64]\n"
        "%Dev%=Dev_Install,ACPI\\ABCD0001,ACPI\\ABCD0000\n"
        "\n"
        "[SourceDisksNames]\n"
        "1 = %Disk%\n"
        "[SourceDisksFiles.x86]\n"
        "multi.sys = 1,x86\n"
        "[SourceDisksFiles.amd64]\n"
        "multi.sys = 1,x64\n"
        "common.dll = 1\n"
        "[SourceDisksFiles.arm64]\n"
        "multi.sys = 1,arm64\n"
        "MULTI.SYS = 1 , \"ARM64\\\"   ; listed again, in another case (quoted: a '\\' at the end continues)\n"
        "common.dll = 1\n"
        "[SourceDisksFiles.foo]\n"
        "ignored.sys = 1\n"
        "[Strings]\n"
        "Mfg=\"Northwind\"\n"
        "Dev=\"Northwind System Device\"\n"
        "Disk=\"Northwind Disk\"\n";

static void test_multi_arch(void **state) {
        static const char *const hardware_ids[] = { "ACPI\\ABCD0001" };
        static const char *const compatible_ids[] = { "ACPI\\ABCD0000" };
        _cleanup_(inf_driver_freep) InfDriver *d = parse_ok(multi_arch_inf);

        assert_string_equal(d->driver_class, "System");
        assert_int_equal(d->n_models, 3);
        assert_int_equal(d->models[0].architecture, INF_ARCH_X86);
        assert_int_equal(d->models[1].architecture, INF_ARCH_X64);
        assert_int_equal(d->models[2].architecture, INF_ARCH_ARM64);
        assert_string_equal(d->models[2].target, "NTarm64");
        assert_int_equal(d->platforms,
                         INF_ARCH_BIT(INF_ARCH_X86) | INF_ARCH_BIT(INF_ARCH_X64) | INF_ARCH_BIT(INF_ARCH_ARM64));
        assert_strv(d->hardware_ids, hardware_ids, ELEMENTSOF(hardware_ids));
        assert_strv(d->compatible_ids, compatible_ids, ELEMENTSOF(compatible_ids));

        assert_int_equal(d->n_files, 4);
        assert_string_equal(d->files[0].directory, "x86");
        assert_string_equal(d->files[0].name, "multi.sys");
        assert_int_equal(d->files[0].architectures, INF_ARCH_BIT(INF_ARCH_X86));
        assert_string_equal(d->files[1].directory, "x64");
        assert_int_equal(d->files[1].architectures, INF_ARCH_BIT(INF_ARCH_X64));
        assert_string_equal(d->files[2].name, "common.dll");
        assert_int_equal(d->files[2].architectures, INF_ARCH_BIT(INF_ARCH_X64) | INF_ARCH_BIT(INF_ARCH_ARM64));
        assert_string_equal(d->files[3].directory, "arm64");
        assert_string_equal(d->files[3].name, "multi.sys");
        assert_int_equal(d->files[3].architectures, INF_ARCH_BIT(INF_ARCH_ARM64));
        assert_int_equal(d->files[3].line, 27);

        assert_string_equal(inf_architecture_to_string(INF_ARCH_X64), "x64");
        assert_int_equal(inf_architecture_from_string("AMD64"), INF_ARCH_X64);
        assert_int_equal(inf_architecture_from_string("arm64"), INF_ARCH_ARM64);
        assert_int_equal(inf_architecture_from_string("mips"), _INF_ARCH_INVALID);
        assert_null(inf_architecture_to_string(_INF_ARCH_MAX));
}

/* Non-ASCII text: German, Japanese and a character outside the BMP (a surrogate pair in UTF-16). */
static const char unicode_inf[] =
        "[Version]\n"
        "Signature=\"$Windows NT$\"\n"
        "Class=Net\n"
        "Provider=%Mfg%\n"
        "DriverVer=07/04/2022,2.0.0.0\n"
        "[Manufacturer]\n"
        "%Mfg%=M,NTamd64\n"
        "[M.NTamd64]\n"
        "%Dev%=Inst,USB\\VID_0B95&PID_1790\n"
        "[Strings]\n"
        "Mfg=\"Grüne Netzwerke\"\n"
        "Dev=\"USB-Netzwerkadapter für Prüfstände \xF0\x9F\x94\x8C\"\n"
        "[Strings.0411]\n"
        "Dev=\"USB ネットワーク アダプター\"\n";

static void check_unicode(const InfDriver *d) {
        assert_string_equal(d->driver_provider, "Grüne Netzwerke");
        assert_string_equal(d->localized_display_name, "USB-Netzwerkadapter für Prüfstände \xF0\x9F\x94\x8C");
        assert_int_equal(d->n_localized_names, 1);
        assert_int_equal(d->localized_names[0].language_id, 0x0411);
        assert_string_equal(d->localized_names[0].display_name, "USB ネットワーク アダプター");
        assert_string_equal(d->hardware_ids[0], "USB\\VID_0B95&PID_1790");
}

static void test_utf16(void **state) {
        size_t size;
        _cleanup_free_ char *dos = crlf(unicode_inf);

        _cleanup_free_ uint8_t *le = utf16(dos, false, &size);
        assert_int_equal(le[0], 0xFF);
        _cleanup_(inf_driver_freep) InfDriver *d = parse_ok_bytes(le, size);
        check_unicode(d);

        _cleanup_free_ uint8_t *be = utf16(unicode_inf, true, &size);
        _cleanup_(inf_driver_freep) InfDriver *d2 = parse_ok_bytes(be, size);
        check_unicode(d2);

        /* And as UTF-8 without a BOM. */
        _cleanup_(inf_driver_freep) InfDriver *d3 = parse_ok(unicode_inf);
        check_unicode(d3);
}

/* A file that is not UTF-8 and has no BOM is Windows-1252, as Windows reads it on Western
 * systems; a Ctrl-Z ends it, as in DOS. */
static void test_windows_1252(void **state) {
        static const char text[] =
                "[Version]\r\nSignature=$Chicago$\r\nClass=Net\r\nProvider=Caf\xE9 \x80 \x93quoted\x94\r\n"
                "[Manufacturer]\r\nM\r\n[M]\r\nDev=Inst,PCI\\VEN_1\r\n\x1A[garbage\r\n";
        _cleanup_(inf_driver_freep) InfDriver *d = parse_ok(text);

        assert_string_equal(d->driver_provider, "Café € “quoted”");
        assert_null(d->driver_version);
        assert_int_equal(d->driver_date, 0);
        assert_null(d->class_guid);
        assert_null(d->catalog_file);
        /* A [Manufacturer] entry without '=' names its models section itself. */
        assert_string_equal(d->models[0].manufacturer, "M");
        assert_string_equal(d->models[0].description, "Dev");
        assert_int_equal(d->platforms, INF_ARCH_BIT(INF_ARCH_X86));
}

/* What [Version] and [Manufacturer] need, for the malformed cases to build on. */
#define VERSION_HEAD "[Version]\nSignature=\"$Windows NT$\"\nClass=Net\n"
#define MINIMAL_TAIL "[Manufacturer]\n%M%=M\n[M]\n%D%=Inst,PCI\\VEN_1\n[Strings]\nM=m\nD=d\n"

static void test_minimal_and_strings_forms(void **state) {
        _cleanup_(inf_driver_freep) InfDriver *d = parse_ok(VERSION_HEAD MINIMAL_TAIL);
        assert_string_equal(d->localized_display_name, "d");

        /* %<number>% is a directory ID, left alone; a token is any case; blanks around a
         * continuation go; [Version] keys decorated with .nt lose to undecorated ones. */
        _cleanup_(inf_driver_freep) InfDriver *d2 = parse_ok(
                "[Version]\n"
                "Signature=\"$Windows NT$\"\n"
                "Class.nt=Wrong\n"
                "Class=Net\n"
                "Provider=%M%\n"
                "[Manufacturer]\n"
                "%m%=M\n"
                "[M]\n"
                "%d% %11% = Inst, PCI\\VEN_1 \\  ; comment after the continuation\n"
                "   , PCI\\CC_02\n"
                "[Strings]\n"
                "M=Maker\n"
                "D=\"Device\"\n");
        assert_string_equal(d2->driver_class, "Net");
        assert_string_equal(d2->driver_provider, "Maker");
        assert_string_equal(d2->models[0].description, "Device %11%");
        assert_string_equal(d2->models[0].hardware_id, "PCI\\VEN_1");
        assert_string_equal(d2->compatible_ids[0], "PCI\\CC_02");

        /* Only localized strings: [Strings.0409] is the default. */
        _cleanup_(inf_driver_freep) InfDriver *d3 = parse_ok(
                VERSION_HEAD "[Manufacturer]\n%M%=M\n[M]\n%D%=Inst,PCI\\VEN_1\n"
                "[Strings.040C]\nM=fabricant\nD=\"périphérique\"\n"
                "[Strings.0409]\nM=maker\nD=device\n");
        assert_string_equal(d3->localized_display_name, "device");
        assert_int_equal(d3->n_localized_names, 2);
        assert_int_equal(d3->localized_names[0].language_id, 0x040C);
        assert_string_equal(d3->localized_names[0].display_name, "périphérique");
        assert_int_equal(d3->localized_names[1].language_id, 0x0409);

        /* [Strings.409] and [Strings.0409] are one language: it is listed once. */
        _cleanup_(inf_driver_freep) InfDriver *d4 = parse_ok(
                VERSION_HEAD MINIMAL_TAIL "[Strings.409]\nD=one\n[Strings.0409]\nD=other\n");
        assert_int_equal(d4->n_localized_names, 1);
        assert_int_equal(d4->localized_names[0].language_id, 0x0409);
}

static void test_malformed(void **state) {
        parse_fails(VERSION_HEAD "[Manufacturer\n%M%=M\n", "line 4: unterminated section name");
        parse_fails(VERSION_HEAD "[ ]\n", "line 4: empty section name");
        parse_fails("[Strings]\nA=b\n" MINIMAL_TAIL, "no [Version] section");
        parse_fails("", "no [Version] section");
        parse_fails_bytes(NULL, 0, "no [Version] section");
        parse_fails("[Version]\nClass=Net\n" MINIMAL_TAIL, "no Signature in [Version] (line 1)");
        parse_fails("[Version]\nSignature=\"$Windows 3.1$\"\nClass=Net\n" MINIMAL_TAIL,
                    "line 2: the Signature \"$Windows 3.1$\" is not");
        parse_fails("[Version]\nSignature=\"$Windows NT$\"\n" MINIMAL_TAIL, "no Class in [Version] (line 1)");
        parse_fails("[Version]\nSignature=\"$Windows NT$\"\nClass=\n" MINIMAL_TAIL, "line 3: the Class is empty");
        parse_fails(VERSION_HEAD "ClassGuid={4d36e972-e325-11ce-bfc1}\n" MINIMAL_TAIL,
                    "line 4: the ClassGuid \"{4d36e972-e325-11ce-bfc1}\" is not a GUID");
        parse_fails(VERSION_HEAD "DriverVer=13/01/2020,1.0\n" MINIMAL_TAIL,
                    "line 4: the DriverVer date \"13/01/2020\" is not mm/dd/yyyy");
        parse_fails(VERSION_HEAD "DriverVer=02/30/2020,1.0\n" MINIMAL_TAIL, "line 4: the DriverVer date");
        parse_fails(VERSION_HEAD "DriverVer=02/03/20,1.0\n" MINIMAL_TAIL, "line 4: the DriverVer date");
        parse_fails(VERSION_HEAD "DriverVer=02/03/1969,1.0\n" MINIMAL_TAIL, "line 4: the DriverVer date \"02/03/1969\" is before 1970");
        parse_fails(VERSION_HEAD "DriverVer=02/03/2020,1.2.3.4.5\n" MINIMAL_TAIL,
                    "line 4: the DriverVer version \"1.2.3.4.5\" is not w.x.y.z");
        parse_fails(VERSION_HEAD "DriverVer=02/03/2020,1.65536\n" MINIMAL_TAIL, "line 4: the DriverVer version");
        parse_fails(VERSION_HEAD "DriverVer=02/03/2020,1..2\n" MINIMAL_TAIL, "line 4: the DriverVer version");
        parse_fails(VERSION_HEAD, "no [Manufacturer] section");
        parse_fails(VERSION_HEAD "[Manufacturer]\n%M%=M\n[Strings]\nM=m\n",
                    "no device models: the [Manufacturer] section (line 4) names no models section");

        /* The brief's example: a token defined nowhere, on line 30. */
        parse_fails(VERSION_HEAD "[Manufacturer]\n%M%=M\n[M]\n" "\n\n\n\n\n\n\n\n\n\n" "\n\n\n\n\n\n\n\n\n\n"
                    "\n\n\n" "%DevDesc%=Inst,PCI\\VEN_1\n[Strings]\nM=m\n",
                    "undefined string token %DevDesc% on line 30");
        parse_fails(VERSION_HEAD "Provider=%Nobody%\n" MINIMAL_TAIL, "undefined string token %Nobody% on line 4");
        parse_fails(VERSION_HEAD "[Manufacturer]\n%M%=M\n[M]\n%D=Inst,PCI\\VEN_1\n[Strings]\nM=m\n",
                    "line 7: a '%' without its closing '%'");

        parse_fails(VERSION_HEAD "[Manufacturer]\n%M%=M\n[M]\n%D%,Inst,PCI\\VEN_1\n[Strings]\nM=m\nD=d\n",
                    "line 7: a model entry is description = install-section");
        parse_fails(VERSION_HEAD "[Manufacturer]\n%M%=M\n[M]\n%D%=,PCI\\VEN_1\n[Strings]\nM=m\nD=d\n",
                    "line 7: a model entry without an install section");
        parse_fails(VERSION_HEAD "[Manufacturer]\n%M%=M\n[M]\n%D%=%I%,PCI\\VEN_1\n[Strings]\nM=m\nD=d\nI=\n",
                    "line 7: a model entry without an install section");
        parse_fails(VERSION_HEAD "[Manufacturer]\n%M%=M\n[M]\n%D%=Inst,,\n[Strings]\nM=m\nD=d\n",
                    "line 7: a model entry without a hardware or compatible ID");
        parse_fails(VERSION_HEAD "[Manufacturer]\n%M%=M,NTmips\n[M]\n%D%=Inst,X\n[Strings]\nM=m\nD=d\n",
                    "line 5: unknown target \"NTmips\"");
        parse_fails(VERSION_HEAD "[Manufacturer]\n%M%=M,NTamd64.10.0.x\n[Strings]\nM=m\n", "line 5: unknown target");
        parse_fails(VERSION_HEAD "[Manufacturer]\n%M%=\n[Strings]\nM=m\n",
                    "line 5: a [Manufacturer] entry without a models section name");

        /* An unterminated quote fails where something reads it, not elsewhere. */
        parse_fails(VERSION_HEAD "[Manufacturer]\n%M%=M\n[M]\n%D%=Inst,\"PCI\\VEN_1\n[Strings]\nM=m\nD=d\n",
                    "line 7: unterminated quoted string");
        parse_fails(VERSION_HEAD MINIMAL_TAIL "[Strings]\nE=\"open\n[Manufacturer]\nX=M2\n[M2]\n%E%=I,Y\n",
                    "line 12: unterminated quoted string");

        parse_fails("Signature=\"$Windows NT$\"\n" VERSION_HEAD MINIMAL_TAIL, "line 1: an entry before the first [section]");
        parse_fails(VERSION_HEAD MINIMAL_TAIL "[SourceDisksFiles]\n..\\evil.sys = 1\n",
                    "line 12: [SourceDisksFiles] lists \"..\\evil.sys\", which is not a plain file name");
        parse_fails(VERSION_HEAD MINIMAL_TAIL "[SourceDisksFiles]\nok.sys = 1,..\\..\\etc\n",
                    "line 12: the directory \"\\..\\..\\etc\" leaves the driver's folder");
        parse_fails(VERSION_HEAD MINIMAL_TAIL "[SourceDisksNames]\n1=d,,,C:\\Windows\n[SourceDisksFiles]\nok.sys = 1\n",
                    "line 14: the directory \"C:\\Windows\\\" leaves the driver's folder");
        parse_fails(VERSION_HEAD "CatalogFile=..\\x.cat\n" MINIMAL_TAIL, "line 4: the CatalogFile \"..\\x.cat\" is not a plain file name");

        /* A continuation on the last line of the file. */
        parse_fails(VERSION_HEAD MINIMAL_TAIL "X = a, \\", "line 11: '\\' continues the last line, but the file ends");
        parse_fails(VERSION_HEAD MINIMAL_TAIL "X = a, \\ ; comment", "line 11: '\\' continues the last line");
}

static void test_bad_encodings(void **state) {
        size_t size;

        /* A lone surrogate on line 2, a high surrogate followed by no low one, odd bytes. */
        _cleanup_free_ uint8_t *bytes = utf16(VERSION_HEAD MINIMAL_TAIL, false, &size);
        uint8_t saved[2] = { bytes[2 + 2 * 10], bytes[3 + 2 * 10] }; /* the 'S' of Signature */
        bytes[2 + 2 * 10] = 0x00;
        bytes[3 + 2 * 10] = 0xDC;
        parse_fails_bytes(bytes, size, "line 2: invalid UTF-16: a low surrogate without its high one");
        bytes[3 + 2 * 10] = 0xD8;
        parse_fails_bytes(bytes, size, "line 2: invalid UTF-16: a high surrogate without its low one");
        bytes[2 + 2 * 10] = saved[0];
        bytes[3 + 2 * 10] = saved[1];
        _cleanup_(inf_driver_freep) InfDriver *d = parse_ok_bytes(bytes, size); /* restored: fine */
        assert_non_null(d);
        parse_fails_bytes(bytes, size - 1, "invalid UTF-16: an odd number of bytes");
        /* A high surrogate as the very last unit. */
        bytes[size - 2] = 0x00;
        bytes[size - 1] = 0xD8;
        parse_fails_bytes(bytes, size, "invalid UTF-16: a high surrogate without its low one");

        /* UTF-8 with a BOM must be UTF-8; NULs and noncharacters are no text. */
        parse_fails("\xEF\xBB\xBF" VERSION_HEAD "Provider=\xC3\x28\n" MINIMAL_TAIL, "line 4: invalid UTF-8");
        static const char with_nul[] = VERSION_HEAD "Provider=a\0b\n" MINIMAL_TAIL;
        parse_fails_bytes(with_nul, sizeof with_nul - 1, "line 4: a NUL character");
        parse_fails(VERSION_HEAD "Provider=\xEF\xBF\xBE\n" MINIMAL_TAIL, "line 4: the noncharacter U+FFFE");
}

static void test_limits(void **state) {
        _cleanup_free_ char *text = NULL, *line = NULL;

        /* A line of 20000 bytes (on line 4); and one of exactly the limit, CRLF not counted. */
        line = malloc(INF_LINE_MAX + 8192);
        assert_non_null(line);
        memset(line, 'A', 20000);
        for (size_t i = 1000; i < 20000; i += 1000)
                line[i] = ','; /* values within their own limit */
        line[20000] = 0;
        assert_true(asprintf(&text, "%sProvider=%s\n%s", VERSION_HEAD, line, MINIMAL_TAIL) > 0);
        parse_fails(text, "line 4: longer than 16384 bytes");
        free(text);
        line[INF_LINE_MAX - strlen("Comment=")] = 0;
        assert_true(asprintf(&text, "%sComment=%s\r\n%s", VERSION_HEAD, line, MINIMAL_TAIL) > 0);
        _cleanup_(inf_driver_freep) InfDriver *d = parse_ok(text);
        assert_non_null(d);
        free(text);

        /* Continuation lines that add up to more than the limit. */
        memset(line, 'B', 9000);
        line[9000] = 0;
        assert_true(asprintf(&text, "%sComment=%s\\\n%s\n%s", VERSION_HEAD, line, line, MINIMAL_TAIL) > 0);
        parse_fails(text, "line 4: an entry longer than 16384 bytes with its continuation lines");
        free(text);

        /* A value of 4096 characters (2-byte ones: the limit counts characters, not bytes). */
        char *w = line;
        for (unsigned i = 0; i < INF_FIELD_MAX + 1; i++) {
                *w++ = '\xC3';
                *w++ = '\xA9';
        }
        *w = 0;
        assert_true(asprintf(&text, "%sProvider=%s\n%s", VERSION_HEAD, line, MINIMAL_TAIL) > 0);
        parse_fails(text, "line 4: a value longer than 4095 characters");
        free(text);
        line[2 * INF_FIELD_MAX] = 0;
        assert_true(asprintf(&text, "%sProvider=%s\n%s", VERSION_HEAD, line, MINIMAL_TAIL) > 0);
        _cleanup_(inf_driver_freep) InfDriver *d2 = parse_ok(text);
        assert_int_equal(strlen(d2->driver_provider), 2 * INF_FIELD_MAX);
        free(text);
        /* …and one that grows past it by substitution. */
        assert_true(asprintf(&text, "%sProvider=%%P%%%%P%%\n%sP=%s\n", VERSION_HEAD, MINIMAL_TAIL, line) > 0);
        parse_fails(text, "line 4: a value longer than 4095 characters after string substitution");
        free(text);

        /* More values in an entry than an entry may hold. */
        memset(line, ',', INF_ENTRY_VALUES_MAX);
        line[INF_ENTRY_VALUES_MAX] = 0;
        assert_true(asprintf(&text, "%sX=%s\n%s", VERSION_HEAD, line, MINIMAL_TAIL) > 0);
        parse_fails(text, "line 4: more than 1024 values in one entry");
        free(text);

        /* More sections than allowed. */
        size_t n = INF_SECTIONS_MAX + 1;
        text = malloc(n * 8 + 1);
        assert_non_null(text);
        char *t = text;
        for (size_t i = 0; i < n; i++)
                t += sprintf(t, "[s%zu]\n", i % 1000);
        parse_fails(text, "line 16385: more than 16384 sections");
        free(text);
        text = NULL;

        /* Bigger than an INF may be (the size is checked before anything is read). */
        _cleanup_free_ char *big = calloc(1, INF_MAX_SIZE + 1);
        assert_non_null(big);
        parse_fails_bytes(big, INF_MAX_SIZE + 1, "the INF is larger than 16777216 bytes");
}

/* A models section of n entries, each "%D% = Inst, <per_entry IDs>" with unique IDs. */
static char *many_models(size_t n, unsigned per_entry, const char *description) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        assert_non_null(f);
        fprintf(f, "%s[Manufacturer]\n%%M%%=M\n[M]\n", VERSION_HEAD);
        for (size_t i = 0; i < n; i++) {
                fputs("%D%=I", f);
                for (unsigned k = 0; k < per_entry; k++)
                        fprintf(f, ",X\\%zx", i * per_entry + k);
                fputc('\n', f);
        }
        fprintf(f, "[Strings]\nM=m\nD=\"%s\"\n", description);
        assert_int_equal(fclose(f), 0);
        return text;
}

/* The limits on what the result may hold, each at its edge and one past it. */
static void test_limits_of_the_result(void **state) {
        _cleanup_free_ char *text = NULL, *big = NULL;

        text = many_models(INF_MODELS_MAX, 1, "d");
        _cleanup_(inf_driver_freep) InfDriver *d = parse_ok(text);
        assert_int_equal(d->n_models, INF_MODELS_MAX);
        assert_int_equal(strv_length(d->hardware_ids), INF_MODELS_MAX);
        free(text);
        text = many_models(INF_MODELS_MAX + 1, 1, "d");
        parse_fails(text, "more than 65536 models (line 65543)");
        free(text);

        /* Hardware and compatible IDs together. */
        text = many_models(INF_IDS_MAX / 2, 2, "d");
        _cleanup_(inf_driver_freep) InfDriver *d2 = parse_ok(text);
        assert_int_equal(strv_length(d2->compatible_ids), INF_IDS_MAX / 2);
        free(text);
        text = many_models(INF_IDS_MAX / 2 + 1, 2, "d");
        parse_fails(text, "more than 65536 hardware and compatible IDs (line 32775)");
        free(text);

        /* Few bytes of INF that a token makes into many bytes of result: 20000 descriptions of
         * 4000 characters would take 80 MB. */
        big = malloc(4001);
        assert_non_null(big);
        memset(big, 'x', 4000);
        big[4000] = 0;
        text = many_models(20000, 1, big);
        parse_fails(text, "come to more than 67108864 bytes");
        free(text);

        /* Entries: 262145 of them, all comments and blank lines aside. */
        const size_t n = INF_ENTRIES_MAX + 1, head = strlen("[Anything]\n");
        text = malloc(head + n * 2 + 1);
        assert_non_null(text);
        memcpy(text, "[Anything]\n", head);
        for (size_t i = 0; i < n; i++)
                memcpy(text + head + i * 2, "a\n", 2);
        text[head + n * 2] = 0;
        parse_fails(text, "more than 262144 entries (line 262146)");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_nic),
                cmocka_unit_test(test_storage),
                cmocka_unit_test(test_multi_arch),
                cmocka_unit_test(test_utf16),
                cmocka_unit_test(test_windows_1252),
                cmocka_unit_test(test_minimal_and_strings_forms),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_bad_encodings),
                cmocka_unit_test(test_limits),
                cmocka_unit_test(test_limits_of_the_result),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
