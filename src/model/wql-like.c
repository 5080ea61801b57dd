/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smsprov/wql.h"

/* Bytes that are not part of a valid UTF-8 sequence decode to a value above U+10FFFF, so they
 * still match themselves exactly but never a real code point. */
#define INVALID_BYTE_BASE 0x110000u

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

/* Lower case for ASCII and the Latin blocks (Latin-1 Supplement, Latin Extended-A, Latin
 * Extended Additional), as wql.h promises; everything else compares exactly. A table of our own
 * rather than towlower(), whose answer depends on the process locale (in the C locale it only
 * knows ASCII). */
static uint32_t fold(uint32_t c) {
        if (c >= 'A' && c <= 'Z')
                return c + 0x20;
        if (c < 0xc0)
                return c;
        if (c <= 0xde)
                return c == 0xd7 ? c : c + 0x20; /* U+00D7 is the multiplication sign */
        if (c >= 0x100 && c <= 0x17f) {
                if (c == 0x130) /* capital I with dot above */
                        return 'i';
                if (c == 0x178)
                        return 0xff;
                if (c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17f)
                        return c; /* dotless i, kra, 'n, long s: no upper/lower pair here */
                if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
                        return (c & 1) ? c + 1 : c;
                return (c & 1) ? c : c + 1;
        }
        if ((c >= 0x1e00 && c <= 0x1e95) || (c >= 0x1ea0 && c <= 0x1eff))
                return (c & 1) ? c : c + 1;
        return c;
}

/* At *p (just after '['): parses a set up to its ']' and tells whether it holds c. Returns false
 * with *p untouched when there is no closing ']', so that the '[' is taken literally. A ']' right
 * after "[" or "[^" is a member; '-' (or '=', which WMI's documentation uses: [a=f]) between two
 * members makes a range. */
static bool set_match(const char **p, uint32_t c, bool *ret_matched) {
        const char *s = *p;
        bool negated = false, matched = false, first = true;
        uint32_t lc = fold(c);

        if (*s == '^') {
                negated = true;
                s++;
        }

        for (;;) {
                uint32_t lo, hi;

                if (*s == 0)
                        return false;
                if (*s == ']' && !first)
                        break;
                first = false;

                lo = hi = utf8_next(&s);
                if ((*s == '-' || *s == '=') && s[1] != 0 && s[1] != ']') {
                        s++;
                        hi = utf8_next(&s);
                }

                if ((c >= lo && c <= hi) || (lc >= fold(lo) && lc <= fold(hi)))
                        matched = true;
        }

        *p = s + 1;
        *ret_matched = matched != negated;
        return true;
}

/* Matches one non-% pattern element at *pattern against the code point c, advancing *pattern. */
static bool element_match(const char **pattern, uint32_t c) {
        const char *p = *pattern;
        bool matched;

        if (*p == '_') {
                *pattern = p + 1;
                return true;
        }
        if (*p == '[') {
                const char *s = p + 1;
                if (set_match(&s, c, &matched)) {
                        *pattern = s;
                        return matched;
                }
                /* an unmatched '[' is a literal */
        }

        uint32_t pc = utf8_next(&p);
        *pattern = p;
        return pc == c || fold(pc) == fold(c);
}

/* The classic iterative wildcard algorithm: every element but % consumes exactly one code
 * point, so remembering only the last % (and where in the text it started) is enough, and the
 * cost is bounded by O(pattern × text) whatever the pattern. */
bool wql_like_match(const char *pattern, const char *text) {
        const char *p = pattern, *t = text;
        const char *star_p = NULL, *star_t = NULL;

        if (!pattern || !text)
                return false;

        while (*t != 0) {
                if (*p == '%') {
                        while (*p == '%')
                                p++;
                        if (*p == 0)
                                return true;
                        star_p = p;
                        star_t = t;
                        continue;
                }

                if (*p != 0) {
                        const char *np = p, *nt = t;
                        uint32_t c = utf8_next(&nt);

                        if (element_match(&np, c)) {
                                p = np;
                                t = nt;
                                continue;
                        }
                }

                if (!star_p)
                        return false;

                /* let the last % swallow one more code point and retry from there */
                utf8_next(&star_t);
                p = star_p;
                t = star_t;
        }

        while (*p == '%')
                p++;
        return *p == 0;
}
