-- Rules of the log (SPEC 2: append_to_log, delete_conflict_logs_since,
-- purge_logs_upto, and the reference id).
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
  INSERT INTO raftlite_membership_check
  SELECT new.payload WHERE new.kind = 'membership';
  -- Follow the reference id.
  SELECT RAISE(ABORT, 'raft_log: LogsNonConsecutive')
  FROM (SELECT term, idx FROM (
          SELECT term, idx FROM (SELECT term, idx FROM raftlite_log
                                 ORDER BY idx DESC LIMIT 1)
          UNION ALL
          SELECT purged_term, purged_index FROM raftlite_state
          WHERE purged_index IS NOT NULL
          UNION ALL
          SELECT applied_term, applied_index FROM raftlite_state
          WHERE applied_index IS NOT NULL)
        ORDER BY term DESC, idx DESC LIMIT 1) AS ref
  WHERE new.idx IS NOT ref.idx + 1 OR new.term < ref.term;
  -- And never leave a hole after the last present entry.
  SELECT RAISE(ABORT, 'raft_log: LogsNonConsecutive')
  FROM (SELECT idx FROM raftlite_log ORDER BY idx DESC LIMIT 1) AS last
  WHERE new.idx IS NOT last.idx + 1;
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
