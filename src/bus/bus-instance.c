/* SPDX-License-Identifier: MIT */

/* Instances on the bus: one interface per level of the class hierarchy, served by fallback
 * vtables with a find callback and a node enumerator (no per-object memory). The vtables are
 * built at start from the class descriptors: one generic getter serves every property. */

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus-distribution.h"
#include "bus/bus-driver.h"
#include "bus/bus-image.h"
#include "bus/bus-managed.h"
#include "bus/bus-paths.h"
#include "bus/bus-schedule.h"
#include "bus/bus-util.h"
#include "bus/registration.h"
#include "smsprov/macro.h"
#include "smsprov/site-image.h"
#include "smsprov/site-writes.h"
#include "util/log.h"

static bool key_is_alphanumeric(const char *key) {
        if (!*key)
                return false;
        for (const char *p = key; *p; p++)
                if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
                        return false;
        return true;
}

/* API.md §1: a PackageID (any alphanumeric key) is the last path element as it is; other keys
 * are sd_bus_path_encode()d. An encoded element always holds a '_', a plain one never does, so
 * the two cannot be confused. */
static int key_to_path(const char *prefix, const char *key, char **ret) {
        if (key_is_alphanumeric(key))
                return asprintf(ret, "%s/%s", prefix, key) < 0 ? -ENOMEM : 0;
        return sd_bus_path_encode(prefix, key, ret);
}

static int path_to_key(const char *path, const char *prefix, char **ret) {
        size_t n = strlen(prefix);

        if (strncmp(path, prefix, n) != 0 || path[n] != '/' || strchr(path + n + 1, '/'))
                return 0;
        if (key_is_alphanumeric(path + n + 1)) {
                *ret = strdup(path + n + 1);
                return *ret ? 1 : -ENOMEM;
        }
        return sd_bus_path_decode(path, prefix, ret);
}

char *instance_path(const SmsClass *c, const char *key) {
        _cleanup_free_ char *prefix = NULL;
        char *path = NULL;

        if (asprintf(&prefix, SMSPROV_OBJECT_ROOT "/%s", c->name) < 0)
                return NULL;
        if (key_to_path(prefix, key, &path) < 0)
                return NULL;
        return path;
}

char *interface_name(const SmsClass *c) {
        char *s = NULL;
        if (asprintf(&s, SMSPROV_INTERFACE_PREFIX "%s", c->name) < 0)
                return NULL;
        return s;
}

char **bus_instance_interfaces(const SmsClass *c) {
        char **l = calloc(c->level + 2, sizeof(char *));

        if (!l)
                return NULL;
        for (const SmsClass *k = c; k; k = k->parent)
                if (!(l[k->level] = interface_name(k))) {
                        strv_free(l);
                        return NULL;
                }
        return l;
}

void manager_cache_flush(Manager *m) {
        for (size_t i = 0; i < INSTANCE_CACHE_SIZE; i++) {
                free(m->cache[i].path);
                sms_object_free(m->cache[i].object);
                m->cache[i] = (InstanceCacheEntry) {};
        }
}

/* --- finding instances ----------------------------------------------------------------------- */

static SmsObject *cache_lookup(Manager *m, const char *path) {
        uint64_t generation = site_generation(&m->site);

        for (size_t i = 0; i < INSTANCE_CACHE_SIZE; i++)
                if (m->cache[i].object && m->cache[i].generation == generation && streq(m->cache[i].path, path))
                        return m->cache[i].object;
        return NULL;
}

static void cache_put(Manager *m, char *path, SmsObject *o) {
        InstanceCacheEntry *entry = &m->cache[m->cache_next];

        free(entry->path);
        sms_object_free(entry->object);
        *entry = (InstanceCacheEntry) { .path = path, .object = o, .generation = site_generation(&m->site) };
        m->cache_next = (m->cache_next + 1) % INSTANCE_CACHE_SIZE;
}

