/* SPDX-License-Identifier: MIT */
/* The site library's own published trees, <site_lib>/DataLib/<id>/: a version's files as hard
 * links of their FileLib entries (copies where the file system refuses links), for content the
 * site itself reads by path, such as the driver catalog's copies (SMS_Driver.ContentSourcePath).
 * Built beside and swapped in whole, as on a distribution point (datalib.c); removed with the
 * package's manifests and the FileLib entries only they named. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "content/content-internal.h"

int content_hash_data(const void *data, size_t size, char ret_hex[static CONTENT_HASH_HEX + 1]) {
        _cleanup_(content_hasher_freep) ContentHasher *h = content_hasher_new();
        int r;

        if (!h)
                return -ENOMEM;
        r = content_hasher_update(h, data, size);
        return r < 0 ? r : content_hasher_final(h, ret_hex);
}

static int open_lib(const char *site_lib, ContentLib *ret, int *ret_datalib_fd, SmsError *e) {
        int fd = open(site_lib, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

        if (fd < 0)
                return sms_error_set_errno(e, errno, "site content library %s", site_lib);
        r = content_lib_open(fd, false, ret);
        if (r < 0)
                return sms_error_set_errno(e, r, "site content library %s", site_lib);
        *ret_datalib_fd = content_open_dir_at(ret->root_fd, "DataLib", true);
        if (*ret_datalib_fd < 0)
                return sms_error_set_errno(e, *ret_datalib_fd, "%s/DataLib", site_lib);
        return 0;
}

int content_site_publish(const char *site_lib, const char *package_id, uint32_t version, SmsError *e) {
        _cleanup_(content_lib_close) ContentLib lib = CONTENT_LIB_NULL;
        _cleanup_(content_manifest_done) ContentManifest m = {};
        _cleanup_close_ int datalib_fd = -1, lock_fd = -1;
        _cleanup_free_ void *buffer = NULL;
        ContentTree t = CONTENT_TREE_NULL;
        bool exchanged;
        int r;

        r = content_check_package_id(package_id, e);
        if (r < 0)
                return r;
        r = content_manifest_read(site_lib, package_id, version, &m, e);
        if (r < 0)
                return r;
        r = open_lib(site_lib, &lib, &datalib_fd, e);
        if (r < 0)
                return r;
        /* Shared, as an ingest: gc must not decide about FileLib while links to it are made. */
        lock_fd = content_lib_lock(&lib, false);
        if (lock_fd < 0)
                return sms_error_set_errno(e, lock_fd, "locking %s", site_lib);
        content_tree_clean_stale(datalib_fd, package_id);
        if (content_tree_matches(datalib_fd, package_id, lib.filelib_fd, NULL, &m))
                return 0;

        buffer = malloc(CONTENT_CHUNK);
        if (!buffer)
                return -ENOMEM;
        ContentPlacer placer = { .mode = CONTENT_LINK_AUTO, .buffer = buffer };
        r = content_tree_new(datalib_fd, package_id, &t);
        for (size_t i = 0; r >= 0 && i < m.n_files; i++) {
                char name[CONTENT_HASH_HEX + 4];
                const char *base;
                int dir_fd = content_tree_parent(&t, m.files[i].path, &base);
                if (dir_fd < 0) {
                        r = dir_fd;
                        break;
                }
                content_filelib_name(m.files[i].hash, name);
                r = content_place_file(&placer, lib.filelib_fd, name, dir_fd, base);
        }
        if (r >= 0)
                r = content_tree_sync(&t);
        if (r >= 0)
                r = content_tree_publish(&t, package_id, &exchanged);
        content_tree_done(&t); /* the tree it replaced, if any */
        if (r < 0)
                return sms_error_set_errno(e, r, "%s/DataLib/%s", site_lib, package_id);
        return 0;
}

int content_site_remove(const char *site_lib, const char *package_id, SmsError *e) {
        _cleanup_(content_lib_close) ContentLib lib = CONTENT_LIB_NULL;
        _cleanup_close_ int datalib_fd = -1;
        int r;

        r = content_check_package_id(package_id, e);
        if (r < 0)
                return r;
        r = open_lib(site_lib, &lib, &datalib_fd, e);
        if (r == -ENOENT) { /* no library: nothing in it */
                sms_error_clear(e);
                return 0;
        }
        if (r < 0)
                return r;
        /* The tree first: from then on nothing reads the package by path. A crash before the
         * manifests go leaves a package without a tree, which the next sweep finds again. */
        r = content_tree_remove(datalib_fd, package_id);
        if (r < 0)
                return sms_error_set_errno(e, r, "%s/DataLib/%s", site_lib, package_id);
        return content_gc_lib(&lib, package_id, 0, e);
}

/* Adds the names in `dir_fd` that start with `prefix` (no temporaries: they hold a '.') to *l. */
static int list_prefixed(int dir_fd, const char *prefix, char ***l) {
        size_t n = strlen(prefix);
        int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3), r = 0;
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

        if (!d) {
                if (fd >= 0)
                        close(fd);
                return -errno;
        }
        rewinddir(d);
        for (struct dirent *de; r >= 0 && (de = readdir(d));)
                if (strncmp(de->d_name, prefix, n) == 0 && !strchr(de->d_name, '.') && !strv_contains(*l, de->d_name))
                        r = strv_extend(l, de->d_name);
        closedir(d);
        return r;
}

int content_site_list(const char *site_lib, const char *prefix, char ***ret, SmsError *e) {
        _cleanup_(content_lib_close) ContentLib lib = CONTENT_LIB_NULL;
        _cleanup_close_ int datalib_fd = -1;
        _cleanup_strv_free_ char **l = NULL;
        int r;

        r = open_lib(site_lib, &lib, &datalib_fd, e);
        if (r == -ENOENT) /* no library: nothing in it */
                sms_error_clear(e);
        else if (r < 0)
                return r;
        else {
                r = list_prefixed(lib.pkglib_fd, prefix, &l);
                if (r >= 0)
                        r = list_prefixed(datalib_fd, prefix, &l);
                if (r < 0)
                        return sms_error_set_errno(e, r, "listing %s", site_lib);
        }
        if (!l && !(l = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}
