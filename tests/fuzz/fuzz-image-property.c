/* SPDX-License-Identifier: MIT */

/* libFuzzer target: the ImageProperty XML writer (imaging_image_property_xml(),
 * include/smsprov/imaging.h), fed a WimInfo whose every string and number comes from the input.
 *
 * The strings go through utf8_sanitize() first, as imaging_read_info() and the store do for
 * every string of an ImageInfo (the header's contract: "valid UTF-8 (sanitised)"). The output
 * must then be a well-formed XML document that libxml2 parses back without error or warning,
 * of the documented shape <WIM><IMAGE Index="N"><Property Name="…">value</Property>…</IMAGE>…
 * </WIM>, with one IMAGE per selected image, its Index, and every non-empty property's value
 * exactly as given (after the writer's documented U+FFFE/U+FFFF → U+FFFD replacement). Asking
 * for an image index the info does not have fails with ImageError.
 *
 * Input layout (see FuzzReader in fuzz-common.h): 1 byte image count (mod 5), 4 bytes
 * only_index selector, then per image 4 bytes index, 8 bytes total_bytes and 11 length-prefixed
 * strings. */

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "fuzz-common.h"
#include "smsprov/cim.h"
#include "smsprov/imaging.h"
#include "smsprov/macro.h"

#define N_STRINGS 11

static char **field(ImageInfo *i, size_t k) {
        char **f[N_STRINGS] = {
                &i->name,     &i->description, &i->architecture, &i->language,      &i->os_version, &i->product_type,
                &i->hal,      &i->created_by,  &i->creation_date, &i->system_root,   &i->edition_id,
        };
        return f[k];
}

/* The property names the writer uses for the fields above, in order; NULL = not written. */
static const char *const field_names[N_STRINGS] = {
        "Image name", "Image description", "Architecture", "Language",      "OS version",      "Product type",
        "HAL type",   "Created by",        "Creation date", "System directory", NULL,
};

/* The writer's replacement of U+FFFE and U+FFFF. */
static char *expected_text(const char *s) {
        char *t = strdup(s);
        if (!t)
                abort();
        for (unsigned char *p = (unsigned char *) t; *p; p++)
                if (p[0] == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF))
                        p[2] = 0xBD;
        return t;
}

static int xml_errors;

static void count_error(void *userdata, xmlErrorPtr error) {
        (void) userdata;
        (void) error;
        xml_errors++;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc;
        (void) argv;
        xmlInitParser();
        xmlSetStructuredErrorFunc(NULL, count_error);
        return 0;
}

static const char *prop_value(xmlNodePtr image, const char *name, xmlChar **owned) {
        for (xmlNodePtr p = image->children; p; p = p->next) {
                if (p->type != XML_ELEMENT_NODE || !xmlStrEqual(p->name, BAD_CAST "Property"))
                        continue;
                xmlChar *n = xmlGetProp(p, BAD_CAST "Name");
                bool match = n && xmlStrEqual(n, BAD_CAST name);
                xmlFree(n);
                if (match) {
                        *owned = xmlNodeGetContent(p);
                        return *owned ? (const char *) *owned : "";
                }
        }
        return NULL;
}

