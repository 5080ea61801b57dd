/* SPDX-License-Identifier: MIT */
/* content_site_ingest(): a package source into the site library. A stat walk decides what must be
 * read (the stat cache); what must be read is hashed while it is copied into FileLib, one file
 * per worker thread; the manifest is written once everything it names is durable. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "content/content-internal.h"
#include "smsprov/path.h"

#define WALK_PROGRESS_EVERY 4096

typedef struct SourceFile {
        char *path;      /* relative, '/'-separated */
        struct stat st;  /* from the walk; after reading, what was read */
        char hash[CONTENT_HASH_HEX + 1];
        bool cacheable;
        bool suspect;    /* unchanged in the source, but its FileLib entry is not known good */
        bool lib_bad;    /* its FileLib entry was hashed and does not match: replace it */
        char *tmp;       /* new data, hashed, waiting in FileLib/ under this name to be stored */
        struct stat lib_st; /* its FileLib entry, once known to match (st_ino 0: not to be recorded) */
} SourceFile;

typedef struct Ingest {
        const char *source, *package_id;
        int source_fd;   /* the source directory, or the source file itself */
        bool single;
        ContentLib lib;
        int lock_fd, cache_fd;
        ContentStatCache cache;   /* the stat cache as the last ingest left it */
        ContentStatCache checked; /* FileLib entries known good at the last ingest (checked.c) */
        SourceFile *files;
        size_t n_files, allocated;
        size_t *misses, n_misses;
        bool dirty[256];         /* FileLib/<aa>/ that got new entries, to be made durable */
        bool filelib_dirty;      /* FileLib/ got new <aa>/ */
        ContentProgress progress;
        void *userdata;
} Ingest;

static void ingest_done(Ingest *in) {
        for (size_t i = 0; i < in->n_files; i++) {
                if (in->files[i].tmp) /* hashed, not stored: canceled or failed */
                        (void) unlinkat(in->lib.filelib_fd, in->files[i].tmp, 0);
                free(in->files[i].tmp);
                free(in->files[i].path);
        }
        free(in->files);
        free(in->misses);
        content_stat_cache_done(&in->cache);
        content_stat_cache_done(&in->checked);
        if (in->source_fd >= 0)
                close(in->source_fd);
        if (in->cache_fd >= 0)
                close(in->cache_fd);
        if (in->lock_fd >= 0)
                close(in->lock_fd);
        content_lib_close(&in->lib);
}

static const char *kind_of(mode_t mode) {
        return S_ISLNK(mode)                   ? "a symbolic link"
               : S_ISFIFO(mode)                ? "a FIFO"
               : S_ISSOCK(mode)                ? "a socket"
               : S_ISCHR(mode) || S_ISBLK(mode) ? "a device node"
                                               : "a special file";
}

static int add_file(Ingest *in, char *path, const struct stat *st, SmsError *e) {
        if (in->n_files >= CONTENT_FILES_MAX) {
                free(path);
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "source %s holds more than %zu files", in->source,
                                     CONTENT_FILES_MAX);
        }
        if (in->n_files == in->allocated) {
                size_t k = in->allocated ? in->allocated * 2 : 256;
                SourceFile *n = realloc(in->files, k * sizeof *n);
                if (!n) {
                        free(path);
                        return -ENOMEM;
                }
                in->files = n;
                in->allocated = k;
        }
        in->files[in->n_files++] = (SourceFile) { .path = path, .st = *st };
        if (in->progress && in->n_files % WALK_PROGRESS_EVERY == 0 &&
            !in->progress(in->userdata, 0, 0, "Scanning the package source"))
                return sms_error_set(e, SMS_ERROR_CANCELED, "canceled");
        return 0;
}

/* Walks one directory of the source without following anything: links and special files are
 * refused by name, since a package must not publish what it only points at. */
