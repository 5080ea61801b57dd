/* SPDX-License-Identifier: MIT */
#pragma once

/* The content library (ARCHITECTURE.md, content/): single-instance storage of package content by
 * SHA-256, on the site and on each distribution point. No D-Bus, no SQLite; every function may
 * run on a worker thread and reports progress through a callback that can cancel.
 *
 * Two levels, as in Configuration Manager:
 *
 *   site library   <state>/contentlib/
 *       FileLib/<aa>/<sha256>                 file data, stored once (aa = first two hex digits)
 *       PkgLib/<PackageID>/<version>.manifest the files of one package version
 *       DataLib/<PackageID>/                  a version published for the site's own use (driver
 *                                             catalog copies: hard links of FileLib)
 *       cache/<PackageID>.stat                (path, size, mtime, inode) → hash of the source,
 *                                             so that unchanged files are not hashed again
 *
 *   distribution point   <ContentRoot>/
 *       SCCMContentLib/FileLib/<aa>/<sha256>
 *       SCCMContentLib/PkgLib/<PackageID>/<version>.manifest
 *       SCCMContentLib/PkgLib/<PackageID>/current        the version the DP serves ("12\n")
 *       SCCMContentLib/DataLib/<PackageID>/…             the published tree of that version
 *       RemoteInstall/SMSImages/<PackageID>/<name>       boot images on PXE-enabled DPs
 *
 * A manifest is text: one line per file, "<sha256> <size> <relative path>\n", sorted by path;
 * relative paths use '/' and never contain "..", control characters or a leading '/'.
 * Files reach a DP's FileLib as copies of their own (reflinks where the file system can), never as
 * links to the site library; DataLib and the PXE store are hard links into the DP's own FileLib
 * (copies in copy mode). Nothing is published that is not known to match its hash (checked.c). Every write is crash-safe: temporary name in the same
 * directory, fsync, rename, directory fsync. A manifest is written only after every file it names
 * is in place, and `current` only after its manifest and DataLib tree; so a crash never leaves a
 * manifest or `current` pointing at a missing file.
 *
 * Calls on different packages may run at the same time on one library (two distributions to one
 * DP, two ingests): FileLib writes are idempotent, and content_gc holds the library's lock
 * (<root>/.lock, flock(2)) exclusively while writers hold it shared from their first FileLib write
 * to their manifest. Calls on the same package must not overlap. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smsprov/error.h"

#define CONTENT_HASH_HEX 64

typedef struct ContentFile {
        char *path;  /* relative, '/'-separated */
        uint64_t size;
        char hash[CONTENT_HASH_HEX + 1];
} ContentFile;

typedef struct ContentManifest {
        ContentFile *files;
        size_t n_files;
        uint64_t total_bytes;
} ContentManifest;

void content_manifest_done(ContentManifest *m);

/* Progress in bytes; return false to cancel (the call then fails with Canceled and leaves what
 * was there before). Runs on the calling thread. content_site_ingest counts only the files it must
 * read, those the stat cache cannot vouch for: 0 of 0 for unchanged content. */
typedef bool (*ContentProgress)(void *userdata, uint64_t done, uint64_t total, const char *text);

/* --- the site library ------------------------------------------------------------------------- */

/* Takes a package version into the site library: walks `source` (a file, or a directory tree;
 * symlinks are not followed and are refused, as are device nodes, FIFOs and sockets inside it),
 * hashes what changed since the last ingest (the stat cache), stores new data in FileLib, and
 * writes PkgLib/<package_id>/<version>.manifest. A file source is stored under its base name.
 * Returns the manifest. Errors: InvalidParameter (source missing or holding something that is not
 * a file or directory), OutOfDiskSpace, Canceled, Failed. */
int content_site_ingest(const char *site_lib, const char *package_id, uint32_t version, const char *source,
                        ContentProgress progress, void *userdata, ContentManifest *ret, SmsError *e);
/* The same for a source a caller named: `source_fd` is what content_roots_resolve() returned for
 * it (O_PATH folder or O_RDONLY file), resolved where it is used; `source` only names it in errors
 * and gives a file source its name. content_site_ingest() opens `source` itself, following links:
 * only for paths the daemon chose. */
int content_site_ingest_fd(const char *site_lib, const char *package_id, uint32_t version, int source_fd,
                           const char *source, ContentProgress progress, void *userdata, ContentManifest *ret,
                           SmsError *e);

/* SHA-256 of a buffer as 64 lowercase hex digits (the hash FileLib names data by). */
int content_hash_data(const void *data, size_t size, char ret_hex[static CONTENT_HASH_HEX + 1]);

/* Publishes version `version` of an ingested package in the site library itself, as
 * <site_lib>/DataLib/<package_id>/: the manifest's files as hard links of their FileLib entries
 * (copies where the file system refuses links), built beside and swapped in whole; a tree that
 * already is exactly the manifest's is kept. For content the site reads by path (the driver
 * catalog's copies). Errors: InvalidParameter, NotFound/Failed (no such manifest), OutOfDiskSpace,
 * Failed. */
