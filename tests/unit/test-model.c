/* SPDX-License-Identifier: MIT */

/* model/: the descriptor tables, validation, defaults, values, schedules, WMI paths. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smsprov/class.h"
#include "smsprov/macro.h"
#include "smsprov/schedule.h"
#include "smsprov/wmi-path.h"

static const SmsProperty *prop(const SmsClass *c, const char *name) {
        int i = sms_class_find_property(c, name);
        assert_true(i >= 0);
        return c->all[i];
}

static void test_hierarchy(void **state) {
        const SmsClass *base = sms_model_find_class("SMS_PackageBaseclass");
        const SmsClass *boot = sms_model_find_class("sms_bootimagepackage"); /* case-insensitive */
        const SmsClass *image = sms_model_find_class("SMS_ImagePackage");
        const SmsClass *install = sms_model_find_class("SMS_OperatingSystemInstallPackage");

        assert_non_null(base);
        assert_non_null(boot);
        assert_true(base->abstract);
        assert_false(boot->abstract);
        assert_ptr_equal(boot->parent, base);
        assert_ptr_equal(sms_class_root(boot), base);
        assert_true(sms_class_is_a(image, base));
        assert_false(sms_class_is_a(base, image));
        assert_int_equal(boot->discriminator_value, 258);
        assert_int_equal(image->discriminator_value, 257);
        assert_int_equal(install->discriminator_value, 259);
        assert_ptr_equal(sms_class_find_by_discriminator(base, 259), install);
        assert_null(sms_class_find_by_discriminator(base, 0));
        assert_null(sms_model_find_class("SMS_Nothing"));

        /* A property keeps its index in every descendant: the bus vtables rely on it. */
        for (size_t i = 0; i < base->n_all; i++) {
                assert_ptr_equal(boot->all[i], base->all[i]);
                assert_ptr_equal(image->all[i], base->all[i]);
                assert_ptr_equal(sms_class_property_owner(boot, i), base);
        }
        assert_ptr_equal(sms_class_property_owner(boot, (size_t) sms_class_find_property(boot, "ImagePath")), boot);
        assert_string_equal(base->all[base->key_index]->name, "PackageID");
}

static void test_reference_properties(void **state) {
        const SmsClass *boot = sms_model_find_class("SMS_BootImagePackage");
        const SmsClass *image = sms_model_find_class("SMS_ImagePackage");
        /* Every property the reference lists for SMS_BootImagePackage (§4.1) plus the undocumented
         * ones it names. */
        static const char *const boot_props[] = {
                "ActionInProgress", "AlternateContentProviders", "Architecture", "BackgroundBitmapPath", "ContextID",
                "DefaultImage", "Description", "EnableLabShell", "ExtendedData", "ExtendedDataSize",
                "ForcedDisconnectDelay", "ForcedDisconnectEnabled", "ForcedDisconnectNumRetries", "Icon", "IconSize",
                "IgnoreAddressSchedule", "ImageDiskLayout", "ImageIndex", "ImageOSVersion", "ImagePath",
                "ImageProperty", "ISVData", "ISVDataSize", "Language", "LastRefreshTime",
                "LocalizedCategoryInstanceNames", "Manufacturer", "MIFFilename", "MIFName", "MIFPublisher",
                "MIFVersion", "Name", "NumOfPrograms", "OptionalComponents", "PackageID", "PackageSize",
                "PackageType", "PkgFlags", "PkgSourceFlag", "PkgSourcePath", "PreExecCommandLine",
                "PreExecSourceDirectory", "PreferredAddressType", "Priority", "ReferencedDrivers",
                "RefreshPkgSourceFlag", "RefreshSchedule", "ScratchSpace", "SecuredScopeNames", "SedoObjectVersion",
                "ShareName", "ShareType", "SourceDate", "SourceSite", "SourceVersion", "StoredPkgPath",
                "StoredPkgVersion", "Version", "InputLocale", "ProductionClientVersion", "ISVString",
        };
        for (size_t i = 0; i < ELEMENTSOF(boot_props); i++)
                if (sms_class_find_property(boot, boot_props[i]) < 0)
                        fail_msg("SMS_BootImagePackage lacks %s", boot_props[i]);
        assert_true(sms_class_find_property(image, "ImageOSVersion") >= 0);
        assert_true(sms_class_find_property(image, "ImageDiskLayout") >= 0);
        assert_true(sms_class_find_property(image, "ImagePath") < 0);

        assert_int_equal(prop(boot, "ScratchSpace")->type, CIM_UINT32);
        assert_true(sms_property_is_lazy(prop(boot, "ScratchSpace")));
        assert_true(sms_property_is_lazy(prop(boot, "Icon"))); /* large */
        assert_false(sms_property_is_lazy(prop(boot, "Name")));
        assert_int_equal(prop(boot, "ReferencedDrivers")->type, CIM_DRIVER_DETAILS_ARRAY);
        assert_int_equal(prop(boot, "RefreshSchedule")->type, CIM_SCHEDULE_ARRAY);
        assert_true(prop(boot, "SourceSite")->flags & SMS_PROP_READ);
        assert_true(prop(boot, "PackageID")->flags & SMS_PROP_KEY);
}

