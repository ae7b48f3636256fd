/*
** test_overhead.c — guards on the work an operation does that are not
** timings (docs/performance.md).
**
**   plan:    no statement on the append, read, apply or purge path builds an
**            ephemeral b-tree or sorts (EXPLAIN of every cached statement,
**            trigger programs included; EXPLAIN QUERY PLAN). One
**            program is exempt: the membership validator
**            (raftlite_membership_check_valid, sql/002_membership.sql),
**            which runs for membership entries only — one per
**            configuration change — and needs DISTINCT to find a node id
**            given twice
**   steps:   the virtual-machine steps of an append, summed over the
**            store's statements (their triggers run inside them), do not
**            grow with the log's length, and grow at most linearly with the
**            batch; no statement is prepared again per call but the three
**            guard PRAGMAs (SQLite expires a PRAGMA after each run)
**
** An RlStore is driven directly (the static library links the internals),
** so that its statement table can be read.
*/
#include <pthread.h>

#include "fixture.h"
#include "raftlite_int.h"

/* A store on the fixture's connection, with persistent statements. */
static void storeOpen(RlStore *p, sqlite3 *db) {
  if (rlStoreInit(p, db, "main", 1) != SQLITE_OK) FAIL("rlStoreInit");
}

/* Entries idx iFirst.. of one term, normal, nPayload bytes each. */
typedef struct BatchSource {
  RlEntrySource base;
  i64 iNext, iEnd, iTerm;
  unsigned char aPayload[256];
} BatchSource;

static int batchNext(RlEntrySource *pSrc, raftlite_entry *pOut, int *pEof) {
  BatchSource *p = (BatchSource *)pSrc;
  if (p->iNext == p->iEnd) {
    *pEof = 1;
    return SQLITE_OK;
  }
  memset(pOut, 0, sizeof(*pOut));
  pOut->log_id.index = (uint64_t)p->iNext++;
  pOut->log_id.term = (uint64_t)p->iTerm;
  pOut->kind = RAFTLITE_NORMAL;
  pOut->data = p->aPayload;
  pOut->size = sizeof(p->aPayload);
  return SQLITE_OK;
}

/* Appends n entries after iLast (term 1); returns the new last index. */
static i64 appendBatch(RlStore *p, i64 iLast, i64 n) {
  BatchSource src;
  memset(&src, 0, sizeof(src));
  src.base.xNext = batchNext;
  src.iNext = iLast + 1;
  src.iEnd = iLast + 1 + n;
  src.iTerm = 1;
  memset(src.aPayload, 'x', sizeof(src.aPayload));
  int rc = rlAppend(p, &src.base, NULL);
  if (rc != SQLITE_OK) FAIL("append after %lld: %d %s", iLast, rc, p->zErrMsg);
  return iLast + n;
}

/* Sums (and resets) a counter over the store's statements. */
static i64 stmtCounter(RlStore *p, int eCounter) {
  i64 n = 0;
  for (int i = 0; i < RL_STMT_COUNT; i++) {
    if (p->aStmt[i]) n += sqlite3_stmt_status(p->aStmt[i], eCounter, 1);
  }
  return n;
}

/* ------------------------------------------------------------------ */
/* plan: no ephemeral b-tree, no sorter                                */

