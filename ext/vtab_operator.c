/*
** vtab_operator.c — what raftlite's read-only virtual tables share
** (vtab_operator.h).
**
** HOW IT WORKS. An operator's view is an eponymous-only module (xCreate
** is NULL: CREATE VIRTUAL TABLE ... USING raft_terms is refused) whose
** declared table ends with a HIDDEN column `schema`. raft_terms('aux') is
** the constraint schema = 'aux', which xBestIndex takes as argv[0] (idxNum
** bit 0x01); without it the schema is main. A plan in which that
** constraint is not usable (a join that supplies it later) is refused
** with SQLITE_CONSTRAINT, so SQLite picks one where it is. A table of the
** store's schema (bInSchema) is a module with an xCreate, not eponymous;
** its schema is the one it was created in (argv[1] of xConnect).
**
** xFilter checks the schema (text; an attached database or temp), then
** runs the view's own xFilter. Statements are prepared for that schema on
** first use (SQLITE_PREPARE_NO_VTAB: they read the backing tables only)
** and stay with the cursor while the schema stays the same; a closed
** cursor hands them to the vtab for the next one (preparing costs more
** than reading a row).
** A statement that cannot be prepared because a backing table is missing
** means the schema holds no store: "raft_terms: no raftlite store in
** schema "aux": run SELECT raft_install('aux')".
**
** INNOCUOUS: the views only read, so a view or trigger may use them even
** with trusted_schema=OFF.
*/
#include "vtab_operator.h"

#include <string.h>

typedef struct OpVtab {
  sqlite3_vtab base; /* Base class - must be first */
  sqlite3 *db;
  const RlOpView *pView;
  char *zHome;                           /* bInSchema: the table's schema */
  char *zSpareSchema;                    /* schema of apSpare, or NULL */
  sqlite3_stmt *apSpare[RL_OP_MAX_STMT]; /* a closed cursor's statements */
} OpVtab;

static void finalizeAll(sqlite3_stmt **ap) {
  for (int i = 0; i < RL_OP_MAX_STMT; i++) {
    sqlite3_finalize(ap[i]);
    ap[i] = NULL;
  }
}

static int opConnect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                     sqlite3_vtab **ppVtab, char **pzErr) {
  (void)argc;
  (void)argv;
  (void)pzErr;
  const RlOpView *pView = pAux;
  char *zDecl = sqlite3_mprintf(pView->bInSchema ? "CREATE TABLE x(%s)"
                                                 : "CREATE TABLE x(%s, schema HIDDEN)",
                                pView->zColumns);
  if (zDecl == NULL) return SQLITE_NOMEM;
  int rc = sqlite3_declare_vtab(db, zDecl);
  sqlite3_free(zDecl);
  if (rc == SQLITE_OK) rc = sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  if (rc != SQLITE_OK) return rc;
  OpVtab *pNew = sqlite3_malloc(sizeof(*pNew));
  if (pNew == NULL) return SQLITE_NOMEM;
  memset(pNew, 0, sizeof(*pNew));
  pNew->db = db;
  pNew->pView = pView;
  if (pView->bInSchema) {
    pNew->zHome = sqlite3_mprintf("%s", argv[1]);
    if (pNew->zHome == NULL) {
      sqlite3_free(pNew);
      return SQLITE_NOMEM;
    }
  }
  *ppVtab = &pNew->base;
  return SQLITE_OK;
}

/* Distinct from opConnect so that a table of the store's schema is not
** eponymous. */
static int opCreate(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                    sqlite3_vtab **ppVtab, char **pzErr) {
  return opConnect(db, pAux, argc, argv, ppVtab, pzErr);
}

static int opDisconnect(sqlite3_vtab *pVtab) {
  OpVtab *p = (OpVtab *)pVtab;
  finalizeAll(p->apSpare);
  sqlite3_free(p->zSpareSchema);
  sqlite3_free(p->zHome);
  sqlite3_free(p);
  return SQLITE_OK;
}

/* idxNum 0x01: argv[0] is the schema. */
#define OP_PLAN_SCHEMA 0x01

