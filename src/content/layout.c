/* SPDX-License-Identifier: MIT */
/* The shape of a content library on disk: names of FileLib entries and manifests, opening the
 * library's directories, and the lock that keeps content_gc from racing a distribution. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

#include "content/content-internal.h"

bool content_package_id_is_valid(const char *id) {
        size_t n;

        if (!id || id[0] == '.' || id[0] == '-')
                return false;
        n = strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");
        return n > 0 && n <= CONTENT_PACKAGE_ID_MAX && id[n] == 0;
}

int content_check_package_id(const char *package_id, SmsError *e) {
        if (content_package_id_is_valid(package_id))
                return 0;
        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "'%s' is not a usable package ID",
                             package_id ? package_id : "");
}

void content_filelib_name(const char *hash, char ret[static CONTENT_HASH_HEX + 4]) {
        ret[0] = hash[0];
        ret[1] = hash[1];
        ret[2] = '/';
        memcpy(ret + 3, hash, CONTENT_HASH_HEX);
        ret[CONTENT_HASH_HEX + 3] = 0;
}

void content_manifest_name(uint32_t version, char ret[static 32]) {
        snprintf(ret, 32, "%" PRIu32 ".manifest", version);
}

uint32_t content_manifest_name_version(const char *name) {
        uint64_t v = 0;
        const char *p = name;

        if (*p < '1' || *p > '9')
                return 0;
        for (; *p >= '0' && *p <= '9'; p++) {
                v = v * 10 + (uint64_t) (*p - '0');
                if (v > UINT32_MAX)
                        return 0;
        }
        return streq(p, ".manifest") ? (uint32_t) v : 0;
}

void content_lib_close(ContentLib *lib) {
        if (lib->root_fd >= 0)
                close(lib->root_fd);
        if (lib->filelib_fd >= 0)
                close(lib->filelib_fd);
        if (lib->pkglib_fd >= 0)
                close(lib->pkglib_fd);
        *lib = CONTENT_LIB_NULL;
}

int content_lib_open(int root_fd, bool create, ContentLib *ret) {
        ContentLib lib = { .root_fd = root_fd, .filelib_fd = -1, .pkglib_fd = -1 };
        int r;

        r = content_open_dir_at(root_fd, "FileLib", create);
        if (r < 0)
                goto fail;
        lib.filelib_fd = r;
        r = content_open_dir_at(root_fd, "PkgLib", create);
        if (r < 0)
                goto fail;
        lib.pkglib_fd = r;
        *ret = lib;
        return 0;
fail:
        content_lib_close(&lib);
        return r;
}

int content_lib_lock(const ContentLib *lib, bool exclusive) {
        _cleanup_close_ int fd = -1;

        fd = openat(lib->root_fd, CONTENT_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return -errno;
        /* flock() belongs to the open file description: two threads of this process, each with its
         * own open, exclude each other just as two processes would. */
        while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0)
                if (errno != EINTR)
                        return -errno;
        return TAKE_FD(fd);
}

int content_filelib_count(int filelib_fd, uint64_t *ret) {
        uint64_t n = 0;

        for (unsigned i = 0; i < 256; i++) {
                char prefix[3];
                snprintf(prefix, sizeof prefix, "%02x", i);
                int fd = openat(filelib_fd, prefix, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (fd < 0) {
                        if (errno == ENOENT)
                                continue;
                        return -errno;
                }
                DIR *d = fdopendir(fd);
                if (!d) {
                        close(fd);
                        return -errno;
                }
                for (struct dirent *de; (de = readdir(d));)
                        if (content_hash_is_valid(de->d_name) && strncmp(de->d_name, prefix, 2) == 0)
                                n++;
                closedir(d);
        }
        *ret = n;
        return 0;
}

int content_current_read_at(int pkg_dir_fd, uint32_t *ret) {
        _cleanup_free_ char *data = NULL;
        uint64_t v = 0;
        size_t size, i;
        int r;

        r = content_read_file_at(pkg_dir_fd, "current", 64, &data, &size);
        if (r == -ENOENT) {
                *ret = 0;
                return 0;
        }
        if (r == -EFBIG)
                return -EBADMSG;
        if (r < 0)
                return r;
        for (i = 0; i < size && data[i] >= '0' && data[i] <= '9' && v <= UINT32_MAX; i++)
                v = v * 10 + (uint64_t) (data[i] - '0');
        if (i == 0 || data[0] == '0' || v > UINT32_MAX || i + 1 != size || data[i] != '\n')
                return -EBADMSG;
        *ret = (uint32_t) v;
        return 0;
}

int content_filelib_sync(int filelib_fd, const bool dirty[static 256], bool filelib_dirty) {
        unsigned n = filelib_dirty;

        for (unsigned i = 0; i < 256; i++)
                n += dirty[i];
        if (n > CONTENT_SYNCFS_MIN)
                return syncfs(filelib_fd) < 0 ? -errno : 0;
        if (filelib_dirty && fsync(filelib_fd) < 0)
                return -errno;
        for (unsigned i = 0; i < 256; i++) {
                char prefix[3];
                if (!dirty[i])
                        continue;
                snprintf(prefix, sizeof prefix, "%02x", i);
                int r = content_fsync_dir_at(filelib_fd, prefix);
                if (r < 0)
                        return r;
        }
        return 0;
}
