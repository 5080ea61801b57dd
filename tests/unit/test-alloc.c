/* SPDX-License-Identifier: MIT */

/* Allocation failures in the site engine (issue 12 §6), the SQLite and wimlib way: each operation
 * runs with its Nth allocation failing, for N = 1, 2, 3, … until a run needs no failure. After
 * every run that failed the operation must have returned an error, the site database must hold
 * every row of every table as before, no file may have appeared or gone under the state directory,
 * and the store must take a write transaction again. Each N runs twice: with only the Nth
 * allocation failing, and with every allocation from the Nth on failing (memory that does not come
 * back, where even a ROLLBACK cannot be prepared). Under AddressSanitizer a leak on any of these
 * paths fails the test that made it.
 *
 * The allocator of the core library's code is wrapped at link time (meson.build passes
 * -Wl,--wrap=malloc,… for this program only), SQLite's is replaced through sqlite3_config()
 * before its first use, with lookaside off so that every allocation of SQLite goes through it. */

#include <dirent.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
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

/* --- the failing allocator ------------------------------------------------------------------- */

/* No operation here starts a thread, so the state needs no lock. */
static struct {
        bool armed;
        bool persistent;       /* once one allocation failed, every later one fails too */
        uint64_t countdown;    /* allocations left until the one that fails */
        uint64_t n_injected;   /* failures injected since armed */
        uint64_t n_allocations; /* allocations seen since armed */
        void *stack[32];        /* the call stack of the first allocation that failed */
        int stack_depth;
} fault;

static void fault_arm(uint64_t n, bool persistent) {
        fault = (typeof(fault)) { .armed = true, .persistent = persistent, .countdown = n };
}

/* Prints where the allocation that failed was made (addr2line -e test-alloc turns the offsets
 * into lines). */
static void fault_print_stack(void) {
        fprintf(stderr, "The allocation that failed was made at:\n");
        backtrace_symbols_fd(fault.stack, fault.stack_depth, STDERR_FILENO);
}

/* Returns whether a failure was injected since fault_arm(). */
static bool fault_disarm(void) {
        fault.armed = false;
        return fault.n_injected > 0;
}

static bool fault_fail_now(void) {
        if (!fault.armed)
                return false;
        fault.n_allocations++;
        if (fault.n_injected > 0 && fault.persistent) {
                fault.n_injected++;
                return true;
        }
        if (fault.countdown == 0 || --fault.countdown > 0)
                return false;
        fault.n_injected++;
        /* where the first one failed, for the message of a test that fails */
        fault.stack_depth = backtrace(fault.stack, ELEMENTSOF(fault.stack));
        return true;
}

#define FAIL_WITH_ENOMEM(value)                                                                    \
        do {                                                                                       \
                if (fault_fail_now()) {                                                            \
                        errno = ENOMEM;                                                            \
                        return value;                                                              \
                }                                                                                  \
        } while (0)

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__real_reallocarray(void *p, size_t n, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_vasprintf(char **ret, const char *fmt, va_list ap);
char *__real_realpath(const char *path, char *resolved);
DIR *__real_opendir(const char *path);
DIR *__real_fdopendir(int fd);
FILE *__real_open_memstream(char **ret, size_t *ret_size);

void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
void *__wrap_reallocarray(void *p, size_t n, size_t size);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_vasprintf(char **ret, const char *fmt, va_list ap) _printf_(2, 0);
int __wrap_asprintf(char **ret, const char *fmt, ...) _printf_(2, 3);
char *__wrap_realpath(const char *path, char *resolved);
DIR *__wrap_opendir(const char *path);
DIR *__wrap_fdopendir(int fd);
FILE *__wrap_open_memstream(char **ret, size_t *ret_size);

void *__wrap_malloc(size_t size) {
        FAIL_WITH_ENOMEM(NULL);
        return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size) {
        FAIL_WITH_ENOMEM(NULL);
        return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size) {
        FAIL_WITH_ENOMEM(NULL);
        return __real_realloc(p, size);
}

void *__wrap_reallocarray(void *p, size_t n, size_t size) {
        FAIL_WITH_ENOMEM(NULL);
        return __real_reallocarray(p, n, size);
}

char *__wrap_strdup(const char *s) {
        FAIL_WITH_ENOMEM(NULL);
        return __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n) {
        FAIL_WITH_ENOMEM(NULL);
        return __real_strndup(s, n);
}

int __wrap_vasprintf(char **ret, const char *fmt, va_list ap) {
        FAIL_WITH_ENOMEM(-1);
        return __real_vasprintf(ret, fmt, ap);
}

int __wrap_asprintf(char **ret, const char *fmt, ...) {
        va_list ap;
        int r;

        FAIL_WITH_ENOMEM(-1);
        va_start(ap, fmt);
        r = __real_vasprintf(ret, fmt, ap);
        va_end(ap);
        return r;
}

char *__wrap_realpath(const char *path, char *resolved) {
        if (!resolved)
                FAIL_WITH_ENOMEM(NULL);
        return __real_realpath(path, resolved);
}

DIR *__wrap_opendir(const char *path) {
        FAIL_WITH_ENOMEM(NULL);
        return __real_opendir(path);
}

DIR *__wrap_fdopendir(int fd) {
        FAIL_WITH_ENOMEM(NULL);
        return __real_fdopendir(fd);
}

FILE *__wrap_open_memstream(char **ret, size_t *ret_size) {
        FAIL_WITH_ENOMEM(NULL);
        return __real_open_memstream(ret, ret_size);
}

/* SQLite's allocations: its default allocator, with the same countdown in front. */
static sqlite3_mem_methods sqlite_default_mem;

static void *sqlite_fault_malloc(int size) {
        if (fault_fail_now())
                return NULL;
        return sqlite_default_mem.xMalloc(size);
}

static void *sqlite_fault_realloc(void *p, int size) {
        if (fault_fail_now())
                return NULL;
        return sqlite_default_mem.xRealloc(p, size);
}

static void fault_install_sqlite(void) {
        sqlite3_mem_methods m;

        /* Before SQLite's first use: it takes the allocator when it initializes. */
        assert_int_equal(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_default_mem), SQLITE_OK);
        m = sqlite_default_mem;
        m.xMalloc = sqlite_fault_malloc;
        m.xRealloc = sqlite_fault_realloc;
        assert_int_equal(sqlite3_config(SQLITE_CONFIG_MALLOC, &m), SQLITE_OK);
        assert_int_equal(sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0), SQLITE_OK);
}

