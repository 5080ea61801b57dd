/* SPDX-License-Identifier: MIT */

/* WMI-style operations on instances: validation, locks, SEDO versions, audit, transactions. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "smsprov/macro.h"
#include "smsprov/site.h"
#include "smsprov/site-drivers.h"
#include "smsprov/nal-path.h"
#include "smsprov/winpe-catalog.h"
#include "smsprov/wmi-path.h"
#include "util/time-util.h"

/* Audit message IDs (SMS_StatusMessage.MessageID), in the 30000 range ConfigMgr uses for
 * provider audit messages. */
enum {
        AUDIT_CREATED = 30000,
        AUDIT_MODIFIED = 30001,
        AUDIT_DELETED = 30002,
        AUDIT_CHANGE_NOTIFICATION = 30003,
        AUDIT_SOURCE_SITE = 30004,
};

int site_open(Site *site, const char *state_dir, const char *site_code, SmsError *e) {
        return site_open_at(site, state_dir, NULL, site_code, e);
}

int site_open_at(Site *site, const char *state_dir, const char *database, const char *site_code, SmsError *e) {
        return site_open_as(site, state_dir, database, site_code, NULL, e);
}

int site_open_as(Site *site, const char *state_dir, const char *database, const char *site_code, const char *host,
                 SmsError *e) {
        _cleanup_free_ char *db = NULL;
        int r;

        *site = (Site) {
                .max_query_rows = SITE_DEFAULT_MAX_QUERY_ROWS,
                .max_object_bytes = SITE_DEFAULT_MAX_OBJECT_BYTES,
        };
        if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
                return sms_error_set_errno(e, errno, "creating the state directory %s", state_dir);
        site->state_dir = strdup(state_dir);
        site->library_dir = strdup(state_dir);
        if (!site->state_dir || !site->library_dir || (!database && asprintf(&db, "%s/site.db", state_dir) < 0)) {
                site_close(site);
                return -ENOMEM;
        }
        r = store_open_host(database ? database : db, site_code, host, &site->store, e);
        if (r < 0) {
                site_close(site);
                return r;
        }
        return 0;
}

void site_close(Site *site) {
        store_close(site->store);
        content_roots_done(&site->roots);
        content_roots_done(&site->dp_roots);
        free(site->state_dir);
        free(site->library_dir);
        free(site->adk_root);
        free(site->osd_bin_root);
        *site = (Site) {};
}

int site_set_library_dir(Site *site, const char *dir, SmsError *e) {
        char *copy;

        /* Paths the site stores (PkgSourcePath of a built image) begin with it. */
        if (dir[0] != '/')
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "the library directory %s is not an absolute path",
                                     dir);
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return sms_error_set_errno(e, errno, "creating the library directory %s", dir);
        /* Canonical, as the roots that paths in it are resolved beneath (content_roots_add()). */
        copy = realpath(dir, NULL);
        if (!copy)
                return sms_error_set_errno(e, errno, "the library directory %s", dir);
        free(site->library_dir);
        site->library_dir = copy;
        return 0;
}

void site_changes_free(SiteChange *changes, size_t n) {
        for (size_t i = 0; i < n; i++)
                cim_value_clear(&changes[i].value);
        free(changes);
}

int site_new_sedo_version(char **ret) {
        uint8_t b[16];

        if (getrandom(b, sizeof b, 0) != sizeof b)
                return -errno;
        b[6] = (b[6] & 0x0F) | 0x40; /* version 4 */
        b[8] = (b[8] & 0x3F) | 0x80; /* RFC 4122 variant */
        if (asprintf(ret,
                     "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X",
                     b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                     b[15]) < 0)
                return -ENOMEM;
        return 0;
}

/* Properties that drive generic behaviour are found by name, so that any class declaring them
 * gets the behaviour: SedoObjectVersion, SourceSite, SourceVersion, SourceDate, … */
static int find(const SmsClass *c, const char *name) {
        return sms_class_find_property(c, name);
}

static int object_set(SmsObject *o, const char *name, const CimValue *v) {
        int i = find(o->class, name);
        if (i < 0)
                return 0;
        cim_value_clear(&o->values[i]);
        return cim_value_copy(&o->values[i], v);
}

static int object_set_string(SmsObject *o, const char *name, const char *s) {
        CimValue v = { .type = CIM_STRING, .str = (char *) s };
        return object_set(o, name, &v);
}

/* Byte arrays with a companion size property (reference §3: "writing 0 clears the icon"). Writing
 * the array sets its size; writing the size 0 clears the array; any other size must be the
 * array's. `changed`, when given, collects what this adds (room for two more entries). */
static const struct {
        const char *data, *size;
} sized_blobs[] = {
        { "Icon", "IconSize" },
        { "ISVData", "ISVDataSize" },
};

static bool given(const SiteChange *changes, size_t n, int index) {
        for (size_t i = 0; index >= 0 && i < n; i++)
                if (changes[i].index == (size_t) index)
                        return true;
        return false;
}

static void mark_changed(size_t *changed, size_t *n_changed, size_t index) {
        if (!changed)
                return;
        for (size_t i = 0; i < *n_changed; i++)
                if (changed[i] == index)
                        return;
        changed[(*n_changed)++] = index;
}

static int sync_blob_sizes(SmsObject *o, const SiteChange *changes, size_t n, size_t *changed, size_t *n_changed,
                           SmsError *e) {
        for (size_t k = 0; k < ELEMENTSOF(sized_blobs); k++) {
                int d = find(o->class, sized_blobs[k].data), s = find(o->class, sized_blobs[k].size);
                if (d < 0 || s < 0)
                        continue;
                CimValue *data = &o->values[d], *size = &o->values[s];
                uint64_t length = data->null ? 0 : data->bytes.n;
                bool data_given = given(changes, n, d), size_given = given(changes, n, s);

                if (size_given && !size->null && size->u == 0 && !data_given && length > 0) {
                        cim_value_clear(data);
                        mark_changed(changed, n_changed, (size_t) d);
                        length = 0;
                } else if (size_given && !size->null && size->u != length)
                        return sms_error_set(e, SMS_ERROR_VALUE_OUT_OF_RANGE,
                                             "%s is the size of %s (%" PRIu64 " bytes); write 0 to clear %s",
                                             sized_blobs[k].size, sized_blobs[k].data, length, sized_blobs[k].data);
                if (size->null || size->u != length) {
                        *size = cim_value_uint(CIM_UINT32, length);
                        mark_changed(changed, n_changed, (size_t) s);
                }
        }
        return 0;
}

