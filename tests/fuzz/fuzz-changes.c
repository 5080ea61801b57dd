/* SPDX-License-Identifier: MIT */

/* libFuzzer target: the decoding of Put's and Create's a{sv} of class properties
 * (bus_read_changes() and bus_read_create(), src/bus/bus-value.c).
 *
 * The input is a small program that builds a D-Bus message with sd-bus: a class of the model,
 * then a{sv} entries whose key is one of the class's property (or Create parameter) names, in
 * any case, or a short string from the input, and whose variant holds a value of the property's
 * own signature or of another one (s u b t x i y n q d o g v ay as au ai aay a(us) a(su) (ss)
 * a{sv} a(sa{sv})), schedule tokens included. The sealed message goes through bus_read_create()
 * (odd first byte) or bus_read_changes() (even).
 *
 * Invariants: a failure sets an SmsError code with a non-empty message and returns nothing (the
 * output arguments stay untouched; the leak checker sees what is not freed). Up to the first
 * entry whose value can fail for reasons of its own (schedule tokens, validated Create
 * parameters), the error is predicted exactly: an unknown name → InvalidProperty, more entries
 * than the class has properties and parameters → InvalidParameter, a wrong signature →
 * TypeMismatch. Success leaves no error set and returns one change per entry, in order: its
 * index is < the class's property count (parameters: < its parameter count), its value has the
 * property's CIM type, and it equals the value appended (schedule arrays: the token count).
 *
 * Input layout (FuzzReader, fuzz-common.h): 1 byte class and mode, 1 byte entry count (mod 10),
 * then per entry 1 byte key selector (0xE0 and above: a length-prefixed string follows), 1 byte
 * key case and signature selector, and the value's bytes. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "bus/bus-util.h"
#include "fuzz-common.h"
#include "smsprov/class.h"
#include "smsprov/cim.h"
#include "smsprov/macro.h"
#include "smsprov/schedule.h"
#include "smsprov/site.h"

#define MAX_ENTRIES 10

/* The signatures an entry's variant may hold besides the property's own. */
static const char *const signatures[] = {
        "s", "u", "b", "t", "x", "i", "y", "n", "q", "d", "o", "g", "v", "ay", "as", "au", "ai", "aay",
        "a(us)", "a(su)", "(ss)", "a{sv}", "a(sa{sv})",
};

static const char *const schedule_classes[] = {
        "SMS_ST_NonRecurring", "SMS_ST_RecurInterval", "SMS_ST_RecurWeekly", "SMS_ST_RecurMonthlyByWeekday",
        "SMS_ST_RecurMonthlyByDate",
};

/* The SMS_ST_* properties and their D-Bus types (bus-value.c's schedule_fields). */
static const struct {
        const char *name;
        char type;
} schedule_fields[] = {
        { "DayDuration", 'u' }, { "HourDuration", 'u' },     { "MinuteDuration", 'u' },    { "IsGMT", 'b' },
        { "StartTime", 't' },   { "DaySpan", 'u' },          { "HourSpan", 'u' },          { "MinuteSpan", 'u' },
        { "Day", 'u' },         { "ForNumberOfWeeks", 'u' }, { "ForNumberOfMonths", 'u' }, { "WeekOrder", 'u' },
        { "MonthDay", 'u' },
};

static sd_bus *bus;
static uint64_t cookie;
static size_t n_classes;

static void bus_setup(void) {
        int fds[2];

        /* A connection that never talks to a broker: sd-bus only wants an open bus to create
         * messages on. sd_bus_start() on one end of a socket pair puts it in the authenticating
         * state, which is "open"; nothing is ever read from or written to the other end. */
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
                fuzz_fail("socketpair: %m");
        if (sd_bus_new(&bus) < 0 || sd_bus_set_fd(bus, fds[0], fds[0]) < 0 || sd_bus_start(bus) < 0)
                fuzz_fail("cannot set up an sd_bus on a socket pair");
        /* fds[1] stays open (and reachable) for the process's lifetime. */
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc;
        (void) argv;
        /* Schedule start times of non-GMT tokens are local time. */
        setenv("TZ", "UTC", 1);
        tzset();
        if (sms_model_init() < 0)
                fuzz_fail("sms_model_init failed");
        for (const SmsClass *const *c = sms_model_classes(); *c; c++)
                n_classes++;
        bus_setup();
        return 0;
}

/* The value appended, for comparison: `have` false when not tracked (or of no CIM type). */
typedef struct Expected {
        bool have;
        CimValue value;
} Expected;

