/* SPDX-License-Identifier: MIT */

/* libFuzzer target: the SMS interval string codec (include/smsprov/schedule.h), as
 * SMS_ScheduleMethods.ReadFromString and the RefreshSchedule property take it.
 *
 * For any string that sms_schedule_decode() accepts: every token passes
 * sms_schedule_token_validate(); sms_schedule_encode() of the tokens succeeds with 16 upper-case
 * hex digits per token; decoding that gives the same tokens, field by field; and encoding those
 * gives the same string again (encode∘decode is a projection onto canonical strings). Bits a
 * token type does not carry are not required to survive: the codec keeps the class's fields
 * only, as Configuration Manager does. A string that does not decode fails with InvalidParameter
 * or ValueOutOfRange and a message. The start time conversions run on every decoded token. */

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz-common.h"
#include "smsprov/macro.h"
#include "smsprov/schedule.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc;
        (void) argv;
        /* Start times of non-GMT tokens are local time: make them the same everywhere. */
        setenv("TZ", "UTC", 1);
        tzset();
        return 0;
}

static bool token_equal(const SmsScheduleToken *a, const SmsScheduleToken *b) {
        return a->type == b->type && a->year == b->year && a->month == b->month && a->day == b->day &&
                a->hour == b->hour && a->minute == b->minute && a->day_duration == b->day_duration &&
                a->hour_duration == b->hour_duration && a->minute_duration == b->minute_duration &&
                a->is_gmt == b->is_gmt && a->day_span == b->day_span && a->hour_span == b->hour_span &&
                a->minute_span == b->minute_span && a->weekday == b->weekday &&
                a->for_number_of_weeks == b->for_number_of_weeks &&
                a->for_number_of_months == b->for_number_of_months && a->week_order == b->week_order &&
                a->month_day == b->month_day;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *input = fuzz_string(data, size);
        _cleanup_free_ SmsScheduleToken *tokens = NULL, *again = NULL;
        _cleanup_free_ char *encoded = NULL, *encoded2 = NULL;
        size_t n = 0, n2 = 0;
        SmsError e = SMS_ERROR_NULL;

        if (sms_schedule_decode(input, &tokens, &n, &e) < 0) {
                if ((e.code != SMS_ERROR_INVALID_PARAMETER && e.code != SMS_ERROR_VALUE_OUT_OF_RANGE) || !fuzz_error_message_ok(&e))
                        fuzz_fail("decode(\"%s\") failed with %s", input, sms_error_code_to_name(e.code));
                sms_error_clear(&e);
                return 0;
        }
        if (n * SMS_SCHEDULE_TOKEN_STRING_LEN != strlen(input))
                fuzz_fail("decode(\"%s\"): %zu tokens", input, n);
        for (size_t i = 0; i < n; i++) {
                if (sms_schedule_token_validate(&tokens[i], &e) < 0)
                        fuzz_fail("decode(\"%s\"): token %zu does not validate: %s", input, i, e.message);
                if (!sms_schedule_type_to_class(tokens[i].type))
                        fuzz_fail("decode(\"%s\"): token %zu has no class", input, i);
                /* The conversions the scheduler uses: must not crash; setting the start time
                 * the token names must be accepted. */
                SmsScheduleToken t = tokens[i];
                uint64_t usec = sms_schedule_token_start_usec(&t);
                if (sms_schedule_token_set_start_usec(&t, usec, &e) < 0)
                        sms_error_clear(&e);
        }

        if (sms_schedule_encode(tokens, n, &encoded, &e) < 0)
                fuzz_fail("decode(\"%s\") succeeded, encode failed: %s", input, e.message);
        if (strlen(encoded) != strlen(input))
                fuzz_fail("decode(\"%s\"): encoded as \"%s\" of another length", input, encoded);
        for (const char *c = encoded; *c; c++)
                if (!isxdigit((unsigned char) *c) || islower((unsigned char) *c))
                        fuzz_fail("decode(\"%s\"): encoded as \"%s\"", input, encoded);
        if (sms_schedule_decode(encoded, &again, &n2, &e) < 0)
                fuzz_fail("\"%s\" encodes as \"%s\", which does not decode: %s", input, encoded, e.message);
        if (n2 != n)
                fuzz_fail("\"%s\": %zu tokens, %zu after encoding as \"%s\"", input, n, n2, encoded);
        for (size_t i = 0; i < n; i++)
                if (!token_equal(&tokens[i], &again[i]))
                        fuzz_fail("\"%s\": token %zu changes through \"%s\"", input, i, encoded);
        if (sms_schedule_encode(again, n2, &encoded2, &e) < 0 || strcmp(encoded, encoded2) != 0)
                fuzz_fail("\"%s\": encodes as \"%s\", then as \"%s\"", input, encoded, encoded2 ? encoded2 : "(error)");
        return 0;
}
