#include "common/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int s_write_all(int fd, const void *data, size_t len) {
        const char *p = data;
        while (len > 0) {
                ssize_t k = write(fd, p, len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EIO;
                p += k;
                len -= (size_t) k;
        }
        return 0;
}

static int s_fsync_dir(const char *dir) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = fsync(fd) < 0 ? -errno : 0;
        close(fd);
        return r;
}

/* Fills the temporary file: content, then owner before mode (chown clears
 * set-id bits), then fsync so that the rename never exposes a file whose
 * data is not yet on disk. */
static int s_fill(int fd, const void *data, size_t len, mode_t mode, uid_t uid, gid_t gid) {
        int r = s_write_all(fd, data, len);
        if (r < 0)
                return r;
        if ((uid != (uid_t) -1 || gid != (gid_t) -1) && fchown(fd, uid, gid) < 0)
                return -errno;
        if (fchmod(fd, mode & 07777) < 0)
                return -errno;
        if (fsync(fd) < 0)
                return -errno;
        return 0;
}

int atomic_file_replace(const char *path, const void *data, size_t len, mode_t mode, uid_t uid,
                        gid_t gid) {
        if (!path || (!data && len > 0))
                return -EINVAL;

        const char *slash = strrchr(path, '/');
        const char *base = slash ? slash + 1 : path;
        int dir_len = slash ? (int) (slash - path) : 0;
        if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
                return -EINVAL;

        char *dir = NULL, *tmp = NULL;
        if (slash)
                dir = dir_len > 0 ? strndup(path, (size_t) dir_len) : strdup("/");
        else
                dir = strdup(".");
        if (!dir || asprintf(&tmp, "%.*s.%s.XXXXXX", slash ? dir_len + 1 : 0, path, base) < 0) {
                free(dir);
                return -ENOMEM;
        }

        int r;
        int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                goto out;
        }
        r = s_fill(fd, data, len, mode, uid, gid);
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                goto out;
        }
        r = s_fsync_dir(dir);
out:
        free(tmp);
        free(dir);
        return r;
}

int atomic_file_replace_keep_meta(const char *path, const void *data, size_t len) {
        struct stat st;

        if (!path)
                return -EINVAL;
        if (lstat(path, &st) < 0)
                return -errno;
        if (S_ISLNK(st.st_mode))
                return -ELOOP;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        return atomic_file_replace(path, data, len, st.st_mode & 07777, st.st_uid, st.st_gid);
}

int file_read_all(const char *path, size_t max, char **ret, size_t *ret_len) {
        struct stat st;
        char *buf = NULL;
        size_t len = 0, cap;
        int r;

        if (!path)
                return -EINVAL;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto fail;
        }
        if (S_ISDIR(st.st_mode)) {
                r = -EISDIR;
                goto fail;
        }
        if (max > SIZE_MAX - 2)
                max = SIZE_MAX - 2;

        /* Room for the announced size, the NUL, and one byte more to
         * notice a file larger than max without trusting st_size (procfs
         * reports 0, files grow). */
        cap = (st.st_size > 0 && (uintmax_t) st.st_size <= max ? (size_t) st.st_size : 4096) + 2;
        buf = malloc(cap);
        if (!buf) {
                r = -ENOMEM;
                goto fail;
        }
        for (;;) {
                if (len + 1 >= cap) {
                        size_t ncap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
                        char *nbuf = realloc(buf, ncap);
                        if (!nbuf) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        buf = nbuf;
                        cap = ncap;
                }
                size_t want = cap - 1 - len;
                if (want > max + 1 - len)
                        want = max + 1 - len;
                ssize_t k = read(fd, buf + len, want);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto fail;
                }
                if (k == 0)
                        break;
                len += (size_t) k;
                if (len > max) {
                        r = -EFBIG;
                        goto fail;
                }
        }
        close(fd);
        buf[len] = '\0';
        *ret = buf;
        *ret_len = len;
        return 0;

fail:
        free(buf);
        close(fd);
        return r;
}
