/* SPDX-License-Identifier: MIT */

/* The engine's image operations (site-image.h): boot image builds and what they commit and
 * clean up, reloads and refreshes of a package's image properties, the extraction of one image
 * at Create, Create of the image classes, and ExportDefaultBootImage. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smsprov/image-jobs.h"
#include "smsprov/macro.h"
#include "smsprov/site-distribution.h"
#include "smsprov/site-image.h"
#include "smsprov/site-writes.h"
#include "smsprov/site-jobs.h"
#include "smsprov/site-schedule.h"
#include "util/log.h"
#include "util/time-util.h"

bool site_is_boot_image(const SmsClass *c) {
        return sms_class_find_property(c, "ImagePath") >= 0;
}

/* Is a job of this package queued or running? Conflicting work is refused with Busy. */
static bool package_busy(Site *site, const SmsClass *c, const char *key) {
        _cleanup_free_ char *target = site_job_target(c, key);
        return target && site_job_target_active(site, target);
}

/* The package's SMS_ImageInformation rows follow what was read; a failure to write them is
 * logged, not the caller's error: the package itself is consistent. */
static void update_image_information(Site *site, const SmsClass *c, const char *key, const WimInfo *info,
                                     const char *image_path) {
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        SmsError e = SMS_ERROR_NULL;

        if (site_object_load(site, c, key, &o, &e) < 0 || image_information_update(site, info, image_path, o, &e) < 0)
                log_warning("Failed to record the images of %s: %s", key, e.message ? e.message : "");
        sms_error_clear(&e);
}

/* --- boot image builds ------------------------------------------------------------------------- */

typedef struct BuildDone {
        Site *site;
        const SmsClass *class;
        char *key;
        SiteCaller caller;
        uint32_t action; /* ActionInProgress while queued */
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
static void build_output_release(Job *job, Site *site, const char *key, const char *path, const char *keep,
                                 bool committed) {
        _cleanup_free_ char *entry = image_output_entry(site->library_dir, key, path),
                            *kept = keep ? image_output_entry(site->library_dir, key, keep) : NULL;
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
                job_queue_remove_later(site->jobs, aside);
                return;
        }
        if (errno != ENOENT) /* nothing was written */
                (void) path_remove_tree(entry);
        free(aside);
}

/* Main thread, after the build: the package points at the new image, or is left as it was. */
static int build_finish(Job *job, void *userdata, int result, SmsError *e) {
        BuildDone *d = userdata;
        Site *site = d->site;
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        _cleanup_free_ size_t *changed = NULL;
        size_t n_changed = 0, n = 0;
        SiteChange values[8];
        SmsError inner = SMS_ERROR_NULL;
        int r;

        r = site_object_load(site, d->class, d->key, &o, &inner);
        if (r < 0) {
                /* Deleted while it was being built: the built version goes with it. */
                build_output_release(job, site, d->key, d->build->output_path, NULL, false);
                sms_error_clear(&inner);
                return result < 0 ? result : sms_error_set(e, SMS_ERROR_NOT_FOUND, "%s was deleted", d->key);
        }
        /* What the row names now: the version this build replaces, unless it is not ours. */
        _cleanup_free_ char *previous = strdup(sms_object_string(o, "PkgSourcePath"));
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
        r = site_object_set_derived(site, d->class, d->key, values, n, &d->caller,
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
                site_notify_changed(site, d->class, d->key, changed, n_changed);
                char point[128];
                if (snprintf(point, sizeof point, "%s.committed", job->operation) < (int) sizeof point)
                        job_queue_test_crash_point(site->jobs, point);
        }
        /* After the commit, the version that is not current goes: the replaced one when this
         * build is committed, this build's when it failed or was not recorded. */
        if (result >= 0)
                build_output_release(job, site, d->key, previous, d->build->output_path, true);
        else
                build_output_release(job, site, d->key, d->build->output_path, previous, false);

        if (result < 0) {
                _cleanup_free_ char *text = NULL;
                if (asprintf(&text, "The build of %s %s failed: %s", d->class->name, d->key,
                             e->message ? e->message : "error") >= 0)
                        site_report(site, 39999, 0xC0000000u, &d->caller, d->class->name, d->key, text);
        } else {
                site_notify_change_notification(site, d->class, d->key);
                if (d->build->result.notes && *d->build->result.notes)
                        job_set_progress(job, 100, 100, d->build->result.file_size, d->build->result.file_size,
                                         d->build->result.notes);
                /* The new version goes to every DP the boot image is on. */
                (void) site_distribution_package_updated(site, d->class, d->key, false, &d->caller, NULL);
        }
        return result;
}

