#include "coordinator/upgrade/plan_math.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

/* Parses "N" or "N%" into *ret_value and *ret_percent. */
static int s_parse_spec(const char *spec, int *ret_value, bool *ret_percent) {
        int64_t v = 0;
        const char *p = spec;

        if (!spec || *p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                v = v * 10 + (*p - '0');
                if (v > INT_MAX)
                        return -ERANGE;
        }
        bool percent = *p == '%';
        if (percent)
                p++;
        if (*p != '\0')
                return -EINVAL;
        if (percent && v > 100)
                return -ERANGE;
        *ret_value = (int) v;
        *ret_percent = percent;
        return 0;
}

/* Resolves spec against phase_size; *ret_raw is the number as written. */
static int s_resolve(const char *spec, int phase_size, int *ret_value, int *ret_raw) {
        int v;
        bool percent;
        int r;

        if (phase_size < 0)
                return -EINVAL;
        r = s_parse_spec(spec, &v, &percent);
        if (r < 0)
                return r;
        *ret_raw = v;
        *ret_value = percent ? (int) ((int64_t) phase_size * v / 100) : v;
        return 0;
}

int plan_parse_batch(const char *spec, int phase_size, int *ret) {
        int v, raw;
        int r = s_resolve(spec, phase_size, &v, &raw);

        if (r < 0)
                return r;
        /* "0%" is as meaningless as "0"; only rounding may lift a value to 1. */
        if (raw == 0)
                return -EINVAL;
        *ret = v < 1 ? 1 : v;
        return 0;
}

int plan_parse_max_failures(const char *spec, int phase_size, int *ret) {
        int v, raw;
        int r = s_resolve(spec, phase_size, &v, &raw);

        if (r < 0)
                return r;
        *ret = v;
        return 0;
}
