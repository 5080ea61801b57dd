/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smsprov/macro.h"
#include "util/tree-copy.h"

#define COPY_CHUNK (8u * 1024 * 1024)

typedef struct TreeCopy {
        const char *what;
        size_t entries;
        char *buf; /* for read/write where copy_file_range() cannot */
} TreeCopy;

static int copy_data(TreeCopy *t, int in_fd, int out_fd, uint64_t size, const char *name, SmsError *e) {
        bool kernel_copy = true;

        for (uint64_t done = 0; done < size;) {
                size_t want = size - done < COPY_CHUNK ? (size_t) (size - done) : COPY_CHUNK;
                ssize_t n;

                if (kernel_copy) {
                        n = copy_file_range(in_fd, NULL, out_fd, NULL, want, 0);
                        if (n < 0 && (errno == ENOSYS || errno == EXDEV || errno == EOPNOTSUPP || errno == EINVAL ||
                                      errno == EPERM)) {
                                kernel_copy = false;
                                continue;
                        }
                } else {
                        if (!t->buf && !(t->buf = malloc(COPY_CHUNK)))
                                return sms_error_set(e, SMS_ERROR_FAILED, "out of memory");
                        n = read(in_fd, t->buf, want);
                        for (ssize_t w = 0, k; n > 0 && w < n; w += k) {
                                k = write(out_fd, t->buf + w, (size_t) (n - w));
                                if (k < 0)
                                        return sms_error_set_errno(e, errno, "%s: copying %s", t->what, name);
                        }
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return sms_error_set_errno(e, errno, "%s: copying %s", t->what, name);
                if (n == 0) /* shrank while copied: what was there is what the copy holds */
                        break;
                done += (uint64_t) n;
        }
        return 0;
}

static int copy_entry(TreeCopy *t, int src_fd, const struct stat *st, int dst_dirfd, const char *dst_name,
                      const char *name, unsigned depth, SmsError *e);

static int copy_dir(TreeCopy *t, int src_fd, int dst_dirfd, const char *dst_name, const char *name, unsigned depth,
                    SmsError *e) {
        _cleanup_close_ int dst_fd = -1;
        DIR *d;
        int fd, r = 0;

        if (depth > TREE_COPY_DEPTH_MAX)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s: %s is nested deeper than %d levels", t->what,
                                     name, TREE_COPY_DEPTH_MAX);
        if (mkdirat(dst_dirfd, dst_name, 0700) < 0)
                return sms_error_set_errno(e, errno, "%s: copying %s", t->what, name);
        dst_fd = openat(dst_dirfd, dst_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dst_fd < 0)
                return sms_error_set_errno(e, errno, "%s: copying %s", t->what, name);

        /* A directory's O_PATH descriptor cannot be listed; "." below it is the same inode. */
        fd = openat(src_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return sms_error_set_errno(e, errno, "%s: %s", t->what, name);
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return sms_error_set_errno(e, errno, "%s: %s", t->what, name);
        }
        for (struct dirent *de; r >= 0;) {
                _cleanup_close_ int child = -1;
                _cleanup_free_ char *child_name = NULL;
                struct stat cst;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                r = sms_error_set_errno(e, errno, "%s: %s", t->what, name);
                        break;
                }
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (++t->entries > TREE_COPY_ENTRIES_MAX) {
                        r = sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s holds more than %d entries", t->what,
                                          TREE_COPY_ENTRIES_MAX);
                        break;
                }
                if (asprintf(&child_name, "%s/%s", name, de->d_name) < 0) {
                        r = sms_error_set(e, SMS_ERROR_FAILED, "out of memory");
                        break;
                }
                /* O_PATH | O_NOFOLLOW pins whatever is there now, a link included; everything
                 * after works on that inode, whatever is renamed in its place meanwhile. */
                child = openat(dirfd(d), de->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (child < 0 || fstat(child, &cst) < 0) {
                        r = sms_error_set_errno(e, errno, "%s: %s", t->what, child_name);
                        break;
                }
                r = copy_entry(t, child, &cst, dst_fd, de->d_name, child_name, depth + 1, e);
        }
        closedir(d);
        return r;
}

static int copy_entry(TreeCopy *t, int src_fd, const struct stat *st, int dst_dirfd, const char *dst_name,
                      const char *name, unsigned depth, SmsError *e) {
        if (S_ISDIR(st->st_mode)) {
                int r = copy_dir(t, src_fd, dst_dirfd, dst_name, name, depth, e);
                if (r < 0)
                        return r;
        } else if (S_ISREG(st->st_mode)) {
                _cleanup_close_ int in_fd = -1, out_fd = -1;
                char proc[64];
                int r;

                /* Reopens the pinned inode for reading (an O_PATH descriptor cannot be read). */
                snprintf(proc, sizeof proc, "/proc/self/fd/%d", src_fd);
                in_fd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (in_fd < 0)
                        return sms_error_set_errno(e, errno, "%s: %s", t->what, name);
                out_fd = openat(dst_dirfd, dst_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (out_fd < 0)
                        return sms_error_set_errno(e, errno, "%s: copying %s", t->what, name);
                r = copy_data(t, in_fd, out_fd, (uint64_t) st->st_size, name, e);
                if (r < 0)
                        return r;
                if (futimens(out_fd, (struct timespec[2]) { st->st_atim, st->st_mtim }) < 0)
                        return sms_error_set_errno(e, errno, "%s: copying %s", t->what, name);
                return 0;
        } else if (S_ISLNK(st->st_mode)) {
                char target[PATH_MAX];
                /* The link is copied as text; nothing reads through it. */
                ssize_t n = readlinkat(src_fd, "", target, sizeof target - 1);
                if (n < 0)
                        return sms_error_set_errno(e, errno, "%s: %s", t->what, name);
                target[n] = 0;
                if (symlinkat(target, dst_dirfd, dst_name) < 0)
                        return sms_error_set_errno(e, errno, "%s: copying %s", t->what, name);
                return 0;
        } else
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                     "%s: %s is a FIFO, socket or device node, not a file or directory", t->what,
                                     name);

        /* A directory: its times once its entries are in. */
        if (utimensat(dst_dirfd, dst_name, (struct timespec[2]) { st->st_atim, st->st_mtim }, AT_SYMLINK_NOFOLLOW) < 0)
                return sms_error_set_errno(e, errno, "%s: copying %s", t->what, name);
        return 0;
}

int tree_copy_at(int src_fd, int dst_dirfd, const char *dst_name, const char *what, SmsError *e) {
        TreeCopy t = { .what = what };
        struct stat st;
        int r;

        if (fstat(src_fd, &st) < 0)
                return sms_error_set_errno(e, errno, "%s", what);
        r = copy_entry(&t, src_fd, &st, dst_dirfd, dst_name, ".", 0, e);
        free(t.buf);
        return r;
}
