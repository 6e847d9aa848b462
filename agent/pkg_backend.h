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
 * already checked against the policy and version syntax by the caller. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/exec.h"

typedef struct {
        const char *root;            /* NULL or "/": the real system; else an
                                        install root (dnf --installroot, rpm --root) */
        const char *dpkg_admindir;   /* NULL: dpkg's default */
        int64_t lock_timeout_ms;
        int64_t timeout_ms;          /* one apt-get/dnf run */
} pkg_env_t;

typedef struct {
        const char *name;
        const char *version;         /* exact version, dpkg or rpm syntax */
} pkg_request_t;

typedef struct {
        const char *name;            /* "apt" or "dnf" */
        /* versions[i] (malloc'd, "" when not installed) for each name. */
        int (*query)(const pkg_env_t *env, char *const *names, size_t n, char ***ret_versions);
        /* Brings every package to exactly its version: upgrade, reinstall
         * of the same version, or (allow_downgrade) downgrade. Existing
         * config files are kept (dpkg --force-confold). Verifies afterwards
         * that each package is at its version. On failure returns -errno
         * and fills error (a line saying why) and, when a program ran,
         * output (its tail, caller frees with exec_result_free). Errors:
         * -EBUSY lock held past the timeout, -EPERM a downgrade without
         * allow_downgrade, -ETIMEDOUT, -EIO the program failed or the
         * result is not what was asked. */
        int (*install)(const pkg_env_t *env, const pkg_request_t *req, size_t n,
                       bool allow_downgrade, exec_result_t *output, char *error, size_t error_len);
        /* Version order of this backend: <0, 0, >0 (common/vercmp). */
        int (*compare)(const char *a, const char *b);
        bool (*version_valid)(const char *v);
} pkg_backend_t;

extern const pkg_backend_t pkg_backend_apt;
extern const pkg_backend_t pkg_backend_dnf;

/* "apt", "dnf", or "auto" (apt when dpkg-query exists, else dnf when rpm
 * exists). -ENOENT when auto finds neither, -EINVAL for another name. */
int pkg_backend_resolve(const char *configured, const pkg_backend_t **ret);

void pkg_versions_free(char **versions, size_t n);
