/* repoint: golden files in tests/data/repoint (NAME edited by repointing
 * must give NAME.expected byte for byte), metadata and inode checks for
 * "kept" and "not touched", validation before any write, and rollback
 * when a later file cannot be written. The policy is a real agent config
 * loaded with agent_config_load. Ownership checks need root (as in CI);
 * without it they use the caller's own ids. */
#include "agent/repoint.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/atomic_file.h"
#include "common/conf.h"

static char dir[64];

static void setup(void) {
        snprintf(dir, sizeof dir, "/tmp/hitless-repoint-XXXXXX");
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
        static char path[8][256];
        static int next;
        char *p = path[next++ % 8];
        snprintf(p, sizeof path[0], "%s/%s", dir, name);
        return p;
}

static uid_t test_uid(void) {
        return geteuid() == 0 ? 1234 : geteuid();
}

static gid_t test_gid(void) {
        return geteuid() == 0 ? 1234 : getegid();
}

static char *read_path(const char *path, size_t *ret_len) {
        char *buf;
        size_t len;
        int r = file_read_all(path, 1 << 20, &buf, &len);
        ck_assert_msg(r == 0, "cannot read %s: %s", path, strerror(-r));
        if (ret_len)
                *ret_len = len;
        return buf;
}

static char *read_data(const char *name, size_t *ret_len) {
        const char *top = getenv("TOP") ? getenv("TOP") : ".";
        char path[4096];
        snprintf(path, sizeof path, "%s/tests/data/repoint/%s", top, name);
        ck_assert_msg(access(path, R_OK) == 0, "cannot open %s (run from the repo root or set TOP)",
                      path);
        return read_path(path, ret_len);
}

/* Writes text to dir/name with mode 0640 and the test owner, as a
 * service's config would be; returns the path. The mtime is set in the
 * past so that any rewrite shows (inode numbers get reused, and a rewrite
 * within one clock tick could keep the mtime). */
static const char *install_text(const char *name, const char *text) {
        const char *p = in_dir(name);
        const struct timespec past[2] = { { 946684800, 0 }, { 946684800, 0 } };
        ck_assert_int_eq(atomic_file_replace(p, text, strlen(text), 0640, test_uid(), test_gid()), 0);
        ck_assert_int_eq(utimensat(AT_FDCWD, p, past, AT_SYMLINK_NOFOLLOW), 0);
        return p;
}

static const char *install_data(const char *data_name, const char *name) {
        char *text = read_data(data_name, NULL);
        const char *p = install_text(name, text);
        free(text);
        return p;
}

static void assert_bytes(const char *path, const char *want, size_t want_len) {
        size_t len;
        char *got = read_path(path, &len);
        ck_assert_msg(len == want_len && memcmp(got, want, len) == 0,
                      "%s differs from what is expected:\n--- got\n%s\n--- want\n%.*s", path, got,
                      (int) want_len, want);
        free(got);
}

static void assert_text(const char *path, const char *want) {
        assert_bytes(path, want, strlen(want));
}

static void assert_golden(const char *path, const char *expected_name) {
        size_t len;
        char *want = read_data(expected_name, &len);
        assert_bytes(path, want, len);
        free(want);
}

static void assert_meta_kept(const char *path) {
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0640);
        ck_assert_uint_eq(st.st_uid, test_uid());
        ck_assert_uint_eq(st.st_gid, test_gid());
}

/* Same inode and mtime (set in the past by install_text): the file was
 * neither replaced nor written. */
static void assert_untouched(const char *path, const struct stat *before) {
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_ino, before->st_ino);
        ck_assert_int_eq(st.st_mtim.tv_sec, before->st_mtim.tv_sec);
        ck_assert_int_eq(st.st_mtim.tv_nsec, before->st_mtim.tv_nsec);
}

/* No ".NAME.XXXXXX" temporary file left in dir. */
static void assert_no_temp_files(void) {
        DIR *d = opendir(dir);
        struct dirent *de;
        ck_assert_ptr_nonnull(d);
        while ((de = readdir(d)))
                ck_assert_msg(de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
                                      strcmp(de->d_name, "..") == 0,
                              "temporary file left: %s", de->d_name);
        closedir(d);
}

/* Loads an agent config whose policy.endpoints list is the given text,
 * with FILE_A / FILE_B / FILE_C replaced by files in dir. */
