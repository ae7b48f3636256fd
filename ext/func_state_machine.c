/*
** func_state_machine.c — the state machine and its snapshots from SQL.
**
**     SELECT raft_state_machine('["kv"]',
**       'INSERT OR REPLACE INTO kv VALUES (json_extract(:payload, ''$.k''),
**                                          json_extract(:payload, ''$.v''))');
**     SELECT raft_snapshot_build();                -- '3-42-7', now current
**     SELECT raft_snapshot_read(0, 65536);         -- its first bytes
**     SELECT raft_snapshot_begin();                -- 8: a receiving stream
**     SELECT raft_snapshot_write(8, 0, x'53514c...');
**     SELECT raft_snapshot_install(8, '{"snapshot_id": "3-42-7",
**              "last_log_id": [3, 42], "membership": [[1,2,3]],
**              "membership_log_id": [1, 1]}');       -- 42
**
** raft_state_machine(tables, apply_sql [, schema]) declares the state
** machine (sm_sql.c): tables is a JSON array of table names (or one name);
** apply_sql runs once per normal entry with :index, :term, :payload and
** :payload_blob. NULL apply_sql removes the statement; NULL tables too
** removes the declaration. Returns the number of tables declared.
** raft_snapshot_build([schema]) builds a snapshot as of last_applied and
** returns its snapshot_id. raft_snapshot_read(offset, length [, schema])
** returns up to length bytes of the current snapshot from offset (NULL
** when there is none). raft_snapshot_begin([schema]) starts receiving a
** snapshot and returns the stream's id; raft_snapshot_write(stream,
** offset, bytes [, schema]) writes into it; raft_snapshot_install(stream,
** meta [, schema]) installs it (docs/contract.md §2 install_snapshot) and
** returns the new last_applied index. All are DIRECTONLY: every one but
** raft_snapshot_read writes, and that one is an operator's tool with no
** business in a view or trigger of someone else's schema.
*/
#include "raftlite_int.h"

#include <stdio.h>
#include <string.h>

/* ---- raft_state_machine -------------------------------------------- */

typedef struct DeclareArgs {
  const char *zTables; /* JSON array, or NULL */
  const char *zApply;
  char *zOwned; /* a single name turned into a JSON array */
} DeclareArgs;

static int declareOp(RlStore *p, void *pArg, i64 *piResult) {
  DeclareArgs *a = pArg;
  return rlSmDeclare(p, a->zTables, a->zApply, piResult);
}

static void stateMachineFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  DeclareArgs a = {NULL, NULL, NULL};
  int eTables = sqlite3_value_type(argv[0]), eApply = sqlite3_value_type(argv[1]);
  if ((eTables != SQLITE_TEXT && eTables != SQLITE_NULL) ||
      (eApply != SQLITE_TEXT && eApply != SQLITE_NULL)) {
    sqlite3_result_error(ctx, "raft_state_machine: tables must be a JSON array of names "
                              "(or one name) and apply_sql text, or NULL", -1);
    sqlite3_result_error_code(ctx, SQLITE_MISMATCH);
    return;
  }
  /* Out of memory is reported as such, never read as a NULL argument
  ** (which would drop the statement or the whole declaration). */
  if (eTables == SQLITE_TEXT) {
    a.zTables = (const char *)sqlite3_value_text(argv[0]);
    if (a.zTables == NULL) {
      sqlite3_result_error_nomem(ctx);
      return;
    }
    if (a.zTables[0] != '[') {
      a.zOwned = sqlite3_mprintf("[\"%w\"]", a.zTables);
      if (a.zOwned == NULL) {
        sqlite3_result_error_nomem(ctx);
        return;
      }
      a.zTables = a.zOwned;
    }
  }
  if (eApply == SQLITE_TEXT) {
    a.zApply = (const char *)sqlite3_value_text(argv[1]);
    if (a.zApply == NULL) {
      sqlite3_free(a.zOwned);
      sqlite3_result_error_nomem(ctx);
      return;
    }
  }
  if (a.zTables == NULL && a.zApply != NULL) {
    sqlite3_result_error(ctx, "raft_state_machine: tables must be a JSON array of names", -1);
    sqlite3_free(a.zOwned);
    return;
  }
  rlFuncRun(ctx, "raft_state_machine", argc, argv, 2, declareOp, &a);
  sqlite3_free(a.zOwned);
}

