/*
** fuzz_common.h — what the fuzz targets share: a fresh store, bounded work
** per input, and the checks every input must pass (raft_check() "ok" and
** PRAGMA integrity_check "ok" on every store of the connection).
**
** A broken check is a finding: the target prints what broke and abort()s,
** so that libFuzzer saves the input and the replay driver fails.
*/
#ifndef RAFTLITE_FUZZ_COMMON_H
#define RAFTLITE_FUZZ_COMMON_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raftlite.h"

/* Every target is one C file with its own static state. */
int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData);

#define FUZZ_FAIL(...)                                                     \
  do {                                                                     \
    fprintf(stderr, "fuzz finding at %s:%d: ", __FILE__, __LINE__);        \
    fprintf(stderr, __VA_ARGS__);                                          \
    fprintf(stderr, "\n");                                                 \
    abort();                                                               \
  } while (0)

#define FUZZ_ASSERT(cond)                                                  \
  do {                                                                     \
    if (!(cond)) FUZZ_FAIL("assertion failed: %s", #cond);                 \
  } while (0)

/* Feedback from the SQL side. The rules live in triggers, run by SQLite's
** VM, which the fuzzer's coverage does not see (the system libsqlite3 is
** not instrumented): each target also reports which outcome a statement
** had (its error message without digits or quoted values, and the VM
** steps it took, in sixteens) as libFuzzer extra counters, so that
** an input reaching a new refusal is kept. A no-op in the replay build. */
#ifdef RAFTLITE_LIBFUZZER
__attribute__((section("__libfuzzer_extra_counters"))) static uint8_t aFuzzExtra[8192];
#endif

static inline void fuzzFeature(const char *zKey, unsigned iBucket) {
  uint32_t h = 2166136261u;
  /* Up to the first quoted or bracketed value: messages quote the input. */
  for (const char *z = zKey; z && *z && !strchr("([{<\"'", *z); z++) {
    if (*z >= '0' && *z <= '9') continue;
    h = (h ^ (uint8_t)*z) * 16777619u;
  }
  h = (h ^ iBucket) * 16777619u;
#ifdef RAFTLITE_LIBFUZZER
  /* FUZZ_NO_EXTRA=1: coverage only, for a -merge=1 that keeps few inputs. */
  static int bNoExtra = -1;
  if (bNoExtra < 0) bNoExtra = getenv("FUZZ_NO_EXTRA") != NULL;
  if (!bNoExtra) aFuzzExtra[h % sizeof(aFuzzExtra)]++;
#else
  (void)h;
#endif
}

/* The outcome of one finished statement as a feature. */
static inline void fuzzStmtFeature(sqlite3_stmt *pStmt, int rc, const char *zErr) {
  unsigned nStep = (unsigned)sqlite3_stmt_status(pStmt, SQLITE_STMTSTATUS_VM_STEP, 0);
  fuzzFeature(rc == SQLITE_OK || rc == SQLITE_DONE ? "ok" : zErr,
              nStep / 16 < 255 ? nStep / 16 : 255);
}

/* The work one input may cause: SQLite's VM steps, counted by a progress
** handler that interrupts past the budget (a recursive CTE would otherwise
** run forever). */
typedef struct FuzzBudget {
  long long nLeft;
} FuzzBudget;

static inline int fuzzProgress(void *pArg) {
  FuzzBudget *p = pArg;
  p->nLeft -= 100;
  return p->nLeft < 0;
}

/* Opens a fresh in-memory connection with raftlite registered and bounded
** values (so a payload of randomblob(1e9) is an error, not an OOM). */
static inline sqlite3 *fuzzOpen(void) {
  sqlite3 *db = NULL;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
    FUZZ_FAIL("cannot open :memory: (%s)", db ? sqlite3_errmsg(db) : "no memory");
  }
  sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 1000000);
  sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, 1000000);
  sqlite3_limit(db, SQLITE_LIMIT_EXPR_DEPTH, 200);
  sqlite3_limit(db, SQLITE_LIMIT_COMPOUND_SELECT, 50);
  sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 3);
  sqlite3_limit(db, SQLITE_LIMIT_TRIGGER_DEPTH, 50);
  if (raftlite_register(db) != SQLITE_OK) FUZZ_FAIL("raftlite_register failed");
  return db;
}

