/* SPDX-License-Identifier: MIT */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "smsprov/cim.h"
#include "smsprov/macro.h"

static const struct {
        const char *name;
        const char *signature;
} cim_type_table[_CIM_TYPE_MAX] = {
        [CIM_STRING]               = { "String",                "s" },
        [CIM_BOOLEAN]              = { "Boolean",               "b" },
        [CIM_UINT8]                = { "UInt8",                 "y" },
        [CIM_UINT32]               = { "UInt32",                "u" },
        [CIM_SINT32]               = { "SInt32",                "i" },
        [CIM_UINT64]               = { "UInt64",                "t" },
        [CIM_SINT64]               = { "SInt64",                "x" },
        [CIM_DATETIME]             = { "DateTime",              "t" },
        [CIM_UINT8_ARRAY]          = { "UInt8[]",               "ay" },
        [CIM_STRING_ARRAY]         = { "String[]",              "as" },
        [CIM_UINT32_ARRAY]         = { "UInt32[]",              "au" },
        [CIM_DRIVER_DETAILS_ARRAY] = { "SMS_Driver_Details[]",  "a(us)" },
        [CIM_SCHEDULE_ARRAY]       = { "SMS_ScheduleToken[]",   "a(sa{sv})" },
};

const char *cim_type_to_string(CimType t) {
        return t >= 0 && t < _CIM_TYPE_MAX ? cim_type_table[t].name : "(invalid)";
}

const char *cim_type_to_signature(CimType t) {
        return t >= 0 && t < _CIM_TYPE_MAX ? cim_type_table[t].signature : NULL;
}

bool cim_type_is_array(CimType t) {
        return t >= CIM_UINT8_ARRAY && t < _CIM_TYPE_MAX;
}

bool cim_type_is_integer(CimType t) {
        return t >= CIM_UINT8 && t <= CIM_DATETIME;
}

bool cim_type_is_signed(CimType t) {
        return t == CIM_SINT32 || t == CIM_SINT64;
}

uint64_t cim_type_max(CimType t) {
        switch (t) {
        case CIM_UINT8:
                return UINT8_MAX;
        case CIM_UINT32:
                return UINT32_MAX;
        case CIM_SINT32:
                return INT32_MAX;
        case CIM_SINT64:
                return INT64_MAX;
        default:
                return UINT64_MAX;
        }
}

void cim_value_clear(CimValue *v) {
        if (v->null) {
                *v = cim_value_null(v->type);
                return;
        }
        switch (v->type) {
        case CIM_STRING:
                free(v->str);
                break;
        case CIM_UINT8_ARRAY:
                free(v->bytes.data);
                break;
        case CIM_STRING_ARRAY:
                strv_free(v->strv);
                break;
        case CIM_UINT32_ARRAY:
                free(v->u32s.data);
                break;
        case CIM_DRIVER_DETAILS_ARRAY:
                for (size_t i = 0; i < v->drivers.n; i++)
                        free(v->drivers.data[i].source_path);
                free(v->drivers.data);
                break;
        case CIM_SCHEDULE_ARRAY:
                free(v->schedule.data);
                break;
        default:
                break;
        }
        *v = cim_value_null(v->type);
}

int cim_value_set_string(CimValue *v, const char *s) {
        char *c = strdup(s);
        if (!c)
                return -ENOMEM;
        *v = (CimValue) { .type = CIM_STRING, .str = c };
        return 0;
}

static void *memdup_or_empty(const void *p, size_t n) {
        void *c = malloc(n > 0 ? n : 1);
        if (c && n > 0)
                memcpy(c, p, n);
        return c;
}

