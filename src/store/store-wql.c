/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smsprov/macro.h"
#include "smsprov/wql.h"

/* Checked WQL → one SQL statement. Only names from the class descriptors and fixed SQL text go
 * into the statement; every literal becomes a bound parameter.
 *
 * The SQL is shaped for what SQLite's parser can take. Its parser stack is small (YYSTACKDEPTH
 * 100 in 3.40: "NOT (" nested 44 deep, or right-nested "(a AND (b OR (…" 29 deep, already
 * overflow it) and an expression tree may be at most 1000 high (SQLITE_MAX_EXPR_DEPTH), which
 * one flat list of 1000 ORs reaches. So: NOTs are pushed down to the conditions (De Morgan and
 * inverted comparisons, which keep SQL's three-valued logic), runs of one operator become flat
 * lists of at most LIST_MAX operands, grouped in parentheses beyond that, and in a list that
 * nests deeply the operand that needs the deepest parse goes first, where nesting costs least.
 * Both measures are estimated while building, and a query beyond them is refused rather than
 * handed to SQLite. */

#define LIST_MAX 32u
/* Estimated parser stack use, in units where a plain comparison costs 1 and each open
 * parenthesis 1; SQLite 3.40 accepts about 91 after "SELECT … FROM … WHERE". */
#define SQL_MAX_STACK 80u
#define SQL_MAX_DEPTH 900u
/* Below this, lists keep the order written (what any everyday query needs, so its SQL reads
 * like the WQL). */
#define LIST_REORDER_STACK 24u
/* SQLITE_MAX_VARIABLE_NUMBER's default since 3.32 */
#define SQL_MAX_PARAMS 32766u

typedef struct Term Term;
struct Term {
        /* a condition, with the NOTs above it folded into negate … */
        const WqlNode *node;
        bool negate;
        /* … or a list of terms joined by one operator */
        bool or;
        Term **terms;
        size_t n_terms;

        unsigned stack; /* estimated parser stack units to parse the term */
        unsigned depth; /* estimated expression tree height */
};

static Term *term_free(Term *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_terms; i++)
                term_free(t->terms[i]);
        free(t->terms);
        free(t);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Term *, term_free);

/* What differs between the SQL of the backends (wql.h's WqlDialect). */
typedef struct Dialect {
        bool dollar_params;         /* $N rather than ? and ?N */
        const char *false_constant;
        const char *null_safe_equal; /* = that holds for two NULLs */
        /* an array's JSON elements as rows of one column "value", around the column */
        const char *json_elements_open, *json_elements_close;
        const char *json_length;     /* "(column)": the number of elements */
        const char *blob_length;
        /* around each string operand of a comparison, IN and ORDER BY: WQL's case-insensitive
         * comparison, where the columns' collation does not give it (SQLite's NOCASE folds
         * ASCII and compares bytes: PostgreSQL's lower() under COLLATE "C" does the same) */
        const char *fold_open, *fold_close;
        /* SQLite's NULL order (NULL sorts first), which the page conditions spell out */
        const char *ascending, *descending;
} Dialect;

static const Dialect dialects[_WQL_DIALECT_MAX] = {
        [WQL_DIALECT_SQLITE] = {
                .false_constant = "0",
                .null_safe_equal = " IS ",
                .json_elements_open = "json_each(",
                .json_elements_close = ")",
                .json_length = "json_array_length(",
                .blob_length = "length(",
                .fold_open = "",
                .fold_close = "",
                .ascending = " ASC",
                .descending = " DESC",
        },
        [WQL_DIALECT_POSTGRESQL] = {
                .dollar_params = true,
                .false_constant = "false",
                .null_safe_equal = " IS NOT DISTINCT FROM ",
                .json_elements_open = "jsonb_array_elements_text(",
                .json_elements_close = "::jsonb) AS elements (value)",
                .json_length = "jsonb_array_length(",
                .blob_length = "octet_length(",
                .fold_open = "lower((",
                .fold_close = ") COLLATE \"C\")",
                .ascending = " ASC NULLS FIRST",
                .descending = " DESC NULLS LAST",
        },
};

typedef struct Builder {
        const SmsClass *class;
        const Dialect *dialect;
        SmsError *error;
        char *sql;
        size_t length, allocated;
        CimValue *params;
        size_t n_params, allocated_params;
} Builder;

