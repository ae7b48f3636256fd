/*
** vtab_snapshot.c — raft_snapshot: the current snapshot's meta and size,
** zero or one row.
**
**     SELECT snapshot_id, last_log_index, size FROM raft_snapshot;
**
** Declared schema:
**
**     CREATE TABLE x(snapshot_id TEXT, last_log_term INTEGER,
**                    last_log_index INTEGER, membership_term INTEGER,
**                    membership_index INTEGER, membership TEXT,
**                    size INTEGER)
**
** The bytes are not a column: a snapshot may exceed SQLite's 1e9-byte value
** limit, so they are stored in chunks (raftlite_snapshot_chunk) and read in
** pieces.
*/
#include "vtab_operator.h"

static const RlOpView snapshotTable = {
    "raft_snapshot",
    "snapshot_id TEXT, last_log_term INTEGER,"
    " last_log_index INTEGER, membership_term INTEGER,"
    " membership_index INTEGER, membership TEXT, size INTEGER",
    7,
    {"SELECT snapshot_id, last_term, last_index, membership_term,"
     " membership_index, membership, size"
     " FROM $S.raftlite_snapshot WHERE is_current = 1"},
    RL_OP_ONE_QUERY,
    1, /* a table of the store's schema, raft_install() creates it */
    "raftlite_snapshot",
};

int rlRegisterVtabSnapshot(sqlite3 *db) {
  return rlRegisterOpView(db, &snapshotTable);
}
