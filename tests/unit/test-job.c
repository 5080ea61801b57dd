/* SPDX-License-Identifier: MIT */

/* jobs/: workers, progress through the eventfd, completion on the "main" thread, cancel. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "smsprov/job.h"
#include "smsprov/macro.h"

typedef struct Counters {
        unsigned changed, finished;
        JobState last_state;
        unsigned finish_calls;
} Counters;

static void on_changed(Job *j, void *userdata) {
        ((Counters *) userdata)->changed++;
}

static void on_finished(Job *j, void *userdata) {
        Counters *c = userdata;
        c->finished++;
        c->last_state = j->state;
}

static int work_quick(Job *j, void *userdata, SmsError *e) {
        job_set_progress(j, 1, 2, 50, 100, "half way");
        job_set_progress(j, 2, 2, 100, 100, "done");
        return 0;
}

static int work_fail(Job *j, void *userdata, SmsError *e) {
        return sms_error_set(e, SMS_ERROR_IMAGE_ERROR, "wimlib: not a WIM file (error 1)");
}

static int work_until_canceled(Job *j, void *userdata, SmsError *e) {
        atomic_int *running = userdata;
        atomic_store(running, 1);
        while (job_should_continue(j))
                usleep(1000);
        return sms_error_set(e, SMS_ERROR_CANCELED, "canceled");
}

static int finish_count(Job *j, void *userdata, int r, SmsError *e) {
        return r;
}

static void pump(JobQueue *q, Counters *c, unsigned want_finished) {
        for (int i = 0; i < 5000 && c->finished < want_finished; i++) {
                struct pollfd p = { .fd = job_queue_fd(q), .events = POLLIN };
                if (poll(&p, 1, 10) > 0)
                        job_queue_dispatch(q);
        }
        assert_int_equal(c->finished, want_finished);
}

static void test_complete_and_fail(void **state) {
        Counters c = {};
        JobQueueCallbacks cb = { .changed = on_changed, .finished = on_finished, .userdata = &c };
        JobQueue *q = NULL;
        Job *j = NULL;

        assert_int_equal(job_queue_new(2, &cb, &q), 0);
        assert_int_equal(job_submit(q, &(JobSpec) { .id = 1, .operation = "UpdateImage", .work = work_quick,
                                                    .finish = finish_count },
                                    &j),
                         0);
        job_ref(j);
        pump(q, &c, 1);
        assert_int_equal(j->state, JOB_STATE_COMPLETED);
        assert_true(c.changed >= 1);
        JobProgress p = job_get_progress(j, NULL);
        assert_int_equal(p.progress, 2);
        assert_string_equal(p.text, "done");
        assert_true(j->end_usec >= j->start_usec);
        assert_false(job_cancel(j)); /* finished: nothing to cancel */
        job_unref(j);

        assert_int_equal(job_submit(q, &(JobSpec) { .id = 2, .work = work_fail }, &j), 0);
        job_ref(j);
        pump(q, &c, 2);
        assert_int_equal(j->state, JOB_STATE_FAILED);
        assert_int_equal(j->error.code, SMS_ERROR_IMAGE_ERROR);
        assert_int_equal(job_queue_active(q), 0);
        job_unref(j);
        job_queue_free(q);
}

static void test_cancel_running_and_queued(void **state) {
        Counters c = {};
        JobQueueCallbacks cb = { .changed = on_changed, .finished = on_finished, .userdata = &c };
        atomic_int running = 0;
        JobQueue *q = NULL;
        Job *a = NULL, *b = NULL;

        /* One worker: b waits behind a. */
        assert_int_equal(job_queue_new(1, &cb, &q), 0);
        assert_int_equal(job_submit(q, &(JobSpec) { .id = 1, .work = work_until_canceled, .userdata = &running }, &a),
                         0);
        assert_int_equal(job_submit(q, &(JobSpec) { .id = 2, .work = work_quick }, &b), 0);
        job_ref(a);
        job_ref(b);
        while (!atomic_load(&running))
                usleep(1000);

        assert_true(job_cancel(b)); /* queued: canceled without running */
        pump(q, &c, 1);
        assert_int_equal(b->state, JOB_STATE_CANCELED);
        assert_int_equal(c.last_state, JOB_STATE_CANCELED);

        assert_true(job_cancel(a)); /* running: stops at its next check */
        pump(q, &c, 2);
        assert_int_equal(a->state, JOB_STATE_CANCELED);
        assert_int_equal(a->error.code, SMS_ERROR_CANCELED);
        job_unref(a);
        job_unref(b);
        job_queue_free(q);
}

/* --- job_defer_removal() ----------------------------------------------------------------------- */

