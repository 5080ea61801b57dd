/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "test-env.h"
#include "../helpers/test-db.h"
#include "../helpers/wim-gen.h"

static void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

uint64_t test_deadline(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000 + TEST_WAIT_USEC;
}

void test_bus_step(sd_bus *bus) {
        if (sd_bus_process(bus, NULL) == 0)
                (void) sd_bus_wait(bus, 10000);
}

bool test_deadline_passed(uint64_t deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if ((uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000 >= deadline)
                return true;
        sleep_ms(5); /* the pause between two looks at a state */
        return false;
}

static pid_t spawn(char *const argv[]) {
        pid_t pid = fork();
        if (pid == 0) {
                execv(argv[0], argv);
                execvp(argv[0], argv);
                _exit(127);
        }
        return pid;
}

static char *join(const char *a, const char *b) {
        char *s = NULL;
        if (asprintf(&s, "%s/%s", a, b) < 0)
                abort();
        return s;
}

static int env_start(TestEnv *env, const char *bus_config, const char *database, const char *library_dir);

int test_env_start(TestEnv *env) {
        return env_start(env, "test-bus.conf", NULL, NULL);
}

int test_env_start_with_bus_config(TestEnv *env, const char *bus_config) {
        return env_start(env, bus_config, NULL, NULL);
}

int test_env_start_sharing(TestEnv *env, const TestEnv *other) {
        assert_non_null(other->database);
        return env_start(env, "test-bus.conf", other->database, other->library_dir);
}

int test_env_start_two_hosts(TestEnv *a, TestEnv *b, const char *library) {
        int r = test_env_start(a);
        if (r >= 0 && library) {
                r = test_env_stop_daemon(a, SIGTERM);
                if (r >= 0 && asprintf(&a->library_dir, "%s/%s", a->dir, library) < 0)
                        r = -ENOMEM;
                if (r >= 0)
                        r = test_env_start_daemon(a, NULL);
        }
        return r < 0 ? r : test_env_start_sharing(b, a);
}

int test_env_stop_two_hosts(TestEnv *a, TestEnv *b) {
        int r = test_env_stop(b);
        return test_env_stop(a) < 0 || r < 0 ? -1 : 0;
}

/* database: NULL for a new one (test_db_new(), NULL again on SQLite); library_dir: NULL for none. */
static int env_start(TestEnv *env, const char *bus_config, const char *database, const char *library_dir) {
        const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        char *bus_path, *listen;
        struct stat st;

        *env = (TestEnv) { .dbus_pid = -1, .daemon_pid = -1 };
        if (asprintf(&env->dir, "%s/smsprov-test.XXXXXX", tmp) < 0 || !mkdtemp(env->dir))
                return -errno;
        /* Other users (the denied-caller tests run a client as nobody) must reach the socket. */
        chmod(env->dir, 0755);
        env->state_dir = join(env->dir, "state");
        env->database = database ? strdup(database) : test_db_new();
        if (database && !env->database)
                return -ENOMEM;
        if (library_dir && !(env->library_dir = strdup(library_dir)))
                return -ENOMEM;
        env->content_dir = join(env->dir, "content");
        if (mkdir(env->content_dir, 0755) < 0)
                return -errno;

        /* The stand-in deployment kit and OSD binaries (tools/stand-in-kit.sh). */
        char *kit = NULL;
        if (asprintf(&kit, "'%s/tools/stand-in-kit.sh' '%s/adk' '%s/osd-bin'",
                     getenv("SOURCE_ROOT") ? getenv("SOURCE_ROOT") : ".", env->dir, env->dir) < 0)
                abort();
        pid_t kit_pid = fork();
        if (kit_pid == 0) {
                execlp("bash", "bash", "-c", kit, NULL);
                _exit(127);
        }
        waitpid(kit_pid, NULL, 0);
        free(kit);

        fprintf(stderr, "# smsprovd and dbus-daemon log to this test's standard error (meson keeps it in "
                        "meson-logs/testlog.txt); the test's files are in %s (kept with SMSPROV_TEST_KEEP=1)\n",
                env->dir);
        /* Test points (--test-hold-dir): every daemon of a bus test can be held. */
        env->hold_dir = join(env->dir, "holds");
        if (mkdir(env->hold_dir, 0755) < 0)
                return -errno;

        bus_path = join(env->dir, "bus");
        if (asprintf(&listen, "--address=unix:path=%s", bus_path) < 0 ||
            asprintf(&env->address, "unix:path=%s", bus_path) < 0)
                abort();
        char *config = NULL;
        if (asprintf(&config, "--config-file=%s/tests/bus/%s", getenv("SOURCE_ROOT") ? getenv("SOURCE_ROOT") : ".",
                     bus_config) < 0)
                abort();
        /* dbus-daemon prints its address once it listens: the socket file alone shows up before
         * that (bind, then listen). */
        int ready[2];
        char *print_address = NULL;
        if (pipe2(ready, O_CLOEXEC) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid == 0) {
                if (asprintf(&print_address, "--print-address=%d", ready[1]) < 0)
                        _exit(127);
                fcntl(ready[1], F_SETFD, 0);
                execlp("dbus-daemon", "dbus-daemon", config, "--nofork", "--nopidfile", "--nosyslog", listen,
                       print_address, NULL);
                _exit(127);
        }
        env->dbus_pid = pid;
        close(ready[1]);
        char c;
        while (read(ready[0], &c, 1) == 1 && c != '\n')
                ;
        close(ready[0]);
        free(listen);
        free(config);
        if (stat(bus_path, &st) < 0) {
                free(bus_path);
                return -ENOTCONN;
        }
        free(bus_path);

        return test_env_start_daemon(env, NULL);
}

/* Starts smsprovd on env's bus and database, without waiting for anything. */
static int spawn_daemon(TestEnv *env, const char *const *extra_args) {
        const char *daemon = getenv("SMSPROVD");
        char *argv[32];
        size_t n = 0;

        if (!daemon) {
                fprintf(stderr, "SMSPROVD is not set\n");
                return -EINVAL;
        }
        argv[n++] = (char *) daemon;
        if (asprintf(&argv[n++], "--bus-address=%s", env->address) < 0 ||
            asprintf(&argv[n++], "--state-dir=%s", env->state_dir) < 0 ||
            asprintf(&argv[n++], "--content-root=%s", env->content_dir) < 0 ||
            /* Tests make their distribution points in the world's directory; what overlaps the
             * state directory or the content root is refused there all the same. */
            asprintf(&argv[n++], "--dp-root=%s", env->dir) < 0)
                abort();
        if (asprintf(&argv[n++], "--adk-root=%s/adk", env->dir) < 0 ||
            asprintf(&argv[n++], "--osd-bin-root=%s/osd-bin", env->dir) < 0 ||
            asprintf(&argv[n++], "--test-hold-dir=%s", env->hold_dir) < 0)
                abort();
        if (env->database && asprintf(&argv[n++], "--database=%s", env->database) < 0)
                abort();
        if (env->library_dir && asprintf(&argv[n++], "--library-dir=%s", env->library_dir) < 0)
                abort();
        size_t n_allocated = n;
        argv[n++] = "--site-code=LAB";
        argv[n++] = "--log-level=warning";
        for (const char *const *a = extra_args; a && *a && n < 30; a++)
                argv[n++] = (char *) *a;
        argv[n] = NULL;
        env->daemon_pid = spawn(argv);
        for (size_t i = 1; i < n_allocated; i++)
                free(argv[i]);
        return env->daemon_pid > 0 ? 0 : -errno;
}

static int connect_client(TestEnv *env) {
        int r = 0;

        if (!env->bus) {
                r = sd_bus_new(&env->bus);
                if (r >= 0)
                        r = sd_bus_set_address(env->bus, env->address);
                if (r >= 0)
                        r = sd_bus_set_bus_client(env->bus, 1);
                if (r >= 0)
                        r = sd_bus_start(env->bus);
        }
        return r;
}

int test_env_start_daemon(TestEnv *env, const char *const *extra_args) {
        int r = spawn_daemon(env, extra_args);
        if (r >= 0)
                r = connect_client(env);
        if (r < 0)
                return r;

        /* Wait until the name is owned: the daemon requests it last. */
        for (uint64_t d = test_deadline(); !test_deadline_passed(d);) {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                int has = 0, status;

                r = sd_bus_call_method(env->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner", &error, &reply, "s",
                                       "org.smsprov.Provider1");
                if (r >= 0)
                        sd_bus_message_read(reply, "b", &has);
                sd_bus_message_unref(reply);
                sd_bus_error_free(&error);
                if (has)
                        return 0;
                if (waitpid(env->daemon_pid, &status, WNOHANG) == env->daemon_pid) {
                        env->daemon_pid = -1;
                        return -ECHILD;
                }
        }
        return -ETIMEDOUT;
}

int test_env_spawn_daemon_notifying(TestEnv *env) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int r;

        if (!env->notify_fd) {
                env->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                if (env->notify_fd < 0 ||
                    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/notify", env->dir) >= (int) sizeof sa.sun_path ||
                    bind(env->notify_fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                        return -errno;
        }
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s/notify", env->dir);
        /* The child takes its environment from ours at fork(). */
        setenv("NOTIFY_SOCKET", sa.sun_path, 1);
        r = spawn_daemon(env, NULL);
        unsetenv("NOTIFY_SOCKET");
        return r < 0 ? r : connect_client(env);
}

char *test_env_notified(TestEnv *env) {
        char buf[4096];
        int pidfd = (int) syscall(SYS_pidfd_open, env->daemon_pid, 0);

        assert_true(pidfd >= 0);
        for (;;) {
                struct pollfd p[2] = { { .fd = env->notify_fd, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
                /* The client's call timeout is the only deadline: it turns a hang into a failure. */
                int n = poll(p, 2, (int) (TEST_CALL_TIMEOUT_USEC / 1000));
                assert_true(n > 0);
                if (p[0].revents & POLLIN) {
                        ssize_t len = recv(env->notify_fd, buf, sizeof buf - 1, 0);
                        assert_true(len >= 0);
                        buf[len] = 0;
                        close(pidfd);
                        return strdup(buf);
                }
                if (p[1].revents & POLLIN) {
                        int status = 0;
                        waitpid(env->daemon_pid, &status, 0);
                        env->daemon_pid = -1;
                        close(pidfd);
                        fprintf(stderr, "smsprovd exited (status 0x%x) before it told the service manager anything\n",
                                (unsigned) status);
                        return NULL;
                }
        }
}

int test_env_stop_daemon(TestEnv *env, int sig) {
        int status = 0;

        if (env->daemon_pid <= 0)
                return 0;
        kill(env->daemon_pid, sig);
        waitpid(env->daemon_pid, &status, 0);
        env->daemon_pid = -1;
        /* A clean stop must exit 0: under the sanitizers a leak or an error turns it non-zero. */
        if (sig == SIGTERM && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
                fprintf(stderr, "smsprovd did not stop cleanly (status 0x%x)\n", (unsigned) status);
                return -EPROTO;
        }
        return 0;
}

static void rm_rf(const char *path) {
        pid_t pid = fork();
        if (pid == 0) {
                execlp("rm", "rm", "-rf", "--", path, NULL);
                _exit(127);
        }
        waitpid(pid, NULL, 0);
}

int test_env_stop(TestEnv *env) {
        int r = test_env_stop_daemon(env, SIGTERM);
        sd_bus_flush_close_unref(env->bus);
        if (env->dbus_pid > 0) {
                kill(env->dbus_pid, SIGTERM);
                waitpid(env->dbus_pid, NULL, 0);
        }
        if (env->dir && !getenv("SMSPROV_TEST_KEEP"))
                rm_rf(env->dir);
        free(env->dir);
        free(env->address);
        free(env->state_dir);
        free(env->content_dir);
        free(env->hold_dir);
        free(env->database);
        free(env->library_dir);
        if (env->notify_fd > 0)
                close(env->notify_fd);
        *env = (TestEnv) {};
        return r;
}

char *test_strf(const char *fmt, ...) {
        char *s = NULL;
        va_list ap;

        va_start(ap, fmt);
        assert_true(vasprintf(&s, fmt, ap) > 0);
        va_end(ap);
        return s;
}

char *test_env_content_path(const TestEnv *env, const char *name) {
        return join(env->content_dir, name);
}

char *test_env_make_wim(const TestEnv *env, const char *name, uint64_t filler_bytes, bool compress) {
        char *path = test_env_content_path(env, name);
        assert_int_equal(test_make_winpe_wim(path, "9", true, filler_bytes, compress), 0);
        return path;
}

char *test_env_make_file(const TestEnv *env, const char *name, const char *text) {
        char *path = test_env_content_path(env, name);
        FILE *f = fopen(path, "we");
        if (!f)
                abort();
        fputs(text, f);
        fclose(f);
        return path;
}

void test_env_check_database(const TestEnv *env) {
        char *path = join(env->state_dir, "site.db");
        sqlite3 *db;
        sqlite3_stmt *st;

        if (env->database) {
                /* PostgreSQL checks its own pages; what a test can ask is that the site answers. */
                test_db_exec(env->database, "SELECT site_code FROM site WHERE id = 1");
                free(path);
                return;
        }
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *) sqlite3_column_text(st, 0), "ok");
        sqlite3_finalize(st);
        sqlite3_close(db);
        free(path);
}

/* site.db in the state directory, opened read-only for a number, read-write for a change. */
static sqlite3 *open_site_db(const TestEnv *env, int flags) {
        char *path = join(env->state_dir, "site.db");
        sqlite3 *db = NULL;

        assert_int_equal(sqlite3_open_v2(path, &db, flags, NULL), SQLITE_OK);
        free(path);
        return db;
}

long test_env_db_number(const TestEnv *env, const char *sql) {
        if (env->database)
                return test_db_number(env->database, sql);
        sqlite3 *db = open_site_db(env, SQLITE_OPEN_READONLY);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
                fail_msg("%s: %s", sql, sqlite3_errmsg(db));
        long n = (long) sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return n;
}

void test_env_db_exec(const TestEnv *env, const char *sql) {
        if (env->database) {
                test_db_exec(env->database, sql);
                return;
        }
        sqlite3 *db = open_site_db(env, SQLITE_OPEN_READWRITE);
        char *err = NULL;
        if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
                fail_msg("%s: %s", sql, err);
        sqlite3_close(db);
}

char *test_fill_file_system(const char *dir) {
        static char block[65536];
        char *filler = join(dir, "filler");
        int fd = open(filler, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

        assert_true(fd >= 0);
        while (write(fd, block, sizeof block) > 0)
                ;
        close(fd);
        return filler;
}

size_t test_count_files(const char *dir, const char *find_expr) {
        char *cmd = NULL;
        size_t n = 0;

        assert_true(asprintf(&cmd, "find '%s' %s 2>/dev/null | wc -l", dir, find_expr) > 0);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        if (fscanf(p, "%zu", &n) != 1)
                n = 999;
        pclose(p);
        free(cmd);
        return n;
}

/* Builds a method call to the daemon (its arguments appended unless types is NULL) and sends it.
 * Returns what sd_bus_call() returns, or the error of building the message (error left unset). */
static int callv(TestEnv *env, const char *path, const char *iface, const char *method, sd_bus_error *error,
                 sd_bus_message **reply, const char *types, va_list ap) {
        sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(env->bus, &m, "org.smsprov.Provider1", path, iface, method);
        if (r >= 0 && types)
                r = sd_bus_message_appendv(m, types, ap);
        if (r >= 0)
                r = sd_bus_call(env->bus, m, TEST_CALL_TIMEOUT_USEC, error, reply);
        sd_bus_message_unref(m);
        return r;
}

/* Copies the name of a failed call's error into buf (printing it with its message under
 * $SMSPROV_TEST_VERBOSE) and frees the error. */
static const char *error_name_of(sd_bus_error *error, const char *what, char *buf, size_t size) {
        snprintf(buf, size, "%s", error->name ? error->name : "(no error name)");
        if (getenv("SMSPROV_TEST_VERBOSE"))
                fprintf(stderr, "%s: %s: %s\n", what, buf, error->message ? error->message : "");
        sd_bus_error_free(error);
        return buf;
}

bool test_properties_changed_names(sd_bus_message *m, const char *property) {
        const char *iface, *name;
        char **invalidated = NULL;
        bool named = false;

        assert_true(sd_bus_message_read(m, "s", &iface) > 0);
        assert_true(sd_bus_message_enter_container(m, 'a', "{sv}") > 0);
        while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                assert_true(sd_bus_message_read(m, "s", &name) > 0);
                named |= strcmp(name, property) == 0;
                assert_true(sd_bus_message_skip(m, "v") >= 0);
                assert_true(sd_bus_message_exit_container(m) >= 0);
        }
        assert_true(sd_bus_message_exit_container(m) >= 0);
        assert_true(sd_bus_message_read_strv(m, &invalidated) >= 0);
        for (char **i = invalidated; i && *i; i++) {
                named |= strcmp(*i, property) == 0;
                free(*i);
        }
        free(invalidated);
        return named;
}

int test_call(TestEnv *env, const char *path, const char *iface, const char *method, sd_bus_error *error,
              sd_bus_message **reply, const char *types, ...) {
        va_list ap;
        int r;

        va_start(ap, types);
        r = callv(env, path, iface, method, error, reply, types, ap);
        va_end(ap);
        return r;
}

const char *test_invoke(TestEnv *env, const char *path, const char *iface, const char *method, sd_bus_message **reply,
                        const char *types, ...) {
        static char name[256];
        sd_bus_error error = SD_BUS_ERROR_NULL;
        va_list ap;
        int r;

        va_start(ap, types);
        r = callv(env, path, iface, method, &error, reply, types, ap);
        va_end(ap);
        if (r >= 0)
                return NULL;
        /* sd_bus_call() names the error of every call it makes: an unnamed one is a call never made
         * (a message that could not be built). */
        if (!sd_bus_error_is_set(&error))
                fail_msg("%s: cannot make the call: %s", method, strerror(-r));
        return error_name_of(&error, method, name, sizeof name);
}

const char *test_error_name(const sd_bus_error *error) {
        return sd_bus_error_is_set(error) ? error->name : NULL;
}

sd_bus *test_connect_client(TestEnv *env) {
        sd_bus *bus = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;

        assert_int_equal(sd_bus_new(&bus), 0);
        assert_true(sd_bus_set_address(bus, env->address) >= 0);
        assert_true(sd_bus_set_bus_client(bus, true) >= 0);
        assert_true(sd_bus_start(bus) >= 0);
        if (sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.Peer", "Ping",
                               &error, NULL, NULL) < 0)
                fail_msg("Ping of the bus: %s", error.message);
        return bus;
}

void test_assert_site_code(sd_bus *bus, const char *expected) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char *code = NULL;

        if (sd_bus_get_property_string(bus, "org.smsprov.Provider1", "/org/smsprov/Provider1",
                                       "org.smsprov.Provider1.Site", "SiteCode", &error, &code) < 0)
                fail_msg("Get SiteCode from a second client: %s", error.message);
        assert_string_equal(code, expected);
        free(code);
}

