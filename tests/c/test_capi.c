/*
** test_capi.c — the C API of include/raftlite.h: every rule of the
** contract (docs/contract.md §2) with its violation kind and an unchanged
** store, the handle's checks, the reads, persistence across reopen, and
** payload round trips.
*/
#include "fixture.h"

#define F ((Fixture *)f)

/******************************************************************************
 * Handle
 *****************************************************************************/

/* Opening installs the store; opening again is harmless. */
TEST(open, installsOnceAndReopens) {
  ASSERT_INT(queryInt(F->db, "SELECT value FROM raftlite_meta WHERE name='schema_version'"), 4);
  raftlite *second = NULL;
  ASSERT_INT(raftlite_open(F->db, NULL, &second), SQLITE_OK);
  raftlite_close(second);
}

/* A connection with triggers off is refused: the rules live in triggers. */
TEST(open, refusesTriggersOff) {
  int bOld;
  sqlite3_db_config(F->db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, &bOld);
  raftlite *p = (raftlite *)1;
  ASSERT_INT(raftlite_open(F->db, "main", &p), SQLITE_MISUSE);
  ASSERT(p == NULL);
  ASSERT_INT(raftlite_open_v2(F->db, "main", RAFTLITE_OPEN_RELAXED, &p), SQLITE_MISUSE);
  sqlite3_db_config(F->db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 1, &bOld);
}

/* Settings that cannot make a commit durable are refused, unless relaxed;
** raftlite changes no setting. */
TEST(open, refusesNonDurableSettings) {
  raftlite *p = NULL;
  EXEC("PRAGMA synchronous=NORMAL");
  ASSERT_INT(raftlite_open(F->db, "main", &p), SQLITE_MISUSE);
  ASSERT(p == NULL);
  ASSERT_INT(raftlite_open_v2(F->db, "main", RAFTLITE_OPEN_RELAXED, &p), SQLITE_OK);
  ASSERT_INT(queryInt(F->db, "PRAGMA synchronous"), 1);
  raftlite_close(p);
  EXEC("PRAGMA synchronous=FULL; PRAGMA journal_mode=MEMORY");
  ASSERT_INT(raftlite_open(F->db, "main", &p), SQLITE_MISUSE);
  EXEC("PRAGMA journal_mode=OFF");
  /* OFF breaks atomicity: refused even relaxed. */
  ASSERT_INT(raftlite_open_v2(F->db, "main", RAFTLITE_OPEN_RELAXED, &p), SQLITE_MISUSE);
  EXEC("PRAGMA journal_mode=WAL");
  ASSERT_INT(raftlite_open(F->db, "main", &p), SQLITE_OK);
  raftlite_close(p);
  EXEC("PRAGMA journal_mode=DELETE");
  ASSERT_INT(raftlite_open(F->db, "main", &p), SQLITE_MISUSE); /* DELETE needs EXTRA */
  EXEC("PRAGMA synchronous=EXTRA");
  ASSERT_INT(raftlite_open(F->db, "main", &p), SQLITE_OK);
  raftlite_close(p);
}

/* A mutating call re-checks the settings: they may change after open. */
TEST(open, writesRecheckSettings) {
  raftlite_hard_state hs = {1, 0, 0};
  EXEC("PRAGMA synchronous=OFF");
  ASSERT_REFUSED(raftlite_save_hard_state(F->store, &hs), SQLITE_MISUSE,
                 RAFTLITE_NO_VIOLATION);
  ASSERT(strstr(raftlite_errmsg(F->store), "synchronous") != NULL);
  /* 2026-12-03: a rollback journal in DELETE mode needs EXTRA (FULL does
  ** not sync the journal's unlink: a power cut can undo the commit). */
  EXEC("PRAGMA synchronous=FULL");
  ASSERT_REFUSED(raftlite_save_hard_state(F->store, &hs), SQLITE_MISUSE,
                 RAFTLITE_NO_VIOLATION);
  ASSERT(strstr(raftlite_errmsg(F->store), "journal_mode is DELETE and synchronous is FULL") != NULL);
  EXEC("PRAGMA journal_mode=TRUNCATE");
  ASSERT_OK(raftlite_save_hard_state(F->store, &hs));
  EXEC("PRAGMA journal_mode=DELETE; PRAGMA synchronous=EXTRA");
  hs.current_term = 2;
  ASSERT_OK(raftlite_save_hard_state(F->store, &hs));
}

/* Bad arguments to open. */
TEST(open, badArguments) {
  raftlite *p = NULL;
  ASSERT_INT(raftlite_open(NULL, "main", &p), SQLITE_MISUSE);
  ASSERT_INT(raftlite_open_v2(F->db, "main", 0x100, &p), SQLITE_MISUSE);
  ASSERT_INT(raftlite_open(F->db, "nosuch", &p), SQLITE_ERROR);
  ASSERT(p == NULL);
}

/* After raftlite_close, the application's sqlite3_close succeeds (the
** fixture's tearDown checks it too, after every test). */
TEST(close, thenSqliteCloseSucceeds) {
  ASSERT_OK(appendBlanks(F->store, 1, 1, 3));
  raftlite_entries got;
  ASSERT_OK(raftlite_try_get_log_entries(F->store, 0, RAFTLITE_UNBOUNDED, &got));
  raftlite_entries_free(&got);
  raftlite_close(F->store);
  F->store = NULL;
  ASSERT_INT(sqlite3_close(F->db), SQLITE_OK);
  F->db = NULL;
}

/******************************************************************************
 * Hard state
 *****************************************************************************/

