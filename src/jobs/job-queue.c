/* SPDX-License-Identifier: MIT */

/* The job queue: a FIFO of pending jobs, a few worker threads, and an eventfd through which the
 * workers wake the main loop for progress and completion. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "jobs/job-internal.h"
#include "smsprov/job.h"
#include "smsprov/macro.h"
#include "smsprov/path.h"
#include "util/time-util.h"


const char *job_state_to_result(JobState s) {
        switch (s) {
        case JOB_STATE_COMPLETED:
                return "done";
        case JOB_STATE_CANCELED:
                return "canceled";
        case JOB_STATE_FAILED:
                return "failed";
        default:
                return "running";
        }
}

static void queue_wake_main(JobQueue *q) {
        uint64_t one = 1;
        /* An eventfd counter cannot overflow in practice; EAGAIN only means it is already set. */
        (void) !write(q->event_fd, &one, sizeof one);
}

static void *worker_main(void *arg) {
        JobQueue *q = arg;

        for (;;) {
                Job *j;

                pthread_mutex_lock(&q->lock);
                while (!q->stopping && !q->pending_head && q->n_chores == 0)
                        pthread_cond_wait(&q->wake, &q->lock);
                if (!q->pending_head && q->n_chores > 0 && !q->stopping) {
                        JobChore c = q->chores[--q->n_chores];
                        pthread_mutex_unlock(&q->lock);
                        c.run(c.userdata);
                        continue;
                }
                if (!q->pending_head) {
                        pthread_mutex_unlock(&q->lock);
                        return NULL;
                }
                j = q->pending_head;
                q->pending_head = j->next;
                if (!q->pending_head)
                        q->pending_tail = NULL;
                j->next = NULL;
                pthread_mutex_unlock(&q->lock);

                atomic_store(&j->started, true);
                pthread_mutex_lock(&j->lock);
                j->progress_dirty = true;
                j->rate_mark_usec = now_monotonic_usec();
                pthread_mutex_unlock(&j->lock);
                queue_wake_main(q);

                /* The test point every job passes once it counts as running. */
                if (!job_test_start_point(j))
                        j->work_result = sms_error_set(&j->work_error, SMS_ERROR_CANCELED, "canceled before it started");
                else
                        j->work_result = j->work(j, j->userdata, &j->work_error);

                pthread_mutex_lock(&q->lock);
                j->next_done = q->done;
                q->done = j;
                pthread_mutex_unlock(&q->lock);
                queue_wake_main(q);
        }
}

int job_queue_new(unsigned n_workers, const JobQueueCallbacks *callbacks, JobQueue **ret) {
        JobQueue *q;
        int r;

        if (n_workers == 0 || n_workers > JOB_QUEUE_MAX_WORKERS)
                return -EINVAL;
        q = calloc(1, sizeof(JobQueue));
        if (!q)
                return -ENOMEM;
        pthread_mutex_init(&q->lock, NULL);
        pthread_cond_init(&q->wake, NULL);
        if (callbacks)
                q->callbacks = *callbacks;
        q->test_dir_fd = -1;
        q->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (q->event_fd < 0) {
                r = -errno;
                job_queue_free(q);
                return r;
        }
        for (; q->n_workers < n_workers; q->n_workers++) {
                r = -pthread_create(&q->workers[q->n_workers], NULL, worker_main, q);
                if (r < 0) {
                        job_queue_free(q);
                        return r;
                }
        }
        *ret = q;
        return 0;
}

JobQueue *job_queue_free(JobQueue *q) {
        if (!q)
                return NULL;
        for (size_t i = 0; i < q->n_active; i++)
                atomic_store(&q->active[i]->cancel_requested, true);
        pthread_mutex_lock(&q->lock);
        q->stopping = true;
        /* Jobs that never started are dropped; the owner sees them as canceled. */
        while (q->pending_head) {
                Job *j = q->pending_head;
                q->pending_head = j->next;
                j->next = NULL;
        }
        pthread_cond_broadcast(&q->wake);
        pthread_mutex_unlock(&q->lock);
        for (unsigned i = 0; i < q->n_workers; i++)
                pthread_join(q->workers[i], NULL);
        for (size_t i = 0; i < q->n_chores; i++)
                q->chores[i].run(q->chores[i].userdata);
        free(q->chores);
        for (size_t i = 0; i < q->n_active; i++) {
                q->active[i]->queue = NULL;
                job_unref(q->active[i]);
        }
        free(q->active);
        if (q->event_fd >= 0)
                close(q->event_fd);
        if (q->test_dir_fd >= 0)
                close(q->test_dir_fd);
        free(q->test_prefix);
        pthread_cond_destroy(&q->wake);
        pthread_mutex_destroy(&q->lock);
        free(q);
        return NULL;
}

