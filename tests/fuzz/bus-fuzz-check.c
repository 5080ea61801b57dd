/* SPDX-License-Identifier: MIT */
/* What the D-Bus surface fuzzer accepts as an answer: a named error from the list below, or a
 * reply within the reply budget. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "smsprov/macro.h"
#include "util/bus-basic.h"

#include "bus-fuzz.h"

/* The errors a caller may get, from API.md §7:
 * - every org.smsprov.Provider1.Error.* of the table in §7 (a name outside the table is a defect:
 *   it is not part of the contract);
 * - AccessDenied and InteractiveAuthorizationRequired: authorization (§7, §8);
 * - InvalidArgs: "malformed arguments that sd-bus itself rejects" (§7), which is also what sd-bus
 *   answers for a wrong signature;
 * - UnknownMethod, UnknownInterface, UnknownObject, UnknownProperty, PropertyReadOnly: sd-bus's
 *   own answers for a member, interface, object or property that does not exist or a Set of a
 *   property that is read-only (§4: every class property is read-only at the D-Bus level);
 * - LimitsExceeded of org.freedesktop.DBus: dbus-daemon's refusal of a message over its limits.
 * Not allowed, because each means an error the daemon did not name: org.freedesktop.DBus.Error.Failed
 * (sd-bus's default), NoMemory, System.Error.E* (a bare -errno, §7 calls it a defect), NoReply and
 * Timeout (a call held past the caller's timeout, §6), Disconnected and ServiceUnknown (the daemon
 * is gone), and any other name. */
static const char *const smsprov_errors[] = {
        "NotFound",        "AlreadyExists", "InvalidParameter", "TypeMismatch", "InvalidProperty",
        "ReadOnly",        "ValueOutOfRange", "InvalidClass",   "InvalidQuery", "NotSupported",
        "Locked",          "VersionMismatch", "Busy",           "ImageError",   "PathNotAllowed",
        "OutOfDiskSpace",  "Canceled",      "LimitsExceeded",   "Failed",
};

static const char *const dbus_errors[] = {
        "AccessDenied",  "InteractiveAuthorizationRequired", "InvalidArgs",     "UnknownMethod",
        "UnknownObject", "UnknownInterface",                 "UnknownProperty", "PropertyReadOnly",
        "LimitsExceeded",
};

