/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smsprov/macro.h"
#include "smsprov/wql.h"
#include "util/array.h"

typedef enum TokenKind {
        TOKEN_END,
        TOKEN_WORD, /* identifiers and keywords */
        TOKEN_INTEGER,
        TOKEN_STRING,
        TOKEN_STAR,
        TOKEN_COMMA,
        TOKEN_LPAREN,
        TOKEN_RPAREN,
        TOKEN_EQ,
        TOKEN_NE,
        TOKEN_LT,
        TOKEN_LE,
        TOKEN_GT,
        TOKEN_GE,
} TokenKind;

typedef struct Token {
        TokenKind kind;
        size_t offset;
        const char *word; /* WORD: points into the query text */
        size_t word_length;
        int64_t integer;
        char *string; /* STRING: unescaped, owned */
} Token;

typedef struct Parser {
        const char *text;
        size_t pos;
        Token token; /* the one token of look-ahead */
        unsigned nesting; /* open parentheses and NOTs, bounds the recursion */
        SmsError *error;
} Parser;

/* Words with a meaning in the grammar; never property or class names. */
static const char *const keywords[] = {
        "SELECT", "FROM", "WHERE", "ORDER", "BY", "ASC", "DESC", "AND", "OR",
        "NOT", "LIKE", "IS", "IN", "NULL", "TRUE", "FALSE",
};

_printf_(3, 4) static int parse_error(Parser *p, size_t offset, const char *fmt, ...) {
        _cleanup_free_ char *what = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&what, fmt, ap) < 0)
                what = NULL;
        va_end(ap);

        if (!what)
                return sms_error_set_errno(p->error, ENOMEM, "Failed to parse query");
        return sms_error_set(p->error, SMS_ERROR_INVALID_QUERY, "%s at offset %zu", what, offset);
}

static int parse_oom(Parser *p) {
        return sms_error_set_errno(p->error, ENOMEM, "Failed to parse query");
}

static bool is_word_start(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_word_char(char c) {
        return is_word_start(c) || (c >= '0' && c <= '9');
}

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int hex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

static int lex_integer(Parser *p, size_t start) {
        const char *s = p->text + p->pos;
        bool negative = false;
        uint64_t magnitude = 0, limit;

        if (*s == '-') {
                negative = true;
                s++;
        }
        limit = negative ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;

        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && hex_digit(s[2]) >= 0) {
                for (s += 2; hex_digit(*s) >= 0; s++) {
                        if (magnitude > (limit - (unsigned) hex_digit(*s)) / 16)
                                return parse_error(p, start, "integer out of range");
                        magnitude = magnitude * 16 + (unsigned) hex_digit(*s);
                }
        } else
                for (; *s >= '0' && *s <= '9'; s++) {
                        if (magnitude > (limit - (unsigned) (*s - '0')) / 10)
                                return parse_error(p, start, "integer out of range");
                        magnitude = magnitude * 10 + (unsigned) (*s - '0');
                }

        /* "12abc", "1.5": no floats in WQL here, and no gluing words to numbers */
        if (is_word_char(*s) || *s == '.')
                return parse_error(p, start, "invalid number");

        p->token.kind = TOKEN_INTEGER;
        p->token.integer = negative ? (int64_t) (0 - magnitude) : (int64_t) magnitude;
        p->pos = s - p->text;
        return 0;
}

/* '…' or "…": the delimiter inside is doubled or backslash-escaped; a backslash keeps whatever
 * character follows it (so \\ is one backslash). Returns the length of the unescaped text and
 * where the closing quote is, and copies the text to buf when given. */
