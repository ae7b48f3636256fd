/*
** test_raft_io.c — the canonical/raft adapter (include/raftlite_raft.h),
** method by method, against raftlite's rules. libraft's own struct raft
** never runs here: each test calls the io's methods as raft would, with a
** fake transport (whose calls are counted and whose callbacks are fired by
** hand) and a libuv loop run by the test, and reads the store back through
** raftlite's C API or a second connection.
*/
#include <raft.h>
#include <uv.h>

#include "fixture.h"
#include "raftlite_raft.h"

/* ---- a fake transport --------------------------------------------- */

typedef struct Fake {
  int nInit, nStart, nSend, nClose;
  int failSend;
  raft_io_tick_cb tick;
  raft_io_recv_cb recv;
} Fake;

static int fakeInit(struct raft_io *io, raft_id id, const char *address) {
  (void)id, (void)address;
  ((Fake *)io->impl)->nInit++;
  return 0;
}
static void fakeClose(struct raft_io *io, raft_io_close_cb cb) {
  ((Fake *)io->impl)->nClose++;
  cb(io);
}
static int fakeStart(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
                     raft_io_recv_cb recv) {
  Fake *f = io->impl;
  (void)msecs;
  f->nStart++;
  f->tick = tick;
  f->recv = recv;
  return 0;
}
static int fakeSend(struct raft_io *io, struct raft_io_send *req, const struct raft_message *m,
                    raft_io_send_cb cb) {
  Fake *f = io->impl;
  (void)req, (void)m, (void)cb;
  f->nSend++;
  if (f->failSend) {
    snprintf(io->errmsg, RAFT_ERRMSG_BUF_SIZE, "fake: no connection");
    return RAFT_NOCONNECTION;
  }
  return 0;
}
static raft_time fakeTime(struct raft_io *io) {
  (void)io;
  return 12345;
}
static int fakeRandom(struct raft_io *io, int min, int max) {
  (void)io, (void)max;
  return min;
}

/* ---- the fixture: a store, a loop, the io ------------------------- */

typedef struct T {
  Fixture *f;
  uv_loop_t loop;
  Fake fake;
  struct raft_io transport;
  struct raft_io io;
  sqlite3 *db2; /* another connection: sees only what is committed */
  int bOpen;
} T;

static T t;

static void tOpen(Fixture *F) {
  memset(&t, 0, sizeof(t));
  t.f = F;
  uv_loop_init(&t.loop);
  t.transport.impl = &t.fake;
  t.transport.version = 1;
  t.transport.init = fakeInit;
  t.transport.close = fakeClose;
  t.transport.start = fakeStart;
  t.transport.send = fakeSend;
  t.transport.time = fakeTime;
  t.transport.random = fakeRandom;
  if (raftlite_raft_io_init(&t.io, &t.transport, &t.loop, F->db, "main") != 0)
    FAIL("raftlite_raft_io_init: %s", t.io.errmsg);
  if (t.io.init(&t.io, 1, "127.0.0.1:1") != 0) FAIL("init: %s", t.io.errmsg);
  sqlite3_open(F->zPath, &t.db2);
  raftlite_register(t.db2);
  t.bOpen = 1;
}

static int closed;
static void closeCb(struct raft_io *io) {
  (void)io;
  closed++;
}

static void tClose(void) {
  closed = 0;
  t.io.close(&t.io, closeCb);
  uv_run(&t.loop, UV_RUN_DEFAULT);
  raftlite_raft_io_close(&t.io);
  uv_loop_close(&t.loop);
  sqlite3_close(t.db2);
  t.bOpen = 0;
}

/* After a failed assertion: what tClose() did not get to do. */
static void closeHandle(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}
static void tTearDown(void *p) {
  if (t.bOpen) {
    raftlite_raft_io_close(&t.io);
    uv_walk(&t.loop, closeHandle, NULL);
    uv_run(&t.loop, UV_RUN_DEFAULT);
    uv_loop_close(&t.loop);
    sqlite3_close(t.db2);
    t.bOpen = 0;
  }
  tearDown(p);
}

/* The loop until it is idle: the prepare handle hands the queued appends
** to the worker, whose job ends with the callbacks. */
static void turn(void) {
  uv_run(&t.loop, UV_RUN_DEFAULT);
}

