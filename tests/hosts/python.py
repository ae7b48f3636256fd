"""Debian's python3 sqlite3 module as a host (issue 10).

Loads the module with enable_load_extension/load_extension, then the round
trip every host test makes on a file database: install, vote, declare a
state machine, append (bound parameters and a JSON batch), apply, query,
refused calls raising the exception class SQLite's result code maps to,
with nothing changed, and a reopen.

    /usr/bin/python3 tests/hosts/python.py MODULE   (in an empty directory)

The classes are those of CPython's mapping of primary result codes
(Modules/_sqlite/util.c): SQLITE_CONSTRAINT and SQLITE_MISMATCH raise
IntegrityError, SQLITE_RANGE and SQLITE_MISUSE InterfaceError,
SQLITE_NOTFOUND InternalError. Python 3.11 adds sqlite_errorcode and
sqlite_errorname to the exception.
"""

import os
import re
import sqlite3
import sys

MODULE = sys.argv[1]
failures = 0


def check(name, expected, actual):
    global failures
    if expected == actual:
        print("ok", name)
    else:
        failures += 1
        print("FAIL %s\n--- expected\n%r\n--- got\n%r" % (name, expected, actual))


def connect():
    # isolation_level=None: autocommit, so that each raft_* call is its own
    # durable transaction. With the default, the module opens a transaction
    # before any INSERT/UPDATE/DELETE and raft_* calls made after one are
    # not durable until commit().
    db = sqlite3.connect("host.db", isolation_level=None)
    db.enable_load_extension(True)
    db.load_extension(MODULE)
    # Switched off again: SQL's load_extension() stays unavailable.
    db.enable_load_extension(False)
    db.execute("PRAGMA synchronous = FULL")
    return db


def one(db, sql, params=()):
    return db.execute(sql, params).fetchone()[0]


def dump(db):
    """Everything raftlite and the state machine hold."""
    return (
        db.execute("SELECT idx, term, kind, payload FROM raft_log ORDER BY idx").fetchall(),
        db.execute("SELECT * FROM raft_state").fetchall(),
        db.execute("SELECT * FROM raft_hard_state").fetchall(),
        db.execute("SELECT * FROM kv ORDER BY k").fetchall(),
    )


def refused(name, db, sql, params, exc_class, code_name, message):
    """A call refused with exc_class, the code and the exact message, and
    the store and state machine unchanged."""
    before = dump(db)
    try:
        db.execute(sql, params).fetchall()
        check(name, "raised " + exc_class.__name__, "returned")
    except sqlite3.Error as e:
        check(name, (exc_class.__name__, code_name, message),
              (type(e).__name__, e.sqlite_errorname, str(e)))
    check(name + ".unchanged", before, dump(db))
    check(name + ".autocommit", False, db.in_transaction)


for f in ("host.db", "host.db-wal", "host.db-shm"):
    if os.path.exists(f):
        os.remove(f)
print("host: Python %s, SQLite %s" % (sys.version.split()[0], sqlite3.sqlite_version))
check("0.enable_load_extension", True, hasattr(sqlite3.Connection, "enable_load_extension"))

# 1. The round trip.
db = connect()
check("1.0", "wal", one(db, "PRAGMA journal_mode = WAL"))
check("1.1", True, re.fullmatch(r"\d+\.\d+\.\d+", one(db, "SELECT raft_version()")) is not None)
check("1.2", 4, one(db, "SELECT raft_install()"))
check("1.3", 1, one(db, "SELECT raft_save_hard_state(?, ?)", (1, 1)))
check("1.4", [(1, 1)], db.execute("SELECT current_term, voted_for FROM raft_hard_state").fetchall())
db.execute("CREATE TABLE kv(k TEXT PRIMARY KEY, v)")
check("1.5", 1, one(db, "SELECT raft_state_machine(?, ?)", (
    '["kv"]',
    "INSERT OR REPLACE INTO kv VALUES "
    "(json_extract(:payload, '$.k'), json_extract(:payload, '$.v'))")))
