CREATE TABLE raftlite_log(idx INTEGER PRIMARY KEY, term, kind, payload);
