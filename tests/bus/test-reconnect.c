/* SPDX-License-Identifier: MIT */

/* The site database goes away and comes back (issue 16): two smsprovd hosts over one PostgreSQL
 * database of the private server tests/helpers/pg-server.sh runs for this test, which the test
 * stops, starts and restarts with pg_ctl. A daemon started while the database does not answer
 * waits for it, its bus name unclaimed, and comes up by itself once it does; a database restarted
 * under a stream of writes fails the calls of the outage with Failed and a reason, loses none that
 * succeeded, leaves none half made, and the hosts go on without a restart, other hosts' changes
 * reaching their clients as signals again. Runs under pg-server.sh only (meson:
 * reconnect-postgresql); on SQLite every case is skipped. */

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "../helpers/test-db.h"
#include "test-env.h"

#define ROOT "/org/smsprov/Provider1"
#define BASE_IFACE "org.smsprov.Provider1.SMS_PackageBaseclass"
#define IMAGE_CLASS ROOT "/class/SMS_ImagePackage"
#define ROUNDS_MAX 4096

typedef struct Hosts {
        TestEnv a, b;
} Hosts;

static bool name_has_owner(sd_bus *bus) {
        sd_bus_message *reply = NULL;
        int has = 0;

        assert_true(sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                       "NameHasOwner", NULL, &reply, "s", "org.smsprov.Provider1") >= 0);
        assert_true(sd_bus_message_read(reply, "b", &has) > 0);
        sd_bus_message_unref(reply);
        return has;
}

/* What one call answered: success, or the error's name and message. */
typedef struct Outcome {
        bool ok;
        char *error, *message;
} Outcome;

static Outcome outcome_of(int r, sd_bus_error *error) {
        Outcome o = { .ok = r >= 0 };
        if (!o.ok) {
                o.error = strdup(error->name ? error->name : "");
                o.message = strdup(error->message ? error->message : "");
        }
        sd_bus_error_free(error);
        return o;
}

static void outcome_done(Outcome *o) {
        free(o->error);
        free(o->message);
        *o = (Outcome) {};
}

/* A call of the outage: Failed, with the site database's reason. */
static void assert_failed_for_the_database(const Outcome *o, const char *what) {
        if (o->ok)
                fail_msg("%s succeeded while the site database was away", what);
        if (strcmp(o->error, SMSPROV_ERR("Failed")) != 0 || !strstr(o->message, "site database"))
                fail_msg("%s: expected Failed naming the site database, got %s: %s", what, o->error, o->message);
}

static Outcome create_named(TestEnv *env, const char *name, char **ret_path) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *path, *job;
        int r = test_call(env, IMAGE_CLASS, "org.smsprov.Provider1.Class", "Create", &error, &reply, "a{sv}", 1,
                          "Name", "s", name);
        if (r >= 0 && ret_path) {
                assert_true(sd_bus_message_read(reply, "oo", &path, &job) > 0);
                *ret_path = strdup(path);
        }
        sd_bus_message_unref(reply);
        return outcome_of(r, &error);
}

static Outcome put_description(TestEnv *env, const char *path, const char *text) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r = test_call(env, path, BASE_IFACE, "Put", &error, NULL, "a{sv}", 1, "Description", "s", text);
        return outcome_of(r, &error);
}

static Outcome exec_query(TestEnv *env, const char *wql) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r = test_call(env, ROOT, "org.smsprov.Provider1.Site", "ExecQuery", &error, NULL, "s", wql);
        return outcome_of(r, &error);
}