typedef struct Leftover {
        char dir[64];
        atomic_int go;           /* the work waits for it, so the test can queue others first */
        bool existed_at_finish;  /* the tree was still there when the outcome was reported */
        unsigned finished;
} Leftover;

static bool exists(const char *path) {
        return access(path, F_OK) == 0;
}

/* Makes a tree (a folder holding a file) and leaves its removal to the queue. */
static int work_leave_tree(Job *j, void *userdata, SmsError *e) {
        Leftover *l = userdata;
        char file[96];

        while (!atomic_load(&l->go))
                usleep(1000);
        strcpy(l->dir, "/tmp/smsprov-test-job.XXXXXX");
        if (!mkdtemp(l->dir))
                return -errno;
        snprintf(file, sizeof file, "%s/replaced", l->dir);
        FILE *f = fopen(file, "w");
        if (!f || fclose(f) != 0)
                return -EIO;
        job_defer_removal(j, strdup(l->dir));
        return 0;
}

static void on_finished_leftover(Job *j, void *userdata) {
        Leftover *l = userdata;
        l->existed_at_finish = exists(l->dir);
        l->finished++;
}

static void pump_leftover(JobQueue *q, Leftover *l) {
        for (int i = 0; i < 5000 && l->finished == 0; i++) {
                struct pollfd p = { .fd = job_queue_fd(q), .events = POLLIN };
                if (poll(&p, 1, 10) > 0)
                        job_queue_dispatch(q);
        }
        assert_int_equal(l->finished, 1);
}

/* The tree outlives the outcome's report, then an idle worker removes it. */
static void test_deferred_removal(void **state) {
        Leftover l = { .go = 1 };
        JobQueueCallbacks cb = { .finished = on_finished_leftover, .userdata = &l };
        JobQueue *q = NULL;

        assert_int_equal(job_queue_new(1, &cb, &q), 0);
        assert_int_equal(job_submit(q, &(JobSpec) { .id = 1, .work = work_leave_tree, .userdata = &l }, NULL), 0);
        pump_leftover(q, &l);
        assert_true(l.existed_at_finish);
        /* No bound of its own but meson's timeout: how soon the worker gets to it is the machine's. */
        while (exists(l.dir))
                usleep(1000);
        job_queue_free(q);
}

/* A queue of one worker: job 1 leaves l's tree behind (its removal deferred) and has ended; job 2,
 * queued before job 1 ended, runs until canceled and is the worker's next, ahead of any removal. */
static JobQueue *queue_leftover_then_busy(const JobQueueCallbacks *cb, Leftover *l, atomic_int *running) {
        JobQueue *q = NULL;

        assert_int_equal(job_queue_new(1, cb, &q), 0);
        assert_int_equal(job_submit(q, &(JobSpec) { .id = 1, .work = work_leave_tree, .userdata = l }, NULL), 0);
        assert_int_equal(job_submit(q, &(JobSpec) { .id = 2, .work = work_until_canceled, .userdata = running }, NULL),
                         0);
        atomic_store(&l->go, 1);
        pump_leftover(q, l);
        return q;
}

/* A removal still queued when the queue is freed (its one worker busy with a job that runs until
 * canceled) is done by job_queue_free(). */
static void test_deferred_removal_at_free(void **state) {
        Leftover l = {};
        JobQueueCallbacks cb = { .finished = on_finished_leftover, .userdata = &l };
        atomic_int running = 0;
        JobQueue *q = queue_leftover_then_busy(&cb, &l, &running);

        while (!atomic_load(&running))
                usleep(1000);
        assert_true(exists(l.dir)); /* the only worker is busy */
        job_queue_free(q);
        assert_false(exists(l.dir));
}

static void test_free_with_running_job(void **state) {
        atomic_int running = 0;
        JobQueue *q = NULL;

        assert_int_equal(job_queue_new(2, NULL, &q), 0);
        assert_int_equal(job_submit(q, &(JobSpec) { .id = 1, .work = work_until_canceled, .userdata = &running }, NULL),
                         0);
        while (!atomic_load(&running))
                usleep(1000);
        job_queue_free(q); /* cancels and joins; must not hang or leak */
}

/* --- test points (--test-hold-dir) --------------------------------------------------------------- */

static atomic_int worked;

static int work_count(Job *j, void *userdata, SmsError *e) {
        atomic_fetch_add(&worked, 1);
        return 0;
}

