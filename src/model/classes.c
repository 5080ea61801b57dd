/* SPDX-License-Identifier: MIT */

/* The class descriptor tables: every property of reference §3–§7 with its CIM type, access,
 * qualifiers, default, value list or range, and column. Adding a property is one line here plus
 * a schema migration adding its column. */

#include <stdint.h>

#include "model/classes.h"
#include "smsprov/class.h"
#include "smsprov/macro.h"

#define RO SMS_PROP_READ
#define LAZY SMS_PROP_LAZY
#define LARGE SMS_PROP_LARGE
#define KEY (SMS_PROP_KEY | SMS_PROP_READ)
#define PATH SMS_PROP_PATH
#define DIR (SMS_PROP_PATH | SMS_PROP_DIRECTORY)
#define FILE_PATH (SMS_PROP_PATH | SMS_PROP_FILE)

#define P(n, t, f, d, doc_) { .name = n, .type = t, .flags = f, .def = d, .doc = doc_ }
#define P_ENUM(n, t, f, d, vals, doc_)                                                             \
        { .name = n, .type = t, .flags = (f) | SMS_PROP_ENUM, .def = d, .values = vals, .doc = doc_ }
#define P_RANGE(n, t, f, d, lo, hi, doc_)                                                          \
        { .name = n, .type = t, .flags = f, .def = d, .min = lo, .max = hi, .doc = doc_ }

/* PkgFlags bits that the real provider does not publish; smsprovd's assignment (API.md §4). */
#define PKGFLAG_ALLOW_MULTICAST 0x100u
#define PKGFLAG_ENCRYPT_MULTICAST 0x200u
#define PKGFLAG_ONLY_MULTICAST 0x400u
#define PKGFLAG_DEPLOY_FROM_PXE 0x800u

static int check_pkg_flags(const SmsProperty *p, const CimValue *v, SmsError *e) {
        if (v->null)
                return 0;
        if ((v->u & PKGFLAG_ONLY_MULTICAST) && !(v->u & PKGFLAG_ALLOW_MULTICAST))
                return sms_error_set(e, SMS_ERROR_VALUE_OUT_OF_RANGE,
                                     "PkgFlags 0x%llx: 0x400 (transfer only via multicast) requires 0x100 "
                                     "(allow multicast)",
                                     (unsigned long long) v->u);
        return 0;
}

static const uint32_t action_in_progress_values[] = { 0, 1, 2, 3, UINT32_MAX };
static const uint32_t pkg_source_flag_values[] = { 0, 1, 2, 3, 4, UINT32_MAX };
static const uint32_t priority_values[] = { 1, 2, 3, UINT32_MAX };
static const uint32_t share_type_values[] = { 1, 2, UINT32_MAX };
static const uint32_t scratch_space_values[] = { 32, 64, 128, 256, 512, UINT32_MAX };
static const uint32_t message_type_values[] = { 256, 512, 768, 1024, UINT32_MAX };
static const uint32_t severity_values[] = { 0x40000000u, 0x80000000u, 0xC0000000u, UINT32_MAX };
static const uint32_t per_client_values[] = { 0, 2, UINT32_MAX };

/* --- SMS_PackageBaseclass (reference §3.1) --------------------------------------------------- */

