/*
** test_checkpointer.c — the background checkpointer (raftlite_checkpointer_*
** in include/raftlite.h, docs/checkpointer.md).
**
**   refuse:    every store it cannot serve is refused with a sentence that
**              says why and what to do, and nothing changes (no thread, no
**              setting, no file);
**   bound:     while appends run, the -wal file (read with stat()) never
**              exceeds max_wal_frames plus the documented slack, and an
**              idle writer's WAL is truncated; a control without the
**              checkpointer shows the WAL grow past the bound;
**   stop:      stop while checkpoints run, stop twice, stop from two threads
**              at once, close the store without stop: no thread is left
**              (/proc/self/task);
**   fault:     an I/O error in the checkpointer's checkpoint (faultvfs, armed
**              for the checkpointer's thread only) is reported by stop and
**              changes nothing the writer acknowledged, even after a power
**              cut.
**
** "test_checkpointer bench [seconds]" (not in CTest) measures durable
** appends with and without the checkpointer, interleaved in short slices:
** the figures of docs/checkpointer.md.
*/
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "faultutil.h"
#include "faultvfs.h"
#include "harness.h"
#include "serialvfs.h"

#define DB "ckpt.db"

/******************************************************************************
 * Helpers
 *****************************************************************************/

/* Threads of this process. */
static int threadCount(void) {
  DIR *d = opendir("/proc/self/task");
  if (d == NULL) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] != '.') n++;
  }
  closedir(d);
  return n;
}

/* Threads settle (a joined thread leaves /proc at once; this only guards
** against a slow kernel). */
static int threadCountSettled(int nWant) {
  int n = threadCount();
  for (int i = 0; i < 100 && n != nWant; i++) {
    usleep(1000);
    n = threadCount();
  }
  return n;
}

