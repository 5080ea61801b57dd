/* SPDX-License-Identifier: MIT */
#pragma once

/* Network abstraction layer (NAL) paths, as Configuration Manager names distribution points
 * (reference §7.9):
 *     ["Display=\\dp1\"]MSWNET:["SMS_SITE=LAB"]\\dp1\
 * = display qualifiers in ["…"], the NAL type (MSWNET or GENERIC), ':', connection qualifiers in
 * ["…"] (SMS_SITE=<code> names the DP's site), then the network OS path (\\server or
 * \\server\share, trailing backslash optional). */

#include <stdbool.h>

#include "smsprov/error.h"

/* A site code (SMS_SITE=, SourceSite, the site database's): 3 characters of A-Z and 0-9. */
bool sms_site_code_valid(const char *code);

typedef struct NalPath {
        char *display;     /* the Display= qualifier's value, "" when none */
        char *type;        /* "MSWNET" or "GENERIC" */
        char *site_code;   /* SMS_SITE= */
        char *server_name; /* the computer of the network OS path, e.g. "dp1" */
        char *share;       /* the share after the computer, "" when none */
} NalPath;

#define NAL_PATH_MAX_LENGTH 1024u

/* Errors are InvalidParameter with what is wrong. A MSWNET path needs SMS_SITE and a server. */
int nal_path_parse(const char *s, NalPath *ret, SmsError *e);
void nal_path_done(NalPath *p);
