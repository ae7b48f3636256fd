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

/* The checks of one entry that need no stored state: values in range, a
** known kind, a payload that can be read. */
static int checkEntry(RlStore *p, const raftlite_entry *e) {
  int rc = rlCheckU64(p, "term", e->log_id.term);
  if (rc == SQLITE_OK) rc = rlCheckU64(p, "idx", e->log_id.index);
  if (rc != SQLITE_OK) return rc;
  if (rlKindName((int)e->kind) == NULL) {
    char zGot[32];
    sqlite3_snprintf(sizeof(zGot), zGot, "%d", (int)e->kind);
    return rlFail(p, RL_MSG_BAD_KIND, zGot);
  }
  return checkPayload(p, e);
}

/* The run of entries that becomes one segment: consecutive indexes, one
** term, one kind (blank or normal; a membership is a segment of its own).
** Payloads are copied: a source's entries may live only until its next
** xNext. The buffers belong to the store and are reused. */
typedef struct SegRun {
  int bAny;      /* the run holds an entry */
  RlLogId first; /* its first entry */
  RlLogId before; /* the batch's entry before it (has = 0: none) */
  i64 iLast;
  raftlite_kind eKind;
} SegRun;

/* Grows p's buffer *pa (allocated *pnAlloc) to hold n bytes. */
static int growBuf(unsigned char **pa, i64 *pnAlloc, i64 n) {
  if (n <= *pnAlloc) return SQLITE_OK;
  i64 nNew = *pnAlloc ? *pnAlloc * 2 : 4096;
  while (nNew < n) nNew *= 2;
  unsigned char *aNew = sqlite3_realloc64(*pa, (sqlite3_uint64)nNew);
  if (aNew == NULL) return SQLITE_NOMEM;
  *pa = aNew;
  *pnAlloc = nNew;
  return SQLITE_OK;
}

/* Reports a refused segment (or membership entry) as the operations always
** have: the first entry of it against the batch's previous entry or the
** reference id (pState: the state it was refused in; NULL only when the
** segment has an entry before it in the batch), or an invalid membership. */
static int segmentFailed(RlStore *p, int rc, const SegRun *pRun,
                         const RlState *pState, const raftlite_entry *pMembership) {
  char zRef[RL_LOGID_BUF], zGot[RL_LOGID_BUF];
  if (p->eKind == RAFTLITE_LOGS_NON_CONSECUTIVE) {
    if (pRun->before.has) {
      return rlFail(p, RL_MSG_NOT_CONSECUTIVE_BATCH, rlLogIdText(&pRun->before, zRef),
                    rlLogIdText(&pRun->first, zGot));
    }
    const RlLogId *pRef = &pState->last;
    const char *zWhat = "last log id";
    if (rlLogIdCmp(&pState->applied, pRef) > 0) {
      pRef = &pState->applied;
      zWhat = "last applied log id";
    }
    return rlFail(p, RL_MSG_NOT_CONSECUTIVE, zWhat, rlLogIdText(pRef, zRef),
                  rlLogIdText(&pRun->first, zGot));
  }
  return pMembership ? failInvalidMembership(p, rc, pMembership) : rc;
}

/* Binds and runs the INSERT of the run as one segment. */
static int insertRun(RlStore *p, const SegRun *pRun) {
  sqlite3_stmt *pStmt = rlStmt(p, RL_STMT_INSERT_SEGMENT);
  if (pStmt == NULL) return p->rcStmt;
  sqlite3_bind_int64(pStmt, 1, pRun->first.index);
  sqlite3_bind_int64(pStmt, 2, pRun->iLast);
  sqlite3_bind_int64(pStmt, 3, pRun->first.term);
  sqlite3_bind_text(pStmt, 4, rlKindName((int)pRun->eKind), -1, SQLITE_STATIC);
  /* Never NULL, even when empty: a zero-length blob. */
  int rc = p->nRunPayloads ? sqlite3_bind_blob64(pStmt, 5, p->aRunPayloads,
                                                 (sqlite3_uint64)p->nRunPayloads,
                                                 SQLITE_STATIC)
                           : sqlite3_bind_zeroblob(pStmt, 5, 0);
  if (rc == SQLITE_OK) {
    rc = sqlite3_bind_blob64(pStmt, 6, p->aRunEnds, (sqlite3_uint64)p->nRunEnds,
                             SQLITE_STATIC);
  }
  if (rc != SQLITE_OK) rc = rlFailSqlite(p, rc);
  if (rc == SQLITE_OK) rc = stepWrite(p, pStmt);
  sqlite3_clear_bindings(pStmt); /* the buffers are reused */
  return rc;
}

