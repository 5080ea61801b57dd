/* SPDX-License-Identifier: MIT */

/* util/: parallel_for(), WriteBehind and tree_copy_at(). */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "smsprov/cim.h"
#include "smsprov/error.h"
#include "smsprov/macro.h"
#include "smsprov/path.h"
#include "smsprov/utf8.h"
#include "util/parallel.h"
#include "util/time-util.h"
#include "util/tree-copy.h"
#include "util/write-behind.h"

/* --- parallel_for() ------------------------------------------------------------------------------ */

typedef struct Calls {
        atomic_uint count[64];
        atomic_uint running, most_running;
        bool await_overlap;             /* items wait until two have run at once */
        atomic_bool overlapped, overlap_timed_out;
} Calls;

static void count_call(size_t i, void *userdata) {
        Calls *c = userdata;
        unsigned now = atomic_fetch_add(&c->running, 1) + 1;
        unsigned most = atomic_load(&c->most_running);

        while (now > most && !atomic_compare_exchange_weak(&c->most_running, &most, now))
                ;
        atomic_fetch_add(&c->count[i], 1);
        /* Where threads may overlap, every item waits until two have run at once: the first waits
         * until a second starts beside it, which no scheduling delay can prevent. Only a
         * parallel_for() that runs its items one at a time leaves the first waiting, until the
         * deadline fails the test. */
        if (now >= 2)
                atomic_store(&c->overlapped, true);
        if (c->await_overlap) {
                struct timespec start, t;
                clock_gettime(CLOCK_MONOTONIC, &start);
                while (!atomic_load(&c->overlapped)) {
                        clock_gettime(CLOCK_MONOTONIC, &t);
                        if (t.tv_sec - start.tv_sec > 300) {
                                atomic_store(&c->overlap_timed_out, true);
                                break;
                        }
                        usleep(100);
                }
        }
        atomic_fetch_sub(&c->running, 1);
}

/* Every index once, never more at once than asked, for every shape of n and max_threads. */
static void test_parallel_for_each_index_once(void **state) {
        static const struct {
                size_t n;
                unsigned max_threads, most_expected;
        } cases[] = {
                { 0, 4, 0 }, { 1, 4, 1 }, { 10, 1, 1 }, { 10, 0, 1 }, { 10, 3, 3 }, { 3, 8, 3 }, { 64, 100, 16 },
        };

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                Calls *c = calloc(1, sizeof(Calls));
                assert_non_null(c);
                c->await_overlap = cases[k].n >= 2 && cases[k].most_expected > 1;
                parallel_for(cases[k].n, cases[k].max_threads, count_call, c);
                for (size_t i = 0; i < cases[k].n; i++)
                        assert_int_equal(atomic_load(&c->count[i]), 1);
                for (size_t i = cases[k].n; i < ELEMENTSOF(c->count); i++)
                        assert_int_equal(atomic_load(&c->count[i]), 0);
                assert_int_equal(atomic_load(&c->running), 0);
                /* Threads may start late, so fewer may overlap; never more. */
                assert_true(atomic_load(&c->most_running) <= cases[k].most_expected);
                if (cases[k].n > 0)
                        assert_true(atomic_load(&c->most_running) >= 1);
                /* Work does overlap (the items waited for it). */
                assert_false(atomic_load(&c->overlap_timed_out));
                if (c->await_overlap)
                        assert_true(atomic_load(&c->most_running) >= 2);
                free(c);
        }
}

/* --- WriteBehind -------------------------------------------------------------------------------- */

/* A file written in pieces, each announced, reads back whole; stop() waits for the thread. */
static void test_write_behind_file_intact(void **state) {
        char path[] = "/tmp/smsprov-test-util.XXXXXX";
        int fd = mkstemp(path);
        size_t piece = 1 << 20, n = 9;
        uint8_t *data = malloc(piece), *back = malloc(piece);

        assert_true(fd >= 0);
        assert_non_null(data);
        assert_non_null(back);
        WriteBehind *w = write_behind_start(fd);
        assert_non_null(w);
        for (size_t i = 0; i < n; i++) {
                memset(data, (int) i + 1, piece);
                assert_int_equal(pwrite(fd, data, piece, (off_t) (i * piece)), (ssize_t) piece);
                write_behind_advance(w, (i + 1) * piece);
                write_behind_advance(w, i * piece); /* going back is ignored */
        }
        write_behind_stop(w);
        assert_int_equal(fsync(fd), 0);
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(pread(fd, back, piece, (off_t) (i * piece)), (ssize_t) piece);
                for (size_t b = 0; b < piece; b += 4096)
                        assert_int_equal(back[b], i + 1);
        }
        write_behind_stop(NULL);
        write_behind_advance(NULL, 1); /* the "do nothing" WriteBehind */
        close(fd);
        unlink(path);
        free(data);
        free(back);
}

