/*
** capi.c — the C API of include/raftlite.h, except snapshots (snapshot.c).
**
** A raftlite handle is an RlStore with persistent statements: the same
** operations (ops.c) as the SQL functions, the same triggers, the same
** messages. What this file adds is the C side of the contract: u64 values
** checked against SQLite's range, out-parameters left empty on error,
** memory the caller frees with the matching *_free function.
*/
#include "raftlite_int.h"

#include <string.h>

/* The opaque handle. */
struct raftlite {
  RlStore store;
};

static raftlite_log_id toLogId(const RlLogId *pId) {
  raftlite_log_id id = {(uint64_t)pId->term, (uint64_t)pId->index};
  return id;
}

/* ------------------------------------------------------------------ */
/* The handle                                                          */

/* Registers the SQL surface unless the connection already has it (loaded
** as an extension, or registered by the application). */
static int registerOnce(sqlite3 *db) {
  sqlite3_stmt *pStmt = NULL;
  int rc = sqlite3_prepare_v2(db,
                              /* registered last by raftlite_register() */
                              "SELECT 1 FROM pragma_function_list"
                              " WHERE name = 'raft_snapshot_install'",
                              -1, &pStmt, NULL);
  int bRegistered = rc == SQLITE_OK && sqlite3_step(pStmt) == SQLITE_ROW;
  sqlite3_finalize(pStmt);
  if (rc != SQLITE_OK) return rc;
  return bRegistered ? SQLITE_OK : raftlite_register(db);
}

int raftlite_open(sqlite3 *db, const char *zSchema, raftlite **ppStore) {
  return raftlite_open_v2(db, zSchema, 0, ppStore);
}

int raftlite_open_v2(sqlite3 *db, const char *zSchema, int flags,
                     raftlite **ppStore) {
  if (ppStore == NULL) return SQLITE_MISUSE;
  *ppStore = NULL;
  if (db == NULL || (flags & ~RAFTLITE_OPEN_RELAXED) != 0) return SQLITE_MISUSE;
  raftlite *p = sqlite3_malloc(sizeof(*p));
  if (p == NULL) return SQLITE_NOMEM;
  int rc = rlStoreInit(&p->store, db, zSchema, 1);
  p->store.bRelaxed = (flags & RAFTLITE_OPEN_RELAXED) != 0;
  /* The store's virtual tables need raftlite's modules on the connection. */
  if (rc == SQLITE_OK) rc = registerOnce(db);
  /* Installing checks the connection as every write does
  ** (docs/contract.md §5): triggers on, and a journal and sync that make a
  ** commit durable. */
  /* Both in one savepoint: a failed open changes nothing. */
  if (rc == SQLITE_OK) {
    rc = rlBegin(&p->store);
    if (rc == SQLITE_OK) {
      rc = rlInstall(&p->store);
      if (rc == SQLITE_OK) rc = rlReclaimReceiving(&p->store);
      rc = rlEnd(&p->store, rc);
    }
  }
  if (rc == SQLITE_OK) rc = rlSmRemoveLeftoverImages(&p->store);
  if (rc != SQLITE_OK) {
    /* The handle is not returned, so its message goes to SQLite's error
    ** log (SQLITE_CONFIG_LOG), the channel meant for such diagnostics. */
    sqlite3_log(rc, "raftlite_open: %s",
                p->store.zErrMsg ? p->store.zErrMsg : sqlite3_errstr(rc));
    rlStoreClear(&p->store);
    sqlite3_free(p);
    return rc;
  }
  *ppStore = p;
  return SQLITE_OK;
}

void raftlite_close(raftlite *p) {
  if (p == NULL) return;
  rlStoreClear(&p->store);
  sqlite3_free(p);
}

const char *raftlite_errmsg(raftlite *p) {
  if (p == NULL) return "out of memory";
  return p->store.zErrMsg ? p->store.zErrMsg : "not an error";
}

raftlite_violation_kind raftlite_violation(raftlite *p) {
  return p ? p->store.eKind : RAFTLITE_NO_VIOLATION;
}

int raftlite_set_state_machine(raftlite *p, const raftlite_state_machine *sm) {
  rlResetError(&p->store);
  if (sm) {
    p->store.sm = *sm;
  } else {
    memset(&p->store.sm, 0, sizeof(p->store.sm));
  }
  return SQLITE_OK;
}

/* ------------------------------------------------------------------ */
/* Hard state                                                          */

int raftlite_save_hard_state(raftlite *p, const raftlite_hard_state *hs) {
  rlResetError(&p->store);
  int rc = rlCheckU64(&p->store, "current_term", hs->current_term);
  if (rc == SQLITE_OK && hs->has_vote) rc = rlCheckU64(&p->store, "voted_for", hs->voted_for);
  if (rc != SQLITE_OK) return rc;
  return rlSaveHardState(&p->store, (i64)hs->current_term, hs->has_vote,
                         (i64)hs->voted_for);
}

