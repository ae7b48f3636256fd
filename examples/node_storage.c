/*
** node_storage.c — raftlite as the storage of a single Raft node.
**
**     node_storage [database]        (default: node.db, created afresh)
**
** A node's life in storage calls, openraft's RaftStorage names in
** brackets: it votes for itself (save_hard_state), appends its membership
** and three commands in one transaction with the vote of a new term
** (append_to_log), applies them to a key-value state machine kept in the
** same database (apply_to_state_machine), builds a snapshot
** (build_snapshot), purges the log it covers (purge_logs_upto), and
** reopens the database to show that all of it survived
** (get_initial_state).
**
** The state machine is a table kv(k, v): a normal entry "k=v" sets k. Its
** writes commit with last_applied, in the store's transaction.
*/
#include <raftlite.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                         \
  do {                                                                      \
    int rc_ = (call);                                                       \
    if (rc_ != SQLITE_OK) {                                                 \
      fprintf(stderr, "%s failed (%d): %s\n", #call, rc_,                   \
              store ? raftlite_errmsg(store) : sqlite3_errstr(rc_));        \
      exit(1);                                                              \
    }                                                                       \
  } while (0)

static raftlite *store = NULL;

/* ---- the key-value state machine ---------------------------------- */

static int kvApply(void *ctx, sqlite3 *db, const raftlite_entry *e, raftlite_response *out) {
  (void)ctx;
  const char *zEq = memchr(e->data, '=', e->size);
  if (zEq == NULL) return SQLITE_MISMATCH;
  int nKey = (int)(zEq - (const char *)e->data);
  sqlite3_stmt *pStmt;
  int rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO kv(k, v) VALUES (?1, ?2)", -1,
                              &pStmt, NULL);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_text(pStmt, 1, e->data, nKey, SQLITE_STATIC);
  sqlite3_bind_text(pStmt, 2, zEq + 1, (int)e->size - nKey - 1, SQLITE_STATIC);
  sqlite3_step(pStmt);
  rc = sqlite3_finalize(pStmt);
  /* The response: the key that was set (owned by raftlite from here). */
  out->data = sqlite3_mprintf("set %.*s", nKey, (const char *)e->data);
  out->size = out->data ? strlen(out->data) : 0;
  return rc;
}

/* A snapshot is the table as "k=v\n" lines. */
static int kvSnapshot(void *ctx, sqlite3 *db, raftlite_snapshot *w) {
  (void)ctx;
  sqlite3_stmt *pStmt;
  int rc = sqlite3_prepare_v2(db, "SELECT k || '=' || v || char(10) FROM kv ORDER BY k", -1,
                              &pStmt, NULL);
  while (rc == SQLITE_OK && sqlite3_step(pStmt) == SQLITE_ROW) {
    rc = raftlite_snapshot_write(w, sqlite3_column_text(pStmt, 0),
                                 (size_t)sqlite3_column_bytes(pStmt, 0));
  }
  sqlite3_finalize(pStmt);
  return rc;
}

static int kvRestore(void *ctx, sqlite3 *db, raftlite_snapshot *r) {
  int rc = sqlite3_exec(db, "DELETE FROM kv", NULL, NULL, NULL);
  char line[512];
  size_t n = 0;
  raftlite_response ignored = {NULL, 0};
  while (rc == SQLITE_OK) {
    char c;
    size_t got = 0;
    rc = raftlite_snapshot_read(r, &c, 1, &got);
    if (rc != SQLITE_OK || got == 0) break;
    if (c != '\n' && n < sizeof(line)) {
      line[n++] = c;
      continue;
    }
    raftlite_entry e = {{0, 0}, RAFTLITE_NORMAL, line, n};
    rc = kvApply(ctx, db, &e, &ignored);
    sqlite3_free(ignored.data);
    n = 0;
  }
  return rc;
}

/* ---- the node ------------------------------------------------------- */

static void printState(sqlite3 *db) {
  raftlite_log_state log;
  raftlite_applied_state applied;
  raftlite_hard_state hs;
  int bHs;
  CHECK(raftlite_get_initial_state(store, &log, &applied, &hs, &bHs));
  printf("  hard state:   term %llu, voted for %s%llu\n", (unsigned long long)hs.current_term,
         hs.has_vote ? "node " : "nobody", hs.has_vote ? (unsigned long long)hs.voted_for : 0ULL);
  printf("  log:          last purged %llu-%llu, last %llu-%llu\n",
         (unsigned long long)log.last_purged_log_id.term,
         (unsigned long long)log.last_purged_log_id.index,
         (unsigned long long)log.last_log_id.term, (unsigned long long)log.last_log_id.index);
  printf("  applied:      %llu-%llu, membership %s\n",
         (unsigned long long)applied.last_applied.term,
         (unsigned long long)applied.last_applied.index,
         applied.membership_json ? applied.membership_json : "none");
  raftlite_applied_state_free(&applied);
  sqlite3_stmt *pStmt;
  sqlite3_prepare_v2(db, "SELECT group_concat(k || '=' || v, ', ') FROM (SELECT k, v FROM kv ORDER BY k)", -1, &pStmt, NULL);
  if (sqlite3_step(pStmt) == SQLITE_ROW) {
    printf("  kv:           %s\n", sqlite3_column_text(pStmt, 0));
  }
  sqlite3_finalize(pStmt);
}

