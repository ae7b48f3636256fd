#!/usr/bin/env python3
"""Random scripts of raw statements for fuzz_sql: a store set up through
raft_* calls (a log 1-1..3-5 with memberships, some applied, a snapshot, a
receiving stream), then one to six raw writes on the backing tables (every
column combination of raftlite_state and raftlite_snapshot, OR REPLACE and
OR IGNORE, chunk edits, the install command) and raft_* calls.

A grammar, where libFuzzer's byte mutations rarely reach: it found
open/fuzz_sql/purge-term-above-first-entry.sql. Replay each script on its own
(a finding aborts the replay):

    tests/fuzz/gen_raw_scripts.py SEED COUNT OUTDIR [--skip-open]
    for f in OUTDIR/*.sql; do build/tests/fuzz/fuzz_sql_replay "$f" >/dev/null 2>&1 || echo "$f"; done

--skip-open leaves out the statement forms of the open snapshot findings
(orphan chunks, sealing without bytes), which otherwise hide the rest.
"""
import os
import random
import sys

SKIP_OPEN = '--skip-open' in sys.argv
setups = [
 """SELECT raft_append('[{"idx":1,"term":1,"kind":"membership","payload":[[1,2]]},{"idx":2,"term":1,"kind":"normal","payload":"a"},{"idx":3,"term":2,"kind":"blank"},{"idx":4,"term":2,"kind":"membership","payload":[[1]]},{"idx":5,"term":3,"kind":"blank"}]');""",
 "SELECT raft_apply(2);", "SELECT raft_apply(4);", "SELECT raft_snapshot_build();", "SELECT raft_purge(1);", "SELECT raft_save_hard_state(2, 1);",
 "SELECT raft_snapshot_begin();", "SELECT raft_snapshot_write(1, 0, x'0102');", "PRAGMA recursive_triggers = 1;",
]
vals = ['NULL', '0', '1', '2', '3', '4', '5', '6', '7']
mvals = ["'[[1]]'", "'[[1,2]]'", "'[ [1] ]'", 'NULL', "'[[3]]'"]
state_cols = ['purged_term','purged_index','applied_term','applied_index','membership_term','membership_index','membership','truncate_from']
snap_cols = (['last_term', 'last_index', 'membership_term', 'membership_index', 'membership', 'is_current', 'last_term']
             if SKIP_OPEN else
             ['snapshot_id', 'last_term', 'last_index', 'membership_term', 'membership_index', 'membership', 'size', 'is_current', 'id'])
def v(c):
    if c == 'membership': return random.choice(mvals)
    if c == 'snapshot_id': return random.choice(["'s'", "'1-2-1'", 'NULL', "'x'"])
    if c == 'is_current': return random.choice(['0','1'])
    if c == 'size': return random.choice(['0','2','3','65536','70000'])
    return random.choice(vals)
