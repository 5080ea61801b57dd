/* SPDX-License-Identifier: MIT */

/* WQL end to end: wql_parse() trees, wql_check() against the real classes, wql_like_match(),
 * and wql_compile_sql() both as text and run by SQLite on a table shaped like the package
 * schema, next to a reference evaluator of the same conditions. */

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "smsprov/class.h"
#include "smsprov/macro.h"
#include "smsprov/wql.h"
#include "test-db.h"

/* --- helpers ---------------------------------------------------------------------------------- */

static WqlQuery sentinel_query;

static WqlQuery *parse_ok(const char *text) {
        SmsError e = SMS_ERROR_NULL;
        WqlQuery *q = NULL;
        int r = wql_parse(text, &q, &e);

        if (r < 0)
                fail_msg("wql_parse(\"%.200s\") failed: %s", text, e.message);
        assert_non_null(q);
        assert_false(sms_error_is_set(&e));
        return q;
}

/* Fails with the code, leaves *ret alone and, when given, says `what` in the message. */
static void parse_fail(const char *text, const char *what) {
        SmsError e = SMS_ERROR_NULL;
        WqlQuery *q = &sentinel_query;
        int r = wql_parse(text, &q, &e);

        if (r >= 0)
                fail_msg("wql_parse(\"%.200s\") succeeded", text);
        assert_int_equal(r, sms_error_code_to_errno(SMS_ERROR_INVALID_QUERY));
        assert_int_equal(e.code, SMS_ERROR_INVALID_QUERY);
        assert_ptr_equal(q, &sentinel_query);
        assert_non_null(e.message);
        if (what && !strstr(e.message, what))
                fail_msg("wql_parse(\"%.200s\"): \"%s\" does not say \"%s\"", text, e.message, what);
        sms_error_clear(&e);
}

static WqlQuery *check_ok(const char *text) {
        SmsError e = SMS_ERROR_NULL;
        WqlQuery *q = parse_ok(text);

        if (wql_check(q, &e) < 0)
                fail_msg("wql_check(\"%.200s\") failed: %s", text, e.message);
        assert_non_null(q->class);
        return q;
}

static void check_fail(const char *text, SmsErrorCode code, const char *what) {
        _cleanup_(wql_query_freep) WqlQuery *q = parse_ok(text);
        SmsError e = SMS_ERROR_NULL;
        int r = wql_check(q, &e);

        if (r >= 0)
                fail_msg("wql_check(\"%.200s\") succeeded", text);
        assert_int_equal(e.code, code);
        assert_int_equal(r, sms_error_code_to_errno(code));
        if (what && !strstr(e.message, what))
                fail_msg("wql_check(\"%.200s\"): \"%s\" does not say \"%s\"", text, e.message, what);
        sms_error_clear(&e);
}

static void operand_render(FILE *f, const WqlOperand *o) {
        if (o->is_property) {
                fputs(o->name, f);
                return;
        }
        switch (o->literal_kind) {
        case WQL_LITERAL_STRING:
                fprintf(f, "'%s'", o->string);
                break;
        case WQL_LITERAL_INTEGER:
                fprintf(f, "%" PRIi64, o->integer);
                break;
        case WQL_LITERAL_BOOLEAN:
                fputs(o->boolean ? "TRUE" : "FALSE", f);
                break;
        case WQL_LITERAL_NULL:
                fputs("NULL", f);
                break;
        }
}

static void node_render(FILE *f, const WqlNode *n) {
        static const char *const ops[] = { "=", "<>", "<", "<=", ">", ">=" };

        switch (n->kind) {
        case WQL_NODE_AND:
        case WQL_NODE_OR:
                fprintf(f, "(%s ", n->kind == WQL_NODE_AND ? "AND" : "OR");
                node_render(f, n->left);
                fputc(' ', f);
                node_render(f, n->right);
                fputc(')', f);
                break;
        case WQL_NODE_NOT:
                fputs("(NOT ", f);
                node_render(f, n->left);
                fputc(')', f);
                break;
        case WQL_NODE_COMPARE:
                operand_render(f, &n->lhs);
                fprintf(f, " %s ", ops[n->op]);
                operand_render(f, &n->rhs);
                break;
        case WQL_NODE_LIKE:
                operand_render(f, &n->lhs);
                fputs(n->negated ? " NOT LIKE " : " LIKE ", f);
                operand_render(f, &n->rhs);
                break;
        case WQL_NODE_IS_NULL:
                operand_render(f, &n->lhs);
                fputs(n->negated ? " IS NOT NULL" : " IS NULL", f);
                break;
        case WQL_NODE_IN:
                operand_render(f, &n->lhs);
                fputs(n->negated ? " NOT IN (" : " IN (", f);
                for (size_t i = 0; i < n->n_list; i++) {
                        if (i > 0)
                                fputs(", ", f);
                        operand_render(f, &n->list[i]);
                }
                fputc(')', f);
                break;
        }
}

/* The WHERE tree of a query as an S-expression. */
static void assert_where(const char *text, const char *expected) {
        _cleanup_(wql_query_freep) WqlQuery *q = parse_ok(text);
        _cleanup_free_ char *s = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);

        assert_non_null(f);
        assert_non_null(q->where);
        node_render(f, q->where);
        assert_int_equal(fclose(f), 0);
        if (!streq(s, expected))
                fail_msg("%s\n  tree:     %s\n  expected: %s", text, s, expected);
}

static unsigned tree_height(const WqlNode *n) {
        unsigned l, r;

        if (!n || (n->kind != WQL_NODE_AND && n->kind != WQL_NODE_OR && n->kind != WQL_NODE_NOT))
                return 0;
        l = tree_height(n->left);
        r = tree_height(n->right);
        return 1 + (l > r ? l : r);
}

/* A string of n copies of unit between head and tail. */
static char *repeat(const char *head, const char *unit, size_t n, const char *tail) {
        size_t lh = strlen(head), lu = strlen(unit), lt = strlen(tail);
        char *s = malloc(lh + lu * n + lt + 1), *p = s;

        assert_non_null(s);
        p = mempcpy(p, head, lh);
        for (size_t i = 0; i < n; i++)
                p = mempcpy(p, unit, lu);
        p = mempcpy(p, tail, lt);
        *p = 0;
        return s;
}

static int setup_model(void **state) {
        return sms_model_init() < 0 ? -1 : 0;
}

/* --- wql_parse --------------------------------------------------------------------------------- */

static void test_parse_select(void **state) {
        WqlQuery *q;

        q = parse_ok("SELECT * FROM SMS_BootImagePackage");
        assert_true(q->select_all);
        assert_null(q->select);
        assert_string_equal(q->class_name, "SMS_BootImagePackage");
        assert_null(q->where);
        assert_int_equal(q->n_order, 0);
        assert_null(q->class);
        wql_query_free(q);

        q = parse_ok("select Name, PackageID ,\tDescription\nfrom sms_bootimagepackage");
        assert_false(q->select_all);
        assert_int_equal(strv_length(q->select), 3);
        assert_string_equal(q->select[0], "Name");
        assert_string_equal(q->select[1], "PackageID");
        assert_string_equal(q->select[2], "Description");
        assert_string_equal(q->class_name, "sms_bootimagepackage");
        wql_query_free(q);

        q = parse_ok("SeLeCt _x1 FrOm C ORDER BY a, b DESC, c asc, d Desc");
        assert_string_equal(q->select[0], "_x1");
        assert_int_equal(q->n_order, 4);
        assert_string_equal(q->order[0].name, "a");
        assert_false(q->order[0].descending);
        assert_true(q->order[1].descending);
        assert_false(q->order[2].descending);
        assert_true(q->order[3].descending);
        for (size_t i = 0; i < q->n_order; i++)
                assert_int_equal(q->order[i].index, -1);
        wql_query_free(q);

        q = parse_ok("  SELECT * FROM C WHERE a=1 ORDER BY a  \r\n");
        assert_non_null(q->where);
        assert_int_equal(q->n_order, 1);
        wql_query_free(q);

        assert_null(wql_query_free(NULL));
}

static void test_parse_operators(void **state) {
        assert_where("SELECT * FROM C WHERE a=1", "a = 1");
        assert_where("SELECT * FROM C WHERE a <> 1", "a <> 1");
        assert_where("SELECT * FROM C WHERE a!=1", "a <> 1");
        assert_where("SELECT * FROM C WHERE a<1", "a < 1");
        assert_where("SELECT * FROM C WHERE a<=1", "a <= 1");
        assert_where("SELECT * FROM C WHERE a>1", "a > 1");
        assert_where("SELECT * FROM C WHERE a>=-1", "a >= -1");
        assert_where("SELECT * FROM C WHERE a = b", "a = b");
        /* the property goes to the left, the operator mirrored */
        assert_where("SELECT * FROM C WHERE 1 < a", "a > 1");
        assert_where("SELECT * FROM C WHERE 1 <= a", "a >= 1");
        assert_where("SELECT * FROM C WHERE 'x' >= a", "a <= 'x'");
        assert_where("SELECT * FROM C WHERE 'x' = a", "a = 'x'");
        assert_where("SELECT * FROM C WHERE TRUE <> a", "a <> TRUE");
        assert_where("SELECT * FROM C WHERE a = true AND b = False", "(AND a = TRUE b = FALSE)");
}

static void test_parse_literals(void **state) {
        WqlQuery *q;

        assert_where("SELECT * FROM C WHERE a = 0", "a = 0");
        assert_where("SELECT * FROM C WHERE a = 0x1F", "a = 31");
        assert_where("SELECT * FROM C WHERE a = 0XfF", "a = 255");
        assert_where("SELECT * FROM C WHERE a = 9223372036854775807", "a = 9223372036854775807");
        assert_where("SELECT * FROM C WHERE a = -9223372036854775808", "a = -9223372036854775808");
        assert_where("SELECT * FROM C WHERE a = 0x7FFFFFFFFFFFFFFF", "a = 9223372036854775807");
        assert_where("SELECT * FROM C WHERE a = 007", "a = 7");

        /* quoting and escaping */
        assert_where("SELECT * FROM C WHERE a = ''", "a = ''");
        assert_where("SELECT * FROM C WHERE a = \"\"", "a = ''");
        assert_where("SELECT * FROM C WHERE a = 'it''s'", "a = 'it's'");
        assert_where("SELECT * FROM C WHERE a = 'it\\'s'", "a = 'it's'");
        assert_where("SELECT * FROM C WHERE a = '\\\\\\\\server\\\\share'", "a = '\\\\server\\share'");
        assert_where("SELECT * FROM C WHERE a = 'C:\\\\'", "a = 'C:\\'");
        assert_where("SELECT * FROM C WHERE a = '\\x\\%'", "a = 'x%'");
        assert_where("SELECT * FROM C WHERE a = \"say \"\"hi\"\"\"", "a = 'say \"hi\"'");
        assert_where("SELECT * FROM C WHERE a = \"say \\\"hi\\\"\"", "a = 'say \"hi\"'");
        assert_where("SELECT * FROM C WHERE a = \"it's\"", "a = 'it's'");
        assert_where("SELECT * FROM C WHERE a = 'say \"hi\"'", "a = 'say \"hi\"'");
        assert_where("SELECT * FROM C WHERE a = ''''", "a = '''");
        assert_where("SELECT * FROM C WHERE a = 'x' AND b = 'y'", "(AND a = 'x' b = 'y')");
        /* anything goes inside strings, keywords and control characters too */
        assert_where("SELECT * FROM C WHERE a = 'SELECT * FROM x WHERE'", "a = 'SELECT * FROM x WHERE'");
        assert_where("SELECT * FROM C WHERE a = 'tab\there'", "a = 'tab\there'");
        assert_where("SELECT * FROM C WHERE a = 'Grüße'", "a = 'Grüße'");

        q = parse_ok("SELECT * FROM C WHERE a = 'x' AND b = 5 AND c = TRUE");
        assert_int_equal(q->where->kind, WQL_NODE_AND);
        assert_false(q->where->left->lhs.is_property && q->where->left->rhs.is_property);
        assert_int_equal(q->where->left->left->rhs.literal_kind, WQL_LITERAL_STRING);
        assert_int_equal(q->where->left->right->rhs.literal_kind, WQL_LITERAL_INTEGER);
        assert_int_equal(q->where->left->right->rhs.integer, 5);
        assert_int_equal(q->where->right->rhs.literal_kind, WQL_LITERAL_BOOLEAN);
        assert_true(q->where->right->rhs.boolean);
        assert_true(q->where->right->lhs.is_property);
        assert_int_equal(q->where->right->lhs.index, -1);
        wql_query_free(q);
}

