/* SPDX-License-Identifier: MIT */
#pragma once

/* Strings as D-Bus carries them. sd-bus refuses to append a string that is not valid UTF-8 in
 * its sense (which also excludes the noncharacters U+FDD0…U+FDEF and U+xxFFFE/U+xxFFFF), and a
 * method whose error reply cannot be appended is never answered at all: every string that can
 * reach a reply passes utf8_is_valid() or comes out of utf8_sanitize(). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether s is UTF-8 that sd-bus accepts: no invalid or overlong sequence, no surrogate, nothing
 * above U+10FFFF, no noncharacter. NULL is valid. */
bool utf8_is_valid(const char *s);
/* Replaces whatever utf8_is_valid() refuses, and control characters other than tab and newline,
 * by U+FFFD. Returns a new string (NULL when out of memory). Strings from WIM files, databases
 * and error messages pass through this on the way out. */
char *utf8_sanitize(const char *s);

/* Decodes the UTF-8 sequence at the start of s (which is NUL-terminated, so that a sequence cut
 * short stops at the NUL): returns its length and stores the code point in *ret, or returns 0 when
 * it is not well-formed (overlong forms, surrogates and code points above U+10FFFF included). */
size_t utf8_decode(const char *s, uint32_t *ret);
/* Writes the UTF-8 form of c (a Unicode scalar value: at most U+10FFFF, no surrogate) to out and
 * returns its length, 1 to 4. No NUL is written. */
size_t utf8_encode(uint32_t c, char out[static 4]);
/* The noncharacters U+FDD0…U+FDEF and U+xxFFFE/U+xxFFFF, which sd-bus refuses (systemd's
 * unichar_is_valid()). */
bool unichar_is_noncharacter(uint32_t c);
