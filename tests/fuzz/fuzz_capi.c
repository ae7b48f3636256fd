/*
** fuzz_capi.c — the input decodes into a sequence of C API calls on one
** in-memory store with a small key-value state machine (C callbacks):
** append, truncate, purge, apply, save_hard_state, build, receive +
** install, get_initial_state, the reads, and BEGIN/COMMIT/ROLLBACK around
** them. Integers are decoded small and relative to the current state, so
** that most calls are valid and the rest are near misses.
**
** A reference model (hard state, the log's entries, last_purged,
** last_applied and the applied membership) follows every successful call.
** After every call:
**   - the store equals the model (log state, every entry's term, kind and
**     payload, applied state, hard state);
**   - a refused call changed nothing (a dump of every backing table and of
**     the state machine's table), returned a documented code, and named a
**     rule when it returned SQLITE_CONSTRAINT;
**   - the connection's transaction state is as before the call.
** After the sequence, raft_check() is "ok".
** Acceptance is predicted where the rule is short (save_hard_state,
** append_to_log); a call the prediction disagrees with is a finding too.
*/
#include "fuzz_common.h"

#define MAX_ENTRIES 256
#define MAX_PAYLOAD 96
#define U63_MAX ((uint64_t)INT64_MAX)

/* ------------------------------------------------------------------ */
/* Input decoding.                                                      */

typedef struct Input {
  const uint8_t *a;
  size_t n, i;
} Input;

static unsigned u8(Input *p) { return p->i < p->n ? p->a[p->i++] : 0; }
static int atEnd(const Input *p) { return p->i >= p->n; }

/* ------------------------------------------------------------------ */
/* The model.                                                           */

typedef struct Id {
  int has;
  uint64_t term, index;
} Id;

typedef struct MEntry {
  uint64_t term;
  int kind;
  size_t size;
  unsigned char data[MAX_PAYLOAD]; /* membership: canonical JSON */
} MEntry;

typedef struct Model {
  int hasHs, hasVote;
  uint64_t hsTerm, hsVote;
  uint64_t first; /* index of a[0]; the log is contiguous */
  size_t n;
  MEntry a[MAX_ENTRIES];
  Id purged, applied;
  Id memberId;
  char member[MAX_PAYLOAD];
} Model;

static int idCmp(Id a, Id b) {
  if (!a.has || !b.has) return a.has - b.has;
  if (a.term != b.term) return a.term < b.term ? -1 : 1;
  if (a.index != b.index) return a.index < b.index ? -1 : 1;
  return 0;
}

static Id mkId(uint64_t term, uint64_t index) {
  Id id = {1, term, index};
  return id;
}

static Id lastEntryId(const Model *m) {
  Id id = {0, 0, 0};
  if (m->n) id = mkId(m->a[m->n - 1].term, m->first + m->n - 1);
  return id;
}

/* get_log_state's last_log_id: the last entry, else last_purged. */
static Id lastLogId(const Model *m) { return m->n ? lastEntryId(m) : m->purged; }

static const MEntry *entryAt(const Model *m, uint64_t index) {
  if (m->n == 0 || index < m->first || index - m->first >= m->n) return NULL;
  return &m->a[index - m->first];
}

/* Removes the entries with index <= upto (a purge). */
static void dropUpto(Model *m, uint64_t upto) {
  if (m->n == 0 || upto < m->first) return;
  uint64_t k = upto - m->first + 1;
  if (k >= m->n) {
    m->n = 0;
    return;
  }
  memmove(m->a, m->a + k, (m->n - k) * sizeof(MEntry));
  m->n -= k;
  m->first += k;
}

/* Removes the entries with index >= since (a truncation). */
static void dropFrom(Model *m, uint64_t since) {
  if (m->n == 0 || since >= m->first + m->n) return;
  m->n = since <= m->first ? 0 : (size_t)(since - m->first);
}

/* ------------------------------------------------------------------ */
/* The state machine: kv(idx, v) gets each normal entry's payload;     */
/* its snapshot is the rows as (8-byte idx, 1-byte length, bytes).     */

static int kvApply(void *ctx, sqlite3 *db, const raftlite_entry *e, raftlite_response *out) {
  (void)ctx;
  /* A payload starting with 0xEE fails, to exercise a failing batch. */
  if (e->size > 0 && ((const unsigned char *)e->data)[0] == 0xEE) return SQLITE_ERROR;
  sqlite3_stmt *pStmt = NULL;
  int rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO kv VALUES (?, ?)", -1, &pStmt, NULL);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_int64(pStmt, 1, (sqlite3_int64)e->log_id.index);
  sqlite3_bind_blob(pStmt, 2, e->size ? e->data : "", (int)e->size, SQLITE_TRANSIENT);
  sqlite3_step(pStmt);
  rc = sqlite3_finalize(pStmt);
  if (rc == SQLITE_OK && e->size > 0) {
    out->data = sqlite3_malloc((int)e->size);
    if (!out->data) return SQLITE_NOMEM;
    memcpy(out->data, e->data, e->size);
    out->size = e->size;
  }
  return rc;
}

