/* SPDX-License-Identifier: MIT */
#pragma once

/* Windows driver INF files, read for the driver catalog (SMS_Driver, issue 15): what
 * Configuration Manager derives from an INF when it imports a driver — the class, provider,
 * version and date, the device models with their hardware and compatible IDs, the platforms the
 * models are for, and the files that make up the driver.
 *
 * The syntax is Windows' (the WDK's "General Syntax Rules for INF Files"): [sections] whose names
 * and keys are case-insensitive, "key = value, value, …" entries, ';' comments outside quotes,
 * "double-quoted" values with "" for a quote inside, '\' at the end of a line to continue it,
 * %strkey% tokens defined in [Strings] or [Strings.<LanguageID>] (%% is a percent sign), and
 * text in UTF-16 with a byte order mark, UTF-8 (with or without one) or Windows-1252 (what a file
 * that is not UTF-8 is taken to be: the ANSI code page of Western Windows).
 *
 * The parser reads only what it is given: no file is opened and nothing outside the buffer is
 * consulted (the caller hashes, reads and copies the files). It keeps no state between calls:
 * calls may run on any threads at once. A hostile INF is bounded by the INF_*_MAX limits below;
 * past one, the parse fails with InvalidParameter saying which. */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "smsprov/error.h"

/* The hardware platforms a models section or a file can be for, as SMS_Driver names them. */
typedef enum InfArchitecture {
        INF_ARCH_X86,   /* NTx86, NT, or an undecorated models section */
        INF_ARCH_X64,   /* NTamd64 */
        INF_ARCH_ARM64, /* NTarm64 */
        INF_ARCH_IA64,  /* NTia64 */
        INF_ARCH_ARM,   /* NTarm */
        _INF_ARCH_MAX,
        _INF_ARCH_INVALID = -EINVAL,
} InfArchitecture;

/* Sets of architectures (InfDriver.platforms, InfFile.architectures) are bit masks. */
#define INF_ARCH_BIT(a) (1u << (a))
#define INF_ARCH_ALL ((1u << _INF_ARCH_MAX) - 1u)

/* "x86", "x64", "arm64", "ia64", "arm"; NULL for anything else. */
const char *inf_architecture_to_string(InfArchitecture a);
/* The inverse, case-insensitive; "amd64" is taken for "x64". _INF_ARCH_INVALID when unknown. */
InfArchitecture inf_architecture_from_string(const char *s);

/* One device model: an entry "description = install-section, hardware-id, compatible-id…" of a
 * models section that [Manufacturer] names. The same entry in two models sections (NTx86 and
 * NTamd64, say) is two models. Every string is substituted (%strkey% replaced) and never NULL
 * unless said so. */
typedef struct InfModel {
        char *manufacturer;       /* the [Manufacturer] entry's name, e.g. "Contoso" for %Mfg% */
        char *description;        /* the device description, e.g. "Contoso Gigabit Adapter" */
        char *install_section;    /* the DDInstall section's undecorated name */
        char *hardware_id;        /* the first ID after the install section; NULL when left empty */
        char **compatible_ids;    /* the IDs after it, NULL-terminated, empty when none */
        InfArchitecture architecture;
        char *target;             /* the TargetOSVersion decoration the models section was named
                                   * with, as [Manufacturer] writes it ("NTamd64.10.0...16299"),
                                   * "" for the undecorated section */
        unsigned line;            /* where the entry starts in the INF */
} InfModel;

/* A file that belongs to the driver. */
typedef struct InfFile {
        char *name;               /* the file name, e.g. "contoso.sys"; never a path: no '\', '/',
                                   * ':', and not "." or ".." */
        char *directory;          /* where it lies under the INF's folder: the SourceDisksNames
                                   * path of its disk and its SourceDisksFiles subdir, components
                                   * joined with '/' ("x64/bin"), "" beside the INF; never
                                   * absolute and never with a ".." component. Windows matches
                                   * names case-insensitively; so should the caller. */
        char *disk_id;            /* its [SourceDisksFiles] diskid, "" for catalog files */
        unsigned architectures;   /* INF_ARCH_BIT()s: those of the decorated sections that list
                                   * it ([SourceDisksFiles.amd64] → x64), INF_ARCH_ALL for the
                                   * undecorated section */
        unsigned line;            /* where it is first listed */
} InfFile;

/* The display name in one of the INF's localized [Strings.<LanguageID>] sections. */
typedef struct InfLocalizedName {
        uint16_t language_id;     /* the section's LanguageID, e.g. 0x0407 for [Strings.0407] */
        char *display_name;       /* the first model's description in that language (a token the
                                   * section does not define comes from the default strings) */
} InfLocalizedName;

