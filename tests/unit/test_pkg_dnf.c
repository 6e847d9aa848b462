/* agent/pkg_dnf: the real dnf and rpm, on this Debian host, against real
 * rpm packages. Two versions of hitless-test-rpm (one file,
 * /usr/share/hitless-test-rpm/version, holding its version) and
 * hitless-test-other are built with rpmbuild into a createrepo_c
 * repository; every test gets a fresh install root whose own
 * /etc/yum.repos.d names only that repository (dnf --installroot reads it
 * from there). The rpms have no scriptlets, so the root needs no shell.
 *
 * States are set up with rpm directly and checked with rpm directly, so
 * the backend's own query is not what judges it. */
#include "agent/pkg_backend.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

#define PKG "hitless-test-rpm"
#define OTHER "hitless-test-other"
#define HOLDER_NAME "hl-lockholder"

static char s_base[PATH_MAX];   /* rpms, repo and roots */
static char s_root[PATH_MAX];   /* this test's install root */

/* ---- helpers ------------------------------------------------------------------ */

static int s_run(char *const argv[], char **ret_output) {
        exec_options_t opts = { .timeout_ms = 120000 };
        exec_result_t res;
        int r = exec_run(argv, &opts, &res);
        if (r < 0)
                return r;
        r = exec_succeeded(&res) ? 0 : -EIO;
        if (r < 0 && !ret_output)
                fprintf(stderr, "%s failed:\n%s\n", argv[0], res.output);
        if (ret_output)
                *ret_output = res.output;
        else
                free(res.output);
        return r;
}

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

static bool s_have(const char *prog) {
        char path[64];
        snprintf(path, sizeof path, "/usr/bin/%s", prog);
        return access(path, X_OK) == 0;
}

static void s_build_rpm(const char *name, const char *version) {
        char spec[PATH_MAX], topdir[PATH_MAX + 16], text[1024];
        snprintf(spec, sizeof spec, "%s/%s-%s.spec", s_base, name, version);
        snprintf(text, sizeof text,
                 "Name: %s\nVersion: %s\nRelease: 1\nSummary: hitless test package\nLicense: MIT\n"
                 "BuildArch: noarch\n%%description\nA test package for hitless.\n"
                 "%%install\nmkdir -p %%{buildroot}/usr/share/%s\n"
                 "echo %s > %%{buildroot}/usr/share/%s/version\n"
                 "%%files\n/usr/share/%s/version\n",
                 name, version, name, version, name, name);
        s_write(spec, text);
        snprintf(topdir, sizeof topdir, "_topdir %s/top", s_base);
        ck_assert_msg(s_run((char *const[]) { "rpmbuild", "--nodeps", "--define", topdir, "-bb", spec, NULL },
                            NULL) == 0,
                      "rpmbuild %s-%s failed (output above)", name, version);
}

static void s_rpm_path(const char *name, const char *version, char *buf, size_t len) {
        snprintf(buf, len, "%s/top/RPMS/noarch/%s-%s-1.noarch.rpm", s_base, name, version);
}