static int set_action_in_progress(Site *site, const BuildDone *d, uint32_t action, const char *what, SmsError *e) {
        _cleanup_free_ size_t *changed = NULL;
        size_t n = 0, n_changed = 0;
        SiteChange change[1];
        int r;

        push_uint(change, &n, d->class, "ActionInProgress", action);
        r = site_object_set_derived(site, d->class, d->key, change, n, &d->caller, what, &changed, &n_changed, e);
        if (r >= 0)
                site_notify_changed(site, d->class, d->key, changed, n_changed);
        return r;
}

/* The pending state of a queued build; the rollback takes it back when the job cannot be queued. */
static int build_begin(Site *site, void *userdata, SmsError *e) {
        BuildDone *d = userdata;
        return set_action_in_progress(d->site, d, d->action, "started building", e);
}

static int build_check(void *userdata, SmsError *e) {
        return boot_image_build_check(((BuildDone *) userdata)->build, e);
}

/* Everything a build needs, checked and allocated, nothing written: from the package as stored,
 * or from `package`, the package as a write not yet committed will leave it. */
int site_image_build_prepare(Site *site, const SmsClass *c, const char *key, const SmsObject *package,
                              const char *operation, uint32_t action, const SiteCaller *caller, SiteJobPlan **ret,
                              SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *stored = NULL;
        _cleanup_free_ char *target = site_job_target(c, key);
        BootImageBuildJob *build = NULL;
        BuildDone *d;
        int r;

        if (!target)
                return -ENOMEM;
        r = site_object_check_writable(site, c, key, e);
        if (r < 0)
                return r;
        if (package_busy(site, c, key))
                return sms_error_set(e, SMS_ERROR_BUSY, "%s %s is being built already", c->name, key);
        if (!package) {
                r = site_object_load(site, c, key, &stored, e);
                if (r < 0)
                        return r;
                package = stored;
        }
        r = boot_image_build_new(site, package, site->osd_bin_root, site->adk_root, &build, e);
        if (r < 0)
                return r;

        d = calloc(1, sizeof(BuildDone));
        if (!d || !(d->key = strdup(key))) {
                free(d);
                boot_image_build_free(build);
                return -ENOMEM;
        }
        *d = (BuildDone) { .site = site, .class = c, .key = d->key, .caller = site_caller_keep(caller),
                           .action = action, .build = build };

        JobSpec spec = site_job_spec(operation, target, caller, build_work, build_finish, d, build_done_free);
        spec.context_id = sms_object_string(package, "ContextID");
        r = site_job_plan_new(&spec, ret);
        if (r < 0)
                return r;
        (*ret)->check = build_check;
        (*ret)->begin = build_begin;
        (*ret)->exclusive = true;
        return 0;
}


/* --- ReloadImageProperties and RefreshPkgSource of OS images ------------------------------------- */

struct SiteImageReload {
        Site *site;
        const SmsClass *class;
        char *key;
        SiteCaller caller;
        unsigned index;
        bool refresh; /* RefreshPkgSource: the source version moves on too */
        ImageRead *read;
};

void site_image_reload_free(void *p) {
        SiteImageReload *r = p;
        image_read_free(r->read);
        free(r->key);
        free(r);
}

int site_image_reload_work(void *userdata, SmsError *e) {
        return image_read_work(((SiteImageReload *) userdata)->read, e);
}

static int reload_check(void *userdata, SmsError *e) {
        return image_read_check(((SiteImageReload *) userdata)->read, e);
}

/* Writes what the read found (and, for a refresh, the next SourceVersion). */
int site_image_reload_commit(SiteImageReload *rl, SmsError *e) {
        Site *site = rl->site;
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        _cleanup_free_ size_t *changed = NULL;
        SiteChange *values = NULL;
        size_t n = 0, n_changed = 0;
        int r;

        r = site_object_load(site, rl->class, rl->key, &o, e);
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
                push_uint(values, &n, rl->class, "SourceVersion", sms_object_value(o, "SourceVersion")->u + 1);
                push_uint(values, &n, rl->class, "SourceDate", now_usec());
                push_uint(values, &n, rl->class, "LastRefreshTime", now_usec());
        }
        r = site_object_set_derived(site, rl->class, rl->key, values, n, &rl->caller,
                                    rl->refresh ? "refreshed the source of" : "reloaded the image properties of",
                                    &changed, &n_changed, e);
        site_changes_free(values, n);
        if (r < 0)
                return r;
        update_image_information(site, rl->class, rl->key, &rl->read->info, rl->read->display_path);
        site_notify_changed(site, rl->class, rl->key, changed, n_changed);
        if (rl->refresh) {
                site_notify_change_notification(site, rl->class, rl->key);
        }
        return 0;
}