static void test_qualifiers(void **state) {
        const SmsClass *boot = sms_model_find_class("SMS_BootImagePackage");
        _cleanup_strv_free_ char **q = sms_property_qualifiers(prop(boot, "ScratchSpace"));
        _cleanup_strv_free_ char **k = sms_property_qualifiers(prop(boot, "PackageID"));
        bool lazy = false, values = false, key = false;

        for (char **i = q; *i; i++) {
                lazy |= streq(*i, "lazy");
                values |= streq(*i, "values=32|64|128|256|512");
        }
        for (char **i = k; *i; i++)
                key |= streq(*i, "key");
        assert_true(lazy);
        assert_true(values);
        assert_true(key);
        assert_string_equal(cim_type_to_string(CIM_UINT32_ARRAY), "UInt32[]");
        assert_string_equal(cim_type_to_signature(CIM_DRIVER_DETAILS_ARRAY), "a(us)");
        assert_string_equal(cim_type_to_signature(CIM_SCHEDULE_ARRAY), "a(sa{sv})");
        assert_string_equal(cim_type_to_signature(CIM_DATETIME), "t");
}

static void expect_invalid(const SmsProperty *p, CimValue v, SmsErrorCode code) {
        SmsError e = SMS_ERROR_NULL;
        assert_true(sms_property_validate(p, &v, &e) < 0);
        assert_int_equal(e.code, code);
        assert_non_null(e.message);
        sms_error_clear(&e);
}

static void expect_valid(const SmsProperty *p, CimValue v) {
        SmsError e = SMS_ERROR_NULL;
        if (sms_property_validate(p, &v, &e) < 0)
                fail_msg("%s: %s", p->name, e.message);
}

static void test_validation(void **state) {
        const SmsClass *boot = sms_model_find_class("SMS_BootImagePackage");

        expect_valid(prop(boot, "ScratchSpace"), cim_value_uint(CIM_UINT32, 512));
        expect_invalid(prop(boot, "ScratchSpace"), cim_value_uint(CIM_UINT32, 100), SMS_ERROR_VALUE_OUT_OF_RANGE);
        expect_invalid(prop(boot, "ScratchSpace"), cim_value_bool(true), SMS_ERROR_TYPE_MISMATCH);
        expect_invalid(prop(boot, "Priority"), cim_value_uint(CIM_UINT32, 0), SMS_ERROR_VALUE_OUT_OF_RANGE);
        expect_valid(prop(boot, "PkgFlags"), cim_value_uint(CIM_UINT32, 0x500));
        expect_invalid(prop(boot, "PkgFlags"), cim_value_uint(CIM_UINT32, 0x400), SMS_ERROR_VALUE_OUT_OF_RANGE);
        expect_invalid(prop(boot, "ImageIndex"), cim_value_uint(CIM_UINT32, 0), SMS_ERROR_VALUE_OUT_OF_RANGE);

        char bad_utf8[] = "ab\xff";
        expect_invalid(prop(boot, "Name"), (CimValue) { .type = CIM_STRING, .str = bad_utf8 },
                       SMS_ERROR_VALUE_OUT_OF_RANGE);
        char *huge = malloc(SMS_MAX_STRING_LENGTH + 2);
        memset(huge, 'a', SMS_MAX_STRING_LENGTH + 1);
        huge[SMS_MAX_STRING_LENGTH + 1] = 0;
        expect_invalid(prop(boot, "Description"), (CimValue) { .type = CIM_STRING, .str = huge },
                       SMS_ERROR_VALUE_OUT_OF_RANGE);
        free(huge);

        SmsScheduleToken tokens[16];
        for (size_t i = 0; i < 16; i++) {
                sms_schedule_token_init(&tokens[i], SMS_ST_RECUR_INTERVAL);
                tokens[i].day_span = 1;
        }
        expect_valid(prop(boot, "RefreshSchedule"),
                     (CimValue) { .type = CIM_SCHEDULE_ARRAY, .schedule = { tokens, 15 } });
        expect_invalid(prop(boot, "RefreshSchedule"),
                       (CimValue) { .type = CIM_SCHEDULE_ARRAY, .schedule = { tokens, 16 } },
                       SMS_ERROR_VALUE_OUT_OF_RANGE);
        SmsDriverDetails drivers[] = { { 1, (char *) "" } };
        expect_invalid(prop(boot, "ReferencedDrivers"),
                       (CimValue) { .type = CIM_DRIVER_DETAILS_ARRAY, .drivers = { drivers, 1 } },
                       SMS_ERROR_VALUE_OUT_OF_RANGE);
}

