/* SPDX-License-Identifier: MIT */

/* libFuzzer target: driver INF files (include/smsprov/inf.h), as the driver catalog's import will
 * read them from folders that anyone may have filled.
 *
 * Any bytes either fail with InvalidParameter and a message, or give what the header promises: a
 * non-empty class, at least one model, each with an install section and an ID and an
 * architecture among the platforms, IDs listed once, plain file names in directories that stay
 * under the INF's folder, and nothing but valid UTF-8. Then the same text must give the same
 * answer (the same driver, or the same message) in the other encodings and line ends the parser
 * reads: UTF-16LE with a byte order mark, and CRLF for LF. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz-common.h"
#include "smsprov/inf.h"
#include "smsprov/macro.h"
#include "smsprov/utf8.h"

static void check_text(const char *what, const char *s, bool nullable) {
        if (!s) {
                if (!nullable)
                        fuzz_fail("%s is NULL", what);
                return;
        }
        if (!utf8_is_valid(s))
                fuzz_fail("%s \"%s\" is not UTF-8 that sd-bus takes", what, s);
}

/* What a directory must be: relative, '/' between components that are neither empty nor "." or
 * "..", no drive. */
static void check_directory(const char *what, const char *s) {
        check_text(what, s, false);
        if (!*s)
                return;
        if (strchr(s, '\\') || strchr(s, ':') || s[0] == '/' || s[strlen(s) - 1] == '/' || strstr(s, "//"))
                fuzz_fail("%s \"%s\" is not a relative directory", what, s);
        for (const char *c = s; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL) {
                size_t n = strcspn(c, "/");
                if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
                        fuzz_fail("%s \"%s\" has a \".\" or \"..\" component", what, s);
        }
}

static void check_file(const char *what, const InfFile *f) {
        check_text(what, f->name, false);
        if (!*f->name || strpbrk(f->name, "\\/:") || streq(f->name, ".") || streq(f->name, ".."))
                fuzz_fail("%s \"%s\" is not a plain file name", what, f->name);
        check_directory(what, f->directory);
        check_text(what, f->disk_id, false);
        if (f->architectures == 0 || (f->architectures & ~INF_ARCH_ALL))
                fuzz_fail("%s \"%s\": architectures %#x", what, f->name, f->architectures);
}

static bool strv_contains_case(char **l, const char *s) {
        for (; l && *l; l++)
                if (strcasecmp(*l, s) == 0)
                        return true;
        return false;
}

static void check_ids(const char *what, char **l) {
        if (!l)
                fuzz_fail("%s is NULL", what);
        for (size_t i = 0; l[i]; i++) {
                check_text(what, l[i], false);
                if (!*l[i])
                        fuzz_fail("%s holds an empty ID", what);
                for (size_t j = 0; j < i; j++)
                        if (strcasecmp(l[i], l[j]) == 0)
                                fuzz_fail("%s holds \"%s\" twice", what, l[i]);
        }
}

