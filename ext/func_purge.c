/*
** func_purge.c — raft_purge(index [, term [, schema]]): purge_logs_upto
** (docs/contract.md §2).
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

typedef struct PurgeArgs {
  i64 iIndex;
  int bHasTerm;
  i64 iTerm;
} PurgeArgs;

static int purgeOp(RlStore *p, void *pArg, i64 *piResult) {
  PurgeArgs *a = pArg;
  return rlPurge(p, a->iIndex, a->bHasTerm, a->iTerm, piResult);
}

static void purgeFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  PurgeArgs a = {0, argc > 1 && sqlite3_value_type(argv[1]) != SQLITE_NULL, 0};
  if (rlFuncU63(ctx, "raft_purge", argv[0], "index", &a.iIndex) &&
      (!a.bHasTerm || rlFuncU63(ctx, "raft_purge", argv[1], "term", &a.iTerm))) {
    rlFuncRun(ctx, "raft_purge", argc, argv, 2, purgeOp, &a);
  }
}

int rlRegisterFuncPurge(sqlite3 *db) {
  return rlCreateFunction(db, "raft_purge", 1, 3, SQLITE_DIRECTONLY, purgeFunc);
}
