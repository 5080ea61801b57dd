/* SPDX-License-Identifier: MIT */

/* Other hosts' changes (site.h, site_watch_start()): what the store tells of a shared site
 * database becomes the observer's calls, so that a client of this host sees a package another
 * host created, changed or deleted as it sees this host's own. */

#include "smsprov/site.h"
#include "util/log.h"

static void on_store_change(void *userdata, const StoreChange *ch) {
        Site *site = userdata;

        switch (ch->kind) {
        case STORE_CHANGE_ADDED:
                site_notify_added(site, ch->class, ch->key);
                break;
        case STORE_CHANGE_CHANGED:
                site_notify_changed(site, ch->class, ch->key, ch->changed, ch->n_changed);
                break;
        case STORE_CHANGE_REMOVED:
                site_notify_removed(site, ch->class, ch->key);
                break;
        case STORE_CHANGE_UNKNOWN:
                log_warning("Another host changed the site, and clients of this one are not told: %s", ch->reason);
                break;
        case STORE_CHANGE_LOST:
                log_warning("Clients of this host are no longer told of other hosts' changes: %s", ch->reason);
                break;
        }
}

int site_watch_start(Site *site, SmsError *e) {
        return store_watch(site->store, site->event, on_store_change, site, e);
}

void site_watch_stop(Site *site) {
        if (site->store)
                store_unwatch(site->store);
}