/* --- tree_copy_at() ------------------------------------------------------------------------------- */

static void put(const char *dir, const char *name, const char *text) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", dir, name);
        FILE *f = fopen(p, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static char *get(const char *dir, const char *name) {
        char p[PATH_MAX], *buf = calloc(1, 256);
        snprintf(p, sizeof p, "%s/%s", dir, name);
        int fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                free(buf);
                return NULL;
        }
        assert_true(read(fd, buf, 255) >= 0);
        close(fd);
        return buf;
}

/* Files, folders and links (as links, never followed) are copied below the descriptor; a FIFO is
 * refused with InvalidParameter. */
static void test_tree_copy(void **state) {
        char base[] = "/tmp/smsprov-tree-copy-XXXXXX", src[128], dst[128], p[256], link[256];
        SmsError e = SMS_ERROR_NULL;
        int src_fd, dst_fd;
        char *s;

        assert_non_null(mkdtemp(base));
        snprintf(src, sizeof src, "%s/src", base);
        snprintf(dst, sizeof dst, "%s/dst", base);
        assert_int_equal(mkdir(src, 0755), 0);
        assert_int_equal(mkdir(dst, 0700), 0);
        snprintf(p, sizeof p, "%s/sub", src);
        assert_int_equal(mkdir(p, 0755), 0);
        put(src, "a.txt", "alpha");
        put(src, "sub/b.txt", "beta");
        put(base, "secret", "outside");
        snprintf(p, sizeof p, "%s/sub/out", src);
        assert_int_equal(symlink("../../secret", p), 0);

        src_fd = open(src, O_PATH | O_DIRECTORY | O_CLOEXEC);
        dst_fd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(src_fd >= 0 && dst_fd >= 0);
        assert_int_equal(tree_copy_at(src_fd, dst_fd, "copy", "Test", &e), 0);
        s = get(dst, "copy/a.txt");
        assert_string_equal(s, "alpha");
        free(s);
        s = get(dst, "copy/sub/b.txt");
        assert_string_equal(s, "beta");
        free(s);
        /* The link is a link, with its text; nothing was read through it. */
        snprintf(p, sizeof p, "%s/copy/sub/out", dst);
        ssize_t n = readlink(p, link, sizeof link - 1);
        assert_true(n > 0);
        link[n] = 0;
        assert_string_equal(link, "../../secret");
        assert_null(get(dst, "copy/sub/out"));

        /* One file from its descriptor. */
        snprintf(p, sizeof p, "%s/a.txt", src);
        int file_fd = open(p, O_RDONLY | O_CLOEXEC);
        assert_int_equal(tree_copy_at(file_fd, dst_fd, "one", "Test", &e), 0);
        s = get(dst, "one");
        assert_string_equal(s, "alpha");
        free(s);
        close(file_fd);

        /* A FIFO inside: refused by name, named error. */
        snprintf(p, sizeof p, "%s/sub/fifo", src);
        assert_int_equal(mkfifo(p, 0644), 0);
        assert_int_equal(tree_copy_at(src_fd, dst_fd, "again", "Test", &e), -EINVAL);
        assert_int_equal(e.code, SMS_ERROR_INVALID_PARAMETER);
        assert_non_null(strstr(e.message, "sub/fifo"));
        sms_error_clear(&e);

        close(src_fd);
        close(dst_fd);
        char cmd[192];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
        assert_int_equal(system(cmd), 0);
}

/* --- quoting caller strings in messages (error.h) ---------------------------------------------- */

/* A string of n bytes: `unit` repeated, then 'z' to fill what is left. */
static char *repeat(const char *unit, size_t n) {
        size_t u = strlen(unit), i = 0;
        char *s = malloc(n + 1);
        assert_non_null(s);
        for (; i + u <= n; i += u)
                memcpy(s + i, unit, u);
        memset(s + i, 'z', n - i);
        s[n] = 0;
        return s;
}

static char *quoted(const char *s) {
        char *q = NULL;
        assert_true(asprintf(&q, "<" SMS_QUOTE_FMT ">", SMS_QUOTE(s)) > 0);
        return q;
}

