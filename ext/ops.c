/*
** ops.c — the operations (docs/contract.md §2), one implementation each.
**
** The SQL functions, the raft_log vtab and the C API all end up here. An
** operation opens the store's savepoint (rlBegin), writes the backing
** tables with plain statements, and releases or rolls back (rlEnd).
**
** The rules themselves are not decided here: the triggers in sql/ refuse
** every write that would break one, whoever writes. What this file adds is
** the part a trigger cannot do — a message with the ids involved, composed
** from the state read before the write and the kind named by the RAISE —
** and the steps an operation takes in order (an append that follows
** last_applied first moves last_purged up to it, contract §2).
*/
#include "raftlite_int.h"

#include <string.h>

int rlCheckU64(RlStore *p, const char *zWhat, uint64_t v) {
  if (v <= (uint64_t)INT64_MAX) return SQLITE_OK;
  return rlFail(p, RL_MSG_OUT_OF_RANGE_U64, zWhat, (unsigned long long)v);
}

static RlLogId entryLogId(const raftlite_entry *e) {
  RlLogId id = {1, (i64)e->log_id.term, (i64)e->log_id.index};
  return id;
}

static int failInvalidMembership(RlStore *p, int rc, const raftlite_entry *e);

/* Binds the payload of e as SQLite should store it: blank and normal as a
** blob (never NULL, even when empty), membership as text for json(). A
** failed bind (SQLITE_NOMEM, SQLITE_TOOBIG) is recorded as such, with no
** violation kind: it says nothing about the membership. */
static int bindPayload(RlStore *p, sqlite3_stmt *pStmt, int iParam,
                       const raftlite_entry *e) {
  int rc;
  if (e->kind == RAFTLITE_MEMBERSHIP) {
    /* SQLite's JSON parser stops at a NUL: json() would keep the text
    ** before it and drop the rest without a word. JSON text holds no NUL. */
    if (e->size > 0 && memchr(e->data, 0, e->size) != NULL) {
      p->eKind = RAFTLITE_INVALID_MEMBERSHIP;
      return failInvalidMembership(p, SQLITE_CONSTRAINT, e);
    }
    rc = sqlite3_bind_text64(pStmt, iParam, e->data ? e->data : "", e->size,
                             SQLITE_TRANSIENT, SQLITE_UTF8);
  } else if (e->size == 0 || e->kind == RAFTLITE_BLANK) {
    rc = sqlite3_bind_zeroblob(pStmt, iParam, 0);
  } else {
    rc = sqlite3_bind_blob64(pStmt, iParam, e->data, e->size, SQLITE_TRANSIENT);
  }
  return rc == SQLITE_OK ? rc : rlFailSqlite(p, rc);
}

/* The payload of an entry given through the C API, checked before anything
** reads it (value.c): data NULL with a size, or more bytes than a value
** holds. */
static int checkPayload(RlStore *p, const raftlite_entry *e) {
  raftlite_violation_kind eKind;
  char *zErr = NULL;
  int rc = rlEntryPayloadCheck(e, sqlite3_limit(p->db, SQLITE_LIMIT_LENGTH, -1), &eKind, &zErr);
  return rc == SQLITE_OK ? rc : rlFailOwned(p, rc, eKind, zErr);
}

/* Steps a write and records its failure. */
static int stepWrite(RlStore *p, sqlite3_stmt *pStmt) {
  int rc = sqlite3_step(pStmt);
  if (rc == SQLITE_DONE) return sqlite3_reset(pStmt);
  rc = rlFailSqlite(p, sqlite3_reset(pStmt));
  return rc;
}

