/*
** test_snapshot.c — snapshots through the C API: streams across chunk
** boundaries and seeks, build/get/receive/install with a key-value state
** machine, the contract's install rules for the log (docs/contract.md
** §2), and what a crash leaves.
*/
#include "fixture.h"
#include "raftlite_int.h" /* rlEntryPayloadCheck */

#include <stdint.h>

#define F ((Fixture *)f)

#define CHUNK 65536 /* ext/snapshot.c RL_CHUNK: tests straddle it */

/* Byte i of a test pattern. */
static unsigned char pattern(size_t i) { return (unsigned char)((i * 131) ^ (i >> 9)); }

/* Writes n bytes of the pattern from position iFrom, in pieces of nPiece. */
static int writePattern(raftlite_snapshot *s, size_t iFrom, size_t n, size_t nPiece) {
  unsigned char *buf = malloc(nPiece);
  int rc = SQLITE_OK;
  for (size_t done = 0; rc == SQLITE_OK && done < n; done += nPiece) {
    size_t k = n - done < nPiece ? n - done : nPiece;
    for (size_t i = 0; i < k; i++) buf[i] = pattern(iFrom + done + i);
    rc = raftlite_snapshot_write(s, buf, k);
  }
  free(buf);
  return rc;
}

/* Reads the stream from its position to the end, checking the pattern
** from iFrom; returns the number of bytes read, or -1 on a mismatch. */
static long long readPattern(raftlite_snapshot *s, size_t iFrom, size_t nPiece) {
  unsigned char *buf = malloc(nPiece);
  long long nTotal = 0;
  for (;;) {
    size_t got = 0;
    if (raftlite_snapshot_read(s, buf, nPiece, &got) != SQLITE_OK) {
      nTotal = -1;
      break;
    }
    if (got == 0) break;
    for (size_t i = 0; i < got; i++) {
      if (buf[i] != pattern(iFrom + (size_t)nTotal + i)) {
        free(buf);
        return -1;
      }
    }
    nTotal += (long long)got;
  }
  free(buf);
  return nTotal;
}

/******************************************************************************
 * Streams
 *****************************************************************************/

/* Bytes written in odd-sized pieces read back exactly, in other pieces,
** across chunk boundaries. */
TEST(stream, roundTripAcrossChunks) {
  raftlite_snapshot *s = NULL;
  ASSERT_OK(raftlite_begin_receiving_snapshot(F->store, &s));
  size_t n = 3 * CHUNK + 12345;
  ASSERT_OK(writePattern(s, 0, n, 10007));
  uint64_t pos = 0;
  ASSERT_OK(raftlite_snapshot_seek(s, 0, SEEK_SET, &pos));
  ASSERT_INT(pos, 0);
  ASSERT_INT(readPattern(s, 0, 4099), (long long)n);
  /* A read at the end returns 0 bytes and SQLITE_OK. */
  char c;
  size_t got = 1;
  ASSERT_OK(raftlite_snapshot_read(s, &c, 1, &got));
  ASSERT_INT(got, 0);
  raftlite_snapshot_close(s);
}

/* Seeks: SEEK_SET/CUR/END, reads straddling a chunk boundary, rewriting
** in the middle, a sparse write past the end reading back as zeros. */
TEST(stream, seekAndRewrite) {
  raftlite_snapshot *s = NULL;
  ASSERT_OK(raftlite_begin_receiving_snapshot(F->store, &s));
  ASSERT_OK(writePattern(s, 0, 2 * CHUNK, CHUNK));
  uint64_t pos;
  ASSERT_OK(raftlite_snapshot_seek(s, CHUNK - 3, SEEK_SET, &pos));
  unsigned char buf[8];
  size_t got;
  ASSERT_OK(raftlite_snapshot_read(s, buf, 6, &got));
  ASSERT_INT(got, 6);
  for (int i = 0; i < 6; i++) ASSERT_INT(buf[i], pattern(CHUNK - 3 + (size_t)i));
  ASSERT_OK(raftlite_snapshot_seek(s, -6, SEEK_CUR, &pos));
  ASSERT_INT(pos, CHUNK - 3);
  ASSERT_OK(raftlite_snapshot_write(s, "ABCDEF", 6));
  ASSERT_OK(raftlite_snapshot_seek(s, CHUNK - 3, SEEK_SET, NULL));
  ASSERT_OK(raftlite_snapshot_read(s, buf, 6, &got));
  ASSERT(memcmp(buf, "ABCDEF", 6) == 0);
  ASSERT_OK(raftlite_snapshot_seek(s, -2, SEEK_END, &pos));
  ASSERT_INT(pos, 2 * CHUNK - 2);
  ASSERT_OK(raftlite_snapshot_read(s, buf, 8, &got));
  ASSERT_INT(got, 2);
  /* Past the end: a gap of zeros, then the bytes. */
  ASSERT_OK(raftlite_snapshot_seek(s, CHUNK + 10, SEEK_END, &pos));
  ASSERT_OK(raftlite_snapshot_write(s, "Z", 1));
  ASSERT_OK(raftlite_snapshot_seek(s, 3 * CHUNK + 5, SEEK_SET, NULL));
  ASSERT_OK(raftlite_snapshot_read(s, buf, 8, &got));
  ASSERT_INT(got, 6);
  ASSERT(memcmp(buf, "\0\0\0\0\0Z", 6) == 0);
  /* Below 0 is out of range; the position does not move. */
  ASSERT_INT(raftlite_snapshot_seek(s, -1, SEEK_SET, &pos), SQLITE_RANGE);
  ASSERT_INT(raftlite_snapshot_seek(s, 0, 42, &pos), SQLITE_RANGE);
  raftlite_snapshot_close(s);
}

/* A stream holds no blob handle between calls: the connection can commit
** other work (and close) while streams are open. */
TEST(stream, holdsNothingBetweenCalls) {
  raftlite_snapshot *s = NULL;
  ASSERT_OK(raftlite_begin_receiving_snapshot(F->store, &s));
  ASSERT_OK(writePattern(s, 0, CHUNK + 1, 1000));
  EXEC("CREATE TABLE other(x); INSERT INTO other VALUES (1)");
  ASSERT_INT(sqlite3_get_autocommit(F->db), 1);
  raftlite_snapshot_close(s);
}

/******************************************************************************
 * Build, get, receive, install
 *****************************************************************************/

/* A key-value state machine: normal entries are "k=v"; a snapshot is the
** rows as "k=v\n" lines. */
typedef struct Kv {
  int bFailRestore;
} Kv;

static int kvApply(void *ctx, sqlite3 *db, const raftlite_entry *e, raftlite_response *out) {
  (void)ctx;
  (void)out;
  char *zSql = sqlite3_mprintf("INSERT OR REPLACE INTO kv VALUES (substr(%.*Q, 1, instr(%.*Q, '=') - 1),"
                               " substr(%.*Q, instr(%.*Q, '=') + 1))",
                               (int)e->size, e->data, (int)e->size, e->data,
                               (int)e->size, e->data, (int)e->size, e->data);
  int rc = sqlite3_exec(db, zSql, NULL, NULL, NULL);
  sqlite3_free(zSql);
  return rc;
}

static int kvSnapshot(void *ctx, sqlite3 *db, raftlite_snapshot *w) {
  (void)ctx;
  sqlite3_stmt *pStmt = NULL;
  int rc = sqlite3_prepare_v2(db, "SELECT k || '=' || v || char(10) FROM kv ORDER BY k", -1, &pStmt, NULL);
  while (rc == SQLITE_OK && sqlite3_step(pStmt) == SQLITE_ROW) {
    rc = raftlite_snapshot_write(w, sqlite3_column_text(pStmt, 0), (size_t)sqlite3_column_bytes(pStmt, 0));
  }
  sqlite3_finalize(pStmt);
  return rc;
}

