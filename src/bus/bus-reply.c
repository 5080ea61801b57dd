/* SPDX-License-Identifier: MIT */

/* The reply budget: measuring messages and refusing those that would not fit. */

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "bus/bus-reply.h"
#include "bus/bus-util.h"
#include "smsprov/macro.h"
#include "util/log.h"

int bus_reply_check_size(Manager *m, uint64_t size, const char *what, sd_bus_error *error) {
        if (size <= m->max_reply_bytes)
                return 0;
        log_debug("%s: %" PRIu64 " bytes, over the reply limit %" PRIu64 ".", what, size, m->max_reply_bytes);
        if (size == UINT64_MAX)
                return bus_set_error(error, SMS_ERROR_LIMITS_EXCEEDED,
                                     "%s does not fit the reply limit of %" PRIu64 " bytes (--max-reply-bytes), nor "
                                     "any D-Bus message; use " BUS_BOUNDED_CALL " to read it page by page",
                                     what, m->max_reply_bytes);
        return bus_set_error(error, SMS_ERROR_LIMITS_EXCEEDED,
                             "%s does not fit the reply limit of %" PRIu64 " bytes (--max-reply-bytes; it would "
                             "take some %" PRIu64 "); use " BUS_BOUNDED_CALL " to read it page by page",
                             what, m->max_reply_bytes, size);
}

static uint64_t align_to(uint64_t offset, unsigned alignment) {
        return (offset + alignment - 1) & ~(uint64_t) (alignment - 1);
}

/* D-Bus marshalling (the specification's "Marshaling (Wire Format)"): alignment and size. */
static unsigned type_alignment(char type) {
        switch (type) {
        case 'y': case 'g': case 'v':
                return 1;
        case 'n': case 'q':
                return 2;
        case 'x': case 't': case 'd': case '(': case 'r': case '{': case 'e':
                return 8;
        default: /* b i u h s o a */
                return 4;
        }
}

static size_t fixed_size(char type) {
        switch (type) {
        case 'y':
                return 1;
        case 'n': case 'q':
                return 2;
        case 'b': case 'i': case 'u': case 'h':
                return 4;
        case 'x': case 't': case 'd':
                return 8;
        default:
                return 0;
        }
}

/* Adds the marshalled size of the values from the read position to the end of the current
 * container to *offset (the wire offset of the first of them). */
static int walk(sd_bus_message *m, uint64_t *offset) {
        for (;;) {
                const char *contents;
                char type;
                int r;

                r = sd_bus_message_peek_type(m, &type, &contents);
                if (r <= 0)
                        return r;
                switch (type) {
                case SD_BUS_TYPE_ARRAY:
                case SD_BUS_TYPE_VARIANT:
                case SD_BUS_TYPE_STRUCT:
                case SD_BUS_TYPE_DICT_ENTRY:
                        if (type == SD_BUS_TYPE_ARRAY) {
                                *offset = align_to(*offset, 4) + 4;
                                /* The padding to the first element's alignment is there even when
                                 * the array is empty. */
                                *offset = align_to(*offset, type_alignment(contents[0]));
                                if (fixed_size(contents[0]) && contents[1] == 0 && contents[0] != 'h') {
                                        const void *p;
                                        size_t n;
                                        r = sd_bus_message_read_array(m, contents[0], &p, &n);
                                        if (r < 0)
                                                return r;
                                        *offset += n;
                                        break;
                                }
                        } else if (type == SD_BUS_TYPE_VARIANT)
                                *offset += 1 + strlen(contents) + 1; /* its signature */
                        else
                                *offset = align_to(*offset, 8);
                        r = sd_bus_message_enter_container(m, type, contents);
                        if (r < 0)
                                return r;
                        r = walk(m, offset);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_exit_container(m);
                        if (r < 0)
                                return r;
                        break;
                case SD_BUS_TYPE_STRING:
                case SD_BUS_TYPE_OBJECT_PATH:
                case SD_BUS_TYPE_SIGNATURE: {
                        const char *s;
                        r = sd_bus_message_read_basic(m, type, &s);
                        if (r < 0)
                                return r;
                        if (type == SD_BUS_TYPE_SIGNATURE)
                                *offset += 1 + strlen(s) + 1;
                        else
                                *offset = align_to(*offset, 4) + 4 + strlen(s) + 1;
                        break;
                }
                default: {
                        uint64_t value; /* room for the largest fixed type */
                        r = sd_bus_message_read_basic(m, type, &value);
                        if (r < 0)
                                return r;
                        *offset = align_to(*offset, type_alignment(type)) + fixed_size(type);
                        break;
                }
                }
        }
}

