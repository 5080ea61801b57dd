/* SPDX-License-Identifier: MIT */
#pragma once

/* The driver catalog (site/drivers.c, issue 15): SMS_Driver instances imported from INF files
 * (CreateFromINF), their copies in the site's content library, and the rules boot images follow
 * when they reference them (ReferencedDrivers).
 *
 * An import reads the INF beneath the content root that holds DriverPath, parses it (model/inf.c)
 * and copies the INF, its catalog files and the files its [SourceDisksFiles] name into the site's
 * content library as package "DRV-<first 32 hex digits of the INF's SHA-256>" version 1,
 * published at <library>/contentlib/DataLib/DRV-…/ (content_site_publish()): that folder is the
 * driver's ContentSourcePath. The library copy of one INF is written once: a second import of the
 * same INF finds it (and the catalog row, CI_UniqueID "<SiteCode>/Driver_<SHA-256>"), and copies
 * nothing. Imports run one at a time (a lock file in <library>/drivers/), so two of one INF never
 * write its copy together. A copy that no driver names any more, once its driver is deleted, is
 * removed from the library (site_driver_collect()). */

#include <stdbool.h>

#include "smsprov/site.h"

typedef struct DriverImport DriverImport;

/* Main thread, no file system: checks the arguments (INFFile relative, no "..", ending in .inf;
 * DriverPath given) and takes what the work reads. Errors: InvalidParameter. */
int site_driver_import_new(Site *site, const char *driver_path, const char *inf_file, const SiteCaller *caller,
                           DriverImport **ret, SmsError *e);
/* On a worker: DriverPath resolved beneath its content root (content_roots_resolve()), the INF
 * opened beneath that folder (names matched without regard to case, as Windows does), read,
 * hashed and parsed, and the driver's files copied into the site library. Errors:
 * PathNotAllowed, InvalidParameter (a bad INF, naming the line; a file the INF names that is not
 * there), OutOfDiskSpace, Failed. */
int site_driver_import_work(void *import, SmsError *e);
/* Main thread, after the work: the catalog row, new (audited, observer told) or the one the same
 * INF made before (*ret_created false). Returns its key (CI_ID). */
int site_driver_import_finish(Site *site, DriverImport *import, char **ret_key, bool *ret_created, SmsError *e);
void site_driver_import_free(void *import);

/* Values of a driver that are built when read, not stored (SDMPackageXML). */
int site_driver_fill_computed(Site *site, SmsObject *o);
/* site/driver-xml.c: the driver as SDM package XML (the shape ConfigMgr's SDK samples read: a
 * DesiredConfigurationDigest whose Driver's Annotation has <DisplayName Text="…"/>), with its
 * class, provider, version, INF, platforms and hardware and compatible IDs. */
int site_driver_sdm_package_xml(const SmsObject *driver, const char *site_code, char **ret);

/* The class rule of SMS_BootImagePackage (site.c's class_rules): every ReferencedDrivers entry
 * names an existing, enabled driver whose Architectures include the image's. InvalidParameter
 * naming the entry otherwise. It runs at Create and at each Put that changes ReferencedDrivers
 * or Architecture: an older list is left as it is by edits of other properties. */
int site_driver_check_references(Site *site, const SmsObject *boot_image, SmsError *e);

/* After a committed write that set a boot image's ReferencedDrivers: a status message naming the
 * referenced drivers whose class Windows PE does not load at start (anything but Net,
 * SCSIAdapter, HDC and System); they are accepted and staged anyway. */
void site_driver_note_boot_classes(Site *site, const SmsClass *c, const char *key, const SiteCaller *caller);

/* Is `path` a driver's copy in the site's content library (a ContentSourcePath)? Lexical: the
 * site's own folder, which a ReferencedDrivers SourcePath may name without being in a content
 * root. */
bool site_driver_is_catalog_path(const Site *site, const char *path);

/* The site library and the import lock of a library directory (Site.library_dir). */
int site_driver_paths(const char *library_dir, char **ret_site_lib, char **ret_lock);

/* Main thread, after a driver's Delete and when the jobs start (driver-collect.c): removes from
 * the site library, on an idle worker, the copies no SMS_Driver names. Does nothing while an
 * import is on its way or a boot image has a job queued or running (a build may stage a copy):
 * the next collection decides then. Failures are logged; nothing depends on them. */
void site_driver_collect(Site *site);

/* Delete of a driver: Busy while a boot image references it. */
int site_driver_check_deletable(Site *site, const char *key, SmsError *e);

/* The catalog's copy of driver `id` for a build: its ContentSourcePath, and DriverINFFile relative
 * to it. NotFound when the driver is gone. */
int site_driver_catalog_copy(Site *site, uint32_t id, char **ret_path, char **ret_inf, SmsError *e);