/* Once per test case, in the runner: the packages and the repository. */
static void build_repo(void) {
        char repo[PATH_MAX], src[PATH_MAX], dst[PATH_MAX + 64];

        ck_assert_msg(s_have("dnf") && s_have("rpm") && s_have("rpmbuild") && s_have("createrepo_c"),
                      "dnf, rpm, rpmbuild or createrepo_c missing: run scripts/install-deps.sh build "
                      "(Debian packages dnf createrepo-c rpm)");
        snprintf(s_base, sizeof s_base, "/tmp/test-pkg-dnf-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(s_base));
        s_build_rpm(PKG, "1.0");
        s_build_rpm(PKG, "2.0");
        s_build_rpm(OTHER, "1.0");
        snprintf(repo, sizeof repo, "%s/repo", s_base);
        s_mkdirs(repo);
        const char *const builds[][2] = { { PKG, "1.0" }, { PKG, "2.0" }, { OTHER, "1.0" } };
        for (size_t i = 0; i < 3; i++) {
                s_rpm_path(builds[i][0], builds[i][1], src, sizeof src);
                snprintf(dst, sizeof dst, "%s/%s-%s-1.noarch.rpm", repo, builds[i][0], builds[i][1]);
                ck_assert_msg(link(src, dst) == 0, "link %s: %s", src, strerror(errno));
        }
        ck_assert_msg(s_run((char *const[]) { "createrepo_c", "-q", repo, NULL }, NULL) == 0,
                      "createrepo_c failed (output above)");
}

static void remove_repo(void) {
        if (s_base[0])
                s_run((char *const[]) { "rm", "-rf", "--", s_base, NULL }, NULL);
}

/* Per test: an empty root with an rpm database and the repository. */
static void new_root(void) {
        char path[PATH_MAX + 64], text[PATH_MAX + 128];
        snprintf(s_root, sizeof s_root, "%s/root-XXXXXX", s_base);
        ck_assert_ptr_nonnull(mkdtemp(s_root));
        snprintf(path, sizeof path, "%s/etc/yum.repos.d", s_root);
        s_mkdirs(path);
        snprintf(path, sizeof path, "%s/etc/yum.repos.d/hitless-test.repo", s_root);
        snprintf(text, sizeof text,
                 "[hitless-test]\nname=hitless test\nbaseurl=file://%s/repo\ngpgcheck=0\nenabled=1\n", s_base);
        s_write(path, text);
        ck_assert(s_run((char *const[]) { "rpm", "--root", s_root, "--initdb", NULL }, NULL) == 0);
}

/* Sets the state with rpm itself, not through the backend. */
static void s_preinstall(const char *name, const char *version) {
        char path[PATH_MAX];
        s_rpm_path(name, version, path, sizeof path);
        ck_assert(s_run((char *const[]) { "rpm", "--root", s_root, "-U", "--oldpackage", "--nodeps", path, NULL },
                        NULL) == 0);
}

/* The installed VERSION-RELEASE per rpm itself, "" when not installed. */
static char *s_installed(const char *name) {
        char *out = NULL;
        if (s_run((char *const[]) { "rpm", "--root", s_root, "-q", "--qf", "%{VERSION}-%{RELEASE}", (char *) name, NULL },
                  &out) < 0) {
                free(out);
                return strdup("");
        }
        return out;
}

static void s_assert_installed(const char *name, const char *expect) {
        char *v = s_installed(name);
        ck_assert_msg(strcmp(v, expect) == 0, "%s: rpm says \"%s\", expected \"%s\"", name, v, expect);
        free(v);
}

/* The version file the package put into the root. */
static void s_assert_file(const char *name, const char *expect) {
        char path[PATH_MAX + 64], buf[64] = "";
        FILE *f;
        snprintf(path, sizeof path, "%s/usr/share/%s/version", s_root, name);
        f = fopen(path, "re");
        ck_assert_msg(f, "%s: %s", path, strerror(errno));
        if (!fgets(buf, sizeof buf, f))
                buf[0] = '\0';
        fclose(f);
        buf[strcspn(buf, "\n")] = '\0';
        ck_assert_msg(strcmp(buf, expect) == 0, "%s holds \"%s\", expected \"%s\"", path, buf, expect);
}

static void s_tamper_file(const char *name) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/usr/share/%s/version", s_root, name);
        s_write(path, "tampered\n");
}

static pkg_env_t s_env(void) {
        return (pkg_env_t) { .root = s_root, .lock_timeout_ms = 5000, .timeout_ms = 60000 };
}

static int s_install(const pkg_request_t *req, size_t n, bool allow_downgrade, exec_result_t *out, char *err,
                     size_t err_len) {
        pkg_env_t env = s_env();
        int64_t t0 = clock_mono_ms();
        int r = pkg_backend_dnf.install(&env, req, n, allow_downgrade, out, err, err_len);
        fprintf(stderr, "install %s-%s%s: %d in %lld ms%s%s\n", req[0].name, req[0].version, n > 1 ? " ..." : "",
                r, (long long) (clock_mono_ms() - t0), err[0] ? ": " : "", err);
        return r;
}

