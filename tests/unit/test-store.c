/* SPDX-License-Identifier: MIT */

/* store/ and the site engine, without a bus: migrations, the site code, PackageID allocation,
 * instances written and read back, audit rows, optimistic concurrency, locks, path confinement. */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "smsprov/macro.h"
#include "smsprov/site.h"
#include "smsprov/store.h"
#include "test-db.h"

typedef struct Fixture {
        char dir[64];
        char *database; /* NULL: SQLite in dir (test-db.h) */
        Site site;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        SmsError e = SMS_ERROR_NULL;
        char content[128];

        strcpy(f->dir, "/tmp/smsprov-store.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        f->database = test_db_new();
        if (site_open_at(&f->site, f->dir, f->database, "LAB", &e) < 0)
                fail_msg("site_open_at: %s", e.message);
        snprintf(content, sizeof content, "%s/content", f->dir);
        assert_int_equal(mkdir(content, 0755), 0);
        assert_int_equal(content_roots_add(&f->site.roots, content, &e), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[128];
        site_close(&f->site);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f->database);
        free(f);
        return 0;
}

static char *content_file(Fixture *f, const char *name) {
        char *path = NULL;
        assert_true(asprintf(&path, "%s/content/%s", f->dir, name) > 0);
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        close(fd);
        return path;
}

static SiteChange change_string(const SmsClass *c, const char *name, const char *value) {
        SiteChange ch = { .index = (size_t) sms_class_find_property(c, name) };
        assert_int_equal(cim_value_set_string(&ch.value, value), 0);
        return ch;
}

static SiteChange change_uint(const SmsClass *c, const char *name, uint64_t value) {
        size_t i = (size_t) sms_class_find_property(c, name);
        return (SiteChange) { .index = i, .value = cim_value_uint(c->all[i]->type, value) };
}

static char *create_boot_image(Fixture *f, const char *name) {
        const SmsClass *boot = sms_model_find_class("SMS_BootImagePackage");
        _cleanup_free_ char *wim = content_file(f, "boot.wim");
        SiteChange ch[2] = { change_string(boot, "Name", name), change_string(boot, "ImagePath", wim) };
        SiteCaller caller = { .uid = 1000 };
        SmsError e = SMS_ERROR_NULL;
        char *key = NULL;

        if (site_object_create(&f->site, boot, ch, 2, NULL, 0, &caller, &key, &e) < 0)
                fail_msg("create: %s", e.message);
        for (size_t i = 0; i < 2; i++)
                cim_value_clear(&ch[i].value);
        return key;
}

static const CimValue *value(const SmsObject *o, const char *name) {
        return &o->values[sms_class_find_property(o->class, name)];
}

static void test_create_and_load(void **state) {
        Fixture *f = *state;
        const SmsClass *boot = sms_model_find_class("SMS_BootImagePackage");
        _cleanup_free_ char *a = create_boot_image(f, "first");
        _cleanup_free_ char *b = create_boot_image(f, "second");
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        SmsError e = SMS_ERROR_NULL;

        assert_string_equal(a, "LAB00001");
        assert_string_equal(b, "LAB00002");
        assert_int_equal(site_object_load(&f->site, boot, a, &o, &e), 0);
        assert_string_equal(value(o, "Name")->str, "first");
        assert_int_equal(value(o, "PackageType")->u, 258);
        assert_string_equal(value(o, "SourceSite")->str, "LAB");
        assert_int_equal(value(o, "SourceVersion")->u, 1);
        assert_int_equal(value(o, "ScratchSpace")->u, 512);
        assert_int_equal(value(o, "Priority")->u, 2);
        assert_true(value(o, "SourceDate")->u > 0);
        assert_int_equal(strlen(value(o, "SedoObjectVersion")->str), 36);
        assert_true(value(o, "Description")->null);

        /* Keys are found without regard to case, and reported as stored. */
        _cleanup_(sms_object_freep) SmsObject *lower = NULL;
        assert_int_equal(site_object_load(&f->site, boot, "lab00001", &lower, &e), 0);
        assert_string_equal(lower->key, "LAB00001");

        /* The wrong class does not find it. */
        SmsObject *none = NULL;
        assert_int_equal(site_object_load(&f->site, sms_model_find_class("SMS_ImagePackage"), a, &none, &e), -ENOENT);
        assert_int_equal(e.code, SMS_ERROR_NOT_FOUND);
        sms_error_clear(&e);
        const SmsClass *found = NULL;
        assert_int_equal(store_object_class(f->site.store, sms_model_find_class("SMS_PackageBaseclass"), b, &found, &e), 0);
        assert_ptr_equal(found, boot);
        assert_int_equal(store_object_class(f->site.store, sms_model_find_class("SMS_PackageBaseclass"), "LAB99999", &found,
                                            &e),
                         -ENOENT);
        assert_int_equal(e.code, SMS_ERROR_NOT_FOUND);
        sms_error_clear(&e);
}

static void test_put_semantics(void **state) {
        Fixture *f = *state;
        const SmsClass *boot = sms_model_find_class("SMS_BootImagePackage");
        _cleanup_free_ char *key = create_boot_image(f, "put");
        _cleanup_(sms_object_freep) SmsObject *before = NULL, *after = NULL;
        _cleanup_free_ size_t *changed = NULL;
        size_t n_changed = 0;
        SiteCaller caller = { .uid = 0 };
        SmsError e = SMS_ERROR_NULL;

        assert_int_equal(site_object_load(&f->site, boot, key, &before, &e), 0);
        SiteChange ch[3] = {
                change_string(boot, "SedoObjectVersion", value(before, "SedoObjectVersion")->str),
                change_string(boot, "Description", "new"),
                change_uint(boot, "ScratchSpace", 512), /* unchanged: not reported */
        };
        assert_int_equal(site_object_put(&f->site, boot, key, ch, 3, &caller, &changed, &n_changed, &e), 0);
        assert_int_equal(n_changed, 2); /* Description and SedoObjectVersion */
        assert_int_equal(site_object_load(&f->site, boot, key, &after, &e), 0);
        assert_string_equal(value(after, "Description")->str, "new");
        assert_string_not_equal(value(after, "SedoObjectVersion")->str, value(before, "SedoObjectVersion")->str);
        for (size_t i = 0; i < 3; i++)
                cim_value_clear(&ch[i].value);

        /* The old version is stale now. */
        SiteChange stale[2] = { change_string(boot, "SedoObjectVersion", value(before, "SedoObjectVersion")->str),
                                change_string(boot, "Description", "lost") };
        assert_true(site_object_put(&f->site, boot, key, stale, 2, &caller, NULL, NULL, &e) < 0);
        assert_int_equal(e.code, SMS_ERROR_VERSION_MISMATCH);
        sms_error_clear(&e);
        for (size_t i = 0; i < 2; i++)
                cim_value_clear(&stale[i].value);

        /* Read-only and key properties. */
        SiteChange ro = change_uint(boot, "SourceVersion", 7);
        assert_true(site_object_put(&f->site, boot, key, &ro, 1, &caller, NULL, NULL, &e) < 0);
        assert_int_equal(e.code, SMS_ERROR_READ_ONLY);
        sms_error_clear(&e);
        SiteChange id = change_string(boot, "PackageID", "LAB00099");
        assert_true(site_object_put(&f->site, boot, key, &id, 1, &caller, NULL, NULL, &e) < 0);
        assert_int_equal(e.code, SMS_ERROR_READ_ONLY);
        sms_error_clear(&e);
        cim_value_clear(&id.value);

        /* A schedule needs PkgSourceFlag 2. */
        SmsScheduleToken *token = calloc(1, sizeof(SmsScheduleToken));
        sms_schedule_token_init(token, SMS_ST_RECUR_INTERVAL);
        token->day_span = 1;
        SiteChange sched = { .index = (size_t) sms_class_find_property(boot, "RefreshSchedule"),
                             .value = { .type = CIM_SCHEDULE_ARRAY, .schedule = { token, 1 } } };
        assert_true(site_object_put(&f->site, boot, key, &sched, 1, &caller, NULL, NULL, &e) < 0);
        assert_int_equal(e.code, SMS_ERROR_VALUE_OUT_OF_RANGE);
        sms_error_clear(&e);
        cim_value_clear(&sched.value);
}

static void test_lock_and_delete(void **state) {
        Fixture *f = *state;
        const SmsClass *boot = sms_model_find_class("SMS_BootImagePackage");
        _cleanup_free_ char *key = create_boot_image(f, "lock");
        SiteCaller caller = { .uid = 0 };
        SmsError e = SMS_ERROR_NULL;

        assert_int_equal(site_package_set_source_site(&f->site, boot, key, "CAS", &caller, NULL, NULL, &e), 0);
        SiteChange d = change_string(boot, "Description", "x");
        assert_true(site_object_put(&f->site, boot, key, &d, 1, &caller, NULL, NULL, &e) < 0);
        assert_int_equal(e.code, SMS_ERROR_LOCKED);
        sms_error_clear(&e);
        assert_true(site_object_delete(&f->site, boot, key, &caller, &e) < 0);
        assert_int_equal(e.code, SMS_ERROR_LOCKED);
        sms_error_clear(&e);
        assert_true(site_package_set_source_site(&f->site, boot, key, "cas", &caller, NULL, NULL, &e) < 0);
        assert_int_equal(e.code, SMS_ERROR_INVALID_PARAMETER);
        sms_error_clear(&e);
        assert_int_equal(site_package_set_source_site(&f->site, boot, key, "LAB", &caller, NULL, NULL, &e), 0);
        assert_int_equal(site_object_put(&f->site, boot, key, &d, 1, &caller, NULL, NULL, &e), 0);
        cim_value_clear(&d.value);
        assert_int_equal(site_object_delete(&f->site, boot, key, &caller, &e), 0);
        assert_true(site_object_delete(&f->site, boot, key, &caller, &e) < 0);
        assert_int_equal(e.code, SMS_ERROR_NOT_FOUND);
        sms_error_clear(&e);
}

static void test_audit_trail(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *key = create_boot_image(f, "audited");
        _cleanup_(wql_query_freep) WqlQuery *q = NULL;
        WqlRow *rows = NULL;
        size_t n = 0;
        SmsError e = SMS_ERROR_NULL;
        char text[256];

        snprintf(text, sizeof text,
                 "SELECT Description, UserUID, MessageID, Time FROM SMS_StatusMessage WHERE InsStrings = '%s'", key);
        if (site_query(&f->site, text, &q, &rows, &n, &e) < 0)
                fail_msg("query: %s", e.message);
        assert_int_equal(n, 1);
        assert_int_equal(q->n_columns, 4);
        assert_non_null(strstr(rows[0].values[0].str, "created SMS_BootImagePackage"));
        assert_int_equal(rows[0].values[1].u, 1000);
        assert_int_equal(rows[0].values[2].u, 30000);
        assert_true(rows[0].values[3].u > 0);
        wql_rows_free(rows, n, q->n_columns);
}

static int query_count(Fixture *f, const char *text, size_t *ret_n, SmsError *e) {
        _cleanup_(wql_query_freep) WqlQuery *q = NULL;
        WqlRow *rows = NULL;
        int r;

        r = site_query(&f->site, text, &q, &rows, ret_n, e);
        if (r >= 0)
                wql_rows_free(rows, *ret_n, q->n_columns);
        return r;
}

/* A query that would do more work than the budget ends with LimitsExceeded naming the option,
 * changes nothing, and leaves the store answering queries and writes afterwards. */
static void test_query_budget(void **state) {
        /* PostgreSQL's budget is a time limit: whether so small a query passes it is a question of
         * the machine's speed, which no test may depend on. Skipped first: skip() leaves the
         * function without running its cleanups. */
        if (test_db_postgresql())
                skip();

        Fixture *f = *state;
        _cleanup_free_ char *a = create_boot_image(f, "first"), *b = create_boot_image(f, "second"), *heavy = NULL,
                            *c = NULL;
        SmsError e = SMS_ERROR_NULL;
        assert_non_null(a);
        assert_non_null(b);
        size_t n = 0;

        /* a set of 4,093 members: that many steps for each code point of every Name */
        _cleanup_free_ char *pattern = malloc(WQL_MAX_LIKE_PATTERN + 1);
        assert_non_null(pattern);
        memset(pattern, 'b', WQL_MAX_LIKE_PATTERN);
        memcpy(pattern, "%[", 2);
        pattern[WQL_MAX_LIKE_PATTERN - 1] = ']';
        pattern[WQL_MAX_LIKE_PATTERN] = 0;
        assert_true(asprintf(&heavy, "SELECT PackageID FROM SMS_BootImagePackage WHERE Name LIKE '%s'", pattern) > 0);

        /* within the default budget it answers */
        if (query_count(f, heavy, &n, &e) < 0)
                fail_msg("heavy query within the default budget: %s", e.message);
        assert_int_equal(n, 0);

        store_set_query_budget(f->site.store, 10000);
        assert_int_equal(query_count(f, heavy, &n, &e), sms_error_code_to_errno(SMS_ERROR_LIMITS_EXCEEDED));
        assert_int_equal(e.code, SMS_ERROR_LIMITS_EXCEEDED);
        if (!strstr(e.message, "--max-query-steps"))
                fail_msg("expected the message to name --max-query-steps, got \"%s\"", e.message);
        sms_error_clear(&e);

        /* a light query still fits the small budget, and a write goes through after */
        if (query_count(f, "SELECT PackageID FROM SMS_BootImagePackage WHERE Name LIKE 'f%'", &n, &e) < 0)
                fail_msg("light query: %s", e.message);
        assert_int_equal(n, 1);
        c = create_boot_image(f, "third");
        store_set_query_budget(f->site.store, 0);
        if (query_count(f, heavy, &n, &e) < 0)
                fail_msg("heavy query after the default budget is back: %s", e.message);
        assert_int_equal(n, 0);
}

static void test_path_confinement(void **state) {
        Fixture *f = *state;
        SmsError e = SMS_ERROR_NULL;
        char path[512];
        _cleanup_free_ char *file = content_file(f, "ok.wim");

        assert_int_equal(content_roots_resolve(&f->site.roots, file, PATH_KIND_FILE, NULL, &e), 0);

        static const struct {
                const char *rel; /* below the fixture dir; NULL = absolute as given */
                const char *abs;
                SmsErrorCode code;
        } cases[] = {
                { NULL, "relative/path", SMS_ERROR_INVALID_PARAMETER },
                { NULL, "/etc/passwd", SMS_ERROR_PATH_NOT_ALLOWED },
                { "content/../site.db", NULL, SMS_ERROR_PATH_NOT_ALLOWED },
                { "content/abs-link", NULL, SMS_ERROR_PATH_NOT_ALLOWED },
                { "content/rel-link", NULL, SMS_ERROR_PATH_NOT_ALLOWED },
                { "content/inner-link", NULL, SMS_ERROR_NONE },
                { "content/fifo", NULL, SMS_ERROR_INVALID_PARAMETER },
                { "content/dir", NULL, SMS_ERROR_INVALID_PARAMETER },
                { "content/missing.wim", NULL, SMS_ERROR_INVALID_PARAMETER },
                { "content/bad\x01name", NULL, SMS_ERROR_INVALID_PARAMETER },
                { NULL, "/proc/self/root/etc/passwd", SMS_ERROR_PATH_NOT_ALLOWED },
        };
        snprintf(path, sizeof path, "%s/content/abs-link", f->dir);
        assert_int_equal(symlink("/etc/passwd", path), 0);
        snprintf(path, sizeof path, "%s/content/rel-link", f->dir);
        assert_int_equal(symlink("../site.db", path), 0);
        snprintf(path, sizeof path, "%s/content/inner-link", f->dir);
        assert_int_equal(symlink("ok.wim", path), 0);
        snprintf(path, sizeof path, "%s/content/fifo", f->dir);
        assert_int_equal(mkfifo(path, 0644), 0);
        snprintf(path, sizeof path, "%s/content/dir", f->dir);
        assert_int_equal(mkdir(path, 0755), 0);

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                if (cases[i].rel)
                        snprintf(path, sizeof path, "%s/%s", f->dir, cases[i].rel);
                else
                        snprintf(path, sizeof path, "%s", cases[i].abs);
                int r = content_roots_resolve(&f->site.roots, path, PATH_KIND_FILE, NULL, &e);
                if (cases[i].code == SMS_ERROR_NONE)
                        assert_int_equal(r, 0);
                else if (r >= 0 || e.code != cases[i].code)
                        fail_msg("%s: want %s, got %s (%s)", path, sms_error_code_to_name(cases[i].code),
                                 sms_error_code_to_name(e.code), e.message ? e.message : "");
                sms_error_clear(&e);
        }

        /* A directory where a directory is meant, and a 4 KiB component. */
        snprintf(path, sizeof path, "%s/content/dir", f->dir);
        assert_int_equal(content_roots_resolve(&f->site.roots, path, PATH_KIND_DIRECTORY, NULL, &e), 0);
        char *long_path = malloc(4200);
        int len = snprintf(long_path, 4200, "%s/content/", f->dir);
        memset(long_path + len, 'x', 4096);
        long_path[len + 4096] = 0;
        assert_true(content_roots_resolve(&f->site.roots, long_path, PATH_KIND_FILE, NULL, &e) < 0);
        assert_int_equal(e.code, SMS_ERROR_INVALID_PARAMETER);
        sms_error_clear(&e);
        free(long_path);
}

