/* agent/journal: the node's durable record of commands and snapshots. Every
 * test works in its own temporary directory on a real database file. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/journal.h"

static char tmpdir[256];
static char dbpath[300];

static void setup(void) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/test_journal.XXXXXX", base && *base ? base : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        snprintf(dbpath, sizeof dbpath, "%s/journal.db", tmpdir);
}

static void teardown(void) {
        static const char *suffixes[] = { "", "-wal", "-shm", "-journal" };
        char p[400];

        for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
                snprintf(p, sizeof p, "%s%s", dbpath, suffixes[i]);
                unlink(p);
        }
        rmdir(tmpdir);
}

static journal_t *open_ok(void) {
        journal_t *j = NULL;
        int r = journal_open(dbpath, &j);
        ck_assert_msg(r == 0, "journal_open: %s", strerror(-r));
        ck_assert_ptr_nonnull(j);
        return j;
}

static mode_t file_mode(const char *path) {
        struct stat st;
        ck_assert_msg(stat(path, &st) == 0, "stat %s: %s", path, strerror(errno));
        return st.st_mode & 07777;
}

/* A query on a separate, raw connection: what is really in the file. */
static int64_t raw_query_int(const char *sql) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        int64_t v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return v;
}

/* A request blob with NULs and high bytes, distinct per n. */
static const uint8_t req_a[] = { 0x0a, 0x00, 0x05, 0xff, 0x00, 0x80, 'r', 'e', 'q' };
static const uint8_t result_bin[] = { 0x08, 0x03, 0x00, 0x00, 0x12, 0x04, 0xde, 0xad, 0x00, 0xef, 0x00 };

/* ---- collectors ---- */

typedef struct {
        char id[32][64];
        journal_state_t state[32];
        size_t request_len[32];
        bool has_result[32];
        int n;
        int stop_after; /* return 9 after this many; 0 = never */
} cmd_list_t;

static int collect_cmd(const journal_command_t *c, void *ud) {
        cmd_list_t *l = ud;
        ck_assert_int_lt(l->n, 32);
        ck_assert_ptr_nonnull(c->request);
        snprintf(l->id[l->n], sizeof l->id[0], "%s", c->id);
        l->state[l->n] = c->state;
        l->request_len[l->n] = c->request_len;
        l->has_result[l->n] = c->result != NULL;
        l->n++;
        return l->stop_after && l->n >= l->stop_after ? 9 : 0;
}

typedef struct {
        char name[8][64];
        char value[8][64];
        int n;
} pair_list_t;

static int collect_pair(const char *name, const char *value, void *ud) {
        pair_list_t *l = ud;
        ck_assert_int_lt(l->n, 8);
        snprintf(l->name[l->n], sizeof l->name[0], "%s", name);
        snprintf(l->value[l->n], sizeof l->value[0], "%s", value);
        l->n++;
        return 0;
}

typedef struct {
        char path[8][128];
        bool exists[8];
        bool content_null[8];
        uint8_t content[8][64];
        size_t len[8];
        uint32_t mode[8], uid[8], gid[8];
        int n;
} file_list_t;

static int collect_file(const char *path, bool exists, const void *content, size_t len, uint32_t mode,
                        uint32_t uid, uint32_t gid, void *ud) {
        file_list_t *l = ud;
        ck_assert_int_lt(l->n, 8);
        ck_assert_uint_le(len, sizeof l->content[0]);
        snprintf(l->path[l->n], sizeof l->path[0], "%s", path);
        l->exists[l->n] = exists;
        l->content_null[l->n] = content == NULL;
        if (len)
                memcpy(l->content[l->n], content, len);
        l->len[l->n] = len;
        l->mode[l->n] = mode;
        l->uid[l->n] = uid;
        l->gid[l->n] = gid;
        l->n++;
        return 0;
}

static int count_unfinished(journal_t *j) {
        cmd_list_t l = { 0 };
        ck_assert_int_eq(journal_commands_unfinished(j, collect_cmd, &l), 0);
        return l.n;
}

/* ---- open ---- */

START_TEST(test_open_creates_private_file) {
        mode_t old = umask(0);  /* SQLite alone would create 0644 */
        journal_t *j = open_ok();
        umask(old);
        ck_assert_int_eq(journal_command_begin(j, "c1", "check", req_a, sizeof req_a, NULL, NULL), 0);

        char p[400];
        ck_assert_uint_eq(file_mode(dbpath), 0600);
        snprintf(p, sizeof p, "%s-wal", dbpath);
        ck_assert_uint_eq(file_mode(p), 0600);
        snprintf(p, sizeof p, "%s-shm", dbpath);
        ck_assert_uint_eq(file_mode(p), 0600);
        ck_assert_int_eq(raw_query_int("PRAGMA user_version"), 3);
        journal_close(&j);
        ck_assert_ptr_null(j);
        journal_close(&j); /* NULL is fine */
        journal_close(NULL);

        /* WAL mode is persistent: a fresh connection sees it. */
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
        ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        ck_assert_str_eq((const char *) sqlite3_column_text(st, 0), "wal");
        sqlite3_finalize(st);
        sqlite3_close(db);
}
END_TEST

START_TEST(test_open_bad_path) {
        char p[400];
        journal_t *j = (journal_t *) 0x1;

        snprintf(p, sizeof p, "%s/no/such/dir/journal.db", tmpdir);
        ck_assert_int_eq(journal_open(p, &j), -ENOENT);
        ck_assert_ptr_eq(j, (journal_t *) 0x1); /* untouched on failure */
        ck_assert_int_eq(journal_open("", &j), -EINVAL);
        ck_assert_int_eq(journal_open(NULL, &j), -EINVAL);
        ck_assert_ptr_eq(j, (journal_t *) 0x1);
}
END_TEST

START_TEST(test_open_random_bytes) {
        uint8_t junk[16384];
        int fd = open("/dev/urandom", O_RDONLY);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(read(fd, junk, sizeof junk), (ssize_t) sizeof junk);
        close(fd);
        fd = open(dbpath, O_WRONLY | O_CREAT | O_EXCL, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, junk, sizeof junk), (ssize_t) sizeof junk);
        close(fd);

        journal_t *j = (journal_t *) 0x1;
        int r = journal_open(dbpath, &j);
        ck_assert_msg(r == -EIO || r == -EINVAL, "journal_open on junk returned %d", r);
        ck_assert_ptr_eq(j, (journal_t *) 0x1);
}
END_TEST

START_TEST(test_open_corrupt_schema_page) {
        journal_t *j = open_ok();
        ck_assert_int_eq(journal_command_begin(j, "c1", "check", req_a, sizeof req_a, NULL, NULL), 0);
        journal_close(&j); /* checkpoints the WAL into the main file */

        /* Keep the valid 100-byte header, scramble the rest of page 1 (the
         * schema): SQLite sees a database, but a broken one. */
        uint8_t junk[3996];
        for (size_t i = 0; i < sizeof junk; i++)
                junk[i] = (uint8_t) (i * 131 + 7);
        int fd = open(dbpath, O_WRONLY);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(pwrite(fd, junk, sizeof junk, 100), (ssize_t) sizeof junk);
        close(fd);

        int r = journal_open(dbpath, &j);
        ck_assert_msg(r == -EIO || r == -EINVAL, "journal_open on corrupt db returned %d", r);
        ck_assert_ptr_null(j);
}
END_TEST

START_TEST(test_open_newer_schema_refused) {
        sqlite3 *db = NULL;
        ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
        ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 42", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);

        journal_t *j = NULL;
        ck_assert_int_eq(journal_open(dbpath, &j), -EPROTONOSUPPORT);
        ck_assert_ptr_null(j);
        ck_assert_int_eq(raw_query_int("PRAGMA user_version"), 42); /* left alone */
}
END_TEST

