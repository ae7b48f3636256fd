/*
** snapshot.c — snapshots: streams over chunked storage, and the
** operations build_snapshot, begin_receiving_snapshot, install_snapshot
** and get_current_snapshot (docs/contract.md §2, §6).
**
** Storage. A snapshot is a row of raftlite_snapshot (its meta and size)
** and the rows of raftlite_snapshot_chunk holding its bytes in chunks of
** RL_CHUNK bytes: chunk seq holds bytes [seq*RL_CHUNK, (seq+1)*RL_CHUNK).
** Every chunk is a full RL_CHUNK-byte blob (the size lives in the snapshot
** row), so that incremental BLOB I/O — which cannot grow a blob — can write
** anywhere in it; a chunk never written reads as zeros.
**
** Streams hold no statement and no blob handle between calls: an open blob
** handle would block commits on the connection (contract §5). Each call
** looks its chunks up, opens, reads or writes, and closes. Memory does not
** grow with the snapshot's size: a call touches the chunks it needs, one at
** a time, through SQLite's page cache.
**
** A receiving stream is a row whose snapshot_id is still NULL. Rows left so
** by a crash are reclaimed by raftlite_open().
*/
#include "raftlite_int.h"

#include <stdio.h>
#include <string.h>

#define RL_CHUNK 65536

struct raftlite_snapshot {
  RlStore *pStore;
  i64 iRow;       /* raftlite_snapshot.id */
  i64 iPos;       /* the stream position */
  i64 nSize;      /* bytes in the stream */
  int bWritable;  /* a receiving stream */
};

static int execOnRow(RlStore *p, const char *zTemplate, i64 iRow) {
  int rc = rlCheckInCall(p);
  if (rc != SQLITE_OK) return rc;
  char *zSql = rlExpandSchema(zTemplate, p->zSchema);
  if (zSql == NULL) return SQLITE_NOMEM;
  sqlite3_stmt *pStmt = NULL;
  rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, NULL);
  sqlite3_free(zSql);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(pStmt, 1, iRow);
  if (rc == SQLITE_OK) sqlite3_step(pStmt);
  int rcFinal = sqlite3_finalize(pStmt);
  if (rc == SQLITE_OK) rc = rcFinal;
  return rc == SQLITE_OK ? rc : rlFailSqlite(p, rc);
}

int rlReclaimReceiving(RlStore *p) {
  int rc = rlBegin(p);
  if (rc != SQLITE_OK) return rc; /* nothing to roll back */
  if (rc == SQLITE_OK) {
    rc = execOnRow(p, "DELETE FROM $S.raftlite_snapshot"
                      " WHERE snapshot_id IS NULL AND id <> ?1", -1);
  }
  return rlEnd(p, rc);
}

static raftlite_snapshot *newStream(RlStore *p, i64 iRow, i64 nSize, int bWritable) {
  raftlite_snapshot *s = sqlite3_malloc(sizeof(*s));
  if (s == NULL) return NULL;
  s->pStore = p;
  s->iRow = iRow;
  s->iPos = 0;
  s->nSize = nSize;
  s->bWritable = bWritable;
  return s;
}

void raftlite_snapshot_close(raftlite_snapshot *s) { sqlite3_free(s); }

/* The rowid of chunk iSeq of the stream's snapshot, or 0 if not stored. */
static int chunkRowid(raftlite_snapshot *s, i64 iSeq, i64 *piRowid) {
  sqlite3_stmt *pStmt = rlStmt(s->pStore, RL_STMT_CHUNK_ROWID);
  if (pStmt == NULL) return s->pStore->rcStmt;
  sqlite3_bind_int64(pStmt, 1, s->iRow);
  sqlite3_bind_int64(pStmt, 2, iSeq);
  *piRowid = sqlite3_step(pStmt) == SQLITE_ROW ? sqlite3_column_int64(pStmt, 0) : 0;
  int rc = sqlite3_reset(pStmt);
  return rc == SQLITE_OK ? rc : rlFailSqlite(s->pStore, rc);
}

