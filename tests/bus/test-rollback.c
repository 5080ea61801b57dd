/* SPDX-License-Identifier: MIT */

/* Every refused write leaves the site as it was (issue 12 §5, §6): a Put whose triggered job
 * cannot start (its source gone, the job limit, a full disk) stores nothing; a build or a
 * distribution the job limit refuses shows no pending state; no job row is left QUEUED; a
 * package with a job running cannot be deleted (Busy). "As it was" is compared whole: the
 * object's GetAll (SedoObjectVersion with it), the distribution status rows, the number of
 * status messages (the audit), and the job table.
 *
 * The daemon runs with --max-jobs=1: one held job is the whole limit. */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../helpers/wim-gen.h"
#include "test-env.h"

#define ROOT "/org/smsprov/Provider1"
#define IFACE "org.smsprov.Provider1."
#define BASE IFACE "SMS_PackageBaseclass"
#define ASSIGNMENT IFACE "SMS_DistributionPoint"

static TestEnv env;
static bool mounted_state;
static char *boot, *image, *blocker, *assignment, *image_id, *image_wim, *boot_wim;
static const char *dp_nal = "[\"Display=\\\\dp1\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\dp1\\";

/* --- what "as it was" compares ------------------------------------------------------------------ */

static char *dump(sd_bus_message *m) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        assert_non_null(f);
        assert_true(sd_bus_message_rewind(m, true) >= 0);
        assert_true(sd_bus_message_dump(m, f, 0) >= 0);
        assert_int_equal(fclose(f), 0);
        return text;
}

static char *get_all(const char *path, const char *iface) {
        sd_bus_message *reply = NULL;
        assert_null(test_invoke(&env, path, "org.freedesktop.DBus.Properties", "GetAll", &reply, "s", iface));
        char *text = dump(reply);
        sd_bus_message_unref(reply);
        return text;
}

static char *query(const char *wql) {
        sd_bus_message *reply = NULL;
        assert_null(test_invoke(&env, ROOT, IFACE "Site", "ExecQuery", &reply, "s", wql));
        char *text = dump(reply);
        sd_bus_message_unref(reply);
        return text;
}

typedef struct Snapshot {
        char *boot, *image, *blocker, *assignment, *status, *assignments;
        size_t messages;
        long jobs, queued;
} Snapshot;

static Snapshot snapshot(void) {
        return (Snapshot) {
                .boot = get_all(boot, BASE),
                .image = get_all(image, BASE),
                .blocker = get_all(blocker, BASE),
                .assignment = get_all(assignment, ASSIGNMENT),
                .status = query("SELECT * FROM SMS_PackageStatusDistPointsSummarizer"),
                .assignments = query("SELECT * FROM SMS_DistributionPoint"),
                .messages = test_count_rows(&env, "SELECT RecordID FROM SMS_StatusMessage"),
                .jobs = test_env_db_number(&env, "SELECT count(*) FROM job"),
                .queued = test_env_db_number(&env, "SELECT count(*) FROM job WHERE \"State\" = 0"),
        };
}

static void snapshot_done(Snapshot *s) {
        free(s->boot);
        free(s->image);
        free(s->blocker);
        free(s->assignment);
        free(s->status);
        free(s->assignments);
}

/* Nothing changed since `before`; what changed is named. */
static void assert_unchanged(Snapshot *before, const char *what) {
        Snapshot now = snapshot();
        if (strcmp(before->boot, now.boot) != 0)
                fail_msg("%s changed the boot image:\n%s\nnow:\n%s", what, before->boot, now.boot);
        if (strcmp(before->image, now.image) != 0)
                fail_msg("%s changed the image package:\n%s\nnow:\n%s", what, before->image, now.image);
        if (strcmp(before->blocker, now.blocker) != 0)
                fail_msg("%s changed the package with the held job:\n%s\nnow:\n%s", what, before->blocker,
                         now.blocker);
        if (strcmp(before->assignment, now.assignment) != 0)
                fail_msg("%s changed the assignment:\n%s\nnow:\n%s", what, before->assignment, now.assignment);
        if (strcmp(before->status, now.status) != 0)
                fail_msg("%s changed the distribution states:\n%s\nnow:\n%s", what, before->status, now.status);
        if (strcmp(before->assignments, now.assignments) != 0)
                fail_msg("%s changed the assignments:\n%s\nnow:\n%s", what, before->assignments, now.assignments);
        if (before->messages != now.messages)
                fail_msg("%s added %zd status messages", what, (ssize_t) (now.messages - before->messages));
        if (before->jobs != now.jobs || now.queued != 0)
                fail_msg("%s: %ld job rows before, %ld now, %ld of them queued", what, before->jobs, now.jobs,
                         now.queued);
        snapshot_done(&now);
}

