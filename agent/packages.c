#include "agent/packages.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/exec.h"

const char *pkg_backend_name(pkg_backend_t b) {
        return b == PKG_BACKEND_APT ? "apt" : "dnf";
}

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

int pkg_backend_resolve(const char *configured, pkg_backend_t *ret) {
        if (strcmp(configured, "apt") == 0)
                *ret = PKG_BACKEND_APT;
        else if (strcmp(configured, "dnf") == 0)
                *ret = PKG_BACKEND_DNF;
        else if (strcmp(configured, "auto") != 0)
                return -EINVAL;
        else if (have_program("dpkg-query"))
                *ret = PKG_BACKEND_APT;
        else if (have_program("rpm"))
                *ret = PKG_BACKEND_DNF;
        else
                return -ENOENT;
        return 0;
}

void packages_versions_free(char **versions, size_t n) {
        if (!versions)
                return;
        for (size_t i = 0; i < n; i++)
                free(versions[i]);
        free(versions);
}

/* Output lines are "NAME\tVERSION\tSTATUS"; dpkg's status "ii " means
 * installed, rpm prints no status (a line at all means installed). */
static void parse_output(pkg_backend_t b, char *out, char *const *names, size_t n, char **versions) {
        char *save = NULL;
        for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *name = line, *version = strchr(line, '\t'), *status;
                if (!version)
                        continue;
                *version++ = '\0';
                status = strchr(version, '\t');
                if (status)
                        *status++ = '\0';
                if (b == PKG_BACKEND_APT && (!status || strncmp(status, "ii", 2) != 0))
                        continue;
                for (size_t i = 0; i < n; i++)
                        if (strcmp(names[i], name) == 0) {
                                free(versions[i]);
                                versions[i] = strdup(version);
                        }
        }
}

int packages_query(pkg_backend_t b, const char *dpkg_admindir, char *const *names, size_t n,
                   char ***ret_versions) {
        char **versions = calloc(n + 1, sizeof *versions);
        char **argv = calloc(n + 6, sizeof *argv);
        char admindir[4200];
        exec_options_t opts = { .timeout_ms = 30000, .max_output = 256 * 1024 };
        exec_result_t res;
        size_t a = 0;
        int r = -ENOMEM;

        if (!versions || !argv)
                goto out;
        for (size_t i = 0; i < n; i++)
                if (!(versions[i] = strdup("")))
                        goto out;
        if (n == 0) {
                r = 0;
                goto out;
        }
        if (b == PKG_BACKEND_APT) {
                argv[a++] = "dpkg-query";
                if (dpkg_admindir) {
                        snprintf(admindir, sizeof admindir, "--admindir=%s", dpkg_admindir);
                        argv[a++] = admindir;
                }
                argv[a++] = "-W";
                argv[a++] = "-f=${Package}\t${Version}\t${db:Status-Abbrev}\n";
        } else {
                argv[a++] = "rpm";
                argv[a++] = "-q";
                argv[a++] = "--qf";
                argv[a++] = "%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\n";
        }
        /* "--" is not needed: names come from the agent's own config and
         * are validated there; they never come from the network. */
        for (size_t i = 0; i < n; i++)
                argv[a++] = names[i];
        r = exec_run(argv, &opts, &res);
        if (r < 0)
                goto out;
        /* Exit 1 only means some package is not installed. */
        parse_output(b, res.output, names, n, versions);
        exec_result_free(&res);
        r = 0;
out:
        free(argv);
        if (r < 0)
                packages_versions_free(versions, n);
        else
                *ret_versions = versions;
        return r;
}
