/*
** vtab_log_summary.c — raft_log_summary: the log in one row.
**
**     SELECT entries, payload_bytes FROM raft_log_summary;
**     SELECT * FROM raft_log_summary('aux');
**
** Declared schema:
**
**     CREATE TABLE x(first_log_term INTEGER, first_log_index INTEGER,
**                    last_log_term INTEGER, last_log_index INTEGER,
**                    entries INTEGER, payload_bytes INTEGER,
**                    normal_entries INTEGER, normal_bytes INTEGER,
**                    membership_entries INTEGER, membership_bytes INTEGER,
**                    blank_entries INTEGER, segments INTEGER,
**                    schema HIDDEN)
**
** The present entries only (above last_purged): first and last log id
** (NULL when the log is empty, where raft_state shows last_purged), how
** many, and the bytes of their payloads, in all and per kind (a blank
** entry has none).
**
** HOW IT WORKS. One aggregate pass over raftlite_segment, one row per
** segment, never one per entry: a segment of n entries counts n, and its
** bytes are length(payloads). SQLite answers length() of a blob from the
** record header, without reading the blob's overflow pages (the
** OPFLAG_LENGTHARG optimisation; tests/c/test_operator.c counts the pages
** read). A membership's payload is text, whose length() counts
** characters: its bytes are its one end offset (`ends`, 10 digits). The
** one segment a purge cut through also reads its `ends` to take off the
** hidden entries' bytes.
*/
#include "vtab_operator.h"

/* Per segment g, with p = last_purged's index (-1: none): its present
** entries lo..last_index, lo = max(first_index, p + 1), and their bytes. */
#define SEG_LO "max(g.first_index, s.p + 1)"
#define SEG_N "(g.last_index - " SEG_LO " + 1)"
#define SEG_BYTES                                                          \
  "(CASE WHEN g.kind = 'membership' THEN CAST(g.ends AS INTEGER)"         \
  " ELSE length(g.payloads) END"                                          \
  " - CASE WHEN s.p >= g.first_index"                                     \
  " THEN CAST(substr(g.ends, 10 * (s.p - g.first_index) + 1, 10) AS INTEGER)" \
  " ELSE 0 END)"

static const RlOpView logSummaryView = {
    "raft_log_summary",
    "first_log_term INTEGER, first_log_index INTEGER, last_log_term INTEGER,"
    " last_log_index INTEGER, entries INTEGER, payload_bytes INTEGER,"
    " normal_entries INTEGER, normal_bytes INTEGER,"
    " membership_entries INTEGER, membership_bytes INTEGER,"
    " blank_entries INTEGER, segments INTEGER",
    12,
    {"SELECT"
     " (SELECT term FROM $S.raftlite_segment ORDER BY first_index LIMIT 1),"
     " min(" SEG_LO "),"
     " (SELECT term FROM $S.raftlite_segment ORDER BY first_index DESC LIMIT 1),"
     " max(g.last_index),"
     " coalesce(sum(" SEG_N "), 0),"
     " coalesce(sum(" SEG_BYTES "), 0),"
     " coalesce(sum(CASE WHEN g.kind = 'normal' THEN " SEG_N " END), 0),"
     " coalesce(sum(CASE WHEN g.kind = 'normal' THEN " SEG_BYTES " END), 0),"
     " coalesce(sum(CASE WHEN g.kind = 'membership' THEN " SEG_N " END), 0),"
     " coalesce(sum(CASE WHEN g.kind = 'membership' THEN " SEG_BYTES " END), 0),"
     " coalesce(sum(CASE WHEN g.kind = 'blank' THEN " SEG_N " END), 0),"
     " count(g.first_index)"
     " FROM (SELECT coalesce(purged_index, -1) AS p FROM $S.raftlite_state) AS s"
     " LEFT JOIN $S.raftlite_segment AS g ON g.last_index > s.p"},
    RL_OP_ONE_QUERY,
    0,    /* an operator's view */
    NULL,
};

int rlRegisterVtabLogSummary(sqlite3 *db) {
  return rlRegisterOpView(db, &logSummaryView);
}
