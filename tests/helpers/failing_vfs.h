/* An SQLite VFS for tests that behaves like the default one until told to
 * act as a full disk: then every write and sync of a file fails with
 * SQLITE_FULL, exactly where a real full disk makes SQLite fail. Lets a
 * unit test drive the store's real error paths without a small mount. */
#pragma once
#include <stdbool.h>

/* Registers the VFS as SQLite's default (once; later calls do nothing).
 * Returns 0 or an SQLite error code. */
int failing_vfs_install(void);

/* From now on writes fail (true) or work (false). */
void failing_vfs_set_full(bool full);
