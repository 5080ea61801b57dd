/* SPDX-License-Identifier: MIT */

/* libFuzzer target: a WIM's XML metadata as imaging_read_info() (src/imaging/wim-info.c) reads
 * it through wimlib, and the ImageProperty XML written from the result.
 *
 * Once per process, wimlib writes small valid uncompressed WIMs of 0 to 4 empty images into a
 * private temporary directory (/dev/shm, else $TMPDIR, else /tmp). For each input, a copy of one
 * of them gets the input as its XML resource: the XML resource (the last thing wimlib writes
 * when there is no integrity table) is cut off, the input put in its place, and the header's
 * xml_data_reshdr (offset 0x48: 7-byte size_in_wim, 1 flag byte, 8-byte offset_in_wim, 8-byte
 * uncompressed_size; include/wimlib/header.h and resource.h of wimlib) pointed at it,
 * uncompressed. The input is UTF-8 text converted to UTF-16LE with a byte order mark, as wimlib
 * writes it (bytes that are not UTF-8 become the code point of the byte's value; encoded
 * surrogates pass through as lone UTF-16 surrogates), or — when it starts with the UTF-16LE
 * byte order mark FF FE — the raw resource itself. The base WIM is the one with as many images
 * as the document has "<IMAGE" elements (at most 4), since wimlib refuses a header whose image
 * count differs from the XML's. One file name is reused; nothing is synced. The directory is
 * removed at exit (not after a crash: libFuzzer leaves with _Exit then). wimlib itself is not
 * instrumented (the system library): coverage feedback comes from our side only, hence
 * wim-xml.dict.
 *
 * Invariants (include/smsprov/imaging.h): imaging_read_info() returns 0 and a WimInfo with the
 * header's image count, uncompressed, each image with its 1-based index and every string
 * non-NULL and sanitised (valid UTF-8 without control characters other than tab and newline),
 * CreationDate "" or "YYYY-MM-DD hh:mm:ss", OS version "" or four dot-separated parts,
 * created_by "" — or fails with ImageError or Failed and a message, leaving *ret alone. A
 * result must then give an ImageProperty XML document that libxml2 reads back without error,
 * with one IMAGE element per image. */

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <wimlib.h>

#include "fuzz-common.h"
#include "imaging/imaging-internal.h"
#include "smsprov/cim.h"
#include "smsprov/imaging.h"
#include "smsprov/macro.h"

#define MAX_BASE_IMAGES 4
#define WIM_HEADER_SIZE 208
#define XML_RESHDR_OFFSET 0x48
#define IMAGE_COUNT_OFFSET 0x2c

typedef struct BaseWim {
        uint8_t *prefix; /* the file up to its XML resource */
        size_t prefix_size;
} BaseWim;

static BaseWim bases[MAX_BASE_IMAGES + 1];
static char dir[256];
static char wim_path[300];
static int xml_errors;

static void count_error(void *userdata, xmlErrorPtr error) {
        (void) userdata;
        (void) error;
        xml_errors++;
}

static uint64_t le_read(const uint8_t *p, size_t n) {
        uint64_t v = 0;
        for (size_t i = n; i > 0; i--)
                v = v << 8 | p[i - 1];
        return v;
}

static void le_write(uint8_t *p, size_t n, uint64_t v) {
        for (size_t i = 0; i < n; i++, v >>= 8)
                p[i] = (uint8_t) v;
}

static void cleanup(void) {
        if (wim_path[0])
                (void) unlink(wim_path);
        if (dir[0])
                (void) rmdir(dir);
}

static void make_base(unsigned n_images) {
        WIMStruct *wim = NULL;
        char name[32];
        int r;

        r = wimlib_create_new_wim(WIMLIB_COMPRESSION_TYPE_NONE, &wim);
        for (unsigned i = 1; r == 0 && i <= n_images; i++) {
                snprintf(name, sizeof name, "Image %u", i);
                r = wimlib_add_empty_image(wim, name, NULL);
                if (r == 0)
                        r = wimlib_set_image_property(wim, (int) i, "WINDOWS/ARCH", "9");
        }
        if (r == 0)
                r = wimlib_write(wim, wim_path, WIMLIB_ALL_IMAGES, 0, 1);
        wimlib_free(wim);
        if (r != 0)
                fuzz_fail("wimlib cannot write a WIM of %u images: %s", n_images, wimlib_get_error_string(r));

        FILE *f = fopen(wim_path, "rbe");
        if (!f)
                fuzz_fail("cannot read back %s: %m", wim_path);
        struct stat st;
        if (fstat(fileno(f), &st) < 0 || st.st_size < WIM_HEADER_SIZE)
                fuzz_fail("%s: no WIM header", wim_path);
        uint8_t *file = malloc((size_t) st.st_size);
        if (!file || fread(file, 1, (size_t) st.st_size, f) != (size_t) st.st_size)
                fuzz_fail("cannot read %s", wim_path);
        fclose(f);

        if (memcmp(file, "MSWIM\0\0\0", 8) != 0 || le_read(file + IMAGE_COUNT_OFFSET, 4) != n_images)
                fuzz_fail("%s is not the WIM of %u images expected", wim_path, n_images);
        uint64_t xml_size = le_read(file + XML_RESHDR_OFFSET, 7);
        uint64_t xml_offset = le_read(file + XML_RESHDR_OFFSET + 8, 8);
        if (xml_offset < WIM_HEADER_SIZE || xml_offset > (uint64_t) st.st_size)
                fuzz_fail("%s: XML resource at %llu, outside the file", wim_path, (unsigned long long) xml_offset);
        /* Cut the XML off when it ends the file; otherwise the new one goes after everything. */
        bases[n_images].prefix_size = xml_offset + xml_size == (uint64_t) st.st_size ? (size_t) xml_offset
                                                                                     : (size_t) st.st_size;
        bases[n_images].prefix = file;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc;
        (void) argv;
        setenv("TZ", "UTC", 1);
        tzset();
        imaging_wimlib_init();
        xmlInitParser();
        xmlSetStructuredErrorFunc(NULL, count_error);

        const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ?: "/tmp";
        snprintf(dir, sizeof dir, "%s/smsprov-fuzz-wim-XXXXXX", tmp);
        if (!mkdtemp(dir))
                fuzz_fail("mkdtemp %s: %m", dir);
        snprintf(wim_path, sizeof wim_path, "%s/fuzz.wim", dir);
        atexit(cleanup);
        for (unsigned n = 0; n <= MAX_BASE_IMAGES; n++)
                make_base(n);
        return 0;
}

