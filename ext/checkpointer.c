/*
** checkpointer.c — an opt-in background checkpointer for a WAL store
** (include/raftlite.h, docs/checkpointer.md).
**
** A thread with its own connection to the store's database file (same
** VFS) copies WAL frames into the database file off the writer's commit
** path. Every poll_ms it reads the WAL-index header through its
** connection's shared memory (the layout is documented in
** https://sqlite.org/walformat.html, §2.1, and shared by every SQLite
** version, since processes of different versions share it):
**
**   mxFrame   frames in the WAL          nBackfill  frames already copied
**
** and runs a PASSIVE checkpoint when wal_frames frames wait, and, when
** asked (idle_ms), a TRUNCATE checkpoint once the writer has made no
** commit for idle_ms.
**
** Why the thread never holds the write lock to bound the WAL (RESTART):
** raftlite's calls open a deferred transaction that reads before it
** writes, and SQLite gives such a transaction SQLITE_BUSY at once, busy
** timeout or not, when another connection holds the write lock as it
** upgrades. The WAL only starts over when a transaction begins with every
** frame copied, which a thread copying in parallel with a busy writer
** rarely sees; the writer's own auto-checkpoint does (it runs between the
** writer's transactions), so the bound is the writer's wal_autocheckpoint,
** set above wal_frames: the thread has copied nearly everything by then,
** and the writer's checkpoint only copies the rest.
**
** The thread reads nothing of the store and loads nothing: a checkpoint
** needs no schema. Its connection's synchronous is the store's, so a
** checkpoint syncs the WAL and the database file exactly as the writer's
** own auto-checkpoint would (a checkpoint without syncs could lose
** committed data when the WAL starts over).
*/
#define _POSIX_C_SOURCE 200809L

#include "raftlite_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* 250 and 4 * 250: the writer keeps SQLite's default bound, 1000 frames. */
#define CK_DEFAULT_WAL_FRAMES 250
#define CK_DEFAULT_WRITER_FACTOR 4 /* writer_autocheckpoint: 4 * wal_frames */
#define CK_DEFAULT_POLL_MS 10

struct raftlite_checkpointer {
  /* On the handle's thread only: the handle it was started on, until
  ** raftlite_close() stops it or free() unlinks it. */
  raftlite *pHandle;
  raftlite_checkpointer *pNextOfHandle;
  /* Set by start(), read-only afterwards. */
  sqlite3 *db;           /* the thread's own connection */
  i64 nWalFrames;        /* PASSIVE threshold */
  i64 nWriterFrames;     /* the writer's wal_autocheckpoint at start; 0: none */
  int nIdleMs;           /* TRUNCATE after this idle time; 0: never */
  int nPollMs;
  pthread_t thread;
  pthread_mutex_t mutex; /* guards everything below */
  pthread_cond_t cond;   /* signalled by stop() */
  int bStop;             /* stop() asked */
  int bJoined;           /* the thread is gone, db closed */
  raftlite_checkpointer_stats stats;
};

/* ------------------------------------------------------------------ */
/* Statistics and errors                                               */

static void ckRecordError(raftlite_checkpointer *p, int rc, const char *zWhat) {
  const char *zDb = p->db ? sqlite3_errmsg(p->db) : sqlite3_errstr(rc);
  pthread_mutex_lock(&p->mutex);
  p->stats.n_errors++;
  p->stats.last_rc = rc;
  if (p->stats.first_rc == SQLITE_OK) {
    p->stats.first_rc = rc;
    snprintf(p->stats.first_error, sizeof(p->stats.first_error),
             "checkpointer: %s checkpoint failed (%s); the writer's commits are not affected,"
             " but the WAL is not copied into the database file while this lasts",
             zWhat, zDb);
  }
  pthread_mutex_unlock(&p->mutex);
}

/* ------------------------------------------------------------------ */
/* The WAL-index header                                                */

typedef unsigned int u32;

