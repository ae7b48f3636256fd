/*
** test_operator.c — the operator's views read in bounded memory, and the
** ones that need no payload read none (docs/operator.md).
**
** memory/streams: on a log of 200,000 entries (about 20 MB of payloads), SQLite's
** memory high-water mark while raft_terms or raft_unapplied is read to its
** end grows by less than MAX_GROWTH: their cursors hold one segment, never
** the log. The same meter sees a query that does collect (group_concat
** over raft_unapplied) grow past it, so the bound means something.
**
** pages/summary: on a log of large entries, raft_log_summary and raft_terms on a
** new connection read the segment rows, not their payloads' overflow
** pages: the pages they read from the file (counted by a VFS shim, since
** SQLite 3.53 reads overflow pages around its page cache) stay under a
** tenth of the database's, while a query that reads the payloads reads
** most of them.
*/
#include "fixture.h"

#define MAX_GROWTH (2 * 1024 * 1024)

/* Appends n normal entries of nPayload bytes from index 1 on, term 1 for
** the first half and 2 after, in batches of 1000, in one transaction. */
static void appendLog(Fixture *f, int n, int nPayload) {
  enum { BATCH = 1000 };
  static raftlite_entry a[BATCH];
  unsigned char *pPayload = malloc((size_t)nPayload);
  memset(pPayload, 'x', (size_t)nPayload);
  ASSERT_INT(sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
  for (int i = 0; i < n;) {
    int k = 0;
    for (; k < BATCH && i < n; k++, i++) {
      a[k].log_id.index = (uint64_t)i + 1;
      a[k].log_id.term = i < n / 2 ? 1 : 2;
      a[k].kind = RAFTLITE_NORMAL;
      a[k].data = pPayload;
      a[k].size = (size_t)nPayload;
    }
    int rc = raftlite_append_to_log(f->store, a, (size_t)k);
    if (rc != SQLITE_OK) FAIL("append: %s", raftlite_errmsg(f->store));
  }
  ASSERT_INT(sqlite3_exec(f->db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
  free(pPayload);
}

/* Steps zSql to its end; returns the rows, and the growth of SQLite's
** memory high-water mark above what was in use before, in *pnGrowth. */
static int64_t stepAll(sqlite3 *db, const char *zSql, int64_t *pnGrowth) {
  sqlite3_stmt *pStmt = NULL;
  int rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, NULL);
  if (rc != SQLITE_OK) FAIL("%s: %s", zSql, sqlite3_errmsg(db));
  int64_t nBefore = sqlite3_memory_used();
  sqlite3_memory_highwater(1);
  int64_t nRow = 0;
  while ((rc = sqlite3_step(pStmt)) == SQLITE_ROW) nRow++;
  *pnGrowth = sqlite3_memory_highwater(0) - nBefore;
  if (rc != SQLITE_DONE) FAIL("%s: %s", zSql, sqlite3_errmsg(db));
  sqlite3_finalize(pStmt);
  return nRow;
}

TEST(memory, streams) {
  Fixture *fx = f;
  appendLog(fx, 200000, 100);
  /* A small page cache, so that the growth measured is the cursors'. */
  ASSERT_INT(sqlite3_exec(fx->db, "PRAGMA cache_size = 100", NULL, NULL, NULL), SQLITE_OK);
  int64_t nGrowth = 0;
  ASSERT_INT(stepAll(fx->db, "SELECT * FROM raft_terms", &nGrowth), 2);
  printf("  raft_terms over 200000 entries: high-water growth %lld bytes\n",
         (long long)nGrowth);
  ASSERT(nGrowth < MAX_GROWTH);
  ASSERT_INT(stepAll(fx->db, "SELECT * FROM raft_unapplied", &nGrowth), 200000);
  printf("  raft_unapplied over 200000 entries: high-water growth %lld bytes\n",
         (long long)nGrowth);
  ASSERT(nGrowth < MAX_GROWTH);
  ASSERT_INT(stepAll(fx->db, "SELECT * FROM raft_log_summary", &nGrowth), 1);
  printf("  raft_log_summary: high-water growth %lld bytes\n", (long long)nGrowth);
  ASSERT(nGrowth < MAX_GROWTH);
  /* The meter: collecting the previews does grow past the bound. */
  ASSERT_INT(stepAll(fx->db, "SELECT group_concat(preview) FROM raft_unapplied", &nGrowth), 1);
  printf("  group_concat over raft_unapplied: high-water growth %lld bytes\n",
         (long long)nGrowth);
  ASSERT(nGrowth > MAX_GROWTH);
}

/* A VFS that counts the reads of the files it opens ("countvfs"): the
** pages a query reads from the database file, whether through the page
** cache or around it. Version 1 methods only: no WAL, no mmap, which the
** test's rollback-journal store does not use. */
typedef struct CountFile {
  sqlite3_file base;
  sqlite3_file *pReal; /* follows this struct in the same allocation */
} CountFile;

static int nCountedReads;

static sqlite3_file *realOf(sqlite3_file *p) { return ((CountFile *)p)->pReal; }
static int cClose(sqlite3_file *p) { return realOf(p)->pMethods->xClose(realOf(p)); }
static int cRead(sqlite3_file *p, void *a, int n, sqlite3_int64 o) {
  nCountedReads++;
  return realOf(p)->pMethods->xRead(realOf(p), a, n, o);
}
static int cWrite(sqlite3_file *p, const void *a, int n, sqlite3_int64 o) {
  return realOf(p)->pMethods->xWrite(realOf(p), a, n, o);
}
static int cTruncate(sqlite3_file *p, sqlite3_int64 n) {
  return realOf(p)->pMethods->xTruncate(realOf(p), n);
}
static int cSync(sqlite3_file *p, int f) { return realOf(p)->pMethods->xSync(realOf(p), f); }
static int cFileSize(sqlite3_file *p, sqlite3_int64 *pn) {
  return realOf(p)->pMethods->xFileSize(realOf(p), pn);
}
static int cLock(sqlite3_file *p, int e) { return realOf(p)->pMethods->xLock(realOf(p), e); }
static int cUnlock(sqlite3_file *p, int e) { return realOf(p)->pMethods->xUnlock(realOf(p), e); }
static int cCheckReserved(sqlite3_file *p, int *pb) {
  return realOf(p)->pMethods->xCheckReservedLock(realOf(p), pb);
}
static int cFileControl(sqlite3_file *p, int op, void *pArg) {
  return realOf(p)->pMethods->xFileControl(realOf(p), op, pArg);
}
static int cSectorSize(sqlite3_file *p) { return realOf(p)->pMethods->xSectorSize(realOf(p)); }
static int cDevice(sqlite3_file *p) {
  return realOf(p)->pMethods->xDeviceCharacteristics(realOf(p));
}
static const sqlite3_io_methods countMethods = {
    .iVersion = 1,
    .xClose = cClose,
    .xRead = cRead,
    .xWrite = cWrite,
    .xTruncate = cTruncate,
    .xSync = cSync,
    .xFileSize = cFileSize,
    .xLock = cLock,
    .xUnlock = cUnlock,
    .xCheckReservedLock = cCheckReserved,
    .xFileControl = cFileControl,
    .xSectorSize = cSectorSize,
    .xDeviceCharacteristics = cDevice,
};

static sqlite3_vfs countVfs;

static int cOpen(sqlite3_vfs *pVfs, const char *zName, sqlite3_file *pFile, int flags,
                 int *pOutFlags) {
  sqlite3_vfs *pReal = pVfs->pAppData;
  CountFile *p = (CountFile *)pFile;
  p->pReal = (sqlite3_file *)&p[1];
  int rc = pReal->xOpen(pReal, zName, p->pReal, flags, pOutFlags);
  p->base.pMethods = rc == SQLITE_OK ? &countMethods : NULL;
  return rc;
}

static void countVfsRegister(void) {
  if (sqlite3_vfs_find("countvfs")) return;
  sqlite3_vfs *pReal = sqlite3_vfs_find(NULL);
  countVfs = *pReal;
  countVfs.iVersion = 1;
  countVfs.zName = "countvfs";
  countVfs.pAppData = pReal;
  countVfs.szOsFile = (int)sizeof(CountFile) + pReal->szOsFile;
  countVfs.xOpen = cOpen;
  countVfs.pNext = NULL;
  ASSERT_INT(sqlite3_vfs_register(&countVfs, 0), SQLITE_OK);
}

/* The reads of the database file zSql makes on a new connection. */
static int pagesRead(Fixture *f, const char *zSql, char *zOut, size_t nOut) {
  countVfsRegister();
  sqlite3 *db = NULL;
  ASSERT_INT(sqlite3_open_v2(f->zPath, &db, SQLITE_OPEN_READWRITE, "countvfs"), SQLITE_OK);
  ASSERT_INT(raftlite_register(db), SQLITE_OK);
  sqlite3_stmt *pStmt = NULL;
  ASSERT_INT(sqlite3_prepare_v2(db, zSql, -1, &pStmt, NULL), SQLITE_OK);
  nCountedReads = 0;
  zOut[0] = 0;
  while (sqlite3_step(pStmt) == SQLITE_ROW) {
    size_t n = strlen(zOut);
    snprintf(zOut + n, nOut - n, "%s%s", n ? "|" : "", (const char *)sqlite3_column_text(pStmt, 0));
  }
  int nRead = nCountedReads;
  ASSERT_INT(sqlite3_finalize(pStmt), SQLITE_OK);
  /* The views' kept statements go when SQLite disconnects them. */
  ASSERT_INT(sqlite3_close(db), SQLITE_OK);
  return nRead;
}

TEST(pages, summary) {
  Fixture *fx = f;
  appendLog(fx, 1000, 8192); /* 8 MB: 8 entries a segment */
  int nPage = 0;
  sqlite3_stmt *pStmt = NULL;
  ASSERT_INT(sqlite3_prepare_v2(fx->db, "PRAGMA page_count", -1, &pStmt, NULL), SQLITE_OK);
  ASSERT_INT(sqlite3_step(pStmt), SQLITE_ROW);
  nPage = sqlite3_column_int(pStmt, 0);
  sqlite3_finalize(pStmt);
  char zOut[256];
  int nSummary = pagesRead(fx, "SELECT payload_bytes FROM raft_log_summary", zOut, sizeof(zOut));
  ASSERT_STR(zOut, "8192000");
  int nTerms = pagesRead(fx, "SELECT entries FROM raft_terms", zOut, sizeof(zOut));
  ASSERT_STR(zOut, "500|500");
  int nPayloads = pagesRead(fx, "SELECT sum(length(CAST(payloads AS BLOB)))"
                                  " FROM raftlite_segment", zOut, sizeof(zOut));
  ASSERT_STR(zOut, "8192000");
  printf("  %d pages; reads of the file: raft_log_summary %d, raft_terms %d, "
         "reading the payloads %d\n", nPage, nSummary, nTerms, nPayloads);
  ASSERT(nSummary * 10 < nPage);
  ASSERT(nTerms * 10 < nPage);
  ASSERT(nPayloads * 2 > nPage);
}

RUN_TESTS(setUp, tearDown)
