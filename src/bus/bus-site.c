/* SPDX-License-Identifier: MIT */

/* org.smsprov.Provider1.Site at the root: the site's identity, WQL queries and WMI paths. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus-defer.h"
#include "bus/bus-reply.h"
#include "bus/bus-job.h"
#include "smsprov/site-scrub.h"
#include "bus/bus-util.h"
#include "config.h"
#include "smsprov/macro.h"
#include "util/log.h"

static int property_get_site_code(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "s", site_code(&m->site));
}

static int property_get_site_name(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "s", site_name(&m->site));
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

static int append_row(sd_bus_message *reply, const WqlQuery *q, const WqlRow *row) {
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

/* a(oa{sv}): the rows of a query or of one page of it */
static int append_rows(sd_bus_message *reply, const WqlQuery *q, const WqlRow *rows, size_t n) {
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(oa{sv})");
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = append_row(reply, q, &rows[i]);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

/* Queries run on the query workers (DEFER_QUERY) on a read-only connection of their own
 * (site_query_run()), and the reply goes out from the main thread when the rows are read: one
 * caller's query never delays another caller's call. */
static int query_reply(Manager *m, sd_bus_message *msg, void *userdata, int result, SmsError *e) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        SiteQuery *qc = userdata;
        int r;

        if (result < 0)
                return result;
        /* The reply budget (API.md §6a): a reply its rows alone put over it is refused before it is
         * built; the rest is measured as it goes out. */
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        r = bus_reply_check_size(m, bus_query_rows_size_min(qc->q, qc->rows, qc->n),
                                 qc->paged ? "The reply of ExecQueryPage" : "The reply of ExecQuery", &error);
        if (r >= 0)
                r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = append_rows(reply, qc->q, qc->rows, qc->n);
        if (r >= 0 && qc->paged)
                r = sd_bus_message_append(reply, "s", qc->next);
        if (r >= 0)
                r = bus_reply_send(m, msg, reply, &error);
        if (r < 0 && sd_bus_error_is_set(&error))
                return sd_bus_reply_method_error(msg, &error);
        return r;
}

static int query_defer(Manager *m, sd_bus_message *msg, const char *text, const char *cursor, uint32_t max_rows) {
        SiteQuery *sq = NULL;
        int r;

        r = site_query_new(&m->site, text, cursor, max_rows, &sq);
        if (r < 0)
                return r;
        return bus_defer(m, DEFER_QUERY, msg, site_query_run, query_reply, sq, site_query_free);
}

static int method_exec_query(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *text;
        int r;

        r = sd_bus_message_read(msg, "s", &text);
        if (r < 0)
                return r;
        return query_defer(userdata, msg, text, NULL, 0);
}

static int method_exec_query_page(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *text, *cursor;
        uint32_t max_rows;
        int r;

        r = sd_bus_message_read(msg, "ssu", &text, &cursor, &max_rows);
        if (r < 0)
                return r;
        return query_defer(userdata, msg, text, cursor, max_rows);
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

static int method_scrub_library(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        uint64_t job = 0;
        SmsError e = SMS_ERROR_NULL;
        SiteCaller caller;
        int r;

        r = authz_check_write(m, msg, AUTHZ_ACTION_DISTRIBUTE_CONTENT, &caller, error);
        if (r != 0)
                return r;
        r = site_scrub_start(&m->site, &caller, &job, &e);
        if (r < 0)
                return bus_reply_error_take(error, &e, r);
        return bus_job_reply(msg, job);
}

static const sd_bus_vtable site_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("SiteCode", "s", property_get_site_code, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("SiteName", "s", property_get_site_name, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ProviderVersion", "s", property_get_provider_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Classes", "as", property_get_classes, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_NAMES("ExecQuery", "s", SD_BUS_PARAM(Query), "a(oa{sv})", SD_BUS_PARAM(Rows),
                                 method_exec_query, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("ExecQueryPage", "ssu", SD_BUS_PARAM(Query) SD_BUS_PARAM(Cursor) SD_BUS_PARAM(MaxRows),
                                 "a(oa{sv})s", SD_BUS_PARAM(Rows) SD_BUS_PARAM(NextCursor), method_exec_query_page,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("GetObject", "s", SD_BUS_PARAM(WmiPath), "o", SD_BUS_PARAM(Object),
                                 method_get_object, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("ScrubContentLibrary", "", "", "o", SD_BUS_PARAM(Job),
                                 method_scrub_library, SD_BUS_VTABLE_UNPRIVILEGED),
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
