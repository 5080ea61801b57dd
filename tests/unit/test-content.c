/* SPDX-License-Identifier: MIT */

/* content/: the site library, distribution points, gc and verify, all in a temporary directory.
 * DPs that are read-only or full are tmpfs mounts when the test may mount (skipped otherwise); a
 * crash is simulated by cancelling at every progress call and by SIGKILL of a forked child. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../bus/test-damage.h"
#include "content/content-internal.h"
#include "smsprov/content.h"
#include "smsprov/macro.h"
#include "smsprov/path.h"

#include "unit-util.h"

/* --- fixture and helpers --------------------------------------------------------------------- */

typedef struct Dirs {
        char *root; /* this test's scratch directory */
        char *site; /* <root>/site/contentlib */
        char *src;  /* <root>/src: the package source */
        char *dp1, *dp2;
        char *mnt; /* <root>/mnt: where a tmpfs DP is mounted, if any */
} Dirs;

static char *join(const char *a, const char *b) {
        char *p;
        assert_true(asprintf(&p, "%s/%s", a, b) >= 0);
        return p;
}

static void settle(void);

static int setup(void **state) {
        Dirs *d = calloc(1, sizeof *d);
        _cleanup_free_ char *site_parent = NULL;

        assert_non_null(d);
        d->root = join(getenv("TMPDIR") ?: "/var/tmp", "test-content-XXXXXX");
        assert_non_null(mkdtemp(d->root));
        site_parent = join(d->root, "site");
        assert_int_equal(mkdir(site_parent, 0755), 0);
        d->site = join(site_parent, "contentlib");
        d->src = test_make_dir(d->root, "src");
        d->dp1 = test_make_dir(d->root, "dp1");
        d->dp2 = test_make_dir(d->root, "dp2");
        d->mnt = join(d->root, "mnt");
        settle(); /* from the start, the clock of the racily-clean rule is the test's */
        *state = d;
        return 0;
}

static int teardown(void **state) {
        Dirs *d = *state;

        (void) umount2(d->mnt, MNT_DETACH); /* left mounted by a failed test */
        content_clock_pin(0);
        assert_int_equal(path_remove_tree(d->root), 0);
        free(d->root);
        free(d->site);
        free(d->src);
        free(d->dp1);
        free(d->dp2);
        free(d->mnt);
        free(d);
        return 0;
}

static void mkdir_parents(const char *path) {
        _cleanup_free_ char *p = strdup(path);
        for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = 0;
                assert_true(mkdir(p, 0755) == 0 || errno == EEXIST);
                *s = '/';
        }
}

static void write_file(const char *dir, const char *rel, const void *data, size_t size) {
        _cleanup_free_ char *path = join(dir, rel);
        _cleanup_close_ int fd = -1;

        mkdir_parents(path);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, size), (ssize_t) size);
}

static void write_text(const char *dir, const char *rel, const char *text) {
        write_file(dir, rel, text, strlen(text));
}

/* Deterministic, incompressible bytes. */
static void write_random(const char *dir, const char *rel, size_t size, uint64_t seed) {
        _cleanup_free_ uint8_t *buf = malloc(size + 8);
        uint64_t x = seed * 0x9E3779B97F4A7C15u + 1;

        assert_non_null(buf);
        for (size_t i = 0; i < size; i += 8) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                memcpy(buf + i, &x, 8);
        }
        write_file(dir, rel, buf, size);
}

static char *read_all(const char *path, size_t *ret_size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        char *data;

        if (fd < 0)
                return NULL;
        assert_int_equal(fstat(fd, &st), 0);
        data = malloc((size_t) st.st_size + 1);
        assert_non_null(data);
        assert_int_equal(read(fd, data, (size_t) st.st_size), st.st_size);
        data[st.st_size] = 0;
        if (ret_size)
                *ret_size = (size_t) st.st_size;
        return data;
}

/* The stat cache and the lists of checked entries trust only files whose last change is older
 * than the clock tick of the read that hashed them (content_stat_settled()): a test that relies on
 * them lets the clock move on after writing. Which clock? The real one runs at its own pace, and a
 * file system with multigrain time stamps (Linux 6.13) stamps a change right after a stat up to a
 * tick ahead of it, so waiting until stamps change says nothing about it. Here the rule's clock is
 * pinned to the stamp of a probe that is later than every stamp given before it: what was written
 * before settle() counts as old, what is written after it as changed "now", until the next
 * settle(), however fast the machine and however fine its stamps. */
static void settle(void) {
        _cleanup_free_ char *probe = join(getenv("TMPDIR") ?: "/var/tmp", "smsprov-test-settle.XXXXXX");
        struct stat first, now;
        int fd = mkstemp(probe);

        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &first), 0);
        /* Made with a stamp no earlier than any given before (the coarse clock, or the multigrain
         * floor); touched until it gets a later one: at once where stamps are multigrain (the
         * fstat asked for a fine one), at the clock's next tick where they are not. */
        do {
                assert_int_equal(futimens(fd, NULL), 0);
                assert_int_equal(fstat(fd, &now), 0);
        } while (content_timespec_ns(&now.st_ctim) == content_timespec_ns(&first.st_ctim));
        close(fd);
        unlink(probe);
        content_clock_pin(content_timespec_ns(&now.st_ctim));
}

/* The source every test starts from: nested directories, an empty file, two identical files, a
 * name with a space, and one file over the chunk and the 8 MiB progress step. */
static void make_source(const char *src) {
        write_text(src, "readme.txt", "package content\n");
        write_text(src, "Setup/config.ini", "[Setup]\nMode=1\n");
        write_text(src, "Setup/copy of config.ini", "[Setup]\nMode=1\n");
        write_file(src, "Setup/empty", "", 0);
        write_random(src, "Setup/deep/er/data.bin", 300 * 1024, 1);
        write_random(src, "big.bin", (9 << 20) + 12345, 2);
        settle();
}

static uint64_t filelib_count(const char *lib_root) {
        _cleanup_free_ char *path = join(lib_root, "FileLib");
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        uint64_t n = 0;

        if (fd < 0)
                return 0;
        assert_int_equal(content_filelib_count(fd, &n), 0);
        return n;
}

static char *dp_lib(const char *dp) {
        return join(dp, "SCCMContentLib");
}

#define assert_ok(call, e)                                                                         \
        do {                                                                                       \
                int _r = (call);                                                                   \
                if (_r < 0)                                                                        \
                        fail_msg("%s:%d: %d %s", __FILE__, __LINE__, _r,                           \
                                 (e).message ? (e).message : "(no message)");                      \
                sms_error_clear(&(e));                                                             \
        } while (0)

#define assert_error(call, e, expected)                                                            \
        do {                                                                                       \
                int _r = (call);                                                                   \
                if (_r >= 0 || (e).code != (expected))                                             \
                        fail_msg("%s:%d: expected %s, got r=%d %s: %s", __FILE__, __LINE__,       \
                                 sms_error_code_to_name(expected), _r,                             \
                                 sms_error_code_to_name((e).code),                                 \
                                 (e).message ? (e).message : "(no message)");                      \
                assert_true(_r < 0);                                                               \
        } while (0)

static void ingest(Dirs *d, const char *id, uint32_t version, const char *source, ContentManifest *ret) {
        SmsError e = SMS_ERROR_NULL;
        ContentManifest m = {};
        int r = content_site_ingest(d->site, id, version, source, NULL, NULL, &m, &e);
        assert_ok(r, e);
        if (ret)
                *ret = m;
        else
                content_manifest_done(&m);
}

static void distribute(Dirs *d, const char *dp, const char *id, uint32_t version, ContentLinkMode mode,
                       const char *pxe, ContentDistributeStats *ret) {
        SmsError e = SMS_ERROR_NULL;
        ContentDistributeStats stats = {};
        int r = content_dp_distribute(d->site, dp, id, version, mode, pxe, NULL, NULL, &stats, &e);
        assert_ok(r, e);
        if (ret)
                *ret = stats;
}

static uint32_t current_version(const char *dp, const char *id) {
        SmsError e = SMS_ERROR_NULL;
        uint32_t v = 99;
        int r = content_dp_current_version(dp, id, &v, &e);
        assert_ok(r, e);
        return v;
}

static bool exists(const char *dir, const char *rel) {
        _cleanup_free_ char *p = join(dir, rel);
        struct stat st;
        return lstat(p, &st) == 0;
}

static ino_t inode_of(const char *dir, const char *rel) {
        _cleanup_free_ char *p = join(dir, rel);
        struct stat st;
        assert_int_equal(lstat(p, &st), 0);
        return st.st_ino;
}

static char *filelib_path(const char *lib_root, const char *hash) {
        char name[CONTENT_HASH_HEX + 4], *p;
        content_filelib_name(hash, name);
        assert_true(asprintf(&p, "%s/FileLib/%s", lib_root, name) >= 0);
        return p;
}

/* Every regular file below `a` is in `b` with the same bytes, and `b` has no other files. */
static size_t tree_files(const char *dir, char ***ret);

static void collect(const char *dir, const char *prefix, char ***l, size_t *n) {
        _cleanup_free_ char *path = *prefix ? join(dir, prefix) : strdup(dir);
        DIR *dd = opendir(path);

        assert_non_null(dd);
        for (struct dirent *de; (de = readdir(dd));) {
                _cleanup_free_ char *rel = NULL, *full = NULL;
                struct stat st;
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                assert_true(asprintf(&rel, "%s%s%s", prefix, *prefix ? "/" : "", de->d_name) >= 0);
                full = join(dir, rel);
                assert_int_equal(lstat(full, &st), 0);
                if (S_ISDIR(st.st_mode))
                        collect(dir, rel, l, n);
                else {
                        *l = realloc(*l, (*n + 2) * sizeof **l);
                        (*l)[(*n)++] = TAKE_PTR(rel);
                        (*l)[*n] = NULL;
                }
        }
        closedir(dd);
}

static size_t tree_files(const char *dir, char ***ret) {
        char **l = calloc(1, sizeof *l);
        size_t n = 0;
        collect(dir, "", &l, &n);
        *ret = l;
        return n;
}

static void assert_trees_equal(const char *a, const char *b) {
        _cleanup_strv_free_ char **la = NULL, **lb = NULL;
        size_t na = tree_files(a, &la), nb = tree_files(b, &lb);

        assert_int_equal(na, nb);
        for (size_t i = 0; i < na; i++) {
                _cleanup_free_ char *pa = join(a, la[i]), *pb = join(b, la[i]);
                size_t sa, sb;
                _cleanup_free_ char *da = read_all(pa, &sa), *db = read_all(pb, &sb);
                if (!db)
                        fail_msg("%s missing from %s", la[i], b);
                assert_int_equal(sa, sb);
                assert_memory_equal(da, db, sa);
        }
}

static char *datalib_of(const char *dp, const char *id) {
        char *p;
        assert_true(asprintf(&p, "%s/SCCMContentLib/DataLib/%s", dp, id) >= 0);
        return p;
}

/* No temporary names anywhere below `dir`. */
static void assert_no_temporaries(const char *dir) {
        _cleanup_strv_free_ char **l = NULL;
        DIR *dd;

        if (!exists(dir, "."))
                return;
        tree_files(dir, &l);
        for (char **i = l; *i; i++) {
                const char *base = strrchr(*i, '/');
                base = base ? base + 1 : *i;
                if (strncmp(base, CONTENT_TMP_PREFIX, strlen(CONTENT_TMP_PREFIX)) == 0)
                        fail_msg("temporary left behind: %s/%s", dir, *i);
        }
        /* and no temporary directories (an empty one has no files to show) */
        _cleanup_free_ char *datalib = join(dir, "SCCMContentLib/DataLib");
        dd = opendir(datalib);
        if (dd) {
                for (struct dirent *de; (de = readdir(dd));)
                        if (strncmp(de->d_name, CONTENT_TMP_PREFIX, strlen(CONTENT_TMP_PREFIX)) == 0)
                                fail_msg("temporary tree left behind: %s/%s", datalib, de->d_name);
                closedir(dd);
        }
}

