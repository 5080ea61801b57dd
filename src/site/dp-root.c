/* SPDX-License-Identifier: MIT */

/* Where a distribution point may be (issue 11 §3): its ContentRoot lies beneath one of the
 * --dp-root directories, resolved the way content paths are, and overlaps neither the daemon's own
 * files in the state directory nor a content root. Otherwise the daemon would create
 * SCCMContentLib/ and RemoteInstall/ in, and sweep temporaries out of, whatever directory a caller
 * named (`/`, `/etc`, the state directory). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "smsprov/macro.h"
#include "smsprov/site.h"

/* What the daemon keeps in the state directory and in the library directory (the same one
 * unless --library-dir): either may hold other things, as the layout of tools/run.sh keeps a
 * content root and a dp-root in the state directory. */
static const char *const state_entries[] = { "site.db", "site.db-wal", "site.db-shm", "site.db-journal", NULL };
static const char *const library_entries[] = { "images", "contentlib", "drivers", NULL };

/* The first component of a relative path ("images/X/y" → "images"). */
static bool first_component_is(const char *rest, const char *name) {
        size_t n = strlen(name);
        return strncmp(rest, name, n) == 0 && (rest[n] == '/' || rest[n] == 0);
}

/* A ContentRoot (resolved) may neither hold dir nor lie in one of the daemon's entries there. */
static int own_dir_check(const char *root, const char *resolved, const char *dir, const char *what,
                         const char *const *entries, SmsError *e) {
        _cleanup_free_ char *own = realpath(dir, NULL);
        const char *rest;

        if (!own)
                return sms_error_set_errno(e, errno, "%s %s", what, dir);
        if (path_below(resolved, own))
                return sms_error_set(e, SMS_ERROR_PATH_NOT_ALLOWED, "ContentRoot %s holds the %s %s", root, what, own);
        if ((rest = path_below(own, resolved)))
                for (const char *const *i = entries; *i; i++)
                        if (first_component_is(rest, *i))
                                return sms_error_set(e, SMS_ERROR_PATH_NOT_ALLOWED,
                                                     "ContentRoot %s is inside the daemon's %s/%s", root, own, *i);
        return 0;
}

static int overlap_check(const Site *site, const char *root, const char *resolved, SmsError *e) {
        int r = own_dir_check(root, resolved, site->state_dir, "state directory", state_entries, e);
        if (r >= 0)
                r = own_dir_check(root, resolved, site->library_dir ?: site->state_dir, "library directory",
                                  library_entries, e);
        if (r < 0)
                return r;
        for (char **c = site->roots.paths; c && *c; c++)
                if (path_below(*c, resolved) || path_below(resolved, *c))
                        return sms_error_set(e, SMS_ERROR_PATH_NOT_ALLOWED, "ContentRoot %s overlaps the content root %s",
                                             root, *c);
        return 0;
}

int site_dp_root_resolve(const Site *site, const char *root, char **ret, SmsError *e) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *resolved = NULL;
        SmsError inner = SMS_ERROR_NULL;
        int r;

        if (!site->dp_roots.paths)
                return sms_error_set(e, SMS_ERROR_PATH_NOT_ALLOWED,
                                     "ContentRoot %s: smsprovd was started without --dp-root, so no directory may "
                                     "hold a distribution point",
                                     root ? root : "");
        r = content_roots_resolve(&site->dp_roots, root, PATH_KIND_DIRECTORY, &fd, &inner);
        if (r < 0) {
                if (inner.code == SMS_ERROR_PATH_NOT_ALLOWED)
                        r = sms_error_set(e, SMS_ERROR_PATH_NOT_ALLOWED,
                                          "ContentRoot %s is not beneath a --dp-root directory (or leaves it through "
                                          "'..' or a symbolic link)",
                                          root);
                else
                        r = sms_error_set(e, inner.code, "ContentRoot: %s", inner.message ? inner.message : root);
                sms_error_clear(&inner);
                return r;
        }
        /* The directory the kernel found, not the string: the overlap checks compare canonical
         * paths, and users of the result name what was checked. */
        resolved = path_resolved_of_fd(fd);
        if (!resolved)
                return sms_error_set(e, SMS_ERROR_FAILED, "ContentRoot %s: cannot resolve it", root);
        r = overlap_check(site, root, resolved, e);
        if (r < 0)
                return r;
        if (ret)
                *ret = TAKE_PTR(resolved);
        return 0;
}

int site_dp_scope_copy(const Site *site, Site *ret) {
        *ret = (Site) { .state_dir = strdup(site->state_dir), .library_dir = strdup(site->library_dir) };
        if (!ret->state_dir || !ret->library_dir || content_roots_copy(&site->roots, &ret->roots) < 0 ||
            (site->dp_roots.paths && content_roots_copy(&site->dp_roots, &ret->dp_roots) < 0)) {
                site_dp_scope_done(ret);
                return -ENOMEM;
        }
        return 0;
}

void site_dp_scope_done(Site *scope) {
        content_roots_done(&scope->roots);
        content_roots_done(&scope->dp_roots);
        free(scope->state_dir);
        free(scope->library_dir);
        *scope = (Site) {};
}
