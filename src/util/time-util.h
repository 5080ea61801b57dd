/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

/* Microseconds since the epoch (CLOCK_REALTIME) and on CLOCK_MONOTONIC. */
uint64_t now_usec(void);
uint64_t now_monotonic_usec(void);
