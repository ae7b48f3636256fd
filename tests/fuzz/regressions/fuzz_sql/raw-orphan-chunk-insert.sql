INSERT INTO raftlite_snapshot_chunk(snapshot, seq, data) VALUES (99, 0, x'00');