int content_site_publish(const char *site_lib, const char *package_id, uint32_t version, SmsError *e);
/* Removes a package from the site library: its published tree, its manifests, and the FileLib
 * entries no other manifest names (content_gc()). A package that is not there is no error. */
int content_site_remove(const char *site_lib, const char *package_id, SmsError *e);
/* The packages of the site library whose IDs start with `prefix`: those with manifests and those
 * with a published tree (a NULL-terminated list, empty when none). */
int content_site_list(const char *site_lib, const char *prefix, char ***ret, SmsError *e);

/* Reads PkgLib/<package_id>/<version>.manifest of a library root (site or DP's SCCMContentLib). */
int content_manifest_read(const char *lib_root, const char *package_id, uint32_t version, ContentManifest *ret,
                          SmsError *e);

/* Removes the package's manifests except that of `keep_version` (0 = none) and the one `current`
 * names (a DP never loses what it serves), then every FileLib file no remaining manifest names.
 * For the site library (where keep_version 0 also drops the stat cache) and for DPs alike. */
int content_gc(const char *lib_root, const char *package_id, uint32_t keep_version, SmsError *e);

/* Hashes every file of the site library's FileLib again (a scrub): an entry that does not match
 * its name (damage that left its metadata alone, a bad sector) is removed, so that nothing
 * publishes it and the next ingest of a package naming it takes it again from the package source.
 * Returns the hashes removed and the packages whose manifests name them (NULL-terminated, empty
 * when all is well). Errors: Canceled, Failed. */
int content_site_scrub(const char *site_lib, ContentProgress progress, void *userdata, char ***ret_bad,
                       char ***ret_packages, SmsError *e);

/* After a crash, before any other call on the library: removes the temporaries killed writers
 * left (in the root, FileLib/<aa>/, PkgLib/<id>/, DataLib/, cache/). `lib_root` is the site
 * library or a DP's SCCMContentLib. */
int content_recover(const char *lib_root);

/* --- distribution points ----------------------------------------------------------------------- */

/* A DP never shares an inode with the site library or another DP: its FileLib entries are reflinks
 * (FICLONE) where the file system can share extents, kernel copies (copy_file_range) elsewhere.
 * The mode decides only what happens inside the DP. */
typedef enum ContentLinkMode {
        CONTENT_LINK_AUTO, /* DataLib and the PXE store hard-link the DP's own FileLib where allowed */
        CONTENT_LINK_COPY, /* copies inside the DP too (a DP on a share that must not share inodes) */
} ContentLinkMode;

/* How many DPs one package's distribution works on at once (each content_dp_distribute() on a
 * thread of its own; they share nothing but the site library, which they only read). Configuration
 * Manager's distribution manager also copies one package to several DPs in parallel (its Software
 * Distribution component's "Maximum threads per package"); five is smsprovd's choice: enough to
 * overlap the fsync waits of local DPs and the latency of remote ones. */
#define CONTENT_DP_PARALLEL 5

typedef struct ContentDistributeStats {
        uint64_t files_linked, files_copied, files_present; /* FileLib entries */
        uint64_t bytes_copied;
} ContentDistributeStats;

/* Puts version `version` of a package, as described by the site library's manifest, on the DP
 * whose ContentRoot is `dp_root`: FileLib entries (kept when known to match their hash: a stat
 * when their identity is the one recorded when they were last known good, else hashed again;
 * others copied from the site library, whose entry must match too), the manifest,
 * DataLib/<package_id>/ (built beside and swapped in), then `current`. With `pxe_name` (a boot
 * image on a PXE-enabled DP: the manifest's single .wim file, published under that name), also
 * RemoteInstall/SMSImages/<package_id>/<pxe_name> (without, the package's PXE folder is removed).
 * In AUTO mode a DataLib tree that already is exactly the manifest's, every file a link of its
 * FileLib entry, is kept rather than rebuilt. Superseded versions are removed from the DP
 * afterwards (content_gc). Errors: InvalidParameter (dp_root missing or not a directory),
 * OutOfDiskSpace, Canceled, Failed (read-only, I/O error, a site library file that is missing or
 * does not match its hash: the DP keeps what it had). */
int content_dp_distribute(const char *site_lib, const char *dp_root, const char *package_id, uint32_t version,
                          ContentLinkMode mode, const char *pxe_name, ContentProgress progress, void *userdata,
                          ContentDistributeStats *ret_stats, SmsError *e);

/* The version a DP serves for a package (PkgLib/<id>/current), 0 when none. */
int content_dp_current_version(const char *dp_root, const char *package_id, uint32_t *ret, SmsError *e);

/* Removes a package from a DP: DataLib tree, PXE store folder, manifests and `current`, then
 * unreferenced FileLib files. Missing pieces are fine. */
int content_dp_remove(const char *dp_root, const char *package_id, ContentProgress progress, void *userdata,
                      SmsError *e);

/* Recomputes the hash of every file of the package's current version on the DP — both the
 * FileLib entry and the published DataLib file — and reports the relative paths that are missing
 * or differ (NULL-terminated list, empty when all is well). NotFound when the DP does not serve
 * the package. */
int content_dp_verify(const char *dp_root, const char *package_id, ContentProgress progress, void *userdata,
                      char ***ret_bad_paths, SmsError *e);
