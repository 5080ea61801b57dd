/* SPDX-License-Identifier: MIT */

/* The SMS interval string codec (reference §7.3). The bit layout was verified against the
 * documented example: 7913788000080000 is a non-recurring token for 2004-07-19 08:30. */

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "smsprov/macro.h"
#include "smsprov/schedule.h"

#define ST(t) SMS_SCHEDULE_TYPE_BIT(t)
#define ST_ALL (ST(SMS_ST_NON_RECURRING) | ST(SMS_ST_RECUR_INTERVAL) | ST(SMS_ST_RECUR_WEEKLY) |                   \
                ST(SMS_ST_RECUR_MONTHLY_BY_WEEKDAY) | ST(SMS_ST_RECUR_MONTHLY_BY_DATE))

const SmsScheduleField sms_schedule_fields[] = {
        { "DayDuration", 'u', offsetof(SmsScheduleToken, day_duration), ST_ALL },
        { "HourDuration", 'u', offsetof(SmsScheduleToken, hour_duration), ST_ALL },
        { "MinuteDuration", 'u', offsetof(SmsScheduleToken, minute_duration), ST_ALL },
        { "IsGMT", 'b', offsetof(SmsScheduleToken, is_gmt), ST_ALL },
        { "StartTime", 't', 0, ST_ALL },
        { "DaySpan", 'u', offsetof(SmsScheduleToken, day_span), ST(SMS_ST_RECUR_INTERVAL) },
        { "HourSpan", 'u', offsetof(SmsScheduleToken, hour_span), ST(SMS_ST_RECUR_INTERVAL) },
        { "MinuteSpan", 'u', offsetof(SmsScheduleToken, minute_span), ST(SMS_ST_RECUR_INTERVAL) },
        { "Day", 'u', offsetof(SmsScheduleToken, weekday),
          ST(SMS_ST_RECUR_WEEKLY) | ST(SMS_ST_RECUR_MONTHLY_BY_WEEKDAY) },
        { "ForNumberOfWeeks", 'u', offsetof(SmsScheduleToken, for_number_of_weeks), ST(SMS_ST_RECUR_WEEKLY) },
        { "ForNumberOfMonths", 'u', offsetof(SmsScheduleToken, for_number_of_months),
          ST(SMS_ST_RECUR_MONTHLY_BY_WEEKDAY) | ST(SMS_ST_RECUR_MONTHLY_BY_DATE) },
        { "WeekOrder", 'u', offsetof(SmsScheduleToken, week_order), ST(SMS_ST_RECUR_MONTHLY_BY_WEEKDAY) },
        { "MonthDay", 'u', offsetof(SmsScheduleToken, month_day), ST(SMS_ST_RECUR_MONTHLY_BY_DATE) },
};
const size_t sms_n_schedule_fields = ELEMENTSOF(sms_schedule_fields);

static const char *const schedule_class_names[] = {
        [SMS_ST_NON_RECURRING] = "SMS_ST_NonRecurring",
        [SMS_ST_RECUR_INTERVAL] = "SMS_ST_RecurInterval",
        [SMS_ST_RECUR_WEEKLY] = "SMS_ST_RecurWeekly",
        [SMS_ST_RECUR_MONTHLY_BY_WEEKDAY] = "SMS_ST_RecurMonthlyByWeekday",
        [SMS_ST_RECUR_MONTHLY_BY_DATE] = "SMS_ST_RecurMonthlyByDate",
};

const char *sms_schedule_type_to_class(SmsScheduleType t) {
        if (t < SMS_ST_NON_RECURRING || t > SMS_ST_RECUR_MONTHLY_BY_DATE)
                return NULL;
        return schedule_class_names[t];
}

int sms_schedule_type_from_class(const char *name) {
        for (int t = SMS_ST_NON_RECURRING; t <= SMS_ST_RECUR_MONTHLY_BY_DATE; t++)
                if (name && strcasecmp(name, schedule_class_names[t]) == 0)
                        return t;
        return -EINVAL;
}

