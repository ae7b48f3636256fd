/*
** vtab_log.c — the raft_log virtual table: the log, one row per entry.
**
**     SELECT idx, term, kind, payload FROM raft_log WHERE idx BETWEEN 5 AND 9;
**     SELECT * FROM aux.raft_log ORDER BY idx DESC LIMIT 1;
**     INSERT INTO raft_log(idx, term, kind, payload)
**       VALUES (10, 2, 'normal', x'01'), (11, 2, 'blank', NULL);
**
** Declared schema:
**
**     CREATE TABLE x(idx INTEGER, term INTEGER, kind TEXT, payload ANY)
**
** raft_install(schema) creates it in the store's schema with
** CREATE VIRTUAL TABLE schema.raft_log USING raftlite_log; xConnect
** receives that schema in argv[1] and every statement on the backing
** table raftlite_segment is qualified with it. The module is not eponymous
** (xCreate differs from xConnect): an eponymous table exists once, in main.
**
** HOW IT WORKS. The rowid is idx. Every constraint on idx (or the rowid)
** with =, >, >=, < or <= is pushed down and omitted; so is ORDER BY idx in
** either direction, and LIMIT and OFFSET when nothing else is left for
** SQLite to check (on SQLite versions that offer them safely; see
** logBestIndex). xFilter turns them into one range query on the
** segments' INTEGER PRIMARY KEY (a seek to the segment holding the lower
** bound, then the next segments in order; segment.c cuts each into
** entries), so reading n rows of a log of any length visits about n
** entries' segments (O(log N + n)).
**
** INSERT appends, under the rules of append_to_log (ops.c, the same code as
** raft_append); a multi-row INSERT is one atomic append, because the
** statement's own journal rolls back every row when one fails. UPDATE and
** DELETE are refused: the log changes only by raft_truncate and raft_purge.
**
** DIRECTONLY: the table writes, so it must not be usable from views and
** triggers of a schema someone else controls.
*/
#include "raftlite_int.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#define LOG_COLUMN_IDX 0
#define LOG_COLUMN_TERM 1
#define LOG_COLUMN_KIND 2
#define LOG_COLUMN_PAYLOAD 3

typedef struct LogVtab LogVtab;
struct LogVtab {
  sqlite3_vtab base;        /* Base class - must be first */
  RlStore store;            /* for INSERT and the SQL functions (below):
                            ** statements kept until disconnect */
  sqlite3_stmt *apSpare[2]; /* range queries a closed cursor handed back */
  int bLent;                /* a SQL function is using the store */
  int bDisconnected;        /* SQLite let go of it while it was lent */
  LogVtab *pNextConnected;  /* in the list of connected tables */
};

typedef struct LogCursor {
  sqlite3_vtab_cursor base; /* Base class - must be first */
  sqlite3_stmt *apStmt[2];  /* the segment query, ascending and descending */
  RlLogReader reader;       /* over the one in use */
  raftlite_entry entry;     /* the current row */
  i64 nLimit;               /* rows left to return (LIMIT), -1: no limit */
  int bEof;
} LogCursor;

/*
** The SQL functions (raft_append(), raft_apply(), ...) borrow the store of
** their schema's raft_log table: its statements stay prepared from one
** call to the next, where a store of their own would prepare them on
** every call (an append's INSERT alone compiles every trigger of the log:
** about 1.7M instructions). A store's statements must be finalized before
** sqlite3_close() can succeed, and a virtual table is disconnected by
** sqlite3_close() before it looks for unfinalized statements; SQLite has
** no such moment for a function's data. So the statements live here.
**
** The list of connected tables is shared by every connection (SQLite
** 3.40 has no per-connection slot for it); its lock guards only the list.
** A table SQLite disconnects while a function holds its store (a schema
** change inside the call) is freed when the function gives it back.
*/
static pthread_mutex_t connectedMutex = PTHREAD_MUTEX_INITIALIZER;
static LogVtab *pConnected = NULL;

static void listConnected(LogVtab *p) {
  pthread_mutex_lock(&connectedMutex);
  p->pNextConnected = pConnected;
  pConnected = p;
  pthread_mutex_unlock(&connectedMutex);
}

