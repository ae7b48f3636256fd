/*
** test_conformance.c — openraft's storage conformance suite (testing/suite.rs,
** early-2022 RaftStorage shape, and its defensive df_* checks) rewritten for
** the C API. raftlite is always defensive (docs/contract.md §2): where
** openraft lets a rule-breaking write through and a later read complain,
** raftlite refuses the write, names the rule and leaves the store as it
** was.
*/
#include "fixture.h"

#define F ((Fixture *)f)

static raftlite_entry B(uint64_t t, uint64_t i) { return entry(t, i, RAFTLITE_BLANK, NULL); }
static raftlite_entry M(uint64_t t, uint64_t i, const char *z) {
  return entry(t, i, RAFTLITE_MEMBERSHIP, z);
}
static raftlite_entry N(uint64_t t, uint64_t i, const char *z) {
  return entry(t, i, RAFTLITE_NORMAL, z);
}
static raftlite_log_id L(uint64_t t, uint64_t i) { raftlite_log_id id = {t, i}; return id; }

static int applyArray(raftlite *store, const raftlite_entry *a, size_t n) {
  raftlite_responses r;
  int rc = raftlite_apply_to_state_machine(store, a, n, &r);
  if (rc == SQLITE_OK) raftlite_responses_free(&r);
  return rc;
}

/* APPEND(e1, e2, ...) and APPLY(e1, e2, ...): one batch, its return code. */
#define ENTRIES(...) ((raftlite_entry[]){__VA_ARGS__})
#define COUNT(...) (sizeof(ENTRIES(__VA_ARGS__)) / sizeof(raftlite_entry))
#define APPEND(...) raftlite_append_to_log(F->store, ENTRIES(__VA_ARGS__), COUNT(__VA_ARGS__))
#define APPLY(...) applyArray(F->store, ENTRIES(__VA_ARGS__), COUNT(__VA_ARGS__))
#define PURGE(t, i) raftlite_purge_logs_upto(F->store, L(t, i))
#define DELETE_SINCE(t, i) raftlite_delete_conflict_logs_since(F->store, L(t, i))

/* Applies blank entries lo..hi of one term in one batch. */
static int applyBlanks(raftlite *store, uint64_t term, uint64_t lo, uint64_t hi) {
  raftlite_entry a[32];
  size_t n = 0;
  for (uint64_t i = lo; i <= hi && n < 32; i++) a[n++] = B(term, i);
  return applyArray(store, a, n);
}

/* openraft's feed_10_logs_vote_self: 0-0, 1-1..1-10 one by one, a vote for 0. */
static int feed10(raftlite *store) {
  int rc = appendBlanks(store, 0, 0, 0);
  if (rc == SQLITE_OK) rc = appendBlanks(store, 1, 1, 10);
  raftlite_hard_state hs = {1, 1, 0};
  return rc == SQLITE_OK ? raftlite_save_hard_state(store, &hs) : rc;
}

#define ASSERT_ID(id, t, i) do { ASSERT_INT((id).term, t); ASSERT_INT((id).index, i); } while (0)

/* Asserts the log state: last_purged (hp: present) and last_log_id (hl). */
static void logState(void *f, int hp, uint64_t pt, uint64_t pi, int hl, uint64_t lt,
                     uint64_t li) {
  raftlite_log_state ls;
  ASSERT_OK(raftlite_get_log_state(F->store, &ls));
  ASSERT_INT(ls.has_last_purged, hp);
  if (hp) ASSERT_ID(ls.last_purged_log_id, pt, pi);
  ASSERT_INT(ls.has_last_log, hl);
  if (hl) ASSERT_ID(ls.last_log_id, lt, li);
}

/* Asserts what get_membership() returns; zJson NULL: none. */
static void membership(void *f, uint64_t t, uint64_t i, const char *zJson) {
  raftlite_applied_state m;
  ASSERT_OK(raftlite_get_membership(F->store, &m));
  char zGot[64];
  snprintf(zGot, sizeof(zGot), "%s", m.membership_json ? m.membership_json : "(null)");
  int bHas = m.has_membership;
  raftlite_log_id id = m.membership_log_id;
  raftlite_applied_state_free(&m);
  ASSERT_INT(bHas, zJson != NULL);
  if (zJson == NULL) return;
  ASSERT_ID(id, t, i);
  ASSERT_STR(zGot, zJson);
}

/* Asserts that the last message names the ids z1 and z2 (contract §6). */
static void msgHas(void *f, const char *z1, const char *z2) {
  const char *zMsg = raftlite_errmsg(F->store);
  if ((z1 && strstr(zMsg, z1) == NULL) || (z2 && strstr(zMsg, z2) == NULL)) {
    FAIL("message \"%s\" lacks \"%s\"/\"%s\"", zMsg, z1 ? z1 : "", z2 ? z2 : "");
  }
}

