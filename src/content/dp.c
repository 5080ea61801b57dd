/* SPDX-License-Identifier: MIT */
/* Distribution points: content_dp_distribute(), content_dp_current_version(), content_dp_remove().
 *
 * A DP shares no inode with the site library or another DP: its FileLib entries are reflinks
 * where the file system can share extents, kernel copies (copy_file_range) elsewhere, so damage to
 * one copy stays on that copy. Inside one DP, DataLib and the PXE store are hard links to the DP's
 * own FileLib (single-instance storage), unless the DP is in copy mode.
 *
 * Nothing is published that is not known to match its hash: an entry of either library whose
 * identity (checked.c) changed since it was known good is hashed again first. A damaged DP entry
 * is replaced from the site library; a damaged site entry fails the DP's distribution (the ingest
 * before it takes the file again from the package source).
 *
 * The order of a distribution is what keeps a DP consistent whatever happens to the process:
 *   1. under the library lock (shared): FileLib entries (good ones kept, others copied from the
 *      site library), the temporary DataLib tree beside them, the directories fsynced, then the
 *      manifest;
 *   2. the tree's directories fsynced, the PXE image prepared under a temporary name;
 *   3. the last point at which a cancel is honoured; then the tree is swapped in, `current`
 *      written, the PXE image renamed into place, the old tree removed (a crash between the swap
 *      and `current` leaves the new tree under the old `current`: two complete versions with their
 *      manifests, which the retry puts together);
 *   4. content_gc of the package, keeping this version.
 * Cancel or failure before step 3 removes the temporaries and a manifest this call created:
 * complete FileLib entries stay (the next attempt reuses them, content_gc removes them if not). */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <strings.h>
#include <unistd.h>

#include "content/content-internal.h"

/* A FileLib copy made, not yet durable, under FileLib/<aa>/<tmp>. */
typedef struct FilelibPending {
        char tmp[CONTENT_TMP_NAME_MAX]; /* empty: none */
        bool damaged;                   /* it replaces a damaged entry */
        struct stat site_st;            /* the site entry's identity when it was checked */
        uint64_t bytes;
} FilelibPending;

typedef struct Distribution {
        const char *site_lib, *dp_root, *package_id, *pxe_name;
        uint32_t version;
        ContentManifest manifest;
        ContentLib site, dp;
        int dp_fd, datalib_fd, pkg_fd, lock_fd;
        int pxe_dir_fd;
        char pxe_tmp[CONTENT_TMP_NAME_MAX];
        const ContentFile *pxe_file;
        ContentTree tree;
        bool dirty[256], filelib_dirty; /* FileLib/<aa>/ with new entries, FileLib/ with new <aa>/ */
        bool manifest_existed, manifest_written;
        bool reuse_tree; /* DataLib/<id> already is this manifest's tree */
        bool relinked;   /* links to FileLib entries made or removed: their ctimes changed */
        ContentPlacer filelib_placer, tree_placer;
        ContentStatCache site_checked, dp_checked; /* what each library knew good before this call */
        struct stat *entry_st;   /* per manifest file: its DP entry's identity once known good */
        FilelibPending *pending; /* per manifest file: its copy waiting to be durable and named */
        size_t n_pending;
        void *buffer;
        ContentProgress progress;
        void *userdata;
        uint64_t done, file_done;
        bool canceled;
        ContentDistributeStats stats;
} Distribution;

