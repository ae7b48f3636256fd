/*
** test_powerloss.c — power loss at every sync point of a workload of
** acknowledged calls (faultvfs.h models the disk).
**
** A workload of 28 mutating calls (C API and SQL functions: hard state,
** appends of up to 150 KiB, applies with a key-value state machine,
** truncation, purges, a snapshot built, one received in three writes and
** installed) runs once without a crash: the dump of the store after each
** call is the reference. Then, for every k, it runs again on a copy of the
** same starting database and the power is cut just before the kth xSync
** (and, for every call, right after it returned; and once at the end). The
** crash image is written to disk and reopened with the plain VFS:
**   - PRAGMA integrity_check and raft_check() say ok;
**   - the store holds every acknowledged call, and of the call in flight
**     either nothing or all: its dump equals the reference after the last
**     acknowledged call or after the call in flight. A dump equal to an
**     earlier reference is a loss (counted); any other is a torn state.
** Each crash is simulated with every unsynced write lost, and again (two
** seeds) with some kept and some torn.
**
** Variants: rollback journal DELETE with synchronous EXTRA, TRUNCATE and
** PERSIST with FULL, WAL with FULL: no loss allowed. Two controls must
** lose acknowledged calls, or the harness cannot see losses and the test
** fails: WAL with synchronous NORMAL, and DELETE with FULL, both settings
** raftlite refuses unless the store is opened with RAFTLITE_OPEN_RELAXED
** (the SQL steps are then made through the C API, since the SQL functions
** accept durable settings only).
**
** DELETE with FULL loses: SQLite commits by unlinking the journal and syncs
** the directory after the unlink only with synchronous=EXTRA (xDelete's
** dirSync); until the directory is synced again, a power cut brings the
** journal back, hot, and the next open rolls the acknowledged call back.
**
** argv[1] filters the variants as harness.h does; RAFTLITE_POWERLOSS_SEEDS
** sets the number of torn seeds per crash point (2);
** RAFTLITE_POWERLOSS_VERBOSE=1 prints every loss.
**
** RAFTLITE_POWERLOSS_CHECKPOINTER=1 runs the WAL variants with the
** background checkpointer (docs/checkpointer.md) on the store, through
** serialvfs.h (faultvfs is for one thread): PASSIVE checkpoints every 8
** frames, the writer's wal_autocheckpoint at 32, and a TRUNCATE after 3 ms
** without a commit, which pauses of 8 ms before some calls let it run. Its
** syncs are crash points like the writer's (their number varies from run
** to run). A call that meets the TRUNCATE fails with SQLITE_BUSY and
** changes nothing (include/raftlite.h): it is made again. CTest's
** c.test_powerloss_checkpointer.
*/
#define _POSIX_C_SOURCE 200809L

#include <unistd.h>

#include <time.h>

#include "faultutil.h"
#include "faultvfs.h"
#include "harness.h"
#include "serialvfs.h"

#define NCALL 28
#define TEMPLATE "powerloss-template.db"
#define WORK "powerloss.db"

/* A variant of the settings. */
typedef struct Variant {
  const char *zName;
  const char *zJournal; /* journal_mode */
  const char *zSync;    /* synchronous */
  int flags;            /* raftlite_open_v2 */
  int bControl;         /* must lose */
} Variant;

/* The workload's state between calls. */
typedef struct Wl {
  sqlite3 *db;
  raftlite *store;
  raftlite_snapshot *pRecv; /* the receiving stream */
  int bNoSql;               /* the C API only */
  raftlite_checkpointer *pCkpt; /* RAFTLITE_POWERLOSS_CHECKPOINTER */
} Wl;

/* RAFTLITE_POWERLOSS_CHECKPOINTER: a checkpointer on WAL runs. */
static int bCheckpointer = 0;
static int bWatch = 0; /* RAFTLITE_POWERLOSS_WATCH: the store through the raftlite VFS */

/* faultvfs's state is shared with the checkpointer's thread: the test's own
** calls into it take serialvfs's mutex (a no-op cost without the thread). */
static void crashNow(void) {
  svLock();
  fvCrashNow();
  svUnlock();
}
static int crashed(void) {
  svLock();
  int b = fvCrashed();
  svUnlock();
  return b;
}
static long syncs(void) {
  svLock();
  long n = fvSyncs();
  svUnlock();
  return n;
}
static void crashAtSync(long k) {
  svLock();
  fvCrashAtSync(k);
  svUnlock();
}

