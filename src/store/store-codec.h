/* SPDX-License-Identifier: MIT */
#pragma once

/* CimValue ↔ column, for every backend (the encodings are described in schema/0001-site.sql):
 * integers (booleans, DateTime and UInt64 with its bit pattern too) are 64-bit integers, UInt8[]
 * a blob, the other arrays and schedules text; an empty array is stored as NULL. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smsprov/cim.h"

/* Whether the type is stored as an integer. */
bool store_type_is_integer(CimType type);

/* The text of a String[], UInt32[], SMS_Driver_Details[] (JSON) or schedule value. -EINVAL for
 * another type or a schedule that does not encode, -ENOMEM. */
int store_value_encode_text(const CimValue *v, char **ret);

/* One column's value as a backend read it: the integer, the text or the blob, by the type. */
typedef struct StoreColumnValue {
        bool null;
        int64_t i;        /* the integer types */
        const char *text; /* String, the JSON arrays, schedules: NUL-terminated */
        const void *blob; /* UInt8[] */
        size_t size;
} StoreColumnValue;

/* A value that does not decode is a damaged database, not a caller's mistake: -EBADMSG. */
int store_value_decode(const StoreColumnValue *c, CimType type, CimValue *ret);