static int kvSnapshot(void *ctx, sqlite3 *db, raftlite_snapshot *w) {
  (void)ctx;
  sqlite3_stmt *pStmt = NULL;
  int rc = sqlite3_prepare_v2(db, "SELECT k, v FROM kv ORDER BY k", -1, &pStmt, NULL);
  while (rc == SQLITE_OK && sqlite3_step(pStmt) == SQLITE_ROW) {
    unsigned char rec[8 + 1 + 255];
    sqlite3_int64 k = sqlite3_column_int64(pStmt, 0);
    int nV = sqlite3_column_bytes(pStmt, 1);
    if (nV > 255) nV = 255;
    memcpy(rec, &k, 8);
    rec[8] = (unsigned char)nV;
    if (nV) memcpy(rec + 9, sqlite3_column_blob(pStmt, 1), (size_t)nV);
    rc = raftlite_snapshot_write(w, rec, 9 + (size_t)nV);
  }
  sqlite3_finalize(pStmt);
  return rc;
}

static int kvRestore(void *ctx, sqlite3 *db, raftlite_snapshot *r) {
  (void)ctx;
  int rc = sqlite3_exec(db, "DELETE FROM kv", NULL, NULL, NULL);
  sqlite3_stmt *pStmt = NULL;
  if (rc == SQLITE_OK) {
    rc = sqlite3_prepare_v2(db, "INSERT INTO kv VALUES (?, ?)", -1, &pStmt, NULL);
  }
  while (rc == SQLITE_OK) {
    unsigned char rec[9 + 255];
    size_t got = 0;
    rc = raftlite_snapshot_read(r, rec, 9, &got);
    if (rc != SQLITE_OK || got == 0) break;
    if (got < 9) {
      rc = SQLITE_CORRUPT; /* a torn record: not an image of ours */
      break;
    }
    size_t nV = rec[8], gotV = 0;
    if (nV) rc = raftlite_snapshot_read(r, rec + 9, nV, &gotV);
    if (rc == SQLITE_OK && gotV != nV) rc = SQLITE_CORRUPT;
    if (rc != SQLITE_OK) break;
    sqlite3_int64 k;
    memcpy(&k, rec, 8);
    sqlite3_bind_int64(pStmt, 1, k);
    sqlite3_bind_blob(pStmt, 2, rec + 9, (int)nV, SQLITE_TRANSIENT);
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
    if (rc == SQLITE_CONSTRAINT) rc = SQLITE_CORRUPT; /* a key twice */
  }
  sqlite3_finalize(pStmt);
  return rc;
}

/* ------------------------------------------------------------------ */
/* Memberships: valid ones (canonical form computed by json()) and     */
/* invalid ones.                                                        */

static const char *const azGoodMember[] = {
    "[[1]]", "[[1,2,3]]", "[[1,2],[2,3]]", " [ [ 5 , 6 ] ] ",
    "{\"configs\":[[1]],\"nodes\":{\"1\":{},\"2\":{\"a\":1}}}",
    "[[0,9223372036854775807]]",
};
static const char *const azBadMember[] = {
    "[[1,1]]", "[]", "[[1],[2],[3]]", "{\"configs\":[[1]],\"x\":1}", "[[-1]]", "nope",
    "[[1.5]]", "{\"configs\":[[1]],\"nodes\":{\"01\":{}}}", "[[]]", "[[1]", "",
    "[[9223372036854775808]]", "{\"nodes\":{}}", "[[true]]",
};
#define N_GOOD (sizeof(azGoodMember) / sizeof(azGoodMember[0]))
#define N_BAD (sizeof(azBadMember) / sizeof(azBadMember[0]))

/* ------------------------------------------------------------------ */
/* The run.                                                             */

typedef struct Run {
  sqlite3 *db;
  raftlite *p;
  Model m;
  Model saved; /* the model at BEGIN, for ROLLBACK */
  int inTxn;
  unsigned char *aImage; /* the last built snapshot's bytes */
  size_t nImage;
  Id imageId;
  char zImageMember[MAX_PAYLOAD];
  Id imageMemberId;
  int nSnap;
  sqlite3_stmt *pCheck, *pJson;
} Run;

static void canonical(Run *r, const char *zIn, char *zOut) {
  sqlite3_bind_text(r->pJson, 1, zIn, -1, SQLITE_STATIC);
  if (sqlite3_step(r->pJson) != SQLITE_ROW) FUZZ_FAIL("json(%s) failed", zIn);
  snprintf(zOut, MAX_PAYLOAD, "%s", (const char *)sqlite3_column_text(r->pJson, 0));
  sqlite3_reset(r->pJson);
}

static void checkIdEq(const char *zWhat, int has, raftlite_log_id got, Id want) {
  if (has != want.has || (has && (got.term != want.term || got.index != want.index))) {
    FUZZ_FAIL("%s: store has %s%llu-%llu, model %s%llu-%llu", zWhat, has ? "" : "none ",
              (unsigned long long)got.term, (unsigned long long)got.index,
              want.has ? "" : "none ", (unsigned long long)want.term,
              (unsigned long long)want.index);
  }
}