void sms_schedule_token_init(SmsScheduleToken *t, SmsScheduleType type) {
        *t = (SmsScheduleToken) {
                .type = type,
                .year = 1970,
                .month = 2,
                .day = 1,
                .weekday = 1,
                .for_number_of_weeks = 1,
                .for_number_of_months = 1,
        };
}

#define CHECK_RANGE(field, lo, hi, label)                                                          \
        do {                                                                                       \
                if ((long) t->field < (long) (lo) || (long) t->field > (long) (hi))                                            \
                        return sms_error_set(e, SMS_ERROR_VALUE_OUT_OF_RANGE,                      \
                                             "%s.%s must be within %u-%u, got %u", cls, label,     \
                                             (unsigned) (lo), (unsigned) (hi), t->field);          \
        } while (0)

/* The fields a token type adds in the second word of its string: where they lie, what they may
 * hold, and their name for messages; in the order they are checked. */
typedef struct TypeField {
        SmsScheduleType type;
        size_t offset;
        unsigned hi, lo; /* bits */
        unsigned min, max;
        const char *label;
} TypeField;

static const TypeField type_fields[] = {
        { SMS_ST_RECUR_INTERVAL, offsetof(SmsScheduleToken, day_span), 7, 3, 0, 31, "DaySpan" },
        { SMS_ST_RECUR_INTERVAL, offsetof(SmsScheduleToken, hour_span), 12, 8, 0, 23, "HourSpan" },
        { SMS_ST_RECUR_INTERVAL, offsetof(SmsScheduleToken, minute_span), 18, 13, 0, 59, "MinuteSpan" },
        { SMS_ST_RECUR_WEEKLY, offsetof(SmsScheduleToken, weekday), 18, 16, 1, 7, "Day" },
        { SMS_ST_RECUR_WEEKLY, offsetof(SmsScheduleToken, for_number_of_weeks), 15, 13, 1, 4, "ForNumberOfWeeks" },
        { SMS_ST_RECUR_MONTHLY_BY_WEEKDAY, offsetof(SmsScheduleToken, weekday), 18, 16, 1, 7, "Day" },
        { SMS_ST_RECUR_MONTHLY_BY_WEEKDAY, offsetof(SmsScheduleToken, for_number_of_months), 15, 12, 1, 12,
          "ForNumberOfMonths" },
        { SMS_ST_RECUR_MONTHLY_BY_WEEKDAY, offsetof(SmsScheduleToken, week_order), 11, 9, 0, 4, "WeekOrder" },
        { SMS_ST_RECUR_MONTHLY_BY_DATE, offsetof(SmsScheduleToken, month_day), 18, 14, 0, 31, "MonthDay" },
        { SMS_ST_RECUR_MONTHLY_BY_DATE, offsetof(SmsScheduleToken, for_number_of_months), 13, 10, 1, 12,
          "ForNumberOfMonths" },
};

static unsigned *type_field(SmsScheduleToken *t, const TypeField *f) {
        return (unsigned *) ((char *) t + f->offset);
}

static unsigned type_field_get(const SmsScheduleToken *t, const TypeField *f) {
        return *(const unsigned *) ((const char *) t + f->offset);
}

