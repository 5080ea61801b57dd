/* SPDX-License-Identifier: MIT */

/* The driver catalog commands: driver import, list, show, delete. The API has no method for a
 * folder of drivers (API.md is fixed), so `driver import DIR` walks the folder here and calls
 * SMS_Driver.CreateFromINF once per INF file, each with the INF's own folder as DriverPath. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl/ctl-bus.h"
#include "ctl/ctl-driver.h"
#include "ctl/ctl-generic.h"
#include "ctl/ctl-output.h"
#include "ctl/ctl-value.h"

#define DRIVER_CLASS "SMS_Driver"
#define WALK_DEPTH_MAX 32
#define WALK_FILES_MAX 100000

static int compare_paths(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static bool is_inf(const char *name) {
        size_t n = strlen(name);
        return n > 4 && strcasecmp(name + n - 4, ".inf") == 0;
}

/* Every .inf file below `dir`, symlinks not followed. */
static int walk(const char *dir, unsigned depth, StrList *l) {
        DIR *d;
        int r = 0;

        if (depth > WALK_DEPTH_MAX)
                return ctl_errorf(CTL_EXIT_FAILED, CTL_ERROR_FAILED, "%s: folders nested too deep", dir);
        d = opendir(dir);
        if (!d)
                return ctl_errorf(CTL_EXIT_FAILED, CTL_ERROR_FAILED, "%s: %s", dir, strerror(errno));
        for (struct dirent *de; r >= 0 && (de = readdir(d));) {
                _cleanup_free_ char *path = NULL;
                struct stat st;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
                        r = ctl_oom();
                        break;
                }
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISDIR(st.st_mode))
                        r = walk(path, depth + 1, l);
                else if (S_ISREG(st.st_mode) && is_inf(de->d_name))
                        r = l->n >= WALK_FILES_MAX ? ctl_errorf(CTL_EXIT_FAILED, CTL_ERROR_FAILED,
                                                                "more than %u INF files below %s", WALK_FILES_MAX, dir)
                                                   : strlist_add_take(l, TAKE_PTR(path));
        }
        closedir(d);
        return r;
}

/* CreateFromINF of one INF file (absolute path); prints "CI_ID<TAB>INF" or adds to `out`. */
static int import_one(Ctl *c, const char *inf, json_object *out) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *dir = strdup(inf), *class_path = ctl_class_object(DRIVER_CLASS),
                            *iface = ctl_static_interface(DRIVER_CLASS);
        const char *driver, *id;
        char *slash;
        int r;

        if (!dir || !class_path || !iface)
                return ctl_oom();
        slash = strrchr(dir, '/');
        *slash = 0;
        r = ctl_call(c, class_path, iface, "CreateFromINF", &reply, "ss", *dir ? dir : "/", slash + 1);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "o", &driver);
        if (r < 0)
                return ctl_bus_error(NULL, r);
        id = strrchr(driver, '/') + 1;
        if (out) {
                json_object *o = json_object_new_object();
                if (!o || json_object_array_add(out, o) < 0) {
                        json_object_put(o);
                        return ctl_oom();
                }
                return json_add(o, "INF", json_object_new_string(inf)) < 0 ||
                                       json_add(o, "CI_ID", json_object_new_int64(strtoll(id, NULL, 10))) < 0
                               ? ctl_oom()
                               : 0;
        }
        printf("%s\t%s\n", id, inf);
        return 0;
}

int verb_driver_import(Ctl *c, int argc, char **argv) {
        _cleanup_(strlist_done) StrList l = {};
        _cleanup_(json_object_putp) json_object *out = c->json ? json_object_new_array() : NULL;
        _cleanup_free_ char *path = ctl_absolute_path(argv[1]);
        struct stat st;
        size_t failed = 0;
        int r, last = 0;

        if (!path || (c->json && !out))
                return ctl_oom();
        if (stat(path, &st) < 0)
                return ctl_errorf(CTL_EXIT_NOT_FOUND, CTL_ERROR_NOT_FOUND, "%s: %s", argv[1], strerror(errno));
        if (S_ISDIR(st.st_mode)) {
                r = walk(path, 0, &l);
                if (r < 0)
                        return r;
                if (l.n == 0)
                        return ctl_errorf(CTL_EXIT_NOT_FOUND, CTL_ERROR_NOT_FOUND, "no .inf file below %s", argv[1]);
                qsort(l.l, l.n, sizeof(char *), compare_paths);
        } else if (is_inf(path)) {
                r = strlist_add_take(&l, strdup(path));
                if (r < 0)
                        return r;
        } else
                return ctl_usage("%s is neither a folder nor an .inf file", argv[1]);

        /* Every INF is tried; one that fails is reported and the rest go on. */
        for (size_t i = 0; i < l.n; i++) {
                r = import_one(c, l.l[i], out);
                if (r < 0) {
                        failed++;
                        last = r;
                }
        }
        if (failed > 0 && l.n > 1)
                fprintf(stderr, "smsctl: %zu of %zu INF files were not imported\n", failed, l.n);
        if (out) {
                r = ctl_json_print(c, TAKE_PTR(out));
                if (r < 0)
                        return r;
        }
        return last;
}

/* Appends "AND <property> = <literal>" (for arrays WQL's "any element equals"). */
static int where_add(char **where, const char *property, const char *value) {
        _cleanup_free_ char *literal = NULL;
        char *grown;

        if (!value)
                return 0;
        literal = ctl_wql_quote(value);
        if (!literal || asprintf(&grown, "%s%s%s = %s", *where ? *where : "", *where ? " AND " : "", property,
                                 literal) < 0)
                return ctl_oom();
        free(*where);
        *where = grown;
        return 0;
}

int verb_driver_list(Ctl *c, int argc, char **argv) {
        _cleanup_free_ char *where = c->where ? strdup(c->where) : NULL;
        int r;

        if (c->where && !where)
                return ctl_oom();
        if (where) {
                char *wrapped;
                if (asprintf(&wrapped, "(%s)", where) < 0)
                        return ctl_oom();
                free(where);
                where = wrapped;
        }
        r = where_add(&where, "DriverClass", c->driver_class);
        if (r >= 0)
                r = where_add(&where, "Architectures", c->architecture);
        if (r >= 0)
                r = where_add(&where, "HardwareIDs", c->hardware_id);
        if (r < 0)
                return r;
        return ctl_list(c, DRIVER_CLASS, where);
}

int verb_driver_show(Ctl *c, int argc, char **argv) {
        char *args[] = { argv[0], (char *) DRIVER_CLASS, argv[1], NULL };
        return verb_show(c, 3, args);
}
