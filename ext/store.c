/*
** store.c — RlStore: one raftlite store, that is one schema of one
** connection, and the machinery every operation shares: its statements,
** its savepoint, the durability check (docs/contract.md §5) and its last
** error.
**
** The SQL functions make an RlStore per call (statements prepared for the
** call and finalized after it: a statement kept in function user data
** would make sqlite3_close() fail with SQLITE_BUSY). The raft_log vtab and
** the C API keep theirs, with persistent statements, until they close.
*/
#include "raftlite_int.h"

#include <string.h>

/* The statements, with $S standing for the quoted schema name. An UPDATE
** of the state row names it (WHERE id = 1): without a WHERE, SQLite
** collects the rows to update in an ephemeral table first, the triggers
** being there. */
static const char *const azStmtSql[RL_STMT_COUNT] = {
    /* A name an application is unlikely to use for its own savepoints. */
    [RL_STMT_SAVEPOINT] = "SAVEPOINT raftlite_call",
    [RL_STMT_RELEASE] = "RELEASE raftlite_call",
    [RL_STMT_ROLLBACK_TO] = "ROLLBACK TO raftlite_call",
    [RL_STMT_ROLLBACK] = "ROLLBACK",
    [RL_STMT_BEGIN] = "BEGIN IMMEDIATE",
    [RL_STMT_COMMIT] = "COMMIT",
    [RL_STMT_IGNORE_CHECKS] = "PRAGMA ignore_check_constraints",
    [RL_STMT_JOURNAL_MODE] = "PRAGMA $S.journal_mode",
    [RL_STMT_SYNCHRONOUS] = "PRAGMA $S.synchronous",
    /* The first present entry is the first segment's first entry above
    ** last_purged; the last is the last segment's last. Scalar subqueries:
    ** a subquery in FROM with LIMIT would be an ephemeral table. */
    [RL_STMT_READ_STATE] =
        "SELECT s.purged_term, s.purged_index, s.applied_term,"
        " s.applied_index, s.membership_term, s.membership_index,"
        " (SELECT term FROM $S.raftlite_segment ORDER BY first_index DESC LIMIT 1),"
        " (SELECT last_index FROM $S.raftlite_segment ORDER BY first_index DESC LIMIT 1),"
        " (SELECT term FROM $S.raftlite_segment ORDER BY first_index LIMIT 1),"
        " (SELECT max(first_index, coalesce(s.purged_index, -1) + 1)"
        "  FROM $S.raftlite_segment ORDER BY first_index LIMIT 1)"
        " FROM $S.raftlite_state AS s",
    /* The present entry at ?1: its segment's term and kind. */
    [RL_STMT_READ_ENTRY] =
        "SELECT g.term, g.kind FROM $S.raftlite_segment AS g"
        " WHERE g.first_index = (SELECT first_index FROM $S.raftlite_segment"
        "  WHERE first_index <= ?1 ORDER BY first_index DESC LIMIT 1)"
        " AND g.last_index >= ?1"
        " AND ?1 > (SELECT coalesce(purged_index, -1) FROM $S.raftlite_state)",
    /* The first segment above ?1 (error messages only). */
    [RL_STMT_READ_ABOVE] =
        "SELECT term, first_index FROM $S.raftlite_segment WHERE first_index > ?1"
        " ORDER BY first_index LIMIT 1",
    [RL_STMT_READ_SEGMENTS] = RL_SQL_READ_SEGMENTS(""),
    /* raft_append()'s JSON batch: a row per key of each element (an
    ** element that is not an object: one row, its keys NULL, for the
    ** message). Anything but a JSON array is taken as one element; text
    ** that is not RFC 8259 JSON makes json_each() fail. Column 4: a NULL
    ** to copy for absent keys. */
    [RL_STMT_JSON_ENTRIES] =
        "SELECT e.key, e.type, f.key, f.value, NULL"
        " FROM json_each(CASE WHEN NOT json_valid(?1) THEN 'not RFC 8259 JSON'"
        "  WHEN json_type(?1) = 'array' THEN ?1 ELSE json_array(json(?1)) END) AS e"
        " LEFT JOIN json_each(CASE WHEN e.type = 'object' THEN e.value ELSE '{}' END) AS f",
    [RL_STMT_INSERT_SEGMENT] =
        "INSERT INTO $S.raftlite_segment(first_index, last_index, term, kind,"
        " payloads, ends)"
        /* json() canonicalises; from SQLite 3.42 it also takes JSON5, so
        ** only strict JSON (json_valid) is canonicalised and anything else
        ** goes to the triggers as given, to be refused. A membership's one
        ** end offset is the length of what is stored. */
        " VALUES (?1, ?2, ?3, ?4, CASE WHEN ?4 = 'membership' AND json_valid(?5)"
        " THEN json(?5) ELSE ?5 END, CASE WHEN ?4 = 'membership'"
        " THEN CAST(printf('%010d', length(CAST(CASE WHEN json_valid(?5)"
        " THEN json(?5) ELSE ?5 END AS BLOB))) AS BLOB) ELSE ?6 END)",
    [RL_STMT_SET_PURGED] =
        "UPDATE $S.raftlite_state SET purged_term = ?1, purged_index = ?2"
        " WHERE id = 1",
    [RL_STMT_TRUNCATE] =
        "UPDATE $S.raftlite_state SET truncate_from = ?1 WHERE id = 1",
    [RL_STMT_SET_APPLIED] =
        "UPDATE $S.raftlite_state SET applied_term = ?1, applied_index = ?2"
        " WHERE id = 1",
    [RL_STMT_SET_APPLIED_MEMBERSHIP] =
        /* The log's own text when it holds the entry (the state trigger
        ** compares them), else the canonical form of the one given. */
        "UPDATE $S.raftlite_state SET applied_term = ?1, applied_index = ?2,"
        " membership_term = ?1, membership_index = ?2, membership = coalesce("
        "(SELECT payloads FROM $S.raftlite_segment WHERE first_index = ?2"
        " AND term = ?1 AND kind = 'membership'),"
        " CASE WHEN json_valid(?3) THEN json(?3) ELSE ?3 END) WHERE id = 1",
    [RL_STMT_READ_APPLIED] =
        "SELECT applied_term, applied_index, membership_term,"
        " membership_index, membership FROM $S.raftlite_state",
    [RL_STMT_READ_LOG_MEMBERSHIP] =
        "SELECT term, first_index, payloads FROM $S.raftlite_segment"
        " WHERE kind = 'membership' AND first_index > ?1"
        " ORDER BY first_index DESC LIMIT 1",
    [RL_STMT_READ_HARD_STATE] =
        "SELECT current_term, voted_for FROM $S.raftlite_hard_state",
    [RL_STMT_SAVE_HARD_STATE] =
        "INSERT INTO $S.raftlite_hard_state(id, current_term, voted_for)"
        " VALUES (1, ?1, ?2) ON CONFLICT(id) DO UPDATE"
        " SET current_term = excluded.current_term,"
        " voted_for = excluded.voted_for",
    [RL_STMT_CHUNK_ROWID] =
        "SELECT id FROM $S.raftlite_snapshot_chunk"
        " WHERE snapshot = ?1 AND seq = ?2",
    [RL_STMT_CHUNK_INSERT] =
        "INSERT INTO $S.raftlite_snapshot_chunk(snapshot, seq, data)"
        " VALUES (?1, ?2, ?3)",
    [RL_STMT_SNAPSHOT_NEW] = "INSERT INTO $S.raftlite_snapshot DEFAULT VALUES",
    [RL_STMT_SNAPSHOT_SET_SIZE] =
        "UPDATE $S.raftlite_snapshot SET size = ?1 WHERE id = ?2",
    /* ?1 = 0: the current snapshot; otherwise row ?1 */
    [RL_STMT_SNAPSHOT_META] =
        "SELECT id, snapshot_id, last_term, last_index, membership_term,"
        " membership_index, membership, size FROM $S.raftlite_snapshot"
        " WHERE CASE ?1 WHEN 0 THEN is_current = 1 ELSE id = ?1 END",
    [RL_STMT_SNAPSHOT_MAKE_CURRENT] =
        "UPDATE $S.raftlite_snapshot SET snapshot_id = ?1, last_term = ?2,"
        " last_index = ?3, membership_term = ?4, membership_index = ?5,"
        " membership = CASE WHEN json_valid(?6) THEN json(?6) ELSE ?6 END,"
        " is_current = ?8 WHERE id = ?7",
    [RL_STMT_SCHEMA_VERSION] = "PRAGMA $S.schema_version",
    [RL_STMT_SM_APPLY_SQL] = "SELECT apply_sql FROM $S.raftlite_sm",
    [RL_STMT_TEMP_SCHEMA_VERSION] = "PRAGMA temp.schema_version",
    /* The install trigger moves last_applied and the applied membership
    ** to the snapshot's meta (sql/006_snapshot.sql). */
    [RL_STMT_SNAPSHOT_INSTALL] =
        "INSERT INTO $S.raftlite_snapshot_install(snapshot) VALUES (?1)",
};