/* The file system lookups are a step of their own (site_changes_check_paths()): what it found is
 * not looked up again by the create, which runs on another thread in the daemon; what it was not
 * given is looked up by the create itself. A path it refuses leaves the change unmarked. */
static void test_path_lookups_step(void **state) {
        Fixture *f = *state;
        const SmsClass *boot = sms_model_find_class("SMS_BootImagePackage");
        _cleanup_free_ char *wim = content_file(f, "checked.wim"), *key = NULL, *key2 = NULL;
        SiteCaller caller = { .uid = 1000 };
        SmsError e = SMS_ERROR_NULL;
        SiteChange ch[2] = { change_string(boot, "Name", "checked"), change_string(boot, "ImagePath", wim) };

        assert_false(site_changes_have_paths(boot, ch, 1));
        assert_true(site_changes_have_paths(boot, ch, 2));
        assert_int_equal(site_changes_check_paths(&f->site, boot, ch, 2, &e), 0);
        assert_true(ch[1].path_checked);
        /* Gone after the lookup: the create trusts the step and does not look again. */
        assert_int_equal(unlink(wim), 0);
        assert_int_equal(site_object_create(&f->site, boot, ch, 2, NULL, 0, &caller, &key, &e), 0);
        for (size_t i = 0; i < 2; i++)
                cim_value_clear(&ch[i].value);

        /* Not looked up before: the create does it, and refuses the missing file. */
        SiteChange again[2] = { change_string(boot, "Name", "unchecked"), change_string(boot, "ImagePath", wim) };
        assert_true(site_object_create(&f->site, boot, again, 2, NULL, 0, &caller, &key2, &e) < 0);
        assert_int_equal(e.code, SMS_ERROR_INVALID_PARAMETER);
        sms_error_clear(&e);

        /* The step refuses it too, and marks nothing. */
        assert_true(site_changes_check_paths(&f->site, boot, again, 2, &e) < 0);
        assert_int_equal(e.code, SMS_ERROR_INVALID_PARAMETER);
        assert_false(again[1].path_checked);
        sms_error_clear(&e);
        for (size_t i = 0; i < 2; i++)
                cim_value_clear(&again[i].value);
}

