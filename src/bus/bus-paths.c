/* SPDX-License-Identifier: MIT */

/* Put and Create name paths (PkgSourcePath, ImagePath, a driver's source, a DP's ContentRoot)
 * that the site looks up before it stores them, and a call that starts a build or a refresh
 * refuses to start it when its source cannot be read. Those lookups may wait on a file system
 * that never answers (a hung NFS server, a stuck FUSE mount), so they run on a worker; the rest of
 * the call (the checks that need no file system, the transaction, the signals, the job started)
 * runs on the main thread afterwards, as a call without paths does at once. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus-defer.h"
#include "bus/bus-paths.h"
#include "bus/bus-util.h"
#include "smsprov/macro.h"

typedef struct PathsCall {
        Manager *manager;
        const SmsClass *class;
        char *key;
        SiteChange *changes;
        size_t n;
        SiteJobPlan *plan; /* until `then` takes it */
        SiteCaller caller; /* its peer is the sender of the message, which the deferred call holds */
        BusPathsThenFn then;
} PathsCall;

static void paths_call_free(void *p) {
        PathsCall *pc = p;
        site_changes_free(pc->changes, pc->n);
        site_job_plan_free(pc->plan);
        free(pc->key);
        free(pc);
}

/* On the worker: only the site's roots and state directory are read (site.h), and the plan's
 * own context, which nothing else touches until `then`. */
static int paths_work(void *userdata, SmsError *e) {
        PathsCall *pc = userdata;
        int r = site_changes_check_paths(&pc->manager->site, pc->class, pc->changes, pc->n, e);
        if (r >= 0 && pc->plan && pc->plan->check)
                r = pc->plan->check(pc->plan->spec.userdata, e);
        return r;
}

static int paths_reply(Manager *m, sd_bus_message *msg, void *userdata, int result, SmsError *e) {
        PathsCall *pc = userdata;

        if (result < 0)
                return result;
        return pc->then(m, msg, pc->class, pc->key, pc->changes, pc->n, TAKE_PTR(pc->plan), &pc->caller, e);
}

int bus_paths_then(Manager *m, sd_bus_message *msg, const SmsClass *c, const char *key, SiteChange *changes,
                   size_t n, SiteJobPlan *plan, const SiteCaller *caller, BusPathsThenFn then, sd_bus_error *error) {
        SmsError e = SMS_ERROR_NULL;
        PathsCall *pc;
        int r;

        if (!site_changes_have_paths(c, changes, n) && !(plan && plan->check)) {
                r = then(m, msg, c, key, changes, n, plan, caller, &e);
                site_changes_free(changes, n);
                if (r < 0)
                        return bus_reply_error_take(error, &e, r);
                sms_error_clear(&e);
                return r;
        }
        pc = calloc(1, sizeof(PathsCall));
        if (!pc) {
                site_changes_free(changes, n);
                site_job_plan_free(plan);
                return -ENOMEM;
        }
        *pc = (PathsCall) { .manager = m, .class = c, .changes = changes, .n = n, .plan = plan, .caller = *caller,
                            .then = then };
        if (key && !(pc->key = strdup(key))) {
                paths_call_free(pc);
                return -ENOMEM;
        }
        return bus_defer(m, DEFER_AUTHORIZED, msg, paths_work, paths_reply, pc, paths_call_free);
}
