/* SPDX-License-Identifier: MIT */

/* Content integrity end to end (issue 12 §1, §2): DPs hold copies of their own, never an inode of
 * the site library or of another DP; damage (in place, truncation, removal, a symlink in its
 * place) to a DP's published file, to its FileLib entry or to the site library's entry is found by
 * VerifyPackage, repaired by RefreshNow (a DP) or RefreshPkgSource with the source unchanged (the
 * site library), never shown as INSTALLED with wrong bytes, and never reaches another DP; damage a
 * stat cannot see is found by ScrubContentLibrary, on demand and on --scrub-interval. */

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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../helpers/wim-gen.h"
#include "test-damage.h"
#include "test-env.h"

#define ROOT "/org/smsprov/Provider1"
#define IFACE "org.smsprov.Provider1."
#define BASE IFACE "SMS_PackageBaseclass"
#define N_DPS 3

#define MESSAGE_VERIFY_FAILED 2305
#define MESSAGE_SCRUBBED 2306
#define MESSAGE_SCRUB_FOUND 2307

static TestEnv env;
static char *dp_root[N_DPS], *dp_nal[N_DPS], *assignment[N_DPS];
static char *pkg, *id, *wim;
static char hash[65];

/* --- helpers ----------------------------------------------------------------------------------- */

/* The file has exactly the bytes of the package source. */
static bool same_as_source(const char *path) {
        size_t a = 0, b = 0;
        char *x = test_read_file(path, O_NOFOLLOW, &a), *y = test_read_file(wim, O_NOFOLLOW, &b);
        bool same = x && y && a == b && memcmp(x, y, a) == 0;
        free(x);
        free(y);
        return same;
}

static char *published(int dp) {
        return test_strf("%s/SCCMContentLib/DataLib/%s/source.wim", dp_root[dp], id);
}

static char *dp_entry(int dp) {
        return test_strf("%s/SCCMContentLib/FileLib/%.2s/%s", dp_root[dp], hash, hash);
}

static char *site_entry(void) {
        return test_strf("%s/contentlib/FileLib/%.2s/%s", env.state_dir, hash, hash);
}

/* State and SourceVersion of the package on a DP (-1: no row). */
static int dp_state(int dp, uint32_t *ret_version) {
        return test_dp_state(&env, id, dp_nal[dp], ret_version);
}

/* Waits until the DP's distribution has ended (INSTALLED or INSTALL_FAILED) at `version`, and
 * returns the state. */
static int wait_settled(int dp, uint32_t version) {
        uint32_t v = 0;
        int s = -1;

        TEST_WAIT_UNTIL(((s = dp_state(dp, &v)) == 0 || s == 3) && v == version,
                        "dp%d to be INSTALLED (0) or INSTALL_FAILED (3) at version %u (state %d version %u)", dp + 1,
                        version, s, v);
        return s;
}

/* VerifyPackage of the package on a DP: the job's end state (2 completed, 3 failed). */
static uint32_t verify(int dp) {
        sd_bus_message *reply = NULL;
        assert_null(test_invoke(&env, ROOT "/class/SMS_DistributionPoint", IFACE "SMS_DistributionPoint.Static",
                                "VerifyPackage", &reply, "ss", id, dp_nal[dp]));
        char *job = test_job_of(reply);
        uint32_t state = test_wait_job(&env, job, NULL);
        free(job);
        return state;
}

static size_t count_messages(uint32_t message_id, const char *like) {
        char *wql = test_strf("SELECT RecordID FROM SMS_StatusMessage WHERE MessageID = %u "
                              "AND Description LIKE '%%%s%%'",
                              message_id, like);
        size_t n = test_count_rows(&env, wql);
        free(wql);
        return n;
}

static uint32_t source_version(void) {
        return test_get_u32(&env, pkg, BASE, "SourceVersion");
}

static void refresh_now(int dp) {
        assert_null(test_invoke(&env, assignment[dp], IFACE "SMS_DistributionPoint", "Put", NULL, "a{sv}", 1,
                                "RefreshNow", "b", 1));
}

