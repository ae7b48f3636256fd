/*
** bench_append.c — what the rules cost, side by side in one run.
**
**     build/bench/bench_append [entries]      (default 200000)
**
** Timings on a shared 2-core machine are noisy, so this program reports
** ratios of runs made one after the other in the same process, on the
** same kind of database:
**
**   1. raftlite_append_to_log, one entry per call, against a plain INSERT
**      into a table of the same shape without triggers, each in its own
**      savepoint (the rules' cost per entry);
**   2. the same with 100 entries per call;
**   3. appends to a log already holding N entries against appends to an
**      empty one (whether per-append work grows with the log);
**   4. reading 10 entries from the middle of the log through raft_log
**      against the plain table (range reads stay O(log n + rows)).
**
** Databases are files with synchronous=OFF (RAFTLITE_OPEN_RELAXED): the
** point is the CPU cost of the checks, not the disk's fsync, which is the
** same for both sides and dominates any durable commit.
*/
#include <raftlite.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static sqlite3 *openDb(const char *zPath) {
  remove(zPath);
  sqlite3 *db;
  if (sqlite3_open(zPath, &db) != SQLITE_OK) exit(1);
  sqlite3_exec(db, "PRAGMA synchronous=OFF; PRAGMA journal_mode=TRUNCATE", NULL, NULL, NULL);
  return db;
}

static void check(int rc, const char *zWhat, raftlite *store) {
  if (rc != SQLITE_OK) {
    fprintf(stderr, "%s failed: %d %s\n", zWhat, rc, store ? raftlite_errmsg(store) : "");
    exit(1);
  }
}

/* Appends entries [first, first+n) through raftlite, nPerCall per call. */
static double appendRaftlite(raftlite *store, long first, long n, int nPerCall) {
  raftlite_entry *a = calloc((size_t)nPerCall, sizeof(*a));
  static const char payload[] = "set key=value; a typical small command";
  double t0 = now();
  for (long i = 0; i < n; i += nPerCall) {
    int k = (int)(n - i < nPerCall ? n - i : nPerCall);
    for (int j = 0; j < k; j++) {
      a[j].log_id.term = 1;
      a[j].log_id.index = (uint64_t)(first + i + j);
      a[j].kind = RAFTLITE_NORMAL;
      a[j].data = payload;
      a[j].size = sizeof(payload) - 1;
    }
    check(raftlite_append_to_log(store, a, (size_t)k), "append", store);
  }
  free(a);
  return now() - t0;
}

/* The same rows into a plain table, nPerCall rows per savepoint. */
static double appendPlain(sqlite3 *db, long first, long n, int nPerCall) {
  static const char payload[] = "set key=value; a typical small command";
  sqlite3_stmt *pIns, *pBegin, *pRelease;
  sqlite3_prepare_v2(db, "INSERT INTO plain_log(idx, term, kind, payload) VALUES (?1, 1, 'normal', ?2)",
                     -1, &pIns, NULL);
  sqlite3_prepare_v2(db, "SAVEPOINT s", -1, &pBegin, NULL);
  sqlite3_prepare_v2(db, "RELEASE s", -1, &pRelease, NULL);
  double t0 = now();
  for (long i = 0; i < n; i += nPerCall) {
    int k = (int)(n - i < nPerCall ? n - i : nPerCall);
    sqlite3_step(pBegin);
    sqlite3_reset(pBegin);
    for (int j = 0; j < k; j++) {
      sqlite3_bind_int64(pIns, 1, first + i + j);
      sqlite3_bind_blob(pIns, 2, payload, sizeof(payload) - 1, SQLITE_STATIC);
      sqlite3_step(pIns);
      check(sqlite3_reset(pIns), "plain insert", NULL);
    }
    sqlite3_step(pRelease);
    sqlite3_reset(pRelease);
  }
  double t = now() - t0;
  sqlite3_finalize(pIns);
  sqlite3_finalize(pBegin);
  sqlite3_finalize(pRelease);
  return t;
}

