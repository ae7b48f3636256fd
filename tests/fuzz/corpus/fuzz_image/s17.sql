UPDATE raftlite_snapshot_meta SET membership = '[ [1,2] ]';
