/* SPDX-License-Identifier: MIT */
#pragma once

/* Following jobs. A command that may start a job subscribes to the signals of every job before it
 * makes the call (the job's path is known only from the reply, and a short job may end before the
 * reply arrives); afterwards it follows the one job the reply names, with a progress bar on a
 * terminal and plain lines otherwise, on stderr.
 *
 * Interrupts: on a terminal, Ctrl-C asks whether to cancel the job. Otherwise SIGINT and SIGTERM
 * cancel a job this command started (the command stands for the job; --no-wait starts one that
 * outlives it) and stop waiting for a job it did not start (wait, cancel), which goes on. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctl/ctl.h"

typedef enum JobState {
        JOB_STATE_QUEUED,
        JOB_STATE_RUNNING,
        JOB_STATE_COMPLETED,
        JOB_STATE_FAILED,
        JOB_STATE_CANCELED,
        _JOB_STATE_MAX,
} JobState;

const char *job_state_to_string(uint32_t state);

typedef struct JobWatch JobWatch;

int job_watch_new(Ctl *c, JobWatch **ret);
JobWatch *job_watch_free(JobWatch *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(JobWatch *, job_watch_free);

typedef struct JobOutcome {
        uint32_t state;
        char *error_name;
        char *error_message;
        json_object *props; /* the Job's properties, and "__PATH" */
        bool detached;      /* interrupted: the job goes on */
} JobOutcome;

void job_outcome_done(JobOutcome *o);

/* Follows the job at `path` to its end. `owned`: this command started it (see the top). w may be
 * NULL: then the subscription is made here, before the job's state is first read. Returns 0 when
 * the job ended (whatever its outcome), or the error convention of ctl.h. */
int job_follow(Ctl *c, JobWatch *w, const char *path, bool owned, JobOutcome *ret);
/* Reports an outcome: a line on stderr for success, the job's error otherwise (exit status 1). */
int job_outcome_report(Ctl *c, const JobOutcome *o);

/* After a call that returned `job_path` ("/" for none): with --no-wait prints the path (or puts
 * "Job" into `json`); otherwise follows the job and puts its properties into `json`. */
int job_handle(Ctl *c, JobWatch *w, const char *job_path, json_object *json);

/* Finds a job by path, Id (7 or _7) or, when allow_context, ContextID among the jobs on the bus. */
int job_find(Ctl *c, const char *spec, bool allow_context, char **ret_path);

int verb_jobs(Ctl *c, int argc, char **argv);
int verb_wait(Ctl *c, int argc, char **argv);
int verb_cancel(Ctl *c, int argc, char **argv);
