/* SPDX-License-Identifier: MIT */

/* What a boot image's configuration puts into the image. Microsoft does not publish the layout
 * ConfigMgr uses; this one follows what third parties see in ConfigMgr boot images (reference §8.2)
 * and is smsprovd's own where nothing is known. <arch> is the OSD folder name: i386, x64, arm64.
 *
 *   component trees          → \ (merged at the image root, in the order given; first, so that
 *                              everything below wins over a file a component brings)
 *   <osd_bin_root>\<arch>\   → \sms\bin\<arch>\            (must exist: InvalidParameter)
 *   PreExecSourceDirectory   → \sms\PKG\SMS10000\
 *   BackgroundBitmapPath     → \Windows\System32\winpe.bmp
 *   driver <ID>              → \sms\drivers\<ID>\          (the driver's folder; for an .inf file,
 *                              the folder holding it, since an .inf names .sys and .cat files
 *                              beside it)
 *   generated                  \Windows\System32\winpeshl.ini   starts LoadDrivers.cmd (when
 *                                                               there are drivers), then TsBootShell
 *                              \sms\bin\<arch>\LoadDrivers.cmd  drvload of every .inf under
 *                                                               \sms\drivers (when there are drivers)
 *                              \sms\bin\<arch>\TsBootShell.ini  EnableDebugShell = EnableLabShell
 *                              \sms\data\TsmBootstrap.ini       the prestart command (when set)
 *   ScratchSpace             → the SYSTEM hive, by imaging_build()
 *
 * Drivers are loaded at start with drvload rather than injected into the driver store: that needs
 * the Windows servicing stack (ARCHITECTURE.md). All generated texts use CRLF line ends. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "imaging/imaging-internal.h"

typedef struct PlanBuilder {
        BootImagePlan plan;
        size_t max_adds, max_files, max_owned;
} PlanBuilder;

static bool is_set(const char *s) {
        return s && *s;
}

/* Keeps `s` (already allocated) in the plan and returns it, or NULL when out of memory. */
static const char *keep(PlanBuilder *p, char *s) {
        if (!s)
                return NULL;
        assert(p->plan.n_owned < p->max_owned);
        p->plan.owned[p->plan.n_owned++] = s;
        return s;
}

static const char *keepf(PlanBuilder *p, const char *fmt, ...) _printf_(2, 3);
static const char *keepf(PlanBuilder *p, const char *fmt, ...) {
        char *s;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return keep(p, r < 0 ? NULL : s);
}

static int add(PlanBuilder *p, const char *source, const char *target) {
        const char *s = keep(p, strdup(source));

        if (!s || !target)
                return -ENOMEM;
        assert(p->plan.n_adds < p->max_adds);
        p->plan.adds[p->plan.n_adds++] = (ImagingAdd) { .source = s, .target = target };
        return 0;
}

static int file(PlanBuilder *p, const char *target, const char *text) {
        if (!target || !text)
                return -ENOMEM;
        assert(p->plan.n_files < p->max_files);
        p->plan.files[p->plan.n_files++] = (ImagingFile) {
                .target = target,
                .data = text,
                .size = strlen(text),
        };
        return 0;
}

static int need_dir(const char *path, const char *what, SmsError *e) {
        struct stat st;

        if (stat(path, &st) < 0)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s %s: %s", what, path,
                                     strerror(errno));
        if (!S_ISDIR(st.st_mode))
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s %s is not a directory", what, path);
        return 0;
}

/* A driver's source is its folder or its .inf file; either way the folder goes in. */
static int driver_folder(PlanBuilder *p, const BootImageDriver *d, const char **ret, SmsError *e) {
        struct stat st;
        size_t n;
        char *copy;

        if (!is_set(d->source))
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "driver %u has no source", d->id);
        if (stat(d->source, &st) < 0)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "driver %u source %s: %s",
                                     d->id, d->source, strerror(errno));
        if (S_ISDIR(st.st_mode)) {
                *ret = d->source;
                return 0;
        }
        n = strlen(d->source);
        if (!S_ISREG(st.st_mode) || n < 4 || strcasecmp(d->source + n - 4, ".inf") != 0)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                     "driver %u source %s is neither a folder nor an .inf file", d->id,
                                     d->source);
        copy = (char *) keep(p, strdup(d->source));
        if (!copy)
                return -ENOMEM;
        *ret = dirname(copy);
        return 0;
}

