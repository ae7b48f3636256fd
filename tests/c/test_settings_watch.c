/*
** test_settings_watch.c — the "raftlite" VFS (ext/vfs_watch.c): a store on
** a connection opened through it skips the journal_mode and synchronous
** PRAGMAs while its settings are unchanged, and still refuses every call
** whose settings would make it non-durable.
**
**   watch/...    that the PRAGMAs are skipped (counted by an authorizer,
**                which sees every PRAGMA compiled), and each way a setting
**                can change, one case each;
**   random/...   random sequences of setting changes, held statements,
**                transactions, checkpoints and reopens, interleaved with
**                appends: each append must be refused exactly when the full
**                check (raft_settings.writable, which always runs the
**                PRAGMAs) says so, and change nothing when refused.
*/
#include <stdint.h>
#include <time.h>

#include "fixture.h"

/* The fixture's store (setUp, tearDown) is not used: each case opens its
** own connections. */

/* Per test: the file, a connection opened through the VFS (or not), a
** store on it. */
typedef struct Watch {
  char zPath[64];
  sqlite3 *db;
  raftlite *store;
  uint64_t iNext; /* the next index to append */
  int nSync, nJournal, nChecks; /* PRAGMAs compiled while counting */
  int bCounting;
} Watch;

/* The authorizer sees each PRAGMA as it is compiled: it counts those of a
** raftlite call. */
static int countPragmas(void *pArg, int eAction, const char *z1, const char *z2,
                        const char *z3, const char *z4) {
  (void)z2, (void)z3, (void)z4;
  Watch *w = pArg;
  if (eAction == SQLITE_PRAGMA && w->bCounting) {
    if (sqlite3_stricmp(z1, "synchronous") == 0) w->nSync++;
    if (sqlite3_stricmp(z1, "journal_mode") == 0) w->nJournal++;
    if (sqlite3_stricmp(z1, "ignore_check_constraints") == 0) w->nChecks++;
  }
  return SQLITE_OK;
}

static void execOk(sqlite3 *db, const char *zSql) {
  char *zErr = NULL;
  if (sqlite3_exec(db, zSql, NULL, NULL, &zErr) != SQLITE_OK) {
    FAIL("%s: %s", zSql, zErr ? zErr : "?");
  }
}