/* REFUSED(call, kind, z1, z2): call returns SQLITE_CONSTRAINT with kind
** RAFTLITE_<kind> (or eAlt: one input breaking two rules may report either,
** contract §2), leaves the store unchanged, and its message names z1 and
** z2. */
static void refused(void *f, int iLine, const char *zCall, int rc, char *zBefore,
                    raftlite_violation_kind eWant, raftlite_violation_kind eAlt,
                    const char *z1, const char *z2) {
  char *zAfter = dumpStore(F->db);
  int bSame = strcmp(zBefore, zAfter) == 0;
  sqlite3_free(zBefore);
  sqlite3_free(zAfter);
  raftlite_violation_kind eGot = raftlite_violation(F->store);
  if (rc != SQLITE_CONSTRAINT || (eGot != eWant && eGot != eAlt)) {
    FAIL("line %d: %s returned %d, kind %d (%s); expected %d, kind %d", iLine, zCall, rc,
         (int)eGot, raftlite_errmsg(F->store), SQLITE_CONSTRAINT, (int)eWant);
  }
  if (!bSame) FAIL("line %d: %s changed the store", iLine, zCall);
  msgHas(f, z1, z2);
}
#define REFUSED_(call, zCall, eWant, eAlt, z1, z2)                         \
  do {                                                                     \
    char *zBefore_ = dumpStore(F->db);                                     \
    refused(f, __LINE__, zCall, (call), zBefore_, eWant, eAlt, z1, z2);    \
  } while (0)