static const SmsProperty package_base_properties[] = {
        P_ENUM("ActionInProgress", CIM_UINT32, RO, "0", action_in_progress_values,
               "What the site is doing to the package: 0 NONE, 1 UPDATE, 2 ADD, 3 DELETE."),
        P("AlternateContentProviders", CIM_STRING, LARGE | LAZY, NULL,
          "XML with alternate content provider settings."),
        P("Description", CIM_STRING, 0, NULL, "Long description of the package."),
        { .name = "ExtendedData", .type = CIM_UINT8_ARRAY, .flags = LARGE | LAZY,
          .max_length = SMS_MAX_BLOB_LENGTH, .doc = "XML blob for image deployment." },
        P("ExtendedDataSize", CIM_UINT32, LAZY, "0", "Size of ExtendedData in bytes."),
        P("ForcedDisconnectDelay", CIM_UINT32, 0, "5",
          "Minutes to wait before disconnecting users from the distribution point share."),
        P("ForcedDisconnectEnabled", CIM_BOOLEAN, 0, "false",
          "Disconnect users on share violation while the source is updated."),
        P("ForcedDisconnectNumRetries", CIM_UINT32, 0, "2", "Number of disconnection attempts."),
        { .name = "Icon", .type = CIM_UINT8_ARRAY, .flags = LARGE, .max_length = SMS_MAX_BLOB_LENGTH,
          .doc = "Icon file bytes for consoles." },
        P("IconSize", CIM_UINT32, LAZY, "0", "Size of Icon in bytes."),
        P("IgnoreAddressSchedule", CIM_BOOLEAN, 0, "false",
          "Ignore the schedule of the sender chosen by PreferredAddressType."),
        P("ISVData", CIM_UINT8_ARRAY, LARGE | LAZY, NULL, "Partner extensibility bytes."),
        P("ISVDataSize", CIM_UINT32, LAZY, "0", "Size of ISVData in bytes."),
        P("ISVString", CIM_STRING, 0, NULL, "Partner extensibility string."),
        P("Language", CIM_STRING, 0, NULL, "Language of the package."),
        P("LastRefreshTime", CIM_DATETIME, RO, NULL,
          "When the source was last refreshed on the distribution points (µs since the epoch, UTC)."),
        P("LocalizedCategoryInstanceNames", CIM_STRING_ARRAY, RO, NULL, "Localized category names."),
        P("Manufacturer", CIM_STRING, 0, NULL, "Publisher of the package."),
        P("MIFFilename", CIM_STRING, 0, NULL, "Status MIF file name."),
        P("MIFName", CIM_STRING, 0, NULL, "Name used for MIF status matching."),
        P("MIFPublisher", CIM_STRING, 0, NULL, "Publisher used for MIF status matching."),
        P("MIFVersion", CIM_STRING, 0, NULL, "Version used for MIF status matching."),
        P("Name", CIM_STRING, 0, "", "Name of the package."),
        P("NumOfPrograms", CIM_UINT32, 0, "0", "Number of programs of the package."),
        { .name = "PackageID", .type = CIM_STRING, .flags = KEY, .max_length = 8,
          .doc = "Site code and five hexadecimal digits, allocated by the site (e.g. LAB00001)." },
        P("PackageSize", CIM_UINT32, RO, "0", "Uncompressed size of the package content in KB."),
        P("PackageType", CIM_UINT32, RO, NULL,
          "257 OS image, 258 boot image, 259 OS install package; fixed by the class."),
        { .name = "PkgFlags", .type = CIM_UINT32, .flags = SMS_PROP_BITS, .def = "0",
          .check = check_pkg_flags,
          .doc = "Package flag bits; 0x100 allow multicast, 0x200 encrypt multicast, 0x400 only via "
                 "multicast, 0x800 deploy from PXE-enabled distribution points (smsprovd's assignment)." },
        P_ENUM("PkgSourceFlag", CIM_UINT32, 0, "1", pkg_source_flag_values,
               "Source storage: 0 needs specifying, 1 no source, 2 direct, 3 compressed (obsolete), 4 local."),
        P("PkgSourcePath", CIM_STRING, PATH, NULL, "Path of the package's source files."),
        P("PreferredAddressType", CIM_STRING, 0, NULL, "Preferred sender for site-to-site copies."),
        P_ENUM("Priority", CIM_UINT32, 0, "2", priority_values,
               "Sending priority: 1 high, 2 normal, 3 low."),
        P("RefreshPkgSourceFlag", CIM_BOOLEAN, LAZY | SMS_PROP_WRITE_ONLY, "false",
          "Always reads false; writing true refreshes the package source, like RefreshPkgSource()."),
        { .name = "RefreshSchedule", .type = CIM_SCHEDULE_ARRAY, .flags = LAZY,
          .max_length = SMS_SCHEDULE_MAX_TOKENS,
          .doc = "When distribution points are refreshed from the source; only with PkgSourceFlag 2." },
        P("SecuredScopeNames", CIM_STRING_ARRAY, RO, NULL, "Security scopes of the package."),
        P("SedoObjectVersion", CIM_STRING, RO, NULL,
          "Optimistic-concurrency version, regenerated on every write; pass it to Put to detect "
          "concurrent changes."),
        P("ShareName", CIM_STRING, 0, NULL, "Distribution point share to use with ShareType 2."),
        P_ENUM("ShareType", CIM_UINT32, 0, "1", share_type_values, "1 common share, 2 specific share."),
        P("SourceDate", CIM_DATETIME, RO, NULL,
          "When the source files were last updated (µs since the epoch, UTC)."),
        { .name = "SourceSite", .type = CIM_STRING, .flags = RO, .max_length = 3,
          .doc = "Site code of the owning site; changed only by SetSourceSite and Unlock." },
        P("SourceVersion", CIM_UINT32, RO, NULL,
          "Version of the package source; moves on every update or refresh."),
        P("StoredPkgPath", CIM_STRING, 0, NULL, "Location of the compressed copy (obsolete)."),
        P("StoredPkgVersion", CIM_UINT32, 0, "0", "Version of the compressed copy (obsolete)."),
        P("Version", CIM_STRING, 0, NULL, "Admin-maintained version string."),
};

/* Properties that more than one image class declares (one definition, used by each table). */
#define PROP_ARCHITECTURE                                                                          \
        P("Architecture", CIM_STRING, RO, "",                                                      \
          "WIM architecture code of the image as a string: 0 x86, 5 ARM, 6 ia64, 9 x64, 12 ARM64.")
#define PROP_IMAGE_DISK_LAYOUT                                                                     \
        P("ImageDiskLayout", CIM_STRING, RO | LAZY, "", "XML of the disk layout of the source image.")
#define PROP_IMAGE_PROPERTY                                                                        \
        P("ImageProperty", CIM_STRING, LAZY, "",                                                   \
          "XML metadata of the source WIM: <WIM><IMAGE Index=\"n\"><Property Name=\"…\">.")
#define PROP_IMAGE_OS_VERSION(f)                                                                   \
        P("ImageOSVersion", CIM_STRING, f, "", "OS version of the image (major.minor.build.spbuild).")

/* --- SMS_BootImagePackage (reference §4.1, with InputLocale and ProductionClientVersion) ------ */

