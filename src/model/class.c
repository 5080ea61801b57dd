/* SPDX-License-Identifier: MIT */

/* Generic behaviour driven by the descriptor tables: lookups, flattening of the hierarchy,
 * qualifiers, defaults and the validation of one value against its property. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/classes.h"
#include "smsprov/wmi-path.h"
#include "smsprov/class.h"
#include "smsprov/macro.h"
#include "smsprov/schedule.h"

static bool model_initialized;

static size_t class_count_all(const SmsClass *c) {
        return (c->parent ? class_count_all(c->parent) : 0) + c->n_properties;
}

static void class_fill_all(const SmsClass *c, const SmsProperty **all, size_t *n) {
        if (c->parent)
                class_fill_all(c->parent, all, n);
        for (size_t i = 0; i < c->n_properties; i++)
                all[(*n)++] = &c->properties[i];
}

static int class_init(SmsClass *c) {
        size_t n = 0, n_keys = 0;

        c->n_all = class_count_all(c);
        c->all = calloc(c->n_all, sizeof(SmsProperty *));
        if (!c->all)
                return -ENOMEM;
        class_fill_all(c, c->all, &n);
        assert(n == c->n_all);

        c->level = 0;
        for (const SmsClass *p = c->parent; p; p = p->parent)
                c->level++;

        for (size_t i = 0; i < c->n_all; i++) {
                const SmsProperty *p = c->all[i];

                if (p->flags & SMS_PROP_KEY) {
                        if (n_keys == SMS_MAX_KEYS)
                                return -EINVAL;
                        if (n_keys == 0)
                                c->key_index = i;
                        c->key_indexes[n_keys++] = i;
                }
                /* Names are unique case-insensitively: WMI treats them so. */
                for (size_t j = 0; j < i; j++)
                        if (strcasecmp(c->all[j]->name, p->name) == 0) {
                                fprintf(stderr, "model: %s declares %s twice\n", c->name, p->name);
                                return -EINVAL;
                        }
                if ((p->flags & SMS_PROP_ENUM) && !p->values)
                        return -EINVAL;
                if ((p->flags & SMS_PROP_KEY) && sms_property_is_lazy(p))
                        return -EINVAL;
        }
        if (c->methods_only)
                return n_keys == 0 && !c->table ? 0 : -EINVAL;
        if (n_keys == 0) {
                fprintf(stderr, "model: %s has no key property\n", c->name);
                return -EINVAL;
        }
        c->n_keys = n_keys;
        if (!sms_class_root(c)->table)
                return -EINVAL;
        return 0;
}

int sms_model_init(void) {
        int r;

        if (model_initialized)
                return 0;

        for (SmsClass *const *c = sms_model_class_table; *c; c++) {
                r = class_init(*c);
                if (r < 0)
                        return r;
        }

        /* Children lists: every class whose parent is c. */
        for (SmsClass *const *c = sms_model_class_table; *c; c++) {
                size_t n = 0;

                for (SmsClass *const *d = sms_model_class_table; *d; d++)
                        if ((*d)->parent == *c)
                                n++;
                const SmsClass **children = calloc(n + 1, sizeof(SmsClass *));
                if (!children)
                        return -ENOMEM;
                n = 0;
                for (SmsClass *const *d = sms_model_class_table; *d; d++)
                        if ((*d)->parent == *c)
                                children[n++] = *d;
                (*c)->children = children;
        }

        model_initialized = true;
        return 0;
}

const SmsClass *const *sms_model_classes(void) {
        return (const SmsClass *const *) sms_model_class_table;
}

const SmsClass *sms_model_find_class(const char *name) {
        if (!name)
                return NULL;
        for (SmsClass *const *c = sms_model_class_table; *c; c++)
                if (strcasecmp((*c)->name, name) == 0)
                        return *c;
        return NULL;
}

const SmsClass *sms_class_root(const SmsClass *c) {
        while (c->parent)
                c = c->parent;
        return c;
}

bool sms_class_is_a(const SmsClass *c, const SmsClass *ancestor) {
        for (; c; c = c->parent)
                if (c == ancestor)
                        return true;
        return false;
}

bool sms_class_is_managed(const SmsClass *c) {
        return sms_class_root(c)->managed;
}