static void builder_done(Builder *b) {
        free(b->sql);
        for (size_t i = 0; i < b->n_params; i++)
                cim_value_clear(&b->params[i]);
        free(b->params);
}

static int compile_oom(Builder *b) {
        return sms_error_set_errno(b->error, ENOMEM, "Failed to compile query");
}

static int append(Builder *b, const char *s) {
        size_t n = strlen(s);

        if (b->length + n + 1 > b->allocated) {
                size_t k = (b->length + n + 1) * 2;
                char *p = realloc(b->sql, k);
                if (!p)
                        return compile_oom(b);
                b->sql = p;
                b->allocated = k;
        }
        memcpy(b->sql + b->length, s, n + 1);
        b->length += n;
        return 0;
}

/* "name", with any " doubled; names come from the class tables, the quoting is for SQL's sake */
static int append_identifier(Builder *b, const char *name) {
        int r = append(b, "\"");

        for (const char *s = name; r >= 0 && *s; s++)
                r = append(b, *s == '"' ? "\"\"" : (char[]) { *s, 0 });
        if (r >= 0)
                r = append(b, "\"");
        return r;
}

static int append_column(Builder *b, size_t index) {
        assert(index < b->class->n_all);
        return append_identifier(b, sms_property_column(b->class->all[index]));
}

static int append_numbered_param(Builder *b, size_t n);

/* s folded when type is String (Dialect.fold_open) */
static int fold_open(Builder *b, CimType type) {
        return type == CIM_STRING ? append(b, b->dialect->fold_open) : 0;
}

static int fold_close(Builder *b, CimType type) {
        return type == CIM_STRING ? append(b, b->dialect->fold_close) : 0;
}

static int append_folded_column(Builder *b, size_t index) {
        CimType type = b->class->all[index]->type;
        int r = fold_open(b, type);

        if (r >= 0)
                r = append_column(b, index);
        if (r >= 0)
                r = fold_close(b, type);
        return r;
}

static int append_param(Builder *b, const CimValue *v);

static int append_folded_param(Builder *b, CimType type, const CimValue *v) {
        int r = fold_open(b, type);

        if (r >= 0)
                r = append_param(b, v);
        if (r >= 0)
                r = fold_close(b, type);
        return r;
}

static int append_param(Builder *b, const CimValue *v) {
        int r;

        assert(!cim_type_is_array(v->type));

        if (b->n_params >= SQL_MAX_PARAMS)
                return sms_error_set(b->error, SMS_ERROR_INVALID_QUERY, "query has more than %u literals",
                                     SQL_MAX_PARAMS);
        if (b->n_params >= b->allocated_params) {
                size_t k = b->allocated_params > 0 ? b->allocated_params * 2 : 8;
                CimValue *p = reallocarray(b->params, k, sizeof(CimValue));
                if (!p)
                        return compile_oom(b);
                b->params = p;
                b->allocated_params = k;
        }

        r = cim_value_copy(&b->params[b->n_params], v);
        if (r < 0)
                return sms_error_set_errno(b->error, r, "Failed to copy query parameter");
        b->n_params++;
        return b->dialect->dollar_params ? append_numbered_param(b, b->n_params) : append(b, "?");
}

/* Several strings in a row, ending with NULL. */
static int append_many(Builder *b, ...) {
        va_list ap;
        int r = 0;

        va_start(ap, b);
        for (const char *s = va_arg(ap, const char *); r >= 0 && s; s = va_arg(ap, const char *))
                r = append(b, s);
        va_end(ap);
        return r;
}

static const SmsProperty *leaf_property(const Builder *b, const WqlNode *n) {
        assert(n->lhs.is_property);
        assert(n->lhs.index >= 0 && (size_t) n->lhs.index < b->class->n_all);
        return b->class->all[n->lhs.index];
}

static bool type_is_json_array(CimType t) {
        return t == CIM_STRING_ARRAY || t == CIM_UINT32_ARRAY || t == CIM_DRIVER_DETAILS_ARRAY;
}

static bool node_is_list(const WqlNode *n) {
        return n->kind == WQL_NODE_AND || n->kind == WQL_NODE_OR;
}