static void watchOpen(Watch *w, const char *zVfs) {
  ASSERT_INT(raftlite_vfs_register(NULL), SQLITE_OK);
  int rc = sqlite3_open_v2(w->zPath, &w->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, zVfs);
  if (rc != SQLITE_OK) FAIL("open %s: %s", w->zPath, sqlite3_errmsg(w->db));
  ASSERT_INT(raftlite_register(w->db), SQLITE_OK);
  execOk(w->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL");
  ASSERT_INT(raftlite_open(w->db, "main", &w->store), SQLITE_OK);
  sqlite3_set_authorizer(w->db, countPragmas, w);
  raftlite_log_state ls;
  ASSERT_INT(raftlite_get_log_state(w->store, &ls), SQLITE_OK);
  w->iNext = ls.has_last_log ? ls.last_log_id.index + 1 : 1;
}

static void watchClose(Watch *w) {
  raftlite_close(w->store);
  w->store = NULL;
  ASSERT_INT(sqlite3_close(w->db), SQLITE_OK);
  w->db = NULL;
}

static void watchFresh(Watch *w, const char *zName, const char *zVfs) {
  memset(w, 0, sizeof(*w));
  snprintf(w->zPath, sizeof(w->zPath), "%s.db", zName);
  char z[96];
  remove(w->zPath);
  snprintf(z, sizeof(z), "%s-wal", w->zPath);
  remove(z);
  snprintf(z, sizeof(z), "%s-shm", w->zPath);
  remove(z);
  watchOpen(w, zVfs);
}

/* The entries in the log. */
static int64_t logCount(Watch *w) {
  sqlite3_stmt *pStmt;
  ASSERT_INT(sqlite3_prepare_v2(w->db, "SELECT count(*) FROM raft_log", -1, &pStmt, NULL),
             SQLITE_OK);
  ASSERT_INT(sqlite3_step(pStmt), SQLITE_ROW);
  int64_t n = sqlite3_column_int64(pStmt, 0);
  sqlite3_finalize(pStmt);
  return n;
}

/* raft_settings.writable: the full check, PRAGMAs and all. */
static int fullCheckSaysWritable(Watch *w) {
  sqlite3_stmt *pStmt;
  ASSERT_INT(sqlite3_prepare_v2(w->db, "SELECT writable FROM raft_settings('main')", -1, &pStmt,
                                NULL),
             SQLITE_OK);
  ASSERT_INT(sqlite3_step(pStmt), SQLITE_ROW);
  int b = sqlite3_column_int(pStmt, 0);
  sqlite3_finalize(pStmt);
  return b;
}

/* One 8-byte entry at w->iNext in term 1. Returns the call's code;
** counts the PRAGMAs it compiled. */
static int appendOne(Watch *w) {
  /* A rolled-back transaction takes its appends with it: ask the log. */
  raftlite_log_state ls;
  ASSERT_INT(raftlite_get_log_state(w->store, &ls), SQLITE_OK);
  w->iNext = ls.has_last_log ? ls.last_log_id.index + 1 : 1;
  raftlite_entry e = {{1, w->iNext}, RAFTLITE_NORMAL, "payload!", 8};
  w->bCounting = 1;
  int rc = raftlite_append_to_log(w->store, &e, 1);
  w->bCounting = 0;
  if (rc == SQLITE_OK) w->iNext++;
  return rc;
}

/* The call must be refused with a message naming zWhat, and change
** nothing. */
static void assertRefused(Watch *w, const char *zWhat) {
  int64_t n = logCount(w);
  int rc = appendOne(w);
  if (rc == SQLITE_OK) FAIL("the append was not refused (%s)", zWhat);
  const char *zErr = raftlite_errmsg(w->store);
  if (zErr == NULL || strstr(zErr, zWhat) == NULL) {
    FAIL("refusal \"%s\" does not name %s", zErr ? zErr : "(null)", zWhat);
  }
  ASSERT_INT(logCount(w), n);
}

static void assertAccepted(Watch *w) {
  int64_t n = logCount(w);
  int rc = appendOne(w);
  if (rc != SQLITE_OK) FAIL("append refused: %s", raftlite_errmsg(w->store));
  ASSERT_INT(logCount(w), n + 1);
}

/* ------------------------------------------------------------------------
** The PRAGMAs are skipped, and only through the VFS
*/

/* After warming up, 100 appends compile these many PRAGMAs of each kind. */
static void pragmasPer100(const char *zName, const char *zVfs, int nSync, int nJournal,
                          int nChecks) {
  Watch w;
  watchFresh(&w, zName, zVfs);
  for (int i = 0; i < 3; i++) assertAccepted(&w); /* the WAL opens */
  w.nSync = w.nJournal = w.nChecks = 0;
  for (int i = 0; i < 100; i++) assertAccepted(&w);
  ASSERT_INT(w.nSync, nSync);
  ASSERT_INT(w.nJournal, nJournal);
  ASSERT_INT(w.nChecks, nChecks);
  watchClose(&w);
}

/* ignore_check_constraints is not watched: one per call. */
TEST(watch, pragmasSkippedWhileUnchanged) { pragmasPer100("skipped", RAFTLITE_VFS, 0, 0, 100); }

TEST(watch, withoutTheVfsEveryCallChecks) { pragmasPer100("plain", NULL, 100, 100, 100); }

TEST(watch, registeringTwiceWrapsOnce) {
  ASSERT_INT(raftlite_vfs_register(NULL), SQLITE_OK);
  ASSERT_INT(raftlite_vfs_register(NULL), SQLITE_OK);
  ASSERT_INT(raftlite_vfs_register(sqlite3_vfs_find(NULL)->zName), SQLITE_OK);
  /* Not over itself, not over a VFS that does not exist, not over a
  ** second one while it wraps the first. */
  ASSERT_INT(raftlite_vfs_register(RAFTLITE_VFS), SQLITE_ERROR);
  ASSERT_INT(raftlite_vfs_register("no-such-vfs"), SQLITE_ERROR);
  sqlite3_vfs *pOther = sqlite3_vfs_find("unix-none");
  if (pOther) ASSERT_INT(raftlite_vfs_register("unix-none"), SQLITE_MISUSE);
  sqlite3_vfs *pVfs = sqlite3_vfs_find(RAFTLITE_VFS);
  ASSERT(pVfs != NULL);
  ASSERT(pVfs != sqlite3_vfs_find(NULL)); /* not made the default */
  Watch w;
  watchFresh(&w, "twice", RAFTLITE_VFS);
  char *zName = NULL;
  ASSERT_INT(sqlite3_file_control(w.db, "main", SQLITE_FCNTL_VFSNAME, &zName), SQLITE_OK);
  ASSERT_STR(zName, "raftlite/unix");
  sqlite3_free(zName);
  watchClose(&w);
}

/* ------------------------------------------------------------------------
** Each way a setting changes is seen
*/

/* A watched store in its steady state: the next call skips the PRAGMAs. */
static void steady(Watch *w, const char *zName) {
  watchFresh(w, zName, RAFTLITE_VFS);
  for (int i = 0; i < 3; i++) assertAccepted(w);
  w->nJournal = 0;
  assertAccepted(w);
  ASSERT_INT(w->nJournal, 0);
}

/* From the steady state: zBreak makes the next append refused, naming
** zWhat; zMend makes the one after accepted. */
static void breakAndMend(const char *zName, const char *zBreak, const char *zWhat,
                         const char *zMend) {
  Watch w;
  steady(&w, zName);
  execOk(w.db, zBreak);
  assertRefused(&w, zWhat);
  execOk(w.db, zMend);
  assertAccepted(&w);
  watchClose(&w);
}

TEST(watch, synchronousUnqualified) {
  breakAndMend("sync1", "PRAGMA synchronous=NORMAL", "synchronous", "PRAGMA synchronous=FULL");
}

TEST(watch, synchronousQualifiedAndNumeric) {
  breakAndMend("sync2", "PRAGMA main.synchronous=0", "synchronous", "PRAGMA main.synchronous=3");
}

/* synchronous changes as the PRAGMA compiles: preparing it is enough. */
TEST(watch, synchronousPreparedNotRun) {
  Watch w;
  steady(&w, "sync3");
  sqlite3_stmt *pStmt;
  ASSERT_INT(sqlite3_prepare_v2(w.db, "PRAGMA synchronous=OFF", -1, &pStmt, NULL), SQLITE_OK);
  assertRefused(&w, "synchronous");
  sqlite3_finalize(pStmt);
  execOk(w.db, "PRAGMA synchronous=FULL");
  assertAccepted(&w);
  watchClose(&w);
}

TEST(watch, journalModeEachMode) {
  static const struct {
    const char *zMode, *zNamed;
  } a[] = {{"DELETE", "synchronous=EXTRA"},
           {"MEMORY", "journal_mode is MEMORY"},
           {"OFF", "journal_mode is OFF"}};
  for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++) {
    char zSql[64];
    snprintf(zSql, sizeof(zSql), "PRAGMA journal_mode=%s", a[i].zMode);
    breakAndMend("journal", zSql, a[i].zNamed, "PRAGMA journal_mode=WAL");
  }
}

