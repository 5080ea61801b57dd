/* SPDX-License-Identifier: MIT */

/* CimValue ↔ SQLite column. Scalars map to INTEGER/TEXT; arrays to JSON text (json-c), blobs to
 * BLOB, schedules to the SMS interval string. An empty array is stored as NULL, so that WQL's
 * IS NULL matches "no value" whichever way it was written. */

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "smsprov/macro.h"
#include "store/store-internal.h"

static int bind_json(sqlite3_stmt *stmt, int index, json_object *j) {
        const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
        int rc = text ? sqlite3_bind_text(stmt, index, text, -1, SQLITE_TRANSIENT) : SQLITE_NOMEM;
        json_object_put(j);
        return rc;
}

int store_bind_value(sqlite3_stmt *stmt, int index, const CimValue *v) {
        json_object *j;

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
                j = json_object_new_array();
                for (char **s = v->strv; j && s && *s; s++)
                        json_object_array_add(j, json_object_new_string(*s));
                return j ? bind_json(stmt, index, j) : SQLITE_NOMEM;
        case CIM_UINT32_ARRAY:
                j = json_object_new_array();
                for (size_t i = 0; j && i < v->u32s.n; i++)
                        json_object_array_add(j, json_object_new_int64(v->u32s.data[i]));
                return j ? bind_json(stmt, index, j) : SQLITE_NOMEM;
        case CIM_DRIVER_DETAILS_ARRAY:
                j = json_object_new_array();
                for (size_t i = 0; j && i < v->drivers.n; i++) {
                        json_object *d = json_object_new_object();
                        json_object_object_add(d, "ID", json_object_new_int64(v->drivers.data[i].id));
                        json_object_object_add(d, "SourcePath",
                                               json_object_new_string(v->drivers.data[i].source_path));
                        json_object_array_add(j, d);
                }
                return j ? bind_json(stmt, index, j) : SQLITE_NOMEM;
        case CIM_SCHEDULE_ARRAY: {
                _cleanup_free_ char *s = NULL;
                if (sms_schedule_encode(v->schedule.data, v->schedule.n, &s, NULL) < 0)
                        return SQLITE_MISUSE; /* validated before it gets here */
                return sqlite3_bind_text(stmt, index, s, -1, SQLITE_TRANSIENT);
        }
        default:
                return SQLITE_MISUSE;
        }
}

/* A column that does not decode is a damaged database, not a caller's mistake: -EBADMSG. */
static int read_json_array(sqlite3_stmt *stmt, int column, json_object **ret) {
        const char *text = (const char *) sqlite3_column_text(stmt, column);
        json_object *j = text ? json_tokener_parse(text) : NULL;

        if (!j || !json_object_is_type(j, json_type_array)) {
                json_object_put(j);
                return -EBADMSG;
        }
        *ret = j;
        return 0;
}

int store_read_value(sqlite3_stmt *stmt, int column, CimType type, CimValue *ret) {
        json_object *j = NULL;
        size_t n;
        int r;

        *ret = cim_value_null(type);
        if (sqlite3_column_type(stmt, column) == SQLITE_NULL)
                return 0;

        switch (type) {
        case CIM_STRING: {
                const char *t = (const char *) sqlite3_column_text(stmt, column);
                if (!t)
                        return -ENOMEM;
                /* The database is outside input too: what reaches D-Bus is always valid UTF-8. */
                ret->str = utf8_is_valid(t) ? strdup(t) : utf8_sanitize(t);
                if (!ret->str)
                        return -ENOMEM;
                break;
        }
        case CIM_BOOLEAN:
                ret->b = sqlite3_column_int64(stmt, column) != 0;
                break;
        case CIM_UINT8:
        case CIM_UINT32:
        case CIM_UINT64:
        case CIM_DATETIME:
                ret->u = (uint64_t) sqlite3_column_int64(stmt, column);
                if (ret->u > cim_type_max(type))
                        ret->u = cim_type_max(type);
                break;
        case CIM_SINT32:
        case CIM_SINT64:
                ret->i = sqlite3_column_int64(stmt, column);
                break;
        case CIM_UINT8_ARRAY: {
                const void *blob = sqlite3_column_blob(stmt, column);
                n = (size_t) sqlite3_column_bytes(stmt, column);
                ret->bytes.data = malloc(n ? n : 1);
                if (!ret->bytes.data)
                        return -ENOMEM;
                if (n)
                        memcpy(ret->bytes.data, blob, n);
                ret->bytes.n = n;
                break;
        }
        case CIM_STRING_ARRAY:
                r = read_json_array(stmt, column, &j);
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
                r = read_json_array(stmt, column, &j);
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
                r = read_json_array(stmt, column, &j);
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
        case CIM_SCHEDULE_ARRAY: {
                const char *t = (const char *) sqlite3_column_text(stmt, column);
                r = sms_schedule_decode(t, &ret->schedule.data, &ret->schedule.n, NULL);
                if (r < 0)
                        return -EBADMSG;
                break;
        }
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
