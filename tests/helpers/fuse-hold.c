/* SPDX-License-Identifier: MIT */

/* See fuse-hold.h. The server answers only what a reader of one file needs (LOOKUP, GETATTR,
 * OPEN, READ, FLUSH, RELEASE, OPENDIR/RELEASEDIR for the root) and ENOSYS to the rest. Every
 * answer is valid for 0 s, so that every use of the mount asks the server again: a held server
 * holds every new use, not only the first one. */

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuse-hold.h"

#define FILE_NODE 2
#define BUFFER_SIZE (1u << 20) /* more than max_write and the largest READ we allow */

typedef struct Server {
        int dev;
        int file; /* the source's bytes */
        off_t size;
        const char *name;
} Server;

static void reply(const Server *s, uint64_t unique, int error, const void *body, size_t n) {
        struct fuse_out_header h = { .len = (uint32_t) (sizeof h + n), .error = error, .unique = unique };
        struct iovec iov[2] = { { &h, sizeof h }, { (void *) body, n } };
        (void) !writev(s->dev, iov, n ? 2 : 1);
}

static void fill_attr(const Server *s, uint64_t node, struct fuse_attr *a) {
        *a = (struct fuse_attr) { .ino = node, .nlink = 1, .blksize = 4096 };
        if (node == FUSE_ROOT_ID)
                a->mode = S_IFDIR | 0755, a->nlink = 2;
        else
                a->mode = S_IFREG | 0444, a->size = (uint64_t) s->size, a->blocks = ((uint64_t) s->size + 511) / 512;
}

static void serve_one(const Server *s, char *buf, ssize_t n) {
        struct fuse_in_header *in = (struct fuse_in_header *) buf;
        void *arg = buf + sizeof *in;

        if (n < (ssize_t) sizeof *in)
                return;
        switch (in->opcode) {
        case FUSE_INIT: {
                const struct fuse_init_in *i = arg;
                struct fuse_init_out o = { .major = FUSE_KERNEL_VERSION,
                                           .minor = i->minor < FUSE_KERNEL_MINOR_VERSION ? i->minor
                                                                                        : FUSE_KERNEL_MINOR_VERSION,
                                           .max_readahead = i->max_readahead, .max_background = 16,
                                           .congestion_threshold = 12, .max_write = 4096, .time_gran = 1 };
                reply(s, in->unique, 0, &o, sizeof o);
                return;
        }
        case FUSE_LOOKUP: {
                struct fuse_entry_out o = { .nodeid = FILE_NODE, .generation = 1 };
                if (in->nodeid != FUSE_ROOT_ID || strcmp(arg, s->name) != 0) {
                        reply(s, in->unique, -ENOENT, NULL, 0);
                        return;
                }
                fill_attr(s, FILE_NODE, &o.attr);
                reply(s, in->unique, 0, &o, sizeof o);
                return;
        }
        case FUSE_GETATTR: {
                struct fuse_attr_out o = {};
                fill_attr(s, in->nodeid, &o.attr);
                reply(s, in->unique, 0, &o, sizeof o);
                return;
        }
        case FUSE_OPEN:
        case FUSE_OPENDIR: {
                struct fuse_open_out o = {};
                reply(s, in->unique, 0, &o, sizeof o);
                return;
        }
        case FUSE_READ: {
                /* A short answer means the end of the file: always the whole size asked for. */
                const struct fuse_read_in *r = arg;
                static char data[BUFFER_SIZE];
                size_t want = r->size < sizeof data ? r->size : sizeof data;
                ssize_t got = pread(s->file, data, want, (off_t) r->offset);
                reply(s, in->unique, got < 0 ? -errno : 0, data, got < 0 ? 0 : (size_t) got);
                return;
        }
        case FUSE_FLUSH:
        case FUSE_RELEASE:
        case FUSE_RELEASEDIR:
                reply(s, in->unique, 0, NULL, 0);
                return;
        case FUSE_FORGET:
        case FUSE_BATCH_FORGET:
        case FUSE_INTERRUPT:
                return; /* no answer expected */
        case FUSE_DESTROY:
                _exit(0);
        default:
                reply(s, in->unique, -ENOSYS, NULL, 0);
        }
}

static _Noreturn void server_main(Server *s, int control) {
        char *buf = malloc(BUFFER_SIZE);
        bool held = false;

        if (!buf)
                _exit(1);
        for (;;) {
                struct pollfd p[2] = { { .fd = control, .events = POLLIN }, { .fd = s->dev, .events = POLLIN } };
                /* While held, the device is not even read: requests wait in the kernel. */
                if (poll(p, held ? 1 : 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        _exit(1);
                }
                if (p[0].revents) {
                        char c;
                        if (read(control, &c, 1) != 1)
                                _exit(0); /* the test went away */
                        held = c == 'h';
                        (void) !write(control, "k", 1);
                        continue;
                }
                if (!held && p[1].revents) {
                        ssize_t n = read(s->dev, buf, BUFFER_SIZE);
                        if (n < 0 && (errno == EINTR || errno == ENOENT || errno == EAGAIN))
                                continue; /* ENOENT: a request was interrupted */
                        if (n < 0)
                                _exit(0); /* unmounted */
                        serve_one(s, buf, n);
                }
        }
}

int fuse_hold_start(FuseHold *h, const char *mount_point, const char *name, const char *source) {
        char options[128];
        int sv[2], r;
        Server s = { .name = name };
        struct stat st;

        *h = (FuseHold) { .server = -1, .control = -1 };
        s.file = open(source, O_RDONLY | O_CLOEXEC);
        if (s.file < 0 || fstat(s.file, &st) < 0)
                return -errno;
        s.size = st.st_size;
        s.dev = open("/dev/fuse", O_RDWR | O_CLOEXEC);
        if (s.dev < 0) {
                r = -errno;
                close(s.file);
                return r;
        }
        snprintf(options, sizeof options, "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other", s.dev);
        if (mount("fuse-hold", mount_point, "fuse", MS_NOSUID | MS_NODEV, options) < 0) {
                r = -errno;
                close(s.dev);
                close(s.file);
                return r;
        }
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
                r = -errno;
                goto fail;
        }
        h->server = fork();
        if (h->server < 0) {
                r = -errno;
                close(sv[0]);
                close(sv[1]);
                goto fail;
        }
        if (h->server == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(sv[0]);
                server_main(&s, sv[1]);
        }
        close(sv[1]);
        close(s.dev);
        close(s.file);
        h->control = sv[0];
        h->mount_point = strdup(mount_point);
        return 0;
fail:
        (void) umount2(mount_point, MNT_DETACH);
        close(s.dev);
        close(s.file);
        return r;
}

static int command(FuseHold *h, char c) {
        char k;
        if (write(h->control, &c, 1) != 1 || read(h->control, &k, 1) != 1)
                return -EIO;
        return 0;
}

int fuse_hold(FuseHold *h) {
        return command(h, 'h');
}

int fuse_release(FuseHold *h) {
        return command(h, 'r');
}

void fuse_hold_stop(FuseHold *h) {
        if (h->server > 0) {
                /* Its death aborts the connection: whatever still waits gets an error. */
                kill(h->server, SIGKILL);
                (void) waitpid(h->server, NULL, 0);
        }
        if (h->control >= 0)
                close(h->control);
        if (h->mount_point)
                (void) umount2(h->mount_point, MNT_DETACH);
        free(h->mount_point);
        *h = (FuseHold) { .server = -1, .control = -1 };
}