/* Adds e (blank or normal) to the run, which it extends. */
static int addToRun(RlStore *p, SegRun *pRun, const raftlite_entry *e) {
  i64 nPay = p->nRunPayloads + (i64)e->size;
  int rc = growBuf(&p->aRunPayloads, &p->nRunPayloadsAlloc, nPay);
  if (rc == SQLITE_OK) rc = growBuf(&p->aRunEnds, &p->nRunEndsAlloc, p->nRunEnds + RL_END_WIDTH);
  if (rc != SQLITE_OK) return rlFailSqlite(p, SQLITE_NOMEM);
  if (e->size) memcpy(p->aRunPayloads + p->nRunPayloads, e->data, e->size);
  p->nRunPayloads = nPay;
  /* The end offset: RL_END_WIDTH decimal digits, zero-padded. */
  unsigned char *z = p->aRunEnds + p->nRunEnds;
  for (int k = RL_END_WIDTH - 1; k >= 0; k--, nPay /= 10) z[k] = (unsigned char)('0' + nPay % 10);
  p->nRunEnds += RL_END_WIDTH;
  if (!pRun->bAny) {
    pRun->bAny = 1;
    pRun->first = entryLogId(e);
    pRun->eKind = e->kind;
  }
  pRun->iLast = (i64)e->log_id.index;
  return SQLITE_OK;
}

/* Whether e can extend the run: same term and kind, the next index, and
** the segment staying within RL_SEGMENT_MAX_BYTES and _ENTRIES (and so
** within what a value can hold). */
static int extendsRun(RlStore *p, const SegRun *pRun, const raftlite_entry *e) {
  if (!pRun->bAny) return 1;
  i64 nMax = sqlite3_limit(p->db, SQLITE_LIMIT_LENGTH, -1);
  if (nMax > RL_SEGMENT_MAX_BYTES) nMax = RL_SEGMENT_MAX_BYTES;
  return e->kind == pRun->eKind && (i64)e->log_id.term == pRun->first.term &&
         pRun->iLast < INT64_MAX && (i64)e->log_id.index == pRun->iLast + 1 &&
         (i64)e->size <= nMax - p->nRunPayloads &&
         p->nRunEnds < (i64)RL_SEGMENT_MAX_ENTRIES * RL_END_WIDTH;
}

/* Binds and runs the INSERT of a membership entry: a segment of its own,
** its payload canonicalised by the INSERT itself. */
static int insertMembership(RlStore *p, const raftlite_entry *e) {
  sqlite3_stmt *pStmt = rlStmt(p, RL_STMT_INSERT_SEGMENT);
  if (pStmt == NULL) return p->rcStmt;
  sqlite3_bind_int64(pStmt, 1, (i64)e->log_id.index);
  sqlite3_bind_int64(pStmt, 2, (i64)e->log_id.index);
  sqlite3_bind_int64(pStmt, 3, (i64)e->log_id.term);
  sqlite3_bind_text(pStmt, 4, "membership", -1, SQLITE_STATIC);
  int rc = bindPayload(p, pStmt, 5, e);
  if (rc == SQLITE_OK) rc = stepWrite(p, pStmt);
  return rc;
}

