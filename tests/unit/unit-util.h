/* SPDX-License-Identifier: MIT */
#pragma once

/* Small helpers shared by the unit tests. Include after cmocka.h. */

#include <stdio.h>
#include <sys/stat.h>

/* <dir>/<name>, made a new directory (the test fails when it cannot be); the caller frees it. */
static inline char *test_make_dir(const char *dir, const char *name) {
        char *path = NULL;

        assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
        assert_int_equal(mkdir(path, 0755), 0);
        return path;
}
