/* SPDX-License-Identifier: MIT */

/* Reading WIM metadata with wimlib, wimlib's process-wide setup and error mapping, and the
 * architecture names. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>

#include "imaging/imaging-internal.h"
#include "smsprov/cim.h"

static pthread_once_t wimlib_once = PTHREAD_ONCE_INIT;

static void wimlib_init_once(void) {
        wimlib_set_print_errors(false);
        /* Cannot fail on Linux: the flags that can (privileges) are Windows-only. Should it ever,
         * wimlib initialises itself with its defaults on the next call and only path case
         * sensitivity differs. */
        (void) wimlib_global_init(WIMLIB_INIT_FLAG_DEFAULT_CASE_INSENSITIVE);
}

void imaging_wimlib_init(void) {
        (void) pthread_once(&wimlib_once, wimlib_init_once);
}

int imaging_wimlib_error(SmsError *e, int code, const char *fmt, ...) {
        /* Taken first: formatting the message may clobber errno. */
        int saved_errno = errno;
        _cleanup_free_ char *what = NULL;
        SmsErrorCode c = SMS_ERROR_IMAGE_ERROR;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&what, fmt, ap);
        va_end(ap);
        if (r < 0)
                what = NULL;

        switch (code) {
        case WIMLIB_ERR_ABORTED_BY_PROGRESS:
                return sms_error_set(e, SMS_ERROR_CANCELED, "%s: canceled", what ?: "wimlib");
        case WIMLIB_ERR_NOMEM:
                c = SMS_ERROR_FAILED;
                break;
        case WIMLIB_ERR_NO_FILENAME:
                /* We open the checked inode as /proc/self/fd/N, and wimlib wants a name it can
                 * realpath(): there is none once the file was deleted or replaced by rename. */
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                     "%s: the file was replaced or deleted while it was being read", what ?: "wimlib");
        case WIMLIB_ERR_WRITE:
        case WIMLIB_ERR_MKDIR:
        case WIMLIB_ERR_OPEN:
        case WIMLIB_ERR_RENAME:
                /* wimlib reports I/O failures with errno still set by the failed call. */
                if (saved_errno == ENOSPC || saved_errno == EDQUOT)
                        return sms_error_set(e, SMS_ERROR_OUT_OF_DISK_SPACE, "%s: wimlib: %s (error %d): %s",
                                             what ?: "wimlib", wimlib_get_error_string(code), code,
                                             strerror(saved_errno));
                break;
        default:
                break;
        }
        return sms_error_set(e, c, "%s: wimlib: %s (error %d)", what ?: "wimlib",
                             wimlib_get_error_string(code), code);
}

/* A property as a sanitised copy; "" when the image does not have it. */
static char *property(WIMStruct *wim, unsigned index, const char *name) {
        const char *v = wimlib_get_image_property(wim, (int) index, name);
        return utf8_sanitize(v ?: "");
}

static char *os_version(WIMStruct *wim, unsigned index) {
        const char *major = wimlib_get_image_property(wim, (int) index, "WINDOWS/VERSION/MAJOR");
        _cleanup_free_ char *minor = NULL, *build = NULL, *spbuild = NULL, *joined = NULL;

        if (!major || !*major)
                return strdup("");
        minor = property(wim, index, "WINDOWS/VERSION/MINOR");
        build = property(wim, index, "WINDOWS/VERSION/BUILD");
        spbuild = property(wim, index, "WINDOWS/VERSION/SPBUILD");
        if (!minor || !build || !spbuild)
                return NULL;
        /* wimlib's strings stay valid only until its next call: major is re-read here. */
        major = wimlib_get_image_property(wim, (int) index, "WINDOWS/VERSION/MAJOR");
        if (asprintf(&joined, "%s.%s.%s.%s", major ?: "0", *minor ? minor : "0", *build ? build : "0",
                     *spbuild ? spbuild : "0") < 0)
                return NULL;
        return utf8_sanitize(joined);
}

static bool parse_u64(const char *s, int base, uint64_t *ret) {
        char *end;
        unsigned long long v;

        if (!s || !*s || *s == '-')
                return false;
        errno = 0;
        v = strtoull(s, &end, base);
        if (errno != 0 || *end != 0)
                return false;
        *ret = v;
        return true;
}

/* CREATIONTIME is a FILETIME (100 ns since 1601-01-01 UTC) split into hex HIGHPART/LOWPART. */
static char *creation_date(WIMStruct *wim, unsigned index) {
        const int64_t filetime_unix_offset = INT64_C(11644473600);
        uint64_t high, low, filetime;
        struct tm tm;
        time_t t;
        char buf[32];

        if (!parse_u64(wimlib_get_image_property(wim, (int) index, "CREATIONTIME/HIGHPART"), 16, &high) ||
            !parse_u64(wimlib_get_image_property(wim, (int) index, "CREATIONTIME/LOWPART"), 16, &low) ||
            high > UINT32_MAX || low > UINT32_MAX)
                return strdup("");
        filetime = high << 32 | low;
        t = (time_t) ((int64_t) (filetime / 10000000) - filetime_unix_offset);
        /* A FILETIME reaches the year 60056: beyond 9999 it is no "YYYY-MM-DD" date, so none. */
        if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 ||
            strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                return strdup("");
        return strdup(buf);
}

