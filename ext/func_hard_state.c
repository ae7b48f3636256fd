/*
** func_hard_state.c — raft_save_hard_state(term, voted_for [, schema]):
** save_hard_state (docs/contract.md §2).
**
**     SELECT raft_save_hard_state(3, NULL);  -- term 3, no vote yet
**     SELECT raft_save_hard_state(3, 2);     -- voted for node 2 in term 3
**
** The term never decreases (TermNotAscending); within one term a vote once
** set never changes and is never cleared (VotedForChanged). voted_for NULL
** means no vote. Returns the term saved. Read it back from raft_hard_state.
** DIRECTONLY: it writes.
*/
#include "raftlite_int.h"

typedef struct HardStateArgs {
  i64 iTerm;
  int bHasVote;
  i64 iVote;
} HardStateArgs;

static int saveHardStateOp(RlStore *p, void *pArg, i64 *piResult) {
  HardStateArgs *a = pArg;
  *piResult = a->iTerm;
  return rlSaveHardState(p, a->iTerm, a->bHasVote, a->iVote);
}

static void saveHardStateFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  HardStateArgs a = {0, sqlite3_value_type(argv[1]) != SQLITE_NULL, 0};
  if (rlFuncU63(ctx, "raft_save_hard_state", argv[0], "current_term", &a.iTerm) &&
      (!a.bHasVote || rlFuncU63(ctx, "raft_save_hard_state", argv[1], "voted_for", &a.iVote))) {
    rlFuncRun(ctx, "raft_save_hard_state", argc, argv, 2, saveHardStateOp, &a);
  }
}

int rlRegisterFuncHardState(sqlite3 *db) {
  return rlCreateFunction(db, "raft_save_hard_state", 2, 3, SQLITE_DIRECTONLY,
                          saveHardStateFunc);
}