typedef struct CkWal {
  u32 mxFrame;   /* frames in the WAL */
  u32 nBackfill; /* frames copied into the database file */
  u32 iChange;   /* changes with every commit */
  u32 salt0;     /* changes when the WAL starts over */
} CkWal;

/* Reads the header through the connection's mapping of the WAL-index
** (the connection must have read the database once, which maps it).
** Lock-free, as SQLite's own readers: the two copies of the header must
** agree. Returns 0 when it cannot tell (no mapping, a header being
** written): the caller then checkpoints anyway. */
static int ckReadWal(sqlite3 *db, CkWal *pOut) {
  sqlite3_file *pFile = NULL;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &pFile) != SQLITE_OK ||
      pFile == NULL || pFile->pMethods == NULL || pFile->pMethods->iVersion < 2 ||
      pFile->pMethods->xShmMap == NULL) {
    return 0;
  }
  void volatile *pMap = NULL;
  if (pFile->pMethods->xShmMap(pFile, 0, 32768, 0, &pMap) != SQLITE_OK || pMap == NULL) {
    return 0;
  }
  for (int iTry = 0; iTry < 4; iTry++) {
    unsigned char a1[48], a2[48];
    u32 nBackfill;
    memcpy(a1, (const void *)pMap, 48);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    memcpy(a2, (const char *)pMap + 48, 48);
    memcpy(&nBackfill, (const char *)pMap + 96, 4);
    if (memcmp(a1, a2, 48) != 0 || a1[12] == 0 /* isInit */) continue;
    memcpy(&pOut->iChange, a1 + 8, 4);
    memcpy(&pOut->mxFrame, a1 + 16, 4);
    memcpy(&pOut->salt0, a1 + 32, 4);
    pOut->nBackfill = nBackfill;
    return 1;
  }
  return 0;
}

/* ------------------------------------------------------------------ */
/* The thread                                                          */

static double ckNowMs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One checkpoint; counts it. Returns its result code. */
static int ckRun(raftlite_checkpointer *p, int eMode, const CkWal *pBefore, int bKnown) {
  int nLog = -1, nCkpt = -1;
  int rc = sqlite3_wal_checkpoint_v2(p->db, "main", eMode, &nLog, &nCkpt);
  uint64_t nCopied = 0;
  if (rc == SQLITE_OK || rc == SQLITE_BUSY) {
    u32 nFrom = bKnown && pBefore->nBackfill <= pBefore->mxFrame ? pBefore->nBackfill : 0;
    if (eMode == SQLITE_CHECKPOINT_TRUNCATE && rc == SQLITE_OK) {
      /* The WAL is gone: every frame it held was copied. */
      nCopied = bKnown ? pBefore->mxFrame - nFrom : 0;
    } else if (nCkpt > 0 && (u32)nCkpt > nFrom) {
      nCopied = (u32)nCkpt - nFrom;
    }
  }
  pthread_mutex_lock(&p->mutex);
  switch (eMode) {
    case SQLITE_CHECKPOINT_PASSIVE: p->stats.n_passive++; break;
    default: p->stats.n_truncate++; break;
  }
  p->stats.n_frames += nCopied;
  /* SQLITE_BUSY: the writer's own checkpoint was under way, or a TRUNCATE
  ** (which never waits) met the writer or a reader and only copied. No
  ** error: the next poll, or the next idle period, tries again. */
  if (rc == SQLITE_BUSY) p->stats.n_busy++;
  pthread_mutex_unlock(&p->mutex);
  if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
    ckRecordError(p, rc, eMode == SQLITE_CHECKPOINT_PASSIVE ? "a PASSIVE" : "a TRUNCATE");
  }
  return rc;
}