/* The first of these cases stops the daemon of host a: a started daemon is waited for. */
static void test_start_waits_for_the_database(void **state) {
        Hosts *h = *state;
        char *told;

        if (!h)
                skip();
        assert_int_equal(test_env_stop_daemon(&h->a, SIGTERM), 0);
        test_db_server("stop", "-m", "fast", NULL);
        /* The same database with passwords in its URI (the server trusts its users): they are
         * never told. */
        char *user = strstr(h->a.database, "smsprov@"), *uri = NULL;
        assert_non_null(user);
        assert_true(asprintf(&uri, "%.*s:secret-one@%s&password=secret-two", (int) (user + 7 - h->a.database),
                             h->a.database, user + 8) > 0);
        free(h->a.database);
        h->a.database = uri;

        /* It says what it waits for, has not claimed its name, and stops at once and cleanly. */
        assert_int_equal(test_env_spawn_daemon_notifying(&h->a), 0);
        told = test_env_notified(&h->a);
        assert_non_null(told);
        if (strncmp(told, "STATUS=Waiting for the site database", 36) != 0 || !strstr(told, "postgresql://smsprov@/"))
                fail_msg("expected the daemon to say it waits for the site database, got \"%s\"", told);
        if (strstr(told, "secret"))
                fail_msg("the daemon told a password: \"%s\"", told);
        free(told);
        assert_false(name_has_owner(h->a.bus));
        assert_int_equal(test_env_stop_daemon(&h->a, SIGTERM), 0);

        /* Started again while the server is down, it comes up by itself once the server does. */
        assert_int_equal(test_env_spawn_daemon_notifying(&h->a), 0);
        told = test_env_notified(&h->a);
        assert_non_null(told);
        assert_non_null(strstr(told, "STATUS=Waiting for the site database"));
        free(told);
        test_db_server("start", NULL);
        for (;;) {
                told = test_env_notified(&h->a);
                assert_non_null(told);
                bool ready = strncmp(told, "READY=1\n", 8) == 0;
                if (!ready && !strstr(told, "STATUS=Waiting for the site database"))
                        fail_msg("expected READY=1 or a wait for the site database, got \"%s\"", told);
                free(told);
                if (ready)
                        break;
        }
        /* Ready only with its name claimed and its objects answering. */
        assert_true(name_has_owner(h->a.bus));
        test_assert_site_code(h->a.bus, "LAB");
}

/* What host b's client heard of the package a creates after the outage. */
typedef struct Heard {
        const char *path; /* wanted */
        bool added, description;
} Heard;

static int on_interfaces_added(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Heard *h = userdata;
        const char *path = NULL;

        assert_true(sd_bus_message_read(m, "o", &path) > 0);
        h->added |= h->path && strcmp(path, h->path) == 0;
        return 0;
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Heard *h = userdata;
        h->description |= test_properties_changed_names(m, "Description");
        return 0;
}

static long db_number(const TestEnv *env, const char *format, ...) {
        char sql[1024];
        va_list ap;

        va_start(ap, format);
        vsnprintf(sql, sizeof sql, format, ap);
        va_end(ap);
        return test_db_number(env->database, sql);
}

/* A stream of Creates and Puts through host a while the server restarts (pg_ctl restart -m fast),
 * then an outage held open (stop, calls, start): the calls of the outage fail Failed with a
 * reason, every call that succeeded is in the database, none that failed is half made, and
 * afterwards both hosts answer, host b telling its clients of host a's changes again. */
