/* Child processes, the only way hitless runs programs.
 *
 * An argv is executed directly (never through a shell) with a fixed
 * environment (PATH=/usr/sbin:/usr/bin:/sbin:/bin, LANG=C.UTF-8,
 * DEBIAN_FRONTEND=noninteractive, plus caller extras), stdin from
 * /dev/null, stdout and stderr captured together into a bounded buffer that
 * keeps the *tail* (the end of apt's output is what explains a failure).
 * The child leads its own process group; on timeout the whole group gets
 * SIGTERM, then SIGKILL after a 2 s grace period. Signal mask and
 * dispositions are reset to defaults in the child (the daemons block
 * SIGTERM for their signalfd) and no other descriptor is inherited.
 *
 * exec_run returns once the child has exited and the pipe reached EOF.
 * Something that outlives the child but keeps the pipe open (a daemon it
 * started in another group) is waited for only briefly, then ignored.
 * Safe to call from a multi-threaded process; the caller must not have
 * SIGCHLD set to SIG_IGN (the child would be reaped behind our back). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/attrs.h"

typedef struct {
        int exit_code;        /* valid if !signaled && !timed_out */
        int signal;           /* terminating signal, if signaled */
        bool signaled;
        bool timed_out;
        char *output;         /* NUL-terminated tail of stdout+stderr (owned) */
        size_t output_len;
        bool output_truncated;/* earlier output was dropped */
        int64_t duration_ms;
} exec_result_t;

typedef struct {
        int64_t timeout_ms;        /* 0: no limit */
        size_t max_output;         /* bytes of tail kept; 0: 64 KiB */
        char *const *extra_env;    /* NULL-terminated "K=V" entries, or NULL;
                                      a key given here replaces the fixed one */
        const char *cwd;           /* NULL: "/" */
        /* Output to an unlinked temporary file in /tmp instead of a pipe,
         * read back (its tail) when the child exits. For children that
         * must survive this process dying mid-run: a pipe whose reader is
         * gone kills the next write with SIGPIPE (dpkg in a postinst when
         * the agent is killed, or restarted by its own upgrade). */
        bool output_to_file;
} exec_options_t;

/* Runs argv[0] (an absolute path, or a bare name looked up in the fixed
 * PATH; a relative path with '/' is -EINVAL) and waits. Returns 0 when the
 * child ran (whatever its exit status: see result), or -errno when it
 * could not be started (-ENOENT: no such program, -EACCES: not
 * executable, or execve's/chdir's error in the child). result is written
 * only on 0, and then result->output is always allocated; free with
 * exec_result_free. */
HL_MUST_USE int exec_run(char *const argv[], const exec_options_t *opts, exec_result_t *result);

void exec_result_free(exec_result_t *result);

/* True if the child exited 0 without timeout or signal. */
bool exec_succeeded(const exec_result_t *result);

/* A short human-readable description: "exit 3", "killed by signal 9",
 * "timed out after 5000 ms". */
const char *exec_describe(const exec_result_t *result, char *buf, size_t len);
