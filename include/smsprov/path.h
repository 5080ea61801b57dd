/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

/* Confinement of caller-supplied paths to the site's content roots (API.md §8). A path is
 * accepted only if it is absolute, lexically below one of the roots, and resolves beneath that
 * root without following a symlink out of it (openat2 RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS),
 * and the object found is of the kind wanted. Device nodes, FIFOs and sockets are never opened
 * for I/O (O_PATH first, so a FIFO cannot block the daemon).
 *
 * A check is good only for the descriptor it returns: every use of a caller-given path resolves
 * it again (or keeps the descriptor of the check) and works below that descriptor with *at()
 * calls, never with the stored string or a path joined from it. A library that takes paths gets
 * "/proc/self/fd/N" of a checked file (it opens exactly that inode), or a private copy of a tree
 * (util/tree-copy.h) when it walks or reopens names below the path. */

#include <stdbool.h>

#include "smsprov/error.h"

typedef enum PathKind {
        PATH_KIND_ANY,       /* a regular file or a directory */
        PATH_KIND_FILE,      /* a regular file, which must be readable */
        PATH_KIND_DIRECTORY, /* a directory */
} PathKind;

typedef struct ContentRoots {
        char **paths; /* canonical (realpath) absolute paths, NULL-terminated */
} ContentRoots;

/* Canonicalises and adds a root; the directory must exist. */
int content_roots_add(ContentRoots *roots, const char *path, SmsError *e);
void content_roots_done(ContentRoots *roots);
/* A copy for a worker thread, which resolves with it where it uses a path (no shared state). */
int content_roots_copy(const ContentRoots *from, ContentRoots *ret);

/* Checks `path` as described above. On success returns 0 and, when ret_fd is not NULL, a file
 * descriptor open on the object (O_RDONLY for files, O_PATH|O_DIRECTORY for directories), so
 * that later use cannot be redirected by a symlink swapped in after the check.
 * Errors: InvalidParameter (not absolute, control characters, over-long component, missing,
 * wrong kind), PathNotAllowed (outside every root, escapes through `..` or a symlink). */
int content_roots_resolve(const ContentRoots *roots, const char *path, PathKind kind, int *ret_fd, SmsError *e);

/* Lexically: the rest of canonical `path` below canonical `root` ("" when they are equal), or NULL
 * when `path` is not `root` or below it. */
const char *path_below(const char *root, const char *path);

/* openat2(2) with O_CLOEXEC added, tried again while the kernel answers EAGAIN (a rename or mount
 * elsewhere during a RESOLVE_BENEATH walk over ".."), a bounded number of times. Returns the
 * descriptor or a negative errno (-ENOSYS without openat2). */
int path_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve);
/* Opens `relative` below the directory `dirfd` without leaving it (RESOLVE_BENEATH, no magic
 * links); returns the descriptor or a negative errno (-EXDEV when it would leave). */
int path_open_beneath(int dirfd, const char *relative, int flags);

/* "/proc/self/fd/N": a path that names exactly the inode behind fd, for libraries that take paths. */
char *path_of_fd(int fd);
/* The absolute path the kernel has for fd (readlink of /proc/self/fd/N), or NULL: a name for
 * comparisons and messages, never one to open again (a rename may have swapped what it names). */
char *path_resolved_of_fd(int fd);

/* Removes a directory tree the daemon owns (not following symlinks). Missing is fine. */
int path_remove_tree(const char *path);
