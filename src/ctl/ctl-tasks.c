/* SPDX-License-Identifier: MIT */

/* The task commands: boot-image, os-image, os-install, dp, distribute, refresh, status. Each turns
 * the console's words into a generic create, set, call, list or delete; what differs between the
 * three package kinds is the PackageKind table below. */

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctl/ctl-bus.h"
#include "ctl/ctl-generic.h"
#include "ctl/ctl-job.h"
#include "ctl/ctl-output.h"
#include "ctl/ctl-tasks.h"
#include "ctl/ctl-value.h"
#include "smsprov/imaging.h"

struct PackageKind {
        const char *class_name;
        const char *source_property; /* where import puts the PATH */
        bool direct_source;          /* PkgSourceFlag 2: the source is used where it is */
};

const PackageKind ctl_boot_image = { "SMS_BootImagePackage", "ImagePath", false };
const PackageKind ctl_os_image = { "SMS_ImagePackage", "PkgSourcePath", true };
const PackageKind ctl_os_install = { "SMS_OperatingSystemInstallPackage", "PkgSourcePath", true };

#define PACKAGE_CLASS "SMS_PackageBaseclass"
#define DP_CLASS "SMS_DistributionPointInfo"
#define DP_STATUS_CLASS "SMS_PackageStatusDistPointsSummarizer"

int strlist_addf(StrList *s, const char *fmt, ...) {
        va_list ap;
        char *item = NULL;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&item, fmt, ap);
        va_end(ap);
        return strlist_add_take(s, r < 0 ? NULL : item);
}

/* --- packages ---------------------------------------------------------------------------------- */

static int package_import(Ctl *c, const PackageKind *kind, int argc, char **argv) {
        _cleanup_(strlist_done) StrList props = {};
        _cleanup_free_ char *source = ctl_absolute_path(argv[1]);
        int r;

        if (!source)
                return ctl_oom();
        r = strlist_addf(&props, "%s=%s", kind->source_property, source);
        if (r >= 0 && kind->direct_source)
                r = strlist_addf(&props, "PkgSourceFlag=2");
        if (r >= 0 && c->index_set)
                r = strlist_addf(&props, "ImageIndex=%u", c->index);
        if (r >= 0 && c->name)
                r = strlist_addf(&props, "Name=%s", c->name);
        for (int i = 2; r >= 0 && i < argc; i++)
                r = strlist_add_take(&props, strdup(argv[i]));
        if (r < 0)
                return r;
        return ctl_create(c, kind->class_name, props.l);
}

static int package_call(Ctl *c, const PackageKind *kind, const char *package, const char *method) {
        char *none[] = { NULL };
        return ctl_invoke(c, kind->class_name, package, method, none);
}

/* ImageProperty XML (<WIM><IMAGE Index="n"><Property Name="…">v</Property>…) as one JSON object per
 * image, keyed by the property names. */
static int image_property_parse(const char *xml, json_object **ret) {
        _cleanup_(json_object_putp) json_object *images = json_object_new_array();
        xmlDocPtr doc;
        xmlNodePtr root;
        int r = 0;

        if (!images)
                return ctl_oom();
        doc = xmlReadMemory(xml, (int) strlen(xml), NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc)
                return ctl_errorf(CTL_EXIT_FAILED, CTL_ERROR_FAILED, "the ImageProperty XML does not parse");
        root = xmlDocGetRootElement(doc);
        for (xmlNodePtr i = root ? root->children : NULL; r >= 0 && i; i = i->next) {
                json_object *image;
                xmlChar *index;

                if (i->type != XML_ELEMENT_NODE || xmlStrcmp(i->name, BAD_CAST "IMAGE") != 0)
                        continue;
                image = json_object_new_object();
                if (!image || json_object_array_add(images, image) < 0) {
                        json_object_put(image);
                        r = ctl_oom();
                        break;
                }
                index = xmlGetProp(i, BAD_CAST "Index");
                r = json_add(image, "Index", json_object_new_int64(index ? strtol((const char *) index, NULL, 10) : 0));
                xmlFree(index);
                for (xmlNodePtr p = i->children; r >= 0 && p; p = p->next) {
                        xmlChar *name, *value;
                        if (p->type != XML_ELEMENT_NODE || xmlStrcmp(p->name, BAD_CAST "Property") != 0)
                                continue;
                        name = xmlGetProp(p, BAD_CAST "Name");
                        value = xmlNodeGetContent(p);
                        if (name)
                                r = json_add(image, (const char *) name,
                                             json_object_new_string(value ? (const char *) value : ""));
                        xmlFree(name);
                        xmlFree(value);
                }
        }
        xmlFreeDoc(doc);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(images);
        return 0;
}