check("1.6", 1, one(db, "SELECT raft_append(?, ?, ?, ?)", (1, 1, "membership", "[[1,2,3]]")))
check("1.7", 2, one(db, "SELECT raft_append(?)", (
    '[{"idx":2,"term":1,"kind":"normal","payload":{"k":"x","v":1}},'
    ' {"idx":3,"term":1,"kind":"normal","payload":{"k":"y","v":2}}]',)))
check("1.8", 3, one(db, "SELECT raft_apply(?)", (3,)))
check("1.9", [("x", 1), ("y", 2)], db.execute("SELECT k, v FROM kv ORDER BY k").fetchall())
# A normal payload is bytes, whatever it was given as; a membership is text.
check("1.10", [(1, 1, "membership", "[[1,2,3]]"),
               (2, 1, "normal", b'{"k":"x","v":1}'),
               (3, 1, "normal", b'{"k":"y","v":2}')],
      db.execute("SELECT idx, term, kind, payload FROM raft_log").fetchall())
check("1.11", [(3, 3, "[[1,2,3]]")], db.execute(
    "SELECT last_log_index, last_applied_index, membership FROM raft_state").fetchall())

# 2. Refused calls: the class SQLite's code maps to, the rule in the message.
refused("2.1", db, "SELECT raft_append(?, ?, ?, ?)", (5, 1, "normal", b"skips 4"),
        sqlite3.IntegrityError, "SQLITE_CONSTRAINT",
        "raft_append: LogsNonConsecutive: last log id is 1-3, got 1-5")
refused("2.2", db, "SELECT raft_save_hard_state(?, ?)", (1, 2),
        sqlite3.IntegrityError, "SQLITE_CONSTRAINT",
        "raft_save_hard_state: VotedForChanged: term 1 already has a vote for 1, got 2")
# A Python float is a REAL: refused, never converted.
refused("2.3", db, "SELECT raft_truncate(?)", (4.0,),
        sqlite3.InterfaceError, "SQLITE_RANGE",
        "raft_truncate: OutOfRange: index must be an integer between 0 and "
        "9223372036854775807, got 4.0")
refused("2.4", db, "SELECT raft_append(?, ?, ?, ?)", (4, 1, "other", None),
        sqlite3.IntegrityError, "SQLITE_MISMATCH",
        "raft_append: OutOfRange: kind must be 'blank', 'normal' or 'membership', got 'other'")
refused("2.5", db, "SELECT raft_apply(?)", (9,),
        sqlite3.InternalError, "SQLITE_NOTFOUND",
        "raft_apply: LogIndexNotFound: no log entry at index 4")
db.execute("PRAGMA synchronous = NORMAL")
refused("2.6", db, "SELECT raft_append(?, ?, ?, ?)", (4, 1, "blank", None),
        sqlite3.InterfaceError, "SQLITE_MISUSE",
        "raft_append: PRAGMA main.synchronous is NORMAL (1): a successful call "
        "would not be durable; use FULL or EXTRA")
db.execute("PRAGMA synchronous = FULL")
# Inside the caller's transaction a refused call rolls back its own
# savepoint only: the caller's earlier write stays, to commit or not.
db.execute("BEGIN")
db.execute("INSERT INTO kv VALUES ('z', 26)")
try:
    db.execute("SELECT raft_append(5, 1, 'blank', NULL)")
    check("2.7", "raised", "returned")
except sqlite3.IntegrityError as e:
    check("2.7", "raft_append: LogsNonConsecutive: last log id is 1-3, got 1-5", str(e))
check("2.8", (True, 1), (db.in_transaction, one(db, "SELECT count(*) FROM kv WHERE k = 'z'")))
db.execute("ROLLBACK")
check("2.9", "ok", one(db, "SELECT raft_check()"))
state = dump(db)
db.close()

# 3. A new connection on the file: what was committed is there.
db = connect()
check("3.1", state, dump(db))
check("3.2", 1, one(db, "SELECT raft_append(4, 1, 'blank', NULL)"))
check("3.3", 4, one(db, "SELECT raft_apply(4)"))
check("3.4", "ok", one(db, "SELECT raft_check()"))
db.close()

sys.exit(1 if failures else 0)