static int kvRestore(void *ctx, sqlite3 *db, raftlite_snapshot *r) {
  Kv *kv = ctx;
  if (kv->bFailRestore) return kv->bFailRestore == 2 ? SQLITE_NOMEM : SQLITE_CORRUPT;
  int rc = sqlite3_exec(db, "DELETE FROM kv", NULL, NULL, NULL);
  char line[256];
  size_t n = 0;
  for (;;) {
    char c;
    size_t got = 0;
    if (rc == SQLITE_OK) rc = raftlite_snapshot_read(r, &c, 1, &got);
    if (rc != SQLITE_OK || got == 0) break;
    if (c != '\n' && n < sizeof(line) - 1) {
      line[n++] = c;
      continue;
    }
    raftlite_entry e = {{0, 0}, RAFTLITE_NORMAL, line, n};
    rc = kvApply(ctx, db, &e, NULL);
    n = 0;
  }
  return rc;
}

static void useKv(Fixture *f, Kv *kv) {
  sqlite3_exec(f->db, "CREATE TABLE IF NOT EXISTS kv(k TEXT PRIMARY KEY, v TEXT)", NULL, NULL, NULL);
  raftlite_state_machine sm = {kv, kvApply, kvSnapshot, kvRestore};
  raftlite_set_state_machine(f->store, &sm);
}

/* Appends and applies "k<i>=<i>" for i in lo..hi, term 1. */
static int appendApply(raftlite *store, int lo, int hi) {
  for (int i = lo; i <= hi; i++) {
    char z[32];
    snprintf(z, sizeof(z), "k%d=%d", i, i);
    raftlite_entry e = {{1, (uint64_t)i}, RAFTLITE_NORMAL, z, strlen(z)};
    int rc = raftlite_append_to_log(store, &e, 1);
    raftlite_responses r;
    if (rc == SQLITE_OK) rc = raftlite_apply_to_state_machine(store, &e, 1, &r);
    if (rc != SQLITE_OK) return rc;
    raftlite_responses_free(&r);
  }
  return SQLITE_OK;
}

/* Nothing applied: nothing to snapshot. No current snapshot: none. */
TEST(build, nothingApplied) {
  raftlite_snapshot_meta meta;
  raftlite_snapshot *s = (raftlite_snapshot *)1;
  ASSERT_REFUSED(raftlite_build_snapshot(F->store, &meta, &s), SQLITE_CONSTRAINT,
                 RAFTLITE_NOTHING_APPLIED);
  ASSERT(s == NULL);
  ASSERT_OK(raftlite_get_current_snapshot(F->store, &meta, &s));
  ASSERT(s == NULL);
}

/* build_snapshot: the meta is last_applied and the applied membership;
** the bytes are what the callback wrote; it becomes current, replacing the
** previous one. */
TEST(build, buildAndGetCurrent) {
  Kv kv = {0};
  useKv(F, &kv);
  raftlite_entry m = entry(1, 1, RAFTLITE_MEMBERSHIP, "[[1,2]]");
  raftlite_responses r;
  ASSERT_OK(raftlite_append_to_log(F->store, &m, 1));
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, &m, 1, &r));
  raftlite_responses_free(&r);
  ASSERT_OK(appendApply(F->store, 2, 3));
  raftlite_snapshot_meta meta;
  raftlite_snapshot *s = NULL;
  ASSERT_OK(raftlite_build_snapshot(F->store, &meta, &s));
  ASSERT_INT(meta.last_log_id.index, 3);
  ASSERT_INT(meta.has_membership, 1);
  ASSERT_STR(meta.membership_json, "[[1,2]]");
  ASSERT(meta.snapshot_id[0] != 0);
  char buf[64];
  size_t got;
  ASSERT_OK(raftlite_snapshot_read(s, buf, sizeof(buf), &got));
  ASSERT_INT(got, 10);
  ASSERT(memcmp(buf, "k2=2\nk3=3\n", 10) == 0);
  raftlite_snapshot_close(s);
  char zFirst[128];
  strcpy(zFirst, meta.snapshot_id);
  raftlite_snapshot_meta_free(&meta);

  ASSERT_OK(appendApply(F->store, 4, 4));
  ASSERT_OK(raftlite_build_snapshot(F->store, &meta, &s));
  raftlite_snapshot_close(s);
  ASSERT(strcmp(meta.snapshot_id, zFirst) != 0);
  raftlite_snapshot_meta_free(&meta);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raftlite_snapshot"), 1);
  ASSERT_OK(raftlite_get_current_snapshot(F->store, &meta, &s));
  ASSERT(s != NULL);
  ASSERT_INT(meta.last_log_id.index, 4);
  ASSERT_OK(raftlite_snapshot_read(s, buf, sizeof(buf), &got));
  ASSERT_INT(got, 15);
  raftlite_snapshot_close(s);
  raftlite_snapshot_meta_free(&meta);
  /* Reading current snapshot from SQL. */
  ASSERT_INT(queryInt(F->db, "SELECT size FROM raft_snapshot"), 15);
}

/* Builds a snapshot on a second store (another database) and returns its
** meta; *pBytes gets its bytes (free()). */
static void leaderSnapshot(const char *zPath, int lo, int hi, raftlite_snapshot_meta *pMeta,
                           char **pBytes, size_t *pn) {
  Fixture other;
  memset(&other, 0, sizeof(other));
  snprintf(other.zPath, sizeof(other.zPath), "%s", zPath);
  fixtureOpen(&other, 1);
  Kv kv = {0};
  useKv(&other, &kv);
  raftlite_entry m = entry(1, (uint64_t)lo - 1, RAFTLITE_MEMBERSHIP, "[[1,2,3]]");
  raftlite_responses r;
  raftlite_append_to_log(other.store, &m, 1);
  raftlite_apply_to_state_machine(other.store, &m, 1, &r);
  raftlite_responses_free(&r);
  appendApply(other.store, lo, hi);
  raftlite_snapshot *s = NULL;
  raftlite_build_snapshot(other.store, pMeta, &s);
  *pBytes = malloc(4096);
  raftlite_snapshot_read(s, *pBytes, 4096, pn);
  raftlite_snapshot_close(s);
  fixtureClose(&other);
  remove(zPath);
}

/* install_snapshot: the state machine is restored; last_applied and the
** membership come from the meta; a log without the meta's id loses every
** entry; last_purged = meta.last_log_id. */
TEST(install, replacesStateAndLog) {
  raftlite_snapshot_meta meta;
  char *bytes;
  size_t n;
  leaderSnapshot("leader-1.db", 2, 9, &meta, &bytes, &n);
  Kv kv = {0};
  useKv(F, &kv);
  ASSERT_OK(appendBlanks(F->store, 1, 1, 3)); /* a different history */
  raftlite_entry conflict = entry(1, 4, RAFTLITE_NORMAL, "x=1");
  ASSERT_OK(raftlite_append_to_log(F->store, &conflict, 1));
  raftlite_snapshot *s = NULL;
  ASSERT_OK(raftlite_begin_receiving_snapshot(F->store, &s));
  ASSERT_OK(raftlite_snapshot_write(s, bytes, n));
  raftlite_sm_changes ch;
  ASSERT_OK(raftlite_install_snapshot(F->store, &meta, s, &ch));
  ASSERT_INT(ch.is_snapshot, 1);
  ASSERT_INT(ch.last_applied.index, 9);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM kv"), 8);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raftlite_log"), 0);
  raftlite_log_state ls;
  ASSERT_OK(raftlite_get_log_state(F->store, &ls));
  ASSERT_INT(ls.last_purged_log_id.index, 9);
  ASSERT_INT(ls.last_log_id.index, 9);
  raftlite_applied_state as;
  ASSERT_OK(raftlite_last_applied_state(F->store, &as));
  ASSERT_INT(as.last_applied.index, 9);
  ASSERT_STR(as.membership_json, "[[1,2,3]]");
  raftlite_applied_state_free(&as);
  /* The next append follows the snapshot. */
  raftlite_entry next = entry(1, 10, RAFTLITE_BLANK, NULL);
  ASSERT_OK(raftlite_append_to_log(F->store, &next, 1));
  raftlite_snapshot_meta cur;
  ASSERT_OK(raftlite_get_current_snapshot(F->store, &cur, &s));
  ASSERT_STR(cur.snapshot_id, meta.snapshot_id);
  raftlite_snapshot_close(s);
  raftlite_snapshot_meta_free(&cur);
  raftlite_snapshot_meta_free(&meta);
  free(bytes);
}

