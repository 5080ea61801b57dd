/* SPDX-License-Identifier: MIT */

/* Opening the site database: pragmas, migrations, the site row. */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smsprov/macro.h"
#include "smsprov/nal-path.h"
#include "store/schema.h"
#include "store/store-internal.h"
#include "util/time-util.h"

int store_error(Store *s, int rc, SmsError *e, const char *what) {
        const char *msg = s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);

        switch (rc & 0xff) {
        case SQLITE_FULL:
                return sms_error_set(e, SMS_ERROR_OUT_OF_DISK_SPACE, "%s: site database: %s", what, msg);
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return sms_error_set(e, SMS_ERROR_BUSY, "%s: site database is locked by another process: %s", what,
                                     msg);
        case SQLITE_READONLY:
                return sms_error_set(e, SMS_ERROR_FAILED, "%s: site database is read-only: %s", what, msg);
        case SQLITE_NOMEM:
                return sms_error_set(e, SMS_ERROR_FAILED, "%s: out of memory", what);
        case SQLITE_CONSTRAINT:
                /* A row others refer to (a distribution point packages are assigned to): in use. */
                if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
                        return sms_error_set(e, SMS_ERROR_BUSY,
                                             "%s: other objects still refer to it (for a distribution point: the "
                                             "packages assigned to it; delete their SMS_DistributionPoint first)",
                                             what);
                return sms_error_set(e, SMS_ERROR_ALREADY_EXISTS, "%s: %s", what, msg);
        default:
                return sms_error_set(e, SMS_ERROR_FAILED, "%s: site database error: %s", what, msg);
        }
}

void sqlbuf_append(SqlBuf *b, const char *fmt, ...) {
        va_list ap;
        int n;

        if (b->oom)
                return;
        for (;;) {
                size_t room = b->cap - b->len;
                va_start(ap, fmt);
                n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
                va_end(ap);
                if (n < 0) {
                        b->oom = true;
                        return;
                }
                if (b->s && (size_t) n < room) {
                        b->len += (size_t) n;
                        return;
                }
                size_t cap = (b->cap + (size_t) n + 1) * 2;
                char *p = realloc(b->s, cap);
                if (!p) {
                        b->oom = true;
                        return;
                }
                b->s = p;
                b->cap = cap;
        }
}

void sqlbuf_append_identifier(SqlBuf *b, const char *name) {
        sqlbuf_append(b, "\"");
        for (const char *p = name; *p; p++)
                sqlbuf_append(b, *p == '"' ? "\"\"" : "%c", *p);
        sqlbuf_append(b, "\"");
}

size_t store_class_slot(const SmsClass *c) {
        size_t i = 0;
        for (const SmsClass *const *k = sms_model_classes(); *k; k++, i++)
                if (*k == c)
                        return i;
        return SIZE_MAX;
}

const char *store_class_table(const SmsClass *c) {
        return sms_class_root(c)->table;
}

const char *store_class_discriminator(const SmsClass *c) {
        return sms_class_root(c)->discriminator;
}

/* Draws n steps from the running query's budget; false once it is spent. */
static bool query_charge(Store *s, uint64_t n) {
        if (!s->query_running)
                return true;
        if (s->query_over_budget || n > s->query_steps_left) {
                s->query_steps_left = 0;
                s->query_over_budget = true;
                return false;
        }
        s->query_steps_left -= n;
        return true;
}

#define QUERY_PROGRESS_INTERVAL 1000
/* What one SQLite VM instruction costs in matcher steps: measured on the build machine, 100
 * million matcher steps took 0.3 s and an instruction of a scan with LIKE about 80 ns, so 16 keeps
 * either kind of work within about the same time for a given budget. */
#define QUERY_VM_STEP_WEIGHT 16

static int query_progress(void *userdata) {
        return !query_charge(userdata, QUERY_PROGRESS_INTERVAL * QUERY_VM_STEP_WEIGHT);
}

void sqlite_store_set_query_budget(Store *s, uint64_t max_steps) {
        s->query_max_steps = max_steps;
}

