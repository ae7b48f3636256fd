/*
** test_conformance.c — openraft's storage conformance suite (testing/suite.rs,
** early-2022 RaftStorage shape, and its defensive df_* checks) rewritten for
** the C API. raftlite is always defensive (SPEC §2): where openraft lets a
** rule-breaking write through and a later read complain, raftlite refuses
** the write, names the rule and leaves the store as it was.
*/
#include "fixture.h"

#define F ((Fixture *)f)

static raftlite_entry B(uint64_t term, uint64_t index) {
  return entry(term, index, RAFTLITE_BLANK, NULL);
}
static raftlite_entry M(uint64_t term, uint64_t index, const char *zJson) {
  return entry(term, index, RAFTLITE_MEMBERSHIP, zJson);
}
static raftlite_entry N(uint64_t term, uint64_t index, const char *zData) {
  return entry(term, index, RAFTLITE_NORMAL, zData);
}
static raftlite_log_id L(uint64_t term, uint64_t index) {
  raftlite_log_id id = {term, index};
  return id;
}

static int applyBatch(raftlite *store, const raftlite_entry *a, size_t n) {
  raftlite_responses r;
  int rc = raftlite_apply_to_state_machine(store, a, n, &r);
  if (rc == SQLITE_OK) raftlite_responses_free(&r);
  return rc;
}

/* Applies blank entries lo..hi of one term in one batch. */
static int applyBlanks(raftlite *store, uint64_t term, uint64_t lo, uint64_t hi) {
  raftlite_entry a[32];
  size_t n = 0;
  for (uint64_t i = lo; i <= hi && n < 32; i++) a[n++] = B(term, i);
  return applyBatch(store, a, n);
}

/* openraft's feed_10_logs_vote_self: 0-0, then 1-1..1-10 one at a time,
** and a vote for node 0 in term 1. */
static int feed10(raftlite *store) {
  int rc = appendBlanks(store, 0, 0, 0);
  if (rc == SQLITE_OK) rc = appendBlanks(store, 1, 1, 10);
  raftlite_hard_state hs = {1, 1, 0};
  return rc == SQLITE_OK ? raftlite_save_hard_state(store, &hs) : rc;
}

#define ASSERT_ID(id, t, i)                                                \
  do {                                                                     \
    ASSERT_INT((id).term, t);                                              \
    ASSERT_INT((id).index, i);                                             \
  } while (0)

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

/* Asserts that the last error message names z1 and z2 (SPEC §6: "a
** sentence with the ids involved"). */
static void msgHas(void *f, const char *z1, const char *z2) {
  const char *zMsg = raftlite_errmsg(F->store);
  if (strstr(zMsg, z1) == NULL || (z2 && strstr(zMsg, z2) == NULL)) {
    FAIL("message \"%s\" lacks \"%s\"/\"%s\"", zMsg, z1, z2 ? z2 : "");
  }
}

/* get_initial_state into the four outputs; the applied state is freed by
** the caller. */
#define INITIAL(ls, as, hs, bHs)                                           \
  raftlite_log_state ls;                                                   \
  raftlite_applied_state as;                                               \
  raftlite_hard_state hs;                                                  \
  int bHs = -1;                                                            \
  ASSERT_OK(raftlite_get_initial_state(F->store, &ls, &as, &hs, &bHs))

/******************************************************************************
 * get_membership
 *****************************************************************************/

/* A fresh store has no membership; with an empty state machine it comes
** from the log. */
TEST(membership, initialThenFromLogAndEmptySm) {
  membership(f, 0, 0, NULL);
  raftlite_entry m = M(1, 1, "[[1,2,3]]");
  ASSERT_OK(raftlite_append_to_log(F->store, &m, 1));
  membership(f, 1, 1, "[[1,2,3]]");
  raftlite_applied_state as;
  ASSERT_OK(raftlite_last_applied_state(F->store, &as));
  ASSERT(as.has_applied == 0 && as.has_membership == 0 && as.membership_json == NULL);
}

/* With an empty log the membership comes from the state machine. */
TEST(membership, fromEmptyLogAndSm) {
  raftlite_entry a[2] = {B(1, 1), M(1, 2, "[[3,4,5]]")};
  ASSERT_OK(applyBatch(F->store, a, 2));
  membership(f, 1, 2, "[[3,4,5]]");
}

/* openraft appends a membership at or below last_applied to see which one
** wins (get_membership_from_log_le_sm_last_applied); raftlite refuses it. */
TEST(membership, logBelowAppliedIsRefused) {
  raftlite_entry a[4] = {B(1, 1), M(1, 2, "[[3,4,5]]"), B(1, 3), B(1, 4)};
  ASSERT_OK(applyBatch(F->store, a, 4));
  raftlite_entry late[3] = {B(1, 1), B(1, 2), M(1, 3, "[[1,2,3]]")};
  ASSERT_REFUSED(raftlite_append_to_log(F->store, late, 3), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_NON_CONSECUTIVE);
  msgHas(f, "1-4", "1-1");
  membership(f, 1, 2, "[[3,4,5]]");
}