/* The payload of entry idx: "k<idx>=" and a value of a size that varies
** (two entries over 64 KiB); blank for some. */
static size_t payloadOf(uint64_t idx, char **pz) {
  size_t nVal = idx == 3 ? 70000 : idx == 7 ? 150000 : 8 + idx * 13 % 200;
  char *z = malloc(nVal + 32);
  int n = snprintf(z, 32, "k%llu=", (unsigned long long)idx);
  for (size_t i = 0; i < nVal; i++) z[n + i] = (char)('a' + (idx * 7 + i * 31 + i / 97) % 26);
  *pz = z;
  return (size_t)n + nVal;
}

/* Appends entries lo..hi of one term (1: membership; multiples of 5:
** blank). */
static int appendRange(Wl *w, uint64_t term, uint64_t lo, uint64_t hi) {
  raftlite_entry a[16];
  char *az[16];
  memset(a, 0, sizeof(a));
  size_t n = 0;
  for (uint64_t i = lo; i <= hi; i++, n++) {
    a[n].log_id.term = term;
    a[n].log_id.index = i;
    az[n] = NULL;
    if (i == 1) {
      a[n].kind = RAFTLITE_MEMBERSHIP;
      a[n].data = "[[1,2,3]]";
      a[n].size = 9;
    } else if (i % 5 == 0) {
      a[n].kind = RAFTLITE_BLANK;
      a[n].data = NULL;
      a[n].size = 0;
    } else {
      a[n].kind = RAFTLITE_NORMAL;
      a[n].size = payloadOf(i, &az[n]);
      a[n].data = az[n];
    }
  }
  int rc = raftlite_append_to_log(w->store, a, n);
  for (size_t i = 0; i < n; i++) free(az[i]);
  return rc;
}

/* Applies the log's entries lo..hi. */
static int applyRange(Wl *w, uint64_t lo, uint64_t hi) {
  raftlite_entries ents;
  int rc = raftlite_try_get_log_entries(w->store, lo, hi + 1, &ents);
  if (rc != SQLITE_OK) return rc;
  raftlite_responses resp;
  rc = raftlite_apply_to_state_machine(w->store, ents.a, ents.n, &resp);
  if (rc == SQLITE_OK) raftlite_responses_free(&resp);
  raftlite_entries_free(&ents);
  return rc;
}

static int appendOne(Wl *w, uint64_t term, uint64_t idx, raftlite_kind kind, const void *a,
                     size_t n) {
  raftlite_entry e = {{term, idx}, kind, a, n};
  return raftlite_append_to_log(w->store, &e, 1);
}

static int saveHardState(Wl *w, uint64_t term, int bVote, uint64_t vote) {
  raftlite_hard_state hs = {term, bVote, vote};
  return raftlite_save_hard_state(w->store, &hs);
}

static int execSql(Wl *w, const char *zSql) {
  return sqlite3_exec(w->db, zSql, NULL, NULL, NULL);
}

