-- Rules of the snapshot meta (SPEC 2: build_snapshot, install_snapshot,
-- get_current_snapshot).
--
-- INVARIANT(snapshot-not-stale): a snapshot becomes current only if its
-- last log id is not below last_applied.
-- INVARIANT(snapshot-meta-fixed): once a snapshot has its snapshot_id, its
-- meta (id, last log id, membership) never changes.
-- INVARIANT(snapshot-membership): a snapshot's membership is valid and
-- carried by a log id at or below the snapshot's last log id.
-- Chunks go with their snapshot.

CREATE TRIGGER IF NOT EXISTS raftlite_snapshot_insert
BEFORE INSERT ON raftlite_snapshot
BEGIN
  -- INSERT OR REPLACE would delete a stored snapshot without its DELETE
  -- trigger (recursive_triggers off): a new row never replaces one.
  SELECT RAISE(ABORT, 'raft_snapshot: SnapshotMetaFixed')
  WHERE EXISTS (SELECT 1 FROM raftlite_snapshot
                WHERE id = new.id OR snapshot_id = new.snapshot_id
                   OR (is_current = 1 AND new.is_current = 1));
  SELECT RAISE(ABORT, 'raft_snapshot: InvalidMembership')
  WHERE new.membership_index IS NOT NULL
    AND (new.membership_term, new.membership_index) > (new.last_term, new.last_index);
  SELECT RAISE(ABORT, 'raft_snapshot: SnapshotStale')
  FROM raftlite_state AS s
  WHERE new.is_current = 1
    AND (new.last_term < s.applied_term
         OR (new.last_term = s.applied_term AND new.last_index < s.applied_index));
  INSERT INTO raftlite_membership_check
  SELECT new.membership WHERE new.membership IS NOT NULL;
END;

CREATE TRIGGER IF NOT EXISTS raftlite_snapshot_update
BEFORE UPDATE ON raftlite_snapshot
BEGIN
  SELECT RAISE(ABORT, 'raft_snapshot: InvalidMembership')
  WHERE new.membership_index IS NOT NULL
    AND (new.membership_term, new.membership_index) > (new.last_term, new.last_index);
  SELECT RAISE(ABORT, 'raft_snapshot: SnapshotMetaFixed')
  WHERE old.snapshot_id IS NOT NULL
    AND (new.snapshot_id IS NOT old.snapshot_id
         OR new.last_term IS NOT old.last_term
         OR new.last_index IS NOT old.last_index
         OR new.membership_term IS NOT old.membership_term
         OR new.membership_index IS NOT old.membership_index
         OR new.membership IS NOT old.membership);
  SELECT RAISE(ABORT, 'raft_snapshot: SnapshotStale')
  FROM raftlite_state AS s
  WHERE new.is_current = 1 AND old.is_current = 0
    AND (new.last_term < s.applied_term
         OR (new.last_term = s.applied_term AND new.last_index < s.applied_index));
  INSERT INTO raftlite_membership_check
  SELECT new.membership
  WHERE new.membership IS NOT NULL AND new.membership IS NOT old.membership;
END;

CREATE TRIGGER IF NOT EXISTS raftlite_snapshot_delete
AFTER DELETE ON raftlite_snapshot
BEGIN
  DELETE FROM raftlite_snapshot_chunk WHERE snapshot = old.id;
END;