/* A log holding exactly the meta's last log id keeps the later entries. */
TEST(install, keepsEntriesAfterAMatchingId) {
  Kv kv = {0};
  useKv(F, &kv);
  ASSERT_OK(appendApply(F->store, 1, 3));
  ASSERT_OK(appendBlanks(F->store, 1, 4, 8));
  raftlite_snapshot_meta meta;
  memset(&meta, 0, sizeof(meta));
  meta.last_log_id.term = 1;
  meta.last_log_id.index = 5;
  strcpy(meta.snapshot_id, "from-leader");
  raftlite_snapshot *s = NULL;
  ASSERT_OK(raftlite_begin_receiving_snapshot(F->store, &s));
  ASSERT_OK(raftlite_snapshot_write(s, "a=1\n", 4));
  raftlite_sm_changes ch;
  ASSERT_OK(raftlite_install_snapshot(F->store, &meta, s, &ch));
  ASSERT_INT(queryInt(F->db, "SELECT min(idx) FROM raftlite_log"), 6);
  ASSERT_INT(queryInt(F->db, "SELECT max(idx) FROM raftlite_log"), 8);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM kv"), 1);
  /* A meta without membership leaves none. */
  raftlite_applied_state as;
  ASSERT_OK(raftlite_last_applied_state(F->store, &as));
  ASSERT_INT(as.has_membership, 0);
  raftlite_applied_state_free(&as);
}

/* Receives zBytes and installs them with *pMeta, which must fail with rc
** and kind; the store must be as before the stream was begun (the stream
** is consumed either way). */
#define ASSERT_INSTALL_REFUSED(pMeta, zBytes, wantRc, wantKind)              \
  do {                                                                       \
    char *zBefore_ = dumpStore(F->db);                                       \
    raftlite_snapshot *s_ = NULL;                                            \
    raftlite_sm_changes ch_;                                                 \
    ASSERT_OK(raftlite_begin_receiving_snapshot(F->store, &s_));             \
    ASSERT_OK(raftlite_snapshot_write(s_, zBytes, strlen(zBytes)));          \
    ASSERT_INT(raftlite_install_snapshot(F->store, pMeta, s_, &ch_), wantRc); \
    ASSERT_INT(raftlite_violation(F->store), wantKind);                      \
    char *zAfter_ = dumpStore(F->db);                                        \
    int same_ = strcmp(zBefore_, zAfter_) == 0;                              \
    sqlite3_free(zBefore_);                                                  \
    sqlite3_free(zAfter_);                                                   \
    ASSERT(same_);                                                           \
  } while (0)

/* Refusals leave the store unchanged and still consume the stream. */
TEST(install, refusals) {
  Kv kv = {0};
  useKv(F, &kv);
  ASSERT_OK(appendApply(F->store, 1, 5));
  raftlite_snapshot_meta meta;
  memset(&meta, 0, sizeof(meta));
  strcpy(meta.snapshot_id, "s1");
  meta.last_log_id.term = 1;
  meta.last_log_id.index = 4;
  /* Stale: below last_applied. */
  ASSERT_INSTALL_REFUSED(&meta, "a=1\n", SQLITE_CONSTRAINT, RAFTLITE_SNAPSHOT_STALE);
  ASSERT_STR(raftlite_errmsg(F->store),
             "SnapshotStale: last applied log id is 1-5, got a snapshot up to 1-4");
  /* Invalid membership. */
  meta.last_log_id.index = 7;
  meta.has_membership = 1;
  meta.membership_log_id.term = 1;
  meta.membership_log_id.index = 6;
  meta.membership_json = "[[]]";
  ASSERT_INSTALL_REFUSED(&meta, "a=1\n", SQLITE_CONSTRAINT, RAFTLITE_INVALID_MEMBERSHIP);
  /* The restore callback rejects the bytes: its code, SnapshotInvalid
  ** (2026-12-03, review), nothing changed. */
  meta.membership_json = "[[1]]";
  kv.bFailRestore = 1;
  ASSERT_INSTALL_REFUSED(&meta, "a=1\n", SQLITE_CORRUPT, RAFTLITE_SNAPSHOT_INVALID);
  ASSERT(strstr(raftlite_errmsg(F->store), "rejected the snapshot's bytes with code 11") != NULL);
  kv.bFailRestore = 0;
  /* Values out of range. */
  meta.last_log_id.term = UINT64_MAX;
  ASSERT_INSTALL_REFUSED(&meta, "a=1\n", SQLITE_RANGE, RAFTLITE_OUT_OF_RANGE);
  /* No stream, or not a receiving one. */
  raftlite_sm_changes ch;
  ASSERT_INT(raftlite_install_snapshot(F->store, &meta, NULL, &ch), SQLITE_MISUSE);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raftlite_snapshot"), 0);
  /* Then a good one installs. */
  meta.last_log_id.term = 1;
  raftlite_snapshot *s = NULL;
  ASSERT_OK(raftlite_begin_receiving_snapshot(F->store, &s));
  ASSERT_OK(raftlite_snapshot_write(s, "b=2\n", 4));
  ASSERT_OK(raftlite_install_snapshot(F->store, &meta, s, &ch));
  ASSERT_INT(queryInt(F->db, "SELECT v FROM kv WHERE k = 'b'"), 2);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM kv"), 1);
}

/* A read stream whose snapshot was replaced fails instead of reading
** zeros; a failing snapshot callback says so. */
static int failingSnapshot(void *ctx, sqlite3 *db, raftlite_snapshot *w) {
  (void)ctx;
  (void)db;
  (void)w;
  return SQLITE_FULL;
}

TEST(build, staleStreamAndFailingCallback) {
  Kv kv = {0};
  useKv(F, &kv);
  ASSERT_OK(appendApply(F->store, 1, 2));
  raftlite_snapshot_meta meta;
  raftlite_snapshot *old = NULL, *s = NULL;
  ASSERT_OK(raftlite_build_snapshot(F->store, &meta, &old));
  raftlite_snapshot_meta_free(&meta);
  ASSERT_OK(appendApply(F->store, 3, 3));
  ASSERT_OK(raftlite_build_snapshot(F->store, &meta, &s));
  raftlite_snapshot_meta_free(&meta);
  raftlite_snapshot_close(s);
  char buf[8];
  size_t got = 9;
  ASSERT_INT(raftlite_snapshot_read(old, buf, sizeof(buf), &got), SQLITE_ABORT);
  ASSERT_INT(got, 0);
  ASSERT_STR(raftlite_errmsg(F->store), "the snapshot this stream reads was replaced or removed");
  raftlite_snapshot_close(old);

  raftlite_state_machine sm = {&kv, kvApply, failingSnapshot, kvRestore};
  raftlite_set_state_machine(F->store, &sm);
  ASSERT_REFUSED(raftlite_build_snapshot(F->store, &meta, &s), SQLITE_FULL, RAFTLITE_NO_VIOLATION);
  ASSERT(s == NULL);
  ASSERT(strstr(raftlite_errmsg(F->store), "snapshot callback failed") != NULL);
}