int job_queue_fd(const JobQueue *q) {
        return q->event_fd;
}

unsigned job_queue_active(const JobQueue *q) {
        return (unsigned) q->n_active;
}

static void job_free(Job *j) {
        if (j->leftover) /* never dispatched: the queue was freed under it */
                (void) path_remove_tree(j->leftover);
        free(j->leftover);
        if (j->free_userdata)
                j->free_userdata(j->userdata);
        sms_error_clear(&j->error);
        sms_error_clear(&j->work_error);
        pthread_mutex_destroy(&j->lock);
        free(j->operation);
        free(j->target);
        free(j->context_id);
        free(j);
}

Job *job_ref(Job *j) {
        if (j)
                j->n_ref++;
        return j;
}

Job *job_unref(Job *j) {
        if (j && --j->n_ref == 0)
                job_free(j);
        return NULL;
}

int job_new(JobQueue *q, const JobSpec *spec, Job **ret) {
        Job *j;

        if (!spec->work)
                return -EINVAL;
        /* The slot in `active` that job_queue_push() fills, taken now so that pushing cannot fail. */
        Job **active = realloc(q->active, (q->n_active + q->n_reserved + 1) * sizeof(Job *));
        if (!active)
                return -ENOMEM;
        q->active = active;

        j = calloc(1, sizeof(Job));
        if (!j)
                return -ENOMEM;
        *j = (Job) {
                .queue = q,
                .n_ref = 1,
                .id = spec->id,
                .operation = strdup(spec->operation ? spec->operation : ""),
                .target = strdup(spec->target ? spec->target : ""),
                .context_id = strdup(spec->context_id ? spec->context_id : ""),
                .uid = spec->uid,
                .cancelable = spec->cancelable,
                .state = JOB_STATE_QUEUED,
                .submit_usec = now_usec(),
                .work = spec->work,
                .finish = spec->finish,
                .userdata = spec->userdata,
                .free_userdata = spec->free_userdata,
        };
        pthread_mutex_init(&j->lock, NULL);
        if (!j->operation || !j->target || !j->context_id) {
                j->free_userdata = NULL; /* the caller keeps its userdata on failure */
                job_free(j);
                return -ENOMEM;
        }
        q->n_reserved++;
        *ret = j;
        return 0;
}

void job_queue_push(JobQueue *q, Job *j) {
        /* The queue holds the first reference; callers that keep the job take their own. */
        q->n_reserved--;
        q->active[q->n_active++] = j;
        pthread_mutex_lock(&q->lock);
        if (q->pending_tail)
                q->pending_tail->next = j;
        else
                q->pending_head = j;
        q->pending_tail = j;
        pthread_cond_signal(&q->wake);
        pthread_mutex_unlock(&q->lock);
}

void job_discard(Job *j) {
        if (!j)
                return;
        j->queue->n_reserved--;
        job_unref(j);
}

int job_submit(JobQueue *q, const JobSpec *spec, Job **ret) {
        Job *j;
        int r = job_new(q, spec, &j);
        if (r < 0)
                return r;
        job_queue_push(q, j);
        if (ret)
                *ret = j;
        return 0;
}

bool job_cancel(Job *j) {
        JobQueue *q = j->queue;

        if (j->state >= JOB_STATE_COMPLETED || !q)
                return false;
        atomic_store(&j->cancel_requested, true);

        /* Still waiting? Take it out of the FIFO and finish it here. */
        pthread_mutex_lock(&q->lock);
        Job **p = &q->pending_head, *prev = NULL;
        for (; *p; prev = *p, p = &(*p)->next)
                if (*p == j) {
                        *p = j->next;
                        if (q->pending_tail == j)
                                q->pending_tail = prev;
                        j->next = NULL;
                        sms_error_set(&j->work_error, SMS_ERROR_CANCELED, "canceled before it started");
                        j->work_result = -ECANCELED;
                        j->next_done = q->done;
                        q->done = j;
                        break;
                }
        pthread_mutex_unlock(&q->lock);
        queue_wake_main(q);
        return true;
}

bool job_should_continue(Job *j) {
        return !atomic_load(&j->cancel_requested);
}

/* After the job's outcome is out (committed, signalled): an idle worker removes the path. */
void job_queue_run_later(JobQueue *q, void (*run)(void *userdata), void *userdata) {
        pthread_mutex_lock(&q->lock);
        JobChore *chores = realloc(q->chores, (q->n_chores + 1) * sizeof(JobChore));
        if (chores) {
                q->chores = chores;
                q->chores[q->n_chores++] = (JobChore) { run, userdata };
                run = NULL;
                pthread_cond_signal(&q->wake);
        }
        pthread_mutex_unlock(&q->lock);
        if (run) /* out of memory: done here and now */
                run(userdata);
}

