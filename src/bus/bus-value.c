/* SPDX-License-Identifier: MIT */

/* CimValue ↔ D-Bus, by the CIM type (API.md §3). */

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bus/bus-util.h"
#include "smsprov/macro.h"
#include "smsprov/schedule.h"
#include "util/bus-basic.h"

#define ST(t) SMS_SCHEDULE_TYPE_BIT(t)

static int append_schedule_token(sd_bus_message *m, const SmsScheduleToken *t) {
        int r;

        r = sd_bus_message_open_container(m, 'r', "sa{sv}");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", sms_schedule_type_to_class(t->type));
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        for (size_t i = 0; i < sms_n_schedule_fields; i++) {
                const SmsScheduleField *f = &sms_schedule_fields[i];
                const void *field = (const uint8_t *) t + f->offset;

                if (!(f->types & ST(t->type)))
                        continue;
                if (f->type == 't')
                        r = sd_bus_message_append(m, "{sv}", f->name, "t", sms_schedule_token_start_usec(t));
                else if (f->type == 'b')
                        r = sd_bus_message_append(m, "{sv}", f->name, "b", (int) *(const bool *) field);
                else
                        r = sd_bus_message_append(m, "{sv}", f->name, "u", (uint32_t) *(const unsigned *) field);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

uint64_t bus_value_variant_size_min(const CimValue *v) {
        /* The variant's signature, then the value without any padding: a lower bound. */
        uint64_t n = 1 + strlen(cim_type_to_signature(v->type)) + 1;

        switch (v->type) {
        case CIM_STRING:
                return n + 4 + (v->null ? 0 : strlen(v->str)) + 1;
        case CIM_UINT8:
                return n + 1;
        case CIM_BOOLEAN:
        case CIM_UINT32:
        case CIM_SINT32:
                return n + 4;
        case CIM_UINT8_ARRAY:
                return n + 4 + (v->null ? 0 : v->bytes.n);
        case CIM_UINT32_ARRAY:
                return n + 4 + (v->null ? 0 : 4 * v->u32s.n);
        case CIM_STRING_ARRAY:
                n += 4;
                for (char **s = v->null ? NULL : v->strv; s && *s; s++)
                        n += 4 + strlen(*s) + 1;
                return n;
        case CIM_DRIVER_DETAILS_ARRAY:
                n += 4;
                for (size_t i = 0; !v->null && i < v->drivers.n; i++)
                        n += 4 + 4 + strlen(v->drivers.data[i].source_path) + 1;
                return n;
        case CIM_SCHEDULE_ARRAY:
                return n + 4 + (v->null ? 0 : 8 * v->schedule.n);
        default: /* the 64-bit integers and DateTime */
                return n + 8;
        }
}

int bus_append_value(sd_bus_message *m, const CimValue *v) {
        int r;

        switch (v->type) {
        case CIM_STRING:
                return sd_bus_message_append_basic(m, 's', v->null ? "" : v->str);
        case CIM_BOOLEAN: {
                int b = !v->null && v->b;
                return sd_bus_message_append_basic(m, 'b', &b);
        }
        case CIM_UINT8: {
                uint8_t u = v->null ? 0 : (uint8_t) v->u;
                return sd_bus_message_append_basic(m, 'y', &u);
        }
        case CIM_UINT32: {
                uint32_t u = v->null ? 0 : (uint32_t) v->u;
                return sd_bus_message_append_basic(m, 'u', &u);
        }
        case CIM_SINT32: {
                int32_t i = v->null ? 0 : (int32_t) v->i;
                return sd_bus_message_append_basic(m, 'i', &i);
        }
        case CIM_UINT64:
        case CIM_DATETIME: {
                uint64_t u = v->null ? 0 : v->u;
                return sd_bus_message_append_basic(m, 't', &u);
        }
        case CIM_SINT64: {
                int64_t i = v->null ? 0 : v->i;
                return sd_bus_message_append_basic(m, 'x', &i);
        }
        case CIM_UINT8_ARRAY:
                return sd_bus_message_append_array(m, 'y', v->null ? NULL : v->bytes.data,
                                                   v->null ? 0 : v->bytes.n);
        case CIM_STRING_ARRAY:
                return sd_bus_message_append_strv(m, v->null ? NULL : v->strv);
        case CIM_UINT32_ARRAY:
                return sd_bus_message_append_array(m, 'u', v->null ? NULL : v->u32s.data,
                                                   v->null ? 0 : v->u32s.n * sizeof(uint32_t));
        case CIM_DRIVER_DETAILS_ARRAY:
                r = sd_bus_message_open_container(m, 'a', "(us)");
                if (r < 0)
                        return r;
                for (size_t i = 0; !v->null && i < v->drivers.n; i++) {
                        r = sd_bus_message_append(m, "(us)", v->drivers.data[i].id, v->drivers.data[i].source_path);
                        if (r < 0)
                                return r;
                }
                return sd_bus_message_close_container(m);
        case CIM_SCHEDULE_ARRAY:
                r = sd_bus_message_open_container(m, 'a', "(sa{sv})");
                if (r < 0)
                        return r;
                for (size_t i = 0; !v->null && i < v->schedule.n; i++) {
                        r = append_schedule_token(m, &v->schedule.data[i]);
                        if (r < 0)
                                return r;
                }
                return sd_bus_message_close_container(m);
        default:
                return -EINVAL;
        }
}

int bus_append_value_variant(sd_bus_message *m, const CimValue *v) {
        int r;

        r = sd_bus_message_open_container(m, 'v', cim_type_to_signature(v->type));
        if (r < 0)
                return r;
        r = bus_append_value(m, v);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

static int read_schedule_token(sd_bus_message *m, SmsScheduleToken *t, SmsError *e) {
        const char *cls;
        uint64_t start = 0;
        bool have_start = false;
        int r, type;

        r = sd_bus_message_enter_container(m, 'r', "sa{sv}");
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "s", &cls);
        if (r < 0)
                return r;
        type = sms_schedule_type_from_class(cls);
        if (type < 0)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                     "'" SMS_QUOTE_FMT "' is not a schedule token class (SMS_ST_NonRecurring, "
                                     "SMS_ST_RecurInterval, SMS_ST_RecurWeekly, SMS_ST_RecurMonthlyByWeekday, "
                                     "SMS_ST_RecurMonthlyByDate)",
                                     SMS_QUOTE(cls));
        sms_schedule_token_init(t, (SmsScheduleType) type);

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const SmsScheduleField *f = NULL;
                const char *name, *contents;
                char want[2];

                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < sms_n_schedule_fields; i++)
                        if (strcasecmp(sms_schedule_fields[i].name, name) == 0 && (sms_schedule_fields[i].types & ST(type)))
                                f = &sms_schedule_fields[i];
                if (!f)
                        return sms_error_set(e, SMS_ERROR_INVALID_PROPERTY, "%s has no property " SMS_QUOTE_FMT, cls,
                                             SMS_QUOTE(name));
                r = sd_bus_message_peek_type(m, NULL, &contents);
                if (r < 0)
                        return r;
                want[0] = f->type;
                want[1] = 0;
                if (!streq(contents, want))
                        return sms_error_set(e, SMS_ERROR_TYPE_MISMATCH, "%s.%s wants type '%s', got '%s'", cls,
                                             f->name, want, contents);
                void *field = (uint8_t *) t + f->offset;
                if (f->type == 't') {
                        r = sd_bus_message_read(m, "v", "t", &start);
                        have_start = true;
                } else if (f->type == 'b') {
                        int b;
                        r = sd_bus_message_read(m, "v", "b", &b);
                        *(bool *) field = b;
                } else {
                        uint32_t u;
                        r = sd_bus_message_read(m, "v", "u", &u);
                        /* Clamp so that a huge value fails validation instead of wrapping. */
                        *(unsigned *) field = u;
                }
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;

        /* StartTime is converted once IsGMT is known, whatever the order in the dict. */
        if (have_start)
                return sms_schedule_token_set_start_usec(t, start, e);
        return 0;
}