/* The first problem EXPLAIN of zSql shows — an ephemeral table, a sorter
** or an automatic index outside the membership validator — as a message
** (sqlite3_free it), or NULL. *pnProgram: trigger programs listed;
** *pnVtab: virtual-table scans (json_each) in them. */
static char *checkExplain(sqlite3 *db, const char *zWhat, const char *zSql, int *pnProgram,
                          int *pnVtab) {
  char *zExplain = sqlite3_mprintf("EXPLAIN %s", zSql);
  sqlite3_stmt *pStmt = NULL;
  char *zErr = NULL;
  if (sqlite3_prepare_v2(db, zExplain, -1, &pStmt, NULL) != SQLITE_OK) {
    zErr = sqlite3_mprintf("%s: %s: %s", zWhat, zExplain, sqlite3_errmsg(db));
  }
  sqlite3_free(zExplain);
  int bExempt = 0;
  while (zErr == NULL && sqlite3_step(pStmt) == SQLITE_ROW) {
    const char *zOp = (const char *)sqlite3_column_text(pStmt, 1);
    const char *zComment = (const char *)sqlite3_column_text(pStmt, 5); /* p4 */
    if (strcmp(zOp, "Init") == 0) {
      /* A program begins: "-- TRIGGER name" for a trigger's. */
      bExempt = zComment && strstr(zComment, "TRIGGER raftlite_membership_check_valid");
    }
    if (!bExempt && (strcmp(zOp, "OpenEphemeral") == 0 || strcmp(zOp, "OpenAutoindex") == 0 ||
                     strcmp(zOp, "SorterOpen") == 0)) {
      zErr = sqlite3_mprintf("%s: EXPLAIN shows %s: %s", zWhat, zOp, zSql);
    }
    if (strcmp(zOp, "Program") == 0 && pnProgram) (*pnProgram)++;
    if (strcmp(zOp, "VFilter") == 0 && pnVtab) (*pnVtab)++;
  }
  sqlite3_finalize(pStmt);
  if (zErr) return zErr;

  char *zQp = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", zSql);
  pStmt = NULL;
  if (sqlite3_prepare_v2(db, zQp, -1, &pStmt, NULL) != SQLITE_OK) {
    zErr = sqlite3_mprintf("%s: %s: %s", zWhat, zQp, sqlite3_errmsg(db));
  }
  sqlite3_free(zQp);
  while (zErr == NULL && sqlite3_step(pStmt) == SQLITE_ROW) {
    const char *zDetail = (const char *)sqlite3_column_text(pStmt, 3);
    if (strstr(zDetail, "TEMP B-TREE") || strstr(zDetail, "AUTOMATIC") ||
        strstr(zDetail, "MATERIALIZE")) {
      zErr = sqlite3_mprintf("%s: the plan shows \"%s\": %s", zWhat, zDetail, zSql);
    }
  }
  sqlite3_finalize(pStmt);
  return zErr;
}

/* Every statement of the append, read, apply and purge paths (and the
** truncation's), with the triggers they fire. */
TEST(plan, noEphemeralTables) {
  Fixture *F = f;
  RlStore st;
  storeOpen(&st, F->db);
  static const RlStmtId aPath[] = {
      RL_STMT_READ_STATE,     RL_STMT_READ_ENTRY,     RL_STMT_READ_ABOVE,
      RL_STMT_READ_SEGMENTS,  RL_STMT_INSERT_SEGMENT, RL_STMT_SET_PURGED,
      RL_STMT_TRUNCATE,       RL_STMT_SET_APPLIED,    RL_STMT_SET_APPLIED_MEMBERSHIP,
      RL_STMT_READ_APPLIED,   RL_STMT_READ_LOG_MEMBERSHIP, RL_STMT_READ_HARD_STATE,
      RL_STMT_SAVE_HARD_STATE, RL_STMT_JSON_ENTRIES,
  };
  char *zErr = NULL;
  int nProgramAppend = 0, nVtabAppend = 0, nProgramPurge = 0;
  for (size_t i = 0; zErr == NULL && i < sizeof(aPath) / sizeof(aPath[0]); i++) {
    sqlite3_stmt *pStmt = rlStmt(&st, aPath[i]);
    if (pStmt == NULL) {
      zErr = sqlite3_mprintf("statement %d: %s", (int)aPath[i], st.zErrMsg);
      break;
    }
    char zWhat[32];
    snprintf(zWhat, sizeof(zWhat), "statement %d", (int)aPath[i]);
    int nProgram = 0, nVtab = 0;
    zErr = checkExplain(F->db, zWhat, sqlite3_sql(pStmt), &nProgram, &nVtab);
    if (aPath[i] == RL_STMT_INSERT_SEGMENT) {
      nProgramAppend = nProgram;
      nVtabAppend = nVtab;
    }
    if (aPath[i] == RL_STMT_SET_PURGED) nProgramPurge = nProgram;
  }
  /* raft_log's own query, descending (ascending is RL_STMT_READ_SEGMENTS). */
  if (zErr == NULL) {
    char *zSql = rlExpandSchema(RL_SQL_READ_SEGMENTS(" DESC"), "main");
    zErr = checkExplain(F->db, "raft_log descending", zSql, NULL, NULL);
    sqlite3_free(zSql);
  }
  rlStoreClear(&st);
  if (zErr) {
    char zCopy[600];
    snprintf(zCopy, sizeof(zCopy), "%s", zErr);
    sqlite3_free(zErr);
    FAIL("%s", zCopy);
  }
  /* The check sees the triggers: the append's programs are listed, with
  ** json_each() of the segment trigger; so are the purge's. */
  ASSERT(nProgramAppend >= 2);
  ASSERT(nVtabAppend >= 1);
  ASSERT(nProgramPurge >= 2);
}

