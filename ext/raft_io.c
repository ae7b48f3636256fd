/*
** raft_io.c — a canonical/raft struct raft_io whose storage is raftlite
** (include/raftlite_raft.h; docs/guide-raft.md is the guide).
**
** HOW IT WORKS
**
** The storage methods call raftlite's public C API on one store. The
** transport and timer methods are forwarded to a stock raft_uv io (the
** "transport"): its tick, receive and close callbacks come back through
** trampolines that hand raft the outer io, since raft finds itself through
** io->data (which raft_init() sets: this file keeps its state in io->impl).
**
** Writes and callbacks go through three queues:
**
**   write    appends not yet written, in call order;
**   flight   appends a thread-pool job is writing;
**   done     finished requests whose callback has not fired, in order.
**
** A uv_prepare handle runs once per loop iteration, just before the loop
** polls: it fires the callbacks of done, then hands the whole write queue
** to a job (uv_queue_work) that writes it with one raftlite call — one
** transaction, one sync — while the loop runs on. Appends queued while a
** job is out wait for the next job, so a busy loop makes bigger
** transactions. The job's after-work callback moves flight to done. So a
** callback never fires inside the call that queued it, and an append's
** callback fires after its commit. A truncate, a snapshot_put, a recover
** or a close first waits for the job (rioWait) and writes the write queue
** itself (not the callbacks), so that the store sees raft's order; the
** loop thread touches the store only while no job is using it.
**
** Indexes: append() carries none. The io keeps the next index: from the
** store at load(), then moved by append, truncate and snapshot installs.
**
** Configurations: a RAFT_CHANGE entry's payload is libraft's encoding of a
** struct raft_configuration (u8 version 1, u64le n, n x {u64le id,
** NUL-terminated address, u8 role}, zero-padded to 8 bytes). It is stored
** as a raftlite membership:
**
**   {"configs":[[<voter ids>]],"nodes":{"<id>":{"address":"...","role":
**   "voter"|"standby"|"spare"}, ...}}
**
** with the servers in configuration order, and encoded again (padding
** zeroed) when the log is loaded.
*/
#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>
#include <raft.h>
#include <sqlite3.h>
#include <uv.h>

#include "raftlite.h"
#include "raftlite_raft.h"

/* A request whose callback has not fired yet. */
typedef struct RioReq RioReq;
struct RioReq {
  int eType; /* RIO_APPEND, RIO_PUT, RIO_GET */
  int status;
  RioReq *pNext;
  union {
    struct {
      struct raft_io_append *req;
      raft_io_append_cb cb;
      const struct raft_entry *a;
      unsigned n;
      raft_index iFirst; /* index of a[0] */
    } app;
    struct {
      struct raft_io_snapshot_put *req;
      raft_io_snapshot_put_cb cb;
    } put;
    struct {
      struct raft_io_snapshot_get *req;
      raft_io_snapshot_get_cb cb;
      struct raft_snapshot *pSnap;
    } get;
  } u;
};
#define RIO_APPEND 1
#define RIO_PUT 2
#define RIO_GET 3

/* A FIFO of requests. */
typedef struct RioQueue {
  RioReq *pFirst, *pLast;
} RioQueue;

typedef struct RaftIo {
  struct raft_io *io;        /* the outer io (raft's) */
  struct raft_io *transport; /* the stock raft_uv io */
  uv_loop_t *loop;
  uv_prepare_t prepare;
  int bPrepareInit;  /* prepare was initialised (io->init succeeded) */
  int bPrepareOn;    /* prepare is started */
  sqlite3 *db;
  raftlite *store;
  sqlite3_stmt *pBegin, *pCommit, *pRollback, *pConf;
  raft_io_tick_cb xTick;
  raft_io_recv_cb xRecv;
  raft_io_close_cb xClose;
  int bClosing;     /* close() was called */
  int bTransportClosed, bPrepareClosed;
  int bBroken;      /* a write failed: every storage call fails from now */
  raft_term term;   /* the stored hard state */
  raft_id vote;
  raft_index iNext; /* the index of the next appended entry */
  RioQueue write;   /* appends not yet written */
  RioQueue done;    /* requests whose callback is due */
  /* The worker: a libuv thread-pool job that writes the appends in
  ** flight, so that the loop runs on during the sync. */
  int bAsync;         /* SQLite is threadsafe: writes go to the worker */
  uv_work_t work;
  int bWorkOut;       /* a job is out (until its after-work callback) */
  RioQueue flight;    /* the appends the job writes */
  int flightRv;       /* its outcome */
  char zFlightErr[RAFT_ERRMSG_BUF_SIZE];
  pthread_mutex_t mu;
  pthread_cond_t cond;
  int bBusy;          /* the job uses the store (guarded by mu) */
} RaftIo;

/* Where rioErr() writes on this thread: the worker's own buffer, since
** the loop thread may write io->errmsg meanwhile. */
static _Thread_local char *rioErrTarget = NULL;

static void rioPush(RioQueue *q, RioReq *r) {
  r->pNext = NULL;
  if (q->pLast) {
    q->pLast->pNext = r;
  } else {
    q->pFirst = r;
  }
  q->pLast = r;
}

static RioReq *rioPop(RioQueue *q) {
  RioReq *r = q->pFirst;
  if (r) {
    q->pFirst = r->pNext;
    if (q->pFirst == NULL) q->pLast = NULL;
  }
  return r;
}

/* Writes a sentence into the outer io's errmsg (raft reports it). */
static void rioErr(RaftIo *p, const char *zFmt, ...) {
  va_list ap;
  va_start(ap, zFmt);
  sqlite3_vsnprintf(RAFT_ERRMSG_BUF_SIZE, rioErrTarget ? rioErrTarget : p->io->errmsg, zFmt, ap);
  va_end(ap);
}

/* A zeroed request, or NULL with io->errmsg set. */
static RioReq *rioNewReq(RaftIo *p) {
  RioReq *r = sqlite3_malloc(sizeof(*r));
  if (r == NULL) {
    rioErr(p, "raftlite: out of memory");
    return NULL;
  }
  memset(r, 0, sizeof(*r));
  return r;
}


/* The store's last error, as raft's errmsg; RAFT_IOERR. */
static int rioStoreErr(RaftIo *p, const char *zWhat, int rc) {
  rioErr(p, "raftlite: %s: %s (%s)", zWhat, raftlite_errmsg(p->store), sqlite3_errstr(rc));
  return RAFT_IOERR;
}

/* ==================================================================== */
/* Transactions                                                          */
/* ==================================================================== */

