/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smsprov/macro.h"
#include "smsprov/wql.h"
#include "model/wql-like-internal.h"


static uint32_t utf8_next(const char **p) {
        const unsigned char *s = (const unsigned char *) *p;
        uint32_t c, min;
        size_t n;

        assert(*s != 0);

        if (s[0] < 0x80) {
                *p += 1;
                return s[0];
        }
        if (s[0] >= 0xc2 && s[0] <= 0xdf) {
                n = 2;
                c = s[0] & 0x1f;
                min = 0x80;
        } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
                n = 3;
                c = s[0] & 0x0f;
                min = 0x800;
        } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                n = 4;
                c = s[0] & 0x07;
                min = 0x10000;
        } else
                goto invalid;

        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
                        goto invalid;
                c = (c << 6) | (s[i] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                goto invalid;

        *p += n;
        return c;

invalid:
        *p += 1;
        return INVALID_BYTE_BASE + s[0];
}

WqlLike *wql_like_free(WqlLike *l) {
        if (!l)
                return NULL;
        free(l->elements);
        free(l->ranges);
        free(l);
        return NULL;
}

/* At *p (just after '['): parses a set up to its ']', appending its ranges to l->ranges.
 * Returns 0 with *p past the ']', 1 when there is no closing ']' (then the '[' is taken
 * literally; nothing is appended), -ENOMEM. A ']' right after "[" or "[^" is a member; '-' (or
 * '=', which WMI's documentation uses: [a=f]) between two members makes a range. */
static int set_parse(WqlLike *l, const char **p, size_t cap_ranges, LikeElement *ret) {
        const char *s = *p;
        bool first = true;
        size_t start = l->n_ranges;

        *ret = (LikeElement) { .kind = LIKE_SET, .first = start };
        if (*s == '^') {
                ret->negated = true;
                s++;
        }

        for (;;) {
                uint32_t lo, hi;

                if (*s == 0) {
                        l->n_ranges = start;
                        return 1;
                }
                if (*s == ']' && !first)
                        break;
                first = false;

                lo = hi = utf8_next(&s);
                if ((*s == '-' || *s == '=') && s[1] != 0 && s[1] != ']') {
                        s++;
                        hi = utf8_next(&s);
                }
                /* every range takes at least one byte of the pattern, so cap_ranges (its
                 * length) is never passed */
                assert(l->n_ranges < cap_ranges);
                l->ranges[l->n_ranges++] = (LikeRange) { lo, hi, fold(lo), fold(hi) };
        }

        *p = s + 1;
        ret->n = l->n_ranges - start;
        return 0;
}

int wql_like_compile(const char *pattern, WqlLike **ret) {
        _cleanup_(wql_like_freep) WqlLike *l = NULL;
        size_t length;
        /* Once a '[' has no closing ']', no later one has either: every ']' the later set could
         * close on is one the earlier scan saw at a position where it closes. Knowing this keeps
         * compiling linear in the pattern's length. */
        bool unclosed = false;

        assert(pattern);
        assert(ret);

        length = strlen(pattern);
        l = calloc(1, sizeof(WqlLike));
        if (!l)
                return -ENOMEM;
        /* at most one element and one range per byte */
        l->elements = calloc(length + 1, sizeof(LikeElement));
        l->ranges = calloc(length + 1, sizeof(LikeRange));
        if (!l->elements || !l->ranges)
                return -ENOMEM;

        for (const char *p = pattern; *p;) {
                LikeElement *el = &l->elements[l->n_elements];

                if (*p == '%') {
                        while (*p == '%')
                                p++;
                        *el = (LikeElement) { .kind = LIKE_STAR };
                } else if (*p == '_') {
                        p++;
                        *el = (LikeElement) { .kind = LIKE_ANY };
                } else {
                        int r = 1;

                        if (*p == '[' && !unclosed) {
                                const char *s = p + 1;

                                r = set_parse(l, &s, length + 1, el);
                                if (r == 0)
                                        p = s;
                                else
                                        unclosed = true;
                        }
                        if (r != 0) { /* a literal, an unmatched '[' included */
                                uint32_t c = utf8_next(&p);
                                *el = (LikeElement) { .kind = LIKE_LITERAL, .c = c, .fc = fold(c) };
                        }
                }
                l->n_elements++;
        }

        *ret = TAKE_PTR(l);
        return 0;
}

/* Whether the element el (not a STAR) matches the code point c; adds the comparisons made to
 * *steps. */
static bool element_match(const WqlLike *l, const LikeElement *el, uint32_t c, uint32_t fc, uint64_t *steps) {
        switch (el->kind) {
        case LIKE_ANY:
                (*steps)++;
                return true;
        case LIKE_LITERAL:
                (*steps)++;
                return el->c == c || el->fc == fc;
        case LIKE_SET: {
                bool matched = false;

                for (size_t i = 0; i < el->n && !matched; i++) {
                        const LikeRange *g = &l->ranges[el->first + i];

                        (*steps)++;
                        matched = (c >= g->lo && c <= g->hi) || (fc >= g->flo && fc <= g->fhi);
                }
                (*steps) += el->n == 0; /* an empty set: [] cannot be written, but count it */
                return matched != el->negated;
        }
        case LIKE_STAR:
                break;
        }
        assert(false);
        return false;
}

/* The classic iterative wildcard algorithm: every element but % consumes exactly one code
 * point, so remembering only the last % (and where in the text it started) is enough. Each
 * restart from that % begins one code point further into the text and walks the pattern at
 * most once, and an element costs one step per range it holds, so the steps are bounded by
 * (code points of text + 1) × (bytes of pattern + 2), whatever the pattern. */
bool wql_like_exec(const WqlLike *l, const char *text, uint64_t *ret_steps) {
        const LikeElement *p, *end, *star_p = NULL;
        const char *t = text, *star_t = NULL;
        uint64_t steps = 0;
        bool matched;

        assert(l);
        assert(text);

        p = l->elements;
        end = l->elements + l->n_elements;

        while (*t != 0) {
                if (p < end && p->kind == LIKE_STAR) {
                        steps++;
                        p++;
                        if (p == end) {
                                matched = true;
                                goto finish;
                        }
                        star_p = p;
                        star_t = t;
                        continue;
                }

                if (p < end) {
                        const char *nt = t;
                        uint32_t c = utf8_next(&nt);

                        if (element_match(l, p, c, fold(c), &steps)) {
                                p++;
                                t = nt;
                                continue;
                        }
                }

                if (!star_p) {
                        matched = false;
                        goto finish;
                }

                /* let the last % swallow one more code point and retry from there */
                steps++;
                utf8_next(&star_t);
                p = star_p;
                t = star_t;
        }

        while (p < end && p->kind == LIKE_STAR)
                p++;
        matched = p == end;
finish:
        if (ret_steps)
                *ret_steps = steps;
        return matched;
}

bool wql_like_match(const char *pattern, const char *text) {
        _cleanup_(wql_like_freep) WqlLike *l = NULL;

        if (!pattern || !text)
                return false;
        if (wql_like_compile(pattern, &l) < 0)
                return false;
        return wql_like_exec(l, text, NULL);
}
