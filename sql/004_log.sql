-- Rules of the log (docs/contract.md §2: append_to_log,
-- delete_conflict_logs_since, purge_logs_upto, and the reference id).
--
-- INVARIANT(log-contiguous): the present entries have consecutive indexes,
-- the first one is last_purged.index + 1 when something was purged, and
-- terms never decrease along the log.
-- INVARIANT(log-reference): an appended entry follows the reference id, the
-- greatest of the last entry, last_purged and last_applied: its index is
-- the reference index + 1 and its log id is greater than the reference.
-- (The append that follows last_applied first moves last_purged up to it;
-- see raftlite's append.)
-- INVARIANT(log-immutable): an entry is never updated in place.
-- INVARIANT(log-delete): entries leave the log only as
--   a suffix above last_applied: by raftlite_state.truncate_from, or by
--     deleting the last entry, one row at a time;
--   a prefix up to last_applied: by raising raftlite_state.purged_*.
-- A row trigger sees a multi-row DELETE half done, so the bulk forms are
-- driven by the state row, whose AFTER UPDATE triggers delete the rows
-- while the state already says they may go.

CREATE TRIGGER IF NOT EXISTS raftlite_log_append
BEFORE INSERT ON raftlite_log
BEGIN
  -- Follow the reference id. In a stored state that keeps the rules, the
  -- greatest of the three log ids is also the one with the greatest index,
  -- so: index = that index + 1, term not below any of their terms. Scalar
  -- subqueries only: a subquery in FROM with ORDER BY costs an ephemeral
  -- table per appended row.
  SELECT RAISE(ABORT, 'raft_log: LogsNonConsecutive')
  FROM raftlite_state AS s
  WHERE max(coalesce((SELECT max(idx) FROM raftlite_log), -1),
            coalesce(s.purged_index, -1), coalesce(s.applied_index, -1)) >= 0
    AND (new.idx IS NOT max(coalesce((SELECT max(idx) FROM raftlite_log), -1),
                            coalesce(s.purged_index, -1),
                            coalesce(s.applied_index, -1)) + 1
         OR new.term < max(coalesce((SELECT term FROM raftlite_log
                                     ORDER BY idx DESC LIMIT 1), -1),
                           coalesce(s.purged_term, -1),
                           coalesce(s.applied_term, -1)));
  -- An empty log with history: the first entry follows last_purged
  -- (raftlite's append moves last_purged up to last_applied first).
  SELECT RAISE(ABORT, 'raft_log: LogsNonConsecutive')
  FROM raftlite_state AS s
  WHERE NOT EXISTS (SELECT 1 FROM raftlite_log)
    AND (s.purged_index IS NOT NULL OR s.applied_index IS NOT NULL)
    AND new.idx IS NOT coalesce(s.purged_index, -2) + 1;
  -- And never leave a hole after the last present entry.
  SELECT RAISE(ABORT, 'raft_log: LogsNonConsecutive')
  WHERE new.idx IS NOT (SELECT max(idx) FROM raftlite_log) + 1
    AND EXISTS (SELECT 1 FROM raftlite_log);
END;

-- A membership entry must be a valid membership (002_membership.sql). A
-- trigger of its own, with INSERT ... VALUES: INSERT ... SELECT into a table
-- with triggers goes through an ephemeral table, on every append.
CREATE TRIGGER IF NOT EXISTS raftlite_log_membership
BEFORE INSERT ON raftlite_log
WHEN new.kind = 'membership'
BEGIN
  INSERT INTO raftlite_membership_check VALUES (new.payload);
END;

CREATE TRIGGER IF NOT EXISTS raftlite_log_update
BEFORE UPDATE ON raftlite_log
BEGIN
  SELECT RAISE(ABORT, 'raft_log: EntryImmutable');
END;

CREATE TRIGGER IF NOT EXISTS raftlite_log_delete
BEFORE DELETE ON raftlite_log
BEGIN
  SELECT RAISE(ABORT, 'raft_log: AppliedWontConflict')
  FROM raftlite_state AS s
  WHERE old.idx > coalesce(s.purged_index, -1)
    AND old.idx <= coalesce(s.applied_index, -1);
  SELECT RAISE(ABORT, 'raft_log: LogsNonConsecutive')
  FROM raftlite_state AS s
  WHERE old.idx > coalesce(s.purged_index, -1)
    AND old.idx < coalesce(s.truncate_from, 9223372036854775807)
    AND old.idx <> (SELECT max(idx) FROM raftlite_log);
END;
