/* SPDX-License-Identifier: MIT */

/* SQL text from the class descriptors, shared by the backends (store-sql.h). */

#include <inttypes.h>

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
