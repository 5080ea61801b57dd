/* SPDX-License-Identifier: MIT */
#pragma once

/* Helpers shared by the libFuzzer targets in tests/fuzz/ (one target per fuzz-*.c file; see
 * tests/fuzz/meson.build and tests/fuzz/run-fuzzers.sh). A target reports a broken invariant by
 * printing what it found and aborting, which libFuzzer records as a crash with the input. */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smsprov/error.h"
#include "smsprov/utf8.h"

/* The input as a C string: the bytes up to the first NUL (the parsers take C strings, as the bus
 * hands them over; D-Bus strings cannot hold NUL). */
static inline char *fuzz_string(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);

        if (!s)
                abort();
        memcpy(s, data, size);
        s[size] = 0;
        return s;
}

__attribute__((format(printf, 1, 2), noreturn)) static inline void fuzz_fail(const char *fmt, ...) {
        va_list ap;

        fputs("FUZZ INVARIANT BROKEN: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        abort();
}

/* Whether a failure's message could go out in a D-Bus error reply: there, non-empty, and UTF-8
 * that sd-bus accepts (else the call would never be answered), whatever bytes the input held. */
static inline bool fuzz_error_message_ok(const SmsError *e) {
        return e && e->message && *e->message && utf8_is_valid(e->message);
}

/* Reads fields from the input, front to back, like LLVM's FuzzedDataProvider: past the end
 * everything is zero or empty. */
typedef struct FuzzReader {
        const uint8_t *data;
        size_t size;
} FuzzReader;

static inline uint8_t fuzz_u8(FuzzReader *r) {
        if (r->size == 0)
                return 0;
        r->size--;
        return *r->data++;
}

static inline uint64_t fuzz_uint(FuzzReader *r, size_t bytes) {
        uint64_t v = 0;

        for (size_t i = 0; i < bytes; i++)
                v = v << 8 | fuzz_u8(r);
        return v;
}

/* A string of up to 255 bytes (length byte first), cut at a NUL; a new allocation. */
static inline char *fuzz_take_string(FuzzReader *r) {
        size_t n = fuzz_u8(r);

        if (n > r->size)
                n = r->size;
        char *s = malloc(n + 1);
        if (!s)
                abort();
        memcpy(s, r->data, n);
        s[n] = 0;
        r->data += n;
        r->size -= n;
        return s;
}