static agent_config_t *load_policy(const char *endpoints) {
        char text[4096], expanded[3072];
        const char *from = endpoints;
        size_t out = 0;

        while (*from && out + 300 < sizeof expanded) {
                if (strncmp(from, "FILE_", 5) == 0 && from[5] >= 'A' && from[5] <= 'C') {
                        char name[8] = { (char) (from[5] - 'A' + 'a'), '.', 'c', 'o', 'n', 'f', '\0' };
                        out += (size_t) snprintf(expanded + out, sizeof expanded - out, "%s", in_dir(name));
                        from += 6;
                } else {
                        expanded[out++] = *from++;
                }
        }
        expanded[out] = '\0';
        snprintf(text, sizeof text,
                 "node_id = \"compute-1\";\n"
                 "policy = {\n"
                 "  units = [ \"contrail-vrouter-agent.service\" ];\n"
                 "  endpoints = (\n%s\n  );\n"
                 "};\n",
                 expanded);
        const char *p = in_dir("hitless-agent.conf");
        ck_assert_int_eq(atomic_file_replace(p, text, strlen(text), 0600, (uid_t) -1, (gid_t) -1), 0);

        conf_report_t report;
        agent_config_t *c = NULL;
        conf_report_init(&report, p);
        int r = agent_config_load(p, &c, &report);
        for (size_t i = 0; i < report.n_lines; i++)
                fprintf(stderr, "  %s\n", report.lines[i]);
        conf_report_free(&report);
        ck_assert_msg(r == 0, "policy did not load: %s", strerror(-r));
        ck_assert_int_eq(unlink(p), 0); /* leave only the service files in dir */
        return c;
}

/* The Contrail mapping, every kind into a.conf. */
static const char contrail_maps[] =
        "{ kind = \"controller\"; file = \"FILE_A\"; section = \"CONTROL-NODE\"; key = \"servers\"; },\n"
        "{ kind = \"collector\"; file = \"FILE_A\"; section = \"DEFAULT\"; key = \"collectors\"; },\n"
        "{ kind = \"dns\"; file = \"FILE_A\"; section = \"DNS\"; key = \"servers\"; }";

static char *const new_controllers[] = { "192.168.10.11:5269", "192.168.10.12:5269",
                                         "[fd00:10::13]:5269" };
static char *const new_collectors[] = { "192.168.10.11:8086", "192.168.10.12:8086" };
static char *const new_dns[] = { "192.168.10.11:53", "192.168.10.12:53" };

static const repoint_list_t contrail_lists[] = {
        { "controller", new_controllers, 3 },
        { "collector", new_collectors, 2 },
        { "dns", new_dns, 2 },
};

static int apply(const agent_config_t *c, const repoint_list_t *lists, size_t n, char *error,
                 size_t error_len) {
        int r = repoint_apply(c, lists, n, error, error_len);
        if (r < 0)
                fprintf(stderr, "  repoint_apply: %d: %s\n", r, error);
        return r;
}

/* ---- golden files -------------------------------------------------------- */

static void run_golden(const char *input, const char *expected) {
        agent_config_t *c = load_policy(contrail_maps);
        const char *a = install_data(input, "a.conf");
        char error[512];

        ck_assert_int_eq(apply(c, contrail_lists, 3, error, sizeof error), 1);
        assert_golden(a, expected);
        assert_meta_kept(a);
        assert_no_temp_files();
        agent_config_free(&c);
}

START_TEST(test_golden_contrail) {
        /* Comments, key order, other sections and keys, "k = v" spacing
         * and an inline comment all stay; a continued value becomes one
         * line. */
        run_golden("contrail-vrouter-agent.conf", "contrail-vrouter-agent.conf.expected");
}
END_TEST

START_TEST(test_golden_section_added) {
        run_golden("no-dns.conf", "no-dns.conf.expected");
}
END_TEST

START_TEST(test_idempotent) {
        agent_config_t *c = load_policy(contrail_maps);
        const char *a = install_data("contrail-vrouter-agent.conf", "a.conf");
        struct stat st;
        char error[512];

        ck_assert_int_eq(apply(c, contrail_lists, 3, error, sizeof error), 1);
        ck_assert_int_eq(stat(a, &st), 0);
        ck_assert_int_eq(apply(c, contrail_lists, 3, error, sizeof error), 0);
        assert_untouched(a, &st);
        assert_golden(a, "contrail-vrouter-agent.conf.expected");

        /* The lists in another order, or one alone, are still what is
         * there. */
        const repoint_list_t reordered[] = { contrail_lists[2], contrail_lists[0] };
        ck_assert_int_eq(apply(c, reordered, 2, error, sizeof error), 0);
        assert_untouched(a, &st);
        ck_assert_int_eq(apply(c, NULL, 0, error, sizeof error), 0);
        assert_untouched(a, &st);
        agent_config_free(&c);
}
END_TEST

