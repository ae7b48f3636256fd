/*
** segment.c — the log's segments read as entries.
**
** The log is stored as segments (sql/001_tables.sql): one row holds the
** entries first_index..last_index of one term and one kind, their payloads
** one after the other in `payloads`, and in `ends` the end offset of each
** (RL_END_WIDTH ASCII digits each). Entries at or below last_purged are
** hidden: a purge deletes only the segments it covers whole.
**
** A reader walks the segments of a range with one statement (a seek on
** first_index, then the next rows in order) and cuts each segment's
** payloads into entries without copying.
*/
#include "raftlite_int.h"

#include <string.h>

/* The end offset at position i of a segment's ends, or -1 if not digits. */
static i64 endAt(const unsigned char *aEnds, i64 i) {
  i64 v = 0;
  const unsigned char *z = &aEnds[i * RL_END_WIDTH];
  for (int k = 0; k < RL_END_WIDTH; k++) {
    if (z[k] < '0' || z[k] > '9') return -1;
    v = v * 10 + (z[k] - '0');
  }
  return v;
}

void rlLogOpen(RlLogReader *r, sqlite3_stmt *pStmt, i64 iLo, i64 iHi, int bDesc) {
  memset(r, 0, sizeof(*r));
  r->pStmt = pStmt;
  r->bDesc = bDesc;
  r->iLo = iLo;
  r->iHi = iHi;
  sqlite3_bind_int64(pStmt, 1, iLo);
  sqlite3_bind_int64(pStmt, 2, iHi);
}

/* Steps to the next segment that holds a present entry of the range. */
static int nextSegment(RlLogReader *r, int *pbEof) {
  for (;;) {
    if (r->iLo > r->iHi) {
      *pbEof = 1;
      return SQLITE_OK;
    }
    int rc = sqlite3_step(r->pStmt);
    if (rc != SQLITE_ROW) {
      *pbEof = 1;
      r->bSeg = 0;
      return rc == SQLITE_DONE ? SQLITE_OK : sqlite3_reset(r->pStmt);
    }
    sqlite3_stmt *p = r->pStmt;
    i64 iPurged = sqlite3_column_int64(p, 6);
    if (r->iLo <= iPurged) r->iLo = iPurged + 1;
    r->iFirst = sqlite3_column_int64(p, 0);
    r->iLast = sqlite3_column_int64(p, 1);
    r->iTerm = sqlite3_column_int64(p, 2);
    const char *zKind = (const char *)sqlite3_column_text(p, 3);
    if (zKind == NULL) return sqlite3_errcode(sqlite3_db_handle(p)) == SQLITE_NOMEM
                                  ? SQLITE_NOMEM : SQLITE_CORRUPT;
    r->eKind = zKind[0] == 'n'   ? RAFTLITE_NORMAL
               : zKind[0] == 'm' ? RAFTLITE_MEMBERSHIP
                                 : RAFTLITE_BLANK;
    /* A membership's text as text (no conversion); the rest as blobs. */
    r->aPayloads = r->eKind == RAFTLITE_MEMBERSHIP
                       ? (const unsigned char *)sqlite3_column_text(p, 4)
                       : (const unsigned char *)sqlite3_column_blob(p, 4);
    r->nPayloads = sqlite3_column_bytes(p, 4);
    r->aEnds = (const unsigned char *)sqlite3_column_blob(p, 5);
    r->nEnds = sqlite3_column_bytes(p, 5);
    if ((r->aPayloads == NULL && r->nPayloads > 0) || (r->aEnds == NULL && r->nEnds > 0)) {
      return SQLITE_NOMEM;
    }
    if (r->iLast < r->iFirst ||
        r->nEnds != (r->iLast - r->iFirst + 1) * (i64)RL_END_WIDTH) {
      return SQLITE_CORRUPT;
    }
    i64 iFrom = r->iFirst > r->iLo ? r->iFirst : r->iLo;
    i64 iTo = r->iLast < r->iHi ? r->iLast : r->iHi;
    if (iFrom > iTo) {
      /* Ascending, a segment below the range (the one the seek found
      ** ends before iLo): go on. Descending, segments above iHi never
      ** come; one below iLo ends the walk. */
      if (r->bDesc && r->iLast < r->iLo) {
        *pbEof = 1;
        return SQLITE_OK;
      }
      if (!r->bDesc && r->iFirst > r->iHi) {
        *pbEof = 1;
        return SQLITE_OK;
      }
      continue;
    }
    r->bSeg = 1;
    r->iNext = r->bDesc ? iTo : iFrom;
    return SQLITE_OK;
  }
}

int rlLogNext(RlLogReader *r, raftlite_entry *pOut, int *pbEof) {
  *pbEof = 0;
  if (r->bSeg) {
    int bIn = r->bDesc ? (r->iNext >= r->iFirst && r->iNext >= r->iLo)
                       : (r->iNext <= r->iLast && r->iNext <= r->iHi);
    if (!bIn) r->bSeg = 0;
  }
  if (!r->bSeg) {
    int rc = nextSegment(r, pbEof);
    if (rc != SQLITE_OK || *pbEof) return rc;
  }
  i64 i = r->iNext - r->iFirst;
  i64 iEnd = endAt(r->aEnds, i);
  i64 iStart = i > 0 ? endAt(r->aEnds, i - 1) : 0;
  if (iStart < 0 || iEnd < iStart || iEnd > r->nPayloads) return SQLITE_CORRUPT;
  memset(pOut, 0, sizeof(*pOut));
  pOut->log_id.index = (uint64_t)r->iNext;
  pOut->log_id.term = (uint64_t)r->iTerm;
  pOut->kind = r->eKind;
  pOut->size = (size_t)(iEnd - iStart);
  pOut->data = pOut->size ? r->aPayloads + iStart : NULL;
  if (r->bDesc) {
    r->iNext--;
    r->iHi = r->iNext;
  } else if (r->iNext == INT64_MAX) {
    r->iLo = INT64_MAX; /* the last index there can be: nothing after */
    r->iHi = INT64_MAX - 1;
  } else {
    r->iNext++;
    r->iLo = r->iNext;
  }
  return SQLITE_OK;
}

int rlLogFail(RlStore *p, const RlLogReader *r, int rc) {
  if (rc == SQLITE_CORRUPT) return rlFail(p, RL_MSG_SEGMENT_DAMAGED, r->iFirst);
  return rlFailSqlite(p, rc);
}

int rlLogClose(RlLogReader *r) {
  if (r->pStmt == NULL) return SQLITE_OK;
  int rc = sqlite3_reset(r->pStmt);
  r->pStmt = NULL;
  r->bSeg = 0;
  return rc;
}
