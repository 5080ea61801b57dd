/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-bus.h>

#include "bus/manager.h"

typedef struct BusMethodHandler {
        const char *name;
        sd_bus_message_handler_t handler;
} BusMethodHandler;

/* The image methods this build serves, by name; terminated by an empty entry. Instance methods
 * get the found SmsObject as userdata, static ones the class's registration. */
extern const BusMethodHandler bus_image_instance_handlers[];
extern const BusMethodHandler bus_image_static_handlers[];

/* Create for the image classes: the engine reads the source WIM on a worker, then creates the
 * package with its metadata and starts what follows (site_image_create_new()). Replies
 * (o Instance, o Job). Takes ownership of changes and params. */
int bus_image_create(Manager *m, sd_bus_message *msg, const SmsClass *c, SiteChange *changes, size_t n,
                     SiteChange *params, size_t n_params, const SiteCaller *caller, sd_bus_error *error);
