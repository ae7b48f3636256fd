INSERT INTO raftlite_snapshot(snapshot_id, last_term, last_index, size) VALUES ('s', 1, 1, 3);
