/* The dnf backend: rpm reads, `dnf install` / `dnf reinstall` change. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/pkg_backend.h"
#include "common/vercmp.h"

#define QUERY_FORMAT "%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\n"
#define DEFAULT_RPMLOCK "/var/lib/rpm/.rpm.lock"
#define DNF_RPMDB_LOCK "/var/lib/dnf/rpmdb_lock.pid"

/* A wanted version without a release ("2.0") means any release of it, as
 * for dnf's own "name-2.0": compare the installed one without its release. */
static int dnf_match(const char *installed, const char *wanted) {
        const char *dash = strrchr(installed, '-');
        char buf[512];
        if (strchr(wanted, '-') || !dash || (size_t) (dash - installed) >= sizeof buf)
                return vercmp_rpm(installed, wanted);
        snprintf(buf, sizeof buf, "%.*s", (int) (dash - installed), installed);
        return vercmp_rpm(buf, wanted);
}

static int dnf_query(const pkg_env_t *env, char *const *names, size_t n, char ***ret_versions) {
        char **argv = calloc(n + 8, sizeof *argv);
        size_t a = 0;
        int r;

        if (!argv)
                return -ENOMEM;
        argv[a++] = "rpm";
        if (pkg_env_has_root(env)) {
                argv[a++] = "--root";
                argv[a++] = (char *) env->root;
        }
        argv[a++] = "-q";
        argv[a++] = "--qf";
        argv[a++] = QUERY_FORMAT;
        argv[a++] = "--";
        for (size_t i = 0; i < n; i++)
                argv[a++] = names[i];
        /* rpm exits with the number of packages it did not find. */
        r = pkg_query_run(argv, false, n < 255 ? (int) n : 255, names, n, ret_versions);
        free(argv);
        return r;
}

/* rpm's transaction lock is %{_rpmlock_path} under the root: /var/lib/rpm
 * on Fedora and RHEL, ~/.rpmdb on Debian's rpm. Asking rpm is the only way
 * to agree with it. */
static void rpm_lock_path(const pkg_env_t *env, char *buf, size_t len) {
        char *const argv[] = { "rpm", "--eval", "%{_rpmlock_path}", NULL };
        exec_options_t opts = { .timeout_ms = 10000, .max_output = 4096 };
        exec_result_t res;
        const char *path = DEFAULT_RPMLOCK;

        if (exec_run(argv, &opts, &res) == 0) {
                res.output[strcspn(res.output, "\n")] = '\0';
                if (exec_succeeded(&res) && res.output[0] == '/')
                        path = res.output;
                if (pkg_root_path(env, path, buf, len) < 0)
                        buf[0] = '\0';
                exec_result_free(&res);
        } else if (pkg_root_path(env, path, buf, len) < 0) {
                buf[0] = '\0';
        }
}

/* One dnf run for the specs in specs[0..n). */
static int run_dnf(const pkg_env_t *env, const char *verb, bool refresh, char *const *specs, size_t n,
                   exec_result_t *output, char *error, size_t error_len) {
        char **argv = calloc(n + 12, sizeof *argv);
        size_t a = 0;
        int r;

        if (!argv)
                return -ENOMEM;
        argv[a++] = "dnf";
        argv[a++] = "-y";
        if (pkg_env_has_root(env)) {
                argv[a++] = "--installroot";
                argv[a++] = (char *) env->root;
        }
        /* The counterpart of apt's --no-install-recommends. */
        argv[a++] = "--setopt=install_weak_deps=False";
        /* A version published since the last metadata download must be
         * found: refresh once per operation (a repomd.xml check). */
        if (refresh)
                argv[a++] = "--refresh";
        argv[a++] = (char *) verb;
        argv[a++] = "--";
        for (size_t i = 0; i < n; i++)
                argv[a++] = specs[i];
        r = pkg_run(argv, "dnf", env, output, error, error_len);
        free(argv);
        return r;
}

