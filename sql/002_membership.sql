-- What a valid membership is (SPEC 1), in one place.
--
-- INVARIANT(membership-valid): a membership is JSON text, canonical as
-- json() writes it, and either
--   an array of one or two non-empty arrays of node ids  [[1,2,3]]
--   or an object {"configs": <that array>, "nodes": {...}} whose optional
--   "nodes" object has one key per node id (decimal, no sign, no leading
--   zero) covering every id in "configs"; ids only in "nodes" are learners.
-- Node ids are integers 0 .. 2^63-1, and no id appears twice in one config.
--
-- Other triggers validate a membership with
--   INSERT INTO raftlite_membership_check VALUES (<json text>);
-- which raises on an invalid one and otherwise stores nothing.

CREATE TRIGGER IF NOT EXISTS raftlite_membership_check_valid
BEFORE INSERT ON raftlite_membership_check
BEGIN
  -- First the JSON itself, so that the JSON functions below never see
  -- malformed text (SQLite does not promise to short-circuit AND).
  SELECT RAISE(ABORT, 'raft_membership: InvalidMembership')
  WHERE typeof(new.membership) <> 'text' OR NOT json_valid(new.membership);
  SELECT RAISE(ABORT, 'raft_membership: InvalidMembership')
  WHERE NOT coalesce((
    SELECT m = json(m)
       AND (json_type(m) = 'array'
            OR (json_type(m) = 'object'
                AND NOT EXISTS (SELECT 1 FROM json_each(m)
                                WHERE key NOT IN ('configs', 'nodes'))))
       -- one or two configs, each a non-empty array of distinct ids
       AND json_type(m, configs) = 'array'
       AND json_array_length(m, configs) BETWEEN 1 AND 2
       AND NOT EXISTS (
         SELECT 1 FROM json_each(m, configs) AS c
         WHERE c.type <> 'array'
            OR json_array_length(c.value) = 0
            OR EXISTS (SELECT 1 FROM json_each(c.value) AS id
                       WHERE typeof(id.value) <> 'integer' OR id.value < 0)
            OR (SELECT count(*) FROM json_each(c.value))
               <> (SELECT count(DISTINCT value) FROM json_each(c.value)))
       -- nodes: optional; keys are canonical ids; covers every voter
       AND (json_type(m, '$.nodes') IS NULL
            OR (json_type(m, '$.nodes') = 'object'
                AND NOT EXISTS (
                  SELECT 1 FROM json_each(m, '$.nodes') AS n
                  WHERE n.key <> CAST(CAST(n.key AS INTEGER) AS TEXT)
                     OR CAST(n.key AS INTEGER) < 0)
                AND NOT EXISTS (
                  SELECT 1 FROM json_each(m, configs) AS c, json_each(c.value) AS id
                  WHERE json_type(m, '$.nodes."' || id.value || '"') IS NULL)))
    FROM (SELECT new.membership AS m,
                 CASE json_type(new.membership) WHEN 'object'
                      THEN '$.configs' ELSE '$' END AS configs)
  ), 0);
  -- Valid: store nothing.
  SELECT RAISE(IGNORE);
END;
