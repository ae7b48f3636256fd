-- examples/tour.sql — a tour of raftlite in the sqlite3 shell.
--   sqlite3 node.db < examples/tour.sql      (run from the repository root)
.headers on
.mode box
.load build/raftlite

.print '-- Durable settings first: a successful call must survive a power cut.'
.print '-- WAL with synchronous=FULL (a rollback journal would need EXTRA).'
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;

.print '-- Install the store: tables, triggers and virtual tables in main.'
SELECT raft_install() AS schema_version, raft_version() AS library;

.print '-- Save the hard state: term 1, voted for node 1.'
SELECT raft_save_hard_state(1, 1) AS term;
SELECT * FROM raft_hard_state;

.print '-- The state machine is an ordinary table; each normal entry sets a key.'
CREATE TABLE kv(k TEXT PRIMARY KEY, v);
SELECT raft_state_machine('kv',
  'INSERT OR REPLACE INTO kv VALUES (json_extract(:payload, ''$.k''), json_extract(:payload, ''$.v''))')
  AS tables;

.print '-- Append: a membership, then a batch of three entries in one call.'
SELECT raft_append(1, 1, 'membership', '[[1, 2, 3]]') AS appended;
SELECT raft_append('[{"idx":2,"term":1,"kind":"normal","payload":{"k":"x","v":1}},
                     {"idx":3,"term":1,"kind":"normal","payload":{"k":"y","v":2}},
                     {"idx":4,"term":1,"kind":"normal","payload":{"k":"x","v":3}}]') AS appended;
.print '-- ... and through the virtual table.'
INSERT INTO raft_log(idx, term, kind, payload) VALUES (5, 1, 'blank', NULL);

.print '-- Query the log: a range read touches only the rows it returns.'
SELECT idx, term, kind, CAST(payload AS TEXT) AS payload FROM raft_log WHERE idx BETWEEN 2 AND 4;
EXPLAIN QUERY PLAN SELECT * FROM raft_log WHERE idx BETWEEN 2 AND 4;

.print '-- A rule broken is refused, with the ids involved, and nothing changes.'
SELECT raft_append(7, 1, 'normal', 'skips index 6');

.print '-- Truncate a conflicting suffix: entries 5 and up go.'
SELECT raft_truncate(5) AS removed;

.print '-- Apply through index 3: the membership becomes the applied one, kv gets x and y.'
SELECT raft_apply(3) AS last_applied;
SELECT * FROM kv;

.print '-- Snapshot: an SQLite image of kv, now the current snapshot.'
SELECT raft_snapshot_build() AS snapshot_id;
SELECT snapshot_id, last_log_index, size FROM raft_snapshot;

.print '-- Purge the applied prefix up to index 2.'
SELECT raft_purge(2) AS removed;
SELECT idx, term, kind FROM raft_log;
SELECT last_purged_index, last_log_index, last_applied_index, membership FROM raft_state;

.print '-- Check the store against the rules.'
SELECT raft_check() AS check_result;
