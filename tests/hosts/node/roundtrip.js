// Node with better-sqlite3 12 as a host (issue 10): loadExtension(), then the
// round trip every host test makes on a file database — install, vote,
// declare a state machine, append (bound parameters and a JSON batch),
// apply, query, refused calls with their SqliteError code and the rule in
// the message, nothing changed, a reopen.
//
//   node tests/hosts/node/roundtrip.js MODULE    (in an empty directory)
//
// better-sqlite3 comes from tests/hosts/node/node_modules (made by
// tests/hosts/node/install); it carries its own SQLite, not the system's.
//
// better-sqlite3 binds every JS number as a REAL, and raftlite refuses
// reals (OutOfRange, never converted): terms, indexes and node ids are
// passed as BigInt (1n), as 2.3 below shows.
'use strict';
const fs = require('fs');
const path = require('path');
const { isDeepStrictEqual, inspect } = require('util');
const Database = require(path.join(__dirname, 'node_modules', 'better-sqlite3'));

const MODULE = process.argv[2];
let failures = 0;

function check(name, expected, actual) {
  if (isDeepStrictEqual(expected, actual)) {
    console.log('ok', name);
  } else {
    failures++;
    console.log(`FAIL ${name}\n--- expected\n${inspect(expected)}\n--- got\n${inspect(actual)}`);
  }
}

function connect() {
  const db = new Database('host.db');
  db.loadExtension(MODULE);
  db.pragma('synchronous = FULL');
  return db;
}

const one = (db, sql, ...params) => db.prepare(sql).pluck().get(...params);

// Everything raftlite and the state machine hold.
function dump(db) {
  return {
    log: db.prepare('SELECT idx, term, kind, payload FROM raft_log ORDER BY idx').all(),
    state: db.prepare('SELECT * FROM raft_state').all(),
    vote: db.prepare('SELECT * FROM raft_hard_state').all(),
    kv: db.prepare('SELECT * FROM kv ORDER BY k').all(),
  };
}

// A call refused with a SqliteError of this code and exactly this message,
// and the store and state machine unchanged.
function refused(name, db, sql, params, code, message) {
  const before = dump(db);
  try {
    db.prepare(sql).all(...params);
    check(name, 'thrown', 'returned');
  } catch (e) {
    check(name, ['SqliteError', code, message], [e.constructor.name, e.code, e.message]);
  }
  check(name + '.unchanged', before, dump(db));
  check(name + '.autocommit', false, db.inTransaction);
}

for (const f of ['host.db', 'host.db-wal', 'host.db-shm']) fs.rmSync(f, { force: true });
const bsPackage = require(path.join(__dirname, 'node_modules', 'better-sqlite3', 'package.json'));
let db = connect();
console.log(`host: Node ${process.version}, better-sqlite3 ${bsPackage.version}, ` +
            `SQLite ${one(db, 'SELECT sqlite_version()')}`);
check('0.better-sqlite3 12', '12', bsPackage.version.split('.')[0]);

// 1. The round trip.
check('1.0', 'wal', db.pragma('journal_mode = WAL', { simple: true }));
check('1.1', true, /^\d+\.\d+\.\d+$/.test(one(db, 'SELECT raft_version()')));
check('1.2', 4, one(db, 'SELECT raft_install()'));
check('1.3', 1, one(db, 'SELECT raft_save_hard_state(?, ?)', 1n, 1n));
check('1.4', [{ current_term: 1, voted_for: 1 }],
      db.prepare('SELECT current_term, voted_for FROM raft_hard_state').all());
db.exec('CREATE TABLE kv(k TEXT PRIMARY KEY, v)');
check('1.5', 1, one(db, 'SELECT raft_state_machine(?, ?)', '["kv"]',
  "INSERT OR REPLACE INTO kv VALUES (json_extract(:payload, '$.k'), json_extract(:payload, '$.v'))"));
