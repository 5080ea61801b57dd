/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smsprov/macro.h"
#include "smsprov/wql.h"
#include "util/time-util.h"

static const char *compare_to_string(WqlCompare op) {
        static const char *const table[] = {
                [WQL_EQ] = "=", [WQL_NE] = "<>", [WQL_LT] = "<",
                [WQL_LE] = "<=", [WQL_GT] = ">", [WQL_GE] = ">=",
        };
        return (size_t) op < ELEMENTSOF(table) ? table[op] : "?";
}

static int check_oom(SmsError *e) {
        return sms_error_set_errno(e, ENOMEM, "Failed to check query");
}

/* Returns the property's index in c->all. */
static int resolve_property(const SmsClass *c, const char *name, SmsError *e) {
        int i = sms_class_find_property(c, name);
        if (i < 0)
                return sms_error_set(e, SMS_ERROR_INVALID_QUERY, "no property " SMS_QUOTE_FMT " in class %s",
                                     SMS_QUOTE(name), c->name);
        return i;
}

/* The type a literal compared with a property of type t becomes: the element type for the
 * arrays WQL can search, the type itself for scalars, _CIM_TYPE_INVALID when no literal can be
 * compared with it (only IS NULL works there). */
static CimType literal_type_for(CimType t) {
        switch (t) {
        case CIM_STRING_ARRAY:
                return CIM_STRING;
        case CIM_UINT32_ARRAY:
                return CIM_UINT32;
        default:
                return cim_type_is_array(t) ? _CIM_TYPE_INVALID : t;
        }
}

/* Integers in strings ('42', '-1', '0x10') follow the literal syntax of the query. */
static bool parse_integer(const char *s, int64_t *ret) {
        bool negative = false;
        uint64_t magnitude = 0, limit;
        unsigned base = 10;

        if (*s == '-') {
                negative = true;
                s++;
        }
        limit = negative ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
                base = 16;
                s += 2;
        }
        if (*s == 0)
                return false;

        for (; *s; s++) {
                unsigned d;

                if (*s >= '0' && *s <= '9')
                        d = *s - '0';
                else if (base == 16 && *s >= 'a' && *s <= 'f')
                        d = *s - 'a' + 10;
                else if (base == 16 && *s >= 'A' && *s <= 'F')
                        d = *s - 'A' + 10;
                else
                        return false;
                if (magnitude > (limit - d) / base)
                        return false;
                magnitude = magnitude * base + d;
        }

        *ret = negative ? (int64_t) (0 - magnitude) : (int64_t) magnitude;
        return true;
}

static bool parse_digits(const char *s, size_t n, unsigned *ret) {
        unsigned v = 0;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (unsigned) (s[i] - '0');
        }
        *ret = v;
        return true;
}

/* CIM DMTF datetime "yyyymmddHHMMSS.mmmmmm+UUU": local time and its offset from UTC in minutes
 * ("-UUU" west of UTC, "+***" unknown, taken as UTC). */
static bool parse_dmtf(const char *s, uint64_t *ret) {
        unsigned year, month, day, hour, minute, second, usec, offset = 0;
        int64_t t;

        if (strlen(s) != 25 || s[14] != '.' || (s[21] != '+' && s[21] != '-'))
                return false;
        if (!parse_digits(s, 4, &year) || !parse_digits(s + 4, 2, &month) || !parse_digits(s + 6, 2, &day) ||
            !parse_digits(s + 8, 2, &hour) || !parse_digits(s + 10, 2, &minute) ||
            !parse_digits(s + 12, 2, &second) || !parse_digits(s + 15, 6, &usec))
                return false;
        if (!streq(s + 22, "***") && !parse_digits(s + 22, 3, &offset))
                return false;
        if (month < 1 || month > 12 || day < 1 || day > time_days_in_month(year, month) || hour > 23 ||
            minute > 59 || second > 59)
                return false;

        t = time_days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
        t += (s[21] == '+' ? -1 : 1) * (int64_t) offset * 60;
        if (t < 0)
                return false;

        *ret = (uint64_t) t * USEC_PER_SEC + usec;
        return true;
}

static bool integer_fits(CimType t, int64_t v) {
        switch (t) {
        case CIM_UINT8:
                return v >= 0 && v <= UINT8_MAX;
        case CIM_UINT32:
                return v >= 0 && v <= UINT32_MAX;
        case CIM_SINT32:
                return v >= INT32_MIN && v <= INT32_MAX;
        case CIM_UINT64:
        case CIM_DATETIME:
                return v >= 0;
        case CIM_SINT64:
                return true;
        default:
                assert(false);
                return false;
        }
}

static CimValue integer_value(CimType t, int64_t v) {
        if (t == CIM_SINT32 || t == CIM_SINT64)
                return (CimValue) { .type = t, .i = v };
        return cim_value_uint(t, (uint64_t) v);
}