static int append_string(sd_bus_message *m, FuzzReader *r, char **ret) {
        _cleanup_free_ char *s = fuzz_take_string(r);
        int k = sd_bus_message_append_basic(m, 's', s);
        if (k >= 0 && ret)
                *ret = TAKE_PTR(s);
        return k;
}

static int append_schedule(sd_bus_message *m, FuzzReader *r, size_t *ret_n) {
        size_t n = fuzz_u8(r) % (SMS_SCHEDULE_MAX_TOKENS + 3);
        int k;

        k = sd_bus_message_open_container(m, 'a', "(sa{sv})");
        for (size_t i = 0; k >= 0 && i < n; i++) {
                uint8_t cb = fuzz_u8(r);
                k = sd_bus_message_open_container(m, 'r', "sa{sv}");
                if (k < 0)
                        break;
                if (cb < 0xF0)
                        k = sd_bus_message_append_basic(m, 's', schedule_classes[cb % ELEMENTSOF(schedule_classes)]);
                else
                        k = append_string(m, r, NULL);
                if (k >= 0)
                        k = sd_bus_message_open_container(m, 'a', "{sv}");
                size_t n_fields = fuzz_u8(r) % 8;
                for (size_t j = 0; k >= 0 && j < n_fields; j++) {
                        uint8_t fb = fuzz_u8(r), tb = fuzz_u8(r);
                        char type = 'u';
                        k = sd_bus_message_open_container(m, 'e', "sv");
                        if (k < 0)
                                break;
                        if (fb < 0xE0) {
                                k = sd_bus_message_append_basic(m, 's', schedule_fields[fb % ELEMENTSOF(schedule_fields)].name);
                                type = schedule_fields[fb % ELEMENTSOF(schedule_fields)].type;
                        } else
                                k = append_string(m, r, NULL);
                        if (tb >= 0xD0)
                                type = "subti"[tb % 5];
                        char sig[2] = { type, 0 };
                        if (k >= 0)
                                k = sd_bus_message_open_container(m, 'v', sig);
                        if (k >= 0) {
                                if (type == 's')
                                        k = append_string(m, r, NULL);
                                else if (type == 'b') {
                                        int b = fuzz_u8(r) & 1;
                                        k = sd_bus_message_append_basic(m, 'b', &b);
                                } else if (type == 't') {
                                        /* Mostly whole seconds of a plausible range, sometimes anything. */
                                        uint8_t how = fuzz_u8(r);
                                        uint64_t t = how & 1 ? fuzz_uint(r, 8) : fuzz_uint(r, 4) * UINT64_C(1000000);
                                        k = sd_bus_message_append_basic(m, 't', &t);
                                } else {
                                        uint32_t u = (uint32_t) fuzz_uint(r, tb & 0x40 ? 4 : 1);
                                        k = sd_bus_message_append_basic(m, type, &u);
                                }
                        }
                        if (k >= 0)
                                k = sd_bus_message_close_container(m); /* v */
                        if (k >= 0)
                                k = sd_bus_message_close_container(m); /* e */
                }
                if (k >= 0)
                        k = sd_bus_message_close_container(m); /* a{sv} */
                if (k >= 0)
                        k = sd_bus_message_close_container(m); /* r */
        }
        if (k >= 0)
                k = sd_bus_message_close_container(m);
        *ret_n = n;
        return k;
}

/* Appends a value of signature sig from the input. When type is a CIM type whose signature is
 * sig, fills *x with the value as bus_read_*() should decode it. */
