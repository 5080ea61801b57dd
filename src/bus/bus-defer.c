/* SPDX-License-Identifier: MIT */

/* Deferred replies: a method handler hands slow work to a worker thread and returns; the reply
 * goes out from the main thread when the work is done. Built on the job queue, without Job
 * objects: these calls are short and their caller is waiting. */

#include <errno.h>
#include <stdlib.h>

#include "bus/bus-defer.h"
#include "bus/bus-util.h"
#include "smsprov/macro.h"
#include "util/log.h"

typedef struct DeferCall {
        Manager *manager;
        sd_bus_message *msg;
        DeferWorkFn work;
        DeferReplyFn reply;
        void *userdata;
        void (*free_userdata)(void *userdata);
} DeferCall;

static void defer_call_free(void *p) {
        DeferCall *d = p;
        if (d->free_userdata)
                d->free_userdata(d->userdata);
        sd_bus_message_unref(d->msg);
        free(d);
}

static int defer_work(Job *job, void *userdata, SmsError *e) {
        DeferCall *d = userdata;
        return d->work(d->userdata, e);
}

static void defer_finished(Job *job, void *userdata) {
        DeferCall *d = job->userdata;
        int r = job->state == JOB_STATE_COMPLETED ? 0 : (job->error_code ? -job->error_code : -EIO);

        r = d->reply(d->manager, d->msg, d->userdata, r, &job->error);
        if (r < 0) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                bus_reply_error(&error, &job->error, r);
                r = sd_bus_reply_method_error(d->msg, &error);
                if (r < 0)
                        log_warning_errno(r, "Failed to send a deferred error reply: %m");
        }
}

int bus_defer(Manager *m, sd_bus_message *msg, DeferWorkFn work, DeferReplyFn reply, void *userdata,
              void (*free_userdata)(void *userdata)) {
        DeferCall *d = calloc(1, sizeof(DeferCall));
        int r;

        if (!d) {
                if (free_userdata)
                        free_userdata(userdata);
                return -ENOMEM;
        }
        *d = (DeferCall) { .manager = m, .msg = sd_bus_message_ref(msg), .work = work, .reply = reply,
                           .userdata = userdata, .free_userdata = free_userdata };
        r = job_submit(m->quick, &(JobSpec) { .operation = sd_bus_message_get_member(msg), .work = defer_work,
                                              .userdata = d, .free_userdata = defer_call_free },
                       NULL);
        if (r < 0) {
                defer_call_free(d);
                return r;
        }
        /* Returning 1 tells sd-bus that a reply will come later. */
        return 1;
}

static int on_quick_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        job_queue_dispatch(m->quick);
        return 0;
}

int bus_defer_setup(Manager *m) {
        JobQueueCallbacks callbacks = { .finished = defer_finished, .userdata = m };
        int r;

        r = job_queue_new(2, &callbacks, &m->quick);
        if (r < 0)
                return log_error_errno(r, "Failed to start the quick workers: %m");
        r = sd_event_add_io(m->event, &m->quick_source, job_queue_fd(m->quick), EPOLLIN, on_quick_ready, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the quick queue: %m");
        return 0;
}

void bus_defer_shutdown(Manager *m) {
        m->quick_source = sd_event_source_disable_unref(m->quick_source);
        m->quick = job_queue_free(m->quick);
}