static int rioStep(sqlite3_stmt *pStmt) {
  int rc = sqlite3_step(pStmt);
  int rc2 = sqlite3_reset(pStmt);
  return rc == SQLITE_DONE ? SQLITE_OK : (rc2 != SQLITE_OK ? rc2 : rc);
}

static int rioBegin(RaftIo *p) {
  int rc = rioStep(p->pBegin);
  if (rc != SQLITE_OK) {
    rioErr(p, "raftlite: BEGIN: %s", sqlite3_errmsg(p->db));
    return RAFT_IOERR;
  }
  return 0;
}

/* Ends the transaction: COMMIT when rv is 0, else ROLLBACK. A failed
** COMMIT breaks the io: a failed sync is never retried (raftlite's own
** handle refuses every write after it, too). */
static int rioEnd(RaftIo *p, int rv) {
  if (rv == 0) {
    int rc = rioStep(p->pCommit);
    if (rc != SQLITE_OK) {
      rioErr(p, "raftlite: COMMIT: %s", sqlite3_errmsg(p->db));
      rv = RAFT_IOERR;
    }
  }
  if (rv != 0) {
    if (!sqlite3_get_autocommit(p->db)) rioStep(p->pRollback);
  }
  return rv;
}

/* ==================================================================== */
/* Configurations: libraft's encoding and raftlite's membership JSON     */
/* ==================================================================== */

static const char *rioRoleName(int role) {
  switch (role) {
    case RAFT_VOTER: return "voter";
    case RAFT_STANDBY: return "standby";
    case RAFT_SPARE: return "spare";
  }
  return NULL;
}

static void rioJsonString(sqlite3_str *s, const char *z) {
  sqlite3_str_appendchar(s, 1, '"');
  for (; *z; z++) {
    unsigned char c = (unsigned char)*z;
    if (c == '"' || c == '\\') {
      sqlite3_str_appendf(s, "\\%c", c);
    } else if (c < 0x20) {
      sqlite3_str_appendf(s, "\\u%04x", c);
    } else {
      sqlite3_str_appendchar(s, 1, (char)c);
    }
  }
  sqlite3_str_appendchar(s, 1, '"');
}

/* The membership JSON of a configuration (sqlite3_malloc'd), or NULL with
** io->errmsg set: RAFT_NOMEM or RAFT_INVALID in *pRv. */
static char *rioConfToJson(RaftIo *p, const struct raft_configuration *c, int *pRv) {
  unsigned i, nVoter = 0;
  for (i = 0; i < c->n; i++) {
    if (rioRoleName(c->servers[i].role) == NULL) {
      rioErr(p, "raftlite: server %llu has role %d, not voter, standby or spare",
             c->servers[i].id, c->servers[i].role);
      *pRv = RAFT_INVALID;
      return NULL;
    }
    if (c->servers[i].role == RAFT_VOTER) nVoter++;
  }
  if (nVoter == 0) {
    /* raftlite's membership has at least one non-empty config. */
    rioErr(p, "raftlite: a configuration without voters cannot be stored "
              "(a membership needs at least one voter)");
    *pRv = RAFT_INVALID;
    return NULL;
  }
  sqlite3_str *s = sqlite3_str_new(p->db);
  sqlite3_str_appendall(s, "{\"configs\":[[");
  for (i = 0, nVoter = 0; i < c->n; i++) {
    if (c->servers[i].role != RAFT_VOTER) continue;
    sqlite3_str_appendf(s, "%s%llu", nVoter++ ? "," : "", c->servers[i].id);
  }
  sqlite3_str_appendall(s, "]],\"nodes\":{");
  for (i = 0; i < c->n; i++) {
    sqlite3_str_appendf(s, "%s\"%llu\":{\"address\":", i ? "," : "", c->servers[i].id);
    rioJsonString(s, c->servers[i].address ? c->servers[i].address : "");
    sqlite3_str_appendf(s, ",\"role\":\"%s\"}", rioRoleName(c->servers[i].role));
  }
  sqlite3_str_appendall(s, "}}");
  char *z = sqlite3_str_finish(s);
  if (z == NULL) {
    rioErr(p, "raftlite: out of memory");
    *pRv = RAFT_NOMEM;
  }
  return z;
}

/* Decodes libraft's encoding of a configuration into *c (empty on
** entry). RAFT_MALFORMED for bytes that are not one. */
static int rioConfDecode(RaftIo *p, const void *pBuf, size_t nBuf, struct raft_configuration *c) {
  const unsigned char *a = pBuf, *aEnd = a + nBuf;
  uint64_t n = 0, i;
  int k, rv = 0;
  if (nBuf < 9 || a[0] != 1) goto malformed;
  for (k = 0; k < 8; k++) n |= (uint64_t)a[1 + k] << (8 * k);
  a += 9;
  for (i = 0; i < n; i++) {
    uint64_t id = 0;
    if (aEnd - a < 8) goto malformed;
    for (k = 0; k < 8; k++) id |= (uint64_t)a[k] << (8 * k);
    a += 8;
    const unsigned char *zNul = memchr(a, 0, (size_t)(aEnd - a));
    if (zNul == NULL || zNul + 1 >= aEnd) goto malformed;
    const char *zAddr = (const char *)a;
    int role = zNul[1];
    a = zNul + 2;
    rv = raft_configuration_add(c, id, zAddr, role);
    if (rv != 0) {
      rioErr(p, "raftlite: configuration entry: server %llu: %s", (unsigned long long)id,
             raft_strerror(rv));
      raft_configuration_close(c);
      return rv;
    }
  }
  return 0;
malformed:
  raft_configuration_close(c);
  rioErr(p, "raftlite: a RAFT_CHANGE entry's payload is not an encoded configuration");
  return RAFT_MALFORMED;
}

/* Encodes c as libraft does, padding zeroed (libraft's own encoder leaves
** it uninitialised). The buffer is raft_malloc'd. */
static int rioConfEncode(const struct raft_configuration *c, struct raft_buffer *pBuf) {
  size_t n = 1 + 8, i;
  for (i = 0; i < c->n; i++) n += 8 + strlen(c->servers[i].address) + 1 + 1;
  n = (n + 7) / 8 * 8;
  unsigned char *a = raft_calloc(1, n);
  if (a == NULL) return RAFT_NOMEM;
  unsigned char *z = a;
  int k;
  *z++ = 1;
  for (k = 0; k < 8; k++) *z++ = (unsigned char)((uint64_t)c->n >> (8 * k));
  for (i = 0; i < c->n; i++) {
    for (k = 0; k < 8; k++) *z++ = (unsigned char)((uint64_t)c->servers[i].id >> (8 * k));
    size_t nAddr = strlen(c->servers[i].address) + 1;
    memcpy(z, c->servers[i].address, nAddr);
    z += nAddr;
    *z++ = (unsigned char)c->servers[i].role;
  }
  pBuf->base = a;
  pBuf->len = n;
  return 0;
}