/* The store equals the model. */
static void checkModel(Run *r) {
  const Model *m = &r->m;
  raftlite_log_state ls;
  int rc = raftlite_get_log_state(r->p, &ls);
  if (rc != SQLITE_OK) FUZZ_FAIL("get_log_state: %d %s", rc, raftlite_errmsg(r->p));
  checkIdEq("last_purged", ls.has_last_purged, ls.last_purged_log_id, m->purged);
  checkIdEq("last_log_id", ls.has_last_log, ls.last_log_id, lastLogId(m));

  raftlite_entries es = {0};
  rc = raftlite_try_get_log_entries(r->p, 0, RAFTLITE_UNBOUNDED, &es);
  if (rc != SQLITE_OK) FUZZ_FAIL("try_get_log_entries: %d %s", rc, raftlite_errmsg(r->p));
  if (es.n != m->n) FUZZ_FAIL("the log has %zu entries, the model %zu", es.n, m->n);
  for (size_t i = 0; i < es.n; i++) {
    const raftlite_entry *e = &es.a[i];
    const MEntry *w = &m->a[i];
    if (e->log_id.index != m->first + i || e->log_id.term != w->term || (int)e->kind != w->kind ||
        e->size != w->size || (e->size && memcmp(e->data, w->data, e->size) != 0)) {
      FUZZ_FAIL("entry %zu: store %llu-%llu kind %d size %zu, model %llu-%llu kind %d size %zu",
                i, (unsigned long long)e->log_id.term, (unsigned long long)e->log_id.index,
                (int)e->kind, e->size, (unsigned long long)w->term,
                (unsigned long long)(m->first + i), w->kind, w->size);
    }
  }
  raftlite_entries_free(&es);

  raftlite_applied_state as;
  rc = raftlite_last_applied_state(r->p, &as);
  if (rc != SQLITE_OK) FUZZ_FAIL("last_applied_state: %d %s", rc, raftlite_errmsg(r->p));
  checkIdEq("last_applied", as.has_applied, as.last_applied, m->applied);
  checkIdEq("membership log id", as.has_membership, as.membership_log_id, m->memberId);
  if (as.has_membership && strcmp(as.membership_json, m->member) != 0) {
    FUZZ_FAIL("membership: store %s, model %s", as.membership_json, m->member);
  }
  raftlite_applied_state_free(&as);

  raftlite_hard_state hs;
  int found = 0;
  rc = raftlite_read_hard_state(r->p, &hs, &found);
  if (rc != SQLITE_OK) FUZZ_FAIL("read_hard_state: %d", rc);
  if (found != m->hasHs ||
      (found && (hs.current_term != m->hsTerm || hs.has_vote != m->hasVote ||
                 (hs.has_vote && hs.voted_for != m->hsVote)))) {
    FUZZ_FAIL("hard state: store %d %llu %d %llu, model %d %llu %d %llu", found,
              (unsigned long long)hs.current_term, hs.has_vote,
              (unsigned long long)hs.voted_for, m->hasHs, (unsigned long long)m->hsTerm,
              m->hasVote, (unsigned long long)m->hsVote);
  }
}

static void checkStore(Run *r) {
  if (sqlite3_step(r->pCheck) != SQLITE_ROW) {
    FUZZ_FAIL("raft_check(): %s", sqlite3_errmsg(r->db));
  }
  const char *z = (const char *)sqlite3_column_text(r->pCheck, 0);
  if (!z || strcmp(z, "ok") != 0) FUZZ_FAIL("raft_check():\n%s", z ? z : "NULL");
  sqlite3_reset(r->pCheck);
}

/* What every refused call must satisfy. */
static void checkRefusal(Run *r, const char *zCall, int rc, const char *zBefore,
                         int bConsumesStream) {
  char *zAfter = fuzzDump(r->db, "kv", bConsumesStream);
  if (strcmp(zBefore, zAfter) != 0) {
    FUZZ_FAIL("refused %s (%d: %s) changed the store:\nbefore %s\nafter %s", zCall, rc,
              raftlite_errmsg(r->p), zBefore, zAfter);
  }
  sqlite3_free(zAfter);
  raftlite_violation_kind k = raftlite_violation(r->p);
  switch (rc) {
    case SQLITE_CONSTRAINT:
      if (k == RAFTLITE_NO_VIOLATION) {
        FUZZ_FAIL("%s: CONSTRAINT names no rule (%s)", zCall, raftlite_errmsg(r->p));
      }
      break;
    case SQLITE_NOTFOUND:
      if (k != RAFTLITE_LOG_INDEX_NOT_FOUND) FUZZ_FAIL("%s: NOTFOUND names %d", zCall, k);
      break;
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
      if (k != RAFTLITE_OUT_OF_RANGE) FUZZ_FAIL("%s: %d names %d", zCall, rc, k);
      break;
    case SQLITE_ERROR:   /* the apply callback's failure */
    case SQLITE_CORRUPT: /* the restore callback's failure */
      break;
    default:
      FUZZ_FAIL("%s returned %d (%s)", zCall, rc, raftlite_errmsg(r->p));
  }
  const char *zMsg = raftlite_errmsg(r->p);
  if (!zMsg || !zMsg[0]) FUZZ_FAIL("%s: refused without a message", zCall);
}