check('1.6', 1, one(db, 'SELECT raft_append(?, ?, ?, ?)', 1n, 1n, 'membership', '[[1,2,3]]'));
check('1.7', 2, one(db, 'SELECT raft_append(?)', JSON.stringify([
  { idx: 2, term: 1, kind: 'normal', payload: { k: 'x', v: 1 } },
  { idx: 3, term: 1, kind: 'normal', payload: { k: 'y', v: 2 } },
])));
check('1.8', 3, one(db, 'SELECT raft_apply(?)', 3n));
check('1.9', [{ k: 'x', v: 1 }, { k: 'y', v: 2 }],
      db.prepare('SELECT k, v FROM kv ORDER BY k').all());
// A normal payload is bytes (a Buffer), whatever it was given as; a
// membership is text.
check('1.10', [
  { idx: 1, term: 1, kind: 'membership', payload: '[[1,2,3]]' },
  { idx: 2, term: 1, kind: 'normal', payload: Buffer.from('{"k":"x","v":1}') },
  { idx: 3, term: 1, kind: 'normal', payload: Buffer.from('{"k":"y","v":2}') },
], db.prepare('SELECT idx, term, kind, payload FROM raft_log').all());
check('1.11', [{ last_log_index: 3, last_applied_index: 3, membership: '[[1,2,3]]' }],
      db.prepare('SELECT last_log_index, last_applied_index, membership FROM raft_state').all());
// safeIntegers: ids read back as BigInt, exact up to 2^63-1.
check('1.12', 3n, db.prepare('SELECT last_applied_index FROM raft_state').pluck().safeIntegers().get());

// 2. Refused calls: e.code is the result code, the message names the rule.
refused('2.1', db, 'SELECT raft_append(?, ?, ?, ?)', [5n, 1n, 'normal', Buffer.from('skips 4')],
        'SQLITE_CONSTRAINT', 'raft_append: LogsNonConsecutive: last log id is 1-3, got 1-5');
refused('2.2', db, 'SELECT raft_save_hard_state(?, ?)', [1n, 2n], 'SQLITE_CONSTRAINT',
        'raft_save_hard_state: VotedForChanged: term 1 already has a vote for 1, got 2');
// A JS number is bound as a REAL: refused, never converted.
refused('2.3', db, 'SELECT raft_append(?, ?, ?, ?)', [4, 1, 'blank', null], 'SQLITE_RANGE',
        'raft_append: OutOfRange: idx must be an integer between 0 and 9223372036854775807, got 4.0');
refused('2.4', db, 'SELECT raft_append(?, ?, ?, ?)', [4n, 1n, 'other', null], 'SQLITE_MISMATCH',
        "raft_append: OutOfRange: kind must be 'blank', 'normal' or 'membership', got 'other'");
refused('2.5', db, 'SELECT raft_apply(?)', [9n], 'SQLITE_NOTFOUND',
        'raft_apply: LogIndexNotFound: no log entry at index 4');
db.pragma('synchronous = NORMAL');
refused('2.6', db, 'SELECT raft_append(?, ?, ?, ?)', [4n, 1n, 'blank', null], 'SQLITE_MISUSE',
        'raft_append: PRAGMA main.synchronous is NORMAL (1): a successful call would not be durable; use FULL or EXTRA');
db.pragma('synchronous = FULL');
// In db.transaction() a refused call throws out of the function, and the
// whole transaction, the application's own write included, rolls back.
const tx = db.transaction(() => {
  db.prepare("INSERT INTO kv VALUES ('z', 26)").run();
  db.prepare('SELECT raft_append(5, 1, ?, NULL)').get('blank');
});
const before = dump(db);
try {
  tx();
  check('2.7', 'thrown', 'returned');
} catch (e) {
  check('2.7', 'SQLITE_CONSTRAINT', e.code);
}
check('2.8', [before, false], [dump(db), db.inTransaction]);
check('2.9', 'ok', one(db, 'SELECT raft_check()'));
const state = dump(db);
db.close();

// 3. A new connection on the file: what was committed is there.
db = connect();
check('3.1', state, dump(db));
check('3.2', 1, one(db, "SELECT raft_append(4, 1, 'blank', NULL)"));
check('3.3', 4, one(db, 'SELECT raft_apply(4)'));
check('3.4', 'ok', one(db, 'SELECT raft_check()'));
db.close();

process.exit(failures ? 1 : 0);
