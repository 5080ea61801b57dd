/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-bus.h>

#include "bus/manager.h"

/* Calls whose answer needs slow work (file I/O on caller-given paths, reading a WIM, a query)
 * reply from a worker: the work runs on the threads of queue q (DeferQueue, manager.h), so that
 * it neither blocks the event loop nor waits behind long builds or other kinds of calls, and
 * `reply` runs on the main thread with the work's result. When reply returns a negative errno
 * (or the work failed and reply passes the error on), the call gets the named error. */
typedef int (*DeferWorkFn)(void *userdata, SmsError *e);
typedef int (*DeferReplyFn)(Manager *m, sd_bus_message *msg, void *userdata, int result, SmsError *e);

int bus_defer(Manager *m, DeferQueue q, sd_bus_message *msg, DeferWorkFn work, DeferReplyFn reply, void *userdata,
              void (*free_userdata)(void *userdata));

/* May the message's sender have one more call waiting (a deferred reply or a question to
 * polkit)? LimitsExceeded beyond --max-calls-per-caller, or --max-calls in all. Both bus_defer()
 * and authz_check_write() ask; a refused call frees what it was given and is answered with the
 * error. */
int bus_calls_admit(Manager *m, sd_bus_message *msg, SmsError *e);

int bus_defer_setup(Manager *m);
void bus_defer_shutdown(Manager *m);