/* Reads the current variant's contents, whose signature has been checked, into a value. */
static int read_value(sd_bus_message *m, CimType type, CimValue *ret, SmsError *e) {
        int r;

        *ret = cim_value_null(type);
        switch (type) {
        case CIM_STRING: {
                const char *s;
                r = sd_bus_message_read_basic(m, 's', &s);
                if (r < 0)
                        return r;
                return cim_value_set_string(ret, s);
        }
        case CIM_BOOLEAN:
        case CIM_UINT8:
        case CIM_UINT32:
        case CIM_SINT32:
        case CIM_UINT64:
        case CIM_DATETIME:
        case CIM_SINT64: {
                char sig = cim_type_to_signature(type)[0];
                BusBasic v;
                r = sd_bus_message_read_basic(m, sig, &v);
                if (r < 0)
                        return r;
                if (type == CIM_BOOLEAN)
                        *ret = cim_value_bool(v.b);
                else if (sig == 't')
                        *ret = cim_value_uint(type, v.t);
                else if (cim_type_is_signed(type))
                        *ret = (CimValue) { .type = type, .i = bus_basic_int64(sig, &v) };
                else
                        *ret = cim_value_uint(type, (uint64_t) bus_basic_int64(sig, &v));
                return 0;
        }
        case CIM_UINT8_ARRAY:
        case CIM_UINT32_ARRAY: {
                /* Copied whole, into a buffer of its own even when empty. */
                const void *p;
                void *data;
                size_t n;
                r = sd_bus_message_read_array(m, cim_type_to_signature(type)[1], &p, &n);
                if (r < 0)
                        return r;
                data = malloc(n ? n : 1);
                if (!data)
                        return -ENOMEM;
                if (n)
                        memcpy(data, p, n);
                if (type == CIM_UINT8_ARRAY) {
                        ret->bytes.data = data;
                        ret->bytes.n = n;
                } else {
                        ret->u32s.data = data;
                        ret->u32s.n = n / sizeof(uint32_t);
                }
                ret->null = false;
                return 0;
        }
        case CIM_STRING_ARRAY: {
                char **l = NULL;
                r = sd_bus_message_read_strv(m, &l);
                if (r < 0)
                        return r;
                if (!l && !(l = calloc(1, sizeof(char *))))
                        return -ENOMEM;
                ret->strv = l;
                ret->null = false;
                return 0;
        }
        case CIM_DRIVER_DETAILS_ARRAY: {
                uint32_t id;
                const char *path;
                ret->null = false;
                r = sd_bus_message_enter_container(m, 'a', "(us)");
                if (r < 0)
                        return r;
                while ((r = sd_bus_message_read(m, "(us)", &id, &path)) > 0) {
                        if (ret->drivers.n >= SMS_MAX_ARRAY_ELEMENTS)
                                return sms_error_set(e, SMS_ERROR_VALUE_OUT_OF_RANGE, "too many drivers");
                        SmsDriverDetails *d = realloc(ret->drivers.data, (ret->drivers.n + 1) * sizeof(SmsDriverDetails));
                        if (!d)
                                return -ENOMEM;
                        ret->drivers.data = d;
                        d[ret->drivers.n] = (SmsDriverDetails) { .id = id, .source_path = strdup(path) };
                        if (!d[ret->drivers.n++].source_path)
                                return -ENOMEM;
                }
                if (r < 0)
                        return r;
                return sd_bus_message_exit_container(m);
        }
        case CIM_SCHEDULE_ARRAY:
                ret->null = false;
                r = sd_bus_message_enter_container(m, 'a', "(sa{sv})");
                if (r < 0)
                        return r;
                while ((r = sd_bus_message_at_end(m, false)) == 0) {
                        if (ret->schedule.n >= SMS_SCHEDULE_MAX_TOKENS)
                                return sms_error_set(e, SMS_ERROR_VALUE_OUT_OF_RANGE,
                                                     "a schedule holds at most %d tokens", SMS_SCHEDULE_MAX_TOKENS);
                        SmsScheduleToken *t = realloc(ret->schedule.data,
                                                      (ret->schedule.n + 1) * sizeof(SmsScheduleToken));
                        if (!t)
                                return -ENOMEM;
                        ret->schedule.data = t;
                        r = read_schedule_token(m, &t[ret->schedule.n], e);
                        if (r < 0)
                                return r;
                        ret->schedule.n++;
                }
                if (r < 0)
                        return r;
                return sd_bus_message_exit_container(m);
        default:
                return -EINVAL;
        }
}

