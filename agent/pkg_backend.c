/* Backend selection and what apt and dnf share: planning, parsing query
 * output, lock waiting, running the program, verifying the result. */
#include "agent/pkg_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"

#define LOCK_POLL_MS 500
#define QUERY_TIMEOUT_MS 30000
#define QUERY_MAX_OUTPUT (256 * 1024)

static bool have_program(const char *name) {
        static const char *const dirs[] = { "/usr/sbin", "/usr/bin", "/sbin", "/bin" };
        char path[256];
        for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
                snprintf(path, sizeof path, "%s/%s", dirs[i], name);
                if (access(path, X_OK) == 0)
                        return true;
        }
        return false;
}

int pkg_backend_resolve(const char *configured, const pkg_backend_t **ret) {
        if (!configured)
                return -EINVAL;
        if (strcmp(configured, "apt") == 0)
                *ret = &pkg_backend_apt;
        else if (strcmp(configured, "dnf") == 0)
                *ret = &pkg_backend_dnf;
        else if (strcmp(configured, "auto") != 0)
                return -EINVAL;
        else if (have_program("dpkg-query"))
                *ret = &pkg_backend_apt;
        else if (have_program("rpm"))
                *ret = &pkg_backend_dnf;
        else
                return -ENOENT;
        return 0;
}

void pkg_versions_free(char **versions, size_t n) {
        if (!versions)
                return;
        for (size_t i = 0; i < n; i++)
                free(versions[i]);
        free(versions);
}

const char *pkg_action_name(pkg_action_t a) {
        switch (a) {
        case PKG_ACTION_INSTALL: return "install";
        case PKG_ACTION_UPGRADE: return "upgrade";
        case PKG_ACTION_REINSTALL: return "reinstall";
        case PKG_ACTION_DOWNGRADE: return "downgrade";
        }
        return "?";
}

int pkg_plan(pkg_match_fn match, char *const *installed, const pkg_request_t *req, size_t n,
             bool allow_downgrade, pkg_action_t *ret_actions, char *error, size_t error_len) {
        for (size_t i = 0; i < n; i++) {
                int c;
                if (!installed[i] || !installed[i][0]) {
                        ret_actions[i] = PKG_ACTION_INSTALL;
                        continue;
                }
                c = match(installed[i], req[i].version);
                ret_actions[i] = c < 0 ? PKG_ACTION_UPGRADE : c == 0 ? PKG_ACTION_REINSTALL : PKG_ACTION_DOWNGRADE;
                if (ret_actions[i] == PKG_ACTION_DOWNGRADE && !allow_downgrade) {
                        snprintf(error, error_len, "refusing to downgrade %s from %s to %s (downgrade not allowed)",
                                 req[i].name, installed[i], req[i].version);
                        return -EPERM;
                }
        }
        return 0;
}

/* Lines are "NAME\tVERSION[\tSTATUS]". A dpkg package counts as present,
 * at that version, unless its status (second letter) is n (not installed)
 * or c (removed, config files left): a half-configured "iF" 2.0 left by a
 * failed postinst is still 2.0 on disk, and going back to 1.0 from there is
 * a downgrade. Whether an install finished cleanly is checked separately
 * (dpkg --audit). Lines without a tab are the tools' complaints about
 * packages they do not know. */
int pkg_parse_query(char *out, bool dpkg_status, char *const *names, size_t n, char **versions) {
        char *save = NULL;
        for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *name = line, *version = strchr(line, '\t'), *status;
                if (!version)
                        continue;
                *version++ = '\0';
                status = strchr(version, '\t');
                if (status)
                        *status++ = '\0';
                if (dpkg_status && (!status || strlen(status) < 2 || status[1] == 'n' || status[1] == 'c'))
                        continue;
                if (!version[0])
                        continue;
                for (size_t i = 0; i < n; i++) {
                        char *copy;
                        if (strcmp(names[i], name) != 0)
                                continue;
                        if (!(copy = strdup(version)))
                                return -ENOMEM;
                        free(versions[i]);
                        versions[i] = copy;
                }
        }
        return 0;
}