/* Nothing saved reads as not found; a saved state reads back. */
TEST(hardState, saveAndRead) {
  raftlite_hard_state hs;
  int found = 1;
  ASSERT_OK(raftlite_read_hard_state(F->store, &hs, &found));
  ASSERT_INT(found, 0);
  raftlite_hard_state want = {5, 1, 0}; /* node 0 is a node */
  ASSERT_OK(raftlite_save_hard_state(F->store, &want));
  ASSERT_OK(raftlite_read_hard_state(F->store, &hs, &found));
  ASSERT_INT(found, 1);
  ASSERT_INT(hs.current_term, 5);
  ASSERT_INT(hs.has_vote, 1);
  ASSERT_INT(hs.voted_for, 0);
}

/* The term never decreases; a vote never changes or clears in its term. */
TEST(hardState, rules) {
  raftlite_hard_state hs = {5, 1, 2};
  ASSERT_OK(raftlite_save_hard_state(F->store, &hs));
  raftlite_hard_state lower = {4, 0, 0};
  ASSERT_REFUSED(raftlite_save_hard_state(F->store, &lower), SQLITE_CONSTRAINT,
                 RAFTLITE_TERM_NOT_ASCENDING);
  ASSERT_STR(raftlite_errmsg(F->store), "TermNotAscending: current term is 5, got 4");
  raftlite_hard_state other = {5, 1, 3};
  ASSERT_REFUSED(raftlite_save_hard_state(F->store, &other), SQLITE_CONSTRAINT,
                 RAFTLITE_VOTED_FOR_CHANGED);
  raftlite_hard_state cleared = {5, 0, 0};
  ASSERT_REFUSED(raftlite_save_hard_state(F->store, &cleared), SQLITE_CONSTRAINT,
                 RAFTLITE_VOTED_FOR_CHANGED);
  raftlite_hard_state next = {6, 0, 0};
  ASSERT_OK(raftlite_save_hard_state(F->store, &next));
  ASSERT_INT(raftlite_violation(F->store), RAFTLITE_NO_VIOLATION);
}

/* Values above 2^63-1 are OutOfRange, never wrapped. */
TEST(hardState, outOfRange) {
  raftlite_hard_state big = {(uint64_t)INT64_MAX + 1, 0, 0};
  ASSERT_REFUSED(raftlite_save_hard_state(F->store, &big), SQLITE_RANGE,
                 RAFTLITE_OUT_OF_RANGE);
  raftlite_hard_state bigVote = {1, 1, UINT64_MAX};
  ASSERT_REFUSED(raftlite_save_hard_state(F->store, &bigVote), SQLITE_RANGE,
                 RAFTLITE_OUT_OF_RANGE);
  raftlite_hard_state max = {INT64_MAX, 1, INT64_MAX};
  ASSERT_OK(raftlite_save_hard_state(F->store, &max));
}

/* A caller's transaction makes an append and a vote one unit. */
TEST(hardState, batchedWithAppendInOneTransaction) {
  EXEC("BEGIN");
  ASSERT_OK(appendBlanks(F->store, 1, 1, 2));
  raftlite_hard_state hs = {1, 1, 1};
  ASSERT_OK(raftlite_save_hard_state(F->store, &hs));
  EXEC("ROLLBACK");
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raftlite_log"), 0);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raftlite_hard_state"), 0);
  EXEC("BEGIN");
  ASSERT_OK(appendBlanks(F->store, 1, 1, 2));
  ASSERT_OK(raftlite_save_hard_state(F->store, &hs));
  EXEC("COMMIT");
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raftlite_log"), 2);
}

/******************************************************************************
 * Log
 *****************************************************************************/

/* An empty store has no log state; entries append and read back. */
TEST(append, appendAndRead) {
  raftlite_log_state ls;
  ASSERT_OK(raftlite_get_log_state(F->store, &ls));
  ASSERT_INT(ls.has_last_log, 0);
  ASSERT_INT(ls.has_last_purged, 0);
  raftlite_entry a[3] = {entry(1, 1, RAFTLITE_MEMBERSHIP, "[[1,2,3]]"),
                         entry(1, 2, RAFTLITE_NORMAL, "x=1"),
                         entry(2, 3, RAFTLITE_BLANK, NULL)};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 3));
  ASSERT_OK(raftlite_get_log_state(F->store, &ls));
  ASSERT_INT(ls.has_last_log, 1);
  ASSERT_INT(ls.last_log_id.term, 2);
  ASSERT_INT(ls.last_log_id.index, 3);

  raftlite_entries got;
  ASSERT_OK(raftlite_try_get_log_entries(F->store, 1, 4, &got));
  ASSERT_INT(got.n, 3);
  ASSERT_INT(got.a[0].kind, RAFTLITE_MEMBERSHIP);
  ASSERT_STR((const char *)got.a[0].data, "[[1,2,3]]");
  ASSERT_INT(got.a[1].size, 3);
  ASSERT(memcmp(got.a[1].data, "x=1", 3) == 0);
  ASSERT_INT(got.a[2].kind, RAFTLITE_BLANK);
  ASSERT_INT(got.a[2].size, 0);
  raftlite_entries_free(&got);
  ASSERT(got.a == NULL && got.n == 0);
}

