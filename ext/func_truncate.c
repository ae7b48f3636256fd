/*
** func_truncate.c — raft_truncate(index [, schema]):
** delete_conflict_logs_since (docs/contract.md §2).
**
**     SELECT raft_truncate(5);          -- entries 5, 6, ... are removed
**
** Removes every entry with idx >= index; index must be above last_applied
** (AppliedWontConflict). Returns the number of entries removed.
** DIRECTONLY: it writes, so a view or trigger in a database's schema must
** not be able to call it.
*/
#include "raftlite_int.h"

static int truncateOp(RlStore *p, void *pArg, i64 *piResult) {
  return rlTruncate(p, *(i64 *)pArg, piResult);
}

static void truncateFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  i64 iIndex;
  if (rlFuncU63(ctx, "raft_truncate", argv[0], "index", &iIndex)) {
    rlFuncRun(ctx, "raft_truncate", argc, argv, 1, truncateOp, &iIndex);
  }
}

int rlRegisterFuncTruncate(sqlite3 *db) {
  return rlCreateFunction(db, "raft_truncate", 1, 2, SQLITE_DIRECTONLY, truncateFunc);
}
