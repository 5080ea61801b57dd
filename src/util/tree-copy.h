/* SPDX-License-Identifier: MIT */
#pragma once

/* A private copy of a confined input, for libraries that only take paths and walk them (wimlib's
 * capture lstat()s and opens each name of a tree by its joined path, and reads file data again by
 * path when it writes; a directory renamed and replaced by a symlink meanwhile would redirect it).
 * The copy is taken with *at() calls below the descriptor content_roots_resolve() returned,
 * opening every component with O_NOFOLLOW; it lives in a directory only the daemon writes, so the
 * path handed to the library names exactly the bytes that were read beneath the root.
 *
 * Regular files are copied (copy_file_range(), which shares extents where the file system can),
 * directories are made, symbolic links are recreated as links (their targets are text, never
 * followed); FIFOs, sockets and device nodes are refused. Modification and access times are kept,
 * modes are not (the image does not store them). */

#include "smsprov/error.h"

#define TREE_COPY_DEPTH_MAX 64
#define TREE_COPY_ENTRIES_MAX 100000

/* Copies the file or directory open as `src_fd` (O_RDONLY or O_PATH; it stays open and is not
 * moved) to `dst_name` in the directory `dst_dirfd`, which must not exist yet. `what` names the
 * input in errors ("PreExecSourceDirectory"). Errors: InvalidParameter (a special file, too deep,
 * too many entries), OutOfDiskSpace, Failed; a partial copy is left for the caller to remove. */
int tree_copy_at(int src_fd, int dst_dirfd, const char *dst_name, const char *what, SmsError *e);