/* Replaces the trigger's constant message by the composed one when the
** write failed on an invalid membership: the trigger's RAISE (kind
** InvalidMembership), or json()'s own "malformed JSON" error, a plain
** SQLITE_ERROR that json() raises before any trigger runs. Every other
** failure (SQLITE_NOMEM, I/O errors, another rule) stays as it is. */
static int failInvalidMembership(RlStore *p, int rc, const raftlite_entry *e) {
  int bInvalid = 0;
  if ((rc & 0xff) == SQLITE_CONSTRAINT) {
    bInvalid = p->eKind == RAFTLITE_INVALID_MEMBERSHIP;
  } else if ((rc & 0xff) == SQLITE_ERROR) {
    bInvalid = p->eKind == RAFTLITE_NO_VIOLATION && p->zErrMsg &&
               strstr(p->zErrMsg, "malformed JSON") != NULL;
  }
  if (!bInvalid) return rc;
  char zId[RL_LOGID_BUF];
  RlLogId id = entryLogId(e);
  int n = e->size > 60 ? 60 : (int)e->size;
  return rlFail(p, RL_MSG_INVALID_MEMBERSHIP, rlLogIdText(&id, zId), n,
                e->data ? (const char *)e->data : "");
}

/* ------------------------------------------------------------------ */
/* save_hard_state                                                     */

int rlSaveHardState(RlStore *p, i64 iTerm, int bHasVote, i64 iVote) {
  int rc = rlBegin(p);
  if (rc != SQLITE_OK) return rc;

  /* The stored hard state, for the message should the triggers refuse. */
  i64 iOldTerm = 0, iOldVote = 0;
  sqlite3_stmt *pStmt = rlStmt(p, RL_STMT_READ_HARD_STATE);
  if (pStmt == NULL) return rlEnd(p, p->rcStmt);
  if (sqlite3_step(pStmt) == SQLITE_ROW) {
    iOldTerm = sqlite3_column_int64(pStmt, 0);
    iOldVote = sqlite3_column_int64(pStmt, 1);
  }
  rc = sqlite3_reset(pStmt);
  if (rc != SQLITE_OK) return rlEnd(p, rlFailSqlite(p, rc));

  pStmt = rlStmt(p, RL_STMT_SAVE_HARD_STATE);
  if (pStmt == NULL) return rlEnd(p, p->rcStmt);
  sqlite3_bind_int64(pStmt, 1, iTerm);
  if (bHasVote) sqlite3_bind_int64(pStmt, 2, iVote);
  rc = stepWrite(p, pStmt);
  if (p->eKind == RAFTLITE_TERM_NOT_ASCENDING) {
    rc = rlFail(p, RL_MSG_TERM_DOWN, iOldTerm, iTerm);
  } else if (p->eKind == RAFTLITE_VOTED_FOR_CHANGED) {
    char *zGot = bHasVote ? sqlite3_mprintf("%lld", iVote)
                          : sqlite3_mprintf("no vote");
    rc = rlFail(p, RL_MSG_VOTE_CHANGED, iOldTerm, iOldVote, zGot ? zGot : "?");
    sqlite3_free(zGot);
  }
  return rlEnd(p, rc);
}

/* ------------------------------------------------------------------ */
/* append_to_log                                                       */