static int instance_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                         sd_bus_error *error) {
        ClassRegistration *reg = userdata;
        Manager *m = reg->manager;
        _cleanup_free_ char *key = NULL, *copy = NULL;
        SmsObject *o;
        SmsError e = SMS_ERROR_NULL;
        int r;

        o = cache_lookup(m, path);
        if (o) {
                *found = o;
                return 1;
        }

        r = path_to_key(path, reg->prefix, &key);
        if (r <= 0 || !*key)
                return r;
        r = site_object_load(&m->site, reg->class, key, &o, &e);
        /* A site database that does not answer is Failed with its reason, not an unknown object. */
        if (r < 0 && e.code != SMS_ERROR_NOT_FOUND)
                return bus_reply_error_take(error, &e, r);
        sms_error_clear(&e);
        if (r < 0)
                return 0;
        /* The database compares keys without case; an object has exactly one path. */
        if (!streq(o->key, key)) {
                sms_object_free(o);
                return 0;
        }
        copy = strdup(path);
        if (!copy) {
                sms_object_free(o);
                return -ENOMEM;
        }
        cache_put(m, TAKE_PTR(copy), o);
        *found = o;
        return 1;
}

static int instance_enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***ret_nodes,
                              sd_bus_error *error) {
        ClassRegistration *reg = userdata;
        _cleanup_strv_free_ char **keys = NULL;
        char **nodes;
        size_t n;
        SmsError e = SMS_ERROR_NULL;
        int r;

        /* sd-bus asks with the path being introspected: an instance has no children, so there is
         * no need to read every key of the class to find none. */
        if (!streq(prefix, reg->prefix)) {
                *ret_nodes = NULL;
                return 0;
        }
        r = site_object_enumerate(&reg->manager->site, reg->class, &keys, NULL, &n, &e);
        if (r < 0)
                return bus_reply_error_take(error, &e, r);

        nodes = calloc(n + 1, sizeof(char *));
        if (!nodes)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (key_to_path(reg->prefix, keys[i], &nodes[i]) < 0) {
                        strv_free(nodes);
                        return -ENOMEM;
                }
        r = bus_introspect_check_children(reg->manager, bus, prefix, nodes, error);
        if (r < 0) {
                strv_free(nodes);
                return r;
        }
        *ret_nodes = nodes;
        return 0;
}

/* --- properties -------------------------------------------------------------------------------- */

/* userdata is the CimValue itself: the vtable offset of each property points into
 * SmsObject.values, and sd-bus adds it to the object the find callback returned. */
static int property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_value(reply, userdata);
}

static uint64_t property_vtable_flags(const SmsClass *c, const SmsProperty *p) {
        if ((p->flags & SMS_PROP_KEY) || sms_class_root(c)->read_only)
                return SD_BUS_VTABLE_PROPERTY_CONST;
        if (sms_property_is_lazy(p))
                return SD_BUS_VTABLE_PROPERTY_EXPLICIT | SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION;
        return SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE;
}

int bus_instance_emit_changed(Manager *m, const SmsClass *c, const char *key, const size_t *idx, size_t n) {
        _cleanup_free_ char *path = instance_path(c, key);
        int r;

        if (!path)
                return -ENOMEM;
        for (const SmsClass *level = c; level; level = level->parent) {
                _cleanup_free_ char *iface = interface_name(level);
                const char **names = calloc(n + 1, sizeof(char *));
                size_t k = 0;

                if (!iface || !names) {
                        free(names);
                        return -ENOMEM;
                }
                for (size_t i = 0; i < n; i++) {
                        const SmsProperty *p = c->all[idx[i]];
                        if (sms_class_property_owner(c, idx[i]) == level &&
                            !(property_vtable_flags(c, p) & SD_BUS_VTABLE_PROPERTY_CONST))
                                names[k++] = p->name;
                }
                r = k > 0 ? sd_bus_emit_properties_changed_strv(m->bus, path, iface, (char **) names) : 0;
                free(names);
                if (r < 0)
                        return log_warning_errno(r, "Failed to emit PropertiesChanged on %s: %m", path);
        }
        return 0;
}