static const char *literal_kind_to_string(WqlLiteralKind k) {
        switch (k) {
        case WQL_LITERAL_STRING:
                return "a string";
        case WQL_LITERAL_INTEGER:
                return "an integer";
        case WQL_LITERAL_BOOLEAN:
                return "a boolean";
        default:
                return "NULL";
        }
}

/* Converts the literal o to type t (a scalar) for comparing it with property p, into o->value.
 * Literal text is not quoted back in messages: it may be long or not valid UTF-8. */
static int convert_literal(const SmsProperty *p, CimType t, WqlOperand *o, SmsError *e) {
        const char *type_name = cim_type_to_string(p->type);
        CimValue v = cim_value_null(t);
        int64_t i;

        assert(!o->is_property);

        switch (t) {
        case CIM_STRING:
                if (o->literal_kind == WQL_LITERAL_STRING)
                        v.str = strdup(o->string);
                else if (o->literal_kind == WQL_LITERAL_INTEGER) {
                        if (asprintf(&v.str, "%" PRIi64, o->integer) < 0)
                                v.str = NULL;
                } else
                        break;
                if (!v.str)
                        return check_oom(e);
                v.null = false;
                goto done;

        case CIM_BOOLEAN:
                if (o->literal_kind == WQL_LITERAL_BOOLEAN)
                        v = cim_value_bool(o->boolean);
                else if (o->literal_kind == WQL_LITERAL_INTEGER && (o->integer == 0 || o->integer == 1))
                        v = cim_value_bool(o->integer == 1);
                else if (o->literal_kind == WQL_LITERAL_STRING &&
                         (strcasecmp(o->string, "true") == 0 || strcasecmp(o->string, "false") == 0))
                        v = cim_value_bool(strcasecmp(o->string, "true") == 0);
                else
                        return sms_error_set(e, SMS_ERROR_INVALID_QUERY,
                                             "%s cannot be compared with %s property %s (use TRUE or FALSE)",
                                             literal_kind_to_string(o->literal_kind), type_name, p->name);
                goto done;

        default:
                assert(cim_type_is_integer(t));

                if (o->literal_kind == WQL_LITERAL_INTEGER)
                        i = o->integer;
                else if (o->literal_kind == WQL_LITERAL_STRING && parse_integer(o->string, &i))
                        ;
                else if (o->literal_kind == WQL_LITERAL_STRING && t == CIM_DATETIME) {
                        uint64_t usec;
                        if (!parse_dmtf(o->string, &usec))
                                return sms_error_set(e, SMS_ERROR_INVALID_QUERY,
                                                     "string is neither an integer nor a DMTF datetime "
                                                     "(yyyymmddHHMMSS.mmmmmm+UUU, after 1970) for property %s",
                                                     p->name);
                        v = cim_value_uint(t, usec);
                        goto done;
                } else if (o->literal_kind == WQL_LITERAL_STRING)
                        return sms_error_set(e, SMS_ERROR_INVALID_QUERY,
                                             "string is not an integer for %s property %s", type_name, p->name);
                else
                        break;

                if (!integer_fits(t, i))
                        return sms_error_set(e, SMS_ERROR_INVALID_QUERY,
                                             "%" PRIi64 " is out of range for %s property %s", i, type_name,
                                             p->name);
                v = integer_value(t, i);
                goto done;
        }

        return sms_error_set(e, SMS_ERROR_INVALID_QUERY, "%s cannot be compared with %s property %s",
                             literal_kind_to_string(o->literal_kind), type_name, p->name);

done:
        cim_value_clear(&o->value);
        o->value = v;
        return 0;
}

/* Property against property: both strings, or both numbers (integers, DateTime, Boolean). */
static bool types_comparable(CimType a, CimType b) {
        if (cim_type_is_array(a) || cim_type_is_array(b))
                return false;
        if (a == CIM_STRING || b == CIM_STRING)
                return a == b;
        return true;
}

