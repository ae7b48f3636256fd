/*
** func_hard_state.c — raft_save_hard_state(term, voted_for [, schema]):
** save_hard_state (SPEC §2).
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

static void saveHardStateFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  i64 iTerm, iVote = 0;
  int bHasVote = sqlite3_value_type(argv[1]) != SQLITE_NULL;
  char *zErr = NULL;
  int rc = rlValueU63(argv[0], "current_term", &iTerm, &zErr);
  if (rc == SQLITE_OK && bHasVote) rc = rlValueU63(argv[1], "voted_for", &iVote, &zErr);
  if (rc != SQLITE_OK) {
    rlFuncValueError(ctx, "raft_save_hard_state", rc, zErr);
    return;
  }
  const char *zSchema = rlFuncSchema(ctx, "raft_save_hard_state", argc, argv, 2);
  if (zSchema == NULL) return;
  RlStore store;
  rc = rlStoreInit(&store, sqlite3_context_db_handle(ctx), zSchema, 0);
  if (rc == SQLITE_OK) rc = rlSaveHardState(&store, iTerm, bHasVote, iVote);
  if (rc == SQLITE_OK) {
    sqlite3_result_int64(ctx, iTerm);
  } else {
    rlFuncError(ctx, "raft_save_hard_state", &store, rc);
  }
  rlStoreClear(&store);
}

int rlRegisterFuncHardState(sqlite3 *db) {
  int rc = SQLITE_OK;
  for (int nArg = 2; rc == SQLITE_OK && nArg <= 3; nArg++) {
    rc = sqlite3_create_function(db, "raft_save_hard_state", nArg,
                                 SQLITE_UTF8 | SQLITE_DIRECTONLY, NULL,
                                 saveHardStateFunc, NULL, NULL);
  }
  return rc;
}
