/*
** test_fault.c — I/O errors, disk full and busy locks against every
** mutating call of the C API and of the SQL functions.
**
** I/O errors and disk full (suite "ioerr"): each operation starts from one
** store state (a template file per journal mode, copied for each run) and
** runs through the faultvfs shim with the nth call of one method class
** failing (once, or persistently from then on), for n = 1, 2, ... until the
** operation completes without the fault firing. Classes and codes: read,
** write (IOERR and FULL), sync, truncate (IOERR and FULL), lock, file size,
** open, delete, access, shm map (WAL). For each n:
**   - no fault fired: the call succeeds and its result is the reference;
**   - it succeeded: the store is as after the call (a fault that did not
**     matter);
**   - it failed: it names no broken rule; the connection is as the caller
**     left it — no transaction open when the caller had none, the caller's
**     transaction and savepoint still open when it ran inside them — and
**     the store reads as before the call (install drops its stream's
**     bytes either way, as documented: receiving streams are left out of
**     its comparison); after a failed sync outside the
**     caller's transaction, the handle refuses writes (C API);
**   - then the database is reopened with the plain VFS: PRAGMA
**     integrity_check and raft_check() say ok, and the store holds what
**     the call reported (as before after a failure, except that a failed
**     commit may have reached the disk: before or after; as after a
**     success; the caller's transaction committed around it).
** Both journal modes (DELETE, WAL) and both caller modes (no transaction;
** BEGIN, a write of the caller's own, SAVEPOINT) for every operation.
**
** SQLite itself rolls a caller's whole transaction back after some I/O
** errors and disk full (sqlite3VdbeHalt): that is not raftlite's doing,
** and the test counts it (with the store as before the caller's BEGIN)
** instead of failing.
**
** Busy (suite "busy"): each operation while another connection holds a
** read transaction in a rollback-journal store (the commit cannot get its
** exclusive lock), with and without a busy timeout, and while another
** connection holds the write lock (BEGIN IMMEDIATE) in a rollback-journal
** and a WAL store, outside and inside a caller's transaction: the call
** fails with SQLITE_BUSY, the connection is as before, nothing of the call
** is visible to a third connection; once the other connection ends, the
** same call succeeds and a new connection sees it.
**
** argv[1] filters the cases ("suite/name"). The default run (about 50 s of
** CPU)
** fails every class persistently, in the caller's transaction only reads
** and disk full (what strikes before the caller's commit), and tries every
** n up to 6, then steps growing by half (the last n, where
** the call completes, is always reached). RAFTLITE_FAULT_LONG=1 (label
** "long", about 5 minutes) tries every n, every class once and
** persistently, inside and outside the caller's transaction.
*/
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <unistd.h>

#include "faultutil.h"
#include "faultvfs.h"
#include "harness.h"

#define WORK "fault.db"

/******************************************************************************
 * Operations
 *****************************************************************************/

typedef struct Ctx {
  sqlite3 *db;
  raftlite *store;
  raftlite_snapshot *pStream; /* a receiving stream the preparation began */
  long long iStream;          /* ... its id, in SQL */
  char zMeta[512];            /* install's meta (SQL) */
} Ctx;

typedef struct Op {
  const char *zName;
  int bSql;                /* an SQL function: no handle state to check */
  int bConsumes;           /* consumes the prepared stream, even failing */
  int (*xPrep)(Ctx *);     /* before the call, not under the fault */
  int (*xCall)(Ctx *);     /* the call */
} Op;

static int execf(Ctx *c, const char *zFormat, ...) {
  va_list ap;
  va_start(ap, zFormat);
  char *zSql = sqlite3_vmprintf(zFormat, ap);
  va_end(ap);
  int rc = sqlite3_exec(c->db, zSql, NULL, NULL, NULL);
  sqlite3_free(zSql);
  return rc;
}

static long long queryI64(sqlite3 *db, const char *zSql) {
  sqlite3_stmt *pStmt = NULL;
  long long v = -1;
  if (sqlite3_prepare_v2(db, zSql, -1, &pStmt, NULL) == SQLITE_OK &&
      sqlite3_step(pStmt) == SQLITE_ROW) {
    v = sqlite3_column_int64(pStmt, 0);
  }
  sqlite3_finalize(pStmt);
  return v;
}

static char aBig[100000]; /* a payload over one snapshot chunk (64 KiB) */

static int appendOne(Ctx *c, uint64_t term, uint64_t idx, raftlite_kind kind, const void *a,
                     size_t n) {
  raftlite_entry e = {{term, idx}, kind, a, n};
  return raftlite_append_to_log(c->store, &e, 1);
}

/* Applies entries lo..hi read from the log. */
static int applyLog(Ctx *c, uint64_t lo, uint64_t hi) {
  raftlite_entries ents;
  int rc = raftlite_try_get_log_entries(c->store, lo, hi + 1, &ents);
  if (rc != SQLITE_OK) return rc;
  raftlite_responses resp;
  rc = raftlite_apply_to_state_machine(c->store, ents.a, ents.n, &resp);
  if (rc == SQLITE_OK) raftlite_responses_free(&resp);
  raftlite_entries_free(&ents);
  return rc;
}