/* rpm holds its lock only during a transaction, dnf its pid lock for the
 * whole run; both wait for each other themselves (dnf without an end, rpm
 * too), so only our own wait is bounded. */
static int dnf_wait_idle(const pkg_env_t *env, char *error, size_t error_len) {
        char rpmlock[PATH_MAX], dnflock[PATH_MAX];
        pkg_lock_t locks[2];
        size_t n_locks = 0;
        rpm_lock_path(env, rpmlock, sizeof rpmlock);
        if (rpmlock[0])
                locks[n_locks++] = (pkg_lock_t) { rpmlock, PKG_LOCK_FCNTL };
        if (pkg_root_path(env, DNF_RPMDB_LOCK, dnflock, sizeof dnflock) == 0)
                locks[n_locks++] = (pkg_lock_t) { dnflock, PKG_LOCK_PIDFILE };
        return pkg_lock_wait(locks, n_locks, "rpm", env->lock_timeout_ms, error, error_len);
}

static int dnf_install(const pkg_env_t *env, const pkg_request_t *req, size_t n, bool allow_downgrade,
                       exec_result_t *output, char *error, size_t error_len) {
        char **names = NULL, **installed = NULL, **specs = NULL, **change = NULL, **same = NULL;
        size_t n_change = 0, n_same = 0;
        pkg_action_t *actions = NULL;
        int r;

        memset(output, 0, sizeof *output);
        error[0] = '\0';
        if (n == 0)
                return 0;
        if ((r = dnf_wait_idle(env, error, error_len)) < 0)
                return r;

        names = calloc(n + 1, sizeof *names);
        actions = calloc(n, sizeof *actions);
        specs = calloc(n, sizeof *specs);
        change = calloc(n, sizeof *change);
        same = calloc(n, sizeof *same);
        if (!names || !actions || !specs || !change || !same) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < n; i++)
                names[i] = (char *) req[i].name;
        if ((r = dnf_query(env, names, n, &installed)) < 0) {
                snprintf(error, error_len, "cannot read the installed versions: %s", strerror(-r));
                r = -EIO;
                goto out;
        }
        if ((r = pkg_plan(dnf_match, installed, req, n, allow_downgrade, actions, error, error_len)) < 0)
                goto out;
        for (size_t i = 0; i < n; i++) {
                if (asprintf(&specs[i], "%s-%s", req[i].name, req[i].version) < 0) {
                        specs[i] = NULL;
                        r = -ENOMEM;
                        goto out;
                }
                /* dnf install takes an exact version up or down ("no matter
                 * which version is already installed"), so new packages,
                 * upgrades and (allowed) downgrades share one transaction;
                 * it does nothing for an installed version: reinstall. */
                if (actions[i] == PKG_ACTION_REINSTALL)
                        same[n_same++] = specs[i];
                else
                        change[n_change++] = specs[i];
        }
        if (n_change > 0 && (r = run_dnf(env, "install", true, change, n_change, output, error, error_len)) < 0)
                goto out;
        if (n_same > 0 &&
            (r = run_dnf(env, "reinstall", n_change == 0, same, n_same, output, error, error_len)) < 0)
                goto out;
        r = pkg_verify(&pkg_backend_dnf, dnf_match, env, req, n, "dnf", error, error_len);
out:
        if (r == -ENOMEM && !error[0])
                snprintf(error, error_len, "out of memory");
        for (size_t i = 0; specs && i < n; i++)
                free(specs[i]);
        free(specs);
        free(change);
        free(same);
        free(names);
        free(actions);
        pkg_versions_free(installed, n);
        return r;
}

const pkg_backend_t pkg_backend_dnf = {
        .name = "dnf",
        .query = dnf_query,
        .install = dnf_install,
        .wait_idle = dnf_wait_idle,
        .compare = vercmp_rpm,
        .version_valid = version_valid_rpm,
};
