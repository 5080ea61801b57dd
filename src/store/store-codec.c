/* SPDX-License-Identifier: MIT */

/* CimValue ↔ column. Scalars map to INTEGER/TEXT; arrays to JSON text (json-c), blobs to
 * BLOB, schedules to the SMS interval string: the text and the decoding are every backend's
 * (store-codec.h), the binding and reading SQLite's. An empty array is stored as NULL, so that WQL's
 * IS NULL matches "no value" whichever way it was written. */

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "smsprov/macro.h"
#include "store/store-codec.h"
#include "store/store-internal.h"

/* JSON text of an array (plain, as json-c writes it); NULL when memory ran out. */
static char *json_text(json_object *j) {
        const char *text = j ? json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN) : NULL;
        char *copy = text ? strdup(text) : NULL;
        json_object_put(j);
        return copy;
}

int store_value_encode_text(const CimValue *v, char **ret) {
        json_object *j;

        switch (v->type) {
        case CIM_STRING_ARRAY:
                j = json_object_new_array();
                for (char **s = v->strv; j && s && *s; s++)
                        json_object_array_add(j, json_object_new_string(*s));
                break;
        case CIM_UINT32_ARRAY:
                j = json_object_new_array();
                for (size_t i = 0; j && i < v->u32s.n; i++)
                        json_object_array_add(j, json_object_new_int64(v->u32s.data[i]));
                break;
        case CIM_DRIVER_DETAILS_ARRAY:
                j = json_object_new_array();
                for (size_t i = 0; j && i < v->drivers.n; i++) {
                        json_object *d = json_object_new_object();
                        json_object_object_add(d, "ID", json_object_new_int64(v->drivers.data[i].id));
                        json_object_object_add(d, "SourcePath",
                                               json_object_new_string(v->drivers.data[i].source_path));
                        json_object_array_add(j, d);
                }
                break;
        case CIM_SCHEDULE_ARRAY:
                /* validated before it gets here */
                return sms_schedule_encode(v->schedule.data, v->schedule.n, ret, NULL) < 0 ? -EINVAL : 0;
        default:
                return -EINVAL;
        }
        *ret = json_text(j);
        return *ret ? 0 : -ENOMEM;
}

int store_bind_value(sqlite3_stmt *stmt, int index, const CimValue *v) {
        char *text;
        int r;

        if (v->null || (cim_type_is_array(v->type) && cim_value_array_length(v) == 0))
                return sqlite3_bind_null(stmt, index);

        switch (v->type) {
        case CIM_STRING:
                return sqlite3_bind_text(stmt, index, v->str, -1, SQLITE_TRANSIENT);
        case CIM_BOOLEAN:
                return sqlite3_bind_int(stmt, index, v->b ? 1 : 0);
        case CIM_UINT8:
        case CIM_UINT32:
        case CIM_UINT64:
        case CIM_DATETIME:
                /* UInt64 values above INT64_MAX keep their bit pattern. */
                return sqlite3_bind_int64(stmt, index, (sqlite3_int64) v->u);
        case CIM_SINT32:
        case CIM_SINT64:
                return sqlite3_bind_int64(stmt, index, v->i);
        case CIM_UINT8_ARRAY:
                return sqlite3_bind_blob(stmt, index, v->bytes.data, (int) v->bytes.n, SQLITE_TRANSIENT);
        case CIM_STRING_ARRAY:
        case CIM_UINT32_ARRAY:
        case CIM_DRIVER_DETAILS_ARRAY:
        case CIM_SCHEDULE_ARRAY:
                r = store_value_encode_text(v, &text);
                if (r < 0)
                        return r == -ENOMEM ? SQLITE_NOMEM : SQLITE_MISUSE;
                return sqlite3_bind_text(stmt, index, text, -1, free);
        default:
                return SQLITE_MISUSE;
        }
}

/* A column that does not decode is a damaged database, not a caller's mistake: -EBADMSG. */
static int read_json_array(const char *text, json_object **ret) {
        json_object *j = text ? json_tokener_parse(text) : NULL;

        if (!j || !json_object_is_type(j, json_type_array)) {
                json_object_put(j);
                return -EBADMSG;
        }
        *ret = j;
        return 0;
}

bool store_type_is_integer(CimType type) {
        switch (type) {
        case CIM_BOOLEAN:
        case CIM_UINT8:
        case CIM_UINT32:
        case CIM_UINT64:
        case CIM_DATETIME:
        case CIM_SINT32:
        case CIM_SINT64:
                return true;
        default:
                return false;
        }
}

