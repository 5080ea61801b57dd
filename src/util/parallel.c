/* SPDX-License-Identifier: MIT */

#include <pthread.h>
#include <stdatomic.h>

#include "util/parallel.h"

#define PARALLEL_MAX_THREADS 16

typedef struct Loop {
        atomic_size_t next;
        size_t n;
        void (*fn)(size_t i, void *userdata);
        void *userdata;
} Loop;

static void *loop_main(void *arg) {
        Loop *l = arg;

        for (size_t i; (i = atomic_fetch_add(&l->next, 1)) < l->n;)
                l->fn(i, l->userdata);
        return NULL;
}

void parallel_for(size_t n, unsigned max_threads, void (*fn)(size_t i, void *userdata), void *userdata) {
        Loop l = { .n = n, .fn = fn, .userdata = userdata };
        pthread_t threads[PARALLEL_MAX_THREADS];
        unsigned started = 0, want = max_threads;

        atomic_init(&l.next, 0);
        if (want > PARALLEL_MAX_THREADS)
                want = PARALLEL_MAX_THREADS;
        if (want > n)
                want = (unsigned) n;
        /* The caller is one of them. */
        while (started + 1 < want && pthread_create(&threads[started], NULL, loop_main, &l) == 0)
                started++;
        loop_main(&l);
        for (unsigned i = 0; i < started; i++)
                pthread_join(threads[i], NULL);
}