const char *test_create(TestEnv *env, const char *class_name, char **ret_path, char **ret_job, unsigned n,
                        const char *props, ...) {
        static char name[256];
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        char path[256], what[256];
        const char *p, *job;
        va_list ap;
        int r;

        snprintf(path, sizeof path, "/org/smsprov/Provider1/class/%s", class_name);
        assert_int_equal(sd_bus_message_new_method_call(env->bus, &m, "org.smsprov.Provider1", path,
                                                        "org.smsprov.Provider1.Class", "Create"),
                         0);
        assert_true(sd_bus_message_open_container(m, 'a', "{sv}") >= 0);
        if (n > 0) {
                va_start(ap, props);
                r = sd_bus_message_appendv(m, props, ap);
                va_end(ap);
                assert_true(r >= 0);
        }
        assert_true(sd_bus_message_close_container(m) >= 0);
        r = sd_bus_call(env->bus, m, TEST_CALL_TIMEOUT_USEC, &error, &reply);
        sd_bus_message_unref(m);
        if (r < 0) {
                snprintf(what, sizeof what, "Create %s", class_name);
                return error_name_of(&error, what, name, sizeof name);
        }
        assert_true(sd_bus_message_read(reply, "oo", &p, &job) > 0);
        if (ret_path)
                *ret_path = strdup(p);
        if (ret_job)
                *ret_job = strdup(job);
        sd_bus_message_unref(reply);
        return NULL;
}

