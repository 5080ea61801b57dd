/* SPDX-License-Identifier: MIT */

/* store_watch() on PostgreSQL: the changes other hosts of the site commit, as the triggers of
 * schema/postgresql/0008-change-notification.sql announce them on the channel smsprov_site. One
 * connection of its own LISTENs, non-blocking, read when the main loop sees its socket readable;
 * a notification its own host's write connection sent (the backend pid it names) is skipped. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "smsprov/macro.h"
#include "store/pg-internal.h"

#define CHANNEL "smsprov_site"

/* After a loss, LISTEN is tried again this long after, doubling up to the last. */
#define LISTEN_AGAIN_FIRST_USEC (500 * 1000ULL)
#define LISTEN_AGAIN_LAST_USEC (30 * 1000000ULL)

static void listen_close(Store *s) {
        s->listen_source = sd_event_source_disable_unref(s->listen_source);
        PQfinish(s->listen_conn);
        s->listen_conn = NULL;
}

static void watch_stop(Store *s) {
        listen_close(s);
        s->listen_again = sd_event_source_disable_unref(s->listen_again);
        s->watch_event = sd_event_unref(s->watch_event);
        s->watch_func = NULL;
        s->watch_userdata = NULL;
}

static void report(Store *s, StoreChangeKind kind, const char *reason) {
        StoreChange ch = { .kind = kind, .reason = reason };
        s->watch_func(s->watch_userdata, &ch);
}

/* The key of c from the notification's key columns: NULL when one is missing or does not
 * decode (*ret_r < 0 then, -ENOMEM or -EBADMSG). */
static char *key_of(const SmsClass *c, json_object *keys, int *ret_r) {
        CimValue values[SMS_MAX_KEYS] = {};
        const CimValue *ptrs[SMS_MAX_KEYS];
        char *key = NULL;
        int r = 0;

        for (size_t k = 0; k < c->n_keys; k++) {
                const SmsProperty *p = c->all[c->key_indexes[k]];
                json_object *v = NULL;
                StoreColumnValue col = {};

                if (r < 0)
                        values[k] = cim_value_null(p->type);
                else if (!json_object_object_get_ex(keys, sms_property_column(p), &v) || !v)
                        r = -EBADMSG;
                else if (store_type_is_integer(p->type))
                        col.i = json_object_get_int64(v);
                else
                        col.text = json_object_get_string(v);
                if (r >= 0)
                        r = store_value_decode(&col, p->type, &values[k]);
                ptrs[k] = &values[k];
        }
        if (r >= 0)
                r = sms_class_key_format(c, ptrs, &key);
        for (size_t k = 0; k < c->n_keys; k++)
                cim_value_clear(&values[k]);
        *ret_r = r;
        return r < 0 ? NULL : key;
}

/* The properties of c among the changed columns; without a list (the payload had no room for
 * it), every property but the keys. */
static size_t changed_of(const SmsClass *c, json_object *columns, size_t *ret) {
        size_t n = 0;

        for (size_t i = 0; i < c->n_all; i++) {
                const char *column = sms_property_column(c->all[i]);
                bool changed = false;

                if (c->all[i]->flags & (SMS_PROP_WRITE_ONLY | SMS_PROP_CREATE_ONLY))
                        continue;
                if (!columns)
                        changed = !(c->all[i]->flags & SMS_PROP_KEY);
                else
                        for (size_t k = 0; !changed && k < json_object_array_length(columns); k++)
                                changed = streq(column, json_object_get_string(json_object_array_get_idx(columns, k)));
                if (changed)
                        ret[n++] = i;
        }
        return n;
}

/* One notification: every concrete class stored in its table (and of its discriminator value)
 * gets the change, a change only when it touched properties of that class. */
static int dispatch(Store *s, const char *payload) {
        json_object *root = json_tokener_parse(payload), *table = NULL, *op = NULL, *keys, *type = NULL,
                    *columns = NULL;
        const char *kinds = "IUD", *op_text;
        int r = 0;

        if (root) {
                json_object_object_get_ex(root, "table", &table);
                json_object_object_get_ex(root, "op", &op);
        }
        op_text = op ? json_object_get_string(op) : NULL;
        if (!table || !op_text || !op_text[0] || !strchr(kinds, op_text[0])) {
                json_object_put(root);
                return -EBADMSG;
        }
        if (!json_object_object_get_ex(root, "key", &keys)) {
                json_object_put(root);
                return -E2BIG;
        }
        json_object_object_get_ex(root, "type", &type);
        json_object_object_get_ex(root, "changed", &columns);
        StoreChangeKind kind = (StoreChangeKind) (strchr(kinds, op_text[0]) - kinds);

        for (const SmsClass *const *k = sms_model_classes(); r >= 0 && *k; k++) {
                const SmsClass *c = *k;
                _cleanup_free_ size_t *changed = NULL;
                _cleanup_free_ char *key = NULL;
                size_t n_changed = 0;

                if (c->abstract || c->methods_only || !store_class_table(c) ||
                    !streq(store_class_table(c), json_object_get_string(table)))
                        continue;
                if (store_class_discriminator(c) && (!type || json_object_get_int64(type) != c->discriminator_value))
                        continue;
                key = key_of(c, keys, &r);
                if (!key)
                        break;
                if (kind == STORE_CHANGE_CHANGED) {
                        changed = calloc(c->n_all + 1, sizeof(size_t));
                        if (!changed) {
                                r = -ENOMEM;
                                break;
                        }
                        n_changed = changed_of(c, columns, changed);
                        if (n_changed == 0)
                                continue;
                }
                StoreChange ch = { .kind = kind, .class = c, .key = key, .changed = changed, .n_changed = n_changed };
                s->watch_func(s->watch_userdata, &ch);
                /* The callback may have ended the watch. */
                if (!s->watch_func)
                        break;
        }
        json_object_put(root);
        return r;
}

