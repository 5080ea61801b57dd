/* SPDX-License-Identifier: MIT */
#pragma once

/* A file system the test can hold: a FUSE mount, served by a child process, whose root holds one
 * regular file with the bytes of a real file. While held, the server answers nothing, so that
 * whoever touches the mount waits (as on a hung NFS server) until the test lets go; no timing is
 * involved. It speaks the kernel's FUSE protocol directly (/dev/fuse), so it needs root. */

#include <stdbool.h>
#include <sys/types.h>

typedef struct FuseHold {
        char *mount_point;
        pid_t server;
        int control; /* pipe to the server: 'h' hold, 'r' release */
} FuseHold;

/* Mounts at `mount_point` (an existing empty directory) a root with one file `name` holding the
 * bytes of `source`. Returns 0, or a negative errno (-EPERM, -ENODEV: no FUSE here). */
int fuse_hold_start(FuseHold *h, const char *mount_point, const char *name, const char *source);
/* From now on no request is answered. */
int fuse_hold(FuseHold *h);
/* Requests are answered again, the waiting ones first. */
int fuse_release(FuseHold *h);
/* Ends the server (waiting requests fail) and unmounts. */
void fuse_hold_stop(FuseHold *h);
