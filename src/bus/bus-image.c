/* SPDX-License-Identifier: MIT */

/* The image methods: GetImageProperties, ReloadImageProperties, the boot image builds
 * (UpdateImage, UpdateDefaultImage, RefreshPkgSource, UpdateOptionalComponents, and the build
 * that follows Create), ExportDefaultBootImage, and the ContextID status queues. Slow reads reply
 * from a worker; builds and exports are Jobs. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus/bus-defer.h"
#include "bus/bus-distribution.h"
#include "bus/bus-image.h"
#include "bus/bus-job.h"
#include "bus/bus-paths.h"
#include "bus/bus-schedule.h"
#include "bus/bus-util.h"
#include "bus/registration.h"
#include "smsprov/image-jobs.h"
#include "smsprov/macro.h"
#include "smsprov/site-distribution.h"
#include "util/log.h"
#include "util/time-util.h"

static const CimValue *value(const SmsObject *o, const char *name) {
        int i = sms_class_find_property(o->class, name);
        return i >= 0 ? &o->values[i] : NULL;
}

static const char *string_value(const SmsObject *o, const char *name) {
        const CimValue *v = value(o, name);
        return v && !v->null ? v->str : "";
}

static bool is_boot_image(const SmsClass *c) {
        return sms_class_find_property(c, "ImagePath") >= 0;
}

static char *target_name(const SmsClass *c, const char *key) {
        char *s = NULL;
        if (asprintf(&s, "%s.%s", c->name, key) < 0)
                return NULL;
        return s;
}

/* Is a job of this package queued or running? Conflicting work is refused with Busy. */
static bool package_busy(Manager *m, const SmsClass *c, const char *key) {
        _cleanup_free_ char *target = target_name(c, key);
        return target && site_job_target_active(&m->site, target);
}

/* The package's SMS_ImageInformation rows follow what was read; a failure to write them is
 * logged, not the caller's error: the package itself is consistent. */
static void update_image_information(Manager *m, const SmsClass *c, const char *key, const WimInfo *info,
                                     const char *image_path) {
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        SmsError e = SMS_ERROR_NULL;

        if (site_object_load(&m->site, c, key, &o, &e) < 0 || image_information_update(&m->site, info, image_path, o, &e) < 0)
                log_warning("Failed to record the images of %s: %s", key, e.message ? e.message : "");
        sms_error_clear(&e);
}

/* --- GetImageProperties ------------------------------------------------------------------------ */

static int reply_image_property(Manager *m, sd_bus_message *msg, void *userdata, int r, SmsError *e) {
        ImageRead *read = userdata;
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, "s", read->xml);
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
        /* An OS install package's source may be its folder; the other classes read a WIM. */
        r = image_read_new(&m->site, path, !is_boot_image(reg->class) && reg->class != sms_model_find_class("SMS_ImagePackage"),
                           0, &read, &e);
        if (r < 0)
                return bus_reply_error_take(error, &e, r);
        return bus_defer(m, DEFER_READ, msg, image_read_work, reply_image_property, read, image_read_freep_void);
}

/* --- ContextID status queues ------------------------------------------------------------------- */

static int method_query_injection_status(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        ClassRegistration *reg = userdata;
        StoreContextStatus st;
        SmsError e = SMS_ERROR_NULL;
        const char *context_id;
        int r;

        r = sd_bus_message_read(msg, "s", &context_id);
        if (r < 0)
                return r;
        r = store_context_status_get(reg->manager->site.store, context_id, &st, &e);
        if (r < 0)
                return bus_reply_error_take(error, &e, r);
        r = sd_bus_reply_method_return(msg, "uuusis", st.status, st.progress, st.max_progress, st.progress_text,
                                       st.error_code, st.extended_error_info);
        store_context_status_done(&st);
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
        r = store_context_status_delete(reg->manager->site.store, context_id, &e);
        if (r < 0)
                return bus_reply_error_take(error, &e, r);
        return sd_bus_reply_method_return(msg, NULL);
}

/* --- boot image builds ------------------------------------------------------------------------- */

typedef struct BuildDone {
        Manager *manager;
        const SmsClass *class;
        char *key;
        SiteCaller caller;
        uint32_t action, previous_action; /* ActionInProgress while queued, and before */
        BootImageBuildJob *build;
} BuildDone;

static void build_done_free(void *p) {
        BuildDone *d = p;
        boot_image_build_free(d->build);
        free(d->key);
        free(d);
}

static int build_work(Job *job, void *userdata, SmsError *e) {
        BuildDone *d = userdata;
        return boot_image_build_work(job, d->build, e);
}

static int push_uint(SiteChange *l, size_t *n, const SmsClass *c, const char *name, uint64_t v) {
        int i = sms_class_find_property(c, name);
        if (i >= 0)
                l[(*n)++] = (SiteChange) { .index = (size_t) i, .value = cim_value_uint(c->all[i]->type, v) };
        return 0;
}

/* Main thread: removes the output entry holding `path`, if it is one of the package's outputs
 * (image-outputs.h) and not the one holding `keep`. Anything else a row may name (a Put
 * PkgSourcePath into a content root) is never touched. The removal itself runs on a worker (a
 * failed build may leave gigabytes): a replaced version once the job's outcome is out (no build
 * writes its folder again: versions only move on); a version that was not committed is first
 * renamed aside, because the next build of the package writes the same folder. Its new name is
 * a ".staging-" one, which the start-up recovery removes if a stop comes first
 * (remove_build_leftovers() in site.c). */
