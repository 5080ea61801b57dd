/* SPDX-License-Identifier: MIT */
#pragma once

/* The site database of a test. A test program runs on SQLite (the database in the state
 * directory) unless tests/helpers/pg-server.sh started it, with a private PostgreSQL server in
 * SMSPROV_TEST_POSTGRESQL: then each call makes a new, empty database there. */

#include <stdbool.h>

bool test_db_postgresql(void);
/* A new database's location for site_open_at() (free() it), or NULL on SQLite. Fails the test
 * when the server does not answer. */
char *test_db_new(void);
/* Runs sql on the PostgreSQL database at location (test_db_new()), failing the test if it fails. */
void test_db_exec(const char *location, const char *sql);
