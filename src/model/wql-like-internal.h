/* SPDX-License-Identifier: MIT */
#pragma once

/* WQL LIKE's compiled form, shared by its matcher (wql-like.c) and its translation into a
 * regular expression (wql-like-regex.c). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes that are not part of a valid UTF-8 sequence decode to a value above U+10FFFF, so they
 * still match themselves exactly but never a real code point. */
#define INVALID_BYTE_BASE 0x110000u

/* Lower case for ASCII and the Latin blocks (Latin-1 Supplement, Latin Extended-A, Latin
 * Extended Additional), as wql.h promises; everything else compares exactly. A table of our own
 * rather than towlower(), whose answer depends on the process locale (in the C locale it only
 * knows ASCII). */
static inline uint32_t fold(uint32_t c) {
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

/* The highest code point fold() changes: above it every code point is its own fold. */
#define FOLD_MAX 0x1effu

/* A pattern compiled once: a list of elements, each consuming one code point, with % runs
 * collapsed into a STAR element. Sets keep their ranges in one shared array. */
typedef enum LikeKind {
        LIKE_LITERAL,
        LIKE_ANY,
        LIKE_SET,
        LIKE_STAR,
} LikeKind;

typedef struct LikeRange {
        uint32_t lo, hi, flo, fhi; /* as written and folded */
} LikeRange;

typedef struct LikeElement {
        LikeKind kind;
        bool negated;      /* SET */
        uint32_t c, fc;    /* LITERAL: the code point and its folded form */
        size_t first, n;   /* SET: its ranges in WqlLike.ranges */
} LikeElement;

struct WqlLike {
        LikeElement *elements;
        size_t n_elements;
        LikeRange *ranges;
        size_t n_ranges;
};