/* The rules of append_to_log, each with its kind, nothing stored. */
TEST(append, rules) {
  ASSERT_OK(appendBlanks(F->store, 2, 1, 2));
  ASSERT_REFUSED(raftlite_append_to_log(F->store, NULL, 0), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_EMPTY);
  raftlite_entry gap = entry(2, 4, RAFTLITE_BLANK, NULL);
  ASSERT_REFUSED(raftlite_append_to_log(F->store, &gap, 1), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_NON_CONSECUTIVE);
  ASSERT_STR(raftlite_errmsg(F->store), "LogsNonConsecutive: last log id is 2-2, got 2-4");
  raftlite_entry lower = entry(1, 3, RAFTLITE_BLANK, NULL);
  ASSERT_REFUSED(raftlite_append_to_log(F->store, &lower, 1), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_NON_CONSECUTIVE);
  raftlite_entry again = entry(2, 2, RAFTLITE_BLANK, NULL);
  ASSERT_REFUSED(raftlite_append_to_log(F->store, &again, 1), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_NON_CONSECUTIVE);
  /* Inside a batch: a valid first entry does not save the batch. */
  raftlite_entry batch[3] = {entry(2, 3, RAFTLITE_BLANK, NULL),
                             entry(3, 4, RAFTLITE_BLANK, NULL),
                             entry(2, 5, RAFTLITE_BLANK, NULL)};
  ASSERT_REFUSED(raftlite_append_to_log(F->store, batch, 3), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_NON_CONSECUTIVE);
  ASSERT_STR(raftlite_errmsg(F->store),
             "LogsNonConsecutive: the previous entry of the batch is 3-4, got 2-5");
  raftlite_entry bad = entry(2, 3, RAFTLITE_MEMBERSHIP, "[[1,1]]");
  ASSERT_REFUSED(raftlite_append_to_log(F->store, &bad, 1), SQLITE_CONSTRAINT,
                 RAFTLITE_INVALID_MEMBERSHIP);
  raftlite_entry notJson = entry(2, 3, RAFTLITE_MEMBERSHIP, "[[1,");
  ASSERT_REFUSED(raftlite_append_to_log(F->store, &notJson, 1), SQLITE_CONSTRAINT,
                 RAFTLITE_INVALID_MEMBERSHIP);
  raftlite_entry kind = entry(2, 3, (raftlite_kind)7, NULL);
  ASSERT_REFUSED(raftlite_append_to_log(F->store, &kind, 1), SQLITE_MISMATCH,
                 RAFTLITE_OUT_OF_RANGE);
  raftlite_entry big = entry((uint64_t)INT64_MAX + 1, 3, RAFTLITE_BLANK, NULL);
  ASSERT_REFUSED(raftlite_append_to_log(F->store, &big, 1), SQLITE_RANGE,
                 RAFTLITE_OUT_OF_RANGE);
  raftlite_entry bigIndex = entry(2, UINT64_MAX, RAFTLITE_BLANK, NULL);
  ASSERT_REFUSED(raftlite_append_to_log(F->store, &bigIndex, 1), SQLITE_RANGE,
                 RAFTLITE_OUT_OF_RANGE);
}

/* Payloads with NULs, of zero length and of 1 MiB round-trip exactly. */
TEST(append, payloadsRoundTrip) {
  static const char nul[] = {'a', 0, 'b', 0};
  size_t nBig = 1 << 20;
  unsigned char *big = malloc(nBig);
  for (size_t i = 0; i < nBig; i++) big[i] = (unsigned char)(i * 7);
  raftlite_entry a[3] = {entry(1, 1, RAFTLITE_NORMAL, NULL), entry(1, 2, RAFTLITE_NORMAL, NULL),
                         entry(1, 3, RAFTLITE_NORMAL, NULL)};
  a[0].data = nul;
  a[0].size = sizeof(nul);
  a[1].data = "";
  a[1].size = 0;
  a[2].data = big;
  a[2].size = nBig;
  ASSERT_OK(raftlite_append_to_log(F->store, a, 3));
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raftlite_log WHERE typeof(payload)='blob'"), 3);
  raftlite_entries got;
  ASSERT_OK(raftlite_try_get_log_entries(F->store, 0, RAFTLITE_UNBOUNDED, &got));
  ASSERT_INT(got.n, 3);
  ASSERT_INT(got.a[0].size, 4);
  ASSERT(memcmp(got.a[0].data, nul, 4) == 0);
  ASSERT_INT(got.a[1].size, 0);
  ASSERT_INT(got.a[2].size, nBig);
  ASSERT(memcmp(got.a[2].data, big, nBig) == 0);
  raftlite_entries_free(&got);
  free(big);
}

/* try_get_log_entries: [start, stop), missing entries absent, bounds. */
TEST(read, ranges) {
  ASSERT_OK(appendBlanks(F->store, 1, 5, 9));
  raftlite_entries got;
  ASSERT_OK(raftlite_try_get_log_entries(F->store, 0, 7, &got));
  ASSERT_INT(got.n, 2);
  ASSERT_INT(got.a[0].log_id.index, 5);
  raftlite_entries_free(&got);
  ASSERT_OK(raftlite_try_get_log_entries(F->store, 8, RAFTLITE_UNBOUNDED, &got));
  ASSERT_INT(got.n, 2);
  raftlite_entries_free(&got);
  ASSERT_OK(raftlite_try_get_log_entries(F->store, 7, 7, &got));
  ASSERT_INT(got.n, 0);
  ASSERT_OK(raftlite_try_get_log_entries(F->store, 9, 3, &got));
  ASSERT_INT(got.n, 0);
  ASSERT_INT(raftlite_try_get_log_entries(F->store, 0, UINT64_MAX - 1, &got), SQLITE_RANGE);
  ASSERT_INT(raftlite_violation(F->store), RAFTLITE_OUT_OF_RANGE);
  ASSERT_INT(raftlite_try_get_log_entries(F->store, (uint64_t)INT64_MAX + 1,
                                          RAFTLITE_UNBOUNDED, &got),
             SQLITE_RANGE);
  ASSERT(got.a == NULL && got.n == 0);
}

