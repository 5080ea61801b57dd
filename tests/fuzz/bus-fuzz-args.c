/* SPDX-License-Identifier: MIT */
/* Random and boundary arguments for the D-Bus surface fuzzer: a value for every D-Bus type,
 * drawn from boundary tables (empty, zero, the type's extremes, the API's enumerations), from the
 * words the surface suggests, and from hostile shapes (huge strings and arrays, paths with "..",
 * control characters, invalid UTF-8 where D-Bus carries bytes, WQL and format metacharacters). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus-fuzz.h"

uint64_t fuzz_rand(FuzzRng *rng) {
        uint64_t z = (rng->state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

uint64_t fuzz_below(FuzzRng *rng, uint64_t n) {
        return fuzz_rand(rng) % n;
}

bool fuzz_chance(FuzzRng *rng, unsigned percent) {
        return fuzz_below(rng, 100) < percent;
}

#define PICK(rng, table) ((table)[fuzz_below((rng), sizeof(table) / sizeof((table)[0]))])

/* --- growing strings --------------------------------------------------------------------------- */

typedef struct Buf {
        char *s;
        size_t len, allocated;
} Buf;

static void buf_add(Buf *b, const char *data, size_t n) {
        if (b->len + n + 1 > b->allocated) {
                b->allocated = (b->len + n + 1) * 2;
                b->s = realloc(b->s, b->allocated);
                if (!b->s)
                        abort();
        }
        memcpy(b->s + b->len, data, n);
        b->len += n;
        b->s[b->len] = 0;
}

static void buf_adds(Buf *b, const char *s) {
        buf_add(b, s, strlen(s));
}

static char *buf_take(Buf *b) {
        if (!b->s)
                buf_add(b, "", 0);
        return b->s;
}

/* --- strings ----------------------------------------------------------------------------------- */

static const char *special_strings[] = {
        "%s%s%s%s%n", "%x%x%x%x", "' OR '1'='1", "\"; DROP TABLE package; --", "\\", "\\\\", "\"", "'", "''",
        "[", "[%", "[^", "[a-", "]", "%", "_", "%%%%%%%%", "*", "?", "NULL", "null", "TRUE", "0", "-1",
        "4294967296", "18446744073709551616", "1e308", "x64", "x86", "arm64", "ia64", "9", "0", "5", "12",
        "LAB", "LAB00001", "LAB00002", "LAB00003", "LAB99999", "LAB0000G", "lab00001", "XYZ00001",
        "SELECT * FROM SMS_PackageBaseclass",
        "SELECT * FROM SMS_PackageBaseclass WHERE Name LIKE '[%'",
        "SELECT * FROM SMS_PackageBaseclass ORDER BY Name DESC",
        "SELECT Name, PackageID FROM SMS_ImagePackage WHERE PackageID = 'LAB00002' OR NOT (Name IS NULL)",
        "SELECT * FROM SMS_DistributionPoint WHERE ServerNALPath LIKE '%dp1%'",
        "SELECT * FROM SMS_StatusMessage WHERE RecordID > 0",
        "SELECT * FROM SMS_NoSuchClass", "SELECT * FROM", "SELECT", "SELECT * FROM SMS_ImagePackage WHERE (((((",
        "SMS_BootImagePackage.PackageID=\"LAB00001\"", "SMS_ImagePackage.PackageID='LAB00002'",
        "SMS_DistributionPointInfo.NALPath=\"x\"", "SMS_BootImagePackage=@", "\\\\server\\root\\sms:SMS_Site",
        "[\"Display=\\\\dp1\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\dp1\\",
        "[\"Display=\\\\dp9\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\dp9\\", "[\"Display=\\\\\"]MSWNET:[\"SMS_SITE=\"]\\\\\\",
        "MSWNET:", "00011A0000100008", "000000000008000", "0001200000100038", "FFFFFFFFFFFFFFFF", "0000000000000000",
        "{00000000-0000-0000-0000-000000000000}", "Microsoft Windows PE (x64)", "en-US", "\u202e\ufeffmixed",
        "\xef\xbf\xbd", "\xf0\x9f\x92\xa9", "\xc3\xa9t\xc3\xa9",
};