static void test_defaults_and_values(void **state) {
        const SmsClass *boot = sms_model_find_class("SMS_BootImagePackage");
        CimValue v, copy;

        assert_int_equal(sms_property_default(prop(boot, "ForcedDisconnectDelay"), &v), 0);
        assert_false(v.null);
        assert_int_equal(v.u, 5);
        assert_int_equal(sms_property_default(prop(boot, "ScratchSpace"), &v), 0);
        assert_int_equal(v.u, 512);
        assert_int_equal(sms_property_default(prop(boot, "Description"), &v), 0);
        assert_true(v.null);
        assert_int_equal(sms_property_default(prop(boot, "DefaultImage"), &v), 0);
        assert_false(v.null);
        assert_false(v.b);

        char *l[] = { (char *) "a", (char *) "b", NULL };
        CimValue strv = { .type = CIM_STRING_ARRAY, .strv = l };
        assert_int_equal(cim_value_copy(&copy, &strv), 0);
        assert_true(cim_value_equal(&copy, &strv));
        assert_int_equal(cim_value_array_length(&copy), 2);
        cim_value_clear(&copy);
        assert_true(copy.null);

        _cleanup_free_ char *clean = utf8_sanitize("ok\xff\x01z");
        assert_true(utf8_is_valid(clean));
        assert_string_equal(clean, "ok\xEF\xBF\xBD\xEF\xBF\xBDz");
}

static void assert_start_time(const SmsScheduleToken *t, unsigned year, unsigned month, unsigned day,
                              unsigned hour, unsigned minute) {
        assert_int_equal(t->year, year);
        assert_int_equal(t->month, month);
        assert_int_equal(t->day, day);
        assert_int_equal(t->hour, hour);
        assert_int_equal(t->minute, minute);
}

static void test_schedule_documented_example(void **state) {
        /* Reference §7.3: the three tokens of the documented 48-character string. */
        _cleanup_free_ SmsScheduleToken *t = NULL;
        _cleanup_free_ char *again = NULL;
        size_t n;
        SmsError e = SMS_ERROR_NULL;

        assert_int_equal(sms_schedule_decode("791378800008000055147880001B200055177880001E2000", &t, &n, &e), 0);
        assert_int_equal(n, 3);
        assert_int_equal(t[0].type, SMS_ST_NON_RECURRING);
        assert_start_time(&t[0], 2004, 7, 19, 8, 30);
        assert_int_equal(t[1].type, SMS_ST_RECUR_WEEKLY);
        assert_int_equal(t[1].weekday, 3);
        assert_int_equal(t[1].for_number_of_weeks, 1);
        assert_start_time(&t[1], 2004, 7, 20, 8, 21);
        assert_int_equal(t[2].type, SMS_ST_RECUR_WEEKLY);
        assert_int_equal(t[2].weekday, 6);
        assert_start_time(&t[2], 2004, 7, 23, 8, 21);

        assert_int_equal(sms_schedule_encode(t, n, &again, &e), 0);
        assert_string_equal(again, "791378800008000055147880001B200055177880001E2000");

        /* The classic "every 7 days from 1970-02-01". */
        _cleanup_free_ SmsScheduleToken *w = NULL;
        assert_int_equal(sms_schedule_decode("0001200000100038", &w, &n, &e), 0);
        assert_int_equal(w[0].type, SMS_ST_RECUR_INTERVAL);
        assert_int_equal(w[0].day_span, 7);
        assert_int_equal(w[0].year, 1970);
        assert_int_equal(w[0].month, 2);
        assert_int_equal(w[0].day, 1);
}

