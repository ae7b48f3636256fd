-- Rules of the snapshot meta (docs/contract.md §2: build_snapshot,
-- install_snapshot, get_current_snapshot).
--
-- INVARIANT(snapshot-not-stale): a snapshot becomes current only if its
-- last log id is not below last_applied.
-- INVARIANT(snapshot-meta-fixed): once a snapshot has its snapshot_id, its
-- meta (id, last log id, membership) never changes.
-- INVARIANT(snapshot-membership): a snapshot's membership is valid and
-- carried by a log id at or below the snapshot's last log id.
-- INVARIANT(snapshot-install): a snapshot becomes current either as of
-- last_applied (build_snapshot) or through its install: a row inserted
-- into raftlite_snapshot_install, whose trigger makes it current and moves
-- last_applied and the applied membership to its meta in one statement.
-- INVARIANT(snapshot-bytes-fixed): a stored snapshot's bytes (its size and
-- chunks) never change once it has its snapshot_id; its chunks lie within
-- its size.
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
  -- The membership's id is at or below the last id, by log id and by
  -- index alike (a different term at the same index is another history).
  SELECT RAISE(ABORT, 'raft_snapshot: InvalidMembership')
  WHERE new.membership_index IS NOT NULL
    AND ((new.membership_term, new.membership_index) > (new.last_term, new.last_index)
         OR new.membership_index > new.last_index
         OR (new.membership_index = new.last_index
             AND new.membership_term <> new.last_term));
  SELECT RAISE(ABORT, 'raft_snapshot: SnapshotStale')
  FROM raftlite_state AS s
  WHERE new.is_current = 1
    AND (new.last_term < s.applied_term
         OR (new.last_term = s.applied_term AND new.last_index < s.applied_index));
  -- A new row has no bytes yet: stored (snapshot_id set) only empty, and
  -- current only as of last_applied (an install goes through
  -- raftlite_snapshot_install).
  SELECT RAISE(ABORT, 'raft_snapshot: SnapshotInvalid')
  WHERE new.snapshot_id IS NOT NULL AND new.size <> 0;
  SELECT RAISE(ABORT, 'raft_snapshot: SnapshotInvalid')
  FROM raftlite_state AS s
  WHERE new.is_current = 1
    AND (new.last_term IS NOT s.applied_term OR new.last_index IS NOT s.applied_index);
  INSERT INTO raftlite_membership_check
  SELECT new.membership WHERE new.membership IS NOT NULL;
END;

CREATE TRIGGER IF NOT EXISTS raftlite_snapshot_update
BEFORE UPDATE ON raftlite_snapshot
BEGIN
  -- The membership's id is at or below the last id, by log id and by
  -- index alike (a different term at the same index is another history).
  SELECT RAISE(ABORT, 'raft_snapshot: InvalidMembership')
  WHERE new.membership_index IS NOT NULL
    AND ((new.membership_term, new.membership_index) > (new.last_term, new.last_index)
         OR new.membership_index > new.last_index
         OR (new.membership_index = new.last_index
             AND new.membership_term <> new.last_term));
  -- A row's id never changes: its chunks name it (and streams hold it).
  SELECT RAISE(ABORT, 'raft_snapshot: SnapshotMetaFixed')
  WHERE new.id IS NOT old.id
     OR (old.snapshot_id IS NOT NULL
    AND (new.snapshot_id IS NOT old.snapshot_id
         OR new.size IS NOT old.size
         OR new.last_term IS NOT old.last_term
         OR new.last_index IS NOT old.last_index
         OR new.membership_term IS NOT old.membership_term
         OR new.membership_index IS NOT old.membership_index
         OR new.membership IS NOT old.membership));
  SELECT RAISE(ABORT, 'raft_snapshot: SnapshotStale')
  FROM raftlite_state AS s
  WHERE new.is_current = 1 AND old.is_current = 0
    AND (new.last_term < s.applied_term
         OR (new.last_term = s.applied_term AND new.last_index < s.applied_index));
  -- One current snapshot, with its meta (named here rather than by the
  -- unique index or the CHECK).
  SELECT RAISE(ABORT, 'raft_snapshot: SnapshotInvalid')
  WHERE new.is_current = 1 AND old.is_current = 0
    AND (new.snapshot_id IS NULL OR new.last_index IS NULL
         OR EXISTS (SELECT 1 FROM raftlite_snapshot
                    WHERE is_current = 1 AND id <> new.id));
  -- Becoming current: as of last_applied (build_snapshot), or installed.
  SELECT RAISE(ABORT, 'raft_snapshot: SnapshotInvalid')
  FROM raftlite_state AS s
  WHERE new.is_current = 1 AND old.is_current = 0
    AND (new.last_term IS NOT s.applied_term OR new.last_index IS NOT s.applied_index)
    AND NOT EXISTS (SELECT 1 FROM raftlite_snapshot_install WHERE snapshot = new.id);
  -- Sealing (snapshot_id set): the chunks (64 KiB apart) hold every byte
  -- of the size and none beyond it (raftlite fills a writer's holes with
  -- zero chunks first). One pass over the snapshot's chunks.
  SELECT RAISE(ABORT, 'raft_snapshot: SnapshotInvalid')
  WHERE old.snapshot_id IS NULL AND new.snapshot_id IS NOT NULL
    AND (EXISTS (SELECT 1 FROM raftlite_snapshot_chunk
                 WHERE snapshot = new.id
                   AND (seq * 65536 >= new.size OR length(data) > 65536))
         OR new.size <> (SELECT coalesce(sum(min(length(data), new.size - seq * 65536)), 0)
                         FROM raftlite_snapshot_chunk WHERE snapshot = new.id));
  INSERT INTO raftlite_membership_check
  SELECT new.membership
  WHERE new.membership IS NOT NULL AND new.membership IS NOT old.membership;