/* Appends one entry. pPrev is the previous entry of the batch, or NULL for
** the first, which follows the reference id of the stored state *pState. */
static int appendOne(RlStore *p, const raftlite_entry *e,
                     const RlLogId *pPrev, const RlState *pState) {
  int rc = rlCheckU64(p, "term", e->log_id.term);
  if (rc == SQLITE_OK) rc = rlCheckU64(p, "idx", e->log_id.index);
  if (rc != SQLITE_OK) return rc;
  const char *zKind = rlKindName((int)e->kind);
  if (zKind == NULL) {
    char zGot[32];
    sqlite3_snprintf(sizeof(zGot), zGot, "%d", (int)e->kind);
    return rlFail(p, RL_MSG_BAD_KIND, zGot);
  }
  rc = checkPayload(p, e);
  if (rc != SQLITE_OK) return rc;

  /* contract §2: when the reference is last_applied (the log ends below
  ** it), the append first purges up to last_applied. The triggers refuse the
  ** insert otherwise (it would leave a hole). */
  if (pPrev == NULL && rlLogIdCmp(&pState->applied, &pState->last) > 0) {
    sqlite3_stmt *pPurge = rlStmt(p, RL_STMT_SET_PURGED);
    if (pPurge == NULL) return p->rcStmt;
    sqlite3_bind_int64(pPurge, 1, pState->applied.term);
    sqlite3_bind_int64(pPurge, 2, pState->applied.index);
    rc = stepWrite(p, pPurge);
    if (rc != SQLITE_OK) return rc;
  }

  sqlite3_stmt *pStmt = rlStmt(p, RL_STMT_INSERT_ENTRY);
  if (pStmt == NULL) return p->rcStmt;
  sqlite3_bind_int64(pStmt, 1, (i64)e->log_id.index);
  sqlite3_bind_int64(pStmt, 2, (i64)e->log_id.term);
  sqlite3_bind_text(pStmt, 3, zKind, -1, SQLITE_STATIC);
  rc = bindPayload(p, pStmt, 4, e);
  if (rc == SQLITE_OK) rc = stepWrite(p, pStmt);
  if (rc == SQLITE_OK) return rc;

  char zRef[RL_LOGID_BUF], zGot[RL_LOGID_BUF];
  RlLogId got = entryLogId(e);
  if (p->eKind == RAFTLITE_LOGS_NON_CONSECUTIVE) {
    if (pPrev) {
      return rlFail(p, RL_MSG_NOT_CONSECUTIVE_BATCH, rlLogIdText(pPrev, zRef),
                    rlLogIdText(&got, zGot));
    }
    const RlLogId *pRef = &pState->last;
    const char *zWhat = "last log id";
    if (rlLogIdCmp(&pState->applied, pRef) > 0) {
      pRef = &pState->applied;
      zWhat = "last applied log id";
    }
    return rlFail(p, RL_MSG_NOT_CONSECUTIVE, zWhat, rlLogIdText(pRef, zRef),
                  rlLogIdText(&got, zGot));
  }
  return failInvalidMembership(p, rc, e);
}

int rlAppend(RlStore *p, RlEntrySource *pSrc, i64 *pnEntries) {
  RlState state;
  int rc = rlBegin(p);
  if (rc != SQLITE_OK) return rc;
  rc = rlReadState(p, &state);
  RlLogId prev = {0, 0, 0};
  size_t n = 0;
  while (rc == SQLITE_OK) {
    raftlite_entry e;
    int bEof = 0;
    rc = pSrc->xNext(pSrc, &e, &bEof);
    if (rc != SQLITE_OK || bEof) break;
    rc = appendOne(p, &e, n ? &prev : NULL, &state);
    prev = entryLogId(&e);
    n++;
  }
  if (rc == SQLITE_OK && n == 0) rc = rlFail(p, RL_MSG_LOGS_EMPTY);
  if (pnEntries) *pnEntries = (i64)n;
  return rlEnd(p, rc);
}

/* ------------------------------------------------------------------ */
/* delete_conflict_logs_since                                          */

/* How many present entries have an index in [iLo, iHi]: the present
** entries are exactly first..last. */
static i64 countPresent(const RlState *pState, i64 iLo, i64 iHi) {
  if (!pState->first.has) return 0;
  if (iLo < pState->first.index) iLo = pState->first.index;
  if (iHi > pState->last.index) iHi = pState->last.index;
  return iHi >= iLo ? iHi - iLo + 1 : 0;
}

int rlTruncate(RlStore *p, i64 iIndex, i64 *pnEntries) {
  RlState state;
  int rc = rlBegin(p);
  if (rc != SQLITE_OK) return rc; /* nothing to roll back */
  if (rc == SQLITE_OK) rc = rlReadState(p, &state);
  if (rc != SQLITE_OK) return rlEnd(p, rc);
  sqlite3_stmt *pStmt = rlStmt(p, RL_STMT_TRUNCATE);
  if (pStmt == NULL) return rlEnd(p, p->rcStmt);
  sqlite3_bind_int64(pStmt, 1, iIndex);
  rc = stepWrite(p, pStmt);
  if (p->eKind == RAFTLITE_APPLIED_WONT_CONFLICT) {
    char zApplied[RL_LOGID_BUF];
    rc = rlFail(p, RL_MSG_TRUNCATE_APPLIED, rlLogIdText(&state.applied, zApplied),
                iIndex);
  }
  if (pnEntries) *pnEntries = countPresent(&state, iIndex, INT64_MAX);
  return rlEnd(p, rc);
}