/* ---- snapshots ------------------------------------------------------ */

typedef struct SnapshotArgs {
  sqlite3_context *ctx;
  sqlite3_value **argv;
  i64 iStream, iOffset, nLength;
} SnapshotArgs;

static int buildOp(RlStore *p, void *pArg, i64 *piResult) {
  SnapshotArgs *a = pArg;
  raftlite_snapshot_meta meta;
  raftlite_snapshot *s = NULL;
  *piResult = -1;
  /* The result's memory first: once the build commits, nothing may fail. */
  char *zId = sqlite3_malloc(sizeof(meta.snapshot_id));
  if (zId == NULL) return SQLITE_NOMEM;
  int rc = rlBuildSnapshot(p, &meta, &s);
  if (rc == SQLITE_OK) {
    memcpy(zId, meta.snapshot_id, sizeof(meta.snapshot_id));
    sqlite3_result_text(a->ctx, zId, -1, sqlite3_free); /* takes zId, copies nothing */
    zId = NULL;
    sqlite3_free(meta.membership_json);
    raftlite_snapshot_close(s);
  }
  sqlite3_free(zId);
  return rc;
}

static int readOp(RlStore *p, void *pArg, i64 *piResult) {
  SnapshotArgs *a = pArg;
  raftlite_snapshot_meta meta;
  raftlite_snapshot *s = NULL;
  *piResult = -1;
  int rc = rlGetCurrentSnapshot(p, &meta, &s);
  if (rc != SQLITE_OK || s == NULL) return rc; /* none: NULL */
  sqlite3_free(meta.membership_json);
  /* The buffer holds what the snapshot has from the offset, not what was
  ** asked for: a long length past the end allocates nothing. Both are in
  ** 0..INT64_MAX (rlFuncU63), so the difference cannot overflow. */
  uint64_t nEnd = 0;
  rc = raftlite_snapshot_seek(s, 0, SEEK_END, &nEnd);
  i64 nWant = 0;
  if (rc == SQLITE_OK && (i64)nEnd > a->iOffset) {
    nWant = (i64)nEnd - a->iOffset;
    if (nWant > a->nLength) nWant = a->nLength;
  }
  if (rc == SQLITE_OK) rc = raftlite_snapshot_seek(s, a->iOffset, SEEK_SET, NULL);
  void *pBuf = NULL;
  if (rc == SQLITE_OK && nWant > 0) {
    pBuf = sqlite3_malloc64((sqlite3_uint64)nWant);
    if (pBuf == NULL) rc = SQLITE_NOMEM;
  }
  size_t nRead = 0;
  if (rc == SQLITE_OK && pBuf) rc = raftlite_snapshot_read(s, pBuf, (size_t)nWant, &nRead);
  if (rc == SQLITE_OK) {
    if (nRead > 0) sqlite3_result_blob64(a->ctx, pBuf, nRead, sqlite3_free);
    else sqlite3_result_zeroblob(a->ctx, 0);
    if (nRead > 0) pBuf = NULL;
  }
  sqlite3_free(pBuf);
  raftlite_snapshot_close(s);
  return rc;
}

static int beginOp(RlStore *p, void *pArg, i64 *piResult) {
  (void)pArg;
  raftlite_snapshot *s = NULL;
  int rc = rlBeginReceiving(p, &s);
  if (rc == SQLITE_OK) *piResult = rlStreamId(s);
  raftlite_snapshot_close(s);
  return rc;
}

static int writeOp(RlStore *p, void *pArg, i64 *piResult) {
  SnapshotArgs *a = pArg;
  raftlite_snapshot *s = NULL;
  int rc = rlOpenReceiving(p, a->iStream, &s);
  if (rc == SQLITE_OK) rc = raftlite_snapshot_seek(s, a->iOffset, SEEK_SET, NULL);
  sqlite3_value *pData = a->argv[2];
  int n = sqlite3_value_bytes(pData);
  const void *pBytes = sqlite3_value_type(pData) == SQLITE_TEXT
                           ? (const void *)sqlite3_value_text(pData)
                           : sqlite3_value_blob(pData);
  if (rc == SQLITE_OK && n > 0) rc = raftlite_snapshot_write(s, pBytes, (size_t)n);
  if (rc == SQLITE_OK) *piResult = n;
  if (rc != SQLITE_OK && s && p->zErrMsg == NULL) rc = rlFailSqlite(p, rc);
  raftlite_snapshot_close(s);
  return rc;
}