/* A one-value query on the second connection, as text (static buffer). */
static const char *other(const char *zSql) {
  static char z[4096];
  sqlite3_stmt *pStmt = NULL;
  z[0] = 0;
  if (sqlite3_prepare_v2(t.db2, zSql, -1, &pStmt, NULL) != SQLITE_OK) {
    snprintf(z, sizeof(z), "error: %s", sqlite3_errmsg(t.db2));
  } else if (sqlite3_step(pStmt) == SQLITE_ROW && sqlite3_column_text(pStmt, 0)) {
    snprintf(z, sizeof(z), "%s", sqlite3_column_text(pStmt, 0));
  }
  sqlite3_finalize(pStmt);
  return z;
}

/* The store's log as "index:term:kind" words (the fixture's handle). */
static const char *logShape(Fixture *F) {
  static char z[4096];
  raftlite_entries e = {NULL, 0};
  size_t n = 0;
  z[0] = 0;
  raftlite_try_get_log_entries(F->store, 0, RAFTLITE_UNBOUNDED, &e);
  for (size_t i = 0; i < e.n; i++) {
    static const char *azKind[] = {"blank", "normal", "membership"};
    n += (size_t)snprintf(z + n, sizeof(z) - n, "%s%llu:%llu:%s", i ? " " : "",
                          (unsigned long long)e.a[i].log_id.index,
                          (unsigned long long)e.a[i].log_id.term, azKind[e.a[i].kind]);
  }
  raftlite_entries_free(&e);
  return z;
}

static void conf3(struct raft_configuration *c) {
  raft_configuration_init(c);
  raft_configuration_add(c, 1, "127.0.0.1:9001", RAFT_VOTER);
  raft_configuration_add(c, 2, "127.0.0.1:9002", RAFT_VOTER);
  raft_configuration_add(c, 3, "host \"three\":9003", RAFT_STANDBY);
  raft_configuration_add(c, 4, "127.0.0.1:9004", RAFT_SPARE);
}
#define CONF3_JSON                                                                 \
  "{\"configs\":[[1,2]],\"nodes\":{\"1\":{\"address\":\"127.0.0.1:9001\",\"role\":" \
  "\"voter\"},\"2\":{\"address\":\"127.0.0.1:9002\",\"role\":\"voter\"},\"3\":{"    \
  "\"address\":\"host \\\"three\\\":9003\",\"role\":\"standby\"},\"4\":{\"address\":" \
  "\"127.0.0.1:9004\",\"role\":\"spare\"}}}"

