/* SPDX-License-Identifier: MIT */

/* What a boot image build leaves on disk (issue 12 §3, §4; smsprov/image-outputs.h): each version
 * a file of its own in images/<PackageID>/<SourceVersion>/, made current by the commit, the
 * replaced version removed after it; a rebuild removes only what the daemon made; the start-up
 * sweep removes the outputs no committed row names; and a daemon killed between any two steps of a
 * build comes back with the row and the file describing the same image. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <wimlib.h>

#include "../helpers/wim-gen.h"
#include "smsprov/macro.h"
#include "test-env.h"

#define ROOT "/org/smsprov/Provider1"
#define IFACE "org.smsprov.Provider1."
#define BASE IFACE "SMS_PackageBaseclass"
#define BOOT IFACE "SMS_BootImagePackage"

static TestEnv env;
/* Content roots the tests need beyond test-env's: one inside the state directory (the layout of
 * tools/run.sh) and one whose path starts with the state directory's ("<state>-x"). */
static char *inner_root, *sibling_root, *inner_arg, *sibling_arg;

static void start_daemon(void) {
        const char *const extra[] = { inner_arg, sibling_arg, NULL };
        assert_int_equal(test_env_start_daemon(&env, extra), 0);
}

static char *new_boot_image(void) {
        _cleanup_free_ char *wim = test_env_content_path(&env, "boot.wim");
        char *path = NULL, *job = NULL;
        assert_null(test_create(&env, "SMS_BootImagePackage", &path, &job, 1, "{sv}", "ImagePath", "s", wim));
        assert_int_equal(test_wait_job(&env, job, NULL), 2);
        free(job);
        return path;
}

static char *start_update(const char *pkg) {
        sd_bus_message *reply = NULL;
        const char *j;
        assert_null(test_invoke(&env, pkg, BOOT, "UpdateImage", &reply, NULL));
        assert_true(sd_bus_message_read(reply, "o", &j) > 0);
        char *job = strdup(j);
        sd_bus_message_unref(reply);
        return job;
}

/* UpdateImage where the daemon is to die: it may die before it replies (the job's start point
 * runs on a worker as the main thread answers), so the reply is not asked for. */
static void update_may_die(const char *pkg) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        (void) test_call(&env, pkg, BOOT, "UpdateImage", &error, &reply, NULL);
        sd_bus_message_unref(reply);
        sd_bus_error_free(&error);
}

static char *file_hash(const char *path) {
        _cleanup_free_ char *cmd = test_strf("sha256sum '%s' 2>/dev/null", path);
        char buf[256] = "";
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        if (!fgets(buf, sizeof buf, p))
                buf[0] = 0;
        pclose(p);
        return strndup(buf, 64);
}

/* The entries of images/<id>/, sorted, space-separated ("" when the folder is missing). */
static char *image_entries(const char *id) {
        _cleanup_free_ char *cmd = test_strf("ls -A '%s/images/%s' 2>/dev/null | LC_ALL=C sort | tr '\\n' ' '",
                                             env.state_dir, id);
        char buf[4096] = "";
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        size_t n = fread(buf, 1, sizeof buf - 1, p);
        buf[n] = 0;
        pclose(p);
        return strdup(buf);
}

/* "true" or "false": what the built image's TsBootShell.ini says of the lab shell. */
static const char *lab_shell_of(const char *wim_path) {
        _cleanup_free_ char *dir = test_strf("%s/extract.XXXXXX", env.dir), *ini = NULL;
        const char *paths[] = { "\\sms\\bin\\x64\\TsBootShell.ini" };
        WIMStruct *wim = NULL;
        char buf[4096] = "";

        assert_non_null(mkdtemp(dir));
        if (wimlib_open_wim(wim_path, 0, &wim) != 0)
                fail_msg("%s is not a WIM", wim_path);
        assert_int_equal(wimlib_extract_paths(wim, 1, dir, paths, 1, WIMLIB_EXTRACT_FLAG_NO_PRESERVE_DIR_STRUCTURE), 0);
        wimlib_free(wim);
        ini = test_strf("%s/TsBootShell.ini", dir);
        FILE *f = fopen(ini, "re");
        assert_non_null(f);
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
        test_rm_rf(dir);
        return strstr(buf, "EnableDebugShell=true") ? "true" : strstr(buf, "EnableDebugShell=false") ? "false" : "?";
}

static uint64_t total_bytes_of(const char *wim_path) {
        WIMStruct *wim = NULL;
        assert_int_equal(wimlib_open_wim(wim_path, 0, &wim), 0);
        const char *t = wimlib_get_image_property(wim, 1, "TOTALBYTES");
        uint64_t v = t ? strtoull(t, NULL, 10) : 0;
        wimlib_free(wim);
        return v;
}

