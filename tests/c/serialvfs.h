/*
** serialvfs.h — lets two threads share faultvfs, which is written for one
** (test_checkpointer.c, test_powerloss.c with the checkpointer).
**
** svRegister() registers the VFS "serialvfs" over "faultvfs" (register
** that first): every method that reaches faultvfs's state (its fault
** counters and its disk model) runs under one mutex, so the writer's
** thread and a checkpointer's thread never run faultvfs code at once.
** The test takes the same mutex (svLock/svUnlock) around its own calls of
** fvCrashNow(), fvMaterialize() and the like while a checkpointer runs.
**
** svArmOthers(eClass, rc): from now on, every call of that class made by a
** thread other than the one that armed it fails with rc — faultvfs's own
** fvArm() for that one call — so an I/O error hits the checkpointer's
** checkpoint and never the writer. svArmOthers(-1, 0) disarms;
** svFiredOthers() counts the calls failed.
**
** Lock order: SQLite's mutexes, then this one, then the unix VFS's. No
** method blocks while holding it (unix locks are non-blocking; xSleep is
** not wrapped).
*/
#ifndef RAFTLITE_SERIALVFS_H
#define RAFTLITE_SERIALVFS_H

#include <pthread.h>
#include <sqlite3.h>
#include <string.h>

#include "faultvfs.h"

#define SV_VFS "serialvfs"

static pthread_mutex_t svMutex = PTHREAD_MUTEX_INITIALIZER;
static sqlite3_vfs *svReal;
static sqlite3_vfs svVfs;
static struct {
  int eClass; /* armed class for other threads, or -1 */
  int rc;
  pthread_t owner; /* the thread that armed */
  long nFired;
} svArm = {-1, 0, 0, 0};

static inline void svLock(void) { pthread_mutex_lock(&svMutex); }
static inline void svUnlock(void) { pthread_mutex_unlock(&svMutex); }

static inline void svArmOthers(int eClass, int rc) {
  svLock();
  svArm.eClass = eClass;
  svArm.rc = rc;
  svArm.owner = pthread_self();
  svArm.nFired = 0;
  svUnlock();
}

static inline long svFiredOthers(void) {
  svLock();
  long n = svArm.nFired;
  svUnlock();
  return n;
}

/* Called with the mutex held, before a call of class eClass: arms faultvfs
** for this one call when it comes from another thread. */
static inline int svEnter(int eClass) {
  if (svArm.eClass != eClass || pthread_equal(svArm.owner, pthread_self())) return 0;
  fvArm(eClass, 1, 0, svArm.rc);
  return 1;
}

static inline void svLeave(int bArmed) {
  if (bArmed) svArm.nFired += fvDisarm();
}

typedef struct SvFile {
  sqlite3_file base;
  sqlite3_file *pReal; /* a faultvfs file, right after this struct */
} SvFile;

#define SV_REAL(p) (((SvFile *)(p))->pReal)

/* A method of class eClass (-1: none), serialized. */
#define SV_CALL(eClass, call)                                                   \
  do {                                                                          \
    svLock();                                                                   \
    int bArmed_ = svEnter(eClass);                                              \
    int rc_ = call;                                                             \
    svLeave(bArmed_);                                                           \
    svUnlock();                                                                 \
    return rc_;                                                                 \
  } while (0)

