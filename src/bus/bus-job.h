/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-bus.h>

#include "bus/manager.h"
#include "smsprov/site-jobs.h"

int bus_job_register(Manager *m);

/* "/org/smsprov/Provider1/job/_<id>" */
char *bus_job_path(uint64_t id);
/* Replies (o Job): the job's path, or "/" for id 0 (the call started no job). */
int bus_job_reply(sd_bus_message *msg, uint64_t id);

/* The observer's job calls (SiteObserver, site.h); userdata is the Manager. */
void bus_job_added(void *userdata, SiteJob *job);
void bus_job_changed(void *userdata, SiteJob *job);
void bus_job_finished(void *userdata, SiteJob *job);
void bus_job_removed(void *userdata, SiteJob *job);
