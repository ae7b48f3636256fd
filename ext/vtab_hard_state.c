/*
** vtab_hard_state.c — raft_hard_state: the vote, zero or one row.
**
**     SELECT current_term, voted_for FROM raft_hard_state;
**
** Declared schema:  CREATE TABLE x(current_term INTEGER, voted_for INTEGER)
** No row until the hard state is first saved (raft_save_hard_state);
** voted_for is NULL while the node has not voted in current_term.
*/
#include "vtab_operator.h"

static const RlOpView hardStateTable = {
    "raft_hard_state",
    "current_term INTEGER, voted_for INTEGER",
    2,
    {"SELECT current_term, voted_for FROM $S.raftlite_hard_state"},
    RL_OP_ONE_QUERY,
    1, /* a table of the store's schema, raft_install() creates it */
    "raftlite_hard_state",
};

int rlRegisterVtabHardState(sqlite3 *db) {
  return rlRegisterOpView(db, &hardStateTable);
}