static void remove_tree_chore(void *path) {
        (void) path_remove_tree(path);
        free(path);
}

void job_queue_remove_later(JobQueue *q, char *path) {
        job_queue_run_later(q, remove_tree_chore, path);
}

void job_defer_removal(Job *j, char *path) {
        /* A job keeps one; an earlier one goes to an idle worker now, not through the caller's
         * thread, which may be the event loop. */
        if (j->leftover && j->queue)
                job_queue_remove_later(j->queue, TAKE_PTR(j->leftover));
        else if (j->leftover) {
                (void) path_remove_tree(j->leftover);
                free(j->leftover);
        }
        j->leftover = path;
}

void job_set_progress(Job *j, uint32_t progress, uint32_t max_progress, uint64_t bytes, uint64_t total_bytes,
                      const char *text) {
        uint64_t now = now_monotonic_usec();

        pthread_mutex_lock(&j->lock);
        j->progress.progress = progress;
        j->progress.max_progress = max_progress;
        j->progress.bytes = bytes;
        j->progress.total_bytes = total_bytes;
        /* Rate over the last half second or more, so that it does not jitter. */
        if (now - j->rate_mark_usec >= 500000 && bytes >= j->rate_mark_bytes) {
                j->progress.rate = (bytes - j->rate_mark_bytes) * 1000000ULL / (now - j->rate_mark_usec);
                j->rate_mark_usec = now;
                j->rate_mark_bytes = bytes;
        }
        if (text)
                snprintf(j->progress.text, sizeof j->progress.text, "%s", text);
        bool was_dirty = j->progress_dirty;
        j->progress_dirty = true;
        pthread_mutex_unlock(&j->lock);
        if (!was_dirty && j->queue)
                queue_wake_main(j->queue);
}

JobProgress job_get_progress(Job *j, bool *ret_was_dirty) {
        JobProgress p;

        pthread_mutex_lock(&j->lock);
        p = j->progress;
        if (ret_was_dirty)
                *ret_was_dirty = j->progress_dirty;
        j->progress_dirty = false;
        pthread_mutex_unlock(&j->lock);
        return p;
}

static void queue_remove_active(JobQueue *q, Job *j) {
        for (size_t i = 0; i < q->n_active; i++)
                if (q->active[i] == j) {
                        memmove(q->active + i, q->active + i + 1, (q->n_active - i - 1) * sizeof(Job *));
                        q->n_active--;
                        return;
                }
}

void job_queue_dispatch(JobQueue *q) {
        uint64_t counter;
        Job *done;

        (void) !read(q->event_fd, &counter, sizeof counter);

        /* Progress first, so that a job's last progress is reported before its end. */
        for (size_t i = 0; i < q->n_active; i++) {
                Job *j = q->active[i];
                bool dirty;

                pthread_mutex_lock(&j->lock);
                dirty = j->progress_dirty;
                pthread_mutex_unlock(&j->lock);
                if (j->state == JOB_STATE_QUEUED && atomic_load(&j->started)) {
                        j->state = JOB_STATE_RUNNING;
                        j->start_usec = now_usec();
                        dirty = true;
                }
                if (dirty && q->callbacks.changed)
                        q->callbacks.changed(j, q->callbacks.userdata);
        }

        pthread_mutex_lock(&q->lock);
        done = q->done;
        q->done = NULL;
        pthread_mutex_unlock(&q->lock);

        while (done) {
                Job *j = done;
                int r = j->work_result;

                done = j->next_done;
                j->next_done = NULL;
                sms_error_clear(&j->error);
                j->error = j->work_error;
                j->work_error = SMS_ERROR_NULL;
                if (j->finish)
                        r = j->finish(j, j->userdata, r, &j->error);
                if (j->start_usec == 0)
                        j->start_usec = now_usec();
                j->end_usec = now_usec();
                if (r >= 0)
                        j->state = JOB_STATE_COMPLETED;
                else if (j->error.code == SMS_ERROR_CANCELED || r == -ECANCELED)
                        j->state = JOB_STATE_CANCELED;
                else
                        j->state = JOB_STATE_FAILED;
                if (r < 0 && !sms_error_is_set(&j->error))
                        sms_error_set(&j->error, SMS_ERROR_FAILED, "%s", strerror(-r));
                j->error_code = r < 0 ? -r : 0;

                queue_remove_active(q, j);
                if (q->callbacks.finished)
                        q->callbacks.finished(j, q->callbacks.userdata);
                if (j->leftover)
                        job_queue_remove_later(q, TAKE_PTR(j->leftover));
                job_unref(j);
        }
}