/* A read stream is read-only. */
TEST(install, currentStreamIsReadOnly) {
  Kv kv = {0};
  useKv(F, &kv);
  ASSERT_OK(appendApply(F->store, 1, 1));
  raftlite_snapshot_meta meta;
  raftlite_snapshot *s = NULL;
  ASSERT_OK(raftlite_build_snapshot(F->store, &meta, &s));
  ASSERT_INT(raftlite_snapshot_write(s, "x", 1), SQLITE_READONLY);
  raftlite_snapshot_close(s);
  raftlite_snapshot_meta_free(&meta);
}

/* A receiving stream left behind (no install, process gone) is reclaimed
** when the store is opened again; the current snapshot stays. */
TEST(receive, reclaimedAtOpen) {
  Kv kv = {0};
  useKv(F, &kv);
  ASSERT_OK(appendApply(F->store, 1, 2));
  raftlite_snapshot_meta meta;
  raftlite_snapshot *s = NULL;
  ASSERT_OK(raftlite_build_snapshot(F->store, &meta, &s));
  raftlite_snapshot_close(s);
  raftlite_snapshot_meta_free(&meta);
  ASSERT_OK(raftlite_begin_receiving_snapshot(F->store, &s));
  ASSERT_OK(writePattern(s, 0, CHUNK + 10, 4096));
  raftlite_snapshot_close(s);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raftlite_snapshot"), 2);
  fixtureClose(F);
  fixtureOpen(F, 0);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raftlite_snapshot"), 1);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raftlite_snapshot_chunk"), 1);
  ASSERT_OK(raftlite_get_current_snapshot(F->store, &meta, &s));
  ASSERT(s != NULL);
  raftlite_snapshot_close(s);
  raftlite_snapshot_meta_free(&meta);
}

/* 2026-12-03 (review): installing a stream that another handle's open
** reclaimed fails as its writes do (SQLITE_ABORT), not as a rule of the
** state; a restore callback out of memory is no verdict on the bytes: no
** kind, and the received bytes stay for the next open to reclaim. */
TEST(install, reclaimedStreamAndResourceErrors) {
  Kv kv = {0};
  useKv(F, &kv);
  ASSERT_OK(appendApply(F->store, 1, 2));
  raftlite_snapshot_meta meta;
  memset(&meta, 0, sizeof(meta));
  strcpy(meta.snapshot_id, "s9");
  meta.last_log_id.term = 1;
  meta.last_log_id.index = 9;
  raftlite_snapshot *s = NULL;
  raftlite_sm_changes ch;
  ASSERT_OK(raftlite_begin_receiving_snapshot(F->store, &s));
  ASSERT_OK(raftlite_snapshot_write(s, "a=1\n", 4));
  raftlite *other = NULL;
  ASSERT_INT(raftlite_open(F->db, "main", &other), SQLITE_OK); /* reclaims s */
  raftlite_close(other);
  char *zBefore = dumpStore(F->db);
  ASSERT_INT(raftlite_install_snapshot(F->store, &meta, s, &ch), SQLITE_ABORT);
  ASSERT_INT(raftlite_violation(F->store), RAFTLITE_NO_VIOLATION);
  char *zAfter = dumpStore(F->db);
  ASSERT_STR(zAfter, zBefore);
  sqlite3_free(zAfter);
  sqlite3_free(zBefore);
  kv.bFailRestore = 2;
  ASSERT_OK(raftlite_begin_receiving_snapshot(F->store, &s));
  ASSERT_OK(raftlite_snapshot_write(s, "a=1\n", 4));
  zBefore = dumpStore(F->db);
  ASSERT_INT(raftlite_install_snapshot(F->store, &meta, s, &ch), SQLITE_NOMEM);
  ASSERT_INT(raftlite_violation(F->store), RAFTLITE_NO_VIOLATION);
  zAfter = dumpStore(F->db);
  ASSERT_STR(zAfter, zBefore);
  sqlite3_free(zAfter);
  sqlite3_free(zBefore);
  kv.bFailRestore = 0;
  ASSERT_INT(sqlite3_get_autocommit(F->db), 1);
}

/* 2026-11-27 (review): snapshot ids never come back, so a stale read
** stream cannot read a newer snapshot's bytes. */
TEST(stream, staleStreamNeverReadsAnother) {
  Kv kv = {0};
  useKv(F, &kv);
  ASSERT_OK(appendApply(F->store, 1, 2));
  raftlite_snapshot *r = NULL, *g = NULL, *r2 = NULL;
  raftlite_snapshot_meta meta;
  ASSERT_OK(raftlite_begin_receiving_snapshot(F->store, &r));
  ASSERT_OK(raftlite_snapshot_write(r, "a=1\n", 4));
  ASSERT_OK(raftlite_build_snapshot(F->store, &meta, &g));
  raftlite_snapshot_meta_free(&meta);
  memset(&meta, 0, sizeof(meta));
  strcpy(meta.snapshot_id, "other");
  meta.last_log_id.term = 1;
  meta.last_log_id.index = 3;
  raftlite_sm_changes ch;
  ASSERT_OK(raftlite_install_snapshot(F->store, &meta, r, &ch)); /* deletes g's */
  ASSERT_OK(raftlite_begin_receiving_snapshot(F->store, &r2));
  ASSERT_OK(raftlite_snapshot_write(r2, "SECRET-OTHER-S", 14));
  char buf[32];
  size_t got = 0;
  ASSERT_INT(raftlite_snapshot_read(g, buf, sizeof(buf), &got), SQLITE_ABORT);
  ASSERT_INT(got, 0);
  raftlite_snapshot_close(g);
  raftlite_snapshot_close(r2);
}

/* 2026-11-27 (review): a receiving stream reclaimed by another handle's
** open fails on its next write instead of writing into nothing. */
TEST(stream, reclaimedStreamFailsToWrite) {
  raftlite_snapshot *w = NULL;
  ASSERT_OK(raftlite_begin_receiving_snapshot(F->store, &w));
  ASSERT_OK(raftlite_snapshot_write(w, "abc", 3));
  raftlite *other = NULL;
  ASSERT_OK(raftlite_open(F->db, "main", &other)); /* reclaims w's row */
  raftlite_close(other);
  ASSERT_INT(raftlite_snapshot_write(w, "def", 3), SQLITE_ABORT);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raftlite_snapshot_chunk"), 0);
  raftlite_snapshot_close(w);
}

/* 2026-11-27 (review): seeking below 0 by any amount is SQLITE_RANGE. */
TEST(stream, seekExtremes) {
  raftlite_snapshot *w = NULL;
  ASSERT_OK(raftlite_begin_receiving_snapshot(F->store, &w));
  ASSERT_OK(raftlite_snapshot_write(w, "abc", 3));
  uint64_t pos = 7;
  ASSERT_INT(raftlite_snapshot_seek(w, INT64_MIN, SEEK_SET, &pos), SQLITE_RANGE);
  ASSERT_INT(raftlite_snapshot_seek(w, INT64_MIN, SEEK_END, &pos), SQLITE_RANGE);
  ASSERT_INT(raftlite_snapshot_seek(w, INT64_MAX, SEEK_END, &pos), SQLITE_RANGE);
  ASSERT_INT(pos, 7);
  ASSERT_OK(raftlite_snapshot_seek(w, -3, SEEK_END, &pos));
  ASSERT_INT(pos, 0);
  raftlite_snapshot_close(w);
}

