/*
** sm_sql.c — the application's own tables as the state machine.
**
**     SELECT raft_state_machine('["kv"]',
**       'INSERT OR REPLACE INTO kv VALUES (json_extract(:payload, ''$.k''),
**                                          json_extract(:payload, ''$.v''))');
**     SELECT raft_apply(10);      -- each normal entry runs the statement
**     SELECT raft_snapshot_build();  -- an SQLite image of kv
**
** The declaration (raftlite_sm_table, raftlite_sm; sql/007) names tables of
** the store's schema and one statement run per normal entry with :index,
** :term, :payload (text) and :payload_blob bound. The statement is
** prepared under an authorizer that lets it read and write the declared
** tables and nothing else (no other table, no raft_* function, no pragma,
** no attach). Its first result column, if it returns a row (RETURNING),
** is the entry's response.
**
** Precedence for each callback: the C state machine set on a handle, else
** this declaration, else nothing (apply is a no-op, a snapshot is empty).
**
** Snapshots. Building writes the declared tables (with their indexes) and
** a meta table raftlite_snapshot_meta (applied id, membership) into a
** fresh database file on a private connection, then streams the file into
** the snapshot's chunks: the image opens in the sqlite3 shell as an
** ordinary database. Installing is the reverse, with the image treated as
** input from the network: it is copied to a private file and checked on a
** private read-only connection (trusted_schema off, defensive, cell size
** checks, no mmap): integrity_check, exactly the declared tables as the
** store defines them, their indexes and the meta table, nothing else, and
** a meta equal to what install was told. Anything else is SnapshotInvalid.
** Rows move one at a time, so memory does not grow with the image.
**
** Caveat: SQLite has one authorizer per connection and no way to read it
** back; preparing the apply statement replaces the connection's
** authorizer and clears it afterwards.
*/
#include "raftlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* The declaration and the apply statement                             */

/* The declared tables, for the authorizer. */
typedef struct SmTables {
  const char *zSchema;
  char **azTable;
  int nTable;
} SmTables;

static void freeTables(SmTables *t) {
  for (int i = 0; i < t->nTable; i++) sqlite3_free(t->azTable[i]);
  sqlite3_free(t->azTable);
  memset(t, 0, sizeof(*t));
}

static int tableAllowed(const SmTables *t, const char *zDb, const char *zTable) {
  /* SQLite names no schema for some reads of a table it resolved already
  ** (count(*)): the name alone then decides. */
  if (zTable == NULL || (zDb && sqlite3_stricmp(zDb, t->zSchema) != 0)) return 0;
  for (int i = 0; i < t->nTable; i++) {
    if (sqlite3_stricmp(zTable, t->azTable[i]) == 0) return 1;
  }
  return 0;
}

/* Lets the apply statement touch the declared tables only. */
static int smAuthorizer(void *pArg, int eAction, const char *z1, const char *z2,
                        const char *zDb, const char *zTrigger) {
  const SmTables *t = pArg;
  (void)zTrigger;
  switch (eAction) {
    case SQLITE_READ:
      /* json_each() and json_tree() decode payloads: read-only functions
      ** that SQLite presents as tables. */
      if (z1 && (sqlite3_stricmp(z1, "json_each") == 0 || sqlite3_stricmp(z1, "json_tree") == 0)) {
        return SQLITE_OK;
      }
      return tableAllowed(t, zDb, z1) ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_UPDATE:
      return tableAllowed(t, zDb, z1) ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_INSERT:
    case SQLITE_DELETE:
      return tableAllowed(t, zDb, z1) ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_SELECT:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    case SQLITE_FUNCTION:
      /* z2 is the function's name: raftlite's own would write the store
      ** from inside its own apply. */
      if (z2 && (sqlite3_strnicmp(z2, "raft_", 5) == 0 ||
                 sqlite3_stricmp(z2, "load_extension") == 0)) {
        return SQLITE_DENY;
      }
      return SQLITE_OK;
    default:
      return SQLITE_DENY;
  }
}