/* ------------------------------------------------------------------ */
/* steps: per-append work                                              */

/* The VM steps of one append of n entries after iLast, averaged over a few
** appends; *piLast moves on. */
static double appendSteps(RlStore *p, i64 *piLast, i64 n) {
  enum { ROUNDS = 4 };
  *piLast = appendBatch(p, *piLast, n); /* warm: statements prepared */
  stmtCounter(p, SQLITE_STMTSTATUS_VM_STEP);
  for (int i = 0; i < ROUNDS; i++) *piLast = appendBatch(p, *piLast, n);
  return (double)stmtCounter(p, SQLITE_STMTSTATUS_VM_STEP) / ROUNDS;
}

/* The same at a short log and at a 100-times longer one, at batches of 1,
** 16 and 256: no growth with the length; at most linear in the batch. */
TEST(steps, appendIsFlatInLengthLinearInBatch) {
  Fixture *F = f;
  RlStore st;
  storeOpen(&st, F->db);
  static const i64 aBatch[] = {1, 16, 256};
  double aShort[3], aLong[3];
  i64 iLast = 0;
  EXEC("BEGIN");
  while (iLast < 1000) iLast = appendBatch(&st, iLast, 250);
  for (int i = 0; i < 3; i++) aShort[i] = appendSteps(&st, &iLast, aBatch[i]);
  while (iLast < 100000) iLast = appendBatch(&st, iLast, 250);
  for (int i = 0; i < 3; i++) aLong[i] = appendSteps(&st, &iLast, aBatch[i]);
  EXEC("COMMIT");
  for (int i = 0; i < 3; i++) {
    printf("  batch %3lld: %8.1f VM steps per append at ~1k entries, %8.1f at ~100k"
           " (%.1f per entry)\n",
           (long long)aBatch[i], aShort[i], aLong[i], aLong[i] / (double)aBatch[i]);
    /* The log's length: b-tree depth is no VM step; a scan would be
    ** thousands. */
    if (aLong[i] > aShort[i] * 1.05 + 5) {
      FAIL("batch %lld: %.1f steps at 100k entries, %.1f at 1k: grows with the log",
           (long long)aBatch[i], aLong[i], aShort[i]);
    }
  }
  /* The batch: the marginal cost of an entry from 16 to 256 is no more
  ** than from 1 to 16 (a per-entry trigger or a quadratic check would
  ** show here), and a batch never costs more than its entries alone. */
  double rSmall = (aLong[1] - aLong[0]) / 15.0;
  double rLarge = (aLong[2] - aLong[1]) / 240.0;
  if (rLarge > rSmall * 1.25 + 1) {
    FAIL("per-entry steps grow with the batch: %.2f from 1 to 16, %.2f from 16 to 256",
         rSmall, rLarge);
  }
  ASSERT(aLong[2] <= 256.0 * aLong[0]);
  rlStoreClear(&st);
}