static void build_output_release(Job *job, Manager *m, const char *key, const char *path, const char *keep,
                                 bool committed) {
        _cleanup_free_ char *entry = image_output_entry(m->site.state_dir, key, path),
                            *kept = keep ? image_output_entry(m->site.state_dir, key, keep) : NULL;
        char *aside = NULL, *slash;

        if (!entry || (kept && streq(entry, kept)))
                return;
        if (committed) {
                job_defer_removal(job, TAKE_PTR(entry));
                return;
        }
        slash = strrchr(entry, '/');
        if (!slash || asprintf(&aside, "%.*s/.%s.staging-released-%" PRIu64, (int) (slash - entry), entry, slash + 1,
                               job->id) < 0) {
                (void) path_remove_tree(entry); /* out of memory: here and now */
                return;
        }
        if (rename(entry, aside) == 0) {
                job_queue_remove_later(m->site.jobs, aside);
                return;
        }
        if (errno != ENOENT) /* nothing was written */
                (void) path_remove_tree(entry);
        free(aside);
}

/* Main thread, after the build: the package points at the new image, or is left as it was. */
static int build_finish(Job *job, void *userdata, int result, SmsError *e) {
        BuildDone *d = userdata;
        Manager *m = d->manager;
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        _cleanup_free_ size_t *changed = NULL;
        size_t n_changed = 0, n = 0;
        SiteChange values[8];
        SmsError inner = SMS_ERROR_NULL;
        int r;

        r = site_object_load(&m->site, d->class, d->key, &o, &inner);
        if (r < 0) {
                /* Deleted while it was being built: the built version goes with it. */
                build_output_release(job, m, d->key, d->build->output_path, NULL, false);
                sms_error_clear(&inner);
                return result < 0 ? result : sms_error_set(e, SMS_ERROR_NOT_FOUND, "%s was deleted", d->key);
        }
        /* What the row names now: the version this build replaces, unless it is not ours. */
        _cleanup_free_ char *previous = strdup(string_value(o, "PkgSourcePath"));
        if (!previous)
                return -ENOMEM;

        push_uint(values, &n, d->class, "ActionInProgress", 0);
        if (result >= 0) {
                int i = sms_class_find_property(d->class, "PkgSourcePath");
                values[n] = (SiteChange) { .index = (size_t) i };
                cim_value_set_string(&values[n++].value, d->build->output_path);
                i = sms_class_find_property(d->class, "ImageOSVersion");
                values[n] = (SiteChange) { .index = (size_t) i };
                cim_value_set_string(&values[n++].value, d->build->result.info.os_version);
                push_uint(values, &n, d->class, "PackageSize", (d->build->result.info.total_bytes + 1023) / 1024);
                /* The version in the file's name (image-outputs.h). */
                push_uint(values, &n, d->class, "SourceVersion", d->build->version);
                push_uint(values, &n, d->class, "SourceDate", now_usec());
        }
        r = site_object_set_derived(&m->site, d->class, d->key, values, n, &d->caller,
                                    result >= 0 ? "built the boot image" : "ended a failed build of", &changed,
                                    &n_changed, &inner);
        site_changes_free(NULL, 0);
        for (size_t i = 0; i < n; i++)
                cim_value_clear(&values[i].value);
        if (r < 0) {
                log_warning("Failed to record the build of %s: %s", d->key, inner.message ? inner.message : "");
                if (result >= 0) {
                        sms_error_set(e, inner.code, "%s", inner.message ? inner.message : "recording the build failed");
                        result = r;
                }
                sms_error_clear(&inner);
        } else {
                bus_instance_emit_changed(m, d->class, d->key, changed, n_changed);
                char point[128];
                if (snprintf(point, sizeof point, "%s.committed", job->operation) < (int) sizeof point)
                        job_queue_test_crash_point(m->site.jobs, point);
        }
        /* After the commit, the version that is not current goes: the replaced one when this
         * build is committed, this build's when it failed or was not recorded. */
        if (result >= 0)
                build_output_release(job, m, d->key, previous, d->build->output_path, true);
        else
                build_output_release(job, m, d->key, d->build->output_path, previous, false);

        if (result < 0) {
                _cleanup_free_ char *text = NULL;
                if (asprintf(&text, "The build of %s %s failed: %s", d->class->name, d->key,
                             e->message ? e->message : "error") >= 0)
                        site_report(&m->site, 39999, 0xC0000000u, &d->caller, d->class->name, d->key, text);
        } else {
                _cleanup_free_ char *path = instance_path(d->class, d->key);
                if (path)
                        sd_bus_emit_signal(m->bus, SMSPROV_OBJECT_ROOT, SMSPROV_INTERFACE_PREFIX "Site",
                                           "ChangeNotification", "so", d->key, path);
                if (d->build->result.notes && *d->build->result.notes)
                        job_set_progress(job, 100, 100, d->build->result.file_size, d->build->result.file_size,
                                         d->build->result.notes);
                /* The new version goes to every DP the boot image is on. */
                (void) site_distribution_package_updated(&m->site, d->class, d->key, false, &d->caller, NULL);
        }
        return result;
}

