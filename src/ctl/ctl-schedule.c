/* SPDX-License-Identifier: MIT */

/* SMS_ScheduleToken[] from and to SMS interval strings: smsctl decodes the string with the core
 * codec (src/model/schedule.c, pure code, no bus round trip) and sends the tokens as a(sa{sv})
 * with the SMS_ST_* property names of reference §7.3 (sms_schedule_fields). */

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl-value.h"
#include "smsprov/schedule.h"

#define ST(t) SMS_SCHEDULE_TYPE_BIT(t)

static int append_token(sd_bus_message *m, const SmsScheduleToken *t) {
        int r;

        r = sd_bus_message_open_container(m, 'r', "sa{sv}");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", sms_schedule_type_to_class(t->type));
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        for (size_t i = 0; r >= 0 && i < sms_n_schedule_fields; i++) {
                const void *field = (const uint8_t *) t + sms_schedule_fields[i].offset;

                if (!(sms_schedule_fields[i].types & ST(t->type)))
                        continue;
                switch (sms_schedule_fields[i].type) {
                case 't':
                        r = sd_bus_message_append(m, "{sv}", sms_schedule_fields[i].name, "t",
                                                  sms_schedule_token_start_usec(t));
                        break;
                case 'b':
                        r = sd_bus_message_append(m, "{sv}", sms_schedule_fields[i].name, "b", (int) *(const bool *) field);
                        break;
                default:
                        r = sd_bus_message_append(m, "{sv}", sms_schedule_fields[i].name, "u",
                                                  (uint32_t) *(const unsigned *) field);
                }
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

int ctl_schedule_append(sd_bus_message *m, const char *text, const char *what) {
        _cleanup_free_ char *compact = malloc(strlen(text) + 1);
        _cleanup_free_ SmsScheduleToken *tokens = NULL;
        SmsError e = SMS_ERROR_NULL;
        size_t n = 0;
        char *w;
        int r;

        if (!compact)
                return ctl_oom();
        /* Tokens may be written one after the other or separated by commas or spaces. */
        w = compact;
        for (const char *p = text; *p; p++)
                if (*p != ',' && *p != ' ')
                        *w++ = *p;
        *w = 0;
        r = sms_schedule_decode(compact, &tokens, &n, &e);
        if (r < 0) {
                r = ctl_usage("%s: '%s' is not an SMS interval string: %s", what, text,
                              e.message ? e.message : "cannot decode it");
                sms_error_clear(&e);
                return r;
        }
        r = sd_bus_message_open_container(m, 'a', "(sa{sv})");
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = append_token(m, &tokens[i]);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r < 0 ? ctl_bus_error(NULL, r) : 0;
}

/* The JSON form of ctl_value_read_json(), [{"__CLASS": …, "DaySpan": 1, …}], back to a string;
 * NULL when it is not one. */
char *ctl_schedule_format(json_object *tokens) {
        _cleanup_free_ SmsScheduleToken *t = NULL;
        size_t n = json_object_array_length(tokens);
        SmsError e = SMS_ERROR_NULL;
        char *s = NULL;

        if (n == 0)
                return strdup("");
        t = calloc(n, sizeof(SmsScheduleToken));
        if (!t)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_array_get_idx(tokens, i), *cls, *v;
                uint64_t start = 0;
                bool have_start = false;
                int type;

                if (!json_object_object_get_ex(o, "__CLASS", &cls))
                        return NULL;
                type = sms_schedule_type_from_class(json_object_get_string(cls));
                if (type < 0)
                        return NULL;
                sms_schedule_token_init(&t[i], (SmsScheduleType) type);
                for (size_t f = 0; f < sms_n_schedule_fields; f++) {
                        void *field = (uint8_t *) &t[i] + sms_schedule_fields[f].offset;

                        if (!(sms_schedule_fields[f].types & ST(type)) || !json_object_object_get_ex(o, sms_schedule_fields[f].name, &v))
                                continue;
                        if (sms_schedule_fields[f].type == 't') {
                                start = json_object_get_uint64(v);
                                have_start = true;
                        } else if (sms_schedule_fields[f].type == 'b')
                                *(bool *) field = json_object_get_boolean(v);
                        else
                                *(unsigned *) field = (unsigned) json_object_get_int64(v);
                }
                if (have_start && sms_schedule_token_set_start_usec(&t[i], start, &e) < 0)
                        goto fail;
        }
        if (sms_schedule_encode(t, n, &s, &e) < 0)
                goto fail;
        return s;
fail:
        sms_error_clear(&e);
        return NULL;
}