static const SmsProperty boot_image_properties[] = {
        PROP_ARCHITECTURE,
        P("BackgroundBitmapPath", CIM_STRING, LAZY | FILE_PATH, NULL,
          "Custom Windows PE background bitmap; empty for the default."),
        P("ContextID", CIM_STRING, LAZY, "",
          "Names the status queue of this image's builds for QueryOSDBinaryInjectionStatus."),
        P("DefaultImage", CIM_BOOLEAN, 0, "false", "True for the site's default boot images."),
        P("EnableLabShell", CIM_BOOLEAN, LAZY, "false",
          "Enable command support (F8 opens a command prompt; testing only)."),
        PROP_IMAGE_DISK_LAYOUT,
        P_RANGE("ImageIndex", CIM_UINT32, LAZY, "1", 1, UINT32_MAX,
                "1-based index of the image in the WIM at ImagePath."),
        PROP_IMAGE_OS_VERSION(0),
        P("ImagePath", CIM_STRING, FILE_PATH | SMS_PROP_NOT_NULL, NULL,
          "The source WIM the boot image is built from; it is never modified."),
        PROP_IMAGE_PROPERTY,
        P("InputLocale", CIM_STRING, 0, NULL, "Default keyboard layout in Windows PE."),
        { .name = "OptionalComponents", .type = CIM_UINT32_ARRAY, .flags = LAZY, .max_length = 256,
          .doc = "IDs of the Windows PE optional components to add." },
        P("PreExecCommandLine", CIM_STRING, LAZY, NULL,
          "Prestart command run in Windows PE before the task sequence is chosen."),
        P("PreExecSourceDirectory", CIM_STRING, DIR, NULL, "Folder whose files the prestart command uses."),
        P("ProductionClientVersion", CIM_STRING, RO, "", "Client version built into the image."),
        { .name = "ReferencedDrivers", .type = CIM_DRIVER_DETAILS_ARRAY, .flags = LAZY, .max_length = 1024,
          .doc = "Drivers to add: (ID = SMS_Driver.CI_ID, SourcePath)." },
        P_ENUM("ScratchSpace", CIM_UINT32, LAZY, "512", scratch_space_values,
               "Windows PE scratch space in MB: 32, 64, 128, 256 or 512."),
};

/* --- SMS_ImagePackage (reference §5.1, with Architecture and ImageOSVersion) ------------------ */

static const SmsProperty image_package_properties[] = {
        PROP_ARCHITECTURE,
        PROP_IMAGE_DISK_LAYOUT,
        PROP_IMAGE_OS_VERSION(RO),
        PROP_IMAGE_PROPERTY,
};

/* Reference §5.2, "Extract a specific image index": the package gets a new WIM holding only that
 * image, written under the state directory; the source is not touched. */
static const SmsProperty image_package_create_parameters[] = {
        P_RANGE("ImageIndex", CIM_UINT32, SMS_PROP_CREATE_ONLY, NULL, 1, UINT32_MAX,
                "Create only: import just this image of the WIM at PkgSourcePath, into a new WIM."),
};

/* --- SMS_OperatingSystemInstallPackage (reference §6.1) --------------------------------------- */

static const SmsProperty os_install_properties[] = {
        PROP_ARCHITECTURE,
        PROP_IMAGE_OS_VERSION(RO),
        PROP_IMAGE_PROPERTY,
};

/* --- SMS_StatusMessage (reference §7.11) plus smsprovd's audit fields -------------------------- */

static const SmsProperty status_message_properties[] = {
        P("Component", CIM_STRING, RO, NULL, "Component that raised the message."),
        P("Description", CIM_STRING, RO, NULL, "What happened, in words (smsprovd)."),
        P("InsStrings", CIM_STRING_ARRAY, RO, NULL,
          "Insertion strings: user, class, key, detail (smsprovd; ConfigMgr's SMS_StatMsgInsStrings)."),
        P("MachineName", CIM_STRING, RO, NULL, "Host that raised the message."),
        P_RANGE("MessageID", CIM_UINT32, RO, NULL, 0, 65535,
                "Message ID: 30000 created, 30001 modified, 30002 deleted, 30003 change notification, "
                "30004 source site changed."),
        P_ENUM("MessageType", CIM_UINT32, RO, NULL, message_type_values,
               "256 milestone, 512 detail, 768 audit, 1024 NT event."),
        P("ModuleName", CIM_STRING, RO, NULL, "Module that raised the message."),
        P_ENUM("PerClient", CIM_UINT32, RO, NULL, per_client_values, "0 false, 2 true."),
        P("ProcessID", CIM_UINT32, RO, NULL, "Process that raised the message."),
        P("RecordID", CIM_SINT64, KEY, NULL, "Unique, never reused record number."),
        P("ReportFunction", CIM_UINT32, RO, NULL, "0 Report."),
        P_ENUM("Severity", CIM_UINT32, RO, NULL, severity_values,
               "0x40000000 informational, 0x80000000 warning, 0xC0000000 error."),
        P("SiteCode", CIM_STRING, RO, NULL, "Site that raised the message."),
        P("SuccessfulTransaction", CIM_UINT32, RO, NULL, "0 failed, 8 successful."),
        P("ThreadID", CIM_UINT32, RO, NULL, "Thread that raised the message."),
        P("Time", CIM_DATETIME, RO, NULL, "When (µs since the epoch, UTC)."),
        P("TopLevelSiteCode", CIM_STRING, RO, NULL, "Deprecated; the site code."),
        P("Transaction", CIM_UINT32, RO, NULL, "0 false, 4 true."),
        P("UserUID", CIM_UINT32, RO, NULL, "Unix user ID of the caller that made the change (smsprovd)."),
        P("Win32Error", CIM_UINT32, RO, NULL, "Win32/errno-style error code, 0 for none."),
};

/* --- SMS_ImageInformation (reference §7.4) ----------------------------------------------------- */

static const uint32_t object_type_values[] = { 14, 18, 19, UINT32_MAX };
static const uint32_t image_package_type_values[] = { 257, 258, 259, UINT32_MAX };

/* The reference marks only PackageID as key; a WIM holds several images, so (PackageID, Index)
 * is the key here, as the reference suggests. Index is therefore not lazy. */