/* Unlinks p; whether it is lent (then freed by rlReturnStore). */
static int unlistConnected(LogVtab *p) {
  pthread_mutex_lock(&connectedMutex);
  for (LogVtab **pp = &pConnected; *pp; pp = &(*pp)->pNextConnected) {
    if (*pp == p) {
      *pp = p->pNextConnected;
      break;
    }
  }
  int bLent = p->bLent;
  if (bLent) p->bDisconnected = 1;
  pthread_mutex_unlock(&connectedMutex);
  return bLent;
}

static void freeLogVtab(LogVtab *p) {
  sqlite3_finalize(p->apSpare[0]);
  sqlite3_finalize(p->apSpare[1]);
  rlStoreClear(&p->store);
  sqlite3_free(p);
}

/* The connected table of (db, zSchema) whose store is free to lend. */
static LogVtab *findLendable(sqlite3 *db, const char *zSchema, int *pbListed) {
  LogVtab *pFound = NULL;
  *pbListed = 0;
  pthread_mutex_lock(&connectedMutex);
  for (LogVtab *p = pConnected; p; p = p->pNextConnected) {
    if (p->store.db != db || sqlite3_stricmp(p->store.zSchema, zSchema) != 0) continue;
    *pbListed = 1;
    /* In use (a function calling a function, or an INSERT's row in
    ** progress): the caller makes a store of its own. */
    if (p->bLent || p->store.nDepth > 0) continue;
    p->bLent = 1;
    pFound = p;
    break;
  }
  pthread_mutex_unlock(&connectedMutex);
  return pFound;
}

RlStore *rlLendStore(sqlite3 *db, const char *zSchema) {
  int bListed;
  LogVtab *p = findLendable(db, zSchema, &bListed);
  if (p == NULL && !bListed) {
    /* Not connected yet (or no more, after a schema change): preparing a
    ** statement that names the table connects it, and it stays connected
    ** after the statement is finalized. No raft_log there: no store. */
    char *zSql = sqlite3_mprintf("SELECT 1 FROM \"%w\".raft_log WHERE 0", zSchema);
    if (zSql == NULL) return NULL;
    sqlite3_stmt *pStmt = NULL;
    int rc = sqlite3_prepare_v3(db, zSql, -1, 0, &pStmt, NULL);
    sqlite3_free(zSql);
    sqlite3_finalize(pStmt);
    if (rc == SQLITE_OK) p = findLendable(db, zSchema, &bListed);
  }
  if (p == NULL) return NULL;
  /* As a store of the function's own would be: outside any INSERT, and
  ** not broken by what the table's INSERTs met. */
  p->store.bInWritingStatement = 0;
  p->store.bBroken = 0;
  return &p->store;
}

void rlReturnStore(RlStore *pStore) {
  LogVtab *p = (LogVtab *)((char *)pStore - offsetof(LogVtab, store));
  rlResetError(pStore);
  pStore->bInWritingStatement = 1;
  pStore->bBroken = 0;
  pthread_mutex_lock(&connectedMutex);
  p->bLent = 0;
  int bFree = p->bDisconnected;
  pthread_mutex_unlock(&connectedMutex);
  if (bFree) freeLogVtab(p);
}

static int logConnect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                      sqlite3_vtab **ppVtab, char **pzErr) {
  (void)pAux;
  (void)argc;
  int rc = sqlite3_declare_vtab(
      db, "CREATE TABLE x(idx INTEGER, term INTEGER, kind TEXT, payload ANY)");
  if (rc == SQLITE_OK) rc = sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  if (rc != SQLITE_OK) return rc;
  LogVtab *pNew = sqlite3_malloc(sizeof(*pNew));
  if (pNew == NULL) return SQLITE_NOMEM;
  memset(pNew, 0, sizeof(*pNew));
  rc = rlStoreInit(&pNew->store, db, argv[1], 1);
  if (rc != SQLITE_OK) {
    rlStoreClear(&pNew->store);
    sqlite3_free(pNew);
    return rc;
  }
  /* xUpdate runs inside the INSERT statement, which is writing: no
  ** savepoint can open, and the statement's journal gives atomicity. */
  pNew->store.bInWritingStatement = 1;
  listConnected(pNew);
  *ppVtab = &pNew->base;
  (void)pzErr;
  return SQLITE_OK;
}