/* --- the cases ------------------------------------------------------------------------------------ */

/* Reproduced on main: the source moved away, Put {Description, RefreshPkgSourceFlag} answered
 * with an error and stored the Description. Whatever the job would read is looked up (on a
 * worker) before the write: a boot image's ImagePath, an OS image's PkgSourcePath. */
static void assert_put_refused_without_source(const char *path, const char *source, const char *what) {
        char moved[1024];
        const char *err;

        snprintf(moved, sizeof moved, "%s.moved", source);
        assert_int_equal(rename(source, moved), 0);
        Snapshot before = snapshot();
        err = test_invoke(&env, path, BASE, "Put", NULL, "a{sv}", 2, "Description", "s", "not stored",
                          "RefreshPkgSourceFlag", "b", 1);
        if (!err)
                fail_msg("Put+refresh of %s succeeded", what);
        assert_unchanged(&before, what);
        /* The method itself is refused the same way, and starts no job. */
        err = test_invoke(&env, path, BASE, "RefreshPkgSource", NULL, NULL);
        if (!err)
                fail_msg("RefreshPkgSource of %s succeeded", what);
        assert_unchanged(&before, what);
        /* A stale writer still learns that first, before what its trigger would find. */
        err = test_invoke(&env, path, BASE, "Put", NULL, "a{sv}", 3, "SedoObjectVersion", "s", "stale", "Description",
                          "s", "not stored", "RefreshPkgSourceFlag", "b", 1);
        assert_string_equal(err, SMSPROV_ERR("VersionMismatch"));
        assert_unchanged(&before, "a stale Put+refresh");
        snapshot_done(&before);
        assert_int_equal(rename(moved, source), 0);
}

static void test_put_with_source_gone(void **state) {
        assert_put_refused_without_source(boot, boot_wim, "a boot image without its ImagePath");
        assert_put_refused_without_source(image, image_wim, "an OS image without its PkgSourcePath");
}

/* A write's answer was `error`, and the write changed nothing (what: the write, for messages). */
static void assert_refused(Snapshot *before, const char *err, const char *error, const char *what, const char *when) {
        char message[256];

        assert_string_equal(err, error);
        snprintf(message, sizeof message, "%s %s", what, when);
        assert_unchanged(before, message);
}

/* The writes that start a job: Put with RefreshPkgSourceFlag on the OS image (a refresh) and on
 * the boot image (a rebuild), and UpdateImage (whose pending state, ActionInProgress, is a write
 * too). Each must fail with `error` and change nothing; `when` ends the failure messages. */
static void assert_job_writes_refused(Snapshot *before, const char *description, const char *error,
                                      const char *when) {
        const char *err;

        err = test_invoke(&env, image, BASE, "Put", NULL, "a{sv}", 2, "Description", "s", description,
                          "RefreshPkgSourceFlag", "b", 1);
        assert_refused(before, err, error, "Put+refresh", when);
        err = test_invoke(&env, boot, BASE, "Put", NULL, "a{sv}", 2, "Description", "s", description,
                          "RefreshPkgSourceFlag", "b", 1);
        assert_refused(before, err, error, "Put+rebuild", when);
        err = test_invoke(&env, boot, IFACE "SMS_BootImagePackage", "UpdateImage", NULL, NULL);
        assert_refused(before, err, error, "UpdateImage", when);
}

/* One job held at its start point fills --max-jobs=1: every write that would start another is
 * LimitsExceeded and changes nothing; the package with the job cannot be deleted. */