/* Reads a membership JSON into *c (empty on entry). A node's value is an
** object with "address" and "role", or a plain address string; a node
** without a role is a voter when the last config holds it, else a
** standby. A membership without nodes has no addresses: RAFT_CORRUPT. */
static int rioJsonToConf(RaftIo *p, const char *zJson, struct raft_configuration *c) {
  int rv = 0, nRow = 0;
  sqlite3_stmt *pStmt = p->pConf;
  sqlite3_bind_text(pStmt, 1, zJson, -1, SQLITE_STATIC);
  while (rv == 0 && sqlite3_step(pStmt) == SQLITE_ROW) {
    nRow++;
    raft_id id = (raft_id)sqlite3_column_int64(pStmt, 0);
    const char *zAddr = (const char *)sqlite3_column_text(pStmt, 1);
    const char *zRole = (const char *)sqlite3_column_text(pStmt, 2);
    int role;
    if (zRole == NULL) {
      role = sqlite3_column_int(pStmt, 3) ? RAFT_VOTER : RAFT_STANDBY;
    } else if (strcmp(zRole, "voter") == 0) {
      role = RAFT_VOTER;
    } else if (strcmp(zRole, "standby") == 0) {
      role = RAFT_STANDBY;
    } else if (strcmp(zRole, "spare") == 0) {
      role = RAFT_SPARE;
    } else {
      rioErr(p, "raftlite: membership %s: node %llu has role \"%s\", not voter, standby or spare",
             zJson, id, zRole);
      rv = RAFT_CORRUPT;
      break;
    }
    if (zAddr == NULL) {
      rioErr(p, "raftlite: membership %s: node %llu has no address", zJson, id);
      rv = RAFT_CORRUPT;
      break;
    }
    rv = raft_configuration_add(c, id, zAddr, role);
    if (rv != 0) rioErr(p, "raftlite: membership %s: node %llu: %s", zJson, id, raft_strerror(rv));
  }
  sqlite3_reset(pStmt);
  sqlite3_clear_bindings(pStmt);
  if (rv == 0 && nRow == 0) {
    rioErr(p, "raftlite: membership %s names no node with an address "
              "(write it as {\"configs\": ..., \"nodes\": {\"<id>\": {\"address\": ...}}})",
           zJson);
    rv = RAFT_CORRUPT;
  }
  if (rv != 0) raft_configuration_close(c);
  return rv;
}

/* ==================================================================== */
/* The store's state machine: the FSM lives in libraft                   */
/* ==================================================================== */

/* Normal entries carry nothing for the store to apply: libraft applies
** them to its FSM. */
static int rioSmApply(void *ctx, sqlite3 *db, const raftlite_entry *e, raftlite_response *out) {
  (void)ctx, (void)db, (void)e, (void)out;
  return SQLITE_OK;
}

/* An installed snapshot's bytes are already in the stream: libraft
** restores its FSM from them itself. */
static int rioSmRestore(void *ctx, sqlite3 *db, raftlite_snapshot *r) {
  (void)ctx, (void)db, (void)r;
  return SQLITE_OK;
}

/* ==================================================================== */
/* The loop: writing appends, firing callbacks                           */
/* ==================================================================== */

static void rioPrepareCb(uv_prepare_t *h);

/* Makes sure the prepare handle runs at the next iteration. */
static void rioWake(RaftIo *p) {
  if (!p->bPrepareOn && p->bPrepareInit && !uv_is_closing((uv_handle_t *)&p->prepare)) {
    uv_prepare_start(&p->prepare, rioPrepareCb);
    p->bPrepareOn = 1;
  }
}

/* Converts every queued append to store entries and writes them with one
** raftlite call: one transaction, and one segment per run of entries of a
** term and kind instead of one per request. The requests are consecutive:
** append() numbers them in order, and truncate and snapshot installs
** write the queue before they move the next index. */
static int rioWriteQueue(RaftIo *p, RioQueue *q) {
  raftlite_entry aStack[64], *a = aStack;
  char **azJson = NULL;
  size_t n = 0, i = 0, k;
  RioReq *r;
  int rv = 0;
  for (r = q->pFirst; r; r = r->pNext) n += r->u.app.n;
  if (n == 0) return 0;
  if (n > sizeof(aStack) / sizeof(aStack[0])) {
    a = sqlite3_malloc64(sizeof(*a) * n);
    if (a == NULL) goto nomem;
  }
  for (r = q->pFirst; rv == 0 && r; r = r->pNext) {
    for (unsigned j = 0; rv == 0 && j < r->u.app.n; j++, i++) {
      const struct raft_entry *e = &r->u.app.a[j];
      a[i].log_id.term = e->term;
      a[i].log_id.index = r->u.app.iFirst + j;
      switch (e->type) {
        case RAFT_COMMAND:
          a[i].kind = RAFTLITE_NORMAL;
          a[i].data = e->buf.base;
          a[i].size = e->buf.len;
          break;
        case RAFT_BARRIER:
          /* 0.15 puts 8 meaningless bytes in a barrier: stored blank. */
          a[i].kind = RAFTLITE_BLANK;
          a[i].data = NULL;
          a[i].size = 0;
          break;
        case RAFT_CHANGE: {
          struct raft_configuration c;
          if (azJson == NULL) {
            azJson = sqlite3_malloc64(sizeof(char *) * n);
            if (azJson == NULL) goto nomem;
            memset(azJson, 0, sizeof(char *) * n);
          }
          raft_configuration_init(&c);
          rv = rioConfDecode(p, e->buf.base, e->buf.len, &c);
          if (rv != 0) break;
          azJson[i] = rioConfToJson(p, &c, &rv);
          raft_configuration_close(&c);
          a[i].kind = RAFTLITE_MEMBERSHIP;
          a[i].data = azJson[i];
          a[i].size = azJson[i] ? strlen(azJson[i]) : 0;
          break;
        }
        default:
          rioErr(p, "raftlite: entry %llu has type %d, not a command, barrier or change",
                 a[i].log_id.index, e->type);
          rv = RAFT_INVALID;
      }
    }
  }
  if (rv == 0) {
    int rc = raftlite_append_to_log(p->store, a, n);
    if (rc != SQLITE_OK) rv = rioStoreErr(p, "append", rc);
  }
  goto out;
nomem:
  rioErr(p, "raftlite: out of memory");
  rv = RAFT_NOMEM;
out:
  if (azJson) {
    for (k = 0; k < n; k++) sqlite3_free(azJson[k]);
    sqlite3_free(azJson);
  }
  if (a != aStack) sqlite3_free(a);
  return rv;
}