/* ---- tests ------------------------------------------------------------------------ */

START_TEST(test_query) {
        char *names[] = { PKG, "hitless-not-there", OTHER };
        char **v = NULL;
        pkg_env_t env = s_env();

        ck_assert_int_eq(pkg_backend_dnf.query(&env, names, 3, &v), 0);
        ck_assert_str_eq(v[0], "");
        ck_assert_str_eq(v[1], "");
        ck_assert_str_eq(v[2], "");
        pkg_versions_free(v, 3);

        s_preinstall(PKG, "2.0");
        ck_assert_int_eq(pkg_backend_dnf.query(&env, names, 3, &v), 0);
        ck_assert_str_eq(v[0], "2.0-1");
        ck_assert_str_eq(v[1], "");
        ck_assert_str_eq(v[2], "");
        pkg_versions_free(v, 3);
}
END_TEST

START_TEST(test_install_new) {
        pkg_request_t req[] = { { PKG, "1.0-1" } };
        exec_result_t out = { 0 };
        char err[512] = "";

        ck_assert_int_eq(s_install(req, 1, false, &out, err, sizeof err), 0);
        ck_assert_str_eq(err, "");
        ck_assert_ptr_nonnull(out.output);
        ck_assert_msg(strstr(out.output, PKG "-1.0-1"), "dnf output names the package: %s", out.output);
        exec_result_free(&out);
        s_assert_installed(PKG, "1.0-1");
        s_assert_file(PKG, "1.0");
}
END_TEST

START_TEST(test_upgrade) {
        pkg_request_t req[] = { { PKG, "2.0-1" } };
        exec_result_t out = { 0 };
        char err[512] = "";

        s_preinstall(PKG, "1.0");
        s_assert_file(PKG, "1.0");
        ck_assert_int_eq(s_install(req, 1, false, &out, err, sizeof err), 0);
        exec_result_free(&out);
        s_assert_installed(PKG, "2.0-1");
        s_assert_file(PKG, "2.0");
}
END_TEST

START_TEST(test_downgrade_refused) {
        pkg_request_t req[] = { { PKG, "1.0-1" } };
        pkg_request_t two[] = { { OTHER, "1.0-1" }, { PKG, "1.0-1" } };
        exec_result_t out = { 0 };
        char err[512] = "";

        s_preinstall(PKG, "2.0");
        ck_assert_int_eq(s_install(req, 1, false, &out, err, sizeof err), -EPERM);
        ck_assert_ptr_null(out.output);   /* dnf did not run */
        ck_assert_msg(strstr(err, PKG) && strstr(err, "2.0-1") && strstr(err, "1.0-1"), "error: %s", err);
        s_assert_installed(PKG, "2.0-1");
        s_assert_file(PKG, "2.0");

        /* One refused downgrade stops the whole request. */
        err[0] = '\0';
        ck_assert_int_eq(s_install(two, 2, false, &out, err, sizeof err), -EPERM);
        ck_assert_ptr_null(out.output);
        s_assert_installed(OTHER, "");
        s_assert_installed(PKG, "2.0-1");
}
END_TEST

START_TEST(test_downgrade_allowed) {
        pkg_request_t req[] = { { PKG, "1.0-1" } };
        exec_result_t out = { 0 };
        char err[512] = "";

        s_preinstall(PKG, "2.0");
        ck_assert_int_eq(s_install(req, 1, true, &out, err, sizeof err), 0);
        exec_result_free(&out);
        s_assert_installed(PKG, "1.0-1");
        s_assert_file(PKG, "1.0");
}
END_TEST

START_TEST(test_reinstall) {
        pkg_request_t req[] = { { PKG, "2.0-1" } };
        exec_result_t out = { 0 };
        char err[512] = "";

        s_preinstall(PKG, "2.0");
        s_tamper_file(PKG);
        ck_assert_int_eq(s_install(req, 1, false, &out, err, sizeof err), 0);
        ck_assert_ptr_nonnull(out.output);
        exec_result_free(&out);
        s_assert_installed(PKG, "2.0-1");
        s_assert_file(PKG, "2.0");   /* the file came back: it really was reinstalled */
}
END_TEST

