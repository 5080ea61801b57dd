/* SPDX-License-Identifier: MIT */

/* store.h's functions: each calls the entry of the backend that opened its Store
 * (store-backend.h). */

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "smsprov/macro.h"
#include "store/store-backend.h"

static const StoreBackend *const backends[] = {
        &store_sqlite_backend,
        &store_postgresql_backend,
};

int store_open_host(const char *path, const char *site_code, const char *host, Store **ret, SmsError *e) {
        char name[256];

        if (!host || !*host) {
                if (gethostname(name, sizeof name - 1) < 0)
                        strcpy(name, "localhost");
                name[sizeof name - 1] = '\0';
                host = name;
        } else if (strlen(host) >= sizeof name)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "the host name %s is too long", host);
        for (size_t i = 0; i < ELEMENTSOF(backends); i++)
                if (backends[i]->handles(path))
                        return backends[i]->open(path, site_code, host, ret, e);
        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "no site database backend opens %s", path);
}

int store_open(const char *path, const char *site_code, Store **ret, SmsError *e) {
        return store_open_host(path, site_code, NULL, ret, e);
}

const char *store_host(const Store *s) {
        return STORE_BACKEND(s)->host(s);
}

Store *store_close(Store *s) {
        if (!s)
                return NULL;
        return STORE_BACKEND(s)->close(s);
}

int store_new_reader(const Store *writer, Store **ret) {
        return STORE_BACKEND(writer)->new_reader(writer, ret);
}

int store_reader_open(Store *reader, SmsError *e) {
        return STORE_BACKEND(reader)->reader_open(reader, e);
}

const char *store_site_code(const Store *s) {
        return STORE_BACKEND(s)->site_code(s);
}

const char *store_site_name(const Store *s) {
        return STORE_BACKEND(s)->site_name(s);
}

unsigned store_schema_version(const Store *s) {
        return STORE_BACKEND(s)->schema_version(s);
}

uint64_t store_generation(const Store *s) {
        return STORE_BACKEND(s)->generation(s);
}

/* Transactions nest flat: an inner begin and commit only count, so that an operation made of
 * several writes (a Create and the job it starts) is one transaction of the backend. An inner
 * rollback dooms the whole: the outermost commit then rolls back and fails. */
int store_begin(Store *s, SmsError *e) {
        StoreHead *h = (StoreHead *) s;
        int r;

        if (h->depth == 0) {
                r = h->backend->begin(s, e);
                if (r < 0)
                        return r;
                h->doomed = false;
        }
        h->depth++;
        return 0;
}

int store_commit(Store *s, SmsError *e) {
        StoreHead *h = (StoreHead *) s;

        if (h->depth == 0)
                return sms_error_set(e, SMS_ERROR_FAILED, "commit without a transaction");
        if (--h->depth > 0)
                return 0;
        if (h->doomed) {
                h->backend->rollback(s);
                return sms_error_set(e, SMS_ERROR_FAILED, "a part of the write failed; none of it was made");
        }
        return h->backend->commit(s, e);
}

void store_rollback(Store *s) {
        StoreHead *h = (StoreHead *) s;

        if (h->depth == 0)
                return;
        if (--h->depth > 0) {
                h->doomed = true;
                return;
        }
        h->backend->rollback(s);
}

int store_end(Store *s, int r, SmsError *e) {
        if (r < 0) {
                store_rollback(s);
                return r;
        }
        return store_commit(s, e);
}

bool store_in_transaction(const Store *s) {
        return ((const StoreHead *) s)->depth > 0;
}

int store_object_load(Store *s, const SmsClass *c, const char *key, SmsObject **ret, SmsError *e) {
        return STORE_BACKEND(s)->object_load(s, c, key, ret, e);
}

int store_object_class(Store *s, const SmsClass *base, const char *key, const SmsClass **ret, SmsError *e) {
        return STORE_BACKEND(s)->object_class(s, base, key, ret, e);
}

int store_object_insert(Store *s, SmsObject *o, SmsError *e) {
        return STORE_BACKEND(s)->object_insert(s, o, e);
}

int store_object_update(Store *s, const SmsObject *o, const size_t *indexes, size_t n, SmsError *e) {
        return STORE_BACKEND(s)->object_update(s, o, indexes, n, 0, NULL, e);
}

int store_object_update_guarded(Store *s, const SmsObject *o, const size_t *indexes, size_t n, size_t guard_index,
                                const CimValue *guard, SmsError *e) {
        return STORE_BACKEND(s)->object_update(s, o, indexes, n, guard_index, guard, e);
}

int store_object_delete(Store *s, const SmsClass *c, const char *key, SmsError *e) {
        return STORE_BACKEND(s)->object_delete(s, c, key, e);
}