static int plan_build(PlanBuilder *p, const BootImageConfig *c, SmsError *e) {
        const char *arch, *osd_dir, *folder = NULL, *text;
        struct stat st;
        int r;

        arch = imaging_osd_arch_dir(c->architecture);
        if (!arch)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                     "no OSD binaries exist for architecture %s",
                                     c->architecture ?: "(none)");
        if (!is_set(c->osd_bin_root))
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                     "the OSD binaries folder is not configured");
        osd_dir = keepf(p, "%s/%s", c->osd_bin_root, arch);
        if (!osd_dir)
                return -ENOMEM;
        r = need_dir(osd_dir, "the OSD binaries folder", e);
        if (r < 0)
                return r;
        if (is_set(c->pre_exec_command_line) && strpbrk(c->pre_exec_command_line, "\r\n"))
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "PreExecCommandLine must be one line");
        if (is_set(c->pre_exec_source_directory)) {
                r = need_dir(c->pre_exec_source_directory, "PreExecSourceDirectory", e);
                if (r < 0)
                        return r;
        }
        if (is_set(c->background_bitmap_path)) {
                if (stat(c->background_bitmap_path, &st) < 0)
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "BackgroundBitmapPath %s: %s",
                                             c->background_bitmap_path, strerror(errno));
                if (!S_ISREG(st.st_mode))
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                             "BackgroundBitmapPath %s is not a file",
                                             c->background_bitmap_path);
        }

        for (size_t i = 0; i < c->n_components; i++) {
                if (!is_set(c->component_dirs[i]))
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                             "optional component %zu has no folder", i);
                r = add(p, c->component_dirs[i], "\\");
                if (r < 0)
                        return r;
        }
        r = add(p, osd_dir, keepf(p, "\\sms\\bin\\%s", arch));
        if (r < 0)
                return r;
        if (is_set(c->pre_exec_source_directory)) {
                r = add(p, c->pre_exec_source_directory, "\\sms\\PKG\\SMS10000");
                if (r < 0)
                        return r;
        }
        if (is_set(c->background_bitmap_path)) {
                r = add(p, c->background_bitmap_path, "\\Windows\\System32\\winpe.bmp");
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < c->n_drivers; i++) {
                r = driver_folder(p, &c->drivers[i], &folder, e);
                if (r < 0)
                        return r;
                r = add(p, folder, keepf(p, "\\sms\\drivers\\%" PRIu32, c->drivers[i].id));
                if (r < 0)
                        return r;
        }

        text = c->n_drivers > 0
                ? keepf(p, "[LaunchApps]\r\n"
                           "%%SYSTEMDRIVE%%\\sms\\bin\\%s\\LoadDrivers.cmd\r\n"
                           "%%SYSTEMDRIVE%%\\sms\\bin\\%s\\TsBootShell.exe\r\n", arch, arch)
                : keepf(p, "[LaunchApps]\r\n"
                           "%%SYSTEMDRIVE%%\\sms\\bin\\%s\\TsBootShell.exe\r\n", arch);
        r = file(p, "\\Windows\\System32\\winpeshl.ini", text);
        if (r < 0)
                return r;
        if (c->n_drivers > 0) {
                r = file(p, keepf(p, "\\sms\\bin\\%s\\LoadDrivers.cmd", arch),
                         "@echo off\r\n"
                         "for /r %SYSTEMDRIVE%\\sms\\drivers %%i in (*.inf) do drvload \"%%i\"\r\n");
                if (r < 0)
                        return r;
        }
        r = file(p, keepf(p, "\\sms\\bin\\%s\\TsBootShell.ini", arch),
                 keepf(p, "[Shell]\r\n"
                          "EnableDebugShell=%s\r\n"
                          "Run=%%SYSTEMDRIVE%%\\sms\\bin\\%s\\TsmBootstrap.exe"
                          " /env:WinPE /configpath:%%CONFIGPATH%%\r\n",
                       c->enable_lab_shell ? "true" : "false", arch));
        if (r < 0)
                return r;
        if (is_set(c->pre_exec_command_line)) {
                /* A working directory that does not exist makes the start fail: name it only when
                 * the prestart files are there. */
                text = is_set(c->pre_exec_source_directory)
                        ? keepf(p, "[MediaInfo]\r\n"
                                   "PrestartCommandLine=%s\r\n"
                                   "PrestartDirectory=%%SYSTEMDRIVE%%\\sms\\PKG\\SMS10000\r\n",
                                c->pre_exec_command_line)
                        : keepf(p, "[MediaInfo]\r\n"
                                   "PrestartCommandLine=%s\r\n", c->pre_exec_command_line);
                r = file(p, "\\sms\\data\\TsmBootstrap.ini", text);
                if (r < 0)
                        return r;
        }
        p->plan.scratch_space_mb = c->scratch_space_mb;
        return 0;
}

void boot_image_plan_done(BootImagePlan *plan) {
        if (!plan)
                return;
        for (size_t i = 0; i < plan->n_owned; i++)
                free(plan->owned[i]);
        free(plan->owned);
        free(plan->adds);
        free(plan->files);
        *plan = (BootImagePlan) {};
}

static void plan_builder_done(PlanBuilder *p) {
        boot_image_plan_done(&p->plan);
}

int boot_image_plan(const BootImageConfig *config, BootImagePlan *ret, SmsError *e) {
        _cleanup_(plan_builder_done) PlanBuilder p = {};
        int r;

        assert(config);
        assert(ret);

        if (config->n_components > 0 && !config->component_dirs)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "optional component folders missing");
        if (config->n_drivers > 0 && !config->drivers)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "drivers missing");

        /* Every add and file is counted here, so the arrays never grow. */
        p.max_adds = config->n_components + config->n_drivers + 3;
        p.max_files = 4;
        p.max_owned = 2 * p.max_adds + 2 * p.max_files + config->n_drivers + 1;
        p.plan.adds = calloc(p.max_adds, sizeof *p.plan.adds);
        p.plan.files = calloc(p.max_files, sizeof *p.plan.files);
        p.plan.owned = calloc(p.max_owned, sizeof *p.plan.owned);
        if (!p.plan.adds || !p.plan.files || !p.plan.owned)
                return sms_error_set(e, SMS_ERROR_FAILED, "out of memory");

        r = plan_build(&p, config, e);
        if (r == -ENOMEM)
                return sms_error_set(e, SMS_ERROR_FAILED, "out of memory planning the boot image");
        if (r < 0)
                return r;
        *ret = p.plan;
        p.plan = (BootImagePlan) {};
        return 0;
}