/* The last membership entry above last_applied wins over the applied one
** until it is truncated (get_membership_from_log_gt_sm_last_applied_*). */
TEST(membership, fromLogAboveApplied) {
  raftlite_entry a[5] = {M(1, 1, "[[1,2,3]]"), B(1, 2), M(1, 3, "[[7,8,9]]"), B(1, 4),
                         M(1, 5, "[[10,11]]")};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 5));
  ASSERT_OK(applyBatch(F->store, a, 2));
  membership(f, 1, 5, "[[10,11]]");
  ASSERT_OK(applyBatch(F->store, a + 2, 2));
  membership(f, 1, 5, "[[10,11]]");
  ASSERT_OK(raftlite_delete_conflict_logs_since(F->store, L(1, 5)));
  membership(f, 1, 3, "[[7,8,9]]");
}

/* The last membership is found far back in the log, then superseded
** (last_membership_in_log_multi_step). */
TEST(membership, multiStep) {
  raftlite_entry a[2] = {M(1, 1, "[[1,2,3]]"), M(1, 2, "[[3,4,5]]")};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 2));
  ASSERT_OK(appendBlanks(F->store, 1, 3, 99));
  membership(f, 1, 2, "[[3,4,5]]");
  raftlite_entry m = M(1, 100, "[[5,6,7]]");
  ASSERT_OK(raftlite_append_to_log(F->store, &m, 1));
  membership(f, 1, 100, "[[5,6,7]]");
}

/* A membership appended right after last_applied on an empty log is the
** membership, and that append purges up to last_applied. */
TEST(membership, appendedAfterApplied) {
  raftlite_entry a[2] = {B(1, 1), M(1, 2, "[[3,4,5]]")};
  ASSERT_OK(applyBatch(F->store, a, 2));
  raftlite_entry m = M(1, 3, "[[7,8,9]]");
  ASSERT_OK(raftlite_append_to_log(F->store, &m, 1));
  membership(f, 1, 3, "[[7,8,9]]");
  logState(f, 1, 1, 2, 1, 1, 3);
}

/******************************************************************************
 * get_initial_state
 *****************************************************************************/

/* A fresh store has no log, nothing applied, no membership, no hard state. */
TEST(initialState, withoutInit) {
  INITIAL(ls, as, hs, bHs);
  ASSERT(ls.has_last_log == 0 && ls.has_last_purged == 0);
  ASSERT(as.has_applied == 0 && as.has_membership == 0 && as.membership_json == NULL);
  ASSERT_INT(bHs, 0);
  ASSERT_INT(hs.current_term, 0);
}

/* The log may end above last_applied; both are reported with the vote. */
TEST(initialState, withState) {
  raftlite_hard_state vote = {1, 1, 0};
  ASSERT_OK(raftlite_save_hard_state(F->store, &vote));
  raftlite_entry e = B(3, 2);
  ASSERT_OK(raftlite_append_to_log(F->store, &e, 1));
  ASSERT_OK(applyBlanks(F->store, 3, 1, 1));
  INITIAL(ls, as, hs, bHs);
  ASSERT_ID(as.last_applied, 3, 1);
  raftlite_applied_state_free(&as);
  ASSERT_ID(ls.last_log_id, 3, 2);
  ASSERT_INT(bHs, 1);
  ASSERT(hs.current_term == 1 && hs.has_vote == 1 && hs.voted_for == 0);
}

/* The initial membership is the applied one until the log holds a later one. */
TEST(initialState, membershipFromLogAndSm) {
  raftlite_entry a[2] = {B(1, 1), M(1, 2, "[[3,4,5]]")};
  ASSERT_OK(applyBatch(F->store, a, 2));
  {
    INITIAL(ls, as, hs, bHs);
    ASSERT_ID(as.membership_log_id, 1, 2);
    ASSERT_STR(as.membership_json, "[[3,4,5]]");
    raftlite_applied_state_free(&as);
  }
  raftlite_entry m = M(1, 3, "[[1,2,3]]");
  ASSERT_OK(raftlite_append_to_log(F->store, &m, 1));
  INITIAL(ls, as, hs, bHs);
  ASSERT_ID(as.last_applied, 1, 2);
  ASSERT_ID(as.membership_log_id, 1, 3);
  ASSERT_STR(as.membership_json, "[[1,2,3]]");
  raftlite_applied_state_free(&as);
}

/* openraft's last_log_gt_sm applies 1-1 over a log holding 2-1: refused. */
TEST(initialState, lastLogGtSmIsRefused) {
  raftlite_entry e = B(2, 1);
  ASSERT_OK(raftlite_append_to_log(F->store, &e, 1));
  ASSERT_REFUSED(applyBlanks(F->store, 1, 1, 2), SQLITE_CONSTRAINT, RAFTLITE_LOG_ID_MISMATCH);
  msgHas(f, "2-1", "1-1");
  logState(f, 0, 0, 0, 1, 2, 1);
}

