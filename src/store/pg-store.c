/* SPDX-License-Identifier: MIT */

/* The PostgreSQL backend (pg-internal.h): connecting, migrations under an advisory lock, the site
 * row, transactions, statements and their errors. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "smsprov/macro.h"
#include "store/pg-internal.h"
#include "store/schema.h"
#include "util/time-util.h"

#define BYTEA_OID 17
/* pg_advisory_xact_lock() keys: "smsp" and what the lock guards. */
#define LOCK_MIGRATE INT64_C(0x736d737000000001)
#define LOCK_WRITE INT64_C(0x736d737000000002)

/* --- parameters -------------------------------------------------------------------------------- */

void pg_params_done(PgParams *p) {
        for (size_t i = 0; i < p->n; i++)
                free(p->values[i]);
        free(p->values);
        free(p->lengths);
        free(p->formats);
        free(p->types);
        *p = (PgParams) {};
}

/* Takes value (may be NULL for SQL NULL; a failed allocation is remembered in p->oom). */
static void params_take(PgParams *p, char *value, int length, int format, Oid type) {
        if (p->oom || p->n >= p->cap) {
                size_t cap = p->cap ? p->cap * 2 : 16;
                char **v = p->oom ? NULL : reallocarray(p->values, cap, sizeof(char *));
                if (v)
                        p->values = v;
                int *l = v ? reallocarray(p->lengths, cap, sizeof(int)) : NULL;
                if (l)
                        p->lengths = l;
                int *f = l ? reallocarray(p->formats, cap, sizeof(int)) : NULL;
                if (f)
                        p->formats = f;
                Oid *t = f ? reallocarray(p->types, cap, sizeof(Oid)) : NULL;
                if (t)
                        p->types = t;
                if (!t) {
                        p->oom = true;
                        free(value);
                        return;
                }
                p->cap = cap;
        }
        p->values[p->n] = value;
        p->lengths[p->n] = length;
        p->formats[p->n] = format;
        p->types[p->n] = type;
        p->n++;
}

void pg_params_add_text(PgParams *p, const char *text) {
        char *copy = text ? strdup(text) : NULL;
        if (text && !copy)
                p->oom = true;
        params_take(p, copy, 0, 0, 0);
}

void pg_params_add_int(PgParams *p, int64_t i) {
        char *text = NULL;
        if (asprintf(&text, "%" PRId64, i) < 0) {
                p->oom = true;
                text = NULL;
        }
        params_take(p, text, 0, 0, 0);
}

void pg_params_add_blob(PgParams *p, const void *data, size_t size) {
        char *copy = malloc(size ? size : 1);
        if (!copy || size > INT32_MAX)
                p->oom = true;
        else if (size)
                memcpy(copy, data, size);
        params_take(p, copy, (int) size, 1, BYTEA_OID);
}

bool pg_params_add_value(PgParams *p, const CimValue *v) {
        char *text = NULL;
        int r;

        if (v->null || (cim_type_is_array(v->type) && cim_value_array_length(v) == 0)) {
                params_take(p, NULL, 0, 0, 0);
                return true;
        }
        switch (v->type) {
        case CIM_STRING:
                pg_params_add_text(p, v->str);
                return true;
        case CIM_BOOLEAN:
                pg_params_add_int(p, v->b ? 1 : 0);
                return true;
        case CIM_UINT8:
        case CIM_UINT32:
        case CIM_UINT64:
        case CIM_DATETIME:
                /* UInt64 values above INT64_MAX keep their bit pattern, as on SQLite. */
                pg_params_add_int(p, (int64_t) v->u);
                return true;
        case CIM_SINT32:
        case CIM_SINT64:
                pg_params_add_int(p, v->i);
                return true;
        case CIM_UINT8_ARRAY:
                pg_params_add_blob(p, v->bytes.data, v->bytes.n);
                return true;
        default:
                r = store_value_encode_text(v, &text);
                if (r == -ENOMEM)
                        p->oom = true;
                else if (r < 0)
                        return false;
                params_take(p, text, 0, 0, 0);
                return true;
        }
}

int pg_params_add_key(PgParams *p, const SmsClass *c, const char *key) {
        CimValue values[SMS_MAX_KEYS];
        int r;

        r = sms_class_key_parse(c, key, values, NULL);
        for (size_t k = 0; k < c->n_keys; k++) {
                if (r >= 0)
                        pg_params_add_value(p, &values[k]);
                else
                        params_take(p, NULL, 0, 0, 0);
                cim_value_clear(&values[k]);
        }
        return r == -ENOMEM || p->oom ? -ENOMEM : 0;
}

