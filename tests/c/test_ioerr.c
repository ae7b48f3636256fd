/*
** test_ioerr.c — after an I/O error on commit or sync, the handle refuses
** writes until the store is reopened (docs/contract.md §5: a failed fsync
** is never retried, since whether the data reached the disk is unknown).
**
** The faultvfs shim (faultvfs.h) fails xSync on demand: every sync of the
** commit in turn (the journal's, the database's; the WAL's), in a
** rollback-journal store (synchronous=EXTRA) and in a WAL store (FULL).
** test_fault.c does the same for every call and every method.
*/
#include "faultvfs.h"
#include "fixture.h"

typedef struct Faulty {
  sqlite3 *db;
  raftlite *store;
} Faulty;

static const char *zJournalMode = "DELETE";

static void *faultySetUp(void) {
  static int bRegistered = 0;
  if (!bRegistered) {
    fvRegister();
    fvNoSync(1); /* no power is cut here: real fsyncs would only be slow */
    sqlite3_config(SQLITE_CONFIG_LOG, logToStderr, NULL);
    bRegistered = 1;
  }
  static const char *const azSuffix[] = {"", "-journal", "-wal", "-shm"};
  for (int i = 0; i < 4; i++) {
    char z[32];
    snprintf(z, sizeof(z), "ioerr.db%s", azSuffix[i]);
    remove(z);
  }
  Faulty *f = calloc(1, sizeof(*f));
  char zSql[96];
  snprintf(zSql, sizeof(zSql), "PRAGMA journal_mode=%s; PRAGMA synchronous=%s", zJournalMode,
           strcmp(zJournalMode, "WAL") == 0 ? "FULL" : "EXTRA");
  if (sqlite3_open_v2("ioerr.db", &f->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      FV_VFS) != SQLITE_OK ||
      sqlite3_exec(f->db, zSql, NULL, NULL, NULL) != SQLITE_OK ||
      raftlite_open(f->db, "main", &f->store) != SQLITE_OK) {
    fprintf(stderr, "cannot open ioerr.db\n");
    exit(2);
  }
  return f;
}

/* Closes the store and removes its files. */
static void faultyClose(Faulty *f) {
  fvDisarm();
  raftlite_close(f->store);
  sqlite3_close(f->db);
  f->store = NULL;
  f->db = NULL;
  static const char *const azSuffix[] = {"", "-journal", "-wal", "-shm"};
  for (int i = 0; i < 4; i++) {
    char z[32];
    snprintf(z, sizeof(z), "ioerr.db%s", azSuffix[i]);
    remove(z);
  }
}

static void faultyTearDown(void *p) {
  faultyClose(p);
  free(p);
}

#define G ((Faulty *)f)

static int appendOne(raftlite *store, uint64_t index) {
  raftlite_entry e = {{1, index}, RAFTLITE_BLANK, NULL, 0};
  return raftlite_append_to_log(store, &e, 1);
}

/* The syncs of one append's commit, counted on a first append. */
static long syncsPerCommit(Faulty *g, uint64_t index) {
  fvArm(FV_SYNC, 1000000, 0, SQLITE_IOERR_FSYNC); /* counts, never fires */
  int rc = appendOne(g->store, index);
  long n = fvCalls(FV_SYNC);
  fvDisarm();
  return rc == SQLITE_OK ? n : -1;
}

/* Sync k of a commit fails: the call fails, the handle then refuses every
** write, even once the disk is healthy again, until the store is
** reopened; reads still work; reopened, the store takes writes and is
** consistent. */
static void failedSyncBreaksTheHandle(Faulty *g) {
  long nSync = syncsPerCommit(g, 1);
  if (nSync < 1) FAIL("a commit made %ld syncs", nSync);
  uint64_t iNext = 2;
  for (long k = 1; k <= nSync; k++) {
    fvArm(FV_SYNC, k, 0, SQLITE_IOERR_FSYNC);
    int rc = appendOne(g->store, iNext);
    long nFired = fvDisarm();
    ASSERT_INT(nFired, 1);
    ASSERT_INT(rc & 0xff, SQLITE_IOERR);
    ASSERT_INT(sqlite3_get_autocommit(g->db), 1);
    ASSERT_INT(appendOne(g->store, iNext), SQLITE_IOERR);
    ASSERT_STR(raftlite_errmsg(g->store),
               "an earlier commit failed with an I/O error: this handle refuses "
               "writes until the store is reopened");
    raftlite_hard_state hs = {1, 0, 0};
    ASSERT_INT(raftlite_save_hard_state(g->store, &hs), SQLITE_IOERR);
    raftlite_log_state ls;
    ASSERT_INT(raftlite_get_log_state(g->store, &ls), SQLITE_OK);
    raftlite_close(g->store);
    ASSERT_INT(raftlite_open(g->db, "main", &g->store), SQLITE_OK);
    ASSERT_INT(raftlite_get_log_state(g->store, &ls), SQLITE_OK);
    iNext = ls.last_log_id.index + 1;
    ASSERT_INT(appendOne(g->store, iNext), SQLITE_OK);
    iNext++;
    char *zCheck = NULL;
    sqlite3_stmt *pStmt = NULL;
    sqlite3_prepare_v2(g->db, "SELECT raft_check()", -1, &pStmt, NULL);
    if (sqlite3_step(pStmt) == SQLITE_ROW) {
      zCheck = sqlite3_mprintf("%s", sqlite3_column_text(pStmt, 0));
    }
    sqlite3_finalize(pStmt);
    int bOk = zCheck && strcmp(zCheck, "ok") == 0;
    sqlite3_free(zCheck);
    ASSERT(bOk);
  }
}

TEST(ioerr, failedSyncBreaksTheHandle) { failedSyncBreaksTheHandle(G); }

/* The same in a WAL store: the fixture's store is replaced by one. */
TEST(ioerr, failedSyncBreaksTheHandleWal) {
  faultyClose(G);
  zJournalMode = "WAL";
  Faulty *g = faultySetUp();
  zJournalMode = "DELETE";
  /* The harness tears the fixture down: hand it the new one's handles. */
  memcpy(f, g, sizeof(*g));
  free(g);
  failedSyncBreaksTheHandle(G);
}

RUN_TESTS(faultySetUp, faultyTearDown)