static void openNode(const char *zPath, sqlite3 **pDb) {
  /* Through the raftlite VFS: a call skips the durability PRAGMAs while
  ** the settings stay as set below. */
  CHECK(raftlite_vfs_register(NULL));
  if (sqlite3_open_v2(zPath, pDb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, RAFTLITE_VFS) !=
      SQLITE_OK)
    exit(1);
  /* WAL with synchronous FULL: durable, and readers never block the node. */
  sqlite3_exec(*pDb, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE IF NOT EXISTS kv(k TEXT PRIMARY KEY, v TEXT)",
               NULL, NULL, NULL);
  CHECK(raftlite_open(*pDb, "main", &store));
  raftlite_state_machine sm = {NULL, kvApply, kvSnapshot, kvRestore};
  CHECK(raftlite_set_state_machine(store, &sm));
}

int main(int argc, char **argv) {
  const char *zPath = argc > 1 ? argv[1] : "node.db";
  remove(zPath);
  char zSide[512];
  snprintf(zSide, sizeof(zSide), "%s-wal", zPath);
  remove(zSide);
  snprintf(zSide, sizeof(zSide), "%s-shm", zPath);
  remove(zSide);
  sqlite3 *db;
  openNode(zPath, &db);
  printf("raftlite %s on SQLite %s, database %s\n", raftlite_libversion(), sqlite3_libversion(),
         zPath);

  /* Term 1: the node votes for itself, and appends its membership and
  ** three commands with the vote in one transaction: one sync. */
  printf("term 1: vote for node 1 and append 4 entries in one transaction\n");
  raftlite_hard_state hs = {1, 1, 1};
  raftlite_entry entries[] = {
      {{1, 1}, RAFTLITE_MEMBERSHIP, "[[1]]", 5},
      {{1, 2}, RAFTLITE_NORMAL, "x=1", 3},
      {{1, 3}, RAFTLITE_NORMAL, "y=2", 3},
      {{1, 4}, RAFTLITE_NORMAL, "x=3", 3},
  };
  sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
  CHECK(raftlite_save_hard_state(store, &hs));
  CHECK(raftlite_append_to_log(store, entries, 4));
  if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    fprintf(stderr, "COMMIT: %s\n", sqlite3_errmsg(db));
    return 1;
  }

  /* A rule broken is refused with its kind, and changes nothing. */
  raftlite_entry gap = {{1, 9}, RAFTLITE_BLANK, NULL, 0};
  int rc = raftlite_append_to_log(store, &gap, 1);
  printf("append 1-9 refused: rc=%d, kind=%d, \"%s\"\n", rc, (int)raftlite_violation(store),
         raftlite_errmsg(store));

  /* Committed: apply them. */
  raftlite_responses responses;
  CHECK(raftlite_apply_to_state_machine(store, entries, 4, &responses));
  printf("applied 1..4, responses:");
  for (size_t i = 0; i < responses.n; i++) {
    printf(" [%.*s]", (int)responses.a[i].size, (const char *)responses.a[i].data);
  }
  printf("\n");
  raftlite_responses_free(&responses);

  /* Snapshot, then purge the log it covers. */
  raftlite_snapshot_meta meta;
  raftlite_snapshot *snapshot;
  CHECK(raftlite_build_snapshot(store, &meta, &snapshot));
  char bytes[256];
  size_t n = 0;
  CHECK(raftlite_snapshot_read(snapshot, bytes, sizeof(bytes), &n));
  raftlite_snapshot_close(snapshot);
  for (size_t i = 0; i < n; i++) bytes[i] = bytes[i] == '\n' ? ' ' : bytes[i];
  printf("snapshot %s up to %llu-%llu, %zu bytes: \"%.*s\"\n", meta.snapshot_id,
         (unsigned long long)meta.last_log_id.term, (unsigned long long)meta.last_log_id.index, n,
         (int)n, bytes);
  CHECK(raftlite_purge_logs_upto(store, meta.last_log_id));
  raftlite_snapshot_meta_free(&meta);
  printf("purged up to 1-4\n");
  printState(db);

  /* Reopen: everything survived. */
  raftlite_close(store);
  store = NULL;
  if (sqlite3_close(db) != SQLITE_OK) return 1;
  printf("reopened %s:\n", zPath);
  openNode(zPath, &db);
  printState(db);
  raftlite_close(store);
  sqlite3_close(db);
  return 0;
}