#define REFUSED(call, kind, z1, z2)                                        \
  REFUSED_(call, #call, RAFTLITE_##kind, RAFTLITE_##kind, z1, z2)
#define REFUSED2(call, kind, alt, z1, z2)                                  \
  REFUSED_(call, #call, RAFTLITE_##kind, RAFTLITE_##alt, z1, z2)

/* Declares the four outputs of get_initial_state and fills them. */
#define INITIAL(ls, as, hs, bHs)                                           \
  raftlite_log_state ls;                                                   \
  raftlite_applied_state as;                                               \
  raftlite_hard_state hs;                                                  \
  int bHs = -1;                                                            \
  ASSERT_OK(raftlite_get_initial_state(F->store, &ls, &as, &hs, &bHs))

/* -------------------- get_membership, get_initial_state -------------------- */

/* A fresh store has no membership; with nothing applied it comes from the log. */
TEST(membership, initialThenFromLogAndEmptySm) {
  membership(f, 0, 0, NULL);
  ASSERT_OK(APPEND(M(1, 1, "[[1,2,3]]")));
  membership(f, 1, 1, "[[1,2,3]]");
  raftlite_applied_state as;
  ASSERT_OK(raftlite_last_applied_state(F->store, &as));
  ASSERT(as.has_applied == 0 && as.has_membership == 0 && as.membership_json == NULL);
}

/* openraft appends a membership at or below last_applied to see which wins
** (get_membership_from_log_le_sm_last_applied); raftlite refuses it. */
TEST(membership, logBelowAppliedIsRefused) {
  ASSERT_OK(APPLY(B(1, 1), M(1, 2, "[[3,4,5]]"), B(1, 3), B(1, 4)));
  REFUSED(APPEND(B(1, 1), B(1, 2), M(1, 3, "[[1,2,3]]")), LOGS_NON_CONSECUTIVE, "1-4", "1-1");
  membership(f, 1, 2, "[[3,4,5]]");
}

/* The last membership entry above last_applied wins over the applied one
** until it is truncated (get_membership_from_log_gt_sm_last_applied_*). */
TEST(membership, fromLogAboveApplied) {
  ASSERT_OK(APPEND(M(1, 1, "[[1,2,3]]"), B(1, 2), M(1, 3, "[[7,8,9]]"), B(1, 4),
                   M(1, 5, "[[10,11]]")));
  ASSERT_OK(APPLY(M(1, 1, "[[1,2,3]]"), B(1, 2)));
  membership(f, 1, 5, "[[10,11]]");
  ASSERT_OK(APPLY(M(1, 3, "[[7,8,9]]"), B(1, 4)));
  membership(f, 1, 5, "[[10,11]]");
  ASSERT_OK(DELETE_SINCE(1, 5));
  membership(f, 1, 3, "[[7,8,9]]");
}

/* A fresh store has no log, nothing applied, no membership, no hard state. */
TEST(initialState, withoutInit) {
  INITIAL(ls, as, hs, bHs);
  ASSERT(ls.has_last_log == 0 && ls.has_last_purged == 0);
  ASSERT(as.has_applied == 0 && as.has_membership == 0 && as.membership_json == NULL);
  ASSERT(bHs == 0 && hs.current_term == 0);
}

/* The log may end above last_applied; both are reported with the vote. */
TEST(initialState, withState) {
  raftlite_hard_state vote = {1, 1, 0};
  ASSERT_OK(raftlite_save_hard_state(F->store, &vote));
  ASSERT_OK(APPEND(B(3, 2)));
  ASSERT_OK(APPLY(B(3, 1)));
  INITIAL(ls, as, hs, bHs);
  ASSERT_ID(as.last_applied, 3, 1);
  ASSERT_ID(ls.last_log_id, 3, 2);
  ASSERT(bHs == 1 && hs.current_term == 1 && hs.has_vote == 1 && hs.voted_for == 0);
}

/* The initial membership is the applied one until the log holds a later
** one, which an append right after last_applied makes, purging below it. */
TEST(initialState, membershipFromLogAndSm) {
  ASSERT_OK(APPLY(B(1, 1), M(1, 2, "[[3,4,5]]")));
  {
    INITIAL(ls, as, hs, bHs);
    ASSERT_ID(as.membership_log_id, 1, 2);
    ASSERT_STR(as.membership_json, "[[3,4,5]]");
    raftlite_applied_state_free(&as);
  }
  ASSERT_OK(APPEND(M(1, 3, "[[1,2,3]]")));
  INITIAL(ls, as, hs, bHs);
  ASSERT_ID(as.last_applied, 1, 2);
  ASSERT_ID(as.membership_log_id, 1, 3);
  ASSERT_STR(as.membership_json, "[[1,2,3]]");
  raftlite_applied_state_free(&as);
  logState(f, 1, 1, 2, 1, 1, 3);
}

/* openraft's last_log_gt_sm applies 1-1 over a log holding 2-1: refused. */
TEST(initialState, lastLogGtSmIsRefused) {
  ASSERT_OK(APPEND(B(2, 1)));
  REFUSED(APPLY(B(1, 1), B(1, 2)), LOG_ID_MISMATCH, "2-1", "1-1");
  logState(f, 0, 0, 0, 1, 2, 1);
}

/* openraft's last_log_lt_sm applies 3-1 under a log holding 1-2: DirtyLog. */
TEST(initialState, lastLogLtSmIsDirty) {
  ASSERT_OK(APPEND(B(1, 2)));
  REFUSED(APPLY(B(3, 1)), DIRTY_LOG, "3-1", "1-2");
}

/* -------------------- Hard state -------------------- */

/* Ascending saves succeed (node 0 is a node; the same state may be saved
** again) and the last one reads back. */
TEST(hardState, saveAscending) {
  raftlite_hard_state seq[5] = {{1, 0, 0}, {1, 1, 2}, {2, 0, 0}, {100, 1, 0}, {100, 1, 0}};
  for (int i = 0; i < 5; i++) ASSERT_OK(raftlite_save_hard_state(F->store, &seq[i]));
  raftlite_hard_state got;
  int found = 0;
  ASSERT_OK(raftlite_read_hard_state(F->store, &got, &found));
  ASSERT(found == 1 && got.current_term == 100 && got.has_vote == 1 && got.voted_for == 0);
}

/* defensive: a lower term, or another vote or none in the same term, is
** refused and the stored hard state stays. */
TEST(defensive, saveHardStateAscending) {
  raftlite_hard_state hs = {10, 1, 10}, lower = {9, 1, 10}, other = {10, 1, 9}, none = {10, 0, 0};
  ASSERT_OK(raftlite_save_hard_state(F->store, &hs));
  REFUSED(raftlite_save_hard_state(F->store, &lower), TERM_NOT_ASCENDING, "10", "9");
  REFUSED(raftlite_save_hard_state(F->store, &other), VOTED_FOR_CHANGED, "10", "9");
  REFUSED(raftlite_save_hard_state(F->store, &none), VOTED_FOR_CHANGED, NULL, NULL);
  int found;
  ASSERT_OK(raftlite_read_hard_state(F->store, &hs, &found));
  ASSERT(hs.current_term == 10 && hs.voted_for == 10);
}

/* -------------------- Log -------------------- */

/* [start, stop): an empty range gives none, 5..7 gives 1-5 and 1-6. */
TEST(log, getLogEntries) {
  ASSERT_OK(feed10(F->store));
  raftlite_entries got;
  ASSERT_OK(raftlite_try_get_log_entries(F->store, 3, 3, &got));
  ASSERT_INT(got.n, 0);
  ASSERT_OK(raftlite_try_get_log_entries(F->store, 5, 7, &got));
  ASSERT_INT(got.n, 2);
  ASSERT_ID(got.a[0].log_id, 1, 5);
  ASSERT_ID(got.a[1].log_id, 1, 6);
  raftlite_entries_free(&got);
  ASSERT_OK(raftlite_try_get_log_entries(F->store, 0, RAFTLITE_UNBOUNDED, &got));
  ASSERT_INT(got.n, 11);
  raftlite_entries_free(&got);
}

/* Present entries are returned and missing ones (purged, past the end) are
** absent, not errors as in openraft's df_get_log_entries. */
TEST(log, tryGetLogEntry) {
  ASSERT_OK(feed10(F->store));
  ASSERT_OK(APPLY(B(0, 0)));
  ASSERT_OK(PURGE(0, 0));
  static const uint64_t aRange[5][3] = {{3, 4, 1}, {0, 1, 0}, {11, 12, 0}, {0, 2, 1}, {10, 12, 1}};
  for (int i = 0; i < 5; i++) {
    raftlite_entries got;
    ASSERT_OK(raftlite_try_get_log_entries(F->store, aRange[i][0], aRange[i][1], &got));
    ASSERT_INT(got.n, aRange[i][2]);
    if (got.n) ASSERT_ID(got.a[0].log_id, 1, aRange[i][0] ? aRange[i][0] : 1);
    raftlite_entries_free(&got);
  }
}

/* Log state through appends, purges and a purge past the end; last_log_id
** ignores a last_applied above the log (get_log_state, last_id_in_log). */
TEST(log, getLogState) {
  logState(f, 0, 0, 0, 0, 0, 0);
  ASSERT_OK(APPEND(B(0, 0), B(1, 1), B(1, 2)));
  logState(f, 0, 0, 0, 1, 1, 2);
  ASSERT_OK(APPLY(B(0, 0), B(1, 1), B(1, 2), B(2, 3)));
  logState(f, 0, 0, 0, 1, 1, 2);
  ASSERT_OK(PURGE(0, 0));
  logState(f, 1, 0, 0, 1, 1, 2);
  ASSERT_OK(PURGE(1, 2));
  logState(f, 1, 1, 2, 1, 1, 2);
  ASSERT_OK(PURGE(2, 3));
  logState(f, 1, 2, 3, 1, 2, 3);
}

/* get_log_id gives present entries, the last purged log id at its index
** (as openraft), LogIndexNotFound for other absent ones. */
TEST(log, getLogId) {
  ASSERT_OK(feed10(F->store));
  ASSERT_OK(APPLY(B(0, 0), B(1, 1), B(1, 2), B(1, 3)));
  ASSERT_OK(PURGE(1, 3));
  raftlite_log_id id = {7, 7};
  ASSERT_INT(raftlite_get_log_id(F->store, 0, &id), SQLITE_NOTFOUND);
  ASSERT_ID(id, 0, 0); /* out-parameter left empty */
  ASSERT_INT(raftlite_violation(F->store), RAFTLITE_LOG_INDEX_NOT_FOUND);
  ASSERT_INT(raftlite_get_log_id(F->store, 11, &id), SQLITE_NOTFOUND);
  msgHas(f, "11", NULL);
  /* At the last purged index: the last purged log id (docs/contract.md §2). */
  ASSERT_OK(raftlite_get_log_id(F->store, 3, &id));
  ASSERT_ID(id, 1, 3);
  ASSERT_INT(raftlite_get_log_id(F->store, 2, &id), SQLITE_NOTFOUND);
  ASSERT_OK(raftlite_get_log_id(F->store, 4, &id));
  ASSERT_ID(id, 1, 4);
  ASSERT_INT(raftlite_violation(F->store), RAFTLITE_NO_VIOLATION);
  ASSERT_INT(raftlite_get_log_id(F->store, (uint64_t)INT64_MAX + 1, &id), SQLITE_RANGE);
  ASSERT_INT(raftlite_violation(F->store), RAFTLITE_OUT_OF_RANGE);
}

/* last_applied_state: none, then a membership, which a later blank keeps. */
TEST(log, lastAppliedState) {
  raftlite_applied_state as;
  ASSERT_OK(raftlite_last_applied_state(F->store, &as));
  ASSERT(as.has_applied == 0 && as.has_membership == 0);
  raftlite_entry a[2] = {M(1, 3, "[[1,2]]"), B(1, 4)};
  for (int i = 0; i < 2; i++) {
    ASSERT_OK(applyArray(F->store, &a[i], 1));
    ASSERT_OK(raftlite_last_applied_state(F->store, &as));
    ASSERT_ID(as.last_applied, 1, 3 + (uint64_t)i);
    ASSERT_ID(as.membership_log_id, 1, 3);
    ASSERT_STR(as.membership_json, "[[1,2]]");
    raftlite_applied_state_free(&as);
  }
}

/* Purging feed10's log up to 0-0, 1-5 and 1-20 (past the end) leaves 10, 5
** and 0 entries (purge_logs_upto_0/5/20). */
TEST(purge, upto0and5and20) {
  static const uint64_t aUpto[3] = {0, 5, 20};
  for (int k = 0; k < 3; k++) {
    if (k > 0) fixtureClose(F), fixtureOpen(F, 1);
    ASSERT_OK(feed10(F->store));
    ASSERT_OK(APPLY(B(0, 0)));
    if (aUpto[k] > 0) ASSERT_OK(applyBlanks(F->store, 1, 1, aUpto[k]));
    raftlite_log_id upto = L(aUpto[k] ? 1 : 0, aUpto[k]);
    ASSERT_OK(raftlite_purge_logs_upto(F->store, upto));
    raftlite_entries got;
    ASSERT_OK(raftlite_try_get_log_entries(F->store, 0, 100, &got));
    ASSERT_INT(got.n, aUpto[k] >= 10 ? 0 : 10 - aUpto[k]);
    if (got.n) ASSERT_INT(got.a[0].log_id.index, aUpto[k] + 1);
    raftlite_entries_free(&got);
    logState(f, 1, upto.term, upto.index, 1, 1, aUpto[k] > 10 ? aUpto[k] : 10);
  }
}

/* Deleting since 11 removes nothing; since 0, everything, leaving no log id
** (delete_logs_since_11, delete_logs_since_0). */
TEST(deleteLogs, since11and0) {
  ASSERT_OK(feed10(F->store));
  ASSERT_OK(DELETE_SINCE(1, 11));
  logState(f, 0, 0, 0, 1, 1, 10);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raftlite_log"), 11);
  ASSERT_OK(DELETE_SINCE(0, 0));
  logState(f, 0, 0, 0, 0, 0, 0);
}

/* openraft overwrites 1-10 by appending 2-10; raftlite wants the conflict
** deleted first, then the append gives ten entries ending at 2-10. */
TEST(append, appendToLog) {
  ASSERT_OK(feed10(F->store));
  ASSERT_OK(APPLY(B(0, 0)));
  ASSERT_OK(PURGE(0, 0));
  REFUSED(APPEND(B(2, 10)), LOGS_NON_CONSECUTIVE, NULL, NULL);
  ASSERT_OK(DELETE_SINCE(1, 10));
  ASSERT_OK(APPEND(B(2, 10)));
  raftlite_entries got;
  ASSERT_OK(raftlite_try_get_log_entries(F->store, 0, RAFTLITE_UNBOUNDED, &got));
  ASSERT_INT(got.n, 10);
  ASSERT_ID(got.a[9].log_id, 2, 10);
  raftlite_entries_free(&got);
}

/* An append following last_applied purges the log below it, and a refused
** one (a gap later in the batch, a bad membership) purges nothing. */
TEST(append, followsLastApplied) {
  ASSERT_OK(appendBlanks(F->store, 1, 1, 2));
  ASSERT_OK(applyBlanks(F->store, 1, 1, 4));
  REFUSED(APPEND(B(1, 6)), LOGS_NON_CONSECUTIVE, "1-4", "1-6");
  REFUSED(APPEND(B(1, 5), B(1, 7)), LOGS_NON_CONSECUTIVE, NULL, NULL);
  REFUSED(APPEND(M(1, 5, "[]")), INVALID_MEMBERSHIP, NULL, NULL);
  ASSERT_OK(APPEND(B(1, 5)));
  logState(f, 1, 1, 4, 1, 1, 5);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raftlite_log"), 1);
}

/* -------------------- Defensive checks on the log (df_*) -------------------- */

/* An empty batch is LogsEmpty, and the next success resets the kind. */
TEST(defensive, appendNonemptyInput) {
  REFUSED(raftlite_append_to_log(F->store, NULL, 0), LOGS_EMPTY, NULL, NULL);
  logState(f, 0, 0, 0, 0, 0, 0);
  ASSERT_INT(raftlite_violation(F->store), RAFTLITE_NO_VIOLATION);
}

/* A batch with a gap is LogsNonConsecutive. */
TEST(defensive, appendNonconsecutiveInput) {
  REFUSED(APPEND(B(1, 1), B(1, 3)), LOGS_NON_CONSECUTIVE, "1-1", "1-3");
}

/* The first entry must have index last log index + 1. */
TEST(defensive, appendEqLastPlusOne) {
  ASSERT_OK(APPEND(B(0, 0), B(1, 1), B(1, 2)));
  ASSERT_OK(APPLY(B(0, 0), B(1, 1)));
  REFUSED(APPEND(B(3, 4)), LOGS_NON_CONSECUTIVE, "1-2", "3-4");
}

/* With the whole log applied, the first entry must be last_applied + 1. */
TEST(defensive, appendEqLastAppliedPlusOne) {
  ASSERT_OK(APPEND(B(0, 0), B(1, 1), B(1, 2)));
  ASSERT_OK(APPLY(B(0, 0), B(1, 1), B(1, 2)));
  REFUSED(APPEND(B(1, 4)), LOGS_NON_CONSECUTIVE, "1-2", "1-4");
}

/* Index last + 1 with a term below the last entry's is refused. */
TEST(defensive, appendGtLastLogId) {
  ASSERT_OK(APPEND(B(0, 0), B(2, 1), B(2, 2)));
  REFUSED(APPEND(B(1, 3)), LOGS_NON_CONSECUTIVE, "2-2", "1-3");
}

/* A term below last_applied's is refused after a full purge, and with the
** log ending below last_applied. */
TEST(defensive, appendGtLastAppliedId) {
  ASSERT_OK(APPEND(B(0, 0), B(2, 1), B(2, 2)));
  ASSERT_OK(APPLY(B(0, 0), B(2, 1), B(2, 2)));
  ASSERT_OK(PURGE(2, 2));
  REFUSED(APPEND(B(1, 3)), LOGS_NON_CONSECUTIVE, "2-2", "1-3");
  ASSERT_OK(APPLY(B(2, 3)));
  REFUSED(APPEND(B(1, 4)), LOGS_NON_CONSECUTIVE, "2-3", "1-4");
}

/* Purging with nothing applied, or above last_applied, is PurgeNonApplied. */
TEST(defensive, purgeAppliedLeLastApplied) {
  REFUSED(PURGE(0, 0), PURGE_NON_APPLIED, NULL, NULL);
  ASSERT_OK(APPLY(B(0, 0), B(3, 1)));
  REFUSED(PURGE(5, 2), PURGE_NON_APPLIED, "3-1", "5-2");
}

/* A purge id contradicting a present entry, or past the last entry but
** below it, is LogIdMismatch. */
TEST(defensive, purgeLogIdMismatch) {
  ASSERT_OK(APPEND(B(0, 0), B(2, 1), B(2, 2)));
  ASSERT_OK(APPLY(B(0, 0), B(2, 1), B(2, 2), B(2, 3), B(2, 4), B(2, 5)));
  REFUSED(PURGE(1, 2), LOG_ID_MISMATCH, "2-2", "1-2");
  REFUSED(PURGE(1, 4), LOG_ID_MISMATCH, "2-2", "1-4");
  ASSERT_OK(PURGE(2, 4));
  logState(f, 1, 2, 4, 1, 2, 4);
}

/* Deleting at or below last_applied is AppliedWontConflict. */
TEST(defensive, deleteConflictGtLastApplied) {
  ASSERT_OK(APPLY(B(0, 0), B(3, 1)));
  REFUSED(DELETE_SINCE(5, 1), APPLIED_WONT_CONFLICT, "3-1", NULL);
  REFUSED(DELETE_SINCE(5, 0), APPLIED_WONT_CONFLICT, NULL, NULL);
}

/* -------------------- Apply -------------------- */

static int nApplied; /* apply callbacks that ran, to catch a double apply */

/* A key-value state machine in the store's database: "k=v" sets k. */
static int kvApply(void *ctx, sqlite3 *db, const raftlite_entry *e, raftlite_response *out) {
  (void)ctx;
  char *zSql = sqlite3_mprintf("WITH e(s) AS (VALUES(%.*Q)) INSERT OR REPLACE INTO kv SELECT"
                               " substr(s, 1, instr(s, '=') - 1), substr(s, instr(s, '=') + 1)"
                               " FROM e", (int)e->size, (const char *)e->data);
  int rc = sqlite3_exec(db, zSql, NULL, NULL, NULL);
  sqlite3_free(zSql);
  if (rc == SQLITE_OK) {
    nApplied++;
    out->data = sqlite3_mprintf("ok %llu", (unsigned long long)e->log_id.index);
    out->size = strlen(out->data);
  }
  return rc;
}

/* A snapshot is an SQL script that refills kv; restore runs it. */
static int kvSnapshot(void *ctx, sqlite3 *db, raftlite_snapshot *w) {
  (void)ctx;
  sqlite3_stmt *pStmt = NULL;
  int rc = sqlite3_prepare_v2(db, "SELECT group_concat(format('INSERT INTO kv VALUES(%Q,%Q);',"
                              " k, v), '') FROM kv", -1, &pStmt, NULL);
  if (rc == SQLITE_OK && sqlite3_step(pStmt) == SQLITE_ROW) {
    rc = raftlite_snapshot_write(w, sqlite3_column_text(pStmt, 0),
                                 (size_t)sqlite3_column_bytes(pStmt, 0));
  }
  sqlite3_finalize(pStmt);
  return rc;
}

static int kvRestore(void *ctx, sqlite3 *db, raftlite_snapshot *r) {
  (void)ctx;
  char buf[4096];
  size_t n = 0, got = 1;
  int rc = sqlite3_exec(db, "DELETE FROM kv", NULL, NULL, NULL);
  while (rc == SQLITE_OK && got > 0 && n < sizeof(buf) - 1) {
    rc = raftlite_snapshot_read(r, buf + n, sizeof(buf) - 1 - n, &got);
    n += got;
  }
  buf[n] = 0;
  return rc == SQLITE_OK ? sqlite3_exec(db, buf, NULL, NULL, NULL) : rc;
}

static void useKv(Fixture *f) {
  sqlite3_exec(f->db, "CREATE TABLE IF NOT EXISTS kv(k TEXT PRIMARY KEY, v TEXT)", 0, 0, 0);
  raftlite_state_machine sm = {NULL, kvApply, kvSnapshot, kvRestore};
  raftlite_set_state_machine(f->store, &sm);
  nApplied = 0;
}

/* One normal entry reaches the state machine, answers, and moves last_applied. */
TEST(apply, single) {
  useKv(F);
  raftlite_responses r;
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, ENTRIES(N(3, 1, "status=lit")), 1, &r));
  ASSERT(r.n == 1 && r.a[0].size == 4 && memcmp(r.a[0].data, "ok 1", 4) == 0);
  raftlite_responses_free(&r);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM kv WHERE k = 'status' AND v = 'lit'"), 1);
  ASSERT_INT(queryInt(F->db, "SELECT applied_term * 10 + applied_index FROM raftlite_state"), 31);
}

