/* SPDX-License-Identifier: MIT */

/* The image methods: GetImageProperties, ReloadImageProperties, the boot image builds
 * (UpdateImage, UpdateDefaultImage, RefreshPkgSource, UpdateOptionalComponents), Create of the
 * image classes, ExportDefaultBootImage, and the ContextID status queues. The engine does the
 * work (site-image.h); the file system half of each call runs on a worker of the deferred calls
 * (bus-defer.h, bus-paths.h), and the reply comes from there. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus-defer.h"
#include "bus/bus-image.h"
#include "bus/bus-job.h"
#include "bus/bus-paths.h"
#include "bus/bus-util.h"
#include "bus/registration.h"
#include "smsprov/macro.h"
#include "smsprov/site-image.h"
#include "smsprov/site-writes.h"

#define OPTIONAL_COMPONENTS_MAX 256

/* --- GetImageProperties ------------------------------------------------------------------------ */

static int reply_image_property(Manager *m, sd_bus_message *msg, void *userdata, int r, SmsError *e) {
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, "s", site_image_properties_xml(userdata));
}

static int method_get_image_properties(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        ClassRegistration *reg = userdata;
        Manager *m = reg->manager;
        ImageRead *read = NULL;
        SmsError e = SMS_ERROR_NULL;
        const char *path;
        int r;

        r = sd_bus_message_read(msg, "s", &path);
        if (r < 0)
                return r;
        r = site_image_properties_new(&m->site, reg->class, path, &read, &e);
        if (r < 0)
                return bus_reply_error_take(error, &e, r);
        return bus_defer(m, DEFER_READ, msg, site_image_properties_work, reply_image_property, read,
                         site_image_properties_free);
}

/* --- ContextID status queues ------------------------------------------------------------------- */

static int method_query_injection_status(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        ClassRegistration *reg = userdata;
        SiteContextStatus st;
        SmsError e = SMS_ERROR_NULL;
        const char *context_id;
        int r;

        r = sd_bus_message_read(msg, "s", &context_id);
        if (r < 0)
                return r;
        r = site_context_status_get(&reg->manager->site, context_id, &st, &e);
        if (r < 0)
                return bus_reply_error_take(error, &e, r);
        r = sd_bus_reply_method_return(msg, "uuusis", st.status, st.progress, st.max_progress, st.progress_text,
                                       st.error_code, st.extended_error_info);
        site_context_status_done(&st);
        return r;
}

static int method_delete_context_id(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        ClassRegistration *reg = userdata;
        SmsError e = SMS_ERROR_NULL;
        SiteCaller caller;
        const char *context_id;
        int r;

        r = sd_bus_message_read(msg, "s", &context_id);
        if (r < 0)
                return r;
        r = authz_check_write(reg->manager, msg, AUTHZ_ACTION_BUILD_IMAGES, &caller, error);
        if (r != 0)
                return r;
        r = site_context_status_delete(&reg->manager->site, context_id, &e);
        if (r < 0)
                return bus_reply_error_take(error, &e, r);
        return sd_bus_reply_method_return(msg, NULL);
}

/* --- jobs of a package -------------------------------------------------------------------------- */

/* Makes ready the job a method called on a package starts; the job's path is the reply, once
 * its check has run (bus_paths_then()). */
typedef int (*PackageJobPrepare)(Site *site, const SmsClass *c, const char *key, const char *method,
                                 const SiteCaller *caller, SiteJobPlan **ret, SmsError *e);

static int package_job_then(Manager *m, sd_bus_message *msg, const SmsClass *c, const char *key, SiteChange *unused,
                            size_t n_unused, SiteJobPlan *plan, const SiteCaller *caller, SmsError *e) {
        uint64_t job = 0;
        int r = site_job_plan_start(&m->site, plan, &job, e);
        if (r < 0)
                return r;
        return bus_job_reply(msg, job);
}

static int reply_package_job(sd_bus_message *msg, void *userdata, sd_bus_error *error, const char *const *actions,
                             size_t n_actions, PackageJobPrepare prepare) {
        ClassRegistration *reg = bus_current_registration(msg);
        Manager *m = reg->manager;
        _cleanup_free_ char *key = strdup(((SmsObject *) userdata)->key);
        SmsError e = SMS_ERROR_NULL;
        SiteJobPlan *plan = NULL;
        SiteCaller caller;
        int r;

        if (!key)
                return -ENOMEM;
        r = authz_check_write_all(m, msg, actions, n_actions, &caller, error);
        if (r != 0)
                return r;
        r = prepare(&m->site, reg->class, key, sd_bus_message_get_member(msg), &caller, &plan, &e);
        if (r < 0)
                return bus_reply_error_take(error, &e, r);
        return bus_paths_then(m, msg, reg->class, key, NULL, 0, plan, &caller, package_job_then, error);
}