void store_query_begin(Store *s) {
        s->query_running = true;
        s->query_over_budget = false;
        s->query_steps_left = s->query_max_steps ? s->query_max_steps : STORE_DEFAULT_QUERY_STEPS;
        sqlite3_progress_handler(s->db, QUERY_PROGRESS_INTERVAL, query_progress, s);
}

int store_query_end(Store *s, int r, SmsError *e) {
        bool over = s->query_over_budget;
        uint64_t max = s->query_max_steps ? s->query_max_steps : STORE_DEFAULT_QUERY_STEPS;

        sqlite3_progress_handler(s->db, 0, NULL, NULL);
        s->query_running = false;
        s->query_over_budget = false;
        if (!over)
                return r;
        sms_error_clear(e);
        return sms_error_set(e, SMS_ERROR_LIMITS_EXCEEDED,
                             "the query needs more than %" PRIu64 " steps (--max-query-steps); narrow it with WHERE",
                             max);
}

static void like_destroy(void *p) {
        wql_like_free(p);
}

/* wql_like(pattern, text): WQL's LIKE, with [ ] sets that SQLite's LIKE lacks. The pattern is
 * compiled once per statement (it is a bound parameter, so SQLite keeps the auxiliary data for
 * as long as it does not change), and the matcher's steps count against the query's budget. */
static void sql_wql_like(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
        Store *s = sqlite3_user_data(ctx);
        const unsigned char *pattern = sqlite3_value_text(argv[0]);
        const unsigned char *text = sqlite3_value_text(argv[1]);
        WqlLike *l;
        uint64_t steps;
        bool matched;

        if (!pattern || !text || sqlite3_value_type(argv[1]) == SQLITE_NULL) {
                sqlite3_result_null(ctx);
                return;
        }

        l = sqlite3_get_auxdata(ctx, 0);
        if (!l) {
                if (strlen((const char *) pattern) > WQL_MAX_LIKE_PATTERN) {
                        sqlite3_result_error(ctx, "wql_like: pattern too long", -1);
                        return;
                }
                if (wql_like_compile((const char *) pattern, &l) < 0) {
                        sqlite3_result_error_nomem(ctx);
                        return;
                }
                matched = wql_like_exec(l, (const char *) text, &steps);
                /* SQLite owns it from here, and may free it at once */
                sqlite3_set_auxdata(ctx, 0, l, like_destroy);
        } else
                matched = wql_like_exec(l, (const char *) text, &steps);

        if (!query_charge(s, steps)) {
                sqlite3_result_error(ctx, "wql_like: the query's step budget is spent", -1);
                return;
        }
        sqlite3_result_int(ctx, matched);
}

static int exec(Store *s, const char *sql, SmsError *e) {
        char *err = NULL;
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, &err);
        if (rc != SQLITE_OK) {
                int r = store_error(s, rc, e, err ? err : "statement");
                sqlite3_free(err);
                return r;
        }
        return 0;
}

static int store_migrate(Store *s, SmsError *e) {
        sqlite3_stmt *st = NULL;
        unsigned version;
        int r;

        if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
            sqlite3_step(st) != SQLITE_ROW) {
                sqlite3_finalize(st);
                return store_error(s, sqlite3_errcode(s->db), e, "reading the schema version");
        }
        version = (unsigned) sqlite3_column_int(st, 0);
        sqlite3_finalize(st);

        if (version > schema_n_migrations)
                return sms_error_set(e, SMS_ERROR_FAILED,
                                     "the site database has schema version %u, but this smsprovd knows only "
                                     "versions up to %zu; refusing to touch it (use a newer smsprovd)",
                                     version, schema_n_migrations);

        for (; version < schema_n_migrations; version++) {
                char pragma[64];

                r = exec(s, "BEGIN IMMEDIATE", e);
                if (r < 0)
                        return r;
                r = exec(s, schema_migrations[version].sql, e);
                if (r >= 0) {
                        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %u", version + 1);
                        r = exec(s, pragma, e);
                }
                if (r >= 0)
                        r = exec(s, "COMMIT", e);
                if (r < 0) {
                        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                        return r;
                }
        }
        s->schema_version = version;
        return 0;
}

