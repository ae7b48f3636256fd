/*
** vtab_terms.c — raft_terms: where each term of the log starts and ends.
**
**     SELECT * FROM raft_terms;
**     SELECT term, first_index FROM raft_terms('aux') WHERE term >= 5;
**
** Declared schema:
**
**     CREATE TABLE x(term INTEGER, first_index INTEGER, last_index INTEGER,
**                    entries INTEGER, schema HIDDEN)
**
** One row per term of the present entries (above last_purged), in log
** order: the term's first and last index and how many entries it has.
** Terms never go down along the log, so a term's entries are one run.
**
** HOW IT WORKS. A cursor over the segments in first_index order (the
** primary key: no sort, no temporary table) merges consecutive segments
** of one term into a row, one segment ahead of the row it returns, so a
** log of any length is read in constant memory. Payloads are not read.
*/
#include "vtab_operator.h"

#define TERMS_TERM 0
#define TERMS_FIRST 1
#define TERMS_LAST 2
#define TERMS_ENTRIES 3

typedef struct TermsCursor {
  RlOpCursor base; /* Base class - must be first */
  i64 iTerm, iFirst, iLast; /* the row */
  int bAhead;               /* the next segment, read ahead: */
  i64 iAheadTerm, iAheadFirst, iAheadLast;
} TermsCursor;

/* Reads the next segment into the look-ahead (bAhead 0 at the end). */
static int readAhead(TermsCursor *pCur) {
  sqlite3_stmt *pStmt = pCur->base.apStmt[0];
  int rc = sqlite3_step(pStmt);
  if (rc == SQLITE_ROW) {
    i64 iPurged = sqlite3_column_int64(pStmt, 3);
    i64 iFirst = sqlite3_column_int64(pStmt, 0);
    pCur->iAheadFirst = iFirst > iPurged ? iFirst : iPurged + 1;
    pCur->iAheadLast = sqlite3_column_int64(pStmt, 1);
    pCur->iAheadTerm = sqlite3_column_int64(pStmt, 2);
    pCur->bAhead = 1;
    return SQLITE_OK;
  }
  pCur->bAhead = 0;
  rc = sqlite3_reset(pStmt);
  return rc == SQLITE_OK ? rc : rlOpError(&pCur->base, rc);
}

static int termsNext(RlOpCursor *cur) {
  TermsCursor *pCur = (TermsCursor *)cur;
  if (!pCur->bAhead) {
    cur->bEof = 1;
    return SQLITE_OK;
  }
  pCur->iTerm = pCur->iAheadTerm;
  pCur->iFirst = pCur->iAheadFirst;
  pCur->iLast = pCur->iAheadLast;
  for (;;) {
    int rc = readAhead(pCur);
    if (rc != SQLITE_OK) return rc;
    if (!pCur->bAhead || pCur->iAheadTerm != pCur->iTerm) return SQLITE_OK;
    pCur->iLast = pCur->iAheadLast;
  }
}

static int termsFilter(RlOpCursor *cur) {
  TermsCursor *pCur = (TermsCursor *)cur;
  int rc;
  if (rlOpStmt(cur, 0, &rc) == NULL) return rc;
  rc = readAhead(pCur);
  return rc == SQLITE_OK ? termsNext(cur) : rc;
}

static int termsColumn(RlOpCursor *cur, sqlite3_context *ctx, int iCol) {
  TermsCursor *pCur = (TermsCursor *)cur;
  switch (iCol) {
    case TERMS_TERM: sqlite3_result_int64(ctx, pCur->iTerm); break;
    case TERMS_FIRST: sqlite3_result_int64(ctx, pCur->iFirst); break;
    case TERMS_LAST: sqlite3_result_int64(ctx, pCur->iLast); break;
    default: sqlite3_result_int64(ctx, pCur->iLast - pCur->iFirst + 1); break;
  }
  return SQLITE_OK;
}

static const RlOpView termsView = {
    "raft_terms",
    "term INTEGER, first_index INTEGER, last_index INTEGER, entries INTEGER",
    4,
    {"SELECT first_index, last_index, term,"
     " coalesce((SELECT purged_index FROM $S.raftlite_state), -1)"
     " FROM $S.raftlite_segment ORDER BY first_index"},
    sizeof(TermsCursor),
    termsFilter,
    termsNext,
    termsColumn,
    0,
    0,    /* an operator's view */
    NULL,
};

int rlRegisterVtabTerms(sqlite3 *db) {
  return rlRegisterOpView(db, &termsView);
}