static int image_properties_print(Ctl *c, const char *xml) {
        _cleanup_(json_object_putp) json_object *images = NULL;
        int r;

        r = image_property_parse(xml, &images);
        if (r < 0)
                return r;
        if (c->json)
                return ctl_json_print(c, TAKE_PTR(images));
        for (size_t i = 0; i < json_object_array_length(images); i++) {
                json_object *image = json_object_array_get_idx(images, i);
                size_t width = 0;

                json_object_object_foreach(image, name, value) {
                        (void) value;
                        if (strlen(name) > width)
                                width = strlen(name);
                }
                if (i > 0)
                        putchar('\n');
                json_object_object_foreach(image, key, v) {
                        printf("%*s: %s\n", (int) width, key, json_object_get_string(v));
                }
        }
        return fflush(stdout) == 0 ? 0 : ctl_errorf(CTL_EXIT_FAILED, CTL_ERROR_FAILED, "cannot write: %m");
}

/* properties PATH|PKG: GetImageProperties of a WIM file, or a package's ImageProperty. */
static int package_properties(Ctl *c, const PackageKind *kind, const char *what) {
        _cleanup_free_ char *xml = NULL;
        int r;

        if (strchr(what, '/') || strstr(what, ".wim") || strstr(what, ".WIM")) {
                _cleanup_free_ char *path = ctl_absolute_path(what), *object = ctl_class_object(kind->class_name),
                                    *iface = ctl_static_interface(kind->class_name);

                if (!path || !object || !iface)
                        return ctl_oom();
                r = ctl_call_string(c, object, iface, "GetImageProperties", 's', &xml, "s", path);
        } else
                r = ctl_get_text(c, kind->class_name, what, "ImageProperty", &xml);
        if (r < 0)
                return r;
        return image_properties_print(c, xml);
}

int verb_package_import(Ctl *c, int argc, char **argv) {
        return package_import(c, c->package, argc, argv);
}

int verb_package_reload(Ctl *c, int argc, char **argv) {
        return package_call(c, c->package, argv[1], "ReloadImageProperties");
}

int verb_package_properties(Ctl *c, int argc, char **argv) {
        return package_properties(c, c->package, argv[1]);
}

int verb_boot_image_update(Ctl *c, int argc, char **argv) {
        return package_call(c, &ctl_boot_image, argv[1], "UpdateImage");
}

int verb_boot_image_export_default(Ctl *c, int argc, char **argv) {
        _cleanup_free_ char *path = ctl_absolute_path(argv[3]);
        char *args[] = { argv[1], argv[2], path, NULL };

        if (!path)
                return ctl_oom();
        return ctl_invoke(c, ctl_boot_image.class_name, NULL, "ExportDefaultBootImage", args);
}

/* ReferencedDrivers edited as JSON, written back with one Put, then (unless --no-update) the
 * image is rebuilt, as the console does when the drivers of a boot image change. */
static int drivers_put(Ctl *c, const char *package, json_object *drivers) {
        _cleanup_(strlist_done) StrList props = {};
        _cleanup_free_ char *text = NULL;
        bool json = c->json;
        int r;

        text = ctl_value_format(drivers, CIM_DRIVER_DETAILS_ARRAY, true);
        if (!text)
                return ctl_oom();
        r = strlist_addf(&props, "ReferencedDrivers=%s", text);
        if (r < 0)
                return r;
        /* One JSON document: the rebuild's when there is one. */
        c->json = json && !c->update;
        r = ctl_put(c, ctl_boot_image.class_name, package, props.l);
        c->json = json;
        if (r < 0 || !c->update)
                return r;
        return package_call(c, &ctl_boot_image, package, "UpdateImage");
}

/* Takes the driver `id` out of the ReferencedDrivers array: whether it was there. */
static bool drivers_remove(json_object *drivers, uint64_t id) {
        bool found = false;

        for (size_t j = json_object_array_length(drivers); j > 0; j--) {
                json_object *old = json_object_array_get_idx(drivers, j - 1), *old_id;
                if (json_object_object_get_ex(old, "ID", &old_id) && json_object_get_uint64(old_id) == id) {
                        json_object_array_del_idx(drivers, j - 1, 1);
                        found = true;
                }
        }
        return found;
}