/* Paths; "@C" stands for the content root and "@T" for the test directory. */
static const char *path_templates[] = {
        "@C/boot.wim", "@C/image.wim", "@C/os.wim", "@C/multi.wim", "@C", "@C/", "@C/nonexistent.wim",
        "@C/./boot.wim", "@C//boot.wim", "@C/sub/../boot.wim", "@C/../state/site.db", "@C/../state",
        "@C/../../../../../../etc/shadow", "@C/boot.wim/..", "@C/boot.wim/../../content/boot.wim",
        "@C/link-out", "@C/link-out/secret.txt", "@C/link-in.wim", "@C/not-a-wim.txt", "@C/subdir",
        "@C/subdir/", "@C/\x01\x02\x1f", "@C/..", "@C/...", "@C/ ", "@T/dp1", "@T/dp2", "@T/dp-new", "@T/state",
        "@T", "@T/outside/secret.txt", "/etc/shadow", "/etc/passwd", "/", "/proc/self/fd/0",
        "/proc/self/root/etc/shadow", "/proc/self/environ", "/dev/zero", "/dev/null", "/nonexistent/dir",
        "..", "../..", "../../../etc/passwd", "boot.wim", "./boot.wim", "~", "~/x", "//", "/./.",
};

static void add_utf8(Buf *b, uint32_t c) {
        char u[4];
        size_t n;
        if (c < 0x80) {
                u[0] = (char) c, n = 1;
        } else if (c < 0x800) {
                u[0] = (char) (0xc0 | (c >> 6)), u[1] = (char) (0x80 | (c & 0x3f)), n = 2;
        } else if (c < 0x10000) {
                u[0] = (char) (0xe0 | (c >> 12)), u[1] = (char) (0x80 | ((c >> 6) & 0x3f));
                u[2] = (char) (0x80 | (c & 0x3f)), n = 3;
        } else {
                u[0] = (char) (0xf0 | (c >> 18)), u[1] = (char) (0x80 | ((c >> 12) & 0x3f));
                u[2] = (char) (0x80 | ((c >> 6) & 0x3f)), u[3] = (char) (0x80 | (c & 0x3f)), n = 4;
        }
        buf_add(b, u, n);
}

static char *expand_path(FuzzArgs *a, const char *tpl) {
        Buf b = {};
        for (const char *p = tpl; *p; p++) {
                if (p[0] == '@' && p[1] == 'C')
                        buf_adds(&b, a->content_dir), p++;
                else if (p[0] == '@' && p[1] == 'T')
                        buf_adds(&b, a->test_dir), p++;
                else
                        buf_add(&b, p, 1);
        }
        return buf_take(&b);
}

/* Keeps an absolute path inside the test directory, lexically: the directory is put in front and a
 * ".." that would climb above it becomes "x". The test creates no symlink that leaves it.
 * Linear in the length of s: the components are found with memchr() within the known end, not
 * with strcspn() on the rest, which ASan's strict_string_checks (run-fuzzers.sh) reads to the end
 * every time — quadratic on the 256 KiB strings of gen_string(). */
static char *confine(FuzzArgs *a, char *s) {
        size_t tl = strlen(a->test_dir), len = strlen(s);
        const char *rest, *end = s + len;
        Buf b = {};
        int depth = 0;

        if (s[0] != '/')
                return s;
        rest = len >= tl && memcmp(s, a->test_dir, tl) == 0 && (s[tl] == '/' || s[tl] == 0) ? s + tl : s;
        buf_adds(&b, a->test_dir);
        for (const char *p = rest; p < end;) {
                const char *slash = memchr(p, '/', (size_t) (end - p));
                size_t n = (size_t) ((slash ? slash : end) - p);
                if (n == 2 && p[0] == '.' && p[1] == '.') {
                        if (depth == 0)
                                buf_adds(&b, "x");
                        else
                                buf_adds(&b, ".."), depth--;
                } else {
                        buf_add(&b, p, n);
                        if (n > 0 && !(n == 1 && p[0] == '.'))
                                depth++;
                }
                p += n;
                if (p < end && *p == '/')
                        buf_add(&b, "/", 1), p++;
        }
        free(s);
        return buf_take(&b);
}

