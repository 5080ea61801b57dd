/* SPDX-License-Identifier: MIT */

/* Callers' paths against the content roots, through the bus (API.md §8, issue 6): every way out
 * of a root and every kind of file that is not what it should be is refused with PathNotAllowed
 * or InvalidParameter, creates nothing, and leaves the daemon serving. */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../helpers/wim-gen.h"
#include "smsprov/macro.h"
#include "test-env.h"

#define IFACE "org.smsprov.Provider1."

static TestEnv env;

static char *content(const char *name) {
        return test_env_content_path(&env, name);
}

static size_t count_packages(void) {
        return test_count_rows(&env, "SELECT PackageID FROM SMS_PackageBaseclass");
}

/* The tree the cases point into, made once: files of each kind inside the content root, and a
 * valid WIM outside it. */
static char *outside_wim;

static void make_tree(void) {
        char *p;

        assert_true(asprintf(&outside_wim, "%s/outside.wim", env.dir) > 0);
        assert_int_equal(test_make_multi_image_wim(outside_wim, 1), 0);
        p = content("inside.wim");
        assert_int_equal(test_make_winpe_wim(p, "9", false, 0, true), 0);
        free(p);

        p = content("abs-link.wim");
        assert_int_equal(symlink(outside_wim, p), 0);
        free(p);
        p = content("rel-link.wim");
        assert_int_equal(symlink("../outside.wim", p), 0);
        free(p);
        p = content("sub");
        assert_int_equal(mkdir(p, 0755), 0);
        free(p);
        p = content("sub/up-link.wim");
        assert_int_equal(symlink("../../outside.wim", p), 0);
        free(p);
        p = content("link-dir");
        assert_int_equal(symlink(env.dir, p), 0);
        free(p);
        p = content("fifo.wim");
        assert_int_equal(mkfifo(p, 0644), 0);
        free(p);
        p = content("dir.wim");
        assert_int_equal(mkdir(p, 0755), 0);
        free(p);
        p = content("not-a-wim.wim");
        assert_int_equal(test_write_file(p, "hello", 5), 0);
        free(p);

        /* A listening socket's file. */
        p = content("socket.wim");
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        assert_true(s >= 0 && strlen(p) < sizeof sa.sun_path);
        strcpy(sa.sun_path, p);
        assert_int_equal(bind(s, (struct sockaddr *) &sa, sizeof sa), 0);
        close(s);
        free(p);

        /* A device node: only root may make one; elsewhere a symlink to /dev/zero stands in (it is
         * refused for leaving the root before its kind matters). */
        p = content("device.wim");
        if (mknod(p, S_IFCHR | 0644, makedev(1, 5)) < 0)
                assert_int_equal(symlink("/dev/zero", p), 0);
        free(p);
}

static void test_bad_paths(void **state) {
        static const struct {
                const char *rel; /* inside the content root; NULL = `abs` as given */
                const char *abs;
                const char *error;
                bool boot_only; /* an OS image may be created without a source ("") */
        } cases[] = {
                { "../outside.wim", NULL, "PathNotAllowed" },
                { "sub/../../outside.wim", NULL, "PathNotAllowed" },
                { "abs-link.wim", NULL, "PathNotAllowed" },
                { "rel-link.wim", NULL, "PathNotAllowed" },
                { "sub/up-link.wim", NULL, "PathNotAllowed" },
                { "link-dir/outside.wim", NULL, "PathNotAllowed" },
                { NULL, "/proc/self/root/etc/passwd", "PathNotAllowed" },
                { NULL, "/etc/passwd", "PathNotAllowed" },
                { NULL, "relative/inside.wim", "InvalidParameter" },
                { NULL, "", "InvalidParameter", true },
                { "fifo.wim", NULL, "InvalidParameter" },
                { "socket.wim", NULL, "InvalidParameter" },
                { "dir.wim", NULL, "InvalidParameter" },
                { "missing.wim", NULL, "InvalidParameter" },
                { "not-a-wim.wim", NULL, "ImageError" }, /* API.md: wimlib refused the file */
                { "bad\x01name.wim", NULL, "InvalidParameter" },
                { "bad\nname.wim", NULL, "InvalidParameter" },
        };
        size_t before = count_packages();
        char path[8192];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                if (cases[i].rel)
                        snprintf(path, sizeof path, "%s/%s", env.content_dir, cases[i].rel);
                else
                        snprintf(path, sizeof path, "%s", cases[i].abs);
                /* Each class's path property: the boot image's ImagePath, the OS image's
                 * PkgSourcePath. */
                const char *e1 = test_create(&env, "SMS_BootImagePackage", NULL, NULL, 1, "{sv}", "ImagePath", "s", path);
                const char *want = cases[i].error;
                char want_name[128];
                snprintf(want_name, sizeof want_name, SMSPROV_ERR("%s"), want);
                if (!e1 || strcmp(e1, want_name) != 0)
                        fail_msg("ImagePath %s: want %s, got %s", path, want, e1 ? e1 : "success");
                if (cases[i].boot_only)
                        continue;
                const char *e2 = test_create(&env, "SMS_ImagePackage", NULL, NULL, 1, "{sv}", "PkgSourcePath", "s", path);
                if (!e2 || strcmp(e2, want_name) != 0)
                        fail_msg("PkgSourcePath %s: want %s, got %s", path, want, e2 ? e2 : "success");
        }

        /* A device node: PathNotAllowed where it is a symlink out, InvalidParameter where root made
         * a real one; never read. */
        snprintf(path, sizeof path, "%s/device.wim", env.content_dir);
        const char *e = test_create(&env, "SMS_ImagePackage", NULL, NULL, 1, "{sv}", "PkgSourcePath", "s", path);
        assert_non_null(e);
        assert_true(streq(e, SMSPROV_ERR("InvalidParameter")) || streq(e, SMSPROV_ERR("PathNotAllowed")));

        /* A 4 KiB component, and a path longer than PATH_MAX. */
        int len = snprintf(path, sizeof path, "%s/", env.content_dir);
        memset(path + len, 'x', 4096);
        strcpy(path + len + 4096, ".wim");
        assert_string_equal(test_create(&env, "SMS_ImagePackage", NULL, NULL, 1, "{sv}", "PkgSourcePath", "s", path),
                            SMSPROV_ERR("InvalidParameter"));
        len = snprintf(path, sizeof path, "%s/", env.content_dir);
        for (; len < 5000; len += 4)
                memcpy(path + len, "a/./", 4);
        strcpy(path + len, "x.wim");
        assert_string_equal(test_create(&env, "SMS_ImagePackage", NULL, NULL, 1, "{sv}", "PkgSourcePath", "s", path),
                            SMSPROV_ERR("InvalidParameter"));

        /* Nothing was created, and a good path still works. */
        assert_int_equal(count_packages(), before);
        char *good = content("inside.wim");
        assert_null(test_create(&env, "SMS_ImagePackage", NULL, NULL, 1, "{sv}", "PkgSourcePath", "s", good));
        assert_int_equal(count_packages(), before + 1);
        free(good);
}

