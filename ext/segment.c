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

/* The end offset at position i of a segment's ends, or -1 if not digits.
** Unrolled and without a branch per digit: this runs once per entry read
** (RL_END_WIDTH is 10). */
static i64 parseEnd(const unsigned char *aEnds, i64 i) {
  const unsigned char *z = &aEnds[i * RL_END_WIDTH];
#define RL_DIGIT(k) ((unsigned)z[k] - '0')
  unsigned d0 = RL_DIGIT(0), d1 = RL_DIGIT(1), d2 = RL_DIGIT(2), d3 = RL_DIGIT(3),
           d4 = RL_DIGIT(4), d5 = RL_DIGIT(5), d6 = RL_DIGIT(6), d7 = RL_DIGIT(7),
           d8 = RL_DIGIT(8), d9 = RL_DIGIT(9);
#undef RL_DIGIT
  unsigned bad = (d0 > 9) | (d1 > 9) | (d2 > 9) | (d3 > 9) | (d4 > 9) | (d5 > 9) |
                 (d6 > 9) | (d7 > 9) | (d8 > 9) | (d9 > 9);
  i64 hi = (((d0 * 10 + d1) * 10 + d2) * 10 + d3) * 10 + d4;
  i64 lo = (((d5 * 10 + d6) * 10 + d7) * 10 + d8) * 10 + d9;
  return bad ? -1 : hi * 100000 + lo;
}
#if RL_END_WIDTH != 10
#error "parseEnd reads 10 digits"
#endif

/* The end offset at position i; the neighbour's, parsed for the entry
** before, is reused (an entry's start is the previous one's end). */
static i64 endAt(RlLogReader *r, i64 i) {
  if (i == r->iKnownPos) return r->iKnownEnd;
  return parseEnd(r->aEnds, i);
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
    r->iKnownPos = -1;
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
  i64 iEnd = endAt(r, i);
  i64 iStart = i > 0 ? endAt(r, i - 1) : 0;
  if (iStart < 0 || iEnd < iStart || iEnd > r->nPayloads) return SQLITE_CORRUPT;
  /* The offset the next entry of the walk shares with this one. */
  r->iKnownPos = r->bDesc ? i - 1 : i;
  r->iKnownEnd = r->bDesc ? iStart : iEnd;
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