/* journal_mode changes when the PRAGMA runs, after the compile the VFS
** hears: the WAL's closing is what tells. */
TEST(watch, journalModePreparedThenRunLater) {
  Watch w;
  steady(&w, "journal2");
  sqlite3_stmt *pStmt;
  ASSERT_INT(sqlite3_prepare_v2(w.db, "PRAGMA journal_mode=OFF", -1, &pStmt, NULL), SQLITE_OK);
  assertAccepted(&w); /* still WAL: the full check ran, and passed */
  assertAccepted(&w);
  ASSERT_INT(sqlite3_step(pStmt), SQLITE_ROW);
  ASSERT_STR((const char *)sqlite3_column_text(pStmt, 0), "off");
  sqlite3_finalize(pStmt);
  assertRefused(&w, "journal_mode is OFF");
  watchClose(&w);
}

/* Entries 1, 2 and 3 (e's term, kind and payload), one call each; e is
** left at index 3. */
static void appendThree(raftlite *pStore, raftlite_entry *e) {
  for (uint64_t i = 1; i <= 3; i++) {
    e->log_id.index = i;
    ASSERT_INT(raftlite_append_to_log(pStore, e, 1), SQLITE_OK);
  }
}

/* A store in an attached schema: its own file tells; the main database's
** settings are not its. */
TEST(watch, attachedSchema) {
  Watch w;
  watchFresh(&w, "attmain", RAFTLITE_VFS);
  remove("att.db");
  remove("att.db-wal");
  execOk(w.db, "ATTACH 'file:att.db?vfs=raftlite' AS aux");
  execOk(w.db, "PRAGMA aux.journal_mode=WAL; PRAGMA aux.synchronous=FULL");
  raftlite *aux;
  ASSERT_INT(raftlite_open(w.db, "aux", &aux), SQLITE_OK);
  raftlite_entry e = {{1, 1}, RAFTLITE_NORMAL, "x", 1};
  appendThree(aux, &e);
  w.nSync = 0;
  e.log_id.index = 4;
  w.bCounting = 1;
  ASSERT_INT(raftlite_append_to_log(aux, &e, 1), SQLITE_OK);
  w.bCounting = 0;
  ASSERT_INT(w.nSync, 0);
  execOk(w.db, "PRAGMA synchronous=OFF"); /* main's, not aux's */
  e.log_id.index = 5;
  ASSERT_INT(raftlite_append_to_log(aux, &e, 1), SQLITE_OK);
  execOk(w.db, "PRAGMA aux.synchronous=NORMAL");
  e.log_id.index = 6;
  ASSERT(raftlite_append_to_log(aux, &e, 1) != SQLITE_OK);
  ASSERT(strstr(raftlite_errmsg(aux), "synchronous") != NULL);
  execOk(w.db, "PRAGMA aux.synchronous=FULL; PRAGMA aux.journal_mode=MEMORY");
  ASSERT(raftlite_append_to_log(aux, &e, 1) != SQLITE_OK);
  ASSERT(strstr(raftlite_errmsg(aux), "journal_mode is MEMORY") != NULL);
  raftlite_close(aux);
  execOk(w.db, "PRAGMA synchronous=FULL; DETACH aux");
  watchClose(&w);
}

