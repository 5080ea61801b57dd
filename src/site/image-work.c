/* SPDX-License-Identifier: MIT */

/* Reading WIM metadata, building boot images and exporting the kit's default boot image, as work
 * for worker threads. The contexts are filled on the main thread (which may read the database
 * and confines every path); the work only touches files. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smsprov/image-jobs.h"
#include "smsprov/macro.h"
#include "smsprov/site-drivers.h"
#include "smsprov/winpe-catalog.h"
#include "util/tree-copy.h"

static const char *string_or_null(const SmsObject *o, const char *name);

/* --- reading metadata ------------------------------------------------------------------------ */

ImageRead *image_read_free(ImageRead *r) {
        if (!r)
                return NULL;
        if (r->fd >= 0)
                close(r->fd);
        free(r->path);
        free(r->display_path);
        wim_info_done(&r->info);
        free(r->xml);
        free(r);
        return NULL;
}

void image_read_freep_void(void *r) {
        image_read_free(r);
}

/* Resolves the file to read: on the worker, when the read is about to run, so that a queued
 * read holds no descriptor and a slow file system holds no main loop. */
static int image_read_open(ImageRead *r, SmsError *e) {
        _cleanup_close_ int fd = -1;
        struct stat st;
        int k;

        if (!r->roots) { /* trusted */
                fd = open(r->display_path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (fd < 0)
                        return sms_error_set_errno(e, errno, "%s", r->display_path);
        } else {
                const char *path = r->display_path;
                k = content_roots_resolve(r->roots, path, r->allow_install_dir ? PATH_KIND_ANY : PATH_KIND_FILE, &fd, e);
                if (k < 0)
                        return k;
                if (fstat(fd, &st) < 0)
                        return sms_error_set_errno(e, errno, "%s", path);
                if (S_ISDIR(st.st_mode)) {
                        /* An OS install package's source folder: the image is sources/install.wim. */
                        int wim = path_open_beneath(fd, "sources/install.wim", O_RDONLY | O_NOCTTY | O_NONBLOCK);
                        if (wim == -EXDEV || wim == -ELOOP)
                                return sms_error_set(e, SMS_ERROR_PATH_NOT_ALLOWED, "%s/sources/install.wim leaves the folder",
                                                     path);
                        if (wim < 0)
                                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s holds no sources/install.wim", path);
                        if (fstat(wim, &st) < 0 || !S_ISREG(st.st_mode)) {
                                close(wim);
                                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                                     "%s/sources/install.wim is not a regular file", path);
                        }
                        close(fd);
                        fd = wim;
                }
        }
        r->path = path_of_fd(fd);
        if (!r->path)
                return -ENOMEM;
        r->fd = TAKE_FD(fd);
        return 0;
}

int image_read_check(ImageRead *r, SmsError *e) {
        return r->fd >= 0 ? 0 : image_read_open(r, e);
}

static int image_read_alloc(const ContentRoots *roots, const char *path, bool allow_install_dir, unsigned want_index,
                            ImageRead **ret) {
        ImageRead *r = calloc(1, sizeof(ImageRead));

        if (!r)
                return -ENOMEM;
        *r = (ImageRead) { .fd = -1, .roots = roots, .allow_install_dir = allow_install_dir, .want_index = want_index,
                           .display_path = strdup(path) };
        if (!r->display_path) {
                image_read_free(r);
                return -ENOMEM;
        }
        *ret = r;
        return 0;
}

int image_read_new(const Site *site, const char *path, bool allow_install_dir, unsigned want_index,
                   ImageRead **ret, SmsError *e) {
        return image_read_alloc(&site->roots, path, allow_install_dir, want_index, ret);
}

int image_read_new_trusted(const char *path, unsigned want_index, ImageRead **ret, SmsError *e) {
        return image_read_alloc(NULL, path, false, want_index, ret);
}

/* Messages name the file as the caller did, not as /proc/self/fd/N. */
static int error_with_display_path(const ImageRead *r, SmsError *inner, int k, SmsError *e) {
        const char *msg = inner->message ? inner->message : "";
        const char *at = r->display_path ? strstr(msg, r->path) : NULL;

        if (at)
                k = sms_error_set(e, inner->code, "%.*s%s%s", (int) (at - msg), msg, r->display_path,
                                  at + strlen(r->path));
        else
                k = sms_error_set(e, inner->code, "%s", msg);
        sms_error_clear(inner);
        return k;
}

static int image_read_work_open(ImageRead *r, SmsError *e);

int image_read_work(void *userdata, SmsError *e) {
        ImageRead *r = userdata;
        int k = image_read_work_open(r, e);

        /* Closed here, on the worker: closing a file on a file system that stopped answering
         * (FUSE, NFS) waits too, and the context is freed on the main thread. */
        if (!r->keep_fd && r->fd >= 0) {
                close(r->fd);
                r->fd = -1;
                free(r->path);
                r->path = NULL;
        }
        return k;
}