START_TEST(test_state_names) {
        ck_assert_str_eq(journal_state_name(JCMD_ACCEPTED), "accepted");
        ck_assert_str_eq(journal_state_name(JCMD_RUNNING), "running");
        ck_assert_str_eq(journal_state_name(JCMD_SUCCEEDED), "succeeded");
        ck_assert_str_eq(journal_state_name(JCMD_FAILED), "failed");
        ck_assert_str_eq(journal_state_name(JCMD_INTERRUPTED), "interrupted");
        ck_assert_str_eq(journal_state_name(JCMD_REFUSED), "refused");
        ck_assert_str_eq(journal_state_name((journal_state_t) 0), "invalid");
        ck_assert_str_eq(journal_state_name((journal_state_t) 7), "invalid");
}
END_TEST

/* ---- commands ---- */

START_TEST(test_command_lifecycle) {
        journal_t *j = open_ok();
        journal_command_t c;

        ck_assert_int_eq(journal_command_begin(j, "cmd-1", "install", req_a, sizeof req_a, "snap-1-1", NULL), 0);
        ck_assert_int_eq(journal_command_get(j, "cmd-1", &c), 0);
        ck_assert_str_eq(c.id, "cmd-1");
        ck_assert_str_eq(c.kind, "install");
        ck_assert_int_eq(c.state, JCMD_ACCEPTED);
        ck_assert_str_eq(c.snapshot_id, "snap-1-1");
        ck_assert_uint_eq(c.request_len, sizeof req_a);
        ck_assert_mem_eq(c.request, req_a, sizeof req_a);
        ck_assert_ptr_null(c.result);
        ck_assert_uint_eq(c.result_len, 0);
        ck_assert_int_gt(c.created, 1600000000);
        ck_assert_int_eq(c.updated, c.created);
        int64_t created = c.created;
        journal_command_clear(&c);
        ck_assert_ptr_null(c.request);
        ck_assert_str_eq(c.id, "");

        ck_assert_int_eq(journal_command_set_state(j, "cmd-1", JCMD_RUNNING), 0);
        ck_assert_int_eq(journal_command_get(j, "cmd-1", &c), 0);
        ck_assert_int_eq(c.state, JCMD_RUNNING);
        ck_assert_ptr_null(c.result);
        journal_command_clear(&c);

        ck_assert_int_eq(journal_command_finish(j, "cmd-1", JCMD_SUCCEEDED, result_bin, sizeof result_bin),
                         0);
        ck_assert_int_eq(journal_command_get(j, "cmd-1", &c), 0);
        ck_assert_int_eq(c.state, JCMD_SUCCEEDED);
        ck_assert_ptr_nonnull(c.result);
        ck_assert_uint_eq(c.result_len, sizeof result_bin);
        ck_assert_mem_eq(c.result, result_bin, sizeof result_bin);
        ck_assert_mem_eq(c.request, req_a, sizeof req_a);
        ck_assert_int_eq(c.created, created);
        ck_assert_int_ge(c.updated, created);
        journal_command_clear(&c);
        journal_command_clear(NULL);

        /* The recorded result never changes once final. */
        ck_assert_int_eq(journal_command_finish(j, "cmd-1", JCMD_FAILED, req_a, sizeof req_a), -EALREADY);
        ck_assert_int_eq(journal_command_set_state(j, "cmd-1", JCMD_RUNNING), -EALREADY);
        ck_assert_int_eq(journal_command_get(j, "cmd-1", &c), 0);
        ck_assert_int_eq(c.state, JCMD_SUCCEEDED);
        ck_assert_mem_eq(c.result, result_bin, sizeof result_bin);
        journal_command_clear(&c);
        journal_close(&j);
}
END_TEST

START_TEST(test_command_empty_blobs) {
        journal_t *j = open_ok();
        journal_command_t c;

        /* An empty request and an empty (all-defaults) result: finished is
         * still told apart from unfinished by result != NULL. */
        ck_assert_int_eq(journal_command_begin(j, "e", "check", NULL, 0, "", NULL), 0);
        ck_assert_int_eq(journal_command_get(j, "e", &c), 0);
        ck_assert_ptr_nonnull(c.request);
        ck_assert_uint_eq(c.request_len, 0);
        ck_assert_ptr_null(c.result);
        ck_assert_str_eq(c.snapshot_id, "");
        journal_command_clear(&c);
        ck_assert_int_eq(journal_command_finish(j, "e", JCMD_REFUSED, NULL, 0), 0);
        ck_assert_int_eq(journal_command_get(j, "e", &c), 0);
        ck_assert_int_eq(c.state, JCMD_REFUSED);
        ck_assert_ptr_nonnull(c.result);
        ck_assert_uint_eq(c.result_len, 0);
        journal_command_clear(&c);
        journal_close(&j);
}
END_TEST

START_TEST(test_command_duplicate_and_unknown) {
        static const uint8_t other[] = { 1, 2, 3 };
        journal_t *j = open_ok();
        journal_command_t c;

        ck_assert_int_eq(journal_command_begin(j, "dup", "drain", req_a, sizeof req_a, NULL, NULL), 0);
        ck_assert_int_eq(journal_command_set_state(j, "dup", JCMD_RUNNING), 0);
        ck_assert_int_eq(journal_command_begin(j, "dup", "install", other, sizeof other, NULL, NULL), -EEXIST);
        ck_assert_str_ne(journal_last_error(j), "");
        /* The first record is untouched by the refused duplicate. */
        ck_assert_int_eq(journal_command_get(j, "dup", &c), 0);
        ck_assert_str_eq(c.kind, "drain");
        ck_assert_int_eq(c.state, JCMD_RUNNING);
        ck_assert_mem_eq(c.request, req_a, sizeof req_a);
        journal_command_clear(&c);

        memset(&c, 0x5a, sizeof c);
        ck_assert_int_eq(journal_command_get(j, "nope", &c), -ENOENT);
        ck_assert_int_eq(c.state, (journal_state_t) 0x5a5a5a5a); /* untouched */
        ck_assert_int_eq(journal_command_set_state(j, "nope", JCMD_RUNNING), -ENOENT);
        ck_assert_int_eq(journal_command_finish(j, "nope", JCMD_FAILED, other, sizeof other), -ENOENT);
        ck_assert_int_eq(journal_command_get(j, "nope", &(journal_command_t) { 0 }), -ENOENT);
        journal_close(&j);
}
END_TEST

START_TEST(test_command_bad_input) {
        char long_id[65];
        memset(long_id, 'x', 64);
        long_id[64] = '\0';
        journal_t *j = open_ok();

        ck_assert_int_eq(journal_command_begin(j, "", "check", NULL, 0, NULL, NULL), -EINVAL);
        ck_assert_int_eq(journal_command_begin(j, NULL, "check", NULL, 0, NULL, NULL), -EINVAL);
        ck_assert_int_eq(journal_command_begin(j, long_id, "check", NULL, 0, NULL, NULL), -EINVAL);
        ck_assert_int_eq(journal_command_begin(j, "a", "", NULL, 0, NULL, NULL), -EINVAL);
        ck_assert_int_eq(journal_command_begin(j, "a", "sixteen-letters!", NULL, 0, NULL, NULL), -EINVAL);
        ck_assert_int_eq(journal_command_begin(j, "a", "check", NULL, 5, NULL, NULL), -EINVAL);
        ck_assert_int_eq(journal_command_begin(j, "a", "check", NULL, 0, long_id, NULL), -EINVAL);
        ck_assert_int_eq(count_unfinished(j), 0); /* none of them was recorded */

        long_id[63] = '\0'; /* 63 bytes: the longest id that fits */
        ck_assert_int_eq(journal_command_begin(j, long_id, "fifteen-letters", NULL, 0, NULL, NULL), 0);
        ck_assert_int_eq(journal_command_set_state(j, long_id, JCMD_SUCCEEDED), -EINVAL);
        ck_assert_int_eq(journal_command_set_state(j, long_id, (journal_state_t) 9), -EINVAL);
        ck_assert_int_eq(journal_command_finish(j, long_id, JCMD_RUNNING, NULL, 0), -EINVAL);
        ck_assert_int_eq(journal_command_finish(j, long_id, (journal_state_t) 0, NULL, 0), -EINVAL);
        ck_assert_int_eq(journal_command_finish(j, long_id, JCMD_FAILED, NULL, 3), -EINVAL);
        ck_assert_int_eq(journal_commands_unfinished(j, NULL, NULL), -EINVAL);
        ck_assert_int_eq(journal_commands_recent(j, 5, NULL, NULL), -EINVAL);

        journal_command_t c;
        ck_assert_int_eq(journal_command_get(j, long_id, &c), 0);
        ck_assert_str_eq(c.id, long_id);
        ck_assert_str_eq(c.kind, "fifteen-letters");
        ck_assert_int_eq(c.state, JCMD_ACCEPTED);
        journal_command_clear(&c);
        journal_close(&j);
}
END_TEST