START_TEST(test_only_given_kinds) {
        agent_config_t *c = load_policy(contrail_maps);
        const char *a = install_text("a.conf", "[CONTROL-NODE]\nservers=10.0.0.1:5269\n"
                                               "[DEFAULT]\ncollectors=10.0.0.1:8086\n");
        const repoint_list_t one[] = { contrail_lists[1] };
        char error[512];

        ck_assert_int_eq(apply(c, one, 1, error, sizeof error), 1);
        assert_text(a, "[CONTROL-NODE]\nservers=10.0.0.1:5269\n"
                       "[DEFAULT]\ncollectors=192.168.10.11:8086 192.168.10.12:8086\n");
        agent_config_free(&c);
}
END_TEST

/* ---- refused before any file is touched ---------------------------------- */

START_TEST(test_kind_not_in_policy) {
        agent_config_t *c = load_policy(contrail_maps);
        const char *a = install_data("contrail-vrouter-agent.conf", "a.conf");
        char *before_text = read_data("contrail-vrouter-agent.conf", NULL);
        static char *const analytics[] = { "192.168.10.11:8081" };
        const repoint_list_t lists[] = { contrail_lists[0], { "analytics", analytics, 1 } };
        struct stat st;
        char error[512];

        ck_assert_int_eq(stat(a, &st), 0);
        ck_assert_int_eq(repoint_apply(c, lists, 2, error, sizeof error), -EPERM);
        ck_assert_msg(strstr(error, "'analytics'") && strstr(error, "policy"), "error: %s", error);
        assert_untouched(a, &st);
        assert_text(a, before_text);
        assert_no_temp_files();
        free(before_text);
        agent_config_free(&c);
}
END_TEST

static const struct {
        const char *elements[3];
        size_t n;
        const char *named;     /* must appear in the error */
} bad_lists[] = {
        { { "192.168.10.11:8086", "192.168.10.12:0" }, 2, "element 2 '192.168.10.12:0'" },
        { { "192.168.10.11:8086", "192.168.10.12:65536" }, 2, "'192.168.10.12:65536'" },
        { { 0 }, 0, "empty endpoint list" },
        { { "[fd00::1::2]:8086" }, 1, "element 1 '[fd00::1::2]:8086'" },
        { { "[fd00::zz]:8086" }, 1, "'[fd00::zz]:8086'" },
        { { "192.168.10.11" }, 1, "'192.168.10.11'" },        /* port required */
        { { "10.0.0.300:8086" }, 1, "'10.0.0.300:8086'" },
        { { "" }, 1, "element 1 ''" },
        /* Two endpoints in one element is not a list. */
        { { "192.168.10.11:8086,192.168.10.12:8086" }, 1, "element 1 '192.168.10.11:8086," },
        { { "192.168.10.11:8086", "192.168.10.11:8086" }, 2, "duplicate of element 1" },
};

START_TEST(test_invalid_endpoint) {
        agent_config_t *c = load_policy(contrail_maps);
        const char *a = install_data("contrail-vrouter-agent.conf", "a.conf");
        char *before_text = read_data("contrail-vrouter-agent.conf", NULL);
        char *elements[3];
        struct stat st;
        char error[512];

        for (size_t i = 0; i < 3; i++)
                elements[i] = (char *) bad_lists[_i].elements[i];
        /* The valid controller list first: it must not be written either. */
        const repoint_list_t lists[] = { contrail_lists[0], { "collector", elements, bad_lists[_i].n } };
        ck_assert_int_eq(stat(a, &st), 0);
        ck_assert_int_eq(repoint_apply(c, lists, 2, error, sizeof error), -EINVAL);
        ck_assert_msg(strncmp(error, "collector: ", 11) == 0 && strstr(error, bad_lists[_i].named),
                      "case %d: error \"%s\" should name collector and %s", _i, error,
                      bad_lists[_i].named);
        assert_untouched(a, &st);
        assert_text(a, before_text);
        assert_no_temp_files();
        free(before_text);
        agent_config_free(&c);
}
END_TEST