/* A batch gives one response per entry in order (empty for a membership),
** and later writes win. */
TEST(apply, multi) {
  useKv(F);
  raftlite_entry a[4] = {N(3, 1, "c1=old"), M(3, 2, "[[1]]"), N(3, 3, "c1=new"), N(3, 4, "c2=x")};
  raftlite_responses r;
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, a, 4, &r));
  ASSERT(r.n == 4 && r.a[1].size == 0);
  ASSERT(r.a[2].size == 4 && memcmp(r.a[2].data, "ok 3", 4) == 0);
  ASSERT(r.a[3].size == 4 && memcmp(r.a[3].data, "ok 4", 4) == 0);
  raftlite_responses_free(&r);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM kv WHERE k||v IN ('c1new','c2x')"), 2);
  membership(f, 3, 2, "[[1]]");
}

/* defensive: an empty batch is LogsEmpty and *out is left empty. */
TEST(defensive, applyNonemptyInput) {
  raftlite_responses r = {(raftlite_response *)8, 3};
  REFUSED(raftlite_apply_to_state_machine(F->store, NULL, 0, &r), LOGS_EMPTY, NULL, NULL);
  ASSERT(r.a == NULL && r.n == 0);
}

/* defensive: re-applying the last applied entry (alone or leading a batch)
** or skipping an index is ApplyNonConsecutive and runs no callback. */
TEST(defensive, applyIndexEqLastAppliedPlusOne) {
  useKv(F);
  ASSERT_OK(APPLY(B(0, 0), N(3, 1, "a=1")));
  REFUSED(APPLY(N(3, 1, "a=1")), APPLY_NON_CONSECUTIVE, "3-1", NULL);
  REFUSED(APPLY(N(3, 1, "a=1"), N(3, 2, "b=2")), APPLY_NON_CONSECUTIVE, NULL, NULL);
  REFUSED(APPLY(B(3, 3)), APPLY_NON_CONSECUTIVE, "3-1", "3-3");
  ASSERT_INT(nApplied, 1);
}

