/*
** fixture.h — what the C tests share: a store on a fresh file database,
** entry builders, and a dump of every backing table to show that a refused
** call changed nothing.
*/
#ifndef RAFTLITE_TEST_FIXTURE_H
#define RAFTLITE_TEST_FIXTURE_H

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "raftlite.h"

typedef struct Fixture {
  char zPath[64]; /* the database file, in the working directory */
  sqlite3 *db;
  raftlite *store;
} Fixture;

/* Opens zPath (deleting what was there when bFresh) with the connection
** settings raftlite requires, and a store on it. */
static inline void fixtureOpen(Fixture *f, int bFresh) {
  if (bFresh) {
    char z[96];
    remove(f->zPath);
    snprintf(z, sizeof(z), "%s-journal", f->zPath);
    remove(z);
  }
  if (sqlite3_open(f->zPath, &f->db) != SQLITE_OK) {
    fprintf(stderr, "cannot open %s\n", f->zPath);
    exit(2);
  }
  /* A rollback journal is durable with EXTRA (FULL leaves the journal's
  ** unlink unsynced): raftlite refuses less. */
  sqlite3_exec(f->db, "PRAGMA synchronous=EXTRA", NULL, NULL, NULL);
  int rc = raftlite_open(f->db, "main", &f->store);
  if (rc != SQLITE_OK) {
    fprintf(stderr, "raftlite_open: %d\n", rc);
    exit(2);
  }
}

static inline void fixtureClose(Fixture *f) {
  raftlite_close(f->store);
  f->store = NULL;
  if (f->db && sqlite3_close(f->db) != SQLITE_OK) {
    fprintf(stderr, "sqlite3_close failed: %s\n", sqlite3_errmsg(f->db));
    /* Which statements were left unfinalized: the test's, or raftlite's. */
    for (sqlite3_stmt *s = sqlite3_next_stmt(f->db, NULL); s; s = sqlite3_next_stmt(f->db, s)) {
      fprintf(stderr, "  left: %.80s\n", sqlite3_sql(s));
    }
    exit(2);
  }
  f->db = NULL;
}

/* SQLite's error log: raftlite_open() reports there why it failed. */
static inline void logToStderr(void *pArg, int rc, const char *zMsg) {
  (void)pArg;
  if (strncmp(zMsg, "raftlite", 8) == 0) {
    fprintf(stderr, "  (sqlite log %d: %s)\n", rc, zMsg);
  }
}

static inline void *setUp(void) {
  static int n = 0;
  if (n == 0) sqlite3_config(SQLITE_CONFIG_LOG, logToStderr, NULL);
  Fixture *f = calloc(1, sizeof(*f));
  snprintf(f->zPath, sizeof(f->zPath), "c-test-%d-%d.db", (int)getpid(), n++);
  fixtureOpen(f, 1);
  return f;
}

static inline void tearDown(void *p) {
  Fixture *f = p;
  fixtureClose(f);
  char z[96];
  remove(f->zPath);
  snprintf(z, sizeof(z), "%s-journal", f->zPath);
  remove(z);
  free(f);
}

/* Runs SQL on the fixture's connection; fails the test on error. */
#define EXEC(sql)                                                          \
  do {                                                                     \
    char *zErr_ = NULL;                                                    \
    if (sqlite3_exec(F->db, sql, NULL, NULL, &zErr_) != SQLITE_OK) {       \
      FAIL("%s: %s", sql, zErr_);                                          \
    }                                                                      \
  } while (0)

/* The integer result of a one-value query. */
static inline long long queryInt(sqlite3 *db, const char *zSql) {
  sqlite3_stmt *pStmt = NULL;
  long long v = -1;
  if (sqlite3_prepare_v2(db, zSql, -1, &pStmt, NULL) == SQLITE_OK &&
      sqlite3_step(pStmt) == SQLITE_ROW) {
    v = sqlite3_column_int64(pStmt, 0);
  }
  sqlite3_finalize(pStmt);
  return v;
}