START_TEST(test_kind_twice) {
        agent_config_t *c = load_policy(contrail_maps);
        install_data("contrail-vrouter-agent.conf", "a.conf");
        const repoint_list_t lists[] = { contrail_lists[0], contrail_lists[0] };
        char error[512];

        ck_assert_int_eq(repoint_apply(c, lists, 2, error, sizeof error), -EINVAL);
        ck_assert_msg(strstr(error, "controller"), "error: %s", error);
        agent_config_free(&c);
}
END_TEST

START_TEST(test_two_kinds_one_key_refused) {
        agent_config_t *c = load_policy(
                "{ kind = \"controller\"; file = \"FILE_A\"; section = \"DEFAULT\"; key = \"servers\"; },\n"
                "{ kind = \"dns\"; file = \"FILE_A\"; section = \"DEFAULT\"; key = \"SERVERS\"; }");
        const char *a = install_text("a.conf", "[DEFAULT]\nservers=10.0.0.1:1\n");
        const repoint_list_t lists[] = { contrail_lists[0], contrail_lists[2] };
        char error[512];

        ck_assert_int_eq(repoint_apply(c, lists, 2, error, sizeof error), -EINVAL);
        ck_assert_msg(strstr(error, "controller") && strstr(error, "dns"), "error: %s", error);
        assert_text(a, "[DEFAULT]\nservers=10.0.0.1:1\n");
        /* Either alone is fine. */
        ck_assert_int_eq(apply(c, lists, 1, error, sizeof error), 1);
        agent_config_free(&c);
}
END_TEST

/* ---- several files ------------------------------------------------------- */

static const char two_files_maps[] =
        "{ kind = \"controller\"; file = \"FILE_A\"; section = \"CONTROL-NODE\"; key = \"servers\"; },\n"
        "{ kind = \"collector\"; file = \"FILE_B\"; section = \"COLLECTOR\"; key = \"server_list\"; }";

static const char a_text[] = "[CONTROL-NODE]\n# the control nodes\nservers=10.0.0.1:5269\n";

START_TEST(test_two_files) {
        agent_config_t *c = load_policy(two_files_maps);
        const char *a = install_text("a.conf", a_text);
        const char *b = install_text("b.conf", "[COLLECTOR]\nserver_list=10.0.0.1:8086\n");
        char error[512];

        ck_assert_int_eq(apply(c, contrail_lists, 2, error, sizeof error), 2);
        assert_text(a, "[CONTROL-NODE]\n# the control nodes\n"
                       "servers=192.168.10.11:5269 192.168.10.12:5269 [fd00:10::13]:5269\n");
        assert_text(b, "[COLLECTOR]\nserver_list=192.168.10.11:8086 192.168.10.12:8086\n");
        assert_meta_kept(a);
        assert_meta_kept(b);

        /* One of two changed: 1. */
        static char *const one_collector[] = { "192.168.10.12:8086" };
        const repoint_list_t lists[] = { contrail_lists[0], { "collector", one_collector, 1 } };
        ck_assert_int_eq(apply(c, lists, 2, error, sizeof error), 1);
        assert_text(b, "[COLLECTOR]\nserver_list=192.168.10.12:8086\n");
        agent_config_free(&c);
}
END_TEST

START_TEST(test_second_file_missing) {
        agent_config_t *c = load_policy(two_files_maps);
        const char *a = install_text("a.conf", a_text);
        struct stat st;
        char error[512];

        ck_assert_int_eq(stat(a, &st), 0);
        ck_assert_int_eq(repoint_apply(c, contrail_lists, 2, error, sizeof error), -ENOENT);
        ck_assert_msg(strstr(error, in_dir("b.conf")), "error should name b.conf: %s", error);
        /* Every file is read before the first is written: a.conf was
         * never replaced. */
        assert_text(a, a_text);
        assert_untouched(a, &st);
        assert_meta_kept(a);
        assert_no_temp_files();
        agent_config_free(&c);
}
END_TEST

/* The write of b.conf fails (a file size limit lets a.conf's new text
 * through but not b.conf's), after a.conf was replaced: a.conf must get
 * its original bytes back, mode and owner included. */
