/*
** vfs_watch.c — the "raftlite" VFS: a shim over the default VFS that tells
** raftlite when a database's durability settings may have changed, so that
** a writing call checks them with PRAGMA statements only after a change,
** not on every call (docs/contract.md §5).
**
**     raftlite_vfs_register(NULL);
**     sqlite3_open_v2("node.db", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
**                     RAFTLITE_VFS);
**
** WHY A VFS. SQLite has no interface that reads synchronous or journal_mode
** but a PRAGMA, and a PRAGMA statement is compiled again every time it runs
** (its value is fixed in the compiled program). Nor does a change of
** either setting bump anything raftlite could read: not data_version, not
** the schema cookie. The commit and authorizer hooks would see it, but each
** holds one callback and would take the application's. The VFS sees it:
** SQLite sends SQLITE_FCNTL_PRAGMA to the file of the schema a PRAGMA names
** (the main database's when it names none) every time it compiles one,
** before the setting changes.
**
** HOW IT WORKS. Each database file carries an epoch, a number drawn from a
** process-wide counter, so no two files nor two states of one file ever
** share one. It is drawn anew when a PRAGMA that sets a value is compiled
** against the file (synchronous changes as it compiles), and when the
** file's WAL opens. raftlite reads the epoch with the file control
** RL_FCNTL_SETTINGS_EPOCH, which the file answers only while its WAL is
** open. That covers journal_mode, which changes when its PRAGMA runs, any
** time after the compile: a mode can only leave WAL by closing the WAL,
** and from a rollback journal it can change without a sound the VFS hears
** (DELETE to OFF), so a store in rollback mode always checks with PRAGMAs.
** A store remembers the epoch at which its full check last passed
** (store.c) and skips the journal_mode and synchronous PRAGMAs while it is
** unchanged.
**
** Not watched: ignore_check_constraints is one flag of the connection, and
** a PRAGMA may name any schema to set it, TEMP's included, whose file may
** not exist: store.c checks it with a PRAGMA on every call.
**
** Everything else is passed to the wrapped VFS as it is.
*/
#include "raftlite_int.h"

#include <pthread.h>
#include <string.h>

typedef struct WatchFile WatchFile;
struct WatchFile {
  sqlite3_file base;     /* Base class - must be first */
  sqlite3_file *pReal;   /* the wrapped VFS's file, just after this struct */
  WatchFile *pDatabase;  /* a WAL's database file; NULL otherwise */
  sqlite3_uint64 iEpoch; /* a database file's settings epoch */
  int bMainDb;           /* opened as SQLITE_OPEN_MAIN_DB */
  int bWalOpen;          /* a database file whose WAL is open */
};

static sqlite3_vfs watchVfs;
static sqlite3_uint64 watchCounter;

/* A number no file has had: the counter is shared by every connection of
** every thread. */
static sqlite3_uint64 watchNextEpoch(void) {
  return __atomic_add_fetch(&watchCounter, 1, __ATOMIC_RELAXED);
}

static sqlite3_vfs *watchReal(void) { return (sqlite3_vfs *)watchVfs.pAppData; }

/* ------------------------------------------------------------------------
** File methods
*/

static int watchClose(sqlite3_file *pFile) {
  WatchFile *p = (WatchFile *)pFile;
  if (p->pDatabase) p->pDatabase->bWalOpen = 0;
  return p->pReal->pMethods->xClose(p->pReal);
}

static int watchRead(sqlite3_file *pFile, void *a, int n, sqlite3_int64 iOff) {
  sqlite3_file *pReal = ((WatchFile *)pFile)->pReal;
  return pReal->pMethods->xRead(pReal, a, n, iOff);
}

static int watchWrite(sqlite3_file *pFile, const void *a, int n, sqlite3_int64 iOff) {
  sqlite3_file *pReal = ((WatchFile *)pFile)->pReal;
  return pReal->pMethods->xWrite(pReal, a, n, iOff);
}