static void *mfree(void *p) {
        free(p);
        return NULL;
}

/* Under AddressSanitizer: LeakSanitizer's check, so that a leak fails the test that made it. */
extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

/* --- the site and what it holds -------------------------------------------------------------- */

typedef struct Fixture {
        char dir[64];
        char state[96], content[96], dps[96];
        char snapshot[96]; /* the state directory as the operation under test found it */
        Site site;
        sqlite3 *reader; /* database_dump()'s own connection, while the site is open */
} Fixture;

static void site_stop(Fixture *f) {
        assert_int_equal(sqlite3_close(f->reader), SQLITE_OK);
        f->reader = NULL;
        site_close(&f->site);
}

static void site_start(Fixture *f) {
        SmsError e = SMS_ERROR_NULL;

        if (site_open(&f->site, f->state, "LAB", &e) < 0 || content_roots_add(&f->site.roots, f->content, &e) < 0 ||
            content_roots_add(&f->site.dp_roots, f->dps, &e) < 0)
                fail_msg("opening the site: %s", e.message);
}

static void shell(const char *fmt, ...) _printf_(1, 2);
static void shell(const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL;
        va_list ap;

        va_start(ap, fmt);
        assert_true(vasprintf(&cmd, fmt, ap) > 0);
        va_end(ap);
        assert_int_equal(system(cmd), 0);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));

        assert_non_null(f);
        strcpy(f->dir, "/tmp/smsprov-alloc.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->state, sizeof f->state, "%s/state", f->dir);
        snprintf(f->content, sizeof f->content, "%s/content", f->dir);
        snprintf(f->dps, sizeof f->dps, "%s/dps", f->dir);
        snprintf(f->snapshot, sizeof f->snapshot, "%s/snapshot", f->dir);
        assert_int_equal(mkdir(f->content, 0755), 0);
        assert_int_equal(mkdir(f->dps, 0755), 0);
        site_start(f);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        site_stop(f);
        shell("rm -rf '%s'", f->dir);
        free(f);
        /* LeakSanitizer reports a leak again at every later check: only the test that made the
         * first one fails for it (the report at exit fails the program as well). */
        static bool leaked = false;
        if (__lsan_do_recoverable_leak_check && !leaked && __lsan_do_recoverable_leak_check() != 0) {
                leaked = true;
                fail_msg("memory leaked (LeakSanitizer's report above)");
        }
        return 0;
}

static void buf_printf(FILE *out, const char *fmt, ...) _printf_(2, 3);
static void buf_printf(FILE *out, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        assert_true(vfprintf(out, fmt, ap) >= 0);
        va_end(ap);
}

static sqlite3 *reader_open(Fixture *f) {
        if (!f->reader) {
                _cleanup_free_ char *path = NULL;
                assert_true(asprintf(&path, "%s/site.db", f->state) > 0);
                assert_int_equal(sqlite3_open_v2(path, &f->reader, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        }
        return f->reader;
}

/* Every row of every table, the schema and user_version, as text: read through a connection of
 * its own, so it is what a restarted daemon would find. */
static char *database_dump(Fixture *f) {
        sqlite3_stmt *tables = NULL;
        char *text = NULL;
        size_t size = 0;
        FILE *out;

        sqlite3 *db = reader_open(f);
        out = open_memstream(&text, &size);
        assert_non_null(out);
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "SELECT name, sql FROM sqlite_schema WHERE type = 'table' ORDER BY name",
                                            -1, &tables, NULL),
                         SQLITE_OK);
        while (sqlite3_step(tables) == SQLITE_ROW) {
                _cleanup_free_ char *select = NULL;
                sqlite3_stmt *rows = NULL;
                const char *name = (const char *) sqlite3_column_text(tables, 0);

                buf_printf(out, "TABLE %s\n%s\n", name, sqlite3_column_text(tables, 1));
                assert_true(asprintf(&select, "SELECT * FROM \"%s\"", name) > 0);
                assert_int_equal(sqlite3_prepare_v2(db, select, -1, &rows, NULL), SQLITE_OK);
                /* A scan goes in rowid (or primary key) order: equal tables dump equal. */
                while (sqlite3_step(rows) == SQLITE_ROW) {
                        for (int i = 0; i < sqlite3_column_count(rows); i++)
                                switch (sqlite3_column_type(rows, i)) {
                                case SQLITE_NULL:
                                        buf_printf(out, "|NULL");
                                        break;
                                case SQLITE_INTEGER:
                                        buf_printf(out, "|%lld", sqlite3_column_int64(rows, i));
                                        break;
                                case SQLITE_FLOAT:
                                        buf_printf(out, "|%.17g", sqlite3_column_double(rows, i));
                                        break;
                                case SQLITE_TEXT:
                                        buf_printf(out, "|'%s'", sqlite3_column_text(rows, i));
                                        break;
                                default: {
                                        const unsigned char *b = sqlite3_column_blob(rows, i);
                                        buf_printf(out, "|x'");
                                        for (int k = 0; k < sqlite3_column_bytes(rows, i); k++)
                                                buf_printf(out, "%02x", b[k]);
                                        buf_printf(out, "'");
                                }
                                }
                        buf_printf(out, "\n");
                }
                assert_int_equal(sqlite3_finalize(rows), SQLITE_OK);
        }
        assert_int_equal(sqlite3_finalize(tables), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &tables, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(tables), SQLITE_ROW);
        buf_printf(out, "user_version %d\n", sqlite3_column_int(tables, 0));
        assert_int_equal(sqlite3_finalize(tables), SQLITE_OK);
        assert_int_equal(fclose(out), 0);
        return text;
}