/* 2026-11-27 (review): malformed membership JSON in install's meta is
** InvalidMembership, not a bare SQL error. */
TEST(install, malformedMembershipJson) {
  raftlite_snapshot_meta meta;
  memset(&meta, 0, sizeof(meta));
  strcpy(meta.snapshot_id, "s");
  meta.last_log_id.term = 1;
  meta.last_log_id.index = 2;
  meta.has_membership = 1;
  meta.membership_log_id.term = 1;
  meta.membership_log_id.index = 1;
  meta.membership_json = "not json";
  raftlite_snapshot *w = NULL;
  raftlite_sm_changes ch;
  ASSERT_OK(raftlite_begin_receiving_snapshot(F->store, &w));
  ASSERT_INT(raftlite_install_snapshot(F->store, &meta, w, &ch), SQLITE_CONSTRAINT);
  ASSERT_INT(raftlite_violation(F->store), RAFTLITE_INVALID_MEMBERSHIP);
}

/******************************************************************************
 * Offsets and sizes at their limits (defect 6)
 *****************************************************************************/

/* The stream's size and position, read without moving it. */
static uint64_t streamSize(raftlite_snapshot *s) {
  uint64_t pos = 0, end = 0;
  raftlite_snapshot_seek(s, 0, SEEK_CUR, &pos);
  raftlite_snapshot_seek(s, 0, SEEK_END, &end);
  raftlite_snapshot_seek(s, (int64_t)pos, SEEK_SET, NULL);
  return end;
}
static uint64_t streamPos(raftlite_snapshot *s) {
  uint64_t pos = 0;
  raftlite_snapshot_seek(s, 0, SEEK_CUR, &pos);
  return pos;
}

/* Asserts that a stream call fails with rc and kind, its message contains
** zWant, and neither the store nor the stream's size and position moved. */
#define ASSERT_STREAM_REFUSED(s, call, wantRc, wantKind, zWant)              \
  do {                                                                     \
    uint64_t size0_ = streamSize(s), pos0_ = streamPos(s);                 \
    ASSERT_REFUSED(call, wantRc, wantKind);                                \
    if (strstr(raftlite_errmsg(F->store), zWant) == NULL)                  \
      FAIL("%s: message \"%s\" does not say \"%s\"", #call,                \
           raftlite_errmsg(F->store), zWant);                              \
    ASSERT_INT(streamSize(s), size0_);                                     \
    ASSERT_INT(streamPos(s), pos0_);                                       \
  } while (0)

/* A write whose last byte would sit at 2^63 or beyond has no position:
** OutOfRange, and nothing is stored. Before the fix, a write of one byte
** at 2^63-1 overflowed (UBSan) and returned SQLITE_OK with the size 0. */
TEST(limits, writePastLargestPosition) {
  raftlite_snapshot *w = NULL;
  ASSERT_OK(raftlite_begin_receiving_snapshot(F->store, &w));
  ASSERT_OK(raftlite_snapshot_write(w, "abc", 3));
  /* one byte at 2^63-1 */
  ASSERT_OK(raftlite_snapshot_seek(w, INT64_MAX, SEEK_SET, NULL));
  ASSERT_STREAM_REFUSED(w, raftlite_snapshot_write(w, "A", 1), SQLITE_RANGE,
                        RAFTLITE_OUT_OF_RANGE, "OutOfRange: a write of 1 bytes at position "
                        "9223372036854775807 would end past 9223372036854775807");
  /* five bytes across 2^63 */
  ASSERT_OK(raftlite_snapshot_seek(w, INT64_MAX - 2, SEEK_SET, NULL));
  ASSERT_STREAM_REFUSED(w, raftlite_snapshot_write(w, "ABCDE", 5), SQLITE_RANGE,
                        RAFTLITE_OUT_OF_RANGE, "at most 2 more bytes fit there");
  /* sizes that are no int64: SIZE_MAX and 2^63, from position 0 */
  ASSERT_OK(raftlite_snapshot_seek(w, 0, SEEK_SET, NULL));
  ASSERT_STREAM_REFUSED(w, raftlite_snapshot_write(w, "ABCDE", SIZE_MAX), SQLITE_RANGE,
                        RAFTLITE_OUT_OF_RANGE, "a write of 18446744073709551615 bytes");
  ASSERT_STREAM_REFUSED(w, raftlite_snapshot_write(w, "ABCDE", (size_t)INT64_MAX + 1),
                        SQLITE_RANGE, RAFTLITE_OUT_OF_RANGE,
                        "a write of 9223372036854775808 bytes at position 0");
  ASSERT_INT(streamSize(w), 3);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raftlite_snapshot_chunk"), 1);
  /* the stream still works */
  char buf[4] = {0};
  size_t got = 0;
  ASSERT_OK(raftlite_snapshot_read(w, buf, sizeof(buf), &got));
  ASSERT_INT(got, 3);
  ASSERT(memcmp(buf, "abc", 3) == 0);
  raftlite_snapshot_close(w);
}

/* A write ending exactly at the largest position succeeds: the size is
** 2^63-1 and the bytes read back; the next byte is refused. */
TEST(limits, writeEndingAtLargestPosition) {
  raftlite_snapshot *w = NULL;
  ASSERT_OK(raftlite_begin_receiving_snapshot(F->store, &w));
  uint64_t pos = 0;
  ASSERT_OK(raftlite_snapshot_seek(w, INT64_MAX - 2, SEEK_SET, NULL));
  ASSERT_OK(raftlite_snapshot_write(w, "XY", 2));
  ASSERT_OK(raftlite_snapshot_seek(w, 0, SEEK_CUR, &pos));
  ASSERT_INT(pos, INT64_MAX);
  ASSERT_INT(streamSize(w), INT64_MAX);
  ASSERT_INT(queryInt(F->db, "SELECT size FROM raftlite_snapshot WHERE snapshot_id IS NULL"),
             INT64_MAX);
  ASSERT_STREAM_REFUSED(w, raftlite_snapshot_write(w, "Z", 1), SQLITE_RANGE,
                        RAFTLITE_OUT_OF_RANGE, "at most 0 more bytes fit there");
  /* reads at the end: the two bytes, then nothing */
  char buf[8];
  size_t got = 0;
  ASSERT_OK(raftlite_snapshot_seek(w, -3, SEEK_END, NULL));
  ASSERT_OK(raftlite_snapshot_read(w, buf, sizeof(buf), &got));
  ASSERT_INT(got, 3);
  ASSERT(memcmp(buf, "\0XY", 3) == 0);
  ASSERT_OK(raftlite_snapshot_read(w, buf, sizeof(buf), &got));
  ASSERT_INT(got, 0);
  /* a read far from the written chunk gives zeros */
  ASSERT_OK(raftlite_snapshot_seek(w, 1000, SEEK_SET, NULL));
  memset(buf, 0x55, sizeof(buf));
  ASSERT_OK(raftlite_snapshot_read(w, buf, sizeof(buf), &got));
  ASSERT_INT(got, 8);
  ASSERT(memcmp(buf, "\0\0\0\0\0\0\0\0", 8) == 0);
  raftlite_snapshot_close(w);
}