/* What SMS_Driver derives from an INF. Strings are UTF-8 that utf8_is_valid() accepts. */
typedef struct InfDriver {
        char *driver_class;       /* [Version] Class (SMS_Driver.DriverClass), e.g. "Net"; never
                                   * NULL or empty */
        char *class_guid;         /* [Version] ClassGuid as written, "{4d36e972-e325-…}"; checked
                                   * to be a GUID; NULL when absent */
        char *driver_provider;    /* [Version] Provider (SMS_Driver.DriverProvider); NULL when
                                   * absent */
        char *driver_version;     /* DriverVer's version "w.x.y.z" (SMS_Driver.DriverVersion), 1 to
                                   * 4 numbers of 0-65535 as written; NULL when absent */
        uint64_t driver_date;     /* DriverVer's date mm/dd/yyyy (SMS_Driver.DriverDate) as a CIM
                                   * DateTime: microseconds since the epoch, midnight UTC; 0 when
                                   * there is no DriverVer */
        char *catalog_file;       /* [Version] CatalogFile: the undecorated entry, else
                                   * CatalogFile.nt, else the first decorated one; NULL when none */
        InfFile *catalog_files;   /* every CatalogFile[.ntx86|.ntamd64|…] entry, one per name */
        size_t n_catalog_files;
        char *localized_display_name; /* SMS_Driver.LocalizedDisplayName: the first model's
                                       * description, in the default strings: [Strings], else
                                       * [Strings.0409], else the first localized section */
        InfLocalizedName *localized_names; /* one per [Strings.<LanguageID>] section */
        size_t n_localized_names;
        InfModel *models;         /* at least one: [Manufacturer] entries in order, for each the
                                   * undecorated models section, then the decorated ones in the
                                   * order the entry lists them */
        size_t n_models;
        char **hardware_ids;      /* every model's hardware ID once (compared case-insensitively,
                                   * spelled as first seen), in model order; NULL-terminated */
        char **compatible_ids;    /* likewise for the compatible IDs */
        unsigned platforms;       /* INF_ARCH_BIT()s of the architectures that have at least one
                                   * model; never 0 */
        InfFile *files;           /* [SourceDisksFiles], then its .x86/.amd64/.arm64/.ia64/.arm
                                   * variants, one entry per directory and name (the first listed,
                                   * with the architectures of all) */
        size_t n_files;
} InfDriver;

/* Limits on what a caller's INF can make the parser hold. */
#define INF_MAX_SIZE (16u * 1024u * 1024u) /* bytes of INF */
#define INF_LINE_MAX 16384u                /* bytes of a line, and of an entry with its
                                            * continuation lines (a CRLF's CR not counted) */
#define INF_FIELD_MAX 4095u                /* characters of a value, before and after string
                                            * substitution (Windows' limit, 4096 with the NUL) */
#define INF_SECTION_NAME_MAX 255u          /* characters of a section name (Windows' limit) */
#define INF_SECTIONS_MAX 16384u            /* [section] headers */
#define INF_ENTRIES_MAX 262144u            /* entries, all sections together */
#define INF_ENTRY_VALUES_MAX 1024u         /* values of one entry */
#define INF_VALUES_MAX 1048576u            /* values, all entries together */
#define INF_MODELS_MAX 65536u              /* models */
#define INF_IDS_MAX 65536u                 /* hardware and compatible IDs, all models together */
#define INF_FILES_MAX 65536u               /* [SourceDisksFiles] entries */
#define INF_RESULT_MAX (64u * 1024u * 1024u) /* bytes of strings made for the result,
                                              * substituted values included */

/* Parses the INF in data[0..size) into a new InfDriver in *ret. Fails with -EINVAL and
 * InvalidParameter in *e when the INF is malformed where it matters (the message names the line:
 * "line 12: unterminated section name", "undefined string token %DevDesc% on line 30"), has no
 * [Version] with Signature and Class, no [Manufacturer] with at least one model, or exceeds a
 * limit; with -ENOMEM (and Failed) when memory runs out. Sections that say nothing about the
 * driver (DDInstall, AddReg, …) are cut into entries but not read: a quote left open there does
 * not fail the parse, as it does not in Windows; an unterminated section name, a line over the
 * limit or a continuation at the end of the file fail it wherever they are.
 *
 * What is not done: [Version] entries and SourceDisksFiles of an INF that Include=/Needs= names,
 * LayoutFile=, DriverVer in DDInstall sections, [SourceDisksNames] .cab and tag files, choosing
 * among OS versions within an architecture (every models section of an architecture contributes
 * its models), choosing [Strings.<LanguageID>] by a machine's locale, and ANSI code pages other
 * than Windows-1252 (such a file decodes to the wrong characters, still valid UTF-8). */
int inf_parse(const void *data, size_t size, InfDriver **ret, SmsError *e);

/* Frees d and everything it holds; NULL is fine. Returns NULL. */
InfDriver *inf_driver_free(InfDriver *d);
static inline void inf_driver_freep(InfDriver **d) {
        inf_driver_free(*d);
}