static FILE *listing_out;
static size_t listing_skip;

static int listing_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        const char *name = path + listing_skip;

        /* The database's own files: their sizes change with every transaction, rolled back or not. */
        if (strncmp(name, "/site.db", 8) == 0)
                buf_printf(listing_out, "%s\n", name);
        else
                buf_printf(listing_out, "%s %o %jd\n", name, (unsigned) st->st_mode, (intmax_t) st->st_size);
        return 0;
}

static int compare_lines(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Every name under the state directory with its mode and size, one a line, sorted (nftw() walks in
 * directory order). */
static char *state_listing(Fixture *f) {
        _cleanup_free_ char *text = NULL;
        char **lines = NULL, *sorted = NULL, *save = NULL;
        size_t n = 0, size = 0;
        FILE *out;

        listing_out = open_memstream(&text, &size);
        assert_non_null(listing_out);
        listing_skip = strlen(f->state);
        assert_int_equal(nftw(f->state, listing_entry, 16, FTW_PHYS), 0);
        assert_int_equal(fclose(listing_out), 0);
        listing_out = NULL;

        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                lines = realloc(lines, (n + 1) * sizeof(char *));
                assert_non_null(lines);
                lines[n++] = l;
        }
        qsort(lines, n, sizeof(char *), compare_lines);
        out = open_memstream(&sorted, &size);
        assert_non_null(out);
        for (size_t i = 0; i < n; i++)
                buf_printf(out, "%s\n", lines[i]);
        assert_int_equal(fclose(out), 0);
        free(lines);
        return sorted;
}

/* One operation under test. prepare() and check() run with the allocator working. */
typedef struct Op {
        const char *name;
        void (*prepare)(Fixture *f, void *userdata);        /* the call's arguments, anew for each run */
        int (*call)(Fixture *f, void *userdata, SmsError *e); /* the operation, with failures armed */
        /* After a success: what it did. `clean`: no allocation failed on the way. */
        void (*check)(Fixture *f, void *userdata, bool clean);
        void (*release)(void *userdata);                    /* frees arguments and results */
} Op;

/* Fails the test with what went wrong after allocation n (and with `persistent`, every later one)
 * failed, and where that allocation was made. */
static void failure(const Op *op, uint64_t n, bool persistent, const char *fmt, ...) _printf_(4, 5);
static void failure(const Op *op, uint64_t n, bool persistent, const char *fmt, ...) {
        static char what[4096];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        fault_print_stack();
        fail_msg("%s: allocation %" PRIu64 "%s failed, and %s", op->name, n, persistent ? " and every later one" : "",
                 what);
}

/* The first line where two texts differ, for a message that says what changed. */
static void assert_same_text(const Op *op, uint64_t n, bool persistent, const char *what, const char *before,
                             const char *after) {
        size_t line = 1;
        const char *a = before, *b = after;

        if (streq(before, after))
                return;
        while (*a && *a == *b) {
                if (*a == '\n') {
                        line++;
                        before = a + 1;
                        after = b + 1;
                }
                a++, b++;
        }
        failure(op, n, persistent,
                "the call left %s changed; first difference at line %zu:\n  before: %.*s\n  after:  %.*s", what,
                line, (int) strcspn(before, "\n"), before, (int) strcspn(after, "\n"), after);
}

/* Takes the state directory aside (the site closed, so that site.db holds every commit), to go
 * back to it after a run that succeeded in spite of an injected failure. */
static void fixture_snapshot(Fixture *f) {
        site_stop(f);
        shell("rm -rf '%s' && cp -a '%s' '%s'", f->snapshot, f->state, f->snapshot);
        site_start(f);
}

static void fixture_restore(Fixture *f) {
        site_stop(f);
        shell("rm -rf '%s' && cp -a '%s' '%s'", f->state, f->snapshot, f->state);
        site_start(f);
}

/* --- the loop -------------------------------------------------------------------------------- */

/* A bound far above what any operation here allocates (a few thousand), so that an operation that
 * never succeeds again fails the test instead of looping. */
#define MAX_ALLOCATIONS 50000u

/* Every run opens the site anew, as SQLite's own fault tests open their connection again for each:
 * the store and SQLite keep what they made once (the store's prepared loads, SQLite's pages and
 * what it compiles for the schema), and the run that first made it would make allocations the runs
 * after it do not: N would not count the same allocations from run to run, and some would never
 * fail. */
