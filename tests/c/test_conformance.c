/*
** test_conformance.c — openraft's storage conformance suite (testing/suite.rs,
** early-2022 RaftStorage shape) rewritten for the C API, always defensive
** (SPEC §2): where openraft lets a rule-breaking write through and a later
** read complain, raftlite refuses the write and the store stays as it was.
*/
#include "fixture.h"

#define F ((Fixture *)f)

static raftlite_entry B(uint64_t term, uint64_t index) {
  return entry(term, index, RAFTLITE_BLANK, NULL);
}
static raftlite_entry M(uint64_t term, uint64_t index, const char *zJson) {
  return entry(term, index, RAFTLITE_MEMBERSHIP, zJson);
}

/* Applies blank entries lo..hi of one term in one batch. */
static int applyBlanks(raftlite *store, uint64_t term, uint64_t lo, uint64_t hi) {
  raftlite_entry a[32];
  size_t n = 0;
  for (uint64_t i = lo; i <= hi && n < 32; i++) a[n++] = B(term, i);
  raftlite_responses r;
  int rc = raftlite_apply_to_state_machine(store, a, n, &r);
  if (rc == SQLITE_OK) raftlite_responses_free(&r);
  return rc;
}

static int applyBatch(raftlite *store, const raftlite_entry *a, size_t n) {
  raftlite_responses r;
  int rc = raftlite_apply_to_state_machine(store, a, n, &r);
  if (rc == SQLITE_OK) raftlite_responses_free(&r);
  return rc;
}

/* openraft's feed_10_logs_vote_self: 0-0, then 1-1..1-10 one by one, and a
** vote for node 0 in term 1. */
static int feed10(raftlite *store) {
  int rc = appendBlanks(store, 0, 0, 0);
  if (rc == SQLITE_OK) rc = appendBlanks(store, 1, 1, 10);
  raftlite_hard_state hs = {1, 1, 0};
  if (rc == SQLITE_OK) rc = raftlite_save_hard_state(store, &hs);
  return rc;
}

#define ASSERT_ID(id, t, i)                                                \
  do {                                                                     \
    ASSERT_INT((id).term, t);                                              \
    ASSERT_INT((id).index, i);                                             \
  } while (0)

/* The log state: hp/pt/pi last_purged, hl/lt/li last_log_id. */
#define ASSERT_LOG_STATE(hp, pt, pi, hl, lt, li)                           \
  do {                                                                     \
    raftlite_log_state ls_;                                                \
    ASSERT_OK(raftlite_get_log_state(F->store, &ls_));                     \
    ASSERT_INT(ls_.has_last_purged, hp);                                   \
    if (hp) ASSERT_ID(ls_.last_purged_log_id, pt, pi);                     \
    ASSERT_INT(ls_.has_last_log, hl);                                      \
    if (hl) ASSERT_ID(ls_.last_log_id, lt, li);                            \
  } while (0)

/* get_membership() is (t, i, json), or none when t is 0 and json NULL. */
#define ASSERT_MEMBERSHIP(t, i, zJson)                                     \
  do {                                                                     \
    raftlite_applied_state m_;                                             \
    ASSERT_OK(raftlite_get_membership(F->store, &m_));                     \
    const char *zWant_ = (zJson);                                          \
    int has_ = m_.has_membership;                                          \
    raftlite_log_id id_ = m_.membership_log_id;                            \
    char zGot_[64];                                                        \
    snprintf(zGot_, sizeof(zGot_), "%s", m_.membership_json ? m_.membership_json : "(null)"); \
    raftlite_applied_state_free(&m_);                                      \
    ASSERT_INT(has_, zWant_ != NULL);                                      \
    if (zWant_) {                                                          \
      ASSERT_ID(id_, t, i);                                                \
      ASSERT_STR(zGot_, zWant_);                                           \
    }                                                                      \
  } while (0)

/* The error message names the ids involved. */
#define ASSERT_MSG_HAS(z)                                                  \
  do {                                                                     \
    if (strstr(raftlite_errmsg(F->store), z) == NULL)                      \
      FAIL("message \"%s\" lacks \"%s\"", raftlite_errmsg(F->store), z);   \
  } while (0)