static const SmsProperty image_information_properties[] = {
        P("Architecture", CIM_STRING, RO, NULL, "WIM architecture code of the image (0 x86, 9 x64, 12 ARM64)."),
        P("CreatedBy", CIM_STRING, RO, NULL, "Who created the image, when the WIM says."),
        P("CreationDate", CIM_STRING, RO, NULL, "When the image was created (UTC, yyyy-mm-dd hh:mm:ss)."),
        P("Description", CIM_STRING, RO, NULL, "Image description."),
        P("EnableLabShell", CIM_BOOLEAN, RO | LAZY, NULL, "The boot image package's EnableLabShell."),
        P("HALType", CIM_STRING, RO, NULL, "HAL type of the image."),
        P("ImageOSVersion", CIM_STRING, RO, NULL, "OS version of the image."),
        P("ImagePath", CIM_STRING, RO, NULL, "The WIM the row describes."),
        { .name = "Index", .type = CIM_UINT32, .flags = KEY, .doc = "1-based index of the image in the WIM." },
        P("Language", CIM_STRING, RO, NULL, "Default language of the image."),
        P("Name", CIM_STRING, RO, NULL, "Image name."),
        P_ENUM("ObjectType", CIM_UINT32, RO, NULL, object_type_values,
               "14 SMS_OperatingSystemInstallPackage, 18 SMS_ImagePackage, 19 SMS_BootImagePackage."),
        P("OSVersion", CIM_STRING, RO, NULL, "OS version of the image."),
        { .name = "PackageID", .type = CIM_STRING, .flags = KEY, .max_length = 8, .doc = "The package." },
        P_ENUM("PackageType", CIM_UINT32, RO, NULL, image_package_type_values, "257, 258 or 259."),
        P("ProductType", CIM_STRING, RO, NULL, "Product type of the image (WinNT, ServerNT)."),
        P("Size", CIM_SINT64, RO, NULL, "Bytes of the image's files."),
        P("Version", CIM_STRING, RO, NULL, "The package's Version."),
};

/* --- SMS_DistributionPointInfo (API.md §2) -------------------------------------------------------- */

static const uint32_t link_mode_values[] = { 0, 1, UINT32_MAX };
static const uint32_t dp_status_values[] = { 0, 1, 2, 3, UINT32_MAX };
static const uint32_t object_type_id_values[] = { 2, 14, 18, 19, 23, 24, 31, UINT32_MAX };
static const uint32_t dp_state_values[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, UINT32_MAX };

static const SmsProperty dp_info_properties[] = {
        P("ContentRoot", CIM_STRING, SMS_PROP_NOT_NULL | SMS_PROP_DP_ROOT, NULL,
          "The directory smsprovd owns on the distribution point (local disk or a mounted share)."),
        P_ENUM("ContentLinkMode", CIM_UINT32, 0, "0", link_mode_values,
               "0 the published tree hard-links the DP's own FileLib, 1 it is a copy too; either way the DP's "
               "files are copies (reflinks where possible) of the site's, never its inodes (smsprovd)."),
        P("Description", CIM_STRING, 0, NULL, "Description of the distribution point."),
        P("IsMulticast", CIM_BOOLEAN, 0, "false", "The distribution point serves multicast sessions."),
        P("IsPXE", CIM_BOOLEAN, 0, "false", "The distribution point answers PXE requests (boot images go to its "
                                             "RemoteInstall\\SMSImages store)."),
        { .name = "NALPath", .type = CIM_STRING, .flags = SMS_PROP_KEY, .max_length = 1024,
          .doc = "NAL path of the distribution point, e.g. [\"Display=\\\\dp1\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\dp1\\." },
        P("ServerName", CIM_STRING, RO, NULL, "The server, from the NAL path."),
        { .name = "SiteCode", .type = CIM_STRING, .flags = RO, .max_length = 3,
          .doc = "The distribution point's site, from the NAL path's SMS_SITE." },
};

/* --- SMS_DistributionPoint (reference §7.9) and its state (§7.10) ----------------------------------- */

#define DP_KEYS                                                                                     \
        { .name = "PackageID", .type = CIM_STRING, .flags = SMS_PROP_KEY, .max_length = 8,           \
          .doc = "The package." },                                                                  \
        { .name = "ServerNALPath", .type = CIM_STRING, .flags = SMS_PROP_KEY, .max_length = 1024,    \
          .doc = "NAL path of the distribution point." },                                          \
        { .name = "SiteCode", .type = CIM_STRING, .flags = SMS_PROP_KEY, .max_length = 3,            \
          .doc = "The distribution point's site; must match ServerNALPath." }

