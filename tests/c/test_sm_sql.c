/*
** test_sm_sql.c — the state machine declared in SQL, through the C API:
** precedence (C callbacks, else the declaration, else nothing), apply
** atomicity, and snapshots as SQLite images between two stores.
*/
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>

#include "fixture.h"

#define F ((Fixture *)f)

#define DECLARE_KV                                                           \
  "CREATE TABLE kv(k TEXT PRIMARY KEY, v INTEGER CHECK (v >= 0));"           \
  "SELECT raft_state_machine('[\"kv\"]', 'INSERT OR REPLACE INTO kv VALUES"  \
  " (json_extract(:payload, ''$.k''), json_extract(:payload, ''$.v''))"      \
  " RETURNING ''set '' || k')"

/* Sends snapshot s (from its start) to store `to` and installs it with
** meta; closes s. Returns install's code. */
static int sendAndInstall(raftlite_snapshot *s, raftlite *to, const raftlite_snapshot_meta *meta) {
  raftlite_snapshot *w = NULL;
  int rc = raftlite_begin_receiving_snapshot(to, &w);
  if (rc == SQLITE_OK) rc = raftlite_snapshot_seek(s, 0, SEEK_SET, NULL);
  char buf[4096];
  size_t got;
  while (rc == SQLITE_OK && (rc = raftlite_snapshot_read(s, buf, sizeof(buf), &got)) == SQLITE_OK &&
         got > 0) {
    rc = raftlite_snapshot_write(w, buf, got);
  }
  raftlite_snapshot_close(s);
  raftlite_sm_changes ch;
  if (rc == SQLITE_OK) return raftlite_install_snapshot(to, meta, w, &ch);
  raftlite_snapshot_close(w);
  return rc;
}

static raftlite_entry kvEntry(uint64_t index, const char *zJson) {
  return entry(1, index, RAFTLITE_NORMAL, zJson);
}

/* Without C callbacks, normal entries go to the declared statement; its
** RETURNING value is the response. */
TEST(declared, appliesAndResponds) {
  EXEC(DECLARE_KV);
  raftlite_entry a[2] = {kvEntry(1, "{\"k\":\"x\",\"v\":1}"), kvEntry(2, "{\"k\":\"y\",\"v\":2}")};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 2));
  raftlite_responses r;
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, a, 2, &r));
  ASSERT_INT(r.n, 2);
  ASSERT_INT(r.a[1].size, 5);
  ASSERT(memcmp(r.a[1].data, "set y", 5) == 0);
  raftlite_responses_free(&r);
  ASSERT_INT(queryInt(F->db, "SELECT sum(v) FROM kv"), 3);
}

/* A statement failing in the middle of a batch applies none of it. */
TEST(declared, failureAppliesNothing) {
  EXEC(DECLARE_KV);
  raftlite_entry a[3] = {kvEntry(1, "{\"k\":\"x\",\"v\":1}"), kvEntry(2, "{\"k\":\"y\",\"v\":-1}"),
                         kvEntry(3, "{\"k\":\"z\",\"v\":3}")};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 3));
  raftlite_responses r;
  ASSERT_REFUSED(raftlite_apply_to_state_machine(F->store, a, 3, &r), SQLITE_CONSTRAINT,
                 RAFTLITE_NO_VIOLATION);
  ASSERT(strstr(raftlite_errmsg(F->store), "entry 1-2") != NULL);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM kv"), 0);
}

static int countingApply(void *ctx, sqlite3 *db, const raftlite_entry *e, raftlite_response *out) {
  (void)db;
  (void)e;
  (void)out;
  (*(int *)ctx)++;
  return SQLITE_OK;
}

/* C callbacks set on the handle take precedence over the declaration. */
TEST(declared, cCallbacksComeFirst) {
  EXEC(DECLARE_KV);
  int nCalls = 0;
  raftlite_state_machine sm = {&nCalls, countingApply, NULL, NULL};
  ASSERT_OK(raftlite_set_state_machine(F->store, &sm));
  raftlite_entry e = kvEntry(1, "{\"k\":\"x\",\"v\":1}");
  ASSERT_OK(raftlite_append_to_log(F->store, &e, 1));
  raftlite_responses r;
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, &e, 1, &r));
  raftlite_responses_free(&r);
  ASSERT_INT(nCalls, 1);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM kv"), 0);
}