static const char *dict_word(FuzzArgs *a) {
        const FuzzDict *d = &a->surface->dict;
        return d->n_words > 0 ? d->words[fuzz_below(a->rng, d->n_words)] : "x";
}

static size_t huge_size(FuzzArgs *a) {
        /* Around the daemon's limits (NAME_MAX, PATH_MAX, string sizes) and far beyond them. */
        static const size_t sizes[] = { 255, 256, 1023, 1024, 4095, 4096, 4097, 65535, 65536, 256u << 10 };
        size_t n = PICK(a->rng, sizes);
        if (n > a->budget)
                n = a->budget;
        a->budget -= n;
        return n;
}

static char *gen_string(FuzzArgs *a) {
        Buf b = {};
        size_t n;

        switch (fuzz_below(a->rng, 12)) {
        case 0:
                buf_adds(&b, "");
                break;
        case 1:
        case 2:
                buf_adds(&b, dict_word(a));
                break;
        case 3: /* a word with a few edits */
                buf_adds(&b, dict_word(a));
                for (unsigned k = 0, edits = 1 + (unsigned) fuzz_below(a->rng, 3); k < edits; k++) {
                        static const char *pieces[] = { "..", "/", "\\", "'", "\"", "%", "[", "\x01", "\x1b[2J",
                                                        "\t", "\n", "\r", " ", "\x7f", "\xc3\xa9", "/../" };
                        const char *piece = PICK(a->rng, pieces);
                        size_t at = b.len ? fuzz_below(a->rng, b.len + 1) : 0;
                        char *tail = strdup(b.s + at);
                        if (!tail)
                                abort();
                        b.len = at;
                        if (fuzz_chance(a->rng, 70))
                                buf_adds(&b, piece);
                        /* Drops only an ASCII character, so that the result stays UTF-8. */
                        size_t skip = tail[0] && (unsigned char) tail[0] < 0x80 && fuzz_chance(a->rng, 30);
                        buf_adds(&b, tail + skip);
                        free(tail);
                }
                break;
        case 4:
        case 5:
                free(b.s);
                return expand_path(a, PICK(a->rng, path_templates));
        case 6: /* huge */
                n = huge_size(a);
                if (fuzz_chance(a->rng, 50)) {
                        char *block = malloc(n + 1);
                        if (!block)
                                abort();
                        memset(block, "A/.[%"[fuzz_below(a->rng, 5)], n);
                        block[n] = 0;
                        buf_add(&b, block, n);
                        free(block);
                } else {
                        const char *w = dict_word(a);
                        while (b.len < n)
                                buf_adds(&b, w);
                }
                break;
        case 7: /* NUL-free control characters */
                n = 1 + fuzz_below(a->rng, 64);
                for (size_t i = 0; i < n; i++) {
                        char c = (char) (fuzz_chance(a->rng, 80) ? 1 + fuzz_below(a->rng, 31) : 0x7f);
                        buf_add(&b, &c, 1);
                }
                break;
        case 8: /* printable ASCII */
                n = 1 + fuzz_below(a->rng, 64);
                for (size_t i = 0; i < n; i++) {
                        char c = (char) (0x20 + fuzz_below(a->rng, 95));
                        buf_add(&b, &c, 1);
                }
                break;
        case 9: { /* UTF-8 beyond ASCII, including direction marks, BOMs and astral characters */
                static const uint32_t cps[] = { 0xe9, 0x202e, 0xfeff, 0xfffd, 0x1f4a9, 0x10ffff, 0x85, 0x2028, 0x800, 0xffff };
                n = 1 + fuzz_below(a->rng, 32);
                for (size_t i = 0; i < n; i++)
                        add_utf8(&b, fuzz_chance(a->rng, 50) ? PICK(a->rng, cps)
                                                              : 0x80 + (uint32_t) fuzz_below(a->rng, 0xd000));
                break;
        }
        case 10:
                buf_adds(&b, PICK(a->rng, special_strings));
                break;
        default: { /* a LIKE pattern or an IN list that grows */
                static const char *heads[] = { "SELECT * FROM SMS_PackageBaseclass WHERE Name LIKE '",
                                               "SELECT * FROM SMS_StatusMessage WHERE Description LIKE '",
                                               "SELECT * FROM SMS_ImagePackage WHERE PackageID IN ('" };
                const char *head = PICK(a->rng, heads);
                static const char *units[] = { "[", "%", "_", "[a-z", "%[", "', '" };
                const char *unit = PICK(a->rng, units);
                n = 1 + fuzz_below(a->rng, fuzz_chance(a->rng, 80) ? 64 : 4096);
                buf_adds(&b, head);
                for (size_t i = 0; i < n; i++)
                        buf_adds(&b, unit);
                buf_adds(&b, strstr(head, "IN (") ? "')" : "'");
                break;
        }
        }
        char *s = buf_take(&b);
        return a->confine_paths ? confine(a, s) : s;
}

