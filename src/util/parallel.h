/* SPDX-License-Identifier: MIT */
#pragma once

/* parallel_for(): fn(i) for every i in [0, n), on the calling thread and up to max_threads - 1
 * more, each taking the next index as it finishes one. Returns once every call has returned.
 * Where a thread cannot be started, the ones that could (at least the caller) do all the work:
 * it never fails. fn must be safe to run concurrently for different i. */

#include <stddef.h>

void parallel_for(size_t n, unsigned max_threads, void (*fn)(size_t i, void *userdata), void *userdata);