START_TEST(test_commands_unfinished_oldest_first) {
        journal_t *j = open_ok();
        /* Names in reverse alphabetical order, so an ORDER BY id would fail. */
        const char *ids[] = { "z-first", "y-second", "x-third", "w-fourth", "v-fifth", "u-sixth" };
        for (int i = 0; i < 6; i++)
                ck_assert_int_eq(journal_command_begin(j, ids[i], "install", req_a, (size_t) i, NULL, NULL), 0);
        ck_assert_int_eq(journal_command_set_state(j, "y-second", JCMD_RUNNING), 0);
        ck_assert_int_eq(journal_command_finish(j, "x-third", JCMD_SUCCEEDED, result_bin, 2), 0);
        ck_assert_int_eq(journal_command_finish(j, "w-fourth", JCMD_FAILED, result_bin, 2), 0);
        ck_assert_int_eq(journal_command_set_state(j, "v-fifth", JCMD_RUNNING), 0);
        ck_assert_int_eq(journal_command_finish(j, "v-fifth", JCMD_INTERRUPTED, result_bin, 2), 0);
        ck_assert_int_eq(journal_command_finish(j, "u-sixth", JCMD_REFUSED, result_bin, 2), 0);

        cmd_list_t l = { 0 };
        ck_assert_int_eq(journal_commands_unfinished(j, collect_cmd, &l), 0);
        ck_assert_int_eq(l.n, 2);
        ck_assert_str_eq(l.id[0], "z-first");
        ck_assert_int_eq(l.state[0], JCMD_ACCEPTED);
        ck_assert_uint_eq(l.request_len[0], 0);
        ck_assert(!l.has_result[0]);
        ck_assert_str_eq(l.id[1], "y-second");
        ck_assert_int_eq(l.state[1], JCMD_RUNNING);
        ck_assert_uint_eq(l.request_len[1], 1);

        /* A non-zero return stops the walk and comes back. */
        cmd_list_t stop = { .stop_after = 1 };
        ck_assert_int_eq(journal_commands_unfinished(j, collect_cmd, &stop), 9);
        ck_assert_int_eq(stop.n, 1);
        journal_close(&j);
}
END_TEST

/* Recovery: finish every unfinished command from inside the walk. */
static int interrupt_cmd(const journal_command_t *c, void *ud) {
        journal_t *j = ud;
        int r = journal_command_finish(j, c->id, JCMD_INTERRUPTED, result_bin, sizeof result_bin);
        ck_assert_int_eq(r, 0);
        return 0;
}

START_TEST(test_commands_unfinished_callback_may_write) {
        journal_t *j = open_ok();
        ck_assert_int_eq(journal_command_begin(j, "a", "install", req_a, sizeof req_a, NULL, NULL), 0);
        ck_assert_int_eq(journal_command_begin(j, "b", "restart", req_a, sizeof req_a, NULL, NULL), 0);
        ck_assert_int_eq(journal_command_set_state(j, "b", JCMD_RUNNING), 0);
        ck_assert_int_eq(journal_commands_unfinished(j, interrupt_cmd, j), 0);
        ck_assert_int_eq(count_unfinished(j), 0);
        /* Committed, as seen by another connection. */
        ck_assert_int_eq(raw_query_int("SELECT count(*) FROM commands WHERE state = 5"), 2);
        journal_close(&j);
}
END_TEST

/* The child finishes a command inside the walk callback and dies there:
 * the write must be on disk although the walk never returned. */
static int interrupt_then_die(const journal_command_t *c, void *ud) {
        if (journal_command_finish(ud, c->id, JCMD_INTERRUPTED, result_bin, sizeof result_bin) < 0)
                _exit(3);
        _exit(0);
}

START_TEST(test_commands_unfinished_callback_write_durable) {
        journal_t *j = open_ok();
        ck_assert_int_eq(journal_command_begin(j, "a", "install", req_a, sizeof req_a, NULL, NULL), 0);
        journal_close(&j);

        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                journal_t *cj = NULL;
                if (journal_open(dbpath, &cj) < 0)
                        _exit(2);
                (void) journal_commands_unfinished(cj, interrupt_then_die, cj);
                _exit(4);
        }
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);

        j = open_ok();
        journal_command_t c;
        ck_assert_int_eq(journal_command_get(j, "a", &c), 0);
        ck_assert_int_eq(c.state, JCMD_INTERRUPTED);
        ck_assert_uint_eq(c.result_len, sizeof result_bin);
        journal_command_clear(&c);
        journal_close(&j);
}
END_TEST

START_TEST(test_commands_recent) {
        journal_t *j = open_ok();
        char id[16];

        cmd_list_t l = { 0 };
        ck_assert_int_eq(journal_commands_recent(j, 3, collect_cmd, &l), 0);
        ck_assert_int_eq(l.n, 0);

        for (int i = 0; i < 7; i++) {
                snprintf(id, sizeof id, "%c", 'g' - i); /* g, f, ..., a */
                ck_assert_int_eq(journal_command_begin(j, id, "check", NULL, 0, NULL, NULL), 0);
        }
        ck_assert_int_eq(journal_command_finish(j, "b", JCMD_SUCCEEDED, result_bin, 1), 0);

        /* The newest 3, oldest of them first. */
        ck_assert_int_eq(journal_commands_recent(j, 3, collect_cmd, &l), 0);
        ck_assert_int_eq(l.n, 3);
        ck_assert_str_eq(l.id[0], "c");
        ck_assert_str_eq(l.id[1], "b");
        ck_assert_int_eq(l.state[1], JCMD_SUCCEEDED);
        ck_assert(l.has_result[1]);
        ck_assert_str_eq(l.id[2], "a");

        /* More than there are: all of them. 0: the default, also all 7. */
        memset(&l, 0, sizeof l);
        ck_assert_int_eq(journal_commands_recent(j, 50, collect_cmd, &l), 0);
        ck_assert_int_eq(l.n, 7);
        ck_assert_str_eq(l.id[0], "g");
        ck_assert_str_eq(l.id[6], "a");
        memset(&l, 0, sizeof l);
        ck_assert_int_eq(journal_commands_recent(j, 0, collect_cmd, &l), 0);
        ck_assert_int_eq(l.n, 7);
        memset(&l, 0, sizeof l);
        ck_assert_int_eq(journal_commands_recent(j, 1, collect_cmd, &l), 0);
        ck_assert_int_eq(l.n, 1);
        ck_assert_str_eq(l.id[0], "a");
        journal_close(&j);
}
END_TEST

/* ---- durability ---- */

