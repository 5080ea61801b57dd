/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "smsprov/macro.h"
#include "smsprov/wmi-path.h"

static int bad(SmsError *e, const char *s, const char *p, const char *what) {
        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "malformed WMI path at offset %zu: %s",
                             (size_t) (p - s), what);
}

static char *parse_identifier(const char **p) {
        const char *start = *p;

        if (!isalpha((unsigned char) **p) && **p != '_')
                return NULL;
        while (isalnum((unsigned char) **p) || **p == '_')
                (*p)++;
        return strndup(start, (size_t) (*p - start));
}

static int parse_keys(const char *s, const char *p, WmiPath *path, SmsError *e);

void wmi_path_done(WmiPath *path) {
        free(path->class_name);
        for (size_t i = 0; i < path->n_keys; i++) {
                free(path->keys[i].name);
                free(path->keys[i].value);
        }
        free(path->keys);
        *path = (WmiPath) {};
}

int wmi_path_parse(const char *s, WmiPath *ret, SmsError *e) {
        _cleanup_(wmi_path_done) WmiPath path = {};
        const char *p = s, *colon;
        int r;

        if (!s || strlen(s) > WMI_PATH_MAX_LENGTH)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "WMI path missing or longer than %u bytes",
                                     WMI_PATH_MAX_LENGTH);

        /* A namespace prefix (\\server\root\sms\site_LAB:, \\.\root\sms\site_LAB:, root\sms\site_LAB:)
         * names this provider; skip it. It ends at the first ':': neither a server name (which may
         * hold dots) nor a namespace holds one, and key values, which may, come after it. */
        if (s[0] == '\\' || s[0] == '/' || (strncasecmp(s, "root", 4) == 0 && strchr("\\/:", s[4]) && s[4])) {
                colon = strchr(s, ':');
                if (!colon)
                        return bad(e, s, s + strlen(s), "expected ':' after the namespace");
                p = colon + 1;
        }

        path.class_name = parse_identifier(&p);
        if (!path.class_name)
                return bad(e, s, p, "expected a class name");
        if (*p != '.')
                return bad(e, s, p, "expected '.' and the key after the class name");
        p++;

        r = parse_keys(s, p, &path, e);
        if (r < 0)
                return r;
        *ret = path;
        path = (WmiPath) {};
        return 0;
}

int wmi_keys_parse(const char *s, WmiPath *ret, SmsError *e) {
        _cleanup_(wmi_path_done) WmiPath path = {};
        int r;

        if (!s || strlen(s) > WMI_PATH_MAX_LENGTH)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "key list missing or longer than %u bytes",
                                     WMI_PATH_MAX_LENGTH);
        r = parse_keys(s, s, &path, e);
        if (r < 0)
                return r;
        *ret = path;
        path = (WmiPath) {};
        return 0;
}

/* K=V[,K=V…] from p to the end of s. */
static int parse_keys(const char *s, const char *p, WmiPath *path, SmsError *e) {
        int r = 0;

        for (;;) {
                WmiPathKey key = {};
                char *value, *w;

                if (path->n_keys >= WMI_PATH_MAX_KEYS)
                        return bad(e, s, p, "too many keys");
                key.name = parse_identifier(&p);
                if (!key.name)
                        return bad(e, s, p, "expected a key property name");
                if (*p != '=') {
                        free(key.name);
                        return bad(e, s, p, "expected '='");
                }
                p++;

                value = w = malloc(strlen(p) + 1);
                if (!value) {
                        free(key.name);
                        return -ENOMEM;
                }
                if (*p == '"' || *p == '\'') {
                        char quote = *p++;
                        while (*p && *p != quote) {
                                if (*p == '\\' && p[1])
                                        p++;
                                *w++ = *p++;
                        }
                        if (*p != quote) {
                                free(key.name);
                                free(value);
                                return bad(e, s, p, "unterminated string");
                        }
                        p++;
                } else {
                        if (*p == '-')
                                *w++ = *p++;
                        while (isdigit((unsigned char) *p))
                                *w++ = *p++;
                        if (w == value || (w == value + 1 && value[0] == '-')) {
                                free(key.name);
                                free(value);
                                return bad(e, s, p, "expected a quoted string or an integer");
                        }
                }
                *w = 0;
                key.value = value;

                WmiPathKey *keys = realloc(path->keys, (path->n_keys + 1) * sizeof(WmiPathKey));
                if (!keys) {
                        free(key.name);
                        free(key.value);
                        return -ENOMEM;
                }
                path->keys = keys;
                path->keys[path->n_keys++] = key;

                if (*p == 0)
                        break;
                if (*p != ',') {
                        r = bad(e, s, p, "expected ',' or the end of the path");
                        break;
                }
                p++;
        }
        return r;
}
