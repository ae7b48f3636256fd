/*
** fuzz_membership.c — the input is membership JSON text, judged two ways
** on one store: the validator table (INSERT INTO raftlite_membership_check
** VALUES (?)) and raft_append of a membership entry (which stores json() of
** the text). Neither may crash, and:
**   - the two must agree (the append's C decoding and the triggers' rules
**     are one definition of a valid membership);
**   - accepted text is valid JSON (json_valid) and its canonical form
**     json(x) is accepted too, by both, and stored by the append as is;
**   - a refused append names InvalidMembership and changes nothing.
** Each input runs inside a transaction rolled back at the end, so the
** store (opened once) is the same for every input.
*/
#include "fuzz_common.h"

static sqlite3 *db = NULL;
static sqlite3_stmt *pCheck, *pAppend, *pValid, *pJson, *pStored;

static void prepare(sqlite3_stmt **pp, const char *zSql) {
  if (sqlite3_prepare_v2(db, zSql, -1, pp, NULL) != SQLITE_OK) {
    FUZZ_FAIL("prepare %s: %s", zSql, sqlite3_errmsg(db));
  }
}

/* The connection lives for the whole process: closed at exit, so that a
** leak checker sees nothing held (valgrind reports it "possibly lost"). */
static void tearDown(void) {
  sqlite3_stmt *aStmt[] = {pCheck, pAppend, pValid, pJson, pStored};
  for (size_t i = 0; i < sizeof(aStmt) / sizeof(aStmt[0]); i++) sqlite3_finalize(aStmt[i]);
  sqlite3_close(db);
}

static void setUp(void) {
  if (db) return;
  db = fuzzOpen();
  atexit(tearDown);
  fuzzExec(db, "SELECT raft_install()");
  prepare(&pCheck, "INSERT INTO raftlite_membership_check VALUES (?)");
  prepare(&pAppend, "SELECT raft_append(1, 1, 'membership', ?)");
  prepare(&pValid, "SELECT json_valid(?)");
  prepare(&pJson, "SELECT json(?)");
  prepare(&pStored, "SELECT payload FROM raftlite_log WHERE idx = 1");
}

/* Runs a one-shot statement with zText bound; returns its result code
** (SQLITE_DONE/ROW as SQLITE_OK) and leaves the statement reset. */
static int run(sqlite3_stmt *pStmt, const char *zText, int nText) {
  sqlite3_bind_text(pStmt, 1, zText, nText, SQLITE_TRANSIENT);
  int rc = sqlite3_step(pStmt);
  rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? SQLITE_OK : sqlite3_reset(pStmt);
  fuzzStmtFeature(pStmt, rc, sqlite3_errmsg(db));
  sqlite3_reset(pStmt);
  sqlite3_stmt_status(pStmt, SQLITE_STMTSTATUS_VM_STEP, 1);
  return rc;
}

/* Both judges on zText, inside a savepoint rolled back; 1 if accepted.
** raftlite's writers canonicalise strict JSON (json()) before the
** triggers see it, while a raw write must already be canonical: the
** validator judges what the writer would store. */
static int judge(const char *zText, int nText, char *zCanonOut, size_t nCanonOut) {
  fuzzExec(db, "SAVEPOINT judge");
  char *zJudged = NULL;
  sqlite3_bind_text(pValid, 1, zText, nText, SQLITE_TRANSIENT);
  /* json_valid() stops at a NUL; the writers refuse any NUL first. */
  int bValid = sqlite3_step(pValid) == SQLITE_ROW && sqlite3_column_int(pValid, 0) &&
               memchr(zText, 0, (size_t)nText) == NULL;
  sqlite3_reset(pValid);
  if (bValid) {
    sqlite3_bind_text(pJson, 1, zText, nText, SQLITE_TRANSIENT);
    if (sqlite3_step(pJson) == SQLITE_ROW) {
      zJudged = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(pJson, 0));
    }
    sqlite3_reset(pJson);
  }
  int rcCheck = zJudged ? run(pCheck, zJudged, -1) : run(pCheck, zText, nText);
  sqlite3_free(zJudged);
  char *zBefore = fuzzDump(db, NULL, 0);
  int rcAppend = run(pAppend, zText, nText);
  if ((rcCheck == SQLITE_OK) != (rcAppend == SQLITE_OK)) {
    FUZZ_FAIL("the validator says %d, raft_append says %d (%s) for <%.*s>", rcCheck, rcAppend,
              sqlite3_errmsg(db), nText, zText);
  }
  if (rcAppend != SQLITE_OK) {
    const char *zErr = sqlite3_errmsg(db);
    if (rcAppend != SQLITE_CONSTRAINT || !strstr(zErr, "InvalidMembership")) {
      FUZZ_FAIL("raft_append refused <%.*s> with %d: %s", nText, zText, rcAppend, zErr);
    }
    char *zAfter = fuzzDump(db, NULL, 0);
    if (strcmp(zBefore, zAfter) != 0) FUZZ_FAIL("a refused append changed the store");
    sqlite3_free(zAfter);
  } else if (zCanonOut) {
    if (sqlite3_step(pStored) != SQLITE_ROW) FUZZ_FAIL("the appended entry is missing");
    snprintf(zCanonOut, nCanonOut, "%s", (const char *)sqlite3_column_text(pStored, 0));
    sqlite3_reset(pStored);
  }
  sqlite3_free(zBefore);
  fuzzExec(db, "ROLLBACK TO judge; RELEASE judge");
  return rcAppend == SQLITE_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData) {
  if (nData > 4000) return 0;
  setUp();
  static char zStored[8192];
  if (!judge((const char *)aData, (int)nData, zStored, sizeof(zStored))) return 0;

  /* Accepted: valid JSON, and json(x) is accepted and is what was stored. */
  sqlite3_bind_text(pValid, 1, (const char *)aData, (int)nData, SQLITE_TRANSIENT);
  if (sqlite3_step(pValid) != SQLITE_ROW || sqlite3_column_int(pValid, 0) != 1) {
    FUZZ_FAIL("accepted, but json_valid() is not 1: <%.*s>", (int)nData, (const char *)aData);
  }
  sqlite3_reset(pValid);
  sqlite3_bind_text(pJson, 1, (const char *)aData, (int)nData, SQLITE_TRANSIENT);
  if (sqlite3_step(pJson) != SQLITE_ROW) FUZZ_FAIL("json() failed on accepted text");
  char *zCanon = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(pJson, 0));
  sqlite3_reset(pJson);
  if (strcmp(zCanon, zStored) != 0) {
    FUZZ_FAIL("raft_append stored <%s>, json() gives <%s>", zStored, zCanon);
  }
  char zStored2[8192];
  if (!judge(zCanon, -1, zStored2, sizeof(zStored2))) {
    FUZZ_FAIL("<%.*s> accepted, its canonical form <%s> refused", (int)nData,
              (const char *)aData, zCanon);
  }
  if (strcmp(zStored2, zCanon) != 0) FUZZ_FAIL("json() is not idempotent here: <%s>", zCanon);
  sqlite3_free(zCanon);
  if (sqlite3_get_autocommit(db) != 1) FUZZ_FAIL("a transaction was left open");
  return 0;
}
