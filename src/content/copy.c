/* SPDX-License-Identifier: MIT */
/* Moving file data: a reflink where the file system can share extents, copy_file_range where the
 * kernel can copy without us, read/write otherwise; and hashing on the way, in one pass. */

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "content/content-internal.h"
#include "util/io-util.h"

typedef struct Ticker {
        ContentCopyTick tick;
        void *userdata;
        uint64_t pending;
} Ticker;

/* Reports whole CONTENT_TICK_BYTES steps (or everything, at the end); false means stop. */
static bool ticker_add(Ticker *t, uint64_t bytes, bool flush) {
        t->pending += bytes;
        if (!t->tick || (!flush && t->pending < CONTENT_TICK_BYTES))
                return true;
        uint64_t n = t->pending;
        t->pending = 0;
        return t->tick(t->userdata, n);
}

static ssize_t read_some(int fd, void *buffer, size_t size, off_t offset) {
        for (;;) {
                ssize_t n = pread(fd, buffer, size, offset);
                if (n >= 0 || errno != EINTR)
                        return n < 0 ? -errno : n;
        }
}

/* copy_file_range cannot do this pair of files (old kernel, different file system types, special
 * files): read/write can. */
static bool copy_file_range_unsupported(int error) {
        return error == EXDEV || error == EINVAL || error == ENOSYS || error == EOPNOTSUPP || error == EBADF ||
               error == ETXTBSY;
}

/* Shares the source's extents with `out` (btrfs, XFS, bcachefs); false where that is not possible. */
static int64_t try_clone(int in, int out) {
        struct stat st;

        if (ioctl(out, FICLONE, in) < 0)
                return -EOPNOTSUPP;
        if (fstat(out, &st) < 0)
                return -errno;
        return st.st_size;
}

/* Reads fd from offset 0 to its end into the hash. */
static int64_t hash_all(int fd, void *buffer, ContentHasher *h, Ticker *t) {
        off_t offset = 0;
        int r;

        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        for (;;) {
                ssize_t n = read_some(fd, buffer, CONTENT_CHUNK, offset);
                if (n < 0)
                        return n;
                if (n == 0)
                        return ticker_add(t, 0, true) ? offset : -ECANCELED;
                r = content_hasher_update(h, buffer, (size_t) n);
                if (r < 0)
                        return r;
                offset += n;
                if (!ticker_add(t, (uint64_t) n, false))
                        return -ECANCELED;
        }
}

/* read/write from `offset` on: the fallback that works everywhere, and the one that can hash. */
static int64_t copy_read_write(int in, int out, off_t offset, void *buffer, ContentHasher *h, Ticker *t) {
        int r;

        (void) posix_fadvise(in, 0, 0, POSIX_FADV_SEQUENTIAL);
        for (;;) {
                ssize_t n = read_some(in, buffer, CONTENT_CHUNK, offset);
                if (n < 0)
                        return n;
                if (n == 0)
                        return ticker_add(t, 0, true) ? offset : -ECANCELED;
                if (h) {
                        r = content_hasher_update(h, buffer, (size_t) n);
                        if (r < 0)
                                return r;
                }
                r = write_full(out, buffer, (size_t) n, offset);
                if (r < 0)
                        return r;
                offset += n;
                if (!ticker_add(t, (uint64_t) n, false))
                        return -ECANCELED;
        }
}

int64_t content_copy_fd(int in, int out, void *buffer, ContentCopyTick tick, void *userdata) {
        Ticker t = { .tick = tick, .userdata = userdata };
        loff_t off_in = 0, off_out = 0;
        int64_t r;

        r = try_clone(in, out);
        if (r != -EOPNOTSUPP) {
                if (r >= 0 && !ticker_add(&t, (uint64_t) r, true))
                        return -ECANCELED;
                return r;
        }

        for (;;) {
                ssize_t n = copy_file_range(in, &off_in, out, &off_out, CONTENT_TICK_BYTES, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && copy_file_range_unsupported(errno))
                        return copy_read_write(in, out, off_in, buffer, NULL, &t);
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return ticker_add(&t, 0, true) ? off_out : -ECANCELED;
                if (!ticker_add(&t, (uint64_t) n, false))
                        return -ECANCELED;
        }
}

int64_t content_hash_fd(int fd, void *buffer, ContentHasher *h, char ret_hex[static CONTENT_HASH_HEX + 1],
                        ContentCopyTick tick, void *userdata) {
        Ticker t = { .tick = tick, .userdata = userdata };
        int64_t n;
        int r;

        n = hash_all(fd, buffer, h, &t);
        if (n < 0)
                return n;
        r = content_hasher_final(h, ret_hex);
        return r < 0 ? r : n;
}

int64_t content_copy_hash_fd(int in, int out, void *buffer, ContentHasher *h, ContentCopyTick tick,
                             void *userdata) {
        Ticker t = { .tick = tick, .userdata = userdata };
        int64_t r;

        /* A clone costs no data copy; hashing the clone then reads the data once, and what is
         * hashed is exactly what was stored. */
        r = try_clone(in, out);
        if (r != -EOPNOTSUPP)
                return r < 0 ? r : hash_all(out, buffer, h, &t);

        return copy_read_write(in, out, 0, buffer, h, &t);
}