int rlStoreInit(RlStore *p, sqlite3 *db, const char *zSchema, int bPersistent) {
  memset(p, 0, sizeof(*p));
  p->db = db;
  p->bPersistent = bPersistent;
  p->zSchema = sqlite3_mprintf("%s", zSchema ? zSchema : "main");
  return p->zSchema ? SQLITE_OK : SQLITE_NOMEM;
}

void rlStoreClear(RlStore *p) {
  for (int i = 0; i < RL_STMT_COUNT; i++) sqlite3_finalize(p->aStmt[i]);
  sqlite3_finalize(p->pSmApply);
  sqlite3_free(p->zSmApply);
  sqlite3_free(p->aRunPayloads);
  sqlite3_free(p->aRunEnds);
  sqlite3_free(p->zSchema);
  sqlite3_free(p->zErrMsg);
  memset(p, 0, sizeof(*p));
}

void rlResetError(RlStore *p) {
  sqlite3_free(p->zErrMsg);
  p->zErrMsg = NULL;
  p->eKind = RAFTLITE_NO_VIOLATION;
}

int rlFail(RlStore *p, RlMsg eMsg, ...) {
  rlResetError(p);
  va_list ap;
  va_start(ap, eMsg);
  int rc = rlMessageV(eMsg, &p->eKind, &p->zErrMsg, ap);
  va_end(ap);
  return p->zErrMsg ? rc : SQLITE_NOMEM;
}