/* Runs SQL that must succeed (the target's own setup). */
static inline void fuzzExec(sqlite3 *db, const char *zSql) {
  char *zErr = NULL;
  if (sqlite3_exec(db, zSql, NULL, NULL, &zErr) != SQLITE_OK) {
    FUZZ_FAIL("setup failed: %s: %s", zSql, zErr ? zErr : "?");
  }
}

/* The text of a one-value query, or "(error: ...)"; sqlite3_free() it. */
static inline char *fuzzQueryText(sqlite3 *db, const char *zSql) {
  sqlite3_stmt *pStmt = NULL;
  char *z = NULL;
  if (sqlite3_prepare_v2(db, zSql, -1, &pStmt, NULL) == SQLITE_OK &&
      sqlite3_step(pStmt) == SQLITE_ROW) {
    const unsigned char *zVal = sqlite3_column_text(pStmt, 0);
    z = sqlite3_mprintf("%s", zVal ? (const char *)zVal : "(null)");
  } else {
    z = sqlite3_mprintf("(error: %s)", sqlite3_errmsg(db));
  }
  sqlite3_finalize(pStmt);
  return z;
}

/* A raw INSERT stores a valid but non-canonical membership as given, for
** raft_check() to report (README, Decisions: trusted_schema=OFF): those
** lines are the documented gap, not a finding. True when every line of
** zReport is one of them. */
static inline int fuzzOnlyNonCanonical(const char *zReport) {
  const char *z = zReport;
  while (*z) {
    const char *zEnd = strchr(z, '\n');
    size_t n = zEnd ? (size_t)(zEnd - z) : strlen(z);
    static const char zTail[] = "is not canonical JSON";
    size_t nTail = sizeof(zTail) - 1;
    if (n < nTail || memcmp(z + n - nTail, zTail, nTail) != 0) return 0;
    z += n;
    if (*z) z++;
  }
  return 1;
}

/* Every store of the connection (each schema with a raftlite_meta table)
** must pass raft_check(), and every schema PRAGMA integrity_check. */
static inline void fuzzCheckStores(sqlite3 *db) {
  sqlite3_stmt *pList = NULL;
  if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_database_list", -1, &pList, NULL)
      != SQLITE_OK) {
    FUZZ_FAIL("pragma_database_list: %s", sqlite3_errmsg(db));
  }
  while (sqlite3_step(pList) == SQLITE_ROW) {
    const char *zSchema = (const char *)sqlite3_column_text(pList, 0);
    char *zSql = sqlite3_mprintf("PRAGMA \"%w\".integrity_check", zSchema);
    char *zRes = fuzzQueryText(db, zSql);
    sqlite3_free(zSql);
    if (strcmp(zRes, "ok") != 0) FUZZ_FAIL("integrity_check of %s: %s", zSchema, zRes);
    sqlite3_free(zRes);
    zSql = sqlite3_mprintf(
        "SELECT count(*) FROM \"%w\".sqlite_schema WHERE name = 'raftlite_meta'", zSchema);
    zRes = fuzzQueryText(db, zSql);
    sqlite3_free(zSql);
    int bStore = strcmp(zRes, "1") == 0;
    sqlite3_free(zRes);
    if (!bStore) continue;
    /* INVARIANT(sm-declared-tables) of sql/007_state_machine.sql, which
    ** raft_check() does not verify: never raftlite's or SQLite's table,
    ** whatever the case of the name. */
    zSql = sqlite3_mprintf(
        "SELECT group_concat(name) FROM \"%w\".raftlite_sm_table"
        " WHERE lower(name) GLOB 'raftlite_*' OR lower(name) GLOB 'raft_*'"
        " OR lower(name) GLOB 'sqlite_*'", zSchema);
    zRes = fuzzQueryText(db, zSql);
    sqlite3_free(zSql);
    if (strcmp(zRes, "(null)") != 0) {
      FUZZ_FAIL("%s.raftlite_sm_table declares %s", zSchema, zRes);
    }
    sqlite3_free(zRes);
    zSql = sqlite3_mprintf("SELECT raft_check(%Q)", zSchema);
    zRes = fuzzQueryText(db, zSql);
    sqlite3_free(zSql);
    if (strcmp(zRes, "ok") != 0 && !fuzzOnlyNonCanonical(zRes)) {
      FUZZ_FAIL("raft_check('%s'):\n%s", zSchema, zRes);
    }
    sqlite3_free(zRes);
  }
  sqlite3_finalize(pList);
}

