/* SPDX-License-Identifier: MIT */
#pragma once

/* Refresh schedules (site/schedule.c): a package with RefreshSchedule tokens and PkgSourceFlag 2
 * is refreshed (site_image_refresh_source()) at the next time any of its tokens names, by a timer
 * on the site's event loop; site->time_scale makes them run that many times faster (tests). */

#include "smsprov/site.h"

/* Arms (or drops) the refresh timer of one package from its stored RefreshSchedule. Called after
 * anything that may change RefreshSchedule or PkgSourceFlag, and after a delete. */
int site_schedule_update(Site *site, const SmsClass *c, const char *key);
/* Arms every package's timer (after site_jobs_start()), and drops them all. */
int site_schedules_start(Site *site);
void site_schedules_stop(Site *site);