/* --- statements and errors --------------------------------------------------------------------- */

int pg_error(Store *s, const PGresult *res, SmsError *e, const char *what) {
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

        if (s)
                snprintf(s->last_sqlstate, sizeof s->last_sqlstate, "%s", state ? state : "");
        if (!msg)
                msg = s && s->conn ? PQerrorMessage(s->conn) : "out of memory";
        if (s && s->conn && PQstatus(s->conn) != CONNECTION_OK) {
                char reason[1024];
                return sms_error_set(e, SMS_ERROR_FAILED,
                                     "%s: the connection to the site database is lost (the next call connects "
                                     "again): %s",
                                     what, pg_reason(s->conn, reason, sizeof reason));
        }
        if (!state)
                return sms_error_set(e, SMS_ERROR_FAILED, "%s: site database error: %s", what, msg);
        if (streq(state, "53100"))
                return sms_error_set(e, SMS_ERROR_OUT_OF_DISK_SPACE, "%s: site database: %s", what, msg);
        if (streq(state, "40001") || streq(state, "40P01") || streq(state, "55P03"))
                return sms_error_set(e, SMS_ERROR_BUSY, "%s: site database is busy: %s", what, msg);
        if (streq(state, "23503"))
                /* A row others refer to (a distribution point packages are assigned to): in use. */
                return sms_error_set(e, SMS_ERROR_BUSY,
                                     "%s: other objects still refer to it (for a distribution point: the packages "
                                     "assigned to it; delete their SMS_DistributionPoint first)",
                                     what);
        if (strncmp(state, "23", 2) == 0)
                return sms_error_set(e, SMS_ERROR_ALREADY_EXISTS, "%s: %s", what, msg);
        return sms_error_set(e, SMS_ERROR_FAILED, "%s: site database error: %s", what, msg);
}

int pg_exec(Store *s, const char *sql, const PgParams *p, PGresult **ret, SmsError *e, const char *what) {
        PGresult *res;
        ExecStatusType status;
        int r;

        if (p && p->oom)
                return -ENOMEM;
        r = pg_connection_check(s, e);
        if (r < 0)
                return r;
        if (p && p->n > 0)
                res = PQexecParams(s->conn, sql, (int) p->n, p->types, (const char *const *) p->values, p->lengths,
                                   p->formats, 0);
        else
                res = PQexecParams(s->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
        status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
                r = pg_error(s, res, e, what);
                PQclear(res);
                return r;
        }
        if (ret)
                *ret = res;
        else
                PQclear(res);
        return 0;
}

int pg_exec_sqlbuf(Store *s, SqlBuf *b, const PgParams *p, PGresult **ret, SmsError *e, const char *what) {
        int r = b->oom ? -ENOMEM : pg_exec(s, b->s, p, ret, e, what);

        free(b->s);
        *b = (SqlBuf) { .dollar_params = true };
        return r;
}

int64_t pg_get_int(const PGresult *res, int row, int column) {
        return strtoll(PQgetvalue(res, row, column), NULL, 10);
}

int pg_read_value(const PGresult *res, int row, int column, CimType type, CimValue *ret) {
        StoreColumnValue c = { .null = PQgetisnull(res, row, column) };
        unsigned char *blob = NULL;
        int r;

        if (c.null)
                ;
        else if (store_type_is_integer(type))
                c.i = pg_get_int(res, row, column);
        else if (type == CIM_UINT8_ARRAY) {
                blob = PQunescapeBytea((const unsigned char *) PQgetvalue(res, row, column), &c.size);
                if (!blob) {
                        *ret = cim_value_null(type);
                        return -ENOMEM;
                }
                c.blob = blob;
        } else
                c.text = PQgetvalue(res, row, column);
        r = store_value_decode(&c, type, ret);
        PQfreemem(blob);
        return r;
}

/* --- opening ------------------------------------------------------------------------------------ */

void pg_notice_ignore(void *userdata, const char *message) {
}