/* ------------------------------------------------------------------ */
/* purge_logs_upto                                                     */

int rlReadEntryTerm(RlStore *p, i64 iIndex, int *pbFound, i64 *piTerm) {
  sqlite3_stmt *pStmt = rlStmt(p, RL_STMT_READ_ENTRY);
  if (pStmt == NULL) return p->rcStmt;
  sqlite3_bind_int64(pStmt, 1, iIndex);
  *pbFound = sqlite3_step(pStmt) == SQLITE_ROW;
  *piTerm = *pbFound ? sqlite3_column_int64(pStmt, 0) : 0;
  int rc = sqlite3_reset(pStmt);
  return rc == SQLITE_OK ? rc : rlFailSqlite(p, rc);
}

int rlPurge(RlStore *p, i64 iIndex, int bHasTerm, i64 iTerm, i64 *pnEntries) {
  RlState state;
  int rc = rlBegin(p);
  if (rc != SQLITE_OK) return rc; /* nothing to roll back */
  if (rc == SQLITE_OK) rc = rlReadState(p, &state);
  int bFound = 0;
  i64 iEntryTerm = 0;
  if (rc == SQLITE_OK) rc = rlReadEntryTerm(p, iIndex, &bFound, &iEntryTerm);
  if (rc != SQLITE_OK) return rlEnd(p, rc);

  char zA[RL_LOGID_BUF], zB[RL_LOGID_BUF];
  RlLogId got = {1, bHasTerm ? iTerm : iEntryTerm, iIndex};
  if (pnEntries) *pnEntries = countPresent(&state, 0, iIndex);
  /* At or below last_purged (as log ids): a no-op. An id of a greater
  ** term at a lower index goes on to the triggers (install_snapshot of a
  ** newer term does that). */
  if (state.purged.has && iIndex <= state.purged.index &&
      (!bHasTerm || rlLogIdCmp(&got, &state.purged) <= 0)) {
    return rlEnd(p, rc);
  }
  /* Below last_purged as a log id at a greater index (found by
  ** fuzz_capi: the trigger's PurgeNotAscending names no C kind), or at a
  ** lower index other than to last_applied: LogIdMismatch. */
  if (state.purged.has &&
      ((bHasTerm && iIndex > state.purged.index && rlLogIdCmp(&got, &state.purged) < 0) ||
       (iIndex <= state.purged.index && rlLogIdCmp(&got, &state.applied) != 0))) {
    rc = rlFail(p, RL_MSG_PURGE_BELOW_PURGED, rlLogIdText(&state.purged, zA),
                rlLogIdText(&got, zB));
    return rlEnd(p, rc);
  }
  if (!bFound && !bHasTerm) {
    /* Absent and not purged: below the first entry, or past the last. */
    if (state.first.has && iIndex < state.first.index) {
      rc = rlFail(p, RL_MSG_PURGE_BELOW_FIRST, iIndex, state.first.index,
                  state.last.index);
    } else {
      rc = rlFail(p, RL_MSG_PURGE_NEEDS_TERM, iIndex,
                  rlLogIdText(&state.last, zA));
    }
    return rlEnd(p, rc);
  }

  sqlite3_stmt *pStmt = rlStmt(p, RL_STMT_SET_PURGED);
  if (pStmt == NULL) return rlEnd(p, p->rcStmt);
  sqlite3_bind_int64(pStmt, 1, got.term);
  sqlite3_bind_int64(pStmt, 2, got.index);
  rc = stepWrite(p, pStmt);
  if (p->eKind == RAFTLITE_PURGE_NON_APPLIED) {
    rc = rlFail(p, RL_MSG_PURGE_NOT_APPLIED, rlLogIdText(&state.applied, zA),
                rlLogIdText(&got, zB));
  } else if (p->eKind == RAFTLITE_LOG_ID_MISMATCH && bFound) {
    RlLogId held = {1, iEntryTerm, iIndex};
    rc = rlFail(p, RL_MSG_PURGE_MISMATCH, rlLogIdText(&held, zA),
                rlLogIdText(&got, zB));
  } else if (p->eKind == RAFTLITE_LOG_ID_MISMATCH && state.first.has &&
             got.index < state.first.index) {
    rc = rlFail(p, RL_MSG_PURGE_ABOVE_FIRST, rlLogIdText(&got, zB),
                rlLogIdText(&state.first, zA));
  } else if (p->eKind == RAFTLITE_LOG_ID_MISMATCH) {
    rc = rlFail(p, RL_MSG_PURGE_BELOW_LAST, rlLogIdText(&state.last, zA),
                rlLogIdText(&got, zB));
  } else if (p->eKind == RAFTLITE_LOGS_NON_CONSECUTIVE) {
    rc = rlFail(p, RL_MSG_PURGE_GAP, state.first.index, rlLogIdText(&got, zB));
  }
  return rlEnd(p, rc);
}

