/* common/exec: running programs without a shell, with a fixed environment,
 * a bounded output tail and a deadline that takes the whole group down. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/exec.h"

#define ARGV(...) ((char *const[]) { __VA_ARGS__, NULL })

static exec_result_t s_run_ok(char *const argv[], const exec_options_t *opts) {
        exec_result_t res = { 0 };
        int r = exec_run(argv, opts, &res);
        ck_assert_msg(r == 0, "exec_run(%s) = %d (%s)", argv[0], r, strerror(-r));
        ck_assert_ptr_nonnull(res.output);
        ck_assert_uint_eq(strlen(res.output), res.output_len);
        return res;
}

START_TEST(test_exit_codes) {
        exec_result_t res = s_run_ok(ARGV("/bin/true"), NULL);
        ck_assert(exec_succeeded(&res));
        ck_assert_int_eq(res.exit_code, 0);
        exec_result_free(&res);

        res = s_run_ok(ARGV("false"), NULL);   /* found in the fixed PATH */
        ck_assert(!exec_succeeded(&res));
        ck_assert_int_eq(res.exit_code, 1);
        ck_assert(!res.signaled && !res.timed_out);
        exec_result_free(&res);

        res = s_run_ok(ARGV("sh", "-c", "exit 42"), NULL);
        ck_assert_int_eq(res.exit_code, 42);
        char buf[64];
        ck_assert_str_eq(exec_describe(&res, buf, sizeof buf), "exit 42");
        exec_result_free(&res);
}
END_TEST

START_TEST(test_killed_by_signal) {
        exec_result_t res = s_run_ok(ARGV("sh", "-c", "kill -9 $$"), NULL);
        ck_assert(res.signaled);
        ck_assert_int_eq(res.signal, SIGKILL);
        ck_assert(!res.timed_out);
        ck_assert(!exec_succeeded(&res));
        char buf[64];
        ck_assert_str_eq(exec_describe(&res, buf, sizeof buf), "killed by signal 9");
        exec_result_free(&res);
}
END_TEST

START_TEST(test_output_capture) {
        exec_result_t res = s_run_ok(ARGV("sh", "-c", "echo out; echo err >&2; printf end"), NULL);
        ck_assert_str_eq(res.output, "out\nerr\nend");
        ck_assert(!res.output_truncated);
        exec_result_free(&res);

        /* Exactly filling the buffer is not truncation. */
        exec_options_t opts = { .max_output = 6 };
        res = s_run_ok(ARGV("echo", "12345"), &opts);
        ck_assert_str_eq(res.output, "12345\n");
        ck_assert(!res.output_truncated);
        exec_result_free(&res);
}
END_TEST

/* seq 1 200000 writes ~1.3 MB; the kept tail must be byte-exact. A cap
 * below the read size exercises the "chunk larger than the ring" path, one
 * above it (and odd) makes every read wrap at a different offset. */
static const size_t s_tail_caps[] = { 4096, 99991 };

START_TEST(test_tail_truncation) {
        size_t cap = s_tail_caps[_i];
        exec_options_t opts = { .max_output = cap };
        exec_result_t res = s_run_ok(ARGV("seq", "1", "200000"), &opts);
        ck_assert(exec_succeeded(&res));
        ck_assert(res.output_truncated);
        ck_assert_uint_eq(res.output_len, cap);

        size_t total = 0, size = 2 * 1024 * 1024;
        char *expect = malloc(size);
        ck_assert_ptr_nonnull(expect);
        for (int i = 1; i <= 200000; i++)
                total += (size_t) snprintf(expect + total, size - total, "%d\n", i);
        ck_assert_uint_gt(total, 1000000);
        ck_assert_mem_eq(res.output, expect + total - cap, cap);
        free(expect);
        exec_result_free(&res);
}
END_TEST

