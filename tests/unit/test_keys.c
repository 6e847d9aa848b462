/* common/keys: Curve key pairs on disk in zcert format. Every test works
 * in its own temporary directory. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/keys.h"

static char tmpdir[256];

static void setup(void) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/test_keys.XXXXXX", base && *base ? base : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        ck_assert_int_eq(system(cmd), 0);
}

static void path_in(char *buf, size_t len, const char *name) {
        snprintf(buf, len, "%s/%s", tmpdir, name);
}

static mode_t file_mode(const char *path) {
        struct stat st;
        ck_assert_msg(stat(path, &st) == 0, "stat %s: %s", path, strerror(errno));
        return st.st_mode & 07777;
}

static void write_file(const char *path, const char *content, mode_t mode) {
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(content, f);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(chmod(path, mode), 0);
}

static void copy_file(const char *from, const char *to, mode_t mode) {
        char buf[8192];
        FILE *in = fopen(from, "r"), *out = fopen(to, "w");
        size_t n;
        ck_assert(in && out);
        while ((n = fread(buf, 1, sizeof buf, in)) > 0)
                ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
        fclose(in);
        ck_assert_int_eq(fclose(out), 0);
        ck_assert_int_eq(chmod(to, mode), 0);
}

/* A key known to be valid: the Z85 test vector from the ZMTP CURVE spec
 * (RFC 32) for the server's public key. */
static const char *const valid_z85 = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";

/* ---- generate ---- */

START_TEST(test_generate_modes_and_content) {
        char pub[KEYS_Z85_LEN + 1] = "", pubfile[400], secfile[400], loaded[KEYS_Z85_LEN + 1];
        zcert_t *cert = NULL;

        /* A umask that would make both files world-writable if obeyed. */
        mode_t old = umask(0);
        int r = keys_generate(tmpdir, "node1", pub);
        umask(old);
        ck_assert_int_eq(r, 0);
        ck_assert(keys_z85_valid(pub));

        path_in(pubfile, sizeof pubfile, "node1.key");
        path_in(secfile, sizeof secfile, "node1.key_secret");
        ck_assert_int_eq(file_mode(pubfile), 0644);
        ck_assert_int_eq(file_mode(secfile), 0600);

        /* Both files hold the public key generate reported. */
        ck_assert_int_eq(keys_load_public(pubfile, loaded), 0);
        ck_assert_str_eq(loaded, pub);
        ck_assert_int_eq(keys_load_public(secfile, loaded), 0);
        ck_assert_str_eq(loaded, pub);
        ck_assert_int_eq(keys_load_secret(secfile, &cert), 0);
        ck_assert_ptr_nonnull(cert);
        ck_assert_str_eq(zcert_public_txt(cert), pub);
        ck_assert(keys_z85_valid(zcert_secret_txt(cert)));
        ck_assert_str_ne(zcert_secret_txt(cert), pub);
        zcert_destroy(&cert);
}
END_TEST

