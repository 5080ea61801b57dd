/* SPDX-License-Identifier: MIT */

/* The driver catalog (site-drivers.h): imports from INF files, and the rules boot images follow
 * when they reference drivers. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smsprov/content.h"
#include "smsprov/inf.h"
#include "smsprov/macro.h"
#include "smsprov/site-drivers.h"
#include "smsprov/utf8.h"
#include "util/time-util.h"
#include "util/tree-copy.h"

#define INF_FILE_MAX 1024u
/* Status message: referenced drivers that Windows PE does not load at start. */
#define MESSAGE_DRIVER_CLASS_NOTE 2310u

struct DriverImport {
        Site *site; /* counts it while it lives (driver-collect.c) */
        ContentRoots roots;
        char *library_dir, *site_code;
        char *driver_path, *inf_file; /* inf_file with '/' separators */
        SiteCaller caller;
        /* the work's results */
        InfDriver *inf;
        char hash[CONTENT_HASH_HEX + 1];
        char *content_path;
        bool catalog_present;
};

void site_driver_import_free(void *p) {
        DriverImport *d = p;

        if (!d)
                return;
        if (d->site)
                d->site->driver_imports--;
        char **strings[] = { &d->library_dir, &d->site_code, &d->driver_path, &d->inf_file, &d->content_path };
        for (size_t i = 0; i < ELEMENTSOF(strings); i++)
                free(*strings[i]);
        content_roots_done(&d->roots);
        inf_driver_free(d->inf);
        free(d);
}

static void import_freep(DriverImport **d) {
        site_driver_import_free(*d);
}

/* A relative path of the caller's: '\' taken for '/', no empty, "." or ".." component. */
static int check_relative(const char *what, const char *path, char **ret, SmsError *e) {
        _cleanup_free_ char *copy = NULL;
        char *p;

        if (!path || !*path)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s must not be empty", what);
        if (strlen(path) > INF_FILE_MAX || !utf8_is_valid(path))
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s is not a valid path", what);
        copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        for (p = copy; *p; p++) {
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "%s has a control character", what);
                if (*p == '\\')
                        *p = '/';
        }
        if (copy[0] == '/')
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                     "%s '%s' must be relative to DriverPath", what, path);
        for (const char *c = copy; *c;) {
                size_t n = strcspn(c, "/");
                if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                             "%s '%s' has an empty, '.' or '..' component", what, path);
                c += n + (c[n] == '/');
        }
        *ret = TAKE_PTR(copy);
        return 0;
}

int site_driver_import_new(Site *site, const char *driver_path, const char *inf_file, const SiteCaller *caller,
                           DriverImport **ret, SmsError *e) {
        _cleanup_(import_freep) DriverImport *d = NULL;
        size_t n;
        int r;

        if (!driver_path || !*driver_path)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "DriverPath must not be empty");
        d = calloc(1, sizeof(DriverImport));
        if (!d)
                return -ENOMEM;
        r = check_relative("INFFile", inf_file, &d->inf_file, e);
        if (r < 0)
                return r;
        n = strlen(d->inf_file);
        if (n < 5 || strcasecmp(d->inf_file + n - 4, ".inf") != 0 || d->inf_file[n - 5] == '/')
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "INFFile '%s' is not an .inf file", inf_file);
        if (!site->library_dir)
                return sms_error_set(e, SMS_ERROR_FAILED, "the site has no library directory");
        d->site = site;
        site->driver_imports++;
        __atomic_add_fetch(&site->driver_import_serial, 1, __ATOMIC_RELEASE);
        d->caller = site_caller_keep(caller);
        d->driver_path = strdup(driver_path);
        d->library_dir = strdup(site->library_dir);
        d->site_code = strdup(site_code(site));
        if (!d->driver_path || !d->library_dir || !d->site_code || content_roots_copy(&site->roots, &d->roots) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(d);
        return 0;
}

/* --- the work ------------------------------------------------------------------------------------ */