static void put16(uint8_t *out, size_t *n, uint32_t u) {
        out[(*n)++] = (uint8_t) u;
        out[(*n)++] = (uint8_t) (u >> 8);
}

/* UTF-8 → UTF-16LE with a BOM; see the top of the file for what is not UTF-8. */
static uint8_t *to_utf16(const uint8_t *s, size_t size, size_t *ret_n) {
        uint8_t *out = malloc(4 * size + 2);
        size_t n = 0;

        if (!out)
                abort();
        put16(out, &n, 0xFEFF);
        for (size_t i = 0; i < size;) {
                uint32_t c = s[i];
                size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
                bool ok = len > 0 && i + len <= size;
                for (size_t k = 1; ok && k < len; k++)
                        ok = (s[i + k] & 0xC0) == 0x80;
                if (!ok) {
                        put16(out, &n, s[i]);
                        i++;
                        continue;
                }
                if (len > 1) {
                        c &= 0x7F >> len;
                        for (size_t k = 1; k < len; k++)
                                c = c << 6 | (s[i + k] & 0x3F);
                }
                i += len;
                if (c > 0x10FFFF)
                        c = 0xFFFD;
                if (c >= 0x10000) {
                        c -= 0x10000;
                        put16(out, &n, 0xD800 | c >> 10);
                        put16(out, &n, 0xDC00 | (c & 0x3FF));
                } else
                        put16(out, &n, c);
        }
        *ret_n = n;
        return out;
}

/* "<IMAGE" followed by whitespace, '>' or '/', in UTF-16LE code units. */
static unsigned count_images(const uint8_t *x, size_t n) {
        static const char tag[] = "<IMAGE";
        unsigned count = 0;

        for (size_t i = 0; i + 2 * (sizeof tag) <= n; i += 2) {
                bool match = true;
                for (size_t k = 0; match && k < sizeof tag - 1; k++)
                        match = x[i + 2 * k] == (uint8_t) tag[k] && x[i + 2 * k + 1] == 0;
                if (!match)
                        continue;
                uint8_t next = x[i + 2 * (sizeof tag - 1)], hi = x[i + 2 * (sizeof tag - 1) + 1];
                if (hi == 0 && (next == '>' || next == '/' || next == ' ' || next == '\t' || next == '\n' || next == '\r'))
                        count++;
        }
        return count;
}

static void write_wim(const BaseWim *b, const uint8_t *xml, size_t n) {
        uint8_t header[WIM_HEADER_SIZE];
        int fd;

        memcpy(header, b->prefix, WIM_HEADER_SIZE);
        le_write(header + XML_RESHDR_OFFSET, 7, n);
        header[XML_RESHDR_OFFSET + 7] = 0; /* flags: not compressed */
        le_write(header + XML_RESHDR_OFFSET + 8, 8, b->prefix_size);
        le_write(header + XML_RESHDR_OFFSET + 16, 8, n);

        fd = open(wim_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                fuzz_fail("cannot write %s: %m", wim_path);
        if (write(fd, header, sizeof header) != (ssize_t) sizeof header ||
            write(fd, b->prefix + WIM_HEADER_SIZE, b->prefix_size - WIM_HEADER_SIZE) !=
                    (ssize_t) (b->prefix_size - WIM_HEADER_SIZE) ||
            (n > 0 && write(fd, xml, n) != (ssize_t) n))
                fuzz_fail("cannot write %s: %m", wim_path);
        close(fd);
}

static bool sanitised(const char *s) {
        if (!s || !utf8_is_valid(s))
                return false;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7F)
                        return false;
        return true;
}