static void test_schedule_bad_strings(void **state) {
        SmsScheduleToken *t = NULL;
        size_t n;
        SmsError e = SMS_ERROR_NULL;

        assert_true(sms_schedule_decode("00012000001000", &t, &n, &e) < 0); /* not a multiple of 16 */
        assert_int_equal(e.code, SMS_ERROR_INVALID_PARAMETER);
        sms_error_clear(&e);
        assert_true(sms_schedule_decode("000120000010003G", &t, &n, &e) < 0); /* not hex */
        assert_string_equal(e.message, "interval string: 'G' is not a hexadecimal digit");
        sms_error_clear(&e);
        /* 16 bytes that start with a 3-byte character: the message names its first byte, and stays
         * UTF-8 (the bus could not send it otherwise). */
        assert_true(sms_schedule_decode("\xe8\xa3\x94" "0000000000100", &t, &n, &e) < 0);
        assert_int_equal(e.code, SMS_ERROR_INVALID_PARAMETER);
        assert_string_equal(e.message, "interval string: byte 0xE8 is not a hexadecimal digit");
        sms_error_clear(&e);
        assert_true(sms_schedule_decode("0000000000100038", &t, &n, &e) < 0); /* month 0 */
        sms_error_clear(&e);
        assert_true(sms_schedule_decode("0001200000300000", &t, &n, &e) < 0); /* type 6 */
        sms_error_clear(&e);
        assert_int_equal(sms_schedule_decode("", &t, &n, &e), 0);
        assert_int_equal(n, 0);
        free(t);
}

static void test_schedule_round_trip_every_type(void **state) {
        for (int type = SMS_ST_NON_RECURRING; type <= SMS_ST_RECUR_MONTHLY_BY_DATE; type++) {
                SmsScheduleToken t;
                _cleanup_free_ char *s = NULL;
                _cleanup_free_ SmsScheduleToken *back = NULL;
                size_t n;

                sms_schedule_token_init(&t, (SmsScheduleType) type);
                t.year = 2030;
                t.month = 12;
                t.day = 31;
                t.hour = 23;
                t.minute = 59;
                t.is_gmt = true;
                t.hour_span = 6;
                t.weekday = 7;
                t.for_number_of_weeks = 4;
                t.for_number_of_months = 12;
                t.week_order = 4;
                t.month_day = 31;
                if (type != SMS_ST_RECUR_INTERVAL)
                        t.hour_span = 0;
                if (type != SMS_ST_RECUR_WEEKLY && type != SMS_ST_RECUR_MONTHLY_BY_WEEKDAY)
                        t.weekday = 1;
                if (type != SMS_ST_RECUR_WEEKLY)
                        t.for_number_of_weeks = 1;
                if (type != SMS_ST_RECUR_MONTHLY_BY_WEEKDAY && type != SMS_ST_RECUR_MONTHLY_BY_DATE)
                        t.for_number_of_months = 1;
                if (type != SMS_ST_RECUR_MONTHLY_BY_WEEKDAY)
                        t.week_order = 0;
                if (type != SMS_ST_RECUR_MONTHLY_BY_DATE)
                        t.month_day = 0;
                assert_int_equal(sms_schedule_encode(&t, 1, &s, NULL), 0);
                assert_int_equal(strlen(s), 16);
                assert_int_equal(sms_schedule_decode(s, &back, &n, NULL), 0);
                assert_memory_equal(&t, back, sizeof t);
                assert_int_equal(sms_schedule_token_start_usec(&t), sms_schedule_token_start_usec(back));
        }
}

static void test_wmi_path(void **state) {
        WmiPath p;
        SmsError e = SMS_ERROR_NULL;

        /* The forms scripts write: namespace prefixes (the local machine, a host name with dots, no
         * server), names in any case, quotes of either kind, bare integers; a ':' in a key value is
         * no namespace. */
        static const struct {
                const char *path, *class_name, *key, *value;
        } good[] = {
                { "SMS_BootImagePackage.PackageID=\"LAB00001\"", "SMS_BootImagePackage", "PackageID", "LAB00001" },
                { "\\\\srv\\root\\sms\\site_LAB:SMS_ImagePackage.PackageID='a\\'b'", "SMS_ImagePackage", "PackageID", "a'b" },
                { "SMS_StatusMessage.RecordID=17", "SMS_StatusMessage", "RecordID", "17" },
                { "\\\\.\\root\\sms\\site_LAB:SMS_BootImagePackage.PackageID=\"LAB00001\"", "SMS_BootImagePackage",
                  "PackageID", "LAB00001" },
                { "\\\\srv.example.com\\root\\sms\\site_LAB:SMS_Driver.CI_ID=123", "SMS_Driver", "CI_ID", "123" },
                { "//./root/sms/site_LAB:SMS_Driver.CI_ID='123'", "SMS_Driver", "CI_ID", "123" },
                { "root\\sms\\site_LAB:SMS_X.K=-5", "SMS_X", "K", "-5" },
                { "ROOT\\SMS\\SITE_LAB:sms_bootimagepackage.packageid='LAB00001'", "sms_bootimagepackage", "packageid",
                  "LAB00001" },
                { "SMS_X.K=\"a.b:c\"", "SMS_X", "K", "a.b:c" },
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                if (wmi_path_parse(good[i].path, &p, &e) < 0)
                        fail_msg("%s: %s", good[i].path, e.message);
                assert_string_equal(p.class_name, good[i].class_name);
                assert_int_equal(p.n_keys, 1);
                assert_string_equal(p.keys[0].name, good[i].key);
                assert_string_equal(p.keys[0].value, good[i].value);
                wmi_path_done(&p);
        }

        static const char *const bad[] = {
                "", "SMS_BootImagePackage", ".PackageID=\"x\"", "SMS_BootImagePackage.PackageID", "SMS_X.K=\"open",
                "SMS_X.K=abc", "SMS_X.K=1,", "SMS_X.K=1 junk", "\\\\srv\\root\\sms\\site_LAB",
                "\\\\.\\root\\sms\\site_LAB:", "root\\sms.K=1",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_true(wmi_path_parse(bad[i], &p, &e) < 0);
                assert_int_equal(e.code, SMS_ERROR_INVALID_PARAMETER);
                sms_error_clear(&e);
        }
}