int rlIsResourceError(int rc) {
  switch (rc & 0xff) {
    case SQLITE_NOMEM: case SQLITE_IOERR: case SQLITE_FULL: case SQLITE_BUSY:
    case SQLITE_LOCKED: case SQLITE_INTERRUPT: case SQLITE_CANTOPEN:
      return 1;
  }
  return 0;
}

int rlFailOwned(RlStore *p, int rc, raftlite_violation_kind eKind, char *zMsg) {
  rlResetError(p);
  if (zMsg == NULL) return SQLITE_NOMEM;
  p->zErrMsg = zMsg;
  p->eKind = eKind;
  return rc;
}

/* A trigger's RAISE text ("raft_log: DirtyLog") becomes the kind; any other
** error keeps the connection's message. A missing backing table means the
** store was never installed in this schema, and so does a missing state
** row (the append's trigger finds none), which raft_install puts back. */
int rlFailSqlite(RlStore *p, int rc) {
  const char *zMsg = sqlite3_errmsg(p->db);
  if (rc == SQLITE_NOMEM) {
    rlResetError(p);
    return rc;
  }
  if ((strstr(zMsg, "no such table: ") && strstr(zMsg, ".raftlite_")) ||
      strcmp(zMsg, "raft_log: StateMissing") == 0) {
    return rlFail(p, RL_MSG_NOT_INSTALLED, p->zSchema, p->zSchema);
  }
  rlResetError(p);
  p->eKind = (sqlite3_extended_errcode(p->db) == SQLITE_CONSTRAINT_TRIGGER)
                 ? rlViolationFromRaise(zMsg)
                 : RAFTLITE_NO_VIOLATION;
  p->zErrMsg = sqlite3_mprintf("%s", zMsg);
  return p->zErrMsg ? rc : SQLITE_NOMEM;
}

