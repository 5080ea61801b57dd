/* SPDX-License-Identifier: MIT */

/* Bounded replies (API.md §1, §6a; issue 11 §1). On a bus with the system bus's limits, no call,
 * made as an unprivileged user, can make the daemon send a message that dbus-daemon refuses (it
 * would disconnect the daemon, which would lose its name and its running jobs): a reply either
 * fits --max-reply-bytes or is LimitsExceeded naming ExecQueryPage, and the same daemon still owns
 * its name afterwards. Row classes are not managed objects. One object cannot grow past a
 * sixteenth of the budget (Get, GetAll and PropertiesChanged of it are built by sd-bus, unbounded).
 * An error quotes little of what the caller gave, however long. Losing the bus ends the daemon
 * with a failure status, cleanly. */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../helpers/wim-gen.h"
#include "smsprov/macro.h"
#include "test-env.h"

#define ROOT "/org/smsprov/Provider1"
#define IFACE "org.smsprov.Provider1."
#define N_OBJECTS 50000
#define NOBODY 65534
#define BASE_IFACE IFACE "SMS_PackageBaseclass"
#define MAX_REPLY_BYTES (16u << 20) /* --max-reply-bytes's default */
#define MAX_OBJECT_BYTES (MAX_REPLY_BYTES / 16)
#define BLOB_MAX (1u << 20)         /* what one UInt8[] property may hold (class.h) */
#define QUOTE_MAX 256               /* bytes of a caller's value an error quotes (error.h) */

static TestEnv env;
static char *image_package; /* an SMS_ImagePackage with content, from the row class test */
static const char dp1_nal[] = "[\"Display=\\\\dp1\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\dp1\\";
static const char dp2_nal[] = "[\"Display=\\\\dp2\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\dp2\\";

static const char *log_hint(void) {
        return "(the daemon logs to this test's stderr; SMSPROV_TEST_KEEP=1 keeps its state directory)";
}

/* --- calls as nobody --------------------------------------------------------------------------- */

typedef enum CallKind {
        CALL_GET_MANAGED_OBJECTS,
        CALL_EXEC_QUERY_ALL,
        CALL_INTROSPECT_CLASS,
} CallKind;

/* What a call as nobody gave: a reply (with how many objects, rows or child nodes it held) or
 * the error's name and message. */
typedef struct Outcome {
        bool reply;
        size_t count;
        bool row_class_seen; /* GetManagedObjects listed a row class instance */
        char error_name[256];
        char error_message[1024];
} Outcome;

static size_t count_substrings(const char *s, const char *needle) {
        size_t n = 0;
        for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

static void call_in_child(CallKind kind, Outcome *out) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, env.address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, true);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0) {
                snprintf(out->error_name, sizeof out->error_name, "(cannot connect as nobody: %s)", strerror(-r));
                return;
        }
        sd_bus_message *m = NULL;
        switch (kind) {
        case CALL_GET_MANAGED_OBJECTS:
                r = sd_bus_message_new_method_call(bus, &m, "org.smsprov.Provider1", ROOT,
                                                   "org.freedesktop.DBus.ObjectManager", "GetManagedObjects");
                break;
        case CALL_EXEC_QUERY_ALL:
                r = sd_bus_message_new_method_call(bus, &m, "org.smsprov.Provider1", ROOT, IFACE "Site", "ExecQuery");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", "SELECT * FROM SMS_PackageBaseclass");
                break;
        case CALL_INTROSPECT_CLASS:
                r = sd_bus_message_new_method_call(bus, &m, "org.smsprov.Provider1", ROOT "/SMS_ImagePackage",
                                                   "org.freedesktop.DBus.Introspectable", "Introspect");
                break;
        }
        if (r >= 0)
                r = sd_bus_call(bus, m, TEST_CALL_TIMEOUT_USEC, &error, &reply);
        sd_bus_message_unref(m);
        if (r < 0) {
                snprintf(out->error_name, sizeof out->error_name, "%s",
                         error.name ? error.name : "(no error name)");
                snprintf(out->error_message, sizeof out->error_message, "%s", error.message ? error.message : "");
                sd_bus_error_free(&error);
                sd_bus_flush_close_unref(bus);
                return;
        }
        out->reply = true;
        if (kind == CALL_INTROSPECT_CLASS) {
                const char *xml = NULL;
                if (sd_bus_message_read(reply, "s", &xml) > 0)
                        out->count = count_substrings(xml, "<node name=\"");
        } else if (kind == CALL_EXEC_QUERY_ALL) {
                if (sd_bus_message_enter_container(reply, 'a', "(oa{sv})") > 0)
                        while (sd_bus_message_skip(reply, "(oa{sv})") > 0)
                                out->count++;
        } else if (sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}") > 0) {
                const char *path;
                while (sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}") > 0) {
                        if (sd_bus_message_read(reply, "o", &path) > 0) {
                                out->count++;
                                if (strstr(path, "/SMS_ImageInformation/") || strstr(path, "/SMS_DistributionPoint/") ||
                                    strstr(path, "/SMS_StatusMessage/") ||
                                    strstr(path, "/SMS_PackageStatusDistPointsSummarizer/"))
                                        out->row_class_seen = true;
                        }
                        sd_bus_message_skip(reply, "a{sa{sv}}");
                        sd_bus_message_exit_container(reply);
                }
        }
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
}

