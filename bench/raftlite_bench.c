/*
** raftlite_bench.c — raftlite's durable log against the stores people
** compare it with, measured side by side in one run.
**
**     cmake --build build --target raftlite_bench
**     (cd build && bench/raftlite_bench)              full run, about 5 minutes
**     (cd build && bench/raftlite_bench --quick)      about 20 s
**
** Options (see usage()): --quick, --no-compare, --rounds N, --slice S, --log N,
** --only PARTS, --dir DIR, --csv FILE, --checkpointer, --callgrind-append.
**
** HOW IT MEASURES
**
** The machines are shared and noisy, so every comparison is interleaved:
** one "round" gives each store of a part one slice of time (0.2 s by
** default) in turn, the order rotating from round to round, and a part runs
** many rounds. A store's figure is the median of its per-round rates; a
** ratio is the median of the per-round ratios to the reference store of the
** part (the hand-written table), so a burst of noise that hits one round
** hits every store of that round alike and moves no median.
**
** Parts:
**   append   durable appends (WAL, synchronous=FULL, a fresh file per store
**            and cell) in six cells, payload 256 B and 4 KiB x 1, 16 and
**            256 entries per commit, through raftlite's C API, SQL
**            raft_append(), INSERT INTO raft_log; against a hand-written
**            table, a raw file append + fdatasync (the floor) and, when
**            built in, RocksDB (synced writes) and LMDB (durable commits);
**   read     1,000-entry range reads from the middle of a 1,000,000-entry
**            log, cold and warm, through the C API and raft_log against a
**            plain SELECT on the hand-written table;
**   purge    appends on one connection while another purges half of a
**            1,000,000-entry log: latency of each append, and how many of
**            the purging connection's commits any append waited for;
**   growth   the append rate on a 2,000,000-entry log against an empty one;
**   apply    apply throughput with a state machine declared in SQL
**            (raft_state_machine), through the C API and raft_apply().
**   settings the settings check each writing call makes (three PRAGMA
**            statements) against a one-entry durable append.
**
** The program uses raftlite's public C API and SQL only, so it measures
** any log layout behind them. It writes its databases in --dir (default:
** the current directory; run it in the build directory) and removes them.
*/
#define _GNU_SOURCE
#include <raftlite.h>
#include <sqlite3.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef BENCH_HAVE_ROCKSDB
#include <rocksdb/c.h>
#endif
#ifdef BENCH_HAVE_LMDB
#include <lmdb.h>
#endif

/* ==================================================================== */
/* Settings, output, helpers                                            */
/* ==================================================================== */

static struct {
  int bQuick;        /* --quick: small sizes, 3 short rounds */
  int bNoCompare;    /* --no-compare: raftlite's own paths only */
  int bCheckpointer; /* --checkpointer: raftlite stores run the checkpointer */
  int nRound;        /* rounds per part */
  double slice;      /* seconds per store per round */
  long nLog;         /* entries of the log read and purged (1,000,000) */
  long nBig;         /* entries of the grown log (2,000,000) */
  int nColdRead;     /* cold reads per store per round */
  const char *zDir;
  const char *zCsv;
  const char *zOnly;
  FILE *pCsv;
} g;

