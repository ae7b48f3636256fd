/*
** vtab_snapshots.c — raft_snapshots: the stored snapshots and the streams
** being received.
**
**     SELECT * FROM raft_snapshots;
**     SELECT id, size FROM raft_snapshots('aux') WHERE state = 'receiving';
**
** Declared schema:
**
**     CREATE TABLE x(id INTEGER, snapshot_id TEXT, state TEXT,
**                    last_log_term INTEGER, last_log_index INTEGER,
**                    size INTEGER, chunks INTEGER, chunk_bytes INTEGER,
**                    schema HIDDEN)
**
** One row per row of raftlite_snapshot, in id order. id is the stream's id
** (what raft_snapshot_begin() returned and raft_snapshot_write() takes);
** state is 'current' (the snapshot raft_snapshot shows), 'stored' (one
** with its meta that is not current) or 'receiving' (a stream not yet
** installed: no snapshot_id, no meta). size is the snapshot's size, or
** for a receiving stream the end of what was written so far; chunks and
** chunk_bytes are what the chunk table holds for it: 64 KiB chunks, the
** last one cut to the snapshot's end (while a stream is written, its last
** chunk may be a whole one), fewer for a stream written with holes.
**
** HOW IT WORKS. One query; the chunks are counted through their
** (snapshot, seq) index and their bytes summed with length(data), which
** SQLite answers without reading a chunk's overflow pages.
*/
#include "vtab_operator.h"

static const RlOpView snapshotsView = {
    "raft_snapshots",
    "id INTEGER, snapshot_id TEXT, state TEXT, last_log_term INTEGER,"
    " last_log_index INTEGER, size INTEGER, chunks INTEGER, chunk_bytes INTEGER",
    8,
    {"SELECT s.id, s.snapshot_id,"
     " CASE WHEN s.is_current = 1 THEN 'current'"
     "  WHEN s.snapshot_id IS NULL THEN 'receiving' ELSE 'stored' END,"
     " s.last_term, s.last_index, s.size,"
     " (SELECT count(*) FROM $S.raftlite_snapshot_chunk WHERE snapshot = s.id),"
     " (SELECT coalesce(sum(length(data)), 0) FROM $S.raftlite_snapshot_chunk"
     "  WHERE snapshot = s.id)"
     " FROM $S.raftlite_snapshot AS s ORDER BY s.id"},
    RL_OP_ONE_QUERY,
    0,    /* an operator's view */
    NULL,
};

int rlRegisterVtabSnapshots(sqlite3 *db) {
  return rlRegisterOpView(db, &snapshotsView);
}