/* ---- locks ---------------------------------------------------------------- */

static int fcntl_lock_holder(const char *path, pid_t *ret_pid) {
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
        /* Read-only is enough for F_GETLK. We never lock it ourselves, so
         * closing the descriptor releases nothing of ours. */
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), r = 0;
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        if (fcntl(fd, F_GETLK, &fl) < 0)
                r = -errno;
        else if (fl.l_type != F_UNLCK) {
                /* l_pid is -1 for an open file description lock and 0 for a
                 * holder in another pid namespace. */
                *ret_pid = fl.l_pid > 0 ? fl.l_pid : 0;
                r = 1;
        }
        close(fd);
        return r;
}

/* dnf's ProcessLock: a file with the holder's pid, unlinked when done; a
 * pid that is no longer alive is a stale file dnf itself takes over. */
static int pidfile_lock_holder(const char *path, pid_t *ret_pid) {
        char buf[32], proc[64], *end;
        ssize_t len;
        long pid;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        len = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (len <= 0)
                return 0;
        buf[len] = '\0';
        errno = 0;
        pid = strtol(buf, &end, 10);
        if (errno || end == buf || pid <= 0 || pid > INT32_MAX || pid == getpid())
                return 0;
        snprintf(proc, sizeof proc, "/proc/%ld/stat", pid);
        if (access(proc, F_OK) < 0)
                return 0;
        *ret_pid = (pid_t) pid;
        return 1;
}

int pkg_lock_holder(const pkg_lock_t *lock, pid_t *ret_pid) {
        return lock->kind == PKG_LOCK_PIDFILE ? pidfile_lock_holder(lock->path, ret_pid)
                                              : fcntl_lock_holder(lock->path, ret_pid);
}

static void process_name(pid_t pid, char *buf, size_t len) {
        char path[64];
        FILE *f;
        snprintf(buf, len, "?");
        if (pid <= 0)
                return;
        snprintf(path, sizeof path, "/proc/%d/comm", (int) pid);
        if (!(f = fopen(path, "re")))
                return;
        if (fgets(buf, (int) len, f))
                buf[strcspn(buf, "\n")] = '\0';
        else
                snprintf(buf, len, "?");
        fclose(f);
}

static void sleep_ms(int64_t ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* A lock we cannot examine (an unreadable file) counts as free: apt and
 * dnf take the locks themselves and wait or fail with their own message. */
int pkg_lock_wait(const pkg_lock_t *locks, size_t n, const char *what, int64_t timeout_ms,
                  char *error, size_t error_len) {
        int64_t start = clock_mono_ms();
        for (;;) {
                pid_t pid = 0;
                bool held = false;
                int64_t elapsed;
                char comm[32];

                for (size_t i = 0; i < n && !held; i++)
                        held = pkg_lock_holder(&locks[i], &pid) > 0;
                if (!held)
                        return 0;
                elapsed = clock_mono_ms() - start;
                if (elapsed >= timeout_ms) {
                        process_name(pid, comm, sizeof comm);
                        if (pid > 0)
                                snprintf(error, error_len, "%s lock held by pid %d (%s) for more than %g s", what,
                                         (int) pid, comm, (double) timeout_ms / 1000.0);
                        else
                                snprintf(error, error_len,
                                         "%s lock held by another process (pid unknown) for more than %g s", what,
                                         (double) timeout_ms / 1000.0);
                        return -EBUSY;
                }
                sleep_ms(timeout_ms - elapsed < LOCK_POLL_MS ? timeout_ms - elapsed : LOCK_POLL_MS);
        }
}

/* ---- running ---------------------------------------------------------------- */

bool pkg_env_has_root(const pkg_env_t *env) {
        return env->root && env->root[0] && strcmp(env->root, "/") != 0;
}

int pkg_root_path(const pkg_env_t *env, const char *path, char *buf, size_t len) {
        size_t root_len = 0;
        int w;
        if (pkg_env_has_root(env)) {
                root_len = strlen(env->root);
                while (root_len > 1 && env->root[root_len - 1] == '/')
                        root_len--;
        }
        w = snprintf(buf, len, "%.*s%s", (int) root_len, root_len ? env->root : "", path);
        return w < 0 || (size_t) w >= len ? -ENAMETOOLONG : 0;
}

int pkg_query_run(char *const *argv, bool dpkg_status, int max_ok_exit, char *const *names, size_t n,
                  char ***ret_versions) {
        exec_options_t opts = { .timeout_ms = QUERY_TIMEOUT_MS, .max_output = QUERY_MAX_OUTPUT };
        exec_result_t res = { 0 };
        char **versions = calloc(n + 1, sizeof *versions);
        int r = -ENOMEM;

        if (!versions)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(versions[i] = strdup("")))
                        goto fail;
        if (n > 0) {
                if ((r = exec_run(argv, &opts, &res)) < 0)
                        goto fail;
                if (res.timed_out)
                        r = -ETIMEDOUT;
                else if (res.signaled || res.exit_code > max_ok_exit)
                        r = -EIO;
                else
                        r = pkg_parse_query(res.output, dpkg_status, names, n, versions);
                exec_result_free(&res);
                if (r < 0)
                        goto fail;
        }
        *ret_versions = versions;
        return 0;
fail:
        pkg_versions_free(versions, n);
        return r;
}

