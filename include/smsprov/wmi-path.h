/* SPDX-License-Identifier: MIT */
#pragma once

/* WMI object paths as Site.GetObject takes them:
 *   SMS_BootImagePackage.PackageID="LAB00001"
 *   SMS_StatusMessage.RecordID=17
 *   \\server\root\sms\site_LAB:SMS_ImagePackage.PackageID='LAB00002'
 * Values are double- or single-quoted strings (backslash escapes the next character) or bare
 * integers; several keys are separated by commas. */

#include <stddef.h>

#include "smsprov/error.h"

typedef struct WmiPathKey {
        char *name;
        char *value;
} WmiPathKey;

typedef struct WmiPath {
        char *class_name;
        WmiPathKey *keys;
        size_t n_keys;
} WmiPath;

#define WMI_PATH_MAX_LENGTH 4096u
#define WMI_PATH_MAX_KEYS 8u

/* Errors are InvalidParameter with the offset of the problem. */
int wmi_path_parse(const char *s, WmiPath *ret, SmsError *e);
/* Only the key list: K="v",K2=3 (class_name stays NULL). */
int wmi_keys_parse(const char *s, WmiPath *ret, SmsError *e);
void wmi_path_done(WmiPath *p);
