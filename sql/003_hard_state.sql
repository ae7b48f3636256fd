-- Rules of the hard state (docs/contract.md §2, save_hard_state).
--
-- INVARIANT(term-ascending): current_term never decreases, and the hard
-- state, once saved, is never deleted.
-- INVARIANT(one-vote-per-term): within one term, a vote once set never
-- changes and is never cleared.
--
-- The INSERT trigger compares with the stored row, so that
-- INSERT OR REPLACE (which deletes without firing DELETE triggers while
-- recursive_triggers is off) cannot lower the term either.

CREATE TRIGGER IF NOT EXISTS raftlite_hard_state_insert
BEFORE INSERT ON raftlite_hard_state
BEGIN
  SELECT RAISE(ABORT, 'raft_hard_state: TermNotAscending')
  FROM raftlite_hard_state AS old
  WHERE new.current_term < old.current_term;
  SELECT RAISE(ABORT, 'raft_hard_state: VotedForChanged')
  FROM raftlite_hard_state AS old
  WHERE new.current_term = old.current_term
    AND old.voted_for IS NOT NULL AND new.voted_for IS NOT old.voted_for;
END;

CREATE TRIGGER IF NOT EXISTS raftlite_hard_state_update
BEFORE UPDATE ON raftlite_hard_state
BEGIN
  SELECT RAISE(ABORT, 'raft_hard_state: TermNotAscending')
  WHERE new.current_term < old.current_term;
  SELECT RAISE(ABORT, 'raft_hard_state: VotedForChanged')
  WHERE new.current_term = old.current_term
    AND old.voted_for IS NOT NULL AND new.voted_for IS NOT old.voted_for;
END;

CREATE TRIGGER IF NOT EXISTS raftlite_hard_state_delete
BEFORE DELETE ON raftlite_hard_state
BEGIN
  SELECT RAISE(ABORT, 'raft_hard_state: TermNotAscending');
END;
