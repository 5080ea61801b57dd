/* SPDX-License-Identifier: MIT */

/* Engine transactions (site.h, site_begin() … site_end()): a write made of several steps (a
 * Create and the distribution it starts, a Put and the build it triggers) is one transaction of
 * the site database, and what its steps report to the observer and the jobs they start are held
 * until the outermost one commits. A rollback drops them: no signal tells of a change that was
 * taken back, and no job runs for one. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "smsprov/macro.h"
#include "smsprov/site-jobs.h"

struct SiteHeld {
        SiteNotice notice;
        const SmsClass *class;
        char *key;
        size_t *changed; /* HELD_CHANGED */
        size_t n_changed;
        SiteHeld *next;
};

static void held_free(SiteHeld *h) {
        free(h->key);
        free(h->changed);
        free(h);
}

bool site_hold_notice(Site *site, SiteNotice notice, const SmsClass *c, const char *key, const size_t *changed,
                      size_t n) {
        if (site->tx_depth == 0)
                return false;
        SiteHeld *h = calloc(1, sizeof(SiteHeld));
        if (h) {
                *h = (SiteHeld) { .notice = notice, .class = c, .key = strdup(key), .n_changed = n };
                if (n > 0 && (h->changed = malloc(n * sizeof(size_t))))
                        memcpy(h->changed, changed, n * sizeof(size_t));
        }
        if (!h || !h->key || (n > 0 && !h->changed)) {
                /* A change that could not be reported must not be made. */
                if (h)
                        held_free(h);
                site->tx_doomed = true;
                return true;
        }
        *site->held_tail = h;
        site->held_tail = &h->next;
        return true;
}

void site_hold_job(Site *site, SiteJob *sj) {
        sj->next = NULL;
        *site->held_jobs_tail = sj;
        site->held_jobs_tail = &sj->next;
}

int site_begin(Site *site, SmsError *e) {
        int r = store_begin(site->store, e);
        if (r < 0)
                return r;
        if (site->tx_depth++ == 0) {
                site->tx_doomed = false;
                site->held = NULL;
                site->held_tail = &site->held;
                site->held_jobs = NULL;
                site->held_jobs_tail = &site->held_jobs;
        }
        return 0;
}

int site_end(Site *site, int r, SmsError *e) {
        if (r >= 0 && site->tx_doomed)
                r = sms_error_set(e, SMS_ERROR_FAILED, "out of memory: the write was not made");
        r = store_end(site->store, r, e);
        if (--site->tx_depth > 0)
                return r;

        /* The outermost transaction ended: the reports in the order they were made, then the jobs
         * (queued only now, so that their work reads what was committed); or neither. */
        SiteHeld *held = TAKE_PTR(site->held);
        SiteJob *jobs = TAKE_PTR(site->held_jobs);
        while (held) {
                SiteHeld *next = held->next;
                if (r >= 0)
                        site_notify(site, held->notice, held->class, held->key, held->changed, held->n_changed);
                held_free(held);
                held = next;
        }
        while (jobs) {
                SiteJob *next = jobs->next;
                if (r >= 0)
                        site_job_held_queue(site, jobs);
                else
                        site_job_held_drop(site, jobs);
                jobs = next;
        }
        return r;
}