/* One argument's change to the ReferencedDrivers array of the boot image `package`. */
typedef int (*DriversEdit)(Ctl *c, json_object *drivers, const char *package, const char *arg);

/* ReferencedDrivers of boot image argv[1], changed by `edit` for each further argument in turn,
 * then written back. */
static int drivers_edit(Ctl *c, int argc, char **argv, DriversEdit edit) {
        _cleanup_(json_object_putp) json_object *drivers = NULL;
        int r;

        r = ctl_get_json(c, ctl_boot_image.class_name, argv[1], "ReferencedDrivers", &drivers);
        for (int i = 2; r >= 0 && i < argc; i++)
                r = edit(c, drivers, argv[1], argv[i]);
        if (r < 0)
                return r;
        return drivers_put(c, argv[1], drivers);
}

/* CI_ID or CI_ID:PATH. */
static int driver_add(Ctl *c, json_object *drivers, const char *package, const char *arg) {
        _cleanup_(json_object_putp) json_object *source = NULL;
        _cleanup_free_ char *path = NULL;
        const char *colon = strchr(arg, ':');
        char *end = NULL;
        json_object *d;
        unsigned long id;
        int r;

        errno = 0;
        id = strtoul(arg, &end, 10);
        if (end == arg || end != (colon ? colon : arg + strlen(arg)) || errno || id > UINT32_MAX || arg[0] == '-' ||
            (colon && !colon[1]))
                return ctl_usage("'%s' is not a CI_ID of the driver catalog (or CI_ID:PATH)", arg);
        if (colon)
                path = ctl_absolute_path(colon + 1);
        else {
                /* The driver's own copy, as the SDK's sample takes ContentSourcePath. */
                char key[16];
                snprintf(key, sizeof key, "%lu", id);
                r = ctl_get_json(c, "SMS_Driver", key, "ContentSourcePath", &source);
                if (r < 0)
                        return r;
                path = strdup(json_object_get_string(source));
        }
        if (!path)
                return ctl_oom();
        /* A driver already referenced gets the new path. */
        drivers_remove(drivers, id);
        d = json_object_new_object();
        if (!d || json_object_array_add(drivers, d) < 0) {
                json_object_put(d);
                return ctl_oom();
        }
        if ((r = json_add(d, "ID", json_object_new_int64((int64_t) id))) < 0 ||
            (r = json_add(d, "SourcePath", json_object_new_string(path))) < 0)
                return r;
        return 0;
}

static int driver_remove(Ctl *c, json_object *drivers, const char *package, const char *arg) {
        char *end = NULL;
        unsigned long id;

        errno = 0;
        id = strtoul(arg, &end, 10);
        if (errno || !end || *end || end == arg)
                return ctl_usage("'%s' is not a driver ID", arg);
        if (!drivers_remove(drivers, id))
                return ctl_errorf(CTL_EXIT_NOT_FOUND, CTL_ERROR_NOT_FOUND, "%s references no driver %lu", package, id);
        return 0;
}

int verb_boot_image_add_driver(Ctl *c, int argc, char **argv) {
        return drivers_edit(c, argc, argv, driver_add);
}

int verb_boot_image_remove_driver(Ctl *c, int argc, char **argv) {
        return drivers_edit(c, argc, argv, driver_remove);
}

#define COMPONENT_CLASS "SMS_OSDeploymentKitWinPEOptionalComponent"

