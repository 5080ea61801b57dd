/* SPDX-License-Identifier: MIT */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <wimlib.h>

#include "hive-gen.h"
#include "imaging/imaging-internal.h"
#include "smsprov/macro.h"
#include "wim-gen.h"

static int mkdir_parents(const char *path) {
        char buf[PATH_MAX];

        if (strlen(path) >= sizeof buf)
                return -ENAMETOOLONG;
        strcpy(buf, path);
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = 0;
                if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        return 0;
}

static int write_all(int fd, const void *data, size_t size) {
        for (const char *p = data; size > 0;) {
                ssize_t n = write(fd, p, size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                size -= (size_t) n;
        }
        return 0;
}

int test_write_file(const char *path, const void *data, size_t size) {
        _cleanup_close_ int fd = -1;
        int r;

        r = mkdir_parents(path);
        if (r < 0)
                return r;
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        r = write_all(fd, data, size);
        if (r < 0)
                return r;
        return close(TAKE_FD(fd)) < 0 ? -errno : 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int test_rm_rf(const char *path) {
        if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
                return errno == ENOENT ? 0 : -errno;
        return 0;
}

/* xorshift64*: a fixed, fast sequence; wimlib cannot compress it. */
static uint64_t next_random(uint64_t *state) {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        return *state * UINT64_C(2685821657736338717);
}

static int write_filler(const char *path, uint64_t size, bool random) {
        static const char text[] = "WinPE filler text: the quick brown fox jumps over the lazy dog.\n";
        _cleanup_close_ int fd = -1;
        uint64_t state = UINT64_C(0x9E3779B97F4A7C15);
        char buf[64 * 1024];
        int r;

        r = mkdir_parents(path);
        if (r < 0)
                return r;
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        if (!random)
                for (size_t i = 0; i < sizeof buf; i++)
                        buf[i] = text[i % (sizeof text - 1)];
        while (size > 0) {
                size_t n = size < sizeof buf ? (size_t) size : sizeof buf;
                if (random)
                        for (size_t i = 0; i + 8 <= sizeof buf; i += 8) {
                                uint64_t v = next_random(&state);
                                memcpy(buf + i, &v, 8);
                        }
                r = write_all(fd, buf, n);
                if (r < 0)
                        return r;
                size -= n;
        }
        return close(TAKE_FD(fd)) < 0 ? -errno : 0;
}

static int make_temp_dir_beside(const char *path, char **ret) {
        _cleanup_free_ char *copy = strdup(path), *template = NULL;

        if (!copy)
                return -ENOMEM;
        if (asprintf(&template, "%s/.wim-gen-XXXXXX", dirname(copy)) < 0)
                return -ENOMEM;
        if (!mkdtemp(template))
                return -errno;
        *ret = TAKE_PTR(template);
        return 0;
}

static int file_in(const char *dir, const char *rel, const void *data, size_t size) {
        _cleanup_free_ char *p = NULL;
        if (asprintf(&p, "%s/%s", dir, rel) < 0)
                return -ENOMEM;
        return test_write_file(p, data, size);
}

static const char *arch_name(const char *arch_code) {
        if (streq(arch_code, "0"))
                return "x86";
        if (streq(arch_code, "5"))
                return "ARM";
        if (streq(arch_code, "6"))
                return "IA64";
        if (streq(arch_code, "12"))
                return "ARM64";
        return "x64";
}

static int capture(const char *tree, const char *path, bool compress, const char *const *props,
                   size_t n_props) {
        _cleanup_(wimlib_freep) WIMStruct *wim = NULL;
        int r;

        r = wimlib_create_new_wim(compress ? WIMLIB_COMPRESSION_TYPE_LZX : WIMLIB_COMPRESSION_TYPE_NONE,
                                  &wim);
        if (r == 0)
                r = wimlib_add_image(wim, tree, props[1], NULL, 0);
        /* Properties go into the WIMStruct's XML before the write that stores them. */
        for (size_t i = 0; r == 0 && i < n_props; i += 2)
                r = wimlib_set_image_property(wim, 1, props[i], props[i + 1]);
        if (r == 0)
                r = wimlib_write(wim, path, WIMLIB_ALL_IMAGES, 0, 0);
        if (r != 0) {
                fprintf(stderr, "wim-gen: %s: wimlib: %s\n", path, wimlib_get_error_string(r));
                return -EIO;
        }
        return 0;
}

int test_make_winpe_wim(const char *path, const char *arch_code, bool with_system_hive, uint64_t filler_bytes,
                        bool compress) {
        static const char winpeshl[] = "[LaunchApps]\r\n%SYSTEMDRIVE%\\Windows\\System32\\cmd.exe\r\n";
        _cleanup_free_ char *tree = NULL, *name = NULL, *p = NULL;
        char binary[4096];
        uint64_t state = 42;
        int r;

        imaging_wimlib_init();
        r = make_temp_dir_beside(path, &tree);
        if (r < 0)
                return r;

        for (size_t i = 0; i + 8 <= sizeof binary; i += 8) {
                uint64_t v = next_random(&state);
                memcpy(binary + i, &v, 8);
        }
        r = file_in(tree, "Windows/System32/winpeshl.ini", winpeshl, strlen(winpeshl));
        if (r == 0)
                r = file_in(tree, "Windows/System32/cmd.exe", binary, sizeof binary);
        if (r == 0)
                r = file_in(tree, "Windows/System32/drivers/null.sys", binary, 512);
        if (r == 0)
                r = file_in(tree, "Windows/Fonts/segoeui.ttf", "font", 4);
        if (r == 0 && with_system_hive) {
                if (asprintf(&p, "%s/Windows/System32/config/SYSTEM", tree) < 0)
                        r = -ENOMEM;
                else
                        r = mkdir_parents(p);
                if (r == 0)
                        r = test_make_system_hive(p);
                free(TAKE_PTR(p));
        }
        if (r == 0 && filler_bytes > 0) {
                if (asprintf(&p, "%s/Windows/filler/random.bin", tree) < 0)
                        r = -ENOMEM;
                else
                        r = write_filler(p, filler_bytes - filler_bytes / 2, true);
                free(TAKE_PTR(p));
                if (r == 0 && asprintf(&p, "%s/Windows/filler/text.bin", tree) < 0)
                        r = -ENOMEM;
                else if (r == 0)
                        r = write_filler(p, filler_bytes / 2, false);
        }
        if (r == 0 && asprintf(&name, "Microsoft Windows PE (%s)", arch_name(arch_code)) < 0)
                r = -ENOMEM;
        if (r == 0) {
                const char *const props[] = {
                        "NAME", name,
                        "DESCRIPTION", name,
                        "WINDOWS/ARCH", arch_code,
                        "WINDOWS/LANGUAGES/DEFAULT", "en-US",
                        "WINDOWS/VERSION/MAJOR", "10",
                        "WINDOWS/VERSION/MINOR", "0",
                        "WINDOWS/VERSION/BUILD", "22621",
                        "WINDOWS/VERSION/SPBUILD", "1",
                        "WINDOWS/PRODUCTTYPE", "WinNT",
                        "WINDOWS/SYSTEMROOT", "WINDOWS",
                        "WINDOWS/HAL", "acpiapic",
                        "WINDOWS/EDITIONID", "WindowsPE",
                };
                r = capture(tree, path, compress, props, ELEMENTSOF(props));
        }
        (void) test_rm_rf(tree);
        return r;
}

int test_make_multi_image_wim(const char *path, unsigned n_images) {
        _cleanup_(wimlib_freep) WIMStruct *wim = NULL;
        _cleanup_free_ char *tree = NULL;
        int r;

        imaging_wimlib_init();
        r = make_temp_dir_beside(path, &tree);
        if (r < 0)
                return r;
        /* wimlib reads the files when it writes: every tree stays until after wimlib_write. */
        for (unsigned i = 1; r == 0 && i <= n_images; i++) {
                _cleanup_free_ char *dir = NULL, *name = NULL, *desc = NULL, *text = NULL;

                if (asprintf(&dir, "%s/%u", tree, i) < 0 || asprintf(&name, "Image %u", i) < 0 ||
                    asprintf(&desc, "Test image %u", i) < 0 || asprintf(&text, "image %u\n", i) < 0) {
                        r = -ENOMEM;
                        break;
                }
                r = file_in(dir, "image.txt", text, strlen(text));
                if (r == 0)
                        r = file_in(dir, "shared/readme.txt", "shared by every image\n", 22);
                if (r < 0)
                        break;
                if (!wim && wimlib_create_new_wim(WIMLIB_COMPRESSION_TYPE_LZX, &wim) != 0) {
                        r = -EIO;
                        break;
                }
                if (wimlib_add_image(wim, dir, name, NULL, 0) != 0 ||
                    wimlib_set_image_property(wim, i, "DESCRIPTION", desc) != 0 ||
                    wimlib_set_image_property(wim, i, "WINDOWS/ARCH", i % 2 ? "9" : "0") != 0)
                        r = -EIO;
        }
        if (r == 0 && (!wim || wimlib_write(wim, path, WIMLIB_ALL_IMAGES, 0, 0) != 0))
                r = -EIO;
        (void) test_rm_rf(tree);
        return r;
}
