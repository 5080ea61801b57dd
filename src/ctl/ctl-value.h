/* SPDX-License-Identifier: MIT */
#pragma once

/* Values between the command line, D-Bus and JSON, by D-Bus signature and CIM type (API.md §3):
 * text in (PROP=VALUE, method arguments), JSON out (--json) and text out (tables, show, get). */

#include <json-c/json.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "ctl/ctl.h"
#include "smsprov/cim.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

/* Appends `text` as one value of the complete D-Bus type `signature`. `cim` refines the parse
 * (DateTime takes dates as well as microseconds) and may be _CIM_TYPE_INVALID; `what` names the
 * value in errors (a property or argument name). Forms:
 *   integers decimal or 0x hex; booleans true/false/yes/no/on/off/1/0;
 *   DateTime: microseconds, "now", "@SECONDS", "YYYY-MM-DD[ HH:MM[:SS]]" local, with "Z" UTC;
 *   arrays: comma lists ("\," for a comma inside an element), "" is empty;
 *   a(us) (SMS_Driver_Details[]): ID:PATH,…; a(sa{sv}) (SMS_ScheduleToken[]): SMS interval
 *   strings, concatenated or comma separated. */
int ctl_value_append(sd_bus_message *m, const char *signature, CimType cim, const char *text, const char *what);
/* The same inside a variant (a{sv} entries). */
int ctl_value_append_variant(sd_bus_message *m, const char *signature, CimType cim, const char *text,
                             const char *what);
/* Whether ctl_value_append() can parse the type from text. */
bool ctl_value_signature_supported(const char *signature);

/* Reads the next complete value (a variant is unwrapped) into JSON: numbers, strings, booleans,
 * arrays, dicts as objects; a(us) as [{"ID","SourcePath"}], a(sa{sv}) as [{"__CLASS",…}]. */
int ctl_value_read_json(sd_bus_message *m, json_object **ret);
/* Every value left in the container being read (with `complete`, in the whole message) appended
 * to the JSON array `array`. */
int ctl_value_read_json_items(sd_bus_message *m, bool complete, json_object *array);
/* Reads an a{sv} into a JSON object, adding to `obj`. */
int ctl_value_read_dict(sd_bus_message *m, json_object *obj);

/* A value for people. DateTime in local time; arrays as comma lists; UInt8[] longer than a few
 * bytes as "(N bytes)" unless `full`. Never NULL except when out of memory. */
char *ctl_value_format(json_object *v, CimType cim, bool full);

/* "/abs/dir/" + relative, for path properties and arguments: the daemon wants absolute paths. */
char *ctl_absolute_path(const char *path);
/* s between two `quote` characters, with a quote or a backslash inside escaped by a backslash. */
char *ctl_quote(const char *s, char quote);
/* A WQL string literal: single quotes. */
char *ctl_wql_quote(const char *s);

/* Timestamps and sizes for people. */
char *ctl_format_timestamp(uint64_t usec);
char *ctl_format_bytes(uint64_t bytes);
char *ctl_format_duration(uint64_t usec);

/* SMS_ScheduleToken[] (ctl-schedule.c): interval strings → a(sa{sv}), and back for display. */
int ctl_schedule_append(sd_bus_message *m, const char *text, const char *what);
char *ctl_schedule_format(json_object *tokens);

/* A growing NULL-terminated list of strings. */
typedef struct StrList {
        char **l;
        size_t n;
} StrList;
void strlist_done(StrList *s);
/* Takes item (NULL: out of memory). Errors are printed (ctl_oom()). */
int strlist_add_take(StrList *s, char *item);
int strlist_addf(StrList *s, const char *fmt, ...) _printf_(2, 3);
