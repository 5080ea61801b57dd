/* SPDX-License-Identifier: MIT */
/* The stat cache of a package's source (site library, cache/<PackageID>.stat): what each file's
 * hash was when it last had this size, inode, mtime and ctime, so that a refresh of unchanged
 * content costs a stat walk instead of reading every byte again.
 *
 * Text, written atomically after each successful ingest, sorted by path:
 *
 *     smsprovd-stat-cache 1
 *     <sha256> <size> <inode> <mtime ns> <ctime ns> <relative path>
 *
 * It only saves work: a file that is missing, damaged or of another format version is ignored
 * as a whole and the next ingest hashes everything. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "content/content-internal.h"

#define STAT_CACHE_HEADER "smsprovd-stat-cache 1\n"

int64_t content_timespec_ns(const struct timespec *ts) {
        return (int64_t) ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static int64_t pinned_now_ns; /* content_clock_pin(); set only while no worker runs */

void content_clock_pin(int64_t now_ns) {
        pinned_now_ns = now_ns;
}

int64_t content_clock_now(void) {
        struct timespec now;

        if (pinned_now_ns != 0)
                return pinned_now_ns;
        (void) clock_gettime(CLOCK_REALTIME_COARSE, &now);
        return content_timespec_ns(&now);
}

bool content_stat_settled(const struct stat *st, int64_t now_ns) {
        return content_timespec_ns(&st->st_ctim) < now_ns && content_timespec_ns(&st->st_mtim) < now_ns;
}

void content_stat_cache_done(ContentStatCache *c) {
        if (!c)
                return;
        for (size_t i = 0; i < c->n_entries; i++)
                free(c->entries[i].path);
        free(c->entries);
        *c = (ContentStatCache) {};
}

static char *cache_name(const char *package_id) {
        char *n = NULL;
        return asprintf(&n, "%s.stat", package_id) < 0 ? NULL : n;
}

/* One line into *entry; false when it is not what save() writes. */
static bool parse_line(char *line, ContentStatEntry *entry) {
        int consumed = -1;

        if (sscanf(line, "%64[0-9a-f] %" SCNu64 " %" SCNu64 " %" SCNd64 " %" SCNd64 "%n", entry->hash, &entry->size,
                   &entry->inode, &entry->mtime_ns, &entry->ctime_ns, &consumed) != 5 ||
            consumed <= 0 || line[consumed] != ' ')
                return false;
        /* The path is everything after exactly one space: it may itself begin with one. */
        if (!content_hash_is_valid(entry->hash) || !content_relative_path_is_valid(line + consumed + 1))
                return false;
        entry->path = strdup(line + consumed + 1);
        return entry->path != NULL;
}

void content_stat_cache_load(int cache_dir_fd, const char *package_id, ContentStatCache *ret) {
        _cleanup_free_ char *name = cache_name(package_id);

        *ret = (ContentStatCache) {};
        if (name)
                content_stat_cache_load_name(cache_dir_fd, name, ret);
}

void content_stat_cache_load_name(int cache_dir_fd, const char *name, ContentStatCache *ret) {
        _cleanup_(content_stat_cache_done) ContentStatCache c = {};
        _cleanup_free_ char *data = NULL;
        size_t size, allocated = 0;
        char *p, *eol;

        *ret = (ContentStatCache) {};
        if (content_read_file_at(cache_dir_fd, name, CONTENT_MANIFEST_SIZE_MAX, &data, &size) < 0)
                return;
        if (strlen(data) != size || strncmp(data, STAT_CACHE_HEADER, strlen(STAT_CACHE_HEADER)) != 0)
                return;
        for (p = data + strlen(STAT_CACHE_HEADER); *p; p = eol + 1) {
                ContentStatEntry entry = {};

                eol = strchr(p, '\n');
                if (!eol)
                        return; /* torn: cannot happen with atomic writes, but cheap to refuse */
                *eol = 0;
                if (!parse_line(p, &entry))
                        return;
                if (c.n_entries > 0 && strcmp(c.entries[c.n_entries - 1].path, entry.path) >= 0) {
                        free(entry.path);
                        return;
                }
                if (c.n_entries == allocated) {
                        size_t k = allocated ? allocated * 2 : 64;
                        ContentStatEntry *n = k <= CONTENT_FILES_MAX ? realloc(c.entries, k * sizeof *n) : NULL;
                        if (!n) {
                                free(entry.path);
                                return;
                        }
                        c.entries = n;
                        allocated = k;
                }
                c.entries[c.n_entries++] = entry;
        }
        *ret = c;
        c = (ContentStatCache) {};
}

int content_stat_cache_save(int cache_dir_fd, const char *package_id, const ContentStatCache *c) {
        _cleanup_free_ char *name = cache_name(package_id);

        return name ? content_stat_cache_save_name(cache_dir_fd, name, c) : -ENOMEM;
}

int content_stat_cache_save_name(int cache_dir_fd, const char *name, const ContentStatCache *c) {
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        f = open_memstream(&data, &size);
        if (!f)
                return -ENOMEM;
        fputs(STAT_CACHE_HEADER, f);
        for (size_t i = 0; i < c->n_entries; i++) {
                const ContentStatEntry *s = &c->entries[i];
                fprintf(f, "%s %" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 " %s\n", s->hash, s->size, s->inode,
                        s->mtime_ns, s->ctime_ns, s->path);
        }
        if (fclose(f) != 0 || !data)
                return -ENOMEM;
        r = content_write_file_atomic(cache_dir_fd, name, data, size);
        return r;
}

static int compare_path(const void *key, const void *entry) {
        return strcmp(key, ((const ContentStatEntry *) entry)->path);
}

const ContentStatEntry *content_stat_cache_find(const ContentStatCache *c, const char *path) {
        if (c->n_entries == 0)
                return NULL;
        return bsearch(path, c->entries, c->n_entries, sizeof *c->entries, compare_path);
}

bool content_stat_cache_equal(const ContentStatCache *a, const ContentStatCache *b) {
        if (a->n_entries != b->n_entries)
                return false;
        for (size_t i = 0; i < a->n_entries; i++) {
                const ContentStatEntry *x = &a->entries[i], *y = &b->entries[i];
                if (!streq(x->path, y->path) || !streq(x->hash, y->hash) || x->size != y->size ||
                    x->inode != y->inode || x->mtime_ns != y->mtime_ns || x->ctime_ns != y->ctime_ns)
                        return false;
        }
        return true;
}

bool content_stat_entry_matches(const ContentStatEntry *entry, const struct stat *st) {
        return entry->size == (uint64_t) st->st_size && entry->inode == (uint64_t) st->st_ino &&
               entry->mtime_ns == content_timespec_ns(&st->st_mtim) &&
               entry->ctime_ns == content_timespec_ns(&st->st_ctim);
}