/* No statement of the store is prepared again per call, but the three
** PRAGMAs of the durability and CHECK guards (contract §5), which SQLite
** marks run-once: each re-prepares on every call (about 23k instructions
** of a one-entry durable append: the known remaining per-call overhead). */
TEST(steps, onlyThePragmasReprepare) {
  Fixture *F = f;
  RlStore st;
  storeOpen(&st, F->db);
  i64 iLast = appendBatch(&st, 0, 1);
  RlState state;
  if (rlReadState(&st, &state) != SQLITE_OK) FAIL("state");
  for (int i = 0; i < RL_STMT_COUNT; i++) {
    if (st.aStmt[i]) sqlite3_stmt_status(st.aStmt[i], SQLITE_STMTSTATUS_REPREPARE, 1);
  }
  enum { CALLS = 5 };
  i64 iApplied = 0;
  for (int r = 0; r < CALLS; r++) {
    iLast = appendBatch(&st, iLast, 1);
    if (rlApplyUpTo(&st, iLast, &iApplied) != SQLITE_OK) FAIL("apply: %s", st.zErrMsg);
  }
  int nOther = 0, nPragma = 0;
  for (int i = 0; i < RL_STMT_COUNT; i++) {
    if (st.aStmt[i] == NULL) continue;
    int n = sqlite3_stmt_status(st.aStmt[i], SQLITE_STMTSTATUS_REPREPARE, 0);
    if (i == RL_STMT_JOURNAL_MODE || i == RL_STMT_SYNCHRONOUS || i == RL_STMT_IGNORE_CHECKS) {
      nPragma += n;
    } else {
      if (n) printf("  statement %d re-prepared %d times\n", i, n);
      nOther += n;
    }
  }
  rlStoreClear(&st);
  ASSERT_INT(nOther, 0);
  /* Two calls per round (append, apply), three PRAGMAs each. */
  ASSERT_INT(nPragma, 2 * CALLS * 3);
}

/* A read of 10 entries and an apply of one do not grow with the log either. */
TEST(steps, readAndApplyAreFlatInLength) {
  Fixture *F = f;
  RlStore st;
  storeOpen(&st, F->db);
  i64 iLast = 0;
  double aRead[2], aApply[2];
  EXEC("BEGIN");
  for (int k = 0; k < 2; k++) {
    i64 iTarget = k == 0 ? 1000 : 100000;
    while (iLast < iTarget) iLast = appendBatch(&st, iLast, 250);
    /* Read 10 entries from the middle through the reader. */
    stmtCounter(&st, SQLITE_STMTSTATUS_VM_STEP);
    for (int r = 0; r < 4; r++) {
      sqlite3_stmt *pStmt = rlStmt(&st, RL_STMT_READ_SEGMENTS);
      if (pStmt == NULL) FAIL("read: %s", st.zErrMsg);
      RlLogReader reader;
      rlLogOpen(&reader, pStmt, iLast / 2, iLast / 2 + 9, 0);
      int n = 0, bEof = 0;
      raftlite_entry e;
      while (rlLogNext(&reader, &e, &bEof) == SQLITE_OK && !bEof) n++;
      rlLogClose(&reader);
      ASSERT_INT(n, 10);
    }
    aRead[k] = (double)stmtCounter(&st, SQLITE_STMTSTATUS_VM_STEP) / 4;
    /* Apply one entry, four times. */
    i64 iApplied = 0;
    RlState state;
    if (rlReadState(&st, &state) != SQLITE_OK) FAIL("state");
    i64 iFrom = state.applied.has ? state.applied.index : iLast - 10;
    if (!state.applied.has && rlApplyUpTo(&st, iFrom, &iApplied) != SQLITE_OK) {
      FAIL("apply: %s", st.zErrMsg);
    }
    if (state.applied.has) {
      /* catch up to near the end, outside the measure */
      if (rlApplyUpTo(&st, iLast - 10, &iApplied) != SQLITE_OK) FAIL("apply: %s", st.zErrMsg);
    }
    stmtCounter(&st, SQLITE_STMTSTATUS_VM_STEP);
    for (int r = 0; r < 4; r++) {
      if (rlApplyUpTo(&st, iLast - 9 + r, &iApplied) != SQLITE_OK) FAIL("apply: %s", st.zErrMsg);
    }
    aApply[k] = (double)stmtCounter(&st, SQLITE_STMTSTATUS_VM_STEP) / 4;
  }
  EXEC("COMMIT");
  printf("  read of 10: %.1f VM steps at ~1k entries, %.1f at ~100k\n", aRead[0], aRead[1]);
  printf("  apply of 1: %.1f VM steps at ~1k entries, %.1f at ~100k\n", aApply[0], aApply[1]);
  ASSERT(aRead[1] <= aRead[0] * 1.05 + 5);
  ASSERT(aApply[1] <= aApply[0] * 1.05 + 5);
  rlStoreClear(&st);
}

