/* SPDX-License-Identifier: MIT */

/* WQL LIKE as a POSIX advanced regular expression (PostgreSQL's ~), matching exactly the texts
 * wql_like_exec() matches, for a database that cannot call our matcher. The case-insensitivity
 * is spelt out: each literal becomes the set of the code points that fold to its fold, each set
 * holds its ranges as written and every code point whose fold lies in their folded range. The
 * expression must be applied with a deterministic, code-point-ordered collation (COLLATE "C"),
 * so that no locale adds or removes anything. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/wql-like-internal.h"
#include "smsprov/macro.h"
#include "smsprov/wql.h"

/* Past this the database would spend more compiling the expression than any query is worth. */
#define REGEX_MAX_LENGTH (1024u * 1024u)
#define CODE_POINT_MAX 0x10ffffu

typedef struct Out {
        char *s;
        size_t len, cap;
        int error;
} Out;

static void out_add(Out *o, const char *s) {
        size_t n = strlen(s);

        if (o->error)
                return;
        if (o->len + n + 1 > REGEX_MAX_LENGTH) {
                o->error = -E2BIG;
                return;
        }
        if (o->len + n + 1 > o->cap) {
                size_t cap = (o->len + n + 1) * 2;
                char *p = realloc(o->s, cap);
                if (!p) {
                        o->error = -ENOMEM;
                        return;
                }
                o->s = p;
                o->cap = cap;
        }
        memcpy(o->s + o->len, s, n + 1);
        o->len += n;
}

/* A code point, as itself when it is a letter or digit of ASCII, escaped otherwise (the same
 * escapes work inside brackets). */
static void out_code_point(Out *o, uint32_t c) {
        char buf[16];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
                snprintf(buf, sizeof buf, "%c", (char) c);
        else if (c <= 0xffff)
                snprintf(buf, sizeof buf, "\\u%04X", c);
        else
                snprintf(buf, sizeof buf, "\\U%08X", c);
        out_add(o, buf);
}

/* lo-hi inside brackets, without NUL and the surrogates, which no text holds. */
static void out_range(Out *o, uint32_t lo, uint32_t hi) {
        if (lo == 0)
                lo = 1;
        if (hi > CODE_POINT_MAX)
                hi = CODE_POINT_MAX;
        if (lo <= 0xdfff && hi >= 0xd800) {
                if (lo < 0xd800)
                        out_range(o, lo, 0xd7ff);
                if (hi > 0xdfff)
                        out_range(o, 0xe000, hi);
                return;
        }
        if (lo > hi)
                return;
        out_code_point(o, lo);
        if (hi > lo) {
                out_add(o, "-");
                out_code_point(o, hi);
        }
}

/* The code points an element accepts: those up to FOLD_MAX in a table, the rest as ranges
 * (where fold() changes nothing, so the folded ranges are ranges of code points too). */
typedef struct Members {
        bool low[FOLD_MAX + 1];
        uint32_t (*high)[2];
        size_t n_high;
        bool any;
} Members;

static int members_add_range(Members *m, uint32_t lo, uint32_t hi, bool folded) {
        if (lo > hi || lo > CODE_POINT_MAX)
                return 0;
        if (folded)
                /* every u whose fold lies in [lo, hi] */
                for (uint32_t u = 0; u <= FOLD_MAX; u++)
                        if (fold(u) >= lo && fold(u) <= hi)
                                m->low[u] = m->any = true;
        for (uint32_t u = lo; u <= hi && u <= FOLD_MAX; u++)
                if (!folded || fold(u) == u)
                        m->low[u] = m->any = true;
        if (hi > FOLD_MAX) {
                uint32_t (*p)[2] = reallocarray(m->high, m->n_high + 1, sizeof *p);
                if (!p)
                        return -ENOMEM;
                m->high = p;
                m->high[m->n_high][0] = lo > FOLD_MAX ? lo : FOLD_MAX + 1;
                m->high[m->n_high][1] = hi;
                m->n_high++;
                m->any = true;
        }
        return 0;
}

/* "[…]" or "[^…]" of the members; a set that accepts nothing matches no character. */
static void out_members(Out *o, const Members *m, bool negated) {
        if (!m->any) {
                out_add(o, negated ? "." : "[^\\u0001-\\U0010FFFF]");
                return;
        }
        out_add(o, negated ? "[^" : "[");
        for (uint32_t u = 0; u <= FOLD_MAX; u++) {
                uint32_t end = u;

                if (!m->low[u])
                        continue;
                while (end < FOLD_MAX && m->low[end + 1])
                        end++;
                out_range(o, u, end);
                u = end;
        }
        for (size_t i = 0; i < m->n_high; i++)
                out_range(o, m->high[i][0], m->high[i][1]);
        out_add(o, "]");
}

static int element_regex(Out *o, const WqlLike *l, const LikeElement *el) {
        _cleanup_free_ Members *m = NULL;
        int r = 0;

        switch (el->kind) {
        case LIKE_STAR:
                out_add(o, ".*");
                return 0;
        case LIKE_ANY:
                out_add(o, ".");
                return 0;
        case LIKE_LITERAL:
                if (el->c > CODE_POINT_MAX) { /* a byte of broken UTF-8: no text holds it */
                        out_add(o, "[^\\u0001-\\U0010FFFF]");
                        return 0;
                }
                if (el->c > FOLD_MAX || fold(el->c) == el->c) {
                        bool alone = true;
                        for (uint32_t u = 0; u <= FOLD_MAX && alone && el->c <= FOLD_MAX; u++)
                                alone = u == el->c || fold(u) != el->fc;
                        if (alone) {
                                out_code_point(o, el->c);
                                return 0;
                        }
                }
                break;
        case LIKE_SET:
                break;
        }

        m = calloc(1, sizeof(Members));
        if (!m)
                return -ENOMEM;
        if (el->kind == LIKE_LITERAL) {
                r = members_add_range(m, el->c, el->c, false);
                if (r >= 0)
                        r = members_add_range(m, el->fc, el->fc, true);
        } else
                for (size_t i = 0; r >= 0 && i < el->n; i++) {
                        const LikeRange *g = &l->ranges[el->first + i];
                        r = members_add_range(m, g->lo, g->hi, false);
                        if (r >= 0)
                                r = members_add_range(m, g->flo, g->fhi, true);
                }
        if (r >= 0)
                out_members(o, m, el->kind == LIKE_SET && el->negated);
        free(m->high);
        return r;
}

int wql_like_to_regex(const char *pattern, char **ret) {
        _cleanup_(wql_like_freep) WqlLike *l = NULL;
        Out o = {};
        int r;

        r = wql_like_compile(pattern, &l);
        if (r < 0)
                return r;
        out_add(&o, "^");
        for (size_t i = 0; i < l->n_elements && !o.error; i++) {
                r = element_regex(&o, l, &l->elements[i]);
                if (r < 0)
                        o.error = r;
        }
        out_add(&o, "$");
        if (o.error) {
                free(o.s);
                return o.error;
        }
        *ret = o.s;
        return 0;
}