/* get_log_id: present or LogIndexNotFound. */
TEST(read, getLogId) {
  ASSERT_OK(appendBlanks(F->store, 3, 1, 2));
  raftlite_log_id id;
  ASSERT_OK(raftlite_get_log_id(F->store, 2, &id));
  ASSERT_INT(id.term, 3);
  ASSERT_INT(id.index, 2);
  ASSERT_INT(raftlite_get_log_id(F->store, 3, &id), SQLITE_NOTFOUND);
  ASSERT_INT(raftlite_violation(F->store), RAFTLITE_LOG_INDEX_NOT_FOUND);
  ASSERT_STR(raftlite_errmsg(F->store), "LogIndexNotFound: no log entry at index 3");
}

/* delete_conflict_logs_since: a suffix above last_applied. */
TEST(truncate, rules) {
  ASSERT_OK(appendBlanks(F->store, 1, 1, 6));
  raftlite_entry a[2] = {entry(1, 1, RAFTLITE_BLANK, NULL), entry(1, 2, RAFTLITE_BLANK, NULL)};
  raftlite_responses r;
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, a, 2, &r));
  raftlite_responses_free(&r);
  raftlite_log_id at2 = {1, 2};
  ASSERT_REFUSED(raftlite_delete_conflict_logs_since(F->store, at2), SQLITE_CONSTRAINT,
                 RAFTLITE_APPLIED_WONT_CONFLICT);
  raftlite_log_id at5 = {1, 5};
  ASSERT_OK(raftlite_delete_conflict_logs_since(F->store, at5));
  raftlite_log_state ls;
  ASSERT_OK(raftlite_get_log_state(F->store, &ls));
  ASSERT_INT(ls.last_log_id.index, 4);
  raftlite_log_id big = {1, UINT64_MAX};
  ASSERT_REFUSED(raftlite_delete_conflict_logs_since(F->store, big), SQLITE_RANGE,
                 RAFTLITE_OUT_OF_RANGE);
}

/* purge_logs_upto: a prefix up to last_applied, with matching ids. */
TEST(purge, rules) {
  ASSERT_OK(appendBlanks(F->store, 1, 1, 6));
  raftlite_entry a[3] = {entry(1, 1, RAFTLITE_BLANK, NULL), entry(1, 2, RAFTLITE_BLANK, NULL),
                         entry(1, 3, RAFTLITE_BLANK, NULL)};
  raftlite_responses r;
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, a, 3, &r));
  raftlite_responses_free(&r);
  raftlite_log_id above = {1, 4};
  ASSERT_REFUSED(raftlite_purge_logs_upto(F->store, above), SQLITE_CONSTRAINT,
                 RAFTLITE_PURGE_NON_APPLIED);
  raftlite_log_id wrongTerm = {2, 2};
  ASSERT_REFUSED(raftlite_purge_logs_upto(F->store, wrongTerm), SQLITE_CONSTRAINT,
                 RAFTLITE_LOG_ID_MISMATCH);
  raftlite_log_id two = {1, 2};
  ASSERT_OK(raftlite_purge_logs_upto(F->store, two));
  raftlite_log_state ls;
  ASSERT_OK(raftlite_get_log_state(F->store, &ls));
  ASSERT_INT(ls.has_last_purged, 1);
  ASSERT_INT(ls.last_purged_log_id.index, 2);
  /* At or below last_purged: a no-op. */
  raftlite_log_id one = {1, 1};
  ASSERT_OK(raftlite_purge_logs_upto(F->store, one));
  ASSERT_INT(queryInt(F->db, "SELECT min(idx) FROM raftlite_log"), 3);
}

/******************************************************************************
 * Apply
 *****************************************************************************/

/* A key-value state machine in the store's database: "k=v" sets k. */
typedef struct Kv {
  int nApplied;
  int iFailAt; /* fail when applying this index (0: never) */
} Kv;

static int kvApply(void *ctx, sqlite3 *db, const raftlite_entry *e, raftlite_response *out) {
  Kv *kv = ctx;
  if (kv->iFailAt && e->log_id.index == (uint64_t)kv->iFailAt) return SQLITE_IOERR;
  const char *z = e->data;
  const char *zEq = memchr(z, '=', e->size);
  if (zEq == NULL) return SQLITE_MISMATCH;
  sqlite3_stmt *pStmt = NULL;
  int rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO kv VALUES (?1, ?2)", -1, &pStmt, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(pStmt, 1, z, (int)(zEq - z), SQLITE_TRANSIENT);
    sqlite3_bind_text(pStmt, 2, zEq + 1, (int)(e->size - (size_t)(zEq - z) - 1), SQLITE_TRANSIENT);
    sqlite3_step(pStmt);
    rc = sqlite3_finalize(pStmt);
  }
  if (rc == SQLITE_OK) {
    out->data = sqlite3_mprintf("ok %llu", (unsigned long long)e->log_id.index);
    out->size = strlen(out->data);
    kv->nApplied++;
  }
  return rc;
}