static int blobIo(raftlite_snapshot *s, i64 iRowid, int bWrite, void *pBuf,
                  int n, int iOffset) {
  sqlite3_blob *pBlob = NULL;
  int rc = sqlite3_blob_open(s->pStore->db, s->pStore->zSchema,
                             "raftlite_snapshot_chunk", "data", iRowid, bWrite,
                             &pBlob);
  if (rc == SQLITE_OK) {
    rc = bWrite ? sqlite3_blob_write(pBlob, pBuf, n, iOffset)
                : sqlite3_blob_read(pBlob, pBuf, n, iOffset);
  }
  int rcClose = sqlite3_blob_close(pBlob);
  if (rc == SQLITE_OK) rc = rcClose;
  return rc == SQLITE_OK ? rc : rlFailSqlite(s->pStore, rc);
}

/* Whether the stream's snapshot is still stored: a read stream outlives
** the snapshot it reads when a newer one replaces it. */
static int streamAlive(raftlite_snapshot *s) {
  sqlite3_stmt *pStmt = rlStmt(s->pStore, RL_STMT_SNAPSHOT_META);
  if (pStmt == NULL) return s->pStore->rcStmt;
  sqlite3_bind_int64(pStmt, 1, s->iRow);
  int bAlive = sqlite3_step(pStmt) == SQLITE_ROW;
  int rc = sqlite3_reset(pStmt);
  if (rc != SQLITE_OK) return rlFailSqlite(s->pStore, rc);
  return bAlive ? SQLITE_OK : rlFail(s->pStore, RL_MSG_STREAM_GONE);
}

int raftlite_snapshot_read(raftlite_snapshot *s, void *buf, size_t n, size_t *pRead) {
  *pRead = 0;
  rlResetError(s->pStore);
  if (buf == NULL && n > 0) return rlFail(s->pStore, RL_MSG_STREAM_NULL_BUFFER, "read", (unsigned long long)n);
  /* The position is in 0..INT64_MAX (seek sees to it), so nLeft cannot
  ** overflow; n is compared unsigned: a size_t above INT64_MAX is no
  ** negative number, and never more than the stream has left. */
  i64 nLeft = s->nSize - s->iPos;
  if (nLeft <= 0 || n == 0) return SQLITE_OK;
  int rcAlive = streamAlive(s);
  if (rcAlive != SQLITE_OK) return rcAlive;
  if ((uint64_t)n > (uint64_t)nLeft) n = (size_t)nLeft;
  int rc = SQLITE_OK;
  i64 iPos0 = s->iPos;
  unsigned char *pOut = buf;
  while (rc == SQLITE_OK && n > 0) {
    i64 iSeq = s->iPos / RL_CHUNK;
    int iOffset = (int)(s->iPos % RL_CHUNK);
    int nPart = RL_CHUNK - iOffset;
    if ((size_t)nPart > n) nPart = (int)n;
    i64 iRowid;
    rc = chunkRowid(s, iSeq, &iRowid);
    if (rc != SQLITE_OK) break;
    if (iRowid == 0) {
      memset(pOut, 0, (size_t)nPart); /* never written: zeros */
    } else {
      rc = blobIo(s, iRowid, 0, pOut, nPart, iOffset);
      if (rc != SQLITE_OK) break;
    }
    pOut += nPart;
    n -= (size_t)nPart;
    s->iPos += nPart;
    *pRead += (size_t)nPart;
  }
  if (rc != SQLITE_OK) {
    /* A failed read reads nothing: the position is where it was and
    ** *pRead is 0, as for every out-parameter on error. */
    s->iPos = iPos0;
    *pRead = 0;
  }
  return rc;
}

