/* SPDX-License-Identifier: MIT */
#pragma once

/* Strings as D-Bus carries them. sd-bus refuses to append a string that is not valid UTF-8 in
 * its sense (which also excludes the noncharacters U+FDD0…U+FDEF and U+xxFFFE/U+xxFFFF), and a
 * method whose error reply cannot be appended is never answered at all: every string that can
 * reach a reply passes utf8_is_valid() or comes out of utf8_sanitize(). */

#include <stdbool.h>

/* Whether s is UTF-8 that sd-bus accepts: no invalid or overlong sequence, no surrogate, nothing
 * above U+10FFFF, no noncharacter. NULL is valid. */
bool utf8_is_valid(const char *s);
/* Replaces whatever utf8_is_valid() refuses, and control characters other than tab and newline,
 * by U+FFFD. Returns a new string (NULL when out of memory). Strings from WIM files, databases
 * and error messages pass through this on the way out. */
char *utf8_sanitize(const char *s);