/* ASSERT_REFUSED when one input breaks two rules (SPEC §2: either kind). */
#define ASSERT_REFUSED2(call, wantRc, k1, k2)                              \
  do {                                                                     \
    char *zBefore_ = dumpStore(F->db);                                     \
    int rc_ = (call);                                                      \
    char *zAfter_ = dumpStore(F->db);                                      \
    int same_ = strcmp(zBefore_, zAfter_) == 0;                            \
    sqlite3_free(zBefore_);                                                \
    sqlite3_free(zAfter_);                                                 \
    raftlite_violation_kind k_ = raftlite_violation(F->store);             \
    if (rc_ != (wantRc)) FAIL("%s returned %d (%s)", #call, rc_, raftlite_errmsg(F->store)); \
    if (k_ != (k1) && k_ != (k2)) FAIL("%s: violation %d (%s)", #call, (int)k_, raftlite_errmsg(F->store)); \
    if (!same_) FAIL("%s changed the store", #call);                       \
  } while (0)

/******************************************************************************
 * get_membership
 *****************************************************************************/

/* A fresh store has no membership. */
TEST(membership, initial) {
  ASSERT_MEMBERSHIP(0, 0, NULL);
}

/* With an empty state machine the membership comes from the log. */
TEST(membership, fromLogAndEmptySm) {
  raftlite_entry m = M(1, 1, "[[1,2,3]]");
  ASSERT_OK(raftlite_append_to_log(F->store, &m, 1));
  ASSERT_MEMBERSHIP(1, 1, "[[1,2,3]]");
  raftlite_applied_state as;
  ASSERT_OK(raftlite_last_applied_state(F->store, &as));
  ASSERT_INT(as.has_applied, 0);
  ASSERT_INT(as.has_membership, 0);
  raftlite_applied_state_free(&as);
}

/* With an empty log the membership comes from the state machine. */
TEST(membership, fromEmptyLogAndSm) {
  raftlite_entry a[2] = {B(1, 1), M(1, 2, "[[3,4,5]]")};
  ASSERT_OK(applyBatch(F->store, a, 2));
  ASSERT_MEMBERSHIP(1, 2, "[[3,4,5]]");
}

/* openraft appends a membership at or below last_applied and expects the
** applied one to win; raftlite refuses that append. */
TEST(membership, logBelowAppliedIsRefused) {
  raftlite_entry a[4] = {B(1, 1), M(1, 2, "[[3,4,5]]"), B(1, 3), B(1, 4)};
  ASSERT_OK(applyBatch(F->store, a, 4));
  raftlite_entry late[3] = {B(1, 1), B(1, 2), M(1, 3, "[[1,2,3]]")};
  ASSERT_REFUSED(raftlite_append_to_log(F->store, late, 3), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_NON_CONSECUTIVE);
  ASSERT_MSG_HAS("1-4");
  ASSERT_MEMBERSHIP(1, 2, "[[3,4,5]]");
}

/* A membership entry above last_applied wins over the applied one; once
** truncated, the applied one is back. */
TEST(membership, fromLogAboveApplied) {
  raftlite_entry a[5] = {M(1, 1, "[[1,2,3]]"), B(1, 2), M(1, 3, "[[7,8,9]]"), B(1, 4),
                         M(1, 5, "[[10,11]]")};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 5));
  ASSERT_OK(applyBatch(F->store, a, 2));
  ASSERT_MEMBERSHIP(1, 5, "[[10,11]]");
  ASSERT_OK(applyBatch(F->store, a + 2, 2));
  ASSERT_MEMBERSHIP(1, 5, "[[10,11]]");
  raftlite_log_id at5 = {1, 5};
  ASSERT_OK(raftlite_delete_conflict_logs_since(F->store, at5));
  ASSERT_MEMBERSHIP(1, 3, "[[7,8,9]]");
}

/* The last membership is found far back, then a newer one supersedes it. */
TEST(membership, multiStep) {
  raftlite_entry a[2] = {M(1, 1, "[[1,2,3]]"), M(1, 2, "[[3,4,5]]")};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 2));
  ASSERT_OK(appendBlanks(F->store, 1, 3, 99));
  ASSERT_MEMBERSHIP(1, 2, "[[3,4,5]]");
  raftlite_entry m = M(1, 100, "[[5,6,7]]");
  ASSERT_OK(raftlite_append_to_log(F->store, &m, 1));
  ASSERT_MEMBERSHIP(1, 100, "[[5,6,7]]");
}

/* An append following last_applied on an empty log is the new membership,
** and the append purges up to last_applied. */
TEST(membership, appendedAfterApplied) {
  raftlite_entry a[2] = {B(1, 1), M(1, 2, "[[3,4,5]]")};
  ASSERT_OK(applyBatch(F->store, a, 2));
  raftlite_entry m = M(1, 3, "[[7,8,9]]");
  ASSERT_OK(raftlite_append_to_log(F->store, &m, 1));
  ASSERT_MEMBERSHIP(1, 3, "[[7,8,9]]");
  ASSERT_LOG_STATE(1, 1, 2, 1, 1, 3);
}

/******************************************************************************
 * get_initial_state
 *****************************************************************************/

/* A fresh store has no log, nothing applied, no membership, no hard state. */
TEST(initialState, withoutInit) {
  raftlite_log_state ls;
  raftlite_applied_state as;
  raftlite_hard_state hs;
  int bHs = 1;
  ASSERT_OK(raftlite_get_initial_state(F->store, &ls, &as, &hs, &bHs));
  ASSERT_INT(ls.has_last_log, 0);
  ASSERT_INT(ls.has_last_purged, 0);
  ASSERT_INT(as.has_applied, 0);
  ASSERT_INT(as.has_membership, 0);
  ASSERT(as.membership_json == NULL);
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
  raftlite_log_state ls;
  raftlite_applied_state as;
  raftlite_hard_state hs;
  int bHs;
  ASSERT_OK(raftlite_get_initial_state(F->store, &ls, &as, &hs, &bHs));
  ASSERT_ID(ls.last_log_id, 3, 2);
  ASSERT_INT(as.has_applied, 1);
  ASSERT_ID(as.last_applied, 3, 1);
  ASSERT_INT(bHs, 1);
  ASSERT_INT(hs.current_term, 1);
  ASSERT_INT(hs.has_vote, 1);
  ASSERT_INT(hs.voted_for, 0);
  raftlite_applied_state_free(&as);
}

/* The initial membership is the applied one, until the log has a later one. */
TEST(initialState, membershipFromLogAndSm) {
  raftlite_entry a[2] = {B(1, 1), M(1, 2, "[[3,4,5]]")};
  ASSERT_OK(applyBatch(F->store, a, 2));
  raftlite_log_state ls;
  raftlite_applied_state as;
  raftlite_hard_state hs;
  int bHs;
  ASSERT_OK(raftlite_get_initial_state(F->store, &ls, &as, &hs, &bHs));
  ASSERT_ID(as.membership_log_id, 1, 2);
  ASSERT_STR(as.membership_json, "[[3,4,5]]");
  raftlite_applied_state_free(&as);
  raftlite_entry m = M(1, 3, "[[1,2,3]]");
  ASSERT_OK(raftlite_append_to_log(F->store, &m, 1));
  ASSERT_OK(raftlite_get_initial_state(F->store, &ls, &as, &hs, &bHs));
  ASSERT_ID(as.membership_log_id, 1, 3);
  ASSERT_STR(as.membership_json, "[[1,2,3]]");
  ASSERT_ID(as.last_applied, 1, 2);
  raftlite_applied_state_free(&as);
}

/* openraft's last_log_gt_sm applies 1-1 over a log holding 2-1: refused. */
TEST(initialState, lastLogGtSmIsRefused) {
  raftlite_entry e = B(2, 1);
  ASSERT_OK(raftlite_append_to_log(F->store, &e, 1));
  ASSERT_REFUSED(applyBlanks(F->store, 1, 1, 2), SQLITE_CONSTRAINT, RAFTLITE_LOG_ID_MISMATCH);
  ASSERT_MSG_HAS("2-1");
  ASSERT_MSG_HAS("1-1");
  ASSERT_LOG_STATE(0, 0, 0, 1, 2, 1);
}