/* Waits until the worker has left the store, then moves what it wrote to
** the callback queue (once). On the loop thread. */
static void rioWait(RaftIo *p) {
  RioReq *r;
  if (!p->bAsync) return;
  pthread_mutex_lock(&p->mu);
  while (p->bBusy) pthread_cond_wait(&p->cond, &p->mu);
  pthread_mutex_unlock(&p->mu);
  if (p->flight.pFirst == NULL) return;
  if (p->flightRv != 0) {
    /* A lost append leaves raft's log and the store apart. */
    p->bBroken = 1;
    memcpy(p->io->errmsg, p->zFlightErr, RAFT_ERRMSG_BUF_SIZE);
  }
  while ((r = rioPop(&p->flight)) != NULL) {
    r->status = p->flightRv;
    rioPush(&p->done, r);
  }
  rioWake(p);
}

/* Writes every queued append (one atomic, durable raftlite call) on the
** loop thread, after what the worker has in flight, and moves them to the
** callback queue with the outcome. Returns it. */
static int rioFlush(RaftIo *p) {
  RioReq *r;
  rioWait(p);
  if (p->write.pFirst == NULL) return 0;
  int rv = p->bBroken ? RAFT_IOERR : rioWriteQueue(p, &p->write);
  if (p->bBroken) rioErr(p, "raftlite: an earlier write failed: reopen the store");
  /* A lost append leaves raft's log and the store apart: nothing more is
  ** written through this io. */
  if (rv != 0) p->bBroken = 1;
  while ((r = rioPop(&p->write)) != NULL) {
    r->status = rv;
    rioPush(&p->done, r);
  }
  rioWake(p);
  return rv;
}

/* rioFlush(), then RAFT_IOERR if an earlier write failed: after that no
** write goes through this io. */
static int rioFlushUnbroken(RaftIo *p) {
  int rv = rioFlush(p);
  if (rv == 0 && p->bBroken) {
    rioErr(p, "raftlite: an earlier write failed: reopen the store");
    rv = RAFT_IOERR;
  }
  return rv;
}

/* The job: writes the appends in flight, off the loop thread. */
static void rioWorkCb(uv_work_t *w) {
  RaftIo *p = w->data;
  rioErrTarget = p->zFlightErr;
  int rv = rioWriteQueue(p, &p->flight);
  rioErrTarget = NULL;
  pthread_mutex_lock(&p->mu);
  p->flightRv = rv;
  p->bBusy = 0;
  pthread_cond_signal(&p->cond);
  pthread_mutex_unlock(&p->mu);
}

static void rioCloseStep(RaftIo *p);

static void rioAfterWorkCb(uv_work_t *w, int status) {
  RaftIo *p = w->data;
  (void)status;
  rioWait(p);
  p->bWorkOut = 0;
  if (p->bClosing) {
    rioCloseStep(p);
  } else {
    rioWake(p); /* callbacks due, and the appends queued meanwhile */
  }
}

/* Hands the queued appends to the worker, unless a job is out: the
** appends queued meanwhile go together in the next one. */
static void rioKick(RaftIo *p) {
  if (p->write.pFirst == NULL || p->bWorkOut || p->bClosing) return;
  if (!p->bAsync || p->bBroken) {
    rioFlush(p);
    return;
  }
  p->flight = p->write;
  p->write.pFirst = p->write.pLast = NULL;
  p->zFlightErr[0] = 0;
  pthread_mutex_lock(&p->mu);
  p->bBusy = 1;
  pthread_mutex_unlock(&p->mu);
  p->bWorkOut = 1;
  p->work.data = p;
  if (uv_queue_work(p->loop, &p->work, rioWorkCb, rioAfterWorkCb) != 0) {
    /* No thread pool: written here instead. */
    p->bWorkOut = 0;
    pthread_mutex_lock(&p->mu);
    p->bBusy = 0;
    pthread_mutex_unlock(&p->mu);
    p->write = p->flight;
    p->flight.pFirst = p->flight.pLast = NULL;
    rioFlush(p);
  }
}

static void rioFire(RioReq *r) {
  switch (r->eType) {
    case RIO_APPEND:
      r->u.app.cb(r->u.app.req, r->status);
      break;
    case RIO_PUT:
      r->u.put.cb(r->u.put.req, r->status);
      break;
    case RIO_GET:
      r->u.get.cb(r->u.get.req, r->u.get.pSnap, r->status);
      break;
  }
  sqlite3_free(r);
}

/* Fires what is due (a callback may queue more), then hands what is
** queued to the worker. */
static void rioDrain(RaftIo *p) {
  RioReq *r;
  for (;;) {
    while ((r = rioPop(&p->done)) != NULL) rioFire(r);
    rioKick(p);
    if (p->done.pFirst == NULL) break; /* the synchronous fallback's */
  }
}

static void rioPrepareCb(uv_prepare_t *h) {
  RaftIo *p = h->data;
  rioDrain(p);
  /* With a job out, its after-work callback wakes the handle again. */
  if (p->done.pFirst == NULL && (p->write.pFirst == NULL || p->bWorkOut) && p->bPrepareOn) {
    uv_prepare_stop(&p->prepare);
    p->bPrepareOn = 0;
  }
}

/* ==================================================================== */
/* Transport and timers: forwarded                                       */
/* ==================================================================== */

static void rioCopyErr(RaftIo *p) {
  memcpy(p->io->errmsg, p->transport->errmsg, RAFT_ERRMSG_BUF_SIZE);
}

static int rioInit(struct raft_io *io, raft_id id, const char *address) {
  RaftIo *p = io->impl;
  int rv = p->transport->init(p->transport, id, address);
  if (rv != 0) {
    rioCopyErr(p);
    return rv;
  }
  uv_prepare_init(p->loop, &p->prepare);
  p->prepare.data = p;
  p->bPrepareInit = 1;
  return 0;
}

static void rioTickCb(struct raft_io *transport) {
  RaftIo *p = transport->data;
  p->xTick(p->io);
}

static void rioRecvCb(struct raft_io *transport, struct raft_message *msg) {
  RaftIo *p = transport->data;
  p->xRecv(p->io, msg);
}

static int rioStart(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
                    raft_io_recv_cb recv) {
  RaftIo *p = io->impl;
  p->xTick = tick;
  p->xRecv = recv;
  int rv = p->transport->start(p->transport, msecs, rioTickCb, rioRecvCb);
  if (rv != 0) rioCopyErr(p);
  return rv;
}

static int rioSend(struct raft_io *io, struct raft_io_send *req,
                   const struct raft_message *message, raft_io_send_cb cb) {
  RaftIo *p = io->impl;
  int rv = p->transport->send(p->transport, req, message, cb);
  if (rv != 0) rioCopyErr(p);
  return rv;
}