/* The template: hard state 2/1; log 3..8 (1..4 term 1, 5..8 term 2, entry
** 1 a membership, entry 3 70 KB), applied up to 4 with the kv callbacks,
** a current snapshot at 4, purged up to 2; a declared state machine on
** table dkv (for the SQL functions); table note (the caller's own). */
static int makeTemplateState(Ctx *c) {
  int rc = execf(c, "CREATE TABLE kv(k TEXT PRIMARY KEY, v);"
                    "CREATE TABLE dkv(k INTEGER PRIMARY KEY, v);"
                    "CREATE TABLE note(x);"
                    "SELECT raft_state_machine('[\"dkv\"]',"
                    " 'INSERT OR REPLACE INTO dkv VALUES (:index, :payload)')");
  raftlite_hard_state hs = {2, 1, 1};
  if (rc == SQLITE_OK) rc = raftlite_save_hard_state(c->store, &hs);
  if (rc == SQLITE_OK) rc = appendOne(c, 1, 1, RAFTLITE_MEMBERSHIP, "[[1,2,3]]", 9);
  for (uint64_t i = 2; rc == SQLITE_OK && i <= 8; i++) {
    char z[32];
    snprintf(z, sizeof(z), "k%llu=v%llu", (unsigned long long)i, (unsigned long long)i);
    if (i == 3) {
      char *zBig = malloc(70001);
      memset(zBig, 'b', 70000);
      memcpy(zBig, "big=", 4);
      rc = appendOne(c, 1, i, RAFTLITE_NORMAL, zBig, 70000);
      free(zBig);
    } else {
      rc = appendOne(c, i <= 4 ? 1 : 2, i, RAFTLITE_NORMAL, z, strlen(z));
    }
  }
  if (rc == SQLITE_OK) rc = applyLog(c, 1, 4);
  raftlite_snapshot_meta meta;
  raftlite_snapshot *s = NULL;
  if (rc == SQLITE_OK) rc = raftlite_build_snapshot(c->store, &meta, &s);
  if (rc == SQLITE_OK) {
    raftlite_snapshot_close(s);
    raftlite_snapshot_meta_free(&meta);
    rc = raftlite_purge_logs_upto(c->store, (raftlite_log_id){1, 2});
  }
  return rc;
}

static int prepNone(Ctx *c) {
  (void)c;
  return SQLITE_OK;
}

/* ---- C API ---- */

static int callSaveHardState(Ctx *c) {
  raftlite_hard_state hs = {3, 1, 2};
  return raftlite_save_hard_state(c->store, &hs);
}

static int callAppend(Ctx *c) {
  raftlite_entry a[3] = {{{2, 9}, RAFTLITE_NORMAL, aBig, sizeof(aBig)},
                         {{2, 10}, RAFTLITE_BLANK, NULL, 0},
                         {{2, 11}, RAFTLITE_MEMBERSHIP, "[[1,2,3,4]]", 11}};
  return raftlite_append_to_log(c->store, a, 3);
}

static int callTruncate(Ctx *c) {
  return raftlite_delete_conflict_logs_since(c->store, (raftlite_log_id){2, 6});
}

static int callPurge(Ctx *c) { return raftlite_purge_logs_upto(c->store, (raftlite_log_id){1, 4}); }

static int callApply(Ctx *c) { return applyLog(c, 5, 7); }

static int callBuild(Ctx *c) {
  raftlite_snapshot_meta meta;
  raftlite_snapshot *s = NULL;
  int rc = raftlite_build_snapshot(c->store, &meta, &s);
  if (rc == SQLITE_OK) {
    raftlite_snapshot_close(s);
    raftlite_snapshot_meta_free(&meta);
  }
  return rc;
}

static int callBegin(Ctx *c) {
  raftlite_snapshot *s = NULL;
  int rc = raftlite_begin_receiving_snapshot(c->store, &s);
  raftlite_snapshot_close(s); /* the stream's bytes stay */
  return rc;
}

static int prepBegin(Ctx *c) { return raftlite_begin_receiving_snapshot(c->store, &c->pStream); }

static int callWrite(Ctx *c) { return raftlite_snapshot_write(c->pStream, aBig, sizeof(aBig)); }

static int prepInstall(Ctx *c) {
  int rc = prepBegin(c);
  if (rc == SQLITE_OK) rc = raftlite_snapshot_write(c->pStream, "a=1\nb=2\n", 8);
  return rc;
}

static int callInstall(Ctx *c) {
  raftlite_snapshot_meta meta;
  memset(&meta, 0, sizeof(meta));
  meta.last_log_id = (raftlite_log_id){2, 6};
  strcpy(meta.snapshot_id, "leader-2-6");
  meta.has_membership = 1;
  meta.membership_log_id = (raftlite_log_id){1, 1};
  meta.membership_json = "[[1,2,3]]";
  raftlite_sm_changes ch;
  raftlite_snapshot *s = c->pStream;
  c->pStream = NULL; /* install's, whatever happens */
  return raftlite_install_snapshot(c->store, &meta, s, &ch);
}

/* install_snapshot, the membership known by its index alone: its term
** resolved from the applied membership (entry 1, term 1). */
static int callInstallIndexOnly(Ctx *c) {
  raftlite_snapshot_meta meta;
  memset(&meta, 0, sizeof(meta));
  meta.last_log_id = (raftlite_log_id){2, 6};
  strcpy(meta.snapshot_id, "leader-2-6");
  meta.has_membership = 1;
  meta.membership_log_id = (raftlite_log_id){0, 1};
  meta.membership_json = "[[1,2,3]]";
  meta.membership_term_unknown = 1;
  raftlite_sm_changes ch;
  raftlite_snapshot *s = c->pStream;
  c->pStream = NULL; /* install's, whatever happens */
  return raftlite_install_snapshot(c->store, &meta, s, &ch);
}

static int callApplyUpto(Ctx *c) {
  raftlite_responses resp;
  int rc = raftlite_apply_upto(c->store, 7, &resp);
  if (rc == SQLITE_OK) raftlite_responses_free(&resp);
  return rc;
}

static int callPurgeUpto(Ctx *c) { return raftlite_purge_upto(c->store, 4); }

static int callBeginSnapshot(Ctx *c) {
  raftlite_snapshot *s = NULL;
  int rc = raftlite_begin_snapshot(c->store, &s);
  raftlite_snapshot_close(s); /* the stream's bytes stay */
  return rc;
}

/* The caller's bytes, over one chunk, become the current snapshot. */
static int prepCommitSnapshot(Ctx *c) {
  int rc = raftlite_begin_snapshot(c->store, &c->pStream);
  if (rc == SQLITE_OK) rc = raftlite_snapshot_write(c->pStream, aBig, sizeof(aBig));
  return rc;
}