/* Reads the declared tables of the store. */
static int readTables(RlStore *p, SmTables *t) {
  memset(t, 0, sizeof(*t));
  t->zSchema = p->zSchema;
  char *zSql = rlExpandSchema("SELECT name FROM $S.raftlite_sm_table ORDER BY name", p->zSchema);
  if (zSql == NULL) return SQLITE_NOMEM;
  sqlite3_stmt *pStmt = NULL;
  int rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, NULL);
  sqlite3_free(zSql);
  while (rc == SQLITE_OK && sqlite3_step(pStmt) == SQLITE_ROW) {
    char **azNew = sqlite3_realloc64(t->azTable, sizeof(char *) * (size_t)(t->nTable + 1));
    if (azNew == NULL) {
      rc = SQLITE_NOMEM;
      break;
    }
    t->azTable = azNew;
    t->azTable[t->nTable] = sqlite3_mprintf("%s", sqlite3_column_text(pStmt, 0));
    if (t->azTable[t->nTable] == NULL) rc = SQLITE_NOMEM;
    else t->nTable++;
  }
  int rc2 = sqlite3_finalize(pStmt);
  if (rc == SQLITE_OK) rc = rc2;
  if (rc != SQLITE_OK) {
    freeTables(t);
    return rlFailSqlite(p, rc);
  }
  return SQLITE_OK;
}

/* Prepares zApply under the authorizer for tables t; on failure records a
** message naming what it may not do. */
static int prepareApply(RlStore *p, const SmTables *t, const char *zApply,
                        sqlite3_stmt **ppStmt) {
  *ppStmt = NULL;
  const char *zTail = NULL;
  sqlite3_set_authorizer(p->db, smAuthorizer, (void *)t);
  int rc = sqlite3_prepare_v3(p->db, zApply, -1, p->bPersistent ? SQLITE_PREPARE_PERSISTENT : 0,
                              ppStmt, &zTail);
  sqlite3_set_authorizer(p->db, NULL, NULL);
  if (rc != SQLITE_OK) {
    return rlFail(p, RL_MSG_SM_APPLY_SQL, sqlite3_errmsg(p->db));
  }
  while (zTail && (*zTail == ' ' || *zTail == '\n' || *zTail == '\t' || *zTail == '\r' ||
                   *zTail == ';')) {
    zTail++;
  }
  if (*ppStmt == NULL || (zTail && *zTail)) {
    sqlite3_finalize(*ppStmt);
    *ppStmt = NULL;
    return rlFail(p, RL_MSG_SM_APPLY_SQL, "it must be exactly one statement");
  }
  return SQLITE_OK;
}

/* Loads (or reloads, when the declaration changed) the apply statement
** into p->pSmApply; leaves it NULL when nothing is declared. */
static int loadApply(RlStore *p) {
  sqlite3_stmt *pStmt = rlStmt(p, RL_STMT_SM_APPLY_SQL);
  if (pStmt == NULL) return SQLITE_ERROR;
  /* Unchanged (the usual case): compare in place, copy nothing. */
  int bRow = sqlite3_step(pStmt) == SQLITE_ROW;
  const char *zStored = bRow ? (const char *)sqlite3_column_text(pStmt, 0) : NULL;
  if (zStored && p->zSmApply && p->pSmApply && strcmp(zStored, p->zSmApply) == 0) {
    return sqlite3_reset(pStmt);
  }
  char *zApply = zStored ? sqlite3_mprintf("%s", zStored) : NULL;
  int rc = sqlite3_reset(pStmt);
  if (zStored && zApply == NULL && rc == SQLITE_OK) rc = SQLITE_NOMEM;
  if (rc != SQLITE_OK) {
    sqlite3_free(zApply);
    return rlFailSqlite(p, rc);
  }
  sqlite3_finalize(p->pSmApply);
  p->pSmApply = NULL;
  sqlite3_free(p->zSmApply);
  p->zSmApply = zApply;
  if (zApply == NULL) return SQLITE_OK;
  SmTables t;
  rc = readTables(p, &t);
  if (rc == SQLITE_OK) rc = prepareApply(p, &t, zApply, &p->pSmApply);
  freeTables(&t);
  if (rc != SQLITE_OK) {
    sqlite3_free(p->zSmApply);
    p->zSmApply = NULL;
  }
  return rc;
}

/* The schema versions of the store's schema and of temp, summed: a change
** of either (a trigger added on a declared table, say) makes SQLite
** re-prepare the apply statement without raftlite's authorizer, so the
** statement is prepared again under it. */
static int schemaVersion(RlStore *p, i64 *piVersion) {
  static const RlStmtId aId[] = {RL_STMT_SCHEMA_VERSION, RL_STMT_TEMP_SCHEMA_VERSION};
  *piVersion = 0;
  for (size_t i = 0; i < sizeof(aId) / sizeof(aId[0]); i++) {
    sqlite3_stmt *pStmt = rlStmt(p, aId[i]);
    if (pStmt == NULL) return SQLITE_ERROR;
    if (sqlite3_step(pStmt) == SQLITE_ROW) *piVersion += sqlite3_column_int64(pStmt, 0);
    int rc = sqlite3_reset(pStmt);
    if (rc != SQLITE_OK) return rlFailSqlite(p, rc);
  }
  return SQLITE_OK;
}

