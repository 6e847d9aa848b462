/* Curve key pairs on disk, in czmq's zcert text format:
 *   DIR/NAME.key         public key only, mode 0644
 *   DIR/NAME.key_secret  public and secret key, mode 0600
 * A secret file that group or others can access is refused: a leaked node
 * key lets anyone impersonate the node. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <czmq.h>

#include "common/attrs.h"

#define KEYS_Z85_LEN 40        /* a 32-byte key in Z85 */

/* Writes a new key pair as DIR/NAME.key and DIR/NAME.key_secret. Never
 * overwrites: -EEXIST if either file exists. DIR is created (0755) if
 * missing. On success, ret_public (may be NULL) gets the Z85 public key. */
HL_MUST_USE int keys_generate(const char *dir, const char *name, char ret_public[KEYS_Z85_LEN + 1]);

/* Loads a secret key file (NAME.key_secret). Errors: -ENOENT missing,
 * -EACCES unreadable, -EPERM mode allows group/other access, -EINVAL no
 * valid key pair inside. The caller owns *ret (zcert_destroy). */
HL_MUST_USE int keys_load_secret(const char *path, zcert_t **ret);

/* Reads a public key given either as 40 Z85 characters or as the path of a
 * zcert file (public or secret). ret_z85 gets the Z85 text.
 * Errors: -ENOENT, -EACCES, -EINVAL. */
HL_MUST_USE int keys_load_public(const char *z85_or_path, char ret_z85[KEYS_Z85_LEN + 1]);

/* True if s is exactly 40 valid Z85 characters. */
bool keys_z85_valid(const char *s);
