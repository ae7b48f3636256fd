/*
** func_purge.c — raft_purge(index [, term [, schema]]): purge_logs_upto
** (SPEC §2).
**
**     SELECT raft_purge(10);        -- entries up to 10 go; last_purged = 10's id
**     SELECT raft_purge(20, 3);     -- past the last entry: the term is needed
**     SELECT raft_purge(10, NULL, 'aux');
**
** index must not be above last_applied (PurgeNonApplied). The term is
** needed only past the last entry; given for a present entry it must match
** (LogIdMismatch). Purging at or below last_purged does nothing. Returns
** the number of entries removed. DIRECTONLY: it writes.
*/
#include "raftlite_int.h"

static void purgeFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  i64 iIndex, iTerm = 0;
  int bHasTerm = argc > 1 && sqlite3_value_type(argv[1]) != SQLITE_NULL;
  char *zErr = NULL;
  int rc = rlValueU63(argv[0], "index", &iIndex, &zErr);
  if (rc == SQLITE_OK && bHasTerm) rc = rlValueU63(argv[1], "term", &iTerm, &zErr);
  if (rc != SQLITE_OK) {
    rlFuncValueError(ctx, "raft_purge", rc, zErr);
    return;
  }
  const char *zSchema = rlFuncSchema(ctx, "raft_purge", argc, argv, 2);
  if (zSchema == NULL) return;
  RlStore store;
  i64 nRemoved = 0;
  rc = rlStoreInit(&store, sqlite3_context_db_handle(ctx), zSchema, 0);
  if (rc == SQLITE_OK) rc = rlPurge(&store, iIndex, bHasTerm, iTerm, &nRemoved);
  if (rc == SQLITE_OK) {
    sqlite3_result_int64(ctx, nRemoved);
  } else {
    rlFuncError(ctx, "raft_purge", &store, rc);
  }
  rlStoreClear(&store);
}

int rlRegisterFuncPurge(sqlite3 *db) {
  int rc = SQLITE_OK;
  for (int nArg = 1; rc == SQLITE_OK && nArg <= 3; nArg++) {
    rc = sqlite3_create_function(db, "raft_purge", nArg,
                                 SQLITE_UTF8 | SQLITE_DIRECTONLY, NULL,
                                 purgeFunc, NULL, NULL);
  }
  return rc;
}
