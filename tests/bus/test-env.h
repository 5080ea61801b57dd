/* SPDX-License-Identifier: MIT */
#pragma once

/* A private world for bus tests: a temporary directory, a private dbus-daemon, and the real
 * smsprovd on it with its state and a content root inside that directory. */

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

typedef struct TestEnv {
        char *dir;          /* temporary directory, removed at the end */
        char *address;      /* the private bus */
        char *state_dir;
        char *content_dir;
        pid_t dbus_pid;
        pid_t daemon_pid;
        sd_bus *bus;        /* a client connection */
} TestEnv;

/* Starts dbus-daemon and smsprovd (path from $SMSPROVD) with site code LAB. */
int test_env_start(TestEnv *env);
/* Starts or restarts only the daemon; extra arguments are appended (NULL-terminated). */
int test_env_start_daemon(TestEnv *env, const char *const *extra_args);
/* Sends sig to the daemon and reaps it. After SIGTERM the daemon must have exited 0 (clean
 * shutdown, no sanitizer report); otherwise a negative errno is returned. */
int test_env_stop_daemon(TestEnv *env, int sig);
int test_env_stop(TestEnv *env);

/* Path of a file inside the content root; the result is owned by the caller. */
char *test_env_content_path(const TestEnv *env, const char *name);
/* Writes a small file with the given text into the content root and returns its path. */
char *test_env_make_file(const TestEnv *env, const char *name, const char *text);

/* Convenience wrappers around sd-bus, with the smsprovd names filled in. */
int test_call(TestEnv *env, const char *path, const char *iface, const char *method, sd_bus_error *error,
              sd_bus_message **reply, const char *types, ...);
/* Creates an instance; props is an sd_bus_message_append() format for the a{sv} body, e.g.
 * "{sv}{sv}" "Name", "s", "x", "ImagePath", "s", path; n is the number of entries. Returns the
 * error name (static string, NULL on success) and fills ret_path. */
const char *test_create(TestEnv *env, const char *class_name, char **ret_path, unsigned n, const char *props, ...);
/* Name of the D-Bus error of a failed call, or NULL when it succeeded. */
const char *test_error_name(const sd_bus_error *error);

#define SMSPROV_ERR(name) "org.smsprov.Provider1.Error." name
