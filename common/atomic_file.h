/* Replacing a file so that readers and crashes only ever see the old or
 * the new content, never a mix or an empty file: write a temporary file in
 * the same directory (same filesystem, so rename is atomic), fsync it,
 * rename it over the target, fsync the directory so the rename itself is
 * durable. On any failure before the rename the temporary file is removed
 * and the target is untouched.
 *
 * The temporary file is ".NAME.XXXXXX" beside NAME (O_EXCL, random suffix):
 * hidden, and matching none of the "*.conf" globs that services use to read
 * a directory. */
#pragma once
#include <stddef.h>
#include <sys/types.h>

#include "common/attrs.h"

/* Replaces path with len bytes of data (may be NULL if len is 0), with
 * exactly this mode (umask does not apply) and owner; uid or gid -1 leave
 * that id as the creating process's. path is replaced as a name: if it is
 * a symlink, the link is replaced, not its target.
 *
 * Returns 0, or -errno. A failure to fsync the directory after the rename
 * is reported, but the new content is then already in place. */
HL_MUST_USE int atomic_file_replace(const char *path, const void *data, size_t len, mode_t mode, uid_t uid,
                                    gid_t gid);

/* As atomic_file_replace, keeping the mode (permission bits) and owner of
 * the existing file. -ENOENT if path does not exist, -ELOOP if it is a
 * symlink and -EINVAL if it is not a regular file: editing a service's
 * config must not silently turn a link into a copy. */
HL_MUST_USE int atomic_file_replace_keep_meta(const char *path, const void *data, size_t len);

/* Reads all of path (at most max bytes) into a malloc'd buffer, with a NUL
 * after the data for convenience; *ret_len excludes it. Returns 0, -EFBIG
 * if the file is larger than max, or -errno. */
HL_MUST_USE int file_read_all(const char *path, size_t max, char **ret, size_t *ret_len);