/* Writes within one chunk. A whole chunk is inserted as it is; a part of
** one goes through incremental BLOB I/O into a zero-filled chunk. */
static int writeChunkPart(raftlite_snapshot *s, i64 iSeq, int iOffset,
                          const void *pBuf, int n) {
  i64 iRowid;
  int rc = chunkRowid(s, iSeq, &iRowid);
  if (rc != SQLITE_OK) return rc;
  if (iRowid == 0) {
    int bWhole = iOffset == 0 && n == RL_CHUNK;
    sqlite3_stmt *pStmt = rlStmt(s->pStore, RL_STMT_CHUNK_INSERT);
    if (pStmt == NULL) return s->pStore->rcStmt;
    sqlite3_bind_int64(pStmt, 1, s->iRow);
    sqlite3_bind_int64(pStmt, 2, iSeq);
    if (bWhole) {
      sqlite3_bind_blob(pStmt, 3, pBuf, n, SQLITE_STATIC);
    } else {
      sqlite3_bind_zeroblob(pStmt, 3, RL_CHUNK);
    }
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
    sqlite3_clear_bindings(pStmt); /* pBuf is the caller's */
    if (rc != SQLITE_OK) return rlFailSqlite(s->pStore, rc);
    if (bWhole) return SQLITE_OK;
    iRowid = sqlite3_last_insert_rowid(s->pStore->db);
  }
  return blobIo(s, iRowid, 1, (void *)pBuf, n, iOffset);
}

int raftlite_snapshot_write(raftlite_snapshot *s, const void *buf, size_t n) {
  RlStore *p = s->pStore;
  rlResetError(p);
  if (!s->bWritable) return rlFail(p, RL_MSG_STREAM_READ_ONLY);
  if (n == 0) return SQLITE_OK;
  if (buf == NULL) return rlFail(p, RL_MSG_STREAM_NULL_BUFFER, "write", (unsigned long long)n);
  /* The last byte written must have a position: position + n stays within
  ** INT64_MAX (and so does every iPos below). */
  if ((uint64_t)n > (uint64_t)(INT64_MAX - s->iPos)) {
    return rlFail(p, RL_MSG_STREAM_WRITE_RANGE, (unsigned long long)n, s->iPos,
                  (long long)(INT64_MAX - s->iPos));
  }
  int rc = rlBegin(p);
  if (rc != SQLITE_OK) return rc; /* nothing to roll back */
  rc = streamAlive(s); /* reclaimed by another handle's open? */
  const unsigned char *pIn = buf;
  i64 iPos = s->iPos;
  size_t nLeft = n;
  while (rc == SQLITE_OK && nLeft > 0) {
    i64 iSeq = iPos / RL_CHUNK;
    int iOffset = (int)(iPos % RL_CHUNK);
    int nPart = RL_CHUNK - iOffset;
    if ((size_t)nPart > nLeft) nPart = (int)nLeft;
    rc = writeChunkPart(s, iSeq, iOffset, pIn, nPart);
    pIn += nPart;
    nLeft -= (size_t)nPart;
    iPos += nPart;
  }
  i64 nSize = iPos > s->nSize ? iPos : s->nSize;
  if (rc == SQLITE_OK && nSize != s->nSize) {
    sqlite3_stmt *pStmt = rlStmt(p, RL_STMT_SNAPSHOT_SET_SIZE);
    if (pStmt == NULL) {
      rc = p->rcStmt;
    } else {
      sqlite3_bind_int64(pStmt, 1, nSize);
      sqlite3_bind_int64(pStmt, 2, s->iRow);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
      if (rc != SQLITE_OK) rc = rlFailSqlite(p, rc);
    }
  }
  rc = rlEnd(p, rc);
  if (rc == SQLITE_OK) {
    s->iPos = iPos;
    s->nSize = nSize;
  }
  return rc;
}