/* Writes a run (pMembership NULL) or a membership entry as one segment.
**
** contract §2: when the reference id is last_applied (the log ends below
** it, after a snapshot was installed), an append first moves last_purged
** up to last_applied: the triggers refuse a segment that would leave a
** hole. The state is read only when the first segment of a call is
** refused, which is when that can be the case: the common append reads
** no state at all, and a refusal is reported against the same state. */
static int writeSegment(RlStore *p, const SegRun *pRun, const raftlite_entry *pMembership) {
  int rc = pMembership ? insertMembership(p, pMembership) : insertRun(p, pRun);
  if (rc == SQLITE_OK || pRun->before.has || p->eKind != RAFTLITE_LOGS_NON_CONSECUTIVE) {
    return rc == SQLITE_OK ? rc : segmentFailed(p, rc, pRun, NULL, pMembership);
  }
  RlState state;
  int rcState = rlReadState(p, &state);
  if (rcState != SQLITE_OK) return rcState;
  if (rlLogIdCmp(&state.applied, &state.last) > 0) {
    sqlite3_stmt *pPurge = rlStmt(p, RL_STMT_SET_PURGED);
    if (pPurge == NULL) return p->rcStmt;
    sqlite3_bind_int64(pPurge, 1, state.applied.term);
    sqlite3_bind_int64(pPurge, 2, state.applied.index);
    rlResetError(p);
    rc = stepWrite(p, pPurge);
    if (rc != SQLITE_OK) return rc;
    rc = pMembership ? insertMembership(p, pMembership) : insertRun(p, pRun);
    if (rc == SQLITE_OK) return rc;
  }
  return segmentFailed(p, rc, pRun, &state, pMembership);
}

/* Writes the run, if it holds anything, and empties it. */
static int flushRun(RlStore *p, SegRun *pRun) {
  if (!pRun->bAny) return SQLITE_OK;
  pRun->bAny = 0;
  int rc = writeSegment(p, pRun, NULL);
  p->nRunPayloads = p->nRunEnds = 0;
  return rc;
}

static int appendMembership(RlStore *p, const raftlite_entry *e, const RlLogId *pBefore) {
  SegRun run = {1, entryLogId(e), {0, 0, 0}, (i64)e->log_id.index, RAFTLITE_MEMBERSHIP};
  if (pBefore) run.before = *pBefore;
  return writeSegment(p, &run, e);
}

/* contract §2: the batch goes in as few segments as its (term, kind) runs
** allow, each checked by the triggers once. Failures are reported in entry
** order: a run is written before a later entry's own error is returned. */
int rlAppend(RlStore *p, RlEntrySource *pSrc, i64 *pnEntries) {
  /* The state is read only if a segment is refused (writeSegment). That
  ** its row is there at all is the append trigger's first rule. */
  int rc = rlBegin(p);
  p->nRunPayloads = p->nRunEnds = 0;
  SegRun run;
  memset(&run, 0, sizeof(run));
  RlLogId prev = {0, 0, 0};
  size_t n = 0;
  while (rc == SQLITE_OK) {
    raftlite_entry e;
    int bEof = 0;
    rc = pSrc->xNext(pSrc, &e, &bEof);
    if (rc == SQLITE_OK && bEof) break;
    if (rc == SQLITE_OK) rc = checkEntry(p, &e);
    if (rc != SQLITE_OK) {
      /* An earlier entry's refusal comes first. */
      if (run.bAny) {
        char *zErr = p->zErrMsg;
        raftlite_violation_kind eKind = p->eKind;
        p->zErrMsg = NULL;
        int rcRun = flushRun(p, &run);
        if (rcRun != SQLITE_OK) {
          sqlite3_free(zErr);
          rc = rcRun;
        } else {
          rlResetError(p);
          p->zErrMsg = zErr;
          p->eKind = eKind;
        }
      }
      break;
    }
    if (e.kind == RAFTLITE_MEMBERSHIP || !extendsRun(p, &run, &e)) {
      rc = flushRun(p, &run);
      if (rc != SQLITE_OK) break;
    }
    if (e.kind == RAFTLITE_MEMBERSHIP) {
      rc = appendMembership(p, &e, n ? &prev : NULL);
    } else {
      if (!run.bAny) run.before = prev;
      rc = addToRun(p, &run, &e);
    }
    prev = entryLogId(&e);
    n++;
  }
  if (rc == SQLITE_OK) rc = flushRun(p, &run);
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

static int purgeImpl(RlStore *p, i64 iIndex, int bHasTerm, i64 iTerm, int bAppliedTerm,
                     i64 *pnEntries);

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
  return purgeImpl(p, iIndex, bHasTerm, iTerm, 0, pnEntries);
}

