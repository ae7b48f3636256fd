SELECT raft_append('[{"idx":1,"term":1,"kind":"blank"},{"idx":2,"term":2,"kind":"blank"}]');
SELECT raft_apply(2);
SELECT raft_purge(0, 2);
