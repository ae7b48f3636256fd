#!/bin/sh
# The sqlite3 shell as a host (issue 10): `.load` the module, then a round
# trip on a file database — install, vote, declare a state machine, append,
# apply, query, refused calls naming their rule with nothing changed, a
# reopen — with stdout compared exactly and stderr checked for raftlite's
# messages (the shell's own prefix, "Runtime error near line N:", and its
# code suffix vary across SQLite versions and are not pinned).
#
#   tests/hosts/shell.sh MODULE      (run in an empty working directory)
#
# RAFTLITE_SQLITE3 names the shell (default: sqlite3 in PATH). Exits 77
# (CTest's SKIP_RETURN_CODE) when there is no shell.
set -u
module=$1
shell=${RAFTLITE_SQLITE3:-sqlite3}
if ! command -v "$shell" >/dev/null 2>&1; then
  echo "SKIP: no sqlite3 shell ($shell): install Debian's sqlite3 (scripts/install-deps)"
  exit 77
fi
echo "host: $("$shell" -version)"
rm -f host.db host.db-wal host.db-shm out err
fail=0
check() {  # check NAME EXPECTED ACTUAL
  if [ "$2" != "$3" ]; then
    printf 'FAIL %s\n--- expected\n%s\n--- got\n%s\n' "$1" "$2" "$3"
    fail=1
  else
    echo "ok $1"
  fi
}

# One line describing everything raftlite and the state machine hold, to
# show that a refused call changed nothing.
dump="SELECT 'log ' || (SELECT group_concat(idx || '-' || term || ' ' || kind, ', ')
                        FROM (SELECT * FROM raft_log ORDER BY idx))
  || ' | state ' || (SELECT last_log_index || ' ' || last_applied_index || ' '
                            || membership FROM raft_state)
  || ' | vote ' || (SELECT current_term || ' ' || voted_for FROM raft_hard_state)
  || ' | kv ' || (SELECT group_concat(k || '=' || v, ' ') FROM (SELECT * FROM kv ORDER BY k));"

# 1. The round trip on a fresh file database. -bail is not used: after a
# refused call the script goes on, as an operator's session would.
"$shell" host.db >out 2>err <<EOF
.load '$module'
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
SELECT raft_version() GLOB '[0-9]*.[0-9]*.[0-9]*';
SELECT raft_install();
SELECT raft_save_hard_state(1, 1);
SELECT current_term, voted_for FROM raft_hard_state;
CREATE TABLE kv(k TEXT PRIMARY KEY, v);
SELECT raft_state_machine('["kv"]',
  'INSERT OR REPLACE INTO kv VALUES (json_extract(:payload, ''\$.k''), json_extract(:payload, ''\$.v''))');
SELECT raft_append(1, 1, 'membership', '[[1,2,3]]');
SELECT raft_append('[{"idx":2,"term":1,"kind":"normal","payload":{"k":"x","v":1}},
                     {"idx":3,"term":1,"kind":"normal","payload":{"k":"y","v":2}}]');
SELECT raft_apply(3);
SELECT k, v FROM kv ORDER BY k;
SELECT idx, term, kind, CAST(payload AS TEXT) FROM raft_log;
SELECT last_log_index, last_applied_index, membership FROM raft_state;
$dump
SELECT raft_append(5, 1, 'normal', 'skips index 4');
SELECT raft_save_hard_state(1, 2);
$dump
PRAGMA synchronous = NORMAL;
SELECT raft_append(4, 1, 'blank', NULL);
$dump
PRAGMA synchronous = FULL;
SELECT raft_check();
EOF
rc=$?
state='log 1-1 membership, 2-1 normal, 3-1 normal | state 3 3 [[1,2,3]] | vote 1 1 | kv x=1 y=2'
check 1.stdout "wal
1
4
1
1|1
1
1
2
3
x|1
y|2
1|1|membership|[[1,2,3]]
2|1|normal|{\"k\":\"x\",\"v\":1}
3|1|normal|{\"k\":\"y\",\"v\":2}
3|3|[[1,2,3]]
$state
$state
$state
ok" "$(cat out)"
# The refused calls, in order, each naming its rule and the ids involved.
check 1.stderr "raft_append: LogsNonConsecutive: last log id is 1-3, got 1-5
raft_save_hard_state: VotedForChanged: term 1 already has a vote for 1, got 2
raft_append: PRAGMA main.synchronous is NORMAL (1): a successful call would not be durable; use FULL or EXTRA" \
  "$(sed -n 's/^.*\(raft_[a-z_]*: \)/\1/p' err | sed 's/ ([0-9]*)$//')"
check 1.stderr.lines 3 "$(wc -l <err | tr -d ' ')"
# The shell reports a failed statement in its exit status.
check 1.exit nonzero "$([ $rc -ne 0 ] && echo nonzero || echo zero)"

# 2. A new process on the same file: what was committed is there, and the
# node goes on (per-connection pragmas set again).
"$shell" host.db >out 2>err <<EOF
.load '$module'
PRAGMA synchronous = FULL;
$dump
SELECT raft_append(4, 1, 'blank', NULL);
SELECT raft_apply(4);
SELECT raft_check();
EOF
rc=$?
check 2.stdout "$state
1
4
ok" "$(cat out)"
check 2.stderr "" "$(cat err)"
check 2.exit 0 "$rc"

exit $fail
