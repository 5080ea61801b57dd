/* SPDX-License-Identifier: MIT */
#pragma once

/* CIM types and values. A value is what a property holds, independent of where it came from
 * (D-Bus, the site database, a WQL literal). The mapping to D-Bus signatures is API.md §3. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smsprov/error.h"
#include "smsprov/schedule.h"
#include "smsprov/utf8.h"

typedef enum CimType {
        CIM_STRING,
        CIM_BOOLEAN,
        CIM_UINT8,
        CIM_UINT32,
        CIM_SINT32,
        CIM_UINT64,
        CIM_SINT64,
        CIM_DATETIME,           /* microseconds since the epoch, UTC; 0 = not set */
        CIM_UINT8_ARRAY,
        CIM_STRING_ARRAY,
        CIM_UINT32_ARRAY,
        CIM_DRIVER_DETAILS_ARRAY, /* SMS_Driver_Details[] */
        CIM_SCHEDULE_ARRAY,       /* SMS_ScheduleToken[] */
        _CIM_TYPE_MAX,
        _CIM_TYPE_INVALID = -1,
} CimType;

/* "String", "UInt32[]", "SMS_Driver_Details[]": the names the reference writes. */
const char *cim_type_to_string(CimType t);
/* "s", "au", "a(us)": the D-Bus signature of API.md §3. */
const char *cim_type_to_signature(CimType t);
bool cim_type_is_array(CimType t);
bool cim_type_is_integer(CimType t); /* the scalar integer types and DateTime */
bool cim_type_is_signed(CimType t);
/* The largest value an unsigned integer type can hold (UINT8 → 255). */
uint64_t cim_type_max(CimType t);

typedef struct SmsDriverDetails {
        uint32_t id;       /* SMS_Driver.CI_ID */
        char *source_path; /* not_null */
} SmsDriverDetails;

typedef struct CimValue {
        CimType type;
        bool null; /* the site database knows NULL; D-Bus sees the type's zero */
        union {
                char *str;
                bool b;
                uint64_t u; /* UInt8, UInt32, UInt64, DateTime */
                int64_t i;  /* SInt32, SInt64 */
                struct {
                        uint8_t *data;
                        size_t n;
                } bytes;
                char **strv; /* NULL-terminated; NULL means empty */
                struct {
                        uint32_t *data;
                        size_t n;
                } u32s;
                struct {
                        SmsDriverDetails *data;
                        size_t n;
                } drivers;
                struct {
                        SmsScheduleToken *data;
                        size_t n;
                } schedule;
        };
} CimValue;

/* Frees what the value owns and leaves a NULL value of the same type. */
void cim_value_clear(CimValue *v);
/* Deep copy; the destination must not own anything. */
int cim_value_copy(CimValue *dst, const CimValue *src);
/* Structural equality (NULL equals only NULL). */
bool cim_value_equal(const CimValue *a, const CimValue *b);
/* Number of elements of an array value (0 for NULL or a scalar). */
size_t cim_value_array_length(const CimValue *v);

static inline CimValue cim_value_null(CimType t) {
        return (CimValue) { .type = t, .null = true };
}
int cim_value_set_string(CimValue *v, const char *s); /* v must be cleared */
static inline CimValue cim_value_uint(CimType t, uint64_t u) {
        return (CimValue) { .type = t, .u = u };
}
static inline CimValue cim_value_bool(bool b) {
        return (CimValue) { .type = CIM_BOOLEAN, .b = b };
}