static void check_driver(const InfDriver *d) {
        check_text("driver_class", d->driver_class, false);
        if (!*d->driver_class)
                fuzz_fail("empty driver_class");
        check_text("class_guid", d->class_guid, true);
        if (d->class_guid && strlen(d->class_guid) != 38)
                fuzz_fail("class_guid \"%s\"", d->class_guid);
        check_text("driver_provider", d->driver_provider, true);
        check_text("driver_version", d->driver_version, true);
        if (d->driver_version && (!*d->driver_version || strspn(d->driver_version, "0123456789.") != strlen(d->driver_version)))
                fuzz_fail("driver_version \"%s\"", d->driver_version);
        if (d->driver_version && d->driver_date == 0)
                fuzz_fail("a DriverVer version without its date");
        if (d->driver_date % (86400 * USEC_PER_SEC) != 0)
                fuzz_fail("driver_date %llu is not midnight", (unsigned long long) d->driver_date);
        check_text("catalog_file", d->catalog_file, true);
        if (d->catalog_file && !d->n_catalog_files)
                fuzz_fail("catalog_file without catalog_files");
        for (size_t i = 0; i < d->n_catalog_files; i++) {
                check_file("catalog file", &d->catalog_files[i]);
                if (*d->catalog_files[i].directory)
                        fuzz_fail("catalog file \"%s\" in a directory", d->catalog_files[i].name);
        }

        if (d->n_models == 0 || !d->models)
                fuzz_fail("no models");
        if (d->platforms == 0 || (d->platforms & ~INF_ARCH_ALL))
                fuzz_fail("platforms %#x", d->platforms);
        unsigned platforms = 0;
        for (size_t i = 0; i < d->n_models; i++) {
                const InfModel *m = &d->models[i];
                check_text("manufacturer", m->manufacturer, false);
                check_text("description", m->description, false);
                check_text("install_section", m->install_section, false);
                check_text("hardware_id", m->hardware_id, true);
                check_text("target", m->target, false);
                if (!*m->install_section)
                        fuzz_fail("model %zu has no install section", i);
                if (m->architecture < 0 || m->architecture >= _INF_ARCH_MAX)
                        fuzz_fail("model %zu: architecture %d", i, (int) m->architecture);
                platforms |= INF_ARCH_BIT(m->architecture);
                if (m->hardware_id && (!*m->hardware_id || !strv_contains_case(d->hardware_ids, m->hardware_id)))
                        fuzz_fail("model %zu: hardware ID \"%s\" is not in hardware_ids", i, m->hardware_id);
                if (!m->compatible_ids)
                        fuzz_fail("model %zu: compatible_ids is NULL", i);
                for (char **c = m->compatible_ids; *c; c++) {
                        check_text("compatible ID", *c, false);
                        if (!**c || !strv_contains_case(d->compatible_ids, *c))
                                fuzz_fail("model %zu: compatible ID \"%s\" is not in compatible_ids", i, *c);
                }
                if (!m->hardware_id && !m->compatible_ids[0])
                        fuzz_fail("model %zu has no ID", i);
                if (m->line == 0)
                        fuzz_fail("model %zu on line 0", i);
        }
        if (platforms != d->platforms)
                fuzz_fail("platforms %#x, but the models are for %#x", d->platforms, platforms);
        check_ids("hardware_ids", d->hardware_ids);
        check_ids("compatible_ids", d->compatible_ids);
        if (!d->localized_display_name || strcmp(d->localized_display_name, d->models[0].description) != 0)
                fuzz_fail("localized_display_name is not the first model's description");
        for (size_t i = 0; i < d->n_localized_names; i++) {
                check_text("localized name", d->localized_names[i].display_name, false);
                for (size_t j = 0; j < i; j++)
                        if (d->localized_names[i].language_id == d->localized_names[j].language_id)
                                fuzz_fail("language %#x twice", d->localized_names[i].language_id);
        }
        for (size_t i = 0; i < d->n_files; i++) {
                check_file("file", &d->files[i]);
                for (size_t j = 0; j < i; j++)
                        if (strcasecmp(d->files[i].name, d->files[j].name) == 0 &&
                            strcasecmp(d->files[i].directory, d->files[j].directory) == 0)
                                fuzz_fail("file %s/%s twice", d->files[i].directory, d->files[i].name);
        }
}

/* --- the same driver from other bytes ----------------------------------------------------------- */

static const char *differs_str(const char *what, const char *a, const char *b) {
        return streq_ptr(a, b) ? NULL : what;
}

static const char *differs_strv(const char *what, char **a, char **b) {
        size_t i = 0;
        for (; a[i] && b[i]; i++)
                if (!streq(a[i], b[i]))
                        return what;
        return a[i] || b[i] ? what : NULL;
}

static const char *differs_files(const char *what, const InfFile *a, size_t n_a, const InfFile *b, size_t n_b) {
        if (n_a != n_b)
                return what;
        for (size_t i = 0; i < n_a; i++)
                if (!streq(a[i].name, b[i].name) || !streq(a[i].directory, b[i].directory) ||
                    !streq(a[i].disk_id, b[i].disk_id) || a[i].architectures != b[i].architectures ||
                    a[i].line != b[i].line)
                        return what;
        return NULL;
}

/* The first field in which a and b differ, NULL when none does. */
static const char *driver_differs(const InfDriver *a, const InfDriver *b) {
        const char *w;

        if ((w = differs_str("driver_class", a->driver_class, b->driver_class)) ||
            (w = differs_str("class_guid", a->class_guid, b->class_guid)) ||
            (w = differs_str("driver_provider", a->driver_provider, b->driver_provider)) ||
            (w = differs_str("driver_version", a->driver_version, b->driver_version)) ||
            (w = differs_str("catalog_file", a->catalog_file, b->catalog_file)) ||
            (w = differs_str("localized_display_name", a->localized_display_name, b->localized_display_name)) ||
            (w = differs_strv("hardware_ids", a->hardware_ids, b->hardware_ids)) ||
            (w = differs_strv("compatible_ids", a->compatible_ids, b->compatible_ids)) ||
            (w = differs_files("catalog_files", a->catalog_files, a->n_catalog_files, b->catalog_files,
                               b->n_catalog_files)) ||
            (w = differs_files("files", a->files, a->n_files, b->files, b->n_files)))
                return w;
        if (a->driver_date != b->driver_date)
                return "driver_date";
        if (a->platforms != b->platforms)
                return "platforms";
        if (a->n_localized_names != b->n_localized_names)
                return "localized_names";
        for (size_t i = 0; i < a->n_localized_names; i++)
                if (a->localized_names[i].language_id != b->localized_names[i].language_id ||
                    !streq(a->localized_names[i].display_name, b->localized_names[i].display_name))
                        return "localized_names";
        if (a->n_models != b->n_models)
                return "models";
        for (size_t i = 0; i < a->n_models; i++) {
                const InfModel *x = &a->models[i], *y = &b->models[i];
                if ((w = differs_str("model manufacturer", x->manufacturer, y->manufacturer)) ||
                    (w = differs_str("model description", x->description, y->description)) ||
                    (w = differs_str("model install_section", x->install_section, y->install_section)) ||
                    (w = differs_str("model hardware_id", x->hardware_id, y->hardware_id)) ||
                    (w = differs_str("model target", x->target, y->target)) ||
                    (w = differs_strv("model compatible_ids", x->compatible_ids, y->compatible_ids)))
                        return w;
                if (x->architecture != y->architecture || x->line != y->line)
                        return "model architecture or line";
        }
        return NULL;
}

