UPDATE raftlite_state
       SET applied_term = 3, applied_index = 9,
           mePRAGMA ignore_check_constraints = ON;
SELECT raft_append(1, 1, 'blank', NULL);
INSERT INTO raft_log VALUES (1, 1, 'blank', x'');
PRAGMA ignore_check_constraints = OFF;
SELECT raft_append(1, 1, 'blank', NULL);
 = 3, membership_index = 8, membership = '[[1,2]]';
INSERT INTO raftlite_snapshot(snapshot_id, last_term, last_index,
      membership_term, membership_index, membership)
  VALUES ('s2', 4, 20, 1, 1, '[[9]]');
UPDATE raftlite_state
       SET membership_term = 1, membership_index = 1, membership = '[[9]]';
UPDATE raftlite_state SET applied_term = 4, applied_index = 20,
       membership_term = 1, membership_index = 1, membership = '[[8]]';
UPDATE raftlite_state SET applied_term = 4, applied_inex = 20,
       membership_term = 1, membership_index = 1, membership = '[[9]]';
INSERT INTO raftlite_snapshot_install SELECT id FROM raftlite_snapshot
     WHERE snapshot_id = 's2';
SELECT snapshot_id FROM raftlite_snapshot WHERE is_current;
SELECT count(*) FROM raftlite_snapshot_install;