static void *ckMain(void *pArg) {
  raftlite_checkpointer *p = pArg;
  CkWal last = {0, 0, 0, 0};
  int bLastKnown = 0;
  double tChange = ckNowMs(); /* when the writer last committed */
  int bIdleDone = 0;          /* TRUNCATE done (or tried) in this idle period */
  double tRetry = 0;          /* after a failed checkpoint: not before this */
  int nFailed = 0;            /* failed checkpoints in a row */
  pthread_mutex_lock(&p->mutex);
  while (!p->bStop) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long nNs = ts.tv_nsec + (long)p->nPollMs % 1000 * 1000000L;
    ts.tv_sec += p->nPollMs / 1000 + nNs / 1000000000L;
    ts.tv_nsec = nNs % 1000000000L;
    while (!p->bStop && pthread_cond_timedwait(&p->cond, &p->mutex, &ts) != ETIMEDOUT) {
    }
    if (p->bStop) break;
    pthread_mutex_unlock(&p->mutex);

    CkWal w;
    int bKnown = ckReadWal(p->db, &w);
    double tNow = ckNowMs();
    int rc = SQLITE_OK;
    if (tNow < tRetry) {
      /* A failing disk: retry later, not every poll. */
    } else if (!bKnown) {
      /* Not mapped yet, or a header being written: a PASSIVE checkpoint
      ** is always safe, and maps the WAL-index. */
      rc = ckRun(p, SQLITE_CHECKPOINT_PASSIVE, &w, 0);
    } else {
      int bQuiet = bLastKnown && w.iChange == last.iChange && w.mxFrame == last.mxFrame &&
                   w.salt0 == last.salt0;
      if (!bQuiet) {
        tChange = tNow;
        bIdleDone = 0;
      }
      u32 nBackfill = w.nBackfill <= w.mxFrame ? w.nBackfill : 0;
      u32 nLeft = w.mxFrame - nBackfill;
      pthread_mutex_lock(&p->mutex);
      if (w.mxFrame > p->stats.max_wal_frames) p->stats.max_wal_frames = w.mxFrame;
      pthread_mutex_unlock(&p->mutex);
      /* Past the writer's own threshold, its next commit checkpoints and
      ** the WAL starts over after it: a checkpoint of the thread would only
      ** hold the checkpoint lock the writer's needs, and the WAL would grow
      ** past the bound meanwhile. Unless the writer has stopped there. */
      if (nLeft >= p->nWalFrames &&
          (p->nWriterFrames == 0 || w.mxFrame < p->nWriterFrames || bQuiet)) {
        rc = ckRun(p, SQLITE_CHECKPOINT_PASSIVE, &w, 1);
      } else if (p->nIdleMs > 0 && !bIdleDone && w.mxFrame > 0 &&
                 tNow - tChange >= p->nIdleMs) {
        bIdleDone = 1;
        rc = ckRun(p, SQLITE_CHECKPOINT_TRUNCATE, &w, 1);
      }
      last = w;
      bLastKnown = 1;
      /* What the checkpoint itself changed is no commit. */
      CkWal after;
      if (ckReadWal(p->db, &after)) last = after;
    }
    if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
      nFailed++;
      tRetry = tNow + (nFailed >= 7 ? 1000.0 : 10.0 * (1 << nFailed));
    } else if (tNow >= tRetry) {
      nFailed = 0;
    }
    pthread_mutex_lock(&p->mutex);
  }
  pthread_mutex_unlock(&p->mutex);
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Start                                                               */

/* The single-row, single-column text result of zSql on db (owned), or
** NULL with *pRc set. */
static char *ckQueryText(sqlite3 *db, const char *zSql, int *pRc) {
  sqlite3_stmt *pStmt = NULL;
  char *zOut = NULL;
  int rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, NULL);
  if (rc == SQLITE_OK) {
    if (sqlite3_step(pStmt) == SQLITE_ROW) {
      zOut = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(pStmt, 0));
      if (zOut == NULL) rc = SQLITE_NOMEM;
    }
    int rc2 = sqlite3_finalize(pStmt);
    if (rc == SQLITE_OK) rc = rc2;
    if (rc == SQLITE_OK && zOut == NULL) rc = SQLITE_ERROR;
  }
  *pRc = rc;
  return zOut;
}