/* The statements of the connection other than pSkip1 and pSkip2, in a
** fixed-size set (bReset: each one's REPREPARE counter reset); returns how
** many there are. */
static int connectionStatements(sqlite3 *db, sqlite3_stmt **aOut, int nMax, sqlite3_stmt *pSkip1,
                                sqlite3_stmt *pSkip2, int bReset) {
  int n = 0;
  for (sqlite3_stmt *p = sqlite3_next_stmt(db, NULL); p; p = sqlite3_next_stmt(db, p)) {
    if (p == pSkip1 || p == pSkip2) continue;
    if (bReset) sqlite3_stmt_status(p, SQLITE_STMTSTATUS_REPREPARE, 1);
    if (n < nMax) aOut[n] = p;
    n++;
  }
  return n;
}

/* The SQL functions keep their statements from one call to the next (they
** borrow the store of the schema's raft_log table): after the first calls,
** further raft_append() and raft_apply() calls prepare no statement and
** finalize none, and only the settings PRAGMAs re-prepare. Before, every
** call made a store of its own and prepared each statement again (an
** append's INSERT compiles every trigger of the log: about 2M instructions
** per call). The connection still closes (tearDown checks sqlite3_close),
** also after another connection changed the schema between calls. */
TEST(steps, sqlFunctionsKeepTheirStatements) {
  Fixture *F = f;
  sqlite3_stmt *pAppend = NULL, *pApply = NULL;
  if (sqlite3_prepare_v2(F->db, "SELECT raft_append(?1, 1, 'normal', x'00ff')", -1, &pAppend, NULL) ||
      sqlite3_prepare_v2(F->db, "SELECT raft_apply(?1)", -1, &pApply, NULL)) {
    FAIL("prepare: %s", sqlite3_errmsg(F->db));
  }
  i64 iNext = 1;
  enum { MAX_STMT = 64, ROUNDS = 5 };
  sqlite3_stmt *aBefore[MAX_STMT], *aAfter[MAX_STMT];
  /* The fixture's C handle has statements of its own. */
  int nInitial = connectionStatements(F->db, aBefore, MAX_STMT, pAppend, pApply, 0);
  int nBefore = 0, nAfter = 0;
  for (int r = 0; r < 2 + ROUNDS; r++, iNext++) {
    if (r == 2) nBefore = connectionStatements(F->db, aBefore, MAX_STMT, pAppend, pApply, 1);
    sqlite3_bind_int64(pAppend, 1, iNext);
    sqlite3_bind_int64(pApply, 1, iNext);
    if (sqlite3_step(pAppend) != SQLITE_ROW || sqlite3_reset(pAppend) != SQLITE_OK ||
        sqlite3_step(pApply) != SQLITE_ROW || sqlite3_reset(pApply) != SQLITE_OK) {
      FAIL("call %d: %s", r, sqlite3_errmsg(F->db));
    }
  }
  nAfter = connectionStatements(F->db, aAfter, MAX_STMT, pAppend, pApply, 0);
  /* The calls' statements are still there between calls. */
  ASSERT(nBefore > nInitial && nBefore <= MAX_STMT);
  ASSERT_INT(nAfter, nBefore);
  int nReprepared = 0;
  for (int i = 0; i < nBefore; i++) {
    int bFound = 0;
    for (int j = 0; j < nAfter; j++) bFound |= aAfter[j] == aBefore[i];
    if (!bFound) FAIL("statement %s was finalized between calls", sqlite3_sql(aBefore[i]));
    if (strncmp(sqlite3_sql(aBefore[i]), "PRAGMA", 6) != 0) {
      int n = sqlite3_stmt_status(aBefore[i], SQLITE_STMTSTATUS_REPREPARE, 0);
      if (n) printf("  re-prepared %d times: %s\n", n, sqlite3_sql(aBefore[i]));
      nReprepared += n;
    }
  }
  ASSERT_INT(nReprepared, 0);

  /* Another connection changes the schema: the next call still works
  ** (the table is connected again), and the log holds every entry. */
  sqlite3 *db2 = NULL;
  if (sqlite3_open(F->zPath, &db2) != SQLITE_OK) FAIL("open");
  if (sqlite3_exec(db2, "CREATE TABLE app_thing(x)", NULL, NULL, NULL) != SQLITE_OK) FAIL("ddl");
  sqlite3_close(db2);
  sqlite3_bind_int64(pAppend, 1, iNext);
  if (sqlite3_step(pAppend) != SQLITE_ROW || sqlite3_reset(pAppend) != SQLITE_OK) {
    FAIL("after the schema change: %s", sqlite3_errmsg(F->db));
  }
  sqlite3_finalize(pAppend);
  sqlite3_finalize(pApply);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raft_log"), iNext);
}

