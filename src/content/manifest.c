/* SPDX-License-Identifier: MIT */
/* Manifests: "<sha256> <size> <relative path>\n" per file, sorted by path. They are read back from
 * distribution points that other hands can touch, so the parser trusts nothing. */

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "content/content-internal.h"

void content_manifest_done(ContentManifest *m) {
        if (!m)
                return;
        for (size_t i = 0; i < m->n_files; i++)
                free(m->files[i].path);
        free(m->files);
        *m = (ContentManifest) {};
}

bool content_relative_path_is_valid(const char *path) {
        size_t component = 0, n = 0;
        const char *start = path;

        if (!path || !*path || *path == '/')
                return false;
        for (const char *p = path;; p++, n++) {
                if (*p == '/' || *p == 0) {
                        if (component == 0 || component > NAME_MAX)
                                return false; /* empty component, or "//", or a trailing '/' */
                        if (start[0] == '.' && (component == 1 || (component == 2 && start[1] == '.')))
                                return false; /* "." or ".." */
                        if (*p == 0)
                                break;
                        component = 0;
                        start = p + 1;
                        continue;
                }
                if ((unsigned char) *p < 0x20 || *p == 0x7F)
                        return false;
                component++;
        }
        return n < PATH_MAX;
}

static bool parse_u64(const char *s, size_t n, uint64_t *ret) {
        uint64_t v = 0;

        if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
                return false;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                uint64_t d = (uint64_t) (s[i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return false;
                v = v * 10 + d;
        }
        *ret = v;
        return true;
}

static int why(char **ret_why, size_t line, const char *what) {
        if (ret_why && asprintf(ret_why, "line %zu: %s", line, what) < 0)
                *ret_why = NULL;
        return -EBADMSG;
}

int content_manifest_parse(const char *data, size_t size, ContentManifest *ret, char **ret_why) {
        _cleanup_(content_manifest_done) ContentManifest m = {};
        size_t allocated = 0, line = 0;
        const char *p = data, *end = data + size;

        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t) (end - p)), *q;
                ContentFile f = {};

                line++;
                if (!eol)
                        return why(ret_why, line, "no newline at the end");
                if (memchr(p, 0, (size_t) (eol - p)))
                        return why(ret_why, line, "NUL byte");
                if (eol - p < CONTENT_HASH_HEX + 4 || p[CONTENT_HASH_HEX] != ' ')
                        return why(ret_why, line, "not \"<sha256> <size> <path>\"");
                memcpy(f.hash, p, CONTENT_HASH_HEX);
                f.hash[CONTENT_HASH_HEX] = 0;
                if (!content_hash_is_valid(f.hash))
                        return why(ret_why, line, "not a lowercase SHA-256");
                q = memchr(p + CONTENT_HASH_HEX + 1, ' ', (size_t) (eol - p - CONTENT_HASH_HEX - 1));
                if (!q || !parse_u64(p + CONTENT_HASH_HEX + 1, (size_t) (q - p - CONTENT_HASH_HEX - 1), &f.size))
                        return why(ret_why, line, "bad size");
                if (m.total_bytes + f.size < m.total_bytes)
                        return why(ret_why, line, "sizes overflow");
                f.path = strndup(q + 1, (size_t) (eol - q - 1));
                if (!f.path)
                        return -ENOMEM;
                if (!content_relative_path_is_valid(f.path)) {
                        free(f.path);
                        return why(ret_why, line, "bad relative path");
                }
                if (m.n_files > 0 && strcmp(m.files[m.n_files - 1].path, f.path) >= 0) {
                        free(f.path);
                        return why(ret_why, line, "not sorted by path, or a path twice");
                }
                if (m.n_files >= CONTENT_FILES_MAX) {
                        free(f.path);
                        return why(ret_why, line, "too many files");
                }
                if (m.n_files == allocated) {
                        size_t k = allocated ? allocated * 2 : 64;
                        ContentFile *n = realloc(m.files, k * sizeof *n);
                        if (!n) {
                                free(f.path);
                                return -ENOMEM;
                        }
                        m.files = n;
                        allocated = k;
                }
                m.total_bytes += f.size;
                m.files[m.n_files++] = f;
                p = eol + 1;
        }
        *ret = m;
        m = (ContentManifest) {};
        return 0;
}

int content_manifest_format(const ContentManifest *m, char **ret_data, size_t *ret_size) {
        size_t size = 0, at = 0;
        char *data;

        for (size_t i = 0; i < m->n_files; i++)
                size += CONTENT_HASH_HEX + 1 + 21 + 1 + strlen(m->files[i].path) + 1;
        data = malloc(size + 1);
        if (!data)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_files; i++) {
                int n = snprintf(data + at, size + 1 - at, "%s %" PRIu64 " %s\n", m->files[i].hash, m->files[i].size,
                                 m->files[i].path);
                assert(n > 0 && (size_t) n <= size - at);
                at += (size_t) n;
        }
        data[at] = 0;
        *ret_data = data;
        *ret_size = at;
        return 0;
}