static int callCommitSnapshot(Ctx *c) {
  raftlite_snapshot_meta meta;
  raftlite_snapshot *s = c->pStream;
  c->pStream = NULL; /* commit's, whatever happens */
  int rc = raftlite_commit_snapshot(c->store, s, &meta);
  if (rc == SQLITE_OK) raftlite_snapshot_meta_free(&meta);
  return rc;
}

/* Applied past the log's end (entries 9 and 10 are not in it): the next
** get_initial_state purges. */
static int prepPastLog(Ctx *c) {
  int rc = applyLog(c, 5, 8);
  raftlite_entry a[2] = {{{2, 9}, RAFTLITE_BLANK, NULL, 0}, {{2, 10}, RAFTLITE_BLANK, NULL, 0}};
  raftlite_responses resp;
  if (rc == SQLITE_OK) rc = raftlite_apply_to_state_machine(c->store, a, 2, &resp);
  if (rc == SQLITE_OK) raftlite_responses_free(&resp);
  return rc;
}

static int callInitialState(Ctx *c) {
  raftlite_log_state ls;
  raftlite_applied_state as;
  raftlite_hard_state hs;
  int bHas;
  int rc = raftlite_get_initial_state(c->store, &ls, &as, &hs, &bHas);
  if (rc == SQLITE_OK) raftlite_applied_state_free(&as);
  return rc;
}

/* ---- SQL ---- */

static int callSqlAppend(Ctx *c) { return execf(c, "SELECT raft_append(9, 2, 'normal', zeroblob(100000))"); }
static int callSqlAppendJson(Ctx *c) {
  return execf(c, "SELECT raft_append('[{\"idx\":9,\"term\":2,\"kind\":\"normal\",\"payload\":\"x\"},"
                  "{\"idx\":10,\"term\":3,\"kind\":\"membership\",\"payload\":[[1,2]]}]')");
}
static int callSqlInsertLog(Ctx *c) {
  return execf(c, "INSERT INTO raft_log VALUES (9, 2, 'normal', 'x'), (10, 2, 'blank', NULL)");
}
static int callSqlTruncate(Ctx *c) { return execf(c, "SELECT raft_truncate(6)"); }
static int callSqlPurge(Ctx *c) { return execf(c, "SELECT raft_purge(4)"); }
static int callSqlApply(Ctx *c) { return execf(c, "SELECT raft_apply(6)"); }
static int callSqlHardState(Ctx *c) { return execf(c, "SELECT raft_save_hard_state(3, 2)"); }
static int callSqlBuild(Ctx *c) { return execf(c, "SELECT raft_snapshot_build()"); }
static int callSqlBegin(Ctx *c) { return execf(c, "SELECT raft_snapshot_begin()"); }
static int prepSqlBegin(Ctx *c) {
  c->iStream = queryI64(c->db, "SELECT raft_snapshot_begin()");
  return c->iStream > 0 ? SQLITE_OK : SQLITE_ERROR;
}
static int callSqlWrite(Ctx *c) {
  return execf(c, "SELECT raft_snapshot_write(%lld, 0, zeroblob(100000))", c->iStream);
}
static int callSqlStateMachine(Ctx *c) {
  return execf(c, "SELECT raft_state_machine('[\"dkv\"]', 'INSERT INTO dkv VALUES (:index, :payload_blob)')");
}

/* An image of dkv built by the store, received back through a stream. */
static int prepSqlInstall(Ctx *c) {
  sqlite3_stmt *pStmt = NULL;
  int rc = sqlite3_prepare_v2(c->db, "SELECT raft_snapshot_build()", -1, &pStmt, NULL);
  if (rc == SQLITE_OK && sqlite3_step(pStmt) == SQLITE_ROW) {
    snprintf(c->zMeta, sizeof(c->zMeta),
             "{\"snapshot_id\":\"%s\",\"last_log_id\":[1,4],\"membership\":[[1,2,3]],"
             "\"membership_log_id\":[1,1]}",
             (const char *)sqlite3_column_text(pStmt, 0));
  } else {
    rc = SQLITE_ERROR;
  }
  sqlite3_finalize(pStmt);
  if (rc == SQLITE_OK) rc = prepSqlBegin(c);
  if (rc == SQLITE_OK) {
    rc = execf(c, "SELECT raft_snapshot_write(%lld, 0, raft_snapshot_read(0, 100000000))",
               c->iStream);
  }
  return rc;
}
static int callSqlInstall(Ctx *c) {
  return execf(c, "SELECT raft_snapshot_install(%lld, %Q)", c->iStream, c->zMeta);
}

static const Op aOp[] = {
    {"saveHardState", 0, 0, prepNone, callSaveHardState},
    {"appendToLog", 0, 0, prepNone, callAppend},
    {"deleteConflictLogsSince", 0, 0, prepNone, callTruncate},
    {"purgeLogsUpto", 0, 0, prepNone, callPurge},
    {"applyToStateMachine", 0, 0, prepNone, callApply},
    {"buildSnapshot", 0, 0, prepNone, callBuild},
    {"beginReceivingSnapshot", 0, 0, prepNone, callBegin},
    {"snapshotWrite", 0, 0, prepBegin, callWrite},
    {"installSnapshot", 0, 1, prepInstall, callInstall},
    {"getInitialStatePurges", 0, 0, prepPastLog, callInitialState},
    {"installSnapshotIndexOnly", 0, 1, prepInstall, callInstallIndexOnly},
    {"applyUpto", 0, 0, prepNone, callApplyUpto},
    {"purgeUpto", 0, 0, prepNone, callPurgeUpto},
    {"beginSnapshot", 0, 0, prepNone, callBeginSnapshot},
    {"commitSnapshot", 0, 1, prepCommitSnapshot, callCommitSnapshot},
    {"sqlRaftAppend", 1, 0, prepNone, callSqlAppend},
    {"sqlRaftAppendJson", 1, 0, prepNone, callSqlAppendJson},
    {"sqlInsertRaftLog", 1, 0, prepNone, callSqlInsertLog},
    {"sqlRaftTruncate", 1, 0, prepNone, callSqlTruncate},
    {"sqlRaftPurge", 1, 0, prepNone, callSqlPurge},
    {"sqlRaftApply", 1, 0, prepNone, callSqlApply},
    {"sqlRaftSaveHardState", 1, 0, prepNone, callSqlHardState},
    {"sqlRaftStateMachine", 1, 0, prepNone, callSqlStateMachine},
    {"sqlSnapshotBuild", 1, 0, prepNone, callSqlBuild},
    {"sqlSnapshotBegin", 1, 0, prepNone, callSqlBegin},
    {"sqlSnapshotWrite", 1, 0, prepSqlBegin, callSqlWrite},
    {"sqlSnapshotInstall", 1, 1, prepSqlInstall, callSqlInstall},
};
#define NOP ((int)(sizeof(aOp) / sizeof(aOp[0])))