static void test_reopen_and_site_code(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *key = create_boot_image(f, "reopen");
        SmsError e = SMS_ERROR_NULL;
        assert_non_null(key);
        Site other;
        char db[128];

        site_close(&f->site);
        /* Another site code: refused. No site code: the stored one. */
        assert_true(site_open_at(&other, f->dir, f->database, "XYZ", &e) < 0);
        assert_non_null(strstr(e.message, "belongs to site LAB"));
        sms_error_clear(&e);
        assert_int_equal(site_open_at(&f->site, f->dir, f->database, NULL, &e), 0);
        assert_string_equal(store_site_code(f->site.store), "LAB");
        assert_int_equal(store_schema_version(f->site.store), store_schema_version_known());
        assert_int_equal(store_integrity_check(f->site.store, &e), 0);
        assert_int_equal(store_object_count(f->site.store, sms_model_find_class("SMS_PackageBaseclass")), 1);
        site_close(&f->site);

        /* A database from the future is refused, untouched. */
        char restore[128];
        if (f->database) {
                test_db_exec(f->database, "INSERT INTO schema_version (version, name, applied) VALUES (42, 'x', 0)");
                snprintf(restore, sizeof restore, "DELETE FROM schema_version WHERE version = 42");
        } else {
                snprintf(db, sizeof db, "%s/site.db", f->dir);
                sqlite3 *raw;
                assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
                assert_int_equal(sqlite3_exec(raw, "PRAGMA user_version = 42", NULL, NULL, NULL), SQLITE_OK);
                sqlite3_close(raw);
        }
        assert_true(site_open_at(&other, f->dir, f->database, "LAB", &e) < 0);
        assert_non_null(strstr(e.message, "schema version 42"));
        sms_error_clear(&e);
        if (f->database)
                test_db_exec(f->database, restore);
        else {
                sqlite3 *raw;
                assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
                snprintf(restore, sizeof restore, "PRAGMA user_version = %u", store_schema_version_known());
                assert_int_equal(sqlite3_exec(raw, restore, NULL, NULL, NULL), SQLITE_OK);
                sqlite3_close(raw);
        }
        assert_int_equal(site_open_at(&f->site, f->dir, f->database, "LAB", &e), 0);

        /* A new database without a site code cannot be created. */
        char fresh[128];
        _cleanup_free_ char *fresh_database = test_db_new();
        snprintf(fresh, sizeof fresh, "%s/fresh", f->dir);
        assert_true(site_open_at(&other, fresh, fresh_database, NULL, &e) < 0);
        sms_error_clear(&e);
        assert_true(site_open_at(&other, fresh, fresh_database, "ab", &e) < 0);
        sms_error_clear(&e);
}