static int set_action_in_progress(Manager *m, const BuildDone *d, uint32_t action, const char *what, SmsError *e) {
        _cleanup_free_ size_t *changed = NULL;
        size_t n = 0, n_changed = 0;
        SiteChange change[1];
        int r;

        push_uint(change, &n, d->class, "ActionInProgress", action);
        r = site_object_set_derived(&m->site, d->class, d->key, change, n, &d->caller, what, &changed, &n_changed, e);
        if (r >= 0)
                bus_instance_emit_changed(m, d->class, d->key, changed, n_changed);
        return r;
}

/* The pending state of a queued build, and its undoing when the job could not be queued. */
static int build_begin(Site *site, void *userdata, SmsError *e) {
        BuildDone *d = userdata;
        return set_action_in_progress(d->manager, d, d->action, "started building", e);
}

static void build_abort(Site *site, void *userdata) {
        BuildDone *d = userdata;
        SmsError e = SMS_ERROR_NULL;
        if (set_action_in_progress(d->manager, d, d->previous_action, "could not start building", &e) < 0)
                log_warning("Failed to reset ActionInProgress of %s: %s", d->key, e.message ? e.message : "");
        sms_error_clear(&e);
}

static int build_check(void *userdata, SmsError *e) {
        return boot_image_build_check(((BuildDone *) userdata)->build, e);
}

/* Everything a build needs, checked and allocated, nothing written: from the package as stored,
 * or from `package`, the package as a write not yet committed will leave it. */
static int build_prepare(Manager *m, const SmsClass *c, const char *key, const SmsObject *package,
                         const char *operation, uint32_t action, const SiteCaller *caller, SiteJobPlan **ret,
                         SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *stored = NULL;
        _cleanup_free_ char *target = target_name(c, key), *path = instance_path(c, key);
        BootImageBuildJob *build = NULL;
        BuildDone *d;
        int r;

        if (!target || !path)
                return -ENOMEM;
        r = site_object_check_writable(&m->site, c, key, e);
        if (r < 0)
                return r;
        if (package_busy(m, c, key))
                return sms_error_set(e, SMS_ERROR_BUSY, "%s %s is being built already", c->name, key);
        if (!package) {
                r = site_object_load(&m->site, c, key, &stored, e);
                if (r < 0)
                        return r;
                package = stored;
        }
        r = boot_image_build_new(&m->site, package, m->osd_bin_root, m->adk_root, &build, e);
        if (r < 0)
                return r;

        d = calloc(1, sizeof(BuildDone));
        if (!d || !(d->key = strdup(key))) {
                free(d);
                boot_image_build_free(build);
                return -ENOMEM;
        }
        const CimValue *previous = value(package, "ActionInProgress");
        *d = (BuildDone) { .manager = m, .class = c, .key = d->key, .caller = site_caller_keep(caller),
                           .action = action, .previous_action = previous && !previous->null ? (uint32_t) previous->u : 0,
                           .build = build };

        JobSpec spec = {
                .operation = operation,
                .target = target,
                .context_id = string_value(package, "ContextID"),
                .uid = caller->uid,
                .owner = caller->peer,
                .cancelable = true,
                .work = build_work,
                .finish = build_finish,
                .userdata = d,
                .free_userdata = build_done_free,
        };
        r = site_job_plan_new(&spec, ret);
        if (r < 0)
                return r;
        (*ret)->check = build_check;
        (*ret)->begin = build_begin;
        (*ret)->abort = build_abort;
        (*ret)->exclusive = true;
        return 0;
}

/* Without the check: the job looks its inputs up itself. */
int bus_image_start_build(Manager *m, const SmsClass *c, const char *key, const char *operation, uint32_t action,
                          const SiteCaller *caller, uint64_t *ret_job, SmsError *e) {
        SiteJobPlan *plan = NULL;
        int r;

        r = build_prepare(m, c, key, NULL, operation, action, caller, &plan, e);
        if (r < 0)
                return r;
        return site_job_plan_start(&m->site, plan, ret_job, e);
}

/* Makes ready the job a method called on a package starts; the job's path is the reply, once
 * its check has run (bus_paths_then()). */
typedef int (*PackageJobPrepare)(Manager *m, const SmsClass *c, const char *key, const char *method,
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
        r = prepare(m, reg->class, key, sd_bus_message_get_member(msg), &caller, &plan, &e);
        if (r < 0)
                return bus_reply_error_take(error, &e, r);
        return bus_paths_then(m, msg, reg->class, key, NULL, 0, plan, &caller, package_job_then, error);
}

static int prepare_update(Manager *m, const SmsClass *c, const char *key, const char *method, const SiteCaller *caller,
                          SiteJobPlan **ret, SmsError *e) {
        return build_prepare(m, c, key, NULL, method, 1, caller, ret, e);
}

/* UpdateImage and UpdateDefaultImage: a rebuild (ActionInProgress 1, UPDATE). */
static int method_build(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        static const char *const actions[] = { AUTHZ_ACTION_BUILD_IMAGES };
        return reply_package_job(msg, userdata, error, actions, ELEMENTSOF(actions), prepare_update);
}

/* Once the build's inputs are checked: the write, then the build. */
static int update_optional_components_then(Manager *m, sd_bus_message *msg, const SmsClass *c, const char *key,
                                           SiteChange *change, size_t n, SiteJobPlan *plan, const SiteCaller *caller,
                                           SmsError *e) {
        _cleanup_free_ size_t *changed = NULL;
        uint64_t job = 0;
        size_t n_changed = 0;
        int r;

        r = site_job_plan_ready(&m->site, plan, e);
        if (r >= 0)
                r = site_object_put(&m->site, c, key, change, n, caller, &changed, &n_changed, e);
        if (r < 0) {
                site_job_plan_free(plan);
                return r;
        }
        bus_instance_emit_changed(m, c, key, changed, n_changed);
        r = site_job_plan_start(&m->site, plan, &job, e);
        if (r < 0)
                return r;
        return bus_job_reply(msg, job);
}

