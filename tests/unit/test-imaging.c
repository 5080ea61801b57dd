/* SPDX-License-Identifier: MIT */

/* imaging/: WIM metadata, the ImageProperty XML, the boot image plan and the builder, on WIMs and
 * registry hives made at run time (tests/helpers). */

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <hivex.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <wimlib.h>

#include "hive-gen.h"
#include "imaging/imaging-internal.h"
#include "smsprov/imaging.h"
#include "smsprov/macro.h"
#include "wim-gen.h"

/* --- fixtures and helpers -------------------------------------------------------------------- */

typedef struct Dirs {
        char *root;      /* this test's scratch directory */
        char *src;       /* <root>/src.wim: WinPE-like, x64, with a SYSTEM hive, LZX */
        char *out_dir;   /* <root>/out: the build's output directory, empty at the start */
        char *out;       /* <out_dir>/boot.wim */
} Dirs;

static char *path_join(const char *a, const char *b) {
        char *p;
        assert_true(asprintf(&p, "%s/%s", a, b) >= 0);
        return p;
}

static int setup(void **state) {
        Dirs *d = calloc(1, sizeof *d);

        assert_non_null(d);
        /* Not /tmp: it may be a small tmpfs, and the timing test writes 100 MiB. */
        d->root = path_join(getenv("TMPDIR") ?: "/var/tmp", "test-imaging-XXXXXX");
        assert_non_null(mkdtemp(d->root));
        d->src = path_join(d->root, "src.wim");
        d->out_dir = path_join(d->root, "out");
        d->out = path_join(d->out_dir, "boot.wim");
        assert_int_equal(mkdir(d->out_dir, 0755), 0);
        assert_int_equal(test_make_winpe_wim(d->src, "9", true, 64 * 1024, true), 0);
        *state = d;
        return 0;
}

static int teardown(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *mnt = path_join(d->root, "tiny");

        (void) umount2(mnt, MNT_DETACH); /* left mounted by a failed disk-full test */
        assert_int_equal(test_rm_rf(d->root), 0);
        free(d->root);
        free(d->src);
        free(d->out_dir);
        free(d->out);
        free(d);
        return 0;
}

static void write_text(const char *dir, const char *rel, const char *text) {
        _cleanup_free_ char *p = path_join(dir, rel);
        assert_int_equal(test_write_file(p, text, strlen(text)), 0);
}

static char *read_file(const char *path, size_t *ret_size) {
        FILE *f = fopen(path, "re");
        char *buf;
        long n;

        assert_non_null(f);
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        n = ftell(f);
        rewind(f);
        buf = malloc((size_t) n + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t) n, f), (size_t) n);
        buf[n] = 0;
        fclose(f);
        if (ret_size)
                *ret_size = (size_t) n;
        return buf;
}

static bool files_equal(const char *a, const char *b) {
        size_t na, nb;
        _cleanup_free_ char *x = read_file(a, &na), *y = read_file(b, &nb);
        return na == nb && memcmp(x, y, na) == 0;
}