/* A read of n >= 2^63 (or SIZE_MAX) bytes reads what the stream has left
** and not one byte more: before the fix, (i64)n was negative and the read
** ran past the caller's buffer. The canary after the buffer shows it. */
TEST(limits, hugeReadStaysInBuffer) {
  raftlite_snapshot *w = NULL;
  ASSERT_OK(raftlite_begin_receiving_snapshot(F->store, &w));
  ASSERT_OK(writePattern(w, 0, CHUNK + 5, 4096));
  static const size_t aN[] = {SIZE_MAX, (size_t)INT64_MAX + 1, (size_t)INT64_MAX};
  for (size_t k = 0; k < sizeof(aN) / sizeof(aN[0]); k++) {
    struct {
      unsigned char buf[7];
      unsigned char canary[16];
    } m;
    memset(&m, 0xEE, sizeof(m));
    size_t got = 0;
    ASSERT_OK(raftlite_snapshot_seek(w, CHUNK - 2, SEEK_SET, NULL)); /* 7 bytes left */
    ASSERT_OK(raftlite_snapshot_read(w, m.buf, aN[k], &got));
    ASSERT_INT(got, 7);
    for (size_t i = 0; i < 7; i++) ASSERT_INT(m.buf[i], pattern(CHUNK - 2 + i));
    for (size_t i = 0; i < sizeof(m.canary); i++) ASSERT_INT(m.canary[i], 0xEE);
    ASSERT_INT(streamPos(w), CHUNK + 5);
    /* at the end: nothing, the canary again intact */
    ASSERT_OK(raftlite_snapshot_read(w, m.buf, aN[k], &got));
    ASSERT_INT(got, 0);
    for (size_t i = 0; i < sizeof(m.canary); i++) ASSERT_INT(m.canary[i], 0xEE);
  }
  /* past the end (a seek may go there): nothing */
  size_t got = 7;
  char c = 'q';
  ASSERT_OK(raftlite_snapshot_seek(w, INT64_MAX, SEEK_SET, NULL));
  ASSERT_OK(raftlite_snapshot_read(w, &c, SIZE_MAX, &got));
  ASSERT_INT(got, 0);
  ASSERT_INT(c, 'q');
  raftlite_snapshot_close(w);
}

/* Seeks whose result would be below 0 or above 2^63-1 are OutOfRange and
** leave the position where it was; the extremes themselves are fine. */
TEST(limits, seekResults) {
  raftlite_snapshot *w = NULL;
  ASSERT_OK(raftlite_begin_receiving_snapshot(F->store, &w));
  ASSERT_OK(raftlite_snapshot_write(w, "abcdef", 6));
  uint64_t pos = 99;
  ASSERT_OK(raftlite_snapshot_seek(w, 2, SEEK_SET, &pos));
  ASSERT_INT(pos, 2);
  ASSERT_STREAM_REFUSED(w, raftlite_snapshot_seek(w, -3, SEEK_CUR, &pos), SQLITE_RANGE,
                        RAFTLITE_OUT_OF_RANGE, "seeking by -3 from the position (2)");
  ASSERT_STREAM_REFUSED(w, raftlite_snapshot_seek(w, -7, SEEK_END, &pos), SQLITE_RANGE,
                        RAFTLITE_OUT_OF_RANGE, "seeking by -7 from the end (6)");
  ASSERT_STREAM_REFUSED(w, raftlite_snapshot_seek(w, -1, SEEK_SET, &pos), SQLITE_RANGE,
                        RAFTLITE_OUT_OF_RANGE, "seeking by -1 from the start (0)");
  ASSERT_STREAM_REFUSED(w, raftlite_snapshot_seek(w, INT64_MIN, SEEK_CUR, &pos),
                        SQLITE_RANGE, RAFTLITE_OUT_OF_RANGE, "0..9223372036854775807");
  ASSERT_STREAM_REFUSED(w, raftlite_snapshot_seek(w, INT64_MAX - 5, SEEK_END, &pos),
                        SQLITE_RANGE, RAFTLITE_OUT_OF_RANGE,
                        "seeking by 9223372036854775802 from the end (6)");
  ASSERT_INT(pos, 2);
  /* the extremes: 2^63-1 from the start, then back by all of it */
  ASSERT_OK(raftlite_snapshot_seek(w, INT64_MAX, SEEK_SET, &pos));
  ASSERT_INT(pos, INT64_MAX);
  ASSERT_STREAM_REFUSED(w, raftlite_snapshot_seek(w, 1, SEEK_CUR, &pos), SQLITE_RANGE,
                        RAFTLITE_OUT_OF_RANGE, "from the position (9223372036854775807)");
  ASSERT_OK(raftlite_snapshot_seek(w, -INT64_MAX, SEEK_CUR, &pos));
  ASSERT_INT(pos, 0);
  ASSERT_OK(raftlite_snapshot_seek(w, INT64_MAX - 6, SEEK_END, &pos));
  ASSERT_INT(pos, INT64_MAX);
  /* an unknown whence */
  ASSERT_STREAM_REFUSED(w, raftlite_snapshot_seek(w, 0, 3, &pos), SQLITE_RANGE,
                        RAFTLITE_OUT_OF_RANGE, "from whence 3");
  raftlite_snapshot_close(w);
}

/* A NULL buffer with a size is the caller's bug: SQLITE_MISUSE, nothing
** read or written. With size 0 it is no call at all. */
TEST(limits, nullBuffer) {
  raftlite_snapshot *w = NULL;
  ASSERT_OK(raftlite_begin_receiving_snapshot(F->store, &w));
  ASSERT_OK(raftlite_snapshot_write(w, "abc", 3));
  ASSERT_STREAM_REFUSED(w, raftlite_snapshot_write(w, NULL, 2), SQLITE_MISUSE,
                        RAFTLITE_NO_VIOLATION, "write of 2 bytes with a NULL buffer");
  ASSERT_OK(raftlite_snapshot_write(w, NULL, 0));
  ASSERT_OK(raftlite_snapshot_seek(w, 0, SEEK_SET, NULL));
  size_t got = 5;
  ASSERT_STREAM_REFUSED(w, raftlite_snapshot_read(w, NULL, 2, &got), SQLITE_MISUSE,
                        RAFTLITE_NO_VIOLATION, "read of 2 bytes with a NULL buffer");
  ASSERT_INT(got, 0);
  ASSERT_OK(raftlite_snapshot_read(w, NULL, 0, &got));
  ASSERT_INT(got, 0);
  ASSERT_INT(streamSize(w), 3);
  raftlite_snapshot_close(w);
}

/* The check every entry given through the C API goes through before its
** payload is read (ext/value.c): data NULL with a size is SQLITE_MISUSE;
** a size above the connection's value limit, SIZE_MAX and 2^63 included,
** is OutOfRange. */
TEST(limits, entryPayloadCheck) {
  raftlite_violation_kind eKind = RAFTLITE_TERM_NOT_ASCENDING;
  char *zErr = NULL;
  raftlite_entry e = entry(3, 7, RAFTLITE_NORMAL, NULL);
  ASSERT_OK(rlEntryPayloadCheck(&e, 1000, &eKind, &zErr));
  ASSERT(zErr == NULL);
  ASSERT_INT(eKind, RAFTLITE_NO_VIOLATION);
  e.size = 5;
  ASSERT_INT(rlEntryPayloadCheck(&e, 1000, &eKind, &zErr), SQLITE_MISUSE);
  ASSERT_INT(eKind, RAFTLITE_NO_VIOLATION);
  ASSERT_STR(zErr, "entry 3-7 has size 5 but data NULL (data may be NULL only when size is 0)");
  sqlite3_free(zErr);
  e.kind = RAFTLITE_MEMBERSHIP;
  ASSERT_INT(rlEntryPayloadCheck(&e, 1000, &eKind, &zErr), SQLITE_MISUSE);
  sqlite3_free(zErr);
  e.data = "x";
  static const size_t aSize[] = {1001, SIZE_MAX, (size_t)INT64_MAX + 1};
  for (size_t k = 0; k < sizeof(aSize) / sizeof(aSize[0]); k++) {
    e.size = aSize[k];
    ASSERT_INT(rlEntryPayloadCheck(&e, 1000, &eKind, &zErr), SQLITE_RANGE);
    ASSERT_INT(eKind, RAFTLITE_OUT_OF_RANGE);
    char zWant[160];
    snprintf(zWant, sizeof(zWant), "OutOfRange: entry 3-7 has a payload of %zu bytes, more than the 1000 bytes",
             aSize[k]);
    if (zErr == NULL || strncmp(zErr, zWant, strlen(zWant)) != 0) FAIL("message: %s", zErr ? zErr : "(null)");
    sqlite3_free(zErr);
  }
  e.size = 1000;
  ASSERT_OK(rlEntryPayloadCheck(&e, 1000, &eKind, &zErr));
  ASSERT(zErr == NULL);
}