/* A term or index near `base`, now and then out of range. */
static uint64_t nearValue(Input *in, uint64_t base) {
  unsigned b = u8(in);
  if (b == 255) return U63_MAX + 1 + (uint64_t)u8(in);
  if (b == 254) return U63_MAX;
  int d = (b < 192) ? 0 : (int)(b % 5) - 2;
  if (d < 0 && base < (uint64_t)-d) return 0;
  return base + (uint64_t)(int64_t)d;
}

/* ---- the operations ---- */

static void opAppend(Run *r, Input *in) {
  Model *m = &r->m;
  raftlite_entry a[8];
  char aMember[8][MAX_PAYLOAD];
  unsigned char aPayload[8][16];
  size_t n = u8(in) % 6;
  Id ref = lastEntryId(m);
  if (idCmp(m->purged, ref) > 0) ref = m->purged;
  if (idCmp(m->applied, ref) > 0) ref = m->applied;
  uint64_t index = ref.has ? nearValue(in, ref.index + 1) : u8(in) % 4;
  uint64_t term = nearValue(in, ref.has ? ref.term + (u8(in) % 4 == 0) : 1);
  int bValid = n > 0;
  int bRange = 0;
  /* The reference rule: index + 1, log id greater. */
  if (ref.has && (index != ref.index + 1 || term < ref.term)) bValid = 0;
  for (size_t i = 0; i < n; i++) {
    raftlite_entry *e = &a[i];
    if (i > 0) {
      unsigned b = u8(in);
      index = a[i - 1].log_id.index + 1 + (b == 250 ? 1 : 0);
      term = a[i - 1].log_id.term + (b % 8 == 1) - (b == 251 && term > 0);
      if (b == 250 || b == 251) bValid = 0;
    }
    if (index > U63_MAX || term > U63_MAX) bRange = 1;
    e->log_id.index = index;
    e->log_id.term = term;
    unsigned k = u8(in) % 10;
    e->data = NULL;
    e->size = 0;
    if (k < 5) {
      e->kind = RAFTLITE_NORMAL;
      e->size = u8(in) % 16;
      for (size_t j = 0; j < e->size; j++) aPayload[i][j] = (unsigned char)u8(in);
      e->data = aPayload[i];
    } else if (k < 7) {
      e->kind = RAFTLITE_BLANK;
    } else if (k < 9) {
      e->kind = RAFTLITE_MEMBERSHIP;
      unsigned b = u8(in);
      const char *z = (b & 1) ? azBadMember[(b >> 1) % N_BAD] : azGoodMember[(b >> 1) % N_GOOD];
      if (b & 1) bValid = 0;
      snprintf(aMember[i], MAX_PAYLOAD, "%s", z);
      e->data = aMember[i];
      e->size = strlen(z);
    } else {
      e->kind = (raftlite_kind)(3 + u8(in) % 3);
      bRange = 1;
    }
  }
  if (n > 0 && m->n + n > MAX_ENTRIES) return; /* beyond what the model holds */
  if (bRange) bValid = 0;

  char *zBefore = fuzzDump(r->db, "kv", 0);
  int rc = raftlite_append_to_log(r->p, a, n);
  if ((rc == SQLITE_OK) != bValid) {
    FUZZ_FAIL("append of %zu entries from %llu-%llu: rc %d (%s), the model says %s", n,
              n ? (unsigned long long)a[0].log_id.term : 0ULL,
              n ? (unsigned long long)a[0].log_id.index : 0ULL, rc, raftlite_errmsg(r->p),
              bValid ? "valid" : "refused");
  }
  if (rc != SQLITE_OK) {
    checkRefusal(r, "append_to_log", rc, zBefore, 0);
    sqlite3_free(zBefore);
    return;
  }
  sqlite3_free(zBefore);
  /* The log ends below last_applied: the append purged up to it first. */
  if (m->applied.has && idCmp(ref, m->applied) == 0 && idCmp(lastEntryId(m), m->applied) < 0) {
    m->n = 0;
    m->purged = m->applied;
  }
  if (m->n == 0) m->first = a[0].log_id.index;
  for (size_t i = 0; i < n; i++) {
    MEntry *w = &m->a[m->n++];
    w->term = a[i].log_id.term;
    w->kind = (int)a[i].kind;
    if (a[i].kind == RAFTLITE_MEMBERSHIP) {
      canonical(r, aMember[i], (char *)w->data);
      w->size = strlen((char *)w->data);
    } else {
      w->size = a[i].size;
      if (a[i].size) memcpy(w->data, a[i].data, a[i].size);
    }
  }
}

static void opTruncate(Run *r, Input *in) {
  Model *m = &r->m;
  raftlite_log_id since;
  uint64_t base = m->applied.has ? m->applied.index + 1 : (m->n ? m->first : 0);
  since.index = nearValue(in, base + u8(in) % 4);
  since.term = u8(in) % 4;
  char *zBefore = fuzzDump(r->db, "kv", 0);
  int rc = raftlite_delete_conflict_logs_since(r->p, since);
  if (rc != SQLITE_OK) {
    checkRefusal(r, "delete_conflict_logs_since", rc, zBefore, 0);
  } else {
    dropFrom(m, since.index);
  }
  sqlite3_free(zBefore);
}