/* Makes the call from a child process running as nobody (fork, setresuid, connect). */
static Outcome call_as_nobody(CallKind kind) {
        Outcome out = {};
        int fds[2], status;

        if (geteuid() != 0)
                skip(); /* changing uid needs root */
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                Outcome child = {};
                close(fds[0]);
                if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
                    setresuid(NOBODY, NOBODY, NOBODY) < 0)
                        snprintf(child.error_name, sizeof child.error_name, "(cannot become nobody: %m)");
                else
                        call_in_child(kind, &child);
                (void) !write(fds[1], &child, sizeof child);
                _exit(0);
        }
        close(fds[1]);
        assert_int_equal(read(fds[0], &out, sizeof out), (ssize_t) sizeof out);
        close(fds[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return out;
}

/* The same daemon, not a restarted one, still owns the name: the bus did not cut it off. */
static void assert_same_daemon_owns_name(const char *after) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        uint32_t pid = 0;
        int status;

        if (waitpid(env.daemon_pid, &status, WNOHANG) == env.daemon_pid)
                fail_msg("after %s: smsprovd (pid %d) exited with status 0x%x; expected it to keep running %s", after,
                         (int) env.daemon_pid, (unsigned) status, log_hint());
        if (sd_bus_call_method(env.bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "GetConnectionUnixProcessID", &error, &reply, "s", "org.smsprov.Provider1") < 0)
                fail_msg("after %s: nobody owns org.smsprov.Provider1 (%s); expected smsprovd pid %d %s", after,
                         error.message, (int) env.daemon_pid, log_hint());
        assert_true(sd_bus_message_read(reply, "u", &pid) > 0);
        sd_bus_message_unref(reply);
        if ((pid_t) pid != env.daemon_pid)
                fail_msg("after %s: org.smsprov.Provider1 is owned by pid %u, expected %d", after, pid,
                         (int) env.daemon_pid);
        /* And it still answers. */
        char *site = test_get_string(&env, ROOT, IFACE "Site", "SiteCode");
        assert_string_equal(site, "LAB");
        free(site);
}

/* A reply, or LimitsExceeded whose message names the bounded call. */
static void assert_reply_or_limits(const Outcome *o, const char *what) {
        fprintf(stderr, "%s as nobody: %s%s%s\n", what, o->reply ? "a reply" : o->error_name, o->reply ? "" : ": ",
                o->reply ? "" : o->error_message);
        if (o->reply)
                return;
        if (strcmp(o->error_name, SMSPROV_ERR("LimitsExceeded")) != 0)
                fail_msg("%s as nobody: expected a reply or %s, got %s: %s %s", what, SMSPROV_ERR("LimitsExceeded"),
                         o->error_name, o->error_message, log_hint());
        if (!strstr(o->error_message, "ExecQueryPage"))
                fail_msg("%s: LimitsExceeded should name ExecQueryPage, got \"%s\"", what, o->error_message);
}

/* --- row classes --------------------------------------------------------------------------------- */

typedef struct Signals {
        size_t added_package, added_rows;
} Signals;

