/* SPDX-License-Identifier: MIT */
/* A few threads for work that is bound by SHA-256 rather than by the disk: hashing one file per
 * thread keeps every core busy while the calling thread stays the only one that talks to the
 * progress callback (the contract of content.h: it runs on the calling thread). */

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "content/content-internal.h"

#define PROGRESS_INTERVAL_NS (100 * 1000 * 1000)

typedef struct Run {
        ContentWorkers *w;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        unsigned running;
        size_t error_index; /* the lowest failing item, so that the error does not depend on timing */
        int error_r;
        SmsError error;
} Run;

static unsigned cpu_count(void) {
        cpu_set_t set;

        if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
                return (unsigned) CPU_COUNT(&set);
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? (unsigned) n : 1;
}

bool content_workers_tick(ContentWorkers *w, uint64_t bytes) {
        uint64_t done = atomic_fetch_add(&w->done, bytes) + bytes;

        if (w->inline_mode && w->progress && !atomic_load(&w->cancel)) {
                w->reported = done;
                if (!w->progress(w->progress_userdata, done, w->total, w->text))
                        atomic_store(&w->cancel, true);
        }
        return !atomic_load(&w->cancel);
}

static void run_record_error(Run *run, size_t index, int r, SmsError *e) {
        pthread_mutex_lock(&run->lock);
        if (index < run->error_index) {
                sms_error_clear(&run->error);
                run->error = *e;
                *e = SMS_ERROR_NULL;
                run->error_index = index;
                run->error_r = r;
        }
        atomic_store(&run->w->cancel, true);
        pthread_mutex_unlock(&run->lock);
        sms_error_clear(e);
}

static void *worker_main(void *arg) {
        Run *run = arg;
        ContentWorkers *w = run->w;
        _cleanup_free_ void *buffer = malloc(CONTENT_CHUNK);

        if (!buffer) {
                SmsError e = SMS_ERROR_NULL;
                (void) sms_error_set_errno(&e, ENOMEM, "content worker");
                run_record_error(run, 0, -ENOMEM, &e);
        }
        while (buffer && !atomic_load(&w->cancel)) {
                size_t i = atomic_fetch_add(&w->next, 1);
                SmsError e = SMS_ERROR_NULL;

                if (i >= w->n_items)
                        break;
                int r = w->item(w, i, buffer, &e);
                /* -ECANCELED is an item noticing the cancel flag: the reason is elsewhere. */
                if (r < 0 && r != -ECANCELED)
                        run_record_error(run, i, r, &e);
                sms_error_clear(&e);
        }

        pthread_mutex_lock(&run->lock);
        run->running--;
        pthread_cond_signal(&run->cond);
        pthread_mutex_unlock(&run->lock);
        return NULL;
}

static int run_inline(ContentWorkers *w, SmsError *e) {
        _cleanup_free_ void *buffer = malloc(CONTENT_CHUNK);

        if (!buffer)
                return sms_error_set_errno(e, ENOMEM, "content worker");
        w->inline_mode = true;
        for (size_t i = 0; i < w->n_items; i++) {
                SmsError item_error = SMS_ERROR_NULL;
                int r = w->item(w, i, buffer, &item_error);
                if (r == -ECANCELED && atomic_load(&w->cancel)) {
                        sms_error_clear(&item_error);
                        break;
                }
                if (r < 0) {
                        if (!sms_error_is_set(&item_error))
                                (void) sms_error_set_errno(&item_error, r, "content");
                        if (e && !sms_error_is_set(e))
                                *e = item_error;
                        else
                                sms_error_clear(&item_error);
                        return r;
                }
                if (atomic_load(&w->cancel))
                        break;
        }
        if (atomic_load(&w->cancel))
                return sms_error_set(e, SMS_ERROR_CANCELED, "canceled");
        return 0;
}

int content_workers_run(ContentWorkers *w, SmsError *e) {
        unsigned n_cpus = cpu_count(), n_threads, started = 0;
        pthread_t threads[CONTENT_WORKERS_MAX];
        pthread_condattr_t attr;
        Run run = { .w = w, .error_index = SIZE_MAX };
        int r = 0;

        atomic_store(&w->next, 0);
        atomic_store(&w->done, 0);
        atomic_store(&w->cancel, false);
        w->inline_mode = false;
        w->reported = 0;

        if (w->progress && !w->progress(w->progress_userdata, 0, w->total, w->text))
                return sms_error_set(e, SMS_ERROR_CANCELED, "canceled");

        /* One more than the CPUs: while a worker waits for its next read, the others still keep
         * every core hashing (an ingest of 1 GiB on a 2-CPU VM: 6% faster than with two). */
        n_threads = n_cpus > 1 ? n_cpus + 1 : 1;
        if (n_threads > CONTENT_WORKERS_MAX)
                n_threads = CONTENT_WORKERS_MAX;
        if (n_threads > w->n_items)
                n_threads = (unsigned) w->n_items;
        if (n_threads <= 1)
                r = run_inline(w, e);
        else {
                pthread_mutex_init(&run.lock, NULL);
                pthread_condattr_init(&attr);
                pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
                pthread_cond_init(&run.cond, &attr);
                pthread_condattr_destroy(&attr);

                pthread_mutex_lock(&run.lock);
                for (; started < n_threads; started++) {
                        if (pthread_create(&threads[started], NULL, worker_main, &run) != 0)
                                break;
                        run.running++;
                }
                while (run.running > 0) {
                        struct timespec deadline;
                        clock_gettime(CLOCK_MONOTONIC, &deadline);
                        deadline.tv_nsec += PROGRESS_INTERVAL_NS;
                        if (deadline.tv_nsec >= 1000000000) {
                                deadline.tv_sec++;
                                deadline.tv_nsec -= 1000000000;
                        }
                        (void) pthread_cond_timedwait(&run.cond, &run.lock, &deadline);
                        if (run.running == 0 || !w->progress || atomic_load(&w->cancel))
                                continue;
                        pthread_mutex_unlock(&run.lock);
                        if (!w->progress(w->progress_userdata, atomic_load(&w->done), w->total, w->text))
                                atomic_store(&w->cancel, true);
                        pthread_mutex_lock(&run.lock);
                }
                pthread_mutex_unlock(&run.lock);
                for (unsigned i = 0; i < started; i++)
                        pthread_join(threads[i], NULL);
                pthread_cond_destroy(&run.cond);
                pthread_mutex_destroy(&run.lock);

                if (started == 0)
                        r = run_inline(w, e); /* no thread could be made: do it here */
                else if (run.error_index != SIZE_MAX) {
                        r = run.error_r;
                        if (e && !sms_error_is_set(e)) {
                                *e = run.error;
                                run.error = SMS_ERROR_NULL;
                        }
                        if (!sms_error_is_set(e))
                                (void) sms_error_set_errno(e, r, "content");
                } else if (atomic_load(&w->cancel))
                        r = sms_error_set(e, SMS_ERROR_CANCELED, "canceled");
                sms_error_clear(&run.error);
        }
        if (r < 0)
                return r;

        /* The end is a file boundary too. */
        if (w->progress && atomic_load(&w->done) != w->reported &&
            !w->progress(w->progress_userdata, atomic_load(&w->done), w->total, w->text))
                return sms_error_set(e, SMS_ERROR_CANCELED, "canceled");
        return 0;
}