/* Prepares a read of the package's source: ImagePath/ImageIndex for boot images, PkgSourcePath
 * (a WIM, or for OS install packages a folder with sources/install.wim) for the others. */
static int reload_new(Site *site, const SmsClass *c, const char *key, const SmsObject *package,
                      const SiteCaller *caller, bool refresh, SiteImageReload **ret, SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *stored = NULL;
        const SmsObject *o = package;
        SiteImageReload *rl;
        const char *source;
        int r;

        r = site_object_check_writable(site, c, key, e);
        if (r < 0)
                return r;
        if (!o) {
                r = site_object_load(site, c, key, &stored, e);
                if (r < 0)
                        return r;
                o = stored;
        }
        rl = calloc(1, sizeof(SiteImageReload));
        if (!rl || !(rl->key = strdup(key))) {
                free(rl);
                return -ENOMEM;
        }
        rl->site = site;
        rl->class = c;
        rl->caller = site_caller_keep(caller);
        rl->refresh = refresh;
        if (site_is_boot_image(c)) {
                const CimValue *index = sms_object_value(o, "ImageIndex");
                rl->index = index && !index->null && index->u ? (unsigned) index->u : 1;
                source = sms_object_string(o, "ImagePath");
        } else
                source = sms_object_string(o, "PkgSourcePath");
        if (!*source) {
                site_image_reload_free(rl);
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s %s has no %s to read", c->name, key,
                                     site_is_boot_image(c) ? "ImagePath" : "PkgSourcePath");
        }
        r = image_read_new(site, source, c == sms_model_find_class("SMS_OperatingSystemInstallPackage"), rl->index,
                           &rl->read, e);
        if (r < 0) {
                site_image_reload_free(rl);
                return r;
        }
        *ret = rl;
        return 0;
}

static int refresh_job_work(Job *job, void *userdata, SmsError *e) {
        job_set_progress(job, 0, 1, 0, 0, "Reading the package source");
        return site_image_reload_work(userdata, e);
}

static int refresh_job_finish(Job *job, void *userdata, int result, SmsError *e) {
        SiteImageReload *rl = userdata;
        if (result < 0)
                return result;
        result = site_image_reload_commit(rl, e);
        if (result >= 0)
                (void) site_distribution_package_updated(rl->site, rl->class, rl->key, false, &rl->caller, NULL);
        return result;
}

int site_image_refresh_prepare(Site *site, const SmsClass *c, const char *key, const SmsObject *package,
                               const SiteCaller *caller, SiteJobPlan **ret, SmsError *e) {
        _cleanup_free_ char *target = NULL;
        SiteImageReload *rl = NULL;
        int r;

        /* A boot image's refresh is a rebuild from ImagePath (reference §4.5.7). */
        if (site_is_boot_image(c))
                return site_image_build_prepare(site, c, key, package, "RefreshPkgSource", 1, caller, ret, e);
        if (package_busy(site, c, key))
                return sms_error_set(e, SMS_ERROR_BUSY, "%s %s has a job running", c->name, key);
        r = reload_new(site, c, key, package, caller, true, &rl, e);
        if (r < 0)
                return r;
        target = site_job_target(c, key);
        if (!target) {
                site_image_reload_free(rl);
                return -ENOMEM;
        }
        JobSpec spec = site_job_spec("RefreshPkgSource", target, caller, refresh_job_work, refresh_job_finish, rl,
                                     site_image_reload_free);
        r = site_job_plan_new(&spec, ret);
        if (r < 0)
                return r;
        /* A source that is gone refuses the call (and the Put that asks for it): the job would
         * only fail. */
        (*ret)->check = reload_check;
        (*ret)->exclusive = true;
        return 0;
}

int site_image_refresh_source(Site *site, const SmsClass *c, const char *key, const SiteCaller *caller, uint64_t *ret_job,
                             SmsError *e) {
        SiteJobPlan *plan = NULL;
        int r;

        r = site_image_refresh_prepare(site, c, key, NULL, caller, &plan, e);
        if (r < 0)
                return r;
        return site_job_plan_start(site, plan, ret_job, e);
}

