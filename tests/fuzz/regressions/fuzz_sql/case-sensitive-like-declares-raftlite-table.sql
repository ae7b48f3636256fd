PRAGMA case_sensitive_like = 1;
INSERT INTO raftlite_sm_table VALUES ('RAFTLITE_HARD_STATE');