/* Normal entries reach the callback inside the store's transaction; blank
** and membership entries give empty responses. */
TEST(apply, responsesAndCallback) {
  EXEC("CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT)");
  Kv kv = {0, 0};
  raftlite_state_machine sm = {&kv, kvApply, NULL, NULL};
  ASSERT_OK(raftlite_set_state_machine(F->store, &sm));
  raftlite_entry a[3] = {entry(1, 1, RAFTLITE_MEMBERSHIP, "[[1]]"), entry(1, 2, RAFTLITE_NORMAL, "x=1"),
                         entry(1, 3, RAFTLITE_BLANK, NULL)};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 3));
  raftlite_responses r;
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, a, 3, &r));
  ASSERT_INT(r.n, 3);
  ASSERT_INT(r.a[0].size, 0);
  ASSERT_INT(r.a[1].size, 4);
  ASSERT(memcmp(r.a[1].data, "ok 2", 4) == 0);
  ASSERT_INT(r.a[2].size, 0);
  raftlite_responses_free(&r);
  ASSERT_INT(queryInt(F->db, "SELECT v FROM kv WHERE k='x'"), 1);
  raftlite_applied_state as;
  ASSERT_OK(raftlite_last_applied_state(F->store, &as));
  ASSERT_INT(as.has_applied, 1);
  ASSERT_INT(as.last_applied.index, 3);
  ASSERT_INT(as.has_membership, 1);
  ASSERT_INT(as.membership_log_id.index, 1);
  ASSERT_STR(as.membership_json, "[[1]]");
  raftlite_applied_state_free(&as);
}

/* A callback failing in the middle of a batch applies none of it: neither
** last_applied nor the state machine's own rows move. */
TEST(apply, failureInTheMiddleAppliesNothing) {
  EXEC("CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT)");
  Kv kv = {0, 3};
  raftlite_state_machine sm = {&kv, kvApply, NULL, NULL};
  raftlite_set_state_machine(F->store, &sm);
  raftlite_entry a[4] = {entry(1, 1, RAFTLITE_NORMAL, "a=1"), entry(1, 2, RAFTLITE_NORMAL, "b=2"),
                         entry(1, 3, RAFTLITE_NORMAL, "c=3"), entry(1, 4, RAFTLITE_NORMAL, "d=4")};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 4));
  raftlite_responses r = {(raftlite_response *)1, 9};
  ASSERT_REFUSED(raftlite_apply_to_state_machine(F->store, a, 4, &r), SQLITE_IOERR,
                 RAFTLITE_NO_VIOLATION);
  ASSERT(r.a == NULL && r.n == 0);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM kv"), 0);
  kv.iFailAt = 0;
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, a, 4, &r));
  raftlite_responses_free(&r);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM kv"), 4);
}

/* The rules of apply_to_state_machine. */
TEST(apply, rules) {
  ASSERT_OK(appendBlanks(F->store, 1, 1, 4));
  raftlite_responses r;
  ASSERT_REFUSED(raftlite_apply_to_state_machine(F->store, NULL, 0, &r), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_EMPTY);
  raftlite_entry one = entry(1, 1, RAFTLITE_BLANK, NULL);
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, &one, 1, &r));
  raftlite_responses_free(&r);
  raftlite_entry skip = entry(1, 3, RAFTLITE_BLANK, NULL);
  ASSERT_REFUSED(raftlite_apply_to_state_machine(F->store, &skip, 1, &r), SQLITE_CONSTRAINT,
                 RAFTLITE_APPLY_NON_CONSECUTIVE);
  raftlite_entry batch[2] = {entry(1, 2, RAFTLITE_BLANK, NULL), entry(1, 4, RAFTLITE_BLANK, NULL)};
  ASSERT_REFUSED(raftlite_apply_to_state_machine(F->store, batch, 2, &r), SQLITE_CONSTRAINT,
                 RAFTLITE_APPLY_NON_CONSECUTIVE);
  raftlite_entry mismatch = entry(2, 2, RAFTLITE_BLANK, NULL);
  ASSERT_REFUSED(raftlite_apply_to_state_machine(F->store, &mismatch, 1, &r), SQLITE_CONSTRAINT,
                 RAFTLITE_LOG_ID_MISMATCH);
  ASSERT_STR(raftlite_errmsg(F->store), "LogIdMismatch: the log holds 1-2, got 2-2");
  raftlite_entry badMembership = entry(1, 2, RAFTLITE_MEMBERSHIP, "[]");
  ASSERT_REFUSED(raftlite_apply_to_state_machine(F->store, &badMembership, 1, &r),
                 SQLITE_CONSTRAINT, RAFTLITE_INVALID_MEMBERSHIP);
}

/* 2026-12-03 (review): index order and log-id order never disagree. On a
** fresh state machine over 1-1, 1-2, applying 0-10 would leave 1-2 below
** last_applied by index and above it by log id, and refuse every later
** append, purge and truncate. A membership entry whose term differs from
** the log's breaks LogIdMismatch, not InvalidMembership. */
TEST(apply, idsStayOrdered) {
  ASSERT_OK(appendBlanks(F->store, 1, 1, 2));
  raftlite_responses r;
  raftlite_entry far = entry(0, 10, RAFTLITE_BLANK, NULL);
  ASSERT_REFUSED(raftlite_apply_to_state_machine(F->store, &far, 1, &r), SQLITE_CONSTRAINT,
                 RAFTLITE_LOG_ID_MISMATCH);
  ASSERT_STR(raftlite_errmsg(F->store),
             "LogIdMismatch: applying 0-10 would leave 1-2 below it in the log with a greater "
             "term (index and log id would disagree, and no later write could follow)");
  raftlite_entry member = entry(2, 1, RAFTLITE_MEMBERSHIP, "[[1]]");
  ASSERT_REFUSED(raftlite_apply_to_state_machine(F->store, &member, 1, &r), SQLITE_CONSTRAINT,
                 RAFTLITE_LOG_ID_MISMATCH);
  ASSERT_STR(raftlite_errmsg(F->store), "LogIdMismatch: the log holds 1-1, got 2-1");
  /* 1-10 keeps the order: the store goes on. */
  raftlite_entry ok = entry(1, 10, RAFTLITE_BLANK, NULL);
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, &ok, 1, &r));
  raftlite_responses_free(&r);
  raftlite_entry next = entry(1, 11, RAFTLITE_BLANK, NULL);
  ASSERT_OK(raftlite_append_to_log(F->store, &next, 1));
}