/* Reads a setting of schema zSchema ("PRAGMA "s".name"), lower case. */
static char *ckPragma(sqlite3 *db, const char *zSchema, const char *zName, int *pRc) {
  char *zSql = zSchema ? sqlite3_mprintf("PRAGMA \"%w\".%s", zSchema, zName)
                       : sqlite3_mprintf("PRAGMA %s", zName);
  if (zSql == NULL) {
    *pRc = SQLITE_NOMEM;
    return NULL;
  }
  char *z = ckQueryText(db, zSql, pRc);
  sqlite3_free(zSql);
  for (char *c = z; c && *c; c++) {
    if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
  }
  return z;
}

/* Records a refusal on the store: "checkpointer: <sentence>". */
static int ckRefuse(RlStore *pStore, int rc, const char *zFmt, ...) {
  va_list ap;
  va_start(ap, zFmt);
  char *zDetail = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
  char *zMsg = zDetail ? sqlite3_mprintf("checkpointer: %s", zDetail) : NULL;
  sqlite3_free(zDetail);
  return rlFailOwned(pStore, rc, RAFTLITE_NO_VIOLATION, zMsg);
}

/* A config value: 0 means the default; negative is refused. */
static int ckConfigValue(int v, int iDefault, int *pOut) {
  if (v < 0) return 0;
  *pOut = v ? v : iDefault;
  return 1;
}