static void run_op(Fixture *f, const Op *op, void *userdata, uint64_t n, bool persistent, SmsError *e,
                   int *ret_r, bool *ret_injected) {
        /* With the reader open, the site's is not the last connection, whose close would
         * checkpoint the WAL and fsync() the database. */
        reader_open(f);
        site_close(&f->site);
        site_start(f);
        op->prepare(f, userdata);
        fault_arm(n, persistent);
        *ret_r = op->call(f, userdata, e);
        *ret_injected = fault_disarm();
}

static void check_after_failure(Fixture *f, const Op *op, const char *rows, const char *files, uint64_t n,
                                bool persistent, int r, SmsError *e) {
        _cleanup_free_ char *rows_after = NULL, *files_after = NULL;
        const char *message = e->message ? e->message : strerror(r < 0 ? -r : 0);
        SmsError begin = SMS_ERROR_NULL;

        if (r >= 0)
                failure(op, n, persistent, "yet it returned %d", r);
        /* Failed (or -ENOMEM), the one answer that blames no one: never NotFound or
         * InvalidParameter, which a caller would act on as the truth about the site. site_report()
         * has no SmsError and answers with the errno of Failed. */
        if (e->code == SMS_ERROR_NONE ? r != -ENOMEM && r != sms_error_code_to_errno(SMS_ERROR_FAILED)
                                      : e->code != SMS_ERROR_FAILED)
                failure(op, n, persistent, "it answered %s (%s)", sms_error_code_to_name(e->code), message);
        if (store_in_transaction(f->site.store))
                failure(op, n, persistent, "the store is still in a transaction (the call answered: %s)", message);
        rows_after = database_dump(f);
        assert_same_text(op, n, persistent, "the site database", rows, rows_after);
        files_after = state_listing(f);
        assert_same_text(op, n, persistent, "the state directory", files, files_after);
        /* No transaction left open beneath the store either: the next write can begin. */
        if (store_begin(f->site.store, &begin) < 0)
                failure(op, n, persistent, "the next write transaction cannot begin: %s (the call answered: %s)",
                        begin.message, message);
        store_rollback(f->site.store);
}

static void run_with_failures(Fixture *f, const Op *op, void *userdata, bool persistent) {
        _cleanup_free_ char *rows = database_dump(f), *files = state_listing(f);
        unsigned failed = 0, recovered = 0;
        uint64_t n;

        for (n = 1; n <= MAX_ALLOCATIONS; n++) {
                SmsError e = SMS_ERROR_NULL;
                bool injected;
                int r;

                run_op(f, op, userdata, n, persistent, &e, &r, &injected);
                if (!injected) {
                        if (r < 0)
                                fail_msg("%s: failed with no allocation failing: %s", op->name,
                                         e.message ? e.message : strerror(-r));
                        /* Every run made the same allocations, or some were never made to fail. */
                        if (fault.n_allocations != n - 1)
                                fail_msg("%s: the run without failures made %" PRIu64 " allocations, the "
                                         "runs before it at least %" PRIu64,
                                         op->name, fault.n_allocations, n - 1);
                        op->check(f, userdata, true);
                        op->release(userdata);
                        break;
                }
                if (r >= 0) {
                        /* A failure the code may absorb (SQLite goes on without a page it could not
                         * add to its cache): the operation must then have done all it says. */
                        op->check(f, userdata, false);
                        op->release(userdata);
                        fixture_restore(f);
                        recovered++;
                        continue;
                }
                check_after_failure(f, op, rows, files, n, persistent, r, &e);
                sms_error_clear(&e);
                op->release(userdata);
                failed++;
        }
        if (n > MAX_ALLOCATIONS)
                fail_msg("%s: still failing after %u allocations", op->name, MAX_ALLOCATIONS);
        print_message("%s, %s: %" PRIu64 " allocations, %u failed runs, %u succeeded anyway\n", op->name,
                      persistent ? "every allocation from the Nth on failing" : "the Nth allocation failing",
                      n - 1, failed, recovered);
        /* the run that succeeded: back to where the other mode starts */
        fixture_restore(f);
}

static void run_op_test(Fixture *f, const Op *op, void *userdata) {
        fixture_snapshot(f);
        run_with_failures(f, op, userdata, false);
        run_with_failures(f, op, userdata, true);
}

/* --- what the operations work on ------------------------------------------------------------- */

static SiteChange change_string(const SmsClass *c, const char *name, const char *value) {
        int i = sms_class_find_property(c, name);
        SiteChange ch = { .index = (size_t) i };

        assert_true(i >= 0);
        assert_int_equal(cim_value_set_string(&ch.value, value), 0);
        return ch;
}

static SiteChange change_uint(const SmsClass *c, const char *name, uint64_t value) {
        int i = sms_class_find_property(c, name);

        assert_true(i >= 0);
        return (SiteChange) { .index = (size_t) i, .value = cim_value_uint(c->all[i]->type, value) };
}

static SiteChange change_bool(const SmsClass *c, const char *name, bool value) {
        int i = sms_class_find_property(c, name);

        assert_true(i >= 0);
        return (SiteChange) { .index = (size_t) i, .value = cim_value_bool(value) };
}