/******************************************************************************
 * begin_snapshot / commit_snapshot: the current snapshot from the caller's
 * bytes (an engine whose state machine lives outside the store)
 *****************************************************************************/

typedef struct Calls {
  int nSnapshot, nRestore;
} Calls;
static int countSnapshot(void *ctx, sqlite3 *db, raftlite_snapshot *w) {
  (void)db;
  (void)w;
  ((Calls *)ctx)->nSnapshot++;
  return SQLITE_OK;
}
static int countRestore(void *ctx, sqlite3 *db, raftlite_snapshot *r) {
  (void)db;
  (void)r;
  ((Calls *)ctx)->nRestore++;
  return SQLITE_OK;
}

/* Log 1..n of term 1 (1 a membership), applied through apply_upto. */
static int appliedLog(raftlite *store, uint64_t n) {
  raftlite_entry m = entry(1, 1, RAFTLITE_MEMBERSHIP, "[[1,2,3]]");
  int rc = raftlite_append_to_log(store, &m, 1);
  if (rc == SQLITE_OK && n > 1) rc = appendBlanks(store, 1, 2, n);
  if (rc == SQLITE_OK) rc = raftlite_apply_upto(store, n, NULL);
  return rc;
}

/* The bytes become the current snapshot as of last_applied, with the
** applied membership; no callback runs; the previous snapshot goes. */
TEST(commitSnapshot, bytesBecomeCurrent) {
  Calls calls = {0, 0};
  raftlite_state_machine sm = {&calls, NULL, countSnapshot, countRestore};
  ASSERT_OK(raftlite_set_state_machine(F->store, &sm));
  ASSERT_OK(appliedLog(F->store, 4));
  raftlite_snapshot *w = NULL;
  ASSERT_OK(raftlite_begin_snapshot(F->store, &w));
  ASSERT_OK(raftlite_snapshot_write(w, "fsm bytes, any format", 21));
  raftlite_snapshot_meta meta;
  ASSERT_OK(raftlite_commit_snapshot(F->store, w, &meta));
  ASSERT_INT(meta.last_log_id.term, 1);
  ASSERT_INT(meta.last_log_id.index, 4);
  ASSERT_INT(meta.has_membership, 1);
  ASSERT_INT(meta.membership_log_id.index, 1);
  ASSERT_STR(meta.membership_json, "[[1,2,3]]");
  ASSERT(meta.snapshot_id[0] != 0);
  char zFirst[128];
  strcpy(zFirst, meta.snapshot_id);
  raftlite_snapshot_meta_free(&meta);
  ASSERT_INT(calls.nSnapshot, 0);
  ASSERT_INT(calls.nRestore, 0);

  raftlite_snapshot *r = NULL;
  ASSERT_OK(raftlite_get_current_snapshot(F->store, &meta, &r));
  ASSERT(r != NULL);
  ASSERT_STR(meta.snapshot_id, zFirst);
  char buf[64];
  size_t got = 0;
  ASSERT_OK(raftlite_snapshot_read(r, buf, sizeof(buf), &got));
  ASSERT_INT(got, 21);
  ASSERT(memcmp(buf, "fsm bytes, any format", 21) == 0);
  raftlite_snapshot_close(r);
  raftlite_snapshot_meta_free(&meta);

  /* A second one replaces it; meta may be NULL. */
  ASSERT_OK(appendBlanks(F->store, 1, 5, 6));
  ASSERT_OK(raftlite_apply_upto(F->store, 6, NULL));
  ASSERT_OK(raftlite_begin_snapshot(F->store, &w));
  ASSERT_OK(raftlite_snapshot_write(w, "v2", 2));
  ASSERT_OK(raftlite_commit_snapshot(F->store, w, NULL));
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raftlite_snapshot"), 1);
  ASSERT_INT(queryInt(F->db, "SELECT last_index FROM raftlite_snapshot WHERE is_current"), 6);
  ASSERT_INT(queryInt(F->db, "SELECT size FROM raft_snapshot"), 2);
  /* An empty snapshot is a snapshot too. */
  ASSERT_OK(raftlite_begin_snapshot(F->store, &w));
  ASSERT_OK(raftlite_commit_snapshot(F->store, w, NULL));
  ASSERT_INT(queryInt(F->db, "SELECT size FROM raft_snapshot"), 0);
  ASSERT_INT(calls.nSnapshot + calls.nRestore, 0);
}

/* Refused: the store is as it was before begin_snapshot (the stream's
** bytes dropped), the transaction state too, and the stream closed. */
#define ASSERT_COMMIT_REFUSED(setup, wantRc, wantKind)                      \
  do {                                                                     \
    char *zBefore_ = dumpStore(F->db);                                     \
    int bAutocommit_ = sqlite3_get_autocommit(F->db);                      \
    raftlite_snapshot *w_ = NULL;                                          \
    ASSERT_OK(raftlite_begin_snapshot(F->store, &w_));                     \
    setup;                                                                 \
    raftlite_snapshot_meta m_;                                             \
    memset(&m_, 0xA5, sizeof(m_));                                         \
    int rc_ = raftlite_commit_snapshot(F->store, w_, &m_);                 \
    ASSERT_INT(rc_, wantRc);                                               \
    ASSERT_INT(raftlite_violation(F->store), wantKind);                    \
    ASSERT(m_.membership_json == NULL && m_.snapshot_id[0] == 0);          \
    ASSERT_INT(sqlite3_get_autocommit(F->db), bAutocommit_);               \
    char *zAfter_ = dumpStore(F->db);                                      \
    ASSERT_STR(zAfter_, zBefore_);                                         \
    sqlite3_free(zBefore_);                                                \
    sqlite3_free(zAfter_);                                                 \
  } while (0)

