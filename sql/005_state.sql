-- Rules of the log state and the applied state (docs/contract.md §2:
-- purge_logs_upto, delete_conflict_logs_since, apply_to_state_machine,
-- install_snapshot).
--
-- INVARIANT(state-single-row): raftlite_state has exactly one row, made by
-- raft_install(); it is never deleted or replaced.
-- INVARIANT(purge-applied): last_purged <= last_applied, and last_purged
-- never goes down. Purging to an index whose entry is present takes that
-- entry's term; purging past the last entry never goes below it.
-- INVARIANT(apply-consecutive): last_applied moves up one index at a time
-- to a greater log id (any first index on a fresh state machine), or jumps
-- to a snapshot's last log id within that snapshot's install (a row of
-- raftlite_snapshot_install exists only then); it is never cleared. An
-- entry present at that index carries the same term.
-- INVARIANT(ids-ordered): the entries, last_purged and last_applied are
-- ordered the same by index as by log id: no entry below last_applied
-- carries a greater term (an apply at 0-10 over a log 1-1, 1-2 would wedge
-- the store: every later append, purge and truncate refused).
-- INVARIANT(no-dirty-log): no entry above last_applied has a log id lower
-- than last_applied.
-- INVARIANT(membership-applied): the applied membership is a valid
-- membership carried by a log id at or below last_applied. It changes only
-- by applying a membership entry (its id becomes last_applied in the same
-- statement) or within a snapshot's install.
-- INVARIANT(truncate-above-applied): truncation starts above last_applied.

CREATE TRIGGER IF NOT EXISTS raftlite_state_insert
BEFORE INSERT ON raftlite_state
BEGIN
  SELECT RAISE(ABORT, 'raft_state: SingleRow')
  WHERE EXISTS (SELECT 1 FROM raftlite_state)
     OR new.purged_index IS NOT NULL OR new.applied_index IS NOT NULL
     OR new.membership IS NOT NULL OR new.truncate_from IS NOT NULL;
END;

CREATE TRIGGER IF NOT EXISTS raftlite_state_delete
BEFORE DELETE ON raftlite_state
BEGIN
  SELECT RAISE(ABORT, 'raft_state: SingleRow');
END;

CREATE TRIGGER IF NOT EXISTS raftlite_state_purge
BEFORE UPDATE OF purged_term, purged_index ON raftlite_state
WHEN new.purged_term IS NOT old.purged_term
  OR new.purged_index IS NOT old.purged_index
BEGIN
  -- The present entry at the new last_purged index (if any) has its term.
  SELECT RAISE(ABORT, 'raft_state: LogIdMismatch')
  FROM raftlite_segment AS g
  WHERE g.first_index = (SELECT first_index FROM raftlite_segment
                         WHERE first_index <= new.purged_index
                         ORDER BY first_index DESC LIMIT 1)
    AND g.last_index >= new.purged_index
    AND new.purged_index > coalesce(old.purged_index, -1)
    AND g.term <> new.purged_term;
  SELECT RAISE(ABORT, 'raft_state: PurgeNonApplied')
  WHERE new.applied_index IS NULL
     OR new.purged_index > new.applied_index
     OR (new.purged_term, new.purged_index) > (new.applied_term, new.applied_index);
  -- Up as log ids; at a lower or equal index only to a new last_applied
  -- (install_snapshot of a greater term).
  SELECT RAISE(ABORT, 'raft_state: PurgeNotAscending')
  WHERE old.purged_index IS NOT NULL
    AND (new.purged_index IS NULL
         OR (new.purged_term, new.purged_index) < (old.purged_term, old.purged_index)
         OR (new.purged_index <= old.purged_index
             AND (new.purged_term, new.purged_index)
                 IS NOT (new.applied_term, new.applied_index)));
  -- The present entries must follow last_purged directly ...
  -- (the first present entry: the first segment's first entry above the
  -- old last_purged) ...
  SELECT RAISE(ABORT, 'raft_state: LogsNonConsecutive')
  WHERE new.purged_index
        < (SELECT max(first_index, coalesce(old.purged_index, -1) + 1)
           FROM raftlite_segment ORDER BY first_index LIMIT 1) - 1;
  -- ... and stay above it as log ids: the entry after last_purged has a
  -- term not lower (found by model.test), and last_applied's index
  -- carries one term only. Terms never decrease along the log: the entry
  -- after last_purged is in the segment holding its index, else in the
  -- next segment.
  SELECT RAISE(ABORT, 'raft_state: LogIdMismatch')
  WHERE coalesce(
          (SELECT term FROM raftlite_segment
           WHERE first_index = (SELECT first_index FROM raftlite_segment
                                WHERE first_index <= new.purged_index + 1
                                ORDER BY first_index DESC LIMIT 1)
             AND last_index > new.purged_index),
          (SELECT term FROM raftlite_segment WHERE first_index > new.purged_index
           ORDER BY first_index LIMIT 1)) < new.purged_term;
  SELECT RAISE(ABORT, 'raft_state: LogIdMismatch')
  WHERE new.purged_index = new.applied_index AND new.purged_term <> new.applied_term;
  SELECT RAISE(ABORT, 'raft_state: LogIdMismatch')
  WHERE new.purged_index > (SELECT last_index FROM raftlite_segment
                            ORDER BY first_index DESC LIMIT 1)
    AND new.purged_term < (SELECT term FROM raftlite_segment
                           ORDER BY first_index DESC LIMIT 1);
