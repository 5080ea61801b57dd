/* SPDX-License-Identifier: MIT */
#pragma once

/* Long operations (ARCHITECTURE.md, jobs/). A job's work runs on a worker thread with its own
 * WIMStruct; everything else about it — its state as callers see it, the database, the bus — is
 * the main thread's. Workers report progress and completion through one eventfd that the main
 * loop watches; job_queue_dispatch() then runs the owner's callbacks on the main thread.
 * Cancel sets a flag the work polls (wimlib's progress callback returns abort). */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "smsprov/error.h"

typedef enum JobState {
        JOB_STATE_QUEUED = 0,
        JOB_STATE_RUNNING = 1,
        JOB_STATE_COMPLETED = 2,
        JOB_STATE_FAILED = 3,
        JOB_STATE_CANCELED = 4,
        _JOB_STATE_MAX,
} JobState;

const char *job_state_to_result(JobState s); /* "done", "failed", "canceled" (JobRemoved) */

typedef struct JobQueue JobQueue;
typedef struct Job Job;

/* Runs on a worker thread. Returns 0 or a negative errno with e filled. Must poll
 * job_should_continue() and stop with Canceled when it says no. */
typedef int (*JobWorkFn)(Job *job, void *userdata, SmsError *e);
/* Runs on the main thread once the work has returned, before the job is reported finished: the
 * place to commit the outcome to the database. It may turn success into failure by returning a
 * negative errno and filling e. */
typedef int (*JobFinishFn)(Job *job, void *userdata, int result, SmsError *e);

typedef struct JobSpec {
        uint64_t id;             /* allocated by the caller (the site's job table) */
        const char *operation;   /* the method name, e.g. "UpdateImage" */
        const char *target;      /* what the job works on, e.g. "SMS_BootImagePackage.LAB00001" */
        const char *context_id;  /* "" when none */
        uid_t uid;
        const char *owner;       /* the caller's connection, for the per-caller cap; NULL for the
                                  * daemon's own jobs */
        bool cancelable;
        JobWorkFn work;
        JobFinishFn finish;
        void *userdata;
        void (*free_userdata)(void *userdata);
} JobSpec;

typedef struct JobProgress {
        uint32_t progress, max_progress; /* steps */
        uint64_t bytes, total_bytes;
        uint64_t rate;                   /* bytes per second */
        char text[160];
} JobProgress;

struct Job {
        JobQueue *queue;
        unsigned n_ref;
        uint64_t id;
        char *operation;
        char *target;
        char *context_id;
        uid_t uid;
        bool cancelable;

        /* Main thread's view. */
        JobState state;
        uint64_t submit_usec, start_usec, end_usec;
        SmsError error;
        int32_t error_code; /* errno-style code of a failure, 0 on success */

        /* Shared with the worker. */
        atomic_bool cancel_requested;
        atomic_bool started;
        pthread_mutex_t lock;
        JobProgress progress; /* under lock */
        bool progress_dirty;  /* under lock */
        uint64_t rate_mark_usec, rate_mark_bytes;

        JobWorkFn work;
        JobFinishFn finish;
        void *userdata;
        void (*free_userdata)(void *userdata);
        int work_result;
        SmsError work_error;
        char *leftover; /* job_defer_removal(): the worker's, then the main thread's */

        void *owner_data; /* for the owner (the bus layer's per-job state) */
        Job *next;        /* queue links, under the queue lock */
        Job *next_done;
};

typedef struct JobQueueCallbacks {
        void (*changed)(Job *job, void *userdata);  /* state or progress moved (main thread) */
        void (*finished)(Job *job, void *userdata); /* completed, failed or canceled (main thread) */
        void *userdata;
} JobQueueCallbacks;

int job_queue_new(unsigned n_workers, const JobQueueCallbacks *callbacks, JobQueue **ret);
/* Cancels every job, waits for the workers, and frees the queue. Jobs still referenced stay
 * valid until unreferenced. */
JobQueue *job_queue_free(JobQueue *q);
/* The eventfd to watch for EPOLLIN; call job_queue_dispatch() when it is readable. */
int job_queue_fd(const JobQueue *q);
void job_queue_dispatch(JobQueue *q);
/* How many jobs are queued or running. */
unsigned job_queue_active(const JobQueue *q);

/* Queues a job. *ret (optional) is borrowed: the queue holds the job until it has finished and
 * been dispatched; job_ref() it to keep it longer. */
int job_submit(JobQueue *q, const JobSpec *spec, Job **ret);
/* job_submit() in two steps, for an owner that must know the job can be queued before it
 * commits to it: job_new() allocates everything (on failure the caller keeps spec->userdata),
 * and job_queue_push() queues the job and cannot fail; or job_discard() drops it unqueued (its
 * userdata freed). Main thread. */
int job_new(JobQueue *q, const JobSpec *spec, Job **ret);
void job_queue_push(JobQueue *q, Job *j);
void job_discard(Job *j);
Job *job_ref(Job *j);
Job *job_unref(Job *j);

/* Asks the job to stop. A queued job is canceled at once; a running one at its next check.
 * Returns false when the job has already finished. Main thread. */
bool job_cancel(Job *j);

/* Worker side. */
bool job_should_continue(Job *j);
void job_set_progress(Job *j, uint32_t progress, uint32_t max_progress, uint64_t bytes, uint64_t total_bytes,
                      const char *text);
/* Worker side: has the tree at `path` (the string is taken) removed once the job's outcome is
 * out — committed and signalled — by a worker with nothing else to do, so that tidying up what
 * the work left behind (a replaced image, whose blocks take long to free) neither delays the
 * outcome nor competes with its commit for the file system's journal. One path per job; a
 * second call hands the first to an idle worker at once. A crash before the removal leaves the tree to the
 * startup sweep. */
void job_defer_removal(Job *j, char *path); /* also from the job's finish, on the main thread */
/* Main side: the same for a tree no job left (a deleted package's images): an idle worker of the
 * queue removes it. */
void job_queue_remove_later(JobQueue *q, char *path);
/* Main side: `run(userdata)` on an idle worker, for work nobody waits for (run owns userdata).
 * What has not run by job_queue_free() runs there, on the caller's thread. */
void job_queue_run_later(JobQueue *q, void (*run)(void *userdata), void *userdata);
/* Main side: a copy of the current progress (clears the dirty flag). */
JobProgress job_get_progress(Job *j, bool *ret_was_dirty);

/* Test points (src/jobs/test-point.c; the daemon's --test-hold-dir, accepted on private buses
 * only). With a test directory set, a job reaching point P waits while the file DIR/P exists
 * (DIR/P.<id>.held exists meanwhile) and the daemon SIGKILLs itself where DIR/P.kill exists.
 * Every job passes the point named after its operation when it starts running (below); work may
 * add points of its own ("<operation>.<step>"). Without a test directory these cost one branch. */
/* Takes a copy of dir_fd. The queue's jobs pass the point <prefix><operation> as they start
 * ("call." for the deferred replies of calls, so that "call.Create" and a job never share
 * a point). */
int job_queue_set_test_dir(JobQueue *q, int dir_fd, const char *prefix);
/* Worker side: the start point of j (job-queue.c passes it for every job). */
bool job_test_start_point(Job *j);
/* Worker side: waits at the point while it is held; returns job_should_continue(). */
bool job_test_point(Job *j, const char *point);
/* Main thread: only the .kill half (holding the main thread would stop the daemon answering). */
void job_queue_test_crash_point(JobQueue *q, const char *point);
