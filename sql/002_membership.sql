-- What a valid membership is (docs/contract.md §1), in one place.
--
-- INVARIANT(membership-valid): a membership is JSON text, either
--   an array of one or two non-empty arrays of node ids  [[1,2,3]]
--   or an object {"configs": <that array>, "nodes": {...}} whose optional
--   "nodes" object has one key per node id (decimal, no sign, no leading
--   zero) covering every id in "configs"; ids only in "nodes" are learners.
-- Node ids are integers 0 .. 2^63-1, and no id appears twice in one config.
--
-- INVARIANT(membership-canonical): the text is stored in ONE form, the one
-- json() writes for RFC 8259 input: no whitespace, ids spelled as decimal
-- integers (no -0, 1.0, 1e2), keys spelled without escapes ("1", never
-- "\u0031"), nothing after the value and no NUL. Node data (the values
-- in "nodes") is the application's: any RFC 8259 JSON, minified, its
-- strings spelled as given (json() keeps escapes as written on every
-- SQLite version). raftlite's writers store json() of their input, so
-- valid JSON that json() makes canonical (whitespace) is accepted there;
-- a raw INSERT or UPDATE must already be canonical.
--
-- Other triggers validate a membership with
--   INSERT INTO raftlite_membership_check VALUES (<json text>);
-- which raises on an invalid one and otherwise stores nothing.
--
-- Of SQLite's JSON functions only json_each() is used: SQLite 3.40's JSON
-- scalar functions (json_valid, json_type, ...) are not innocuous, so a
-- trigger calling them fails under PRAGMA trusted_schema=OFF. SQLite 3.40
-- raises "malformed JSON" for anything but RFC 8259; SQLite 3.42 and later
-- also read JSON5 ([[1,2],], [[0x1]], comments, ...). Either way the
-- canonical text is rebuilt below from what json_each() decodes (ids as
-- decimal integers, keys as decoded, node data as SQLite renders it, which
-- is RFC 8259 and minified) and the stored text must equal it byte for
-- byte: JSON5, whitespace, -0 and trailing bytes fail that one rule on
-- every version.
--
-- Linear time, or n log n: each statement parses the text a fixed number of
-- times and scans or sorts the rows once. No statement runs json_each() per
-- row of another (json_each has no index: that would be quadratic).

CREATE TRIGGER IF NOT EXISTS raftlite_membership_check_valid
BEFORE INSERT ON raftlite_membership_check
BEGIN
  -- One step per statement: each step may assume the ones before it held,
  -- since SQLite does not promise to short-circuit AND.
  -- Text, starting as canonical text does (so its first byte tells an
  -- array from an object), and no NUL: SQLite's JSON parser stops at a NUL
  -- and would read only what comes before it.
  SELECT RAISE(ABORT, 'raft_membership: InvalidMembership')
  WHERE typeof(new.membership) <> 'text'
     OR substr(new.membership, 1, 1) NOT IN ('[', '{')
     OR instr(new.membership, char(0)) > 0;
  -- The configs: an array of one or two arrays. An object holds "configs"
  -- and optionally "nodes" (an object), each once, nothing else.
  SELECT RAISE(ABORT, 'raft_membership: InvalidMembership')
  FROM (SELECT substr(new.membership, 1, 1) = '{' AS isObject) AS m
  WHERE (SELECT count(*) NOT BETWEEN 1 AND 2
                OR total(typeof(key) <> 'integer' OR type <> 'array') > 0
         FROM json_each(new.membership,
                        CASE WHEN m.isObject THEN '$.configs' ELSE '$' END))
     OR (m.isObject
         AND (SELECT total(key = 'configs') <> 1 OR total(key = 'nodes') > 1
                     OR total(key = 'nodes' AND type <> 'object') > 0
                     OR count(*) <> total(key IN ('configs', 'nodes'))
              FROM json_each(new.membership)));
  -- Canonical, and each config non-empty, of distinct integer ids in
  -- 0..2^63-1. The text must equal the one rebuilt from what json_each()
  -- decodes, in document order: each config from its ids (NULL if one is
  -- not a valid id: JSON true reads as 1 and 2^63 as a real, the type
  -- column tells them apart; count(DISTINCT) sorts), the object's keys as
  -- decoded, in their order, and "nodes" as SQLite renders it (RFC 8259,
  -- minified, strings as written). One scan per config: there are at most
  -- two by now (LIMIT 2 also keeps SQLite from flattening the subquery,
  -- which would scan each config once per reference to "config").
  SELECT RAISE(ABORT, 'raft_membership: InvalidMembership')
  FROM (SELECT isObject, (
          SELECT CASE WHEN count(*) = count(config)
                      THEN '[' || group_concat(config, ',') || ']' END
          FROM (SELECT (SELECT CASE WHEN count(*) > 0
                                     AND count(*) = count(DISTINCT atom)
                                     AND total(type <> 'integer'
                                               OR typeof(atom) <> 'integer'
                                               OR atom < 0) = 0
                                    THEN '[' || group_concat(atom, ',') || ']'
                               END
                        FROM json_each(new.membership, c.fullkey)) AS config
                FROM json_each(new.membership,
                               CASE WHEN isObject THEN '$.configs' ELSE '$' END)
                     AS c
                LIMIT 2)) AS configs
        FROM (SELECT substr(new.membership, 1, 1) = '{' AS isObject)) AS m
  WHERE new.membership IS NOT CASE
    WHEN NOT m.isObject THEN m.configs
    ELSE '{' || (SELECT group_concat('"' || key || '":' ||
                                     CASE key WHEN 'configs' THEN m.configs
                                              ELSE value END, ',')
                 FROM json_each(new.membership)) || '}'
  END;
  -- nodes: each key a canonical id (decimal, no sign, no leading zero, at
  -- most 2^63-1: the casts give it back unchanged) spelled without escapes
  -- (fullkey is the path as written: $.nodes."1"), each key once, and
  -- every id of the configs a key. The ids and the keys are sorted
  -- together once (GROUP BY): each group must hold exactly one key.
  SELECT RAISE(ABORT, 'raft_membership: InvalidMembership')
  WHERE EXISTS (SELECT 1 FROM json_each(new.membership) WHERE key = 'nodes')
    AND EXISTS (
      SELECT 1
      FROM (SELECT key AS id, 1 AS isKey,
                   key <> CAST(CAST(key AS INTEGER) AS TEXT)
                   OR CAST(key AS INTEGER) < 0
                   OR fullkey NOT IN ('$.nodes."' || key || '"',
                                      '$.nodes.' || key) AS isBad
            FROM json_each(new.membership, '$.nodes')
            UNION ALL
            SELECT CAST(atom AS TEXT), 0, 0
            FROM json_each(new.membership, '$.configs[0]')
            UNION ALL
            SELECT CAST(atom AS TEXT), 0, 0
            FROM json_each(new.membership, '$.configs[1]'))
      GROUP BY id HAVING total(isKey) <> 1 OR max(isBad));
  -- Valid: store nothing.
  SELECT RAISE(IGNORE);
END;
