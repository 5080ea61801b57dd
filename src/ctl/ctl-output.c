/* SPDX-License-Identifier: MIT */

/* Tables and JSON; see ctl-output.h. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/ctl-output.h"
#include "ctl/ctl-value.h"

struct Table {
        size_t n_columns;
        char **headers;
        char **cells;
        size_t n_cells;
        size_t allocated;
        /* once table_flush() printed a first batch: the column widths, fixed from then on, and
         * the rows printed so far */
        size_t *widths;
        size_t printed;
};

Table *table_new(size_t n_columns, const char *const *headers) {
        Table *t = calloc(1, sizeof(Table));

        if (!t)
                return NULL;
        t->n_columns = n_columns;
        t->headers = calloc(n_columns + 1, sizeof(char *));
        if (!t->headers)
                return table_free(t);
        for (size_t i = 0; i < n_columns; i++)
                if (!(t->headers[i] = strdup(headers[i])))
                        return table_free(t);
        return t;
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        strv_free(t->headers);
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t->widths);
        free(t);
        return NULL;
}

int table_add_take(Table *t, char *cell) {
        if (!cell)
                return ctl_oom();
        if (t->n_cells == t->allocated) {
                size_t n = t->allocated ? 2 * t->allocated : 64;
                char **cells = realloc(t->cells, n * sizeof(char *));
                if (!cells) {
                        free(cell);
                        return ctl_oom();
                }
                t->cells = cells;
                t->allocated = n;
        }
        for (char *p = cell; *p; p++)
                if (*p == '\n' || *p == '\t' || *p == '\r')
                        *p = ' ';
        t->cells[t->n_cells++] = cell;
        return 0;
}

int table_add(Table *t, const char *cell) {
        return table_add_take(t, strdup(cell ? cell : ""));
}

size_t table_rows(const Table *t) {
        return t->n_columns ? t->n_cells / t->n_columns : 0;
}

/* Display width of UTF-8 text, counting code points (good enough for names and paths). */
static size_t text_width(const char *s) {
        size_t n = 0;
        for (; *s; s++)
                if (((unsigned char) *s & 0xC0) != 0x80)
                        n++;
        return n;
}

static void print_row(char *const *cells, const size_t *widths, size_t n) {
        for (size_t i = 0; i < n; i++) {
                bool last = i + 1 == n;
                fputs(cells[i], stdout);
                if (!last)
                        for (size_t w = text_width(cells[i]); w < widths[i] + 1; w++)
                                fputc(' ', stdout);
        }
        fputc('\n', stdout);
}

static size_t *table_widths(const Table *t, const Ctl *c) {
        size_t *widths = calloc(t->n_columns ? t->n_columns : 1, sizeof(size_t));

        if (!widths)
                return NULL;
        for (size_t i = 0; i < t->n_columns; i++)
                widths[i] = c->legend ? text_width(t->headers[i]) : 0;
        for (size_t i = 0; i < t->n_cells; i++) {
                size_t w = text_width(t->cells[i]);
                if (w > widths[i % t->n_columns])
                        widths[i % t->n_columns] = w;
        }
        return widths;
}

static int flush_stdout(void) {
        return fflush(stdout) == 0 ? 0 : ctl_errorf(CTL_EXIT_FAILED, CTL_ERROR_FAILED, "cannot write: %m");
}

/* Prints the rows held (with the header, the first time) and drops them. */
static void print_held(Table *t, const Ctl *c, const size_t *widths) {
        size_t rows = table_rows(t);

        if (c->legend && rows > 0 && t->printed == 0)
                print_row(t->headers, widths, t->n_columns);
        for (size_t r = 0; r < rows; r++)
                print_row(t->cells + r * t->n_columns, widths, t->n_columns);
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        t->n_cells = 0;
        t->printed += rows;
}

int table_flush(Table *t, const Ctl *c) {
        if (!t->widths) {
                t->widths = table_widths(t, c);
                if (!t->widths)
                        return ctl_oom();
        }
        print_held(t, c, t->widths);
        return flush_stdout();
}

int table_print(Table *t, const Ctl *c, const char *noun) {
        _cleanup_free_ size_t *widths = NULL;

        if (!t->widths) {
                widths = table_widths(t, c);
                if (!widths)
                        return ctl_oom();
        }
        print_held(t, c, t->widths ? t->widths : widths);
        if (c->legend && noun)
                printf("%s%zu %s listed.\n", t->printed > 0 ? "\n" : "", t->printed, noun);
        return flush_stdout();
}

int ctl_json_print(const Ctl *c, json_object *v) {
        int flags = JSON_C_TO_STRING_NOSLASHESCAPE | (c->json_pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                                                     : JSON_C_TO_STRING_PLAIN);
        const char *s = json_object_to_json_string_ext(v, flags);
        int r = 0;

        if (!s)
                r = ctl_oom();
        else {
                puts(s);
                if (fflush(stdout) != 0)
                        r = ctl_errorf(CTL_EXIT_FAILED, CTL_ERROR_FAILED, "cannot write: %m");
        }
        json_object_put(v);
        return r;
}

int json_add(json_object *obj, const char *key, json_object *v) {
        if (!v)
                return ctl_oom();
        if (json_object_object_add(obj, key, v) < 0) {
                json_object_put(v);
                return ctl_oom();
        }
        return 0;
}