/* build_snapshot writes an SQLite image of the declared tables; another
** store with the same declaration installs it. */
TEST(declared, imageRoundTrip) {
  EXEC(DECLARE_KV);
  raftlite_entry a[3] = {entry(1, 1, RAFTLITE_MEMBERSHIP, "[[1,2]]"), kvEntry(2, "{\"k\":\"x\",\"v\":1}"),
                         kvEntry(3, "{\"k\":\"y\",\"v\":2}")};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 3));
  raftlite_responses r;
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, a, 3, &r));
  raftlite_responses_free(&r);
  raftlite_snapshot_meta meta;
  raftlite_snapshot *s = NULL;
  ASSERT_OK(raftlite_build_snapshot(F->store, &meta, &s));
  char header[16];
  size_t got;
  ASSERT_OK(raftlite_snapshot_read(s, header, 16, &got));
  ASSERT(memcmp(header, "SQLite format 3", 16) == 0);

  Fixture other;
  memset(&other, 0, sizeof(other));
  strcpy(other.zPath, "follower.db");
  fixtureOpen(&other, 1);
  sqlite3_exec(other.db, DECLARE_KV ";INSERT INTO kv VALUES ('old', 9)", NULL, NULL, NULL);
  if (sendAndInstall(s, other.store, &meta) != SQLITE_OK) {
    FAIL("install: %s", raftlite_errmsg(other.store));
  }
  ASSERT_INT(queryInt(other.db, "SELECT count(*) FROM kv"), 2);
  ASSERT_INT(queryInt(other.db, "SELECT v FROM kv WHERE k = 'y'"), 2);
  raftlite_applied_state as;
  ASSERT_OK(raftlite_last_applied_state(other.store, &as));
  ASSERT_INT(as.last_applied.index, 3);
  ASSERT_STR(as.membership_json, "[[1,2]]");
  raftlite_applied_state_free(&as);

  /* The same bytes under another meta are refused: SnapshotInvalid. */
  meta.last_log_id.index = 4;
  raftlite_snapshot_meta current;
  ASSERT_OK(raftlite_get_current_snapshot(F->store, &current, &s));
  raftlite_snapshot_meta_free(&current);
  ASSERT_INT(sendAndInstall(s, other.store, &meta), SQLITE_CONSTRAINT);
  ASSERT_INT(raftlite_violation(other.store), RAFTLITE_SNAPSHOT_INVALID);
  ASSERT_INT(queryInt(other.db, "SELECT count(*) FROM kv"), 2);
  raftlite_snapshot_meta_free(&meta);
  fixtureClose(&other);
  remove("follower.db");
}

/* 2026-11-27 (review): after a schema change the apply statement is
** prepared again under the authorizer: a trigger added on a declared table
** that writes elsewhere makes the next apply fail, as SQL raft_apply does. */
TEST(declared, schemaChangeKeepsTheAuthorizer) {
  EXEC(DECLARE_KV ";CREATE TABLE other(x)");
  raftlite_entry a[2] = {kvEntry(1, "{\"k\":\"x\",\"v\":1}"), kvEntry(2, "{\"k\":\"y\",\"v\":2}")};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 2));
  raftlite_responses r;
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, a, 1, &r));
  raftlite_responses_free(&r);
  EXEC("CREATE TRIGGER kv_t AFTER INSERT ON kv BEGIN INSERT INTO other VALUES (1); END");
  ASSERT_REFUSED(raftlite_apply_to_state_machine(F->store, &a[1], 1, &r), SQLITE_ERROR,
                 RAFTLITE_NO_VIOLATION);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM other"), 0);
}