static int svClose(sqlite3_file *p) { SV_CALL(-1, SV_REAL(p)->pMethods->xClose(SV_REAL(p))); }
static int svRead(sqlite3_file *p, void *a, int n, sqlite3_int64 i) {
  SV_CALL(FV_READ, SV_REAL(p)->pMethods->xRead(SV_REAL(p), a, n, i));
}
static int svWrite(sqlite3_file *p, const void *a, int n, sqlite3_int64 i) {
  SV_CALL(FV_WRITE, SV_REAL(p)->pMethods->xWrite(SV_REAL(p), a, n, i));
}
static int svTruncate(sqlite3_file *p, sqlite3_int64 n) {
  SV_CALL(FV_TRUNCATE, SV_REAL(p)->pMethods->xTruncate(SV_REAL(p), n));
}
static int svSync(sqlite3_file *p, int f) {
  SV_CALL(FV_SYNC, SV_REAL(p)->pMethods->xSync(SV_REAL(p), f));
}
static int svFileSize(sqlite3_file *p, sqlite3_int64 *pn) {
  SV_CALL(FV_FILESIZE, SV_REAL(p)->pMethods->xFileSize(SV_REAL(p), pn));
}
static int svLockFile(sqlite3_file *p, int e) {
  SV_CALL(FV_LOCK, SV_REAL(p)->pMethods->xLock(SV_REAL(p), e));
}
static int svUnlockFile(sqlite3_file *p, int e) {
  SV_CALL(-1, SV_REAL(p)->pMethods->xUnlock(SV_REAL(p), e));
}
static int svCheckReservedLock(sqlite3_file *p, int *pOut) {
  SV_CALL(-1, SV_REAL(p)->pMethods->xCheckReservedLock(SV_REAL(p), pOut));
}
static int svFileControl(sqlite3_file *p, int op, void *pArg) {
  SV_CALL(-1, SV_REAL(p)->pMethods->xFileControl(SV_REAL(p), op, pArg));
}
static int svSectorSize(sqlite3_file *p) { return SV_REAL(p)->pMethods->xSectorSize(SV_REAL(p)); }
static int svDeviceCharacteristics(sqlite3_file *p) {
  return SV_REAL(p)->pMethods->xDeviceCharacteristics(SV_REAL(p));
}
static int svShmMap(sqlite3_file *p, int i, int n, int b, void volatile **pp) {
  SV_CALL(FV_SHMMAP, SV_REAL(p)->pMethods->xShmMap(SV_REAL(p), i, n, b, pp));
}
static int svShmLock(sqlite3_file *p, int i, int n, int f) {
  SV_CALL(-1, SV_REAL(p)->pMethods->xShmLock(SV_REAL(p), i, n, f));
}
static void svShmBarrier(sqlite3_file *p) { SV_REAL(p)->pMethods->xShmBarrier(SV_REAL(p)); }
static int svShmUnmap(sqlite3_file *p, int b) {
  SV_CALL(-1, SV_REAL(p)->pMethods->xShmUnmap(SV_REAL(p), b));
}

static const sqlite3_io_methods svMethods = {
    2,                       /* iVersion: as faultvfs (no xFetch) */
    svClose,                 /* xClose */
    svRead,                  /* xRead */
    svWrite,                 /* xWrite */
    svTruncate,              /* xTruncate */
    svSync,                  /* xSync */
    svFileSize,              /* xFileSize */
    svLockFile,              /* xLock */
    svUnlockFile,            /* xUnlock */
    svCheckReservedLock,     /* xCheckReservedLock */
    svFileControl,           /* xFileControl */
    svSectorSize,            /* xSectorSize */
    svDeviceCharacteristics, /* xDeviceCharacteristics */
    svShmMap,                /* xShmMap */
    svShmLock,               /* xShmLock */
    svShmBarrier,            /* xShmBarrier */
    svShmUnmap,              /* xShmUnmap */
    0,                       /* xFetch */
    0,                       /* xUnfetch */
};

static int svOpen(sqlite3_vfs *pVfs, const char *zName, sqlite3_file *pFile, int flags,
                  int *pOutFlags) {
  (void)pVfs;
  SvFile *p = (SvFile *)pFile;
  memset(p, 0, sizeof(*p));
  p->pReal = (sqlite3_file *)&p[1];
  svLock();
  int bArmed = svEnter(FV_OPEN);
  int rc = svReal->xOpen(svReal, zName, p->pReal, flags, pOutFlags);
  svLeave(bArmed);
  svUnlock();
  p->base.pMethods = p->pReal->pMethods ? &svMethods : NULL;
  return rc;
}

static int svDelete(sqlite3_vfs *pVfs, const char *zName, int bDirSync) {
  (void)pVfs;
  SV_CALL(FV_DELETE, svReal->xDelete(svReal, zName, bDirSync));
}

static int svAccess(sqlite3_vfs *pVfs, const char *zName, int flags, int *pOut) {
  (void)pVfs;
  SV_CALL(FV_ACCESS, svReal->xAccess(svReal, zName, flags, pOut));
}

static inline void svRegister(void) {
  if (svReal) return;
  svReal = sqlite3_vfs_find(FV_VFS);
  svVfs = *svReal;
  svVfs.zName = SV_VFS;
  svVfs.szOsFile = (int)sizeof(SvFile) + svReal->szOsFile;
  svVfs.pNext = NULL;
  svVfs.xOpen = svOpen;
  svVfs.xDelete = svDelete;
  svVfs.xAccess = svAccess;
  sqlite3_vfs_register(&svVfs, 0);
}

#endif /* RAFTLITE_SERIALVFS_H */
