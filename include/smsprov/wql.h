/* SPDX-License-Identifier: MIT */
#pragma once

/* WQL as API.md §5 defines it:
 *
 *   SELECT <*|prop,…> FROM <Class> [WHERE <cond>] [ORDER BY prop [ASC|DESC],…]
 *
 * with AND OR NOT ( ), = <> != < <= > >=, LIKE (% _ [ ] [^ ] [a-z]), IS [NOT] NULL, = NULL,
 * <> NULL, [NOT] IN (…) (and the "IS IN" form real scripts use), comparisons between two
 * properties, integer, boolean and string literals ('…' or "…", a quote inside doubled or
 * backslash-escaped, \\ is a backslash). Keywords and names are case-insensitive; string
 * comparison is case-insensitive.
 *
 * Three steps, each its own owner:
 *   wql_parse()        text → syntax tree (model/wql-parse.c); syntax errors only.
 *   wql_check()        resolves the class and properties against the model, converts literals
 *                      to the property's CIM type (model/wql-check.c); schema errors.
 *   wql_compile_sql()  checked tree → one parameterised SQL statement (store/store-wql.c). No
 *                      text from the query is ever pasted into SQL: names come from the class
 *                      descriptors, values are bound parameters.
 * All errors are SMS_ERROR_INVALID_QUERY except an unknown class (SMS_ERROR_INVALID_CLASS) and a
 * LIKE pattern longer than WQL_MAX_LIKE_PATTERN (SMS_ERROR_LIMITS_EXCEEDED). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smsprov/class.h"
#include "smsprov/cim.h"
#include "smsprov/error.h"

#define WQL_MAX_QUERY_LENGTH (64u * 1024u)
#define WQL_MAX_DEPTH 64u       /* nesting of parentheses/NOT/AND/OR */
#define WQL_MAX_IN_LIST 1024u
/* Bytes of one LIKE pattern; a longer one is LimitsExceeded. */
#define WQL_MAX_LIKE_PATTERN 4096u

typedef enum WqlLiteralKind {
        WQL_LITERAL_STRING,
        WQL_LITERAL_INTEGER,
        WQL_LITERAL_BOOLEAN,
        WQL_LITERAL_NULL,
} WqlLiteralKind;

typedef struct WqlOperand {
        bool is_property;
        /* property operand */
        char *name;     /* as written */
        int index;      /* after wql_check: index into class->all; -1 before */
        /* literal operand */
        WqlLiteralKind literal_kind;
        char *string;   /* STRING: unescaped text */
        int64_t integer;/* INTEGER (also holds values up to INT64_MAX; a leading '-' allowed) */
        bool boolean;   /* BOOLEAN */
        /* after wql_check: the literal converted to the other side's CIM type. For array
         * properties this is a scalar of the element type (String or UInt32). */
        CimValue value;
} WqlOperand;

typedef enum WqlCompare {
        WQL_EQ,
        WQL_NE,
        WQL_LT,
        WQL_LE,
        WQL_GT,
        WQL_GE,
} WqlCompare;

typedef enum WqlNodeKind {
        WQL_NODE_AND,
        WQL_NODE_OR,
        WQL_NODE_NOT,
        WQL_NODE_COMPARE, /* lhs op rhs; `prop = NULL` is parsed as WQL_NODE_IS_NULL */
        WQL_NODE_LIKE,    /* lhs [NOT] LIKE rhs (rhs a string literal) */
        WQL_NODE_IS_NULL, /* lhs IS [NOT] NULL */
        WQL_NODE_IN,      /* lhs [NOT] IN (list…) */
} WqlNodeKind;

typedef struct WqlNode WqlNode;
struct WqlNode {
        WqlNodeKind kind;
        bool negated;       /* NOT LIKE, IS NOT NULL, NOT IN, <> NULL */
        WqlNode *left;      /* AND, OR; NOT uses left only */
        WqlNode *right;
        WqlCompare op;      /* COMPARE */
        WqlOperand lhs;     /* COMPARE, LIKE, IS_NULL, IN */
        WqlOperand rhs;     /* COMPARE, LIKE */
        WqlOperand *list;   /* IN */
        size_t n_list;
};

typedef struct WqlOrder {
        char *name;
        int index; /* after wql_check */
        bool descending;
} WqlOrder;

typedef struct WqlQuery {
        char *class_name;
        bool select_all;
        char **select;        /* names as written, NULL-terminated; NULL when select_all */
        WqlNode *where;       /* NULL when there is no WHERE */
        WqlOrder *order;
        size_t n_order;

        /* after wql_check */
        const SmsClass *class;
        size_t *columns;      /* property indexes to return: the selected non-lazy ones, in
                               * select order, without duplicates (SELECT * = every non-lazy
                               * property in class->all order) */
        size_t n_columns;
} WqlQuery;

