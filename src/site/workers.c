/* SPDX-License-Identifier: MIT */

/* Short work a caller waits for, on the job queue's threads (site-workers.h). */

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "smsprov/job.h"
#include "smsprov/macro.h"
#include "smsprov/site-workers.h"

struct SiteWorkers {
        JobQueue *queue;
        sd_event_source *source;
        uint64_t last_id; /* each piece of work's id, so that test points tell them apart */
};

typedef struct Work {
        SiteWorkFn work;
        SiteWorkDoneFn done;
        void *userdata;
        void (*free_userdata)(void *userdata);
} Work;

static void work_free(void *p) {
        Work *w = p;
        if (w->free_userdata)
                w->free_userdata(w->userdata);
        free(w);
}

static int work_run(Job *job, void *userdata, SmsError *e) {
        Work *w = userdata;
        return w->work(w->userdata, e);
}

static void work_finished(Job *job, void *userdata) {
        Work *w = job->userdata;
        int r = job->state == JOB_STATE_COMPLETED ? 0 : (job->error_code ? -job->error_code : -EIO);
        w->done(w->userdata, r, &job->error);
}

static int on_queue_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        job_queue_dispatch(userdata);
        return 0;
}

SiteWorkers *site_workers_free(SiteWorkers *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->source);
        job_queue_free(w->queue);
        free(w);
        return NULL;
}

int site_workers_new(sd_event *event, unsigned n_threads, SiteWorkers **ret) {
        JobQueueCallbacks callbacks = { .finished = work_finished };
        SiteWorkers *w = calloc(1, sizeof(SiteWorkers));
        int r;

        if (!w)
                return -ENOMEM;
        r = job_queue_new(n_threads, &callbacks, &w->queue);
        if (r >= 0)
                r = sd_event_add_io(event, &w->source, job_queue_fd(w->queue), EPOLLIN, on_queue_ready, w->queue);
        if (r < 0) {
                site_workers_free(w);
                return r;
        }
        *ret = w;
        return 0;
}

int site_workers_submit(SiteWorkers *w, const char *name, SiteWorkFn work, SiteWorkDoneFn done, void *userdata,
                        void (*free_userdata)(void *userdata)) {
        Work *item = calloc(1, sizeof(Work));
        int r;

        if (!item) {
                if (free_userdata)
                        free_userdata(userdata);
                return -ENOMEM;
        }
        *item = (Work) { .work = work, .done = done, .userdata = userdata, .free_userdata = free_userdata };
        r = job_submit(w->queue,
                       &(JobSpec) { .id = ++w->last_id, .operation = name, .work = work_run, .userdata = item,
                                    .free_userdata = work_free },
                       NULL);
        if (r < 0)
                work_free(item);
        return r;
}

int site_workers_set_test_dir(SiteWorkers *w, int dir_fd, const char *prefix) {
        return job_queue_set_test_dir(w->queue, dir_fd, prefix);
}