static int watchTruncate(sqlite3_file *pFile, sqlite3_int64 n) {
  sqlite3_file *pReal = ((WatchFile *)pFile)->pReal;
  return pReal->pMethods->xTruncate(pReal, n);
}

static int watchSync(sqlite3_file *pFile, int flags) {
  sqlite3_file *pReal = ((WatchFile *)pFile)->pReal;
  return pReal->pMethods->xSync(pReal, flags);
}

static int watchFileSize(sqlite3_file *pFile, sqlite3_int64 *pSize) {
  sqlite3_file *pReal = ((WatchFile *)pFile)->pReal;
  return pReal->pMethods->xFileSize(pReal, pSize);
}

static int watchLock(sqlite3_file *pFile, int eLock) {
  sqlite3_file *pReal = ((WatchFile *)pFile)->pReal;
  return pReal->pMethods->xLock(pReal, eLock);
}

static int watchUnlock(sqlite3_file *pFile, int eLock) {
  sqlite3_file *pReal = ((WatchFile *)pFile)->pReal;
  return pReal->pMethods->xUnlock(pReal, eLock);
}

static int watchCheckReservedLock(sqlite3_file *pFile, int *pResOut) {
  sqlite3_file *pReal = ((WatchFile *)pFile)->pReal;
  return pReal->pMethods->xCheckReservedLock(pReal, pResOut);
}

static int watchFileControl(sqlite3_file *pFile, int op, void *pArg) {
  WatchFile *p = (WatchFile *)pFile;
  switch (op) {
    case RL_FCNTL_SETTINGS_EPOCH:
      if (!p->bMainDb || !p->bWalOpen) return SQLITE_NOTFOUND;
      *(sqlite3_uint64 *)pArg = p->iEpoch;
      return SQLITE_OK;
    case SQLITE_FCNTL_PRAGMA:
      /* aFcntl[2] is the value; NULL for a PRAGMA that only reads. */
      if (((char **)pArg)[2] != NULL) p->iEpoch = watchNextEpoch();
      break;
    case SQLITE_FCNTL_VFSNAME: {
      int rc = p->pReal->pMethods->xFileControl(p->pReal, op, pArg);
      if (rc == SQLITE_OK) {
        char *zInner = *(char **)pArg;
        *(char **)pArg = sqlite3_mprintf("%s/%z", watchVfs.zName, zInner);
      }
      return rc;
    }
  }
  return p->pReal->pMethods->xFileControl(p->pReal, op, pArg);
}

static int watchSectorSize(sqlite3_file *pFile) {
  sqlite3_file *pReal = ((WatchFile *)pFile)->pReal;
  return pReal->pMethods->xSectorSize(pReal);
}

static int watchDeviceCharacteristics(sqlite3_file *pFile) {
  sqlite3_file *pReal = ((WatchFile *)pFile)->pReal;
  return pReal->pMethods->xDeviceCharacteristics(pReal);
}

static int watchShmMap(sqlite3_file *pFile, int iPg, int pgsz, int bExtend,
                       void volatile **pp) {
  sqlite3_file *pReal = ((WatchFile *)pFile)->pReal;
  return pReal->pMethods->xShmMap(pReal, iPg, pgsz, bExtend, pp);
}

static int watchShmLock(sqlite3_file *pFile, int iOff, int n, int flags) {
  sqlite3_file *pReal = ((WatchFile *)pFile)->pReal;
  return pReal->pMethods->xShmLock(pReal, iOff, n, flags);
}

static void watchShmBarrier(sqlite3_file *pFile) {
  sqlite3_file *pReal = ((WatchFile *)pFile)->pReal;
  pReal->pMethods->xShmBarrier(pReal);
}

static int watchShmUnmap(sqlite3_file *pFile, int bDelete) {
  sqlite3_file *pReal = ((WatchFile *)pFile)->pReal;
  return pReal->pMethods->xShmUnmap(pReal, bDelete);
}

