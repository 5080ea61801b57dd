/* SPDX-License-Identifier: MIT */

/* Reading driver INF files (include/smsprov/inf.h). Three steps: the bytes are decoded to UTF-8
 * text; the text is cut into sections and entries, each entry a key and its values with quotes,
 * comments and continuations resolved (kept in one arena, so that memory follows the INF's size);
 * then the sections that describe the driver are read and their %strkey% tokens substituted.
 * Malformed text is reported where it matters: a section that nothing reads (an AddReg list, a
 * DDInstall section) may hold an unterminated quote without failing the parse, as in Windows. */

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smsprov/inf.h"
#include "smsprov/macro.h"
#include "smsprov/utf8.h"
#include "util/array.h"
#include "util/time-util.h"

#define NO_KEY UINT32_MAX

typedef struct Entry {
        uint32_t line;        /* where the entry starts */
        uint32_t key;         /* arena offset of the text before '=', NO_KEY without '=' */
        uint32_t first_value; /* index into Parser.values */
        uint32_t n_values;
        bool unterminated_quote;
} Entry;

typedef struct Section {
        uint32_t name; /* arena offset */
        uint32_t line;
        uint32_t first_entry, n_entries;
} Section;

/* The sections of one name: Windows merges sections that share a name. A range of
 * Parser.by_name. */
typedef struct Group {
        size_t first, n;
} Group;

/* Entries of a section by key, for [Strings] and [SourceDisksNames] lookups. */
typedef struct KeyIndex {
        uint32_t *entries; /* entry indexes sorted by key (ASCII case-insensitive), then position */
        size_t n;
} KeyIndex;

typedef struct Locale {
        uint16_t language_id;
        Group group;
        KeyIndex strings;
} Locale;

typedef struct Parser {
        SmsError *e;
        char *text; /* the INF decoded: UTF-8, NUL-terminated, no NUL inside */

        char *arena; /* keys, values and section names, each NUL-terminated */
        size_t arena_size, arena_alloc;
        Entry *entries;
        size_t n_entries, entries_alloc;
        uint32_t *values; /* arena offsets */
        size_t n_values, values_alloc;
        Section *sections;
        size_t n_sections, sections_alloc;
        uint32_t *by_name; /* section indexes sorted by name, then position */

        KeyIndex default_strings; /* see InfDriver.localized_display_name */
        Locale *locales;          /* the [Strings.<LanguageID>] sections, in file order */
        size_t n_locales;
        bool *models_read; /* by Parser.by_name position of a group's first section */
        size_t n_ids;
        size_t result_bytes;
} Parser;

static void key_index_done(KeyIndex *k) {
        free(k->entries);
        *k = (KeyIndex) {};
}

static void parser_done(Parser *p) {
        free(p->text);
        free(p->arena);
        free(p->entries);
        free(p->values);
        free(p->sections);
        free(p->by_name);
        key_index_done(&p->default_strings);
        for (size_t i = 0; i < p->n_locales; i++)
                key_index_done(&p->locales[i].strings);
        free(p->locales);
        free(p->models_read);
}

/* --- small helpers ------------------------------------------------------------------------------ */

/* Room for `need` elements in a parser's array, at least 16. */
static int grow(void *array, size_t *alloc, size_t need, size_t size) {
        return array_grow(array, alloc, need, size, 16);
}

/* Section names, keys and tokens compare without the process's locale. */
static unsigned char ascii_lower(unsigned char c) {
        return c >= 'A' && c <= 'Z' ? (unsigned char) (c + ('a' - 'A')) : c;
}

/* a compared with the text b[0..len), which ends there or at its NUL. */
static int ascii_casecmp_n(const char *a, const char *b, size_t len) {
        for (size_t i = 0;; i++) {
                unsigned char x = ascii_lower((unsigned char) a[i]);
                unsigned char y = i < len ? ascii_lower((unsigned char) b[i]) : 0;
                if (x != y || x == 0)
                        return (int) x - (int) y;
        }
}

static int ascii_casecmp(const char *a, const char *b) {
        return ascii_casecmp_n(a, b, SIZE_MAX);
}

