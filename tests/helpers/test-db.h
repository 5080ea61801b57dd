/* SPDX-License-Identifier: MIT */
#pragma once

/* The site database of a test. A test program runs on SQLite (the database in the state
 * directory) unless tests/helpers/pg-server.sh started it, with a private PostgreSQL server in
 * SMSPROV_TEST_POSTGRESQL: then each call makes a new, empty database there. */

#include <stdbool.h>
#include <sys/types.h>

bool test_db_postgresql(void);
/* A new database's location for site_open_at() (free() it), or NULL on SQLite. Fails the test
 * when the server does not answer. */
char *test_db_new(void);
/* Runs sql on the PostgreSQL database at location (test_db_new()), failing the test if it fails. */
void test_db_exec(const char *location, const char *sql);
/* The first column of the first row of the query sql on the PostgreSQL database at location, as a
 * number (a count); fails the test if the query fails. */
long test_db_number(const char *location, const char *sql);

/* pg_ctl of the private server (tests/helpers/pg-server.sh), with -w: `action` ("stop", "start",
 * "restart") and more arguments ("-m", "fast"), NULL-terminated. test_db_server() returns when
 * pg_ctl does (for start and restart: when the server accepts connections) and fails the test if
 * pg_ctl fails; test_db_server_spawn() returns pg_ctl's pid at once, for the caller to waitpid(). */
void test_db_server(const char *action, ...);
pid_t test_db_server_spawn(const char *action, ...);