static int listen_open(Store *s, SmsError *e);
static void listen_lost(Store *s, const char *reason);

static int on_listen_ready(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        Store *s = userdata;
        PGnotify *n;

        if (!PQconsumeInput(s->listen_conn)) {
                char reason[1024], text[1200];
                snprintf(text, sizeof text, "the site database's LISTEN connection is lost: %s",
                         pg_reason(s->listen_conn, reason, sizeof reason));
                listen_lost(s, text);
                return 0;
        }
        while (s->watch_func && (n = PQnotifies(s->listen_conn))) {
                if (n->be_pid != PQbackendPID(s->conn) && streq(n->relname, CHANNEL)) {
                        /* What was read before may be stale now. */
                        s->generation++;
                        int r = dispatch(s, n->extra);
                        if (r == -E2BIG)
                                report(s, STORE_CHANGE_UNKNOWN, "a row too large for a change notification changed");
                        else if (r == -EBADMSG)
                                report(s, STORE_CHANGE_UNKNOWN, "a change notification that does not decode");
                        else if (r < 0)
                                report(s, STORE_CHANGE_UNKNOWN, "out of memory reading a change notification");
                }
                PQfreemem(n);
        }
        return 0;
}

static int on_listen_again(sd_event_source *source, uint64_t usec, void *userdata) {
        Store *s = userdata;
        SmsError e = SMS_ERROR_NULL;

        s->listen_again = sd_event_source_disable_unref(s->listen_again);
        if (listen_open(s, &e) < 0) {
                listen_lost(s, e.message ? e.message : "out of memory");
                sms_error_clear(&e);
                return 0;
        }
        /* What others committed meanwhile was told to nobody, and what was read may be stale. */
        s->generation++;
        s->listen_again_usec = 0;
        report(s, STORE_CHANGE_RESUMED, "the site database's LISTEN connection is back");
        return 0;
}

/* The connection is gone (the server restarted, the network failed): the watch goes on, and
 * LISTENs again from the event loop, with a wait between tries that doubles up to a bound. */
static void listen_lost(Store *s, const char *reason) {
        char text[1400];
        int r;

        listen_close(s);
        s->listen_again_usec = !s->listen_again_usec                               ? LISTEN_AGAIN_FIRST_USEC
                               : s->listen_again_usec * 2 > LISTEN_AGAIN_LAST_USEC ? LISTEN_AGAIN_LAST_USEC
                                                                                   : s->listen_again_usec * 2;
        r = sd_event_add_time_relative(s->watch_event, &s->listen_again, CLOCK_MONOTONIC, s->listen_again_usec, 0,
                                       on_listen_again, s);
        if (r < 0) {
                StoreChangeFunc f = s->watch_func;
                void *ud = s->watch_userdata;
                snprintf(text, sizeof text, "%s; cannot LISTEN again: %s", reason, strerror(-r));
                watch_stop(s);
                f(ud, &(StoreChange) { .kind = STORE_CHANGE_LOST, .reason = text });
                return;
        }
        snprintf(text, sizeof text, "%s; listening again in %" PRIu64 " ms", reason, s->listen_again_usec / 1000);
        report(s, STORE_CHANGE_INTERRUPTED, text);
}

static int listen_open(Store *s, SmsError *e) {
        PGresult *res;
        int r;

        r = pg_connect(s->location, &s->listen_conn, e);
        if (r < 0)
                return r;
        res = PQexec(s->listen_conn, "LISTEN " CHANNEL);
        if (!res || PQresultStatus(res) != PGRES_COMMAND_OK || PQsetnonblocking(s->listen_conn, 1) < 0) {
                char reason[1024];
                r = sms_error_set(e, SMS_ERROR_FAILED, "cannot watch the site database: %s",
                                  pg_reason(s->listen_conn, reason, sizeof reason));
                PQclear(res);
                listen_close(s);
                return r;
        }
        PQclear(res);
        r = sd_event_add_io(s->watch_event, &s->listen_source, PQsocket(s->listen_conn), EPOLLIN, on_listen_ready, s);
        if (r < 0)
                listen_close(s);
        return r;
}

int pg_store_watch(Store *s, sd_event *event, StoreChangeFunc f, void *userdata, SmsError *e) {
        int r;

        watch_stop(s);
        if (!f)
                return 0;

        s->watch_event = sd_event_ref(event);
        r = listen_open(s, e);
        if (r < 0) {
                watch_stop(s);
                return r;
        }
        s->watch_func = f;
        s->watch_userdata = userdata;
        s->listen_again_usec = 0;
        return 0;
}