int cim_value_copy(CimValue *dst, const CimValue *src) {
        *dst = *src;
        if (src->null)
                return 0;

        switch (src->type) {
        case CIM_STRING:
                dst->str = strdup(src->str);
                if (!dst->str)
                        goto oom;
                break;
        case CIM_UINT8_ARRAY:
                dst->bytes.data = memdup_or_empty(src->bytes.data, src->bytes.n);
                if (!dst->bytes.data)
                        goto oom;
                break;
        case CIM_STRING_ARRAY: {
                size_t n = strv_length(src->strv);
                dst->strv = calloc(n + 1, sizeof(char *));
                if (!dst->strv)
                        goto oom;
                for (size_t i = 0; i < n; i++)
                        if (!(dst->strv[i] = strdup(src->strv[i]))) {
                                strv_free(dst->strv);
                                goto oom;
                        }
                break;
        }
        case CIM_UINT32_ARRAY:
                dst->u32s.data = memdup_or_empty(src->u32s.data, src->u32s.n * sizeof(uint32_t));
                if (!dst->u32s.data)
                        goto oom;
                break;
        case CIM_DRIVER_DETAILS_ARRAY:
                dst->drivers.data = calloc(src->drivers.n ? src->drivers.n : 1, sizeof(SmsDriverDetails));
                if (!dst->drivers.data)
                        goto oom;
                for (size_t i = 0; i < src->drivers.n; i++) {
                        dst->drivers.data[i].id = src->drivers.data[i].id;
                        dst->drivers.data[i].source_path = strdup(src->drivers.data[i].source_path);
                        if (!dst->drivers.data[i].source_path) {
                                dst->drivers.n = i;
                                cim_value_clear(dst);
                                goto oom;
                        }
                }
                break;
        case CIM_SCHEDULE_ARRAY:
                dst->schedule.data = memdup_or_empty(src->schedule.data, src->schedule.n * sizeof(SmsScheduleToken));
                if (!dst->schedule.data)
                        goto oom;
                break;
        default:
                break;
        }
        return 0;
oom:
        *dst = cim_value_null(src->type);
        return -ENOMEM;
}

size_t cim_value_array_length(const CimValue *v) {
        if (v->null)
                return 0;
        switch (v->type) {
        case CIM_UINT8_ARRAY:
                return v->bytes.n;
        case CIM_STRING_ARRAY:
                return strv_length(v->strv);
        case CIM_UINT32_ARRAY:
                return v->u32s.n;
        case CIM_DRIVER_DETAILS_ARRAY:
                return v->drivers.n;
        case CIM_SCHEDULE_ARRAY:
                return v->schedule.n;
        default:
                return 0;
        }
}

bool cim_value_equal(const CimValue *a, const CimValue *b) {
        if (a->type != b->type || a->null != b->null)
                return false;
        if (a->null)
                return true;

        switch (a->type) {
        case CIM_STRING:
                return streq(a->str, b->str);
        case CIM_BOOLEAN:
                return a->b == b->b;
        case CIM_SINT32:
        case CIM_SINT64:
                return a->i == b->i;
        case CIM_UINT8_ARRAY:
                return a->bytes.n == b->bytes.n && memcmp(a->bytes.data, b->bytes.data, a->bytes.n) == 0;
        case CIM_STRING_ARRAY: {
                size_t n = strv_length(a->strv);
                if (n != strv_length(b->strv))
                        return false;
                for (size_t i = 0; i < n; i++)
                        if (!streq(a->strv[i], b->strv[i]))
                                return false;
                return true;
        }
        case CIM_UINT32_ARRAY:
                return a->u32s.n == b->u32s.n &&
                       memcmp(a->u32s.data, b->u32s.data, a->u32s.n * sizeof(uint32_t)) == 0;
        case CIM_DRIVER_DETAILS_ARRAY:
                if (a->drivers.n != b->drivers.n)
                        return false;
                for (size_t i = 0; i < a->drivers.n; i++)
                        if (a->drivers.data[i].id != b->drivers.data[i].id ||
                            !streq(a->drivers.data[i].source_path, b->drivers.data[i].source_path))
                                return false;
                return true;
        case CIM_SCHEDULE_ARRAY:
                return a->schedule.n == b->schedule.n &&
                       memcmp(a->schedule.data, b->schedule.data, a->schedule.n * sizeof(SmsScheduleToken)) == 0;
        default:
                return a->u == b->u;
        }
}