/* openraft's last_log_lt_sm applies 3-1 under a log holding 1-2: DirtyLog. */
TEST(initialState, lastLogLtSmIsDirty) {
  raftlite_entry e = B(1, 2);
  ASSERT_OK(raftlite_append_to_log(F->store, &e, 1));
  ASSERT_REFUSED(applyBlanks(F->store, 3, 1, 1), SQLITE_CONSTRAINT, RAFTLITE_DIRTY_LOG);
  ASSERT_MSG_HAS("3-1");
  ASSERT_MSG_HAS("1-2");
}

/* A log ending below last_applied is purged up to it, so the last log id is
** last_applied and the next append follows it. */
TEST(initialState, purgesLogBelowApplied) {
  ASSERT_OK(appendBlanks(F->store, 1, 1, 2));
  ASSERT_OK(applyBlanks(F->store, 1, 1, 3));
  raftlite_log_state ls;
  raftlite_applied_state as;
  raftlite_hard_state hs;
  int bHs;
  ASSERT_OK(raftlite_get_initial_state(F->store, &ls, &as, &hs, &bHs));
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

/* A saved hard state reads back, node 0 included. */
TEST(hardState, save) {
  raftlite_hard_state want = {100, 1, 0}, got;
  int found;
  ASSERT_OK(raftlite_save_hard_state(F->store, &want));
  ASSERT_OK(raftlite_read_hard_state(F->store, &got, &found));
  ASSERT_INT(found, 1);
  ASSERT_INT(got.current_term, 100);
  ASSERT_INT(got.has_vote, 1);
  ASSERT_INT(got.voted_for, 0);
}

/* Ascending saves succeed: a vote in a term, a new term, the same again. */
TEST(hardState, saveAscending) {
  raftlite_hard_state seq[5] = {{1, 0, 0}, {1, 1, 2}, {2, 0, 0}, {2, 1, 3}, {2, 1, 3}};
  for (int i = 0; i < 5; i++) ASSERT_OK(raftlite_save_hard_state(F->store, &seq[i]));
  raftlite_hard_state got;
  int found;
  ASSERT_OK(raftlite_read_hard_state(F->store, &got, &found));
  ASSERT_INT(got.current_term, 2);
  ASSERT_INT(got.voted_for, 3);
}

/* defensive: a lower term, or another vote in the same term, is refused. */
TEST(defensive, saveHardStateAscending) {
  raftlite_hard_state hs = {10, 1, 10};
  ASSERT_OK(raftlite_save_hard_state(F->store, &hs));
  raftlite_hard_state lower = {9, 1, 10}, other = {10, 1, 9}, cleared = {10, 0, 0};
  ASSERT_REFUSED(raftlite_save_hard_state(F->store, &lower), SQLITE_CONSTRAINT,
                 RAFTLITE_TERM_NOT_ASCENDING);
  ASSERT_MSG_HAS("10");
  ASSERT_MSG_HAS("9");
  ASSERT_REFUSED(raftlite_save_hard_state(F->store, &other), SQLITE_CONSTRAINT,
                 RAFTLITE_VOTED_FOR_CHANGED);
  ASSERT_REFUSED(raftlite_save_hard_state(F->store, &cleared), SQLITE_CONSTRAINT,
                 RAFTLITE_VOTED_FOR_CHANGED);
  raftlite_hard_state got;
  int found;
  ASSERT_OK(raftlite_read_hard_state(F->store, &got, &found));
  ASSERT_INT(got.current_term, 10);
  ASSERT_INT(got.voted_for, 10);
}

/******************************************************************************
 * Log reads
 *****************************************************************************/

/* [start, stop): an empty range gives none; 5..7 gives 1-5 and 1-6. */
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
  ASSERT_ID(got.a[0].log_id, 0, 0);
  raftlite_entries_free(&got);
}

/* One entry at a time: present, purged, past the end. */
TEST(log, tryGetLogEntry) {
  ASSERT_OK(feed10(F->store));
  ASSERT_OK(applyBlanks(F->store, 0, 0, 0));
  raftlite_log_id zero = {0, 0};
  ASSERT_OK(raftlite_purge_logs_upto(F->store, zero));
  raftlite_entries got;
  ASSERT_OK(raftlite_try_get_log_entries(F->store, 3, 4, &got));
  ASSERT_INT(got.n, 1);
  ASSERT_ID(got.a[0].log_id, 1, 3);
  raftlite_entries_free(&got);
  ASSERT_OK(raftlite_try_get_log_entries(F->store, 0, 1, &got));
  ASSERT_INT(got.n, 0);
  ASSERT_OK(raftlite_try_get_log_entries(F->store, 11, 12, &got));
  ASSERT_INT(got.n, 0);
}

/* defensive (df_get_log_entries): missing entries are absent, not errors. */
TEST(defensive, getLogEntriesMissingAreAbsent) {
  ASSERT_OK(feed10(F->store));
  ASSERT_OK(applyBlanks(F->store, 0, 0, 0));
  raftlite_log_id zero = {0, 0};
  ASSERT_OK(raftlite_purge_logs_upto(F->store, zero));
  raftlite_entries got;
  ASSERT_OK(raftlite_try_get_log_entries(F->store, 11, RAFTLITE_UNBOUNDED, &got));
  ASSERT_INT(got.n, 0);
  ASSERT_OK(raftlite_try_get_log_entries(F->store, 0, 2, &got));
  ASSERT_INT(got.n, 1);
  ASSERT_ID(got.a[0].log_id, 1, 1);
  raftlite_entries_free(&got);
  ASSERT_OK(raftlite_try_get_log_entries(F->store, 10, 12, &got));
  ASSERT_INT(got.n, 1);
  raftlite_entries_free(&got);
  ASSERT_OK(raftlite_try_get_log_entries(F->store, 0, 5, &got));
  ASSERT_INT(got.n, 4);
  raftlite_entries_free(&got);
}

