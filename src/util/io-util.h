/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>
#include <sys/types.h>
#include <unistd.h>

/* Writes all of data: at offset (pwrite()), or at the file position when offset is negative
 * (write()); an interrupted call is made again. Returns 0, or a negative errno (-EIO when the
 * file takes no more bytes). */
static inline int write_full(int fd, const void *data, size_t size, off_t offset) {
        const char *p = data;

        while (size > 0) {
                ssize_t n = offset < 0 ? write(fd, p, size) : pwrite(fd, p, size, offset);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO;
                p += n;
                size -= (size_t) n;
                if (offset >= 0)
                        offset += n;
        }
        return 0;
}