const SmsClass *sms_class_find_by_discriminator(const SmsClass *base, int64_t value) {
        if (!base->abstract && base->discriminator_value == value)
                return base;
        for (const SmsClass *const *child = base->children; child && *child; child++) {
                const SmsClass *found = sms_class_find_by_discriminator(*child, value);
                if (found)
                        return found;
        }
        return NULL;
}

int sms_class_find_property(const SmsClass *c, const char *name) {
        if (!name)
                return -ENOENT;
        for (size_t i = 0; i < c->n_all; i++)
                if (strcasecmp(c->all[i]->name, name) == 0)
                        return (int) i;
        return -ENOENT;
}

int sms_class_find_create_parameter(const SmsClass *c, const char *name) {
        for (size_t i = 0; name && i < c->n_create_parameters; i++)
                if (strcasecmp(c->create_parameters[i].name, name) == 0)
                        return (int) i;
        return -ENOENT;
}

const SmsClass *sms_class_property_owner(const SmsClass *c, size_t i) {
        assert(i < c->n_all);
        for (; c; c = c->parent)
                if (c->all[i] >= c->properties && c->all[i] < c->properties + c->n_properties)
                        return c;
        assert(!"property without an owner");
        return NULL;
}

char **sms_property_qualifiers(const SmsProperty *p) {
        static const struct {
                unsigned flag;
                const char *name;
        } flag_names[] = {
                { SMS_PROP_KEY, "key" },           { SMS_PROP_READ, "read" },
                { SMS_PROP_LAZY, "lazy" },         { SMS_PROP_LARGE, "large" },
                { SMS_PROP_BITS, "bits" },         { SMS_PROP_NOT_NULL, "not_null" },
                { SMS_PROP_ENUM, "enumeration" },  { SMS_PROP_PATH, "path" },
                { SMS_PROP_WRITE_ONLY, "write_only" },
                { SMS_PROP_CREATE_ONLY, "create_only" },
        };
        char **l = calloc(ELEMENTSOF(flag_names) + 4, sizeof(char *));
        size_t n = 0;

        if (!l)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(flag_names); i++)
                if (p->flags & flag_names[i].flag && !(l[n++] = strdup(flag_names[i].name)))
                        goto fail;

        if (p->flags & SMS_PROP_ENUM) {
                size_t len = strlen("values=") + 1;
                for (const uint32_t *v = p->values; *v != UINT32_MAX; v++)
                        len += 11;
                char *s = malloc(len), *w = s;
                if (!s)
                        goto fail;
                w += sprintf(w, "values=");
                for (const uint32_t *v = p->values; *v != UINT32_MAX; v++)
                        w += sprintf(w, "%s%" PRIu32, v == p->values ? "" : "|", *v);
                l[n++] = s;
        }
        if (p->max > 0 && asprintf(&l[n++], "range=%" PRIu64 "-%" PRIu64, p->min, p->max) < 0) {
                l[--n] = NULL;
                goto fail;
        }
        if (p->max_length > 0 &&
            asprintf(&l[n++], cim_type_is_array(p->type) ? "max=%zu" : "size_limit=%zu", p->max_length) < 0) {
                l[--n] = NULL;
                goto fail;
        }
        return l;
fail:
        strv_free(l);
        return NULL;
}

static size_t property_max_length(const SmsProperty *p) {
        if (p->max_length > 0)
                return p->max_length;
        switch (p->type) {
        case CIM_UINT8_ARRAY:
                return SMS_MAX_BLOB_LENGTH;
        case CIM_STRING:
                return SMS_MAX_STRING_LENGTH;
        default:
                return SMS_MAX_ARRAY_ELEMENTS;
        }
}

