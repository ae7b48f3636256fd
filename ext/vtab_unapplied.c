/*
** vtab_unapplied.c — raft_unapplied: the entries appended but not yet
** applied.
**
**     SELECT * FROM raft_unapplied;
**     SELECT count(*), sum(size) FROM raft_unapplied('aux');
**
** Declared schema:
**
**     CREATE TABLE x(idx INTEGER, term INTEGER, kind TEXT, size INTEGER,
**                    preview TEXT, schema HIDDEN)
**
** One row per present entry above last_applied (every entry when nothing
** was applied), in index order: its log id, kind, payload size in bytes
** and a short preview of the payload that is safe to print: NULL for an
** empty payload; the text itself when the payload is printable UTF-8
** (a membership always is), cut after PREVIEW_TEXT bytes with "..."; else
** its first PREVIEW_HEX bytes in hex, x'0a0b...'. The payload itself is in
** raft_log.
**
** HOW IT WORKS. The reader of raft_log (segment.c) over
** [last_applied + 1, end]: one seek, then the segments in order, each cut
** into entries without copying. Nothing is collected: a log of any length
** is read in constant memory, and LIMIT stops the reading.
*/
#include "vtab_operator.h"

#include <string.h>

#define UNAPPLIED_IDX 0
#define UNAPPLIED_TERM 1
#define UNAPPLIED_KIND 2
#define UNAPPLIED_SIZE 3
#define UNAPPLIED_PREVIEW 4

#define PREVIEW_TEXT 32
#define PREVIEW_HEX 12

typedef struct UnappliedCursor {
  RlOpCursor base; /* Base class - must be first */
  RlLogReader reader;
  raftlite_entry entry; /* the row; its data points into the reader's row */
} UnappliedCursor;

/* The length of the UTF-8 sequence at z (n bytes left) if it is a
** printable character, else 0: control characters, DEL, bad sequences. */
static int printableAt(const unsigned char *z, size_t n) {
  unsigned char c = z[0];
  if (c < 0x80) return (c >= 0x20 && c != 0x7f) ? 1 : 0;
  int nSeq = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
  if (nSeq == 0 || (size_t)nSeq > n) return 0;
  for (int i = 1; i < nSeq; i++) {
    if ((z[i] & 0xc0) != 0x80) return 0;
  }
  /* C1 controls (U+0080..U+009F) are not printable either. */
  if (c == 0xc2 && z[1] < 0xa0) return 0;
  return nSeq;
}

static void resultPreview(sqlite3_context *ctx, const raftlite_entry *e) {
  const unsigned char *z = e->data;
  size_t n = e->size;
  if (n == 0) {
    sqlite3_result_null(ctx);
    return;
  }
  /* Printable text up to PREVIEW_TEXT bytes, on a character boundary. */
  size_t i = 0;
  int bText = 1;
  while (i < n) {
    int k = printableAt(z + i, n - i);
    if (k == 0) {
      bText = 0;
      break;
    }
    if (i + (size_t)k > PREVIEW_TEXT) break;
    i += (size_t)k;
  }
  if (bText && i < n) {
    /* Cut short: the rest must be text too, or it is shown as bytes. */
    for (size_t j = i; j < n;) {
      int k = printableAt(z + j, n - j);
      if (k == 0) {
        bText = 0;
        break;
      }
      j += (size_t)k;
    }
  }
  char *zOut;
  if (bText) {
    zOut = sqlite3_mprintf("%.*s%s", (int)i, z, i < n ? "..." : "");
  } else {
    sqlite3_str *pStr = sqlite3_str_new(NULL);
    sqlite3_str_appendall(pStr, "x'");
    for (size_t j = 0; j < n && j < PREVIEW_HEX; j++) sqlite3_str_appendf(pStr, "%02x", z[j]);
    sqlite3_str_appendall(pStr, n > PREVIEW_HEX ? "...'" : "'");
    zOut = sqlite3_str_finish(pStr);
  }
  if (zOut == NULL) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_text(ctx, zOut, -1, sqlite3_free);
}

static int unappliedNext(RlOpCursor *cur) {
  UnappliedCursor *pCur = (UnappliedCursor *)cur;
  int rc = rlLogNext(&pCur->reader, &pCur->entry, &cur->bEof);
  if (rc == SQLITE_OK) return SQLITE_OK;
  rlLogFail(&cur->store, &pCur->reader, rc);
  rlLogClose(&pCur->reader);
  return rlOpError(cur, rc);
}

static int unappliedFilter(RlOpCursor *cur) {
  UnappliedCursor *pCur = (UnappliedCursor *)cur;
  int rc;
  sqlite3_stmt *pApplied = rlOpStmt(cur, 0, &rc);
  if (pApplied == NULL) return rc;
  i64 iApplied = -1;
  if (sqlite3_step(pApplied) == SQLITE_ROW && sqlite3_column_type(pApplied, 0) != SQLITE_NULL) {
    iApplied = sqlite3_column_int64(pApplied, 0);
  }
  rc = sqlite3_reset(pApplied);
  if (rc != SQLITE_OK) return rlOpError(cur, rc);
  if (iApplied == INT64_MAX) { /* no index above it */
    cur->bEof = 1;
    return SQLITE_OK;
  }
  sqlite3_stmt *pSegments = rlOpStmt(cur, 1, &rc);
  if (pSegments == NULL) return rc;
  rlLogOpen(&pCur->reader, pSegments, iApplied + 1, INT64_MAX, 0);
  return unappliedNext(cur);
}

static void unappliedEnd(RlOpCursor *cur) {
  rlLogClose(&((UnappliedCursor *)cur)->reader);
}

static int unappliedColumn(RlOpCursor *cur, sqlite3_context *ctx, int iCol) {
  const raftlite_entry *e = &((UnappliedCursor *)cur)->entry;
  switch (iCol) {
    case UNAPPLIED_IDX: sqlite3_result_int64(ctx, (i64)e->log_id.index); break;
    case UNAPPLIED_TERM: sqlite3_result_int64(ctx, (i64)e->log_id.term); break;
    case UNAPPLIED_KIND:
      sqlite3_result_text(ctx, rlKindName((int)e->kind), -1, SQLITE_STATIC);
      break;
    case UNAPPLIED_SIZE: sqlite3_result_int64(ctx, (i64)e->size); break;
    default: resultPreview(ctx, e); break;
  }
  return SQLITE_OK;
}

static const RlOpView unappliedView = {
    "raft_unapplied",
    "idx INTEGER, term INTEGER, kind TEXT, size INTEGER, preview TEXT",
    5,
    {"SELECT applied_index FROM $S.raftlite_state", RL_SQL_READ_SEGMENTS("")},
    sizeof(UnappliedCursor),
    unappliedFilter,
    unappliedNext,
    unappliedColumn,
    unappliedEnd,
    0,    /* an operator's view */
    NULL,
};

int rlRegisterVtabUnapplied(sqlite3 *db) {
  return rlRegisterOpView(db, &unappliedView);
}