/* 2026-11-27 (review): an unknown kind is refused by apply as by append. */
TEST(apply, unknownKind) {
  raftlite_responses r;
  raftlite_entry e = entry(1, 1, (raftlite_kind)7, NULL);
  ASSERT_REFUSED(raftlite_apply_to_state_machine(F->store, &e, 1, &r), SQLITE_MISMATCH,
                 RAFTLITE_OUT_OF_RANGE);
  e.kind = (raftlite_kind)-3;
  ASSERT_REFUSED(raftlite_apply_to_state_machine(F->store, &e, 1, &r), SQLITE_MISMATCH,
                 RAFTLITE_OUT_OF_RANGE);
}

/* DirtyLog: applying an id that would leave a lower entry above it. */
TEST(apply, dirtyLog) {
  ASSERT_OK(appendBlanks(F->store, 1, 5, 6));
  raftlite_responses r;
  raftlite_entry e = entry(2, 3, RAFTLITE_BLANK, NULL);
  ASSERT_REFUSED(raftlite_apply_to_state_machine(F->store, &e, 1, &r), SQLITE_CONSTRAINT,
                 RAFTLITE_DIRTY_LOG);
  ASSERT_STR(raftlite_errmsg(F->store), "DirtyLog: applying 2-3 would leave 1-5 above it in the log");
}

/******************************************************************************
 * Provided methods and persistence
 *****************************************************************************/

/* get_membership: the last membership entry above last_applied, else the
** applied one. */
TEST(provided, getMembership) {
  raftlite_applied_state m;
  ASSERT_OK(raftlite_get_membership(F->store, &m));
  ASSERT_INT(m.has_membership, 0);
  raftlite_entry a[3] = {entry(1, 1, RAFTLITE_MEMBERSHIP, "[[1]]"), entry(1, 2, RAFTLITE_BLANK, NULL),
                         entry(1, 3, RAFTLITE_MEMBERSHIP, "[[1],[1,2]]")};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 3));
  raftlite_responses r;
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, a, 2, &r));
  raftlite_responses_free(&r);
  ASSERT_OK(raftlite_get_membership(F->store, &m));
  ASSERT_INT(m.membership_log_id.index, 3);
  ASSERT_STR(m.membership_json, "[[1],[1,2]]");
  raftlite_applied_state_free(&m);
  raftlite_log_id at3 = {1, 3};
  ASSERT_OK(raftlite_delete_conflict_logs_since(F->store, at3));
  ASSERT_OK(raftlite_get_membership(F->store, &m));
  ASSERT_INT(m.membership_log_id.index, 1);
  ASSERT_STR(m.membership_json, "[[1]]");
  raftlite_applied_state_free(&m);
}

/* get_initial_state purges a log that ends below last_applied. */
TEST(provided, initialStatePurgesBelowApplied) {
  ASSERT_OK(appendBlanks(F->store, 1, 1, 3));
  raftlite_entry a[5];
  for (int i = 0; i < 5; i++) a[i] = entry(1, (uint64_t)i + 1, RAFTLITE_BLANK, NULL);
  raftlite_responses r;
  /* Apply 1..5 although the log holds 1..3 (entries 4 and 5 came from
  ** elsewhere, as openraft allows). */
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, a, 5, &r));
  raftlite_responses_free(&r);
  raftlite_hard_state hs = {1, 1, 1};
  ASSERT_OK(raftlite_save_hard_state(F->store, &hs));
  raftlite_log_state ls;
  raftlite_applied_state as;
  raftlite_hard_state got;
  int bHs;
  ASSERT_OK(raftlite_get_initial_state(F->store, &ls, &as, &got, &bHs));
  ASSERT_INT(ls.has_last_purged, 1);
  ASSERT_INT(ls.last_purged_log_id.index, 5);
  ASSERT_INT(ls.last_log_id.index, 5);
  ASSERT_INT(as.last_applied.index, 5);
  ASSERT_INT(bHs, 1);
  ASSERT_INT(got.voted_for, 1);
  raftlite_applied_state_free(&as);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raftlite_log"), 0);
}

/* Everything survives closing and reopening the database. */
TEST(persistence, reopen) {
  raftlite_hard_state hs = {3, 1, 2};
  ASSERT_OK(raftlite_save_hard_state(F->store, &hs));
  raftlite_entry a[3] = {entry(1, 1, RAFTLITE_MEMBERSHIP, "[[1,2]]"), entry(2, 2, RAFTLITE_NORMAL, "a=1"),
                         entry(3, 3, RAFTLITE_BLANK, NULL)};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 3));
  raftlite_responses r;
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, a, 2, &r));
  raftlite_responses_free(&r);
  raftlite_log_id one = {1, 1};
  ASSERT_OK(raftlite_purge_logs_upto(F->store, one));
  char *zBefore = dumpStore(F->db);
  fixtureClose(F);
  fixtureOpen(F, 0);
  char *zAfter = dumpStore(F->db);
  ASSERT_STR(zAfter, zBefore);
  sqlite3_free(zBefore);
  sqlite3_free(zAfter);
  raftlite_log_state ls;
  ASSERT_OK(raftlite_get_log_state(F->store, &ls));
  ASSERT_INT(ls.last_purged_log_id.index, 1);
  ASSERT_INT(ls.last_log_id.index, 3);
}