/* 2026-11-27 (review): images of AUTOINCREMENT tables (with sqlite_sequence)
** and of tables linked by foreign keys (with foreign_keys on) install. */
TEST(declared, autoincrementAndForeignKeys) {
  static const char zSchema[] =
      "PRAGMA foreign_keys=ON;"
      "CREATE TABLE users(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT);"
      "CREATE TABLE orders(id INTEGER PRIMARY KEY, user INTEGER REFERENCES users(id));"
      "SELECT raft_state_machine('[\"users\",\"orders\"]',"
      " 'INSERT INTO users(name) VALUES (:payload) RETURNING id');";
  EXEC(zSchema);
  EXEC("INSERT INTO users(name) VALUES ('seed'); INSERT INTO orders VALUES (1, 1)");
  raftlite_entry e = entry(1, 1, RAFTLITE_NORMAL, "ann");
  ASSERT_OK(raftlite_append_to_log(F->store, &e, 1));
  raftlite_responses r;
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, &e, 1, &r));
  raftlite_responses_free(&r);
  raftlite_snapshot_meta meta;
  raftlite_snapshot *s = NULL;
  ASSERT_OK(raftlite_build_snapshot(F->store, &meta, &s));

  Fixture other;
  memset(&other, 0, sizeof(other));
  strcpy(other.zPath, "follower-fk.db");
  fixtureOpen(&other, 1);
  sqlite3_exec(other.db, zSchema, NULL, NULL, NULL);
  sqlite3_exec(other.db, "INSERT INTO users(name) VALUES ('old'); INSERT INTO orders VALUES (7, 1)",
               NULL, NULL, NULL);
  if (sendAndInstall(s, other.store, &meta) != SQLITE_OK) {
    FAIL("install: %s", raftlite_errmsg(other.store));
  }
  ASSERT_INT(queryInt(other.db, "SELECT count(*) FROM users"), 2);
  ASSERT_INT(queryInt(other.db, "SELECT user FROM orders"), 1);
  raftlite_snapshot_meta_free(&meta);
  fixtureClose(&other);
  remove("follower-fk.db");
}

/* 2026-12-03 (review): the declared tables are checked again whenever the
** schema changed, through a handle that keeps its statement: a declared
** table replaced by a virtual table over the log is refused at the next
** apply, which appends nothing. */
TEST(declared, virtualTableInPlaceIsRefused) {
  EXEC("CREATE TABLE kv4(idx, term, kind, payload);"
       "SELECT raft_state_machine('kv4', 'INSERT INTO kv4 VALUES (:index + 1, :term,"
       " ''normal'', :payload)')");
  raftlite_entry a[2] = {kvEntry(1, "one"), kvEntry(2, "two")};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 1));
  raftlite_responses r;
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, a, 1, &r));
  raftlite_responses_free(&r);
  EXEC("ALTER TABLE kv4 RENAME TO kv4_old; CREATE VIRTUAL TABLE kv4 USING raftlite_log");
  ASSERT_OK(raftlite_append_to_log(F->store, &a[1], 1));
  ASSERT_REFUSED(raftlite_apply_to_state_machine(F->store, &a[1], 1, &r), SQLITE_ERROR,
                 RAFTLITE_NO_VIOLATION);
  ASSERT(strstr(raftlite_errmsg(F->store), "no table \"kv4\"") != NULL);
  ASSERT_INT(sqlite3_get_autocommit(F->db), 1);
  ASSERT_INT(queryInt(F->db, "SELECT max(idx) FROM raftlite_log"), 2);
}

/* 2026-12-03 (review): a statement written into raftlite_sm directly is
** refused at apply when it is not a SELECT, INSERT, UPDATE, DELETE or
** REPLACE (VACUUM INTO would otherwise block every apply), or calls a
** function outside the allowed list; the handle stays usable. */
TEST(declared, rawStatementRefusedAtApply) {
  EXEC(DECLARE_KV);
  raftlite_entry e = kvEntry(1, "{\"k\":\"x\",\"v\":1}");
  ASSERT_OK(raftlite_append_to_log(F->store, &e, 1));
  static const char *const azBad[] = {
      "UPDATE raftlite_sm SET apply_sql = 'VACUUM INTO ''copy.db'''",
      "UPDATE raftlite_sm SET apply_sql = 'INSERT INTO kv VALUES (random(), 1)'",
      "UPDATE raftlite_sm SET apply_sql = 'PRAGMA foreign_keys = OFF'",
  };
  static const char *const azWhy[] = {"it is VACUUM", "it calls random()", "it is PRAGMA"};
  raftlite_responses r;
  for (size_t i = 0; i < sizeof(azBad) / sizeof(azBad[0]); i++) {
    EXEC(azBad[i]);
    ASSERT_REFUSED(raftlite_apply_to_state_machine(F->store, &e, 1, &r), SQLITE_ERROR,
                   RAFTLITE_NO_VIOLATION);
    ASSERT(strstr(raftlite_errmsg(F->store), azWhy[i]) != NULL);
    ASSERT_INT(sqlite3_get_autocommit(F->db), 1);
    ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM kv"), 0);
  }
  ASSERT(access("copy.db", F_OK) != 0);
  EXEC("UPDATE raftlite_sm SET apply_sql = 'INSERT INTO kv VALUES (:payload ->> ''k'', 1)'");
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, &e, 1, &r));
  raftlite_responses_free(&r);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM kv WHERE k = 'x'"), 1);
}