/* The same name attached to another file is another file: its settings
** are checked, not taken for the first's. */
TEST(watch, reattachedName) {
  Watch w;
  watchFresh(&w, "reatt", RAFTLITE_VFS);
  for (int k = 0; k < 2; k++) {
    char z[64];
    snprintf(z, sizeof(z), "reatt%d.db", k);
    remove(z);
    strcat(z, "-wal");
    remove(z);
  }
  execOk(w.db, "ATTACH 'file:reatt0.db?vfs=raftlite' AS aux;"
               "PRAGMA aux.journal_mode=WAL; PRAGMA aux.synchronous=FULL");
  raftlite *aux;
  ASSERT_INT(raftlite_open(w.db, "aux", &aux), SQLITE_OK);
  raftlite_entry e = {{1, 1}, RAFTLITE_NORMAL, "x", 1};
  appendThree(aux, &e);
  /* reatt1.db: a store, in WAL mode with synchronous NORMAL (the default
  ** of a newly attached schema is FULL: set it after attaching). */
  execOk(w.db, "DETACH aux; ATTACH 'file:reatt1.db?vfs=raftlite' AS aux;"
               "PRAGMA aux.journal_mode=WAL; SELECT raft_install('aux');"
               "PRAGMA aux.synchronous=NORMAL");
  e.log_id.index = 1;
  ASSERT(raftlite_append_to_log(aux, &e, 1) != SQLITE_OK);
  ASSERT(strstr(raftlite_errmsg(aux), "synchronous") != NULL);
  raftlite_close(aux);
  execOk(w.db, "DETACH aux");
  watchClose(&w);
}

