/*
** test_crash.c — kill -9 at random moments of a mixed workload.
**
** Each round forks a child that opens the store (the real unix VFS, with
** the settings raftlite requires: DELETE with synchronous=EXTRA, WAL with
** FULL) and runs a random mixed workload of the C API until it
** is killed: appends of 1 to 4 entries of every kind and of varied sizes
** (up to 200 KB, beyond a 64 KiB chunk), votes, applies with a key-value
** state machine, purges, truncations, snapshots built, snapshots received
** (in writes of up to 150 KB) and installed, get_initial_state. Before each
** call the child sends the parent the call, with every parameter (the
** intent), and after it returns SQLITE_OK an acknowledgement, through a
** pipe. The parent sends SIGKILL after a random delay, then replays every
** acknowledged call on a model — a store of its own, driven by the same
** calls, synchronous OFF — and checks the killed store, reopened:
**   - PRAGMA integrity_check and raft_check() say ok;
**   - it equals the model (every table, every byte: payloads, the state
**     machine, snapshots; receiving streams, which opening reclaims, left
**     out), or the model plus the call in flight, whole.
** The next round continues from there. Rounds alternate between a rollback
** journal store (DELETE) and a WAL store.
**
** A control (crash/controlEarlyAck) runs a child that acknowledges each
** call before making it: the checks must catch a loss, or the test fails.
**
** argv[1] filters the cases; argv[2] (or RAFTLITE_CRASH_ROUNDS) sets the
** rounds per store (100: 200 in all); RAFTLITE_CRASH_SEED the seed.
** RAFTLITE_CRASH_CHECKPOINTER=1 runs the WAL child with the background
** checkpointer (raftlite_checkpointer_start, docs/checkpointer.md) copying
** every 8 frames and the writer's wal_autocheckpoint at 32, so that kills
** land in its checkpoints and in the writer's: CTest's
** c.test_crash_checkpointer.
*/
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "faultutil.h"
#include "harness.h"

/******************************************************************************
 * Calls, as messages
 *****************************************************************************/

enum {
  OP_APPEND = 1,
  OP_VOTE,
  OP_APPLY,
  OP_PURGE,
  OP_TRUNCATE,
  OP_BUILD,
  OP_BEGIN,
  OP_WRITE,
  OP_INSTALL,
  OP_INITIAL
};
static const char *const azOpName[] = {"?",     "append",   "vote",  "apply", "purge",
                                       "truncate", "build", "begin", "write", "install",
                                       "initial_state"};

enum { MSG_INTENT = 1, MSG_ACK, MSG_ERROR };

/* One message, written in one write() (atomic: below PIPE_BUF). */
typedef struct Msg {
  int eMsg;
  int eOp;
  long iSeq;         /* the call's number in the round */
  uint64_t term, idx; /* append: first entry; vote: term; apply: lo; purge,
                      ** truncate, install: the log id */
  uint64_t n;        /* append: entries; vote: voted_for; apply: hi */
  uint32_t seed;     /* payloads, snapshot bytes */
  int rc;
  char zErr[160];
} Msg;

static uint32_t xorshift(uint32_t *p) {
  uint32_t x = *p ? *p : 0x2545f491u;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *p = x;
}

/* Entry k of an append with this seed: its kind and payload (malloc). */
static raftlite_kind payloadFor(uint32_t seed, uint64_t idx, void **pa, size_t *pn) {
  uint32_t r = seed ^ (uint32_t)(idx * 2654435761u);
  xorshift(&r);
  uint32_t pick = xorshift(&r) % 100;
  if (pick < 8) {
    *pa = strdup("[[1,2,3]]");
    *pn = 9;
    return RAFTLITE_MEMBERSHIP;
  }
  if (pick < 18) {
    *pa = NULL;
    *pn = 0;
    return RAFTLITE_BLANK;
  }
  size_t n = pick < 23 ? 70000 + xorshift(&r) % 130000
           : pick < 35 ? 1000 + xorshift(&r) % 20000
                       : xorshift(&r) % 200;
  char *z = malloc(n + 16);
  int k = snprintf(z, 16, "k%u=", xorshift(&r) % 40);
  for (size_t i = 0; i < n; i++) z[k + i] = (char)('!' + (xorshift(&r) % 90));
  *pa = z;
  *pn = (size_t)k + n;
  return RAFTLITE_NORMAL;
}