static int method_update_optional_components(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        ClassRegistration *reg = bus_current_registration(msg);
        Manager *m = reg->manager;
        _cleanup_free_ char *key = strdup(((SmsObject *) userdata)->key);
        _cleanup_strv_free_ char **ids = NULL;
        size_t n;
        SmsError e = SMS_ERROR_NULL;
        SiteCaller caller;
        int r;

        if (!key)
                return -ENOMEM;
        r = sd_bus_message_read_strv(msg, &ids);
        if (r < 0)
                return r;
        n = strv_length(ids);
        if (n > 256)
                return bus_set_error(error, SMS_ERROR_VALUE_OUT_OF_RANGE, "at most 256 optional components");
        r = authz_check_write(m, msg, AUTHZ_ACTION_BUILD_IMAGES, &caller, error);
        if (r != 0)
                return r;
        if (package_busy(m, reg->class, key))
                return bus_set_error(error, SMS_ERROR_BUSY, "%s %s is being built already", reg->class->name, key);

        uint32_t *list = calloc(n ? n : 1, sizeof(uint32_t));
        if (!list)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                char *end;
                errno = 0;
                unsigned long v = strtoul(ids[i], &end, 10);
                if (errno || end == ids[i] || *end || v > UINT32_MAX || ids[i][0] == '-') {
                        free(list);
                        return bus_set_error(error, SMS_ERROR_INVALID_PARAMETER,
                                             "ComponentIds: '%s' is not a component ID", ids[i]);
                }
                list[i] = (uint32_t) v;
        }
        SiteChange *change = calloc(1, sizeof(SiteChange));
        if (!change) {
                free(list);
                return -ENOMEM;
        }
        *change = (SiteChange) { .index = (size_t) sms_class_find_property(reg->class, "OptionalComponents"),
                                 .value = { .type = CIM_UINT32_ARRAY, .u32s = { list, n } } };
        /* The IDs are checked against the catalog and the image's architecture by the build
         * set-up, which is made ready from the package as the write will leave it: a build that
         * cannot start stops the write. */
        SiteJobPlan *plan = NULL;
        {
                _cleanup_(sms_object_freep) SmsObject *o = NULL;
                r = site_object_load(&m->site, reg->class, key, &o, &e);
                if (r >= 0) {
                        CimValue *oc = &o->values[change->index];
                        cim_value_clear(oc);
                        r = cim_value_copy(oc, &change->value);
                }
                if (r >= 0)
                        r = build_prepare(m, reg->class, key, o, "UpdateOptionalComponents", 1, &caller, &plan, &e);
                if (r >= 0)
                        r = site_job_plan_ready(&m->site, plan, &e);
                if (r < 0) {
                        site_job_plan_free(plan);
                        site_changes_free(change, 1);
                        return bus_reply_error_take(error, &e, r);
                }
        }
        return bus_paths_then(m, msg, reg->class, key, change, 1, plan, &caller, update_optional_components_then, error);
}

/* --- ReloadImageProperties and RefreshPkgSource of OS images ------------------------------------- */

typedef struct Reload {
        Manager *manager;
        const SmsClass *class;
        char *key;
        SiteCaller caller;
        unsigned index;
        bool refresh; /* RefreshPkgSource: the source version moves on too */
        ImageRead *read;
} Reload;

static void reload_free(void *p) {
        Reload *r = p;
        image_read_free(r->read);
        free(r->key);
        free(r);
}

static int reload_work(void *userdata, SmsError *e) {
        return image_read_work(((Reload *) userdata)->read, e);
}

static int reload_check(void *userdata, SmsError *e) {
        return image_read_check(((Reload *) userdata)->read, e);
}

/* Writes what the read found (and, for a refresh, the next SourceVersion). */
static int reload_commit(Reload *rl, SmsError *e) {
        Manager *m = rl->manager;
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        _cleanup_free_ size_t *changed = NULL;
        SiteChange *values = NULL;
        size_t n = 0, n_changed = 0;
        int r;

        r = site_object_load(&m->site, rl->class, rl->key, &o, e);
        if (r < 0)
                return r;
        r = image_read_derived(rl->read, rl->class, o, rl->index, false, &values, &n);
        if (r < 0)
                return r;
        if (rl->refresh) {
                SiteChange *grown = realloc(values, (n + 3) * sizeof(SiteChange));
                if (!grown) {
                        site_changes_free(values, n);
                        return -ENOMEM;
                }
                values = grown;
                push_uint(values, &n, rl->class, "SourceVersion", value(o, "SourceVersion")->u + 1);
                push_uint(values, &n, rl->class, "SourceDate", now_usec());
                push_uint(values, &n, rl->class, "LastRefreshTime", now_usec());
        }
        r = site_object_set_derived(&m->site, rl->class, rl->key, values, n, &rl->caller,
                                    rl->refresh ? "refreshed the source of" : "reloaded the image properties of",
                                    &changed, &n_changed, e);
        site_changes_free(values, n);
        if (r < 0)
                return r;
        update_image_information(m, rl->class, rl->key, &rl->read->info, rl->read->display_path);
        bus_instance_emit_changed(m, rl->class, rl->key, changed, n_changed);
        if (rl->refresh) {
                _cleanup_free_ char *path = instance_path(rl->class, rl->key);
                if (path)
                        sd_bus_emit_signal(m->bus, SMSPROV_OBJECT_ROOT, SMSPROV_INTERFACE_PREFIX "Site",
                                           "ChangeNotification", "so", rl->key, path);
        }
        return 0;
}