static int opBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo) {
  OpVtab *p = (OpVtab *)pVtab;
  int iSchema = -1, bUnusable = 0;
  for (int i = 0; i < pInfo->nConstraint; i++) {
    const struct sqlite3_index_constraint *pCons = &pInfo->aConstraint[i];
    if (pCons->iColumn != p->pView->nCol || pCons->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    if (pCons->usable) iSchema = i;
    else bUnusable = 1;
  }
  pInfo->idxNum = 0;
  if (iSchema >= 0) {
    pInfo->aConstraintUsage[iSchema].argvIndex = 1;
    pInfo->aConstraintUsage[iSchema].omit = 1;
    pInfo->idxNum = OP_PLAN_SCHEMA;
  } else if (bUnusable) {
    return SQLITE_CONSTRAINT;
  }
  /* A table of the store's schema holds one row at most. */
  pInfo->estimatedCost = p->pView->bInSchema ? 1 : 1000;
  pInfo->estimatedRows = p->pView->bInSchema ? 1 : 1000;
  return SQLITE_OK;
}

static int opOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCursor) {
  OpVtab *p = (OpVtab *)pVtab;
  RlOpCursor *pCur = sqlite3_malloc(p->pView->nCursor);
  if (pCur == NULL) return SQLITE_NOMEM;
  memset(pCur, 0, p->pView->nCursor);
  pCur->pView = p->pView;
  *ppCursor = &pCur->base;
  return SQLITE_OK;
}

/* Ends the current scan, if any: the view's state, then the statements. */
static void endScan(RlOpCursor *pCur) {
  if (pCur->pView->xEnd) pCur->pView->xEnd(pCur);
  for (int i = 0; i < RL_OP_MAX_STMT; i++) {
    if (pCur->apStmt[i]) sqlite3_reset(pCur->apStmt[i]);
  }
}

static int opClose(sqlite3_vtab_cursor *cur) {
  RlOpCursor *pCur = (RlOpCursor *)cur;
  OpVtab *p = (OpVtab *)cur->pVtab;
  endScan(pCur);
  if (p->zSpareSchema == NULL && pCur->store.zSchema) {
    p->zSpareSchema = pCur->store.zSchema; /* handed over */
    pCur->store.zSchema = NULL;
    memcpy(p->apSpare, pCur->apStmt, sizeof(p->apSpare));
    memset(pCur->apStmt, 0, sizeof(pCur->apStmt));
  }
  finalizeAll(pCur->apStmt);
  rlStoreClear(&pCur->store);
  sqlite3_free(pCur);
  return SQLITE_OK;
}

int rlOpError(RlOpCursor *pCur, int rc) {
  sqlite3_vtab *pVtab = pCur->base.pVtab;
  if (pCur->store.zErrMsg == NULL && rc != SQLITE_NOMEM) rlFailSqlite(&pCur->store, rc);
  sqlite3_free(pVtab->zErrMsg);
  pVtab->zErrMsg = NULL;
  if (pCur->store.zErrMsg) {
    pVtab->zErrMsg = sqlite3_mprintf("%s: %s", pCur->pView->zName, pCur->store.zErrMsg);
  }
  pCur->bEof = 1;
  return rc;
}

sqlite3_stmt *rlOpStmt(RlOpCursor *pCur, int i, int *pRc) {
  OpVtab *p = (OpVtab *)pCur->base.pVtab;
  *pRc = SQLITE_OK;
  if (pCur->apStmt[i] == NULL && p->zSpareSchema &&
      strcmp(p->zSpareSchema, pCur->store.zSchema) == 0) {
    pCur->apStmt[i] = p->apSpare[i];
    p->apSpare[i] = NULL;
  }
  if (pCur->apStmt[i] == NULL) {
    char *zSql = rlExpandSchema(pCur->pView->azSql[i], pCur->store.zSchema);
    if (zSql == NULL) {
      *pRc = rlOpError(pCur, SQLITE_NOMEM);
      return NULL;
    }
    int rc = sqlite3_prepare_v3(p->db, zSql, -1,
                                SQLITE_PREPARE_PERSISTENT | SQLITE_PREPARE_NO_VTAB,
                                &pCur->apStmt[i], NULL);
    sqlite3_free(zSql);
    if (rc != SQLITE_OK) {
      rlFailSqlite(&pCur->store, rc);
      *pRc = rlOpError(pCur, rc);
      return NULL;
    }
  }
  sqlite3_reset(pCur->apStmt[i]);
  return pCur->apStmt[i];
}

/* Switches the cursor to schema zSchema: its statements are for another. */
static int useSchema(RlOpCursor *pCur, const char *zSchema) {
  if (pCur->store.zSchema && strcmp(pCur->store.zSchema, zSchema) == 0) {
    rlResetError(&pCur->store);
    return SQLITE_OK;
  }
  finalizeAll(pCur->apStmt);
  rlStoreClear(&pCur->store);
  return rlStoreInit(&pCur->store, ((OpVtab *)pCur->base.pVtab)->db, zSchema, 1);
}