static void test_parse_precedence(void **state) {
        assert_where("SELECT * FROM C WHERE a = 1 OR b = 2 AND c = 3", "(OR a = 1 (AND b = 2 c = 3))");
        assert_where("SELECT * FROM C WHERE a = 1 AND b = 2 OR c = 3", "(OR (AND a = 1 b = 2) c = 3)");
        assert_where("SELECT * FROM C WHERE (a = 1 OR b = 2) AND c = 3", "(AND (OR a = 1 b = 2) c = 3)");
        assert_where("SELECT * FROM C WHERE NOT a = 1 AND b = 2", "(AND (NOT a = 1) b = 2)");
        assert_where("SELECT * FROM C WHERE NOT (a = 1 AND b = 2)", "(NOT (AND a = 1 b = 2))");
        assert_where("SELECT * FROM C WHERE NOT a = 1 OR NOT b = 2 AND c = 3",
                     "(OR (NOT a = 1) (AND (NOT b = 2) c = 3))");
        assert_where("SELECT * FROM C WHERE NOT NOT a = 1", "(NOT (NOT a = 1))");
        assert_where("SELECT * FROM C WHERE a = 1 AND b = 2 AND c = 3", "(AND (AND a = 1 b = 2) c = 3)");
        assert_where("SELECT * FROM C WHERE a = 1 OR b = 2 OR c = 3 OR d = 4",
                     "(OR (OR a = 1 b = 2) (OR c = 3 d = 4))");
        assert_where("SELECT * FROM C WHERE ((a = 1))", "a = 1");
        assert_where("SELECT * FROM C WHERE a = 1 AND (b = 2 OR (c = 3 AND NOT (d = 4 OR e = 5)))",
                     "(AND a = 1 (OR b = 2 (AND c = 3 (NOT (OR d = 4 e = 5)))))");
        assert_where("SELECT * FROM C WHERE NOT a IS NULL AND b NOT LIKE 'x' OR c NOT IN (1)",
                     "(OR (AND (NOT a IS NULL) b NOT LIKE 'x') c NOT IN (1))");
        assert_where("select * from C where a=1 and b=2 or c=3", "(OR (AND a = 1 b = 2) c = 3)");
}

static void test_parse_null(void **state) {
        WqlQuery *q;

        assert_where("SELECT * FROM C WHERE a IS NULL", "a IS NULL");
        assert_where("SELECT * FROM C WHERE a is not null", "a IS NOT NULL");
        assert_where("SELECT * FROM C WHERE a = NULL", "a IS NULL");
        assert_where("SELECT * FROM C WHERE a <> NULL", "a IS NOT NULL");
        assert_where("SELECT * FROM C WHERE a != NULL", "a IS NOT NULL");
        assert_where("SELECT * FROM C WHERE NULL = a", "a IS NULL");
        assert_where("SELECT * FROM C WHERE NULL <> a", "a IS NOT NULL");

        q = parse_ok("SELECT * FROM C WHERE a = NULL");
        assert_int_equal(q->where->kind, WQL_NODE_IS_NULL);
        assert_false(q->where->negated);
        assert_string_equal(q->where->lhs.name, "a");
        wql_query_free(q);
}

static void test_parse_like_in(void **state) {
        WqlQuery *q;

        assert_where("SELECT * FROM C WHERE a LIKE 'x%'", "a LIKE 'x%'");
        assert_where("SELECT * FROM C WHERE a like \"x_[a-z]\"", "a LIKE 'x_[a-z]'");
        assert_where("SELECT * FROM C WHERE a NOT LIKE '%'", "a NOT LIKE '%'");
        assert_where("SELECT * FROM C WHERE a IN (1, 'b', TRUE, -2)", "a IN (1, 'b', TRUE, -2)");
        assert_where("SELECT * FROM C WHERE a NOT IN (1)", "a NOT IN (1)");
        assert_where("SELECT * FROM C WHERE a IS IN (27,28)", "a IN (27, 28)");
        assert_where("SELECT * FROM C WHERE a is not in ('x')", "a NOT IN ('x')");
        assert_where("SELECT * FROM SMS_OSDeploymentKitWinPEOptionalComponent WHERE LanguageID=1033 AND "
                     "UniqueID is in (27,28,29)",
                     "(AND LanguageID = 1033 UniqueID IN (27, 28, 29))");

        q = parse_ok("SELECT * FROM C WHERE a NOT IN (1, 2, 3)");
        assert_int_equal(q->where->kind, WQL_NODE_IN);
        assert_true(q->where->negated);
        assert_int_equal(q->where->n_list, 3);
        assert_int_equal(q->where->list[2].integer, 3);
        wql_query_free(q);

        q = parse_ok("SELECT * FROM C WHERE a NOT LIKE 'p'");
        assert_int_equal(q->where->kind, WQL_NODE_LIKE);
        assert_true(q->where->negated);
        assert_string_equal(q->where->rhs.string, "p");
        wql_query_free(q);
}