int store_read_value(sqlite3_stmt *stmt, int column, CimType type, CimValue *ret) {
        StoreColumnValue c = { .null = sqlite3_column_type(stmt, column) == SQLITE_NULL };

        if (c.null)
                ;
        else if (store_type_is_integer(type))
                c.i = sqlite3_column_int64(stmt, column);
        else if (type == CIM_UINT8_ARRAY) {
                c.blob = sqlite3_column_blob(stmt, column);
                c.size = (size_t) sqlite3_column_bytes(stmt, column);
        } else if (!(c.text = (const char *) sqlite3_column_text(stmt, column))) {
                *ret = cim_value_null(type);
                return -ENOMEM;
        }
        return store_value_decode(&c, type, ret);
}

int store_value_decode(const StoreColumnValue *c, CimType type, CimValue *ret) {
        json_object *j = NULL;
        size_t n;
        int r;

        *ret = cim_value_null(type);
        if (c->null)
                return 0;

        switch (type) {
        case CIM_STRING:
                /* The database is outside input too: what reaches D-Bus is always valid UTF-8. */
                ret->str = utf8_is_valid(c->text) ? strdup(c->text) : utf8_sanitize(c->text);
                if (!ret->str)
                        return -ENOMEM;
                break;
        case CIM_BOOLEAN:
                ret->b = c->i != 0;
                break;
        case CIM_UINT8:
        case CIM_UINT32:
        case CIM_UINT64:
        case CIM_DATETIME:
                ret->u = (uint64_t) c->i;
                if (ret->u > cim_type_max(type))
                        ret->u = cim_type_max(type);
                break;
        case CIM_SINT32:
        case CIM_SINT64:
                ret->i = c->i;
                break;
        case CIM_UINT8_ARRAY:
                n = c->size;
                ret->bytes.data = malloc(n ? n : 1);
                if (!ret->bytes.data)
                        return -ENOMEM;
                if (n)
                        memcpy(ret->bytes.data, c->blob, n);
                ret->bytes.n = n;
                break;
        case CIM_STRING_ARRAY:
                r = read_json_array(c->text, &j);
                if (r < 0)
                        return r;
                n = json_object_array_length(j);
                ret->strv = calloc(n + 1, sizeof(char *));
                if (!ret->strv)
                        goto oom;
                for (size_t i = 0; i < n; i++) {
                        const char *t = json_object_get_string(json_object_array_get_idx(j, i));
                        ret->strv[i] = utf8_sanitize(t ? t : "");
                        if (!ret->strv[i])
                                goto oom;
                }
                break;
        case CIM_UINT32_ARRAY:
                r = read_json_array(c->text, &j);
                if (r < 0)
                        return r;
                n = json_object_array_length(j);
                ret->u32s.data = calloc(n ? n : 1, sizeof(uint32_t));
                if (!ret->u32s.data)
                        goto oom;
                for (size_t i = 0; i < n; i++)
                        ret->u32s.data[i] = (uint32_t) json_object_get_int64(json_object_array_get_idx(j, i));
                ret->u32s.n = n;
                break;
        case CIM_DRIVER_DETAILS_ARRAY:
                r = read_json_array(c->text, &j);
                if (r < 0)
                        return r;
                n = json_object_array_length(j);
                ret->drivers.data = calloc(n ? n : 1, sizeof(SmsDriverDetails));
                if (!ret->drivers.data)
                        goto oom;
                for (size_t i = 0; i < n; i++) {
                        json_object *d = json_object_array_get_idx(j, i), *id = NULL, *path = NULL;
                        json_object_object_get_ex(d, "ID", &id);
                        json_object_object_get_ex(d, "SourcePath", &path);
                        ret->drivers.data[i].id = (uint32_t) json_object_get_int64(id);
                        ret->drivers.data[i].source_path = utf8_sanitize(path ? json_object_get_string(path) : "");
                        ret->drivers.n = i + 1;
                        if (!ret->drivers.data[i].source_path)
                                goto oom;
                }
                break;
        case CIM_SCHEDULE_ARRAY:
                r = sms_schedule_decode(c->text, &ret->schedule.data, &ret->schedule.n, NULL);
                if (r < 0)
                        return -EBADMSG;
                break;
        default:
                return -EINVAL;
        }
        json_object_put(j);
        ret->null = false;
        return 0;
oom:
        json_object_put(j);
        ret->null = false;
        cim_value_clear(ret);
        return -ENOMEM;
}