/* A fresh store holds no entry 0. */
TEST(log, initialLogs) {
  raftlite_entries got;
  ASSERT_OK(raftlite_try_get_log_entries(F->store, 0, 1, &got));
  ASSERT_INT(got.n, 0);
  raftlite_log_id id = {7, 7};
  ASSERT_INT(raftlite_get_log_id(F->store, 0, &id), SQLITE_NOTFOUND);
  ASSERT_ID(id, 0, 0); /* out-parameter left empty */
}

/* Log state through appends, a purge, a full purge and a purge past the end. */
TEST(log, getLogState) {
  ASSERT_LOG_STATE(0, 0, 0, 0, 0, 0);
  raftlite_entry a[3] = {B(0, 0), B(1, 1), B(1, 2)};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 3));
  ASSERT_LOG_STATE(0, 0, 0, 1, 1, 2);
  ASSERT_OK(applyBatch(F->store, a, 3));
  ASSERT_OK(applyBlanks(F->store, 2, 3, 3));
  raftlite_log_id p00 = {0, 0}, p12 = {1, 2}, p23 = {2, 3};
  ASSERT_OK(raftlite_purge_logs_upto(F->store, p00));
  ASSERT_LOG_STATE(1, 0, 0, 1, 1, 2);
  ASSERT_OK(raftlite_purge_logs_upto(F->store, p12));
  ASSERT_LOG_STATE(1, 1, 2, 1, 1, 2);
  ASSERT_OK(raftlite_purge_logs_upto(F->store, p23));
  ASSERT_LOG_STATE(1, 2, 3, 1, 2, 3);
}

/* get_log_id: present entries, LogIndexNotFound for absent ones (a purged
** index included: SPEC §2 "absent", where openraft returns last_purged). */
TEST(log, getLogId) {
  ASSERT_OK(feed10(F->store));
  ASSERT_OK(applyBlanks(F->store, 0, 0, 0));
  ASSERT_OK(applyBlanks(F->store, 1, 1, 3));
  raftlite_log_id p13 = {1, 3}, id;
  ASSERT_OK(raftlite_purge_logs_upto(F->store, p13));
  ASSERT_INT(raftlite_get_log_id(F->store, 0, &id), SQLITE_NOTFOUND);
  ASSERT_INT(raftlite_violation(F->store), RAFTLITE_LOG_INDEX_NOT_FOUND);
  ASSERT_INT(raftlite_get_log_id(F->store, 11, &id), SQLITE_NOTFOUND);
  ASSERT_MSG_HAS("11");
  ASSERT_INT(raftlite_get_log_id(F->store, 3, &id), SQLITE_NOTFOUND);
  ASSERT_OK(raftlite_get_log_id(F->store, 4, &id));
  ASSERT_ID(id, 1, 4);
  ASSERT_INT(raftlite_violation(F->store), RAFTLITE_NO_VIOLATION);
  ASSERT_INT(raftlite_get_log_id(F->store, (uint64_t)INT64_MAX + 1, &id), SQLITE_RANGE);
  ASSERT_INT(raftlite_violation(F->store), RAFTLITE_OUT_OF_RANGE);
}

/* The last log id is the last present entry, even when last_applied is
** above it, and last_purged once the log is empty. */
TEST(log, lastIdInLog) {
  raftlite_entry a[3] = {B(0, 0), B(1, 1), B(1, 2)};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 3));
  ASSERT_LOG_STATE(0, 0, 0, 1, 1, 2);
  ASSERT_OK(applyBatch(F->store, a, 3));
  ASSERT_OK(applyBlanks(F->store, 1, 3, 3));
  ASSERT_LOG_STATE(0, 0, 0, 1, 1, 2);
  raftlite_log_id p12 = {1, 2};
  ASSERT_OK(raftlite_purge_logs_upto(F->store, p12));
  ASSERT_LOG_STATE(1, 1, 2, 1, 1, 2);
}

/* last_applied_state: none, then a membership, which a blank keeps. */
TEST(log, lastAppliedState) {
  raftlite_applied_state as;
  ASSERT_OK(raftlite_last_applied_state(F->store, &as));
  ASSERT_INT(as.has_applied, 0);
  ASSERT_INT(as.has_membership, 0);
  raftlite_entry m = M(1, 3, "[[1,2]]");
  ASSERT_OK(applyBatch(F->store, &m, 1));
  ASSERT_OK(raftlite_last_applied_state(F->store, &as));
  ASSERT_ID(as.last_applied, 1, 3);
  ASSERT_ID(as.membership_log_id, 1, 3);
  ASSERT_STR(as.membership_json, "[[1,2]]");
  raftlite_applied_state_free(&as);
  ASSERT_OK(applyBlanks(F->store, 1, 4, 4));
  ASSERT_OK(raftlite_last_applied_state(F->store, &as));
  ASSERT_ID(as.last_applied, 1, 4);
  ASSERT_ID(as.membership_log_id, 1, 3);
  ASSERT_STR(as.membership_json, "[[1,2]]");
  raftlite_applied_state_free(&as);
}

/******************************************************************************
 * Purge, delete, append
 *****************************************************************************/

/* Purges up to 0-0, 1-5 and 1-20 (past the end) of feed10's log. */
TEST(purge, upto0and5and20) {
  static const uint64_t aUpto[3] = {0, 5, 20};
  static const size_t aLeft[3] = {10, 5, 0};
  for (int k = 0; k < 3; k++) {
    if (k > 0) {
      fixtureClose(F);
      fixtureOpen(F, 1);
    }
    ASSERT_OK(feed10(F->store));
    ASSERT_OK(applyBlanks(F->store, 0, 0, 0));
    if (aUpto[k] > 0) ASSERT_OK(applyBlanks(F->store, 1, 1, aUpto[k]));
    raftlite_log_id upto = {aUpto[k] ? 1 : 0, aUpto[k]};
    ASSERT_OK(raftlite_purge_logs_upto(F->store, upto));
    raftlite_entries got;
    ASSERT_OK(raftlite_try_get_log_entries(F->store, 0, 100, &got));
    ASSERT_INT(got.n, aLeft[k]);
    if (got.n) ASSERT_INT(got.a[0].log_id.index, aUpto[k] + 1);
    raftlite_entries_free(&got);
    ASSERT_LOG_STATE(1, upto.term, upto.index, 1, 1, aUpto[k] > 10 ? aUpto[k] : 10);
  }
}