static SiteChange change_bytes(const SmsClass *c, const char *name, size_t n) {
        int i = sms_class_find_property(c, name);
        SiteChange ch = { .index = (size_t) i, .value = { .type = CIM_UINT8_ARRAY } };

        assert_true(i >= 0);
        ch.value.bytes.data = malloc(n);
        assert_non_null(ch.value.bytes.data);
        for (size_t k = 0; k < n; k++)
                ch.value.bytes.data[k] = (uint8_t) k;
        ch.value.bytes.n = n;
        return ch;
}

static void changes_clear(SiteChange *changes, size_t n) {
        for (size_t i = 0; i < n; i++)
                cim_value_clear(&changes[i].value);
}

static const CimValue *value_of(const SmsObject *o, const char *name) {
        int i = sms_class_find_property(o->class, name);
        assert_true(i >= 0);
        return &o->values[i];
}

static SmsObject *load(Fixture *f, const SmsClass *c, const char *key) {
        SmsObject *o = NULL;
        SmsError e = SMS_ERROR_NULL;

        if (site_object_load(&f->site, c, key, &o, &e) < 0)
                fail_msg("loading %s %s: %s", c->name, key, e.message);
        return o;
}

static size_t query_count(Fixture *f, const char *text) {
        _cleanup_(wql_query_freep) WqlQuery *q = NULL;
        WqlRow *rows = NULL;
        SmsError e = SMS_ERROR_NULL;
        size_t n = 0;

        if (site_query(&f->site, text, &q, &rows, &n, &e) < 0)
                fail_msg("%s: %s", text, e.message);
        wql_rows_free(rows, n, q->n_columns);
        return n;
}

static const SiteCaller caller = { .uid = 1000 };

static char *content_file(Fixture *f, const char *name) {
        char *path = NULL;
        int fd;

        assert_true(asprintf(&path, "%s/%s", f->content, name) > 0);
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        close(fd);
        return path;
}

/* An SMS_ImagePackage with a few properties and image metadata, made with the allocator working. */
static char *create_image_package(Fixture *f, const char *name) {
        const SmsClass *c = sms_model_find_class("SMS_ImagePackage");
        _cleanup_free_ char *wim = content_file(f, "install.wim");
        SiteChange ch[3] = {
                change_string(c, "Name", name),
                change_string(c, "Description", "before"),
                change_string(c, "PkgSourcePath", wim),
        };
        SiteChange derived[1] = { change_string(c, "ImageOSVersion", "10.0.22631.2861") };
        SmsError e = SMS_ERROR_NULL;
        char *key = NULL;

        if (site_object_create(&f->site, c, ch, ELEMENTSOF(ch), derived, ELEMENTSOF(derived), &caller, &key, &e) < 0)
                fail_msg("creating %s: %s", name, e.message);
        changes_clear(ch, ELEMENTSOF(ch));
        changes_clear(derived, ELEMENTSOF(derived));
        return key;
}

/* --- site_object_create ---------------------------------------------------------------------- */

typedef struct CreateArgs {
        const SmsClass *class;
        SiteChange changes[6], derived[3];
        size_t n_changes, n_derived;
        char *key;
        char *wim, *dp_root; /* what prepare() names */
} CreateArgs;

static void prepare_create_image_package(Fixture *f, void *userdata) {
        CreateArgs *a = userdata;
        const SmsClass *c = a->class = sms_model_find_class("SMS_ImagePackage");

        a->n_changes = 0;
        a->changes[a->n_changes++] = change_string(c, "Name", "Windows 11 Enterprise");
        a->changes[a->n_changes++] = change_string(c, "Description", "the site's reference image");
        a->changes[a->n_changes++] = change_string(c, "PkgSourcePath", a->wim);
        a->changes[a->n_changes++] = change_string(c, "Version", "23H2");
        a->changes[a->n_changes++] = change_string(c, "Language", "en-US");
        a->changes[a->n_changes++] = change_bytes(c, "Icon", 64);
        a->n_derived = 0;
        a->derived[a->n_derived++] = change_string(c, "Architecture", "9");
        a->derived[a->n_derived++] = change_string(c, "ImageOSVersion", "10.0.22631.2861");
        a->derived[a->n_derived++] = change_string(c, "ImageProperty", "<WIM><IMAGE INDEX=\"1\"/></WIM>");
}

static void prepare_create_dp(Fixture *f, void *userdata) {
        CreateArgs *a = userdata;
        const SmsClass *c = a->class = sms_model_find_class("SMS_DistributionPointInfo");

        a->n_changes = 0;
        a->changes[a->n_changes++] = change_string(c, "NALPath",
                                                   "[\"Display=\\\\dp1\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\dp1\\");
        a->changes[a->n_changes++] = change_string(c, "ContentRoot", a->dp_root);
        a->changes[a->n_changes++] = change_string(c, "Description", "the first floor");
        a->changes[a->n_changes++] = change_bool(c, "IsPXE", true);
        a->n_derived = 0;
}

static int call_create(Fixture *f, void *userdata, SmsError *e) {
        CreateArgs *a = userdata;
        return site_object_create(&f->site, a->class, a->changes, a->n_changes, a->derived, a->n_derived, &caller,
                                  &a->key, e);
}

