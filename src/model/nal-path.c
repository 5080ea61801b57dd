/* SPDX-License-Identifier: MIT */

/* Parsing NAL paths: ["Display=\\dp1\"]MSWNET:["SMS_SITE=LAB"]\\dp1\ */

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smsprov/macro.h"
#include "smsprov/nal-path.h"

void nal_path_done(NalPath *p) {
        free(p->display);
        free(p->type);
        free(p->site_code);
        free(p->server_name);
        free(p->share);
        *p = (NalPath) {};
}

static int bad(SmsError *e, const char *s, const char *p, const char *what) {
        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "malformed NAL path at offset %zu: %s (e.g. "
                             "[\"Display=\\\\\\\\dp1\\\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\\\\\dp1\\\\)",
                             (size_t) (p - s), what);
}

/* One bracketed qualifier list ["a","b"]: calls back for every item. */
static int parse_qualifiers(const char *s, const char **p, NalPath *n, bool display, SmsError *e) {
        if (**p != '[')
                return 0;
        (*p)++;
        for (;;) {
                const char *start, *end;
                if (**p != '"')
                        return bad(e, s, *p, "expected a quoted qualifier");
                start = ++(*p);
                end = strchr(start, '"');
                if (!end)
                        return bad(e, s, *p, "unterminated qualifier");
                _cleanup_free_ char *item = strndup(start, (size_t) (end - start));
                if (!item)
                        return -ENOMEM;
                char *eq = strchr(item, '=');
                if (eq) {
                        *eq = 0;
                        char **target = display && strcasecmp(item, "Display") == 0 ? &n->display
                                        : !display && strcasecmp(item, "SMS_SITE") == 0 ? &n->site_code
                                                                                        : NULL;
                        if (target) {
                                free(*target);
                                *target = strdup(eq + 1);
                                if (!*target)
                                        return -ENOMEM;
                        }
                }
                *p = end + 1;
                if (**p == ',') {
                        (*p)++;
                        continue;
                }
                if (**p != ']')
                        return bad(e, s, *p, "expected ',' or ']'");
                (*p)++;
                return 0;
        }
}

int nal_path_parse(const char *s, NalPath *ret, SmsError *e) {
        _cleanup_(nal_path_done) NalPath n = {};
        const char *p = s, *colon;
        int r;

        if (!s || !*s || strlen(s) > NAL_PATH_MAX_LENGTH)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "NAL path missing or longer than %u bytes",
                                     NAL_PATH_MAX_LENGTH);
        for (const unsigned char *c = (const unsigned char *) s; *c; c++)
                if (*c < 0x20 || *c == 0x7F)
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "NAL path contains a control character");

        r = parse_qualifiers(s, &p, &n, true, e);
        if (r < 0)
                return r;
        colon = strchr(p, ':');
        if (!colon || colon == p)
                return bad(e, s, p, "expected the NAL type (MSWNET) and ':'");
        n.type = strndup(p, (size_t) (colon - p));
        if (!n.type)
                return -ENOMEM;
        for (char *c = n.type; *c; c++)
                *c = (char) toupper((unsigned char) *c);
        if (!streq(n.type, "MSWNET") && !streq(n.type, "GENERIC"))
                return bad(e, s, p, "the NAL type must be MSWNET or GENERIC");
        p = colon + 1;
        r = parse_qualifiers(s, &p, &n, false, e);
        if (r < 0)
                return r;

        /* \\server[\share][\] */
        if (p[0] != '\\' || p[1] != '\\' || !p[2] || p[2] == '\\')
                return bad(e, s, p, "expected \\\\server after the qualifiers");
        p += 2;
        const char *end = strchr(p, '\\');
        n.server_name = end ? strndup(p, (size_t) (end - p)) : strdup(p);
        if (!n.server_name)
                return -ENOMEM;
        for (const char *c = n.server_name; *c; c++)
                if (!isalnum((unsigned char) *c) && *c != '-' && *c != '.' && *c != '_')
                        return bad(e, s, p, "the server name may hold letters, digits, '-', '_' and '.' only");
        const char *share = end ? end + 1 : "";
        size_t len = strlen(share);
        if (len > 0 && share[len - 1] == '\\')
                len--;
        n.share = strndup(share, len);
        if (!n.share || strchr(n.share, '\\'))
                return n.share ? bad(e, s, share, "only \\\\server or \\\\server\\share") : -ENOMEM;

        if (!n.display && !(n.display = strdup("")))
                return -ENOMEM;
        if (streq(n.type, "MSWNET") && (!n.site_code || strlen(n.site_code) != 3))
                return bad(e, s, s, "a MSWNET path needs [\"SMS_SITE=ABC\"] with a 3-character site code");
        if (!n.site_code && !(n.site_code = strdup("")))
                return -ENOMEM;
        for (char *c = n.site_code; *c; c++)
                *c = (char) toupper((unsigned char) *c);

        *ret = n;
        n = (NalPath) {};
        return 0;
}

bool sms_site_code_valid(const char *code) {
        if (!code || strlen(code) != 3)
                return false;
        for (const char *p = code; *p; p++)
                if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
                        return false;
        return true;
}