static int object_regenerate_sedo(SmsObject *o, size_t **changed, size_t *n_changed) {
        _cleanup_free_ char *sedo = NULL;
        int i = find(o->class, "SedoObjectVersion"), r;

        if (i < 0)
                return 0;
        r = site_new_sedo_version(&sedo);
        if (r < 0)
                return r;
        r = object_set_string(o, "SedoObjectVersion", sedo);
        if (r < 0 || !changed)
                return r;
        size_t *p = realloc(*changed, (*n_changed + 1) * sizeof(size_t));
        if (!p)
                return -ENOMEM;
        *changed = p;
        (*changed)[(*n_changed)++] = (size_t) i;
        return 0;
}

static const char *object_display_name(const SmsObject *o) {
        int i = find(o->class, "Name");
        return i >= 0 && !o->values[i].null ? o->values[i].str : "";
}

static int audit(Site *site, uint32_t id, const SiteCaller *caller, const SmsObject *o, const char *verb,
                 const char *detail, SmsError *e) {
        _cleanup_free_ char *description = NULL, *uid = NULL;
        const char *name = object_display_name(o);

        if (asprintf(&uid, "%u", (unsigned) caller->uid) < 0 ||
            asprintf(&description, "User uid=%u %s %s %s%s%s%s%s%s.", (unsigned) caller->uid, verb, o->class->name,
                     o->key, *name ? " \"" : "", name, *name ? "\"" : "", detail ? ": " : "",
                     detail ? detail : "") < 0)
                return -ENOMEM;

        StoreStatusMessage m = {
                .message_id = id,
                .message_type = 768,
                .severity = 0x40000000u,
                .uid = (uint32_t) caller->uid,
                .description = description,
                .ins_strings = { uid, o->class->name, o->key, detail },
        };
        return store_status_message_add(site->store, &m, NULL, e);
}

/* A package owned by another site refuses every change but SetSourceSite and Unlock. */
static int check_not_locked(Site *site, const SmsObject *o, SmsError *e) {
        int i = find(o->class, "SourceSite");

        if (i < 0 || o->values[i].null || strcasecmp(o->values[i].str, store_site_code(site->store)) == 0)
                return 0;
        return sms_error_set(e, SMS_ERROR_LOCKED,
                             "%s %s belongs to site %s; this is site %s (call Unlock or SetSourceSite first)",
                             o->class->name, o->key, o->values[i].str, store_site_code(site->store));
}

/* Checks one caller-supplied value, without the file system: access, descriptor rules, the
 * shape of a DP's ContentRoot. change_paths() looks the paths up. */
static int check_change(Site *site, const SmsClass *c, const SiteChange *ch, bool creating, SmsError *e) {
        const SmsProperty *p = c->all[ch->index];
        int r;

        if ((p->flags & SMS_PROP_KEY) && !(creating && c->key_kind == SMS_KEY_CALLER))
                return sms_error_set(e, SMS_ERROR_READ_ONLY,
                                     c->key_kind == SMS_KEY_CALLER ? "%s is the key of %s; delete and create again to "
                                                                     "change it"
                                                                   : "%s is the key of %s and is assigned by the site",
                                     p->name, c->name);
        if (p->flags & SMS_PROP_READ)
                return sms_error_set(e, SMS_ERROR_READ_ONLY, "%s of %s is read-only", p->name, c->name);

        r = sms_property_validate(p, &ch->value, e);
        if (r < 0)
                return r;

        if ((p->flags & SMS_PROP_NOT_NULL) && (ch->value.null || (p->type == CIM_STRING && !*ch->value.str)))
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s of %s must not be empty", p->name, c->name);
        if ((p->flags & SMS_PROP_DP_ROOT) && !ch->value.null && ch->value.str[0] != '/')
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s '%s' is not an absolute path", p->name,
                                     ch->value.str);

        /* Write-only properties (RefreshPkgSourceFlag, RefreshNow) are never stored: writing true
         * asks for an action, which the bus layer starts after the Put. */
        return 0;
}

static int check_path(const Site *site, const SmsProperty *p, const char *path, PathKind kind, SmsError *e) {
        SmsError inner = SMS_ERROR_NULL;
        int r;

        r = content_roots_resolve(&site->roots, path, kind, NULL, &inner);
        if (r < 0) {
                r = sms_error_set(e, inner.code, "%s: %s", p->name, inner.message ? inner.message : "invalid path");
                sms_error_clear(&inner);
        }
        return r;
}

/* The file system part of checking one value; `check` false only says whether there is one. */
static int change_paths(const Site *site, const SmsClass *c, const SiteChange *ch, bool check, SmsError *e) {
        const SmsProperty *p = c->all[ch->index];
        int r, found = 0;

        if (ch->value.null)
                return 0;
        if ((p->flags & SMS_PROP_PATH) && p->type == CIM_STRING && *ch->value.str) {
                PathKind kind = p->flags & SMS_PROP_DIRECTORY ? PATH_KIND_DIRECTORY
                                : p->flags & SMS_PROP_FILE    ? PATH_KIND_FILE
                                                              : PATH_KIND_ANY;
                r = check ? check_path(site, p, ch->value.str, kind, e) : 0;
                if (r < 0)
                        return r;
                found = 1;
        }
        if ((p->flags & SMS_PROP_DP_ROOT) && p->type == CIM_STRING) {
                r = check ? site_dp_root_resolve(site, ch->value.str, NULL, e) : 0;
                if (r < 0)
                        return r;
                found = 1;
        }
        if (p->type == CIM_DRIVER_DETAILS_ARRAY)
                for (size_t i = 0; i < ch->value.drivers.n; i++) {
                        /* The driver catalog's own copy (its ContentSourcePath), or a folder in a
                         * content root; builds take the catalog's copy either way. */
                        if (site_driver_is_catalog_path(site, ch->value.drivers.data[i].source_path))
                                continue;
                        r = check ? check_path(site, p, ch->value.drivers.data[i].source_path, PATH_KIND_ANY, e) : 0;
                        if (r < 0)
                                return r;
                        found = 1;
                }
        return found;
}

int site_changes_check_paths(const Site *site, const SmsClass *c, SiteChange *changes, size_t n, SmsError *e) {
        for (size_t i = 0; i < n; i++) {
                int r = change_paths(site, c, &changes[i], true, e);
                if (r < 0)
                        return r;
                changes[i].path_checked = true;
        }
        return 0;
}

