/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smsprov/utf8.h"

size_t utf8_decode(const char *str, uint32_t *ret) {
        const unsigned char *s = (const unsigned char *) str;
        uint32_t c;
        size_t n;

        if (s[0] < 0x80) {
                *ret = s[0];
                return 1;
        }
        if ((s[0] & 0xE0) == 0xC0) {
                c = s[0] & 0x1F;
                n = 2;
        } else if ((s[0] & 0xF0) == 0xE0) {
                c = s[0] & 0x0F;
                n = 3;
        } else if ((s[0] & 0xF8) == 0xF0) {
                c = s[0] & 0x07;
                n = 4;
        } else
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
                c = (c << 6) | (s[i] & 0x3F);
        }
        if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10FFFF ||
            (c >= 0xD800 && c <= 0xDFFF))
                return 0;
        *ret = c;
        return n;
}

bool unichar_is_noncharacter(uint32_t c) {
        return (c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE;
}

bool utf8_is_valid(const char *s) {
        uint32_t c;

        if (!s)
                return true;
        for (const unsigned char *p = (const unsigned char *) s; *p;) {
                size_t n = utf8_decode((const char *) p, &c);
                if (n == 0 || unichar_is_noncharacter(c))
                        return false;
                p += n;
        }
        return true;
}

char *utf8_sanitize(const char *s) {
        static const char replacement[] = "\xEF\xBF\xBD";
        size_t len = strlen(s);
        char *out = malloc(len * 3 + 1), *w = out;
        uint32_t c;

        if (!out)
                return NULL;
        for (const unsigned char *p = (const unsigned char *) s; *p;) {
                size_t n = utf8_decode((const char *) p, &c);
                /* A well-formed sequence that is refused becomes one U+FFFD, a stray byte too. */
                if (n == 0 || (c < 0x20 && c != '\t' && c != '\n') || c == 0x7F || unichar_is_noncharacter(c)) {
                        memcpy(w, replacement, 3);
                        w += 3;
                        p += n > 0 ? n : 1;
                        continue;
                }
                memcpy(w, p, n);
                w += n;
                p += n;
        }
        *w = 0;
        return out;
}

size_t utf8_encode(uint32_t c, char out[static 4]) {
        assert(c <= 0x10FFFF && !(c >= 0xD800 && c <= 0xDFFF));

        if (c < 0x80) {
                out[0] = (char) c;
                return 1;
        }
        if (c < 0x800) {
                out[0] = (char) (0xC0 | (c >> 6));
                out[1] = (char) (0x80 | (c & 0x3F));
                return 2;
        }
        if (c < 0x10000) {
                out[0] = (char) (0xE0 | (c >> 12));
                out[1] = (char) (0x80 | ((c >> 6) & 0x3F));
                out[2] = (char) (0x80 | (c & 0x3F));
                return 3;
        }
        out[0] = (char) (0xF0 | (c >> 18));
        out[1] = (char) (0x80 | ((c >> 12) & 0x3F));
        out[2] = (char) (0x80 | ((c >> 6) & 0x3F));
        out[3] = (char) (0x80 | (c & 0x3F));
        return 4;
}
