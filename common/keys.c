#include "common/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char z85_chars[] =
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

bool keys_z85_valid(const char *s) {
        if (!s || strlen(s) != KEYS_Z85_LEN)
                return false;
        for (const char *p = s; *p; p++)
                if (!strchr(z85_chars, *p))
                        return false;
        /* Z85 decodes 5 chars to a 32-bit word; reject overflow. */
        uint8_t buf[32];
        return zmq_z85_decode(buf, s) != NULL;
}

int keys_generate(const char *dir, const char *name, char ret_public[KEYS_Z85_LEN + 1]) {
        char pub[4096], sec[4096];
        struct stat st;
        int r = 0;

        if ((size_t) snprintf(pub, sizeof pub, "%s/%s.key", dir, name) >= sizeof pub - 8)
                return -ENAMETOOLONG;
        snprintf(sec, sizeof sec, "%s/%s.key_secret", dir, name);
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        if (stat(pub, &st) == 0 || stat(sec, &st) == 0)
                return -EEXIST;

        zcert_t *cert = zcert_new();
        if (!cert)
                return -ENOMEM;
        zcert_set_meta(cert, "created-by", "hitless");
        /* Create the secret file 0600 before zcert writes into it, so the
         * secret is never readable by others, even for an instant. */
        int fd = open(sec, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
                r = -errno;
                goto out;
        }
        close(fd);
        if (zcert_save_secret(cert, sec) != 0 || zcert_save_public(cert, pub) != 0) {
                r = -EIO;
                unlink(sec);
                unlink(pub);
                goto out;
        }
        if (chmod(sec, 0600) < 0 || chmod(pub, 0644) < 0) {
                r = -errno;
                goto out;
        }
        if (ret_public)
                snprintf(ret_public, KEYS_Z85_LEN + 1, "%s", zcert_public_txt(cert));
out:
        zcert_destroy(&cert);
        return r;
}

static bool key_is_zero(const byte *k) {
        for (int i = 0; i < 32; i++)
                if (k[i])
                        return false;
        return true;
}

/* Reads the zcert text file at path itself rather than with zcert_load(),
 * which first tries "PATH_secret" (so it may read another file than the
 * one checked) and leaks memory on a file that does not parse. Returns a
 * certificate (secret key zero if the file has none) or NULL. */
static zcert_t *cert_load(const char *path) {
        uint8_t pub[32] = { 0 }, sec[32] = { 0 };
        char buf[16384];
        zcert_t *cert = NULL;
        FILE *f = fopen(path, "re");
        size_t n;

        if (!f)
                return NULL;
        n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        if (n == 0 || n == sizeof buf)
                return NULL;  /* empty, or far too large for a key file */
        zchunk_t *chunk = zchunk_new(buf, n);
        if (!chunk)
                return NULL;
        zconfig_t *root = zconfig_chunk_load(chunk);
        zchunk_destroy(&chunk);
        if (!root)
                return NULL;
        const char *pub_txt = zconfig_get(root, "/curve/public-key", NULL);
        const char *sec_txt = zconfig_get(root, "/curve/secret-key", NULL);
        if (keys_z85_valid(pub_txt) && (!sec_txt || !*sec_txt || keys_z85_valid(sec_txt))) {
                zmq_z85_decode(pub, pub_txt);
                if (sec_txt && *sec_txt)
                        zmq_z85_decode(sec, sec_txt);
                cert = zcert_new_from(pub, sec);
        }
        zconfig_destroy(&root);
        return cert;
}

int keys_load_secret(const char *path, zcert_t **ret) {
        struct stat st;

        if (stat(path, &st) < 0)
                return -errno;
        if (st.st_mode & 0077)
                return -EPERM;
        if (access(path, R_OK) < 0)
                return -errno;
        zcert_t *cert = cert_load(path);
        if (!cert)
                return -EINVAL;
        if (key_is_zero(zcert_secret_key(cert)) || key_is_zero(zcert_public_key(cert))) {
                zcert_destroy(&cert);
                return -EINVAL;
        }
        *ret = cert;
        return 0;
}

int keys_load_public(const char *z85_or_path, char ret_z85[KEYS_Z85_LEN + 1]) {
        if (keys_z85_valid(z85_or_path)) {
                snprintf(ret_z85, KEYS_Z85_LEN + 1, "%s", z85_or_path);
                return 0;
        }
        if (access(z85_or_path, F_OK) < 0)
                return -errno;
        if (access(z85_or_path, R_OK) < 0)
                return -errno;
        zcert_t *cert = cert_load(z85_or_path);
        if (!cert)
                return -EINVAL;
        int r = key_is_zero(zcert_public_key(cert)) ? -EINVAL : 0;
        if (r == 0)
                snprintf(ret_z85, KEYS_Z85_LEN + 1, "%s", zcert_public_txt(cert));
        zcert_destroy(&cert);
        return r;
}