/* The last non-blank line of out, which is where apt-get ("E: ...") and
 * dnf ("Error: ...") say what went wrong. */
static void last_line(const char *out, char *buf, size_t len) {
        const char *end = out ? out + strlen(out) : NULL, *start;
        buf[0] = '\0';
        if (!out)
                return;
        while (end > out && (end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\r' || end[-1] == '\t'))
                end--;
        for (start = end; start > out && start[-1] != '\n'; start--)
                ;
        snprintf(buf, len, "%.*s", (int) (end - start), start);
}

int pkg_run(char *const *argv, const char *program, const pkg_env_t *env, exec_result_t *output,
            char *error, size_t error_len) {
        /* A file, not a pipe: apt must outlive an agent killed, or
         * restarted by its own upgrade, in the middle of it. */
        exec_options_t opts = { .timeout_ms = env->timeout_ms, .output_to_file = true };
        exec_result_t res;
        char why[64], line[256];
        int r = exec_run(argv, &opts, &res);

        if (r < 0) {
                snprintf(error, error_len, "cannot run %s: %s", program, strerror(-r));
                return r;
        }
        exec_result_free(output);
        *output = res;
        if (exec_succeeded(output))
                return 0;
        if (output->timed_out) {
                snprintf(error, error_len, "%s timed out after %" PRId64 " ms", program, env->timeout_ms);
                return -ETIMEDOUT;
        }
        last_line(output->output, line, sizeof line);
        snprintf(error, error_len, "%s failed (%s)%s%s", program, exec_describe(output, why, sizeof why),
                 line[0] ? ": " : "", line);
        return -EIO;
}

int pkg_verify(const pkg_backend_t *b, pkg_match_fn match, const pkg_env_t *env, const pkg_request_t *req,
               size_t n, const char *program, char *error, size_t error_len) {
        char **names = calloc(n + 1, sizeof *names), **now = NULL;
        int r;

        if (!names)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                names[i] = (char *) req[i].name;
        r = b->query(env, names, n, &now);
        free(names);
        if (r < 0) {
                snprintf(error, error_len, "after %s, cannot read the installed versions: %s", program,
                         strerror(-r));
                return -EIO;
        }
        for (size_t i = 0; i < n && r == 0; i++) {
                if (!now[i][0]) {
                        snprintf(error, error_len, "after %s, %s is not installed, not at %s", program,
                                 req[i].name, req[i].version);
                        r = -EIO;
                } else if (match(now[i], req[i].version) != 0) {
                        snprintf(error, error_len, "after %s, %s is at %s, not %s", program, req[i].name, now[i],
                                 req[i].version);
                        r = -EIO;
                }
        }
        pkg_versions_free(now, n);
        return r;
}
