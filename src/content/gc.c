/* SPDX-License-Identifier: MIT */
/* content_gc(): superseded manifests of one package, then every FileLib file that no manifest of
 * any package names.
 *
 * Concurrency: writers (ingests, distributions) hold the library lock shared from before they add
 * a FileLib entry until the manifest naming it is written; gc holds it exclusively while it reads
 * the manifests and sweeps. So gc never sees a file that is about to be named, and any temporary it
 * finds belongs to a writer that died. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "content/content-internal.h"

/* Bytes of directory entries read at once by the sweep: a FileLib/<aa>/ of a thousand entries. */
#define SWEEP_BUFFER ((size_t) 96 << 10)

typedef struct HashSet {
        char (*hashes)[CONTENT_HASH_HEX];
        size_t n, allocated;
} HashSet;

static void hash_set_done(HashSet *s) {
        free(s->hashes);
        *s = (HashSet) {};
}

static int hash_set_add_manifest(HashSet *s, const ContentManifest *m) {
        if (s->n + m->n_files > s->allocated) {
                size_t k = MAX(s->allocated * 2, s->n + m->n_files);
                void *n = realloc(s->hashes, k * sizeof *s->hashes);
                if (!n)
                        return -ENOMEM;
                s->hashes = n;
                s->allocated = k;
        }
        for (size_t i = 0; i < m->n_files; i++)
                memcpy(s->hashes[s->n++], m->files[i].hash, CONTENT_HASH_HEX);
        return 0;
}

static int compare_hash(const void *a, const void *b) {
        return memcmp(a, b, CONTENT_HASH_HEX);
}

static bool hash_set_contains(const HashSet *s, const char *hash) {
        return s->n > 0 && bsearch(hash, s->hashes, s->n, sizeof *s->hashes, compare_hash);
}

static DIR *opendir_at(int dirfd, const char *name) {
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        DIR *d;

        if (fd < 0)
                return NULL;
        d = fdopendir(fd);
        if (!d)
                close(fd);
        return d;
}

/* Adds the files of version v's manifest, if it can be read; false when it cannot. */
static bool hash_set_add_version(HashSet *s, const ContentLib *lib, const char *package_id, uint32_t v) {
        _cleanup_(content_manifest_done) ContentManifest m = {};
        SmsError e = SMS_ERROR_NULL;
        bool ok = content_manifest_read_at(lib->pkglib_fd, package_id, v, &m, &e) >= 0 &&
                  hash_set_add_manifest(s, &m) >= 0;

        sms_error_clear(&e);
        return ok;
}

/* Whether removing version v's manifest leaves every file it names named by `kept`. */
static bool removal_frees_nothing(const ContentLib *lib, const char *package_id, uint32_t v, const HashSet *kept) {
        _cleanup_(content_manifest_done) ContentManifest m = {};
        SmsError e = SMS_ERROR_NULL;
        int r = content_manifest_read_at(lib->pkglib_fd, package_id, v, &m, &e);

        sms_error_clear(&e);
        if (r < 0)
                return false;
        for (size_t i = 0; i < m.n_files; i++)
                if (!hash_set_contains(kept, m.files[i].hash))
                        return false;
        return true;
}

/* The package's own directory: manifests other than the kept version and the one `current`
 * names (removing that would leave `current` pointing at nothing), and dead temporaries. */