/* Deleting since 11 removes nothing; since 0, everything. */
TEST(deleteLogs, since11and0) {
  ASSERT_OK(feed10(F->store));
  raftlite_log_id at11 = {1, 11}, at0 = {0, 0};
  ASSERT_OK(raftlite_delete_conflict_logs_since(F->store, at11));
  ASSERT_LOG_STATE(0, 0, 0, 1, 1, 10);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raftlite_log"), 11);
  ASSERT_OK(raftlite_delete_conflict_logs_since(F->store, at0));
  ASSERT_LOG_STATE(0, 0, 0, 0, 0, 0);
}

/* openraft overwrites 1-10 by appending 2-10; raftlite needs the conflict
** deleted first. */
TEST(append, appendToLog) {
  ASSERT_OK(feed10(F->store));
  ASSERT_OK(applyBlanks(F->store, 0, 0, 0));
  raftlite_log_id zero = {0, 0}, at10 = {1, 10};
  ASSERT_OK(raftlite_purge_logs_upto(F->store, zero));
  raftlite_entry e = B(2, 10);
  ASSERT_REFUSED(raftlite_append_to_log(F->store, &e, 1), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_NON_CONSECUTIVE);
  ASSERT_OK(raftlite_delete_conflict_logs_since(F->store, at10));
  ASSERT_OK(raftlite_append_to_log(F->store, &e, 1));
  raftlite_entries got;
  ASSERT_OK(raftlite_try_get_log_entries(F->store, 0, RAFTLITE_UNBOUNDED, &got));
  ASSERT_INT(got.n, 10);
  ASSERT_ID(got.a[9].log_id, 2, 10);
  raftlite_entries_free(&got);
}

/* An append following last_applied purges the log below it, and a refused
** one (a gap later in the batch) purges nothing. */
TEST(append, followsLastApplied) {
  ASSERT_OK(appendBlanks(F->store, 1, 1, 2));
  ASSERT_OK(applyBlanks(F->store, 1, 1, 4));
  raftlite_entry skip = B(1, 6);
  ASSERT_REFUSED(raftlite_append_to_log(F->store, &skip, 1), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_NON_CONSECUTIVE);
  ASSERT_MSG_HAS("1-4");
  raftlite_entry gap[2] = {B(1, 5), B(1, 7)};
  ASSERT_REFUSED(raftlite_append_to_log(F->store, gap, 2), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_NON_CONSECUTIVE);
  raftlite_entry bad = M(1, 5, "[]");
  ASSERT_REFUSED(raftlite_append_to_log(F->store, &bad, 1), SQLITE_CONSTRAINT,
                 RAFTLITE_INVALID_MEMBERSHIP);
  ASSERT_OK(raftlite_append_to_log(F->store, gap, 1));
  ASSERT_LOG_STATE(1, 1, 4, 1, 1, 5);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM raftlite_log"), 1);
}

/* defensive: an empty batch is LogsEmpty. */
TEST(defensive, appendNonemptyInput) {
  ASSERT_REFUSED(raftlite_append_to_log(F->store, NULL, 0), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_EMPTY);
}

/* defensive: a batch with a gap is LogsNonConsecutive. */
TEST(defensive, appendNonconsecutiveInput) {
  raftlite_entry a[2] = {B(1, 1), B(1, 3)};
  ASSERT_REFUSED(raftlite_append_to_log(F->store, a, 2), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_NON_CONSECUTIVE);
  ASSERT_MSG_HAS("1-1");
  ASSERT_MSG_HAS("1-3");
}

/* defensive: the first entry must be last log index + 1. */
TEST(defensive, appendEqLastPlusOne) {
  raftlite_entry a[3] = {B(0, 0), B(1, 1), B(1, 2)};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 3));
  ASSERT_OK(applyBatch(F->store, a, 2));
  raftlite_entry e = B(3, 4);
  ASSERT_REFUSED(raftlite_append_to_log(F->store, &e, 1), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_NON_CONSECUTIVE);
  ASSERT_MSG_HAS("1-2");
  ASSERT_MSG_HAS("3-4");
}

/* defensive: with everything applied, the first entry is last_applied + 1. */
TEST(defensive, appendEqLastAppliedPlusOne) {
  raftlite_entry a[3] = {B(0, 0), B(1, 1), B(1, 2)};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 3));
  ASSERT_OK(applyBatch(F->store, a, 3));
  raftlite_entry e = B(1, 4);
  ASSERT_REFUSED(raftlite_append_to_log(F->store, &e, 1), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_NON_CONSECUTIVE);
  ASSERT_MSG_HAS("1-2");
  ASSERT_MSG_HAS("1-4");
}

/* defensive: index last + 1 with a lower term than the last entry. */
TEST(defensive, appendGtLastLogId) {
  raftlite_entry a[3] = {B(0, 0), B(2, 1), B(2, 2)};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 3));
  raftlite_entry e = B(1, 3);
  ASSERT_REFUSED(raftlite_append_to_log(F->store, &e, 1), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_NON_CONSECUTIVE);
  ASSERT_MSG_HAS("2-2");
}

/* defensive: a lower term than last_applied, after a full purge or with the
** log ending below last_applied. */
TEST(defensive, appendGtLastAppliedId) {
  raftlite_entry a[3] = {B(0, 0), B(2, 1), B(2, 2)};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 3));
  ASSERT_OK(applyBatch(F->store, a, 3));
  raftlite_log_id p22 = {2, 2};
  ASSERT_OK(raftlite_purge_logs_upto(F->store, p22));
  raftlite_entry e = B(1, 3);
  ASSERT_REFUSED(raftlite_append_to_log(F->store, &e, 1), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_NON_CONSECUTIVE);
  ASSERT_MSG_HAS("2-2");
  ASSERT_MSG_HAS("1-3");
  ASSERT_OK(applyBlanks(F->store, 2, 3, 3));
  raftlite_entry e2 = B(1, 4);
  ASSERT_REFUSED(raftlite_append_to_log(F->store, &e2, 1), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_NON_CONSECUTIVE);
  ASSERT_MSG_HAS("2-3");
}