static void check_create(Fixture *f, void *userdata, bool clean) {
        CreateArgs *a = userdata;
        _cleanup_(sms_object_freep) SmsObject *o = NULL;

        assert_non_null(a->key);
        o = load(f, a->class, a->key);
        if (streq(a->class->name, "SMS_ImagePackage")) {
                assert_string_equal(value_of(o, "Name")->str, "Windows 11 Enterprise");
                assert_string_equal(value_of(o, "Architecture")->str, "9");
                assert_int_equal(value_of(o, "IconSize")->u, 64);
                assert_int_equal(value_of(o, "SourceVersion")->u, 1);
        } else {
                assert_string_equal(value_of(o, "ServerName")->str, "dp1");
                assert_string_equal(value_of(o, "SiteCode")->str, "LAB");
                assert_true(value_of(o, "IsPXE")->b);
        }
        assert_int_equal(query_count(f, "SELECT RecordID FROM SMS_StatusMessage WHERE MessageID = 30000"), 1);
}

static void release_create(void *userdata) {
        CreateArgs *a = userdata;

        changes_clear(a->changes, a->n_changes);
        changes_clear(a->derived, a->n_derived);
        a->key = mfree(a->key);
}

static void test_create_image_package(void **state) {
        Fixture *f = *state;
        CreateArgs a = { .wim = content_file(f, "install.wim") };
        const Op op = { "site_object_create(SMS_ImagePackage)", prepare_create_image_package, call_create,
                        check_create, release_create };

        run_op_test(f, &op, &a);
        free(a.wim);
}

static void test_create_distribution_point(void **state) {
        Fixture *f = *state;
        CreateArgs a = {};
        const Op op = { "site_object_create(SMS_DistributionPointInfo)", prepare_create_dp, call_create, check_create,
                        release_create };

        assert_true(asprintf(&a.dp_root, "%s/dp1", f->dps) > 0);
        assert_int_equal(mkdir(a.dp_root, 0755), 0);
        run_op_test(f, &op, &a);
        free(a.dp_root);
}

/* --- site_object_put, site_object_set_derived, site_package_set_source_site ------------------ */

typedef struct ChangeArgs {
        const SmsClass *class;
        char *key;
        SiteChange changes[6];
        size_t n_changes;
        size_t *changed, n_changed;
} ChangeArgs;

static void release_change(void *userdata) {
        ChangeArgs *a = userdata;

        changes_clear(a->changes, a->n_changes);
        a->n_changes = 0;
        a->changed = mfree(a->changed);
        a->n_changed = 0;
}

static void prepare_put(Fixture *f, void *userdata) {
        ChangeArgs *a = userdata;
        _cleanup_(sms_object_freep) SmsObject *o = load(f, a->class, a->key);
        const char *sedo = value_of(o, "SedoObjectVersion")->str;

        a->changes[a->n_changes++] = change_string(a->class, "SedoObjectVersion", sedo);
        a->changes[a->n_changes++] = change_string(a->class, "Description", "after");
        a->changes[a->n_changes++] = change_string(a->class, "Name", "renamed");
        a->changes[a->n_changes++] = change_string(a->class, "Version", "24H2");
        a->changes[a->n_changes++] = change_uint(a->class, "Priority", 1);
        a->changes[a->n_changes++] = change_bytes(a->class, "Icon", 32);
}

static int call_put(Fixture *f, void *userdata, SmsError *e) {
        ChangeArgs *a = userdata;
        return site_object_put(&f->site, a->class, a->key, a->changes, a->n_changes, &caller, &a->changed,
                               &a->n_changed, e);
}

static void check_put(Fixture *f, void *userdata, bool clean) {
        ChangeArgs *a = userdata;
        _cleanup_(sms_object_freep) SmsObject *o = load(f, a->class, a->key);

        assert_string_equal(value_of(o, "Description")->str, "after");
        assert_string_equal(value_of(o, "Name")->str, "renamed");
        assert_int_equal(value_of(o, "Priority")->u, 1);
        assert_int_equal(value_of(o, "IconSize")->u, 32);
        /* Description, Name, Version, Priority, Icon, IconSize, SedoObjectVersion */
        assert_int_equal(a->n_changed, 7);
}

/* run_op_test() of an operation on a new image package named `name`. */
static void run_package_op_test(Fixture *f, const Op *op, const char *name) {
        ChangeArgs a = { .class = sms_model_find_class("SMS_ImagePackage"), .key = create_image_package(f, name) };

        run_op_test(f, op, &a);
        free(a.key);
}

static void test_put(void **state) {
        static const Op op = { "site_object_put", prepare_put, call_put, check_put, release_change };

        run_package_op_test(*state, &op, "put");
}

static void prepare_set_derived(Fixture *f, void *userdata) {
        ChangeArgs *a = userdata;

        a->changes[a->n_changes++] = change_string(a->class, "ImageOSVersion", "10.0.26100.1");
        a->changes[a->n_changes++] = change_string(a->class, "ImageProperty", "<WIM><IMAGE INDEX=\"2\"/></WIM>");
        a->changes[a->n_changes++] = change_string(a->class, "Architecture", "12");
        a->changes[a->n_changes++] = change_uint(a->class, "PackageSize", 4096);
}

static int call_set_derived(Fixture *f, void *userdata, SmsError *e) {
        ChangeArgs *a = userdata;
        return site_object_set_derived(&f->site, a->class, a->key, a->changes, a->n_changes, &caller,
                                       "reloaded the image properties of", &a->changed, &a->n_changed, e);
}

static void check_set_derived(Fixture *f, void *userdata, bool clean) {
        ChangeArgs *a = userdata;
        _cleanup_(sms_object_freep) SmsObject *o = load(f, a->class, a->key);

        assert_string_equal(value_of(o, "ImageOSVersion")->str, "10.0.26100.1");
        assert_string_equal(value_of(o, "Architecture")->str, "12");
        assert_int_equal(value_of(o, "PackageSize")->u, 4096);
        assert_int_equal(a->n_changed, 5);
}

