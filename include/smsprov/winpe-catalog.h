/* SPDX-License-Identifier: MIT */
#pragma once

/* The Windows PE optional component catalog (SMS_OSDeploymentKitWinPEOptionalComponent): what
 * the deployment kit at --adk-root holds, as <adk>/<x86|amd64|arm64>/WinPE_OCs/<Name>/ trees
 * prepared for merging into an image. */

#include <stddef.h>
#include <stdint.h>

#include "smsprov/class.h"
#include "smsprov/error.h"

/* The four components every boot image gets (reference §4.4). */
extern const char *const winpe_always_added[4];

/* The component ID for a name on an architecture folder ("x86", "amd64", "arm64"): reference
 * §4.4 for x86 (1–26, 57) and amd64 (x86 + 26; 58); smsprovd's assignment for arm64 (1000 + the
 * x86 ID) and for names the reference does not list (20000 + a stable hash of the name). */
uint32_t winpe_component_id(const char *name, const char *adk_arch);

/* Scans the kit and returns one SMS_OSDeploymentKitWinPEOptionalComponent object per
 * component. A missing or empty kit gives no objects, not an error. */
int winpe_catalog_scan(const char *adk_root, SmsObject ***ret, size_t *ret_n, SmsError *e);
void winpe_catalog_free(SmsObject **objects, size_t n);