static int on_interfaces_added(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Signals *s = userdata;
        const char *path;

        if (sd_bus_message_read(m, "o", &path) <= 0)
                return 0;
        if (strstr(path, "/SMS_ImagePackage/"))
                s->added_package++;
        if (strstr(path, "/SMS_DistributionPoint/") || strstr(path, "/SMS_ImageInformation/") ||
            strstr(path, "/SMS_PackageStatusDistPointsSummarizer/") || strstr(path, "/SMS_StatusMessage/"))
                s->added_rows++;
        return 0;
}

/* AddDistributionPoints of one DP of site LAB; returns the job's path. */
static char *add_distribution_point(const char *package, const char *nal) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        const char *j;

        assert_true(sd_bus_message_new_method_call(env.bus, &m, "org.smsprov.Provider1", package,
                                                   IFACE "SMS_PackageBaseclass", "AddDistributionPoints") >= 0);
        assert_true(sd_bus_message_append(m, "as", 1, "LAB") >= 0);
        assert_true(sd_bus_message_append(m, "as", 1, nal) >= 0);
        if (sd_bus_call(env.bus, m, TEST_CALL_TIMEOUT_USEC, &error, &reply) < 0)
                fail_msg("AddDistributionPoints: expected a job, got %s: %s", error.name, error.message);
        assert_true(sd_bus_message_read(reply, "o", &j) > 0);
        char *job = strdup(j);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
        return job;
}

/* Row classes (SMS_ImageInformation, SMS_DistributionPoint, …) resolve by path and by query, but
 * are neither in GetManagedObjects nor announced by InterfacesAdded; packages and DPs are. */
static void test_row_classes_are_not_managed(void **state) {
        char *multi = test_env_content_path(&env, "multi.wim"), *pkg = NULL, *job = NULL, *dp_root = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        sd_bus_slot *slot = NULL;
        Signals signals = {};
        const char *row;
        const char *nal = dp1_nal;

        assert_int_equal(test_make_multi_image_wim(multi, 3), 0);
        assert_true(asprintf(&dp_root, "%s/dp1", env.dir) > 0);
        assert_int_equal(mkdir(dp_root, 0755), 0);
        assert_true(sd_bus_match_signal(env.bus, &slot, "org.smsprov.Provider1", NULL,
                                        "org.freedesktop.DBus.ObjectManager", "InterfacesAdded", on_interfaces_added,
                                        &signals) >= 0);

        assert_null(test_create(&env, "SMS_DistributionPointInfo", NULL, NULL, 2, "{sv}{sv}", "NALPath", "s", nal,
                                "ContentRoot", "s", dp_root));
        assert_null(test_create(&env, "SMS_ImagePackage", &pkg, &job, 2, "{sv}{sv}", "PkgSourcePath", "s", multi,
                                "PkgSourceFlag", "u", 2));
        if (strcmp(job, "/") != 0)
                assert_int_equal(test_wait_job(&env, job, NULL), 2);
        free(job);
        job = NULL;
        job = add_distribution_point(pkg, nal);
        assert_int_equal(test_wait_job(&env, job, NULL), 2);

        /* Every signal sent before this reply has arrived by now (one sender's messages keep their
         * order); dispatch them. */
        assert_null(test_invoke(&env, ROOT, "org.freedesktop.DBus.Peer", "Ping", NULL, NULL));
        while (sd_bus_process(env.bus, NULL) > 0)
                ;
        assert_int_equal(signals.added_package, 1);
        if (signals.added_rows != 0)
                fail_msg("InterfacesAdded was sent for %zu row class instance(s); expected none", signals.added_rows);

        /* The rows exist, resolve by path and answer Get. */
        assert_int_equal(test_count_rows(&env, "SELECT * FROM SMS_ImageInformation"), 3);
        assert_int_equal(test_count_rows(&env, "SELECT * FROM SMS_DistributionPoint"), 1);
        assert_true(test_call(&env, ROOT, IFACE "Site", "ExecQuery", &error, &reply, "s",
                              "SELECT PackageID FROM SMS_DistributionPoint") >= 0);
        assert_true(sd_bus_message_enter_container(reply, 'a', "(oa{sv})") > 0);
        assert_true(sd_bus_message_enter_container(reply, 'r', "oa{sv}") > 0);
        assert_true(sd_bus_message_read(reply, "o", &row) > 0);
        char *id = test_get_string(&env, row, IFACE "SMS_DistributionPoint", "PackageID");
        char *want = test_get_string(&env, pkg, IFACE "SMS_PackageBaseclass", "PackageID");
        assert_string_equal(id, want);
        sd_bus_message_unref(reply);

        /* GetManagedObjects: packages, DPs and class objects, no row. */
        Outcome o = call_as_nobody(CALL_GET_MANAGED_OBJECTS);
        if (!o.reply)
                fail_msg("GetManagedObjects of a small site: expected a reply, got %s: %s", o.error_name, o.error_message);
        assert_false(o.row_class_seen);
        assert_true(o.count >= 2 + 11); /* the package, the DP and every class object */

        sd_bus_slot_unref(slot);
        free(id);
        free(want);
        free(job);
        image_package = pkg;
        free(dp_root);
        free(multi);
}