static size_t dir_entries(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

/* Extracts one file of image 1 of a WIM into `scratch` and returns its contents. */
static char *wim_file(const char *wim_path, const char *path_in_wim, const char *scratch, size_t *ret_size) {
        _cleanup_(wimlib_freep) WIMStruct *wim = NULL;
        const char *paths[] = { path_in_wim };
        _cleanup_free_ char *base = NULL, *local = NULL;
        const char *slash = strrchr(path_in_wim, '\\');

        (void) test_rm_rf(scratch);
        assert_int_equal(mkdir(scratch, 0700), 0);
        assert_int_equal(wimlib_open_wim(wim_path, 0, &wim), 0);
        if (wimlib_extract_paths(wim, 1, scratch, paths, 1,
                                 WIMLIB_EXTRACT_FLAG_NO_PRESERVE_DIR_STRUCTURE) != 0)
                return NULL;
        base = strdup(slash ? slash + 1 : path_in_wim);
        local = path_join(scratch, base);
        return read_file(local, ret_size);
}

static void assert_wim_file(const Dirs *d, const char *path_in_wim, const char *expected) {
        _cleanup_free_ char *scratch = path_join(d->root, "extract");
        _cleanup_free_ char *got = wim_file(d->out, path_in_wim, scratch, NULL);

        if (!got)
                fail_msg("%s is not in the built image", path_in_wim);
        assert_string_equal(got, expected);
}

static int count_children_named(const struct wimlib_dir_entry *de, void *userdata) {
        const char **name = userdata;
        if (de->filename && strcasecmp(de->filename, name[0]) == 0)
                name[1]++;
        return 0;
}

/* How many entries of a directory of image 1 are named `name`, compared case-insensitively. */
static unsigned wim_children_named(const char *wim_path, const char *dir, const char *name) {
        _cleanup_(wimlib_freep) WIMStruct *wim = NULL;
        const char *ctx[2] = { name, NULL };

        assert_int_equal(wimlib_open_wim(wim_path, 0, &wim), 0);
        assert_int_equal(wimlib_iterate_dir_tree(wim, 1, dir, WIMLIB_ITERATE_DIR_TREE_FLAG_CHILDREN,
                                                 count_children_named, ctx), 0);
        return (unsigned) (uintptr_t) ctx[1];
}

static int32_t hive_scratch_space(const char *hive_path) {
        hive_h *h = hivex_open(hive_path, 0);
        hive_node_h n;
        hive_value_h v;
        hive_type t;
        size_t len;
        int32_t r;

        assert_non_null(h);
        n = hivex_node_get_child(h, hivex_root(h), "ControlSet001");
        assert_true(n != 0);
        n = hivex_node_get_child(h, n, "Services");
        assert_true(n != 0);
        n = hivex_node_get_child(h, n, "FBWF");
        assert_true(n != 0);
        v = hivex_node_get_value(h, n, "WinPECacheThreshold");
        assert_true(v != 0);
        assert_int_equal(hivex_value_type(h, v, &t, &len), 0);
        assert_int_equal(t, hive_t_REG_DWORD);
        assert_int_equal(len, 4);
        r = hivex_value_dword(h, v);
        hivex_close(h);
        return r;
}

static int32_t built_scratch_space(const Dirs *d) {
        _cleanup_free_ char *scratch = path_join(d->root, "extract");
        _cleanup_free_ char *hive = path_join(scratch, "SYSTEM");
        _cleanup_free_ char *data = wim_file(d->out, "\\Windows\\System32\\config\\SYSTEM", scratch, NULL);

        assert_non_null(data);
        return hive_scratch_space(hive);
}

/* --- architecture names ------------------------------------------------------------------------ */

static void test_arch_helpers(void **state) {
        assert_string_equal(imaging_osd_arch_dir("0"), "i386");
        assert_string_equal(imaging_osd_arch_dir("9"), "x64");
        assert_string_equal(imaging_osd_arch_dir("12"), "arm64");
        assert_null(imaging_osd_arch_dir("5"));
        assert_null(imaging_osd_arch_dir("6"));
        assert_null(imaging_osd_arch_dir("x64"));
        assert_null(imaging_osd_arch_dir(NULL));
        assert_null(imaging_osd_arch_dir(""));

        assert_string_equal(imaging_adk_arch_dir("0"), "x86");
        assert_string_equal(imaging_adk_arch_dir("9"), "amd64");
        assert_string_equal(imaging_adk_arch_dir("12"), "arm64");
        assert_null(imaging_adk_arch_dir("6"));
        assert_null(imaging_adk_arch_dir("13"));

        assert_string_equal(imaging_architecture_code("x86"), "0");
        assert_string_equal(imaging_architecture_code("i386"), "0");
        assert_string_equal(imaging_architecture_code("x64"), "9");
        assert_string_equal(imaging_architecture_code("AMD64"), "9");
        assert_string_equal(imaging_architecture_code("amd64"), "9");
        assert_string_equal(imaging_architecture_code("ia64"), "6");
        assert_string_equal(imaging_architecture_code("ARM64"), "12");
        assert_string_equal(imaging_architecture_code("arm"), "5");
        for (const char *const *c = (const char *const[]) { "0", "5", "6", "9", "12", NULL }; *c; c++)
                assert_string_equal(imaging_architecture_code(*c), *c);
        assert_null(imaging_architecture_code("7"));
        assert_null(imaging_architecture_code("x65"));
        assert_null(imaging_architecture_code(""));
        assert_null(imaging_architecture_code(NULL));
}

/* --- metadata ---------------------------------------------------------------------------------- */

static void check_winpe_info(const ImageInfo *i, const char *arch, const char *name) {
        int y, mo, da, h, mi, s;
        char tail;

        assert_int_equal(i->index, 1);
        assert_string_equal(i->name, name);
        assert_string_equal(i->description, name);
        assert_string_equal(i->architecture, arch);
        assert_string_equal(i->language, "en-US");
        assert_string_equal(i->os_version, "10.0.22621.1");
        assert_string_equal(i->product_type, "WinNT");
        assert_string_equal(i->hal, "acpiapic");
        assert_string_equal(i->system_root, "WINDOWS");
        assert_string_equal(i->edition_id, "WindowsPE");
        assert_string_equal(i->created_by, "");
        /* CREATIONTIME is set by wimlib at capture: now, in UTC. */
        assert_int_equal(sscanf(i->creation_date, "%4d-%2d-%2d %2d:%2d:%2d%c", &y, &mo, &da, &h, &mi, &s,
                                &tail), 6);
        assert_int_equal(strlen(i->creation_date), 19);
        assert_true(y >= 2024);
        assert_true(i->total_bytes > 0);
}

static void test_read_info_winpe(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *plain = path_join(d->root, "plain.wim");
        WimInfo info = {};
        SmsError e = SMS_ERROR_NULL;
        time_t before = time(NULL);
        struct tm tm;
        char today[16];

        assert_int_equal(imaging_read_info(d->src, &info, &e), 0);
        assert_false(sms_error_is_set(&e));
        assert_int_equal(info.n_images, 1);
        assert_int_equal(info.compression_type, WIMLIB_COMPRESSION_TYPE_LZX);
        check_winpe_info(&info.images[0], "9", "Microsoft Windows PE (x64)");
        /* 64 KiB of filler plus the small files and the 12 KiB hive. */
        assert_true(info.images[0].total_bytes > 64 * 1024 + 12 * 1024);
        assert_true(info.images[0].total_bytes < 128 * 1024);
        wim_info_done(&info);

        /* Uncompressed, x86, no hive. The creation date is today (UTC) to within the test's run. */
        assert_int_equal(test_make_winpe_wim(plain, "0", false, 0, false), 0);
        assert_int_equal(imaging_read_info(plain, &info, &e), 0);
        assert_int_equal(info.compression_type, WIMLIB_COMPRESSION_TYPE_NONE);
        check_winpe_info(&info.images[0], "0", "Microsoft Windows PE (x86)");
        gmtime_r(&before, &tm);
        strftime(today, sizeof today, "%Y-%m-%d", &tm);
        assert_memory_equal(info.images[0].creation_date, today, 10);
        wim_info_done(&info);
        wim_info_done(&info); /* idempotent */
}

static void test_read_info_multi(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *multi = path_join(d->root, "multi.wim");
        WimInfo info = {};
        SmsError e = SMS_ERROR_NULL;

        assert_int_equal(test_make_multi_image_wim(multi, 3), 0);
        assert_int_equal(imaging_read_info(multi, &info, &e), 0);
        assert_int_equal(info.n_images, 3);
        for (unsigned i = 0; i < 3; i++) {
                char name[32], desc[32];
                snprintf(name, sizeof name, "Image %u", i + 1);
                snprintf(desc, sizeof desc, "Test image %u", i + 1);
                assert_int_equal(info.images[i].index, i + 1);
                assert_string_equal(info.images[i].name, name);
                assert_string_equal(info.images[i].description, desc);
                assert_string_equal(info.images[i].architecture, i % 2 == 0 ? "9" : "0");
                /* Properties an image lacks are "", never NULL. */
                assert_string_equal(info.images[i].language, "");
                assert_string_equal(info.images[i].os_version, "");
                assert_string_equal(info.images[i].hal, "");
                assert_string_equal(info.images[i].edition_id, "");
                assert_true(info.images[i].total_bytes > 0);
        }
        wim_info_done(&info);
}

static void assert_image_error(int r, SmsError *e) {
        assert_int_equal(r, sms_error_code_to_errno(SMS_ERROR_IMAGE_ERROR));
        assert_int_equal(e->code, SMS_ERROR_IMAGE_ERROR);
        assert_non_null(strstr(e->message, "wimlib: "));
        assert_non_null(strstr(e->message, "(error "));
}

static void test_read_info_not_a_wim(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *text = path_join(d->root, "notes.txt"), *empty = path_join(d->root, "empty.wim"),
                            *missing = path_join(d->root, "missing.wim");
        WimInfo info = {};
        SmsError e = SMS_ERROR_NULL;
        char msg[64];

        /* Longer than a WIM header (208 bytes), so that wimlib reads the magic, not the end. */
        {
                char buf[1024];
                for (size_t i = 0; i < sizeof buf - 1; i++)
                        buf[i] = "This is not a WIM file. "[i % 24];
                buf[sizeof buf - 1] = 0;
                write_text(d->root, "notes.txt", buf);
        }
        assert_image_error(imaging_read_info(text, &info, &e), &e);
        snprintf(msg, sizeof msg, "(error %d)", WIMLIB_ERR_NOT_A_WIM_FILE);
        assert_non_null(strstr(e.message, msg));
        assert_non_null(strstr(e.message, wimlib_get_error_string(WIMLIB_ERR_NOT_A_WIM_FILE)));
        assert_non_null(strstr(e.message, text));
        assert_null(info.images);
        sms_error_clear(&e);

        /* Shorter than a header, and empty. */
        write_text(d->root, "empty.wim", "MSWIM\0\0");
        assert_image_error(imaging_read_info(empty, &info, &e), &e);
        sms_error_clear(&e);
        write_text(d->root, "empty.wim", "");
        assert_image_error(imaging_read_info(empty, &info, &e), &e);
        sms_error_clear(&e);

        assert_image_error(imaging_read_info(missing, &info, &e), &e);
        sms_error_clear(&e);
}

static void test_read_info_truncated(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *cut = path_join(d->root, "cut.wim");
        struct stat st;
        WimInfo info = {};
        SmsError e = SMS_ERROR_NULL;

        assert_int_equal(stat(d->src, &st), 0);
        /* Cut in the middle (the blob table and XML at the end are gone), and inside the header. */
        for (off_t size = st.st_size / 2; size > 0; size = size > 100 ? 100 : 0) {
                _cleanup_free_ char *data = read_file(d->src, NULL);
                assert_int_equal(test_write_file(cut, data, (size_t) size), 0);
                assert_image_error(imaging_read_info(cut, &info, &e), &e);
                assert_null(info.images);
                sms_error_clear(&e);
        }
}

/* --- ImageProperty XML ------------------------------------------------------------------------- */

static xmlDocPtr parse_xml(const char *xml) {
        xmlDocPtr doc = xmlReadMemory(xml, (int) strlen(xml), "ImageProperty.xml", "UTF-8", XML_PARSE_NONET);
        assert_non_null(doc);
        return doc;
}

static char *xml_attr(xmlNodePtr n, const char *name) {
        xmlChar *v = xmlGetProp(n, BAD_CAST name);
        char *s;
        assert_non_null(v);
        s = strdup((const char *) v);
        xmlFree(v);
        return s;
}

static char *xml_text(xmlNodePtr n) {
        xmlChar *v = xmlNodeGetContent(n);
        char *s = strdup((const char *) v);
        xmlFree(v);
        return s;
}

static xmlNodePtr next_element(xmlNodePtr n) {
        while (n && n->type != XML_ELEMENT_NODE)
                n = n->next;
        return n;
}

/* Whatever text an ImageInfo holds, the document parses: control characters and the
 * non-characters U+FFFE/U+FFFF are replaced. */
static void test_image_property_control_characters(void **state) {
        char name[] = "a\x01" "b\x1f\tc", description[] = "x\xef\xbf\xbey", empty[] = "";
        ImageInfo image = { .index = 1, .name = name, .description = description, .architecture = empty,
                            .language = empty, .os_version = empty, .product_type = empty, .hal = empty,
                            .system_root = empty, .edition_id = empty, .created_by = empty, .creation_date = empty };
        WimInfo info = { .images = &image, .n_images = 1 };
        SmsError e = SMS_ERROR_NULL;
        _cleanup_free_ char *xml = NULL;

        assert_int_equal(imaging_image_property_xml(&info, 0, &xml, &e), 0);
        xmlDocPtr doc = parse_xml(xml);
        assert_non_null(doc);
        assert_non_null(strstr(xml, "a?b?")); /* the tab stays, possibly as a character reference */
        assert_non_null(strstr(xml, "x\xef\xbf\xbdy"));
        xmlFreeDoc(doc);
        (void) state;
}

static void test_image_property_shape(void **state) {
        static const char *const names[] = {
                "Image name", "Image description", "Architecture", "Language", "OS version", "Product type",
                "HAL type", "Creation date", "Size", "System directory", /* "Created by" is "": absent */
        };
        Dirs *d = *state;
        WimInfo info = {};
        SmsError e = SMS_ERROR_NULL;
        _cleanup_free_ char *xml = NULL;
        xmlDocPtr doc;
        xmlNodePtr root, image, p;
        char size[32];

        assert_int_equal(imaging_read_info(d->src, &info, &e), 0);
        assert_int_equal(imaging_image_property_xml(&info, 0, &xml, &e), 0);
        /* No XML declaration, no trailing newline: the value of a string property. */
        assert_true(strncmp(xml, "<WIM><IMAGE Index=\"1\"><Property Name=\"Image name\">", 49) == 0);
        assert_true(xml[strlen(xml) - 1] == '>');

        doc = parse_xml(xml);
        root = xmlDocGetRootElement(doc);
        assert_string_equal((const char *) root->name, "WIM");
        image = next_element(root->children);
        assert_non_null(image);
        assert_string_equal((const char *) image->name, "IMAGE");
        {
                _cleanup_free_ char *index = xml_attr(image, "Index");
                assert_string_equal(index, "1");
        }
        assert_null(next_element(image->next));

        snprintf(size, sizeof size, "%" PRIu64, info.images[0].total_bytes);
        const char *values[] = {
                "Microsoft Windows PE (x64)", "Microsoft Windows PE (x64)", "9", "en-US", "10.0.22621.1",
                "WinNT",
                "acpiapic", info.images[0].creation_date, size, "WINDOWS",
        };
        p = next_element(image->children);
        for (size_t i = 0; i < ELEMENTSOF(names); i++, p = next_element(p->next)) {
                _cleanup_free_ char *name = NULL, *text = NULL;
                assert_non_null(p);
                assert_string_equal((const char *) p->name, "Property");
                name = xml_attr(p, "Name");
                text = xml_text(p);
                assert_string_equal(name, names[i]);
                assert_string_equal(text, values[i]);
        }
        assert_null(p);
        xmlFreeDoc(doc);
        wim_info_done(&info);
}

static void test_image_property_escaping(void **state) {
        /* Everything XML must escape, quotes, non-ASCII, and U+FFFE (not an XML character). */
        static const char nasty[] = "<WinPE & \"Tools\"> 'x' </Property> ]]> é 日本語 \xEF\xBF\xBE end";
        static const char expected[] = "<WinPE & \"Tools\"> 'x' </Property> ]]> é 日本語 \xEF\xBF\xBD end";
        ImageInfo images[2] = {
                { .index = 1, .name = (char *) nasty, .description = (char *) "tab\there",
                  .architecture = (char *) "9",
                  .language = (char *) "", .os_version = (char *) "", .product_type = (char *) "",
                  .hal = (char *) "", .system_root = (char *) "", .edition_id = (char *) "",
                  .created_by = (char *) "a&b", .creation_date = (char *) "", .total_bytes = 7 },
                { .index = 2, .name = (char *) "second", .description = (char *) "",
                  .architecture = (char *) "0",
                  .language = (char *) "", .os_version = (char *) "", .product_type = (char *) "",
                  .hal = (char *) "", .system_root = (char *) "", .edition_id = (char *) "",
                  .created_by = (char *) "", .creation_date = (char *) "", .total_bytes = 0 },
        };
        WimInfo info = { .images = images, .n_images = 2 };
        SmsError e = SMS_ERROR_NULL;
        _cleanup_free_ char *all = NULL, *second = NULL;
        xmlDocPtr doc;
        xmlNodePtr image, p;

        assert_int_equal(imaging_image_property_xml(&info, 0, &all, &e), 0);
        assert_null(strstr(all, "<WinPE"));
        assert_non_null(strstr(all, "&lt;WinPE &amp;"));
        assert_non_null(strstr(all, "日本語")); /* raw UTF-8, not character references */
        doc = parse_xml(all);
        image = next_element(xmlDocGetRootElement(doc)->children);
        p = next_element(image->children);
        {
                _cleanup_free_ char *name = xml_attr(p, "Name"), *text = xml_text(p);
                assert_string_equal(name, "Image name");
                assert_string_equal(text, expected);
        }
        p = next_element(p->next);
        {
                _cleanup_free_ char *text = xml_text(p);
                assert_string_equal(text, "tab\there");
        }
        p = next_element(p->next); /* Architecture */
        p = next_element(p->next); /* Created by: the empty ones in between are absent */
        {
                _cleanup_free_ char *name = xml_attr(p, "Name"), *text = xml_text(p);
                assert_string_equal(name, "Created by");
                assert_string_equal(text, "a&b");
        }
        image = next_element(image->next);
        assert_non_null(image);
        {
                _cleanup_free_ char *index = xml_attr(image, "Index");
                assert_string_equal(index, "2");
        }
        xmlFreeDoc(doc);

        /* One image only, and an index the WIM lacks. */
        assert_int_equal(imaging_image_property_xml(&info, 2, &second, &e), 0);
        assert_non_null(strstr(second, "<IMAGE Index=\"2\">"));
        assert_null(strstr(second, "Index=\"1\""));
        assert_int_equal(imaging_image_property_xml(&info, 3, &all, &e),
                         sms_error_code_to_errno(SMS_ERROR_IMAGE_ERROR));
        assert_int_equal(e.code, SMS_ERROR_IMAGE_ERROR);
        sms_error_clear(&e);
}

/* --- boot image plans -------------------------------------------------------------------------- */

typedef struct OsdTree {
        char *osd_root, *driver_dir, *driver_inf_dir, *driver_inf, *prestart_dir, *bitmap, *component;
} OsdTree;

/* A fake site: OSD binaries for x64, two drivers, prestart files, a bitmap and an optional
 * component whose tree uses lower case, as Linux trees may. */
static void make_osd_tree(const Dirs *d, OsdTree *t) {
        t->osd_root = path_join(d->root, "osd");
        write_text(t->osd_root, "x64/TsBootShell.exe", "MZ TsBootShell");
        write_text(t->osd_root, "x64/TsmBootstrap.exe", "MZ TsmBootstrap");
        write_text(t->osd_root, "x64/00000409/tsres.dll", "MZ tsres");
        t->driver_dir = path_join(d->root, "drivers/net");
        write_text(t->driver_dir, "e1d.inf", "[Version]\r\nSignature=\"$WINDOWS NT$\"\r\n");
        write_text(t->driver_dir, "e1d.sys", "MZ e1d");
        t->driver_inf_dir = path_join(d->root, "drivers/storage");
        write_text(t->driver_inf_dir, "stor.inf", "[Version]\r\n");
        write_text(t->driver_inf_dir, "stor.sys", "MZ stor");
        t->driver_inf = path_join(t->driver_inf_dir, "stor.inf");
        t->prestart_dir = path_join(d->root, "prestart");
        write_text(t->prestart_dir, "Start-VNC.ps1", "Write-Host vnc\r\n");
        t->bitmap = path_join(d->root, "background.bmp");
        write_text(d->root, "background.bmp", "BM fake bitmap");
        t->component = path_join(d->root, "oc/WinPE-Scripting");
        write_text(t->component, "windows/system32/wscript.exe", "MZ wscript");
        write_text(t->component, "Windows/System32/winpeshl.ini", "from a component: must lose");
}

static void osd_tree_done(OsdTree *t) {
        free(t->osd_root);
        free(t->driver_dir);
        free(t->driver_inf_dir);
        free(t->driver_inf);
        free(t->prestart_dir);
        free(t->bitmap);
        free(t->component);
}

static const ImagingFile *plan_file(const BootImagePlan *p, const char *target) {
        for (size_t i = 0; i < p->n_files; i++)
                if (streq(p->files[i].target, target))
                        return &p->files[i];
        return NULL;
}

static void assert_plan_text(const BootImagePlan *p, const char *target, const char *text) {
        const ImagingFile *f = plan_file(p, target);
        if (!f)
                fail_msg("the plan has no %s", target);
        assert_int_equal(f->size, strlen(text));
        assert_memory_equal(f->data, text, f->size);
}

static void assert_plan_add(const BootImagePlan *p, size_t i, const char *source, const char *target) {
        assert_true(i < p->n_adds);
        assert_string_equal(p->adds[i].source, source);
        assert_string_equal(p->adds[i].target, target);
}

/* A configuration with every part (drivers, a component, prestart files, a bitmap, the lab shell)
 * and the OSD tree it points into. */
typedef struct FullConfig {
        OsdTree t;
        BootImageDriver drivers[2];
        const char *comps[1];
        BootImageConfig c;
} FullConfig;

/* Sets f->c (and the drivers and components it points to) to the full configuration again. */
static void full_config_reset(FullConfig *f) {
        f->drivers[0] = (BootImageDriver) { .id = 16777300, .source = f->t.driver_dir };
        f->drivers[1] = (BootImageDriver) { .id = 16777301, .source = f->t.driver_inf };
        f->comps[0] = f->t.component;
        f->c = (BootImageConfig) {
                .architecture = "9",
                .osd_bin_root = f->t.osd_root,
                .enable_lab_shell = true,
                .pre_exec_command_line = "cmd /c %SYSTEMDRIVE%\\sms\\PKG\\SMS10000\\start.cmd",
                .pre_exec_source_directory = f->t.prestart_dir,
                .background_bitmap_path = f->t.bitmap,
                .drivers = f->drivers,
                .n_drivers = 2,
                .component_dirs = f->comps,
                .n_components = 1,
                .scratch_space_mb = 512,
        };
}

static void full_config_make(const Dirs *d, FullConfig *f) {
        *f = (FullConfig) {};
        make_osd_tree(d, &f->t);
        full_config_reset(f);
}

/* The files the full configuration writes into the image. */
static const char full_winpeshl_ini[] = "[LaunchApps]\r\n"
                                        "%SYSTEMDRIVE%\\sms\\bin\\x64\\LoadDrivers.cmd\r\n"
                                        "%SYSTEMDRIVE%\\sms\\bin\\x64\\TsBootShell.exe\r\n";
static const char full_tsbootshell_ini[] = "[Shell]\r\n"
                                           "EnableDebugShell=true\r\n"
                                           "Run=%SYSTEMDRIVE%\\sms\\bin\\x64\\TsmBootstrap.exe"
                                           " /env:WinPE /configpath:%CONFIGPATH%\r\n";
static const char full_tsmbootstrap_ini[] =
        "[MediaInfo]\r\n"
        "PrestartCommandLine=cmd /c %SYSTEMDRIVE%\\sms\\PKG\\SMS10000\\start.cmd\r\n"
        "PrestartDirectory=%SYSTEMDRIVE%\\sms\\PKG\\SMS10000\r\n";

static void test_plan_full(void **state) {
        Dirs *d = *state;
        FullConfig f;
        BootImagePlan p = {};
        SmsError e = SMS_ERROR_NULL;
        _cleanup_free_ char *osd_x64 = NULL;

        full_config_make(d, &f);
        osd_x64 = path_join(f.t.osd_root, "x64");
        assert_int_equal(boot_image_plan(&f.c, &p, &e), 0);

        assert_int_equal(p.n_adds, 6);
        assert_plan_add(&p, 0, f.t.component, "\\");
        assert_plan_add(&p, 1, osd_x64, "\\sms\\bin\\x64");
        assert_plan_add(&p, 2, f.t.prestart_dir, "\\sms\\PKG\\SMS10000");
        assert_plan_add(&p, 3, f.t.bitmap, "\\Windows\\System32\\winpe.bmp");
        assert_plan_add(&p, 4, f.t.driver_dir, "\\sms\\drivers\\16777300");
        assert_plan_add(&p, 5, f.t.driver_inf_dir, "\\sms\\drivers\\16777301"); /* the .inf's folder */

        assert_int_equal(p.n_files, 4);
        assert_plan_text(&p, "\\Windows\\System32\\winpeshl.ini", full_winpeshl_ini);
        assert_plan_text(&p, "\\sms\\bin\\x64\\LoadDrivers.cmd",
                         "@echo off\r\n"
                         "for /r %SYSTEMDRIVE%\\sms\\drivers %%i in (*.inf) do drvload \"%%i\"\r\n");
        assert_plan_text(&p, "\\sms\\bin\\x64\\TsBootShell.ini", full_tsbootshell_ini);
        assert_plan_text(&p, "\\sms\\data\\TsmBootstrap.ini", full_tsmbootstrap_ini);
        assert_int_equal(p.scratch_space_mb, 512);

        /* The plan owns its strings: it outlives the configuration's. */
        for (size_t i = 0; i < p.n_adds; i++)
                assert_ptr_not_equal(p.adds[i].source, f.c.osd_bin_root);
        boot_image_plan_done(&p);
        boot_image_plan_done(&p);
        osd_tree_done(&f.t);
}

static void test_plan_minimal(void **state) {
        Dirs *d = *state;
        OsdTree t = {};
        BootImagePlan p = {};
        SmsError e = SMS_ERROR_NULL;
        BootImageConfig c;

        make_osd_tree(d, &t);
        /* No drivers, no lab shell, a prestart command without files: no LoadDrivers, and no
         * PrestartDirectory naming a folder the image does not have. */
        c = (BootImageConfig) {
                .architecture = "9",
                .osd_bin_root = t.osd_root,
                .pre_exec_command_line = "cmd /c x",
                .pre_exec_source_directory = "",
                .background_bitmap_path = "",
        };
        assert_int_equal(boot_image_plan(&c, &p, &e), 0);
        assert_int_equal(p.n_adds, 1);
        assert_int_equal(p.n_files, 3);
        assert_null(plan_file(&p, "\\sms\\bin\\x64\\LoadDrivers.cmd"));
        assert_plan_text(&p, "\\Windows\\System32\\winpeshl.ini",
                         "[LaunchApps]\r\n%SYSTEMDRIVE%\\sms\\bin\\x64\\TsBootShell.exe\r\n");
        assert_plan_text(&p, "\\sms\\bin\\x64\\TsBootShell.ini",
                         "[Shell]\r\n"
                         "EnableDebugShell=false\r\n"
                         "Run=%SYSTEMDRIVE%\\sms\\bin\\x64\\TsmBootstrap.exe"
                         " /env:WinPE /configpath:%CONFIGPATH%\r\n");
        assert_plan_text(&p, "\\sms\\data\\TsmBootstrap.ini",
                         "[MediaInfo]\r\nPrestartCommandLine=cmd /c x\r\n");
        assert_int_equal(p.scratch_space_mb, 0);
        boot_image_plan_done(&p);

        /* Without a prestart command there is no TsmBootstrap.ini. */
        c.pre_exec_command_line = NULL;
        assert_int_equal(boot_image_plan(&c, &p, &e), 0);
        assert_int_equal(p.n_files, 2);
        assert_null(plan_file(&p, "\\sms\\data\\TsmBootstrap.ini"));
        boot_image_plan_done(&p);

        /* x86 uses i386. */
        write_text(t.osd_root, "i386/TsBootShell.exe", "MZ");
        c.architecture = "0";
        assert_int_equal(boot_image_plan(&c, &p, &e), 0);
        assert_plan_text(&p, "\\Windows\\System32\\winpeshl.ini",
                         "[LaunchApps]\r\n%SYSTEMDRIVE%\\sms\\bin\\i386\\TsBootShell.exe\r\n");
        assert_string_equal(p.adds[0].target, "\\sms\\bin\\i386");
        boot_image_plan_done(&p);
        osd_tree_done(&t);
}

static void assert_invalid(const BootImageConfig *c, const char *in_message) {
        BootImagePlan p = {};
        SmsError e = SMS_ERROR_NULL;

        assert_int_equal(boot_image_plan(c, &p, &e), sms_error_code_to_errno(SMS_ERROR_INVALID_PARAMETER));
        assert_int_equal(e.code, SMS_ERROR_INVALID_PARAMETER);
        if (!strstr(e.message, in_message))
                fail_msg("\"%s\" does not mention \"%s\"", e.message, in_message);
        assert_null(p.adds);
        sms_error_clear(&e);
}

static void test_plan_errors(void **state) {
        Dirs *d = *state;
        FullConfig f;
        _cleanup_free_ char *arm64 = NULL, *missing = path_join(d->root, "nothing-here");

        full_config_make(d, &f);
        arm64 = path_join(f.t.osd_root, "arm64");

        /* The OSD binaries of the image's architecture are missing: the message names the folder. */
        f.c.architecture = "12";
        assert_invalid(&f.c, arm64);
        f.c.architecture = "5"; /* ARM: no OSD binaries exist */
        assert_invalid(&f.c, "architecture 5");
        f.c.architecture = NULL;
        assert_invalid(&f.c, "architecture");
        full_config_reset(&f);
        f.c.osd_bin_root = NULL;
        assert_invalid(&f.c, "OSD binaries");

        full_config_reset(&f);
        f.drivers[1].source = missing;
        assert_invalid(&f.c, missing);
        f.drivers[1].source = f.t.bitmap; /* neither a folder nor an .inf */
        assert_invalid(&f.c, "16777301");

        full_config_reset(&f);
        f.c.pre_exec_source_directory = missing;
        assert_invalid(&f.c, "PreExecSourceDirectory");
        full_config_reset(&f);
        f.c.pre_exec_source_directory = f.t.bitmap;
        assert_invalid(&f.c, "not a directory");
        full_config_reset(&f);
        f.c.background_bitmap_path = missing;
        assert_invalid(&f.c, "BackgroundBitmapPath");
        full_config_reset(&f);
        f.c.pre_exec_command_line = "cmd /c x\r\n[Evil]";
        assert_invalid(&f.c, "one line");
        osd_tree_done(&f.t);
}

/* --- building ---------------------------------------------------------------------------------- */

typedef struct Progress {
        unsigned calls;
        unsigned cancel_at;       /* cancel at this call (1-based); 0 = never */
        const char *cancel_in;    /* or at the first call with this text and done > 0 */
        bool monotonic_within_phase;
        char last_text[64];
        uint64_t last_done;
} Progress;

static bool on_progress(void *userdata, uint64_t done, uint64_t total, const char *text) {
        Progress *p = userdata;

        p->calls++;
        assert_non_null(text);
        assert_true(total == 0 || done <= total);
        if (streq(p->last_text, text) && done < p->last_done)
                p->monotonic_within_phase = false;
        snprintf(p->last_text, sizeof p->last_text, "%s", text);
        p->last_done = done;
        if (p->cancel_at && p->calls == p->cancel_at)
                return false;
        if (p->cancel_in && streq(text, p->cancel_in) && done > 0)
                return false;
        return true;
}

static void test_build_boot_image(void **state) {
        Dirs *d = *state;
        FullConfig f;
        BootImagePlan p = {};
        ImagingBuildResult res = {};
        SmsError e = SMS_ERROR_NULL;
        Progress prog = { .monotonic_within_phase = true };
        _cleanup_free_ char *before = path_join(d->root, "src-before.wim"), *data = NULL;
        struct stat st;
        WimInfo out = {};

        data = read_file(d->src, &(size_t) { 0 });
        assert_int_equal(stat(d->src, &st), 0);
        assert_int_equal(test_write_file(before, data, (size_t) st.st_size), 0);

        full_config_make(d, &f);
        assert_int_equal(boot_image_plan(&f.c, &p, &e), 0);
        ImagingBuild b = {
                .source_path = d->src, .image_index = 1, .output_path = d->out,
                .adds = p.adds, .n_adds = p.n_adds, .files = p.files, .n_files = p.n_files,
                .scratch_space_mb = p.scratch_space_mb, .progress = on_progress, .userdata = &prog,
        };
        assert_int_equal(imaging_build(&b, &res, &e), 0);
        assert_false(sms_error_is_set(&e));
        assert_true(prog.calls > 3);
        assert_true(prog.monotonic_within_phase);

        /* The result describes the output. */
        assert_int_equal(stat(d->out, &st), 0);
        assert_int_equal(res.file_size, (uint64_t) st.st_size);
        assert_string_equal(res.notes, "");
        check_winpe_info(&res.info, "9", "Microsoft Windows PE (x64)");
        assert_int_equal(imaging_read_info(d->out, &out, &e), 0);
        assert_int_equal(out.n_images, 1);
        assert_int_equal(res.info.total_bytes, out.images[0].total_bytes);
        wim_info_done(&out);
        {
                _cleanup_(wimlib_freep) WIMStruct *wim = NULL;
                struct wimlib_wim_info wi;
                assert_int_equal(wimlib_open_wim(d->out, WIMLIB_OPEN_FLAG_CHECK_INTEGRITY, &wim), 0);
                assert_int_equal(wimlib_get_wim_info(wim, &wi), 0);
                assert_int_equal(wi.image_count, 1);
                assert_int_equal(wi.boot_index, 1);
                assert_int_equal(wi.compression_type, WIMLIB_COMPRESSION_TYPE_LZX);
                /* Every blob reads back with the right hash. */
                assert_int_equal(wimlib_verify_wim(wim, 0), 0);
        }

        /* The contents. */
        assert_wim_file(d, "\\sms\\bin\\x64\\TsBootShell.exe", "MZ TsBootShell");
        assert_wim_file(d, "\\sms\\bin\\x64\\00000409\\tsres.dll", "MZ tsres");
        assert_wim_file(d, "\\Windows\\System32\\winpeshl.ini", full_winpeshl_ini);
        assert_wim_file(d, "\\sms\\bin\\x64\\TsBootShell.ini", full_tsbootshell_ini);
        assert_wim_file(d, "\\sms\\data\\TsmBootstrap.ini", full_tsmbootstrap_ini);
        assert_wim_file(d, "\\sms\\PKG\\SMS10000\\Start-VNC.ps1", "Write-Host vnc\r\n");
        assert_wim_file(d, "\\Windows\\System32\\winpe.bmp", "BM fake bitmap");
        assert_wim_file(d, "\\sms\\drivers\\16777300\\e1d.inf",
                        "[Version]\r\nSignature=\"$WINDOWS NT$\"\r\n");
        assert_wim_file(d, "\\sms\\drivers\\16777300\\e1d.sys", "MZ e1d");
        assert_wim_file(d, "\\sms\\drivers\\16777301\\stor.sys", "MZ stor");
        assert_wim_file(d, "\\Windows\\System32\\wscript.exe", "MZ wscript");
        /* The source's own files are still there. */
        assert_wim_file(d, "\\Windows\\Fonts\\segoeui.ttf", "font");
        /* The component's lower-case tree merged into the image's directories (paths are
         * case-insensitive, as on Windows), it did not make a second "windows". */
        assert_int_equal(wim_children_named(d->out, "\\", "Windows"), 1);
        assert_int_equal(wim_children_named(d->out, "\\Windows", "System32"), 1);
        assert_int_equal(built_scratch_space(d), 512);

        /* The source is untouched, and the output directory holds the output only. */
        assert_true(files_equal(d->src, before));
        assert_int_equal(dir_entries(d->out_dir), 1);

        imaging_build_result_done(&res);
        imaging_build_result_done(&res);
        boot_image_plan_done(&p);
        osd_tree_done(&f.t);
}

/* Building again over an existing output, from an image whose hive already has FBWF, with
 * uncompressed source data and no progress function. */
static void test_build_rebuild(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *plain = path_join(d->root, "plain.wim");
        _cleanup_free_ char *first = path_join(d->root, "first.wim");
        ImagingFile files[] = { { .target = "\\new\\dir\\note.txt", .data = "note", .size = 4 },
                                { .target = "/Windows/System32/empty.txt", .data = NULL, .size = 0 } };
        ImagingBuild b = { .source_path = plain, .image_index = 1, .output_path = d->out,
                           .scratch_space_mb = 32,
                           .files = files, .n_files = 2 };
        ImagingBuildResult res = {};
        SmsError e = SMS_ERROR_NULL;

        assert_int_equal(test_make_winpe_wim(plain, "9", true, 256 * 1024, false), 0);
        assert_int_equal(imaging_build(&b, &res, &e), 0);
        assert_int_equal(built_scratch_space(d), 32);
        assert_wim_file(d, "\\new\\dir\\note.txt", "note");
        assert_wim_file(d, "\\Windows\\System32\\empty.txt", "");
        assert_null(res.leftover); /* nothing was replaced */
        imaging_build_result_done(&res);
        assert_int_equal(rename(d->out, first), 0);

        /* FBWF exists now: the value is replaced, not duplicated. The output path exists too. */
        write_text(d->out_dir, "boot.wim", "the previous output");
        b.source_path = first;
        b.scratch_space_mb = 256;
        b.n_files = 0;
        assert_int_equal(imaging_build(&b, &res, &e), 0);
        assert_int_equal(built_scratch_space(d), 256);
        assert_wim_file(d, "\\new\\dir\\note.txt", "note");
        /* The replaced output lives on in the leftover folder until the result is done with. */
        assert_non_null(res.leftover);
        assert_int_equal(dir_entries(d->out_dir), 2);
        {
                _cleanup_free_ char *replaced = path_join(res.leftover, "replaced");
                _cleanup_free_ char *text = read_file(replaced, NULL);
                assert_string_equal(text, "the previous output");
        }
        {
                WimInfo info = {};
                assert_int_equal(imaging_read_info(d->out, &info, &e), 0);
                assert_int_equal(info.compression_type, WIMLIB_COMPRESSION_TYPE_NONE);
                wim_info_done(&info);
        }
        imaging_build_result_done(&res);
        assert_int_equal(dir_entries(d->out_dir), 1);
}

static void test_build_no_hive(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *nohive = path_join(d->root, "nohive.wim");
        ImagingBuild b = { .source_path = nohive, .image_index = 1, .output_path = d->out,
                           .scratch_space_mb = 128 };
        ImagingBuildResult res = {};
        SmsError e = SMS_ERROR_NULL;

        assert_int_equal(test_make_winpe_wim(nohive, "9", false, 0, true), 0);
        assert_int_equal(imaging_build(&b, &res, &e), 0);
        assert_string_equal(res.notes, "the image has no Windows\\System32\\config\\SYSTEM hive; "
                                       "ScratchSpace was not written");
        assert_int_equal(dir_entries(d->out_dir), 1);
        imaging_build_result_done(&res);

        /* Without ScratchSpace the hive is not looked at: no note. */
        b.scratch_space_mb = 0;
        assert_int_equal(imaging_build(&b, &res, &e), 0);
        assert_string_equal(res.notes, "");
        imaging_build_result_done(&res);
}

static void test_build_multi_image(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *multi = path_join(d->root, "multi.wim"), *scratch = path_join(d->root, "x");
        _cleanup_free_ char *text = NULL;
        ImagingBuild b = { .source_path = multi, .image_index = 2, .output_path = d->out };
        ImagingBuildResult res = {};
        SmsError e = SMS_ERROR_NULL;

        assert_int_equal(test_make_multi_image_wim(multi, 3), 0);
        assert_int_equal(imaging_build(&b, &res, &e), 0);
        assert_string_equal(res.info.name, "Image 2");
        assert_string_equal(res.info.architecture, "0");
        assert_int_equal(res.info.index, 1);
        text = wim_file(d->out, "\\image.txt", scratch, NULL);
        assert_string_equal(text, "image 2\n");
        {
                _cleanup_(wimlib_freep) WIMStruct *wim = NULL;
                struct wimlib_wim_info wi;
                assert_int_equal(wimlib_open_wim(d->out, 0, &wim), 0);
                assert_int_equal(wimlib_get_wim_info(wim, &wi), 0);
                assert_int_equal(wi.image_count, 1);
                assert_int_equal(wimlib_verify_wim(wim, 0), 0);
        }
        imaging_build_result_done(&res);

        /* The same source with an integrity table, and as a pipable WIM (which wimlib cannot
         * update in place: it rebuilds through a temporary file of its own). */
        static const int variants[] = { WIMLIB_WRITE_FLAG_CHECK_INTEGRITY, WIMLIB_WRITE_FLAG_PIPABLE };
        for (size_t i = 0; i < ELEMENTSOF(variants); i++) {
                _cleanup_free_ char *variant = path_join(d->root, "variant.wim");
                {
                        _cleanup_(wimlib_freep) WIMStruct *wim = NULL;
                        assert_int_equal(wimlib_open_wim(multi, 0, &wim), 0);
                        assert_int_equal(wimlib_write(wim, variant, WIMLIB_ALL_IMAGES, variants[i], 0), 0);
                }
                b.source_path = variant;
                b.image_index = 3;
                b.scratch_space_mb = 64; /* no hive in these images: a note */
                assert_int_equal(imaging_build(&b, &res, &e), 0);
                assert_string_equal(res.info.name, "Image 3");
                assert_string_not_equal(res.notes, "");
                free(text);
                text = wim_file(d->out, "\\image.txt", scratch, NULL);
                assert_string_equal(text, "image 3\n");
                assert_int_equal(dir_entries(d->out_dir), 2); /* and the replaced output's folder */
                imaging_build_result_done(&res);
                assert_int_equal(dir_entries(d->out_dir), 1);
                assert_int_equal(unlink(variant), 0);
        }
}

static void assert_failed_build(const Dirs *d, const ImagingBuild *b, SmsErrorCode code,
                                const char *in_message) {
        ImagingBuildResult res = {};
        SmsError e = SMS_ERROR_NULL;
        size_t before = dir_entries(d->out_dir);

        /* The return value is a negative errno: the code's, or the system call's that failed. */
        assert_true(imaging_build(b, &res, &e) < 0);
        if (e.code != code)
                fail_msg("expected %s, got %s: %s", sms_error_code_to_name(code),
                         sms_error_code_to_name(e.code), e.message);
        if (in_message && !strstr(e.message, in_message))
                fail_msg("\"%s\" does not mention \"%s\"", e.message, in_message);
        assert_null(res.notes);
        /* Nothing new in the output directory: no temporary file, no staging directory. */
        assert_int_equal(dir_entries(d->out_dir), before);
        sms_error_clear(&e);
}

static void test_build_errors(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *text = path_join(d->root, "text.wim"), *missing = path_join(d->root, "missing");
        _cleanup_free_ char *cut = path_join(d->root, "cut.wim"), *data = NULL;
        ImagingAdd adds[] = { { .source = missing, .target = "\\x" } };
        ImagingBuild b = { .source_path = d->src, .image_index = 2, .output_path = d->out };
        struct stat st;

        /* An index the source lacks. */
        assert_failed_build(d, &b, SMS_ERROR_IMAGE_ERROR, "has no image 2 (it has 1)");
        b.image_index = 0;
        assert_failed_build(d, &b, SMS_ERROR_INVALID_PARAMETER, NULL);

        /* A source that is not a WIM, and a truncated one. */
        write_text(d->root, "text.wim", "not a wim, not a wim, not a wim, not a wim, not a wim, not a wim, "
                                        "not a wim, not a wim, not a wim, not a wim, not a wim, ...\n");
        b = (ImagingBuild) { .source_path = text, .image_index = 1, .output_path = d->out };
        assert_failed_build(d, &b, SMS_ERROR_IMAGE_ERROR, "wimlib: ");
        assert_int_equal(stat(d->src, &st), 0);
        data = read_file(d->src, NULL);
        assert_int_equal(test_write_file(cut, data, (size_t) st.st_size / 2), 0);
        b.source_path = cut;
        assert_failed_build(d, &b, SMS_ERROR_IMAGE_ERROR, "wimlib: ");

        /* An add whose source is missing. */
        b = (ImagingBuild) { .source_path = d->src, .image_index = 1, .output_path = d->out, .adds = adds,
                             .n_adds = 1 };
        assert_failed_build(d, &b, SMS_ERROR_INVALID_PARAMETER, missing);

        /* The source as its own output. */
        b = (ImagingBuild) { .source_path = d->src, .image_index = 1, .output_path = d->src };
        assert_failed_build(d, &b, SMS_ERROR_INVALID_PARAMETER, "is the source");

        /* An output directory that does not exist. */
        b = (ImagingBuild) { .source_path = d->src, .image_index = 1,
                             .output_path = "/nonexistent-dir/boot.wim" };
        assert_failed_build(d, &b, SMS_ERROR_FAILED, "/nonexistent-dir/boot.wim");

        /* A SYSTEM hive hivex cannot open is an image error. */
        {
                _cleanup_free_ char *tree = path_join(d->root, "badtree");
                _cleanup_free_ char *badsrc = path_join(d->root, "badhive.wim");
                _cleanup_(wimlib_freep) WIMStruct *wim = NULL;
                write_text(tree, "Windows/System32/config/SYSTEM", "this is not a registry hive at all");
                assert_int_equal(wimlib_create_new_wim(WIMLIB_COMPRESSION_TYPE_LZX, &wim), 0);
                assert_int_equal(wimlib_add_image(wim, tree, "bad", NULL, 0), 0);
                assert_int_equal(wimlib_write(wim, badsrc, WIMLIB_ALL_IMAGES, 0, 0), 0);
                b = (ImagingBuild) { .source_path = badsrc, .image_index = 1, .output_path = d->out,
                                     .scratch_space_mb = 64 };
                assert_failed_build(d, &b, SMS_ERROR_IMAGE_ERROR, "hive");
        }
        assert_int_equal(dir_entries(d->out_dir), 0);
}

static void test_build_cancel(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *big = path_join(d->root, "big.wim");
        FullConfig f;
        BootImagePlan p = {};
        SmsError e = SMS_ERROR_NULL;
        static const char *const phases[] = {
                "Reading the SYSTEM hive",
                "Adding files",
                "Writing the image",
        };

        full_config_make(d, &f);
        assert_int_equal(boot_image_plan(&f.c, &p, &e), 0);
        /* Large enough that copying and writing report more than once. */
        write_text(f.t.component, "big/data.bin", "");
        {
                _cleanup_free_ char *bin = path_join(f.t.component, "big/data.bin");
                _cleanup_free_ char *buf = malloc(3 << 20);
                for (size_t i = 0; i < 3 << 20; i++)
                        buf[i] = (char) (i * 2654435761u >> 13);
                assert_int_equal(test_write_file(bin, buf, 3 << 20), 0);
        }
        assert_int_equal(test_make_winpe_wim(big, "9", true, 20 << 20, true), 0);

        ImagingBuild b = {
                .source_path = big, .image_index = 1, .output_path = d->out,
                .adds = p.adds, .n_adds = p.n_adds, .files = p.files, .n_files = p.n_files,
                .scratch_space_mb = 512, .progress = on_progress,
        };

        /* At the first call (while copying), and in each phase driven by wimlib. */
        {
                Progress prog = { .cancel_at = 1 };
                b.userdata = &prog;
                assert_failed_build(d, &b, SMS_ERROR_CANCELED, NULL);
                assert_int_equal(prog.calls, 1);
        }
        {
                Progress prog = { .cancel_in = "Copying the source image" };
                b.userdata = &prog;
                assert_failed_build(d, &b, SMS_ERROR_CANCELED, NULL);
        }
        for (size_t i = 0; i < ELEMENTSOF(phases); i++) {
                Progress prog = { .cancel_in = phases[i] };
                b.userdata = &prog;
                assert_failed_build(d, &b, SMS_ERROR_CANCELED, NULL);
                assert_string_equal(prog.last_text, phases[i]);
        }
        /* And at the very last call, when all is written and verified: the output is not renamed
         * into place. */
        {
                Progress prog = { .cancel_in = "Verifying the image" };
                b.userdata = &prog;
                assert_failed_build(d, &b, SMS_ERROR_CANCELED, NULL);
        }
        assert_int_equal(dir_entries(d->out_dir), 0);
        boot_image_plan_done(&p);
        osd_tree_done(&f.t);
}

/* An output directory on a file system that fills up: while copying, and while wimlib writes. */
static void test_build_disk_full(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *mnt = path_join(d->root, "tiny"), *out = path_join(mnt, "boot.wim");
        _cleanup_free_ char *small = path_join(d->root, "small.wim"), *bulk = path_join(d->root, "bulk");
        _cleanup_free_ char *bin = path_join(bulk, "random.bin"), *buf = NULL;
        ImagingAdd adds[] = { { .source = bulk, .target = "\\bulk" } };
        ImagingBuild b = { .source_path = d->src, .image_index = 1, .output_path = out,
                           .scratch_space_mb = 64 };
        const Dirs tiny = { .out_dir = mnt };
        uint64_t x = 88172645463325252u;
        struct stat st;

        assert_int_equal(mkdir(mnt, 0755), 0);
        if (mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=1M,mode=0755") < 0) {
                fprintf(stderr, "cannot mount a tmpfs (%s): skipping\n", strerror(errno));
                skip();
        }

        /* The source (over 1 MiB) does not fit: the copy fails. */
        assert_int_equal(stat(d->src, &st), 0);
        if (st.st_size <= 1 << 20) {
                _cleanup_free_ char *bigger = path_join(d->root, "bigger.wim");
                assert_int_equal(test_make_winpe_wim(bigger, "9", true, 4 << 20, true), 0);
                b.source_path = bigger;
                assert_failed_build(&tiny, &b, SMS_ERROR_OUT_OF_DISK_SPACE, "No space left on device");
        } else
                assert_failed_build(&tiny, &b, SMS_ERROR_OUT_OF_DISK_SPACE, "No space left on device");

        /* The source fits; 2 MiB of incompressible data to add does not: wimlib's write fails. */
        assert_int_equal(test_make_winpe_wim(small, "9", true, 0, true), 0);
        buf = malloc(2 << 20);
        for (size_t i = 0; i + 8 <= 2 << 20; i += 8) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                memcpy(buf + i, &x, 8);
        }
        assert_int_equal(test_write_file(bin, buf, 2 << 20), 0);
        b = (ImagingBuild) { .source_path = small, .image_index = 1, .output_path = out, .adds = adds,
                             .n_adds = 1,
                             .scratch_space_mb = 64 };
        assert_failed_build(&tiny, &b, SMS_ERROR_OUT_OF_DISK_SPACE, "wimlib: ");
        assert_int_equal(dir_entries(mnt), 0);

        /* It does fit without the bulk. */
        {
                ImagingBuildResult res = {};
                SmsError e = SMS_ERROR_NULL;
                b.n_adds = 0;
                assert_int_equal(imaging_build(&b, &res, &e), 0);
                imaging_build_result_done(&res);
                assert_int_equal(dir_entries(mnt), 1);
        }
        assert_int_equal(umount2(mnt, MNT_DETACH), 0);
}