/* ------------------------------------------------------------------ */
/* apply_to_state_machine                                              */

/* Applies one entry: the state machine's change (normal entries) and the
** new last_applied (and membership) in the caller's savepoint. pPrev is the
** previous entry of the batch, or NULL for the first. */
static int applyOne(RlStore *p, const raftlite_entry *e, const RlLogId *pPrev,
                    const RlState *pState, raftlite_response *pResponse) {
  int rc = rlCheckU64(p, "term", e->log_id.term);
  if (rc == SQLITE_OK) rc = rlCheckU64(p, "idx", e->log_id.index);
  if (rc != SQLITE_OK) return rc;
  if (rlKindName((int)e->kind) == NULL) {
    char zGot[32];
    sqlite3_snprintf(sizeof(zGot), zGot, "%d", (int)e->kind);
    return rlFail(p, RL_MSG_BAD_KIND, zGot);
  }
  rc = checkPayload(p, e);
  if (rc != SQLITE_OK) return rc;

  int bMembership = e->kind == RAFTLITE_MEMBERSHIP;
  sqlite3_stmt *pStmt = rlStmt(p, bMembership ? RL_STMT_SET_APPLIED_MEMBERSHIP
                                              : RL_STMT_SET_APPLIED);
  if (pStmt == NULL) return SQLITE_ERROR;
  sqlite3_bind_int64(pStmt, 1, (i64)e->log_id.term);
  sqlite3_bind_int64(pStmt, 2, (i64)e->log_id.index);
  rc = bMembership ? bindPayload(p, pStmt, 3, e) : SQLITE_OK;
  if (rc == SQLITE_OK) rc = stepWrite(p, pStmt);

  if (rc == SQLITE_OK && e->kind == RAFTLITE_NORMAL && !p->sm.apply) {
    /* No C state machine: the one declared in SQL, if any (sm_sql.c). */
    rc = rlSmApply(p, e, pResponse);
    if (rc != SQLITE_OK) return rc;
  } else if (rc == SQLITE_OK && e->kind == RAFTLITE_NORMAL) {
    rc = p->sm.apply(p->sm.ctx, p->db, e, pResponse);
    if (rc != SQLITE_OK) {
      /* The callback's code is passed through; the message says where. */
      char zId[RL_LOGID_BUF];
      RlLogId id = entryLogId(e);
      rlFail(p, RL_MSG_SM_APPLY_FAILED, rlLogIdText(&id, zId), rc,
             sqlite3_errstr(rc));
      return rc;
    }
  }
  if (rc == SQLITE_OK) return rc;

  char zA[RL_LOGID_BUF], zB[RL_LOGID_BUF];
  RlLogId got = entryLogId(e);
  if (p->eKind == RAFTLITE_APPLY_NON_CONSECUTIVE) {
    if (pPrev) {
      return rlFail(p, RL_MSG_APPLY_NOT_CONSECUTIVE_BATCH,
                    rlLogIdText(pPrev, zA), rlLogIdText(&got, zB));
    }
    return rlFail(p, RL_MSG_APPLY_NOT_CONSECUTIVE,
                  rlLogIdText(&pState->applied, zA), rlLogIdText(&got, zB));
  }
  if (p->eKind == RAFTLITE_INVALID_MEMBERSHIP) {
    /* A membership entry whose term differs from the log's entry at its
    ** index breaks LogIdMismatch, whatever its JSON: the state's two
    ** triggers race to report, so ask the log. */
    int bHeld = 0;
    i64 iTerm = 0;
    char *zErr = p->zErrMsg;
    p->zErrMsg = NULL;
    int rcRead = rlReadEntryTerm(p, got.index, &bHeld, &iTerm);
    rlResetError(p);
    p->zErrMsg = zErr;
    p->eKind = RAFTLITE_INVALID_MEMBERSHIP;
    if (rcRead != SQLITE_OK) return rcRead;
    if (bHeld && iTerm != got.term) p->eKind = RAFTLITE_LOG_ID_MISMATCH;
  }
  if (p->eKind == RAFTLITE_LOG_ID_MISMATCH || p->eKind == RAFTLITE_DIRTY_LOG) {
    /* The entry that conflicts: at the same index, or the first above. */
    int bMismatch = p->eKind == RAFTLITE_LOG_ID_MISMATCH;
    RlLogId held = {0, 0, 0};
    sqlite3_stmt *pRead = rlStmt(p, RL_STMT_READ_RANGE);
    if (pRead == NULL) return p->rcStmt;
    sqlite3_bind_int64(pRead, 1, got.index + (bMismatch ? 0 : 1));
    sqlite3_bind_int64(pRead, 2, INT64_MAX);
    if (sqlite3_step(pRead) == SQLITE_ROW) {
      held.has = 1;
      held.index = sqlite3_column_int64(pRead, 0);
      held.term = sqlite3_column_int64(pRead, 1);
    }
    sqlite3_reset(pRead);
    if (bMismatch && held.has && held.index == got.index && held.term != got.term) {
      return rlFail(p, RL_MSG_APPLY_MISMATCH, rlLogIdText(&held, zA),
                    rlLogIdText(&got, zB));
    }
    if (bMismatch) {
      /* The entry that breaks the order lies below: the log's last entry
      ** below the index (terms never decrease along the log). */
      i64 iBelow = pState->last.has && pState->last.index < got.index
                       ? pState->last.index : got.index - 1;
      int bHeld = 0;
      i64 iTerm = 0;
      char *zErr = p->zErrMsg;
      p->zErrMsg = NULL;
      int rcRead = rlReadEntryTerm(p, iBelow, &bHeld, &iTerm);
      rlResetError(p);
      p->zErrMsg = zErr;
      p->eKind = RAFTLITE_LOG_ID_MISMATCH;
      if (rcRead != SQLITE_OK) return rcRead;
      RlLogId below = {bHeld, iTerm, iBelow};
      return rlFail(p, RL_MSG_APPLY_BELOW, rlLogIdText(&got, zA), rlLogIdText(&below, zB));
    }
    return rlFail(p, RL_MSG_DIRTY_LOG, rlLogIdText(&got, zA),
                  rlLogIdText(&held, zB));
  }
  return failInvalidMembership(p, rc, e);
}