static int opFilter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr,
                    int argc, sqlite3_value **argv) {
  (void)idxStr;
  RlOpCursor *pCur = (RlOpCursor *)cur;
  OpVtab *p = (OpVtab *)cur->pVtab;
  endScan(pCur);
  pCur->iRowid = 1;
  pCur->bEof = 0;
  const char *zSchema = p->zHome ? p->zHome : "main";
  if ((idxNum & OP_PLAN_SCHEMA) && argc > 0) {
    if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
      int rc = useSchema(pCur, "main");
      if (rc == SQLITE_OK) rc = rlFail(&pCur->store, RL_MSG_SCHEMA_ARG);
      return rlOpError(pCur, rc);
    }
    zSchema = (const char *)sqlite3_value_text(argv[0]);
    if (zSchema == NULL) return rlOpError(pCur, SQLITE_NOMEM);
  }
  int rc = useSchema(pCur, zSchema);
  if (rc != SQLITE_OK) return rlOpError(pCur, rc);
  /* An attached database, main, or temp (whose absence of a store the
  ** statements report). */
  if (sqlite3_db_filename(p->db, zSchema) == NULL && sqlite3_stricmp(zSchema, "temp") != 0) {
    return rlOpError(pCur, rlFail(&pCur->store, RL_MSG_NO_SCHEMA, zSchema));
  }
  return pCur->pView->xFilter(pCur);
}

static int opNext(sqlite3_vtab_cursor *cur) {
  RlOpCursor *pCur = (RlOpCursor *)cur;
  pCur->iRowid++;
  return pCur->pView->xNext(pCur);
}

static int opEof(sqlite3_vtab_cursor *cur) {
  return ((RlOpCursor *)cur)->bEof;
}

static int opColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int iCol) {
  RlOpCursor *pCur = (RlOpCursor *)cur;
  if (iCol == pCur->pView->nCol) {
    sqlite3_result_text(ctx, pCur->store.zSchema, -1, SQLITE_TRANSIENT);
    return SQLITE_OK;
  }
  return pCur->pView->xColumn(pCur, ctx, iCol);
}

static int opRowid(sqlite3_vtab_cursor *cur, sqlite_int64 *pRowid) {
  *pRowid = ((RlOpCursor *)cur)->iRowid;
  return SQLITE_OK;
}

int rlOpQueryFilter(RlOpCursor *pCur) {
  int rc;
  if (rlOpStmt(pCur, 0, &rc) == NULL) return rc;
  return rlOpQueryNext(pCur);
}

int rlOpQueryNext(RlOpCursor *pCur) {
  int rc = sqlite3_step(pCur->apStmt[0]);
  if (rc == SQLITE_ROW) return SQLITE_OK;
  pCur->bEof = 1;
  rc = sqlite3_reset(pCur->apStmt[0]);
  return rc == SQLITE_OK ? rc : rlOpError(pCur, rc);
}

int rlOpQueryColumn(RlOpCursor *pCur, sqlite3_context *ctx, int iCol) {
  sqlite3_result_value(ctx, sqlite3_column_value(pCur->apStmt[0], iCol));
  return SQLITE_OK;
}

#define OP_MODULE(xCreate)                                                      \
  {                                                                             \
    /* iVersion    */ 0,                                                        \
    /* xCreate     */ xCreate,                                                  \
    /* xConnect    */ opConnect,                                                \
    /* xBestIndex  */ opBestIndex,                                              \
    /* xDisconnect */ opDisconnect,                                             \
    /* xDestroy    */ opDisconnect,                                             \
    /* xOpen       */ opOpen,                                                   \
    /* xClose      */ opClose,                                                  \
    /* xFilter     */ opFilter,                                                 \
    /* xNext       */ opNext,                                                   \
    /* xEof        */ opEof,                                                    \
    /* xColumn     */ opColumn,                                                 \
    /* xRowid      */ opRowid,                                                  \
    /* xUpdate     */ 0,                                                        \
    /* xBegin      */ 0,                                                        \
    /* xSync       */ 0,                                                        \
    /* xCommit     */ 0,                                                        \
    /* xRollback   */ 0,                                                        \
    /* xFindMethod */ 0,                                                        \
    /* xRename     */ 0,                                                        \
    /* xSavepoint  */ 0,                                                        \
    /* xRelease    */ 0,                                                        \
    /* xRollbackTo */ 0,                                                        \
    /* xShadowName */ 0,                                                        \
    /* (xIntegrity, SQLite 3.44: 0) */                                          \
  }
/* Eponymous only (no xCreate): the operator's views. */
static sqlite3_module opViewModule = OP_MODULE(0);
/* Created in a schema by raft_install(). */
static sqlite3_module opTableModule = OP_MODULE(opCreate);

int rlRegisterOpView(sqlite3 *db, const RlOpView *pView) {
  return sqlite3_create_module(db, pView->zModule ? pView->zModule : pView->zName,
                               pView->bInSchema ? &opTableModule : &opViewModule,
                               (void *)pView);
}