static int load_site(Store *s, const char *site_code, SmsError *e) {
        _cleanup_(pg_clearp) PGresult *res = NULL;
        _cleanup_(pg_params_done) PgParams p = {};
        char name[64];
        int r;

        r = pg_exec(s, "SELECT site_code, site_name FROM site WHERE id = 1", NULL, &res, e, "reading the site");
        if (r < 0)
                return r;
        if (PQntuples(res) == 1) {
                const char *stored = PQgetvalue(res, 0, 0);
                if (site_code && !streq(site_code, stored))
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                             "the site database belongs to site %s, not %s; a site code is fixed "
                                             "when the database is created",
                                             stored, site_code);
                s->site_code = strdup(stored);
                s->site_name = strdup(PQgetvalue(res, 0, 1));
                return s->site_code && s->site_name ? 0 : -ENOMEM;
        }

        /* A new database: the site code is fixed now. */
        if (!site_code)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                     "a new site database needs a site code (--site-code=ABC)");
        snprintf(name, sizeof name, "Site %s", site_code);
        pg_params_add_text(&p, site_code);
        pg_params_add_text(&p, name);
        pg_params_add_int(&p, (int64_t) now_usec());
        r = pg_exec(s, "INSERT INTO site (id, site_code, site_name, created) VALUES (1, $1, $2, $3)", &p, NULL, e,
                    "creating the site");
        if (r < 0)
                return r;
        s->site_code = strdup(site_code);
        s->site_name = strdup(name);
        return s->site_code && s->site_name ? 0 : -ENOMEM;
}

/* This host among the site's providers (SMS_ProviderLocation); a host renamed is listed under
 * its new name too. */
static int record_machine(Store *s, SmsError *e) {
        _cleanup_(pg_params_done) PgParams p = {};

        pg_params_add_text(&p, s->machine_name);
        return pg_exec(s, "INSERT INTO provider (\"Machine\") VALUES ($1) ON CONFLICT DO NOTHING", &p, NULL, e,
                       "recording the provider's host name");
}

/* Reads (or, the first time, makes and stores) the site's cursor key. */
static int load_cursor_key(Store *s, SmsError *e) {
        _cleanup_(pg_clearp) PGresult *res = NULL;
        _cleanup_(pg_params_done) PgParams p = {};
        int r;

        r = pg_exec(s, "SELECT secret FROM query_cursor_key WHERE id = 1", NULL, &res, e, "reading the cursor key");
        if (r < 0)
                return r;
        if (PQntuples(res) == 1) {
                size_t n = 0;
                unsigned char *key = PQunescapeBytea((const unsigned char *) PQgetvalue(res, 0, 0), &n);
                if (!key)
                        return -ENOMEM;
                if (n == STORE_CURSOR_KEY_SIZE)
                        memcpy(s->cursor_key, key, n);
                PQfreemem(key);
                return n == STORE_CURSOR_KEY_SIZE
                               ? 0
                               : sms_error_set(e, SMS_ERROR_FAILED, "reading the cursor key: it is damaged");
        }
        if (getrandom(s->cursor_key, sizeof s->cursor_key, 0) != (ssize_t) sizeof s->cursor_key)
                return sms_error_set_errno(e, errno ? errno : EIO, "Failed to make the cursor key");
        pg_params_add_blob(&p, s->cursor_key, sizeof s->cursor_key);
        return pg_exec(s, "INSERT INTO query_cursor_key (id, secret) VALUES (1, $1)", &p, NULL, e,
                       "storing the cursor key");
}

/* The pending migrations, the site row and the cursor key, in one transaction under the
 * migration lock: a second host starting at the same time waits, then finds everything done. */
static int migrate_locked(Store *s, const char *site_code, SmsError *e) {
        _cleanup_(pg_clearp) PGresult *res = NULL;
        unsigned version;
        int r;

        r = pg_exec(s,
                    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                    "applied BIGINT NOT NULL)",
                    NULL, NULL, e, "creating the schema_version table");
        if (r < 0)
                return r;
        r = pg_exec(s, "SELECT coalesce(max(version), 0) FROM schema_version", NULL, &res, e,
                    "reading the schema version");
        if (r < 0)
                return r;
        version = (unsigned) pg_get_int(res, 0, 0);
        if (version > schema_postgresql_n_migrations)
                return sms_error_set(e, SMS_ERROR_FAILED,
                                     "the site database has schema version %u, but this smsprovd knows only "
                                     "versions up to %zu; refusing to touch it (use a newer smsprovd)",
                                     version, schema_postgresql_n_migrations);

        for (; version < schema_postgresql_n_migrations; version++) {
                const SchemaMigration *m = &schema_postgresql_migrations[version];
                _cleanup_(pg_params_done) PgParams p = {};
                PGresult *applied;

                if (!m->sql)
                        return sms_error_set(e, SMS_ERROR_FAILED,
                                             "migration %s has no PostgreSQL text in this build (schema/postgresql/)",
                                             m->name);
                /* PQexec: a migration is several statements */
                applied = PQexec(s->conn, m->sql);
                if (!applied || PQresultStatus(applied) != PGRES_COMMAND_OK) {
                        r = pg_error(s, applied, e, m->name);
                        PQclear(applied);
                        return r;
                }
                PQclear(applied);
                pg_params_add_int(&p, version + 1);
                pg_params_add_text(&p, m->name);
                pg_params_add_int(&p, (int64_t) now_usec());
                r = pg_exec(s, "INSERT INTO schema_version (version, name, applied) VALUES ($1, $2, $3)", &p, NULL, e,
                            "recording a migration");
                if (r < 0)
                        return r;
        }
        s->schema_version = version;

        r = load_site(s, site_code, e);
        if (r < 0)
                return r;
        r = record_machine(s, e);
        if (r < 0)
                return r;
        return load_cursor_key(s, e);
}

