/* SPDX-License-Identifier: MIT */
#pragma once

/* WIM files: reading image metadata, the ImageProperty XML, and building images (boot images and
 * the exported default boot image). wimlib, libxml2 and hivex behind small functions that take
 * plain C values. No D-Bus, no SQLite.
 *
 * Threads: every function may run on a worker thread. Each call opens its own WIMStruct; nothing
 * is shared between calls. Progress callbacks run on the calling thread.
 *
 * Paths: callers pass paths they have already confined (content roots, state directory). A
 * confined file is best passed as "/proc/self/fd/N" of the descriptor the confinement returned,
 * so that wimlib opens exactly the checked inode. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smsprov/error.h"

/* --- metadata ------------------------------------------------------------------------------- */

typedef struct ImageInfo {
        unsigned index;          /* 1-based */
        char *name;              /* NAME */
        char *description;       /* DESCRIPTION */
        char *architecture;      /* WINDOWS/ARCH as a decimal string: "0" x86, "5" ARM, "6" ia64, "9" x64, "12" ARM64; "" if absent */
        char *language;          /* WINDOWS/LANGUAGES/DEFAULT, e.g. "en-US"; "" if absent */
        char *os_version;        /* "major.minor.build.spbuild" from WINDOWS/VERSION; "" if absent */
        char *product_type;      /* WINDOWS/PRODUCTTYPE, e.g. "WinNT"; "" if absent */
        char *hal;               /* WINDOWS/HAL; "" if absent */
        char *system_root;       /* WINDOWS/SYSTEMROOT, e.g. "WINDOWS"; "" if absent */
        char *edition_id;        /* WINDOWS/EDITIONID; "" if absent */
        char *created_by;        /* "" when unknown */
        char *creation_date;     /* "YYYY-MM-DD hh:mm:ss" UTC from CREATIONTIME; "" if absent */
        uint64_t total_bytes;    /* TOTALBYTES: uncompressed size of the image's files */
        /* All strings are valid UTF-8 (sanitised), never NULL. */
} ImageInfo;

typedef struct WimInfo {
        ImageInfo *images;
        size_t n_images;
        uint32_t compression_type; /* wimlib's WIMLIB_COMPRESSION_TYPE_* */
} WimInfo;

/* Opens the WIM read-only and reads every image's metadata. Errors: ImageError (not a WIM,
 * truncated, unsupported; the message carries wimlib's error text and code), Failed. */
int imaging_read_info(const char *wim_path, WimInfo *ret, SmsError *e);
void wim_info_done(WimInfo *info);

/* The Configuration Manager ImageProperty XML (API.md §5, reference §4.3), built with libxml2:
 *   <WIM><IMAGE Index="1"><Property Name="Image name">…</Property>…</IMAGE>…</WIM>
 * with the properties "Image name", "Image description", "Architecture", "Language",
 * "OS version", "Product type", "HAL type", "Created by", "Creation date", "Size",
 * "System directory" (those the image has). `only_index` 0 = every image. */
int imaging_image_property_xml(const WimInfo *info, unsigned only_index, char **ret_xml, SmsError *e);

/* "0" → "i386", "9" → "x64", "12" → "arm64" (the OSD binary folders), and the deployment kit's
 * folder names: "0" → "x86", "9" → "amd64", "12" → "arm64". NULL for anything else. */
const char *imaging_osd_arch_dir(const char *architecture);
const char *imaging_adk_arch_dir(const char *architecture);
/* Accepts "x86", "x64", "amd64", "ia64", "arm64", "arm" and the numeric codes; returns the
 * numeric code string ("9") or NULL. */
const char *imaging_architecture_code(const char *name_or_code);

/* --- building -------------------------------------------------------------------------------- */

/* Progress: done/total in bytes (total 0 when unknown) and a short text. Return true to go on,
 * false to cancel: the build then stops at the next wimlib progress point, removes its temporary
 * file and fails with Canceled. */
typedef bool (*ImagingProgress)(void *userdata, uint64_t done, uint64_t total, const char *text);

typedef struct ImagingAdd {
        const char *source; /* a file or a directory tree on disk */
        const char *target; /* its path in the image, e.g. "\\sms\\bin\\x64" (a directory tree is merged) */
} ImagingAdd;

