/* SPDX-License-Identifier: MIT */
#pragma once

/* The generic commands, one implementation for every class, driven by the class objects'
 * PropertySchema and MethodSchema. The task commands (ctl-tasks.c) are thin wrappers over the
 * functions below. */

#include <json-c/json.h>

#include "ctl/ctl.h"

/* create CLASS PROP=VALUE…: Create, then the job it started, if any. */
int ctl_create(Ctl *c, const char *class_name, char *const *assignments);
/* set CLASS KEY PROP=VALUE…: one Put. */
int ctl_put(Ctl *c, const char *class_name, const char *key, char *const *assignments);
/* call CLASS [KEY] METHOD ARG…: `key` NULL for a static method. */
int ctl_invoke(Ctl *c, const char *class_name, const char *key, const char *method, char *const *args);
/* list CLASS: SELECT * FROM CLASS [WHERE where]. */
int ctl_list(Ctl *c, const char *class_name, const char *where);
/* The rows of a WQL query as JSON objects: the selected properties, then __CLASS and __PATH. */
int ctl_query_rows(Ctl *c, const char *wql, json_object **ret);
/* The same, page by page (Site.ExecQueryPage): f gets each page's rows (a JSON array it owns) as
 * the page arrives, and whether more pages follow. */
typedef int (*CtlPageFunc)(json_object *rows, bool more, void *userdata);
int ctl_query_pages(Ctl *c, const char *wql, CtlPageFunc f, void *userdata);
/* One property of an instance as JSON; ret is a new reference. */
int ctl_get_json(Ctl *c, const char *class_name, const char *key, const char *property, json_object **ret);
/* The text form of one property of an instance (as `get` prints it); ret is owned by the caller. */
int ctl_get_text(Ctl *c, const char *class_name, const char *key, const char *property, char **ret);

int verb_classes(Ctl *c, int argc, char **argv);
int verb_query(Ctl *c, int argc, char **argv);
int verb_list(Ctl *c, int argc, char **argv);
int verb_show(Ctl *c, int argc, char **argv);
int verb_get(Ctl *c, int argc, char **argv);
int verb_set(Ctl *c, int argc, char **argv);
int verb_create(Ctl *c, int argc, char **argv);
int verb_delete(Ctl *c, int argc, char **argv);
int verb_call(Ctl *c, int argc, char **argv);
