/* SPDX-License-Identifier: MIT */
#pragma once

/* The one error space of the core: the named errors of API.md §7. The core reports a failure as
 * a negative errno return value plus an SmsError filled with the code and a human message; the
 * bus layer turns it into org.smsprov.Provider1.Error.<Name> with the message prefixed by the
 * WBEM code name. Nothing in the core knows D-Bus. */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum SmsErrorCode {
        SMS_ERROR_NONE,
        SMS_ERROR_NOT_FOUND,
        SMS_ERROR_ALREADY_EXISTS,
        SMS_ERROR_INVALID_PARAMETER,
        SMS_ERROR_TYPE_MISMATCH,
        SMS_ERROR_INVALID_PROPERTY,
        SMS_ERROR_READ_ONLY,
        SMS_ERROR_VALUE_OUT_OF_RANGE,
        SMS_ERROR_INVALID_CLASS,
        SMS_ERROR_INVALID_QUERY,
        SMS_ERROR_NOT_SUPPORTED,
        SMS_ERROR_LOCKED,
        SMS_ERROR_VERSION_MISMATCH,
        SMS_ERROR_BUSY,
        SMS_ERROR_IMAGE_ERROR,
        SMS_ERROR_PATH_NOT_ALLOWED,
        SMS_ERROR_OUT_OF_DISK_SPACE,
        SMS_ERROR_CANCELED,
        SMS_ERROR_LIMITS_EXCEEDED,
        SMS_ERROR_FAILED,
        _SMS_ERROR_MAX,
} SmsErrorCode;

typedef struct SmsError {
        SmsErrorCode code;
        char *message; /* owned; NULL when code is SMS_ERROR_NONE */
} SmsError;

#define SMS_ERROR_NULL ((SmsError) { .code = SMS_ERROR_NONE, .message = NULL })

/* "NotFound", "InvalidQuery", ...: the last component of the D-Bus error name. */
const char *sms_error_code_to_name(SmsErrorCode code);
/* "WBEM_E_NOT_FOUND", ...: the prefix of every message. */
const char *sms_error_code_to_wbem(SmsErrorCode code);
/* The negative errno value returned alongside a code (-ENOENT for NotFound, ...). */
int sms_error_code_to_errno(SmsErrorCode code);

/* Caller-given strings in messages. A message quotes at most SMS_QUOTE_MAX bytes of any value a
 * caller gave (a path, a name, a key), cut on a UTF-8 character boundary and followed by "…" when
 * cut, so that a 1 MiB argument does not come back as a 1 MiB error. Write the conversion
 * SMS_QUOTE_FMT and pass SMS_QUOTE(s) for it:
 *
 *     sms_error_set(e, SMS_ERROR_INVALID_PROPERTY, "%s has no property " SMS_QUOTE_FMT, c->name,
 *                   SMS_QUOTE(name));
 *
 * SMS_QUOTE() evaluates s three times (no side effects there); s may be NULL ("(null)"). */
#define SMS_QUOTE_MAX 256u
#define SMS_QUOTE_FMT "%.*s%s"
#define SMS_QUOTE(s) sms_quote_length(s), sms_quote_string(s), sms_quote_ellipsis(s)
/* The bytes of s that a quote keeps: all of it up to SMS_QUOTE_MAX, else the longest prefix of at
 * most SMS_QUOTE_MAX bytes that ends on a character boundary. */
int sms_quote_length(const char *s);
const char *sms_quote_string(const char *s);
/* "…" when the quote of s is cut, "" otherwise. */
const char *sms_quote_ellipsis(const char *s);
/* The longest prefix of s of at most max bytes that does not end inside a UTF-8 sequence
 * (strlen(s) when that is at most max). */
size_t sms_utf8_prefix_length(const char *s, size_t max);

/* Every message is at most this many bytes ("…" included: a longer one is cut on a character
 * boundary): the bound for call sites that quote without SMS_QUOTE(), and for nested messages. */
#define SMS_ERROR_MESSAGE_MAX 2048u

/* Fills *e (if not NULL and not already set: the first error wins) and returns the negative errno
 * of the code, so that callers can write `return sms_error_set(e, SMS_ERROR_NOT_FOUND, ...)`. */
int sms_error_set(SmsError *e, SmsErrorCode code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
int sms_error_setv(SmsError *e, SmsErrorCode code, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));
/* Maps an errno value (ENOSPC → OutOfDiskSpace, ENOMEM/other → Failed) and appends strerror. */
int sms_error_set_errno(SmsError *e, int error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void sms_error_clear(SmsError *e);
static inline bool sms_error_is_set(const SmsError *e) {
        return e && e->code != SMS_ERROR_NONE;
}