static int image_read_work_open(ImageRead *r, SmsError *e) {
        SmsError inner = SMS_ERROR_NULL;
        int k;

        if (r->fd < 0) {
                k = image_read_open(r, e);
                if (k < 0)
                        return k;
        }
        k = imaging_read_info(r->path, &r->info, &inner);
        if (k < 0)
                return error_with_display_path(r, &inner, k, e);
        if (r->info.n_images == 0)
                return sms_error_set(e, SMS_ERROR_IMAGE_ERROR, "the WIM holds no image");
        if (r->want_index > r->info.n_images)
                return sms_error_set(e, SMS_ERROR_IMAGE_ERROR, "image index %u does not exist; the WIM holds %zu image%s",
                                     r->want_index, r->info.n_images, r->info.n_images == 1 ? "" : "s");
        return imaging_image_property_xml(&r->info, 0, &r->xml, e);
}

static int push_string(SiteChange **l, size_t *n, const SmsClass *c, const char *name, const char *value) {
        int i = sms_class_find_property(c, name);
        if (i < 0)
                return 0;
        SiteChange *p = realloc(*l, (*n + 1) * sizeof(SiteChange));
        if (!p)
                return -ENOMEM;
        *l = p;
        p[*n] = (SiteChange) { .index = (size_t) i };
        if (cim_value_set_string(&p[*n].value, value ? value : "") < 0)
                return -ENOMEM;
        (*n)++;
        return 0;
}

static int push_uint(SiteChange **l, size_t *n, const SmsClass *c, const char *name, uint64_t value) {
        int i = sms_class_find_property(c, name);
        if (i < 0)
                return 0;
        SiteChange *p = realloc(*l, (*n + 1) * sizeof(SiteChange));
        if (!p)
                return -ENOMEM;
        *l = p;
        p[(*n)++] = (SiteChange) { .index = (size_t) i, .value = cim_value_uint(c->all[i]->type, value) };
        return 0;
}

static bool object_string_empty(const SmsObject *o, const char *name) {
        int i = o ? sms_class_find_property(o->class, name) : -1;
        return i < 0 || o->values[i].null || !*o->values[i].str;
}

