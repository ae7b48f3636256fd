/*
** vtab_settings.c — raft_settings: the settings that decide whether the
** store's writes are durable, and whether raftlite would write now.
**
**     SELECT * FROM raft_settings;
**     SELECT writable, reason FROM raft_settings('aux');
**
** Declared schema:
**
**     CREATE TABLE x(journal_mode TEXT, synchronous TEXT,
**                    wal_autocheckpoint INTEGER, page_size INTEGER,
**                    schema_version INTEGER, writable INTEGER, reason TEXT,
**                    schema HIDDEN)
**
** One row. journal_mode, synchronous and page_size are the schema's
** (PRAGMA schema.journal_mode, ...; synchronous by name: OFF, NORMAL,
** FULL, EXTRA), wal_autocheckpoint the connection's. schema_version is the
** store's (NULL: no store in the schema). writable is 1 when a mutating
** call (raft_append, ...) would pass the checks it makes before writing,
** else 0 with the reason it would give: no store, a store newer than this
** library, a read-only database, triggers or CHECK constraints switched
** off on the connection, or settings under which a commit would not be
** durable (README.md, Durability). A schema without a store is no error
** here: its settings are what to fix before raft_install().
**
** HOW IT WORKS. The PRAGMAs, then the same checks, in the same order and
** with the same messages, as store.c makes in rlBegin() before an
** operation's savepoint (checkDurable() and the two before it).
*/
#include "vtab_operator.h"

#include <string.h>

#define SET_JOURNAL_MODE 0
#define SET_SYNCHRONOUS 1
#define SET_WAL_AUTOCHECKPOINT 2
#define SET_PAGE_SIZE 3
#define SET_SCHEMA_VERSION 4
#define SET_WRITABLE 5
#define SET_REASON 6

enum { STMT_JOURNAL, STMT_SYNC, STMT_AUTOCKPT, STMT_PAGE_SIZE, STMT_HAS_META, STMT_VERSION };

typedef struct SettingsCursor {
  RlOpCursor base; /* Base class - must be first */
  char zJournal[16]; /* as PRAGMA journal_mode says it: "wal" */
  int iSync;
  i64 iAutoCheckpoint, iPageSize;
  int bInstalled;
  i64 iVersion;
  char *zReason; /* why not writable, or NULL */
} SettingsCursor;

/* Steps pragma statement i and returns its first column as an integer
** (or copies its text into zText[16] when zText is given). */
static int pragmaValue(RlOpCursor *cur, int i, i64 *piOut, char *zText) {
  int rc;
  sqlite3_stmt *pStmt = rlOpStmt(cur, i, &rc);
  if (pStmt == NULL) return rc;
  if (sqlite3_step(pStmt) == SQLITE_ROW) {
    if (piOut) *piOut = sqlite3_column_int64(pStmt, 0);
    if (zText) {
      const char *z = (const char *)sqlite3_column_text(pStmt, 0);
      sqlite3_snprintf(16, zText, "%s", z ? z : "");
    }
  }
  rc = sqlite3_reset(pStmt);
  return rc == SQLITE_OK ? rc : rlOpError(cur, rc);
}

/* The refusal a mutating call would meet before writing, recorded on
** pCur->base.store, or SQLITE_OK. */
static int checkWritable(SettingsCursor *pCur) {
  RlStore *p = &pCur->base.store;
  if (!pCur->bInstalled) return rlFail(p, RL_MSG_NOT_INSTALLED, p->zSchema, p->zSchema);
  if (pCur->iVersion > RAFTLITE_SCHEMA_VERSION) {
    return rlFail(p, RL_MSG_STORE_NEWER, p->zSchema, pCur->iVersion, RAFTLITE_SCHEMA_VERSION);
  }
  if (sqlite3_db_readonly(p->db, p->zSchema) == 1) {
    return rlFailOwned(p, SQLITE_READONLY, RAFTLITE_NO_VIOLATION,
                       sqlite3_mprintf("the database of schema \"%s\" is open read-only",
                                       p->zSchema));
  }
  /* The very checks a writing call makes (store.c). */
  return rlCheckWritable(p);
}

static void settingsEnd(RlOpCursor *cur) {
  SettingsCursor *pCur = (SettingsCursor *)cur;
  sqlite3_free(pCur->zReason);
  pCur->zReason = NULL;
}

