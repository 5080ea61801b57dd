/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-bus.h>

#include "bus/bus-job.h"
#include "bus/manager.h"

/* The rest of a call once the file system part is done: on the main thread, with the caller's
 * changes (taken back by bus_paths_then() afterwards) and the job the call starts, checked
 * (NULL when it starts none; `then` takes it, and starts or frees it). It replies to `msg`
 * itself; a negative errno (with `e`) becomes the call's named error. `key` is NULL for a
 * Create. Between the check and `then` other calls ran: what they may have changed (a job of the
 * same package queued, the job limits) is checked again there (bus_job_plan_ready()). */
typedef int (*BusPathsThenFn)(Manager *m, sd_bus_message *msg, const SmsClass *c, const char *key,
                              SiteChange *changes, size_t n, SiteJobPlan *plan, const SiteCaller *caller, SmsError *e);

/* Looks up the paths that the changes give (site_changes_check_paths()) and the files the job
 * reads (plan->check) on a worker of the authorized calls' queue, then calls `then` from the main
 * thread: a content root or a DP's directory on a mount that never answers holds that call, never
 * the event loop. A call with neither goes on to `then` at once. Takes `changes` and `plan`;
 * returns as a method handler does. */
int bus_paths_then(Manager *m, sd_bus_message *msg, const SmsClass *c, const char *key, SiteChange *changes,
                   size_t n, SiteJobPlan *plan, const SiteCaller *caller, BusPathsThenFn then, sd_bus_error *error);