START_TEST(test_rollback_after_write_failure) {
        agent_config_t *c = load_policy(two_files_maps);
        const char *a = install_text("a.conf", a_text);
        char b_text[8192];
        size_t used = (size_t) snprintf(b_text, sizeof b_text, "[COLLECTOR]\nserver_list=10.0.0.1:8086\n");
        while (used + 40 < sizeof b_text)
                used += (size_t) snprintf(b_text + used, sizeof b_text - used,
                                          "# padding to exceed the size limit\n");
        const char *b = install_text("b.conf", b_text);
        struct stat st_a, st_b;
        char error[512];

        ck_assert_int_eq(stat(a, &st_a), 0);
        ck_assert_int_eq(stat(b, &st_b), 0);

        struct rlimit old, small = { .rlim_cur = 1024, .rlim_max = RLIM_INFINITY };
        ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
        small.rlim_max = old.rlim_max;
        void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
        ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
        int r = repoint_apply(c, contrail_lists, 2, error, sizeof error);
        ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
        signal(SIGXFSZ, old_handler);

        ck_assert_int_eq(r, -EFBIG);
        ck_assert_msg(strstr(error, b) && !strstr(error, "restoring"), "error: %s", error);
        /* a.conf was replaced (its mtime is no longer install_text's),
         * then put back. */
        struct stat now;
        ck_assert_int_eq(stat(a, &now), 0);
        ck_assert_int_ne(now.st_mtim.tv_sec, st_a.st_mtim.tv_sec);
        assert_text(a, a_text);
        assert_meta_kept(a);
        assert_untouched(b, &st_b);
        assert_text(b, b_text);
        assert_no_temp_files();
        agent_config_free(&c);
}
END_TEST

START_TEST(test_symlink_refused) {
        agent_config_t *c = load_policy(two_files_maps);
        const char *a = install_text("a.conf", a_text);
        const char *target = install_text("real-b.conf", "[COLLECTOR]\nserver_list=10.0.0.1:8086\n");
        struct stat st;
        char error[512];

        ck_assert_int_eq(symlink(target, in_dir("b.conf")), 0);
        ck_assert_int_eq(stat(a, &st), 0);
        ck_assert_int_eq(repoint_apply(c, contrail_lists, 2, error, sizeof error), -ELOOP);
        ck_assert_msg(strstr(error, in_dir("b.conf")), "error: %s", error);
        assert_untouched(a, &st);
        assert_text(target, "[COLLECTOR]\nserver_list=10.0.0.1:8086\n");
        agent_config_free(&c);
}
END_TEST

/* ---- formats ------------------------------------------------------------- */

START_TEST(test_formats) {
        /* One kind into several keys, each in its own format: comma lists
         * (oslo's rabbit_hosts style), hosts only (IPv6 bare). */
        agent_config_t *c = load_policy(
                "{ kind = \"controller\"; file = \"FILE_C\"; section = \"DEFAULT\"; key = \"api_servers\";\n"
                "  separator = \",\"; },\n"
                "{ kind = \"controller\"; file = \"FILE_C\"; section = \"DEFAULT\"; key = \"api_hosts\";\n"
                "  port = false; },\n"
                "{ kind = \"collector\"; file = \"FILE_C\"; section = \"COLLECTOR\"; key = \"hosts\";\n"
                "  separator = \",\"; port = false; }");
        const char *p = install_text("c.conf", "[DEFAULT]\n"
                                               "api_servers = 10.0.0.1:8082\n"
                                               "api_hosts = 10.0.0.1\n"
                                               "other = kept\n"
                                               "[COLLECTOR]\n"
                                               "hosts = 10.0.0.1\n");
        char error[512];

        ck_assert_int_eq(apply(c, contrail_lists, 2, error, sizeof error), 1);
        assert_text(p, "[DEFAULT]\n"
                       "api_servers = 192.168.10.11:5269,192.168.10.12:5269,[fd00:10::13]:5269\n"
                       "api_hosts = 192.168.10.11 192.168.10.12 fd00:10::13\n"
                       "other = kept\n"
                       "[COLLECTOR]\n"
                       "hosts = 192.168.10.11,192.168.10.12\n");
        assert_meta_kept(p);
        ck_assert_int_eq(apply(c, contrail_lists, 2, error, sizeof error), 0);
        agent_config_free(&c);
}
END_TEST

/* ---- policy files -------------------------------------------------------- */