/* Whether the condition comes out as an EXISTS over json_each(). */
static bool leaf_is_exists(const Builder *b, const WqlNode *n) {
        return (n->kind == WQL_NODE_IN || n->kind == WQL_NODE_COMPARE) &&
                cim_type_is_array(leaf_property(b, n)->type);
}

static unsigned max_unsigned(unsigned a, unsigned b) {
        return a > b ? a : b;
}

/* Parser stack and tree height of each form of condition that emit_leaf() writes, measured on
 * SQLite 3.40 (in open parentheses it takes the room of, "a" = ? counting as 1) and rounded up. */
static void leaf_measure(const Builder *b, Term *t) {
        const WqlNode *n = t->node;
        const SmsProperty *p = leaf_property(b, n);

        switch (n->kind) {
        case WQL_NODE_IS_NULL:
                t->stack = cim_type_is_array(p->type) ? 7 : 2;
                t->depth = 4;
                break;
        case WQL_NODE_LIKE:
                t->stack = 5;
                t->depth = 3;
                break;
        case WQL_NODE_IN:
        case WQL_NODE_COMPARE:
                if (leaf_is_exists(b, n)) {
                        t->stack = 13;
                        t->depth = 6;
                } else {
                        t->stack = n->kind == WQL_NODE_IN ? 4 : 1;
                        t->depth = 3;
                }
                break;
        default:
                assert(false);
        }
}

static bool term_is_list(const Term *t) {
        return !t->node;
}

/* An operand of a list needs parentheses when it is an OR list inside an AND list, or a group
 * of the same operator (kept apart to bound the tree height). */
static bool term_needs_parentheses(const Term *list, const Term *t) {
        return term_is_list(t) && (t->or || t->or == list->or);
}

static unsigned term_stack_in(const Term *list, const Term *t) {
        return t->stack + term_needs_parentheses(list, t);
}

static void list_measure_in_order(Term *t) {
        unsigned rest = 0;

        t->stack = term_stack_in(t, t->terms[0]);
        t->depth = 0;
        for (size_t i = 0; i < t->n_terms; i++) {
                const Term *o = t->terms[i];
                /* SQLite builds "a AND b AND c" as ((a AND b) AND c) */
                unsigned above = (unsigned) (i == 0 ? t->n_terms - 1 : t->n_terms - i);

                /* "x AND (" of an operand that is not the first holds two more entries */
                if (i > 0)
                        rest = max_unsigned(rest, 2 + term_stack_in(t, o));
                t->depth = max_unsigned(t->depth, above + o->depth);
        }
        t->stack = max_unsigned(t->stack, rest);
}

static void list_measure(Term *t) {
        size_t first = 0;

        assert(t->n_terms >= 2);

        /* Operands stay in the order written unless that gets costly: then the costliest goes
         * first, where "( ( ( x" costs one unit per level instead of three for "a AND ( b OR (" */
        list_measure_in_order(t);
        if (t->stack <= LIST_REORDER_STACK)
                return;

        for (size_t i = 1; i < t->n_terms; i++)
                if (term_stack_in(t, t->terms[i]) > term_stack_in(t, t->terms[first]))
                        first = i;
        Term *costliest = t->terms[first];
        memmove(t->terms + 1, t->terms, first * sizeof(Term *));
        t->terms[0] = costliest;
        list_measure_in_order(t);
}

static int term_new_list(Builder *b, bool or, Term **terms, size_t n, Term **ret) {
        Term *t;

        t = calloc(1, sizeof(Term));
        if (!t)
                return compile_oom(b);
        t->or = or;
        t->terms = terms;
        t->n_terms = n;
        list_measure(t);
        *ret = t;
        return 0;
}

typedef struct TermList {
        Term **terms;
        size_t n, allocated;
} TermList;

static void term_list_done(TermList *l) {
        for (size_t i = 0; i < l->n; i++)
                term_free(l->terms[i]);
        free(l->terms);
        *l = (TermList) {};
}

static int term_list_add(Builder *b, TermList *l, Term *t) {
        if (l->n >= l->allocated) {
                size_t k = l->allocated > 0 ? l->allocated * 2 : 4;
                Term **p = reallocarray(l->terms, k, sizeof(Term *));
                if (!p)
                        return compile_oom(b);
                l->terms = p;
                l->allocated = k;
        }
        l->terms[l->n++] = t;
        return 0;
}

