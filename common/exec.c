#include "common/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/clock.h"

#define EXEC_PATH               "/usr/sbin:/usr/bin:/sbin:/bin"
#define EXEC_DEFAULT_MAX_OUTPUT (64 * 1024)
/* Between SIGTERM and SIGKILL to the group after a timeout. */
#define EXEC_KILL_GRACE_MS      2000
/* How long to keep reading after the child exited (or was SIGKILLed)
 * while something else still holds the pipe open: a daemon it started
 * in another group must not make us wait for ever. */
#define EXEC_LINGER_MS          250
#define EXEC_LINGER_KILLED_MS   1000
/* Child-exit polling interval when pidfd_open() is unavailable. */
#define EXEC_TICK_MS            100

static const char *const s_fixed_env[] = {
        "PATH=" EXEC_PATH,
        "LANG=C.UTF-8",
        "DEBIAN_FRONTEND=noninteractive",
        NULL,
};

/* ---- the tail buffer: a ring holding the last cap bytes ----------------- */

typedef struct {
        char *buf;
        size_t cap, start, len;
        uint64_t total;
} tail_t;

static void s_tail_append(tail_t *t, const char *p, size_t n) {
        t->total += n;
        if (n >= t->cap) {
                memcpy(t->buf, p + (n - t->cap), t->cap);
                t->start = 0;
                t->len = t->cap;
                return;
        }
        while (n > 0) {
                size_t w = (t->start + t->len) % t->cap;
                size_t chunk = n < t->cap - w ? n : t->cap - w;
                memcpy(t->buf + w, p, chunk);
                t->len += chunk;
                if (t->len > t->cap) {
                        /* Overwrote the oldest bytes, which began at start. */
                        t->start = (t->start + (t->len - t->cap)) % t->cap;
                        t->len = t->cap;
                }
                p += chunk;
                n -= chunk;
        }
}

/* A NUL-terminated linear copy of the ring, or NULL. */
static char *s_tail_linearize(const tail_t *t) {
        char *s = malloc(t->len + 1);
        if (!s)
                return NULL;
        size_t first = t->cap - t->start < t->len ? t->cap - t->start : t->len;
        memcpy(s, t->buf + t->start, first);
        memcpy(s + first, t->buf, t->len - first);
        s[t->len] = '\0';
        return s;
}

/* ---- before fork: everything that allocates ----------------------------- */