int bus_instance_emit_interfaces(Manager *m, const SmsClass *c, const char *key, bool added) {
        _cleanup_free_ char *path = NULL;
        _cleanup_strv_free_ char **ifaces = NULL;
        int r;

        /* Row classes are not managed objects: they come and go without InterfacesAdded/Removed
         * (API.md §1), as GetManagedObjects leaves them out. */
        if (!sms_class_is_managed(c))
                return 0;
        path = instance_path(c, key);
        ifaces = bus_instance_interfaces(c);
        if (!path || !ifaces)
                return -ENOMEM;
        r = added ? sd_bus_emit_interfaces_added_strv(m->bus, path, ifaces)
                  : sd_bus_emit_interfaces_removed_strv(m->bus, path, ifaces);
        if (r < 0)
                return log_warning_errno(r, "Failed to emit %s for %s: %m",
                                         added ? "InterfacesAdded" : "InterfacesRemoved", path);
        return 0;
}

/* --- methods ----------------------------------------------------------------------------------- */

/* The actions a Put is authorized as: editing, and the work its triggers start. */
static size_t put_actions(const SmsClass *c, SitePutTriggers t, const char **actions) {
        size_t n = 0;
        actions[n++] = AUTHZ_ACTION_MANAGE_PACKAGES;
        if (t.refresh_source)
                actions[n++] = site_is_boot_image(c) ? AUTHZ_ACTION_BUILD_IMAGES : AUTHZ_ACTION_DISTRIBUTE_CONTENT;
        if (t.refresh_dp)
                actions[n++] = AUTHZ_ACTION_DISTRIBUTE_CONTENT;
        return n;
}

