/* SPDX-License-Identifier: MIT */

/* The distribution methods: AddDistributionPoints on packages, VerifyPackage and
 * CancelDistribution on SMS_DistributionPoint. The engine does the work (site-distribution.h). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus-distribution.h"
#include "bus/bus-job.h"
#include "bus/bus-util.h"
#include "bus/registration.h"
#include "smsprov/macro.h"
#include "smsprov/site-distribution.h"

#define ADD_DISTRIBUTION_POINTS_MAX 256

/* AddDistributionPoints(as SiteCode, as NALPath): every pair checked before anything changes. */
static int method_add_distribution_points(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        ClassRegistration *reg = bus_current_registration(msg);
        Manager *m = reg->manager;
        _cleanup_free_ char *key = strdup(((SmsObject *) userdata)->key);
        _cleanup_strv_free_ char **sites = NULL, **nals = NULL;
        SmsError e = SMS_ERROR_NULL;
        SiteCaller caller;
        uint64_t job = 0;
        size_t n;
        int r;

        if (!key)
                return -ENOMEM;
        r = sd_bus_message_read_strv(msg, &sites);
        if (r >= 0)
                r = sd_bus_message_read_strv(msg, &nals);
        if (r < 0)
                return r;
        n = strv_length(sites);
        if (n != strv_length(nals))
                return bus_set_error(error, SMS_ERROR_INVALID_PARAMETER,
                                     "SiteCode and NALPath are parallel arrays; %zu site codes for %zu NAL paths", n,
                                     strv_length(nals));
        if (n == 0 || n > ADD_DISTRIBUTION_POINTS_MAX)
                return bus_set_error(error, SMS_ERROR_INVALID_PARAMETER, "give 1 to %d distribution points",
                                     ADD_DISTRIBUTION_POINTS_MAX);
        r = authz_check_write(m, msg, AUTHZ_ACTION_DISTRIBUTE_CONTENT, &caller, error);
        if (r != 0)
                return r;
        r = site_distribution_add_points(&m->site, reg->class, key, sites, nals, n, &caller, &job, &e);
        if (r < 0)
                return bus_reply_error_take(error, &e, r);
        return bus_job_reply(msg, job);
}

/* The (PackageID, NALPath) arguments of the static methods: a package that exists (NotFound
 * otherwise, before polkit is asked) and a caller allowed ACTION. 0 to go on; otherwise what the
 * handler returns at once (an error, or 1 while polkit is asked: authz_check_write()). */
static int read_package_dp(sd_bus_message *msg, Manager *m, const char *action, const char **ret_id,
                           const char **ret_nal, SiteCaller *caller, sd_bus_error *error) {
        const SmsClass *c = NULL;
        SmsError e = SMS_ERROR_NULL;
        int r;

        r = sd_bus_message_read(msg, "ss", ret_id, ret_nal);
        if (r < 0)
                return r;
        r = site_package_class(&m->site, *ret_id, &c, &e);
        if (r < 0)
                return bus_reply_error_take(error, &e, r);
        return authz_check_write(m, msg, action, caller, error);
}

static int method_verify_package(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = ((ClassRegistration *) userdata)->manager;
        const char *id, *nal;
        SmsError e = SMS_ERROR_NULL;
        SiteCaller caller;
        uint64_t job = 0;
        int r;

        r = read_package_dp(msg, m, AUTHZ_ACTION_DISTRIBUTE_CONTENT, &id, &nal, &caller, error);
        if (r != 0)
                return r;
        r = site_distribution_verify(&m->site, id, nal, &caller, &job, &e);
        if (r < 0)
                return bus_reply_error_take(error, &e, r);
        return bus_job_reply(msg, job);
}

static int method_cancel_distribution(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = ((ClassRegistration *) userdata)->manager;
        const char *id, *nal;
        SmsError e = SMS_ERROR_NULL;
        SiteCaller caller;
        int r;

        r = read_package_dp(msg, m, AUTHZ_ACTION_CANCEL_JOB, &id, &nal, &caller, error);
        if (r != 0)
                return r;
        r = site_distribution_cancel(&m->site, id, nal, &e);
        if (r < 0)
                return bus_reply_error_take(error, &e, r);
        return sd_bus_reply_method_return(msg, NULL);
}

const BusMethodHandler bus_distribution_instance_handlers[] = {
        { "AddDistributionPoints", method_add_distribution_points },
        {},
};

const BusMethodHandler bus_distribution_static_handlers[] = {
        { "VerifyPackage", method_verify_package },
        { "CancelDistribution", method_cancel_distribution },
        {},
};