/* --- one object's size ---------------------------------------------------------------------------- */

/* Put of Icon with n bytes on path, or with class_name a Create of that class with that Icon.
 * Returns what sd_bus_call() returns; a created instance's path in *ret_path. */
static int write_icon(const char *path, const char *class_name, size_t n, sd_bus_error *error, char **ret_path) {
        sd_bus_message *m = NULL, *reply = NULL;
        char *class_path = NULL;
        uint8_t *bytes = calloc(1, n ? n : 1);
        int r;

        assert_non_null(bytes);
        if (class_name) {
                assert_true(asprintf(&class_path, ROOT "/class/%s", class_name) > 0);
                assert_true(sd_bus_message_new_method_call(env.bus, &m, "org.smsprov.Provider1", class_path,
                                                           IFACE "Class", "Create") >= 0);
        } else
                assert_true(sd_bus_message_new_method_call(env.bus, &m, "org.smsprov.Provider1", path, BASE_IFACE,
                                                           "Put") >= 0);
        assert_true(sd_bus_message_open_container(m, 'a', "{sv}") >= 0);
        assert_true(sd_bus_message_open_container(m, 'e', "sv") >= 0);
        assert_true(sd_bus_message_append(m, "s", "Icon") >= 0);
        assert_true(sd_bus_message_open_container(m, 'v', "ay") >= 0);
        assert_true(sd_bus_message_append_array(m, 'y', bytes, n) >= 0);
        assert_true(sd_bus_message_close_container(m) >= 0);
        assert_true(sd_bus_message_close_container(m) >= 0);
        assert_true(sd_bus_message_close_container(m) >= 0);
        r = sd_bus_call(env.bus, m, TEST_CALL_TIMEOUT_USEC, error, &reply);
        if (r >= 0 && ret_path) {
                const char *p;
                assert_true(sd_bus_message_read(reply, "o", &p) > 0);
                *ret_path = strdup(p);
        }
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
        free(class_path);
        free(bytes);
        return r;
}

/* LimitsExceeded for one object too large: returns the size the daemon says it would take. */
static uint64_t assert_object_too_large(int r, sd_bus_error *error, const char *what) {
        unsigned long long size = 0, max = 0;
        const char *at;

        if (r >= 0)
                fail_msg("%s: expected %s, the call succeeded", what, SMSPROV_ERR("LimitsExceeded"));
        if (strcmp(error->name, SMSPROV_ERR("LimitsExceeded")) != 0)
                fail_msg("%s: expected %s, got %s: %s", what, SMSPROV_ERR("LimitsExceeded"), error->name, error->message);
        at = strstr(error->message, " would take ");
        if (!at || sscanf(at, " would take %llu bytes on D-Bus, more than the %llu bytes", &size, &max) != 2)
                fail_msg("%s: the message should say how large the object would be and the limit: %s", what,
                         error->message);
        assert_non_null(strstr(error->message, "--max-reply-bytes"));
        assert_int_equal(max, MAX_OBJECT_BYTES);
        assert_true(size > max);
        sd_bus_error_free(error);
        return size;
}

/* The Icon and its IconSize as stored: both must say n bytes. */
static void assert_icon(const char *path, size_t n) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const void *p;
        size_t len = SIZE_MAX;

        assert_int_equal(test_get_u32(&env, path, BASE_IFACE, "IconSize"), n);
        if (sd_bus_get_property(env.bus, "org.smsprov.Provider1", path, BASE_IFACE, "Icon", &error, &reply, "ay") < 0)
                fail_msg("Get Icon of %s: %s: %s", path, error.name, error.message);
        assert_true(sd_bus_message_read_array(reply, 'y', &p, &len) >= 0);
        assert_int_equal(len, n);
        sd_bus_message_unref(reply);
}