/******************************************************************************
 * Running an operation
 *****************************************************************************/

static const char *const azMode[2] = {"DELETE", "WAL"};

static const char *tplPath(int iMode) { return iMode ? "fault-tpl-wal.db" : "fault-tpl-delete.db"; }

static void ctxClose(Ctx *c) {
  raftlite_snapshot_close(c->pStream);
  c->pStream = NULL;
  fuClose(&c->db, &c->store);
}

/* Opens WORK through zVfs, with the kv callbacks on the handle. */
static int ctxOpen(Ctx *c, const char *zVfs) {
  memset(c, 0, sizeof(*c));
  /* EXTRA: what a rollback-journal store needs (the journal's unlink is
  ** synced); in WAL it is FULL. */
  int rc = fuOpen(WORK, zVfs, NULL, "EXTRA", 0, &c->db, &c->store);
  if (rc == SQLITE_OK) raftlite_set_state_machine(c->store, &fuKvMachine);
  return rc;
}

static void makeTemplates(void) {
  static int bDone = 0;
  if (bDone) return;
  bDone = 1;
  memset(aBig, 'q', sizeof(aBig));
  memcpy(aBig, "big=", 4);
  for (int iMode = 0; iMode < 2; iMode++) {
    Ctx c;
    memset(&c, 0, sizeof(c));
    fuRemoveDb(tplPath(iMode));
    int rc = fuOpen(tplPath(iMode), FV_VFS, azMode[iMode], "EXTRA", 0, &c.db, &c.store);
    if (rc == SQLITE_OK) {
      raftlite_set_state_machine(c.store, &fuKvMachine);
      rc = makeTemplateState(&c);
    }
    if (rc != SQLITE_OK) {
      fprintf(stderr, "template %s: %d %s / %s\n", azMode[iMode], rc, sqlite3_errmsg(c.db),
              c.store ? raftlite_errmsg(c.store) : "");
      exit(2);
    }
    ctxClose(&c);
  }
}

/* The caller's transaction: BEGIN, a write of its own, a savepoint. */
#define CALLER_BEGIN "BEGIN; INSERT INTO note VALUES ('caller'); SAVEPOINT caller"
#define CALLER_END "RELEASE caller; COMMIT"

/* The store's states an operation may leave, as dumps. */
typedef struct Refs {
  char *zBeforeFull, *zAfterFull; /* on the connection, in the caller's txn */
  char *zBefore, *zAfter;         /* reopened (committed; receiving reclaimed) */
  char *zNoCaller;                /* reopened, the caller's txn rolled back */
} Refs;

static void refsFree(Refs *r) {
  sqlite3_free(r->zBeforeFull);
  sqlite3_free(r->zAfterFull);
  sqlite3_free(r->zBefore);
  sqlite3_free(r->zAfter);
  sqlite3_free(r->zNoCaller);
  memset(r, 0, sizeof(*r));
}

/* Reopens WORK (the fault disarmed): NULL and *pzDump set, or an error. */
static const char *reopenAndCheck(char **pzDump) {
  static char zErr[700];
  Ctx c;
  *pzDump = NULL;
  int rc = ctxOpen(&c, FV_VFS);
  if (rc != SQLITE_OK) {
    snprintf(zErr, sizeof(zErr), "reopen: %d %s", rc, sqlite3_errmsg(c.db));
    ctxClose(&c);
    return zErr;
  }
  const char *z = fuCheck(c.db);
  if (z) {
    snprintf(zErr, sizeof(zErr), "%s", z);
    ctxClose(&c);
    return zErr;
  }
  *pzDump = fuDump(c.db, 1);
  ctxClose(&c);
  return NULL;
}

static void makeRefs(const Op *op, int iMode, int bInTxn, Refs *r) {
  Ctx c;
  memset(r, 0, sizeof(*r));
  for (int bCall = 0; bCall < 2; bCall++) {
    fuCopyDb(tplPath(iMode), WORK);
    if (ctxOpen(&c, FV_VFS) != SQLITE_OK) FAIL("open: %s", sqlite3_errmsg(c.db));
    if (op->xPrep(&c) != SQLITE_OK) FAIL("%s: preparation failed: %s", op->zName, sqlite3_errmsg(c.db));
    if (bInTxn && execf(&c, CALLER_BEGIN) != SQLITE_OK) FAIL("caller: %s", sqlite3_errmsg(c.db));
    if (bCall) {
      int rc = op->xCall(&c);
      if (rc != SQLITE_OK) {
        FAIL("%s: %d %s", op->zName, rc, op->bSql ? sqlite3_errmsg(c.db) : raftlite_errmsg(c.store));
      }
    }
    char **pz = bCall ? &r->zAfterFull : &r->zBeforeFull;
    *pz = fuDump(c.db, op->bConsumes);
    if (bInTxn && execf(&c, CALLER_END) != SQLITE_OK) FAIL("caller: %s", sqlite3_errmsg(c.db));
    ctxClose(&c);
    const char *zErr = reopenAndCheck(bCall ? &r->zAfter : &r->zBefore);
    if (zErr) FAIL("%s without a fault: %s", op->zName, zErr);
  }
  if (strcmp(r->zBeforeFull, r->zAfterFull) == 0) FAIL("%s changes nothing: a useless case", op->zName);
  if (bInTxn) {
    fuCopyDb(tplPath(iMode), WORK);
    if (ctxOpen(&c, FV_VFS) != SQLITE_OK || op->xPrep(&c) != SQLITE_OK) FAIL("preparation");
    ctxClose(&c);
    const char *zErr = reopenAndCheck(&r->zNoCaller);
    if (zErr) FAIL("%s: %s", op->zName, zErr);
  }
}

