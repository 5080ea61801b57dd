/* SPDX-License-Identifier: MIT */
/* content_site_scrub(): every file of the site library's FileLib hashed again, like a file system
 * scrub: damage that leaves a file's metadata alone (a bad sector) is invisible to the identity
 * check of checked.c and is found only so. An entry that does not match its name is removed: a
 * missing entry is never published, and the next ingest of a package naming it takes it again
 * from the package source. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "content/content-internal.h"

typedef struct ScrubEntry {
        char name[CONTENT_HASH_HEX + 4]; /* "aa/<sha256>" */
        uint64_t size;
        bool bad;
} ScrubEntry;

typedef struct Scrub {
        ContentLib lib;
        ScrubEntry *entries;
        size_t n, allocated;
} Scrub;

static void scrub_done(Scrub *s) {
        free(s->entries);
        content_lib_close(&s->lib);
}

static bool tick_workers(void *userdata, uint64_t bytes) {
        return content_workers_tick(userdata, bytes);
}

static int collect(Scrub *s, uint64_t *ret_total) {
        uint64_t total = 0;

        for (unsigned i = 0; i < 256; i++) {
                char prefix[3];
                int fd;
                DIR *d;

                snprintf(prefix, sizeof prefix, "%02x", i);
                fd = openat(s->lib.filelib_fd, prefix, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0) {
                        if (errno == ENOENT)
                                continue;
                        return -errno;
                }
                d = fdopendir(fd);
                if (!d) {
                        close(fd);
                        return -ENOMEM;
                }
                for (struct dirent *de; (de = readdir(d));) {
                        struct stat st;
                        if (!content_hash_is_valid(de->d_name) || strncmp(de->d_name, prefix, 2) != 0)
                                continue;
                        if (s->n == s->allocated) {
                                size_t k = s->allocated ? s->allocated * 2 : 256;
                                ScrubEntry *n = k <= CONTENT_FILES_MAX * 4 ? realloc(s->entries, k * sizeof *n) : NULL;
                                if (!n) {
                                        closedir(d);
                                        return -ENOMEM;
                                }
                                s->entries = n;
                                s->allocated = k;
                        }
                        ScrubEntry *entry = &s->entries[s->n++];
                        *entry = (ScrubEntry) {};
                        content_filelib_name(de->d_name, entry->name);
                        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
                                entry->size = (uint64_t) st.st_size;
                        total += entry->size;
                }
                closedir(d);
        }
        *ret_total = total;
        return 0;
}