static const SmsProperty distribution_point_properties[] = {
        P("BitsEnabled", CIM_BOOLEAN, RO, "false", "The distribution point is BITS-enabled."),
        P("IsPeerDP", CIM_BOOLEAN, RO, "false", "Branch distribution point."),
        P("IsProtected", CIM_BOOLEAN, RO, "false", "The site system is protected."),
        P("ISVData", CIM_UINT8_ARRAY, LARGE | LAZY, NULL, "Partner extensibility bytes."),
        P("ISVDataSize", CIM_UINT32, LAZY, "0", "Size of ISVData in bytes."),
        P("ISVString", CIM_STRING, 0, NULL, "Partner extensibility string."),
        P("LastRefreshTime", CIM_DATETIME, RO, NULL, "Last update of the package on this distribution point."),
        P_ENUM("ObjectTypeID", CIM_UINT32, RO, NULL, object_type_id_values,
               "Secured object type of the package: 14 OS install, 18 OS image, 19 boot image."),
        DP_KEYS,
        P("PackageType", CIM_UINT32, RO, NULL, "The package's PackageType."),
        P("RefreshNow", CIM_BOOLEAN, SMS_PROP_WRITE_ONLY, "false",
          "Always reads false; writing true copies the current content to this distribution point again "
          "(no new SourceVersion)."),
        P("ResourceType", CIM_STRING, RO, "Windows NT Server", "Resource type of the distribution point."),
        P("SecureObjectID", CIM_STRING, RO, NULL, "The PackageID."),
        P("SiteName", CIM_STRING, 0, NULL, "Friendly name of the package's site."),
        P("SourceSite", CIM_STRING, RO, NULL, "Site code where the package originates."),
        P_ENUM("Status", CIM_UINT32, RO, "2", dp_status_values, "0 NONE, 1 UPDATED, 2 ADDED, 3 DELETED."),
};

static const SmsProperty distribution_status_properties[] = {
        P("LastCopied", CIM_DATETIME, RO, NULL, "Last successful copy to the distribution point (UTC)."),
        DP_KEYS,
        P("PackageType", CIM_UINT32, RO, NULL, "The package's PackageType."),
        P("RetryCount", CIM_UINT32, RO, "0", "Failed attempts of the current distribution (smsprovd)."),
        P("SecuredTypeID", CIM_UINT32, RO, NULL, "Secured object type of the package."),
        P("SecureObjectID", CIM_STRING, RO, NULL, "The PackageID."),
        P("SourceNALPath", CIM_STRING, RO, NULL, "Where the package's source is."),
        P("SourceVersion", CIM_UINT32, RO, "0", "The package version on this distribution point."),
        P_ENUM("State", CIM_UINT32, RO, "1", dp_state_values,
               "0 INSTALLED, 1 INSTALL_PENDING, 2 INSTALL_RETRYING, 3 INSTALL_FAILED, 4 REMOVAL_PENDING, "
               "5 REMOVAL_RETRYING, 6 REMOVAL_FAILED, 7 CONTENT_UPDATING, 8 CONTENT_MONITORING."),
        P("SummaryDate", CIM_DATETIME, RO, NULL, "Latest change of State (UTC)."),
};

/* --- SMS_OSDeploymentKitWinPEOptionalComponent (reference §7.6) ------------------------------ */

/* The reference keys this class by (UniqueID, LanguageID). smsprovd's catalog holds one language
 * (1033) per component, so UniqueID alone is unique and is the key. */
static const SmsProperty winpe_component_properties[] = {
        P("Architecture", CIM_STRING, RO, NULL, "X86, X64 or ARM64."),
        P("DependentComponentNames", CIM_STRING_ARRAY, RO, NULL, "Names of the components this one needs."),
        P("DependentIds", CIM_UINT32_ARRAY, RO, NULL, "UniqueIDs of the components this one needs."),
        P("DeploymentKitVersion", CIM_STRING, RO, NULL, "Version of the deployment kit the row belongs to."),
        P("IsRequired", CIM_BOOLEAN, RO, NULL,
          "Always added: WinPE-WMI, WinPE-Scripting, WinPE-WDS-Tools, WinPE-SecureStartup."),
        P("LanguageID", CIM_UINT32, RO, NULL, "Language (LCID) of the component; 1033."),
        P("Name", CIM_STRING, RO, NULL, "Component name, e.g. WinPE-PowerShell."),
        P("RelativePath", CIM_STRING, RO, NULL, "Path of the component tree below --adk-root."),
        P("Size", CIM_UINT64, RO, NULL, "Bytes of the component tree."),
        P("UniqueID", CIM_UINT32, KEY, NULL,
          "Component ID: reference §4.4 (x86 1-26, x64 27-52, 57/58 SecureBootCmdlets); ARM64 and "
          "unlisted components get smsprovd's IDs (documented in model/winpe-catalog.c)."),
};

/* --- SMS_Driver (SDK "SMS_Driver Server WMI Class"; the driver catalog, issue 15) --------------
 *
 * From the SDK class page: the properties below keep its names, CIM types and qualifiers, with
 * these deviations, each because the site, not the caller, decides the value: CI_ID (SDK
 * Read/Write [key]) and CI_UniqueID (SDK Read/Write [unique, not_null]) are assigned by the site;
 * ContentSourcePath (SDK Read/Write) is the site's own copy of the driver's files in its content
 * library, which a caller cannot point elsewhere; SourceSite (SDK Read/Write) is this site's code
 * (drivers have no SetSourceSite/Unlock). Writable as in the SDK: CategoryInstance_UniqueIDs,
 * IsEnabled, IsExpired, IsHidden, IsUserDefined. Left out, as nothing on Linux can derive them or
 * they belong to configuration items the site does not have: ApplicabilityCondition,
 * ConfigurationFlags, EffectiveDate, the EULA properties, ExecutionContext, IsBundle, IsDigest,
 * LocalizedCategoryInstanceNames, LocalizedEulas, LocalizedInformation, LocalizedInformativeURL,
 * ModelID, ModelName, PermittedUses, PlatformCategoryInstance_UniqueIDs, PlatformType,
 * SDMPackageLocalizedData, SDMPackageVersion. HardwareIDs, CompatibleIDs and Architectures are
 * smsprovd's: the SDK keeps them inside SDMPackageXML only, where scripts cannot query them. */

