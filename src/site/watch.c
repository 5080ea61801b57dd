/* SPDX-License-Identifier: MIT */

/* Other hosts' changes (site.h, site_watch_start()): what the store tells of a shared site
 * database becomes the observer's calls, so that a client of this host sees a package another
 * host created, changed or deleted as it sees this host's own. */

#include <stdlib.h>

#include "smsprov/site.h"
#include "util/log.h"

/* The watch is back after the database was lost: what other hosts did meanwhile was told to no
 * one. Every managed object there is now is announced as added again (an ObjectManager client
 * takes InterfacesAdded of a path it knows, with every property, as the object's new state), so
 * that what was created or changed meanwhile reaches the clients; what was deleted meanwhile
 * cannot be told (nothing here remembers it), nor changes of row classes, which have no
 * InterfacesAdded: clients that must know call GetManagedObjects again. */
static void announce_all(Site *site) {
        for (const SmsClass *const *k = sms_model_classes(); *k; k++) {
                const SmsClass *c = *k;
                SmsError e = SMS_ERROR_NULL;
                const SmsClass **classes = NULL;
                char **keys = NULL;
                size_t n = 0;

                if (c->abstract || c->methods_only || !sms_class_is_managed(c))
                        continue;
                if (store_object_enumerate(site->store, c, &keys, &classes, &n, &e) < 0) {
                        log_warning("Cannot announce the %s objects again after the site database came back: %s",
                                    c->name, e.message ? e.message : "out of memory");
                        sms_error_clear(&e);
                        continue;
                }
                for (size_t i = 0; i < n; i++) {
                        site_notify_added(site, classes[i], keys[i]);
                        free(keys[i]);
                }
                free(keys);
                free(classes);
        }
}

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
        case STORE_CHANGE_INTERRUPTED:
                log_warning("Clients of this host are not told of other hosts' changes for now: %s", ch->reason);
                break;
        case STORE_CHANGE_RESUMED:
                log_info("Clients of this host are told of other hosts' changes again (%s); every object is "
                         "announced again.",
                         ch->reason);
                announce_all(site);
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