/* openraft's last_log_lt_sm applies 3-1 under a log holding 1-2: DirtyLog. */
TEST(initialState, lastLogLtSmIsDirty) {
  raftlite_entry e = B(1, 2);
  ASSERT_OK(raftlite_append_to_log(F->store, &e, 1));
  ASSERT_REFUSED(applyBlanks(F->store, 3, 1, 1), SQLITE_CONSTRAINT, RAFTLITE_DIRTY_LOG);
  msgHas(f, "3-1", "1-2");
}

/* A log ending below last_applied is purged up to it: the last log id is
** last_applied and the next append follows it. */
TEST(initialState, purgesLogBelowApplied) {
  ASSERT_OK(appendBlanks(F->store, 1, 1, 2));
  ASSERT_OK(applyBlanks(F->store, 1, 1, 3));
  INITIAL(ls, as, hs, bHs);
  raftlite_applied_state_free(&as);
  ASSERT_ID(ls.last_log_id, 1, 3);
  ASSERT_INT(ls.has_last_purged, 1);
  ASSERT_ID(ls.last_purged_log_id, 1, 3);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raftlite_log"), 0);
  raftlite_entry next = B(1, 4);
  ASSERT_OK(raftlite_append_to_log(F->store, &next, 1));
}

/******************************************************************************
 * Hard state
 *****************************************************************************/

/* Ascending saves succeed (node 0 is a node, the same state may be saved
** again) and the last one reads back. */
TEST(hardState, saveAscending) {
  raftlite_hard_state seq[5] = {{1, 0, 0}, {1, 1, 2}, {2, 0, 0}, {100, 1, 0}, {100, 1, 0}};
  for (int i = 0; i < 5; i++) ASSERT_OK(raftlite_save_hard_state(F->store, &seq[i]));
  raftlite_hard_state got;
  int found = 0;
  ASSERT_OK(raftlite_read_hard_state(F->store, &got, &found));
  ASSERT(found == 1 && got.current_term == 100 && got.has_vote == 1 && got.voted_for == 0);
}

/* defensive: a lower term, another vote or no vote in the same term is
** refused, and the stored hard state stays. */
TEST(defensive, saveHardStateAscending) {
  raftlite_hard_state hs = {10, 1, 10};
  ASSERT_OK(raftlite_save_hard_state(F->store, &hs));
  raftlite_hard_state lower = {9, 1, 10}, other = {10, 1, 9}, cleared = {10, 0, 0};
  ASSERT_REFUSED(raftlite_save_hard_state(F->store, &lower), SQLITE_CONSTRAINT,
                 RAFTLITE_TERM_NOT_ASCENDING);
  msgHas(f, "10", "9");
  ASSERT_REFUSED(raftlite_save_hard_state(F->store, &other), SQLITE_CONSTRAINT,
                 RAFTLITE_VOTED_FOR_CHANGED);
  msgHas(f, "10", "9");
  ASSERT_REFUSED(raftlite_save_hard_state(F->store, &cleared), SQLITE_CONSTRAINT,
                 RAFTLITE_VOTED_FOR_CHANGED);
  raftlite_hard_state got;
  int found;
  ASSERT_OK(raftlite_read_hard_state(F->store, &got, &found));
  ASSERT(got.current_term == 10 && got.voted_for == 10);
}

/******************************************************************************
 * Log reads
 *****************************************************************************/

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
  ASSERT_OK(applyBlanks(F->store, 0, 0, 0));
  ASSERT_OK(raftlite_purge_logs_upto(F->store, L(0, 0)));
  static const uint64_t aRange[5][3] = {{3, 4, 1}, {0, 1, 0}, {11, 12, 0}, {0, 2, 1}, {10, 12, 1}};
  for (int i = 0; i < 5; i++) {
    raftlite_entries got;
    ASSERT_OK(raftlite_try_get_log_entries(F->store, aRange[i][0], aRange[i][1], &got));
    ASSERT_INT(got.n, aRange[i][2]);
    if (got.n) ASSERT_ID(got.a[0].log_id, 1, aRange[i][0] ? aRange[i][0] : 1);
    raftlite_entries_free(&got);
  }
}

/* A fresh store holds no entry 0 and get_log_id leaves its output empty. */
TEST(log, initialLogs) {
  raftlite_entries got;
  ASSERT_OK(raftlite_try_get_log_entries(F->store, 0, 1, &got));
  ASSERT_INT(got.n, 0);
  raftlite_log_id id = {7, 7};
  ASSERT_INT(raftlite_get_log_id(F->store, 0, &id), SQLITE_NOTFOUND);
  ASSERT_ID(id, 0, 0);
}