/* A FIFO must not block the daemon: the refusal is prompt, and while a writer holds the FIFO
 * open with no data the daemon keeps answering. */
static void test_fifo_does_not_block(void **state) {
        char *fifo = content("fifo.wim");
        int wfd = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC); /* a writer that never writes */
        assert_true(wfd >= 0);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        assert_string_equal(test_create(&env, "SMS_ImagePackage", NULL, NULL, 1, "{sv}", "PkgSourcePath", "s", fifo),
                            SMSPROV_ERR("InvalidParameter"));
        clock_gettime(CLOCK_MONOTONIC, &b);
        /* Not a timing assertion on performance: a blocked open would never return at all; the
         * call would time out (TEST_CALL_TIMEOUT_USEC) and fail the test. */
        assert_true(b.tv_sec - a.tv_sec < 25);
        count_packages();
        close(wfd);
        free(fifo);
}

/* A symlink swapped in between check and use: a thread keeps replacing `swap.wim` (atomically,
 * by rename) with either a copy of the inside WIM or a symlink to the outside one. Every Create
 * either succeeds with the inside image or fails with PathNotAllowed; the outside image's
 * properties never appear. */
static atomic_bool swapping;

static void *swapper(void *arg) {
        const char *dir = arg;
        char target[1024], good[1024], bad[1024];
        snprintf(target, sizeof target, "%s/swap.wim", dir);
        snprintf(good, sizeof good, "%s/swap-good.tmp", dir);
        snprintf(bad, sizeof bad, "%s/swap-bad.tmp", dir);
        char inside[1024];
        snprintf(inside, sizeof inside, "%s/inside.wim", dir);
        for (unsigned i = 0; atomic_load(&swapping); i++) {
                if (i % 2 == 0) {
                        unlink(good);
                        if (link(inside, good) == 0)
                                rename(good, target);
                } else {
                        unlink(bad);
                        if (symlink(outside_wim, bad) == 0)
                                rename(bad, target);
                }
        }
        return NULL;
}

static void test_swapped_symlink(void **state) {
        char *target = content("swap.wim");
        pthread_t t;
        unsigned ok = 0, refused = 0, replaced = 0;

        assert_int_equal(symlink(outside_wim, target), 0);
        atomic_store(&swapping, true);
        assert_int_equal(pthread_create(&t, NULL, swapper, env.content_dir), 0);
        for (int i = 0; i < 200; i++) {
                char *pkg = NULL;
                const char *e = test_create(&env, "SMS_ImagePackage", &pkg, NULL, 1, "{sv}", "PkgSourcePath", "s", target);
                if (!e) {
                        char *xml = test_get_string(&env, pkg, IFACE "SMS_ImagePackage", "ImageProperty");
                        if (strstr(xml, "Image 1") || !strstr(xml, "Windows PE"))
                                fail_msg("read the image outside the root: %s", xml);
                        free(xml);
                        assert_null(test_invoke(&env, pkg, IFACE "SMS_PackageBaseclass", "Delete", NULL, NULL));
                        ok++;
                } else if (streq(e, SMSPROV_ERR("PathNotAllowed")))
                        refused++;
                else if (streq(e, SMSPROV_ERR("InvalidParameter")))
                        replaced++; /* the file checked was replaced before wimlib had read it */
                else
                        fail_msg("swap: unexpected %s", e);
                free(pkg);
        }
        atomic_store(&swapping, false);
        pthread_join(t, NULL);
        fprintf(stderr, "# swapped symlink: %u accepted (inside image), %u refused, %u replaced while read\n", ok,
                refused, replaced);
        assert_true(refused > 0); /* the outside link was seen, and refused */
        free(target);
}

static int setup(void **state) {
        if (test_env_start(&env) < 0)
                return -1;
        make_tree();
        return 0;
}

static int teardown(void **state) {
        free(outside_wim);
        return test_env_stop(&env);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bad_paths),
                cmocka_unit_test(test_fifo_does_not_block),
                cmocka_unit_test(test_swapped_symlink),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, setup, teardown);
}
