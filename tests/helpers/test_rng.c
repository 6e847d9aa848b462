#include "tests/helpers/test_rng.h"

uint64_t test_rng_next(test_rng_t *r) {
        r->s ^= r->s << 13;
        r->s ^= r->s >> 7;
        r->s ^= r->s << 17;
        return r->s;
}

int64_t test_rng_in(test_rng_t *r, int64_t lo, int64_t hi) {
        return lo + (int64_t) (test_rng_next(r) % (uint64_t) (hi - lo + 1));
}
