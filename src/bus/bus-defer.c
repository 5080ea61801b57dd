/* SPDX-License-Identifier: MIT */

/* Deferred replies: a method handler hands slow work to a worker thread and returns; the reply
 * goes out from the main thread when the work is done. Built on the engine's workers
 * (site-workers.h), without Job objects: these calls are short and their caller is waiting.
 *
 * Every deferred call holds its message until it is answered, so each counts against the
 * caller's and the daemon's limits (--max-calls, --max-calls-per-caller), together with the
 * caller's questions to polkit (authz.c). Each kind of call has workers of its own (DeferQueue),
 * so that a flood of reads anyone may make never occupies the workers an authorized caller's call
 * needs, and authorized calls waiting on a hung file system never hold up a query. On every
 * queue one connection has one call running at a time (the others wait here, holding no file), so
 * that one caller whose calls hang (a stuck file system) or whose queries are slow leaves the
 * other worker to others: an admin whose UpdateImage waits on a hung mount holds up no one else's
 * build. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus-defer.h"
#include "bus/bus-util.h"
#include "smsprov/macro.h"
#include "smsprov/site-workers.h"
#include "util/log.h"

struct DeferCall {
        Manager *manager;
        sd_bus_message *msg;
        DeferWorkFn work;
        DeferReplyFn reply;
        void *userdata;
        void (*free_userdata)(void *userdata);
        DeferQueue queue;
        bool submitted;  /* handed to the queue; a read waits here while its sender has one running */
        DeferCall *next; /* in manager->defer_calls, newest first */
};

static const char *const defer_queue_names[_DEFER_QUEUE_MAX] = {
        [DEFER_AUTHORIZED] = "authorized call",
        [DEFER_READ] = "read",
        [DEFER_QUERY] = "query",
};

#define DEFER_WORKERS 2

static void defer_call_free(void *p) {
        DeferCall *d = p;
        for (DeferCall **i = &d->manager->defer_calls; *i; i = &(*i)->next)
                if (*i == d) {
                        *i = d->next;
                        break;
                }
        if (d->free_userdata)
                d->free_userdata(d->userdata);
        sd_bus_message_unref(d->msg);
        free(d);
}

static bool same_sender(sd_bus_message *a, const char *sender) {
        const char *s = sd_bus_message_get_sender(a);
        return s && sender && streq(s, sender);
}

int bus_calls_admit(Manager *m, sd_bus_message *msg, SmsError *e) {
        const char *sender = sd_bus_message_get_sender(msg);
        unsigned total = 0, mine = 0;

        /* Both lists are bounded by max_calls, so counting by walking them stays cheap. */
        for (DeferCall *d = m->defer_calls; d; d = d->next, total++)
                mine += same_sender(d->msg, sender);
        total += authz_pending(m, sender, &mine);
        if (total >= m->max_calls)
                return sms_error_set(e, SMS_ERROR_LIMITS_EXCEEDED, "%u calls are already waiting for an answer",
                                     m->max_calls);
        if (sender && mine >= m->max_calls_per_caller)
                return sms_error_set(e, SMS_ERROR_LIMITS_EXCEEDED, "%s already has %u calls waiting for an answer",
                                     sender, m->max_calls_per_caller);
        return 0;
}

static int defer_work(void *userdata, SmsError *e) {
        DeferCall *d = userdata;
        return d->work(d->userdata, e);
}

static void defer_finished(void *userdata, int result, SmsError *e);

/* Takes d: freed after its reply, or at once when it cannot be queued. */
static int defer_submit(DeferCall *d) {
        d->submitted = true;
        return site_workers_submit(d->manager->defer_workers[d->queue], sd_bus_message_get_member(d->msg),
                                   defer_work, defer_finished, d, defer_call_free);
}

/* Calls of `sender` handed to queue q and not yet answered, other than `except`. */
static unsigned submitted(Manager *m, DeferQueue q, const char *sender, const DeferCall *except) {
        unsigned n = 0;
        for (DeferCall *d = m->defer_calls; d; d = d->next)
                n += d != except && d->queue == q && d->submitted && same_sender(d->msg, sender);
        return n;
}

/* May one more call of the sender go to queue q now? */
static bool may_run(Manager *m, DeferQueue q, const char *sender, const DeferCall *except) {
        return submitted(m, q, sender, except) == 0;
}

/* A call of the sender is done: its oldest call waiting for that queue goes to it. */
static void submit_next(Manager *m, const DeferCall *done) {
        const char *sender = sd_bus_message_get_sender(done->msg);
        DeferCall *next = NULL;

        if (!may_run(m, done->queue, sender, done))
                return;
        for (DeferCall *d = m->defer_calls; d; d = d->next)
                if (d->queue == done->queue && !d->submitted && same_sender(d->msg, sender))
                        next = d; /* the list is newest first: the last match is the oldest */
        if (next) {
                /* Answered now if it cannot be queued (defer_submit() frees it then). */
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = sd_bus_message_ref(next->msg);
                if (defer_submit(next) < 0) {
                        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                        bus_reply_error(&error, NULL, -ENOMEM);
                        (void) sd_bus_reply_method_error(msg, &error);
                }
        }
}

static void defer_finished(void *userdata, int result, SmsError *e) {
        DeferCall *d = userdata;
        int r;

        submit_next(d->manager, d);

        r = d->reply(d->manager, d->msg, d->userdata, result, e);
        if (r < 0) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                bus_reply_error(&error, e, r);
                r = sd_bus_reply_method_error(d->msg, &error);
                if (r < 0)
                        log_warning_errno(r, "Failed to send a deferred error reply: %m");
        }
}

int bus_defer(Manager *m, DeferQueue q, sd_bus_message *msg, DeferWorkFn work, DeferReplyFn reply, void *userdata,
              void (*free_userdata)(void *userdata)) {
        SmsError e = SMS_ERROR_NULL;
        DeferCall *d;
        int r;

        r = bus_calls_admit(m, msg, &e);
        if (r < 0) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                if (free_userdata)
                        free_userdata(userdata);
                bus_reply_error_take(&error, &e, r);
                r = sd_bus_reply_method_error(msg, &error);
                return r < 0 ? r : 1;
        }
        d = calloc(1, sizeof(DeferCall));
        if (!d) {
                if (free_userdata)
                        free_userdata(userdata);
                return -ENOMEM;
        }
        *d = (DeferCall) { .manager = m, .msg = sd_bus_message_ref(msg), .work = work, .reply = reply,
                           .userdata = userdata, .free_userdata = free_userdata, .queue = q,
                           .next = m->defer_calls };
        m->defer_calls = d;
        if (!may_run(m, q, sd_bus_message_get_sender(msg), d))
                return 1; /* submit_next() submits it */
        r = defer_submit(d);
        if (r < 0)
                return r;
        /* Returning 1 tells sd-bus that a reply will come later. */
        return 1;
}

int bus_defer_setup(Manager *m) {
        int r;

        for (size_t i = 0; i < _DEFER_QUEUE_MAX; i++) {
                r = site_workers_new(m->event, DEFER_WORKERS, &m->defer_workers[i]);
                if (r < 0)
                        return log_error_errno(r, "Failed to start the %s workers: %m", defer_queue_names[i]);
        }
        return 0;
}

void bus_defer_shutdown(Manager *m) {
        for (size_t i = 0; i < _DEFER_QUEUE_MAX; i++)
                m->defer_workers[i] = site_workers_free(m->defer_workers[i]);
        /* Reads that were still waiting for their turn. */
        while (m->defer_calls)
                defer_call_free(m->defer_calls);
}