/* One object may take at most a sixteenth of --max-reply-bytes (1 MiB by default) on D-Bus, its
 * lazy properties included: a Put or a Create that would pass it is LimitsExceeded and stores
 * nothing; the largest Put within it is stored and its Get and GetAll are answered. The daemon
 * says how large the object would have been, so the test finds the exact edge: each Icon byte is
 * one byte of the object. */
static void test_object_size_cap(void **state) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        char *pkg = NULL, *created = NULL;
        uint64_t size;
        size_t fit;
        int r;

        assert_null(test_create(&env, "SMS_ImagePackage", &pkg, NULL, 1, "{sv}", "Name", "s", "Object size"));
        char *sedo = test_get_string(&env, pkg, BASE_IFACE, "SedoObjectVersion");
        size_t packages = test_count_rows(&env, "SELECT PackageID FROM SMS_ImagePackage");

        /* An Icon of 1 MiB is a valid value alone, but the object would pass its limit. */
        r = write_icon(pkg, NULL, BLOB_MAX, &error, NULL);
        size = assert_object_too_large(r, &error, "Put of a 1 MiB Icon");
        assert_icon(pkg, 0);
        char *after = test_get_string(&env, pkg, BASE_IFACE, "SedoObjectVersion");
        assert_string_equal(after, sedo); /* nothing written */
        free(after);

        /* One byte over the limit, then exactly at it. */
        fit = BLOB_MAX - (size_t) (size - MAX_OBJECT_BYTES);
        r = write_icon(pkg, NULL, fit + 1, &error, NULL);
        assert_int_equal(assert_object_too_large(r, &error, "Put of an Icon one byte over"), MAX_OBJECT_BYTES + 1);
        assert_icon(pkg, 0);
        r = write_icon(pkg, NULL, fit, &error, NULL);
        if (r < 0)
                fail_msg("Put of an Icon of %zu bytes (the object at its limit): %s: %s", fit, error.name,
                         error.message);
        assert_icon(pkg, fit);
        if (sd_bus_call_method(env.bus, "org.smsprov.Provider1", pkg, "org.freedesktop.DBus.Properties", "GetAll",
                               &error, &reply, "s", BASE_IFACE) < 0)
                fail_msg("GetAll of the object at its limit: %s: %s", error.name, error.message);
        assert_true(sd_bus_message_skip(reply, "a{sv}") >= 0);
        sd_bus_message_unref(reply);
        reply = NULL;
        /* Growing it by a byte elsewhere is refused too, and leaves it as it was. */
        r = test_call(&env, pkg, BASE_IFACE, "Put", &error, NULL, "a{sv}", 1, "Description", "s", "x");
        assert_int_equal(assert_object_too_large(r, &error, "Put of a Description onto the full object"),
                         MAX_OBJECT_BYTES + 1);
        assert_icon(pkg, fit);

        /* Create: refused, nothing created. */
        r = write_icon(NULL, "SMS_ImagePackage", BLOB_MAX, &error, &created);
        assert_object_too_large(r, &error, "Create with a 1 MiB Icon");
        assert_null(created);
        assert_int_equal(test_count_rows(&env, "SELECT PackageID FROM SMS_ImagePackage"), packages);

        assert_null(test_invoke(&env, pkg, BASE_IFACE, "Delete", NULL, NULL));
        free(sedo);
        free(pkg);
}

/* --- errors quote little ---------------------------------------------------------------------------- */

static char *repeat(char c, size_t n) {
        char *s = malloc(n + 1);
        assert_non_null(s);
        memset(s, c, n);
        s[n] = 0;
        return s;
}

/* A named error whose reply is small: the name and the message with room for the header in 4 KiB;
 * with quoted, the message quotes at most QUOTE_MAX bytes of the value, with "…". */