/* The log state through appends, a partial purge, a full purge and a purge
** past the end; last_log_id ignores a last_applied above the log
** (get_log_state, last_id_in_log). */
TEST(log, getLogState) {
  logState(f, 0, 0, 0, 0, 0, 0);
  raftlite_entry a[3] = {B(0, 0), B(1, 1), B(1, 2)};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 3));
  logState(f, 0, 0, 0, 1, 1, 2);
  ASSERT_OK(applyBatch(F->store, a, 3));
  ASSERT_OK(applyBlanks(F->store, 2, 3, 3));
  logState(f, 0, 0, 0, 1, 1, 2);
  ASSERT_OK(raftlite_purge_logs_upto(F->store, L(0, 0)));
  logState(f, 1, 0, 0, 1, 1, 2);
  ASSERT_OK(raftlite_purge_logs_upto(F->store, L(1, 2)));
  logState(f, 1, 1, 2, 1, 1, 2);
  ASSERT_OK(raftlite_purge_logs_upto(F->store, L(2, 3)));
  logState(f, 1, 2, 3, 1, 2, 3);
}

/* get_log_id gives present entries and LogIndexNotFound for absent ones,
** the last purged index included (SPEC "absent"; openraft returns
** last_purged there). */
TEST(log, getLogId) {
  ASSERT_OK(feed10(F->store));
  ASSERT_OK(applyBlanks(F->store, 0, 0, 0));
  ASSERT_OK(applyBlanks(F->store, 1, 1, 3));
  ASSERT_OK(raftlite_purge_logs_upto(F->store, L(1, 3)));
  raftlite_log_id id;
  ASSERT_INT(raftlite_get_log_id(F->store, 0, &id), SQLITE_NOTFOUND);
  ASSERT_INT(raftlite_violation(F->store), RAFTLITE_LOG_INDEX_NOT_FOUND);
  ASSERT_INT(raftlite_get_log_id(F->store, 11, &id), SQLITE_NOTFOUND);
  msgHas(f, "11", NULL);
  ASSERT_INT(raftlite_get_log_id(F->store, 3, &id), SQLITE_NOTFOUND);
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
    ASSERT_OK(applyBatch(F->store, &a[i], 1));
    ASSERT_OK(raftlite_last_applied_state(F->store, &as));
    ASSERT_ID(as.last_applied, 1, 3 + (uint64_t)i);
    ASSERT_ID(as.membership_log_id, 1, 3);
    ASSERT_STR(as.membership_json, "[[1,2]]");
    raftlite_applied_state_free(&as);
  }
}

/******************************************************************************
 * Purge, delete, append
 *****************************************************************************/

