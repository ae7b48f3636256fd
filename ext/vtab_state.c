/*
** vtab_state.c — raft_state: the log state and the applied state, one row.
**
**     SELECT last_log_index, last_applied_index FROM raft_state;
**
** Declared schema:
**
**     CREATE TABLE x(first_log_index, last_log_term, last_log_index,
**                    last_purged_term, last_purged_index,
**                    last_applied_term, last_applied_index,
**                    membership_term, membership_index, membership)
**
** last_log_* is the last present entry, or last_purged when the log is
** empty (docs/contract.md §1); membership is the applied membership and
** the log id that carried it. NULL stands for "none".
*/
#include "vtab_operator.h"

static const RlOpView stateTable = {
    "raft_state",
    "first_log_index INTEGER, last_log_term INTEGER,"
    " last_log_index INTEGER, last_purged_term INTEGER,"
    " last_purged_index INTEGER, last_applied_term INTEGER,"
    " last_applied_index INTEGER, membership_term INTEGER,"
    " membership_index INTEGER, membership TEXT",
    10,
    {"SELECT (SELECT max(first_index, coalesce(s.purged_index, -1) + 1)"
     "  FROM $S.raftlite_segment ORDER BY first_index LIMIT 1),"
     " coalesce((SELECT term FROM $S.raftlite_segment"
     "  ORDER BY first_index DESC LIMIT 1), s.purged_term),"
     " coalesce((SELECT last_index FROM $S.raftlite_segment"
     "  ORDER BY first_index DESC LIMIT 1), s.purged_index),"
     " s.purged_term, s.purged_index, s.applied_term, s.applied_index,"
     " s.membership_term, s.membership_index, s.membership"
     " FROM $S.raftlite_state AS s"},
    RL_OP_ONE_QUERY,
    1, /* a table of the store's schema, raft_install() creates it */
    "raftlite_state",
};

int rlRegisterVtabState(sqlite3 *db) {
  return rlRegisterOpView(db, &stateTable);
}