static int prepare_update(Site *site, const SmsClass *c, const char *key, const char *method, const SiteCaller *caller,
                          SiteJobPlan **ret, SmsError *e) {
        return site_image_build_prepare(site, c, key, NULL, method, 1, caller, ret, e);
}

/* UpdateImage and UpdateDefaultImage: a rebuild (ActionInProgress 1, UPDATE). */
static int method_build(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        static const char *const actions[] = { AUTHZ_ACTION_BUILD_IMAGES };
        return reply_package_job(msg, userdata, error, actions, ELEMENTSOF(actions), prepare_update);
}

static int prepare_refresh(Site *site, const SmsClass *c, const char *key, const char *method,
                           const SiteCaller *caller, SiteJobPlan **ret, SmsError *e) {
        return site_image_refresh_prepare(site, c, key, NULL, caller, ret, e);
}

static int method_refresh_pkg_source(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        /* It redistributes; a boot image's is a rebuild first. */
        static const char *const actions[] = { AUTHZ_ACTION_DISTRIBUTE_CONTENT, AUTHZ_ACTION_BUILD_IMAGES };
        ClassRegistration *reg = bus_current_registration(msg);
        return reply_package_job(msg, userdata, error, actions, site_is_boot_image(reg->class) ? 2 : 1,
                                 prepare_refresh);
}

/* Once the build's inputs are checked: the write, then the build. */
static int update_optional_components_then(Manager *m, sd_bus_message *msg, const SmsClass *c, const char *key,
                                           SiteChange *change, size_t n, SiteJobPlan *plan, const SiteCaller *caller,
                                           SmsError *e) {
        uint64_t job = 0;
        int r = site_put(&m->site, c, key, change, n, plan, caller, &job, e);
        if (r < 0)
                return r;
        return bus_job_reply(msg, job);
}

static int method_update_optional_components(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        ClassRegistration *reg = bus_current_registration(msg);
        Manager *m = reg->manager;
        _cleanup_free_ char *key = strdup(((SmsObject *) userdata)->key);
        _cleanup_free_ uint32_t *ids = NULL;
        _cleanup_strv_free_ char **names = NULL;
        SiteChange *change = NULL;
        SiteJobPlan *plan = NULL;
        SmsError e = SMS_ERROR_NULL;
        SiteCaller caller;
        size_t n;
        int r;

        if (!key)
                return -ENOMEM;
        r = sd_bus_message_read_strv(msg, &names);
        if (r < 0)
                return r;
        n = strv_length(names);
        if (n > OPTIONAL_COMPONENTS_MAX)
                return bus_set_error(error, SMS_ERROR_VALUE_OUT_OF_RANGE, "at most %d optional components",
                                     OPTIONAL_COMPONENTS_MAX);
        r = authz_check_write(m, msg, AUTHZ_ACTION_BUILD_IMAGES, &caller, error);
        if (r != 0)
                return r;
        ids = calloc(n ? n : 1, sizeof(uint32_t));
        if (!ids)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                char *end;
                errno = 0;
                unsigned long v = strtoul(names[i], &end, 10);
                if (errno || end == names[i] || *end || v > UINT32_MAX || names[i][0] == '-')
                        return bus_set_error(error, SMS_ERROR_INVALID_PARAMETER,
                                             "ComponentIds: '%s' is not a component ID", names[i]);
                ids[i] = (uint32_t) v;
        }
        r = site_image_components_prepare(&m->site, reg->class, key, ids, n, &caller, &change, &plan, &e);
        if (r < 0)
                return bus_reply_error_take(error, &e, r);
        return bus_paths_then(m, msg, reg->class, key, change, 1, plan, &caller, update_optional_components_then, error);
}

/* --- ReloadImageProperties ---------------------------------------------------------------------- */