char *rlExpandSchema(const char *zTemplate, const char *zSchema) {
  char *zQuoted = sqlite3_mprintf("\"%w\"", zSchema);
  if (zQuoted == NULL) return NULL;
  sqlite3_str *pOut = sqlite3_str_new(NULL);
  for (const char *z = zTemplate; *z; z++) {
    if (z[0] == '$' && z[1] == 'S') {
      sqlite3_str_appendall(pOut, zQuoted);
      z++;
    } else {
      sqlite3_str_appendchar(pOut, 1, *z);
    }
  }
  sqlite3_free(zQuoted);
  return sqlite3_str_finish(pOut);
}

int rlCheckInCall(RlStore *p) {
  /* Inside a call the savepoint keeps a transaction open. SQLite ends it
  ** by itself after some errors (out of memory, disk full); a statement
  ** run after that would commit on its own, outside the call's
  ** atomicity. */
  if (p->nDepth > 0 && !p->bInWritingStatement && sqlite3_get_autocommit(p->db)) {
    return rlFail(p, RL_MSG_TXN_LOST);
  }
  return SQLITE_OK;
}

sqlite3_stmt *rlStmt(RlStore *p, RlStmtId eId) {
  p->rcStmt = rlCheckInCall(p);
  if (p->rcStmt != SQLITE_OK) return NULL;
  sqlite3_stmt *pStmt = p->aStmt[eId];
  if (pStmt) {
    sqlite3_reset(pStmt);
    sqlite3_clear_bindings(pStmt);
    return pStmt;
  }
  char *zSql = rlExpandSchema(azStmtSql[eId], p->zSchema);
  if (zSql == NULL) {
    rlResetError(p);
    p->rcStmt = SQLITE_NOMEM;
    return NULL;
  }
  /* Not SQLITE_PREPARE_NO_VTAB: the triggers these statements fire use
  ** json_each(), itself a virtual table. */
  unsigned int flags = p->bPersistent ? SQLITE_PREPARE_PERSISTENT : 0;
  int rc = sqlite3_prepare_v3(p->db, zSql, -1, flags, &pStmt, NULL);
  sqlite3_free(zSql);
  if (rc != SQLITE_OK) {
    p->rcStmt = rlFailSqlite(p, rc);
    return NULL;
  }
  p->aStmt[eId] = pStmt;
  return pStmt;
}

/* Steps a statement that returns no row (or whose rows are not needed). */
static int runStmt(RlStore *p, RlStmtId eId) {
  sqlite3_stmt *pStmt = rlStmt(p, eId);
  if (pStmt == NULL) return p->rcStmt;
  int rc = sqlite3_step(pStmt);
  if (rc == SQLITE_ROW || rc == SQLITE_DONE) rc = SQLITE_OK;
  if (rc != SQLITE_OK) rc = rlFailSqlite(p, sqlite3_reset(pStmt));
  sqlite3_reset(pStmt);
  return rc;
}