static void refresh_pkg_source(void) {
        sd_bus_message *reply = NULL;
        assert_null(test_invoke(&env, pkg, BASE, "RefreshPkgSource", &reply, NULL));
        char *job = test_job_of(reply);
        assert_int_equal(test_wait_job(&env, job, NULL), 2);
        free(job);
}

/* No two of the site library's entry and the DPs' entries and published files are one inode,
 * except a DP's published file and its own FileLib entry (single-instance storage in one DP). */
static void assert_no_shared_inode(void) {
        struct { dev_t dev; ino_t ino; int owner; char *path; } files[1 + 2 * N_DPS];
        size_t n = 0;

        files[n++] = (typeof(files[0])) { .owner = -1, .path = site_entry() };
        for (int i = 0; i < N_DPS; i++) {
                files[n++] = (typeof(files[0])) { .owner = i, .path = dp_entry(i) };
                files[n++] = (typeof(files[0])) { .owner = i, .path = published(i) };
        }
        for (size_t i = 0; i < n; i++) {
                struct stat st;
                if (lstat(files[i].path, &st) < 0)
                        fail_msg("%s: %s", files[i].path, strerror(errno));
                files[i].dev = st.st_dev;
                files[i].ino = st.st_ino;
        }
        for (size_t i = 0; i < n; i++)
                for (size_t j = i + 1; j < n; j++)
                        if (files[i].owner != files[j].owner && files[i].dev == files[j].dev &&
                            files[i].ino == files[j].ino)
                                fail_msg("%s and %s are one inode (%lu); expected copies of their own", files[i].path,
                                         files[j].path, (unsigned long) files[i].ino);
        for (size_t i = 0; i < n; i++)
                free(files[i].path);
}

/* Every DP INSTALLED at `version` with the source's bytes, verifying clean. */
static void assert_all_good(uint32_t version) {
        for (int i = 0; i < N_DPS; i++) {
                char *p = published(i);
                assert_int_equal(wait_settled(i, version), 0);
                if (!same_as_source(p))
                        fail_msg("dp%d is INSTALLED but %s differs from the package source", i + 1, p);
                assert_int_equal(verify(i), 2);
                free(p);
        }
        char *s = site_entry();
        if (!same_as_source(s))
                fail_msg("the site library's %s differs from the package source", s);
        free(s);
        assert_no_shared_inode();
}

/* The bytes of the other DPs, to show that they never change. */
static void snapshot_others(int except, char *saved[N_DPS], size_t sizes[N_DPS]) {
        for (int i = 0; i < N_DPS; i++) {
                char *p = published(i);
                saved[i] = i == except ? NULL : test_read_file(p, O_NOFOLLOW, &sizes[i]);
                assert_true(i == except || saved[i]);
                free(p);
        }
}

static void assert_others_unchanged(int except, char *saved[N_DPS], size_t sizes[N_DPS]) {
        for (int i = 0; i < N_DPS; i++) {
                if (i == except)
                        continue;
                char *p = published(i);
                size_t n = 0;
                char *now = test_read_file(p, O_NOFOLLOW, &n);
                if (!now || n != sizes[i] || memcmp(now, saved[i], n) != 0)
                        fail_msg("dp%d's %s changed while another copy was damaged and repaired", i + 1, p);
                free(now);
                free(saved[i]);
                free(p);
        }
}

/* --- tests ------------------------------------------------------------------------------------- */

static void test_independent_copies(void **state) {
        assert_all_good(source_version());
}

