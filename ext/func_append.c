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

/* The entries of a JSON array, decoded by SQLite's json_each() in one
** pass: a row per key of each element (RL_STMT_JSON_ENTRIES), so each
** element is parsed once. The fields of an element are copied before the
** statement steps past it (to see where the element ends). */
typedef struct JsonSource {
  RlEntrySource base;
  RlStore *pStore;
  sqlite3_stmt *pStmt;
  int bOnRow;                 /* pStmt is on the next element's first row */
  int bDone;                  /* pStmt reached its end */
  sqlite3_value *apField[4];  /* idx, term, kind, payload of the element */
  sqlite3_value *pNull;       /* a NULL for a field the element lacks */
} JsonSource;

static const char *const azJsonField[4] = {"idx", "term", "kind", "payload"};

static void jsonClearFields(JsonSource *p) {
  for (int k = 0; k < 4; k++) {
    if (p->apField[k] != p->pNull) sqlite3_value_free(p->apField[k]);
    p->apField[k] = NULL;
  }
}

static int jsonStep(JsonSource *p) {
  int rc = sqlite3_step(p->pStmt);
  p->bOnRow = rc == SQLITE_ROW;
  p->bDone = rc == SQLITE_DONE;
  if (rc == SQLITE_ROW || rc == SQLITE_DONE) return SQLITE_OK;
  return rlFailSqlite(p->pStore, sqlite3_reset(p->pStmt));
}

static int jsonNext(RlEntrySource *pSrc, raftlite_entry *pOut, int *pEof) {
  JsonSource *p = (JsonSource *)pSrc;
  jsonClearFields(p);
  if (!p->bOnRow && !p->bDone) {
    int rc = jsonStep(p);
    if (rc != SQLITE_OK) return rc;
  }
  if (p->bDone) {
    *pEof = 1;
    return SQLITE_OK;
  }
  sqlite3_stmt *pStmt = p->pStmt;
  i64 iElement = sqlite3_column_int64(pStmt, 0);
  const char *zType = (const char *)sqlite3_column_text(pStmt, 1);
  if (zType == NULL) return rlFailSqlite(p->pStore, SQLITE_NOMEM);
  if (strcmp(zType, "object") != 0) {
    return rlFail(p->pStore, RL_MSG_JSON_NOT_OBJECT, iElement, zType);
  }
  if (p->pNull == NULL) {
    p->pNull = sqlite3_value_dup(sqlite3_column_value(pStmt, 4));
    if (p->pNull == NULL) return rlFailSqlite(p->pStore, SQLITE_NOMEM);
  }
  sqlite3_str *pUnknown = NULL; /* made at the first unknown key */
  int rc = SQLITE_OK;
  do {
    const char *zKey = (const char *)sqlite3_column_text(pStmt, 2);
    if (zKey != NULL) {
      int k = 0;
      while (k < 4 && strcmp(zKey, azJsonField[k]) != 0) k++;
      if (k == 4) {
        if (pUnknown == NULL) pUnknown = sqlite3_str_new(p->pStore->db);
        sqlite3_str_appendf(pUnknown, "%s%s", sqlite3_str_length(pUnknown) ? ", " : "", zKey);
      } else if (p->apField[k] == NULL) {
        /* A repeated key: the first counts, as for json_extract(). */
        p->apField[k] = sqlite3_value_dup(sqlite3_column_value(pStmt, 3));
        if (p->apField[k] == NULL) rc = SQLITE_NOMEM;
      }
    } else if (sqlite3_column_type(pStmt, 2) != SQLITE_NULL) {
      rc = SQLITE_NOMEM;
    }
    if (rc == SQLITE_OK) rc = jsonStep(p);
  } while (rc == SQLITE_OK && p->bOnRow && sqlite3_column_int64(pStmt, 0) == iElement);
  if (rc == SQLITE_OK && pUnknown) rc = sqlite3_str_errcode(pUnknown);
  char *zUnknown = pUnknown ? sqlite3_str_finish(pUnknown) : NULL;
  if (rc != SQLITE_OK) {
    sqlite3_free(zUnknown);
    return rc == SQLITE_NOMEM ? rlFailSqlite(p->pStore, rc) : rc;
  }
  if (zUnknown != NULL) {
    rc = rlFail(p->pStore, RL_MSG_JSON_UNKNOWN_KEYS, iElement, zUnknown);
    sqlite3_free(zUnknown);
    return rc;
  }
  for (int k = 0; k < 4; k++) {
    if (p->apField[k] == NULL) p->apField[k] = p->pNull;
  }
  char *zErr = NULL;
  rc = rlValueEntry(p->apField[0], p->apField[1], p->apField[2], p->apField[3], pOut, &zErr);
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
  JsonSource json = {{jsonNext}, p, NULL, 0, 0, {NULL, NULL, NULL, NULL}, NULL};
  int rc = SQLITE_OK;
  if (a->bJson) {
    json.pStmt = rlStmt(p, RL_STMT_JSON_ENTRIES);
    if (json.pStmt == NULL) return p->rcStmt;
    rc = sqlite3_bind_value(json.pStmt, 1, a->argv[0]);
    if (rc != SQLITE_OK) rc = rlFailSqlite(p, rc);
  }
  if (rc == SQLITE_OK) rc = rlAppend(p, a->bJson ? &json.base : &args.base, piResult);
  if (json.pStmt != NULL) {
    /* Let go of the bound copy of the JSON text now, not at the next call. */
    sqlite3_reset(json.pStmt);
    sqlite3_clear_bindings(json.pStmt);
  }
  jsonClearFields(&json);
  sqlite3_value_free(json.pNull);
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
