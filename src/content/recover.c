/* SPDX-License-Identifier: MIT */

/* After a crash: the temporaries a killed writer left in a content library. Run at start, before
 * any distribution: nothing else writes then, so every temporary name is garbage. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "content/content-internal.h"
#include "smsprov/content.h"
#include "smsprov/macro.h"

/* Removes the temporaries directly in `dirfd`, and one level down when `depth` is 1 (FileLib/<aa>/,
 * PkgLib/<id>/). */
static void sweep(int dirfd, int depth) {
        DIR *d;
        struct dirent *de;
        int fd = dup(dirfd);

        if (fd < 0)
                return;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return;
        }
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (content_tmp_name_matches(de->d_name, "")) {
                        (void) content_remove_tree_at(dirfd, de->d_name);
                        continue;
                }
                if (depth > 0 && de->d_type == DT_DIR) {
                        int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                        if (sub >= 0) {
                                sweep(sub, depth - 1);
                                close(sub);
                        }
                }
        }
        closedir(d);
}

int content_recover(const char *lib_root) {
        /* Not below DataLib/<id>/: a package may hold a file whose name starts like a temporary. */
        static const struct {
                const char *name;
                int depth;
        } levels[] = { { "FileLib", 1 }, { "PkgLib", 1 }, { "DataLib", 0 }, { "cache", 0 } };
        _cleanup_close_ int root = open(lib_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (root < 0)
                return errno == ENOENT ? 0 : -errno;
        sweep(root, 0);
        for (size_t i = 0; i < ELEMENTSOF(levels); i++) {
                _cleanup_close_ int fd = openat(root, levels[i].name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (fd >= 0)
                        sweep(fd, levels[i].depth);
        }
        return 0;
}
