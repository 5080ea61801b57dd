/* SPDX-License-Identifier: MIT */

/* The site engine without a bus, the way fwupd tests its engine: a real site database, real WIMs,
 * real distribution points as directories, the engine's own job queue and event loop, and an
 * observer that records what the engine reports. Covered: the per-DP distribution state machine
 * (installed, one DP failing alone, one DP canceled, resumed after a restart, and given up at the
 * limit), the job limits leaving nothing behind, boot image builds (what a build commits and what
 * a failed one leaves), the engine's write operations and their reports, and refresh schedules
 * firing. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../helpers/test-db.h"
#include "../helpers/wim-gen.h"
#include "smsprov/macro.h"
#include "smsprov/site-distribution.h"
#include "smsprov/site-drivers.h"
#include "smsprov/site-image.h"
#include "smsprov/site-jobs.h"
#include "smsprov/site-schedule.h"
#include "smsprov/site-writes.h"
#include "smsprov/site.h"
#include "util/time-util.h"

#include "unit-util.h"

/* Only turns a hang into a failure: no step waits for a time, each waits for an event. */
#define WAIT_USEC (300ULL * 1000000ULL)

/* --- the recording observer -------------------------------------------------------------------- */

typedef struct Recorder {
        char **events; /* "added SMS_ImagePackage LAB00001", "job-finished RefreshPkgSource 2", … */
        size_t n;
} Recorder;

