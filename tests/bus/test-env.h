/* SPDX-License-Identifier: MIT */
#pragma once

/* A private world for bus tests: a temporary directory, a private dbus-daemon, and the real
 * smsprovd on it with its state and a content root inside that directory, which is also its
 * --dp-root: distribution points go in folders of their own there. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

typedef struct TestEnv {
        char *dir;          /* temporary directory, removed at the end */
        char *address;      /* the private bus */
        char *state_dir;
        char *content_dir;
        char *hold_dir;     /* the daemon's --test-hold-dir (test points, below) */
        char *database;     /* --database: a new PostgreSQL database when the test runs under
                             * tests/helpers/pg-server.sh (test-db.h); NULL: site.db in state_dir */
        char *library_dir;  /* --library-dir when set (before the daemon starts); NULL: none */
        pid_t dbus_pid;
        pid_t daemon_pid;
        int notify_fd;      /* the socket NOTIFY_SOCKET names (test_env_spawn_daemon_notifying()); 0: none */
        sd_bus *bus;        /* a client connection */
} TestEnv;

/* Starts dbus-daemon and smsprovd (path from $SMSPROVD) with site code LAB, on a new PostgreSQL
 * database of its own when $SMSPROV_TEST_POSTGRESQL is set (tests/helpers/pg-server.sh). */
int test_env_start(TestEnv *env);
/* The same with another dbus-daemon configuration file from tests/bus/. */
int test_env_start_with_bus_config(TestEnv *env, const char *bus_config);
/* A second host of the site of `other`, which runs on PostgreSQL: a world of its own (directory,
 * private bus, smsprovd) whose daemon serves other's database, and other's library directory
 * when it has one. */
int test_env_start_sharing(TestEnv *env, const TestEnv *other);
/* Two hosts of one site (they need PostgreSQL): a, then b sharing a's database, and with `library`
 * (a folder's name in a's directory; NULL for none) both with that --library-dir. */
int test_env_start_two_hosts(TestEnv *a, TestEnv *b, const char *library);
int test_env_stop_two_hosts(TestEnv *a, TestEnv *b);
/* Starts or restarts only the daemon; extra arguments are appended (NULL-terminated). */
int test_env_start_daemon(TestEnv *env, const char *const *extra_args);
/* Starts the daemon as test_env_start_daemon() does, with NOTIFY_SOCKET naming a socket of the
 * test's, and returns at once: test_env_notified() waits for what the daemon tells the service
 * manager next (sd_notify(): "STATUS=…", "READY=1\nSTATUS=…"), and returns NULL (the daemon
 * reaped) when the daemon exits first. */
int test_env_spawn_daemon_notifying(TestEnv *env);
char *test_env_notified(TestEnv *env);
/* Sends sig to the daemon and reaps it. After SIGTERM the daemon must have exited 0 (clean
 * shutdown, no sanitizer report); otherwise a negative errno is returned. */
int test_env_stop_daemon(TestEnv *env, int sig);
int test_env_stop(TestEnv *env);

/* A new string, formatted as printf() does; the test fails when it cannot be made. */
char *test_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Path of a file inside the content root; the result is owned by the caller. */
char *test_env_content_path(const TestEnv *env, const char *name);
/* Makes an x64 WinPE WIM with a SYSTEM hive in the content root (test_make_winpe_wim(), with
 * `filler_bytes` and `compress`), failing the test when it cannot, and returns its path. */
char *test_env_make_wim(const TestEnv *env, const char *name, uint64_t filler_bytes, bool compress);
/* Writes a small file with the given text into the content root and returns its path. */
char *test_env_make_file(const TestEnv *env, const char *name, const char *text);
/* Opens the site database in the state directory and fails the test unless PRAGMA
 * integrity_check answers "ok"; on PostgreSQL, unless the site row can be read. */
void test_env_check_database(const TestEnv *env);
/* The site database as the daemon's own, whichever the backend: site.db in the state directory,
 * or env's PostgreSQL database. The SQL must read the same on both: PostgreSQL's columns are
 * mixed-case ("State", "SubmitTime"), so they are quoted, which SQLite accepts as well.
 * test_env_db_number() gives the first column of the first row (a count); test_env_db_exec() runs
 * statements. Either fails the test when the SQL fails. */