/* defensive: purging above last_applied, or with nothing applied. */
TEST(defensive, purgeAppliedLeLastApplied) {
  raftlite_log_id p00 = {0, 0};
  ASSERT_REFUSED(raftlite_purge_logs_upto(F->store, p00), SQLITE_CONSTRAINT,
                 RAFTLITE_PURGE_NON_APPLIED);
  raftlite_entry a[2] = {B(0, 0), B(3, 1)};
  ASSERT_OK(applyBatch(F->store, a, 2));
  raftlite_log_id p52 = {5, 2};
  ASSERT_REFUSED(raftlite_purge_logs_upto(F->store, p52), SQLITE_CONSTRAINT,
                 RAFTLITE_PURGE_NON_APPLIED);
  ASSERT_MSG_HAS("3-1");
  ASSERT_MSG_HAS("5-2");
}

/* defensive: a purge id that contradicts the log is LogIdMismatch. */
TEST(defensive, purgeLogIdMismatch) {
  raftlite_entry a[3] = {B(0, 0), B(2, 1), B(2, 2)};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 3));
  ASSERT_OK(applyBatch(F->store, a, 3));
  ASSERT_OK(applyBlanks(F->store, 2, 3, 5));
  raftlite_log_id p12 = {1, 2}, p14 = {1, 4}, p24 = {2, 4};
  ASSERT_REFUSED(raftlite_purge_logs_upto(F->store, p12), SQLITE_CONSTRAINT,
                 RAFTLITE_LOG_ID_MISMATCH);
  ASSERT_MSG_HAS("2-2");
  ASSERT_REFUSED(raftlite_purge_logs_upto(F->store, p14), SQLITE_CONSTRAINT,
                 RAFTLITE_LOG_ID_MISMATCH);
  ASSERT_MSG_HAS("1-4");
  ASSERT_OK(raftlite_purge_logs_upto(F->store, p24));
  ASSERT_LOG_STATE(1, 2, 4, 1, 2, 4);
}

/* defensive: deleting at or below last_applied is AppliedWontConflict. */
TEST(defensive, deleteConflictGtLastApplied) {
  raftlite_entry a[2] = {B(0, 0), B(3, 1)};
  ASSERT_OK(applyBatch(F->store, a, 2));
  raftlite_log_id at51 = {5, 1}, at50 = {5, 0};
  ASSERT_REFUSED(raftlite_delete_conflict_logs_since(F->store, at51), SQLITE_CONSTRAINT,
                 RAFTLITE_APPLIED_WONT_CONFLICT);
  ASSERT_MSG_HAS("3-1");
  ASSERT_REFUSED(raftlite_delete_conflict_logs_since(F->store, at50), SQLITE_CONSTRAINT,
                 RAFTLITE_APPLIED_WONT_CONFLICT);
}

/******************************************************************************
 * Apply
 *****************************************************************************/

/* A key-value state machine in the store's database: "k=v" sets k. */
static int kvApply(void *ctx, sqlite3 *db, const raftlite_entry *e, raftlite_response *out) {
  (void)ctx;
  char *zSql = sqlite3_mprintf("INSERT OR REPLACE INTO kv VALUES (substr(%.*Q, 1, instr(%.*Q, '=')"
                               " - 1), substr(%.*Q, instr(%.*Q, '=') + 1))",
                               (int)e->size, e->data, (int)e->size, e->data, (int)e->size,
                               e->data, (int)e->size, e->data);
  int rc = sqlite3_exec(db, zSql, NULL, NULL, NULL);
  sqlite3_free(zSql);
  if (rc == SQLITE_OK && out) {
    out->data = sqlite3_mprintf("ok %llu", (unsigned long long)e->log_id.index);
    out->size = strlen(out->data);
  }
  return rc;
}

/* Snapshot: the rows as "k=v\n" lines; restore: the same, read back. */
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
  size_t n = 0, got = 0;
  int rc = sqlite3_exec(db, "DELETE FROM kv", NULL, NULL, NULL);
  while (rc == SQLITE_OK && (rc = raftlite_snapshot_read(r, buf + n, sizeof(buf) - n, &got)) == SQLITE_OK && got) n += got;
  for (size_t i = 0, start = 0; rc == SQLITE_OK && i < n; i++) {
    if (buf[i] != '\n') continue;
    raftlite_entry e = {{0, 0}, RAFTLITE_NORMAL, buf + start, i - start};
    rc = kvApply(ctx, db, &e, NULL);
    start = i + 1;
  }
  return rc;
}

static void useKv(Fixture *f) {
  sqlite3_exec(f->db, "CREATE TABLE IF NOT EXISTS kv(k TEXT PRIMARY KEY, v TEXT)", 0, 0, 0);
  raftlite_state_machine sm = {NULL, kvApply, kvSnapshot, kvRestore};
  raftlite_set_state_machine(f->store, &sm);
}

/* One normal entry reaches the state machine and moves last_applied. */
TEST(apply, single) {
  useKv(F);
  raftlite_entry e = entry(3, 1, RAFTLITE_NORMAL, "status=lit");
  ASSERT_OK(raftlite_append_to_log(F->store, &e, 1));
  raftlite_responses r;
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, &e, 1, &r));
  ASSERT_INT(r.n, 1);
  ASSERT_INT(r.a[0].size, 4);
  ASSERT(memcmp(r.a[0].data, "ok 1", 4) == 0);
  raftlite_responses_free(&r);
  raftlite_applied_state as;
  ASSERT_OK(raftlite_last_applied_state(F->store, &as));
  ASSERT_ID(as.last_applied, 3, 1);
  raftlite_applied_state_free(&as);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM kv WHERE k='status' AND v='lit'"), 1);
}