/* --- a rebuild deletes only what it made (issue 12 §4) ------------------------------------------ */

static void test_rebuild_keeps_what_it_did_not_make(void **state) {
        const char *roots[] = { inner_root, sibling_root };

        for (size_t i = 0; i < 2; i++) {
                _cleanup_free_ char *pkg = new_boot_image(), *precious = test_strf("%s/precious.wim", roots[i]);
                _cleanup_free_ char *id = test_get_string(&env, pkg, BASE, "PackageID");
                assert_int_equal(test_make_winpe_wim(precious, "9", true, 0, true), 0);
                _cleanup_free_ char *before = file_hash(precious);

                /* The reproduction: the row names a caller's file, then a rebuild. */
                assert_null(test_invoke(&env, pkg, BASE, "Put", NULL, "a{sv}", 1, "PkgSourcePath", "s", precious));
                _cleanup_free_ char *job = start_update(pkg);
                assert_int_equal(test_wait_job(&env, job, NULL), 2);
                _cleanup_free_ char *built = test_get_string(&env, pkg, BASE, "PkgSourcePath");
                _cleanup_free_ char *want = test_strf("%s/images/%s/2/boot.%s.wim", env.state_dir, id, id);
                assert_string_equal(built, want);

                _cleanup_free_ char *after = file_hash(precious);
                if (strcmp(before, after) != 0)
                        fail_msg("%s was changed or removed by a rebuild (sha256 %s, then '%s')", precious, before,
                                 after);
                free(after);

                /* One more rebuild releases version 2 (the daemon's own); once its folder is gone,
                 * every removal the daemon had queued is done (version 1, which no row named when
                 * version 2 was committed, stays for the start-up sweep). */
                _cleanup_free_ char *again = start_update(pkg), *v2 = test_strf("%s/images/%s/2", env.state_dir, id);
                assert_int_equal(test_wait_job(&env, again, NULL), 2);
                TEST_WAIT_UNTIL(access(v2, F_OK) < 0, "%s to be removed", v2);
                after = file_hash(precious);
                if (strcmp(before, after) != 0)
                        fail_msg("%s was changed or removed by a rebuild (sha256 %s, then '%s')", precious, before,
                                 after);
        }
}

/* --- the start-up sweep (issue 12 §3) ----------------------------------------------------------- */

static void test_startup_sweep(void **state) {
        _cleanup_free_ char *pkg = new_boot_image(), *id = test_get_string(&env, pkg, BASE, "PackageID");
        _cleanup_free_ char *built = test_get_string(&env, pkg, BASE, "PkgSourcePath");
        _cleanup_free_ char *before = file_hash(built);

        assert_int_equal(test_env_stop_daemon(&env, SIGTERM), 0);
        /* What a killed build leaves: a version no commit named, with a temporary inside; an old
         * version whose removal was cut short; a failed version renamed aside whose removal was
         * cut short; an unversioned output of an earlier layout; a temporary beside the current
         * file; and the folder of a package whose Delete was cut short. Not outputs by their names, and so kept: a README, a hidden file. */
        _cleanup_free_ char *pkg_dir = test_strf("%s/images/%s", env.state_dir, id),
                            *gone_dir = test_strf("%s/images/LAB09999", env.state_dir);
        const char *const planted_dirs[] = { "2", "7", "0-not-a-version", ".3.staging-released-12" };
        for (size_t i = 0; i < ELEMENTSOF(planted_dirs); i++) {
                _cleanup_free_ char *d = test_strf("%s/%s", pkg_dir, planted_dirs[i]);
                assert_int_equal(mkdir(d, 0700), 0);
        }
        const char *const planted_files[] = { "2/boot.%s.wim", "2/.boot.%s.wim.tmp-abcdef", "7/boot.%s.wim",
                                              ".3.staging-released-12/boot.%s.wim",
                                              "boot.%s.wim", "1/.boot.%s.wim.tmp-123456", "README", ".hidden" };
        for (size_t i = 0; i < ELEMENTSOF(planted_files); i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral" /* the templates above, each with at most one %s */
                _cleanup_free_ char *name = test_strf(planted_files[i], id), *p = test_strf("%s/%s", pkg_dir, name);
#pragma GCC diagnostic pop
                assert_int_equal(test_write_file(p, "x", 1), 0);
        }
        _cleanup_free_ char *gone_v = test_strf("%s/1", gone_dir),
                            *gone_file = test_strf("%s/1/boot.LAB09999.wim", gone_dir);
        assert_int_equal(mkdir(gone_dir, 0700), 0);
        assert_int_equal(mkdir(gone_v, 0700), 0);
        assert_int_equal(test_write_file(gone_file, "x", 1), 0);

        /* The sweep runs before the daemon takes its name. */
        start_daemon();
        _cleanup_free_ char *entries = image_entries(id);
        assert_string_equal(entries, ".hidden 0-not-a-version 1 README ");
        _cleanup_free_ char *inside = test_strf("ls -A '%s/1'", pkg_dir);
        FILE *p = popen(inside, "r");
        char line[256] = "";
        assert_non_null(fgets(line, sizeof line, p));
        pclose(p);
        _cleanup_free_ char *want = test_strf("boot.%s.wim\n", id);
        assert_string_equal(line, want);
        assert_true(access(gone_dir, F_OK) < 0);
        _cleanup_free_ char *after = file_hash(built);
        assert_string_equal(after, before);
        _cleanup_free_ char *row = test_get_string(&env, pkg, BASE, "PkgSourcePath");
        assert_string_equal(row, built);
}