/* ignore_check_constraints is one flag of the connection, settable through
** any schema's name: never skipped. */
TEST(watch, checkConstraintsThroughTemp) {
  breakAndMend("checks", "PRAGMA temp.ignore_check_constraints=1", "ignore_check_constraints",
               "PRAGMA ignore_check_constraints=0");
}

/* A background checkpointer on a watched store (its connection opens
** through the same VFS): its PASSIVE and TRUNCATE checkpoints neither
** close the writer's WAL nor change a setting, so the writer goes on
** skipping the PRAGMAs; and the settings are still watched. */
TEST(watch, withTheCheckpointer) {
  Watch w;
  steady(&w, "ckpt");
  sqlite3_busy_timeout(w.db, 5000);
  raftlite_checkpointer_config cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.wal_frames = 4;
  cfg.idle_ms = 2;
  cfg.poll_ms = 1;
  raftlite_checkpointer *pCkpt = NULL;
  ASSERT_INT(raftlite_checkpointer_start(w.store, &cfg, &pCkpt), SQLITE_OK);
  w.nSync = w.nJournal = 0;
  for (int i = 0; i < 200; i++) {
    assertAccepted(&w);
    if (i % 50 == 49) usleep(20000); /* idle: a TRUNCATE */
  }
  ASSERT_INT(w.nSync, 0);
  ASSERT_INT(w.nJournal, 0);
  execOk(w.db, "PRAGMA synchronous=NORMAL");
  assertRefused(&w, "synchronous");
  execOk(w.db, "PRAGMA synchronous=FULL");
  assertAccepted(&w);
  raftlite_checkpointer_stats st;
  ASSERT_INT(raftlite_checkpointer_get_stats(pCkpt, &st), SQLITE_OK);
  ASSERT_INT(raftlite_checkpointer_stop(pCkpt), SQLITE_OK);
  raftlite_checkpointer_free(pCkpt);
  if (st.n_passive == 0 || st.n_truncate == 0) {
    FAIL("the checkpointer ran %llu PASSIVE and %llu TRUNCATE checkpoints",
         (unsigned long long)st.n_passive, (unsigned long long)st.n_truncate);
  }
  watchClose(&w);
}

/* ------------------------------------------------------------------------
** Random sequences against the full check
*/

static uint64_t rngState;
static unsigned rnd(unsigned n) {
  rngState = rngState * 6364136223846793005ULL + 1442695040888963407ULL;
  return (unsigned)((rngState >> 33) % n);
}

/* A setter PRAGMA, any form: qualified or not, names or numbers. */
static void randomPragma(char *z, size_t n) {
  static const char *const azSync[] = {"OFF", "NORMAL", "FULL", "EXTRA", "0", "1", "2", "3"};
  static const char *const azJournal[] = {"WAL", "WAL", "WAL", "DELETE", "TRUNCATE",
                                          "PERSIST", "MEMORY", "OFF"};
  const char *zQual = rnd(2) ? "main." : "";
  switch (rnd(4)) {
    case 0:
    case 1:
      snprintf(z, n, "PRAGMA %ssynchronous=%s", zQual, azSync[rnd(8)]);
      break;
    case 2:
      snprintf(z, n, "PRAGMA %sjournal_mode=%s", zQual, azJournal[rnd(8)]);
      break;
    default:
      snprintf(z, n, "PRAGMA %signore_check_constraints=%d", rnd(2) ? "temp." : zQual,
               rnd(4) == 0);
      break;
  }
}

