/*
** vtab_memberships.c — raft_memberships: every membership the store
** holds, and where.
**
**     SELECT * FROM raft_memberships;
**     SELECT idx, membership FROM raft_memberships('aux') WHERE location = 'log';
**
** Declared schema:
**
**     CREATE TABLE x(idx INTEGER, term INTEGER, location TEXT,
**                    membership TEXT, schema HIDDEN)
**
** One row per membership, in index order: location 'snapshot' for the
** current snapshot's (none without a snapshot), 'applied' for the applied
** membership (raft_state.membership), 'log' for each membership entry of
** the log above last_purged, applied or not. One membership can show in
** several places: the entry that was applied last is both 'log' (until
** purged) and 'applied'. idx and term are the log id of the entry that
** carried it; membership is its JSON text, canonical as stored.
**
** HOW IT WORKS. One query: the log's memberships come from the partial
** index raftlite_segment_memberships, so the other entries are never
** read.
*/
#include "vtab_operator.h"

static const RlOpView membershipsView = {
    "raft_memberships",
    "idx INTEGER, term INTEGER, location TEXT, membership TEXT",
    4,
    {"SELECT idx, term, location, membership FROM ("
     " SELECT membership_index AS idx, membership_term AS term,"
     "  'snapshot' AS location, membership, 0 AS o"
     "  FROM $S.raftlite_snapshot WHERE is_current = 1 AND membership IS NOT NULL"
     " UNION ALL"
     " SELECT membership_index, membership_term, 'applied', membership, 1"
     "  FROM $S.raftlite_state WHERE membership IS NOT NULL"
     " UNION ALL"
     " SELECT first_index, term, 'log', payloads, 2"
     "  FROM $S.raftlite_segment WHERE kind = 'membership'"
     "  AND first_index > (SELECT coalesce(purged_index, -1) FROM $S.raftlite_state))"
     " ORDER BY idx, o"},
    RL_OP_ONE_QUERY,
    0,    /* an operator's view */
    NULL,
};

int rlRegisterVtabMemberships(sqlite3 *db) {
  return rlRegisterOpView(db, &membershipsView);
}