int raftlite_read_hard_state(raftlite *p, raftlite_hard_state *hs, int *pFound) {
  memset(hs, 0, sizeof(*hs));
  *pFound = 0;
  rlResetError(&p->store);
  sqlite3_stmt *pStmt = rlStmt(&p->store, RL_STMT_READ_HARD_STATE);
  if (pStmt == NULL) return p->store.rcStmt;
  if (sqlite3_step(pStmt) == SQLITE_ROW) {
    hs->current_term = (uint64_t)sqlite3_column_int64(pStmt, 0);
    hs->has_vote = sqlite3_column_type(pStmt, 1) != SQLITE_NULL;
    hs->voted_for = (uint64_t)sqlite3_column_int64(pStmt, 1);
    *pFound = 1;
  }
  int rc = sqlite3_reset(pStmt);
  if (rc != SQLITE_OK) {
    memset(hs, 0, sizeof(*hs));
    *pFound = 0;
    return rlFailSqlite(&p->store, rc);
  }
  return SQLITE_OK;
}

/* ------------------------------------------------------------------ */
/* Log                                                                 */

int raftlite_get_log_state(raftlite *p, raftlite_log_state *out) {
  memset(out, 0, sizeof(*out));
  rlResetError(&p->store);
  RlState state;
  int rc = rlReadState(&p->store, &state);
  if (rc != SQLITE_OK) return rc;
  out->has_last_purged = state.purged.has;
  out->last_purged_log_id = toLogId(&state.purged);
  out->has_last_log = state.last.has;
  out->last_log_id = toLogId(&state.last);
  return SQLITE_OK;
}

void raftlite_entries_free(raftlite_entries *e) {
  if (e == NULL) return;
  for (size_t i = 0; i < e->n; i++) sqlite3_free((void *)e->a[i].data);
  sqlite3_free(e->a);
  e->a = NULL;
  e->n = 0;
}

int raftlite_try_get_log_entries(raftlite *p, uint64_t start, uint64_t stop,
                                 raftlite_entries *out) {
  memset(out, 0, sizeof(*out));
  rlResetError(&p->store);
  int rc = rlCheckU64(&p->store, "start", start);
  if (rc == SQLITE_OK && stop != RAFTLITE_UNBOUNDED) rc = rlCheckU64(&p->store, "stop", stop);
  if (rc != SQLITE_OK || start >= stop) return rc;
  /* [start, stop) as the inclusive range the statement takes. */
  i64 iLast = stop == RAFTLITE_UNBOUNDED ? INT64_MAX : (i64)stop - 1;

  sqlite3_stmt *pStmt = rlStmt(&p->store, RL_STMT_READ_SEGMENTS);
  if (pStmt == NULL) return p->store.rcStmt;
  RlLogReader reader;
  rlLogOpen(&reader, pStmt, (i64)start, iLast, 0);
  raftlite_entries got = {NULL, 0};
  size_t nAlloc = 0;
  while (rc == SQLITE_OK) {
    raftlite_entry e;
    int bEof = 0;
    rc = rlLogNext(&reader, &e, &bEof);
    if (rc != SQLITE_OK) {
      rc = rlLogFail(&p->store, &reader, rc);
      break;
    }
    if (bEof) break;
    if (got.n == nAlloc) {
      nAlloc = nAlloc ? nAlloc * 2 : 16;
      raftlite_entry *aNew = sqlite3_realloc64(got.a, nAlloc * sizeof(*aNew));
      if (aNew == NULL) {
        rc = SQLITE_NOMEM;
        break;
      }
      got.a = aNew;
    }
    /* A copy of the payload, plus a NUL (memberships are text). */
    void *pCopy;
    rc = rlCopyBytes(e.data, e.size, &pCopy);
    e.data = pCopy;
    if (rc == SQLITE_OK) got.a[got.n++] = e;
  }
  int rcReset = rlLogClose(&reader);
  if (rc == SQLITE_OK && rcReset != SQLITE_OK) rc = rlFailSqlite(&p->store, rcReset);
  if (rc != SQLITE_OK) {
    raftlite_entries_free(&got);
    return rc;
  }
  *out = got;
  return SQLITE_OK;
}

/* Entries from the caller's array. */
typedef struct ArraySource {
  RlEntrySource base;
  const raftlite_entry *a;
  size_t n, i;
} ArraySource;