static int settingsFilter(RlOpCursor *cur) {
  SettingsCursor *pCur = (SettingsCursor *)cur;
  i64 iSync = 0, bHasMeta = 0;
  int rc = pragmaValue(cur, STMT_JOURNAL, NULL, pCur->zJournal);
  if (rc == SQLITE_OK) rc = pragmaValue(cur, STMT_SYNC, &iSync, NULL);
  if (rc == SQLITE_OK) rc = pragmaValue(cur, STMT_AUTOCKPT, &pCur->iAutoCheckpoint, NULL);
  if (rc == SQLITE_OK) rc = pragmaValue(cur, STMT_PAGE_SIZE, &pCur->iPageSize, NULL);
  if (rc == SQLITE_OK) rc = pragmaValue(cur, STMT_HAS_META, &bHasMeta, NULL);
  pCur->bInstalled = bHasMeta > 0;
  pCur->iVersion = 0;
  if (rc == SQLITE_OK && pCur->bInstalled) {
    rc = pragmaValue(cur, STMT_VERSION, &pCur->iVersion, NULL);
  }
  if (rc != SQLITE_OK) return rc;
  pCur->iSync = (int)iSync;
  rc = checkWritable(pCur);
  if (rc == SQLITE_NOMEM) return rlOpError(cur, rc);
  if (rc != SQLITE_OK) {
    /* The refusal is this row's answer, not the query's error. */
    pCur->zReason = cur->store.zErrMsg;
    cur->store.zErrMsg = NULL;
    rlResetError(&cur->store);
    if (pCur->zReason == NULL) return rlOpError(cur, SQLITE_NOMEM);
  }
  return SQLITE_OK;
}

static int settingsNext(RlOpCursor *cur) {
  cur->bEof = 1; /* one row */
  return SQLITE_OK;
}

static int settingsColumn(RlOpCursor *cur, sqlite3_context *ctx, int iCol) {
  static const char *const azSync[] = {"OFF", "NORMAL", "FULL", "EXTRA"};
  SettingsCursor *pCur = (SettingsCursor *)cur;
  switch (iCol) {
    case SET_JOURNAL_MODE:
      sqlite3_result_text(ctx, pCur->zJournal, -1, SQLITE_TRANSIENT);
      break;
    case SET_SYNCHRONOUS:
      if (pCur->iSync >= 0 && pCur->iSync <= 3) {
        sqlite3_result_text(ctx, azSync[pCur->iSync], -1, SQLITE_STATIC);
      } else {
        sqlite3_result_int(ctx, pCur->iSync);
      }
      break;
    case SET_WAL_AUTOCHECKPOINT: sqlite3_result_int64(ctx, pCur->iAutoCheckpoint); break;
    case SET_PAGE_SIZE: sqlite3_result_int64(ctx, pCur->iPageSize); break;
    case SET_SCHEMA_VERSION:
      if (pCur->bInstalled) sqlite3_result_int64(ctx, pCur->iVersion);
      break;
    case SET_WRITABLE: sqlite3_result_int(ctx, pCur->zReason == NULL); break;
    default:
      if (pCur->zReason) sqlite3_result_text(ctx, pCur->zReason, -1, SQLITE_TRANSIENT);
      break;
  }
  return SQLITE_OK;
}

static const RlOpView settingsView = {
    "raft_settings",
    "journal_mode TEXT, synchronous TEXT, wal_autocheckpoint INTEGER,"
    " page_size INTEGER, schema_version INTEGER, writable INTEGER, reason TEXT",
    7,
    {"PRAGMA $S.journal_mode", "PRAGMA $S.synchronous", "PRAGMA wal_autocheckpoint",
     "PRAGMA $S.page_size",
     "SELECT count(*) FROM $S.sqlite_schema WHERE type = 'table'"
     " AND name = 'raftlite_meta'",
     "SELECT value FROM $S.raftlite_meta WHERE name = 'schema_version'"},
    sizeof(SettingsCursor),
    settingsFilter,
    settingsNext,
    settingsColumn,
    settingsEnd,
    0,    /* an operator's view */
    NULL,
};

int rlRegisterVtabSettings(sqlite3 *db) {
  return rlRegisterOpView(db, &settingsView);
}
