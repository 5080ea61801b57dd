/* SPDX-License-Identifier: MIT */

/* libFuzzer target: WMI object paths and key lists, as Site.GetObject and the instance object
 * paths take them (include/smsprov/wmi-path.h, sms_class_key_parse() in class.h).
 *
 * For every input:
 *   - wmi_path_parse() and wmi_keys_parse(): on success the result is sane (a class name that is
 *     an identifier, 1…WMI_PATH_MAX_KEYS keys with identifier names) and survives a round trip:
 *     written back with every value double-quoted and escaped, it parses to the same class, names
 *     and values; on failure the error is InvalidParameter with a message.
 *   - sms_class_key_parse() against every class with a key: on success, formatting the values
 *     with sms_class_key_format() and parsing that again gives equal values, and formatting
 *     those gives the same text (the object path of an instance is stable). */

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "smsprov/class.h"
#include "smsprov/macro.h"
#include "smsprov/wmi-path.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc;
        (void) argv;
        if (sms_model_init() < 0)
                fuzz_fail("sms_model_init");
        return 0;
}

static bool is_identifier(const char *s) {
        if (!s || (!isalpha((unsigned char) *s) && *s != '_'))
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && *s != '_')
                        return false;
        return true;
}

static void check_failure(const char *what, const char *input, const SmsError *e) {
        if (e->code != SMS_ERROR_INVALID_PARAMETER || !fuzz_error_message_ok(e))
                fuzz_fail("%s(\"%s\") failed with %s", what, input, sms_error_code_to_name(e->code));
}

static void check_keys(const char *what, const char *input, const WmiPath *p) {
        if (p->n_keys < 1 || p->n_keys > WMI_PATH_MAX_KEYS)
                fuzz_fail("%s(\"%s\"): %zu keys", what, input, p->n_keys);
        for (size_t i = 0; i < p->n_keys; i++)
                if (!is_identifier(p->keys[i].name) || !p->keys[i].value)
                        fuzz_fail("%s(\"%s\"): key %zu is not a name=value", what, input, i);
}

/* class.K1="v1",K2="v2" (class NULL: the key list alone), values escaped as the parser reads
 * them. */
static char *write_path(const WmiPath *p) {
        size_t len = (p->class_name ? strlen(p->class_name) + 1 : 0) + 1;
        for (size_t i = 0; i < p->n_keys; i++)
                len += strlen(p->keys[i].name) + 2 * strlen(p->keys[i].value) + 4;
        char *s = malloc(len), *w = s;
        if (!s)
                abort();
        if (p->class_name)
                w += sprintf(w, "%s.", p->class_name);
        for (size_t i = 0; i < p->n_keys; i++) {
                w += sprintf(w, "%s%s=\"", i ? "," : "", p->keys[i].name);
                for (const char *v = p->keys[i].value; *v; v++) {
                        if (*v == '"' || *v == '\\')
                                *w++ = '\\';
                        *w++ = *v;
                }
                *w++ = '"';
        }
        *w = 0;
        return s;
}

static void round_trip(const char *what, const char *input, const WmiPath *p) {
        _cleanup_free_ char *again = write_path(p);
        _cleanup_(wmi_path_done) WmiPath q = {};
        SmsError e = SMS_ERROR_NULL;

        if (strlen(again) > WMI_PATH_MAX_LENGTH)
                return;
        int r = p->class_name ? wmi_path_parse(again, &q, &e) : wmi_keys_parse(again, &q, &e);
        if (r < 0)
                fuzz_fail("%s(\"%s\") parsed, but its rewrite \"%s\" does not: %s", what, input, again, e.message);
        if ((p->class_name || q.class_name) && (!p->class_name || !q.class_name || strcmp(p->class_name, q.class_name) != 0))
                fuzz_fail("%s(\"%s\"): class changed in the rewrite \"%s\"", what, input, again);
        if (q.n_keys != p->n_keys)
                fuzz_fail("%s(\"%s\"): %zu keys, %zu after the rewrite \"%s\"", what, input, p->n_keys, q.n_keys, again);
        for (size_t i = 0; i < p->n_keys; i++)
                if (strcmp(p->keys[i].name, q.keys[i].name) != 0 || strcmp(p->keys[i].value, q.keys[i].value) != 0)
                        fuzz_fail("%s(\"%s\"): key %zu changed in the rewrite \"%s\"", what, input, i, again);
}

static void clear_values(CimValue *v, size_t n) {
        for (size_t i = 0; i < n; i++)
                cim_value_clear(&v[i]);
}

static void class_key(const SmsClass *c, const char *input) {
        CimValue values[SMS_MAX_KEYS] = {}, again[SMS_MAX_KEYS] = {};
        const CimValue *pv[SMS_MAX_KEYS], *pa[SMS_MAX_KEYS];
        _cleanup_free_ char *text = NULL, *text2 = NULL;
        SmsError e = SMS_ERROR_NULL;
        int r;

        r = sms_class_key_parse(c, input, values, &e);
        if (r < 0) {
                check_failure("sms_class_key_parse", input, &e);
                sms_error_clear(&e);
                clear_values(values, c->n_keys);
                return;
        }
        for (size_t k = 0; k < c->n_keys; k++) {
                pv[k] = &values[k];
                pa[k] = &again[k];
                if (values[k].type != c->all[c->key_indexes[k]]->type)
                        fuzz_fail("%s key \"%s\": value %zu has the wrong type", c->name, input, k);
        }
        if (sms_class_key_format(c, pv, &text) < 0)
                fuzz_fail("%s key \"%s\": cannot format", c->name, input);
        r = sms_class_key_parse(c, text, again, &e);
        if (r < 0)
                fuzz_fail("%s key \"%s\" formats as \"%s\", which does not parse: %s", c->name, input, text, e.message);
        for (size_t k = 0; k < c->n_keys; k++)
                if (!cim_value_equal(&values[k], &again[k]))
                        fuzz_fail("%s key \"%s\": value %zu changed through \"%s\"", c->name, input, k, text);
        if (sms_class_key_format(c, pa, &text2) < 0 || strcmp(text, text2) != 0)
                fuzz_fail("%s key \"%s\": formats as \"%s\", then as \"%s\"", c->name, input, text, text2 ? text2 : "(error)");
        clear_values(values, c->n_keys);
        clear_values(again, c->n_keys);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *input = fuzz_string(data, size);
        SmsError e = SMS_ERROR_NULL;

        {
                _cleanup_(wmi_path_done) WmiPath p = {};
                if (wmi_path_parse(input, &p, &e) < 0) {
                        check_failure("wmi_path_parse", input, &e);
                        sms_error_clear(&e);
                } else {
                        if (!is_identifier(p.class_name))
                                fuzz_fail("wmi_path_parse(\"%s\"): class name is not an identifier", input);
                        check_keys("wmi_path_parse", input, &p);
                        round_trip("wmi_path_parse", input, &p);
                }
        }
        {
                _cleanup_(wmi_path_done) WmiPath p = {};
                if (wmi_keys_parse(input, &p, &e) < 0) {
                        check_failure("wmi_keys_parse", input, &e);
                        sms_error_clear(&e);
                } else {
                        if (p.class_name)
                                fuzz_fail("wmi_keys_parse(\"%s\") set a class name", input);
                        check_keys("wmi_keys_parse", input, &p);
                        round_trip("wmi_keys_parse", input, &p);
                }
        }

        for (const SmsClass *const *c = sms_model_classes(); *c; c++)
                if ((*c)->n_keys > 0 && !(*c)->methods_only)
                        class_key(*c, input);
        return 0;
}