static int store_load_site(Store *s, const char *site_code, SmsError *e) {
        sqlite3_stmt *st = NULL;
        int rc, r = 0;

        rc = sqlite3_prepare_v2(s->db, "SELECT site_code, site_name FROM site WHERE id = 1", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, rc, e, "reading the site");
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                const char *stored = (const char *) sqlite3_column_text(st, 0);
                if (site_code && !streq(site_code, stored))
                        r = sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                          "the site database belongs to site %s, not %s; a site code is fixed "
                                          "when the database is created",
                                          stored, site_code);
                else {
                        s->site_code = strdup(stored);
                        s->site_name = strdup((const char *) sqlite3_column_text(st, 1));
                        if (!s->site_code || !s->site_name)
                                r = -ENOMEM;
                }
                sqlite3_finalize(st);
                return r;
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return store_error(s, rc, e, "reading the site");

        /* A new database: the site code is fixed now. */
        if (!site_code)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                     "a new site database needs a site code (--site-code=ABC)");
        if (!sms_site_code_valid(site_code))
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                     "site code '%s' is not 3 characters of A-Z and 0-9", site_code);

        rc = sqlite3_prepare_v2(s->db, "INSERT INTO site (id, site_code, site_name, created) VALUES (1, ?, ?, ?)",
                                -1, &st, NULL);
        if (rc == SQLITE_OK) {
                char name[64];
                snprintf(name, sizeof name, "Site %s", site_code);
                sqlite3_bind_text(st, 1, site_code, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64(st, 3, (sqlite3_int64) now_usec());
                rc = sqlite3_step(st);
                sqlite3_finalize(st);
                if (rc == SQLITE_DONE) {
                        s->site_code = strdup(site_code);
                        s->site_name = strdup(name);
                        return s->site_code && s->site_name ? 0 : -ENOMEM;
                }
        }
        return store_error(s, rc, e, "creating the site");
}

/* SMS_ProviderLocation and SMS_SystemResourceList name this host (schema/0007-site-systems.sql):
 * its name as gethostname() gives it now, written only when it changed (the host was renamed). */
static int store_record_machine(Store *s, SmsError *e) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(s->db,
                                    "INSERT INTO provider (id, Machine) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET "
                                    "Machine = excluded.Machine WHERE Machine <> excluded.Machine COLLATE BINARY",
                                    -1, &st, NULL);

        if (rc == SQLITE_OK)
                rc = sqlite3_bind_text(st, 1, s->machine_name, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : store_error(s, rc, e, "recording the provider's host name");
}

/* SQLite says only "unable to open database file" when the database, or the directory where its
 * journal goes, cannot be written: checked first, to name the cause. Returns 0 when writable. */
static int store_not_writable(const char *path, SmsError *e) {
        _cleanup_free_ char *dir = strdup(path);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        const char *file_or_dir = path;

        if (slash)
                *slash = 0;
        if (faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) == 0 || errno == ENOENT) {
                file_or_dir = slash ? dir : ".";
                if (faccessat(AT_FDCWD, file_or_dir, W_OK, AT_EACCESS) == 0)
                        return 0;
        }
        if (errno == EROFS)
                return sms_error_set(e, SMS_ERROR_FAILED, "the site database %s is on a read-only file system", path);
        if (errno == EACCES || errno == EPERM)
                return sms_error_set(e, SMS_ERROR_FAILED, "the site database %s is read-only: %s may not be written",
                                     path, file_or_dir);
        return 0;
}

