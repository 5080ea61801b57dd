/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdbool.h>
#include <time.h>

#include "util/time-util.h"

static uint64_t clock_usec(clockid_t id) {
        struct timespec ts;
        clock_gettime(id, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

uint64_t now_usec(void) {
        return clock_usec(CLOCK_REALTIME);
}

uint64_t now_monotonic_usec(void) {
        return clock_usec(CLOCK_MONOTONIC);
}

int64_t time_days_from_civil(int64_t y, unsigned m, unsigned d) {
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        unsigned yoe = (unsigned) (y - era * 400);
        unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t) doe - 719468;
}

unsigned time_days_in_month(unsigned y, unsigned m) {
        static const unsigned days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

        assert(m >= 1 && m <= 12);
        return m == 2 && leap ? 29 : days[m - 1];
}