int raftlite_snapshot_seek(raftlite_snapshot *s, int64_t offset, int whence,
                           uint64_t *pPos) {
  rlResetError(s->pStore);
  i64 iBase;
  const char *zFrom;
  switch (whence) {
    case SEEK_SET: iBase = 0; zFrom = "the start"; break;
    case SEEK_CUR: iBase = s->iPos; zFrom = "the position"; break;
    case SEEK_END: iBase = s->nSize; zFrom = "the end"; break;
    default: return rlFail(s->pStore, RL_MSG_SEEK, (long long)offset, whence);
  }
  /* iBase is in 0..INT64_MAX, so only these two can overflow or go below
  ** 0; both are tested without computing the sum. */
  if ((offset < 0 && offset < -iBase) || (offset > 0 && offset > INT64_MAX - iBase)) {
    return rlFail(s->pStore, RL_MSG_SEEK_RANGE, (long long)offset, zFrom, iBase);
  }
  s->iPos = iBase + offset;
  if (pPos) *pPos = (uint64_t)s->iPos;
  return SQLITE_OK;
}

/* ------------------------------------------------------------------ */
/* The operations                                                      */

int rlBeginReceiving(RlStore *p, raftlite_snapshot **ppStream) {
  *ppStream = NULL;
  int rc = rlBegin(p);
  if (rc != SQLITE_OK) return rc; /* nothing to roll back */
  sqlite3_stmt *pStmt = rc == SQLITE_OK ? rlStmt(p, RL_STMT_SNAPSHOT_NEW) : NULL;
  if (rc == SQLITE_OK && pStmt == NULL) rc = p->rcStmt;
  if (rc == SQLITE_OK) {
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
    if (rc != SQLITE_OK) rc = rlFailSqlite(p, rc);
  }
  i64 iRow = sqlite3_last_insert_rowid(p->db);
  rc = rlEnd(p, rc);
  if (rc == SQLITE_OK) {
    *ppStream = newStream(p, iRow, 0, 1);
    if (*ppStream == NULL) rc = SQLITE_NOMEM;
  }
  return rc;
}

int rlOpenReceiving(RlStore *p, i64 iRow, raftlite_snapshot **ppStream) {
  *ppStream = NULL;
  char *zSql = rlExpandSchema("SELECT size FROM $S.raftlite_snapshot"
                              " WHERE id = ?1 AND snapshot_id IS NULL", p->zSchema);
  if (zSql == NULL) return SQLITE_NOMEM;
  sqlite3_stmt *pStmt = NULL;
  int rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, NULL);
  sqlite3_free(zSql);
  if (rc != SQLITE_OK) return rlFailSqlite(p, rc);
  sqlite3_bind_int64(pStmt, 1, iRow);
  int bFound = sqlite3_step(pStmt) == SQLITE_ROW;
  i64 nSize = bFound ? sqlite3_column_int64(pStmt, 0) : 0;
  rc = sqlite3_finalize(pStmt);
  if (rc != SQLITE_OK) return rlFailSqlite(p, rc);
  if (!bFound) return rlFail(p, RL_MSG_NO_STREAM, iRow);
  *ppStream = newStream(p, iRow, nSize, 1);
  return *ppStream ? SQLITE_OK : SQLITE_NOMEM;
}

i64 rlStreamId(const raftlite_snapshot *s) { return s->iRow; }

