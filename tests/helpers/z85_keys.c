#include "tests/helpers/z85_keys.h"

#include <stdio.h>

#include "common/keys.h"

const char *test_z85_key(int n) {
        static char bufs[8][KEYS_Z85_LEN + 1];
        static int next;
        char *b = bufs[next++ % 8];
        snprintf(b, KEYS_Z85_LEN + 1, "%040d", n);
        return b;
}