/* Transactions nest flat: the inner ones only count; an inner rollback takes the whole back. */
static void test_nested_transactions(void **state) {
        Fixture *f = *state;
        const SmsClass *base = sms_model_find_class("SMS_PackageBaseclass");
        SmsError e = SMS_ERROR_NULL;

        /* An inner commit commits nothing: the outer rollback takes its object back. */
        assert_int_equal(store_begin(f->site.store, &e), 0);
        assert_int_equal(store_begin(f->site.store, &e), 0);
        free(create_boot_image(f, "inner"));
        assert_int_equal(store_commit(f->site.store, &e), 0);
        assert_true(store_in_transaction(f->site.store));
        assert_int_equal(store_object_count(f->site.store, base), 1);
        store_rollback(f->site.store);
        assert_false(store_in_transaction(f->site.store));
        assert_int_equal(store_object_count(f->site.store, base), 0);

        /* An inner rollback dooms the outer transaction: its commit fails and keeps nothing. */
        assert_int_equal(store_begin(f->site.store, &e), 0);
        free(create_boot_image(f, "first"));
        assert_int_equal(store_begin(f->site.store, &e), 0);
        store_rollback(f->site.store);
        assert_int_equal(store_commit(f->site.store, &e), -EIO);
        assert_int_equal(e.code, SMS_ERROR_FAILED);
        sms_error_clear(&e);
        assert_false(store_in_transaction(f->site.store));
        assert_int_equal(store_object_count(f->site.store, base), 0);

        /* store_end() commits a success and rolls back a failure; the outermost commit is kept. */
        assert_int_equal(store_begin(f->site.store, &e), 0);
        free(create_boot_image(f, "kept"));
        assert_int_equal(store_end(f->site.store, 0, &e), 0);
        assert_int_equal(store_object_count(f->site.store, base), 1);
        assert_int_equal(store_begin(f->site.store, &e), 0);
        free(create_boot_image(f, "dropped"));
        assert_int_equal(store_end(f->site.store, -ENOSPC, &e), -ENOSPC);
        assert_int_equal(store_object_count(f->site.store, base), 1);
        assert_int_equal(store_commit(f->site.store, &e), -EIO);
        sms_error_clear(&e);
}

