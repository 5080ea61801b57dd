/* SPDX-License-Identifier: MIT */
/* DataLib/<PackageID>/: the published tree of one version. It is built beside the old one under a
 * temporary name and exchanged with it in one rename, so that clients never see half a version. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "content/content-internal.h"

static int tree_infix(const char *package_id, char ret[static CONTENT_PACKAGE_ID_MAX + 2]) {
        return snprintf(ret, CONTENT_PACKAGE_ID_MAX + 2, "%s-", package_id) >= CONTENT_PACKAGE_ID_MAX + 2 ? -EINVAL : 0;
}

void content_tree_clean_stale(int datalib_fd, const char *package_id) {
        char infix[CONTENT_PACKAGE_ID_MAX + 2];
        int fd;
        DIR *d;

        if (tree_infix(package_id, infix) < 0)
                return;
        fd = openat(datalib_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || !(d = fdopendir(fd))) {
                if (fd >= 0)
                        close(fd);
                return;
        }
        for (struct dirent *de; (de = readdir(d));)
                if (content_tmp_name_matches(de->d_name, infix))
                        (void) content_remove_tree_at(datalib_fd, de->d_name);
        closedir(d);
}

int content_tree_new(int datalib_fd, const char *package_id, ContentTree *ret) {
        ContentTree t = CONTENT_TREE_NULL;
        char infix[CONTENT_PACKAGE_ID_MAX + 2];
        int r;

        r = tree_infix(package_id, infix);
        if (r < 0)
                return r;
        t.parent_fd = datalib_fd;
        r = content_tmpdir_create(datalib_fd, infix, t.name);
        if (r < 0)
                return r;
        t.exists = true;
        t.fd = openat(datalib_fd, t.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (t.fd < 0) {
                r = -errno;
                content_tree_done(&t);
                return r;
        }
        *ret = t;
        return 0;
}

static int remember_dir(ContentTree *t, const char *path, size_t n) {
        if (t->n_dirs == t->allocated) {
                size_t k = t->allocated ? t->allocated * 2 : 32;
                char **l = realloc(t->dirs, k * sizeof *l);
                if (!l)
                        return -ENOMEM;
                t->dirs = l;
                t->allocated = k;
        }
        t->dirs[t->n_dirs] = strndup(path, n);
        if (!t->dirs[t->n_dirs])
                return -ENOMEM;
        t->n_dirs++;
        return 0;
}

int content_tree_parent(ContentTree *t, const char *path, const char **ret_name) {
        const char *slash = strrchr(path, '/');
        int fd;

        if (!slash) {
                *ret_name = path;
                return t->fd;
        }
        *ret_name = slash + 1;
        /* Manifests are sorted by path, so files of one directory mostly come together. */
        if (t->cur_path && strlen(t->cur_path) == (size_t) (slash - path) &&
            strncmp(t->cur_path, path, (size_t) (slash - path)) == 0)
                return t->cur_fd;

        fd = fcntl(t->fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        for (const char *p = path; p < slash;) {
                const char *end = memchr(p, '/', (size_t) (slash - p));
                char component[NAME_MAX + 1];
                if (!end)
                        end = slash;
                if ((size_t) (end - p) > NAME_MAX) {
                        close(fd);
                        return -ENAMETOOLONG;
                }
                memcpy(component, p, (size_t) (end - p));
                component[end - p] = 0;
                if (mkdirat(fd, component, 0755) == 0) {
                        int r = remember_dir(t, path, (size_t) (end - path));
                        if (r < 0) {
                                close(fd);
                                return r;
                        }
                } else if (errno != EEXIST) {
                        int r = -errno;
                        close(fd);
                        return r;
                }
                int next = openat(fd, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int r = -errno;
                close(fd);
                if (next < 0)
                        return r;
                fd = next;
                p = end + 1;
        }
        free(t->cur_path);
        if (t->cur_fd >= 0)
                close(t->cur_fd);
        t->cur_fd = fd;
        t->cur_path = strndup(path, (size_t) (slash - path));
        return t->cur_path ? fd : -ENOMEM;
}

int content_tree_sync(ContentTree *t) {
        if (t->n_dirs > CONTENT_SYNCFS_MIN)
                return syncfs(t->fd) < 0 ? -errno : 0;
        for (size_t i = 0; i < t->n_dirs; i++) {
                int r = content_fsync_dir_at(t->fd, t->dirs[i]);
                if (r < 0)
                        return r;
        }
        return fsync(t->fd) < 0 ? -errno : 0;
}

int content_tree_publish(ContentTree *t, const char *package_id, bool *ret_exchanged) {
        char old[CONTENT_TMP_NAME_MAX], infix[CONTENT_PACKAGE_ID_MAX + 2];
        int r;

        if (renameat2(t->parent_fd, t->name, t->parent_fd, package_id, RENAME_EXCHANGE) == 0)
                *ret_exchanged = true;
        else if (errno == ENOENT) {
                /* the first version on this DP */
                if (renameat(t->parent_fd, t->name, t->parent_fd, package_id) < 0)
                        return -errno;
                t->exists = false;
                *ret_exchanged = false;
        } else if (errno == EINVAL) {
                /* No RENAME_EXCHANGE on this file system: two renames, with a moment between them
                 * in which the package has no tree. */
                r = tree_infix(package_id, infix);
                if (r < 0)
                        return r;
                r = content_tmp_name_new(infix, old);
                if (r < 0)
                        return r;
                if (renameat(t->parent_fd, package_id, t->parent_fd, old) < 0)
                        return -errno;
                if (renameat(t->parent_fd, t->name, t->parent_fd, package_id) < 0) {
                        r = -errno;
                        (void) renameat(t->parent_fd, old, t->parent_fd, package_id);
                        return r;
                }
                memcpy(t->name, old, sizeof old);
                *ret_exchanged = true;
        } else
                return -errno;
        return fsync(t->parent_fd) < 0 ? -errno : 0;
}

int content_tree_unpublish(ContentTree *t, const char *package_id, bool exchanged) {
        if (exchanged) {
                if (renameat2(t->parent_fd, t->name, t->parent_fd, package_id, RENAME_EXCHANGE) < 0)
                        return -errno;
        } else {
                if (renameat(t->parent_fd, package_id, t->parent_fd, t->name) < 0)
                        return -errno;
                t->exists = true;
        }
        return fsync(t->parent_fd) < 0 ? -errno : 0;
}

void content_tree_done(ContentTree *t) {
        if (t->cur_fd >= 0)
                close(t->cur_fd);
        if (t->fd >= 0)
                close(t->fd);
        if (t->exists && t->parent_fd >= 0)
                (void) content_remove_tree_at(t->parent_fd, t->name);
        for (size_t i = 0; i < t->n_dirs; i++)
                free(t->dirs[i]);
        free(t->dirs);
        free(t->cur_path);
        *t = CONTENT_TREE_NULL;
}

typedef struct TreeMatch {
        const ContentManifest *m;
        int filelib_fd;
        const struct stat *entry_st;
        bool *seen;
        char path[PATH_MAX];
} TreeMatch;

static int compare_file_path(const void *key, const void *file) {
        return strcmp(key, ((const ContentFile *) file)->path);
}

/* Walks the directory fd (whose path below the tree is t->path, `len` bytes, "" at the top): true
 * when every entry is a directory holding some file of the manifest, or a file of the manifest
 * that is its FileLib entry's inode. One fstatat per entry; nothing is followed. */
static bool tree_dir_matches(TreeMatch *t, int fd, size_t len, unsigned depth, uint64_t *ret_files) {
        uint64_t files = 0;
        bool ok = true;
        DIR *d = fdopendir(fd);

        if (!d) {
                close(fd);
                return false;
        }
        for (struct dirent *de; ok && (errno = 0, de = readdir(d));) {
                size_t n = strlen(de->d_name);
                struct stat st;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (len + !!len + n >= sizeof t->path || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        ok = false;
                        break;
                }
                if (len > 0)
                        t->path[len] = '/';
                memcpy(t->path + len + !!len, de->d_name, n + 1);

                if (S_ISDIR(st.st_mode)) {
                        uint64_t below = 0;
                        int sub = depth < CONTENT_DEPTH_MAX
                                          ? openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                                          : -1;
                        /* a directory with no file of the manifest below is not the manifest's */
                        ok = sub >= 0 && tree_dir_matches(t, sub, len + !!len + n, depth + 1, &below) && below > 0;
                        files += below;
                } else if (S_ISREG(st.st_mode)) {
                        const ContentFile *f = bsearch(t->path, t->m->files, t->m->n_files, sizeof *t->m->files,
                                                       compare_file_path);
                        size_t i = f ? (size_t) (f - t->m->files) : 0;
                        struct stat stored = f && t->entry_st ? t->entry_st[i] : (struct stat) {};
                        char name[CONTENT_HASH_HEX + 4];

                        if (f && stored.st_ino == 0) { /* not known from the check: look */
                                content_filelib_name(f->hash, name);
                                if (fstatat(t->filelib_fd, name, &stored, AT_SYMLINK_NOFOLLOW) < 0 ||
                                    !S_ISREG(stored.st_mode) || (uint64_t) stored.st_size != f->size)
                                        stored = (struct stat) {};
                        }
                        ok = f && !t->seen[i] && stored.st_ino != 0 && st.st_dev == stored.st_dev &&
                             st.st_ino == stored.st_ino;
                        if (ok)
                                t->seen[i] = true;
                        files++;
                } else
                        ok = false; /* a symlink or a special file: not the manifest's */
        }
        if (ok && errno != 0)
                ok = false;
        closedir(d);
        t->path[len] = 0;
        *ret_files = files;
        return ok;
}

bool content_tree_matches(int datalib_fd, const char *package_id, int filelib_fd, const struct stat *entry_st,
                          const ContentManifest *m) {
        _cleanup_free_ bool *seen = NULL;
        TreeMatch t = { .m = m, .filelib_fd = filelib_fd, .entry_st = entry_st };
        uint64_t files = 0;
        int fd;

        fd = openat(datalib_fd, package_id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return false;
        seen = calloc(MAX(m->n_files, (size_t) 1), sizeof *seen);
        if (!seen) {
                close(fd);
                return false;
        }
        t.seen = seen;
        /* every file found was a manifest file, each once: all are there when the counts agree */
        return tree_dir_matches(&t, fd, 0, 0, &files) && files == m->n_files;
}

int content_tree_remove(int datalib_fd, const char *package_id) {
        ContentTree t = CONTENT_TREE_NULL;
        char infix[CONTENT_PACKAGE_ID_MAX + 2];
        int r;

        content_tree_clean_stale(datalib_fd, package_id);
        r = tree_infix(package_id, infix);
        if (r >= 0)
                r = content_tmp_name_new(infix, t.name);
        if (r < 0)
                return r;
        /* Out of sight in one rename, then removed at leisure. */
        t.parent_fd = datalib_fd;
        if (renameat(datalib_fd, package_id, datalib_fd, t.name) == 0)
                t.exists = true;
        else if (errno != ENOENT)
                return -errno;
        content_tree_done(&t);
        (void) fsync(datalib_fd);
        return 0;
}