static int term_build(Builder *b, const WqlNode *n, bool negate, Term **ret);

/* Gathers the operands of a run of one operator, looking through NOTs (NOT (a AND b) is
 * NOT a OR NOT b). */
static int list_collect(Builder *b, const WqlNode *n, bool negate, bool or, TermList *l) {
        Term *t;
        int r;

        for (; n->kind == WQL_NODE_NOT; n = n->left)
                negate = !negate;

        if (node_is_list(n) && ((n->kind == WQL_NODE_OR) != negate) == or) {
                r = list_collect(b, n->left, negate, or, l);
                if (r < 0)
                        return r;
                return list_collect(b, n->right, negate, or, l);
        }

        r = term_build(b, n, negate, &t);
        if (r < 0)
                return r;
        r = term_list_add(b, l, t);
        if (r < 0)
                term_free(t);
        return r;
}

static int term_build(Builder *b, const WqlNode *n, bool negate, Term **ret) {
        _cleanup_(term_list_done) TermList l = {};
        bool or;
        int r;

        for (; n->kind == WQL_NODE_NOT; n = n->left)
                negate = !negate;

        if (!node_is_list(n)) {
                Term *t = calloc(1, sizeof(Term));
                if (!t)
                        return compile_oom(b);
                t->node = n;
                t->negate = negate;
                leaf_measure(b, t);
                *ret = t;
                return 0;
        }

        or = (n->kind == WQL_NODE_OR) != negate;
        r = list_collect(b, n, negate, or, &l);
        if (r < 0)
                return r;

        /* long lists become a list of groups of nearly equal size, as many levels as needed */
        while (l.n > LIST_MAX) {
                size_t n_groups = (l.n + LIST_MAX - 1) / LIST_MAX, k = 0, i = 0;

                for (; k < n_groups; k++) {
                        size_t m = l.n / n_groups + (k < l.n % n_groups);
                        Term **group;

                        assert(m >= 2);
                        group = malloc(m * sizeof(Term *));
                        if (!group)
                                r = compile_oom(b);
                        else {
                                memcpy(group, l.terms + i, m * sizeof(Term *));
                                r = term_new_list(b, or, group, m, &l.terms[k]);
                                if (r < 0)
                                        free(group);
                        }
                        if (r < 0) {
                                /* grouped so far: [0, k); not yet: [i, n) */
                                memmove(l.terms + k, l.terms + i, (l.n - i) * sizeof(Term *));
                                l.n = k + l.n - i;
                                return r;
                        }
                        i += m;
                }
                assert(i == l.n);
                l.n = k;
        }

        r = term_new_list(b, or, l.terms, l.n, ret);
        if (r < 0)
                return r;
        l = (TermList) {};
        return 0;
}

static WqlCompare compare_invert(WqlCompare op) {
        switch (op) {
        case WQL_EQ:
                return WQL_NE;
        case WQL_NE:
                return WQL_EQ;
        case WQL_LT:
                return WQL_GE;
        case WQL_LE:
                return WQL_GT;
        case WQL_GT:
                return WQL_LE;
        case WQL_GE:
                return WQL_LT;
        }
        assert(false);
        return op;
}

static const char *compare_to_sql(WqlCompare op) {
        switch (op) {
        case WQL_EQ:
                return " = ";
        case WQL_NE:
                return " <> ";
        case WQL_LT:
                return " < ";
        case WQL_LE:
                return " <= ";
        case WQL_GT:
                return " > ";
        case WQL_GE:
                return " >= ";
        }
        assert(false);
        return " = ";
}

/* IN's literals: "(?, ?, …)", folded as a value of `type` */
static int append_list(Builder *b, const WqlNode *n, CimType type) {
        int r = append(b, "(");

        for (size_t i = 0; r >= 0 && i < n->n_list; i++) {
                if (i > 0)
                        r = append(b, ", ");
                if (r >= 0)
                        r = append_folded_param(b, type, &n->list[i].value);
        }
        if (r >= 0)
                r = append(b, ")");
        return r;
}

