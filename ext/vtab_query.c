/*
** vtab_query.c — read-only virtual tables over one fixed query.
**
** The tables built on this (raft_hard_state, raft_state, raft_snapshot)
** hold zero or one row each, so there is nothing to plan: xBestIndex takes
** no constraint and SQLite applies them all. xConnect receives the store's
** schema in argv[1]; the query is qualified with it. Each cursor prepares
** its query once and re-runs it on every xFilter.
**
** INNOCUOUS: the tables only read the store, so a view or trigger may use
** them even with trusted_schema=OFF.
*/
#include "vtab_query.h"

#include <string.h>

typedef struct QueryVtab {
  sqlite3_vtab base; /* Base class - must be first */
  sqlite3 *db;
  const RlQueryVtab *pDef;
  char *zSchema;        /* the store's schema (argv[1] of xConnect) */
  char *zSql;           /* pDef->zQuery for this schema */
  sqlite3_stmt *pSpare; /* the query, handed back by a closed cursor */
} QueryVtab;

typedef struct QueryCursor {
  sqlite3_vtab_cursor base; /* Base class - must be first */
  sqlite3_stmt *pStmt;
  sqlite3_int64 iRowid;
  int bEof;
} QueryCursor;

static int queryConnect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                        sqlite3_vtab **ppVtab, char **pzErr) {
  (void)argc;
  (void)pzErr;
  const RlQueryVtab *pDef = pAux;
  int rc = sqlite3_declare_vtab(db, pDef->zDeclare);
  if (rc == SQLITE_OK) rc = sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  if (rc != SQLITE_OK) return rc;
  QueryVtab *pNew = sqlite3_malloc(sizeof(*pNew));
  if (pNew == NULL) return SQLITE_NOMEM;
  memset(pNew, 0, sizeof(*pNew));
  pNew->db = db;
  pNew->pDef = pDef;
  pNew->zSchema = sqlite3_mprintf("%s", argv[1]);
  pNew->zSql = rlExpandSchema(pDef->zQuery, argv[1]);
  if (pNew->zSql == NULL || pNew->zSchema == NULL) {
    sqlite3_free(pNew->zSchema);
    sqlite3_free(pNew->zSql);
    sqlite3_free(pNew);
    return SQLITE_NOMEM;
  }
  *ppVtab = &pNew->base;
  return SQLITE_OK;
}

/* Distinct from queryConnect so that the module is not eponymous. */
static int queryCreate(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                       sqlite3_vtab **ppVtab, char **pzErr) {
  return queryConnect(db, pAux, argc, argv, ppVtab, pzErr);
}

static int queryDisconnect(sqlite3_vtab *pVtab) {
  QueryVtab *p = (QueryVtab *)pVtab;
  sqlite3_finalize(p->pSpare);
  sqlite3_free(p->zSchema);
  sqlite3_free(p->zSql);
  sqlite3_free(p);
  return SQLITE_OK;
}

static int queryBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo) {
  (void)pVtab;
  pInfo->estimatedCost = 1;
  pInfo->estimatedRows = 1;
  return SQLITE_OK;
}

static int queryOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCursor) {
  (void)pVtab;
  QueryCursor *pCur = sqlite3_malloc(sizeof(*pCur));
  if (pCur == NULL) return SQLITE_NOMEM;
  memset(pCur, 0, sizeof(*pCur));
  *ppCursor = &pCur->base;
  return SQLITE_OK;
}

/* The statement goes back to the vtab for the next cursor (preparing costs
** more than reading the row). */
static int queryClose(sqlite3_vtab_cursor *cur) {
  QueryCursor *pCur = (QueryCursor *)cur;
  QueryVtab *p = (QueryVtab *)cur->pVtab;
  if (pCur->pStmt && p->pSpare == NULL) {
    sqlite3_reset(pCur->pStmt);
    p->pSpare = pCur->pStmt;
    pCur->pStmt = NULL;
  }
  sqlite3_finalize(pCur->pStmt);
  sqlite3_free(pCur);
  return SQLITE_OK;
}

/* Reports the connection's error as "raft_state: ...". A missing backing
** table means the store was not installed in this schema. */
static int queryError(QueryCursor *pCur, int rc) {
  QueryVtab *p = (QueryVtab *)pCur->base.pVtab;
  RlStore store;
  rlStoreInit(&store, p->db, p->zSchema, 0);
  rlFailSqlite(&store, rc);
  sqlite3_free(p->base.zErrMsg);
  p->base.zErrMsg = sqlite3_mprintf("%s: %s", p->pDef->zTable,
                                    store.zErrMsg ? store.zErrMsg : "out of memory");
  rlStoreClear(&store);
  return rc;
}

static int queryNext(sqlite3_vtab_cursor *cur) {
  QueryCursor *pCur = (QueryCursor *)cur;
  int rc = sqlite3_step(pCur->pStmt);
  pCur->iRowid++;
  if (rc == SQLITE_ROW) return SQLITE_OK;
  pCur->bEof = 1;
  rc = sqlite3_reset(pCur->pStmt);
  return rc == SQLITE_OK ? rc : queryError(pCur, rc);
}

static int queryFilter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr,
                       int argc, sqlite3_value **argv) {
  (void)idxNum;
  (void)idxStr;
  (void)argc;
  (void)argv;
  QueryCursor *pCur = (QueryCursor *)cur;
  QueryVtab *p = (QueryVtab *)cur->pVtab;
  if (pCur->pStmt == NULL && p->pSpare) {
    pCur->pStmt = p->pSpare;
    p->pSpare = NULL;
  }
  if (pCur->pStmt == NULL) {
    int rc = sqlite3_prepare_v3(p->db, p->zSql, -1,
                                SQLITE_PREPARE_PERSISTENT | SQLITE_PREPARE_NO_VTAB,
                                &pCur->pStmt, NULL);
    if (rc != SQLITE_OK) return queryError(pCur, rc);
  }
  sqlite3_reset(pCur->pStmt);
  pCur->iRowid = 0;
  pCur->bEof = 0;
  return queryNext(cur);
}

static int queryEof(sqlite3_vtab_cursor *cur) {
  return ((QueryCursor *)cur)->bEof;
}

static int queryColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int iCol) {
  sqlite3_result_value(ctx, sqlite3_column_value(((QueryCursor *)cur)->pStmt, iCol));
  return SQLITE_OK;
}

static int queryRowid(sqlite3_vtab_cursor *cur, sqlite_int64 *pRowid) {
  *pRowid = ((QueryCursor *)cur)->iRowid;
  return SQLITE_OK;
}

static sqlite3_module queryModule = {
    /* iVersion    */ 0,
    /* xCreate     */ queryCreate,
    /* xConnect    */ queryConnect,
    /* xBestIndex  */ queryBestIndex,
    /* xDisconnect */ queryDisconnect,
    /* xDestroy    */ queryDisconnect,
    /* xOpen       */ queryOpen,
    /* xClose      */ queryClose,
    /* xFilter     */ queryFilter,
    /* xNext       */ queryNext,
    /* xEof        */ queryEof,
    /* xColumn     */ queryColumn,
    /* xRowid      */ queryRowid,
    /* xUpdate     */ 0,
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

int rlRegisterQueryVtab(sqlite3 *db, const RlQueryVtab *pDef) {
  return sqlite3_create_module(db, pDef->zModule, &queryModule, (void *)pDef);
}