/* The schema's journal mode, upper-cased ("WAL"), into zOut[16]. */
static int journalMode(RlStore *p, char *zOut) {
  sqlite3_stmt *pStmt = rlStmt(p, RL_STMT_JOURNAL_MODE);
  if (pStmt == NULL) return p->rcStmt;
  zOut[0] = 0;
  if (sqlite3_step(pStmt) == SQLITE_ROW) {
    const char *zMode = (const char *)sqlite3_column_text(pStmt, 0);
    int i = 0;
    for (; zMode && zMode[i] && i < 15; i++) {
      zOut[i] = (zMode[i] >= 'a' && zMode[i] <= 'z') ? zMode[i] - 'a' + 'A' : zMode[i];
    }
    zOut[i] = 0;
  }
  int rc = sqlite3_reset(pStmt);
  return rc == SQLITE_OK ? rc : rlFailSqlite(p, rc);
}

/* contract §5. Every store needs a journal: without one a failed call could
** not be rolled back. A file-backed schema also needs a journal that
** survives a crash (not MEMORY) and synchronous FULL or EXTRA, unless the
** store is relaxed. In-memory and temp schemas are otherwise accepted as
** they are. */
static int checkDurable(RlStore *p) {
  const char *zFile = sqlite3_db_filename(p->db, p->zSchema);
  int bTemp = sqlite3_stricmp(p->zSchema, "temp") == 0;
  if (zFile == NULL && !bTemp) return rlFail(p, RL_MSG_NO_SCHEMA, p->zSchema);
  char zMode[16];
  int rc = journalMode(p, zMode);
  if (rc != SQLITE_OK) return rc;
  if (strcmp(zMode, "OFF") == 0) {
    return rlFail(p, RL_MSG_NOT_ATOMIC_JOURNAL, p->zSchema);
  }
  if (p->bRelaxed || bTemp || zFile == NULL || zFile[0] == 0) return SQLITE_OK;
  if (strcmp(zMode, "MEMORY") == 0) {
    return rlFail(p, RL_MSG_NOT_DURABLE_JOURNAL, p->zSchema, zMode);
  }
  sqlite3_stmt *pStmt = rlStmt(p, RL_STMT_SYNCHRONOUS);
  if (pStmt == NULL) return p->rcStmt;
  if (sqlite3_step(pStmt) == SQLITE_ROW) {
    int iSync = sqlite3_column_int(pStmt, 0);
    if (iSync < 2) {
      static const char *const azSync[] = {"OFF (0)", "NORMAL (1)"};
      rc = rlFail(p, RL_MSG_NOT_DURABLE_SYNC, p->zSchema, azSync[iSync == 1]);
    } else if (iSync == 2 && strcmp(zMode, "DELETE") == 0) {
      /* FULL syncs the journal and the database, but not the directory
      ** after the journal's unlink: a power cut can bring the journal back,
      ** and the next open rolls the acknowledged commit back (found by the
      ** power-loss test). EXTRA syncs the directory too. */
      rc = rlFail(p, RL_MSG_NOT_DURABLE_DELETE, p->zSchema);
    }
  }
  int rcReset = sqlite3_reset(pStmt);
  if (rc == SQLITE_OK && rcReset != SQLITE_OK) rc = rlFailSqlite(p, rcReset);
  return rc;
}

/* PRAGMA ignore_check_constraints: the rules include CHECKs (kinds,
** ranges, payload types), so writing with them off is writing unguarded. */
static int checkConstraintsOn(RlStore *p) {
  sqlite3_stmt *pStmt = rlStmt(p, RL_STMT_IGNORE_CHECKS);
  if (pStmt == NULL) return p->rcStmt;
  int bIgnored = sqlite3_step(pStmt) == SQLITE_ROW && sqlite3_column_int(pStmt, 0);
  int rc = sqlite3_reset(pStmt);
  if (rc != SQLITE_OK) return rlFailSqlite(p, rc);
  return bIgnored ? rlFail(p, RL_MSG_CHECKS_OFF) : SQLITE_OK;
}