int rlApplyUpTo(RlStore *p, i64 iIndex, i64 *piApplied) {
  RlState state;
  /* The declared statement is prepared before the savepoint opens:
  ** preparing under the authorizer expires the store's statements. */
  int rc = p->sm.apply ? SQLITE_OK : rlSmPrepare(p);
  if (rc == SQLITE_OK) rc = rlBegin(p);
  if (rc != SQLITE_OK) return rc; /* nothing to roll back */
  if (rc == SQLITE_OK) rc = rlReadState(p, &state);
  if (rc != SQLITE_OK) return rlEnd(p, rc);
  *piApplied = state.applied.has ? state.applied.index : -1;
  if (state.applied.has && iIndex <= state.applied.index) return rlEnd(p, rc);

  /* From last_applied + 1, or from the first entry of a fresh state
  ** machine, through iIndex: every index must be present. */
  sqlite3_stmt *pRead = rlStmt(p, RL_STMT_READ_RANGE);
  if (pRead == NULL) return rlEnd(p, p->rcStmt);
  i64 iNext = state.applied.has ? state.applied.index + 1 : -1;
  sqlite3_bind_int64(pRead, 1, iNext < 0 ? 0 : iNext);
  sqlite3_bind_int64(pRead, 2, iIndex);
  RlLogId prev = {0, 0, 0};
  while (rc == SQLITE_OK && sqlite3_step(pRead) == SQLITE_ROW) {
    raftlite_entry e;
    memset(&e, 0, sizeof(e));
    i64 iIdx = sqlite3_column_int64(pRead, 0);
    if (iNext >= 0 && iIdx != iNext) break; /* a hole: reported below */
    e.log_id.index = (uint64_t)iIdx;
    e.log_id.term = (uint64_t)sqlite3_column_int64(pRead, 1);
    const char *zKind = (const char *)sqlite3_column_text(pRead, 2);
    e.kind = strcmp(zKind, "normal") == 0       ? RAFTLITE_NORMAL
             : strcmp(zKind, "membership") == 0 ? RAFTLITE_MEMBERSHIP
                                                : RAFTLITE_BLANK;
    e.data = sqlite3_column_blob(pRead, 3);
    e.size = (size_t)sqlite3_column_bytes(pRead, 3);
    raftlite_response response = {NULL, 0};
    rc = applyOne(p, &e, prev.has ? &prev : NULL, &state, &response);
    sqlite3_free(response.data); /* SQL callers have no use for responses */
    prev = entryLogId(&e);
    iNext = iIdx + 1;
  }
  int rcRead = sqlite3_reset(pRead);
  if (rc == SQLITE_OK && rcRead != SQLITE_OK) rc = rlFailSqlite(p, rcRead);
  if (rc == SQLITE_OK && (!prev.has || prev.index != iIndex)) {
    rc = rlFail(p, RL_MSG_NOT_FOUND, iNext < 0 ? iIndex : iNext);
  }
  if (rc == SQLITE_OK) *piApplied = iIndex;
  return rlEnd(p, rc);
}

