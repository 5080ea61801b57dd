/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smsprov/error.h"
#include "smsprov/macro.h"
#include "smsprov/utf8.h"

static const struct {
        const char *name;
        const char *wbem;
        int errnum;
} error_table[_SMS_ERROR_MAX] = {
        [SMS_ERROR_NONE]               = { "None",            "WBEM_S_NO_ERROR",            0 },
        [SMS_ERROR_NOT_FOUND]          = { "NotFound",        "WBEM_E_NOT_FOUND",           ENOENT },
        [SMS_ERROR_ALREADY_EXISTS]     = { "AlreadyExists",   "WBEM_E_ALREADY_EXISTS",      EEXIST },
        [SMS_ERROR_INVALID_PARAMETER]  = { "InvalidParameter","WBEM_E_INVALID_PARAMETER",   EINVAL },
        [SMS_ERROR_TYPE_MISMATCH]      = { "TypeMismatch",    "WBEM_E_TYPE_MISMATCH",       EINVAL },
        [SMS_ERROR_INVALID_PROPERTY]   = { "InvalidProperty", "WBEM_E_INVALID_PROPERTY",    EINVAL },
        [SMS_ERROR_READ_ONLY]          = { "ReadOnly",        "WBEM_E_READ_ONLY",           EROFS },
        [SMS_ERROR_VALUE_OUT_OF_RANGE] = { "ValueOutOfRange", "WBEM_E_VALUE_OUT_OF_RANGE",  ERANGE },
        [SMS_ERROR_INVALID_CLASS]      = { "InvalidClass",    "WBEM_E_INVALID_CLASS",       EINVAL },
        [SMS_ERROR_INVALID_QUERY]      = { "InvalidQuery",    "WBEM_E_INVALID_QUERY",       EINVAL },
        [SMS_ERROR_NOT_SUPPORTED]      = { "NotSupported",    "WBEM_E_NOT_SUPPORTED",       EOPNOTSUPP },
        [SMS_ERROR_LOCKED]             = { "Locked",          "WBEM_E_ACCESS_DENIED",       EPERM },
        [SMS_ERROR_VERSION_MISMATCH]   = { "VersionMismatch", "WBEM_E_FAILED",              ESTALE },
        [SMS_ERROR_BUSY]               = { "Busy",            "WBEM_E_FAILED",              EBUSY },
        [SMS_ERROR_IMAGE_ERROR]        = { "ImageError",      "WBEM_E_FAILED",              EIO },
        [SMS_ERROR_PATH_NOT_ALLOWED]   = { "PathNotAllowed",  "WBEM_E_ACCESS_DENIED",       EACCES },
        [SMS_ERROR_OUT_OF_DISK_SPACE]  = { "OutOfDiskSpace",  "WBEM_E_OUT_OF_DISK_SPACE",   ENOSPC },
        [SMS_ERROR_CANCELED]           = { "Canceled",        "WBEM_E_CALL_CANCELLED",      ECANCELED },
        [SMS_ERROR_LIMITS_EXCEEDED]    = { "LimitsExceeded",  "WBEM_E_QUOTA_VIOLATION",     EUSERS },
        [SMS_ERROR_FAILED]             = { "Failed",          "WBEM_E_FAILED",              EIO },
};

const char *sms_error_code_to_name(SmsErrorCode code) {
        if (code < 0 || code >= _SMS_ERROR_MAX)
                return "Failed";
        return error_table[code].name;
}

const char *sms_error_code_to_wbem(SmsErrorCode code) {
        if (code < 0 || code >= _SMS_ERROR_MAX)
                return "WBEM_E_FAILED";
        return error_table[code].wbem;
}

int sms_error_code_to_errno(SmsErrorCode code) {
        if (code <= SMS_ERROR_NONE || code >= _SMS_ERROR_MAX)
                return -EIO;
        return -error_table[code].errnum;
}

size_t sms_utf8_prefix_length(const char *s, size_t max) {
        size_t n = strnlen(s, max + 1);

        if (n <= max)
                return n;
        /* s[max] is the first byte left out: step back over the continuation bytes (10xxxxxx) of
         * the character it belongs to, at most 3 of them in valid UTF-8. */
        n = max;
        for (unsigned back = 0; n > 0 && back < 3 && ((unsigned char) s[n] & 0xC0) == 0x80; back++)
                n--;
        if (((unsigned char) s[n] & 0xC0) == 0x80)
                n = max; /* not UTF-8 at all: cut where the limit is */
        return n;
}

int sms_quote_length(const char *s) {
        return (int) sms_utf8_prefix_length(sms_quote_string(s), SMS_QUOTE_MAX);
}

const char *sms_quote_string(const char *s) {
        return s ? s : "(null)";
}

const char *sms_quote_ellipsis(const char *s) {
        return s && strnlen(s, SMS_QUOTE_MAX + 1) > SMS_QUOTE_MAX ? "…" : "";
}

/* Cuts m, longer than SMS_ERROR_MESSAGE_MAX bytes, to at most that many with the "…" (3 bytes):
 * the cut message fits where m was. */
static void message_cut(char *m) {
        strcpy(m + sms_utf8_prefix_length(m, SMS_ERROR_MESSAGE_MAX - strlen("…")), "…");
}

int sms_error_setv(SmsError *e, SmsErrorCode code, const char *fmt, va_list ap) {
        if (e && e->code == SMS_ERROR_NONE) {
                char *m = NULL;
                if (vasprintf(&m, fmt, ap) < 0)
                        m = NULL;
                else if (!utf8_is_valid(m)) {
                        /* A message goes out in a D-Bus error reply, and sd-bus sends no reply at
                         * all for one that is not UTF-8: a byte of a caller's string must not
                         * leave its call unanswered. */
                        char *clean = utf8_sanitize(m);
                        free(m);
                        m = clean;
                }
                if (m && strlen(m) > SMS_ERROR_MESSAGE_MAX)
                        message_cut(m);
                e->code = code;
                e->message = m;
        }
        return sms_error_code_to_errno(code);
}

int sms_error_set(SmsError *e, SmsErrorCode code, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = sms_error_setv(e, code, fmt, ap);
        va_end(ap);
        return r;
}

int sms_error_set_errno(SmsError *e, int error, const char *fmt, ...) {
        _cleanup_free_ char *m = NULL;
        va_list ap;
        int r;

        error = abs(error);
        va_start(ap, fmt);
        r = vasprintf(&m, fmt, ap);
        va_end(ap);
        if (r < 0)
                m = NULL;
        sms_error_set(e, error == ENOSPC || error == EDQUOT ? SMS_ERROR_OUT_OF_DISK_SPACE : SMS_ERROR_FAILED,
                      "%s: %s", m ? m : "operation failed", strerror(error));
        return -error;
}

void sms_error_clear(SmsError *e) {
        if (!e)
                return;
        free(e->message);
        *e = SMS_ERROR_NULL;
}