/* Distinct from logConnect so that the module is not eponymous. */
static int logCreate(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                     sqlite3_vtab **ppVtab, char **pzErr) {
  return logConnect(db, pAux, argc, argv, ppVtab, pzErr);
}

static int logDisconnect(sqlite3_vtab *pVtab) {
  LogVtab *p = (LogVtab *)pVtab;
  if (!unlistConnected(p)) freeLogVtab(p);
  return SQLITE_OK;
}

static int logOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCursor) {
  (void)pVtab;
  LogCursor *pCur = sqlite3_malloc(sizeof(*pCur));
  if (pCur == NULL) return SQLITE_NOMEM;
  memset(pCur, 0, sizeof(*pCur));
  *ppCursor = &pCur->base;
  return SQLITE_OK;
}

/* A cursor's statements go back to the vtab for the next cursor: a query
** run many times opens a cursor each time, and preparing costs more than
** reading a few rows. */
static int logClose(sqlite3_vtab_cursor *cur) {
  LogCursor *pCur = (LogCursor *)cur;
  LogVtab *pVtab = (LogVtab *)cur->pVtab;
  rlLogClose(&pCur->reader);
  for (int i = 0; i < 2; i++) {
    if (pCur->apStmt[i] == NULL) continue;
    sqlite3_reset(pCur->apStmt[i]);
    if (pVtab->apSpare[i] == NULL) {
      pVtab->apSpare[i] = pCur->apStmt[i];
    } else {
      sqlite3_finalize(pCur->apStmt[i]);
    }
  }
  sqlite3_free(pCur);
  return SQLITE_OK;
}

/*
** The plan. idxNum bit 0x01 means ORDER BY idx DESC was consumed (ascending
** is the natural order). idxStr has one character per argv[] value that
** xFilter receives, in order:
**
**     '='  idx = ?        '>'  idx > ?        'g'  idx >= ?
**     '<'  idx < ?        'l'  idx <= ?
**     'L'  LIMIT ?        'O'  OFFSET ?
*/
#define LOG_PLAN_DESC 0x01

/* The first SQLite release assumed to offer LIMIT/OFFSET only when every
** WHERE term is visible to xBestIndex (3.40.1 is known not to). */
#define LOG_LIMIT_SAFE_SINCE 3045000

/* Prepares the range query of one direction as the vtab's spare, for the
** next cursor to take. */
static int prepareRead(LogVtab *pVtab, int bDesc) {
  char *zSql = rlExpandSchema(bDesc ? RL_SQL_READ_SEGMENTS(" DESC") : RL_SQL_READ_SEGMENTS(""),
                              pVtab->store.zSchema);
  if (zSql == NULL) return SQLITE_NOMEM;
  int rc = sqlite3_prepare_v3(pVtab->store.db, zSql, -1,
                              SQLITE_PREPARE_PERSISTENT | SQLITE_PREPARE_NO_VTAB,
                              &pVtab->apSpare[bDesc], NULL);
  sqlite3_free(zSql);
  return rc;
}