TEST(commitSnapshot, refusals) {
  /* Nothing applied. */
  ASSERT_COMMIT_REFUSED(ASSERT_OK(raftlite_snapshot_write(w_, "x", 1)), SQLITE_CONSTRAINT,
                        RAFTLITE_NOTHING_APPLIED);
  ASSERT(strstr(raftlite_errmsg(F->store), "nothing to snapshot") != NULL);
  ASSERT_OK(appliedLog(F->store, 2));
  /* Bytes never written. */
  ASSERT_COMMIT_REFUSED(
      {
        ASSERT_OK(raftlite_snapshot_seek(w_, 3 * CHUNK, SEEK_SET, NULL));
        ASSERT_OK(raftlite_snapshot_write(w_, "x", 1));
      },
      SQLITE_CONSTRAINT, RAFTLITE_SNAPSHOT_INVALID);
  ASSERT(strstr(raftlite_errmsg(F->store), "never written") != NULL);
  /* Inside a caller's transaction: the same, the transaction still open. */
  EXEC("BEGIN");
  ASSERT_COMMIT_REFUSED(
      {
        ASSERT_OK(raftlite_snapshot_seek(w_, CHUNK + 5, SEEK_SET, NULL));
        ASSERT_OK(raftlite_snapshot_write(w_, "x", 1));
      },
      SQLITE_CONSTRAINT, RAFTLITE_SNAPSHOT_INVALID);
  EXEC("COMMIT");
  /* A store whose snapshots the SQL declaration builds. */
  EXEC("CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT);"
       "SELECT raft_state_machine('[\"kv\"]', 'INSERT INTO kv VALUES (:payload, :index)')");
  ASSERT_COMMIT_REFUSED(ASSERT_OK(raftlite_snapshot_write(w_, "x", 1)), SQLITE_CONSTRAINT,
                        RAFTLITE_SNAPSHOT_INVALID);
  ASSERT(strstr(raftlite_errmsg(F->store), "raft_state_machine") != NULL);
  ASSERT(strstr(raftlite_errmsg(F->store), "build_snapshot") != NULL);
  /* ... unless a C snapshot callback makes them. */
  Calls calls = {0, 0};
  raftlite_state_machine sm = {&calls, NULL, countSnapshot, NULL};
  ASSERT_OK(raftlite_set_state_machine(F->store, &sm));
  raftlite_snapshot *w = NULL;
  ASSERT_OK(raftlite_begin_snapshot(F->store, &w));
  ASSERT_OK(raftlite_commit_snapshot(F->store, w, NULL));
  ASSERT_INT(calls.nSnapshot, 0);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raftlite_snapshot WHERE is_current"), 1);
}

/* Misuse: no stream, a read stream, another store's stream; each is
** closed (ASan would report a leak otherwise) and nothing changes. */
TEST(commitSnapshot, misuse) {
  ASSERT_OK(appliedLog(F->store, 2));
  ASSERT_REFUSED(raftlite_commit_snapshot(F->store, NULL, NULL), SQLITE_MISUSE,
                 RAFTLITE_NO_VIOLATION);
  raftlite_snapshot *w = NULL;
  ASSERT_OK(raftlite_begin_snapshot(F->store, &w));
  ASSERT_OK(raftlite_commit_snapshot(F->store, w, NULL));
  raftlite_snapshot_meta meta;
  raftlite_snapshot *r = NULL;
  ASSERT_OK(raftlite_get_current_snapshot(F->store, &meta, &r));
  raftlite_snapshot_meta_free(&meta);
  ASSERT_REFUSED(raftlite_commit_snapshot(F->store, r, NULL), SQLITE_MISUSE,
                 RAFTLITE_NO_VIOLATION);
  Fixture other;
  memset(&other, 0, sizeof(other));
  snprintf(other.zPath, sizeof(other.zPath), "other-%d.db", (int)getpid());
  fixtureOpen(&other, 1);
  ASSERT_OK(raftlite_begin_snapshot(other.store, &w));
  ASSERT_OK(raftlite_snapshot_write(w, "abc", 3));
  ASSERT_REFUSED(raftlite_commit_snapshot(F->store, w, NULL), SQLITE_MISUSE,
                 RAFTLITE_NO_VIOLATION);
  ASSERT(strstr(raftlite_errmsg(F->store), "begin_snapshot") != NULL);
  /* The other store's stream is left to its next open to reclaim. */
  ASSERT_INT(queryInt(other.db, "SELECT count(*) FROM raftlite_snapshot"), 1);
  fixtureClose(&other);
  remove(other.zPath);
}

/* The engine's snapshot step in one transaction of its own: apply_upto,
** begin/write/commit_snapshot and purge_upto commit together, or not at
** all; get_log_id at the purged index answers right after. */
TEST(commitSnapshot, oneTransactionWithApplyAndPurge) {
  raftlite_entry m = entry(1, 1, RAFTLITE_MEMBERSHIP, "[[1]]");
  ASSERT_OK(raftlite_append_to_log(F->store, &m, 1));
  ASSERT_OK(appendBlanks(F->store, 2, 2, 10));
  char *zBefore = dumpStore(F->db);
  EXEC("BEGIN");
  ASSERT_OK(raftlite_apply_upto(F->store, 8, NULL));
  raftlite_snapshot *w = NULL;
  ASSERT_OK(raftlite_begin_snapshot(F->store, &w));
  ASSERT_OK(raftlite_snapshot_write(w, "state", 5));
  ASSERT_OK(raftlite_commit_snapshot(F->store, w, NULL));
  ASSERT_OK(raftlite_purge_upto(F->store, 8 - 3));
  EXEC("ROLLBACK");
  char *zAfter = dumpStore(F->db);
  ASSERT_STR(zAfter, zBefore);
  sqlite3_free(zBefore);
  sqlite3_free(zAfter);

  EXEC("BEGIN");
  ASSERT_OK(raftlite_apply_upto(F->store, 8, NULL));
  ASSERT_OK(raftlite_begin_snapshot(F->store, &w));
  ASSERT_OK(raftlite_snapshot_write(w, "state", 5));
  raftlite_snapshot_meta meta;
  ASSERT_OK(raftlite_commit_snapshot(F->store, w, &meta));
  ASSERT_OK(raftlite_purge_upto(F->store, 8 - 3));
  EXEC("COMMIT");
  ASSERT_INT(meta.last_log_id.term, 2);
  ASSERT_INT(meta.last_log_id.index, 8);
  raftlite_snapshot_meta_free(&meta);
  raftlite_log_id id;
  ASSERT_OK(raftlite_get_log_id(F->store, 5, &id));
  ASSERT_INT(id.term, 2);
  ASSERT_INT(id.index, 5);
  ASSERT_INT(queryInt(F->db, "SELECT min(idx) FROM raftlite_log"), 6);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raftlite_snapshot WHERE snapshot_id IS NULL"), 0);
  char *zReport = NULL;
  sqlite3_stmt *pStmt = NULL;
  sqlite3_prepare_v2(F->db, "SELECT raft_check()", -1, &pStmt, NULL);
  ASSERT_INT(sqlite3_step(pStmt), SQLITE_ROW);
  zReport = sqlite3_mprintf("%s", sqlite3_column_text(pStmt, 0));
  sqlite3_finalize(pStmt);
  ASSERT_STR(zReport, "ok");
  sqlite3_free(zReport);
}

/* get_log_id at the last purged index right after install_snapshot: the
** snapshot's last log id, whether the log kept entries after it or not. */
TEST(install, getLogIdAtTheSnapshotsIndex) {
  raftlite_snapshot_meta meta;
  char *bytes;
  size_t n;
  leaderSnapshot("leader-g.db", 2, 6, &meta, &bytes, &n);
  Kv kv = {0};
  useKv(F, &kv);
  raftlite_snapshot *s = NULL;
  ASSERT_OK(raftlite_begin_receiving_snapshot(F->store, &s));
  ASSERT_OK(raftlite_snapshot_write(s, bytes, n));
  raftlite_sm_changes ch;
  ASSERT_OK(raftlite_install_snapshot(F->store, &meta, s, &ch));
  raftlite_log_id id;
  ASSERT_OK(raftlite_get_log_id(F->store, meta.last_log_id.index, &id));
  ASSERT_INT(id.term, meta.last_log_id.term);
  ASSERT_INT(id.index, meta.last_log_id.index);
  ASSERT_REFUSED(raftlite_get_log_id(F->store, meta.last_log_id.index - 1, &id), SQLITE_NOTFOUND,
                 RAFTLITE_LOG_INDEX_NOT_FOUND);
  raftlite_snapshot_meta_free(&meta);
  free(bytes);
}

RUN_TESTS(setUp, tearDown)
