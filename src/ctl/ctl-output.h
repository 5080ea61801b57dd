/* SPDX-License-Identifier: MIT */
#pragma once

/* Output: aligned tables for people (header and footer are the legend, --no-legend drops
 * them) and one JSON document for scripts (--json). */

#include <json-c/json.h>
#include <stddef.h>

#include "ctl/ctl.h"

typedef struct Table Table;

Table *table_new(size_t n_columns, const char *const *headers);
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free);
/* Adds the next cell, row by row; a copy is kept, with newlines and tabs shown as spaces. */
int table_add(Table *t, const char *cell);
/* Takes ownership of `cell` (NULL means out of memory). */
int table_add_take(Table *t, char *cell);
size_t table_rows(const Table *t);
/* Prints the table; `noun` names the rows in the footer ("3 instances listed."). */
int table_print(Table *t, const Ctl *c, const char *noun);
/* For rows that come in batches: prints the rows added so far and drops them, the column widths
 * taken from the first batch and kept (a longer cell later only pushes its own row out). A
 * table_print() at the end prints the rest and the footer, counting every row. */
int table_flush(Table *t, const Ctl *c);

/* Prints one JSON document on stdout and drops the reference. */
int ctl_json_print(const Ctl *c, json_object *v);
/* A JSON object that maps names to values, cleaned up on error. */
int json_add(json_object *obj, const char *key, json_object *v);