static void check_image(const char *xml, xmlNodePtr node, const ImageInfo *info) {
        xmlChar *index = xmlGetProp(node, BAD_CAST "Index");
        char want[16];

        snprintf(want, sizeof want, "%u", info->index);
        if (!index || !xmlStrEqual(index, BAD_CAST want))
                fuzz_fail("IMAGE Index \"%s\", expected %s in %s", index ? (char *) index : "(none)", want, xml);
        xmlFree(index);

        size_t n_props = 0;
        for (xmlNodePtr p = node->children; p; p = p->next) {
                if (p->type != XML_ELEMENT_NODE || !xmlStrEqual(p->name, BAD_CAST "Property"))
                        fuzz_fail("unexpected node in IMAGE: %s", xml);
                n_props++;
        }

        size_t expected = 1; /* Size is always there */
        for (size_t k = 0; k < N_STRINGS; k++) {
                const char *value = *field((ImageInfo *) info, k);
                if (!field_names[k])
                        continue;
                xmlChar *owned = NULL;
                const char *got = prop_value(node, field_names[k], &owned);
                if (!*value) {
                        if (got)
                                fuzz_fail("empty \"%s\" written: %s", field_names[k], xml);
                } else {
                        _cleanup_free_ char *want_text = expected_text(value);
                        expected++;
                        if (!got || strcmp(got, want_text) != 0)
                                fuzz_fail("\"%s\" is \"%s\", expected \"%s\" in %s", field_names[k], got ? got : "(missing)",
                                          want_text, xml);
                }
                xmlFree(owned);
        }
        xmlChar *owned = NULL;
        const char *size = prop_value(node, "Size", &owned);
        char want_size[24];
        snprintf(want_size, sizeof want_size, "%" PRIu64, info->total_bytes);
        if (!size || strcmp(size, want_size) != 0)
                fuzz_fail("Size \"%s\", expected %s", size ? size : "(missing)", want_size);
        xmlFree(owned);
        if (n_props != expected)
                fuzz_fail("%zu properties, expected %zu: %s", n_props, expected, xml);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzReader r = { data, size };
        ImageInfo images[4] = {};
        WimInfo info = { .images = images };
        SmsError e = SMS_ERROR_NULL;
        _cleanup_free_ char *xml = NULL;

        info.n_images = fuzz_u8(&r) % 5;
        uint32_t selector = (uint32_t) fuzz_uint(&r, 4);
        for (size_t i = 0; i < info.n_images; i++) {
                images[i].index = (unsigned) fuzz_uint(&r, 4);
                images[i].total_bytes = fuzz_uint(&r, 8);
                for (size_t k = 0; k < N_STRINGS; k++) {
                        _cleanup_free_ char *raw = fuzz_take_string(&r);
                        if (!(*field(&images[i], k) = utf8_sanitize(raw)))
                                abort();
                }
        }
        /* Mostly every image (0) or one of the indexes present; sometimes anything. */
        unsigned only_index = selector % 4 == 0 ? 0
                              : selector % 4 == 1 && info.n_images > 0 ? images[(selector >> 8) % info.n_images].index
                                                                      : selector >> 2;

        int ret = imaging_image_property_xml(&info, only_index, &xml, &e);
        size_t selected = 0;
        for (size_t i = 0; i < info.n_images; i++)
                selected += only_index == 0 || images[i].index == only_index;

        if (ret < 0) {
                if (e.code != SMS_ERROR_IMAGE_ERROR || selected > 0 || only_index == 0)
                        fuzz_fail("imaging_image_property_xml failed with %s: %s", sms_error_code_to_name(e.code),
                                  e.message ? e.message : "(no message)");
                sms_error_clear(&e);
                goto finish;
        }
        if (selected == 0 && only_index != 0)
                fuzz_fail("image %u does not exist, yet the writer succeeded: %s", only_index, xml);

        xml_errors = 0;
        xmlDocPtr doc = xmlReadMemory(xml, (int) strlen(xml), NULL, "UTF-8", XML_PARSE_NONET);
        if (!doc || xml_errors > 0)
                fuzz_fail("ImageProperty is not well-formed (%d errors): %s", xml_errors, xml);
        xmlNodePtr root = xmlDocGetRootElement(doc);
        if (!root || !xmlStrEqual(root->name, BAD_CAST "WIM") || root->properties)
                fuzz_fail("root is not a bare <WIM>: %s", xml);
        size_t k = 0;
        for (xmlNodePtr node = root->children; node; node = node->next) {
                if (node->type != XML_ELEMENT_NODE || !xmlStrEqual(node->name, BAD_CAST "IMAGE"))
                        fuzz_fail("unexpected node in WIM: %s", xml);
                while (k < info.n_images && !(only_index == 0 || images[k].index == only_index))
                        k++;
                if (k == info.n_images)
                        fuzz_fail("more IMAGE elements than selected images: %s", xml);
                check_image(xml, node, &images[k++]);
        }
        while (k < info.n_images && !(only_index == 0 || images[k].index == only_index))
                k++;
        if (k != info.n_images)
                fuzz_fail("fewer IMAGE elements than selected images: %s", xml);
        xmlFreeDoc(doc);

finish:
        for (size_t i = 0; i < info.n_images; i++)
                for (size_t j = 0; j < N_STRINGS; j++)
                        free(*field(&images[i], j));
        return 0;
}