static void test_utf8_prefix_length(void **state) {
        /* Short strings whole; the limit itself is no cut. */
        assert_int_equal(sms_utf8_prefix_length("", 4), 0);
        assert_int_equal(sms_utf8_prefix_length("abcd", 4), 4);
        assert_int_equal(sms_utf8_prefix_length("abcde", 4), 4);
        /* é (2 bytes), € (3), 😀 (4): a cut inside one keeps the characters before it. */
        assert_int_equal(sms_utf8_prefix_length("abc\xc3\xa9", 4), 3);
        assert_int_equal(sms_utf8_prefix_length("abc\xc3\xa9", 5), 5);
        assert_int_equal(sms_utf8_prefix_length("ab\xe2\x82\xac", 3), 2);
        assert_int_equal(sms_utf8_prefix_length("ab\xe2\x82\xac", 4), 2);
        assert_int_equal(sms_utf8_prefix_length("ab\xe2\x82\xac!", 5), 5);
        assert_int_equal(sms_utf8_prefix_length("a\xf0\x9f\x98\x80", 2), 1);
        assert_int_equal(sms_utf8_prefix_length("a\xf0\x9f\x98\x80", 4), 1);
        assert_int_equal(sms_utf8_prefix_length("a\xf0\x9f\x98\x80", 5), 5);
        /* Not UTF-8 (a run of continuation bytes): cut at the limit, never before the start. */
        assert_int_equal(sms_utf8_prefix_length("\x80\x80\x80\x80\x80\x80", 5), 5);
        assert_int_equal(sms_utf8_prefix_length("\x80\x80", 1), 1);
}

/* A rename anywhere while a RESOLVE_BENEATH lookup walks ".." makes the kernel answer EAGAIN
 * (seen in a loaded run: a Create with ImagePath sub/up-link.wim, a symlink to ../../outside.wim,
 * failed with Failed instead of PathNotAllowed). The lookup is tried again, so it gives its real
 * answer while another thread renames as fast as it can. */
static atomic_bool renaming;

