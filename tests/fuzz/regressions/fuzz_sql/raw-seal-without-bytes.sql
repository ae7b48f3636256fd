INSERT INTO raftlite_snapshot(size) VALUES (0);
UPDATE raftlite_snapshot SET snapshot_id = 's', size = 3;