static raft_time rioTime(struct raft_io *io) {
  RaftIo *p = io->impl;
  return p->transport->time(p->transport);
}

static int rioRandom(struct raft_io *io, int min, int max) {
  RaftIo *p = io->impl;
  return p->transport->random(p->transport, min, max);
}

static int rioAsyncWork(struct raft_io *io, struct raft_io_async_work *req,
                        raft_io_async_work_cb cb) {
  RaftIo *p = io->impl;
  /* The stock io says version 1 but has async_work. */
  if (p->transport->async_work == NULL) {
    rioErr(p, "raftlite: the transport io has no async_work");
    return RAFT_INVALID;
  }
  int rv = p->transport->async_work(p->transport, req, cb);
  if (rv != 0) rioCopyErr(p);
  return rv;
}

/* raft's close callback, once the transport and the prepare handle are
** closed and no job is out. */
static void rioCloseStep(RaftIo *p) {
  if (!p->bTransportClosed || (p->bPrepareInit && !p->bPrepareClosed) || p->bWorkOut) return;
  /* raft frees its log in its close callback: every callback first. */
  rioWait(p);
  while (p->done.pFirst) rioFire(rioPop(&p->done));
  raft_io_close_cb xClose = p->xClose;
  p->xClose = NULL;
  if (xClose) xClose(p->io);
}

static void rioPrepareClosed(uv_handle_t *h) {
  RaftIo *p = h->data;
  p->bPrepareClosed = 1;
  rioCloseStep(p);
}

static void rioTransportClosed(struct raft_io *transport) {
  RaftIo *p = transport->data;
  p->bTransportClosed = 1;
  rioDrain(p);
  if (p->bPrepareInit) {
    uv_close((uv_handle_t *)&p->prepare, rioPrepareClosed);
  } else {
    rioCloseStep(p);
  }
}

static void rioClose(struct raft_io *io, raft_io_close_cb cb) {
  RaftIo *p = io->impl;
  p->bClosing = 1;
  p->xClose = cb;
  /* Queued appends are written now; their callbacks fire before cb. */
  rioFlush(p);
  /* The transport closes first, then the prepare handle (rioCloseStep). */
  p->transport->close(p->transport, rioTransportClosed);
}

/* ==================================================================== */
/* Storage                                                               */
/* ==================================================================== */

/* A raft_malloc'd snapshot from the store's current one, or *ppSnap NULL
** when there is none. */
static int rioReadSnapshot(RaftIo *p, struct raft_snapshot **ppSnap) {
  raftlite_snapshot_meta meta;
  raftlite_snapshot *pStream = NULL;
  struct raft_snapshot *s = NULL;
  uint64_t nByte = 0;
  int rv = 0, rc;
  *ppSnap = NULL;
  memset(&meta, 0, sizeof(meta));
  rc = raftlite_get_current_snapshot(p->store, &meta, &pStream);
  if (rc != SQLITE_OK) return rioStoreErr(p, "get_current_snapshot", rc);
  if (pStream == NULL) return 0;
  rc = raftlite_snapshot_seek(pStream, 0, SEEK_END, &nByte);
  if (rc == SQLITE_OK) rc = raftlite_snapshot_seek(pStream, 0, SEEK_SET, NULL);
  if (rc != SQLITE_OK) {
    rv = rioStoreErr(p, "snapshot stream", rc);
    goto out;
  }
  s = raft_calloc(1, sizeof(*s));
  if (s) s->bufs = raft_calloc(1, sizeof(*s->bufs));
  if (s == NULL || s->bufs == NULL) goto nomem;
  s->n_bufs = 1;
  /* raft_malloc(0) may be NULL: at least one byte. */
  s->bufs[0].base = raft_malloc(nByte ? (size_t)nByte : 1);
  if (s->bufs[0].base == NULL) goto nomem;
  s->bufs[0].len = (size_t)nByte;
  for (size_t nGot = 0; nGot < nByte;) {
    size_t nRead = 0;
    rc = raftlite_snapshot_read(pStream, (char *)s->bufs[0].base + nGot, (size_t)nByte - nGot,
                                &nRead);
    if (rc == SQLITE_OK && nRead == 0) rc = SQLITE_CORRUPT;
    if (rc != SQLITE_OK) {
      rv = rioStoreErr(p, "snapshot read", rc);
      goto out;
    }
    nGot += nRead;
  }
  s->index = meta.last_log_id.index;
  s->term = meta.last_log_id.term;
  raft_configuration_init(&s->configuration);
  if (meta.has_membership) {
    rv = rioJsonToConf(p, meta.membership_json, &s->configuration);
    if (rv != 0) goto out;
    s->configuration_index = meta.membership_log_id.index;
  }
  *ppSnap = s;
  s = NULL;
  goto out;
nomem:
  rioErr(p, "raftlite: out of memory");
  rv = RAFT_NOMEM;
out:
  if (s) {
    if (s->bufs) raft_free(s->bufs[0].base);
    raft_free(s->bufs);
    raft_free(s);
  }
  raftlite_snapshot_close(pStream);
  raftlite_snapshot_meta_free(&meta);
  return rv;
}

static void rioSnapshotFree(struct raft_snapshot *s) {
  if (s == NULL) return;
  raft_configuration_close(&s->configuration);
  for (unsigned i = 0; i < s->n_bufs; i++) raft_free(s->bufs[i].base);
  raft_free(s->bufs);
  raft_free(s);
}

/* A raft entry from a store entry: its own raft_malloc'd batch. */
static int rioToRaftEntry(RaftIo *p, const raftlite_entry *e, struct raft_entry *out) {
  out->term = e->log_id.term;
  switch (e->kind) {
    case RAFTLITE_NORMAL:
      out->type = RAFT_COMMAND;
      out->buf.len = e->size;
      out->buf.base = raft_malloc(e->size ? e->size : 1);
      if (out->buf.base == NULL) return RAFT_NOMEM;
      if (e->size) memcpy(out->buf.base, e->data, e->size);
      break;
    case RAFTLITE_BLANK:
      /* libraft 0.15's barriers carry 8 bytes it never reads. */
      out->type = RAFT_BARRIER;
      out->buf.len = 8;
      out->buf.base = raft_calloc(1, 8);
      if (out->buf.base == NULL) return RAFT_NOMEM;
      break;
    case RAFTLITE_MEMBERSHIP: {
      struct raft_configuration c;
      raft_configuration_init(&c);
      int rv = rioJsonToConf(p, e->data, &c);
      if (rv != 0) return rv;
      out->type = RAFT_CHANGE;
      rv = rioConfEncode(&c, &out->buf);
      raft_configuration_close(&c);
      if (rv != 0) return rv;
      break;
    }
    default:
      return RAFT_CORRUPT;
  }
  out->batch = out->buf.base;
  return 0;
}