static int walk_dir(Ingest *in, int fd, const char *prefix, unsigned depth, SmsError *e) {
        DIR *d;
        int r = 0;

        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return sms_error_set_errno(e, errno, "%s/%s", in->source, prefix);
        }
        for (struct dirent *de; r >= 0;) {
                _cleanup_free_ char *path = NULL;
                struct stat st;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                r = sms_error_set_errno(e, errno, "%s/%s", in->source, prefix);
                        break;
                }
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (asprintf(&path, "%s%s", prefix, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                if (!content_relative_path_is_valid(path)) {
                        r = sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                          "%s/%s: name with control characters or path too long", in->source, path);
                        break;
                }
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = sms_error_set_errno(e, errno, "%s/%s", in->source, path);
                        break;
                }
                if (S_ISREG(st.st_mode))
                        r = add_file(in, TAKE_PTR(path), &st, e);
                else if (S_ISDIR(st.st_mode)) {
                        _cleanup_free_ char *sub = NULL;
                        if (depth >= CONTENT_DEPTH_MAX) {
                                r = sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                                  "%s/%s is nested deeper than %d levels", in->source, path,
                                                  CONTENT_DEPTH_MAX);
                                break;
                        }
                        int sub_fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub_fd < 0) {
                                r = sms_error_set_errno(e, errno, "%s/%s", in->source, path);
                                break;
                        }
                        if (asprintf(&sub, "%s/", path) < 0) {
                                close(sub_fd);
                                r = -ENOMEM;
                                break;
                        }
                        r = walk_dir(in, sub_fd, sub, depth + 1, e);
                } else
                        r = sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                          "%s/%s is %s; a package source holds only files and directories",
                                          in->source, path, kind_of(st.st_mode));
        }
        closedir(d);
        return r;
}

static int compare_source_files(const void *a, const void *b) {
        return strcmp(((const SourceFile *) a)->path, ((const SourceFile *) b)->path);
}

/* Opens a file of the walk again for reading: beneath the source, through no symlink (one swapped
 * in since the walk is refused), and without blocking should it have become a FIFO. */