START_TEST(test_policy_files) {
        agent_config_t *c = load_policy(
                "{ kind = \"controller\"; file = \"FILE_A\"; section = \"CONTROL-NODE\"; key = \"servers\"; },\n"
                "{ kind = \"collector\"; file = \"FILE_B\"; section = \"COLLECTOR\"; key = \"server_list\"; },\n"
                "{ kind = \"dns\"; file = \"FILE_A\"; section = \"DNS\"; key = \"servers\"; },\n"
                "{ kind = \"collector\"; file = \"FILE_B\"; section = \"DEFAULT\"; key = \"collectors\"; }");
        const char *files[4] = { 0 };

        ck_assert_uint_eq(repoint_policy_files(c, files, 4), 2);
        ck_assert_str_eq(files[0], in_dir("a.conf"));
        ck_assert_str_eq(files[1], in_dir("b.conf"));
        ck_assert_ptr_null(files[2]);

        /* Never more than max. */
        const char *one[1] = { 0 };
        ck_assert_uint_eq(repoint_policy_files(c, one, 1), 1);
        ck_assert_str_eq(one[0], in_dir("a.conf"));
        ck_assert_uint_eq(repoint_policy_files(c, NULL, 0), 0);
        agent_config_free(&c);

        agent_config_t empty = { 0 };
        ck_assert_uint_eq(repoint_policy_files(&empty, files, 4), 0);
}
END_TEST

/* The packaged example policy, with its file moved into dir, repoints the
 * golden file as the hand-written policy above does. */
START_TEST(test_example_policy) {
        const char *top = getenv("TOP") ? getenv("TOP") : ".";
        const char *etc = "/etc/contrail/contrail-vrouter-agent.conf";
        char path[4096], text[8192];
        snprintf(path, sizeof path, "%s/packaging/examples/contrail-compute-agent.conf", top);
        char *example = read_path(path, NULL);
        const char *a = install_data("contrail-vrouter-agent.conf", "a.conf");
        size_t used = 0;

        for (const char *p = example, *hit; *p; p = hit + strlen(etc)) {
                hit = strstr(p, etc);
                if (!hit) {
                        used += (size_t) snprintf(text + used, sizeof text - used, "%s", p);
                        break;
                }
                used += (size_t) snprintf(text + used, sizeof text - used, "%.*s%s", (int) (hit - p), p, a);
        }
        ck_assert_uint_lt(used, sizeof text - 1);
        free(example);
        const char *conf = in_dir("example.conf");
        ck_assert_int_eq(atomic_file_replace(conf, text, used, 0600, (uid_t) -1, (gid_t) -1), 0);

        conf_report_t report;
        agent_config_t *c = NULL;
        conf_report_init(&report, conf);
        int r = agent_config_load(conf, &c, &report);
        for (size_t i = 0; i < report.n_lines; i++)
                fprintf(stderr, "  %s\n", report.lines[i]);
        conf_report_free(&report);
        ck_assert_int_eq(r, 0);
        ck_assert_int_eq(unlink(conf), 0);

        const char *files[4] = { 0 };
        ck_assert_uint_eq(repoint_policy_files(c, files, 4), 1);
        ck_assert_str_eq(files[0], a);
        char error[512];
        ck_assert_int_eq(apply(c, contrail_lists, 3, error, sizeof error), 1);
        assert_golden(a, "contrail-vrouter-agent.conf.expected");
        assert_meta_kept(a);
        agent_config_free(&c);
}
END_TEST

static Suite *repoint_suite(void) {
        Suite *s = suite_create("repoint");
        TCase *tc = tcase_create("repoint");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_golden_contrail);
        tcase_add_test(tc, test_golden_section_added);
        tcase_add_test(tc, test_idempotent);
        tcase_add_test(tc, test_only_given_kinds);
        tcase_add_test(tc, test_kind_not_in_policy);
        tcase_add_loop_test(tc, test_invalid_endpoint, 0, (int) (sizeof bad_lists / sizeof *bad_lists));
        tcase_add_test(tc, test_kind_twice);
        tcase_add_test(tc, test_two_kinds_one_key_refused);
        tcase_add_test(tc, test_two_files);
        tcase_add_test(tc, test_second_file_missing);
        tcase_add_test(tc, test_rollback_after_write_failure);
        tcase_add_test(tc, test_symlink_refused);
        tcase_add_test(tc, test_formats);
        tcase_add_test(tc, test_policy_files);
        tcase_add_test(tc, test_example_policy);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(repoint_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
