/* SPDX-License-Identifier: MIT */
#pragma once

#include "bus/manager.h"
#include "smsprov/job.h"

/* Starts the job queue and fails the jobs a previous run left unfinished. */
int bus_job_setup(Manager *m);
int bus_job_register(Manager *m);
/* Cancels running jobs, waits for them, records them as canceled. */
void bus_job_shutdown(Manager *m);

/* Records a job in the site database, queues it, and puts its object on the bus (JobNew,
 * InterfacesAdded). spec->id is filled in. Returns the job's object path. LimitsExceeded when
 * too many jobs are queued. */
int bus_job_start(Manager *m, JobSpec *spec, const char *target_path, char **ret_path, SmsError *e);

/* Is a job with this target ("SMS_BootImagePackage.LAB00001") queued or running? */
bool bus_job_target_active(Manager *m, const char *target);