static const SmsProperty driver_properties[] = {
        P("Architectures", CIM_STRING_ARRAY, RO, NULL,
          "Platforms the INF has models for: x86, x64, arm64, ia64, arm (smsprovd; from the [Manufacturer] "
          "decorations NTx86, NTamd64, NTarm64, …)."),
        { .name = "CategoryInstance_UniqueIDs", .type = CIM_STRING_ARRAY, .max_length = 256,
          .doc = "Categories the driver is in (administrative; the site does not check them)." },
        P("CI_ID", CIM_UINT32, KEY, NULL, "Driver configuration item ID, assigned by the site, never reused."),
        P("CI_UniqueID", CIM_STRING, RO, NULL,
          "Site-wide unique ID: <SiteCode>/Driver_<SHA-256 of the INF file>; the same INF imported again finds "
          "this driver."),
        P("CIType_ID", CIM_UINT32, RO, "6", "Configuration item type: 6, driver."),
        P("CIVersion", CIM_UINT32, RO, "1", "Version of the configuration item."),
        P("CompatibleIDs", CIM_STRING_ARRAY, RO, NULL,
          "Compatible IDs of the INF's models, each once (smsprovd)."),
        P("ContentSourcePath", CIM_STRING, RO, NULL,
          "The site's copy of the driver's files (its content library): the folder the INF and the files it "
          "names are in; builds take the driver from here."),
        P("CreatedBy", CIM_STRING, RO, NULL, "Who imported the driver (uid=N)."),
        P("DateCreated", CIM_DATETIME, RO, NULL, "When the driver was imported (µs since the epoch, UTC)."),
        P("DateLastModified", CIM_DATETIME, RO, NULL, "When the driver last changed (µs since the epoch, UTC)."),
        P("DriverBootCritical", CIM_BOOLEAN, RO, "false",
          "Boot-critical mass storage driver from a txtsetup.oem file; false for INF drivers."),
        P("DriverClass", CIM_STRING, RO, NULL, "Device class from the INF's [Version] Class, e.g. Net, SCSIAdapter."),
        P("DriverDate", CIM_DATETIME, RO, NULL, "The INF's DriverVer date (µs since the epoch, UTC); 0 when absent."),
        P("DriverINFFile", CIM_STRING, RO, NULL,
          "Path of the INF file relative to ContentSourcePath."),
        P("DriverProvider", CIM_STRING, RO, NULL, "The INF's [Version] Provider."),
        P("DriverSigned", CIM_BOOLEAN, RO, "false",
          "True when the INF names a CatalogFile and that file was imported with it. The catalog's signature is "
          "not verified on Linux: this says a signed package is claimed, not that it is valid."),
        P("DriverSigner", CIM_STRING, RO, "", "Name of the signer; always empty: signatures are not read on Linux."),
        P("DriverType", CIM_STRING, RO, "INF", "Type of driver: INF."),
        P("DriverVersion", CIM_STRING, RO, NULL, "The INF's DriverVer version, e.g. 12.18.9.10."),
        P("HardwareIDs", CIM_STRING_ARRAY, RO, NULL,
          "Hardware IDs of the INF's models, each once, e.g. PCI\\VEN_8086&DEV_15B8 (smsprovd)."),
        P("IsEnabled", CIM_BOOLEAN, SMS_PROP_NOT_NULL, "true",
          "The driver may be used; a boot image references only enabled drivers."),
        P("IsExpired", CIM_BOOLEAN, SMS_PROP_NOT_NULL, "false", "The driver is retired."),
        P("IsHidden", CIM_BOOLEAN, SMS_PROP_NOT_NULL, "false", "The driver is hidden from consoles."),
        P("IsLatest", CIM_BOOLEAN, RO, "true", "This is the latest version of the configuration item."),
        P("IsQuarantined", CIM_BOOLEAN, RO, "false", "The configuration item is quarantined."),
        P("IsSuperseded", CIM_BOOLEAN, RO, "false", "Superseded by another driver."),
        P("IsUserDefined", CIM_BOOLEAN, SMS_PROP_NOT_NULL, "true", "Created by a user, not shipped with the site."),
        P("LastModifiedBy", CIM_STRING, RO, NULL, "Who changed the driver last (uid=N)."),
        P("LocalizedDescription", CIM_STRING, RO, "", "Description in the site's language."),
        P("LocalizedDisplayName", CIM_STRING, RO, NULL,
          "Display name: the INF's first device description, in [Strings] (else [Strings.0409])."),
        P("LocalizedPropertyLocaleID", CIM_UINT32, RO, "1033", "Locale of the Localized properties."),
        P("SDMPackageXML", CIM_STRING, RO | LAZY, NULL,
          "The driver's definition as SDM package XML (DisplayName, hardware IDs, platforms, files), built "
          "when read."),
        P("SecuredScopeNames", CIM_STRING_ARRAY, RO, NULL, "Security scopes of the driver."),
        P("SedoObjectVersion", CIM_STRING, RO, NULL, "Changes with every write (optimistic concurrency)."),
        { .name = "SourceSite", .type = CIM_STRING, .flags = RO, .max_length = 3,
          .doc = "The site that imported the driver." },
};

/* --- SMS_BootImagePackage_DriverRef (reference §7.2) ------------------------------------------ */

/* Read-only rows of the boot images' ReferencedDrivers (a view in the site database). */
static const SmsProperty driver_ref_properties[] = {
        P("CI_ID", CIM_SINT32, KEY, NULL, "The driver (SMS_Driver.CI_ID)."),
        { .name = "PkgID", .type = CIM_STRING, .flags = KEY, .max_length = 8, .doc = "The boot image's PackageID." },
        P("SourcePath", CIM_STRING, RO, NULL, "The entry's SourcePath (normally SMS_Driver.ContentSourcePath)."),
};