/* The rules live in triggers and CHECKs: refuse to write where they are
** off. */
static int checkRulesOn(RlStore *p) {
  int bTriggers = 1;
  sqlite3_db_config(p->db, SQLITE_DBCONFIG_ENABLE_TRIGGER, -1, &bTriggers);
  if (!bTriggers) return rlFail(p, RL_MSG_TRIGGERS_OFF);
  return checkConstraintsOn(p);
}

int rlCheckWritable(RlStore *p) {
  int rc = checkRulesOn(p);
  if (rc == SQLITE_OK) rc = checkDurable(p);
  return rc;
}

/* rlCheckWritable for a call: the durability PRAGMAs run only when the
** schema's file, opened through the "raftlite" VFS, says its settings may
** have changed since they last passed (vfs_watch.c). */
static int checkWritableForCall(RlStore *p) {
  int rc = checkRulesOn(p);
  if (rc != SQLITE_OK) return rc;
  sqlite3_uint64 iEpoch = 0;
  int bWatched = rlSettingsEpoch(p->db, p->zSchema, &iEpoch);
  if (bWatched && p->bDurableAtEpoch && iEpoch == p->iDurableEpoch) return SQLITE_OK;
  p->bDurableAtEpoch = 0;
  rc = checkDurable(p);
  if (rc == SQLITE_OK && bWatched) {
    p->bDurableAtEpoch = 1;
    p->iDurableEpoch = iEpoch;
  }
  return rc;
}

/* Whether a statement of the connection is part-way through a write
** (INSERT ... SELECT raft_append(...)): a transaction begun inside it
** would swallow the statement's own autocommit. */
static int writingStatementInProgress(sqlite3 *db) {
  /* A statement that has begun writing holds a write transaction: without
  ** one anywhere, the walk over every statement is not needed. */
  if (sqlite3_txn_state(db, NULL) != SQLITE_TXN_WRITE) return 0;
  for (sqlite3_stmt *pStmt = sqlite3_next_stmt(db, NULL); pStmt;
       pStmt = sqlite3_next_stmt(db, pStmt)) {
    if (sqlite3_stmt_busy(pStmt) && !sqlite3_stmt_readonly(pStmt)) return 1;
  }
  return 0;
}

int rlBegin(RlStore *p) {
  rlResetError(p);
  /* An operation called by another (install's purge, open's install) runs
  ** in the outer one's savepoint: a failure travels up and the outermost
  ** level undoes everything at once. A nested ROLLBACK TO would be one
  ** more statement that can fail, and rolling back DDL expires every
  ** prepared statement, the store's own ROLLBACK included. */
  if (p->nDepth > 0) {
    p->nDepth++;
    return SQLITE_OK;
  }
  if (p->bBroken) return rlFail(p, RL_MSG_BROKEN);
  int rc = checkWritableForCall(p);
  if (rc != SQLITE_OK || p->bInWritingStatement) return rc;
  /* rlEnd's statements are prepared before the transaction opens: a
  ** failure must never find itself unable to roll back (out of memory,
  ** say). */
  static const RlStmtId aEnd[] = {RL_STMT_RELEASE, RL_STMT_ROLLBACK_TO, RL_STMT_ROLLBACK,
                                  RL_STMT_COMMIT};
  for (size_t i = 0; i < sizeof(aEnd) / sizeof(aEnd[0]); i++) {
    /* Only prepared here: rlStmt resets a statement again before it runs. */
    if (p->aStmt[aEnd[i]] == NULL && rlStmt(p, aEnd[i]) == NULL) return p->rcStmt;
  }
  int bOuter = sqlite3_get_autocommit(p->db);
  if (bOuter) {
    /* A call that opens the transaction takes the write lock first (BEGIN
    ** IMMEDIATE, which waits in the busy handler). A deferred transaction
    ** reads first, and SQLite does not run the busy handler when a reader
    ** must become a writer: the call would fail with SQLITE_BUSY at once
    ** whenever another connection writes or checkpoints. */
    if (writingStatementInProgress(p->db)) return rlFail(p, RL_MSG_WRITING_STATEMENT);
    sqlite3_stmt *pBegin = rlStmt(p, RL_STMT_BEGIN);
    if (pBegin == NULL) return p->rcStmt;
    sqlite3_step(pBegin);
    rc = sqlite3_reset(pBegin);
    if (rc != SQLITE_OK) return rlFailSqlite(p, rc);
    p->bOuterTxn = 1;
    p->nDepth = 1;
    return SQLITE_OK;
  }
  sqlite3_stmt *pStmt = rlStmt(p, RL_STMT_SAVEPOINT);
  if (pStmt == NULL) return p->rcStmt;
  rc = sqlite3_step(pStmt);
  if (rc == SQLITE_DONE) {
    p->bOuterTxn = 0;
    p->nDepth = 1;
    return SQLITE_OK;
  }
  /* A savepoint cannot open while a statement of this connection is
  ** writing: INSERT ... SELECT raft_append(...). Refuse it whole rather
  ** than run without atomicity. */
  rc = sqlite3_reset(pStmt);
  if (strstr(sqlite3_errmsg(p->db), "statements in progress")) {
    return rlFail(p, RL_MSG_WRITING_STATEMENT);
  }
  return rlFailSqlite(p, rc);
}

