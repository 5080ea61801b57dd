/* SPDX-License-Identifier: MIT */

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "util/write-behind.h"

struct WriteBehind {
        pthread_mutex_t lock;
        pthread_cond_t wake;
        int fd;
        uint64_t started; /* writeback started for [0, started) */
        uint64_t written; /* the writer has written [0, written) */
        bool stopping;
        pthread_t thread;
};

static void *write_behind_main(void *arg) {
        WriteBehind *w = arg;

        pthread_mutex_lock(&w->lock);
        for (;;) {
                while (w->started == w->written && !w->stopping)
                        pthread_cond_wait(&w->wake, &w->lock);
                if (w->started == w->written)
                        break;
                uint64_t from = w->started, to = w->written;
                w->started = to;
                pthread_mutex_unlock(&w->lock);
                /* Errors are the fsync's to report. */
                (void) sync_file_range(w->fd, (off_t) from, (off_t) (to - from), SYNC_FILE_RANGE_WRITE);
                pthread_mutex_lock(&w->lock);
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

WriteBehind *write_behind_start(int fd) {
        WriteBehind *w = calloc(1, sizeof(WriteBehind));

        if (!w)
                return NULL;
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->wake, NULL);
        w->fd = fd;
        if (pthread_create(&w->thread, NULL, write_behind_main, w) != 0) {
                pthread_cond_destroy(&w->wake);
                pthread_mutex_destroy(&w->lock);
                free(w);
                return NULL;
        }
        return w;
}

void write_behind_advance(WriteBehind *w, uint64_t end) {
        if (!w)
                return;
        pthread_mutex_lock(&w->lock);
        if (end > w->written) {
                w->written = end;
                pthread_cond_signal(&w->wake);
        }
        pthread_mutex_unlock(&w->lock);
}

void write_behind_stop(WriteBehind *w) {
        if (!w)
                return;
        pthread_mutex_lock(&w->lock);
        w->stopping = true;
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        free(w);
}