START_TEST(test_durable_across_reopen) {
        journal_t *j = open_ok();
        char snap[64];
        ck_assert_int_eq(journal_command_begin(j, "c1", "install", req_a, sizeof req_a, NULL, NULL), 0);
        ck_assert_int_eq(journal_command_finish(j, "c1", JCMD_FAILED, result_bin, sizeof result_bin), 0);
        ck_assert_int_eq(journal_command_begin(j, "c2", "repoint", req_a, sizeof req_a, NULL, NULL), 0);
        ck_assert_int_eq(journal_snapshot_begin(j, "up-1", snap), 0);
        ck_assert_int_eq(journal_snapshot_add_package(j, snap, "nginx", "1.22.1-9"), 0);
        ck_assert_int_eq(journal_snapshot_commit(j, snap, true), 0);
        ck_assert_int_eq(journal_set_drained(j, true), 0);
        journal_close(&j);

        j = open_ok();
        journal_command_t c;
        ck_assert_int_eq(journal_command_get(j, "c1", &c), 0);
        ck_assert_int_eq(c.state, JCMD_FAILED);
        ck_assert_mem_eq(c.result, result_bin, sizeof result_bin);
        journal_command_clear(&c);
        cmd_list_t l = { 0 };
        ck_assert_int_eq(journal_commands_unfinished(j, collect_cmd, &l), 0);
        ck_assert_int_eq(l.n, 1);
        ck_assert_str_eq(l.id[0], "c2");
        journal_snapshot_t s;
        ck_assert_int_eq(journal_snapshot_find_open(j, "up-1", &s), 0);
        ck_assert_str_eq(s.id, snap);
        ck_assert(s.drained);
        bool drained = false;
        ck_assert_int_eq(journal_get_drained(j, &drained), 0);
        ck_assert(drained);
        /* Still a known id after the reopen. */
        ck_assert_int_eq(journal_command_begin(j, "c1", "install", NULL, 0, NULL, NULL), -EEXIST);
        journal_close(&j);
        ck_assert_int_eq(raw_query_int("PRAGMA user_version"), 3);
}
END_TEST

/* The child records and dies without closing, as under kill -9: nothing
 * is checkpointed or cleaned up. A snapshot it had not committed must not
 * appear. */
static void crash_mid_command(bool by_signal) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                journal_t *cj = NULL;
                char snap[64];
                if (journal_open(dbpath, &cj) < 0)
                        _exit(2);
                if (journal_command_begin(cj, "done", "check", req_a, sizeof req_a, NULL, NULL) < 0 ||
                    journal_command_finish(cj, "done", JCMD_SUCCEEDED, result_bin, sizeof result_bin) < 0)
                        _exit(3);
                if (journal_command_begin(cj, "mid", "install", req_a, sizeof req_a, NULL, NULL) < 0 ||
                    journal_command_set_state(cj, "mid", JCMD_RUNNING) < 0)
                        _exit(4);
                if (journal_snapshot_begin(cj, "up-crash", snap) < 0 ||
                    journal_snapshot_add_package(cj, snap, "nginx", "1") < 0)
                        _exit(5);
                if (by_signal)
                        raise(SIGKILL);
                _exit(0);
        }
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        if (by_signal)
                ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        else
                ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        journal_t *j = open_ok();
        cmd_list_t l = { 0 };
        ck_assert_int_eq(journal_commands_unfinished(j, collect_cmd, &l), 0);
        ck_assert_int_eq(l.n, 1);
        ck_assert_str_eq(l.id[0], "mid");
        ck_assert_int_eq(l.state[0], JCMD_RUNNING);
        ck_assert_uint_eq(l.request_len[0], sizeof req_a);
        journal_command_t c;
        ck_assert_int_eq(journal_command_get(j, "done", &c), 0);
        ck_assert_int_eq(c.state, JCMD_SUCCEEDED);
        ck_assert_mem_eq(c.result, result_bin, sizeof result_bin);
        journal_command_clear(&c);
        journal_snapshot_t s;
        ck_assert_int_eq(journal_snapshot_find_open(j, "", &s), -ENOENT);
        ck_assert_int_eq(raw_query_int("SELECT count(*) FROM snapshot_packages"), 0);
        /* The journal is writable again: the dead child's lock is gone. */
        ck_assert_int_eq(journal_command_finish(j, "mid", JCMD_INTERRUPTED, NULL, 0), 0);
        ck_assert_int_eq(count_unfinished(j), 0);
        journal_close(&j);
}

START_TEST(test_crash_exit_mid_command) {
        crash_mid_command(false);
}
END_TEST

START_TEST(test_crash_sigkill_mid_command) {
        crash_mid_command(true);
}
END_TEST

/* ---- snapshots ---- */

static const uint8_t conf_bin[] = { 'k', '=', 'v', '\n', 0x00, 0xff, 0x00, 0x7f, '\n' };

START_TEST(test_snapshot_round_trip) {
        journal_t *j = open_ok();
        char snap[64];

        ck_assert_int_eq(journal_snapshot_begin(j, "upgrade-7", snap), 0);
        ck_assert(strncmp(snap, "snap-", 5) == 0);
        ck_assert_int_eq(journal_snapshot_add_package(j, snap, "openssl", "3.0.11-1~deb12u2"), 0);
        ck_assert_int_eq(journal_snapshot_add_package(j, snap, "libssl3", "3.0.11-1~deb12u2"), 0);
        ck_assert_int_eq(journal_snapshot_add_package(j, snap, "newpkg", ""), 0);
        ck_assert_int_eq(journal_snapshot_add_file(j, snap, "/etc/app/app.conf", true, conf_bin,
                                                   sizeof conf_bin, 0640, 1234, 4321), 0);
        ck_assert_int_eq(journal_snapshot_add_file(j, snap, "/etc/app/absent.conf", false, "ignored", 7,
                                                   0777, 1, 2), 0);
        ck_assert_int_eq(journal_snapshot_add_file(j, snap, "/etc/app/empty", true, NULL, 0, 0600, 0, 0), 0);
        ck_assert_int_eq(journal_snapshot_add_unit(j, snap, "nginx.service", "active"), 0);
        ck_assert_int_eq(journal_snapshot_add_unit(j, snap, "app-worker@2.service", "failed"), 0);
        ck_assert_int_eq(journal_snapshot_commit(j, snap, true), 0);

        journal_snapshot_t s;
        ck_assert_int_eq(journal_snapshot_get(j, snap, &s), 0);
        ck_assert_str_eq(s.id, snap);
        ck_assert_str_eq(s.upgrade_id, "upgrade-7");
        ck_assert(s.open);
        ck_assert(s.drained);
        ck_assert_int_gt(s.created, 1600000000);
        char expect[64];
        snprintf(expect, sizeof expect, "snap-%" PRId64 "-1", s.created);
        ck_assert_str_eq(snap, expect);

        pair_list_t pk = { 0 };
        ck_assert_int_eq(journal_snapshot_packages(j, snap, collect_pair, &pk), 0);
        ck_assert_int_eq(pk.n, 3);
        ck_assert_str_eq(pk.name[0], "libssl3");
        ck_assert_str_eq(pk.value[0], "3.0.11-1~deb12u2");
        ck_assert_str_eq(pk.name[1], "newpkg");
        ck_assert_str_eq(pk.value[1], "");
        ck_assert_str_eq(pk.name[2], "openssl");
        ck_assert_str_eq(pk.value[2], "3.0.11-1~deb12u2");

        file_list_t *fl = calloc(1, sizeof *fl);
        ck_assert_int_eq(journal_snapshot_files(j, snap, collect_file, fl), 0);
        ck_assert_int_eq(fl->n, 3);
        ck_assert_str_eq(fl->path[0], "/etc/app/absent.conf");
        ck_assert(!fl->exists[0]);
        ck_assert(fl->content_null[0]);
        ck_assert_uint_eq(fl->len[0], 0);
        ck_assert_str_eq(fl->path[1], "/etc/app/app.conf");
        ck_assert(fl->exists[1]);
        ck_assert_uint_eq(fl->len[1], sizeof conf_bin);
        ck_assert_mem_eq(fl->content[1], conf_bin, sizeof conf_bin);
        ck_assert_uint_eq(fl->mode[1], 0640);
        ck_assert_uint_eq(fl->uid[1], 1234);
        ck_assert_uint_eq(fl->gid[1], 4321);
        ck_assert_str_eq(fl->path[2], "/etc/app/empty");
        ck_assert(fl->exists[2]);
        ck_assert(!fl->content_null[2]); /* present and empty, not absent */
        ck_assert_uint_eq(fl->len[2], 0);
        ck_assert_uint_eq(fl->mode[2], 0600);
        free(fl);

        pair_list_t un = { 0 };
        ck_assert_int_eq(journal_snapshot_units(j, snap, collect_pair, &un), 0);
        ck_assert_int_eq(un.n, 2);
        ck_assert_str_eq(un.name[0], "app-worker@2.service");
        ck_assert_str_eq(un.value[0], "failed");
        ck_assert_str_eq(un.name[1], "nginx.service");
        ck_assert_str_eq(un.value[1], "active");

        /* A snapshot taken while not drained records that too. */
        char snap2[64];
        ck_assert_int_eq(journal_snapshot_begin(j, "upgrade-8", snap2), 0);
        ck_assert_int_eq(journal_snapshot_commit(j, snap2, false), 0);
        ck_assert_int_eq(journal_snapshot_get(j, snap2, &s), 0);
        ck_assert(!s.drained);
        journal_close(&j);
}
END_TEST