static void record(Recorder *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void record(Recorder *r, const char *fmt, ...) {
        va_list ap;
        char *s = NULL;

        va_start(ap, fmt);
        assert_true(vasprintf(&s, fmt, ap) >= 0);
        va_end(ap);
        r->events = realloc(r->events, (r->n + 2) * sizeof(char *));
        assert_non_null(r->events);
        r->events[r->n++] = s;
        r->events[r->n] = NULL;
}

static void on_added(void *ud, const SmsClass *c, const char *key) {
        record(ud, "added %s %s", c->name, key);
}

static void on_changed(void *ud, const SmsClass *c, const char *key, const size_t *changed, size_t n) {
        for (size_t i = 0; i < n; i++)
                record(ud, "changed %s %s %s", c->name, key, c->all[changed[i]]->name);
}

static void on_removed(void *ud, const SmsClass *c, const char *key) {
        record(ud, "removed %s %s", c->name, key);
}

static void on_change_notification(void *ud, const SmsClass *c, const char *key) {
        record(ud, "notification %s %s", c->name, key);
}

static void on_job_added(void *ud, SiteJob *j) {
        record(ud, "job-added %s %s", j->job->operation, j->job->target);
}

static void on_job_finished(void *ud, SiteJob *j) {
        record(ud, "job-finished %s %s %u", j->job->operation, j->job->target, (unsigned) j->job->state);
}

static void on_job_removed(void *ud, SiteJob *j) {
        record(ud, "job-removed %s", j->job->operation);
}

static const SiteObserver recording_observer = {
        .object_added = on_added,
        .object_changed = on_changed,
        .object_removed = on_removed,
        .change_notification = on_change_notification,
        .job_added = on_job_added,
        .job_finished = on_job_finished,
        .job_removed = on_job_removed,
};

static size_t count_events(const Recorder *r, const char *prefix) {
        size_t n = 0;
        for (size_t i = 0; i < r->n; i++)
                n += strncmp(r->events[i], prefix, strlen(prefix)) == 0;
        return n;
}

static void forget_events(Recorder *r) {
        strv_free(r->events);
        *r = (Recorder) {};
}

/* --- the fixture ------------------------------------------------------------------------------- */

typedef struct Fixture {
        char dir[64];
        char *database; /* PostgreSQL (test-db.h), NULL on SQLite */
        char *content, *dps, *hold, *dp_root[2], *nal[2];
        int hold_fd;
        Site site;
        sd_event *event;
        Recorder rec;
        SiteCaller caller;
} Fixture;

static char *path_in(const char *dir, const char *name) {
        char *p = NULL;
        assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        SmsError e = SMS_ERROR_NULL;
        _cleanup_free_ char *site_dir = NULL;

        assert_non_null(f);
        strcpy(f->dir, "/tmp/smsprov-site.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        site_dir = path_in(f->dir, "state");
        f->content = test_make_dir(f->dir, "content");
        f->dps = test_make_dir(f->dir, "dps");
        f->hold = test_make_dir(f->dir, "hold");
        for (int i = 0; i < 2; i++) {
                assert_true(asprintf(&f->dp_root[i], "%s/dp%d", f->dps, i + 1) > 0);
                assert_int_equal(mkdir(f->dp_root[i], 0755), 0);
                assert_true(asprintf(&f->nal[i], "[\"Display=\\\\dp%d\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\dp%d\\", i + 1,
                                     i + 1) > 0);
        }

        f->database = test_db_new();
        if (site_open_at(&f->site, site_dir, f->database, "LAB", &e) < 0)
                fail_msg("site_open_at: %s", e.message);
        assert_int_equal(site_add_root(&f->site, SITE_ROOT_CONTENT, f->content, &e), 0);
        assert_int_equal(site_add_root(&f->site, SITE_ROOT_DP, f->dps, &e), 0);
        f->site.observer = &recording_observer;
        f->site.observer_data = &f->rec;
        assert_int_equal(sd_event_new(&f->event), 0);
        assert_int_equal(site_jobs_start(&f->site, f->event, 2), 0);
        f->hold_fd = open(f->hold, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(f->hold_fd >= 0);
        assert_int_equal(site_jobs_set_test_dir(&f->site, f->hold_fd), 0);
        f->caller = (SiteCaller) { .uid = 0, .peer = ":1.42" };
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        site_schedules_stop(&f->site);
        site_jobs_stop(&f->site);
        site_close(&f->site);
        sd_event_unref(f->event);
        close(f->hold_fd);
        assert_int_equal(test_rm_rf(f->dir), 0);
        forget_events(&f->rec);
        for (int i = 0; i < 2; i++) {
                free(f->dp_root[i]);
                free(f->nal[i]);
        }
        free(f->content);
        free(f->dps);
        free(f->hold);
        free(f->database);
        free(f);
        return 0;
}

/* Runs the loop until the job has ended (its outcome recorded), and returns its state. */
static JobState run_job(Fixture *f, uint64_t id) {
        SiteJob *sj = site_job_find(&f->site, id);

        assert_non_null(sj);
        while (sj->job->state <= JOB_STATE_RUNNING)
                assert_true(sd_event_run(f->event, WAIT_USEC) > 0);
        return sj->job->state;
}

static bool held(Fixture *f, const char *point, uint64_t id) {
        char name[128];
        snprintf(name, sizeof name, "%s.%" PRIu64 ".held", point, id);
        return faccessat(f->hold_fd, name, F_OK, 0) == 0;
}

/* Holds jobs at their start point `point` (the daemon's --test-hold-dir, jobs/test-point.c). */
static void hold(Fixture *f, const char *point) {
        int fd = openat(f->hold_fd, point, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        close(fd);
}

static void release(Fixture *f, const char *point) {
        assert_int_equal(unlinkat(f->hold_fd, point, 0), 0);
}

static void wait_held(Fixture *f, const char *point, uint64_t id) {
        /* The marker appears once the worker has taken the job; meanwhile the loop runs, which
         * reports the job running. The deadline only turns a hang into a failure. */
        uint64_t deadline = now_monotonic_usec() + WAIT_USEC;
        while (!held(f, point, id)) {
                assert_true(now_monotonic_usec() < deadline);
                assert_true(sd_event_run(f->event, WAIT_USEC / 1000) >= 0);
        }
}

static SiteChange change_bool(const SmsClass *c, const char *name, bool value) {
        int i = sms_class_find_property(c, name);
        assert_true(i >= 0);
        return (SiteChange) { .index = (size_t) i, .value = cim_value_bool(value) };
}

static SiteChange change_string(const SmsClass *c, const char *name, const char *value) {
        SiteChange ch = { .index = (size_t) sms_class_find_property(c, name) };
        assert_true(sms_class_find_property(c, name) >= 0);
        assert_int_equal(cim_value_set_string(&ch.value, value), 0);
        return ch;
}

static SiteChange change_uint(const SmsClass *c, const char *name, uint64_t v) {
        int i = sms_class_find_property(c, name);
        assert_true(i >= 0);
        return (SiteChange) { .index = (size_t) i, .value = cim_value_uint(c->all[i]->type, v) };
}

/* For changes on the stack (site_changes_free() frees the array too). */
static void clear_changes(SiteChange *ch, size_t n) {
        for (size_t i = 0; i < n; i++)
                cim_value_clear(&ch[i].value);
}

/* Registers both DPs (SMS_DistributionPointInfo) through the engine's Create. */
static void add_dp_infos(Fixture *f) {
        const SmsClass *c = sms_model_find_class("SMS_DistributionPointInfo");
        SmsError e = SMS_ERROR_NULL;

        for (int i = 0; i < 2; i++) {
                SiteChange ch[2] = { change_string(c, "NALPath", f->nal[i]), change_string(c, "ContentRoot", f->dp_root[i]) };
                _cleanup_free_ char *key = NULL;
                uint64_t job = 1;
                assert_int_equal(site_changes_check_paths(&f->site, c, ch, 2, &e), 0);
                assert_int_equal(site_create(&f->site, c, ch, 2, &f->caller, &key, &job, &e), 0);
                assert_int_equal(job, 0); /* registering a DP starts nothing */
                clear_changes(ch, 2);
                assert_non_null(key);
        }
}

/* Creates an image class package from a WIM in the content root through the engine's three
 * steps (new, work, commit), as a Create call does. Returns its PackageID; *ret_job the job it
 * started (a boot image's first build), 0 when none. */
static char *create_image_package(Fixture *f, const char *class_name, const char *wim, uint64_t *ret_job) {
        const SmsClass *c = sms_model_find_class(class_name);
        bool boot = site_is_boot_image(c);
        SmsError e = SMS_ERROR_NULL;
        SiteImageCreate *ic = NULL;
        SiteChange *ch = calloc(3, sizeof(SiteChange));
        char *key = NULL;
        uint64_t job = 0;

        assert_non_null(ch);
        ch[0] = change_string(c, "Name", class_name);
        ch[1] = change_string(c, boot ? "ImagePath" : "PkgSourcePath", wim);
        ch[2] = change_uint(c, "PkgSourceFlag", 2);
        assert_int_equal(site_image_create_new(&f->site, c, ch, 3, 0, &f->caller, &ic, &e), 0);
        assert_non_null(ic);
        assert_int_equal(site_image_create_work(ic, &e), 0);
        assert_int_equal(site_image_create_commit(ic, &key, &job, &e), 0);
        site_image_create_free(ic);
        if (ret_job)
                *ret_job = job;
        return key;
}

static SmsObject *load(Fixture *f, const char *class_name, const char *key) {
        SmsObject *o = NULL;
        assert_int_equal(site_object_load(&f->site, sms_model_find_class(class_name), key, &o, NULL), 0);
        return o;
}

static uint64_t uint_of(const SmsObject *o, const char *name) {
        int i = sms_class_find_property(o->class, name);
        assert_true(i >= 0);
        return o->values[i].null ? UINT64_MAX : o->values[i].u;
}

static const char *string_of(const SmsObject *o, const char *name) {
        int i = sms_class_find_property(o->class, name);
        assert_true(i >= 0);
        return o->values[i].null ? "" : o->values[i].str;
}

/* A property of a package on a DP (SMS_PackageStatusDistPointsSummarizer), -1 without a row. */
static int dp_value(Fixture *f, const char *package_id, int dp, const char *name) {
        const SmsClass *c = sms_model_find_class("SMS_PackageStatusDistPointsSummarizer");
        CimValue id = { .type = CIM_STRING, .str = (char *) package_id },
                 nal = { .type = CIM_STRING, .str = f->nal[dp] }, site = { .type = CIM_STRING, .str = (char *) "LAB" };
        const CimValue *values[] = { &id, &nal, &site };
        _cleanup_free_ char *key = NULL;
        _cleanup_(sms_object_freep) SmsObject *o = NULL;

        assert_int_equal(sms_class_key_format(c, values, &key), 0);
        if (site_object_load(&f->site, c, key, &o, NULL) < 0)
                return -1;
        return (int) uint_of(o, name);
}

static int dp_state(Fixture *f, const char *package_id, int dp) {
        return dp_value(f, package_id, dp, "State");
}

/* RetryCount: how many times a restart resumed it. */
static int dp_resumed_count(Fixture *f, const char *package_id, int dp) {
        return dp_value(f, package_id, dp, "RetryCount");
}

/* How many status messages with this MessageID the site holds. */
static size_t messages(Fixture *f, unsigned id) {
        _cleanup_(wql_query_freep) WqlQuery *q = NULL;
        _cleanup_free_ char *text = NULL;
        WqlRow *rows = NULL;
        size_t n = 0;

        assert_true(asprintf(&text, "SELECT RecordID FROM SMS_StatusMessage WHERE MessageID = %u", id) > 0);
        assert_int_equal(site_query(&f->site, text, &q, &rows, &n, NULL), 0);
        wql_rows_free(rows, n, q->n_columns);
        return n;
}

static char *make_wim(Fixture *f, const char *name, uint64_t filler) {
        char *path = path_in(f->content, name);
        assert_int_equal(test_make_winpe_wim(path, "9", true, filler, false), 0);
        return path;
}

/* --- distribution ------------------------------------------------------------------------------ */

/* Both DPs registered, and an OS image package of a small WIM: its PackageID. */
static char *dps_and_package(Fixture *f) {
        _cleanup_free_ char *wim = make_wim(f, "os.wim", 0);
        add_dp_infos(f);
        return create_image_package(f, "SMS_ImagePackage", wim, NULL);
}

/* AddDistributionPoints of an OS image to the first n DPs. */
static int add_points(Fixture *f, const char *key, size_t n, uint64_t *ret_job, SmsError *e) {
        return site_distribution_add_points(&f->site, sms_model_find_class("SMS_ImagePackage"), key,
                                            (char *[]) { "LAB", "LAB", NULL }, f->nal, n, &f->caller, ret_job, e);
}

/* AddDistributionPoints: the assignments are reported added, both DPs go CONTENT_UPDATING while
 * the job is queued, then INSTALLED with the package's version, each with its status message;
 * the DPs hold the published file. */
static void test_distribution_installs_on_each_dp(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *key = dps_and_package(f);
        SmsError e = SMS_ERROR_NULL;
        uint64_t job = 0;

        forget_events(&f->rec);

        hold(f, "Distribute");
        assert_int_equal(add_points(f, key, 2, &job, &e), 0);
        assert_true(job > 0);
        assert_int_equal(count_events(&f->rec, "added SMS_DistributionPoint "), 2);
        assert_int_equal(count_events(&f->rec, "job-added Distribute SMS_ImagePackage."), 1);
        wait_held(f, "Distribute", job);
        for (int i = 0; i < 2; i++)
                assert_int_equal(dp_state(f, key, i), SITE_DP_CONTENT_UPDATING);
        release(f, "Distribute");

        assert_int_equal(run_job(f, job), JOB_STATE_COMPLETED);
        _cleanup_(sms_object_freep) SmsObject *package = load(f, "SMS_ImagePackage", key);
        for (int i = 0; i < 2; i++) {
                assert_int_equal(dp_state(f, key, i), SITE_DP_INSTALLED);
                /* The DP serves that version (content.h's layout). */
                _cleanup_free_ char *current = NULL, *want = NULL;
                char text[32] = "";
                assert_true(asprintf(&current, "%s/SCCMContentLib/PkgLib/%s/current", f->dp_root[i], key) > 0);
                assert_true(asprintf(&want, "%" PRIu64 "\n", uint_of(package, "SourceVersion")) > 0);
                FILE *cf = fopen(current, "re");
                assert_non_null(cf);
                assert_non_null(fgets(text, sizeof text, cf));
                fclose(cf);
                assert_string_equal(text, want);
        }
        assert_int_equal(messages(f, 2301), 2);
        assert_true(count_events(&f->rec, "changed SMS_PackageStatusDistPointsSummarizer ") >= 4);
        assert_int_equal(count_events(&f->rec, "job-finished Distribute"), 1);
}

/* A DP whose directory is gone fails alone: the other installs, the job fails naming the count,
 * and the failed DP's message says why. */
static void test_distribution_one_dp_fails_alone(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *key = dps_and_package(f);
        SmsError e = SMS_ERROR_NULL;
        uint64_t job = 0;

        assert_int_equal(test_rm_rf(f->dp_root[1]), 0);
        assert_int_equal(add_points(f, key, 2, &job, &e), 0);
        assert_int_equal(run_job(f, job), JOB_STATE_FAILED);
        SiteJob *sj = site_job_find(&f->site, job);
        assert_non_null(strstr(sj->job->error.message, "1 of 2 distribution points failed"));
        assert_int_equal(dp_state(f, key, 0), SITE_DP_INSTALLED);
        assert_int_equal(dp_state(f, key, 1), SITE_DP_INSTALL_FAILED);
        assert_int_equal(messages(f, 2301), 1);
        assert_int_equal(messages(f, 2302), 1);
}

/* CancelDistribution of one DP while the job is held at its start: that DP fails, the other
 * installs. Without a running distribution, CancelDistribution is Failed. */
static void test_distribution_cancel_one_dp(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *wim = make_wim(f, "big.wim", 8u << 20), *key = NULL;
        SmsError e = SMS_ERROR_NULL;
        uint64_t job = 0;

        add_dp_infos(f);
        key = create_image_package(f, "SMS_ImagePackage", wim, NULL);
        assert_true(site_distribution_cancel(&f->site, key, f->nal[0], &e) < 0);
        assert_int_equal(e.code, SMS_ERROR_FAILED);
        sms_error_clear(&e);

        hold(f, "Distribute");
        assert_int_equal(add_points(f, key, 2, &job, &e), 0);
        wait_held(f, "Distribute", job);
        assert_int_equal(site_distribution_cancel(&f->site, key, f->nal[0], &e), 0);
        release(f, "Distribute");
        assert_int_equal(run_job(f, job), JOB_STATE_FAILED);
        assert_int_equal(dp_state(f, key, 0), SITE_DP_INSTALL_FAILED);
        assert_int_equal(dp_state(f, key, 1), SITE_DP_INSTALLED);
}

/* After a restart: an assignment left pending is retried (INSTALL_RETRYING, then INSTALLED), one
 * that has been retried SITE_DISTRIBUTION_MAX_RETRIES times fails with a message. */
static void test_distribution_resumed_then_given_up(void **state) {
        Fixture *f = *state;
        const SmsClass *summary = sms_model_find_class("SMS_PackageStatusDistPointsSummarizer");
        _cleanup_free_ char *key = dps_and_package(f);
        SmsError e = SMS_ERROR_NULL;
        uint64_t job = 0;

        assert_int_equal(add_points(f, key, 2, &job, &e), 0);
        assert_int_equal(run_job(f, job), JOB_STATE_COMPLETED);

        /* As a stop would leave them: dp1 pending and never resumed yet, dp2 resumed up to the limit. */
        for (int i = 0; i < 2; i++) {
                CimValue id = { .type = CIM_STRING, .str = key }, nal = { .type = CIM_STRING, .str = f->nal[i] },
                         site = { .type = CIM_STRING, .str = (char *) "LAB" };
                const CimValue *values[] = { &id, &nal, &site };
                _cleanup_free_ char *akey = NULL;
                _cleanup_free_ size_t *changed = NULL;
                size_t n_changed = 0;
                SiteChange ch[2] = { change_uint(summary, "State", SITE_DP_INSTALL_PENDING),
                                     change_uint(summary, "RetryCount", i == 0 ? 0 : SITE_DISTRIBUTION_MAX_RETRIES) };
                assert_int_equal(sms_class_key_format(summary, values, &akey), 0);
                assert_int_equal(site_object_set_derived(&f->site, summary, akey, ch, 2, &f->caller, "test", &changed,
                                                         &n_changed, &e),
                                 0);
        }
        forget_events(&f->rec);
        site_distribution_resume(&f->site);
        assert_int_equal(dp_state(f, key, 1), SITE_DP_INSTALL_FAILED);
        /* Resumed: its RetryCount counts one more go (INSTALL_RETRYING), and its job is queued
         * (CONTENT_UPDATING until it ends). */
        assert_int_equal(dp_state(f, key, 0), SITE_DP_CONTENT_UPDATING);
        assert_int_equal(dp_resumed_count(f, key, 0), 1);
        assert_int_equal(dp_resumed_count(f, key, 1), SITE_DISTRIBUTION_MAX_RETRIES + 1);
        assert_int_equal(count_events(&f->rec, "job-added Distribute"), 1);
        assert_int_equal(messages(f, 2302), 1);

        /* The retried one goes through. */
        for (SiteJob *sj = f->site.site_jobs; sj; sj = sj->next)
                if (sj->job->state <= JOB_STATE_RUNNING)
                        job = sj->job->id;
        assert_int_equal(run_job(f, job), JOB_STATE_COMPLETED);
        assert_int_equal(dp_state(f, key, 0), SITE_DP_INSTALLED);
}

/* At the job limit AddDistributionPoints is LimitsExceeded and creates no assignment: nothing is
 * reported and no state row exists. */
static void test_distribution_at_job_limit_changes_nothing(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *key = dps_and_package(f), *wim = path_in(f->content, "os.wim"), *other = NULL;
        SmsError e = SMS_ERROR_NULL;
        uint64_t first = 0, second = 0;

        other = create_image_package(f, "SMS_ImagePackage", wim, NULL);
        f->site.max_jobs = 1;
        hold(f, "Distribute");
        assert_int_equal(add_points(f, key, 1, &first, &e), 0);
        forget_events(&f->rec);
        assert_int_equal(add_points(f, other, 1, &second, &e), -EUSERS);
        assert_int_equal(e.code, SMS_ERROR_LIMITS_EXCEEDED);
        sms_error_clear(&e);
        assert_int_equal(f->rec.n, 0);
        assert_int_equal(dp_state(f, other, 0), -1);
        release(f, "Distribute");
        assert_int_equal(run_job(f, first), JOB_STATE_COMPLETED);
}

static size_t count_objects(Fixture *f, const char *class_name) {
        _cleanup_strv_free_ char **keys = NULL;
        SmsError e = SMS_ERROR_NULL;
        size_t n = 0;

        assert_int_equal(site_object_enumerate(&f->site, sms_model_find_class(class_name), &keys, NULL, &n, &e), 0);
        return n;
}

/* A distribution that cannot start (the package has no content yet) leaves no assignment behind:
 * the call changes nothing, though the assignments were valid. */
static void test_distribution_that_cannot_start_changes_nothing(void **state) {
        Fixture *f = *state;
        const SmsClass *c = sms_model_find_class("SMS_ImagePackage");
        SiteChange name = change_string(c, "Name", "no content yet");
        _cleanup_free_ char *key = NULL;
        SmsError e = SMS_ERROR_NULL;
        uint64_t job = 0;

        add_dp_infos(f);
        assert_int_equal(site_create(&f->site, c, &name, 1, &f->caller, &key, &job, &e), 0);
        clear_changes(&name, 1);
        forget_events(&f->rec);
        size_t messages = count_objects(f, "SMS_StatusMessage");
        assert_int_equal(add_points(f, key, 2, &job, &e), -EINVAL);
        assert_int_equal(e.code, SMS_ERROR_INVALID_PARAMETER);
        sms_error_clear(&e);
        for (int i = 0; i < 2; i++)
                assert_int_equal(dp_state(f, key, i), -1);
        assert_int_equal(count_objects(f, "SMS_DistributionPoint"), 0);
        /* One transaction, taken back whole: not even the audit of the assignments remains, and
         * nothing was reported, neither the assignments nor a job. */
        assert_int_equal(count_objects(f, "SMS_StatusMessage"), messages);
        assert_int_equal(f->rec.n, 0);
}

/* From here on the database refuses every job row (a trigger, as a full disk or a damaged
 * database would), or takes them again. */
static void refuse_jobs(Fixture *f, bool refuse) {
        _cleanup_free_ char *db = path_in(f->dir, "state/site.db");
        sqlite3 *raw = NULL;

        if (f->database) {
                test_db_exec(f->database,
                             refuse ? "CREATE FUNCTION refuse_jobs() RETURNS trigger LANGUAGE plpgsql AS "
                                      "$$BEGIN RAISE EXCEPTION 'no more jobs'; END$$; "
                                      "CREATE TRIGGER refuse_jobs BEFORE INSERT ON job "
                                      "FOR EACH ROW EXECUTE FUNCTION refuse_jobs()"
                                    : "DROP TRIGGER refuse_jobs ON job; DROP FUNCTION refuse_jobs()");
                return;
        }
        assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
        assert_int_equal(sqlite3_exec(raw,
                                      refuse ? "CREATE TRIGGER refuse_jobs BEFORE INSERT ON job "
                                               "BEGIN SELECT RAISE(ABORT, 'no more jobs'); END"
                                             : "DROP TRIGGER refuse_jobs",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_close(raw), SQLITE_OK);
}

/* A write and the job it starts are one transaction (issue 12 §6): when the job's row cannot be
 * written, AddDistributionPoints, the Create of an assignment and a Put that refreshes change
 * nothing at all (no row, no audit, no pending state) and report nothing. */
static void test_write_and_its_job_are_one_transaction(void **state) {
        Fixture *f = *state;
        const SmsClass *c = sms_model_find_class("SMS_ImagePackage");
        const SmsClass *dp = sms_model_find_class("SMS_DistributionPoint");
        _cleanup_free_ char *key = dps_and_package(f), *assignment = NULL;
        SmsError e = SMS_ERROR_NULL;
        uint64_t job = 0;

        refuse_jobs(f, true);
        forget_events(&f->rec);
        size_t audit = count_objects(f, "SMS_StatusMessage");
        assert_true(add_points(f, key, 2, &job, &e) < 0);
        assert_non_null(strstr(e.message, "no more jobs"));
        sms_error_clear(&e);

        SiteChange ch[3] = { change_string(dp, "PackageID", key), change_string(dp, "ServerNALPath", f->nal[0]),
                             change_string(dp, "SiteCode", "LAB") };
        assert_true(site_create(&f->site, dp, ch, 3, &f->caller, &assignment, &job, &e) < 0);
        clear_changes(ch, 3);
        sms_error_clear(&e);
        assert_null(assignment);
        assert_int_equal(count_objects(f, "SMS_DistributionPoint"), 0);
        assert_int_equal(dp_state(f, key, 0), -1);
        assert_int_equal(count_objects(f, "SMS_StatusMessage"), audit);
        assert_int_equal(f->rec.n, 0);

        /* On the DPs, then a Put that edits and refreshes the package (RefreshPkgSourceFlag). */
        refuse_jobs(f, false);
        assert_int_equal(add_points(f, key, 2, &job, &e), 0);
        assert_int_equal(run_job(f, job), JOB_STATE_COMPLETED);
        refuse_jobs(f, true);
        forget_events(&f->rec);
        audit = count_objects(f, "SMS_StatusMessage");
        SiteChange put[2] = { change_string(c, "Description", "edited"), change_bool(c, "RefreshPkgSourceFlag", true) };
        SiteJobPlan *plan = NULL;
        assert_int_equal(site_put_prepare(&f->site, c, key, put, 2, &f->caller, &plan, &e), 0);
        assert_non_null(plan);
        assert_true(site_put(&f->site, c, key, put, 2, plan, &f->caller, &job, &e) < 0);
        clear_changes(put, 2);
        sms_error_clear(&e);
        {
                _cleanup_(sms_object_freep) SmsObject *o = load(f, "SMS_ImagePackage", key);
                assert_true(sms_object_value(o, "Description")->null);
        }
        for (int i = 0; i < 2; i++)
                assert_int_equal(dp_state(f, key, i), 0);
        assert_int_equal(count_objects(f, "SMS_StatusMessage"), audit);
        assert_int_equal(f->rec.n, 0);
}

/* --- writes ------------------------------------------------------------------------------------ */

/* Put reports the properties that changed; Delete of a package on a DP is Busy and changes
 * nothing; AddChangeNotification reports the notification. */
static void test_writes_report_what_they_change(void **state) {
        Fixture *f = *state;
        const SmsClass *c = sms_model_find_class("SMS_ImagePackage");
        _cleanup_free_ char *key = dps_and_package(f);
        SmsError e = SMS_ERROR_NULL;
        uint64_t job = 0;

        assert_int_equal(count_events(&f->rec, "added SMS_ImagePackage "), 1);

        SiteChange ch[1] = { change_string(c, "Description", "edited") };
        forget_events(&f->rec);
        assert_int_equal(site_put(&f->site, c, key, ch, 1, NULL, &f->caller, &job, &e), 0);
        clear_changes(ch, 1);
        assert_int_equal(job, 0);
        assert_int_equal(count_events(&f->rec, "changed SMS_ImagePackage "), 2); /* and SedoObjectVersion */
        char want[64];
        snprintf(want, sizeof want, "changed SMS_ImagePackage %s Description", key);
        assert_int_equal(count_events(&f->rec, want), 1);

        assert_int_equal(add_points(f, key, 1, &job, &e), 0);
        assert_int_equal(run_job(f, job), JOB_STATE_COMPLETED);
        forget_events(&f->rec);
        assert_int_equal(site_delete(&f->site, c, key, &f->caller, &e), -EBUSY);
        assert_int_equal(e.code, SMS_ERROR_BUSY);
        sms_error_clear(&e);
        assert_int_equal(f->rec.n, 0);

        assert_int_equal(site_change_notification(&f->site, c, key, &f->caller, &e), 0);
        snprintf(want, sizeof want, "notification SMS_ImagePackage %s", key);
        assert_int_equal(count_events(&f->rec, want), 1);
        /* The DP has this version already: nothing to distribute. */
        assert_int_equal(count_events(&f->rec, "job-added"), 0);
}

/* --- the site systems scripts look up first ---------------------------------------------------- */

/* The first column of a query's rows, joined with '|' ("" for none). */
static char *query_column(Fixture *f, const char *text) {
        _cleanup_(wql_query_freep) WqlQuery *q = NULL;
        WqlRow *rows = NULL;
        size_t n = 0, len = 1;
        char *joined;

        SmsError e = SMS_ERROR_NULL;
        if (site_query(&f->site, text, &q, &rows, &n, &e) < 0)
                fail_msg("%s: %s", text, e.message);
        for (size_t i = 0; i < n; i++)
                len += strlen(rows[i].values[0].str) + 1;
        joined = calloc(1, len);
        assert_non_null(joined);
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        strcat(joined, "|");
                strcat(joined, rows[i].values[0].str);
        }
        wql_rows_free(rows, n, q->n_columns);
        return joined;
}

/* SMS_ProviderLocation is this host serving this site; SMS_SystemResourceList has this host's two
 * roles and one row per distribution point, following the DPs as they are registered and
 * removed. Neither can be written. */
static void test_site_systems_follow_dps(void **state) {
        Fixture *f = *state;
        const SmsClass *location = sms_model_find_class("SMS_ProviderLocation"),
                       *resources = sms_model_find_class("SMS_SystemResourceList"),
                       *dp_info = sms_model_find_class("SMS_DistributionPointInfo");
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        _cleanup_free_ char *machine = NULL, *host_nal = NULL, *namespace = NULL, *key = NULL;
        SmsError e = SMS_ERROR_NULL;
        char host[256] = "";
        char *got;

        assert_int_equal(gethostname(host, sizeof host - 1), 0);
        assert_true(asprintf(&namespace, "\\\\%s\\root\\sms\\site_LAB", host) > 0);
        assert_true(asprintf(&host_nal, "[\"Display=\\\\%s\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\%s\\", host, host) > 0);

        machine = query_column(f, "SELECT Machine FROM SMS_ProviderLocation WHERE ProviderForLocalSite = true "
                                  "AND SiteCode = 'lab'");
        assert_string_equal(machine, host);
        assert_true(asprintf(&key, "Machine=\"%s\",SiteCode=\"LAB\"", host) > 0);
        assert_int_equal(site_object_load(&f->site, location, key, &o, &e), 0);
        assert_string_equal(string_of(o, "NamespacePath"), namespace);
        assert_true(o->values[sms_class_find_property(location, "ProviderForLocalSite")].b);

        got = query_column(f, "SELECT RoleName FROM SMS_SystemResourceList ORDER BY RoleName");
        assert_string_equal(got, "SMS Provider|SMS Site Server");
        free(got);
        got = query_column(f, "SELECT NALPath FROM SMS_SystemResourceList WHERE RoleName = 'sms site server'");
        assert_string_equal(got, host_nal);
        free(got);
        got = query_column(f, "SELECT NALPath FROM SMS_SystemResourceList WHERE RoleName = 'SMS Distribution Point'");
        assert_string_equal(got, "");
        free(got);

        add_dp_infos(f);
        got = query_column(f, "SELECT NALPath FROM SMS_SystemResourceList WHERE RoleName = 'SMS Distribution Point' "
                              "AND SiteCode = 'LAB' ORDER BY ServerName");
        _cleanup_free_ char *both = NULL;
        assert_true(asprintf(&both, "%s|%s", f->nal[0], f->nal[1]) > 0);
        assert_string_equal(got, both);
        free(got);
        /* A page at a time, one row a page: every row once, in the key's order. */
        _cleanup_free_ char *cursor = NULL;
        size_t walked = 0;
        do {
                _cleanup_(wql_query_freep) WqlQuery *q = NULL;
                _cleanup_free_ char *next = NULL;
                WqlRow *rows = NULL;
                size_t n = 0;
                assert_int_equal(site_query_page(&f->site, "SELECT RoleName FROM SMS_SystemResourceList", cursor ? cursor : "",
                                                 1, &q, &rows, &n, &next, &e),
                                 0);
                walked += n;
                wql_rows_free(rows, n, q->n_columns);
                free(cursor);
                cursor = *next ? TAKE_PTR(next) : NULL;
        } while (cursor && walked < 10);
        assert_int_equal(walked, 4);
        /* WQL as scripts write it: '[[]' is a literal '[', '\\' in a string is one backslash. */
        got = query_column(f, "SELECT ServerName FROM SMS_SystemResourceList WHERE NALPath LIKE '%[[]\"SMS_SITE=LAB\"]"
                              "\\\\\\\\dp2\\\\' AND RoleName = 'SMS Distribution Point'");
        assert_string_equal(got, "dp2");
        free(got);

        /* Read-only: nothing is created, changed or deleted. */
        assert_int_equal(site_object_check_create(&f->site, resources, NULL, 0, &e), -EOPNOTSUPP);
        assert_int_equal(e.code, SMS_ERROR_NOT_SUPPORTED);
        sms_error_clear(&e);
        assert_true(site_delete(&f->site, location, key, &f->caller, &e) < 0);
        assert_int_equal(e.code, SMS_ERROR_NOT_SUPPORTED);
        sms_error_clear(&e);

        forget_events(&f->rec);
        assert_int_equal(site_delete(&f->site, dp_info, f->nal[0], &f->caller, &e), 0);
        got = query_column(f, "SELECT NALPath FROM SMS_SystemResourceList WHERE RoleName = 'SMS Distribution Point'");
        assert_string_equal(got, f->nal[1]);
        free(got);
        got = query_column(f, "SELECT RoleName FROM SMS_SystemResourceList WHERE ServerName <> 'dp2' ORDER BY RoleName");
        assert_string_equal(got, "SMS Provider|SMS Site Server");
        free(got);
}

/* What a WMI path resolves to: "Class Key", or the name of the error. */
static char *resolve(Fixture *f, const char *wmi_path) {
        const SmsClass *c = NULL;
        _cleanup_free_ char *key = NULL;
        SmsError e = SMS_ERROR_NULL;
        char *s = NULL;

        if (site_resolve_wmi_path(&f->site, wmi_path, &c, &key, &e) < 0)
                assert_true(asprintf(&s, "%s", sms_error_code_to_name(e.code)) > 0);
        else
                assert_true(asprintf(&s, "%s %s", c->name, key) > 0);
        sms_error_clear(&e);
        return s;
}

static void assert_resolves(Fixture *f, const char *wmi_path, const char *expected) {
        _cleanup_free_ char *got = resolve(f, wmi_path);
        if (!streq(got, expected))
                fail_msg("%s\n  resolves to: %s\n  expected:    %s", wmi_path, got, expected);
}

/* WMI paths as scripts write them: class and property names in any case, integer keys bare or
 * quoted, composite keys in any order, the namespace prefix SMS_ProviderLocation gives. Each
 * resolves to the one canonical path of its instance; a bad path is a named error. */
static void test_wmi_paths_as_scripts_write(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *key = dps_and_package(f), *path = NULL, *want = NULL, *location = NULL;
        char host[256] = "";

        static const struct {
                const char *path, *resolves_to;
        } cases[] = {
                { "sms_imagepackage.packageid=\"LAB00001\"", "SMS_ImagePackage LAB00001" },
                { "SMS_PACKAGEBASECLASS.PACKAGEID='lab00001'", "SMS_ImagePackage LAB00001" },
                { "\\\\.\\root\\sms\\site_LAB:SMS_ImagePackage.PackageID=\"LAB00001\"", "SMS_ImagePackage LAB00001" },
                { "SMS_BootImagePackage.PackageID=\"LAB00001\"", "NotFound" },
                { "SMS_ImagePackage.Name=\"LAB00001\"", "InvalidParameter" },
                { "SMS_NoSuchClass.PackageID=\"LAB00001\"", "InvalidClass" },
                /* integer keys: SMS_StatusMessage.RecordID (SInt64), SMS_ImageInformation.Index (UInt32) */
                { "SMS_StatusMessage.RecordID=1", "SMS_StatusMessage 1" },
                { "sms_statusmessage.recordid='1'", "SMS_StatusMessage 1" },
                { "SMS_StatusMessage.RecordID=999999", "NotFound" },
                { "SMS_StatusMessage.RecordID=1x", "InvalidParameter" },
                { "SMS_StatusMessage.RecordID=\"one\"", "InvalidParameter" },
                { "sms_imageinformation.index=1,packageid=\"lab00001\"", "SMS_ImageInformation Index=1,PackageID=\"LAB00001\"" },
                { "SMS_ImageInformation.PackageID=\"LAB00001\",Index=2", "NotFound" },
                { "SMS_ImageInformation.PackageID=\"LAB00001\",Index=-1", "InvalidParameter" },
                { "SMS_ImageInformation.PackageID=\"LAB00001\"", "InvalidParameter" },
        };

        assert_string_equal(key, "LAB00001");
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                assert_resolves(f, cases[i].path, cases[i].resolves_to);

        /* the classes scripts look up first; the namespace they give is a prefix paths may carry */
        assert_int_equal(gethostname(host, sizeof host - 1), 0);
        assert_true(asprintf(&want, "SMS_ProviderLocation Machine=\"%s\",SiteCode=\"LAB\"", host) > 0);
        assert_true(asprintf(&path, "sms_providerlocation.sitecode=\"lab\",MACHINE=\"%s\"", host) > 0);
        assert_resolves(f, path, want);
        location = query_column(f, "SELECT NamespacePath FROM SMS_ProviderLocation");
        free(path);
        assert_true(asprintf(&path, "%s:SMS_ImagePackage.PackageID=\"LAB00001\"", location) > 0);
        assert_resolves(f, path, "SMS_ImagePackage LAB00001");
        free(path);
        free(want);
        /* a NAL path in a WMI path: its quotes and backslashes escaped with a backslash */
        assert_true(asprintf(&path,
                             "SMS_SystemResourceList.RoleName=\"sms distribution point\",NALPath=\"[\\\"Display="
                             "\\\\\\\\dp1\\\\\\\"]MSWNET:[\\\"SMS_SITE=LAB\\\"]\\\\\\\\dp1\\\\\"") > 0);
        assert_true(asprintf(&want, "SMS_SystemResourceList NALPath=\"[\\\"Display=\\\\\\\\dp1\\\\\\\"]MSWNET:"
                                    "[\\\"SMS_SITE=LAB\\\"]\\\\\\\\dp1\\\\\",RoleName=\"SMS Distribution Point\"") > 0);
        assert_resolves(f, path, want);
}

/* --- the driver catalog ------------------------------------------------------------------------ */

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
}

/* One CreateFromINF as the bus runs it: checks, the work (on this thread here), the row. */
static int import_driver(Fixture *f, const char *folder, const char *inf, char **ret_key, bool *ret_created,
                         SmsError *e) {
        DriverImport *d = NULL;
        int r = site_driver_import_new(&f->site, folder, inf, &f->caller, &d, e);
        if (r >= 0)
                r = site_driver_import_work(d, e);
        if (r >= 0)
                r = site_driver_import_finish(&f->site, d, ret_key, ret_created, e);
        site_driver_import_free(d);
        return r;
}

static void test_driver_import_once_and_reported(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *folder = path_in(f->content, "nic"), *inf = NULL, *sys = NULL, *key = NULL,
                            *again = NULL, *copy = NULL;
        SmsError e = SMS_ERROR_NULL;
        bool created = false;

        assert_int_equal(mkdir(folder, 0755), 0);
        inf = path_in(folder, "nic.inf");
        sys = path_in(folder, "nic.sys");
        write_file(inf, "[Version]\r\nSignature=\"$Windows NT$\"\r\nClass=Net\r\n[SourceDisksNames]\r\n1=d\r\n"
                        "[SourceDisksFiles]\r\nnic.sys=1\r\n[Manufacturer]\r\nM=M,NTamd64\r\n[M.NTamd64]\r\n"
                        "\"NIC\"=I,PCI\\VEN_1\r\n");
        write_file(sys, "driver v1");

        assert_int_equal(import_driver(f, folder, "nic.inf", &key, &created, &e), 0);
        assert_string_equal(key, "1");
        assert_true(created);
        assert_int_equal(count_events(&f->rec, "added SMS_Driver 1"), 1);
        assert_int_equal(site_driver_catalog_copy(&f->site, 1, &copy, &again, &e), 0);
        assert_string_equal(again, "nic.inf");
        assert_true(site_driver_is_catalog_path(&f->site, copy));
        free(again);
        again = NULL;

        /* The same INF again, its file changed meanwhile: the same driver, nothing new reported or
         * copied. */
        write_file(sys, "driver v2");
        forget_events(&f->rec);
        assert_int_equal(import_driver(f, folder, "nic.inf", &again, &created, &e), 0);
        assert_string_equal(again, "1");
        assert_false(created);
        assert_int_equal(f->rec.n, 0);
        _cleanup_free_ char *copied = path_in(copy, "nic.sys");
        char buf[32] = {};
        FILE *in = fopen(copied, "re");
        assert_non_null(in);
        assert_non_null(fgets(buf, sizeof buf, in));
        fclose(in);
        assert_string_equal(buf, "driver v1");

        /* A malformed INF: InvalidParameter naming the line, no row, no report. */
        write_file(inf, "[Version\r\n");
        free(again);
        again = NULL;
        assert_int_equal(import_driver(f, folder, "nic.inf", &again, &created, &e), -EINVAL);
        assert_int_equal(e.code, SMS_ERROR_INVALID_PARAMETER);
        assert_non_null(strstr(e.message, "line 1"));
        sms_error_clear(&e);
        assert_int_equal(f->rec.n, 0);

        /* Unreferenced: deletable. */
        assert_int_equal(site_driver_check_deletable(&f->site, "1", &e), 0);
        assert_false(site_driver_is_catalog_path(&f->site, f->content));
}

/* A driver folder of one INF and its .sys (whose bytes `sys_text` are), imported. */
static char *import_folder(Fixture *f, const char *name, const char *driver_class, const char *sys_text) {
        _cleanup_free_ char *folder = path_in(f->content, name), *inf = NULL, *sys = NULL, *text = NULL;
        char *key = NULL;
        SmsError e = SMS_ERROR_NULL;
        bool created = false;

        assert_int_equal(mkdir(folder, 0755), 0);
        inf = path_in(folder, "d.inf");
        sys = path_in(folder, "d.sys");
        assert_true(asprintf(&text, "[Version]\r\nSignature=\"$Windows NT$\"\r\nClass=%s\r\n[SourceDisksNames]\r\n"
                                    "1=d\r\n[SourceDisksFiles]\r\nd.sys=1\r\n[Manufacturer]\r\nM=M,NTamd64\r\n"
                                    "[M.NTamd64]\r\n\"%s\"=I,PCI\\VEN_%s\r\n",
                             driver_class, name, name) > 0);
        write_file(inf, text);
        write_file(sys, sys_text);
        assert_int_equal(import_driver(f, folder, "d.inf", &key, &created, &e), 0);
        assert_true(created);
        return key;
}

/* The driver's copy in the site library: its published tree (ContentSourcePath), and its
 * manifests' folder. */
static void driver_copy(Fixture *f, const char *key, char **ret_tree, char **ret_manifests) {
        _cleanup_free_ char *inf = NULL;
        SmsError e = SMS_ERROR_NULL;
        char *p;

        assert_int_equal(site_driver_catalog_copy(&f->site, (uint32_t) atoi(key), ret_tree, &inf, &e), 0);
        *ret_manifests = strdup(*ret_tree);
        assert_non_null(p = strstr(*ret_manifests, "/DataLib/"));
        memcpy(p, "/PkgLib/", 8);
        memmove(p + 8, p + 9, strlen(p + 9) + 1);
}

/* What the job queue's idle workers were given has run once the jobs stop; they start again. */
static void run_chores(Fixture *f) {
        site_jobs_stop(&f->site);
        assert_int_equal(site_jobs_start(&f->site, f->event, 2), 0);
        assert_int_equal(site_jobs_set_test_dir(&f->site, f->hold_fd), 0);
}

static void assert_file_text(const char *path, const char *text) {
        char buf[64] = {};
        FILE *in = fopen(path, "re");
        assert_non_null(in);
        assert_non_null(fgets(buf, sizeof buf, in));
        fclose(in);
        assert_string_equal(buf, text);
}

/* A deleted driver's copy leaves the site library (its tree, its manifests, the FileLib entries
 * only it named), unless an import is on its way; then the next collection, at the jobs' start,
 * takes it. Another driver's copy of the same bytes stays whole. */
static void test_deleted_driver_copy_collected(void **state) {
        Fixture *f = *state;
        const SmsClass *c = sms_model_find_class("SMS_Driver");
        _cleanup_free_ char *nic = import_folder(f, "nic", "Net", "same bytes"),
                            *disk = import_folder(f, "disk", "SCSIAdapter", "same bytes"),
                            *other = import_folder(f, "other", "Net", "other bytes"), *nic_tree = NULL,
                            *nic_manifests = NULL, *disk_tree = NULL, *disk_manifests = NULL, *other_tree = NULL,
                            *other_manifests = NULL, *disk_sys = NULL;
        SmsError e = SMS_ERROR_NULL;
        DriverImport *pending = NULL;
        struct stat st;

        driver_copy(f, nic, &nic_tree, &nic_manifests);
        driver_copy(f, disk, &disk_tree, &disk_manifests);
        driver_copy(f, other, &other_tree, &other_manifests);
        disk_sys = path_in(disk_tree, "d.sys");

        /* Deleted: its copy goes; the other copies, one of them sharing its .sys bytes, stay. */
        assert_int_equal(site_delete(&f->site, c, nic, &f->caller, &e), 0);
        run_chores(f);
        assert_int_equal(stat(nic_tree, &st), -1);
        assert_int_equal(stat(nic_manifests, &st), -1);
        assert_int_equal(stat(disk_manifests, &st), 0);
        assert_file_text(disk_sys, "same bytes");

        /* An import on its way when a driver is deleted: nothing is collected then... */
        assert_int_equal(site_driver_import_new(&f->site, f->content, "other/d.inf", &f->caller, &pending, &e), 0);
        assert_int_equal(site_delete(&f->site, c, other, &f->caller, &e), 0);
        site_jobs_stop(&f->site);
        assert_int_equal(stat(other_tree, &st), 0);
        /* ... and the jobs' next start does, once no import is on its way. */
        site_driver_import_free(pending);
        assert_int_equal(site_jobs_start(&f->site, f->event, 2), 0);
        run_chores(f);
        assert_int_equal(stat(other_tree, &st), -1);
        assert_int_equal(stat(other_manifests, &st), -1);
        assert_file_text(disk_sys, "same bytes");

        /* The same INF imported again makes its copy again. */
        free(nic);
        assert_true(asprintf(&nic, "%s/nic", f->content) > 0);
        bool created = false;
        char *again = NULL;
        assert_int_equal(import_driver(f, nic, "d.inf", &again, &created, &e), 0);
        assert_true(created);
        free(nic_tree);
        free(nic_manifests);
        driver_copy(f, again, &nic_tree, &nic_manifests);
        _cleanup_free_ char *nic_sys = path_in(nic_tree, "d.sys");
        assert_file_text(nic_sys, "same bytes");
        free(again);
}

/* --- boot image builds ------------------------------------------------------------------------- */

static void make_kit(Fixture *f) {
        const char *source = getenv("SOURCE_ROOT");
        _cleanup_free_ char *cmd = NULL;

        assert_non_null(source);
        assert_true(asprintf(&cmd, "bash '%s/tools/stand-in-kit.sh' '%s/adk' '%s/osd'", source, f->dir, f->dir) > 0);
        assert_int_equal(system(cmd), 0);
        f->site.adk_root = path_in(f->dir, "adk");
        f->site.osd_bin_root = path_in(f->dir, "osd");
}

/* A boot image's first build: the package is reported added with ActionInProgress 2, the build
 * commits PkgSourcePath (the built WIM in the state directory), SourceVersion 1 and
 * ActionInProgress 0, reports the changes and a change notification. A rebuild whose ImagePath is
 * gone fails, and the package keeps its built version, with a status message. */
static void test_build_commits_or_keeps_the_package(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *wim = make_wim(f, "boot.wim", 0), *key = NULL, *built = NULL;
        SmsError e = SMS_ERROR_NULL;
        uint64_t job = 0;

        make_kit(f);
        key = create_image_package(f, "SMS_BootImagePackage", wim, &job);
        assert_true(job > 0);
        {
                _cleanup_(sms_object_freep) SmsObject *o = load(f, "SMS_BootImagePackage", key);
                assert_int_equal(uint_of(o, "ActionInProgress"), 2);
        }
        assert_int_equal(run_job(f, job), JOB_STATE_COMPLETED);
        {
                _cleanup_(sms_object_freep) SmsObject *o = load(f, "SMS_BootImagePackage", key);
                assert_int_equal(uint_of(o, "ActionInProgress"), 0);
                assert_int_equal(uint_of(o, "SourceVersion"), 1);
                assert_non_null(strstr(string_of(o, "PkgSourcePath"), "/state/images/"));
                built = strdup(string_of(o, "PkgSourcePath"));
        }
        char want[64];
        snprintf(want, sizeof want, "notification SMS_BootImagePackage %s", key);
        assert_int_equal(count_events(&f->rec, want), 1);
        snprintf(want, sizeof want, "changed SMS_BootImagePackage %s PkgSourcePath", key);
        assert_int_equal(count_events(&f->rec, want), 1);

        /* The rebuild starts without its check (its job looks the source up) and fails. */
        assert_int_equal(unlink(wim), 0);
        forget_events(&f->rec);
        assert_int_equal(site_image_start_build(&f->site, sms_model_find_class("SMS_BootImagePackage"), key,
                                                "UpdateImage", 1, &f->caller, &job, &e),
                         0);
        assert_int_equal(run_job(f, job), JOB_STATE_FAILED);
        {
                _cleanup_(sms_object_freep) SmsObject *o = load(f, "SMS_BootImagePackage", key);
                assert_int_equal(uint_of(o, "ActionInProgress"), 0);
                assert_int_equal(uint_of(o, "SourceVersion"), 1);
                assert_string_equal(string_of(o, "PkgSourcePath"), built);
        }
        struct stat st;
        assert_int_equal(stat(built, &st), 0);
        assert_int_equal(messages(f, 39999), 1);
        assert_int_equal(count_events(&f->rec, "notification"), 0);
}

/* --- schedules --------------------------------------------------------------------------------- */

/* A package whose RefreshSchedule names a time is refreshed then by the engine itself (the
 * schedule runs many times faster here): a RefreshPkgSource job of the daemon's own, and the
 * SourceVersion moves on. Dropping the schedule drops the timer. */
static void test_schedule_fires_a_refresh(void **state) {
        Fixture *f = *state;
        const SmsClass *c = sms_model_find_class("SMS_ImagePackage");
        _cleanup_free_ char *wim = make_wim(f, "os.wim", 0), *key = NULL;
        SmsError e = SMS_ERROR_NULL;
        SiteChange ch = { .index = (size_t) sms_class_find_property(c, "RefreshSchedule"),
                          .value = { .type = CIM_SCHEDULE_ARRAY } };

        key = create_image_package(f, "SMS_ImagePackage", wim, NULL);
        _cleanup_(sms_object_freep) SmsObject *before = load(f, "SMS_ImagePackage", key);

        /* Every minute from now; a minute passes in 10 ms. */
        assert_non_null(ch.value.schedule.data = calloc(1, sizeof(SmsScheduleToken)));
        ch.value.schedule.n = 1;
        sms_schedule_token_init(&ch.value.schedule.data[0], SMS_ST_RECUR_INTERVAL);
        ch.value.schedule.data[0].minute_span = 1;
        assert_int_equal(sms_schedule_token_set_start_usec(&ch.value.schedule.data[0], now_usec(), &e), 0);
        f->site.time_scale = 6000;
        forget_events(&f->rec);
        assert_int_equal(site_put(&f->site, c, key, &ch, 1, NULL, &f->caller, NULL, &e), 0);
        cim_value_clear(&ch.value);

        while (count_events(&f->rec, "job-finished RefreshPkgSource") == 0)
                assert_true(sd_event_run(f->event, WAIT_USEC) > 0);
        _cleanup_(sms_object_freep) SmsObject *after = load(f, "SMS_ImagePackage", key);
        assert_true(uint_of(after, "SourceVersion") > uint_of(before, "SourceVersion"));

        /* Without a schedule no timer is left. */
        SiteChange none = { .index = ch.index, .value = { .type = CIM_SCHEDULE_ARRAY, .null = true } };
        assert_int_equal(site_put(&f->site, c, key, &none, 1, NULL, &f->caller, NULL, &e), 0);
        assert_null(f->site.schedule_timers);
}

/* The schedules' test clock: it starts at 2026-03-01 12:00:00 UTC, whatever the machine's clock
 * says, and moves only when the test moves it. */
#define TEST_CLOCK_USEC (UINT64_C(1772366400) * 1000000u)
static uint64_t test_now;
static uint64_t test_clock(void) {
        return test_now;
}

/* A RefreshSchedule change of one token (site_put() takes its value). */
static SiteChange schedule_of(const SmsClass *c, SmsScheduleType type, uint64_t start_usec, unsigned day_span) {
        SiteChange ch = { .index = (size_t) sms_class_find_property(c, "RefreshSchedule"),
                          .value = { .type = CIM_SCHEDULE_ARRAY, .schedule = { .n = 1 } } };
        SmsError e = SMS_ERROR_NULL;

        assert_non_null(ch.value.schedule.data = calloc(1, sizeof(SmsScheduleToken)));
        sms_schedule_token_init(&ch.value.schedule.data[0], type);
        assert_int_equal(sms_schedule_token_set_start_usec(&ch.value.schedule.data[0], start_usec, &e), 0);
        ch.value.schedule.data[0].day_span = day_span;
        return ch;
}

/* Against the test clock: a token whose only time has passed arms no timer, one due 5 minutes
 * after the clock (30 ms at this scale; tokens count in minutes) fires the refresh, and one that
 * recurs keeps its package armed. */
static void test_schedule_reads_the_site_clock(void **state) {
        Fixture *f = *state;
        const SmsClass *c = sms_model_find_class("SMS_ImagePackage");
        _cleanup_free_ char *wim = make_wim(f, "os.wim", 0), *key = NULL;
        SmsError e = SMS_ERROR_NULL;
        SiteChange ch;

        key = create_image_package(f, "SMS_ImagePackage", wim, NULL);
        test_now = TEST_CLOCK_USEC;
        f->site.clock = test_clock;
        f->site.time_scale = 10000;

        /* An hour before the clock, once: never again. */
        ch = schedule_of(c, SMS_ST_NON_RECURRING, TEST_CLOCK_USEC - 3600u * 1000000u, 0);
        assert_int_equal(site_put(&f->site, c, key, &ch, 1, NULL, &f->caller, NULL, &e), 0);
        cim_value_clear(&ch.value);
        assert_null(f->site.schedule_timers);

        /* Five minutes after the clock, once: the refresh runs, and nothing is left armed. */
        ch = schedule_of(c, SMS_ST_NON_RECURRING, TEST_CLOCK_USEC + 300u * 1000000u, 0);
        forget_events(&f->rec);
        assert_int_equal(site_put(&f->site, c, key, &ch, 1, NULL, &f->caller, NULL, &e), 0);
        cim_value_clear(&ch.value);
        assert_non_null(f->site.schedule_timers);
        test_now += 301u * 1000000u; /* by the time it fires */
        while (count_events(&f->rec, "job-finished RefreshPkgSource") == 0)
                assert_true(sd_event_run(f->event, WAIT_USEC) > 0);
        assert_null(f->site.schedule_timers);

        /* Five minutes later again, an occurrence another host of the site has claimed: the timer
         * fires and goes (the token is spent), and nothing is refreshed here. */
        uint64_t due = test_now + 300u * 1000000u;
        _cleanup_(sms_object_freep) SmsObject *before = load(f, "SMS_ImagePackage", key);
        assert_int_equal(store_schedule_claim(f->site.store, key, due, &e), 1);
        ch = schedule_of(c, SMS_ST_NON_RECURRING, due, 0);
        forget_events(&f->rec);
        assert_int_equal(site_put(&f->site, c, key, &ch, 1, NULL, &f->caller, NULL, &e), 0);
        cim_value_clear(&ch.value);
        assert_non_null(f->site.schedule_timers);
        test_now = due + 1000000u;
        while (f->site.schedule_timers)
                assert_true(sd_event_run(f->event, WAIT_USEC) > 0);
        assert_int_equal(count_events(&f->rec, "job-added RefreshPkgSource"), 0);
        _cleanup_(sms_object_freep) SmsObject *after = load(f, "SMS_ImagePackage", key);
        assert_int_equal(uint_of(after, "SourceVersion"), uint_of(before, "SourceVersion"));

        /* Every day from a week before the clock: armed again after each refresh. */
        ch = schedule_of(c, SMS_ST_RECUR_INTERVAL, test_now - 7u * 86400u * 1000000u, 1);
        assert_int_equal(site_put(&f->site, c, key, &ch, 1, NULL, &f->caller, NULL, &e), 0);
        cim_value_clear(&ch.value);
        assert_non_null(f->site.schedule_timers);
}

int main(void) {
#define SITE_TEST(t) cmocka_unit_test_setup_teardown(t, setup, teardown) /* each on a new site */
        const struct CMUnitTest tests[] = {
                SITE_TEST(test_distribution_installs_on_each_dp),
                SITE_TEST(test_distribution_one_dp_fails_alone),
                SITE_TEST(test_distribution_cancel_one_dp),
                SITE_TEST(test_distribution_resumed_then_given_up),
                SITE_TEST(test_distribution_at_job_limit_changes_nothing),
                SITE_TEST(test_distribution_that_cannot_start_changes_nothing),
                SITE_TEST(test_write_and_its_job_are_one_transaction),
                SITE_TEST(test_writes_report_what_they_change),
                SITE_TEST(test_site_systems_follow_dps),
                SITE_TEST(test_wmi_paths_as_scripts_write),
                SITE_TEST(test_driver_import_once_and_reported),
                SITE_TEST(test_deleted_driver_copy_collected),
                SITE_TEST(test_build_commits_or_keeps_the_package),
                SITE_TEST(test_schedule_fires_a_refresh),
                SITE_TEST(test_schedule_reads_the_site_clock),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