char *test_get_string(TestEnv *env, const char *path, const char *iface, const char *prop) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char *s = NULL;

        if (sd_bus_get_property_string(env->bus, "org.smsprov.Provider1", path, iface, prop, &error, &s) < 0)
                fail_msg("Get %s.%s: %s", iface, prop, error.message);
        return s;
}

uint32_t test_get_u32(TestEnv *env, const char *path, const char *iface, const char *prop) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint32_t u = 0;

        if (sd_bus_get_property_trivial(env->bus, "org.smsprov.Provider1", path, iface, prop, &error, 'u', &u) < 0)
                fail_msg("Get %s.%s: %s", iface, prop, error.message);
        return u;
}

uint32_t test_wait_job(TestEnv *env, const char *job, char **ret_error_name) {
        uint32_t state = 0;

        TEST_WAIT_UNTIL((state = test_get_u32(env, job, "org.smsprov.Provider1.Job", "State")) >= 2,
                        "job %s to end (State %u)", job, state);
        if (ret_error_name)
                *ret_error_name = test_get_string(env, job, "org.smsprov.Provider1.Job", "ErrorName");
        return state;
}

/* Test points: DIR/<point> holds, DIR/<point>.<id>.held says a job waits there, DIR/<point>.kill
 * kills the daemon there (src/jobs/test-point.c). */