static void test_set_derived(void **state) {
        static const Op op = { "site_object_set_derived", prepare_set_derived, call_set_derived,
                               check_set_derived, release_change };

        run_package_op_test(*state, &op, "derived");
}

static void prepare_nothing(Fixture *f, void *userdata) {
}

static int call_set_source_site(Fixture *f, void *userdata, SmsError *e) {
        ChangeArgs *a = userdata;
        return site_package_set_source_site(&f->site, a->class, a->key, "CAS", &caller, &a->changed, &a->n_changed,
                                            e);
}

static void check_set_source_site(Fixture *f, void *userdata, bool clean) {
        ChangeArgs *a = userdata;
        _cleanup_(sms_object_freep) SmsObject *o = load(f, a->class, a->key);

        assert_string_equal(value_of(o, "SourceSite")->str, "CAS");
        assert_int_equal(a->n_changed, 2);
}

static void test_set_source_site(void **state) {
        static const Op op = { "site_package_set_source_site", prepare_nothing, call_set_source_site,
                               check_set_source_site, release_change };

        run_package_op_test(*state, &op, "locked");
}

/* --- site_object_delete ---------------------------------------------------------------------- */

static int call_delete(Fixture *f, void *userdata, SmsError *e) {
        ChangeArgs *a = userdata;
        return site_object_delete(&f->site, a->class, a->key, &caller, e);
}

static void check_delete(Fixture *f, void *userdata, bool clean) {
        ChangeArgs *a = userdata;
        _cleanup_free_ char *images = NULL;
        SmsObject *o = NULL;
        SmsError e = SMS_ERROR_NULL;

        assert_int_equal(site_object_load(&f->site, a->class, a->key, &o, &e), -ENOENT);
        sms_error_clear(&e);
        assert_int_equal(query_count(f, "SELECT RecordID FROM SMS_StatusMessage WHERE MessageID = 30002"), 1);
        /* The extracted image goes with the row. When the allocation of its path failed, the
         * delete still succeeds and leaves it to the start-up sweep (image_outputs_sweep()), which
         * removes what no row names. */
        assert_true(asprintf(&images, "%s/images/%s", f->state, a->key) > 0);
        if (clean)
                assert_int_equal(access(images, F_OK) < 0 ? errno : 0, ENOENT);
}

static void test_delete(void **state) {
        Fixture *f = *state;
        ChangeArgs a = { .class = sms_model_find_class("SMS_ImagePackage"), .key = create_image_package(f, "deleted") };
        const Op op = { "site_object_delete", prepare_nothing, call_delete, check_delete, release_change };

        /* What the site made for the package: an extracted image, removed with it. */
        shell("mkdir -p '%s/images/%s' && echo wim > '%s/images/%s/install.%s.wim'", f->state, a.key, f->state, a.key,
              a.key);
        run_op_test(f, &op, &a);
        free(a.key);
}

/* --- site_report ----------------------------------------------------------------------------- */

static int call_report(Fixture *f, void *userdata, SmsError *e) {
        ChangeArgs *a = userdata;
        return site_report(&f->site, 11170, 0xC0000000u, &caller, a->class->name, a->key,
                           "the distribution to dp1 failed: no space left on device");
}

static void check_report(Fixture *f, void *userdata, bool clean) {
        assert_int_equal(query_count(f, "SELECT RecordID FROM SMS_StatusMessage WHERE MessageID = 11170"), 1);
}

static void test_report(void **state) {
        static const Op op = { "site_report", prepare_nothing, call_report, check_report, release_change };

        run_package_op_test(*state, &op, "report");
}

/* --- site_replace_rows ----------------------------------------------------------------------- */

typedef struct ReplaceArgs {
        char *key;
        SmsObject *rows[3];
        size_t n_rows;
} ReplaceArgs;

static SmsObject *image_information(const char *package_id, uint32_t index, const char *name) {
        const SmsClass *c = sms_model_find_class("SMS_ImageInformation");
        SmsObject *o = sms_object_new(c);
        int i;

        assert_non_null(o);
        i = sms_class_find_property(c, "PackageID");
        assert_int_equal(cim_value_set_string(&o->values[i], package_id), 0);
        i = sms_class_find_property(c, "Index");
        o->values[i] = cim_value_uint(CIM_UINT32, index);
        i = sms_class_find_property(c, "Name");
        assert_int_equal(cim_value_set_string(&o->values[i], name), 0);
        i = sms_class_find_property(c, "ObjectType");
        o->values[i] = cim_value_uint(CIM_UINT32, 18);
        i = sms_class_find_property(c, "PackageType");
        o->values[i] = cim_value_uint(CIM_UINT32, 257);
        assert_int_equal(sms_object_key_format(o, &o->key), 0);
        return o;
}

static void prepare_replace(Fixture *f, void *userdata) {
        ReplaceArgs *a = userdata;

        a->rows[0] = image_information(a->key, 1, "Windows 11 Education");
        a->rows[1] = image_information(a->key, 2, "Windows 11 Enterprise");
        a->rows[2] = image_information(a->key, 3, "Windows 11 Pro");
        a->n_rows = 3;
}

static int call_replace(Fixture *f, void *userdata, SmsError *e) {
        ReplaceArgs *a = userdata;
        return site_replace_rows(&f->site, sms_model_find_class("SMS_ImageInformation"), "PackageID", a->key, a->rows,
                                 a->n_rows, e);
}