END;

-- Fires on every write of last_applied, changed or not: applying the
-- entry at last_applied again is ApplyNonConsecutive too.
CREATE TRIGGER IF NOT EXISTS raftlite_state_apply
BEFORE UPDATE OF applied_term, applied_index ON raftlite_state
BEGIN
  SELECT RAISE(ABORT, 'raft_state: ApplyNonConsecutive')
  WHERE new.applied_index IS NULL
     OR (old.applied_index IS NOT NULL
         AND NOT (new.applied_index = old.applied_index + 1
                  AND new.applied_term >= old.applied_term)
         AND NOT EXISTS (
           SELECT 1 FROM raftlite_snapshot_install AS i
           JOIN raftlite_snapshot AS s ON s.id = i.snapshot
           WHERE s.is_current = 1
             AND s.last_term = new.applied_term
             AND s.last_index = new.applied_index
             AND (new.applied_term > old.applied_term
                  OR (new.applied_term = old.applied_term
                      AND new.applied_index >= old.applied_index))));
  -- The present entry at the new last_applied index (if any) has its term.
  SELECT RAISE(ABORT, 'raft_state: LogIdMismatch')
  FROM raftlite_segment AS g
  WHERE g.first_index = (SELECT first_index FROM raftlite_segment
                         WHERE first_index <= new.applied_index
                         ORDER BY first_index DESC LIMIT 1)
    AND g.last_index >= new.applied_index
    AND new.applied_index > coalesce(old.purged_index, -1)
    AND g.term <> new.applied_term;
  -- last_purged stays at or below last_applied by index too; an install
  -- moves it to the new last_applied in the same statement.
  SELECT RAISE(ABORT, 'raft_state: PurgeNonApplied')
  WHERE new.applied_index < new.purged_index
    AND NOT EXISTS (SELECT 1 FROM raftlite_snapshot_install);
  -- Terms never decrease along the log, so the last entry below
  -- last_applied has the greatest term of those below it ...
  SELECT RAISE(ABORT, 'raft_state: LogIdMismatch')
  FROM raftlite_segment AS g
  WHERE g.first_index = (SELECT first_index FROM raftlite_segment
                         WHERE first_index < new.applied_index
                         ORDER BY first_index DESC LIMIT 1)
    AND max(g.first_index, coalesce(old.purged_index, -1) + 1) < new.applied_index
    AND g.term > new.applied_term;
  -- ... and the first entry above it the lowest of those above: one
  -- lookup each, not a scan.
  SELECT RAISE(ABORT, 'raft_state: DirtyLog')
  WHERE coalesce(
          (SELECT term FROM raftlite_segment
           WHERE first_index = (SELECT first_index FROM raftlite_segment
                                WHERE first_index <= new.applied_index + 1
                                ORDER BY first_index DESC LIMIT 1)
             AND last_index > new.applied_index
             AND last_index > coalesce(old.purged_index, -1)),
          (SELECT term FROM raftlite_segment WHERE first_index > new.applied_index
           ORDER BY first_index LIMIT 1)) < new.applied_term;