/* The bytes of write w of a received snapshot: kv lines. */
static size_t snapshotBytes(uint32_t seed, char **pz) {
  uint32_t r = seed;
  size_t nLine = 1 + xorshift(&r) % 6;
  size_t nBig = xorshift(&r) % 4 == 0 ? 100000 + xorshift(&r) % 50000 : 0;
  char *z = malloc(nLine * 64 + nBig + 64);
  size_t n = 0;
  for (size_t i = 0; i < nLine; i++) {
    n += (size_t)sprintf(z + n, "s%u=%u\n", xorshift(&r) % 40, xorshift(&r));
  }
  if (nBig) {
    n += (size_t)sprintf(z + n, "big%u=", xorshift(&r) % 4);
    for (size_t i = 0; i < nBig; i++) z[n++] = (char)('a' + i % 26);
    z[n++] = '\n';
  }
  *pz = z;
  return n;
}

/* Runs one call on a store (the child's, or the model). *ppRecv is the
** receiving stream of the store. */
static int runCall(sqlite3 *db, raftlite *store, raftlite_snapshot **ppRecv, const Msg *m) {
  (void)db;
  switch (m->eOp) {
    case OP_APPEND: {
      raftlite_entry a[4];
      void *ap[4];
      for (uint64_t i = 0; i < m->n; i++) {
        a[i].log_id.term = m->term;
        a[i].log_id.index = m->idx + i;
        a[i].kind = payloadFor(m->seed, m->idx + i, &ap[i], &a[i].size);
        a[i].data = ap[i];
      }
      int rc = raftlite_append_to_log(store, a, m->n);
      for (uint64_t i = 0; i < m->n; i++) free(ap[i]);
      return rc;
    }
    case OP_VOTE: {
      raftlite_hard_state hs = {m->term, 1, m->n};
      return raftlite_save_hard_state(store, &hs);
    }
    case OP_APPLY: {
      raftlite_entries ents;
      int rc = raftlite_try_get_log_entries(store, m->idx, m->n + 1, &ents);
      if (rc != SQLITE_OK) return rc;
      raftlite_responses resp;
      rc = raftlite_apply_to_state_machine(store, ents.a, ents.n, &resp);
      if (rc == SQLITE_OK) raftlite_responses_free(&resp);
      raftlite_entries_free(&ents);
      return rc;
    }
    case OP_PURGE: return raftlite_purge_logs_upto(store, (raftlite_log_id){m->term, m->idx});
    case OP_TRUNCATE:
      return raftlite_delete_conflict_logs_since(store, (raftlite_log_id){m->term, m->idx});
    case OP_BUILD: {
      raftlite_snapshot_meta meta;
      raftlite_snapshot *s = NULL;
      int rc = raftlite_build_snapshot(store, &meta, &s);
      if (rc == SQLITE_OK) {
        raftlite_snapshot_close(s);
        raftlite_snapshot_meta_free(&meta);
      }
      return rc;
    }
    case OP_BEGIN:
      raftlite_snapshot_close(*ppRecv);
      *ppRecv = NULL;
      return raftlite_begin_receiving_snapshot(store, ppRecv);
    case OP_WRITE: {
      char *z = NULL;
      size_t n = snapshotBytes(m->seed, &z);
      int rc = *ppRecv ? raftlite_snapshot_write(*ppRecv, z, n) : SQLITE_MISUSE;
      free(z);
      return rc;
    }
    case OP_INSTALL: {
      /* The membership as of the snapshot's last id: the store's own (the
      ** log's last membership entry, else the applied one), which the
      ** model computes the same. */
      raftlite_applied_state as;
      int rc = raftlite_get_membership(store, &as);
      if (rc != SQLITE_OK) return rc;
      raftlite_snapshot_meta meta;
      memset(&meta, 0, sizeof(meta));
      meta.last_log_id = (raftlite_log_id){m->term, m->idx};
      snprintf(meta.snapshot_id, sizeof(meta.snapshot_id), "leader-%u", m->seed);
      meta.has_membership = as.has_membership;
      meta.membership_log_id = as.membership_log_id;
      meta.membership_json = as.membership_json;
      raftlite_sm_changes ch;
      raftlite_snapshot *s = *ppRecv;
      *ppRecv = NULL; /* install's, whatever happens */
      rc = s ? raftlite_install_snapshot(store, &meta, s, &ch) : SQLITE_MISUSE;
      raftlite_applied_state_free(&as);
      return rc;
    }
    case OP_INITIAL: {
      raftlite_log_state ls;
      raftlite_applied_state as;
      raftlite_hard_state hs;
      int bHas;
      int rc = raftlite_get_initial_state(store, &ls, &as, &hs, &bHas);
      if (rc == SQLITE_OK) raftlite_applied_state_free(&as);
      return rc;
    }
  }
  return SQLITE_MISUSE;
}