static void assert_short_error(int r, sd_bus_error *error, const char *what, bool quoted) {
        if (r >= 0)
                fail_msg("%s: expected an error, the call succeeded", what);
        fprintf(stderr, "%s: %s, %zu bytes of message\n", what, error->name, strlen(error->message ?: ""));
        if (strncmp(error->name, SMSPROV_ERR(""), strlen(SMSPROV_ERR(""))) != 0 ||
            strncmp(error->message ?: "", "WBEM_E_", 7) != 0)
                fail_msg("%s: expected a named error with its WBEM code, got %s: %.200s", what, error->name,
                         error->message ?: "");
        if (strlen(error->name) + strlen(error->message) + 1024 > 4096)
                fail_msg("%s: the error reply would not fit 4 KiB: %s with %zu bytes of message", what, error->name,
                         strlen(error->message));
        if (quoted && (!strstr(error->message, "…") || strlen(error->message) > QUOTE_MAX + 256))
                fail_msg("%s: expected at most %d bytes of the value and \"…\" in the message, got %zu bytes: %.400s",
                         what, QUOTE_MAX, strlen(error->message), error->message);
        sd_bus_error_free(error);
}

/* Arguments and property values of 1 MiB (or just within the limits that apply before the value
 * is quoted) give errors of a few hundred bytes. */
static void test_long_values_short_errors(void **state) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char *pkg = NULL, *mib = repeat('a', 1u << 20), *path_mib = repeat('a', 1u << 20);
        char *outside = repeat('/', 4000), *relative = repeat('/', 60000), *class_name = repeat('C', 60000);
        char *query = NULL;
        int r;

        /* /o/o/o/…: within PATH_MAX and NAME_MAX, outside every root; d/d/d/…: not absolute. */
        path_mib[0] = '/';
        for (size_t i = 1; i < 4000; i += 2)
                outside[i] = 'o';
        for (size_t i = 0; i < 60000; i += 2)
                relative[i] = 'd';
        assert_null(test_create(&env, "SMS_ImagePackage", &pkg, NULL, 1, "{sv}", "Name", "s", "Short errors"));

        r = test_call(&env, pkg, BASE_IFACE, "Put", &error, NULL, "a{sv}", 1, "PkgSourcePath", "s", path_mib);
        assert_short_error(r, &error, "Put of a 1 MiB PkgSourcePath", false);
        r = test_call(&env, pkg, BASE_IFACE, "Put", &error, NULL, "a{sv}", 1, "PkgSourcePath", "s", mib);
        assert_short_error(r, &error, "Put of a 1 MiB relative PkgSourcePath", false);
        r = test_call(&env, pkg, BASE_IFACE, "Put", &error, NULL, "a{sv}", 1, "PkgSourcePath", "s", relative);
        assert_short_error(r, &error, "Put of a 60,000-byte relative PkgSourcePath", true);
        r = test_call(&env, pkg, BASE_IFACE, "Put", &error, NULL, "a{sv}", 1, "PkgSourcePath", "s", outside);
        assert_short_error(r, &error, "Put of a 4000-byte PkgSourcePath outside the roots", true);
        r = test_call(&env, pkg, BASE_IFACE, "Put", &error, NULL, "a{sv}", 1, mib, "s", "x");
        assert_short_error(r, &error, "Put of a property with a 1 MiB name", true);
        r = test_call(&env, pkg, BASE_IFACE, "SetSourceSite", &error, NULL, "s", mib);
        assert_short_error(r, &error, "SetSourceSite of 1 MiB", true);
        r = test_call(&env, ROOT "/class/SMS_ImagePackage", IFACE "SMS_ImagePackage.Static", "GetImageProperties",
                      &error, NULL, "s", mib);
        assert_short_error(r, &error, "GetImageProperties of a 1 MiB relative path", true);
        r = test_call(&env, ROOT, IFACE "Site", "GetObject", &error, NULL, "s", mib);
        assert_short_error(r, &error, "GetObject of a 1 MiB WMI path", false);
        assert_true(asprintf(&query, "SELECT * FROM %s", class_name) > 0);
        r = test_call(&env, ROOT, IFACE "Site", "ExecQuery", &error, NULL, "s", query);
        assert_short_error(r, &error, "ExecQuery of a class with a 60,000-byte name", true);
        r = test_call(&env, ROOT, IFACE "Site", "ExecQueryPage", &error, NULL, "ssu", "SELECT * FROM SMS_ImagePackage",
                      mib, 10);
        assert_short_error(r, &error, "ExecQueryPage with a 1 MiB cursor", false);

        /* Nothing of it was stored. */
        char *source = test_get_string(&env, pkg, BASE_IFACE, "PkgSourcePath");
        assert_string_equal(source, "");
        free(source);
        assert_null(test_invoke(&env, pkg, BASE_IFACE, "Delete", NULL, NULL));
        free(query);
        free(class_name);
        free(relative);
        free(outside);
        free(path_mib);
        free(mib);
        free(pkg);
}