/* Call i of the workload. */
static int call(Wl *w, int i) {
  switch (i) {
    case 0: return saveHardState(w, 1, 1, 1);
    case 1: return appendRange(w, 1, 1, 2);
    case 2: return appendRange(w, 1, 3, 3); /* 70 KiB */
    case 3: return appendRange(w, 1, 4, 8);
    case 4: return applyRange(w, 1, 3);
    case 5: return saveHardState(w, 2, 1, 2);
    case 6: return raftlite_delete_conflict_logs_since(w->store, (raftlite_log_id){1, 6});
    case 7: return appendRange(w, 2, 6, 7); /* 150 KiB */
    case 8: return applyRange(w, 4, 6);
    case 9: return raftlite_purge_logs_upto(w->store, (raftlite_log_id){1, 3});
    case 10: {
      raftlite_snapshot_meta meta;
      raftlite_snapshot *s = NULL;
      int rc = raftlite_build_snapshot(w->store, &meta, &s);
      if (rc == SQLITE_OK) {
        raftlite_snapshot_close(s);
        raftlite_snapshot_meta_free(&meta);
      }
      return rc;
    }
    case 11: return appendRange(w, 2, 8, 10);
    case 12: return raftlite_begin_receiving_snapshot(w->store, &w->pRecv);
    case 13: return raftlite_snapshot_write(w->pRecv, "x=1\ny=2\n", 8);
    case 14: {
      char *z = NULL;
      size_t n = payloadOf(7, &z); /* a 150 KiB line */
      z[n] = '\n';
      int rc = raftlite_snapshot_write(w->pRecv, z, n + 1);
      free(z);
      return rc;
    }
    case 15: return raftlite_snapshot_write(w->pRecv, "z=3\n", 4);
    case 16: {
      raftlite_snapshot_meta meta;
      memset(&meta, 0, sizeof(meta));
      meta.last_log_id = (raftlite_log_id){2, 9};
      strcpy(meta.snapshot_id, "leader-2-9");
      meta.has_membership = 1;
      meta.membership_log_id = (raftlite_log_id){1, 1};
      meta.membership_json = "[[1,2,3]]";
      raftlite_sm_changes ch;
      raftlite_snapshot *s = w->pRecv;
      w->pRecv = NULL; /* install's, whatever happens */
      return raftlite_install_snapshot(w->store, &meta, s, &ch);
    }
    case 17: return appendRange(w, 2, 11, 11);
    case 18: return applyRange(w, 10, 11);
    case 19: return saveHardState(w, 3, 0, 0);
    /* The SQL functions; a relaxed store (the control) cannot use them
    ** (they accept durable settings only): the same calls in C there. */
    case 20:
      if (w->bNoSql) return appendOne(w, 3, 12, RAFTLITE_NORMAL, "sql=1", 5);
      return execSql(w, "SELECT raft_append(12, 3, 'normal', 'sql=1')");
    case 21:
      if (w->bNoSql) {
        static const char aZero[100000];
        raftlite_entry a[2] = {{{3, 13}, RAFTLITE_BLANK, NULL, 0},
                               {{3, 14}, RAFTLITE_NORMAL, aZero, sizeof(aZero)}};
        return raftlite_append_to_log(w->store, a, 2); /* one call, as the INSERT */
      }
      return execSql(w, "INSERT INTO raft_log VALUES (13, 3, 'blank', NULL),"
                        " (14, 3, 'normal', zeroblob(100000))");
    case 22:
      if (w->bNoSql) return applyRange(w, 12, 13);
      return execSql(w, "SELECT raft_apply(13)");
    case 23:
      if (w->bNoSql) return raftlite_purge_logs_upto(w->store, (raftlite_log_id){3, 12});
      return execSql(w, "SELECT raft_purge(12)");
    case 24:
      if (w->bNoSql) return raftlite_delete_conflict_logs_since(w->store, (raftlite_log_id){3, 14});
      return execSql(w, "SELECT raft_truncate(14)");
    case 25:
      if (w->bNoSql) return saveHardState(w, 4, 1, 3);
      return execSql(w, "SELECT raft_save_hard_state(4, 3)");
    case 26:
      if (w->bNoSql) {
        raftlite_entry a[2] = {{{4, 14}, RAFTLITE_BLANK, NULL, 0}, {{4, 15}, RAFTLITE_NORMAL, "q=1", 3}};
        return raftlite_append_to_log(w->store, a, 2);
      }
      return execSql(w, "SELECT raft_append('[{\"idx\":14,\"term\":4,\"kind\":\"blank\"},"
                        "{\"idx\":15,\"term\":4,\"kind\":\"normal\",\"payload\":\"q=1\"}]')");
    case 27: return appendRange(w, 4, 16, 16);
  }
  return SQLITE_MISUSE;
}

/* The starting database of every run: a store with a kv table. */
static void makeTemplate(const Variant *v) {
  sqlite3 *db;
  raftlite *store;
  fuRemoveDb(TEMPLATE);
  int rc = fuOpen(TEMPLATE, NULL, v->zJournal, v->zSync, v->flags, &db, &store);
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, "CREATE TABLE kv(k TEXT PRIMARY KEY, v)", 0, 0, 0);
  if (rc != SQLITE_OK) FAIL("template: %d %s", rc, sqlite3_errmsg(db));
  fuClose(&db, &store);
}