int raftlite_checkpointer_start(raftlite *pHandle, const raftlite_checkpointer_config *pCfg,
                                raftlite_checkpointer **ppOut) {
  if (ppOut) *ppOut = NULL;
  if (pHandle == NULL || ppOut == NULL) return SQLITE_MISUSE;
  RlStore *pStore = &pHandle->store;
  rlResetError(pStore);
  raftlite_checkpointer_config cfg;
  if (pCfg) cfg = *pCfg;
  else memset(&cfg, 0, sizeof(cfg));

  int nWalFrames, nWriterFrames, nPollMs;
  if ((cfg.flags & ~(unsigned)RAFTLITE_CHECKPOINTER_SET_WRITER_AUTOCHECKPOINT) != 0 ||
      !ckConfigValue(cfg.wal_frames, CK_DEFAULT_WAL_FRAMES, &nWalFrames) ||
      !ckConfigValue(cfg.writer_autocheckpoint,
                     nWalFrames > 0x7fffffff / CK_DEFAULT_WRITER_FACTOR
                         ? 0x7fffffff
                         : nWalFrames * CK_DEFAULT_WRITER_FACTOR,
                     &nWriterFrames) ||
      !ckConfigValue(cfg.poll_ms, CK_DEFAULT_POLL_MS, &nPollMs) || cfg.idle_ms < 0) {
    return ckRefuse(pStore, SQLITE_MISUSE,
                    "a config value is negative (every field is 0 for its default, or"
                    " positive) or flags has an unknown bit");
  }
  if ((cfg.flags & RAFTLITE_CHECKPOINTER_SET_WRITER_AUTOCHECKPOINT) &&
      nWriterFrames <= nWalFrames) {
    return ckRefuse(pStore, SQLITE_MISUSE,
                    "writer_autocheckpoint (%d) is not above wal_frames (%d): the writer would"
                    " checkpoint before the thread does", nWriterFrames, nWalFrames);
  }

  sqlite3 *dbStore = pStore->db;
  const char *zSchema = pStore->zSchema;
  const char *zFile = sqlite3_db_filename(dbStore, zSchema);
  if (zFile == NULL || zFile[0] == 0) {
    return ckRefuse(pStore, SQLITE_MISUSE,
                    "the store (schema %s) is in memory or a temporary database: it has no file"
                    " another connection can open", zSchema);
  }
  int rc;
  char *zMode = ckPragma(dbStore, zSchema, "journal_mode", &rc);
  if (zMode == NULL) return rlFailSqlite(pStore, rc);
  if (strcmp(zMode, "wal") != 0) {
    rc = ckRefuse(pStore, SQLITE_MISUSE,
                  "the store's journal_mode is %s, not wal: only a WAL store can be checkpointed"
                  " from another connection (set PRAGMA journal_mode=WAL on the store first)",
                  zMode);
    sqlite3_free(zMode);
    return rc;
  }
  sqlite3_free(zMode);
  zMode = ckPragma(dbStore, zSchema, "locking_mode", &rc);
  if (zMode == NULL) return rlFailSqlite(pStore, rc);
  if (strcmp(zMode, "exclusive") == 0) {
    sqlite3_free(zMode);
    return ckRefuse(pStore, SQLITE_MISUSE,
                    "the store's locking_mode is exclusive: no other connection can read its"
                    " WAL (use locking_mode NORMAL to run the checkpointer)");
  }
  sqlite3_free(zMode);
  if (!(cfg.flags & RAFTLITE_CHECKPOINTER_SET_WRITER_AUTOCHECKPOINT)) {
    /* The writer's own threshold, which the thread leaves to it. */
    char *zAuto = ckPragma(dbStore, NULL, "wal_autocheckpoint", &rc);
    if (zAuto == NULL) return rlFailSqlite(pStore, rc);
    nWriterFrames = atoi(zAuto) > 0 ? atoi(zAuto) : 0;
    sqlite3_free(zAuto);
  }
  char *zSync = ckPragma(dbStore, zSchema, "synchronous", &rc);
  if (zSync == NULL) return rlFailSqlite(pStore, rc);
  int iSync = atoi(zSync);
  sqlite3_free(zSync);

  sqlite3_vfs *pVfs = NULL;
  rc = sqlite3_file_control(dbStore, zSchema, SQLITE_FCNTL_VFS_POINTER, &pVfs);
  if (rc != SQLITE_OK || pVfs == NULL) {
    return ckRefuse(pStore, rc != SQLITE_OK ? rc : SQLITE_ERROR,
                    "cannot tell which VFS the store's file '%s' is opened with", zFile);
  }

  raftlite_checkpointer *p = sqlite3_malloc(sizeof(*p));
  if (p == NULL) return SQLITE_NOMEM;
  memset(p, 0, sizeof(*p));
  p->nWalFrames = nWalFrames;
  p->nIdleMs = cfg.idle_ms;
  p->nPollMs = nPollMs;

  /* Never SQLITE_OPEN_CREATE: the file must be the store's, still there. */
  rc = sqlite3_open_v2(zFile, &p->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                       pVfs->zName);
  char *zSql = NULL;
  if (rc == SQLITE_OK) {
    /* The store's synchronous (see the header comment), and one read,
    ** which opens the WAL and maps the WAL-index. */
    zSql = sqlite3_mprintf("PRAGMA synchronous=%d; PRAGMA journal_mode", iSync);
    rc = zSql ? sqlite3_exec(p->db, zSql, NULL, NULL, NULL) : SQLITE_NOMEM;
  }
  sqlite3_free(zSql);
  if (rc == SQLITE_OK) {
    zMode = ckPragma(p->db, NULL, "journal_mode", &rc);
    if (zMode && strcmp(zMode, "wal") != 0) rc = SQLITE_CANTOPEN;
    sqlite3_free(zMode);
  }
  if (rc != SQLITE_OK) {
    rc = ckRefuse(pStore, rc,
                  "cannot open the store's file '%s' a second time (VFS %s): %s; the"
                  " checkpointer needs a connection of its own to it",
                  zFile, pVfs->zName,
                  p->db && rc != SQLITE_CANTOPEN ? sqlite3_errmsg(p->db)
                  : p->db ? "it is not the store's WAL database (deleted or replaced?)"
                          : sqlite3_errstr(rc));
    sqlite3_close(p->db);
    sqlite3_free(p);
    return rc;
  }
  /* No busy handler: a TRUNCATE that would have to wait for the writer
  ** gives up at once (it then does what a PASSIVE does). */

  pthread_condattr_t attr;
  int bOk = pthread_condattr_init(&attr) == 0;
  if (bOk) {
    bOk = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
          pthread_cond_init(&p->cond, &attr) == 0;
    pthread_condattr_destroy(&attr);
  }
  if (bOk && pthread_mutex_init(&p->mutex, NULL) != 0) {
    pthread_cond_destroy(&p->cond);
    bOk = 0;
  }
  if (bOk && pthread_create(&p->thread, NULL, ckMain, p) != 0) {
    pthread_mutex_destroy(&p->mutex);
    pthread_cond_destroy(&p->cond);
    bOk = 0;
  }
  if (!bOk) {
    sqlite3_close(p->db);
    sqlite3_free(p);
    return ckRefuse(pStore, SQLITE_ERROR, "cannot start a thread (%s)", strerror(errno));
  }
  /* Asked for: the writer checkpoints only past the thread's threshold. */
  if (cfg.flags & RAFTLITE_CHECKPOINTER_SET_WRITER_AUTOCHECKPOINT) {
    sqlite3_wal_autocheckpoint(dbStore, nWriterFrames);
  }
  p->nWriterFrames = nWriterFrames;
  /* raftlite_close() stops it (rlCheckpointersStop). */
  p->pHandle = pHandle;
  p->pNextOfHandle = pHandle->pCheckpointers;
  pHandle->pCheckpointers = p;
  *ppOut = p;
  return SQLITE_OK;
}