static char *point_file(const TestEnv *env, const char *point, const char *suffix) {
        char *s = NULL;
        if (asprintf(&s, "%s/%s%s", env->hold_dir, point, suffix) < 0)
                abort();
        return s;
}

static void touch(const char *path) {
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                fail_msg("cannot create %s: %s", path, strerror(errno));
        close(fd);
}

void test_hold(const TestEnv *env, const char *point) {
        char *f = point_file(env, point, "");
        touch(f);
        free(f);
}

void test_release(const TestEnv *env, const char *point) {
        char *f = point_file(env, point, "");
        if (unlink(f) < 0 && errno != ENOENT)
                fail_msg("cannot remove %s: %s", f, strerror(errno));
        free(f);
}

void test_kill_at(const TestEnv *env, const char *point, bool on) {
        char *f = point_file(env, point, ".kill");
        if (on)
                touch(f);
        else if (unlink(f) < 0 && errno != ENOENT)
                fail_msg("cannot remove %s: %s", f, strerror(errno));
        free(f);
}

/* Files "<point>.<id>.held" in the hold directory. */
static unsigned count_held(const char *dir, const char *point, size_t len) {
        DIR *d = opendir(dir);
        unsigned n = 0;

        if (!d)
                fail_msg("cannot read the test hold directory %s: %s", dir, strerror(errno));
        for (struct dirent *de; (de = readdir(d));) {
                size_t l = strlen(de->d_name);
                n += strncmp(de->d_name, point, len) == 0 && de->d_name[len] == '.' && l > len + 5 &&
                     strcmp(de->d_name + l - 5, ".held") == 0;
        }
        closedir(d);
        return n;
}