/* Parses the transformed input and wants the first answer again. */
static void check_same(const char *how, const uint8_t *data, size_t size, const InfDriver *d, const SmsError *e) {
        _cleanup_(inf_driver_freep) InfDriver *d2 = NULL;
        SmsError e2 = SMS_ERROR_NULL;

        int r = inf_parse(data, size, &d2, &e2);
        if ((r >= 0) != !!d)
                fuzz_fail("%s: %s, but the input %s (%s)", how, r >= 0 ? "parses" : e2.message,
                          d ? "parses" : "does not", d ? "" : e->message);
        if (d) {
                const char *w = driver_differs(d, d2);
                if (w)
                        fuzz_fail("%s: the driver differs in %s", how, w);
        } else if (e2.code != e->code || !streq(e2.message, e->message))
                fuzz_fail("%s: \"%s\", but the input \"%s\"", how, e2.message, e->message);
        sms_error_clear(&e2);
}

/* The input as UTF-16LE with a BOM, when it is UTF-8 without one (a NUL becomes U+0000 and is
 * refused the same way). NULL otherwise. */
static uint8_t *as_utf16(const uint8_t *data, size_t size, size_t *ret_size) {
        _cleanup_free_ char *s = fuzz_string(data, size);
        uint8_t *out;
        size_t n = 0;

        if (size >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF)
                return NULL;
        out = malloc(size * 2 + 2);
        if (!out)
                abort();
        out[n++] = 0xFF;
        out[n++] = 0xFE;
        for (size_t i = 0; i < size;) {
                uint32_t c;
                size_t len = utf8_decode(s + i, &c);
                if (len == 0) {
                        free(out);
                        return NULL;
                }
                i += len;
                uint16_t units[2] = { (uint16_t) c }, n_units = 1;
                if (c >= 0x10000) {
                        units[0] = (uint16_t) (0xD800 + ((c - 0x10000) >> 10));
                        units[1] = (uint16_t) (0xDC00 + ((c - 0x10000) & 0x3FF));
                        n_units = 2;
                }
                for (size_t u = 0; u < n_units; u++) {
                        out[n++] = (uint8_t) (units[u] & 0xFF);
                        out[n++] = (uint8_t) (units[u] >> 8);
                }
        }
        *ret_size = n;
        return out;
}

/* The input with CRLF for every LF, when it holds no CR already and is not UTF-16. */
static uint8_t *as_crlf(const uint8_t *data, size_t size, size_t *ret_size) {
        uint8_t *out;
        size_t n = 0;

        if (memchr(data, '\r', size) || (size >= 2 && ((data[0] == 0xFF && data[1] == 0xFE) ||
                                                      (data[0] == 0xFE && data[1] == 0xFF))))
                return NULL;
        out = malloc(size * 2 + 1);
        if (!out)
                abort();
        for (size_t i = 0; i < size; i++) {
                if (data[i] == '\n')
                        out[n++] = '\r';
                out[n++] = data[i];
        }
        *ret_size = n;
        return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(inf_driver_freep) InfDriver *d = NULL;
        _cleanup_free_ uint8_t *utf16 = NULL, *dos = NULL;
        SmsError e = SMS_ERROR_NULL;
        size_t n;

        if (inf_parse(data, size, &d, &e) < 0) {
                if (e.code != SMS_ERROR_INVALID_PARAMETER || !fuzz_error_message_ok(&e))
                        fuzz_fail("inf_parse() failed with %s: %s", sms_error_code_to_name(e.code), e.message);
                if (d)
                        fuzz_fail("inf_parse() failed but returned a driver");
        } else
                check_driver(d);

        utf16 = as_utf16(data, size, &n);
        if (utf16)
                check_same("as UTF-16LE", utf16, n, d, &e);
        dos = as_crlf(data, size, &n);
        if (dos)
                check_same("with CRLF line ends", dos, n, d, &e);
        sms_error_clear(&e);
        return 0;
}
