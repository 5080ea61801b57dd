/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-bus.h>

#include "bus/manager.h"
#include "smsprov/cim.h"
#include "smsprov/error.h"
#include "smsprov/site.h"

/* Turns a core error into org.smsprov.Provider1.Error.<Name> "WBEM_E_…: detail" and returns a
 * negative errno for the handler to return. A failure without an SmsError (r < 0 only, e.g.
 * -ENOMEM) becomes Failed with strerror; never a bare System.Error. */
int bus_reply_error(sd_bus_error *ret_error, const SmsError *e, int r);
/* The same, then clears e: for a handler's own SmsError on its way out. */
int bus_reply_error_take(sd_bus_error *ret_error, SmsError *e, int r);
int bus_set_error(sd_bus_error *ret_error, SmsErrorCode code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Appends a value with its type's signature; NULL values as the type's zero (API.md §3). */
int bus_append_value(sd_bus_message *m, const CimValue *v);
/* A lower bound of the bytes bus_append_value_variant() adds (no alignment padding counted). */
uint64_t bus_value_variant_size_min(const CimValue *v);
/* Appends a value wrapped in a variant. */
int bus_append_value_variant(sd_bus_message *m, const CimValue *v);

/* Reads one value of a CIM type (its D-Bus signature, not in a variant) from a message. */
int bus_read_value(sd_bus_message *m, CimType type, CimValue *ret, SmsError *e);

/* Reads an a{sv} of class properties into SiteChange entries. Unknown name → InvalidProperty,
 * a variant whose signature is not the property's → TypeMismatch, a schedule token with an
 * unknown class or property → InvalidParameter/InvalidProperty. */
int bus_read_changes(sd_bus_message *m, const SmsClass *c, SiteChange **ret, size_t *ret_n, SmsError *e);
/* The same for Create: entries naming one of c->create_parameters go to ret_params (their index
 * is into create_parameters). */
int bus_read_create(sd_bus_message *m, const SmsClass *c, SiteChange **ret, size_t *ret_n, SiteChange **ret_params,
                    size_t *ret_n_params, SmsError *e);

/* Authorization of writes (API.md §8). Returns 0 when the caller may go on; a negative errno
 * with org.freedesktop.DBus.Error.AccessDenied (or InteractiveAuthorizationRequired) set when it
 * may not; 1 when polkit was asked: the handler must return 1 at once (having changed nothing),
 * and the same message will be dispatched to it again once polkit has answered. Fills
 * ret_caller. A question to polkit counts against the caller's limits (bus_calls_admit()):
 * LimitsExceeded when the caller has too many calls waiting already. */
int authz_check_write(Manager *m, sd_bus_message *msg, const char *action, SiteCaller *ret_caller,
                      sd_bus_error *ret_error);
/* The same for a write that does the work of several actions (a Put that edits and rebuilds):
 * one CheckAuthorization per action, asked at once; refused if any is refused. */
int authz_check_write_all(Manager *m, sd_bus_message *msg, const char *const *actions, size_t n,
                          SiteCaller *ret_caller, sd_bus_error *ret_error);
void authz_shutdown(Manager *m);
/* Questions to polkit waiting for their answer or for the handler: returns how many there are
 * and adds to *mine those of `sender`. */
unsigned authz_pending(Manager *m, const char *sender, unsigned *mine);

/* Polkit action IDs (API.md §8). */
#define AUTHZ_ACTION_MANAGE_PACKAGES "org.smsprov.provider1.manage-packages"
#define AUTHZ_ACTION_DISTRIBUTE_CONTENT "org.smsprov.provider1.distribute-content"
#define AUTHZ_ACTION_BUILD_IMAGES "org.smsprov.provider1.build-images"
#define AUTHZ_ACTION_CANCEL_JOB "org.smsprov.provider1.cancel-job"

/* Object registration, one function per interface family. */
int bus_site_register(Manager *m);
int bus_class_register(Manager *m);
int bus_instance_register(Manager *m);

/* Emits PropertiesChanged for the listed property indexes of an instance, one signal per
 * interface, leaving out properties that do not announce changes. */
int bus_instance_emit_changed(Manager *m, const SmsClass *c, const char *key, const size_t *idx, size_t n);
/* InterfacesAdded (added) or InterfacesRemoved for an instance of a managed class; nothing for a
 * row class. */
int bus_instance_emit_interfaces(Manager *m, const SmsClass *c, const char *key, bool added);
/* Interfaces of an instance of c, topmost first, as a NULL-terminated list of new strings. */
char **bus_instance_interfaces(const SmsClass *c);