def stmt():
    k = random.randrange(12)
    if k < 4:
        cols = random.sample(state_cols, random.randint(1, 4))
        return "UPDATE %sraftlite_state SET %s;" % (random.choice(['', 'OR REPLACE ', 'OR IGNORE ']), ', '.join('%s = %s' % (c, v(c)) for c in cols))
    if k == 4:
        return "INSERT OR REPLACE INTO raftlite_state(id, %s) VALUES (1, %s) ;" % tuple(map(', '.join, zip(*[(c, v(c)) for c in random.sample(state_cols, 3)])))
    if k == 5:
        op = random.choice(['DELETE FROM raftlite_log WHERE idx %s %s;' % (random.choice(['=','>=','<=','>','<']), random.choice(vals[1:])),
                            "INSERT %s INTO raftlite_log VALUES (%s, %s, %s, %s);" % (random.choice(['', 'OR REPLACE', 'OR IGNORE']), random.choice(vals[1:]), random.choice(vals[1:]), random.choice(["'blank'","'normal'","'membership'"]), random.choice(["x''", "x'00'", "'[[1]]'", "'[[2]]'"]))])
        return op
    if k == 6:
        cols = random.sample(snap_cols, random.randint(1, 4))
        return "UPDATE %sraftlite_snapshot SET %s%s;" % (random.choice(['', 'OR REPLACE ']), ', '.join('%s = %s' % (c, v(c)) for c in cols), random.choice(['', ' WHERE snapshot_id IS NULL', ' WHERE is_current']))
    if k == 7:
        cols = random.sample(snap_cols[:-1], random.randint(1, 5))
        return "INSERT %s INTO raftlite_snapshot(%s) VALUES (%s);" % (random.choice(['', 'OR REPLACE', 'OR IGNORE']), ', '.join(cols), ', '.join(v(c) for c in cols))
    if k == 8:
        return random.choice(["INSERT INTO raftlite_snapshot_install SELECT id FROM raftlite_snapshot ORDER BY %s LIMIT 1;" % random.choice(['id', 'id DESC']),
                              "DELETE FROM raftlite_snapshot%s;" % random.choice(['', ' WHERE is_current', ' WHERE snapshot_id IS NULL']),
                              "DELETE FROM raftlite_snapshot_chunk WHERE seq = 1;" if SKIP_OPEN else
                              "INSERT OR REPLACE INTO raftlite_snapshot_chunk(snapshot, seq, data) VALUES (%s, %s, zeroblob(%s));" % (random.choice(['1','2','3']), random.choice(['0','1']), random.choice(['1','3','65536'])),
                              "UPDATE raftlite_snapshot_chunk SET %s;" % random.choice(['seq = seq + 1', 'data = x\'00\'', 'seq = 5' if SKIP_OPEN else 'snapshot = 2']),
                              "DELETE FROM raftlite_snapshot_chunk;"])
    if k == 9:
        return random.choice(["INSERT OR REPLACE INTO raftlite_hard_state VALUES (1, %s, %s);" % (v('x'), v('x')),
                              "UPDATE raftlite_hard_state SET current_term = %s, voted_for = %s;" % (v('x'), v('x')),
                              "DELETE FROM raftlite_hard_state;"])
    if k == 10:
        return random.choice(["SELECT raft_apply(%s);", "SELECT raft_purge(%s);", "SELECT raft_truncate(%s);", "SELECT raft_snapshot_build(%s);"]) % random.choice(vals[1:]) if random.random() < 0.8 else "SELECT raft_snapshot_build();"
    if random.random() < 0.5:
        return random.choice([
          "SELECT raft_append(%s, %s, 'blank', NULL);" % (random.choice(vals[1:]), random.choice(vals[1:])),
          "INSERT INTO raft_log VALUES (%s, %s, 'membership', '[[1,2]]');" % (random.choice(vals[1:]), random.choice(vals[1:])),
          "SELECT raft_save_hard_state(%s, %s);" % (random.choice(vals[1:]), v('x')),
          "SELECT raft_snapshot_install(%s, '{\"snapshot_id\":\"i%d\",\"last_log_id\":[%s,%s]%s}');" % (random.choice(['1','2']), random.randrange(100), random.choice(vals[1:]), random.choice(vals[1:]), random.choice(['', ',\"membership\":[[1]],\"membership_log_id\":[1,1]', ',\"membership\":[[1,2]],\"membership_log_id\":[1,1]', ',\"membership\":[[1]],\"membership_log_id\":[2,4]'])),
          "SELECT raft_purge(%s, %s);" % (random.choice(vals[1:]), random.choice(vals[1:])),
          "SELECT raft_snapshot_write(1, %s, zeroblob(%s));" % (random.choice(['0','65536','100']), random.choice(['1','65536','3'])),
        ])
    return random.choice(["BEGIN;", "COMMIT;", "SAVEPOINT a;", "ROLLBACK TO a;", "RELEASE a;", "PRAGMA recursive_triggers = 1;", "PRAGMA recursive_triggers = 0;"])


def main():
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    if len(args) != 3:
        sys.exit(__doc__)
    random.seed(int(args[0]))
    os.makedirs(args[2], exist_ok=True)
    for i in range(int(args[1])):
        s = [x for x in setups if random.random() < 0.6]
        s.sort(key=setups.index)
        s += [stmt() for _ in range(random.randint(1, 6))]
        with open(os.path.join(args[2], 'g%05d.sql' % i), 'w') as f:
            f.write('\n'.join(s) + '\n')


if __name__ == '__main__':
    main()
