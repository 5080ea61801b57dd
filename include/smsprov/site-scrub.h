/* SPDX-License-Identifier: MIT */
#pragma once

/* The scrub of the site's content library (site/scrub.c): a job that hashes every library file
 * again, the only way to find damage that left a file's metadata alone. */

#include <stdint.h>

#include "smsprov/site.h"

/* Starts a scrub (Site.ScrubContentLibrary). Busy while one is queued or running. */
int site_scrub_start(Site *site, const SiteCaller *caller, uint64_t *ret_job, SmsError *e);

/* --scrub-interval: a scrub every interval_usec on the site's event loop (none when 0). The
 * site's jobs must have been started (site_jobs_start()). */
int site_scrub_schedule(Site *site, uint64_t interval_usec);
