-- raftlite backing tables, schema version 3.
--
-- These files are the single source of truth for the store's layout and
-- rules. The build embeds them into the extension; raft_install() runs them
-- in the target schema by qualifying every name that follows
-- "IF NOT EXISTS " (so keep every CREATE in that form). They also run as
-- they are in the plain sqlite3 shell:  sqlite3 x.db < sql/001_tables.sql
--
-- Integers are SQLite's signed 64-bit: terms, indexes and node ids are
-- therefore 0 .. 2^63-1 (docs/contract.md §1), enforced by CHECKs.
-- A log id (term, index) is stored as two columns, both NULL for "none".

-- Schema version of the store, tracked apart from PRAGMA user_version,
-- which belongs to the application.
CREATE TABLE IF NOT EXISTS raftlite_meta(
  name  TEXT PRIMARY KEY NOT NULL,
  value INTEGER NOT NULL
) STRICT;

-- The hard state: zero rows until first saved, then exactly one.
CREATE TABLE IF NOT EXISTS raftlite_hard_state(
  id           INTEGER PRIMARY KEY CHECK (id = 1),
  current_term INTEGER NOT NULL CHECK (current_term >= 0),
  voted_for    INTEGER CHECK (voted_for >= 0)        -- NULL: no vote
) STRICT;

-- The log, stored as segments: one row per run of entries of one term and
-- one kind, written by one append (docs/storage.md says why). A membership
-- entry is a segment of its own. The view raftlite_log (004_log.sql) shows
-- one row per present entry.
--   first_index, last_index  the segment holds entries first..last; those
--                 at or below last_purged are hidden (purged) until the
--                 whole segment is
--   payloads      the entries' payloads one after the other: a blob for
--                 blank (empty) and normal entries, the JSON text of a
--                 membership (canonical as json() writes it)
--   ends          the end offset of each entry's payload in payloads, as
--                 10 ASCII digits each (zero-padded decimal): bytewise
--                 order is numeric order, and plain SQL reads and writes
--                 them (CAST, printf) on every SQLite raftlite supports.
-- The CHECKs hold what one row can say; the triggers of 004_log.sql check
-- the rest (offsets non-decreasing, contiguity), once per segment. The
-- kind is compared with OR, not IN: IN (...) in a CHECK builds an
-- ephemeral index on every INSERT.
CREATE TABLE IF NOT EXISTS raftlite_segment(
  first_index INTEGER PRIMARY KEY CHECK (first_index >= 0),
  last_index  INTEGER NOT NULL,
  term        INTEGER NOT NULL CHECK (term >= 0),
  kind        TEXT NOT NULL
    CHECK (kind = 'normal' OR kind = 'blank' OR kind = 'membership'),
  payloads    ANY NOT NULL,
  ends        BLOB NOT NULL,
  CONSTRAINT segment_packing CHECK (
    last_index >= first_index
    AND length(ends) = 10 * (last_index - first_index + 1)
    AND CAST(ends AS TEXT) NOT GLOB '*[^0-9]*'
    AND CAST(substr(ends, -10) AS INTEGER) = length(CAST(payloads AS BLOB))),
  CONSTRAINT payload_matches_kind CHECK (
    CASE kind
      WHEN 'normal'     THEN typeof(payloads) = 'blob'
      WHEN 'blank'      THEN typeof(payloads) = 'blob' AND length(payloads) = 0
      WHEN 'membership' THEN typeof(payloads) = 'text' AND last_index = first_index
    END)
) STRICT;

-- get_membership() reads the last membership entry above last_applied:
-- this partial index makes that a lookup, and costs nothing for the other
-- segments.
CREATE INDEX IF NOT EXISTS raftlite_segment_memberships
  ON raftlite_segment(first_index) WHERE kind = 'membership';

