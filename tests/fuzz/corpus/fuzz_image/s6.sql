UPDATE raftlite_snapshot_meta SET last_index = 4;