/* defensive: the next index with a lower term is ApplyNonConsecutive. */
TEST(defensive, applyGtLastAppliedId) {
  ASSERT_OK(APPLY(B(0, 0), B(3, 1)));
  REFUSED(APPLY(B(2, 2)), APPLY_NON_CONSECUTIVE, "3-1", "2-2");
}

/* defensive (df_get_membership_config_dirty_log, df_get_initial_state_dirty
** _log): applying 2-1, 2-2 over a term-1 log is refused, so reads stay clean. */
TEST(defensive, dirtyLogIsNeverStored) {
  ASSERT_OK(APPEND(B(0, 0), B(1, 1), B(1, 2), M(1, 3, "[[1,2,3]]")));
  REFUSED2(APPLY(B(0, 0), B(2, 1), M(2, 2, "[[3,4,5]]")), LOG_ID_MISMATCH, DIRTY_LOG, "2-1",
           NULL);
  membership(f, 1, 3, "[[1,2,3]]");
  INITIAL(ls, as, hs, bHs);
  int bApplied = as.has_applied;
  raftlite_applied_state_free(&as);
  ASSERT_INT(bApplied, 0);
  ASSERT_ID(ls.last_log_id, 1, 3);
}

/* defensive: an entry left above the applied index with a lower log id is
** DirtyLog even when no index of the batch is in the log. */
TEST(defensive, dirtyLogWithoutMismatch) {
  ASSERT_OK(appendBlanks(F->store, 1, 5, 6));
  REFUSED(APPLY(B(2, 3), B(2, 4)), DIRTY_LOG, "1-5", NULL);
}

