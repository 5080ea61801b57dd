/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bus/bus-util.h"
#include "smsprov/macro.h"

int bus_reply_error(sd_bus_error *ret_error, const SmsError *e, int r) {
        char name[128];
        SmsErrorCode code = e && e->code != SMS_ERROR_NONE ? e->code : SMS_ERROR_FAILED;
        const char *detail = e && e->message ? e->message : strerror(r < 0 ? -r : EIO);

        if (!e || e->code == SMS_ERROR_NONE) {
                if (r == -ENOSPC || r == -EDQUOT)
                        code = SMS_ERROR_OUT_OF_DISK_SPACE;
        }
        snprintf(name, sizeof name, SMSPROV_ERROR_PREFIX "%s", sms_error_code_to_name(code));
        sd_bus_error_setf(ret_error, name, "%s: %s", sms_error_code_to_wbem(code), detail);
        return r < 0 ? r : sms_error_code_to_errno(code);
}

int bus_reply_error_take(sd_bus_error *ret_error, SmsError *e, int r) {
        r = bus_reply_error(ret_error, e, r);
        sms_error_clear(e);
        return r;
}

int bus_set_error(sd_bus_error *ret_error, SmsErrorCode code, const char *fmt, ...) {
        SmsError e = SMS_ERROR_NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = sms_error_setv(&e, code, fmt, ap);
        va_end(ap);
        return bus_reply_error_take(ret_error, &e, r);
}