/* Opens `relative` beneath dir_fd (never leaving it), each component matched without regard to
 * case when its exact spelling is not there: INFs name files as Windows matches them. Returns the
 * fd or a negative errno. */
static int open_beneath_nocase(int dir_fd, const char *relative, int flags, char **ret_found) {
        _cleanup_close_ int cur = -1;
        _cleanup_free_ char *copy = NULL, *spelled = NULL;
        char *component, *rest;
        int fd;

        fd = path_open_beneath(dir_fd, relative, flags);
        if (fd != -ENOENT) {
                if (fd >= 0 && ret_found && !(*ret_found = strdup(relative))) {
                        close(fd);
                        return -ENOMEM;
                }
                return fd;
        }
        copy = strdup(relative);
        spelled = calloc(1, strlen(relative) + 1);
        if (!copy || !spelled)
                return -ENOMEM;
        cur = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        if (cur < 0)
                return -errno;
        for (component = copy; component; component = rest) {
                bool last;
                char found[256];
                DIR *dir;
                int dfd;

                rest = strchr(component, '/');
                if (rest)
                        *rest++ = 0;
                last = !rest;
                found[0] = 0;
                dfd = path_open_beneath(cur, ".", O_RDONLY | O_DIRECTORY);
                if (dfd < 0)
                        return dfd;
                dir = fdopendir(dfd);
                if (!dir) {
                        close(dfd);
                        return -errno;
                }
                for (struct dirent *de; (de = readdir(dir));)
                        if (strcasecmp(de->d_name, component) == 0 && strlen(de->d_name) < sizeof found) {
                                strcpy(found, de->d_name);
                                break;
                        }
                closedir(dir);
                if (!found[0])
                        return -ENOENT;
                fd = path_open_beneath(cur, found, last ? flags : O_PATH | O_DIRECTORY);
                if (fd < 0)
                        return fd;
                close(cur);
                cur = fd;
                /* Same length: the match differs in case only. */
                strcat(strcat(spelled, *spelled ? "/" : ""), found);
        }
        if (ret_found)
                *ret_found = TAKE_PTR(spelled);
        return TAKE_FD(cur);
}

static int read_inf(DriverImport *d, int dir_fd, char **ret_data, size_t *ret_size, SmsError *e) {
        _cleanup_(fclosep) FILE *f = NULL;
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *data = NULL, *found = NULL;
        struct stat st;
        size_t done = 0;

        fd = open_beneath_nocase(dir_fd, d->inf_file, O_RDONLY | O_NOCTTY | O_NONBLOCK, &found);
        if (fd == -EXDEV || fd == -ELOOP)
                return sms_error_set(e, SMS_ERROR_PATH_NOT_ALLOWED, "INFFile %s leads out of DriverPath %s",
                                     d->inf_file, d->driver_path);
        if (fd < 0)
                return sms_error_set(e, fd == -ENOENT ? SMS_ERROR_INVALID_PARAMETER : SMS_ERROR_FAILED,
                                     "INFFile %s in %s: %s", d->inf_file, d->driver_path, strerror(-fd));
        /* DriverINFFile and the copy spell it as the folder does. */
        free(d->inf_file);
        d->inf_file = TAKE_PTR(found);
        if (fstat(fd, &st) < 0)
                return sms_error_set_errno(e, errno, "INFFile %s", d->inf_file);
        if (!S_ISREG(st.st_mode))
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "INFFile %s is not a regular file", d->inf_file);
        if ((uint64_t) st.st_size > INF_MAX_SIZE)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "INFFile %s is larger than %u bytes",
                                     d->inf_file, INF_MAX_SIZE);
        data = malloc((size_t) st.st_size + 1);
        f = data ? fdopen(fd, "r") : NULL;
        if (!f)
                return data ? sms_error_set_errno(e, errno, "reading INFFile %s", d->inf_file) : -ENOMEM;
        fd = -1; /* the stream's now */
        /* A file that grows while read is read up to the size it had: what was hashed is parsed. */
        done = fread(data, 1, (size_t) st.st_size, f);
        if (ferror(f))
                return sms_error_set(e, SMS_ERROR_FAILED, "reading INFFile %s failed", d->inf_file);
        *ret_data = TAKE_PTR(data);
        *ret_size = done;
        return 0;
}