/* Not an assertion: what a build costs next to a plain copy of its source. */
static void test_build_timing(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *src = path_join(d->root, "timing.wim"), *copy = path_join(d->root, "copy.wim");
        _cleanup_free_ char *cmd = NULL;
        ImagingFile files[] = {
                { .target = "\\Windows\\System32\\winpeshl.ini", .data = "[LaunchApps]\r\n", .size = 14 },
        };
        ImagingBuild b = { .source_path = src, .image_index = 1, .output_path = d->out, .files = files,
                           .n_files = 1,
                           .scratch_space_mb = 512 };
        ImagingBuildResult res = {};
        SmsError e = SMS_ERROR_NULL;
        struct timespec t0, t1, t2;
        struct stat st;

        assert_int_equal(test_make_winpe_wim(src, "9", true, 100 << 20, true), 0);
        assert_int_equal(stat(src, &st), 0);
        assert_true(asprintf(&cmd, "cp '%s' '%s' && sync '%s'", src, copy, copy) >= 0);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(system(cmd), 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        assert_int_equal(imaging_build(&b, &res, &e), 0);
        clock_gettime(CLOCK_MONOTONIC, &t2);
        printf("timing: %.1f MB WIM (LZX, half incompressible): cp+sync %.3f s, imaging_build %.3f s\n",
               st.st_size / 1e6, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
               (t2.tv_sec - t1.tv_sec) + (t2.tv_nsec - t1.tv_nsec) / 1e9);
        imaging_build_result_done(&res);
}

/* --- the test hive itself -------------------------------------------------------------------- */

static void test_hive_gen(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *path = path_join(d->root, "SYSTEM");
        uint32_t v = htole32(77);
        hive_set_value val = {
                .key = (char *) "WinPECacheThreshold",
                .t = hive_t_REG_DWORD,
                .len = 4,
                .value = (char *) &v,
        };
        hive_node_h root, cs, services, fbwf;
        hive_h *h;

        assert_int_equal(test_make_system_hive(path), 0);
        h = hivex_open(path, 0);
        assert_non_null(h);
        root = hivex_root(h);
        assert_true(root != 0);
        {
                _cleanup_free_ char *name = hivex_node_name(h, root);
                assert_string_equal(name, "ROOT");
        }
        cs = hivex_node_get_child(h, root, "CONTROLSET001");
        assert_true(cs != 0);
        assert_int_equal(hivex_node_parent(h, cs), root);
        services = hivex_node_get_child(h, cs, "Services");
        assert_true(services != 0);
        hivex_close(h);

        h = hivex_open(path, HIVEX_OPEN_WRITE);
        assert_non_null(h);
        services = hivex_node_get_child(h, hivex_node_get_child(h, hivex_root(h), "ControlSet001"),
                                        "Services");
        fbwf = hivex_node_add_child(h, services, "FBWF");
        assert_true(fbwf != 0);
        assert_int_equal(hivex_node_set_value(h, fbwf, &val, 0), 0);
        assert_int_equal(hivex_commit(h, NULL, 0), 0);
        assert_int_equal(hivex_close(h), 0);
        assert_int_equal(hive_scratch_space(path), 77);
}

int main(void) {
#define DIRS_TEST(t) cmocka_unit_test_setup_teardown(t, setup, teardown) /* each in new directories */
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_arch_helpers),
                DIRS_TEST(test_hive_gen),
                DIRS_TEST(test_read_info_winpe),
                DIRS_TEST(test_read_info_multi),
                DIRS_TEST(test_read_info_not_a_wim),
                DIRS_TEST(test_read_info_truncated),
                DIRS_TEST(test_image_property_shape),
                cmocka_unit_test(test_image_property_control_characters),
                cmocka_unit_test(test_image_property_escaping),
                DIRS_TEST(test_plan_full),
                DIRS_TEST(test_plan_minimal),
                DIRS_TEST(test_plan_errors),
                DIRS_TEST(test_build_boot_image),
                DIRS_TEST(test_build_rebuild),
                DIRS_TEST(test_build_no_hive),
                DIRS_TEST(test_build_multi_image),
                DIRS_TEST(test_build_errors),
                DIRS_TEST(test_build_cancel),
                DIRS_TEST(test_build_disk_full),
                DIRS_TEST(test_build_timing),
        };

        imaging_wimlib_init();
        return cmocka_run_group_tests(tests, NULL, NULL);
}
