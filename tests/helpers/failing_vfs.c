#include "tests/helpers/failing_vfs.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* Each file is the real one with our methods in front. */
typedef struct {
        sqlite3_file base;     /* pMethods = &s_methods */
        sqlite3_file *real;    /* allocated after this struct */
} wrapped_file_t;

static sqlite3_vfs *s_real_vfs;
static sqlite3_vfs s_vfs;
static sqlite3_io_methods s_methods;
static volatile bool s_full;

static sqlite3_file *s_real(sqlite3_file *f) {
        return ((wrapped_file_t *) f)->real;
}

static int s_close(sqlite3_file *f) {
        sqlite3_file *r = s_real(f);
        return r->pMethods ? r->pMethods->xClose(r) : SQLITE_OK;
}
static int s_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off) {
        return s_real(f)->pMethods->xRead(s_real(f), buf, n, off);
}
static int s_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off) {
        if (s_full)
                return SQLITE_FULL;
        return s_real(f)->pMethods->xWrite(s_real(f), buf, n, off);
}
static int s_truncate(sqlite3_file *f, sqlite3_int64 size) {
        return s_real(f)->pMethods->xTruncate(s_real(f), size);
}
static int s_sync(sqlite3_file *f, int flags) {
        if (s_full)
                return SQLITE_FULL;
        return s_real(f)->pMethods->xSync(s_real(f), flags);
}
static int s_size(sqlite3_file *f, sqlite3_int64 *ret) {
        return s_real(f)->pMethods->xFileSize(s_real(f), ret);
}
static int s_lock(sqlite3_file *f, int l) {
        return s_real(f)->pMethods->xLock(s_real(f), l);
}
static int s_unlock(sqlite3_file *f, int l) {
        return s_real(f)->pMethods->xUnlock(s_real(f), l);
}
static int s_check_lock(sqlite3_file *f, int *ret) {
        return s_real(f)->pMethods->xCheckReservedLock(s_real(f), ret);
}
static int s_control(sqlite3_file *f, int op, void *arg) {
        return s_real(f)->pMethods->xFileControl(s_real(f), op, arg);
}
static int s_sector(sqlite3_file *f) {
        return s_real(f)->pMethods->xSectorSize(s_real(f));
}
static int s_device(sqlite3_file *f) {
        return s_real(f)->pMethods->xDeviceCharacteristics(s_real(f));
}
static int s_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **ret) {
        return s_real(f)->pMethods->xShmMap(s_real(f), pg, sz, extend, ret);
}
static int s_shm_lock(sqlite3_file *f, int off, int n, int flags) {
        return s_real(f)->pMethods->xShmLock(s_real(f), off, n, flags);
}
static void s_shm_barrier(sqlite3_file *f) {
        s_real(f)->pMethods->xShmBarrier(s_real(f));
}
static int s_shm_unmap(sqlite3_file *f, int del) {
        return s_real(f)->pMethods->xShmUnmap(s_real(f), del);
}

static int s_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags) {
        wrapped_file_t *w = (wrapped_file_t *) f;
        (void) vfs;
        w->real = (sqlite3_file *) (w + 1);
        memset(w->real, 0, (size_t) s_real_vfs->szOsFile);
        f->pMethods = NULL;
        int rc = s_real_vfs->xOpen(s_real_vfs, name, w->real, flags, out_flags);
        if (rc == SQLITE_OK && w->real->pMethods) {
                s_methods.iVersion = w->real->pMethods->iVersion < 2 ? w->real->pMethods->iVersion : 2;
                f->pMethods = &s_methods;
        }
        return rc;
}

static int s_delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
        (void) vfs;
        return s_real_vfs->xDelete(s_real_vfs, name, sync_dir);
}
static int s_access(sqlite3_vfs *vfs, const char *name, int flags, int *ret) {
        (void) vfs;
        return s_real_vfs->xAccess(s_real_vfs, name, flags, ret);
}
static int s_full_path(sqlite3_vfs *vfs, const char *name, int n, char *out) {
        (void) vfs;
        return s_real_vfs->xFullPathname(s_real_vfs, name, n, out);
}
static int s_randomness(sqlite3_vfs *vfs, int n, char *out) {
        (void) vfs;
        return s_real_vfs->xRandomness(s_real_vfs, n, out);
}
static int s_sleep(sqlite3_vfs *vfs, int us) {
        (void) vfs;
        return s_real_vfs->xSleep(s_real_vfs, us);
}
static int s_current_time(sqlite3_vfs *vfs, double *ret) {
        (void) vfs;
        return s_real_vfs->xCurrentTime(s_real_vfs, ret);
}
static int s_last_error(sqlite3_vfs *vfs, int n, char *out) {
        (void) vfs;
        return s_real_vfs->xGetLastError ? s_real_vfs->xGetLastError(s_real_vfs, n, out) : 0;
}

int failing_vfs_install(void) {
        if (s_real_vfs)
                return SQLITE_OK;
        int rc = sqlite3_initialize();
        if (rc != SQLITE_OK)
                return rc;
        s_real_vfs = sqlite3_vfs_find(NULL);
        if (!s_real_vfs)
                return SQLITE_ERROR;
        s_methods = (sqlite3_io_methods) {
                .iVersion = 2,
                .xClose = s_close,
                .xRead = s_read,
                .xWrite = s_write,
                .xTruncate = s_truncate,
                .xSync = s_sync,
                .xFileSize = s_size,
                .xLock = s_lock,
                .xUnlock = s_unlock,
                .xCheckReservedLock = s_check_lock,
                .xFileControl = s_control,
                .xSectorSize = s_sector,
                .xDeviceCharacteristics = s_device,
                .xShmMap = s_shm_map,
                .xShmLock = s_shm_lock,
                .xShmBarrier = s_shm_barrier,
                .xShmUnmap = s_shm_unmap,
        };
        s_vfs = (sqlite3_vfs) {
                .iVersion = 1,
                .szOsFile = (int) sizeof(wrapped_file_t) + s_real_vfs->szOsFile,
                .mxPathname = s_real_vfs->mxPathname,
                .zName = "hitless-failing",
                .xOpen = s_open,
                .xDelete = s_delete,
                .xAccess = s_access,
                .xFullPathname = s_full_path,
                .xRandomness = s_randomness,
                .xSleep = s_sleep,
                .xCurrentTime = s_current_time,
                .xGetLastError = s_last_error,
        };
        return sqlite3_vfs_register(&s_vfs, 1);
}

void failing_vfs_set_full(bool full) {
        s_full = full;
}