int sqlite_store_open(const char *path, const char *site_code, const char *host, Store **ret, SmsError *e) {
        _cleanup_(store_closep) Store *s = NULL;
        int rc, r;

        r = store_open_check(site_code, e);
        if (r < 0)
                return r;

        s = calloc(1, sizeof(Store));
        if (!s)
                return -ENOMEM;
        s->head.backend = &store_sqlite_backend;
        s->path = strdup(path);
        if (!s->path)
                return -ENOMEM;
        snprintf(s->machine_name, sizeof s->machine_name, "%s", host);

        r = store_not_writable(path, e);
        if (r < 0)
                return r;
        rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, rc, e, path);
        sqlite3_extended_result_codes(s->db, 1);
        sqlite3_busy_timeout(s->db, (int) STORE_BUSY_TIMEOUT_MSEC);

        /* synchronous=FULL: a committed write survives a power cut too, not only a crash. */
        r = exec(s,
                 "PRAGMA journal_mode = WAL;"
                 "PRAGMA synchronous = FULL;"
                 "PRAGMA foreign_keys = ON;",
                 e);
        if (r < 0)
                return r;

        rc = sqlite3_create_function_v2(s->db, "wql_like", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, s,
                                        sql_wql_like, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, rc, e, "registering wql_like");

        r = store_migrate(s, e);
        if (r >= 0)
                r = store_load_site(s, site_code, e);
        if (r >= 0)
                r = store_record_machine(s, e);
        if (r >= 0)
                r = store_load_cursor_key(s, e);
        if (r < 0)
                return r;
        /* After the migrations, whose schema changes would make SQLite prepare it again. */
        rc = sqlite3_prepare_v3(s->db, "ROLLBACK", -1, SQLITE_PREPARE_PERSISTENT, &s->rollback_stmt, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, rc, e, "preparing ROLLBACK");

        *ret = TAKE_PTR(s);
        return 0;
}

int sqlite_store_new_reader(const Store *writer, Store **ret) {
        _cleanup_(store_closep) Store *s = NULL;

        s = calloc(1, sizeof(Store));
        if (!s)
                return -ENOMEM;
        s->head.backend = &store_sqlite_backend;
        s->site_code = strdup(writer->site_code);
        s->site_name = strdup(writer->site_name);
        s->path = strdup(writer->path);
        if (!s->site_code || !s->site_name || !s->path)
                return -ENOMEM;
        s->schema_version = writer->schema_version;
        s->query_max_steps = writer->query_max_steps;
        memcpy(s->cursor_key, writer->cursor_key, sizeof s->cursor_key);
        memcpy(s->machine_name, writer->machine_name, sizeof s->machine_name);
        *ret = TAKE_PTR(s);
        return 0;
}

int sqlite_store_reader_open(Store *s, SmsError *e) {
        int rc;

        assert(!s->db);

        /* WAL: a reader sees the last commit and never waits for the writer */
        rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, rc, e, s->path);
        sqlite3_extended_result_codes(s->db, 1);
        sqlite3_busy_timeout(s->db, (int) STORE_BUSY_TIMEOUT_MSEC);
        rc = sqlite3_create_function_v2(s->db, "wql_like", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, s, sql_wql_like,
                                        NULL, NULL, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, rc, e, "registering wql_like");
        return 0;
}

Store *sqlite_store_close(Store *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < STORE_MAX_CLASSES; i++)
                sqlite3_finalize(s->load_stmt[i]);
        sqlite3_finalize(s->rollback_stmt);
        if (s->in_transaction)
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close_v2(s->db);
        free(s->site_code);
        free(s->site_name);
        free(s->path);
        free(s);
        return NULL;
}

const char *sqlite_store_site_code(const Store *s) {
        return s->site_code;
}

const char *sqlite_store_site_name(const Store *s) {
        return s->site_name;
}

const char *sqlite_store_host(const Store *s) {
        return s->machine_name;
}

unsigned sqlite_store_schema_version(const Store *s) {
        return s->schema_version;
}

unsigned store_schema_version_known(void) {
        return (unsigned) schema_n_migrations;
}

uint64_t sqlite_store_generation(const Store *s) {
        return s->generation;
}

int sqlite_store_begin(Store *s, SmsError *e) {
        int r;

        if (s->in_transaction)
                return sms_error_set(e, SMS_ERROR_FAILED, "nested transaction");
        r = exec(s, "BEGIN IMMEDIATE", e);
        if (r < 0)
                return r;
        s->in_transaction = true;
        return 0;
}