bool site_changes_have_paths(const SmsClass *c, const SiteChange *changes, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (change_paths(NULL, c, &changes[i], false, NULL) > 0)
                        return true;
        return false;
}

/* The lookups site_changes_check_paths() has not made, on the caller's thread. */
static int check_paths_left(Site *site, const SmsClass *c, const SiteChange *changes, size_t n, SmsError *e) {
        for (size_t i = 0; i < n; i++)
                if (!changes[i].path_checked) {
                        int r = change_paths(site, c, &changes[i], true, e);
                        if (r < 0)
                                return r;
                }
        return 0;
}

/* Rules that involve several properties, checked on the instance as it would be stored. */
static int check_object(const SmsObject *o, SmsError *e) {
        int flag = find(o->class, "PkgSourceFlag"), sched = find(o->class, "RefreshSchedule");
        int share_type = find(o->class, "ShareType"), share_name = find(o->class, "ShareName");

        if (sched >= 0 && flag >= 0 && cim_value_array_length(&o->values[sched]) > 0 &&
            (o->values[flag].null || o->values[flag].u != 2))
                return sms_error_set(e, SMS_ERROR_VALUE_OUT_OF_RANGE,
                                     "RefreshSchedule is only valid with PkgSourceFlag 2 (STORAGE_DIRECT)");
        if (share_type >= 0 && share_name >= 0 && !o->values[share_type].null && o->values[share_type].u == 2 &&
            (o->values[share_name].null || !*o->values[share_name].str))
                return sms_error_set(e, SMS_ERROR_VALUE_OUT_OF_RANGE, "ShareType 2 (SHARE_SPECIFIC) needs a ShareName");
        return 0;
}

static int check_no_duplicates(const SmsClass *c, const SiteChange *changes, size_t n, SmsError *e) {
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < i; j++)
                        if (changes[i].index == changes[j].index)
                                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s is given twice",
                                                     c->all[changes[i].index]->name);
        return 0;
}

/* --- rules of particular classes, beyond what their descriptors say --------------------------- */

/* SMS_DistributionPointInfo: ServerName and SiteCode come from the NAL path. (ContentRoot is
 * SMS_PROP_DP_ROOT: an existing directory where --dp-root allows, checked as it is given.) */
static int rule_dp_info(Site *site, SmsObject *o, const size_t *changed, size_t n_changed, SmsError *e) {
        _cleanup_(nal_path_done) NalPath nal = {};
        int r;

        r = nal_path_parse(sms_object_string(o, "NALPath"), &nal, e);
        if (r < 0)
                return r;
        r = object_set_string(o, "ServerName", nal.server_name);
        return r < 0 ? r : object_set_string(o, "SiteCode", nal.site_code);
}

/* SMS_DistributionPoint: the package and the distribution point exist, the DP belongs to this
 * site and to the SiteCode given, and a package that travels only by multicast goes only to
 * multicast DPs. The rest is copied from the package. */
static int rule_distribution_point(Site *site, SmsObject *o, const size_t *changed, size_t n_changed,
                                   SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *dp = NULL, *pkg = NULL;
        const SmsClass *pkg_class;
        const char *id = sms_object_string(o, "PackageID");
        int r;

        if (changed) /* a Put */
                return 0;
        r = site_package_class(site, id, &pkg_class, e);
        if (r < 0)
                return r;
        r = store_object_load(site->store, pkg_class, id, &pkg, e);
        if (r < 0)
                return r;
        r = store_object_load(site->store, sms_model_find_class("SMS_DistributionPointInfo"),
                              sms_object_string(o, "ServerNALPath"), &dp, NULL);
        if (r < 0)
                return sms_error_set(e, SMS_ERROR_NOT_FOUND, "no distribution point %s", sms_object_string(o, "ServerNALPath"));
        if (strcasecmp(sms_object_string(dp, "SiteCode"), sms_object_string(o, "SiteCode")) != 0)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                     "distribution point %s belongs to site %s, not %s", sms_object_string(dp, "NALPath"),
                                     sms_object_string(dp, "SiteCode"), sms_object_string(o, "SiteCode"));
        if (strcasecmp(sms_object_string(dp, "SiteCode"), store_site_code(site->store)) != 0)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                     "distribution point %s is a DP of site %s; this site (%s) distributes only to its own",
                                     sms_object_string(dp, "NALPath"), sms_object_string(dp, "SiteCode"), store_site_code(site->store));
        const CimValue *flags = sms_object_value(pkg, "PkgFlags"), *multicast = sms_object_value(dp, "IsMulticast");
        if (flags && !flags->null && (flags->u & 0x400u) && !(multicast && !multicast->null && multicast->b))
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                     "%s transfers only via multicast (PkgFlags 0x400) and %s is not a multicast "
                                     "distribution point",
                                     id, sms_object_string(dp, "NALPath"));

        uint64_t type = sms_object_value(pkg, "PackageType")->u;
        CimValue v_type = cim_value_uint(CIM_UINT32, type),
                 v_object = cim_value_uint(CIM_UINT32, type == 258 ? 19 : type == 257 ? 18 : 14);
        /* Keys exactly as stored elsewhere: lookups ignore case, object paths do not. */
        r = object_set_string(o, "PackageID", pkg->key);
        r = r < 0 ? r : object_set_string(o, "ServerNALPath", dp->key);
        r = r < 0 ? r : object_set_string(o, "SiteCode", sms_object_string(dp, "SiteCode"));
        r = r < 0 ? r : object_set(o, "PackageType", &v_type);
        r = r < 0 ? r : object_set(o, "ObjectTypeID", &v_object);
        r = r < 0 ? r : object_set_string(o, "SecureObjectID", pkg->key);
        r = r < 0 ? r : object_set_string(o, "SourceSite", store_site_code(site->store));
        return r;
}

/* SMS_BootImagePackage: each ReferencedDrivers entry names a usable driver of the catalog, when
 * the image is created and when a Put changes the list or the architecture it is checked against.
 * A Put of other properties leaves an older list as it is: a driver disabled since, or a
 * reference from before the catalog, does not refuse an edit of the Description. */
static int rule_boot_image(Site *site, SmsObject *o, const size_t *changed, size_t n_changed, SmsError *e) {
        bool check = !changed;
        for (size_t i = 0; !check && i < n_changed; i++) {
                const char *name = o->class->all[changed[i]]->name;
                check = streq(name, "ReferencedDrivers") || streq(name, "Architecture");
        }
        return check ? site_driver_check_references(site, o, e) : 0;
}