/* --- 50,000 objects ---------------------------------------------------------------------------- */

/* Creating 50,000 packages through Create takes minutes; they are written straight into the site
 * database while the daemon is stopped, in one statement (a recursive CTE numbering them), the way
 * Create would store an SMS_ImagePackage without a source, and the PackageID counter is moved past
 * them. The daemon reads them like any others when it starts again. The SQL is the same on both
 * backends but for the hexadecimal numbers, which SQLite writes with printf() and PostgreSQL with
 * to_hex(). */
static char *hex_sql(unsigned width) {
        return env.database ? test_strf("upper(lpad(to_hex(i), %u, '0'))", width) : test_strf("printf('%%0%uX', i)", width);
}

static void populate(void) {
        char *id = hex_sql(5), *high = hex_sql(8), *low = hex_sql(12);
        char *sql = test_strf(
                "BEGIN;"
                "WITH RECURSIVE n(i) AS (SELECT 4096 UNION ALL SELECT i + 1 FROM n WHERE i < 4096 + 50000 - 1) "
                "INSERT INTO package (\"PackageID\", \"PackageType\", \"Name\", \"Description\", \"Language\", "
                "  \"Manufacturer\", \"Version\", \"SourceSite\", \"SourceVersion\", \"SourceDate\", "
                "  \"LastRefreshTime\", \"PkgFlags\", \"PkgSourceFlag\", \"Priority\", \"ShareType\", "
                "  \"SedoObjectVersion\", \"PkgSourcePath\", \"ImageOSVersion\") "
                "SELECT 'LAB' || %s, 257, 'Windows 11 Enterprise image number ' || i, "
                "  'A captured reference image of Windows 11 Enterprise, x64, with the monthly updates', "
                "  'en-US', 'Contoso', '1.0', 'LAB', 1, 1700000000000000, 1700000000000000, 0, 2, 2, 1, "
                "  %s || '-0000-4000-8000-' || %s, '/srv/images/reference-' || i || '.wim', '10.0.22621.1' FROM n;"
                "UPDATE site SET next_package_number = 4096 + 50000 WHERE id = 1;"
                "COMMIT;",
                id, high, low);

        assert_int_equal(test_env_stop_daemon(&env, SIGTERM), 0);
        test_env_db_exec(&env, sql);
        free(sql);
        free(id);
        free(high);
        free(low);
        assert_int_equal(test_env_start_daemon(&env, NULL), 0);
        assert_int_equal(test_count_rows(&env, "SELECT PackageID FROM SMS_ImagePackage WHERE Name LIKE 'Windows 11%'"),
                         0 + N_OBJECTS);
}

static void run_bounded_calls(const char *budget) {
        static const struct {
                CallKind kind;
                const char *name;
        } calls[] = {
                { CALL_GET_MANAGED_OBJECTS, "GetManagedObjects" },
                { CALL_EXEC_QUERY_ALL, "ExecQuery of every package" },
                { CALL_INTROSPECT_CLASS, "Introspect of a class subtree" },
        };

        for (size_t i = 0; i < ELEMENTSOF(calls); i++) {
                char what[128];

                snprintf(what, sizeof what, "%s (%s)", calls[i].name, budget);
                Outcome o = call_as_nobody(calls[i].kind);
                assert_reply_or_limits(&o, what);
                if (calls[i].kind == CALL_GET_MANAGED_OBJECTS)
                        assert_false(o.row_class_seen);
                else if (o.reply)
                        assert_true(o.count >= N_OBJECTS); /* every object, when it answers at all */
                assert_same_daemon_owns_name(what);
        }
}

/* 50,000 packages: at ~1.5 KB each, GetManagedObjects would be ~75 MB and the ExecQuery of all of
 * them tens of MB, both past dbus-daemon's 32 MiB; the class subtree's node list is ~1.4 MB. */