/* Ends the call's transaction or savepoint. On success the transaction the
** call opened is committed, or its savepoint released inside the caller's
** transaction. On any failure, commit included, the
** connection is put back exactly as the call found it: a transaction the
** call opened is rolled back whole (a failed COMMIT leaves it open, and a
** RELEASE after ROLLBACK TO would try to commit again), and inside the
** caller's transaction only the call's savepoint is undone. */
int rlEnd(RlStore *p, int rc) {
  if (p->bInWritingStatement) return rc;
  if (p->nDepth == 0) return rc; /* rlBegin failed: nothing to end */
  if (--p->nDepth > 0) return rc; /* nested: the outermost level ends it */
  if (rc == SQLITE_OK && sqlite3_get_autocommit(p->db)) rc = rlFail(p, RL_MSG_TXN_LOST);
  if (rc == SQLITE_OK) {
    rc = runStmt(p, p->bOuterTxn ? RL_STMT_COMMIT : RL_STMT_RELEASE);
    if (rc == SQLITE_OK) return SQLITE_OK;
    /* contract §5: after a failed commit or sync, never retry: whether the
    ** data reached the disk is unknown until the database is reopened. */
    if ((rc & 0xff) == SQLITE_IOERR) p->bBroken = 1;
  }
  /* Keep the first error through the clean-up. */
  char *zErr = p->zErrMsg;
  raftlite_violation_kind eKind = p->eKind;
  p->zErrMsg = NULL;
  if (p->bOuterTxn) {
    /* SQLite may already have rolled back (out of memory, some I/O
    ** errors): then there is nothing left to end. */
    /* A ROLLBACK that had to be prepared again (rolling back DDL expires
    ** every statement) may meet a passing allocation failure: retry. */
    for (int i = 0; i < 3 && !sqlite3_get_autocommit(p->db); i++) {
      runStmt(p, RL_STMT_ROLLBACK);
    }
  } else if (runStmt(p, RL_STMT_ROLLBACK_TO) == SQLITE_OK) {
    runStmt(p, RL_STMT_RELEASE);
  } else if (!sqlite3_get_autocommit(p->db)) {
    /* Never RELEASE after a failed ROLLBACK TO: that would keep the
    ** half-done call in the caller's transaction. Losing the caller's
    ** transaction is the lesser harm; the error says the call failed. */
    runStmt(p, RL_STMT_ROLLBACK);
  }
  rlResetError(p);
  p->zErrMsg = zErr;
  p->eKind = eKind;
  return rc;
}

