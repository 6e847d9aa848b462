/* atomic_file: content, metadata, and no temporary file left behind after
 * success or failure. Ownership checks need root (as in CI); without it
 * they use the caller's own ids. */
#include "common/atomic_file.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

static void setup(void) {
        snprintf(dir, sizeof dir, "/tmp/hitless-atomic-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        return remove(path);
}

static void teardown(void) {
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *in_dir(const char *name) {
        static char path[4][256];
        static int next;
        char *p = path[next++ % 4];
        snprintf(p, sizeof path[0], "%s/%s", dir, name);
        return p;
}

/* Names in d other than . and .., space-separated into buf; returns their
 * count. */
static size_t list_dir(const char *d, char *buf, size_t len) {
        DIR *dp = opendir(d);
        ck_assert_ptr_nonnull(dp);
        struct dirent *de;
        size_t n = 0;
        buf[0] = '\0';
        while ((de = readdir(dp))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                n++;
                strncat(buf, de->d_name, len - strlen(buf) - 1);
                strncat(buf, " ", len - strlen(buf) - 1);
        }
        closedir(dp);
        return n;
}

static void assert_only(const char *d, size_t n, const char *what) {
        char names[1024];
        size_t got = list_dir(d, names, sizeof names);
        ck_assert_msg(got == n, "%s: want %zu entries, have %zu: %s", what, n, got, names);
}

static void write_plain(const char *path, const char *text) {
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fputs(text, f) >= 0, 1);
        ck_assert_int_eq(fclose(f), 0);
}

static void assert_content(const char *path, const char *want) {
        char *got;
        size_t len;
        ck_assert_int_eq(file_read_all(path, 1 << 20, &got, &len), 0);
        ck_assert_uint_eq(len, strlen(want));
        ck_assert_str_eq(got, want);
        free(got);
}

static uid_t test_uid(void) {
        return geteuid() == 0 ? 1234 : geteuid();
}

static gid_t test_gid(void) {
        return geteuid() == 0 ? 5678 : getegid();
}

START_TEST(test_create_and_replace) {
        const char *p = in_dir("agent.conf");
        struct stat st1, st2;

        umask(077); /* must not narrow the requested mode */
        ck_assert_int_eq(atomic_file_replace(p, "one\n", 4, 0644, (uid_t) -1, (gid_t) -1), 0);
        assert_content(p, "one\n");
        ck_assert_int_eq(stat(p, &st1), 0);
        ck_assert_uint_eq(st1.st_mode & 07777, 0644);
        ck_assert_uint_eq(st1.st_uid, geteuid());
        assert_only(dir, 1, "after create");

        ck_assert_int_eq(atomic_file_replace(p, "two two\n", 8, 0600, (uid_t) -1, (gid_t) -1), 0);
        assert_content(p, "two two\n");
        ck_assert_int_eq(stat(p, &st2), 0);
        ck_assert_uint_eq(st2.st_mode & 07777, 0600);
        /* A new inode: replaced by rename, not rewritten in place. */
        ck_assert_uint_ne(st1.st_ino, st2.st_ino);
        assert_only(dir, 1, "after replace");

        /* Empty content is content. */
        ck_assert_int_eq(atomic_file_replace(p, NULL, 0, 0640, (uid_t) -1, (gid_t) -1), 0);
        assert_content(p, "");
        assert_only(dir, 1, "after empty");
}
END_TEST

START_TEST(test_owner_and_mode) {
        const char *p = in_dir("owned.conf");

        ck_assert_int_eq(atomic_file_replace(p, "x", 1, 02750, test_uid(), test_gid()), 0);
        struct stat st;
        ck_assert_int_eq(stat(p, &st), 0);
        ck_assert_uint_eq(st.st_uid, test_uid());
        ck_assert_uint_eq(st.st_gid, test_gid());
        /* Mode applied after chown, so the set-gid bit survives. */
        ck_assert_uint_eq(st.st_mode & 07777, 02750);
}
END_TEST

START_TEST(test_keep_meta) {
        const char *p = in_dir("vrouter.conf");
        struct stat before, after;

        write_plain(p, "[DEFAULT]\nold=1\n");
        ck_assert_int_eq(chmod(p, 0604), 0);
        ck_assert_int_eq(chown(p, test_uid(), test_gid()), 0);
        ck_assert_int_eq(stat(p, &before), 0);

        ck_assert_int_eq(atomic_file_replace_keep_meta(p, "[DEFAULT]\nnew=2\n", 16), 0);
        assert_content(p, "[DEFAULT]\nnew=2\n");
        ck_assert_int_eq(stat(p, &after), 0);
        ck_assert_uint_eq(after.st_mode & 07777, 0604);
        ck_assert_uint_eq(after.st_uid, test_uid());
        ck_assert_uint_eq(after.st_gid, test_gid());
        ck_assert_uint_ne(before.st_ino, after.st_ino);
        assert_only(dir, 1, "after keep_meta");
}
END_TEST

START_TEST(test_keep_meta_refuses) {
        const char *missing = in_dir("missing.conf");
        const char *target = in_dir("target.conf");
        const char *link = in_dir("link.conf");
        const char *sub = in_dir("sub");

        ck_assert_int_eq(atomic_file_replace_keep_meta(missing, "x", 1), -ENOENT);
        ck_assert_int_eq(access(missing, F_OK), -1);

        write_plain(target, "target");
        ck_assert_int_eq(symlink("target.conf", link), 0);
        ck_assert_int_eq(atomic_file_replace_keep_meta(link, "x", 1), -ELOOP);
        struct stat st;
        ck_assert_int_eq(lstat(link, &st), 0);
        ck_assert(S_ISLNK(st.st_mode));
        assert_content(target, "target");

        ck_assert_int_eq(mkdir(sub, 0755), 0);
        ck_assert_int_eq(atomic_file_replace_keep_meta(sub, "x", 1), -EINVAL);
        assert_only(dir, 3, "after refusals");
}
END_TEST

START_TEST(test_failure_target_is_directory) {
        const char *sub = in_dir("conf.d");
        char inner[300];

        ck_assert_int_eq(mkdir(sub, 0755), 0);
        snprintf(inner, sizeof inner, "%s/keep", sub);
        write_plain(inner, "keep");

        /* The temp file is created and filled, then rename fails. */
        int r = atomic_file_replace(sub, "x", 1, 0644, (uid_t) -1, (gid_t) -1);
        ck_assert_int_eq(r, -EISDIR);
        assert_only(dir, 1, "temp left after rename failure");
        assert_content(inner, "keep");
}
END_TEST

START_TEST(test_failure_write_leaves_nothing) {
        const char *p = in_dir("big.conf");
        static char data[64 * 1024];

        write_plain(p, "old content\n");
        memset(data, 'x', sizeof data);

        /* A child with a small file size limit: write() fails mid-way with
         * EFBIG, after the temporary file exists. */
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                struct rlimit rl = { .rlim_cur = 1000, .rlim_max = 1000 };
                signal(SIGXFSZ, SIG_IGN);
                if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
                        _exit(100);
                int r = atomic_file_replace(p, data, sizeof data, 0644, (uid_t) -1, (gid_t) -1);
                _exit(r == -EFBIG ? 0 : 101);
        }
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
        assert_content(p, "old content\n");
        assert_only(dir, 1, "temp left after write failure");
}
END_TEST