/* Opens the work copy: through zVfs for a run; with the plain VFS
** (zVfs NULL) to check a crash image, without syncs, which only slow the
** check down (nothing is written after it). */
static int openWork(const Variant *v, const char *zVfs, Wl *w) {
  memset(w, 0, sizeof(*w));
  /* Only WAL is remembered by the file: set the mode on every open. */
  if (zVfs && bCheckpointer) zVfs = SV_VFS;
  if (zVfs && bWatch) zVfs = RAFTLITE_VFS; /* over FV_VFS (setUpPl) */
  int rc = zVfs ? fuOpen(WORK, zVfs, v->zJournal, v->zSync, v->flags, &w->db, &w->store)
                : fuOpen(WORK, NULL, v->zJournal, "OFF", RAFTLITE_OPEN_RELAXED, &w->db, &w->store);
  if (rc == SQLITE_OK && zVfs && bWatch) rc = fuCheckVfs(w->db, "raftlite/");
  if (rc == SQLITE_OK) raftlite_set_state_machine(w->store, &fuKvMachine);
  w->bNoSql = (v->flags & RAFTLITE_OPEN_RELAXED) != 0;
  if (rc == SQLITE_OK && zVfs && bCheckpointer && strcmp(v->zJournal, "WAL") == 0) {
    sqlite3_busy_timeout(w->db, 5000);
    raftlite_checkpointer_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.wal_frames = 8;
    cfg.writer_autocheckpoint = 32;
    cfg.idle_ms = 3;
    cfg.poll_ms = 1;
    cfg.flags = RAFTLITE_CHECKPOINTER_SET_WRITER_AUTOCHECKPOINT;
    rc = raftlite_checkpointer_start(w->store, &cfg, &w->pCkpt);
  }
  return rc;
}

/* Stops the checkpointer first (its result: SQLITE_OK, or the I/O error a
** crash gave it), then closes. */
static int closeWork(Wl *w) {
  int rc = raftlite_checkpointer_stop(w->pCkpt);
  raftlite_checkpointer_free(w->pCkpt);
  w->pCkpt = NULL;
  raftlite_snapshot_close(w->pRecv);
  w->pRecv = NULL;
  fuClose(&w->db, &w->store);
  return rc;
}

/* Call i, with the checkpointer: some calls after a pause in which its
** idle TRUNCATE runs, and a call that met the TRUNCATE (SQLITE_BUSY,
** nothing changed) made again. Install closes its stream whatever
** happens: it cannot be made again, and no pause precedes it. */
static int callWork(Wl *w, int i) {
  if (w->pCkpt == NULL) return call(w, i);
  if (i % 7 == 3) {
    struct timespec ts = {0, 8000000L};
    nanosleep(&ts, NULL);
  }
  int rc = call(w, i);
  for (int nTry = 0; (rc & 0xff) == SQLITE_BUSY && i != 16 && !crashed() && nTry < 100; nTry++) {
    rc = call(w, i);
  }
  return rc;
}

/* Figures of all variants, printed at the end. */
static struct {
  long nRun, nLoss, nTornState;
} totals;