static void test_dp_damage(void **state) {
        for (int where = 0; where < 2; where++)
                for (Damage how = 0; how < _DAMAGE_MAX; how++) {
                        char *target = where == 0 ? published(0) : dp_entry(0), *saved[N_DPS];
                        size_t sizes[N_DPS];
                        uint32_t v = source_version();
                        size_t before = count_messages(MESSAGE_VERIFY_FAILED, "source.wim");

                        print_message("damage (%s) of dp1's %s\n", damage_names[how],
                                      where == 0 ? "published file" : "FileLib entry");
                        snapshot_others(0, saved, sizes);
                        damage(target, how, wim); /* a symlink: the right bytes, but not a file of the DP's */

                        /* found, and named */
                        assert_int_equal(verify(0), 3);
                        assert_int_equal(dp_state(0, NULL), 3);
                        if (count_messages(MESSAGE_VERIFY_FAILED, "source.wim") != before + 1)
                                fail_msg("expected a VerifyPackage status message naming source.wim; daemon log in %s",
                                         env.dir);
                        /* the other DPs are fine */
                        assert_int_equal(verify(1), 2);
                        assert_int_equal(verify(2), 2);

                        /* RefreshNow repairs it */
                        refresh_now(0);
                        assert_int_equal(source_version(), v);
                        assert_all_good(v);
                        assert_others_unchanged(0, saved, sizes);
                        free(target);
                }
}

static void test_site_damage(void **state) {
        for (Damage how = 0; how < _DAMAGE_MAX; how++) {
                char *target = site_entry(), *saved[N_DPS];
                size_t sizes[N_DPS];

                print_message("damage (%s) of the site library's entry\n", damage_names[how]);
                snapshot_others(-1, saved, sizes);
                damage(target, how, wim);

                /* the DPs have copies of their own */
                for (int i = 0; i < N_DPS; i++)
                        assert_int_equal(verify(i), 2);

                /* RefreshPkgSource with the source unchanged repairs the library, and every DP is
                 * INSTALLED with the right bytes at the new version */
                uint32_t v = source_version();
                refresh_pkg_source();
                assert_int_equal(source_version(), v + 1);
                assert_all_good(v + 1);
                assert_others_unchanged(-1, saved, sizes);
                free(target);
        }
}

/* ScrubContentLibrary and --scrub-interval: a damaged library file is found and named, taken
 * again from the source; a clean library says so. */
static void test_scrub(void **state) {
        sd_bus_message *reply = NULL;
        char *entry = site_entry(), *job;
        uint32_t v = source_version();
        size_t clean = count_messages(MESSAGE_SCRUBBED, "every file matches");

        assert_null(test_invoke(&env, ROOT, IFACE "Site", "ScrubContentLibrary", &reply, NULL));
        job = test_job_of(reply);
        assert_int_equal(test_wait_job(&env, job, NULL), 2);
        free(job);
        assert_int_equal(count_messages(MESSAGE_SCRUBBED, "every file matches"), clean + 1);

        damage(entry, DAMAGE_IN_PLACE, NULL);
        assert_null(test_invoke(&env, ROOT, IFACE "Site", "ScrubContentLibrary", &reply, NULL));
        job = test_job_of(reply);
        assert_int_equal(test_wait_job(&env, job, NULL), 2);
        free(job);
        if (count_messages(MESSAGE_SCRUB_FOUND, hash) != 1)
                fail_msg("expected a scrub status message naming %s; daemon log in %s", hash, env.dir);
        /* taken again from the source by the distribution the scrub started; the DPs kept theirs */
        TEST_WAIT_UNTIL(same_as_source(entry), "%s to be taken again from the source after the scrub", entry);
        assert_all_good(v);

        /* on a schedule */
        size_t scheduled = count_messages(MESSAGE_SCRUB_FOUND, hash);
        assert_int_equal(test_env_stop_daemon(&env, SIGTERM), 0);
        damage(entry, DAMAGE_TRUNCATE, NULL);
        assert_int_equal(test_env_start_daemon(&env, (const char *const[]) { "--scrub-interval=1", NULL }), 0);
        TEST_WAIT_UNTIL(count_messages(MESSAGE_SCRUB_FOUND, hash) > scheduled,
                        "a scheduled scrub to find the damaged %s", entry);
        TEST_WAIT_UNTIL(same_as_source(entry), "%s to be taken again from the source after the scheduled scrub", entry);
        assert_all_good(v);
        assert_int_equal(test_env_stop_daemon(&env, SIGTERM), 0);
        assert_int_equal(test_env_start_daemon(&env, NULL), 0);
        free(entry);
}