static int reply_reload(Manager *m, sd_bus_message *msg, void *userdata, int r, SmsError *e) {
        if (r < 0)
                return r;
        r = site_image_reload_commit(userdata, e);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_reload_image_properties(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        ClassRegistration *reg = bus_current_registration(msg);
        Manager *m = reg->manager;
        _cleanup_free_ char *key = strdup(((SmsObject *) userdata)->key);
        SmsError e = SMS_ERROR_NULL;
        SiteImageReload *rl = NULL;
        SiteCaller caller;
        int r;

        if (!key)
                return -ENOMEM;
        r = authz_check_write(m, msg, AUTHZ_ACTION_MANAGE_PACKAGES, &caller, error);
        if (r != 0)
                return r;
        r = site_image_reload_new(&m->site, reg->class, key, &caller, &rl, &e);
        if (r < 0)
                return bus_reply_error_take(error, &e, r);
        return bus_defer(m, DEFER_AUTHORIZED, msg, site_image_reload_work, reply_reload, rl, site_image_reload_free);
}

/* --- ExportDefaultBootImage -------------------------------------------------------------------- */

/* After the folder was found and the kit's WIM opened and the index found: the export itself is a job. */
static int reply_export(Manager *m, sd_bus_message *msg, void *userdata, int r, SmsError *e) {
        uint64_t job = 0;

        if (r < 0)
                return r;
        r = site_export_start(&m->site, userdata, &job, e);
        if (r < 0)
                return r;
        return bus_job_reply(msg, job);
}

static int method_export_default_boot_image(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        ClassRegistration *reg = userdata;
        Manager *m = reg->manager;
        const char *arch, *path;
        uint32_t index;
        SmsError e = SMS_ERROR_NULL;
        SiteCaller caller;
        SiteExport *x = NULL;
        int r;

        r = sd_bus_message_read(msg, "sus", &arch, &index, &path);
        if (r < 0)
                return r;
        r = authz_check_write(m, msg, AUTHZ_ACTION_BUILD_IMAGES, &caller, error);
        if (r != 0)
                return r;
        r = site_export_new(&m->site, arch, index, path, &caller, &x, &e);
        if (r < 0)
                return bus_reply_error_take(error, &e, r);
        return bus_defer(m, DEFER_AUTHORIZED, msg, site_export_check, reply_export, x, site_export_free);
}

/* --- tables ------------------------------------------------------------------------------------ */

const BusMethodHandler bus_image_instance_handlers[] = {
        { "ReloadImageProperties", method_reload_image_properties },
        { "UpdateDefaultImage", method_build },
        { "UpdateImage", method_build },
        { "UpdateOptionalComponents", method_update_optional_components },
        { "RefreshPkgSource", method_refresh_pkg_source },
        {},
};

const BusMethodHandler bus_image_static_handlers[] = {
        { "GetImageProperties", method_get_image_properties },
        { "ExportDefaultBootImage", method_export_default_boot_image },
        { "QueryOSDBinaryInjectionStatus", method_query_injection_status },
        { "DeleteContextID", method_delete_context_id },
        {},
};

/* --- Create of the image classes ----------------------------------------------------------------- */

static int reply_image_create(Manager *m, sd_bus_message *msg, void *userdata, int r, SmsError *e) {
        _cleanup_free_ char *key = NULL;
        uint64_t job = 0;

        if (r < 0)
                return r;
        r = site_image_create_commit(userdata, &key, &job, e);
        if (r < 0)
                return r;
        return bus_reply_created(msg, site_image_create_class(userdata), key, job);
}

int bus_image_create(Manager *m, sd_bus_message *msg, const SmsClass *c, SiteChange *changes, size_t n,
                     SiteChange *params, size_t n_params, const SiteCaller *caller, sd_bus_error *error) {
        SiteImageCreate *ic = NULL;
        unsigned extract_index = 0;
        SmsError e = SMS_ERROR_NULL;
        int r;

        /* The only Create parameter so far: SMS_ImagePackage's ImageIndex. */
        for (size_t i = 0; i < n_params; i++)
                if (!params[i].value.null)
                        extract_index = (unsigned) params[i].value.u;
        site_changes_free(params, n_params);

        r = site_image_create_new(&m->site, c, changes, n, extract_index, caller, &ic, &e);
        if (r < 0) {
                site_changes_free(changes, n);
                return bus_reply_error_take(error, &e, r);
        }
        /* An OS image without a source yet: nothing to read, only its paths. */
        if (!ic)
                return bus_paths_then(m, msg, c, NULL, changes, n, NULL, caller, bus_create_then, error);
        return bus_defer(m, DEFER_AUTHORIZED, msg, site_image_create_work, reply_image_create, ic,
                         site_image_create_free);
}
