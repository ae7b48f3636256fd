/*
** func_apply.c — raft_apply(index [, schema]): applies the log to the
** state machine (SPEC §2 apply_to_state_machine, §3).
**
**     SELECT raft_apply(7);   -- applies last_applied+1 .. 7; returns 7
**
** Applies the entries from last_applied + 1 (the first entry, on a fresh
** state machine) through index, in one transaction: membership entries
** become the applied membership; normal entries go to the state machine
** (a no-op until one is declared); blank entries only advance
** last_applied. index <= last_applied does nothing. A missing entry in
** between is LogIndexNotFound. Returns the new last_applied index (NULL
** when nothing was ever applied). DIRECTONLY: it writes.
*/
#include "raftlite_int.h"

static void applyFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  i64 iIndex;
  char *zErr = NULL;
  int rc = rlValueU63(argv[0], "index", &iIndex, &zErr);
  if (rc != SQLITE_OK) {
    rlFuncValueError(ctx, "raft_apply", rc, zErr);
    return;
  }
  const char *zSchema = rlFuncSchema(ctx, "raft_apply", argc, argv, 1);
  if (zSchema == NULL) return;
  RlStore store;
  i64 iApplied = -1;
  rc = rlStoreInit(&store, sqlite3_context_db_handle(ctx), zSchema, 0);
  if (rc == SQLITE_OK) rc = rlApplyUpTo(&store, iIndex, &iApplied);
  if (rc != SQLITE_OK) {
    rlFuncError(ctx, "raft_apply", &store, rc);
  } else if (iApplied >= 0) {
    sqlite3_result_int64(ctx, iApplied);
  }
  rlStoreClear(&store);
}

int rlRegisterFuncApply(sqlite3 *db) {
  int rc = SQLITE_OK;
  for (int nArg = 1; rc == SQLITE_OK && nArg <= 2; nArg++) {
    rc = sqlite3_create_function(db, "raft_apply", nArg,
                                 SQLITE_UTF8 | SQLITE_DIRECTONLY, NULL,
                                 applyFunc, NULL, NULL);
  }
  return rc;
}