/* --- a kill between each pair of steps (issue 12 §3) -------------------------------------------- */

/* Waits, within the one deadline, for the daemon to kill itself at a test point. */
static void wait_daemon_killed(const char *point) {
        int status = 0;
        pid_t pid = env.daemon_pid;
        TEST_WAIT_UNTIL(waitpid(pid, &status, WNOHANG) == pid, "the daemon to kill itself at %s", point);
        env.daemon_pid = -1;
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
                fail_msg("at %s the daemon ended with status 0x%x, not by SIGKILL", point, (unsigned) status);
}

/* The row and the file describe the same image: the file the row names is in the folder of the
 * row's SourceVersion, holds what the build of that version was asked for, measures what the row
 * says, and nothing else is left in the package's folder. */
static void check_consistent(const char *pkg, const char *id, const char *const *lab_shell_of_version,
                             const char *where) {
        _cleanup_free_ char *row = test_get_string(&env, pkg, BASE, "PkgSourcePath");
        uint32_t version = test_get_u32(&env, pkg, BASE, "SourceVersion");
        _cleanup_free_ char *want = test_strf("%s/images/%s/%" PRIu32 "/boot.%s.wim", env.state_dir, id, version, id);
        if (strcmp(row, want) != 0)
                fail_msg("%s: PkgSourcePath is %s, expected %s (SourceVersion %" PRIu32 ")", where, row, want, version);
        const char *got = lab_shell_of(row);
        if (strcmp(got, lab_shell_of_version[version]) != 0)
                fail_msg("%s: version %" PRIu32 "'s file says EnableDebugShell=%s, its build was asked for %s", where,
                         version, got, lab_shell_of_version[version]);
        uint64_t kib = (total_bytes_of(row) + 1023) / 1024;
        if (test_get_u32(&env, pkg, BASE, "PackageSize") != kib)
                fail_msg("%s: PackageSize %" PRIu32 " KiB, the file holds %" PRIu64 " KiB", where,
                         test_get_u32(&env, pkg, BASE, "PackageSize"), kib);
        _cleanup_free_ char *entries = image_entries(id), *only = test_strf("%" PRIu32 " ", version);
        if (strcmp(entries, only) != 0)
                fail_msg("%s: images/%s/ holds '%s', expected only '%s'", where, id, entries, only);
        assert_int_equal(test_get_u32(&env, pkg, IFACE "SMS_PackageBaseclass", "ActionInProgress"), 0);
}

static void test_kill_between_steps(void **state) {
        /* In build order; whether the version moves on when the daemon dies there. */
        static const struct {
                const char *step;
                bool committed;
        } points[] = {
                { "", false },          /* the job starts running */
                { ".copied", false },   /* the source copied to the temporary */
                { ".written", false },  /* the image updated and written */
                { ".verified", false }, /* synced and checked; the rename is next */
                { ".renamed", false },  /* in its version folder, not committed */
                { ".committed", true }, /* committed; the replaced version not yet removed */
        };
        _cleanup_free_ char *pkg = new_boot_image(), *id = test_get_string(&env, pkg, BASE, "PackageID");
        const char *lab_shell_of_version[2 + ELEMENTSOF(points) * 2] = { [1] = "false" };
        uint32_t version = 1;

        check_consistent(pkg, id, lab_shell_of_version, "after the first build");
        for (size_t i = 0; i < ELEMENTSOF(points); i++) {
                _cleanup_free_ char *point = test_strf("UpdateImage%s", points[i].step);
                /* Each rebuild is asked for something the previous version does not have. */
                bool lab = strcmp(lab_shell_of_version[version], "true") != 0;
                assert_null(test_invoke(&env, pkg, BASE, "Put", NULL, "a{sv}", 1, "EnableLabShell", "b", lab));
                lab_shell_of_version[version + 1] = lab ? "true" : "false";

                test_kill_at(&env, point, true);
                update_may_die(pkg);
                wait_daemon_killed(point);
                test_kill_at(&env, point, false);
                start_daemon();
                test_env_check_database(&env);

                if (points[i].committed)
                        version++;
                uint32_t now = test_get_u32(&env, pkg, BASE, "SourceVersion");
                if (now != version)
                        fail_msg("killed at %s: SourceVersion %" PRIu32 ", expected %" PRIu32, point, now, version);
                _cleanup_free_ char *where = test_strf("killed at %s", point);
                check_consistent(pkg, id, lab_shell_of_version, where);

                /* And a build that is not interrupted still works from there. */
                _cleanup_free_ char *next = start_update(pkg);
                assert_int_equal(test_wait_job(&env, next, NULL), 2);
                version++;
                lab_shell_of_version[version] = lab ? "true" : "false";
                _cleanup_free_ char *where2 = test_strf("the build after the kill at %s", point);
                /* The replaced version goes after the outcome: wait for that state. */
                _cleanup_free_ char *only = test_strf("%" PRIu32 " ", version);
                char *entries = NULL;
                TEST_WAIT_UNTIL((free(entries), entries = image_entries(id), strcmp(entries, only) == 0),
                                "images/%s/ to hold only version %" PRIu32 " (it holds '%s')", id, version, entries);
                free(entries);
                check_consistent(pkg, id, lab_shell_of_version, where2);
        }
}