static bool at(int dir_fd, const char *name) {
        struct stat st;
        return fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void touch_at(int dir_fd, const char *name) {
        int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        close(fd);
}

/* A job whose start point is held waits there, running, with its marker, until the hold goes or
 * the job is canceled; the deferred replies' queue names its points with its prefix. */
static void test_points_hold_release_and_cancel(void **state) {
        char dir[] = "/tmp/smsprov-test-points.XXXXXX";
        Counters c = {};
        JobQueueCallbacks cb = { .changed = on_changed, .finished = on_finished, .userdata = &c };
        JobQueue *q = NULL;
        Job *a = NULL, *b = NULL;

        assert_non_null(mkdtemp(dir));
        int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dir_fd >= 0);
        assert_int_equal(job_queue_new(2, &cb, &q), 0);
        assert_int_equal(job_queue_set_test_dir(q, dir_fd, "call."), 0);
        atomic_store(&worked, 0);

        /* Held, then released: the work runs once the hold is gone, and the marker goes too. */
        touch_at(dir_fd, "call.Create");
        assert_int_equal(job_submit(q, &(JobSpec) { .id = 7, .operation = "Create", .work = work_count }, &a), 0);
        job_ref(a);
        while (!at(dir_fd, "call.Create.7.held"))
                usleep(1000);
        while (a->state != JOB_STATE_RUNNING) { /* the main side learns that it started */
                struct pollfd p = { .fd = job_queue_fd(q), .events = POLLIN };
                if (poll(&p, 1, 10) > 0)
                        job_queue_dispatch(q);
        }
        assert_int_equal(atomic_load(&worked), 0); /* held: the work has not begun */
        assert_int_equal(c.finished, 0);
        assert_int_equal(unlinkat(dir_fd, "call.Create", 0), 0);
        pump(q, &c, 1);
        assert_int_equal(a->state, JOB_STATE_COMPLETED);
        assert_int_equal(atomic_load(&worked), 1);
        assert_false(at(dir_fd, "call.Create.7.held"));

        /* Held, then canceled: it leaves the point canceled, its work never runs. */
        touch_at(dir_fd, "call.Create");
        assert_int_equal(job_submit(q, &(JobSpec) { .id = 8, .operation = "Create", .work = work_count }, &b), 0);
        job_ref(b);
        while (!at(dir_fd, "call.Create.8.held"))
                usleep(1000);
        assert_true(job_cancel(b));
        pump(q, &c, 2);
        assert_int_equal(b->state, JOB_STATE_CANCELED);
        assert_int_equal(atomic_load(&worked), 1);
        assert_false(at(dir_fd, "call.Create.8.held"));

        /* A point of another name holds nothing. */
        assert_int_equal(job_submit(q, &(JobSpec) { .id = 9, .operation = "UpdateImage", .work = work_count }, NULL), 0);
        pump(q, &c, 3);
        assert_int_equal(atomic_load(&worked), 2);

        assert_int_equal(unlinkat(dir_fd, "call.Create", 0), 0);
        job_unref(a);
        job_unref(b);
        job_queue_free(q);
        close(dir_fd);
        assert_int_equal(rmdir(dir), 0);
}

/* A second job_defer_removal() (a build's finish naming the replaced version after its work named
 * a replaced file) hands the first to the queue instead of removing it in the caller's thread,
 * the event loop: with the one worker kept busy, both trees are still there after the call, and
 * job_queue_free() removes both. */
typedef struct SecondLeftover {
        Leftover first;
        char second[64];
        bool first_kept; /* the first tree was there right after the second call */
} SecondLeftover;

static void on_finished_second_leftover(Job *j, void *userdata) {
        SecondLeftover *s = userdata;
        strcpy(s->second, "/tmp/smsprov-test-job.XXXXXX");
        assert_non_null(mkdtemp(s->second));
        job_defer_removal(j, strdup(s->second));
        s->first_kept = exists(s->first.dir);
        s->first.finished++;
}

static void test_second_removal_goes_to_the_queue(void **state) {
        SecondLeftover s = {};
        JobQueueCallbacks cb = { .finished = on_finished_second_leftover, .userdata = &s };
        atomic_int running = 0;
        JobQueue *q = queue_leftover_then_busy(&cb, &s.first, &running);

        /* No removal can have run: a worker takes a pending job before any removal, and job 2 was
         * pending when job 1 ended; it runs until canceled. */
        assert_true(s.first_kept);
        assert_true(exists(s.first.dir) && exists(s.second));
        job_queue_free(q);
        assert_false(exists(s.first.dir));
        assert_false(exists(s.second));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_complete_and_fail),
                cmocka_unit_test(test_cancel_running_and_queued),
                cmocka_unit_test(test_free_with_running_job),
                cmocka_unit_test(test_deferred_removal),
                cmocka_unit_test(test_deferred_removal_at_free),
                cmocka_unit_test(test_second_removal_goes_to_the_queue),
                cmocka_unit_test(test_points_hold_release_and_cancel),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
