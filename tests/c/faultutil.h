/*
** faultutil.h — what the fault tests (test_fault.c, test_powerloss.c,
** test_crash.c) share: opening a store with given settings, a dump of every
** table to compare states, the consistency checks that must pass after any
** fault, and a key-value state machine as C callbacks.
*/
#ifndef RAFTLITE_FAULTUTIL_H
#define RAFTLITE_FAULTUTIL_H

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raftlite.h"

/* Removes a database and its side files. */
static inline void fuRemoveDb(const char *zPath) {
  static const char *const azSuffix[] = {"", "-journal", "-wal", "-shm"};
  for (int i = 0; i < 4; i++) {
    char z[512];
    snprintf(z, sizeof(z), "%s%s", zPath, azSuffix[i]);
    remove(z);
  }
}

/* Copies a file (zSrc missing: zDst removed). Returns 0 on success. */
static inline int fuCopyFile(const char *zSrc, const char *zDst) {
  remove(zDst);
  FILE *pIn = fopen(zSrc, "rb");
  if (pIn == NULL) return 0;
  FILE *pOut = fopen(zDst, "wb");
  if (pOut == NULL) {
    fclose(pIn);
    return 1;
  }
  char buf[65536];
  size_t n;
  int rc = 0;
  while ((n = fread(buf, 1, sizeof(buf), pIn)) > 0) {
    if (fwrite(buf, 1, n, pOut) != n) rc = 1;
  }
  fclose(pIn);
  if (fclose(pOut) != 0) rc = 1;
  return rc;
}

/* Copies a database with its journal and WAL (a closed database). */
static inline int fuCopyDb(const char *zSrc, const char *zDst) {
  static const char *const azSuffix[] = {"", "-journal", "-wal"};
  int rc = 0;
  fuRemoveDb(zDst);
  for (int i = 0; i < 3; i++) {
    char zA[512], zB[512];
    snprintf(zA, sizeof(zA), "%s%s", zSrc, azSuffix[i]);
    snprintf(zB, sizeof(zB), "%s%s", zDst, azSuffix[i]);
    rc |= fuCopyFile(zA, zB);
  }
  return rc;
}

/* Opens zPath with vfs (NULL: default), sets the journal mode (NULL: as
** the file has it) and synchronous, then opens the store. Returns
** SQLITE_OK or the first error (*pDb then NULL or to be closed). */
static inline int fuOpen(const char *zPath, const char *zVfs, const char *zJournal,
                         const char *zSync, int flags, sqlite3 **pDb, raftlite **pStore) {
  *pStore = NULL;
  int rc = sqlite3_open_v2(zPath, pDb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, zVfs);
  if (rc != SQLITE_OK) return rc;
  char zSql[128];
  if (zJournal) {
    snprintf(zSql, sizeof(zSql), "PRAGMA journal_mode=%s", zJournal);
    rc = sqlite3_exec(*pDb, zSql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) return rc;
  }
  snprintf(zSql, sizeof(zSql), "PRAGMA synchronous=%s", zSync ? zSync : "FULL");
  rc = sqlite3_exec(*pDb, zSql, NULL, NULL, NULL);
  if (rc != SQLITE_OK) return rc;
  return raftlite_open_v2(*pDb, "main", flags, pStore);
}

/* SQLITE_OK when db's main file is opened through a VFS whose name
** (SQLITE_FCNTL_VFSNAME: a stack of shims, outermost first) begins with
** zPrefix; SQLITE_ERROR otherwise. */
static inline int fuCheckVfs(sqlite3 *db, const char *zPrefix) {
  char *zName = NULL;
  int rc = sqlite3_file_control(db, "main", SQLITE_FCNTL_VFSNAME, &zName);
  if (rc == SQLITE_OK && (zName == NULL || strncmp(zName, zPrefix, strlen(zPrefix)) != 0)) {
    rc = SQLITE_ERROR;
  }
  sqlite3_free(zName);
  return rc;
}

static inline void fuClose(sqlite3 **pDb, raftlite **pStore) {
  raftlite_close(*pStore);
  *pStore = NULL;
  if (*pDb) sqlite3_close_v2(*pDb);
  *pDb = NULL;
}

static inline unsigned long long fuHash(const void *p, size_t n) {
  const unsigned char *a = p;
  unsigned long long h = 14695981039346656037ULL; /* FNV-1a */
  for (size_t i = 0; i < n; i++) {
    h ^= a[i];
    h *= 1099511628211ULL;
  }
  return h;
}

