/* Package version ordering, as the package managers themselves order them.
 *
 * The agent decides "is the installed version already the target?" and
 * "would this be a downgrade?" without asking dpkg or rpm, so these must
 * agree with `dpkg --compare-versions` and with rpm's rpm.vercmp() exactly;
 * the unit tests cross-check both against the real tools.
 *
 * The comparisons are total (any two strings are ordered, never an error),
 * but the result only means something for versions that pass the matching
 * version_valid_*(): validate input from the network first. */
#pragma once
#include <stdbool.h>

#define VERSION_MAX 255

/* Debian policy ordering of [epoch:]upstream[-revision]: epochs compare
 * numerically; upstream and revision compare by alternating non-digit runs
 * (where '~' sorts before everything, even the end of the string, and
 * letters sort before other characters) and digit runs (numerically, so
 * leading zeros do not matter). A missing revision equals "0" ("1.0" ==
 * "1.0-0"). Returns <0, 0, >0 as a is older, equal, newer than b. */
int vercmp_dpkg(const char *a, const char *b);

/* rpm 4.18 ordering of [epoch:]version[-release] (rpmverCmp over
 * rpmvercmp): epoch (missing = 0), then version, then release, where a
 * missing release is older than any release ("1.0" < "1.0-1"). Segments are
 * maximal digit or letter runs, other characters only separate; digits are
 * newer than letters; '~' sorts before everything and '^' after the end of
 * the string but before any further segment ("1.0~rc1" < "1.0" < "1.0^git1"
 * < "1.0.1"). Returns <0, 0, >0. */
int vercmp_rpm(const char *a, const char *b);

/* Input validation; both reject NULL, empty, longer than VERSION_MAX, and
 * any character outside the ones listed (so never whitespace, quotes or
 * shell metacharacters).
 *
 * dpkg: [epoch:]upstream[-revision]; epoch is digits (< 2^31); upstream is
 * [A-Za-z0-9.+~-] plus ':' only when an epoch is present, starting with a
 * digit; revision (after the last '-') is non-empty [A-Za-z0-9.+~]. */
bool version_valid_dpkg(const char *s);

/* rpm: [epoch:]version[-release]; epoch is digits (< 2^31); version and
 * release are non-empty [A-Za-z0-9._+~^], the version starting with an
 * alphanumeric; at most one '-'. */
bool version_valid_rpm(const char *s);
