DROP TABLE raftlite_snapshot_meta;