/* The rows of zSql, one line each prefixed with zName; blobs as their
** size and hash. */
static inline void fuAppendRows(sqlite3 *db, sqlite3_str *pOut, const char *zName,
                                const char *zSql) {
  sqlite3_stmt *pStmt = NULL;
  if (sqlite3_prepare_v2(db, zSql, -1, &pStmt, NULL) != SQLITE_OK) {
    sqlite3_str_appendf(pOut, "(%s: error %s)\n", zName, sqlite3_errmsg(db));
    return;
  }
  int rc;
  while ((rc = sqlite3_step(pStmt)) == SQLITE_ROW) {
    sqlite3_str_appendf(pOut, "%s:", zName);
    for (int i = 0; i < sqlite3_column_count(pStmt); i++) {
      switch (sqlite3_column_type(pStmt, i)) {
        case SQLITE_NULL: sqlite3_str_appendall(pOut, " NULL"); break;
        case SQLITE_INTEGER:
          sqlite3_str_appendf(pOut, " %lld", sqlite3_column_int64(pStmt, i));
          break;
        case SQLITE_TEXT:
          sqlite3_str_appendf(pOut, " %Q", (const char *)sqlite3_column_text(pStmt, i));
          break;
        default: {
          const void *a = sqlite3_column_blob(pStmt, i);
          int n = sqlite3_column_bytes(pStmt, i);
          sqlite3_str_appendf(pOut, " x[%d:%016llx]", n, fuHash(a, (size_t)n));
        }
      }
    }
    sqlite3_str_appendchar(pOut, 1, '\n');
  }
  if (rc != SQLITE_DONE) sqlite3_str_appendf(pOut, "(%s: error %s)\n", zName, sqlite3_errmsg(db));
  sqlite3_finalize(pStmt);
}

/* Every row of every ordinary table of main, as text (sqlite3_free it).
** bSkipReceiving leaves out receiving snapshot streams and their chunks
** (raftlite_open reclaims them after a crash) and sqlite_sequence. */
static inline char *fuDump(sqlite3 *db, int bSkipReceiving) {
  sqlite3_str *pOut = sqlite3_str_new(db);
  fuAppendRows(db, pOut, "schema",
               "SELECT type, name, sql FROM main.sqlite_schema ORDER BY type, name");
  sqlite3_stmt *pStmt = NULL;
  char *azTable[64];
  int nTable = 0;
  if (sqlite3_prepare_v2(db,
                         "SELECT name FROM main.sqlite_schema WHERE type = 'table'"
                         " AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name",
                         -1, &pStmt, NULL) == SQLITE_OK) {
    while (sqlite3_step(pStmt) == SQLITE_ROW && nTable < 64) {
      azTable[nTable++] = sqlite3_mprintf("%s", sqlite3_column_text(pStmt, 0));
    }
  }
  sqlite3_finalize(pStmt);
  for (int i = 0; i < nTable; i++) {
    const char *zWhere = "";
    if (bSkipReceiving && strcmp(azTable[i], "raftlite_snapshot") == 0) {
      zWhere = " WHERE snapshot_id IS NOT NULL";
    } else if (bSkipReceiving && strcmp(azTable[i], "raftlite_snapshot_chunk") == 0) {
      zWhere = " WHERE snapshot IN (SELECT id FROM main.raftlite_snapshot"
               " WHERE snapshot_id IS NOT NULL)";
    } else if (bSkipReceiving && strcmp(azTable[i], "sqlite_sequence") == 0) {
      zWhere = " WHERE 0";
    }
    char *zSql = sqlite3_mprintf("SELECT * FROM main.\"%w\"%s ORDER BY 1", azTable[i], zWhere);
    fuAppendRows(db, pOut, azTable[i], zSql);
    sqlite3_free(zSql);
    sqlite3_free(azTable[i]);
  }
  return sqlite3_str_finish(pOut);
}

/* The first line where two dumps differ, for a message (static buffer). */
static inline const char *fuDiff(const char *zA, const char *zB) {
  static char zOut[600];
  const char *a = zA, *b = zB;
  while (*a && *a == *b) {
    a++;
    b++;
  }
  while (a > zA && a[-1] != '\n') a--, b--;
  const char *aEnd = strchr(a, '\n'), *bEnd = strchr(b, '\n');
  int nA = aEnd ? (int)(aEnd - a) : (int)strlen(a);
  int nB = bEnd ? (int)(bEnd - b) : (int)strlen(b);
  snprintf(zOut, sizeof(zOut), "'%.*s' vs '%.*s'", nA > 280 ? 280 : nA, a, nB > 280 ? 280 : nB, b);
  return zOut;
}