/* Reads 10 rows from the middle, nRepeat times. */
static double readRange(sqlite3 *db, const char *zTable, long nLog, int nRepeat) {
  char zSql[160];
  snprintf(zSql, sizeof(zSql), "SELECT idx, payload FROM %s WHERE idx BETWEEN ?1 AND ?1 + 9", zTable);
  sqlite3_stmt *pStmt;
  check(sqlite3_prepare_v2(db, zSql, -1, &pStmt, NULL), "prepare read", NULL);
  double t0 = now();
  long nRows = 0;
  for (int r = 0; r < nRepeat; r++) {
    sqlite3_bind_int64(pStmt, 1, 1 + (r * 7919L) % (nLog - 10));
    while (sqlite3_step(pStmt) == SQLITE_ROW) nRows++;
    sqlite3_reset(pStmt);
  }
  double t = now() - t0;
  sqlite3_finalize(pStmt);
  if (nRows != 10L * nRepeat) {
    fprintf(stderr, "read %ld rows, expected %ld\n", nRows, 10L * nRepeat);
    exit(1);
  }
  return t;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 200000;
  if (n < 20000) n = 20000;
  printf("raftlite %s, SQLite %s, %ld entries, synchronous=OFF\n\n", raftlite_libversion(),
         sqlite3_libversion(), n);

  sqlite3 *db = openDb("bench-raftlite.db");
  raftlite *store;
  check(raftlite_open_v2(db, "main", RAFTLITE_OPEN_RELAXED, &store), "open", NULL);
  sqlite3 *dbPlain = openDb("bench-plain.db");
  sqlite3_exec(dbPlain,
               "CREATE TABLE plain_log(idx INTEGER PRIMARY KEY, term INTEGER NOT NULL,"
               " kind TEXT NOT NULL, payload ANY NOT NULL) STRICT",
               NULL, NULL, NULL);

  /* 1 and 3: one entry per call; the first and the last 10000 of n. */
  long nProbe = 10000;
  double tFirst = appendRaftlite(store, 1, nProbe, 1);
  double tMiddle = appendRaftlite(store, 1 + nProbe, n - 2 * nProbe, 100);
  double tLast = appendRaftlite(store, 1 + n - nProbe, nProbe, 1);
  double tPlainFirst = appendPlain(dbPlain, 1, nProbe, 1);
  appendPlain(dbPlain, 1 + nProbe, n - 2 * nProbe, 100);
  double tPlainLast = appendPlain(dbPlain, 1 + n - nProbe, nProbe, 1);
  (void)tMiddle;

  printf("%-52s %10s %10s %7s\n", "", "raftlite", "plain", "ratio");
  printf("%-52s %8.2f us %8.2f us %6.2fx\n", "append, 1 entry per call (first 10000)",
         tFirst / (double)nProbe * 1e6, tPlainFirst / (double)nProbe * 1e6, tFirst / tPlainFirst);
  printf("%-52s %8.2f us %8.2f us %6.2fx\n", "append, 1 entry per call (last 10000)",
         tLast / (double)nProbe * 1e6, tPlainLast / (double)nProbe * 1e6, tLast / tPlainLast);

  /* 2: batches of 100, on fresh databases. */
  raftlite_close(store);
  sqlite3_close(db);
  sqlite3_close(dbPlain);
  db = openDb("bench-raftlite-2.db");
  check(raftlite_open_v2(db, "main", RAFTLITE_OPEN_RELAXED, &store), "open", NULL);
  dbPlain = openDb("bench-plain-2.db");
  sqlite3_exec(dbPlain,
               "CREATE TABLE plain_log(idx INTEGER PRIMARY KEY, term INTEGER NOT NULL,"
               " kind TEXT NOT NULL, payload ANY NOT NULL) STRICT",
               NULL, NULL, NULL);
  double tBatch = appendRaftlite(store, 1, n, 100);
  double tPlainBatch = appendPlain(dbPlain, 1, n, 100);
  printf("%-52s %8.2f us %8.2f us %6.2fx\n", "append, 100 entries per call (per entry)",
         tBatch / (double)n * 1e6, tPlainBatch / (double)n * 1e6, tBatch / tPlainBatch);

  /* 4: range reads through the virtual table against the plain table. */
  int nRepeat = 20000;
  double tRead = readRange(db, "raft_log", n, nRepeat);
  double tPlainRead = readRange(dbPlain, "plain_log", n, nRepeat);
  printf("%-52s %8.2f us %8.2f us %6.2fx\n", "read 10 entries from the middle (raft_log)",
         tRead / nRepeat * 1e6, tPlainRead / nRepeat * 1e6, tRead / tPlainRead);
  printf("\nper-append cost, last 10000 / first 10000 of %ld: %.2fx (raftlite), %.2fx (plain)\n",
         n, tLast / tFirst, tPlainLast / tPlainFirst);

  raftlite_close(store);
  sqlite3_close(db);
  sqlite3_close(dbPlain);
  remove("bench-raftlite.db");
  remove("bench-plain.db");
  remove("bench-raftlite-2.db");
  remove("bench-plain-2.db");
  return 0;
}
