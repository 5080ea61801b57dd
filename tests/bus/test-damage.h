/* SPDX-License-Identifier: MIT */
#pragma once

/* The ways the integrity tests (tests/bus/test-integrity.c, tests/unit/test-content.c) damage a
 * file of a content library or of a distribution point. Include after cmocka.h. */

#include <fcntl.h>
#include <unistd.h>

typedef enum Damage { DAMAGE_IN_PLACE, DAMAGE_TRUNCATE, DAMAGE_DELETE, DAMAGE_SYMLINK, _DAMAGE_MAX } Damage;

static const char *const damage_names[] = { "in place", "truncate", "delete", "symlink" };

/* Damages the file at path; DAMAGE_SYMLINK replaces it with a symbolic link to `target`. */
static inline void damage(const char *path, Damage how, const char *target) {
        int fd;

        switch (how) {
        case DAMAGE_IN_PLACE:
                fd = open(path, O_WRONLY | O_CLOEXEC);
                assert_true(fd >= 0);
                assert_int_equal(pwrite(fd, "DAMAGED!", 8, 4096), 8);
                close(fd);
                break;
        case DAMAGE_TRUNCATE:
                assert_int_equal(truncate(path, 1000), 0);
                break;
        case DAMAGE_DELETE:
                assert_int_equal(unlink(path), 0);
                break;
        case DAMAGE_SYMLINK:
                assert_int_equal(unlink(path), 0);
                assert_int_equal(symlink(target, path), 0);
                break;
        default:
                fail();
        }
}
