/* SPDX-License-Identifier: MIT */

/* GetManagedObjects of the root ObjectManager, and the size of introspection's node lists. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bus/bus-managed.h"
#include "bus/bus-reply.h"
#include "bus/bus-util.h"
#include "smsprov/macro.h"
#include "util/log.h"

/* The part of an Introspect reply that is not the child node list: the DOCTYPE, the standard
 * interfaces and the interfaces of the path itself. Our largest (the root, a class object) is
 * below 16 KiB; the bound leaves room. */
#define INTROSPECT_FIXED_BOUND (64U * 1024U)

struct BusManagedReply {
        Manager *manager;
        sd_bus_message *call;
        sd_bus_message *reply; /* a{oa{sa{sv}}}, open */
        uint64_t size;         /* an upper bound of the reply so far */
};

Manager *bus_managed_manager(BusManagedReply *w) {
        return w->manager;
}

/* The properties a GetAll returns, as sd-bus does it: every property but hidden and explicit
 * ones ([lazy], [large]). */
static int append_properties(sd_bus_message *reply, const char *path, const BusManagedInterface *iface,
                             sd_bus_error *error) {
        sd_bus *bus = sd_bus_message_get_bus(reply);
        int r;

        r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        for (const sd_bus_vtable *v = iface->vtable; v->type != _SD_BUS_VTABLE_END; v++) {
                if (v->type != _SD_BUS_VTABLE_PROPERTY && v->type != _SD_BUS_VTABLE_WRITABLE_PROPERTY)
                        continue;
                if (v->flags & (SD_BUS_VTABLE_HIDDEN | SD_BUS_VTABLE_PROPERTY_EXPLICIT))
                        continue;
                /* Every property of ours has a getter (no plain-memory properties). */
                assert(v->x.property.get);
                r = sd_bus_message_open_container(reply, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(reply, "s", v->x.property.member);
                if (r >= 0)
                        r = sd_bus_message_open_container(reply, 'v', v->x.property.signature);
                if (r >= 0)
                        r = v->x.property.get(bus, path, iface->interface, v->x.property.member, reply,
                                              (uint8_t *) iface->object + v->x.property.offset, error);
                if (r < 0)
                        return r;
                if (sd_bus_error_is_set(error))
                        return -sd_bus_error_get_errno(error);
                r = sd_bus_message_close_container(reply);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

int bus_managed_append(BusManagedReply *w, const char *path, const BusManagedInterface *ifaces, size_t n,
                       sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *entry = NULL;
        uint64_t size;
        int r;

        /* The object is built apart, measured, and only then joins the reply: the reply never
         * grows past the budget, however many objects the site holds. */
        /* A dict entry lives only in an array: the entry message holds an array of one. */
        r = sd_bus_message_new_method_return(w->call, &entry);
        if (r >= 0)
                r = sd_bus_message_open_container(entry, 'a', "{oa{sa{sv}}}");
        if (r >= 0)
                r = sd_bus_message_open_container(entry, 'e', "oa{sa{sv}}");
        if (r >= 0)
                r = sd_bus_message_append(entry, "o", path);
        if (r >= 0)
                r = sd_bus_message_open_container(entry, 'a', "{sa{sv}}");
        /* As sd-bus reports them: the standard interfaces every object has, then its own. */
        if (r >= 0)
                r = sd_bus_message_append(entry, "{sa{sv}}{sa{sv}}{sa{sv}}", "org.freedesktop.DBus.Peer", 0,
                                          "org.freedesktop.DBus.Introspectable", 0, "org.freedesktop.DBus.Properties",
                                          0);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                r = sd_bus_message_open_container(entry, 'e', "sa{sv}");
                if (r >= 0)
                        r = sd_bus_message_append(entry, "s", ifaces[i].interface);
                if (r >= 0)
                        r = append_properties(entry, path, &ifaces[i], error);
                if (r >= 0)
                        r = sd_bus_message_close_container(entry);
        }
        for (unsigned level = 0; r >= 0 && level < 3; level++)
                r = sd_bus_message_close_container(entry);
        if (r >= 0)
                r = sd_bus_message_seal(entry, 1, 0); /* never sent; read below */
        if (r >= 0)
                r = bus_message_body_size(entry, &size);
        if (r < 0)
                return r;
        size -= 8; /* the array's length and its padding to 8 */
        /* Entries are 8-aligned: up to 7 bytes of padding before each. */
        r = bus_reply_check_size(w->manager, w->size + 7 + size, "The reply of GetManagedObjects", error);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(entry, 'a', "{oa{sa{sv}}}");
        if (r >= 0)
                r = sd_bus_message_copy(w->reply, entry, true);
        if (r < 0)
                return r;
        w->size += 7 + size;
        return 0;
}

static int get_managed_objects(Manager *m, sd_bus_message *call, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        BusManagedReply w = { .manager = m, .call = call };
        int r;

        r = sd_bus_message_new_method_return(call, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "{oa{sa{sv}}}");
        if (r < 0)
                return r;
        w.reply = reply;
        /* The header, the array's length and the padding to its first entry. */
        w.size = bus_message_header_bound(reply) + 64 + 8;
        r = bus_class_append_managed(&w, error);
        if (r >= 0)
                r = bus_job_append_managed(&w, error);
        if (r >= 0)
                r = bus_instance_append_managed(&w, error);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int filter(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        int r;

        if (!sd_bus_message_is_method_call(msg, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects") ||
            !streq_ptr(sd_bus_message_get_path(msg), SMSPROV_OBJECT_ROOT))
                return 0;
        if (!sd_bus_message_get_expect_reply(msg))
                return 1; /* nobody to answer: nothing to build */
        r = get_managed_objects(m, msg, error);
        if (r < 0 && !sd_bus_error_is_set(error))
                return bus_reply_error(error, NULL, r);
        /* Handled either way: sd-bus sends an error as the reply. */
        return r < 0 ? r : 1;
}

int bus_managed_register(Manager *m) {
        int r = sd_bus_add_filter(m->bus, NULL, filter, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the GetManagedObjects filter: %m");
        return 0;
}

int bus_introspect_check_children(Manager *m, sd_bus *bus, const char *prefix, char *const *nodes,
                                  sd_bus_error *error) {
        sd_bus_message *msg = sd_bus_get_current_message(bus);
        uint64_t size = INTROSPECT_FIXED_BOUND;
        size_t skip = strlen(prefix) + 1;
        char what[512];

        if (!msg || !sd_bus_message_is_method_call(msg, "org.freedesktop.DBus.Introspectable", "Introspect") ||
            !streq_ptr(sd_bus_message_get_path(msg), prefix))
                return 0;
        /* sd-bus writes each child as ` <node name="CHILD"/>` and a newline. */
        for (char *const *node = nodes; node && *node; node++)
                size += strlen(" <node name=\"\"/>\n") + (strlen(*node) > skip ? strlen(*node) - skip : 0);
        snprintf(what, sizeof what, "The introspection of %s", prefix);
        return bus_reply_check_size(m, size, what, error);
}