/* --- ExportDefaultBootImage -------------------------------------------------------------------- */

struct SiteExport {
        Site *site;
        SiteCaller caller;
        DefaultImageExportJob *job;
        ImageRead *check;
};

void site_export_free(void *p) {
        SiteExport *x = p;
        default_image_export_free(x->job);
        image_read_free(x->check);
        free(x);
}

/* On the worker: the export's folder and the kit's files may be on a mount that stops answering. */
int site_export_check(void *userdata, SmsError *e) {
        SiteExport *x = userdata;
        int r = default_image_export_check(x->job, e);
        return r < 0 ? r : image_read_work(x->check, e);
}

static int export_work(Job *job, void *userdata, SmsError *e) {
        return default_image_export_work(job, ((SiteExport *) userdata)->job, e);
}

static int export_finish(Job *job, void *userdata, int result, SmsError *e) {
        SiteExport *x = userdata;
        x->site->export_running = false;
        return result;
}

/* --- Create of the image classes ----------------------------------------------------------------- */

struct SiteImageCreate {
        Site *site;
        const SmsClass *class;
        SiteChange *changes;
        size_t n_changes;
        SiteCaller caller;
        unsigned index;
        bool extract; /* SMS_ImagePackage with ImageIndex: import only that image */
        bool has_name, has_language;
        ImageRead *read;
};

void site_image_create_free(void *p) {
        SiteImageCreate *ic = p;
        site_changes_free(ic->changes, ic->n_changes);
        image_read_free(ic->read);
        free(ic);
}

/* --- extracting one image of an OS image (reference §5.2) ------------------------------------------ */

typedef struct Extract {
        Site *site;
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
        Site *site = x->site;
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
        r = site_object_set_derived(site, x->class, x->key, values, n, &x->caller,
                                    result >= 0 ? "extracted the image of" : "ended a failed extraction of", &changed,
                                    &n_changed, &inner);
        for (size_t i = 0; i < n; i++)
                cim_value_clear(&values[i].value);
        if (r >= 0) {
                site_notify_changed(site, x->class, x->key, changed, n_changed);
                if (result >= 0) {
                        WimInfo one = { .images = &x->result.info, .n_images = 1 };
                        update_image_information(site, x->class, x->key, &one, x->output_path);
                }
        } else if (result >= 0) {
                unlink(x->output_path);
                result = sms_error_set(e, inner.code, "%s", inner.message ? inner.message : "recording failed");
        }
        sms_error_clear(&inner);
        return result;
}

static int start_extract(Site *site, SiteImageCreate *ic, const char *key, uint64_t *ret_job, SmsError *e) {
        _cleanup_free_ char *target = site_job_target(ic->class, key);
        Extract *x;
        int r;

        if (!target)
                return -ENOMEM;
        x = calloc(1, sizeof(Extract));
        if (!x)
                return -ENOMEM;
        *x = (Extract) { .site = site, .class = ic->class, .key = strdup(key), .caller = site_caller_keep(&ic->caller),
                         .source = TAKE_PTR(ic->read), .index = ic->index };
        r = x->key ? image_output_path(site->library_dir, key, x->source->display_path, 0, &x->output_path) : -ENOMEM;
        if (r < 0) {
                extract_free(x);
                return r;
        }
        JobSpec spec = site_job_spec("Create", target, &ic->caller, extract_work, extract_finish, x, extract_free);
        r = site_job_start(site, &spec, ret_job, e);
        if (r < 0)
                extract_free(x);
        return r;
}

/* The paths the caller gave, then the WIM: on the worker, neither ever on the event loop. */
int site_image_create_work(void *userdata, SmsError *e) {
        SiteImageCreate *ic = userdata;
        int r = site_changes_check_paths(ic->site, ic->class, ic->changes, ic->n_changes, e);
        return r < 0 ? r : image_read_work(ic->read, e);
}

/* --- what the methods ask ------------------------------------------------------------------------ */

int site_image_start_build(Site *site, const SmsClass *c, const char *key, const char *operation, uint32_t action,
                           const SiteCaller *caller, uint64_t *ret_job, SmsError *e) {
        SiteJobPlan *plan = NULL;
        int r;

        /* Without the check: the job looks its inputs up itself. */
        r = site_image_build_prepare(site, c, key, NULL, operation, action, caller, &plan, e);
        if (r < 0)
                return r;
        return site_job_plan_start(site, plan, ret_job, e);
}