static void columnLogId(sqlite3_stmt *pStmt, int iCol, RlLogId *pId) {
  pId->has = sqlite3_column_type(pStmt, iCol + 1) != SQLITE_NULL;
  pId->term = sqlite3_column_int64(pStmt, iCol);
  pId->index = sqlite3_column_int64(pStmt, iCol + 1);
}

/* Steps a statement over the state row: SQLITE_ROW, or the refusal of a
** store without one (or SQLite's error), recorded on p. */
static int stepStateRow(RlStore *p, sqlite3_stmt *pStmt) {
  int rc = sqlite3_step(pStmt);
  if (rc == SQLITE_ROW) return rc;
  if (rc == SQLITE_DONE) return rlFail(p, RL_MSG_NOT_INSTALLED, p->zSchema, p->zSchema);
  return rlFailSqlite(p, sqlite3_reset(pStmt));
}

int rlReadState(RlStore *p, RlState *pState) {
  memset(pState, 0, sizeof(*pState));
  sqlite3_stmt *pStmt = rlStmt(p, RL_STMT_READ_STATE);
  if (pStmt == NULL) return p->rcStmt;
  int rc = stepStateRow(p, pStmt);
  if (rc == SQLITE_ROW) {
    columnLogId(pStmt, 0, &pState->purged);
    columnLogId(pStmt, 2, &pState->applied);
    columnLogId(pStmt, 4, &pState->membership);
    columnLogId(pStmt, 6, &pState->last);
    columnLogId(pStmt, 8, &pState->first);
    rc = SQLITE_OK;
  }
  sqlite3_reset(pStmt);
  if (rc == SQLITE_OK && !pState->last.has) pState->last = pState->purged;
  return rc;
}

/* A copy of n bytes plus a NUL, so that JSON text can be used as a string;
** NULL for n == 0 (documented: data may be NULL when size is 0). */
int rlCopyBytes(const void *pData, size_t n, void **ppOut) {
  *ppOut = NULL;
  if (n == 0) return SQLITE_OK;
  char *z = sqlite3_malloc64(n + 1);
  if (z == NULL) return SQLITE_NOMEM;
  memcpy(z, pData, n);
  z[n] = 0;
  *ppOut = z;
  return SQLITE_OK;
}

void rlAppliedStateFree(raftlite_applied_state *s) {
  if (s == NULL) return;
  sqlite3_free(s->membership_json);
  memset(s, 0, sizeof(*s));
}

int rlReadApplied(RlStore *p, raftlite_applied_state *out) {
  memset(out, 0, sizeof(*out));
  sqlite3_stmt *pStmt = rlStmt(p, RL_STMT_READ_APPLIED);
  if (pStmt == NULL) return p->rcStmt;
  int rc = SQLITE_OK;
  if (sqlite3_step(pStmt) == SQLITE_ROW) {
    out->has_applied = sqlite3_column_type(pStmt, 1) != SQLITE_NULL;
    out->last_applied.term = (uint64_t)sqlite3_column_int64(pStmt, 0);
    out->last_applied.index = (uint64_t)sqlite3_column_int64(pStmt, 1);
    if (sqlite3_column_type(pStmt, 4) != SQLITE_NULL) {
      out->has_membership = 1;
      out->membership_log_id.term = (uint64_t)sqlite3_column_int64(pStmt, 2);
      out->membership_log_id.index = (uint64_t)sqlite3_column_int64(pStmt, 3);
      rc = rlCopyBytes(sqlite3_column_text(pStmt, 4),
                     (size_t)sqlite3_column_bytes(pStmt, 4),
                     (void **)&out->membership_json);
    }
  }
  int rcReset = sqlite3_reset(pStmt);
  if (rc == SQLITE_OK && rcReset != SQLITE_OK) rc = rlFailSqlite(p, rcReset);
  if (rc != SQLITE_OK) rlAppliedStateFree(out);
  return rc;
}