int rlSmApply(RlStore *p, const raftlite_entry *e, raftlite_response *pOut) {
  i64 iVersion;
  int rc = schemaVersion(p, &iVersion);
  if (rc == SQLITE_OK && iVersion != p->iSmSchemaVersion) {
    sqlite3_free(p->zSmApply); /* forces loadApply() to prepare again */
    p->zSmApply = NULL;
    p->iSmSchemaVersion = iVersion;
  }
  if (rc == SQLITE_OK) rc = loadApply(p);
  if (rc != SQLITE_OK || p->pSmApply == NULL) return rc;
  sqlite3_stmt *pStmt = p->pSmApply;
  sqlite3_reset(pStmt);
  sqlite3_clear_bindings(pStmt);
  int i;
  if ((i = sqlite3_bind_parameter_index(pStmt, ":index")) > 0) {
    sqlite3_bind_int64(pStmt, i, (i64)e->log_id.index);
  }
  if ((i = sqlite3_bind_parameter_index(pStmt, ":term")) > 0) {
    sqlite3_bind_int64(pStmt, i, (i64)e->log_id.term);
  }
  if ((i = sqlite3_bind_parameter_index(pStmt, ":payload")) > 0) {
    sqlite3_bind_text64(pStmt, i, e->data ? e->data : "", e->size, SQLITE_STATIC, SQLITE_UTF8);
  }
  if ((i = sqlite3_bind_parameter_index(pStmt, ":payload_blob")) > 0) {
    if (e->size == 0) sqlite3_bind_zeroblob(pStmt, i, 0);
    else sqlite3_bind_blob64(pStmt, i, e->data, e->size, SQLITE_STATIC);
  }
  /* The first column of the first row, if any, is the response. */
  int bFirst = 1;
  while ((rc = sqlite3_step(pStmt)) == SQLITE_ROW) {
    if (bFirst && pOut && sqlite3_column_type(pStmt, 0) != SQLITE_NULL) {
      rc = rlCopyBytes(sqlite3_column_blob(pStmt, 0), (size_t)sqlite3_column_bytes(pStmt, 0),
                       &pOut->data);
      if (rc != SQLITE_OK) break;
      pOut->size = (size_t)sqlite3_column_bytes(pStmt, 0);
    }
    bFirst = 0;
  }
  if (rc == SQLITE_DONE) rc = SQLITE_OK;
  int rcReset = sqlite3_reset(pStmt);
  sqlite3_clear_bindings(pStmt); /* the payload is the caller's */
  if (rc != SQLITE_OK && rc != SQLITE_NOMEM) {
    char zId[RL_LOGID_BUF];
    RlLogId id = {1, (i64)e->log_id.term, (i64)e->log_id.index};
    rc = rcReset != SQLITE_OK ? rcReset : rc;
    rlFail(p, RL_MSG_SM_APPLY_STMT_FAILED, rlLogIdText(&id, zId), sqlite3_errmsg(p->db));
  }
  return rc;
}