START_TEST(test_snapshot_abort_leaves_nothing) {
        journal_t *j = open_ok();
        char snap[64];
        journal_snapshot_t s;

        ck_assert_int_eq(journal_snapshot_abort(j), -EINVAL); /* none being taken */
        ck_assert_int_eq(journal_snapshot_begin(j, "up", snap), 0);
        ck_assert_int_eq(journal_snapshot_add_package(j, snap, "nginx", "1.0"), 0);
        ck_assert_int_eq(journal_snapshot_add_file(j, snap, "/etc/x", true, "x", 1, 0644, 0, 0), 0);
        ck_assert_int_eq(journal_snapshot_add_unit(j, snap, "x.service", "active"), 0);
        ck_assert_int_eq(journal_snapshot_abort(j), 0);

        ck_assert_int_eq(journal_snapshot_get(j, snap, &s), -ENOENT);
        ck_assert_int_eq(journal_snapshot_find_open(j, "up", &s), -ENOENT);
        ck_assert_int_eq(journal_snapshot_find_open(j, "", &s), -ENOENT);
        pair_list_t l = { 0 };
        ck_assert_int_eq(journal_snapshot_packages(j, snap, collect_pair, &l), -ENOENT);
        ck_assert_int_eq(journal_snapshot_units(j, snap, collect_pair, &l), -ENOENT);
        ck_assert_int_eq(l.n, 0);
        ck_assert_int_eq(raw_query_int("SELECT count(*) FROM snapshots"), 0);
        ck_assert_int_eq(raw_query_int("SELECT count(*) FROM snapshot_packages"), 0);
        ck_assert_int_eq(raw_query_int("SELECT count(*) FROM snapshot_files"), 0);
        ck_assert_int_eq(raw_query_int("SELECT count(*) FROM snapshot_units"), 0);

        /* After the abort, adding is refused and other writes work again. */
        ck_assert_int_eq(journal_snapshot_add_package(j, snap, "nginx", "1.0"), -EINVAL);
        ck_assert_int_eq(journal_snapshot_abort(j), -EINVAL);
        ck_assert_int_eq(journal_command_begin(j, "c", "check", NULL, 0, NULL, NULL), 0);
        ck_assert_int_eq(raw_query_int("SELECT count(*) FROM commands"), 1);

        /* Closing the journal mid-snapshot aborts it as well. */
        ck_assert_int_eq(journal_snapshot_begin(j, "up", snap), 0);
        ck_assert_int_eq(journal_snapshot_add_package(j, snap, "nginx", "1.0"), 0);
        journal_close(&j);
        ck_assert_int_eq(raw_query_int("SELECT count(*) FROM snapshots"), 0);
        ck_assert_int_eq(raw_query_int("SELECT count(*) FROM snapshot_packages"), 0);
}
END_TEST

START_TEST(test_snapshot_transaction_rules) {
        journal_t *j = open_ok();
        char snap[64], other[64];

        /* Adding outside a snapshot transaction. */
        ck_assert_int_eq(journal_snapshot_add_package(j, "snap-1-1", "a", "1"), -EINVAL);
        ck_assert_int_eq(journal_snapshot_add_unit(j, "snap-1-1", "a.service", "active"), -EINVAL);
        ck_assert_int_eq(journal_snapshot_add_file(j, "snap-1-1", "/a", false, NULL, 0, 0, 0, 0), -EINVAL);
        ck_assert_int_eq(journal_snapshot_commit(j, "snap-1-1", false), -EINVAL);

        ck_assert_int_eq(journal_command_begin(j, "c", "install", NULL, 0, NULL, NULL), 0);
        ck_assert_int_eq(journal_snapshot_begin(j, "up", snap), 0);
        /* Every other write would join the transaction: refused. */
        ck_assert_int_eq(journal_snapshot_begin(j, "up", other), -EBUSY);
        ck_assert_int_eq(journal_command_begin(j, "d", "install", NULL, 0, NULL, NULL), -EBUSY);
        ck_assert_int_eq(journal_command_set_state(j, "c", JCMD_RUNNING), -EBUSY);
        ck_assert_int_eq(journal_command_finish(j, "c", JCMD_FAILED, NULL, 0), -EBUSY);
        ck_assert_int_eq(journal_set_drained(j, true), -EBUSY);
        ck_assert_int_eq(journal_snapshot_close(j, snap), -EBUSY);
        /* The wrong id, bad parts, duplicates. */
        ck_assert_int_eq(journal_snapshot_add_package(j, "snap-1-1", "a", "1"), -EINVAL);
        ck_assert_int_eq(journal_snapshot_add_package(j, snap, "", "1"), -EINVAL);
        ck_assert_int_eq(journal_snapshot_add_package(j, snap, "a", NULL), -EINVAL);
        ck_assert_int_eq(journal_snapshot_add_file(j, snap, "", true, "x", 1, 0, 0, 0), -EINVAL);
        ck_assert_int_eq(journal_snapshot_add_file(j, snap, "/a", true, NULL, 4, 0, 0, 0), -EINVAL);
        ck_assert_int_eq(journal_snapshot_add_unit(j, snap, "", "active"), -EINVAL);
        ck_assert_int_eq(journal_snapshot_add_package(j, snap, "a", "1"), 0);
        ck_assert_int_eq(journal_snapshot_add_package(j, snap, "a", "2"), -EEXIST);
        ck_assert_int_eq(journal_snapshot_add_file(j, snap, "/a", true, "x", 1, 0644, 0, 0), 0);
        ck_assert_int_eq(journal_snapshot_add_file(j, snap, "/a", false, NULL, 0, 0, 0, 0), -EEXIST);
        ck_assert_int_eq(journal_snapshot_add_unit(j, snap, "a.service", "active"), 0);
        ck_assert_int_eq(journal_snapshot_add_unit(j, snap, "a.service", "inactive"), -EEXIST);
        ck_assert_int_eq(journal_snapshot_commit(j, "snap-1-1", false), -EINVAL);
        /* A refused duplicate does not spoil the transaction. */
        ck_assert_int_eq(journal_snapshot_commit(j, snap, false), 0);

        pair_list_t l = { 0 };
        ck_assert_int_eq(journal_snapshot_packages(j, snap, collect_pair, &l), 0);
        ck_assert_int_eq(l.n, 1);
        ck_assert_str_eq(l.value[0], "1");
        memset(&l, 0, sizeof l);
        ck_assert_int_eq(journal_snapshot_units(j, snap, collect_pair, &l), 0);
        ck_assert_int_eq(l.n, 1);
        ck_assert_str_eq(l.value[0], "active");
        /* Writes work again; the refused ones left no trace. */
        ck_assert_int_eq(journal_command_get(j, "d", &(journal_command_t) { 0 }), -ENOENT);
        ck_assert_int_eq(journal_command_set_state(j, "c", JCMD_RUNNING), 0);
        ck_assert_int_eq(raw_query_int("SELECT count(*) FROM snapshots"), 1);
        journal_close(&j);
}
END_TEST

typedef struct {
        journal_t *j;
        const char *snap;
        int calls;
} walk_ctx_t;

