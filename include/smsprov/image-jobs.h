/* SPDX-License-Identifier: MIT */
#pragma once

/* The work of the image operations, as functions for worker threads (site/image-work.c): reading
 * a WIM's metadata, building a boot image, exporting the kit's default boot image. Each takes a
 * context the main thread filled in from the package and the site, and leaves its results there
 * for the main thread to commit. Nothing here touches D-Bus or the database. */

#include <stdbool.h>
#include <stdint.h>

#include "smsprov/class.h"
#include "smsprov/image-outputs.h"
#include "smsprov/imaging.h"
#include "smsprov/job.h"
#include "smsprov/site.h"

/* An ImagingProgress for work running as a Job (userdata = the Job): progress in percent of
 * bytes, and false once the job is asked to cancel. */
bool image_job_progress(void *userdata, uint64_t done, uint64_t total, const char *text);

/* --- reading metadata ------------------------------------------------------------------------ */

typedef struct ImageRead {
        char *path;          /* confined: "/proc/self/fd/N" of `fd`, once opened */
        char *display_path;  /* what the caller named, for messages */
        int fd;              /* opened by image_read_work(), and closed there unless keep_fd */
        bool keep_fd;        /* open until the context is freed (a job reads the file again) */
        const ContentRoots *roots; /* where display_path must lie; NULL for a trusted path */
        bool allow_install_dir;
        unsigned want_index; /* 0 = any; otherwise the index must exist */
        /* results */
        WimInfo info;
        char *xml;           /* ImageProperty of every image */
} ImageRead;

/* A context for image_read_work(), which resolves `path` inside the content roots (a file, or for
 * `allow_install_dir` a folder holding sources/install.wim) on the worker, then reads it: no file
 * is open while the read waits for a worker. The site's roots must outlive the context. */
int image_read_new(const Site *site, const char *path, bool allow_install_dir, unsigned want_index,
                   ImageRead **ret, SmsError *e);
/* The same for a file the daemon itself chose (the deployment kit's winpe.wim): no confinement. */
int image_read_new_trusted(const char *path, unsigned want_index, ImageRead **ret, SmsError *e);
ImageRead *image_read_free(ImageRead *r);
void image_read_freep_void(void *r);
int image_read_work(void *userdata, SmsError *e);
/* Only the first part of image_read_work(), for a call that must fail when its job could not
 * read the file: it is found and opened, and stays open for the work (which closes it after the
 * read unless keep_fd). */
int image_read_check(ImageRead *r, SmsError *e);

/* The package properties a metadata read determines: ImageProperty, ImageOSVersion,
 * Architecture, PackageSize (KB of the chosen image, or of every image when index 0), and
 * Language and Name when `fill_defaults` and the object has none. Returns SiteChange values for
 * site_object_create()/site_object_set_derived(). */
int image_read_derived(const ImageRead *r, const SmsClass *c, const SmsObject *current, unsigned index,
                       bool fill_defaults, SiteChange **ret, size_t *ret_n);

/* The SMS_ImageInformation rows of a package: one per image of `info` (read from `image_path`),
 * with the package's PackageID, type, Version and EnableLabShell. Free with
 * winpe_catalog_free()-style sms_object_free() of each and free() of the array. */
int image_information_objects(const WimInfo *info, const char *image_path, const SmsObject *package,
                              SmsObject ***ret, size_t *ret_n);
void image_information_free(SmsObject **objects, size_t n);
/* Replaces the package's SMS_ImageInformation rows with those of `info`. */
int image_information_update(Site *site, const WimInfo *info, const char *image_path, const SmsObject *package,
                             SmsError *e);

/* --- building a boot image ---------------------------------------------------------------------- */

typedef struct BootImageBuildJob {
        char *image_path;    /* ImagePath as stored */
        char *source_path;   /* confined ImagePath, "/proc/self/fd/N" of source_fd, once checked */
        int source_fd;
        unsigned image_index;
        char *output_path;   /* <state>/images/<PackageID>/<version>/<base>.<PackageID>.wim */
        uint32_t version;    /* the SourceVersion the build commits (image-outputs.h) */
        char *architecture;  /* numeric code of the source image */
        char *osd_bin_root;
        bool enable_lab_shell;
        char *pre_exec_command_line;
        /* The caller-given inputs as stored: checked before the job starts, and resolved again
         * beneath `roots` by the work, which copies each into a private folder with *at() calls
         * below the descriptor found and gives wimlib that copy (util/tree-copy.h). */
        ContentRoots roots;
        char *pre_exec_path;     /* PreExecSourceDirectory, a folder, or NULL */
        char *bitmap_path;       /* BackgroundBitmapPath, a file, or NULL */
        BootImageDriver *drivers; /* .source: the catalog's copy (SMS_Driver.ContentSourcePath) */
        size_t n_drivers;
        char *inputs_dir;    /* the private copies while the work runs: <output dir>/.<base>.staging-inputs-XXXXXX */
        char **component_dirs;
        uint32_t scratch_space_mb;
        /* results */
        ImagingBuildResult result;
} BootImageBuildJob;

/* Fills a build context from a boot image package as stored, without touching a file: the
 * optional component IDs are mapped to their trees through the catalog. Errors are the call's,
 * before any job exists: ImageError, ValueOutOfRange, InvalidParameter. */
int boot_image_build_new(Site *site, const SmsObject *package, const char *osd_bin_root, const char *adk_root,
                         BootImageBuildJob **ret, SmsError *e);
/* The file system part, for a worker: the caller-given paths are confined again beneath the
 * context's copy of the roots (a property may have been set when a root was configured that is
 * gone now) and ImagePath is opened, to stay open for the build. PathNotAllowed,
 * InvalidParameter. The work runs it too when nothing did before. */
int boot_image_build_check(BootImageBuildJob *b, SmsError *e);
BootImageBuildJob *boot_image_build_free(BootImageBuildJob *b);
void boot_image_build_free_void(void *b);
int boot_image_build_work(Job *job, void *userdata, SmsError *e);

/* --- exporting the default boot image ------------------------------------------------------------ */

typedef struct DefaultImageExportJob {
        char *source_path;   /* <adk>/<arch>/winpe.wim */
        unsigned image_index;
        const ContentRoots *roots; /* the site's, which outlive the context */
        char *export_path;   /* as the caller gave it, for messages */
        char *output_dir;    /* its folder, as given */
        char *output_name;   /* the file name in it */
        int output_dir_fd;   /* the folder, confined by default_image_export_check() */
        char *output_path;   /* "/proc/self/fd/<dirfd>/<name>", once checked */
        char *private_dir;   /* <state>/images/export: where the image is built before it is published */
        char **component_dirs; /* the always-added components present in the kit */
        ImagingBuildResult result;
} DefaultImageExportJob;

/* Checks the architecture and the shape of the export path (absolute, a plain file name) and fills
 * the context, without touching a file. InvalidParameter. */
int default_image_export_new(const Site *site, const char *adk_root, const char *architecture, unsigned index,
                             const char *export_path, DefaultImageExportJob **ret, SmsError *e);
/* The file system part, for a worker: the folder is confined inside a content root, what is there
 * under the name is a file that may be replaced, and the kit has its winpe.wim. InvalidParameter,
 * PathNotAllowed. The work runs it too when nothing did before. */
int default_image_export_check(DefaultImageExportJob *x, SmsError *e);
DefaultImageExportJob *default_image_export_free(DefaultImageExportJob *x);
void default_image_export_free_void(void *x);
int default_image_export_work(Job *job, void *userdata, SmsError *e);