static int watchFetch(sqlite3_file *pFile, sqlite3_int64 iOff, int n, void **pp) {
  sqlite3_file *pReal = ((WatchFile *)pFile)->pReal;
  return pReal->pMethods->xFetch(pReal, iOff, n, pp);
}

static int watchUnfetch(sqlite3_file *pFile, sqlite3_int64 iOff, void *pPage) {
  sqlite3_file *pReal = ((WatchFile *)pFile)->pReal;
  return pReal->pMethods->xUnfetch(pReal, iOff, pPage);
}

/* One table per version of the wrapped file's methods: SQLite calls the
** shared-memory methods (2) and memory-mapped reads (3) only where the
** version says they exist, so the shim must not claim more than its
** file has. */
#define WATCH_METHODS(iVersion)                                                     \
  {                                                                                 \
    iVersion, watchClose, watchRead, watchWrite, watchTruncate, watchSync,          \
        watchFileSize, watchLock, watchUnlock, watchCheckReservedLock,              \
        watchFileControl, watchSectorSize, watchDeviceCharacteristics, watchShmMap, \
        watchShmLock, watchShmBarrier, watchShmUnmap, watchFetch, watchUnfetch      \
  }
static const sqlite3_io_methods aWatchMethods[3] = {WATCH_METHODS(1), WATCH_METHODS(2),
                                                    WATCH_METHODS(3)};

/* ------------------------------------------------------------------------
** VFS methods
*/

static int watchOpen(sqlite3_vfs *pVfs, const char *zName, sqlite3_file *pFile, int flags,
                     int *pOutFlags) {
  (void)pVfs;
  WatchFile *p = (WatchFile *)pFile;
  memset(p, 0, sizeof(*p));
  p->pReal = (sqlite3_file *)&p[1];
  int rc = watchReal()->xOpen(watchReal(), zName, p->pReal, flags, pOutFlags);
  if (rc != SQLITE_OK || p->pReal->pMethods == NULL) {
    /* SQLite calls no method, xClose included, of a file whose pMethods
    ** is NULL: close the wrapped one here. */
    if (p->pReal->pMethods) p->pReal->pMethods->xClose(p->pReal);
    p->base.pMethods = NULL;
    return rc == SQLITE_OK ? SQLITE_CANTOPEN : rc;
  }
  int iVersion = p->pReal->pMethods->iVersion;
  p->base.pMethods = &aWatchMethods[(iVersion > 3 ? 3 : iVersion < 1 ? 1 : iVersion) - 1];
  p->iEpoch = watchNextEpoch();
  p->bMainDb = (flags & SQLITE_OPEN_MAIN_DB) != 0;
  if ((flags & SQLITE_OPEN_WAL) && zName) {
    /* The database file SQLite opened through this VFS, and so a WatchFile. */
    sqlite3_file *pDb = sqlite3_database_file_object(zName);
    if (pDb && pDb->pMethods && pDb->pMethods->xClose == watchClose) {
      p->pDatabase = (WatchFile *)pDb;
      p->pDatabase->bWalOpen = 1;
      /* Each time the WAL opens, a new epoch: whatever closed it before,
      ** no epoch recorded earlier can match. */
      p->pDatabase->iEpoch = watchNextEpoch();
    }
  }
  return SQLITE_OK;
}

static int watchDelete(sqlite3_vfs *pVfs, const char *zName, int bSyncDir) {
  (void)pVfs;
  return watchReal()->xDelete(watchReal(), zName, bSyncDir);
}

static int watchAccess(sqlite3_vfs *pVfs, const char *zName, int flags, int *pResOut) {
  (void)pVfs;
  return watchReal()->xAccess(watchReal(), zName, flags, pResOut);
}

static int watchFullPathname(sqlite3_vfs *pVfs, const char *zName, int nOut, char *zOut) {
  (void)pVfs;
  return watchReal()->xFullPathname(watchReal(), zName, nOut, zOut);
}