/******************************************************************************
 * The child
 *****************************************************************************/

static void sendMsg(int fd, const Msg *m) {
  ssize_t n = write(fd, m, sizeof(*m));
  if (n != (ssize_t)sizeof(*m)) _exit(4);
}

/* The id of the log entry at idx (present), into *pTerm. */
static int logTerm(raftlite *store, uint64_t idx, uint64_t *pTerm) {
  raftlite_log_id id;
  if (raftlite_get_log_id(store, idx, &id) != SQLITE_OK) return 0;
  *pTerm = id.term;
  return 1;
}

/* Picks the next call from the store's state; 0 when none fits. */
static int nextCall(raftlite *store, uint32_t *pr, int *pnInstallStep, Msg *m) {
  raftlite_log_state ls;
  raftlite_applied_state as;
  raftlite_hard_state hs;
  int bHas = 0;
  if (raftlite_get_log_state(store, &ls) != SQLITE_OK) return 0;
  if (raftlite_last_applied_state(store, &as) != SQLITE_OK) return 0;
  uint64_t A = as.has_applied ? as.last_applied.index : 0;
  uint64_t AT = as.has_applied ? as.last_applied.term : 0;
  raftlite_applied_state_free(&as);
  if (raftlite_read_hard_state(store, &hs, &bHas) != SQLITE_OK) return 0;
  uint64_t T = bHas ? hs.current_term : 0;
  uint64_t L = ls.has_last_log ? ls.last_log_id.index : 0;
  uint64_t LT = ls.has_last_log ? ls.last_log_id.term : 0;
  uint64_t P = ls.has_last_purged ? ls.last_purged_log_id.index : 0;
  memset(m, 0, sizeof(*m));
  m->seed = xorshift(pr);

  /* A snapshot being received: its next step. */
  if (*pnInstallStep > 0) {
    if (--*pnInstallStep > 0) {
      m->eOp = OP_WRITE;
      return 1;
    }
    m->eOp = OP_INSTALL;
    /* Up to the log's last entry when it is past last_applied (the log
    ** after it stays), else beyond everything (the log goes). */
    if (L > A && ls.has_last_log && xorshift(pr) % 2) {
      m->term = LT;
      m->idx = L;
    } else {
      m->term = T > AT ? T : AT;
      m->idx = (L > A ? L : A) + 1 + xorshift(pr) % 3;
    }
    return 1;
  }
  uint32_t pick = xorshift(pr) % 100;
  if (T == 0 || pick < 7) {
    m->eOp = OP_VOTE;
    m->term = T + 1;
    m->n = 1 + xorshift(pr) % 3;
    return 1;
  }
  if (pick < 45) {
    /* The reference: the greatest of last entry, last_purged and
    ** last_applied (all carry terms <= T). */
    uint64_t ref = L > A ? L : A;
    m->eOp = OP_APPEND;
    m->term = T;
    m->idx = ref + 1;
    m->n = 1 + xorshift(pr) % 4;
    return 1;
  }
  if (pick < 65 && L > A) {
    m->eOp = OP_APPLY;
    m->idx = A + 1;
    m->n = A + 1 + xorshift(pr) % 5;
    if (m->n > L) m->n = L;
    return 1;
  }
  if (pick < 73 && A > P && ls.has_last_log) {
    uint64_t upto = P + 1 + xorshift(pr) % (A - P);
    uint64_t term;
    if (upto <= L && logTerm(store, upto, &term)) {
      m->eOp = OP_PURGE;
      m->term = term;
      m->idx = upto;
      return 1;
    }
  }
  if (pick < 81 && L > A) {
    uint64_t since = A + 1 + xorshift(pr) % (L - A);
    uint64_t term;
    if (logTerm(store, since, &term)) {
      m->eOp = OP_TRUNCATE;
      m->term = term;
      m->idx = since;
      return 1;
    }
  }
  if (pick < 87 && A > 0) {
    m->eOp = OP_BUILD;
    return 1;
  }
  if (pick < 93) {
    m->eOp = OP_BEGIN;
    *pnInstallStep = 1 + (int)(xorshift(pr) % 3); /* writes, then install */
    return 1;
  }
  m->eOp = OP_INITIAL;
  return 1;
}

