/* SPDX-License-Identifier: MIT */

/* Who may write (API.md §8). Reading is open to whoever the bus policy admits; every write asks
 * here.
 *   - On the user bus and on --bus-address buses (without --polkit) the daemon's own uid passes
 *     and others are denied.
 *   - On the system bus (or with --polkit) root passes and everyone else asks polkit:
 *     CheckAuthorization over the bus with the action, the details class/package_id/path, and the
 *     message's allow-interactive-authorization flag. The question never blocks the loop: the
 *     handler returns at once, and when polkit answers the very message is queued again for
 *     dispatch (sd_bus_enqueue_for_read()); the handler then finds the answer here. No polkit, or
 *     a polkit error, means denied. */

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus-defer.h"
#include "bus/bus-util.h"
#include "smsprov/macro.h"
#include "util/log.h"

#define POLKIT_NAME "org.freedesktop.PolicyKit1"
#define POLKIT_PATH "/org/freedesktop/PolicyKit1/Authority"
#define POLKIT_INTERFACE "org.freedesktop.PolicyKit1.Authority"
#define POLKIT_ALLOW_USER_INTERACTION 1u

/* One question to polkit, for one message. */
struct AuthzQuery {
        Manager *manager;
        sd_bus_message *msg;  /* the call waiting for the answer */
        char *action;
        sd_bus_slot *slot;    /* the pending CheckAuthorization, NULL once answered */
        bool answered;
        bool authorized;
        bool challenge;       /* polkit could authorize after interaction */
        char *error;          /* why polkit could not answer */
        AuthzQuery *next;
};

static AuthzQuery *query_free(AuthzQuery *q) {
        if (!q)
                return NULL;
        sd_bus_slot_unref(q->slot);
        sd_bus_message_unref(q->msg);
        free(q->action);
        free(q->error);
        free(q);
        return NULL;
}

/* The first query of q's message in the list? A call that needs several actions asks polkit
 * once per action, and still counts as one call waiting. */
static bool query_first_of_message(Manager *m, AuthzQuery *q) {
        for (AuthzQuery *p = m->authz_queries; p != q; p = p->next)
                if (p->msg == q->msg)
                        return false;
        return true;
}

unsigned authz_pending(Manager *m, const char *sender, unsigned *mine) {
        unsigned n = 0;
        for (AuthzQuery *q = m->authz_queries; q; q = q->next) {
                if (!query_first_of_message(m, q))
                        continue;
                const char *s = sd_bus_message_get_sender(q->msg);
                *mine += s && sender && streq(s, sender);
                n++;
        }
        return n;
}

/* Drops every query of one message. */
static void queries_drop(Manager *m, sd_bus_message *msg) {
        for (AuthzQuery **p = &m->authz_queries; *p;) {
                AuthzQuery *q = *p;
                if (q->msg != msg) {
                        p = &q->next;
                        continue;
                }
                *p = q->next;
                query_free(q);
        }
}

static bool queries_answered(Manager *m, sd_bus_message *msg) {
        for (AuthzQuery *q = m->authz_queries; q; q = q->next)
                if (q->msg == msg && !q->answered)
                        return false;
        return true;
}

void authz_shutdown(Manager *m) {
        while (m->authz_queries) {
                AuthzQuery *q = m->authz_queries;
                m->authz_queries = q->next;
                query_free(q);
        }
}

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

static int on_polkit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        AuthzQuery *q = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int authorized = 0, challenge = 0, r;

        q->slot = sd_bus_slot_unref(q->slot);
        q->answered = true;
        if (e) {
                /* No polkit on the bus, or it failed: denied. */
                q->error = strdup(e->message ? e->message : e->name);
                log_warning("polkit could not answer for %s: %s", q->action, e->name);
        } else {
                r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
                if (r >= 0)
                        r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
                if (r < 0)
                        q->error = strdup("malformed answer from polkit");
                q->authorized = r >= 0 && authorized;
                q->challenge = r >= 0 && challenge;
        }

        /* Back to the handler once every action it asked about is answered: the same message,
         * from its first argument. */
        if (!queries_answered(q->manager, q->msg))
                return 0;
        r = sd_bus_message_rewind(q->msg, true);
        if (r >= 0)
                r = sd_bus_enqueue_for_read(q->manager->bus, q->msg);
        if (r < 0) {
                log_error_errno(r, "Failed to dispatch a call again after polkit answered: %m");
                sd_bus_reply_method_errorf(q->msg, SD_BUS_ERROR_ACCESS_DENIED, "authorization failed: %s",
                                           strerror(-r));
                queries_drop(q->manager, q->msg);
        }
        return 0;
}

/* details: class, package_id and path, from the object the call is addressed to
 * (/org/smsprov/Provider1/<Class>/<Key> or …/class/<Class>). */
static int append_details(sd_bus_message *m, const char *path) {
        _cleanup_free_ char *class_name = NULL, *key = NULL;
        const char *rest = path + strlen(SMSPROV_OBJECT_ROOT);
        int r;

        if (strncmp(path, SMSPROV_OBJECT_ROOT "/", strlen(SMSPROV_OBJECT_ROOT) + 1) == 0) {
                rest++;
                if (strncmp(rest, "class/", 6) == 0)
                        class_name = strdup(rest + 6);
                else {
                        const char *slash = strchr(rest, '/');
                        class_name = slash ? strndup(rest, (size_t) (slash - rest)) : strdup(rest);
                        if (slash)
                                key = strdup(slash + 1);
                }
        }
        r = sd_bus_message_open_container(m, 'a', "{ss}");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "{ss}", "path", path);
        if (r >= 0 && class_name)
                r = sd_bus_message_append(m, "{ss}", "class", class_name);
        if (r >= 0 && key)
                r = sd_bus_message_append(m, "{ss}", "package_id", key);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

