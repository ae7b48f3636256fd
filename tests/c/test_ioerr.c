/*
** test_ioerr.c — after an I/O error on commit or sync, the handle refuses
** writes until the store is reopened (SPEC §5: a failed fsync is never
** retried, since whether the data reached the disk is unknown).
**
** A shim VFS ("faulty") wraps the default one and fails xSync on demand.
*/
#include "fixture.h"

static int bFailSync = 0;
static sqlite3_vfs *pRealVfs;

typedef struct FaultyFile {
  sqlite3_file base;   /* Base class - must be first */
  sqlite3_file *pReal; /* the real file, allocated right after this struct */
} FaultyFile;

#define REAL(p) (((FaultyFile *)(p))->pReal)

static int fClose(sqlite3_file *p) { return REAL(p)->pMethods->xClose(REAL(p)); }
static int fRead(sqlite3_file *p, void *b, int n, sqlite3_int64 o) {
  return REAL(p)->pMethods->xRead(REAL(p), b, n, o);
}
static int fWrite(sqlite3_file *p, const void *b, int n, sqlite3_int64 o) {
  return REAL(p)->pMethods->xWrite(REAL(p), b, n, o);
}
static int fTruncate(sqlite3_file *p, sqlite3_int64 n) {
  return REAL(p)->pMethods->xTruncate(REAL(p), n);
}
static int fSync(sqlite3_file *p, int flags) {
  if (bFailSync) return SQLITE_IOERR_FSYNC;
  return REAL(p)->pMethods->xSync(REAL(p), flags);
}
static int fFileSize(sqlite3_file *p, sqlite3_int64 *pn) {
  return REAL(p)->pMethods->xFileSize(REAL(p), pn);
}
static int fLock(sqlite3_file *p, int e) { return REAL(p)->pMethods->xLock(REAL(p), e); }
static int fUnlock(sqlite3_file *p, int e) { return REAL(p)->pMethods->xUnlock(REAL(p), e); }
static int fCheckReserved(sqlite3_file *p, int *pOut) {
  return REAL(p)->pMethods->xCheckReservedLock(REAL(p), pOut);
}
static int fFileControl(sqlite3_file *p, int op, void *pArg) {
  return REAL(p)->pMethods->xFileControl(REAL(p), op, pArg);
}
static int fSectorSize(sqlite3_file *p) { return REAL(p)->pMethods->xSectorSize(REAL(p)); }
static int fDeviceCharacteristics(sqlite3_file *p) {
  return REAL(p)->pMethods->xDeviceCharacteristics(REAL(p));
}

/* Version 1: no WAL (rollback journal only), which is all this test needs. */
static const sqlite3_io_methods faultyMethods = {
    .iVersion = 1,
    .xClose = fClose,
    .xRead = fRead,
    .xWrite = fWrite,
    .xTruncate = fTruncate,
    .xSync = fSync,
    .xFileSize = fFileSize,
    .xLock = fLock,
    .xUnlock = fUnlock,
    .xCheckReservedLock = fCheckReserved,
    .xFileControl = fFileControl,
    .xSectorSize = fSectorSize,
    .xDeviceCharacteristics = fDeviceCharacteristics,
};

static int faultyOpen(sqlite3_vfs *pVfs, const char *zName, sqlite3_file *pFile,
                      int flags, int *pOutFlags) {
  (void)pVfs;
  FaultyFile *p = (FaultyFile *)pFile;
  p->pReal = (sqlite3_file *)&p[1];
  int rc = pRealVfs->xOpen(pRealVfs, zName, p->pReal, flags, pOutFlags);
  p->base.pMethods = (rc == SQLITE_OK && p->pReal->pMethods) ? &faultyMethods : NULL;
  return rc;
}

static sqlite3_vfs faultyVfs;

static void registerFaulty(void) {
  pRealVfs = sqlite3_vfs_find(NULL);
  faultyVfs = *pRealVfs;
  faultyVfs.zName = "faulty";
  faultyVfs.szOsFile = (int)sizeof(FaultyFile) + pRealVfs->szOsFile;
  faultyVfs.xOpen = faultyOpen;
  faultyVfs.pNext = NULL;
  sqlite3_vfs_register(&faultyVfs, 0);
}

typedef struct Faulty {
  sqlite3 *db;
  raftlite *store;
} Faulty;

static void *faultySetUp(void) {
  static int bRegistered = 0;
  if (!bRegistered) {
    registerFaulty();
    sqlite3_config(SQLITE_CONFIG_LOG, logToStderr, NULL);
    bRegistered = 1;
  }
  remove("ioerr.db");
  remove("ioerr.db-journal");
  Faulty *f = calloc(1, sizeof(*f));
  if (sqlite3_open_v2("ioerr.db", &f->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      "faulty") != SQLITE_OK ||
      sqlite3_exec(f->db, "PRAGMA synchronous=EXTRA", NULL, NULL, NULL) != SQLITE_OK ||
      raftlite_open(f->db, "main", &f->store) != SQLITE_OK) {
    fprintf(stderr, "cannot open ioerr.db\n");
    exit(2);
  }
  return f;
}

static void faultyTearDown(void *p) {
  Faulty *f = p;
  bFailSync = 0;
  raftlite_close(f->store);
  sqlite3_close(f->db);
  free(f);
  remove("ioerr.db");
  remove("ioerr.db-journal");
}

#define G ((Faulty *)f)

static int appendOne(raftlite *store, uint64_t index) {
  raftlite_entry e = {{1, index}, RAFTLITE_BLANK, NULL, 0};
  return raftlite_append_to_log(store, &e, 1);
}

/* A failed sync on commit fails the call; the handle then refuses every
** write, even once the disk is healthy again, until the store is reopened. */
TEST(ioerr, failedSyncBreaksTheHandle) {
  ASSERT_INT(appendOne(G->store, 1), SQLITE_OK);
  bFailSync = 1;
  int rc = appendOne(G->store, 2);
  ASSERT_INT(rc & 0xff, SQLITE_IOERR);
  bFailSync = 0;
  ASSERT_INT(appendOne(G->store, 2), SQLITE_IOERR);
  ASSERT_STR(raftlite_errmsg(G->store),
             "an earlier commit failed with an I/O error: this handle refuses "
             "writes until the store is reopened");
  raftlite_hard_state hs = {1, 0, 0};
  ASSERT_INT(raftlite_save_hard_state(G->store, &hs), SQLITE_IOERR);
  /* Reads still work. */
  raftlite_log_state ls;
  ASSERT_INT(raftlite_get_log_state(G->store, &ls), SQLITE_OK);
  /* Reopened, the store takes writes again and is consistent. */
  raftlite_close(G->store);
  ASSERT_INT(raftlite_open(G->db, "main", &G->store), SQLITE_OK);
  ASSERT_INT(raftlite_get_log_state(G->store, &ls), SQLITE_OK);
  ASSERT_INT(appendOne(G->store, ls.last_log_id.index + 1), SQLITE_OK);
  sqlite3_stmt *pStmt = NULL;
  sqlite3_prepare_v2(G->db, "SELECT raft_check()", -1, &pStmt, NULL);
  ASSERT_INT(sqlite3_step(pStmt), SQLITE_ROW);
  ASSERT_STR((const char *)sqlite3_column_text(pStmt, 0), "ok");
  sqlite3_finalize(pStmt);
}

RUN_TESTS(faultySetUp, faultyTearDown)
