/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Microseconds since the epoch (CLOCK_REALTIME) and on CLOCK_MONOTONIC. */
uint64_t now_usec(void);
uint64_t now_monotonic_usec(void);

/* Days from 1970-01-01 to the given proleptic Gregorian date (negative before it), computed
 * without the process's time zone (Howard Hinnant's days_from_civil). */
int64_t time_days_from_civil(int64_t year, unsigned month, unsigned day);
/* The days of a month (1-12) of a Gregorian year: 28 to 31. */
unsigned time_days_in_month(unsigned year, unsigned month);