/* Arrays stored as JSON match when any element does. */
static int emit_any_element(Builder *b, const WqlNode *n, const SmsProperty *p, bool negated) {
        const bool postgresql = b->dialect->dollar_params;
        const char *collate = p->type == CIM_STRING_ARRAY && !postgresql ? " COLLATE NOCASE" : "";
        /* PostgreSQL's elements are text: the numbers compare as numbers, the strings folded */
        const char *value = !postgresql                     ? " WHERE value"
                            : p->type == CIM_UINT32_ARRAY   ? " WHERE value::bigint"
                            : p->type == CIM_STRING_ARRAY   ? " WHERE lower(value COLLATE \"C\")"
                                                            : " WHERE value";
        CimType element = p->type == CIM_STRING_ARRAY ? CIM_STRING : CIM_SINT64;
        int r;

        r = append_many(b, negated ? "NOT EXISTS" : "EXISTS", " (SELECT 1 FROM ", b->dialect->json_elements_open,
                        NULL);
        if (r >= 0)
                r = append_identifier(b, sms_property_column(p));
        if (r >= 0)
                r = append(b, b->dialect->json_elements_close);
        if (r < 0)
                return r;

        if (n->kind == WQL_NODE_IN) {
                r = append_many(b, value, collate, " IN ", NULL);
                if (r >= 0)
                        r = append_list(b, n, element);
        } else {
                r = append_many(b, value, " = ", NULL);
                if (r >= 0)
                        r = append_folded_param(b, element, &n->rhs.value);
                if (r >= 0)
                        r = append(b, collate);
        }
        if (r >= 0)
                r = append(b, ")");
        return r;
}

static int emit_is_null(Builder *b, const SmsProperty *p, bool is_null) {
        const char *column = sms_property_column(p);
        int r;

        if (!cim_type_is_array(p->type)) {
                r = append_identifier(b, column);
                if (r >= 0)
                        r = append(b, is_null ? " IS NULL" : " IS NOT NULL");
                return r;
        }

        /* an empty array is no value either: '[]' for the JSON ones, '' or a zero-length blob for
         * the others */
        const char *length = type_is_json_array(p->type) ? b->dialect->json_length
                             : p->type == CIM_UINT8_ARRAY  ? b->dialect->blob_length
                                                           : "length(";
        r = append(b, "(");
        if (r >= 0)
                r = append_identifier(b, column);
        if (r >= 0)
                r = append_many(b, is_null ? " IS NULL OR " : " IS NOT NULL AND ", length, NULL);
        if (r >= 0)
                r = append_identifier(b, column);
        if (r >= 0 && type_is_json_array(p->type) && b->dialect->dollar_params)
                r = append(b, "::jsonb");
        if (r >= 0)
                r = append(b, is_null ? ") = 0)" : ") > 0)");
        return r;
}

/* PostgreSQL: ("column" COLLATE "C") ~ $N, $N the pattern as a regular expression; ~ is NULL for
 * a NULL text, so NOT keeps three-valued logic. */
static int emit_like_regex(Builder *b, const WqlNode *n, const SmsProperty *p, bool negated) {
        _cleanup_free_ char *regex = NULL;
        CimValue v = { .type = CIM_STRING };
        int r;

        r = wql_like_to_regex(n->rhs.value.str, &regex);
        if (r == -E2BIG)
                return sms_error_set(b->error, SMS_ERROR_LIMITS_EXCEEDED,
                                     "the LIKE pattern on %s is too complex for the site database", p->name);
        if (r < 0)
                return compile_oom(b);
        v.str = regex;
        r = append(b, negated ? "NOT (" : "(");
        if (r >= 0)
                r = append_identifier(b, sms_property_column(p));
        if (r >= 0)
                r = append(b, " COLLATE \"C\") ~ ");
        if (r >= 0)
                r = append_param(b, &v);
        return r;
}