/* The rules of a class, at Create (`changed` NULL) and at a Put (the indexes it changed). */
static const struct {
        const char *class_name;
        int (*rule)(Site *site, SmsObject *o, const size_t *changed, size_t n_changed, SmsError *e);
} class_rules[] = {
        { "SMS_DistributionPointInfo", rule_dp_info },
        { "SMS_DistributionPoint", rule_distribution_point },
        { "SMS_BootImagePackage", rule_boot_image },
};

static int apply_class_rules(Site *site, SmsObject *o, const size_t *changed, size_t n_changed, SmsError *e) {
        for (size_t i = 0; i < ELEMENTSOF(class_rules); i++)
                if (streq(class_rules[i].class_name, o->class->name))
                        return class_rules[i].rule(site, o, changed, n_changed, e);
        return 0;
}

/* A new object of c holding every property's default, as Create starts from. */
static int object_new_with_defaults(const SmsClass *c, SmsObject **ret) {
        _cleanup_(sms_object_freep) SmsObject *o = sms_object_new(c);
        int r;

        if (!o)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_all; i++) {
                r = sms_property_default(c->all[i], &o->values[i]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(o);
        return 0;
}

int site_object_check_create(Site *site, const SmsClass *c, const SiteChange *changes, size_t n, SmsError *e) {
        int r;

        if (c->abstract)
                return sms_error_set(e, SMS_ERROR_NOT_SUPPORTED, "%s is abstract; create one of its subclasses",
                                     c->name);
        if (c->read_only)
                return sms_error_set(e, SMS_ERROR_NOT_SUPPORTED, "%s is read-only", c->name);

        r = check_no_duplicates(c, changes, n, e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = check_change(site, c, &changes[i], true, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A new object of class C with its defaults and the caller's CHANGES, after the checks that need
 * no object; TAKE moves the values out of CHANGES (which it then leaves null), else they are
 * copied and CHANGES is not written. */
static int object_from_changes(Site *site, const SmsClass *c, SiteChange *changes, size_t n, bool take,
                               SmsObject **ret, SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        int r;

        r = site_object_check_create(site, c, changes, n, e);
        if (r >= 0)
                r = check_paths_left(site, c, changes, n, e);
        if (r < 0)
                return r;
        r = object_new_with_defaults(c, &o);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                CimValue *v = &o->values[changes[i].index];
                cim_value_clear(v);
                if (!take) {
                        r = cim_value_copy(v, &changes[i].value);
                        if (r < 0)
                                return r;
                        continue;
                }
                *v = changes[i].value;
                changes[i].value = cim_value_null(changes[i].value.type);
        }
        *ret = TAKE_PTR(o);
        return 0;
}

/* The checks of a new object as a whole: its values, its blobs' sizes, its class's rules. */
static int check_new_object(Site *site, SmsObject *o, const SiteChange *changes, size_t n, SmsError *e) {
        int r = check_object(o, e);
        if (r >= 0)
                r = sync_blob_sizes(o, changes, n, NULL, NULL, e);
        if (r >= 0)
                r = apply_class_rules(site, o, NULL, 0, e);
        return r;
}

int site_object_create(Site *site, const SmsClass *c, SiteChange *changes, size_t n, SiteChange *derived,
                       size_t n_derived, const SiteCaller *caller, char **ret_key, SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        int r;

        r = object_from_changes(site, c, changes, n, true, &o, e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < c->n_all; i++) {
                const CimValue *v = &o->values[i];
                if ((c->all[i]->flags & SMS_PROP_NOT_NULL) && (v->null || (v->type == CIM_STRING && !*v->str)))
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s needs %s", c->name, c->all[i]->name);
                if (c->all[i]->flags & SMS_PROP_WRITE_ONLY)
                        sms_property_default(c->all[i], &o->values[i]);
        }
        /* The class rules come below, once the values the site derives are in. */
        r = check_object(o, e);
        if (r >= 0)
                r = sync_blob_sizes(o, changes, n, NULL, NULL, e);
        if (r < 0)
                return r;

        /* What the site sets at creation (reference §3): owner, type, first source version. */
        const char *disc = sms_class_root(c)->discriminator;
        int disc_index = disc ? find(c, disc) : -1;
        if (disc_index >= 0)
                o->values[disc_index] = cim_value_uint(c->all[disc_index]->type, (uint64_t) c->discriminator_value);
        uint64_t now = now_usec();
        CimValue v_now = cim_value_uint(CIM_DATETIME, now), v_one = cim_value_uint(CIM_UINT32, 1),
                 v_zero = cim_value_uint(CIM_UINT32, 0);
        r = object_set_string(o, "SourceSite", store_site_code(site->store));
        r = r < 0 ? r : object_set(o, "SourceVersion", &v_one);
        r = r < 0 ? r : object_set(o, "SourceDate", &v_now);
        r = r < 0 ? r : object_set(o, "ActionInProgress", &v_zero);
        r = r < 0 ? r : object_regenerate_sedo(o, NULL, NULL);
        if (r < 0)
                return r;
        /* Values the site computed (image metadata, build state) come last and win. */
        for (size_t i = 0; i < n_derived; i++) {
                cim_value_clear(&o->values[derived[i].index]);
                o->values[derived[i].index] = derived[i].value;
                derived[i].value = cim_value_null(derived[i].value.type);
        }
        /* The class rules see the instance as it will be stored (a boot image's Architecture,
         * which its drivers must match, is derived from its WIM). */
        r = apply_class_rules(site, o, NULL, 0, e);
        if (r < 0)
                return r;
        r = sms_object_check_size(o, site->max_object_bytes, e);
        if (r < 0)
                return r;

        r = store_begin(site->store, e);
        if (r < 0)
                return r;
        r = store_object_insert(site->store, o, e);
        if (r >= 0)
                r = audit(site, AUDIT_CREATED, caller, o, "created", NULL, e);
        r = store_end(site->store, r, e);
        if (r < 0)
                return r;

        /* The object's own key: a copy could fail after the commit and report a created
         * instance as not created. */
        if (ret_key)
                *ret_key = TAKE_PTR(o->key);
        return 0;
}

static int load_writable(Site *site, const SmsClass *c, const char *key, SmsObject **ret, SmsError *e) {
        if (c->read_only)
                return sms_error_set(e, SMS_ERROR_NOT_SUPPORTED, "%s is read-only", c->name);
        return store_object_load(site->store, c, key, ret, e);
}

/* Joins the names of the listed properties for the audit text. */
static char *join_names(const SmsClass *c, const size_t *idx, size_t n) {
        size_t len = 1;
        for (size_t i = 0; i < n; i++)
                len += strlen(c->all[idx[i]]->name) + 2;
        char *s = malloc(len), *w = s;
        if (!s)
                return NULL;
        *w = 0;
        for (size_t i = 0; i < n; i++)
                w += sprintf(w, "%s%s", i ? ", " : "", c->all[idx[i]]->name);
        return s;
}

int site_object_validate_create(Site *site, const SmsClass *c, const SiteChange *changes, size_t n, SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *o = NULL, *existing = NULL;
        int r;

        r = object_from_changes(site, c, (SiteChange *) changes, n, false, &o, e);
        if (r >= 0)
                r = check_new_object(site, o, changes, n, e);
        if (r >= 0)
                r = sms_object_check_size(o, site->max_object_bytes, e);
        if (r < 0)
                return r;
        if (c->key_kind == SMS_KEY_CALLER) {
                _cleanup_free_ char *key = NULL;
                r = sms_object_key_format(o, &key);
                if (r < 0)
                        return r;
                if (store_object_load(site->store, c, key, &existing, NULL) >= 0)
                        return sms_error_set(e, SMS_ERROR_ALREADY_EXISTS, "%s " SMS_QUOTE_FMT " exists already",
                                             c->name, SMS_QUOTE(key));
        }
        return 0;
}

/* Writes the changed properties of `o` (plus a new SedoObjectVersion) and an audit row, in one
 * transaction; an object grown past what one object may take on D-Bus is refused. With
 * `versioned` (a Put that named the SedoObjectVersion it read), the row is written only while it
 * still holds the version o was read with: another host's write in between is VersionMismatch. */
static int commit_changes(Site *site, SmsObject *o, bool versioned, size_t **changed, size_t *n_changed,
                          uint32_t audit_id, const char *verb, const SiteCaller *caller, SmsError *e) {
        _cleanup_free_ char *names = NULL;
        CimValue read_version = {};
        int sedo = find(o->class, "SedoObjectVersion"), r;

        r = sms_object_check_size(o, site->max_object_bytes, e);
        if (r < 0)
                return r;

        names = join_names(o->class, *changed, *n_changed);
        if (!names)
                return -ENOMEM;
        versioned = versioned && sedo >= 0;
        if (versioned) {
                r = cim_value_copy(&read_version, &o->values[sedo]);
                if (r < 0)
                        return r;
        }
        r = object_regenerate_sedo(o, changed, n_changed);
        if (r >= 0)
                r = store_begin(site->store, e);
        if (r < 0) {
                cim_value_clear(&read_version);
                return r;
        }
        r = versioned ? store_object_update_guarded(site->store, o, *changed, *n_changed, (size_t) sedo,
                                                    &read_version, e)
                      : store_object_update(site->store, o, *changed, *n_changed, e);
        cim_value_clear(&read_version);
        if (r >= 0)
                r = audit(site, audit_id, caller, o, verb, *names ? names : NULL, e);
        return store_end(site->store, r, e);
}

int site_object_put(Site *site, const SmsClass *c, const char *key, SiteChange *changes, size_t n,
                    const SiteCaller *caller, size_t **ret_changed, size_t *ret_n_changed, SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        _cleanup_free_ size_t *changed = NULL;
        size_t n_changed = 0;
        int sedo = find(c, "SedoObjectVersion"), r;

        r = load_writable(site, c, key, &o, e);
        if (r < 0)
                return r;
        r = check_no_duplicates(c, changes, n, e);
        if (r < 0)
                return r;

        /* The concurrency token first: a stale writer learns that before anything else (and
         * the UPDATE checks it again, against a host that writes in between). */
        bool versioned = false;
        for (size_t i = 0; i < n; i++)
                if (sedo >= 0 && changes[i].index == (size_t) sedo) {
                        versioned = true;
                        const CimValue *given = &changes[i].value, *stored = &o->values[sedo];
                        if (given->type != CIM_STRING || stored->null || !streq(given->str, stored->str))
                                return sms_error_set(e, SMS_ERROR_VERSION_MISMATCH,
                                                     "%s %s was changed by someone else (SedoObjectVersion "
                                                     SMS_QUOTE_FMT ", now %s); read it again",
                                                     c->name, key,
                                                     SMS_QUOTE(given->type == CIM_STRING ? given->str : "?"),
                                                     stored->null ? "" : stored->str);
                }

        r = check_not_locked(site, o, e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                if (sedo >= 0 && changes[i].index == (size_t) sedo)
                        continue;
                r = check_change(site, c, &changes[i], false, e);
                if (r >= 0 && !changes[i].path_checked)
                        r = change_paths(site, c, &changes[i], true, e);
                if (r < 0)
                        return r;
        }

        changed = calloc(n + 1 + ELEMENTSOF(sized_blobs) * 2, sizeof(size_t));
        if (!changed)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                size_t idx = changes[i].index;
                if ((sedo >= 0 && idx == (size_t) sedo) || (c->all[idx]->flags & SMS_PROP_WRITE_ONLY) ||
                    cim_value_equal(&o->values[idx], &changes[i].value))
                        continue;
                cim_value_clear(&o->values[idx]);
                o->values[idx] = changes[i].value;
                changes[i].value = cim_value_null(changes[i].value.type);
                changed[n_changed++] = idx;
        }
        r = check_object(o, e);
        if (r >= 0)
                r = sync_blob_sizes(o, changes, n, changed, &n_changed, e);
        if (r < 0)
                return r;
        r = apply_class_rules(site, o, changed, n_changed, e);
        if (r < 0)
                return r;

        r = commit_changes(site, o, versioned, &changed, &n_changed, AUDIT_MODIFIED, "modified", caller, e);
        if (r < 0)
                return r;
        if (ret_changed) {
                *ret_changed = TAKE_PTR(changed);
                *ret_n_changed = n_changed;
        }
        return 0;
}

int site_object_set_derived(Site *site, const SmsClass *c, const char *key, SiteChange *values, size_t n,
                            const SiteCaller *caller, const char *what, size_t **ret_changed, size_t *ret_n_changed,
                            SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        _cleanup_free_ size_t *changed = NULL;
        size_t n_changed = 0;
        int r;

        r = store_object_load(site->store, c, key, &o, e);
        if (r < 0)
                return r;
        changed = calloc(n + 1, sizeof(size_t));
        if (!changed)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                size_t idx = values[i].index;
                if (cim_value_equal(&o->values[idx], &values[i].value))
                        continue;
                cim_value_clear(&o->values[idx]);
                o->values[idx] = values[i].value;
                values[i].value = cim_value_null(values[i].value.type);
                changed[n_changed++] = idx;
        }
        r = commit_changes(site, o, false, &changed, &n_changed, AUDIT_MODIFIED, what, caller, e);
        if (r < 0)
                return r;
        if (ret_changed) {
                *ret_changed = TAKE_PTR(changed);
                *ret_n_changed = n_changed;
        }
        return 0;
}

int site_object_check_writable(Site *site, const SmsClass *c, const char *key, SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        int r;

        r = load_writable(site, c, key, &o, e);
        if (r < 0)
                return r;
        return check_not_locked(site, o, e);
}

int site_object_delete(Site *site, const SmsClass *c, const char *key, const SiteCaller *caller, SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        int r;

        r = load_writable(site, c, key, &o, e);
        if (r < 0)
                return r;
        r = check_not_locked(site, o, e);
        if (r < 0)
                return r;

        r = store_begin(site->store, e);
        if (r < 0)
                return r;
        r = audit(site, AUDIT_DELETED, caller, o, "deleted", NULL, e);
        if (r >= 0)
                r = store_object_delete(site->store, c, key, e);
        r = store_end(site->store, r, e);
        if (r < 0)
                return r;
        /* What the site built for the package (boot images, extracted images) goes with it: out of
         * the way at once (a rename), freed later on a worker (a 2 GiB image takes about a second
         * on ext4). A crash in between leaves images/.<key>.deleted to the start-up sweep. */
        _cleanup_free_ char *images = NULL, *gone = NULL;
        if (site->library_dir && asprintf(&images, "%s/images/%s", site->library_dir, o->key) >= 0) {
                if (site->jobs && asprintf(&gone, "%s/images/.%s.deleted", site->library_dir, o->key) >= 0 &&
                    rename(images, gone) == 0)
                        job_queue_remove_later(site->jobs, TAKE_PTR(gone));
                else
                        (void) path_remove_tree(images);
        }
        return 0;
}

int site_package_set_source_site(Site *site, const SmsClass *c, const char *key, const char *source_site,
                                 const SiteCaller *caller, size_t **ret_changed, size_t *ret_n_changed,
                                 SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        _cleanup_free_ size_t *changed = NULL;
        size_t n_changed = 0;
        int i, r;

        if (!sms_site_code_valid(source_site))
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                     "SourceSite '" SMS_QUOTE_FMT "' is not a site code (3 characters of A-Z and 0-9)",
                                     SMS_QUOTE(source_site));
        r = load_writable(site, c, key, &o, e);
        if (r < 0)
                return r;
        i = find(c, "SourceSite");
        if (i < 0)
                return sms_error_set(e, SMS_ERROR_NOT_SUPPORTED, "%s has no SourceSite", c->name);

        changed = calloc(1, sizeof(size_t));
        if (!changed)
                return -ENOMEM;
        if (o->values[i].null || !streq(o->values[i].str, source_site)) {
                r = object_set_string(o, "SourceSite", source_site);
                if (r < 0)
                        return r;
                changed[n_changed++] = (size_t) i;
        }

        r = commit_changes(site, o, false, &changed, &n_changed, AUDIT_SOURCE_SITE, "set the source site of", caller,
                           e);
        if (r < 0)
                return r;
        if (ret_changed) {
                *ret_changed = TAKE_PTR(changed);
                *ret_n_changed = n_changed;
        }
        return 0;
}