/* SMS_ProviderLocation names the host as it is when the daemon starts: a database that recorded
 * another name (the host was renamed, or the database moved) names this host after a reopen. On
 * SQLite (one host) the old name goes; a PostgreSQL site is shared by several hosts, and each is
 * listed under the name it last started with. */
static void test_provider_names_this_host(void **state) {
        Fixture *f = *state;
        const SmsClass *c = sms_model_find_class("SMS_ProviderLocation");
        _cleanup_free_ char *key = NULL, *old_key = NULL;
        SmsError e = SMS_ERROR_NULL;
        char host[256] = "", db[128];
        SmsObject *o = NULL;

        assert_int_equal(gethostname(host, sizeof host - 1), 0);
        assert_true(asprintf(&key, "Machine=\"%s\",SiteCode=\"LAB\"", host) > 0);
        assert_true(asprintf(&old_key, "Machine=\"%s\",SiteCode=\"LAB\"", "old-name") > 0);
        assert_int_equal(store_object_count(f->site.store, c), 1);

        site_close(&f->site);
        if (f->database)
                test_db_exec(f->database, "UPDATE provider SET \"Machine\" = 'old-name'");
        else {
                sqlite3 *raw;
                snprintf(db, sizeof db, "%s/site.db", f->dir);
                assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
                assert_int_equal(sqlite3_exec(raw, "UPDATE provider SET Machine = 'old-name'", NULL, NULL, NULL),
                                 SQLITE_OK);
                sqlite3_close(raw);
        }
        assert_int_equal(site_open_at(&f->site, f->dir, f->database, "LAB", &e), 0);

        if (f->database) {
                assert_int_equal(store_object_count(f->site.store, c), 2);
                assert_int_equal(store_object_load(f->site.store, c, old_key, &o, &e), 0);
                o = sms_object_free(o);
        } else {
                assert_int_equal(store_object_count(f->site.store, c), 1);
                assert_int_equal(store_object_load(f->site.store, c, old_key, &o, &e), -ENOENT);
                sms_error_clear(&e);
        }
        assert_int_equal(store_object_load(f->site.store, c, key, &o, &e), 0);
        assert_string_equal(sms_object_string(o, "Machine"), host);
        assert_string_equal(sms_object_string(o, "SiteCode"), "LAB");
        sms_object_free(o);
}

