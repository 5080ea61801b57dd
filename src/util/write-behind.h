/* SPDX-License-Identifier: MIT */
#pragma once

/* Write-behind for a file written front to back that will be fsynced when complete.
 *
 * The kernel starts writing dirty pages back only when they are old or many, so an fsync at the
 * end of a large sequential write waits for the whole file: the disk idles while the data is
 * produced, then the writer idles while the disk works. A WriteBehind is a thread that follows the
 * writer and starts writeback (sync_file_range(SYNC_FILE_RANGE_WRITE)) of each range as soon as it
 * is written, so both work at once and the fsync finds almost nothing left. It is a thread and not
 * a call in the writer because starting writeback blocks while the device's queue is full.
 *
 * Only a hint: it never waits for the data to be on disk, so the writer must still fsync. Without
 * a thread (creation failed) it does nothing, and the fsync does all the work as before. */

#include <stdint.h>

typedef struct WriteBehind WriteBehind;

/* Follows fd, which must stay open until write_behind_stop(). Never fails: NULL means "do nothing". */
WriteBehind *write_behind_start(int fd);
/* Bytes [0, end) of the file are written. */
void write_behind_advance(WriteBehind *w, uint64_t end);
/* Lets the thread finish starting what it was given, then frees everything. NULL is fine. */
void write_behind_stop(WriteBehind *w);

static inline void write_behind_stopp(WriteBehind **w) {
        write_behind_stop(*w);
}