/* DataLib/<id> holds exactly version v's files, at their sizes. */
static bool datalib_holds(const char *dp, const char *id, uint32_t v) {
        _cleanup_free_ char *lib = dp_lib(dp), *datalib = datalib_of(dp, id);
        _cleanup_strv_free_ char **files = NULL;
        ContentManifest m = {};
        SmsError e = SMS_ERROR_NULL;
        bool ok;

        assert_ok(content_manifest_read(lib, id, v, &m, &e), e);
        ok = exists(datalib, ".") && tree_files(datalib, &files) == m.n_files;
        for (size_t i = 0; ok && i < m.n_files; i++) {
                _cleanup_free_ char *p = join(datalib, m.files[i].path);
                struct stat st;
                ok = stat(p, &st) == 0 && (uint64_t) st.st_size == m.files[i].size;
        }
        content_manifest_done(&m);
        return ok;
}

/* The promise of content.h: every manifest's files are in FileLib and `current` names a manifest
 * that exists. And DataLib holds a complete version: the current one, or (`crashed`: a process
 * died between swapping the tree in and writing `current`) one whose manifest is there. */
static void assert_dp_state(const char *dp, bool crashed) {
        _cleanup_free_ char *lib = dp_lib(dp), *pkglib = join(lib, "PkgLib");
        DIR *top = opendir(pkglib);

        if (!top)
                return;
        for (struct dirent *de; (de = readdir(top));) {
                _cleanup_free_ char *pkgdir = NULL;
                uint32_t current, versions[16];
                size_t n_versions = 0;
                DIR *pd;

                if (!content_package_id_is_valid(de->d_name))
                        continue;
                pkgdir = join(pkglib, de->d_name);
                pd = opendir(pkgdir);
                assert_non_null(pd);
                for (struct dirent *me; (me = readdir(pd));) {
                        uint32_t v = content_manifest_name_version(me->d_name);
                        ContentManifest m = {};
                        SmsError e = SMS_ERROR_NULL;
                        if (v == 0)
                                continue;
                        assert_true(n_versions < ELEMENTSOF(versions));
                        versions[n_versions++] = v;
                        int r = content_manifest_read(lib, de->d_name, v, &m, &e);
                        assert_ok(r, e);
                        for (size_t i = 0; i < m.n_files; i++) {
                                _cleanup_free_ char *p = filelib_path(lib, m.files[i].hash);
                                struct stat st;
                                if (stat(p, &st) < 0)
                                        fail_msg("%s/%u.manifest names %s (%s), which is missing", de->d_name, v,
                                                 m.files[i].path, p);
                                assert_int_equal((uint64_t) st.st_size, m.files[i].size);
                        }
                        content_manifest_done(&m);
                }
                closedir(pd);

                current = current_version(dp, de->d_name);
                if (current == 0)
                        continue;
                bool found = false;
                for (size_t i = 0; i < n_versions; i++)
                        found = found || versions[i] == current;
                if (!found)
                        fail_msg("%s: current names version %u, which has no manifest", de->d_name, current);
                if (datalib_holds(dp, de->d_name, current))
                        continue;
                bool other = false;
                for (size_t i = 0; crashed && i < n_versions; i++)
                        other = other || datalib_holds(dp, de->d_name, versions[i]);
                if (!other)
                        fail_msg("%s: DataLib is not version %u%s", de->d_name, current,
                                 crashed ? " nor any other with a manifest" : "");
        }
        closedir(top);
}

static void assert_dp_consistent(const char *dp) {
        assert_dp_state(dp, false);
}

/* A DP after any operation: consistent, and no temporary file left behind. */
static void assert_dp_whole(const char *dp) {
        assert_dp_consistent(dp);
        assert_no_temporaries(dp);
}

typedef struct Progress {
        unsigned calls, cancel_at; /* cancel at this call (1-based); 0: never */
        uint64_t max_done, last_total;
        bool saw_total_nonzero;
} Progress;

static bool on_progress(void *userdata, uint64_t done, uint64_t total, const char *text) {
        Progress *p = userdata;

        assert_non_null(text);
        p->calls++;
        if (done > p->max_done)
                p->max_done = done;
        p->last_total = total;
        if (total)
                p->saw_total_nonzero = true;
        return p->cancel_at == 0 || p->calls < p->cancel_at;
}

/* The hash as coreutils computes it: an independent check of ours. */
static void sha256sum(const char *path, char ret[static CONTENT_HASH_HEX + 1]) {
        _cleanup_free_ char *cmd = NULL;
        FILE *f;

        assert_true(asprintf(&cmd, "sha256sum '%s'", path) > 0);
        f = popen(cmd, "r");
        assert_non_null(f);
        assert_int_equal(fscanf(f, "%64s", ret), 1);
        assert_int_equal(pclose(f), 0);
}

static uint64_t file_size_of(const char *dir, const char *rel) {
        _cleanup_free_ char *p = join(dir, rel);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        return (uint64_t) st.st_size;
}

/* --- manifests ------------------------------------------------------------------------------- */