START_TEST(test_env_is_fixed) {
        ck_assert_int_eq(setenv("HITLESS_EXEC_TEST_LEAK", "secret", 1), 0);
        exec_options_t opts = { .extra_env = ARGV("HITLESS_EXTRA=yes") };
        exec_result_t res = s_run_ok(ARGV("env"), &opts);
        ck_assert_ptr_nonnull(strstr(res.output, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"));
        ck_assert_ptr_nonnull(strstr(res.output, "DEBIAN_FRONTEND=noninteractive\n"));
        ck_assert_ptr_nonnull(strstr(res.output, "LANG=C.UTF-8\n"));
        ck_assert_ptr_nonnull(strstr(res.output, "HITLESS_EXTRA=yes\n"));
        ck_assert_ptr_null(strstr(res.output, "HITLESS_EXEC_TEST_LEAK"));
        size_t lines = 0;
        for (const char *p = res.output; *p; p++)
                lines += *p == '\n';
        ck_assert_uint_eq(lines, 4);
        exec_result_free(&res);

        /* An extra replaces the fixed value rather than duplicating it. */
        opts.extra_env = ARGV("LANG=C");
        res = s_run_ok(ARGV("env"), &opts);
        ck_assert_ptr_nonnull(strstr(res.output, "LANG=C\n"));
        ck_assert_ptr_null(strstr(res.output, "C.UTF-8"));
        exec_result_free(&res);

        exec_result_t untouched = { 0 };
        opts.extra_env = ARGV("NOEQUALS");
        ck_assert_int_eq(exec_run(ARGV("env"), &opts, &untouched), -EINVAL);
}
END_TEST

START_TEST(test_no_shell) {
        exec_result_t res = s_run_ok(ARGV("printf", "%s|", "$(echo x)", "a b", "*", "`id`"), NULL);
        ck_assert_str_eq(res.output, "$(echo x)|a b|*|`id`|");
        exec_result_free(&res);
}
END_TEST

START_TEST(test_missing_program) {
        exec_result_t res = { 0 };
        ck_assert_int_eq(exec_run(ARGV("hitless-no-such-program"), NULL, &res), -ENOENT);
        ck_assert_int_eq(exec_run(ARGV("/nonexistent/hitless-prog"), NULL, &res), -ENOENT);
        ck_assert_int_eq(exec_run(ARGV(""), NULL, &res), -ENOENT);
        ck_assert_int_eq(exec_run(ARGV("./relative"), NULL, &res), -EINVAL);
        /* Exists but is not executable: execve's error comes back from the
         * child through the error pipe. */
        ck_assert_int_eq(exec_run(ARGV("/etc/passwd"), NULL, &res), -EACCES);
        /* chdir failure in the child is reported the same way. */
        exec_options_t opts = { .cwd = "/nonexistent-dir" };
        ck_assert_int_eq(exec_run(ARGV("true"), &opts, &res), -ENOENT);
        ck_assert_ptr_null(res.output);
}
END_TEST

START_TEST(test_stdin_is_devnull_and_cwd) {
        exec_options_t opts = { .timeout_ms = 10000 };
        exec_result_t res = s_run_ok(ARGV("cat"), &opts);
        ck_assert(exec_succeeded(&res));
        ck_assert_uint_eq(res.output_len, 0);
        exec_result_free(&res);

        res = s_run_ok(ARGV("pwd"), NULL);
        ck_assert_str_eq(res.output, "/\n");
        exec_result_free(&res);

        opts.cwd = "/usr";
        res = s_run_ok(ARGV("pwd"), &opts);
        ck_assert_str_eq(res.output, "/usr\n");
        exec_result_free(&res);
}
END_TEST

START_TEST(test_signals_reset) {
        /* As the daemons do: block SIGTERM for a signalfd, ignore SIGPIPE. */
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        ck_assert_int_eq(sigprocmask(SIG_BLOCK, &mask, NULL), 0);
        signal(SIGPIPE, SIG_IGN);

        exec_result_t res = s_run_ok(ARGV("grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"), NULL);
        unsigned long long blocked = 0, ignored = 0;
        ck_assert_int_eq(sscanf(res.output, "SigBlk:\t%llx\nSigIgn:\t%llx", &blocked, &ignored), 2);
        /* Signals 1-31 only: glibc reserves real-time signals 32 and 33
         * (sigaction refuses them), so a parent that inherited them
         * ignored passes that on whatever exec does. */
        ck_assert_uint_eq(blocked & 0x7fffffffULL, 0);
        ck_assert_uint_eq(ignored & 0x7fffffffULL, 0);
        exec_result_free(&res);
}
END_TEST

START_TEST(test_fds_not_inherited) {
        int fd = open("/dev/null", O_RDONLY);   /* deliberately no O_CLOEXEC */
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(dup2(fd, 57), 57);

        exec_result_t res = s_run_ok(ARGV("test", "-e", "/proc/self/fd/57"), NULL);
        ck_assert_int_eq(res.exit_code, 1);
        exec_result_free(&res);
        /* The probe itself can see an open descriptor. */
        res = s_run_ok(ARGV("test", "-e", "/proc/self/fd/2"), NULL);
        ck_assert_int_eq(res.exit_code, 0);
        exec_result_free(&res);
        close(57);
        close(fd);
}
END_TEST

/* The grandchild's pid, which the child printed first. */
static pid_t s_grandchild_pid(const exec_result_t *res) {
        char *end;
        long pid = strtol(res->output, &end, 10);
        ck_assert_msg(pid > 1 && *end == '\n', "no pid in output \"%s\"", res->output);
        return (pid_t) pid;
}

START_TEST(test_timeout_kills_group) {
        /* Orphans are reparented to us, so we can prove the grandchild died
         * (a zombie would still answer kill(pid, 0)). */
        ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);

        exec_options_t opts = { .timeout_ms = 300 };
        exec_result_t res = s_run_ok(ARGV("sh", "-c", "sleep 60 & echo $!; wait"), &opts);
        ck_assert(res.timed_out);
        ck_assert(!exec_succeeded(&res));
        ck_assert(res.signaled);
        ck_assert_int_eq(res.signal, SIGTERM);
        ck_assert_int_ge(res.duration_ms, 300);
        ck_assert_int_lt(res.duration_ms, 20000);
        char buf[64];
        ck_assert_ptr_nonnull(strstr(exec_describe(&res, buf, sizeof buf), "timed out after"));

        pid_t grandchild = s_grandchild_pid(&res);
        int status;
        ck_assert_int_eq(waitpid(grandchild, &status, 0), grandchild);
        ck_assert(WIFSIGNALED(status));
        ck_assert_int_eq(WTERMSIG(status), SIGTERM);
        exec_result_free(&res);
}
END_TEST

START_TEST(test_timeout_escalates_to_sigkill) {
        ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);

        /* Both shell and sleep ignore SIGTERM: only SIGKILL ends them. */
        exec_options_t opts = { .timeout_ms = 200 };
        exec_result_t res = s_run_ok(ARGV("sh", "-c", "trap '' TERM; sleep 60 & echo $!; wait"), &opts);
        ck_assert(res.timed_out);
        ck_assert(res.signaled);
        ck_assert_int_eq(res.signal, SIGKILL);
        /* The grace period was honoured before SIGKILL. */
        ck_assert_int_ge(res.duration_ms, 2000);
        ck_assert_int_lt(res.duration_ms, 30000);

        pid_t grandchild = s_grandchild_pid(&res);
        int status;
        ck_assert_int_eq(waitpid(grandchild, &status, 0), grandchild);
        ck_assert(WIFSIGNALED(status));
        ck_assert_int_eq(WTERMSIG(status), SIGKILL);
        exec_result_free(&res);
}
END_TEST

