INSERT INTO raftlite_snapshot_meta VALUES (1, 3, 1, 1, '[[1,2]]');