/* One variant: the reference run, then a crash at every point. */
static void runVariant(const Variant *v) {
  makeTemplate(v);
  char *azRef[NCALL + 1];
  long aSyncAfter[NCALL];
  Wl w;

  /* The reference, through the VFS (counting syncs), without a crash. */
  fuCopyDb(TEMPLATE, WORK);
  fvTrack(1);
  if (openWork(v, FV_VFS, &w) != SQLITE_OK) FAIL("open: %s", sqlite3_errmsg(w.db));
  long nSync0 = syncs();
  azRef[0] = fuDump(w.db, 1);
  for (int i = 0; i < NCALL; i++) {
    int rc = callWork(&w, i);
    if (rc != SQLITE_OK) {
      FAIL("reference call %d: %d %s", i, rc,
           raftlite_errmsg(w.store) ? raftlite_errmsg(w.store) : sqlite3_errmsg(w.db));
    }
    aSyncAfter[i] = syncs() - nSync0;
    azRef[i + 1] = fuDump(w.db, 1);
  }
  long nSync = syncs() - nSync0;
  raftlite_checkpointer_stats st;
  memset(&st, 0, sizeof(st));
  if (w.pCkpt) raftlite_checkpointer_get_stats(w.pCkpt, &st);
  int rcCkpt = closeWork(&w);
  if (rcCkpt != SQLITE_OK) FAIL("the checkpointer of the reference run failed: %d", rcCkpt);
  if (bCheckpointer && strcmp(v->zJournal, "WAL") == 0) {
    printf("  %s, reference run: the checkpointer made %llu PASSIVE and %llu TRUNCATE"
           " checkpoints, copied %llu frames\n",
           v->zName, (unsigned long long)st.n_passive, (unsigned long long)st.n_truncate,
           (unsigned long long)st.n_frames);
    if (st.n_passive == 0 || st.n_truncate == 0) FAIL("the checkpointer did not run");
  }
  fvMaterialize();
  fvTrack(0);

  int nSeed = 2;
  if (getenv("RAFTLITE_POWERLOSS_SEEDS")) nSeed = atoi(getenv("RAFTLITE_POWERLOSS_SEEDS"));
  long nRun = 0, nLoss = 0, nTornState = 0, nMaxLost = 0;
  char zFirst[1024] = "";
  /* Crash points: 1..nSync before the kth sync; then after call j
  ** returned (nSync + 1 + j); the last one is after the workload. */
  long nPoint = nSync + NCALL;
  for (long iPoint = 1; iPoint <= nPoint; iPoint++) {
    long iAfterCall = iPoint > nSync ? iPoint - nSync - 1 : -1;
    for (int iSeed = 0; iSeed <= nSeed; iSeed++) {
      int ePolicy = iSeed == 0 ? FV_DROP : iSeed % 2 ? FV_TORN : FV_KEEP_SOME;
      fuCopyDb(TEMPLATE, WORK);
      fvTrack(1);
      fvCrashPolicy(ePolicy, (unsigned)(iPoint * 7919 + iSeed * 104729 + 1));
      if (openWork(v, FV_VFS, &w) != SQLITE_OK) FAIL("open: %s", sqlite3_errmsg(w.db));
      if (iAfterCall < 0) crashAtSync(syncs() + iPoint);
      int nAck = 0;
      for (int i = 0; i < NCALL && !crashed(); i++) {
        if (callWork(&w, i) != SQLITE_OK) break;
        nAck = i + 1;
        if (i == iAfterCall) crashNow();
      }
      crashNow(); /* when the workload ended first */
      closeWork(&w);
      if (fvMaterialize() != SQLITE_OK) FAIL("cannot write the crash image");
      fvTrack(0);
      nRun++;

      /* Reopened with the plain VFS, as after a reboot. */
      int rc = openWork(v, NULL, &w);
      if (rc != SQLITE_OK) FAIL("point %ld seed %d: reopen: %d %s", iPoint, iSeed, rc, sqlite3_errmsg(w.db));
      const char *zCheck = fuCheck(w.db);
      if (zCheck) FAIL("point %ld seed %d (%d acknowledged): %s", iPoint, iSeed, nAck, zCheck);
      char *zDump = fuDump(w.db, 1);
      int bOk = strcmp(zDump, azRef[nAck]) == 0 ||
                (nAck < NCALL && strcmp(zDump, azRef[nAck + 1]) == 0);
      if (!bOk) {
        int iFound = -1;
        for (int m = nAck - 1; m >= 0 && iFound < 0; m--) {
          if (strcmp(zDump, azRef[m]) == 0) iFound = m;
        }
        if (iFound >= 0) {
          nLoss++;
          if (nAck - iFound > nMaxLost) nMaxLost = nAck - iFound;
        } else {
          nTornState++;
        }
        if (getenv("RAFTLITE_POWERLOSS_VERBOSE")) {
          fprintf(stderr, "  point %ld seed %d: %d acknowledged, %s: %s\n", iPoint, iSeed, nAck,
                  iFound >= 0 ? "a loss" : "no state of the workload", fuDiff(zDump, azRef[nAck]));
        }
        if (zFirst[0] == 0) {
          snprintf(zFirst, sizeof(zFirst),
                   "crash point %ld (%s), policy %d: %d calls acknowledged, the store %s; %s",
                   iPoint, iAfterCall < 0 ? "before a sync" : "after a call", ePolicy, nAck,
                   iFound >= 0 ? "is as after fewer calls" : "matches no state of the workload",
                   fuDiff(zDump, azRef[nAck]));
          if (iFound >= 0) {
            size_t n = strlen(zFirst);
            snprintf(zFirst + n, sizeof(zFirst) - n, " (as after %d calls)", iFound);
          }
        }
      }
      sqlite3_free(zDump);
      closeWork(&w);
      if (ePolicy == FV_DROP && iPoint > nSync) break; /* no unsynced bytes to tear */
    }
  }
  for (int i = 0; i <= NCALL; i++) sqlite3_free(azRef[i]);
  fuRemoveDb(WORK);
  fuRemoveDb(TEMPLATE);
  printf("  %s: %ld syncs, %ld crashes, %ld acknowledged-call losses (at most %ld calls),"
         " %ld states matching no call\n",
         v->zName, nSync, nRun, nLoss, nMaxLost, nTornState);
  totals.nRun += nRun;
  totals.nLoss += v->bControl ? 0 : nLoss;
  totals.nTornState += nTornState;
  (void)aSyncAfter;
  if (v->bControl) {
    if (nLoss == 0) FAIL("the control lost nothing: the harness cannot see losses");
    if (nTornState) FAIL("%ld states matching no call: %s", nTornState, zFirst);
  } else if (nLoss || nTornState) {
    FAIL("%ld losses, %ld torn states; first: %s", nLoss, nTornState, zFirst);
  }
}

