/* SPDX-License-Identifier: MIT */

/* org.smsprov.Provider1.Site at the root: the site's identity, WQL queries and WMI paths. */

#include <errno.h>
#include <stdlib.h>

#include "bus/bus-scrub.h"
#include "bus/bus-util.h"
#include "config.h"
#include "smsprov/macro.h"
#include "util/log.h"

static int property_get_site_code(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "s", store_site_code(m->site.store));
}

static int property_get_site_name(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "s", store_site_name(m->site.store));
}

static int property_get_provider_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                         sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PROVIDER_VERSION);
}

static int property_get_classes(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        int r;

        r = sd_bus_message_open_container(reply, 'a', "s");
        if (r < 0)
                return r;
        for (const SmsClass *const *c = sms_model_classes(); *c; c++) {
                r = sd_bus_message_append(reply, "s", (*c)->name);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int append_row(sd_bus_message *reply, const WqlQuery *q, const StoreRow *row) {
        _cleanup_free_ char *path = instance_path(row->class, row->key);
        int r;

        if (!path)
                return -ENOMEM;
        r = sd_bus_message_open_container(reply, 'r', "oa{sv}");
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "o", path);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        for (size_t j = 0; j < q->n_columns; j++) {
                r = sd_bus_message_open_container(reply, 'e', "sv");
                if (r < 0)
                        return r;
                r = sd_bus_message_append(reply, "s", q->class->all[q->columns[j]]->name);
                if (r < 0)
                        return r;
                r = bus_append_value_variant(reply, &row->values[j]);
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int method_exec_query(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(wql_query_freep) WqlQuery *q = NULL;
        Manager *m = userdata;
        StoreRow *rows = NULL;
        size_t n = 0;
        const char *text;
        SmsError e = SMS_ERROR_NULL;
        int r;

        r = sd_bus_message_read(msg, "s", &text);
        if (r < 0)
                return r;
        r = site_query(&m->site, text, &q, &rows, &n, &e);
        if (r < 0) {
                return bus_reply_error_take(error, &e, r);
        }

        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(oa{sv})");
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = append_row(reply, q, &rows[i]);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        store_rows_free(rows, n, q->n_columns);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_get_object(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_free_ char *key = NULL, *path = NULL;
        const SmsClass *c;
        const char *wmi_path;
        SmsError e = SMS_ERROR_NULL;
        int r;

        r = sd_bus_message_read(msg, "s", &wmi_path);
        if (r < 0)
                return r;
        r = site_resolve_wmi_path(&m->site, wmi_path, &c, &key, &e);
        if (r < 0) {
                return bus_reply_error_take(error, &e, r);
        }
        path = instance_path(c, key);
        if (!path)
                return -ENOMEM;
        return sd_bus_reply_method_return(msg, "o", path);
}

static int method_scrub_content_library(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_free_ char *job = NULL;
        SmsError e = SMS_ERROR_NULL;
        SiteCaller caller;
        int r;

        r = authz_check_write(m, msg, AUTHZ_ACTION_DISTRIBUTE_CONTENT, &caller, error);
        if (r != 0)
                return r;
        r = bus_scrub_start(m, &caller, &job, &e);
        if (r < 0)
                return bus_reply_error_take(error, &e, r);
        return sd_bus_reply_method_return(msg, "o", job);
}

static const sd_bus_vtable site_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("SiteCode", "s", property_get_site_code, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("SiteName", "s", property_get_site_name, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ProviderVersion", "s", property_get_provider_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Classes", "as", property_get_classes, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_NAMES("ExecQuery", "s", SD_BUS_PARAM(Query), "a(oa{sv})", SD_BUS_PARAM(Rows),
                                 method_exec_query, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("GetObject", "s", SD_BUS_PARAM(WmiPath), "o", SD_BUS_PARAM(Object),
                                 method_get_object, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("ScrubContentLibrary", "", "", "o", SD_BUS_PARAM(Job),
                                 method_scrub_content_library, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_NAMES("ChangeNotification", "so", SD_BUS_PARAM(PackageID) SD_BUS_PARAM(Package), 0),
        SD_BUS_SIGNAL_WITH_NAMES("JobNew", "to", SD_BUS_PARAM(Id) SD_BUS_PARAM(Job), 0),
        SD_BUS_SIGNAL_WITH_NAMES("JobRemoved", "tos", SD_BUS_PARAM(Id) SD_BUS_PARAM(Job) SD_BUS_PARAM(Result), 0),
        SD_BUS_VTABLE_END,
};

int bus_site_register(Manager *m) {
        int r;

        r = sd_bus_add_object_vtable(m->bus, NULL, SMSPROV_OBJECT_ROOT, SMSPROV_INTERFACE_PREFIX "Site", site_vtable,
                                     m);
        if (r < 0)
                return log_error_errno(r, "Failed to register the Site object: %m");
        r = sd_bus_add_object_manager(m->bus, NULL, SMSPROV_OBJECT_ROOT);
        if (r < 0)
                return log_error_errno(r, "Failed to add the object manager: %m");
        return 0;
}
