/* SPDX-License-Identifier: MIT */
#pragma once

/* One value of a D-Bus basic type, as sd_bus_message_read_basic() fills it: the member named by
 * the type's letter (h, a file descriptor, is read as i; s, o and g as s). */

#include <stdint.h>

typedef union BusBasic {
        uint8_t y;
        int b;
        int16_t n;
        uint16_t q;
        int32_t i;
        uint32_t u;
        int64_t x;
        uint64_t t;
        double d;
        const char *s;
} BusBasic;

/* The value of an integer type (BUS_BASIC_INT64_TYPES, and h, a file descriptor) as an int64_t;
 * t may not fit and is read as v->t. */
static inline int64_t bus_basic_int64(char type, const BusBasic *v) {
        switch (type) {
        case 'y':
                return v->y;
        case 'n':
                return v->n;
        case 'q':
                return v->q;
        case 'u':
                return v->u;
        case 'x':
                return v->x;
        default: /* i, h */
                return v->i;
        }
}

#define BUS_BASIC_INT64_TYPES "ynqiux"