int site_image_components_prepare(Site *site, const SmsClass *c, const char *key, const uint32_t *ids, size_t n,
                                  const SiteCaller *caller, SiteChange **ret_change, SiteJobPlan **ret_plan,
                                  SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        SiteJobPlan *plan = NULL;
        SiteChange *change;
        uint32_t *list;
        int r;

        if (package_busy(site, c, key))
                return sms_error_set(e, SMS_ERROR_BUSY, "%s %s is being built already", c->name, key);
        list = calloc(n ? n : 1, sizeof(uint32_t));
        change = calloc(1, sizeof(SiteChange));
        if (!list || !change) {
                free(list);
                free(change);
                return -ENOMEM;
        }
        if (n > 0)
                memcpy(list, ids, n * sizeof(uint32_t));
        *change = (SiteChange) { .index = (size_t) sms_class_find_property(c, "OptionalComponents"),
                                 .value = { .type = CIM_UINT32_ARRAY, .u32s = { list, n } } };
        /* The IDs are checked against the catalog and the image's architecture by the build
         * set-up, which is made ready from the package as the write will leave it: a build that
         * cannot start stops the write. */
        r = site_object_load(site, c, key, &o, e);
        if (r >= 0) {
                CimValue *oc = &o->values[change->index];
                cim_value_clear(oc);
                r = cim_value_copy(oc, &change->value);
        }
        if (r >= 0)
                r = site_image_build_prepare(site, c, key, o, "UpdateOptionalComponents", 1, caller, &plan, e);
        if (r >= 0)
                r = site_job_plan_ready(site, plan, e);
        if (r < 0) {
                site_job_plan_free(plan);
                site_changes_free(change, 1);
                return r;
        }
        *ret_change = change;
        *ret_plan = plan;
        return 0;
}

int site_image_reload_new(Site *site, const SmsClass *c, const char *key, const SiteCaller *caller,
                          SiteImageReload **ret, SmsError *e) {
        return reload_new(site, c, key, NULL, caller, false, ret, e);
}

/* --- GetImageProperties ------------------------------------------------------------------------ */

int site_image_properties_new(Site *site, const SmsClass *c, const char *path, ImageRead **ret, SmsError *e) {
        /* An OS install package's source may be its folder; the other classes read a WIM. */
        return image_read_new(site, path, c == sms_model_find_class("SMS_OperatingSystemInstallPackage"), 0, ret, e);
}

int site_image_properties_work(void *read, SmsError *e) {
        return image_read_work(read, e);
}

const char *site_image_properties_xml(const ImageRead *read) {
        return read->xml;
}

void site_image_properties_free(void *read) {
        image_read_free(read);
}

/* --- ExportDefaultBootImage -------------------------------------------------------------------- */

int site_export_new(Site *site, const char *architecture, uint32_t index, const char *path,
                    const SiteCaller *caller, SiteExport **ret, SmsError *e) {
        SiteExport *x;
        int r;

        /* Not thread-safe in ConfigMgr (reference §4.5.4): one export at a time. */
        if (site->export_running)
                return sms_error_set(e, SMS_ERROR_BUSY, "ExportDefaultBootImage is running already");
        x = calloc(1, sizeof(SiteExport));
        if (!x)
                return -ENOMEM;
        x->site = site;
        x->caller = *caller;
        r = default_image_export_new(site, site->adk_root, architecture, index, path, &x->job, e);
        if (r >= 0)
                r = image_read_new_trusted(x->job->source_path, index, &x->check, e);
        if (r < 0) {
                site_export_free(x);
                return r;
        }
        *ret = x;
        return 0;
}

int site_export_start(Site *site, SiteExport *x, uint64_t *ret_job, SmsError *e) {
        SiteExport *owned;
        int r;

        /* Another export may have started while this one's folder was looked up. */
        if (site->export_running)
                return sms_error_set(e, SMS_ERROR_BUSY, "ExportDefaultBootImage is running already");
        owned = calloc(1, sizeof(SiteExport));
        if (!owned)
                return -ENOMEM;
        *owned = (SiteExport) { .site = site, .caller = site_caller_keep(&x->caller), .job = TAKE_PTR(x->job) };
        JobSpec spec = site_job_spec("ExportDefaultBootImage", "", &x->caller, export_work, export_finish, owned,
                                     site_export_free);
        /* One at a time on the whole site: another host's export holds the lease. */
        r = site_job_start_leased(site, &spec, "ExportDefaultBootImage", ret_job, e);
        if (r < 0) {
                site_export_free(owned);
                return r;
        }
        site->export_running = true;
        return 0;
}