int rlSmDeclare(RlStore *p, const char *zTablesJson, const char *zApply, i64 *pnTables) {
  int rc = rlBegin(p);
  if (rc != SQLITE_OK) return rc; /* nothing to roll back */
  char *zSql = NULL;
  if (rc == SQLITE_OK) {
    zSql = rlExpandSchema(
        "DELETE FROM $S.raftlite_sm; DELETE FROM $S.raftlite_sm_table;"
        "INSERT INTO $S.raftlite_sm_table(name) SELECT value FROM json_each(?1);",
        p->zSchema);
    if (zSql == NULL) rc = SQLITE_NOMEM;
  }
  /* Replace the declaration (three statements, one savepoint). */
  const char *zNext = zSql;
  while (rc == SQLITE_OK && zNext && *zNext) {
    sqlite3_stmt *pStmt = NULL;
    rc = sqlite3_prepare_v2(p->db, zNext, -1, &pStmt, &zNext);
    if (rc == SQLITE_OK && pStmt) {
      if (sqlite3_bind_parameter_count(pStmt) > 0) {
        sqlite3_bind_text(pStmt, 1, zTablesJson, -1, SQLITE_STATIC);
      }
      sqlite3_step(pStmt);
      rc = sqlite3_finalize(pStmt);
    }
    if (rc != SQLITE_OK) rc = rlFailSqlite(p, rc);
  }
  sqlite3_free(zSql);

  /* Every declared table exists, as an ordinary table of this schema. */
  SmTables t;
  memset(&t, 0, sizeof(t));
  if (rc == SQLITE_OK) rc = readTables(p, &t);
  for (int i = 0; rc == SQLITE_OK && i < t.nTable; i++) {
    char *zCheck = sqlite3_mprintf(
        "SELECT 1 FROM \"%w\".sqlite_schema WHERE type = 'table' AND name = %Q"
        " AND sql NOT LIKE 'CREATE VIRTUAL%%'",
        p->zSchema, t.azTable[i]);
    sqlite3_stmt *pStmt = NULL;
    rc = zCheck ? sqlite3_prepare_v2(p->db, zCheck, -1, &pStmt, NULL) : SQLITE_NOMEM;
    sqlite3_free(zCheck);
    int bFound = rc == SQLITE_OK && sqlite3_step(pStmt) == SQLITE_ROW;
    sqlite3_finalize(pStmt);
    if (rc == SQLITE_OK && !bFound) rc = rlFail(p, RL_MSG_SM_NO_TABLE, t.azTable[i], p->zSchema);
  }
  if (rc == SQLITE_OK && t.nTable == 0 && zApply) rc = rlFail(p, RL_MSG_SM_NO_TABLES);

  /* The statement must prepare under the authorizer now, not at the first
  ** apply. */
  if (rc == SQLITE_OK && zApply) {
    sqlite3_stmt *pStmt = NULL;
    rc = prepareApply(p, &t, zApply, &pStmt);
    sqlite3_finalize(pStmt);
    if (rc == SQLITE_OK) {
      char *zInsert = rlExpandSchema("INSERT INTO $S.raftlite_sm(id, apply_sql) VALUES (1, ?1)",
                                     p->zSchema);
      rc = zInsert ? sqlite3_prepare_v2(p->db, zInsert, -1, &pStmt, NULL) : SQLITE_NOMEM;
      sqlite3_free(zInsert);
      if (rc == SQLITE_OK) {
        sqlite3_bind_text(pStmt, 1, zApply, -1, SQLITE_STATIC);
        sqlite3_step(pStmt);
        rc = sqlite3_finalize(pStmt);
      }
      if (rc != SQLITE_OK) rc = rlFailSqlite(p, rc);
    }
  }
  if (pnTables) *pnTables = t.nTable;
  freeTables(&t);
  return rlEnd(p, rc);
}

/* ------------------------------------------------------------------ */
/* Images                                                              */

/* A fresh path for a private image file: next to the store's database
** when it has one (same file system), else in $TMPDIR or /tmp. */
static char *tempImagePath(RlStore *p) {
  const char *zFile = sqlite3_db_filename(p->db, p->zSchema);
  unsigned int iRand;
  sqlite3_randomness(sizeof(iRand), &iRand);
  if (zFile && zFile[0]) {
    return sqlite3_mprintf("%s-raftlite-image-%d-%08x", zFile, (int)getpid(), iRand);
  }
  const char *zDir = getenv("TMPDIR");
  return sqlite3_mprintf("%s/raftlite-image-%d-%08x", zDir && zDir[0] ? zDir : "/tmp",
                         (int)getpid(), iRand);
}

static void removeImage(const char *zPath) {
  if (zPath == NULL) return;
  static const char *const azSuffix[] = {"-journal", "-wal", "-shm"};
  for (size_t i = 0; i < sizeof(azSuffix) / sizeof(azSuffix[0]); i++) {
    char *z = sqlite3_mprintf("%s%s", zPath, azSuffix[i]);
    if (z) remove(z);
    sqlite3_free(z);
  }
  remove(zPath);
}

static int execOn(sqlite3 *db, const char *zSql) {
  return sqlite3_exec(db, zSql, NULL, NULL, NULL);
}

/* The columns of table zTable that hold data (not generated), as a quoted
** list: "a", "b". */
static char *columnList(sqlite3 *db, const char *zSchema, const char *zTable) {
  char *zSql = sqlite3_mprintf("SELECT group_concat('\"' || replace(name, '\"', '\"\"') || '\"', ', ')"
                               " FROM"
                               " pragma_table_xinfo(%Q, %Q) WHERE hidden IN (0, 1)",
                               zTable, zSchema);
  if (zSql == NULL) return NULL;
  sqlite3_stmt *pStmt = NULL;
  char *zOut = NULL;
  if (sqlite3_prepare_v2(db, zSql, -1, &pStmt, NULL) == SQLITE_OK &&
      sqlite3_step(pStmt) == SQLITE_ROW && sqlite3_column_type(pStmt, 0) != SQLITE_NULL) {
    zOut = sqlite3_mprintf("%s", sqlite3_column_text(pStmt, 0));
  }
  sqlite3_finalize(pStmt);
  sqlite3_free(zSql);
  return zOut;
}