void test_wait_held(TestEnv *env, const char *point, const char *job) {
        const char *id = strrchr(job, '_');
        struct stat st;
        uint32_t state = 0;
        char *suffix = NULL, *f;

        if (!id || asprintf(&suffix, ".%s.held", id + 1) < 0)
                fail_msg("%s is not a job path", job);
        f = point_file(env, point, suffix);
        TEST_WAIT_UNTIL(stat(f, &st) == 0, "job %s to be held at test point %s (%s)", job, point, f);
        /* The worker is held; wait until the main thread has published it as running too. */
        TEST_WAIT_UNTIL((state = test_get_u32(env, job, "org.smsprov.Provider1.Job", "State")) == 1,
                        "held job %s to be running (State %u)", job, state);
        free(f);
        free(suffix);
}

void test_wait_held_calls(TestEnv *env, const char *point, unsigned n) {
        size_t len = strlen(point);
        unsigned held = 0;

        TEST_WAIT_UNTIL((held = count_held(env->hold_dir, point, len)) >= n,
                        "%u calls to be held at test point %s (%u are)", n, point, held);
}

static int on_pending_reply(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        ((TestPending *) userdata)->reply = sd_bus_message_ref(reply);
        return 0;
}

void test_send_call(sd_bus *bus, TestPending *p, const char *what, const char *path, const char *iface,
                    const char *method, const char *types, ...) {
        sd_bus_message *m = NULL;
        va_list ap;

        *p = (TestPending) { .what = what };
        assert_int_equal(sd_bus_message_new_method_call(bus, &m, "org.smsprov.Provider1", path, iface, method), 0);
        va_start(ap, types);
        int r = types ? sd_bus_message_appendv(m, types, ap) : 0;
        va_end(ap);
        assert_true(r >= 0);
        assert_true(sd_bus_call_async(bus, NULL, m, on_pending_reply, p, TEST_CALL_TIMEOUT_USEC) >= 0);
        sd_bus_message_unref(m);
}

