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

/* What the daemon keeps in the state directory. The state directory may hold other things: the
 * layout of tools/run.sh keeps a content root and a dp-root in it. */
static const char *const state_entries[] = {
        "site.db", "site.db-wal", "site.db-shm", "site.db-journal", "images", "contentlib", "drivers",
};

/* The first component of a relative path ("images/X/y" → "images"). */
static bool first_component_is(const char *rest, const char *name) {
        size_t n = strlen(name);
        return strncmp(rest, name, n) == 0 && (rest[n] == '/' || rest[n] == 0);
}

static int overlap_check(const Site *site, const char *root, const char *resolved, SmsError *e) {
        _cleanup_free_ char *state = realpath(site->state_dir, NULL);
        const char *rest;

        if (!state)
                return sms_error_set_errno(e, errno, "state directory %s", site->state_dir);
        if (path_below(resolved, state))
                return sms_error_set(e, SMS_ERROR_PATH_NOT_ALLOWED,
                                     "ContentRoot %s holds the state directory %s", root, state);
        if ((rest = path_below(state, resolved)))
                for (size_t i = 0; i < ELEMENTSOF(state_entries); i++)
                        if (first_component_is(rest, state_entries[i]))
                                return sms_error_set(e, SMS_ERROR_PATH_NOT_ALLOWED,
                                                     "ContentRoot %s is inside the daemon's %s/%s", root, state,
                                                     state_entries[i]);
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
        *ret = (Site) { .state_dir = strdup(site->state_dir) };
        if (!ret->state_dir || content_roots_copy(&site->roots, &ret->roots) < 0 ||
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
        *scope = (Site) {};
}