END;

CREATE TRIGGER IF NOT EXISTS raftlite_state_membership
BEFORE UPDATE OF membership_term, membership_index, membership ON raftlite_state
WHEN (new.membership_term IS NOT old.membership_term
      OR new.membership_index IS NOT old.membership_index
      OR new.membership IS NOT old.membership)
  -- install_snapshot: exactly the installed snapshot's membership, as
  -- last_applied becomes its last log id.
  AND NOT EXISTS (
    SELECT 1 FROM raftlite_snapshot_install AS i
    JOIN raftlite_snapshot AS s ON s.id = i.snapshot
    WHERE s.is_current = 1
      AND s.last_term = new.applied_term AND s.last_index = new.applied_index
      AND s.membership_term IS new.membership_term
      AND s.membership_index IS new.membership_index
      AND s.membership IS new.membership)
BEGIN
  -- Otherwise the membership entry applied by this very statement: its id
  -- is the new last_applied, one step above the old one, and the log's
  -- entry at that index if the log holds it.
  SELECT RAISE(ABORT, 'raft_state: InvalidMembership')
  WHERE new.membership IS NULL
     OR new.membership_term IS NOT new.applied_term
     OR new.membership_index IS NOT new.applied_index
     OR (old.applied_index IS NOT NULL
         AND new.applied_index IS NOT old.applied_index + 1)
     OR EXISTS (SELECT 1 FROM raftlite_segment
                WHERE first_index = (SELECT first_index FROM raftlite_segment
                                     WHERE first_index <= new.membership_index
                                     ORDER BY first_index DESC LIMIT 1)
                  AND last_index >= new.membership_index
                  AND new.membership_index > coalesce(old.purged_index, -1)
                  AND (term <> new.membership_term OR kind <> 'membership'
                       OR payloads IS NOT new.membership));
  INSERT INTO raftlite_membership_check VALUES (new.membership);
END;

CREATE TRIGGER IF NOT EXISTS raftlite_state_truncate_check
BEFORE UPDATE OF truncate_from ON raftlite_state
WHEN new.truncate_from IS NOT NULL
BEGIN
  SELECT RAISE(ABORT, 'raft_state: AppliedWontConflict')
  WHERE new.truncate_from <= new.applied_index;
END;

-- The bulk deletions. They run after the row already says which entries
-- may go, so raftlite_segment_delete lets each row through. A purge
-- deletes the segments it covers whole; the entries it cuts off a segment
-- stay stored, hidden (every reader starts above last_purged).
CREATE TRIGGER IF NOT EXISTS raftlite_state_purge_entries
AFTER UPDATE OF purged_index ON raftlite_state
WHEN new.purged_index IS NOT old.purged_index
BEGIN
  DELETE FROM raftlite_segment
  WHERE first_index <= new.purged_index AND last_index <= new.purged_index;
END;

-- A truncation deletes the segments from truncate_from on and shortens the
-- one it cuts through to its entries below truncate_from (deleting it when
-- none of those is present).
CREATE TRIGGER IF NOT EXISTS raftlite_state_truncate_entries
AFTER UPDATE OF truncate_from ON raftlite_state
WHEN new.truncate_from IS NOT NULL
BEGIN
  DELETE FROM raftlite_segment WHERE first_index >= new.truncate_from;
  DELETE FROM raftlite_segment
  WHERE first_index = (SELECT first_index FROM raftlite_segment
                       ORDER BY first_index DESC LIMIT 1)
    AND last_index >= new.truncate_from
    AND new.truncate_from <= coalesce(new.purged_index, -1) + 1;
  UPDATE raftlite_segment
  SET last_index = new.truncate_from - 1,
      ends = substr(ends, 1, 10 * (new.truncate_from - first_index)),
      payloads = coalesce(substr(payloads, 1,
                                 CAST(substr(ends, 10 * (new.truncate_from - first_index) - 9, 10)
                                      AS INTEGER)), x'')
  WHERE first_index = (SELECT first_index FROM raftlite_segment
                       ORDER BY first_index DESC LIMIT 1)
    AND last_index >= new.truncate_from;
  UPDATE raftlite_state SET truncate_from = NULL WHERE id = 1;
END;