sd_bus_message *test_await(sd_bus *bus, TestPending *p) {
        while (!p->reply) {
                int r = sd_bus_process(bus, NULL);
                assert_true(r >= 0);
                if (r == 0)
                        assert_true(sd_bus_wait(bus, UINT64_MAX) >= 0);
        }
        return p->reply;
}

void test_expect_ok(sd_bus *bus, TestPending *p) {
        const sd_bus_error *e = sd_bus_message_get_error(test_await(bus, p));
        if (e)
                fail_msg("%s: expected an answer, got %s: %s (the daemon's log is this test's output above)", p->what,
                         e->name, e->message);
}

void test_pending_done(TestPending *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                p[i].reply = sd_bus_message_unref(p[i].reply);
}

char *test_job_of(sd_bus_message *reply) {
        const char *j;
        assert_true(sd_bus_message_read(reply, "o", &j) > 0);
        char *job = strdup(j);
        assert_non_null(job);
        sd_bus_message_unref(reply);
        return job;
}

size_t test_count_rows_on(sd_bus *bus, const char *wql) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        size_t n = 0;

        sd_bus_message *m = NULL;

        assert_int_equal(sd_bus_message_new_method_call(bus, &m, "org.smsprov.Provider1", "/org/smsprov/Provider1",
                                                        "org.smsprov.Provider1.Site", "ExecQuery"),
                         0);
        assert_true(sd_bus_message_append(m, "s", wql) >= 0);
        if (sd_bus_call(bus, m, TEST_CALL_TIMEOUT_USEC, &error, &reply) < 0)
                fail_msg("ExecQuery %s: %s: %s", wql, error.name, error.message);
        sd_bus_message_unref(m);
        assert_true(sd_bus_message_enter_container(reply, 'a', "(oa{sv})") > 0);
        while (sd_bus_message_skip(reply, "(oa{sv})") > 0)
                n++;
        sd_bus_message_unref(reply);
        return n;
}