/* The control's child lies: it acknowledges each call before making it. */
static int bEarlyAck = 0;

/* The child of a WAL round starts a checkpointer (RAFTLITE_CRASH_CHECKPOINTER). */
static int bCheckpointer = 0;

/* Starts the checkpointer of a WAL child: small thresholds, so that it
** copies often; no idle TRUNCATE, whose overlap with a call is an
** SQLITE_BUSY the child would take for a failure (test_powerloss covers
** it). The process dies with it: no stop. */
static int startCheckpointer(sqlite3 *db, raftlite *store, raftlite_checkpointer **pp) {
  sqlite3_busy_timeout(db, 5000);
  raftlite_checkpointer_config cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.wal_frames = 8;
  cfg.writer_autocheckpoint = 32;
  cfg.poll_ms = 1;
  cfg.flags = RAFTLITE_CHECKPOINTER_SET_WRITER_AUTOCHECKPOINT;
  return raftlite_checkpointer_start(store, &cfg, pp);
}

/* The VFS the killed writer opens its store through (NULL: the default),
** RAFTLITE_VFS with RAFTLITE_CRASH_WATCH=1. */
static const char *zWriterVfs = NULL;

static void child(const char *zPath, const char *zSync, uint32_t seed, int fd) {
  sqlite3 *db;
  raftlite *store;
  int rc = fuOpen(zPath, zWriterVfs, NULL, zSync, 0, &db, &store);
  if (rc == SQLITE_OK && zWriterVfs) rc = fuCheckVfs(db, "raftlite/");
  Msg m;
  if (rc != SQLITE_OK) {
    memset(&m, 0, sizeof(m));
    m.eMsg = MSG_ERROR;
    m.rc = rc;
    snprintf(m.zErr, sizeof(m.zErr), "open: %s", sqlite3_errmsg(db));
    sendMsg(fd, &m);
    _exit(3);
  }
  raftlite_checkpointer *pCkpt = NULL;
  if (bCheckpointer && strcmp(zSync, "FULL") == 0) {
    rc = startCheckpointer(db, store, &pCkpt);
    if (rc != SQLITE_OK) {
      memset(&m, 0, sizeof(m));
      m.eMsg = MSG_ERROR;
      m.rc = rc;
      snprintf(m.zErr, sizeof(m.zErr), "checkpointer: %s", raftlite_errmsg(store));
      sendMsg(fd, &m);
      _exit(3);
    }
  }
  raftlite_set_state_machine(store, &fuKvMachine);
  raftlite_snapshot *pRecv = NULL;
  int nInstallStep = 0;
  uint32_t r = seed;
  for (long iSeq = 0; iSeq < 100000; iSeq++) {
    if (!nextCall(store, &r, &nInstallStep, &m)) _exit(5);
    m.iSeq = iSeq;
    m.eMsg = bEarlyAck ? MSG_ACK : MSG_INTENT;
    sendMsg(fd, &m);
    rc = runCall(db, store, &pRecv, &m);
    if (bEarlyAck && rc == SQLITE_OK) continue;
    m.eMsg = rc == SQLITE_OK ? MSG_ACK : MSG_ERROR;
    m.rc = rc;
    if (rc != SQLITE_OK) snprintf(m.zErr, sizeof(m.zErr), "%s", raftlite_errmsg(store));
    sendMsg(fd, &m);
    if (rc != SQLITE_OK) _exit(3);
  }
  _exit(0);
}