/* Reads the meta of the current snapshot (or of row iRow when iRow > 0)
** into *pMeta; *pbFound is 0 when there is none. */
static int readMeta(RlStore *p, i64 iRow, raftlite_snapshot_meta *pMeta,
                    i64 *piRow, i64 *pnSize, int *pbFound) {
  memset(pMeta, 0, sizeof(*pMeta));
  *pbFound = 0;
  sqlite3_stmt *pStmt = rlStmt(p, RL_STMT_SNAPSHOT_META);
  if (pStmt == NULL) return p->rcStmt;
  sqlite3_bind_int64(pStmt, 1, iRow);
  int rc = SQLITE_OK;
  if (sqlite3_step(pStmt) == SQLITE_ROW) {
    *pbFound = 1;
    *piRow = sqlite3_column_int64(pStmt, 0);
    sqlite3_snprintf(sizeof(pMeta->snapshot_id), pMeta->snapshot_id, "%s",
                     (const char *)sqlite3_column_text(pStmt, 1));
    pMeta->last_log_id.term = (uint64_t)sqlite3_column_int64(pStmt, 2);
    pMeta->last_log_id.index = (uint64_t)sqlite3_column_int64(pStmt, 3);
    if (sqlite3_column_type(pStmt, 6) != SQLITE_NULL) {
      pMeta->has_membership = 1;
      pMeta->membership_log_id.term = (uint64_t)sqlite3_column_int64(pStmt, 4);
      pMeta->membership_log_id.index = (uint64_t)sqlite3_column_int64(pStmt, 5);
      pMeta->membership_json = sqlite3_mprintf("%s", sqlite3_column_text(pStmt, 6));
      if (pMeta->membership_json == NULL) rc = SQLITE_NOMEM;
    }
    *pnSize = sqlite3_column_int64(pStmt, 7);
  }
  int rcReset = sqlite3_reset(pStmt);
  if (rc == SQLITE_OK && rcReset != SQLITE_OK) rc = rlFailSqlite(p, rcReset);
  if (rc != SQLITE_OK) {
    sqlite3_free(pMeta->membership_json);
    memset(pMeta, 0, sizeof(*pMeta));
    *pbFound = 0;
  }
  return rc;
}

int rlGetCurrentSnapshot(RlStore *p, raftlite_snapshot_meta *pMeta,
                         raftlite_snapshot **ppStream) {
  *ppStream = NULL;
  rlResetError(p);
  i64 iRow = 0, nSize = 0;
  int bFound;
  int rc = readMeta(p, 0, pMeta, &iRow, &nSize, &bFound);
  if (rc == SQLITE_OK && bFound) {
    *ppStream = newStream(p, iRow, nSize, 0);
    if (*ppStream == NULL) {
      sqlite3_free(pMeta->membership_json);
      memset(pMeta, 0, sizeof(*pMeta));
      rc = SQLITE_NOMEM;
    }
  }
  return rc;
}

