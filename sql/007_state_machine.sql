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

-- The CHECK above reads LIKE, which PRAGMA case_sensitive_like turns
-- case-sensitive, while table names are not: 'RAFTLITE_LOG' is raftlite's
-- table. GLOB on the lower-cased name is case-blind under any setting;
-- these triggers fire only where the CHECK would let such a name through.
CREATE TRIGGER IF NOT EXISTS raftlite_sm_table_name
BEFORE INSERT ON raftlite_sm_table
WHEN (lower(new.name) GLOB 'raftlite_*' OR lower(new.name) GLOB 'raft_*'
      OR lower(new.name) GLOB 'sqlite_*')
  AND new.name NOT LIKE 'raftlite\_%' ESCAPE '\'
  AND new.name NOT LIKE 'raft\_%' ESCAPE '\'
  AND new.name NOT LIKE 'sqlite\_%' ESCAPE '\'
BEGIN
  SELECT RAISE(ABORT, 'raft_sm_table: ReservedTable');
END;

CREATE TRIGGER IF NOT EXISTS raftlite_sm_table_rename
BEFORE UPDATE OF name ON raftlite_sm_table
WHEN (lower(new.name) GLOB 'raftlite_*' OR lower(new.name) GLOB 'raft_*'
      OR lower(new.name) GLOB 'sqlite_*')
  AND new.name NOT LIKE 'raftlite\_%' ESCAPE '\'
  AND new.name NOT LIKE 'raft\_%' ESCAPE '\'
  AND new.name NOT LIKE 'sqlite\_%' ESCAPE '\'
BEGIN
  SELECT RAISE(ABORT, 'raft_sm_table: ReservedTable');
END;