size_t test_count_rows(TestEnv *env, const char *wql) {
        return test_count_rows_on(env->bus, wql);
}

int test_dp_state(TestEnv *env, const char *package_id, const char *nal, uint32_t *ret_version) {
        sd_bus_message *reply = NULL;
        char *esc, *w, *wql;
        int state = -1;

        /* WQL strings escape a backslash and a quote with a backslash. */
        esc = w = malloc(strlen(nal) * 2 + 1);
        assert_non_null(esc);
        for (const char *p = nal; *p; p++) {
                if (*p == '\\' || *p == '\'')
                        *w++ = '\\';
                *w++ = *p;
        }
        *w = 0;
        assert_true(asprintf(&wql,
                             "SELECT State, SourceVersion FROM SMS_PackageStatusDistPointsSummarizer "
                             "WHERE PackageID = '%s' AND ServerNALPath = '%s'",
                             package_id, esc) > 0);
        free(esc);
        assert_null(test_invoke(env, "/org/smsprov/Provider1", "org.smsprov.Provider1.Site", "ExecQuery", &reply, "s",
                                wql));
        free(wql);
        assert_true(sd_bus_message_enter_container(reply, 'a', "(oa{sv})") > 0);
        if (sd_bus_message_enter_container(reply, 'r', "oa{sv}") > 0) {
                const char *path, *name;
                assert_true(sd_bus_message_read(reply, "o", &path) > 0);
                assert_true(sd_bus_message_enter_container(reply, 'a', "{sv}") > 0);
                while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                        uint32_t u;
                        assert_true(sd_bus_message_read(reply, "s", &name) > 0);
                        assert_true(sd_bus_message_read(reply, "v", "u", &u) > 0);
                        if (strcmp(name, "State") == 0)
                                state = (int) u;
                        else if (ret_version)
                                *ret_version = u;
                        assert_true(sd_bus_message_exit_container(reply) >= 0);
                }
        }
        sd_bus_message_unref(reply);
        return state;
}

char *test_read_file(const char *path, int flags, size_t *ret_size) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
        char *buf = NULL;
        size_t n = 0, allocated = 0;

        if (fd < 0)
                return NULL;
        for (;;) {
                if (n == allocated) {
                        allocated = allocated ? allocated * 2 : 1 << 16;
                        buf = realloc(buf, allocated + 1);
                        assert_non_null(buf);
                }
                ssize_t k = read(fd, buf + n, allocated - n);
                assert_true(k >= 0);
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        close(fd);
        buf[n] = 0;
        *ret_size = n;
        return buf;
}