int rlPurgeByIndex(RlStore *p, i64 iIndex) {
  return purgeImpl(p, iIndex, 0, 0, 1, NULL);
}

/* bAppliedTerm: without a term, last_applied's when it is the id at
** iIndex (raftlite_purge_upto). */
static int purgeImpl(RlStore *p, i64 iIndex, int bHasTerm, i64 iTerm, int bAppliedTerm,
                     i64 *pnEntries) {
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
  if (bAppliedTerm && !bFound && !bHasTerm && state.applied.has &&
      state.applied.index == iIndex) {
    /* Past the log's end, at last_applied (entries applied but never
    ** appended): its id is known. */
    bHasTerm = 1;
    got.term = state.applied.term;
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

/* The first present entry at or above iIndex (error messages only). */
static int readEntryFrom(RlStore *p, i64 iIndex, RlLogId *pOut) {
  int bFound = 0;
  i64 iTerm = 0;
  memset(pOut, 0, sizeof(*pOut));
  int rc = rlReadEntryTerm(p, iIndex, &bFound, &iTerm);
  if (rc != SQLITE_OK) return rc;
  if (bFound) {
    RlLogId id = {1, iTerm, iIndex};
    *pOut = id;
    return SQLITE_OK;
  }
  sqlite3_stmt *pStmt = rlStmt(p, RL_STMT_READ_ABOVE);
  if (pStmt == NULL) return p->rcStmt;
  sqlite3_bind_int64(pStmt, 1, iIndex);
  if (sqlite3_step(pStmt) == SQLITE_ROW) {
    pOut->has = 1;
    pOut->term = sqlite3_column_int64(pStmt, 0);
    pOut->index = sqlite3_column_int64(pStmt, 1);
  }
  rc = sqlite3_reset(pStmt);
  return rc == SQLITE_OK ? rc : rlFailSqlite(p, rc);
}

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

  if (rc == SQLITE_OK && e->kind == RAFTLITE_NORMAL) {
    /* The C callback, else the declared statement, else nothing. */
    const raftlite_state_machine *m = rlSmFor(p, RL_SM_APPLY);
    rc = m->apply(m->ctx, p->db, e, pResponse);
    if (rc != SQLITE_OK && !rlSmIsDeclared(p, m)) {
      /* The callback's code is passed through; the message says where. */
      char zId[RL_LOGID_BUF];
      RlLogId id = entryLogId(e);
      rlFail(p, RL_MSG_SM_APPLY_FAILED, rlLogIdText(&id, zId), rc,
             sqlite3_errstr(rc));
    }
    if (rc != SQLITE_OK) return rc;
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
    char *zErr = p->zErrMsg;
    raftlite_violation_kind eKind = p->eKind;
    p->zErrMsg = NULL;
    int rcRead = readEntryFrom(p, got.index + (bMismatch ? 0 : 1), &held);
    rlResetError(p);
    p->zErrMsg = zErr;
    p->eKind = eKind;
    if (rcRead != SQLITE_OK) return rcRead;
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

/* Appends r to the responses being collected (r is theirs from now on). */
static int addResponse(raftlite_responses *pOut, size_t *pnAlloc, raftlite_response *r) {
  if (pOut->n == *pnAlloc) {
    size_t nNew = *pnAlloc ? *pnAlloc * 2 : 16;
    raftlite_response *aNew = sqlite3_realloc64(pOut->a, nNew * sizeof(*aNew));
    if (aNew == NULL) {
      sqlite3_free(r->data);
      return SQLITE_NOMEM;
    }
    pOut->a = aNew;
    *pnAlloc = nNew;
  }
  pOut->a[pOut->n++] = *r;
  return SQLITE_OK;
}

int rlApplyLog(RlStore *p, i64 iIndex, i64 *piApplied, raftlite_responses *pOut) {
  RlState state;
  raftlite_responses got = {NULL, 0};
  size_t nAlloc = 0;
  if (pOut) memset(pOut, 0, sizeof(*pOut));
  /* The declared statement is prepared before the savepoint opens:
  ** preparing under the authorizer expires the store's statements. */
  int rc = rlSmPrepare(p);
  if (rc == SQLITE_OK) rc = rlBegin(p);
  if (rc != SQLITE_OK) return rc; /* nothing to roll back */
  if (rc == SQLITE_OK) rc = rlReadState(p, &state);
  if (rc != SQLITE_OK) return rlEnd(p, rc);
  *piApplied = state.applied.has ? state.applied.index : -1;
  if (state.applied.has && iIndex <= state.applied.index) return rlEnd(p, rc);

  /* Every index of the range must be present: the present entries are
  ** exactly first..last, so the first missing one is known before any
  ** entry reaches the state machine. */
  i64 iFrom = state.applied.has ? state.applied.index + 1 : state.first.index;
  if (!state.first.has || iFrom < state.first.index || iIndex > state.last.index) {
    i64 iMissing = !state.first.has ? (state.applied.has ? iFrom : iIndex)
                   : iFrom < state.first.index ? iFrom
                   : iFrom > state.last.index ? iFrom : state.last.index + 1;
    return rlEnd(p, rlFail(p, RL_MSG_NOT_FOUND, iMissing));
  }

  /* From last_applied + 1, or from the first entry of a fresh state
  ** machine, through iIndex. */
  sqlite3_stmt *pRead = rlStmt(p, RL_STMT_READ_SEGMENTS);
  if (pRead == NULL) return rlEnd(p, p->rcStmt);
  i64 iNext = state.applied.has ? state.applied.index + 1 : -1;
  RlLogReader reader;
  rlLogOpen(&reader, pRead, iNext < 0 ? 0 : iNext, iIndex, 0);
  RlLogId prev = {0, 0, 0};
  int rcRead = SQLITE_OK;
  while (rc == SQLITE_OK) {
    raftlite_entry e;
    int bEof = 0;
    rcRead = rlLogNext(&reader, &e, &bEof);
    if (rcRead != SQLITE_OK || bEof) break;
    i64 iIdx = (i64)e.log_id.index;
    if (iNext >= 0 && iIdx != iNext) break; /* a hole: reported below */
    raftlite_response response = {NULL, 0};
    rc = applyOne(p, &e, prev.has ? &prev : NULL, &state, &response);
    if (rc == SQLITE_OK && pOut) {
      rc = addResponse(&got, &nAlloc, &response);
    } else {
      sqlite3_free(response.data); /* SQL callers have no use for responses */
    }
    prev = entryLogId(&e);
    iNext = iIdx + 1;
  }
  if (rc == SQLITE_OK && rcRead != SQLITE_OK) rc = rlLogFail(p, &reader, rcRead);
  rcRead = rlLogClose(&reader);
  if (rc == SQLITE_OK && rcRead != SQLITE_OK) rc = rlFailSqlite(p, rcRead);
  if (rc == SQLITE_OK && (!prev.has || prev.index != iIndex)) {
    rc = rlFail(p, RL_MSG_NOT_FOUND, iNext < 0 ? iIndex : iNext);
  }
  if (rc == SQLITE_OK) *piApplied = iIndex;
  rc = rlEnd(p, rc);
  if (rc == SQLITE_OK && pOut) {
    *pOut = got;
  } else {
    raftlite_responses_free(&got);
  }
  return rc;
}

int rlApplyUpTo(RlStore *p, i64 iIndex, i64 *piApplied) {
  return rlApplyLog(p, iIndex, piApplied, NULL);
}

int rlApplyEntries(RlStore *p, const raftlite_entry *a, size_t n,
                   raftlite_responses *pOut) {
  memset(pOut, 0, sizeof(*pOut));
  RlState state;
  /* The declared statement is prepared before the savepoint opens:
  ** preparing under the authorizer expires the store's statements. */
  int rc = rlSmPrepare(p);
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