static int logBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo) {
  char zPlan[64];
  int nArg = 0;
  int bEq = 0, bLower = 0, bUpper = 0, bOther = 0;
  int iLimit = -1, iOffset = -1;

  for (int i = 0; i < pInfo->nConstraint; i++) {
    const struct sqlite3_index_constraint *pCons = &pInfo->aConstraint[i];
    if (!pCons->usable) continue;
    char cOp = 0;
    if (pCons->iColumn == LOG_COLUMN_IDX || pCons->iColumn < 0) {
      switch (pCons->op) {
        case SQLITE_INDEX_CONSTRAINT_EQ: cOp = '='; bEq = 1; break;
        case SQLITE_INDEX_CONSTRAINT_GT: cOp = '>'; bLower = 1; break;
        case SQLITE_INDEX_CONSTRAINT_GE: cOp = 'g'; bLower = 1; break;
        case SQLITE_INDEX_CONSTRAINT_LT: cOp = '<'; bUpper = 1; break;
        case SQLITE_INDEX_CONSTRAINT_LE: cOp = 'l'; bUpper = 1; break;
        default: break;
      }
    }
    if (pCons->op == SQLITE_INDEX_CONSTRAINT_LIMIT) {
      iLimit = i;
      continue;
    }
    if (pCons->op == SQLITE_INDEX_CONSTRAINT_OFFSET) {
      iOffset = i;
      continue;
    }
    if (cOp == 0 || nArg >= (int)sizeof(zPlan) - 3) {
      bOther = 1; /* left for SQLite to check */
      continue;
    }
    zPlan[nArg++] = cOp;
    pInfo->aConstraintUsage[i].argvIndex = nArg;
    pInfo->aConstraintUsage[i].omit = 1;
  }
  /* LIMIT and OFFSET count rows after every constraint: take them only
  ** when no constraint is left for SQLite to apply after us. SQLite before
  ** LOG_LIMIT_SAFE_SINCE also offers LIMIT when the WHERE clause has terms
  ** it never shows xBestIndex (idx > term), then filters our already
  ** limited rows: there, LIMIT is left to SQLite. The cursor is lazy, so
  ** with ORDER BY idx consumed, LIMIT n still reads about n rows. */
  if (!bOther && iLimit >= 0 && sqlite3_libversion_number() >= LOG_LIMIT_SAFE_SINCE) {
    zPlan[nArg++] = 'L';
    pInfo->aConstraintUsage[iLimit].argvIndex = nArg;
    pInfo->aConstraintUsage[iLimit].omit = 1;
    if (iOffset >= 0) {
      zPlan[nArg++] = 'O';
      pInfo->aConstraintUsage[iOffset].argvIndex = nArg;
      pInfo->aConstraintUsage[iOffset].omit = 1;
    }
  }
  zPlan[nArg] = 0;

  pInfo->idxNum = 0;
  if (pInfo->nOrderBy == 1 &&
      (pInfo->aOrderBy[0].iColumn == LOG_COLUMN_IDX || pInfo->aOrderBy[0].iColumn < 0)) {
    pInfo->orderByConsumed = 1;
    if (pInfo->aOrderBy[0].desc) pInfo->idxNum |= LOG_PLAN_DESC;
  }
  pInfo->idxStr = sqlite3_mprintf("%s", zPlan);
  if (pInfo->idxStr == NULL) return SQLITE_NOMEM;
  pInfo->needToFreeIdxStr = 1;
  /* The range query is compiled with the statement that reads raft_log,
  ** not at its first step: a query prepared once and run on a fresh
  ** connection (or once) pays for its compilation when it is prepared,
  ** as a plain SELECT does. A failure here is not the statement's: the
  ** first xFilter tries again and reports it. */
  LogVtab *p = (LogVtab *)pVtab;
  int bDesc = (pInfo->idxNum & LOG_PLAN_DESC) != 0;
  if (p->apSpare[bDesc] == NULL) prepareRead(p, bDesc);

  if (bEq) {
    pInfo->estimatedCost = 1;
    pInfo->estimatedRows = 1;
    pInfo->idxFlags = SQLITE_INDEX_SCAN_UNIQUE;
  } else if (bLower && bUpper) {
    pInfo->estimatedCost = 100;
    pInfo->estimatedRows = 100;
  } else if (bLower || bUpper) {
    pInfo->estimatedCost = 10000;
    pInfo->estimatedRows = 10000;
  } else {
    pInfo->estimatedCost = 1000000;
    pInfo->estimatedRows = 1000000;
  }
  return SQLITE_OK;
}