/* --- set-up ------------------------------------------------------------------------------------ */

static char *assignment_path(int dp) {
        sd_bus_message *reply = NULL;
        char esc[1200], *w = esc, *wmi;
        const char *j;

        for (const char *p = dp_nal[dp]; *p; p++) {
                if (*p == '"' || *p == '\\')
                        *w++ = '\\';
                *w++ = *p;
        }
        *w = 0;
        wmi = test_strf("SMS_DistributionPoint.PackageID=\"%s\",ServerNALPath=\"%s\",SiteCode=\"LAB\"", id, esc);
        assert_null(test_invoke(&env, ROOT, IFACE "Site", "GetObject", &reply, "s", wmi));
        free(wmi);
        sd_bus_message_read(reply, "o", &j);
        char *path = strdup(j);
        sd_bus_message_unref(reply);
        return path;
}

static int setup(void **state) {
        sd_bus_message *m = NULL, *reply = NULL;
        char *dps = NULL, *job = NULL, *manifest, *text;
        size_t n = 0;

        if (test_env_start(&env) < 0)
                return -1;
        wim = test_env_make_wim(&env, "source.wim", 1u << 20, false);
        dps = test_strf("%s/dps", env.dir);
        assert_int_equal(mkdir(dps, 0755), 0);
        for (int i = 0; i < N_DPS; i++) {
                dp_root[i] = test_strf("%s/dp%d", dps, i + 1);
                assert_int_equal(mkdir(dp_root[i], 0755), 0);
                dp_nal[i] = test_strf("[\"Display=\\\\dp%d\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\dp%d\\", i + 1, i + 1);
                assert_null(test_create(&env, "SMS_DistributionPointInfo", NULL, NULL, 2, "{sv}{sv}", "NALPath", "s",
                                        dp_nal[i], "ContentRoot", "s", dp_root[i]));
        }
        free(dps);
        assert_null(test_create(&env, "SMS_ImagePackage", &pkg, &job, 3, "{sv}{sv}{sv}", "Name", "s", "Integrity",
                                "PkgSourceFlag", "u", 2, "PkgSourcePath", "s", wim));
        free(job);
        id = test_get_string(&env, pkg, BASE, "PackageID");

        assert_int_equal(sd_bus_message_new_method_call(env.bus, &m, "org.smsprov.Provider1", pkg, BASE,
                                                        "AddDistributionPoints"),
                         0);
        sd_bus_message_append(m, "as", 3, "LAB", "LAB", "LAB");
        sd_bus_message_append(m, "as", 3, dp_nal[0], dp_nal[1], dp_nal[2]);
        assert_true(sd_bus_call(env.bus, m, TEST_CALL_TIMEOUT_USEC, NULL, &reply) >= 0);
        sd_bus_message_unref(m);
        job = test_job_of(reply);
        assert_int_equal(test_wait_job(&env, job, NULL), 2);
        free(job);
        for (int i = 0; i < N_DPS; i++) {
                assert_int_equal(wait_settled(i, source_version()), 0);
                assignment[i] = assignment_path(i);
        }

        /* the WIM's SHA-256, from the manifest: "<sha256> <size> source.wim\n" */
        manifest = test_strf("%s/SCCMContentLib/PkgLib/%s/%u.manifest", dp_root[0], id, source_version());
        text = test_read_file(manifest, O_NOFOLLOW, &n);
        assert_non_null(text);
        assert_true(n > 64);
        memcpy(hash, text, 64);
        hash[64] = 0;
        free(text);
        free(manifest);
        *state = &env;
        return 0;
}

static int teardown(void **state) {
        for (int i = 0; i < N_DPS; i++) {
                free(dp_root[i]);
                free(dp_nal[i]);
                free(assignment[i]);
        }
        free(pkg);
        free(id);
        free(wim);
        return test_env_stop(&env);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_independent_copies),
                cmocka_unit_test(test_dp_damage),
                cmocka_unit_test(test_site_damage),
                cmocka_unit_test(test_scrub),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, setup, teardown);
}
