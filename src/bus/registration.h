/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-bus.h>

#include "bus/manager.h"
#include "smsprov/site-jobs.h"

/* Everything the bus layer keeps per class: the D-Bus names derived from it and the interface
 * vtable built from its descriptor table. It is also the userdata of the class's slots, so that
 * a handler finds its class and the manager through sd_bus_get_current_slot(). */
struct ClassRegistration {
        Manager *manager;
        const SmsClass *class;
        char *interface;      /* org.smsprov.Provider1.<Class> */
        char *prefix;         /* /org/smsprov/Provider1/<Class>: instances below it */
        char *class_path;     /* /org/smsprov/Provider1/class/<Class> */
        sd_bus_vtable *instance_vtable;
        char *static_interface; /* org.smsprov.Provider1.<Class>.Static */
        sd_bus_vtable *static_vtable; /* NULL when the class has no static methods served */
};

ClassRegistration *manager_registration(Manager *m, const SmsClass *c);
/* The registration of the class whose vtable is dispatching msg (in a method or property handler). */
ClassRegistration *bus_current_registration(sd_bus_message *msg);

/* A method vtable entry with argument names taken from the descriptor tables. */
sd_bus_vtable method_entry(const char *member, const char *in, const char *out, const char *names,
                           sd_bus_message_handler_t handler);
/* The handler serving a descriptor's method, or NULL when this build does not serve it (then it
 * is neither on the bus nor in MethodSchema). */
sd_bus_message_handler_t bus_method_handler(const SmsMethod *method);

/* Create's reply: (o Instance, o Job), the job "/" when 0. */
int bus_reply_created(sd_bus_message *msg, const SmsClass *c, const char *key, uint64_t job);
/* The rest of a Create once its paths are looked up (a BusPathsThenFn, bus-paths.h): the
 * engine's site_create(), then the reply. */
int bus_create_then(Manager *m, sd_bus_message *msg, const SmsClass *c, const char *unused_key, SiteChange *changes,
                    size_t n, SiteJobPlan *no_plan, const SiteCaller *caller, SmsError *e);