int sms_property_validate(const SmsProperty *p, const CimValue *v, SmsError *e) {
        size_t max = property_max_length(p);
        int r;

        if (v->type != p->type)
                return sms_error_set(e, SMS_ERROR_TYPE_MISMATCH, "%s is %s, got %s", p->name,
                                     cim_type_to_string(p->type), cim_type_to_string(v->type));
        if (v->null)
                return 0;

        switch (p->type) {
        case CIM_STRING:
                if (!utf8_is_valid(v->str))
                        return sms_error_set(e, SMS_ERROR_VALUE_OUT_OF_RANGE, "%s is not valid UTF-8", p->name);
                if (strlen(v->str) > max)
                        return sms_error_set(e, SMS_ERROR_VALUE_OUT_OF_RANGE, "%s is longer than %zu bytes",
                                             p->name, max);
                break;
        case CIM_STRING_ARRAY:
                for (char **s = v->strv; s && *s; s++) {
                        if (!utf8_is_valid(*s))
                                return sms_error_set(e, SMS_ERROR_VALUE_OUT_OF_RANGE,
                                                     "%s holds a string that is not valid UTF-8", p->name);
                        if (strlen(*s) > SMS_MAX_STRING_LENGTH)
                                return sms_error_set(e, SMS_ERROR_VALUE_OUT_OF_RANGE,
                                                     "%s holds a string longer than %u bytes", p->name,
                                                     SMS_MAX_STRING_LENGTH);
                }
                break;
        case CIM_DRIVER_DETAILS_ARRAY:
                for (size_t i = 0; i < v->drivers.n; i++)
                        if (!v->drivers.data[i].source_path || !*v->drivers.data[i].source_path ||
                            !utf8_is_valid(v->drivers.data[i].source_path))
                                return sms_error_set(e, SMS_ERROR_VALUE_OUT_OF_RANGE,
                                                     "%s[%zu].SourcePath must be a non-empty path", p->name, i);
                break;
        case CIM_SCHEDULE_ARRAY:
                for (size_t i = 0; i < v->schedule.n; i++) {
                        r = sms_schedule_token_validate(&v->schedule.data[i], e);
                        if (r < 0)
                                return r;
                }
                break;
        default:
                break;
        }

        if (cim_type_is_array(p->type) && cim_value_array_length(v) > max)
                return sms_error_set(e, SMS_ERROR_VALUE_OUT_OF_RANGE, "%s holds %zu elements, at most %zu allowed",
                                     p->name, cim_value_array_length(v), max);

        if (cim_type_is_integer(p->type) && !cim_type_is_signed(p->type)) {
                if (p->flags & SMS_PROP_ENUM) {
                        bool ok = false;
                        for (const uint32_t *x = p->values; *x != UINT32_MAX; x++)
                                if (v->u == *x)
                                        ok = true;
                        if (!ok) {
                                _cleanup_strv_free_ char **q = sms_property_qualifiers(p);
                                const char *vals = "";
                                for (char **s = q; s && *s; s++)
                                        if (strncmp(*s, "values=", 7) == 0)
                                                vals = *s + 7;
                                return sms_error_set(e, SMS_ERROR_VALUE_OUT_OF_RANGE,
                                                     "%s must be one of %s, got %" PRIu64, p->name, vals, v->u);
                        }
                }
                if (p->max > 0 && (v->u < p->min || v->u > p->max))
                        return sms_error_set(e, SMS_ERROR_VALUE_OUT_OF_RANGE,
                                             "%s must be within %" PRIu64 "-%" PRIu64 ", got %" PRIu64, p->name,
                                             p->min, p->max, v->u);
        }

        if (p->check)
                return p->check(p, v, e);
        return 0;
}

/* --- what one object takes on D-Bus ------------------------------------------------------------- */

/* Upper bounds by the D-Bus marshalling rules: every aligned item may need up to 7 bytes of
 * padding before it (8-byte alignment at most); strings are a 4-byte length, the bytes, a NUL. */
#define PAD 7u
static uint64_t string_size(const char *s) {
        return PAD + 4 + (s ? strlen(s) : 0) + 1;
}

static uint64_t schedule_token_size(const SmsScheduleToken *t) {
        /* (sa{sv}): the class name, then an a{sv} of the fields its type carries. */
        uint64_t n = PAD + string_size(sms_schedule_type_to_class(t->type)) + PAD + 4;

        for (size_t i = 0; i < sms_n_schedule_fields; i++)
                if (sms_schedule_fields[i].types & SMS_SCHEDULE_TYPE_BIT(t->type))
                        n += PAD + string_size(sms_schedule_fields[i].name) + 3 /* the variant's signature */ +
                             PAD + 8;
        return n;
}