/* ------------------------------------------------------------------ */
/* Stop, statistics, free                                              */

int raftlite_checkpointer_stop(raftlite_checkpointer *p) {
  if (p == NULL) return SQLITE_OK;
  pthread_mutex_lock(&p->mutex);
  int bJoin = !p->bStop;
  p->bStop = 1;
  pthread_cond_signal(&p->cond);
  pthread_mutex_unlock(&p->mutex);
  if (bJoin) {
    pthread_join(p->thread, NULL);
    int rc = sqlite3_close(p->db);
    pthread_mutex_lock(&p->mutex);
    p->db = NULL;
    if (rc != SQLITE_OK && p->stats.first_rc == SQLITE_OK) {
      p->stats.first_rc = rc;
      snprintf(p->stats.first_error, sizeof(p->stats.first_error),
               "checkpointer: closing its connection failed (%s)", sqlite3_errstr(rc));
    }
    p->bJoined = 1;
    p->stats.running = 0;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mutex);
  } else {
    /* Another thread is stopping it: wait until it is done. */
    pthread_mutex_lock(&p->mutex);
    while (!p->bJoined) pthread_cond_wait(&p->cond, &p->mutex);
    pthread_mutex_unlock(&p->mutex);
  }
  pthread_mutex_lock(&p->mutex);
  int rc = p->stats.first_rc;
  pthread_mutex_unlock(&p->mutex);
  return rc;
}

int raftlite_checkpointer_get_stats(raftlite_checkpointer *p, raftlite_checkpointer_stats *pOut) {
  if (p == NULL || pOut == NULL) return SQLITE_MISUSE;
  pthread_mutex_lock(&p->mutex);
  *pOut = p->stats;
  pOut->running = !p->bStop;
  pthread_mutex_unlock(&p->mutex);
  return SQLITE_OK;
}

void rlCheckpointersStop(raftlite *pHandle) {
  raftlite_checkpointer *p = pHandle->pCheckpointers;
  pHandle->pCheckpointers = NULL;
  while (p) {
    raftlite_checkpointer *pNext = p->pNextOfHandle;
    raftlite_checkpointer_stop(p);
    p->pHandle = NULL;
    p->pNextOfHandle = NULL;
    p = pNext;
  }
}

void raftlite_checkpointer_free(raftlite_checkpointer *p) {
  if (p == NULL) return;
  if (p->pHandle) {
    raftlite_checkpointer **pp = &p->pHandle->pCheckpointers;
    while (*pp && *pp != p) pp = &(*pp)->pNextOfHandle;
    if (*pp) *pp = p->pNextOfHandle;
  }
  raftlite_checkpointer_stop(p);
  pthread_mutex_destroy(&p->mutex);
  pthread_cond_destroy(&p->cond);
  sqlite3_free(p);
}
