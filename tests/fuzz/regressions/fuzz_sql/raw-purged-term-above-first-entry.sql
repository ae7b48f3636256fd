SELECT raft_append('[{"idx":1,"term":1,"kind":"blank"},{"idx":2,"term":2,"kind":"blank"}]');
SELECT raft_apply(2);
UPDATE raftlite_state SET purged_term = 2, purged_index = 0;