static int arrayNext(RlEntrySource *pSrc, raftlite_entry *pOut, int *pEof) {
  ArraySource *p = (ArraySource *)pSrc;
  if (p->i == p->n) {
    *pEof = 1;
  } else {
    *pOut = p->a[p->i++];
  }
  return SQLITE_OK;
}

int raftlite_append_to_log(raftlite *p, const raftlite_entry *a, size_t n) {
  ArraySource src = {{arrayNext}, a, n, 0};
  return rlAppend(&p->store, &src.base, NULL);
}

int raftlite_delete_conflict_logs_since(raftlite *p, raftlite_log_id since) {
  rlResetError(&p->store);
  int rc = rlCheckU64(&p->store, "term", since.term);
  if (rc == SQLITE_OK) rc = rlCheckU64(&p->store, "index", since.index);
  if (rc != SQLITE_OK) return rc;
  return rlTruncate(&p->store, (i64)since.index, NULL);
}

int raftlite_purge_logs_upto(raftlite *p, raftlite_log_id upto) {
  rlResetError(&p->store);
  int rc = rlCheckU64(&p->store, "term", upto.term);
  if (rc == SQLITE_OK) rc = rlCheckU64(&p->store, "index", upto.index);
  if (rc != SQLITE_OK) return rc;
  return rlPurge(&p->store, (i64)upto.index, 1, (i64)upto.term, NULL);
}

int raftlite_purge_upto(raftlite *p, uint64_t index) {
  rlResetError(&p->store);
  int rc = rlCheckU64(&p->store, "index", index);
  if (rc != SQLITE_OK) return rc;
  return rlPurgeByIndex(&p->store, (i64)index);
}

int raftlite_get_log_id(raftlite *p, uint64_t index, raftlite_log_id *out) {
  memset(out, 0, sizeof(*out));
  rlResetError(&p->store);
  int rc = rlCheckU64(&p->store, "index", index);
  if (rc != SQLITE_OK) return rc;
  sqlite3_stmt *pStmt = rlStmt(&p->store, RL_STMT_READ_ENTRY);
  if (pStmt == NULL) return p->store.rcStmt;
  sqlite3_bind_int64(pStmt, 1, (i64)index);
  int bFound = sqlite3_step(pStmt) == SQLITE_ROW;
  if (bFound) {
    out->term = (uint64_t)sqlite3_column_int64(pStmt, 0);
    out->index = index;
  }
  rc = sqlite3_reset(pStmt);
  if (rc != SQLITE_OK) {
    memset(out, 0, sizeof(*out));
    return rlFailSqlite(&p->store, rc);
  }
  if (!bFound) {
    /* At the last purged index the last purged log id is known (engines
    ** ask for the term at prev_log_index right after a snapshot). */
    RlState state;
    rc = rlReadState(&p->store, &state);
    if (rc != SQLITE_OK) return rc;
    if (state.purged.has && state.purged.index == (i64)index) {
      out->term = (uint64_t)state.purged.term;
      out->index = index;
      return SQLITE_OK;
    }
    return rlFail(&p->store, RL_MSG_NOT_FOUND, (i64)index);
  }
  return SQLITE_OK;
}

/* ------------------------------------------------------------------ */
/* Applied state and membership                                        */

void raftlite_applied_state_free(raftlite_applied_state *s) {
  rlAppliedStateFree(s);
}

int raftlite_last_applied_state(raftlite *p, raftlite_applied_state *out) {
  rlResetError(&p->store);
  return rlReadApplied(&p->store, out);
}

int raftlite_get_membership(raftlite *p, raftlite_applied_state *out) {
  /* The applied state gives the fallback and last_applied's index. */
  int rc = raftlite_last_applied_state(p, out);
  if (rc != SQLITE_OK) return rc;
  out->has_applied = 0;
  memset(&out->last_applied, 0, sizeof(out->last_applied));
  sqlite3_stmt *pStmt = rlStmt(&p->store, RL_STMT_READ_LOG_MEMBERSHIP);
  if (pStmt == NULL) {
    raftlite_applied_state_free(out);
    return SQLITE_ERROR;
  }
  RlState state;
  rc = rlReadState(&p->store, &state);
  sqlite3_bind_int64(pStmt, 1, state.applied.has ? state.applied.index : -1);
  if (rc == SQLITE_OK && sqlite3_step(pStmt) == SQLITE_ROW) {
    sqlite3_free(out->membership_json);
    out->membership_json = NULL;
    out->has_membership = 1;
    out->membership_log_id.term = (uint64_t)sqlite3_column_int64(pStmt, 0);
    out->membership_log_id.index = (uint64_t)sqlite3_column_int64(pStmt, 1);
    rc = rlCopyBytes(sqlite3_column_text(pStmt, 2),
                   (size_t)sqlite3_column_bytes(pStmt, 2),
                   (void **)&out->membership_json);
  }
  int rcReset = sqlite3_reset(pStmt);
  if (rc == SQLITE_OK && rcReset != SQLITE_OK) rc = rlFailSqlite(&p->store, rcReset);
  if (rc != SQLITE_OK) raftlite_applied_state_free(out);
  return rc;
}

