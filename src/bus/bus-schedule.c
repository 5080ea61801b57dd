/* SPDX-License-Identifier: MIT */

/* SMS_ScheduleMethods, which turns interval strings into tokens and back (reference §7.3). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus-schedule.h"
#include "bus/bus-util.h"
#include "bus/registration.h"
#include "smsprov/macro.h"
#include "util/log.h"

/* --- SMS_ScheduleMethods -------------------------------------------------------------------------- */

static int method_read_from_string(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        CimValue v = { .type = CIM_SCHEDULE_ARRAY };
        SmsError e = SMS_ERROR_NULL;
        const char *s;
        int r;

        r = sd_bus_message_read(msg, "s", &s);
        if (r < 0)
                return r;
        r = sms_schedule_decode(s, &v.schedule.data, &v.schedule.n, &e);
        if (r < 0) {
                return bus_reply_error_take(error, &e, r);
        }
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = bus_append_value(reply, &v);
        cim_value_clear(&v);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_write_to_string(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *s = NULL;
        CimValue v = {};
        SmsError e = SMS_ERROR_NULL;
        int r;

        r = bus_read_value(msg, CIM_SCHEDULE_ARRAY, &v, &e);
        if (r >= 0)
                r = sms_schedule_encode(v.schedule.data, v.schedule.n, &s, &e);
        cim_value_clear(&v);
        if (r < 0) {
                return bus_reply_error_take(error, &e, r);
        }
        return sd_bus_reply_method_return(msg, "s", s);
}

const BusMethodHandler bus_schedule_static_handlers[] = {
        { "ReadFromString", method_read_from_string },
        { "WriteToString", method_write_to_string },
        {},
};
