/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/* Makes room in *array (a pointer to an array of elements of `size` bytes, `*allocated` of them)
 * for `need` elements: the first allocation holds `first`, each later one twice the last, until
 * there is room. Returns 0 or -ENOMEM (the array as it was). */
static inline int array_grow(void *array, size_t *allocated, size_t need, size_t size, size_t first) {
        void **a = array;

        if (need <= *allocated)
                return 0;
        size_t n = *allocated < first ? first : *allocated;
        while (n < need)
                n *= 2;
        if (n > SIZE_MAX / size)
                return -ENOMEM;
        void *b = realloc(*a, n * size);
        if (!b)
                return -ENOMEM;
        *a = b;
        *allocated = n;
        return 0;
}