static int append_value(sd_bus_message *m, const char *sig, CimType type, FuzzReader *r, Expected *x,
                        size_t *ret_tokens) {
        bool track = type != _CIM_TYPE_INVALID && streq(sig, cim_type_to_signature(type));
        int k;

        *x = (Expected) { .value = cim_value_null(type) };
        if (streq(sig, "s")) {
                char *s = NULL;
                k = append_string(m, r, track ? &s : NULL);
                if (k >= 0 && track)
                        x->value = (CimValue) { .type = type, .str = s };
        } else if (streq(sig, "b")) {
                int b = fuzz_u8(r);
                k = sd_bus_message_append_basic(m, 'b', &b);
                if (track)
                        x->value = cim_value_bool(b != 0);
        } else if (strchr("ynqui", sig[0]) && !sig[1]) {
                uint64_t v = fuzz_uint(r, sig[0] == 'y' ? 1 : sig[0] == 'n' || sig[0] == 'q' ? 2 : 4);
                uint8_t y = (uint8_t) v;
                uint16_t q = (uint16_t) v;
                uint32_t u = (uint32_t) v;
                k = sd_bus_message_append_basic(m, sig[0], sig[0] == 'y' ? (void *) &y : sig[0] == 'n' || sig[0] == 'q' ? (void *) &q : (void *) &u);
                if (track)
                        x->value = sig[0] == 'i' ? (CimValue) { .type = type, .i = (int32_t) u } : cim_value_uint(type, v);
        } else if (streq(sig, "t") || streq(sig, "x") || streq(sig, "d")) {
                uint64_t v = fuzz_uint(r, 8);
                k = sd_bus_message_append_basic(m, sig[0], &v);
                if (track)
                        x->value = sig[0] == 'x' ? (CimValue) { .type = type, .i = (int64_t) v } : cim_value_uint(type, v);
        } else if (streq(sig, "o"))
                k = sd_bus_message_append_basic(m, 'o', "/org/smsprov/Provider1/fuzz");
        else if (streq(sig, "g"))
                k = sd_bus_message_append_basic(m, 'g', "a(sa{sv})");
        else if (streq(sig, "v"))
                k = sd_bus_message_append(m, "v", "u", (uint32_t) fuzz_uint(r, 4));
        else if (streq(sig, "ay")) {
                size_t n = fuzz_u8(r);
                if (n > r->size)
                        n = r->size;
                k = sd_bus_message_append_array(m, 'y', r->data, n);
                if (track) {
                        uint8_t *d = malloc(n ? n : 1);
                        if (!d)
                                abort();
                        if (n)
                                memcpy(d, r->data, n);
                        x->value = (CimValue) { .type = type, .bytes = { d, n } };
                }
                r->data += n;
                r->size -= n;
        } else if (streq(sig, "au") || streq(sig, "ai")) {
                size_t n = fuzz_u8(r) % 9;
                uint32_t *d = calloc(n ? n : 1, sizeof(uint32_t));
                if (!d)
                        abort();
                for (size_t i = 0; i < n; i++)
                        d[i] = (uint32_t) fuzz_uint(r, 4);
                k = sd_bus_message_append_array(m, sig[1], d, n * sizeof(uint32_t));
                if (track)
                        x->value = (CimValue) { .type = type, .u32s = { d, n } };
                else
                        free(d);
        } else if (streq(sig, "as")) {
                size_t n = fuzz_u8(r) % 6;
                char **l = calloc(n + 1, sizeof(char *));
                if (!l)
                        abort();
                for (size_t i = 0; i < n; i++)
                        l[i] = fuzz_take_string(r);
                k = sd_bus_message_append_strv(m, l);
                if (track)
                        x->value = (CimValue) { .type = type, .strv = l };
                else {
                        for (size_t i = 0; i < n; i++)
                                free(l[i]);
                        free(l);
                }
        } else if (streq(sig, "aay")) {
                size_t n = fuzz_u8(r) % 4;
                k = sd_bus_message_open_container(m, 'a', "ay");
                for (size_t i = 0; k >= 0 && i < n; i++) {
                        size_t len = fuzz_u8(r) % 8;
                        if (len > r->size)
                                len = r->size;
                        k = sd_bus_message_append_array(m, 'y', r->data, len);
                        r->data += len;
                        r->size -= len;
                }
                if (k >= 0)
                        k = sd_bus_message_close_container(m);
        } else if (streq(sig, "a(us)") || streq(sig, "a(su)")) {
                bool us = sig[2] == 'u';
                size_t n = fuzz_u8(r) % 5;
                SmsDriverDetails *d = calloc(n ? n : 1, sizeof(SmsDriverDetails));
                if (!d)
                        abort();
                k = sd_bus_message_open_container(m, 'a', sig + 1);
                for (size_t i = 0; i < n; i++) {
                        d[i].id = (uint32_t) fuzz_uint(r, 4);
                        d[i].source_path = fuzz_take_string(r);
                        if (k >= 0)
                                k = us ? sd_bus_message_append(m, "(us)", d[i].id, d[i].source_path)
                                       : sd_bus_message_append(m, "(su)", d[i].source_path, d[i].id);
                }
                if (k >= 0)
                        k = sd_bus_message_close_container(m);
                CimValue v = { .type = CIM_DRIVER_DETAILS_ARRAY, .drivers = { d, n } };
                if (track)
                        x->value = v;
                else
                        cim_value_clear(&v);
        } else if (streq(sig, "(ss)")) {
                _cleanup_free_ char *a = fuzz_take_string(r), *b = fuzz_take_string(r);
                k = sd_bus_message_append(m, "(ss)", a, b);
        } else if (streq(sig, "a{sv}")) {
                size_t n = fuzz_u8(r) % 3;
                k = sd_bus_message_open_container(m, 'a', "{sv}");
                for (size_t i = 0; k >= 0 && i < n; i++) {
                        _cleanup_free_ char *name = fuzz_take_string(r);
                        k = sd_bus_message_append(m, "{sv}", name, "u", (uint32_t) fuzz_uint(r, 4));
                }
                if (k >= 0)
                        k = sd_bus_message_close_container(m);
        } else if (streq(sig, "a(sa{sv})"))
                k = append_schedule(m, r, ret_tokens);
        else
                fuzz_fail("no generator for signature '%s'", sig);

        x->have = track;
        return k;
}