START_TEST(test_no_timeout_when_fast) {
        exec_options_t opts = { .timeout_ms = 20000 };
        exec_result_t res = s_run_ok(ARGV("echo", "quick"), &opts);
        ck_assert(exec_succeeded(&res));
        ck_assert(!res.timed_out);
        ck_assert_str_eq(res.output, "quick\n");
        exec_result_free(&res);
}
END_TEST


/* Runs `sh -c SCRIPT` through exec_run in a child "agent" process, kills
 * that process with SIGKILL while the script runs, and says whether the
 * script got to its end (it writes MARKER last). */
static bool s_survives_parent_death(bool output_to_file, const char *marker) {
        char script[512];
        snprintf(script, sizeof script, "sleep 0.5; echo still writing; echo ok > '%s'", marker);
        unlink(marker);
        pid_t agent = fork();
        ck_assert_int_ge(agent, 0);
        if (agent == 0) {
                exec_options_t o = { .timeout_ms = 10000, .output_to_file = output_to_file };
                exec_result_t res;
                char *argv[] = { "sh", "-c", script, NULL };
                (void) exec_run(argv, &o, &res);
                _exit(0);
        }
        usleep(200 * 1000);               /* the script is sleeping now */
        kill(agent, SIGKILL);
        waitpid(agent, NULL, 0);
        for (int i = 0; i < 40; i++) {    /* up to 4 s for the orphan */
                if (access(marker, F_OK) == 0)
                        return true;
                usleep(100 * 1000);
        }
        return false;
}

START_TEST(test_output_file_survives_parent_death) {
        char marker[] = "/tmp/hitless-exec-marker.XXXXXX";
        int fd = mkstemp(marker);
        ck_assert_int_ge(fd, 0);
        close(fd);
        /* Through a pipe, the orphan's next write kills it (SIGPIPE)... */
        ck_assert(!s_survives_parent_death(false, marker));
        /* ...through a file, it runs to its end. */
        ck_assert(s_survives_parent_death(true, marker));
        unlink(marker);
}
END_TEST

START_TEST(test_output_file_captures_tail) {
        exec_options_t o = { .timeout_ms = 10000, .max_output = 64, .output_to_file = true };
        exec_result_t res;
        char *argv[] = { "sh", "-c", "for i in $(seq 1000); do echo line$i; done; echo err >&2; exit 3", NULL };
        ck_assert_int_eq(exec_run(argv, &o, &res), 0);
        ck_assert_int_eq(res.exit_code, 3);
        ck_assert(res.output_truncated);
        ck_assert_uint_le(res.output_len, 64);
        ck_assert_ptr_nonnull(strstr(res.output, "line1000\nerr\n"));
        exec_result_free(&res);
}
END_TEST

static Suite *exec_suite(void) {
        Suite *s = suite_create("exec");
        TCase *tc = tcase_create("core");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_exit_codes);
        tcase_add_test(tc, test_output_file_survives_parent_death);
        tcase_add_test(tc, test_output_file_captures_tail);
        tcase_add_test(tc, test_killed_by_signal);
        tcase_add_test(tc, test_output_capture);
        tcase_add_loop_test(tc, test_tail_truncation, 0, 2);
        tcase_add_test(tc, test_env_is_fixed);
        tcase_add_test(tc, test_no_shell);
        tcase_add_test(tc, test_missing_program);
        tcase_add_test(tc, test_stdin_is_devnull_and_cwd);
        tcase_add_test(tc, test_signals_reset);
        tcase_add_test(tc, test_fds_not_inherited);
        tcase_add_test(tc, test_timeout_kills_group);
        tcase_add_test(tc, test_timeout_escalates_to_sigkill);
        tcase_add_test(tc, test_no_timeout_when_fast);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(exec_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
