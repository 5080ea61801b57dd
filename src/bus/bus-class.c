/* SPDX-License-Identifier: MIT */

/* Class objects at /org/smsprov/Provider1/class/<Class>: the schema of each class, and Create. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus-image.h"
#include "bus/bus-job.h"
#include "bus/bus-managed.h"
#include "bus/bus-paths.h"
#include "bus/bus-util.h"
#include "bus/registration.h"
#include "smsprov/macro.h"
#include "smsprov/site-writes.h"
#include "util/log.h"

char *class_path(const SmsClass *c) {
        char *s = NULL;
        if (asprintf(&s, SMSPROV_CLASS_ROOT "/%s", c->name) < 0)
                return NULL;
        return s;
}

static int property_get_name(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        ClassRegistration *reg = userdata;
        return sd_bus_message_append(reply, "s", reg->class->name);
}

static int property_get_super_class(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        ClassRegistration *reg = userdata;
        return sd_bus_message_append(reply, "s", reg->class->parent ? reg->class->parent->name : "");
}

static int property_get_abstract(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        ClassRegistration *reg = userdata;
        return sd_bus_message_append(reply, "b", (int) reg->class->abstract);
}

static int property_get_property_schema(sd_bus *bus, const char *path, const char *interface, const char *property,
                                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        ClassRegistration *reg = userdata;
        const SmsClass *c = reg->class;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(ssas)");
        if (r < 0)
                return r;
        /* The properties, then the Create-only parameters (qualifier create_only). */
        for (size_t i = 0; i < c->n_all + c->n_create_parameters; i++) {
                const SmsProperty *p = i < c->n_all ? c->all[i] : &c->create_parameters[i - c->n_all];
                _cleanup_strv_free_ char **q = sms_property_qualifiers(p);
                if (!q)
                        return -ENOMEM;
                r = sd_bus_message_open_container(reply, 'r', "ssas");
                if (r < 0)
                        return r;
                r = sd_bus_message_append(reply, "ss", p->name, cim_type_to_string(p->type));
                if (r < 0)
                        return r;
                r = sd_bus_message_append_strv(reply, q);
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

/* Every method of the class and its ancestors that this build serves, as (name, is_static,
 * "in→out"). */
static int property_get_method_schema(sd_bus *bus, const char *path, const char *interface, const char *property,
                                      sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        ClassRegistration *reg = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(sbs)");
        if (r < 0)
                return r;
        for (const SmsClass *c = reg->class; c; c = c->parent)
                for (size_t i = 0; i < c->n_methods; i++) {
                        const SmsMethod *meth = &c->methods[i];
                        _cleanup_free_ char *sig = NULL;

                        if (!bus_method_handler(meth))
                                continue;
                        if (asprintf(&sig, "%s→%s", meth->in_signature, meth->out_signature) < 0)
                                return -ENOMEM;
                        r = sd_bus_message_append(reply, "(sbs)", meth->name, (int) meth->is_static, sig);
                        if (r < 0)
                                return r;
                }
        return sd_bus_message_close_container(reply);
}

int bus_reply_created(sd_bus_message *msg, const SmsClass *c, const char *key, uint64_t job) {
        _cleanup_free_ char *path = instance_path(c, key), *job_path = job ? bus_job_path(job) : NULL;

        if (!path || (job && !job_path))
                return -ENOMEM;
        return sd_bus_reply_method_return(msg, "oo", path, job_path ? job_path : "/");
}

/* The Create once its paths are checked (bus-paths.h). */
int bus_create_then(Manager *m, sd_bus_message *msg, const SmsClass *c, const char *unused_key, SiteChange *changes,
                    size_t n, SiteJobPlan *no_plan, const SiteCaller *caller, SmsError *e) {
        _cleanup_free_ char *key = NULL;
        uint64_t job = 0;
        int r;

        r = site_create(&m->site, c, changes, n, caller, &key, &job, e);
        if (r < 0)
                return r;
        return bus_reply_created(msg, c, key, job);
}

static int method_create(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        ClassRegistration *reg = userdata;
        Manager *m = reg->manager;
        SiteChange *changes = NULL, *params = NULL;
        size_t n = 0, n_params = 0;
        SiteCaller caller;
        SmsError e = SMS_ERROR_NULL;
        int r;

        if (reg->class->abstract || reg->class->read_only)
                return bus_set_error(error, SMS_ERROR_NOT_SUPPORTED, "%s is %s; instances cannot be created",
                                     reg->class->name, reg->class->abstract ? "abstract" : "read-only");
        r = bus_read_create(msg, reg->class, &changes, &n, &params, &n_params, &e);
        if (r < 0)
                return bus_reply_error_take(error, &e, r);
        r = authz_check_write(m, msg, AUTHZ_ACTION_MANAGE_PACKAGES, &caller, error);
        if (r != 0) {
                site_changes_free(changes, n);
                site_changes_free(params, n_params);
                return r;
        }
        /* The image classes read their WIM first, on a worker; the reply comes from there. */
        if (sms_class_find_property(reg->class, "ImageProperty") >= 0)
                return bus_image_create(m, msg, reg->class, changes, n, params, n_params, &caller, error);
        site_changes_free(params, n_params);
        return bus_paths_then(m, msg, reg->class, NULL, changes, n, NULL, &caller, bus_create_then, error);
}

static const sd_bus_vtable class_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", property_get_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("SuperClass", "s", property_get_super_class, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Abstract", "b", property_get_abstract, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("PropertySchema", "a(ssas)", property_get_property_schema, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("MethodSchema", "a(sbs)", property_get_method_schema, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_NAMES("Create", "a{sv}", SD_BUS_PARAM(Properties), "oo",
                                 SD_BUS_PARAM(Instance) SD_BUS_PARAM(Job), method_create,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* org.smsprov.Provider1.<Class>.Static: the class's own static methods that this build serves. */
static int build_static_vtable(ClassRegistration *reg) {
        const SmsClass *c = reg->class;
        size_t n = 0, k = 0;

        for (size_t i = 0; i < c->n_methods; i++)
                if (c->methods[i].is_static && bus_method_handler(&c->methods[i]))
                        n++;
        if (n == 0)
                return 0;
        reg->static_vtable = calloc(n + 2, sizeof(sd_bus_vtable));
        if (!reg->static_vtable || asprintf(&reg->static_interface, SMSPROV_INTERFACE_PREFIX "%s.Static", c->name) < 0)
                return -ENOMEM;
        reg->static_vtable[k++] = (sd_bus_vtable) SD_BUS_VTABLE_START(0);
        for (size_t i = 0; i < c->n_methods; i++) {
                const SmsMethod *meth = &c->methods[i];
                if (meth->is_static && bus_method_handler(meth))
                        reg->static_vtable[k++] = method_entry(meth->name, meth->in_signature, meth->out_signature,
                                                               meth->arg_names, bus_method_handler(meth));
        }
        reg->static_vtable[k] = (sd_bus_vtable) SD_BUS_VTABLE_END;
        return 0;
}

int bus_class_append_managed(BusManagedReply *w, sd_bus_error *error) {
        Manager *m = bus_managed_manager(w);
        int r;

        for (size_t i = 0; i < m->n_registrations; i++) {
                ClassRegistration *reg = &m->registrations[i];
                const BusManagedInterface ifaces[] = {
                        { SMSPROV_INTERFACE_PREFIX "Class", class_vtable, reg },
                        { reg->static_interface, reg->static_vtable, reg },
                };
                r = bus_managed_append(w, reg->class_path, ifaces, reg->static_vtable ? 2 : 1, error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int bus_class_register(Manager *m) {
        int r;

        for (size_t i = 0; i < m->n_registrations; i++) {
                ClassRegistration *reg = &m->registrations[i];
                r = sd_bus_add_object_vtable(m->bus, NULL, reg->class_path, SMSPROV_INTERFACE_PREFIX "Class",
                                             class_vtable, reg);
                if (r < 0)
                        return log_error_errno(r, "Failed to register %s: %m", reg->class_path);
                r = build_static_vtable(reg);
                if (r < 0)
                        return log_oom();
                if (!reg->static_vtable)
                        continue;
                r = sd_bus_add_object_vtable(m->bus, NULL, reg->class_path, reg->static_interface, reg->static_vtable,
                                             reg);
                if (r < 0)
                        return log_error_errno(r, "Failed to register %s: %m", reg->static_interface);
        }
        return 0;
}