START_TEST(test_failure_unwritable_dir) {
        const char *p = in_dir("ro/file.conf");
        char ro[300];

        snprintf(ro, sizeof ro, "%s/ro", dir);
        ck_assert_int_eq(chmod(dir, 0755), 0); /* let nobody reach ro/ */
        ck_assert_int_eq(mkdir(ro, 0755), 0);
        write_plain(p, "old");
        ck_assert_int_eq(chmod(ro, 0555), 0);

        /* Root ignores directory permissions, so the child becomes nobody. */
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
                        _exit(100);
                int r = atomic_file_replace(p, "new", 3, 0644, (uid_t) -1, (gid_t) -1);
                _exit(r == -EACCES ? 0 : 101);
        }
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
        ck_assert_int_eq(chmod(ro, 0755), 0);
        assert_content(p, "old");
        assert_only(ro, 1, "read-only dir");
}
END_TEST

START_TEST(test_idempotent_and_relative) {
        const char *p = in_dir("same.conf");
        for (int i = 0; i < 20; i++)
                ck_assert_int_eq(atomic_file_replace(p, "same\n", 5, 0644, (uid_t) -1, (gid_t) -1), 0);
        assert_content(p, "same\n");
        assert_only(dir, 1, "after repeated writes");

        /* A bare name works relative to the working directory. */
        ck_assert_int_eq(chdir(dir), 0);
        ck_assert_int_eq(atomic_file_replace("rel.conf", "rel", 3, 0644, (uid_t) -1, (gid_t) -1), 0);
        assert_content(in_dir("rel.conf"), "rel");
        assert_only(dir, 2, "after relative write");
        ck_assert_int_eq(chdir("/"), 0);

        ck_assert_int_eq(atomic_file_replace(in_dir(""), "x", 1, 0644, (uid_t) -1, (gid_t) -1),
                         -EINVAL);
        ck_assert_int_eq(atomic_file_replace(NULL, "x", 1, 0644, (uid_t) -1, (gid_t) -1), -EINVAL);
        ck_assert_int_eq(atomic_file_replace(p, NULL, 1, 0644, (uid_t) -1, (gid_t) -1), -EINVAL);
        ck_assert_int_eq(atomic_file_replace("/nonexistent-dir-xyz/f", "x", 1, 0644, (uid_t) -1,
                                             (gid_t) -1), -ENOENT);
}
END_TEST