/* Purging feed10's log up to 0-0, 1-5 and 1-20 (past the end) leaves 10, 5
** and 0 entries (purge_logs_upto_0/5/20). */
TEST(purge, upto0and5and20) {
  static const uint64_t aUpto[3] = {0, 5, 20};
  for (int k = 0; k < 3; k++) {
    if (k > 0) fixtureClose(F), fixtureOpen(F, 1);
    ASSERT_OK(feed10(F->store));
    ASSERT_OK(applyBlanks(F->store, 0, 0, 0));
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

/* Deleting since 11 removes nothing; since 0, everything and no log id is
** left (delete_logs_since_11, delete_logs_since_0). */
TEST(deleteLogs, since11and0) {
  ASSERT_OK(feed10(F->store));
  ASSERT_OK(raftlite_delete_conflict_logs_since(F->store, L(1, 11)));
  logState(f, 0, 0, 0, 1, 1, 10);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raftlite_log"), 11);
  ASSERT_OK(raftlite_delete_conflict_logs_since(F->store, L(0, 0)));
  logState(f, 0, 0, 0, 0, 0, 0);
}

/* openraft overwrites 1-10 by appending 2-10; raftlite needs the conflict
** deleted first, then the append gives ten entries ending at 2-10. */
TEST(append, appendToLog) {
  ASSERT_OK(feed10(F->store));
  ASSERT_OK(applyBlanks(F->store, 0, 0, 0));
  ASSERT_OK(raftlite_purge_logs_upto(F->store, L(0, 0)));
  raftlite_entry e = B(2, 10);
  ASSERT_REFUSED(raftlite_append_to_log(F->store, &e, 1), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_NON_CONSECUTIVE);
  ASSERT_OK(raftlite_delete_conflict_logs_since(F->store, L(1, 10)));
  ASSERT_OK(raftlite_append_to_log(F->store, &e, 1));
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
  raftlite_entry skip = B(1, 6), gap[2] = {B(1, 5), B(1, 7)}, bad = M(1, 5, "[]");
  ASSERT_REFUSED(raftlite_append_to_log(F->store, &skip, 1), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_NON_CONSECUTIVE);
  msgHas(f, "1-4", "1-6");
  ASSERT_REFUSED(raftlite_append_to_log(F->store, gap, 2), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_NON_CONSECUTIVE);
  ASSERT_REFUSED(raftlite_append_to_log(F->store, &bad, 1), SQLITE_CONSTRAINT,
                 RAFTLITE_INVALID_MEMBERSHIP);
  ASSERT_OK(raftlite_append_to_log(F->store, gap, 1));
  logState(f, 1, 1, 4, 1, 1, 5);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raftlite_log"), 1);
}

/* defensive: an empty batch is LogsEmpty, and the next success resets the
** kind. */
TEST(defensive, appendNonemptyInput) {
  ASSERT_REFUSED(raftlite_append_to_log(F->store, NULL, 0), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_EMPTY);
  logState(f, 0, 0, 0, 0, 0, 0);
  ASSERT_INT(raftlite_violation(F->store), RAFTLITE_NO_VIOLATION);
}

/* defensive: a batch with a gap is LogsNonConsecutive. */
TEST(defensive, appendNonconsecutiveInput) {
  raftlite_entry a[2] = {B(1, 1), B(1, 3)};
  ASSERT_REFUSED(raftlite_append_to_log(F->store, a, 2), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_NON_CONSECUTIVE);
  msgHas(f, "1-1", "1-3");
}

/* defensive: the first entry must have index last log index + 1. */
TEST(defensive, appendEqLastPlusOne) {
  raftlite_entry a[3] = {B(0, 0), B(1, 1), B(1, 2)}, e = B(3, 4);
  ASSERT_OK(raftlite_append_to_log(F->store, a, 3));
  ASSERT_OK(applyBatch(F->store, a, 2));
  ASSERT_REFUSED(raftlite_append_to_log(F->store, &e, 1), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_NON_CONSECUTIVE);
  msgHas(f, "1-2", "3-4");
}

/* defensive: with the whole log applied, the first entry is last_applied + 1. */
TEST(defensive, appendEqLastAppliedPlusOne) {
  raftlite_entry a[3] = {B(0, 0), B(1, 1), B(1, 2)}, e = B(1, 4);
  ASSERT_OK(raftlite_append_to_log(F->store, a, 3));
  ASSERT_OK(applyBatch(F->store, a, 3));
  ASSERT_REFUSED(raftlite_append_to_log(F->store, &e, 1), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_NON_CONSECUTIVE);
  msgHas(f, "1-2", "1-4");
}

/* defensive: index last + 1 with a term below the last entry's is refused. */
TEST(defensive, appendGtLastLogId) {
  raftlite_entry a[3] = {B(0, 0), B(2, 1), B(2, 2)}, e = B(1, 3);
  ASSERT_OK(raftlite_append_to_log(F->store, a, 3));
  ASSERT_REFUSED(raftlite_append_to_log(F->store, &e, 1), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_NON_CONSECUTIVE);
  msgHas(f, "2-2", "1-3");
}

/* defensive: a term below last_applied's is refused after a full purge and
** with the log ending below last_applied. */
TEST(defensive, appendGtLastAppliedId) {
  raftlite_entry a[3] = {B(0, 0), B(2, 1), B(2, 2)}, e = B(1, 3), e2 = B(1, 4);
  ASSERT_OK(raftlite_append_to_log(F->store, a, 3));
  ASSERT_OK(applyBatch(F->store, a, 3));
  ASSERT_OK(raftlite_purge_logs_upto(F->store, L(2, 2)));
  ASSERT_REFUSED(raftlite_append_to_log(F->store, &e, 1), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_NON_CONSECUTIVE);
  msgHas(f, "2-2", "1-3");
  ASSERT_OK(applyBlanks(F->store, 2, 3, 3));
  ASSERT_REFUSED(raftlite_append_to_log(F->store, &e2, 1), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_NON_CONSECUTIVE);
  msgHas(f, "2-3", "1-4");
}

/* defensive: purging above last_applied, or with nothing applied, is
** PurgeNonApplied. */
TEST(defensive, purgeAppliedLeLastApplied) {
  ASSERT_REFUSED(raftlite_purge_logs_upto(F->store, L(0, 0)), SQLITE_CONSTRAINT,
                 RAFTLITE_PURGE_NON_APPLIED);
  raftlite_entry a[2] = {B(0, 0), B(3, 1)};
  ASSERT_OK(applyBatch(F->store, a, 2));
  ASSERT_REFUSED(raftlite_purge_logs_upto(F->store, L(5, 2)), SQLITE_CONSTRAINT,
                 RAFTLITE_PURGE_NON_APPLIED);
  msgHas(f, "3-1", "5-2");
}

/* defensive: a purge id contradicting a present entry, or past the last
** entry but below it, is LogIdMismatch. */
TEST(defensive, purgeLogIdMismatch) {
  raftlite_entry a[3] = {B(0, 0), B(2, 1), B(2, 2)};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 3));
  ASSERT_OK(applyBatch(F->store, a, 3));
  ASSERT_OK(applyBlanks(F->store, 2, 3, 5));
  ASSERT_REFUSED(raftlite_purge_logs_upto(F->store, L(1, 2)), SQLITE_CONSTRAINT,
                 RAFTLITE_LOG_ID_MISMATCH);
  msgHas(f, "2-2", "1-2");
  ASSERT_REFUSED(raftlite_purge_logs_upto(F->store, L(1, 4)), SQLITE_CONSTRAINT,
                 RAFTLITE_LOG_ID_MISMATCH);
  msgHas(f, "2-2", "1-4");
  ASSERT_OK(raftlite_purge_logs_upto(F->store, L(2, 4)));
  logState(f, 1, 2, 4, 1, 2, 4);
}