static void opPurge(Run *r, Input *in) {
  Model *m = &r->m;
  raftlite_log_id upto;
  uint64_t base = m->purged.has ? m->purged.index : (m->n ? m->first : 0);
  upto.index = nearValue(in, base + u8(in) % 5);
  const MEntry *e = entryAt(m, upto.index);
  unsigned b = u8(in);
  upto.term = (e && b % 4 != 0) ? e->term : nearValue(in, b % 3);
  char *zBefore = fuzzDump(r->db, "kv", 0);
  int rc = raftlite_purge_logs_upto(r->p, upto);
  if (getenv("FUZZ_VERBOSE")) {
    fprintf(stderr, "purge_logs_upto(%llu-%llu): %d\n", (unsigned long long)upto.term,
            (unsigned long long)upto.index, rc);
  }
  if (rc != SQLITE_OK) {
    checkRefusal(r, "purge_logs_upto", rc, zBefore, 0);
  } else if (idCmp(mkId(upto.term, upto.index), m->purged) > 0) {
    /* upto <= last_purged as log ids is a no-op (raftlite.h); a greater
    ** term at the same index moves last_purged. */
    dropUpto(m, upto.index);
    m->purged = mkId(upto.term, upto.index);
  }
  sqlite3_free(zBefore);
}

static void opApply(Run *r, Input *in) {
  Model *m = &r->m;
  raftlite_entry a[4];
  size_t n = 1 + u8(in) % 4;
  uint64_t index = m->applied.has ? m->applied.index + 1 : (m->n ? m->first : 1);
  unsigned b = u8(in);
  if (b % 8 == 0) n = 0;
  if (b % 8 == 1) index = nearValue(in, index);
  for (size_t i = 0; i < n; i++) {
    const MEntry *e = entryAt(m, index + i);
    a[i].log_id.index = index + i;
    if (e) {
      a[i].log_id.term = e->term;
      a[i].kind = (raftlite_kind)e->kind;
      a[i].data = e->size ? e->data : NULL;
      a[i].size = e->size;
    } else {
      a[i].log_id.term = m->applied.has ? m->applied.term : 1;
      a[i].kind = RAFTLITE_BLANK;
      a[i].data = NULL;
      a[i].size = 0;
    }
    if (b % 8 == 2 && i == n - 1) a[i].log_id.term++; /* not the log's term */
  }
  raftlite_responses out = {0};
  char *zBefore = fuzzDump(r->db, "kv", 0);
  int rc = raftlite_apply_to_state_machine(r->p, a, n, &out);
  if (rc != SQLITE_OK) {
    if (out.n || out.a) FUZZ_FAIL("apply refused with %zu responses", out.n);
    checkRefusal(r, "apply_to_state_machine", rc, zBefore, 0);
    sqlite3_free(zBefore);
    return;
  }
  sqlite3_free(zBefore);
  if (out.n != n) FUZZ_FAIL("apply of %zu entries gave %zu responses", n, out.n);
  for (size_t i = 0; i < n; i++) {
    size_t want = a[i].kind == RAFTLITE_NORMAL ? a[i].size : 0;
    if (out.a[i].size != want) FUZZ_FAIL("response %zu: %zu bytes, want %zu", i, out.a[i].size, want);
    if (want && memcmp(out.a[i].data, a[i].data, want) != 0) FUZZ_FAIL("response %zu differs", i);
  }
  raftlite_responses_free(&out);
  m->applied = mkId(a[n - 1].log_id.term, a[n - 1].log_id.index);
  for (size_t i = 0; i < n; i++) {
    if (a[i].kind == RAFTLITE_MEMBERSHIP) {
      m->memberId = mkId(a[i].log_id.term, a[i].log_id.index);
      memcpy(m->member, a[i].data, a[i].size);
      m->member[a[i].size] = 0;
    }
  }
}

static void opHardState(Run *r, Input *in) {
  Model *m = &r->m;
  raftlite_hard_state hs;
  unsigned b = u8(in);
  hs.current_term = nearValue(in, m->hsTerm + (b % 3 == 0) - (b % 7 == 1 && m->hsTerm > 0));
  hs.has_vote = (b >> 3) & 1;
  hs.voted_for = (b & 0x40) ? nearValue(in, 0) : (b >> 4) % 3;
  int bValid;
  if (hs.current_term > U63_MAX || (hs.has_vote && hs.voted_for > U63_MAX)) {
    bValid = 0;
  } else if (!m->hasHs || hs.current_term > m->hsTerm) {
    bValid = 1;
  } else if (hs.current_term < m->hsTerm) {
    bValid = 0;
  } else {
    bValid = !m->hasVote || (hs.has_vote && hs.voted_for == m->hsVote);
  }
  char *zBefore = fuzzDump(r->db, "kv", 0);
  int rc = raftlite_save_hard_state(r->p, &hs);
  if ((rc == SQLITE_OK) != bValid) {
    FUZZ_FAIL("save_hard_state(%llu, %d, %llu) on (%d %llu %d %llu): rc %d (%s)",
              (unsigned long long)hs.current_term, hs.has_vote,
              (unsigned long long)hs.voted_for, m->hasHs, (unsigned long long)m->hsTerm,
              m->hasVote, (unsigned long long)m->hsVote, rc, raftlite_errmsg(r->p));
  }
  if (rc != SQLITE_OK) {
    checkRefusal(r, "save_hard_state", rc, zBefore, 0);
  } else {
    m->hasHs = 1;
    m->hsTerm = hs.current_term;
    m->hasVote = hs.has_vote;
    m->hsVote = hs.has_vote ? hs.voted_for : 0;
  }
  sqlite3_free(zBefore);
}