/* SedoObjectVersion is checked inside the UPDATE: a writer that read the row before another
 * wrote it (two hosts of one site database) is VersionMismatch and writes nothing, however late
 * it comes to write. */
static void test_update_guarded_by_version(void **state) {
        Fixture *f = *state;
        const SmsClass *boot = sms_model_find_class("SMS_BootImagePackage");
        _cleanup_free_ char *key = create_boot_image(f, "guarded");
        _cleanup_(sms_object_freep) SmsObject *stale = NULL, *now = NULL;
        SiteCaller caller = { .uid = 0 };
        SmsError e = SMS_ERROR_NULL;
        size_t sedo = (size_t) sms_class_find_property(boot, "SedoObjectVersion");
        size_t description = (size_t) sms_class_find_property(boot, "Description");
        CimValue read_version = {};

        /* Read by one writer; then another writes. */
        assert_int_equal(site_object_load(&f->site, boot, key, &stale, &e), 0);
        assert_int_equal(cim_value_copy(&read_version, &stale->values[sedo]), 0);
        SiteChange first = change_string(boot, "Description", "first");
        assert_int_equal(site_object_put(&f->site, boot, key, &first, 1, &caller, NULL, NULL, &e), 0);
        cim_value_clear(&first.value);

        /* The first writer comes to write what it read. */
        cim_value_clear(&stale->values[description]);
        assert_int_equal(cim_value_set_string(&stale->values[description], "lost"), 0);
        assert_int_equal(store_begin(f->site.store, &e), 0);
        assert_true(store_object_update_guarded(f->site.store, stale, &description, 1, sedo, &read_version, &e) < 0);
        assert_int_equal(e.code, SMS_ERROR_VERSION_MISMATCH);
        sms_error_clear(&e);
        store_rollback(f->site.store);
        assert_int_equal(site_object_load(&f->site, boot, key, &now, &e), 0);
        assert_string_equal(value(now, "Description")->str, "first");

        /* With the version as it is now, the write is made. */
        assert_int_equal(store_begin(f->site.store, &e), 0);
        assert_int_equal(store_object_update_guarded(f->site.store, stale, &description, 1, sedo, &now->values[sedo], &e),
                         0);
        assert_int_equal(store_commit(f->site.store, &e), 0);
        cim_value_clear(&read_version);
}

/* --- two hosts on one site database ------------------------------------------------------------- */

typedef struct Recorder {
        char *events[16];
        size_t n;
} Recorder;

static void record(Recorder *r, const char *what, const SmsClass *c, const char *key, const char *property) {
        assert_true(r->n < ELEMENTSOF(r->events));
        assert_true(asprintf(&r->events[r->n++], "%s %s %s%s%s", what, c->name, key, property ? " " : "",
                             property ? property : "") > 0);
}

static void on_added(void *ud, const SmsClass *c, const char *key) {
        record(ud, "added", c, key, NULL);
}

static void on_changed(void *ud, const SmsClass *c, const char *key, const size_t *changed, size_t n) {
        for (size_t i = 0; i < n; i++)
                record(ud, "changed", c, key, c->all[changed[i]]->name);
}

static void on_removed(void *ud, const SmsClass *c, const char *key) {
        record(ud, "removed", c, key, NULL);
}

static const SiteObserver recording_observer = {
        .object_added = on_added,
        .object_changed = on_changed,
        .object_removed = on_removed,
};

/* A second host of the fixture's site, watching it from a loop of its own. */
typedef struct Host {
        Site site;
        sd_event *event;
        Recorder rec;
} Host;