int site_package_add_change_notification(Site *site, const SmsClass *c, const char *key, const SiteCaller *caller,
                                         SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        int r;

        r = store_object_load(site->store, c, key, &o, e);
        if (r < 0)
                return r;
        r = store_begin(site->store, e);
        if (r < 0)
                return r;
        r = audit(site, AUDIT_CHANGE_NOTIFICATION, caller, o, "added a change notification for", NULL, e);
        return store_end(site->store, r, e);
}

int site_package_class(Site *site, const char *package_id, const SmsClass **ret, SmsError *e) {
        SmsError inner = SMS_ERROR_NULL;
        int r = store_object_class(site->store, sms_model_find_class("SMS_PackageBaseclass"), package_id, ret, &inner);
        if (r == -ENOENT && inner.code == SMS_ERROR_NOT_FOUND)
                r = sms_error_set(e, SMS_ERROR_NOT_FOUND, "no package " SMS_QUOTE_FMT, SMS_QUOTE(package_id));
        else if (r < 0)
                r = sms_error_set(e, inner.code, "%s", inner.message ? inner.message : "failed");
        sms_error_clear(&inner);
        return r;
}

int site_object_load(Site *site, const SmsClass *c, const char *key, SmsObject **ret, SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        int r;

        r = store_object_load(site->store, c, key, &o, e);
        if (r < 0)
                return r;
        if (streq(o->class->name, "SMS_Driver")) {
                r = site_driver_fill_computed(site, o);
                if (r < 0)
                        return sms_error_set_errno(e, -r, "building SDMPackageXML of driver %s", key);
        }
        *ret = TAKE_PTR(o);
        return 0;
}

