/* SPDX-License-Identifier: MIT */
#pragma once

/* The job queue's insides, shared by job-queue.c and test-point.c. */

#include <pthread.h>
#include <stdbool.h>

#include "smsprov/job.h"

#define JOB_QUEUE_MAX_WORKERS 8

/* Work no job waits for, done by an idle worker (or at job_queue_free(), whatever is left). */
typedef struct JobChore {
        void (*run)(void *userdata);
        void *userdata;
} JobChore;

struct JobQueue {
        pthread_mutex_t lock;
        pthread_cond_t wake;
        Job *pending_head, *pending_tail; /* FIFO of queued jobs, under lock */
        Job *done;                        /* finished by a worker, awaiting dispatch, under lock */
        JobChore *chores;                 /* job_queue_run_later() and job_defer_removal() work,
                                           * under lock; idle workers run it */
        size_t n_chores;
        Job **active;                     /* main thread: queued or running jobs */
        size_t n_active;
        size_t n_reserved;                /* slots after them that job_new() took for its jobs */
        bool stopping;
        int event_fd;
        pthread_t workers[JOB_QUEUE_MAX_WORKERS];
        unsigned n_workers;
        JobQueueCallbacks callbacks;
        int test_dir_fd;                  /* --test-hold-dir (test-point.c); -1 without */
        char *test_prefix;                /* of this queue's start points, e.g. "call." */
};