/* -------------------- Snapshots -------------------- */

/* No current snapshot at first, and build refuses with nothing applied;
** both leave their out-parameters empty. */
TEST(snapshot, initialAndNothingApplied) {
  raftlite_snapshot_meta meta;
  raftlite_snapshot *s = (raftlite_snapshot *)8;
  memset(&meta, 0x5a, sizeof(meta));
  ASSERT_OK(raftlite_get_current_snapshot(F->store, &meta, &s));
  ASSERT(s == NULL && meta.membership_json == NULL);
  memset(&meta, 0x5a, sizeof(meta));
  s = (raftlite_snapshot *)8;
  REFUSED(raftlite_build_snapshot(F->store, &meta, &s), NOTHING_APPLIED, NULL, NULL);
  ASSERT(s == NULL && meta.membership_json == NULL && meta.has_membership == 0);
}

/* Receives zBytes into a new stream and installs it under *pMeta. */
static int installBytes(raftlite *store, const raftlite_snapshot_meta *pMeta,
                        const char *zBytes, raftlite_sm_changes *pOut) {
  raftlite_snapshot *s = NULL;
  int rc = raftlite_begin_receiving_snapshot(store, &s);
  if (rc == SQLITE_OK) rc = raftlite_snapshot_write(s, zBytes, strlen(zBytes));
  if (rc == SQLITE_OK) return raftlite_install_snapshot(store, pMeta, s, pOut);
  raftlite_snapshot_close(s);
  return rc;
}