static bool ascii_prefix(const char *s, const char *prefix) {
        for (; *prefix; s++, prefix++) {
                if ((char) ascii_lower((unsigned char) *s) != *prefix)
                        return false;
        }
        return true;
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Characters, not bytes: Windows' limits count characters. */
static size_t utf8_chars(const char *s, size_t n) {
        size_t chars = 0;
        for (size_t i = 0; i < n; i++)
                chars += ((unsigned char) s[i] & 0xC0) != 0x80;
        return chars;
}

static const char *arena_string(const Parser *p, uint32_t offset) {
        return p->arena + offset;
}

static const char *entry_value(const Parser *p, const Entry *en, size_t i) {
        return i < en->n_values ? arena_string(p, p->values[en->first_value + i]) : "";
}

static int bad(Parser *p, const char *fmt, ...) _printf_(2, 3);
static int bad(Parser *p, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        int r = sms_error_setv(p->e, SMS_ERROR_INVALID_PARAMETER, fmt, ap);
        va_end(ap);
        return r;
}

/* Counts bytes of the result against INF_RESULT_MAX. */
static int result_add(Parser *p, size_t n) {
        if (n > INF_RESULT_MAX - p->result_bytes)
                return bad(p, "the driver's names, IDs and files come to more than %u bytes", INF_RESULT_MAX);
        p->result_bytes += n;
        return 0;
}

static int result_strdup(Parser *p, const char *s, char **ret) {
        size_t n = strlen(s) + 1;
        int r = result_add(p, n);
        if (r < 0)
                return r;
        *ret = malloc(n);
        if (!*ret)
                return -ENOMEM;
        memcpy(*ret, s, n);
        return 0;
}

/* The platform extensions of section names and [Version] keys (after "nt" there). */
static const char *const arch_extensions[_INF_ARCH_MAX] = {
        [INF_ARCH_X86] = "x86",   [INF_ARCH_X64] = "amd64", [INF_ARCH_ARM64] = "arm64",
        [INF_ARCH_IA64] = "ia64", [INF_ARCH_ARM] = "arm",
};

/* --- decoding ----------------------------------------------------------------------------------- */

/* Windows-1252's 0x80-0x9F; the five bytes it leaves undefined map to the C1 controls, as
 * MultiByteToWideChar() maps them. */
static const uint16_t cp1252_high[32] = {
        0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
        0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

typedef struct Decoder {
        char *out;
        size_t size;
        unsigned line;
        size_t line_bytes; /* of the current line, a CR before its LF not counted */
        bool done;         /* Ctrl-Z seen: the DOS end of file */
} Decoder;

/* Appends one code point of the INF's text, refusing what no text holds. */
static int decoder_put(Parser *p, Decoder *d, uint32_t c) {
        if (c == 0)
                return bad(p, "line %u: a NUL character (a UTF-16 INF needs its byte order mark)", d->line);
        if (c == 0x1A) {
                d->done = true;
                return 0;
        }
        if (unichar_is_noncharacter(c))
                return bad(p, "line %u: the noncharacter U+%04X", d->line, (unsigned) c);
        if (c == '\n') {
                if (d->line_bytes > 0 && d->out[d->size - 1] == '\r')
                        d->line_bytes--;
                if (d->line_bytes > INF_LINE_MAX)
                        return bad(p, "line %u: longer than %u bytes", d->line, INF_LINE_MAX);
                d->line++;
                d->line_bytes = 0;
                d->out[d->size++] = '\n';
                return 0;
        }
        size_t n = utf8_encode(c, d->out + d->size);
        d->size += n;
        d->line_bytes += n;
        /* One byte of slack for a CR that a LF may follow. */
        if (d->line_bytes > INF_LINE_MAX + 1)
                return bad(p, "line %u: longer than %u bytes", d->line, INF_LINE_MAX);
        return 0;
}

static int decode_utf16(Parser *p, Decoder *d, const uint8_t *b, size_t size, bool big_endian) {
        if (size % 2 != 0)
                return bad(p, "invalid UTF-16: an odd number of bytes");
        for (size_t i = 0; i < size && !d->done; i += 2) {
                uint32_t c = big_endian ? (uint32_t) (b[i] << 8 | b[i + 1]) : (uint32_t) (b[i + 1] << 8 | b[i]);
                if (c >= 0xDC00 && c <= 0xDFFF)
                        return bad(p, "line %u: invalid UTF-16: a low surrogate without its high one", d->line);
                if (c >= 0xD800 && c <= 0xDBFF) {
                        uint32_t low = 0;
                        if (i + 3 < size)
                                low = big_endian ? (uint32_t) (b[i + 2] << 8 | b[i + 3])
                                                 : (uint32_t) (b[i + 3] << 8 | b[i + 2]);
                        if (low < 0xDC00 || low > 0xDFFF)
                                return bad(p, "line %u: invalid UTF-16: a high surrogate without its low one", d->line);
                        c = 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00);
                        i += 2;
                }
                int r = decoder_put(p, d, c);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Where the first sequence of s[0..size) that is not UTF-8 starts, SIZE_MAX when there is none.
 * s is NUL-terminated at s[size]; a NUL inside is UTF-8 (decoder_put() refuses it). */
static size_t utf8_invalid_at(const char *s, size_t size) {
        for (size_t i = 0; i < size;) {
                uint32_t c;
                size_t n = utf8_decode(s + i, &c);
                if (n == 0)
                        return i;
                i += n;
        }
        return SIZE_MAX;
}

static int decode(Parser *p, const uint8_t *data, size_t size) {
        _cleanup_free_ char *copy = NULL;
        Decoder d = { .line = 1 };
        int r = 0;

        if (size > INF_MAX_SIZE)
                return bad(p, "the INF is larger than %u bytes", INF_MAX_SIZE);

        if (size >= 2 && ((data[0] == 0xFF && data[1] == 0xFE) || (data[0] == 0xFE && data[1] == 0xFF))) {
                /* At most 3 bytes of UTF-8 for a UTF-16 unit (4 for a pair of them). */
                d.out = malloc((size - 2) / 2 * 3 + 1);
                if (!d.out)
                        return -ENOMEM;
                r = decode_utf16(p, &d, data + 2, size - 2, data[0] == 0xFE);
        } else {
                bool bom = size >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF;
                size_t skip = bom ? 3 : 0, n = size - skip;

                copy = malloc(n + 1);
                if (!copy)
                        return -ENOMEM;
                memcpy(copy, data + skip, n);
                copy[n] = 0;
                size_t invalid = utf8_invalid_at(copy, n);
                /* UTF-8 stays as long as it is; a Windows-1252 byte takes up to 3. */
                d.out = malloc(invalid == SIZE_MAX ? n + 1 : n * 3 + 1);
                if (!d.out)
                        return -ENOMEM;
                if (invalid != SIZE_MAX && bom) {
                        unsigned line = 1;
                        for (size_t i = 0; i < invalid; i++)
                                line += copy[i] == '\n';
                        r = bad(p, "line %u: invalid UTF-8", line);
                } else if (invalid == SIZE_MAX)
                        for (size_t i = 0; i < n && !d.done && r >= 0;) {
                                uint32_t c;
                                size_t len = utf8_decode(copy + i, &c);
                                r = decoder_put(p, &d, c);
                                i += len;
                        }
                else
                        /* Not UTF-8, and no BOM says it should be: what Windows reads it as on a
                         * Western system. */
                        for (size_t i = 0; i < n && !d.done && r >= 0; i++) {
                                unsigned char b = (unsigned char) copy[i];
                                r = decoder_put(p, &d, b >= 0x80 && b < 0xA0 ? cp1252_high[b - 0x80] : b);
                        }
        }
        if (r >= 0 && d.line_bytes - (d.size > 0 && d.out[d.size - 1] == '\r') > INF_LINE_MAX)
                r = bad(p, "line %u: longer than %u bytes", d.line, INF_LINE_MAX);
        if (r < 0) {
                free(d.out);
                return r;
        }
        d.out[d.size] = 0;
        char *shrunk = realloc(d.out, d.size + 1);
        p->text = shrunk ?: d.out;
        return 0;
}

/* --- sections and entries ----------------------------------------------------------------------- */

static int arena_put(Parser *p, char c) {
        if (p->arena_size >= UINT32_MAX - 1)
                return -ENOMEM; /* unreachable: the text is at most 48 MiB */
        int r = grow(&p->arena, &p->arena_alloc, p->arena_size + 1, 1);
        if (r < 0)
                return r;
        p->arena[p->arena_size++] = c;
        return 0;
}

/* Whether the '\' at s ends its line (blanks and a comment may follow it): a continuation. Sets
 * *ret_next to the start of the next line, or to the NUL at the end of the text. */
static bool continuation_at(const char *s, const char **ret_next) {
        assert(*s == '\\');
        s++;
        while (is_blank(*s) && !(s[0] == '\r' && s[1] == '\n'))
                s++;
        if (*s == ';')
                s += strcspn(s, "\n");
        if (*s == '\r' && s[1] == '\n')
                s++;
        if (*s != '\n' && *s != 0)
                return false;
        *ret_next = *s ? s + 1 : s;
        return true;
}

/* The bytes of the line from start to end (its LF or the NUL at the end of the text), the CR of a
 * CRLF not counted: the limit is the same for DOS and Unix line ends. */
static size_t content_length(const char *start, const char *end) {
        size_t n = (size_t) (end - start);
        return n > 0 && *end == '\n' && end[-1] == '\r' ? n - 1 : n;
}

typedef struct EntryScan {
        size_t field_start; /* arena offset */
        size_t significant; /* arena size after the last character that is not trailing blank */
        bool started;       /* leading blanks are over */
} EntryScan;

/* Ends the value (or key) being read: trailing unquoted blanks dropped, NUL-terminated. */
static int finish_field(Parser *p, EntryScan *f, unsigned line, uint32_t *ret_offset) {
        p->arena_size = f->significant;
        if (utf8_chars(p->arena + f->field_start, f->significant - f->field_start) > INF_FIELD_MAX)
                return bad(p, "line %u: a value longer than %u characters", line, INF_FIELD_MAX);
        int r = arena_put(p, 0);
        if (r < 0)
                return r;
        *ret_offset = (uint32_t) f->field_start;
        *f = (EntryScan) { .field_start = p->arena_size, .significant = p->arena_size };
        return 0;
}

static int add_value(Parser *p, EntryScan *f, Entry *en) {
        uint32_t offset;
        int r = finish_field(p, f, en->line, &offset);
        if (r < 0)
                return r;
        if (en->n_values >= INF_ENTRY_VALUES_MAX)
                return bad(p, "line %u: more than %u values in one entry", en->line, INF_ENTRY_VALUES_MAX);
        if (p->n_values >= INF_VALUES_MAX)
                return bad(p, "more than %u values in the INF (line %u)", INF_VALUES_MAX, en->line);
        r = grow(&p->values, &p->values_alloc, p->n_values + 1, sizeof(uint32_t));
        if (r < 0)
                return r;
        p->values[p->n_values++] = offset;
        en->n_values++;
        return 0;
}

/* Reads the entry that starts at *pos, on line *line, through its continuation lines; leaves *pos
 * at the end of its last line. In [Strings] sections the value after '=' is one string, commas
 * and all (the WDK lets an unquoted string hold commas). */
static int parse_entry(Parser *p, const char **pos, unsigned *line, bool strings) {
        const char *s = *pos, *line_start = s;
        size_t arena_mark = p->arena_size, values_mark = p->n_values, bytes = 0;
        Entry en = { .line = *line, .key = NO_KEY, .first_value = (uint32_t) p->n_values };
        EntryScan f = { .field_start = p->arena_size, .significant = p->arena_size };
        bool quoted = false, content = false, comma = false;
        int r;

        for (;;) {
                char c = *s;
                bool eol = c == 0 || c == '\n' || (c == '\r' && s[1] == '\n');

                if (quoted) {
                        if (eol) {
                                /* Windows closes it here; the entry is refused if anything reads it. */
                                en.unterminated_quote = true;
                                quoted = false;
                                continue;
                        }
                        if (c == '"' && s[1] == '"') {
                                r = arena_put(p, '"');
                                s += 2;
                        } else if (c == '"') {
                                quoted = false;
                                s++;
                                r = 0;
                        } else {
                                r = arena_put(p, c);
                                s++;
                        }
                        if (r < 0)
                                return r;
                        f.significant = p->arena_size;
                        continue;
                }
                if (eol || c == ';') {
                        s += strcspn(s, "\n");
                        break;
                }
                const char *next;
                if (c == '\\' && continuation_at(s, &next)) {
                        if (*next == 0)
                                return bad(p, "line %u: '\\' continues the last line, but the file ends", *line);
                        bytes += content_length(line_start, next - 1);
                        if (bytes > INF_LINE_MAX)
                                return bad(p, "line %u: an entry longer than %u bytes with its continuation lines",
                                           en.line, INF_LINE_MAX);
                        (*line)++;
                        s = line_start = next;
                        /* The blanks around a continuation are no part of the value (as in Windows). */
                        p->arena_size = f.significant;
                        while (is_blank(*s) && !(s[0] == '\r' && s[1] == '\n'))
                                s++;
                        continue;
                }
                content = true;
                if (c == '"') {
                        quoted = true;
                        f.started = true;
                        f.significant = p->arena_size;
                        s++;
                        continue;
                }
                if (c == '=' && en.key == NO_KEY && !comma) {
                        r = finish_field(p, &f, en.line, &en.key);
                        if (r < 0)
                                return r;
                        s++;
                        continue;
                }
                if (c == ',' && !(strings && en.key != NO_KEY)) {
                        r = add_value(p, &f, &en);
                        if (r < 0)
                                return r;
                        comma = true;
                        s++;
                        continue;
                }
                if (is_blank(c) && !f.started) {
                        s++;
                        continue;
                }
                r = arena_put(p, c);
                if (r < 0)
                        return r;
                if (!is_blank(c)) {
                        f.started = true;
                        f.significant = p->arena_size;
                }
                s++;
        }
        bytes += content_length(line_start, s);
        if (bytes > INF_LINE_MAX)
                return bad(p, "line %u: an entry longer than %u bytes with its continuation lines", en.line,
                           INF_LINE_MAX);
        *pos = s;

        if (!content && f.significant == f.field_start) {
                /* Only continuation backslashes and blanks: no entry. */
                p->arena_size = arena_mark;
                p->n_values = values_mark;
                return 0;
        }
        r = add_value(p, &f, &en);
        if (r < 0)
                return r;
        if (p->n_sections == 0)
                return bad(p, "line %u: an entry before the first [section]", en.line);
        if (p->n_entries >= INF_ENTRIES_MAX)
                return bad(p, "more than %u entries (line %u)", INF_ENTRIES_MAX, en.line);
        r = grow(&p->entries, &p->entries_alloc, p->n_entries + 1, sizeof(Entry));
        if (r < 0)
                return r;
        p->entries[p->n_entries++] = en;
        p->sections[p->n_sections - 1].n_entries++;
        return 0;
}

/* "[name]" at *pos; whatever follows the ']' on its line is ignored, as in Windows. Sets
 * *ret_strings for [Strings] and [Strings.*]. */
static int parse_section_header(Parser *p, const char **pos, unsigned line, bool *ret_strings) {
        const char *s = *pos + 1, *end = s + strcspn(s, "]\n");
        int r;

        assert(**pos == '[');
        if (*end != ']')
                return bad(p, "line %u: unterminated section name (no ']')", line);
        *pos = end + strcspn(end, "\n");
        while (s < end && is_blank(*s))
                s++;
        while (end > s && is_blank(end[-1]))
                end--;
        if (s == end)
                return bad(p, "line %u: empty section name", line);
        if (utf8_chars(s, (size_t) (end - s)) > INF_SECTION_NAME_MAX)
                return bad(p, "line %u: a section name longer than %u characters", line, INF_SECTION_NAME_MAX);
        if (p->n_sections >= INF_SECTIONS_MAX)
                return bad(p, "line %u: more than %u sections", line, INF_SECTIONS_MAX);

        r = grow(&p->sections, &p->sections_alloc, p->n_sections + 1, sizeof(Section));
        if (r < 0)
                return r;
        Section *sec = &p->sections[p->n_sections];
        *sec = (Section) { .name = (uint32_t) p->arena_size, .line = line, .first_entry = (uint32_t) p->n_entries };
        for (const char *c = s; c < end; c++) {
                r = arena_put(p, *c);
                if (r < 0)
                        return r;
        }
        r = arena_put(p, 0);
        if (r < 0)
                return r;
        p->n_sections++;
        const char *name = arena_string(p, sec->name);
        *ret_strings = ascii_casecmp(name, "strings") == 0 || ascii_prefix(name, "strings.");
        return 0;
}

static int tokenize(Parser *p) {
        const char *s = p->text;
        unsigned line = 1;
        bool strings = false;
        int r;

        /* Never NULL, so that p->arena + 0 and p->entries + 0 are pointers. */
        if (grow(&p->arena, &p->arena_alloc, 1, 1) < 0 || grow(&p->entries, &p->entries_alloc, 1, sizeof(Entry)) < 0 ||
            grow(&p->values, &p->values_alloc, 1, sizeof(uint32_t)) < 0 ||
            grow(&p->sections, &p->sections_alloc, 1, sizeof(Section)) < 0)
                return -ENOMEM;

        for (;;) {
                while (is_blank(*s) && !(s[0] == '\r' && s[1] == '\n'))
                        s++;
                if (*s == 0)
                        return 0;
                if (*s == '[')
                        r = parse_section_header(p, &s, line, &strings);
                else if (*s == ';' || *s == '\n' || *s == '\r') {
                        s += strcspn(s, "\n");
                        r = 0;
                } else
                        r = parse_entry(p, &s, &line, strings);
                if (r < 0)
                        return r;
                if (*s == '\n') {
                        s++;
                        line++;
                }
        }
}

static int compare_sections(const void *a, const void *b, void *userdata) {
        const Parser *p = userdata;
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        int c = ascii_casecmp(arena_string(p, p->sections[x].name), arena_string(p, p->sections[y].name));
        return c != 0 ? c : (x > y) - (x < y);
}

static int index_sections(Parser *p) {
        p->by_name = malloc(sizeof(uint32_t) * (p->n_sections + 1));
        p->models_read = calloc(p->n_sections + 1, sizeof(bool));
        if (!p->by_name || !p->models_read)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_sections; i++)
                p->by_name[i] = (uint32_t) i;
        qsort_r(p->by_name, p->n_sections, sizeof(uint32_t), compare_sections, p);
        return 0;
}

static const char *group_name(const Parser *p, size_t by_name_pos) {
        return arena_string(p, p->sections[p->by_name[by_name_pos]].name);
}

/* The first position in by_name whose name is not below name (upper: above it). */
static size_t bound(const Parser *p, const char *name, bool upper) {
        size_t lo = 0, hi = p->n_sections;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = ascii_casecmp(group_name(p, mid), name);
                if (c < 0 || (upper && c == 0))
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

/* The sections called name (any case): their positions in by_name. Binary searches both ends: a
 * name may have thousands of sections, and be looked up as often. */
static bool find_group(const Parser *p, const char *name, Group *ret) {
        size_t first = bound(p, name, false), end = bound(p, name, true);

        *ret = (Group) { .first = first, .n = end - first };
        return end > first;
}

/* Calls for every entry of a group, in file order. */
#define GROUP_FOREACH_ENTRY(p, g, en)                                                              \
        for (size_t _k = (g).first; _k < (g).first + (g).n; _k++)                                  \
                for (const Entry *en = (p)->entries + (p)->sections[(p)->by_name[_k]].first_entry; \
                     en < (p)->entries + (p)->sections[(p)->by_name[_k]].first_entry +             \
                                  (p)->sections[(p)->by_name[_k]].n_entries;                        \
                     en++)

static int check_entry(Parser *p, const Entry *en) {
        if (en->unterminated_quote)
                return bad(p, "line %u: unterminated quoted string", en->line);
        return 0;
}

/* --- keyed lookups ([Strings], [SourceDisksNames]) ---------------------------------------------- */

static int compare_keys(const void *a, const void *b, void *userdata) {
        const Parser *p = userdata;
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        int c = ascii_casecmp(arena_string(p, p->entries[x].key), arena_string(p, p->entries[y].key));
        return c != 0 ? c : (x > y) - (x < y);
}

static int key_index_build(Parser *p, Group g, KeyIndex *ret) {
        size_t n = 0;

        GROUP_FOREACH_ENTRY(p, g, en)
                n += en->key != NO_KEY;
        ret->entries = malloc(sizeof(uint32_t) * (n + 1));
        if (!ret->entries)
                return -ENOMEM;
        ret->n = 0;
        GROUP_FOREACH_ENTRY(p, g, en)
                if (en->key != NO_KEY)
                        ret->entries[ret->n++] = (uint32_t) (en - p->entries);
        qsort_r(ret->entries, ret->n, sizeof(uint32_t), compare_keys, p);
        return 0;
}

/* The first entry whose key is key[0..len). */
static const Entry *key_index_find(const Parser *p, const KeyIndex *k, const char *key, size_t len) {
        size_t lo = 0, hi = k->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (ascii_casecmp_n(arena_string(p, p->entries[k->entries[mid]].key), key, len) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo < k->n && ascii_casecmp_n(arena_string(p, p->entries[k->entries[lo]].key), key, len) == 0)
                return &p->entries[k->entries[lo]];
        return NULL;
}

/* --- string substitution ------------------------------------------------------------------------ */

typedef struct Buffer {
        char *data;
        size_t size, alloc;
        size_t chars;
} Buffer;

static void buffer_done(Buffer *b) {
        free(b->data);
        *b = (Buffer) {};
}

static int buffer_append(Parser *p, Buffer *b, const char *s, size_t n, unsigned line) {
        b->chars += utf8_chars(s, n);
        if (b->chars > INF_FIELD_MAX)
                return bad(p, "line %u: a value longer than %u characters after string substitution", line,
                           INF_FIELD_MAX);
        int r = grow(&b->data, &b->alloc, b->size + n + 1, 1);
        if (r < 0)
                return r;
        memcpy(b->data + b->size, s, n);
        b->size += n;
        b->data[b->size] = 0;
        return 0;
}

/* Replaces the %strkey% tokens of raw (from the entry on line) with their strings, looked up in
 * tables[0], then tables[1], …; %% is a percent sign. A string's own text is not substituted
 * again (as in Windows). %<number>% that no [Strings] defines is a directory ID and stays. */
static int substitute_in(Parser *p, const KeyIndex *const *tables, size_t n_tables, const char *raw,
                         unsigned line, char **ret) {
        _cleanup_(buffer_done) Buffer b = {};
        int r;

        r = buffer_append(p, &b, "", 0, line); /* "" when raw is */
        if (r < 0)
                return r;
        for (const char *s = raw; *s;) {
                size_t plain = strcspn(s, "%");
                r = buffer_append(p, &b, s, plain, line);
                if (r < 0)
                        return r;
                s += plain;
                if (*s == 0)
                        break;
                const char *end = strchr(s + 1, '%');
                if (!end)
                        return bad(p, "line %u: a '%%' without its closing '%%' (write %%%% for a percent sign)",
                                   line);
                const char *token = s + 1;
                size_t len = (size_t) (end - token);
                const Entry *found = NULL;
                for (size_t i = 0; i < n_tables && !found && len > 0; i++)
                        found = key_index_find(p, tables[i], token, len);
                if (len == 0)
                        r = buffer_append(p, &b, "%", 1, line);
                else if (found) {
                        r = check_entry(p, found);
                        if (r >= 0) {
                                const char *value = entry_value(p, found, 0);
                                r = buffer_append(p, &b, value, strlen(value), line);
                        }
                } else if (strspn(token, "0123456789") == len)
                        r = buffer_append(p, &b, s, len + 2, line);
                else {
                        /* Enough of it for SMS_QUOTE() to see that it is long and cut it well. */
                        char quoted[SMS_QUOTE_MAX + 5];
                        size_t n = len < sizeof quoted - 1 ? len : sizeof quoted - 1;
                        memcpy(quoted, token, n);
                        quoted[n] = 0;
                        return bad(p, "undefined string token %%" SMS_QUOTE_FMT "%% on line %u", SMS_QUOTE(quoted),
                                   line);
                }
                if (r < 0)
                        return r;
                s = end + 1;
        }
        r = result_add(p, b.size + 1);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(b.data);
        return 0;
}

static int substitute(Parser *p, const char *raw, unsigned line, char **ret) {
        const KeyIndex *tables[] = { &p->default_strings };
        return substitute_in(p, tables, 1, raw, line, ret);
}

static bool parse_language_id(const char *s, uint16_t *ret) {
        size_t n = strspn(s, "0123456789abcdefABCDEF");
        if (n == 0 || n > 4 || s[n] != 0)
                return false;
        *ret = (uint16_t) strtoul(s, NULL, 16);
        return true;
}

static int compare_locales(const void *a, const void *b, void *userdata) {
        const Parser *p = userdata;
        uint32_t x = p->by_name[((const Locale *) a)->group.first], y = p->by_name[((const Locale *) b)->group.first];
        return (x > y) - (x < y);
}

/* [Strings] is the default; without it [Strings.0409] (US English), else the first localized
 * section. Windows picks by the machine's locale, which a catalog does not have. */
static int index_strings(Parser *p) {
        _cleanup_free_ uint8_t *seen = calloc(65536 / 8, 1);
        size_t locales_alloc = 0;
        Group g;
        int r;

        if (!seen)
                return -ENOMEM;
        for (size_t k = 0; k < p->n_sections; k++) {
                const char *name = group_name(p, k);
                uint16_t id;
                if (k > 0 && ascii_casecmp(name, group_name(p, k - 1)) == 0)
                        continue;
                if (!ascii_prefix(name, "strings.") || !parse_language_id(name + strlen("strings."), &id))
                        continue;
                if (seen[id / 8] & (1u << (id % 8)))
                        continue; /* [Strings.409] beside [Strings.0409]: one of them counts */
                seen[id / 8] |= (uint8_t) (1u << (id % 8));
                r = grow(&p->locales, &locales_alloc, p->n_locales + 1, sizeof(Locale));
                if (r < 0)
                        return r;
                Locale *l = &p->locales[p->n_locales++];
                *l = (Locale) { .language_id = id };
                find_group(p, name, &l->group);
                r = key_index_build(p, l->group, &l->strings);
                if (r < 0)
                        return r;
        }
        /* In file order, by the first section of each. */
        if (p->n_locales > 1) /* p->locales is NULL without any */
                qsort_r(p->locales, p->n_locales, sizeof(Locale), compare_locales, p);

        if (find_group(p, "strings", &g))
                return key_index_build(p, g, &p->default_strings);
        const Locale *chosen = p->n_locales > 0 ? &p->locales[0] : NULL;
        for (size_t i = 0; i < p->n_locales; i++)
                if (p->locales[i].language_id == 0x0409)
                        chosen = &p->locales[i];
        if (!chosen)
                return 0;
        return key_index_build(p, chosen->group, &p->default_strings);
}

/* --- [Version] ---------------------------------------------------------------------------------- */

/* A [Version] key's platform extension (CatalogFile.ntamd64): the architectures it stands for, 0
 * for one Windows does not know. */
static unsigned version_key_platforms(const char *extension) {
        if (!ascii_prefix(extension, "nt"))
                return 0;
        if (extension[2] == 0)
                return INF_ARCH_ALL;
        for (InfArchitecture a = 0; a < _INF_ARCH_MAX; a++)
                if (ascii_casecmp(extension + 2, arch_extensions[a]) == 0)
                        return INF_ARCH_BIT(a);
        return 0;
}

enum {
        VERSION_SIGNATURE,
        VERSION_CLASS,
        VERSION_CLASS_GUID,
        VERSION_PROVIDER,
        VERSION_DRIVER_VER,
        VERSION_CATALOG_FILE,
        _VERSION_MAX,
};

static const char *const version_keys[_VERSION_MAX] = {
        [VERSION_SIGNATURE] = "signature",   [VERSION_CLASS] = "class",
        [VERSION_CLASS_GUID] = "classguid",  [VERSION_PROVIDER] = "provider",
        [VERSION_DRIVER_VER] = "driverver",  [VERSION_CATALOG_FILE] = "catalogfile",
};

static bool parse_number(const char **s, unsigned max_digits, unsigned long max, unsigned long *ret) {
        size_t n = strspn(*s, "0123456789");
        if (n == 0 || n > max_digits)
                return false;
        unsigned long v = strtoul(*s, NULL, 10);
        if (v > max)
                return false;
        *s += n;
        *ret = v;
        return true;
}

/* DriverVer = mm/dd/yyyy[,w.x.y.z]: '-' may stand for '/'. */
static int parse_driver_ver(Parser *p, const Entry *en, InfDriver *d) {
        _cleanup_free_ char *date = NULL, *version = NULL;
        unsigned long month, day, year;
        int r;

        r = substitute(p, entry_value(p, en, 0), en->line, &date);
        if (r < 0)
                return r;
        const char *s = date;
        if (!parse_number(&s, 2, 12, &month) || (*s != '/' && *s != '-') || (s++, !parse_number(&s, 2, 31, &day)) ||
            (*s != '/' && *s != '-') || (s++, strspn(s, "0123456789") != 4) || !parse_number(&s, 4, 9999, &year) ||
            *s != 0 || month < 1 || day < 1 || day > time_days_in_month((unsigned) year, (unsigned) month))
                return bad(p, "line %u: the DriverVer date \"" SMS_QUOTE_FMT "\" is not mm/dd/yyyy", en->line,
                           SMS_QUOTE(date));
        if (year < 1970)
                return bad(p, "line %u: the DriverVer date \"" SMS_QUOTE_FMT "\" is before 1970", en->line,
                           SMS_QUOTE(date));
        d->driver_date = (uint64_t) time_days_from_civil((int64_t) year, (unsigned) month, (unsigned) day) * 86400 *
                         USEC_PER_SEC;

        r = substitute(p, entry_value(p, en, 1), en->line, &version);
        if (r < 0)
                return r;
        if (*version == 0)
                return 0;
        s = version;
        for (unsigned parts = 0;; s++) {
                unsigned long v;
                if (++parts > 4 || !parse_number(&s, 5, 65535, &v))
                        return bad(p, "line %u: the DriverVer version \"" SMS_QUOTE_FMT "\""
                                   " is not w.x.y.z (1 to 4 numbers of 0-65535)",
                                   en->line, SMS_QUOTE(version));
                if (*s != '.')
                        break;
        }
        if (*s != 0)
                return bad(p, "line %u: the DriverVer version \"" SMS_QUOTE_FMT "\" is not w.x.y.z (1 to 4 numbers of 0-65535)",
                           en->line, SMS_QUOTE(version));
        d->driver_version = TAKE_PTR(version);
        return 0;
}

static bool guid_valid(const char *s) {
        static const char pattern[] = "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}";

        if (strlen(s) != strlen(pattern))
                return false;
        for (size_t i = 0; pattern[i]; i++)
                if (pattern[i] == 'x' ? !strchr("0123456789abcdefABCDEF", s[i]) || s[i] == 0 : s[i] != pattern[i])
                        return false;
        return true;
}

/* A file name that stays where it is put: no path, no drive. */
static bool plain_file_name(const char *s) {
        return *s && !strpbrk(s, "\\/:") && !streq(s, ".") && !streq(s, "..");
}

static int add_file(Parser *p, InfFile **files, size_t *n, size_t *alloc, const char *name, const char *directory,
                    const char *disk_id, unsigned architectures, unsigned line) {
        int r = grow(files, alloc, *n + 1, sizeof(InfFile));
        if (r < 0)
                return r;
        InfFile *f = &(*files)[*n];
        *f = (InfFile) { .architectures = architectures, .line = line };
        (*n)++;
        r = result_strdup(p, name, &f->name);
        if (r >= 0)
                r = result_strdup(p, directory, &f->directory);
        if (r >= 0)
                r = result_strdup(p, disk_id, &f->disk_id);
        return r;
}

/* One CatalogFile[.nt…] entry into InfDriver.catalog_files: a name listed twice is one file. */
static int add_catalog_file(Parser *p, InfDriver *d, const Entry *en, unsigned archs, size_t *alloc) {
        _cleanup_free_ char *name = NULL;
        int r;

        r = check_entry(p, en);
        if (r >= 0)
                r = substitute(p, entry_value(p, en, 0), en->line, &name);
        if (r < 0)
                return r;
        if (*name == 0)
                return 0;
        if (!plain_file_name(name))
                return bad(p, "line %u: the CatalogFile \"" SMS_QUOTE_FMT "\" is not a plain file name", en->line,
                           SMS_QUOTE(name));
        for (size_t i = 0; i < d->n_catalog_files; i++)
                if (ascii_casecmp(d->catalog_files[i].name, name) == 0) {
                        d->catalog_files[i].architectures |= archs;
                        return 0;
                }
        /* Windows knows seven spellings of the key; more names than that are no catalog. */
        if (d->n_catalog_files >= 64)
                return bad(p, "line %u: more than 64 catalog files", en->line);
        return add_file(p, &d->catalog_files, &d->n_catalog_files, alloc, name, "", "", archs, en->line);
}

static int read_version(Parser *p, InfDriver *d) {
        const Entry *chosen[_VERSION_MAX] = {};
        unsigned rank[_VERSION_MAX] = {};
        size_t catalogs_alloc = 0;
        Group g;
        int r;

        if (!find_group(p, "version", &g))
                return bad(p, "no [Version] section");
        unsigned version_line = p->sections[p->by_name[g.first]].line;

        /* Each key undecorated, else .nt, else the first decorated one (CatalogFile.ntamd64). */
        GROUP_FOREACH_ENTRY(p, g, en) {
                if (en->key == NO_KEY)
                        continue;
                const char *key = arena_string(p, en->key), *dot = strchr(key, '.');
                size_t base = dot ? (size_t) (dot - key) : strlen(key);
                for (size_t i = 0; i < _VERSION_MAX; i++) {
                        if (strlen(version_keys[i]) != base || !ascii_prefix(key, version_keys[i]))
                                continue;
                        unsigned archs = dot ? version_key_platforms(dot + 1) : INF_ARCH_ALL;
                        if (archs == 0)
                                break; /* CatalogFile.foo: no platform Windows knows */
                        unsigned this_rank = !dot ? 0 : archs == INF_ARCH_ALL ? 1 : 2;
                        if (!chosen[i] || this_rank < rank[i]) {
                                chosen[i] = en;
                                rank[i] = this_rank;
                        }
                        if (i == VERSION_CATALOG_FILE) {
                                r = add_catalog_file(p, d, en, archs, &catalogs_alloc);
                                if (r < 0)
                                        return r;
                        }
                        break;
                }
        }
        for (size_t i = 0; i < _VERSION_MAX; i++)
                if (chosen[i]) {
                        r = check_entry(p, chosen[i]);
                        if (r < 0)
                                return r;
                }

        if (!chosen[VERSION_SIGNATURE])
                return bad(p, "no Signature in [Version] (line %u)", version_line);
        _cleanup_free_ char *signature = NULL;
        r = substitute(p, entry_value(p, chosen[VERSION_SIGNATURE], 0), chosen[VERSION_SIGNATURE]->line, &signature);
        if (r < 0)
                return r;
        if (ascii_casecmp(signature, "$Windows NT$") != 0 && ascii_casecmp(signature, "$Chicago$") != 0 &&
            ascii_casecmp(signature, "$Windows 95$") != 0)
                return bad(p, "line %u: the Signature \"" SMS_QUOTE_FMT "\" is not \"$Windows NT$\" or \"$Chicago$\"",
                           chosen[VERSION_SIGNATURE]->line, SMS_QUOTE(signature));

        if (!chosen[VERSION_CLASS])
                return bad(p, "no Class in [Version] (line %u)", version_line);
        r = substitute(p, entry_value(p, chosen[VERSION_CLASS], 0), chosen[VERSION_CLASS]->line, &d->driver_class);
        if (r < 0)
                return r;
        if (*d->driver_class == 0)
                return bad(p, "line %u: the Class is empty", chosen[VERSION_CLASS]->line);

        if (chosen[VERSION_CLASS_GUID]) {
                const Entry *en = chosen[VERSION_CLASS_GUID];
                r = substitute(p, entry_value(p, en, 0), en->line, &d->class_guid);
                if (r < 0)
                        return r;
                if (!guid_valid(d->class_guid))
                        return bad(p, "line %u: the ClassGuid \"" SMS_QUOTE_FMT "\""
                                   " is not a GUID like {4d36e972-e325-11ce-bfc1-08002be10318}",
                                   en->line, SMS_QUOTE(d->class_guid));
        }
        if (chosen[VERSION_PROVIDER]) {
                r = substitute(p, entry_value(p, chosen[VERSION_PROVIDER], 0), chosen[VERSION_PROVIDER]->line,
                               &d->driver_provider);
                if (r < 0)
                        return r;
        }
        if (chosen[VERSION_DRIVER_VER]) {
                r = parse_driver_ver(p, chosen[VERSION_DRIVER_VER], d);
                if (r < 0)
                        return r;
        }
        if (chosen[VERSION_CATALOG_FILE]) {
                r = substitute(p, entry_value(p, chosen[VERSION_CATALOG_FILE], 0), chosen[VERSION_CATALOG_FILE]->line,
                               &d->catalog_file);
                if (r < 0)
                        return r;
                if (*d->catalog_file == 0) {
                        free(d->catalog_file);
                        d->catalog_file = NULL;
                }
        }
        return 0;
}

/* --- [Manufacturer] and the models sections ----------------------------------------------------- */

/* A TargetOSVersion decoration: nt[architecture][.[major][.[minor][.[product][.[suite][.[build]]]]]]
 * with decimal or 0x numbers. "NT" without an architecture is x86: since Windows Server 2003 SP1
 * the other architectures must name theirs. */
static bool parse_target(const char *s, InfArchitecture *ret) {
        static const struct {
                const char *name;
                InfArchitecture arch;
        } table[] = {
                { "amd64", INF_ARCH_X64 }, { "arm64", INF_ARCH_ARM64 }, { "ia64", INF_ARCH_IA64 },
                { "arm", INF_ARCH_ARM },   { "x86", INF_ARCH_X86 },
        };
        InfArchitecture arch = INF_ARCH_X86;

        if (!ascii_prefix(s, "nt"))
                return false;
        s += 2;
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                size_t n = strlen(table[i].name);
                if (ascii_prefix(s, table[i].name) && (s[n] == 0 || s[n] == '.')) {
                        arch = table[i].arch;
                        s += n;
                        break;
                }
        }
        for (unsigned fields = 0; *s == '.';) {
                if (++fields > 5)
                        return false;
                s++;
                size_t n;
                if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
                        s += 2;
                        n = strspn(s, "0123456789abcdefABCDEF");
                        if (n == 0 || n > 8)
                                return false;
                } else if ((n = strspn(s, "0123456789")) > 10)
                        return false;
                s += n;
        }
        if (*s != 0)
                return false;
        *ret = arch;
        return true;
}

typedef struct ModelsContext {
        const char *manufacturer;
        const char *target;
        InfArchitecture arch;
        size_t models_alloc;
        const Entry *first; /* the first model's entry, for the localized names */
} ModelsContext;

static int read_model(Parser *p, InfDriver *d, ModelsContext *c, const Entry *en) {
        int r;

        r = check_entry(p, en);
        if (r < 0)
                return r;
        if (en->key == NO_KEY)
                return bad(p, "line %u: a model entry is description = install-section, hardware-id[, compatible-id…]",
                           en->line);
        if (d->n_models >= INF_MODELS_MAX)
                return bad(p, "more than %u models (line %u)", INF_MODELS_MAX, en->line);
        r = grow(&d->models, &c->models_alloc, d->n_models + 1, sizeof(InfModel));
        if (r < 0)
                return r;
        InfModel *m = &d->models[d->n_models++];
        *m = (InfModel) { .architecture = c->arch, .line = en->line };
        m->compatible_ids = calloc(en->n_values + 1, sizeof(char *));
        if (!m->compatible_ids)
                return -ENOMEM;

        r = result_strdup(p, c->manufacturer, &m->manufacturer);
        if (r >= 0)
                r = result_strdup(p, c->target, &m->target);
        if (r >= 0)
                r = substitute(p, arena_string(p, en->key), en->line, &m->description);
        if (r >= 0)
                r = substitute(p, entry_value(p, en, 0), en->line, &m->install_section);
        if (r >= 0 && en->n_values > 1)
                r = substitute(p, entry_value(p, en, 1), en->line, &m->hardware_id);
        if (r < 0)
                return r;
        /* After substitution: a token may stand for "". */
        if (*m->install_section == 0)
                return bad(p, "line %u: a model entry without an install section", en->line);
        if (m->hardware_id && *m->hardware_id == 0) {
                free(m->hardware_id);
                m->hardware_id = NULL;
        }
        size_t n_compatible = 0;
        for (size_t i = 2; i < en->n_values; i++) {
                char *id;
                r = substitute(p, entry_value(p, en, i), en->line, &id);
                if (r < 0)
                        return r;
                if (*id == 0)
                        free(id);
                else
                        m->compatible_ids[n_compatible++] = id;
        }
        if (!m->hardware_id && n_compatible == 0)
                return bad(p, "line %u: a model entry without a hardware or compatible ID", en->line);
        p->n_ids += !!m->hardware_id + n_compatible;
        if (p->n_ids > INF_IDS_MAX)
                return bad(p, "more than %u hardware and compatible IDs (line %u)", INF_IDS_MAX, en->line);
        if (!c->first)
                c->first = en;
        return 0;
}

/* Reads the models section called name, unless it was read already (two [Manufacturer] entries
 * can name one section) or does not exist (Windows skips a decoration without a section). */
static int read_models_section(Parser *p, InfDriver *d, ModelsContext *c, const char *name) {
        Group g;
        int r;

        if (!find_group(p, name, &g) || p->models_read[g.first])
                return 0;
        p->models_read[g.first] = true;
        GROUP_FOREACH_ENTRY(p, g, en) {
                r = read_model(p, d, c, en);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int read_manufacturer(Parser *p, InfDriver *d, const Entry **ret_first) {
        ModelsContext c = {};
        Group g;
        int r;

        if (!find_group(p, "manufacturer", &g))
                return bad(p, "no [Manufacturer] section: the INF installs no device");
        GROUP_FOREACH_ENTRY(p, g, en) {
                _cleanup_free_ char *manufacturer = NULL, *section = NULL;

                r = check_entry(p, en);
                if (r >= 0)
                        r = substitute(p, en->key != NO_KEY ? arena_string(p, en->key) : entry_value(p, en, 0), en->line,
                                       &manufacturer);
                if (r >= 0)
                        r = substitute(p, entry_value(p, en, 0), en->line, &section);
                if (r < 0)
                        return r;
                if (*section == 0)
                        return bad(p, "line %u: a [Manufacturer] entry without a models section name", en->line);

                c.manufacturer = manufacturer;
                c.target = "";
                c.arch = INF_ARCH_X86;
                r = read_models_section(p, d, &c, section);
                if (r < 0)
                        return r;
                for (size_t i = 1; i < en->n_values; i++) {
                        _cleanup_free_ char *target = NULL, *name = NULL;
                        r = substitute(p, entry_value(p, en, i), en->line, &target);
                        if (r < 0)
                                return r;
                        if (*target == 0)
                                continue; /* "%Mfg% = Models, NTamd64," */
                        if (!parse_target(target, &c.arch))
                                return bad(p, "line %u: unknown target \"" SMS_QUOTE_FMT "\""
                                           " (expected NTx86, NTamd64, NTarm64, NTia64, NTarm or NT, and OS versions after a '.')",
                                           en->line, SMS_QUOTE(target));
                        if (asprintf(&name, "%s.%s", section, target) < 0)
                                return -ENOMEM;
                        c.target = target;
                        r = read_models_section(p, d, &c, name);
                        if (r < 0)
                                return r;
                }
        }
        if (d->n_models == 0)
                return bad(p, "no device models: the [Manufacturer] section (line %u) names no models section with entries",
                           p->sections[p->by_name[g.first]].line);
        for (size_t i = 0; i < d->n_models; i++)
                d->platforms |= INF_ARCH_BIT(d->models[i].architecture);
        *ret_first = c.first;
        return 0;
}

/* --- [SourceDisksFiles] ------------------------------------------------------------------------- */

/* The components of a and then b (separated by '\' or '/') joined with '/', "." and empty ones
 * left out; a ".." or a drive would leave the driver's folder. */
static int join_directory(Parser *p, const char *a, const char *b, unsigned line, char **ret) {
        _cleanup_free_ char *out = malloc(strlen(a) + strlen(b) + 2);
        size_t n = 0;

        if (!out)
                return -ENOMEM;
        for (const char *part = a; part; part = part == a ? b : NULL)
                for (const char *s = part; *s;) {
                        size_t len = strcspn(s, "\\/");
                        if ((len == 2 && s[0] == '.' && s[1] == '.') || memchr(s, ':', len))
                                return bad(p, "line %u: the directory \"" SMS_QUOTE_FMT "\\" SMS_QUOTE_FMT
                                           "\" leaves the driver's folder",
                                           line, SMS_QUOTE(a), SMS_QUOTE(b));
                        if (len > 0 && !(len == 1 && s[0] == '.')) {
                                if (n > 0)
                                        out[n++] = '/';
                                memcpy(out + n, s, len);
                                n += len;
                        }
                        s += len;
                        if (*s)
                                s++;
                }
        out[n] = 0;
        int r = result_add(p, n + 1);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(out);
        return 0;
}

typedef struct Disks {
        KeyIndex any;                   /* [SourceDisksNames] */
        KeyIndex arch[_INF_ARCH_MAX]; /* [SourceDisksNames.x86], … */
} Disks;

static void disks_done(Disks *k) {
        key_index_done(&k->any);
        for (size_t i = 0; i < _INF_ARCH_MAX; i++)
                key_index_done(&k->arch[i]);
}

/* The disk's path on architecture a (from [SourceDisksNames.<a>], else [SourceDisksNames]):
 * "diskid = description[, tag-or-cab-file[, unused[, path…]]]". "" when the disk is not listed. */
static int disk_path(Parser *p, const Disks *disks, const char *disk_id, InfArchitecture a, char **ret) {
        const Entry *en = key_index_find(p, &disks->arch[a], disk_id, strlen(disk_id));
        if (!en)
                en = key_index_find(p, &disks->any, disk_id, strlen(disk_id));
        if (!en)
                return result_strdup(p, "", ret);
        int r = check_entry(p, en);
        if (r < 0)
                return r;
        return substitute(p, entry_value(p, en, 3), en->line, ret);
}

/* "file = diskid[, subdir[, size]]". An undecorated entry is for every architecture, but its
 * disk may lie elsewhere on each: one InfFile per directory. */
static int read_file_entry(Parser *p, InfDriver *d, const Disks *disks, unsigned archs, const Entry *en,
                           size_t *files_alloc) {
        _cleanup_free_ char *name = NULL, *subdir = NULL;
        const char *disk_id = en->key != NO_KEY ? entry_value(p, en, 0) : "";
        size_t first = d->n_files;
        int r;

        r = check_entry(p, en);
        if (r >= 0)
                r = substitute(p, en->key != NO_KEY ? arena_string(p, en->key) : entry_value(p, en, 0), en->line, &name);
        if (r >= 0)
                r = substitute(p, en->key != NO_KEY ? entry_value(p, en, 1) : "", en->line, &subdir);
        if (r < 0)
                return r;
        if (!plain_file_name(name))
                return bad(p, "line %u: [SourceDisksFiles] lists \"" SMS_QUOTE_FMT "\", which is not a plain file name",
                           en->line, SMS_QUOTE(name));
        for (InfArchitecture a = 0; a < _INF_ARCH_MAX; a++) {
                _cleanup_free_ char *path = NULL, *directory = NULL;
                if (!(archs & INF_ARCH_BIT(a)))
                        continue;
                r = disk_path(p, disks, disk_id, a, &path);
                if (r >= 0)
                        r = join_directory(p, path, subdir, en->line, &directory);
                if (r < 0)
                        return r;
                bool merged = false;
                for (size_t i = first; i < d->n_files && !merged; i++)
                        if (streq(d->files[i].directory, directory)) {
                                d->files[i].architectures |= INF_ARCH_BIT(a);
                                merged = true;
                        }
                if (!merged) {
                        r = add_file(p, &d->files, &d->n_files, files_alloc, name, directory, disk_id, INF_ARCH_BIT(a),
                                     en->line);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int compare_files(const void *a, const void *b, void *userdata) {
        const InfDriver *d = userdata;
        const InfFile *x = &d->files[*(const size_t *) a], *y = &d->files[*(const size_t *) b];
        int c = ascii_casecmp(x->directory, y->directory);
        if (c == 0)
                c = ascii_casecmp(x->name, y->name);
        return c != 0 ? c : (x > y) - (x < y);
}

static void inf_file_done(InfFile *f) {
        free(f->name);
        free(f->directory);
        free(f->disk_id);
        *f = (InfFile) {};
}

static void inf_files_free(InfFile *files, size_t n) {
        for (size_t i = 0; i < n; i++)
                inf_file_done(&files[i]);
        free(files);
}

/* One InfFile for each directory and name (compared as Windows does, case-insensitively): the
 * first listed, with the architectures of all. */
static int merge_files(InfDriver *d) {
        _cleanup_free_ size_t *order = malloc(sizeof(size_t) * (d->n_files + 1));
        _cleanup_free_ bool *gone = calloc(d->n_files + 1, sizeof(bool));

        if (!order || !gone)
                return -ENOMEM;
        for (size_t i = 0; i < d->n_files; i++)
                order[i] = i;
        qsort_r(order, d->n_files, sizeof(size_t), compare_files, d);
        for (size_t i = 0; i < d->n_files;) {
                InfFile *keep = &d->files[order[i]];
                size_t j = i + 1;
                for (; j < d->n_files; j++) {
                        const InfFile *f = &d->files[order[j]];
                        if (ascii_casecmp(keep->directory, f->directory) != 0 || ascii_casecmp(keep->name, f->name) != 0)
                                break;
                        keep->architectures |= f->architectures;
                        gone[order[j]] = true;
                }
                i = j;
        }
        size_t n = 0;
        for (size_t i = 0; i < d->n_files; i++) {
                if (gone[i])
                        inf_file_done(&d->files[i]);
                else
                        d->files[n++] = d->files[i];
        }
        d->n_files = n;
        return 0;
}

static int read_files(Parser *p, InfDriver *d) {
        _cleanup_(disks_done) Disks disks = {};
        size_t files_alloc = 0, n_entries = 0;
        Group g;
        int r;

        if (find_group(p, "sourcedisksnames", &g)) {
                r = key_index_build(p, g, &disks.any);
                if (r < 0)
                        return r;
        }
        for (InfArchitecture a = 0; a < _INF_ARCH_MAX; a++) {
                _cleanup_free_ char *name = NULL;
                if (asprintf(&name, "sourcedisksnames.%s", arch_extensions[a]) < 0)
                        return -ENOMEM;
                if (find_group(p, name, &g)) {
                        r = key_index_build(p, g, &disks.arch[a]);
                        if (r < 0)
                                return r;
                }
        }

        /* [SourceDisksFiles], then [SourceDisksFiles.x86], [.amd64], …: InfDriver.files' order. */
        for (int a = -1; a < (int) _INF_ARCH_MAX; a++) {
                _cleanup_free_ char *name = NULL;
                if (asprintf(&name, "sourcedisksfiles%s%s", a < 0 ? "" : ".", a < 0 ? "" : arch_extensions[a]) < 0)
                        return -ENOMEM;
                if (!find_group(p, name, &g))
                        continue;
                GROUP_FOREACH_ENTRY(p, g, en) {
                        if (++n_entries > INF_FILES_MAX)
                                return bad(p, "more than %u [SourceDisksFiles] entries (line %u)", INF_FILES_MAX,
                                           en->line);
                        r = read_file_entry(p, d, &disks, a < 0 ? INF_ARCH_ALL : INF_ARCH_BIT(a), en, &files_alloc);
                        if (r < 0)
                                return r;
                }
        }
        return merge_files(d);
}

/* --- the IDs of all models ---------------------------------------------------------------------- */

typedef struct IdList {
        const char **ids;
        size_t n;
} IdList;

static int compare_ids(const void *a, const void *b, void *userdata) {
        const IdList *l = userdata;
        size_t x = *(const size_t *) a, y = *(const size_t *) b;
        int c = ascii_casecmp(l->ids[x], l->ids[y]);
        return c != 0 ? c : (x > y) - (x < y);
}

/* Every model's hardware (or compatible) IDs once, in model order, spelled as first seen. */
static int collect_ids(Parser *p, const InfDriver *d, bool compatible, char ***ret) {
        _cleanup_free_ const char **ids = malloc(sizeof(char *) * (p->n_ids + 1));
        _cleanup_free_ size_t *order = malloc(sizeof(size_t) * (p->n_ids + 1));
        _cleanup_free_ bool *duplicate = calloc(p->n_ids + 1, sizeof(bool));
        _cleanup_strv_free_ char **out = NULL;
        IdList l = { .ids = ids };
        int r;

        if (!ids || !order || !duplicate)
                return -ENOMEM;
        for (size_t i = 0; i < d->n_models; i++) {
                const InfModel *m = &d->models[i];
                if (!compatible && m->hardware_id)
                        ids[l.n++] = m->hardware_id;
                for (char **id = m->compatible_ids; compatible && *id; id++)
                        ids[l.n++] = *id;
        }
        assert(l.n <= p->n_ids);
        for (size_t i = 0; i < l.n; i++)
                order[i] = i;
        qsort_r(order, l.n, sizeof(size_t), compare_ids, &l);
        for (size_t i = 1; i < l.n; i++)
                duplicate[order[i]] = ascii_casecmp(ids[order[i]], ids[order[i - 1]]) == 0;

        out = calloc(l.n + 1, sizeof(char *));
        if (!out)
                return -ENOMEM;
        for (size_t i = 0, n = 0; i < l.n; i++) {
                if (duplicate[i])
                        continue;
                r = result_strdup(p, ids[i], &out[n++]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(out);
        return 0;
}

/* The first model's description in each [Strings.<LanguageID>], a token it lacks from the default
 * strings. */
static int read_localized_names(Parser *p, InfDriver *d, const Entry *first) {
        int r;

        d->localized_names = calloc(p->n_locales + 1, sizeof(InfLocalizedName));
        if (!d->localized_names)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_locales; i++) {
                const KeyIndex *tables[] = { &p->locales[i].strings, &p->default_strings };
                InfLocalizedName *l = &d->localized_names[d->n_localized_names++];
                l->language_id = p->locales[i].language_id;
                r = substitute_in(p, tables, ELEMENTSOF(tables), arena_string(p, first->key), first->line,
                                  &l->display_name);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* --- the public face ---------------------------------------------------------------------------- */

static const char *const architecture_names[_INF_ARCH_MAX] = {
        [INF_ARCH_X86] = "x86",   [INF_ARCH_X64] = "x64", [INF_ARCH_ARM64] = "arm64",
        [INF_ARCH_IA64] = "ia64", [INF_ARCH_ARM] = "arm",
};

const char *inf_architecture_to_string(InfArchitecture a) {
        if (a < 0 || a >= _INF_ARCH_MAX)
                return NULL;
        return architecture_names[a];
}

InfArchitecture inf_architecture_from_string(const char *s) {
        if (!s)
                return _INF_ARCH_INVALID;
        if (ascii_casecmp(s, "amd64") == 0)
                return INF_ARCH_X64;
        for (InfArchitecture a = 0; a < _INF_ARCH_MAX; a++)
                if (ascii_casecmp(s, architecture_names[a]) == 0)
                        return a;
        return _INF_ARCH_INVALID;
}

InfDriver *inf_driver_free(InfDriver *d) {
        if (!d)
                return NULL;
        free(d->driver_class);
        free(d->class_guid);
        free(d->driver_provider);
        free(d->driver_version);
        free(d->catalog_file);
        inf_files_free(d->catalog_files, d->n_catalog_files);
        free(d->localized_display_name);
        for (size_t i = 0; i < d->n_localized_names; i++)
                free(d->localized_names[i].display_name);
        free(d->localized_names);
        for (size_t i = 0; i < d->n_models; i++) {
                InfModel *m = &d->models[i];
                free(m->manufacturer);
                free(m->description);
                free(m->install_section);
                free(m->hardware_id);
                strv_free(m->compatible_ids);
                free(m->target);
        }
        free(d->models);
        strv_free(d->hardware_ids);
        strv_free(d->compatible_ids);
        inf_files_free(d->files, d->n_files);
        free(d);
        return NULL;
}

int inf_parse(const void *data, size_t size, InfDriver **ret, SmsError *e) {
        _cleanup_(parser_done) Parser p = { .e = e };
        _cleanup_(inf_driver_freep) InfDriver *d = NULL;
        const Entry *first = NULL;
        int r;

        assert(data || size == 0);
        assert(ret);

        d = calloc(1, sizeof(InfDriver));
        if (!d)
                return sms_error_set_errno(e, ENOMEM, "Failed to parse the INF");
        r = decode(&p, data ?: "", size);
        if (r >= 0)
                r = tokenize(&p);
        if (r >= 0)
                r = index_sections(&p);
        if (r >= 0)
                r = index_strings(&p);
        if (r >= 0)
                r = read_version(&p, d);
        if (r >= 0)
                r = read_manufacturer(&p, d, &first);
        if (r >= 0)
                r = result_strdup(&p, d->models[0].description, &d->localized_display_name);
        if (r >= 0)
                r = read_localized_names(&p, d, first);
        if (r >= 0)
                r = read_files(&p, d);
        if (r >= 0)
                r = collect_ids(&p, d, false, &d->hardware_ids);
        if (r >= 0)
                r = collect_ids(&p, d, true, &d->compatible_ids);
        if (r < 0) {
                if (r == -ENOMEM)
                        return sms_error_set_errno(e, ENOMEM, "Failed to parse the INF");
                assert(sms_error_is_set(e) || !e);
                return r;
        }
        *ret = TAKE_PTR(d);
        return 0;
}
