/* SPDX-License-Identifier: MIT */

/* Test points: places in a job's life where a test can hold it or end the daemon, so that a test
 * never has to win a race against a job (--test-hold-dir; tests/bus/test-env.h and
 * tests/bus/lib.sh have the test side). Only a daemon on a private bus accepts the option; on
 * the system and session buses the queue has no test directory and every point returns at once.
 *
 * In the test directory, for a point named P:
 *   P        exists: a job that reaches P waits there until P is removed, or the job is canceled;
 *            while it waits, the file "P.<job id>.held" exists.
 *   P.kill   exists: the daemon kills itself with SIGKILL at P (a crash at that very place).
 *
 * Waiting polls the directory every few milliseconds from the worker thread. The cost only
 * exists under test, and polling keeps cancel working without another wake-up channel. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jobs/job-internal.h"
#include "smsprov/job.h"
#include "util/log.h"

#define TEST_POINT_POLL_NSEC (5 * 1000 * 1000L)

static bool point_exists(int dir_fd, const char *name) {
        struct stat st;
        return fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0;
}

static void crash_if_asked(int dir_fd, const char *point) {
        char name[256];

        if (snprintf(name, sizeof name, "%s.kill", point) >= (int) sizeof name)
                return;
        if (point_exists(dir_fd, name)) {
                log_info("Test point %s: killing the daemon, as %s asks.", point, name);
                (void) raise(SIGKILL);
        }
}

void job_queue_test_crash_point(JobQueue *q, const char *point) {
        if (q && q->test_dir_fd >= 0)
                crash_if_asked(q->test_dir_fd, point);
}

bool job_test_point(Job *j, const char *point) {
        JobQueue *q = j->queue;
        char held[256];
        int fd;

        if (!q || q->test_dir_fd < 0)
                return job_should_continue(j);
        crash_if_asked(q->test_dir_fd, point);
        if (!point_exists(q->test_dir_fd, point))
                return job_should_continue(j);

        if (snprintf(held, sizeof held, "%s.%" PRIu64 ".held", point, j->id) >= (int) sizeof held)
                return job_should_continue(j);
        fd = openat(q->test_dir_fd, held, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd >= 0)
                close(fd);
        log_info("Job %" PRIu64 " (%s) held at test point %s.", j->id, j->operation, point);

        while (point_exists(q->test_dir_fd, point) && job_should_continue(j)) {
                struct timespec ts = { .tv_nsec = TEST_POINT_POLL_NSEC };
                (void) nanosleep(&ts, NULL);
        }
        (void) unlinkat(q->test_dir_fd, held, 0);
        log_info("Job %" PRIu64 " released from test point %s%s.", j->id, point,
                 job_should_continue(j) ? "" : " (canceled)");
        return job_should_continue(j);
}

bool job_test_start_point(Job *j) {
        JobQueue *q = j->queue;
        char point[256];

        if (!q || q->test_dir_fd < 0)
                return job_should_continue(j);
        if (snprintf(point, sizeof point, "%s%s", q->test_prefix, j->operation) >= (int) sizeof point)
                return job_should_continue(j);
        return job_test_point(j, point);
}

int job_queue_set_test_dir(JobQueue *q, int dir_fd, const char *prefix) {
        char *p = strdup(prefix ? prefix : "");
        if (!p)
                return -ENOMEM;
        int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0) {
                free(p);
                return -errno;
        }
        if (q->test_dir_fd >= 0)
                close(q->test_dir_fd);
        free(q->test_prefix);
        q->test_dir_fd = fd;
        q->test_prefix = p;
        return 0;
}
