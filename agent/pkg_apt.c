/* The apt backend: dpkg-query reads, apt-get install name=version changes. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/pkg_backend.h"
#include "common/vercmp.h"

#define QUERY_FORMAT "-f=${Package}\t${Version}\t${db:Status-Abbrev}\n"

static int apt_query(const pkg_env_t *env, char *const *names, size_t n, char ***ret_versions) {
        char opt[PATH_MAX + 16];
        char **argv;
        size_t a = 0;
        int r;

        if (pkg_env_has_root(env) && env->dpkg_admindir)
                return -EINVAL;
        if (!(argv = calloc(n + 6, sizeof *argv)))
                return -ENOMEM;
        argv[a++] = "dpkg-query";
        if (pkg_env_has_root(env)) {
                snprintf(opt, sizeof opt, "--root=%s", env->root);
                argv[a++] = opt;
        } else if (env->dpkg_admindir) {
                snprintf(opt, sizeof opt, "--admindir=%s", env->dpkg_admindir);
                argv[a++] = opt;
        }
        argv[a++] = "-W";
        argv[a++] = QUERY_FORMAT;
        argv[a++] = "--";
        for (size_t i = 0; i < n; i++)
                argv[a++] = names[i];
        /* Exit 1 only means some name matched no package. */
        r = pkg_query_run(argv, true, 1, names, n, ret_versions);
        free(argv);
        return r;
}

/* dpkg's administrative directory on the host: its lock and lock-frontend
 * (which apt takes for a whole run, dpkg alone takes only lock). */
static int admin_dir(const pkg_env_t *env, char *buf, size_t len) {
        if (!pkg_env_has_root(env) && env->dpkg_admindir) {
                int w = snprintf(buf, len, "%s", env->dpkg_admindir);
                return w < 0 || (size_t) w >= len ? -ENAMETOOLONG : 0;
        }
        return pkg_root_path(env, "/var/lib/dpkg", buf, len);
}

typedef struct {
        char *argv[32];
        char *owned[8];
        size_t n, n_owned;
} argv_builder_t;

static void push(argv_builder_t *b, const char *arg) {
        if (b->n < sizeof b->argv / sizeof *b->argv - 1)
                b->argv[b->n++] = (char *) arg;
}

