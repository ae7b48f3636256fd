SELECT raft_snapshot_begin();
SELECT raft_snapshot_write(1, 0, x'00');
UPDATE raftlite_snapshot SET id = 99;
