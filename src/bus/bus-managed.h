/* SPDX-License-Identifier: MIT */
#pragma once

/* The root ObjectManager's GetManagedObjects, built here instead of by sd-bus: it reports only the
 * managed objects (API.md §1: class objects, jobs, distribution points, packages), never row
 * classes, and stops with LimitsExceeded as soon as its reply would pass the reply budget (API.md
 * §6a) instead of building it whole first. Introspection's child node lists are bounded here too. */

#include <stddef.h>
#include <systemd/sd-bus.h>

#include "bus/manager.h"

typedef struct BusManagedReply BusManagedReply;

/* One interface of a managed object: its vtable and the pointer its properties are read from
 * (the registered userdata of an object, or what a fallback's find callback returned). */
typedef struct BusManagedInterface {
        const char *interface;
        const sd_bus_vtable *vtable;
        void *object;
} BusManagedInterface;

/* Adds one object with its interfaces and their properties (those a GetAll would return) to the
 * reply; LimitsExceeded in error once the reply would pass the budget. */
int bus_managed_append(BusManagedReply *w, const char *path, const BusManagedInterface *ifaces, size_t n,
                       sd_bus_error *error);
Manager *bus_managed_manager(BusManagedReply *w);

/* Each kind of managed object adds its objects. */
int bus_class_append_managed(BusManagedReply *w, sd_bus_error *error);
int bus_job_append_managed(BusManagedReply *w, sd_bus_error *error);
int bus_instance_append_managed(BusManagedReply *w, sd_bus_error *error);

/* Takes GetManagedObjects at the root from sd-bus (a message filter runs before object dispatch). */
int bus_managed_register(Manager *m);

/* For node enumerators: when the message being dispatched is an Introspect of prefix itself, checks
 * that the child nodes (full paths) fit the reply budget; 0 otherwise. */
int bus_introspect_check_children(Manager *m, sd_bus *bus, const char *prefix, char *const *nodes,
                                  sd_bus_error *error);
