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