static bool in(const char *name, const char *prefix, const char *const *list, size_t n) {
        size_t l = strlen(prefix);
        if (strncmp(name, prefix, l) != 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (strcmp(name + l, list[i]) == 0)
                        return true;
        return false;
}

bool fuzz_error_allowed(const char *name) {
        if (!name)
                return false;
        return in(name, FUZZ_BUS_NAME ".Error.", smsprov_errors, sizeof smsprov_errors / sizeof smsprov_errors[0]) ||
               in(name, "org.freedesktop.DBus.Error.", dbus_errors, sizeof dbus_errors / sizeof dbus_errors[0]);
}

/* --- the marshalled size of a reply ------------------------------------------------------------ */

static size_t align_to(size_t offset, size_t alignment) {
        return (offset + alignment - 1) & ~(alignment - 1);
}

static size_t alignment_of(char type) {
        switch (type) {
        case 'y':
        case 'g':
        case 'v':
                return 1;
        case 'n':
        case 'q':
                return 2;
        case 'x':
        case 't':
        case 'd':
        case 'r':
        case 'e':
        case '(':
        case '{':
                return 8;
        default:
                return 4;
        }
}

static int walk(sd_bus_message *m, size_t *offset) {
        const char *contents;
        char type;
        int r;

        while ((r = sd_bus_message_peek_type(m, &type, &contents)) > 0) {
                switch (type) {
                case 's':
                case 'o':
                case 'g': {
                        const char *s;
                        if ((r = sd_bus_message_read_basic(m, type, &s)) < 0)
                                return r;
                        *offset = type == 'g' ? *offset + 2 + strlen(s) : align_to(*offset, 4) + 5 + strlen(s);
                        break;
                }
                case 'a': {
                        const void *p;
                        size_t size;
                        *offset = align_to(*offset, 4) + 4;
                        *offset = align_to(*offset, alignment_of(contents[0]));
                        /* Arrays of fixed-size numbers in one step. */
                        if (strchr("ynqiuxtd", contents[0]) && contents[1] == 0) {
                                if ((r = sd_bus_message_read_array(m, contents[0], &p, &size)) < 0)
                                        return r;
                                *offset += size;
                                break;
                        }
                        if ((r = sd_bus_message_enter_container(m, type, contents)) < 0 || (r = walk(m, offset)) < 0 ||
                            (r = sd_bus_message_exit_container(m)) < 0)
                                return r;
                        break;
                }
                case 'v':
                case 'r':
                case 'e':
                        *offset = type == 'v' ? *offset + 2 + strlen(contents) : align_to(*offset, 8);
                        if ((r = sd_bus_message_enter_container(m, type, contents)) < 0 || (r = walk(m, offset)) < 0 ||
                            (r = sd_bus_message_exit_container(m)) < 0)
                                return r;
                        break;
                default: {
                        uint64_t v;
                        size_t size = type == 'y' ? 1 : type == 'n' || type == 'q' ? 2 : alignment_of(type);
                        if ((r = sd_bus_message_read_basic(m, type, &v)) < 0)
                                return r;
                        if (type == 'h')
                                size = 4;
                        *offset = align_to(*offset, size) + size;
                        break;
                }
                }
        }
        return r;
}

int fuzz_body_size(sd_bus_message *m, uint64_t *ret_size) {
        size_t offset = 0;
        int r = sd_bus_message_rewind(m, true);
        if (r >= 0)
                r = walk(m, &offset);
        if (r < 0)
                return r;
        *ret_size = offset;
        return sd_bus_message_rewind(m, true);
}

/* --- a short description of a message ----------------------------------------------------------- */

typedef struct Text {
        char *s;
        size_t size, len;
} Text;

static bool text_add(Text *t, const char *fmt, ...) _printf_(2, 3);
static bool text_add(Text *t, const char *fmt, ...) {
        va_list ap;
        if (t->len + 1 >= t->size)
                return false;
        va_start(ap, fmt);
        int n = vsnprintf(t->s + t->len, t->size - t->len, fmt, ap);
        va_end(ap);
        t->len = n < 0 || (size_t) n >= t->size - t->len ? t->size - 1 : t->len + (size_t) n;
        return t->len + 1 < t->size;
}

/* Values as text until the buffer is full: long strings and arrays of numbers by their size, so
 * that a huge argument costs no more than a small one. */
static int describe(sd_bus_message *m, Text *t) {
        const char *contents;
        char type;
        int r;

        while ((r = sd_bus_message_peek_type(m, &type, &contents)) > 0 && t->len + 1 < t->size) {
                switch (type) {
                case 's':
                case 'o':
                case 'g': {
                        const char *s;
                        if ((r = sd_bus_message_read_basic(m, type, &s)) < 0)
                                return r;
                        size_t l = strlen(s);
                        text_add(t, "%c\"%.*s%s\" ", type, (int) (l > 80 ? 80 : l), s, l > 80 ? "…" : "");
                        if (l > 80)
                                text_add(t, "(%zu bytes) ", l);
                        break;
                }
                case 'a':
                        if (strchr("ynqiuxtd", contents[0]) && contents[1] == 0) {
                                const void *p;
                                size_t size;
                                if ((r = sd_bus_message_read_array(m, contents[0], &p, &size)) < 0)
                                        return r;
                                text_add(t, "a%s[%zu bytes] ", contents, size);
                                break;
                        }
                        __attribute__((fallthrough));
                case 'v':
                case 'r':
                case 'e':
                        text_add(t, "%c%s%s ", type == 'r' ? '(' : type == 'e' ? '{' : type, type == 'a' || type == 'v' ? contents : "",
                                 type == 'a' ? "[" : type == 'v' ? "<" : "");
                        if ((r = sd_bus_message_enter_container(m, type, contents)) < 0 || (r = describe(m, t)) < 0 ||
                            (r = sd_bus_message_exit_container(m)) < 0)
                                return r;
                        text_add(t, "%s ", type == 'a' ? "]" : type == 'v' ? ">" : type == 'r' ? ")" : "}");
                        break;
                default: {
                        BusBasic v = {};
                        if ((r = sd_bus_message_read_basic(m, type, &v)) < 0)
                                return r;
                        if (strchr(BUS_BASIC_INT64_TYPES, type))
                                text_add(t, "%c%" PRIi64 " ", type, bus_basic_int64(type, &v));
                        else if (type == 'b')
                                text_add(t, "b%s ", v.b ? "true" : "false");
                        else if (type == 't')
                                text_add(t, "t%" PRIu64 " ", v.t);
                        else if (type == 'd')
                                text_add(t, "d%g ", v.d);
                        else
                                text_add(t, "%c ", type);
                        break;
                }
                }
        }
        return r < 0 ? r : 0;
}

void fuzz_describe(sd_bus_message *m, char *buf, size_t size) {
        Text t = { .s = buf, .size = size };
        buf[0] = 0;
        if (sd_bus_message_rewind(m, true) < 0)
                return;
        if (describe(m, &t) < 0)
                text_add(&t, "(cannot read the rest)");
        sd_bus_message_rewind(m, true);
}