static void distribution_done(Distribution *d) {
        content_tree_done(&d->tree);
        if (d->pxe_tmp[0] && d->pxe_dir_fd >= 0)
                (void) unlinkat(d->pxe_dir_fd, d->pxe_tmp, 0);
        if (d->manifest_written && !d->manifest_existed && d->pkg_fd >= 0) {
                /* The call failed after writing the manifest: leave what was there before. */
                char name[32];
                content_manifest_name(d->version, name);
                (void) unlinkat(d->pkg_fd, name, 0);
                (void) fsync(d->pkg_fd);
        }
        for (size_t i = 0; d->pending && i < d->manifest.n_files; i++)
                if (d->pending[i].tmp[0]) {
                        char tmp[3 + CONTENT_TMP_NAME_MAX];
                        snprintf(tmp, sizeof tmp, "%.2s/%s", d->manifest.files[i].hash, d->pending[i].tmp);
                        (void) unlinkat(d->dp.filelib_fd, tmp, 0);
                }
        if (d->lock_fd >= 0)
                close(d->lock_fd);
        if (d->pxe_dir_fd >= 0)
                close(d->pxe_dir_fd);
        if (d->pkg_fd >= 0)
                close(d->pkg_fd);
        if (d->datalib_fd >= 0)
                close(d->datalib_fd);
        if (d->dp_fd >= 0)
                close(d->dp_fd);
        content_lib_close(&d->site);
        content_lib_close(&d->dp);
        content_manifest_done(&d->manifest);
        content_stat_cache_done(&d->site_checked);
        content_stat_cache_done(&d->dp_checked);
        free(d->entry_st);
        free(d->pending);
        free(d->buffer);
}

static bool report(Distribution *d, const char *text) {
        if (!d->canceled && d->progress &&
            !d->progress(d->userdata, d->done + d->file_done, d->manifest.total_bytes, text))
                d->canceled = true;
        return !d->canceled;
}

/* Copies into FileLib count as progress; copies into the tree (copy mode) do not, having been
 * counted once already, but may still cancel. */
static bool tick_filelib(void *userdata, uint64_t bytes) {
        Distribution *d = userdata;
        d->file_done += bytes;
        return report(d, "Copying content");
}

static bool tick_tree(void *userdata, uint64_t bytes) {
        return report(userdata, "Publishing content");
}

static int cancel_error(Distribution *d, SmsError *e) {
        return sms_error_set(e, SMS_ERROR_CANCELED, "distribution of %s to %s canceled", d->package_id, d->dp_root);
}

int content_dp_open_root(const char *dp_root, int *ret_fd, SmsError *e) {
        int fd;

        if (!dp_root || dp_root[0] != '/')
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "distribution point root '%s' is not absolute",
                                     dp_root ? dp_root : "");
        fd = open(dp_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "distribution point root %s does not exist",
                                     dp_root);
        if (fd < 0 && errno == ENOTDIR)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "distribution point root %s is not a directory",
                                     dp_root);
        if (fd < 0)
                return sms_error_set_errno(e, errno, "distribution point root %s", dp_root);
        *ret_fd = fd;
        return 0;
}

int content_dp_open_for_package(const char *dp_root, const char *package_id, int *ret_fd, SmsError *e) {
        int r = content_check_package_id(package_id, e);
        if (r < 0)
                return r;
        return content_dp_open_root(dp_root, ret_fd, e);
}

/* Opens <dp_root>/SCCMContentLib; -ENOENT (without error) when absent and !create. */
static int open_dp_lib(int dp_fd, const char *dp_root, bool create, ContentLib *ret, SmsError *e) {
        int fd, r;

        fd = content_open_dir_at(dp_fd, "SCCMContentLib", create);
        if (fd == -ENOENT && !create)
                return fd;
        if (fd < 0)
                return sms_error_set_errno(e, fd, "%s/SCCMContentLib", dp_root);
        r = content_lib_open(fd, create, ret);
        if (r == -ENOENT && !create)
                return r;
        if (r < 0)
                return sms_error_set_errno(e, r, "%s/SCCMContentLib", dp_root);
        return 0;
}

static bool has_suffix_ci(const char *s, const char *suffix) {
        size_t n = strlen(s), k = strlen(suffix);
        return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

static int find_pxe_file(Distribution *d, SmsError *e) {
        if (strchr(d->pxe_name, '/') || !content_relative_path_is_valid(d->pxe_name))
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "'%s' is not a usable PXE image name",
                                     d->pxe_name);
        for (size_t i = 0; i < d->manifest.n_files; i++) {
                if (!has_suffix_ci(d->manifest.files[i].path, ".wim"))
                        continue;
                if (d->pxe_file)
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                             "package %s has more than one .wim file; a PXE image must be the only one",
                                             d->package_id);
                d->pxe_file = &d->manifest.files[i];
        }
        if (!d->pxe_file)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "package %s has no .wim file for the PXE store",
                                     d->package_id);
        return 0;
}

