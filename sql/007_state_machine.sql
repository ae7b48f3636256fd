-- The application's tables as the state machine (declared in SQL).
--
-- raft_state_machine(tables, apply_sql) fills these; raft_apply() then runs
-- apply_sql once per normal entry, and snapshots are SQLite database images
-- of the declared tables (ext/sm_sql.c).
--
-- INVARIANT(sm-declared-tables): the declared tables are ordinary tables of
-- the store's own schema, never raftlite's own (raftlite_*, raft_*) nor
-- SQLite's (sqlite_*).

CREATE TABLE IF NOT EXISTS raftlite_sm_table(
  name TEXT PRIMARY KEY NOT NULL
    CHECK (name NOT LIKE 'raftlite\_%' ESCAPE '\'
           AND name NOT LIKE 'raft\_%' ESCAPE '\'
           AND name NOT LIKE 'sqlite\_%' ESCAPE '\')
) STRICT;

-- One row: the statement run for each normal entry, with :index, :term,
-- :payload (the payload as text) and :payload_blob bound.
CREATE TABLE IF NOT EXISTS raftlite_sm(
  id        INTEGER PRIMARY KEY CHECK (id = 1),
  apply_sql TEXT NOT NULL CHECK (length(apply_sql) > 0)
) STRICT;