static void *rename_loop(void *userdata) {
        const char *dir = userdata;
        char a[PATH_MAX], b[PATH_MAX];

        snprintf(a, sizeof a, "%s/ren-a", dir);
        snprintf(b, sizeof b, "%s/ren-b", dir);
        close(open(a, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
        while (atomic_load(&renaming)) {
                (void) rename(a, b);
                (void) rename(b, a);
        }
        return NULL;
}

static void test_open_beneath_while_renaming(void **state) {
        char dir[] = "/tmp/smsprov-beneath.XXXXXX", path[PATH_MAX];
        pthread_t thread;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/sub", dir);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof path, "%s/file", dir);
        int file = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(file >= 0);
        close(file);
        int root = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(root >= 0);

        atomic_store(&renaming, true);
        assert_int_equal(pthread_create(&thread, NULL, rename_loop, dir), 0);
        for (unsigned i = 0; i < 20000; i++) {
                int fd = path_open_beneath(root, "sub/../file", O_RDONLY);
                if (fd < 0)
                        fail_msg("lookup %u of sub/../file: %s", i, strerror(-fd));
                close(fd);
                /* and the escape is still refused, never let through */
                fd = path_open_beneath(root, "sub/../../etc", O_PATH);
                if (fd != -EXDEV)
                        fail_msg("lookup %u of sub/../../etc: %d, not -EXDEV", i, fd);
        }
        atomic_store(&renaming, false);
        assert_int_equal(pthread_join(thread, NULL), 0);
        close(root);
        snprintf(path, sizeof path, "rm -rf '%s'", dir);
        assert_int_equal(system(path), 0);
}

static void test_utf8_as_sd_bus_takes_it(void **state) {
        /* What sd-bus refuses to append: a stray byte, a cut character, an overlong form, a
         * surrogate, and the noncharacters (U+FDD0…U+FDEF, U+FFFE, U+1FFFF). */
        static const char *const refused[] = {
                "a\xe8", "\xe8\xa3", "\xc0\xaf", "\xed\xa0\x80", "\xef\xb7\x90", "\xef\xbf\xbe", "\xf0\x9f\xbf\xbf",
        };
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                assert_false(utf8_is_valid(refused[i]));
                _cleanup_free_ char *clean = utf8_sanitize(refused[i]);
                assert_true(utf8_is_valid(clean));
        }
        assert_true(utf8_is_valid("é € 😀 \xef\xbf\xbd \xe2\x80\xae"));
        /* A whole refused character becomes one U+FFFD; a stray byte one each. */
        _cleanup_free_ char *nonchar = utf8_sanitize("x\xef\xbf\xbey");
        assert_string_equal(nonchar, "x\xef\xbf\xbdy");
        _cleanup_free_ char *stray = utf8_sanitize("\xe8\xa3z");
        assert_string_equal(stray, "\xef\xbf\xbd\xef\xbf\xbdz");
}

/* One code point each way: every length of sequence, and what decoding refuses. */
static void test_utf8_decode_encode(void **state) {
        static const uint32_t points[] = { 0x41, 0xE9, 0x7FF, 0x800, 0x20AC, 0xFEFF, 0xFFFD, 0x10000, 0x1F600, 0x10FFFF };
        uint32_t c;

        for (size_t i = 0; i < ELEMENTSOF(points); i++) {
                char buf[5] = {};
                size_t n = utf8_encode(points[i], buf);
                assert_int_equal(n, points[i] < 0x80 ? 1 : points[i] < 0x800 ? 2 : points[i] < 0x10000 ? 3 : 4);
                assert_int_equal(utf8_decode(buf, &c), n);
                assert_int_equal(c, points[i]);
        }
        assert_int_equal(utf8_decode("\xc0\xaf", &c), 0);     /* overlong */
        assert_int_equal(utf8_decode("\xed\xa0\x80", &c), 0); /* surrogate */
        assert_int_equal(utf8_decode("\xe2\x82", &c), 0);     /* cut short by the NUL */
        assert_int_equal(utf8_decode("\x80", &c), 0);
        assert_true(unichar_is_noncharacter(0xFFFE));
        assert_true(unichar_is_noncharacter(0xFDD0));
        assert_true(unichar_is_noncharacter(0x10FFFF));
        assert_false(unichar_is_noncharacter(0xFFFD));
}

static void test_days_from_civil(void **state) {
        assert_int_equal(time_days_from_civil(1970, 1, 1), 0);
        assert_int_equal(time_days_from_civil(1969, 12, 31), -1);
        assert_int_equal(time_days_from_civil(2000, 3, 1), 11017);
        assert_int_equal(time_days_from_civil(2024, 2, 29) + 1, time_days_from_civil(2024, 3, 1));
        assert_int_equal(time_days_in_month(2024, 2), 29);
        assert_int_equal(time_days_in_month(1900, 2), 28);
        assert_int_equal(time_days_in_month(2000, 2), 29);
        assert_int_equal(time_days_in_month(2023, 4), 30);
        assert_int_equal(time_days_in_month(2023, 12), 31);
}

/* An error message goes out in a D-Bus reply, which sd-bus does not send at all when a string in
 * it is not UTF-8: a message made from bytes that are not text comes out as text. */
static void test_error_message_is_utf8(void **state) {
        SmsError e = SMS_ERROR_NULL;

        assert_int_equal(sms_error_set(&e, SMS_ERROR_INVALID_PARAMETER, "'%c' is no digit", (char) 0xe8), -EINVAL);
        assert_true(utf8_is_valid(e.message));
        assert_string_equal(e.message, "'\xef\xbf\xbd' is no digit");
        sms_error_clear(&e);
        sms_error_set(&e, SMS_ERROR_NOT_FOUND, "no %.4s here", "ab\xe2\x82\xac");
        assert_true(utf8_is_valid(e.message));
        sms_error_clear(&e);
        sms_error_set_errno(&e, EIO, "reading %s", "\xff\xfe");
        assert_true(utf8_is_valid(e.message));
        sms_error_clear(&e);
        /* Valid text is left as it is. */
        sms_error_set(&e, SMS_ERROR_FAILED, "%s", "é\t€\n");
        assert_string_equal(e.message, "é\t€\n");
        sms_error_clear(&e);
}

static void test_quote(void **state) {
        char *s, *q;

        /* Up to SMS_QUOTE_MAX bytes a value is quoted whole, without "…". */
        s = repeat("a", SMS_QUOTE_MAX);
        q = quoted(s);
        assert_int_equal(strlen(q), SMS_QUOTE_MAX + 2);
        assert_null(strstr(q, "…"));
        free(q);
        free(s);

        /* 1 MiB: its first SMS_QUOTE_MAX bytes and "…". */
        s = repeat("a", 1u << 20);
        q = quoted(s);
        assert_int_equal(strlen(q), 1 + SMS_QUOTE_MAX + strlen("…") + 1);
        assert_int_equal(strncmp(q + 1, s, SMS_QUOTE_MAX), 0);
        assert_string_equal(q + 1 + SMS_QUOTE_MAX, "…>");
        free(q);
        free(s);

        /* "é" repeated puts a character across the limit when it is odd: cut before it. */
        s = repeat("\xc3\xa9", 1001);
        s[0] = 'x'; /* "x", then é from byte 2: the 128th é takes bytes 255 and 256 */
        memmove(s + 1, s + 2, 1000);
        q = quoted(s);
        assert_true(utf8_is_valid(q));
        assert_int_equal(strlen(q), 1 + SMS_QUOTE_MAX - 1 + strlen("…") + 1);
        free(q);
        free(s);

        q = quoted(NULL);
        assert_string_equal(q, "<(null)>");
        free(q);
}

static void test_error_message_bounded(void **state) {
        SmsError e = SMS_ERROR_NULL;
        char *huge = repeat("\xe2\x82\xac", 3u << 20); /* € × 1 Mi */

        /* Quoted: the rest of the message stays. */
        assert_int_equal(sms_error_set(&e, SMS_ERROR_NOT_FOUND, "no package " SMS_QUOTE_FMT " here", SMS_QUOTE(huge)),
                         -ENOENT);
        assert_int_equal(e.code, SMS_ERROR_NOT_FOUND);
        assert_true(strlen(e.message) <= strlen("no package ") + SMS_QUOTE_MAX + strlen("… here"));
        assert_true(strncmp(e.message, "no package €€€", strlen("no package €€€")) == 0);
        assert_non_null(strstr(e.message, "€… here"));
        assert_true(utf8_is_valid(e.message));
        sms_error_clear(&e);

        /* Not quoted (a call site that forgot, or a nested message): the whole message is cut, on a
         * character boundary, at SMS_ERROR_MESSAGE_MAX bytes with its "…". */
        sms_error_set(&e, SMS_ERROR_INVALID_PARAMETER, "bad: %s", huge);
        assert_true(strlen(e.message) <= SMS_ERROR_MESSAGE_MAX);
        assert_true(strlen(e.message) > SMS_ERROR_MESSAGE_MAX - 3 - 3);
        assert_true(utf8_is_valid(e.message));
        assert_int_equal(strncmp(e.message, "bad: €", strlen("bad: €")), 0);
        assert_string_equal(e.message + strlen(e.message) - strlen("…"), "…");
        sms_error_clear(&e);
        sms_error_set_errno(&e, ENOSPC, "writing %s", huge);
        assert_int_equal(e.code, SMS_ERROR_OUT_OF_DISK_SPACE);
        assert_true(strlen(e.message) <= SMS_ERROR_MESSAGE_MAX);
        sms_error_clear(&e);

        /* A message at the limit is left alone. */
        char *exact = repeat("b", SMS_ERROR_MESSAGE_MAX);
        sms_error_set(&e, SMS_ERROR_FAILED, "%s", exact);
        assert_string_equal(e.message, exact);
        sms_error_clear(&e);
        free(exact);
        free(huge);
}

/* The path checks quote the caller's path, at most SMS_QUOTE_MAX bytes of it. */
static void test_path_errors_quote_bounded(void **state) {
        ContentRoots roots = {};
        SmsError e = SMS_ERROR_NULL;
        char *relative = repeat("dir/", 1u << 20), *outside = repeat("/a", 4000);

        assert_int_equal(content_roots_add(&roots, "/tmp", &e), 0);
        assert_true(content_roots_resolve(&roots, relative, PATH_KIND_ANY, NULL, &e) < 0);
        assert_int_equal(e.code, SMS_ERROR_INVALID_PARAMETER);
        assert_true(strlen(e.message) < SMS_QUOTE_MAX + 64);
        assert_non_null(strstr(e.message, "dir/dir/"));
        assert_non_null(strstr(e.message, "…' is not absolute"));
        sms_error_clear(&e);

        assert_true(content_roots_resolve(&roots, outside, PATH_KIND_ANY, NULL, &e) < 0);
        assert_int_equal(e.code, SMS_ERROR_PATH_NOT_ALLOWED);
        assert_true(strlen(e.message) < SMS_QUOTE_MAX + 64);
        assert_non_null(strstr(e.message, "… is outside the site's content roots"));
        sms_error_clear(&e);
        content_roots_done(&roots);
        free(relative);
        free(outside);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_utf8_prefix_length),
                cmocka_unit_test(test_quote),
                cmocka_unit_test(test_error_message_bounded),
                cmocka_unit_test(test_open_beneath_while_renaming),
                cmocka_unit_test(test_utf8_as_sd_bus_takes_it),
                cmocka_unit_test(test_utf8_decode_encode),
                cmocka_unit_test(test_days_from_civil),
                cmocka_unit_test(test_error_message_is_utf8),
                cmocka_unit_test(test_path_errors_quote_bounded),
                cmocka_unit_test(test_parallel_for_each_index_once),
                cmocka_unit_test(test_write_behind_file_intact),
                cmocka_unit_test(test_tree_copy),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