static void test_fifty_thousand_objects(void **state) {
        populate();
        run_bounded_calls("default budget");

        /* The child node list (~1.4 MB) fits 16 MiB: the same call gives a reply there, and
         * LimitsExceeded once the budget is 1 MiB, so both sides of the check are exercised. */
        Outcome o = call_as_nobody(CALL_INTROSPECT_CLASS);
        if (!o.reply)
                fail_msg("Introspect of the class subtree at 16 MiB: expected a reply, got %s: %s", o.error_name,
                         o.error_message);
        assert_true(o.count >= N_OBJECTS);

        assert_int_equal(test_env_stop_daemon(&env, SIGTERM), 0);
        static const char *const small[] = { "--max-reply-bytes=1048576", NULL };
        assert_int_equal(test_env_start_daemon(&env, small), 0);
        run_bounded_calls("1 MiB budget");
        o = call_as_nobody(CALL_INTROSPECT_CLASS);
        assert_false(o.reply);
        assert_string_equal(o.error_name, SMSPROV_ERR("LimitsExceeded"));
        test_env_check_database(&env);
}

/* --- losing the bus ------------------------------------------------------------------------------ */

/* dbus-daemon goes away: the daemon stops (jobs stopped, state saved) and exits with a failure
 * status, so that Restart=on-failure starts it again; under the sanitizers a leak or an error
 * would show as another status. */
static void test_bus_loss_exits_with_failure(void **state) {
        int status = 0;

        char *dp_root = NULL, *job;

        if (env.daemon_pid <= 0) /* an earlier test failed with it stopped */
                assert_int_equal(test_env_start_daemon(&env, NULL), 0);
        assert_non_null(image_package);
        /* A distribution runs (held at its start) when the bus goes. */
        assert_true(asprintf(&dp_root, "%s/dp2", env.dir) > 0);
        assert_int_equal(mkdir(dp_root, 0755), 0);
        assert_null(test_create(&env, "SMS_DistributionPointInfo", NULL, NULL, 2, "{sv}{sv}", "NALPath", "s", dp2_nal,
                                "ContentRoot", "s", dp_root));
        test_hold(&env, "Distribute");
        job = add_distribution_point(image_package, dp2_nal);
        test_wait_held(&env, "Distribute", job);
        const char *id = strrchr(job, '_');
        assert_non_null(id);

        kill(env.dbus_pid, SIGTERM);
        assert_int_equal(waitpid(env.dbus_pid, NULL, 0), env.dbus_pid);
        env.dbus_pid = -1;
        assert_int_equal(waitpid(env.daemon_pid, &status, 0), env.daemon_pid);
        env.daemon_pid = -1;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 1)
                fail_msg("after the bus went away: expected smsprovd to exit with status 1 (EXIT_FAILURE), got "
                         "wait status 0x%x %s",
                         (unsigned) status, log_hint());
        test_env_check_database(&env);

        /* Stopped as at SIGTERM: the running job was canceled and recorded so. */
        long long job_id = strtoll(id + 1, NULL, 10);
        char *state_sql = test_strf("SELECT \"State\" FROM job WHERE \"Id\" = %lld", job_id),
             *end_sql = test_strf("SELECT \"EndTime\" FROM job WHERE \"Id\" = %lld", job_id);
        long job_state = test_env_db_number(&env, state_sql), end_time = test_env_db_number(&env, end_sql);
        if (job_state != 4 || end_time == 0)
                fail_msg("job %s after the bus went away: expected State 4 (canceled) with an EndTime, got State %ld "
                         "EndTime %ld",
                         job, job_state, end_time);
        free(state_sql);
        free(end_sql);
        test_release(&env, "Distribute");
        free(job);
        free(dp_root);
}

static int setup(void **state) {
        return test_env_start_with_bus_config(&env, "test-system-limits-bus.conf");
}

static int teardown(void **state) {
        free(image_package);
        test_env_stop(&env);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_row_classes_are_not_managed),
                cmocka_unit_test(test_object_size_cap),
                cmocka_unit_test(test_long_values_short_errors),
                cmocka_unit_test(test_fifty_thousand_objects),
                cmocka_unit_test(test_bus_loss_exits_with_failure),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
