/*
** errors.c — violation kinds and every message raftlite composes.
**
** Two kinds of text exist. The triggers in sql/ raise constant messages
** "<table>: <Kind>" (RAISE() takes only a literal); the operations add the
** ids involved and report "<Kind>: <detail>", which the SQL functions
** prefix with their own name:
**
**     raft_append: LogsNonConsecutive: last log id is 1-2, got 1-4
**
** All detail texts are in aMessage[] below, so that the same situation is
** always worded the same way.
*/
#include "raftlite_int.h"

#include <stdarg.h>
#include <string.h>

/* Violation kind <-> name, in the order of raftlite_violation_kind. */
static const char *const azViolation[] = {
    "",
    "TermNotAscending",
    "VotedForChanged",
    "LogsEmpty",
    "LogsNonConsecutive",
    "ApplyNonConsecutive",
    "PurgeNonApplied",
    "AppliedWontConflict",
    "DirtyLog",
    "LogIndexNotFound",
    "OutOfRange",
    "LogIdMismatch",
    "InvalidMembership",
    "NothingApplied",
    "SnapshotStale",
    "SnapshotInvalid",
};

const char *rlViolationName(raftlite_violation_kind eKind) {
  if ((int)eKind < 0 || (size_t)eKind >= sizeof(azViolation) / sizeof(azViolation[0])) {
    return "";
  }
  return azViolation[eKind];
}

raftlite_violation_kind rlViolationFromRaise(const char *zRaise) {
  const char *zName = zRaise ? strstr(zRaise, ": ") : NULL;
  if (zName == NULL) return RAFTLITE_NO_VIOLATION;
  zName += 2;
  for (size_t i = 1; i < sizeof(azViolation) / sizeof(azViolation[0]); i++) {
    if (strcmp(zName, azViolation[i]) == 0) return (raftlite_violation_kind)i;
  }
  return RAFTLITE_NO_VIOLATION;
}