/* A walk callback trying to write, and to walk the same part again. */
static int write_inside_walk(const char *name, const char *version, void *ud) {
        walk_ctx_t *w = ud;
        pair_list_t l = { 0 };
        (void) name;
        (void) version;
        w->calls++;
        ck_assert_int_eq(journal_command_begin(w->j, "w", "check", NULL, 0, NULL, NULL), -EBUSY);
        ck_assert_int_eq(journal_set_drained(w->j, true), -EBUSY);
        ck_assert_int_eq(journal_snapshot_close(w->j, w->snap), -EBUSY);
        ck_assert_int_eq(journal_snapshot_packages(w->j, w->snap, collect_pair, &l), -EBUSY);
        /* Reading something else is fine. */
        ck_assert_int_eq(journal_snapshot_units(w->j, w->snap, collect_pair, &l), 0);
        ck_assert_int_eq(l.n, 2);
        return 0;
}

static int stop_walk(const char *name, const char *value, void *ud) {
        (void) name;
        (void) value;
        ++*(int *) ud;
        return -42;
}

START_TEST(test_snapshot_walk_rules) {
        journal_t *j = open_ok();
        char snap[64];
        ck_assert_int_eq(journal_snapshot_begin(j, "", snap), 0);
        ck_assert_int_eq(journal_snapshot_add_package(j, snap, "a", "1"), 0);
        ck_assert_int_eq(journal_snapshot_add_package(j, snap, "b", "1"), 0);
        ck_assert_int_eq(journal_snapshot_add_unit(j, snap, "a.service", "active"), 0);
        ck_assert_int_eq(journal_snapshot_add_unit(j, snap, "b.service", "active"), 0);
        ck_assert_int_eq(journal_snapshot_commit(j, snap, false), 0);

        walk_ctx_t w = { .j = j, .snap = snap };
        ck_assert_int_eq(journal_snapshot_packages(j, snap, write_inside_walk, &w), 0);
        ck_assert_int_eq(w.calls, 2);
        ck_assert_int_eq(journal_command_begin(j, "w", "check", NULL, 0, NULL, NULL), 0); /* after: fine */

        int calls = 0;
        ck_assert_int_eq(journal_snapshot_units(j, snap, stop_walk, &calls), -42);
        ck_assert_int_eq(calls, 1);
        calls = 0;
        ck_assert_int_eq(journal_snapshot_packages(j, snap, stop_walk, &calls), -42);
        ck_assert_int_eq(calls, 1);
        /* A stopped walk leaves nothing busy behind. */
        ck_assert_int_eq(journal_set_drained(j, true), 0);
        pair_list_t l = { 0 };
        ck_assert_int_eq(journal_snapshot_packages(j, snap, collect_pair, &l), 0);
        ck_assert_int_eq(l.n, 2);

        ck_assert_int_eq(journal_snapshot_packages(j, "snap-0-0", collect_pair, &l), -ENOENT);
        ck_assert_int_eq(journal_snapshot_files(j, "snap-0-0", collect_file, NULL), -ENOENT);
        ck_assert_int_eq(journal_snapshot_packages(j, snap, NULL, NULL), -EINVAL);
        ck_assert_int_eq(journal_snapshot_packages(j, "", collect_pair, &l), -EINVAL);
        journal_close(&j);
}
END_TEST

START_TEST(test_snapshot_find_open_and_close) {
        journal_t *j = open_ok();
        char a1[64], b[64], a2[64];
        journal_snapshot_t s;

        ck_assert_int_eq(journal_snapshot_find_open(j, "", &s), -ENOENT);
        ck_assert_int_eq(journal_snapshot_begin(j, "up-a", a1), 0);
        ck_assert_int_eq(journal_snapshot_commit(j, a1, false), 0);
        ck_assert_int_eq(journal_snapshot_begin(j, "up-b", b), 0);
        ck_assert_int_eq(journal_snapshot_commit(j, b, true), 0);

        ck_assert_int_eq(journal_snapshot_find_open(j, "up-a", &s), 0);
        ck_assert_str_eq(s.id, a1);
        ck_assert_str_eq(s.upgrade_id, "up-a");
        ck_assert(s.open);
        ck_assert_int_eq(journal_snapshot_find_open(j, "up-b", &s), 0);
        ck_assert_str_eq(s.id, b);
        ck_assert(s.drained);
        ck_assert_int_eq(journal_snapshot_find_open(j, "up-c", &s), -ENOENT);
        /* "" and NULL: the newest open one of any upgrade. */
        ck_assert_int_eq(journal_snapshot_find_open(j, "", &s), 0);
        ck_assert_str_eq(s.id, b);
        ck_assert_int_eq(journal_snapshot_find_open(j, NULL, &s), 0);
        ck_assert_str_eq(s.id, b);

        /* A second snapshot of up-a is the newer one for up-a and for "". */
        ck_assert_int_eq(journal_snapshot_begin(j, "up-a", a2), 0);
        ck_assert_int_eq(journal_snapshot_commit(j, a2, false), 0);
        ck_assert_int_eq(journal_snapshot_find_open(j, "up-a", &s), 0);
        ck_assert_str_eq(s.id, a2);
        ck_assert_int_eq(journal_snapshot_find_open(j, "", &s), 0);
        ck_assert_str_eq(s.id, a2);

        /* Closed (rolled back): no longer open, still readable. */
        ck_assert_int_eq(journal_snapshot_close(j, a2), 0);
        ck_assert_int_eq(journal_snapshot_get(j, a2, &s), 0);
        ck_assert(!s.open);
        ck_assert_int_eq(journal_snapshot_find_open(j, "up-a", &s), 0);
        ck_assert_str_eq(s.id, a1);
        ck_assert_int_eq(journal_snapshot_find_open(j, "", &s), 0);
        ck_assert_str_eq(s.id, b);
        ck_assert_int_eq(journal_snapshot_close(j, b), 0);
        ck_assert_int_eq(journal_snapshot_close(j, a1), 0);
        ck_assert_int_eq(journal_snapshot_find_open(j, "up-a", &s), -ENOENT);
        ck_assert_int_eq(journal_snapshot_find_open(j, "", &s), -ENOENT);
        ck_assert_int_eq(journal_snapshot_close(j, "snap-0-0"), -ENOENT);
        ck_assert_int_eq(journal_snapshot_get(j, "snap-0-0", &s), -ENOENT);
        journal_close(&j);

        /* Closing is durable. */
        j = open_ok();
        ck_assert_int_eq(journal_snapshot_find_open(j, "", &s), -ENOENT);
        ck_assert_int_eq(journal_snapshot_get(j, a1, &s), 0);
        ck_assert(!s.open);
        journal_close(&j);
}
END_TEST

/* A snapshot that nothing used is forgotten with its parts; a closed one,
 * which a rollback used, is never. */
START_TEST(test_snapshot_discard_only_open) {
        journal_t *j = open_ok();
        char used[64], unused[64];
        journal_snapshot_t s;

        ck_assert_int_eq(journal_snapshot_begin(j, "", used), 0);
        ck_assert_int_eq(journal_snapshot_add_package(j, used, "nginx", "1.0"), 0);
        ck_assert_int_eq(journal_snapshot_commit(j, used, false), 0);
        ck_assert_int_eq(journal_snapshot_close(j, used), 0);
        ck_assert_int_eq(journal_snapshot_begin(j, "", unused), 0);
        ck_assert_int_eq(journal_snapshot_add_package(j, unused, "nginx", "1.0"), 0);
        ck_assert_int_eq(journal_snapshot_add_file(j, unused, "/etc/x", true, "x", 1, 0644, 0, 0), 0);
        ck_assert_int_eq(journal_snapshot_add_unit(j, unused, "x.service", "active"), 0);
        ck_assert_int_eq(journal_snapshot_commit(j, unused, false), 0);

        ck_assert_int_eq(journal_snapshot_discard(j, used), -ENOENT);
        ck_assert_int_eq(journal_snapshot_get(j, used, &s), 0);
        ck_assert_int_eq(raw_query_int("SELECT count(*) FROM snapshot_packages"), 2);

        ck_assert_int_eq(journal_snapshot_discard(j, unused), 0);
        ck_assert_int_eq(journal_snapshot_get(j, unused, &s), -ENOENT);
        ck_assert_int_eq(journal_snapshot_find_open(j, "", &s), -ENOENT);
        ck_assert_int_eq(raw_query_int("SELECT count(*) FROM snapshots"), 1);
        ck_assert_int_eq(raw_query_int("SELECT count(*) FROM snapshot_packages"), 1);
        ck_assert_int_eq(raw_query_int("SELECT count(*) FROM snapshot_files"), 0);
        ck_assert_int_eq(raw_query_int("SELECT count(*) FROM snapshot_units"), 0);
        ck_assert_int_eq(journal_snapshot_discard(j, unused), -ENOENT);
        ck_assert_int_eq(journal_snapshot_discard(j, ""), -EINVAL);
        journal_close(&j);
}
END_TEST

