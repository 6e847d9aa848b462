/* Package backends: apt/dpkg and dnf/rpm behind one table of functions
 * (like OpenSMTPD's queue backends), chosen by policy or detected.
 *
 * The installed versions are always read from the package database
 * (dpkg-query, rpm), never taken from the coordinator. One package
 * operation runs at a time: if the dpkg/rpm lock is held, install waits up
 * to env->lock_timeout_ms and then fails with -EBUSY, naming the holder
 * (pid and command) in the error text. Children run through common/exec
 * (argv, fixed PATH, DEBIAN_FRONTEND=noninteractive, process-group
 * timeout, bounded output). Package names and versions reaching here are
 * already checked against the policy and version syntax by the caller.
 *
 * apt (pkg_apt.c): dpkg-query reads; `apt-get install name=version ...`
 * changes, with --reinstall when some package is already at its version
 * and --allow-downgrades only for an allowed downgrade. With a root, apt
 * runs under chroot(8) (apt's RootDir option does not isolate the host's
 * settings) and dpkg-query gets --root.
 *
 * dnf (pkg_dnf.c): rpm reads; `dnf install name-version ...` brings new,
 * older and newer packages to the exact version in one transaction (dnf
 * installs an exact version "no matter which version is already
 * installed"), then `dnf reinstall` runs for those already at their
 * version. A version without a release ("2.0") matches any release, as it
 * does for dnf. With a root, dnf gets --installroot (and reads that root's
 * /etc/yum.repos.d and /etc/dnf/dnf.conf when present) and rpm --root. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/attrs.h"
#include "common/exec.h"

typedef struct {
        const char *root;            /* NULL, "" or "/": the real system; else an
                                        install root (dnf --installroot, rpm --root,
                                        chroot for apt-get, dpkg-query --root) */
        const char *dpkg_admindir;   /* NULL: dpkg's default. A host path; apt
                                        only, and not together with root (-EINVAL) */
        int64_t lock_timeout_ms;
        int64_t timeout_ms;          /* one apt-get/dnf run; 0: no limit */
} pkg_env_t;

typedef struct {
        const char *name;
        const char *version;         /* exact version, dpkg or rpm syntax */
} pkg_request_t;

typedef struct {
        const char *name;            /* "apt" or "dnf" */
        /* versions[i] (malloc'd, "" when not installed) for each name; free
         * with pkg_versions_free. -EIO when the query program failed (for
         * example an unreadable database), not for a missing package. */
        int (*query)(const pkg_env_t *env, char *const *names, size_t n, char ***ret_versions);
        /* Brings every package to exactly its version: upgrade, reinstall
         * of the same version, or (allow_downgrade) downgrade. Existing
         * config files are kept (dpkg --force-confold). Verifies afterwards
         * that each package is at its version. output is zeroed first and,
         * whenever apt-get/dnf ran (success or not), holds the last run's
         * result (its tail; caller frees with exec_result_free). On failure
         * returns -errno and fills error (a line saying why). Errors:
         * -EBUSY lock held past the timeout, -EPERM a downgrade without
         * allow_downgrade (nothing is run), -ETIMEDOUT, -EIO the program
         * failed or the result is not what was asked, -EINVAL a bad env. */
        int (*install)(const pkg_env_t *env, const pkg_request_t *req, size_t n,
                       bool allow_downgrade, exec_result_t *output, char *error, size_t error_len);
        /* Waits until no package operation holds the dpkg/rpm locks (up
         * to env->lock_timeout_ms): 0, or -EBUSY naming the holder. The
         * agent calls it before reading the node's real state after a
         * restart, since apt may still be finishing what it started. */
        int (*wait_idle)(const pkg_env_t *env, char *error, size_t error_len);
        /* Version order of this backend: <0, 0, >0 (common/vercmp). */
        int (*compare)(const char *a, const char *b);
        bool (*version_valid)(const char *v);
} pkg_backend_t;

extern const pkg_backend_t pkg_backend_apt;
extern const pkg_backend_t pkg_backend_dnf;