int store_object_delete_all(Store *s, const SmsClass *c, int match_index, const CimValue *match, SmsError *e) {
        return STORE_BACKEND(s)->object_delete_all(s, c, match_index, match, e);
}

int store_object_enumerate(Store *s, const SmsClass *c, char ***ret_keys, const SmsClass ***ret_classes, size_t *ret_n, SmsError *e) {
        return STORE_BACKEND(s)->object_enumerate(s, c, ret_keys, ret_classes, ret_n, e);
}

size_t store_object_count(Store *s, const SmsClass *c) {
        return STORE_BACKEND(s)->object_count(s, c);
}

int store_query(Store *s, const WqlQuery *q, size_t max_rows, WqlRow **ret, size_t *ret_n, SmsError *e) {
        return STORE_BACKEND(s)->query(s, q, max_rows, ret, ret_n, e);
}

int store_query_page(Store *s, const WqlQuery *q, const StoreSortValue *after, size_t max_rows, WqlRow **ret, size_t *ret_n, StoreSortValue **ret_next, SmsError *e) {
        return STORE_BACKEND(s)->query_page(s, q, after, max_rows, ret, ret_n, ret_next, e);
}

int store_cursor_encode(const Store *s, const char *query, const StoreSortValue *v, size_t n, char **ret) {
        return STORE_BACKEND(s)->cursor_encode(s, query, v, n, ret);
}

int store_cursor_decode(const Store *s, const char *query, const char *cursor, size_t n_expected, StoreSortValue **ret, SmsError *e) {
        return STORE_BACKEND(s)->cursor_decode(s, query, cursor, n_expected, ret, e);
}

void store_set_query_budget(Store *s, uint64_t max_steps) {
        STORE_BACKEND(s)->set_query_budget(s, max_steps);
}

int store_status_message_add(Store *s, const StoreStatusMessage *m, int64_t *ret_record_id, SmsError *e) {
        return STORE_BACKEND(s)->status_message_add(s, m, ret_record_id, e);
}

int store_integrity_check(Store *s, SmsError *e) {
        return STORE_BACKEND(s)->integrity_check(s, e);
}

int store_job_insert(Store *s, const StoreJob *j, uint64_t *ret_id, SmsError *e) {
        return STORE_BACKEND(s)->job_insert(s, j, ret_id, e);
}

int store_job_update(Store *s, const StoreJob *j, SmsError *e) {
        return STORE_BACKEND(s)->job_update(s, j, e);
}

int store_jobs_renew(Store *s, uint64_t expires_usec, SmsError *e) {
        return STORE_BACKEND(s)->jobs_renew(s, expires_usec, e);
}

int store_job_hold(Store *s, uint64_t job_id, uint64_t expires_usec, SmsError *e) {
        return STORE_BACKEND(s)->job_hold(s, job_id, expires_usec, e);
}

int store_schedule_claim(Store *s, const char *package_id, uint64_t due_usec, SmsError *e) {
        return STORE_BACKEND(s)->schedule_claim(s, package_id, due_usec, e);
}

int store_jobs_fail_interrupted(Store *s, uint64_t now_usec, StoreInterruptedJob **ret, size_t *ret_n, SmsError *e) {
        return STORE_BACKEND(s)->jobs_fail(s, false, now_usec, ret, ret_n, e);
}

int store_jobs_fail_expired(Store *s, uint64_t now_usec, StoreInterruptedJob **ret, size_t *ret_n, SmsError *e) {
        return STORE_BACKEND(s)->jobs_fail(s, true, now_usec, ret, ret_n, e);
}

int store_lease_take(Store *s, const char *name, uint64_t job_id, uint64_t now_usec, SmsError *e) {
        return STORE_BACKEND(s)->lease_take(s, name, job_id, now_usec, e);
}

int store_lease_release(Store *s, uint64_t job_id, SmsError *e) {
        return STORE_BACKEND(s)->lease_release(s, job_id, e);
}

int store_context_status_set(Store *s, const char *context_id, uint32_t status, uint32_t progress, uint32_t max_progress, const char *text, int32_t error_code, const char *extended, SmsError *e) {
        return STORE_BACKEND(s)->context_status_set(s, context_id, status, progress, max_progress, text, error_code, extended, e);
}

int store_context_status_get(Store *s, const char *context_id, StoreContextStatus *ret, SmsError *e) {
        return STORE_BACKEND(s)->context_status_get(s, context_id, ret, e);
}

int store_context_status_delete(Store *s, const char *context_id, SmsError *e) {
        return STORE_BACKEND(s)->context_status_delete(s, context_id, e);
}

int store_watch(Store *s, sd_event *event, StoreChangeFunc f, void *userdata, SmsError *e) {
        return STORE_BACKEND(s)->watch(s, event, f, userdata, e);
}

void store_unwatch(Store *s) {
        (void) STORE_BACKEND(s)->watch(s, NULL, NULL, NULL, NULL);
}