static uint64_t value_size(const CimValue *v) {
        uint64_t n = PAD + 4; /* arrays: their length */

        switch (v->type) {
        case CIM_STRING:
                return string_size(v->null ? NULL : v->str);
        case CIM_UINT8_ARRAY:
                return n + (v->null ? 0 : v->bytes.n);
        case CIM_UINT32_ARRAY:
                return n + (v->null ? 0 : 4 * (uint64_t) v->u32s.n);
        case CIM_STRING_ARRAY:
                for (char **s = v->null ? NULL : v->strv; s && *s; s++)
                        n += string_size(*s);
                return n;
        case CIM_DRIVER_DETAILS_ARRAY:
                for (size_t i = 0; !v->null && i < v->drivers.n; i++)
                        n += PAD + 4 + string_size(v->drivers.data[i].source_path);
                return n;
        case CIM_SCHEDULE_ARRAY:
                for (size_t i = 0; !v->null && i < v->schedule.n; i++)
                        n += schedule_token_size(&v->schedule.data[i]);
                return n;
        default: /* a number, a boolean, a DateTime: 8 bytes at most */
                return PAD + 8;
        }
}

uint64_t sms_object_wire_size(const SmsObject *o) {
        uint64_t n = 0;

        /* Each property as a dict entry {sv}: its name, its variant's signature, its value. */
        for (size_t i = 0; i < o->class->n_all; i++) {
                const char *sig = cim_type_to_signature(o->class->all[i]->type);
                n += PAD + string_size(o->class->all[i]->name) + 1 + strlen(sig) + 1 + value_size(&o->values[i]);
        }
        return n;
}

int sms_object_check_size(const SmsObject *o, uint64_t max, SmsError *e) {
        uint64_t size = sms_object_wire_size(o);

        if (size <= max)
                return 0;
        return sms_error_set(e, SMS_ERROR_LIMITS_EXCEEDED,
                             "%s%s%s would take %" PRIu64 " bytes on D-Bus, more than the %" PRIu64 " bytes one "
                             "object may take (a sixteenth of --max-reply-bytes); store large data in files instead",
                             o->key ? o->class->name : "a new ", o->key ? " " : o->class->name, o->key ? o->key : "",
                             size, max);
}

int sms_property_default(const SmsProperty *p, CimValue *ret) {
        *ret = cim_value_null(p->type);
        if (!p->def)
                return 0;

        switch (p->type) {
        case CIM_STRING:
                return cim_value_set_string(ret, p->def);
        case CIM_BOOLEAN:
                *ret = cim_value_bool(streq(p->def, "true"));
                return 0;
        case CIM_UINT8:
        case CIM_UINT32:
        case CIM_UINT64:
        case CIM_DATETIME:
                *ret = cim_value_uint(p->type, strtoull(p->def, NULL, 0));
                return 0;
        case CIM_SINT32:
        case CIM_SINT64:
                *ret = (CimValue) { .type = p->type, .i = strtoll(p->def, NULL, 0) };
                return 0;
        default:
                /* Array defaults are always "no value". */
                return 0;
        }
}

SmsObject *sms_object_new(const SmsClass *c) {
        SmsObject *o = calloc(1, sizeof(SmsObject) + c->n_all * sizeof(CimValue));
        if (!o)
                return NULL;
        o->class = c;
        for (size_t i = 0; i < c->n_all; i++)
                o->values[i] = cim_value_null(c->all[i]->type);
        return o;
}

SmsObject *sms_object_free(SmsObject *o) {
        if (!o)
                return NULL;
        for (size_t i = 0; i < o->class->n_all; i++)
                cim_value_clear(&o->values[i]);
        free(o->key);
        free(o);
        return NULL;
}

static int key_value_text(const CimValue *v, bool quote, char **ret) {
        if (v->type != CIM_STRING) {
                char *s = NULL;
                if (asprintf(&s, "%" PRId64, v->null ? 0 : cim_type_is_signed(v->type) ? v->i : (int64_t) v->u) < 0)
                        return -ENOMEM;
                *ret = s;
                return 0;
        }
        const char *src = v->null ? "" : v->str;
        if (!quote) {
                *ret = strdup(src);
                return *ret ? 0 : -ENOMEM;
        }
        char *s = malloc(strlen(src) * 2 + 3), *w = s;
        if (!s)
                return -ENOMEM;
        *w++ = '"';
        for (const char *p = src; *p; p++) {
                if (*p == '"' || *p == '\\')
                        *w++ = '\\';
                *w++ = *p;
        }
        *w++ = '"';
        *w = 0;
        *ret = s;
        return 0;
}

