-- Rules of the log (docs/contract.md §2: append_to_log,
-- delete_conflict_logs_since, purge_logs_upto, and the reference id).
--
-- The log is stored in raftlite_segment (001_tables.sql): a segment holds
-- entries first_index..last_index, of one term and one kind. Every rule
-- below is checked once per segment written, whatever its length, so an
-- append of n entries in one segment costs one trigger run, not n.
-- "Present" entries are those above last_purged: a purge hides the
-- entries of a segment it cuts through, and deletes the segment once its
-- last entry is purged.
--
-- INVARIANT(log-contiguous): the segments hold consecutive indexes, the
-- first present one is last_purged.index + 1 when something was purged,
-- and terms never decrease along the log. Every stored segment has at
-- least one present entry.
-- INVARIANT(log-reference): an appended segment follows the reference id,
-- the greatest of the last entry, last_purged and last_applied: its first
-- index is the reference index + 1 and its log id is greater than the
-- reference. (The append that follows last_applied first moves last_purged
-- up to it; see raftlite's append.)
-- INVARIANT(segment-packing): ends holds one 10-digit end offset per entry,
-- non-decreasing, the last one the length of payloads in bytes.
-- INVARIANT(log-immutable): an entry is never updated in place; a segment
-- changes only by losing a suffix of its entries (a truncation).
-- INVARIANT(log-delete): entries leave the log only as
--   a suffix above last_applied: by raftlite_state.truncate_from, or by
--     deleting or shortening the last segment;
--   a prefix up to last_applied: by raising raftlite_state.purged_*.
-- A row trigger sees a multi-row DELETE half done, so the bulk forms are
-- driven by the state row, whose AFTER UPDATE triggers delete the rows
-- while the state already says they may go.
--
-- Lookups are seeks on first_index: the segment holding index X is the
-- last one with first_index <= X, if its last_index >= X. Scalar
-- subqueries only: a subquery in FROM with ORDER BY ... LIMIT costs an
-- ephemeral table per run.

CREATE TRIGGER IF NOT EXISTS raftlite_segment_append
BEFORE INSERT ON raftlite_segment
BEGIN
  -- One statement, one look at the state row and one at the last segment
  -- (g): every further statement or subquery of a trigger costs about as
  -- much as the lookup it makes, and this runs once per append. The first
  -- rule broken is raised:
  --   the state row must be there: without it nothing below can be
  --   checked (a store that lost it is damaged; raft_check() says so);
  --   follow the reference id: in a stored state that keeps the rules, the
  --   greatest of the three log ids (last entry, last_purged,
  --   last_applied) is also the one with the greatest index, so: first
  --   index = that index + 1, term not below any of their terms; and never
  --   leave a hole after the last segment, nor begin an empty log with
  --   history anywhere but right after last_purged (raftlite's append moves
  --   last_purged up to last_applied first);
  --   the end offsets never go down (their last one is the payloads'
  --   length: a CHECK). Bytewise order of fixed-width digits is numeric
  --   order; the pairs are counted by json_each over an array of as many
  --   zeros, which needs no temporary table.
  SELECT CASE
    WHEN s.id IS NULL THEN RAISE(ABORT, 'raft_log: StateMissing')
    WHEN (max(coalesce(g.last_index, -1), coalesce(s.purged_index, -1),
              coalesce(s.applied_index, -1)) >= 0
          AND (new.first_index IS NOT
                 max(coalesce(g.last_index, -1), coalesce(s.purged_index, -1),
                     coalesce(s.applied_index, -1)) + 1
               OR new.term < max(coalesce(g.term, -1), coalesce(s.purged_term, -1),
                                 coalesce(s.applied_term, -1))))
      OR new.first_index IS NOT
           CASE
             WHEN g.first_index IS NOT NULL THEN g.last_index + 1
             WHEN s.purged_index IS NOT NULL THEN s.purged_index + 1
             WHEN s.applied_index IS NOT NULL THEN NULL
             ELSE new.first_index
           END
      THEN RAISE(ABORT, 'raft_log: LogsNonConsecutive')
    WHEN length(new.ends) > 10
     AND EXISTS (
       SELECT 1
       FROM json_each('[' || substr(replace(hex(zeroblob(length(new.ends) / 10 - 1)),
                                            '00', '0,'),
                                    1, 2 * (length(new.ends) / 10 - 1) - 1) || ']') AS j
       WHERE substr(new.ends, 10 * j.key + 1, 10) > substr(new.ends, 10 * j.key + 11, 10))
      THEN RAISE(ABORT, 'raft_log: InvalidEntry')
  END
  FROM (SELECT 1)
  LEFT JOIN raftlite_state AS s ON s.id = 1
  LEFT JOIN raftlite_segment AS g
    ON g.first_index = (SELECT max(first_index) FROM raftlite_segment);
END;

-- A membership segment must be a valid membership (002_membership.sql). A
-- trigger of its own, with INSERT ... VALUES: INSERT ... SELECT into a table
-- with triggers goes through an ephemeral table, on every append.
CREATE TRIGGER IF NOT EXISTS raftlite_segment_membership
BEFORE INSERT ON raftlite_segment
WHEN new.kind = 'membership'
BEGIN
  INSERT INTO raftlite_membership_check VALUES (new.payloads);
END;

-- The only change a segment takes: losing a suffix of its entries, the
-- last segment only, above last_applied, keeping a present entry (a
-- segment left with none is deleted instead).
CREATE TRIGGER IF NOT EXISTS raftlite_segment_update
BEFORE UPDATE ON raftlite_segment
BEGIN
  SELECT RAISE(ABORT, 'raft_log: EntryImmutable')
  WHERE new.first_index IS NOT old.first_index
     OR new.term IS NOT old.term
     OR new.kind IS NOT old.kind
     OR typeof(new.payloads) IS NOT typeof(old.payloads)
     OR typeof(new.ends) IS NOT 'blob'
     OR NOT (new.last_index < old.last_index)
     OR new.ends IS NOT substr(old.ends, 1, length(new.ends))
     -- (substr() of an empty blob is NULL)
     OR new.payloads IS NOT coalesce(substr(old.payloads, 1, length(new.payloads)), x'');
  SELECT RAISE(ABORT, 'raft_log: AppliedWontConflict')
  FROM raftlite_state AS s
  WHERE new.last_index < s.applied_index;
  SELECT RAISE(ABORT, 'raft_log: LogsNonConsecutive')
  FROM raftlite_state AS s
  WHERE new.last_index <= s.purged_index
     OR EXISTS (SELECT 1 FROM raftlite_segment WHERE first_index > old.first_index);
END;

-- Deleting a segment: one fully purged, one at or above truncate_from, or
-- the last one when none of its present entries is applied.
CREATE TRIGGER IF NOT EXISTS raftlite_segment_delete
BEFORE DELETE ON raftlite_segment
BEGIN
  SELECT RAISE(ABORT, 'raft_log: AppliedWontConflict')
  FROM raftlite_state AS s
  WHERE old.last_index > coalesce(s.purged_index, -1)
    AND max(old.first_index, coalesce(s.purged_index, -1) + 1)
        <= coalesce(s.applied_index, -1);
  SELECT RAISE(ABORT, 'raft_log: LogsNonConsecutive')
  FROM raftlite_state AS s
  WHERE old.last_index > coalesce(s.purged_index, -1)
    AND old.last_index < coalesce(s.truncate_from, 9223372036854775807)
    AND EXISTS (SELECT 1 FROM raftlite_segment WHERE first_index > old.first_index);
END;

-- The log as one row per present entry, for people and for plain SQL:
-- SELECT * FROM raftlite_log works in a sqlite3 shell without raftlite.
-- An entry's payload is its slice of the segment's payloads, between the
-- previous entry's end offset (0 for the first) and its own. idx keeps
-- INTEGER affinity (the CAST), so comparisons with it work as they did on
-- the old table's INTEGER PRIMARY KEY.
CREATE VIEW IF NOT EXISTS raftlite_log(idx, term, kind, payload) AS
WITH RECURSIVE entry(idx, seg) AS (
  SELECT max(first_index,
             coalesce((SELECT purged_index FROM raftlite_state), -1) + 1),
         first_index
  FROM raftlite_segment
  UNION ALL
  SELECT entry.idx + 1, entry.seg
  FROM entry JOIN raftlite_segment AS g ON g.first_index = entry.seg
  WHERE entry.idx < g.last_index
)
SELECT CAST(entry.idx AS INTEGER), g.term, g.kind,
       CASE g.kind
         WHEN 'membership' THEN g.payloads
         -- substr() of an empty blob is NULL
         WHEN 'blank' THEN x''
         ELSE coalesce(substr(g.payloads,
                     CASE WHEN entry.idx = g.first_index THEN 0
                          ELSE CAST(substr(g.ends, 10 * (entry.idx - g.first_index) - 9, 10)
                                    AS INTEGER) END + 1,
                     CAST(substr(g.ends, 10 * (entry.idx - g.first_index) + 1, 10)
                          AS INTEGER)
                     - CASE WHEN entry.idx = g.first_index THEN 0
                            ELSE CAST(substr(g.ends, 10 * (entry.idx - g.first_index) - 9, 10)
                                      AS INTEGER) END), x'')
       END
FROM entry JOIN raftlite_segment AS g ON g.first_index = entry.seg
ORDER BY entry.idx;

-- Appending through the view: one entry, a segment of its own, under the
-- segment's rules. Its one end offset is its payload's length.
CREATE TRIGGER IF NOT EXISTS raftlite_log_insert
INSTEAD OF INSERT ON raftlite_log
BEGIN
  INSERT INTO raftlite_segment(first_index, last_index, term, kind, payloads, ends)
  VALUES (new.idx, new.idx, new.term, new.kind, new.payload,
          CAST(printf('%010d', length(CAST(new.payload AS BLOB))) AS BLOB));
END;

-- Deleting through the view: the last present entry, above last_applied
-- (a truncation by one), as a DELETE on the old one-row-per-entry table
-- was. Anything else is refused with the rule it breaks.
CREATE TRIGGER IF NOT EXISTS raftlite_log_delete
INSTEAD OF DELETE ON raftlite_log
BEGIN
  SELECT RAISE(ABORT, 'raft_log: AppliedWontConflict')
  FROM raftlite_state AS s
  WHERE old.idx <= s.applied_index;
  SELECT RAISE(ABORT, 'raft_log: LogsNonConsecutive')
  WHERE old.idx IS NOT (SELECT last_index FROM raftlite_segment
                        ORDER BY first_index DESC LIMIT 1);
  UPDATE raftlite_state SET truncate_from = old.idx WHERE id = 1;
END;

CREATE TRIGGER IF NOT EXISTS raftlite_log_update
INSTEAD OF UPDATE ON raftlite_log
BEGIN
  SELECT RAISE(ABORT, 'raft_log: EntryImmutable');
END;
