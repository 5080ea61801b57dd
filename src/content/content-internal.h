/* SPDX-License-Identifier: MIT */
#pragma once

/* What the files of content/ share: SHA-256, the copy routine, crash-safe file writes, the layout
 * of a library, manifests, the stat cache and the small pool of worker threads that hashes. Not
 * public: the rest of the daemon uses include/smsprov/content.h. */

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "smsprov/content.h"
#include "smsprov/error.h"
#include "smsprov/macro.h"

/* The read/hash/write unit. Small enough to stay in a core's L2 cache between the read, the hash
 * and the write: with 1 MiB the three copies went through L3 and the ingest cost 1.8× the CPU. */
#define CONTENT_CHUNK ((size_t) 256 << 10)
#define CONTENT_TICK_BYTES ((uint64_t) 8 << 20)        /* progress (and cancel) within a long copy */
#define CONTENT_FILES_MAX ((size_t) 1000000)           /* files in one package version */
#define CONTENT_DEPTH_MAX 128                          /* directory levels below a source */
#define CONTENT_MANIFEST_SIZE_MAX ((size_t) 256 << 20) /* bytes of one manifest or stat cache */
#define CONTENT_PACKAGE_ID_MAX 64
#define CONTENT_WORKERS_MAX 8
/* Above this many files or directories to make durable at one point, one syncfs(2) instead of an
 * fsync(2) each: one journal commit and one cache flush instead of one flush per call (the way
 * OSTree commits its object store). The price: other dirty data on that file system is written too. */
#define CONTENT_SYNCFS_MIN 16

/* Every temporary name starts with this; nothing else in a library does. */
#define CONTENT_TMP_PREFIX ".tmp-"
#define CONTENT_TMP_RANDOM 12 /* characters of randomness after the prefix */
#define CONTENT_LOCK_FILE ".lock"

#ifndef MAX
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif

/* --- hash.c ---------------------------------------------------------------------------------- */

typedef struct ContentHasher ContentHasher; /* an EVP_MD_CTX for SHA-256 */

