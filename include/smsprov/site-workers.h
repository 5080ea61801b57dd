/* SPDX-License-Identifier: MIT */
#pragma once

/* Workers for short work a caller waits for (site/workers.c): the file lookups, WIM reads and
 * queries that the bus layer's deferred replies wait on (bus-defer.h). A pool of threads on the
 * job queue (jobs/), without Job objects or rows; `done` runs on the main thread, from the event
 * loop, with the work's result. Each pool serves one kind of work, so that no kind waits behind
 * another. Main thread, but for `work`. */

#include <systemd/sd-event.h>

#include "smsprov/error.h"

typedef struct SiteWorkers SiteWorkers;

/* Runs on a worker thread: 0 or a negative errno with e filled. */
typedef int (*SiteWorkFn)(void *userdata, SmsError *e);
/* Runs on the main thread once the work has returned (result 0 or a negative errno, e its error). */
typedef void (*SiteWorkDoneFn)(void *userdata, int result, SmsError *e);

int site_workers_new(sd_event *event, unsigned n_threads, SiteWorkers **ret);
/* Stops the threads once their work has returned; work not begun is dropped (free_userdata). */
SiteWorkers *site_workers_free(SiteWorkers *w);

/* Queues `work` under `name` (the test point it passes: <prefix><name>). Takes userdata: it is
 * freed with free_userdata after `done`, or at once when it cannot be queued. */
int site_workers_submit(SiteWorkers *w, const char *name, SiteWorkFn work, SiteWorkDoneFn done, void *userdata,
                        void (*free_userdata)(void *userdata));

/* Test points (--test-hold-dir): the work waits at <prefix><name> while DIR/<prefix><name>
 * exists (jobs/test-point.c). */
int site_workers_set_test_dir(SiteWorkers *w, int dir_fd, const char *prefix);