static void fatal(const char *zFmt, ...) {
  va_list ap;
  va_start(ap, zFmt);
  fprintf(stderr, "raftlite_bench: ");
  vfprintf(stderr, zFmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int partWanted(const char *zPart) {
  if (g.zOnly == NULL) return 1;
  size_t n = strlen(zPart);
  for (const char *z = g.zOnly; (z = strstr(z, zPart)) != NULL; z += n) {
    int bStart = z == g.zOnly || z[-1] == ',';
    int bEnd = z[n] == 0 || z[n] == ',';
    if (bStart && bEnd) return 1;
  }
  return 0;
}

/* One CSV row: part, cell, store, round, metric, value, unit. */
static void csvRow(const char *zPart, const char *zCell, const char *zStore, int iRound,
                   const char *zMetric, double v, const char *zUnit) {
  if (g.pCsv) {
    fprintf(g.pCsv, "%s,%s,%s,%d,%s,%.6g,%s\n", zPart, zCell, zStore, iRound, zMetric, v, zUnit);
  }
}

static int cmpDouble(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The median of n values (a copy is sorted; a is left as it is). */
static double median(const double *a, int n) {
  if (n <= 0) return NAN;
  double *s = malloc(sizeof(double) * (size_t)n);
  memcpy(s, a, sizeof(double) * (size_t)n);
  qsort(s, (size_t)n, sizeof(double), cmpDouble);
  double m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  free(s);
  return m;
}

/* The q-quantile of sorted values (nearest rank). */
static double quantile(const double *aSorted, long n, double q) {
  if (n <= 0) return NAN;
  long i = (long)ceil(q * (double)n) - 1;
  if (i < 0) i = 0;
  if (i >= n) i = n - 1;
  return aSorted[i];
}

static void pathOf(char *zOut, size_t nOut, const char *zName) {
  snprintf(zOut, nOut, "%s/%s", g.zDir, zName);
}

/* Removes a database file with its WAL and shared-memory files, or a
** directory (RocksDB, LMDB) with what is in it. */
static void removeStore(const char *zPath) {
  char z[1100];
  snprintf(z, sizeof(z), "%s-wal", zPath);
  unlink(z);
  snprintf(z, sizeof(z), "%s-shm", zPath);
  unlink(z);
  struct stat st;
  if (stat(zPath, &st) == 0 && S_ISDIR(st.st_mode)) {
    snprintf(z, sizeof(z), "rm -rf '%s'", zPath);
    if (system(z) != 0) fatal("could not remove %s", zPath);
  } else {
    unlink(zPath);
  }
}

static void execOrDie(sqlite3 *db, const char *zSql) {
  char *zErr = NULL;
  if (sqlite3_exec(db, zSql, NULL, NULL, &zErr) != SQLITE_OK) {
    fatal("%s: %s", zSql, zErr ? zErr : sqlite3_errmsg(db));
  }
}

static sqlite3_stmt *prepareOrDie(sqlite3 *db, const char *zSql) {
  sqlite3_stmt *pStmt = NULL;
  if (sqlite3_prepare_v2(db, zSql, -1, &pStmt, NULL) != SQLITE_OK) {
    fatal("cannot prepare %.80s: %s", zSql, sqlite3_errmsg(db));
  }
  return pStmt;
}

/* Runs a statement that returns no row, and resets it. */
static void stepDone(sqlite3 *db, sqlite3_stmt *pStmt) {
  int rc = sqlite3_step(pStmt);
  if (rc != SQLITE_DONE) fatal("%.80s: %s", sqlite3_sql(pStmt), sqlite3_errmsg(db));
  sqlite3_reset(pStmt);
}

/*
** A connection with the durable settings raftlite requires of a file
** (WAL, synchronous=FULL), or, to build a big log fast, synchronous=OFF.
** A busy timeout, since the purge part runs two connections on one file.
*/
/* zVfs: NULL (the default VFS) or RAFTLITE_VFS. */
static sqlite3 *openSqliteVfs(const char *zPath, int bDurable, const char *zVfs) {
  sqlite3 *db = NULL;
  if (zVfs && raftlite_vfs_register(NULL) != SQLITE_OK) fatal("raftlite_vfs_register failed");
  if (sqlite3_open_v2(zPath, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, zVfs) != SQLITE_OK) {
    fatal("cannot open %s: %s", zPath, db ? sqlite3_errmsg(db) : "out of memory");
  }
  execOrDie(db, bDurable ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL"
                         : "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF");
  sqlite3_busy_timeout(db, 60000);
  return db;
}

static sqlite3 *openSqlite(const char *zPath, int bDurable) { return openSqliteVfs(zPath, bDurable, NULL); }

static raftlite *openRaftlite(sqlite3 *db, int flags) {
  raftlite *pStore = NULL;
  int rc, nTry = 0;
  /* Retried on SQLITE_BUSY: another connection may be appending (see
  ** purgerMain). */
  while ((rc = raftlite_open_v2(db, "main", flags, &pStore)) == SQLITE_BUSY && nTry++ < 10000) usleep(1000);
  if (rc != SQLITE_OK) fatal("raftlite_open_v2: %d %s", rc, sqlite3_errmsg(db));
  return pStore;
}

/* ==================================================================== */
/* The background checkpointer                                          */
/* ==================================================================== */

/*
** --checkpointer runs raftlite's background checkpointer (defaults:
** PASSIVE every 250 frames; the writer's wal_autocheckpoint left as it is)
** on every raftlite store of the append part, started after open and
** stopped before close.
*/
static int checkpointerAvailable(const char **pzWhy) {
  *pzWhy = NULL;
  return 1;
}

static void checkpointerStart(sqlite3 *db, raftlite *pStore, void **ppCkpt) {
  (void)db;
  raftlite_checkpointer *pCkpt = NULL;
  int rc = raftlite_checkpointer_start(pStore, NULL, &pCkpt);
  if (rc != SQLITE_OK) fatal("raftlite_checkpointer_start: %d %s", rc, raftlite_errmsg(pStore));
  *ppCkpt = pCkpt;
}

static void checkpointerStop(void *pCkpt) {
  raftlite_checkpointer *p = pCkpt;
  raftlite_checkpointer_stats st;
  int rc = raftlite_checkpointer_stop(p);
  if (raftlite_checkpointer_get_stats(p, &st) != SQLITE_OK) st.first_error[0] = 0;
  if (rc != SQLITE_OK) fatal("raftlite_checkpointer_stop: %d %s", rc, st.first_error);
  raftlite_checkpointer_free(p);
}

/* ==================================================================== */
/* Payloads                                                              */
/* ==================================================================== */

/* Letters and digits only, so that a payload is also a JSON string as it
** is (the raft_append batch form) and stores as many bytes either way;
** pseudo-random, so that no store compresses it much. */
#define PAYLOAD_POOL 8192
#define PAYLOAD_MAX 4096
static char gaPayload[PAYLOAD_POOL + PAYLOAD_MAX];

static void payloadInit(void) {
  static const char zAlpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < sizeof(gaPayload); i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    gaPayload[i] = zAlpha[x % (sizeof(zAlpha) - 1)];
  }
}

static const char *payloadOf(uint64_t idx) { return gaPayload + (idx * 61) % PAYLOAD_POOL; }

/* The record the file, RocksDB and LMDB stores keep per entry: a header
** (index, term, kind, length) and the payload. */
typedef struct Rec {
  uint64_t idx;
  uint64_t term;
  uint32_t kind;
  uint32_t size;
} Rec;

static size_t recPut(unsigned char *aBuf, uint64_t idx, int szPayload) {
  Rec r = {idx, 1, RAFTLITE_NORMAL, (uint32_t)szPayload};
  memcpy(aBuf, &r, sizeof(r));
  memcpy(aBuf + sizeof(r), payloadOf(idx), (size_t)szPayload);
  return sizeof(r) + (size_t)szPayload;
}

#if defined(BENCH_HAVE_ROCKSDB) || defined(BENCH_HAVE_LMDB)
/* A key that sorts as the index: big-endian. */
static void keyPut(unsigned char *aKey, uint64_t idx) {
  for (int i = 0; i < 8; i++) aKey[i] = (unsigned char)(idx >> (56 - 8 * i));
}
#endif

/* ==================================================================== */
/* Stores for the append part                                            */
/* ==================================================================== */

typedef struct Store Store;
typedef struct StoreKind {
  const char *zName;  /* in the CSV */
  const char *zLabel; /* in the table */
  int bRaftlite;      /* one of raftlite's own paths */
  void (*xOpen)(Store *);
  void (*xAppend)(Store *, int n); /* appends n entries from p->iNext */
  void (*xVerify)(Store *);        /* dies unless exactly the appended entries are there */
  void (*xClose)(Store *);
} StoreKind;

struct Store {
  const StoreKind *pKind;
  char zPath[1024];
  int szPayload;
  int nBatch;
  uint64_t iNext; /* the index of the next entry to append */
  sqlite3 *db;
  raftlite *pStore;
  void *pCkpt;
  sqlite3_stmt *pAppend, *pBegin, *pCommit;
  raftlite_entry *aEntry;
  char *zJson;
  unsigned char *aBuf;
  int fd;
  uint64_t nFileBytes;
#ifdef BENCH_HAVE_ROCKSDB
  rocksdb_t *pRocks;
  rocksdb_options_t *pRocksOpt;
  rocksdb_writeoptions_t *pRocksWrite;
  rocksdb_writebatch_t *pRocksBatch;
#endif
#ifdef BENCH_HAVE_LMDB
  MDB_env *pEnv;
  MDB_dbi dbi;
#endif
};

/* --- raftlite, shared by the three raftlite paths --- */

static void rlOpen(Store *p) {
  p->db = openSqlite(p->zPath, 1);
  p->pStore = openRaftlite(p->db, 0);
  if (g.bCheckpointer) checkpointerStart(p->db, p->pStore, &p->pCkpt);
}

static void rlVerify(Store *p) {
  raftlite_log_state st;
  int rc = raftlite_get_log_state(p->pStore, &st);
  if (rc != SQLITE_OK) fatal("%s: raftlite_get_log_state: %s", p->pKind->zName, raftlite_errmsg(p->pStore));
  if (!st.has_last_log || st.last_log_id.index != p->iNext - 1) {
    fatal("%s: the log ends at %llu, %llu entries were appended", p->pKind->zName,
          (unsigned long long)st.last_log_id.index, (unsigned long long)(p->iNext - 1));
  }
}

static void rlClose(Store *p) {
  if (p->pCkpt) checkpointerStop(p->pCkpt);
  sqlite3_finalize(p->pAppend);
  raftlite_close(p->pStore);
  if (sqlite3_close(p->db) != SQLITE_OK) fatal("%s: close: %s", p->pKind->zName, sqlite3_errmsg(p->db));
}

/* (a) the C API: one raftlite_append_to_log per batch. */
static void capiOpen(Store *p) {
  rlOpen(p);
  p->aEntry = calloc((size_t)p->nBatch, sizeof(raftlite_entry));
}

static void capiAppend(Store *p, int n) {
  for (int j = 0; j < n; j++) {
    uint64_t idx = p->iNext + (uint64_t)j;
    p->aEntry[j].log_id.term = 1;
    p->aEntry[j].log_id.index = idx;
    p->aEntry[j].kind = RAFTLITE_NORMAL;
    p->aEntry[j].data = payloadOf(idx);
    p->aEntry[j].size = (size_t)p->szPayload;
  }
  int rc = raftlite_append_to_log(p->pStore, p->aEntry, (size_t)n);
  if (rc != SQLITE_OK) fatal("raftlite_append_to_log: %d %s", rc, raftlite_errmsg(p->pStore));
  p->iNext += (uint64_t)n;
}

/* (a') the same, on a connection opened through the raftlite VFS, which
** spares each call the journal_mode and synchronous PRAGMAs (docs/c-api.md,
** raftlite_vfs_register). */
static void capiVfsOpen(Store *p) {
  p->db = openSqliteVfs(p->zPath, 1, RAFTLITE_VFS);
  p->pStore = openRaftlite(p->db, 0);
  if (g.bCheckpointer) checkpointerStart(p->db, p->pStore, &p->pCkpt);
  p->aEntry = calloc((size_t)p->nBatch, sizeof(raftlite_entry));
}

static void capiClose(Store *p) {
  rlClose(p);
  free(p->aEntry);
}

/*
** (b) SQL raft_append(): a batch is one call with a JSON array, the form
** the README gives for batches (one atomic append); one entry is the
** four-argument form. The payload goes in as a JSON string (text of the
** same bytes).
*/
static void sqlfnOpen(Store *p) {
  rlOpen(p);
  if (p->nBatch == 1) {
    p->pAppend = prepareOrDie(p->db, "SELECT raft_append(?1, 1, 'normal', ?2)");
  } else {
    p->pAppend = prepareOrDie(p->db, "SELECT raft_append(?1)");
    p->zJson = malloc((size_t)p->nBatch * (size_t)(p->szPayload + 80) + 16);
  }
}

static void sqlfnAppend(Store *p, int n) {
  if (n == 1) {
    sqlite3_bind_int64(p->pAppend, 1, (sqlite3_int64)p->iNext);
    sqlite3_bind_blob(p->pAppend, 2, payloadOf(p->iNext), p->szPayload, SQLITE_STATIC);
  } else {
    char *z = p->zJson;
    *z++ = '[';
    for (int j = 0; j < n; j++) {
      uint64_t idx = p->iNext + (uint64_t)j;
      z += sprintf(z, "%s{\"idx\":%llu,\"term\":1,\"kind\":\"normal\",\"payload\":\"", j ? "," : "",
                   (unsigned long long)idx);
      memcpy(z, payloadOf(idx), (size_t)p->szPayload);
      z += p->szPayload;
      *z++ = '"';
      *z++ = '}';
    }
    *z++ = ']';
    sqlite3_bind_text(p->pAppend, 1, p->zJson, (int)(z - p->zJson), SQLITE_STATIC);
  }
  if (sqlite3_step(p->pAppend) != SQLITE_ROW || sqlite3_column_int64(p->pAppend, 0) != n) {
    fatal("raft_append: %s", sqlite3_errmsg(p->db));
  }
  if (sqlite3_reset(p->pAppend) != SQLITE_OK) fatal("raft_append: %s", sqlite3_errmsg(p->db));
  p->iNext += (uint64_t)n;
}

static void sqlfnClose(Store *p) {
  rlClose(p);
  free(p->zJson);
}

/* (c) INSERT INTO raft_log: one multi-row INSERT per batch, which raftlite
** takes as one atomic append. */
static void vtabOpen(Store *p) {
  rlOpen(p);
  size_t nSql = 64 + (size_t)p->nBatch * 24;
  char *zSql = malloc(nSql);
  size_t i = (size_t)snprintf(zSql, nSql, "INSERT INTO raft_log(idx, term, kind, payload) VALUES ");
  for (int j = 0; j < p->nBatch; j++) {
    i += (size_t)snprintf(zSql + i, nSql - i, "%s(?,1,'normal',?)", j ? "," : "");
  }
  p->pAppend = prepareOrDie(p->db, zSql);
  free(zSql);
}

static void vtabAppend(Store *p, int n) {
  if (n != p->nBatch) fatal("INSERT INTO raft_log: prepared for %d rows, not %d", p->nBatch, n);
  for (int j = 0; j < n; j++) {
    uint64_t idx = p->iNext + (uint64_t)j;
    sqlite3_bind_int64(p->pAppend, 2 * j + 1, (sqlite3_int64)idx);
    sqlite3_bind_blob(p->pAppend, 2 * j + 2, payloadOf(idx), p->szPayload, SQLITE_STATIC);
  }
  stepDone(p->db, p->pAppend);
  p->iNext += (uint64_t)n;
}

/* (d) the hand-written table: one prepared INSERT, one transaction per
** batch, the same settings. The reference of every ratio. */
static const char zPlainSchema[] =
    "CREATE TABLE IF NOT EXISTS log(idx INTEGER PRIMARY KEY, term INTEGER, kind INTEGER, payload BLOB)";

static void plainOpen(Store *p) {
  p->db = openSqlite(p->zPath, 1);
  execOrDie(p->db, zPlainSchema);
  p->pAppend = prepareOrDie(p->db, "INSERT INTO log(idx, term, kind, payload) VALUES (?1, 1, 1, ?2)");
  p->pBegin = prepareOrDie(p->db, "BEGIN");
  p->pCommit = prepareOrDie(p->db, "COMMIT");
}

static void plainAppend(Store *p, int n) {
  stepDone(p->db, p->pBegin);
  for (int j = 0; j < n; j++) {
    uint64_t idx = p->iNext + (uint64_t)j;
    sqlite3_bind_int64(p->pAppend, 1, (sqlite3_int64)idx);
    sqlite3_bind_blob(p->pAppend, 2, payloadOf(idx), p->szPayload, SQLITE_STATIC);
    stepDone(p->db, p->pAppend);
  }
  stepDone(p->db, p->pCommit);
  p->iNext += (uint64_t)n;
}

static void plainVerify(Store *p) {
  sqlite3_stmt *pStmt = prepareOrDie(p->db, "SELECT count(*), max(idx) FROM log");
  if (sqlite3_step(pStmt) != SQLITE_ROW ||
      sqlite3_column_int64(pStmt, 0) != (sqlite3_int64)(p->iNext - 1) ||
      sqlite3_column_int64(pStmt, 1) != (sqlite3_int64)(p->iNext - 1)) {
    fatal("plain: the table does not hold the %llu entries appended", (unsigned long long)(p->iNext - 1));
  }
  sqlite3_finalize(pStmt);
}

static void plainClose(Store *p) {
  sqlite3_finalize(p->pAppend);
  sqlite3_finalize(p->pBegin);
  sqlite3_finalize(p->pCommit);
  if (sqlite3_close(p->db) != SQLITE_OK) fatal("plain: close: %s", sqlite3_errmsg(p->db));
}

/* (e) the floor: the batch's records in one write() to a file opened for
** appending, then fdatasync(). */
static void fileOpen(Store *p) {
  p->fd = open(p->zPath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  if (p->fd < 0) fatal("open %s: %s", p->zPath, strerror(errno));
  p->aBuf = malloc((size_t)p->nBatch * (sizeof(Rec) + (size_t)p->szPayload));
}

static void fileAppend(Store *p, int n) {
  size_t nByte = 0;
  for (int j = 0; j < n; j++) nByte += recPut(p->aBuf + nByte, p->iNext + (uint64_t)j, p->szPayload);
  if (write(p->fd, p->aBuf, nByte) != (ssize_t)nByte) fatal("write %s: %s", p->zPath, strerror(errno));
  if (fdatasync(p->fd) != 0) fatal("fdatasync %s: %s", p->zPath, strerror(errno));
  p->nFileBytes += nByte;
  p->iNext += (uint64_t)n;
}

static void fileVerify(Store *p) {
  struct stat st;
  if (fstat(p->fd, &st) != 0 || (uint64_t)st.st_size != p->nFileBytes) {
    fatal("file: %s does not hold the bytes written", p->zPath);
  }
}

static void fileClose(Store *p) {
  close(p->fd);
  free(p->aBuf);
}

#ifdef BENCH_HAVE_ROCKSDB
/* RocksDB: one WriteBatch per batch, WriteOptions.sync = true; otherwise
** its defaults. Keys: the index, big-endian. */
static void rocksOpen(Store *p) {
  char *zErr = NULL;
  p->pRocksOpt = rocksdb_options_create();
  rocksdb_options_set_create_if_missing(p->pRocksOpt, 1);
  p->pRocks = rocksdb_open(p->pRocksOpt, p->zPath, &zErr);
  if (zErr) fatal("rocksdb_open %s: %s", p->zPath, zErr);
  p->pRocksWrite = rocksdb_writeoptions_create();
  rocksdb_writeoptions_set_sync(p->pRocksWrite, 1);
  p->pRocksBatch = rocksdb_writebatch_create();
  p->aBuf = malloc(sizeof(Rec) + (size_t)p->szPayload);
}

static void rocksAppend(Store *p, int n) {
  char *zErr = NULL;
  unsigned char aKey[8];
  rocksdb_writebatch_clear(p->pRocksBatch);
  for (int j = 0; j < n; j++) {
    uint64_t idx = p->iNext + (uint64_t)j;
    keyPut(aKey, idx);
    size_t nVal = recPut(p->aBuf, idx, p->szPayload);
    rocksdb_writebatch_put(p->pRocksBatch, (const char *)aKey, 8, (const char *)p->aBuf, nVal);
  }
  rocksdb_write(p->pRocks, p->pRocksWrite, p->pRocksBatch, &zErr);
  if (zErr) fatal("rocksdb_write: %s", zErr);
  p->iNext += (uint64_t)n;
}

static void rocksVerify(Store *p) {
  char *zErr = NULL;
  unsigned char aKey[8];
  size_t nVal = 0;
  rocksdb_readoptions_t *pRead = rocksdb_readoptions_create();
  keyPut(aKey, p->iNext - 1);
  char *zVal = rocksdb_get(p->pRocks, pRead, (const char *)aKey, 8, &nVal, &zErr);
  if (zErr || zVal == NULL || nVal != sizeof(Rec) + (size_t)p->szPayload) {
    fatal("rocksdb: the last entry appended is missing");
  }
  rocksdb_free(zVal);
  rocksdb_readoptions_destroy(pRead);
}

static void rocksClose(Store *p) {
  rocksdb_writebatch_destroy(p->pRocksBatch);
  rocksdb_writeoptions_destroy(p->pRocksWrite);
  rocksdb_close(p->pRocks);
  rocksdb_options_destroy(p->pRocksOpt);
  free(p->aBuf);
}
#endif

#ifdef BENCH_HAVE_LMDB
/* LMDB: one write transaction per batch, mdb_put(MDB_APPEND) per entry,
** the default durable mdb_txn_commit. Keys: the index, big-endian. */
static void lmdbCheck(int rc, const char *zWhat) {
  if (rc != MDB_SUCCESS) fatal("%s: %s", zWhat, mdb_strerror(rc));
}

static void lmdbOpen(Store *p) {
  MDB_txn *pTxn;
  lmdbCheck(mdb_env_create(&p->pEnv), "mdb_env_create");
  lmdbCheck(mdb_env_set_mapsize(p->pEnv, (size_t)64 << 30), "mdb_env_set_mapsize");
  lmdbCheck(mdb_env_open(p->pEnv, p->zPath, MDB_NOSUBDIR, 0644), "mdb_env_open");
  lmdbCheck(mdb_txn_begin(p->pEnv, NULL, 0, &pTxn), "mdb_txn_begin");
  lmdbCheck(mdb_dbi_open(pTxn, NULL, 0, &p->dbi), "mdb_dbi_open");
  lmdbCheck(mdb_txn_commit(pTxn), "mdb_txn_commit");
  p->aBuf = malloc(sizeof(Rec) + (size_t)p->szPayload);
}

static void lmdbAppend(Store *p, int n) {
  MDB_txn *pTxn;
  unsigned char aKey[8];
  lmdbCheck(mdb_txn_begin(p->pEnv, NULL, 0, &pTxn), "mdb_txn_begin");
  for (int j = 0; j < n; j++) {
    uint64_t idx = p->iNext + (uint64_t)j;
    keyPut(aKey, idx);
    MDB_val k = {8, aKey};
    MDB_val v = {recPut(p->aBuf, idx, p->szPayload), p->aBuf};
    lmdbCheck(mdb_put(pTxn, p->dbi, &k, &v, MDB_APPEND), "mdb_put");
  }
  lmdbCheck(mdb_txn_commit(pTxn), "mdb_txn_commit");
  p->iNext += (uint64_t)n;
}

static void lmdbVerify(Store *p) {
  MDB_txn *pTxn;
  MDB_stat st;
  lmdbCheck(mdb_txn_begin(p->pEnv, NULL, MDB_RDONLY, &pTxn), "mdb_txn_begin");
  lmdbCheck(mdb_stat(pTxn, p->dbi, &st), "mdb_stat");
  mdb_txn_abort(pTxn);
  if (st.ms_entries != p->iNext - 1) fatal("lmdb: %zu entries, %llu appended", st.ms_entries,
                                           (unsigned long long)(p->iNext - 1));
}

static void lmdbClose(Store *p) {
  mdb_dbi_close(p->pEnv, p->dbi);
  mdb_env_close(p->pEnv);
  unlink(p->zPath);
  char z[1100];
  snprintf(z, sizeof(z), "%s-lock", p->zPath);
  unlink(z);
  free(p->aBuf);
}
#endif

static const StoreKind aKind[] = {
    {"capi", "C API", 1, capiOpen, capiAppend, rlVerify, capiClose},
    {"capi_vfs", "C API+VFS", 1, capiVfsOpen, capiAppend, rlVerify, capiClose},
    {"raft_append", "raft_append", 1, sqlfnOpen, sqlfnAppend, rlVerify, sqlfnClose},
    {"insert_raft_log", "INSERT raft_log", 1, vtabOpen, vtabAppend, rlVerify, rlClose},
    {"plain", "plain table", 0, plainOpen, plainAppend, plainVerify, plainClose},
    {"file", "file+fdatasync", 0, fileOpen, fileAppend, fileVerify, fileClose},
#ifdef BENCH_HAVE_ROCKSDB
    {"rocksdb", "RocksDB", 0, rocksOpen, rocksAppend, rocksVerify, rocksClose},
#endif
#ifdef BENCH_HAVE_LMDB
    {"lmdb", "LMDB", 0, lmdbOpen, lmdbAppend, lmdbVerify, lmdbClose},
#endif
};
#define N_KIND ((int)(sizeof(aKind) / sizeof(aKind[0])))
#define REF_KIND 4 /* "plain" */

static void storeInit(Store *p, const StoreKind *pKind, const char *zTag, int szPayload, int nBatch) {
  char zName[256];
  memset(p, 0, sizeof(*p));
  p->pKind = pKind;
  p->szPayload = szPayload;
  p->nBatch = nBatch;
  p->iNext = 1;
  p->fd = -1;
  snprintf(zName, sizeof(zName), "bench-%s-%s.db", zTag, pKind->zName);
  pathOf(p->zPath, sizeof(p->zPath), zName);
  removeStore(p->zPath);
  pKind->xOpen(p);
}

static void storeFinish(Store *p) {
  p->pKind->xVerify(p);
  p->pKind->xClose(p);
  removeStore(p->zPath);
}

/* Appends batches for one slice; returns the rate in entries/s. */
static double storeSlice(Store *p) {
  long n = 0;
  double t0 = now(), t;
  do {
    p->pKind->xAppend(p, p->nBatch);
    n += p->nBatch;
    t = now() - t0;
  } while (t < g.slice);
  return (double)n / t;
}

/* ==================================================================== */
/* Printing a part's results                                             */
/* ==================================================================== */

/* aRate[s*nRound + r]: store s's figure in round r. Prints "median
** (ratio)" per store, the ratio being the median over rounds of the
** per-round ratio to store iRef (-1: no ratio), and writes the CSV rows.
** Returns the median ratio of each store in aRatio (NAN without one). */
static void reportRow(const char *zPart, const char *zCell, const char **azStore, int nStore,
                      const double *aRate, int iRef, const char *zUnit, double *aRatio) {
  int nRound = g.nRound;
  double *aR = malloc(sizeof(double) * (size_t)nRound);
  printf("%-12s", zCell);
  for (int s = 0; s < nStore; s++) {
    const double *a = aRate + s * nRound;
    for (int r = 0; r < nRound; r++) csvRow(zPart, zCell, azStore[s], r, "rate", a[r], zUnit);
    double m = median(a, nRound);
    double ratio = NAN;
    if (iRef >= 0) {
      for (int r = 0; r < nRound; r++) aR[r] = a[r] / aRate[iRef * nRound + r];
      ratio = median(aR, nRound);
    }
    if (aRatio) aRatio[s] = ratio;
    if (isnan(ratio)) {
      printf(" %10.0f       ", m);
    } else {
      printf(" %10.0f (%4.2f)", m, ratio);
    }
  }
  printf("\n");
  free(aR);
}

static void reportHeader(const char **azLabel, int nStore) {
  printf("%-12s", "");
  for (int s = 0; s < nStore; s++) printf(" %17s", azLabel[s]);
  printf("\n");
}

/* ==================================================================== */
/* Part 1: durable appends                                              */
/* ==================================================================== */

/* The figures the summary checks against the performance targets. */
static double gaAppendRatio[6][N_KIND];
static double gGrowthRatio = NAN;
static double gaReadRatio[2][2]; /* [cold, warm][capi, raft_log] */
static int gMaxWaited = -1;

static void partAppend(void) {
  static const int aSize[] = {256, 4096};
  static const int aBatch[] = {1, 16, 256};
  const StoreKind *apKind[N_KIND];
  const char *azName[N_KIND], *azLabel[N_KIND];
  int nStore = 0, iRef = -1;
  for (int k = 0; k < N_KIND; k++) {
    if (g.bNoCompare && !aKind[k].bRaftlite) continue;
    if (k == REF_KIND) iRef = nStore;
    apKind[nStore] = &aKind[k];
    azName[nStore] = aKind[k].zName;
    azLabel[nStore] = aKind[k].zLabel;
    nStore++;
  }
  printf("\n1. Durable appends, entries/s: median of %d rounds of %.2f s per store%s\n"
         "   (WAL, synchronous=FULL; in parentheses the median per-round ratio to the plain table)\n",
         g.nRound, g.slice, g.bCheckpointer ? ", raftlite with its background checkpointer" : "");
  reportHeader(azLabel, nStore);

  Store *aStore = calloc((size_t)nStore, sizeof(Store));
  double *aRate = calloc((size_t)(nStore * g.nRound), sizeof(double));
  int iCell = 0;
  for (int iSize = 0; iSize < 2; iSize++) {
    for (int iBatch = 0; iBatch < 3; iBatch++, iCell++) {
      char zCell[32];
      snprintf(zCell, sizeof(zCell), "%s x %d", aSize[iSize] == 256 ? "256B" : "4KiB", aBatch[iBatch]);
      char zTag[32];
      snprintf(zTag, sizeof(zTag), "a%d", iCell);
      for (int s = 0; s < nStore; s++) {
        storeInit(&aStore[s], apKind[s], zTag, aSize[iSize], aBatch[iBatch]);
        aStore[s].pKind->xAppend(&aStore[s], aBatch[iBatch]); /* first pages, first sync */
      }
      for (int r = 0; r < g.nRound; r++) {
        for (int k = 0; k < nStore; k++) {
          int s = (k + r) % nStore;
          aRate[s * g.nRound + r] = storeSlice(&aStore[s]);
        }
      }
      for (int s = 0; s < nStore; s++) storeFinish(&aStore[s]);
      double aRatio[N_KIND];
      reportRow("append", zCell, azName, nStore, aRate, iRef, "entries/s", aRatio);
      for (int s = 0; s < nStore; s++) {
        for (int k = 0; k < N_KIND; k++) {
          if (apKind[s] == &aKind[k]) gaAppendRatio[iCell][k] = aRatio[s];
        }
      }
      fflush(stdout);
    }
  }
  free(aStore);
  free(aRate);
}

/* ==================================================================== */
/* Building the big logs                                                 */
/* ==================================================================== */

#define BIG_PAYLOAD 256
#define BUILD_BATCH 10000

/* Appends entries [from, to] to a raftlite log (the fastest path: the C
** API in big batches, synchronous=OFF, then a checkpoint). */
static void buildRaftlite(const char *zPath, long from, long to) {
  sqlite3 *db = openSqlite(zPath, 0);
  raftlite *pStore = openRaftlite(db, RAFTLITE_OPEN_RELAXED);
  raftlite_entry *a = calloc(BUILD_BATCH, sizeof(raftlite_entry));
  for (long i = from; i <= to; i += BUILD_BATCH) {
    int n = (int)(to - i + 1 < BUILD_BATCH ? to - i + 1 : BUILD_BATCH);
    for (int j = 0; j < n; j++) {
      a[j].log_id.term = 1;
      a[j].log_id.index = (uint64_t)(i + j);
      a[j].kind = RAFTLITE_NORMAL;
      a[j].data = payloadOf((uint64_t)(i + j));
      a[j].size = BIG_PAYLOAD;
    }
    int rc = raftlite_append_to_log(pStore, a, (size_t)n);
    if (rc != SQLITE_OK) fatal("building %s: %s", zPath, raftlite_errmsg(pStore));
  }
  free(a);
  raftlite_close(pStore);
  execOrDie(db, "PRAGMA wal_checkpoint(TRUNCATE)");
  sqlite3_close(db);
}

static void buildPlain(const char *zPath, long from, long to) {
  sqlite3 *db = openSqlite(zPath, 0);
  execOrDie(db, zPlainSchema);
  sqlite3_stmt *pIns = prepareOrDie(db, "INSERT INTO log(idx, term, kind, payload) VALUES (?1, 1, 1, ?2)");
  for (long i = from; i <= to; i += BUILD_BATCH) {
    execOrDie(db, "BEGIN");
    for (long j = i; j <= to && j < i + BUILD_BATCH; j++) {
      sqlite3_bind_int64(pIns, 1, j);
      sqlite3_bind_blob(pIns, 2, payloadOf((uint64_t)j), BIG_PAYLOAD, SQLITE_STATIC);
      stepDone(db, pIns);
    }
    execOrDie(db, "COMMIT");
  }
  sqlite3_finalize(pIns);
  execOrDie(db, "PRAGMA wal_checkpoint(TRUNCATE)");
  sqlite3_close(db);
}

static void copyFile(const char *zFrom, const char *zTo) {
  int fdIn = open(zFrom, O_RDONLY);
  int fdOut = open(zTo, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fdIn < 0 || fdOut < 0) fatal("copy %s to %s: %s", zFrom, zTo, strerror(errno));
  static char aBuf[1 << 20];
  ssize_t n;
  while ((n = read(fdIn, aBuf, sizeof(aBuf))) > 0) {
    if (write(fdOut, aBuf, (size_t)n) != n) fatal("copy to %s: %s", zTo, strerror(errno));
  }
  if (n < 0) fatal("copy %s: %s", zFrom, strerror(errno));
  close(fdIn);
  close(fdOut);
}

/* ==================================================================== */
/* Part 2: range reads                                                   */
/* ==================================================================== */

#define READ_N 1000

typedef struct Reader {
  int iWay; /* 0: C API, 1: raft_log, 2: plain table */
  sqlite3 *db;
  raftlite *pStore;
  sqlite3_stmt *pSel;
} Reader;

static const char *azReadName[] = {"capi", "raft_log", "plain"};
static const char *azReadLabel[] = {"C API", "SELECT raft_log", "plain SELECT"};

static void readerOpen(Reader *p, int iWay, const char *zPath, int bCold) {
  memset(p, 0, sizeof(*p));
  p->iWay = iWay;
  p->db = openSqlite(zPath, 1);
  if (bCold) execOrDie(p->db, "PRAGMA cache_size=16");
  if (iWay < 2) p->pStore = openRaftlite(p->db, 0);
  if (iWay > 0) {
    p->pSel = prepareOrDie(p->db, iWay == 1 ? "SELECT idx, term, kind, payload FROM raft_log WHERE idx BETWEEN ?1 AND ?2"
                                            : "SELECT idx, term, kind, payload FROM log WHERE idx BETWEEN ?1 AND ?2");
  }
}

static void readerClose(Reader *p) {
  sqlite3_finalize(p->pSel);
  raftlite_close(p->pStore);
  sqlite3_close(p->db);
}

/* Reads entries [start, start + READ_N) and checks them; returns the sum
** of the payload sizes (so that every byte is looked at). */
static size_t readerRead(Reader *p, long start) {
  size_t nByte = 0;
  if (p->iWay == 0) {
    raftlite_entries e;
    int rc = raftlite_try_get_log_entries(p->pStore, (uint64_t)start, (uint64_t)(start + READ_N), &e);
    if (rc != SQLITE_OK) fatal("raftlite_try_get_log_entries: %s", raftlite_errmsg(p->pStore));
    if (e.n != READ_N || e.a[0].log_id.index != (uint64_t)start) fatal("C API: read %zu entries", e.n);
    for (size_t i = 0; i < e.n; i++) nByte += e.a[i].size + ((const char *)e.a[i].data)[0];
    raftlite_entries_free(&e);
  } else {
    int n = 0;
    sqlite3_bind_int64(p->pSel, 1, start);
    sqlite3_bind_int64(p->pSel, 2, start + READ_N - 1);
    while (sqlite3_step(p->pSel) == SQLITE_ROW) {
      if (sqlite3_column_int64(p->pSel, 0) != start + n) fatal("%s: rows out of order", azReadName[p->iWay]);
      sqlite3_column_int64(p->pSel, 1);
      sqlite3_column_value(p->pSel, 2);
      const char *a = sqlite3_column_blob(p->pSel, 3);
      nByte += (size_t)sqlite3_column_bytes(p->pSel, 3) + (size_t)a[0];
      n++;
    }
    if (sqlite3_reset(p->pSel) != SQLITE_OK || n != READ_N) {
      fatal("%s: read %d rows: %s", azReadName[p->iWay], n, sqlite3_errmsg(p->db));
    }
  }
  return nByte;
}

static uint64_t gSeed = 88172645463325252ull;
static long randomIn(long lo, long hi) {
  gSeed ^= gSeed << 13;
  gSeed ^= gSeed >> 7;
  gSeed ^= gSeed << 17;
  return lo + (long)(gSeed % (uint64_t)(hi - lo + 1));
}

static void partRead(const char *zRaft, const char *zPlain) {
  int nWay = g.bNoCompare ? 2 : 3;
  int iRef = g.bNoCompare ? -1 : 2;
  long mid = g.nLog / 2;
  double *aRate = calloc((size_t)(3 * g.nRound), sizeof(double));
  volatile size_t nSink = 0;
  printf("\n2. Range reads of %d entries from the middle of a %ld-entry log, reads/s: median of %d rounds\n"
         "   cold: a fresh connection per read, PRAGMA cache_size=16, at a random place in the middle half\n"
         "   (SQLite's cache is empty; the OS page cache is not dropped: that needs root);\n"
         "   warm: one connection, the same middle range again and again, %.2f s per store per round\n",
         READ_N, g.nLog, g.nRound, g.slice);
  reportHeader(azReadLabel, nWay);
  for (int bWarm = 0; bWarm < 2; bWarm++) {
    for (int r = 0; r < g.nRound; r++) {
      for (int k = 0; k < nWay; k++) {
        int w = (k + r) % nWay;
        const char *zPath = w == 2 ? zPlain : zRaft;
        Reader rd;
        double t = 0;
        int n = 0;
        if (bWarm) {
          readerOpen(&rd, w, zPath, 0);
          nSink += readerRead(&rd, mid - READ_N / 2); /* warms the cache */
          double t0 = now();
          do {
            nSink += readerRead(&rd, mid - READ_N / 2);
            n++;
            t = now() - t0;
          } while (t < g.slice);
          readerClose(&rd);
        } else {
          for (int i = 0; i < g.nColdRead; i++) {
            readerOpen(&rd, w, zPath, 1);
            long start = randomIn(g.nLog / 4, 3 * g.nLog / 4 - READ_N);
            double t0 = now();
            nSink += readerRead(&rd, start);
            t += now() - t0;
            n++;
            readerClose(&rd);
          }
        }
        aRate[w * g.nRound + r] = n / t;
      }
    }
    double aRatio[3];
    reportRow("read", bWarm ? "warm" : "cold", azReadName, nWay, aRate, iRef, "reads/s", aRatio);
    gaReadRatio[bWarm][0] = aRatio[0];
    gaReadRatio[bWarm][1] = aRatio[1];
  }
  (void)nSink;
  free(aRate);
}

/* ==================================================================== */
/* Part 3: appends during a purge                                        */
/* ==================================================================== */

#define MAX_COMMITS 100000

typedef struct Purger {
  const char *zPath;
  long upto;
  volatile int bReady; /* its handle is open */
  volatile int bStart;
  double tStart, tEnd;
  int nCommit;
  int nBusy; /* SQLITE_BUSY returns retried */
  double aCommit[MAX_COMMITS]; /* when each of its commits ended */
} Purger;

/* Records when each commit of the purging connection ends; checkpoints as
** the default hook would (this hook replaces it). */
static int purgerWalHook(void *pArg, sqlite3 *db, const char *zDb, int nFrame) {
  Purger *p = pArg;
  if (p->nCommit < MAX_COMMITS) p->aCommit[p->nCommit++] = now();
  if (nFrame >= 1000) sqlite3_wal_checkpoint_v2(db, zDb, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
  return SQLITE_OK;
}

static void *purgerMain(void *pArg) {
  Purger *p = pArg;
  sqlite3 *db = openSqlite(p->zPath, 1);
  raftlite *pStore = openRaftlite(db, 0);
  sqlite3_wal_hook(db, purgerWalHook, p);
  p->bReady = 1;
  while (!p->bStart) usleep(1000);
  raftlite_log_id upto = {1, (uint64_t)p->upto};
  p->tStart = now();
  int rc;
  /* A call starts a deferred transaction: when the appender commits
  ** between its first read and its first write it fails with SQLITE_BUSY
  ** whatever the busy timeout, and is retried (and counted). */
  while ((rc = raftlite_purge_logs_upto(pStore, upto)) == SQLITE_BUSY) {
    p->nBusy++;
    usleep(100);
  }
  p->tEnd = now();
  if (rc != SQLITE_OK) fatal("raftlite_purge_logs_upto: %d %s", rc, raftlite_errmsg(pStore));
  raftlite_close(pStore);
  sqlite3_close(db);
  return NULL;
}

typedef struct Lat {
  double t0, t1;
} Lat;

/* One durable one-entry append through the C API; SQLITE_BUSY (which the
** busy timeout does not prevent: see purgerMain) is retried and counted, as
** a node would have to. */
static void appendOne(raftlite *pStore, uint64_t idx, int *pnBusy) {
  raftlite_entry e = {{1, idx}, RAFTLITE_NORMAL, payloadOf(idx), BIG_PAYLOAD};
  for (;;) {
    int rc = raftlite_append_to_log(pStore, &e, 1);
    if (rc == SQLITE_OK) return;
    if ((rc & 0xff) != SQLITE_BUSY) fatal("append during the purge: %d %s", rc, raftlite_errmsg(pStore));
    (*pnBusy)++;
    usleep(100);
  }
}

static void latencyStats(const char *zCell, const Lat *a, long n, double *pP99) {
  double *aMs = malloc(sizeof(double) * (size_t)(n ? n : 1));
  for (long i = 0; i < n; i++) aMs[i] = (a[i].t1 - a[i].t0) * 1e3;
  qsort(aMs, (size_t)n, sizeof(double), cmpDouble);
  double p50 = quantile(aMs, n, 0.5), p99 = quantile(aMs, n, 0.99), mx = n ? aMs[n - 1] : NAN;
  printf("   %-8s %7ld appends   p50 %8.3f ms   p99 %8.3f ms   max %9.3f ms\n", zCell, n, p50, p99, mx);
  csvRow("purge", zCell, "capi", 0, "appends", (double)n, "count");
  csvRow("purge", zCell, "capi", 0, "p50", p50, "ms");
  csvRow("purge", zCell, "capi", 0, "p99", p99, "ms");
  csvRow("purge", zCell, "capi", 0, "max", mx, "ms");
  if (pP99) *pP99 = p99;
  free(aMs);
}

static void partPurge(const char *zSource) {
  char zPath[1024];
  pathOf(zPath, sizeof(zPath), "bench-purge.db");
  removeStore(zPath);
  copyFile(zSource, zPath);
  long upto = g.nLog / 2;

  /* Purging needs the entries applied first (no state machine: no-ops). */
  sqlite3 *db = openSqlite(zPath, 1);
  char zSql[80];
  snprintf(zSql, sizeof(zSql), "SELECT raft_apply(%ld)", upto);
  raftlite *pStore = openRaftlite(db, 0);
  execOrDie(db, zSql);
  execOrDie(db, "PRAGMA wal_checkpoint(TRUNCATE)");

  Purger *pPurger = calloc(1, sizeof(Purger));
  pPurger->zPath = zPath;
  pPurger->upto = upto;
  pthread_t tid;
  if (pthread_create(&tid, NULL, purgerMain, pPurger) != 0) fatal("pthread_create");
  /* Its open must not race the appends (it would be refused as busy). */
  while (!pPurger->bReady) usleep(1000);

  long nMax = 1000000, nBase = 0, nDuring = 0;
  Lat *aBase = malloc(sizeof(Lat) * (size_t)nMax);
  Lat *aDuring = malloc(sizeof(Lat) * (size_t)nMax);
  uint64_t idx = (uint64_t)g.nLog + 1;
  int nBusyBase = 0, nBusy = 0;
  double tBase = g.bQuick ? 0.3 : 2.0;
  double t0 = now();
  while (now() - t0 < tBase && nBase < nMax) {
    aBase[nBase].t0 = now();
    appendOne(pStore, idx++, &nBusyBase);
    aBase[nBase++].t1 = now();
  }
  pPurger->bStart = 1;
  /* Appends from the purge's start until 0.2 s after its end. */
  while (nDuring < nMax) {
    aDuring[nDuring].t0 = now();
    appendOne(pStore, idx++, &nBusy);
    aDuring[nDuring++].t1 = now();
    if (pPurger->tEnd > 0 && now() - pPurger->tEnd > 0.2) break;
  }
  pthread_join(tid, NULL);

  /* The appends that overlapped the purge, and the purge's commits any
  ** one of them waited for (those that ended while it was in flight). */
  long iFirst = 0, iLast = nDuring;
  while (iFirst < nDuring && aDuring[iFirst].t1 < pPurger->tStart) iFirst++;
  while (iLast > iFirst && aDuring[iLast - 1].t0 > pPurger->tEnd) iLast--;
  int maxWaited = 0;
  for (long i = iFirst; i < iLast; i++) {
    int n = 0;
    for (int c = 0; c < pPurger->nCommit; c++) {
      if (pPurger->aCommit[c] > aDuring[i].t0 && pPurger->aCommit[c] <= aDuring[i].t1) n++;
    }
    if (n > maxWaited) maxWaited = n;
  }
  gMaxWaited = maxWaited;

  raftlite_log_state st;
  if (raftlite_get_log_state(pStore, &st) != SQLITE_OK || !st.has_last_purged ||
      st.last_purged_log_id.index != (uint64_t)upto || st.last_log_id.index != idx - 1) {
    fatal("purge: the log state is not what the purge and the appends made");
  }
  raftlite_close(pStore);
  sqlite3_close(db);
  removeStore(zPath);

  printf("\n3. One-entry durable appends (256 B, C API) while another connection purges %ld of %ld entries\n"
         "   the purge took %.3f s in %d commit(s) and was retried %d time(s) after SQLITE_BUSY;\n"
         "   appends retried after SQLITE_BUSY: %d before the purge, %d during\n",
         upto, g.nLog, pPurger->tEnd - pPurger->tStart, pPurger->nCommit, pPurger->nBusy, nBusyBase, nBusy);
  latencyStats("before", aBase, nBase, NULL);
  latencyStats("during", aDuring + iFirst, iLast - iFirst, NULL);
  printf("   most purge commits one append waited for: %d\n", maxWaited);
  csvRow("purge", "during", "capi", 0, "purge_seconds", pPurger->tEnd - pPurger->tStart, "s");
  csvRow("purge", "during", "capi", 0, "purge_commits", pPurger->nCommit, "count");
  csvRow("purge", "during", "capi", 0, "max_commits_waited", maxWaited, "count");
  csvRow("purge", "during", "capi", 0, "busy_retries", nBusy, "count");
  csvRow("purge", "during", "capi", 0, "purge_busy_retries", pPurger->nBusy, "count");
  /* Each append's latency, for the plot: its start relative to the purge. */
  for (long i = 0; i < nBase; i++) {
    csvRow("purge_trace", "before", "capi", (int)i, "latency_ms", (aBase[i].t1 - aBase[i].t0) * 1e3, "ms");
  }
  for (long i = 0; i < nDuring; i++) {
    const char *zPhase = aDuring[i].t1 < pPurger->tStart ? "before" : aDuring[i].t0 > pPurger->tEnd ? "after" : "during";
    csvRow("purge_trace", zPhase, "capi", (int)(nBase + i),
           "latency_ms", (aDuring[i].t1 - aDuring[i].t0) * 1e3, "ms");
  }
  free(aBase);
  free(aDuring);
  free(pPurger);
}

/* ==================================================================== */
/* Part 4: the append rate on a long log                                 */
/* ==================================================================== */

static const StoreKind *kindNamed(const char *zName) {
  for (int k = 0; k < N_KIND; k++) {
    if (strcmp(aKind[k].zName, zName) == 0) return &aKind[k];
  }
  return NULL;
}

/* A store of kind pKind on an existing file holding nHave entries. */
static void storeReopen(Store *p, const StoreKind *pKind, const char *zPath, long nHave, int nBatch) {
  memset(p, 0, sizeof(*p));
  p->pKind = pKind;
  p->szPayload = BIG_PAYLOAD;
  p->nBatch = nBatch;
  p->iNext = (uint64_t)nHave + 1;
  snprintf(p->zPath, sizeof(p->zPath), "%s", zPath);
  pKind->xOpen(p);
}

static void partGrowth(const char *zRaft, const char *zPlain) {
  /* Stores: raftlite on the long log, on an empty one; the same for the
  ** plain table (SQLite's own share of any slowdown). */
  int nPair = g.bNoCompare ? 1 : 2;
  int nStore = 2 * nPair;
  const char *azName[] = {"capi_long", "capi_empty", "plain_long", "plain_empty"};
  const char *azLabel[] = {"C API, long", "C API, empty", "plain, long", "plain, empty"};
  static const int aBatch[] = {1, 16};
  printf("\n4. Appends on a %ld-entry log and on an empty one (256 B, entries/s, median of %d rounds;\n"
         "   ratio: long log / empty log, per round)\n",
         g.nBig, g.nRound);
  reportHeader(azLabel, nStore);
  double *aRate = calloc((size_t)(nStore * g.nRound), sizeof(double));
  for (int iBatch = 0; iBatch < 2; iBatch++) {
    Store aStore[4];
    for (int i = 0; i < nPair; i++) {
      const StoreKind *pKind = kindNamed(i == 0 ? "capi" : "plain");
      const char *zLong = i == 0 ? zRaft : zPlain;
      char zEmpty[1024];
      pathOf(zEmpty, sizeof(zEmpty), i == 0 ? "bench-empty-capi.db" : "bench-empty-plain.db");
      removeStore(zEmpty);
      /* The long log's last index: read it, since the previous cell grew it. */
      sqlite3 *db = openSqlite(zLong, 1);
      raftlite *pTmp = i == 0 ? openRaftlite(db, 0) : NULL; /* registers raft_log */
      sqlite3_stmt *pMax = prepareOrDie(db, i == 0 ? "SELECT max(idx) FROM raft_log" : "SELECT max(idx) FROM log");
      if (sqlite3_step(pMax) != SQLITE_ROW) fatal("growth: %s", sqlite3_errmsg(db));
      long nHave = (long)sqlite3_column_int64(pMax, 0);
      sqlite3_finalize(pMax);
      raftlite_close(pTmp);
      sqlite3_close(db);
      storeReopen(&aStore[2 * i], pKind, zLong, nHave, aBatch[iBatch]);
      storeReopen(&aStore[2 * i + 1], pKind, zEmpty, 0, aBatch[iBatch]);
    }
    for (int r = 0; r < g.nRound; r++) {
      for (int k = 0; k < nStore; k++) {
        int s = (k + r) % nStore;
        aRate[s * g.nRound + r] = storeSlice(&aStore[s]);
      }
    }
    for (int s = 0; s < nStore; s++) {
      aStore[s].pKind->xVerify(&aStore[s]);
      aStore[s].pKind->xClose(&aStore[s]);
    }
    for (int i = 0; i < nPair; i++) removeStore(aStore[2 * i + 1].zPath);
    /* Ratios long/empty: each pair against its own empty log. */
    char zCell[32];
    snprintf(zCell, sizeof(zCell), "256B x %d", aBatch[iBatch]);
    printf("%-12s", zCell);
    for (int s = 0; s < nStore; s++) {
      double *a = aRate + s * g.nRound;
      double aR[1024];
      for (int r = 0; r < g.nRound && r < 1024; r++) {
        csvRow("growth", zCell, azName[s], r, "rate", a[r], "entries/s");
        aR[r] = s % 2 == 0 ? a[r] / aRate[(s + 1) * g.nRound + r] : 1.0;
      }
      double ratio = median(aR, g.nRound);
      if (s == 0 && iBatch == 0) gGrowthRatio = ratio;
      if (s == 0 && iBatch == 1 && ratio < gGrowthRatio) gGrowthRatio = ratio;
      printf(" %10.0f (%4.2f)", median(a, g.nRound), ratio);
    }
    printf("\n");
  }
  free(aRate);
}

/* ==================================================================== */
/* Part 6: the cost of the settings check                                */
/* ==================================================================== */

/*
** Every raftlite call that writes first checks that the triggers and CHECK
** constraints are on (SQLITE_DBCONFIG_ENABLE_TRIGGER, PRAGMA
** ignore_check_constraints) and that the schema's settings keep a commit
** durable (PRAGMA journal_mode, PRAGMA synchronous). SQLite compiles a
** PRAGMA statement anew each time it runs, and no other interface reads
** these settings. On a connection opened through the raftlite VFS the two
** durability PRAGMAs are replaced by one file control that reads the
** file's settings epoch (ext/vfs_watch.c), and run only when it changed.
** This part runs both checks as raftlite runs them, statements kept
** prepared, interleaved with one-entry durable appends through the C API
** (on each kind of connection), and reports each check's time as a share
** of an append's.
*/
#define SETTINGS_EPOCH_FCNTL 0x524c5745 /* RL_FCNTL_SETTINGS_EPOCH, ext/raftlite_int.h */

static void settingsOpenVfs(Store *p, const char *zVfs) {
  p->db = openSqliteVfs(p->zPath, 1, zVfs);
  p->pAppend = prepareOrDie(p->db, "PRAGMA ignore_check_constraints");
  p->pBegin = prepareOrDie(p->db, "PRAGMA main.journal_mode");
  p->pCommit = prepareOrDie(p->db, "PRAGMA main.synchronous");
  execOrDie(p->db, "CREATE TABLE IF NOT EXISTS t(x); INSERT INTO t VALUES (1)"); /* opens the WAL */
}
static void settingsOpen(Store *p) { settingsOpenVfs(p, NULL); }
static void settingsWatchedOpen(Store *p) { settingsOpenVfs(p, RAFTLITE_VFS); }

static void stepRow(Store *p, sqlite3_stmt *pStmt) {
  if (sqlite3_step(pStmt) != SQLITE_ROW) fatal("settings: %s", sqlite3_errmsg(p->db));
  sqlite3_reset(pStmt);
}

static void settingsRun(Store *p, int n) {
  for (int j = 0; j < n; j++) {
    int bTriggers = 0;
    sqlite3_db_config(p->db, SQLITE_DBCONFIG_ENABLE_TRIGGER, -1, &bTriggers);
    stepRow(p, p->pAppend);
    stepRow(p, p->pBegin);
    stepRow(p, p->pCommit);
  }
}

static void settingsWatchedRun(Store *p, int n) {
  for (int j = 0; j < n; j++) {
    int bTriggers = 0;
    sqlite3_db_config(p->db, SQLITE_DBCONFIG_ENABLE_TRIGGER, -1, &bTriggers);
    stepRow(p, p->pAppend);
    sqlite3_uint64 iEpoch = 0;
    if (sqlite3_file_control(p->db, "main", SETTINGS_EPOCH_FCNTL, &iEpoch) != SQLITE_OK) {
      fatal("settings: the raftlite VFS does not answer");
    }
  }
}

static void settingsVerify(Store *p) { (void)p; }

static void settingsClose(Store *p) {
  sqlite3_finalize(p->pAppend);
  sqlite3_finalize(p->pBegin);
  sqlite3_finalize(p->pCommit);
  sqlite3_close(p->db);
}

static double gaSettingsShare[2] = {NAN, NAN}; /* [default VFS, raftlite VFS] */

static void partSettings(void) {
  static const StoreKind checkKind = {"check", "check", 1, settingsOpen,
                                      settingsRun, settingsVerify, settingsClose};
  static const StoreKind watchedKind = {"check_vfs", "check+VFS", 1, settingsWatchedOpen,
                                        settingsWatchedRun, settingsVerify, settingsClose};
  const StoreKind *apKind[4] = {kindNamed("capi"), kindNamed("capi_vfs"), &checkKind, &watchedKind};
  const char *azName[4] = {"capi", "capi_vfs", "check", "check_vfs"};
  const char *azLabel[4] = {"C API", "C API+VFS", "check", "check+VFS"};
  printf("\n6. The check each writing call makes, against a one-entry durable append\n"
         "   (256 B, C API), calls/s: median of %d rounds; in parentheses the ratio to the\n"
         "   C API append on the default VFS\n",
         g.nRound);
  reportHeader(azLabel, 4);
  Store aStore[4];
  double *aRate = calloc((size_t)(4 * g.nRound), sizeof(double));
  for (int s = 0; s < 4; s++) {
    storeInit(&aStore[s], apKind[s], "s", 256, 1);
    aStore[s].pKind->xAppend(&aStore[s], 1);
  }
  for (int r = 0; r < g.nRound; r++) {
    for (int k = 0; k < 4; k++) {
      int s = (k + r) % 4;
      aRate[s * g.nRound + r] = storeSlice(&aStore[s]);
    }
  }
  for (int s = 0; s < 4; s++) storeFinish(&aStore[s]);
  double aRatio[4];
  reportRow("settings", "256B x 1", azName, 4, aRate, 0, "calls/s", aRatio);
  /* A check's time per call over its append's: append rate / check rate. */
  gaSettingsShare[0] = 1.0 / aRatio[2];
  gaSettingsShare[1] = aRatio[1] / aRatio[3];
  printf("   the check costs %.2f%% of a one-entry durable append on the default VFS,\n"
         "   %.2f%% on the raftlite VFS\n",
         100.0 * gaSettingsShare[0], 100.0 * gaSettingsShare[1]);
  free(aRate);
}

/* ==================================================================== */
/* Part 5: apply throughput                                              */
/* ==================================================================== */

#define APPLY_BATCH 256

typedef struct Applier {
  int iWay; /* 0: C API, 1: raft_apply(), 2: plain application */
  sqlite3 *db;
  raftlite *pStore;
  sqlite3_stmt *pApply, *pLog, *pBegin, *pCommit, *pMark;
  raftlite_entry aEntry[APPLY_BATCH];
  char azPay[APPLY_BATCH][64];
  uint64_t iNext;
  char zPath[1024];
} Applier;

static const char zKvSchema[] = "CREATE TABLE kv(k TEXT PRIMARY KEY, v INTEGER)";
static const char zKvApply[] =
    "INSERT OR REPLACE INTO kv VALUES (json_extract(:payload, '$.k'), json_extract(:payload, '$.v'))";

static void applierOpen(Applier *p, int iWay) {
  static const char *azFile[] = {"bench-apply-capi.db", "bench-apply-sql.db", "bench-apply-plain.db"};
  memset(p, 0, sizeof(*p));
  p->iWay = iWay;
  p->iNext = 1;
  pathOf(p->zPath, sizeof(p->zPath), azFile[iWay]);
  removeStore(p->zPath);
  p->db = openSqlite(p->zPath, 1);
  execOrDie(p->db, zKvSchema);
  if (iWay < 2) {
    p->pStore = openRaftlite(p->db, 0);
    char *zSql = sqlite3_mprintf("SELECT raft_state_machine('[\"kv\"]', %Q)", zKvApply);
    execOrDie(p->db, zSql);
    sqlite3_free(zSql);
    p->pApply = prepareOrDie(p->db, "SELECT raft_apply(?1)");
  } else {
    /* The hand-written application: its log table, its kv table, its
    ** applied index, one transaction per batch. */
    execOrDie(p->db, zPlainSchema);
    execOrDie(p->db, "CREATE TABLE applied(id INTEGER PRIMARY KEY CHECK (id = 1), idx INTEGER);"
                     "INSERT INTO applied VALUES (1, 0)");
    p->pLog = prepareOrDie(p->db, "INSERT INTO log(idx, term, kind, payload) VALUES (?1, 1, 1, ?2)");
    p->pApply = prepareOrDie(p->db, zKvApply); /* the same statement, :payload its only parameter */
    p->pMark = prepareOrDie(p->db, "UPDATE applied SET idx = ?1 WHERE id = 1");
    p->pBegin = prepareOrDie(p->db, "BEGIN");
    p->pCommit = prepareOrDie(p->db, "COMMIT");
  }
}

/* Appends one batch (not timed), then applies it (timed); returns the
** seconds the apply took. */
static double applierBatch(Applier *p) {
  int n = APPLY_BATCH;
  for (int j = 0; j < n; j++) {
    uint64_t idx = p->iNext + (uint64_t)j;
    int len = snprintf(p->azPay[j], sizeof(p->azPay[j]), "{\"k\":\"key%llu\",\"v\":%llu}",
                       (unsigned long long)(idx % 10000), (unsigned long long)idx);
    p->aEntry[j] = (raftlite_entry){{1, idx}, RAFTLITE_NORMAL, p->azPay[j], (size_t)len};
  }
  double t0;
  if (p->iWay < 2) {
    if (raftlite_append_to_log(p->pStore, p->aEntry, (size_t)n) != SQLITE_OK) {
      fatal("apply part: append: %s", raftlite_errmsg(p->pStore));
    }
    t0 = now();
    if (p->iWay == 0) {
      raftlite_responses resp;
      if (raftlite_apply_to_state_machine(p->pStore, p->aEntry, (size_t)n, &resp) != SQLITE_OK) {
        fatal("raftlite_apply_to_state_machine: %s", raftlite_errmsg(p->pStore));
      }
      raftlite_responses_free(&resp);
    } else {
      sqlite3_bind_int64(p->pApply, 1, (sqlite3_int64)(p->iNext + (uint64_t)n - 1));
      if (sqlite3_step(p->pApply) != SQLITE_ROW) fatal("raft_apply: %s", sqlite3_errmsg(p->db));
      sqlite3_reset(p->pApply);
    }
  } else {
    stepDone(p->db, p->pBegin);
    for (int j = 0; j < n; j++) {
      sqlite3_bind_int64(p->pLog, 1, (sqlite3_int64)p->aEntry[j].log_id.index);
      sqlite3_bind_blob(p->pLog, 2, p->aEntry[j].data, (int)p->aEntry[j].size, SQLITE_STATIC);
      stepDone(p->db, p->pLog);
    }
    stepDone(p->db, p->pCommit);
    t0 = now();
    stepDone(p->db, p->pBegin);
    for (int j = 0; j < n; j++) {
      sqlite3_bind_text(p->pApply, 1, p->aEntry[j].data, (int)p->aEntry[j].size, SQLITE_STATIC);
      stepDone(p->db, p->pApply);
    }
    sqlite3_bind_int64(p->pMark, 1, (sqlite3_int64)(p->iNext + (uint64_t)n - 1));
    stepDone(p->db, p->pMark);
    stepDone(p->db, p->pCommit);
  }
  double t = now() - t0;
  p->iNext += (uint64_t)n;
  return t;
}

static void applierClose(Applier *p) {
  /* The state machine must hold what was applied: key k's last value. */
  sqlite3_stmt *pStmt = prepareOrDie(p->db, "SELECT count(*), max(v) FROM kv");
  long nKey = (long)(p->iNext - 1 < 10000 ? p->iNext - 1 : 10000);
  if (sqlite3_step(pStmt) != SQLITE_ROW || sqlite3_column_int64(pStmt, 0) != nKey ||
      sqlite3_column_int64(pStmt, 1) != (sqlite3_int64)(p->iNext - 1)) {
    fatal("apply part: kv does not hold what was applied (%s)", sqlite3_errmsg(p->db));
  }
  sqlite3_finalize(pStmt);
  sqlite3_finalize(p->pApply);
  sqlite3_finalize(p->pLog);
  sqlite3_finalize(p->pBegin);
  sqlite3_finalize(p->pCommit);
  sqlite3_finalize(p->pMark);
  raftlite_close(p->pStore);
  sqlite3_close(p->db);
  removeStore(p->zPath);
}

static void partApply(void) {
  int nWay = g.bNoCompare ? 2 : 3;
  int iRef = g.bNoCompare ? -1 : 2;
  const char *azName[] = {"capi", "raft_apply", "plain"};
  const char *azLabel[] = {"C API apply", "raft_apply()", "plain app"};
  printf("\n5. Apply with a state machine declared in SQL (%s), entries/s,\n"
         "   %d entries per durable commit, median of %d rounds (the append before each apply is not timed)\n",
         "INSERT OR REPLACE INTO kv ... json_extract(:payload, ...)", APPLY_BATCH, g.nRound);
  reportHeader(azLabel, nWay);
  Applier *aApp = calloc(3, sizeof(Applier));
  double *aRate = calloc((size_t)(3 * g.nRound), sizeof(double));
  for (int w = 0; w < nWay; w++) {
    applierOpen(&aApp[w], w);
    applierBatch(&aApp[w]);
  }
  for (int r = 0; r < g.nRound; r++) {
    for (int k = 0; k < nWay; k++) {
      int w = (k + r) % nWay;
      double t = 0;
      long n = 0;
      while (t < g.slice) {
        t += applierBatch(&aApp[w]);
        n += APPLY_BATCH;
      }
      aRate[w * g.nRound + r] = (double)n / t;
    }
  }
  for (int w = 0; w < nWay; w++) applierClose(&aApp[w]);
  reportRow("apply", "256 per commit", azName, nWay, aRate, iRef, "entries/s", NULL);
  free(aApp);
  free(aRate);
}

/* ==================================================================== */
/* --callgrind-append                                                    */
/* ==================================================================== */

/*
** Small appends for bench/callgrind, which runs this under callgrind and
** reads the inclusive instruction count of each cg* function: what one
** durable append costs, commit included (fdatasync's time is the kernel's
** and not counted). The functions must not be inlined, nor folded into one
** another (the two one-entry runs are the same code).
*/
#define CG_ONE 200
#define CG_BATCHES 10

__attribute__((noinline, noipa)) static void cgRaftliteOne(Store *p) {
  for (int i = 0; i < CG_ONE; i++) capiAppend(p, 1);
}
__attribute__((noinline, noipa)) static void cgRaftliteVfsOne(Store *p) {
  for (int i = 0; i < CG_ONE; i++) capiAppend(p, 1);
}
__attribute__((noinline, noipa)) static void cgPlainOne(Store *p) {
  for (int i = 0; i < CG_ONE; i++) plainAppend(p, 1);
}
__attribute__((noinline, noipa)) static void cgRaftliteBatch(Store *p) {
  for (int i = 0; i < CG_BATCHES; i++) capiAppend(p, 256);
}
__attribute__((noinline, noipa)) static void cgPlainBatch(Store *p) {
  for (int i = 0; i < CG_BATCHES; i++) plainAppend(p, 256);
}

static void callgrindAppend(void) {
  Store s1, s2, s3, s4, s5;
  storeInit(&s1, kindNamed("capi"), "cg1", 256, 1);
  storeInit(&s5, kindNamed("capi_vfs"), "cg1", 256, 1);
  storeInit(&s2, kindNamed("plain"), "cg1", 256, 1);
  storeInit(&s3, kindNamed("capi"), "cg256", 256, 256);
  storeInit(&s4, kindNamed("plain"), "cg256", 256, 256);
  /* Warm up: statements prepared, first pages written. */
  for (int i = 0; i < 20; i++) {
    capiAppend(&s1, 1);
    capiAppend(&s5, 1);
    plainAppend(&s2, 1);
  }
  capiAppend(&s3, 256);
  plainAppend(&s4, 256);
  cgRaftliteOne(&s1);
  cgRaftliteVfsOne(&s5);
  cgPlainOne(&s2);
  cgRaftliteBatch(&s3);
  cgPlainBatch(&s4);
  storeFinish(&s1);
  storeFinish(&s2);
  storeFinish(&s3);
  storeFinish(&s4);
  storeFinish(&s5);
  printf("cg cgRaftliteOne %d entries %d commits\n", CG_ONE, CG_ONE);
  printf("cg cgRaftliteVfsOne %d entries %d commits\n", CG_ONE, CG_ONE);
  printf("cg cgPlainOne %d entries %d commits\n", CG_ONE, CG_ONE);
  printf("cg cgRaftliteBatch %d entries %d commits\n", CG_BATCHES * 256, CG_BATCHES);
  printf("cg cgPlainBatch %d entries %d commits\n", CG_BATCHES * 256, CG_BATCHES);
}

/* ==================================================================== */
/* main                                                                  */
/* ==================================================================== */

/* How long a part ran: the full run must stay near 10 minutes. */
static void partTook(double t0) {
  printf("   (%.1f s)\n", now() - t0);
  fflush(stdout);
}

static void usage(FILE *pOut, int rc) {
  fprintf(pOut,
          "usage: raftlite_bench [options]\n"
          "  --quick             small logs, 3 rounds of 0.05 s (about 20 s)\n"
          "  --no-compare        raftlite's own paths only (no plain table, file, RocksDB, LMDB)\n"
          "  --rounds N          rounds per part (default 15; --quick 3)\n"
          "  --slice S           seconds per store per round (default 0.2; --quick 0.05)\n"
          "  --only PARTS        comma-separated: append,read,purge,growth,apply,settings\n"
          "  --log N             entries of the log read and purged (default 1000000; --quick 20000);\n"
          "                      the long log of the growth part has 2N\n"
          "  --dir DIR           where the databases go (default .); removed at the end\n"
          "  --csv FILE          CSV output (default raftlite_bench.csv; - for none)\n"
          "  --checkpointer      raftlite stores run the background checkpointer\n"
          "  --callgrind-append  the small append run bench/callgrind measures\n");
  exit(rc);
}

int main(int argc, char **argv) {
  int bCallgrind = 0;
  long nLog = -1;
  g.nRound = -1;
  g.slice = -1;
  g.zDir = ".";
  g.zCsv = "raftlite_bench.csv";
  for (int i = 1; i < argc; i++) {
    const char *z = argv[i];
    if (strcmp(z, "--quick") == 0) {
      g.bQuick = 1;
    } else if (strcmp(z, "--no-compare") == 0) {
      g.bNoCompare = 1;
    } else if (strcmp(z, "--checkpointer") == 0) {
      g.bCheckpointer = 1;
    } else if (strcmp(z, "--callgrind-append") == 0) {
      bCallgrind = 1;
    } else if (strcmp(z, "--rounds") == 0 && i + 1 < argc) {
      g.nRound = atoi(argv[++i]);
    } else if (strcmp(z, "--slice") == 0 && i + 1 < argc) {
      g.slice = atof(argv[++i]);
    } else if (strcmp(z, "--only") == 0 && i + 1 < argc) {
      g.zOnly = argv[++i];
    } else if (strcmp(z, "--log") == 0 && i + 1 < argc) {
      nLog = atol(argv[++i]);
    } else if (strcmp(z, "--dir") == 0 && i + 1 < argc) {
      g.zDir = argv[++i];
    } else if (strcmp(z, "--csv") == 0 && i + 1 < argc) {
      g.zCsv = argv[++i];
    } else if (strcmp(z, "--help") == 0 || strcmp(z, "-h") == 0) {
      usage(stdout, 0);
    } else {
      usage(stderr, 2);
    }
  }
  if (g.nRound < 0) g.nRound = g.bQuick ? 3 : 15;
  if (g.slice < 0) g.slice = g.bQuick ? 0.05 : 0.2;
  if (g.nRound < 1 || g.nRound > 1000 || !(g.slice > 0)) usage(stderr, 2);
  g.nLog = nLog > 0 ? nLog : g.bQuick ? 20000 : 1000000;
  if (g.nLog < 2 * READ_N) usage(stderr, 2);
  g.nBig = 2 * g.nLog;
  g.nColdRead = g.bQuick ? 3 : 10;
  payloadInit();

  if (g.bCheckpointer) {
    const char *zWhy;
    if (!checkpointerAvailable(&zWhy)) fatal("--checkpointer: %s", zWhy);
  }
  if (bCallgrind) {
    callgrindAppend();
    return 0;
  }
  if (strcmp(g.zCsv, "-") != 0) {
    g.pCsv = fopen(g.zCsv, "w");
    if (g.pCsv == NULL) fatal("cannot write %s: %s", g.zCsv, strerror(errno));
    fprintf(g.pCsv, "part,cell,store,round,metric,value,unit\n");
  }
  double tStart = now();
  printf("raftlite_bench: raftlite %s, SQLite %s%s%s%s, %d rounds of %.2f s\n", raftlite_libversion(),
         sqlite3_libversion(),
#ifdef BENCH_HAVE_ROCKSDB
         ", RocksDB",
#else
         "",
#endif
#ifdef BENCH_HAVE_LMDB
         ", LMDB",
#else
         "",
#endif
         g.bQuick ? ", --quick" : "", g.nRound, g.slice);
  for (int i = 0; i < 6; i++) {
    for (int k = 0; k < N_KIND; k++) gaAppendRatio[i][k] = NAN;
  }
  gaReadRatio[0][0] = gaReadRatio[0][1] = gaReadRatio[1][0] = gaReadRatio[1][1] = NAN;

  if (partWanted("append")) {
    double t0 = now();
    partAppend();
    partTook(t0);
  }

  int bRead = partWanted("read"), bPurge = partWanted("purge"), bGrowth = partWanted("growth");
  char zRaft[1024], zPlain[1024];
  pathOf(zRaft, sizeof(zRaft), "bench-log-raftlite.db");
  pathOf(zPlain, sizeof(zPlain), "bench-log-plain.db");
  if (bRead || bPurge || bGrowth) {
    double t0 = now();
    removeStore(zRaft);
    removeStore(zPlain);
    buildRaftlite(zRaft, 1, g.nLog);
    double tRaft = now() - t0;
    if (!g.bNoCompare) buildPlain(zPlain, 1, g.nLog);
    printf("\n(built a %ld-entry log: raftlite in %.1f s, the plain table in %.1f s)\n", g.nLog, tRaft,
           now() - t0 - tRaft);
    csvRow("build", "log", "capi", 0, "seconds", tRaft, "s");
  }
  if (bRead) {
    double t0 = now();
    partRead(zRaft, zPlain);
    partTook(t0);
  }
  if (bPurge) {
    double t0 = now();
    partPurge(zRaft);
    partTook(t0);
  }
  if (bGrowth) {
    double t0 = now();
    buildRaftlite(zRaft, g.nLog + 1, g.nBig);
    if (!g.bNoCompare) buildPlain(zPlain, g.nLog + 1, g.nBig);
    printf("\n(grew the logs to %ld entries in %.1f s)\n", g.nBig, now() - t0);
    t0 = now();
    partGrowth(zRaft, zPlain);
    partTook(t0);
  }
  removeStore(zRaft);
  removeStore(zPlain);
  if (partWanted("apply")) {
    double t0 = now();
    partApply();
    partTook(t0);
  }
  if (partWanted("settings")) {
    double t0 = now();
    partSettings();
    partTook(t0);
  }

  /* The performance targets (docs/performance.md), as measured in this run. */
  if (!g.bNoCompare) {
    printf("\nTargets (docs/performance.md):\n");
    if (partWanted("append")) {
      double worst = INFINITY;
      double worstVfs = INFINITY;
      for (int i = 0; i < 6; i++) worst = fmin(worst, gaAppendRatio[i][0]);
      for (int i = 0; i < 6; i++) worstVfs = fmin(worstVfs, gaAppendRatio[i][1]);
      printf("   every append cell (C API) >= 0.95x the plain table: worst %.2f  %s;"
             " on the raftlite VFS %.2f  %s\n", worst, worst >= 0.95 ? "met" : "NOT met",
             worstVfs, worstVfs >= 0.95 ? "met" : "NOT met");
    }
    if (bRead) {
      double worst = fmin(fmin(gaReadRatio[0][0], gaReadRatio[0][1]), fmin(gaReadRatio[1][0], gaReadRatio[1][1]));
      printf("   range reads (C API, raft_log; cold, warm) >= 0.9x the plain SELECT: worst %.2f  %s\n", worst,
             worst >= 0.9 ? "met" : "NOT met");
    }
    if (bGrowth) {
      printf("   %ld-entry append rate >= 0.95x the empty log's (C API): worst %.2f  %s\n", g.nBig, gGrowthRatio,
             gGrowthRatio >= 0.95 ? "met" : "NOT met");
    }
    if (bPurge) {
      printf("   no append waits on a purge for more than one commit: %d  %s\n", gMaxWaited,
             gMaxWaited <= 1 ? "met" : "NOT met");
    }
    if (!isnan(gaSettingsShare[0])) {
      printf("   the settings check < 2%% of a one-entry durable append: default VFS %.2f%%  %s;"
             " raftlite VFS %.2f%%  %s\n",
             100.0 * gaSettingsShare[0], gaSettingsShare[0] < 0.02 ? "met" : "NOT met",
             100.0 * gaSettingsShare[1], gaSettingsShare[1] < 0.02 ? "met" : "NOT met");
    }
  }
  printf("\n(%.0f s%s%s)\n", now() - tStart, g.pCsv ? "; CSV: " : "", g.pCsv ? g.zCsv : "");
  if (g.pCsv && fclose(g.pCsv) != 0) fatal("writing %s: %s", g.zCsv, strerror(errno));
  return 0;
}