static raftlite_snapshot_meta metaAt(uint64_t term, uint64_t index, const char *zId) {
  raftlite_snapshot_meta meta;
  memset(&meta, 0, sizeof(meta));
  meta.last_log_id = L(term, index);
  snprintf(meta.snapshot_id, sizeof(meta.snapshot_id), "%s", zId);
  return meta;
}

/* A snapshot at exactly last_applied is not stale (meta >= last_applied). */
TEST(snapshot, installAtLastApplied) {
  useKv(F);
  ASSERT_OK(APPEND(N(1, 1, "a=1"), N(1, 2, "b=2")));
  ASSERT_OK(APPLY(N(1, 1, "a=1"), N(1, 2, "b=2")));
  raftlite_snapshot_meta meta = metaAt(1, 2, "same");
  raftlite_sm_changes ch;
  ASSERT_OK(installBytes(F->store, &meta, "INSERT INTO kv VALUES('c','3');", &ch));
  ASSERT(ch.is_snapshot == 1 && ch.has_last_applied == 1);
  ASSERT_ID(ch.last_applied, 1, 2);
  logState(f, 1, 1, 2, 1, 1, 2);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM kv WHERE k = 'c'"), 1);
}

/* Staleness compares log ids: 2-7 is below 3-5 although its index is
** higher; the refusal leaves the store and *out empty. */
TEST(snapshot, installStaleByTerm) {
  useKv(F);
  ASSERT_OK(applyBlanks(F->store, 3, 1, 5));
  raftlite_snapshot_meta meta = metaAt(2, 7, "stale");
  raftlite_sm_changes ch;
  memset(&ch, 0x5a, sizeof(ch));
  REFUSED(installBytes(F->store, &meta, "", &ch), SNAPSHOT_STALE, "3-5", "2-7");
  ASSERT(ch.has_last_applied == 0 && ch.is_snapshot == 0);
}