int sms_class_key_format(const SmsClass *c, const CimValue *const *key_values, char **ret) {
        char *out = NULL;
        size_t len = 0;
        int r;

        if (c->n_keys == 1)
                return key_value_text(key_values[0], false, ret);

        for (size_t k = 0; k < c->n_keys; k++) {
                _cleanup_free_ char *value = NULL;
                const char *name = c->all[c->key_indexes[k]]->name;
                r = key_value_text(key_values[k], true, &value);
                if (r < 0) {
                        free(out);
                        return r;
                }
                size_t add = strlen(name) + strlen(value) + 2;
                char *grown = realloc(out, len + add + 1);
                if (!grown) {
                        free(out);
                        return -ENOMEM;
                }
                out = grown;
                len += (size_t) sprintf(out + len, "%s%s=%s", k ? "," : "", name, value);
        }
        *ret = out;
        return 0;
}

int sms_object_key_format(const SmsObject *o, char **ret) {
        const CimValue *values[SMS_MAX_KEYS];
        for (size_t k = 0; k < o->class->n_keys; k++)
                values[k] = &o->values[o->class->key_indexes[k]];
        return sms_class_key_format(o->class, values, ret);
}

static int key_value_parse(const SmsProperty *p, const char *text, CimValue *ret, SmsError *e) {
        if (p->type == CIM_STRING)
                return cim_value_set_string(ret, text);
        if (cim_type_is_integer(p->type)) {
                /* Plain decimal only, within the type: strtoll alone would take " 7", "+7", and
                 * wrap "-1" for an unsigned key. */
                bool negative = text[0] == '-';
                const char *digits = text + negative;
                char *end;
                if (!(digits[0] >= '0' && digits[0] <= '9') || (negative && !cim_type_is_signed(p->type)))
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                             "%s: '" SMS_QUOTE_FMT "' is not a %s integer", p->name, SMS_QUOTE(text),
                                             cim_type_is_signed(p->type) ? "decimal" : "non-negative decimal");
                errno = 0;
                if (cim_type_is_signed(p->type)) {
                        long long v = strtoll(text, &end, 10);
                        int64_t lo = p->type == CIM_SINT32 ? INT32_MIN : INT64_MIN,
                                hi = p->type == CIM_SINT32 ? INT32_MAX : INT64_MAX;
                        if (errno || *end || v < lo || v > hi)
                                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                                     "%s: '" SMS_QUOTE_FMT "' is out of range", p->name,
                                                     SMS_QUOTE(text));
                        *ret = (CimValue) { .type = p->type, .i = v };
                } else {
                        unsigned long long v = strtoull(text, &end, 10);
                        if (errno || *end || v > cim_type_max(p->type))
                                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                                     "%s: '" SMS_QUOTE_FMT "' is out of range", p->name,
                                                     SMS_QUOTE(text));
                        *ret = cim_value_uint(p->type, (uint64_t) v);
                }
                return 0;
        }
        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s cannot be a key", p->name);
}

int sms_class_key_parse(const SmsClass *c, const char *text, CimValue *ret_values, SmsError *e) {
        _cleanup_(wmi_path_done) WmiPath keys = {};
        bool seen[SMS_MAX_KEYS] = {};
        int r;

        for (size_t k = 0; k < c->n_keys; k++)
                ret_values[k] = cim_value_null(c->all[c->key_indexes[k]]->type);
        if (c->n_keys == 1)
                return key_value_parse(c->all[c->key_index], text, &ret_values[0], e);

        r = wmi_keys_parse(text, &keys, e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < keys.n_keys; i++) {
                size_t k = 0;
                while (k < c->n_keys && strcasecmp(c->all[c->key_indexes[k]]->name, keys.keys[i].name) != 0)
                        k++;
                if (k == c->n_keys || seen[k])
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                             SMS_QUOTE_FMT " is not a key of %s, or given twice",
                                             SMS_QUOTE(keys.keys[i].name), c->name);
                seen[k] = true;
                r = key_value_parse(c->all[c->key_indexes[k]], keys.keys[i].value, &ret_values[k], e);
                if (r < 0)
                        return r;
        }
        for (size_t k = 0; k < c->n_keys; k++)
                if (!seen[k])
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "the key of %s needs %s", c->name,
                                             c->all[c->key_indexes[k]]->name);
        return 0;
}

const CimValue *sms_object_value(const SmsObject *o, const char *name) {
        int i = sms_class_find_property(o->class, name);
        return i >= 0 ? &o->values[i] : NULL;
}

const char *sms_object_string(const SmsObject *o, const char *name) {
        const CimValue *v = sms_object_value(o, name);
        return v && !v->null && v->str ? v->str : "";
}