static void test_composite_keys(void **state) {
        const SmsClass *info = sms_model_find_class("SMS_ImageInformation");
        const SmsClass *boot = sms_model_find_class("SMS_BootImagePackage");
        CimValue values[SMS_MAX_KEYS];
        const CimValue *pointers[SMS_MAX_KEYS];
        SmsError e = SMS_ERROR_NULL;
        char *text = NULL;

        assert_int_equal(info->n_keys, 2);
        assert_int_equal(boot->n_keys, 1);

        /* Any order and case in, declaration order out; quotes and backslashes escaped. */
        assert_int_equal(sms_class_key_parse(info, "index=3,packageid=\"LAB\\\"X\"", values, &e), 0);
        for (size_t k = 0; k < 2; k++)
                pointers[k] = &values[k];
        assert_int_equal(sms_class_key_format(info, pointers, &text), 0);
        assert_string_equal(text, "Index=3,PackageID=\"LAB\\\"X\"");
        assert_string_equal(values[1].str, "LAB\"X");
        free(text);
        for (size_t k = 0; k < 2; k++)
                cim_value_clear(&values[k]);

        static const char *const bad[] = { "Index=3", "Index=x,PackageID=\"a\"", "Index=1,Index=2,PackageID=\"a\"",
                                           "Name=\"a\",Index=1", "",
                                           /* integers: plain decimal within the type */
                                           "Index=-1,PackageID=\"a\"", "Index=4294967296,PackageID=\"a\"",
                                           "Index=99999999999,PackageID=\"a\"", "Index=+7,PackageID=\"a\"",
                                           "Index= 7,PackageID=\"a\"", "Index=7x,PackageID=\"a\"" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int r = sms_class_key_parse(info, bad[i], values, &e);
                for (size_t k = 0; k < 2; k++)
                        cim_value_clear(&values[k]);
                if (r >= 0)
                        fail_msg("'%s' parsed as a key", bad[i]);
                sms_error_clear(&e);
        }
        assert_int_equal(sms_class_key_parse(info, "Index=4294967295,PackageID=\"a\"", values, &e), 0);
        assert_int_equal(values[0].u, 4294967295u);
        for (size_t k = 0; k < 2; k++)
                cim_value_clear(&values[k]);

        /* A single key is its value as it is. */
        assert_int_equal(sms_class_key_parse(boot, "LAB00001", values, &e), 0);
        pointers[0] = &values[0];
        assert_int_equal(sms_class_key_format(boot, pointers, &text), 0);
        assert_string_equal(text, "LAB00001");
        free(text);
        cim_value_clear(&values[0]);
}

static int setup(void **state) {
        return sms_model_init();
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_hierarchy),
                cmocka_unit_test(test_reference_properties),
                cmocka_unit_test(test_qualifiers),
                cmocka_unit_test(test_validation),
                cmocka_unit_test(test_defaults_and_values),
                cmocka_unit_test(test_schedule_documented_example),
                cmocka_unit_test(test_schedule_bad_strings),
                cmocka_unit_test(test_schedule_round_trip_every_type),
                cmocka_unit_test(test_wmi_path),
                cmocka_unit_test(test_composite_keys),
        };
        return cmocka_run_group_tests(tests, setup, NULL);
}