static int prune_package(const ContentLib *lib, const char *package_id, uint32_t keep_version, SmsError *e) {
        _cleanup_(hash_set_done) HashSet kept = {};
        _cleanup_close_ int fd = -1;
        uint32_t current = 0;
        bool removed = false, frees = false, kept_known = true, left = false;
        DIR *d;
        int r;

        fd = openat(lib->pkglib_fd, package_id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? 0 : sms_error_set_errno(e, errno, "PkgLib/%s", package_id);
        r = content_current_read_at(fd, &current);
        if (r == -EBADMSG)
                return sms_error_set(e, SMS_ERROR_FAILED, "PkgLib/%s/current is damaged", package_id);
        if (r < 0)
                return sms_error_set_errno(e, r, "PkgLib/%s/current", package_id);
        /* the files that stay named here */
        if (keep_version != 0)
                kept_known = hash_set_add_version(&kept, lib, package_id, keep_version);
        if (current != 0 && current != keep_version)
                kept_known = hash_set_add_version(&kept, lib, package_id, current) && kept_known;
        if (kept.n > 1)
                qsort(kept.hashes, kept.n, sizeof *kept.hashes, compare_hash);

        d = opendir_at(fd, ".");
        if (!d)
                return sms_error_set_errno(e, errno, "PkgLib/%s", package_id);
        for (struct dirent *de; (de = readdir(d));) {
                uint32_t v = content_manifest_name_version(de->d_name);
                if (v != 0 && v != keep_version && v != current) {
                        if (!frees)
                                frees = !kept_known || !removal_frees_nothing(lib, package_id, v, &kept);
                        if (unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT) {
                                r = sms_error_set_errno(e, errno, "PkgLib/%s/%s", package_id, de->d_name);
                                break;
                        }
                        removed = true;
                } else if (content_tmp_name_matches(de->d_name, ""))
                        (void) unlinkat(fd, de->d_name, 0);
                else if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        left = true;
        }
        closedir(d);
        if (r < 0)
                return r;
        /* A manifest's removal must be on disk before the files it named go: else a crash could
         * bring back a manifest of missing files. Not when every file it named stays named here
         * (a new version of the same content): none goes now, and none can go before the manifest
         * naming it here is removed in turn, with this fsync, which makes this removal durable too. */
        if (removed && frees && fsync(fd) < 0)
                return sms_error_set_errno(e, errno, "PkgLib/%s", package_id);
        if (!left && unlinkat(lib->pkglib_fd, package_id, AT_REMOVEDIR) == 0)
                (void) fsync(lib->pkglib_fd);
        return 0;
}

/* The site's stat cache and the library's list of checked entries go with the package. */
static void prune_cache(const ContentLib *lib, const char *package_id, uint32_t keep_version) {
        _cleanup_close_ int fd = openat(lib->root_fd, "cache", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        char stat_name[CONTENT_PACKAGE_ID_MAX + 16], checked_name[CONTENT_PACKAGE_ID_MAX + 16];
        DIR *d;

        if (fd < 0)
                return;
        snprintf(stat_name, sizeof stat_name, "%s.stat", package_id);
        snprintf(checked_name, sizeof checked_name, "%s" CONTENT_CHECKED_SUFFIX, package_id);
        if (keep_version == 0) {
                (void) unlinkat(fd, stat_name, 0);
                (void) unlinkat(fd, checked_name, 0);
        }
        strcat(stat_name, "-");
        strcat(checked_name, "-");
        d = opendir_at(fd, ".");
        if (!d)
                return;
        for (struct dirent *de; (de = readdir(d));)
                if (content_tmp_name_matches(de->d_name, stat_name) || content_tmp_name_matches(de->d_name, checked_name))
                        (void) unlinkat(fd, de->d_name, 0);
        closedir(d);
}

/* Every hash any manifest of any package names. A manifest that cannot be read stops the sweep:
 * better keep garbage than delete what it names. */
static int collect_referenced(const ContentLib *lib, HashSet *ret, SmsError *e) {
        DIR *top = opendir_at(lib->pkglib_fd, ".");
        int r = 0;

        if (!top)
                return sms_error_set_errno(e, errno, "PkgLib");
        for (struct dirent *de; r >= 0 && (de = readdir(top));) {
                if (!content_package_id_is_valid(de->d_name))
                        continue;
                DIR *pkg = opendir_at(lib->pkglib_fd, de->d_name);
                if (!pkg) {
                        if (errno != ENOTDIR && errno != ENOENT)
                                r = sms_error_set_errno(e, errno, "PkgLib/%s", de->d_name);
                        continue;
                }
                for (struct dirent *me; r >= 0 && (me = readdir(pkg));) {
                        _cleanup_(content_manifest_done) ContentManifest m = {};
                        uint32_t v = content_manifest_name_version(me->d_name);
                        if (v == 0)
                                continue;
                        SmsError read_error = SMS_ERROR_NULL;
                        r = content_manifest_read_at(lib->pkglib_fd, de->d_name, v, &m, &read_error);
                        if (r == -ENOENT) {
                                /* gone meanwhile: a failed distribution took back the manifest
                                 * it wrote (that needs no lock), so it references nothing */
                                sms_error_clear(&read_error);
                                r = 0;
                                continue;
                        }
                        if (r < 0) {
                                if (e && !sms_error_is_set(e))
                                        *e = read_error;
                                else
                                        sms_error_clear(&read_error);
                                break;
                        }
                        if (r >= 0)
                                r = hash_set_add_manifest(ret, &m);
                        if (r == -ENOMEM)
                                r = sms_error_set_errno(e, ENOMEM, "content gc");
                }
                closedir(pkg);
        }
        closedir(top);
        if (r >= 0 && ret->n > 1)
                qsort(ret->hashes, ret->n, sizeof *ret->hashes, compare_hash);
        return r;
}

/* Reads the names in `fd` with getdents64() straight into `buffer`, calling fn for each: the sweep
 * lists up to 257 directories in every distribution, and a DIR adds three system calls to each
 * (fstat and two fcntl). */
static int for_each_name(int fd, void *buffer, int (*fn)(int fd, const char *name, void *userdata), void *userdata) {
        for (;;) {
                ssize_t n = getdents64(fd, buffer, SWEEP_BUFFER);
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                for (ssize_t at = 0; at < n;) {
                        const struct dirent64 *de = (const struct dirent64 *) ((const char *) buffer + at);
                        at += de->d_reclen;
                        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                                continue;
                        int r = fn(fd, de->d_name, userdata);
                        if (r < 0)
                                return r;
                }
        }
}

typedef struct Sweep {
        const HashSet *referenced;
        const char *prefix;
        void *buffer;
} Sweep;

static int sweep_entry(int fd, const char *name, void *userdata) {
        const Sweep *s = userdata;
        bool dead = content_tmp_name_matches(name, "") ||
                    (content_hash_is_valid(name) && strncmp(name, s->prefix, 2) == 0 &&
                     !hash_set_contains(s->referenced, name));

        if (dead)
                (void) unlinkat(fd, name, 0);
        return 0;
}

static bool is_prefix_name(const char *name) {
        return strlen(name) == 2 && strspn(name, "0123456789abcdef") == 2;
}

/* One name in FileLib/: a dead temporary, or an <aa>/ directory to sweep. */
static int sweep_top_entry(int filelib_fd, const char *name, void *userdata) {
        Sweep s = *(const Sweep *) userdata;
        _cleanup_close_ int fd = -1;

        if (content_tmp_name_matches(name, "")) {
                (void) unlinkat(filelib_fd, name, 0);
                return 0;
        }
        if (!is_prefix_name(name))
                return 0;
        fd = openat(filelib_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        /* FileLib's own listing is in the first half of the buffer, this directory's in the second. */
        s.prefix = name;
        s.buffer = (char *) s.buffer + SWEEP_BUFFER;
        return for_each_name(fd, s.buffer, sweep_entry, &s);
}

static int sweep_filelib(const ContentLib *lib, const HashSet *referenced, SmsError *e) {
        _cleanup_free_ void *buffer = malloc(2 * SWEEP_BUFFER);
        _cleanup_close_ int fd = -1;
        int r;

        if (!buffer)
                return sms_error_set_errno(e, ENOMEM, "content gc");
        /* a descriptor of its own: getdents64() moves the offset of the one it reads */
        fd = openat(lib->filelib_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return sms_error_set_errno(e, errno, "FileLib");
        r = for_each_name(fd, buffer, sweep_top_entry, &(Sweep) { .referenced = referenced, .buffer = buffer });
        if (r < 0)
                return sms_error_set_errno(e, r, "FileLib");
        return 0;
}

int content_gc_lib(const ContentLib *lib, const char *package_id, uint32_t keep_version, SmsError *e) {
        _cleanup_(hash_set_done) HashSet referenced = {};
        _cleanup_close_ int lock_fd = -1;
        int r;

        lock_fd = content_lib_lock(lib, true);
        if (lock_fd < 0)
                return sms_error_set_errno(e, lock_fd, "locking the content library");
        r = prune_package(lib, package_id, keep_version, e);
        if (r < 0)
                return r;
        prune_cache(lib, package_id, keep_version);
        r = collect_referenced(lib, &referenced, e);
        if (r < 0)
                return r;
        return sweep_filelib(lib, &referenced, e);
}

int content_gc(const char *lib_root, const char *package_id, uint32_t keep_version, SmsError *e) {
        _cleanup_(content_lib_close) ContentLib lib = CONTENT_LIB_NULL;
        int fd, r;

        if (!lib_root)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "no content library");
        r = content_check_package_id(package_id, e);
        if (r < 0)
                return r;
        fd = open(lib_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "content library %s is not a directory", lib_root);
        if (fd < 0)
                return sms_error_set_errno(e, errno, "content library %s", lib_root);
        r = content_lib_open(fd, false, &lib);
        if (r == -ENOENT)
                return 0; /* an empty library has nothing to collect */
        if (r < 0)
                return sms_error_set_errno(e, r, "content library %s", lib_root);
        return content_gc_lib(&lib, package_id, keep_version, e);
}