START_TEST(test_mixed_install_and_reinstall) {
        pkg_request_t req[] = { { OTHER, "1.0-1" }, { PKG, "2.0-1" } };
        exec_result_t out = { 0 };
        char err[512] = "";

        s_preinstall(PKG, "2.0");
        s_tamper_file(PKG);
        ck_assert_int_eq(s_install(req, 2, false, &out, err, sizeof err), 0);
        exec_result_free(&out);
        s_assert_installed(OTHER, "1.0-1");
        s_assert_file(OTHER, "1.0");
        s_assert_installed(PKG, "2.0-1");
        s_assert_file(PKG, "2.0");
}
END_TEST

START_TEST(test_version_without_release) {
        pkg_request_t req[] = { { PKG, "2.0" } };
        exec_result_t out = { 0 };
        char err[512] = "";

        /* "2.0" means any release of 2.0, for dnf and for our check. */
        s_preinstall(PKG, "1.0");
        ck_assert_int_eq(s_install(req, 1, false, &out, err, sizeof err), 0);
        exec_result_free(&out);
        s_assert_installed(PKG, "2.0-1");
        /* ...so asking again is a reinstall, not a refused downgrade. */
        s_tamper_file(PKG);
        ck_assert_int_eq(s_install(req, 1, false, &out, err, sizeof err), 0);
        exec_result_free(&out);
        s_assert_file(PKG, "2.0");
}
END_TEST

START_TEST(test_missing_version) {
        pkg_request_t req[] = { { PKG, "3.0-1" } };
        exec_result_t out = { 0 };
        char err[512] = "";

        s_preinstall(PKG, "1.0");
        ck_assert_int_eq(s_install(req, 1, false, &out, err, sizeof err), -EIO);
        ck_assert_ptr_nonnull(out.output);
        ck_assert_msg(strstr(out.output, "No match for argument: " PKG "-3.0-1"), "dnf's tail: %s", out.output);
        ck_assert_msg(strstr(err, "dnf failed (exit 1)") && strstr(err, PKG "-3.0-1"), "error: %s", err);
        exec_result_free(&out);
        s_assert_installed(PKG, "1.0-1");
        s_assert_file(PKG, "1.0");
}
END_TEST

/* dnf reads "NAME-1.0-1.noarch" as version 1.0-1 on noarch and succeeds;
 * the check afterwards sees that 1.0-1 is not the "1.0-1.noarch" asked. */
START_TEST(test_verify_catches_other_version) {
        pkg_request_t req[] = { { PKG, "1.0-1.noarch" } };
        exec_result_t out = { 0 };
        char err[512] = "";

        ck_assert_int_eq(s_install(req, 1, false, &out, err, sizeof err), -EIO);
        ck_assert_ptr_nonnull(out.output);   /* dnf ran, and succeeded */
        ck_assert_str_eq(err, "after dnf, " PKG " is at 1.0-1, not 1.0-1.noarch");
        exec_result_free(&out);
        s_assert_installed(PKG, "1.0-1");
}
END_TEST

START_TEST(test_timeout) {
        pkg_request_t req[] = { { PKG, "1.0-1" } };
        exec_result_t out = { 0 };
        char err[512] = "";
        pkg_env_t env = s_env();

        env.timeout_ms = 50;
        ck_assert_int_eq(pkg_backend_dnf.install(&env, req, 1, false, &out, err, sizeof err), -ETIMEDOUT);
        ck_assert(out.timed_out);
        ck_assert_str_eq(err, "dnf timed out after 50 ms");
        exec_result_free(&out);
}
END_TEST

/* ---- locks ------------------------------------------------------------------------- */

static char s_found[PATH_MAX];

static int s_find_rpm_lock(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        (void) st;
        if (type == FTW_F && strcmp(path + ftw->base, ".rpm.lock") == 0) {
                snprintf(s_found, sizeof s_found, "%s", path);
                return 1;
        }
        return 0;
}