static void test_parse_errors(void **state) {
        static const struct {
                const char *text;
                const char *what;
        } cases[] = {
                { "", "expected SELECT at offset 0" },
                { "   ", "expected SELECT at offset 3" },
                { "SELECT", "expected property name or * at offset 6" },
                { "SELECT FROM C", "expected property name or * at offset 7" },
                { "SELECT * C", "expected FROM at offset 9" },
                { "SELECT * WHERE", "expected FROM at offset 9" },
                { "SELECT *", "expected FROM at offset 8" },
                { "SELECT * FROM", "expected class name at offset 13" },
                { "SELECT * FROM 5", "expected class name" },
                { "SELECT * FROM Where", "expected class name" },
                { "SELECT from FROM C", "expected property name or *" },
                { "SELECT *, a FROM C", "expected FROM" },
                { "SELECT a, * FROM C", "expected property name or *" },
                { "SELECT a, FROM C", "expected property name or *" },
                { "SELECT a b FROM C", "expected FROM at offset 9" },
                { "SELECT * FROM C D", "expected end of query at offset 16" },
                { "SELECT * FROM C WHERE", "expected property name or literal at offset 21" },
                { "SELECT * FROM C WHERE a", "expected comparison operator at offset 23" },
                { "SELECT * FROM C WHERE a =", "expected property name or literal at offset 25" },
                { "SELECT * FROM C WHERE a = 1 b", "expected end of query at offset 28" },
                { "SELECT * FROM C WHERE a = 1 AND", "expected property name or literal" },
                { "SELECT * FROM C WHERE a = 1 OR OR b = 1", "expected property name or literal" },
                { "SELECT * FROM C WHERE a = 1 ORDER a", "expected BY" },
                { "SELECT * FROM C ORDER BY", "expected property name at offset 24" },
                { "SELECT * FROM C ORDER BY a,", "expected property name" },
                { "SELECT * FROM C ORDER BY a DESC ASC", "expected end of query" },
                { "SELECT * FROM C WHERE (a = 1", "expected ')' at offset 28" },
                { "SELECT * FROM C WHERE a = 1)", "expected end of query at offset 27" },
                { "SELECT * FROM C WHERE ()", "expected property name or literal" },
                { "SELECT * FROM C WHERE a = 'abc", "unterminated string at offset 26" },
                { "SELECT * FROM C WHERE a = \"abc'", "unterminated string at offset 26" },
                { "SELECT * FROM C WHERE a = 'abc\\'", "unterminated string" },
                { "SELECT * FROM C WHERE a = 'abc\\", "unterminated string" },
                { "SELECT * FROM C WHERE a = 'abc''", "unterminated string" },
                { "SELECT * FROM C WHERE 1 = 2", "comparison without a property at offset 22" },
                { "SELECT * FROM C WHERE 'a' = 'a'", "comparison without a property" },
                { "SELECT * FROM C WHERE NULL = NULL", "comparison without a property" },
                { "SELECT * FROM C WHERE a < NULL", "NULL can only be compared with = or <> at offset 24" },
                { "SELECT * FROM C WHERE NULL >= a", "NULL can only be compared with = or <>" },
                { "SELECT * FROM C WHERE 'a' LIKE 'b'", "expected property name before LIKE" },
                { "SELECT * FROM C WHERE a LIKE 5", "expected string pattern after LIKE" },
                { "SELECT * FROM C WHERE a LIKE b", "expected string pattern after LIKE" },
                { "SELECT * FROM C WHERE a LIKE", "expected string pattern after LIKE" },
                { "SELECT * FROM C WHERE 1 IS NULL", "expected property name before IS" },
                { "SELECT * FROM C WHERE a IS 5", "expected NULL or IN" },
                { "SELECT * FROM C WHERE a IS NOT", "expected NULL or IN" },
                { "SELECT * FROM C WHERE a NOT = 1", "expected LIKE or IN after NOT" },
                { "SELECT * FROM C WHERE a IN ()", "expected literal in IN list" },
                { "SELECT * FROM C WHERE a IN (NULL)", "NULL is not allowed in an IN list" },
                { "SELECT * FROM C WHERE a IN (b)", "expected literal in IN list" },
                { "SELECT * FROM C WHERE a IN 1", "expected '(' after IN" },
                { "SELECT * FROM C WHERE a IN (1,)", "expected literal in IN list" },
                { "SELECT * FROM C WHERE a IN (1 2)", "expected ',' or ')' in IN list" },
                { "SELECT * FROM C WHERE a IN (1", "expected ',' or ')' in IN list" },
                { "SELECT * FROM C WHERE 1 IN (1)", "expected property name before IN" },
                { "SELECT * FROM C WHERE a = 1.5", "invalid number at offset 26" },
                { "SELECT * FROM C WHERE a = 12abc", "invalid number" },
                { "SELECT * FROM C WHERE a = 0x", "invalid number" },
                { "SELECT * FROM C WHERE a = 0xfg", "invalid number" },
                { "SELECT * FROM C WHERE a = 9223372036854775808", "integer out of range at offset 26" },
                { "SELECT * FROM C WHERE a = -9223372036854775809", "integer out of range" },
                { "SELECT * FROM C WHERE a = 0x8000000000000000", "integer out of range" },
                { "SELECT * FROM C WHERE a = - 1", "unexpected character '-' at offset 26" },
                { "SELECT * FROM C WHERE a == 1", "expected property name or literal at offset 25" },
                { "SELECT * FROM C WHERE a ! 1", "unexpected character '!' at offset 24" },
                { "SELECT * FROM C WHERE a = 1;", "unexpected character ';' at offset 27" },
                { "SELECT * FROM C WHERE a = 1 -- comment", "unexpected character '-'" },
                { "SELECT * FROM C WHERE a = @x", "unexpected character '@'" },
                { "SELECT * FROM C\x01", "unexpected control character 0x01 at offset 15" },
                { "SELECT * FROM C WHERE a = 1\x1b", "unexpected control character 0x1b" },
                { "SELECT * FROM C\x7f", "unexpected control character 0x7f" },
                { "SELECT * FROM Cé", "unexpected non-ASCII character at offset 15" },
                { "SELECT * FROM C WHERE a = TRUE IS NULL", "expected end of query" },
                { "SELECT * FROM C WHERE a.b = 1", "unexpected character '.'" },
                { "SELECT __PATH, * FROM C", "expected property name or *" },
                { "DELETE FROM C", "expected SELECT at offset 0" },
                { "SELECT * FROM C; DROP TABLE package", "unexpected character ';'" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                parse_fail(cases[i].text, cases[i].what);
}

static void test_parse_limits(void **state) {
        _cleanup_free_ char *deep_parens = NULL, *too_deep_parens = NULL, *deep_not = NULL,
                            *too_deep_not = NULL, *longest = NULL, *too_long = NULL, *in_max = NULL,
                            *in_too_long = NULL, *many_open = NULL, *nested_and = NULL;
        WqlQuery *q;
        char *s;

        /* nesting: 64 levels of parentheses or NOTs, not 65 */
        deep_parens = repeat("SELECT * FROM C WHERE ", "(", WQL_MAX_DEPTH, "a = 1");
        s = repeat(deep_parens, ")", WQL_MAX_DEPTH, "");
        free(deep_parens);
        deep_parens = s;
        wql_query_free(parse_ok(deep_parens));

        too_deep_parens = repeat("SELECT * FROM C WHERE ", "(", WQL_MAX_DEPTH + 1, "a = 1");
        s = repeat(too_deep_parens, ")", WQL_MAX_DEPTH + 1, "");
        free(too_deep_parens);
        too_deep_parens = s;
        parse_fail(too_deep_parens, "nested deeper than 64 at offset 86");

        deep_not = repeat("SELECT * FROM C WHERE ", "NOT ", WQL_MAX_DEPTH, "a = 1");
        q = parse_ok(deep_not);
        assert_int_equal(tree_height(q->where), WQL_MAX_DEPTH);
        wql_query_free(q);
        too_deep_not = repeat("SELECT * FROM C WHERE ", "NOT ", WQL_MAX_DEPTH + 1, "a = 1");
        parse_fail(too_deep_not, "nested deeper than 64");

        /* an attempt to exhaust the stack fails early and cheaply */
        many_open = repeat("SELECT * FROM C WHERE ", "(", WQL_MAX_QUERY_LENGTH - 30, "");
        parse_fail(many_open, "nested deeper than 64");

        /* 60 levels of parentheses around a chain of 64 ANDs: the balanced chain adds 6 */
        nested_and = repeat("SELECT * FROM C WHERE ", "(", 60, "a = 1");
        s = repeat(nested_and, " AND a = 1", 63, "");
        free(nested_and);
        nested_and = repeat(s, ")", 60, "");
        free(s);
        q = parse_ok(nested_and);
        assert_int_equal(tree_height(q->where), 6);
        wql_query_free(q);

        /* long chains are no problem: the tree stays balanced */
        longest = repeat("SELECT * FROM C WHERE a = 1", " OR a = 1", 5000, "");
        q = parse_ok(longest);
        assert_int_equal(tree_height(q->where), 13);
        wql_query_free(q);
        free(longest);

        /* length: WQL_MAX_QUERY_LENGTH bytes, not one more */
        longest = repeat("SELECT * FROM C", " ", WQL_MAX_QUERY_LENGTH - strlen("SELECT * FROM C"), "");
        assert_int_equal(strlen(longest), WQL_MAX_QUERY_LENGTH);
        wql_query_free(parse_ok(longest));
        too_long = repeat("SELECT * FROM C", " ", WQL_MAX_QUERY_LENGTH + 1 - strlen("SELECT * FROM C"), "");
        parse_fail(too_long, "query longer than 65536 bytes");

        /* IN lists: 1024 elements, not 1025 */
        in_max = repeat("SELECT * FROM C WHERE a IN (0", ",1", WQL_MAX_IN_LIST - 1, ")");
        q = parse_ok(in_max);
        assert_int_equal(q->where->n_list, WQL_MAX_IN_LIST);
        wql_query_free(q);
        in_too_long = repeat("SELECT * FROM C WHERE a IN (0", ",1", WQL_MAX_IN_LIST, ")");
        parse_fail(in_too_long, "IN list longer than 1024 elements");
}

/* --- wql_like_match ---------------------------------------------------------------------------- */

static void test_like(void **state) {
        static const struct {
                const char *pattern, *text;
                bool match;
        } cases[] = {
                { "", "", true },
                { "", "a", false },
                { "%", "", true },
                { "%", "anything", true },
                { "%%", "", true },
                { "abc", "abc", true },
                { "abc", "abcd", false },
                { "abc", "ab", false },
                { "a%", "abc", true },
                { "a%", "bac", false },
                { "%c", "abc", true },
                { "%b%", "abc", true },
                { "%b%", "ac", false },
                { "a%b%c", "aXXbYYc", true },
                { "a%b%c", "aXXcYYb", false },
                { "%ab%ab", "xabyabab", true },
                { "_", "a", true },
                { "_", "", false },
                { "_", "ab", false },
                { "a_c", "abc", true },
                { "a_c", "ac", false },
                { "%_%", "x", true },
                { "___%", "ab", false },
                /* case */
                { "WINPE%", "WinPE x64", true },
                { "winpe x64", "WINPE X64", true },
                { "%X64", "boot.x64", true },
                /* sets and ranges */
                { "[abc]", "b", true },
                { "[abc]", "d", false },
                { "[abc]", "B", true },
                { "[a-c]x", "bx", true },
                { "[a-c]x", "dx", false },
                { "[A-C]", "b", true },
                { "[a-c]", "B", true },
                { "[0-9][0-9]", "42", true },
                { "[0-9]", "a", false },
                { "[^abc]", "d", true },
                { "[^abc]", "a", false },
                { "[^abc]", "A", false },
                { "[^a-c]", "z", true },
                { "[^0-9]%", "x1", true },
                { "[a=f]", "c", true }, /* WMI's documented range syntax */
                { "[a=f]", "g", false },
                { "[=]", "=", true },
                { "[-a]", "-", true },
                { "[a-]", "-", true },
                { "[%]", "%", true },
                { "[%]", "x", false },
                { "100[%]", "100%", true },
                { "100[%]", "1000", false },
                { "[_]", "_", true },
                { "[_]", "x", false },
                { "[[]", "[", true },
                { "[]]", "]", true },
                { "[^]]", "]", false },
                { "[^]]", "x", true },
                { "%[[]Ent]", "Windows 11 [Ent]", true },
                /* '[[]' is how scripts escape a literal '[' */
                { "[[]x86]%", "[x86] WinPE", true },
                { "[[]x86]%", "x86] WinPE", false },
                { "%[[]%", "no bracket", false },
                { "[[]]", "[]", true },
                { "[[][[]", "[[", true },
                { "%[[]\"SMS_SITE=LAB\"]%", "[\"Display=\\\\dp1\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\dp1\\", true },
                /* an unmatched '[' is a literal */
                { "[", "[", true },
                { "a[b", "a[b", true },
                { "a[b", "ab", false },
                { "[abc", "[abc", true },
                { "%[", "x[", true },
                /* UTF-8 */
                { "_", "é", true },
                { "__", "é", false },
                { "Gr__e", "Grüße", true },
                { "GRÜSSE", "grüsse", true },
                { "ÉTÉ", "été", true },
                { "été", "ÉTÉ", true },
                { "[à-ÿ]", "é", true },
                { "[À-Þ]", "é", true },
                { "[^é]", "É", false },
                { "Ÿ", "ÿ", true },
                { "Ł_DŹ", "łódź", true },
                { "İ", "i", true },
                { "%€", "10 €", true },
                { "_€", "€€", true },
                { "日本%", "日本語", true },
                { "日_語", "日本語", true },
                { "ß", "SS", false },
                { "Ω", "ω", false }, /* only Latin letters fold */
                { "д", "Д", false },
                { "×", "÷", false },
                /* invalid UTF-8 is compared byte by byte */
                { "\xff", "\xff", true },
                { "_", "\xff", true },
                { "\xc3", "\xc3\xa9", false },
                { "%\xc3", "x\xc3", true },
                { "a\xe2\x82", "a\xe2\x82", true },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                if (wql_like_match(cases[i].pattern, cases[i].text) != cases[i].match)
                        fail_msg("'%s' LIKE '%s' should be %s", cases[i].text, cases[i].pattern,
                                 cases[i].match ? "true" : "false");

        assert_false(wql_like_match(NULL, "a"));
        assert_false(wql_like_match("a", NULL));
}

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_like_pathological(void **state) {
        _cleanup_free_ char *text = repeat("", "a", 100000, ""), *many = repeat("", "%", 10000, "b"),
                            *alternating = repeat("", "%a", 1000, "%b"),
                            *long_text = repeat("", "é", 20000, "");
        double start = now();

        /* a backtracking matcher takes exponential time on these */
        assert_false(wql_like_match("%%%%%%%%%%%%%%%%%%%%%%%%%%b", text));
        assert_false(wql_like_match("%a%a%a%a%a%a%a%a%a%a%a%a%b", text));
        assert_false(wql_like_match(many, text));
        assert_false(wql_like_match(alternating, text));
        assert_true(wql_like_match("%a%a%a%a%a%a%a%a%a%a%a%a", text));
        assert_false(wql_like_match("%[^a]%", text));
        assert_true(wql_like_match("%_%_%_%[é]", long_text));
        assert_false(wql_like_match("%[a-z]%", long_text));

        if (now() - start > 5.0)
                fail_msg("LIKE took %.1f s", now() - start);
}

/* The matcher's own count of steps, against its bound: (code points of text + 1) × (bytes of
 * pattern + 2). An unclosed '[' used to make every character rescan the rest of the pattern. */
static void test_like_steps_bounded(void **state) {
        _cleanup_free_ char *text300 = repeat("", "a", 300, ""), *text20k = repeat("", "a", 20000, ""),
                            *literal_text = repeat("[", "a", 19999, ""), *unclosed = repeat("[", "a", 19999, ""),
                            *star_unclosed = repeat("%[", "a", 19998, ""), *brackets = repeat("", "[", 20000, ""),
                            *star_brackets = repeat("%", "[a", 9999, "b"), *big_set = repeat("%[", "b", 19997, "]"),
                            *negated_set = repeat("%[^", "a", 19996, "]"), *stars = repeat("", "%a", 10000, ""),
                            *stars_b = repeat("", "%a", 9999, "%b");
        const struct {
                const char *pattern, *text;
                size_t text_cps;
                bool match;
        } cases[] = {
                { unclosed, text300, 300, false },
                { unclosed, text20k, 20000, false },
                { unclosed, literal_text, 20000, true },
                { star_unclosed, text20k, 20000, false },
                { star_unclosed, literal_text, 20000, false },
                { brackets, text20k, 20000, false },
                { star_brackets, text20k, 20000, false },
                { big_set, text300, 300, false },
                { negated_set, text300, 300, false },
                { stars, text20k, 20000, true },
                { stars_b, text20k, 20000, false },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(wql_like_freep) WqlLike *l = NULL;
                uint64_t steps = 0, bound;
                bool matched;

                assert_int_equal(wql_like_compile(cases[i].pattern, &l), 0);
                matched = wql_like_exec(l, cases[i].text, &steps);
                bound = (uint64_t) (cases[i].text_cps + 1) * (strlen(cases[i].pattern) + 2);
                if (matched != cases[i].match)
                        fail_msg("case %zu: expected %s, got %s", i, cases[i].match ? "a match" : "no match",
                                 matched ? "a match" : "no match");
                if (steps == 0 || steps > bound)
                        fail_msg("case %zu: %" PRIu64 " steps, expected 1 to %" PRIu64, i, steps, bound);
                /* the compiled form answers like the one-shot matcher */
                assert_int_equal(wql_like_match(cases[i].pattern, cases[i].text), matched);
        }
}

/* One compiled pattern serves many texts, as it does for every row of a statement. */
static void test_like_compiled_reused(void **state) {
        _cleanup_(wql_like_freep) WqlLike *l = NULL;

        assert_int_equal(wql_like_compile("lab[0-9]%[^x]", &l), 0);
        assert_true(wql_like_exec(l, "LAB00001", NULL));
        assert_false(wql_like_exec(l, "LAB0000x", NULL));
        assert_false(wql_like_exec(l, "LABx0001", NULL));
        assert_true(wql_like_exec(l, "lab9y", NULL));
}

static void test_check_like_pattern_cap(void **state) {
        _cleanup_free_ char *at_cap = repeat("SELECT * FROM SMS_BootImagePackage WHERE Name LIKE '", "a", WQL_MAX_LIKE_PATTERN, "'"),
                            *over = repeat("SELECT * FROM SMS_BootImagePackage WHERE Name LIKE '", "a", WQL_MAX_LIKE_PATTERN + 1, "'");
        WqlQuery *q = check_ok(at_cap);

        wql_query_free(q);
        check_fail(over, SMS_ERROR_LIMITS_EXCEEDED, "WQL_MAX_LIKE_PATTERN");
}

/* --- wql_check --------------------------------------------------------------------------------- */

static const SmsProperty *column(const WqlQuery *q, size_t i) {
        assert_true(i < q->n_columns);
        return q->class->all[q->columns[i]];
}

static void test_check_class_and_columns(void **state) {
        const SmsClass *boot = sms_model_find_class("SMS_BootImagePackage");
        WqlQuery *q;

        assert_non_null(boot);

        q = check_ok("SELECT * FROM sms_bootimagepackage");
        assert_ptr_equal(q->class, boot);
        /* every non-lazy property, in class->all order */
        size_t n = 0;
        for (size_t i = 0; i < boot->n_all; i++)
                if (!sms_property_is_lazy(boot->all[i])) {
                        assert_true(n < q->n_columns);
                        assert_int_equal(q->columns[n], i);
                        n++;
                }
        assert_int_equal(q->n_columns, n);
        wql_query_free(q);

        /* select order, duplicates dropped, lazy ones accepted but not returned */
        q = check_ok("SELECT name, ImageProperty, PACKAGEID, Name, ReferencedDrivers, Description "
                     "FROM SMS_BootImagePackage");
        assert_int_equal(q->n_columns, 3);
        assert_string_equal(column(q, 0)->name, "Name");
        assert_string_equal(column(q, 1)->name, "PackageID");
        assert_string_equal(column(q, 2)->name, "Description");
        wql_query_free(q);

        q = check_ok("SELECT ImageProperty FROM SMS_BootImagePackage");
        assert_int_equal(q->n_columns, 0);
        wql_query_free(q);

        /* property indexes are filled in, whatever the spelling */
        q = check_ok("SELECT * FROM SMS_PackageBaseclass WHERE name = 'x' AND PACKAGESIZE > pkgflags "
                     "ORDER BY sourcedate DESC");
        assert_int_equal(q->where->left->lhs.index, sms_class_find_property(q->class, "Name"));
        assert_int_equal(q->where->right->lhs.index, sms_class_find_property(q->class, "PackageSize"));
        assert_int_equal(q->where->right->rhs.index, sms_class_find_property(q->class, "PkgFlags"));
        assert_int_equal(q->order[0].index, sms_class_find_property(q->class, "SourceDate"));
        wql_query_free(q);

        check_fail("SELECT * FROM SMS_NoSuchClass", SMS_ERROR_INVALID_CLASS, "SMS_NoSuchClass");
        check_fail("SELECT Name FROM SMS_Package", SMS_ERROR_INVALID_CLASS, NULL);
        check_fail("SELECT Nope FROM SMS_BootImagePackage", SMS_ERROR_INVALID_QUERY,
                   "no property Nope in class SMS_BootImagePackage");
        check_fail("SELECT * FROM SMS_BootImagePackage WHERE Nope = 1", SMS_ERROR_INVALID_QUERY,
                   "no property Nope in class SMS_BootImagePackage");
        check_fail("SELECT * FROM SMS_BootImagePackage WHERE Name = Nope", SMS_ERROR_INVALID_QUERY,
                   "no property Nope");
        check_fail("SELECT * FROM SMS_BootImagePackage ORDER BY Nope", SMS_ERROR_INVALID_QUERY, "no property Nope");
        check_fail("SELECT * FROM SMS_BootImagePackage WHERE Nope IN (1)", SMS_ERROR_INVALID_QUERY, "Nope");
        check_fail("SELECT * FROM SMS_BootImagePackage WHERE Nope IS NULL", SMS_ERROR_INVALID_QUERY, "Nope");
        /* a derived class's property is not the base class's */
        check_fail("SELECT * FROM SMS_PackageBaseclass WHERE ImagePath = 'x'", SMS_ERROR_INVALID_QUERY,
                   "no property ImagePath in class SMS_PackageBaseclass");
        check_fail("SELECT * FROM SMS_StatusMessage WHERE PackageID = 'x'", SMS_ERROR_INVALID_QUERY,
                   "no property PackageID in class SMS_StatusMessage");
}

/* The value the literal of the first condition was converted to. */
static WqlQuery *check_value(const char *where, CimValue *ret) {
        _cleanup_free_ char *text = NULL;
        WqlQuery *q;

        assert_true(asprintf(&text, "SELECT * FROM SMS_BootImagePackage WHERE %s", where) > 0);
        q = check_ok(text);
        *ret = q->where->kind == WQL_NODE_IN ? q->where->list[0].value : q->where->rhs.value;
        return q;
}

static void assert_value_uint(const char *where, CimType type, uint64_t u) {
        CimValue v;
        WqlQuery *q = check_value(where, &v);

        if (v.type != type || v.null || v.u != u)
                fail_msg("%s: got type %d null %d value %" PRIu64 ", want type %d value %" PRIu64, where, v.type,
                         v.null, v.u, type, u);
        wql_query_free(q);
}

static void assert_value_string(const char *where, const char *s) {
        CimValue v;
        WqlQuery *q = check_value(where, &v);

        assert_int_equal(v.type, CIM_STRING);
        assert_false(v.null);
        assert_string_equal(v.str, s);
        wql_query_free(q);
}

static void assert_value_bool(const char *where, bool b) {
        CimValue v;
        WqlQuery *q = check_value(where, &v);

        assert_int_equal(v.type, CIM_BOOLEAN);
        assert_false(v.null);
        assert_int_equal(v.b, b);
        wql_query_free(q);
}

static void check_where_fail(const char *class, const char *where, const char *what) {
        _cleanup_free_ char *text = NULL;

        assert_true(asprintf(&text, "SELECT * FROM %s WHERE %s", class, where) > 0);
        check_fail(text, SMS_ERROR_INVALID_QUERY, what);
}

static void test_check_conversions(void **state) {
        const char *B = "SMS_BootImagePackage";
        WqlQuery *q;
        CimValue v;

        /* String */
        assert_value_string("Name = 'WinPE'", "WinPE");
        assert_value_string("Name = 42", "42");
        assert_value_string("Name = -7", "-7");
        assert_value_string("Name IN ('a', 5)", "a");
        assert_value_string("Name LIKE 'x%'", "x%");
        assert_value_string("Name > ''", "");
        check_where_fail(B, "Name = TRUE", "a boolean cannot be compared with String property Name");

        /* Boolean */
        assert_value_bool("DefaultImage = TRUE", true);
        assert_value_bool("DefaultImage = false", false);
        assert_value_bool("DefaultImage = 1", true);
        assert_value_bool("DefaultImage = 0", false);
        assert_value_bool("DefaultImage = 'TRUE'", true);
        assert_value_bool("DefaultImage <> 'false'", false);
        assert_value_bool("DefaultImage > FALSE", false);
        assert_value_bool("DefaultImage IN (TRUE)", true);
        check_where_fail(B, "DefaultImage = 2", "an integer cannot be compared with Boolean property DefaultImage");
        check_where_fail(B, "DefaultImage = 'yes'", "Boolean property DefaultImage");
        check_where_fail(B, "DefaultImage LIKE 'true'", "LIKE needs a String property, DefaultImage is Boolean");

        /* integers */
        assert_value_uint("PackageSize = 5", CIM_UINT32, 5);
        assert_value_uint("PackageSize = '5'", CIM_UINT32, 5);
        assert_value_uint("PackageSize = '0x10'", CIM_UINT32, 16);
        assert_value_uint("PackageSize = 4294967295", CIM_UINT32, UINT32_MAX);
        assert_value_uint("PkgFlags IN (0x100, 2)", CIM_UINT32, 0x100);
        assert_value_uint("5 < PackageSize", CIM_UINT32, 5);
        check_where_fail(B, "PackageSize = -1", "-1 is out of range for UInt32 property PackageSize");
        check_where_fail(B, "PackageSize = 4294967296", "out of range");
        check_where_fail(B, "PackageSize = 'abc'", "string is not an integer for UInt32 property PackageSize");
        check_where_fail(B, "PackageSize = '5 '", "string is not an integer");
        check_where_fail(B, "PackageSize = ''", "string is not an integer");
        check_where_fail(B, "PackageSize = TRUE", "a boolean cannot be compared with UInt32 property PackageSize");
        check_where_fail(B, "PackageSize IN (1, 'x')", "string is not an integer");
        check_where_fail(B, "PackageSize LIKE '1%'", "LIKE needs a String property");

        q = check_ok("SELECT * FROM SMS_StatusMessage WHERE RecordID > -5 AND Severity = 0xC0000000");
        assert_int_equal(q->where->left->rhs.value.type, CIM_SINT64);
        assert_int_equal(q->where->left->rhs.value.i, -5);
        assert_int_equal(q->where->right->rhs.value.type, CIM_UINT32);
        assert_int_equal(q->where->right->rhs.value.u, 0xC0000000u);
        wql_query_free(q);
        q = check_ok("SELECT * FROM SMS_StatusMessage WHERE RecordID = '-9223372036854775808'");
        assert_int_equal(q->where->rhs.value.i, INT64_MIN);
        wql_query_free(q);

        /* DateTime: microseconds since the epoch, or a DMTF string */
        assert_value_uint("SourceDate = 0", CIM_DATETIME, 0);
        assert_value_uint("SourceDate > 1700000000000000", CIM_DATETIME, UINT64_C(1700000000000000));
        assert_value_uint("SourceDate > '1700000000000000'", CIM_DATETIME, UINT64_C(1700000000000000));
        assert_value_uint("SourceDate = '19700101000000.000000+000'", CIM_DATETIME, 0);
        assert_value_uint("SourceDate = '20231114221320.123456+000'", CIM_DATETIME, UINT64_C(1700000000123456));
        assert_value_uint("SourceDate = '20231114221320.000000+***'", CIM_DATETIME, UINT64_C(1700000000000000));
        /* 23:13:20 at UTC+1 is 22:13:20 UTC; at UTC-5 it is 04:13:20 the next day */
        assert_value_uint("SourceDate = '20231114231320.000000+060'", CIM_DATETIME, UINT64_C(1700000000000000));
        assert_value_uint("SourceDate = '20231114171320.000000-300'", CIM_DATETIME, UINT64_C(1700000000000000));
        assert_value_uint("SourceDate = '20240229000000.000000+000'", CIM_DATETIME, UINT64_C(1709164800000000));
        assert_value_uint("SourceDate = '19900101000000.000000+***'", CIM_DATETIME, UINT64_C(631152000000000));
        check_where_fail(B, "SourceDate = -1", "out of range for DateTime property SourceDate");
        check_where_fail(B, "SourceDate = '20230229000000.000000+000'", "DMTF");
        check_where_fail(B, "SourceDate = '20231314000000.000000+000'", "DMTF");
        check_where_fail(B, "SourceDate = '20231114240000.000000+000'", "DMTF");
        check_where_fail(B, "SourceDate = '20231114221320.000000+00'", "DMTF");
        check_where_fail(B, "SourceDate = '20231114221320.000000*000'", "DMTF");
        check_where_fail(B, "SourceDate = '2023111422132.0000000+000'", "DMTF");
        check_where_fail(B, "SourceDate = '19700101000000.000000+060'", "after 1970");
        check_where_fail(B, "SourceDate = 'yesterday'", "DMTF");
        check_where_fail(B, "SourceDate = TRUE", "a boolean cannot be compared with DateTime property SourceDate");

        /* String[] and UInt32[]: =, <>, IN and IS NULL, against one element */
        assert_value_string("SecuredScopeNames = 'Default'", "Default");
        assert_value_string("SecuredScopeNames <> 5", "5");
        assert_value_string("SecuredScopeNames IN ('a', 'b')", "a");
        assert_value_uint("OptionalComponents = 27", CIM_UINT32, 27);
        assert_value_uint("OptionalComponents != '27'", CIM_UINT32, 27);
        assert_value_uint("OptionalComponents IS IN (27, 28)", CIM_UINT32, 27);
        q = check_value("SecuredScopeNames IS NULL", &v);
        wql_query_free(q);
        check_where_fail(B, "SecuredScopeNames < 'x'", "operator < cannot be applied to String[] property");
        check_where_fail(B, "OptionalComponents >= 1", "operator >= cannot be applied to UInt32[] property");
        check_where_fail(B, "SecuredScopeNames LIKE 'x%'", "LIKE needs a String property, SecuredScopeNames is");
        check_where_fail(B, "OptionalComponents = 'x'", "string is not an integer");
        check_where_fail(B, "OptionalComponents = -1", "out of range");
        check_where_fail(B, "SecuredScopeNames = Name", "String[] property SecuredScopeNames cannot be compared");
        check_where_fail(B, "Name = SecuredScopeNames", "cannot be compared");

        /* other arrays: IS NULL only */
        wql_query_free(check_ok("SELECT * FROM SMS_BootImagePackage WHERE ExtendedData IS NULL AND "
                                "ReferencedDrivers IS NOT NULL AND RefreshSchedule = NULL AND Icon <> NULL"));
        check_where_fail(B, "ExtendedData = 1", "only IS [NOT] NULL can test UInt8[] property ExtendedData");
        check_where_fail(B, "ReferencedDrivers = 'x'", "only IS [NOT] NULL can test SMS_Driver_Details[]");
        check_where_fail(B, "RefreshSchedule IN ('x')", "only IS [NOT] NULL can test SMS_ScheduleToken[]");
        check_where_fail(B, "Icon LIKE 'x'", "LIKE needs a String property");

        /* property against property */
        wql_query_free(check_ok("SELECT * FROM SMS_BootImagePackage WHERE Name = Description AND "
                                "PackageSize < SourceVersion AND SourceDate >= LastRefreshTime AND "
                                "DefaultImage = ForcedDisconnectEnabled AND DefaultImage <> PackageSize"));
        check_where_fail(B, "Name = PackageSize", "String property Name cannot be compared with UInt32 property");
        check_where_fail(B, "DefaultImage = Name", "cannot be compared");
        check_where_fail(B, "OptionalComponents = OptionalComponents", "cannot be compared");

        /* ORDER BY: scalars only */
        wql_query_free(check_ok("SELECT * FROM SMS_BootImagePackage ORDER BY DefaultImage, SourceDate DESC, "
                                "ImageProperty"));
        check_fail("SELECT * FROM SMS_BootImagePackage ORDER BY SecuredScopeNames", SMS_ERROR_INVALID_QUERY,
                   "cannot ORDER BY String[] property SecuredScopeNames");
        check_fail("SELECT * FROM SMS_BootImagePackage ORDER BY Icon", SMS_ERROR_INVALID_QUERY, "ORDER BY");
}

/* WQL as real scripts write it (issue 15): a quoted number against an integer property, class and
 * property names in any case, the "is in" form, and the classes scripts look up first. */
static void test_check_as_scripts_write(void **state) {
        const SmsClass *boot = sms_model_find_class("SMS_BootImagePackage");
        WqlQuery *q;

        q = check_ok("SELECT * FROM SMS_OSDeploymentKitWinPEOptionalComponent WHERE UniqueID = '27'");
        assert_int_equal(q->where->rhs.value.type, CIM_UINT32);
        assert_false(q->where->rhs.value.null);
        assert_int_equal(q->where->rhs.value.u, 27);
        wql_query_free(q);

        q = check_ok("select packageid, NAME from sms_bootimagepackage where PACKAGEID = 'lab00001' and "
                     "imageindex = '1' order by name desc");
        assert_ptr_equal(q->class, boot);
        assert_int_equal(q->n_columns, 2);
        assert_string_equal(boot->all[q->columns[0]]->name, "PackageID");
        assert_string_equal(boot->all[q->columns[1]]->name, "Name");
        assert_int_equal(q->order[0].index, sms_class_find_property(boot, "Name"));
        assert_int_equal(q->where->left->lhs.index, sms_class_find_property(boot, "PackageID"));
        assert_int_equal(q->where->right->rhs.value.u, 1);
        wql_query_free(q);

        q = check_ok("SELECT * FROM sms_osdeploymentkitwinpeoptionalcomponent WHERE languageid=1033 AND "
                     "uniqueid IS IN (27,'28')");
        assert_int_equal(q->where->right->list[1].value.u, 28);
        wql_query_free(q);

        q = check_ok("SELECT * FROM SMS_ProviderLocation WHERE ProviderForLocalSite = true");
        assert_string_equal(q->class->name, "SMS_ProviderLocation");
        assert_int_equal(q->n_columns, 4);
        assert_true(q->where->rhs.value.b);
        wql_query_free(q);

        q = check_ok("SELECT * FROM SMS_SystemResourceList WHERE RoleName='SMS Distribution Point' AND "
                     "SiteCode='LAB' AND ServerName='dp1' AND NALPath LIKE '%[[]\"SMS_SITE=LAB\"]%'");
        assert_string_equal(q->class->name, "SMS_SystemResourceList");
        wql_query_free(q);

        check_where_fail("SMS_OSDeploymentKitWinPEOptionalComponent", "UniqueID = '27a'",
                         "string is not an integer for UInt32 property UniqueID");
        check_where_fail("SMS_OSDeploymentKitWinPEOptionalComponent", "UniqueID = ' 27'", "string is not an integer");
        check_where_fail("SMS_ProviderLocation", "ProviderForLocalSite = 'yes'", "Boolean property ProviderForLocalSite");
        check_fail("SELECT Machine FROM SMS_SystemResourceList", SMS_ERROR_INVALID_QUERY,
                   "no property Machine in class SMS_SystemResourceList");
}

/* --- wql_compile_sql: text --------------------------------------------------------------------- */

static void compile(const char *text, WqlSql *ret) {
        _cleanup_(wql_query_freep) WqlQuery *q = check_ok(text);
        SmsError e = SMS_ERROR_NULL;

        if (wql_compile_sql(q, ret, &e) < 0)
                fail_msg("wql_compile_sql(\"%.200s\") failed: %s", text, e.message);
}

static void assert_sql(const char *text, const char *expected) {
        WqlSql sql = {};

        compile(text, &sql);
        if (!streq(sql.sql, expected))
                fail_msg("%s\n  sql:      %s\n  expected: %s", text, sql.sql, expected);
        wql_sql_done(&sql);
}

static void assert_param_uint(const WqlSql *sql, size_t i, CimType type, uint64_t u) {
        assert_true(i < sql->n_params);
        assert_int_equal(sql->params[i].type, type);
        assert_false(sql->params[i].null);
        assert_int_equal(sql->params[i].u, u);
}

static void assert_param_string(const WqlSql *sql, size_t i, const char *s) {
        assert_true(i < sql->n_params);
        assert_int_equal(sql->params[i].type, CIM_STRING);
        assert_false(sql->params[i].null);
        assert_string_equal(sql->params[i].str, s);
}

static void test_compile_text(void **state) {
        WqlSql sql = {};

        compile("SELECT Component, MessageID FROM SMS_StatusMessage WHERE MessageID = 30000 ORDER BY Time DESC",
                &sql);
        assert_string_equal(sql.sql, "SELECT \"RecordID\", 0, \"Component\", \"MessageID\" FROM \"status_message\" "
                                     "WHERE \"MessageID\" = ? ORDER BY \"Time\" DESC");
        assert_int_equal(sql.n_params, 1);
        assert_param_uint(&sql, 0, CIM_UINT32, 30000);
        wql_sql_done(&sql);
        wql_sql_done(&sql); /* idempotent */

        assert_sql("SELECT Component FROM SMS_StatusMessage",
                   "SELECT \"RecordID\", 0, \"Component\" FROM \"status_message\"");
        assert_sql("SELECT ImageProperty FROM SMS_BootImagePackage",
                   "SELECT \"PackageID\", \"PackageType\" FROM \"package\" WHERE +\"PackageType\" = ?");
        /* an SQL keyword as a column name is quoted like any other */
        assert_sql("SELECT Transaction FROM SMS_StatusMessage WHERE Transaction = 4 ORDER BY transaction",
                   "SELECT \"RecordID\", 0, \"Transaction\" FROM \"status_message\" WHERE \"Transaction\" = ? "
                   "ORDER BY \"Transaction\" ASC");

        /* concrete class: its discriminator; NOT pushed down into the conditions */
        compile("SELECT Name FROM SMS_BootImagePackage WHERE Name = 'x' AND NOT (PackageSize < 5 OR "
                "Description LIKE 'a%')",
                &sql);
        assert_string_equal(sql.sql, "SELECT \"PackageID\", \"PackageType\", \"Name\" FROM \"package\" WHERE "
                                     "+\"PackageType\" = ? AND \"Name\" = ? AND \"PackageSize\" >= ? AND "
                                     "NOT wql_like(?, \"Description\")");
        assert_int_equal(sql.n_params, 4);
        assert_int_equal(sql.params[0].type, CIM_SINT64);
        assert_int_equal(sql.params[0].i, 258);
        assert_param_string(&sql, 1, "x");
        assert_param_uint(&sql, 2, CIM_UINT32, 5);
        assert_param_string(&sql, 3, "a%");
        wql_sql_done(&sql);

        /* abstract class: every concrete descendant; an OR list in parentheses */
        compile("SELECT Name FROM SMS_PackageBaseclass WHERE Name = 'a' OR Name = 'b' ORDER BY Name DESC, PackageID",
                &sql);
        assert_string_equal(sql.sql, "SELECT \"PackageID\", \"PackageType\", \"Name\" FROM \"package\" WHERE "
                                     "+\"PackageType\" IN (?, ?, ?) AND (\"Name\" = ? OR \"Name\" = ?) "
                                     "ORDER BY \"Name\" DESC, \"PackageID\" ASC");
        assert_int_equal(sql.n_params, 5);
        int64_t sum = 0;
        for (size_t i = 0; i < 3; i++) {
                assert_int_equal(sql.params[i].type, CIM_SINT64);
                assert_in_range(sql.params[i].i, 257, 259);
                sum += sql.params[i].i;
        }
        assert_int_equal(sum, 257 + 258 + 259);
        assert_param_string(&sql, 3, "a");
        assert_param_string(&sql, 4, "b");
        wql_sql_done(&sql);

        /* AND inside OR needs no parentheses; OR inside AND does */
        assert_sql("SELECT Component FROM SMS_StatusMessage WHERE MessageID = 1 AND Severity = 2 OR "
                   "(MessageID = 3 OR MessageID = 4) AND Severity = 5",
                   "SELECT \"RecordID\", 0, \"Component\" FROM \"status_message\" WHERE \"MessageID\" = ? AND "
                   "\"Severity\" = ? OR (\"MessageID\" = ? OR \"MessageID\" = ?) AND \"Severity\" = ?");
        assert_sql("SELECT Component FROM SMS_StatusMessage WHERE NOT (MessageID = 1 AND Severity = 2 OR "
                   "Component = 'x')",
                   "SELECT \"RecordID\", 0, \"Component\" FROM \"status_message\" WHERE (\"MessageID\" <> ? OR "
                   "\"Severity\" <> ?) AND \"Component\" <> ?");
        /* NOT of every comparison and form */
        assert_sql("SELECT Component FROM SMS_StatusMessage WHERE NOT (MessageID = 1 OR MessageID <> 2 OR "
                   "MessageID < 3 OR MessageID <= 4 OR MessageID > 5 OR MessageID >= 6 OR NOT Component IS NULL "
                   "OR MessageID IN (7) OR Component NOT LIKE 'x' OR Time < ProcessID)",
                   "SELECT \"RecordID\", 0, \"Component\" FROM \"status_message\" WHERE \"MessageID\" <> ? AND "
                   "\"MessageID\" = ? AND \"MessageID\" >= ? AND \"MessageID\" > ? AND \"MessageID\" <= ? AND "
                   "\"MessageID\" < ? AND \"Component\" IS NULL AND \"MessageID\" NOT IN (?) AND "
                   "wql_like(?, \"Component\") AND \"Time\" >= \"ProcessID\"");
        assert_sql("SELECT Component FROM SMS_StatusMessage WHERE NOT NOT NOT NOT MessageID = 1",
                   "SELECT \"RecordID\", 0, \"Component\" FROM \"status_message\" WHERE \"MessageID\" = ?");
        assert_sql("SELECT Component FROM SMS_StatusMessage WHERE Component IS NOT NULL AND Component = NULL",
                   "SELECT \"RecordID\", 0, \"Component\" FROM \"status_message\" WHERE \"Component\" IS NOT NULL "
                   "AND \"Component\" IS NULL");
        assert_sql("SELECT Component FROM SMS_StatusMessage WHERE MessageID IN (1, 2) AND MessageID NOT IN (3)",
                   "SELECT \"RecordID\", 0, \"Component\" FROM \"status_message\" WHERE \"MessageID\" IN (?, ?) "
                   "AND \"MessageID\" NOT IN (?)");

        /* arrays */
        assert_sql("SELECT Name FROM SMS_BootImagePackage WHERE SecuredScopeNames = 'Lab'",
                   "SELECT \"PackageID\", \"PackageType\", \"Name\" FROM \"package\" WHERE +\"PackageType\" = ? AND "
                   "EXISTS (SELECT 1 FROM json_each(\"SecuredScopeNames\") WHERE value = ? COLLATE NOCASE)");
        assert_sql("SELECT Name FROM SMS_BootImagePackage WHERE OptionalComponents <> 5",
                   "SELECT \"PackageID\", \"PackageType\", \"Name\" FROM \"package\" WHERE +\"PackageType\" = ? AND "
                   "NOT EXISTS (SELECT 1 FROM json_each(\"OptionalComponents\") WHERE value = ?)");
        assert_sql("SELECT Name FROM SMS_BootImagePackage WHERE NOT OptionalComponents IN (1, 2)",
                   "SELECT \"PackageID\", \"PackageType\", \"Name\" FROM \"package\" WHERE +\"PackageType\" = ? AND "
                   "NOT EXISTS (SELECT 1 FROM json_each(\"OptionalComponents\") WHERE value IN (?, ?))");
        assert_sql("SELECT Name FROM SMS_BootImagePackage WHERE SecuredScopeNames IN ('a')",
                   "SELECT \"PackageID\", \"PackageType\", \"Name\" FROM \"package\" WHERE +\"PackageType\" = ? AND "
                   "EXISTS (SELECT 1 FROM json_each(\"SecuredScopeNames\") WHERE value COLLATE NOCASE IN (?))");
        assert_sql("SELECT Name FROM SMS_BootImagePackage WHERE ExtendedData IS NULL",
                   "SELECT \"PackageID\", \"PackageType\", \"Name\" FROM \"package\" WHERE +\"PackageType\" = ? AND "
                   "(\"ExtendedData\" IS NULL OR length(\"ExtendedData\") = 0)");
        assert_sql("SELECT Name FROM SMS_BootImagePackage WHERE SecuredScopeNames IS NOT NULL",
                   "SELECT \"PackageID\", \"PackageType\", \"Name\" FROM \"package\" WHERE +\"PackageType\" = ? AND "
                   "(\"SecuredScopeNames\" IS NOT NULL AND json_array_length(\"SecuredScopeNames\") > 0)");
        assert_sql("SELECT Name FROM SMS_BootImagePackage WHERE NOT RefreshSchedule IS NOT NULL",
                   "SELECT \"PackageID\", \"PackageType\", \"Name\" FROM \"package\" WHERE +\"PackageType\" = ? AND "
                   "(\"RefreshSchedule\" IS NULL OR length(\"RefreshSchedule\") = 0)");
}

static void test_compile_injection(void **state) {
        static const char *const evil[] = {
                "'; DROP TABLE package; --",
                "\"); DELETE FROM package; --",
                "x' OR '1'='1",
                "%' OR 1=1 --",
                "]] \" ' `",
        };

        for (size_t i = 0; i < ELEMENTSOF(evil); i++) {
                _cleanup_free_ char *quoted = NULL, *text = NULL;
                WqlSql sql = {};
                size_t n = 0;

                /* as a WQL string literal: every ' doubled */
                quoted = malloc(strlen(evil[i]) * 2 + 1);
                assert_non_null(quoted);
                for (const char *s = evil[i]; *s; s++) {
                        quoted[n++] = *s;
                        if (*s == '\'')
                                quoted[n++] = '\'';
                }
                quoted[n] = 0;

                assert_true(asprintf(&text, "SELECT Name FROM SMS_BootImagePackage WHERE Name = '%s' OR "
                                     "Description LIKE '%s' OR SecuredScopeNames = '%s'",
                                     quoted, quoted, quoted) > 0);
                compile(text, &sql);
                assert_null(strstr(sql.sql, "DROP"));
                assert_null(strstr(sql.sql, "DELETE"));
                assert_null(strstr(sql.sql, "'"));
                assert_null(strstr(sql.sql, "1=1"));
                assert_int_equal(sql.n_params, 4);
                for (size_t j = 1; j < 4; j++)
                        assert_param_string(&sql, j, evil[i]);
                wql_sql_done(&sql);
        }
}

/* A checked condition, taken out of its query. */
static WqlNode *checked_condition(const char *where) {
        _cleanup_free_ char *text = NULL;
        WqlQuery *q;
        WqlNode *n;

        assert_true(asprintf(&text, "SELECT * FROM SMS_BootImagePackage WHERE %s", where) > 0);
        q = check_ok(text);
        n = TAKE_PTR(q->where);
        wql_query_free(q);
        return n;
}

static void test_compile_errors(void **state) {
        _cleanup_(wql_query_freep) WqlQuery *q = check_ok("SELECT * FROM SMS_BootImagePackage");
        SmsError e = SMS_ERROR_NULL;
        WqlSql sql = { .sql = (char *) "untouched" };
        WqlNode *tree = checked_condition("Name = 'x'");

        /* The parser's limits keep queries within what SQLite can parse (the deepest ones are run
         * in test_sql_deep); a tree built by hand, 300 levels of OR inside AND, shows that
         * wql_compile_sql() would refuse rather than produce SQL that overflows SQLite's parser. */
        for (unsigned i = 0; i < 300; i++) {
                WqlNode *n = calloc(1, sizeof(WqlNode));

                assert_non_null(n);
                n->kind = i % 2 ? WQL_NODE_AND : WQL_NODE_OR;
                n->lhs.index = n->rhs.index = -1;
                n->left = checked_condition(i % 3 ? "SecuredScopeNames = 'x'" : "PackageSize = 1");
                n->right = tree;
                tree = n;
        }
        q->where = tree;

        assert_int_equal(wql_compile_sql(q, &sql, &e), sms_error_code_to_errno(SMS_ERROR_INVALID_QUERY));
        assert_int_equal(e.code, SMS_ERROR_INVALID_QUERY);
        assert_non_null(strstr(e.message, "too deeply nested"));
        assert_string_equal(sql.sql, "untouched");
        sms_error_clear(&e);
}

/* --- wql_compile_sql: run by SQLite ------------------------------------------------------------ */

/* The rows of the package table, and what the reference evaluator needs of them. */
typedef struct Row {
        const char *id;
        int64_t type;
        const char *name, *description;
        int64_t size; /* -1: NULL */
        int64_t version;
        int64_t default_image; /* -1: NULL */
        const char *scopes;    /* JSON */
        const char *components;
        int64_t source_date;
} Row;

static const Row rows[] = {
        { "LAB00001", 258, "WinPE x64", NULL, 100, 3, 1, "[\"Default\",\"Lab\"]", "[1,27]", 1700000000000000 },
        { "LAB00002", 258, "WinPE x86", "Old", 50, 50, 0, NULL, "[]", 1600000000000000 },
        { "LAB00003", 257, "Windows 11 [Ent]", "gold image", 5000, 1, -1, "[\"lab\"]", NULL, 1710000000000000 },
        { "LAB00004", 259, "Setup 100%", "", -1, 0, -1, "[]", NULL, 0 },
        { "LAB00005", 3, "Drivers", "not one of ours", 7, 0, -1, NULL, NULL, 0 },
        { "LAB00006", 258, "Grüße", "ÉTÉ", 0, 1, 0, "[\"Ünï\"]", "[2]", 1 },
};

static void sql_wql_like(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
        const unsigned char *pattern = sqlite3_value_text(argv[0]);
        const unsigned char *text = sqlite3_value_text(argv[1]);

        /* as the store registers it: NULL in, NULL out */
        if (!pattern || !text) {
                sqlite3_result_null(ctx);
                return;
        }
        sqlite3_result_int(ctx, wql_like_match((const char *) pattern, (const char *) text));
}

/* With tests/helpers/pg-server.sh, the queries run on PostgreSQL too: the same table and rows
 * there, and run() asks both, expecting the same rows. */
static PGconn *pg;

static const char *sql_type(CimType t, bool postgresql) {
        switch (t) {
        case CIM_STRING:
                return postgresql ? "TEXT COLLATE nocase" : "TEXT COLLATE NOCASE";
        case CIM_UINT8_ARRAY:
                return postgresql ? "BYTEA" : "BLOB";
        case CIM_STRING_ARRAY:
        case CIM_UINT32_ARRAY:
        case CIM_DRIVER_DETAILS_ARRAY:
        case CIM_SCHEDULE_ARRAY:
                return "TEXT";
        default:
                return postgresql ? "BIGINT" : "INTEGER";
        }
}

static void pg_exec_ok(const char *sql, int n, const char *const *values) {
        PGresult *res = PQexecParams(pg, sql, n, NULL, values, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
                fail_msg("%s: %s", sql, PQerrorMessage(pg));
        PQclear(res);
}

static char *pg_int_or_null(int64_t v, char buf[static 32]) {
        if (v < 0)
                return NULL;
        snprintf(buf, 32, "%lld", (long long) v);
        return buf;
}

/* The same table on PostgreSQL, typed as schema/postgresql/0001-site.sql does. */
static int setup_pg(const SmsClass *base, const char *const *columns, const CimType *types, size_t n_columns) {
        _cleanup_free_ char *location = test_db_new(), *create = NULL;
        size_t n = 0;
        FILE *f;

        pg = PQconnectdb(location);
        if (PQstatus(pg) != CONNECTION_OK)
                return -1;
        pg_exec_ok("CREATE COLLATION nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false)", 0,
                   NULL);
        f = open_memstream(&create, &n);
        if (!f)
                return -1;
        fprintf(f, "CREATE TABLE \"%s\" (\"%s\" TEXT COLLATE nocase PRIMARY KEY NOT NULL", base->table,
                sms_property_column(base->all[base->key_index]));
        for (size_t i = 0; i < n_columns; i++)
                fprintf(f, ", \"%s\" %s", columns[i], sql_type(types[i], true));
        fputs(")", f);
        if (fclose(f) != 0)
                return -1;
        pg_exec_ok(create, 0, NULL);
        pg_exec_ok("CREATE TABLE status_message (\"RecordID\" BIGINT PRIMARY KEY, \"Component\" TEXT COLLATE nocase)",
                   0, NULL);
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                char b[6][32];
                const char *values[] = {
                        rows[i].id, pg_int_or_null(rows[i].type, b[0]), rows[i].name, rows[i].description,
                        pg_int_or_null(rows[i].size, b[1]), pg_int_or_null(rows[i].version, b[2]),
                        pg_int_or_null(rows[i].default_image, b[3]), rows[i].scopes, rows[i].components,
                        pg_int_or_null(rows[i].source_date, b[4]),
                };
                pg_exec_ok("INSERT INTO package (\"PackageID\", \"PackageType\", \"Name\", \"Description\", "
                           "\"PackageSize\", \"SourceVersion\", \"DefaultImage\", \"SecuredScopeNames\", "
                           "\"OptionalComponents\", \"SourceDate\") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                           10, values);
        }
        return 0;
}

static void exec(sqlite3 *db, const char *sql) {
        char *err = NULL;

        if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
                fail_msg("%s: %s", sql, err);
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s) {
        assert_int_equal(s ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i), SQLITE_OK);
}

static void bind_int_or_null(sqlite3_stmt *st, int i, int64_t v) {
        assert_int_equal(v >= 0 ? sqlite3_bind_int64(st, i, v) : sqlite3_bind_null(st, i), SQLITE_OK);
}

/* The package table with a column for every property of the package classes, typed as
 * schema/0001-site.sql does, and the rows above. */
static int setup_db(void **state) {
        const SmsClass *base = sms_model_find_class("SMS_PackageBaseclass");
        _cleanup_free_ char *create = NULL;
        const char *columns[256];
        CimType types[256];
        size_t n = 0, n_columns = 0;
        sqlite3_stmt *st = NULL;
        sqlite3 *db = NULL;
        FILE *f;

        if (sms_model_init() < 0 || !base || sqlite3_open(":memory:", &db) != SQLITE_OK)
                return -1;
        if (sqlite3_create_function_v2(db, "wql_like", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sql_wql_like,
                                       NULL, NULL, NULL) != SQLITE_OK)
                return -1;

        f = open_memstream(&create, &n);
        if (!f)
                return -1;
        fprintf(f, "CREATE TABLE \"%s\" (\"%s\" TEXT COLLATE NOCASE PRIMARY KEY NOT NULL", base->table,
                sms_property_column(base->all[base->key_index]));
        for (const SmsClass *const *c = sms_model_classes(); *c; c++) {
                if (!sms_class_is_a(*c, base))
                        continue;
                for (size_t i = 0; i < (*c)->n_properties; i++) {
                        const SmsProperty *p = &(*c)->properties[i];
                        const char *name = sms_property_column(p);
                        bool seen = p->flags & SMS_PROP_KEY;

                        /* properties several classes declare get one column */
                        for (size_t j = 0; j < n_columns && !seen; j++)
                                seen = strcasecmp(columns[j], name) == 0;
                        if (seen)
                                continue;
                        if (n_columns >= ELEMENTSOF(columns))
                                return -1;
                        types[n_columns] = p->type;
                        columns[n_columns++] = name;
                        fprintf(f, ", \"%s\" %s", name, sql_type(p->type, false));
                }
        }
        fputs(")", f);
        if (fclose(f) != 0)
                return -1;
        exec(db, create);

        exec(db, "CREATE TABLE status_message (RecordID INTEGER PRIMARY KEY, Component TEXT COLLATE NOCASE)");

        if (sqlite3_prepare_v2(db,
                               "INSERT INTO package (PackageID, PackageType, Name, Description, PackageSize, "
                               "SourceVersion, DefaultImage, SecuredScopeNames, OptionalComponents, SourceDate) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               -1, &st, NULL) != SQLITE_OK)
                return -1;
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                bind_text_or_null(st, 1, rows[i].id);
                bind_int_or_null(st, 2, rows[i].type);
                bind_text_or_null(st, 3, rows[i].name);
                bind_text_or_null(st, 4, rows[i].description);
                bind_int_or_null(st, 5, rows[i].size);
                bind_int_or_null(st, 6, rows[i].version);
                bind_int_or_null(st, 7, rows[i].default_image);
                bind_text_or_null(st, 8, rows[i].scopes);
                bind_text_or_null(st, 9, rows[i].components);
                bind_int_or_null(st, 10, rows[i].source_date);
                if (sqlite3_step(st) != SQLITE_DONE)
                        return -1;
                sqlite3_reset(st);
        }
        sqlite3_finalize(st);

        *state = db;
        return test_db_postgresql() ? setup_pg(base, columns, types, n_columns) : 0;
}

static int teardown_db(void **state) {
        sqlite3_close(*state);
        PQfinish(pg);
        pg = NULL;
        return 0;
}

static void bind_param(sqlite3_stmt *st, int i, const CimValue *v) {
        int rc;

        assert_false(cim_type_is_array(v->type));
        if (v->null)
                rc = sqlite3_bind_null(st, i);
        else if (v->type == CIM_STRING)
                rc = sqlite3_bind_text(st, i, v->str, -1, SQLITE_TRANSIENT);
        else if (v->type == CIM_BOOLEAN)
                rc = sqlite3_bind_int(st, i, v->b);
        else if (v->type == CIM_SINT32 || v->type == CIM_SINT64)
                rc = sqlite3_bind_int64(st, i, v->i);
        else
                rc = sqlite3_bind_int64(st, i, (sqlite3_int64) v->u);
        assert_int_equal(rc, SQLITE_OK);
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The keys, comma-separated, sorted or not; frees them. */
static char *keys_join(char **keys, size_t n, size_t length, bool sort) {
        char *result;

        if (sort)
                qsort(keys, n, sizeof(char *), compare_strings);
        result = calloc(1, length);
        assert_non_null(result);
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        strcat(result, ",");
                strcat(result, keys[i]);
                free(keys[i]);
        }
        return result;
}

/* The same query compiled for PostgreSQL and run there. */
static char *run_pg(const WqlQuery *q, const char *text, bool sort) {
        SmsError e = SMS_ERROR_NULL;
        WqlSql sql = {};
        char *keys[ELEMENTSOF(rows) + 1] = {}, **values;
        size_t n = 0, length = 1;
        PGresult *res;

        if (wql_compile_sql_dialect(q, NULL, WQL_DIALECT_POSTGRESQL, &sql, &e) < 0) {
                assert_int_equal(e.code, SMS_ERROR_INVALID_QUERY);
                sms_error_clear(&e);
                return NULL;
        }
        values = calloc(sql.n_params + 1, sizeof(char *));
        assert_non_null(values);
        for (size_t i = 0; i < sql.n_params; i++) {
                const CimValue *v = &sql.params[i];
                if (v->null)
                        continue;
                if (v->type == CIM_STRING)
                        values[i] = strdup(v->str);
                else if (v->type == CIM_BOOLEAN)
                        values[i] = strdup(v->b ? "1" : "0");
                else if (v->type == CIM_SINT32 || v->type == CIM_SINT64)
                        assert_true(asprintf(&values[i], "%lld", (long long) v->i) > 0);
                else
                        assert_true(asprintf(&values[i], "%lld", (long long) v->u) > 0);
        }
        res = PQexecParams(pg, sql.sql, (int) sql.n_params, NULL, (const char *const *) values, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
                fail_msg("%.300s\n  → %.300s\n  PostgreSQL: %s", text, sql.sql, PQerrorMessage(pg));
        for (int i = 0; i < PQntuples(res); i++) {
                assert_true(n < ELEMENTSOF(rows));
                assert_int_equal(PQnfields(res), 2 + (int) q->n_columns);
                keys[n] = strdup(PQgetvalue(res, i, 0));
                length += strlen(keys[n]) + 1;
                n++;
        }
        PQclear(res);
        for (size_t i = 0; i < sql.n_params; i++)
                free(values[i]);
        free(values);
        wql_sql_done(&sql);
        return keys_join(keys, n, length, sort);
}

/* Runs the query; returns the keys of the rows, comma-separated, in the order SQLite gave
 * them, or NULL when compiling refused it. With PostgreSQL, it must give the same. */
static char *run(sqlite3 *db, const char *text, bool sort) {
        _cleanup_(wql_query_freep) WqlQuery *q = check_ok(text);
        SmsError e = SMS_ERROR_NULL;
        WqlSql sql = {};
        sqlite3_stmt *st = NULL;
        char *keys[ELEMENTSOF(rows) + 1] = {};
        size_t n = 0, length = 1;
        char *result;
        int rc;

        if (wql_compile_sql(q, &sql, &e) < 0) {
                assert_int_equal(e.code, SMS_ERROR_INVALID_QUERY);
                sms_error_clear(&e);
                return NULL;
        }

        if (sqlite3_prepare_v2(db, sql.sql, -1, &st, NULL) != SQLITE_OK)
                fail_msg("%.300s\n  → %.300s\n  %s", text, sql.sql, sqlite3_errmsg(db));
        assert_int_equal(sqlite3_bind_parameter_count(st), sql.n_params);
        for (size_t i = 0; i < sql.n_params; i++)
                bind_param(st, (int) i + 1, &sql.params[i]);

        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                assert_true(n < ELEMENTSOF(rows));
                assert_int_equal(sqlite3_column_count(st), 2 + q->n_columns);
                keys[n] = strdup((const char *) sqlite3_column_text(st, 0));
                length += strlen(keys[n]) + 1;
                n++;
        }
        if (rc != SQLITE_DONE)
                fail_msg("%s: %s", sql.sql, sqlite3_errmsg(db));
        sqlite3_finalize(st);
        wql_sql_done(&sql);

        result = keys_join(keys, n, length, sort);
        if (pg) {
                _cleanup_free_ char *other = run_pg(q, text, sort);
                if (!other || !streq(other, result))
                        fail_msg("%.300s\n  SQLite:     %s\n  PostgreSQL: %s", text, result, other ? other : "(refused)");
        }
        return result;
}

static void assert_rows_impl(sqlite3 *db, const char *where, const char *expected, bool sort) {
        _cleanup_free_ char *text = NULL, *got = NULL;

        assert_true(asprintf(&text, "SELECT Name, PackageSize FROM %s", where) > 0);
        got = run(db, text, sort);
        if (!got)
                fail_msg("%s: refused", text);
        if (!streq(got, expected))
                fail_msg("%s\n  rows:     %s\n  expected: %s", text, got, expected);
}

/* keys of the matching rows, sorted; "1,3" for LAB00001 and LAB00003 */
static void assert_rows(sqlite3 *db, const char *where, const char *expected) {
        _cleanup_free_ char *full = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&full, &n);

        assert_non_null(f);
        for (const char *s = expected; *s; s++)
                if (*s == ',')
                        fputc(',', f);
                else
                        fprintf(f, "LAB0000%c", *s);
        assert_int_equal(fclose(f), 0);
        assert_rows_impl(db, where, full, !strstr(where, "ORDER BY"));
}

static void test_sql_semantics(void **state) {
        sqlite3 *db = *state;

        /* the class filter: polymorphic on the base class, nothing of classes we do not know */
        assert_rows(db, "SMS_PackageBaseclass", "1,2,3,4,6");
        assert_rows(db, "SMS_BootImagePackage", "1,2,6");
        assert_rows(db, "SMS_ImagePackage", "3");
        assert_rows(db, "SMS_OperatingSystemInstallPackage WHERE Name LIKE '%'", "4");

        /* strings: case-insensitive; NULL is not a value, '' is */
        assert_rows(db, "SMS_PackageBaseclass WHERE Name = 'winpe X64'", "1");
        assert_rows(db, "SMS_PackageBaseclass WHERE name = \"WINPE x86\" OR Name = 'windows 11 [ent]'", "2,3");
        assert_rows(db, "SMS_PackageBaseclass WHERE Description <> 'old'", "3,4,6");
        assert_rows(db, "SMS_PackageBaseclass WHERE NOT (Description = 'old')", "3,4,6");
        assert_rows(db, "SMS_PackageBaseclass WHERE Description IS NULL", "1");
        assert_rows(db, "SMS_PackageBaseclass WHERE Description = NULL", "1");
        assert_rows(db, "SMS_PackageBaseclass WHERE Description IS NOT NULL", "2,3,4,6");
        assert_rows(db, "SMS_PackageBaseclass WHERE NOT Description <> NULL", "1");
        assert_rows(db, "SMS_PackageBaseclass WHERE Description = ''", "4");
        /* SQLite's NOCASE folds ASCII only: 'ÉTÉ' sorts after every ASCII letter */
        assert_rows(db, "SMS_PackageBaseclass WHERE Description > 'a'", "2,3,6");
        assert_rows(db, "SMS_PackageBaseclass WHERE Name IN ('setup 100%', 'nothing')", "4");
        assert_rows(db, "SMS_PackageBaseclass WHERE Description NOT IN ('OLD')", "3,4,6");
        assert_rows(db, "SMS_PackageBaseclass WHERE Name = Description", "");
        assert_rows(db, "SMS_PackageBaseclass WHERE Name <> Description", "2,3,4,6");

        /* LIKE */
        assert_rows(db, "SMS_PackageBaseclass WHERE Name LIKE 'winpe%'", "1,2");
        assert_rows(db, "SMS_PackageBaseclass WHERE Name LIKE 'WinPE x[0-9][0-9]'", "1,2");
        assert_rows(db, "SMS_PackageBaseclass WHERE Name LIKE 'WinPE x[^8]%'", "1");
        assert_rows(db, "SMS_PackageBaseclass WHERE Name LIKE '%[[]ent]'", "3");
        assert_rows(db, "SMS_PackageBaseclass WHERE Name LIKE '%[[]%'", "3");
        assert_rows(db, "SMS_PackageBaseclass WHERE Name LIKE 'windows 11 [[]ent[]]'", "3");
        assert_rows(db, "SMS_PackageBaseclass WHERE Name LIKE '[[]%'", "");
        assert_rows(db, "SMS_PackageBaseclass WHERE Name LIKE '%100[%]'", "4");
        assert_rows(db, "SMS_PackageBaseclass WHERE Name LIKE 'GRÜ_E'", "6");
        assert_rows(db, "SMS_PackageBaseclass WHERE Name NOT LIKE 'winpe%'", "3,4,6");
        assert_rows(db, "SMS_PackageBaseclass WHERE Description NOT LIKE 'x%'", "2,3,4,6");
        assert_rows(db, "SMS_PackageBaseclass WHERE NOT Description LIKE 'x%'", "2,3,4,6");
        assert_rows(db, "SMS_PackageBaseclass WHERE Description LIKE '%'", "2,3,4,6");

        /* integers, booleans, dates */
        assert_rows(db, "SMS_PackageBaseclass WHERE PackageSize > 60 ORDER BY PackageSize DESC", "3,1");
        assert_rows(db, "SMS_PackageBaseclass WHERE PackageSize <= 50 ORDER BY PackageSize", "6,2");
        assert_rows(db, "SMS_PackageBaseclass WHERE PackageSize IN (50, 100)", "1,2");
        assert_rows(db, "SMS_PackageBaseclass WHERE PackageSize NOT IN (50, 100)", "3,6");
        assert_rows(db, "SMS_PackageBaseclass WHERE NOT PackageSize IN (50, 100)", "3,6");
        assert_rows(db, "SMS_PackageBaseclass WHERE PackageSize <> 5000", "1,2,6");
        assert_rows(db, "SMS_PackageBaseclass WHERE PackageSize = '0x64'", "1");
        /* as scripts write it: a quoted number, names in any case */
        assert_rows(db, "SMS_PackageBaseclass WHERE PackageSize = '100'", "1");
        assert_rows(db, "sms_packagebaseclass where packagesize = '50' OR NAME like 'winpe x6%'", "1,2");
        assert_rows(db, "SMS_PackageBaseclass WHERE PackageSize IN ('50', 5000)", "2,3");
        assert_rows(db, "SMS_PackageBaseclass WHERE PackageSize = '7'", "");
        assert_rows(db, "SMS_PackageBaseclass WHERE PackageSize < SourceVersion", "6");
        assert_rows(db, "SMS_PackageBaseclass WHERE SourceVersion >= PackageSize", "2,6");
        assert_rows(db, "SMS_PackageBaseclass WHERE 100 < PackageSize", "3");
        assert_rows(db, "SMS_BootImagePackage WHERE DefaultImage = TRUE", "1");
        assert_rows(db, "SMS_BootImagePackage WHERE DefaultImage = 'false'", "2,6");
        assert_rows(db, "SMS_BootImagePackage WHERE DefaultImage <> 1", "2,6");
        assert_rows(db, "SMS_BootImagePackage WHERE DefaultImage > FALSE", "1");
        assert_rows(db, "SMS_BootImagePackage WHERE DefaultImage = PackageSize", "6");
        assert_rows(db, "SMS_PackageBaseclass WHERE SourceDate >= '20231114221320.000000+000'", "1,3");
        assert_rows(db, "SMS_PackageBaseclass WHERE SourceDate < '20231115000000.000000+***' AND SourceDate > 0",
                    "1,2,6");
        assert_rows(db, "SMS_PackageBaseclass WHERE SourceDate = 1710000000000000", "3");

        /* arrays: any element; IS NULL also for an empty array */
        assert_rows(db, "SMS_PackageBaseclass WHERE SecuredScopeNames = 'LAB'", "1,3");
        /* NOCASE folds ASCII only (LIKE, through wql_like(), folds Latin letters too) */
        assert_rows(db, "SMS_PackageBaseclass WHERE SecuredScopeNames = 'ünï'", "");
        assert_rows(db, "SMS_PackageBaseclass WHERE SecuredScopeNames = 'Ünï'", "6");
        assert_rows(db, "SMS_PackageBaseclass WHERE SecuredScopeNames <> 'lab'", "2,4,6");
        assert_rows(db, "SMS_PackageBaseclass WHERE NOT SecuredScopeNames = 'lab'", "2,4,6");
        assert_rows(db, "SMS_PackageBaseclass WHERE SecuredScopeNames IN ('default', 'x')", "1");
        assert_rows(db, "SMS_PackageBaseclass WHERE SecuredScopeNames IS IN ('LAB', 'Ünï')", "1,3,6");
        assert_rows(db, "SMS_PackageBaseclass WHERE SecuredScopeNames NOT IN ('LAB', 'Ünï')", "2,4");
        assert_rows(db, "SMS_PackageBaseclass WHERE SecuredScopeNames IS NULL", "2,4");
        assert_rows(db, "SMS_PackageBaseclass WHERE SecuredScopeNames IS NOT NULL", "1,3,6");
        assert_rows(db, "SMS_BootImagePackage WHERE OptionalComponents = 27", "1");
        assert_rows(db, "SMS_BootImagePackage WHERE OptionalComponents = '2'", "6");
        assert_rows(db, "SMS_BootImagePackage WHERE OptionalComponents IN (2, 27)", "1,6");
        assert_rows(db, "SMS_BootImagePackage WHERE OptionalComponents <> 1", "2,6");
        assert_rows(db, "SMS_BootImagePackage WHERE OptionalComponents IS NULL", "2");
        assert_rows(db, "SMS_BootImagePackage WHERE OptionalComponents <> NULL", "1,6");
        assert_rows(db, "SMS_BootImagePackage WHERE ExtendedData IS NULL AND ReferencedDrivers IS NULL AND "
                        "RefreshSchedule IS NULL",
                    "1,2,6");

        /* combinations and ordering */
        assert_rows(db, "SMS_PackageBaseclass WHERE (Name LIKE 'win%' OR PackageSize = 0) AND NOT "
                        "(PackageSize > 60 OR SecuredScopeNames = 'lab')",
                    "2,6");
        assert_rows(db, "SMS_PackageBaseclass WHERE Name LIKE 'win%' OR PackageSize = 0 AND NOT PackageSize > 60",
                    "1,2,3,6");
        assert_rows(db, "SMS_BootImagePackage WHERE (Name LIKE 'win%' OR PackageSize = 0) AND NOT "
                        "(DefaultImage = TRUE OR OptionalComponents = 1)",
                    "2,6");
        assert_rows(db, "SMS_PackageBaseclass ORDER BY Name", "6,4,3,1,2");
        /* NULL sorts lowest */
        assert_rows(db, "SMS_PackageBaseclass ORDER BY Description", "1,4,3,2,6");
        assert_rows(db, "SMS_BootImagePackage ORDER BY DefaultImage DESC, Name DESC", "1,2,6");
        assert_rows(db, "SMS_PackageBaseclass WHERE PackageType = 258 ORDER BY SourceDate", "6,2,1");
}

/* A random condition over columns of the test rows, written as WQL and evaluated here with
 * SQL's three-valued logic (0 false, 1 true, 2 unknown), to hold the SQL to. */
typedef struct Gen {
        unsigned seed;
        FILE *f;
} Gen;

static unsigned gen_next(Gen *g, unsigned n) {
        g->seed = g->seed * 1103515245u + 12345u;
        return (g->seed >> 16) % n;
}

static int tv_not(int a) {
        return a == 2 ? 2 : !a;
}

static int tv_and(int a, int b) {
        return a == 0 || b == 0 ? 0 : a == 2 || b == 2 ? 2 : 1;
}

static int tv_or(int a, int b) {
        return a == 1 || b == 1 ? 1 : a == 2 || b == 2 ? 2 : 0;
}

static int tv_compare(int64_t a, int64_t b, unsigned op) {
        switch (op) {
        case 0:
                return a == b;
        case 1:
                return a != b;
        case 2:
                return a < b;
        default:
                return a >= b;
        }
}

/* Writes a condition for the rows; fills truth[i] for each row. */
static void gen_condition(Gen *g, unsigned height, int *truth) {
        static const char *const ops[] = { "=", "<>", "<", ">=" };
        static const char *const names[] = { "winpe%", "%x6_", "[gw]%", "%[^a-z]%", "setup%" };
        int left[ELEMENTSOF(rows)], right[ELEMENTSOF(rows)];
        unsigned k = height > 0 ? gen_next(g, 10) : 6 + gen_next(g, 4);

        if (k < 3) { /* AND / OR */
                bool is_and = k < 2;
                fputc('(', g->f);
                gen_condition(g, height - 1, left);
                fputs(is_and ? " AND " : " OR ", g->f);
                gen_condition(g, height - 1, right);
                fputc(')', g->f);
                for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                        truth[i] = is_and ? tv_and(left[i], right[i]) : tv_or(left[i], right[i]);
        } else if (k < 6) { /* NOT */
                fputs("NOT ", g->f);
                if (gen_next(g, 2))
                        fputs("NOT NOT ", g->f);
                gen_condition(g, height - 1, left);
                for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                        truth[i] = tv_not(left[i]);
        } else if (k == 6) { /* PackageSize op n */
                unsigned op = gen_next(g, 4);
                int64_t n = (int64_t[]) { 0, 50, 100, 7, 5000 }[gen_next(g, 5)];
                fprintf(g->f, "PackageSize %s %" PRIi64, ops[op], n);
                for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                        truth[i] = rows[i].size < 0 ? 2 : tv_compare(rows[i].size, n, op);
        } else if (k == 7) { /* Description IS [NOT] NULL */
                bool negated = gen_next(g, 2);
                fprintf(g->f, "Description IS %sNULL", negated ? "NOT " : "");
                for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                        truth[i] = (rows[i].description == NULL) != negated;
        } else if (k == 8) { /* Name [NOT] LIKE */
                bool negated = gen_next(g, 2);
                const char *p = names[gen_next(g, ELEMENTSOF(names))];
                fprintf(g->f, "Name %sLIKE '%s'", negated ? "NOT " : "", p);
                for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                        truth[i] = wql_like_match(p, rows[i].name) != negated;
        } else { /* Description <> 'Old' or SecuredScopeNames = 'lab' */
                if (gen_next(g, 2)) {
                        fputs("Description <> 'old'", g->f);
                        for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                                truth[i] = !rows[i].description ? 2 : strcasecmp(rows[i].description, "old") != 0;
                } else {
                        fputs("SecuredScopeNames = 'LAB'", g->f);
                        for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                                truth[i] = rows[i].scopes && strcasestr(rows[i].scopes, "\"lab\"") != NULL;
                }
        }
}

static void test_sql_random(void **state) {
        sqlite3 *db = *state;
        unsigned refused = 0, runs = 0;

        for (unsigned seed = 1; seed <= 600; seed++) {
                _cleanup_free_ char *text = NULL, *expected = NULL, *got = NULL;
                Gen g = { .seed = seed };
                int truth[ELEMENTSOF(rows)];
                size_t n = 0;

                g.f = open_memstream(&text, &n);
                assert_non_null(g.f);
                fputs("SELECT Name FROM SMS_PackageBaseclass WHERE ", g.f);
                /* mostly small trees, some as deep as WQL allows */
                gen_condition(&g, seed % 10 == 0 ? 20 : 1 + seed % 7, truth);
                assert_int_equal(fclose(g.f), 0);
                if (strlen(text) > WQL_MAX_QUERY_LENGTH)
                        continue;

                g.f = open_memstream(&expected, &n);
                assert_non_null(g.f);
                for (size_t i = 0, first = 1; i < ELEMENTSOF(rows); i++)
                        if (truth[i] == 1 && rows[i].type != 3) {
                                fprintf(g.f, "%s%s", first ? "" : ",", rows[i].id);
                                first = 0;
                        }
                assert_int_equal(fclose(g.f), 0);

                got = run(db, text, true);
                runs++;
                if (!got) {
                        refused++;
                        continue;
                }
                if (!streq(got, expected))
                        fail_msg("%s\n  rows:     %s\n  expected: %s", text, got, expected);
        }
        assert_true(runs > 500);
        assert_int_equal(refused, 0);
}

static void balanced(FILE *f, unsigned height, bool and) {
        if (height == 0) {
                fputs("SecuredScopeNames = 'x'", f);
                return;
        }
        fputc('(', f);
        balanced(f, height - 1, !and);
        fputs(and ? " AND " : " OR ", f);
        balanced(f, height - 1, !and);
        fputc(')', f);
}

/* The deepest queries WQL accepts either compile into SQL that SQLite can parse, or are refused
 * with InvalidQuery: never an SQL the store cannot prepare. */
static void test_sql_deep(void **state) {
        static const char *const leaves[] = {
                "PackageSize = 1", "Name LIKE 'a%'", "Description IS NOT NULL", "SecuredScopeNames = 'x'",
                "SecuredScopeNames IS NULL", "PackageSize NOT IN (1, 2)",
        };
        sqlite3 *db = *state;
        unsigned accepted = 0;

        for (size_t leaf = 0; leaf < ELEMENTSOF(leaves); leaf++)
                for (unsigned shape = 0; shape < 7; shape++) {
                        _cleanup_free_ char *text = NULL, *got = NULL;
                        size_t n = 0;
                        FILE *f = open_memstream(&text, &n);
                        /* "NOT (" nests twice per level */
                        unsigned levels = shape == 3 ? WQL_MAX_DEPTH / 2 : WQL_MAX_DEPTH;

                        /* the OR of the sibling is one level more; a chain of 32 is 5 levels */
                        if (shape == 5)
                                levels--;
                        if (shape == 6)
                                levels = WQL_MAX_DEPTH / 5;

                        assert_non_null(f);
                        fputs("SELECT Name FROM SMS_PackageBaseclass WHERE ", f);
                        /* right-nested alternation of AND and OR, with NOTs, with costly siblings */
                        for (unsigned i = 0; i < levels; i++) {
                                const char *op = i % 2 ? " OR " : " AND ";
                                switch (shape) {
                                case 0:
                                        fprintf(f, "%s%s(", leaves[leaf], op);
                                        break;
                                case 1:
                                        fprintf(f, "(");
                                        break;
                                case 2:
                                        fprintf(f, "%s%sNOT (", leaves[leaf], op);
                                        i++;
                                        break;
                                case 3:
                                        fprintf(f, "NOT (");
                                        break;
                                case 4:
                                        fprintf(f, "%s%s(", leaves[(leaf + i) % ELEMENTSOF(leaves)], op);
                                        break;
                                case 5:
                                        fprintf(f, "(%s OR %s)%s(", leaves[leaf], leaves[leaf], op);
                                        break;
                                default:
                                        /* long lists at every level */
                                        for (unsigned j = 0; j < 31; j++)
                                                fprintf(f, "%s%s", leaves[(leaf + j) % ELEMENTSOF(leaves)], op);
                                        fputc('(', f);
                                        break;
                                }
                        }
                        fputs(leaves[leaf], f);
                        for (unsigned i = 0; i < levels; i++)
                                if (shape != 2 || i % 2 == 0)
                                        fputc(')', f);
                        assert_int_equal(fclose(f), 0);

                        got = run(db, text, true);
                        accepted += got != NULL;
                }

        /* the usual deep shapes all make it */
        assert_int_equal(accepted, 7 * ELEMENTSOF(leaves));

        /* the costliest shape for SQLite's parser within WQL's limits: a complete tree of 1024
         * array conditions, 10 levels of alternating AND and OR, at the bottom of 54 more */
        for (unsigned spine = 50; spine <= WQL_MAX_DEPTH - 10; spine += 2) {
                _cleanup_free_ char *text = NULL, *got = NULL;
                size_t n = 0;
                FILE *f = open_memstream(&text, &n);

                assert_non_null(f);
                fputs("SELECT Name FROM SMS_PackageBaseclass WHERE ", f);
                for (unsigned i = 0; i < spine; i++)
                        fprintf(f, "PackageSize = %u %s (", i, i % 2 ? "OR" : "AND");
                balanced(f, 10, true);
                for (unsigned i = 0; i < spine; i++)
                        fputc(')', f);
                assert_int_equal(fclose(f), 0);
                assert_true(strlen(text) < WQL_MAX_QUERY_LENGTH);

                got = run(db, text, true);
                assert_non_null(got);
        }
}

static void test_sql_long_lists(void **state) {
        sqlite3 *db = *state;
        _cleanup_free_ char *or_chain = NULL, *and_chain = NULL, *in_lists = NULL, *got = NULL;

        /* 3000 ORs: more than SQLite's expression depth would take as one flat list */
        or_chain = repeat("SELECT Name FROM SMS_PackageBaseclass WHERE PackageID = 'LAB00003'", " OR PackageID = 'X'",
                          3000, " OR Name = 'grüsse' OR Name = 'Grüße'");
        got = run(db, or_chain, true);
        assert_non_null(got);
        assert_string_equal(got, "LAB00003,LAB00006");
        free(got);

        and_chain = repeat("SELECT Name FROM SMS_PackageBaseclass WHERE PackageSize > 1", " AND PackageSize > 1", 3000,
                           "");
        got = run(db, and_chain, true);
        assert_non_null(got);
        assert_string_equal(got, "LAB00001,LAB00002,LAB00003");
        free(got);

        /* many parameters */
        in_lists = repeat("SELECT Name FROM SMS_PackageBaseclass WHERE PackageSize IN (5000", ",1", 1023,
                          ") OR PackageSize IN (0");
        char *s = repeat(in_lists, ",1", 1023, ")");
        free(in_lists);
        in_lists = s;
        got = run(db, in_lists, true);
        assert_non_null(got);
        assert_string_equal(got, "LAB00003,LAB00006");
}

int main(void) {
        const struct CMUnitTest parse_tests[] = {
                cmocka_unit_test(test_parse_select),
                cmocka_unit_test(test_parse_operators),
                cmocka_unit_test(test_parse_literals),
                cmocka_unit_test(test_parse_precedence),
                cmocka_unit_test(test_parse_null),
                cmocka_unit_test(test_parse_like_in),
                cmocka_unit_test(test_parse_errors),
                cmocka_unit_test(test_parse_limits),
                cmocka_unit_test(test_like),
                cmocka_unit_test(test_like_pathological),
                cmocka_unit_test(test_like_steps_bounded),
                cmocka_unit_test(test_like_compiled_reused),
        };
        const struct CMUnitTest model_tests[] = {
                cmocka_unit_test(test_check_class_and_columns),
                cmocka_unit_test(test_check_conversions),
                cmocka_unit_test(test_check_like_pattern_cap),
                cmocka_unit_test(test_check_as_scripts_write),
                cmocka_unit_test(test_compile_text),
                cmocka_unit_test(test_compile_injection),
                cmocka_unit_test(test_compile_errors),
        };
        const struct CMUnitTest sql_tests[] = {
                cmocka_unit_test(test_sql_semantics),
                cmocka_unit_test(test_sql_random),
                cmocka_unit_test(test_sql_deep),
                cmocka_unit_test(test_sql_long_lists),
        };
        int failed = 0;

        failed += cmocka_run_group_tests_name("wql-parse", parse_tests, NULL, NULL);
        failed += cmocka_run_group_tests_name("wql-check", model_tests, setup_model, NULL);
        failed += cmocka_run_group_tests_name("wql-sql", sql_tests, setup_db, teardown_db);
        return failed == 0 ? 0 : 1;
}
