/* SPDX-License-Identifier: MIT */
/* The site's state as the D-Bus surface fuzzer compares it around the phase run as nobody: a
 * digest of what ExecQuery returns for each class and of each table of the site database, the
 * audit log left out of both (denied calls may be recorded there). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bus-fuzz.h"

#define AUDIT_CLASS "SMS_StatusMessage"
#define AUDIT_TABLE "status_message"

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
        const unsigned char *p = data;
        for (size_t i = 0; i < n; i++)
                h = (h ^ p[i]) * 0x100000001b3ULL;
        return h;
}

#define FNV_START 0xcbf29ce484222325ULL

static void add(FuzzState *st, const char *what, const char *name, uint64_t digest) {
        char *label = NULL;
        if (asprintf(&label, "%s %s", what, name) < 0)
                abort();
        st->names = reallocarray(st->names, st->n + 1, sizeof *st->names);
        st->digests = reallocarray(st->digests, st->n + 1, sizeof *st->digests);
        if (!st->names || !st->digests)
                abort();
        st->names[st->n] = label;
        st->digests[st->n++] = digest;
}

/* The reply as sd-bus prints it, hashed: every path, property name, type and value. */
static int digest_query(sd_bus *bus, const char *class_name, uint64_t *ret) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        char *query = NULL, *text = NULL;
        size_t len = 0;
        FILE *f;
        int r;

        if (asprintf(&query, "SELECT * FROM %s", class_name) < 0)
                abort();
        r = sd_bus_call_method(bus, FUZZ_BUS_NAME, FUZZ_ROOT_PATH, FUZZ_BUS_NAME ".Site", "ExecQuery", &error, &reply,
                               "s", query);
        free(query);
        if (r < 0) {
                /* An error is part of the state too (a class that answers with one before and after). */
                *ret = fnv1a(FNV_START, error.name, strlen(error.name));
                sd_bus_error_free(&error);
                return 0;
        }
        f = open_memstream(&text, &len);
        if (!f)
                abort();
        r = sd_bus_message_dump(reply, f, 0);
        fclose(f);
        *ret = fnv1a(FNV_START, text, len);
        free(text);
        sd_bus_message_unref(reply);
        return r < 0 ? r : 0;
}

/* Rows hashed one by one and summed: the digest does not depend on the order rows come in. */
static int digest_table(sqlite3 *db, const char *table, uint64_t *ret) {
        sqlite3_stmt *st = NULL;
        char *sql = sqlite3_mprintf("SELECT * FROM \"%w\"", table);
        uint64_t sum = 0;
        int r;

        if (!sql)
                abort();
        r = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
        sqlite3_free(sql);
        if (r != SQLITE_OK)
                return -EIO;
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
                uint64_t h = FNV_START;
                for (int c = 0; c < sqlite3_column_count(st); c++) {
                        int type = sqlite3_column_type(st, c);
                        const void *v = type == SQLITE_BLOB ? sqlite3_column_blob(st, c) : sqlite3_column_text(st, c);
                        h = fnv1a(h, &type, sizeof type);
                        h = fnv1a(h, v ? v : "", (size_t) sqlite3_column_bytes(st, c));
                }
                sum += h;
        }
        sqlite3_finalize(st);
        if (r != SQLITE_DONE)
                return -EIO;
        *ret = sum;
        return 0;
}

int fuzz_state_take(FuzzState *st, sd_bus *bus, const char *db_path, char **classes) {
        sqlite3 *db = NULL;
        sqlite3_stmt *tables = NULL;
        uint64_t d;
        int r;

        *st = (FuzzState) {};
        for (char **c = classes; c && *c; c++) {
                if (strcmp(*c, AUDIT_CLASS) == 0)
                        continue;
                if ((r = digest_query(bus, *c, &d)) < 0)
                        return r;
                add(st, "query", *c, d);
        }

        if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
                sqlite3_close(db);
                return -EIO;
        }
        sqlite3_busy_timeout(db, 10000);
        r = sqlite3_prepare_v2(db,
                               "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('" AUDIT_TABLE
                               "', 'sqlite_sequence') ORDER BY name",
                               -1, &tables, NULL) == SQLITE_OK
                    ? 0
                    : -EIO;
        while (r == 0 && sqlite3_step(tables) == SQLITE_ROW) {
                const char *name = (const char *) sqlite3_column_text(tables, 0);
                if ((r = digest_table(db, name, &d)) == 0)
                        add(st, "table", name, d);
        }
        sqlite3_finalize(tables);
        sqlite3_close(db);
        return r;
}

size_t fuzz_state_compare(const FuzzState *before, const FuzzState *after, bool print) {
        size_t changed = 0;

        for (size_t i = 0; i < before->n; i++) {
                bool found = false;
                for (size_t j = 0; j < after->n; j++)
                        if (strcmp(before->names[i], after->names[j]) == 0) {
                                found = true;
                                if (before->digests[i] != after->digests[j]) {
                                        if (print)
                                                fprintf(stderr, "fuzz-bus: changed as nobody: %s\n", before->names[i]);
                                        changed++;
                                }
                        }
                if (!found) {
                        if (print)
                                fprintf(stderr, "fuzz-bus: changed as nobody: %s is gone\n", before->names[i]);
                        changed++;
                }
        }
        if (after->n > before->n) {
                if (print)
                        fprintf(stderr, "fuzz-bus: changed as nobody: %zu parts more than before\n", after->n - before->n);
                changed++;
        }
        return changed;
}

void fuzz_state_free(FuzzState *st) {
        for (size_t i = 0; i < st->n; i++)
                free(st->names[i]);
        free(st->names);
        free(st->digests);
        *st = (FuzzState) {};
}