static int reply_reload(Manager *m, sd_bus_message *msg, void *userdata, int r, SmsError *e) {
        if (r < 0)
                return r;
        r = reload_commit(userdata, e);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

/* Prepares a read of the package's source: ImagePath/ImageIndex for boot images, PkgSourcePath
 * (a WIM, or for OS install packages a folder with sources/install.wim) for the others. */
static int reload_new(Manager *m, const SmsClass *c, const char *key, const SmsObject *package,
                      const SiteCaller *caller, bool refresh, Reload **ret, SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *stored = NULL;
        const SmsObject *o = package;
        Reload *rl;
        const char *source;
        int r;

        r = site_object_check_writable(&m->site, c, key, e);
        if (r < 0)
                return r;
        if (!o) {
                r = site_object_load(&m->site, c, key, &stored, e);
                if (r < 0)
                        return r;
                o = stored;
        }
        rl = calloc(1, sizeof(Reload));
        if (!rl || !(rl->key = strdup(key))) {
                free(rl);
                return -ENOMEM;
        }
        rl->manager = m;
        rl->class = c;
        rl->caller = site_caller_keep(caller);
        rl->refresh = refresh;
        if (is_boot_image(c)) {
                const CimValue *index = value(o, "ImageIndex");
                rl->index = index && !index->null && index->u ? (unsigned) index->u : 1;
                source = string_value(o, "ImagePath");
        } else
                source = string_value(o, "PkgSourcePath");
        if (!*source) {
                reload_free(rl);
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s %s has no %s to read", c->name, key,
                                     is_boot_image(c) ? "ImagePath" : "PkgSourcePath");
        }
        r = image_read_new(&m->site, source, c == sms_model_find_class("SMS_OperatingSystemInstallPackage"), rl->index,
                           &rl->read, e);
        if (r < 0) {
                reload_free(rl);
                return r;
        }
        *ret = rl;
        return 0;
}

static int method_reload_image_properties(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        ClassRegistration *reg = bus_current_registration(msg);
        Manager *m = reg->manager;
        _cleanup_free_ char *key = strdup(((SmsObject *) userdata)->key);
        SmsError e = SMS_ERROR_NULL;
        SiteCaller caller;
        Reload *rl = NULL;
        int r;

        if (!key)
                return -ENOMEM;
        r = authz_check_write(m, msg, AUTHZ_ACTION_MANAGE_PACKAGES, &caller, error);
        if (r != 0)
                return r;
        r = reload_new(m, reg->class, key, NULL, &caller, false, &rl, &e);
        if (r < 0)
                return bus_reply_error_take(error, &e, r);
        return bus_defer(m, DEFER_AUTHORIZED, msg, reload_work, reply_reload, rl, reload_free);
}

static int refresh_job_work(Job *job, void *userdata, SmsError *e) {
        job_set_progress(job, 0, 1, 0, 0, "Reading the package source");
        return reload_work(userdata, e);
}

static int refresh_job_finish(Job *job, void *userdata, int result, SmsError *e) {
        Reload *rl = userdata;
        if (result < 0)
                return result;
        result = reload_commit(rl, e);
        if (result >= 0)
                (void) site_distribution_package_updated(&rl->manager->site, rl->class, rl->key, false, &rl->caller, NULL);
        return result;
}

int bus_image_refresh_prepare(Manager *m, const SmsClass *c, const char *key, const SmsObject *package,
                              const SiteCaller *caller, SiteJobPlan **ret, SmsError *e) {
        _cleanup_free_ char *target = NULL, *path = NULL;
        Reload *rl = NULL;
        int r;

        /* A boot image's refresh is a rebuild from ImagePath (reference §4.5.7). */
        if (is_boot_image(c))
                return build_prepare(m, c, key, package, "RefreshPkgSource", 1, caller, ret, e);
        if (package_busy(m, c, key))
                return sms_error_set(e, SMS_ERROR_BUSY, "%s %s has a job running", c->name, key);
        r = reload_new(m, c, key, package, caller, true, &rl, e);
        if (r < 0)
                return r;
        target = target_name(c, key);
        path = instance_path(c, key);
        if (!target || !path) {
                reload_free(rl);
                return -ENOMEM;
        }
        JobSpec spec = { .operation = "RefreshPkgSource", .target = target, .uid = caller->uid, .owner = caller->peer,
                         .cancelable = true,
                         .work = refresh_job_work, .finish = refresh_job_finish, .userdata = rl,
                         .free_userdata = reload_free };
        r = site_job_plan_new(&spec, ret);
        if (r < 0)
                return r;
        /* A source that is gone refuses the call (and the Put that asks for it): the job would
         * only fail. */
        (*ret)->check = reload_check;
        (*ret)->exclusive = true;
        return 0;
}

int bus_image_refresh_source(Manager *m, const SmsClass *c, const char *key, const SiteCaller *caller, uint64_t *ret_job,
                             SmsError *e) {
        SiteJobPlan *plan = NULL;
        int r;

        r = bus_image_refresh_prepare(m, c, key, NULL, caller, &plan, e);
        if (r < 0)
                return r;
        return site_job_plan_start(&m->site, plan, ret_job, e);
}