static int check_node(const SmsClass *c, WqlNode *n, SmsError *e) {
        const SmsProperty *p;
        CimType t;
        int r;

        switch (n->kind) {
        case WQL_NODE_AND:
        case WQL_NODE_OR:
                r = check_node(c, n->left, e);
                if (r < 0)
                        return r;
                return check_node(c, n->right, e);

        case WQL_NODE_NOT:
                return check_node(c, n->left, e);

        default:
                break;
        }

        /* wql_parse() puts a property on the left of every condition */
        if (!n->lhs.is_property)
                return sms_error_set(e, SMS_ERROR_INVALID_QUERY, "condition without a property");

        r = resolve_property(c, n->lhs.name, e);
        if (r < 0)
                return r;
        n->lhs.index = r;
        p = c->all[r];
        t = literal_type_for(p->type);

        switch (n->kind) {
        case WQL_NODE_IS_NULL:
                return 0;

        case WQL_NODE_LIKE:
                if (p->type != CIM_STRING)
                        return sms_error_set(e, SMS_ERROR_INVALID_QUERY,
                                             "LIKE needs a String property, %s is %s", p->name,
                                             cim_type_to_string(p->type));
                if (n->rhs.is_property || n->rhs.literal_kind != WQL_LITERAL_STRING)
                        return sms_error_set(e, SMS_ERROR_INVALID_QUERY, "LIKE needs a string pattern");
                if (strlen(n->rhs.string) > WQL_MAX_LIKE_PATTERN)
                        return sms_error_set(e, SMS_ERROR_LIMITS_EXCEEDED,
                                             "a LIKE pattern may be at most %u bytes (WQL_MAX_LIKE_PATTERN), "
                                             "the one for %s has %zu",
                                             WQL_MAX_LIKE_PATTERN, p->name, strlen(n->rhs.string));
                return convert_literal(p, CIM_STRING, &n->rhs, e);

        case WQL_NODE_IN:
                if (t == _CIM_TYPE_INVALID)
                        return sms_error_set(e, SMS_ERROR_INVALID_QUERY,
                                             "only IS [NOT] NULL can test %s property %s",
                                             cim_type_to_string(p->type), p->name);
                for (size_t i = 0; i < n->n_list; i++) {
                        r = convert_literal(p, t, &n->list[i], e);
                        if (r < 0)
                                return r;
                }
                return 0;

        case WQL_NODE_COMPARE:
                if (t == _CIM_TYPE_INVALID)
                        return sms_error_set(e, SMS_ERROR_INVALID_QUERY,
                                             "only IS [NOT] NULL can test %s property %s",
                                             cim_type_to_string(p->type), p->name);

                if (n->rhs.is_property) {
                        const SmsProperty *q;

                        r = resolve_property(c, n->rhs.name, e);
                        if (r < 0)
                                return r;
                        n->rhs.index = r;
                        q = c->all[r];
                        if (!types_comparable(p->type, q->type))
                                return sms_error_set(e, SMS_ERROR_INVALID_QUERY,
                                                     "%s property %s cannot be compared with %s property %s",
                                                     cim_type_to_string(p->type), p->name,
                                                     cim_type_to_string(q->type), q->name);
                        return 0;
                }

                /* "any element equals" is the only comparison WQL defines on arrays */
                if (cim_type_is_array(p->type) && n->op != WQL_EQ && n->op != WQL_NE)
                        return sms_error_set(e, SMS_ERROR_INVALID_QUERY,
                                             "operator %s cannot be applied to %s property %s (only =, <> and IN)",
                                             compare_to_string(n->op), cim_type_to_string(p->type), p->name);

                return convert_literal(p, t, &n->rhs, e);

        default:
                assert(false);
                return sms_error_set(e, SMS_ERROR_INVALID_QUERY, "unknown condition");
        }
}

static int check_columns(const SmsClass *c, WqlQuery *q, SmsError *e) {
        _cleanup_free_ size_t *columns = NULL;
        _cleanup_free_ bool *seen = NULL;
        size_t n = 0;
        int r;

        columns = calloc(c->n_all > 0 ? c->n_all : 1, sizeof(size_t));
        seen = calloc(c->n_all > 0 ? c->n_all : 1, sizeof(bool));
        if (!columns || !seen)
                return check_oom(e);

        if (q->select_all) {
                for (size_t i = 0; i < c->n_all; i++)
                        if (!sms_property_is_lazy(c->all[i]))
                                columns[n++] = i;
        } else
                for (char **name = q->select; name && *name; name++) {
                        r = resolve_property(c, *name, e);
                        if (r < 0)
                                return r;
                        /* lazy properties are accepted in the list, but only an explicit Get
                         * returns them (the WMI contract) */
                        if (seen[r] || sms_property_is_lazy(c->all[r]))
                                continue;
                        seen[r] = true;
                        columns[n++] = (size_t) r;
                }

        free(q->columns);
        q->columns = TAKE_PTR(columns);
        q->n_columns = n;
        return 0;
}

int wql_check(WqlQuery *q, SmsError *e) {
        const SmsClass *c;
        int r;

        assert(q);
        assert(q->class_name);

        c = sms_model_find_class(q->class_name);
        if (!c)
                return sms_error_set(e, SMS_ERROR_INVALID_CLASS, "no class " SMS_QUOTE_FMT, SMS_QUOTE(q->class_name));
        if (c->methods_only)
                return sms_error_set(e, SMS_ERROR_INVALID_QUERY, "%s has methods only, no instances to query", c->name);

        r = check_columns(c, q, e);
        if (r < 0)
                return r;

        if (q->where) {
                r = check_node(c, q->where, e);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < q->n_order; i++) {
                const SmsProperty *p;

                r = resolve_property(c, q->order[i].name, e);
                if (r < 0)
                        return r;
                q->order[i].index = r;
                p = c->all[r];
                if (cim_type_is_array(p->type))
                        return sms_error_set(e, SMS_ERROR_INVALID_QUERY, "cannot ORDER BY %s property %s",
                                             cim_type_to_string(p->type), p->name);
        }

        q->class = c;
        return 0;
}