static void *watchDlOpen(sqlite3_vfs *pVfs, const char *zPath) {
  (void)pVfs;
  return watchReal()->xDlOpen(watchReal(), zPath);
}

static void watchDlError(sqlite3_vfs *pVfs, int nByte, char *zErrMsg) {
  (void)pVfs;
  watchReal()->xDlError(watchReal(), nByte, zErrMsg);
}

static void (*watchDlSym(sqlite3_vfs *pVfs, void *pHandle, const char *zSym))(void) {
  (void)pVfs;
  return watchReal()->xDlSym(watchReal(), pHandle, zSym);
}

static void watchDlClose(sqlite3_vfs *pVfs, void *pHandle) {
  (void)pVfs;
  watchReal()->xDlClose(watchReal(), pHandle);
}

static int watchRandomness(sqlite3_vfs *pVfs, int nByte, char *zOut) {
  (void)pVfs;
  return watchReal()->xRandomness(watchReal(), nByte, zOut);
}

static int watchSleep(sqlite3_vfs *pVfs, int nMicro) {
  (void)pVfs;
  return watchReal()->xSleep(watchReal(), nMicro);
}

static int watchCurrentTime(sqlite3_vfs *pVfs, double *pTime) {
  (void)pVfs;
  return watchReal()->xCurrentTime(watchReal(), pTime);
}

static int watchGetLastError(sqlite3_vfs *pVfs, int nBuf, char *zBuf) {
  (void)pVfs;
  return watchReal()->xGetLastError(watchReal(), nBuf, zBuf);
}

static int watchCurrentTimeInt64(sqlite3_vfs *pVfs, sqlite3_int64 *pTime) {
  (void)pVfs;
  return watchReal()->xCurrentTimeInt64(watchReal(), pTime);
}

int raftlite_vfs_register(const char *zBase) {
  static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  sqlite3_vfs *pReal = sqlite3_vfs_find(zBase); /* initializes SQLite */
  if (pReal == NULL || pReal == &watchVfs) return SQLITE_ERROR;
  int rc = SQLITE_OK;
  /* One "raftlite" VFS, over one VFS: registering it again must neither
  ** wrap it in itself nor swap what it wraps under open files. */
  pthread_mutex_lock(&mutex);
  if (watchVfs.pAppData == NULL) {
    if (pReal->iVersion < 2 || pReal->xCurrentTimeInt64 == NULL) {
      rc = SQLITE_ERROR; /* no VFS of this century lacks it */
    } else {
      watchVfs = (sqlite3_vfs){
          .iVersion = 2,
          .szOsFile = (int)sizeof(WatchFile) + pReal->szOsFile,
          .mxPathname = pReal->mxPathname,
          .zName = RAFTLITE_VFS,
          .pAppData = pReal,
          .xOpen = watchOpen,
          .xDelete = watchDelete,
          .xAccess = watchAccess,
          .xFullPathname = watchFullPathname,
          .xDlOpen = watchDlOpen,
          .xDlError = watchDlError,
          .xDlSym = watchDlSym,
          .xDlClose = watchDlClose,
          .xRandomness = watchRandomness,
          .xSleep = watchSleep,
          .xCurrentTime = watchCurrentTime,
          .xGetLastError = watchGetLastError,
          .xCurrentTimeInt64 = watchCurrentTimeInt64,
      };
      rc = sqlite3_vfs_register(&watchVfs, 0);
      if (rc != SQLITE_OK) watchVfs.pAppData = NULL;
    }
  } else if (watchVfs.pAppData != pReal) {
    rc = SQLITE_MISUSE;
  }
  pthread_mutex_unlock(&mutex);
  return rc;
}

int rlSettingsEpoch(sqlite3 *db, const char *zSchema, sqlite3_uint64 *pEpoch) {
  return sqlite3_file_control(db, zSchema, RL_FCNTL_SETTINGS_EPOCH, pEpoch) == SQLITE_OK;
}