static void test_database_restarted_under_load(void **state) {
        Hosts *h = *state;
        static Outcome creates[ROUNDS_MAX], puts[ROUNDS_MAX];
        sd_bus_slot *added = NULL, *changed = NULL;
        char *package = NULL, *after = NULL, name[64];
        Heard heard = {};
        size_t rounds = 0;
        int status = 0;

        if (!h)
                skip();
        assert_true(sd_bus_match_signal(h->b.bus, &added, "org.smsprov.Provider1", ROOT,
                                        "org.freedesktop.DBus.ObjectManager", "InterfacesAdded", on_interfaces_added,
                                        &heard) >= 0);
        Outcome o = create_named(&h->a, "under load", &package);
        assert_true(o.ok);
        const char *package_id = strrchr(package, '/') + 1;

        /* Under load: each round a Create and a Put, until pg_ctl is back (the server accepts
         * connections again); calls of the restart fail, as the outage below shows they must. */
        pid_t ctl = test_db_server_spawn("restart", "-m", "fast", NULL);
        for (bool restarted = false; !restarted && rounds < ROUNDS_MAX; rounds++) {
                restarted = waitpid(ctl, &status, WNOHANG) == ctl;
                snprintf(name, sizeof name, "load-%zu", rounds);
                creates[rounds] = create_named(&h->a, name, NULL);
                snprintf(name, sizeof name, "put-%zu", rounds);
                puts[rounds] = put_description(&h->a, package, name);
                if (!creates[rounds].ok)
                        assert_failed_for_the_database(&creates[rounds], "a Create during the restart");
                if (!puts[rounds].ok)
                        assert_failed_for_the_database(&puts[rounds], "a Put during the restart");
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                assert_int_equal(waitpid(ctl, &status, 0), ctl);
                fail_msg("pg_ctl restart failed (status 0x%x)", (unsigned) status);
        }

        /* An outage held open: writes and reads fail Failed, naming the database. */
        test_db_server("stop", "-m", "fast", NULL);
        o = create_named(&h->a, "in the outage", NULL);
        assert_failed_for_the_database(&o, "Create");
        outcome_done(&o);
        o = put_description(&h->a, package, "in the outage");
        assert_failed_for_the_database(&o, "Put");
        outcome_done(&o);
        o = exec_query(&h->a, "SELECT PackageID FROM SMS_ImagePackage");
        assert_failed_for_the_database(&o, "ExecQuery");
        outcome_done(&o);
        test_db_server("start", NULL);

        /* Back without a restart of either daemon. */
        o = create_named(&h->a, "after the restart", &after);
        assert_true(o.ok);
        o = exec_query(&h->b, "SELECT PackageID FROM SMS_ImagePackage");
        assert_true(o.ok);

        /* Every call that succeeded is there; none that failed is half made. */
        size_t last_put = SIZE_MAX, n_puts = 0, n_failed_puts = 0, n_failed_creates = 0;
        for (size_t i = 0; i < rounds; i++) {
                n_failed_creates += !creates[i].ok;
                long n = db_number(&h->a, "SELECT count(*) FROM package WHERE \"Name\" = 'load-%zu'", i);
                if (creates[i].ok ? n != 1 : n > 1)
                        fail_msg("Create of load-%zu %s, and the database has %ld of it", i,
                                 creates[i].ok ? "succeeded" : "failed", n);
                if (puts[i].ok) {
                        last_put = i;
                        n_puts++;
                } else
                        n_failed_puts++;
        }
        fprintf(stderr, "# the restart: %zu rounds, %zu Creates and %zu Puts of them failed\n", rounds,
                n_failed_creates, n_failed_puts);
        assert_int_equal(db_number(&h->a,
                                   "SELECT count(*) FROM package p WHERE \"Name\" COLLATE \"C\" LIKE 'load-%%' AND "
                                   "NOT EXISTS (SELECT 1 FROM status_message m WHERE m.\"MessageID\" = 30000 AND "
                                   "m.\"InsStrings\" LIKE '%%\"' || p.\"PackageID\" COLLATE \"C\" || '\"%%')"),
                         0);
        /* A failed COMMIT may have been made (its answer was what got lost), so a failed Put may be
         * there, but whole: with its audit row, and the last one that was made is what is read. */
        long modified = db_number(&h->a,
                                  "SELECT count(*) FROM status_message WHERE \"MessageID\" = 30001 AND "
                                  "\"InsStrings\" LIKE '%%\"%s\"%%'",
                                  package_id);
        if (modified < (long) n_puts || modified > (long) (n_puts + n_failed_puts))
                fail_msg("%zu Puts succeeded and %zu failed, and %ld were audited", n_puts, n_failed_puts, modified);
        size_t current = SIZE_MAX;
        for (size_t i = 0; i < rounds; i++)
                if (db_number(&h->a, "SELECT count(*) FROM package WHERE \"PackageID\" = '%s' AND \"Description\" = 'put-%zu'",
                              package_id, i) == 1)
                        current = i;
        if (current == SIZE_MAX ? last_put != SIZE_MAX : last_put != SIZE_MAX && current < last_put)
                fail_msg("the last Put that succeeded was put-%zd, and the database has put-%zd", (ssize_t) last_put,
                         (ssize_t) current);

        /* Host b hears host a's changes again: the Create after the restart (told live, or in
         * what b announces again once it LISTENs again), then a Put. */
        heard.path = after;
        TEST_BUS_WAIT_UNTIL(h->b.bus, heard.added, "InterfacesAdded of %s on host b", after);
        assert_true(sd_bus_match_signal(h->b.bus, &changed, "org.smsprov.Provider1", after,
                                        "org.freedesktop.DBus.Properties", "PropertiesChanged", on_properties_changed,
                                        &heard) >= 0);
        o = put_description(&h->a, after, "changed after the restart");
        assert_true(o.ok);
        TEST_BUS_WAIT_UNTIL(h->b.bus, heard.description, "PropertiesChanged of Description on host b");
        char *description = test_get_string(&h->b, after, BASE_IFACE, "Description");
        assert_string_equal(description, "changed after the restart");
        free(description);

        for (size_t i = 0; i < rounds; i++) {
                outcome_done(&creates[i]);
                outcome_done(&puts[i]);
        }
        sd_bus_slot_unref(added);
        sd_bus_slot_unref(changed);
        free(package);
        free(after);
}

static int setup(void **state) {
        static Hosts hosts;

        if (!test_db_postgresql()) {
                fprintf(stderr, "# a database that goes away needs a PostgreSQL server (run under pg-server.sh)\n");
                *state = NULL;
                return 0;
        }
        if (test_env_start_two_hosts(&hosts.a, &hosts.b, NULL) < 0)
                return -1;
        *state = &hosts;
        return 0;
}

static int teardown(void **state) {
        Hosts *h = *state;
        return h ? test_env_stop_two_hosts(&h->a, &h->b) : 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_start_waits_for_the_database),
                cmocka_unit_test(test_database_restarted_under_load),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, setup, teardown);
}