/* Connections on several threads at once, each calling the SQL functions
** on its own file: the list of connected raft_log tables the functions
** borrow from is shared by every connection. Every call succeeds, every
** connection closes (no statement left behind), and the sanitizer run
** watches the list. */
typedef struct ThreadRun {
  int iThread;
  int nOk;
  char zErr[200];
} ThreadRun;

static void *callFunctionsOnOwnFile(void *pArg) {
  ThreadRun *r = pArg;
  char zPath[64];
  snprintf(zPath, sizeof(zPath), "threads-%d.db", r->iThread);
  remove(zPath);
  char zWal[80];
  snprintf(zWal, sizeof(zWal), "%s-wal", zPath);
  remove(zWal);
  sqlite3 *db = NULL;
  raftlite *pStore = NULL;
  sqlite3_stmt *pAppend = NULL, *pApply = NULL;
  if (sqlite3_open(zPath, &db) != SQLITE_OK ||
      sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL", NULL, NULL, NULL) ||
      raftlite_open(db, "main", &pStore) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "SELECT raft_append(?1, 1, 'normal', x'00ff')", -1, &pAppend, NULL) ||
      sqlite3_prepare_v2(db, "SELECT raft_apply(?1)", -1, &pApply, NULL)) {
    snprintf(r->zErr, sizeof(r->zErr), "setup: %s", sqlite3_errmsg(db));
  }
  for (i64 i = 1; r->zErr[0] == 0 && i <= 200; i++) {
    sqlite3_bind_int64(pAppend, 1, i);
    sqlite3_bind_int64(pApply, 1, i);
    if (sqlite3_step(pAppend) != SQLITE_ROW || sqlite3_reset(pAppend) != SQLITE_OK ||
        sqlite3_step(pApply) != SQLITE_ROW || sqlite3_reset(pApply) != SQLITE_OK) {
      snprintf(r->zErr, sizeof(r->zErr), "call %lld: %s", (long long)i, sqlite3_errmsg(db));
    } else {
      r->nOk++;
    }
  }
  sqlite3_finalize(pAppend);
  sqlite3_finalize(pApply);
  raftlite_close(pStore);
  if (sqlite3_close(db) != SQLITE_OK && r->zErr[0] == 0) {
    snprintf(r->zErr, sizeof(r->zErr), "close: %s", sqlite3_errmsg(db));
  }
  return NULL;
}

TEST(steps, sqlFunctionsOnManyThreads) {
  enum { THREADS = 4 };
  pthread_t aThread[THREADS];
  ThreadRun aRun[THREADS];
  memset(aRun, 0, sizeof(aRun));
  for (int i = 0; i < THREADS; i++) {
    aRun[i].iThread = i;
    if (pthread_create(&aThread[i], NULL, callFunctionsOnOwnFile, &aRun[i]) != 0) FAIL("thread");
  }
  for (int i = 0; i < THREADS; i++) pthread_join(aThread[i], NULL);
  for (int i = 0; i < THREADS; i++) {
    if (aRun[i].zErr[0]) FAIL("thread %d: %s", i, aRun[i].zErr);
    ASSERT_INT(aRun[i].nOk, 200);
  }
}

RUN_TESTS(setUp, tearDown)