static int s_resolve_program(const char *name, char **ret_path) {
        if (strchr(name, '/')) {
                /* A relative path would mean something else in the child,
                 * which runs in opts->cwd. */
                if (name[0] != '/')
                        return -EINVAL;
                if (access(name, F_OK) < 0)
                        return -errno;
                char *p = strdup(name);
                if (!p)
                        return -ENOMEM;
                *ret_path = p;
                return 0;
        }
        if (name[0] == '\0')
                return -ENOENT;

        int r = -ENOENT;
        const char *dir = EXEC_PATH;
        while (*dir) {
                size_t dlen = strcspn(dir, ":");
                char candidate[4096];
                int n = snprintf(candidate, sizeof candidate, "%.*s/%s", (int) dlen, dir, name);
                dir += dlen + (dir[dlen] == ':');
                if (n < 0 || (size_t) n >= sizeof candidate)
                        return -ENAMETOOLONG;
                struct stat st;
                if (stat(candidate, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if (access(candidate, X_OK) < 0) {
                        r = -EACCES;   /* keep looking, as execvp does */
                        continue;
                }
                char *p = strdup(candidate);
                if (!p)
                        return -ENOMEM;
                *ret_path = p;
                return 0;
        }
        return r;
}

static bool s_env_key_in(const char *entry, char *const *list) {
        size_t klen = strcspn(entry, "=");
        for (; list && *list; list++)
                if (strncmp(*list, entry, klen) == 0 && (*list)[klen] == '=')
                        return true;
        return false;
}

/* The fixed environment, where caller extras override fixed keys. */
static int s_build_env(char *const *extra, char ***ret_env) {
        size_t n_extra = 0;
        for (char *const *e = extra; e && *e; e++, n_extra++)
                if (!strchr(*e, '=') || **e == '=')
                        return -EINVAL;
        size_t n_fixed = sizeof s_fixed_env / sizeof s_fixed_env[0] - 1;
        char **env = calloc(n_fixed + n_extra + 1, sizeof *env);
        if (!env)
                return -ENOMEM;
        size_t i = 0;
        for (size_t f = 0; f < n_fixed; f++)
                if (!s_env_key_in(s_fixed_env[f], extra))
                        env[i++] = (char *) s_fixed_env[f];
        for (size_t e = 0; e < n_extra; e++)
                env[i++] = extra[e];
        *ret_env = env;
        return 0;
}

/* Moves fd off 0..2 so that the child's dup2() onto stdio cannot clobber
 * it (only happens when our own stdio was closed). */
static int s_fd_above_stdio(int fd) {
        if (fd > 2)
                return fd;
        int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        int saved = errno;
        close(fd);
        return moved < 0 ? -saved : moved;
}

/* ---- in the child: async-signal-safe calls only ------------------------- */

/* The parent may be multi-threaded (czmq actors), so between fork and
 * execve nothing here may allocate or take locks. */
__attribute__((noreturn))
static void s_child(int devnull, int out_w, int err_w, int max_fd, const char *path,
                    char *const argv[], char *const envp[], const char *cwd) {
        /* Dispositions first, while every signal is still blocked: the
         * parent's handlers must never run in the child, and signals the
         * daemon ignores (SIGPIPE) must not stay ignored across exec. */
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) sigaction(sig, &dfl, NULL);

        /* Own group, so a timeout can signal everything the child started. */
        if (setpgid(0, 0) < 0)
                goto fail;
        if (dup2(devnull, STDIN_FILENO) < 0 ||
            dup2(out_w, STDOUT_FILENO) < 0 ||
            dup2(out_w, STDERR_FILENO) < 0)
                goto fail;
        if (chdir(cwd) < 0)
                goto fail;

        /* Whatever other threads opened without O_CLOEXEC must not leak
         * into apt. Marking CLOEXEC (rather than closing) keeps err_w
         * usable until execve succeeds. */
        if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
                for (int fd = 3; fd < max_fd; fd++)
                        if (fd != err_w)
                                (void) close(fd);

        sigset_t none;
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);

        execve(path, argv, envp);
fail:;
        int e = errno;
        (void) !write(err_w, &e, sizeof e);
        _exit(127);
}

/* ---- after fork: read output, enforce the deadline, reap ---------------- */

typedef struct {
        pid_t pid;
        int out_fd;
        int pidfd;              /* -1: poll waitid() every EXEC_TICK_MS */
        bool exited;            /* observed, not yet reaped */
        bool eof;
        bool timed_out;
        bool killed;
        int64_t deadline;       /* 0: none */
        int64_t kill_at;
        int64_t linger_until;   /* 0: not lingering */
} supervise_t;

static void s_min_wake(int64_t *wake, int64_t t) {
        if (t > 0 && (*wake == 0 || t < *wake))
                *wake = t;
}

static void s_read_output(supervise_t *s, tail_t *tail) {
        char chunk[16384];
        ssize_t n = read(s->out_fd, chunk, sizeof chunk);
        if (n > 0)
                s_tail_append(tail, chunk, (size_t) n);
        else if (n == 0 || (errno != EAGAIN && errno != EINTR))
                s->eof = true;
}

