/*
** func_truncate.c — raft_truncate(index [, schema]):
** delete_conflict_logs_since (SPEC §2).
**
**     SELECT raft_truncate(5);          -- entries 5, 6, ... are removed
**
** Removes every entry with idx >= index; index must be above last_applied
** (AppliedWontConflict). Returns the number of entries removed.
** DIRECTONLY: it writes, so a view or trigger in a database's schema must
** not be able to call it.
*/
#include "raftlite_int.h"

static void truncateFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  i64 iIndex;
  char *zErr = NULL;
  int rc = rlValueU63(argv[0], "index", &iIndex, &zErr);
  if (rc != SQLITE_OK) {
    rlFuncValueError(ctx, "raft_truncate", rc, zErr);
    return;
  }
  const char *zSchema = rlFuncSchema(ctx, "raft_truncate", argc, argv, 1);
  if (zSchema == NULL) return;
  RlStore store;
  i64 nRemoved = 0;
  rc = rlStoreInit(&store, sqlite3_context_db_handle(ctx), zSchema, 0);
  if (rc == SQLITE_OK) rc = rlTruncate(&store, iIndex, &nRemoved);
  if (rc == SQLITE_OK) {
    sqlite3_result_int64(ctx, nRemoved);
  } else {
    rlFuncError(ctx, "raft_truncate", &store, rc);
  }
  rlStoreClear(&store);
}

int rlRegisterFuncTruncate(sqlite3 *db) {
  int rc = SQLITE_OK;
  for (int nArg = 1; rc == SQLITE_OK && nArg <= 2; nArg++) {
    rc = sqlite3_create_function(db, "raft_truncate", nArg,
                                 SQLITE_UTF8 | SQLITE_DIRECTONLY, NULL,
                                 truncateFunc, NULL, NULL);
  }
  return rc;
}