static int rioLoad(struct raft_io *io, raft_term *term, raft_id *voted_for,
                   struct raft_snapshot **snapshot, raft_index *start_index,
                   struct raft_entry *entries[], size_t *n_entries) {
  RaftIo *p = io->impl;
  raftlite_hard_state hs;
  raftlite_log_state ls;
  raftlite_entries ents = {NULL, 0};
  struct raft_entry *a = NULL;
  int found = 0, rc, rv = 0;
  size_t i;

  *snapshot = NULL;
  *entries = NULL;
  *n_entries = 0;
  rioWait(p);
  rc = raftlite_read_hard_state(p->store, &hs, &found);
  if (rc != SQLITE_OK) return rioStoreErr(p, "read_hard_state", rc);
  rc = raftlite_get_log_state(p->store, &ls);
  if (rc != SQLITE_OK) return rioStoreErr(p, "get_log_state", rc);
  p->term = found ? hs.current_term : 0;
  p->vote = found && hs.has_vote ? hs.voted_for : 0;

  rv = rioReadSnapshot(p, snapshot);
  if (rv != 0) return rv;

  raft_index iStart = ls.has_last_purged ? ls.last_purged_log_id.index + 1 : 1;
  rc = raftlite_try_get_log_entries(p->store, iStart, RAFTLITE_UNBOUNDED, &ents);
  if (rc != SQLITE_OK) {
    rv = rioStoreErr(p, "try_get_log_entries", rc);
    goto err;
  }
  if (ents.n > 0 && ents.a[0].log_id.index != iStart) {
    rioErr(p, "raftlite: the log starts at %llu, not at %llu after the last purged entry",
           (unsigned long long)ents.a[0].log_id.index, (unsigned long long)iStart);
    rv = RAFT_CORRUPT;
    goto err;
  }
  if (ents.n > 0) {
    a = raft_calloc(ents.n, sizeof(*a));
    if (a == NULL) {
      rv = RAFT_NOMEM;
      goto err;
    }
    for (i = 0; i < ents.n; i++) {
      rv = rioToRaftEntry(p, &ents.a[i], &a[i]);
      if (rv != 0) goto err;
    }
  }
  *start_index = iStart;
  *entries = a;
  *n_entries = ents.n;
  *term = p->term;
  *voted_for = p->vote;
  p->iNext = iStart + ents.n;
  raftlite_entries_free(&ents);
  return 0;

err:
  if (a) {
    for (i = 0; i < ents.n; i++) raft_free(a[i].buf.base);
    raft_free(a);
  }
  raftlite_entries_free(&ents);
  rioSnapshotFree(*snapshot);
  *snapshot = NULL;
  if (rv == RAFT_NOMEM) rioErr(p, "raftlite: out of memory");
  return rv;
}

/* Whether the store holds nothing: no hard state, log or snapshot. */
static int rioPristine(RaftIo *p, int *pPristine) {
  raftlite_hard_state hs;
  raftlite_log_state ls;
  raftlite_applied_state as;
  int found = 0, rc;
  rc = raftlite_read_hard_state(p->store, &hs, &found);
  if (rc == SQLITE_OK) rc = raftlite_get_log_state(p->store, &ls);
  if (rc == SQLITE_OK) rc = raftlite_last_applied_state(p->store, &as);
  if (rc != SQLITE_OK) return rioStoreErr(p, "bootstrap", rc);
  *pPristine = !found && !ls.has_last_log && !ls.has_last_purged && !as.has_applied;
  raftlite_applied_state_free(&as);
  return 0;
}

/* Appends one membership entry at index with term (inside a transaction). */
static int rioAppendConf(RaftIo *p, raft_term term, raft_index index,
                         const struct raft_configuration *conf) {
  int rv = 0;
  char *zJson = rioConfToJson(p, conf, &rv);
  if (zJson == NULL) return rv;
  raftlite_entry e = {{term, index}, RAFTLITE_MEMBERSHIP, zJson, strlen(zJson)};
  int rc = raftlite_append_to_log(p->store, &e, 1);
  sqlite3_free(zJson);
  return rc == SQLITE_OK ? 0 : rioStoreErr(p, "append", rc);
}

static int rioBootstrap(struct raft_io *io, const struct raft_configuration *conf) {
  RaftIo *p = io->impl;
  int pristine = 0;
  rioWait(p);
  int rv = rioPristine(p, &pristine);
  if (rv != 0) return rv;
  if (!pristine) {
    rioErr(p, "raftlite: the store is not empty: bootstrap only a new node");
    return RAFT_CANTBOOTSTRAP;
  }
  /* Term 1, no vote, entry 1 the configuration: all or nothing. */
  rv = rioBegin(p);
  if (rv == 0) {
    raftlite_hard_state hs = {1, 0, 0};
    int rc = raftlite_save_hard_state(p->store, &hs);
    if (rc != SQLITE_OK) rv = rioStoreErr(p, "save_hard_state", rc);
  }
  if (rv == 0) rv = rioAppendConf(p, 1, 1, conf);
  rv = rioEnd(p, rv);
  if (rv == 0) {
    p->term = 1;
    p->vote = 0;
    p->iNext = 2;
  }
  return rv;
}

/* The stock io appends with term 1, which no log past term 1 accepts:
** the last log term here. */
static int rioRecover(struct raft_io *io, const struct raft_configuration *conf) {
  RaftIo *p = io->impl;
  raftlite_log_state ls;
  int rv = rioFlushUnbroken(p);
  if (rv != 0) return rv;
  int rc = raftlite_get_log_state(p->store, &ls);
  if (rc != SQLITE_OK) return rioStoreErr(p, "get_log_state", rc);
  raft_term term = ls.has_last_log ? ls.last_log_id.term : 1;
  raft_index index = ls.has_last_log ? ls.last_log_id.index + 1 : 1;
  rv = rioBegin(p);
  if (rv == 0) rv = rioAppendConf(p, term, index, conf);
  rv = rioEnd(p, rv);
  if (rv == 0) p->iNext = index + 1;
  return rv;
}

static int rioSaveHardState(RaftIo *p, raft_term term, raft_id vote) {
  rioWait(p);
  if (p->bBroken) {
    rioErr(p, "raftlite: an earlier write failed: reopen the store");
    return RAFT_IOERR;
  }
  raftlite_hard_state hs = {term, vote != 0, vote};
  /* Outside a transaction: committed, hence durable, on return. */
  int rc = raftlite_save_hard_state(p->store, &hs);
  if (rc != SQLITE_OK) return rioStoreErr(p, "save_hard_state", rc);
  p->term = term;
  p->vote = vote;
  return 0;
}

