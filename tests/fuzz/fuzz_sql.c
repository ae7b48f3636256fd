/*
** fuzz_sql.c — the input is an SQL script, run statement by statement on a
** fresh in-memory store (raft_install() done, raftlite registered): calls of
** raft_* functions, the raft_* virtual tables, and raw statements on the
** backing tables raftlite_*. Errors are expected. Afterwards every store of
** the connection must pass raft_check(), PRAGMA integrity_check and
** INVARIANT(sm-declared-tables) (fuzz_common.h): a raw statement that got
** through must have kept the rules.
**
** What the script may not do is what raft_check() rightly reports as
** damage rather than a rule let through: the authorizer refuses DDL on
** raftlite's own objects (dropping a trigger, adding an index, a temp
** trigger on a raftlite_* table: raft_check() reports them all), and the pragmas that switch rules off (writable_schema,
** ignore_check_constraints, journal_mode — OFF loses the statement
** journal's rollback) or act on the whole process (heap limits, directory
** settings), and raw writes to raftlite_meta (the schema version). Files:
** ATTACH takes only in-memory names.
*/
#include <ctype.h>
#include <strings.h>

#include "fuzz_common.h"

/* raftlite's names: raftlite_* tables, raft_* virtual tables. */
static int isRaftName(const char *z) {
  return z && (strncasecmp(z, "raftlite_", 9) == 0 || strncasecmp(z, "raft_", 5) == 0);
}

/* Set while the script's own statement is prepared: raftlite's statements,
** prepared while a raft_* function runs (raft_install creating triggers,
** say), are its own business. */
static int bScriptPrepare = 0;

static int fuzzAuthorizer(void *pArg, int eAction, const char *z3, const char *z4,
                          const char *zDb, const char *zTrigger) {
  (void)pArg;
  (void)zDb;
  if (!bScriptPrepare) return SQLITE_OK;
  switch (eAction) {
    /* raftlite_meta holds the schema version, guarded by no trigger: a
    ** raw write there is damage raft_check() reports (SchemaVersion), as
    ** is dropping a trigger. */
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE:
      return zTrigger == NULL && z3 && strcasecmp(z3, "raftlite_meta") == 0 ? SQLITE_DENY
                                                                           : SQLITE_OK;
    /* Objects of a store's schema: z3 is the object, z4 its table. */
    case SQLITE_CREATE_INDEX:
    case SQLITE_CREATE_TRIGGER:
    case SQLITE_CREATE_TEMP_INDEX:
    case SQLITE_CREATE_TEMP_TRIGGER:
    case SQLITE_DROP_INDEX:
    case SQLITE_DROP_TRIGGER:
    case SQLITE_DROP_TEMP_INDEX:
    case SQLITE_DROP_TEMP_TRIGGER:
      return isRaftName(z3) || isRaftName(z4) ? SQLITE_DENY : SQLITE_OK;
    /* Temp tables and views named raftlite_* are allowed: they shadow
    ** unqualified names, and raftlite must not be fooled by them. */
    case SQLITE_CREATE_TABLE:
    case SQLITE_DROP_TABLE:
    case SQLITE_CREATE_VIEW:
    case SQLITE_DROP_VIEW:
      return isRaftName(z3) ? SQLITE_DENY : SQLITE_OK;
    case SQLITE_CREATE_VTABLE:
    case SQLITE_DROP_VTABLE:
      return isRaftName(z3) || isRaftName(z4) ? SQLITE_DENY : SQLITE_OK;
    case SQLITE_ALTER_TABLE:
      return isRaftName(z4) ? SQLITE_DENY : SQLITE_OK;
    case SQLITE_ATTACH:
      return z3 == NULL || z3[0] == 0 || strcmp(z3, ":memory:") == 0 ? SQLITE_OK
                                                                     : SQLITE_DENY;
    case SQLITE_PRAGMA: {
      static const char *const azDenied[] = {
          "writable_schema", "ignore_check_constraints", "journal_mode",
          "hard_heap_limit", "soft_heap_limit", "temp_store_directory",
          "data_store_directory", "schema_version", "legacy_alter_table",
      };
      /* Reading them is harmless; setting them is what is refused. */
      if (z4 == NULL) return SQLITE_OK;
      for (size_t i = 0; i < sizeof(azDenied) / sizeof(azDenied[0]); i++) {
        if (strcasecmp(z3, azDenied[i]) == 0) return SQLITE_DENY;
      }
      return SQLITE_OK;
    }
    default:
      return SQLITE_OK;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData) {
  if (nData > 20000) return 0;
  char *zScript = malloc(nData + 1);
  memcpy(zScript, aData, nData);
  zScript[nData] = 0;

  sqlite3 *db = fuzzOpen();
  fuzzExec(db, "SELECT raft_install()");
  sqlite3_int64 nChangeInstalled = sqlite3_total_changes64(db);
  FuzzBudget budget = {2000000};
  sqlite3_progress_handler(db, 100, fuzzProgress, &budget);

  /* Statement by statement: raft_state_machine() clears the connection's
  ** authorizer after its own prepare, so it is set again before each. */
  const char *zTail = zScript;
  int bDdl = 0;
  while (zTail && *zTail && budget.nLeft > 0) {
    sqlite3_stmt *pStmt = NULL;
    sqlite3_set_authorizer(db, fuzzAuthorizer, NULL);
    bScriptPrepare = 1;
    int rc = sqlite3_prepare_v2(db, zTail, -1, &pStmt, &zTail);
    bScriptPrepare = 0;
    if (rc != SQLITE_OK) {
      /* A syntax error ends the statement at the error; skip to the next
      ** semicolon so the rest of the script still runs. */
      const char *zSemi = strchr(zTail, ';');
      if (!zSemi) break;
      zTail = zSemi + 1;
      continue;
    }
    if (!pStmt) continue; /* a comment or whitespace */
    /* DDL (CREATE, DROP, ALTER, VACUUM, PRAGMA ...) changes no row. */
    if (!sqlite3_stmt_readonly(pStmt)) {
      const char *zSql = sqlite3_sql(pStmt);
      while (*zSql == ' ' || *zSql == '\n' || *zSql == '\t' || *zSql == '\r') zSql++;
      if (strncasecmp(zSql, "INSERT", 6) != 0 && strncasecmp(zSql, "UPDATE", 6) != 0 &&
          strncasecmp(zSql, "DELETE", 6) != 0 && strncasecmp(zSql, "REPLACE", 7) != 0) {
        bDdl = 1;
      }
    }
    int rcStep;
    for (int nRow = 0; (rcStep = sqlite3_step(pStmt)) == SQLITE_ROW && nRow < 1000; nRow++) {
    }
    fuzzStmtFeature(pStmt, rcStep, sqlite3_errmsg(db));
    sqlite3_finalize(pStmt);
  }

  sqlite3_progress_handler(db, 0, NULL, NULL);
  sqlite3_set_authorizer(db, NULL, NULL);
  /* A script that changed no row (most mutants are not valid SQL) left the
  ** fresh store as raft_install() made it: the checks, about 6 ms, would
  ** tell nothing new. DDL changes no row but is checked all the same. */
  if (sqlite3_total_changes64(db) != nChangeInstalled || bDdl) fuzzCheckStores(db);
  if (sqlite3_close(db) != SQLITE_OK) FUZZ_FAIL("sqlite3_close: %s", sqlite3_errmsg(db));
  free(zScript);
  return 0;
}
