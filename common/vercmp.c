#include "common/vercmp.h"

#include <string.h>

/* ASCII only, whatever the locale: dpkg and rpm classify bytes the same
 * way (c_isdigit, risalnum). */
static bool s_isdigit(char c) {
        return c >= '0' && c <= '9';
}

static bool s_isalpha(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool s_isalnum(char c) {
        return s_isdigit(c) || s_isalpha(c);
}

static int s_sign(int v) {
        return (v > 0) - (v < 0);
}

/* A slice of a version string; the parts of an EVR are never copied. */
typedef struct {
        const char *p;
        size_t n;
} slice_t;

/* Compares two digit runs by value, without overflow: drop leading zeros,
 * then the longer run is the larger number, else compare digit by digit. */
static int s_numcmp(slice_t a, slice_t b) {
        while (a.n > 0 && a.p[0] == '0')
                a.p++, a.n--;
        while (b.n > 0 && b.p[0] == '0')
                b.p++, b.n--;
        if (a.n != b.n)
                return a.n > b.n ? 1 : -1;
        return s_sign(memcmp(a.p, b.p, a.n));
}

static bool s_all_digits(slice_t s) {
        for (size_t i = 0; i < s.n; i++)
                if (!s_isdigit(s.p[i]))
                        return false;
        return true;
}

/* ---- dpkg ---------------------------------------------------------------- */

/* dpkg's weight of a character in a non-digit run. The end of the string
 * (0) weighs like a digit: it ends the run. */
static int s_dpkg_order(char c) {
        if (c == '\0' || s_isdigit(c))
                return 0;
        if (s_isalpha(c))
                return (unsigned char) c;
        if (c == '~')
                return -1;
        return (unsigned char) c + 256;
}

static int s_dpkg_partcmp(slice_t a, slice_t b) {
        size_t i = 0, j = 0;

        while (i < a.n || j < b.n) {
                while ((i < a.n && !s_isdigit(a.p[i])) || (j < b.n && !s_isdigit(b.p[j]))) {
                        int ac = s_dpkg_order(i < a.n ? a.p[i] : '\0');
                        int bc = s_dpkg_order(j < b.n ? b.p[j] : '\0');
                        if (ac != bc)
                                return s_sign(ac - bc);
                        /* Equal weights here mean both are the same
                         * non-digit character, so neither is at its end. */
                        i++, j++;
                }
                slice_t da = { a.p + i, 0 }, db = { b.p + j, 0 };
                while (i < a.n && s_isdigit(a.p[i]))
                        i++, da.n++;
                while (j < b.n && s_isdigit(b.p[j]))
                        j++, db.n++;
                int r = s_numcmp(da, db);
                if (r != 0)
                        return r;
        }
        return 0;
}

/* Splits like dpkg's parseversion(): the epoch ends at the first ':', the
 * revision starts after the last '-'. Input that dpkg would refuse (a
 * non-numeric epoch) is compared as an epoch-less version. */
static void s_dpkg_split(const char *s, slice_t *e, slice_t *v, slice_t *r) {
        const char *colon = strchr(s, ':');
        slice_t epoch = { s, colon ? (size_t) (colon - s) : 0 };

        if (colon && epoch.n > 0 && s_all_digits(epoch)) {
                *e = epoch;
                s = colon + 1;
        } else
                *e = (slice_t) { "0", 1 };

        const char *hyphen = strrchr(s, '-');
        if (hyphen) {
                *v = (slice_t) { s, (size_t) (hyphen - s) };
                *r = (slice_t) { hyphen + 1, strlen(hyphen + 1) };
        } else {
                *v = (slice_t) { s, strlen(s) };
                *r = (slice_t) { "", 0 };
        }
}

int vercmp_dpkg(const char *a, const char *b) {
        slice_t ea, va, ra, eb, vb, rb;
        int r;

        s_dpkg_split(a ? a : "", &ea, &va, &ra);
        s_dpkg_split(b ? b : "", &eb, &vb, &rb);
        r = s_numcmp(ea, eb);
        if (r == 0)
                r = s_dpkg_partcmp(va, vb);
        if (r == 0)
                r = s_dpkg_partcmp(ra, rb);
        return r;
}

/* ---- rpm ----------------------------------------------------------------- */

static bool s_rpm_skippable(char c) {
        return !s_isalnum(c) && c != '~' && c != '^';
}

/* rpmvercmp(): maximal digit or letter segments; everything else only
 * separates, except '~' (older than anything, even the end) and '^' (newer
 * than the end, older than any further segment). */
static int s_rpm_partcmp(slice_t a, slice_t b) {
        size_t i = 0, j = 0;

        if (a.n == b.n && memcmp(a.p, b.p, a.n) == 0)
                return 0;

        while (i < a.n || j < b.n) {
                while (i < a.n && s_rpm_skippable(a.p[i]))
                        i++;
                while (j < b.n && s_rpm_skippable(b.p[j]))
                        j++;
                char ca = i < a.n ? a.p[i] : '\0';
                char cb = j < b.n ? b.p[j] : '\0';

                if (ca == '~' || cb == '~') {
                        if (ca != '~')
                                return 1;
                        if (cb != '~')
                                return -1;
                        i++, j++;
                        continue;
                }
                if (ca == '^' || cb == '^') {
                        if (ca == '\0')
                                return -1;
                        if (cb == '\0')
                                return 1;
                        if (ca != '^')
                                return 1;
                        if (cb != '^')
                                return -1;
                        i++, j++;
                        continue;
                }
                if (ca == '\0' || cb == '\0')
                        break;

                bool numeric = s_isdigit(ca);
                bool (*in_segment)(char) = numeric ? s_isdigit : s_isalpha;
                slice_t sa = { a.p + i, 0 }, sb = { b.p + j, 0 };
                while (i < a.n && in_segment(a.p[i]))
                        i++, sa.n++;
                while (j < b.n && in_segment(b.p[j]))
                        j++, sb.n++;

                /* b's segment is of the other kind: numbers are newer. */
                if (sb.n == 0)
                        return numeric ? 1 : -1;

                int r;
                if (numeric)
                        r = s_numcmp(sa, sb);
                else {
                        size_t n = sa.n < sb.n ? sa.n : sb.n;
                        r = s_sign(memcmp(sa.p, sb.p, n));
                        if (r == 0 && sa.n != sb.n)
                                r = sa.n > sb.n ? 1 : -1;
                }
                if (r != 0)
                        return r;
        }

        /* Same segments, different separators: equal. Otherwise whichever
         * has something left is newer. */
        if (i >= a.n && j >= b.n)
                return 0;
        return i >= a.n ? -1 : 1;
}

typedef struct {
        slice_t e, v, r;
        bool has_r;
} rpm_evr_t;

/* Splits like rpm's parseEVR(): an epoch is the leading digits when a ':'
 * follows them; the release starts after the last '-'. */
static rpm_evr_t s_rpm_split(const char *s) {
        rpm_evr_t evr = { .e = { "0", 1 } };
        const char *p = s;

        while (s_isdigit(*p))
                p++;
        const char *hyphen = strrchr(p, '-');
        if (*p == ':') {
                if (p > s)
                        evr.e = (slice_t) { s, (size_t) (p - s) };
                s = p + 1;
        }
        if (hyphen) {
                evr.v = (slice_t) { s, (size_t) (hyphen - s) };
                evr.r = (slice_t) { hyphen + 1, strlen(hyphen + 1) };
                evr.has_r = true;
        } else
                evr.v = (slice_t) { s, strlen(s) };
        return evr;
}

int vercmp_rpm(const char *a, const char *b) {
        rpm_evr_t x = s_rpm_split(a ? a : ""), y = s_rpm_split(b ? b : "");
        int r;

        r = s_rpm_partcmp(x.e, y.e);
        if (r == 0)
                r = s_rpm_partcmp(x.v, y.v);
        /* rpm 4.18 compare_values(): no release is older than any. */
        if (r == 0 && (x.has_r || y.has_r))
                r = x.has_r && y.has_r ? s_rpm_partcmp(x.r, y.r) : (x.has_r ? 1 : -1);
        return r;
}

/* ---- validation ---------------------------------------------------------- */

/* An epoch must fit dpkg's and rpm's int: at most 10 digits, < 2^31. */
static bool s_epoch_valid(slice_t e) {
        if (e.n == 0 || e.n > 10 || !s_all_digits(e))
                return false;
        return s_numcmp(e, (slice_t) { "2147483647", 10 }) <= 0;
}

static bool s_chars_in(slice_t s, const char *extra) {
        for (size_t i = 0; i < s.n; i++)
                if (!s_isalnum(s.p[i]) && !strchr(extra, s.p[i]))
                        return false;
        return true;
}

/* Common prefix of both validators: length limits and the epoch. On
 * success *rest is what follows the epoch's ':' (or all of s). */
static bool s_valid_prefix(const char *s, bool *has_epoch, const char **rest) {
        if (!s)
                return false;
        size_t n = strnlen(s, VERSION_MAX + 1);
        if (n == 0 || n > VERSION_MAX)
                return false;

        const char *colon = strchr(s, ':');
        *has_epoch = colon != NULL;
        *rest = s;
        if (colon) {
                if (!s_epoch_valid((slice_t) { s, (size_t) (colon - s) }))
                        return false;
                *rest = colon + 1;
        }
        return true;
}

bool version_valid_dpkg(const char *s) {
        bool has_epoch;
        const char *rest;

        if (!s_valid_prefix(s, &has_epoch, &rest))
                return false;

        slice_t v = { rest, strlen(rest) }, r = { "", 0 };
        const char *hyphen = strrchr(rest, '-');
        if (hyphen) {
                v.n = (size_t) (hyphen - rest);
                r = (slice_t) { hyphen + 1, strlen(hyphen + 1) };
                if (r.n == 0 || !s_chars_in(r, ".+~"))
                        return false;
        }
        if (v.n == 0 || !s_isdigit(v.p[0]))
                return false;
        return s_chars_in(v, has_epoch ? ".+~-:" : ".+~-");
}

bool version_valid_rpm(const char *s) {
        bool has_epoch;
        const char *rest;

        if (!s_valid_prefix(s, &has_epoch, &rest))
                return false;

        slice_t v = { rest, strlen(rest) }, r = { "x", 1 };
        const char *hyphen = strchr(rest, '-');
        if (hyphen) {
                if (strchr(hyphen + 1, '-'))
                        return false;
                v.n = (size_t) (hyphen - rest);
                r = (slice_t) { hyphen + 1, strlen(hyphen + 1) };
        }
        if (v.n == 0 || r.n == 0 || !s_isalnum(v.p[0]))
                return false;
        return s_chars_in(v, "._+~^") && s_chars_in(r, "._+~^");
}
