/*
** func_common.c — what the SQL functions share: the optional trailing
** schema argument and the way errors reach the caller.
**
** Every mutating function takes the schema of its store as an optional
** last argument ("main" when absent), so that raft_truncate(5, 'aux')
** works on aux's log as INSERT INTO aux.raft_log does.
*/
#include "raftlite_int.h"

const char *rlFuncSchema(sqlite3_context *ctx, const char *zFunc, int argc,
                         sqlite3_value **argv, int iArg) {
  if (iArg >= argc) return "main";
  if (sqlite3_value_type(argv[iArg]) != SQLITE_TEXT) {
    raftlite_violation_kind eKind;
    char *zErr = NULL;
    int rc = rlMessage(RL_MSG_SCHEMA_ARG, &eKind, &zErr);
    rlFuncValueError(ctx, zFunc, rc, zErr);
    return NULL;
  }
  return (const char *)sqlite3_value_text(argv[iArg]);
}

static void resultError(sqlite3_context *ctx, const char *zFunc, int rc,
                        const char *zMsg) {
  if (rc == SQLITE_NOMEM || zMsg == NULL) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  char *zErr = sqlite3_mprintf("%s: %s", zFunc, zMsg);
  if (zErr == NULL) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_error(ctx, zErr, -1);
  sqlite3_result_error_code(ctx, rc);
  sqlite3_free(zErr);
}

void rlFuncError(sqlite3_context *ctx, const char *zFunc, RlStore *p, int rc) {
  resultError(ctx, zFunc, rc, p->zErrMsg);
}

void rlFuncValueError(sqlite3_context *ctx, const char *zFunc, int rc,
                      char *zErr) {
  resultError(ctx, zFunc, rc, zErr);
  sqlite3_free(zErr);
}

int rlFuncU63(sqlite3_context *ctx, const char *zFunc, sqlite3_value *pVal,
              const char *zName, i64 *pOut) {
  char *zErr = NULL;
  int rc = rlValueU63(pVal, zName, pOut, &zErr);
  if (rc == SQLITE_OK) return 1;
  rlFuncValueError(ctx, zFunc, rc, zErr);
  return 0;
}

void rlFuncRun(sqlite3_context *ctx, const char *zFunc, int argc,
               sqlite3_value **argv, int iSchemaArg, RlFuncOp xOp, void *pArg) {
  const char *zSchema = rlFuncSchema(ctx, zFunc, argc, argv, iSchemaArg);
  if (zSchema == NULL) return;
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  /* The raft_log table's store, whose statements stay prepared between
  ** calls (vtab_log.c says why they live there); a store of the call's
  ** own when there is none to borrow (no store installed yet, or a call
  ** inside a call). */
  RlStore own;
  RlStore *p = rlLendStore(db, zSchema);
  int rc = SQLITE_OK;
  if (p == NULL) {
    p = &own;
    rc = rlStoreInit(&own, db, zSchema, 0);
  }
  i64 iResult = -1;
  if (rc == SQLITE_OK) rc = xOp(p, pArg, &iResult);
  if (rc != SQLITE_OK) {
    rlFuncError(ctx, zFunc, p, rc);
  } else if (iResult >= 0) {
    sqlite3_result_int64(ctx, iResult);
  }
  if (p == &own) {
    rlStoreClear(&own);
  } else {
    rlReturnStore(p);
  }
}

int rlCreateFunction(sqlite3 *db, const char *zName, int nArgMin, int nArgMax,
                     int flags, void (*xFunc)(sqlite3_context *, int, sqlite3_value **)) {
  int rc = SQLITE_OK;
  for (int nArg = nArgMin; rc == SQLITE_OK && nArg <= nArgMax; nArg++) {
    rc = sqlite3_create_function(db, zName, nArg, SQLITE_UTF8 | flags, NULL, xFunc,
                                 NULL, NULL);
  }
  return rc;
}