ContentHasher *content_hasher_new(void);
ContentHasher *content_hasher_free(ContentHasher *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(ContentHasher *, content_hasher_free);
int content_hasher_update(ContentHasher *h, const void *data, size_t size);
/* Writes 64 lowercase hex digits and a NUL; the hasher can be used again afterwards. */
int content_hasher_final(ContentHasher *h, char ret_hex[static CONTENT_HASH_HEX + 1]);
bool content_hash_is_valid(const char *hex);

/* --- copy.c ---------------------------------------------------------------------------------- */

/* Called every CONTENT_TICK_BYTES or so with the bytes copied since the last call; returning false
 * stops the copy with -ECANCELED. */
typedef bool (*ContentCopyTick)(void *userdata, uint64_t bytes);

/* Copies `in` (from offset 0) to the empty file `out`: FICLONE, else copy_file_range, else
 * read/write through `buffer` (CONTENT_CHUNK bytes). Returns the bytes copied or a negative errno. */
int64_t content_copy_fd(int in, int out, void *buffer, ContentCopyTick tick, void *userdata);

/* Copies `in` to the empty file `out` and feeds what was written to `h` (the caller takes the
 * digest), reading the source once: a clone is hashed by reading the clone, anything else by
 * hashing each chunk between read and write. Returns the bytes copied or a negative errno. */
int64_t content_copy_hash_fd(int in, int out, void *buffer, ContentHasher *h, ContentCopyTick tick,
                             void *userdata);

/* Hashes `fd` from offset 0. Returns the bytes read or a negative errno. */
int64_t content_hash_fd(int fd, void *buffer, ContentHasher *h, char ret_hex[static CONTENT_HASH_HEX + 1],
                        ContentCopyTick tick, void *userdata);

/* --- atomic-file.c --------------------------------------------------------------------------- */

#define CONTENT_TMP_NAME_MAX (NAME_MAX + 1)

/* Creates a new file "<CONTENT_TMP_PREFIX><infix><random>" below dirfd (O_EXCL); returns its fd
 * and its name. */
int content_tmpfile_create(int dirfd, const char *infix, mode_t mode, char ret_name[static CONTENT_TMP_NAME_MAX]);
int content_tmpdir_create(int dirfd, const char *infix, char ret_name[static CONTENT_TMP_NAME_MAX]);
/* A fresh temporary name (not created). */
int content_tmp_name_new(const char *infix, char ret_name[static CONTENT_TMP_NAME_MAX]);
/* True for a name content_tmp*_create() made with this infix ("" matches every temporary). */
bool content_tmp_name_matches(const char *name, const char *infix);

/* Temporary name, write, fsync, rename over `name`, fsync dirfd. */
int content_write_file_atomic(int dirfd, const char *name, const void *data, size_t size);
/* Reads a whole regular file (not following a symlink), at most `max` bytes. */
int content_read_file_at(int dirfd, const char *name, size_t max, char **ret_data, size_t *ret_size);

/* Opens (creating it with mode 0755 when `create`) the directory `name` below dirfd without
 * following a symlink. A directory it creates is made durable in its parent before returning. */
int content_open_dir_at(int dirfd, const char *name, bool create);
/* The same, leaving the parent's fsync to the caller (*ret_created tells whether it is due):
 * for FileLib/<aa>/, made by the dozen and synced once before the manifest. */
int content_mkdir_open_at(int dirfd, const char *name, bool *ret_created);
int content_fsync_dir_at(int dirfd, const char *name);
/* Opens the relative path below dirfd without following any symlink on the way (RESOLVE_BENEATH,
 * RESOLVE_NO_SYMLINKS; component by component where openat2 is missing). Returns the fd or a
 * negative errno (-ELOOP for a symlink). */
int content_open_below(int dirfd, const char *path, int flags);
/* Removes the directory tree `name` below dirfd (not following symlinks); missing is fine. */
int content_remove_tree_at(int dirfd, const char *name);

/* --- layout.c -------------------------------------------------------------------------------- */

bool content_package_id_is_valid(const char *id);
/* 0, or InvalidParameter naming the ID when it is not usable: the first check of every entry point. */
int content_check_package_id(const char *package_id, SmsError *e);
/* "aa/<hash>": FileLib's name for a hash (buffer of CONTENT_HASH_HEX + 4). */
void content_filelib_name(const char *hash, char ret[static CONTENT_HASH_HEX + 4]);
/* "<version>.manifest" */
void content_manifest_name(uint32_t version, char ret[static 32]);
/* Parses "<version>.manifest"; 0 when the name is something else. */
uint32_t content_manifest_name_version(const char *name);

/* Library roots: a directory holding FileLib/ and PkgLib/ (and, on the site, cache/). */
typedef struct ContentLib {
        int root_fd, filelib_fd, pkglib_fd;
} ContentLib;

#define CONTENT_LIB_NULL ((ContentLib) { .root_fd = -1, .filelib_fd = -1, .pkglib_fd = -1 })

/* Opens `root_fd`'s FileLib/ and PkgLib/ (creating them when `create`). Takes over root_fd. */
int content_lib_open(int root_fd, bool create, ContentLib *ret);
void content_lib_close(ContentLib *lib);

/* The library lock (<root>/.lock, flock(2)): shared while a distribution or an ingest adds FileLib
 * entries and writes the manifest naming them, exclusive while content_gc decides what is
 * unreferenced. Returns the lock fd. */
int content_lib_lock(const ContentLib *lib, bool exclusive);

/* The version in PkgLib/<id>/current below pkg_dir_fd: 0 when there is none, -EBADMSG when it is
 * not "<version>\n". */
int content_current_read_at(int pkg_dir_fd, uint32_t *ret);

/* Makes new entries of the <aa>/ directories marked in `dirty` (and new <aa>/ in FileLib/, when
 * `filelib_dirty`) durable: an fsync each, or one syncfs for many (CONTENT_SYNCFS_MIN). */
int content_filelib_sync(int filelib_fd, const bool dirty[static 256], bool filelib_dirty);

/* Counts the entries of a FileLib (not temporaries); for tests and tools. */
int content_filelib_count(int filelib_fd, uint64_t *ret);

/* --- manifest.c ------------------------------------------------------------------------------ */

/* A relative path as a manifest may hold it: '/'-separated, components non-empty and not "." or
 * "..", no control characters, no leading or trailing '/'. */
bool content_relative_path_is_valid(const char *path);
int content_manifest_parse(const char *data, size_t size, ContentManifest *ret, char **ret_why);
int content_manifest_format(const ContentManifest *m, char **ret_data, size_t *ret_size);
int content_manifest_read_at(int pkglib_fd, const char *package_id, uint32_t version, ContentManifest *ret,
                             SmsError *e);
/* Writes <version>.manifest atomically below pkg_dir_fd. Returns 1 when it already held exactly
 * these bytes (nothing written), 0 when written, or a negative errno. */
int content_manifest_write_at(int pkg_dir_fd, uint32_t version, const ContentManifest *m);

/* --- stat-cache.c ---------------------------------------------------------------------------- */

typedef struct ContentStatEntry {
        char *path;
        uint64_t size, inode;
        int64_t mtime_ns, ctime_ns;
        char hash[CONTENT_HASH_HEX + 1];
} ContentStatEntry;

typedef struct ContentStatCache {
        ContentStatEntry *entries; /* sorted by path */
        size_t n_entries;
} ContentStatCache;

/* A missing or unreadable cache is an empty one: it only saves work. */
void content_stat_cache_load(int cache_dir_fd, const char *package_id, ContentStatCache *ret);
int content_stat_cache_save(int cache_dir_fd, const char *package_id, const ContentStatCache *c);
/* The same for a cache file of another name (checked.c). */
void content_stat_cache_load_name(int cache_dir_fd, const char *name, ContentStatCache *ret);
int content_stat_cache_save_name(int cache_dir_fd, const char *name, const ContentStatCache *c);
const ContentStatEntry *content_stat_cache_find(const ContentStatCache *c, const char *path);
/* True when both hold the same entries in the same order: what was loaded need not be written again. */
bool content_stat_cache_equal(const ContentStatCache *a, const ContentStatCache *b);
void content_stat_cache_done(ContentStatCache *c);
/* True when `st` is the file the entry was made from. */
bool content_stat_entry_matches(const ContentStatEntry *entry, const struct stat *st);
int64_t content_timespec_ns(const struct timespec *ts);

/* The racily-clean rule of both caches. A change stamps a file with the time of the clock tick it
 * falls in (CLOCK_REALTIME_COARSE), so a second change in the tick of the first leaves size, mtime
 * and ctime as they were: an identity is trusted only when it was stamped before the tick in
 * which its bytes began to be read. Read the clock with content_clock_now() before the first byte;
 * content_stat_settled() then says whether the identity found after the read may be recorded
 * (read at the end, the clock could have moved on past a change made during or after the read
 * within the tick of the file's stamp). File systems with multigrain time stamps (Linux 6.13)
 * stamp a change right after a stat with the fine clock, up to a tick ahead of the coarse one:
 * such a file counts as changed "now" until the coarse clock has passed its stamp, which only
 * costs a read more. */
int64_t content_clock_now(void);
bool content_stat_settled(const struct stat *st, int64_t now_ns);
/* For tests: content_clock_now() returns `now_ns` instead of the clock (0: the clock again), so
 * that which files count as changed "now" is theirs to say, whatever the machine's speed. Only
 * while no ingest, distribution or scrub runs. */
void content_clock_pin(int64_t now_ns);

/* --- checked.c ------------------------------------------------------------------------------ */

/* Which FileLib entries of a library are known to hold the bytes their name says: the identity
 * (size, inode, mtime, ctime) each had when it was last hashed, or written from hashed data. One
 * list per package and library, <root>/cache/<PackageID>.checked, in the stat cache's format with
 * FileLib names ("aa/<sha256>") for paths. Like the stat cache it only saves work: a missing list
 * means every entry is hashed again before it is published. */
#define CONTENT_CHECKED_SUFFIX ".checked"

void content_checked_load(int root_fd, const char *package_id, ContentStatCache *ret);
/* Sorts `c` (entries added by content_checked_add(), in any order, duplicates allowed) and writes
 * it, creating <root>/cache/ when needed; not when it is what `loaded` (the list as
 * content_checked_load() found it, or NULL) says already, as after a refresh that changed nothing. */
int content_checked_save(int root_fd, const char *package_id, ContentStatCache *c, const ContentStatCache *loaded);
/* Appends the identity `st` of FileLib entry `hash`. */
int content_checked_add(ContentStatCache *c, const char *hash, const struct stat *st);

/* Whether FileLib/<aa>/<hash> holds `size` bytes that hash to `hash`: a stat when its identity is
 * what `checked` (may be NULL) recorded, else it is hashed again. Returns 1 when it matches, with
 * its identity in *ret_st (st_ino 0 when it changed while it was read or in the same clock tick:
 * good now, but not to be recorded); 0 when it is missing, not a regular file or differs; a
 * negative errno on failure (-ECANCELED from `tick`). */
int content_filelib_check(int filelib_fd, const ContentStatCache *checked, const char *hash, uint64_t size,
                          void *buffer, ContentCopyTick tick, void *userdata, struct stat *ret_st);

/* --- workers.c ------------------------------------------------------------------------------- */

/* Runs an item function over n items on one thread more than there are CPUs (up to
 * CONTENT_WORKERS_MAX), while the calling thread reports progress (so that the progress callback
 * always runs where the caller expects it) and relays a cancel to the workers. With one item or
 * one CPU everything runs on the calling thread. */
typedef struct ContentWorkers ContentWorkers;
typedef int (*ContentWorkItem)(ContentWorkers *w, size_t index, void *buffer, SmsError *e);

struct ContentWorkers {
        /* set by the caller */
        size_t n_items;
        ContentWorkItem item;
        void *userdata;
        ContentProgress progress;
        void *progress_userdata;
        uint64_t total;
        const char *text;

        /* private */
        _Atomic size_t next;
        _Atomic uint64_t done;
        _Atomic bool cancel;
        bool inline_mode;
        uint64_t reported; /* inline mode: done at the last progress call */
};

int content_workers_run(ContentWorkers *w, SmsError *e);
/* For items: count bytes done, and learn whether to stop (false: return -ECANCELED). */
bool content_workers_tick(ContentWorkers *w, uint64_t bytes);

/* --- gc.c ------------------------------------------------------------------------------------ */

/* content_gc() of a library that is already open. */
int content_gc_lib(const ContentLib *lib, const char *package_id, uint32_t keep_version, SmsError *e);

/* --- dp.c / datalib.c ------------------------------------------------------------------------ */

/* Opens a DP's ContentRoot: InvalidParameter when it is missing or not a directory. */
int content_dp_open_root(const char *dp_root, int *ret_fd, SmsError *e);
/* What every call on one package of a DP does first: checks the package ID, then opens the root. */
int content_dp_open_for_package(const char *dp_root, const char *package_id, int *ret_fd, SmsError *e);

/* Hard links where allowed, copies otherwise, for one call (a DP's FileLib or its DataLib). */
typedef struct ContentPlacer {
        ContentLinkMode mode;
        bool links_failed; /* the file system refused a link: copy for the rest of the call */
        void *buffer;
        ContentCopyTick tick;
        void *tick_userdata;
        uint64_t bytes_copied;
        bool sync_later; /* copies are not fsynced: the caller makes them durable before naming them */
} ContentPlacer;

/* Puts a file at dirfd/name with the content of src_dirfd/src_name: a hard link when the placer
 * allows, else a copy through a temporary name (fsynced, then renamed without replacing). Returns
 * 1 when linked, 0 when copied, -EEXIST when the name was taken (a concurrent placer won). */
int content_place_file(ContentPlacer *p, int src_dirfd, const char *src_name, int dirfd, const char *name);

/* Renames dirfd/tmp to dirfd/name, failing with -EEXIST if name exists. */
int content_rename_noreplace(int dirfd, const char *tmp, const char *name);

/* --- datalib.c ------------------------------------------------------------------------------- */

/* A package's published tree, built under a temporary name in DataLib/ and swapped in whole. */
typedef struct ContentTree {
        int parent_fd;                     /* DataLib/ (borrowed) */
        char name[CONTENT_TMP_NAME_MAX];   /* the temporary name; after publishing, the old tree's */
        bool exists;                       /* something is at `name` */
        int fd;
        char *cur_path;                    /* the directory of the last file placed, and its fd */
        int cur_fd;
        char **dirs;                       /* directories made, to fsync before publishing */
        size_t n_dirs, allocated;
} ContentTree;

#define CONTENT_TREE_NULL ((ContentTree) { .parent_fd = -1, .fd = -1, .cur_fd = -1 })

/* Removes temporaries of this package left in DataLib/ by a crash. */
void content_tree_clean_stale(int datalib_fd, const char *package_id);
int content_tree_new(int datalib_fd, const char *package_id, ContentTree *ret);
/* The directory (created as needed) that will hold `path`; returns a borrowed fd and the last
 * component in *ret_name. */
int content_tree_parent(ContentTree *t, const char *path, const char **ret_name);
int content_tree_sync(ContentTree *t);
/* Swaps the tree in as DataLib/<package_id>; the previous tree, if any, is left at t->name. */
int content_tree_publish(ContentTree *t, const char *package_id, bool *ret_exchanged);
/* Undoes content_tree_publish() after a later step failed. */
int content_tree_unpublish(ContentTree *t, const char *package_id, bool exchanged);
/* True when DataLib/<package_id> already is exactly the manifest's tree and every file in it is
 * a hard link of its FileLib entry: nothing to rebuild (a refresh of unchanged content).
 * `entry_st` holds, per manifest file, its FileLib entry's identity as the caller just checked it
 * (st_ino 0: not known, looked up here); NULL when the caller knows none. Costs one walk of the tree, a stat per entry, no reads. */
bool content_tree_matches(int datalib_fd, const char *package_id, int filelib_fd, const struct stat *entry_st,
                          const ContentManifest *m);
/* Removes whatever is at t->name and closes everything. */
void content_tree_done(ContentTree *t);
/* Removes DataLib/<package_id> (renamed out of sight first, then removed) and its temporaries;
 * missing is fine. */
int content_tree_remove(int datalib_fd, const char *package_id);