long test_env_db_number(const TestEnv *env, const char *sql);
void test_env_db_exec(const TestEnv *env, const char *sql);
/* Fills the file system of dir with one file there, written until no byte more fits, and returns
 * its path, to unlink() for room again (owned by the caller). */
char *test_fill_file_system(const char *dir);
/* How many files below dir the find(1) expression matches (999 when find's output cannot be
 * read), e.g. test_count_files(dir, "-name '.*tmp-*'"). */
size_t test_count_files(const char *dir, const char *find_expr);

/* Convenience wrappers around sd-bus, with the smsprovd names filled in. Every method call waits
 * this long for its reply: long enough for a loaded machine and a sanitizer build. */
#define TEST_CALL_TIMEOUT_USEC (120 * 1000000ULL)

/* Calls a method; types and the arguments after it are an sd_bus_message_append() format and its
 * values (none when types is NULL). Returns what sd_bus_call() returns. */
int test_call(TestEnv *env, const char *path, const char *iface, const char *method, sd_bus_error *error,
              sd_bus_message **reply, const char *types, ...);
/* The same for tests that check error names: returns NULL on success (the reply in *reply when reply
 * is not NULL) or the D-Bus error name (a static buffer, overwritten by the next failed call). A
 * call that cannot be made (a message that cannot be built) fails the test. With
 * $SMSPROV_TEST_VERBOSE set, errors are printed. */
const char *test_invoke(TestEnv *env, const char *path, const char *iface, const char *method, sd_bus_message **reply,
                        const char *types, ...);
/* Creates an instance; props is an sd_bus_message_append() format for the a{sv} body, e.g.
 * "{sv}{sv}" "Name", "s", "x", "ImagePath", "s", path; n is the number of entries. Returns the
 * error name (static string, NULL on success) and fills ret_path and ret_job (the job's path, "/"
 * when Create started none) where they are not NULL; both are owned by the caller. */
const char *test_create(TestEnv *env, const char *class_name, char **ret_path, char **ret_job, unsigned n,
                        const char *props, ...);
/* Does the PropertiesChanged signal m name `property`, changed or invalidated? */
bool test_properties_changed_names(sd_bus_message *m, const char *property);
/* Name of the D-Bus error of a failed call, or NULL when it succeeded. */
const char *test_error_name(const sd_bus_error *error);

/* A second client connection to the private bus, authenticated already (the bus drops a
 * connection that stays idle before it is); the caller closes it with sd_bus_flush_close_unref. */
sd_bus *test_connect_client(TestEnv *env);
/* Fails the test unless a Get of Site.SiteCode through `bus` is answered with `expected`: the
 * daemon's event loop is free while whatever the test holds is held. */
void test_assert_site_code(sd_bus *bus, const char *expected);

/* Property reads that must succeed (a failure fails the test); the string is owned by the caller. */
char *test_get_string(TestEnv *env, const char *path, const char *iface, const char *prop);
uint32_t test_get_u32(TestEnv *env, const char *path, const char *iface, const char *prop);

/* Waiting for a state: every wait looks at the state again and again until it holds, and fails
 * the test only when TEST_WAIT_USEC have passed, which no working daemon comes near even on a
 * loaded machine or in the sanitizer build: the deadline turns a hang into a failure and decides
 * nothing else. test_deadline() starts one; test_deadline_passed() pauses briefly and says
 * whether it has passed. */
#define TEST_WAIT_USEC (300 * 1000000ULL)
uint64_t test_deadline(void);
bool test_deadline_passed(uint64_t deadline);
/* Waits until cond holds; on the deadline fails the test with "timed out waiting for <what>",
 * what being a printf format and its arguments. Needs <cmocka.h>. */