/* Makes the directories of `relative` (a file's path) below dir_fd. */
static int make_parents(int dir_fd, const char *relative) {
        _cleanup_free_ char *copy = strdup(relative);

        if (!copy)
                return -ENOMEM;
        for (char *s = strchr(copy, '/'); s; s = strchr(s + 1, '/')) {
                *s = 0;
                if (mkdirat(dir_fd, copy, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        return 0;
}

static int write_file_at(int dir_fd, const char *name, const void *data, size_t size) {
        int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        bool written;

        if (!f) {
                int r = -errno;
                if (fd >= 0)
                        close(fd);
                return r;
        }
        written = fwrite(data, 1, size, f) == size;
        if (fclose(f) != 0 || !written)
                return errno > 0 ? -errno : -EIO;
        return 0;
}

/* "dir/of/inf" + "/" + directory + "/" + name, empty parts left out. */
static char *join3(const char *a, const char *b, const char *c) {
        char *s;
        if (asprintf(&s, "%s%s%s%s%s", a, *a ? "/" : "", b, *b ? "/" : "", c) < 0)
                return NULL;
        return s;
}

/* Copies one file the INF names into the staging tree; a file listed twice is copied once.
 * Returns 1 when copied, 0 when it is not there and `optional`. */
static int stage_file(DriverImport *d, int dir_fd, int staging_fd, const char *inf_dir, const InfFile *f,
                      bool optional, SmsError *e) {
        _cleanup_free_ char *relative = join3(inf_dir, f->directory, f->name);
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        if (!relative)
                return -ENOMEM;
        if (fstatat(staging_fd, relative, &st, AT_SYMLINK_NOFOLLOW) == 0)
                return 1;
        fd = open_beneath_nocase(dir_fd, relative, O_RDONLY | O_NOCTTY | O_NONBLOCK, NULL);
        if (fd == -ENOENT && optional)
                return 0;
        if (fd == -EXDEV || fd == -ELOOP)
                return sms_error_set(e, SMS_ERROR_PATH_NOT_ALLOWED, "INFFile %s line %u: %s leads out of %s",
                                     d->inf_file, f->line, relative, d->driver_path);
        if (fd < 0)
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "INFFile %s line %u: %s is not in %s (%s)",
                                     d->inf_file, f->line, relative, d->driver_path, strerror(-fd));
        if (fstat(fd, &st) < 0)
                return sms_error_set_errno(e, errno, "%s", relative);
        if (!S_ISREG(st.st_mode))
                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER, "INFFile %s line %u: %s is not a regular file",
                                     d->inf_file, f->line, relative);
        r = make_parents(staging_fd, relative);
        if (r < 0)
                return sms_error_set_errno(e, -r, "staging %s", relative);
        r = tree_copy_at(fd, staging_fd, relative, "CreateFromINF", e);
        return r < 0 ? r : 1;
}

static int stage_and_ingest(DriverImport *d, int dir_fd, const char *data, size_t size, const char *site_lib,
                            const char *package_id, const char *staging, SmsError *e) {
        _cleanup_(content_manifest_done) ContentManifest m = {};
        _cleanup_close_ int staging_fd = -1;
        _cleanup_free_ char *inf_dir = strdup(d->inf_file);
        char *slash;
        int r;

        if (!inf_dir)
                return -ENOMEM;
        slash = strrchr(inf_dir, '/');
        *(slash ? slash : inf_dir) = 0;
        staging_fd = open(staging, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (staging_fd < 0)
                return sms_error_set_errno(e, errno, "%s", staging);

        /* The INF as it was read and parsed, whatever DriverPath holds under its name by now. */
        r = make_parents(staging_fd, d->inf_file);
        if (r >= 0)
                r = write_file_at(staging_fd, d->inf_file, data, size);
        if (r < 0)
                return sms_error_set_errno(e, -r, "staging %s", d->inf_file);
        for (size_t i = 0; i < d->inf->n_catalog_files; i++) {
                r = stage_file(d, dir_fd, staging_fd, inf_dir, &d->inf->catalog_files[i], true, e);
                if (r < 0)
                        return r;
                if (r > 0 && d->inf->catalog_file && strcasecmp(d->inf->catalog_files[i].name, d->inf->catalog_file) == 0)
                        d->catalog_present = true;
        }
        for (size_t i = 0; i < d->inf->n_files; i++) {
                r = stage_file(d, dir_fd, staging_fd, inf_dir, &d->inf->files[i], false, e);
                if (r < 0)
                        return r;
        }
        r = content_site_ingest(site_lib, package_id, 1, staging, NULL, NULL, &m, e);
        return r < 0 ? r : content_site_publish(site_lib, package_id, 1, e);
}

/* Was this INF's copy made by an earlier import? (Its tree is published after its manifest.) */
static bool catalog_copy_exists(const char *site_lib, const char *package_id) {
        char path[4096];
        struct stat st;

        snprintf(path, sizeof path, "%s/DataLib/%s", site_lib, package_id);
        if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
                return false;
        snprintf(path, sizeof path, "%s/PkgLib/%s/1.manifest", site_lib, package_id);
        return lstat(path, &st) == 0;
}

int site_driver_paths(const char *library_dir, char **ret_site_lib, char **ret_lock) {
        if (asprintf(ret_site_lib, "%s/contentlib", library_dir) < 0)
                return -ENOMEM;
        if (asprintf(ret_lock, "%s/drivers/.import.lock", library_dir) < 0) {
                free(*ret_site_lib);
                *ret_site_lib = NULL;
                return -ENOMEM;
        }
        return 0;
}

static void catalog_package_id(const char *hash, char ret[static 40]) {
        snprintf(ret, 40, "DRV-%.32s", hash);
}

int site_driver_import_work(void *p, SmsError *e) {
        DriverImport *d = p;
        _cleanup_free_ char *data = NULL, *site_lib = NULL, *drivers_dir = NULL, *lock = NULL, *staging = NULL;
        _cleanup_close_ int dir_fd = -1, lock_fd = -1;
        SmsError inner = SMS_ERROR_NULL;
        char package_id[40];
        size_t size = 0;
        int r;

        r = content_roots_resolve(&d->roots, d->driver_path, PATH_KIND_DIRECTORY, &dir_fd, &inner);
        if (r < 0) {
                r = sms_error_set(e, inner.code, "DriverPath: %s", inner.message ? inner.message : d->driver_path);
                sms_error_clear(&inner);
                return r;
        }
        r = read_inf(d, dir_fd, &data, &size, e);
        if (r < 0)
                return r;
        r = content_hash_data(data, size, d->hash);
        if (r < 0)
                return sms_error_set_errno(e, -r, "hashing INFFile %s", d->inf_file);
        r = inf_parse(data, size, &d->inf, &inner);
        if (r < 0) {
                r = sms_error_set(e, inner.code, "INFFile %s: %s", d->inf_file, inner.message ? inner.message : "");
                sms_error_clear(&inner);
                return r;
        }

        catalog_package_id(d->hash, package_id);
        if (site_driver_paths(d->library_dir, &site_lib, &lock) < 0 ||
            asprintf(&drivers_dir, "%s/drivers", d->library_dir) < 0 ||
            asprintf(&d->content_path, "%s/DataLib/%s", site_lib, package_id) < 0 ||
            asprintf(&staging, "%s/drivers/.staging-XXXXXX", d->library_dir) < 0)
                return -ENOMEM;
        if (mkdir(drivers_dir, 0700) < 0 && errno != EEXIST)
                return sms_error_set_errno(e, errno, "%s", drivers_dir);
        /* One import at a time: the copy of an INF is written once, by whichever import comes
         * first; another of the same INF waits and then finds it. */
        lock_fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (lock_fd < 0 || flock(lock_fd, LOCK_EX) < 0)
                return sms_error_set_errno(e, errno, "%s", lock);
        if (catalog_copy_exists(site_lib, package_id)) {
                d->catalog_present = false;
                for (size_t i = 0; i < d->inf->n_catalog_files; i++) {
                        char path[4096];
                        struct stat st;
                        const char *slash = strrchr(d->inf_file, '/');
                        snprintf(path, sizeof path, "%s/%.*s%s%s", d->content_path,
                                 slash ? (int) (slash - d->inf_file) : 0, d->inf_file, slash ? "/" : "",
                                 d->inf->catalog_files[i].name);
                        if (d->inf->catalog_file && strcasecmp(d->inf->catalog_files[i].name, d->inf->catalog_file) == 0 &&
                            lstat(path, &st) == 0)
                                d->catalog_present = true;
                }
                return 0;
        }
        if (!mkdtemp(staging))
                return sms_error_set_errno(e, errno, "%s", staging);
        r = stage_and_ingest(d, dir_fd, data, size, site_lib, package_id, staging, e);
        (void) path_remove_tree(staging);
        return r;
}

/* --- the catalog row ------------------------------------------------------------------------------ */

static int push_string(SiteChange *v, size_t *n, const SmsClass *c, const char *name, const char *s) {
        v[*n] = (SiteChange) { .index = (size_t) sms_class_find_property(c, name) };
        if (!s) {
                v[(*n)++].value = cim_value_null(CIM_STRING);
                return 0;
        }
        (*n)++;
        return cim_value_set_string(&v[*n - 1].value, s);
}

static void push_value(SiteChange *v, size_t *n, const SmsClass *c, const char *name, CimValue value) {
        v[(*n)++] = (SiteChange) { .index = (size_t) sms_class_find_property(c, name), .value = value };
}

static int push_strv(SiteChange *v, size_t *n, const SmsClass *c, const char *name, char *const *list) {
        CimValue value = { .type = CIM_STRING_ARRAY };
        size_t k = strv_length(list);

        value.strv = calloc(k + 1, sizeof(char *));
        if (!value.strv)
                return -ENOMEM;
        for (size_t i = 0; i < k; i++)
                if (!(value.strv[i] = strdup(list[i]))) {
                        cim_value_clear(&value);
                        return -ENOMEM;
                }
        push_value(v, n, c, name, value);
        return 0;
}

static int architectures_strv(unsigned platforms, char ***ret) {
        char **l = calloc(_INF_ARCH_MAX + 1, sizeof(char *));
        size_t n = 0;

        if (!l)
                return -ENOMEM;
        for (int a = 0; a < _INF_ARCH_MAX; a++)
                if ((platforms & INF_ARCH_BIT(a)) && !(l[n++] = strdup(inf_architecture_to_string(a)))) {
                        strv_free(l);
                        return -ENOMEM;
                }
        *ret = l;
        return 0;
}

/* The key of the driver with this CI_UniqueID; -ENOENT when there is none. */
static int find_by_unique_id(Site *site, const char *unique_id, char **ret_key, SmsError *e) {
        _cleanup_free_ char *query = NULL;
        _cleanup_(wql_query_freep) WqlQuery *q = NULL;
        WqlRow *rows = NULL;
        size_t n = 0;
        int r;

        /* The ID is the site code, '/', "Driver_" and hex digits: nothing to quote. */
        if (asprintf(&query, "SELECT CI_ID FROM SMS_Driver WHERE CI_UniqueID = '%s'", unique_id) < 0)
                return -ENOMEM;
        r = site_query(site, query, &q, &rows, &n, e);
        if (r < 0)
                return r;
        r = n == 0 ? -ENOENT : (*ret_key = strdup(rows[0].key)) ? 0 : -ENOMEM;
        wql_rows_free(rows, n, q->n_columns);
        return r;
}

int site_driver_import_finish(Site *site, DriverImport *d, char **ret_key, bool *ret_created, SmsError *e) {
        const SmsClass *c = sms_model_find_class("SMS_Driver");
        _cleanup_free_ char *unique_id = NULL, *who = NULL, *key = NULL;
        _cleanup_strv_free_ char **architectures = NULL;
        SiteChange v[24];
        size_t n = 0;
        int r;

        if (asprintf(&unique_id, "%s/Driver_%s", site_code(site), d->hash) < 0 ||
            asprintf(&who, "uid=%u", (unsigned) d->caller.uid) < 0)
                return -ENOMEM;
        r = find_by_unique_id(site, unique_id, &key, e);
        if (r >= 0) {
                *ret_key = TAKE_PTR(key);
                *ret_created = false;
                return 0;
        }
        if (r != -ENOENT)
                return r;
        r = architectures_strv(d->inf->platforms, &architectures);
        if (r < 0)
                return r;

        uint64_t now = now_usec();
        const InfDriver *inf = d->inf;
        r = push_string(v, &n, c, "CI_UniqueID", unique_id);
        r = r < 0 ? r : push_string(v, &n, c, "ContentSourcePath", d->content_path);
        r = r < 0 ? r : push_string(v, &n, c, "CreatedBy", who);
        r = r < 0 ? r : push_string(v, &n, c, "LastModifiedBy", who);
        r = r < 0 ? r : push_string(v, &n, c, "DriverClass", inf->driver_class);
        r = r < 0 ? r : push_string(v, &n, c, "DriverProvider", inf->driver_provider);
        r = r < 0 ? r : push_string(v, &n, c, "DriverVersion", inf->driver_version);
        r = r < 0 ? r : push_string(v, &n, c, "DriverINFFile", d->inf_file);
        r = r < 0 ? r : push_string(v, &n, c, "LocalizedDisplayName", inf->localized_display_name);
        r = r < 0 ? r : push_strv(v, &n, c, "HardwareIDs", inf->hardware_ids);
        r = r < 0 ? r : push_strv(v, &n, c, "CompatibleIDs", inf->compatible_ids);
        r = r < 0 ? r : push_strv(v, &n, c, "Architectures", architectures);
        if (r >= 0) {
                push_value(v, &n, c, "DriverDate",
                           inf->driver_date ? cim_value_uint(CIM_DATETIME, inf->driver_date) : cim_value_null(CIM_DATETIME));
                push_value(v, &n, c, "DriverSigned", cim_value_bool(d->catalog_present));
                push_value(v, &n, c, "DateCreated", cim_value_uint(CIM_DATETIME, now));
                push_value(v, &n, c, "DateLastModified", cim_value_uint(CIM_DATETIME, now));
                r = push_strv(v, &n, c, "SecuredScopeNames", (char *[]) { (char *) "Default", NULL });
        }
        /* One engine transaction: the row, and the observer told once it is committed. */
        if (r >= 0)
                r = site_begin(site, e);
        if (r >= 0) {
                r = site_object_create(site, c, NULL, 0, v, n, &d->caller, &key, e);
                if (r >= 0)
                        site_notify_added(site, c, key);
                r = site_end(site, r, e);
        }
        for (size_t i = 0; i < n; i++)
                cim_value_clear(&v[i].value);
        if (r < 0)
                return r;
        *ret_key = TAKE_PTR(key);
        *ret_created = true;
        return 0;
}

/* --- SDMPackageXML, built when read ---------------------------------------------------------------- */

int site_driver_fill_computed(Site *site, SmsObject *o) {
        int i = sms_class_find_property(o->class, "SDMPackageXML");
        char *xml = NULL;
        int r;

        if (i < 0)
                return 0;
        r = site_driver_sdm_package_xml(o, site_code(site), &xml);
        if (r < 0)
                return r;
        cim_value_clear(&o->values[i]);
        o->values[i] = (CimValue) { .type = CIM_STRING, .str = xml };
        return 0;
}

bool site_driver_is_catalog_path(const Site *site, const char *path) {
        size_t n;

        if (!site || !site->library_dir || !path)
                return false;
        n = strlen(site->library_dir);
        if (strncmp(path, site->library_dir, n) != 0 || strncmp(path + n, "/contentlib/DataLib/DRV-", 24) != 0)
                return false;
        path += n + 24;
        return strlen(path) == 32 && strspn(path, "0123456789abcdef") == 32;
}

/* --- boot images ---------------------------------------------------------------------------------- */

static bool strv_contains_nocase(char *const *l, const char *s) {
        for (; l && *l; l++)
                if (strcasecmp(*l, s) == 0)
                        return true;
        return false;
}

/* The INF platform name of a WIM architecture code ("9" → "x64"); NULL when not known. */
static const char *wim_architecture_platform(const char *code) {
        static const struct {
                const char *code, *platform;
        } map[] = { { "0", "x86" }, { "5", "arm" }, { "6", "ia64" }, { "9", "x64" }, { "12", "arm64" } };

        for (size_t i = 0; code && i < ELEMENTSOF(map); i++)
                if (streq(map[i].code, code))
                        return map[i].platform;
        return NULL;
}

int site_driver_check_references(Site *site, const SmsObject *boot_image, SmsError *e) {
        const SmsClass *c = sms_model_find_class("SMS_Driver");
        const CimValue *refs = sms_object_value(boot_image, "ReferencedDrivers");
        const char *platform = wim_architecture_platform(sms_object_string(boot_image, "Architecture"));
        int r;

        for (size_t i = 0; refs && !refs->null && i < refs->drivers.n; i++) {
                _cleanup_(sms_object_freep) SmsObject *d = NULL;
                const SmsDriverDetails *ref = &refs->drivers.data[i];
                char key[16];

                for (size_t j = 0; j < i; j++)
                        if (refs->drivers.data[j].id == ref->id)
                                return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                                     "ReferencedDrivers entry %zu (ID %" PRIu32 ") names the same "
                                                     "driver as entry %zu",
                                                     i, ref->id, j);
                snprintf(key, sizeof key, "%" PRIu32, ref->id);
                r = store_object_load(site->store, c, key, &d, NULL);
                if (r < 0)
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                             "ReferencedDrivers entry %zu (ID %" PRIu32 "): no SMS_Driver with CI_ID %"
                                             PRIu32,
                                             i, ref->id, ref->id);
                if (site_driver_is_catalog_path(site, ref->source_path) &&
                    !streq(ref->source_path, sms_object_string(d, "ContentSourcePath")))
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                             "ReferencedDrivers entry %zu (ID %" PRIu32 "): SourcePath %s is another "
                                             "driver's copy",
                                             i, ref->id, ref->source_path);
                const CimValue *enabled = sms_object_value(d, "IsEnabled");
                if (!enabled || enabled->null || !enabled->b)
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                             "ReferencedDrivers entry %zu (ID %" PRIu32 "): driver \"%s\" is disabled",
                                             i, ref->id, sms_object_string(d, "LocalizedDisplayName"));
                const CimValue *arch = sms_object_value(d, "Architectures");
                if (platform && !strv_contains_nocase(arch && !arch->null ? arch->strv : NULL, platform))
                        return sms_error_set(e, SMS_ERROR_INVALID_PARAMETER,
                                             "ReferencedDrivers entry %zu (ID %" PRIu32 "): driver \"%s\" is not for "
                                             "%s, the boot image's architecture",
                                             i, ref->id, sms_object_string(d, "LocalizedDisplayName"), platform);
        }
        return 0;
}