int sms_schedule_token_validate(const SmsScheduleToken *t, SmsError *e) {
        const char *cls = sms_schedule_type_to_class(t->type);

        if (!cls)
                return sms_error_set(e, SMS_ERROR_VALUE_OUT_OF_RANGE, "unknown schedule token type %d", t->type);

        CHECK_RANGE(year, 1970, 2033, "StartTime year");
        CHECK_RANGE(month, 1, 12, "StartTime month");
        CHECK_RANGE(day, 1, 31, "StartTime day");
        CHECK_RANGE(hour, 0, 23, "StartTime hour");
        CHECK_RANGE(minute, 0, 59, "StartTime minute");
        CHECK_RANGE(day_duration, 0, 31, "DayDuration");
        CHECK_RANGE(hour_duration, 0, 23, "HourDuration");
        CHECK_RANGE(minute_duration, 0, 59, "MinuteDuration");

        for (size_t i = 0; i < ELEMENTSOF(type_fields); i++) {
                const TypeField *f = &type_fields[i];
                unsigned v = type_field_get(t, f);
                if (f->type == t->type && (v < f->min || v > f->max))
                        return sms_error_set(e, SMS_ERROR_VALUE_OUT_OF_RANGE, "%s.%s must be within %u-%u, got %u",
                                             cls, f->label, f->min, f->max, v);
        }
        if (t->type == SMS_ST_RECUR_INTERVAL && t->day_span == 0 && t->hour_span == 0 && t->minute_span == 0)
                return sms_error_set(e, SMS_ERROR_VALUE_OUT_OF_RANGE,
                                     "%s needs a non-zero DaySpan, HourSpan or MinuteSpan", cls);
        return 0;
}

#define BITS(word, hi, lo) (((word) >> (lo)) & ((1u << ((hi) - (lo) + 1)) - 1))

static int token_decode(const char *s, SmsScheduleToken *t, SmsError *e) {
        char buf[9];
        uint32_t w1, w2;
        char *end;

        for (size_t i = 0; i < SMS_SCHEDULE_TOKEN_STRING_LEN; i++) {
                unsigned char b = (unsigned char) s[i];
                if (b != 0 && strchr("0123456789abcdefABCDEF", b))
                        continue;
                /* One byte of a multi-byte character is not text: name it by its value. */
                if (b >= 0x20 && b < 0x7F)
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                             "interval string: '%c' is not a hexadecimal digit", b);
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                     "interval string: byte 0x%02X is not a hexadecimal digit", b);
        }

        memcpy(buf, s, 8);
        buf[8] = 0;
        w1 = (uint32_t) strtoul(buf, &end, 16);
        memcpy(buf, s + 8, 8);
        w2 = (uint32_t) strtoul(buf, &end, 16);

        /* Fields the type does not carry keep their class defaults, as after WriteToString. */
        sms_schedule_token_init(t, (SmsScheduleType) BITS(w2, 21, 19));
        SmsScheduleToken defaults = *t;
        *t = (SmsScheduleToken) {
                .type = defaults.type,
                .weekday = defaults.weekday,
                .for_number_of_weeks = defaults.for_number_of_weeks,
                .for_number_of_months = defaults.for_number_of_months,
                .minute = BITS(w1, 31, 26),
                .hour = BITS(w1, 25, 21),
                .day = BITS(w1, 20, 16),
                .month = BITS(w1, 15, 12),
                .year = 1970 + BITS(w1, 11, 6),
                .minute_duration = BITS(w1, 5, 0),
                .hour_duration = BITS(w2, 31, 27),
                .day_duration = BITS(w2, 26, 22),
                .is_gmt = BITS(w2, 0, 0),
        };

        for (size_t i = 0; i < ELEMENTSOF(type_fields); i++)
                if (type_fields[i].type == t->type)
                        *type_field(t, &type_fields[i]) = BITS(w2, type_fields[i].hi, type_fields[i].lo);

        /* A string is outside input: a token whose fields are out of range is an error, not a
         * schedule that fires at a surprising time. */
        SmsError inner = SMS_ERROR_NULL;
        if (sms_schedule_token_validate(t, &inner) < 0) {
                int r = sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "interval string token %.16s: %s", s,
                                      inner.message ? inner.message : "invalid");
                sms_error_clear(&inner);
                return r;
        }
        return 0;
}