typedef struct ImagingFile {
        const char *target; /* path in the image, e.g. "\\Windows\\System32\\winpeshl.ini" */
        const void *data;
        size_t size;
} ImagingFile;

typedef struct ImagingBuild {
        const char *source_path;   /* the source WIM, never modified */
        unsigned image_index;      /* the image of the source to build from */
        const char *output_path;   /* the final file; written as a temporary in the same
                                    * directory, fsynced, renamed, directory fsynced */
        const ImagingAdd *adds;
        size_t n_adds;
        const ImagingFile *files;
        size_t n_files;
        uint32_t scratch_space_mb; /* 0 = leave the SYSTEM hive alone; otherwise written as
                                    * ControlSet001\Services\FBWF\WinPECacheThreshold (REG_DWORD) */
        ImagingProgress progress;
        /* Optional: called between the steps ("copied", "written", "verified": the temporary is
         * complete and checked, the rename comes next); false cancels. Tests stop the daemon
         * there (job_test_point()). */
        bool (*step)(void *userdata, const char *step);
        void *userdata;
} ImagingBuild;

typedef struct ImagingBuildResult {
        ImageInfo info;       /* metadata of the built image (index 1 of the output) */
        uint64_t file_size;   /* bytes of the output file */
        char *notes;          /* what the build could not do and went on without, e.g. "the image
                               * has no Windows\System32\config\SYSTEM hive; ScratchSpace not
                               * written"; "" when nothing */
        char *leftover;       /* a folder beside the output holding the file the build replaced,
                               * kept alive by a link so that the rename did not have to free its
                               * blocks; the caller removes it once the outcome is reported
                               * (job_defer_removal()). NULL when nothing was replaced. A crash
                               * before that leaves a ".staging-" folder that the startup sweep
                               * removes. */
} ImagingBuildResult;

/* Builds a one-image WIM from one image of the source plus the adds, files and hive edit, without
 * recompressing what the source holds (the method is documented and measured in imaging/build.c).
 * Errors: ImageError (source not a WIM, index missing, wimlib failure), OutOfDiskSpace, Canceled,
 * InvalidParameter (an add's source missing), Failed. On any error nothing is left at the output
 * path or in the output directory but what was there before. */
int imaging_build(const ImagingBuild *b, ImagingBuildResult *ret, SmsError *e);
void imaging_build_result_done(ImagingBuildResult *r);

/* --- boot images -------------------------------------------------------------------------- */

/* What a boot image gets (ARCHITECTURE.md "Building a boot image", reference §8). All paths are
 * on disk and already confined by the caller; NULL or "" = not set. */
typedef struct BootImageDriver {
        uint32_t id;        /* SMS_Driver.CI_ID */
        const char *source; /* the driver's folder (or .inf file) */
} BootImageDriver;

typedef struct BootImageConfig {
        const char *architecture;         /* numeric code of the source image ("9") */
        const char *osd_bin_root;         /* --osd-bin-root: holds i386/ x64/ arm64/ */
        bool enable_lab_shell;
        const char *pre_exec_command_line;
        const char *pre_exec_source_directory;
        const char *background_bitmap_path;
        const BootImageDriver *drivers;
        size_t n_drivers;
        const char *const *component_dirs; /* prepared optional component trees, merged at the image root */
        size_t n_components;
        uint32_t scratch_space_mb;
} BootImageConfig;

/* Turns a boot image's configuration into the adds, generated files and hive edit of an
 * ImagingBuild: \sms\bin\<arch>\ from the OSD binaries; Windows\System32\winpeshl.ini starting
 * TsBootShell.exe (after loading the drivers with drvload); \sms\bin\<arch>\TsBootShell.ini
 * (EnableDebugShell); \sms\PKG\SMS10000\ and the prestart command; the background as
 * Windows\System32\winpe.bmp; \sms\drivers\<ID>\; the component trees; ScratchSpace. The plan
 * owns the generated file contents; free it with boot_image_plan_done(). */
typedef struct BootImagePlan {
        ImagingAdd *adds;
        size_t n_adds;
        ImagingFile *files;
        size_t n_files;
        char **owned; /* generated texts and paths the above point into */
        size_t n_owned;
        uint32_t scratch_space_mb;
} BootImagePlan;

int boot_image_plan(const BootImageConfig *config, BootImagePlan *ret, SmsError *e);
void boot_image_plan_done(BootImagePlan *plan);