int image_read_derived(const ImageRead *r, const SmsClass *c, const SmsObject *current, unsigned index,
                       bool fill_defaults, SiteChange **ret, size_t *ret_n) {
        const ImageInfo *img = &r->info.images[(index ? index : 1) - 1];
        SiteChange *l = NULL;
        size_t n = 0;
        uint64_t bytes = 0;
        int k;

        if (index)
                bytes = img->total_bytes;
        else
                for (size_t i = 0; i < r->info.n_images; i++)
                        bytes += r->info.images[i].total_bytes;
        /* PackageSize is UInt32 KB: cap rather than wrap for images over 4 TB. */
        uint64_t kb = (bytes + 1023) / 1024;

        k = push_string(&l, &n, c, "ImageProperty", r->xml);
        k = k < 0 ? k : push_string(&l, &n, c, "ImageOSVersion", img->os_version);
        k = k < 0 ? k : push_string(&l, &n, c, "Architecture", img->architecture);
        k = k < 0 ? k : push_uint(&l, &n, c, "PackageSize", kb > UINT32_MAX ? UINT32_MAX : kb);
        if (k >= 0 && fill_defaults && object_string_empty(current, "Language") && *img->language)
                k = push_string(&l, &n, c, "Language", img->language);
        if (k >= 0 && fill_defaults && object_string_empty(current, "Name") && *img->name)
                k = push_string(&l, &n, c, "Name", img->name);
        if (k < 0) {
                site_changes_free(l, n);
                return k;
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

/* --- SMS_ImageInformation ------------------------------------------------------------------------ */

void image_information_free(SmsObject **objects, size_t n) {
        for (size_t i = 0; i < n; i++)
                sms_object_free(objects[i]);
        free(objects);
}

static int row_set_string(SmsObject *o, const char *name, const char *value) {
        int i = sms_class_find_property(o->class, name);
        cim_value_clear(&o->values[i]);
        return cim_value_set_string(&o->values[i], value ? value : "");
}

static void row_set(SmsObject *o, const char *name, CimValue v) {
        int i = sms_class_find_property(o->class, name);
        cim_value_clear(&o->values[i]);
        o->values[i] = v;
}

int image_information_objects(const WimInfo *info, const char *image_path, const SmsObject *package,
                              SmsObject ***ret, size_t *ret_n) {
        const SmsClass *c = sms_model_find_class("SMS_ImageInformation");
        const CimValue *type = sms_object_value(package, "PackageType"), *lab = sms_object_value(package, "EnableLabShell");
        uint32_t package_type = type && !type->null ? (uint32_t) type->u : 0;
        /* Secured object type IDs (reference §7.4). */
        uint32_t object_type = package_type == 258 ? 19 : package_type == 257 ? 18 : 14;
        SmsObject **objects = calloc(info->n_images ? info->n_images : 1, sizeof(SmsObject *));
        int r = 0;

        if (!objects)
                return -ENOMEM;
        for (size_t i = 0; r >= 0 && i < info->n_images; i++) {
                const ImageInfo *img = &info->images[i];
                SmsObject *o = objects[i] = sms_object_new(c);
                if (!o) {
                        r = -ENOMEM;
                        break;
                }
                r = row_set_string(o, "PackageID", package->key);
                row_set(o, "Index", cim_value_uint(CIM_UINT32, img->index));
                r = r < 0 ? r : row_set_string(o, "Architecture", img->architecture);
                r = r < 0 ? r : row_set_string(o, "CreatedBy", img->created_by);
                r = r < 0 ? r : row_set_string(o, "CreationDate", img->creation_date);
                r = r < 0 ? r : row_set_string(o, "Description", img->description);
                r = r < 0 ? r : row_set_string(o, "HALType", img->hal);
                r = r < 0 ? r : row_set_string(o, "ImageOSVersion", img->os_version);
                r = r < 0 ? r : row_set_string(o, "OSVersion", img->os_version);
                r = r < 0 ? r : row_set_string(o, "ImagePath", image_path);
                r = r < 0 ? r : row_set_string(o, "Language", img->language);
                r = r < 0 ? r : row_set_string(o, "Name", img->name);
                r = r < 0 ? r : row_set_string(o, "ProductType", img->product_type);
                r = r < 0 ? r : row_set_string(o, "Version", string_or_null(package, "Version"));
                row_set(o, "EnableLabShell", cim_value_bool(lab && !lab->null && lab->b));
                row_set(o, "ObjectType", cim_value_uint(CIM_UINT32, object_type));
                row_set(o, "PackageType", cim_value_uint(CIM_UINT32, package_type));
                row_set(o, "Size", (CimValue) { .type = CIM_SINT64, /* TOTALBYTES is the WIM's word */
                                                .i = img->total_bytes > INT64_MAX ? INT64_MAX
                                                                                  : (int64_t) img->total_bytes });
                if (r >= 0)
                        r = sms_object_key_format(o, &o->key);
        }
        if (r < 0) {
                image_information_free(objects, info->n_images);
                return r;
        }
        *ret = objects;
        *ret_n = info->n_images;
        return 0;
}

int image_information_update(Site *site, const WimInfo *info, const char *image_path, const SmsObject *package,
                             SmsError *e) {
        SmsObject **rows = NULL;
        size_t n = 0;
        int r;

        r = image_information_objects(info, image_path, package, &rows, &n);
        if (r < 0)
                return r;
        r = site_replace_rows(site, sms_model_find_class("SMS_ImageInformation"), "PackageID", package->key, rows, n,
                              e);
        image_information_free(rows, n);
        return r;
}

/* --- progress ---------------------------------------------------------------------------------- */

/* wimlib's progress reaches the job as a percentage of bytes; a false return cancels. */
bool image_job_progress(void *userdata, uint64_t done, uint64_t total, const char *text) {
        Job *job = userdata;
        uint32_t pct = total ? (uint32_t) (done * 100 / total) : 0;

        job_set_progress(job, pct > 100 ? 100 : pct, 100, done, total, text);
        return job_should_continue(job);
}

/* An ImagingBuild step as a test point of the job: "<Operation>.<step>" (smsprov/job.h). */
static bool image_job_step(void *userdata, const char *step) {
        Job *job = userdata;
        char point[128];

        if (snprintf(point, sizeof point, "%s.%s", job->operation, step) >= (int) sizeof point)
                return job_should_continue(job);
        return job_test_point(job, point);
}

/* --- building a boot image ---------------------------------------------------------------------- */

BootImageBuildJob *boot_image_build_free(BootImageBuildJob *b) {
        if (!b)
                return NULL;
        if (b->source_fd >= 0)
                close(b->source_fd);
        content_roots_done(&b->roots);
        free(b->pre_exec_path);
        free(b->bitmap_path);
        for (size_t i = 0; i < b->n_drivers; i++)
                free((char *) b->drivers[i].source);
        free(b->drivers);
        if (b->inputs_dir)
                (void) path_remove_tree(b->inputs_dir);
        free(b->inputs_dir);
        free(b->source_path);
        free(b->image_path);
        free(b->output_path);
        free(b->architecture);
        free(b->osd_bin_root);
        free(b->pre_exec_command_line);
        strv_free(b->component_dirs);
        imaging_build_result_done(&b->result);
        free(b);
        return NULL;
}

void boot_image_build_free_void(void *b) {
        boot_image_build_free(b);
}

static const char *string_or_null(const SmsObject *o, const char *name) {
        const CimValue *v = sms_object_value(o, name);
        return v && !v->null && *v->str ? v->str : NULL;
}

/* Confines a stored path again and returns its descriptor (O_PATH for a folder, O_RDONLY for a
 * file), named errors prefixed by the property. */
static int confine(const ContentRoots *roots, const char *what, const char *path, PathKind kind, int *ret_fd,
                   SmsError *e) {
        SmsError inner = SMS_ERROR_NULL;
        int r;

        r = content_roots_resolve(roots, path, kind, ret_fd, &inner);
        if (r < 0) {
                r = sms_error_set(e, inner.code, "%s: %s", what, inner.message ? inner.message : path);
                sms_error_clear(&inner);
        }
        return r;
}

/* Checks an input, so that a call fails with its named error; the work resolves it again. */
static int check_input(const ContentRoots *roots, const char *what, const char *path, PathKind kind, SmsError *e) {
        int fd = -1, r = confine(roots, what, path, kind, &fd, e);
        if (fd >= 0)
                close(fd);
        return r;
}

int boot_image_build_check(BootImageBuildJob *b, SmsError *e) {
        int r;

        if (b->source_fd >= 0)
                return 0;
        /* The source WIM stays open from here: wimlib reads it through /proc/self/fd/N, which opens
         * this very inode, and keeps reading the descriptor it opened. */
        r = content_roots_resolve(&b->roots, b->image_path, PATH_KIND_FILE, &b->source_fd, e);
        if (r < 0)
                return r;
        if (!(b->source_path = path_of_fd(b->source_fd)))
                r = -ENOMEM;
        if (r >= 0 && b->pre_exec_path)
                r = check_input(&b->roots, "PreExecSourceDirectory", b->pre_exec_path, PATH_KIND_DIRECTORY, e);
        if (r >= 0 && b->bitmap_path)
                r = check_input(&b->roots, "BackgroundBitmapPath", b->bitmap_path, PATH_KIND_FILE, e);
        if (r < 0) {
                /* Closed here, on the worker (a file system that stopped answering holds a close()
                 * too), and opened again by the next check. */
                if (b->source_fd >= 0)
                        close(b->source_fd);
                b->source_fd = -1;
                free(b->source_path);
                b->source_path = NULL;
        }
        return r;
}

int boot_image_build_new(Site *site, const SmsObject *package, const char *osd_bin_root, const char *adk_root,
                         BootImageBuildJob **ret, SmsError *e) {
        BootImageBuildJob *b;
        const CimValue *v;
        const char *image_path = string_or_null(package, "ImagePath");
        int r;

        if (!image_path)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s has no ImagePath", package->key);
        if (!osd_bin_root)
                return sms_error_set(e, SMS_ERROR_FAILED,
                                     "smsprovd was started without --osd-bin-root: there are no OSD binaries to add");
        b = calloc(1, sizeof(BootImageBuildJob));
        if (!b)
                return -ENOMEM;
        b->source_fd = -1;
        r = content_roots_copy(&site->roots, &b->roots);
        if (r < 0)
                goto fail;
        v = sms_object_value(package, "ImageIndex");
        b->image_index = v && !v->null && v->u > 0 ? (unsigned) v->u : 1;
        b->image_path = strdup(image_path);
        b->architecture = strdup(string_or_null(package, "Architecture") ? string_or_null(package, "Architecture") : "");
        b->osd_bin_root = strdup(osd_bin_root);
        if (!b->image_path || !b->architecture || !b->osd_bin_root) {
                r = -ENOMEM;
                goto fail;
        }
        if (!*b->architecture || !imaging_osd_arch_dir(b->architecture)) {
                r = sms_error_set(e, SMS_ERROR_IMAGE_ERROR,
                                  "the image's architecture '%s' is not one smsprovd builds boot images for (x86, x64, "
                                  "arm64); call ReloadImageProperties if the WIM changed",
                                  b->architecture);
                goto fail;
        }
        /* The version this build will be once committed: its file is new, never the current one. */
        v = sms_object_value(package, "SourceVersion");
        b->version = (uint32_t) (v && !v->null ? v->u : 0) + 1;
        r = image_output_path(site->library_dir, package->key, image_path, b->version, &b->output_path);
        if (r < 0)
                goto fail;

        v = sms_object_value(package, "EnableLabShell");
        b->enable_lab_shell = v && !v->null && v->b;
        if (string_or_null(package, "PreExecCommandLine") &&
            !(b->pre_exec_command_line = strdup(string_or_null(package, "PreExecCommandLine")))) {
                r = -ENOMEM;
                goto fail;
        }
        if (string_or_null(package, "PreExecSourceDirectory") &&
            !(b->pre_exec_path = strdup(string_or_null(package, "PreExecSourceDirectory")))) {
                r = -ENOMEM;
                goto fail;
        }
        if (string_or_null(package, "BackgroundBitmapPath") &&
            !(b->bitmap_path = strdup(string_or_null(package, "BackgroundBitmapPath")))) {
                r = -ENOMEM;
                goto fail;
        }

        /* Each driver from the catalog's copy (SMS_Driver.ContentSourcePath, in the site's content
         * library), whatever the entry's SourcePath says: what was imported is what is built, and
         * the daemon's own copy needs no private one. */
        v = sms_object_value(package, "ReferencedDrivers");
        if (v && !v->null && v->drivers.n > 0) {
                b->drivers = calloc(v->drivers.n, sizeof(BootImageDriver));
                if (!b->drivers) {
                        r = -ENOMEM;
                        goto fail;
                }
                for (size_t i = 0; i < v->drivers.n; i++) {
                        _cleanup_free_ char *inf = NULL;
                        char *folder = NULL;
                        SmsError inner = SMS_ERROR_NULL;
                        r = site_driver_catalog_copy(site, v->drivers.data[i].id, &folder, &inf, &inner);
                        if (r < 0) {
                                r = sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "ReferencedDrivers entry %zu: %s", i,
                                                  inner.message ? inner.message : "no such driver");
                                sms_error_clear(&inner);
                                goto fail;
                        }
                        b->drivers[b->n_drivers++] = (BootImageDriver) { .id = v->drivers.data[i].id, .source = folder };
                }
        }

        /* The components: the four always added, then OptionalComponents, each a tree of the
         * kit found through the catalog and matching the image's architecture. */
        const char *adk_arch = imaging_adk_arch_dir(b->architecture);
        const char *catalog_arch = streq(adk_arch, "x86") ? "X86" : streq(adk_arch, "amd64") ? "X64" : "ARM64";
        v = sms_object_value(package, "OptionalComponents");
        size_t n_optional = v && !v->null ? v->u32s.n : 0;
        b->component_dirs = calloc(ELEMENTSOF(winpe_always_added) + n_optional + 1, sizeof(char *));
        if (!b->component_dirs) {
                r = -ENOMEM;
                goto fail;
        }
        size_t n_dirs = 0;
        /* Named here, looked for in the job (kit_drop_absent()): the kit may be on a slow mount. */
        for (size_t i = 0; adk_root && i < ELEMENTSOF(winpe_always_added); i++) {
                char path[4096];
                snprintf(path, sizeof path, "%s/%s/WinPE_OCs/%s", adk_root, adk_arch, winpe_always_added[i]);
                if (!(b->component_dirs[n_dirs++] = strdup(path))) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        for (size_t i = 0; i < n_optional; i++) {
                _cleanup_(sms_object_freep) SmsObject *oc = NULL;
                char key[16], path[4096];
                snprintf(key, sizeof key, "%" PRIu32, v->u32s.data[i]);
                if (!adk_root ||
                    site_object_load(site, sms_model_find_class("SMS_OSDeploymentKitWinPEOptionalComponent"), key, &oc,
                                     NULL) < 0) {
                        r = sms_error_set(e, SMS_ERROR_VALUE_OUT_OF_RANGE,
                                          "optional component %s is not in the deployment kit's catalog", key);
                        goto fail;
                }
                if (strcasecmp(string_or_null(oc, "Architecture"), catalog_arch) != 0) {
                        r = sms_error_set(e, SMS_ERROR_VALUE_OUT_OF_RANGE,
                                          "optional component %s (%s) is for %s, the image is %s", key,
                                          string_or_null(oc, "Name"), string_or_null(oc, "Architecture"), catalog_arch);
                        goto fail;
                }
                const CimValue *required = sms_object_value(oc, "IsRequired");
                if (required && !required->null && required->b)
                        continue; /* one of the four, added above */
                snprintf(path, sizeof path, "%s/%s", adk_root, string_or_null(oc, "RelativePath"));
                if (!(b->component_dirs[n_dirs++] = strdup(path))) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        v = sms_object_value(package, "ScratchSpace");
        b->scratch_space_mb = v && !v->null ? (uint32_t) v->u : 0;

        *ret = b;
        return 0;
fail:
        boot_image_build_free(b);
        return r;
}

/* wimlib adds trees by path and reads their files by path again when it writes, so a rename
 * inside a content root could swap a link in under any of its names at any time: it gets private
 * copies instead, taken below the descriptor found beneath the root into a folder beside the
 * output, which only the daemon writes. Returns the copy's path in *ret. */
static int copy_input(BootImageBuildJob *b, int dir_fd, const char *what, const char *path, PathKind kind,
                      const char *name, char **ret, SmsError *e) {
        _cleanup_close_ int fd = -1;
        int r;

        r = confine(&b->roots, what, path, kind, &fd, e);
        if (r < 0)
                return r;
        r = tree_copy_at(fd, dir_fd, name, what, e);
        if (r < 0)
                return r;
        if (asprintf(ret, "%s/%s", b->inputs_dir, name) < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

static int copy_inputs(BootImageBuildJob *b, char **ret_pre_exec, char **ret_bitmap, SmsError *e) {
        _cleanup_free_ char *dir = strdup(b->output_path);
        _cleanup_close_ int dir_fd = -1;
        char *slash;
        int r;

        if (!b->pre_exec_path && !b->bitmap_path)
                return 0;
        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        *slash = 0;
        if (asprintf(&b->inputs_dir, "%s/.inputs.staging-XXXXXX", dir) < 0) {
                b->inputs_dir = NULL;
                return -ENOMEM;
        }
        if (!mkdtemp(b->inputs_dir)) {
                r = sms_error_set_errno(e, errno, "cannot create a folder for the build's inputs beside %s",
                                        b->output_path);
                free(b->inputs_dir);
                b->inputs_dir = NULL;
                return r;
        }
        dir_fd = open(b->inputs_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir_fd < 0)
                return sms_error_set_errno(e, errno, "%s", b->inputs_dir);

        if (b->pre_exec_path) {
                r = copy_input(b, dir_fd, "PreExecSourceDirectory", b->pre_exec_path, PATH_KIND_DIRECTORY, "pre-exec",
                               ret_pre_exec, e);
                if (r < 0)
                        return r;
        }
        if (b->bitmap_path) {
                r = copy_input(b, dir_fd, "BackgroundBitmapPath", b->bitmap_path, PATH_KIND_FILE, "background.bmp",
                               ret_bitmap, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void drop_inputs(BootImageBuildJob *b) {
        if (b->inputs_dir) {
                (void) path_remove_tree(b->inputs_dir);
                free(b->inputs_dir);
                b->inputs_dir = NULL;
        }
}

/* A build refused before it started leaves no folder behind: the output's folder goes again when
 * it is empty (it was made for this build, or held nothing anyway). */
static void remove_output_dir_if_empty(const char *output_path) {
        _cleanup_free_ char *dir = strdup(output_path);
        char *slash = dir ? strrchr(dir, '/') : NULL;

        if (slash) {
                *slash = 0;
                (void) rmdir(dir);
        }
}

/* The always-added components are taken where the kit has them: of the first n_candidates
 * entries of `dirs`, those that are not directories go. In the job, not where it is set up: the
 * stat() of a kit on a mount that does not answer would hold the event loop. */
static void kit_drop_absent(char **dirs, size_t n_candidates) {
        size_t k = 0, i = 0;

        for (; dirs && dirs[i]; i++) {
                struct stat st;
                if (i < n_candidates && (stat(dirs[i], &st) < 0 || !S_ISDIR(st.st_mode))) {
                        free(dirs[i]);
                        continue;
                }
                dirs[k++] = dirs[i];
        }
        if (dirs)
                dirs[k] = NULL;
}

int boot_image_build_work(Job *job, void *userdata, SmsError *e) {
        BootImageBuildJob *b = userdata;
        BootImagePlan plan = {};
        _cleanup_free_ char *pre_exec = NULL, *bitmap = NULL;
        int r;

        job_set_progress(job, 0, 100, 0, 0, "Preparing the boot image");
        /* A job started without its check (a scheduled refresh, the first build of a Create) looks
         * its inputs up here. */
        r = boot_image_build_check(b, e);
        if (r < 0)
                return r;
        /* With a kit, the list starts with the always-added ones (boot_image_build_new()); without
         * one it is empty, as optional components need the kit. */
        if (strv_length(b->component_dirs) >= ELEMENTSOF(winpe_always_added))
                kit_drop_absent(b->component_dirs, ELEMENTSOF(winpe_always_added));
        r = image_output_dir_prepare(b->output_path, e);
        if (r < 0)
                return r;
        r = copy_inputs(b, &pre_exec, &bitmap, e);
        if (r >= 0) {
                BootImageConfig config = {
                        .architecture = b->architecture,
                        .osd_bin_root = b->osd_bin_root,
                        .enable_lab_shell = b->enable_lab_shell,
                        .pre_exec_command_line = b->pre_exec_command_line,
                        .pre_exec_source_directory = pre_exec,
                        .background_bitmap_path = bitmap,
                        .drivers = b->drivers,
                        .n_drivers = b->n_drivers,
                        .component_dirs = (const char *const *) b->component_dirs,
                        .n_components = strv_length(b->component_dirs),
                        .scratch_space_mb = b->scratch_space_mb,
                };
                r = boot_image_plan(&config, &plan, e);
        }
        if (r < 0) {
                drop_inputs(b);
                remove_output_dir_if_empty(b->output_path);
                return r;
        }

        ImagingBuild build = {
                .source_path = b->source_path,
                .image_index = b->image_index,
                .output_path = b->output_path,
                .adds = plan.adds,
                .n_adds = plan.n_adds,
                .files = plan.files,
                .n_files = plan.n_files,
                .scratch_space_mb = plan.scratch_space_mb,
                .progress = image_job_progress,
                .step = image_job_step,
                .userdata = job,
        };
        r = imaging_build(&build, &b->result, e);
        boot_image_plan_done(&plan);
        /* The copies are read; they go now rather than with the job. */
        drop_inputs(b);
        /* Renamed into its version folder, not yet committed. */
        if (r >= 0 && !image_job_step(job, "renamed"))
                r = sms_error_set(e, SMS_ERROR_CANCELED, "the build was canceled");
        if (r >= 0) {
                job_set_progress(job, 100, 100, b->result.file_size, b->result.file_size, "Boot image built");
                job_defer_removal(job, TAKE_PTR(b->result.leftover));
        }
        return r;
}

/* --- exporting the default boot image ------------------------------------------------------------ */

DefaultImageExportJob *default_image_export_free(DefaultImageExportJob *x) {
        if (!x)
                return NULL;
        if (x->output_dir_fd >= 0)
                close(x->output_dir_fd);
        free(x->source_path);
        free(x->export_path);
        free(x->output_dir);
        free(x->output_path);
        free(x->output_name);
        free(x->private_dir);
        strv_free(x->component_dirs);
        imaging_build_result_done(&x->result);
        free(x);
        return NULL;
}

void default_image_export_free_void(void *x) {
        default_image_export_free(x);
}

int default_image_export_new(const Site *site, const char *adk_root, const char *architecture, unsigned index,
                             const char *export_path, DefaultImageExportJob **ret, SmsError *e) {
        const char *code = imaging_architecture_code(architecture);
        const char *adk_arch = code ? imaging_adk_arch_dir(code) : NULL;
        _cleanup_free_ char *dir = NULL;
        const char *name;
        DefaultImageExportJob *x;
        int r;

        if (!adk_arch)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                     "unknown architecture '%s' (x86, x64, arm64 or their numeric codes)", architecture);
        if (index == 0)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "ImageIndex is 1-based");
        if (!adk_root)
                return sms_error_set(e, SMS_ERROR_FAILED, "smsprovd was started without --adk-root");
        if (!export_path || export_path[0] != '/')
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "ExportImagePath '%s' is not an absolute path",
                                     export_path ? export_path : "");

        dir = strdup(export_path);
        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        name = export_path + (slash - dir) + 1;
        *slash = 0;
        if (!*name || streq(name, ".") || streq(name, "..") || strlen(name) > 255)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "ExportImagePath '%s' does not name a file",
                                     export_path);
        for (const unsigned char *p = (const unsigned char *) name; *p; p++)
                if (*p < 0x20 || *p == 0x7F)
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                             "ExportImagePath contains a control character");

        x = calloc(1, sizeof(DefaultImageExportJob));
        if (!x)
                return -ENOMEM;
        x->output_dir_fd = -1;
        x->image_index = index;
        x->roots = &site->roots;
        if (!(x->export_path = strdup(export_path)) || !(x->output_dir = strdup(*dir ? dir : "/")) ||
            !(x->output_name = strdup(name)) || asprintf(&x->private_dir, "%s/images/export", site->library_dir) < 0 ||
            asprintf(&x->source_path, "%s/%s/winpe.wim", adk_root, adk_arch) < 0) {
                r = -ENOMEM;
                goto fail;
        }
        x->component_dirs = calloc(ELEMENTSOF(winpe_always_added) + 1, sizeof(char *));
        if (!x->component_dirs) {
                r = -ENOMEM;
                goto fail;
        }
        /* Looked for in the job, as for builds (kit_drop_absent()). */
        for (size_t i = 0, n = 0; i < ELEMENTSOF(winpe_always_added); i++) {
                char path[4096];
                snprintf(path, sizeof path, "%s/%s/WinPE_OCs/%s", adk_root, adk_arch, winpe_always_added[i]);
                if (!(x->component_dirs[n++] = strdup(path))) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        *ret = x;
        return 0;
fail:
        default_image_export_free(x);
        return r;
}

int default_image_export_check(DefaultImageExportJob *x, SmsError *e) {
        struct stat st;
        int r;

        if (x->output_dir_fd >= 0)
                return 0;
        r = content_roots_resolve(x->roots, x->output_dir, PATH_KIND_DIRECTORY, &x->output_dir_fd, e);
        if (r < 0)
                return r;
        /* What is there already must be a file we may replace, not a directory or a device. */
        if (fstatat(x->output_dir_fd, x->output_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode))
                r = sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s exists and is not a regular file", x->export_path);
        else if (stat(x->source_path, &st) < 0 || !S_ISREG(st.st_mode))
                r = sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "the deployment kit has no %s", x->source_path);
        else if (asprintf(&x->output_path, "/proc/self/fd/%d/%s", x->output_dir_fd, x->output_name) < 0) {
                x->output_path = NULL;
                r = -ENOMEM;
        }
        if (r < 0) {
                close(x->output_dir_fd);
                x->output_dir_fd = -1;
        }
        return r;
}

/* Publishes the privately built image as `name` in the caller's folder: renamed there when both
 * are on one file system, else copied into a temporary created beside it (O_EXCL, no link
 * followed) and renamed. Every step is relative to the confined folder descriptor. */
static int publish_export(DefaultImageExportJob *x, const char *built, SmsError *e) {
        _cleanup_close_ int in_fd = -1, out_fd = -1;
        char tmp[64];
        struct stat st;
        int r = 0;

        if (renameat(AT_FDCWD, built, x->output_dir_fd, x->output_name) == 0)
                goto sync;
        if (errno != EXDEV)
                return sms_error_set_errno(e, errno, "cannot write %s", x->output_path);

        in_fd = open(built, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (in_fd < 0 || fstat(in_fd, &st) < 0)
                return sms_error_set_errno(e, errno, "cannot read %s", built);
        for (unsigned i = 0; out_fd < 0 && i < 100; i++) {
                snprintf(tmp, sizeof tmp, ".export.tmp-%08x", (unsigned) random());
                out_fd = openat(x->output_dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (out_fd < 0 && errno != EEXIST)
                        return sms_error_set_errno(e, errno, "cannot create a temporary file beside %s", x->output_path);
        }
        if (out_fd < 0)
                return sms_error_set_errno(e, EEXIST, "cannot create a temporary file beside %s", x->output_path);
        for (off_t done = 0; r >= 0 && done < st.st_size;) {
                ssize_t n = copy_file_range(in_fd, NULL, out_fd, NULL, (size_t) (st.st_size - done), 0);
                if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL)) {
                        char buf[1 << 16];
                        n = read(in_fd, buf, sizeof buf);
                        for (ssize_t w = 0, k; n > 0 && w < n; w += k)
                                if ((k = write(out_fd, buf + w, (size_t) (n - w))) < 0) {
                                        n = -1;
                                        break;
                                }
                }
                if (n <= 0)
                        r = sms_error_set_errno(e, n < 0 ? errno : EIO, "cannot write %s", x->output_path);
                else
                        done += n;
        }
        if (r >= 0 && fsync(out_fd) < 0)
                r = sms_error_set_errno(e, errno, "cannot write %s", x->output_path);
        if (r >= 0 && renameat(x->output_dir_fd, tmp, x->output_dir_fd, x->output_name) < 0)
                r = sms_error_set_errno(e, errno, "cannot write %s", x->output_path);
        if (r < 0) {
                (void) unlinkat(x->output_dir_fd, tmp, 0);
                return r;
        }
        (void) unlink(built);
sync:;
        /* The folder's descriptor is O_PATH: fsync needs one opened for reading. */
        _cleanup_close_ int dir_fd = openat(x->output_dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0 || fsync(dir_fd) < 0)
                return sms_error_set_errno(e, errno, "cannot sync the folder of %s", x->output_path);
        return 0;
}

int default_image_export_work(Job *job, void *userdata, SmsError *e) {
        DefaultImageExportJob *x = userdata;
        size_t n = (kit_drop_absent(x->component_dirs, SIZE_MAX), strv_length(x->component_dirs));
        _cleanup_free_ ImagingAdd *adds = calloc(n ? n : 1, sizeof(ImagingAdd));
        _cleanup_free_ char *staging = NULL, *built = NULL;
        int r;

        if (!adds)
                return -ENOMEM;
        r = default_image_export_check(x, e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                adds[i] = (ImagingAdd) { .source = x->component_dirs[i], .target = "\\" };

        /* wimlib keeps the realpath() of the file it writes and opens it by that name again, so
         * the image is not built in the caller's folder, where a rename could swap a link in
         * under that name: it is built in a private copy under the state directory (swept at
         * start-up as a ".staging-" folder) and published through the folder's descriptor. */
        r = asprintf(&built, "%s/%s", x->private_dir, x->output_name);
        if (r < 0)
                return -ENOMEM;
        r = image_output_dir_prepare(built, e);
        if (r < 0)
                return r;
        if (asprintf(&staging, "%s/.export.staging-XXXXXX", x->private_dir) < 0)
                return -ENOMEM;
        if (!mkdtemp(staging)) {
                r = sms_error_set_errno(e, errno, "cannot create %s", staging);
                free(TAKE_PTR(staging));
                return r;
        }
        free(built);
        if (asprintf(&built, "%s/%s", staging, x->output_name) < 0) {
                built = NULL;
                (void) path_remove_tree(staging);
                return -ENOMEM;
        }

        ImagingBuild build = {
                .source_path = x->source_path,
                .image_index = x->image_index,
                .output_path = built,
                .adds = adds,
                .n_adds = n,
                .progress = image_job_progress,
                .userdata = job,
        };
        job_set_progress(job, 0, 100, 0, 0, "Exporting the default boot image");
        r = imaging_build(&build, &x->result, e);
        if (r >= 0)
                r = publish_export(x, built, e);
        if (r >= 0)
                job_set_progress(job, 100, 100, x->result.file_size, x->result.file_size, "Exported");
        /* Nothing is replaced in the private folder: no leftover; the folder goes now. */
        if (x->result.leftover) {
                (void) path_remove_tree(x->result.leftover);
                free(x->result.leftover);
                x->result.leftover = NULL;
        }
        (void) path_remove_tree(staging);
        return r;
}
