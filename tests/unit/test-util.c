/* SPDX-License-Identifier: MIT */

/* util/: parallel_for() and WriteBehind. */

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "smsprov/macro.h"
#include "util/parallel.h"
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parallel_for_each_index_once),
                cmocka_unit_test(test_write_behind_file_intact),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
