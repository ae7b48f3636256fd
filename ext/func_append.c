/*
** func_append.c — raft_append(): append_to_log (docs/contract.md §2).
**
**     SELECT raft_append(1, 1, 'membership', '[[1,2,3]]');
**     SELECT raft_append(2, 1, 'normal', x'00ff');
**     SELECT raft_append('[{"idx":3,"term":1,"kind":"blank"},
**                         {"idx":4,"term":1,"kind":"normal","payload":"set x=1"}]');
**     SELECT raft_append('{"idx":5,"term":2,"kind":"normal","payload":{"k":"x"}}', 'aux');
**
** Two forms, each with an optional trailing schema:
**   raft_append(idx, term, kind, payload)  one entry;
**   raft_append(entries)                   a JSON array of objects shaped like
**                                          raft_log rows (or one such object).
** A JSON payload is the string's text, or for an object or array its JSON
** text; a membership payload is the membership itself. Either form is one
** atomic append: consecutive indexes, non-decreasing terms, the first entry
** following the reference id. Returns the number of entries appended.
** DIRECTONLY: it writes.
*/
#include "raftlite_int.h"

#include <string.h>

/* One entry from the function's arguments. */
typedef struct ArgsSource {
  RlEntrySource base;
  RlStore *pStore;
  sqlite3_value **argv;
  int bDone;
} ArgsSource;

static int argsNext(RlEntrySource *pSrc, raftlite_entry *pOut, int *pEof) {
  ArgsSource *p = (ArgsSource *)pSrc;
  if (p->bDone) {
    *pEof = 1;
    return SQLITE_OK;
  }
  p->bDone = 1;
  char *zErr = NULL;
  int rc = rlValueEntry(p->argv[0], p->argv[1], p->argv[2], p->argv[3], pOut, &zErr);
  if (rc != SQLITE_OK) return rlFailOwned(p->pStore, rc, RAFTLITE_OUT_OF_RANGE, zErr);
  return SQLITE_OK;
}

/* The entries of a JSON array, decoded by SQLite's json_each(). */
typedef struct JsonSource {
  RlEntrySource base;
  RlStore *pStore;
  sqlite3_stmt *pStmt;
} JsonSource;

#define JSON_ENTRIES_SQL                                                      \
  "SELECT e.key, e.type,"                                                     \
  " json_extract(e.value, '$.idx'), json_extract(e.value, '$.term'),"         \
  " json_extract(e.value, '$.kind'), json_extract(e.value, '$.payload'),"     \
  " (SELECT group_concat(key, ', ') FROM json_each(e.value)"                  \
  "  WHERE key NOT IN ('idx', 'term', 'kind', 'payload'))"                    \
  " FROM json_each(CASE WHEN NOT json_valid(?1) THEN 'not RFC 8259 JSON'"    \
  "                     WHEN json_type(?1) = 'array' THEN ?1"               \
  "                     ELSE json_array(json(?1)) END) AS e"

static int jsonNext(RlEntrySource *pSrc, raftlite_entry *pOut, int *pEof) {
  JsonSource *p = (JsonSource *)pSrc;
  int rc = sqlite3_step(p->pStmt);
  if (rc == SQLITE_DONE) {
    *pEof = 1;
    return SQLITE_OK;
  }
  if (rc != SQLITE_ROW) return rlFailSqlite(p->pStore, sqlite3_reset(p->pStmt));

  i64 iElement = sqlite3_column_int64(p->pStmt, 0);
  const char *zType = (const char *)sqlite3_column_text(p->pStmt, 1);
  if (sqlite3_stricmp(zType, "object") != 0) {
    return rlFail(p->pStore, RL_MSG_JSON_NOT_OBJECT, iElement, zType);
  }
  if (sqlite3_column_type(p->pStmt, 6) != SQLITE_NULL) {
    return rlFail(p->pStore, RL_MSG_JSON_UNKNOWN_KEYS, iElement,
                  (const char *)sqlite3_column_text(p->pStmt, 6));
  }
  char *zErr = NULL;
  rc = rlValueEntry(sqlite3_column_value(p->pStmt, 2),
                    sqlite3_column_value(p->pStmt, 3),
                    sqlite3_column_value(p->pStmt, 4),
                    sqlite3_column_value(p->pStmt, 5), pOut, &zErr);
  if (rc != SQLITE_OK) {
    /* "OutOfRange: idx must be ..." becomes
    ** "OutOfRange: element 2 of the array: idx must be ..." */
    const char *zDetail = zErr ? strstr(zErr, ": ") : NULL;
    char *zMsg = zDetail ? sqlite3_mprintf("%.*s: element %lld of the array%s",
                                           (int)(zDetail - zErr), zErr,
                                           iElement, zDetail)
                         : NULL;
    sqlite3_free(zErr);
    return rlFailOwned(p->pStore, rc, RAFTLITE_OUT_OF_RANGE, zMsg);
  }
  return SQLITE_OK;
}

typedef struct AppendArgs {
  int bJson;
  sqlite3_value **argv;
} AppendArgs;

static int appendOp(RlStore *p, void *pArg, i64 *piResult) {
  AppendArgs *a = pArg;
  ArgsSource args = {{argsNext}, p, a->argv, 0};
  JsonSource json = {{jsonNext}, p, NULL};
  int rc = SQLITE_OK;
  if (a->bJson) {
    rc = sqlite3_prepare_v2(p->db, JSON_ENTRIES_SQL, -1, &json.pStmt, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_bind_value(json.pStmt, 1, a->argv[0]);
    if (rc != SQLITE_OK) rc = rlFailSqlite(p, rc);
  }
  if (rc == SQLITE_OK) rc = rlAppend(p, a->bJson ? &json.base : &args.base, piResult);
  sqlite3_finalize(json.pStmt);
  return rc;
}

static void appendFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  AppendArgs a = {argc <= 2, argv};
  rlFuncRun(ctx, "raft_append", argc, argv, a.bJson ? 1 : 4, appendOp, &a);
}

int rlRegisterFuncAppend(sqlite3 *db) {
  int rc = rlCreateFunction(db, "raft_append", 1, 2, SQLITE_DIRECTONLY, appendFunc);
  if (rc == SQLITE_OK) {
    rc = rlCreateFunction(db, "raft_append", 4, 5, SQLITE_DIRECTONLY, appendFunc);
  }
  return rc;
}
