/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-bus.h>

#include "bus/manager.h"

/* The rest of a Put or a Create once its paths have been looked up: on the main thread, with
 * the caller's changes (taken back by bus_paths_then() afterwards). It replies to `msg` itself;
 * a negative errno (with `e`) becomes the call's named error. `key` is NULL for a Create. */
typedef int (*BusPathsThenFn)(Manager *m, sd_bus_message *msg, const SmsClass *c, const char *key,
                              SiteChange *changes, size_t n, const SiteCaller *caller, SmsError *e);

/* Looks up the paths that the changes give (site_changes_check_paths()) on a worker of the
 * authorized calls' queue, then calls `then` from the main thread: a content root or a DP's
 * directory on a mount that never answers holds that call, never the event loop. Changes that
 * give no path go on to `then` at once. Takes `changes`; returns as a method handler does. */
int bus_paths_then(Manager *m, sd_bus_message *msg, const SmsClass *c, const char *key, SiteChange *changes,
                   size_t n, const SiteCaller *caller, BusPathsThenFn then, sd_bus_error *error);