/* Copies every row of zTable from (dbFrom, zFromSchema) into (dbTo,
** zToSchema), one row at a time. */
static int copyRows(sqlite3 *dbFrom, const char *zFromSchema, sqlite3 *dbTo,
                    const char *zToSchema, const char *zTable) {
  char *zCols = columnList(dbFrom, zFromSchema, zTable);
  if (zCols == NULL) return SQLITE_NOMEM;
  int nCol = 1;
  for (const char *z = zCols; *z; z++) nCol += *z == ',';
  sqlite3_str *pIns = sqlite3_str_new(dbTo);
  sqlite3_str_appendf(pIns, "INSERT INTO \"%w\".\"%w\"(%s) VALUES (?", zToSchema, zTable, zCols);
  for (int i = 1; i < nCol; i++) sqlite3_str_appendall(pIns, ", ?");
  sqlite3_str_appendall(pIns, ")");
  char *zIns = sqlite3_str_finish(pIns);
  char *zSel = sqlite3_mprintf("SELECT %s FROM \"%w\".\"%w\"", zCols, zFromSchema, zTable);
  sqlite3_stmt *pSel = NULL, *pIns2 = NULL;
  int rc = (zIns && zSel) ? SQLITE_OK : SQLITE_NOMEM;
  if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(dbFrom, zSel, -1, &pSel, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(dbTo, zIns, -1, &pIns2, NULL);
  while (rc == SQLITE_OK && sqlite3_step(pSel) == SQLITE_ROW) {
    for (int i = 0; rc == SQLITE_OK && i < nCol; i++) {
      rc = sqlite3_bind_value(pIns2, i + 1, sqlite3_column_value(pSel, i));
    }
    if (rc != SQLITE_OK) break;
    sqlite3_step(pIns2);
    rc = sqlite3_reset(pIns2);
  }
  if (rc == SQLITE_OK) rc = sqlite3_reset(pSel);
  sqlite3_finalize(pSel);
  sqlite3_finalize(pIns2);
  sqlite3_free(zCols);
  sqlite3_free(zIns);
  sqlite3_free(zSel);
  return rc;
}

/* The meta table every image carries. */
#define IMAGE_META_SQL                                                    \
  "CREATE TABLE raftlite_snapshot_meta(last_term INTEGER NOT NULL,"       \
  " last_index INTEGER NOT NULL, membership_term INTEGER,"                \
  " membership_index INTEGER, membership TEXT)"

int rlSmSnapshot(RlStore *p, raftlite_snapshot *w) {
  SmTables t;
  int rc = readTables(p, &t);
  if (rc != SQLITE_OK) return rc;
  if (t.nTable == 0) {
    freeTables(&t);
    return SQLITE_OK; /* nothing declared: an empty snapshot */
  }
  char *zPath = tempImagePath(p);
  sqlite3 *pImg = NULL;
  if (zPath == NULL) rc = SQLITE_NOMEM;
  if (rc == SQLITE_OK) {
    rc = sqlite3_open_v2(zPath, &pImg, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  }
  /* A scratch file: no journal, no sync. */
  if (rc == SQLITE_OK) rc = execOn(pImg, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN");
  for (int i = 0; rc == SQLITE_OK && i < t.nTable; i++) {
    /* The table as the store defines it, its rows, then its indexes. */
    char *zSql = sqlite3_mprintf(
        "SELECT sql FROM \"%w\".sqlite_schema WHERE tbl_name = %Q AND sql IS NOT NULL"
        " ORDER BY type = 'index'", p->zSchema, t.azTable[i]);
    sqlite3_stmt *pStmt = NULL;
    rc = zSql ? sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, NULL) : SQLITE_NOMEM;
    sqlite3_free(zSql);
    int bFirst = 1;
    while (rc == SQLITE_OK && sqlite3_step(pStmt) == SQLITE_ROW) {
      const char *zCreate = (const char *)sqlite3_column_text(pStmt, 0);
      if (sqlite3_strnicmp(zCreate, "CREATE TRIGGER", 14) == 0) continue;
      rc = execOn(pImg, zCreate);
      if (rc == SQLITE_OK && bFirst) rc = copyRows(p->db, p->zSchema, pImg, "main", t.azTable[i]);
      bFirst = 0;
    }
    sqlite3_finalize(pStmt);
  }
  if (rc == SQLITE_OK) rc = execOn(pImg, IMAGE_META_SQL);
  if (rc == SQLITE_OK) {
    sqlite3_stmt *pStmt = NULL;
    rc = sqlite3_prepare_v2(pImg, "INSERT INTO raftlite_snapshot_meta VALUES (?,?,?,?,?)", -1,
                            &pStmt, NULL);
    raftlite_applied_state as;
    if (rc == SQLITE_OK) rc = rlReadApplied(p, &as);
    if (rc == SQLITE_OK) {
      sqlite3_bind_int64(pStmt, 1, (i64)as.last_applied.term);
      sqlite3_bind_int64(pStmt, 2, (i64)as.last_applied.index);
      if (as.has_membership) {
        sqlite3_bind_int64(pStmt, 3, (i64)as.membership_log_id.term);
        sqlite3_bind_int64(pStmt, 4, (i64)as.membership_log_id.index);
        sqlite3_bind_text(pStmt, 5, as.membership_json, -1, SQLITE_TRANSIENT);
      }
      sqlite3_step(pStmt);
      rlAppliedStateFree(&as);
    }
    int rc2 = sqlite3_finalize(pStmt);
    if (rc == SQLITE_OK) rc = rc2;
  }
  if (rc == SQLITE_OK) rc = execOn(pImg, "COMMIT");
  if (rc != SQLITE_OK && p->zErrMsg == NULL && pImg) {
    rlFail(p, RL_MSG_SM_IMAGE, sqlite3_errmsg(pImg));
  }
  sqlite3_close(pImg);
  freeTables(&t);

  /* Stream the file into the snapshot. */
  FILE *pFile = (rc == SQLITE_OK) ? fopen(zPath, "rb") : NULL;
  if (rc == SQLITE_OK && pFile == NULL) rc = rlFail(p, RL_MSG_SM_IMAGE, "cannot read the image file");
  if (pFile) {
    static const size_t nBuf = 65536;
    void *pBuf = sqlite3_malloc64(nBuf);
    if (pBuf == NULL) rc = SQLITE_NOMEM;
    size_t n;
    while (rc == SQLITE_OK && (n = fread(pBuf, 1, nBuf, pFile)) > 0) {
      rc = raftlite_snapshot_write(w, pBuf, n);
    }
    sqlite3_free(pBuf);
    fclose(pFile);
  }
  removeImage(zPath);
  sqlite3_free(zPath);
  return rc;
}

/* Copies the stream r into a new file at zPath. */
static int streamToFile(RlStore *p, raftlite_snapshot *r, const char *zPath) {
  FILE *pFile = fopen(zPath, "wb");
  if (pFile == NULL) return rlFail(p, RL_MSG_SM_IMAGE, "cannot write the image file");
  static const size_t nBuf = 65536;
  void *pBuf = sqlite3_malloc64(nBuf);
  int rc = pBuf ? SQLITE_OK : SQLITE_NOMEM;
  for (;;) {
    size_t n = 0;
    if (rc == SQLITE_OK) rc = raftlite_snapshot_read(r, pBuf, nBuf, &n);
    if (rc != SQLITE_OK || n == 0) break;
    if (fwrite(pBuf, 1, n, pFile) != n) rc = rlFail(p, RL_MSG_SM_IMAGE, "cannot write the image file");
  }
  sqlite3_free(pBuf);
  if (fclose(pFile) != 0 && rc == SQLITE_OK) rc = rlFail(p, RL_MSG_SM_IMAGE, "cannot write the image file");
  return rc;
}

/* Runs a one-value query on the image; NULL when it fails or is empty. */
static char *imageText(sqlite3 *pImg, const char *zSql) {
  sqlite3_stmt *pStmt = NULL;
  char *zOut = NULL;
  if (sqlite3_prepare_v2(pImg, zSql, -1, &pStmt, NULL) == SQLITE_OK &&
      sqlite3_step(pStmt) == SQLITE_ROW) {
    zOut = sqlite3_mprintf("%s", sqlite3_column_text(pStmt, 0));
  }
  sqlite3_finalize(pStmt);
  return zOut;
}

/* The checks of an untrusted image; returns a reason it is invalid, or
** NULL when it is valid (sqlite3_malloc'd). */
static char *checkImage(RlStore *p, sqlite3 *pImg, const SmTables *t,
                        const raftlite_snapshot_meta *pMeta) {
  char *zCheck = imageText(pImg, "SELECT group_concat(integrity_check, '; ')"
                                 " FROM pragma_integrity_check");
  if (zCheck == NULL || strcmp(zCheck, "ok") != 0) {
    char *zWhy = sqlite3_mprintf("integrity_check: %.200s",
                                 zCheck ? zCheck : sqlite3_errmsg(pImg));
    sqlite3_free(zCheck);
    return zWhy;
  }
  sqlite3_free(zCheck);

  /* Exactly: the declared tables and their indexes as the store defines
  ** them (no triggers), and the meta table. Compared as one sorted list. */
  sqlite3_str *pWant = sqlite3_str_new(p->db);
  for (int i = 0; i < t->nTable; i++) {
    char *zSql = sqlite3_mprintf(
        "SELECT group_concat(type || ' ' || name || ' ' || coalesce(sql, ''), char(10))"
        " FROM (SELECT type, name, sql FROM \"%w\".sqlite_schema WHERE tbl_name = %Q"
        " AND type IN ('table', 'index') ORDER BY type, name)",
        p->zSchema, t->azTable[i]);
    char *zPart = zSql ? imageText(p->db, zSql) : NULL;
    sqlite3_free(zSql);
    sqlite3_str_appendf(pWant, "%s\n", zPart ? zPart : "");
    sqlite3_free(zPart);
  }
  sqlite3_str_appendf(pWant, "table raftlite_snapshot_meta %s", IMAGE_META_SQL);
  char *zWant = sqlite3_str_finish(pWant);
  sqlite3_str *pGot = sqlite3_str_new(p->db);
  for (int i = 0; i < t->nTable; i++) {
    char *zSql = sqlite3_mprintf(
        "SELECT group_concat(type || ' ' || name || ' ' || coalesce(sql, ''), char(10))"
        " FROM (SELECT type, name, sql FROM sqlite_schema WHERE tbl_name = %Q"
        " ORDER BY type, name)",
        t->azTable[i]);
    char *zPart = zSql ? imageText(pImg, zSql) : NULL;
    sqlite3_free(zSql);
    sqlite3_str_appendf(pGot, "%s\n", zPart ? zPart : "");
    sqlite3_free(zPart);
  }
  char *zMetaSql = imageText(pImg, "SELECT type || ' ' || name || ' ' || sql FROM sqlite_schema"
                                   " WHERE tbl_name = 'raftlite_snapshot_meta'");
  sqlite3_str_appendf(pGot, "%s", zMetaSql ? zMetaSql : "");
  sqlite3_free(zMetaSql);
  char *zGot = sqlite3_str_finish(pGot);
  char *zOthers = NULL;
  {
    sqlite3_str *pIn = sqlite3_str_new(p->db);
    /* sqlite_sequence comes with AUTOINCREMENT tables: allowed as SQLite
    ** itself creates it. */
    sqlite3_str_appendall(pIn, "SELECT group_concat(type || ' ' || name, ', ') FROM sqlite_schema"
                               " WHERE NOT (type = 'table' AND name = 'sqlite_sequence'"
                               " AND sql = 'CREATE TABLE sqlite_sequence(name,seq)')"
                               " AND (tbl_name NOT IN ('raftlite_snapshot_meta'");
    for (int i = 0; i < t->nTable; i++) sqlite3_str_appendf(pIn, ", %Q", t->azTable[i]);
    sqlite3_str_appendall(pIn, ") OR type NOT IN ('table', 'index'))");
    char *zSql = sqlite3_str_finish(pIn);
    zOthers = zSql ? imageText(pImg, zSql) : NULL;
    sqlite3_free(zSql);
  }
  char *zWhy = NULL;
  if (zOthers && strcmp(zOthers, "") != 0) {
    zWhy = sqlite3_mprintf("objects that are not the declared tables: %.200s", zOthers);
  } else if (zWant == NULL || zGot == NULL || strcmp(zWant, zGot) != 0) {
    zWhy = sqlite3_mprintf("its tables differ from the declared ones of schema \"%s\"",
                           p->zSchema);
  }
  sqlite3_free(zWant);
  sqlite3_free(zGot);
  sqlite3_free(zOthers);
  if (zWhy) return zWhy;

  /* Its meta is the one install was told. */
  sqlite3_stmt *pStmt = NULL;
  int nRow = 0, bMatch = 0;
  if (sqlite3_prepare_v2(pImg,
                         "SELECT last_term, last_index, membership_term, membership_index,"
                         " CASE WHEN json_valid(membership) THEN json(membership) END,"
                         " ?1 IS NULL, json(?1) FROM raftlite_snapshot_meta",
                         -1, &pStmt, NULL) == SQLITE_OK) {
    if (pMeta->has_membership) sqlite3_bind_text(pStmt, 1, pMeta->membership_json, -1, SQLITE_STATIC);
    while (sqlite3_step(pStmt) == SQLITE_ROW) {
      nRow++;
      int bSameLast = sqlite3_column_int64(pStmt, 0) == (i64)pMeta->last_log_id.term &&
                      sqlite3_column_int64(pStmt, 1) == (i64)pMeta->last_log_id.index;
      int bSameMembership;
      if (!pMeta->has_membership) {
        bSameMembership = sqlite3_column_type(pStmt, 3) == SQLITE_NULL &&
                          sqlite3_column_type(pStmt, 4) == SQLITE_NULL;
      } else {
        const char *zA = (const char *)sqlite3_column_text(pStmt, 4);
        const char *zB = (const char *)sqlite3_column_text(pStmt, 6);
        bSameMembership = sqlite3_column_int64(pStmt, 2) == (i64)pMeta->membership_log_id.term &&
                          sqlite3_column_int64(pStmt, 3) == (i64)pMeta->membership_log_id.index &&
                          zA && zB && strcmp(zA, zB) == 0;
      }
      bMatch = bSameLast && bSameMembership;
    }
  }
  sqlite3_finalize(pStmt);
  if (nRow != 1 || !bMatch) {
    return sqlite3_mprintf("its raftlite_snapshot_meta does not match the snapshot's meta");
  }
  return NULL;
}

int rlSmRestore(RlStore *p, raftlite_snapshot *r, const raftlite_snapshot_meta *pMeta) {
  SmTables t;
  int rc = readTables(p, &t);
  if (rc != SQLITE_OK) return rc;
  if (t.nTable == 0) {
    freeTables(&t);
    return SQLITE_OK; /* nothing declared: nothing to restore */
  }
  char *zPath = tempImagePath(p);
  if (zPath == NULL) rc = SQLITE_NOMEM;
  if (rc == SQLITE_OK) rc = streamToFile(p, r, zPath);

  /* The image is input from the network: a private read-only connection
  ** that trusts nothing in it. */
  sqlite3 *pImg = NULL;
  if (rc == SQLITE_OK) {
    rc = sqlite3_open_v2(zPath, &pImg, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK) {
      sqlite3_db_config(pImg, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
      sqlite3_db_config(pImg, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
      sqlite3_db_config(pImg, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
      sqlite3_db_config(pImg, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
      rc = execOn(pImg, "PRAGMA cell_size_check=ON; PRAGMA mmap_size=0");
    }
    if (rc != SQLITE_OK) {
      rc = rlFail(p, RL_MSG_SNAPSHOT_INVALID, pImg ? sqlite3_errmsg(pImg) : "cannot open it");
    }
  }
  if (rc == SQLITE_OK) {
    char *zWhy = checkImage(p, pImg, &t, pMeta);
    if (zWhy) {
      rc = rlFail(p, RL_MSG_SNAPSHOT_INVALID, zWhy);
      sqlite3_free(zWhy);
    }
  }
  /* Replace the declared tables' contents, inside install's transaction.
  ** Foreign keys between them are checked at commit, not row by row
  ** (defer_foreign_keys resets itself when the transaction ends). */
  if (rc == SQLITE_OK) rc = execOn(p->db, "PRAGMA defer_foreign_keys=ON");
  for (int i = 0; rc == SQLITE_OK && i < t.nTable; i++) {
    char *zDel = sqlite3_mprintf("DELETE FROM \"%w\".\"%w\"", p->zSchema, t.azTable[i]);
    rc = zDel ? execOn(p->db, zDel) : SQLITE_NOMEM;
    sqlite3_free(zDel);
    if (rc == SQLITE_OK) rc = copyRows(pImg, "main", p->db, p->zSchema, t.azTable[i]);
    if (rc != SQLITE_OK && p->zErrMsg == NULL) {
      rc = rlFail(p, RL_MSG_SNAPSHOT_INVALID, sqlite3_errmsg(p->db));
    }
  }
  sqlite3_close(pImg);
  removeImage(zPath);
  sqlite3_free(zPath);
  freeTables(&t);
  return rc;
}