static int emit_leaf(Builder *b, const WqlNode *n, bool negate) {
        const SmsProperty *p = leaf_property(b, n);
        int r;

        switch (n->kind) {
        case WQL_NODE_IS_NULL:
                return emit_is_null(b, p, n->negated == negate);

        case WQL_NODE_LIKE:
                if (b->dialect->dollar_params)
                        return emit_like_regex(b, n, p, n->negated != negate);
                /* wql_like() returns NULL for a NULL text, so NOT keeps three-valued logic */
                r = append(b, n->negated != negate ? "NOT wql_like(" : "wql_like(");
                if (r >= 0)
                        r = append_param(b, &n->rhs.value);
                if (r >= 0)
                        r = append(b, ", ");
                if (r >= 0)
                        r = append_identifier(b, sms_property_column(p));
                if (r >= 0)
                        r = append(b, ")");
                return r;

        case WQL_NODE_IN:
                if (cim_type_is_array(p->type))
                        return emit_any_element(b, n, p, n->negated != negate);
                r = append_folded_column(b, (size_t) n->lhs.index);
                if (r >= 0)
                        r = append(b, n->negated != negate ? " NOT IN " : " IN ");
                if (r >= 0)
                        r = append_list(b, n, p->type);
                return r;

        case WQL_NODE_COMPARE: {
                WqlCompare op = negate ? compare_invert(n->op) : n->op;

                if (cim_type_is_array(p->type))
                        return emit_any_element(b, n, p, op == WQL_NE);

                r = append_folded_column(b, (size_t) n->lhs.index);
                if (r >= 0)
                        r = append(b, compare_to_sql(op));
                if (r < 0)
                        return r;
                if (n->rhs.is_property)
                        return append_folded_column(b, (size_t) n->rhs.index);
                return append_folded_param(b, p->type, &n->rhs.value);
        }

        default:
                assert(false);
                return sms_error_set(b->error, SMS_ERROR_FAILED, "unexpected condition");
        }
}

static int emit_term(Builder *b, const Term *t) {
        int r = 0;

        if (!term_is_list(t))
                return emit_leaf(b, t->node, t->negate);

        for (size_t i = 0; r >= 0 && i < t->n_terms; i++) {
                bool parentheses = term_needs_parentheses(t, t->terms[i]);

                if (i > 0)
                        r = append(b, t->or ? " OR " : " AND ");
                if (r >= 0 && parentheses)
                        r = append(b, "(");
                if (r >= 0)
                        r = emit_term(b, t->terms[i]);
                if (r >= 0 && parentheses)
                        r = append(b, ")");
        }
        return r;
}

/* The discriminator values of c (when concrete) and of its concrete descendants: a query on a
 * class returns the instances of every class derived from it. */
