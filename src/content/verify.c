/* SPDX-License-Identifier: MIT */
/* content_dp_verify(): every byte of the version a DP serves, hashed again: the FileLib entry and
 * the published DataLib file (once when they are one inode, as hard links are). What differs is
 * dropped from the DP's list of checked entries (checked.c), so that the next distribution (a
 * RefreshNow) hashes it again and replaces it, even when the damage left its metadata alone. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "content/content-internal.h"

typedef struct Verify {
        const ContentManifest *manifest;
        int filelib_fd, datalib_fd;
        bool *bad;
} Verify;

static bool tick_workers(void *userdata, uint64_t bytes) {
        return content_workers_tick(userdata, bytes);
}

static bool tick_quiet(void *userdata, uint64_t bytes) {
        return content_workers_tick(userdata, 0);
}

/* 1: the content matches, 0: it does not (or cannot be read), negative: stop (cancel, no memory). */
static int check_fd(ContentWorkers *w, int fd, const ContentFile *f, void *buffer, bool count) {
        _cleanup_(content_hasher_freep) ContentHasher *h = content_hasher_new();
        char hex[CONTENT_HASH_HEX + 1];
        int64_t n;

        if (!h)
                return -ENOMEM;
        n = content_hash_fd(fd, buffer, h, hex, count ? tick_workers : tick_quiet, w);
        if (n == -ECANCELED || n == -ENOMEM)
                return (int) n;
        /* A short (truncated) file still counts as its manifest size in the progress. */
        if (count && n >= 0 && (uint64_t) n < f->size && !content_workers_tick(w, f->size - (uint64_t) n))
                return -ECANCELED;
        return n >= 0 && (uint64_t) n == f->size && streq(hex, f->hash);
}

static int open_regular(int fd, struct stat *st) {
        if (fd < 0)
                return -errno;
        if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
                close(fd);
                return -EBADF;
        }
        return fd;
}

static int verify_item(ContentWorkers *w, size_t index, void *buffer, SmsError *e) {
        Verify *v = w->userdata;
        const ContentFile *f = &v->manifest->files[index];
        char name[CONTENT_HASH_HEX + 4];
        _cleanup_close_ int fl = -1, dl = -1;
        struct stat fl_st, dl_st;
        int r;

        content_filelib_name(f->hash, name);
        fl = open_regular(openat(v->filelib_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC),
                          &fl_st);
        dl = v->datalib_fd < 0 ? -ENOENT
                               : content_open_below(v->datalib_fd, f->path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
        if (dl >= 0)
                dl = open_regular(dl, &dl_st);
        if (fl < 0 || dl < 0) {
                v->bad[index] = true;
                return content_workers_tick(w, f->size) ? 0 : -ECANCELED;
        }

        r = check_fd(w, fl, f, buffer, true);
        if (r == 1 && (fl_st.st_dev != dl_st.st_dev || fl_st.st_ino != dl_st.st_ino))
                r = check_fd(w, dl, f, buffer, false);
        if (r < 0)
                return r == -ECANCELED ? r : sms_error_set_errno(e, -r, "verifying %s", f->path);
        v->bad[index] = r == 0;
        return 0;
}

static void forget_bad(const ContentLib *lib, const char *package_id, const ContentManifest *m, const bool *bad) {
        _cleanup_(content_stat_cache_done) ContentStatCache c = {};
        size_t k = 0;

        content_checked_load(lib->root_fd, package_id, &c);
        for (size_t j = 0; j < m->n_files; j++) {
                char name[CONTENT_HASH_HEX + 4];
                ContentStatEntry *entry;

                if (!bad[j])
                        continue;
                content_filelib_name(m->files[j].hash, name);
                entry = (ContentStatEntry *) content_stat_cache_find(&c, name);
                if (entry)
                        entry->inode = 0; /* matches no file */
        }
        for (size_t i = 0; i < c.n_entries; i++) {
                if (c.entries[i].inode == 0)
                        free(c.entries[i].path);
                else
                        c.entries[k++] = c.entries[i];
        }
        c.n_entries = k;
        (void) content_checked_save(lib->root_fd, package_id, &c, NULL);
}

int content_dp_verify(const char *dp_root, const char *package_id, ContentProgress progress, void *userdata,
                      char ***ret_bad_paths, SmsError *e) {
        _cleanup_(content_manifest_done) ContentManifest m = {};
        _cleanup_(content_lib_close) ContentLib lib = CONTENT_LIB_NULL;
        _cleanup_close_ int dp_fd = -1, lib_fd = -1, pkg_fd = -1, datalib_fd = -1;
        _cleanup_free_ bool *bad = NULL;
        _cleanup_free_ char *datalib = NULL;
        char **paths;
        size_t n_bad = 0;
        uint32_t version = 0;
        int r;

        r = content_dp_open_for_package(dp_root, package_id, &dp_fd, e);
        if (r < 0)
                return r;
        lib_fd = openat(dp_fd, "SCCMContentLib", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (lib_fd >= 0) {
                r = content_lib_open(TAKE_FD(lib_fd), false, &lib);
                if (r < 0 && r != -ENOENT)
                        return sms_error_set_errno(e, r, "%s/SCCMContentLib", dp_root);
        }
        if (lib.pkglib_fd >= 0)
                pkg_fd = openat(lib.pkglib_fd, package_id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (pkg_fd >= 0) {
                r = content_current_read_at(pkg_fd, &version);
                if (r == -EBADMSG)
                        return sms_error_set(e, SMS_ERROR_FAILED, "%s: current version of %s is damaged", dp_root,
                                             package_id);
                if (r < 0)
                        return sms_error_set_errno(e, r, "%s: current version of %s", dp_root, package_id);
        }
        if (version == 0)
                return sms_error_set(e, SMS_ERROR_NOT_FOUND, "package %s is not on distribution point %s", package_id,
                                     dp_root);
        r = content_manifest_read_at(lib.pkglib_fd, package_id, version, &m, e);
        if (r < 0)
                return r;

        if (asprintf(&datalib, "DataLib/%s", package_id) < 0)
                return -ENOMEM;
        datalib_fd = openat(lib.root_fd, datalib, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        bad = calloc(MAX(m.n_files, (size_t) 1), sizeof *bad);
        if (!bad)
                return -ENOMEM;

        Verify v = { .manifest = &m, .filelib_fd = lib.filelib_fd, .datalib_fd = datalib_fd, .bad = bad };
        ContentWorkers w = {
                .n_items = m.n_files, .item = verify_item, .userdata = &v, .progress = progress,
                .progress_userdata = userdata, .total = m.total_bytes, .text = "Verifying content",
        };
        r = content_workers_run(&w, e);
        if (r < 0)
                return r;

        for (size_t i = 0; i < m.n_files; i++)
                n_bad += bad[i];
        if (n_bad > 0)
                forget_bad(&lib, package_id, &m, bad);
        paths = calloc(n_bad + 1, sizeof *paths);
        if (!paths)
                return -ENOMEM;
        for (size_t i = 0, k = 0; i < m.n_files; i++)
                if (bad[i] && !(paths[k++] = strdup(m.files[i].path))) {
                        strv_free(paths);
                        return -ENOMEM;
                }
        *ret_bad_paths = paths;
        return 0;
}
