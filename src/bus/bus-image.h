/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-bus.h>

#include "bus/bus-job.h"
#include "bus/manager.h"

typedef struct BusMethodHandler {
        const char *name;
        sd_bus_message_handler_t handler;
} BusMethodHandler;

/* The image methods this build serves, by name; terminated by an empty entry. Instance methods
 * get the found SmsObject as userdata, static ones the class's registration. */
extern const BusMethodHandler bus_image_instance_handlers[];
extern const BusMethodHandler bus_image_static_handlers[];

/* Starts a boot image build of an existing package (after Create, UpdateImage, …): checks it is
 * not locked or busy, sets ActionInProgress, queues the Job and returns its path. */
int bus_image_start_build(Manager *m, const SmsClass *c, const char *key, const char *operation, uint32_t action,
                          const SiteCaller *caller, uint64_t *ret_job, SmsError *e);

/* Create for the image classes: reads the source WIM on a worker, creates the package with its
 * metadata, and for a boot image starts the first build; an SMS_ImagePackage with the ImageIndex
 * parameter starts the extraction of that image into a new WIM. Replies (o Instance, o Job).
 * Takes ownership of changes and params. */
int bus_image_create(Manager *m, sd_bus_message *msg, const SmsClass *c, SiteChange *changes, size_t n,
                     SiteChange *params, size_t n_params, const SiteCaller *caller, sd_bus_error *error);

/* RefreshPkgSource: a boot image is rebuilt; another package's source is read again and its
 * SourceVersion moves on. Either way, a Job; when it succeeds, the new version goes to the
 * package's distribution points. */
int bus_image_refresh_source(Manager *m, const SmsClass *c, const char *key, const SiteCaller *caller, uint64_t *ret_job,
                             SmsError *e);
/* The same job made ready, nothing written: from `package`, the package as a write not yet
 * committed will leave it (NULL: as stored). A Put with RefreshPkgSourceFlag starts it once its
 * write is committed, and frees it when the write fails. */
int bus_image_refresh_prepare(Manager *m, const SmsClass *c, const char *key, const SmsObject *package,
                              const SiteCaller *caller, SiteJobPlan **ret, SmsError *e);
/* A boot image package: its refresh is a rebuild (build-images). */
bool bus_image_is_boot_image(const SmsClass *c);