TEST(random, appendsRefusedExactlyWhenTheFullCheckRefuses) {
  const char *zSeed = getenv("RAFTLITE_WATCH_SEED");
  uint64_t iSeed = zSeed ? strtoull(zSeed, NULL, 10) : (uint64_t)time(NULL);
  int nSeeds = 20, nSteps = 300;
  int nAccepted = 0, nRefused = 0, nSkipped = 0;
  for (int s = 0; s < nSeeds; s++) {
    rngState = iSeed + (uint64_t)s;
    Watch w;
    watchFresh(&w, "random", RAFTLITE_VFS);
    sqlite3_stmt *pHeld = NULL; /* a setter prepared now, run later */
    for (int i = 0; i < nSteps; i++) {
      char zSql[96];
      unsigned eStep = rnd(10);
      if (eStep < 4) {
        /* an append, refused exactly when the full check refuses */
        int bWritable = fullCheckSaysWritable(&w);
        int64_t n = logCount(&w);
        w.nJournal = w.nSync = 0;
        int rc = appendOne(&w);
        if ((rc == SQLITE_OK) != bWritable) {
          FAIL("seed %llu step %d: append %s, the full check says %s (%s)",
               (unsigned long long)(iSeed + (uint64_t)s), i, rc == SQLITE_OK ? "ok" : "refused",
               bWritable ? "writable" : "not writable", raftlite_errmsg(w.store));
        }
        ASSERT_INT(logCount(&w), n + (rc == SQLITE_OK));
        if (rc == SQLITE_OK) nAccepted++;
        else nRefused++;
        if (rc == SQLITE_OK && w.nJournal == 0 && w.nSync == 0) nSkipped++;
      } else if (eStep < 6) {
        randomPragma(zSql, sizeof(zSql));
        sqlite3_exec(w.db, zSql, NULL, NULL, NULL); /* may fail: in a txn */
      } else if (eStep == 6) {
        if (pHeld == NULL) {
          randomPragma(zSql, sizeof(zSql));
          sqlite3_prepare_v2(w.db, zSql, -1, &pHeld, NULL);
        } else {
          sqlite3_step(pHeld);
          sqlite3_finalize(pHeld);
          pHeld = NULL;
        }
      } else if (eStep == 7) {
        static const char *const azTxn[] = {"BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"};
        sqlite3_exec(w.db, azTxn[rnd(4)], NULL, NULL, NULL);
      } else if (eStep == 8) {
        sqlite3_exec(w.db, rnd(2) ? "PRAGMA wal_checkpoint(TRUNCATE)" : "PRAGMA wal_checkpoint",
                     NULL, NULL, NULL);
      } else if (rnd(4) == 0) {
        /* reopen, through the VFS or not */
        sqlite3_finalize(pHeld);
        pHeld = NULL;
        if (!sqlite3_get_autocommit(w.db)) execOk(w.db, "ROLLBACK");
        watchClose(&w);
        watchOpen(&w, rnd(4) ? RAFTLITE_VFS : NULL);
      }
    }
    sqlite3_finalize(pHeld);
    if (!sqlite3_get_autocommit(w.db)) execOk(w.db, "ROLLBACK");
    watchClose(&w);
  }
  printf("  seeds %llu..%llu: %d appends accepted (%d without the PRAGMAs), %d refused\n",
         (unsigned long long)iSeed, (unsigned long long)(iSeed + (uint64_t)nSeeds - 1),
         nAccepted, nSkipped, nRefused);
  /* The sequences must reach both verdicts and the skipping path, or they
  ** test nothing. */
  ASSERT(nAccepted > 100);
  ASSERT(nRefused > 100);
  ASSERT(nSkipped > 50);
}

RUN_TESTS(setUp, tearDown)
