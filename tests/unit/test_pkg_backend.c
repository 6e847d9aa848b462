/* agent/pkg_backend: backend choice, planning (and refusing downgrades
 * before anything runs), parsing query output, the real dpkg-query against
 * a private database, and waiting for a dpkg/rpm lock that another process
 * holds. The real dnf/rpm backend is tested in test_pkg_dnf. */
#include "agent/pkg_backend.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/vercmp.h"

#define HOLDER_NAME "hl-lockholder"

static char s_dir[PATH_MAX];

static void s_mkdirs(const char *path) {
        char buf[PATH_MAX];
        snprintf(buf, sizeof buf, "%s", path);
        for (char *p = buf + 1; *p; p++)
                if (*p == '/') {
                        *p = '\0';
                        mkdir(buf, 0755);
                        *p = '/';
                }
        ck_assert_msg(mkdir(buf, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", buf, strerror(errno));
}

static void s_write(const char *path, const char *content) {
        FILE *f = fopen(path, "we");
        ck_assert_msg(f, "fopen %s: %s", path, strerror(errno));
        fputs(content, f);
        ck_assert_int_eq(fclose(f), 0);
}

static void setup(void) {
        snprintf(s_dir, sizeof s_dir, "/tmp/test-pkg-backend-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(s_dir));
}

static void teardown(void) {
        char *const argv[] = { "rm", "-rf", "--", s_dir, NULL };
        exec_result_t res;
        if (exec_run(argv, NULL, &res) == 0)
                exec_result_free(&res);
}

/* A child that takes an fcntl write lock on path (creating it), renames
 * itself HOLDER_NAME, and keeps the lock for hold_ms (or until killed).
 * Returns once the lock is taken. */
static pid_t s_hold_lock(const char *path, int64_t hold_ms) {
        int ready[2];
        char c;
        pid_t pid;

        ck_assert_int_eq(pipe(ready), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
                struct timespec ts = { .tv_sec = hold_ms / 1000, .tv_nsec = (hold_ms % 1000) * 1000000 };
                int fd = open(path, O_RDWR | O_CREAT, 0640);
                prctl(PR_SET_NAME, HOLDER_NAME);
                if (fd < 0 || fcntl(fd, F_SETLKW, &fl) < 0)
                        _exit(1);
                if (write(ready[1], "x", 1) != 1)
                        _exit(1);
                nanosleep(&ts, NULL);
                _exit(0);
        }
        close(ready[1]);
        ck_assert_msg(read(ready[0], &c, 1) == 1, "lock holder did not take the lock");
        close(ready[0]);
        return pid;
}

static void s_reap(pid_t pid) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
}

/* ---- backend choice --------------------------------------------------------- */

START_TEST(test_resolve) {
        const pkg_backend_t *b = NULL;
        ck_assert_int_eq(pkg_backend_resolve("apt", &b), 0);
        ck_assert_ptr_eq(b, &pkg_backend_apt);
        ck_assert_str_eq(b->name, "apt");
        ck_assert_int_eq(pkg_backend_resolve("dnf", &b), 0);
        ck_assert_ptr_eq(b, &pkg_backend_dnf);
        ck_assert_str_eq(b->name, "dnf");
        ck_assert_int_eq(pkg_backend_resolve("yum", &b), -EINVAL);
        ck_assert_int_eq(pkg_backend_resolve("", &b), -EINVAL);
        ck_assert_int_eq(pkg_backend_resolve(NULL, &b), -EINVAL);
        ck_assert_ptr_eq(b, &pkg_backend_dnf);   /* untouched on failure */

        /* auto prefers dpkg-query, then rpm. */
        b = NULL;
        ck_assert_int_eq(pkg_backend_resolve("auto", &b), 0);
        if (access("/usr/bin/dpkg-query", X_OK) == 0)
                ck_assert_ptr_eq(b, &pkg_backend_apt);
        else
                ck_assert_ptr_eq(b, &pkg_backend_dnf);
}
END_TEST

START_TEST(test_backend_tables) {
        /* Each table carries its own version rules. */
        ck_assert_int_lt(pkg_backend_apt.compare("1.0~rc1", "1.0"), 0);
        ck_assert_int_eq(pkg_backend_apt.compare("1.0", "1.0-0"), 0);
        ck_assert_int_lt(pkg_backend_dnf.compare("1.0", "1.0-1"), 0);
        ck_assert_int_lt(pkg_backend_dnf.compare("1.0", "1.0^git1"), 0);
        ck_assert(pkg_backend_apt.version_valid("1:2.0-1"));
        ck_assert(!pkg_backend_apt.version_valid("2.0 1"));
        ck_assert(pkg_backend_dnf.version_valid("2.0^git1-1"));
        ck_assert(!pkg_backend_dnf.version_valid("2.0-1-1"));
        ck_assert(!pkg_backend_apt.version_valid("2.0^git1"));
}
END_TEST

/* ---- planning ------------------------------------------------------------------- */

START_TEST(test_plan_actions) {
        char *installed[] = { "", "1.0-1", "2.0-1", "1:0.5-1", "2.0-1" };
        pkg_request_t req[] = {
                { "new", "1.0-1" },
                { "up", "2.0-1" },
                { "same", "2.0-1" },
                { "epoch-down", "9.0-1" },   /* epoch 1 beats 9.0 */
                { "down", "1.9-9" },
        };
        pkg_action_t act[5];
        char err[256] = "";

        ck_assert_int_eq(pkg_plan(vercmp_dpkg, installed, req, 5, true, act, err, sizeof err), 0);
        ck_assert_int_eq(act[0], PKG_ACTION_INSTALL);
        ck_assert_int_eq(act[1], PKG_ACTION_UPGRADE);
        ck_assert_int_eq(act[2], PKG_ACTION_REINSTALL);
        ck_assert_int_eq(act[3], PKG_ACTION_DOWNGRADE);
        ck_assert_int_eq(act[4], PKG_ACTION_DOWNGRADE);
        ck_assert_str_eq(err, "");

        ck_assert_str_eq(pkg_action_name(PKG_ACTION_INSTALL), "install");
        ck_assert_str_eq(pkg_action_name(PKG_ACTION_UPGRADE), "upgrade");
        ck_assert_str_eq(pkg_action_name(PKG_ACTION_REINSTALL), "reinstall");
        ck_assert_str_eq(pkg_action_name(PKG_ACTION_DOWNGRADE), "downgrade");
}
END_TEST

START_TEST(test_plan_refuses_downgrade) {
        char *installed[] = { "1.0-1", "1:0.5-1" };
        pkg_request_t req[] = { { "up", "2.0-1" }, { "epoch-down", "9.0-1" } };
        pkg_action_t act[2];
        char err[256] = "";

        ck_assert_int_eq(pkg_plan(vercmp_dpkg, installed, req, 2, false, act, err, sizeof err), -EPERM);
        ck_assert_msg(strstr(err, "epoch-down") && strstr(err, "1:0.5-1") && strstr(err, "9.0-1"),
                      "error names the package and versions: %s", err);

        /* The backend's order decides: "1.0" equals "1.0-0" for dpkg, but
         * a missing release is older for rpm. */
        char *inst2[] = { "1.0" };
        pkg_request_t req2[] = { { "p", "1.0-0" } };
        ck_assert_int_eq(pkg_plan(vercmp_dpkg, inst2, req2, 1, false, act, err, sizeof err), 0);
        ck_assert_int_eq(act[0], PKG_ACTION_REINSTALL);
        ck_assert_int_eq(pkg_plan(vercmp_rpm, inst2, req2, 1, false, act, err, sizeof err), 0);
        ck_assert_int_eq(act[0], PKG_ACTION_UPGRADE);
        char *inst2b[] = { "1.0-0" };
        pkg_request_t req2b[] = { { "p", "1.0" } };
        ck_assert_int_eq(pkg_plan(vercmp_rpm, inst2b, req2b, 1, false, act, err, sizeof err), -EPERM);
        char *inst3[] = { "1.0~rc1-1" };
        pkg_request_t req3[] = { { "p", "1.0-1" } };
        ck_assert_int_eq(pkg_plan(vercmp_rpm, inst3, req3, 1, false, act, err, sizeof err), 0);
        ck_assert_int_eq(act[0], PKG_ACTION_UPGRADE);
}
END_TEST

/* ---- query output ------------------------------------------------------------- */

static char **s_empty_versions(size_t n) {
        char **v = calloc(n + 1, sizeof *v);
        ck_assert_ptr_nonnull(v);
        for (size_t i = 0; i < n; i++)
                v[i] = strdup("");
        return v;
}

START_TEST(test_parse_dpkg) {
        char out[] = "a\t1.0-1\tii \n"
                     "dpkg-query: no packages found matching missing\n"
                     "removed\t2.0\trc \n"
                     "halfdone\t3.0\tiU \n"
                     "halfconf\t4.0\tiF \n"
                     "notinst\t5.0\tpn \n"
                     "unasked\t9\tii \n"
                     "b\t1:2.0~rc1-3\tii \n"
                     "nostatus\t1.0\n";
        char *names[] = { "a", "missing", "removed", "halfdone", "b", "nostatus", "halfconf", "notinst" };
        char **v = s_empty_versions(8);

        ck_assert_int_eq(pkg_parse_query(out, true, names, 8, v), 0);
        ck_assert_str_eq(v[0], "1.0-1");
        ck_assert_str_eq(v[1], "");
        ck_assert_str_eq(v[2], "");            /* rc: only config files left */
        ck_assert_str_eq(v[3], "3.0");         /* unpacked: its files are there */
        ck_assert_str_eq(v[4], "1:2.0~rc1-3");
        ck_assert_str_eq(v[5], "");
        ck_assert_str_eq(v[6], "4.0");         /* half-configured (failed postinst) */
        ck_assert_str_eq(v[7], "");            /* n: not installed */
        pkg_versions_free(v, 8);
}
END_TEST

START_TEST(test_parse_rpm) {
        char out[] = "package missing is not installed\n"
                     "a\t1.0-1.el9\n"
                     "b\t2:3.4-5\n"
                     "error: some complaint\n";
        char *names[] = { "missing", "a", "b", "c" };
        char **v = s_empty_versions(4);

        ck_assert_int_eq(pkg_parse_query(out, false, names, 4, v), 0);
        ck_assert_str_eq(v[0], "");
        ck_assert_str_eq(v[1], "1.0-1.el9");
        ck_assert_str_eq(v[2], "2:3.4-5");
        ck_assert_str_eq(v[3], "");
        pkg_versions_free(v, 4);
}
END_TEST

/* A private dpkg database: one installed package, one removed with its
 * config files left, one only unpacked. */
static void s_fake_admindir(char *buf, size_t len) {
        char path[PATH_MAX];
        snprintf(buf, len, "%s/dpkg", s_dir);
        snprintf(path, sizeof path, "%s/info", buf);
        s_mkdirs(path);
        snprintf(path, sizeof path, "%s/updates", buf);
        s_mkdirs(path);
        snprintf(path, sizeof path, "%s/status", buf);
        s_write(path,
                "Package: hitless-fake\nStatus: install ok installed\nPriority: optional\nSection: misc\n"
                "Maintainer: T <t@example.com>\nArchitecture: all\nVersion: 2.0-1\nDescription: t\n\n"
                "Package: hitless-removed\nStatus: deinstall ok config-files\nPriority: optional\n"
                "Section: misc\nMaintainer: T <t@example.com>\nArchitecture: all\nVersion: 1.5\n"
                "Description: t\n\n"
                "Package: hitless-unpacked\nStatus: install ok unpacked\nPriority: optional\n"
                "Section: misc\nMaintainer: T <t@example.com>\nArchitecture: all\nVersion: 3.0\n"
                "Description: t\n");
}

START_TEST(test_apt_query_real_dpkg) {
        char admin[PATH_MAX];
        char *names[] = { "hitless-unpacked", "hitless-fake", "hitless-nothere", "hitless-removed" };
        char **v = NULL;
        s_fake_admindir(admin, sizeof admin);
        pkg_env_t env = { .dpkg_admindir = admin };

        ck_assert_int_eq(pkg_backend_apt.query(&env, names, 4, &v), 0);
        ck_assert_str_eq(v[0], "3.0");       /* unpacked: on disk at 3.0 */
        ck_assert_str_eq(v[1], "2.0-1");
        ck_assert_str_eq(v[2], "");
        ck_assert_str_eq(v[3], "");
        pkg_versions_free(v, 4);

        /* No names: nothing to ask (dpkg-query -W alone would list all). */
        v = NULL;
        ck_assert_int_eq(pkg_backend_apt.query(&env, names, 0, &v), 0);
        ck_assert_ptr_nonnull(v);
        pkg_versions_free(v, 0);

        /* An admindir with a root is ambiguous. */
        env.root = s_dir;
        ck_assert_int_eq(pkg_backend_apt.query(&env, names, 1, &v), -EINVAL);
}
END_TEST

START_TEST(test_apt_refuses_downgrade_without_running) {
        char admin[PATH_MAX], err[256] = "";
        pkg_request_t req[] = { { "hitless-fake", "1.0-1" } };
        exec_result_t out = { .output = (char *) "stale" };
        s_fake_admindir(admin, sizeof admin);
        pkg_env_t env = { .dpkg_admindir = admin, .lock_timeout_ms = 1000, .timeout_ms = 60000 };

        /* hitless-fake exists in no repository: had apt-get run, it would
         * fail (-EIO) and leave its output. */
        ck_assert_int_eq(pkg_backend_apt.install(&env, req, 1, false, &out, err, sizeof err), -EPERM);
        ck_assert_ptr_null(out.output);
        ck_assert_msg(strstr(err, "hitless-fake") && strstr(err, "2.0-1") && strstr(err, "1.0-1"), "error: %s",
                      err);
}
END_TEST

START_TEST(test_install_root_with_admindir_invalid) {
        char err[256] = "";
        pkg_request_t req[] = { { "x", "1.0" } };
        exec_result_t out;
        pkg_env_t env = { .root = s_dir, .dpkg_admindir = s_dir, .lock_timeout_ms = 100 };
        ck_assert_int_eq(pkg_backend_apt.install(&env, req, 1, false, &out, err, sizeof err), -EINVAL);
        ck_assert_ptr_null(out.output);
        ck_assert_str_ne(err, "");
}
END_TEST

/* ---- locks ---------------------------------------------------------------------- */

START_TEST(test_root_path) {
        char buf[64];
        pkg_env_t env = { 0 };
        ck_assert(!pkg_env_has_root(&env));
        ck_assert_int_eq(pkg_root_path(&env, "/var/lib/dpkg", buf, sizeof buf), 0);
        ck_assert_str_eq(buf, "/var/lib/dpkg");
        env.root = "/";
        ck_assert(!pkg_env_has_root(&env));
        ck_assert_int_eq(pkg_root_path(&env, "/var/lib/dpkg", buf, sizeof buf), 0);
        ck_assert_str_eq(buf, "/var/lib/dpkg");
        env.root = "/srv/r//";
        ck_assert(pkg_env_has_root(&env));
        ck_assert_int_eq(pkg_root_path(&env, "/var/lib/dpkg", buf, sizeof buf), 0);
        ck_assert_str_eq(buf, "/srv/r/var/lib/dpkg");
        ck_assert_int_eq(pkg_root_path(&env, "/var/lib/dpkg", buf, 10), -ENAMETOOLONG);
}
END_TEST

START_TEST(test_fcntl_lock_holder) {
        char path[PATH_MAX];
        pkg_lock_t lock = { path, PKG_LOCK_FCNTL };
        pid_t pid = -5, holder;

        snprintf(path, sizeof path, "%s/lock", s_dir);
        ck_assert_int_eq(pkg_lock_holder(&lock, &pid), 0);   /* no file */
        s_write(path, "");
        ck_assert_int_eq(pkg_lock_holder(&lock, &pid), 0);   /* nobody holds it */
        ck_assert_int_eq(pid, -5);
        holder = s_hold_lock(path, 60000);
        ck_assert_int_eq(pkg_lock_holder(&lock, &pid), 1);
        ck_assert_int_eq(pid, holder);
        s_reap(holder);
        ck_assert_int_eq(pkg_lock_holder(&lock, &pid), 0);   /* released by death */
}
END_TEST

START_TEST(test_pidfile_lock_holder) {
        char path[PATH_MAX], text[32];
        pkg_lock_t lock = { path, PKG_LOCK_PIDFILE };
        pid_t pid = 0, child;

        snprintf(path, sizeof path, "%s/rpmdb_lock.pid", s_dir);
        ck_assert_int_eq(pkg_lock_holder(&lock, &pid), 0);
        child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                pause();
                _exit(0);
        }
        snprintf(text, sizeof text, "%d", (int) child);
        s_write(path, text);
        ck_assert_int_eq(pkg_lock_holder(&lock, &pid), 1);
        ck_assert_int_eq(pid, child);
        s_reap(child);
        ck_assert_int_eq(pkg_lock_holder(&lock, &pid), 0);   /* stale: dead pid */
        s_write(path, "garbage");
        ck_assert_int_eq(pkg_lock_holder(&lock, &pid), 0);
        snprintf(text, sizeof text, "%d", (int) getpid());
        s_write(path, text);
        ck_assert_int_eq(pkg_lock_holder(&lock, &pid), 0);   /* our own */
}
END_TEST

START_TEST(test_lock_wait_until_released) {
        char path[PATH_MAX], err[256] = "";
        pkg_lock_t locks[] = { { path, PKG_LOCK_FCNTL } };
        pid_t holder;
        int64_t t0;

        snprintf(path, sizeof path, "%s/lock", s_dir);
        holder = s_hold_lock(path, 800);
        t0 = clock_mono_ms();
        ck_assert_int_eq(pkg_lock_wait(locks, 1, "dpkg", 10000, err, sizeof err), 0);
        ck_assert_int_ge(clock_mono_ms() - t0, 600);
        ck_assert_int_lt(clock_mono_ms() - t0, 5000);
        s_reap(holder);

        /* Free from the start: no waiting at all. */
        t0 = clock_mono_ms();
        ck_assert_int_eq(pkg_lock_wait(locks, 1, "dpkg", 10000, err, sizeof err), 0);
        ck_assert_int_lt(clock_mono_ms() - t0, 400);
}
END_TEST

/* The brief's scenario: apt install under a root whose dpkg lock is held. */
static void s_apt_install_busy(const char *lock_name) {
        char dir[PATH_MAX], path[PATH_MAX], err[256] = "", expect[128];
        pkg_request_t req[] = { { "hitless-fake", "1.0" } };
        exec_result_t out = { 0 };
        pkg_env_t env = { .root = s_dir, .lock_timeout_ms = 1500, .timeout_ms = 10000 };
        pid_t holder;
        int64_t t0, took;
        int r;

        snprintf(dir, sizeof dir, "%s/var/lib/dpkg", s_dir);
        s_mkdirs(dir);
        snprintf(path, sizeof path, "%s/%s", dir, lock_name);
        holder = s_hold_lock(path, 60000);
        t0 = clock_mono_ms();
        r = pkg_backend_apt.install(&env, req, 1, false, &out, err, sizeof err);
        took = clock_mono_ms() - t0;
        s_reap(holder);

        ck_assert_msg(r == -EBUSY, "install = %d (%s)", r, err);
        ck_assert_int_ge(took, 1400);
        ck_assert_int_lt(took, 4000);
        ck_assert_ptr_null(out.output);
        snprintf(expect, sizeof expect, "dpkg lock held by pid %d (%s) for more than 1.5 s", (int) holder,
                 HOLDER_NAME);
        ck_assert_str_eq(err, expect);
}

START_TEST(test_apt_install_busy_frontend_lock) {
        s_apt_install_busy("lock-frontend");
}
END_TEST

START_TEST(test_apt_install_busy_dpkg_lock) {
        s_apt_install_busy("lock");
}
END_TEST

static Suite *pkg_backend_suite(void) {
        Suite *s = suite_create("pkg_backend");
        TCase *tc = tcase_create("pure");
        tcase_add_test(tc, test_resolve);
        tcase_add_test(tc, test_backend_tables);
        tcase_add_test(tc, test_plan_actions);
        tcase_add_test(tc, test_plan_refuses_downgrade);
        tcase_add_test(tc, test_parse_dpkg);
        tcase_add_test(tc, test_parse_rpm);
        tcase_add_test(tc, test_root_path);
        suite_add_tcase(s, tc);

        tc = tcase_create("system");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_apt_query_real_dpkg);
        tcase_add_test(tc, test_apt_refuses_downgrade_without_running);
        tcase_add_test(tc, test_install_root_with_admindir_invalid);
        tcase_add_test(tc, test_fcntl_lock_holder);
        tcase_add_test(tc, test_pidfile_lock_holder);
        tcase_add_test(tc, test_lock_wait_until_released);
        tcase_add_test(tc, test_apt_install_busy_frontend_lock);
        tcase_add_test(tc, test_apt_install_busy_dpkg_lock);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(pkg_backend_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
