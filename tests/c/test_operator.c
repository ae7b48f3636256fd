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
** cold page cache read the segment rows, not their payloads' overflow
** pages: their cache misses stay under a tenth of the database's pages,
** while a query that reads the payloads misses most of them.
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

/* Cache misses of zSql on a new connection (a cold page cache). */
static int cacheMisses(Fixture *f, const char *zSql, char *zOut, size_t nOut) {
  sqlite3 *db = NULL;
  ASSERT_INT(sqlite3_open(f->zPath, &db), SQLITE_OK);
  ASSERT_INT(raftlite_register(db), SQLITE_OK);
  sqlite3_stmt *pStmt = NULL;
  ASSERT_INT(sqlite3_prepare_v2(db, zSql, -1, &pStmt, NULL), SQLITE_OK);
  int iCur = 0, iHi = 0;
  sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_MISS, &iCur, &iHi, 1);
  zOut[0] = 0;
  while (sqlite3_step(pStmt) == SQLITE_ROW) {
    size_t n = strlen(zOut);
    snprintf(zOut + n, nOut - n, "%s%s", n ? "|" : "", (const char *)sqlite3_column_text(pStmt, 0));
  }
  ASSERT_INT(sqlite3_finalize(pStmt), SQLITE_OK);
  sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_MISS, &iCur, &iHi, 0);
  /* The views' kept statements go when SQLite disconnects them. */
  ASSERT_INT(sqlite3_close(db), SQLITE_OK);
  return iCur;
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
  int nSummary = cacheMisses(fx, "SELECT payload_bytes FROM raft_log_summary", zOut, sizeof(zOut));
  ASSERT_STR(zOut, "8192000");
  int nTerms = cacheMisses(fx, "SELECT entries FROM raft_terms", zOut, sizeof(zOut));
  ASSERT_STR(zOut, "500|500");
  int nPayloads = cacheMisses(fx, "SELECT sum(length(CAST(payloads AS BLOB)))"
                                  " FROM raftlite_segment", zOut, sizeof(zOut));
  ASSERT_STR(zOut, "8192000");
  printf("  %d pages; cache misses: raft_log_summary %d, raft_terms %d, "
         "reading the payloads %d\n", nPage, nSummary, nTerms, nPayloads);
  ASSERT(nSummary * 10 < nPage);
  ASSERT(nTerms * 10 < nPage);
  ASSERT(nPayloads * 2 > nPage);
}

RUN_TESTS(setUp, tearDown)