int rlApplyEntries(RlStore *p, const raftlite_entry *a, size_t n,
                   raftlite_responses *pOut) {
  memset(pOut, 0, sizeof(*pOut));
  RlState state;
  /* The declared statement is prepared before the savepoint opens:
  ** preparing under the authorizer expires the store's statements. */
  int rc = p->sm.apply ? SQLITE_OK : rlSmPrepare(p);
  if (rc == SQLITE_OK) rc = rlBegin(p);
  if (rc != SQLITE_OK) return rc; /* nothing to roll back */
  if (rc == SQLITE_OK) rc = rlReadState(p, &state);
  if (rc == SQLITE_OK && n == 0) rc = rlFail(p, RL_MSG_APPLY_EMPTY);
  raftlite_response *aResponse = NULL;
  if (rc == SQLITE_OK) {
    aResponse = sqlite3_malloc64(n * sizeof(*aResponse));
    if (aResponse == NULL) rc = SQLITE_NOMEM;
    else memset(aResponse, 0, n * sizeof(*aResponse));
  }
  for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
    RlLogId prev = i ? entryLogId(&a[i - 1]) : state.applied;
    rc = applyOne(p, &a[i], i ? &prev : NULL, &state, &aResponse[i]);
  }
  rc = rlEnd(p, rc);
  if (rc != SQLITE_OK) {
    for (size_t i = 0; aResponse && i < n; i++) sqlite3_free(aResponse[i].data);
    sqlite3_free(aResponse);
    return rc;
  }
  pOut->a = aResponse;
  pOut->n = n;
  return SQLITE_OK;
}