END;

CREATE TRIGGER IF NOT EXISTS raftlite_snapshot_delete
AFTER DELETE ON raftlite_snapshot
BEGIN
  DELETE FROM raftlite_snapshot_chunk WHERE snapshot = old.id;
END;


-- A stored snapshot's bytes are fixed: chunks of a snapshot that has its
-- snapshot_id are never added, changed or removed (they go only with the
-- snapshot itself, whose row is gone when raftlite_snapshot_delete runs).
-- A chunk belongs to a snapshot being received.
CREATE TRIGGER IF NOT EXISTS raftlite_snapshot_chunk_insert
BEFORE INSERT ON raftlite_snapshot_chunk
BEGIN
  SELECT RAISE(ABORT, 'raft_snapshot: SnapshotMetaFixed')
  WHERE EXISTS (SELECT 1 FROM raftlite_snapshot
                WHERE id = new.snapshot AND snapshot_id IS NOT NULL);
  SELECT RAISE(ABORT, 'raft_snapshot: SnapshotInvalid')
  WHERE NOT EXISTS (SELECT 1 FROM raftlite_snapshot WHERE id = new.snapshot);
END;

CREATE TRIGGER IF NOT EXISTS raftlite_snapshot_chunk_update
BEFORE UPDATE ON raftlite_snapshot_chunk
BEGIN
  SELECT RAISE(ABORT, 'raft_snapshot: SnapshotMetaFixed')
  WHERE EXISTS (SELECT 1 FROM raftlite_snapshot
                WHERE id IN (old.snapshot, new.snapshot)
                  AND snapshot_id IS NOT NULL);
  SELECT RAISE(ABORT, 'raft_snapshot: SnapshotInvalid')
  WHERE NOT EXISTS (SELECT 1 FROM raftlite_snapshot WHERE id = new.snapshot);
END;

CREATE TRIGGER IF NOT EXISTS raftlite_snapshot_chunk_delete
BEFORE DELETE ON raftlite_snapshot_chunk
BEGIN
  SELECT RAISE(ABORT, 'raft_snapshot: SnapshotMetaFixed')
  WHERE EXISTS (SELECT 1 FROM raftlite_snapshot
                WHERE id = old.snapshot AND snapshot_id IS NOT NULL);
END;

-- install_snapshot's last step, for every writer: INSERT INTO
-- raftlite_snapshot_install VALUES (<row id of a stored snapshot>).
CREATE TRIGGER IF NOT EXISTS raftlite_snapshot_install_check
BEFORE INSERT ON raftlite_snapshot_install
BEGIN
  SELECT RAISE(ABORT, 'raft_snapshot: SnapshotInvalid')
  WHERE EXISTS (SELECT 1 FROM raftlite_snapshot_install)
     OR NOT EXISTS (SELECT 1 FROM raftlite_snapshot
                    WHERE id = new.snapshot AND snapshot_id IS NOT NULL);
  SELECT RAISE(ABORT, 'raft_snapshot: SnapshotStale')
  FROM raftlite_snapshot AS n, raftlite_state AS s
  WHERE n.id = new.snapshot
    AND (n.last_term < s.applied_term
         OR (n.last_term = s.applied_term AND n.last_index < s.applied_index));
  -- Its membership's log id names an entry: where this log holds that very
  -- id, the entry must be that membership.
  SELECT RAISE(ABORT, 'raft_snapshot: InvalidMembership')
  FROM raftlite_snapshot AS n, raftlite_state AS s, raftlite_segment AS e
  WHERE n.id = new.snapshot
    AND e.first_index = (SELECT first_index FROM raftlite_segment
                         WHERE first_index <= n.membership_index
                         ORDER BY first_index DESC LIMIT 1)
    AND e.last_index >= n.membership_index
    AND n.membership_index > coalesce(s.purged_index, -1)
    AND e.term = n.membership_term
    AND (e.kind <> 'membership' OR e.payloads IS NOT n.membership);
END;

CREATE TRIGGER IF NOT EXISTS raftlite_snapshot_install_run
AFTER INSERT ON raftlite_snapshot_install
BEGIN
  UPDATE raftlite_snapshot SET is_current = 0
  WHERE is_current = 1 AND id <> new.snapshot;
  UPDATE raftlite_snapshot SET is_current = 1 WHERE id = new.snapshot;
  UPDATE raftlite_state SET (applied_term, applied_index, membership_term,
                             membership_index, membership) =
    (SELECT last_term, last_index, membership_term, membership_index,
            membership FROM raftlite_snapshot WHERE id = new.snapshot);
  -- last_purged = the snapshot's last id, the entries up to it gone. A
  -- greater term at a lower index moves last_purged down by index: only
  -- here, to the new last_applied (see raftlite_state_purge). Entries
  -- above that do not follow it are the installer's to truncate first
  -- (raftlite's install does), or the purge refuses them.
  UPDATE raftlite_state SET (purged_term, purged_index) =
    (SELECT last_term, last_index FROM raftlite_snapshot WHERE id = new.snapshot)
  WHERE purged_term IS NOT applied_term OR purged_index IS NOT applied_index;
  DELETE FROM raftlite_snapshot_install;
END;

CREATE TRIGGER IF NOT EXISTS raftlite_snapshot_install_update
BEFORE UPDATE ON raftlite_snapshot_install
BEGIN
  SELECT RAISE(ABORT, 'raft_snapshot: SnapshotInvalid');
END;
