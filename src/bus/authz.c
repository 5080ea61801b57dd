/* SPDX-License-Identifier: MIT */

/* Who may write (API.md §8). Reading is open to whoever the bus policy admits; every write asks
 * here. On the user bus and on --bus-address buses the daemon's own uid passes and others are
 * denied. On the system bus root passes; everyone else needs polkit, which is not wired up yet:
 * without polkit the answer is "denied", as the contract says for a missing polkit. */

#include <errno.h>
#include <string.h>

#include "bus/bus-util.h"
#include "smsprov/macro.h"

/* The caller's uid as the bus daemon vouches for it (GetConnectionCredentials), not augmented
 * from /proc, which a recycled PID could fool. A bus unique name is never reused while the bus
 * runs, so the answer is cached per sender: a write costs no extra round trip to the bus. */
static int caller_uid(Manager *m, sd_bus_message *msg, uid_t *ret) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        const char *sender = sd_bus_message_get_sender(msg);
        int r;

        for (size_t i = 0; sender && i < AUTHZ_UID_CACHE_SIZE; i++)
                if (m->uid_cache[i].sender && streq(m->uid_cache[i].sender, sender)) {
                        *ret = m->uid_cache[i].uid;
                        return 0;
                }

        r = sd_bus_query_sender_creds(msg, SD_BUS_CREDS_EUID | SD_BUS_CREDS_UID, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, ret);
        if (r < 0)
                r = sd_bus_creds_get_uid(creds, ret);
        if (r < 0 || !sender)
                return r;

        AuthzUidCacheEntry *entry = &m->uid_cache[m->uid_cache_next];
        free(entry->sender);
        entry->sender = strdup(sender);
        entry->uid = *ret;
        m->uid_cache_next = (m->uid_cache_next + 1) % AUTHZ_UID_CACHE_SIZE;
        return 0;
}

int authz_check_write(Manager *m, sd_bus_message *msg, const char *action, SiteCaller *ret_caller,
                      sd_bus_error *ret_error) {
        uid_t uid;
        int r;

        r = caller_uid(m, msg, &uid);
        if (r < 0)
                return sd_bus_error_setf(ret_error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Cannot determine the caller's user ID: %s", strerror(-r));
        *ret_caller = (SiteCaller) { .uid = uid };

        switch (m->bus_kind) {
        case BUS_KIND_USER:
        case BUS_KIND_ADDRESS:
                if (uid == m->own_uid)
                        return 0;
                return sd_bus_error_setf(ret_error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "%s: only uid %u may change this site on this bus (caller is uid %u)", action,
                                         (unsigned) m->own_uid, (unsigned) uid);
        case BUS_KIND_SYSTEM:
        default:
                if (uid == 0)
                        return 0;
                return sd_bus_error_setf(ret_error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "%s: not authorized (no polkit authority is consulted by this build)",
                                         action);
        }
}