static bool is_component_id(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

/* The UniqueID of the catalog's component `name` for the WIM architecture code `arch` ("9"): the
 * catalog names architectures X86, X64 and ARM64, which imaging_architecture_code() knows. */
static int component_id_by_name(json_object *catalog, const char *name, const char *arch, const char *package,
                                char **ret) {
        for (size_t i = 0; i < json_object_array_length(catalog); i++) {
                json_object *row = json_object_array_get_idx(catalog, i), *n, *a, *id;
                if (json_object_object_get_ex(row, "Name", &n) && json_object_object_get_ex(row, "Architecture", &a) &&
                    json_object_object_get_ex(row, "UniqueID", &id) &&
                    strcasecmp(json_object_get_string(n), name) == 0 &&
                    streq_ptr(imaging_architecture_code(json_object_get_string(a)), arch)) {
                        *ret = strdup(json_object_get_string(id));
                        return *ret ? 0 : ctl_oom();
                }
        }
        return ctl_usage("'%s' is no optional component of the deployment kit for the architecture of %s "
                         "(Architecture %s); smsctl list " COMPONENT_CLASS " shows them",
                         name, package, arch);
}

/* Components by UniqueID or by name (WinPE-PowerShell), as many arguments or comma-separated;
 * names are resolved through the kit's catalog for the image's architecture. */
int verb_boot_image_set_components(Ctl *c, int argc, char **argv) {
        _cleanup_(json_object_putp) json_object *catalog = NULL;
        _cleanup_(strlist_done) StrList ids = {};
        _cleanup_free_ char *arch = NULL, *list = NULL;
        char *args[] = { NULL, NULL };
        size_t len = 1;
        int r = 0;

        for (int i = 2; r >= 0 && i < argc; i++) {
                _cleanup_free_ char *copy = strdup(argv[i]);
                char *save = NULL;

                if (!copy)
                        return ctl_oom();
                for (char *item = strtok_r(copy, ",", &save); r >= 0 && item; item = strtok_r(NULL, ",", &save)) {
                        char *id = NULL;

                        if (is_component_id(item)) {
                                r = strlist_add_take(&ids, strdup(item));
                                continue;
                        }
                        if (!catalog) {
                                r = ctl_get_text(c, ctl_boot_image.class_name, argv[1], "Architecture", &arch);
                                if (r >= 0)
                                        r = ctl_query_rows(c, "SELECT UniqueID, Name, Architecture FROM " COMPONENT_CLASS,
                                                           &catalog);
                                if (r < 0)
                                        return r;
                        }
                        r = component_id_by_name(catalog, item, arch, argv[1], &id);
                        if (r >= 0)
                                r = strlist_add_take(&ids, id);
                }
        }
        if (r < 0)
                return r;

        for (size_t i = 0; i < ids.n; i++)
                len += strlen(ids.l[i]) + 1;
        list = calloc(1, len);
        if (!list)
                return ctl_oom();
        for (size_t i = 0; i < ids.n; i++) {
                strcat(list, i ? "," : "");
                strcat(list, ids.l[i]);
        }
        args[0] = list;
        return ctl_invoke(c, ctl_boot_image.class_name, argv[1], "UpdateOptionalComponents", args);
}

int verb_refresh(Ctl *c, int argc, char **argv) {
        char *none[] = { NULL };
        return ctl_invoke(c, PACKAGE_CLASS, argv[1], "RefreshPkgSource", none);
}

/* Site.ScrubContentLibrary, followed like every job. */
int verb_scrub(Ctl *c, int argc, char **argv) {
        _cleanup_(job_watch_freep) JobWatch *w = NULL;
        _cleanup_free_ char *job = NULL;
        int r;

        if (c->wait && (r = job_watch_new(c, &w)) < 0)
                return r;
        r = ctl_call_string(c, SMSPROV_ROOT, SMSPROV_SITE_IFACE, "ScrubContentLibrary", 'o', &job, "");
        if (r < 0)
                return r;
        return job_handle(c, w, job, NULL);
}

/* --- distribution points ---------------------------------------------------------------------- */

/* The NAL path of a server of this site, as the console writes it:
 * ["Display=\\SERVER\"]MSWNET:["SMS_SITE=LAB"]\\SERVER\ */
static int nal_path_for_server(Ctl *c, const char *server, char **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *site;
        int r;

        r = ctl_get_property(c, SMSPROV_ROOT, SMSPROV_SITE_IFACE, "SiteCode", &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "s", &site);
        if (r < 0)
                return ctl_bus_error(NULL, r);
        if (asprintf(ret, "[\"Display=\\\\%s\\\"]MSWNET:[\"SMS_SITE=%s\"]\\\\%s\\", server, site, server) < 0)
                return ctl_oom();
        return 0;
}

int verb_dp_add(Ctl *c, int argc, char **argv) {
        _cleanup_(strlist_done) StrList props = {};
        _cleanup_free_ char *root = ctl_absolute_path(argv[2]), *nal = NULL;
        int r;

        if (!root)
                return ctl_oom();
        /* A NAL path as given; a server name becomes one of this site. */
        if (argv[1][0] == '[' || argv[1][0] == '\\')
                nal = strdup(argv[1]);
        else if ((r = nal_path_for_server(c, argv[1], &nal)) < 0)
                return r;
        if (!nal)
                return ctl_oom();
        r = strlist_addf(&props, "NALPath=%s", nal);
        if (r >= 0)
                r = strlist_addf(&props, "ContentRoot=%s", root);
        for (int i = 3; r >= 0 && i < argc; i++)
                r = strlist_add_take(&props, strdup(argv[i]));
        if (r < 0)
                return r;
        return ctl_create(c, DP_CLASS, props.l);
}

int verb_dp_list(Ctl *c, int argc, char **argv) {
        return ctl_list(c, DP_CLASS, c->where);
}

/* A distribution point by its NALPath or its ServerName: its NALPath, SiteCode and object path. */
static int dp_resolve(Ctl *c, const char *dp, char **ret_nal_path, char **ret_site_code, char **ret_path) {
        _cleanup_(json_object_putp) json_object *rows = NULL;
        _cleanup_free_ char *quoted = ctl_wql_quote(dp), *wql = NULL;
        json_object *row, *nal, *site, *path;
        int r;

        if (!quoted || asprintf(&wql, "SELECT NALPath, SiteCode FROM " DP_CLASS " WHERE NALPath = %s OR ServerName = %s",
                                quoted, quoted) < 0)
                return ctl_oom();
        r = ctl_query_rows(c, wql, &rows);
        if (r < 0)
                return r;
        if (json_object_array_length(rows) != 1)
                return ctl_errorf(CTL_EXIT_NOT_FOUND, CTL_ERROR_NOT_FOUND, "%s distribution point %s",
                                  json_object_array_length(rows) ? "more than one" : "no", dp);
        row = json_object_array_get_idx(rows, 0);
        if (!json_object_object_get_ex(row, "NALPath", &nal) || !json_object_object_get_ex(row, "SiteCode", &site) ||
            !json_object_object_get_ex(row, "__PATH", &path))
                return ctl_errorf(CTL_EXIT_FAILED, CTL_ERROR_FAILED, "the query did not return NALPath and SiteCode");
        *ret_nal_path = strdup(json_object_get_string(nal));
        *ret_site_code = strdup(json_object_get_string(site));
        *ret_path = strdup(json_object_get_string(path));
        return *ret_nal_path && *ret_site_code && *ret_path ? 0 : ctl_oom();
}

int verb_dp_remove(Ctl *c, int argc, char **argv) {
        _cleanup_free_ char *nal_path = NULL, *site = NULL, *path = NULL;
        int r;

        r = dp_resolve(c, argv[1], &nal_path, &site, &path);
        if (r < 0)
                return r;
        char *args[] = { argv[0], (char *) DP_CLASS, path, NULL };
        return verb_delete(c, 3, args);
}

int verb_distribute(Ctl *c, int argc, char **argv) {
        _cleanup_free_ char *sites = calloc(1, 1), *nal_paths = calloc(1, 1);
        int r;

        if (!sites || !nal_paths)
                return ctl_oom();
        for (int i = 2; i < argc; i++) {
                _cleanup_free_ char *nal = NULL, *site = NULL, *s = NULL, *n = NULL, *path = NULL;
                r = dp_resolve(c, argv[i], &nal, &site, &path);
                if (r < 0)
                        return r;
                /* Commas inside a NALPath are escaped for the comma list of the as argument. */
                n = malloc(2 * strlen(nal) + 1);
                if (!n)
                        return ctl_oom();
                char *w = n;
                for (const char *p = nal; *p; p++) {
                        if (*p == ',' || *p == '\\')
                                *w++ = '\\';
                        *w++ = *p;
                }
                *w = 0;
                if (asprintf(&s, "%s%s%s", sites, *sites ? "," : "", site) < 0)
                        return ctl_oom();
                free(sites);
                sites = TAKE_PTR(s);
                if (asprintf(&s, "%s%s%s", nal_paths, *nal_paths ? "," : "", n) < 0)
                        return ctl_oom();
                free(nal_paths);
                nal_paths = TAKE_PTR(s);
        }
        char *args[] = { sites, nal_paths, NULL };
        return ctl_invoke(c, PACKAGE_CLASS, argv[1], "AddDistributionPoints", args);
}

int verb_status(Ctl *c, int argc, char **argv) {
        _cleanup_free_ char *quoted = ctl_wql_quote(argv[1]), *where = NULL;

        if (!quoted || asprintf(&where, "PackageID = %s", quoted) < 0)
                return ctl_oom();
        return ctl_list(c, DP_STATUS_CLASS, where);
}