#define TEST_WAIT_UNTIL(cond, ...)                                                                 \
        do {                                                                                       \
                uint64_t _deadline_ = test_deadline();                                             \
                while (!(cond))                                                                    \
                        if (test_deadline_passed(_deadline_)) {                                    \
                                char _what_[4096];                                                 \
                                snprintf(_what_, sizeof _what_, __VA_ARGS__);                      \
                                fail_msg("%s:%d: timed out after %llu s waiting for %s (the "       \
                                         "daemon's log is this test's output above)",              \
                                         __FILE__, __LINE__, TEST_WAIT_USEC / 1000000ULL, _what_); \
                        }                                                                          \
        } while (0)

/* The same for a state that signals change: handles what the client connection has received (or
 * waits up to 10 ms for it) before each look. */
void test_bus_step(sd_bus *bus);
#define TEST_BUS_WAIT_UNTIL(bus, cond, ...) TEST_WAIT_UNTIL((test_bus_step(bus), (cond)), __VA_ARGS__)

/* Test points (the daemon's --test-hold-dir, src/jobs/test-point.c): so that a test never races
 * a job. Every job passes the point named after its Operation ("UpdateImage",
 * "AddDistributionPoints", …) as it starts running, a deferred call "call.<Member>"
 * ("call.GetImageProperties"), and some work has points of its own.
 * test_hold() makes jobs that reach the point wait there, as running, until test_release()
 * (or until they are canceled); test_wait_held() waits until the given job waits at the point
 * and the daemon reports it running. test_kill_at() makes the daemon SIGKILL itself at the point. */
void test_hold(const TestEnv *env, const char *point);
void test_release(const TestEnv *env, const char *point);
void test_wait_held(TestEnv *env, const char *point, const char *job);
void test_kill_at(const TestEnv *env, const char *point, bool on);

/* Deferred calls have no Job object to name: waits until n of them wait at the test point
 * ("call.Put"), counting its ".held" files. */
void test_wait_held_calls(TestEnv *env, const char *point, unsigned n);

/* A call sent without waiting for its reply (test_send_call(); `types` and the arguments as for
 * sd_bus_message_append()). The reply lands in .reply while the connection is processed:
 * test_await() processes it until then, the client's call timeout (TEST_CALL_TIMEOUT_USEC) its
 * only deadline, which fails the test with a timeout error. */
typedef struct TestPending {
        const char *what;
        sd_bus_message *reply;
} TestPending;
void test_send_call(sd_bus *bus, TestPending *p, const char *what, const char *path, const char *iface,
                    const char *method, const char *types, ...);
sd_bus_message *test_await(sd_bus *bus, TestPending *p);
/* The reply must be a method return. */
void test_expect_ok(sd_bus *bus, TestPending *p);
void test_pending_done(TestPending *p, size_t n);

/* The job path a reply starts with (UpdateImage's "o"), copied; the reply is unreferenced. */
char *test_job_of(sd_bus_message *reply);

/* Waits for a job to end and returns its State (2 completed, 3 failed, 4 canceled);
 * with ret_error_name, also its ErrorName ("" when none; owned by the caller). A job that does not
 * end in time fails the test. */
uint32_t test_wait_job(TestEnv *env, const char *job, char **ret_error_name);

/* Runs a WQL query (Site.ExecQuery) that must succeed and returns how many rows it gave. */
size_t test_count_rows(TestEnv *env, const char *wql);
/* The same from another client's connection. */
size_t test_count_rows_on(sd_bus *bus, const char *wql);
/* State of a package on the DP whose ServerNALPath is nal (its SMS_PackageStatusDistPointsSummarizer
 * row), with its SourceVersion in *ret_version when not NULL; -1 when there is no row. */
int test_dp_state(TestEnv *env, const char *package_id, const char *nal, uint32_t *ret_version);

/* The whole file (NUL-terminated, its size in *ret_size), opened with O_RDONLY | flags (O_NOFOLLOW
 * to refuse a symlink, say); NULL when it cannot be opened. Owned by the caller. */
char *test_read_file(const char *path, int flags, size_t *ret_size);

#define SMSPROV_ERR(name) "org.smsprov.Provider1.Error." name