static void test_manifest_parse(void **state) {
        static const char h[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        _cleanup_free_ char *good = NULL, *out = NULL, *why = NULL;
        ContentManifest m = {};
        size_t size;

        assert_true(asprintf(&good, "%s 0 a b/c\n%s 12 a.txt\n%s 3 z\n", h, h, h) > 0);
        assert_int_equal(content_manifest_parse(good, strlen(good), &m, NULL), 0);
        assert_int_equal(m.n_files, 3);
        assert_string_equal(m.files[0].path, "a b/c");
        assert_int_equal(m.total_bytes, 15);
        assert_int_equal(content_manifest_format(&m, &out, &size), 0);
        assert_int_equal(size, strlen(good));
        assert_string_equal(out, good);
        content_manifest_done(&m);

        /* empty: a package without files */
        assert_int_equal(content_manifest_parse("", 0, &m, NULL), 0);
        assert_int_equal(m.n_files, 0);

        /* '@' stands for a valid hash */
        const char *bad[] = {
                "@ 1 a",           /* no newline */
                "@ 1 b\n@ 1 a\n", /* unsorted */
                "@ 1 a\n@ 1 a\n", /* twice */
                "@ 01 a\n",        /* leading zero */
                "@ -1 a\n",        /* sign */
                "@ 99999999999999999999 a\n",
                "@ 1 /abs\n",
                "@ 1 a/../b\n",
                "@ 1 ..\n",
                "@ 1 a//b\n",
                "@ 1 a/\n",
                "@ 1 a\tb\n",
                "@ 1 \n",
                "@1 a\n",
                "@ 1 a\rb\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char text[512] = "";
                for (const char *c = bad[i]; *c; c++)
                        if (*c == '@')
                                strcat(text, h);
                        else
                                strncat(text, c, 1);
                if (content_manifest_parse(text, strlen(text), &m, &why) != -EBADMSG)
                        fail_msg("accepted bad manifest %zu: %s", i, text);
                free(why);
                why = NULL;
        }
        /* an upper-case or short hash */
        assert_int_equal(content_manifest_parse("E3B0 1 a\n", 9, &m, NULL), -EBADMSG);
        /* a NUL in a path */
        {
                char text[200];
                int n = snprintf(text, sizeof text, "%s 1 a", h);
                text[n] = 0, text[n + 1] = 'b', text[n + 2] = '\n';
                assert_int_equal(content_manifest_parse(text, (size_t) n + 3, &m, NULL), -EBADMSG);
        }

        assert_true(content_relative_path_is_valid("a/b c/.d"));
        assert_true(content_relative_path_is_valid("...")); /* a name, not a parent */
        assert_false(content_relative_path_is_valid("."));
        assert_false(content_relative_path_is_valid("a/./b"));
        assert_false(content_relative_path_is_valid(""));
        assert_false(content_relative_path_is_valid("a\x7f"));
}

/* --- the site library ------------------------------------------------------------------------ */

static void test_ingest_tree(void **state) {
        Dirs *d = *state;
        ContentManifest m = {}, back = {};
        SmsError e = SMS_ERROR_NULL;
        _cleanup_free_ char *manifest_path = join(d->site, "PkgLib/LAB00001/1.manifest"), *text = NULL;
        _cleanup_free_ char *fl = NULL;
        size_t size;

        make_source(d->src);
        ingest(d, "LAB00001", 1, d->src, &m);

        assert_int_equal(m.n_files, 6);
        const char *sorted[] = {
                "Setup/config.ini", "Setup/copy of config.ini", "Setup/deep/er/data.bin", "Setup/empty", "big.bin",
                "readme.txt",
        };
        for (size_t i = 0; i < m.n_files; i++) {
                assert_string_equal(m.files[i].path, sorted[i]);
                assert_int_equal(m.files[i].size, file_size_of(d->src, sorted[i]));
        }
        assert_int_equal(m.total_bytes, 16 + 15 + 15 + 0 + 300 * 1024 + (9 << 20) + 12345);
        for (size_t i = 0; i < m.n_files; i++) {
                _cleanup_free_ char *p = join(d->src, m.files[i].path);
                _cleanup_free_ char *stored = filelib_path(d->site, m.files[i].hash);
                char hex[CONTENT_HASH_HEX + 1];
                sha256sum(p, hex);
                assert_string_equal(m.files[i].hash, hex);
                /* FileLib holds the same bytes under that hash */
                sha256sum(stored, hex);
                assert_string_equal(m.files[i].hash, hex);
        }
        assert_string_equal(m.files[3].hash, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        /* the two copies of config.ini are one FileLib file */
        assert_string_equal(m.files[0].hash, m.files[1].hash);
        assert_int_equal(filelib_count(d->site), 5);

        /* the manifest on disk: the documented text, and what content_manifest_read() returns */
        text = read_all(manifest_path, &size);
        assert_non_null(text);
        assert_true(size > 0 && text[size - 1] == '\n');
        {
                char expected[CONTENT_HASH_HEX + 64];
                snprintf(expected, sizeof expected, "%s 16 readme.txt\n", m.files[5].hash);
                assert_non_null(strstr(text, expected));
                snprintf(expected, sizeof expected, "%s 15 Setup/config.ini\n", m.files[0].hash);
                assert_int_equal(strncmp(text, expected, strlen(expected)), 0);
        }
        assert_ok(content_manifest_read(d->site, "LAB00001", 1, &back, &e), e);
        assert_int_equal(back.n_files, m.n_files);
        for (size_t i = 0; i < m.n_files; i++) {
                assert_string_equal(back.files[i].path, m.files[i].path);
                assert_string_equal(back.files[i].hash, m.files[i].hash);
                assert_int_equal(back.files[i].size, m.files[i].size);
        }
        assert_error(content_manifest_read(d->site, "LAB00001", 2, &back, &e), e, SMS_ERROR_NOT_FOUND);
        sms_error_clear(&e);

        /* FileLib files are not writable by accident */
        fl = filelib_path(d->site, m.files[5].hash);
        {
                struct stat st;
                assert_int_equal(stat(fl, &st), 0);
                assert_int_equal(st.st_mode & 0777, 0444);
        }
        assert_no_temporaries(d->site);
        content_manifest_done(&m);
        content_manifest_done(&back);
}

static void test_ingest_single_file(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *wim = join(d->root, "boot.LAB00002.wim");
        ContentManifest m = {};
        char hex[CONTENT_HASH_HEX + 1];

        write_random(d->root, "boot.LAB00002.wim", 2 << 20, 7);
        ingest(d, "LAB00002", 3, wim, &m);
        assert_int_equal(m.n_files, 1);
        assert_string_equal(m.files[0].path, "boot.LAB00002.wim"); /* under its base name */
        assert_int_equal(m.files[0].size, 2 << 20);
        sha256sum(wim, hex);
        assert_string_equal(m.files[0].hash, hex);
        assert_int_equal(filelib_count(d->site), 1);
        assert_true(exists(d->site, "PkgLib/LAB00002/3.manifest"));
        content_manifest_done(&m);

        /* an empty directory is a package without files */
        _cleanup_free_ char *empty = join(d->root, "empty");
        assert_int_equal(mkdir(empty, 0755), 0);
        ingest(d, "LAB00003", 1, empty, &m);
        assert_int_equal(m.n_files, 0);
        assert_int_equal(m.total_bytes, 0);
        content_manifest_done(&m);
}

static void test_single_instance(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *other = join(d->root, "other");
        ContentManifest m = {};

        make_source(d->src);
        ingest(d, "LAB00001", 1, d->src, NULL);
        assert_int_equal(filelib_count(d->site), 5);

        /* Another package with the same big file and one new file: one more FileLib file. */
        write_random(other, "x/big copy.bin", (9 << 20) + 12345, 2);
        write_text(other, "new.txt", "new\n");
        ingest(d, "LAB00004", 1, other, &m);
        assert_int_equal(filelib_count(d->site), 6);
        content_manifest_done(&m);

        /* A second version with one file changed: one more. */
        write_text(d->src, "readme.txt", "package content, v2\n");
        ingest(d, "LAB00001", 2, d->src, &m);
        assert_int_equal(filelib_count(d->site), 7);
        content_manifest_done(&m);

        /* Both versions' manifests are there until gc. */
        assert_true(exists(d->site, "PkgLib/LAB00001/1.manifest"));
        assert_true(exists(d->site, "PkgLib/LAB00001/2.manifest"));
        SmsError e = SMS_ERROR_NULL;
        assert_ok(content_gc(d->site, "LAB00001", 2, &e), e);
        assert_false(exists(d->site, "PkgLib/LAB00001/1.manifest"));
        assert_int_equal(filelib_count(d->site), 6); /* the old readme.txt */
        /* keep_version 0: the package goes, and with it its stat cache */
        assert_true(exists(d->site, "cache/LAB00001.stat"));
        assert_ok(content_gc(d->site, "LAB00001", 0, &e), e);
        assert_false(exists(d->site, "PkgLib/LAB00001"));
        assert_false(exists(d->site, "cache/LAB00001.stat"));
        assert_int_equal(filelib_count(d->site), 2); /* LAB00004's two files */
        assert_ok(content_gc(d->site, "LAB00004", 0, &e), e);
        assert_int_equal(filelib_count(d->site), 0);
        /* gc of a library that does not exist yet is a no-op; of a non-directory, an error */
        _cleanup_free_ char *nowhere = join(d->root, "nowhere");
        assert_error(content_gc(nowhere, "LAB00004", 0, &e), e, SMS_ERROR_INVALID_PARAMETER);
        sms_error_clear(&e);
}

static void test_stat_cache(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *cache = join(d->site, "cache/LAB00001.stat"), *text = NULL;
        Progress p = {};
        SmsError e = SMS_ERROR_NULL;
        ContentManifest m1 = {}, m2 = {};

        make_source(d->src);
        assert_ok(content_site_ingest(d->site, "LAB00001", 1, d->src, on_progress, &p, &m1, &e), e);
        assert_int_equal(p.last_total, m1.total_bytes);
        assert_int_equal(p.max_done, m1.total_bytes);

        text = read_all(cache, NULL);
        assert_non_null(text);
        assert_int_equal(strncmp(text, "smsprovd-stat-cache 1\n", 22), 0);
        assert_non_null(strstr(text, " Setup/copy of config.ini\n"));

        /* Unchanged: nothing is read, so nothing is hashed. */
        p = (Progress) {};
        assert_ok(content_site_ingest(d->site, "LAB00001", 2, d->src, on_progress, &p, &m2, &e), e);
        assert_true(p.calls >= 1);
        assert_int_equal(p.max_done, 0);
        assert_false(p.saw_total_nonzero);
        assert_int_equal(m2.n_files, m1.n_files);
        for (size_t i = 0; i < m1.n_files; i++)
                assert_string_equal(m2.files[i].hash, m1.files[i].hash);
        content_manifest_done(&m2);

        /* One file rewritten with the same size: only it is read again. */
        write_text(d->src, "Setup/config.ini", "[Setup]\nMode=2\n");
        settle();
        p = (Progress) {};
        assert_ok(content_site_ingest(d->site, "LAB00001", 3, d->src, on_progress, &p, &m2, &e), e);
        assert_int_equal(p.last_total, 15);
        assert_int_equal(p.max_done, 15);
        assert_string_not_equal(m2.files[0].hash, m1.files[0].hash);
        assert_string_equal(m2.files[1].hash, m1.files[1].hash);
        content_manifest_done(&m2);

        /* A FileLib file the cache names has gone: the file is read again, not trusted. */
        {
                _cleanup_free_ char *fl = filelib_path(d->site, m1.files[5].hash);
                assert_int_equal(unlink(fl), 0);
                p = (Progress) {};
                assert_ok(content_site_ingest(d->site, "LAB00001", 4, d->src, on_progress, &p, &m2, &e), e);
                assert_int_equal(p.max_done, 16);
                assert_string_equal(m2.files[5].hash, m1.files[5].hash);
                assert_int_equal(access(fl, F_OK), 0);
                content_manifest_done(&m2);
        }

        /* A damaged cache is no cache. */
        write_text(d->site, "cache/LAB00001.stat", "smsprovd-stat-cache 1\ngarbage\n");
        p = (Progress) {};
        assert_ok(content_site_ingest(d->site, "LAB00001", 5, d->src, on_progress, &p, &m2, &e), e);
        assert_int_equal(p.max_done, m1.total_bytes);
        content_manifest_done(&m2);
        content_manifest_done(&m1);
}

/* An ingest of the source as LAB00001: how many bytes it read (0: the stat cache and the list of
 * checked entries settled every file). */
static uint64_t ingest_reads(Dirs *d, uint32_t version) {
        SmsError e = SMS_ERROR_NULL;
        Progress p = {};

        assert_ok(content_site_ingest(d->site, "LAB00001", version, d->src, on_progress, &p, NULL, &e), e);
        return p.max_done;
}

/* Whether the stat cache has an entry for `path`. */
static bool cache_names(Dirs *d, const char *path) {
        _cleanup_free_ char *cache = join(d->site, "cache/LAB00001.stat"), *text = read_all(cache, NULL), *line = NULL;

        assert_non_null(text);
        assert_true(asprintf(&line, " %s\n", path) > 0);
        return strstr(text, line) != NULL;
}

/* A file stamped in the clock tick its read began in may change again without a new stamp: it is
 * read at every ingest, and neither it nor its FileLib entry is recorded, until the clock has
 * passed its stamp; then it is read once more, and recorded. The rule's clock pinned at the
 * stamp of a change is what a file system with multigrain time stamps (Linux 6.13) gives for up
 * to a tick after a change that follows a stat (the stamp is fine, the clock coarse): the state
 * in which test_stat_cache used to read config.ini a third time (31 bytes where 16 were meant),
 * because settle() waited for stamps to change, not for that clock to pass them. */
static void test_stat_cache_racy(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *config = join(d->src, "Setup/config.ini"), *readme_entry = NULL;
        ContentManifest m = {};
        struct stat st;

        make_source(d->src);
        ingest(d, "LAB00001", 1, d->src, &m);
        readme_entry = filelib_path(d->site, m.files[5].hash);
        assert_string_equal(m.files[5].path, "readme.txt");
        assert_int_equal(ingest_reads(d, 1), 0);

        /* Rewritten (15 bytes), and the clock has not passed its stamp: read every time. */
        write_text(d->src, "Setup/config.ini", "[Setup]\nMode=2\n");
        assert_int_equal(stat(config, &st), 0);
        content_clock_pin(content_timespec_ns(&st.st_ctim));
        assert_int_equal(ingest_reads(d, 2), 15);
        assert_false(cache_names(d, "Setup/config.ini"));
        assert_true(cache_names(d, "Setup/copy of config.ini"));
        assert_int_equal(ingest_reads(d, 2), 15);
        assert_false(cache_names(d, "Setup/config.ini"));
        /* ... also when another file must be read (readme.txt's FileLib entry gone: 16 bytes) */
        assert_int_equal(unlink(readme_entry), 0);
        assert_int_equal(ingest_reads(d, 3), 16 + 15);

        /* The clock moves past every stamp so far: read once more, recorded, then trusted. */
        settle();
        assert_int_equal(ingest_reads(d, 3), 15);
        assert_true(cache_names(d, "Setup/config.ini"));
        assert_int_equal(ingest_reads(d, 3), 0);
        assert_int_equal(unlink(readme_entry), 0);
        assert_int_equal(ingest_reads(d, 4), 16);
        assert_int_equal(ingest_reads(d, 4), 0);

        /* The same for a FileLib entry: one stamped now (chmod: same bytes, new ctime) is hashed
         * at every ingest and not listed as checked until the clock has passed its stamp. */
        assert_int_equal(chmod(readme_entry, 0444), 0);
        assert_int_equal(stat(readme_entry, &st), 0);
        content_clock_pin(content_timespec_ns(&st.st_ctim));
        assert_int_equal(ingest_reads(d, 4), 16);
        assert_int_equal(ingest_reads(d, 4), 16);
        settle();
        assert_int_equal(ingest_reads(d, 4), 16);
        assert_int_equal(ingest_reads(d, 4), 0);
        content_manifest_done(&m);
}

static void test_ingest_refuses(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *fifo = join(d->src, "sub/pipe"), *link = join(d->src, "link");
        _cleanup_free_ char *nowhere = join(d->root, "nowhere");
        _cleanup_free_ char *lone_fifo = join(d->root, "fifo");
        SmsError e = SMS_ERROR_NULL;
        ContentManifest m = {};
        int r;

        make_source(d->src);

        assert_int_equal(symlink("readme.txt", link), 0);
        r = content_site_ingest(d->site, "LAB00001", 1, d->src, NULL, NULL, &m, &e);
        assert_error(r, e, SMS_ERROR_INVALID_PARAMETER);
        assert_non_null(strstr(e.message, "/link is a symbolic link"));
        sms_error_clear(&e);
        assert_int_equal(unlink(link), 0);

        mkdir_parents(fifo);
        assert_int_equal(mkfifo(fifo, 0644), 0);
        r = content_site_ingest(d->site, "LAB00001", 1, d->src, NULL, NULL, &m, &e);
        assert_error(r, e, SMS_ERROR_INVALID_PARAMETER);
        assert_non_null(strstr(e.message, "sub/pipe is a FIFO"));
        sms_error_clear(&e);
        assert_int_equal(unlink(fifo), 0);

        /* a symlinked directory inside is refused too */
        assert_int_equal(symlink("Setup", link), 0);
        r = content_site_ingest(d->site, "LAB00001", 1, d->src, NULL, NULL, &m, &e);
        assert_error(r, e, SMS_ERROR_INVALID_PARAMETER);
        sms_error_clear(&e);
        assert_int_equal(unlink(link), 0);

        /* a socket */
        {
                _cleanup_close_ int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                _cleanup_free_ char *sock = join(d->src, "sock");
                assert_true(strlen(sock) < sizeof sa.sun_path);
                strcpy(sa.sun_path, sock);
                assert_int_equal(bind(s, (struct sockaddr *) &sa, sizeof sa), 0);
                r = content_site_ingest(d->site, "LAB00001", 1, d->src, NULL, NULL, &m, &e);
                assert_error(r, e, SMS_ERROR_INVALID_PARAMETER);
                assert_non_null(strstr(e.message, "sock is a socket"));
                sms_error_clear(&e);
                assert_int_equal(unlink(sock), 0);
        }

        /* a name with a control character cannot go into a manifest */
        write_text(d->src, "bad\nname", "x");
        r = content_site_ingest(d->site, "LAB00001", 1, d->src, NULL, NULL, &m, &e);
        assert_error(r, e, SMS_ERROR_INVALID_PARAMETER);
        sms_error_clear(&e);
        {
                _cleanup_free_ char *bad = join(d->src, "bad\nname");
                assert_int_equal(unlink(bad), 0);
        }

        r = content_site_ingest(d->site, "LAB00001", 1, nowhere, NULL, NULL, &m, &e);
        assert_error(r, e, SMS_ERROR_INVALID_PARAMETER);
        sms_error_clear(&e);
        assert_int_equal(mkfifo(lone_fifo, 0644), 0);
        r = content_site_ingest(d->site, "LAB00001", 1, lone_fifo, NULL, NULL, &m, &e); /* must not block */
        assert_error(r, e, SMS_ERROR_INVALID_PARAMETER);
        sms_error_clear(&e);
        r = content_site_ingest(d->site, "../x", 1, d->src, NULL, NULL, &m, &e);
        assert_error(r, e, SMS_ERROR_INVALID_PARAMETER);
        sms_error_clear(&e);
        r = content_site_ingest(d->site, "LAB00001", 0, d->src, NULL, NULL, &m, &e);
        assert_error(r, e, SMS_ERROR_INVALID_PARAMETER);
        sms_error_clear(&e);

        /* nothing was stored by the refused attempts' manifests */
        assert_false(exists(d->site, "PkgLib/LAB00001/1.manifest"));
        /* and now it goes through */
        ingest(d, "LAB00001", 1, d->src, NULL);
        assert_no_temporaries(d->site);
}

static void test_ingest_cancel(void **state) {
        Dirs *d = *state;
        SmsError e = SMS_ERROR_NULL;
        Progress p = { .cancel_at = 1 };
        int r;

        make_source(d->src);
        r = content_site_ingest(d->site, "LAB00001", 1, d->src, on_progress, &p, NULL, &e);
        assert_error(r, e, SMS_ERROR_CANCELED);
        sms_error_clear(&e);
        assert_false(exists(d->site, "PkgLib/LAB00001/1.manifest"));
        assert_int_equal(filelib_count(d->site), 0);
        /* in the middle of the big file (the second progress call comes from within it or later) */
        p = (Progress) { .cancel_at = 2 };
        r = content_site_ingest(d->site, "LAB00001", 1, d->src, on_progress, &p, NULL, &e);
        if (r >= 0)
                skip(); /* too fast for a second call: nothing left to cancel */
        assert_error(r, e, SMS_ERROR_CANCELED);
        sms_error_clear(&e);
        assert_false(exists(d->site, "PkgLib/LAB00001/1.manifest"));
        assert_no_temporaries(d->site);
}

/* --- distribution points --------------------------------------------------------------------- */

static const ContentFile *find_file(const ContentManifest *m, const char *path) {
        for (size_t i = 0; i < m->n_files; i++)
                if (streq(m->files[i].path, path))
                        return &m->files[i];
        fail_msg("%s not in the manifest", path);
        return NULL;
}

static void test_distribute_link_and_copy(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *lib1 = dp_lib(d->dp1), *lib2 = dp_lib(d->dp2);
        _cleanup_free_ char *data1 = datalib_of(d->dp1, "LAB00001"), *data2 = datalib_of(d->dp2, "LAB00001");
        _cleanup_free_ char *site_manifest = NULL, *dp_manifest = NULL, *p1 = NULL, *p2 = NULL;
        ContentDistributeStats s1 = {}, s2 = {};
        ContentManifest m = {};

        make_source(d->src);
        ingest(d, "LAB00001", 1, d->src, &m);
        assert_int_equal(current_version(d->dp1, "LAB00001"), 0);

        distribute(d, d->dp1, "LAB00001", 1, CONTENT_LINK_AUTO, NULL, &s1);
        distribute(d, d->dp2, "LAB00001", 1, CONTENT_LINK_COPY, NULL, &s2);

        /* six files, five distinct contents (the two config.ini are one); from the site always a
         * copy of its own (a reflink where the file system can), whatever the mode */
        assert_int_equal(s1.files_linked, 0);
        assert_int_equal(s1.files_copied, 5);
        assert_int_equal(s1.files_present, 1);
        assert_int_equal(s1.bytes_copied, m.total_bytes - 15);
        assert_int_equal(s2.files_linked, 0);
        assert_int_equal(s2.files_copied, 5);
        assert_int_equal(s2.files_present, 1);
        assert_int_equal(s2.bytes_copied, m.total_bytes - 15);
        assert_int_equal(filelib_count(lib1), 5);
        assert_int_equal(filelib_count(lib2), 5);

        assert_int_equal(current_version(d->dp1, "LAB00001"), 1);
        assert_int_equal(current_version(d->dp2, "LAB00001"), 1);
        {
                _cleanup_free_ char *cur = join(lib1, "PkgLib/LAB00001/current"), *text = read_all(cur, NULL);
                assert_string_equal(text, "1\n");
        }
        assert_trees_equal(d->src, data1);
        assert_trees_equal(d->src, data2);

        for (size_t i = 0; i < m.n_files; i++) {
                const ContentFile *f = &m.files[i];
                char name[CONTENT_HASH_HEX + 4];
                _cleanup_free_ char *fl = NULL;
                content_filelib_name(f->hash, name);
                assert_true(asprintf(&fl, "FileLib/%s", name) > 0);
                /* AUTO on one file system: the DP's own inode, shared only inside the DP */
                assert_int_not_equal(inode_of(lib1, fl), inode_of(d->site, fl));
                assert_int_equal(inode_of(data1, f->path), inode_of(lib1, fl));
                /* COPY: inodes of its own, also between FileLib and DataLib */
                assert_int_not_equal(inode_of(lib2, fl), inode_of(d->site, fl));
                assert_int_not_equal(inode_of(data2, f->path), inode_of(lib2, fl));
        }

        /* the DP's manifest is the site's */
        p1 = join(d->site, "PkgLib/LAB00001/1.manifest");
        p2 = join(lib2, "PkgLib/LAB00001/1.manifest");
        site_manifest = read_all(p1, NULL);
        dp_manifest = read_all(p2, NULL);
        assert_string_equal(site_manifest, dp_manifest);

        /* again (RefreshNow), or a new version of the same content: everything is present and the
         * published tree, all links of FileLib entries, is kept */
        ino_t root = inode_of(data1, ".");
        distribute(d, d->dp1, "LAB00001", 1, CONTENT_LINK_AUTO, NULL, &s1);
        assert_int_equal(s1.files_present, 6);
        assert_int_equal(s1.files_linked + s1.files_copied, 0);
        assert_trees_equal(d->src, data1);
        assert_int_equal(current_version(d->dp1, "LAB00001"), 1);
        assert_int_equal(inode_of(data1, "."), root);
        /* ... unless it is not exactly the manifest's: an extra file, an extra directory, a file
         * that is not the FileLib entry's inode; each time it is rebuilt */
        write_text(data1, "extra.txt", "not in the manifest\n");
        distribute(d, d->dp1, "LAB00001", 1, CONTENT_LINK_AUTO, NULL, NULL);
        assert_int_not_equal(inode_of(data1, "."), root);
        assert_trees_equal(d->src, data1);
        root = inode_of(data1, ".");
        {
                _cleanup_free_ char *dir = join(data1, "Setup/extra");
                assert_int_equal(mkdir(dir, 0755), 0);
        }
        distribute(d, d->dp1, "LAB00001", 1, CONTENT_LINK_AUTO, NULL, NULL);
        assert_int_not_equal(inode_of(data1, "."), root);
        assert_false(exists(data1, "Setup/extra"));
        root = inode_of(data1, ".");
        {
                _cleanup_free_ char *readme = join(data1, "readme.txt");
                assert_int_equal(unlink(readme), 0); /* not through the link: that would write FileLib */
                write_text(data1, "readme.txt", "package content\n"); /* same bytes, a new inode */
        }
        distribute(d, d->dp1, "LAB00001", 1, CONTENT_LINK_AUTO, NULL, NULL);
        assert_int_not_equal(inode_of(data1, "."), root);
        /* ... or a directory moved out and a symlink to it in its place, though every file found
         * through it is the right inode: nothing is followed */
        root = inode_of(data1, ".");
        {
                _cleanup_free_ char *setup = join(data1, "Setup"), *moved = join(d->root, "moved-setup");
                assert_int_equal(rename(setup, moved), 0);
                assert_int_equal(symlink(moved, setup), 0);
        }
        distribute(d, d->dp1, "LAB00001", 1, CONTENT_LINK_AUTO, NULL, NULL);
        assert_int_not_equal(inode_of(data1, "."), root);
        {
                _cleanup_free_ char *setup = join(data1, "Setup");
                struct stat st;
                assert_int_equal(lstat(setup, &st), 0);
                assert_true(S_ISDIR(st.st_mode));
        }
        assert_trees_equal(d->src, data1);
        /* copy mode always rebuilds: its files are no FileLib inodes */
        root = inode_of(data2, ".");
        distribute(d, d->dp2, "LAB00001", 1, CONTENT_LINK_COPY, NULL, NULL);
        assert_int_not_equal(inode_of(data2, "."), root);
        assert_trees_equal(d->src, data2);

        assert_dp_whole(d->dp1);
        assert_dp_whole(d->dp2);
        content_manifest_done(&m);
}

/* What a file is: a rewrite through a temporary name and a rename gives it another inode. */
typedef struct Identity {
        ino_t ino;
        int64_t mtime_ns, ctime_ns;
} Identity;

static Identity identity_at(const char *path) {
        struct stat st;

        if (lstat(path, &st) < 0)
                fail_msg("%s: %m", path);
        return (Identity) { st.st_ino, content_timespec_ns(&st.st_mtim), content_timespec_ns(&st.st_ctim) };
}

static Identity identity_of(const char *dir, const char *rel) {
        _cleanup_free_ char *p = join(dir, rel);
        return identity_at(p);
}

#define assert_same_identity(a, b, what)                                                           \
        do {                                                                                       \
                Identity _a = (a), _b = (b);                                                       \
                if (_a.ino != _b.ino || _a.mtime_ns != _b.mtime_ns || _a.ctime_ns != _b.ctime_ns)  \
                        fail_msg("%s was written", what);                                          \
        } while (0)

/* The files a distribution writes on a DP and an ingest writes in the site library, and every
 * FileLib entry of the package. */
typedef struct LibState {
        Identity manifest, current, checked, tree_root, published, site_stat, site_checked;
        Identity entries[16];
} LibState;

static void lib_state(Dirs *d, const char *dp, uint32_t version, const ContentManifest *m, LibState *ret) {
        _cleanup_free_ char *lib = dp_lib(dp), *manifest = NULL;

        assert_true(m->n_files <= ELEMENTSOF(ret->entries));
        assert_true(asprintf(&manifest, "PkgLib/LAB00001/%" PRIu32 ".manifest", version) > 0);
        *ret = (LibState) {
                .manifest = identity_of(lib, manifest),
                .current = identity_of(lib, "PkgLib/LAB00001/current"),
                .checked = identity_of(lib, "cache/LAB00001.checked"),
                .tree_root = identity_of(lib, "DataLib/LAB00001"),
                .published = identity_of(lib, "DataLib/LAB00001/big.bin"),
                .site_stat = identity_of(d->site, "cache/LAB00001.stat"),
                .site_checked = identity_of(d->site, "cache/LAB00001.checked"),
        };
        for (size_t i = 0; i < m->n_files; i++) {
                _cleanup_free_ char *entry = filelib_path(lib, m->files[i].hash);
                ret->entries[i] = identity_at(entry);
        }
}

static void assert_verify(const char *dp, const char *id, const char *const *expected);

/* What no refresh of unchanged content writes: the DP's list of checked entries, the published
 * tree and a file in it, the site's stat cache and list of checked entries, any FileLib entry. */
static void assert_data_unwritten(const LibState *before, const LibState *after, const ContentManifest *m) {
        assert_same_identity(before->checked, after->checked, "the DP's list of checked entries");
        assert_same_identity(before->tree_root, after->tree_root, "the published tree");
        assert_same_identity(before->published, after->published, "a published file");
        assert_same_identity(before->site_stat, after->site_stat, "the site's stat cache");
        assert_same_identity(before->site_checked, after->site_checked, "the site's list of checked entries");
        for (size_t i = 0; i < m->n_files; i++)
                assert_same_identity(before->entries[i], after->entries[i], m->files[i].path);
}

/* A refresh of unchanged content costs stats. Distributing again the version a DP serves
 * (RefreshNow) writes nothing there; a new version of the same content (RefreshPkgSource) writes
 * `current` and gives the new version's manifest a name (a link to the old one's bytes, in the
 * site library and on the DP), and nothing else: no FileLib entry, published file, list of
 * checked entries or stat cache is copied or written again. */
static void test_refresh_unchanged_writes_nothing(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *lib1 = dp_lib(d->dp1), *data1 = datalib_of(d->dp1, "LAB00001");
        ContentDistributeStats s = {};
        ContentManifest m = {}, m2 = {};
        LibState before, after;

        make_source(d->src);
        ingest(d, "LAB00001", 1, d->src, &m);
        distribute(d, d->dp1, "LAB00001", 1, CONTENT_LINK_AUTO, NULL, NULL);
        lib_state(d, d->dp1, 1, &m, &before);

        /* the same version again */
        ingest(d, "LAB00001", 1, d->src, NULL);
        distribute(d, d->dp1, "LAB00001", 1, CONTENT_LINK_AUTO, NULL, &s);
        assert_int_equal(s.files_present, m.n_files);
        assert_int_equal(s.files_copied + s.files_linked, 0);
        lib_state(d, d->dp1, 1, &m, &after);
        assert_same_identity(before.manifest, after.manifest, "the DP's manifest");
        assert_same_identity(before.current, after.current, "current");
        assert_data_unwritten(&before, &after, &m);

        /* a new version of the same content */
        Identity site_manifest = identity_of(d->site, "PkgLib/LAB00001/1.manifest");
        ingest(d, "LAB00001", 2, d->src, &m2);
        assert_int_equal(identity_of(d->site, "PkgLib/LAB00001/2.manifest").ino, site_manifest.ino);
        distribute(d, d->dp1, "LAB00001", 2, CONTENT_LINK_AUTO, NULL, &s);
        assert_int_equal(s.files_present, m.n_files);
        assert_int_equal(s.files_copied + s.files_linked, 0);
        assert_int_equal(current_version(d->dp1, "LAB00001"), 2);
        assert_false(exists(lib1, "PkgLib/LAB00001/1.manifest"));
        lib_state(d, d->dp1, 2, &m2, &after);
        assert_int_equal(after.manifest.ino, before.manifest.ino);
        assert_int_not_equal(before.current.ino, after.current.ino);
        assert_data_unwritten(&before, &after, &m);

        assert_trees_equal(d->src, data1);
        assert_verify(d->dp1, "LAB00001", (const char *const[]) { NULL });
        assert_dp_whole(d->dp1);
        content_manifest_done(&m);
        content_manifest_done(&m2);
}

static void test_distribute_progress(void **state) {
        Dirs *d = *state;
        Progress p = {};
        SmsError e = SMS_ERROR_NULL;
        ContentManifest m = {};

        make_source(d->src);
        ingest(d, "LAB00001", 1, d->src, &m);
        assert_ok(content_dp_distribute(d->site, d->dp2, "LAB00001", 1, CONTENT_LINK_COPY, NULL, on_progress, &p,
                                        NULL, &e),
                  e);
        assert_int_equal(p.last_total, m.total_bytes);
        assert_int_equal(p.max_done, m.total_bytes);
        /* the first call, one per file, one within the 9 MiB copy, and the one before publishing */
        assert_true(p.calls >= 1 + m.n_files + 1 + 1);
        content_manifest_done(&m);
}

/* Every entry of the DP's list of checked entries is what its FileLib entry is now: a link made or
 * removed by the distribution changed an entry's ctime, and the list must say so, or the next
 * refresh would hash that entry again for nothing. */
static void assert_checked_current(const char *dp, const char *id) {
        _cleanup_free_ char *lib = dp_lib(dp);
        _cleanup_close_ int root = open(lib, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ContentStatCache c = {};

        assert_true(root >= 0);
        content_checked_load(root, id, &c);
        assert_true(c.n_entries > 0);
        for (size_t i = 0; i < c.n_entries; i++) {
                _cleanup_free_ char *entry = filelib_path(lib, c.entries[i].hash);
                struct stat st;
                assert_int_equal(lstat(entry, &st), 0);
                if (!content_stat_entry_matches(&c.entries[i], &st))
                        fail_msg("%s: the list of checked entries has another identity", entry);
        }
        content_stat_cache_done(&c);
}

static void test_distribute_pxe(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *lib2 = dp_lib(d->dp2), *two = join(d->root, "two");
        _cleanup_free_ char *none = join(d->root, "none");
        const char *store = "RemoteInstall/SMSImages/LAB00005/boot.LAB00005.wim";
        ContentManifest m = {};
        SmsError e = SMS_ERROR_NULL;
        char name[CONTENT_HASH_HEX + 4];
        _cleanup_free_ char *fl = NULL, *img = NULL, *wim = NULL;
        int r;

        write_random(d->src, "sources/boot.wim", 1 << 20, 5);
        write_text(d->src, "sources/readme.txt", "boot image\n");
        settle();
        ingest(d, "LAB00005", 1, d->src, &m);
        distribute(d, d->dp1, "LAB00005", 1, CONTENT_LINK_AUTO, "boot.LAB00005.wim", NULL);
        distribute(d, d->dp2, "LAB00005", 1, CONTENT_LINK_COPY, "boot.LAB00005.wim", NULL);

        content_filelib_name(find_file(&m, "sources/boot.wim")->hash, name);
        assert_true(asprintf(&fl, "SCCMContentLib/FileLib/%s", name) > 0);
        assert_int_equal(inode_of(d->dp1, store), inode_of(d->dp1, fl));
        assert_int_not_equal(inode_of(d->dp2, store), inode_of(d->dp2, fl));
        img = join(d->dp2, store);
        wim = join(d->src, "sources/boot.wim");
        {
                char a[CONTENT_HASH_HEX + 1], b[CONTENT_HASH_HEX + 1];
                sha256sum(img, a);
                sha256sum(wim, b);
                assert_string_equal(a, b);
        }
        content_manifest_done(&m);

        /* a new version under a new name replaces the old name */
        write_random(d->src, "sources/boot.wim", 1 << 20, 6);
        settle();
        ingest(d, "LAB00005", 2, d->src, NULL);
        distribute(d, d->dp1, "LAB00005", 2, CONTENT_LINK_AUTO, "boot2.LAB00005.wim", NULL);
        assert_false(exists(d->dp1, store));
        assert_true(exists(d->dp1, "RemoteInstall/SMSImages/LAB00005/boot2.LAB00005.wim"));
        {
                _cleanup_strv_free_ char **l = NULL;
                _cleanup_free_ char *folder = join(d->dp1, "RemoteInstall/SMSImages/LAB00005");
                assert_int_equal(tree_files(folder, &l), 1);
        }
        /* distributed without a PXE name (no longer a PXE DP): the image leaves the store */
        distribute(d, d->dp1, "LAB00005", 2, CONTENT_LINK_AUTO, NULL, NULL);
        assert_false(exists(d->dp1, "RemoteInstall/SMSImages/LAB00005"));
        assert_checked_current(d->dp1, "LAB00005");
        assert_dp_whole(d->dp1);
        assert_no_temporaries(lib2);

        /* PXE needs exactly one .wim, and a plain file name */
        write_text(two, "a.wim", "a");
        write_text(two, "b.WIM", "b");
        write_text(none, "a.txt", "a");
        settle();
        ingest(d, "LAB00006", 1, two, NULL);
        ingest(d, "LAB00007", 1, none, NULL);
        r = content_dp_distribute(d->site, d->dp1, "LAB00006", 1, CONTENT_LINK_AUTO, "x.wim", NULL, NULL, NULL, &e);
        assert_error(r, e, SMS_ERROR_INVALID_PARAMETER);
        sms_error_clear(&e);
        r = content_dp_distribute(d->site, d->dp1, "LAB00007", 1, CONTENT_LINK_AUTO, "x.wim", NULL, NULL, NULL, &e);
        assert_error(r, e, SMS_ERROR_INVALID_PARAMETER);
        sms_error_clear(&e);
        r = content_dp_distribute(d->site, d->dp1, "LAB00005", 2, CONTENT_LINK_AUTO, "../x.wim", NULL, NULL, NULL, &e);
        assert_error(r, e, SMS_ERROR_INVALID_PARAMETER);
        sms_error_clear(&e);
        assert_false(exists(d->dp1, "SCCMContentLib/PkgLib/LAB00006"));
}

static void test_second_version(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *lib1 = dp_lib(d->dp1), *lib2 = dp_lib(d->dp2);
        _cleanup_free_ char *data1 = datalib_of(d->dp1, "LAB00001"), *data2 = datalib_of(d->dp2, "LAB00001");
        ContentManifest m1 = {}, m2 = {};
        SmsError e = SMS_ERROR_NULL;
        ino_t old_root;

        make_source(d->src);
        ingest(d, "LAB00001", 1, d->src, &m1);
        distribute(d, d->dp1, "LAB00001", 1, CONTENT_LINK_AUTO, NULL, NULL);
        distribute(d, d->dp2, "LAB00001", 1, CONTENT_LINK_COPY, NULL, NULL);
        old_root = inode_of(data1, ".");

        write_text(d->src, "readme.txt", "package content, version 2\n");
        settle();
        ingest(d, "LAB00001", 2, d->src, &m2);
        distribute(d, d->dp1, "LAB00001", 2, CONTENT_LINK_AUTO, NULL, NULL);
        distribute(d, d->dp2, "LAB00001", 2, CONTENT_LINK_COPY, NULL, NULL);

        assert_int_equal(current_version(d->dp1, "LAB00001"), 2);
        assert_int_equal(current_version(d->dp2, "LAB00001"), 2);
        assert_trees_equal(d->src, data1);
        assert_trees_equal(d->src, data2);
        assert_int_not_equal(inode_of(data1, "."), old_root); /* a new tree, swapped in */

        /* the superseded manifest and the file only it named are gone from the DPs */
        assert_false(exists(lib1, "PkgLib/LAB00001/1.manifest"));
        assert_true(exists(lib1, "PkgLib/LAB00001/2.manifest"));
        assert_int_equal(filelib_count(lib1), 5);
        assert_int_equal(filelib_count(lib2), 5);
        {
                _cleanup_free_ char *old = filelib_path(lib1, find_file(&m1, "readme.txt")->hash);
                assert_int_equal(access(old, F_OK), -1);
        }
        /* the site keeps both until its own gc */
        assert_int_equal(filelib_count(d->site), 6);
        assert_ok(content_gc(d->site, "LAB00001", 2, &e), e);
        assert_int_equal(filelib_count(d->site), 5);
        /* gc never removes what a DP serves, even when asked to keep another version */
        assert_ok(content_gc(lib1, "LAB00001", 0, &e), e);
        assert_true(exists(lib1, "PkgLib/LAB00001/2.manifest"));
        assert_int_equal(filelib_count(lib1), 5);

        assert_dp_whole(d->dp1);
        assert_dp_whole(d->dp2);
        content_manifest_done(&m1);
        content_manifest_done(&m2);
}

static void test_dp_remove(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *lib1 = dp_lib(d->dp1), *other = join(d->root, "other");
        _cleanup_free_ char *data = datalib_of(d->dp1, "LAB00004");
        SmsError e = SMS_ERROR_NULL;
        Progress p = { .cancel_at = 1 };
        int r;

        make_source(d->src);
        write_random(d->src, "boot.wim", 64 * 1024, 9);
        write_random(other, "big.bin", (9 << 20) + 12345, 2); /* the same as LAB00001's big.bin */
        write_text(other, "own.txt", "own\n");
        settle();
        ingest(d, "LAB00001", 1, d->src, NULL);
        ingest(d, "LAB00004", 1, other, NULL);
        distribute(d, d->dp1, "LAB00001", 1, CONTENT_LINK_AUTO, "boot.LAB00001.wim", NULL);
        distribute(d, d->dp1, "LAB00004", 1, CONTENT_LINK_AUTO, NULL, NULL);
        assert_int_equal(filelib_count(lib1), 7);

        r = content_dp_remove(d->dp1, "LAB00001", on_progress, &p, &e);
        assert_error(r, e, SMS_ERROR_CANCELED);
        sms_error_clear(&e);
        assert_int_equal(current_version(d->dp1, "LAB00001"), 1);

        assert_ok(content_dp_remove(d->dp1, "LAB00001", NULL, NULL, &e), e);
        assert_int_equal(current_version(d->dp1, "LAB00001"), 0);
        assert_false(exists(lib1, "PkgLib/LAB00001"));
        assert_false(exists(lib1, "DataLib/LAB00001"));
        assert_false(exists(d->dp1, "RemoteInstall/SMSImages/LAB00001"));
        /* the shared big.bin stays for LAB00004 */
        assert_int_equal(filelib_count(lib1), 2);
        assert_trees_equal(other, data);
        assert_dp_consistent(d->dp1);

        /* missing pieces are fine */
        assert_ok(content_dp_remove(d->dp1, "LAB00001", NULL, NULL, &e), e);
        assert_ok(content_dp_remove(d->dp2, "LAB00001", NULL, NULL, &e), e);
        assert_ok(content_dp_remove(d->dp1, "LAB00004", NULL, NULL, &e), e);
        assert_int_equal(filelib_count(lib1), 0);
        assert_no_temporaries(d->dp1);
        {
                _cleanup_free_ char *nowhere = join(d->root, "nowhere");
                r = content_dp_remove(nowhere, "LAB00001", NULL, NULL, &e);
                assert_error(r, e, SMS_ERROR_INVALID_PARAMETER);
                sms_error_clear(&e);
        }
}

static void assert_verify(const char *dp, const char *id, const char *const *expected) {
        _cleanup_strv_free_ char **bad = NULL;
        SmsError e = SMS_ERROR_NULL;
        Progress p = {};
        size_t n = 0;

        assert_ok(content_dp_verify(dp, id, on_progress, &p, &bad, &e), e);
        assert_non_null(bad);
        while (expected[n])
                n++;
        if (strv_length(bad) != n)
                fail_msg("verify found %zu bad files (first: %s), expected %zu", strv_length(bad),
                         bad[0] ? bad[0] : "-", n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(bad[i], expected[i]);
        assert_int_equal(p.max_done, p.last_total);
}

static void corrupt(const char *dir, const char *rel) {
        _cleanup_free_ char *p = join(dir, rel);
        _cleanup_close_ int fd = open(p, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, "X", 1, 1000), 1);
}

static void test_verify(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *data1 = datalib_of(d->dp1, "LAB00001"), *data2 = datalib_of(d->dp2, "LAB00001");
        _cleanup_free_ char *lib2 = dp_lib(d->dp2), *empty = NULL;
        _cleanup_strv_free_ char **bad = NULL;
        SmsError e = SMS_ERROR_NULL;
        ContentManifest m = {};
        int r;

        make_source(d->src);
        ingest(d, "LAB00001", 1, d->src, &m);
        distribute(d, d->dp1, "LAB00001", 1, CONTENT_LINK_AUTO, NULL, NULL);
        distribute(d, d->dp2, "LAB00001", 1, CONTENT_LINK_COPY, NULL, NULL);
        assert_verify(d->dp1, "LAB00001", (const char *const[]) { NULL });
        assert_verify(d->dp2, "LAB00001", (const char *const[]) { NULL });

        /* copy mode: a published file changed in place; then a FileLib entry deleted */
        corrupt(data2, "Setup/deep/er/data.bin");
        assert_verify(d->dp2, "LAB00001", (const char *const[]) { "Setup/deep/er/data.bin", NULL });
        {
                _cleanup_free_ char *fl = filelib_path(lib2, find_file(&m, "readme.txt")->hash);
                assert_int_equal(unlink(fl), 0);
        }
        assert_verify(d->dp2, "LAB00001", (const char *const[]) { "Setup/deep/er/data.bin", "readme.txt", NULL });
        /* a published file truncated, one deleted */
        empty = join(data2, "big.bin");
        assert_int_equal(truncate(empty, 100), 0);
        assert_verify(d->dp2, "LAB00001",
                      (const char *const[]) { "Setup/deep/er/data.bin", "big.bin", "readme.txt", NULL });

        /* redistributing repairs what is missing and rebuilds the published tree */
        distribute(d, d->dp2, "LAB00001", 1, CONTENT_LINK_COPY, NULL, NULL);
        assert_verify(d->dp2, "LAB00001", (const char *const[]) { NULL });
        assert_trees_equal(d->src, data2);

        /* link mode: a published file deleted, and one replaced by a symlink */
        {
                _cleanup_free_ char *p = join(data1, "Setup/empty"), *q = join(data1, "Setup/config.ini");
                assert_int_equal(unlink(p), 0);
                assert_int_equal(unlink(q), 0);
                assert_int_equal(symlink("../readme.txt", q), 0);
        }
        assert_verify(d->dp1, "LAB00001", (const char *const[]) { "Setup/config.ini", "Setup/empty", NULL });
        distribute(d, d->dp1, "LAB00001", 1, CONTENT_LINK_AUTO, NULL, NULL);
        assert_verify(d->dp1, "LAB00001", (const char *const[]) { NULL });
        assert_trees_equal(d->src, data1);

        /* a package the DP does not have */
        r = content_dp_verify(d->dp1, "LAB00009", NULL, NULL, &bad, &e);
        assert_error(r, e, SMS_ERROR_NOT_FOUND);
        sms_error_clear(&e);
        content_manifest_done(&m);
}

static void test_dp_root_errors(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *nowhere = join(d->root, "nowhere"), *file = join(d->root, "file");
        SmsError e = SMS_ERROR_NULL;
        uint32_t v;
        int r;

        make_source(d->src);
        ingest(d, "LAB00001", 1, d->src, NULL);
        write_text(d->root, "file", "x");

        r = content_dp_distribute(d->site, nowhere, "LAB00001", 1, CONTENT_LINK_AUTO, NULL, NULL, NULL, NULL, &e);
        assert_error(r, e, SMS_ERROR_INVALID_PARAMETER);
        assert_non_null(strstr(e.message, "does not exist"));
        sms_error_clear(&e);
        r = content_dp_distribute(d->site, file, "LAB00001", 1, CONTENT_LINK_AUTO, NULL, NULL, NULL, NULL, &e);
        assert_error(r, e, SMS_ERROR_INVALID_PARAMETER);
        assert_non_null(strstr(e.message, "not a directory"));
        sms_error_clear(&e);
        r = content_dp_distribute(d->site, "relative/dp", "LAB00001", 1, CONTENT_LINK_AUTO, NULL, NULL, NULL, NULL, &e);
        assert_error(r, e, SMS_ERROR_INVALID_PARAMETER);
        sms_error_clear(&e);
        r = content_dp_distribute(d->site, d->dp1, "LAB00001", 7, CONTENT_LINK_AUTO, NULL, NULL, NULL, NULL, &e);
        assert_error(r, e, SMS_ERROR_NOT_FOUND);
        sms_error_clear(&e);
        r = content_dp_distribute(d->site, d->dp1, "LAB/0001", 1, CONTENT_LINK_AUTO, NULL, NULL, NULL, NULL, &e);
        assert_error(r, e, SMS_ERROR_INVALID_PARAMETER);
        sms_error_clear(&e);
        r = content_dp_distribute(d->site, d->dp1, "LAB00001", 1, (ContentLinkMode) 7, NULL, NULL, NULL, NULL, &e);
        assert_error(r, e, SMS_ERROR_INVALID_PARAMETER);
        sms_error_clear(&e);
        r = content_dp_current_version(nowhere, "LAB00001", &v, &e);
        assert_error(r, e, SMS_ERROR_INVALID_PARAMETER);
        sms_error_clear(&e);
        assert_int_equal(current_version(d->dp1, "LAB00001"), 0);

        /* a damaged `current` is reported, not guessed at */
        distribute(d, d->dp1, "LAB00001", 1, CONTENT_LINK_AUTO, NULL, NULL);
        {
                _cleanup_free_ char *lib = dp_lib(d->dp1);
                write_text(lib, "PkgLib/LAB00001/current", "one\n");
        }
        r = content_dp_current_version(d->dp1, "LAB00001", &v, &e);
        assert_error(r, e, SMS_ERROR_FAILED);
        sms_error_clear(&e);
}

/* --- interruptions --------------------------------------------------------------------------- */

/* v1 on the DP, v2 (one file changed, one 9 MiB file added) in the site library. */
static void prepare_two_versions(Dirs *d, const char *dp, ContentLinkMode mode) {
        make_source(d->src);
        ingest(d, "LAB00001", 1, d->src, NULL);
        distribute(d, dp, "LAB00001", 1, mode, NULL, NULL);
        write_text(d->src, "readme.txt", "package content, version 2\n");
        write_random(d->src, "Setup/added.bin", (9 << 20) + 7, 3);
        settle();
        ingest(d, "LAB00001", 2, d->src, NULL);
}

/* The DP still serves v1, exactly. */
static void assert_still_v1(Dirs *d, const char *dp) {
        _cleanup_free_ char *lib = dp_lib(dp), *readme = NULL, *text = NULL;
        _cleanup_free_ char *data = datalib_of(dp, "LAB00001");

        assert_int_equal(current_version(dp, "LAB00001"), 1);
        assert_false(exists(lib, "PkgLib/LAB00001/2.manifest"));
        assert_false(exists(data, "Setup/added.bin"));
        readme = join(data, "readme.txt");
        text = read_all(readme, NULL);
        assert_string_equal(text, "package content\n");
        assert_dp_whole(dp);
}

static void test_cancel_first_progress(void **state) {
        Dirs *d = *state;
        SmsError e = SMS_ERROR_NULL;
        Progress p = { .cancel_at = 1 };
        int r;

        prepare_two_versions(d, d->dp1, CONTENT_LINK_AUTO);
        r = content_dp_distribute(d->site, d->dp1, "LAB00001", 2, CONTENT_LINK_AUTO, NULL, on_progress, &p, NULL, &e);
        assert_error(r, e, SMS_ERROR_CANCELED);
        sms_error_clear(&e);
        assert_int_equal(p.calls, 1);
        assert_still_v1(d, d->dp1);
        assert_verify(d->dp1, "LAB00001", (const char *const[]) { NULL });
}

/* Cancel at the first, second, … progress call until the distribution gets through; after each
 * stop, the DP is exactly as before. */
static void cancel_everywhere(Dirs *d, const char *dp, ContentLinkMode mode) {
        unsigned n;

        prepare_two_versions(d, dp, mode);
        for (n = 1; n < 1000; n++) {
                SmsError e = SMS_ERROR_NULL;
                Progress p = { .cancel_at = n };
                int r = content_dp_distribute(d->site, dp, "LAB00001", 2, mode, NULL, on_progress, &p, NULL, &e);
                if (r >= 0)
                        break;
                assert_error(r, e, SMS_ERROR_CANCELED);
                sms_error_clear(&e);
                assert_still_v1(d, dp);
        }
        /* a first call, one per file (7), the one before publishing, and (copy mode) one in the
         * 9 MiB copy */
        assert_true(n >= (mode == CONTENT_LINK_COPY ? 11u : 10u));
        assert_int_equal(current_version(dp, "LAB00001"), 2);
        {
                _cleanup_free_ char *data = datalib_of(dp, "LAB00001");
                assert_trees_equal(d->src, data);
        }
        assert_dp_whole(dp);
}

static void test_cancel_everywhere_link(void **state) {
        Dirs *d = *state;
        cancel_everywhere(d, d->dp1, CONTENT_LINK_AUTO);
}

static void test_cancel_everywhere_copy(void **state) {
        Dirs *d = *state;
        cancel_everywhere(d, d->dp2, CONTENT_LINK_COPY);
}

/* In the child of test_killed(): where the first progress report is announced and then waits for
 * the kill (-1: no waiting). */
static int killed_announce_fd = -1;

static bool slow_progress(void *userdata, uint64_t done, uint64_t total, const char *text) {
        if (killed_announce_fd >= 0) {
                (void) !write(killed_announce_fd, "p", 1);
                for (;;)
                        pause();
        }
        usleep(3000);
        return true;
}

/* A process killed at some moment of a distribution leaves a consistent DP (temporaries aside),
 * and the next distribution cleans up after it. */
static void test_killed(void **state) {
        Dirs *d = *state;
        static const unsigned delays_ms[] = { 0, 1, 2, 4, 7, 10, 15, 20, 30, 45, 60, 90, 150, 250, 400, 700, 1500 };
        unsigned served[3] = {};

        prepare_two_versions(d, d->dp2, CONTENT_LINK_COPY);
        /* Round 0 is killed at a known place, mid-copy (its first progress report), so that one kill
         * surely lands before the switch; the other rounds' delays only spread the kills, and what
         * is checked holds wherever they land. */
        for (size_t i = 0; i < ELEMENTSOF(delays_ms); i++) {
                int status, announce[2];
                assert_int_equal(pipe2(announce, O_CLOEXEC), 0);
                pid_t pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                        SmsError e = SMS_ERROR_NULL;
                        if (i == 0)
                                killed_announce_fd = announce[1];
                        int r = content_dp_distribute(d->site, d->dp2, "LAB00001", 2, CONTENT_LINK_COPY, NULL,
                                                      slow_progress, NULL, NULL, &e);
                        _exit(r < 0 ? 1 : 0);
                }
                close(announce[1]);
                if (i == 0) {
                        char c;
                        assert_int_equal(read(announce[0], &c, 1), 1);
                } else
                        usleep(delays_ms[i] * 1000);
                close(announce[0]);
                assert_int_equal(kill(pid, SIGKILL), 0);
                assert_int_equal(waitpid(pid, &status, 0), pid);

                assert_dp_state(d->dp2, true);
                uint32_t v = current_version(d->dp2, "LAB00001");
                assert_true(v == 1 || v == 2);
                served[v]++;

                /* back to v1 for the next round; this also collects what the dead one left */
                distribute(d, d->dp2, "LAB00001", 1, CONTENT_LINK_COPY, NULL, NULL);
                assert_dp_whole(d->dp2);
        }
        print_message("killed distributions: %u left v1, %u had finished v2\n", served[1], served[2]);
        assert_true(served[1] > 0);
}

/* --- file systems that refuse ---------------------------------------------------------------- */

static bool mount_tmpfs(Dirs *d, const char *size) {
        _cleanup_free_ char *opts = NULL;

        assert_true(mkdir(d->mnt, 0755) == 0 || errno == EEXIST);
        assert_true(asprintf(&opts, "size=%s,mode=0755", size) > 0);
        if (mount("tmpfs", d->mnt, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0) {
                print_message("cannot mount a tmpfs (%s): skipping\n", strerror(errno));
                return false;
        }
        return true;
}

static void test_readonly_dp(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *lib = NULL, *data = NULL;
        ContentDistributeStats s = {};
        SmsError e = SMS_ERROR_NULL;
        int r;

        if (!mount_tmpfs(d, "64M"))
                skip();
        lib = dp_lib(d->mnt);
        data = datalib_of(d->mnt, "LAB00001");
        prepare_two_versions(d, d->dp1, CONTENT_LINK_AUTO);
        /* another file system than the site library: AUTO falls back to copies for FileLib, and
         * still links DataLib to the DP's own FileLib */
        distribute(d, d->mnt, "LAB00001", 1, CONTENT_LINK_AUTO, NULL, &s);
        assert_int_equal(s.files_linked, 0);
        assert_int_equal(s.files_copied, 5);
        {
                ContentManifest m = {};
                assert_ok(content_manifest_read(d->site, "LAB00001", 1, &m, &e), e);
                _cleanup_free_ char *fl = filelib_path(lib, find_file(&m, "readme.txt")->hash);
                struct stat st;
                assert_int_equal(stat(fl, &st), 0);
                assert_int_equal(inode_of(data, "readme.txt"), st.st_ino);
                content_manifest_done(&m);
        }

        if (mount(NULL, d->mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0) {
                print_message("cannot remount read-only (%s): skipping\n", strerror(errno));
                skip();
        }
        r = content_dp_distribute(d->site, d->mnt, "LAB00001", 2, CONTENT_LINK_AUTO, NULL, NULL, NULL, NULL, &e);
        assert_error(r, e, SMS_ERROR_FAILED);
        assert_non_null(strstr(e.message, "Read-only file system"));
        sms_error_clear(&e);
        r = content_dp_remove(d->mnt, "LAB00001", NULL, NULL, &e);
        assert_error(r, e, SMS_ERROR_FAILED);
        sms_error_clear(&e);

        /* still served, intact */
        assert_int_equal(current_version(d->mnt, "LAB00001"), 1);
        assert_verify(d->mnt, "LAB00001", (const char *const[]) { NULL });
        assert_dp_consistent(d->mnt);
        assert_int_equal(umount2(d->mnt, MNT_DETACH), 0);
}

static void test_full_dp(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *small = join(d->root, "small");
        SmsError e = SMS_ERROR_NULL;
        int r;

        if (!mount_tmpfs(d, "2M"))
                skip();
        write_random(small, "a.bin", 100 * 1024, 11);
        write_text(small, "dir/b.txt", "b\n");
        settle();
        ingest(d, "LAB00001", 1, small, NULL);
        distribute(d, d->mnt, "LAB00001", 1, CONTENT_LINK_AUTO, NULL, NULL);

        write_random(small, "dir/huge.bin", 3 << 20, 12);
        settle();
        ingest(d, "LAB00001", 2, small, NULL);
        for (int mode = CONTENT_LINK_AUTO; mode <= CONTENT_LINK_COPY; mode++) {
                r = content_dp_distribute(d->site, d->mnt, "LAB00001", 2, (ContentLinkMode) mode, NULL, NULL, NULL,
                                          NULL, &e);
                assert_error(r, e, SMS_ERROR_OUT_OF_DISK_SPACE);
                assert_non_null(strstr(e.message, "No space left on device"));
                sms_error_clear(&e);
                assert_int_equal(current_version(d->mnt, "LAB00001"), 1);
                assert_verify(d->mnt, "LAB00001", (const char *const[]) { NULL });
                assert_dp_whole(d->mnt);
        }
        /* a full site library is the same error */
        assert_int_equal(umount2(d->mnt, MNT_DETACH), 0);
        assert_true(mount_tmpfs(d, "1M"));
        {
                _cleanup_free_ char *site = join(d->mnt, "contentlib");
                r = content_site_ingest(site, "LAB00001", 2, small, NULL, NULL, NULL, &e);
                assert_error(r, e, SMS_ERROR_OUT_OF_DISK_SPACE);
                sms_error_clear(&e);
                assert_false(exists(site, "PkgLib/LAB00001/2.manifest"));
                assert_no_temporaries(site);
        }
        assert_int_equal(umount2(d->mnt, MNT_DETACH), 0);
}

/* --- concurrency ----------------------------------------------------------------------------- */

typedef struct Worker {
        Dirs *d;
        const char *id;
        uint32_t versions;
        int r;
        char message[256];
} Worker;

static void *distribute_versions(void *arg) {
        Worker *w = arg;

        for (uint32_t v = 1; v <= w->versions && w->r >= 0; v++) {
                SmsError e = SMS_ERROR_NULL;
                w->r = content_dp_distribute(w->d->site, w->d->dp1, w->id, v, CONTENT_LINK_AUTO, NULL, NULL, NULL,
                                             NULL, &e);
                if (w->r < 0)
                        snprintf(w->message, sizeof w->message, "%s v%u: %s", w->id, v, e.message ? e.message : "?");
                sms_error_clear(&e);
        }
        return NULL;
}

/* Two packages that share content go to one DP at once, each version's gc racing the other's
 * distribution. */
static void test_concurrent_distributions(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *other = join(d->root, "other"), *lib = dp_lib(d->dp1);
        const uint32_t versions = 6;
        char text[64];

        for (uint32_t v = 1; v <= versions; v++) {
                write_random(d->src, "shared.bin", 2 << 20, 1);
                write_random(other, "shared.bin", 2 << 20, 1);
                for (unsigned k = 0; k < 20; k++) {
                        char name[32];
                        snprintf(name, sizeof name, "dir%u/f%u.txt", k % 4, k);
                        snprintf(text, sizeof text, "file %u of version %u\n", k, v);
                        write_text(d->src, name, text);
                        snprintf(text, sizeof text, "file %u of version %u\n", k, v + 1); /* one behind */
                        write_text(other, name, text);
                }
                settle();
                ingest(d, "LAB0000A", v, d->src, NULL);
                ingest(d, "LAB0000B", v, other, NULL);
        }

        for (unsigned round = 0; round < 2; round++) {
                Worker a = { .d = d, .id = "LAB0000A", .versions = versions };
                Worker b = { .d = d, .id = "LAB0000B", .versions = versions };
                pthread_t ta, tb;
                assert_int_equal(pthread_create(&ta, NULL, distribute_versions, &a), 0);
                assert_int_equal(pthread_create(&tb, NULL, distribute_versions, &b), 0);
                assert_int_equal(pthread_join(ta, NULL), 0);
                assert_int_equal(pthread_join(tb, NULL), 0);
                if (a.r < 0 || b.r < 0)
                        fail_msg("%s %s", a.message, b.message);
                assert_int_equal(current_version(d->dp1, "LAB0000A"), versions);
                assert_int_equal(current_version(d->dp1, "LAB0000B"), versions);
                assert_dp_consistent(d->dp1);
                assert_verify(d->dp1, "LAB0000A", (const char *const[]) { NULL });
                assert_verify(d->dp1, "LAB0000B", (const char *const[]) { NULL });
                /* 20 + 20 texts sharing 19 (B's version v+1 texts are A's next ones... only for
                 * the last version they are not), plus shared.bin */
                uint64_t n = filelib_count(lib);
                assert_true(n >= 21 && n <= 41);
                /* start over from nothing */
                SmsError e = SMS_ERROR_NULL;
                assert_ok(content_dp_remove(d->dp1, "LAB0000A", NULL, NULL, &e), e);
                assert_ok(content_dp_remove(d->dp1, "LAB0000B", NULL, NULL, &e), e);
                assert_int_equal(filelib_count(lib), 0);
        }
        assert_no_temporaries(d->dp1);
}

/* --- integrity: damage is found, repaired, never published, never spread ----------------------- */

typedef enum Where { WHERE_PUBLISHED, WHERE_DP_FILELIB, WHERE_SITE_FILELIB, _WHERE_MAX } Where;

static const char *const where_names[] = { "dp1's published file", "dp1's FileLib entry", "the site's FileLib entry" };

/* st_dev and st_ino of a file, to tell whether two names are one inode. */
static void dev_ino(const char *path, dev_t *dev, ino_t *ino) {
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        *dev = st.st_dev;
        *ino = st.st_ino;
}

static void assert_own_inodes(Dirs *d, const char *hash) {
        _cleanup_free_ char *l1 = dp_lib(d->dp1), *l2 = dp_lib(d->dp2);
        _cleanup_free_ char *a = filelib_path(d->site, hash), *b = filelib_path(l1, hash), *c = filelib_path(l2, hash);
        dev_t da, db, dc;
        ino_t ia, ib, ic;

        dev_ino(a, &da, &ia);
        dev_ino(b, &db, &ib);
        dev_ino(c, &dc, &ic);
        if ((da == db && ia == ib) || (da == dc && ia == ic) || (db == dc && ib == ic))
                fail_msg("FileLib/%s: site %lu, dp1 %lu, dp2 %lu share an inode", hash, (unsigned long) ia,
                         (unsigned long) ib, (unsigned long) ic);
}

static void test_damage_repaired(void **state) {
        Dirs *d = *state;
        unsigned n = 0;

        for (Where where = 0; where < _WHERE_MAX; where++)
                for (Damage how = 0; how < _DAMAGE_MAX; how++, n++) {
                        _cleanup_free_ char *src = NULL, *id = NULL, *data1 = NULL, *data2 = NULL, *lib1 = dp_lib(d->dp1);
                        _cleanup_free_ char *target = NULL, *before2 = NULL, *after2 = NULL, *wim2 = NULL;
                        ContentManifest m = {};
                        SmsError e = SMS_ERROR_NULL;
                        const ContentFile *wim;
                        size_t size2 = 0, size2b = 0;
                        int r;

                        print_message("damage (%s) of %s\n", damage_names[how], where_names[where]);
                        /* content of its own per case: nothing in FileLib is shared between cases */
                        assert_true(asprintf(&src, "%s/case%u", d->src, n) > 0);
                        assert_true(asprintf(&id, "DMG%05u", n + 1) > 0);
                        write_random(src, "os.wim", (1 << 20) + 77, 1000 + n);
                        write_text(src, "sub/readme.txt", "unchanged\n");
                        settle();
                        ingest(d, id, 1, src, &m);
                        distribute(d, d->dp1, id, 1, CONTENT_LINK_AUTO, NULL, NULL);
                        distribute(d, d->dp2, id, 1, CONTENT_LINK_AUTO, NULL, NULL);
                        wim = find_file(&m, "os.wim");
                        assert_own_inodes(d, wim->hash);
                        data1 = datalib_of(d->dp1, id);
                        data2 = datalib_of(d->dp2, id);
                        wim2 = join(data2, "os.wim");
                        before2 = read_all(wim2, &size2);

                        target = where == WHERE_PUBLISHED    ? join(data1, "os.wim")
                                 : where == WHERE_DP_FILELIB ? filelib_path(lib1, wim->hash)
                                                             : filelib_path(d->site, wim->hash);
                        damage(target, how, "/etc/hostname");

                        if (where == WHERE_SITE_FILELIB) {
                                /* the DPs have copies of their own: untouched */
                                assert_verify(d->dp1, id, (const char *const[]) { NULL });
                                /* dp1 has a good copy of its own: nothing to take from the site */
                                distribute(d, d->dp1, id, 1, CONTENT_LINK_AUTO, NULL, NULL);
                                assert_verify(d->dp1, id, (const char *const[]) { NULL });
                                /* a DP that needs the file: its distribution fails, publishes nothing */
                                _cleanup_free_ char *dp3 = NULL;
                                assert_true(asprintf(&dp3, "%s/dp3-%u", d->root, n) > 0);
                                assert_int_equal(mkdir(dp3, 0755), 0);
                                r = content_dp_distribute(d->site, dp3, id, 1, CONTENT_LINK_AUTO, NULL, NULL, NULL,
                                                          NULL, &e);
                                assert_error(r, e, SMS_ERROR_FAILED);
                                if (!strstr(e.message, "os.wim"))
                                        fail_msg("expected a message naming os.wim, got: %s", e.message);
                                sms_error_clear(&e);
                                assert_int_equal(current_version(dp3, id), 0);
                                /* the ingest of the unchanged source (RefreshPkgSource) repairs it */
                                ContentManifest again = {};
                                ingest(d, id, 1, src, &again);
                                assert_string_equal(find_file(&again, "os.wim")->hash, wim->hash);
                                content_manifest_done(&again);
                                _cleanup_free_ char *site_wim = filelib_path(d->site, wim->hash);
                                _cleanup_free_ char *src_wim = join(src, "os.wim");
                                size_t a, b;
                                _cleanup_free_ char *x = read_all(site_wim, &a), *y = read_all(src_wim, &b);
                                assert_non_null(x);
                                assert_int_equal(a, b);
                                assert_memory_equal(x, y, a);
                                distribute(d, dp3, id, 1, CONTENT_LINK_AUTO, NULL, NULL);
                                assert_verify(dp3, id, (const char *const[]) { NULL });
                        } else {
                                /* found by verify, named */
                                assert_verify(d->dp1, id, (const char *const[]) { "os.wim", NULL });
                                /* repaired by distributing again (RefreshNow) */
                                distribute(d, d->dp1, id, 1, CONTENT_LINK_AUTO, NULL, NULL);
                        }
                        assert_verify(d->dp1, id, (const char *const[]) { NULL });
                        assert_trees_equal(src, data1);
                        assert_own_inodes(d, wim->hash);
                        /* dp2 never changed */
                        after2 = read_all(wim2, &size2b);
                        assert_int_equal(size2, size2b);
                        assert_memory_equal(before2, after2, size2);
                        assert_verify(d->dp2, id, (const char *const[]) { NULL });
                        content_manifest_done(&m);
                }
}

/* Damage that leaves the identity alone cannot be seen by a stat: once verify has found it, the
 * next distribution hashes the entry again and replaces it. */
static void test_verify_marks_for_repair(void **state) {
        Dirs *d = *state;
        _cleanup_free_ char *lib1 = dp_lib(d->dp1), *data1 = datalib_of(d->dp1, "LAB00001"), *entry = NULL;
        _cleanup_free_ char *checked = join(lib1, "cache/LAB00001.checked"), *text = NULL;
        ContentManifest m = {};
        const ContentFile *big;

        make_source(d->src);
        ingest(d, "LAB00001", 1, d->src, &m);
        distribute(d, d->dp1, "LAB00001", 1, CONTENT_LINK_AUTO, NULL, NULL);
        big = find_file(&m, "big.bin");
        entry = filelib_path(lib1, big->hash);
        text = read_all(checked, NULL);
        assert_non_null(text);
        assert_non_null(strstr(text, big->hash));
        /* a bad sector, as far as a stat can tell: the recorded identity is what the file has now */
        damage(entry, DAMAGE_IN_PLACE, NULL);
        {
                struct stat st;
                assert_int_equal(lstat(entry, &st), 0);
                ContentStatCache c = {};
                _cleanup_close_ int root = open(lib1, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                content_checked_load(root, "LAB00001", &c);
                for (size_t i = 0; i < c.n_entries; i++)
                        if (streq(c.entries[i].hash, big->hash)) {
                                c.entries[i].inode = st.st_ino;
                                c.entries[i].size = (uint64_t) st.st_size;
                                c.entries[i].mtime_ns = content_timespec_ns(&st.st_mtim);
                                c.entries[i].ctime_ns = content_timespec_ns(&st.st_ctim);
                        }
                assert_int_equal(content_checked_save(root, "LAB00001", &c, NULL), 0);
                content_stat_cache_done(&c);
        }
        /* a refresh trusts the stat ... */
        distribute(d, d->dp1, "LAB00001", 1, CONTENT_LINK_AUTO, NULL, NULL);
        assert_verify(d->dp1, "LAB00001", (const char *const[]) { "big.bin", NULL });
        /* ... until verify has marked it */
        distribute(d, d->dp1, "LAB00001", 1, CONTENT_LINK_AUTO, NULL, NULL);
        assert_verify(d->dp1, "LAB00001", (const char *const[]) { NULL });
        assert_trees_equal(d->src, data1);
        content_manifest_done(&m);
}

/* A scrub hashes every site library file: what differs is named, removed, and taken again from
 * the source by the next ingest; the DPs keep their own good copies. */
static void test_scrub(void **state) {
        Dirs *d = *state;
        _cleanup_strv_free_ char **bad = NULL, **packages = NULL;
        _cleanup_free_ char *entry = NULL;
        SmsError e = SMS_ERROR_NULL;
        ContentManifest m = {};
        const ContentFile *big;

        /* an empty library: nothing to do */
        assert_ok(content_site_scrub(d->site, NULL, NULL, &bad, &packages, &e), e);
        assert_null(bad[0]);
        bad = (strv_free(bad), NULL);
        packages = (strv_free(packages), NULL);

        make_source(d->src);
        ingest(d, "LAB00001", 1, d->src, &m);
        distribute(d, d->dp1, "LAB00001", 1, CONTENT_LINK_AUTO, NULL, NULL);
        assert_ok(content_site_scrub(d->site, NULL, NULL, &bad, &packages, &e), e);
        assert_null(bad[0]);
        assert_null(packages[0]);
        bad = (strv_free(bad), NULL);
        packages = (strv_free(packages), NULL);

        big = find_file(&m, "big.bin");
        entry = filelib_path(d->site, big->hash);
        damage(entry, DAMAGE_IN_PLACE, NULL);
        assert_ok(content_site_scrub(d->site, NULL, NULL, &bad, &packages, &e), e);
        assert_int_equal(strv_length(bad), 1);
        assert_string_equal(bad[0], big->hash);
        assert_int_equal(strv_length(packages), 1);
        assert_string_equal(packages[0], "LAB00001");
        assert_false(exists(d->site, entry + strlen(d->site) + 1));
        assert_verify(d->dp1, "LAB00001", (const char *const[]) { NULL });

        ingest(d, "LAB00001", 1, d->src, NULL);
        assert_true(exists(d->site, entry + strlen(d->site) + 1));
        bad = (strv_free(bad), NULL);
        packages = (strv_free(packages), NULL);
        assert_ok(content_site_scrub(d->site, NULL, NULL, &bad, &packages, &e), e);
        assert_null(bad[0]);
        content_manifest_done(&m);
}

int main(void) {
#define DIRS_TEST(t) cmocka_unit_test_setup_teardown(t, setup, teardown) /* each in new directories */
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_manifest_parse),
                DIRS_TEST(test_ingest_tree),
                DIRS_TEST(test_ingest_single_file),
                DIRS_TEST(test_single_instance),
                DIRS_TEST(test_stat_cache),
                DIRS_TEST(test_stat_cache_racy),
                DIRS_TEST(test_ingest_refuses),
                DIRS_TEST(test_ingest_cancel),
                DIRS_TEST(test_distribute_link_and_copy),
                DIRS_TEST(test_refresh_unchanged_writes_nothing),
                DIRS_TEST(test_distribute_progress),
                DIRS_TEST(test_distribute_pxe),
                DIRS_TEST(test_second_version),
                DIRS_TEST(test_dp_remove),
                DIRS_TEST(test_verify),
                DIRS_TEST(test_dp_root_errors),
                DIRS_TEST(test_cancel_first_progress),
                DIRS_TEST(test_cancel_everywhere_link),
                DIRS_TEST(test_cancel_everywhere_copy),
                DIRS_TEST(test_killed),
                DIRS_TEST(test_readonly_dp),
                DIRS_TEST(test_full_dp),
                DIRS_TEST(test_concurrent_distributions),
                DIRS_TEST(test_damage_repaired),
                DIRS_TEST(test_verify_marks_for_repair),
                DIRS_TEST(test_scrub),
        };
        /* TEST_FILTER=test_verify (a glob) runs only the tests it names */
        if (getenv("TEST_FILTER"))
                cmocka_set_test_filter(getenv("TEST_FILTER"));
        return cmocka_run_group_tests(tests, NULL, NULL);
}