/* Decodes install's meta from JSON with SQLite's JSON functions. */
static int decodeMeta(RlStore *p, sqlite3_value *pJson, raftlite_snapshot_meta *pMeta) {
  memset(pMeta, 0, sizeof(*pMeta));
  sqlite3_stmt *pStmt = NULL;
  int rc = sqlite3_prepare_v2(
      p->db,
      "SELECT json_valid(?1) AND json_type(?1) = 'object', json_type(?1, '$.snapshot_id') = 'text',"
      " json_extract(?1, '$.snapshot_id'),"
      " json_extract(?1, '$.last_log_id[0]'), json_extract(?1, '$.last_log_id[1]'),"
      " json_type(?1, '$.membership') IN ('array', 'object'),"
      " json(json_extract(?1, '$.membership')),"
      " json_extract(?1, '$.membership_log_id[0]'), json_extract(?1, '$.membership_log_id[1]'),"
      " coalesce(json_type(?1, '$.membership'), 'null') = 'null',"
      " (SELECT group_concat(key) FROM json_each(?1) WHERE key NOT IN"
      "  ('snapshot_id', 'last_log_id', 'membership', 'membership_log_id'))",
      -1, &pStmt, NULL);
  if (rc != SQLITE_OK) return rlFailSqlite(p, rc);
  rc = sqlite3_bind_value(pStmt, 1, pJson);
  int rcStep = rc == SQLITE_OK ? sqlite3_step(pStmt) : rc;
  if (rlIsResourceError(rcStep)) {
    /* Out of memory is no verdict on the meta. */
    int rcOut = rlFailSqlite(p, rcStep);
    sqlite3_finalize(pStmt);
    return rcOut;
  }
  const char *zWhy = NULL;
  if (rcStep != SQLITE_ROW) {
    zWhy = sqlite3_errmsg(p->db);
  } else if (!sqlite3_column_int(pStmt, 0)) {
    zWhy = "not an object";
  } else if (sqlite3_column_type(pStmt, 10) != SQLITE_NULL) {
    zWhy = "unknown keys";
  } else if (!sqlite3_column_int(pStmt, 1) || sqlite3_column_bytes(pStmt, 2) < 1 ||
             sqlite3_column_bytes(pStmt, 2) > 127) {
    zWhy = "snapshot_id must be text of 1 to 127 bytes";
  } else {
    sqlite3_snprintf(sizeof(pMeta->snapshot_id), pMeta->snapshot_id, "%s",
                     (const char *)sqlite3_column_text(pStmt, 2));
    i64 aId[4];
    char *zErr = NULL;
    rc = rlValueU63(sqlite3_column_value(pStmt, 3), "last_log_id[0]", &aId[0], &zErr);
    if (rc == SQLITE_OK) rc = rlValueU63(sqlite3_column_value(pStmt, 4), "last_log_id[1]", &aId[1], &zErr);
    pMeta->last_log_id.term = (uint64_t)aId[0];
    pMeta->last_log_id.index = (uint64_t)aId[1];
    if (rc == SQLITE_OK && sqlite3_column_int(pStmt, 5)) {
      rc = rlValueU63(sqlite3_column_value(pStmt, 7), "membership_log_id[0]", &aId[2], &zErr);
      if (rc == SQLITE_OK) {
        rc = rlValueU63(sqlite3_column_value(pStmt, 8), "membership_log_id[1]", &aId[3], &zErr);
      }
      pMeta->has_membership = 1;
      pMeta->membership_log_id.term = (uint64_t)aId[2];
      pMeta->membership_log_id.index = (uint64_t)aId[3];
      const char *zMembership = (const char *)sqlite3_column_text(pStmt, 6);
      pMeta->membership_json = zMembership ? sqlite3_mprintf("%s", zMembership) : NULL;
      /* A failed copy is NOMEM (zErr NULL: rlFailOwned says so), not a meta
      ** without membership. */
      if (rc == SQLITE_OK && pMeta->membership_json == NULL) rc = SQLITE_NOMEM;
    } else if (rc == SQLITE_OK && !sqlite3_column_int(pStmt, 9)) {
      zWhy = "membership must be an array, an object or null";
    }
    if (rc != SQLITE_OK) {
      sqlite3_finalize(pStmt);
      sqlite3_free(pMeta->membership_json);
      memset(pMeta, 0, sizeof(*pMeta));
      return rlFailOwned(p, rc, RAFTLITE_OUT_OF_RANGE, zErr);
    }
  }
  if (zWhy) rc = rlFail(p, RL_MSG_BAD_META, zWhy);
  sqlite3_finalize(pStmt);
  if (rc != SQLITE_OK) {
    sqlite3_free(pMeta->membership_json);
    memset(pMeta, 0, sizeof(*pMeta));
  }
  return rc;
}