/* Asserts that a io call fails with rv, names the rule in io->errmsg, and
** leaves the store as it was. */
#define ASSERT_IO_REFUSED(call, wantRv, zRule)                               \
  do {                                                                       \
    char *zBefore_ = dumpStore(F->db);                                       \
    int rv_ = (call);                                                        \
    char *zAfter_ = dumpStore(F->db);                                        \
    int same_ = strcmp(zBefore_, zAfter_) == 0;                              \
    sqlite3_free(zBefore_);                                                  \
    sqlite3_free(zAfter_);                                                   \
    if (rv_ != (wantRv)) FAIL("%s returned %d (%s), expected %d", #call, rv_, \
                              t.io.errmsg, (int)(wantRv));                   \
    if (strstr(t.io.errmsg, zRule) == NULL)                                  \
      FAIL("%s: errmsg \"%s\" does not name %s", #call, t.io.errmsg, zRule); \
    if (!same_) FAIL("%s changed the store", #call);                         \
  } while (0)

/* Loads, as raft_start() does; frees what it got. Returns the values. */
typedef struct Loaded {
  raft_term term;
  raft_id vote;
  raft_index start;
  size_t n;
  int hasSnap;
  raft_index snapIndex, confIndex;
  raft_term snapTerm;
  unsigned nServers;
  char snapBytes[64];
  unsigned short aType[64];
  char aData[64][32];
} Loaded;

static Loaded load(void) {
  Loaded l;
  struct raft_snapshot *s = NULL;
  struct raft_entry *a = NULL;
  memset(&l, 0, sizeof(l));
  int rv = t.io.load(&t.io, &l.term, &l.vote, &s, &l.start, &a, &l.n);
  if (rv != 0) FAIL("load: %d %s", rv, t.io.errmsg);
  if (s) {
    l.hasSnap = 1;
    l.snapIndex = s->index;
    l.snapTerm = s->term;
    l.confIndex = s->configuration_index;
    l.nServers = s->configuration.n;
    ASSERT_INT(s->n_bufs, 1);
    snprintf(l.snapBytes, sizeof(l.snapBytes), "%.*s", (int)s->bufs[0].len,
             (char *)s->bufs[0].base);
    raft_configuration_close(&s->configuration);
    raft_free(s->bufs[0].base);
    raft_free(s->bufs);
    raft_free(s);
  }
  for (size_t i = 0; i < l.n; i++) {
    if (i < 64) {
      l.aType[i] = a[i].type;
      snprintf(l.aData[i], sizeof(l.aData[i]), "%.*s", (int)a[i].buf.len, (char *)a[i].buf.base);
    }
    /* Each entry's batch is a raft_malloc'd block raft frees. */
    ASSERT(a[i].batch != NULL);
    raft_free(a[i].batch);
  }
  raft_free(a);
  return l;
}

/* Appends n entries as raft does; the callback's status lands in *pStatus
** (-1 until it fires). */
typedef struct AppendReq {
  struct raft_io_append req;
  int status;
  int nCommittedInCb; /* entries the other connection saw in the callback */
} AppendReq;

static void appendCb(struct raft_io_append *req, int status) {
  AppendReq *r = req->data;
  r->status = status;
  r->nCommittedInCb = atoi(other("SELECT count(*) FROM raft_log"));
}

static int append(AppendReq *r, struct raft_entry *a, unsigned n) {
  r->req.data = r;
  r->status = -1;
  return t.io.append(&t.io, &r->req, a, n, appendCb);
}

static struct raft_entry cmd(raft_term term, const char *z) {
  struct raft_entry e;
  e.term = term;
  e.type = RAFT_COMMAND;
  e.buf.base = (void *)z;
  e.buf.len = strlen(z);
  e.batch = NULL;
  return e;
}

/* Bootstraps the 4-server configuration. */
static void bootstrap(void) {
  struct raft_configuration c;
  conf3(&c);
  int rv = t.io.bootstrap(&t.io, &c);
  raft_configuration_close(&c);
  if (rv != 0) FAIL("bootstrap: %s", t.io.errmsg);
}

/* Entries 2..n+1 of term: commands "c2", "c3", ... written. */
static void appendCommands(raft_term term, unsigned n) {
  static char az[256][16];
  struct raft_entry a[256];
  AppendReq r;
  for (unsigned i = 0; i < n; i++) {
    snprintf(az[i], sizeof(az[i]), "c%u", i + 2);
    a[i] = cmd(term, az[i]);
  }
  ASSERT_INT(append(&r, a, n), 0);
  turn();
  if (r.status != 0) FAIL("append: %s", t.io.errmsg);
}

typedef struct PutReq {
  struct raft_io_snapshot_put req;
  int status;
} PutReq;

static void putCb(struct raft_io_snapshot_put *req, int status) {
  ((PutReq *)req->data)->status = status;
}

static int put(PutReq *r, unsigned trailing, raft_term term, raft_index index,
               struct raft_configuration *conf, raft_index confIndex, const char *zData) {
  struct raft_snapshot s;
  struct raft_buffer b = {(void *)zData, strlen(zData)};
  memset(&s, 0, sizeof(s));
  s.term = term;
  s.index = index;
  if (conf) s.configuration = *conf;
  s.configuration_index = confIndex;
  s.bufs = &b;
  s.n_bufs = 1;
  r->req.data = r;
  r->status = -1;
  return t.io.snapshot_put(&t.io, trailing, &r->req, &s, putCb);
}

/* ==================================================================== */

TEST(init, forwardsTransportAndTimers) {
  Fixture *F = f;
  tOpen(F);
  ASSERT_INT(t.io.version, 2);
  ASSERT_INT(t.fake.nInit, 1);
  ASSERT_INT(t.io.time(&t.io), 12345);
  ASSERT_INT(t.io.random(&t.io, 7, 9), 7);
  ASSERT_INT(t.io.start(&t.io, 50, NULL, NULL), 0);
  ASSERT_INT(t.fake.nStart, 1);
  struct raft_io_send req;
  struct raft_message m;
  memset(&m, 0, sizeof(m));
  ASSERT_INT(t.io.send(&t.io, &req, &m, NULL), 0);
  t.fake.failSend = 1;
  /* A forwarded error's message is the transport's, on the outer io. */
  ASSERT_INT(t.io.send(&t.io, &req, &m, NULL), RAFT_NOCONNECTION);
  ASSERT_STR(t.io.errmsg, "fake: no connection");
  ASSERT_INT(t.fake.nSend, 2);
  tClose();
  ASSERT_INT(closed, 1);
  ASSERT_INT(t.fake.nClose, 1);
}

/* raft finds itself through io->data: the transport's callbacks come back
** with the outer io. */
static struct raft_io *tickedWith;
static void tickCb(struct raft_io *io) {
  tickedWith = io;
}
static struct raft_io *recvWith;
static void recvCb(struct raft_io *io, struct raft_message *m) {
  (void)m;
  recvWith = io;
}
TEST(init, callbacksGetTheOuterIo) {
  Fixture *F = f;
  tOpen(F);
  ASSERT_INT(t.io.start(&t.io, 50, tickCb, recvCb), 0);
  t.fake.tick(&t.transport);
  ASSERT(tickedWith == &t.io);
  t.fake.recv(&t.transport, NULL);
  ASSERT(recvWith == &t.io);
  tClose();
}

TEST(init, refusesAConnectionWithoutDurableSettings) {
  Fixture *F = f;
  struct raft_io io, transport;
  uv_loop_t loop;
  memset(&transport, 0, sizeof(transport));
  uv_loop_init(&loop);
  EXEC("PRAGMA synchronous=OFF");
  ASSERT_INT(raftlite_raft_io_init(&io, &transport, &loop, F->db, "main"), RAFT_IOERR);
  ASSERT(strstr(io.errmsg, "cannot open the store") != NULL);
  raftlite_raft_io_close(&io); /* a no-op after a failed init */
  uv_loop_close(&loop);
  EXEC("PRAGMA synchronous=EXTRA");
}

TEST(bootstrap, storesTermOneAndTheConfigurationAsMembership) {
  Fixture *F = f;
  tOpen(F);
  bootstrap();
  /* Committed on return: another connection sees it. */
  ASSERT_STR(other("SELECT current_term || '|' || ifnull(voted_for, 'none') FROM raft_hard_state"),
             "1|none");
  ASSERT_STR(other("SELECT idx || ':' || term || ':' || kind FROM raft_log"), "1:1:membership");
  ASSERT_STR(other("SELECT payload FROM raft_log WHERE idx = 1"), CONF3_JSON);
  Loaded l = load();
  ASSERT_INT(l.term, 1);
  ASSERT_INT(l.vote, 0);
  ASSERT_INT(l.start, 1);
  ASSERT_INT(l.n, 1);
  ASSERT_INT(l.aType[0], RAFT_CHANGE);
  ASSERT(!l.hasSnap);
  tClose();
}

TEST(bootstrap, theLoadedEntryIsLibraftsEncoding) {
  Fixture *F = f;
  struct raft_configuration c;
  struct raft_snapshot *s;
  struct raft_entry *a;
  raft_term term;
  raft_id vote;
  raft_index start;
  size_t n;
  tOpen(F);
  bootstrap();
  ASSERT_INT(t.io.load(&t.io, &term, &vote, &s, &start, &a, &n), 0);
  conf3(&c);
  struct raft_buffer want;
  ASSERT_INT(raft_configuration_encode(&c, &want), 0);
  raft_configuration_close(&c);
  ASSERT_INT(a[0].buf.len, want.len);
  /* libraft leaves its padding uninitialised: compare up to it; ours is
  ** zero. */
  /* version, count, then per server: id, address, NUL, role */
  size_t nData = 1 + 8 + 4 * (8 + 1 + 1) + strlen("127.0.0.1:9001") * 3 +
                 strlen("host \"three\":9003");
  ASSERT(nData <= want.len && want.len - nData < 8);
  ASSERT(memcmp(a[0].buf.base, want.base, nData) == 0);
  for (size_t i = nData; i < want.len; i++) ASSERT_INT(((char *)a[0].buf.base)[i], 0);
  raft_free(want.base);
  raft_free(a[0].batch);
  raft_free(a);
  tClose();
}

TEST(bootstrap, refusedOnAStoreThatIsNotEmpty) {
  Fixture *F = f;
  struct raft_configuration c;
  tOpen(F);
  bootstrap();
  conf3(&c);
  ASSERT_IO_REFUSED(t.io.bootstrap(&t.io, &c), RAFT_CANTBOOTSTRAP, "not empty");
  raft_configuration_close(&c);
  tClose();
}

TEST(bootstrap, refusesAConfigurationWithoutVoters) {
  Fixture *F = f;
  struct raft_configuration c;
  tOpen(F);
  raft_configuration_init(&c);
  raft_configuration_add(&c, 1, "a:1", RAFT_STANDBY);
  ASSERT_IO_REFUSED(t.io.bootstrap(&t.io, &c), RAFT_INVALID, "without voters");
  raft_configuration_close(&c);
  ASSERT_STR(logShape(F), "");
  tClose();
}

TEST(hardState, termAndVoteAreCommittedBeforeReturning) {
  Fixture *F = f;
  tOpen(F);
  bootstrap();
  ASSERT_INT(t.io.set_vote(&t.io, 2), 0);
  ASSERT_STR(other("SELECT current_term || '|' || voted_for FROM raft_hard_state"), "1|2");
  /* A new term clears the vote. */
  ASSERT_INT(t.io.set_term(&t.io, 5), 0);
  ASSERT_STR(other("SELECT current_term || '|' || ifnull(voted_for, 'none') FROM raft_hard_state"),
             "5|none");
  ASSERT_INT(t.io.set_vote(&t.io, 3), 0);
  Loaded l = load();
  ASSERT_INT(l.term, 5);
  ASSERT_INT(l.vote, 3);
  tClose();
}

TEST(hardState, aTermGoingDownIsRefused) {
  Fixture *F = f;
  tOpen(F);
  bootstrap();
  ASSERT_INT(t.io.set_term(&t.io, 5), 0);
  ASSERT_IO_REFUSED(t.io.set_term(&t.io, 4), RAFT_IOERR, "TermNotAscending");
  ASSERT_INT(t.io.set_vote(&t.io, 2), 0);
  /* A second vote in the same term. */
  ASSERT_IO_REFUSED(t.io.set_vote(&t.io, 3), RAFT_IOERR, "VotedForChanged");
  tClose();
}

TEST(append, writesAfterTheCallAndCallsBackAfterCommit) {
  Fixture *F = f;
  AppendReq r1, r2;
  struct raft_entry a[3], b[1];
  char aConf[8] = {0};
  tOpen(F);
  bootstrap();
  a[0] = cmd(1, "x=1");
  a[1] = cmd(1, "");
  a[1].type = RAFT_BARRIER;
  a[1].buf.base = aConf;
  a[1].buf.len = 8;
  a[2] = cmd(1, "");
  struct raft_configuration c;
  conf3(&c);
  ASSERT_INT(raft_configuration_encode(&c, &a[2].buf), 0);
  a[2].type = RAFT_CHANGE;
  raft_configuration_close(&c);
  b[0] = cmd(2, "y=2");
  ASSERT_INT(append(&r1, a, 3), 0);
  ASSERT_INT(append(&r2, b, 1), 0);
  /* Neither written nor called back inside the calls. */
  ASSERT_INT(r1.status, -1);
  ASSERT_INT(r2.status, -1);
  ASSERT_STR(other("SELECT count(*) FROM raft_log"), "1");
  turn();
  ASSERT_INT(r1.status, 0);
  ASSERT_INT(r2.status, 0);
  /* The callbacks fired once both appends were committed. */
  ASSERT_INT(r1.nCommittedInCb, 5);
  ASSERT_INT(r2.nCommittedInCb, 5);
  ASSERT_STR(logShape(F), "1:1:membership 2:1:normal 3:1:blank 4:1:membership 5:2:normal");
  ASSERT_STR(other("SELECT payload FROM raft_log WHERE idx = 4"), CONF3_JSON);
  Loaded l = load();
  ASSERT_INT(l.n, 5);
  ASSERT_INT(l.aType[1], RAFT_COMMAND);
  ASSERT_STR(l.aData[1], "x=1");
  ASSERT_INT(l.aType[2], RAFT_BARRIER);
  ASSERT_INT(l.aType[3], RAFT_CHANGE);
  ASSERT_STR(l.aData[4], "y=2");
  raft_free(a[2].buf.base);
  tClose();
}

/* Two appends of one loop iteration are one transaction: a commit hook
** counts them. */
static int nCommitHook;
static int commitHook(void *p) {
  (void)p;
  nCommitHook++;
  return 0;
}
TEST(append, oneTransactionPerLoopIteration) {
  Fixture *F = f;
  AppendReq r[4];
  struct raft_entry a[4];
  tOpen(F);
  bootstrap();
  for (int i = 0; i < 4; i++) a[i] = cmd(1, "v");
  for (int i = 0; i < 4; i++) ASSERT_INT(append(&r[i], &a[i], 1), 0);
  nCommitHook = 0;
  sqlite3_commit_hook(F->db, commitHook, NULL);
  turn();
  sqlite3_commit_hook(F->db, NULL, NULL);
  ASSERT_INT(nCommitHook, 1);
  for (int i = 0; i < 4; i++) ASSERT_INT(r[i].status, 0);
  ASSERT_STR(logShape(F), "1:1:membership 2:1:normal 3:1:normal 4:1:normal 5:1:normal");
  tClose();
}

TEST(append, aRefusedBatchFailsItsCallbackAndWritesNothing) {
  Fixture *F = f;
  AppendReq r;
  struct raft_entry a[2];
  tOpen(F);
  bootstrap();
  ASSERT_INT(t.io.set_term(&t.io, 3), 0);
  appendCommands(3, 1); /* entry 2, term 3 */
  /* Terms going down inside the batch: LogsNonConsecutive. */
  a[0] = cmd(3, "a");
  a[1] = cmd(2, "b");
  char *zBefore = dumpStore(F->db);
  ASSERT_INT(append(&r, a, 2), 0);
  turn();
  char *zAfter = dumpStore(F->db);
  int same = strcmp(zBefore, zAfter) == 0;
  sqlite3_free(zBefore);
  sqlite3_free(zAfter);
  ASSERT_INT(r.status, RAFT_IOERR);
  ASSERT(strstr(t.io.errmsg, "LogsNonConsecutive") != NULL);
  ASSERT(same);
  /* The io and raft's log now disagree: every later write is refused. */
  ASSERT_IO_REFUSED(t.io.set_term(&t.io, 4), RAFT_IOERR, "earlier write failed");
  ASSERT_IO_REFUSED(t.io.truncate(&t.io, 2), RAFT_IOERR, "earlier write failed");
  PutReq p;
  zBefore = dumpStore(F->db);
  ASSERT_INT(put(&p, 1, 3, 2, NULL, 1, "fsm@2"), 0);
  turn();
  zAfter = dumpStore(F->db);
  same = strcmp(zBefore, zAfter) == 0;
  sqlite3_free(zBefore);
  sqlite3_free(zAfter);
  ASSERT_INT(p.status, RAFT_IOERR);
  ASSERT(strstr(t.io.errmsg, "earlier write failed") != NULL);
  ASSERT(same);
  tClose();
}

TEST(truncate, writesQueuedAppendsFirstThenDeletes) {
  Fixture *F = f;
  AppendReq r;
  struct raft_entry a[3] = {cmd(1, "a"), cmd(1, "b"), cmd(1, "c")};
  tOpen(F);
  bootstrap();
  ASSERT_INT(append(&r, a, 3), 0); /* 2..4, queued */
  ASSERT_INT(t.io.truncate(&t.io, 3), 0);
  /* Written and truncated, in raft's order; the callback still later. */
  ASSERT_STR(logShape(F), "1:1:membership 2:1:normal");
  ASSERT_INT(r.status, -1);
  turn();
  ASSERT_INT(r.status, 0);
  /* The next append goes at the truncated index. */
  appendCommands(2, 1);
  ASSERT_STR(logShape(F), "1:1:membership 2:1:normal 3:2:normal");
  tClose();
}

TEST(truncate, belowWhatASnapshotAppliedIsRefused) {
  Fixture *F = f;
  PutReq p;
  tOpen(F);
  bootstrap();
  appendCommands(1, 5); /* 2..6 */
  ASSERT_INT(put(&p, 2, 1, 4, NULL, 1, "fsm@4"), 0);
  turn();
  ASSERT_INT(p.status, 0);
  ASSERT_IO_REFUSED(t.io.truncate(&t.io, 3), RAFT_IOERR, "AppliedWontConflict");
  tClose();
}

TEST(snapshotPut, trailingAppliesStoresAndPurges) {
  Fixture *F = f;
  PutReq p;
  struct raft_configuration c;
  tOpen(F);
  bootstrap();
  appendCommands(1, 9); /* 2..10 */
  /* 0.15 may pass an uncommitted configuration: the store keeps the one
  ** applied from its log (entry 1). */
  raft_configuration_init(&c);
  raft_configuration_add(&c, 9, "elsewhere:9", RAFT_VOTER);
  ASSERT_INT(put(&p, 3, 1, 8, &c, 10, "fsm@8"), 0);
  raft_configuration_close(&c);
  ASSERT_INT(p.status, -1);
  turn();
  ASSERT_INT(p.status, 0);
  ASSERT_STR(other("SELECT last_applied_term || '-' || last_applied_index || ' purged '"
                   " || last_purged_index || ' first ' || first_log_index FROM raft_state"),
             "1-8 purged 5 first 6");
  ASSERT_STR(other("SELECT last_log_index || ' ' || membership_index || ' ' || size"
                   " FROM raft_snapshot"),
             "8 1 5");
  ASSERT_STR(other("SELECT membership FROM raft_snapshot"), CONF3_JSON);
  Loaded l = load();
  ASSERT(l.hasSnap);
  ASSERT_INT(l.snapIndex, 8);
  ASSERT_INT(l.snapTerm, 1);
  ASSERT_INT(l.confIndex, 1);
  ASSERT_INT(l.nServers, 4);
  ASSERT_STR(l.snapBytes, "fsm@8");
  ASSERT_INT(l.start, 6);
  ASSERT_INT(l.n, 5);
  ASSERT_STR(l.aData[0], "c6");
  tClose();
}

TEST(snapshotPut, trailingBeyondTheLogFailsAndChangesNothing) {
  Fixture *F = f;
  PutReq p;
  tOpen(F);
  bootstrap();
  appendCommands(1, 3); /* 2..4 */
  char *zBefore = dumpStore(F->db);
  ASSERT_INT(put(&p, 2, 1, 9, NULL, 1, "fsm@9"), 0);
  turn();
  char *zAfter = dumpStore(F->db);
  int same = strcmp(zBefore, zAfter) == 0;
  sqlite3_free(zBefore);
  sqlite3_free(zAfter);
  ASSERT_INT(p.status, RAFT_CORRUPT);
  ASSERT(strstr(t.io.errmsg, "lacks entries") != NULL);
  ASSERT(same);
  tClose();
}

TEST(snapshotPut, installReplacesTheWholeLog) {
  Fixture *F = f;
  PutReq p;
  struct raft_configuration c;
  tOpen(F);
  bootstrap();
  appendCommands(1, 9); /* 2..10 */
  conf3(&c);
  /* The leader's snapshot at 3-20, its configuration at index 15 (no
  ** term in the message, none known here: the snapshot's term). */
  ASSERT_INT(put(&p, 0, 3, 20, &c, 15, "leader@20"), 0);
  raft_configuration_close(&c);
  turn();
  ASSERT_INT(p.status, 0);
  ASSERT_STR(logShape(F), "");
  ASSERT_STR(other("SELECT last_applied_term || '-' || last_applied_index || ' purged '"
                   " || last_purged_term || '-' || last_purged_index FROM raft_state"),
             "3-20 purged 3-20");
  ASSERT_STR(other("SELECT membership_term || '-' || membership_index FROM raft_snapshot"), "3-15");
  /* The next append is 21. */
  appendCommands(3, 1);
  ASSERT_STR(logShape(F), "21:3:normal");
  Loaded l = load();
  ASSERT_STR(l.snapBytes, "leader@20");
  ASSERT_INT(l.start, 21);
  ASSERT_INT(l.n, 1);
  tClose();
}

TEST(snapshotPut, installDropsEntriesAfterASnapshotTheLogHolds) {
  Fixture *F = f;
  PutReq p;
  struct raft_configuration c;
  tOpen(F);
  bootstrap();
  appendCommands(1, 9); /* 2..10 */
  conf3(&c);
  /* The log holds 1-6 exactly: raftlite would keep 7..10, libraft drops
  ** them. The configuration's term comes from the log (entry 1). */
  ASSERT_INT(put(&p, 0, 1, 6, &c, 1, "leader@6"), 0);
  raft_configuration_close(&c);
  turn();
  ASSERT_INT(p.status, 0);
  ASSERT_STR(logShape(F), "");
  ASSERT_STR(other("SELECT membership_term || '-' || membership_index FROM raft_snapshot"), "1-1");
  tClose();
}

TEST(snapshotPut, aStaleInstallIsRefused) {
  Fixture *F = f;
  PutReq p1, p2;
  tOpen(F);
  bootstrap();
  appendCommands(1, 9);
  ASSERT_INT(put(&p1, 2, 1, 8, NULL, 1, "fsm@8"), 0);
  turn();
  ASSERT_INT(p1.status, 0);
  char *zBefore = dumpStore(F->db);
  struct raft_configuration c;
  conf3(&c);
  ASSERT_INT(put(&p2, 0, 1, 5, &c, 1, "old@5"), 0);
  raft_configuration_close(&c);
  turn();
  char *zAfter = dumpStore(F->db);
  int same = strcmp(zBefore, zAfter) == 0;
  sqlite3_free(zBefore);
  sqlite3_free(zAfter);
  ASSERT_INT(p2.status, RAFT_IOERR);
  ASSERT(strstr(t.io.errmsg, "SnapshotStale") != NULL);
  ASSERT(same);
  tClose();
}

typedef struct GetReq {
  struct raft_io_snapshot_get req;
  int status;
  struct raft_snapshot *s;
} GetReq;

static void getCb(struct raft_io_snapshot_get *req, struct raft_snapshot *s, int status) {
  GetReq *g = req->data;
  g->status = status;
  g->s = s;
}

TEST(snapshotGet, givesTheCurrentSnapshotLater) {
  Fixture *F = f;
  GetReq g = {{&g, NULL}, -1, NULL};
  PutReq p;
  tOpen(F);
  bootstrap();
  ASSERT_INT(t.io.snapshot_get(&t.io, &g.req, getCb), 0);
  turn();
  ASSERT_INT(g.status, RAFT_NOTFOUND);
  appendCommands(1, 4);
  ASSERT_INT(put(&p, 1, 1, 5, NULL, 1, "fsm@5"), 0);
  g.status = -1;
  ASSERT_INT(t.io.snapshot_get(&t.io, &g.req, getCb), 0);
  ASSERT_INT(g.status, -1);
  turn();
  ASSERT_INT(p.status, 0);
  ASSERT_INT(g.status, 0);
  ASSERT_INT(g.s->index, 5);
  ASSERT_INT(g.s->configuration_index, 1);
  ASSERT_INT(g.s->configuration.n, 4);
  ASSERT_INT(g.s->configuration.servers[2].role, RAFT_STANDBY);
  ASSERT_STR(g.s->configuration.servers[2].address, "host \"three\":9003");
  ASSERT_INT(g.s->configuration.servers[3].role, RAFT_SPARE);
  ASSERT_INT(g.s->bufs[0].len, 5);
  ASSERT(memcmp(g.s->bufs[0].base, "fsm@5", 5) == 0);
  raft_configuration_close(&g.s->configuration);
  raft_free(g.s->bufs[0].base);
  raft_free(g.s->bufs);
  raft_free(g.s);
  tClose();
}

TEST(recover, appendsTheConfigurationWithTheLastTerm) {
  Fixture *F = f;
  struct raft_configuration c;
  tOpen(F);
  bootstrap();
  ASSERT_INT(t.io.set_term(&t.io, 4), 0);
  appendCommands(4, 2); /* 2..3, term 4 */
  raft_configuration_init(&c);
  raft_configuration_add(&c, 1, "127.0.0.1:9001", RAFT_VOTER);
  ASSERT_INT(t.io.recover(&t.io, &c), 0);
  raft_configuration_close(&c);
  ASSERT_STR(logShape(F), "1:1:membership 2:4:normal 3:4:normal 4:4:membership");
  ASSERT_STR(other("SELECT payload FROM raft_log WHERE idx = 4"),
             "{\"configs\":[[1]],\"nodes\":{\"1\":{\"address\":\"127.0.0.1:9001\",\"role\":\"voter\"}}}");
  tClose();
}

TEST(load, aMembershipWithoutAddressesIsRefused) {
  Fixture *F = f;
  tOpen(F);
  /* Written by someone else, in the array form: no addresses. */
  raftlite_entry e = entry(1, 1, RAFTLITE_MEMBERSHIP, "[[1,2]]");
  ASSERT_OK(raftlite_append_to_log(F->store, &e, 1));
  struct raft_snapshot *s;
  struct raft_entry *a;
  raft_term term;
  raft_id vote;
  raft_index start;
  size_t n;
  ASSERT_IO_REFUSED(t.io.load(&t.io, &term, &vote, &s, &start, &a, &n), RAFT_CORRUPT,
                    "no node with an address");
  tClose();
}

static int appendCbStatusAtClose = -1;
static void appendCbAtClose(struct raft_io_append *req, int status) {
  (void)req;
  appendCbStatusAtClose = status;
  ASSERT_INT(closed, 0); /* before raft's close callback */
}
TEST(close, firesQueuedCallbacksBeforeTheCloseCallback) {
  Fixture *F = f;
  struct raft_io_append req;
  struct raft_entry a = cmd(1, "last");
  tOpen(F);
  bootstrap();
  ASSERT_INT(t.io.append(&t.io, &req, &a, 1, appendCbAtClose), 0);
  tClose();
  ASSERT_INT(appendCbStatusAtClose, 0);
  ASSERT_INT(closed, 1);
  ASSERT_STR(logShape(F), "1:1:membership 2:1:normal");
}

RUN_TESTS(setUp, tTearDown)