/* The Put once its paths and its triggered job's files are checked (bus-paths.h). */
static int put_then(Manager *m, sd_bus_message *msg, const SmsClass *c, const char *key, SiteChange *changes,
                    size_t n, SiteJobPlan *plan, const SiteCaller *caller, SmsError *e) {
        int r = site_put(&m->site, c, key, changes, n, plan, caller, NULL, e);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_put(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        ClassRegistration *reg = bus_current_registration(msg);
        Manager *m = reg->manager;
        _cleanup_free_ char *key = strdup(((SmsObject *) userdata)->key);
        SiteChange *changes = NULL;
        size_t n = 0;
        SiteCaller caller;
        SmsError e = SMS_ERROR_NULL;
        SiteJobPlan *plan = NULL;
        int r;

        if (!key)
                return -ENOMEM;
        r = bus_read_changes(msg, reg->class, &changes, &n, &e);
        if (r < 0)
                return bus_reply_error_take(error, &e, r);
        const char *actions[3];
        r = authz_check_write_all(m, msg, actions, put_actions(reg->class, site_put_triggers(reg->class, changes, n), actions),
                                  &caller, error);
        if (r != 0) {
                site_changes_free(changes, n);
                return r;
        }
        /* The triggered job is made ready first; what it reads is looked up with the Put's paths. */
        r = site_put_prepare(&m->site, reg->class, key, changes, n, &caller, &plan, &e);
        if (r < 0) {
                site_changes_free(changes, n);
                return bus_reply_error_take(error, &e, r);
        }
        return bus_paths_then(m, msg, reg->class, key, changes, n, plan, &caller, put_then, error);
}

/* A write to one instance that replies with nothing: Delete, AddChangeNotification,
 * SetSourceSite and Unlock, each authorized as `action` and carried out by one engine function
 * (`arg` is SetSourceSite's site code). */
typedef int (*InstanceWrite)(Site *site, const SmsClass *c, const char *key, const char *arg,
                             const SiteCaller *caller, SmsError *e);

static int instance_write(sd_bus_message *msg, void *userdata, sd_bus_error *error, const char *action,
                          InstanceWrite write, const char *arg) {
        ClassRegistration *reg = bus_current_registration(msg);
        Manager *m = reg->manager;
        _cleanup_free_ char *key = strdup(((SmsObject *) userdata)->key);
        SiteCaller caller;
        SmsError e = SMS_ERROR_NULL;
        int r;

        if (!key)
                return -ENOMEM;
        r = authz_check_write(m, msg, action, &caller, error);
        if (r != 0)
                return r;
        r = write(&m->site, reg->class, key, arg, &caller, &e);
        if (r < 0)
                return bus_reply_error_take(error, &e, r);
        return sd_bus_reply_method_return(msg, NULL);
}

static int write_delete(Site *site, const SmsClass *c, const char *key, const char *unused, const SiteCaller *caller,
                        SmsError *e) {
        return site_delete(site, c, key, caller, e);
}

static int write_change_notification(Site *site, const SmsClass *c, const char *key, const char *unused,
                                     const SiteCaller *caller, SmsError *e) {
        return site_change_notification(site, c, key, caller, e);
}

static int method_delete(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return instance_write(msg, userdata, error, AUTHZ_ACTION_MANAGE_PACKAGES, write_delete, NULL);
}

static int method_add_change_notification(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return instance_write(msg, userdata, error, AUTHZ_ACTION_DISTRIBUTE_CONTENT, write_change_notification, NULL);
}

static int method_set_source_site(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *code;
        int r;

        r = sd_bus_message_read(msg, "s", &code);
        if (r < 0)
                return r;
        return instance_write(msg, userdata, error, AUTHZ_ACTION_MANAGE_PACKAGES, site_set_source_site, code);
}

static int method_unlock(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        /* SourceSite back to this site. */
        return instance_write(msg, userdata, error, AUTHZ_ACTION_MANAGE_PACKAGES, site_set_source_site, NULL);
}

/* The instance methods this build implements; a model method without a handler is not exposed
 * (and not listed in MethodSchema). */
static const struct {
        const char *name;
        sd_bus_message_handler_t handler;
} instance_handlers[] = {
        { "AddChangeNotification", method_add_change_notification },
        { "SetSourceSite", method_set_source_site },
        { "Unlock", method_unlock },
};

sd_bus_message_handler_t bus_method_handler(const SmsMethod *method) {
        static const BusMethodHandler *const instance_tables[] = { bus_image_instance_handlers,
                                                                   bus_distribution_instance_handlers };
        static const BusMethodHandler *const static_tables[] = { bus_image_static_handlers,
                                                                 bus_distribution_static_handlers,
                                                                 bus_schedule_static_handlers,
                                                                 bus_driver_static_handlers };
        const BusMethodHandler *const *tables = method->is_static ? static_tables : instance_tables;
        size_t n_tables = method->is_static ? ELEMENTSOF(static_tables) : ELEMENTSOF(instance_tables);

        if (!method->is_static)
                for (size_t i = 0; i < ELEMENTSOF(instance_handlers); i++)
                        if (streq(instance_handlers[i].name, method->name))
                                return instance_handlers[i].handler;
        for (size_t t = 0; t < n_tables; t++)
                for (const BusMethodHandler *h = tables[t]; h->name; h++)
                        if (streq(h->name, method->name))
                                return h->handler;
        return NULL;
}

/* --- vtables and registration ------------------------------------------------------------------ */

/* SD_BUS_METHOD_WITH_NAMES() wants literal names; the descriptor tables hold them at run time. */
sd_bus_vtable method_entry(const char *member, const char *in, const char *out, const char *names,
                           sd_bus_message_handler_t handler) {
        sd_bus_vtable v = SD_BUS_METHOD(member, in, out, handler, SD_BUS_VTABLE_UNPRIVILEGED);
        v.x.method.names = names;
        return v;
}

static sd_bus_vtable *build_interface_vtable(const SmsClass *c) {
        size_t first = c->n_all - c->n_properties, k = 0;
        bool root_writable = !c->parent && !c->read_only;
        sd_bus_vtable *v = calloc(c->n_properties + c->n_methods + 4, sizeof(sd_bus_vtable));

        if (!v)
                return NULL;
        v[k++] = (sd_bus_vtable) SD_BUS_VTABLE_START(0);
        for (size_t i = 0; i < c->n_properties; i++) {
                const SmsProperty *p = &c->properties[i];
                size_t offset = offsetof(SmsObject, values) + (first + i) * sizeof(CimValue);
                v[k++] = (sd_bus_vtable) SD_BUS_PROPERTY(p->name, cim_type_to_signature(p->type), property_get, offset,
                                                         property_vtable_flags(c, p));
        }
        if (root_writable) {
                v[k++] = method_entry("Put", "a{sv}", "", "Properties\0", method_put);
                v[k++] = method_entry("Delete", "", "", "", method_delete);
        }
        for (size_t i = 0; i < c->n_methods; i++) {
                const SmsMethod *meth = &c->methods[i];
                if (!meth->is_static && bus_method_handler(meth))
                        v[k++] = method_entry(meth->name, meth->in_signature, meth->out_signature, meth->arg_names,
                                              bus_method_handler(meth));
        }
        v[k++] = (sd_bus_vtable) SD_BUS_VTABLE_END;
        return v;
}

int bus_instance_append_managed(BusManagedReply *w, sd_bus_error *error) {
        Manager *m = bus_managed_manager(w);
        int r;

        for (size_t i = 0; i < m->n_registrations; i++) {
                ClassRegistration *reg = &m->registrations[i];
                _cleanup_strv_free_ char **keys = NULL;
                SmsError e = SMS_ERROR_NULL;
                size_t n = 0;

                if (reg->class->abstract || !sms_class_is_managed(reg->class))
                        continue;
                r = site_object_enumerate(&m->site, reg->class, &keys, NULL, &n, &e);
                if (r < 0)
                        return bus_reply_error_take(error, &e, r);
                for (size_t k = 0; k < n; k++) {
                        _cleanup_free_ char *path = instance_path(reg->class, keys[k]);
                        BusManagedInterface ifaces[16];
                        size_t n_ifaces = 0;
                        SmsObject *o = NULL;

                        if (!path)
                                return -ENOMEM;
                        r = site_object_load(&m->site, reg->class, keys[k], &o, &e);
                        if (r < 0) {
                                /* Gone since the enumeration (a worker's commit): not managed any more. */
                                sms_error_clear(&e);
                                continue;
                        }
                        /* Topmost class first, as sd-bus lists fallback interfaces. */
                        for (const SmsClass *level = reg->class; level; level = level->parent)
                                n_ifaces++;
                        assert(n_ifaces <= ELEMENTSOF(ifaces));
                        size_t j = n_ifaces;
                        for (const SmsClass *level = reg->class; level; level = level->parent) {
                                ClassRegistration *owner = manager_registration(m, level);
                                ifaces[--j] = (BusManagedInterface) { owner->interface, owner->instance_vtable, o };
                        }
                        r = bus_managed_append(w, path, ifaces, n_ifaces, error);
                        sms_object_free(o);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int bus_instance_register(Manager *m) {
        int r;

        /* One interface vtable per class, shared by every concrete class below it: a property
         * has the same index in every descendant's `all` list, so the offsets are the same. */
        for (size_t i = 0; i < m->n_registrations; i++) {
                ClassRegistration *reg = &m->registrations[i];
                reg->instance_vtable = build_interface_vtable(reg->class);
                if (!reg->instance_vtable)
                        return log_oom();
        }

        for (size_t i = 0; i < m->n_registrations; i++) {
                ClassRegistration *reg = &m->registrations[i];
                if (reg->class->abstract)
                        continue;
                for (const SmsClass *level = reg->class; level; level = level->parent) {
                        ClassRegistration *owner = manager_registration(m, level);
                        r = sd_bus_add_fallback_vtable(m->bus, NULL, reg->prefix, owner->interface,
                                                       owner->instance_vtable, instance_find, reg);
                        if (r < 0)
                                return log_error_errno(r, "Failed to register %s at %s: %m", owner->interface,
                                                       reg->prefix);
                }
                if (reg->class->unlisted)
                        continue;
                r = sd_bus_add_node_enumerator(m->bus, NULL, reg->prefix, instance_enumerate, reg);
                if (r < 0)
                        return log_error_errno(r, "Failed to add the node enumerator for %s: %m", reg->prefix);
        }
        return 0;
}