/* The driver classes Windows PE loads at start on its own (network and storage controllers, and
 * system devices such as chipset and storage bus drivers); others are staged but rarely useful. */
static bool winpe_loads_class(const char *driver_class) {
        static const char *const classes[] = { "Net", "SCSIAdapter", "HDC", "System" };

        for (size_t i = 0; i < ELEMENTSOF(classes); i++)
                if (driver_class && strcasecmp(driver_class, classes[i]) == 0)
                        return true;
        return false;
}

void site_driver_note_boot_classes(Site *site, const SmsClass *c, const char *key, const SiteCaller *caller) {
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        _cleanup_free_ char *text = NULL, *list = NULL;
        const CimValue *refs;
        size_t len = 0;

        if (site_object_load(site, c, key, &o, NULL) < 0)
                return;
        refs = sms_object_value(o, "ReferencedDrivers");
        for (size_t i = 0; refs && !refs->null && i < refs->drivers.n; i++) {
                _cleanup_(sms_object_freep) SmsObject *d = NULL;
                char id[16];
                snprintf(id, sizeof id, "%" PRIu32, refs->drivers.data[i].id);
                if (store_object_load(site->store, sms_model_find_class("SMS_Driver"), id, &d, NULL) < 0 ||
                    winpe_loads_class(sms_object_string(d, "DriverClass")))
                        continue;
                char *grown = NULL;
                if (asprintf(&grown, "%s%s%s \"%s\" (class %s)", list ? list : "", list ? ", " : "", id,
                             sms_object_string(d, "LocalizedDisplayName"), sms_object_string(d, "DriverClass")) < 0)
                        return;
                free(list);
                list = grown;
                len++;
        }
        if (!list)
                return;
        if (asprintf(&text,
                     "%s references %zu driver%s whose class Windows PE does not load at start (it loads Net, "
                     "SCSIAdapter, HDC and System drivers); staged anyway: %s",
                     key, len, len == 1 ? "" : "s", list) < 0)
                return;
        (void) site_report(site, MESSAGE_DRIVER_CLASS_NOTE, 0x80000000u, caller, c->name, key, text);
}