static int open_source_file(Ingest *in, const SourceFile *f) {
        int fd;

        if (in->single) {
                fd = fcntl(in->source_fd, F_DUPFD_CLOEXEC, 3);
                return fd < 0 ? -errno : fd;
        }
        return content_open_below(in->source_fd, f->path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
}

static bool same_file_state(const struct stat *a, const struct stat *b) {
        return a->st_size == b->st_size && a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
               content_timespec_ns(&a->st_mtim) == content_timespec_ns(&b->st_mtim) &&
               content_timespec_ns(&a->st_ctim) == content_timespec_ns(&b->st_ctim);
}

static bool tick_workers(void *userdata, uint64_t bytes) {
        return content_workers_tick(userdata, bytes);
}

static bool tick_quiet(void *userdata, uint64_t bytes) {
        return content_workers_tick(userdata, 0);
}

/* True when the FileLib entry is there with the identity it had when it was last known good: no
 * read needed. */
static bool filelib_known_good(const Ingest *in, const char *hash, uint64_t size, struct stat *ret_st) {
        char name[CONTENT_HASH_HEX + 4];
        const ContentStatEntry *c;
        struct stat st;

        content_filelib_name(hash, name);
        c = content_stat_cache_find(&in->checked, name);
        if (!c || !streq(c->hash, hash) || fstatat(in->lib.filelib_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISREG(st.st_mode) || (uint64_t) st.st_size != size || !content_stat_entry_matches(c, &st))
                return false;
        *ret_st = st;
        return true;
}

/* Moves a hashed temporary into FileLib under its hash, unless the data is there already. The
 * caller fsyncs the temporary before, and the <aa>/ directories after. */
static int store_tmp(Ingest *in, SourceFile *f) {
        char name[CONTENT_HASH_HEX + 4], prefix[3] = { f->hash[0], f->hash[1], 0 };
        _cleanup_close_ int dir_fd = -1;
        struct stat st;
        bool replace = false;

        content_filelib_name(f->hash, name);
        if (fstatat(in->lib.filelib_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                if (f->lib_st.st_ino != 0 && S_ISREG(st.st_mode) && st.st_ino == f->lib_st.st_ino &&
                    st.st_dev == f->lib_st.st_dev)
                        goto done; /* checked good by ingest_one() after this file's data was read */
                /* Stored meanwhile by another file of this source or another ingest, or damaged:
                 * this copy is known good, and replacing is atomic. */
                replace = true;
        }
        dir_fd = content_mkdir_open_at(in->lib.filelib_fd, prefix, &in->filelib_dirty);
        if (dir_fd < 0)
                return dir_fd;
        if ((replace ? renameat(in->lib.filelib_fd, f->tmp, dir_fd, f->hash)
                     : renameat2(in->lib.filelib_fd, f->tmp, dir_fd, f->hash, RENAME_NOREPLACE)) == 0) {
                in->dirty[strtoul(prefix, NULL, 16)] = true;
                free(f->tmp);
                f->tmp = NULL;
                /* Written from hashed data: its identity from now on is a good one. */
                if (fstatat(dir_fd, f->hash, &f->lib_st, AT_SYMLINK_NOFOLLOW) < 0)
                        f->lib_st.st_ino = 0;
                return 0;
        }
        if (errno == EINVAL && !replace) {
                /* No RENAME_NOREPLACE here (some network file systems): link does the same. */
                if (linkat(in->lib.filelib_fd, f->tmp, dir_fd, f->hash, 0) == 0)
                        in->dirty[strtoul(prefix, NULL, 16)] = true;
                else if (errno != EEXIST)
                        return -errno;
        } else if (errno != EEXIST)
                return -errno;
        /* EEXIST: another ingest stored the same data meanwhile, which is just as good */
done:
        (void) unlinkat(in->lib.filelib_fd, f->tmp, 0);
        free(f->tmp);
        f->tmp = NULL;
        return 0;
}

static int fsync_at(int dirfd, const char *name) {
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return fsync(fd) < 0 ? -errno : 0;
}

/* After the workers: the new data durable, then in place, then the directories durable. The
 * workers started the writeback of each temporary as they finished it; many are made durable by
 * one syncfs (CONTENT_SYNCFS_MIN), a few by an fsync each. */
static int store_new_data(Ingest *in, SmsError *e) {
        size_t n = 0;
        int r;

        for (size_t i = 0; i < in->n_files; i++)
                n += in->files[i].tmp != NULL;
        if (n > CONTENT_SYNCFS_MIN && syncfs(in->lib.filelib_fd) < 0)
                return sms_error_set_errno(e, errno, "FileLib of the site library");
        for (size_t i = 0; i < in->n_files; i++) {
                SourceFile *f = &in->files[i];
                if (!f->tmp)
                        continue;
                r = n > CONTENT_SYNCFS_MIN ? 0 : fsync_at(in->lib.filelib_fd, f->tmp);
                if (r >= 0)
                        r = store_tmp(in, f);
                if (r < 0)
                        return sms_error_set_errno(e, r, "storing %s/%s in the site library", in->source, f->path);
        }
        r = content_filelib_sync(in->lib.filelib_fd, in->dirty, in->filelib_dirty);
        if (r < 0)
                return sms_error_set_errno(e, r, "FileLib of the site library");
        return 0;
}

/* -EAGAIN: the file changed while it was read. */
static int ingest_one(ContentWorkers *w, Ingest *in, SourceFile *f, void *buffer, SmsError *e) {
        _cleanup_(content_hasher_freep) ContentHasher *h = NULL;
        _cleanup_close_ int fd = -1, tmp_fd = -1;
        char tmp[CONTENT_TMP_NAME_MAX];
        struct stat before, after;
        int64_t n, now;
        int r;

        fd = open_source_file(in, f);
        if (fd == -ELOOP || fd == -EXDEV)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s/%s became a symbolic link", in->source,
                                     f->path);
        if (fd < 0)
                return sms_error_set_errno(e, fd, "%s/%s", in->source, f->path);
        if (fstat(fd, &before) < 0)
                return sms_error_set_errno(e, errno, "%s/%s", in->source, f->path);
        if (!S_ISREG(before.st_mode))
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s/%s is %s", in->source, f->path,
                                     kind_of(before.st_mode));
        h = content_hasher_new();
        if (!h)
                return sms_error_set_errno(e, ENOMEM, "SHA-256");
        tmp_fd = content_tmpfile_create(in->lib.filelib_fd, "", 0444, tmp);
        if (tmp_fd < 0)
                return sms_error_set_errno(e, tmp_fd, "FileLib of the site library");

        now = content_clock_now(); /* before the first byte is read: content_stat_settled() */
        n = content_copy_hash_fd(fd, tmp_fd, buffer, h, tick_workers, w);
        if (n >= 0) {
                r = content_hasher_final(h, f->hash);
                if (r < 0)
                        n = r;
        }
        if (n >= 0 && fstat(fd, &after) < 0)
                n = -errno;
        if (n >= 0 && (!same_file_state(&before, &after) || n != before.st_size))
                n = -EAGAIN;
        if (n < 0) {
                (void) unlinkat(in->lib.filelib_fd, tmp, 0);
                if (n == -ECANCELED || n == -EAGAIN)
                        return (int) n;
                return sms_error_set_errno(e, (int) n, "storing %s/%s", in->source, f->path);
        }

        /* Data the library has already (checked by a stat, or hashed again when its identity changed
         * since it was known good): written for nothing, never synced. Anything else is replaced. */
        r = f->lib_bad ? 0
                       : content_filelib_check(in->lib.filelib_fd, &in->checked, f->hash, (uint64_t) n, buffer,
                                               tick_quiet, w, &f->lib_st);
        if (r < 0) {
                (void) unlinkat(in->lib.filelib_fd, tmp, 0);
                return r == -ECANCELED ? r : sms_error_set_errno(e, -r, "site library's copy of %s", f->path);
        }
        if (r > 0)
                (void) unlinkat(in->lib.filelib_fd, tmp, 0);
        else {
                f->lib_st = (struct stat) {};
                /* Start writing it out now; store_new_data() waits for it. */
                (void) sync_file_range(tmp_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
                f->tmp = strdup(tmp);
                if (!f->tmp) {
                        (void) unlinkat(in->lib.filelib_fd, tmp, 0);
                        return sms_error_set_errno(e, ENOMEM, "storing %s/%s", in->source, f->path);
                }
        }
        f->st = after;
        /* A change in the clock tick in which our read began would keep mtime and ctime: only a
         * file whose last change is older than that tick can be trusted to the cache. */
        f->cacheable = content_stat_settled(&after, now);
        return 0;
}

static int ingest_item(ContentWorkers *w, size_t index, void *buffer, SmsError *e) {
        Ingest *in = w->userdata;
        SourceFile *f = &in->files[in->misses[index]];

        if (f->suspect) {
                /* The source is as it was: hash the library's copy, and read the source only when
                 * that copy no longer matches (damaged, truncated, replaced, removed). */
                int r = content_filelib_check(in->lib.filelib_fd, NULL, f->hash, (uint64_t) f->st.st_size, buffer,
                                              tick_workers, w, &f->lib_st);
                if (r == -ECANCELED)
                        return r;
                if (r < 0)
                        return sms_error_set_errno(e, -r, "site library's copy of %s/%s", in->source, f->path);
                if (r > 0)
                        return 0;
                f->suspect = false;
                f->lib_bad = true;
        }

        for (unsigned attempt = 0;; attempt++) {
                int r = ingest_one(w, in, f, buffer, e);
                if (r != -EAGAIN)
                        return r;
                if (attempt == 2)
                        return sms_error_set(e, SMS_ERROR_FAILED, "%s/%s keeps changing while it is read",
                                             in->source, f->path);
        }
}

static int compare_miss_size(const void *a, const void *b, void *userdata) {
        const Ingest *in = userdata;
        off_t x = in->files[*(const size_t *) a].st.st_size, y = in->files[*(const size_t *) b].st.st_size;
        return x > y ? -1 : x < y ? 1 : 0;
}

/* What the stat cache already knows is kept; the rest must be read. */
static int plan_reads(Ingest *in, uint64_t *ret_total) {
        uint64_t total = 0;

        content_stat_cache_load(in->cache_fd, in->package_id, &in->cache);
        content_checked_load(in->lib.root_fd, in->package_id, &in->checked);
        in->misses = malloc(MAX(in->n_files, (size_t) 1) * sizeof *in->misses);
        if (!in->misses)
                return -ENOMEM;
        for (size_t i = 0; i < in->n_files; i++) {
                SourceFile *f = &in->files[i];
                const ContentStatEntry *c = content_stat_cache_find(&in->cache, f->path);
                if (c && content_stat_entry_matches(c, &f->st)) {
                        memcpy(f->hash, c->hash, sizeof f->hash);
                        f->cacheable = true;
                        if (filelib_known_good(in, c->hash, c->size, &f->lib_st))
                                continue;
                        f->suspect = true;
                }
                in->misses[in->n_misses++] = i;
                total += (uint64_t) f->st.st_size;
        }
        /* Largest first: the workers take items in order, and a large file taken last would keep
         * one of them busy while the others have nothing left to do. */
        qsort_r(in->misses, in->n_misses, sizeof *in->misses, compare_miss_size, in);
        *ret_total = total;
        return 0;
}

static int save_cache(Ingest *in) {
        _cleanup_(content_stat_cache_done) ContentStatCache c = {};

        c.entries = calloc(MAX(in->n_files, (size_t) 1), sizeof *c.entries);
        if (!c.entries)
                return -ENOMEM;
        for (size_t i = 0; i < in->n_files; i++) {
                const SourceFile *f = &in->files[i];
                if (!f->cacheable)
                        continue;
                ContentStatEntry *s = &c.entries[c.n_entries];
                s->path = strdup(f->path);
                if (!s->path)
                        return -ENOMEM;
                c.n_entries++;
                s->size = (uint64_t) f->st.st_size;
                s->inode = (uint64_t) f->st.st_ino;
                s->mtime_ns = content_timespec_ns(&f->st.st_mtim);
                s->ctime_ns = content_timespec_ns(&f->st.st_ctim);
                memcpy(s->hash, f->hash, sizeof s->hash);
        }
        /* A refresh of an unchanged source: the cache on disk says this already. */
        if (content_stat_cache_equal(&c, &in->cache))
                return 0;
        return content_stat_cache_save(in->cache_fd, in->package_id, &c);
}

/* What this ingest knows good in FileLib, for the distributions that follow and the next ingest. */
static int save_checked(Ingest *in) {
        _cleanup_(content_stat_cache_done) ContentStatCache c = {};
        int r;

        for (size_t i = 0; i < in->n_files; i++) {
                r = content_checked_add(&c, in->files[i].hash, &in->files[i].lib_st);
                if (r < 0)
                        return r;
        }
        return content_checked_save(in->lib.root_fd, in->package_id, &c, &in->checked);
}

static int build_manifest(Ingest *in, ContentManifest *ret) {
        ContentManifest m = {};

        m.files = calloc(MAX(in->n_files, (size_t) 1), sizeof *m.files);
        if (!m.files)
                return -ENOMEM;
        for (size_t i = 0; i < in->n_files; i++) {
                ContentFile *f = &m.files[m.n_files];
                f->path = strdup(in->files[i].path);
                if (!f->path) {
                        content_manifest_done(&m);
                        return -ENOMEM;
                }
                m.n_files++;
                f->size = (uint64_t) in->files[i].st.st_size;
                memcpy(f->hash, in->files[i].hash, sizeof f->hash);
                m.total_bytes += f->size;
        }
        *ret = m;
        return 0;
}

/* `given_fd` is the caller's source as content_roots_resolve() found it beneath a content root,
 * or -1 for a path the daemon chose (opened here, following links). Either way the walk and every
 * read below start from that one inode: no name is looked up again from the top. */
static int open_source(Ingest *in, int given_fd, SmsError *e) {
        _cleanup_close_ int path_fd = -1;
        struct stat st;
        int fd;

        /* O_PATH first: opening a device node or a FIFO for reading could block or act on a
         * device. */
        path_fd = given_fd >= 0 ? fcntl(given_fd, F_DUPFD_CLOEXEC, 3) : open(in->source, O_PATH | O_CLOEXEC);
        if (path_fd < 0 && (errno == ENOENT || errno == ENOTDIR))
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "package source %s does not exist", in->source);
        if (path_fd < 0)
                return sms_error_set_errno(e, errno, "package source %s", in->source);
        if (fstat(path_fd, &st) < 0)
                return sms_error_set_errno(e, errno, "package source %s", in->source);
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "package source %s is %s, not a file or directory",
                                     in->source, kind_of(st.st_mode));

        /* the very inode checked, for reading */
        if (S_ISDIR(st.st_mode))
                fd = openat(path_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        else {
                _cleanup_free_ char *proc = path_of_fd(path_fd);
                if (!proc)
                        return -ENOMEM;
                fd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        }
        if (fd < 0)
                return sms_error_set_errno(e, errno, "package source %s", in->source);
        in->source_fd = fd;
        if (S_ISDIR(st.st_mode))
                return 0;

        const char *base = strrchr(in->source, '/');
        base = base ? base + 1 : in->source;
        if (!content_relative_path_is_valid(base) || strchr(base, '/'))
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "package source %s has no usable file name",
                                     in->source);
        char *path = strdup(base);
        if (!path)
                return -ENOMEM;
        in->single = true;
        return add_file(in, path, &st, e);
}

