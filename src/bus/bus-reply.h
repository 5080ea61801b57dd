/* SPDX-License-Identifier: MIT */
#pragma once

/* The reply budget (API.md §6a): no message the daemon sends may exceed --max-reply-bytes, because
 * dbus-daemon disconnects a sender whose message passes its max_message_size. */

#include <stdint.h>
#include <systemd/sd-bus.h>

#include "bus/manager.h"
#include "smsprov/wql.h"

/* The call that returns results of any size, named in every LimitsExceeded of the budget. */
#define BUS_BOUNDED_CALL "org.smsprov.Provider1.Site.ExecQueryPage"

/* The size check every reply path uses: 0 when a message of size bytes fits the budget; otherwise
 * LimitsExceeded ("<what> would be N bytes … use ExecQueryPage") in error and a negative errno. */
int bus_reply_check_size(Manager *m, uint64_t size, const char *what, sd_bus_error *error);
/* (size UINT64_MAX: larger than D-Bus allows at all.) */

/* An upper bound of the bytes a sealed message takes on the wire: its body, walked value by value
 * with the D-Bus alignment rules, and its header fields. Leaves the message rewound. */
int bus_message_size(sd_bus_message *sealed, uint64_t *ret);

/* The same in two parts: the body's exact size (a body starts 8-aligned), and a bound of the
 * header of any message (sealed or not). */
int bus_message_body_size(sd_bus_message *sealed, uint64_t *ret);
uint64_t bus_message_header_bound(sd_bus_message *m);

/* A lower bound of the bytes ExecQuery's reply of these rows takes: a reply it already puts over
 * the budget is refused before it is built. */
uint64_t bus_query_rows_size_min(const WqlQuery *q, const WqlRow *rows, size_t n);

/* Sends reply (a method return to call, built but not sent) if it fits the budget; otherwise
 * returns LimitsExceeded for the handler to return. For handlers whose reply grows with the
 * site (ExecQuery): `return bus_reply_send(m, msg, reply, error);` instead of sd_bus_send(). */
int bus_reply_send(Manager *m, sd_bus_message *call, sd_bus_message *reply, sd_bus_error *error);