/* The single text value of a query, or an error text (sqlite3_free it). */
static inline char *fuQueryText(sqlite3 *db, const char *zSql) {
  sqlite3_stmt *pStmt = NULL;
  char *z = NULL;
  int rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, NULL);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(pStmt);
    if (rc == SQLITE_ROW) {
      z = sqlite3_mprintf("%s", sqlite3_column_text(pStmt, 0));
    }
  }
  if (z == NULL) z = sqlite3_mprintf("(error %d: %s)", rc, sqlite3_errmsg(db));
  sqlite3_finalize(pStmt);
  return z;
}

/* NULL when PRAGMA integrity_check and raft_check() both say ok, else a
** message (static buffer). */
static inline const char *fuCheck(sqlite3 *db) {
  static char zOut[512];
  char *z = fuQueryText(db, "PRAGMA integrity_check");
  int bOk = strcmp(z, "ok") == 0;
  if (!bOk) snprintf(zOut, sizeof(zOut), "integrity_check: %.400s", z);
  sqlite3_free(z);
  if (!bOk) return zOut;
  z = fuQueryText(db, "SELECT raft_check()");
  bOk = strcmp(z, "ok") == 0;
  if (!bOk) snprintf(zOut, sizeof(zOut), "raft_check: %.400s", z);
  sqlite3_free(z);
  return bOk ? NULL : zOut;
}

/* A key-value state machine in table kv(k, v): a normal entry is "k=v";
** its response "ok k"; a snapshot is the rows as "k=v\n" lines. */
static inline int fuKvPut(sqlite3 *db, const char *z, size_t n) {
  const char *zEq = memchr(z, '=', n);
  if (zEq == NULL) return SQLITE_OK; /* not a kv command: a no-op */
  sqlite3_stmt *pStmt = NULL;
  int rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO kv(k, v) VALUES (?1, ?2)", -1,
                              &pStmt, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(pStmt, 1, z, (int)(zEq - z), SQLITE_TRANSIENT);
  if (rc == SQLITE_OK) {
    rc = sqlite3_bind_blob(pStmt, 2, zEq + 1, (int)(n - (size_t)(zEq - z) - 1), SQLITE_TRANSIENT);
  }
  if (rc == SQLITE_OK) sqlite3_step(pStmt);
  int rcFinal = sqlite3_finalize(pStmt);
  return rc != SQLITE_OK ? rc : rcFinal;
}

static inline int fuKvApply(void *ctx, sqlite3 *db, const raftlite_entry *e,
                            raftlite_response *out) {
  (void)ctx;
  int rc = fuKvPut(db, e->data, e->size);
  if (rc != SQLITE_OK) return rc;
  out->data = sqlite3_mprintf("ok");
  out->size = out->data ? 2 : 0;
  return out->data ? SQLITE_OK : SQLITE_NOMEM;
}

static inline int fuKvSnapshot(void *ctx, sqlite3 *db, raftlite_snapshot *w) {
  (void)ctx;
  sqlite3_stmt *pStmt = NULL;
  int rc = sqlite3_prepare_v2(db, "SELECT k || '=' || CAST(v AS TEXT) || char(10) FROM kv"
                              " ORDER BY k", -1, &pStmt, NULL);
  while (rc == SQLITE_OK && sqlite3_step(pStmt) == SQLITE_ROW) {
    rc = raftlite_snapshot_write(w, sqlite3_column_text(pStmt, 0),
                                 (size_t)sqlite3_column_bytes(pStmt, 0));
  }
  int rcFinal = sqlite3_finalize(pStmt);
  return rc != SQLITE_OK ? rc : rcFinal;
}

static inline int fuKvRestore(void *ctx, sqlite3 *db, raftlite_snapshot *r) {
  (void)ctx;
  int rc = sqlite3_exec(db, "DELETE FROM kv", NULL, NULL, NULL);
  static char line[1 << 17];
  char buf[4096];
  size_t nLine = 0;
  while (rc == SQLITE_OK) {
    size_t got = 0;
    rc = raftlite_snapshot_read(r, buf, sizeof(buf), &got);
    if (rc != SQLITE_OK || got == 0) break;
    for (size_t i = 0; rc == SQLITE_OK && i < got; i++) {
      if (buf[i] != '\n') {
        if (nLine < sizeof(line)) line[nLine++] = buf[i];
        continue;
      }
      rc = fuKvPut(db, line, nLine);
      nLine = 0;
    }
  }
  return rc;
}

static const raftlite_state_machine fuKvMachine = {NULL, fuKvApply, fuKvSnapshot, fuKvRestore};

#endif /* RAFTLITE_FAULTUTIL_H */
