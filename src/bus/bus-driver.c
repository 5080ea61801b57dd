/* SPDX-License-Identifier: MIT */

/* SMS_Driver.CreateFromINF: the import reads and copies files, so it runs on a worker of the
 * authorized calls (bus-defer.h) and the reply comes from there, with the catalog row written on
 * the main thread. */

#include <errno.h>
#include <stdlib.h>

#include "bus/bus-defer.h"
#include "bus/bus-driver.h"
#include "bus/bus-util.h"
#include "bus/registration.h"
#include "smsprov/macro.h"
#include "smsprov/site-drivers.h"

static int reply_create_from_inf(Manager *m, sd_bus_message *msg, void *userdata, int r, SmsError *e) {
        _cleanup_free_ char *key = NULL, *path = NULL;
        bool created;

        if (r < 0)
                return r;
        r = site_driver_import_finish(&m->site, userdata, &key, &created, e);
        if (r < 0)
                return r;
        path = instance_path(sms_model_find_class("SMS_Driver"), key);
        if (!path)
                return -ENOMEM;
        return sd_bus_reply_method_return(msg, "o", path);
}

static int method_create_from_inf(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        ClassRegistration *reg = userdata;
        Manager *m = reg->manager;
        DriverImport *import = NULL;
        SmsError e = SMS_ERROR_NULL;
        const char *driver_path, *inf_file;
        SiteCaller caller;
        int r;

        r = sd_bus_message_read(msg, "ss", &driver_path, &inf_file);
        if (r < 0)
                return r;
        r = authz_check_write(m, msg, AUTHZ_ACTION_MANAGE_PACKAGES, &caller, error);
        if (r != 0)
                return r;
        r = site_driver_import_new(&m->site, driver_path, inf_file, &caller, &import, &e);
        if (r < 0)
                return bus_reply_error_take(error, &e, r);
        return bus_defer(m, DEFER_AUTHORIZED, msg, site_driver_import_work, reply_create_from_inf, import,
                         site_driver_import_free);
}

const BusMethodHandler bus_driver_static_handlers[] = {
        { "CreateFromINF", method_create_from_inf },
        {},
};