static int polkit_ask(Manager *m, sd_bus_message *msg, const char *action) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        AuthzQuery *q;
        int r;

        q = calloc(1, sizeof(AuthzQuery));
        if (!q || !(q->action = strdup(action))) {
                free(q);
                return -ENOMEM;
        }
        q->manager = m;
        q->msg = sd_bus_message_ref(msg);

        r = sd_bus_message_new_method_call(m->bus, &call, POLKIT_NAME, POLKIT_PATH, POLKIT_INTERFACE,
                                           "CheckAuthorization");
        if (r >= 0)
                r = sd_bus_message_append(call, "(sa{sv})s", "system-bus-name", 1, "name", "s",
                                          sd_bus_message_get_sender(msg), action);
        if (r >= 0)
                r = append_details(call, sd_bus_message_get_path(msg));
        if (r >= 0)
                r = sd_bus_message_append(call, "us",
                                          sd_bus_message_get_allow_interactive_authorization(msg)
                                                  ? POLKIT_ALLOW_USER_INTERACTION
                                                  : 0u,
                                          "");
        /* Interactive authorization may wait for a person: no D-Bus timeout of ours cuts it. */
        if (r >= 0)
                r = sd_bus_call_async(m->bus, &q->slot, call, on_polkit_reply, q, UINT64_MAX);
        if (r < 0) {
                query_free(q);
                return r;
        }
        q->next = m->authz_queries;
        m->authz_queries = q;
        return 0;
}

/* The answer for one action of msg: NULL when polkit was not asked about it. */
static AuthzQuery *query_find(Manager *m, sd_bus_message *msg, const char *action) {
        for (AuthzQuery *q = m->authz_queries; q; q = q->next)
                if (q->msg == msg && streq(q->action, action))
                        return q;
        return NULL;
}

/* Every action asked about is answered: the call goes on if each was granted, else the first
 * refusal is its error. The answers are used up either way. */
static int queries_decide(Manager *m, sd_bus_message *msg, const char *const *actions, size_t n,
                          sd_bus_error *ret_error) {
        int r = 0;

        for (size_t i = 0; i < n && r == 0; i++) {
                AuthzQuery *q = query_find(m, msg, actions[i]);
                if (q->authorized)
                        continue;
                if (q->challenge && !sd_bus_message_get_allow_interactive_authorization(msg))
                        r = sd_bus_error_setf(ret_error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                                              "%s needs interactive authorization", actions[i]);
                else
                        r = sd_bus_error_setf(ret_error, SD_BUS_ERROR_ACCESS_DENIED, "%s: not authorized%s%s",
                                              actions[i], q->error ? ": " : "", q->error ? q->error : "");
        }
        queries_drop(m, msg);
        return r;
}

int authz_check_write_all(Manager *m, sd_bus_message *msg, const char *const *actions, size_t n,
                          SiteCaller *ret_caller, sd_bus_error *ret_error) {
        bool asked = false, missing = false;
        uid_t uid;
        int r;

        assert(n > 0);
        r = caller_uid(m, msg, &uid);
        if (r < 0)
                return sd_bus_error_setf(ret_error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Cannot determine the caller's user ID: %s", strerror(-r));
        *ret_caller = (SiteCaller) { .uid = uid, .peer = sd_bus_message_get_sender(msg) };

        if (!m->polkit) {
                if (uid == m->own_uid)
                        return 0;
                return sd_bus_error_setf(ret_error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "%s: only uid %u may change this site on this bus (caller is uid %u)", actions[0],
                                         (unsigned) m->own_uid, (unsigned) uid);
        }
        if (uid == 0)
                return 0;

        /* Has polkit answered for this very message, about each action? */
        for (size_t i = 0; i < n; i++) {
                AuthzQuery *q = query_find(m, msg, actions[i]);
                asked |= q != NULL;
                missing |= q == NULL;
                if (q && !q->answered)
                        return 1; /* still asking */
        }
        if (asked && !missing)
                return queries_decide(m, msg, actions, n, ret_error);

        if (!asked) {
                SmsError e = SMS_ERROR_NULL;
                r = bus_calls_admit(m, msg, &e);
                if (r < 0)
                        return bus_reply_error_take(ret_error, &e, r);
        }
        /* One CheckAuthorization per action, all at once; the message comes back when the last
         * is answered. */
        for (size_t i = 0; i < n; i++) {
                if (query_find(m, msg, actions[i]))
                        continue;
                r = polkit_ask(m, msg, actions[i]);
                if (r < 0) {
                        queries_drop(m, msg);
                        return sd_bus_error_setf(ret_error, SD_BUS_ERROR_ACCESS_DENIED, "%s: cannot ask polkit: %s",
                                                 actions[i], strerror(-r));
                }
        }
        return 1; /* the reply comes when the message is dispatched again */
}

int authz_check_write(Manager *m, sd_bus_message *msg, const char *action, SiteCaller *ret_caller,
                      sd_bus_error *ret_error) {
        return authz_check_write_all(m, msg, &action, 1, ret_caller, ret_error);
}