static char *gen_object_path(FuzzArgs *a) {
        static const char *odd[] = {
                "/", FUZZ_ROOT_PATH, FUZZ_ROOT_PATH "/job/_0", FUZZ_ROOT_PATH "/job/_18446744073709551615",
                FUZZ_ROOT_PATH "/job/x", FUZZ_ROOT_PATH "/SMS_ImagePackage/_2e_2e", FUZZ_ROOT_PATH "/SMS_ImagePackage/LAB99999",
                FUZZ_ROOT_PATH "/class/SMS_NoSuchClass", FUZZ_ROOT_PATH "/class", FUZZ_ROOT_PATH "/SMS_DistributionPoint/_",
                "/org/freedesktop/DBus",
        };
        const FuzzSurface *s = a->surface;
        if (s->n_objects > 0 && fuzz_chance(a->rng, 60))
                return strdup(s->objects[fuzz_below(a->rng, s->n_objects)].path);
        return strdup(PICK(a->rng, odd));
}

char *fuzz_random_signature(FuzzRng *rng) {
        static const char *types[] = { "s", "u", "b", "i", "t", "x", "y", "n", "q", "d", "o", "g", "v", "h",
                                       "as", "au", "ay", "a{sv}", "a{ss}", "a(us)", "a(sa{sv})", "(us)",
                                       "aas", "a(oa{sv})", "(sss)", "aay" };
        Buf b = {};
        for (unsigned i = 0, n = 1 + (unsigned) fuzz_below(rng, 3); i < n; i++)
                buf_adds(&b, PICK(rng, types));
        return buf_take(&b);
}

/* Length of the complete type at the start of sig, 0 when there is none. */
static size_t type_len(const char *sig) {
        switch (*sig) {
        case 0:
                return 0;
        case 'a': {
                size_t l = type_len(sig + 1);
                return l ? l + 1 : 0;
        }
        case '(':
        case '{': {
                char close = *sig == '(' ? ')' : '}';
                size_t i = 1;
                while (sig[i] && sig[i] != close) {
                        size_t l = type_len(sig + i);
                        if (l == 0)
                                return 0;
                        i += l;
                }
                return sig[i] ? i + 1 : 0;
        }
        default:
                return 1;
        }
}

static int append_value(FuzzArgs *a, sd_bus_message *m, const char *sig, size_t len, unsigned depth);

/* The D-Bus type of the property named key, for a{sv} values of the right type. */
static const char *prop_type(FuzzArgs *a, const char *key) {
        const FuzzSurface *s = a->surface;
        for (size_t i = 0; i < s->n_props; i++)
                if (strcmp(s->prop_names[i], key) == 0)
                        return s->prop_types[i];
        return NULL;
}

static int append_variant(FuzzArgs *a, sd_bus_message *m, const char *want, unsigned depth) {
        char *sig = NULL;
        int r;

        if (want && fuzz_chance(a->rng, 65))
                sig = strdup(want);
        else if (depth > 3)
                sig = strdup((const char *[]) { "s", "u", "b", "ay", "i" }[fuzz_below(a->rng, 5)]);
        else {
                /* One complete type of a random signature. */
                char *full = fuzz_random_signature(a->rng);
                sig = strndup(full, type_len(full));
                free(full);
        }
        if (!sig)
                abort();
        r = sd_bus_message_open_container(m, 'v', sig);
        if (r >= 0)
                r = append_value(a, m, sig, strlen(sig), depth + 1);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        free(sig);
        return r;
}