/* defensive: deleting at or below last_applied is AppliedWontConflict. */
TEST(defensive, deleteConflictGtLastApplied) {
  raftlite_entry a[2] = {B(0, 0), B(3, 1)};
  ASSERT_OK(applyBatch(F->store, a, 2));
  ASSERT_REFUSED(raftlite_delete_conflict_logs_since(F->store, L(5, 1)), SQLITE_CONSTRAINT,
                 RAFTLITE_APPLIED_WONT_CONFLICT);
  msgHas(f, "3-1", NULL);
  ASSERT_REFUSED(raftlite_delete_conflict_logs_since(F->store, L(5, 0)), SQLITE_CONSTRAINT,
                 RAFTLITE_APPLIED_WONT_CONFLICT);
}

/******************************************************************************
 * Apply
 *****************************************************************************/

static int nApplied; /* apply callbacks run, to catch a double application */

/* A key-value state machine in the store's database: "k=v" sets k. */
static int kvApply(void *ctx, sqlite3 *db, const raftlite_entry *e, raftlite_response *out) {
  (void)ctx;
  int n = (int)e->size;
  const char *z = e->data;
  char *zSql = sqlite3_mprintf("INSERT OR REPLACE INTO kv VALUES (substr(%.*Q, 1, instr(%.*Q,"
                               " '=') - 1), substr(%.*Q, instr(%.*Q, '=') + 1))",
                               n, z, n, z, n, z, n, z);
  int rc = sqlite3_exec(db, zSql, NULL, NULL, NULL);
  sqlite3_free(zSql);
  if (rc == SQLITE_OK && out) {
    nApplied++;
    out->data = sqlite3_mprintf("ok %llu", (unsigned long long)e->log_id.index);
    out->size = strlen(out->data);
  }
  return rc;
}

/* Snapshot: the rows as "k=v\n" lines; restore reads them back. */
static int kvSnapshot(void *ctx, sqlite3 *db, raftlite_snapshot *w) {
  (void)ctx;
  sqlite3_stmt *pStmt = NULL;
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
  char buf[4096];
  size_t n = 0, got = 1;
  int rc = sqlite3_exec(db, "DELETE FROM kv", NULL, NULL, NULL);
  while (rc == SQLITE_OK && got > 0) {
    rc = raftlite_snapshot_read(r, buf + n, sizeof(buf) - n, &got);
    n += got;
  }
  for (size_t i = 0, start = 0; rc == SQLITE_OK && i < n; i++) {
    if (buf[i] != '\n') continue;
    raftlite_entry e = N(0, 0, NULL);
    e.data = buf + start;
    e.size = i - start;
    rc = kvApply(ctx, db, &e, NULL);
    start = i + 1;
  }
  return rc;
}

static void useKv(Fixture *f) {
  sqlite3_exec(f->db, "CREATE TABLE IF NOT EXISTS kv(k TEXT PRIMARY KEY, v TEXT)", 0, 0, 0);
  raftlite_state_machine sm = {NULL, kvApply, kvSnapshot, kvRestore};
  raftlite_set_state_machine(f->store, &sm);
  nApplied = 0;
}

/* One normal entry reaches the state machine and moves last_applied. */
TEST(apply, single) {
  useKv(F);
  raftlite_entry e = N(3, 1, "status=lit");
  ASSERT_OK(raftlite_append_to_log(F->store, &e, 1));
  raftlite_responses r;
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, &e, 1, &r));
  ASSERT(r.n == 1 && r.a[0].size == 4 && memcmp(r.a[0].data, "ok 1", 4) == 0);
  raftlite_responses_free(&r);
  raftlite_applied_state as;
  ASSERT_OK(raftlite_last_applied_state(F->store, &as));
  ASSERT_ID(as.last_applied, 3, 1);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM kv WHERE k='status' AND v='lit'"), 1);
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
  ASSERT_REFUSED(raftlite_apply_to_state_machine(F->store, NULL, 0, &r), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_EMPTY);
  ASSERT(r.a == NULL && r.n == 0);
}

/* defensive: re-applying the last applied entry, alone or leading a batch,
** or skipping an index, is ApplyNonConsecutive and never reaches the state
** machine twice. */
TEST(defensive, applyIndexEqLastAppliedPlusOne) {
  useKv(F);
  raftlite_entry a[3] = {B(0, 0), N(3, 1, "a=1"), N(3, 2, "b=2")}, skip = B(3, 3);
  ASSERT_OK(applyBatch(F->store, a, 2));
  ASSERT_REFUSED(applyBatch(F->store, &a[1], 1), SQLITE_CONSTRAINT,
                 RAFTLITE_APPLY_NON_CONSECUTIVE);
  msgHas(f, "3-1", NULL);
  ASSERT_REFUSED(applyBatch(F->store, &a[1], 2), SQLITE_CONSTRAINT,
                 RAFTLITE_APPLY_NON_CONSECUTIVE);
  ASSERT_REFUSED(applyBatch(F->store, &skip, 1), SQLITE_CONSTRAINT,
                 RAFTLITE_APPLY_NON_CONSECUTIVE);
  msgHas(f, "3-1", "3-3");
  ASSERT_INT(nApplied, 1);
}