START_TEST(test_snapshot_ids_unique_within_a_second) {
        journal_t *j = open_ok();
        char ids[6][64];
        journal_snapshot_t s[6];

        /* Retry until all land in one second, so the test is about that. */
        for (int attempt = 0; attempt < 5; attempt++) {
                for (int i = 0; i < 3; i++) {
                        ck_assert_int_eq(journal_snapshot_begin(j, "same", ids[i]), 0);
                        ck_assert_int_eq(journal_snapshot_commit(j, ids[i], false), 0);
                        ck_assert_int_eq(journal_snapshot_get(j, ids[i], &s[i]), 0);
                }
                if (s[0].created == s[2].created)
                        break;
        }
        ck_assert_int_eq(s[0].created, s[2].created);
        ck_assert_str_ne(ids[0], ids[1]);
        ck_assert_str_ne(ids[1], ids[2]);
        ck_assert_str_ne(ids[0], ids[2]);
        journal_close(&j);

        /* Another process (a reopen) in the same second continues the
         * sequence instead of reusing it. */
        j = open_ok();
        ck_assert_int_eq(journal_snapshot_begin(j, "same", ids[3]), 0);
        ck_assert_int_eq(journal_snapshot_commit(j, ids[3], false), 0);
        ck_assert_int_eq(journal_snapshot_get(j, ids[3], &s[3]), 0);
        for (int i = 0; i < 3; i++)
                ck_assert_str_ne(ids[3], ids[i]);
        if (s[3].created == s[2].created) {
                long n2 = strtol(strrchr(ids[2], '-') + 1, NULL, 10);
                long n3 = strtol(strrchr(ids[3], '-') + 1, NULL, 10);
                ck_assert_int_eq(n3, n2 + 1);
        }
        ck_assert_int_eq(raw_query_int("SELECT count(DISTINCT id) FROM snapshots"),
                         raw_query_int("SELECT count(*) FROM snapshots"));
        journal_close(&j);
}
END_TEST

/* ---- drain ---- */

START_TEST(test_drained_flag) {
        journal_t *j = open_ok();
        bool d = true;

        ck_assert_int_eq(journal_get_drained(j, &d), 0);
        ck_assert(!d); /* never set */
        ck_assert_int_eq(journal_set_drained(j, true), 0);
        ck_assert_int_eq(journal_get_drained(j, &d), 0);
        ck_assert(d);
        ck_assert_int_eq(journal_get_drained(j, NULL), -EINVAL);
        journal_close(&j);

        j = open_ok();
        d = false;
        ck_assert_int_eq(journal_get_drained(j, &d), 0);
        ck_assert(d);
        ck_assert_int_eq(journal_set_drained(j, false), 0);
        journal_close(&j);

        j = open_ok();
        d = true;
        ck_assert_int_eq(journal_get_drained(j, &d), 0);
        ck_assert(!d);
        journal_close(&j);
}
END_TEST

/* ---- retention ---- */

static off_t file_size(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 ? st.st_size : 0;
}

/* 100 refused commands, each with 200 KiB of bytes nothing reads (unknown
 * fields): the journal keeps the decisions, not the bytes. */
START_TEST(test_refused_requests_stay_small) {
        enum { N = 100, BIG = 200 * 1024 };
        uint8_t *junk = malloc(BIG);
        journal_t *j = open_ok();
        journal_command_t c;
        char id[32];

        ck_assert_ptr_nonnull(junk);
        for (size_t i = 0; i < BIG; i++)
                junk[i] = (uint8_t) (i * 7 + 3);
        for (int i = 0; i < N; i++) {
                snprintf(id, sizeof id, "refused-%d", i);
                ck_assert_int_eq(journal_command_begin(j, id, "install", junk, BIG, NULL, NULL), 0);
                ck_assert_int_eq(journal_command_finish(j, id, JCMD_REFUSED, result_bin, sizeof result_bin), 0);
        }
        /* The decision is what a replay gets back. */
        ck_assert_int_eq(journal_command_get(j, "refused-42", &c), 0);
        ck_assert_int_eq(c.state, JCMD_REFUSED);
        ck_assert_uint_eq(c.request_len, 0);
        ck_assert_uint_eq(c.result_len, sizeof result_bin);
        ck_assert_mem_eq(c.result, result_bin, sizeof result_bin);
        journal_command_clear(&c);
        journal_close(&j);   /* checkpoints: the WAL goes back into the file */

        /* 20 MB before; one request's pages are reused by the next. */
        char wal[400];
        snprintf(wal, sizeof wal, "%s-wal", dbpath);
        off_t size = file_size(dbpath) + file_size(wal);
        ck_assert_msg(size < 2 * 1024 * 1024, "journal is %lld bytes after %d refusals", (long long) size, N);
        free(junk);
}
END_TEST

/* Finishes a new command in state with upgrade upgrade_id. */
static void add_command(journal_t *j, const char *id, const char *upgrade_id, journal_state_t state) {
        ck_assert_int_eq(journal_command_begin(j, id, "install", req_a, sizeof req_a, NULL, upgrade_id), 0);
        if (state == JCMD_RUNNING)
                ck_assert_int_eq(journal_command_set_state(j, id, JCMD_RUNNING), 0);
        else
                ck_assert_int_eq(journal_command_finish(j, id, state, result_bin, sizeof result_bin), 0);
}

static void add_snapshot(journal_t *j, const char *upgrade_id, char id[64]) {
        ck_assert_int_eq(journal_snapshot_begin(j, upgrade_id, id), 0);
        ck_assert_int_eq(journal_snapshot_add_package(j, id, "pkg", "1.0"), 0);
        ck_assert_int_eq(journal_snapshot_add_file(j, id, "/etc/x.conf", true, "a", 1, 0644, 0, 0), 0);
        ck_assert_int_eq(journal_snapshot_add_unit(j, id, "x.service", "active"), 0);
        ck_assert_int_eq(journal_snapshot_commit(j, id, false), 0);
}

static bool command_known(journal_t *j, const char *id) {
        journal_command_t c = { 0 };
        int r = journal_command_get(j, id, &c);
        ck_assert(r == 0 || r == -ENOENT);
        journal_command_clear(&c);
        return r == 0;
}

static int count_packages(journal_t *j, const char *snap) {
        pair_list_t l = { 0 };
        int r = journal_snapshot_packages(j, snap, collect_pair, &l);
        return r < 0 ? r : l.n;
}