/* Reads a whole stream into a new buffer. */
static unsigned char *readAll(raftlite_snapshot *s, size_t *pN) {
  size_t nAlloc = 256, n = 0, got = 0;
  unsigned char *a = malloc(nAlloc);
  for (;;) {
    if (n + 100 > nAlloc) a = realloc(a, nAlloc *= 2);
    int rc = raftlite_snapshot_read(s, a + n, 100, &got);
    if (rc != SQLITE_OK) FUZZ_FAIL("snapshot_read: %d", rc);
    if (got == 0) break;
    n += got;
  }
  *pN = n;
  return a;
}

static void opBuild(Run *r, Input *in) {
  (void)in;
  raftlite_snapshot_meta meta;
  raftlite_snapshot *s = NULL;
  char *zBefore = fuzzDump(r->db, "kv", 0);
  int rc = raftlite_build_snapshot(r->p, &meta, &s);
  if (rc != SQLITE_OK) {
    if (rc != SQLITE_CONSTRAINT || raftlite_violation(r->p) != RAFTLITE_NOTHING_APPLIED ||
        r->m.applied.has) {
      FUZZ_FAIL("build_snapshot: %d %s", rc, raftlite_errmsg(r->p));
    }
    checkRefusal(r, "build_snapshot", rc, zBefore, 0);
    sqlite3_free(zBefore);
    return;
  }
  sqlite3_free(zBefore);
  checkIdEq("snapshot last_log_id", 1, meta.last_log_id, r->m.applied);
  checkIdEq("snapshot membership", meta.has_membership, meta.membership_log_id, r->m.memberId);
  free(r->aImage);
  r->aImage = readAll(s, &r->nImage);
  raftlite_snapshot_close(s);
  r->imageId = r->m.applied;
  r->imageMemberId = r->m.memberId;
  snprintf(r->zImageMember, MAX_PAYLOAD, "%s", meta.has_membership ? meta.membership_json : "");
  raftlite_snapshot_meta_free(&meta);
}

static void opInstall(Run *r, Input *in) {
  Model *m = &r->m;
  raftlite_snapshot *s = NULL;
  int rc = raftlite_begin_receiving_snapshot(r->p, &s);
  if (rc != SQLITE_OK) FUZZ_FAIL("begin_receiving_snapshot: %d %s", rc, raftlite_errmsg(r->p));
  unsigned b = u8(in);
  raftlite_snapshot_meta meta;
  memset(&meta, 0, sizeof(meta));
  snprintf(meta.snapshot_id, sizeof(meta.snapshot_id), "fuzz-%d", ++r->nSnap);
  char zMember[MAX_PAYLOAD];
  if ((b & 3) != 0 && r->aImage) {
    /* The last built image, in two writes (a seek back and forth). */
    size_t half = r->nImage / 2;
    if (raftlite_snapshot_write(s, r->aImage + half, r->nImage - half) != SQLITE_OK ||
        raftlite_snapshot_seek(s, 0, SEEK_SET, NULL) != SQLITE_OK ||
        (half && raftlite_snapshot_write(s, r->aImage, half) != SQLITE_OK)) {
      FUZZ_FAIL("receiving stream: %s", raftlite_errmsg(r->p));
    }
    /* Its own meta, or one moved ahead (the same state, a later id). */
    uint64_t ahead = (b >> 2) & 3;
    meta.last_log_id.term = r->imageId.term + ((b >> 4) & 1);
    meta.last_log_id.index = r->imageId.index + ahead;
    if (r->imageMemberId.has) {
      meta.has_membership = 1;
      meta.membership_log_id.term = r->imageMemberId.term;
      meta.membership_log_id.index = r->imageMemberId.index;
      snprintf(zMember, sizeof(zMember), "%s", r->zImageMember);
      meta.membership_json = zMember;
    }
  } else {
    /* Bytes from the input: the restore callback judges them. */
    size_t n = u8(in) % 32;
    unsigned char aBuf[32];
    for (size_t i = 0; i < n; i++) aBuf[i] = (unsigned char)u8(in);
    if (n && raftlite_snapshot_write(s, aBuf, n) != SQLITE_OK) {
      FUZZ_FAIL("receiving stream: %s", raftlite_errmsg(r->p));
    }
    Id base = m->applied.has ? m->applied : lastLogId(m);
    meta.last_log_id.term = nearValue(in, base.has ? base.term : 1);
    meta.last_log_id.index = nearValue(in, (base.has ? base.index : 0) + u8(in) % 3);
    unsigned c = u8(in);
    if (c & 1) {
      meta.has_membership = 1;
      meta.membership_log_id.term = meta.last_log_id.term;
      meta.membership_log_id.index = meta.last_log_id.index - (meta.last_log_id.index > 0);
      const char *z = (c & 2) ? azBadMember[(c >> 2) % N_BAD] : azGoodMember[(c >> 2) % N_GOOD];
      snprintf(zMember, sizeof(zMember), "%s", z);
      meta.membership_json = zMember;
    }
  }
  if (b == 0xFF) {
    raftlite_snapshot_close(s); /* abandoned: the bytes stay until reopen */
    return;
  }
  raftlite_sm_changes changes;
  char *zBefore = fuzzDump(r->db, "kv", 1);
  rc = raftlite_install_snapshot(r->p, &meta, s, &changes);
  if (rc != SQLITE_OK) {
    checkRefusal(r, "install_snapshot", rc, zBefore, 1);
    sqlite3_free(zBefore);
    return;
  }
  sqlite3_free(zBefore);
  Id last = mkId(meta.last_log_id.term, meta.last_log_id.index);
  if (!changes.has_last_applied || !changes.is_snapshot ||
      changes.last_applied.term != last.term || changes.last_applied.index != last.index) {
    FUZZ_FAIL("install_snapshot's changes differ from its meta");
  }
  const MEntry *e = entryAt(m, last.index);
  if (e && e->term == last.term) {
    dropUpto(m, last.index);
  } else {
    m->n = 0;
  }
  m->purged = last;
  m->applied = last;
  m->memberId.has = 0;
  m->member[0] = 0;
  if (meta.has_membership) {
    m->memberId = mkId(meta.membership_log_id.term, meta.membership_log_id.index);
    canonical(r, meta.membership_json, m->member);
  }
}