/******************************************************************************
 * apply_upto, purge_upto (engines that apply committed entries themselves)
 *****************************************************************************/

/* apply_upto applies the log's own entries through the C state machine,
** with one response per entry, and is a no-op at or below last_applied. */
TEST(applyUpto, appliesTheLogThroughTheCallbacks) {
  EXEC("CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT)");
  Kv kv = {0, 0};
  raftlite_state_machine sm = {&kv, kvApply, NULL, NULL};
  ASSERT_OK(raftlite_set_state_machine(F->store, &sm));
  raftlite_entry a[4] = {entry(1, 1, RAFTLITE_MEMBERSHIP, "[[1]]"), entry(1, 2, RAFTLITE_NORMAL, "x=1"),
                         entry(1, 3, RAFTLITE_BLANK, NULL), entry(2, 4, RAFTLITE_NORMAL, "y=2")};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 4));
  raftlite_responses r;
  ASSERT_OK(raftlite_apply_upto(F->store, 3, &r));
  ASSERT_INT(r.n, 3);
  ASSERT_INT(r.a[0].size, 0);
  ASSERT_INT(r.a[1].size, 4);
  ASSERT(memcmp(r.a[1].data, "ok 2", 4) == 0);
  ASSERT_INT(r.a[2].size, 0);
  raftlite_responses_free(&r);
  ASSERT_INT(kv.nApplied, 1);
  raftlite_applied_state as;
  ASSERT_OK(raftlite_last_applied_state(F->store, &as));
  ASSERT_INT(as.last_applied.term, 1);
  ASSERT_INT(as.last_applied.index, 3);
  ASSERT_INT(as.membership_log_id.index, 1);
  ASSERT_STR(as.membership_json, "[[1]]");
  raftlite_applied_state_free(&as);
  /* At or below last_applied: nothing, and no responses. */
  char *zBefore = dumpStore(F->db);
  r.a = (raftlite_response *)1;
  r.n = 9;
  ASSERT_OK(raftlite_apply_upto(F->store, 2, &r));
  ASSERT(r.a == NULL && r.n == 0);
  ASSERT_OK(raftlite_apply_upto(F->store, 3, NULL));
  char *zAfter = dumpStore(F->db);
  ASSERT_STR(zAfter, zBefore);
  sqlite3_free(zBefore);
  sqlite3_free(zAfter);
  /* out NULL: the responses are discarded. */
  ASSERT_OK(raftlite_apply_upto(F->store, 4, NULL));
  ASSERT_INT(kv.nApplied, 2);
  ASSERT_INT(queryInt(F->db, "SELECT applied_index FROM raftlite_state"), 4);
  ASSERT_INT(queryInt(F->db, "SELECT v FROM kv WHERE k = 'y'"), 2);
}

/* The state machine declared in SQL, and none at all, go the same way. */
TEST(applyUpto, declaredAndNoStateMachine) {
  EXEC("CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT);"
       "SELECT raft_state_machine('[\"kv\"]', 'INSERT INTO kv VALUES (:payload, :index)"
       " RETURNING ''set '' || k')");
  raftlite_entry a[2] = {entry(1, 1, RAFTLITE_NORMAL, "a"), entry(1, 2, RAFTLITE_NORMAL, "b")};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 2));
  raftlite_responses r;
  ASSERT_OK(raftlite_apply_upto(F->store, 2, &r));
  ASSERT_INT(r.n, 2);
  ASSERT_INT(r.a[1].size, 5);
  ASSERT(memcmp(r.a[1].data, "set b", 5) == 0);
  raftlite_responses_free(&r);
  ASSERT_INT(queryInt(F->db, "SELECT v FROM kv WHERE k = 'b'"), 2);
  /* No declaration: entries only move last_applied. */
  EXEC("SELECT raft_state_machine(NULL, NULL)");
  raftlite_entry b = entry(1, 3, RAFTLITE_NORMAL, "c");
  ASSERT_OK(raftlite_append_to_log(F->store, &b, 1));
  ASSERT_OK(raftlite_apply_upto(F->store, 3, &r));
  ASSERT_INT(r.n, 1);
  ASSERT_INT(r.a[0].size, 0);
  raftlite_responses_free(&r);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM kv"), 2);
  ASSERT_INT(queryInt(F->db, "SELECT applied_index FROM raftlite_state"), 3);
}