static int installOp(RlStore *p, void *pArg, i64 *piResult) {
  SnapshotArgs *a = pArg;
  raftlite_snapshot_meta meta;
  int rc = decodeMeta(p, a->argv[1], &meta);
  raftlite_snapshot *s = NULL;
  if (rc == SQLITE_OK) rc = rlOpenReceiving(p, a->iStream, &s);
  raftlite_sm_changes changes;
  if (rc == SQLITE_OK) rc = rlInstallSnapshot(p, &meta, s, &changes);
  if (rc == SQLITE_OK) *piResult = (i64)changes.last_applied.index;
  sqlite3_free(meta.membership_json);
  return rc;
}

static void buildFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  SnapshotArgs a = {ctx, argv, 0, 0, 0};
  rlFuncRun(ctx, "raft_snapshot_build", argc, argv, 0, buildOp, &a);
}

static void readFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  SnapshotArgs a = {ctx, argv, 0, 0, 0};
  if (rlFuncU63(ctx, "raft_snapshot_read", argv[0], "offset", &a.iOffset) &&
      rlFuncU63(ctx, "raft_snapshot_read", argv[1], "length", &a.nLength)) {
    if (a.nLength > 100000000) a.nLength = 100000000; /* below SQLite's value limit */
    rlFuncRun(ctx, "raft_snapshot_read", argc, argv, 2, readOp, &a);
  }
}

static void beginFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  rlFuncRun(ctx, "raft_snapshot_begin", argc, argv, 0, beginOp, NULL);
}

static void writeFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  SnapshotArgs a = {ctx, argv, 0, 0, 0};
  int eType = sqlite3_value_type(argv[2]);
  if (eType != SQLITE_BLOB && eType != SQLITE_TEXT) {
    sqlite3_result_error(ctx, "raft_snapshot_write: the bytes must be a blob or text", -1);
    sqlite3_result_error_code(ctx, SQLITE_MISMATCH);
    return;
  }
  if (rlFuncU63(ctx, "raft_snapshot_write", argv[0], "stream", &a.iStream) &&
      rlFuncU63(ctx, "raft_snapshot_write", argv[1], "offset", &a.iOffset)) {
    rlFuncRun(ctx, "raft_snapshot_write", argc, argv, 3, writeOp, &a);
  }
}

static void installFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  SnapshotArgs a = {ctx, argv, 0, 0, 0};
  if (rlFuncU63(ctx, "raft_snapshot_install", argv[0], "stream", &a.iStream)) {
    rlFuncRun(ctx, "raft_snapshot_install", argc, argv, 2, installOp, &a);
  }
}

int rlRegisterFuncStateMachine(sqlite3 *db) {
  static const struct {
    const char *zName;
    int nArgMin, nArgMax;
    void (*xFunc)(sqlite3_context *, int, sqlite3_value **);
  } aFunc[] = {
      {"raft_state_machine", 2, 3, stateMachineFunc},
      {"raft_snapshot_build", 0, 1, buildFunc},
      {"raft_snapshot_read", 2, 3, readFunc},
      {"raft_snapshot_begin", 0, 1, beginFunc},
      {"raft_snapshot_write", 3, 4, writeFunc},
      {"raft_snapshot_install", 2, 3, installFunc},
  };
  int rc = SQLITE_OK;
  for (size_t i = 0; rc == SQLITE_OK && i < sizeof(aFunc) / sizeof(aFunc[0]); i++) {
    rc = rlCreateFunction(db, aFunc[i].zName, aFunc[i].nArgMin, aFunc[i].nArgMax,
                          SQLITE_DIRECTONLY, aFunc[i].xFunc);
  }
  return rc;
}