/* --- Create of the image classes ----------------------------------------------------------------- */

static const SiteChange *find_change(const SmsClass *c, const SiteChange *changes, size_t n, const char *name) {
        int i = sms_class_find_property(c, name);
        for (size_t k = 0; i >= 0 && k < n; k++)
                if (changes[k].index == (size_t) i)
                        return &changes[k];
        return NULL;
}

int site_image_create_new(Site *site, const SmsClass *c, SiteChange *changes, size_t n, unsigned extract_index,
                          const SiteCaller *caller, SiteImageCreate **ret, SmsError *e) {
        const SiteChange *source, *index;
        SiteImageCreate *ic;
        int r;

        r = site_object_check_create(site, c, changes, n, e);
        if (r < 0)
                return r;
        source = find_change(c, changes, n, site_is_boot_image(c) ? "ImagePath" : "PkgSourcePath");
        if (!source || source->value.null || !*source->value.str) {
                if (site_is_boot_image(c) || extract_index)
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s needs %s", c->name,
                                             site_is_boot_image(c) ? "ImagePath"
                                                                   : "PkgSourcePath to extract an image from");
                *ret = NULL; /* nothing to read */
                return 0;
        }

        ic = calloc(1, sizeof(SiteImageCreate));
        if (!ic)
                return -ENOMEM;
        *ic = (SiteImageCreate) { .site = site, .class = c, .caller = *caller,
                                  .has_name = find_change(c, changes, n, "Name") != NULL,
                                  .has_language = find_change(c, changes, n, "Language") != NULL };
        index = find_change(c, changes, n, "ImageIndex");
        ic->index = site_is_boot_image(c) ? (index && !index->value.null ? (unsigned) index->value.u : 1) : extract_index;
        ic->extract = extract_index > 0;
        r = image_read_new(site, source->value.str, c == sms_model_find_class("SMS_OperatingSystemInstallPackage"),
                           ic->index, &ic->read, e);
        if (r < 0) {
                site_image_create_free(ic);
                return r;
        }
        ic->read->keep_fd = ic->extract; /* the extraction reads the same file */
        /* Taken only now: on failure the caller still has them. */
        ic->changes = changes;
        ic->n_changes = n;
        *ret = ic;
        return 0;
}

int site_image_create_commit(SiteImageCreate *ic, char **ret_key, uint64_t *ret_job, SmsError *e) {
        Site *site = ic->site;
        const SmsClass *c = ic->class;
        _cleanup_free_ char *key = NULL;
        SiteChange *derived = NULL;
        size_t n_derived = 0;
        uint64_t job = 0;
        int r;

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
        if (site_is_boot_image(c))
                push_uint(derived, &n_derived, c, "SourceVersion", 0);
        if (site_is_boot_image(c) || ic->extract)
                push_uint(derived, &n_derived, c, "ActionInProgress", 2);

        /* One transaction: the package, and the build or extraction without which it would be
         * a husk. */
        r = site_begin(site, e);
        if (r < 0) {
                site_changes_free(derived, n_derived);
                return r;
        }
        r = site_object_create(site, c, ic->changes, ic->n_changes, derived, n_derived, &ic->caller, &key, e);
        site_changes_free(derived, n_derived);
        if (r >= 0) {
                if (!ic->extract)
                        update_image_information(site, c, key, &ic->read->info, ic->read->display_path);
                site_notify_added(site, c, key);
                if (site_is_boot_image(c) || ic->extract)
                        r = site_is_boot_image(c) ? site_image_start_build(site, c, key, "Create", 2, &ic->caller,
                                                                           &job, e)
                                                  : start_extract(site, ic, key, &job, e);
        }
        r = site_end(site, r, e);
        if (r < 0)
                return r;
        site_note_referenced_drivers(site, c, key, ic->changes, ic->n_changes, &ic->caller);
        site_schedule_update(site, c, key);
        *ret_key = TAKE_PTR(key);
        *ret_job = job;
        return 0;
}

const SmsClass *site_image_create_class(const SiteImageCreate *ic) {
        return ic->class;
}
