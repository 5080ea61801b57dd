/* SPDX-License-Identifier: MIT */
#pragma once

#include "bus/manager.h"

/* Starts a job that scrubs the site's content library (Site.ScrubContentLibrary). Busy while
 * one runs. */
int bus_scrub_start(Manager *m, const SiteCaller *caller, char **ret_job, SmsError *e);

/* --scrub-interval: a scrub every m->scrub_interval_usec (none when 0). */
int bus_scrub_setup(Manager *m);
void bus_scrub_shutdown(Manager *m);
