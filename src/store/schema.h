/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/* The migrations of schema/NNNN-*.sql, embedded at build time by tools/embed-schema.py. */
typedef struct SchemaMigration {
        const char *name;
        const char *sql;
} SchemaMigration;

extern const SchemaMigration schema_migrations[];
extern const size_t schema_n_migrations;

/* The same migrations for PostgreSQL (schema/postgresql/), one per entry of schema_migrations:
 * sql is NULL for a migration that has no PostgreSQL text yet. */
extern const SchemaMigration schema_postgresql_migrations[];
extern const size_t schema_postgresql_n_migrations;
