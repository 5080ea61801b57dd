/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "smsprov/macro.h"
#include "smsprov/path.h"

int content_roots_add(ContentRoots *roots, const char *path, SmsError *e) {
        _cleanup_free_ char *canonical = realpath(path, NULL);
        size_t n = strv_length(roots->paths);
        struct stat st;

        if (!canonical)
                return sms_error_set_errno(e, errno, "content root %s", path);
        if (stat(canonical, &st) < 0 || !S_ISDIR(st.st_mode))
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "content root %s is not a directory", path);

        char **l = realloc(roots->paths, (n + 2) * sizeof(char *));
        if (!l)
                return -ENOMEM;
        l[n] = TAKE_PTR(canonical);
        l[n + 1] = NULL;
        roots->paths = l;
        return 0;
}

int content_roots_copy(const ContentRoots *from, ContentRoots *ret) {
        size_t n = strv_length(from->paths);
        char **l = calloc(n + 1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(l[i] = strdup(from->paths[i]))) {
                        strv_free(l);
                        return -ENOMEM;
                }
        *ret = (ContentRoots) { .paths = l };
        return 0;
}

void content_roots_done(ContentRoots *roots) {
        strv_free(roots->paths);
        roots->paths = NULL;
}

/* With RESOLVE_BENEATH the kernel refuses to follow ".." with EAGAIN whenever a rename or a mount
 * happened anywhere on the system during the lookup (it cannot prove the walk stayed below), and
 * says to try again. A busy machine does that often; a caller who renames in a loop can make it
 * happen every time, so the tries are bounded: then the lookup fails, it never escapes. */
#define OPENAT2_TRIES 1024

int path_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve) {
        struct open_how how = { .flags = flags | O_CLOEXEC, .resolve = resolve };
        long r;

        for (unsigned i = 0; i < OPENAT2_TRIES; i++) {
                r = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
                if (r >= 0)
                        return (int) r;
                if (errno != EAGAIN)
                        break;
        }
        return -errno;
}

int path_open_beneath(int dirfd, const char *path, int flags) {
        return path_openat2(dirfd, path, (uint64_t) flags, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
}

/* Lexical checks that need no file system: absolute, no control characters, components of at
 * most NAME_MAX bytes, whole path at most PATH_MAX. */
static int path_check_syntax(const char *path, SmsError *e) {
        size_t component = 0;

        if (!path || path[0] != '/')
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "path '" SMS_QUOTE_FMT "' is not absolute",
                                     SMS_QUOTE(path ? path : ""));
        if (strlen(path) >= PATH_MAX)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "path is longer than %d bytes", PATH_MAX - 1);
        for (const unsigned char *p = (const unsigned char *) path; *p; p++) {
                if (*p < 0x20 || *p == 0x7F)
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                             "path contains the control character 0x%02x", *p);
                component = *p == '/' ? 0 : component + 1;
                if (component > NAME_MAX)
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                             "path has a component longer than %d bytes", NAME_MAX);
        }
        return 0;
}

const char *path_below(const char *root, const char *path) {
        size_t n = strlen(root);

        if (streq(root, "/"))
                return path + 1;
        if (strncmp(root, path, n) != 0 || (path[n] != '/' && path[n] != 0))
                return NULL;
        return path + n + (path[n] == '/');
}

int content_roots_resolve(const ContentRoots *roots, const char *path, PathKind kind, int *ret_fd, SmsError *e) {
        const char *root = NULL, *rest = NULL;
        _cleanup_close_ int root_fd = -1, fd = -1;
        struct stat st;
        int r;

        r = path_check_syntax(path, e);
        if (r < 0)
                return r;

        for (char **i = roots->paths; i && *i; i++)
                if ((rest = path_below(*i, path))) {
                        root = *i;
                        break;
                }
        if (!root)
                return sms_error_set(e, SMS_ERROR_PATH_NOT_ALLOWED,
                                     SMS_QUOTE_FMT " is outside the site's content roots", SMS_QUOTE(path));

        root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0)
                return sms_error_set_errno(e, errno, "content root %s", root);

        fd = path_open_beneath(root_fd, *rest ? rest : ".", O_PATH);
        if (fd == -EXDEV || fd == -ELOOP)
                return sms_error_set(e, SMS_ERROR_PATH_NOT_ALLOWED,
                                     SMS_QUOTE_FMT " leaves content root %s (through '..' or a symbolic link)",
                                     SMS_QUOTE(path), root);
        if (fd == -ENOENT || fd == -ENOTDIR)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, SMS_QUOTE_FMT " does not exist", SMS_QUOTE(path));
        if (fd == -ENAMETOOLONG)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, SMS_QUOTE_FMT ": name too long", SMS_QUOTE(path));
        if (fd < 0)
                return sms_error_set_errno(e, -fd, SMS_QUOTE_FMT, SMS_QUOTE(path));

        if (fstat(fd, &st) < 0)
                return sms_error_set_errno(e, errno, SMS_QUOTE_FMT, SMS_QUOTE(path));

        if (S_ISREG(st.st_mode) && kind != PATH_KIND_DIRECTORY) {
                char proc[64];
                /* Reopen the very inode checked above for reading: a symlink swapped in after the
                 * check cannot redirect us. */
                snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
                int rfd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (rfd < 0)
                        return errno == EACCES
                                       ? sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, SMS_QUOTE_FMT " is not readable",
                                                       SMS_QUOTE(path))
                                       : sms_error_set_errno(e, errno, SMS_QUOTE_FMT, SMS_QUOTE(path));
                close(fd);
                fd = rfd;
        } else if (S_ISDIR(st.st_mode) && kind != PATH_KIND_FILE) {
                /* the O_PATH descriptor is what directory users want */
        } else
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, SMS_QUOTE_FMT " is %s, not %s", SMS_QUOTE(path),
                                     S_ISDIR(st.st_mode)    ? "a directory"
                                     : S_ISREG(st.st_mode)  ? "a regular file"
                                     : S_ISFIFO(st.st_mode) ? "a FIFO"
                                     : S_ISSOCK(st.st_mode) ? "a socket"
                                     : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device node"
                                                                                  : "a special file",
                                     kind == PATH_KIND_FILE        ? "a regular file"
                                     : kind == PATH_KIND_DIRECTORY ? "a directory"
                                                                   : "a file or directory");

        if (ret_fd)
                *ret_fd = TAKE_FD(fd);
        return 0;
}

char *path_of_fd(int fd) {
        char *p = NULL;
        if (asprintf(&p, "/proc/self/fd/%d", fd) < 0)
                return NULL;
        return p;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int path_remove_tree(const char *path) {
        if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
                return errno == ENOENT ? 0 : -errno;
        return 0;
}

char *path_resolved_of_fd(int fd) {
        char proc[64], buf[PATH_MAX];
        ssize_t n;

        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        n = readlink(proc, buf, sizeof buf - 1);
        if (n <= 0 || buf[0] != '/')
                return NULL;
        buf[n] = 0;
        return strdup(buf);
}