/* raftlite refuses DELETE with FULL (see above): run relaxed, it is a
** second control, which shows why. */
static const Variant vDeleteFull = {"DELETE/FULL (relaxed: refused otherwise)", "DELETE", "FULL",
                                    RAFTLITE_OPEN_RELAXED, 1};
static const Variant vDeleteExtra = {"DELETE/EXTRA", "DELETE", "EXTRA", 0, 0};
static const Variant vTruncateFull = {"TRUNCATE/FULL", "TRUNCATE", "FULL", 0, 0};
static const Variant vPersistFull = {"PERSIST/FULL", "PERSIST", "FULL", 0, 0};
static const Variant vWalFull = {"WAL/FULL", "WAL", "FULL", 0, 0};
static const Variant vControl = {"WAL/NORMAL (control)", "WAL", "NORMAL", RAFTLITE_OPEN_RELAXED, 1};

TEST(powerloss, deleteFullControl) { runVariant(&vDeleteFull); }

/* The setting the control above shows unsafe is refused. */
TEST(powerloss, deleteFullRefused) {
  sqlite3 *db;
  raftlite *store;
  fuRemoveDb(WORK);
  int rc = fuOpen(WORK, NULL, "DELETE", "FULL", 0, &db, &store);
  fuClose(&db, &store);
  fuRemoveDb(WORK);
  ASSERT_INT(rc, SQLITE_MISUSE);
}
TEST(powerloss, deleteExtra) { runVariant(&vDeleteExtra); }
TEST(powerloss, truncateFull) { runVariant(&vTruncateFull); }
TEST(powerloss, persistFull) { runVariant(&vPersistFull); }
TEST(powerloss, walFull) { runVariant(&vWalFull); }
TEST(powerloss, walNormalControl) { runVariant(&vControl); }

static void *setUpPl(void) {
  fvRegister();
  svRegister();
  /* The settings watch stacked on the disk model: it must change nothing
  ** of what a power cut leaves. */
  if (bWatch && raftlite_vfs_register(FV_VFS) != SQLITE_OK) {
    fprintf(stderr, "raftlite_vfs_register(%s) failed\n", FV_VFS);
    exit(2);
  }
  return NULL;
}

int main(int argc, char **argv) {
  bCheckpointer = getenv("RAFTLITE_POWERLOSS_CHECKPOINTER") &&
                  atoi(getenv("RAFTLITE_POWERLOSS_CHECKPOINTER"));
  bWatch = getenv("RAFTLITE_POWERLOSS_WATCH") && atoi(getenv("RAFTLITE_POWERLOSS_WATCH"));
  if (bWatch) printf("powerloss: the store opened through the raftlite VFS\n");
  int rc = runTests(argc, argv, setUpPl, NULL);
  printf("powerloss: %ld crashes simulated, %ld writes dropped, %ld kept, %ld torn,"
         " %ld directory changes lost; %ld acknowledged-call losses with required"
         " settings, %ld torn states\n",
         totals.nRun, fvStats.nDropped, fvStats.nKept, fvStats.nTorn, fvStats.nDirLost,
         totals.nLoss, totals.nTornState);
  return rc;
}