/* Seals row iRow with the meta given (its bytes are fixed from now on) and
** deletes every other stored snapshot (receiving streams are kept). A built
** snapshot, as of last_applied, becomes current at once (bCurrent); an
** installed one through raftlite_snapshot_install. */
static int sealSnapshot(RlStore *p, i64 iRow, const raftlite_snapshot_meta *pMeta,
                        int bCurrent) {
  sqlite3_stmt *pStmt = rlStmt(p, RL_STMT_SNAPSHOT_MAKE_CURRENT);
  if (pStmt == NULL) return p->rcStmt;
  /* Text binds copy (an allocation): a failed one would store NULLs. */
  int rc = sqlite3_bind_text(pStmt, 1, pMeta->snapshot_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(pStmt, 2, (i64)pMeta->last_log_id.term);
  sqlite3_bind_int64(pStmt, 3, (i64)pMeta->last_log_id.index);
  if (pMeta->has_membership && rc == SQLITE_OK) {
    sqlite3_bind_int64(pStmt, 4, (i64)pMeta->membership_log_id.term);
    sqlite3_bind_int64(pStmt, 5, (i64)pMeta->membership_log_id.index);
    rc = sqlite3_bind_text(pStmt, 6, pMeta->membership_json ? pMeta->membership_json : "",
                           -1, SQLITE_TRANSIENT);
  }
  sqlite3_bind_int64(pStmt, 7, iRow);
  sqlite3_bind_int(pStmt, 8, bCurrent);
  if (rc != SQLITE_OK) return SQLITE_NOMEM;
  /* The previous snapshot goes first: the new one may carry the same id (a
  ** leader sending its snapshot again). A refusal rolls all of it back. */
  rc = execOnRow(p, "DELETE FROM $S.raftlite_snapshot"
                    " WHERE id <> ?1 AND snapshot_id IS NOT NULL", iRow);
  if (rc == SQLITE_OK) {
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
    if (rc != SQLITE_OK) rc = rlFailSqlite(p, rc);
  }
  /* The seal's trigger refuses a stream with bytes never written (a writer
  ** that sought past them): filling such holes with zeros could write
  ** terabytes for one byte written far out. */
  if (p->eKind == RAFTLITE_SNAPSHOT_INVALID) rc = rlFail(p, RL_MSG_STREAM_HOLES);
  return rc;
}

/* A refused stream (row iRow, refused with rc) is consumed: its bytes are
** dropped, the error kept. After a resource error (memory, disk, busy) the
** bytes stay, whole, for the next raftlite_open to reclaim: the delete
** would likely fail too, and must not commit on its own. */
static void dropRefused(RlStore *p, i64 iRow, int rc) {
  if (rlIsResourceError(rc)) return;
  char *zErr = p->zErrMsg;
  raftlite_violation_kind eKind = p->eKind;
  p->zErrMsg = NULL;
  /* In a savepoint of its own: a half-done delete (its chunks going row
  ** by row) is undone whole, never left as orphan chunks. */
  if (rlBegin(p) == SQLITE_OK) {
    int rcDelete = execOnRow(p, "DELETE FROM $S.raftlite_snapshot WHERE id = ?1"
                                " AND snapshot_id IS NULL", iRow);
    rlEnd(p, rcDelete);
  }
  rlResetError(p);
  p->zErrMsg = zErr;
  p->eKind = eKind;
}

/* The meta of a snapshot as of last_applied, for stream row iRow. */
static int metaAsOfApplied(RlStore *p, i64 iRow, raftlite_snapshot_meta *pMeta) {
  raftlite_applied_state applied;
  memset(pMeta, 0, sizeof(*pMeta));
  int rc = rlReadApplied(p, &applied);
  if (rc != SQLITE_OK) return rc;
  pMeta->last_log_id = applied.last_applied;
  pMeta->has_membership = applied.has_membership;
  pMeta->membership_log_id = applied.membership_log_id;
  pMeta->membership_json = applied.membership_json;
  sqlite3_snprintf(sizeof(pMeta->snapshot_id), pMeta->snapshot_id, "%lld-%lld-%lld",
                   (i64)pMeta->last_log_id.term, (i64)pMeta->last_log_id.index, iRow);
  return SQLITE_OK;
}

int rlBuildSnapshot(RlStore *p, raftlite_snapshot_meta *pMeta,
                    raftlite_snapshot **ppStream) {
  memset(pMeta, 0, sizeof(*pMeta));
  *ppStream = NULL;
  RlState state;
  int rc = rlBegin(p);
  if (rc != SQLITE_OK) return rc; /* nothing to roll back */
  if (rc == SQLITE_OK) rc = rlReadState(p, &state);
  if (rc == SQLITE_OK && !state.applied.has) rc = rlFail(p, RL_MSG_NOTHING_APPLIED);
  raftlite_snapshot *w = NULL;
  if (rc == SQLITE_OK) rc = rlBeginReceiving(p, &w);
  if (rc == SQLITE_OK && p->sm.snapshot) {
    rc = p->sm.snapshot(p->sm.ctx, p->db, w);
    if (rc != SQLITE_OK && p->zErrMsg == NULL) {
      rlFail(p, RL_MSG_SM_SNAPSHOT_FAILED, rc, sqlite3_errstr(rc));
    }
  } else if (rc == SQLITE_OK) {
    rc = rlSmSnapshot(p, w);
  }

  /* The meta: as of last_applied, with the applied membership. */
  raftlite_snapshot_meta meta;
  memset(&meta, 0, sizeof(meta));
  if (rc == SQLITE_OK) rc = metaAsOfApplied(p, w->iRow, &meta);
  if (rc == SQLITE_OK) rc = sealSnapshot(p, w->iRow, &meta, 1);
  rc = rlEnd(p, rc);
  if (rc == SQLITE_OK) {
    w->bWritable = 0;
    w->iPos = 0;
    *pMeta = meta;
    *ppStream = w;
  } else {
    sqlite3_free(meta.membership_json);
    raftlite_snapshot_close(w);
  }
  return rc;
}

int rlCommitSnapshot(RlStore *p, raftlite_snapshot *pData, raftlite_snapshot_meta *pMeta) {
  if (pMeta) memset(pMeta, 0, sizeof(*pMeta));
  rlResetError(p);
  i64 iRow = pData ? pData->iRow : 0;
  int rc = SQLITE_OK;
  if (pData == NULL || !pData->bWritable || pData->pStore != p) {
    rc = rlFail(p, RL_MSG_NOT_BUILDING);
  }
  /* The SQL declaration's snapshots are images it builds and checks on
  ** restore: bytes from elsewhere would be refused at every install. */
  if (rc == SQLITE_OK && p->sm.snapshot == NULL) {
    int bDeclared = 0;
    rc = rlSmDeclared(p, &bDeclared);
    if (rc == SQLITE_OK && bDeclared) rc = rlFail(p, RL_MSG_SNAPSHOT_DECLARED);
  }
  int bBegun = 0;
  if (rc == SQLITE_OK) {
    rc = rlBegin(p);
    bBegun = rc == SQLITE_OK;
  }
  if (rc == SQLITE_OK) rc = streamAlive(pData);
  RlState state;
  if (rc == SQLITE_OK) rc = rlReadState(p, &state);
  if (rc == SQLITE_OK && !state.applied.has) rc = rlFail(p, RL_MSG_NOTHING_APPLIED);
  raftlite_snapshot_meta meta;
  memset(&meta, 0, sizeof(meta));
  if (rc == SQLITE_OK) rc = metaAsOfApplied(p, iRow, &meta);
  if (rc == SQLITE_OK) rc = sealSnapshot(p, iRow, &meta, 1);
  if (bBegun) rc = rlEnd(p, rc);
  if (rc != SQLITE_OK && iRow > 0 && pData->pStore == p) dropRefused(p, iRow, rc);
  raftlite_snapshot_close(pData); /* ours, whatever happened */
  if (rc == SQLITE_OK && pMeta) {
    *pMeta = meta;
  } else {
    sqlite3_free(meta.membership_json);
  }
  return rc;
}

int rlInstallSnapshot(RlStore *p, const raftlite_snapshot_meta *pMeta,
                      raftlite_snapshot *pData, raftlite_sm_changes *pOut) {
  memset(pOut, 0, sizeof(*pOut));
  rlResetError(p);
  i64 iRow = pData ? pData->iRow : 0;
  RlState state;
  int rc = SQLITE_OK;
  if (pData == NULL || !pData->bWritable || pData->pStore != p) {
    rc = rlFail(p, RL_MSG_NOT_RECEIVING);
  }
  if (rc == SQLITE_OK) rc = rlCheckU64(p, "last_log_id.term", pMeta->last_log_id.term);
  if (rc == SQLITE_OK) rc = rlCheckU64(p, "last_log_id.index", pMeta->last_log_id.index);
  if (rc == SQLITE_OK && pMeta->has_membership) {
    rc = rlCheckU64(p, "membership_log_id.term", pMeta->membership_log_id.term);
    if (rc == SQLITE_OK) {
      rc = rlCheckU64(p, "membership_log_id.index", pMeta->membership_log_id.index);
    }
  }
  if (rc == SQLITE_OK && (pMeta->snapshot_id[0] == 0 ||
                          memchr(pMeta->snapshot_id, 0, sizeof(pMeta->snapshot_id)) == NULL)) {
    rc = rlFail(p, RL_MSG_SNAPSHOT_ID);
  }
  int bBegun = 0;
  if (rc == SQLITE_OK) {
    rc = rlBegin(p);
    bBegun = rc == SQLITE_OK;
  }
  /* A stream reclaimed by another handle's open fails as its writes do. */
  if (rc == SQLITE_OK) rc = streamAlive(pData);
  if (rc == SQLITE_OK) rc = rlReadState(p, &state);

  RlLogId last = {1, (i64)pMeta->last_log_id.term, (i64)pMeta->last_log_id.index};
  char zA[RL_LOGID_BUF], zB[RL_LOGID_BUF];
  if (rc == SQLITE_OK && rlLogIdCmp(&last, &state.applied) < 0) {
    rc = rlFail(p, RL_MSG_SNAPSHOT_STALE, rlLogIdText(&state.applied, zA),
                rlLogIdText(&last, zB));
  }
  /* The log: kept after meta.last_log_id when the log holds exactly that
  ** id, otherwise removed whole. Entries above last_applied go first (they
  ** may conflict); those at or below go with the purge below. */
  int bHeld = 0;
  if (rc == SQLITE_OK) {
    i64 iTerm = 0;
    rc = rlReadEntryTerm(p, last.index, &bHeld, &iTerm);
    bHeld = bHeld && iTerm == last.term;
  }
  if (rc == SQLITE_OK && !bHeld && state.first.has) {
    i64 iFrom = state.applied.has ? state.applied.index + 1 : state.first.index;
    rc = rlTruncate(p, iFrom, NULL);
  }
  /* ... and those at or below last_applied before last_applied moves: the
  ** entry at the meta's index may carry another term. */
  if (rc == SQLITE_OK && !bHeld && state.applied.has &&
      rlLogIdCmp(&state.applied, &state.purged) > 0) {
    rc = rlPurge(p, state.applied.index, 1, state.applied.term, NULL);
  }
  /* The state machine's content. */
  if (rc == SQLITE_OK) {
    pData->iPos = 0;
    pData->bWritable = 0;
    if (p->sm.restore) {
      rc = p->sm.restore(p->sm.ctx, p->db, pData);
      if (rc != SQLITE_OK && p->zErrMsg == NULL) {
        /* Bytes the state machine cannot take are SnapshotInvalid; running
        ** out of memory or disk is not a verdict on the bytes. The
        ** callback's code is returned either way. */
        rlFail(p, rlIsResourceError(rc) ? RL_MSG_SM_RESTORE_FAILED : RL_MSG_SM_RESTORE_REJECTED,
               rc, sqlite3_errstr(rc));
      }
    } else {
      rc = rlSmRestore(p, pData, pMeta);
    }
  }
  if (rc == SQLITE_OK) {
    rc = sealSnapshot(p, iRow, pMeta, 0);
    if (p->eKind == RAFTLITE_INVALID_MEMBERSHIP ||
        (rc != SQLITE_OK && p->zErrMsg && strstr(p->zErrMsg, "malformed JSON"))) {
      RlLogId at = {1, (i64)pMeta->membership_log_id.term, (i64)pMeta->membership_log_id.index};
      const char *zJson = pMeta->membership_json ? pMeta->membership_json : "";
      int n = (int)strlen(zJson);
      rc = rlFail(p, RL_MSG_SNAPSHOT_MEMBERSHIP, rlLogIdText(&at, zA), rlLogIdText(&last, zB),
                  n > 60 ? 60 : n, zJson);
    }
  }
  /* last_applied and the applied membership jump to the snapshot's. */
  if (rc == SQLITE_OK) {
    sqlite3_stmt *pStmt = rlStmt(p, RL_STMT_SNAPSHOT_INSTALL);
    if (pStmt == NULL) {
      rc = p->zErrMsg ? SQLITE_ERROR : SQLITE_NOMEM;
    } else {
      sqlite3_bind_int64(pStmt, 1, iRow);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
      if (rc != SQLITE_OK) rc = rlFailSqlite(p, rc);
    }
  }
  if (rc == SQLITE_OK) rc = rlPurge(p, last.index, 1, last.term, NULL);
  if (bBegun) rc = rlEnd(p, rc);
  if (rc != SQLITE_OK && iRow > 0 && pData->pStore == p) dropRefused(p, iRow, rc);
  raftlite_snapshot_close(pData); /* ours, whatever happened */
  if (rc == SQLITE_OK) {
    pOut->has_last_applied = 1;
    pOut->last_applied = pMeta->last_log_id;
    pOut->is_snapshot = 1;
  }
  return rc;
}