static void test_job_limit(void **state) {
        const char *err;

        test_hold(&env, "RefreshPkgSource");
        sd_bus_message *reply = NULL;
        assert_null(test_invoke(&env, blocker, BASE, "RefreshPkgSource", &reply, NULL));
        char *held = test_job_of(reply);
        test_wait_held(&env, "RefreshPkgSource", held);

        Snapshot before = snapshot();
        assert_job_writes_refused(&before, "not stored", SMSPROV_ERR("LimitsExceeded"), "at the job limit");

        err = test_invoke(&env, boot, BASE, "RefreshPkgSource", NULL, NULL);
        assert_string_equal(err, SMSPROV_ERR("LimitsExceeded"));
        assert_unchanged(&before, "RefreshPkgSource of a boot image at the job limit");

        err = test_invoke(&env, assignment, ASSIGNMENT, "Put", NULL, "a{sv}", 1, "RefreshNow", "b", 1);
        assert_string_equal(err, SMSPROV_ERR("LimitsExceeded"));
        assert_unchanged(&before, "RefreshNow at the job limit");

        err = test_invoke(&env, assignment, ASSIGNMENT, "Delete", NULL, NULL);
        assert_string_equal(err, SMSPROV_ERR("LimitsExceeded"));
        assert_unchanged(&before, "removing a package from a DP at the job limit");

        err = test_invoke(&env, ROOT "/class/SMS_DistributionPoint", IFACE "SMS_DistributionPoint.Static",
                          "VerifyPackage", NULL, "ss", image_id, dp_nal);
        assert_string_equal(err, SMSPROV_ERR("LimitsExceeded"));
        assert_unchanged(&before, "VerifyPackage at the job limit");

        err = test_invoke(&env, boot, BASE, "AddDistributionPoints", NULL, "asas", 1, "LAB", 1, dp_nal);
        assert_string_equal(err, SMSPROV_ERR("LimitsExceeded"));
        assert_unchanged(&before, "AddDistributionPoints at the job limit");

        /* Reviewed on main: Create of an assignment stored its row, then could not start the
         * distribution, and the row stayed INSTALL_PENDING. */
        char *boot_id = test_get_string(&env, boot, BASE, "PackageID");
        err = test_create(&env, "SMS_DistributionPoint", NULL, NULL, 3, "{sv}{sv}{sv}", "PackageID", "s", boot_id,
                          "ServerNALPath", "s", dp_nal, "SiteCode", "s", "LAB");
        assert_string_equal(err, SMSPROV_ERR("LimitsExceeded"));
        assert_unchanged(&before, "Create of an assignment at the job limit");
        free(boot_id);

        /* The package whose job runs: Busy, and it is still there, as it was. */
        err = test_invoke(&env, blocker, BASE, "Delete", NULL, NULL);
        assert_string_equal(err, SMSPROV_ERR("Busy"));
        assert_unchanged(&before, "Delete of a package with a running job");
        snapshot_done(&before);

        test_release(&env, "RefreshPkgSource");
        assert_int_equal(test_wait_job(&env, held, NULL), 2);
        free(held);

        /* With room again the same writes go through and start their jobs: the refusals above were
         * the limit's. */
        Snapshot after = snapshot();
        assert_null(test_invoke(&env, image, BASE, "Put", NULL, "a{sv}", 2, "Description", "s", "stored",
                                "RefreshPkgSourceFlag", "b", 1));
        char *description = test_get_string(&env, image, BASE, "Description");
        assert_string_equal(description, "stored");
        free(description);
        assert_int_equal(test_env_db_number(&env, "SELECT count(*) FROM job"), after.jobs + 1);
        snapshot_done(&after);
        char wql[256];
        snprintf(wql, sizeof wql, "SELECT count(*) FROM job WHERE \"Operation\" = 'RefreshPkgSource' AND \"State\" < 2");
        TEST_WAIT_UNTIL(test_env_db_number(&env, wql) == 0, "the refresh the Put started to finish");
        /* and the distribution the refresh started */
        TEST_WAIT_UNTIL(test_env_db_number(&env, "SELECT count(*) FROM job WHERE \"State\" < 2") == 0, "every job to finish");
}

/* Reviewed on main: Delete removed images/<ID> while a build of the package could still write
 * there. A package with a build running is Busy, and keeps its image. */
static void test_delete_while_building(void **state) {
        sd_bus_message *reply = NULL;
        struct stat st;

        test_hold(&env, "UpdateImage");
        assert_null(test_invoke(&env, boot, IFACE "SMS_BootImagePackage", "UpdateImage", &reply, NULL));
        char *job = test_job_of(reply);
        test_wait_held(&env, "UpdateImage", job);
        char *built = test_get_string(&env, boot, BASE, "PkgSourcePath");

        Snapshot before = snapshot();
        assert_string_equal(test_invoke(&env, boot, BASE, "Delete", NULL, NULL), SMSPROV_ERR("Busy"));
        assert_unchanged(&before, "Delete of a boot image being built");
        assert_int_equal(stat(built, &st), 0);
        snapshot_done(&before);

        test_release(&env, "UpdateImage");
        assert_int_equal(test_wait_job(&env, job, NULL), 2);
        free(built);
        free(job);
}

/* The state directory full: the Put's commit fails (OutOfDiskSpace), and the job it had made
 * ready never runs. */