START_TEST(test_read_all) {
        const char *p = in_dir("data.bin");
        const char bin[] = { 'a', '\0', 'b', '\n', '\0' };
        char *buf = (char *) 1;
        size_t len = 77;

        ck_assert_int_eq(atomic_file_replace(p, bin, sizeof bin, 0644, (uid_t) -1, (gid_t) -1), 0);
        ck_assert_int_eq(file_read_all(p, sizeof bin, &buf, &len), 0);
        ck_assert_uint_eq(len, sizeof bin);
        ck_assert_mem_eq(buf, bin, sizeof bin);
        ck_assert_int_eq(buf[len], '\0');
        free(buf);

        buf = (char *) 1, len = 77;
        ck_assert_int_eq(file_read_all(p, sizeof bin - 1, &buf, &len), -EFBIG);
        ck_assert_ptr_eq(buf, (char *) 1); /* untouched on failure */
        ck_assert_uint_eq(len, 77);
        ck_assert_int_eq(file_read_all(in_dir("nope"), 100, &buf, &len), -ENOENT);
        ck_assert_int_eq(file_read_all(dir, 100, &buf, &len), -EISDIR);

        ck_assert_int_eq(atomic_file_replace(p, NULL, 0, 0644, (uid_t) -1, (gid_t) -1), 0);
        ck_assert_int_eq(file_read_all(p, 0, &buf, &len), 0);
        ck_assert_uint_eq(len, 0);
        ck_assert_str_eq(buf, "");
        free(buf);

        /* Larger than the first guess, and a file whose st_size is 0. */
        static char big[100 * 1000 + 7];
        for (size_t i = 0; i < sizeof big; i++)
                big[i] = (char) ('a' + i % 26);
        ck_assert_int_eq(atomic_file_replace(p, big, sizeof big, 0644, (uid_t) -1, (gid_t) -1), 0);
        ck_assert_int_eq(file_read_all(p, SIZE_MAX, &buf, &len), 0);
        ck_assert_uint_eq(len, sizeof big);
        ck_assert_mem_eq(buf, big, sizeof big);
        free(buf);
        ck_assert_int_eq(file_read_all(p, sizeof big - 1, &buf, &len), -EFBIG);

        ck_assert_int_eq(file_read_all("/proc/self/status", 1 << 20, &buf, &len), 0);
        ck_assert_uint_gt(len, 0);
        ck_assert_ptr_nonnull(strstr(buf, "Pid:"));
        free(buf);
        ck_assert_int_eq(file_read_all("/proc/self/status", 10, &buf, &len), -EFBIG);
}
END_TEST

static Suite *atomic_file_suite(void) {
        Suite *s = suite_create("atomic_file");
        TCase *tc = tcase_create("atomic_file");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_create_and_replace);
        tcase_add_test(tc, test_owner_and_mode);
        tcase_add_test(tc, test_keep_meta);
        tcase_add_test(tc, test_keep_meta_refuses);
        tcase_add_test(tc, test_failure_target_is_directory);
        tcase_add_test(tc, test_failure_write_leaves_nothing);
        tcase_add_test(tc, test_failure_unwritable_dir);
        tcase_add_test(tc, test_idempotent_and_relative);
        tcase_add_test(tc, test_read_all);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(atomic_file_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
