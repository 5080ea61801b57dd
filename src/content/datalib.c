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

/* Counts what is below fd: directories, and everything else. */
static int count_tree(int fd, uint64_t *dirs, uint64_t *others, unsigned depth) {
        DIR *d = fdopendir(fd);
        int r = 0;

        if (!d) {
                close(fd);
                return -errno;
        }
        for (struct dirent *de; r >= 0 && (de = readdir(d));) {
                struct stat st;
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = -errno;
                        break;
                }
                if (!S_ISDIR(st.st_mode)) {
                        (*others)++;
                        continue;
                }
                (*dirs)++;
                if (depth >= CONTENT_DEPTH_MAX) {
                        r = -ELOOP;
                        break;
                }
                int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                r = sub < 0 ? -errno : count_tree(sub, dirs, others, depth + 1);
        }
        closedir(d);
        return r;
}

static int compare_string(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The directories a manifest's files need, counted once each. */
static int manifest_dirs(const ContentManifest *m, uint64_t *ret) {
        size_t n = 0, allocated = 0;
        char **l = NULL;
        int r = 0;

        for (size_t i = 0; r >= 0 && i < m->n_files; i++)
                for (const char *s = strchr(m->files[i].path, '/'); s; s = strchr(s + 1, '/')) {
                        if (n == allocated) {
                                size_t k = allocated ? allocated * 2 : 64;
                                char **nl = realloc(l, k * sizeof *nl);
                                if (!nl) {
                                        r = -ENOMEM;
                                        break;
                                }
                                l = nl;
                                allocated = k;
                        }
                        if (!(l[n] = strndup(m->files[i].path, (size_t) (s - m->files[i].path)))) {
                                r = -ENOMEM;
                                break;
                        }
                        n++;
                }
        if (r >= 0) {
                if (n > 0) /* qsort wants a valid pointer even for no elements */
                        qsort(l, n, sizeof *l, compare_string);
                *ret = 0;
                for (size_t i = 0; i < n; i++)
                        *ret += i == 0 || !streq(l[i], l[i - 1]);
        }
        for (size_t i = 0; i < n; i++)
                free(l[i]);
        free(l);
        return r;
}

bool content_tree_matches(int datalib_fd, const char *package_id, int filelib_fd, const ContentManifest *m) {
        uint64_t dirs = 0, others = 0, wanted_dirs;
        _cleanup_close_ int tree_fd = -1;
        int fd;

        tree_fd = openat(datalib_fd, package_id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (tree_fd < 0)
                return false;
        for (size_t i = 0; i < m->n_files; i++) {
                const ContentFile *f = &m->files[i];
                char name[CONTENT_HASH_HEX + 4];
                struct stat published, stored;

                content_filelib_name(f->hash, name);
                if (fstatat(filelib_fd, name, &stored, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(stored.st_mode) ||
                    (uint64_t) stored.st_size != f->size)
                        return false;
                fd = content_open_below(tree_fd, f->path, O_PATH);
                if (fd < 0)
                        return false;
                int k = fstat(fd, &published);
                close(fd);
                if (k < 0 || published.st_dev != stored.st_dev || published.st_ino != stored.st_ino)
                        return false;
        }
        /* and nothing else in it */
        fd = fcntl(tree_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0 || count_tree(fd, &dirs, &others, 0) < 0 || manifest_dirs(m, &wanted_dirs) < 0)
                return false;
        return others == m->n_files && dirs == wanted_dirs;
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