static void writeFile(const char *zPath) {
  FILE *pFile = fopen(zPath, "wb");
  if (pFile) {
    fputs("SQLite format 3", pFile);
    fclose(pFile);
  }
}

/* 2026-12-03 (review): private image files a crash left behind are removed
** when a store is opened: those of a process that is gone and that nobody
** holds locked. A file of a live process (this one: another handle may be
** writing it), a file locked by a live writer, and the files of another
** database stay. */
TEST(declared, leftoverImagesRemovedAtOpen) {
  pid_t dead = fork();
  if (dead == 0) _exit(0);
  ASSERT(dead > 0);
  waitpid(dead, NULL, 0);
  char zStale[128], zStaleJournal[160], zLive[128], zLocked[128], zOther[160], zNotOurs[160];
  snprintf(zStale, sizeof(zStale), "%s-raftlite-image-%d-0000abcd", F->zPath, (int)dead);
  snprintf(zStaleJournal, sizeof(zStaleJournal), "%s-journal", zStale);
  snprintf(zLive, sizeof(zLive), "%s-raftlite-image-%d-0000beef", F->zPath, (int)getpid());
  snprintf(zLocked, sizeof(zLocked), "%s-raftlite-image-%d-0000f00d", F->zPath, (int)dead);
  snprintf(zOther, sizeof(zOther), "x%s-raftlite-image-%d-00000001", F->zPath, (int)dead);
  snprintf(zNotOurs, sizeof(zNotOurs), "%s-raftlite-image-notes", F->zPath);
  const char *azFile[] = {zStale, zStaleJournal, zLive, zLocked, zOther, zNotOurs};
  for (size_t i = 0; i < sizeof(azFile) / sizeof(azFile[0]); i++) writeFile(azFile[i]);
  int fd = open(zLocked, O_RDWR);
  ASSERT(fd >= 0);
  ASSERT_INT(flock(fd, LOCK_EX), 0);

  raftlite_close(F->store);
  F->store = NULL;
  int rc = raftlite_open(F->db, "main", &F->store);
  close(fd);
  int aExists[6];
  for (size_t i = 0; i < sizeof(azFile) / sizeof(azFile[0]); i++) {
    aExists[i] = access(azFile[i], F_OK) == 0;
    remove(azFile[i]);
  }
  ASSERT_INT(rc, SQLITE_OK);
  ASSERT_INT(aExists[0], 0); /* stale */
  ASSERT_INT(aExists[1], 0); /* its journal */
  ASSERT_INT(aExists[2], 1); /* a live process's */
  ASSERT_INT(aExists[3], 1); /* locked by a live writer */
  ASSERT_INT(aExists[4], 1); /* another database's */
  ASSERT_INT(aExists[5], 1); /* not an image name */
}

/* What an install changes: the state, the log, the current snapshot and
** the kv table (not the receiving streams: a failed install drops its own,
** or leaves it for the next open when that fails too). */
static char *dumpInstalled(sqlite3 *db) {
  static const char *const azSql[] = {
      "SELECT * FROM raftlite_state", "SELECT * FROM raftlite_log ORDER BY idx",
      "SELECT id, snapshot_id, size FROM raftlite_snapshot WHERE is_current = 1",
      "SELECT * FROM kv ORDER BY k"};
  sqlite3_str *pOut = sqlite3_str_new(db);
  for (size_t i = 0; i < sizeof(azSql) / sizeof(azSql[0]); i++) {
    sqlite3_stmt *pStmt = NULL;
    sqlite3_prepare_v2(db, azSql[i], -1, &pStmt, NULL);
    while (pStmt && sqlite3_step(pStmt) == SQLITE_ROW) {
      for (int j = 0; j < sqlite3_column_count(pStmt); j++) {
        sqlite3_str_appendf(pOut, " %Q", sqlite3_column_text(pStmt, j));
      }
      sqlite3_str_appendchar(pOut, 1, ';');
    }
    sqlite3_finalize(pStmt);
    sqlite3_str_appendchar(pOut, 1, '\n');
  }
  return sqlite3_str_finish(pOut);
}