int site_query(Site *site, const char *text, WqlQuery **ret_query, WqlRow **ret_rows, size_t *ret_n,
               SmsError *e) {
        return site_query_in(site->store, site->max_query_rows, text, ret_query, ret_rows, ret_n, e);
}

int site_query_in(Store *store, size_t max_query_rows, const char *text, WqlQuery **ret_query, WqlRow **ret_rows,
                  size_t *ret_n, SmsError *e) {
        _cleanup_(wql_query_freep) WqlQuery *q = NULL;
        int r;

        r = wql_parse(text, &q, e);
        if (r < 0)
                return r;
        r = wql_check(q, e);
        if (r < 0)
                return r;
        r = store_query(store, q, max_query_rows, ret_rows, ret_n, e);
        if (r < 0)
                return r;
        *ret_query = TAKE_PTR(q);
        return 0;
}

int site_query_page(Site *site, const char *text, const char *cursor, uint32_t max_rows, WqlQuery **ret_query,
                    WqlRow **ret_rows, size_t *ret_n, char **ret_next_cursor, SmsError *e) {
        return site_query_page_in(site->store, site->max_query_rows, text, cursor, max_rows, ret_query, ret_rows,
                                  ret_n, ret_next_cursor, e);
}

int site_query_page_in(Store *store, size_t max_query_rows, const char *text, const char *cursor, uint32_t max_rows,
                       WqlQuery **ret_query, WqlRow **ret_rows, size_t *ret_n, char **ret_next_cursor,
                       SmsError *e) {
        _cleanup_(wql_query_freep) WqlQuery *q = NULL;
        StoreSortValue *after = NULL, *next = NULL;
        _cleanup_free_ char *next_cursor = NULL;
        WqlRow *rows = NULL;
        size_t n = 0, n_values, limit;
        int r;

        r = wql_parse(text, &q, e);
        if (r < 0)
                return r;
        r = wql_check(q, e);
        if (r < 0)
                return r;
        n_values = wql_page_n_values(q);

        limit = max_rows == 0 ? SITE_DEFAULT_PAGE_ROWS : max_rows;
        if (limit > max_query_rows)
                limit = max_query_rows;

        if (cursor && *cursor) {
                r = store_cursor_decode(store, text, cursor, n_values, &after, e);
                if (r < 0)
                        return r;
        }
        r = store_query_page(store, q, after, limit, &rows, &n, &next, e);
        store_sort_values_free(after, n_values);
        if (r < 0)
                return r;

        r = next ? store_cursor_encode(store, text, next, n_values, &next_cursor)
                 : ((next_cursor = strdup("")) ? 0 : -ENOMEM);
        store_sort_values_free(next, n_values);
        if (r < 0) {
                wql_rows_free(rows, n, q->n_columns);
                return r;
        }

        *ret_rows = rows;
        *ret_n = n;
        *ret_next_cursor = TAKE_PTR(next_cursor);
        *ret_query = TAKE_PTR(q);
        return 0;
}