/******************************************************************************
 * The parent
 *****************************************************************************/

static struct {
  long nRound, nKilled, nAck, nInFlight, nInFlightVisible, nLoss;
  long aAckByOp[OP_INITIAL + 1];
  double secs;
} fig;

typedef struct Model {
  sqlite3 *db;
  raftlite *store;
  raftlite_snapshot *pRecv;
} Model;

static void modelOpen(Model *p, const char *zPath) {
  p->pRecv = NULL;
  int rc = fuOpen(zPath, NULL, NULL, "OFF", RAFTLITE_OPEN_RELAXED, &p->db, &p->store);
  if (rc != SQLITE_OK) FAIL("model open: %d %s", rc, sqlite3_errmsg(p->db));
  raftlite_set_state_machine(p->store, &fuKvMachine);
}

static void modelClose(Model *p) {
  raftlite_snapshot_close(p->pRecv);
  p->pRecv = NULL;
  fuClose(&p->db, &p->store);
}

/* The AUTOINCREMENT counter of raftlite_snapshot (0 when none). */
static long long seqOf(sqlite3 *db) {
  sqlite3_stmt *pStmt = NULL;
  long long v = 0;
  if (sqlite3_prepare_v2(db, "SELECT seq FROM sqlite_sequence WHERE name = 'raftlite_snapshot'",
                         -1, &pStmt, NULL) == SQLITE_OK &&
      sqlite3_step(pStmt) == SQLITE_ROW) {
    v = sqlite3_column_int64(pStmt, 0);
  }
  sqlite3_finalize(pStmt);
  return v;
}

static const char *opText(const Msg *m) {
  static char z[160];
  snprintf(z, sizeof(z), "#%ld %s(term %llu, idx %llu, n %llu, seed %u)", m->iSeq,
           azOpName[m->eOp], (unsigned long long)m->term, (unsigned long long)m->idx,
           (unsigned long long)m->n, m->seed);
  return z;
}