static int open_site_lib(Ingest *in, const char *site_lib, SmsError *e) {
        int fd, r;

        fd = open(site_lib, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
                if (mkdir(site_lib, 0755) < 0 && errno != EEXIST)
                        return sms_error_set_errno(e, errno, "site content library %s", site_lib);
                fd = open(site_lib, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        }
        if (fd < 0)
                return sms_error_set_errno(e, errno, "site content library %s", site_lib);
        r = content_lib_open(fd, true, &in->lib);
        if (r < 0)
                return sms_error_set_errno(e, r, "site content library %s", site_lib);
        r = content_open_dir_at(in->lib.root_fd, "cache", true);
        if (r < 0)
                return sms_error_set_errno(e, r, "%s/cache", site_lib);
        in->cache_fd = r;
        return 0;
}

int content_site_ingest_fd(const char *site_lib, const char *package_id, uint32_t version, int source_fd,
                           const char *source, ContentProgress progress, void *userdata, ContentManifest *ret,
                           SmsError *e) {
        _cleanup_(ingest_done) Ingest in = {
                .source = source, .package_id = package_id, .source_fd = -1, .lib = CONTENT_LIB_NULL,
                .lock_fd = -1, .cache_fd = -1, .progress = progress, .userdata = userdata,
        };
        _cleanup_(content_manifest_done) ContentManifest m = {};
        _cleanup_close_ int pkg_fd = -1;
        ContentWorkers workers;
        uint64_t total;
        int r;

        if (!site_lib || !source)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "no site library or package source");
        r = content_check_package_id(package_id, e);
        if (r < 0)
                return r;
        if (version == 0)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "version 0 is not a version");

        r = open_source(&in, source_fd, e);
        if (r < 0)
                return r;
        if (!in.single) {
                int fd = fcntl(in.source_fd, F_DUPFD_CLOEXEC, 3);
                if (fd < 0)
                        return sms_error_set_errno(e, errno, "package source %s", source);
                r = walk_dir(&in, fd, "", 0, e);
                if (r < 0)
                        return r;
                if (in.n_files > 0) /* qsort wants a valid pointer even for no elements */
                        qsort(in.files, in.n_files, sizeof *in.files, compare_source_files);
        }

        r = open_site_lib(&in, site_lib, e);
        if (r < 0)
                return r;
        /* Shared: concurrent ingests may add to FileLib; content_gc must wait until the manifest
         * naming what we add is written. */
        in.lock_fd = content_lib_lock(&in.lib, false);
        if (in.lock_fd < 0)
                return sms_error_set_errno(e, in.lock_fd, "locking %s", site_lib);

        r = plan_reads(&in, &total);
        if (r < 0)
                return sms_error_set_errno(e, r, "stat cache of %s", package_id);

        workers = (ContentWorkers) {
                .n_items = in.n_misses, .item = ingest_item, .userdata = &in, .progress = progress,
                .progress_userdata = userdata, .total = total, .text = "Hashing and storing the package source",
        };
        r = content_workers_run(&workers, e);
        if (r < 0)
                return r;

        r = store_new_data(&in, e);
        if (r < 0)
                return r;

        r = build_manifest(&in, &m);
        if (r < 0)
                return sms_error_set_errno(e, r, "manifest");
        pkg_fd = content_open_dir_at(in.lib.pkglib_fd, package_id, true);
        if (pkg_fd < 0)
                return sms_error_set_errno(e, pkg_fd, "%s/PkgLib/%s", site_lib, package_id);
        r = content_manifest_write_at(pkg_fd, version, &m);
        if (r < 0)
                return sms_error_set_errno(e, r, "%s/PkgLib/%s/%" PRIu32 ".manifest", site_lib, package_id, version);
        in.lock_fd = (close(in.lock_fd), -1);

        /* Only optimisations: failing to save them costs the next ingest a full read. */
        (void) save_cache(&in);
        (void) save_checked(&in);

        if (ret) {
                *ret = m;
                m = (ContentManifest) {};
        }
        return 0;
}

int content_site_ingest(const char *site_lib, const char *package_id, uint32_t version, const char *source,
                        ContentProgress progress, void *userdata, ContentManifest *ret, SmsError *e) {
        return content_site_ingest_fd(site_lib, package_id, version, -1, source, progress, userdata, ret, e);
}