static void host_watch(Host *h, Site *site) {
        SmsError e = SMS_ERROR_NULL;

        assert_int_equal(sd_event_new(&h->event), 0);
        site->event = h->event;
        site->observer = &recording_observer;
        site->observer_data = &h->rec;
        if (site_watch_start(site, &e) < 0)
                fail_msg("site_watch_start: %s", e.message);
}

/* Runs the host's loop until it has recorded n events: each comes as its socket turns readable. */
static void host_wait(Host *h, size_t n) {
        while (h->rec.n < n)
                assert_true(sd_event_run(h->event, 300ULL * 1000000ULL) > 0);
}

static void host_done(Host *h, Site *site) {
        site_watch_stop(site);
        site->event = NULL;
        sd_event_unref(h->event);
        for (size_t i = 0; i < h->rec.n; i++)
                free(h->rec.events[i]);
}

/* What one host commits reaches the other's observer, added, changed (the properties written)
 * and removed; a host is never told of its own writes. On SQLite one host writes the database:
 * there is nothing to watch, and the test has nothing to show. */
static void test_other_hosts_changes(void **state) {
        Fixture *f = *state;
        const SmsClass *boot = sms_model_find_class("SMS_BootImagePackage");
        SiteCaller caller = { .uid = 0 };
        SmsError e = SMS_ERROR_NULL;
        Host a = {}, b = {};
        char expect[128];

        if (!f->database) {
                assert_int_equal(store_watch(f->site.store, NULL, NULL, NULL, &e), 0);
                return;
        }
        if (site_open_at(&b.site, f->dir, f->database, NULL, &e) < 0)
                fail_msg("site_open_at: %s", e.message);
        host_watch(&a, &f->site);
        host_watch(&b, &b.site);

        /* Host a creates (its own write), host b hears of it. */
        _cleanup_free_ char *key = create_boot_image(f, "two hosts");
        host_wait(&b, 1);
        snprintf(expect, sizeof expect, "added SMS_BootImagePackage %s", key);
        assert_string_equal(b.rec.events[0], expect);

        /* Host b changes it: what host a hears first is that, not its own create, which the
         * database delivered to it before (notifications come in commit order). */
        SiteChange ch = change_string(boot, "Description", "from b");
        assert_int_equal(site_object_put(&b.site, boot, key, &ch, 1, &caller, NULL, NULL, &e), 0);
        cim_value_clear(&ch.value);
        host_wait(&a, 1);
        assert_non_null(strstr(a.rec.events[0], "changed SMS_BootImagePackage "));
        host_wait(&a, 2);
        snprintf(expect, sizeof expect, "changed SMS_BootImagePackage %s Description", key);
        assert_string_equal(a.rec.events[0], expect);
        snprintf(expect, sizeof expect, "changed SMS_BootImagePackage %s SedoObjectVersion", key);
        assert_string_equal(a.rec.events[1], expect);

        /* Host a deletes it; host b hears that after what it heard before. */
        assert_int_equal(site_object_delete(&f->site, boot, key, &caller, &e), 0);
        host_wait(&b, 2);
        snprintf(expect, sizeof expect, "removed SMS_BootImagePackage %s", key);
        assert_string_equal(b.rec.events[1], expect);

        host_done(&a, &f->site);
        host_done(&b, &b.site);
        site_close(&b.site);
}

/* Jobs carry their host and a lease (two hosts on one database: this fixture's store and one
 * opened as host-b). A host renews only its own jobs' leases, fails only its own interrupted
 * jobs, and fails another host's jobs once their lease ran out; a lease row of a job whose lease
 * ran out, or that ended, is taken over. */
static uint64_t insert_job(Store *s, const char *target, uint64_t lease_expires) {
        StoreJob j = { .operation = "UpdateImage", .target = target, .context_id = "", .state = 1,
                       .submit_usec = 1, .lease_expires_usec = lease_expires };
        SmsError e = SMS_ERROR_NULL;
        uint64_t id = 0;

        assert_int_equal(store_job_insert(s, &j, &id, &e), 0);
        return id;
}

static void assert_failed(Store *s, bool expired, uint64_t now, const uint64_t *ids, size_t n, const char *host) {
        StoreInterruptedJob *jobs = NULL;
        SmsError e = SMS_ERROR_NULL;
        size_t n_jobs = 0;

        assert_int_equal((expired ? store_jobs_fail_expired : store_jobs_fail_interrupted)(s, now, &jobs, &n_jobs, &e),
                         0);
        assert_int_equal(n_jobs, n);
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(jobs[i].id, ids[i]);
                assert_string_equal(jobs[i].host, host);
        }
        store_interrupted_jobs_free(jobs, n_jobs);
}

