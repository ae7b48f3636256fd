SELECT raft_append(1, 1, 'blank', NULL);
INSERT INTO raftlite_snapshot(snapshot_id, last_term, last_index, membership_term, membership_index, membership) VALUES ('s', 1, 5, 1, 1, '[[1]]');
INSERT INTO raftlite_snapshot_install SELECT id FROM raftlite_snapshot WHERE snapshot_id = 's';