static bool s_child_has_exited(pid_t pid) {
        /* WNOWAIT: the zombie keeps the pid (and so the process group id)
         * reserved, which makes kill(-pid, ...) safe until we reap. */
        siginfo_t si = { 0 };
        if (waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
                return errno == ECHILD;
        return si.si_pid == pid;
}

static void s_supervise(supervise_t *s, tail_t *tail) {
        for (;;) {
                int64_t now = clock_mono_ms();

                if (!s->exited && s->deadline > 0 && !s->timed_out && now >= s->deadline) {
                        s->timed_out = true;
                        (void) kill(-s->pid, SIGTERM);
                        s->kill_at = now + EXEC_KILL_GRACE_MS;
                }
                if (s->timed_out && !s->killed && now >= s->kill_at) {
                        s->killed = true;
                        (void) kill(-s->pid, SIGKILL);
                        s->linger_until = now + EXEC_LINGER_KILLED_MS;
                }
                if (s->exited && (s->eof || (s->linger_until > 0 && now >= s->linger_until)))
                        return;

                int64_t wake = 0;
                if (!s->exited && !s->timed_out)
                        s_min_wake(&wake, s->deadline);
                if (s->timed_out && !s->killed)
                        s_min_wake(&wake, s->kill_at);
                s_min_wake(&wake, s->linger_until);
                if (s->pidfd < 0 && !s->exited)
                        s_min_wake(&wake, now + EXEC_TICK_MS);

                struct pollfd pfd[2];
                nfds_t n = 0;
                if (!s->eof)
                        pfd[n++] = (struct pollfd) { .fd = s->out_fd, .events = POLLIN };
                if (s->pidfd >= 0 && !s->exited)
                        pfd[n++] = (struct pollfd) { .fd = s->pidfd, .events = POLLIN };
                int timeout = -1;
                if (wake > 0)
                        timeout = wake > now ? (int) (wake - now) : 0;

                int r = poll(pfd, n, timeout);
                if (r > 0 && !s->eof && pfd[0].revents)
                        s_read_output(s, tail);

                if (!s->exited && s_child_has_exited(s->pid)) {
                        s->exited = true;
                        /* After a timeout the grace timer governs; the
                         * group may still be cleaning up. */
                        if (!s->timed_out)
                                s->linger_until = clock_mono_ms() + EXEC_LINGER_MS;
                }
        }
}

/* out[0] for reading back, out[1] for the child: the same unlinked file. */
static int s_open_output_file(int out[2]) {
        int fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0) {
                /* No O_TMPFILE on this filesystem: create, then unlink. */
                char path[] = "/tmp/hitless-exec.XXXXXX";
                fd = mkostemp(path, O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                (void) unlink(path);
        }
        int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (dup_fd < 0) {
                int e = errno;
                close(fd);
                return -e;
        }
        out[0] = fd;
        out[1] = dup_fd;
        return 0;
}

/* The last tail->cap bytes of the output file, counted in tail->total. */
static void s_read_file_tail(int fd, tail_t *tail) {
        struct stat st;
        char chunk[16384];
        if (fstat(fd, &st) < 0)
                return;
        off_t off = st.st_size > (off_t) tail->cap ? st.st_size - (off_t) tail->cap : 0;
        tail->total += (size_t) off;   /* what was dropped before the tail */
        for (;;) {
                ssize_t n = pread(fd, chunk, sizeof chunk, off);
                if (n <= 0)
                        break;
                s_tail_append(tail, chunk, (size_t) n);
                off += n;
        }
}

static int s_reap(pid_t pid, int *ret_status) {
        for (;;) {
                if (waitpid(pid, ret_status, 0) >= 0)
                        return 0;
                if (errno != EINTR)
                        return -errno;
        }
}

int exec_run(char *const argv[], const exec_options_t *opts, exec_result_t *result) {
        static const exec_options_t defaults = { 0 };
        int r;

        if (!argv || !argv[0] || !result)
                return -EINVAL;
        if (!opts)
                opts = &defaults;

        _cleanup_free_ char *path = NULL;
        r = s_resolve_program(argv[0], &path);
        if (r < 0)
                return r;

        _cleanup_free_ char **envp = NULL;
        r = s_build_env(opts->extra_env, &envp);
        if (r < 0)
                return r;

        tail_t tail = { .cap = opts->max_output ? opts->max_output : EXEC_DEFAULT_MAX_OUTPUT };
        /* Only here to be freed on every return path. */
        _cleanup_free_ __attribute__((unused)) char *tail_buf = tail.buf = malloc(tail.cap);
        if (!tail.buf)
                return -ENOMEM;

        int out[2], err[2];
        if (opts->output_to_file) {
                if ((r = s_open_output_file(out)) < 0)
                        return r;
        } else if (pipe2(out, O_CLOEXEC) < 0) {
                return -errno;
        }
        _cleanup_close_ int out_r = s_fd_above_stdio(out[0]);
        _cleanup_close_ int out_w = s_fd_above_stdio(out[1]);
        if (out_r < 0 || out_w < 0)
                return out_r < 0 ? out_r : out_w;
        if (pipe2(err, O_CLOEXEC) < 0)
                return -errno;
        _cleanup_close_ int err_r = s_fd_above_stdio(err[0]);
        _cleanup_close_ int err_w = s_fd_above_stdio(err[1]);
        if (err_r < 0 || err_w < 0)
                return err_r < 0 ? err_r : err_w;
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        _cleanup_close_ int devnull = s_fd_above_stdio(fd);
        if (devnull < 0)
                return devnull;
        /* Only our end is non-blocking: the child gets a normal stdout. */
        if (!opts->output_to_file && fcntl(out_r, F_SETFL, O_NONBLOCK) < 0)
                return -errno;

        long open_max = sysconf(_SC_OPEN_MAX);
        int max_fd = open_max > 0 && open_max < 65536 ? (int) open_max : 65536;

        /* Block everything across fork so no handler runs in the child
         * before s_child() has reset the dispositions. */
        sigset_t all, saved;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &saved);
        int64_t start = clock_mono_ms();
        pid_t pid = fork();
        if (pid == 0)
                s_child(devnull, out_w, err_w, max_fd, path, argv, envp, opts->cwd ? opts->cwd : "/");
        int fork_errno = errno;
        pthread_sigmask(SIG_SETMASK, &saved, NULL);
        if (pid < 0)
                return -fork_errno;

        close(out_w);
        out_w = -1;
        close(err_w);
        err_w = -1;
        close(devnull);
        devnull = -1;

        /* EOF here means execve succeeded (CLOEXEC closed the pipe); by
         * then the child has also done its setpgid(), so kill(-pid) can
         * never miss the group. */
        int child_errno = 0;
        ssize_t n;
        do
                n = read(err_r, &child_errno, sizeof child_errno);
        while (n < 0 && errno == EINTR);
        if (n > 0) {
                int status;
                (void) s_reap(pid, &status);
                return n == (ssize_t) sizeof child_errno && child_errno > 0 ? -child_errno : -EIO;
        }

        supervise_t s = {
                .pid = pid,
                .out_fd = out_r,
                .eof = opts->output_to_file,   /* nothing to stream: read at the end */
                .pidfd = (int) syscall(SYS_pidfd_open, pid, 0),
                .deadline = opts->timeout_ms > 0 ? start + opts->timeout_ms : 0,
        };
        s_supervise(&s, &tail);
        if (s.pidfd >= 0)
                close(s.pidfd);

        int status = 0;
        r = s_reap(pid, &status);
        if (r < 0)
                return r;

        if (opts->output_to_file)
                s_read_file_tail(out_r, &tail);
        char *output = s_tail_linearize(&tail);
        if (!output)
                return -ENOMEM;

        *result = (exec_result_t) {
                .exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                .signaled = WIFSIGNALED(status),
                .signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0,
                .timed_out = s.timed_out,
                .output = output,
                .output_len = tail.len,
                .output_truncated = tail.total > tail.len,
                .duration_ms = clock_mono_ms() - start,
        };
        return 0;
}

void exec_result_free(exec_result_t *result) {
        if (!result)
                return;
        free(result->output);
        result->output = NULL;
        result->output_len = 0;
}

bool exec_succeeded(const exec_result_t *result) {
        return result && !result->timed_out && !result->signaled && result->exit_code == 0;
}

const char *exec_describe(const exec_result_t *result, char *buf, size_t len) {
        if (result->timed_out)
                snprintf(buf, len, "timed out after %lld ms", (long long) result->duration_ms);
        else if (result->signaled)
                snprintf(buf, len, "killed by signal %d", result->signal);
        else
                snprintf(buf, len, "exit %d", result->exit_code);
        return buf;
}
