/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "bus/bus-image.h"
#include "bus/manager.h"

extern const BusMethodHandler bus_distribution_instance_handlers[];
extern const BusMethodHandler bus_distribution_static_handlers[];

/* Starts a job that distributes (action 0), removes (1) or verifies (2) a package's current
 * version on the given DPs (NAL paths). n = 0 gives the job path "/". */
int bus_distribution_start(Manager *m, const SmsClass *c, const char *package_id, char *const *nals, size_t n,
                           int action, const SiteCaller *caller, char **ret_job, SmsError *e);

/* A package has a new version (a build, a refresh) or was announced changed: distribute it to
 * its DPs — all of them, or with only_stale those that do not have this version installed. */
int bus_distribution_package_updated(Manager *m, const SmsClass *c, const char *package_id, bool only_stale,
                                     const SiteCaller *caller, char **ret_job);

/* The SMS_DistributionPoint hooks: after Create, instead of Delete, and RefreshNow. */
int bus_distribution_created(Manager *m, const char *assignment_key, const SiteCaller *caller, char **ret_job,
                             SmsError *e);
int bus_distribution_remove(Manager *m, const char *assignment_key, const SiteCaller *caller, SmsError *e);
/* RefreshNow made ready, nothing written: a Put starts it once its write is committed. */
int bus_distribution_refresh_prepare(Manager *m, const char *assignment_key, const SiteCaller *caller,
                                     BusJobPlan **ret, SmsError *e);

/* How many DPs a package is assigned to (a package on DPs cannot be deleted). Failed when the
 * database cannot say: a Delete is then refused, not allowed. */
int bus_distribution_count(Manager *m, const char *package_id, size_t *ret, SmsError *e);

/* At start: distributions a stop interrupted are retried, or failed after the retry limit. */
void bus_distribution_resume(Manager *m);