/* Narrows [*piLo, *piHi] by "idx <op> pVal" with SQLite's comparison
** semantics; returns 0 when no row can match. Text that looks like a number
** compares as that number (the column has INTEGER affinity); other text
** and blobs sort after every integer; NULL matches nothing. */
static int narrowRange(char cOp, sqlite3_value *pVal, i64 *piLo, i64 *piHi) {
  int eType = sqlite3_value_numeric_type(pVal);
  if (eType == SQLITE_NULL) return 0;
  if (eType == SQLITE_TEXT || eType == SQLITE_BLOB) {
    return cOp == '<' || cOp == 'l'; /* every integer is below it */
  }
  i64 iLo = INT64_MIN, iHi = INT64_MAX;
  if (eType == SQLITE_INTEGER) {
    i64 v = sqlite3_value_int64(pVal);
    switch (cOp) {
      case '=': iLo = iHi = v; break;
      case '>': if (v == INT64_MAX) return 0; iLo = v + 1; break;
      case 'g': iLo = v; break;
      case '<': if (v == INT64_MIN) return 0; iHi = v - 1; break;
      case 'l': iHi = v; break;
    }
  } else {
    double r = sqlite3_value_double(pVal);
    if (isnan(r)) return 0;
    /* Whole numbers in [floor, ceil]; beyond the i64 range, clamp. */
    double rFloor = floor(r), rCeil = ceil(r);
    int bAbove = rFloor >= 9223372036854775807.0;
    int bBelow = rCeil < -9223372036854775807.0;
    i64 iFloor = bAbove ? INT64_MAX : bBelow ? INT64_MIN : (i64)rFloor;
    i64 iCeil = bAbove ? INT64_MAX : bBelow ? INT64_MIN : (i64)rCeil;
    switch (cOp) {
      case '=':
        if (rFloor != r || bAbove || bBelow) return 0;
        iLo = iHi = iFloor;
        break;
      case '>':
        if (bAbove) return 0;
        iLo = (rFloor == r) ? iFloor + 1 : iCeil;
        break;
      case 'g': if (bAbove) return 0; iLo = iCeil; break;
      case '<':
        if (bBelow) return 0;
        if (bAbove) break; /* every integer is below it */
        iHi = (rCeil == r) ? iCeil - 1 : iFloor;
        break;
      case 'l': iHi = iFloor; break;
    }
  }
  if (iLo > *piLo) *piLo = iLo;
  if (iHi < *piHi) *piHi = iHi;
  return *piLo <= *piHi;
}

static int logNext(sqlite3_vtab_cursor *cur) {
  LogCursor *pCur = (LogCursor *)cur;
  if (pCur->nLimit == 0) {
    pCur->bEof = 1;
    return SQLITE_OK;
  }
  int rc = rlLogNext(&pCur->reader, &pCur->entry, &pCur->bEof);
  if (rc == SQLITE_OK) {
    if (pCur->nLimit > 0 && !pCur->bEof) pCur->nLimit--;
    return SQLITE_OK;
  }
  pCur->bEof = 1;
  LogVtab *pVtab = (LogVtab *)cur->pVtab;
  rlLogFail(&pVtab->store, &pCur->reader, rc);
  rlLogClose(&pCur->reader);
  sqlite3_free(pVtab->base.zErrMsg);
  pVtab->base.zErrMsg = sqlite3_mprintf("raft_log: %s", pVtab->store.zErrMsg
                                                           ? pVtab->store.zErrMsg
                                                           : sqlite3_errstr(rc));
  return rc;
}

/* LIMIT or OFFSET as SQLite takes it: an integer (or what converts to one
** exactly); a negative LIMIT is no limit, a negative OFFSET none. */
static int limitValue(sqlite3_value *pVal, i64 *pOut) {
  if (sqlite3_value_numeric_type(pVal) != SQLITE_INTEGER) return SQLITE_MISMATCH;
  *pOut = sqlite3_value_int64(pVal);
  return SQLITE_OK;
}