bool bus_image_is_boot_image(const SmsClass *c) {
        return is_boot_image(c);
}

static int prepare_refresh(Manager *m, const SmsClass *c, const char *key, const char *method,
                           const SiteCaller *caller, SiteJobPlan **ret, SmsError *e) {
        return bus_image_refresh_prepare(m, c, key, NULL, caller, ret, e);
}

static int method_refresh_pkg_source(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        /* It redistributes; a boot image's is a rebuild first. */
        static const char *const actions[] = { AUTHZ_ACTION_DISTRIBUTE_CONTENT, AUTHZ_ACTION_BUILD_IMAGES };
        ClassRegistration *reg = bus_current_registration(msg);
        return reply_package_job(msg, userdata, error, actions, is_boot_image(reg->class) ? 2 : 1, prepare_refresh);
}

/* --- ExportDefaultBootImage -------------------------------------------------------------------- */

typedef struct Export {
        Manager *manager;
        SiteCaller caller;
        DefaultImageExportJob *job;
        ImageRead *check;
} Export;

static void export_free(void *p) {
        Export *x = p;
        default_image_export_free(x->job);
        image_read_free(x->check);
        free(x);
}

/* On the worker: the export's folder and the kit's files may be on a mount that stops answering. */
static int export_check_work(void *userdata, SmsError *e) {
        Export *x = userdata;
        int r = default_image_export_check(x->job, e);
        return r < 0 ? r : image_read_work(x->check, e);
}

static int export_work(Job *job, void *userdata, SmsError *e) {
        return default_image_export_work(job, ((Export *) userdata)->job, e);
}

static int export_finish(Job *job, void *userdata, int result, SmsError *e) {
        Export *x = userdata;
        x->manager->export_running = false;
        return result;
}

/* After the folder was found and the kit's WIM opened and the index found: the export itself is a job. */
static int reply_export(Manager *m, sd_bus_message *msg, void *userdata, int r, SmsError *e) {
        Export *x = userdata;
        uint64_t job = 0;

        if (r < 0)
                return r;
        if (m->export_running)
                return sms_error_set(e, SMS_ERROR_BUSY, "ExportDefaultBootImage is running already");
        Export *owned = calloc(1, sizeof(Export));
        if (!owned)
                return -ENOMEM;
        *owned = (Export) { .manager = m, .caller = site_caller_keep(&x->caller), .job = TAKE_PTR(x->job) };
        JobSpec spec = { .operation = "ExportDefaultBootImage", .target = "", .uid = x->caller.uid,
                         .owner = sd_bus_message_get_sender(msg),
                         .cancelable = true, .work = export_work, .finish = export_finish, .userdata = owned,
                         .free_userdata = export_free };
        r = site_job_start(&m->site, &spec, &job, e);
        if (r < 0) {
                export_free(owned);
                return r;
        }
        m->export_running = true;
        return bus_job_reply(msg, job);
}

