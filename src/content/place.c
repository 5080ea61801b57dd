/* SPDX-License-Identifier: MIT */
/* Putting a file where a distribution point needs it: a hard link when the file system allows
 * one (no data moves), a durable copy otherwise. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "content/content-internal.h"

/* Errors that say "this file system (or this mount) does not do hard links here": stop trying. */
static bool link_refused_everywhere(int error) {
        return error == EXDEV || error == EPERM || error == ENOTSUP || error == EOPNOTSUPP || error == ENOSYS;
}

/* Moves tmp to name without replacing an existing name. */
int content_rename_noreplace(int dirfd, const char *tmp, const char *name) {
        if (renameat2(dirfd, tmp, dirfd, name, RENAME_NOREPLACE) == 0)
                return 0;
        if (errno != EINVAL)
                return -errno;
        /* RENAME_NOREPLACE unsupported (some network file systems): a link refuses to replace too. */
        if (linkat(dirfd, tmp, dirfd, name, 0) < 0)
                return -errno;
        (void) unlinkat(dirfd, tmp, 0);
        return 0;
}

static int place_copy(ContentPlacer *p, int src_dirfd, const char *src_name, int dirfd, const char *name) {
        _cleanup_close_ int src = -1, out = -1;
        char tmp[CONTENT_TMP_NAME_MAX];
        int64_t n;
        int r;

        src = openat(src_dirfd, src_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (src < 0)
                return -errno;
        out = content_tmpfile_create(dirfd, "", 0444, tmp);
        if (out < 0)
                return out;
        n = content_copy_fd(src, out, p->buffer, p->tick, p->tick_userdata);
        r = n < 0 ? (int) n : 0;
        if (r >= 0 && !p->sync_later && fsync(out) < 0)
                r = -errno;
        if (r >= 0)
                r = content_rename_noreplace(dirfd, tmp, name);
        if (r < 0) {
                (void) unlinkat(dirfd, tmp, 0);
                return r;
        }
        p->bytes_copied += (uint64_t) n;
        return 0;
}

int content_place_file(ContentPlacer *p, int src_dirfd, const char *src_name, int dirfd, const char *name) {
        if (p->mode == CONTENT_LINK_AUTO && !p->links_failed) {
                if (linkat(src_dirfd, src_name, dirfd, name, 0) == 0)
                        return 1;
                if (errno == EEXIST)
                        return -EEXIST;
                if (link_refused_everywhere(errno))
                        p->links_failed = true;
                else if (errno != EMLINK) /* EMLINK is this inode's limit: copy this one only */
                        return -errno;
        }
        return place_copy(p, src_dirfd, src_name, dirfd, name);
}