int content_manifest_read_at(int pkglib_fd, const char *package_id, uint32_t version, ContentManifest *ret,
                             SmsError *e) {
        _cleanup_free_ char *data = NULL, *reason = NULL;
        _cleanup_close_ int fd = -1;
        char name[32];
        size_t size;
        int r;

        content_manifest_name(version, name);
        fd = openat(pkglib_fd, package_id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 && errno == ENOENT)
                return sms_error_set(e, SMS_ERROR_NOT_FOUND, "package %s has no manifest in the content library",
                                     package_id);
        if (fd < 0)
                return sms_error_set_errno(e, errno, "PkgLib/%s", package_id);
        r = content_read_file_at(fd, name, CONTENT_MANIFEST_SIZE_MAX, &data, &size);
        if (r == -ENOENT)
                return sms_error_set(e, SMS_ERROR_NOT_FOUND, "package %s has no manifest for version %" PRIu32,
                                     package_id, version);
        if (r == -EFBIG || r == -EBADMSG)
                return sms_error_set(e, SMS_ERROR_FAILED, "PkgLib/%s/%s is not a manifest", package_id, name);
        if (r < 0)
                return sms_error_set_errno(e, r, "PkgLib/%s/%s", package_id, name);
        r = content_manifest_parse(data, size, ret, &reason);
        if (r == -EBADMSG)
                return sms_error_set(e, SMS_ERROR_FAILED, "PkgLib/%s/%s is damaged: %s", package_id, name,
                                     reason ? reason : "malformed");
        if (r < 0)
                return sms_error_set_errno(e, r, "PkgLib/%s/%s", package_id, name);
        return 0;
}

static bool file_holds(int dirfd, const char *name, const char *data, size_t size) {
        _cleanup_free_ char *old = NULL;
        size_t old_size;

        return content_read_file_at(dirfd, name, size, &old, &old_size) >= 0 && old_size == size &&
               memcmp(old, data, size) == 0;
}

/* Another version's manifest in the directory with exactly these bytes (a new version of unchanged
 * content): its name in ret_name, or false. A package directory holds a few manifests at most. */
static bool find_same_manifest(int pkg_dir_fd, uint32_t version, const char *data, size_t size,
                               char ret_name[static 32]) {
        int fd = openat(pkg_dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        bool found = false;
        DIR *d;

        if (fd < 0 || !(d = fdopendir(fd))) {
                if (fd >= 0)
                        close(fd);
                return false;
        }
        for (struct dirent *de; !found && (de = readdir(d));) {
                uint32_t v = content_manifest_name_version(de->d_name);
                struct stat st;

                found = v != 0 && v != version && fstatat(pkg_dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                        S_ISREG(st.st_mode) && (uint64_t) st.st_size == size &&
                        file_holds(pkg_dir_fd, de->d_name, data, size);
                if (found)
                        content_manifest_name(v, ret_name);
        }
        closedir(d);
        return found;
}

/* A new name for the manifest `other`, whose bytes were made durable when it was written: a hard
 * link under a temporary name, renamed into place, then the directory fsynced. One fsync where a
 * copy would cost two. */
static int link_manifest(int pkg_dir_fd, const char *other, const char *name) {
        char tmp[CONTENT_TMP_NAME_MAX], infix[NAME_MAX + 1];
        int r;

        snprintf(infix, sizeof infix, "%s-", name);
        r = content_tmp_name_new(infix, tmp);
        if (r < 0)
                return r;
        if (linkat(pkg_dir_fd, other, pkg_dir_fd, tmp, 0) < 0)
                return -errno;
        if (renameat(pkg_dir_fd, tmp, pkg_dir_fd, name) < 0) {
                r = -errno;
                (void) unlinkat(pkg_dir_fd, tmp, 0);
                return r;
        }
        return fsync(pkg_dir_fd) < 0 ? -errno : 0;
}

int content_manifest_write_at(int pkg_dir_fd, uint32_t version, const ContentManifest *m) {
        _cleanup_free_ char *data = NULL;
        char name[32], other[32];
        size_t size;
        int r;

        r = content_manifest_format(m, &data, &size);
        if (r < 0)
                return r;
        content_manifest_name(version, name);
        /* A distribution of the version a DP already has finds its manifest written (and made
         * durable) by the one before: writing the same bytes again would only cost two fsyncs. */
        if (file_holds(pkg_dir_fd, name, data, size))
                return 1;
        /* Where links are refused (some network file systems), or a link fails, write a copy. */
        if (find_same_manifest(pkg_dir_fd, version, data, size, other) && link_manifest(pkg_dir_fd, other, name) >= 0)
                return 0;
        r = content_write_file_atomic(pkg_dir_fd, name, data, size);
        return r < 0 ? r : 0;
}

int content_manifest_read(const char *lib_root, const char *package_id, uint32_t version, ContentManifest *ret,
                          SmsError *e) {
        _cleanup_close_ int root_fd = -1, pkglib_fd = -1;

        if (!lib_root || !content_package_id_is_valid(package_id) || version == 0)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "bad content library, package ID or version");
        root_fd = open(lib_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0 && (errno == ENOENT || errno == ENOTDIR))
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "content library %s is not a directory", lib_root);
        if (root_fd < 0)
                return sms_error_set_errno(e, errno, "content library %s", lib_root);
        pkglib_fd = openat(root_fd, "PkgLib", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (pkglib_fd < 0 && errno == ENOENT)
                return sms_error_set(e, SMS_ERROR_NOT_FOUND, "package %s has no manifest in %s", package_id, lib_root);
        if (pkglib_fd < 0)
                return sms_error_set_errno(e, errno, "%s/PkgLib", lib_root);
        return content_manifest_read_at(pkglib_fd, package_id, version, ret, e);
}
