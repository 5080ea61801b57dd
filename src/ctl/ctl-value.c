/* SPDX-License-Identifier: MIT */

/* Values between the command line, D-Bus and JSON; see ctl-value.h. */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "ctl/ctl-bus.h"
#include "ctl/ctl-value.h"
#include "util/bus-basic.h"

#define SMALL_BYTES 16 /* UInt8[] up to this many bytes are shown, longer ones counted */

/* --- text in ----------------------------------------------------------------------------------- */

static bool is_basic(char c) {
        return c && strchr("ybnqiuxtdsog", c);
}

bool ctl_value_signature_supported(const char *signature) {
        if (is_basic(signature[0]) && !signature[1])
                return true;
        if (signature[0] == 'a' && is_basic(signature[1]) && !signature[2])
                return true;
        return streq(signature, "a(us)") || streq(signature, "a(sa{sv})");
}

/* Splits a comma list; "\," is a comma inside an element and "\\" a backslash. "" → no element. */
static int split_list(const char *text, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        const char *p = text;

        l = calloc(strlen(text) + 2, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (bool more = *text; more;) {
                char *item = malloc(strlen(p) + 1), *w = item;
                if (!item)
                        return -ENOMEM;
                for (; *p && *p != ','; p++) {
                        if (*p == '\\' && (p[1] == ',' || p[1] == '\\'))
                                p++;
                        *w++ = *p;
                }
                *w = 0;
                l[n++] = item;
                more = *p == ',';
                if (more)
                        p++; /* "a," is "a" and "" */
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int parse_unsigned(const char *text, uint64_t max, uint64_t *ret) {
        char *end = NULL;
        unsigned long long v;

        if (!*text || *text == '-' || *text == '+' || *text == ' ')
                return -EINVAL;
        errno = 0;
        if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
                v = strtoull(text + 2, &end, 16);
        else
                v = strtoull(text, &end, 10);
        if (errno || !end || *end || end == text || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

static int parse_signed(const char *text, int64_t min, int64_t max, int64_t *ret) {
        char *end = NULL;
        long long v;

        if (!*text || *text == ' ')
                return -EINVAL;
        errno = 0;
        v = strtoll(text, &end, 10);
        if (errno || !end || *end || end == text || v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

static int parse_boolean(const char *text) {
        static const char *const yes[] = { "1", "true", "yes", "on", "y", "t" };
        static const char *const no[] = { "0", "false", "no", "off", "n", "f" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(text, yes[i]) == 0)
                        return 1;
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(text, no[i]) == 0)
                        return 0;
        return -EINVAL;
}

/* DateTime: microseconds, "now", "@SECONDS", or a local date and time ("Z" or " UTC" at the end
 * for UTC). */
static int parse_datetime(const char *text, uint64_t *ret) {
        static const char *const formats[] = {
                "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d",
        };
        _cleanup_free_ char *copy = NULL;
        uint64_t u;
        bool utc = false;
        size_t len;

        if (parse_unsigned(text, UINT64_MAX, &u) >= 0) {
                *ret = u;
                return 0;
        }
        if (streq(text, "now")) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                *ret = (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
                return 0;
        }
        if (text[0] == '@') {
                if (parse_unsigned(text + 1, UINT64_MAX / USEC_PER_SEC, &u) < 0)
                        return -EINVAL;
                *ret = u * USEC_PER_SEC;
                return 0;
        }
        copy = strdup(text);
        if (!copy)
                return -ENOMEM;
        len = strlen(copy);
        if (len > 4 && strcasecmp(copy + len - 4, " UTC") == 0) {
                copy[len - 4] = 0;
                utc = true;
        } else if (len > 1 && (copy[len - 1] == 'Z' || copy[len - 1] == 'z')) {
                copy[len - 1] = 0;
                utc = true;
        }
        for (size_t i = 0; i < ELEMENTSOF(formats); i++) {
                struct tm tm = { .tm_isdst = -1 };
                const char *end = strptime(copy, formats[i], &tm);
                time_t t;

                if (!end || *end)
                        continue;
                t = utc ? timegm(&tm) : mktime(&tm);
                if (t < 0)
                        return -ERANGE;
                *ret = (uint64_t) t * USEC_PER_SEC;
                return 0;
        }
        return -EINVAL;
}

static int bad_value(const char *what, const char *signature, CimType cim, const char *text) {
        const char *type = cim >= 0 ? cim_type_to_string(cim) : signature;
        return ctl_usage("%s: '%s' is not a valid %s", what, text, type);
}

static int append_basic(sd_bus_message *m, char type, CimType cim, const char *text, const char *what) {
        char sig[2] = { type, 0 };
        uint64_t u = 0;
        int64_t i = 0;
        int r;

        switch (type) {
        case 's':
                r = sd_bus_message_append_basic(m, 's', text);
                break;
        case 'o':
                if (!sd_bus_object_path_is_valid(text))
                        return bad_value(what, sig, cim, text);
                r = sd_bus_message_append_basic(m, 'o', text);
                break;
        case 'g':
                r = sd_bus_message_append_basic(m, 'g', text);
                if (r == -EINVAL)
                        return bad_value(what, sig, cim, text);
                break;
        case 'b': {
                int b = parse_boolean(text);
                if (b < 0)
                        return bad_value(what, sig, cim, text);
                r = sd_bus_message_append_basic(m, 'b', &b);
                break;
        }
        case 'y':
        case 'q':
        case 'u':
        case 't': {
                uint64_t max = type == 'y' ? UINT8_MAX : type == 'q' ? UINT16_MAX : type == 'u' ? UINT32_MAX : UINT64_MAX;
                if ((cim == CIM_DATETIME ? parse_datetime(text, &u) : parse_unsigned(text, max, &u)) < 0)
                        return bad_value(what, sig, cim, text);
                /* sd_bus_message_append() narrows y, q and u to their width. */
                r = type == 't' ? sd_bus_message_append(m, sig, u) : sd_bus_message_append(m, sig, (uint32_t) u);
                break;
        }
        case 'n':
        case 'i':
        case 'x': {
                int64_t min = type == 'n' ? INT16_MIN : type == 'i' ? INT32_MIN : INT64_MIN;
                int64_t max = type == 'n' ? INT16_MAX : type == 'i' ? INT32_MAX : INT64_MAX;
                if (parse_signed(text, min, max, &i) < 0)
                        return bad_value(what, sig, cim, text);
                /* And n and i. */
                r = type == 'x' ? sd_bus_message_append(m, sig, i) : sd_bus_message_append(m, sig, (int32_t) i);
                break;
        }
        case 'd': {
                char *end = NULL;
                double d = strtod(text, &end);
                if (!*text || !end || *end)
                        return bad_value(what, sig, cim, text);
                r = sd_bus_message_append_basic(m, 'd', &d);
                break;
        }
        default:
                return ctl_usage("%s: values of D-Bus type '%c' cannot be given on the command line", what, type);
        }
        return r < 0 ? ctl_bus_error(NULL, r) : 0;
}

/* SMS_Driver_Details[]: ID:PATH,… (a relative PATH is taken from the current directory). */
static int append_drivers(sd_bus_message *m, const char *text, const char *what) {
        _cleanup_strv_free_ char **items = NULL;
        int r;

        if (split_list(text, &items) < 0)
                return ctl_oom();
        r = sd_bus_message_open_container(m, 'a', "(us)");
        if (r < 0)
                return ctl_bus_error(NULL, r);
        for (char **i = items; *i; i++) {
                _cleanup_free_ char *path = NULL;
                char *colon = strchr(*i, ':');
                uint64_t id;

                if (!colon)
                        return ctl_usage("%s: '%s' is not ID:PATH", what, *i);
                *colon = 0;
                if (parse_unsigned(*i, UINT32_MAX, &id) < 0 || !colon[1])
                        return ctl_usage("%s: '%s:%s' is not ID:PATH (ID a number)", what, *i, colon + 1);
                path = ctl_absolute_path(colon + 1);
                if (!path)
                        return ctl_oom();
                r = sd_bus_message_append(m, "(us)", (uint32_t) id, path);
                if (r < 0)
                        return ctl_bus_error(NULL, r);
        }
        r = sd_bus_message_close_container(m);
        return r < 0 ? ctl_bus_error(NULL, r) : 0;
}

int ctl_value_append(sd_bus_message *m, const char *signature, CimType cim, const char *text, const char *what) {
        _cleanup_strv_free_ char **items = NULL;
        CimType element = _CIM_TYPE_INVALID;
        int r;

        if (is_basic(signature[0]) && !signature[1])
                return append_basic(m, signature[0], cim, text, what);
        if (streq(signature, "a(us)"))
                return append_drivers(m, text, what);
        if (streq(signature, "a(sa{sv})"))
                return ctl_schedule_append(m, text, what);
        if (!ctl_value_signature_supported(signature))
                return ctl_usage("%s: values of D-Bus type '%s' cannot be given on the command line", what, signature);

        if (split_list(text, &items) < 0)
                return ctl_oom();
        r = sd_bus_message_open_container(m, 'a', signature + 1);
        if (r < 0)
                return ctl_bus_error(NULL, r);
        for (char **i = items; *i; i++) {
                r = append_basic(m, signature[1], element, *i, what);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(m);
        return r < 0 ? ctl_bus_error(NULL, r) : 0;
}

int ctl_value_append_variant(sd_bus_message *m, const char *signature, CimType cim, const char *text,
                             const char *what) {
        int r;

        r = sd_bus_message_open_container(m, 'v', signature);
        if (r < 0)
                return ctl_bus_error(NULL, r);
        r = ctl_value_append(m, signature, cim, text, what);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(m);
        return r < 0 ? ctl_bus_error(NULL, r) : 0;
}

char *ctl_absolute_path(const char *path) {
        _cleanup_free_ char *joined = NULL, *cwd = NULL;
        char *out, *w;

        if (path[0] == '/')
                joined = strdup(path);
        else {
                cwd = getcwd(NULL, 0);
                if (!cwd || asprintf(&joined, "%s/%s", cwd, path) < 0)
                        return NULL;
        }
        if (!joined)
                return NULL;

        /* Lexically: drop "." and empty components, let ".." take one back. */
        out = malloc(strlen(joined) + 2);
        if (!out)
                return NULL;
        w = out;
        for (char *save = NULL, *c = strtok_r(joined, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                if (streq(c, "."))
                        continue;
                if (streq(c, "..")) {
                        while (w > out && *--w != '/')
                                ;
                        continue;
                }
                w += sprintf(w, "/%s", c);
        }
        if (w == out)
                *w++ = '/';
        *w = 0;
        return out;
}

/* --- D-Bus out --------------------------------------------------------------------------------- */

static int read_basic_json(sd_bus_message *m, char type, json_object **ret) {
        BusBasic v;
        int r;

        r = sd_bus_message_read_basic(m, type, &v);
        if (r < 0)
                return ctl_bus_error(NULL, r);
        if (strchr(BUS_BASIC_INT64_TYPES "h", type))
                *ret = json_object_new_int64(bus_basic_int64(type, &v));
        else if (type == 'b')
                *ret = json_object_new_boolean(v.b);
        else if (type == 't')
                *ret = json_object_new_uint64(v.t);
        else if (type == 'd')
                *ret = json_object_new_double(v.d);
        else
                *ret = json_object_new_string(v.s);
        return *ret ? 0 : ctl_oom();
}

static int read_array_json(sd_bus_message *m, const char *contents, json_object **ret) {
        _cleanup_(json_object_putp) json_object *v = NULL;
        bool dict = contents[0] == '{';
        bool drivers = streq(contents, "(us)"), schedule = streq(contents, "(sa{sv})");
        int r;

        if (streq(contents, "y")) {
                /* Bytes (Icon, ExtendedData: up to a megabyte) in one read. */
                const uint8_t *bytes;
                size_t n;

                r = sd_bus_message_read_array(m, 'y', (const void **) &bytes, &n);
                if (r < 0)
                        return ctl_bus_error(NULL, r);
                v = json_object_new_array_ext((int) n);
                if (!v)
                        return ctl_oom();
                for (size_t i = 0; i < n; i++)
                        if (json_object_array_add(v, json_object_new_int64(bytes[i])) < 0)
                                return ctl_oom();
                *ret = TAKE_PTR(v);
                return 0;
        }

        if ((r = ctl_enter_container(m, 'a', contents)) < 0)
                return r;
        v = dict ? json_object_new_object() : json_object_new_array();
        if (!v)
                return ctl_oom();
        while ((r = sd_bus_message_at_end(m, false)) == 0) {
                _cleanup_(json_object_putp) json_object *item = NULL;

                if (dict) {
                        _cleanup_(json_object_putp) json_object *key = NULL;
                        const char *entry = contents + 1;
                        _cleanup_free_ char *entry_sig = strndup(entry, strlen(entry) - 1);

                        if (!entry_sig)
                                return ctl_oom();
                        if ((r = ctl_enter_container(m, 'e', entry_sig)) < 0)
                                return r;
                        r = ctl_value_read_json(m, &key);
                        if (r >= 0)
                                r = ctl_value_read_json(m, &item);
                        if (r < 0)
                                return r;
                        if ((r = ctl_exit_container(m)) < 0)
                                return r;
                        const char *k = json_object_is_type(key, json_type_string) ? json_object_get_string(key)
                                                                                   : json_object_to_json_string(key);
                        if (json_object_object_add(v, k, TAKE_PTR(item)) < 0)
                                return ctl_oom();
                        continue;
                }
                if (drivers || schedule) {
                        /* The two structured CIM types get their property names (API.md §3). */
                        const char *s;
                        uint32_t id;

                        item = json_object_new_object();
                        if (!item)
                                return ctl_oom();
                        if ((r = ctl_enter_container(m, 'r', contents[1] == 'u' ? "us" : "sa{sv}")) < 0)
                                return r;
                        if (drivers) {
                                r = sd_bus_message_read(m, "us", &id, &s);
                                if (r < 0)
                                        return ctl_bus_error(NULL, r);
                                if (json_object_object_add(item, "ID", json_object_new_int64(id)) < 0 ||
                                    json_object_object_add(item, "SourcePath", json_object_new_string(s)) < 0)
                                        return ctl_oom();
                        } else {
                                r = sd_bus_message_read(m, "s", &s);
                                if (r < 0)
                                        return ctl_bus_error(NULL, r);
                                if (json_object_object_add(item, "__CLASS", json_object_new_string(s)) < 0)
                                        return ctl_oom();
                                r = ctl_value_read_dict(m, item);
                                if (r < 0)
                                        return r;
                        }
                        if ((r = ctl_exit_container(m)) < 0)
                                return r;
                } else {
                        r = ctl_value_read_json(m, &item);
                        if (r < 0)
                                return r;
                }
                if (json_object_array_add(v, TAKE_PTR(item)) < 0)
                        return ctl_oom();
        }
        if ((r = ctl_end_container(m, r)) < 0)
                return r;
        *ret = TAKE_PTR(v);
        return 0;
}

int ctl_value_read_json_items(sd_bus_message *m, bool complete, json_object *array) {
        int r;

        while ((r = sd_bus_message_at_end(m, complete)) == 0) {
                json_object *item = NULL;
                r = ctl_value_read_json(m, &item);
                if (r < 0)
                        return r;
                if (json_object_array_add(array, item) < 0) {
                        json_object_put(item);
                        return ctl_oom();
                }
        }
        return r < 0 ? ctl_bus_error(NULL, r) : 0;
}

int ctl_value_read_json(sd_bus_message *m, json_object **ret) {
        const char *contents = NULL;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return ctl_bus_error(NULL, r);
        if (r == 0)
                return ctl_bus_error(NULL, -ENXIO);
        switch (type) {
        case 'v':
                if ((r = ctl_enter_container(m, 'v', contents)) < 0)
                        return r;
                r = ctl_value_read_json(m, ret);
                if (r < 0)
                        return r;
                return ctl_exit_container(m);
        case 'a':
                return read_array_json(m, contents, ret);
        case 'r': {
                _cleanup_(json_object_putp) json_object *v = json_object_new_array();
                if (!v)
                        return ctl_oom();
                if ((r = ctl_enter_container(m, 'r', contents)) < 0)
                        return r;
                if ((r = ctl_value_read_json_items(m, false, v)) < 0 || (r = ctl_exit_container(m)) < 0)
                        return r;
                *ret = TAKE_PTR(v);
                return 0;
        }
        default:
                return read_basic_json(m, type, ret);
        }
}

int ctl_value_read_dict(sd_bus_message *m, json_object *obj) {
        int r;

        if ((r = ctl_enter_container(m, 'a', "{sv}")) < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                json_object *v = NULL;
                const char *name;

                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        return ctl_bus_error(NULL, r);
                r = ctl_value_read_json(m, &v);
                if (r < 0)
                        return r;
                if (json_object_object_add(obj, name, v) < 0) {
                        json_object_put(v);
                        return ctl_oom();
                }
                if ((r = ctl_exit_container(m)) < 0)
                        return r;
        }
        return ctl_end_container(m, r);
}

/* --- text out ---------------------------------------------------------------------------------- */

char *ctl_format_timestamp(uint64_t usec) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        char buf[64];
        struct tm tm;

        if (usec == 0)
                return strdup("n/a");
        if (!localtime_r(&t, &tm) || strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                return strdup("n/a");
        return strdup(buf);
}

char *ctl_format_bytes(uint64_t bytes) {
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
        double v = (double) bytes;
        size_t u = 0;
        char *s = NULL;

        while (v >= 1024.0 && u + 1 < ELEMENTSOF(units)) {
                v /= 1024.0;
                u++;
        }
        if (asprintf(&s, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]) < 0)
                return NULL;
        return s;
}

char *ctl_format_duration(uint64_t usec) {
        uint64_t s = (usec + USEC_PER_SEC / 2) / USEC_PER_SEC;
        char *out = NULL;
        int r;

        if (usec < 10 * USEC_PER_SEC)
                r = asprintf(&out, "%.1fs", (double) usec / (double) USEC_PER_SEC);
        else if (s < 60)
                r = asprintf(&out, "%" PRIu64 "s", s);
        else if (s < 3600)
                r = asprintf(&out, "%" PRIu64 "min %02" PRIu64 "s", s / 60, s % 60);
        else
                r = asprintf(&out, "%" PRIu64 "h %02" PRIu64 "min", s / 3600, (s % 3600) / 60);
        return r < 0 ? NULL : out;
}

static char *join_formatted(json_object *array, CimType element) {
        size_t n = json_object_array_length(array), len = 1;
        _cleanup_strv_free_ char **parts = calloc(n + 1, sizeof(char *));
        char *s, *w;

        if (!parts)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                json_object *item = json_object_array_get_idx(array, i);
                const char *text;

                if (json_object_is_type(item, json_type_string)) {
                        /* Commas and backslashes inside an element are escaped, as they are read. */
                        text = json_object_get_string(item);
                        parts[i] = malloc(2 * strlen(text) + 1);
                        if (!parts[i])
                                return NULL;
                        w = parts[i];
                        for (; *text; text++) {
                                if (*text == ',' || *text == '\\')
                                        *w++ = '\\';
                                *w++ = *text;
                        }
                        *w = 0;
                } else if (!(parts[i] = ctl_value_format(item, element, true)))
                        return NULL;
                len += strlen(parts[i]) + 1;
        }
        s = malloc(len);
        if (!s)
                return NULL;
        w = s;
        *w = 0;
        for (size_t i = 0; i < n; i++)
                w += sprintf(w, "%s%s", i ? "," : "", parts[i]);
        return s;
}

char *ctl_value_format(json_object *v, CimType cim, bool full) {
        char *s = NULL;

        switch (json_object_get_type(v)) {
        case json_type_null:
                return strdup("");
        case json_type_boolean:
                return strdup(json_object_get_boolean(v) ? "true" : "false");
        case json_type_int:
                if (cim == CIM_DATETIME)
                        return ctl_format_timestamp(json_object_get_uint64(v));
                return strdup(json_object_to_json_string(v));
        case json_type_double:
                if (asprintf(&s, "%g", json_object_get_double(v)) < 0)
                        return NULL;
                return s;
        case json_type_string:
                return strdup(json_object_get_string(v));
        case json_type_array: {
                size_t n = json_object_array_length(v);
                json_object *first = n > 0 ? json_object_array_get_idx(v, 0) : NULL, *x;

                if (first && json_object_is_type(first, json_type_object)) {
                        if (json_object_object_get_ex(first, "__CLASS", &x) && (s = ctl_schedule_format(v)))
                                return s;
                        if (json_object_object_get_ex(first, "SourcePath", &x)) {
                                /* SMS_Driver_Details[] as ID:PATH,… */
                                _cleanup_(json_object_putp) json_object *texts = json_object_new_array();
                                if (!texts)
                                        return NULL;
                                for (size_t i = 0; i < n; i++) {
                                        json_object *d = json_object_array_get_idx(v, i), *id, *path;
                                        char *item = NULL;
                                        if (!json_object_object_get_ex(d, "ID", &id) ||
                                            !json_object_object_get_ex(d, "SourcePath", &path) ||
                                            asprintf(&item, "%s:%s", json_object_to_json_string(id),
                                                     json_object_get_string(path)) < 0)
                                                return NULL;
                                        json_object_array_add(texts, json_object_new_string(item));
                                        free(item);
                                }
                                return join_formatted(texts, _CIM_TYPE_INVALID);
                        }
                        return strdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
                                                                                JSON_C_TO_STRING_NOSLASHESCAPE));
                }
                if (cim == CIM_UINT8_ARRAY && !full && n > SMALL_BYTES) {
                        if (asprintf(&s, "(%zu bytes)", n) < 0)
                                return NULL;
                        return s;
                }
                return join_formatted(v, _CIM_TYPE_INVALID);
        }
        default:
                return strdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        }
}

char *ctl_quote(const char *s, char quote) {
        char *q = malloc(2 * strlen(s) + 3), *w = q;
        if (!q)
                return NULL;
        *w++ = quote;
        for (; *s; s++) {
                if (*s == quote || *s == '\\')
                        *w++ = '\\';
                *w++ = *s;
        }
        *w++ = quote;
        *w = 0;
        return q;
}

char *ctl_wql_quote(const char *s) {
        return ctl_quote(s, '\'');
}

void strlist_done(StrList *s) {
        strv_free(s->l);
        *s = (StrList) {};
}

int strlist_add_take(StrList *s, char *item) {
        char **l;

        if (!item)
                return ctl_oom();
        l = realloc(s->l, (s->n + 2) * sizeof(char *));
        if (!l) {
                free(item);
                return ctl_oom();
        }
        s->l = l;
        s->l[s->n++] = item;
        s->l[s->n] = NULL;
        return 0;
}
