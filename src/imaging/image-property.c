/* SPDX-License-Identifier: MIT */

/* The Configuration Manager ImageProperty XML (reference §4.3). Only the three property names
 * "Language", "Image description" and "OS version" are confirmed in third-party use; the others
 * follow the console's column names. The document is serialised without an XML declaration and
 * without indentation, as UTF-8 text: it is a string property of a WMI object, and readers parse
 * it with [xml] in PowerShell, which needs neither. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>

#include "imaging/imaging-internal.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(xmlDocPtr, xmlFreeDoc);

/* libxml2 wants its global state set up once before threads use it. */
static pthread_once_t libxml_once = PTHREAD_ONCE_INIT;

/* Text the document can hold whatever the caller passed: XML 1.0 forbids C0 controls (other
 * than tab and newlines), U+FFFE and U+FFFF; they become '?' and U+FFFD, so that the document
 * always parses. (Callers pass valid UTF-8: utf8_sanitize() runs on what wimlib returns.) */
static char *xml_text(const char *s) {
        char *t = strdup(s);

        if (!t)
                return NULL;
        for (unsigned char *p = (unsigned char *) t; *p; p++) {
                /* C0 controls other than tab and newlines are not XML characters at all. */
                if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
                        *p = '?';
                else if (p[0] == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF))
                        p[2] = 0xBD;
        }
        return t;
}

static int add_property(xmlNodePtr image, const char *name, const char *value) {
        _cleanup_free_ char *text = NULL;

        if (!value || !*value) /* "those the image has" */
                return 0;
        text = xml_text(value);
        if (!text)
                return -ENOMEM;
        /* xmlNewTextChild escapes the content; xmlNewProp's value is escaped on output. */
        xmlNodePtr p = xmlNewTextChild(image, NULL, BAD_CAST "Property", BAD_CAST text);
        if (!p || !xmlNewProp(p, BAD_CAST "Name", BAD_CAST name))
                return -ENOMEM;
        return 0;
}

static int add_image(xmlNodePtr root, const ImageInfo *i) {
        char index[16], size[24];
        xmlNodePtr image;
        int r = 0;

        snprintf(index, sizeof index, "%u", i->index);
        snprintf(size, sizeof size, "%" PRIu64, i->total_bytes);
        image = xmlNewChild(root, NULL, BAD_CAST "IMAGE", NULL);
        if (!image || !xmlNewProp(image, BAD_CAST "Index", BAD_CAST index))
                return -ENOMEM;

        const struct {
                const char *name;
                const char *value;
        } props[] = {
                { "Image name",        i->name },
                { "Image description", i->description },
                { "Architecture",      i->architecture },
                { "Language",          i->language },
                { "OS version",        i->os_version },
                { "Product type",      i->product_type },
                { "HAL type",          i->hal },
                { "Created by",        i->created_by },
                { "Creation date",     i->creation_date },
                { "Size",              size },
                { "System directory",  i->system_root },
        };
        for (size_t k = 0; r == 0 && k < ELEMENTSOF(props); k++)
                r = add_property(image, props[k].name, props[k].value);
        return r;
}

int imaging_image_property_xml(const WimInfo *info, unsigned only_index, char **ret_xml, SmsError *e) {
        _cleanup_(xmlFreeDocp) xmlDocPtr doc = NULL;
        xmlBufferPtr buf = NULL;
        xmlSaveCtxtPtr save;
        xmlNodePtr root;
        bool found = only_index == 0;
        char *xml;
        int r = 0;

        assert(info);
        assert(ret_xml);

        (void) pthread_once(&libxml_once, xmlInitParser);
        doc = xmlNewDoc(BAD_CAST "1.0");
        root = doc ? xmlNewNode(NULL, BAD_CAST "WIM") : NULL;
        if (!root)
                return sms_error_set(e, SMS_ERROR_FAILED, "out of memory building ImageProperty");
        xmlDocSetRootElement(doc, root);

        for (size_t i = 0; r == 0 && i < info->n_images; i++) {
                if (only_index != 0 && info->images[i].index != only_index)
                        continue;
                found = true;
                r = add_image(root, &info->images[i]);
        }
        if (r < 0)
                return sms_error_set(e, SMS_ERROR_FAILED, "out of memory building ImageProperty");
        if (!found)
                return sms_error_set(e, SMS_ERROR_IMAGE_ERROR, "the WIM has no image %u (it has %zu)",
                                     only_index, info->n_images);

        buf = xmlBufferCreate();
        save = buf ? xmlSaveToBuffer(buf, "UTF-8", XML_SAVE_NO_DECL) : NULL;
        if (!save) {
                if (buf)
                        xmlBufferFree(buf);
                return sms_error_set(e, SMS_ERROR_FAILED, "out of memory serialising ImageProperty");
        }
        r = xmlSaveDoc(save, doc) < 0 ? -EIO : 0;
        if (xmlSaveClose(save) < 0)
                r = -EIO;
        xml = r == 0 ? strdup((const char *) xmlBufferContent(buf)) : NULL;
        xmlBufferFree(buf);
        if (!xml)
                return sms_error_set(e, SMS_ERROR_FAILED, "cannot serialise ImageProperty");
        /* libxml2 ends the document with a newline; the property value does not need it. */
        size_t n = strlen(xml);
        while (n > 0 && xml[n - 1] == '\n')
                xml[--n] = 0;
        *ret_xml = xml;
        return 0;
}