static int rioSetTerm(struct raft_io *io, raft_term term) {
  RaftIo *p = io->impl;
  return rioSaveHardState(p, term, 0);
}

static int rioSetVote(struct raft_io *io, raft_id server_id) {
  RaftIo *p = io->impl;
  return rioSaveHardState(p, p->term, server_id);
}

static int rioAppend(struct raft_io *io, struct raft_io_append *req,
                     const struct raft_entry entries[], unsigned n, raft_io_append_cb cb) {
  RaftIo *p = io->impl;
  if (p->bClosing) {
    rioErr(p, "raftlite: the io is closing");
    return RAFT_CANCELED;
  }
  RioReq *r = rioNewReq(p);
  if (r == NULL) return RAFT_NOMEM;
  r->eType = RIO_APPEND;
  r->u.app.req = req;
  r->u.app.cb = cb;
  /* The entries stay valid until the callback, which fires after the
  ** write: no copy. */
  r->u.app.a = entries;
  r->u.app.n = n;
  r->u.app.iFirst = p->iNext;
  p->iNext += n;
  rioPush(&p->write, r);
  rioWake(p);
  return 0;
}

static int rioTruncate(struct raft_io *io, raft_index index) {
  RaftIo *p = io->impl;
  int rv = rioFlushUnbroken(p);
  if (rv != 0) return rv;
  raftlite_log_state ls;
  int rc = raftlite_get_log_state(p->store, &ls);
  if (rc != SQLITE_OK) return rioStoreErr(p, "get_log_state", rc);
  if (ls.has_last_log && ls.last_log_id.index >= index) {
    raftlite_log_id since = {0, index};
    rc = raftlite_delete_conflict_logs_since(p->store, since);
    if (rc != SQLITE_OK) return rioStoreErr(p, "truncate", rc);
  }
  p->iNext = index;
  return 0;
}

/* trailing > 0: a snapshot of the FSM at snapshot->index, which raft has
** applied. The store applies its log up to there (the membership applied
** is then the last committed one, whatever 0.15 passes in
** snapshot->configuration), stores the bytes as the current snapshot and
** purges all but trailing entries. Inside the caller's transaction. */
static int rioPutLocal(RaftIo *p, unsigned trailing, const struct raft_snapshot *s) {
  raftlite_applied_state as;
  raftlite_snapshot *w = NULL;
  int rc = raftlite_last_applied_state(p->store, &as);
  if (rc != SQLITE_OK) return rioStoreErr(p, "last_applied_state", rc);
  int bAhead = as.has_applied && as.last_applied.index > s->index;
  raft_index iApplied = as.last_applied.index;
  raftlite_applied_state_free(&as);
  if (bAhead) {
    rioErr(p, "raftlite: snapshot at %llu is behind the store's last applied entry %llu",
           s->index, (unsigned long long)iApplied);
    return RAFT_INVALID;
  }
  /* The log's own entries, applied up to the snapshot (libraft applied
  ** them to its FSM already). */
  rc = raftlite_apply_upto(p->store, s->index, NULL);
  if (rc == SQLITE_NOTFOUND) {
    rioErr(p, "raftlite: snapshot at %llu: the log lacks entries up to it (%s)", s->index,
           raftlite_errmsg(p->store));
    return RAFT_CORRUPT;
  }
  if (rc != SQLITE_OK) return rioStoreErr(p, "apply_upto", rc);
  /* The FSM's bytes become the current snapshot, as of last_applied. */
  rc = raftlite_begin_snapshot(p->store, &w);
  for (unsigned i = 0; rc == SQLITE_OK && i < s->n_bufs; i++) {
    if (s->bufs[i].len) rc = raftlite_snapshot_write(w, s->bufs[i].base, s->bufs[i].len);
  }
  if (rc != SQLITE_OK) {
    raftlite_snapshot_close(w);
    return rioStoreErr(p, "snapshot write", rc);
  }
  rc = raftlite_commit_snapshot(p->store, w, NULL);
  if (rc != SQLITE_OK) return rioStoreErr(p, "commit_snapshot", rc);
  if (s->index > trailing) {
    rc = raftlite_purge_upto(p->store, s->index - trailing);
    if (rc != SQLITE_OK) return rioStoreErr(p, "purge_upto", rc);
  }
  return 0;
}

/* Streams the snapshot's bytes into the store and installs them. */
static int rioInstall(RaftIo *p, const struct raft_snapshot *s,
                      const raftlite_snapshot_meta *meta) {
  raftlite_snapshot *pStream = NULL;
  raftlite_sm_changes changes;
  int rc = raftlite_begin_receiving_snapshot(p->store, &pStream);
  for (unsigned i = 0; rc == SQLITE_OK && i < s->n_bufs; i++) {
    if (s->bufs[i].len) rc = raftlite_snapshot_write(pStream, s->bufs[i].base, s->bufs[i].len);
  }
  if (rc != SQLITE_OK) {
    raftlite_snapshot_close(pStream);
    return rc;
  }
  return raftlite_install_snapshot(p->store, meta, pStream, &changes);
}

/* trailing = 0: the leader's snapshot replaces the FSM and the whole log.
** Inside the caller's transaction. */
static int rioPutInstall(RaftIo *p, const struct raft_snapshot *s) {
  raftlite_snapshot_meta meta;
  int rv = 0, rc;
  memset(&meta, 0, sizeof(meta));
  meta.last_log_id.term = s->term;
  meta.last_log_id.index = s->index;
  sqlite3_snprintf(sizeof(meta.snapshot_id), meta.snapshot_id, "%llu-%llu-%lld", s->term,
                   s->index, (long long)uv_hrtime());
  if (s->configuration.n > 0) {
    /* InstallSnapshot carries the configuration's index, not its term:
    ** raftlite resolves it from what the store holds (see
    ** raftlite_install_snapshot()). */
    meta.has_membership = 1;
    meta.membership_log_id.index = s->configuration_index;
    meta.membership_term_unknown = 1;
    meta.membership_json = rioConfToJson(p, &s->configuration, &rv);
    if (meta.membership_json == NULL) return rv;
  }
  rc = rioInstall(p, s, &meta);
  if (rc != SQLITE_OK && meta.membership_term_unknown &&
      raftlite_violation(p->store) == RAFTLITE_INVALID_MEMBERSHIP) {
    /* Not known here: the snapshot's term bounds it from above, and
    ** nothing reads it but a later install's lookup. */
    meta.membership_term_unknown = 0;
    meta.membership_log_id.term = s->term;
    rc = rioInstall(p, s, &meta);
  }
  if (rc != SQLITE_OK) {
    rv = rioStoreErr(p, "install_snapshot", rc);
    goto out;
  }
  /* raftlite keeps the entries after a snapshot it holds the last entry
  ** of; libraft drops them. */
  raftlite_log_state ls;
  rc = raftlite_get_log_state(p->store, &ls);
  if (rc == SQLITE_OK && ls.has_last_log && ls.last_log_id.index > s->index) {
    raftlite_log_id since = {0, s->index + 1};
    rc = raftlite_delete_conflict_logs_since(p->store, since);
  }
  if (rc != SQLITE_OK) rv = rioStoreErr(p, "truncate after install", rc);
out:
  sqlite3_free(meta.membership_json);
  return rv;
}

