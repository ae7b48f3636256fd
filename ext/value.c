/*
** value.c — strict decoding of SQL values into raftlite's types.
**
** SQLite converts freely: sqlite3_value_int64() turns NULL and 'abc' into 0
** and clamps large reals. A term or index read that way would turn
** raft_truncate(NULL) into "truncate from 0". Every integer argument goes
** through rlValueU63() instead, which accepts only an INTEGER in
** 0..2^63-1 (docs/contract.md §1) and names the argument and the
** offending value.
*/
#include "raftlite_int.h"

#include <string.h>

const char *rlLogIdText(const RlLogId *pId, char *zBuf) {
  if (!pId->has) {
    memcpy(zBuf, "none", 5);
  } else {
    sqlite3_snprintf(RL_LOGID_BUF, zBuf, "%lld-%lld", pId->term, pId->index);
  }
  return zBuf;
}

int rlLogIdCmp(const RlLogId *a, const RlLogId *b) {
  if (a->has != b->has) return a->has ? 1 : -1;
  if (!a->has) return 0;
  if (a->term != b->term) return a->term < b->term ? -1 : 1;
  if (a->index != b->index) return a->index < b->index ? -1 : 1;
  return 0;
}

/* A short, printable rendering of a value for error messages. */
static char *valueText(sqlite3_value *pVal) {
  switch (sqlite3_value_type(pVal)) {
    case SQLITE_NULL:
      return sqlite3_mprintf("NULL");
    case SQLITE_INTEGER:
      return sqlite3_mprintf("%lld", sqlite3_value_int64(pVal));
    case SQLITE_FLOAT:
      return sqlite3_mprintf("%!.15g", sqlite3_value_double(pVal));
    case SQLITE_TEXT:
      return sqlite3_mprintf("'%.40q%s'", sqlite3_value_text(pVal),
                             sqlite3_value_bytes(pVal) > 40 ? "..." : "");
    default:
      return sqlite3_mprintf("a blob of %d bytes", sqlite3_value_bytes(pVal));
  }
}

int rlValueU63(sqlite3_value *pVal, const char *zWhat, i64 *pOut, char **pzErr) {
  int eType = sqlite3_value_type(pVal);
  if (eType == SQLITE_INTEGER && sqlite3_value_int64(pVal) >= 0) {
    *pOut = sqlite3_value_int64(pVal);
    return SQLITE_OK;
  }
  char *zGot = valueText(pVal);
  raftlite_violation_kind eKind;
  rlMessage(RL_MSG_OUT_OF_RANGE, &eKind, pzErr, zWhat, zGot ? zGot : "?");
  sqlite3_free(zGot);
  /* A negative integer or a real is the right type of thing, out of range;
  ** NULL, text and blobs are the wrong type. */
  if (eType == SQLITE_INTEGER || eType == SQLITE_FLOAT) return SQLITE_RANGE;
  return SQLITE_MISMATCH;
}

static const char *const azKindName[] = {"blank", "normal", "membership"};

const char *rlKindName(int eKind) {
  if (eKind < 0 || eKind > RAFTLITE_MEMBERSHIP) return NULL;
  return azKindName[eKind];
}

int rlValueEntry(sqlite3_value *pIdx, sqlite3_value *pTerm,
                 sqlite3_value *pKind, sqlite3_value *pPayload,
                 raftlite_entry *pOut, char **pzErr) {
  i64 iIdx, iTerm;
  int rc = rlValueU63(pIdx, "idx", &iIdx, pzErr);
  if (rc == SQLITE_OK) rc = rlValueU63(pTerm, "term", &iTerm, pzErr);
  if (rc != SQLITE_OK) return rc;
  memset(pOut, 0, sizeof(*pOut));
  pOut->log_id.term = (uint64_t)iTerm;
  pOut->log_id.index = (uint64_t)iIdx;

  const char *zKind = (const char *)sqlite3_value_text(pKind);
  int eKind = -1;
  if (sqlite3_value_type(pKind) == SQLITE_TEXT) {
    for (int i = 0; i <= RAFTLITE_MEMBERSHIP; i++) {
      if (strcmp(zKind, azKindName[i]) == 0) eKind = i;
    }
  }
  if (eKind < 0) {
    char *zGot = valueText(pKind);
    raftlite_violation_kind eViolation;
    rlMessage(RL_MSG_BAD_KIND, &eViolation, pzErr, zGot ? zGot : "?");
    sqlite3_free(zGot);
    return SQLITE_MISMATCH;
  }
  pOut->kind = (raftlite_kind)eKind;

  /* The payload: blank takes none (NULL or empty); normal takes a blob or
  ** text (its bytes); membership takes JSON text. */
  int eType = sqlite3_value_type(pPayload);
  int bOk;
  switch (eKind) {
    case RAFTLITE_BLANK:
      bOk = eType == SQLITE_NULL ||
            ((eType == SQLITE_BLOB || eType == SQLITE_TEXT) &&
             sqlite3_value_bytes(pPayload) == 0);
      break;
    case RAFTLITE_NORMAL:
      bOk = eType == SQLITE_BLOB || eType == SQLITE_TEXT;
      break;
    default:
      bOk = eType == SQLITE_TEXT;
      break;
  }
  if (!bOk) {
    static const char *const azWant[] = {
        "no payload (NULL or empty)", "a blob or text", "JSON text"};
    char *zGot = valueText(pPayload);
    raftlite_violation_kind eViolation;
    rlMessage(RL_MSG_BAD_PAYLOAD, &eViolation, pzErr, azKindName[eKind],
              azWant[eKind], zGot ? zGot : "?");
    sqlite3_free(zGot);
    return SQLITE_MISMATCH;
  }
  if (eType == SQLITE_BLOB) {
    pOut->data = sqlite3_value_blob(pPayload);
    pOut->size = (size_t)sqlite3_value_bytes(pPayload);
  } else if (eType == SQLITE_TEXT) {
    pOut->data = sqlite3_value_text(pPayload);
    pOut->size = (size_t)sqlite3_value_bytes(pPayload);
  }
  return SQLITE_OK;
}

int rlEntryPayloadCheck(const raftlite_entry *e, i64 nMax,
                        raftlite_violation_kind *peKind, char **pzErr) {
  *pzErr = NULL;
  *peKind = RAFTLITE_NO_VIOLATION;
  if (e->size == 0) return SQLITE_OK;
  /* A NULL data with a size is a caller's bug: nothing may be read. Sizes
  ** are compared unsigned: a size_t above INT64_MAX is no negative number. */
  int bNullData = e->data == NULL;
  if (!bNullData && nMax >= 0 && (uint64_t)e->size <= (uint64_t)nMax) return SQLITE_OK;
  /* The id is formatted only for the message: this runs once per entry. */
  char zId[RL_LOGID_BUF];
  sqlite3_snprintf(sizeof(zId), zId, "%llu-%llu",
                   (unsigned long long)e->log_id.term,
                   (unsigned long long)e->log_id.index);
  if (bNullData) {
    return rlMessage(RL_MSG_ENTRY_NULL_DATA, peKind, pzErr, zId,
                     (unsigned long long)e->size);
  }
  return rlMessage(RL_MSG_ENTRY_TOO_BIG, peKind, pzErr, zId,
                   (unsigned long long)e->size, nMax < 0 ? 0 : nMax);
}