static void sleepMs(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static double nowSec(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A WAL store at zPath (created afresh) with a busy timeout. */
static void openWal(const char *zPath, const char *zVfs, int nBusyMs, sqlite3 **pDb,
                    raftlite **pStore) {
  fuRemoveDb(zPath);
  int rc = fuOpen(zPath, zVfs, "WAL", "FULL", 0, pDb, pStore);
  if (rc != SQLITE_OK) FAIL("open %s: %d %s", zPath, rc, sqlite3_errmsg(*pDb));
  if (nBusyMs) sqlite3_busy_timeout(*pDb, nBusyMs);
}

static long long queryInt(sqlite3 *db, const char *zSql) {
  sqlite3_stmt *pStmt = NULL;
  long long v = -1;
  if (sqlite3_prepare_v2(db, zSql, -1, &pStmt, NULL) == SQLITE_OK &&
      sqlite3_step(pStmt) == SQLITE_ROW) {
    v = sqlite3_column_int64(pStmt, 0);
  }
  sqlite3_finalize(pStmt);
  return v;
}

/* Frames the -wal file has room for (its size; 0 when absent). */
static long walFrames(const char *zPath, int nPage) {
  char z[512];
  snprintf(z, sizeof(z), "%s-wal", zPath);
  struct stat st;
  if (stat(z, &st) != 0 || st.st_size <= 32) return 0;
  return (long)((st.st_size - 32) / (nPage + 24));
}

static int fileExists(const char *zPath) {
  struct stat st;
  return stat(zPath, &st) == 0;
}

/* Appends n entries from index first, k per call, with payloads of nBytes;
** returns SQLITE_OK or the first error. */
static int appendBatch(raftlite *store, uint64_t term, uint64_t first, int k, int nBytes) {
  raftlite_entry a[256];
  static char payload[8192];
  if (payload[0] == 0) memset(payload, 'p', sizeof(payload));
  for (int j = 0; j < k; j++) {
    a[j].log_id.term = term;
    a[j].log_id.index = first + (uint64_t)j;
    a[j].kind = RAFTLITE_NORMAL;
    a[j].data = payload;
    a[j].size = (size_t)nBytes;
  }
  return raftlite_append_to_log(store, a, (size_t)k);
}

static uint64_t lastIndex(raftlite *store) {
  raftlite_log_state ls;
  if (raftlite_get_log_state(store, &ls) != SQLITE_OK || !ls.has_last_log) return 0;
  return ls.last_log_id.index;
}

#define ASSERT_CONTAINS(z, zPart)                                                      \
  do {                                                                                 \
    const char *z_ = (z);                                                              \
    if (z_ == NULL || strstr(z_, zPart) == NULL)                                       \
      FAIL("\"%s\" does not say \"%s\"", z_ ? z_ : "(null)", zPart);                   \
  } while (0)

/******************************************************************************
 * Refusals: a sentence, and nothing changed
 *****************************************************************************/

/* Start is refused with rc and a message saying zWhy; no thread starts,
** the writer's wal_autocheckpoint (the flag asks to set it) is unchanged. */
static void expectRefused(sqlite3 *db, raftlite *store, const raftlite_checkpointer_config *pCfg,
                          int rcWant, const char *zWhy) {
  int nThread = threadCount();
  long long nAuto = queryInt(db, "PRAGMA wal_autocheckpoint");
  raftlite_checkpointer_config cfg;
  if (pCfg) cfg = *pCfg;
  else memset(&cfg, 0, sizeof(cfg));
  cfg.flags |= RAFTLITE_CHECKPOINTER_SET_WRITER_AUTOCHECKPOINT;
  raftlite_checkpointer *c = (raftlite_checkpointer *)&cfg;
  ASSERT_INT(raftlite_checkpointer_start(store, &cfg, &c), rcWant);
  ASSERT(c == NULL);
  ASSERT_CONTAINS(raftlite_errmsg(store), "checkpointer: ");
  ASSERT_CONTAINS(raftlite_errmsg(store), zWhy);
  ASSERT_INT(threadCount(), nThread);
  ASSERT_INT(queryInt(db, "PRAGMA wal_autocheckpoint"), nAuto);
}

TEST(refuse, notWal) {
  sqlite3 *db;
  raftlite *store;
  fuRemoveDb(DB);
  ASSERT_INT(fuOpen(DB, NULL, "DELETE", "EXTRA", 0, &db, &store), SQLITE_OK);
  sqlite3_busy_timeout(db, 1000);
  expectRefused(db, store, NULL, SQLITE_MISUSE, "journal_mode is delete, not wal");
  ASSERT_CONTAINS(raftlite_errmsg(store), "set PRAGMA journal_mode=WAL");
  /* Nothing changed: still DELETE, no WAL file, the store still works. */
  char *zMode = fuQueryText(db, "PRAGMA journal_mode");
  ASSERT_STR(zMode, "delete");
  sqlite3_free(zMode);
  ASSERT(!fileExists(DB "-wal"));
  ASSERT_INT(appendBatch(store, 1, 1, 1, 10), SQLITE_OK);
  fuClose(&db, &store);
  fuRemoveDb(DB);
}

TEST(refuse, inMemory) {
  sqlite3 *db;
  raftlite *store;
  ASSERT_INT(sqlite3_open(":memory:", &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 1000);
  ASSERT_INT(raftlite_open(db, NULL, &store), SQLITE_OK);
  expectRefused(db, store, NULL, SQLITE_MISUSE, "in memory or a temporary database");
  fuClose(&db, &store);
}

TEST(refuse, tempSchema) {
  sqlite3 *db;
  raftlite *store;
  fuRemoveDb(DB);
  ASSERT_INT(sqlite3_open(DB, &db), SQLITE_OK);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL", 0, 0, 0);
  sqlite3_busy_timeout(db, 1000);
  ASSERT_INT(raftlite_open(db, "temp", &store), SQLITE_OK);
  expectRefused(db, store, NULL, SQLITE_MISUSE, "(schema temp) is in memory or a temporary");
  fuClose(&db, &store);
  fuRemoveDb(DB);
}

TEST(refuse, exclusiveLocking) {
  sqlite3 *db;
  raftlite *store;
  openWal(DB, NULL, 1000, &db, &store);
  sqlite3_exec(db, "PRAGMA locking_mode=EXCLUSIVE", 0, 0, 0);
  ASSERT_INT(appendBatch(store, 1, 1, 1, 10), SQLITE_OK); /* takes the lock */
  expectRefused(db, store, NULL, SQLITE_MISUSE, "locking_mode is exclusive");
  fuClose(&db, &store);
  fuRemoveDb(DB);
}

/* The file was deleted after open: a second connection cannot open it. */
TEST(refuse, fileGone) {
  sqlite3 *db;
  raftlite *store;
  openWal(DB, NULL, 1000, &db, &store);
  ASSERT_INT(remove(DB), 0);
  expectRefused(db, store, NULL, SQLITE_CANTOPEN, "cannot open the store's file");
  ASSERT_CONTAINS(raftlite_errmsg(store), DB);
  ASSERT(!fileExists(DB)); /* not created again */
  fuClose(&db, &store);
  fuRemoveDb(DB);
}

TEST(refuse, badConfig) {
  sqlite3 *db;
  raftlite *store;
  openWal(DB, NULL, 1000, &db, &store);
  raftlite_checkpointer_config cfg = {0};
  cfg.wal_frames = -1;
  expectRefused(db, store, &cfg, SQLITE_MISUSE, "a config value is negative");
  cfg.wal_frames = 100;
  cfg.poll_ms = -3;
  expectRefused(db, store, &cfg, SQLITE_MISUSE, "a config value is negative");
  cfg.poll_ms = 0;
  cfg.idle_ms = -1;
  expectRefused(db, store, &cfg, SQLITE_MISUSE, "a config value is negative");
  cfg.idle_ms = 0;
  cfg.writer_autocheckpoint = 100;
  expectRefused(db, store, &cfg, SQLITE_MISUSE,
                "writer_autocheckpoint (100) is not above wal_frames (100)");
  cfg.writer_autocheckpoint = 0;
  cfg.flags = 0x100;
  expectRefused(db, store, &cfg, SQLITE_MISUSE, "unknown bit");
  raftlite_checkpointer *c = (raftlite_checkpointer *)&cfg;
  ASSERT_INT(raftlite_checkpointer_start(NULL, NULL, &c), SQLITE_MISUSE);
  ASSERT(c == NULL);
  ASSERT_INT(raftlite_checkpointer_start(store, NULL, NULL), SQLITE_MISUSE);
  fuClose(&db, &store);
  fuRemoveDb(DB);
}

/* The writer's wal_autocheckpoint changes only when the flag asks. */
TEST(setting, writerAutocheckpointOnlyWhenAsked) {
  sqlite3 *db;
  raftlite *store;
  openWal(DB, NULL, 1000, &db, &store);
  sqlite3_wal_autocheckpoint(db, 1234);
  raftlite_checkpointer *c = NULL;
  ASSERT_INT(raftlite_checkpointer_start(store, NULL, &c), SQLITE_OK);
  ASSERT_INT(queryInt(db, "PRAGMA wal_autocheckpoint"), 1234);
  ASSERT_INT(queryInt(db, "PRAGMA synchronous"), 2);
  raftlite_checkpointer_free(c);
  raftlite_checkpointer_config cfg = {0};
  cfg.flags = RAFTLITE_CHECKPOINTER_SET_WRITER_AUTOCHECKPOINT;
  ASSERT_INT(raftlite_checkpointer_start(store, &cfg, &c), SQLITE_OK);
  ASSERT_INT(queryInt(db, "PRAGMA wal_autocheckpoint"), 1000); /* 4 * 250 */
  raftlite_checkpointer_free(c);
  sqlite3_wal_autocheckpoint(db, 1234);
  cfg.wal_frames = 50;
  cfg.writer_autocheckpoint = 75;
  ASSERT_INT(raftlite_checkpointer_start(store, &cfg, &c), SQLITE_OK);
  ASSERT_INT(queryInt(db, "PRAGMA wal_autocheckpoint"), 75);
  raftlite_checkpointer_free(c);
  ASSERT_INT(queryInt(db, "PRAGMA wal_autocheckpoint"), 75); /* not undone: documented */
  fuClose(&db, &store);
  fuRemoveDb(DB);
}

/******************************************************************************
 * WAL bound
 *****************************************************************************/

#define BOUND_WAL 100
#define BOUND_WRITER 400
/* The slack docs/checkpointer.md documents: the writer checkpoints after
** the commit that takes the WAL past its wal_autocheckpoint and the WAL
** starts over at its next transaction, unless a checkpoint of the thread
** holds the checkpoint lock at that moment; then each commit tries again.
** The thread starts none past the writer's threshold, so the WAL passes the
** bound by the commits made while one of the thread's checkpoints (at most
** BOUND_WRITER frames, one sync) finishes: here 15 of this test's
** transactions (1 to 16 entries of up to 2 KiB, 2 to 12 frames). */
#define BOUND_SLACK 150

/* Appends for about nMs with batches of 1 to 16 entries, or until the WAL
** passes nStopAt frames (0: never); the largest WAL seen after any commit,
** in frames of the file's size. */
static long appendUntil(raftlite *store, int nMs, long nStopAt, long *pnCommit) {
  uint64_t idx = lastIndex(store) + 1;
  long nMax = 0, nCommit = 0;
  double tEnd = nowSec() + nMs / 1000.0;
  unsigned r = 7;
  while (nowSec() < tEnd) {
    r = r * 1103515245u + 12345u;
    int k = (r >> 16) % 3 == 0 ? 16 : 1 + (int)((r >> 8) % 4);
    int rc = appendBatch(store, 1, idx, k, 100 + (int)((r >> 4) % 1900));
    if (rc != SQLITE_OK) FAIL("append at %llu: %d %s", (unsigned long long)idx, rc, raftlite_errmsg(store));
    idx += (uint64_t)k;
    nCommit++;
    long n = walFrames(DB, 4096);
    if (n > nMax) nMax = n;
    if (nStopAt > 0 && nMax > nStopAt) break;
  }
  *pnCommit = nCommit;
  return nMax;
}

static long appendFor(raftlite *store, int nMs, long *pnCommit) {
  return appendUntil(store, nMs, 0, pnCommit);
}

static void printStats(const char *zWhat, long nCommit, long nMax, raftlite_checkpointer *c) {
  raftlite_checkpointer_stats st;
  raftlite_checkpointer_get_stats(c, &st);
  printf("  %s: %ld commits; largest -wal file %ld frames; thread: %llu passive, %llu truncate"
         " (%llu busy), %llu frames copied, longest WAL %llu frames\n",
         zWhat, nCommit, nMax, (unsigned long long)st.n_passive,
         (unsigned long long)st.n_truncate, (unsigned long long)st.n_busy,
         (unsigned long long)st.n_frames, (unsigned long long)st.max_wal_frames);
}

/* The thread copies most frames, the writer's auto-checkpoint (set by the
** flag) bounds the WAL; idle, the WAL is truncated. */
TEST(bound, walStaysBounded) {
  sqlite3 *db;
  raftlite *store;
  openWal(DB, NULL, 5000, &db, &store);
  ASSERT_INT(queryInt(db, "PRAGMA page_size"), 4096);
  raftlite_checkpointer_config cfg = {0};
  cfg.wal_frames = BOUND_WAL;
  cfg.writer_autocheckpoint = BOUND_WRITER;
  cfg.idle_ms = 150;
  cfg.poll_ms = 2;
  cfg.flags = RAFTLITE_CHECKPOINTER_SET_WRITER_AUTOCHECKPOINT;
  raftlite_checkpointer *c = NULL;
  ASSERT_INT(raftlite_checkpointer_start(store, &cfg, &c), SQLITE_OK);
  long nCommit = 0;
  long nMax = appendFor(store, 3000, &nCommit);
  printStats("with the checkpointer", nCommit, nMax, c);
  raftlite_checkpointer_stats st;
  ASSERT_INT(raftlite_checkpointer_get_stats(c, &st), SQLITE_OK);
  ASSERT(nCommit > 100);
  ASSERT(st.n_passive > 0);
  ASSERT(st.n_frames > 0);
  ASSERT_INT(st.n_errors, 0);
  if (nMax > BOUND_WRITER + BOUND_SLACK) {
    FAIL("the -wal file reached %ld frames, above %d + %d", nMax, BOUND_WRITER, BOUND_SLACK);
  }
  /* Idle: the WAL is truncated to nothing (counted once the call returns). */
  for (int i = 0; i < 200 && (walFrames(DB, 4096) > 0 || st.n_truncate == 0); i++) {
    sleepMs(10);
    ASSERT_INT(raftlite_checkpointer_get_stats(c, &st), SQLITE_OK);
  }
  ASSERT_INT(walFrames(DB, 4096), 0);
  ASSERT(st.n_truncate > 0);
  ASSERT_INT(raftlite_checkpointer_stop(c), SQLITE_OK);
  raftlite_checkpointer_free(c);
  const char *zCheck = fuCheck(db);
  if (zCheck) FAIL("%s", zCheck);
  fuClose(&db, &store);
  fuRemoveDb(DB);
}

/* The controls: without the writer's auto-checkpoint the WAL passes the
** bound, with the thread's PASSIVE checkpoints (which a writer committing
** back to back outruns) or without them; the test can see the growth it
** guards against. */
TEST(bound, controlGrowsWithoutWriterBound) {
  for (int bThread = 0; bThread < 2; bThread++) {
    sqlite3 *db;
    raftlite *store;
    openWal(DB, NULL, 5000, &db, &store);
    sqlite3_wal_autocheckpoint(db, 0);
    raftlite_checkpointer *c = NULL;
    raftlite_checkpointer_config cfg = {0};
    cfg.wal_frames = BOUND_WAL;
    cfg.poll_ms = 2;
    if (bThread) ASSERT_INT(raftlite_checkpointer_start(store, &cfg, &c), SQLITE_OK);
    long nCommit = 0;
    /* Until it passes the bound: 1 to 2 s here, longer under a sanitizer. */
    long nMax = appendUntil(store, 20000, BOUND_WRITER + BOUND_SLACK, &nCommit);
    if (c) printStats("control, thread only", nCommit, nMax, c);
    else printf("  control, no checkpoint: %ld commits; -wal file %ld frames\n", nCommit, nMax);
    ASSERT(nMax > BOUND_WRITER + BOUND_SLACK);
    raftlite_checkpointer_free(c);
    fuClose(&db, &store);
    fuRemoveDb(DB);
  }
}

/* The idle TRUNCATE's documented cost: a call that overlaps it fails with
** SQLITE_BUSY and changes nothing. A writer pausing about idle_ms between
** calls meets it as often as it can; every BUSY call is checked unchanged
** and retried, and nothing else fails. */
TEST(bound, idleTruncateOnlyBusy) {
  sqlite3 *db;
  raftlite *store;
  openWal(DB, NULL, 5000, &db, &store);
  raftlite_checkpointer_config cfg = {0};
  cfg.wal_frames = 20;
  cfg.idle_ms = 2;
  cfg.poll_ms = 1;
  cfg.flags = RAFTLITE_CHECKPOINTER_SET_WRITER_AUTOCHECKPOINT;
  raftlite_checkpointer *c = NULL;
  ASSERT_INT(raftlite_checkpointer_start(store, &cfg, &c), SQLITE_OK);
  uint64_t idx = 1;
  long nBusy = 0, nCall = 0;
  double tEnd = nowSec() + 1.5;
  unsigned r = 3;
  while (nowSec() < tEnd) {
    r = r * 1103515245u + 12345u;
    struct timespec ts = {0, 1500000L + (long)((r >> 8) % 2000) * 1000L};
    nanosleep(&ts, NULL);
    int rc = appendBatch(store, 1, idx, 2, 500);
    nCall++;
    if ((rc & 0xff) == SQLITE_BUSY) {
      nBusy++;
      ASSERT_INT(lastIndex(store), idx - 1); /* unchanged */
      continue;
    }
    if (rc != SQLITE_OK) FAIL("append: %d %s", rc, raftlite_errmsg(store));
    idx += 2;
  }
  raftlite_checkpointer_stats st;
  ASSERT_INT(raftlite_checkpointer_get_stats(c, &st), SQLITE_OK);
  printf("  %ld calls, %ld SQLITE_BUSY (retried); %llu truncates\n", nCall, nBusy,
         (unsigned long long)st.n_truncate);
  ASSERT(st.n_truncate > 0);
  ASSERT_INT(raftlite_checkpointer_stop(c), SQLITE_OK);
  raftlite_checkpointer_free(c);
  ASSERT_INT(lastIndex(store), idx - 1);
  const char *zCheck = fuCheck(db);
  if (zCheck) FAIL("%s", zCheck);
  fuClose(&db, &store);
  fuRemoveDb(DB);
}

/******************************************************************************
 * Stop
 *****************************************************************************/

static raftlite_checkpointer *startBusy(sqlite3 *db, raftlite *store) {
  (void)db;
  raftlite_checkpointer_config cfg = {0};
  cfg.wal_frames = 10;
  cfg.poll_ms = 1;
  cfg.flags = RAFTLITE_CHECKPOINTER_SET_WRITER_AUTOCHECKPOINT;
  raftlite_checkpointer *c = NULL;
  int rc = raftlite_checkpointer_start(store, &cfg, &c);
  if (rc != SQLITE_OK) FAIL("start: %d %s", rc, raftlite_errmsg(store));
  return c;
}

/* Stop while checkpoints run; stop again; the statistics stay readable. */
TEST(stop, whileBusyAndTwice) {
  sqlite3 *db;
  raftlite *store;
  openWal(DB, NULL, 5000, &db, &store);
  int nThread = threadCount();
  for (int round = 0; round < 20; round++) {
    raftlite_checkpointer *c = startBusy(db, store);
    ASSERT_INT(threadCount(), nThread + 1);
    uint64_t idx = lastIndex(store) + 1;
    for (int i = 0; i < 20; i++, idx += 8) {
      int rc = appendBatch(store, 1, idx, 8, 1000);
      if (rc != SQLITE_OK) FAIL("append: %d %s", rc, raftlite_errmsg(store));
    }
    raftlite_checkpointer_stats st;
    ASSERT_INT(raftlite_checkpointer_get_stats(c, &st), SQLITE_OK);
    ASSERT_INT(st.running, 1);
    ASSERT_INT(raftlite_checkpointer_stop(c), SQLITE_OK);
    ASSERT_INT(threadCountSettled(nThread), nThread);
    ASSERT_INT(raftlite_checkpointer_stop(c), SQLITE_OK); /* twice: a no-op */
    ASSERT_INT(raftlite_checkpointer_get_stats(c, &st), SQLITE_OK);
    ASSERT_INT(st.running, 0);
    raftlite_checkpointer_free(c);
  }
  ASSERT_INT(raftlite_checkpointer_stop(NULL), SQLITE_OK);
  raftlite_checkpointer_free(NULL);
  const char *zCheck = fuCheck(db);
  if (zCheck) FAIL("%s", zCheck);
  fuClose(&db, &store);
  fuRemoveDb(DB);
}

static void *stopThread(void *p) {
  return (void *)(intptr_t)raftlite_checkpointer_stop(p);
}

/* Two threads stop it at once: both return when it is stopped. */
TEST(stop, concurrent) {
  sqlite3 *db;
  raftlite *store;
  openWal(DB, NULL, 5000, &db, &store);
  int nThread = threadCount();
  for (int round = 0; round < 20; round++) {
    raftlite_checkpointer *c = startBusy(db, store);
    ASSERT_INT(appendBatch(store, 1, lastIndex(store) + 1, 16, 2000), SQLITE_OK);
    pthread_t t;
    ASSERT_INT(pthread_create(&t, NULL, stopThread, c), 0);
    int rc = raftlite_checkpointer_stop(c);
    void *pRc;
    pthread_join(t, &pRc);
    ASSERT_INT(rc, SQLITE_OK);
    ASSERT_INT((intptr_t)pRc, SQLITE_OK);
    raftlite_checkpointer_stats st;
    ASSERT_INT(raftlite_checkpointer_get_stats(c, &st), SQLITE_OK);
    ASSERT_INT(st.running, 0);
    raftlite_checkpointer_free(c);
    ASSERT_INT(threadCountSettled(nThread), nThread);
  }
  fuClose(&db, &store);
  fuRemoveDb(DB);
}

static void *stopLater(void *p) {
  sleepMs(15);
  return (void *)(intptr_t)raftlite_checkpointer_stop(p);
}

/* Stopped from another thread while the writer appends and the thread
** copies: the writer's calls all succeed, before and after. */
TEST(stop, whileWriterAppends) {
  sqlite3 *db;
  raftlite *store;
  openWal(DB, NULL, 5000, &db, &store);
  int nThread = threadCount();
  for (int round = 0; round < 10; round++) {
    raftlite_checkpointer *c = startBusy(db, store);
    pthread_t t;
    ASSERT_INT(pthread_create(&t, NULL, stopLater, c), 0);
    uint64_t idx = lastIndex(store) + 1;
    double tEnd = nowSec() + 0.04;
    while (nowSec() < tEnd) {
      int rc = appendBatch(store, 1, idx, 8, 1500);
      if (rc != SQLITE_OK) FAIL("append: %d %s", rc, raftlite_errmsg(store));
      idx += 8;
    }
    void *pRc;
    pthread_join(t, &pRc);
    ASSERT_INT((intptr_t)pRc, SQLITE_OK);
    raftlite_checkpointer_stats st;
    ASSERT_INT(raftlite_checkpointer_get_stats(c, &st), SQLITE_OK);
    ASSERT_INT(st.running, 0);
    raftlite_checkpointer_free(c);
    ASSERT_INT(threadCountSettled(nThread), nThread);
  }
  const char *zCheck = fuCheck(db);
  if (zCheck) FAIL("%s", zCheck);
  fuClose(&db, &store);
  fuRemoveDb(DB);
}

/* The store and its connection closed while the checkpointer runs: it does
** not touch them (it keeps checkpointing the file) and free stops it. */
/* raftlite_close() stops a checkpointer still running (its thread is gone
** when close returns); free() afterwards is still the application's. */
TEST(stop, closeStopsIt) {
  sqlite3 *db;
  raftlite *store;
  openWal(DB, NULL, 5000, &db, &store);
  int nThread = threadCount();
  raftlite_checkpointer *c = startBusy(db, store);
  ASSERT_INT(appendBatch(store, 1, 1, 64, 2000), SQLITE_OK);
  ASSERT_INT(threadCount(), nThread + 1);
  fuClose(&db, &store);
  ASSERT_INT(threadCountSettled(nThread), nThread);
  raftlite_checkpointer_stats st;
  ASSERT_INT(raftlite_checkpointer_get_stats(c, &st), SQLITE_OK);
  ASSERT_INT(st.running, 0);
  ASSERT_INT(st.n_errors, 0);
  ASSERT_INT(raftlite_checkpointer_stop(c), SQLITE_OK); /* again: a no-op */
  raftlite_checkpointer_free(c);
  /* The store is whole. */
  ASSERT_INT(fuOpen(DB, NULL, NULL, "FULL", 0, &db, &store), SQLITE_OK);
  ASSERT_INT(lastIndex(store), 64);
  const char *zCheck = fuCheck(db);
  if (zCheck) FAIL("%s", zCheck);
  fuClose(&db, &store);
  fuRemoveDb(DB);
}

/* Freed before the handle is closed: close does not touch it (the
** sanitizer run would see it), and two on one handle both stop. */
TEST(stop, freedBeforeClose) {
  sqlite3 *db;
  raftlite *store;
  openWal(DB, NULL, 5000, &db, &store);
  int nThread = threadCount();
  raftlite_checkpointer *c1 = startBusy(db, store);
  raftlite_checkpointer *c2 = startBusy(db, store);
  raftlite_checkpointer *c3 = startBusy(db, store);
  ASSERT_INT(threadCount(), nThread + 3);
  ASSERT_INT(appendBatch(store, 1, 1, 16, 100), SQLITE_OK);
  raftlite_checkpointer_free(c2);
  ASSERT_INT(threadCountSettled(nThread + 2), nThread + 2);
  fuClose(&db, &store);
  ASSERT_INT(threadCountSettled(nThread), nThread);
  raftlite_checkpointer_free(c1);
  raftlite_checkpointer_free(c3);
  fuRemoveDb(DB);
}

/******************************************************************************
 * Injected errors
 *****************************************************************************/

/* Appends one entry per call while the checkpointer's writes to the
** database file fail; everything acknowledged survives a power cut. */
static void faultRun(int eClass, int rcFault) {
  sqlite3 *db;
  raftlite *store;
  fvTrack(1);
  openWal(DB, SV_VFS, 5000, &db, &store);
  svLock();
  fvDirSync();
  svUnlock();
  /* The thread does all the copying: the writer's own checkpoints (made on
  ** the arming thread, never failed) stay out of the way. */
  raftlite_checkpointer_config cfg = {0};
  cfg.wal_frames = 5;
  cfg.writer_autocheckpoint = 100000;
  cfg.poll_ms = 1;
  cfg.flags = RAFTLITE_CHECKPOINTER_SET_WRITER_AUTOCHECKPOINT;
  raftlite_checkpointer *c = NULL;
  ASSERT_INT(raftlite_checkpointer_start(store, &cfg, &c), SQLITE_OK);
  uint64_t idx = 1;
  /* Some checkpoints succeed first. */
  raftlite_checkpointer_stats st;
  for (int i = 0; i < 200; i++) {
    ASSERT_INT(appendBatch(store, 1, idx++, 1, 300), SQLITE_OK);
    ASSERT_INT(raftlite_checkpointer_get_stats(c, &st), SQLITE_OK);
    if (st.n_frames > 20) break;
  }
  ASSERT(st.n_frames > 0);
  svArmOthers(eClass, rcFault);
  for (int i = 0; i < 100; i++) {
    int rc = appendBatch(store, 1, idx, 1, 300);
    if (rc != SQLITE_OK) FAIL("the writer failed at %llu: %d %s", (unsigned long long)idx, rc, raftlite_errmsg(store));
    idx++;
    if (i >= 20 && svFiredOthers() > 0) break;
    sleepMs(1);
  }
  long nFired = svFiredOthers();
  svArmOthers(-1, 0);
  if (nFired == 0) FAIL("no %s of the checkpointer failed", fvClassName(eClass));
  /* The writer goes on. */
  for (int i = 0; i < 20; i++) ASSERT_INT(appendBatch(store, 1, idx++, 1, 300), SQLITE_OK);
  int rc = raftlite_checkpointer_stop(c);
  ASSERT_INT(raftlite_checkpointer_get_stats(c, &st), SQLITE_OK);
  raftlite_checkpointer_free(c);
  printf("  %s errors: %ld injected; stop returned %d: %s\n", fvClassName(eClass), nFired, rc,
         st.first_error);
  ASSERT_INT(rc & 0xff, SQLITE_IOERR);
  ASSERT_INT(st.first_rc, rc);
  ASSERT(st.n_errors >= 1);
  ASSERT_CONTAINS(st.first_error, "checkpointer: a PASSIVE checkpoint failed");
  ASSERT_CONTAINS(st.first_error, "the writer's commits are not affected");
  /* Power cut: every unsynced write lost. */
  fvCrashPolicy(FV_DROP, 1);
  fvCrashNow();
  fuClose(&db, &store);
  ASSERT_INT(fvMaterialize(), SQLITE_OK);
  fvTrack(0);
  ASSERT_INT(fuOpen(DB, NULL, NULL, "FULL", 0, &db, &store), SQLITE_OK);
  const char *zCheck = fuCheck(db);
  if (zCheck) FAIL("after the power cut: %s", zCheck);
  ASSERT_INT(lastIndex(store), idx - 1);
  fuClose(&db, &store);
  fuRemoveDb(DB);
}

TEST(fault, writeErrorInCheckpoint) { faultRun(FV_WRITE, SQLITE_IOERR_WRITE); }
TEST(fault, syncErrorInCheckpoint) { faultRun(FV_SYNC, SQLITE_IOERR_FSYNC); }
TEST(fault, readErrorInCheckpoint) { faultRun(FV_READ, SQLITE_IOERR_READ); }

/******************************************************************************
 * The measurement (not in CTest)
 *****************************************************************************/

/* Durable appends per second in nSec seconds, slices of 250 ms alternating
** between a store with the checkpointer and one without (SQLite's default
** auto-checkpoint), in cells of payload size x entries per append. */
static int bench(int nSec) {
  static const int aCell[][2] = {{256, 1}, {256, 16}, {256, 256}, {4096, 1}, {4096, 16}, {4096, 256}};
  printf("cell          without/s     with/s   ratio   (%d s per cell, 250 ms slices)\n", nSec);
  for (size_t iCell = 0; iCell < sizeof(aCell) / sizeof(aCell[0]); iCell++) {
    int nBytes = aCell[iCell][0], k = aCell[iCell][1];
    if (getenv("CK_CELL") && (size_t)atoi(getenv("CK_CELL")) != iCell) continue;
    sqlite3 *aDb[2];
    raftlite *aStore[2];
    const char *azPath[2] = {"bench-off.db", "bench-on.db"};
    raftlite_checkpointer *c = NULL;
    for (int i = 0; i < 2; i++) {
      fuRemoveDb(azPath[i]);
      if (fuOpen(azPath[i], NULL, "WAL", "FULL", 0, &aDb[i], &aStore[i]) != SQLITE_OK) return 1;
      sqlite3_busy_timeout(aDb[i], 5000);
    }
    raftlite_checkpointer_config cfg = {0};
    if (getenv("CK_WAL_FRAMES")) cfg.wal_frames = atoi(getenv("CK_WAL_FRAMES"));
    if (getenv("CK_WRITER")) cfg.writer_autocheckpoint = atoi(getenv("CK_WRITER"));
    cfg.flags = RAFTLITE_CHECKPOINTER_SET_WRITER_AUTOCHECKPOINT;
    if (raftlite_checkpointer_start(aStore[1], &cfg, &c) != SQLITE_OK) {
      fprintf(stderr, "start: %s\n", raftlite_errmsg(aStore[1]));
      return 1;
    }
    double aSec[2] = {0, 0};
    long aN[2] = {0, 0};
    uint64_t aIdx[2] = {1, 1};
    long nMaxWal[2] = {0, 0};
    double tEnd = nowSec() + nSec;
    for (int iSlice = 0; nowSec() < tEnd; iSlice++) {
      int i = iSlice % 2;
      double t0 = nowSec(), t1 = t0;
      while ((t1 = nowSec()) - t0 < 0.25) {
        if (appendBatch(aStore[i], 1, aIdx[i], k, nBytes) != SQLITE_OK) {
          fprintf(stderr, "append: %s\n", raftlite_errmsg(aStore[i]));
          return 1;
        }
        aIdx[i] += (uint64_t)k;
        aN[i] += k;
      }
      aSec[i] += t1 - t0;
      long n = walFrames(azPath[i], 4096);
      if (n > nMaxWal[i]) nMaxWal[i] = n;
    }
    raftlite_checkpointer_stats st;
    raftlite_checkpointer_get_stats(c, &st);
    int rc = raftlite_checkpointer_stop(c);
    raftlite_checkpointer_free(c);
    double r0 = aN[0] / aSec[0], r1 = aN[1] / aSec[1];
    printf("%4d B x %-3d %10.0f %10.0f   %5.2f   (-wal max %ld vs %ld frames; %llu passive;"
           " stop %d)\n",
           nBytes, k, r0, r1, r1 / r0, nMaxWal[0], nMaxWal[1], (unsigned long long)st.n_passive,
           rc);
    fflush(stdout);
    for (int i = 0; i < 2; i++) {
      fuClose(&aDb[i], &aStore[i]);
      fuRemoveDb(azPath[i]);
    }
  }
  return 0;
}

static void *setUp(void) {
  fvRegister();
  svRegister();
  return NULL;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "bench") == 0) return bench(argc > 2 ? atoi(argv[2]) : 10);
  return runTests(argc, argv, setUp, NULL);
}
