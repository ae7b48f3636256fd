#!/usr/bin/env bash
# Makes the seed images of fuzz_image: snapshots built by raft_snapshot_build()
# on a store declared as fuzz_image.c declares its own (kv with an index,
# membership [[1,2]] at 1-1, last log id 1-3), with various contents.
#   tests/fuzz/make_image_seeds.sh build/raftlite.so OUTDIR
set -euo pipefail
ext=$(realpath "${1:?path to raftlite.so}")
out=$(realpath "${2:?output directory}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
while IFS='|' read -r name sql; do
  sqlite3 "$name.db" >/dev/null <<SQL
.load ${ext%.so}
SELECT raft_install();
CREATE TABLE kv(k TEXT PRIMARY KEY, v);
CREATE INDEX kv_v ON kv(v);
SELECT raft_state_machine('["kv"]', 'INSERT OR REPLACE INTO kv VALUES (json_extract(:payload, ''\$.k''), json_extract(:payload, ''\$.v''))');
SELECT raft_append(1, 1, 'membership', '[[1,2]]');
SELECT raft_append(2, 1, 'normal', '{"k":"a","v":1}');
SELECT raft_append(3, 1, 'blank', NULL);
SELECT raft_apply(2);
$sql
SELECT raft_apply(3);
SELECT raft_snapshot_build();
SELECT writefile('$out/$name.img', raft_snapshot_read(0, 100000000));
SQL
done <<'EOF2'
empty|DELETE FROM kv;
one|INSERT INTO kv VALUES ('b', 1);
few|INSERT INTO kv VALUES ('b', x'00ff'), ('c', NULL), ('d', 2.5), (7, 'int key');
many|WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300) INSERT INTO kv SELECT 'k' || i, randomblob(i % 50) FROM c;
big|INSERT INTO kv VALUES ('big', zeroblob(5000));
EOF2