/* Returns the number of rounds that found a loss (the control's figure;
** otherwise the case fails at the first). */
static int runCrash(const char *zJournal, const char *zSync, const char *zTag, int nRound,
                    int bControl) {
  char zPath[64], zModel[64];
  snprintf(zPath, sizeof(zPath), "crash-%s.db", zTag);
  snprintf(zModel, sizeof(zModel), "crash-%s-model.db", zTag);
  fuRemoveDb(zPath);
  fuRemoveDb(zModel);
  uint32_t seed = 12345;
  if (getenv("RAFTLITE_CRASH_SEED")) seed = (uint32_t)atol(getenv("RAFTLITE_CRASH_SEED"));
  seed ^= (uint32_t)zJournal[0] * 7919u;
  /* The store and the model start the same: a kv table, nothing else. */
  const char *azPath[2] = {zPath, zModel};
  for (int i = 0; i < 2; i++) {
    sqlite3 *db;
    raftlite *store;
    if (fuOpen(azPath[i], NULL, i ? "DELETE" : zJournal, i ? "OFF" : zSync,
               i ? RAFTLITE_OPEN_RELAXED : 0, &db, &store) != SQLITE_OK ||
        sqlite3_exec(db, "CREATE TABLE kv(k TEXT PRIMARY KEY, v)", 0, 0, 0) != SQLITE_OK) {
      FAIL("setup %s: %s", azPath[i], sqlite3_errmsg(db));
    }
    fuClose(&db, &store);
  }
  Model model;
  modelOpen(&model, zModel);
  uint32_t r = seed;
  long nAckRound = 0;
  for (int iRound = 0; iRound < nRound; iRound++) {
    int aFd[2];
    if (pipe(aFd) != 0) FAIL("pipe: %s", strerror(errno));
    uint32_t childSeed = xorshift(&r);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) FAIL("fork: %s", strerror(errno));
    if (pid == 0) {
      close(aFd[0]);
      child(zPath, zSync, childSeed, aFd[1]);
    }
    close(aFd[1]);
    /* A random moment: mostly within 80 ms (opening included), sometimes
    ** up to 300 ms. */
    uint32_t pick = xorshift(&r);
    long nMicro = pick % 8 == 0 ? 80000 + (long)(xorshift(&r) % 220000) : (long)(xorshift(&r) % 80000);
    struct timespec ts = {nMicro / 1000000, (nMicro % 1000000) * 1000};
    nanosleep(&ts, NULL);
    int bKilled = kill(pid, SIGKILL) == 0;
    int status = 0;
    waitpid(pid, &status, 0);
    if (bKilled && WIFSIGNALED(status)) fig.nKilled++;
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      /* The child stopped on its own: an error it reports below. */
    }
    fig.nRound++;

    /* The messages: acknowledged calls go to the model. */
    Msg m, inFlight;
    int bInFlight = 0;
    ssize_t got;
    char zChildErr[400] = "";
    while ((got = read(aFd[0], &m, sizeof(m))) == (ssize_t)sizeof(m)) {
      if (m.eMsg == MSG_INTENT) {
        inFlight = m;
        bInFlight = 1;
      } else if (m.eMsg == MSG_ACK) {
        bInFlight = 0;
        fig.nAck++;
        fig.aAckByOp[m.eOp]++;
        nAckRound++;
        int rc = runCall(model.db, model.store, &model.pRecv, &m);
        if (rc != SQLITE_OK) {
          FAIL("round %d: the model refused acknowledged call %s: %d %s", iRound, opText(&m), rc,
               raftlite_errmsg(model.store));
        }
      } else if (m.eMsg == MSG_ERROR) {
        snprintf(zChildErr, sizeof(zChildErr), "%s: %d %s", m.eOp ? opText(&m) : "", m.rc, m.zErr);
      }
    }
    close(aFd[0]);
    if (zChildErr[0]) FAIL("round %d: the child failed: %s", iRound, zChildErr);
    if (bInFlight) fig.nInFlight++;

    /* The killed store, reopened. */
    sqlite3 *db;
    raftlite *store;
    int rc = fuOpen(zPath, zWriterVfs, NULL, zSync, 0, &db, &store);
    if (rc != SQLITE_OK) FAIL("round %d: reopen: %d %s", iRound, rc, sqlite3_errmsg(db));
    const char *zCheck = fuCheck(db);
    if (zCheck) FAIL("round %d: %s", iRound, zCheck);
    char *zGot = fuDump(db, 1);
    long long iSeqGot = seqOf(db);
    fuClose(&db, &store);
    char *zWant = fuDump(model.db, 1);
    if (strcmp(zGot, zWant) != 0) {
      /* Only the call in flight may differ, and whole. */
      char zDiff[700];
      snprintf(zDiff, sizeof(zDiff), "%s", fuDiff(zGot, zWant));
      int bMatch = 0;
      if (bInFlight) {
        sqlite3_exec(model.db, "BEGIN", NULL, NULL, NULL);
        rc = runCall(model.db, model.store, &model.pRecv, &inFlight);
        char *zWith = fuDump(model.db, 1);
        bMatch = rc == SQLITE_OK && strcmp(zGot, zWith) == 0;
        sqlite3_free(zWith);
        sqlite3_exec(model.db, bMatch ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
      }
      if (!bMatch && bControl) {
        sqlite3_free(zGot);
        sqlite3_free(zWant);
        modelClose(&model);
        fuRemoveDb(zPath);
        fuRemoveDb(zModel);
        return 1;
      }
      if (!bMatch) {
        fig.nLoss++;
        FAIL("round %d (%ld acknowledged calls in all): the store is neither the model nor the"
             " model with the call in flight (%s): %s",
             iRound, nAckRound, bInFlight ? opText(&inFlight) : "none", zDiff);
      }
      fig.nInFlightVisible++;
    }
    sqlite3_free(zGot);
    sqlite3_free(zWant);
    /* Snapshot row ids (AUTOINCREMENT, part of built snapshot ids): a
    ** receiving stream begun in flight may have committed, then been
    ** reclaimed; its id stays used. */
    long long iSeqModel = seqOf(model.db);
    if (iSeqGot != iSeqModel) {
      if (!(bInFlight && inFlight.eOp == OP_BEGIN && iSeqGot == iSeqModel + 1)) {
        if (bControl) {
          /* The early-acknowledging control lost a call: what it must show. */
          modelClose(&model);
          fuRemoveDb(zPath);
          fuRemoveDb(zModel);
          return 1;
        }
        FAIL("round %d: the store's snapshot sequence is %lld, the model's %lld (in flight: %s)",
             iRound, iSeqGot, iSeqModel, bInFlight ? opText(&inFlight) : "none");
      }
      char *zSql = sqlite3_mprintf("INSERT OR REPLACE INTO sqlite_sequence(name, seq)"
                                   " VALUES ('raftlite_snapshot', %lld)", iSeqGot);
      sqlite3_exec(model.db, "DELETE FROM sqlite_sequence WHERE name = 'raftlite_snapshot'", 0, 0, 0);
      sqlite3_exec(model.db, zSql, NULL, NULL, NULL);
      sqlite3_free(zSql);
    }
    /* The model reopens too: its receiving stream is reclaimed as the
    ** store's was. */
    modelClose(&model);
    modelOpen(&model, zModel);
  }
  modelClose(&model);
  fuRemoveDb(zPath);
  fuRemoveDb(zModel);
  return 0;
}