/* The fault classes and the codes they return. */
typedef struct Fault {
  int eClass;
  int rc;
  int bInTxn; /* also in the caller's transaction in the default run (the
               ** classes that can strike before the caller's commit) */
} Fault;

static const Fault aFault[] = {
    {FV_READ, SQLITE_IOERR_READ, 1},
    {FV_WRITE, SQLITE_IOERR_WRITE, 0},
    {FV_WRITE, SQLITE_FULL, 1},
    {FV_SYNC, SQLITE_IOERR_FSYNC, 0},
    {FV_TRUNCATE, SQLITE_IOERR_TRUNCATE, 0},
    {FV_TRUNCATE, SQLITE_FULL, 0},
    {FV_LOCK, SQLITE_IOERR_LOCK, 0},
    {FV_FILESIZE, SQLITE_IOERR_FSTAT, 0},
    {FV_OPEN, SQLITE_CANTOPEN, 0},
    {FV_DELETE, SQLITE_IOERR_DELETE, 0},
    {FV_ACCESS, SQLITE_IOERR_ACCESS, 0},
    {FV_SHMMAP, SQLITE_IOERR_SHMMAP, 0},
};
#define NFAULT ((int)(sizeof(aFault) / sizeof(aFault[0])))

static int bLong = 0;

/* Figures for the end. */
static struct {
  long nRun, nFired, nFailed, nSucceededAnyway, nBroken, nCallerLost, nCommitUnknown;
  long nProblem;
  long aRunByClass[FV_NCLASS];
} fig;

/* Problems found, one line per distinct (op, message). */
static int nProblemPrinted = 0;
#define PROBLEM(...)                                                          \
  do {                                                                        \
    fig.nProblem++;                                                           \
    testFailed = 1;                                                           \
    if (nProblemPrinted++ < 60) {                                             \
      fprintf(stderr, "  %s/%s/%s%s/%s n=%ld: ", op->zName, azMode[iMode],    \
              fvClassName(f->eClass), f->rc == SQLITE_FULL ? "(full)" : "",   \
              bPersist ? "persist" : "once", n);                              \
      fprintf(stderr, __VA_ARGS__);                                           \
      fprintf(stderr, "%s\n", bInTxn ? " (in the caller's transaction)" : ""); \
    }                                                                         \
  } while (0)

/* Whether the handle refuses writes (probed with a write that changes
** nothing when it is accepted: the hard state as it is). */
static int handleRefusesWrites(Ctx *c) {
  raftlite_hard_state hs;
  int bFound;
  if (raftlite_read_hard_state(c->store, &hs, &bFound) != SQLITE_OK) return 0;
  return raftlite_save_hard_state(c->store, &hs) == SQLITE_IOERR;
}

/* One operation, one journal mode, one fault, one caller mode: every n. */
static void runFaultLoop(const Op *op, int iMode, const Fault *f, int bPersist, int bInTxn,
                         const Refs *r) {
  /* Every n in the long run; by default every n up to 6, then steps
  ** growing by half (the last n, where the call completes, is always
  ** reached: the loop ends when no fault fires). */
  for (long n = 1; n < 100000; n += (bLong || n < 6) ? 1 : n / 2) {
    Ctx c;
    fuCopyDb(tplPath(iMode), WORK);
    if (ctxOpen(&c, FV_VFS) != SQLITE_OK) FAIL("open: %s", sqlite3_errmsg(c.db));
    if (op->xPrep(&c) != SQLITE_OK) FAIL("%s: preparation failed", op->zName);
    if (bInTxn && execf(&c, CALLER_BEGIN) != SQLITE_OK) FAIL("caller: %s", sqlite3_errmsg(c.db));
    fvArm(f->eClass, n, bPersist, f->rc);
    int rc = op->xCall(&c);
    long nFired = fvDisarm();
    fig.nRun++;
    fig.aRunByClass[f->eClass]++;
    fig.nFired += nFired;
    const char *zMsg = op->bSql ? sqlite3_errmsg(c.db) : raftlite_errmsg(c.store);
    char zErr[300];
    snprintf(zErr, sizeof(zErr), "%s", zMsg ? zMsg : "");
    int bAuto = sqlite3_get_autocommit(c.db);
    char *zFull = fuDump(c.db, op->bConsumes);
    int bCallerLost = 0, bMayBeAfter = 0;
    if (nFired == 0 && rc != SQLITE_OK) {
      PROBLEM("failed with %d (%s) without a fault", rc, zErr);
    }
    if (rc == SQLITE_OK) {
      if (nFired) fig.nSucceededAnyway++;
      if (strcmp(zFull, r->zAfterFull) != 0) {
        PROBLEM("succeeded but the store is not as after the call: %s", fuDiff(zFull, r->zAfterFull));
      }
      if (bAuto != !bInTxn) PROBLEM("succeeded but autocommit is %d", bAuto);
    } else {
      fig.nFailed++;
      if ((rc & 0xff) == SQLITE_CONSTRAINT ||
          (!op->bSql && raftlite_violation(c.store) != RAFTLITE_NO_VIOLATION)) {
        PROBLEM("an I/O fault reported as a broken rule: %d %s", rc, zErr);
      }
      if (bInTxn && bAuto) {
        /* SQLite rolled the caller's transaction back (IOERR, FULL). */
        bCallerLost = 1;
        fig.nCallerLost++;
        if ((rc & 0xff) != SQLITE_IOERR && (rc & 0xff) != SQLITE_FULL &&
            (rc & 0xff) != SQLITE_CANTOPEN) {
          PROBLEM("the caller's transaction is gone after error %d (%s)", rc, zErr);
        }
      } else if (!bInTxn && !bAuto) {
        PROBLEM("failed with %d (%s) and left a transaction open", rc, zErr);
      }
      /* A failed commit (outside the caller's transaction) may or may not
      ** have reached the disk; the handle is then broken. */
      int bBroken = !op->bSql && !bInTxn && handleRefusesWrites(&c);
      if (bBroken) fig.nBroken++;
      if (!bInTxn && (rc & 0xff) == SQLITE_IOERR && f->eClass == FV_SYNC && !op->bSql && !bBroken) {
        PROBLEM("a failed sync (%d: %s) did not break the handle", rc, zErr);
      }
      bMayBeAfter = bBroken || (op->bSql && !bInTxn && (rc & 0xff) == SQLITE_IOERR);
      if (!bCallerLost && strcmp(zFull, r->zBeforeFull) != 0 &&
          !(bMayBeAfter && strcmp(zFull, r->zAfterFull) == 0)) {
        PROBLEM("failed with %d (%s) and the store is not as before: %s", rc, zErr,
                fuDiff(zFull, r->zBeforeFull));
      }
      if (bInTxn && !bAuto) {
        /* The caller's savepoint is still there, and its own write. */
        if (execf(&c, "RELEASE caller") != SQLITE_OK) {
          PROBLEM("the caller's savepoint is gone: %s", sqlite3_errmsg(c.db));
        } else if (sqlite3_get_autocommit(c.db)) {
          PROBLEM("the caller's transaction is gone");
        } else if (queryI64(c.db, "SELECT count(*) FROM note") != 1) {
          PROBLEM("the caller's write is gone");
        }
        execf(&c, "SAVEPOINT caller");
      }
    }
    sqlite3_free(zFull);
    if (bInTxn && !bCallerLost && execf(&c, CALLER_END) != SQLITE_OK) {
      PROBLEM("the caller's COMMIT failed: %s", sqlite3_errmsg(c.db));
    }
    ctxClose(&c);
    char *zDump = NULL;
    const char *zCheck = reopenAndCheck(&zDump);
    if (zCheck) {
      PROBLEM("after %s: %s", rc == SQLITE_OK ? "success" : "failure", zCheck);
    } else if (rc == SQLITE_OK) {
      if (strcmp(zDump, r->zAfter) != 0) {
        PROBLEM("a successful call is not in the store: %s", fuDiff(zDump, r->zAfter));
      }
    } else if (bCallerLost) {
      if (strcmp(zDump, r->zNoCaller) != 0) {
        PROBLEM("the caller's lost transaction left: %s", fuDiff(zDump, r->zNoCaller));
      }
    } else if (strcmp(zDump, r->zBefore) != 0) {
      if (bMayBeAfter && strcmp(zDump, r->zAfter) == 0) {
        fig.nCommitUnknown++;
      } else {
        PROBLEM("a failed call (%d: %s) changed the store: %s", rc, zErr, fuDiff(zDump, r->zBefore));
      }
    }
    sqlite3_free(zDump);
    if (nFired == 0) break;
  }
}