/* A child named HOLDER_NAME, holding an fcntl write lock on path unless
 * path is NULL. */
static pid_t s_hold_fcntl(const char *path) {
        int ready[2];
        char c;
        pid_t pid;

        ck_assert_int_eq(pipe(ready), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
                int fd = path ? open(path, O_RDWR) : -1;
                prctl(PR_SET_NAME, HOLDER_NAME);
                if (path && (fd < 0 || fcntl(fd, F_SETLKW, &fl) < 0))
                        _exit(1);
                if (write(ready[1], "x", 1) != 1)
                        _exit(1);
                sleep(60);
                _exit(0);
        }
        close(ready[1]);
        ck_assert_msg(read(ready[0], &c, 1) == 1, "lock holder failed");
        close(ready[0]);
        return pid;
}

static void s_assert_busy(pid_t holder) {
        pkg_request_t req[] = { { PKG, "1.0-1" } };
        exec_result_t out = { 0 };
        char err[512] = "", expect[128];
        pkg_env_t env = s_env();
        int64_t t0, took;
        int r;

        env.lock_timeout_ms = 1500;
        t0 = clock_mono_ms();
        r = pkg_backend_dnf.install(&env, req, 1, false, &out, err, sizeof err);
        took = clock_mono_ms() - t0;
        kill(holder, SIGKILL);
        waitpid(holder, NULL, 0);
        ck_assert_msg(r == -EBUSY, "install = %d (%s)", r, err);
        ck_assert_int_ge(took, 1400);
        ck_assert_int_lt(took, 4000);
        ck_assert_ptr_null(out.output);
        snprintf(expect, sizeof expect, "rpm lock held by pid %d (%s) for more than 1.5 s", (int) holder,
                 HOLDER_NAME);
        ck_assert_str_eq(err, expect);
        s_assert_installed(PKG, "");
}

START_TEST(test_busy_rpm_lock) {
        /* Wherever this rpm keeps it (~/.rpmdb on Debian, /var/lib/rpm on
         * Fedora): --initdb created it under the root. */
        s_found[0] = '\0';
        nftw(s_root, s_find_rpm_lock, 16, FTW_PHYS);
        ck_assert_msg(s_found[0], "no .rpm.lock under %s", s_root);
        s_assert_busy(s_hold_fcntl(s_found));
}
END_TEST

START_TEST(test_busy_dnf_lock) {
        char dir[PATH_MAX + 32], path[PATH_MAX + 64], text[32];
        pid_t holder = s_hold_fcntl(NULL);
        /* dnf's own lock: its pid file in the root's /var/lib/dnf. */
        snprintf(dir, sizeof dir, "%s/var/lib/dnf", s_root);
        s_mkdirs(dir);
        snprintf(path, sizeof path, "%s/rpmdb_lock.pid", dir);
        snprintf(text, sizeof text, "%d", (int) holder);
        s_write(path, text);
        s_assert_busy(holder);
}
END_TEST

static Suite *pkg_dnf_suite(void) {
        Suite *s = suite_create("pkg_dnf");
        TCase *tc = tcase_create("dnf");
        tcase_add_unchecked_fixture(tc, build_repo, remove_repo);
        tcase_add_checked_fixture(tc, new_root, NULL);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_query);
        tcase_add_test(tc, test_install_new);
        tcase_add_test(tc, test_upgrade);
        tcase_add_test(tc, test_downgrade_refused);
        tcase_add_test(tc, test_downgrade_allowed);
        tcase_add_test(tc, test_reinstall);
        tcase_add_test(tc, test_mixed_install_and_reinstall);
        tcase_add_test(tc, test_version_without_release);
        tcase_add_test(tc, test_missing_version);
        tcase_add_test(tc, test_verify_catches_other_version);
        tcase_add_test(tc, test_timeout);
        tcase_add_test(tc, test_busy_rpm_lock);
        tcase_add_test(tc, test_busy_dnf_lock);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(pkg_dnf_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