static int migrate(Store *s, const char *site_code, SmsError *e) {
        char lock[96];
        int r;

        snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%" PRId64 ")", LOCK_MIGRATE);
        r = pg_exec(s, "BEGIN", NULL, NULL, e, "starting the migrations");
        if (r < 0)
                return r;
        r = pg_exec(s, lock, NULL, NULL, e, "waiting for the migration lock");
        if (r >= 0)
                r = migrate_locked(s, site_code, e);
        if (r >= 0)
                r = pg_exec(s, "COMMIT", NULL, NULL, e, "committing the migrations");
        if (r < 0)
                PQclear(PQexec(s->conn, "ROLLBACK"));
        return r;
}

static Store *pg_store_close(Store *s) {
        if (!s)
                return NULL;
        (void) pg_store_watch(s, NULL, NULL, NULL, NULL);
        PQfinish(s->conn);
        free(s->location);
        free(s->site_code);
        free(s->site_name);
        free(s);
        return NULL;
}

static int pg_store_open(const char *location, const char *site_code, const char *host, Store **ret, SmsError *e) {
        _cleanup_(store_closep) Store *s = NULL;
        int r;

        r = store_open_check(site_code, e);
        if (r < 0)
                return r;

        s = calloc(1, sizeof(Store));
        if (!s)
                return -ENOMEM;
        s->head.backend = &store_postgresql_backend;
        s->location = strdup(location);
        if (!s->location)
                return -ENOMEM;
        snprintf(s->machine_name, sizeof s->machine_name, "%s", host);

        r = pg_connect(s->location, &s->conn, e);
        if (r < 0)
                return r;
        r = migrate(s, site_code, e);
        /* The server went away while the migrations ran: as unreachable as before them. */
        if (r < 0 && PQstatus(s->conn) != CONNECTION_OK)
                return -ENOTCONN;
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

static int pg_store_new_reader(const Store *writer, Store **ret) {
        _cleanup_(store_closep) Store *s = NULL;

        s = calloc(1, sizeof(Store));
        if (!s)
                return -ENOMEM;
        s->head.backend = &store_postgresql_backend;
        s->location = strdup(writer->location);
        s->site_code = strdup(writer->site_code);
        s->site_name = strdup(writer->site_name);
        if (!s->location || !s->site_code || !s->site_name)
                return -ENOMEM;
        s->schema_version = writer->schema_version;
        s->query_max_steps = writer->query_max_steps;
        memcpy(s->cursor_key, writer->cursor_key, sizeof s->cursor_key);
        memcpy(s->machine_name, writer->machine_name, sizeof s->machine_name);
        *ret = TAKE_PTR(s);
        return 0;
}

static int pg_store_reader_open(Store *s, SmsError *e) {
        assert(!s->conn);
        return pg_connect(s->location, &s->conn, e);
}

static const char *pg_store_site_code(const Store *s) {
        return s->site_code;
}

static const char *pg_store_site_name(const Store *s) {
        return s->site_name;
}

static const char *pg_store_host(const Store *s) {
        return s->machine_name;
}

static unsigned pg_store_schema_version(const Store *s) {
        return s->schema_version;
}

static uint64_t pg_store_generation(const Store *s) {
        return s->generation;
}

/* --- transactions ------------------------------------------------------------------------------ */

/* BEGIN and the site's write lock, as SQLite's BEGIN IMMEDIATE: writes of all hosts take turns. */
static int pg_store_begin(Store *s, SmsError *e) {
        char sql[96], timeout[64];
        int r;

        if (s->in_transaction)
                return sms_error_set(e, SMS_ERROR_FAILED, "nested transaction");
        snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%" PRId64 ")", LOCK_WRITE);
        r = pg_exec(s, "BEGIN", NULL, NULL, e, "starting a write");
        /* SQLite's busy timeout: a write that waits longer is Busy (lock_not_available) */
        if (r >= 0) {
                snprintf(timeout, sizeof timeout, "SET LOCAL lock_timeout = %u", STORE_BUSY_TIMEOUT_MSEC);
                r = pg_exec(s, timeout, NULL, NULL, e, "starting a write");
        }
        if (r >= 0)
                r = pg_exec(s, sql, NULL, NULL, e, "waiting for the site's write lock");
        if (r < 0) {
                PQclear(PQexec(s->conn, "ROLLBACK"));
                return r;
        }
        s->in_transaction = true;
        return 0;
}

