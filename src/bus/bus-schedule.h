/* SPDX-License-Identifier: MIT */
#pragma once

#include "bus/bus-image.h"
#include "bus/manager.h"
#include "smsprov/schedule.h"

extern const BusMethodHandler bus_schedule_static_handlers[];

/* The first time after `now` (µs since the epoch) that a token names; 0 when never again. */
uint64_t schedule_token_next(const SmsScheduleToken *t, uint64_t now);

/* Arms (or drops) the refresh timer of one package from its stored RefreshSchedule. Call after
 * anything that may change RefreshSchedule or PkgSourceFlag, and after a delete. */
int bus_schedule_update(Manager *m, const SmsClass *c, const char *key);
/* Arms every package's timer at start. */
int bus_schedule_setup(Manager *m);
void bus_schedule_shutdown(Manager *m);