START_TEST(test_prune_keeps_what_rollback_and_replay_need) {
        journal_t *j = open_ok();
        char open_snap[64], closed_snap[64];
        uint64_t removed = 99;

        add_snapshot(j, "up-open", open_snap);
        add_snapshot(j, "up-done", closed_snap);
        ck_assert_int_eq(journal_snapshot_close(j, closed_snap), 0);
        add_command(j, "of-open-upgrade", "up-open", JCMD_SUCCEEDED);
        add_command(j, "failed-of-open-upgrade", "up-open", JCMD_FAILED);
        add_command(j, "refused-of-open-upgrade", "up-open", JCMD_REFUSED);
        add_command(j, "of-rolled-back-upgrade", "up-done", JCMD_SUCCEEDED);
        add_command(j, "no-upgrade", "", JCMD_SUCCEEDED);
        add_command(j, "unfinished", "", JCMD_RUNNING);

        /* Nothing is old enough yet. */
        ck_assert_int_eq(journal_prune(j, time(NULL) - 3600, &removed), 0);
        ck_assert_uint_eq(removed, 0);
        ck_assert(command_known(j, "no-upgrade"));

        /* Everything is older than the cutoff now. */
        ck_assert_int_eq(journal_prune(j, time(NULL) + 10, &removed), 0);
        ck_assert_uint_eq(removed, 4); /* 3 commands, 1 snapshot */
        ck_assert(command_known(j, "of-open-upgrade"));
        ck_assert(command_known(j, "failed-of-open-upgrade"));
        ck_assert(command_known(j, "unfinished"));
        ck_assert(!command_known(j, "refused-of-open-upgrade"));
        ck_assert(!command_known(j, "of-rolled-back-upgrade"));
        ck_assert(!command_known(j, "no-upgrade"));
        /* The open snapshot is whole; the rolled-back one is gone with its parts. */
        ck_assert_int_eq(count_packages(j, open_snap), 1);
        ck_assert_int_eq(journal_snapshot_get(j, closed_snap, &(journal_snapshot_t) { 0 }), -ENOENT);
        ck_assert_int_eq(count_packages(j, closed_snap), -ENOENT);
        ck_assert_int_eq(raw_query_int("SELECT count(*) FROM snapshot_files"), 1);
        ck_assert_int_eq(raw_query_int("SELECT count(*) FROM snapshot_units"), 1);

        /* Rolled back: its upgrade's commands may go too. */
        ck_assert_int_eq(journal_snapshot_close(j, open_snap), 0);
        ck_assert_int_eq(journal_prune(j, time(NULL) + 10, NULL), 0);
        ck_assert(!command_known(j, "of-open-upgrade"));
        ck_assert(command_known(j, "unfinished"));
        journal_close(&j);
}
END_TEST

/* A local command (hitless-agent rollback) is listed once finished, until
 * the coordinator acknowledges it; retention keeps it meanwhile. */
START_TEST(test_local_commands_until_reported) {
        journal_t *j = open_ok();
        cmd_list_t l = { 0 };

        add_command(j, "from-coordinator", "", JCMD_SUCCEEDED);
        ck_assert_int_eq(journal_command_begin_local(j, "local-1", "rollback", req_a, sizeof req_a), 0);
        ck_assert_int_eq(journal_command_set_state(j, "local-1", JCMD_RUNNING), 0);
        ck_assert_int_eq(journal_command_begin_local(j, "local-2", "rollback", req_a, sizeof req_a), 0);
        ck_assert_int_eq(journal_command_begin_local(j, "local-1", "rollback", req_a, sizeof req_a), -EEXIST);
        /* Running: not yet. */
        ck_assert_int_eq(journal_local_unreported(j, 16, collect_cmd, &l), 0);
        ck_assert_int_eq(l.n, 0);
        ck_assert_int_eq(journal_command_finish(j, "local-1", JCMD_SUCCEEDED, result_bin, sizeof result_bin), 0);
        ck_assert_int_eq(journal_command_finish(j, "local-2", JCMD_FAILED, result_bin, sizeof result_bin), 0);
        ck_assert_int_eq(journal_local_unreported(j, 16, collect_cmd, &l), 0);
        ck_assert_int_eq(l.n, 2);
        ck_assert_str_eq(l.id[0], "local-1");   /* oldest first */
        ck_assert_str_eq(l.id[1], "local-2");
        ck_assert(l.has_result[0] && l.request_len[0] == sizeof req_a);
        memset(&l, 0, sizeof l);
        ck_assert_int_eq(journal_local_unreported(j, 1, collect_cmd, &l), 0);
        ck_assert_int_eq(l.n, 1);
        ck_assert_int_eq(journal_local_unreported(j, 0, collect_cmd, &l), -EINVAL);

        /* Retention keeps what the coordinator has not heard of. */
        ck_assert_int_eq(journal_prune(j, time(NULL) + 10, NULL), 0);
        ck_assert(!command_known(j, "from-coordinator"));
        ck_assert(command_known(j, "local-1") && command_known(j, "local-2"));

        ck_assert_int_eq(journal_local_reported(j, "local-1"), 0);
        ck_assert_int_eq(journal_local_reported(j, "local-1"), 0);        /* twice: no change */
        ck_assert_int_eq(journal_local_reported(j, "no-such-command"), 0);
        ck_assert_int_eq(journal_local_reported(j, ""), -EINVAL);
        memset(&l, 0, sizeof l);
        ck_assert_int_eq(journal_local_unreported(j, 16, collect_cmd, &l), 0);
        ck_assert_int_eq(l.n, 1);
        ck_assert_str_eq(l.id[0], "local-2");
        /* Durable: still so after a reopen. */
        journal_close(&j);
        j = open_ok();
        memset(&l, 0, sizeof l);
        ck_assert_int_eq(journal_local_unreported(j, 16, collect_cmd, &l), 0);
        ck_assert_int_eq(l.n, 1);
        ck_assert_int_eq(journal_local_reported(j, "local-2"), 0);
        ck_assert_int_eq(journal_prune(j, time(NULL) + 10, NULL), 0);
        ck_assert(!command_known(j, "local-1") && !command_known(j, "local-2"));
        journal_close(&j);
}
END_TEST

START_TEST(test_command_upgrade_id) {
        journal_t *j = open_ok();
        journal_command_t c;
        char long_id[80];

        memset(long_id, 'u', sizeof long_id - 1);
        long_id[sizeof long_id - 1] = '\0';
        ck_assert_int_eq(journal_command_begin(j, "a", "check", NULL, 0, NULL, long_id), -EINVAL);
        ck_assert_int_eq(journal_command_begin(j, "a", "check", NULL, 0, NULL, "up-1"), 0);
        ck_assert_int_eq(journal_command_get(j, "a", &c), 0);
        ck_assert_str_eq(c.upgrade_id, "up-1");
        journal_command_clear(&c);
        journal_close(&j);
}
END_TEST

static Suite *journal_suite(void) {
        Suite *su = suite_create("journal");
        TCase *tc;

        tc = tcase_create("open");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_open_creates_private_file);
        tcase_add_test(tc, test_open_bad_path);
        tcase_add_test(tc, test_open_random_bytes);
        tcase_add_test(tc, test_open_corrupt_schema_page);
        tcase_add_test(tc, test_open_newer_schema_refused);
        tcase_add_test(tc, test_state_names);
        suite_add_tcase(su, tc);

        tc = tcase_create("commands");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_command_lifecycle);
        tcase_add_test(tc, test_command_empty_blobs);
        tcase_add_test(tc, test_command_duplicate_and_unknown);
        tcase_add_test(tc, test_command_bad_input);
        tcase_add_test(tc, test_commands_unfinished_oldest_first);
        tcase_add_test(tc, test_commands_unfinished_callback_may_write);
        tcase_add_test(tc, test_commands_recent);
        suite_add_tcase(su, tc);

        tc = tcase_create("durability");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_durable_across_reopen);
        tcase_add_test(tc, test_crash_exit_mid_command);
        tcase_add_test(tc, test_crash_sigkill_mid_command);
        tcase_add_test(tc, test_commands_unfinished_callback_write_durable);
        suite_add_tcase(su, tc);

        tc = tcase_create("snapshots");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_snapshot_round_trip);
        tcase_add_test(tc, test_snapshot_abort_leaves_nothing);
        tcase_add_test(tc, test_snapshot_transaction_rules);
        tcase_add_test(tc, test_snapshot_walk_rules);
        tcase_add_test(tc, test_snapshot_find_open_and_close);
        tcase_add_test(tc, test_snapshot_discard_only_open);
        tcase_add_test(tc, test_snapshot_ids_unique_within_a_second);
        suite_add_tcase(su, tc);

        tc = tcase_create("retention");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_refused_requests_stay_small);
        tcase_add_test(tc, test_prune_keeps_what_rollback_and_replay_need);
        tcase_add_test(tc, test_local_commands_until_reported);
        tcase_add_test(tc, test_command_upgrade_id);
        suite_add_tcase(su, tc);

        tc = tcase_create("drain");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_drained_flag);
        suite_add_tcase(su, tc);
        return su;
}

int main(void) {
        SRunner *sr = srunner_create(journal_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