int sms_schedule_decode(const char *s, SmsScheduleToken **ret, size_t *ret_n, SmsError *e) {
        size_t len = s ? strlen(s) : 0, n;
        _cleanup_free_ SmsScheduleToken *tokens = NULL;
        int r;

        if (len % SMS_SCHEDULE_TOKEN_STRING_LEN != 0)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                     "interval string has %zu characters, not a multiple of 16", len);
        n = len / SMS_SCHEDULE_TOKEN_STRING_LEN;
        if (n > SMS_SCHEDULE_MAX_TOKENS)
                return sms_error_set(e, SMS_ERROR_VALUE_OUT_OF_RANGE, "interval string holds %zu tokens, at most %d",
                                     n, SMS_SCHEDULE_MAX_TOKENS);

        tokens = calloc(n ? n : 1, sizeof(SmsScheduleToken));
        if (!tokens)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = token_decode(s + i * SMS_SCHEDULE_TOKEN_STRING_LEN, &tokens[i], e);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(tokens);
        *ret_n = n;
        return 0;
}

int sms_schedule_encode(const SmsScheduleToken *t, size_t n, char **ret, SmsError *e) {
        _cleanup_free_ char *s = NULL;
        int r;

        if (n > SMS_SCHEDULE_MAX_TOKENS)
                return sms_error_set(e, SMS_ERROR_VALUE_OUT_OF_RANGE, "%zu schedule tokens, at most %d", n,
                                     SMS_SCHEDULE_MAX_TOKENS);
        s = malloc(n * SMS_SCHEDULE_TOKEN_STRING_LEN + 1);
        if (!s)
                return -ENOMEM;
        s[0] = 0;

        for (size_t i = 0; i < n; i++) {
                const SmsScheduleToken *k = &t[i];
                uint32_t w1, w2;

                r = sms_schedule_token_validate(k, e);
                if (r < 0)
                        return r;

                w1 = (uint32_t) k->minute << 26 | (uint32_t) k->hour << 21 | (uint32_t) k->day << 16 |
                     (uint32_t) k->month << 12 | (uint32_t) (k->year - 1970) << 6 | k->minute_duration;
                w2 = (uint32_t) k->hour_duration << 27 | (uint32_t) k->day_duration << 22 |
                     (uint32_t) k->type << 19 | (k->is_gmt ? 1u : 0u);
                for (size_t j = 0; j < ELEMENTSOF(type_fields); j++)
                        if (type_fields[j].type == k->type)
                                w2 |= (uint32_t) type_field_get(k, &type_fields[j]) << type_fields[j].lo;
                sprintf(s + i * SMS_SCHEDULE_TOKEN_STRING_LEN, "%08" PRIX32 "%08" PRIX32, w1, w2);
        }
        *ret = TAKE_PTR(s);
        return 0;
}

uint64_t sms_schedule_token_start_usec(const SmsScheduleToken *t) {
        struct tm tm = {
                .tm_year = (int) t->year - 1900,
                .tm_mon = (int) t->month - 1,
                .tm_mday = (int) t->day,
                .tm_hour = (int) t->hour,
                .tm_min = (int) t->minute,
                .tm_isdst = -1,
        };
        time_t s = t->is_gmt ? timegm(&tm) : mktime(&tm);
        return s < 0 ? 0 : (uint64_t) s * 1000000ULL;
}

int sms_schedule_token_set_start_usec(SmsScheduleToken *t, uint64_t usec, SmsError *e) {
        time_t s = (time_t) (usec / 1000000ULL);
        struct tm tm;

        if (!(t->is_gmt ? gmtime_r(&s, &tm) : localtime_r(&s, &tm)) || tm.tm_year + 1900 < 1970 ||
            tm.tm_year + 1900 > 2033)
                return sms_error_set(e, SMS_ERROR_VALUE_OUT_OF_RANGE,
                                     "schedule StartTime must lie within the years 1970-2033");
        t->year = (unsigned) tm.tm_year + 1900;
        t->month = (unsigned) tm.tm_mon + 1;
        t->day = (unsigned) tm.tm_mday;
        t->hour = (unsigned) tm.tm_hour;
        t->minute = (unsigned) tm.tm_min;
        return 0;
}