/* defensive: the next index with a lower term is ApplyNonConsecutive. */
TEST(defensive, applyGtLastAppliedId) {
  raftlite_entry a[2] = {B(0, 0), B(3, 1)}, e = B(2, 2);
  ASSERT_OK(applyBatch(F->store, a, 2));
  ASSERT_REFUSED(applyBatch(F->store, &e, 1), SQLITE_CONSTRAINT, RAFTLITE_APPLY_NON_CONSECUTIVE);
  msgHas(f, "3-1", "2-2");
}

/* defensive (df_get_membership_config_dirty_log, df_get_initial_state_dirty
** _log): applying 2-1, 2-2 over a term-1 log is refused, so reads stay clean. */
TEST(defensive, dirtyLogIsNeverStored) {
  raftlite_entry log[4] = {B(0, 0), B(1, 1), B(1, 2), M(1, 3, "[[1,2,3]]")};
  ASSERT_OK(raftlite_append_to_log(F->store, log, 4));
  raftlite_entry a[3] = {B(0, 0), B(2, 1), M(2, 2, "[[3,4,5]]")};
  char *zBefore = dumpStore(F->db);
  ASSERT_INT(applyBatch(F->store, a, 3), SQLITE_CONSTRAINT);
  char *zAfter = dumpStore(F->db);
  int bSame = strcmp(zBefore, zAfter) == 0;
  sqlite3_free(zBefore);
  sqlite3_free(zAfter);
  ASSERT(bSame);
  /* One input, two rules broken: either kind (SPEC §2). */
  ASSERT(raftlite_violation(F->store) == RAFTLITE_LOG_ID_MISMATCH ||
         raftlite_violation(F->store) == RAFTLITE_DIRTY_LOG);
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
  raftlite_entry a[2] = {B(2, 3), B(2, 4)};
  ASSERT_REFUSED(applyBatch(F->store, a, 2), SQLITE_CONSTRAINT, RAFTLITE_DIRTY_LOG);
  msgHas(f, "1-5", NULL);
}

/******************************************************************************
 * Snapshots
 *****************************************************************************/

/* No current snapshot at first, and build refuses with nothing applied,
** leaving the out-parameters empty. */
TEST(snapshot, initialAndNothingApplied) {
  raftlite_snapshot_meta meta;
  raftlite_snapshot *s = (raftlite_snapshot *)8;
  memset(&meta, 0x5a, sizeof(meta));
  ASSERT_OK(raftlite_get_current_snapshot(F->store, &meta, &s));
  ASSERT(s == NULL && meta.membership_json == NULL);
  memset(&meta, 0x5a, sizeof(meta));
  s = (raftlite_snapshot *)8;
  ASSERT_REFUSED(raftlite_build_snapshot(F->store, &meta, &s), SQLITE_CONSTRAINT,
                 RAFTLITE_NOTHING_APPLIED);
  ASSERT(s == NULL && meta.membership_json == NULL && meta.has_membership == 0);
}

/* The meta is last_applied with the membership in force, also when entries
** were applied after it, and get_current_snapshot gives it back
** (snapshot_meta). */
TEST(snapshot, meta) {
  useKv(F);
  raftlite_entry a[3] = {M(1, 1, "[[1,2,3]]"), N(1, 2, "a=1"), B(2, 3)};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 3));
  ASSERT_OK(applyBatch(F->store, a, 3));
  raftlite_snapshot_meta meta, cur;
  raftlite_snapshot *s = NULL;
  ASSERT_OK(raftlite_build_snapshot(F->store, &meta, &s));
  raftlite_snapshot_close(s);
  ASSERT_ID(meta.last_log_id, 2, 3);
  ASSERT_ID(meta.membership_log_id, 1, 1);
  ASSERT_STR(meta.membership_json, "[[1,2,3]]");
  ASSERT_OK(raftlite_get_current_snapshot(F->store, &cur, &s));
  ASSERT(s != NULL);
  raftlite_snapshot_close(s);
  ASSERT_STR(cur.snapshot_id, meta.snapshot_id);
  ASSERT_ID(cur.last_log_id, 2, 3);
  ASSERT_STR(cur.membership_json, "[[1,2,3]]");
  raftlite_snapshot_meta_free(&cur);
  raftlite_snapshot_meta_free(&meta);
}