int wql_parse(const char *text, WqlQuery **ret, SmsError *e);
int wql_check(WqlQuery *q, SmsError *e);
WqlQuery *wql_query_free(WqlQuery *q);
static inline void wql_query_freep(WqlQuery **q) {
        wql_query_free(*q);
}

/* The compiled statement. Result columns: the class's key columns (class->n_keys of them, in
 * key order), then the discriminator column (or the constant 0 when the table has none), then
 * one column per q->columns entry, in order. Parameters are bound 1…n_params in order. */
typedef struct WqlSql {
        char *sql;
        CimValue *params; /* scalars only: String, Boolean, integer types */
        size_t n_params;
} WqlSql;

int wql_compile_sql(const WqlQuery *q, WqlSql *ret, SmsError *e);
void wql_sql_done(WqlSql *s);

/* One page of the query (keyset pagination, ExecQueryPage): rows in the query's ORDER BY, then
 * the class key ascending, after the row whose sort values (the ORDER BY properties, then the
 * key properties: wql_page_n_values() of them) a cursor carries. The statement has the result
 * columns of wql_compile_sql() followed by the q->n_order ORDER BY columns; after the
 * statement's n_params parameters, parameter n_params + 1 + k is sort value k (when n_after is
 * not 0) and the last one, n_params + n_after + 1, the row limit. The caller binds those. */
#define WQL_MAX_PAGE_ORDER 16u
typedef struct WqlPage {
        size_t n_after;         /* 0: the first page; otherwise wql_page_n_values(q) */
        const bool *after_null; /* per sort value: whether it is NULL (shapes the condition) */
} WqlPage;

static inline size_t wql_page_n_values(const WqlQuery *q) {
        return q->n_order + q->class->n_keys;
}
int wql_compile_sql_page(const WqlQuery *q, const WqlPage *page, WqlSql *ret, SmsError *e);

/* The SQL a backend speaks. wql_compile_sql() and wql_compile_sql_page() write SQLite's; for
 * PostgreSQL parameters are $N, the false constant is false, NULL-safe equality IS NOT DISTINCT
 * FROM, JSON arrays are read with jsonb_array_elements_text(), blob lengths with octet_length(),
 * and LIKE is the column COLLATE "C" ~ the parameter, which holds wql_like_to_regex() of the
 * pattern (string columns are COLLATE nocase there, a nondeterministic case-insensitive ICU
 * collation, which refuses LIKE and regular expressions). */
typedef enum WqlDialect {
        WQL_DIALECT_SQLITE,
        WQL_DIALECT_POSTGRESQL,
        _WQL_DIALECT_MAX,
} WqlDialect;

/* wql_compile_sql() (page NULL) or wql_compile_sql_page() in the given dialect. */
int wql_compile_sql_dialect(const WqlQuery *q, const WqlPage *page, WqlDialect dialect, WqlSql *ret, SmsError *e);

/* WQL LIKE, case-insensitive (ASCII and Latin letters compare without case; other code points
 * exactly): % any run, _ one character, [abc] [a-z] [^abc] one character of a set; [%] matches
 * a literal %. Operates on UTF-8 code points. The store registers it as the SQL function
 * wql_like(pattern, text). */
bool wql_like_match(const char *pattern, const char *text);

/* The same, with the pattern compiled once (the store compiles it once per statement). Compiling
 * is linear in the pattern's length; matching takes at most
 * (code points of text + 1) × (bytes of pattern + 2) steps, a step being one element or set
 * range compared, and reports how many it took in *ret_steps (may be NULL). */
typedef struct WqlLike WqlLike;
/* The pattern as an anchored POSIX advanced regular expression (PostgreSQL's ~) that matches
 * exactly what wql_like_match() matches, when applied to the text COLLATE "C"
 * (wql-like-regex.c). -E2BIG when it would be longer than a megabyte, -ENOMEM. */
int wql_like_to_regex(const char *pattern, char **ret);
int wql_like_compile(const char *pattern, WqlLike **ret);
bool wql_like_exec(const WqlLike *l, const char *text, uint64_t *ret_steps);
WqlLike *wql_like_free(WqlLike *l);
static inline void wql_like_freep(WqlLike **l) {
        wql_like_free(*l);
}

/* A row of a query's result: the instance's concrete class and key, and one value per
 * q->columns entry. */
typedef struct WqlRow {
        const SmsClass *class;
        char *key;
        CimValue *values;
} WqlRow;
void wql_rows_free(WqlRow *rows, size_t n, size_t n_columns);