static bool same_data_identity(const struct stat *a, const struct stat *b) {
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
               content_timespec_ns(&a->st_mtim) == content_timespec_ns(&b->st_mtim);
}

/* The site library's entry for f, known to match before it is copied. */
static int check_site_entry(Distribution *d, const ContentFile *f, const char *name, struct stat *ret_st,
                            SmsError *e) {
        struct stat st;
        int r;

        r = content_filelib_check(d->site.filelib_fd, &d->site_checked, f->hash, f->size, d->buffer, tick_tree, d,
                                  ret_st);
        if (r == -ECANCELED)
                return cancel_error(d, e);
        if (r < 0)
                return sms_error_set_errno(e, -r, "%s/FileLib/%s", d->site_lib, name);
        if (r > 0)
                return 0;
        if (fstatat(d->site.filelib_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
                return sms_error_set(e, SMS_ERROR_FAILED,
                                     "%s of package %s is missing from the site library (%s/FileLib/%s); the "
                                     "distribution point keeps what it had",
                                     f->path, d->package_id, d->site_lib, name);
        return sms_error_set(e, SMS_ERROR_FAILED,
                             "the site library's copy of %s of package %s (%s/FileLib/%s) does not match its "
                             "SHA-256; the distribution point keeps what it had",
                             f->path, d->package_id, d->site_lib, name);
}

/* The DP's FileLib entry for file i, first step: kept when it is known to match, else copied from
 * the site library under a temporary name, not yet durable (pending[i]). */
static int put_filelib_entry(Distribution *d, size_t i, SmsError *e) {
        const ContentFile *f = &d->manifest.files[i];
        FilelibPending *pe = &d->pending[i];
        char name[CONTENT_HASH_HEX + 4], prefix[3] = { f->hash[0], f->hash[1], 0 };
        _cleanup_close_ int dir_fd = -1;
        struct stat st;
        int r;

        content_filelib_name(f->hash, name);
        r = content_filelib_check(d->dp.filelib_fd, &d->dp_checked, f->hash, f->size, d->buffer, tick_tree, d,
                                  &d->entry_st[i]);
        if (r == -ECANCELED)
                return cancel_error(d, e);
        if (r < 0)
                return sms_error_set_errno(e, -r, "%s/SCCMContentLib/FileLib/%s", d->dp_root, name);
        if (r > 0) {
                d->stats.files_present++;
                return 0;
        }
        d->entry_st[i] = (struct stat) {};
        pe->damaged = fstatat(d->dp.filelib_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT;

        /* What the site library holds is what goes out: a damaged entry must not spread. */
        r = check_site_entry(d, f, name, &pe->site_st, e);
        if (r < 0)
                return r;

        dir_fd = content_mkdir_open_at(d->dp.filelib_fd, prefix, &d->filelib_dirty);
        if (dir_fd < 0)
                return sms_error_set_errno(e, dir_fd, "%s/SCCMContentLib/FileLib/%s", d->dp_root, prefix);
        uint64_t copied = d->filelib_placer.bytes_copied;
        r = content_tmp_name_new("", pe->tmp);
        if (r >= 0)
                r = content_place_file(&d->filelib_placer, d->site.filelib_fd, name, dir_fd, pe->tmp);
        if (r < 0)
                pe->tmp[0] = 0;
        if (r == -ECANCELED)
                return cancel_error(d, e);
        if (r < 0)
                return sms_error_set_errno(e, r, "%s/SCCMContentLib/FileLib/%s", d->dp_root, name);
        pe->bytes = d->filelib_placer.bytes_copied - copied;
        d->n_pending++;
        return 0;
}

/* Second step, once every copy is durable: the copy takes the entry's name (replacing a damaged
 * entry, never removing it first: other manifests may name it). */
static int name_filelib_entry(Distribution *d, size_t i, SmsError *e) {
        const ContentFile *f = &d->manifest.files[i];
        FilelibPending *pe = &d->pending[i];
        char name[CONTENT_HASH_HEX + 4], tmp[3 + CONTENT_TMP_NAME_MAX];
        struct stat st;
        int r;

        if (!pe->tmp[0])
                return 0;
        content_filelib_name(f->hash, name);
        snprintf(tmp, sizeof tmp, "%.2s/%s", f->hash, pe->tmp);
        if (pe->damaged)
                r = renameat(d->dp.filelib_fd, tmp, d->dp.filelib_fd, name) < 0 ? -errno : 0;
        else
                r = content_rename_noreplace(d->dp.filelib_fd, tmp, name);
        if (r < 0 && r != -EEXIST)
                return sms_error_set_errno(e, r, "%s/SCCMContentLib/FileLib/%s", d->dp_root, name);
        pe->tmp[0] = 0;
        d->dirty[strtoul((char[]) { f->hash[0], f->hash[1], 0 }, NULL, 16)] = true;
        if (r == -EEXIST) {
                (void) unlinkat(d->dp.filelib_fd, tmp, 0);
                d->stats.files_present++; /* a concurrent distribution put it there first */
                return 0;
        }
        d->stats.files_copied++;
        d->stats.bytes_copied += pe->bytes;
        /* The copy is of what was checked only if the site's entry did not change meanwhile. */
        if (fstatat(d->site.filelib_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !same_data_identity(&st, &pe->site_st))
                return sms_error_set(e, SMS_ERROR_FAILED,
                                     "the site library's copy of %s of package %s changed while it was copied",
                                     f->path, d->package_id);
        if (fstatat(d->dp.filelib_fd, name, &d->entry_st[i], AT_SYMLINK_NOFOLLOW) < 0)
                d->entry_st[i] = (struct stat) {};
        return 0;
}

/* Makes the pending copies durable before any takes its name: one syncfs for many (with reflinks
 * the data costs nothing and an fsync per file would be most of a distribution), an fsync each
 * for a few. */
static int sync_pending(Distribution *d, SmsError *e) {
        if (d->n_pending == 0)
                return 0;
        if (d->n_pending > CONTENT_SYNCFS_MIN)
                return syncfs(d->dp.filelib_fd) < 0 ? sms_error_set_errno(e, errno, "%s/SCCMContentLib/FileLib", d->dp_root) : 0;
        for (size_t i = 0; i < d->manifest.n_files; i++) {
                const FilelibPending *pe = &d->pending[i];
                char tmp[3 + CONTENT_TMP_NAME_MAX];
                _cleanup_close_ int fd = -1;

                if (!pe->tmp[0])
                        continue;
                snprintf(tmp, sizeof tmp, "%.2s/%s", d->manifest.files[i].hash, pe->tmp);
                fd = openat(d->dp.filelib_fd, tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0 || fsync(fd) < 0)
                        return sms_error_set_errno(e, errno, "%s/SCCMContentLib/FileLib/%s", d->dp_root, tmp);
        }
        return 0;
}

/* After the call: the identities of the DP's entries known good, for the next one. Links made and
 * removed since the check (DataLib, PXE, the old tree) changed their ctime but not their data: then
 * each entry is looked at again. Without such links (a refresh of unchanged content) the identity
 * each had when it was checked is the one to record. */
static void save_dp_checked(Distribution *d) {
        _cleanup_(content_stat_cache_done) ContentStatCache c = {};

        for (size_t i = 0; i < d->manifest.n_files; i++) {
                const ContentFile *f = &d->manifest.files[i];
                char name[CONTENT_HASH_HEX + 4];
                struct stat st = d->entry_st[i];

                if (d->entry_st[i].st_ino == 0)
                        continue;
                content_filelib_name(f->hash, name);
                if (d->relinked &&
                    (fstatat(d->dp.filelib_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
                     !same_data_identity(&st, &d->entry_st[i])))
                        continue;
                if (content_checked_add(&c, f->hash, &st) < 0)
                        return;
        }
        (void) content_checked_save(d->dp.root_fd, d->package_id, &c, &d->dp_checked);
}

static int put_tree_entry(Distribution *d, const ContentFile *f, SmsError *e) {
        char name[CONTENT_HASH_HEX + 4];
        const char *base;
        int dir_fd, r;

        dir_fd = content_tree_parent(&d->tree, f->path, &base);
        if (dir_fd < 0)
                return sms_error_set_errno(e, dir_fd, "%s/SCCMContentLib/DataLib/%s/%s", d->dp_root, d->package_id,
                                           f->path);
        content_filelib_name(f->hash, name);
        r = content_place_file(&d->tree_placer, d->dp.filelib_fd, name, dir_fd, base);
        if (r == -ECANCELED)
                return cancel_error(d, e);
        if (r < 0)
                return sms_error_set_errno(e, r, "%s/SCCMContentLib/DataLib/%s/%s", d->dp_root, d->package_id, f->path);
        return 0;
}

static int sync_filelib(Distribution *d, SmsError *e) {
        int r = content_filelib_sync(d->dp.filelib_fd, d->dirty, d->filelib_dirty);
        return r < 0 ? sms_error_set_errno(e, r, "%s/SCCMContentLib/FileLib", d->dp_root) : 0;
}

/* Step 1: everything the manifest names, then the manifest, under the shared lock. */
static int put_files_and_manifest(Distribution *d, SmsError *e) {
        char name[32];
        struct stat st;
        int r;

        d->lock_fd = content_lib_lock(&d->dp, false);
        if (d->lock_fd < 0)
                return sms_error_set_errno(e, d->lock_fd, "locking %s/SCCMContentLib", d->dp_root);

        if (!report(d, "Distributing content"))
                return cancel_error(d, e);
        for (size_t i = 0; i < d->manifest.n_files; i++) {
                d->file_done = 0;
                r = put_filelib_entry(d, i, e);
                if (r < 0)
                        return r;
                d->done += d->manifest.files[i].size;
                d->file_done = 0;
                if (!report(d, "Distributing content"))
                        return cancel_error(d, e);
        }
        r = sync_pending(d, e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < d->manifest.n_files; i++) {
                r = name_filelib_entry(d, i, e);
                if (r < 0)
                        return r;
        }

        /* A refresh of unchanged content in link mode finds its tree in place, every file a link of
         * an entry now known good: keep it. */
        d->reuse_tree = d->tree_placer.mode == CONTENT_LINK_AUTO &&
                        content_tree_matches(d->datalib_fd, d->package_id, d->dp.filelib_fd, d->entry_st,
                                             &d->manifest);
        if (!d->reuse_tree) {
                r = content_tree_new(d->datalib_fd, d->package_id, &d->tree);
                if (r < 0)
                        return sms_error_set_errno(e, r, "%s/SCCMContentLib/DataLib", d->dp_root);
                for (size_t i = 0; i < d->manifest.n_files; i++) {
                        r = put_tree_entry(d, &d->manifest.files[i], e);
                        if (r < 0)
                                return r;
                        if (!report(d, "Publishing content"))
                                return cancel_error(d, e);
                }
        }
        r = sync_filelib(d, e);
        if (r < 0)
                return r;

        content_manifest_name(d->version, name);
        d->manifest_existed = fstatat(d->pkg_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
        r = content_manifest_write_at(d->pkg_fd, d->version, &d->manifest);
        if (r < 0)
                return sms_error_set_errno(e, r, "%s/SCCMContentLib/PkgLib/%s/%s", d->dp_root, d->package_id, name);
        d->manifest_written = true;

        d->lock_fd = (close(d->lock_fd), -1);
        return 0;
}

static int open_pxe_dir(int dp_fd, const char *package_id, bool create, int *ret_fd) {
        _cleanup_close_ int ri = -1, images = -1;
        int fd;

        ri = content_open_dir_at(dp_fd, "RemoteInstall", create);
        if (ri < 0)
                return ri;
        images = content_open_dir_at(ri, "SMSImages", create);
        if (images < 0)
                return images;
        fd = content_open_dir_at(images, package_id, create);
        if (fd < 0)
                return fd;
        *ret_fd = fd;
        return 0;
}

/* Step 2 for PXE: the image under a temporary name beside where it will be published. */
static int prepare_pxe(Distribution *d, SmsError *e) {
        char name[CONTENT_HASH_HEX + 4], tmp[CONTENT_TMP_NAME_MAX];
        int r;

        r = open_pxe_dir(d->dp_fd, d->package_id, true, &d->pxe_dir_fd);
        if (r < 0)
                return sms_error_set_errno(e, r, "%s/RemoteInstall/SMSImages/%s", d->dp_root, d->package_id);
        r = content_tmp_name_new("", tmp);
        if (r < 0)
                return sms_error_set_errno(e, r, "PXE store");
        content_filelib_name(d->pxe_file->hash, name);
        r = content_place_file(&d->tree_placer, d->dp.filelib_fd, name, d->pxe_dir_fd, tmp);
        if (r == -ECANCELED)
                return cancel_error(d, e);
        if (r < 0)
                return sms_error_set_errno(e, r, "%s/RemoteInstall/SMSImages/%s", d->dp_root, d->package_id);
        memcpy(d->pxe_tmp, tmp, sizeof tmp);
        return 0;
}

/* Leaves only `keep` (NULL: nothing) in the package's PXE folder. */
static void prune_pxe_dir(int pxe_dir_fd, const char *keep) {
        int fd = fcntl(pxe_dir_fd, F_DUPFD_CLOEXEC, 3);
        DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;

        if (!dir) {
                if (fd >= 0)
                        close(fd);
                return;
        }
        for (struct dirent *de; (de = readdir(dir));)
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..") && !streq_ptr(de->d_name, keep))
                        (void) content_remove_tree_at(pxe_dir_fd, de->d_name);
        closedir(dir);
}

static int publish_pxe(Distribution *d, SmsError *e) {
        if (renameat(d->pxe_dir_fd, d->pxe_tmp, d->pxe_dir_fd, d->pxe_name) < 0)
                return sms_error_set_errno(e, errno, "%s/RemoteInstall/SMSImages/%s/%s", d->dp_root, d->package_id,
                                           d->pxe_name);
        d->pxe_tmp[0] = 0;
        prune_pxe_dir(d->pxe_dir_fd, d->pxe_name);
        if (fsync(d->pxe_dir_fd) < 0)
                return sms_error_set_errno(e, errno, "%s/RemoteInstall/SMSImages/%s", d->dp_root, d->package_id);
        return 0;
}

/* Returns whether there was a folder to remove. */
static bool remove_pxe_folder(int dp_fd, const char *package_id) {
        _cleanup_close_ int images =
                openat(dp_fd, "RemoteInstall/SMSImages", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        struct stat st;

        if (images < 0 || fstatat(images, package_id, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return false;
        if (content_remove_tree_at(images, package_id) >= 0)
                (void) fsync(images);
        return true;
}

static int write_current(int pkg_fd, uint32_t version) {
        char data[16];
        uint32_t current;

        /* Again the version it serves (RefreshNow): `current` already says so, durably. */
        if (content_current_read_at(pkg_fd, &current) >= 0 && current == version)
                return 0;
        int n = snprintf(data, sizeof data, "%" PRIu32 "\n", version);
        return content_write_file_atomic(pkg_fd, "current", data, (size_t) n);
}

/* Step 3: from here on the new version is what the DP serves. */
static int commit(Distribution *d, SmsError *e) {
        bool exchanged = false;
        int r;

        d->relinked = !d->reuse_tree || d->pxe_name;
        if (!d->reuse_tree) {
                r = content_tree_publish(&d->tree, d->package_id, &exchanged);
                if (r < 0)
                        return sms_error_set_errno(e, r, "%s/SCCMContentLib/DataLib/%s", d->dp_root, d->package_id);
        }
        r = write_current(d->pkg_fd, d->version);
        if (r < 0) {
                if (!d->reuse_tree)
                        (void) content_tree_unpublish(&d->tree, d->package_id, exchanged);
                return sms_error_set_errno(e, r, "%s/SCCMContentLib/PkgLib/%s/current", d->dp_root, d->package_id);
        }
        d->manifest_written = false; /* it is current's now: keep it */
        content_tree_done(&d->tree); /* removes the old tree */

        if (d->pxe_name)
                return publish_pxe(d, e);
        if (remove_pxe_folder(d->dp_fd, d->package_id)) /* not (or no longer) a PXE image here */
                d->relinked = true;
        return 0;
}

int content_dp_distribute(const char *site_lib, const char *dp_root, const char *package_id, uint32_t version,
                          ContentLinkMode mode, const char *pxe_name, ContentProgress progress, void *userdata,
                          ContentDistributeStats *ret_stats, SmsError *e) {
        _cleanup_(distribution_done) Distribution d = {
                .site_lib = site_lib, .dp_root = dp_root, .package_id = package_id, .pxe_name = pxe_name,
                .version = version, .site = CONTENT_LIB_NULL, .dp = CONTENT_LIB_NULL, .dp_fd = -1,
                .datalib_fd = -1, .pkg_fd = -1, .lock_fd = -1, .pxe_dir_fd = -1, .tree = CONTENT_TREE_NULL,
                .progress = progress, .userdata = userdata,
        };
        SmsError gc_error = SMS_ERROR_NULL;
        int r;

        if (!site_lib)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "no site content library");
        r = content_check_package_id(package_id, e);
        if (r < 0)
                return r;
        if (version == 0)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "version 0 is not a version");
        if (mode != CONTENT_LINK_AUTO && mode != CONTENT_LINK_COPY)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "unknown link mode %d", (int) mode);

        r = content_manifest_read(site_lib, package_id, version, &d.manifest, e);
        if (r < 0)
                return r;
        if (pxe_name) {
                r = find_pxe_file(&d, e);
                if (r < 0)
                        return r;
        }
        r = content_dp_open_root(dp_root, &d.dp_fd, e);
        if (r < 0)
                return r;

        {
                int fd = open(site_lib, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0 || (r = content_lib_open(fd, false, &d.site)) < 0)
                        return sms_error_set_errno(e, fd < 0 ? errno : r, "site content library %s", site_lib);
        }
        r = open_dp_lib(d.dp_fd, dp_root, true, &d.dp, e);
        if (r < 0)
                return r;
        d.datalib_fd = content_open_dir_at(d.dp.root_fd, "DataLib", true);
        if (d.datalib_fd < 0)
                return sms_error_set_errno(e, d.datalib_fd, "%s/SCCMContentLib/DataLib", dp_root);
        d.pkg_fd = content_open_dir_at(d.dp.pkglib_fd, package_id, true);
        if (d.pkg_fd < 0)
                return sms_error_set_errno(e, d.pkg_fd, "%s/SCCMContentLib/PkgLib/%s", dp_root, package_id);
        content_tree_clean_stale(d.datalib_fd, package_id);

        d.buffer = malloc(CONTENT_CHUNK);
        if (!d.buffer)
                return sms_error_set_errno(e, ENOMEM, "distribution");
        d.entry_st = calloc(MAX(d.manifest.n_files, (size_t) 1), sizeof *d.entry_st);
        if (!d.entry_st)
                return sms_error_set_errno(e, ENOMEM, "distribution");
        d.pending = calloc(MAX(d.manifest.n_files, (size_t) 1), sizeof *d.pending);
        if (!d.pending)
                return sms_error_set_errno(e, ENOMEM, "distribution");
        content_checked_load(d.site.root_fd, package_id, &d.site_checked);
        content_checked_load(d.dp.root_fd, package_id, &d.dp_checked);
        /* From the site: always a copy (a reflink where possible), never a link. */
        d.filelib_placer = (ContentPlacer) {
                .mode = CONTENT_LINK_COPY, .buffer = d.buffer, .tick = tick_filelib, .tick_userdata = &d,
                .sync_later = true,
        };
        d.tree_placer = (ContentPlacer) { .mode = mode, .buffer = d.buffer, .tick = tick_tree, .tick_userdata = &d };

        r = put_files_and_manifest(&d, e);
        if (r < 0)
                return r;
        r = d.reuse_tree ? 0 : content_tree_sync(&d.tree);
        if (r < 0)
                return sms_error_set_errno(e, r, "%s/SCCMContentLib/DataLib", dp_root);
        if (pxe_name) {
                r = prepare_pxe(&d, e);
                if (r < 0)
                        return r;
        }
        if (!report(&d, "Publishing content"))
                return cancel_error(&d, e);

        r = commit(&d, e);
        if (r < 0)
                return r;

        /* The distribution is complete and served; what gc could not remove now, the next gc will. */
        (void) content_gc_lib(&d.dp, package_id, version, &gc_error);
        sms_error_clear(&gc_error);
        save_dp_checked(&d);

        if (ret_stats)
                *ret_stats = d.stats;
        return 0;
}

int content_dp_current_version(const char *dp_root, const char *package_id, uint32_t *ret, SmsError *e) {
        _cleanup_close_ int dp_fd = -1, pkg_fd = -1;
        _cleanup_free_ char *path = NULL;
        uint32_t v;
        int r;

        r = content_dp_open_for_package(dp_root, package_id, &dp_fd, e);
        if (r < 0)
                return r;
        if (asprintf(&path, "SCCMContentLib/PkgLib/%s", package_id) < 0)
                return -ENOMEM;
        pkg_fd = openat(dp_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (pkg_fd < 0 && errno == ENOENT) {
                *ret = 0;
                return 0;
        }
        if (pkg_fd < 0)
                return sms_error_set_errno(e, errno, "%s/%s", dp_root, path);
        r = content_current_read_at(pkg_fd, &v);
        if (r == -EBADMSG)
                return sms_error_set(e, SMS_ERROR_FAILED, "%s/%s/current is damaged", dp_root, path);
        if (r < 0)
                return sms_error_set_errno(e, r, "%s/%s/current", dp_root, path);
        *ret = v;
        return 0;
}

int content_dp_remove(const char *dp_root, const char *package_id, ContentProgress progress, void *userdata,
                      SmsError *e) {
        _cleanup_(content_lib_close) ContentLib lib = CONTENT_LIB_NULL;
        _cleanup_close_ int dp_fd = -1, pkg_fd = -1, datalib_fd = -1;
        int r;

        r = content_dp_open_for_package(dp_root, package_id, &dp_fd, e);
        if (r < 0)
                return r;
        if (progress && !progress(userdata, 0, 1, "Removing the package"))
                return sms_error_set(e, SMS_ERROR_CANCELED, "removal of %s from %s canceled", package_id, dp_root);

        /* `current` first: from then on the DP does not claim to serve the package. */
        r = open_dp_lib(dp_fd, dp_root, false, &lib, e);
        if (r == -ENOENT) {
                remove_pxe_folder(dp_fd, package_id);
                return 0;
        }
        if (r < 0)
                return r;
        pkg_fd = openat(lib.pkglib_fd, package_id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (pkg_fd >= 0) {
                if (unlinkat(pkg_fd, "current", 0) < 0 && errno != ENOENT)
                        return sms_error_set_errno(e, errno, "%s/SCCMContentLib/PkgLib/%s/current", dp_root,
                                                   package_id);
                if (fsync(pkg_fd) < 0)
                        return sms_error_set_errno(e, errno, "%s/SCCMContentLib/PkgLib/%s", dp_root, package_id);
        }

        datalib_fd = openat(lib.root_fd, "DataLib", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (datalib_fd >= 0) {
                r = content_tree_remove(datalib_fd, package_id);
                if (r < 0)
                        return sms_error_set_errno(e, r, "%s/SCCMContentLib/DataLib/%s", dp_root, package_id);
        }
        remove_pxe_folder(dp_fd, package_id);

        r = content_gc_lib(&lib, package_id, 0, e);
        if (r < 0)
                return r;
        if (progress)
                (void) progress(userdata, 1, 1, "Removed the package");
        return 0;
}