/* A batch: one response per entry in order, later writes win. */
TEST(apply, multi) {
  useKv(F);
  raftlite_entry a[4] = {entry(3, 1, RAFTLITE_NORMAL, "c1=old"), M(3, 2, "[[1]]"),
                         entry(3, 3, RAFTLITE_NORMAL, "c1=new"), entry(3, 4, RAFTLITE_NORMAL, "c2=other")};
  raftlite_responses r;
  ASSERT_OK(raftlite_apply_to_state_machine(F->store, a, 4, &r));
  ASSERT_INT(r.n, 4);
  ASSERT_INT(r.a[1].size, 0);
  ASSERT(r.a[2].size == 4 && memcmp(r.a[2].data, "ok 3", 4) == 0);
  ASSERT(r.a[3].size == 4 && memcmp(r.a[3].data, "ok 4", 4) == 0);
  raftlite_responses_free(&r);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM kv WHERE (k,v) IN (VALUES('c1','new'),('c2','other'))"), 2);
  ASSERT_MEMBERSHIP(3, 2, "[[1]]");
}

/* defensive: an empty batch is LogsEmpty, and *out is left empty. */
TEST(defensive, applyNonemptyInput) {
  raftlite_responses r = {(raftlite_response *)8, 3};
  ASSERT_REFUSED(raftlite_apply_to_state_machine(F->store, NULL, 0, &r), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_EMPTY);
  ASSERT(r.a == NULL && r.n == 0);
}

/* defensive: re-applying, or skipping an index, is ApplyNonConsecutive. */
TEST(defensive, applyIndexEqLastAppliedPlusOne) {
  raftlite_entry a[2] = {B(0, 0), B(3, 1)};
  ASSERT_OK(applyBatch(F->store, a, 2));
  ASSERT_REFUSED(applyBatch(F->store, &a[1], 1), SQLITE_CONSTRAINT,
                 RAFTLITE_APPLY_NON_CONSECUTIVE);
  ASSERT_MSG_HAS("3-1");
  raftlite_entry e = B(3, 3);
  ASSERT_REFUSED(applyBatch(F->store, &e, 1), SQLITE_CONSTRAINT, RAFTLITE_APPLY_NON_CONSECUTIVE);
  ASSERT_MSG_HAS("3-3");
}

/* defensive: the next index with a lower term is ApplyNonConsecutive. */
TEST(defensive, applyGtLastAppliedId) {
  raftlite_entry a[2] = {B(0, 0), B(3, 1)};
  ASSERT_OK(applyBatch(F->store, a, 2));
  raftlite_entry e = B(2, 2);
  ASSERT_REFUSED(applyBatch(F->store, &e, 1), SQLITE_CONSTRAINT, RAFTLITE_APPLY_NON_CONSECUTIVE);
  ASSERT_MSG_HAS("2-2");
}

/* defensive (df_get_membership_config_dirty_log, df_get_initial_state_dirty
** _log): applying 2-1, 2-2 over a log of term 1 is refused, reads stay clean. */
TEST(defensive, dirtyLogIsNeverStored) {
  raftlite_entry log[4] = {B(0, 0), B(1, 1), B(1, 2), M(1, 3, "[[1,2,3]]")};
  ASSERT_OK(raftlite_append_to_log(F->store, log, 4));
  raftlite_entry a[3] = {B(0, 0), B(2, 1), M(2, 2, "[[3,4,5]]")};
  ASSERT_REFUSED2(applyBatch(F->store, a, 3), SQLITE_CONSTRAINT, RAFTLITE_LOG_ID_MISMATCH,
                  RAFTLITE_DIRTY_LOG);
  ASSERT_MEMBERSHIP(1, 3, "[[1,2,3]]");
  raftlite_log_state ls;
  raftlite_applied_state as;
  raftlite_hard_state hs;
  int bHs;
  ASSERT_OK(raftlite_get_initial_state(F->store, &ls, &as, &hs, &bHs));
  ASSERT_INT(as.has_applied, 0);
  raftlite_applied_state_free(&as);
  ASSERT_INT(raftlite_violation(F->store), RAFTLITE_NO_VIOLATION);
}

/* defensive: a log entry above the applied index with a lower log id is
** DirtyLog, whatever the batch. */
TEST(defensive, dirtyLogWithoutMismatch) {
  ASSERT_OK(appendBlanks(F->store, 1, 5, 6));
  raftlite_entry a[2] = {B(2, 3), B(2, 4)};
  ASSERT_REFUSED(applyBatch(F->store, a, 2), SQLITE_CONSTRAINT, RAFTLITE_DIRTY_LOG);
  ASSERT_MSG_HAS("1-5");
}

/******************************************************************************
 * Snapshots
 *****************************************************************************/

/* No snapshot at first; build refuses with nothing applied; out-params are
** left empty either way. */
TEST(snapshot, initialAndNothingApplied) {
  raftlite_snapshot_meta meta;
  memset(&meta, 0x5a, sizeof(meta));
  raftlite_snapshot *s = (raftlite_snapshot *)8;
  ASSERT_OK(raftlite_get_current_snapshot(F->store, &meta, &s));
  ASSERT(s == NULL);
  ASSERT(meta.membership_json == NULL);
  memset(&meta, 0x5a, sizeof(meta));
  s = (raftlite_snapshot *)8;
  ASSERT_REFUSED(raftlite_build_snapshot(F->store, &meta, &s), SQLITE_CONSTRAINT,
                 RAFTLITE_NOTHING_APPLIED);
  ASSERT(s == NULL && meta.membership_json == NULL && meta.has_membership == 0);
}

/* The meta is last_applied with the membership in force, also when blanks
** were applied after it; get_current_snapshot gives the same meta. */
TEST(snapshot, meta) {
  useKv(F);
  raftlite_entry a[3] = {M(1, 1, "[[1,2,3]]"), entry(1, 2, RAFTLITE_NORMAL, "a=1"), B(2, 3)};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 3));
  ASSERT_OK(applyBatch(F->store, a, 3));
  raftlite_snapshot_meta meta, cur;
  raftlite_snapshot *s = NULL;
  ASSERT_OK(raftlite_build_snapshot(F->store, &meta, &s));
  raftlite_snapshot_close(s);
  ASSERT_ID(meta.last_log_id, 2, 3);
  ASSERT_INT(meta.has_membership, 1);
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