void raftlite_responses_free(raftlite_responses *r) {
  if (r == NULL) return;
  for (size_t i = 0; i < r->n; i++) sqlite3_free(r->a[i].data);
  sqlite3_free(r->a);
  r->a = NULL;
  r->n = 0;
}

int raftlite_apply_to_state_machine(raftlite *p, const raftlite_entry *a,
                                    size_t n, raftlite_responses *out) {
  return rlApplyEntries(&p->store, a, n, out);
}

int raftlite_apply_upto(raftlite *p, uint64_t index, raftlite_responses *out) {
  if (out) memset(out, 0, sizeof(*out));
  rlResetError(&p->store);
  int rc = rlCheckU64(&p->store, "index", index);
  if (rc != SQLITE_OK) return rc;
  i64 iApplied;
  return rlApplyLog(&p->store, (i64)index, &iApplied, out);
}

int raftlite_get_initial_state(raftlite *p, raftlite_log_state *log,
                               raftlite_applied_state *applied,
                               raftlite_hard_state *hs, int *pHasHardState) {
  memset(log, 0, sizeof(*log));
  memset(applied, 0, sizeof(*applied));
  memset(hs, 0, sizeof(*hs));
  *pHasHardState = 0;
  /* As openraft does: a log that ends below last_applied is first purged
  ** up to last_applied. The purge and the reads are one call: a failure
  ** after the purge must not leave it committed. */
  RlState state;
  int rc = rlBegin(&p->store);
  if (rc != SQLITE_OK) return rc;
  rc = rlReadState(&p->store, &state);
  if (rc == SQLITE_OK && rlLogIdCmp(&state.applied, &state.last) > 0) {
    rc = rlPurge(&p->store, state.applied.index, 1, state.applied.term, NULL);
  }
  if (rc == SQLITE_OK) rc = raftlite_get_log_state(p, log);
  raftlite_applied_state membership;
  if (rc == SQLITE_OK) rc = raftlite_get_membership(p, &membership);
  if (rc == SQLITE_OK) {
    rc = raftlite_last_applied_state(p, applied);
    if (rc == SQLITE_OK) {
      /* last_applied from the applied state, membership as get_membership. */
      sqlite3_free(applied->membership_json);
      applied->has_membership = membership.has_membership;
      applied->membership_log_id = membership.membership_log_id;
      applied->membership_json = membership.membership_json;
    } else {
      raftlite_applied_state_free(&membership);
    }
  }
  if (rc == SQLITE_OK) rc = raftlite_read_hard_state(p, hs, pHasHardState);
  rc = rlEnd(&p->store, rc);
  if (rc != SQLITE_OK) {
    memset(log, 0, sizeof(*log));
    raftlite_applied_state_free(applied);
    memset(hs, 0, sizeof(*hs));
    *pHasHardState = 0;
  }
  return rc;
}

/* ------------------------------------------------------------------ */
/* Snapshots (snapshot.c)                                              */

void raftlite_snapshot_meta_free(raftlite_snapshot_meta *meta) {
  if (meta == NULL) return;
  sqlite3_free(meta->membership_json);
  meta->membership_json = NULL;
}

int raftlite_build_snapshot(raftlite *p, raftlite_snapshot_meta *meta,
                            raftlite_snapshot **ppData) {
  return rlBuildSnapshot(&p->store, meta, ppData);
}

int raftlite_begin_receiving_snapshot(raftlite *p, raftlite_snapshot **ppData) {
  return rlBeginReceiving(&p->store, ppData);
}

int raftlite_begin_snapshot(raftlite *p, raftlite_snapshot **ppData) {
  return rlBeginReceiving(&p->store, ppData);
}

int raftlite_commit_snapshot(raftlite *p, raftlite_snapshot *data,
                             raftlite_snapshot_meta *meta) {
  return rlCommitSnapshot(&p->store, data, meta);
}

int raftlite_install_snapshot(raftlite *p, const raftlite_snapshot_meta *meta,
                              raftlite_snapshot *data, raftlite_sm_changes *out) {
  return rlInstallSnapshot(&p->store, meta, data, out);
}

int raftlite_get_current_snapshot(raftlite *p, raftlite_snapshot_meta *meta,
                                  raftlite_snapshot **ppData) {
  return rlGetCurrentSnapshot(&p->store, meta, ppData);
}