static int scrub_item(ContentWorkers *w, size_t index, void *buffer, SmsError *e) {
        Scrub *s = w->userdata;
        ScrubEntry *entry = &s->entries[index];
        _cleanup_(content_hasher_freep) ContentHasher *h = NULL;
        char hex[CONTENT_HASH_HEX + 1];
        _cleanup_close_ int fd = -1;
        struct stat before, now;
        int64_t n;

        fd = openat(s->lib.filelib_fd, entry->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
                return content_workers_tick(w, entry->size) ? 0 : -ECANCELED; /* removed meanwhile (gc) */
        if (fd >= 0 && fstat(fd, &before) == 0 && S_ISREG(before.st_mode)) {
                h = content_hasher_new();
                if (!h)
                        return sms_error_set_errno(e, ENOMEM, "SHA-256");
                n = content_hash_fd(fd, buffer, h, hex, tick_workers, w);
                if (n == -ECANCELED)
                        return (int) n;
                if (n >= 0 && streq(hex, entry->name + 3))
                        return 0;
        } else
                memset(&before, 0, sizeof before);
        /* Removed only if it is still what was read: an ingest may have just replaced it. */
        if (fstatat(s->lib.filelib_fd, entry->name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
            (fd < 0 || (now.st_ino == before.st_ino && now.st_dev == before.st_dev &&
                        content_timespec_ns(&now.st_ctim) == content_timespec_ns(&before.st_ctim))))
                (void) unlinkat(s->lib.filelib_fd, entry->name, 0);
        entry->bad = true;
        return 0;
}

/* The packages with a manifest that names a removed entry. */
static int affected_packages(Scrub *s, const char *const *bad, char ***ret) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        size_t n = 0;
        int fd;
        DIR *top;

        if (!l)
                return -ENOMEM;
        fd = fcntl(s->lib.pkglib_fd, F_DUPFD_CLOEXEC, 3);
        top = fd >= 0 ? fdopendir(fd) : NULL;
        if (!top) {
                if (fd >= 0)
                        close(fd);
                return -errno;
        }
        for (struct dirent *de; (de = readdir(top));) {
                _cleanup_close_ int pkg_fd = -1;
                bool hit = false;
                DIR *pd;

                if (!content_package_id_is_valid(de->d_name))
                        continue;
                pkg_fd = openat(s->lib.pkglib_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                fd = pkg_fd >= 0 ? fcntl(pkg_fd, F_DUPFD_CLOEXEC, 3) : -1;
                pd = fd >= 0 ? fdopendir(fd) : NULL;
                if (!pd) {
                        if (fd >= 0)
                                close(fd);
                        continue;
                }
                for (struct dirent *me; !hit && (me = readdir(pd));) {
                        _cleanup_(content_manifest_done) ContentManifest m = {};
                        uint32_t v = content_manifest_name_version(me->d_name);
                        if (v == 0 || content_manifest_read_at(s->lib.pkglib_fd, de->d_name, v, &m, NULL) < 0)
                                continue;
                        for (size_t i = 0; !hit && i < m.n_files; i++)
                                for (size_t j = 0; !hit && bad[j]; j++)
                                        hit = streq(m.files[i].hash, bad[j]);
                }
                closedir(pd);
                if (!hit)
                        continue;
                char **k = realloc(l, (n + 2) * sizeof *k);
                if (!k) {
                        closedir(top);
                        return -ENOMEM;
                }
                l = k;
                if (!(l[n] = strdup(de->d_name))) {
                        closedir(top);
                        return -ENOMEM;
                }
                l[++n] = NULL;
        }
        closedir(top);
        *ret = TAKE_PTR(l);
        return 0;
}

int content_site_scrub(const char *site_lib, ContentProgress progress, void *userdata, char ***ret_bad,
                       char ***ret_packages, SmsError *e) {
        _cleanup_(scrub_done) Scrub s = { .lib = CONTENT_LIB_NULL };
        _cleanup_strv_free_ char **bad = NULL, **packages = NULL;
        _cleanup_close_ int lock_fd = -1;
        ContentWorkers w;
        uint64_t total = 0;
        size_t n_bad = 0;
        int fd, r;

        if (!site_lib)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "no site content library");
        fd = open(site_lib, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
                r = -ENOENT;
        else if (fd < 0)
                return sms_error_set_errno(e, errno, "site content library %s", site_lib);
        else
                r = content_lib_open(fd, false, &s.lib);
        if (r == -ENOENT) { /* nothing ingested yet: nothing to scrub */
                bad = calloc(1, sizeof(char *));
                packages = calloc(1, sizeof(char *));
                if (!bad || !packages)
                        return -ENOMEM;
                goto done;
        }
        if (r < 0)
                return sms_error_set_errno(e, r, "site content library %s", site_lib);
        /* Shared: writers may go on; content_gc waits (a removal of ours is never a surprise to it). */
        lock_fd = content_lib_lock(&s.lib, false);
        if (lock_fd < 0)
                return sms_error_set_errno(e, lock_fd, "locking %s", site_lib);

        r = collect(&s, &total);
        if (r < 0)
                return sms_error_set_errno(e, r, "%s/FileLib", site_lib);
        w = (ContentWorkers) {
                .n_items = s.n, .item = scrub_item, .userdata = &s, .progress = progress,
                .progress_userdata = userdata, .total = total, .text = "Scrubbing the content library",
        };
        r = content_workers_run(&w, e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s.n; i++)
                n_bad += s.entries[i].bad;
        bad = calloc(n_bad + 1, sizeof(char *));
        if (!bad)
                return -ENOMEM;
        for (size_t i = 0, k = 0; i < s.n; i++)
                if (s.entries[i].bad && !(bad[k++] = strdup(s.entries[i].name + 3)))
                        return -ENOMEM;
        r = affected_packages(&s, (const char *const *) bad, &packages);
        if (r < 0)
                return sms_error_set_errno(e, r, "%s/PkgLib", site_lib);
done:
        if (ret_bad)
                *ret_bad = TAKE_PTR(bad);
        if (ret_packages)
                *ret_packages = TAKE_PTR(packages);
        return 0;
}