static void test_job_leases_across_hosts(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *db = NULL;
        Store *a = f->site.store, *b = NULL;
        SmsError e = SMS_ERROR_NULL;
        uint64_t now = 1000000000000000ULL, hour = 3600ULL * 1000000ULL;

        assert_true(asprintf(&db, "%s/site.db", f->dir) > 0);
        assert_int_equal(store_open_host(f->database ? f->database : db, "LAB", "host-b", &b, &e), 0);
        assert_string_equal(store_host(b), "host-b");
        assert_string_not_equal(store_host(a), "host-b");

        /* Every lease has run out by `now`: b renews its own, a's stays as it was. */
        uint64_t a1 = insert_job(a, "SMS_BootImagePackage.LAB00001", now - 1);
        uint64_t b1 = insert_job(b, "SMS_BootImagePackage.LAB00002", now - 1);
        uint64_t b2 = insert_job(b, "SMS_BootImagePackage.LAB00003", now - 1);
        assert_int_equal(store_jobs_renew(b, now + hour, &e), 0);
        assert_failed(a, true, now, NULL, 0, NULL);
        /* A job of b whose lease has run out (b did not renew it) is failed by a, naming b… */
        uint64_t b3 = insert_job(b, "SMS_BootImagePackage.LAB00004", now - 1);
        assert_failed(a, true, now, (uint64_t[]) { b3 }, 1, "host-b");
        /* b, were it only frozen, finds on waking that b3 is no longer its own (its outcome is
         * dropped); a job of b's that still runs is, and only b holds it. */
        assert_int_equal(store_job_hold(b, b3, now + hour, &e), 0);
        assert_int_equal(store_job_hold(b, b1, now + hour, &e), 1);
        assert_int_equal(store_job_hold(a, b1, now + hour, &e), 0);
        /* …and a's own job is never a's to fail for its lease, only when a restarts. */
        assert_failed(b, true, now, (uint64_t[]) { a1 }, 1, store_host(a));

        /* A restart of b fails b's jobs (b1, b2; b3 has failed already), not a's. */
        uint64_t a2 = insert_job(a, "SMS_BootImagePackage.LAB00005", now + hour);
        assert_failed(b, false, now, (uint64_t[]) { b1, b2 }, 2, "host-b");
        assert_failed(a, false, now, (uint64_t[]) { a2 }, 1, store_host(a));

        /* The lease rows: a's running job holds "pkg"; b is Busy, named after a, until a's lease
         * has run out; then b takes it over. */
        uint64_t a3 = insert_job(a, "SMS_BootImagePackage.LAB00006", now + hour);
        uint64_t b4 = insert_job(b, "SMS_BootImagePackage.LAB00006", now + hour);
        assert_int_equal(store_lease_take(a, "pkg", a3, now, &e), 0);
        assert_int_equal(store_lease_take(b, "pkg", b4, now, &e), -EBUSY);
        assert_int_equal(e.code, SMS_ERROR_BUSY);
        assert_non_null(strstr(e.message, store_host(a)));
        sms_error_clear(&e);
        assert_int_equal(store_lease_take(b, "pkg", b4, now + 2 * hour, &e), 0);
        /* Now b's (its lease holds): a is Busy; once b's job ends or b releases it, it is free. */
        uint64_t a4 = insert_job(a, "SMS_BootImagePackage.LAB00006", now + hour);
        assert_int_equal(store_lease_take(a, "pkg", a4, now, &e), -EBUSY);
        sms_error_clear(&e);
        StoreJob ended = { .id = b4, .state = 2 };
        assert_int_equal(store_job_update(b, &ended, &e), 0);
        assert_int_equal(store_lease_take(a, "pkg", a4, now, &e), 0);
        assert_int_equal(store_lease_release(a, a4, &e), 0);
        assert_int_equal(store_lease_take(b, "pkg", b1, now, &e), 0);

        /* An occurrence of a RefreshSchedule is refreshed by one host: the first that claims it.
         * A later one is anyone's again; an earlier one no one's. */
        _cleanup_free_ char *scheduled = create_boot_image(f, "scheduled");
        assert_non_null(scheduled);
        assert_int_equal(store_schedule_claim(a, scheduled, now, &e), 1);
        assert_int_equal(store_schedule_claim(b, scheduled, now, &e), 0);
        assert_int_equal(store_schedule_claim(b, scheduled, now + hour, &e), 1);
        assert_int_equal(store_schedule_claim(a, scheduled, now + hour, &e), 0);
        assert_int_equal(store_schedule_claim(a, scheduled, now, &e), 0);

        store_close(b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_create_and_load, setup, teardown),
                cmocka_unit_test_setup_teardown(test_put_semantics, setup, teardown),
                cmocka_unit_test_setup_teardown(test_lock_and_delete, setup, teardown),
                cmocka_unit_test_setup_teardown(test_audit_trail, setup, teardown),
                cmocka_unit_test_setup_teardown(test_query_budget, setup, teardown),
                cmocka_unit_test_setup_teardown(test_path_confinement, setup, teardown),
                cmocka_unit_test_setup_teardown(test_path_lookups_step, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reopen_and_site_code, setup, teardown),
                cmocka_unit_test_setup_teardown(test_nested_transactions, setup, teardown),
                cmocka_unit_test_setup_teardown(test_provider_names_this_host, setup, teardown),
                cmocka_unit_test_setup_teardown(test_update_guarded_by_version, setup, teardown),
                cmocka_unit_test_setup_teardown(test_other_hosts_changes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_job_leases_across_hosts, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