static uint64_t header_field_bound(const char *s) {
        /* code, variant signature, padding to 4, length, the string, its NUL, padding to 8 */
        return s ? 8 + strlen(s) + 1 + 7 : 0;
}

int bus_message_body_size(sd_bus_message *sealed, uint64_t *ret) {
        uint64_t body = 0;
        int r;

        r = sd_bus_message_rewind(sealed, true);
        if (r < 0)
                return r;
        r = walk(sealed, &body);
        if (r < 0)
                return r;
        r = sd_bus_message_rewind(sealed, true);
        if (r < 0)
                return r;
        *ret = body;
        return 0;
}

uint64_t bus_message_header_bound(sd_bus_message *m) {
        const char *error_name = NULL;
        uint64_t header;

        if (sd_bus_message_get_error(m))
                error_name = sd_bus_message_get_error(m)->name;
        /* The fixed 16 bytes, then each field; the bus adds the sender, counted here too. */
        header = 16 + header_field_bound(sd_bus_message_get_path(m)) +
                 header_field_bound(sd_bus_message_get_interface(m)) +
                 header_field_bound(sd_bus_message_get_member(m)) + header_field_bound(error_name) +
                 header_field_bound(sd_bus_message_get_destination(m)) +
                 header_field_bound(sd_bus_message_get_sender(m)) + header_field_bound(":255.4294967295") +
                 header_field_bound(sd_bus_message_get_signature(m, true)) + 16 /* reply serial */ +
                 16 /* unix fds */;
        return align_to(header, 8);
}

int bus_message_size(sd_bus_message *sealed, uint64_t *ret) {
        uint64_t body;
        int r;

        r = bus_message_body_size(sealed, &body);
        if (r < 0)
                return r;
        *ret = bus_message_header_bound(sealed) + body;
        return 0;
}

uint64_t bus_query_rows_size_min(const WqlQuery *q, const WqlRow *rows, size_t n) {
        uint64_t size = 0;

        for (size_t i = 0; i < n; i++) {
                /* The path: at least /org/smsprov/Provider1/<Class>/<Key>. */
                size += 4 + strlen(SMSPROV_OBJECT_ROOT) + 1 + strlen(rows[i].class->name) + 1 + strlen(rows[i].key) + 1;
                for (size_t j = 0; j < q->n_columns; j++)
                        size += 4 + strlen(q->class->all[q->columns[j]]->name) + 1 +
                                bus_value_variant_size_min(&rows[i].values[j]);
        }
        return size;
}

static const char *strna(const char *s) {
        return s ? s : "n/a";
}

int bus_reply_send(Manager *m, sd_bus_message *call, sd_bus_message *reply, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *out = NULL;
        uint64_t size;
        char what[256];
        int r;

        /* Measuring means reading, and only a sealed message can be read: seal this one with a
         * cookie of its own (it is never sent) and send a copy, which sd-bus numbers as usual. */
        r = sd_bus_message_seal(reply, 1, 0);
        if (r < 0)
                return r;
        r = bus_message_size(reply, &size);
        /* sd-bus refuses to read an array of more than 64 MiB, the D-Bus limit: far too large. */
        if (r == -EBADMSG)
                size = UINT64_MAX;
        else if (r < 0)
                return r;
        snprintf(what, sizeof what, "The reply of %s.%s", strna(sd_bus_message_get_interface(call)),
                 strna(sd_bus_message_get_member(call)));
        r = bus_reply_check_size(m, size, what, error);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_return(call, &out);
        if (r < 0)
                return r;
        r = sd_bus_message_copy(out, reply, true);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, out, NULL);
}
