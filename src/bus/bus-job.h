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
/* LimitsExceeded when one more job (of owner, NULL for the daemon's own) may not be queued. */
int bus_job_check_limits(Manager *m, const char *owner, SmsError *e);

/* A job made ready before the write that starts it is committed (a Put's trigger), or before the
 * pending state it shows is written: everything that could refuse it has been checked and
 * allocated, except the files it reads, which `check` looks up on a worker before the call goes
 * on (bus_paths_then()). bus_job_plan_start() checks that it may still start
 * (bus_job_plan_ready()), writes the pending state (begin), then records and queues the job; if it
 * cannot be queued, abort takes the pending state back. A plan whose write failed is freed, and
 * its job never ran. */
typedef struct BusJobPlan {
        JobSpec spec; /* spec.userdata is the plan's until the job is queued */
        char *operation, *target, *context_id, *owner, *target_path;
        /* optional, thread-safe: the file system part of making the job ready (a source that
         * cannot be read refuses the call); a plan started without it leaves it to its job */
        int (*check)(void *userdata, SmsError *e);
        int (*begin)(Manager *m, void *userdata, SmsError *e); /* optional */
        void (*abort)(Manager *m, void *userdata);               /* optional */
        bool exclusive; /* one job of its target at a time */
} BusJobPlan;

/* Copies the spec's strings and takes spec->userdata (freed with free_userdata on failure). */
int bus_job_plan_new(const JobSpec *spec, const char *target_path, BusJobPlan **ret);
/* May the plan start now? LimitsExceeded, or Busy for an exclusive plan whose target has a job
 * queued or running. For a write that must not be committed when its job cannot start. */
int bus_job_plan_ready(Manager *m, const BusJobPlan *plan, SmsError *e);
/* Always takes the plan. */
int bus_job_plan_start(Manager *m, BusJobPlan *plan, char **ret_path, SmsError *e);
BusJobPlan *bus_job_plan_free(BusJobPlan *plan);

/* Is a job with this target ("SMS_BootImagePackage.LAB00001") queued or running? */
bool bus_job_target_active(Manager *m, const char *target);