static int nRoundArg = 0;

static int rounds(void) {
  if (nRoundArg > 0) return nRoundArg;
  if (getenv("RAFTLITE_CRASH_ROUNDS")) return atoi(getenv("RAFTLITE_CRASH_ROUNDS"));
  return 100;
}

TEST(crash, rollbackJournal) { runCrash("DELETE", "EXTRA", "delete", rounds(), 0); }
TEST(crash, wal) { runCrash("WAL", "FULL", "wal", rounds(), 0); }

/* The control: a child that acknowledges calls before making them must be
** caught (a call killed in flight is then an acknowledged loss), or the
** checks cannot see losses. */
TEST(crash, controlEarlyAck) {
  bEarlyAck = 1;
  __typeof__(fig) saved = fig; /* the figures are the real rounds' */
  int nFound = runCrash("WAL", "FULL", "control", 100, 1);
  fig = saved;
  bEarlyAck = 0;
  printf("  control: %s\n", nFound ? "a loss was found, as it must" : "no loss found");
  if (!nFound) FAIL("the control lost nothing in 100 rounds: the checks cannot see losses");
}

int main(int argc, char **argv) {
  if (argc > 2) nRoundArg = atoi(argv[2]);
  bCheckpointer = getenv("RAFTLITE_CRASH_CHECKPOINTER") && atoi(getenv("RAFTLITE_CRASH_CHECKPOINTER"));
  if (bCheckpointer) printf("crash: WAL rounds with the background checkpointer\n");
  if (getenv("RAFTLITE_CRASH_WATCH") && atoi(getenv("RAFTLITE_CRASH_WATCH"))) {
    /* The writer's connection through the raftlite VFS: its settings
    ** watch must change nothing of what survives a kill. */
    if (raftlite_vfs_register(NULL) != SQLITE_OK) return 2;
    zWriterVfs = RAFTLITE_VFS;
    printf("crash: the writer opened through the raftlite VFS\n");
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int rc = runTests(argc > 1 ? 2 : 1, argv, NULL, NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  fig.secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("crash: %ld rounds (%ld killed by SIGKILL), %ld acknowledged calls checked, %ld"
         " killed in flight (%ld of those visible, whole), %ld losses, %.1f s\n",
         fig.nRound, fig.nKilled, fig.nAck, fig.nInFlight, fig.nInFlightVisible, fig.nLoss,
         fig.secs);
  printf("crash: acknowledged calls by kind:");
  for (int i = 1; i <= OP_INITIAL; i++) printf(" %s %ld", azOpName[i], fig.aAckByOp[i]);
  printf("\n");
  return rc;
}
