/* SPDX-License-Identifier: MIT */

/* libFuzzer target: NAL paths, as SMS_DistributionPointInfo.NALPath and AddDistributionPoints
 * take them (include/smsprov/nal-path.h).
 *
 * On success the result must be what the header promises — type MSWNET or GENERIC, a non-empty
 * server name of letters, digits, '-', '_' and '.', a share without backslashes, a 3-character
 * upper-case site code for MSWNET, no field NULL — and written back in the canonical form
 *     ["Display=<display>"]<TYPE>:["SMS_SITE=<code>"]\\<server>[\<share>]\
 * it must parse to the same fields. On failure the error is InvalidParameter with a message. */

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "smsprov/macro.h"
#include "smsprov/nal-path.h"

static void check_fields(const char *input, const NalPath *n) {
        if (!n->display || !n->type || !n->site_code || !n->server_name || !n->share)
                fuzz_fail("nal_path_parse(\"%s\"): a field is NULL", input);
        if (strcmp(n->type, "MSWNET") != 0 && strcmp(n->type, "GENERIC") != 0)
                fuzz_fail("nal_path_parse(\"%s\"): type \"%s\"", input, n->type);
        if (!*n->server_name)
                fuzz_fail("nal_path_parse(\"%s\"): empty server name", input);
        for (const char *c = n->server_name; *c; c++)
                if (!isalnum((unsigned char) *c) && *c != '-' && *c != '.' && *c != '_')
                        fuzz_fail("nal_path_parse(\"%s\"): server name \"%s\"", input, n->server_name);
        if (strchr(n->share, '\\'))
                fuzz_fail("nal_path_parse(\"%s\"): share \"%s\" holds a backslash", input, n->share);
        if (strcmp(n->type, "MSWNET") == 0 && strlen(n->site_code) != 3)
                fuzz_fail("nal_path_parse(\"%s\"): MSWNET with site code \"%s\"", input, n->site_code);
        for (const char *c = n->site_code; *c; c++)
                if (islower((unsigned char) *c))
                        fuzz_fail("nal_path_parse(\"%s\"): site code \"%s\" not upper case", input, n->site_code);
        for (const char *s = n->display; *s; s++)
                if (*s == '"')
                        fuzz_fail("nal_path_parse(\"%s\"): display \"%s\" holds a quote", input, n->display);
}

static char *write_nal(const NalPath *n) {
        char *s = NULL;
        if (asprintf(&s, "%s%s%s%s:%s%s%s\\\\%s%s%s\\",
                     *n->display ? "[\"Display=" : "", n->display, *n->display ? "\"]" : "",
                     n->type,
                     *n->site_code ? "[\"SMS_SITE=" : "", n->site_code, *n->site_code ? "\"]" : "",
                     n->server_name, *n->share ? "\\" : "", n->share) < 0)
                abort();
        return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *input = fuzz_string(data, size);
        _cleanup_(nal_path_done) NalPath n = {};
        SmsError e = SMS_ERROR_NULL;

        if (nal_path_parse(input, &n, &e) < 0) {
                if (e.code != SMS_ERROR_INVALID_PARAMETER || !fuzz_error_message_ok(&e))
                        fuzz_fail("nal_path_parse(\"%s\") failed with %s", input, sms_error_code_to_name(e.code));
                sms_error_clear(&e);
                return 0;
        }
        check_fields(input, &n);

        _cleanup_free_ char *again = write_nal(&n);
        _cleanup_(nal_path_done) NalPath m = {};
        if (strlen(again) > NAL_PATH_MAX_LENGTH)
                return 0;
        if (nal_path_parse(again, &m, &e) < 0)
                fuzz_fail("nal_path_parse(\"%s\") parsed, but its canonical form \"%s\" does not: %s", input, again,
                          e.message);
        if (strcmp(n.display, m.display) || strcmp(n.type, m.type) || strcmp(n.site_code, m.site_code) ||
            strcmp(n.server_name, m.server_name) || strcmp(n.share, m.share))
                fuzz_fail("nal_path_parse(\"%s\"): canonical form \"%s\" parses differently", input, again);
        return 0;
}
