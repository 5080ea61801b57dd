/* SPDX-License-Identifier: MIT */
#pragma once

/* SMS_ScheduleToken and its concrete SMS_ST_* classes, and the SMS interval string that
 * SMS_ScheduleMethods.ReadFromString/WriteToString speak (reference §7.3): each token is 16 hex
 * digits, two 32-bit words; tokens are concatenated. RefreshSchedule is stored as that string. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smsprov/error.h"

typedef enum SmsScheduleType {
        SMS_ST_NON_RECURRING = 1,
        SMS_ST_RECUR_INTERVAL = 2,
        SMS_ST_RECUR_WEEKLY = 3,
        SMS_ST_RECUR_MONTHLY_BY_WEEKDAY = 4,
        SMS_ST_RECUR_MONTHLY_BY_DATE = 5,
} SmsScheduleType;

typedef struct SmsScheduleToken {
        SmsScheduleType type;
        /* Common to every token. StartTime is broken down as written in the string: year
         * 1970–2033, month 1–12, day 1–31, hour 0–23, minute 0–59. */
        unsigned year, month, day, hour, minute;
        unsigned day_duration, hour_duration, minute_duration;
        bool is_gmt;
        /* RecurInterval */
        unsigned day_span, hour_span, minute_span;
        /* RecurWeekly, RecurMonthlyByWeekday */
        unsigned weekday; /* "Day": 1 Sunday … 7 Saturday */
        unsigned for_number_of_weeks;
        unsigned for_number_of_months;
        unsigned week_order; /* 0 last, 1 first … 4 fourth */
        /* RecurMonthlyByDate */
        unsigned month_day; /* 0 = last day of the month */
} SmsScheduleToken;

#define SMS_SCHEDULE_TOKEN_STRING_LEN 16
#define SMS_SCHEDULE_MAX_TOKENS 15

/* The properties of the SMS_ST_* embedded classes (reference §7.3), as the bus carries them in a
 * token's a{sv}: name, D-Bus type ('u', 'b', or 't' for StartTime, which is no field but
 * sms_schedule_token_start_usec()), the field's offset in SmsScheduleToken, and which token
 * types carry it (SMS_SCHEDULE_TYPE_BIT()). One table for the daemon and smsctl. */
#define SMS_SCHEDULE_TYPE_BIT(t) (1u << (t))

typedef struct SmsScheduleField {
        const char *name;
        char type;
        size_t offset;
        unsigned types;
} SmsScheduleField;

extern const SmsScheduleField sms_schedule_fields[];
extern const size_t sms_n_schedule_fields;

/* "SMS_ST_RecurInterval" ↔ type. */
const char *sms_schedule_type_to_class(SmsScheduleType t);
int sms_schedule_type_from_class(const char *name); /* -EINVAL when unknown */

/* A token with the documented defaults of its class (StartTime 1970-02-01 00:00, Day 1, …). */
void sms_schedule_token_init(SmsScheduleToken *t, SmsScheduleType type);
/* Checks every field's range (reference §7.3); fills e with ValueOutOfRange. */
int sms_schedule_token_validate(const SmsScheduleToken *t, SmsError *e);

/* Decodes a whole interval string (a multiple of 16 hex digits) into a new array. */
int sms_schedule_decode(const char *s, SmsScheduleToken **ret, size_t *ret_n, SmsError *e);
/* Encodes tokens (validated first) into a new string; n = 0 gives "". */
int sms_schedule_encode(const SmsScheduleToken *t, size_t n, char **ret, SmsError *e);

/* StartTime ↔ microseconds since the epoch (UTC when is_gmt, local time otherwise). */
uint64_t sms_schedule_token_start_usec(const SmsScheduleToken *t);
/* The first time after `now` (µs since the epoch) that a token names; 0 when never again. */
uint64_t sms_schedule_token_next(const SmsScheduleToken *t, uint64_t now);
int sms_schedule_token_set_start_usec(SmsScheduleToken *t, uint64_t usec, SmsError *e);
