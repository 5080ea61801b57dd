/* SPDX-License-Identifier: MIT */
/* Knowing that a FileLib entry holds the bytes its name says without reading it every time: the
 * identity it had when it was last hashed (content-internal.h, checked.c). An edit in place, a
 * truncation, a replacement (by another file or a symlink) or a removal all change the identity,
 * so the entry is hashed again before it is published; damage that leaves the metadata alone (a
 * bad sector) is what content_site_scrub() and content_dp_verify() are for. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "content/content-internal.h"

static int checked_name(const char *package_id, char ret[static CONTENT_PACKAGE_ID_MAX + 16]) {
        int n = snprintf(ret, CONTENT_PACKAGE_ID_MAX + 16, "%s" CONTENT_CHECKED_SUFFIX, package_id);
        return n < 0 || n >= CONTENT_PACKAGE_ID_MAX + 16 ? -ENAMETOOLONG : 0;
}

void content_checked_load(int root_fd, const char *package_id, ContentStatCache *ret) {
        char name[CONTENT_PACKAGE_ID_MAX + 16];
        _cleanup_close_ int fd = -1;

        *ret = (ContentStatCache) {};
        if (checked_name(package_id, name) < 0)
                return;
        fd = openat(root_fd, "cache", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0)
                content_stat_cache_load_name(fd, name, ret);
}

static int compare_entries(const void *a, const void *b) {
        return strcmp(((const ContentStatEntry *) a)->path, ((const ContentStatEntry *) b)->path);
}

int content_checked_save(int root_fd, const char *package_id, ContentStatCache *c, const ContentStatCache *loaded) {
        char name[CONTENT_PACKAGE_ID_MAX + 16];
        _cleanup_close_ int fd = -1;
        size_t k = 0;
        int r;

        r = checked_name(package_id, name);
        if (r < 0)
                return r;
        if (c->n_entries > 1)
                qsort(c->entries, c->n_entries, sizeof *c->entries, compare_entries);
        /* Two paths of one package with the same data: one entry, the identity seen last. */
        for (size_t i = 0; i < c->n_entries; i++) {
                if (k > 0 && streq(c->entries[k - 1].path, c->entries[i].path)) {
                        free(c->entries[k - 1].path);
                        c->entries[k - 1] = c->entries[i];
                } else
                        c->entries[k++] = c->entries[i];
        }
        c->n_entries = k;
        /* A refresh of unchanged content finds the list as it was: writing it again costs two fsyncs. */
        if (loaded && content_stat_cache_equal(c, loaded))
                return 0;
        fd = content_open_dir_at(root_fd, "cache", true);
        if (fd < 0)
                return fd;
        return content_stat_cache_save_name(fd, name, c);
}

int content_checked_add(ContentStatCache *c, const char *hash, const struct stat *st) {
        ContentStatEntry *n;
        char name[CONTENT_HASH_HEX + 4];

        if (st->st_ino == 0)
                return 0; /* good, but not to be trusted to a stat later */
        if (c->n_entries >= CONTENT_FILES_MAX)
                return 0;
        /* Grown by doubling: n_entries is a power of two exactly when the array is full. */
        if (c->n_entries == 0 || (c->n_entries & (c->n_entries - 1)) == 0) {
                size_t k = c->n_entries ? c->n_entries * 2 : 64;
                if (c->n_entries == 0 || c->n_entries >= 64) {
                        n = realloc(c->entries, k * sizeof *n);
                        if (!n)
                                return -ENOMEM;
                        c->entries = n;
                }
        }
        content_filelib_name(hash, name);
        n = &c->entries[c->n_entries];
        *n = (ContentStatEntry) {
                .path = strdup(name), .size = (uint64_t) st->st_size, .inode = (uint64_t) st->st_ino,
                .mtime_ns = content_timespec_ns(&st->st_mtim), .ctime_ns = content_timespec_ns(&st->st_ctim),
        };
        if (!n->path)
                return -ENOMEM;
        memcpy(n->hash, hash, sizeof n->hash);
        c->n_entries++;
        return 0;
}

static bool same_identity(const struct stat *a, const struct stat *b) {
        return a->st_size == b->st_size && a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
               content_timespec_ns(&a->st_mtim) == content_timespec_ns(&b->st_mtim) &&
               content_timespec_ns(&a->st_ctim) == content_timespec_ns(&b->st_ctim);
}

int content_filelib_check(int filelib_fd, const ContentStatCache *checked, const char *hash, uint64_t size,
                          void *buffer, ContentCopyTick tick, void *userdata, struct stat *ret_st) {
        _cleanup_(content_hasher_freep) ContentHasher *h = NULL;
        char name[CONTENT_HASH_HEX + 4], hex[CONTENT_HASH_HEX + 1];
        _cleanup_close_ int fd = -1;
        struct stat before, after;
        int64_t n, now;

        content_filelib_name(hash, name);
        if (fstatat(filelib_fd, name, &before, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISREG(before.st_mode) || (uint64_t) before.st_size != size)
                return 0;
        if (checked) {
                const ContentStatEntry *c = content_stat_cache_find(checked, name);
                if (c && streq(c->hash, hash) && content_stat_entry_matches(c, &before)) {
                        *ret_st = before;
                        return 1;
                }
        }

        fd = openat(filelib_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT || errno == ELOOP ? 0 : -errno;
        if (fstat(fd, &before) < 0)
                return -errno;
        if (!S_ISREG(before.st_mode) || (uint64_t) before.st_size != size)
                return 0;
        h = content_hasher_new();
        if (!h)
                return -ENOMEM;
        now = content_clock_now(); /* before the first byte is read: content_stat_settled() */
        n = content_hash_fd(fd, buffer, h, hex, tick, userdata);
        if (n == -ECANCELED || n == -ENOMEM)
                return (int) n;
        if (n < 0 || (uint64_t) n != size || !streq(hex, hash))
                return 0; /* unreadable counts as damaged: it cannot be published either */
        if (fstat(fd, &after) < 0)
                return -errno;
        *ret_st = after;
        /* As in the ingest: a change in the clock tick of our read would keep mtime and ctime. */
        if (!same_identity(&before, &after) || !content_stat_settled(&after, now))
                ret_st->st_ino = 0;
        return 1;
}