static int rioSnapshotPut(struct raft_io *io, unsigned trailing, struct raft_io_snapshot_put *req,
                          const struct raft_snapshot *snapshot, raft_io_snapshot_put_cb cb) {
  RaftIo *p = io->impl;
  RioReq *r = rioNewReq(p);
  if (r == NULL) return RAFT_NOMEM;
  int rv = rioFlushUnbroken(p);
  if (rv == 0) rv = rioBegin(p);
  if (rv == 0) {
    rv = trailing > 0 ? rioPutLocal(p, trailing, snapshot) : rioPutInstall(p, snapshot);
    rv = rioEnd(p, rv);
  }
  if (rv == 0 && trailing == 0) p->iNext = snapshot->index + 1;
  /* The outcome comes through the callback, after this call. */
  r->eType = RIO_PUT;
  r->status = rv;
  r->u.put.req = req;
  r->u.put.cb = cb;
  rioPush(&p->done, r);
  rioWake(p);
  return 0;
}

static int rioSnapshotGet(struct raft_io *io, struct raft_io_snapshot_get *req,
                          raft_io_snapshot_get_cb cb) {
  RaftIo *p = io->impl;
  RioReq *r = rioNewReq(p);
  if (r == NULL) return RAFT_NOMEM;
  r->eType = RIO_GET;
  r->u.get.req = req;
  r->u.get.cb = cb;
  rioWait(p);
  r->status = rioReadSnapshot(p, &r->u.get.pSnap);
  if (r->status == 0 && r->u.get.pSnap == NULL) r->status = RAFT_NOTFOUND;
  rioPush(&p->done, r);
  rioWake(p);
  return 0;
}

/* ==================================================================== */
/* The public calls                                                      */
/* ==================================================================== */

static void rioFree(RaftIo *p) {
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cond);
  sqlite3_finalize(p->pBegin);
  sqlite3_finalize(p->pCommit);
  sqlite3_finalize(p->pRollback);
  sqlite3_finalize(p->pConf);
  raftlite_close(p->store);
  sqlite3_free(p);
}

int raftlite_raft_io_init(struct raft_io *io, struct raft_io *transport, struct uv_loop_s *loop,
                          sqlite3 *db, const char *zSchema) {
  RaftIo *p;
  int rc;
  memset(io, 0, sizeof(*io));
  p = sqlite3_malloc(sizeof(*p));
  if (p == NULL) {
    snprintf(io->errmsg, sizeof(io->errmsg), "raftlite: out of memory");
    return RAFT_NOMEM;
  }
  memset(p, 0, sizeof(*p));
  p->io = io;
  p->transport = transport;
  p->loop = loop;
  p->db = db;
  io->impl = p;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cond, NULL);
  /* The worker uses the connection while the loop thread does not: that
  ** needs a threadsafe SQLite; otherwise every write is the loop's. */
  p->bAsync = sqlite3_threadsafe() != 0;
  rc = raftlite_open(db, zSchema, &p->store);
  if (rc != SQLITE_OK) {
    snprintf(io->errmsg, sizeof(io->errmsg),
             "raftlite: cannot open the store (%s): see raftlite_open() for the "
             "connection settings it needs",
             sqlite3_errstr(rc));
    goto err;
  }
  rc = sqlite3_prepare_v3(db, "BEGIN IMMEDIATE", -1, SQLITE_PREPARE_PERSISTENT, &p->pBegin, 0);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v3(db, "COMMIT", -1, SQLITE_PREPARE_PERSISTENT, &p->pCommit, 0);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v3(db, "ROLLBACK", -1, SQLITE_PREPARE_PERSISTENT, &p->pRollback, 0);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v3(
        db,
        "SELECT CAST(n.key AS INTEGER),"
        " CASE json_type(n.value) WHEN 'text' THEN n.value"
        "  ELSE json_extract(n.value, '$.address') END,"
        " CASE json_type(n.value) WHEN 'object' THEN json_extract(n.value, '$.role') END,"
        " EXISTS (SELECT 1 FROM json_each(?1, '$.configs[#-1]') c"
        "         WHERE c.value = CAST(n.key AS INTEGER))"
        " FROM json_each(?1, '$.nodes') n",
        -1, SQLITE_PREPARE_PERSISTENT, &p->pConf, 0);
  if (rc != SQLITE_OK) {
    snprintf(io->errmsg, sizeof(io->errmsg), "raftlite: %s", sqlite3_errmsg(db));
    goto err;
  }
  raftlite_state_machine sm = {p, rioSmApply, NULL, rioSmRestore};
  raftlite_set_state_machine(p->store, &sm);
  transport->data = p;

  io->version = 2;
  io->init = rioInit;
  io->close = rioClose;
  io->load = rioLoad;
  io->start = rioStart;
  io->bootstrap = rioBootstrap;
  io->recover = rioRecover;
  io->set_term = rioSetTerm;
  io->set_vote = rioSetVote;
  io->send = rioSend;
  io->append = rioAppend;
  io->truncate = rioTruncate;
  io->snapshot_put = rioSnapshotPut;
  io->snapshot_get = rioSnapshotGet;
  io->time = rioTime;
  io->random = rioRandom;
  io->async_work = rioAsyncWork;
  return 0;

err:
  rioFree(p);
  io->impl = NULL;
  return rc == SQLITE_NOMEM ? RAFT_NOMEM : RAFT_IOERR;
}

void raftlite_raft_io_close(struct raft_io *io) {
  RaftIo *p = io->impl;
  if (p == NULL) return;
  /* Requests raft never saw completed (no close): dropped. */
  RioReq *r;
  while ((r = rioPop(&p->write)) != NULL) sqlite3_free(r);
  while ((r = rioPop(&p->done)) != NULL) {
    if (r->eType == RIO_GET) rioSnapshotFree(r->u.get.pSnap);
    sqlite3_free(r);
  }
  rioFree(p);
  io->impl = NULL;
}