/* Every row of every backing table, as text (sqlite3_free it). */
static inline char *dumpStore(sqlite3 *db) {
  static const char *const azTable[] = {
      "raftlite_hard_state", "raftlite_log", "raftlite_segment",
      "raftlite_state", "raftlite_snapshot", "raftlite_meta"};
  sqlite3_str *pOut = sqlite3_str_new(db);
  for (size_t t = 0; t < sizeof(azTable) / sizeof(azTable[0]); t++) {
    char *zSql = sqlite3_mprintf("SELECT * FROM %s ORDER BY 1", azTable[t]);
    sqlite3_stmt *pStmt = NULL;
    sqlite3_prepare_v2(db, zSql, -1, &pStmt, NULL);
    sqlite3_free(zSql);
    sqlite3_str_appendf(pOut, "%s:", azTable[t]);
    while (pStmt && sqlite3_step(pStmt) == SQLITE_ROW) {
      for (int i = 0; i < sqlite3_column_count(pStmt); i++) {
        sqlite3_str_appendf(pOut, " %Q", sqlite3_column_text(pStmt, i));
      }
      sqlite3_str_appendchar(pOut, 1, ';');
    }
    sqlite3_finalize(pStmt);
    sqlite3_str_appendchar(pOut, 1, '\n');
  }
  sqlite3_str_appendf(pOut, "chunks: %lld",
                      queryInt(db, "SELECT count(*) FROM raftlite_snapshot_chunk"));
  return sqlite3_str_finish(pOut);
}

/* Asserts that `call` fails with rc and kind and leaves the store as it
** was, and the connection's transaction state too (in a transaction or
** not, as before the call). */
#define ASSERT_REFUSED(call, wantRc, wantKind)                             \
  do {                                                                     \
    char *zBefore_ = dumpStore(F->db);                                     \
    int bAutocommit_ = sqlite3_get_autocommit(F->db);                      \
    int rc_ = (call);                                                      \
    if (sqlite3_get_autocommit(F->db) != bAutocommit_)                     \
      FAIL("%s left the connection %s a transaction", #call,               \
           bAutocommit_ ? "inside" : "outside");                          \
    char *zAfter_ = dumpStore(F->db);                                      \
    int same_ = strcmp(zBefore_, zAfter_) == 0;                            \
    sqlite3_free(zBefore_);                                                \
    sqlite3_free(zAfter_);                                                 \
    if (rc_ != (wantRc))                                                   \
      FAIL("%s returned %d (%s), expected %d", #call, rc_,                 \
           raftlite_errmsg(F->store), (int)(wantRc));                      \
    if (raftlite_violation(F->store) != (wantKind))                        \
      FAIL("%s: violation %d (%s), expected %d", #call,                    \
           (int)raftlite_violation(F->store), raftlite_errmsg(F->store),   \
           (int)(wantKind));                                               \
    if (!same_) FAIL("%s changed the store", #call);                       \
  } while (0)

#define ASSERT_OK(call)                                                    \
  do {                                                                     \
    int rc_ = (call);                                                      \
    if (rc_ != SQLITE_OK)                                                  \
      FAIL("%s returned %d: %s", #call, rc_, raftlite_errmsg(F->store));   \
  } while (0)

static inline raftlite_entry entry(uint64_t term, uint64_t index, raftlite_kind kind,
                            const char *zData) {
  raftlite_entry e;
  e.log_id.term = term;
  e.log_id.index = index;
  e.kind = kind;
  e.data = zData;
  e.size = zData ? strlen(zData) : 0;
  return e;
}

/* Appends blank entries lo..hi of one term. */
static inline int appendBlanks(raftlite *store, uint64_t term, uint64_t lo, uint64_t hi) {
  for (uint64_t i = lo; i <= hi; i++) {
    raftlite_entry e = entry(term, i, RAFTLITE_BLANK, NULL);
    int rc = raftlite_append_to_log(store, &e, 1);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

#endif /* RAFTLITE_TEST_FIXTURE_H */