static size_t array_count(FuzzArgs *a, size_t element_bytes) {
        size_t n;
        switch (fuzz_below(a->rng, 20)) {
        case 0 ... 4:
                return 0;
        case 5 ... 12:
                return 1 + fuzz_below(a->rng, 3);
        case 13 ... 16:
                return 4 + fuzz_below(a->rng, 29);
        case 17 ... 18:
                n = 100 + fuzz_below(a->rng, 5000);
                break;
        default:
                n = 10000 + fuzz_below(a->rng, 200000);
                break;
        }
        if (n * element_bytes > a->budget)
                n = a->budget / element_bytes;
        a->budget -= n * element_bytes;
        return n;
}

static int append_bytes(FuzzArgs *a, sd_bus_message *m) {
        /* Not UTF-8: a BOM of the wrong width, an overlong '/', a surrogate, a 5-byte form, a lone
         * continuation, a cut sequence; and bytes with NUL. */
        static const struct {
                const char *bytes;
                size_t len;
        } invalid[] = { { "\xff\xfe", 2 }, { "\xc0\xaf", 2 }, { "\xed\xa0\x80", 3 }, { "\xf8\x88\x80\x80\x80", 5 },
                        { "\x80", 1 },      { "\xe2\x82", 2 }, { "a\0b", 3 },        { "MSWIM\0\0\0", 8 } };
        Buf b = {};
        int r;

        switch (fuzz_below(a->rng, 4)) {
        case 0:
                break;
        case 1:
                for (unsigned i = 0, n = 1 + (unsigned) fuzz_below(a->rng, 8); i < n; i++) {
                        size_t k = fuzz_below(a->rng, sizeof invalid / sizeof invalid[0]);
                        buf_add(&b, invalid[k].bytes, invalid[k].len);
                }
                break;
        case 2:
                for (size_t i = 0, n = huge_size(a); i < n; i++) {
                        char c = (char) fuzz_rand(a->rng);
                        buf_add(&b, &c, 1);
                }
                break;
        default:
                buf_adds(&b, dict_word(a));
                break;
        }
        r = sd_bus_message_append_array(m, 'y', b.s ? b.s : "", b.len);
        free(b.s);
        return r;
}

/* Whether s is UTF-8 as D-Bus takes it: shortest forms, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const char *s) {
        const unsigned char *p = (const unsigned char *) s;
        while (*p) {
                uint32_t c;
                size_t n;
                if (p[0] < 0x80) {
                        p++;
                        continue;
                }
                if ((p[0] & 0xe0) == 0xc0)
                        c = p[0] & 0x1f, n = 2;
                else if ((p[0] & 0xf0) == 0xe0)
                        c = p[0] & 0x0f, n = 3;
                else if ((p[0] & 0xf8) == 0xf0)
                        c = p[0] & 0x07, n = 4;
                else
                        return false;
                for (size_t i = 1; i < n; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                        c = (c << 6) | (p[i] & 0x3f);
                }
                if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10ffff ||
                    (c >= 0xd800 && c <= 0xdfff))
                        return false;
                p += n;
        }
        return true;
}

static int append_basic(FuzzArgs *a, sd_bus_message *m, char type) {
        static const uint64_t u64[] = { 0, 1, 2, 3, 4, 5, 9, 32, 64, 100, 128, 256, 257, 258, 259, 512, 1000, 0x100,
                                        0x200, 0x400, 0x800, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff,
                                        0x80000000, 0xfffffffe, 0xffffffff, 0x100000000ULL, 0x7fffffffffffffffULL,
                                        0x8000000000000000ULL, 0xffffffffffffffffULL };
        uint64_t v = fuzz_chance(a->rng, 75) ? PICK(a->rng, u64) : fuzz_rand(a->rng);
        if (fuzz_chance(a->rng, 10))
                v = 0 - v; /* the negative of the value, two's complement */
        char *s = NULL;
        int r;

        switch (type) {
        case 'y': {
                uint8_t x = (uint8_t) v;
                return sd_bus_message_append_basic(m, type, &x);
        }
        case 'b': {
                int x = (int) (v & 1);
                return sd_bus_message_append_basic(m, type, &x);
        }
        case 'n':
        case 'q': {
                uint16_t x = (uint16_t) v;
                return sd_bus_message_append_basic(m, type, &x);
        }
        case 'i':
        case 'u': {
                uint32_t x = (uint32_t) v;
                return sd_bus_message_append_basic(m, type, &x);
        }
        case 'x':
        case 't':
                return sd_bus_message_append_basic(m, type, &v);
        case 'd': {
                static const double ds[] = { 0.0, -0.0, 1.0, -1.0, 1e308, -1e308, 5e-324, NAN, INFINITY, -INFINITY };
                double x = PICK(a->rng, ds);
                return sd_bus_message_append_basic(m, type, &x);
        }
        case 'h': {
                int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                r = sd_bus_message_append_basic(m, type, &fd);
                if (fd >= 0)
                        close(fd);
                return r;
        }
        case 'o':
                s = gen_object_path(a);
                break;
        case 'g':
                s = fuzz_chance(a->rng, 20) ? strdup("") : fuzz_random_signature(a->rng);
                break;
        default:
                s = gen_string(a);
                break;
        }
        if (!s)
                abort();
        /* What D-Bus cannot carry becomes a plain value here: sd-bus refuses it, but a refused append
         * may leave the message half-written. */
        if ((type == 'o' && !sd_bus_object_path_is_valid(s)) || (type != 'o' && !utf8_valid(s))) {
                free(s);
                s = strdup(type == 'o' ? "/" : "x");
                if (!s)
                        abort();
        }
        r = sd_bus_message_append_basic(m, type, s);
        free(s);
        return r;
}