static void test_put_on_full_disk(void **state) {
        if (!mounted_state)
                skip();
        char *filler = test_fill_file_system(env.state_dir), description[4096];
        const char *err = NULL;

        /* Plain writes until the database has no room left (the WAL may have had some). */
        memset(description, 'x', sizeof description - 1);
        description[sizeof description - 1] = 0;
        for (int i = 0; i < 64 && !err; i++) {
                description[0] = (char) ('a' + i % 26);
                err = test_invoke(&env, blocker, BASE, "Put", NULL, "a{sv}", 1, "Description", "s", description);
        }
        assert_string_equal(err, SMSPROV_ERR("OutOfDiskSpace"));

        Snapshot before = snapshot();
        assert_job_writes_refused(&before, description, SMSPROV_ERR("OutOfDiskSpace"), "on a full disk");
        snapshot_done(&before);
        assert_int_equal(unlink(filler), 0);
        free(filler);
        assert_int_equal(test_env_db_number(&env, "SELECT count(*) FROM job WHERE \"State\" < 2"), 0);
}

/* --- set-up --------------------------------------------------------------------------------------- */

static int setup(void **state) {
        static const char *const limits[] = { "--max-jobs=1", NULL };
        char *job = NULL, *dp_root = NULL;

        if (test_env_start(&env) < 0)
                return -1;
        assert_int_equal(test_env_stop_daemon(&env, SIGTERM), 0);
        /* The state directory on a small tmpfs, to fill; without permission to mount that case
         * is skipped. On PostgreSQL too: the site database is not in the state directory there
         * but on the server's disk, which a full state directory leaves with room. */
        if (env.database)
                fprintf(stderr, "# the site database is PostgreSQL's: the full-disk case is skipped\n");
        else if (!(mounted_state = mount("tmpfs", env.state_dir, "tmpfs", 0, "size=16m,mode=0700") == 0))
                fprintf(stderr, "# cannot mount tmpfs (%s): the full-disk case is skipped\n", strerror(errno));
        assert_int_equal(test_env_start_daemon(&env, limits), 0);

        boot_wim = test_env_content_path(&env, "boot.wim");
        image_wim = test_env_content_path(&env, "image.wim");
        char *blocker_wim = test_env_content_path(&env, "blocker.wim");
        assert_int_equal(test_make_winpe_wim(boot_wim, "9", true, 0, true), 0);
        assert_int_equal(test_make_winpe_wim(image_wim, "9", false, 0, true), 0);
        assert_int_equal(test_make_winpe_wim(blocker_wim, "9", false, 0, true), 0);

        assert_null(test_create(&env, "SMS_BootImagePackage", &boot, &job, 1, "{sv}", "ImagePath", "s", boot_wim));
        assert_int_equal(test_wait_job(&env, job, NULL), 2);
        free(job);
        assert_null(test_create(&env, "SMS_ImagePackage", &image, NULL, 1, "{sv}", "PkgSourcePath", "s", image_wim));
        assert_null(test_create(&env, "SMS_ImagePackage", &blocker, NULL, 1, "{sv}", "PkgSourcePath", "s",
                                blocker_wim));
        free(blocker_wim);
        image_id = test_get_string(&env, image, BASE, "PackageID");

        assert_true(asprintf(&dp_root, "%s/dp1", env.dir) > 0);
        assert_int_equal(mkdir(dp_root, 0755), 0);
        assert_null(test_create(&env, "SMS_DistributionPointInfo", NULL, NULL, 2, "{sv}{sv}", "NALPath", "s", dp_nal,
                                "ContentRoot", "s", dp_root));
        free(dp_root);
        sd_bus_message *reply = NULL;
        assert_null(test_invoke(&env, image, BASE, "AddDistributionPoints", &reply, "asas", 1, "LAB", 1, dp_nal));
        job = test_job_of(reply);
        assert_int_equal(test_wait_job(&env, job, NULL), 2);
        free(job);

        char wql[512];
        snprintf(wql, sizeof wql, "SELECT * FROM SMS_DistributionPoint WHERE PackageID = '%s'", image_id);
        assert_null(test_invoke(&env, ROOT, IFACE "Site", "ExecQuery", &reply, "s", wql));
        const char *path;
        assert_true(sd_bus_message_enter_container(reply, 'a', "(oa{sv})") > 0);
        assert_true(sd_bus_message_enter_container(reply, 'r', "oa{sv}") > 0);
        assert_true(sd_bus_message_read(reply, "o", &path) > 0);
        assignment = strdup(path);
        sd_bus_message_unref(reply);
        *state = &env;
        return 0;
}

static int teardown(void **state) {
        int r = test_env_stop_daemon(&env, SIGTERM);
        if (mounted_state)
                umount2(env.state_dir, MNT_DETACH);
        free(boot);
        free(image);
        free(blocker);
        free(assignment);
        free(image_id);
        free(image_wim);
        free(boot_wim);
        int k = test_env_stop(&env);
        return r < 0 ? r : k;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_put_with_source_gone),
                cmocka_unit_test(test_job_limit),
                cmocka_unit_test(test_delete_while_building),
                cmocka_unit_test(test_put_on_full_disk),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, setup, teardown);
}