/* One row per RlMsg: the kind it reports, its result code, its format. */
static const struct RlMessage {
  raftlite_violation_kind eKind;
  int rc;
  const char *zFormat;
} aMessage[] = {
    [RL_MSG_TERM_DOWN] = {RAFTLITE_TERM_NOT_ASCENDING, SQLITE_CONSTRAINT,
     "current term is %lld, got %lld"},
    [RL_MSG_VOTE_CHANGED] = {RAFTLITE_VOTED_FOR_CHANGED, SQLITE_CONSTRAINT,
     "term %lld already has a vote for %lld, got %s"},
    [RL_MSG_LOGS_EMPTY] = {RAFTLITE_LOGS_EMPTY, SQLITE_CONSTRAINT,
     "no entries to append"},
    [RL_MSG_NOT_CONSECUTIVE] = {RAFTLITE_LOGS_NON_CONSECUTIVE, SQLITE_CONSTRAINT,
     "%s is %s, got %s"},
    [RL_MSG_NOT_CONSECUTIVE_BATCH] = {RAFTLITE_LOGS_NON_CONSECUTIVE,
     SQLITE_CONSTRAINT, "the previous entry of the batch is %s, got %s"},
    [RL_MSG_APPLY_NOT_CONSECUTIVE] = {RAFTLITE_APPLY_NON_CONSECUTIVE,
     SQLITE_CONSTRAINT, "last applied log id is %s, got %s"},
    [RL_MSG_APPLY_NOT_CONSECUTIVE_BATCH] = {RAFTLITE_APPLY_NON_CONSECUTIVE,
     SQLITE_CONSTRAINT, "the previous entry of the batch is %s, got %s"},
    [RL_MSG_APPLY_MISMATCH] = {RAFTLITE_LOG_ID_MISMATCH, SQLITE_CONSTRAINT,
     "the log holds %s, got %s"},
    [RL_MSG_PURGE_NOT_APPLIED] = {RAFTLITE_PURGE_NON_APPLIED, SQLITE_CONSTRAINT,
     "last applied log id is %s, got %s"},
    [RL_MSG_PURGE_MISMATCH] = {RAFTLITE_LOG_ID_MISMATCH, SQLITE_CONSTRAINT,
     "the log holds %s, got %s"},
    [RL_MSG_PURGE_BELOW_LAST] = {RAFTLITE_LOG_ID_MISMATCH, SQLITE_CONSTRAINT,
     "last log id is %s, got %s"},
    [RL_MSG_PURGE_BELOW_PURGED] = {RAFTLITE_LOG_ID_MISMATCH, SQLITE_CONSTRAINT,
     "last purged log id is %s, got %s"},
    [RL_MSG_PURGE_NEEDS_TERM] = {RAFTLITE_LOG_INDEX_NOT_FOUND, SQLITE_NOTFOUND,
     "no log entry at index %lld (last log id is %s): give the term to purge "
     "past the last entry"},
    [RL_MSG_TRUNCATE_APPLIED] = {RAFTLITE_APPLIED_WONT_CONFLICT,
     SQLITE_CONSTRAINT, "last applied log id is %s, got index %lld"},
    [RL_MSG_DIRTY_LOG] = {RAFTLITE_DIRTY_LOG, SQLITE_CONSTRAINT,
     "applying %s would leave %s above it in the log"},
    [RL_MSG_NOT_FOUND] = {RAFTLITE_LOG_INDEX_NOT_FOUND, SQLITE_NOTFOUND,
     "no log entry at index %lld"},
    [RL_MSG_INVALID_MEMBERSHIP] = {RAFTLITE_INVALID_MEMBERSHIP,
     SQLITE_CONSTRAINT,
     "entry %s: not a membership (an array of one or two non-empty arrays "
     "of node ids, or {\"configs\": ..., \"nodes\": {...}}): %!.*s"},
    [RL_MSG_OUT_OF_RANGE] = {RAFTLITE_OUT_OF_RANGE, SQLITE_RANGE,
     "%s must be an integer between 0 and 9223372036854775807, got %s"},
    [RL_MSG_OUT_OF_RANGE_U64] = {RAFTLITE_OUT_OF_RANGE, SQLITE_RANGE,
     "%s must be an integer between 0 and 9223372036854775807, got %llu"},
    [RL_MSG_BAD_KIND] = {RAFTLITE_OUT_OF_RANGE, SQLITE_MISMATCH,
     "kind must be 'blank', 'normal' or 'membership', got %s"},
    [RL_MSG_BAD_PAYLOAD] = {RAFTLITE_OUT_OF_RANGE, SQLITE_MISMATCH,
     "a %s entry takes %s as payload, got %s"},
    [RL_MSG_JSON_NOT_OBJECT] = {RAFTLITE_OUT_OF_RANGE, SQLITE_MISMATCH,
     "element %lld of the array is of JSON type %s, not an entry object"},
    [RL_MSG_JSON_UNKNOWN_KEYS] = {RAFTLITE_OUT_OF_RANGE, SQLITE_MISMATCH,
     "element %lld of the array has unknown keys (%s); an entry has idx, "
     "term, kind and payload"},
    [RL_MSG_APPLY_EMPTY] = {RAFTLITE_LOGS_EMPTY, SQLITE_CONSTRAINT,
     "no entries to apply"},
    [RL_MSG_SM_APPLY_FAILED] = {RAFTLITE_NO_VIOLATION, SQLITE_ERROR,
     "the state machine's apply callback failed on entry %s with code %d "
     "(%s); nothing of the batch was applied"},
    [RL_MSG_TXN_LOST] = {RAFTLITE_NO_VIOLATION, SQLITE_ABORT,
     "SQLite rolled back the transaction during this call (after an "
     "out-of-memory or I/O error): the call stopped before writing outside "
     "it, and changed nothing"},
    [RL_MSG_STREAM_HOLES] = {RAFTLITE_SNAPSHOT_INVALID, SQLITE_CONSTRAINT,
     "the stream has bytes that were never written (a seek went past "
     "them): a snapshot is every byte of its size"},
    [RL_MSG_UPGRADE_MEMBERSHIP] = {RAFTLITE_INVALID_MEMBERSHIP, SQLITE_CONSTRAINT,
     "the store in schema \"%s\" cannot be upgraded: %s is not a membership "
     "this version accepts (canonical RFC 8259 JSON); the store is left "
     "as it was"},
    [RL_MSG_PURGE_ABOVE_FIRST] = {RAFTLITE_LOG_ID_MISMATCH, SQLITE_CONSTRAINT,
     "purging to %s would leave %s after it with a lower term (index and "
     "log id would disagree)"},
    [RL_MSG_NOT_DURABLE_DELETE] = {RAFTLITE_NO_VIOLATION, SQLITE_MISUSE,
     "PRAGMA %s.journal_mode is DELETE and synchronous is FULL (2): a "
     "commit is the journal's deletion, which survives a power cut only "
     "with synchronous=EXTRA; use EXTRA, or journal_mode WAL, TRUNCATE or "
     "PERSIST"},
    [RL_MSG_APPLY_BELOW] = {RAFTLITE_LOG_ID_MISMATCH, SQLITE_CONSTRAINT,
     "applying %s would leave %s below it in the log with a greater term "
     "(index and log id would disagree, and no later write could follow)"},
    [RL_MSG_SM_RESTORE_REJECTED] = {RAFTLITE_SNAPSHOT_INVALID, SQLITE_CONSTRAINT,
     "the state machine's restore callback rejected the snapshot's bytes "
     "with code %d (%s); nothing was installed"},
    [RL_MSG_CHECKS_OFF] = {RAFTLITE_NO_VIOLATION, SQLITE_MISUSE,
     "PRAGMA ignore_check_constraints is ON: the store's rules include "
     "CHECK constraints, so raftlite refuses to write; set it OFF"},
    [RL_MSG_BROKEN] = {RAFTLITE_NO_VIOLATION, SQLITE_IOERR,
     "an earlier commit failed with an I/O error: this handle refuses "
     "writes until the store is reopened"},
    [RL_MSG_SCHEMA_ARG] = {RAFTLITE_NO_VIOLATION, SQLITE_MISMATCH,
     "the schema argument must be text, e.g. 'main'"},
    [RL_MSG_PURGE_BELOW_FIRST] = {RAFTLITE_LOG_INDEX_NOT_FOUND, SQLITE_NOTFOUND,
     "no log entry at index %lld (the log holds %lld..%lld)"},
    [RL_MSG_PURGE_GAP] = {RAFTLITE_LOGS_NON_CONSECUTIVE, SQLITE_CONSTRAINT,
     "the log starts at index %lld: purging to %s would leave a hole"},
    [RL_MSG_NOTHING_APPLIED] = {RAFTLITE_NOTHING_APPLIED, SQLITE_CONSTRAINT,
     "nothing was applied: there is nothing to snapshot"},
    [RL_MSG_SNAPSHOT_STALE] = {RAFTLITE_SNAPSHOT_STALE, SQLITE_CONSTRAINT,
     "last applied log id is %s, got a snapshot up to %s"},
    [RL_MSG_SNAPSHOT_ID] = {RAFTLITE_OUT_OF_RANGE, SQLITE_MISMATCH,
     "snapshot_id must be a NUL-terminated string of 1 to 127 bytes"},
    [RL_MSG_NOT_RECEIVING] = {RAFTLITE_NO_VIOLATION, SQLITE_MISUSE,
     "install_snapshot takes a stream from begin_receiving_snapshot of the "
     "same store"},
    [RL_MSG_STREAM_READ_ONLY] = {RAFTLITE_NO_VIOLATION, SQLITE_READONLY,
     "this snapshot stream is read-only (only a receiving stream is written)"},
    [RL_MSG_SEEK] = {RAFTLITE_OUT_OF_RANGE, SQLITE_RANGE,
     "cannot seek by %lld from whence %d"},
    [RL_MSG_SM_RESTORE_FAILED] = {RAFTLITE_NO_VIOLATION, SQLITE_ERROR,
     "the state machine's restore callback failed with code %d (%s); "
     "nothing was installed"},
    [RL_MSG_SM_APPLY_SQL] = {RAFTLITE_NO_VIOLATION, SQLITE_ERROR,
     "the apply statement cannot be used: %s (it may read and write the "
     "declared tables only)"},
    [RL_MSG_SM_APPLY_STMT_FAILED] = {RAFTLITE_NO_VIOLATION, SQLITE_ERROR,
     "the apply statement failed on entry %s: %s; nothing of the batch was "
     "applied"},
    [RL_MSG_SM_NO_TABLE] = {RAFTLITE_NO_VIOLATION, SQLITE_ERROR,
     "no table \"%s\" in schema \"%s\" (the state machine's tables live in "
     "the store's schema)"},
    [RL_MSG_SM_NO_TABLES] = {RAFTLITE_NO_VIOLATION, SQLITE_ERROR,
     "an apply statement needs at least one declared table"},
    [RL_MSG_SM_IMAGE] = {RAFTLITE_NO_VIOLATION, SQLITE_ERROR,
     "building the snapshot image failed: %s"},
    [RL_MSG_SNAPSHOT_INVALID] = {RAFTLITE_SNAPSHOT_INVALID, SQLITE_CONSTRAINT,
     "the snapshot image is not a valid image of the declared tables: %s"},
    [RL_MSG_NO_STREAM] = {RAFTLITE_NO_VIOLATION, SQLITE_NOTFOUND,
     "no receiving snapshot stream %lld (see raft_snapshot_begin())"},
    [RL_MSG_BAD_META] = {RAFTLITE_OUT_OF_RANGE, SQLITE_MISMATCH,
     "the meta must be a JSON object {\"snapshot_id\": text, \"last_log_id\": "
     "[term, index], \"membership\": ..., \"membership_log_id\": [term, "
     "index]}: %s"},
    [RL_MSG_STREAM_GONE] = {RAFTLITE_NO_VIOLATION, SQLITE_ABORT,
     "the snapshot this stream reads was replaced or removed"},
    [RL_MSG_SM_SNAPSHOT_FAILED] = {RAFTLITE_NO_VIOLATION, SQLITE_ERROR,
     "the state machine's snapshot callback failed with code %d (%s); no "
     "snapshot was built"},
    [RL_MSG_SNAPSHOT_MEMBERSHIP] = {RAFTLITE_INVALID_MEMBERSHIP, SQLITE_CONSTRAINT,
     "the snapshot's membership at %s is not a valid membership at or below "
     "its last log id %s: %!.*s"},
    [RL_MSG_NOT_INSTALLED] = {RAFTLITE_NO_VIOLATION, SQLITE_ERROR,
     "no raftlite store in schema \"%s\": run SELECT raft_install('%s')"},
    [RL_MSG_NOT_DURABLE_JOURNAL] = {RAFTLITE_NO_VIOLATION, SQLITE_MISUSE,
     "PRAGMA %s.journal_mode is %s: a successful call would not be durable; "
     "use DELETE, TRUNCATE, PERSIST or WAL"},
    [RL_MSG_NOT_ATOMIC_JOURNAL] = {RAFTLITE_NO_VIOLATION, SQLITE_MISUSE,
     "PRAGMA %s.journal_mode is OFF: a failed call could not be rolled "
     "back; use any other journal mode"},
    [RL_MSG_NOT_DURABLE_SYNC] = {RAFTLITE_NO_VIOLATION, SQLITE_MISUSE,
     "PRAGMA %s.synchronous is %s: a successful call would not be durable; "
     "use FULL or EXTRA"},
    [RL_MSG_WRITING_STATEMENT] = {RAFTLITE_NO_VIOLATION, SQLITE_ERROR,
     "cannot run inside a statement that is itself writing "
     "(INSERT ... SELECT, UPDATE, a trigger); call it from a SELECT of its "
     "own"},
    [RL_MSG_STORE_NEWER] = {RAFTLITE_NO_VIOLATION, SQLITE_ERROR,
     "the store in schema \"%s\" has schema version %lld, newer than this "
     "library's %d: use a newer raftlite"},
    [RL_MSG_NO_SCHEMA] = {RAFTLITE_NO_VIOLATION, SQLITE_ERROR,
     "no database named \"%s\""},
    [RL_MSG_TRIGGERS_OFF] = {RAFTLITE_NO_VIOLATION, SQLITE_MISUSE,
     "triggers are disabled on this connection "
     "(SQLITE_DBCONFIG_ENABLE_TRIGGER): the store's rules would not be "
     "enforced"},
    [RL_MSG_SM_IMAGE_FILE] = {RAFTLITE_NO_VIOLATION, SQLITE_IOERR,
     "the snapshot's private image file: %s"},
    [RL_MSG_SM_INSTALL_FAILED] = {RAFTLITE_NO_VIOLATION, SQLITE_ERROR,
     "installing the snapshot image could not be done (this is no verdict on "
     "the image): %s"},
    [RL_MSG_STREAM_WRITE_RANGE] = {RAFTLITE_OUT_OF_RANGE, SQLITE_RANGE,
     "a write of %llu bytes at position %lld would end past "
     "9223372036854775807, the largest stream position (at most %lld more "
     "bytes fit there)"},
    [RL_MSG_STREAM_NULL_BUFFER] = {RAFTLITE_NO_VIOLATION, SQLITE_MISUSE,
     "snapshot stream %s of %llu bytes with a NULL buffer"},
    [RL_MSG_SEEK_RANGE] = {RAFTLITE_OUT_OF_RANGE, SQLITE_RANGE,
     "seeking by %lld from %s (%lld) would leave the stream positions "
     "0..9223372036854775807"},
    [RL_MSG_ENTRY_NULL_DATA] = {RAFTLITE_NO_VIOLATION, SQLITE_MISUSE,
     "entry %s has size %llu but data NULL (data may be NULL only when "
     "size is 0)"},
    [RL_MSG_ENTRY_TOO_BIG] = {RAFTLITE_OUT_OF_RANGE, SQLITE_RANGE,
     "entry %s has a payload of %llu bytes, more than the %lld bytes the "
     "connection stores in a value (SQLITE_LIMIT_LENGTH)"},
    [RL_MSG_SEGMENT_DAMAGED] = {RAFTLITE_NO_VIOLATION, SQLITE_CORRUPT,
     "the log segment starting at index %lld is damaged (its end offsets do "
     "not fit its payloads); run raft_check() for details"},
    [RL_MSG_UPGRADE_BROKEN] = {RAFTLITE_NO_VIOLATION, SQLITE_CONSTRAINT,
     "the store in schema \"%s\" cannot be upgraded: it breaks a rule (%s); "
     "the store is left as it was (raft_check() lists every problem)"},
    [RL_MSG_NOT_BUILDING] = {RAFTLITE_NO_VIOLATION, SQLITE_MISUSE,
     "commit_snapshot takes a writable stream from begin_snapshot (or "
     "begin_receiving_snapshot) of the same store"},
    [RL_MSG_SNAPSHOT_DECLARED] = {RAFTLITE_SNAPSHOT_INVALID, SQLITE_CONSTRAINT,
     "the store's state machine is declared in SQL (raft_state_machine) "
     "with no C snapshot callback: its snapshots are SQLite images of the "
     "declared tables that raftlite builds; use build_snapshot, or set a C "
     "state machine with a snapshot callback"},
};

_Static_assert(sizeof(aMessage) / sizeof(aMessage[0]) == RL_MSG_COUNT,
               "every RlMsg has a row in aMessage[]");

int rlMessageV(RlMsg eMsg, raftlite_violation_kind *peKind, char **pzOut,
               va_list ap) {
  const struct RlMessage *pMsg = &aMessage[eMsg];
  char *zDetail = sqlite3_vmprintf(pMsg->zFormat, ap);
  if (pMsg->eKind != RAFTLITE_NO_VIOLATION) {
    *pzOut = zDetail ? sqlite3_mprintf("%s: %s", azViolation[pMsg->eKind],
                                       zDetail)
                     : NULL;
    sqlite3_free(zDetail);
  } else {
    *pzOut = zDetail;
  }
  *peKind = pMsg->eKind;
  return pMsg->rc;
}

int rlMessage(RlMsg eMsg, raftlite_violation_kind *peKind, char **pzOut, ...) {
  va_list ap;
  va_start(ap, pzOut);
  int rc = rlMessageV(eMsg, peKind, pzOut, ap);
  va_end(ap);
  return rc;
}