static void check_replace(Fixture *f, void *userdata, bool clean) {
        assert_int_equal(query_count(f, "SELECT Index FROM SMS_ImageInformation"), 3);
        assert_int_equal(query_count(f, "SELECT Index FROM SMS_ImageInformation WHERE Name = 'Windows 11 Pro'"), 1);
}

static void release_replace(void *userdata) {
        ReplaceArgs *a = userdata;

        for (size_t i = 0; i < a->n_rows; i++)
                a->rows[i] = sms_object_free(a->rows[i]);
        a->n_rows = 0;
}

static void test_replace_rows(void **state) {
        Fixture *f = *state;
        ReplaceArgs a = { .key = create_image_package(f, "images") };
        const Op op = { "site_replace_rows", prepare_replace, call_replace, check_replace, release_replace };
        SmsError e = SMS_ERROR_NULL;

        /* Two rows from an earlier read of the WIM, replaced by three. */
        a.rows[0] = image_information(a.key, 1, "Windows 11 Home");
        a.rows[1] = image_information(a.key, 2, "Windows 11 Home N");
        a.n_rows = 2;
        if (call_replace(f, &a, &e) < 0)
                fail_msg("the first rows: %s", e.message);
        release_replace(&a);

        run_op_test(f, &op, &a);
        free(a.key);
}

/* --- site_query, site_query_page ------------------------------------------------------------- */

typedef struct QueryArgs {
        const char *text;
        char *cursor; /* of the page to read; NULL: site_query() */
        WqlQuery *q;
        WqlRow *rows;
        size_t n_rows;
        char *next_cursor;
        size_t n_expected; /* the rows of a run without failures */
} QueryArgs;

static int call_query(Fixture *f, void *userdata, SmsError *e) {
        QueryArgs *a = userdata;

        if (!a->cursor)
                return site_query(&f->site, a->text, &a->q, &a->rows, &a->n_rows, e);
        return site_query_page(&f->site, a->text, a->cursor, 2, &a->q, &a->rows, &a->n_rows, &a->next_cursor, e);
}

static void check_query(Fixture *f, void *userdata, bool clean) {
        QueryArgs *a = userdata;

        assert_non_null(a->q);
        assert_int_equal(a->n_rows, a->n_expected);
        assert_int_equal(a->rows[0].values[0].type, CIM_STRING);
        if (a->cursor)
                assert_non_null(a->next_cursor);
}

static void release_query(void *userdata) {
        QueryArgs *a = userdata;

        if (a->q)
                wql_rows_free(a->rows, a->n_rows, a->q->n_columns);
        a->q = wql_query_free(a->q);
        a->rows = NULL;
        a->n_rows = 0;
        a->next_cursor = mfree(a->next_cursor);
}

/* Five packages (alpha … echo), and a first run of a's query, with no allocation failing: its
 * results are left in a. */
static void query_packages(Fixture *f, QueryArgs *a, const char *what) {
        static const char *const names[] = { "alpha", "bravo", "charlie", "delta", "echo" };
        SmsError e = SMS_ERROR_NULL;

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                free(create_image_package(f, names[i]));
        if (call_query(f, a, &e) < 0)
                fail_msg("%s: %s", what, e.message);
}

static void test_query(void **state) {
        Fixture *f = *state;
        /* wql_like(), with a set SQLite's LIKE lacks, and an ORDER BY */
        QueryArgs a = { .text = "SELECT Name, PackageID, Description, ImageOSVersion FROM SMS_ImagePackage "
                                "WHERE Name LIKE '%[lr]%' ORDER BY Name" };
        static const Op op = { "site_query", prepare_nothing, call_query, check_query, release_query };

        query_packages(f, &a, "the query");
        a.n_expected = a.n_rows;
        assert_int_equal(a.n_expected, 4); /* alpha, bravo, charlie, delta */
        release_query(&a);
        run_op_test(f, &op, &a);
}

static void test_query_page(void **state) {
        Fixture *f = *state;
        QueryArgs a = { .text = "SELECT Name, PackageID, Description FROM SMS_ImagePackage WHERE Name LIKE '%a%' "
                                "ORDER BY Name" };
        static const Op op = { "site_query_page", prepare_nothing, call_query, check_query, release_query };

        /* the second page, after a cursor made by the first */
        a.cursor = (char *) "";
        query_packages(f, &a, "the first page");
        a.cursor = TAKE_PTR(a.next_cursor);
        release_query(&a);
        a.n_expected = 2; /* bravo, charlie: the page after alpha */
        run_op_test(f, &op, &a);
        free(a.cursor);
}

int main(void) {
#define ALLOC_TEST(t) cmocka_unit_test_setup_teardown(t, setup, teardown) /* each on a new site */
        const struct CMUnitTest tests[] = {
                ALLOC_TEST(test_create_image_package),
                ALLOC_TEST(test_create_distribution_point),
                ALLOC_TEST(test_put),
                ALLOC_TEST(test_set_derived),
                ALLOC_TEST(test_set_source_site),
                ALLOC_TEST(test_delete),
                ALLOC_TEST(test_report),
                ALLOC_TEST(test_replace_rows),
                ALLOC_TEST(test_query),
                ALLOC_TEST(test_query_page),
        };

        fault_install_sqlite();
        /* backtrace() loads its unwinder on its first call: not first in a failing allocation */
        fault.stack_depth = backtrace(fault.stack, ELEMENTSOF(fault.stack));
        return cmocka_run_group_tests(tests, NULL, NULL);
}