#define MINUTE_USEC (60ULL * 1000000ULL)
#define DAY_USEC (24ULL * 60ULL * MINUTE_USEC)

/* --- when a token fires next --------------------------------------------------------------------- */

static uint64_t make_usec(const SmsScheduleToken *t, int year, int month, int day) {
        SmsScheduleToken copy = *t;
        copy.year = (unsigned) year;
        copy.month = (unsigned) month;
        copy.day = (unsigned) day;
        return sms_schedule_token_start_usec(&copy);
}

static int days_in_month(int year, int month) {
        static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        return month == 2 && leap ? 29 : days[month - 1];
}

/* 0 Sunday … 6 Saturday, for a date (Zeller's congruence, Gregorian). */
static int weekday_of(int year, int month, int day) {
        if (month < 3) {
                month += 12;
                year--;
        }
        int k = year % 100, j = year / 100;
        int h = (day + 13 * (month + 1) / 5 + k + k / 4 + j / 4 + 5 * j) % 7; /* 0 Saturday */
        return (h + 6) % 7;
}

uint64_t sms_schedule_token_next(const SmsScheduleToken *t, uint64_t now) {
        uint64_t start = sms_schedule_token_start_usec(t);

        switch (t->type) {
        case SMS_ST_NON_RECURRING:
                return start > now ? start : 0;
        case SMS_ST_RECUR_INTERVAL: {
                uint64_t period = t->day_span * DAY_USEC + t->hour_span * 60ULL * MINUTE_USEC + t->minute_span * MINUTE_USEC;
                if (period == 0)
                        return 0;
                if (start > now)
                        return start;
                return start + ((now - start) / period + 1) * period;
        }
        case SMS_ST_RECUR_WEEKLY: {
                /* The first matching weekday on or after the start, then every N weeks. */
                int wd = weekday_of((int) t->year, (int) t->month, (int) t->day);
                int delta = ((int) t->weekday - 1 - wd + 7) % 7;
                uint64_t first = start + (uint64_t) delta * DAY_USEC;
                uint64_t period = 7ULL * (t->for_number_of_weeks ? t->for_number_of_weeks : 1) * DAY_USEC;
                if (first > now)
                        return first;
                return first + ((now - first) / period + 1) * period;
        }
        case SMS_ST_RECUR_MONTHLY_BY_DATE:
        case SMS_ST_RECUR_MONTHLY_BY_WEEKDAY: {
                unsigned step = t->for_number_of_months ? t->for_number_of_months : 1;
                int year = (int) t->year, month = (int) t->month;
                /* Walk the months of the schedule until one lands after now (bounded: 1970–2100). */
                for (int i = 0; i < 12 * 130; i++) {
                        int day;
                        if (t->type == SMS_ST_RECUR_MONTHLY_BY_DATE)
                                day = t->month_day == 0 || (int) t->month_day > days_in_month(year, month)
                                              ? days_in_month(year, month)
                                              : (int) t->month_day;
                        else {
                                int first = weekday_of(year, month, 1);
                                int d = 1 + ((int) t->weekday - 1 - first + 7) % 7;
                                if (t->week_order == 0) { /* last */
                                        while (d + 7 <= days_in_month(year, month))
                                                d += 7;
                                } else
                                        d += 7 * ((int) t->week_order - 1);
                                day = d <= days_in_month(year, month) ? d : 0;
                        }
                        if (day > 0) {
                                uint64_t when = make_usec(t, year, month, day);
                                if (when > now && when >= start)
                                        return when;
                        }
                        month += (int) step;
                        while (month > 12) {
                                month -= 12;
                                year++;
                        }
                }
                return 0;
        }
        }
        return 0;
}