int bus_read_value(sd_bus_message *m, CimType type, CimValue *ret, SmsError *e) {
        int r = read_value(m, type, ret, e);
        if (r < 0) {
                cim_value_clear(ret);
                if (!sms_error_is_set(e))
                        sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "malformed %s: %s", cim_type_to_string(type),
                                      strerror(-r));
        }
        return r;
}

static int push_change(SiteChange **l, size_t *n, size_t index, CimType type) {
        SiteChange *grown = realloc(*l, (*n + 1) * sizeof(SiteChange));
        if (!grown)
                return -ENOMEM;
        *l = grown;
        grown[(*n)++] = (SiteChange) { .index = index, .value = cim_value_null(type) };
        return 0;
}

int bus_read_create(sd_bus_message *m, const SmsClass *c, SiteChange **ret, size_t *ret_n, SiteChange **ret_params,
                    size_t *ret_n_params, SmsError *e) {
        SiteChange *changes = NULL, *params = NULL;
        size_t n = 0, n_params = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                goto fail;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *name, *contents;
                int idx;

                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        goto fail;
                const SmsProperty *p;
                SiteChange *target;
                idx = sms_class_find_property(c, name);
                if (idx >= 0)
                        p = c->all[idx];
                else if (ret_params && (idx = sms_class_find_create_parameter(c, name)) >= 0)
                        p = &c->create_parameters[idx];
                else {
                        r = sms_error_set(e, SMS_ERROR_INVALID_PROPERTY, "%s has no property " SMS_QUOTE_FMT, c->name,
                                          SMS_QUOTE(name));
                        goto fail;
                }
                if (n + n_params >= c->n_all + c->n_create_parameters) {
                        r = sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "a property is given twice");
                        goto fail;
                }
                r = sd_bus_message_peek_type(m, NULL, &contents);
                if (r < 0)
                        goto fail;
                if (!streq(contents, cim_type_to_signature(p->type))) {
                        r = sms_error_set(e, SMS_ERROR_TYPE_MISMATCH, "%s is %s ('%s'), got a '%s'", p->name,
                                          cim_type_to_string(p->type), cim_type_to_signature(p->type), contents);
                        goto fail;
                }
                if (p->flags & SMS_PROP_CREATE_ONLY) {
                        r = push_change(&params, &n_params, (size_t) idx, p->type);
                        target = params ? &params[n_params - 1] : NULL;
                } else {
                        r = push_change(&changes, &n, (size_t) idx, p->type);
                        target = changes ? &changes[n - 1] : NULL;
                }
                if (r < 0)
                        goto fail;
                r = sd_bus_message_enter_container(m, 'v', contents);
                if (r < 0)
                        goto fail;
                r = read_value(m, p->type, &target->value, e);
                if (r >= 0 && (p->flags & SMS_PROP_CREATE_ONLY))
                        r = sms_property_validate(p, &target->value, e);
                if (r < 0)
                        goto fail;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        goto fail;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        goto fail;
        }
        if (r < 0)
                goto fail;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                goto fail;

        *ret = changes;
        *ret_n = n;
        if (ret_params) {
                *ret_params = params;
                *ret_n_params = n_params;
        }
        return 0;
fail:
        site_changes_free(changes, n);
        site_changes_free(params, n_params);
        if (!sms_error_is_set(e))
                sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "malformed properties: %s", strerror(-r));
        return r;
}

int bus_read_changes(sd_bus_message *m, const SmsClass *c, SiteChange **ret, size_t *ret_n, SmsError *e) {
        return bus_read_create(m, c, ret, ret_n, NULL, NULL, e);
}