/* Receives zBytes into a new stream and installs it under *pMeta. */
static int installBytes(raftlite *store, const raftlite_snapshot_meta *pMeta,
                        const char *zBytes, raftlite_sm_changes *pOut) {
  raftlite_snapshot *s = NULL;
  int rc = raftlite_begin_receiving_snapshot(store, &s);
  if (rc == SQLITE_OK) rc = raftlite_snapshot_write(s, zBytes, strlen(zBytes));
  if (rc != SQLITE_OK) {
    raftlite_snapshot_close(s);
    return rc;
  }
  return raftlite_install_snapshot(store, pMeta, s, pOut);
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
  raftlite_entry a[2] = {N(1, 1, "a=1"), N(1, 2, "b=2")};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 2));
  ASSERT_OK(applyBatch(F->store, a, 2));
  raftlite_snapshot_meta meta = metaAt(1, 2, "same");
  raftlite_sm_changes ch;
  ASSERT_OK(installBytes(F->store, &meta, "a=1\nb=2\n", &ch));
  ASSERT(ch.is_snapshot == 1 && ch.has_last_applied == 1);
  ASSERT_ID(ch.last_applied, 1, 2);
  logState(f, 1, 1, 2, 1, 1, 2);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM kv"), 2);
}

/* Staleness compares log ids: 2-7 is below 3-5 although its index is
** higher, and the refusal leaves the store and *out empty. */
TEST(snapshot, installStaleByTerm) {
  useKv(F);
  ASSERT_OK(applyBlanks(F->store, 3, 1, 5));
  raftlite_snapshot_meta meta = metaAt(2, 7, "stale");
  raftlite_sm_changes ch;
  memset(&ch, 0x5a, sizeof(ch));
  char *zBefore = dumpStore(F->db);
  ASSERT_INT(installBytes(F->store, &meta, "a=1\n", &ch), SQLITE_CONSTRAINT);
  char *zAfter = dumpStore(F->db);
  int bSame = strcmp(zBefore, zAfter) == 0;
  sqlite3_free(zBefore);
  sqlite3_free(zAfter);
  ASSERT(bSame);
  ASSERT_INT(raftlite_violation(F->store), RAFTLITE_SNAPSHOT_STALE);
  msgHas(f, "3-5", "2-7");
  ASSERT(ch.has_last_applied == 0 && ch.is_snapshot == 0);
}

/* A snapshot with a higher term but a lower index than last_applied is not
** stale (log ids compare by term first), so it installs and the log
** follows it. */
TEST(snapshot, installHigherTermLowerIndex) {
  useKv(F);
  ASSERT_OK(appendBlanks(F->store, 1, 1, 5));
  ASSERT_OK(applyBlanks(F->store, 1, 1, 5));
  raftlite_snapshot_meta meta = metaAt(2, 3, "t2");
  raftlite_sm_changes ch;
  ASSERT_OK(installBytes(F->store, &meta, "x=9\n", &ch));
  logState(f, 1, 2, 3, 1, 2, 3);
  raftlite_entry next = B(2, 4);
  ASSERT_OK(raftlite_append_to_log(F->store, &next, 1));
}

/* A snapshot built on one store and installed on another gives the same
** meta, state-machine content and initial state there (transfer_snapshot). */
TEST(snapshot, transfer) {
  useKv(F);
  raftlite_entry a[3] = {M(1, 1, "[[1,2]]"), N(1, 2, "a=1"), N(2, 3, "b=2")};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 3));
  ASSERT_OK(applyBatch(F->store, a, 3));
  raftlite_snapshot_meta meta;
  raftlite_snapshot *s = NULL;
  ASSERT_OK(raftlite_build_snapshot(F->store, &meta, &s));
  char buf[256];
  size_t n = 0;
  ASSERT_OK(raftlite_snapshot_read(s, buf, sizeof(buf) - 1, &n));
  buf[n] = 0;
  raftlite_snapshot_close(s);
  raftlite_snapshot_meta_free(&meta); /* the meta is read back below */
  ASSERT_OK(raftlite_get_current_snapshot(F->store, &meta, &s));
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
  raftlite_log_state ls;
  raftlite_applied_state as;
  raftlite_hard_state hs;
  int bHs = 0;
  if (rc == SQLITE_OK) rc = raftlite_get_initial_state(other.store, &ls, &as, &hs, &bHs);
  long long nKv = queryInt(other.db, "SELECT count(*) FROM kv");
  fixtureClose(&other);
  remove(other.zPath);
  raftlite_snapshot_meta_free(&meta);
  ASSERT_INT(rc, SQLITE_OK);
  ASSERT_STR(cur.snapshot_id, meta.snapshot_id);
  raftlite_snapshot_meta_free(&cur);
  ASSERT_ID(ls.last_log_id, 2, 3);
  ASSERT_ID(ls.last_purged_log_id, 2, 3);
  ASSERT_ID(as.last_applied, 2, 3);
  ASSERT_STR(as.membership_json, "[[1,2]]");
  raftlite_applied_state_free(&as);
  ASSERT_INT(nKv, 2);
}

RUN_TESTS(setUp, tearDown)