static void opInitialState(Run *r, Input *in) {
  (void)in;
  Model *m = &r->m;
  raftlite_log_state ls;
  raftlite_applied_state as;
  raftlite_hard_state hs;
  int hasHs = 0;
  int rc = raftlite_get_initial_state(r->p, &ls, &as, &hs, &hasHs);
  if (rc != SQLITE_OK) FUZZ_FAIL("get_initial_state: %d %s", rc, raftlite_errmsg(r->p));
  /* The log ending below last_applied is purged up to it first. */
  Id last = lastLogId(m);
  if (m->applied.has && (!last.has || last.index < m->applied.index)) {
    m->n = 0;
    m->purged = m->applied;
  }
  checkIdEq("initial last_purged", ls.has_last_purged, ls.last_purged_log_id, m->purged);
  checkIdEq("initial last_log_id", ls.has_last_log, ls.last_log_id, lastLogId(m));
  checkIdEq("initial last_applied", as.has_applied, as.last_applied, m->applied);
  if (hasHs != m->hasHs) FUZZ_FAIL("initial hard state: %d, model %d", hasHs, m->hasHs);
  raftlite_applied_state_free(&as);
}

static void opReads(Run *r, Input *in) {
  Model *m = &r->m;
  uint64_t base = m->n ? m->first : 0;
  uint64_t start = nearValue(in, base + u8(in) % 8);
  uint64_t stop = (u8(in) % 4 == 0) ? RAFTLITE_UNBOUNDED : nearValue(in, start + u8(in) % 8);
  raftlite_entries es = {0};
  int rc = raftlite_try_get_log_entries(r->p, start, stop, &es);
  int bRange = start > U63_MAX || (stop != RAFTLITE_UNBOUNDED && stop > U63_MAX);
  if (bRange) {
    if (rc == SQLITE_OK) FUZZ_FAIL("try_get_log_entries(%llu, %llu) accepted",
                                   (unsigned long long)start, (unsigned long long)stop);
  } else {
    if (rc != SQLITE_OK) FUZZ_FAIL("try_get_log_entries: %d %s", rc, raftlite_errmsg(r->p));
    size_t want = 0;
    for (size_t i = 0; i < m->n; i++) {
      uint64_t idx = m->first + i;
      if (idx >= start && (stop == RAFTLITE_UNBOUNDED || idx < stop)) {
        if (want >= es.n || es.a[want].log_id.index != idx) {
          FUZZ_FAIL("try_get_log_entries(%llu, %llu) misses %llu", (unsigned long long)start,
                    (unsigned long long)stop, (unsigned long long)idx);
        }
        want++;
      }
    }
    if (want != es.n) FUZZ_FAIL("try_get_log_entries: %zu entries, want %zu", es.n, want);
  }
  raftlite_entries_free(&es);

  uint64_t index = nearValue(in, base + u8(in) % 8);
  raftlite_log_id id;
  rc = raftlite_get_log_id(r->p, index, &id);
  const MEntry *e = entryAt(m, index);
  if (e) {
    if (rc != SQLITE_OK || id.term != e->term || id.index != index) {
      FUZZ_FAIL("get_log_id(%llu): %d", (unsigned long long)index, rc);
    }
  } else if (rc == SQLITE_OK) {
    /* The id of last_purged is known though its entry is gone. */
    if (!(m->purged.has && index == m->purged.index && id.term == m->purged.term)) {
      FUZZ_FAIL("get_log_id(%llu) found %llu-%llu, absent from the model",
                (unsigned long long)index, (unsigned long long)id.term,
                (unsigned long long)id.index);
    }
  }

  raftlite_applied_state ms;
  rc = raftlite_get_membership(r->p, &ms);
  if (rc != SQLITE_OK) FUZZ_FAIL("get_membership: %d", rc);
  /* The last membership entry above last_applied, else the applied one. */
  Id wantId = m->memberId;
  const char *zWant = m->member;
  for (size_t i = 0; i < m->n; i++) {
    uint64_t idx = m->first + i;
    if (m->a[i].kind == RAFTLITE_MEMBERSHIP && (!m->applied.has || idx > m->applied.index)) {
      wantId = mkId(m->a[i].term, idx);
      zWant = (const char *)m->a[i].data;
    }
  }
  checkIdEq("get_membership", ms.has_membership, ms.membership_log_id, wantId);
  if (ms.has_membership && strncmp(ms.membership_json, zWant, MAX_PAYLOAD) != 0) {
    FUZZ_FAIL("get_membership: %s, model %s", ms.membership_json, zWant);
  }
  raftlite_applied_state_free(&ms);

  raftlite_snapshot_meta meta;
  raftlite_snapshot *s = NULL;
  rc = raftlite_get_current_snapshot(r->p, &meta, &s);
  if (rc != SQLITE_OK) FUZZ_FAIL("get_current_snapshot: %d", rc);
  if (s) {
    size_t n = 0;
    free(readAll(s, &n));
    raftlite_snapshot_close(s);
    raftlite_snapshot_meta_free(&meta);
  }
}