-- Log state and applied state: exactly one row, created by raft_install().
--   purged_*      last_purged_log_id
--   applied_*     last_applied log id
--   membership_*  the applied membership and the log id that carried it
--   truncate_from a command, not state: setting it removes the entries
--                 with idx >= truncate_from and resets it to NULL, all in
--                 one statement (see 005_state.sql). It is NULL at rest.
CREATE TABLE IF NOT EXISTS raftlite_state(
  id               INTEGER PRIMARY KEY CHECK (id = 1),
  purged_term      INTEGER CHECK (purged_term >= 0),
  purged_index     INTEGER CHECK (purged_index >= 0),
  applied_term     INTEGER CHECK (applied_term >= 0),
  applied_index    INTEGER CHECK (applied_index >= 0),
  membership_term  INTEGER CHECK (membership_term >= 0),
  membership_index INTEGER CHECK (membership_index >= 0),
  membership       TEXT,
  truncate_from    INTEGER CHECK (truncate_from >= 0),
  CONSTRAINT purged_is_log_id CHECK ((purged_term IS NULL) = (purged_index IS NULL)),
  CONSTRAINT applied_is_log_id CHECK ((applied_term IS NULL) = (applied_index IS NULL)),
  CONSTRAINT membership_is_complete CHECK (
    (membership_term IS NULL) = (membership_index IS NULL)
    AND (membership_term IS NULL) = (membership IS NULL))
) STRICT;

-- Snapshots: one row per stored or receiving snapshot. The bytes live in
-- raftlite_snapshot_chunk, in pieces small enough for incremental BLOB I/O.
--   snapshot_id   NULL while the stream is still being received
--   is_current    1 for the current snapshot (at most one)
-- AUTOINCREMENT: a stream names its snapshot by id, and an id must never
-- come back for another snapshot while an old stream may still hold it.
CREATE TABLE IF NOT EXISTS raftlite_snapshot(
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  snapshot_id      TEXT UNIQUE CHECK (length(snapshot_id) BETWEEN 1 AND 127),
  last_term        INTEGER CHECK (last_term >= 0),
  last_index       INTEGER CHECK (last_index >= 0),
  membership_term  INTEGER CHECK (membership_term >= 0),
  membership_index INTEGER CHECK (membership_index >= 0),
  membership       TEXT,
  size             INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),
  is_current       INTEGER NOT NULL DEFAULT 0 CHECK (is_current IN (0, 1)),
  CONSTRAINT last_is_log_id CHECK ((last_term IS NULL) = (last_index IS NULL)),
  CONSTRAINT membership_is_complete CHECK (
    (membership_term IS NULL) = (membership_index IS NULL)
    AND (membership_term IS NULL) = (membership IS NULL)),
  CONSTRAINT current_has_meta CHECK (
    is_current = 0 OR (snapshot_id IS NOT NULL AND last_index IS NOT NULL))
) STRICT;

CREATE UNIQUE INDEX IF NOT EXISTS raftlite_snapshot_one_current
  ON raftlite_snapshot(is_current) WHERE is_current = 1;

-- A rowid table (not WITHOUT ROWID) so that sqlite3_blob_open() works.
CREATE TABLE IF NOT EXISTS raftlite_snapshot_chunk(
  id       INTEGER PRIMARY KEY,
  snapshot INTEGER NOT NULL,
  seq      INTEGER NOT NULL CHECK (seq >= 0),
  data     BLOB NOT NULL,
  UNIQUE (snapshot, seq)
) STRICT;

-- A command, not storage: inserting a snapshot's row id installs it (see
-- 006_snapshot.sql). The row lives only while its own statement runs, and
-- its presence is how the state's triggers tell an install from a raw
-- jump of last_applied: no statement can begin with a row here.
CREATE TABLE IF NOT EXISTS raftlite_snapshot_install(
  snapshot INTEGER NOT NULL
) STRICT;

-- A validator, not storage: inserting a membership JSON text runs the
-- rules of 002_membership.sql and stores nothing. SQLite has no stored
-- functions, so this is how the log, the state and the snapshot share one
-- definition of a valid membership.
CREATE TABLE IF NOT EXISTS raftlite_membership_check(
  membership ANY
) STRICT;