static int method_export_default_boot_image(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        ClassRegistration *reg = userdata;
        Manager *m = reg->manager;
        const char *arch, *path;
        uint32_t index;
        SmsError e = SMS_ERROR_NULL;
        SiteCaller caller;
        Export *x;
        int r;

        r = sd_bus_message_read(msg, "sus", &arch, &index, &path);
        if (r < 0)
                return r;
        r = authz_check_write(m, msg, AUTHZ_ACTION_BUILD_IMAGES, &caller, error);
        if (r != 0)
                return r;
        /* Not thread-safe in ConfigMgr (reference §4.5.4): one export at a time. */
        if (m->export_running)
                return bus_set_error(error, SMS_ERROR_BUSY, "ExportDefaultBootImage is running already");

        x = calloc(1, sizeof(Export));
        if (!x)
                return -ENOMEM;
        x->manager = m;
        x->caller = caller;
        r = default_image_export_new(&m->site, m->adk_root, arch, index, path, &x->job, &e);
        if (r >= 0)
                r = image_read_new_trusted(x->job->source_path, index, &x->check, &e);
        if (r < 0) {
                export_free(x);
                return bus_reply_error_take(error, &e, r);
        }
        return bus_defer(m, DEFER_AUTHORIZED, msg, export_check_work, reply_export, x, export_free);
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

typedef struct ImageCreate {
        Manager *manager;
        const SmsClass *class;
        SiteChange *changes;
        size_t n_changes;
        SiteCaller caller;
        unsigned index;
        bool extract; /* SMS_ImagePackage with ImageIndex: import only that image */
        bool has_name, has_language;
        ImageRead *read;
} ImageCreate;

static void image_create_free(void *p) {
        ImageCreate *ic = p;
        site_changes_free(ic->changes, ic->n_changes);
        image_read_free(ic->read);
        free(ic);
}

/* --- extracting one image of an OS image (reference §5.2) ------------------------------------------ */

typedef struct Extract {
        Manager *manager;
        const SmsClass *class;
        char *key;
        SiteCaller caller;
        ImageRead *source; /* keeps the confined source open */
        char *output_path;
        unsigned index;
        ImagingBuildResult result;
} Extract;

static void extract_free(void *p) {
        Extract *x = p;
        image_read_free(x->source);
        free(x->key);
        free(x->output_path);
        imaging_build_result_done(&x->result);
        free(x);
}

static int extract_work(Job *job, void *userdata, SmsError *e) {
        Extract *x = userdata;
        int r;

        r = image_output_dir_prepare(x->output_path, e);
        if (r < 0)
                return r;
        ImagingBuild build = { .source_path = x->source->path, .image_index = x->index, .output_path = x->output_path,
                               .progress = image_job_progress, .userdata = job };
        job_set_progress(job, 0, 100, 0, 0, "Extracting the image");
        return imaging_build(&build, &x->result, e);
}

static int extract_finish(Job *job, void *userdata, int result, SmsError *e) {
        Extract *x = userdata;
        Manager *m = x->manager;
        _cleanup_free_ size_t *changed = NULL;
        _cleanup_free_ char *xml = NULL;
        size_t n = 0, n_changed = 0;
        SiteChange values[6];
        SmsError inner = SMS_ERROR_NULL;
        int r;

        push_uint(values, &n, x->class, "ActionInProgress", 0);
        if (result >= 0) {
                WimInfo one = { .images = &x->result.info, .n_images = 1 };
                r = imaging_image_property_xml(&one, 0, &xml, e);
                if (r < 0)
                        result = r;
        }
        if (result >= 0) {
                int i = sms_class_find_property(x->class, "PkgSourcePath");
                values[n] = (SiteChange) { .index = (size_t) i };
                cim_value_set_string(&values[n++].value, x->output_path);
                i = sms_class_find_property(x->class, "ImageProperty");
                values[n] = (SiteChange) { .index = (size_t) i };
                cim_value_set_string(&values[n++].value, xml);
                push_uint(values, &n, x->class, "PackageSize", (x->result.info.total_bytes + 1023) / 1024);
                push_uint(values, &n, x->class, "SourceDate", now_usec());
        }
        r = site_object_set_derived(&m->site, x->class, x->key, values, n, &x->caller,
                                    result >= 0 ? "extracted the image of" : "ended a failed extraction of", &changed,
                                    &n_changed, &inner);
        for (size_t i = 0; i < n; i++)
                cim_value_clear(&values[i].value);
        if (r >= 0) {
                bus_instance_emit_changed(m, x->class, x->key, changed, n_changed);
                if (result >= 0) {
                        WimInfo one = { .images = &x->result.info, .n_images = 1 };
                        update_image_information(m, x->class, x->key, &one, x->output_path);
                }
        } else if (result >= 0) {
                unlink(x->output_path);
                result = sms_error_set(e, inner.code, "%s", inner.message ? inner.message : "recording failed");
        }
        sms_error_clear(&inner);
        return result;
}

static int start_extract(Manager *m, ImageCreate *ic, const char *key, uint64_t *ret_job, SmsError *e) {
        _cleanup_free_ char *target = target_name(ic->class, key);
        Extract *x;
        int r;

        if (!target)
                return -ENOMEM;
        x = calloc(1, sizeof(Extract));
        if (!x)
                return -ENOMEM;
        *x = (Extract) { .manager = m, .class = ic->class, .key = strdup(key), .caller = site_caller_keep(&ic->caller),
                         .source = TAKE_PTR(ic->read), .index = ic->index };
        r = x->key ? image_output_path(m->site.state_dir, key, x->source->display_path, 0, &x->output_path) : -ENOMEM;
        if (r < 0) {
                extract_free(x);
                return r;
        }
        JobSpec spec = { .operation = "Create", .target = target, .uid = ic->caller.uid, .owner = ic->caller.peer,
                         .cancelable = true,
                         .work = extract_work, .finish = extract_finish, .userdata = x, .free_userdata = extract_free };
        r = site_job_start(&m->site, &spec, ret_job, e);
        if (r < 0)
                extract_free(x);
        return r;
}

/* The paths the caller gave, then the WIM: on the worker, neither ever on the event loop. */
static int image_create_work(void *userdata, SmsError *e) {
        ImageCreate *ic = userdata;
        int r = site_changes_check_paths(&ic->manager->site, ic->class, ic->changes, ic->n_changes, e);
        return r < 0 ? r : image_read_work(ic->read, e);
}

/* An OS image without a source yet: nothing to read, only its paths (bus-paths.h). */
static int image_create_empty_then(Manager *m, sd_bus_message *msg, const SmsClass *c, const char *unused_key,
                                   SiteChange *changes, size_t n, SiteJobPlan *no_plan, const SiteCaller *caller,
                                   SmsError *e) {
        _cleanup_free_ char *key = NULL, *path = NULL;
        _cleanup_strv_free_ char **ifaces = bus_instance_interfaces(c);
        int r;

        r = site_object_create(&m->site, c, changes, n, NULL, 0, caller, &key, e);
        if (r < 0)
                return r;
        path = instance_path(c, key);
        if (!path || !ifaces)
                return -ENOMEM;
        sd_bus_emit_interfaces_added_strv(m->bus, path, ifaces);
        return sd_bus_reply_method_return(msg, "oo", path, "/");
}

static const SiteChange *find_change(const SmsClass *c, const SiteChange *changes, size_t n, const char *name) {
        int i = sms_class_find_property(c, name);
        for (size_t k = 0; i >= 0 && k < n; k++)
                if (changes[k].index == (size_t) i)
                        return &changes[k];
        return NULL;
}

static int reply_image_create(Manager *m, sd_bus_message *msg, void *userdata, int r, SmsError *e) {
        ImageCreate *ic = userdata;
        const SmsClass *c = ic->class;
        _cleanup_free_ char *key = NULL, *path = NULL, *job_path = NULL;
        _cleanup_strv_free_ char **ifaces = NULL;
        uint64_t job = 0;
        SiteChange *derived = NULL;
        size_t n_derived = 0;

        if (r < 0)
                return r;
        r = image_read_derived(ic->read, c, NULL, ic->index, false, &derived, &n_derived);
        if (r < 0)
                return r;
        /* The image's name and language when the caller gave none (Add Operating System Image). */
        const ImageInfo *img = &ic->read->info.images[(ic->index ? ic->index : 1) - 1];
        SiteChange *grown = realloc(derived, (n_derived + 4) * sizeof(SiteChange));
        if (!grown) {
                site_changes_free(derived, n_derived);
                return -ENOMEM;
        }
        derived = grown;
        if (!ic->has_name && *img->name) {
                derived[n_derived] = (SiteChange) { .index = (size_t) sms_class_find_property(c, "Name") };
                cim_value_set_string(&derived[n_derived++].value, img->name);
        }
        if (!ic->has_language && *img->language) {
                derived[n_derived] = (SiteChange) { .index = (size_t) sms_class_find_property(c, "Language") };
                cim_value_set_string(&derived[n_derived++].value, img->language);
        }
        /* A boot image is not there until its first build, an extracted image until the
         * extraction: "adding". */
        if (is_boot_image(c))
                push_uint(derived, &n_derived, c, "SourceVersion", 0);
        if (is_boot_image(c) || ic->extract)
                push_uint(derived, &n_derived, c, "ActionInProgress", 2);

        r = site_object_create(&m->site, c, ic->changes, ic->n_changes, derived, n_derived, &ic->caller, &key, e);
        site_changes_free(derived, n_derived);
        if (r < 0)
                return r;
        if (!ic->extract)
                update_image_information(m, c, key, &ic->read->info, ic->read->display_path);
        bus_schedule_update(m, c, key);
        path = instance_path(c, key);
        ifaces = bus_instance_interfaces(c);
        if (!path || !ifaces)
                return -ENOMEM;
        sd_bus_emit_interfaces_added_strv(m->bus, path, ifaces);

        if (is_boot_image(c) || ic->extract) {
                r = is_boot_image(c) ? bus_image_start_build(m, c, key, "Create", 2, &ic->caller, &job, e)
                                     : start_extract(m, ic, key, &job, e);
                if (r < 0) {
                        /* Without its build the package would be a husk: take it back. */
                        SmsError ignore = SMS_ERROR_NULL;
                        if (site_object_delete(&m->site, c, key, &ic->caller, &ignore) >= 0)
                                sd_bus_emit_interfaces_removed_strv(m->bus, path, ifaces);
                        sms_error_clear(&ignore);
                        return r;
                }
        }
        if (job && !(job_path = bus_job_path(job)))
                return -ENOMEM;
        return sd_bus_reply_method_return(msg, "oo", path, job_path ? job_path : "/");
}

int bus_image_create(Manager *m, sd_bus_message *msg, const SmsClass *c, SiteChange *changes, size_t n,
                     SiteChange *params, size_t n_params, const SiteCaller *caller, sd_bus_error *error) {
        ImageCreate *ic;
        const SiteChange *source, *index;
        unsigned extract_index = 0;
        SmsError e = SMS_ERROR_NULL;
        int r;

        /* The only Create parameter so far: SMS_ImagePackage's ImageIndex. */
        for (size_t i = 0; i < n_params; i++)
                if (!params[i].value.null)
                        extract_index = (unsigned) params[i].value.u;
        site_changes_free(params, n_params);

        r = site_object_check_create(&m->site, c, changes, n, &e);
        if (r < 0) {
                site_changes_free(changes, n);
                return bus_reply_error_take(error, &e, r);
        }
        source = find_change(c, changes, n, is_boot_image(c) ? "ImagePath" : "PkgSourcePath");
        if (!source || source->value.null || !*source->value.str) {
                if (is_boot_image(c) || extract_index) {
                        site_changes_free(changes, n);
                        return bus_set_error(error, SMS_ERROR_INVALID_PARAMETER, "%s needs %s", c->name,
                                             is_boot_image(c) ? "ImagePath" : "PkgSourcePath to extract an image from");
                }
                return bus_paths_then(m, msg, c, NULL, changes, n, NULL, caller, image_create_empty_then, error);
        }

        ic = calloc(1, sizeof(ImageCreate));
        if (!ic) {
                site_changes_free(changes, n);
                return -ENOMEM;
        }
        *ic = (ImageCreate) { .manager = m, .class = c, .changes = changes, .n_changes = n, .caller = *caller,
                              .has_name = find_change(c, changes, n, "Name") != NULL,
                              .has_language = find_change(c, changes, n, "Language") != NULL };
        index = find_change(c, changes, n, "ImageIndex");
        ic->index = is_boot_image(c) ? (index && !index->value.null ? (unsigned) index->value.u : 1) : extract_index;
        ic->extract = extract_index > 0;
        r = image_read_new(&m->site, source->value.str, c == sms_model_find_class("SMS_OperatingSystemInstallPackage"),
                           ic->index, &ic->read, &e);
        if (r < 0) {
                image_create_free(ic);
                return bus_reply_error_take(error, &e, r);
        }
        ic->read->keep_fd = ic->extract; /* the extraction reads the same file */
        return bus_defer(m, DEFER_AUTHORIZED, msg, image_create_work, reply_image_create, ic, image_create_free);
}