int site_report(Site *site, uint32_t message_id, uint32_t severity, const SiteCaller *caller, const char *class_name,
                const char *key, const char *text) {
        _cleanup_free_ char *uid = NULL;
        int r;

        if (asprintf(&uid, "%u", caller ? (unsigned) caller->uid : 0u) < 0)
                return -ENOMEM;
        StoreStatusMessage m = {
                .message_id = message_id,
                .message_type = 256,
                .severity = severity,
                .uid = caller ? (uint32_t) caller->uid : 0,
                .description = text,
                .ins_strings = { uid, class_name, key, text },
        };
        r = store_begin(site->store, NULL);
        if (r < 0)
                return r;
        r = store_status_message_add(site->store, &m, NULL, NULL);
        return store_end(site->store, r, NULL);
}

/* imaging/build.c writes ".<name>.tmp-XXXXXX" files and ".<name>.staging-XXXXXX" folders into
 * images/<PackageID>/. */
static void remove_package_leftovers(int images_fd, const char *images, const char *package_id) {
        int pkg = openat(images_fd, package_id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        DIR *p = pkg >= 0 ? fdopendir(pkg) : NULL;
        struct dirent *f;

        if (!p) {
                if (pkg >= 0)
                        close(pkg);
                return;
        }
        while ((f = readdir(p)))
                if (f->d_name[0] == '.' && (strstr(f->d_name, ".tmp-") || strstr(f->d_name, ".staging-"))) {
                        _cleanup_free_ char *path = NULL;
                        if (asprintf(&path, "%s/%s/%s", images, package_id, f->d_name) >= 0)
                                (void) path_remove_tree(path);
                }
        closedir(p);
}

/* What interrupted builds left in the library's images/. A library of this host's own (the state
 * directory) is swept whole; a shared one (--library-dir) only in the folders of the packages
 * whose jobs this host was running (`targets`, "<class>.<PackageID>"): other hosts may be
 * building the others right now. */
static void remove_build_leftovers(Site *site, char *const *targets, size_t n) {
        bool shared = !streq(site->library_dir, site->state_dir);
        _cleanup_free_ char *images = NULL;
        DIR *d;
        struct dirent *de;

        if (asprintf(&images, "%s/images", site->library_dir) < 0 || !(d = opendir(images)))
                return;
        for (size_t i = 0; shared && i < n; i++) {
                const char *dot = strchr(targets[i], '.');
                if (dot && dot[1] && dot[1] != '.' && !strchr(dot + 1, '/'))
                        remove_package_leftovers(dirfd(d), images, dot + 1);
        }
        while (!shared && (de = readdir(d))) {
                size_t len = strlen(de->d_name);
                if (de->d_name[0] == '.' && len > 9 && streq(de->d_name + len - 8, ".deleted")) {
                        /* a deleted package's images that a stop caught before their removal */
                        _cleanup_free_ char *path = NULL;
                        if (asprintf(&path, "%s/%s", images, de->d_name) >= 0)
                                (void) path_remove_tree(path);
                }
                if (de->d_name[0] != '.')
                        remove_package_leftovers(dirfd(d), images, de->d_name);
        }
        closedir(d);
}

int site_recover_interrupted(Site *site, char *const *targets, size_t n, SmsError *e) {
        remove_build_leftovers(site, targets, n);
        site_reset_interrupted_packages(site, targets, n);
        (void) e;
        return 0;
}

void site_reset_interrupted_packages(Site *site, char *const *targets, size_t n) {
        SiteCaller daemon = { .uid = 0 };

        for (size_t i = 0; i < n; i++) {
                const char *dot = strchr(targets[i], '.');
                _cleanup_free_ char *class_name = dot ? strndup(targets[i], (size_t) (dot - targets[i])) : NULL;
                const SmsClass *c = class_name ? sms_model_find_class(class_name) : NULL;
                int action = c ? find(c, "ActionInProgress") : -1;
                if (action < 0)
                        continue;
                SiteChange reset = { .index = (size_t) action, .value = cim_value_uint(CIM_UINT32, 0) };
                _cleanup_free_ size_t *changed = NULL;
                size_t n_changed = 0;
                /* The package may be gone; then there is nothing to reset. Clients see it idle
                 * again (another host's jobs fail while this one serves them). */
                if (site_object_set_derived(site, c, dot + 1, &reset, 1, &daemon, "reset after an interrupted job",
                                            &changed, &n_changed, NULL) >= 0)
                        site_notify_changed(site, c, dot + 1, changed, n_changed);
        }
}

int site_replace_rows(Site *site, const SmsClass *c, const char *match_property, const char *match,
                      SmsObject *const *objects, size_t n, SmsError *e) {
        int match_index = match_property ? find(c, match_property) : -1;
        CimValue v = { .type = CIM_STRING, .str = (char *) match };
        int r;

        if (match_property && match_index < 0)
                return sms_error_set(e, SMS_ERROR_FAILED, "%s has no %s", c->name, match_property);
        r = store_begin(site->store, e);
        if (r < 0)
                return r;
        r = store_object_delete_all(site->store, c, match_index, &v, e);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = store_object_insert(site->store, objects[i], e);
        return store_end(site->store, r, e);
}

int site_resolve_wmi_path(Site *site, const char *wmi_path, const SmsClass **ret_class, char **ret_key,
                          SmsError *e) {
        _cleanup_(wmi_path_done) WmiPath path = {};
        _cleanup_free_ char *text = NULL, *canonical = NULL;
        CimValue values[SMS_MAX_KEYS];
        const CimValue *pointers[SMS_MAX_KEYS];
        const SmsClass *c, *concrete;
        size_t len = 1;
        int r;

        r = wmi_path_parse(wmi_path, &path, e);
        if (r < 0)
                return r;
        c = sms_model_find_class(path.class_name);
        if (!c)
                return sms_error_set(e, SMS_ERROR_INVALID_CLASS, "no class " SMS_QUOTE_FMT, SMS_QUOTE(path.class_name));
        if (path.n_keys != c->n_keys)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "the key of %s has %zu part%s; the path gives %zu",
                                     c->name, c->n_keys, c->n_keys == 1 ? "" : "s", path.n_keys);

        /* Back to key text, which the class parses and formats canonically. */
        for (size_t i = 0; i < path.n_keys; i++)
                len += strlen(path.keys[i].name) + 2 * strlen(path.keys[i].value) + 4;
        text = malloc(len);
        if (!text)
                return -ENOMEM;
        text[0] = 0;
        if (c->n_keys == 1) {
                int k = sms_class_find_property(c, path.keys[0].name);
                if (k < 0 || (size_t) k != c->key_index)
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                             SMS_QUOTE_FMT " is not the key of %s (the key is %s)",
                                             SMS_QUOTE(path.keys[0].name), c->name, c->all[c->key_index]->name);
                strcpy(text, path.keys[0].value);
        } else
                for (size_t i = 0; i < path.n_keys; i++) {
                        char *w = text + strlen(text);
                        w += sprintf(w, "%s%s=\"", i ? "," : "", path.keys[i].name);
                        for (const char *p = path.keys[i].value; *p; p++) {
                                if (*p == '"' || *p == '\\')
                                        *w++ = '\\';
                                *w++ = *p;
                        }
                        strcpy(w, "\"");
                }
        r = sms_class_key_parse(c, text, values, e);
        for (size_t k = 0; k < c->n_keys; k++)
                pointers[k] = &values[k];
        if (r >= 0)
                r = sms_class_key_format(c, pointers, &canonical);
        for (size_t k = 0; k < c->n_keys; k++)
                cim_value_clear(&values[k]);
        if (r < 0)
                return r;

        r = store_object_class(site->store, c, canonical, &concrete, e);
        if (r < 0)
                return r;
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        r = store_object_load(site->store, concrete, canonical, &o, e);
        if (r < 0)
                return r;
        *ret_key = TAKE_PTR(o->key);
        *ret_class = concrete;
        return 0;
}