/* A build that fails after its rename (canceled there) takes its version folder out of the way
 * before the job ends (renamed aside, then removed by a worker, off the event loop), so the next
 * build, which writes the same folder, is not undone by a late removal. */
static void test_failed_build_then_rebuild(void **state) {
        _cleanup_free_ char *pkg = new_boot_image(), *id = test_get_string(&env, pkg, BASE, "PackageID");
        _cleanup_free_ char *built = test_get_string(&env, pkg, BASE, "PkgSourcePath");

        test_hold(&env, "UpdateImage.renamed");
        _cleanup_free_ char *job = start_update(pkg);
        test_wait_held(&env, "UpdateImage.renamed", job);
        _cleanup_free_ char *renamed = test_strf("%s/images/%s/2/boot.%s.wim", env.state_dir, id, id);
        assert_int_equal(access(renamed, F_OK), 0);
        assert_null(test_invoke(&env, job, IFACE "Job", "Cancel", NULL, NULL));
        assert_int_equal(test_wait_job(&env, job, NULL), 4);
        test_release(&env, "UpdateImage.renamed");
        _cleanup_free_ char *version_dir = test_strf("%s/images/%s/2", env.state_dir, id);
        if (access(version_dir, F_OK) == 0)
                fail_msg("%s is still there when the failed build's job has ended", version_dir);
        assert_int_equal(test_get_u32(&env, pkg, BASE, "SourceVersion"), 1);
        char *entries = NULL;
        TEST_WAIT_UNTIL((free(entries), entries = image_entries(id), strcmp(entries, "1 ") == 0),
                        "images/%s/ to hold only version 1 (it holds '%s')", id, entries);
        free(entries);

        _cleanup_free_ char *next = start_update(pkg);
        assert_int_equal(test_wait_job(&env, next, NULL), 2);
        _cleanup_free_ char *row = test_get_string(&env, pkg, BASE, "PkgSourcePath");
        assert_string_equal(row, renamed);
        char *now = NULL;
        TEST_WAIT_UNTIL((free(now), now = image_entries(id), strcmp(now, "2 ") == 0),
                        "images/%s/ to hold only version 2 (it holds '%s')", id, now);
        free(now);
        assert_int_equal(access(renamed, F_OK), 0);
}

static int setup(void **state) {
        if (test_env_start(&env) < 0)
                return -1;
        _cleanup_free_ char *wim = test_env_make_wim(&env, "boot.wim", 0, true);
        inner_root = test_strf("%s/content", env.state_dir);
        sibling_root = test_strf("%s-x", env.state_dir);
        assert_int_equal(mkdir(inner_root, 0755), 0);
        assert_int_equal(mkdir(sibling_root, 0755), 0);
        inner_arg = test_strf("--content-root=%s", inner_root);
        sibling_arg = test_strf("--content-root=%s", sibling_root);
        assert_int_equal(test_env_stop_daemon(&env, SIGTERM), 0);
        start_daemon();
        return 0;
}

static int teardown(void **state) {
        free(inner_root);
        free(sibling_root);
        free(inner_arg);
        free(sibling_arg);
        return test_env_stop(&env);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rebuild_keeps_what_it_did_not_make),
                cmocka_unit_test(test_startup_sweep),
                cmocka_unit_test(test_kill_between_steps),
                cmocka_unit_test(test_failed_build_then_rebuild),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