/* --- Methods (reference §4.5, §5.3, §6.2; signatures of API.md §5) ---------------------------- */

#define M(n, st, in, out, names, doc_)                                                             \
        { .name = n, .is_static = st, .in_signature = in, .out_signature = out, .arg_names = names, .doc = doc_ }

#define M_GET_IMAGE_PROPERTIES                                                                     \
        M("GetImageProperties", true, "s", "s", "SourceImagePath\0ImageProperty\0",                  \
          "Reads the metadata of every image in a WIM inside a content root as ImageProperty XML.")
#define M_RELOAD_IMAGE_PROPERTIES                                                                  \
        M("ReloadImageProperties", false, "", "", "",                                              \
          "Re-reads the source WIM and updates ImageProperty, ImageOSVersion, Architecture and "     \
          "PackageSize in one transaction.")

static const SmsMethod package_base_methods[] = {
        M("AddChangeNotification", false, "", "", "",
          "Records a change notification for the package and emits Site.ChangeNotification."),
        M("AddDistributionPoints", false, "asas", "o", "SiteCode\0NALPath\0Job\0",
          "Assigns the package to distribution points (parallel arrays) and distributes it there."),
        M("RefreshPkgSource", false, "", "o", "Job\0",
          "Re-reads the package source and moves SourceVersion on; a boot image is rebuilt first."),
        M("SetSourceSite", false, "s", "", "SourceSite\0",
          "Sets the site code of the package's owning site."),
        M("Unlock", false, "", "", "", "Makes the local site the package's owning site."),
};

static const SmsMethod boot_image_methods[] = {
        M_RELOAD_IMAGE_PROPERTIES,
        M("UpdateDefaultImage", false, "", "o", "Job\0",
          "Rebuilds the boot image from the WIM at ImagePath with the OSD files added."),
        M("UpdateImage", false, "", "o", "Job\0",
          "Rebuilds the boot image with the current OSD binaries and the package's settings."),
        M("UpdateOptionalComponents", false, "as", "o", "ComponentIds\0Job\0",
          "Sets OptionalComponents (IDs from SMS_OSDeploymentKitWinPEOptionalComponent) and rebuilds."),
        M_GET_IMAGE_PROPERTIES,
        M("ExportDefaultBootImage", true, "sus", "o", "Architecture\0ImageIndex\0ExportImagePath\0Job\0",
          "Exports an image of the deployment kit's winpe.wim, with the always-added optional components, "
          "to a path inside a content root. One at a time."),
        M("QueryOSDBinaryInjectionStatus", true, "s", "uuusis",
          "ContextID\0Status\0Progress\0MaxProgress\0ProgressText\0ErrorCode\0ExtendedErrorInfo\0",
          "The status queue of a ContextID: Status 0 complete, 1 in progress, 2 error, 3 no status."),
        M("DeleteContextID", true, "s", "", "ContextID\0", "Deletes the status queue of a ContextID."),
};

static const SmsMethod image_package_methods[] = {
        M_RELOAD_IMAGE_PROPERTIES,
        M_GET_IMAGE_PROPERTIES,
};

SmsClass sms_class_package_base = {
        .name = "SMS_PackageBaseclass",
        .abstract = true,
        .managed = true,
        .doc = "Abstract base of the package classes; queries on it return every package.",
        .properties = package_base_properties,
        .n_properties = ELEMENTSOF(package_base_properties),
        .methods = package_base_methods,
        .n_methods = ELEMENTSOF(package_base_methods),
        .table = "package",
        .discriminator = "PackageType",
        .key_kind = SMS_KEY_PACKAGE_ID,
};

SmsClass sms_class_boot_image_package = {
        .name = "SMS_BootImagePackage",
        .parent = &sms_class_package_base,
        .doc = "A Windows PE boot image, built from ImagePath with the OSD files added.",
        .properties = boot_image_properties,
        .n_properties = ELEMENTSOF(boot_image_properties),
        .methods = boot_image_methods,
        .n_methods = ELEMENTSOF(boot_image_methods),
        .discriminator_value = 258,
        .key_kind = SMS_KEY_PACKAGE_ID,
};

SmsClass sms_class_image_package = {
        .name = "SMS_ImagePackage",
        .parent = &sms_class_package_base,
        .doc = "An operating system image (WIM) applied to computers.",
        .properties = image_package_properties,
        .n_properties = ELEMENTSOF(image_package_properties),
        .create_parameters = image_package_create_parameters,
        .n_create_parameters = ELEMENTSOF(image_package_create_parameters),
        .methods = image_package_methods,
        .n_methods = ELEMENTSOF(image_package_methods),
        .discriminator_value = 257,
        .key_kind = SMS_KEY_PACKAGE_ID,
};

SmsClass sms_class_os_install_package = {
        .name = "SMS_OperatingSystemInstallPackage",
        .parent = &sms_class_package_base,
        .doc = "Operating system setup source files (an OS upgrade package).",
        .properties = os_install_properties,
        .n_properties = ELEMENTSOF(os_install_properties),
        .methods = image_package_methods,
        .n_methods = ELEMENTSOF(image_package_methods),
        .discriminator_value = 259,
        .key_kind = SMS_KEY_PACKAGE_ID,
};

