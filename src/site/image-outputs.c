/* SPDX-License-Identifier: MIT */

/* Build outputs: their names, their folders, and the start-up sweep of those no row names. See
 * smsprov/image-outputs.h for the layout. */

#include <dirent.h>
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

#include "smsprov/image-outputs.h"
#include "smsprov/macro.h"
#include "smsprov/path.h"
#include "util/log.h"

int image_output_path(const char *library_dir, const char *package_id, const char *image_path, uint32_t version,
                      char **ret) {
        _cleanup_free_ char *copy = strdup(image_path), *base = NULL;
        int r;

        if (!copy)
                return -ENOMEM;
        base = strdup(basename(copy));
        if (!base)
                return -ENOMEM;
        size_t len = strlen(base);
        if (len > 4 && strcasecmp(base + len - 4, ".wim") == 0)
                base[len - 4] = 0;
        if (version > 0)
                r = asprintf(ret, "%s/images/%s/%" PRIu32 "/%s.%s.wim", library_dir, package_id, version, base, package_id);
        else
                r = asprintf(ret, "%s/images/%s/%s.%s.wim", library_dir, package_id, base, package_id);
        return r < 0 ? -ENOMEM : 0;
}

static bool is_version_name(const char *s, size_t n) {
        if (n == 0 || n > 10 || s[0] == '0')
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

/* "<base>.<PackageID>.wim", a plain name that is not hidden (temporaries are). */
static bool is_output_file_name(const char *name, const char *package_id) {
        _cleanup_free_ char *suffix = NULL;
        size_t n = strlen(name), k;

        if (n == 0 || name[0] == '.' || strchr(name, '/') || asprintf(&suffix, ".%s.wim", package_id) < 0)
                return false;
        k = strlen(suffix);
        return n > k && streq(name + n - k, suffix);
}

static bool is_output_entry_name(const char *name, const char *package_id) {
        return is_version_name(name, strlen(name)) || is_output_file_name(name, package_id);
}

char *image_output_entry(const char *library_dir, const char *package_id, const char *path) {
        _cleanup_free_ char *dir = NULL;
        const char *rest, *slash;
        size_t n;

        if (!path || asprintf(&dir, "%s/images/%s/", library_dir, package_id) < 0)
                return NULL;
        n = strlen(dir);
        if (strncmp(path, dir, n) != 0)
                return NULL;
        rest = path + n;
        slash = strchr(rest, '/');
        if (!slash)
                return is_output_file_name(rest, package_id) ? strdup(path) : NULL;
        if (!is_version_name(rest, (size_t) (slash - rest)) || !is_output_file_name(slash + 1, package_id))
                return NULL;
        return strndup(path, (size_t) (slash - path));
}

static int mkdir_durable(const char *dir, unsigned depth) {
        _cleanup_free_ char *parent = strdup(dir);
        _cleanup_close_ int fd = -1;

        if (!parent)
                return -ENOMEM;
        if (mkdir(dir, 0700) == 0)
                goto made;
        if (errno == EEXIST)
                return 0;
        if (errno != ENOENT || depth == 0)
                return -errno;
        /* The parent is missing too: <state>/images/ and <PackageID>/ may be new. */
        int r = mkdir_durable(dirname(parent), depth - 1);
        if (r < 0)
                return r;
        free(parent);
        if (!(parent = strdup(dir)))
                return -ENOMEM;
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -errno;
made:
        /* The new entry lasts only once its parent directory does. */
        fd = open(dirname(parent), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                return -errno;
        return 0;
}

int image_output_dir_prepare(const char *output_path, SmsError *e) {
        _cleanup_free_ char *dir = strdup(output_path);
        char *slash;
        int r;

        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return sms_error_set(e, SMS_ERROR_FAILED, "bad output path %s", output_path);
        *slash = 0;
        /* At most images/<PackageID>/<version>/ are new. */
        r = mkdir_durable(dir, 2);
        if (r < 0)
                return sms_error_set_errno(e, -r, "creating %s", dir);
        return 0;
}

/* imaging/build.c's temporaries: ".<name>.tmp-XXXXXX" files and ".<name>.staging-XXXXXX" folders. */
static bool is_build_temporary(const char *name) {
        return name[0] == '.' && (strstr(name, ".tmp-") || strstr(name, ".staging-"));
}

static void remove_entry(const char *images, const char *id, const char *name) {
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/%s/%s", images, id, name) < 0)
                return;
        log_info("Removing %s: no committed package names it.", path);
        (void) path_remove_tree(path);
}

static void sweep_temporaries(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d)))
                if (is_build_temporary(de->d_name)) {
                        _cleanup_free_ char *path = NULL;
                        if (asprintf(&path, "%s/%s", dir, de->d_name) >= 0)
                                (void) path_remove_tree(path);
                }
        closedir(d);
}

/* The entry of images/<id>/ that the committed row names, or NULL; *ret_gone only when the
 * database says there is no package of that ID (a failed read keeps everything). */
static char *committed_entry(Site *site, const char *id, bool *ret_gone) {
        const SmsClass *base = sms_model_find_class("SMS_PackageBaseclass");
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        SmsError e = SMS_ERROR_NULL;
        int i;

        *ret_gone = false;
        if (store_object_load(site->store, base, id, &o, &e) < 0) {
                *ret_gone = e.code == SMS_ERROR_NOT_FOUND;
                /* Keep everything when the read failed: nothing may be taken for unnamed. */
                sms_error_clear(&e);
                return NULL;
        }
        i = sms_class_find_property(base, "PkgSourcePath");
        if (i < 0 || o->values[i].null)
                return strdup("");
        return image_output_entry(site->library_dir, id, o->values[i].str) ?: strdup("");
}

void image_outputs_sweep(Site *site) {
        _cleanup_free_ char *images = NULL;
        DIR *d;
        struct dirent *de;

        if (asprintf(&images, "%s/images", site->library_dir) < 0 || !(d = opendir(images)))
                return;
        while ((de = readdir(d))) {
                _cleanup_free_ char *keep = NULL, *pkg_dir = NULL;
                bool gone;

                if (de->d_name[0] == '.' || de->d_type != DT_DIR)
                        continue;
                keep = committed_entry(site, de->d_name, &gone);
                if (!keep && !gone)
                        continue;
                if (gone) {
                        /* A Delete commits, then removes the folder: cut short in between. */
                        remove_entry(images, de->d_name, "");
                        continue;
                }
                if (asprintf(&pkg_dir, "%s/%s", images, de->d_name) < 0)
                        continue;
                DIR *p = opendir(pkg_dir);
                struct dirent *f;
                if (!p)
                        continue;
                while ((f = readdir(p))) {
                        _cleanup_free_ char *path = NULL;
                        if (!is_output_entry_name(f->d_name, de->d_name) ||
                            asprintf(&path, "%s/%s", pkg_dir, f->d_name) < 0)
                                continue;
                        if (streq(path, keep)) {
                                if (f->d_type == DT_DIR)
                                        sweep_temporaries(path);
                                continue;
                        }
                        remove_entry(images, de->d_name, f->d_name);
                }
                closedir(p);
        }
        closedir(d);
}
