/* SPDX-License-Identifier: MIT */
/* Crash-safe file system updates: temporary names that say they are temporary, write + fsync +
 * rename + directory fsync, directories made durable in their parents. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "content/content-internal.h"
#include "smsprov/path.h"
#include "util/io-util.h"

static const char tmp_alphabet[] = "0123456789abcdefghijklmnopqrstuv";

int content_tmp_name_new(const char *infix, char ret[static CONTENT_TMP_NAME_MAX]) {
        unsigned char random[CONTENT_TMP_RANDOM];
        size_t n = strlen(CONTENT_TMP_PREFIX) + strlen(infix);

        if (n + CONTENT_TMP_RANDOM > NAME_MAX)
                return -ENAMETOOLONG;
        if (getrandom(random, sizeof random, GRND_NONBLOCK) != (ssize_t) sizeof random) {
                /* Uniqueness, not secrecy, is what matters; O_EXCL catches the rest. */
                static _Atomic uint64_t counter;
                uint64_t x = (uint64_t) getpid() * 0x9E3779B97F4A7C15u ^ atomic_fetch_add(&counter, 1) ^
                             (uint64_t) (uintptr_t) ret;
                for (size_t i = 0; i < sizeof random; i++, x = x * 6364136223846793005u + 1442695040888963407u)
                        random[i] = (unsigned char) (x >> 56);
        }
        memcpy(ret, CONTENT_TMP_PREFIX, strlen(CONTENT_TMP_PREFIX));
        memcpy(ret + strlen(CONTENT_TMP_PREFIX), infix, strlen(infix));
        for (size_t i = 0; i < CONTENT_TMP_RANDOM; i++)
                ret[n + i] = tmp_alphabet[random[i] & 31];
        ret[n + CONTENT_TMP_RANDOM] = 0;
        return 0;
}

bool content_tmp_name_matches(const char *name, const char *infix) {
        size_t p = strlen(CONTENT_TMP_PREFIX), i = strlen(infix);

        if (strncmp(name, CONTENT_TMP_PREFIX, p) != 0)
                return false;
        if (!*infix) /* any temporary */
                return true;
        if (strncmp(name + p, infix, i) != 0 || strlen(name) != p + i + CONTENT_TMP_RANDOM)
                return false;
        return strspn(name + p + i, tmp_alphabet) == CONTENT_TMP_RANDOM;
}

int content_tmpfile_create(int dirfd, const char *infix, mode_t mode, char ret_name[static CONTENT_TMP_NAME_MAX]) {
        for (unsigned attempt = 0; attempt < 64; attempt++) {
                int r = content_tmp_name_new(infix, ret_name);
                if (r < 0)
                        return r;
                int fd = openat(dirfd, ret_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
                if (fd >= 0)
                        return fd;
                if (errno != EEXIST)
                        return -errno;
        }
        return -EEXIST;
}

int content_tmpdir_create(int dirfd, const char *infix, char ret_name[static CONTENT_TMP_NAME_MAX]) {
        for (unsigned attempt = 0; attempt < 64; attempt++) {
                int r = content_tmp_name_new(infix, ret_name);
                if (r < 0)
                        return r;
                if (mkdirat(dirfd, ret_name, 0755) == 0)
                        return 0;
                if (errno != EEXIST)
                        return -errno;
        }
        return -EEXIST;
}

int content_write_file_atomic(int dirfd, const char *name, const void *data, size_t size) {
        char tmp[CONTENT_TMP_NAME_MAX], infix[NAME_MAX + 1];
        _cleanup_close_ int fd = -1;
        int r;

        /* "<name>-" as infix: a leftover from a crash says whose it was. */
        if ((size_t) snprintf(infix, sizeof infix, "%s-", name) >= sizeof infix)
                return -ENAMETOOLONG;
        fd = content_tmpfile_create(dirfd, infix, 0644, tmp);
        if (fd < 0)
                return fd;
        r = write_full(fd, data, size, -1);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && renameat(dirfd, tmp, dirfd, name) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(dirfd, tmp, 0);
                return r;
        }
        return fsync(dirfd) < 0 ? -errno : 0;
}

int content_read_file_at(int dirfd, const char *name, size_t max, char **ret_data, size_t *ret_size) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *data = NULL;
        struct stat st;
        size_t have = 0;

        fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        if ((uint64_t) st.st_size > max)
                return -EFBIG;
        data = malloc((size_t) st.st_size + 1);
        if (!data)
                return -ENOMEM;
        while (have < (size_t) st.st_size) {
                ssize_t n = read(fd, data + have, (size_t) st.st_size - have);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break; /* shrank meanwhile: take what is there */
                have += (size_t) n;
        }
        data[have] = 0;
        *ret_data = TAKE_PTR(data);
        *ret_size = have;
        return 0;
}

int content_fsync_dir_at(int dirfd, const char *name) {
        _cleanup_close_ int fd = -1;

        fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        return fsync(fd) < 0 ? -errno : 0;
}

int content_mkdir_open_at(int dirfd, const char *name, bool *ret_created) {
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

        if (fd >= 0 || errno != ENOENT)
                return fd >= 0 ? fd : -errno;
        if (mkdirat(dirfd, name, 0755) == 0)
                *ret_created = true;
        else if (errno != EEXIST)
                return -errno;
        fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        return fd >= 0 ? fd : -errno;
}

int content_open_dir_at(int dirfd, const char *name, bool create) {
        bool created = false;
        int fd;

        if (!create) {
                fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                return fd >= 0 ? fd : -errno;
        }
        fd = content_mkdir_open_at(dirfd, name, &created);
        /* The new entry must survive a crash before anything inside it is trusted. */
        if (fd >= 0 && created && fsync(dirfd) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static int remove_children(int fd) {
        DIR *d = fdopendir(fd);
        int r = 0;

        if (!d) {
                close(fd);
                return -errno;
        }
        for (struct dirent *de; (errno = 0, de = readdir(d));) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) == 0 || errno == ENOENT)
                        continue;
                if (errno != EISDIR && errno != EPERM) {
                        r = r < 0 ? r : -errno;
                        continue;
                }
                int k = content_remove_tree_at(dirfd(d), de->d_name);
                if (k < 0 && r == 0)
                        r = k;
        }
        closedir(d);
        return r;
}

int content_remove_tree_at(int dirfd, const char *name) {
        int fd, r;

        if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0)
                return 0;
        if (errno == ENOENT)
                return 0;
        if (errno == ENOTDIR)
                return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
        if (errno != ENOTEMPTY && errno != EEXIST)
                return -errno;
        fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        r = remove_children(fd);
        if (r < 0)
                return r;
        return unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT ? -errno : 0;
}

int content_open_below(int dirfd, const char *path, int flags) {
        _cleanup_free_ char *copy = NULL;
        int fd;

        fd = path_openat2(dirfd, path, (uint64_t) (flags | O_NOFOLLOW),
                          RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
        if (fd != -ENOSYS)
                return fd;

        /* No openat2 (before Linux 5.6, or under valgrind): one component at a time, none followed.
         * Without ".." in a valid relative path, that is the same. */
        if (!content_relative_path_is_valid(path))
                return -EINVAL;
        copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        for (char *p = copy, *slash; (slash = strchr(p, '/')); p = slash + 1) {
                *slash = 0;
                int next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int r = -errno;
                close(fd);
                if (next < 0)
                        return r;
                fd = next;
        }
        int r = openat(fd, strrchr(path, '/') ? strrchr(path, '/') + 1 : path, flags | O_NOFOLLOW | O_CLOEXEC);
        int k = -errno;
        close(fd);
        return r >= 0 ? r : k;
}
