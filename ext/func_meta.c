/*
** func_meta.c — raft_install(), raft_check() and raft_version().
**
**     SELECT raft_install();          -- creates the store in main
**     SELECT raft_install('aux');     -- ... in an attached database
**     SELECT raft_check();            -- 'ok', or one "Kind: detail" per line
**     SELECT raft_version();          -- '0.1.0'
**
** raft_install is idempotent, upgrades an older store and refuses a newer
** one; it returns the store's schema version. raft_check re-verifies the
** store's objects against this library's and its rows against the rules.
**
** Flags: raft_install writes, so it is DIRECTONLY. raft_check only reads,
** but it is an operator's tool with no business in a view or trigger of
** someone else's schema: DIRECTONLY too. raft_version is a constant:
** INNOCUOUS and DETERMINISTIC.
*/
#include "raftlite_int.h"

static int installOp(RlStore *p, void *pArg, i64 *piResult) {
  (void)pArg;
  *piResult = RAFTLITE_SCHEMA_VERSION;
  int rc = rlInstall(p);
  /* As raftlite_open does: an application that only uses SQL cleans up
  ** the images a crash left (best effort, never an error). */
  if (rc == SQLITE_OK) rc = rlSmRemoveLeftoverImages(p);
  return rc;
}

static void installFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  rlFuncRun(ctx, "raft_install", argc, argv, 0, installOp, NULL);
}

static void checkFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const char *zSchema = rlFuncSchema(ctx, "raft_check", argc, argv, 0);
  if (zSchema == NULL) return;
  RlStore store;
  char *zReport = NULL;
  int rc = rlStoreInit(&store, sqlite3_context_db_handle(ctx), zSchema, 0);
  if (rc == SQLITE_OK) rc = rlCheck(&store, &zReport);
  if (rc != SQLITE_OK) {
    rlFuncError(ctx, "raft_check", &store, rc);
  } else if (zReport) {
    sqlite3_result_text(ctx, zReport, -1, sqlite3_free);
  } else {
    sqlite3_result_text(ctx, "ok", -1, SQLITE_STATIC);
  }
  rlStoreClear(&store);
}

static void versionFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  sqlite3_result_text(ctx, RAFTLITE_VERSION, -1, SQLITE_STATIC);
}

int rlRegisterFuncMeta(sqlite3 *db) {
  static const struct {
    const char *zName;
    int nArg;
    int flags;
    void (*xFunc)(sqlite3_context *, int, sqlite3_value **);
  } aFunc[] = {
      {"raft_install", 0, SQLITE_DIRECTONLY, installFunc},
      {"raft_install", 1, SQLITE_DIRECTONLY, installFunc},
      {"raft_check", 0, SQLITE_DIRECTONLY, checkFunc},
      {"raft_check", 1, SQLITE_DIRECTONLY, checkFunc},
      {"raft_version", 0, SQLITE_INNOCUOUS | SQLITE_DETERMINISTIC, versionFunc},
  };
  int rc = SQLITE_OK;
  for (size_t i = 0; rc == SQLITE_OK && i < sizeof(aFunc) / sizeof(aFunc[0]); i++) {
    rc = sqlite3_create_function(db, aFunc[i].zName, aFunc[i].nArg,
                                 SQLITE_UTF8 | aFunc[i].flags, NULL,
                                 aFunc[i].xFunc, NULL, NULL);
  }
  return rc;
}