static int scan_string(Parser *p, size_t start, char *buf, const char **ret_end) {
        const char *s = p->text + start;
        char quote = *s++;
        size_t n = 0;

        for (;;) {
                if (*s == 0)
                        return parse_error(p, start, "unterminated string");
                if (*s == '\\') {
                        if (s[1] == 0)
                                return parse_error(p, start, "unterminated string");
                        s++;
                } else if (*s == quote) {
                        if (s[1] != quote)
                                break;
                        s++;
                }
                if (buf)
                        buf[n] = *s;
                n++;
                s++;
        }

        if (buf)
                buf[n] = 0;
        *ret_end = s;
        return (int) n;
}

static int lex_string(Parser *p, size_t start) {
        const char *end = NULL;
        char *buf;
        int r;

        /* the length is bounded by WQL_MAX_QUERY_LENGTH, so it fits an int */
        r = scan_string(p, start, NULL, &end);
        if (r < 0)
                return r;
        buf = malloc((size_t) r + 1);
        if (!buf)
                return parse_oom(p);
        (void) scan_string(p, start, buf, &end);

        p->token.kind = TOKEN_STRING;
        p->token.string = buf;
        p->pos = end + 1 - p->text;
        return 0;
}

/* The operators and punctuation; one of two characters comes before the one that starts it. */
static const struct {
        const char *text;
        TokenKind kind;
} operators[] = {
        { "<>", TOKEN_NE }, { "!=", TOKEN_NE }, { "<=", TOKEN_LE },    { ">=", TOKEN_GE },
        { "<", TOKEN_LT },  { ">", TOKEN_GT },  { "=", TOKEN_EQ },     { "*", TOKEN_STAR },
        { ",", TOKEN_COMMA }, { "(", TOKEN_LPAREN }, { ")", TOKEN_RPAREN },
};

/* Reads the next token into p->token. */
static int advance(Parser *p) {
        const char *s;
        size_t start;

        free(p->token.string);
        p->token.string = NULL;

        while (is_space(p->text[p->pos]))
                p->pos++;

        start = p->pos;
        s = p->text + start;
        p->token = (Token) { .offset = start };

        for (size_t i = 0; i < ELEMENTSOF(operators); i++) {
                size_t n = strlen(operators[i].text);
                if (strncmp(s, operators[i].text, n) == 0) {
                        p->token.kind = operators[i].kind;
                        p->pos += n;
                        return 0;
                }
        }

        switch (*s) {
        case 0:
                p->token.kind = TOKEN_END;
                return 0;
        case '!':
                return parse_error(p, start, "unexpected character '!'");
        case '\'':
        case '"':
                return lex_string(p, start);
        case '-':
                if (!(s[1] >= '0' && s[1] <= '9'))
                        return parse_error(p, start, "unexpected character '-'");
                return lex_integer(p, start);
        default:
                if (*s >= '0' && *s <= '9')
                        return lex_integer(p, start);
                if (is_word_start(*s)) {
                        while (is_word_char(p->text[p->pos]))
                                p->pos++;
                        p->token.kind = TOKEN_WORD;
                        p->token.word = s;
                        p->token.word_length = p->pos - start;
                        return 0;
                }
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return parse_error(p, start, "unexpected control character 0x%02x",
                                           (unsigned) (unsigned char) *s);
                if ((unsigned char) *s >= 0x80)
                        return parse_error(p, start, "unexpected non-ASCII character");
                return parse_error(p, start, "unexpected character '%c'", *s);
        }
}

static bool token_is_keyword(const Token *t, const char *keyword) {
        return t->kind == TOKEN_WORD && strlen(keyword) == t->word_length &&
                strncasecmp(t->word, keyword, t->word_length) == 0;
}

static bool token_is_name(const Token *t) {
        if (t->kind != TOKEN_WORD)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(keywords); i++)
                if (token_is_keyword(t, keywords[i]))
                        return false;
        return true;
}

/* Consumes the keyword if it is next. */
static int accept_keyword(Parser *p, const char *keyword, bool *ret_found) {
        if (!token_is_keyword(&p->token, keyword)) {
                *ret_found = false;
                return 0;
        }
        *ret_found = true;
        return advance(p);
}

