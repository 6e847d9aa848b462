/* Test public keys: 40-character Z85 strings, distinct per n, for tests
 * of the keyring and the admin key requests. */
#pragma once

/* "000...0n". Kept in a ring of 8 buffers: copy a key that must outlive
 * the next 7 calls. */
const char *test_z85_key(int n);