/* A snapshot with a higher term but lower index than last_applied is not
** stale (log ids compare by term first): it installs and the log follows. */
TEST(snapshot, installHigherTermLowerIndex) {
  useKv(F);
  ASSERT_OK(appendBlanks(F->store, 1, 1, 5));
  ASSERT_OK(applyBlanks(F->store, 1, 1, 5));
  raftlite_snapshot_meta meta = metaAt(2, 3, "t2");
  raftlite_sm_changes ch;
  ASSERT_OK(installBytes(F->store, &meta, "", &ch));
  logState(f, 1, 2, 3, 1, 2, 3);
  ASSERT_OK(APPEND(B(2, 4)));
}

/* A snapshot built on one store installs on another with the same meta,
** content and initial state (snapshot_meta, transfer_snapshot). */
TEST(snapshot, transfer) {
  useKv(F);
  ASSERT_OK(APPEND(M(1, 1, "[[1,2]]"), N(1, 2, "a=1"), N(2, 3, "b=2")));
  ASSERT_OK(APPLY(M(1, 1, "[[1,2]]"), N(1, 2, "a=1"), N(2, 3, "b=2")));
  raftlite_snapshot_meta meta;
  raftlite_snapshot *s = NULL;
  ASSERT_OK(raftlite_build_snapshot(F->store, &meta, &s));
  ASSERT_ID(meta.last_log_id, 2, 3); /* snapshot_meta: last_applied, membership in force */
  ASSERT_ID(meta.membership_log_id, 1, 1);
  char buf[256];
  size_t n = 0;
  ASSERT_OK(raftlite_snapshot_read(s, buf, sizeof(buf) - 1, &n));
  buf[n] = 0;
  raftlite_snapshot_close(s);

  Fixture other;
  memset(&other, 0, sizeof(other));
  snprintf(other.zPath, sizeof(other.zPath), "conf-other-%d.db", (int)getpid());
  fixtureOpen(&other, 1);
  useKv(&other);
  raftlite_sm_changes ch;
  raftlite_snapshot_meta cur;
  int rc = installBytes(other.store, &meta, buf, &ch);
  s = NULL;
  if (rc == SQLITE_OK) rc = raftlite_get_current_snapshot(other.store, &cur, &s);
  raftlite_snapshot_close(s);
  raftlite_snapshot_meta_free(&meta);
  raftlite_log_state ls;
  raftlite_applied_state as;
  raftlite_hard_state hs;
  int bHs;
  if (rc == SQLITE_OK) rc = raftlite_get_initial_state(other.store, &ls, &as, &hs, &bHs);
  long long nKv = queryInt(other.db, "SELECT count(*) FROM kv WHERE k||v IN ('a1','b2')");
  fixtureClose(&other);
  remove(other.zPath);
  ASSERT_INT(rc, SQLITE_OK);
  ASSERT_STR(cur.snapshot_id, meta.snapshot_id);
  ASSERT_STR(cur.membership_json, "[[1,2]]");
  raftlite_snapshot_meta_free(&cur);
  ASSERT_ID(ls.last_log_id, 2, 3);
  ASSERT_ID(ls.last_purged_log_id, 2, 3);
  ASSERT_ID(as.last_applied, 2, 3);
  ASSERT_STR(as.membership_json, "[[1,2]]");
  raftlite_applied_state_free(&as);
  ASSERT_INT(nKv, 2);
}

RUN_TESTS(setUp, tearDown)
