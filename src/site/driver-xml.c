/* SPDX-License-Identifier: MIT */

/* SMS_Driver.SDMPackageXML, built when read from the driver's row. Configuration Manager's is its
 * configuration item definition (a DesiredConfigurationDigest holding one Driver); the SDK's
 * import sample reads the display name from //DisplayName/@Text. This one has that shape and the
 * facts the site knows (smsprovd's element names below the Driver where ConfigMgr publishes
 * none): it is a description of the catalog row, not a definition ConfigMgr could import. */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <libxml/tree.h>
#include <libxml/xmlsave.h>

#include "smsprov/macro.h"
#include "smsprov/site-drivers.h"

#define SDM_NAMESPACE "http://schemas.microsoft.com/SystemsCenterConfigurationManager/2009/07/10/DesiredConfiguration"

static pthread_once_t libxml_once = PTHREAD_ONCE_INIT;

static xmlNodePtr child_text(xmlNodePtr parent, const char *name, const char *text) {
        return xmlNewTextChild(parent, NULL, BAD_CAST name, BAD_CAST(text ? text : ""));
}

/* <Plural><Singular>value</Singular>…</Plural> of a String[] property. */
static int child_list(xmlNodePtr parent, const char *plural, const char *singular, const CimValue *v) {
        xmlNodePtr list = xmlNewChild(parent, NULL, BAD_CAST plural, NULL);

        if (!list)
                return -ENOMEM;
        for (char **s = v && !v->null ? v->strv : NULL; s && *s; s++)
                if (!child_text(list, singular, *s))
                        return -ENOMEM;
        return 0;
}

static int serialize(xmlDocPtr doc, char **ret) {
        xmlBufferPtr buf = xmlBufferCreate();
        xmlSaveCtxtPtr save = buf ? xmlSaveToBuffer(buf, "UTF-8", XML_SAVE_NO_DECL) : NULL;
        char *xml = NULL;
        size_t n;
        int r;

        if (!save) {
                if (buf)
                        xmlBufferFree(buf);
                return -ENOMEM;
        }
        r = xmlSaveDoc(save, doc) < 0 ? -EIO : 0;
        if (xmlSaveClose(save) < 0)
                r = -EIO;
        if (r == 0 && !(xml = strdup((const char *) xmlBufferContent(buf))))
                r = -ENOMEM;
        xmlBufferFree(buf);
        if (r < 0)
                return r;
        n = strlen(xml);
        while (n > 0 && xml[n - 1] == '\n')
                xml[--n] = 0;
        *ret = xml;
        return 0;
}

int site_driver_sdm_package_xml(const SmsObject *o, const char *site_code, char **ret) {
        xmlDocPtr doc;
        xmlNodePtr root, driver, annotation;
        const char *unique_id = sms_object_string(o, "CI_UniqueID"), *slash = strchr(unique_id, '/');
        char version[32];
        int r = -ENOMEM;

        (void) pthread_once(&libxml_once, xmlInitParser);
        doc = xmlNewDoc(BAD_CAST "1.0");
        root = doc ? xmlNewNode(NULL, BAD_CAST "DesiredConfigurationDigest") : NULL;
        if (!root)
                goto done;
        xmlDocSetRootElement(doc, root);
        if (!xmlNewNs(root, BAD_CAST SDM_NAMESPACE, NULL))
                goto done;
        driver = xmlNewChild(root, NULL, BAD_CAST "Driver", NULL);
        if (!driver)
                goto done;
        snprintf(version, sizeof version, "%" PRIu64, sms_object_value(o, "CIVersion")->u);
        if (!xmlNewProp(driver, BAD_CAST "AuthoringScopeId", BAD_CAST site_code) ||
            !xmlNewProp(driver, BAD_CAST "LogicalName", BAD_CAST(slash ? slash + 1 : unique_id)) ||
            !xmlNewProp(driver, BAD_CAST "Version", BAD_CAST version))
                goto done;
        annotation = xmlNewChild(driver, NULL, BAD_CAST "Annotation", NULL);
        xmlNodePtr name = annotation ? xmlNewChild(annotation, NULL, BAD_CAST "DisplayName", NULL) : NULL;
        xmlNodePtr description = annotation ? xmlNewChild(annotation, NULL, BAD_CAST "Description", NULL) : NULL;
        if (!name || !description ||
            !xmlNewProp(name, BAD_CAST "Text", BAD_CAST sms_object_string(o, "LocalizedDisplayName")) ||
            !xmlNewProp(description, BAD_CAST "Text", BAD_CAST sms_object_string(o, "LocalizedDescription")))
                goto done;
        static const char *const facts[][2] = {
                { "DriverClass", "DriverClass" },     { "DriverProvider", "DriverProvider" },
                { "DriverVersion", "DriverVersion" }, { "DriverINFFile", "DriverINFFile" },
                { "DriverType", "DriverType" },
        };
        for (size_t i = 0; i < ELEMENTSOF(facts); i++)
                if (!child_text(driver, facts[i][0], sms_object_string(o, facts[i][1])))
                        goto done;
        if (child_list(driver, "Platforms", "Platform", sms_object_value(o, "Architectures")) < 0 ||
            child_list(driver, "HardwareIds", "HardwareId", sms_object_value(o, "HardwareIDs")) < 0 ||
            child_list(driver, "CompatibleIds", "CompatibleId", sms_object_value(o, "CompatibleIDs")) < 0)
                goto done;
        r = serialize(doc, ret);
done:
        if (doc)
                xmlFreeDoc(doc);
        return r;
}