/* Every row of every backing table of main, and the declared state
** machine's table zExtra (may be NULL), as text: equal dumps before and
** after a refused call show it changed nothing. Receiving streams (rows
** without a snapshot_id) are left out when bNoReceiving: install_snapshot
** consumes its stream even when it refuses. sqlite3_free() the result. */
static inline char *fuzzDump(sqlite3 *db, const char *zExtra, int bNoReceiving) {
  static const char *const azQuery[] = {
      "SELECT * FROM raftlite_hard_state ORDER BY 1",
      "SELECT * FROM raftlite_log ORDER BY 1",
      "SELECT * FROM raftlite_segment ORDER BY 1",
      "SELECT * FROM raftlite_state ORDER BY 1",
      "SELECT * FROM raftlite_meta ORDER BY 1",
      "SELECT * FROM raftlite_sm ORDER BY 1",
      "SELECT * FROM raftlite_sm_table ORDER BY 1",
  };
  sqlite3_str *pOut = sqlite3_str_new(db);
  for (size_t i = 0; i < sizeof(azQuery) / sizeof(azQuery[0]) + 3; i++) {
    char *zSql;
    if (i < sizeof(azQuery) / sizeof(azQuery[0])) {
      zSql = sqlite3_mprintf("%s", azQuery[i]);
    } else if (i == sizeof(azQuery) / sizeof(azQuery[0])) {
      zSql = sqlite3_mprintf("SELECT * FROM raftlite_snapshot %s ORDER BY 1",
                             bNoReceiving ? "WHERE snapshot_id IS NOT NULL" : "");
    } else if (i == sizeof(azQuery) / sizeof(azQuery[0]) + 1) {
      zSql = sqlite3_mprintf(
          "SELECT c.snapshot, c.seq, hex(c.data) FROM raftlite_snapshot_chunk c"
          " JOIN raftlite_snapshot s ON s.id = c.snapshot %s ORDER BY 1, 2",
          bNoReceiving ? "WHERE s.snapshot_id IS NOT NULL" : "");
    } else if (zExtra) {
      zSql = sqlite3_mprintf("SELECT * FROM \"%w\" ORDER BY 1", zExtra);
    } else {
      continue;
    }
    sqlite3_stmt *pStmt = NULL;
    if (sqlite3_prepare_v2(db, zSql, -1, &pStmt, NULL) != SQLITE_OK) {
      FUZZ_FAIL("dump: %s: %s", zSql, sqlite3_errmsg(db));
    }
    sqlite3_str_appendf(pOut, "%s:", zSql);
    sqlite3_free(zSql);
    while (sqlite3_step(pStmt) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(pStmt); c++) {
        sqlite3_str_appendf(pOut, " %d:%Q", sqlite3_column_type(pStmt, c),
                            sqlite3_column_text(pStmt, c));
      }
      sqlite3_str_appendchar(pOut, 1, ';');
    }
    sqlite3_finalize(pStmt);
    sqlite3_str_appendchar(pOut, 1, '\n');
  }
  return sqlite3_str_finish(pOut);
}

#endif /* RAFTLITE_FUZZ_COMMON_H */