/* Called before any xColumn, and again for each outer row of a join. */
static int logFilter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr,
                     int argc, sqlite3_value **argv) {
  LogCursor *pCur = (LogCursor *)cur;
  LogVtab *pVtab = (LogVtab *)cur->pVtab;
  int bDesc = (idxNum & LOG_PLAN_DESC) != 0;
  i64 iLo = INT64_MIN, iHi = INT64_MAX;
  int bAny = 1;
  sqlite3_value *pLimit = NULL, *pOffset = NULL;
  for (int i = 0; i < argc && idxStr[i]; i++) {
    if (idxStr[i] == 'L') {
      pLimit = argv[i];
    } else if (idxStr[i] == 'O') {
      pOffset = argv[i];
    } else if (!narrowRange(idxStr[i], argv[i], &iLo, &iHi)) {
      bAny = 0;
    }
  }

  rlLogClose(&pCur->reader);
  if (pCur->apStmt[bDesc] == NULL && pVtab->apSpare[bDesc] == NULL) {
    int rc = prepareRead(pVtab, bDesc);
    if (rc != SQLITE_OK) {
      rlFailSqlite(&pVtab->store, rc);
      sqlite3_free(pVtab->base.zErrMsg);
      pVtab->base.zErrMsg = sqlite3_mprintf("raft_log: %s", pVtab->store.zErrMsg);
      return rc;
    }
  }
  if (pCur->apStmt[bDesc] == NULL) {
    pCur->apStmt[bDesc] = pVtab->apSpare[bDesc];
    pVtab->apSpare[bDesc] = NULL;
  }
  if (!bAny) { /* an empty range */
    iLo = INT64_MAX;
    iHi = INT64_MIN;
  }
  i64 nOffset = 0;
  pCur->nLimit = -1;
  if ((pLimit && limitValue(pLimit, &pCur->nLimit) != SQLITE_OK) ||
      (pOffset && limitValue(pOffset, &nOffset) != SQLITE_OK)) {
    sqlite3_free(pVtab->base.zErrMsg);
    pVtab->base.zErrMsg = sqlite3_mprintf("raft_log: LIMIT and OFFSET take integers");
    return SQLITE_MISMATCH;
  }
  if (pCur->nLimit < 0) pCur->nLimit = -1;
  sqlite3_reset(pCur->apStmt[bDesc]);
  rlLogOpen(&pCur->reader, pCur->apStmt[bDesc], iLo, iHi, bDesc);
  pCur->bEof = 0;
  /* OFFSET: rows skipped (the lazy cursor reads them, as SQLite would). */
  i64 nLimit = pCur->nLimit;
  pCur->nLimit = -1;
  for (i64 i = 0; i < nOffset && !pCur->bEof; i++) {
    int rc = logNext(cur);
    if (rc != SQLITE_OK) return rc;
  }
  pCur->nLimit = nLimit;
  return pCur->bEof ? SQLITE_OK : logNext(cur);
}

static int logEof(sqlite3_vtab_cursor *cur) {
  return ((LogCursor *)cur)->bEof;
}

static int logColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int iCol) {
  const raftlite_entry *e = &((LogCursor *)cur)->entry;
  switch (iCol) {
    case LOG_COLUMN_IDX: sqlite3_result_int64(ctx, (i64)e->log_id.index); break;
    case LOG_COLUMN_TERM: sqlite3_result_int64(ctx, (i64)e->log_id.term); break;
    case LOG_COLUMN_KIND:
      sqlite3_result_text(ctx, rlKindName((int)e->kind), -1, SQLITE_STATIC);
      break;
    default:
      /* As stored: a membership is text, any other payload a blob (an
      ** empty one too). */
      if (e->kind == RAFTLITE_MEMBERSHIP) {
        sqlite3_result_text64(ctx, e->size ? e->data : "", e->size,
                              SQLITE_TRANSIENT, SQLITE_UTF8);
      } else if (e->size == 0) {
        sqlite3_result_zeroblob(ctx, 0);
      } else {
        sqlite3_result_blob64(ctx, e->data, e->size, SQLITE_TRANSIENT);
      }
      break;
  }
  return SQLITE_OK;
}

static int logRowid(sqlite3_vtab_cursor *cur, sqlite_int64 *pRowid) {
  *pRowid = (i64)((LogCursor *)cur)->entry.log_id.index;
  return SQLITE_OK;
}