static int push_printf(argv_builder_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int push_printf(argv_builder_t *b, const char *fmt, ...) {
        va_list ap;
        char *s = NULL;
        int r;
        if (b->n_owned >= sizeof b->owned / sizeof *b->owned)
                return -E2BIG;
        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        b->owned[b->n_owned++] = s;
        push(b, s);
        return 0;
}

/* Refreshes apt's lists, so versions published since the node's last
 * update can be found. Best effort: an unreachable mirror must not stop a
 * rollback to versions apt still has; the install then says what is
 * missing. */
static void apt_update(const pkg_env_t *env) {
        char *argv[8];
        size_t a = 0;
        exec_options_t opts = { .timeout_ms = env->timeout_ms };
        exec_result_t res;
        if (pkg_env_has_root(env)) {
                argv[a++] = "chroot";
                argv[a++] = (char *) env->root;
        }
        argv[a++] = "apt-get";
        argv[a++] = "update";
        argv[a++] = "-q";
        argv[a] = NULL;
        if (exec_run(argv, &opts, &res) == 0)
                exec_result_free(&res);
}

/* dpkg --audit lists packages left half-installed or half-configured: an
 * install is only done when it lists nothing. */
static int apt_audit(const pkg_env_t *env, char *error, size_t error_len) {
        char *argv[8], admindir[PATH_MAX + 16];
        size_t a = 0;
        exec_options_t opts = { .timeout_ms = 60000 };
        exec_result_t res;
        if (pkg_env_has_root(env)) {
                argv[a++] = "chroot";
                argv[a++] = (char *) env->root;
        }
        argv[a++] = "dpkg";
        if (!pkg_env_has_root(env) && env->dpkg_admindir) {
                snprintf(admindir, sizeof admindir, "--admindir=%s", env->dpkg_admindir);
                argv[a++] = admindir;
        }
        argv[a++] = "--audit";
        argv[a] = NULL;
        int r = exec_run(argv, &opts, &res);
        if (r < 0)
                return 0;  /* no dpkg to ask: the version check stands */
        if (res.output_len > 0) {
                char *nl = strchr(res.output, '\n');
                if (nl && nl[1])
                        nl = strchr(nl + 1, '\n');
                if (nl)
                        *nl = '\0';
                snprintf(error, error_len, "dpkg --audit: %s", res.output);
                r = -EIO;
        }
        exec_result_free(&res);
        return r;
}

/* dpkg's two locks in its admin directory dir. */
static int apt_wait_locks(const pkg_env_t *env, const char *dir, char *error, size_t error_len) {
        char lock_frontend[PATH_MAX + 16], lock[PATH_MAX + 16];
        pkg_lock_t locks[2] = { { lock_frontend, PKG_LOCK_FCNTL }, { lock, PKG_LOCK_FCNTL } };
        snprintf(lock_frontend, sizeof lock_frontend, "%s/lock-frontend", dir);
        snprintf(lock, sizeof lock, "%s/lock", dir);
        return pkg_lock_wait(locks, 2, "dpkg", env->lock_timeout_ms, error, error_len);
}

static int apt_wait_idle(const pkg_env_t *env, char *error, size_t error_len) {
        char dir[PATH_MAX];
        int r = admin_dir(env, dir, sizeof dir);
        if (r < 0) {
                snprintf(error, error_len, "package root path too long");
                return r;
        }
        return apt_wait_locks(env, dir, error, error_len);
}

static int apt_install(const pkg_env_t *env, const pkg_request_t *req, size_t n, bool allow_downgrade,
                       exec_result_t *output, char *error, size_t error_len) {
        char dir[PATH_MAX];
        argv_builder_t b = { .n = 0 };
        char **argv = NULL, **names = NULL, **installed = NULL, **specs = NULL;
        pkg_action_t *actions = NULL;
        bool reinstall = false, downgrade = false;
        size_t a;
        int r;

        memset(output, 0, sizeof *output);
        error[0] = '\0';
        if (n == 0)
                return 0;
        if (pkg_env_has_root(env) && env->dpkg_admindir) {
                snprintf(error, error_len, "dpkg_admindir cannot be combined with a package root");
                return -EINVAL;
        }
        if ((r = admin_dir(env, dir, sizeof dir)) < 0) {
                snprintf(error, error_len, "package root path too long");
                return r;
        }
        if ((r = apt_wait_locks(env, dir, error, error_len)) < 0)
                return r;

        names = calloc(n + 1, sizeof *names);
        actions = calloc(n, sizeof *actions);
        specs = calloc(n, sizeof *specs);
        if (!names || !actions || !specs) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < n; i++)
                names[i] = (char *) req[i].name;
        if ((r = apt_query(env, names, n, &installed)) < 0) {
                snprintf(error, error_len, "cannot read the installed versions: %s", strerror(-r));
                r = -EIO;
                goto out;
        }
        if ((r = pkg_plan(vercmp_dpkg, installed, req, n, allow_downgrade, actions, error, error_len)) < 0)
                goto out;
        for (size_t i = 0; i < n; i++) {
                reinstall |= actions[i] == PKG_ACTION_REINSTALL;
                downgrade |= actions[i] == PKG_ACTION_DOWNGRADE;
                if (asprintf(&specs[i], "%s=%s", req[i].name, req[i].version) < 0) {
                        specs[i] = NULL;
                        r = -ENOMEM;
                        goto out;
                }
        }

        /* apt's RootDir leaks the host's configuration into the root, so a
         * root is entered with chroot(8): the root brings its own apt. */
        if (pkg_env_has_root(env)) {
                push(&b, "chroot");
                push(&b, env->root);
        }
        push(&b, "apt-get");
        push(&b, "install");
        push(&b, "-y");
        push(&b, "-q");
        push(&b, "--no-install-recommends");
        push(&b, "-o");
        push(&b, "Dpkg::Options::=--force-confold");
        push(&b, "-o");
        push(&b, "Dpkg::Options::=--force-confdef");
        push(&b, "-o");
        push(&b, "Dpkg::Use-Pty=0");
        /* The lock may be taken between our check and apt's: apt then
         * waits too instead of failing at once. */
        push(&b, "-o");
        r = push_printf(&b, "DPkg::Lock::Timeout=%lld",
                        (long long) ((env->lock_timeout_ms > 0 ? env->lock_timeout_ms : 0) + 999) / 1000);
        if (r == 0 && !pkg_env_has_root(env) && env->dpkg_admindir) {
                push(&b, "-o");
                r = push_printf(&b, "Dir::State::status=%s/status", env->dpkg_admindir);
                if (r == 0) {
                        push(&b, "-o");
                        r = push_printf(&b, "DPkg::Options::=--admindir=%s", env->dpkg_admindir);
                }
        }
        if (r < 0)
                goto out;
        if (downgrade)
                push(&b, "--allow-downgrades");
        /* Without it apt does nothing for a package already at the version;
         * with it, the others are installed or upgraded as usual. */
        if (reinstall)
                push(&b, "--reinstall");
        push(&b, "--");
        if (!(argv = calloc(b.n + n + 1, sizeof *argv))) {
                r = -ENOMEM;
                goto out;
        }
        a = 0;
        for (size_t i = 0; i < b.n; i++)
                argv[a++] = b.argv[i];
        for (size_t i = 0; i < n; i++)
                argv[a++] = specs[i];

        apt_update(env);
        if ((r = pkg_run(argv, "apt-get", env, output, error, error_len)) < 0)
                goto out;
        r = pkg_verify(&pkg_backend_apt, vercmp_dpkg, env, req, n, "apt-get", error, error_len);
        if (r >= 0)
                r = apt_audit(env, error, error_len);
out:
        if (r == -ENOMEM && !error[0])
                snprintf(error, error_len, "out of memory");
        for (size_t i = 0; i < b.n_owned; i++)
                free(b.owned[i]);
        for (size_t i = 0; specs && i < n; i++)
                free(specs[i]);
        free(specs);
        free(argv);
        free(names);
        free(actions);
        pkg_versions_free(installed, n);
        return r;
}

const pkg_backend_t pkg_backend_apt = {
        .name = "apt",
        .query = apt_query,
        .install = apt_install,
        .wait_idle = apt_wait_idle,
        .compare = vercmp_dpkg,
        .version_valid = version_valid_dpkg,
};