/* 2026-12-03 (review): out of memory during install (SQLite's heap limit
** lowered to just above what is in use, then raised step by step) is a
** failure with no violation kind, never SnapshotInvalid; it leaves the
** store, its tables and the transaction state as they were; with enough
** memory the same image installs. */
TEST(declared, installOutOfMemoryIsNoVerdict) {
  EXEC(DECLARE_KV);
  raftlite_entry a[3] = {entry(1, 1, RAFTLITE_MEMBERSHIP, "[[1,2]]"), kvEntry(2, "{\"k\":\"x\",\"v\":1}"),
                         kvEntry(3, "{\"k\":\"y\",\"v\":2}")};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 3));
  raftlite_responses r;
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, a, 3, &r));
  raftlite_responses_free(&r);
  raftlite_snapshot_meta meta;
  raftlite_snapshot *s = NULL;
  ASSERT_OK(raftlite_build_snapshot(F->store, &meta, &s));
  static char aImage[1 << 16];
  size_t nImage = 0;
  ASSERT_OK(raftlite_snapshot_read(s, aImage, sizeof(aImage), &nImage));
  raftlite_snapshot_close(s);
  ASSERT(nImage > 0 && nImage < sizeof(aImage));

  Fixture other;
  memset(&other, 0, sizeof(other));
  strcpy(other.zPath, "follower-oom.db");
  fixtureOpen(&other, 1);
  sqlite3_exec(other.db, DECLARE_KV ";INSERT INTO kv VALUES ('old', 9)", NULL, NULL, NULL);
  int rc = SQLITE_NOMEM, nFailed = 0;
  sqlite3_int64 nExtra;
  for (nExtra = 0; rc != SQLITE_OK && nExtra < 8 * 1024 * 1024; nExtra += 4096) {
    raftlite_snapshot *w = NULL;
    if (raftlite_begin_receiving_snapshot(other.store, &w) != SQLITE_OK ||
        raftlite_snapshot_write(w, aImage, nImage) != SQLITE_OK) {
      FAIL("receiving: %s", raftlite_errmsg(other.store));
    }
    char *zBefore = dumpInstalled(other.db);
    raftlite_sm_changes ch;
    sqlite3_hard_heap_limit64(sqlite3_memory_used() + nExtra);
    rc = raftlite_install_snapshot(other.store, &meta, w, &ch);
    sqlite3_hard_heap_limit64(0);
    if (rc != SQLITE_OK) {
      nFailed++;
      char *zAfter = dumpInstalled(other.db);
      int bSame = strcmp(zBefore, zAfter) == 0;
      sqlite3_free(zAfter);
      sqlite3_free(zBefore);
      if (raftlite_violation(other.store) != RAFTLITE_NO_VIOLATION) {
        FAIL("with %lld bytes more: rc %d, violation %d: %s", (long long)nExtra, rc,
             (int)raftlite_violation(other.store), raftlite_errmsg(other.store));
      }
      if (!bSame) {
        FAIL("with %lld bytes more: rc %d (%s) changed the store", (long long)nExtra, rc,
             raftlite_errmsg(other.store));
      }
      ASSERT_INT(sqlite3_get_autocommit(other.db), 1);
    } else {
      sqlite3_free(zBefore);
    }
    /* install_snapshot took the stream, failed or not. */
  }
  ASSERT_OK(rc);
  ASSERT(nFailed > 0); /* the limit did bite */
  ASSERT_INT(queryInt(other.db, "SELECT count(*) FROM kv"), 2);
  raftlite_snapshot_meta_free(&meta);
  fixtureClose(&other);
  remove("follower-oom.db");
}

RUN_TESTS(setUp, tearDown)