/* --- queries on a worker ------------------------------------------------------------------------- */

void site_query_free(void *p) {
        SiteQuery *sq = p;

        if (!sq)
                return;
        store_close(sq->reader);
        if (sq->rows)
                wql_rows_free(sq->rows, sq->n, sq->q->n_columns);
        wql_query_free(sq->q);
        free(sq->text);
        free(sq->cursor);
        free(sq->next);
        free(sq);
}

int site_query_new(Site *site, const char *text, const char *cursor, uint32_t max_rows, SiteQuery **ret) {
        SiteQuery *sq = calloc(1, sizeof(SiteQuery));
        int r;

        if (!sq)
                return -ENOMEM;
        *sq = (SiteQuery) { .max_query_rows = site->max_query_rows, .paged = cursor != NULL, .max_rows = max_rows,
                            .text = strdup(text), .cursor = strdup(cursor ? cursor : "") };
        r = sq->text && sq->cursor ? store_new_reader(site->store, &sq->reader) : -ENOMEM;
        if (r < 0) {
                site_query_free(sq);
                return r;
        }
        *ret = sq;
        return 0;
}

int site_query_run(void *p, SmsError *e) {
        SiteQuery *sq = p;
        int r;

        r = store_reader_open(sq->reader, e);
        if (r >= 0 && sq->paged)
                r = site_query_page_in(sq->reader, sq->max_query_rows, sq->text, sq->cursor, sq->max_rows, &sq->q,
                                       &sq->rows, &sq->n, &sq->next, e);
        else if (r >= 0)
                r = site_query_in(sq->reader, sq->max_query_rows, sq->text, &sq->q, &sq->rows, &sq->n, e);
        sq->reader = store_close(sq->reader);
        return r;
}

/* --- what the site is ---------------------------------------------------------------------------- */

const char *site_code(const Site *site) {
        return store_site_code(site->store);
}

const char *site_name(const Site *site) {
        return store_site_name(site->store);
}

uint64_t site_generation(const Site *site) {
        return store_generation(site->store);
}

int site_object_enumerate(Site *site, const SmsClass *c, char ***ret_keys, const SmsClass ***ret_classes,
                          size_t *ret_n, SmsError *e) {
        return store_object_enumerate(site->store, c, ret_keys, ret_classes, ret_n, e);
}

int site_add_root(Site *site, SiteRootKind kind, const char *path, SmsError *e) {
        return content_roots_add(kind == SITE_ROOT_DP ? &site->dp_roots : &site->roots, path, e);
}

void site_set_query_budget(Site *site, uint64_t max_steps) {
        store_set_query_budget(site->store, max_steps);
}

int site_component_catalog_load(Site *site, SmsError *e) {
        SmsObject **catalog = NULL;
        size_t n = 0;
        int r;

        r = winpe_catalog_scan(site->adk_root, &catalog, &n, e);
        if (r >= 0)
                r = site_replace_rows(site, sms_model_find_class("SMS_OSDeploymentKitWinPEOptionalComponent"), NULL,
                                      NULL, catalog, n, e);
        winpe_catalog_free(catalog, n);
        return r;
}
