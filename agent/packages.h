/* Installed versions of the packages an agent manages, read from the
 * package database (dpkg or rpm), never from the coordinator. */
#pragma once
#include <stddef.h>

typedef enum {
        PKG_BACKEND_APT,   /* dpkg-query / apt-get */
        PKG_BACKEND_DNF,   /* rpm / dnf */
} pkg_backend_t;

const char *pkg_backend_name(pkg_backend_t b);

/* "apt", "dnf", or "auto" (apt when dpkg-query exists, else dnf when rpm
 * exists). -ENOENT when auto finds neither, -EINVAL for another name. */
int pkg_backend_resolve(const char *configured, pkg_backend_t *ret);

/* Fills versions[i] (malloc'd, "" when not installed) for each of the n
 * names. dpkg_admindir may be NULL (dpkg's default database). Returns 0,
 * or -errno when the query program could not run; the caller frees with
 * packages_versions_free. */
int packages_query(pkg_backend_t b, const char *dpkg_admindir, char *const *names, size_t n,
                   char ***ret_versions);
void packages_versions_free(char **versions, size_t n);