int site_driver_check_deletable(Site *site, const char *key, SmsError *e) {
        _cleanup_free_ char *query = NULL;
        _cleanup_(wql_query_freep) WqlQuery *q = NULL;
        WqlRow *rows = NULL;
        size_t n = 0;
        int r;

        /* The key is the CI_ID as the store wrote it: digits. */
        if (strspn(key, "0123456789") != strlen(key))
                return sms_error_set(e, SMS_ERROR_NOT_FOUND, "no SMS_Driver with CI_ID %s", key);
        if (asprintf(&query, "SELECT PkgID FROM SMS_BootImagePackage_DriverRef WHERE CI_ID = %s", key) < 0)
                return -ENOMEM;
        r = site_query(site, query, &q, &rows, &n, e);
        if (r < 0)
                return r;
        if (n > 0)
                r = sms_error_set(e, SMS_ERROR_BUSY,
                                  "driver %s is referenced by boot image %s%s; remove it from ReferencedDrivers first",
                                  key, rows[0].values[0].null ? "" : rows[0].values[0].str,
                                  n > 1 ? " and others" : "");
        wql_rows_free(rows, n, q->n_columns);
        return r;
}

int site_driver_catalog_copy(Site *site, uint32_t id, char **ret_path, char **ret_inf, SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *d = NULL;
        char key[16];
        int r;

        snprintf(key, sizeof key, "%" PRIu32, id);
        r = store_object_load(site->store, sms_model_find_class("SMS_Driver"), key, &d, NULL);
        if (r < 0)
                return sms_error_set(e, SMS_ERROR_NOT_FOUND, "no SMS_Driver with CI_ID %s", key);
        *ret_path = strdup(sms_object_string(d, "ContentSourcePath"));
        *ret_inf = strdup(sms_object_string(d, "DriverINFFile"));
        if (!*ret_path || !*ret_inf) {
                free(*ret_path);
                free(*ret_inf);
                return -ENOMEM;
        }
        return 0;
}