void image_info_done(ImageInfo *info) {
        if (!info)
                return;
        free(info->name);
        free(info->description);
        free(info->architecture);
        free(info->language);
        free(info->os_version);
        free(info->product_type);
        free(info->hal);
        free(info->system_root);
        free(info->edition_id);
        free(info->created_by);
        free(info->creation_date);
        *info = (ImageInfo) {};
}

int image_info_read(WIMStruct *wim, unsigned index, ImageInfo *ret, SmsError *e) {
        _cleanup_(image_info_done) ImageInfo info = { .index = index };
        uint64_t total;

        info.name = property(wim, index, "NAME");
        info.description = property(wim, index, "DESCRIPTION");
        info.architecture = property(wim, index, "WINDOWS/ARCH");
        info.language = property(wim, index, "WINDOWS/LANGUAGES/DEFAULT");
        info.os_version = os_version(wim, index);
        info.product_type = property(wim, index, "WINDOWS/PRODUCTTYPE");
        info.hal = property(wim, index, "WINDOWS/HAL");
        info.system_root = property(wim, index, "WINDOWS/SYSTEMROOT");
        info.edition_id = property(wim, index, "WINDOWS/EDITIONID");
        info.created_by = strdup(""); /* a WIM does not record it */
        info.creation_date = creation_date(wim, index);
        if (parse_u64(wimlib_get_image_property(wim, (int) index, "TOTALBYTES"), 10, &total))
                info.total_bytes = total;
        if (!info.name || !info.description || !info.architecture || !info.language || !info.os_version ||
            !info.product_type || !info.hal || !info.system_root || !info.edition_id || !info.created_by ||
            !info.creation_date)
                return sms_error_set(e, SMS_ERROR_FAILED, "out of memory reading image %u", index);
        *ret = info;
        info = (ImageInfo) {};
        return 0;
}

void wim_info_done(WimInfo *info) {
        if (!info)
                return;
        for (size_t i = 0; i < info->n_images; i++)
                image_info_done(&info->images[i]);
        free(info->images);
        *info = (WimInfo) {};
}

int imaging_read_info(const char *wim_path, WimInfo *ret, SmsError *e) {
        _cleanup_(wimlib_freep) WIMStruct *wim = NULL;
        _cleanup_(wim_info_done) WimInfo info = {};
        struct wimlib_wim_info wi;
        int r;

        assert(wim_path);
        assert(ret);

        imaging_wimlib_init();
        r = wimlib_open_wim(wim_path, 0, &wim);
        if (r != 0)
                return imaging_wimlib_error(e, r, "cannot open %s as a WIM", wim_path);
        r = wimlib_get_wim_info(wim, &wi);
        if (r != 0)
                return imaging_wimlib_error(e, r, "cannot read the header of %s", wim_path);

        info.compression_type = (uint32_t) wi.compression_type;
        if (wi.image_count > 0) {
                info.images = calloc(wi.image_count, sizeof *info.images);
                if (!info.images)
                        return sms_error_set(e, SMS_ERROR_FAILED, "out of memory reading %s", wim_path);
        }
        for (unsigned i = 1; i <= wi.image_count; i++) {
                r = image_info_read(wim, i, &info.images[i - 1], e);
                if (r < 0)
                        return r;
                info.n_images = i;
        }
        *ret = info;
        info = (WimInfo) {};
        return 0;
}

/* --- architectures --------------------------------------------------------------------------- */

/* WINDOWS/ARCH codes are PROCESSOR_ARCHITECTURE_* values. */
static const struct {
        const char *code;
        const char *osd_dir; /* the site's OSD\bin\<dir> */
        const char *adk_dir; /* the ADK's Windows Preinstallation Environment\<dir> */
        const char *names[3];
} arch_table[] = {
        { "0",  "i386",  "x86",   { "x86", "i386" } },
        { "5",  NULL,    NULL,    { "arm" } },
        { "6",  NULL,    NULL,    { "ia64" } },
        { "9",  "x64",   "amd64", { "x64", "amd64" } },
        { "12", "arm64", "arm64", { "arm64" } },
};

static int arch_find(const char *code) {
        if (!code)
                return -1;
        for (size_t i = 0; i < ELEMENTSOF(arch_table); i++)
                if (streq(arch_table[i].code, code))
                        return (int) i;
        return -1;
}

const char *imaging_osd_arch_dir(const char *architecture) {
        int i = arch_find(architecture);
        return i < 0 ? NULL : arch_table[i].osd_dir;
}

const char *imaging_adk_arch_dir(const char *architecture) {
        int i = arch_find(architecture);
        return i < 0 ? NULL : arch_table[i].adk_dir;
}

const char *imaging_architecture_code(const char *name_or_code) {
        int i = arch_find(name_or_code);

        if (i >= 0)
                return arch_table[i].code;
        if (!name_or_code)
                return NULL;
        /* Names compare case-insensitively: Windows writes "AMD64", admins write "x64". */
        for (size_t k = 0; k < ELEMENTSOF(arch_table); k++)
                for (size_t n = 0; n < ELEMENTSOF(arch_table[k].names) && arch_table[k].names[n]; n++)
                        if (strcasecmp(arch_table[k].names[n], name_or_code) == 0)
                                return arch_table[k].code;
        return NULL;
}