SmsClass sms_class_status_message = {
        .name = "SMS_StatusMessage",
        .read_only = true,
        /* One row per change, forever: listing them in GetManagedObjects would grow its reply
         * past the bus's message size limit. Query them with ExecQuery instead. */
        .unlisted = true,
        .doc = "Audit and status messages: every create, modify and delete, and job outcomes.",
        .properties = status_message_properties,
        .n_properties = ELEMENTSOF(status_message_properties),
        .table = "status_message",
        .key_kind = SMS_KEY_ROWID,
};

static const SmsMethod distribution_point_methods[] = {
        M("VerifyPackage", true, "ss", "o", "PackageId\0NALPath\0Job\0",
          "Recomputes the hash of every file of the package on that distribution point; the job reports "
          "the files that differ."),
        M("CancelDistribution", true, "ss", "", "PackageId\0NALPath\0",
          "Stops a running distribution of the package to that distribution point (state INSTALL_FAILED)."),
};

static const SmsMethod schedule_methods[] = {
        M("ReadFromString", true, "s", "a(sa{sv})", "StringData\0TokenData\0",
          "Decodes an SMS interval string (16 hexadecimal digits per token) into schedule tokens."),
        M("WriteToString", true, "a(sa{sv})", "s", "TokenData\0StringData\0",
          "Encodes schedule tokens as an SMS interval string."),
};

static const SmsMethod driver_methods[] = {
        M("CreateFromINF", true, "ss", "o", "DriverPath\0INFFile\0Driver\0",
          "Imports the driver an INF file describes: DriverPath is its folder inside a content root, INFFile the "
          "INF's path relative to it. The INF, its catalog and the files its [SourceDisksFiles] name are copied "
          "into the site's content library; returns the new SMS_Driver, or the existing one when the same INF "
          "was imported before. Errors: InvalidParameter (a bad INF, naming the line; a file it names missing), "
          "PathNotAllowed."),
};

SmsClass sms_class_driver = {
        .name = "SMS_Driver",
        .managed = false, /* a catalog class: a row class (API.md §1) */
        .doc = "The driver catalog: Windows drivers imported from INF files (CreateFromINF).",
        .properties = driver_properties,
        .n_properties = ELEMENTSOF(driver_properties),
        .methods = driver_methods,
        .n_methods = ELEMENTSOF(driver_methods),
        .table = "driver",
        .key_kind = SMS_KEY_ROWID,
};

SmsClass sms_class_driver_ref = {
        .name = "SMS_BootImagePackage_DriverRef",
        .read_only = true,
        .doc = "The drivers each boot image references (its ReferencedDrivers), one row per entry.",
        .properties = driver_ref_properties,
        .n_properties = ELEMENTSOF(driver_ref_properties),
        .table = "boot_image_driver_ref",
        .key_kind = SMS_KEY_CALLER,
};

SmsClass sms_class_schedule_methods = {
        .name = "SMS_ScheduleMethods",
        .abstract = true,
        .read_only = true,
        .methods_only = true,
        .doc = "Conversions between schedule tokens and SMS interval strings (reference §7.3).",
        .methods = schedule_methods,
        .n_methods = ELEMENTSOF(schedule_methods),
};

SmsClass sms_class_dp_info = {
        .name = "SMS_DistributionPointInfo",
        .managed = true,
        .doc = "The site's distribution points.",
        .properties = dp_info_properties,
        .n_properties = ELEMENTSOF(dp_info_properties),
        .table = "distribution_point_info",
        .key_kind = SMS_KEY_CALLER,
};

SmsClass sms_class_distribution_point = {
        .name = "SMS_DistributionPoint",
        .doc = "A package assigned to a distribution point; creating one distributes the package there, "
               "deleting one removes it.",
        .properties = distribution_point_properties,
        .n_properties = ELEMENTSOF(distribution_point_properties),
        .methods = distribution_point_methods,
        .n_methods = ELEMENTSOF(distribution_point_methods),
        .table = "distribution",
        .key_kind = SMS_KEY_CALLER,
};

SmsClass sms_class_distribution_status = {
        .name = "SMS_PackageStatusDistPointsSummarizer",
        .read_only = true,
        .doc = "The state of each package on each distribution point.",
        .properties = distribution_status_properties,
        .n_properties = ELEMENTSOF(distribution_status_properties),
        .table = "distribution",
        .key_kind = SMS_KEY_CALLER,
};

SmsClass sms_class_image_information = {
        .name = "SMS_ImageInformation",
        .read_only = true,
        .doc = "One row per image of a package's WIM: what the image is.",
        .properties = image_information_properties,
        .n_properties = ELEMENTSOF(image_information_properties),
        .table = "image_information",
        .key_kind = SMS_KEY_CALLER,
};

SmsClass sms_class_winpe_optional_component = {
        .name = "SMS_OSDeploymentKitWinPEOptionalComponent",
        .read_only = true,
        .doc = "The Windows PE optional components found in the deployment kit (--adk-root).",
        .properties = winpe_component_properties,
        .n_properties = ELEMENTSOF(winpe_component_properties),
        .table = "winpe_optional_component",
        .key_kind = SMS_KEY_CALLER,
};

/* Parents before children. */
SmsClass *const sms_model_class_table[] = {
        &sms_class_package_base,
        &sms_class_boot_image_package,
        &sms_class_image_package,
        &sms_class_os_install_package,
        &sms_class_status_message,
        &sms_class_image_information,
        &sms_class_winpe_optional_component,
        &sms_class_dp_info,
        &sms_class_distribution_point,
        &sms_class_distribution_status,
        &sms_class_provider_location,
        &sms_class_system_resource_list,
        &sms_class_schedule_methods,
        &sms_class_driver,
        &sms_class_driver_ref,
        NULL,
};