static int append_value(FuzzArgs *a, sd_bus_message *m, const char *sig, size_t len, unsigned depth) {
        int r;

        if (len == 0)
                return 0;
        switch (sig[0]) {
        case 'v':
                return append_variant(a, m, NULL, depth);
        case 'a': {
                size_t elen = len - 1;
                char *contents = strndup(sig + 1, elen);
                if (!contents)
                        abort();
                if (strcmp(contents, "y") == 0) {
                        free(contents);
                        return append_bytes(a, m);
                }
                r = sd_bus_message_open_container(m, 'a', contents);
                size_t n = array_count(a, depth > 2 ? 64 : 16);
                for (size_t i = 0; r >= 0 && i < n; i++) {
                        if (strcmp(contents, "{sv}") == 0 && a->surface->n_props > 0 && fuzz_chance(a->rng, 80)) {
                                /* Put and Create: mostly real property names, mostly of their type. */
                                const char *key = a->surface->prop_names[fuzz_below(a->rng, a->surface->n_props)];
                                r = sd_bus_message_open_container(m, 'e', "sv");
                                if (r >= 0)
                                        r = sd_bus_message_append_basic(m, 's', key);
                                if (r >= 0)
                                        r = append_variant(a, m, prop_type(a, key), depth);
                                if (r >= 0)
                                        r = sd_bus_message_close_container(m);
                        } else
                                r = append_value(a, m, contents, elen, depth + 1);
                }
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                free(contents);
                return r;
        }
        case '(':
        case '{': {
                char *contents = strndup(sig + 1, len - 2);
                if (!contents)
                        abort();
                r = sd_bus_message_open_container(m, sig[0] == '(' ? 'r' : 'e', contents);
                for (const char *p = contents; r >= 0 && *p;) {
                        size_t l = type_len(p);
                        if (l == 0)
                                break;
                        r = append_value(a, m, p, l, depth + 1);
                        p += l;
                }
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                free(contents);
                return r;
        }
        default:
                return append_basic(a, m, sig[0]);
        }
}

int fuzz_append_args(FuzzArgs *a, sd_bus_message *m, const char *signature) {
        for (const char *p = signature; *p;) {
                size_t l = type_len(p);
                if (l == 0)
                        return -EINVAL;
                int r = append_value(a, m, p, l, 0);
                if (r < 0)
                        return r;
                p += l;
        }
        return 0;
}