static int expect_keyword(Parser *p, const char *keyword) {
        if (!token_is_keyword(&p->token, keyword))
                return parse_error(p, p->token.offset, "expected %s", keyword);
        return advance(p);
}

static int expect_token(Parser *p, TokenKind kind, const char *what) {
        if (p->token.kind != kind)
                return parse_error(p, p->token.offset, "expected %s", what);
        return advance(p);
}

static int take_name(Parser *p, const char *what, char **ret) {
        char *name;
        int r;

        if (!token_is_name(&p->token))
                return parse_error(p, p->token.offset, "expected %s", what);

        name = strndup(p->token.word, p->token.word_length);
        if (!name)
                return parse_oom(p);

        r = advance(p);
        if (r < 0) {
                free(name);
                return r;
        }
        *ret = name;
        return 0;
}

static void operand_init(WqlOperand *o) {
        *o = (WqlOperand) {
                .index = -1,
                .value = cim_value_null(CIM_STRING),
        };
}

static void operand_done(WqlOperand *o) {
        free(o->name);
        free(o->string);
        cim_value_clear(&o->value);
        operand_init(o);
}

static WqlNode *node_free(WqlNode *n) {
        if (!n)
                return NULL;

        /* the parser bounds the height of the tree, so this recursion is bounded too */
        node_free(n->left);
        node_free(n->right);
        operand_done(&n->lhs);
        operand_done(&n->rhs);
        for (size_t i = 0; i < n->n_list; i++)
                operand_done(&n->list[i]);
        free(n->list);
        free(n);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(WqlNode *, node_free);

static int node_new(Parser *p, WqlNodeKind kind, WqlNode **ret) {
        WqlNode *n = calloc(1, sizeof(WqlNode));
        if (!n)
                return parse_oom(p);

        n->kind = kind;
        operand_init(&n->lhs);
        operand_init(&n->rhs);
        *ret = n;
        return 0;
}

/* A literal: integer, string, TRUE, FALSE or NULL. */
static bool token_is_literal(const Token *t) {
        return t->kind == TOKEN_INTEGER || t->kind == TOKEN_STRING || token_is_keyword(t, "TRUE") ||
                token_is_keyword(t, "FALSE") || token_is_keyword(t, "NULL");
}

static int take_operand(Parser *p, WqlOperand *o) {
        Token *t = &p->token;

        operand_init(o);

        if (token_is_name(t)) {
                o->is_property = true;
                return take_name(p, "property name", &o->name);
        }

        if (t->kind == TOKEN_INTEGER) {
                o->literal_kind = WQL_LITERAL_INTEGER;
                o->integer = t->integer;
        } else if (t->kind == TOKEN_STRING) {
                o->literal_kind = WQL_LITERAL_STRING;
                o->string = TAKE_PTR(t->string);
        } else if (token_is_keyword(t, "TRUE") || token_is_keyword(t, "FALSE")) {
                o->literal_kind = WQL_LITERAL_BOOLEAN;
                o->boolean = token_is_keyword(t, "TRUE");
        } else if (token_is_keyword(t, "NULL"))
                o->literal_kind = WQL_LITERAL_NULL;
        else
                return parse_error(p, t->offset, "expected property name or literal");

        return advance(p);
}

/* "( literal, … )" after IN */
static int parse_in_list(Parser *p, WqlNode *n) {
        size_t allocated = 0;
        int r;

        r = expect_token(p, TOKEN_LPAREN, "'(' after IN");
        if (r < 0)
                return r;

        for (;;) {
                size_t offset = p->token.offset;

                if (!token_is_literal(&p->token))
                        return parse_error(p, offset, "expected literal in IN list");
                if (token_is_keyword(&p->token, "NULL"))
                        return parse_error(p, offset, "NULL is not allowed in an IN list");
                if (n->n_list >= WQL_MAX_IN_LIST)
                        return parse_error(p, offset, "IN list longer than %u elements", WQL_MAX_IN_LIST);

                if (array_grow(&n->list, &allocated, n->n_list + 1, sizeof(WqlOperand), 8) < 0)
                        return parse_oom(p);

                /* counted before it is filled, so node_free() always sees an initialised operand */
                r = take_operand(p, &n->list[n->n_list++]);
                if (r < 0)
                        return r;

                if (p->token.kind == TOKEN_RPAREN)
                        break;
                r = expect_token(p, TOKEN_COMMA, "',' or ')' in IN list");
                if (r < 0)
                        return r;
        }

        return advance(p);
}

static WqlCompare compare_mirror(WqlCompare op) {
        switch (op) {
        case WQL_LT:
                return WQL_GT;
        case WQL_LE:
                return WQL_GE;
        case WQL_GT:
                return WQL_LT;
        case WQL_GE:
                return WQL_LE;
        default:
                return op;
        }
}

static bool token_to_compare(TokenKind kind, WqlCompare *ret) {
        static const struct {
                TokenKind token;
                WqlCompare op;
        } table[] = {
                { TOKEN_EQ, WQL_EQ }, { TOKEN_NE, WQL_NE }, { TOKEN_LT, WQL_LT },
                { TOKEN_LE, WQL_LE }, { TOKEN_GT, WQL_GT }, { TOKEN_GE, WQL_GE },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (table[i].token == kind) {
                        *ret = table[i].op;
                        return true;
                }
        return false;
}

/* One condition: a comparison, LIKE, IS [NOT] NULL, [NOT] IN or IS [NOT] IN. The property ends up
 * on the left: `5 < Prop` is stored as `Prop > 5`, `NULL = Prop` as `Prop IS NULL`. */
static int parse_predicate(Parser *p, WqlNode **ret) {
        _cleanup_(node_freep) WqlNode *n = NULL;
        size_t offset = p->token.offset, op_offset;
        WqlCompare op;
        bool negated = false;
        int r;

        r = node_new(p, WQL_NODE_COMPARE, &n);
        if (r < 0)
                return r;

        r = take_operand(p, &n->lhs);
        if (r < 0)
                return r;

        op_offset = p->token.offset;

        if (token_is_keyword(&p->token, "IS")) {
                if (!n->lhs.is_property)
                        return parse_error(p, offset, "expected property name before IS");
                r = advance(p);
                if (r < 0)
                        return r;
                r = accept_keyword(p, "NOT", &negated);
                if (r < 0)
                        return r;

                n->negated = negated;
                if (token_is_keyword(&p->token, "NULL")) {
                        n->kind = WQL_NODE_IS_NULL;
                        r = advance(p);
                } else if (token_is_keyword(&p->token, "IN")) {
                        n->kind = WQL_NODE_IN;
                        r = advance(p);
                        if (r >= 0)
                                r = parse_in_list(p, n);
                } else
                        return parse_error(p, p->token.offset, "expected NULL or IN");
                if (r < 0)
                        return r;

                *ret = TAKE_PTR(n);
                return 0;
        }

        r = accept_keyword(p, "NOT", &negated);
        if (r < 0)
                return r;

        if (token_is_keyword(&p->token, "LIKE") || token_is_keyword(&p->token, "IN")) {
                bool like = token_is_keyword(&p->token, "LIKE");

                if (!n->lhs.is_property)
                        return parse_error(p, offset, "expected property name before %s", like ? "LIKE" : "IN");
                r = advance(p);
                if (r < 0)
                        return r;

                n->negated = negated;
                if (like) {
                        n->kind = WQL_NODE_LIKE;
                        if (p->token.kind != TOKEN_STRING)
                                return parse_error(p, p->token.offset, "expected string pattern after LIKE");
                        r = take_operand(p, &n->rhs);
                } else {
                        n->kind = WQL_NODE_IN;
                        r = parse_in_list(p, n);
                }
                if (r < 0)
                        return r;

                *ret = TAKE_PTR(n);
                return 0;
        }
        if (negated)
                return parse_error(p, p->token.offset, "expected LIKE or IN after NOT");

        if (!token_to_compare(p->token.kind, &op))
                return parse_error(p, op_offset, "expected comparison operator");
        r = advance(p);
        if (r < 0)
                return r;

        r = take_operand(p, &n->rhs);
        if (r < 0)
                return r;

        if (!n->lhs.is_property) {
                if (!n->rhs.is_property)
                        return parse_error(p, offset, "comparison without a property");
                WqlOperand property = n->rhs;
                n->rhs = n->lhs;
                n->lhs = property;
                op = compare_mirror(op);
        }
        n->op = op;

        if (!n->rhs.is_property && n->rhs.literal_kind == WQL_LITERAL_NULL) {
                if (op != WQL_EQ && op != WQL_NE)
                        return parse_error(p, op_offset, "NULL can only be compared with = or <>");
                n->kind = WQL_NODE_IS_NULL;
                n->negated = op == WQL_NE;
                operand_done(&n->rhs);
        }

        *ret = TAKE_PTR(n);
        return 0;
}

static int parse_or(Parser *p, WqlNode **ret, unsigned *ret_height);

/* Enters a NOT or a parenthesis at OFFSET: one level deeper, and past its first token. */
static int nest(Parser *p, size_t offset) {
        if (p->nesting >= WQL_MAX_DEPTH)
                return parse_error(p, offset, "conditions nested deeper than %u", WQL_MAX_DEPTH);
        p->nesting++;
        return advance(p);
}

typedef int (*ParseFunc)(Parser *p, WqlNode **ret, unsigned *ret_height);

/* A NOT's operand or the condition in a parenthesis (then with its ')'), one level deeper. */
static int parse_nested(Parser *p, size_t offset, ParseFunc parse, bool paren, WqlNode **ret, unsigned *ret_height) {
        int r = nest(p, offset);
        if (r >= 0)
                r = parse(p, ret, ret_height);
        if (r >= 0 && paren)
                r = expect_token(p, TOKEN_RPAREN, "')'");
        if (r < 0)
                return r;
        p->nesting--;
        return 0;
}

/* NOT not | ( or ) | predicate */
static int parse_not(Parser *p, WqlNode **ret, unsigned *ret_height) {
        size_t offset = p->token.offset;
        int r;

        if (token_is_keyword(&p->token, "NOT")) {
                _cleanup_(node_freep) WqlNode *n = NULL, *child = NULL;
                unsigned height;

                r = parse_nested(p, offset, parse_not, false, &child, &height);
                if (r < 0)
                        return r;

                if (height + 1 > WQL_MAX_DEPTH)
                        return parse_error(p, offset, "conditions nested deeper than %u", WQL_MAX_DEPTH);
                r = node_new(p, WQL_NODE_NOT, &n);
                if (r < 0)
                        return r;
                n->left = TAKE_PTR(child);

                *ret = TAKE_PTR(n);
                *ret_height = height + 1;
                return 0;
        }

        if (p->token.kind == TOKEN_LPAREN) {
                _cleanup_(node_freep) WqlNode *n = NULL;
                unsigned height;

                r = parse_nested(p, offset, parse_or, true, &n, &height);
                if (r < 0)
                        return r;

                *ret = TAKE_PTR(n);
                *ret_height = height;
                return 0;
        }

        *ret_height = 0;
        return parse_predicate(p, ret);
}

/* Joins the operands of a chain of one operator (a OR b OR c …) into a balanced tree, pairing
 * neighbours level by level, so that long lists stay shallow for the recursive steps that follow
 * and cannot exhaust the stack. Takes ownership of the operands, frees them on failure. */
static int join_chain(Parser *p, WqlNodeKind kind, size_t offset, WqlNode **items, unsigned *heights, size_t n,
                      WqlNode **ret, unsigned *ret_height) {
        int r = 0;

        assert(n > 0);

        while (n > 1) {
                size_t k = 0;

                for (size_t i = 0; i < n; i += 2, k++) {
                        WqlNode *joined = NULL;
                        unsigned height;

                        if (i + 1 == n) {
                                items[k] = items[i];
                                heights[k] = heights[i];
                                continue;
                        }

                        height = (heights[i] > heights[i + 1] ? heights[i] : heights[i + 1]) + 1;
                        if (height > WQL_MAX_DEPTH)
                                r = parse_error(p, offset, "conditions nested deeper than %u", WQL_MAX_DEPTH);
                        else
                                r = node_new(p, kind, &joined);
                        if (r < 0) {
                                /* joined so far: [0, k); not yet: [i, n) */
                                for (size_t j = 0; j < k; j++)
                                        node_free(items[j]);
                                for (size_t j = i; j < n; j++)
                                        node_free(items[j]);
                                return r;
                        }

                        joined->left = items[i];
                        joined->right = items[i + 1];
                        items[k] = joined;
                        heights[k] = height;
                }
                n = k;
        }

        *ret = items[0];
        *ret_height = heights[0];
        return 0;
}

typedef struct Chain {
        WqlNode **items;
        unsigned *heights;
        size_t n, allocated;
} Chain;

static void chain_done(Chain *c) {
        for (size_t i = 0; i < c->n; i++)
                node_free(c->items[i]);
        free(c->items);
        free(c->heights);
        *c = (Chain) {};
}

static int chain_add(Parser *p, Chain *c, WqlNode *n, unsigned height) {
        if (c->n >= c->allocated) {
                size_t k = c->allocated > 0 ? c->allocated * 2 : 4;
                WqlNode **items = reallocarray(c->items, k, sizeof(WqlNode *));
                if (!items)
                        return parse_oom(p);
                c->items = items;
                unsigned *heights = reallocarray(c->heights, k, sizeof(unsigned));
                if (!heights)
                        return parse_oom(p);
                c->heights = heights;
                c->allocated = k;
        }
        c->items[c->n] = n;
        c->heights[c->n++] = height;
        return 0;
}

/* operand { keyword operand }, for AND (operands: parse_not) and OR (operands: parse_and) */
static int parse_chain(Parser *p, const char *keyword, WqlNodeKind kind,
                       int (*parse_operand)(Parser *p, WqlNode **ret, unsigned *ret_height),
                       WqlNode **ret, unsigned *ret_height) {
        _cleanup_(chain_done) Chain chain = {};
        size_t offset = p->token.offset;
        int r;

        for (;;) {
                WqlNode *n;
                unsigned height;
                bool more;

                r = parse_operand(p, &n, &height);
                if (r < 0)
                        return r;
                r = chain_add(p, &chain, n, height);
                if (r < 0) {
                        node_free(n);
                        return r;
                }

                r = accept_keyword(p, keyword, &more);
                if (r < 0)
                        return r;
                if (!more)
                        break;
        }

        r = join_chain(p, kind, offset, chain.items, chain.heights, chain.n, ret, ret_height);
        chain.n = 0; /* handed over (or freed) by join_chain() */
        return r;
}

static int parse_and(Parser *p, WqlNode **ret, unsigned *ret_height) {
        return parse_chain(p, "AND", WQL_NODE_AND, parse_not, ret, ret_height);
}

static int parse_or(Parser *p, WqlNode **ret, unsigned *ret_height) {
        return parse_chain(p, "OR", WQL_NODE_OR, parse_and, ret, ret_height);
}

static int parse_select_list(Parser *p, WqlQuery *q) {
        size_t n = 0, allocated = 0;
        int r;

        if (p->token.kind == TOKEN_STAR) {
                q->select_all = true;
                return advance(p);
        }

        for (;;) {
                /* Room for the name and the NULL after it. */
                if (array_grow(&q->select, &allocated, n + 2, sizeof(char *), 8) < 0)
                        return parse_oom(p);
                q->select[n] = NULL;

                r = take_name(p, "property name or *", &q->select[n]);
                if (r < 0)
                        return r;
                q->select[++n] = NULL;

                if (p->token.kind != TOKEN_COMMA)
                        return 0;
                r = advance(p);
                if (r < 0)
                        return r;
        }
}

static int parse_order_by(Parser *p, WqlQuery *q) {
        size_t allocated = 0;
        int r;

        for (;;) {
                bool found;

                if (array_grow(&q->order, &allocated, q->n_order + 1, sizeof(WqlOrder), 4) < 0)
                        return parse_oom(p);

                WqlOrder *o = &q->order[q->n_order];
                *o = (WqlOrder) { .index = -1 };
                r = take_name(p, "property name", &o->name);
                if (r < 0)
                        return r;
                q->n_order++;

                r = accept_keyword(p, "DESC", &found);
                if (r < 0)
                        return r;
                o->descending = found;
                if (!found) {
                        r = accept_keyword(p, "ASC", &found);
                        if (r < 0)
                                return r;
                }

                if (p->token.kind != TOKEN_COMMA)
                        return 0;
                r = advance(p);
                if (r < 0)
                        return r;
        }
}

static void parser_done(Parser *p) {
        free(p->token.string);
        p->token.string = NULL;
}

int wql_parse(const char *text, WqlQuery **ret, SmsError *e) {
        _cleanup_(parser_done) Parser p = { .text = text, .error = e };
        _cleanup_(wql_query_freep) WqlQuery *q = NULL;
        bool found;
        int r;

        assert(text);
        assert(ret);

        if (strnlen(text, WQL_MAX_QUERY_LENGTH + 1) > WQL_MAX_QUERY_LENGTH)
                return sms_error_set(e, SMS_ERROR_INVALID_QUERY, "query longer than %u bytes",
                                     WQL_MAX_QUERY_LENGTH);

        q = calloc(1, sizeof(WqlQuery));
        if (!q)
                return parse_oom(&p);

        r = advance(&p);
        if (r < 0)
                return r;

        r = expect_keyword(&p, "SELECT");
        if (r < 0)
                return r;
        r = parse_select_list(&p, q);
        if (r < 0)
                return r;
        r = expect_keyword(&p, "FROM");
        if (r < 0)
                return r;
        r = take_name(&p, "class name", &q->class_name);
        if (r < 0)
                return r;

        r = accept_keyword(&p, "WHERE", &found);
        if (r < 0)
                return r;
        if (found) {
                unsigned height;

                r = parse_or(&p, &q->where, &height);
                if (r < 0)
                        return r;
                assert(p.nesting == 0);
        }

        r = accept_keyword(&p, "ORDER", &found);
        if (r < 0)
                return r;
        if (found) {
                r = expect_keyword(&p, "BY");
                if (r < 0)
                        return r;
                r = parse_order_by(&p, q);
                if (r < 0)
                        return r;
        }

        if (p.token.kind != TOKEN_END)
                return parse_error(&p, p.token.offset, "expected end of query");

        *ret = TAKE_PTR(q);
        return 0;
}

WqlQuery *wql_query_free(WqlQuery *q) {
        if (!q)
                return NULL;

        free(q->class_name);
        strv_free(q->select);
        node_free(q->where);
        for (size_t i = 0; i < q->n_order; i++)
                free(q->order[i].name);
        free(q->order);
        free(q->columns);
        free(q);
        return NULL;
}

void wql_rows_free(WqlRow *rows, size_t n, size_t n_columns) {
        for (size_t i = 0; i < n; i++) {
                free(rows[i].key);
                for (size_t j = 0; j < n_columns; j++)
                        cim_value_clear(&rows[i].values[j]);
                free(rows[i].values);
        }
        free(rows);
}
