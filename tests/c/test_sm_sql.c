/*
** test_sm_sql.c — the state machine declared in SQL, through the C API:
** precedence (C callbacks, else the declaration, else nothing), apply
** atomicity, and snapshots as SQLite images between two stores.
*/
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

RUN_TESTS(setUp, tearDown)