/* What the entry at hand must make the decoder do, as far as that is known beforehand. */
typedef enum Outcome {
        OUTCOME_OK,        /* decoded; value compared */
        OUTCOME_UNCERTAIN, /* may fail for reasons of the value's own (tokens, validation) */
        OUTCOME_FAIL,      /* fails with the predicted code */
} Outcome;

typedef struct Entry {
        bool is_param;
        int index;
        Expected expected;
        size_t tokens;
} Entry;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzReader r = { data, size };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        Entry entries[MAX_ENTRIES] = {};
        size_t n_entries, n_appended = 0;
        SmsError e = SMS_ERROR_NULL;
        Outcome outcome = OUTCOME_OK;
        SmsErrorCode predicted = SMS_ERROR_NONE;
        int k;

        uint8_t b0 = fuzz_u8(&r);
        const SmsClass *c = sms_model_classes()[(b0 >> 1) % n_classes];
        bool create = b0 & 1;
        n_entries = fuzz_u8(&r) % (MAX_ENTRIES + 1);
        size_t n_names = c->n_all + c->n_create_parameters;

        if (sd_bus_message_new_method_call(bus, &m, NULL, "/org/smsprov/Provider1", "org.smsprov.Provider1.Fuzz",
                                           create ? "Create" : "Put") < 0)
                fuzz_fail("cannot create a message");
        k = sd_bus_message_open_container(m, 'a', "{sv}");
        for (size_t i = 0; k >= 0 && i < n_entries; i++) {
                Entry *en = &entries[i];
                uint8_t kb = fuzz_u8(&r), tb = fuzz_u8(&r);
                _cleanup_free_ char *name = NULL;
                const SmsProperty *p = NULL;

                if (kb < 0xE0 && n_names > 0) {
                        size_t j = kb % n_names;
                        const char *n = j < c->n_all ? c->all[j]->name : c->create_parameters[j - c->n_all].name;
                        name = strdup(n);
                        if (!name)
                                abort();
                        /* Names are case-insensitive. */
                        if (tb & 0x80)
                                for (char *s = name; *s; s++)
                                        if (*s >= 'a' && *s <= 'z')
                                                *s -= 'a' - 'A';
                } else
                        name = fuzz_take_string(&r);

                /* The oracle: the lookup the decoder is documented to do. */
                en->index = sms_class_find_property(c, name);
                if (en->index >= 0)
                        p = c->all[en->index];
                else if (create && (en->index = sms_class_find_create_parameter(c, name)) >= 0) {
                        p = &c->create_parameters[en->index];
                        en->is_param = true;
                }

                const char *sig = p && (tb & 0x7F) < 0x60 ? cim_type_to_signature(p->type)
                                                           : signatures[tb % ELEMENTSOF(signatures)];
                k = sd_bus_message_open_container(m, 'e', "sv");
                if (k >= 0)
                        k = sd_bus_message_append_basic(m, 's', name);
                if (k >= 0)
                        k = sd_bus_message_open_container(m, 'v', sig);
                if (k >= 0)
                        k = append_value(m, sig, p ? p->type : _CIM_TYPE_INVALID, &r, &en->expected, &en->tokens);
                if (k >= 0)
                        k = sd_bus_message_close_container(m);
                if (k >= 0)
                        k = sd_bus_message_close_container(m);
                n_appended = i + 1;

                if (outcome != OUTCOME_OK)
                        continue;
                if (!p) {
                        outcome = OUTCOME_FAIL;
                        predicted = SMS_ERROR_INVALID_PROPERTY;
                } else if (i >= n_names) {
                        outcome = OUTCOME_FAIL;
                        predicted = SMS_ERROR_INVALID_PARAMETER;
                } else if (!streq(sig, cim_type_to_signature(p->type))) {
                        outcome = OUTCOME_FAIL;
                        predicted = SMS_ERROR_TYPE_MISMATCH;
                } else if ((p->type == CIM_SCHEDULE_ARRAY && en->tokens > 0) || (p->flags & SMS_PROP_CREATE_ONLY))
                        outcome = OUTCOME_UNCERTAIN;
        }
        if (k >= 0)
                k = sd_bus_message_close_container(m);
        if (k < 0)
                /* sd-bus refused what the input asked for (invalid UTF-8, a NUL in a string). */
                goto finish;
        if (sd_bus_message_seal(m, ++cookie, 0) < 0)
                goto finish;
        if (sd_bus_message_rewind(m, true) < 0)
                fuzz_fail("cannot rewind a sealed message");

        SiteChange sentinel;
        SiteChange *changes = &sentinel, *params = &sentinel;
        size_t n = SIZE_MAX, n_params = SIZE_MAX;
        int ret = create ? bus_read_create(m, c, &changes, &n, &params, &n_params, &e)
                         : bus_read_changes(m, c, &changes, &n, &e);

        if (ret < 0) {
                if (!sms_error_is_set(&e) || !fuzz_error_message_ok(&e))
                        fuzz_fail("%s of %s failed (%d) without an error message", create ? "Create" : "Put", c->name, ret);
                if (changes != &sentinel || n != SIZE_MAX || params != &sentinel || n_params != SIZE_MAX)
                        fuzz_fail("%s of %s failed and returned something", create ? "Create" : "Put", c->name);
                if (outcome == OUTCOME_OK)
                        fuzz_fail("%s of %s failed with %s (%s); every entry was well-formed",
                                  create ? "Create" : "Put", c->name, sms_error_code_to_name(e.code), e.message);
                if (outcome == OUTCOME_FAIL && e.code != predicted)
                        fuzz_fail("%s of %s failed with %s (%s), expected %s", create ? "Create" : "Put", c->name,
                                  sms_error_code_to_name(e.code), e.message, sms_error_code_to_name(predicted));
                sms_error_clear(&e);
                goto finish;
        }

        if (ret != 0 || sms_error_is_set(&e))
                fuzz_fail("%s of %s returned %d with error %s", create ? "Create" : "Put", c->name, ret,
                          sms_error_code_to_name(e.code));
        if (outcome == OUTCOME_FAIL)
                fuzz_fail("%s of %s succeeded; expected %s", create ? "Create" : "Put", c->name,
                          sms_error_code_to_name(predicted));
        if (!create) {
                params = NULL;
                n_params = 0;
        }
        if (n + n_params != n_appended || (n > 0 && !changes) || (n_params > 0 && !params))
                fuzz_fail("%s of %s: %zu entries decoded as %zu changes and %zu parameters",
                          create ? "Create" : "Put", c->name, n_appended, n, n_params);
        for (size_t i = 0, ic = 0, ip = 0; i < n_appended; i++) {
                const Entry *en = &entries[i];
                const SiteChange *ch = en->is_param ? &params[ip++] : &changes[ic++];
                const SmsProperty *p;

                if (en->is_param) {
                        if (ch->index >= c->n_create_parameters)
                                fuzz_fail("%s: parameter index %zu out of range", c->name, ch->index);
                        p = &c->create_parameters[ch->index];
                } else {
                        if (ch->index >= c->n_all)
                                fuzz_fail("%s: property index %zu out of range", c->name, ch->index);
                        p = c->all[ch->index];
                }
                if ((int) ch->index != en->index)
                        fuzz_fail("%s: entry %zu decoded as index %zu, expected %d", c->name, i, ch->index, en->index);
                if (ch->value.type != p->type)
                        fuzz_fail("%s.%s: value of type %s, the property is %s", c->name, p->name,
                                  cim_type_to_string(ch->value.type), cim_type_to_string(p->type));
                if (p->type == CIM_SCHEDULE_ARRAY) {
                        if (ch->value.null || ch->value.schedule.n != en->tokens)
                                fuzz_fail("%s.%s: %zu tokens appended, %zu decoded", c->name, p->name, en->tokens,
                                          ch->value.null ? 0 : ch->value.schedule.n);
                } else if (!en->expected.have || !cim_value_equal(&ch->value, &en->expected.value))
                        fuzz_fail("%s.%s: decoded value differs from the appended one", c->name, p->name);
        }
        site_changes_free(changes, n);
        site_changes_free(params, n_params);

finish:
        for (size_t i = 0; i < n_appended; i++)
                cim_value_clear(&entries[i].expected.value);
        return 0;
}