static void opTxn(Run *r, Input *in) {
  if (!r->inTxn) {
    fuzzExec(r->db, "BEGIN");
    r->saved = r->m;
    r->inTxn = 1;
  } else if (u8(in) & 1) {
    fuzzExec(r->db, "COMMIT");
    r->inTxn = 0;
  } else {
    fuzzExec(r->db, "ROLLBACK");
    r->m = r->saved;
    r->inTxn = 0;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData) {
  if (nData > 4096) return 0;
  static Run run; /* large: not on the stack */
  Run *r = &run;
  memset(r, 0, sizeof(*r));
  Input in = {aData, nData, 0};
  r->db = fuzzOpen();
  fuzzExec(r->db, "CREATE TABLE kv(k INTEGER PRIMARY KEY, v BLOB NOT NULL)");
  if (raftlite_open(r->db, "main", &r->p) != SQLITE_OK) FUZZ_FAIL("raftlite_open failed");
  raftlite_state_machine sm = {NULL, kvApply, kvSnapshot, kvRestore};
  raftlite_set_state_machine(r->p, &sm);
  if (sqlite3_prepare_v2(r->db, "SELECT raft_check()", -1, &r->pCheck, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(r->db, "SELECT json(?)", -1, &r->pJson, NULL) != SQLITE_OK) {
    FUZZ_FAIL("prepare: %s", sqlite3_errmsg(r->db));
  }

  for (int nOp = 0; nOp < 48 && !atEnd(&in); nOp++) {
    int bAuto = sqlite3_get_autocommit(r->db);
    unsigned op = u8(&in) % 12;
    switch (op) {
      case 0: case 1: opAppend(r, &in); break;
      case 2: opTruncate(r, &in); break;
      case 3: opPurge(r, &in); break;
      case 4: case 5: opApply(r, &in); break;
      case 6: opHardState(r, &in); break;
      case 7: opBuild(r, &in); break;
      case 8: opInstall(r, &in); break;
      case 9: opInitialState(r, &in); break;
      case 10: opReads(r, &in); break;
      case 11: opTxn(r, &in); break;
    }
    fuzzFeature(raftlite_errmsg(r->p), op); /* each refusal of each call */
    if (getenv("FUZZ_VERBOSE")) {
      Id last = lastLogId(&r->m);
      fprintf(stderr, "op %u: %s | log %llu..%zu purged %llu-%llu applied %llu-%llu last %llu-%llu\n",
              op, raftlite_errmsg(r->p), (unsigned long long)r->m.first, r->m.n,
              (unsigned long long)r->m.purged.term, (unsigned long long)r->m.purged.index,
              (unsigned long long)r->m.applied.term, (unsigned long long)r->m.applied.index,
              (unsigned long long)last.term, (unsigned long long)last.index);
    }
    if (op != 11 && sqlite3_get_autocommit(r->db) != bAuto) {
      FUZZ_FAIL("operation %u left autocommit %d (was %d)", op,
                sqlite3_get_autocommit(r->db), bAuto);
    }
    checkModel(r);
  }
  /* raft_check() compares the schema with a reference store (about 6 ms):
  ** once per input. A broken rule stays broken, so it is still seen. */
  checkStore(r);

  sqlite3_finalize(r->pCheck);
  sqlite3_finalize(r->pJson);
  raftlite_close(r->p);
  if (sqlite3_close(r->db) != SQLITE_OK) FUZZ_FAIL("sqlite3_close: %s", sqlite3_errmsg(r->db));
  free(r->aImage);
  return 0;
}