static void runOpFaults(const char *zOp) {
  makeTemplates();
  for (int i = 0; i < NOP; i++) {
    if (strcmp(aOp[i].zName, zOp) != 0) continue;
    const Op *op = &aOp[i];
    for (int iMode = 0; iMode < 2; iMode++) {
      for (int bInTxn = 0; bInTxn < 2; bInTxn++) {
        Refs r;
        makeRefs(op, iMode, bInTxn, &r);
        for (int iF = 0; iF < NFAULT; iF++) {
          const Fault *f = &aFault[iF];
          if (f->eClass == FV_SHMMAP && iMode == 0) continue;
          for (int bPersist = 1; bPersist >= 0; bPersist--) {
            if (!bLong && (!bPersist || (bInTxn && !f->bInTxn))) continue;
            runFaultLoop(op, iMode, f, bPersist, bInTxn, &r);
          }
        }
        refsFree(&r);
      }
    }
    return;
  }
  FAIL("no operation %s", zOp);
}

#define FAULT_TEST(name) \
  TEST(ioerr, name) { runOpFaults(#name); }

FAULT_TEST(saveHardState)
FAULT_TEST(appendToLog)
FAULT_TEST(deleteConflictLogsSince)
FAULT_TEST(purgeLogsUpto)
FAULT_TEST(applyToStateMachine)
FAULT_TEST(buildSnapshot)
FAULT_TEST(beginReceivingSnapshot)
FAULT_TEST(snapshotWrite)
FAULT_TEST(installSnapshot)
FAULT_TEST(getInitialStatePurges)
FAULT_TEST(installSnapshotIndexOnly)
FAULT_TEST(applyUpto)
FAULT_TEST(purgeUpto)
FAULT_TEST(beginSnapshot)
FAULT_TEST(commitSnapshot)
FAULT_TEST(sqlRaftAppend)
FAULT_TEST(sqlRaftAppendJson)
FAULT_TEST(sqlInsertRaftLog)
FAULT_TEST(sqlRaftTruncate)
FAULT_TEST(sqlRaftPurge)
FAULT_TEST(sqlRaftApply)
FAULT_TEST(sqlRaftSaveHardState)
FAULT_TEST(sqlRaftStateMachine)
FAULT_TEST(sqlSnapshotBuild)
FAULT_TEST(sqlSnapshotBegin)
FAULT_TEST(sqlSnapshotWrite)
FAULT_TEST(sqlSnapshotInstall)

/******************************************************************************
 * Busy
 *****************************************************************************/

/* What another connection holds while the call runs. */
enum { HOLD_READ, HOLD_WRITE };

static struct {
  long nRun, nBusy, nOkInCaller, nProblem;
} busyFig;

#define BPROBLEM(...)                                                         \
  do {                                                                        \
    busyFig.nProblem++;                                                       \
    testFailed = 1;                                                           \
    fprintf(stderr, "  %s/%s/%s%s%s: ", op->zName, azMode[iMode],             \
            eHold == HOLD_READ ? "reader" : "writer",                          \
            bTimeout ? "/timeout" : "", bInTxn ? "/in the caller's txn" : ""); \
    fprintf(stderr, __VA_ARGS__);                                             \
    fprintf(stderr, "\n");                                                    \
  } while (0)

/* A dump of WORK as a new connection sees it (receiving streams left
** out). */
static char *thirdDump(void) {
  sqlite3 *db = NULL;
  sqlite3_open_v2(WORK, &db, SQLITE_OPEN_READWRITE, FV_VFS);
  char *z = fuDump(db, 1);
  sqlite3_close(db);
  return z;
}

static void runBusyOp(const Op *op, int iMode, int eHold, int bTimeout, int bInTxn,
                      const Refs *r) {
  Ctx c;
  busyFig.nRun++;
  fuCopyDb(tplPath(iMode), WORK);
  if (ctxOpen(&c, FV_VFS) != SQLITE_OK) FAIL("open: %s", sqlite3_errmsg(c.db));
  if (op->xPrep(&c) != SQLITE_OK) FAIL("%s: preparation failed", op->zName);
  if (bTimeout) sqlite3_busy_timeout(c.db, 20);
  /* Against a writer the caller's own write comes once the lock is free. */
  int bLateNote = bInTxn && eHold == HOLD_WRITE;
  if (bInTxn && execf(&c, bLateNote ? "BEGIN; SAVEPOINT caller" : CALLER_BEGIN) != SQLITE_OK) {
    FAIL("caller: %s", sqlite3_errmsg(c.db));
  }
  char *zBefore = fuDump(c.db, op->bConsumes);
  char *zThirdBefore = thirdDump();

  sqlite3 *pOther = NULL;
  sqlite3_open_v2(WORK, &pOther, SQLITE_OPEN_READWRITE, FV_VFS);
  const char *zHold = eHold == HOLD_READ ? "BEGIN; SELECT count(*) FROM raftlite_log"
                                         : "BEGIN IMMEDIATE";
  if (sqlite3_exec(pOther, zHold, NULL, NULL, NULL) != SQLITE_OK) {
    FAIL("%s: %s", zHold, sqlite3_errmsg(pOther));
  }

  int rc = op->xCall(&c);
  char zErr[300];
  const char *zMsg = op->bSql ? sqlite3_errmsg(c.db) : raftlite_errmsg(c.store);
  snprintf(zErr, sizeof(zErr), "%s", zMsg ? zMsg : "");
  int bRetry = 1;
  if (rc == SQLITE_OK && bInTxn && eHold == HOLD_READ) {
    /* Inside the caller's transaction the commit is the caller's: the call
    ** needs no more than the reserved lock, which a reader allows. */
    busyFig.nOkInCaller++;
    bRetry = 0;
  } else if ((rc & 0xff) != SQLITE_BUSY) {
    BPROBLEM("returned %d (%s), expected SQLITE_BUSY", rc, zErr);
  } else {
    busyFig.nBusy++;
    if (sqlite3_get_autocommit(c.db) != !bInTxn) {
      BPROBLEM("failed with SQLITE_BUSY and left autocommit %d (%s)",
               sqlite3_get_autocommit(c.db), bInTxn ? "the caller's transaction is gone"
                                                    : "a transaction is left open");
    }
    char *zFull = fuDump(c.db, op->bConsumes);
    if (strcmp(zFull, zBefore) != 0) {
      BPROBLEM("failed with SQLITE_BUSY but changed the store: %s", fuDiff(zFull, zBefore));
    }
    sqlite3_free(zFull);
    if (bInTxn && !sqlite3_get_autocommit(c.db)) {
      if (execf(&c, "RELEASE caller; SAVEPOINT caller") != SQLITE_OK) {
        BPROBLEM("the caller's savepoint is gone: %s", sqlite3_errmsg(c.db));
      } else if (queryI64(c.db, "SELECT count(*) FROM note") != !bLateNote) {
        BPROBLEM("the caller's write is gone");
      }
    }
  }
  /* Nothing of a failed call (nor of the caller's open transaction) is
  ** visible to others; a read lock is enough to look. */
  if (eHold == HOLD_READ || iMode == 1) {
    char *zThird = thirdDump();
    if (strcmp(zThird, zThirdBefore) != 0) {
      BPROBLEM("another connection sees a change: %s", fuDiff(zThird, zThirdBefore));
    }
    sqlite3_free(zThird);
  }

  /* The other connection ends; the same call goes through and is
  ** durable. A failed install consumed its stream: prepare again. */
  sqlite3_exec(pOther, "COMMIT", NULL, NULL, NULL);
  sqlite3_close(pOther);
  if (bLateNote && execf(&c, "INSERT INTO note VALUES ('caller')") != SQLITE_OK) {
    BPROBLEM("the caller's write after the lock: %s", sqlite3_errmsg(c.db));
  }
  if (bRetry) {
    if (op->bConsumes && (op->xPrep(&c) != SQLITE_OK)) BPROBLEM("preparing again failed");
    rc = op->xCall(&c);
    if (rc != SQLITE_OK) {
      BPROBLEM("the call after the lock was released failed: %d %s", rc,
               op->bSql ? sqlite3_errmsg(c.db) : raftlite_errmsg(c.store));
    }
  }
  if (bInTxn && execf(&c, CALLER_END) != SQLITE_OK) {
    BPROBLEM("the caller's COMMIT failed: %s", sqlite3_errmsg(c.db));
  }
  if (sqlite3_get_autocommit(c.db) != 1) BPROBLEM("a transaction is left open after success");
  char *zThird = thirdDump();
  if (op->bConsumes ? strcmp(zThird, zThirdBefore) == 0 : strcmp(zThird, r->zAfter) != 0) {
    BPROBLEM("a new connection does not see the call: %s", fuDiff(zThird, r->zAfter));
  }
  sqlite3_free(zThird);
  ctxClose(&c);
  char *zDump = NULL;
  const char *zCheck = reopenAndCheck(&zDump);
  if (zCheck) BPROBLEM("reopened: %s", zCheck);
  sqlite3_free(zDump);
  sqlite3_free(zBefore);
  sqlite3_free(zThirdBefore);
}

static void runBusy(int iMode, int eHold, int bTimeout, int bInTxn) {
  makeTemplates();
  for (int i = 0; i < NOP; i++) {
    Refs r;
    makeRefs(&aOp[i], iMode, bInTxn, &r);
    runBusyOp(&aOp[i], iMode, eHold, bTimeout, bInTxn, &r);
    refsFree(&r);
  }
}

/* Another writer that finishes while the call waits: a call that opens
** its own transaction takes the write lock first, so the busy handler runs
** and the call goes through. (A transaction that read first could not wait:
** SQLite runs no busy handler when a reader must become a writer, and the
** call would fail with SQLITE_BUSY whatever the timeout.) The handler ends
** the other writer on its first call. */
typedef struct BusyWait {
  sqlite3 *pOther;
  int nCalls;
} BusyWait;

static int busyWaitHandler(void *pArg, int nPrior) {
  BusyWait *w = pArg;
  (void)nPrior;
  if (w->nCalls++ == 0) sqlite3_exec(w->pOther, "COMMIT", NULL, NULL, NULL);
  return w->nCalls < 100;
}

static void runBusyWaitOp(const Op *op, int iMode, const Refs *r) {
  const int eHold = HOLD_WRITE, bTimeout = 1, bInTxn = 0; /* for BPROBLEM */
  Ctx c;
  busyFig.nRun++;
  fuCopyDb(tplPath(iMode), WORK);
  if (ctxOpen(&c, FV_VFS) != SQLITE_OK) FAIL("open: %s", sqlite3_errmsg(c.db));
  if (op->xPrep(&c) != SQLITE_OK) FAIL("%s: preparation failed", op->zName);
  char *zThirdBefore = thirdDump();
  BusyWait w = {NULL, 0};
  sqlite3_open_v2(WORK, &w.pOther, SQLITE_OPEN_READWRITE, FV_VFS);
  if (sqlite3_exec(w.pOther, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
    FAIL("BEGIN IMMEDIATE: %s", sqlite3_errmsg(w.pOther));
  }
  sqlite3_busy_handler(c.db, busyWaitHandler, &w);
  int rc = op->xCall(&c);
  sqlite3_busy_handler(c.db, NULL, NULL);
  if (rc != SQLITE_OK) {
    BPROBLEM("returned %d (%s) although the other writer finished in the busy handler", rc,
             op->bSql ? sqlite3_errmsg(c.db) : raftlite_errmsg(c.store));
  } else if (w.nCalls == 0) {
    BPROBLEM("succeeded without waiting for the other writer");
  }
  if (sqlite3_get_autocommit(c.db) != 1) BPROBLEM("a transaction is left open");
  sqlite3_close(w.pOther);
  char *zThird = thirdDump();
  if (rc == SQLITE_OK &&
      (op->bConsumes ? strcmp(zThird, zThirdBefore) == 0 : strcmp(zThird, r->zAfter) != 0)) {
    BPROBLEM("a new connection does not see the call: %s", fuDiff(zThird, r->zAfter));
  }
  sqlite3_free(zThird);
  sqlite3_free(zThirdBefore);
  ctxClose(&c);
}

static void runBusyWait(int iMode) {
  makeTemplates();
  for (int i = 0; i < NOP; i++) {
    Refs r;
    makeRefs(&aOp[i], iMode, 0, &r);
    runBusyWaitOp(&aOp[i], iMode, &r);
    refsFree(&r);
  }
}

TEST(busy, waitsForWriterDelete) { runBusyWait(0); }
TEST(busy, waitsForWriterWal) { runBusyWait(1); }

/* Rollback journal, a reader as the call commits: the commit cannot get
** its exclusive lock. */
TEST(busy, readerAtCommit) { runBusy(0, HOLD_READ, 0, 0); }
TEST(busy, readerAtCommitTimeout) { runBusy(0, HOLD_READ, 1, 0); }
TEST(busy, readerInCallerTxn) { runBusy(0, HOLD_READ, 0, 1); }
/* Another writer: no write lock for the call. */
TEST(busy, writerDelete) { runBusy(0, HOLD_WRITE, 0, 0); }
TEST(busy, writerDeleteTimeout) { runBusy(0, HOLD_WRITE, 1, 0); }
TEST(busy, writerDeleteInCallerTxn) { runBusy(0, HOLD_WRITE, 0, 1); }
TEST(busy, writerWal) { runBusy(1, HOLD_WRITE, 0, 0); }
TEST(busy, writerWalTimeout) { runBusy(1, HOLD_WRITE, 1, 0); }
TEST(busy, writerWalInCallerTxn) { runBusy(1, HOLD_WRITE, 0, 1); }

/******************************************************************************
 * Main
 *****************************************************************************/

static void *setUpFault(void) {
  fvRegister();
  fvNoSync(1);
  return NULL;
}

int main(int argc, char **argv) {
  bLong = getenv("RAFTLITE_FAULT_LONG") && atoi(getenv("RAFTLITE_FAULT_LONG"));
  int rc = runTests(argc, argv, setUpFault, NULL);
  printf("fault: %ld runs, %ld faults injected, %ld calls failed, %ld succeeded despite a"
         " fault, %ld handles broken by a failed commit (%ld of those commits reached the"
         " disk), %ld caller transactions rolled back by SQLite, %ld problems\n",
         fig.nRun, fig.nFired, fig.nFailed, fig.nSucceededAnyway, fig.nBroken,
         fig.nCommitUnknown, fig.nCallerLost, fig.nProblem);
  printf("busy: %ld calls against a held lock, %ld failed with SQLITE_BUSY, %ld succeeded"
         " inside the caller's transaction (a reader does not block them), %ld problems\n",
         busyFig.nRun, busyFig.nBusy, busyFig.nOkInCaller, busyFig.nProblem);
  printf("fault: runs by class:");
  for (int i = 0; i < FV_NCLASS; i++) printf(" %s %ld", fvClassName(i), fig.aRunByClass[i]);
  printf("\n");
  fuRemoveDb(WORK);
  return rc;
}