static bool date_ok(const char *s) {
        static const char shape[] = "dddd-dd-dd dd:dd:dd";

        if (!*s)
                return true;
        if (strlen(s) != sizeof shape - 1)
                return false;
        for (size_t i = 0; shape[i]; i++)
                if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
                        return false;
        return true;
}

static void check_info(const WimInfo *info, unsigned n_images) {
        if (info->n_images != n_images)
                fuzz_fail("%zu images read from a WIM of %u", info->n_images, n_images);
        if (info->compression_type != WIMLIB_COMPRESSION_TYPE_NONE)
                fuzz_fail("compression type %u of an uncompressed WIM", info->compression_type);
        if (n_images > 0 && !info->images)
                fuzz_fail("no image array");
        for (size_t i = 0; i < info->n_images; i++) {
                const ImageInfo *im = &info->images[i];
                const struct {
                        const char *name, *value;
                } strings[] = {
                        { "name", im->name },           { "description", im->description },
                        { "architecture", im->architecture }, { "language", im->language },
                        { "os_version", im->os_version },     { "product_type", im->product_type },
                        { "hal", im->hal },                   { "system_root", im->system_root },
                        { "edition_id", im->edition_id },     { "created_by", im->created_by },
                        { "creation_date", im->creation_date },
                };

                if (im->index != i + 1)
                        fuzz_fail("image %zu has index %u", i + 1, im->index);
                for (size_t k = 0; k < ELEMENTSOF(strings); k++)
                        if (!sanitised(strings[k].value))
                                fuzz_fail("image %zu: %s is %s", i + 1, strings[k].name,
                                          strings[k].value ? "not sanitised" : "NULL");
                if (!date_ok(im->creation_date))
                        fuzz_fail("image %zu: creation date \"%s\" is not \"YYYY-MM-DD hh:mm:ss\"", i + 1,
                                  im->creation_date);
                size_t dots = 0;
                for (const char *p = im->os_version; *p; p++)
                        dots += *p == '.';
                if (*im->os_version && dots < 3)
                        fuzz_fail("image %zu: OS version \"%s\" is not major.minor.build.spbuild", i + 1, im->os_version);
                if (*im->created_by)
                        fuzz_fail("image %zu: created_by \"%s\" from a WIM", i + 1, im->created_by);
        }
}

static void check_image_property(const WimInfo *info) {
        _cleanup_free_ char *xml = NULL;
        SmsError e = SMS_ERROR_NULL;

        if (imaging_image_property_xml(info, 0, &xml, &e) < 0)
                fuzz_fail("ImageProperty of a WIM read fails: %s", e.message ? e.message : "(no message)");
        xml_errors = 0;
        xmlDocPtr doc = xmlReadMemory(xml, (int) strlen(xml), NULL, "UTF-8", XML_PARSE_NONET);
        if (!doc || xml_errors > 0)
                fuzz_fail("ImageProperty is not well-formed (%d errors): %s", xml_errors, xml);
        xmlNodePtr root = xmlDocGetRootElement(doc);
        size_t n = 0;
        if (!root || !xmlStrEqual(root->name, BAD_CAST "WIM"))
                fuzz_fail("ImageProperty has no WIM root: %s", xml);
        for (xmlNodePtr node = root->children; node; node = node->next)
                n += node->type == XML_ELEMENT_NODE && xmlStrEqual(node->name, BAD_CAST "IMAGE");
        if (n != info->n_images)
                fuzz_fail("ImageProperty has %zu IMAGE elements for %zu images: %s", n, info->n_images, xml);
        xmlFreeDoc(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ uint8_t *converted = NULL;
        const uint8_t *xml;
        size_t n;
        WimInfo info = {};
        SmsError e = SMS_ERROR_NULL;

        if (size > 64 * 1024)
                return 0;
        if (size >= 2 && data[0] == 0xFF && data[1] == 0xFE) {
                xml = data;
                n = size;
        } else {
                converted = to_utf16(data, size, &n);
                xml = converted;
        }
        unsigned n_images = count_images(xml, n);
        if (n_images > MAX_BASE_IMAGES)
                n_images = MAX_BASE_IMAGES;
        write_wim(&bases[n_images], xml, n);

        int r = imaging_read_info(wim_path, &info, &e);
        if (r < 0) {
                if ((e.code != SMS_ERROR_IMAGE_ERROR && e.code != SMS_ERROR_FAILED) || !fuzz_error_message_ok(&e))
                        fuzz_fail("imaging_read_info failed (%d) with %s: %s", r, sms_error_code_to_name(e.code),
                                  e.message ? e.message : "(no message)");
                if (info.images || info.n_images || info.compression_type)
                        fuzz_fail("imaging_read_info failed and returned something");
                sms_error_clear(&e);
                return 0;
        }
        if (r != 0 || sms_error_is_set(&e))
                fuzz_fail("imaging_read_info returned %d with error %s", r, sms_error_code_to_name(e.code));
        check_info(&info, n_images);
        check_image_property(&info);
        wim_info_done(&info);
        return 0;
}