/* "apt", "dnf", or "auto" (apt when dpkg-query exists, else dnf when rpm
 * exists). -ENOENT when auto finds neither, -EINVAL for another name. */
HL_MUST_USE int pkg_backend_resolve(const char *configured, const pkg_backend_t **ret);

void pkg_versions_free(char **versions, size_t n);

/* ---- Shared by the backends (pkg_backend.c); public for the unit tests ---- */

typedef enum {
        PKG_ACTION_INSTALL,          /* not installed yet */
        PKG_ACTION_UPGRADE,
        PKG_ACTION_REINSTALL,        /* already at the version */
        PKG_ACTION_DOWNGRADE,
} pkg_action_t;

const char *pkg_action_name(pkg_action_t a);

/* Orders an installed version against a wanted one: <0 (older), 0 (the
 * wanted version), >0. */
typedef int (*pkg_match_fn)(const char *installed, const char *wanted);

/* The action for each request, from installed[i] ("" = not installed).
 * -EPERM (error names the package) when a downgrade is not allowed. */
HL_MUST_USE int pkg_plan(pkg_match_fn match, char *const *installed, const pkg_request_t *req, size_t n,
                         bool allow_downgrade, pkg_action_t *ret_actions, char *error, size_t error_len);

/* Parses query output, lines "NAME\tVERSION" (rpm) or
 * "NAME\tVERSION\tSTATUS" (dpkg_status: only status "ii" counts as
 * installed); other lines are ignored. Sets versions[i] (which must hold
 * malloc'd strings, "" for not installed) for each names[i] seen. out is
 * modified. 0 or -ENOMEM. */
HL_MUST_USE int pkg_parse_query(char *out, bool dpkg_status, char *const *names, size_t n, char **versions);

typedef enum {
        PKG_LOCK_FCNTL,              /* dpkg, apt, rpm: an fcntl write lock */
        PKG_LOCK_PIDFILE,            /* dnf: a file holding a live pid */
} pkg_lock_kind_t;

typedef struct {
        const char *path;
        pkg_lock_kind_t kind;
} pkg_lock_t;

/* 1 with *ret_pid (0 when not known, e.g. another pid namespace) when held
 * by another process, 0 when free or the file does not exist, -errno. */
HL_MUST_USE int pkg_lock_holder(const pkg_lock_t *lock, pid_t *ret_pid);

/* Polls every 500 ms until none of the locks is held. After timeout_ms:
 * -EBUSY, error "WHAT lock held by pid N (COMM) for more than X s". */
HL_MUST_USE int pkg_lock_wait(const pkg_lock_t *locks, size_t n, const char *what, int64_t timeout_ms,
                              char *error, size_t error_len);

/* For pkg_apt.c and pkg_dnf.c. */

/* True when env names a root other than "/". */
bool pkg_env_has_root(const pkg_env_t *env);

/* path ("/var/lib/...") under env's root into buf. -ENAMETOOLONG. */
HL_MUST_USE int pkg_root_path(const pkg_env_t *env, const char *path, char *buf, size_t len);

/* Runs a query program and parses its output (pkg_parse_query); an exit
 * code above max_ok_exit (dpkg-query and rpm use low codes for "not
 * installed") is -EIO. */
HL_MUST_USE int pkg_query_run(char *const *argv, bool dpkg_status, int max_ok_exit, char *const *names, size_t n,
                              char ***ret_versions);

/* Runs one apt-get/dnf (named program in messages) within
 * env->timeout_ms; *output gets its result (freeing an earlier one). 0 when
 * it exited 0; else -ETIMEDOUT or -EIO (error: program, exit status, last
 * output line), or exec_run's -errno. */
HL_MUST_USE int pkg_run(char *const *argv, const char *program, const pkg_env_t *env, exec_result_t *output,
                        char *error, size_t error_len);

/* Reads the versions again: -EIO "after PROGRAM, NAME is at X, not Y" for
 * the first package not at its version. */
HL_MUST_USE int pkg_verify(const pkg_backend_t *b, pkg_match_fn match, const pkg_env_t *env, const pkg_request_t *req,
                           size_t n, const char *program, char *error, size_t error_len);
