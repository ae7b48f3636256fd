/*
** func_apply.c — raft_apply(index [, schema]): applies the log to the
** state machine (docs/contract.md §2 apply_to_state_machine, §3).
**
**     SELECT raft_apply(7);   -- applies last_applied+1 .. 7; returns 7
**
** Applies the entries from last_applied + 1 (the first entry, on a fresh
** state machine) through index, in one transaction: membership entries
** become the applied membership; normal entries go to the state machine
** (a no-op until one is declared); blank entries only advance
** last_applied. index <= last_applied does nothing. A missing entry in
** between is LogIndexNotFound. Returns the new last_applied index.
** DIRECTONLY: it writes.
*/
#include "raftlite_int.h"

static int applyOp(RlStore *p, void *pArg, i64 *piResult) {
  return rlApplyUpTo(p, *(i64 *)pArg, piResult);
}

static void applyFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  i64 iIndex;
  if (rlFuncU63(ctx, "raft_apply", argv[0], "index", &iIndex)) {
    rlFuncRun(ctx, "raft_apply", argc, argv, 1, applyOp, &iIndex);
  }
}

int rlRegisterFuncApply(sqlite3 *db) {
  return rlCreateFunction(db, "raft_apply", 1, 2, SQLITE_DIRECTONLY, applyFunc);
}
