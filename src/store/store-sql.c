/* SPDX-License-Identifier: MIT */

/* SQL text from the class descriptors, shared by the backends (store-sql.h). */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "smsprov/nal-path.h"
#include "store/store-sql.h"

void sqlbuf_append_param(SqlBuf *b, unsigned n) {
        sqlbuf_append(b, b->dollar_params ? "$%u" : "?%u", n);
}

void store_sql_key_condition(SqlBuf *b, const SmsClass *c, unsigned first) {
        for (size_t k = 0; k < c->n_keys; k++) {
                sqlbuf_append(b, k ? " AND " : "");
                sqlbuf_append_identifier(b, sms_property_column(c->all[c->key_indexes[k]]));
                sqlbuf_append(b, " = ");
                sqlbuf_append_param(b, first + (unsigned) k);
        }
}

void store_sql_key_columns(SqlBuf *b, const SmsClass *c) {
        for (size_t k = 0; k < c->n_keys; k++) {
                sqlbuf_append(b, k ? ", " : "");
                sqlbuf_append_identifier(b, sms_property_column(c->all[c->key_indexes[k]]));
        }
}

void store_sql_discriminator_filter(SqlBuf *b, const SmsClass *c, const char *conj) {
        const char *disc = store_class_discriminator(c);

        if (!disc)
                return;
        if (!c->abstract) {
                sqlbuf_append(b, " %s ", conj);
                sqlbuf_append_identifier(b, disc);
                sqlbuf_append(b, " = %" PRId64, c->discriminator_value);
                return;
        }
        /* Descendant values come from our own tables, never from a caller: safe to inline. */
        sqlbuf_append(b, " %s ", conj);
        sqlbuf_append_identifier(b, disc);
        sqlbuf_append(b, " IN (");
        bool first = true;
        for (const SmsClass *const *k = sms_model_classes(); *k; k++)
                if (!(*k)->abstract && *k != c && sms_class_is_a(*k, c)) {
                        sqlbuf_append(b, "%s%" PRId64, first ? "" : ", ", (*k)->discriminator_value);
                        first = false;
                }
        sqlbuf_append(b, "%s)", first ? "NULL" : "");
}

int store_object_insert_key(Store *s, SmsObject *o, const char *site_code, StoreNextNumber next_number, char **ret_key,
                            SmsError *e) {
        const SmsClass *c = o->class;
        int64_t n;
        int r;

        *ret_key = NULL;
        switch (c->key_kind) {
        case SMS_KEY_PACKAGE_ID:
                r = next_number(s, &n, e);
                if (r < 0)
                        return r;
                if (n > 0xFFFFF)
                        return sms_error_set(e, SMS_ERROR_LIMITS_EXCEEDED,
                                             "site %s has used all 1,048,576 PackageIDs", site_code);
                if (asprintf(ret_key, "%s%05" PRIX64, site_code, (uint64_t) n) < 0) {
                        *ret_key = NULL;
                        return -ENOMEM;
                }
                cim_value_clear(&o->values[c->key_index]);
                return cim_value_set_string(&o->values[c->key_index], *ret_key);
        case SMS_KEY_CALLER:
                for (size_t k = 0; k < c->n_keys; k++)
                        if (o->values[c->key_indexes[k]].null)
                                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s needs its key %s", c->name,
                                                     c->all[c->key_indexes[k]]->name);
                return 0;
        case SMS_KEY_ROWID:
                return 0;
        }
        return 0;
}

int store_open_check(const char *site_code, SmsError *e) {
        if (sms_model_init() < 0)
                return sms_error_set(e, SMS_ERROR_FAILED, "the class descriptor tables are inconsistent");
        if (site_code && !sms_site_code_valid(site_code))
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                     "site code '%s' is not 3 characters of A-Z and 0-9", site_code);
        return 0;
}

void store_sql_guard_condition(SqlBuf *b, const SmsClass *c, size_t guard_index, unsigned n) {
        sqlbuf_append(b, " AND ");
        sqlbuf_append_identifier(b, sms_property_column(c->all[guard_index]));
        sqlbuf_append(b, b->dollar_params ? " IS NOT DISTINCT FROM " : " IS ");
        sqlbuf_append_param(b, n);
}

int store_guard_mismatch(SmsError *e, const SmsClass *c, size_t guard_index, const char *key) {
        return sms_error_set(e, SMS_ERROR_VERSION_MISMATCH,
                             "%s " SMS_QUOTE_FMT " was changed by someone else since it was read (its %s is not "
                             "what it was); read it again",
                             c->name, SMS_QUOTE(key), c->all[guard_index]->name);
}

/* FROM "table" WHERE <key> <discriminator filter> */
static void from_by_key(SqlBuf *b, const SmsClass *c) {
        sqlbuf_append(b, " FROM ");
        sqlbuf_append_identifier(b, store_class_table(c));
        sqlbuf_append(b, " WHERE ");
        store_sql_key_condition(b, c, 1);
        store_sql_discriminator_filter(b, c, "AND");
}

/* ", <discriminator>" or ", 0" */
static void discriminator_column(SqlBuf *b, const SmsClass *c, const char *lead) {
        const char *disc = store_class_discriminator(c);
        sqlbuf_append(b, "%s%s", lead, disc ? "" : "0");
        if (disc)
                sqlbuf_append_identifier(b, disc);
}

void store_sql_load(SqlBuf *b, const SmsClass *c) {
        sqlbuf_append(b, "SELECT ");
        for (size_t i = 0; i < c->n_all; i++) {
                if (i > 0)
                        sqlbuf_append(b, ", ");
                sqlbuf_append_identifier(b, sms_property_column(c->all[i]));
        }
        from_by_key(b, c);
}

void store_sql_class_of(SqlBuf *b, const SmsClass *c) {
        discriminator_column(b, c, "SELECT ");
        from_by_key(b, c);
}

void store_sql_delete(SqlBuf *b, const SmsClass *c) {
        sqlbuf_append(b, "DELETE");
        from_by_key(b, c);
}

void store_sql_enumerate(SqlBuf *b, const SmsClass *c) {
        sqlbuf_append(b, "SELECT ");
        store_sql_key_columns(b, c);
        discriminator_column(b, c, ", ");
        sqlbuf_append(b, " FROM ");
        sqlbuf_append_identifier(b, store_class_table(c));
        sqlbuf_append(b, " WHERE 1 = 1"); /* a condition on both dialects, for the filter's AND */
        store_sql_discriminator_filter(b, c, "AND");
}
