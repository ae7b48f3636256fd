-- What a valid membership is (SPEC 1), in one place.
--
-- INVARIANT(membership-valid): a membership is JSON text, either
--   an array of one or two non-empty arrays of node ids  [[1,2,3]]
--   or an object {"configs": <that array>, "nodes": {...}} whose optional
--   "nodes" object has one key per node id (decimal, no sign, no leading
--   zero) covering every id in "configs"; ids only in "nodes" are learners.
-- Node ids are integers 0 .. 2^63-1, and no id appears twice in one config.
--
-- Other triggers validate a membership with
--   INSERT INTO raftlite_membership_check VALUES (<json text>);
-- which raises on an invalid one and otherwise stores nothing.
--
-- Only json_each() and json_tree() are used: SQLite 3.40's JSON scalar
-- functions (json_valid, json_type, ...) are not innocuous, so a trigger
-- calling them fails under PRAGMA trusted_schema=OFF. Malformed JSON makes
-- json_tree() raise "malformed JSON"; canonical form (json() of the text)
-- is applied by raftlite's own writers and verified by raft_check().

CREATE TRIGGER IF NOT EXISTS raftlite_membership_check_valid
BEFORE INSERT ON raftlite_membership_check
BEGIN
  -- One step per statement: each step may assume the ones before it held,
  -- since SQLite does not promise to short-circuit AND.
  SELECT RAISE(ABORT, 'raft_membership: InvalidMembership')
  WHERE typeof(new.membership) <> 'text';
  -- An array, or an object of configs and optional nodes, each key once.
  SELECT RAISE(ABORT, 'raft_membership: InvalidMembership')
  FROM (SELECT type FROM json_tree(new.membership) LIMIT 1) AS root
  WHERE root.type NOT IN ('array', 'object')
     OR (root.type = 'object'
         AND (NOT EXISTS (SELECT 1 FROM json_each(new.membership)
                          WHERE key = 'configs')
              OR EXISTS (SELECT 1 FROM json_each(new.membership)
                         WHERE key NOT IN ('configs', 'nodes'))
              OR (SELECT count(*) FROM json_each(new.membership))
                 <> (SELECT count(DISTINCT key) FROM json_each(new.membership))
              OR EXISTS (SELECT 1 FROM json_each(new.membership)
                         WHERE key = 'nodes' AND type <> 'object')));
  -- One or two configs, each an array.
  SELECT RAISE(ABORT, 'raft_membership: InvalidMembership')
  FROM (SELECT CASE type WHEN 'object' THEN '$.configs' ELSE '$' END AS configs
        FROM json_tree(new.membership) LIMIT 1) AS m
  WHERE (SELECT type FROM json_tree(new.membership, m.configs) LIMIT 1) <> 'array'
     OR (SELECT count(*) FROM json_each(new.membership, m.configs)) NOT BETWEEN 1 AND 2
     OR EXISTS (SELECT 1 FROM json_each(new.membership, m.configs)
                WHERE type <> 'array');
  -- Each config non-empty, of distinct integer ids in 0..2^63-1 (JSON
  -- true reads as 1 and 2^64 as a real: the type column tells them apart).
  SELECT RAISE(ABORT, 'raft_membership: InvalidMembership')
  FROM (SELECT CASE type WHEN 'object' THEN '$.configs' ELSE '$' END AS configs
        FROM json_tree(new.membership) LIMIT 1) AS m
  WHERE EXISTS (
    SELECT 1 FROM json_each(new.membership, m.configs) AS c
    WHERE NOT EXISTS (SELECT 1 FROM json_each(c.value))
       OR EXISTS (SELECT 1 FROM json_each(c.value) AS id
                  WHERE id.type <> 'integer' OR typeof(id.value) <> 'integer'
                     OR id.value < 0)
       OR (SELECT count(*) FROM json_each(c.value))
          <> (SELECT count(DISTINCT value) FROM json_each(c.value)));
  -- nodes: keys are canonical ids, each once, covering every id in configs.
  SELECT RAISE(ABORT, 'raft_membership: InvalidMembership')
  WHERE EXISTS (SELECT 1 FROM json_each(new.membership) WHERE key = 'nodes')
    AND (EXISTS (SELECT 1 FROM json_each(new.membership, '$.nodes') AS n
                 WHERE n.key <> CAST(CAST(n.key AS INTEGER) AS TEXT)
                    OR CAST(n.key AS INTEGER) < 0)
         OR (SELECT count(*) FROM json_each(new.membership, '$.nodes'))
            <> (SELECT count(DISTINCT key) FROM json_each(new.membership, '$.nodes'))
         OR EXISTS (SELECT 1 FROM json_each(new.membership, '$.configs') AS c,
                                  json_each(c.value) AS id
                    WHERE NOT EXISTS (
                      SELECT 1 FROM json_each(new.membership, '$.nodes') AS n
                      WHERE n.key = CAST(id.value AS TEXT))));
  -- Valid: store nothing.
  SELECT RAISE(IGNORE);
END;