/* Refused: past the last entry, purged entries, a value out of range, a
** failing callback; nothing applied, the transaction state as it was. */
TEST(applyUpto, rules) {
  EXEC("CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT)");
  Kv kv = {0, 4};
  raftlite_state_machine sm = {&kv, kvApply, NULL, NULL};
  ASSERT_OK(raftlite_set_state_machine(F->store, &sm));
  raftlite_entry a[4] = {entry(1, 1, RAFTLITE_NORMAL, "a=1"), entry(1, 2, RAFTLITE_NORMAL, "b=2"),
                         entry(1, 3, RAFTLITE_NORMAL, "c=3"), entry(1, 4, RAFTLITE_NORMAL, "d=4")};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 4));
  raftlite_responses r = {(raftlite_response *)1, 9};
  ASSERT_REFUSED(raftlite_apply_upto(F->store, 7, &r), SQLITE_NOTFOUND,
                 RAFTLITE_LOG_INDEX_NOT_FOUND);
  ASSERT(r.a == NULL && r.n == 0);
  ASSERT_STR(raftlite_errmsg(F->store), "LogIndexNotFound: no log entry at index 5");
  ASSERT_REFUSED(raftlite_apply_upto(F->store, UINT64_MAX, &r), SQLITE_RANGE,
                 RAFTLITE_OUT_OF_RANGE);
  /* The callback fails on entry 4: entries 1..3 are not applied either. */
  ASSERT_REFUSED(raftlite_apply_upto(F->store, 4, &r), SQLITE_IOERR, RAFTLITE_NO_VIOLATION);
  ASSERT(strstr(raftlite_errmsg(F->store), "1-4") != NULL);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM kv"), 0);
  /* Inside a caller's transaction: refused as a savepoint, the
  ** transaction still open. */
  EXEC("BEGIN");
  ASSERT_REFUSED(raftlite_apply_upto(F->store, 9, NULL), SQLITE_NOTFOUND,
                 RAFTLITE_LOG_INDEX_NOT_FOUND);
  ASSERT_OK(raftlite_apply_upto(F->store, 2, NULL));
  EXEC("COMMIT");
  ASSERT_INT(queryInt(F->db, "SELECT applied_index FROM raftlite_state"), 2);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM kv"), 2);
}

/* purge_upto takes the term from the entry, or from last_purged or
** last_applied when that is the id at the index. */
TEST(purgeUpto, termFromTheStore) {
  ASSERT_OK(appendBlanks(F->store, 2, 1, 5));
  ASSERT_OK(raftlite_apply_upto(F->store, 3, NULL));
  ASSERT_REFUSED(raftlite_purge_upto(F->store, 4), SQLITE_CONSTRAINT, RAFTLITE_PURGE_NON_APPLIED);
  ASSERT_REFUSED(raftlite_purge_upto(F->store, (uint64_t)INT64_MAX + 1), SQLITE_RANGE,
                 RAFTLITE_OUT_OF_RANGE);
  ASSERT_OK(raftlite_purge_upto(F->store, 2));
  raftlite_log_state ls;
  ASSERT_OK(raftlite_get_log_state(F->store, &ls));
  ASSERT_INT(ls.last_purged_log_id.term, 2);
  ASSERT_INT(ls.last_purged_log_id.index, 2);
  /* get_log_id at the last purged index: the last purged id. */
  raftlite_log_id id;
  ASSERT_OK(raftlite_get_log_id(F->store, 2, &id));
  ASSERT_INT(id.term, 2);
  ASSERT_INT(id.index, 2);
  ASSERT_REFUSED(raftlite_get_log_id(F->store, 1, &id), SQLITE_NOTFOUND,
                 RAFTLITE_LOG_INDEX_NOT_FOUND);
  /* At or below last_purged: a no-op. */
  ASSERT_OK(raftlite_purge_upto(F->store, 2));
  ASSERT_OK(raftlite_purge_upto(F->store, 1));
  ASSERT_INT(queryInt(F->db, "SELECT purged_index FROM raftlite_state"), 2);
  ASSERT_OK(raftlite_purge_upto(F->store, 3));
  ASSERT_OK(raftlite_get_log_id(F->store, 3, &id));
  ASSERT_INT(id.term, 2);
}

/* last_applied past the log's end (entries applied but not appended):
** purge_upto(last_applied.index) takes last_applied's term; past it,
** nothing holds the index. */
TEST(purgeUpto, atLastAppliedPastTheLog) {
  ASSERT_OK(appendBlanks(F->store, 1, 1, 2));
  raftlite_entry a[3] = {entry(1, 1, RAFTLITE_BLANK, NULL), entry(1, 2, RAFTLITE_BLANK, NULL),
                         entry(3, 3, RAFTLITE_BLANK, NULL)};
  raftlite_responses r;
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, a, 3, &r));
  raftlite_responses_free(&r);
  ASSERT_REFUSED(raftlite_purge_upto(F->store, 4), SQLITE_NOTFOUND, RAFTLITE_LOG_INDEX_NOT_FOUND);
  ASSERT_OK(raftlite_purge_upto(F->store, 3));
  raftlite_log_state ls;
  ASSERT_OK(raftlite_get_log_state(F->store, &ls));
  ASSERT_INT(ls.has_last_purged, 1);
  ASSERT_INT(ls.last_purged_log_id.term, 3);
  ASSERT_INT(ls.last_purged_log_id.index, 3);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raftlite_log"), 0);
  raftlite_log_id id;
  ASSERT_OK(raftlite_get_log_id(F->store, 3, &id));
  ASSERT_INT(id.term, 3);
}

/* Below the first entry of a log never purged: nothing holds the index. */
TEST(purgeUpto, belowTheFirstEntry) {
  raftlite_entry a[2] = {entry(1, 5, RAFTLITE_BLANK, NULL), entry(1, 6, RAFTLITE_BLANK, NULL)};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 2));
  raftlite_responses r;
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, a, 2, &r));
  raftlite_responses_free(&r);
  ASSERT_REFUSED(raftlite_purge_upto(F->store, 3), SQLITE_NOTFOUND, RAFTLITE_LOG_INDEX_NOT_FOUND);
  ASSERT(strstr(raftlite_errmsg(F->store), "5..6") != NULL);
}

RUN_TESTS(setUp, tearDown)