int sqlite_store_commit(Store *s, SmsError *e) {
        int r;

        if (!s->in_transaction)
                return sms_error_set(e, SMS_ERROR_FAILED, "commit without a transaction");
        r = exec(s, "COMMIT", e);
        if (r < 0) {
                sqlite_store_rollback(s);
                return r;
        }
        s->in_transaction = false;
        s->generation++;
        return 0;
}

void sqlite_store_rollback(Store *s) {
        if (!s->in_transaction)
                return;
        /* A statement prepared now could fail for want of memory, and leave the transaction open
         * under a store that thinks it ended: every later BEGIN would fail, and this connection
         * would read the rows the failed write left. SQLite may have rolled back already (after
         * SQLITE_NOMEM or SQLITE_FULL in a statement). */
        if (!sqlite3_get_autocommit(s->db)) {
                sqlite3_step(s->rollback_stmt);
                sqlite3_reset(s->rollback_stmt);
        }
        s->in_transaction = false;
        /* Readers may have cached rows read inside the transaction. */
        s->generation++;
}

int sqlite_store_integrity_check(Store *s, SmsError *e) {
        sqlite3_stmt *st = NULL;
        int rc, r = 0;

        rc = sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, rc, e, "integrity check");
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                r = store_error(s, rc, e, "integrity check");
        else if (!streq((const char *) sqlite3_column_text(st, 0), "ok"))
                r = sms_error_set(e, SMS_ERROR_FAILED, "integrity check: %s", sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        return r;
}

/* One host writes an SQLite database: no other host's changes to watch. */
static int sqlite_store_watch(Store *s, sd_event *event, StoreChangeFunc f, void *userdata, SmsError *e) {
        return 0;
}

/* A path (no "scheme://"): a SQLite database file. */
static bool sqlite_store_handles(const char *location) {
        return !strstr(location, "://");
}

const StoreBackend store_sqlite_backend = {
        .name = "sqlite",
        .handles = sqlite_store_handles,
        .open = sqlite_store_open,
        .close = sqlite_store_close,
        .new_reader = sqlite_store_new_reader,
        .reader_open = sqlite_store_reader_open,
        .site_code = sqlite_store_site_code,
        .site_name = sqlite_store_site_name,
        .host = sqlite_store_host,
        .schema_version = sqlite_store_schema_version,
        .generation = sqlite_store_generation,
        .begin = sqlite_store_begin,
        .commit = sqlite_store_commit,
        .rollback = sqlite_store_rollback,
        .object_load = sqlite_store_object_load,
        .object_class = sqlite_store_object_class,
        .object_insert = sqlite_store_object_insert,
        .object_update = sqlite_store_object_update,
        .object_delete = sqlite_store_object_delete,
        .object_delete_all = sqlite_store_object_delete_all,
        .object_enumerate = sqlite_store_object_enumerate,
        .object_count = sqlite_store_object_count,
        .query = sqlite_store_query,
        .query_page = sqlite_store_query_page,
        .cursor_encode = sqlite_store_cursor_encode,
        .cursor_decode = sqlite_store_cursor_decode,
        .set_query_budget = sqlite_store_set_query_budget,
        .status_message_add = sqlite_store_status_message_add,
        .integrity_check = sqlite_store_integrity_check,
        .job_insert = sqlite_store_job_insert,
        .job_update = sqlite_store_job_update,
        .jobs_renew = sqlite_store_jobs_renew,
        .job_hold = sqlite_store_job_hold,
        .schedule_claim = sqlite_store_schedule_claim,
        .jobs_fail = sqlite_store_jobs_fail,
        .lease_take = sqlite_store_lease_take,
        .lease_release = sqlite_store_lease_release,
        .context_status_set = sqlite_store_context_status_set,
        .context_status_get = sqlite_store_context_status_get,
        .context_status_delete = sqlite_store_context_status_delete,
        .watch = sqlite_store_watch,
};