/* One entry from an INSERT's column values. */
typedef struct RowSource {
  RlEntrySource base;
  RlStore *pStore;
  sqlite3_value **apCol; /* idx, term, kind, payload */
  sqlite3_value *pRowid;
  int bDone;
} RowSource;

static int rowNext(RlEntrySource *pSrc, raftlite_entry *pOut, int *pEof) {
  RowSource *p = (RowSource *)pSrc;
  if (p->bDone) {
    *pEof = 1;
    return SQLITE_OK;
  }
  p->bDone = 1;
  /* INSERT INTO raft_log(rowid, ...) names the index through the rowid. */
  sqlite3_value *pIdx = p->apCol[LOG_COLUMN_IDX];
  if (sqlite3_value_type(pIdx) == SQLITE_NULL) pIdx = p->pRowid;
  char *zErr = NULL;
  int rc = rlValueEntry(pIdx, p->apCol[LOG_COLUMN_TERM], p->apCol[LOG_COLUMN_KIND],
                        p->apCol[LOG_COLUMN_PAYLOAD], pOut, &zErr);
  if (rc != SQLITE_OK) return rlFailOwned(p->pStore, rc, RAFTLITE_OUT_OF_RANGE, zErr);
  return SQLITE_OK;
}

static int logUpdate(sqlite3_vtab *pVtab, int argc, sqlite3_value **argv,
                     sqlite_int64 *pRowid) {
  LogVtab *p = (LogVtab *)pVtab;
  sqlite3_free(p->base.zErrMsg);
  p->base.zErrMsg = NULL;
  if (argc == 1 || sqlite3_value_type(argv[0]) != SQLITE_NULL) {
    p->base.zErrMsg = sqlite3_mprintf(
        "raft_log: entries are never updated or deleted in place; "
        "use raft_truncate() or raft_purge()");
    return SQLITE_CONSTRAINT;
  }
  if (p->bLent) {
    /* The store is a SQL function's, mid-call. No path leads here today
    ** (raft_log is DIRECTONLY, so no trigger writes it, and a declared
    ** apply statement may write only its own tables): kept so that one
    ** added later fails cleanly instead of sharing the store. */
    p->base.zErrMsg = sqlite3_mprintf(
        "raft_log: cannot be written from inside a raftlite function call");
    return SQLITE_MISUSE;
  }
  RowSource src = {{rowNext}, &p->store, &argv[2], argv[1], 0};
  int rc = rlAppend(&p->store, &src.base, NULL);
  if (rc != SQLITE_OK) {
    p->base.zErrMsg = p->store.zErrMsg ? sqlite3_mprintf("raft_log: %s", p->store.zErrMsg)
                                       : NULL;
    return rc;
  }
  *pRowid = sqlite3_last_insert_rowid(p->store.db);
  return SQLITE_OK;
}

static sqlite3_module logModule = {
    /* iVersion    */ 0,
    /* xCreate     */ logCreate,
    /* xConnect    */ logConnect,
    /* xBestIndex  */ logBestIndex,
    /* xDisconnect */ logDisconnect,
    /* xDestroy    */ logDisconnect,
    /* xOpen       */ logOpen,
    /* xClose      */ logClose,
    /* xFilter     */ logFilter,
    /* xNext       */ logNext,
    /* xEof        */ logEof,
    /* xColumn     */ logColumn,
    /* xRowid      */ logRowid,
    /* xUpdate     */ logUpdate,
    /* xBegin      */ 0,
    /* xSync       */ 0,
    /* xCommit     */ 0,
    /* xRollback   */ 0,
    /* xFindMethod */ 0,
    /* xRename     */ 0,
    /* xSavepoint  */ 0,
    /* xRelease    */ 0,
    /* xRollbackTo */ 0,
    /* xShadowName */ 0,
#if SQLITE_VERSION_NUMBER >= 3044000
    /* xIntegrity */ 0,
#endif
};

int rlRegisterVtabLog(sqlite3 *db) {
  return sqlite3_create_module(db, "raftlite_log", &logModule, NULL);
}