/* Receives zBytes and installs them under *pMeta. */
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

/* A snapshot at exactly last_applied is not stale (meta >= last_applied). */
TEST(snapshot, installAtLastApplied) {
  useKv(F);
  raftlite_entry a[2] = {entry(1, 1, RAFTLITE_NORMAL, "a=1"), entry(1, 2, RAFTLITE_NORMAL, "b=2")};
  ASSERT_OK(raftlite_append_to_log(F->store, a, 2));
  ASSERT_OK(applyBatch(F->store, a, 2));
  raftlite_snapshot_meta meta;
  memset(&meta, 0, sizeof(meta));
  meta.last_log_id.term = 1;
  meta.last_log_id.index = 2;
  strcpy(meta.snapshot_id, "same");
  raftlite_sm_changes ch;
  ASSERT_OK(installBytes(F->store, &meta, "a=1\nb=2\n", &ch));
  ASSERT_INT(ch.is_snapshot, 1);
  ASSERT_ID(ch.last_applied, 1, 2);
  ASSERT_LOG_STATE(1, 1, 2, 1, 1, 2);
  ASSERT_INT(queryInt(F->db, "SELECT count(*) FROM kv"), 2);
}

/* Staleness compares log ids: 2-7 is below 3-5 although its index is
** higher; the changes out-parameter is left empty. */
TEST(snapshot, installStaleByTerm) {
  useKv(F);
  ASSERT_OK(applyBlanks(F->store, 3, 1, 5));
  raftlite_snapshot_meta meta;
  memset(&meta, 0, sizeof(meta));
  meta.last_log_id.term = 2;
  meta.last_log_id.index = 7;
  strcpy(meta.snapshot_id, "stale");
  raftlite_sm_changes ch;
  memset(&ch, 0x5a, sizeof(ch));
  char *zBefore = dumpStore(F->db);
  ASSERT_INT(installBytes(F->store, &meta, "a=1\n", &ch), SQLITE_CONSTRAINT);
  ASSERT_INT(raftlite_violation(F->store), RAFTLITE_SNAPSHOT_STALE);
  ASSERT_MSG_HAS("3-5");
  ASSERT_MSG_HAS("2-7");
  char *zAfter = dumpStore(F->db);
  ASSERT_STR(zAfter, zBefore);
  sqlite3_free(zBefore);
  sqlite3_free(zAfter);
  ASSERT(ch.has_last_applied == 0 && ch.is_snapshot == 0);
}

/* A snapshot with a higher term but a lower index than last_applied is not
** stale (SPEC §2 compares log ids): it installs and the log follows it. */
TEST(snapshot, installHigherTermLowerIndex) {
  useKv(F);
  ASSERT_OK(appendBlanks(F->store, 1, 1, 5));
  ASSERT_OK(applyBlanks(F->store, 1, 1, 5));
  raftlite_snapshot_meta meta;
  memset(&meta, 0, sizeof(meta));
  meta.last_log_id.term = 2;
  meta.last_log_id.index = 3;
  strcpy(meta.snapshot_id, "t2");
  raftlite_sm_changes ch;
  ASSERT_OK(installBytes(F->store, &meta, "x=9\n", &ch));
  ASSERT_LOG_STATE(1, 2, 3, 1, 2, 3);
  raftlite_entry next = B(2, 4);
  ASSERT_OK(raftlite_append_to_log(F->store, &next, 1));
}

/* transfer_snapshot: built on one store, installed on another, the second
** reports the same meta, state-machine content and initial state. */
TEST(snapshot, transfer) {
  useKv(F);
  raftlite_entry a[3] = {M(1, 1, "[[1,2]]"), entry(1, 2, RAFTLITE_NORMAL, "a=1"),
                         entry(2, 3, RAFTLITE_NORMAL, "b=2")};
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

  Fixture other;
  memset(&other, 0, sizeof(other));
  snprintf(other.zPath, sizeof(other.zPath), "conf-other-%d.db", (int)getpid());
  fixtureOpen(&other, 1);
  useKv(&other);
  raftlite_sm_changes ch;
  int rc = installBytes(other.store, &meta, buf, &ch);
  raftlite_snapshot_meta cur;
  raftlite_log_state ls;
  raftlite_applied_state as;
  raftlite_hard_state hs;
  int bHs = 0;
  s = NULL;
  if (rc == SQLITE_OK) rc = raftlite_get_current_snapshot(other.store, &cur, &s);
  raftlite_snapshot_close(s);
  if (rc == SQLITE_OK) rc = raftlite_get_initial_state(other.store, &ls, &as, &hs, &bHs);
  long long nKv = queryInt(other.db, "SELECT count(*) FROM kv");
  fixtureClose(&other);
  remove(other.zPath);
  ASSERT_INT(rc, SQLITE_OK);
  ASSERT_STR(cur.snapshot_id, meta.snapshot_id);
  ASSERT_ID(cur.last_log_id, 2, 3);
  ASSERT_ID(ls.last_log_id, 2, 3);
  ASSERT_ID(ls.last_purged_log_id, 2, 3);
  ASSERT_ID(as.last_applied, 2, 3);
  ASSERT_STR(as.membership_json, "[[1,2]]");
  ASSERT_INT(nKv, 2);
  raftlite_applied_state_free(&as);
  raftlite_snapshot_meta_free(&cur);
  raftlite_snapshot_meta_free(&meta);
}

/* The violation kind is reset by the next successful call. */
TEST(defensive, kindResetBySuccess) {
  ASSERT_REFUSED(raftlite_append_to_log(F->store, NULL, 0), SQLITE_CONSTRAINT,
                 RAFTLITE_LOGS_EMPTY);
  raftlite_log_state ls;
  ASSERT_OK(raftlite_get_log_state(F->store, &ls));
  ASSERT_INT(raftlite_violation(F->store), RAFTLITE_NO_VIOLATION);
}

RUN_TESTS(setUp, tearDown)
