/* SPDX-License-Identifier: MIT */

/* See site-recover.h. The flags live as long as the daemon (one per library, a few hundred at
 * most), in a list behind one lock. */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smsprov/site-recover.h"
#include "smsprov/content.h"
#include "smsprov/macro.h"
#include "util/log.h"

typedef struct Recovered {
        char *lib_root;
        bool done;
        struct Recovered *next;
} Recovered;

static pthread_mutex_t recovered_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t recovered_changed = PTHREAD_COND_INITIALIZER;
static Recovered *recovered;

void site_recover_once(const char *lib_root) {
        Recovered *r;

        pthread_mutex_lock(&recovered_lock);
        for (r = recovered; r; r = r->next)
                if (streq(r->lib_root, lib_root))
                        break;
        if (r) {
                while (!r->done)
                        pthread_cond_wait(&recovered_changed, &recovered_lock);
                pthread_mutex_unlock(&recovered_lock);
                return;
        }
        r = calloc(1, sizeof(Recovered));
        if (r && !(r->lib_root = strdup(lib_root))) {
                free(r);
                r = NULL;
        }
        if (r) {
                r->next = recovered;
                recovered = r;
        }
        pthread_mutex_unlock(&recovered_lock);
        /* Without a flag the sweep could not keep other writers out: left to the next start. */
        if (!r) {
                log_warning("Out of memory: not recovering %s", lib_root);
                return;
        }
        (void) content_recover(lib_root);
        pthread_mutex_lock(&recovered_lock);
        r->done = true;
        pthread_cond_broadcast(&recovered_changed);
        pthread_mutex_unlock(&recovered_lock);
}

typedef struct Recovery {
        Site site; /* site_dp_scope_copy(): what site_dp_root_resolve() reads */
        char *lib;
        char **dp_roots;
} Recovery;

static void recovery_free(Recovery *rc) {
        site_dp_scope_done(&rc->site);
        free(rc->lib);
        strv_free(rc->dp_roots);
        free(rc);
}

static void *recovery_main(void *userdata) {
        Recovery *rc = userdata;

        site_recover_once(rc->lib);
        for (char **root = rc->dp_roots; root && *root; root++) {
                _cleanup_free_ char *resolved = NULL, *dp_lib = NULL;
                SmsError e = SMS_ERROR_NULL;
                /* Only where a DP may be: a row from before --dp-root, or one whose dp-root was
                 * dropped, names a directory the sweep must not touch. */
                if (site_dp_root_resolve(&rc->site, *root, &resolved, &e) < 0) {
                        log_warning("Not recovering the distribution point in %s: %s", *root,
                                    e.message ? e.message : "not allowed");
                        sms_error_clear(&e);
                        continue;
                }
                if (asprintf(&dp_lib, "%s/SCCMContentLib", resolved) >= 0)
                        site_recover_once(dp_lib);
                else
                        dp_lib = NULL;
        }
        recovery_free(rc);
        return NULL;
}

int site_recover_start(const Site *site, const char *lib, char **dp_roots) {
        Recovery *rc = calloc(1, sizeof(Recovery));
        pthread_attr_t attr;
        pthread_t thread;
        int r;

        if (!rc) {
                strv_free(dp_roots);
                return -ENOMEM;
        }
        rc->dp_roots = dp_roots;
        rc->lib = strdup(lib);
        if (!rc->lib || site_dp_scope_copy(site, &rc->site) < 0) {
                recovery_free(rc);
                return -ENOMEM;
        }
        /* Detached: a thread stuck on a mount that never answers must not hold up the exit. */
        r = -pthread_attr_init(&attr);
        if (r == 0)
                r = -pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (r == 0)
                r = -pthread_create(&thread, &attr, recovery_main, rc);
        pthread_attr_destroy(&attr);
        if (r < 0)
                recovery_free(rc);
        return r;
}