START_TEST(test_generate_distinct_pairs) {
        char a[KEYS_Z85_LEN + 1], b[KEYS_Z85_LEN + 1];
        ck_assert_int_eq(keys_generate(tmpdir, "a", a), 0);
        ck_assert_int_eq(keys_generate(tmpdir, "b", b), 0);
        ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(test_generate_creates_directory) {
        char dir[400], secfile[500];
        path_in(dir, sizeof dir, "sub");
        ck_assert_int_eq(keys_generate(dir, "n", NULL), 0);  /* ret_public may be NULL */
        struct stat st;
        ck_assert_int_eq(stat(dir, &st), 0);
        ck_assert(S_ISDIR(st.st_mode));
        snprintf(secfile, sizeof secfile, "%s/n.key_secret", dir);
        ck_assert_int_eq(file_mode(secfile), 0600);
}
END_TEST

START_TEST(test_generate_never_overwrites) {
        char pub1[KEYS_Z85_LEN + 1], pub2[KEYS_Z85_LEN + 1] = "untouched", pubfile[400],
                secfile[400], loaded[KEYS_Z85_LEN + 1];

        ck_assert_int_eq(keys_generate(tmpdir, "n", pub1), 0);
        ck_assert_int_eq(keys_generate(tmpdir, "n", pub2), -EEXIST);
        ck_assert_str_eq(pub2, "untouched");
        path_in(pubfile, sizeof pubfile, "n.key");
        ck_assert_int_eq(keys_load_public(pubfile, loaded), 0);
        ck_assert_str_eq(loaded, pub1);

        /* Either file alone is enough to refuse. */
        path_in(secfile, sizeof secfile, "only_secret.key_secret");
        write_file(secfile, "keep me\n", 0600);
        ck_assert_int_eq(keys_generate(tmpdir, "only_secret", NULL), -EEXIST);
        path_in(pubfile, sizeof pubfile, "only_public.key");
        write_file(pubfile, "keep me too\n", 0644);
        ck_assert_int_eq(keys_generate(tmpdir, "only_public", NULL), -EEXIST);

        /* ... and neither was touched. */
        char buf[64] = "";
        FILE *f = fopen(secfile, "r");
        ck_assert_ptr_nonnull(f);
        ck_assert_ptr_nonnull(fgets(buf, sizeof buf, f));
        fclose(f);
        ck_assert_str_eq(buf, "keep me\n");
        path_in(secfile, sizeof secfile, "only_public.key_secret");
        ck_assert_int_eq(access(secfile, F_OK), -1);
}
END_TEST

/* ---- load_secret ---- */

START_TEST(test_load_secret_refuses_loose_modes) {
        static const mode_t loose[] = { 0640, 0604, 0660, 0644, 0601, 0610 };
        char secfile[400];
        zcert_t *cert = NULL;

        ck_assert_int_eq(keys_generate(tmpdir, "n", NULL), 0);
        path_in(secfile, sizeof secfile, "n.key_secret");
        for (size_t i = 0; i < sizeof loose / sizeof *loose; i++) {
                ck_assert_int_eq(chmod(secfile, loose[i]), 0);
                ck_assert_msg(keys_load_secret(secfile, &cert) == -EPERM, "mode %04o", loose[i]);
                ck_assert_ptr_null(cert);
        }
        /* 0400 (owner read only) is fine. */
        ck_assert_int_eq(chmod(secfile, 0400), 0);
        ck_assert_int_eq(keys_load_secret(secfile, &cert), 0);
        zcert_destroy(&cert);
}
END_TEST

START_TEST(test_load_secret_missing) {
        char p[400];
        zcert_t *cert = NULL;
        path_in(p, sizeof p, "nope.key_secret");
        ck_assert_int_eq(keys_load_secret(p, &cert), -ENOENT);
        ck_assert_ptr_null(cert);
}
END_TEST

START_TEST(test_load_secret_garbage) {
        static const char *const contents[] = {
                "",
                "this is not a certificate\n",
                "curve\n    public-key = \"short\"\n    secret-key = \"short\"\n",
                "\x01\x02\x03\xff\xfe binary\n",
        };
        char p[400];
        zcert_t *cert = NULL;

        path_in(p, sizeof p, "garbage.key_secret");
        for (size_t i = 0; i < sizeof contents / sizeof *contents; i++) {
                write_file(p, contents[i], 0600);
                ck_assert_msg(keys_load_secret(p, &cert) == -EINVAL, "content #%zu", i);
                ck_assert_ptr_null(cert);
        }
}
END_TEST

START_TEST(test_load_secret_public_only_file) {
        /* A public key file holds no secret: not a key pair. */
        char from[400], to[400];
        zcert_t *cert = NULL;
        ck_assert_int_eq(keys_generate(tmpdir, "n", NULL), 0);
        path_in(from, sizeof from, "n.key");
        path_in(to, sizeof to, "copy.key_secret");
        copy_file(from, to, 0600);
        ck_assert_int_eq(keys_load_secret(to, &cert), -EINVAL);
        ck_assert_ptr_null(cert);
}
END_TEST

/* The file named is the file read: not a "PATH_secret" beside it. */
START_TEST(test_loads_exactly_the_named_file) {
        char a[KEYS_Z85_LEN + 1], b[KEYS_Z85_LEN + 1], loaded[KEYS_Z85_LEN + 1];
        char from[400], to[400];
        zcert_t *cert = NULL;

        ck_assert_int_eq(keys_generate(tmpdir, "a", a), 0);
        ck_assert_int_eq(keys_generate(tmpdir, "b", b), 0);
        /* a.key beside b's secret file named a.key_secret. */
        path_in(from, sizeof from, "b.key_secret");
        path_in(to, sizeof to, "a.key_secret");
        ck_assert_int_eq(unlink(to), 0);
        copy_file(from, to, 0600);
        path_in(to, sizeof to, "a.key");
        ck_assert_int_eq(keys_load_public(to, loaded), 0);
        ck_assert_str_eq(loaded, a);

        /* x.key_secret (a's pair) beside x.key_secret_secret (b's). */
        ck_assert_int_eq(keys_generate(tmpdir, "c", NULL), 0);
        path_in(from, sizeof from, "b.key_secret");
        path_in(to, sizeof to, "c.key_secret_secret");
        copy_file(from, to, 0644);  /* not even protected */
        path_in(from, sizeof from, "c.key_secret");
        ck_assert_int_eq(keys_load_public(from, loaded), 0);
        ck_assert_str_ne(loaded, b);
        ck_assert_int_eq(keys_load_secret(from, &cert), 0);
        ck_assert_str_eq(zcert_public_txt(cert), loaded);
        zcert_destroy(&cert);
}
END_TEST

/* ---- load_public ---- */

START_TEST(test_load_public_from_z85) {
        char out[KEYS_Z85_LEN + 1] = "";
        ck_assert_int_eq(keys_load_public(valid_z85, out), 0);
        ck_assert_str_eq(out, valid_z85);
}
END_TEST

START_TEST(test_load_public_errors) {
        char out[KEYS_Z85_LEN + 1] = "untouched", p[400];

        path_in(p, sizeof p, "missing.key");
        ck_assert_int_eq(keys_load_public(p, out), -ENOENT);
        /* 39 Z85 characters: not a key, and no such file either. */
        ck_assert_int_eq(keys_load_public("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf", out), -ENOENT);
        path_in(p, sizeof p, "garbage.key");
        write_file(p, "not a key\n", 0644);
        ck_assert_int_eq(keys_load_public(p, out), -EINVAL);
        write_file(p, "", 0644);
        ck_assert_int_eq(keys_load_public(p, out), -EINVAL);
        ck_assert_str_eq(out, "untouched");
}
END_TEST

START_TEST(test_load_public_file_with_z85_like_name) {
        /* A relative path that happens to be valid Z85 is read as a key,
         * not as a file name: Z85 wins. */
        char out[KEYS_Z85_LEN + 1];
        ck_assert_int_eq(keys_load_public("0000000000000000000000000000000000000000", out), 0);
        ck_assert_str_eq(out, "0000000000000000000000000000000000000000");
}
END_TEST

/* ---- keys_z85_valid ---- */

START_TEST(test_z85_valid_vectors) {
        char s[64];

        ck_assert(keys_z85_valid(valid_z85));
        ck_assert(keys_z85_valid("0000000000000000000000000000000000000000"));
        ck_assert(!keys_z85_valid(NULL));
        ck_assert(!keys_z85_valid(""));
        /* length: 39 and 41 */
        snprintf(s, sizeof s, "%.39s", valid_z85);
        ck_assert(!keys_z85_valid(s));
        snprintf(s, sizeof s, "%s0", valid_z85);
        ck_assert(!keys_z85_valid(s));
        /* a 32-byte key in hex is 64 characters */
        ck_assert(!keys_z85_valid("8e0bdd697628b91d8f245587ee95c5b04d48963f79259877b49cd9063aead3b7"));
}
END_TEST

START_TEST(test_z85_alphabet) {
        static const char alphabet[] =
                "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
        char s[KEYS_Z85_LEN + 1];

        ck_assert_uint_eq(strlen(alphabet), 85);
        /* Each alphabet character is accepted in a key (as the last char
         * of a group, where any value stays below 2^32). */
        for (size_t i = 0; i < 85; i++) {
                memset(s, '0', KEYS_Z85_LEN);
                s[KEYS_Z85_LEN] = '\0';
                s[4] = alphabet[i];
                ck_assert_msg(keys_z85_valid(s), "char '%c' refused", alphabet[i]);
        }
        /* Every other printable character (and a few others) is refused. */
        for (int c = 1; c < 256; c++) {
                if (strchr(alphabet, c))
                        continue;
                memset(s, '0', KEYS_Z85_LEN);
                s[KEYS_Z85_LEN] = '\0';
                s[17] = (char) c;
                ck_assert_msg(!keys_z85_valid(s), "char 0x%02x accepted", c);
        }
}
END_TEST

START_TEST(test_z85_overflowing_group) {
        /* Five '#' (85^5 - 1) exceed 32 bits: not a valid encoding. */
        char s[KEYS_Z85_LEN + 1];
        memset(s, '0', KEYS_Z85_LEN);
        s[KEYS_Z85_LEN] = '\0';
        memcpy(s + 5, "#####", 5);
        ck_assert(!keys_z85_valid(s));
        /* "%nSc0" is the largest group: 0xffffffff. */
        memcpy(s + 5, "%nSc0", 5);
        ck_assert(keys_z85_valid(s));
        memcpy(s + 5, "%nSc1", 5);
        ck_assert(!keys_z85_valid(s));
}
END_TEST

static Suite *keys_suite(void) {
        Suite *s = suite_create("keys");
        TCase *tc = tcase_create("files");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_generate_modes_and_content);
        tcase_add_test(tc, test_generate_distinct_pairs);
        tcase_add_test(tc, test_generate_creates_directory);
        tcase_add_test(tc, test_generate_never_overwrites);
        tcase_add_test(tc, test_load_secret_refuses_loose_modes);
        tcase_add_test(tc, test_load_secret_missing);
        tcase_add_test(tc, test_load_secret_garbage);
        tcase_add_test(tc, test_load_secret_public_only_file);
        tcase_add_test(tc, test_loads_exactly_the_named_file);
        tcase_add_test(tc, test_load_public_errors);
        suite_add_tcase(s, tc);

        tc = tcase_create("z85");
        tcase_add_test(tc, test_load_public_from_z85);
        tcase_add_test(tc, test_load_public_file_with_z85_like_name);
        tcase_add_test(tc, test_z85_valid_vectors);
        tcase_add_test(tc, test_z85_alphabet);
        tcase_add_test(tc, test_z85_overflowing_group);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(keys_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
