/* SPDX-License-Identifier: MIT */
#pragma once

/* The engine's image operations (site/image.c): boot image builds (Create, UpdateImage,
 * UpdateDefaultImage, RefreshPkgSource, UpdateOptionalComponents) with what they commit and clean
 * up, ReloadImageProperties and the refresh of an OS image's source, Create of the image classes
 * (which reads the WIM, and for a boot image starts its first build), GetImageProperties and
 * ExportDefaultBootImage. Main thread, but for the functions marked as worker work: those look
 * files up and read them, and may wait on a file system that never answers, so the caller runs
 * them on a thread of its own between the two main-thread halves. */

#include <stdbool.h>
#include <stdint.h>

#include "smsprov/site-jobs.h"
#include "smsprov/site.h"

typedef struct ImageRead ImageRead;
typedef struct SiteImageReload SiteImageReload;
typedef struct SiteExport SiteExport;
typedef struct SiteImageCreate SiteImageCreate;

/* A boot image package: its refresh is a rebuild. */
bool site_is_boot_image(const SmsClass *c);

/* A build of an existing boot image, made ready, nothing written: checks it is not locked or
 * busy, from the package as stored or from `package`, the package as a write not yet committed
 * will leave it. plan->check looks its files up (worker work). */
int site_image_build_prepare(Site *site, const SmsClass *c, const char *key, const SmsObject *package,
                             const char *operation, uint32_t action, const SiteCaller *caller, SiteJobPlan **ret,
                             SmsError *e);
/* The same, started at once (ActionInProgress set, the Job queued): its work looks its files up. */
int site_image_start_build(Site *site, const SmsClass *c, const char *key, const char *operation, uint32_t action,
                           const SiteCaller *caller, uint64_t *ret_job, SmsError *e);

/* UpdateOptionalComponents: the OptionalComponents change and the rebuild it starts, made ready
 * (the IDs checked against the catalog and the image's architecture); site_put() writes the one
 * and starts the other. */
int site_image_components_prepare(Site *site, const SmsClass *c, const char *key, const uint32_t *ids, size_t n,
                                  const SiteCaller *caller, SiteChange **ret_change, SiteJobPlan **ret_plan,
                                  SmsError *e);

/* RefreshPkgSource: a boot image is rebuilt; another package's source is read again and its
 * SourceVersion moves on. When it succeeds, the new version goes to the package's DPs. The plan
 * of a Put with RefreshPkgSourceFlag is made from `package` as the Put will leave it (NULL: as
 * stored); plan->check opens the source (worker work). */
int site_image_refresh_prepare(Site *site, const SmsClass *c, const char *key, const SmsObject *package,
                               const SiteCaller *caller, SiteJobPlan **ret, SmsError *e);
int site_image_refresh_source(Site *site, const SmsClass *c, const char *key, const SiteCaller *caller,
                              uint64_t *ret_job, SmsError *e);

/* ReloadImageProperties: new (main), work (worker), commit (main: the properties, the
 * SMS_ImageInformation rows, the observer told), free. */
int site_image_reload_new(Site *site, const SmsClass *c, const char *key, const SiteCaller *caller,
                          SiteImageReload **ret, SmsError *e);
int site_image_reload_work(void *reload, SmsError *e);
int site_image_reload_commit(SiteImageReload *reload, SmsError *e);
void site_image_reload_free(void *reload);

/* GetImageProperties of a file beneath a content root (for an OS install package also its
 * folder): new (main), work (worker), the ImageProperty XML, free. */
int site_image_properties_new(Site *site, const SmsClass *c, const char *path, ImageRead **ret, SmsError *e);
int site_image_properties_work(void *read, SmsError *e);
const char *site_image_properties_xml(const ImageRead *read);
void site_image_properties_free(void *read);

/* ExportDefaultBootImage, one at a time (Busy): new (main), check (worker: the folder and the
 * kit's WIM), start (main: the job; x is still the caller's to free), free. The caller's peer
 * must stay valid until the start. */
int site_export_new(Site *site, const char *architecture, uint32_t index, const char *path,
                    const SiteCaller *caller, SiteExport **ret, SmsError *e);
int site_export_check(void *x, SmsError *e);
int site_export_start(Site *site, SiteExport *x, uint64_t *ret_job, SmsError *e);
void site_export_free(void *x);

/* Create of an image class: new (main: the checks that need no file system; takes `changes` on
 * success; *ret NULL, and the changes still the caller's, when the package names no source to
 * read, and is then created like any object), work (worker: the paths, then the WIM), commit
 * (main: the package with its image metadata, and for a boot image its first build, for an
 * SMS_ImagePackage with extract_index the extraction of that image), free. */
int site_image_create_new(Site *site, const SmsClass *c, SiteChange *changes, size_t n, unsigned extract_index,
                          const SiteCaller *caller, SiteImageCreate **ret, SmsError *e);
int site_image_create_work(void *create, SmsError *e);
int site_image_create_commit(SiteImageCreate *create, char **ret_key, uint64_t *ret_job, SmsError *e);
const SmsClass *site_image_create_class(const SiteImageCreate *create);
void site_image_create_free(void *create);