static int collect_discriminators(Builder *b, const SmsClass *c, CimValue **values, size_t *n) {
        if (!c->abstract) {
                CimValue *v = reallocarray(*values, *n + 1, sizeof(CimValue));
                if (!v)
                        return compile_oom(b);
                *values = v;
                v[(*n)++] = (CimValue) { .type = CIM_SINT64, .i = c->discriminator_value };
        }

        for (const SmsClass *const *child = c->children; child && *child; child++) {
                int r = collect_discriminators(b, *child, values, n);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* "disc" = ? or "disc" IN (?, …) */
static int emit_class_filter(Builder *b, const char *discriminator) {
        _cleanup_free_ CimValue *values = NULL; /* integers, nothing to clear */
        size_t n = 0;
        int r;

        r = collect_discriminators(b, b->class, &values, &n);
        if (r < 0)
                return r;

        if (n == 0)
                return append(b, b->dialect->false_constant); /* an abstract class without concrete subclasses */

        /* Unary plus: the class filter must not steer SQLite to the discriminator's index when
         * the condition has a better one (a Name range on the base class scanned every package). */
        r = append(b, "+");
        if (r >= 0)
                r = append_identifier(b, discriminator);
        if (r >= 0)
                r = append(b, n == 1 ? " = " : " IN (");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                if (i > 0)
                        r = append(b, ", ");
                if (r >= 0)
                        r = append_param(b, &values[i]);
        }
        if (r >= 0 && n > 1)
                r = append(b, ")");
        return r;
}

/* ?N or $N: a parameter by number, for the cursor's values, each used more than once */
static int append_numbered_param(Builder *b, size_t n) {
        char buf[32];

        snprintf(buf, sizeof buf, "%c%zu", b->dialect->dollar_params ? '$' : '?', n);
        return append(b, buf);
}

static int append_folded_numbered_param(Builder *b, size_t column, size_t n) {
        CimType type = b->class->all[column]->type;
        int r = fold_open(b, type);

        if (r >= 0)
                r = append_numbered_param(b, n);
        if (r >= 0)
                r = fold_close(b, type);
        return r;
}

/* Sort value k of a page (the ORDER BY columns, then the class key): its column and direction. */
static size_t page_column(const WqlQuery *q, size_t k, bool *ret_descending) {
        if (k < q->n_order) {
                *ret_descending = q->order[k].descending;
                return (size_t) q->order[k].index;
        }
        *ret_descending = false;
        return q->class->key_indexes[k - q->n_order];
}

/* The rows after the cursor's row in the page order, as
 *   (after_0) OR (eq_0 AND after_1) OR (eq_0 AND eq_1 AND after_2) …
 * with SQLite's NULL order (first when ascending, last when descending) spelt out, since a
 * comparison with NULL is never true. A flat list of short lists, which SQLite's parser takes
 * easily (the number of sort values is capped by WQL_MAX_PAGE_ORDER). Comparisons have the
 * column on the left, so that they use its collation, as ORDER BY does. */
static int emit_page_after(Builder *b, const WqlQuery *q, const WqlPage *page, size_t first_param) {
        int r = append(b, "(");

        for (size_t i = 0; r >= 0 && i < page->n_after; i++) {
                bool descending;
                size_t column;

                if (i > 0)
                        r = append(b, " OR ");
                if (r >= 0)
                        r = append(b, "(");
                for (size_t j = 0; r >= 0 && j < i; j++) {
                        column = page_column(q, j, &descending);
                        r = append_folded_column(b, column);
                        if (r >= 0)
                                r = append(b, b->dialect->null_safe_equal);
                        if (r >= 0)
                                r = append_folded_numbered_param(b, column, first_param + j);
                        if (r >= 0)
                                r = append(b, " AND ");
                }
                if (r < 0)
                        break;

                column = page_column(q, i, &descending);
                if (page->after_null[i] && descending)
                        r = append(b, b->dialect->false_constant); /* nothing sorts after NULL */
                else if (page->after_null[i]) {
                        r = append_folded_column(b, column);
                        if (r >= 0)
                                r = append(b, " IS NOT NULL");
                } else if (descending) {
                        r = append(b, "(");
                        if (r >= 0)
                                r = append_folded_column(b, column);
                        if (r >= 0)
                                r = append(b, " < ");
                        if (r >= 0)
                                r = append_folded_numbered_param(b, column, first_param + i);
                        if (r >= 0)
                                r = append(b, " OR ");
                        if (r >= 0)
                                r = append_folded_column(b, column);
                        if (r >= 0)
                                r = append(b, " IS NULL)");
                } else {
                        r = append_folded_column(b, column);
                        if (r >= 0)
                                r = append(b, " > ");
                        if (r >= 0)
                                r = append_folded_numbered_param(b, column, first_param + i);
                }
                if (r >= 0)
                        r = append(b, ")");
        }
        if (r >= 0)
                r = append(b, ")");
        return r;
}

static int compile(const WqlQuery *q, const WqlPage *page, WqlDialect dialect, WqlSql *ret, SmsError *e) {
        _cleanup_(builder_done) Builder b = { .class = q->class, .dialect = &dialects[dialect], .error = e };
        _cleanup_(term_freep) Term *where = NULL;
        const SmsClass *c = q->class, *root;
        const char *table, *discriminator;
        int r;

        assert(q);
        assert(ret);
        assert(c); /* wql_check() first */

        root = sms_class_root(c);
        table = c->table ? c->table : root->table;
        discriminator = root->discriminator;
        assert(table);

        if (q->where) {
                unsigned stack, depth;

                r = term_build(&b, q->where, false, &where);
                if (r < 0)
                        return r;

                /* with a class filter the condition is the second operand of an AND */
                stack = where->stack + (discriminator ? 2 + (term_is_list(where) && where->or) : 0);
                depth = where->depth + 2;
                if (stack > SQL_MAX_STACK || depth > SQL_MAX_DEPTH)
                        return sms_error_set(e, SMS_ERROR_INVALID_QUERY,
                                             "query conditions are too deeply nested to be compiled");
        }

        r = append(&b, "SELECT ");
        for (size_t k = 0; r >= 0 && k < c->n_keys; k++) {
                if (k > 0)
                        r = append(&b, ", ");
                if (r >= 0)
                        r = append_column(&b, c->key_indexes[k]);
        }
        if (r >= 0)
                r = append(&b, ", ");
        if (r >= 0)
                r = discriminator ? append_identifier(&b, discriminator) : append(&b, "0");
        for (size_t i = 0; r >= 0 && i < q->n_columns; i++) {
                r = append(&b, ", ");
                if (r >= 0)
                        r = append_column(&b, q->columns[i]);
        }
        for (size_t i = 0; page && r >= 0 && i < q->n_order; i++) {
                r = append(&b, ", ");
                if (r >= 0)
                        r = append_column(&b, (size_t) q->order[i].index);
        }
        if (r >= 0)
                r = append(&b, " FROM ");
        if (r >= 0)
                r = append_identifier(&b, table);
        if (r < 0)
                return r;

        /* the class filter first (nothing when the table holds one class only), then the
         * condition; AND binds tighter than OR, so an OR list needs parentheses there */
        if (discriminator) {
                r = append(&b, " WHERE ");
                if (r >= 0)
                        r = emit_class_filter(&b, discriminator);
                if (r >= 0 && where)
                        r = append(&b, " AND ");
        } else if (where)
                r = append(&b, " WHERE ");
        if (r >= 0 && where) {
                bool parentheses = discriminator && term_is_list(where) && where->or;

                if (parentheses)
                        r = append(&b, "(");
                if (r >= 0)
                        r = emit_term(&b, where);
                if (r >= 0 && parentheses)
                        r = append(&b, ")");
        }
        if (r < 0)
                return r;

        if (page && page->n_after > 0) {
                /* after the condition, which SQLite has reduced by then: this costs it little
                 * parser stack */
                r = append(&b, discriminator || where ? " AND " : " WHERE ");
                if (r >= 0)
                        r = emit_page_after(&b, q, page, b.n_params + 1);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < q->n_order; i++) {
                r = append(&b, i == 0 ? " ORDER BY " : ", ");
                if (r >= 0)
                        r = append_folded_column(&b, (size_t) q->order[i].index);
                if (r >= 0)
                        r = append(&b, q->order[i].descending ? b.dialect->descending : b.dialect->ascending);
                if (r < 0)
                        return r;
        }
        if (page) {
                /* the key breaks ties, so that the page order is total */
                for (size_t k = 0; k < c->n_keys; k++) {
                        r = append(&b, q->n_order == 0 && k == 0 ? " ORDER BY " : ", ");
                        if (r >= 0)
                                r = append_folded_column(&b, c->key_indexes[k]);
                        if (r >= 0)
                                r = append(&b, b.dialect->ascending);
                        if (r < 0)
                                return r;
                }
                r = append(&b, " LIMIT ");
                if (r >= 0)
                        r = append_numbered_param(&b, b.n_params + page->n_after + 1);
                if (r < 0)
                        return r;
        }

        *ret = (WqlSql) {
                .sql = TAKE_PTR(b.sql),
                .params = TAKE_PTR(b.params),
                .n_params = b.n_params,
        };
        b.n_params = 0;
        return 0;
}

int wql_compile_sql_dialect(const WqlQuery *q, const WqlPage *page, WqlDialect dialect, WqlSql *ret, SmsError *e) {
        assert(dialect >= 0 && dialect < _WQL_DIALECT_MAX);

        if (!page)
                return compile(q, NULL, dialect, ret, e);
        assert(page->n_after == 0 || page->n_after == wql_page_n_values(q));

        if (q->n_order > WQL_MAX_PAGE_ORDER)
                return sms_error_set(e, SMS_ERROR_INVALID_QUERY,
                                     "a paged query may ORDER BY at most %u properties, this one has %zu",
                                     WQL_MAX_PAGE_ORDER, q->n_order);
        return compile(q, page, dialect, ret, e);
}

int wql_compile_sql(const WqlQuery *q, WqlSql *ret, SmsError *e) {
        return wql_compile_sql_dialect(q, NULL, WQL_DIALECT_SQLITE, ret, e);
}

int wql_compile_sql_page(const WqlQuery *q, const WqlPage *page, WqlSql *ret, SmsError *e) {
        assert(page);
        return wql_compile_sql_dialect(q, page, WQL_DIALECT_SQLITE, ret, e);
}

void wql_sql_done(WqlSql *s) {
        if (!s)
                return;
        free(s->sql);
        for (size_t i = 0; i < s->n_params; i++)
                cim_value_clear(&s->params[i]);
        free(s->params);
        *s = (WqlSql) {};
}