static void pg_store_rollback(Store *s) {
        if (!s->in_transaction)
                return;
        PQclear(PQexec(s->conn, "ROLLBACK"));
        s->in_transaction = false;
        s->generation++;
}

static int pg_store_commit(Store *s, SmsError *e) {
        _cleanup_(pg_clearp) PGresult *res = NULL;
        int r;

        if (!s->in_transaction)
                return sms_error_set(e, SMS_ERROR_FAILED, "commit without a transaction");
        r = pg_exec(s, "COMMIT", NULL, &res, e, "committing");
        /* COMMIT of a transaction a failed statement aborted answers ROLLBACK */
        if (r >= 0 && !streq(PQcmdStatus(res), "COMMIT"))
                r = sms_error_set(e, SMS_ERROR_FAILED, "committing: a statement of the write failed; none of it was made");
        if (r < 0) {
                pg_store_rollback(s);
                return r;
        }
        s->in_transaction = false;
        s->generation++;
        return 0;
}

static void pg_store_set_query_budget(Store *s, uint64_t max_steps) {
        s->query_max_steps = max_steps;
}

/* PostgreSQL checks its own pages (data checksums, amcheck); what the daemon can ask is whether
 * the database answers. */
static int pg_store_integrity_check(Store *s, SmsError *e) {
        return pg_exec(s, "SELECT 1 FROM site WHERE id = 1", NULL, NULL, e, "integrity check");
}

static int pg_store_status_message_add(Store *s, const StoreStatusMessage *m, int64_t *ret_record_id, SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        int r;

        r = store_status_message_object(m, s->site_code, s->machine_name, &o);
        if (r < 0)
                return r;
        r = pg_store_object_insert(s, o, e);
        if (r < 0)
                return r;
        if (ret_record_id)
                *ret_record_id = o->values[o->class->key_index].i;
        return 0;
}

static int pg_store_cursor_encode(const Store *s, const char *query, const StoreSortValue *v, size_t n, char **ret) {
        return store_cursor_encode_key(s->cursor_key, query, v, n, ret);
}

static int pg_store_cursor_decode(const Store *s, const char *query, const char *cursor, size_t n_expected,
                                  StoreSortValue **ret, SmsError *e) {
        return store_cursor_decode_key(s->cursor_key, query, cursor, n_expected, ret, e);
}

static bool pg_store_handles(const char *location) {
        return strncmp(location, "postgresql://", 13) == 0 || strncmp(location, "postgres://", 11) == 0;
}

const StoreBackend store_postgresql_backend = {
        .name = "postgresql",
        .handles = pg_store_handles,
        .open = pg_store_open,
        .close = pg_store_close,
        .new_reader = pg_store_new_reader,
        .reader_open = pg_store_reader_open,
        .site_code = pg_store_site_code,
        .site_name = pg_store_site_name,
        .host = pg_store_host,
        .schema_version = pg_store_schema_version,
        .generation = pg_store_generation,
        .begin = pg_store_begin,
        .commit = pg_store_commit,
        .rollback = pg_store_rollback,
        .object_load = pg_store_object_load,
        .object_class = pg_store_object_class,
        .object_insert = pg_store_object_insert,
        .object_update = pg_store_object_update,
        .object_delete = pg_store_object_delete,
        .object_delete_all = pg_store_object_delete_all,
        .object_enumerate = pg_store_object_enumerate,
        .object_count = pg_store_object_count,
        .query = pg_store_query,
        .query_page = pg_store_query_page,
        .cursor_encode = pg_store_cursor_encode,
        .cursor_decode = pg_store_cursor_decode,
        .set_query_budget = pg_store_set_query_budget,
        .status_message_add = pg_store_status_message_add,
        .integrity_check = pg_store_integrity_check,
        .job_insert = pg_store_job_insert,
        .job_update = pg_store_job_update,
        .jobs_renew = pg_store_jobs_renew,
        .job_hold = pg_store_job_hold,
        .schedule_claim = pg_store_schedule_claim,
        .jobs_fail = pg_store_jobs_fail,
        .lease_take = pg_store_lease_take,
        .lease_release = pg_store_lease_release,
        .context_status_set = pg_store_context_status_set,
        .context_status_get = pg_store_context_status_get,
        .context_status_delete = pg_store_context_status_delete,
        .watch = pg_store_watch,
};
