/*
** raftlite_int.h — internal header shared by the files in ext/.
**
** Not installed. Everything declared here has hidden visibility (the build
** uses -fvisibility=hidden); only include/raftlite.h is the public surface.
**
** Layers, bottom up:
**   value.c    strict decoding of SQL values (integers, entries)
**   errors.c   violation kinds, the message table, rlFail()
**   store.c    RlStore: statements, savepoints, durability check, state read
**   ops.c      the operations (docs/contract.md §2), one implementation each,
**              called by the SQL functions, the raft_log vtab and the C API
**              alike
**   snapshot.c snapshot streams over chunks, and the snapshot operations
**   sm_sql.c   the state machine declared in SQL (apply statement, images),
**              a raftlite_state_machine like an application's; rlSmFor()
**              picks the one each callback runs (ops.c, snapshot.c)
**   schema.c   raft_install(): runs the embedded sql/NNN_*.sql in a schema;
**              raft_check()
**   capi.c     include/raftlite.h over the operations
**   func_*.c   SQL functions; vtab_*.c virtual tables; raftlite.c registers
*/
#ifndef RAFTLITE_INT_H
#define RAFTLITE_INT_H

#include "sqlite3ext.h"
SQLITE_EXTENSION_INIT3

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "raftlite.h"

typedef sqlite3_int64 i64;

/* The oldest SQLite raftlite runs on: STRICT tables (3.37), built-in JSON
** and LIMIT/OFFSET in xBestIndex, sqlite3_vtab_rhs_value (3.38). */
#define RAFTLITE_MIN_SQLITE 3038000

/* Version of the stored schema (sql/NNN_*.sql); independent of the library
** version. Bump it with every change to sql/ and teach schema.c the
** upgrade. */
#define RAFTLITE_SCHEMA_VERSION 4

/* ------------------------------------------------------------------ */
/* Embedded schema (generated from sql/ by cmake/embed_sql.cmake).     */

typedef struct RlSqlFile {
  const char *zName; /* file name, e.g. "001_tables.sql"; NULL ends the list */
  const char *zSql;  /* its text */
} RlSqlFile;
extern const RlSqlFile raftliteSqlFiles[];

/* ------------------------------------------------------------------ */
/* value.c: strict decoding.                                           */

/* A log id whose presence is explicit ("none" is a valid value). */
typedef struct RlLogId {
  int has;
  i64 term;
  i64 index;
} RlLogId;

/* Formats "term-index", or "none". */
#define RL_LOGID_BUF 48
const char *rlLogIdText(const RlLogId *pId, char *zBuf);
int rlLogIdCmp(const RlLogId *a, const RlLogId *b); /* "none" sorts first */

/* Decodes an integer in 0..2^63-1 named zWhat. NULL, text, real, blob or a
** negative value is an error: SQLITE_MISMATCH or SQLITE_RANGE with a
** message in *pzErr (sqlite3_malloc'd). */
int rlValueU63(sqlite3_value *pVal, const char *zWhat, i64 *pOut, char **pzErr);

/* Decodes the kind and payload of an entry into *pOut (which points into
** the values' memory: valid while they are). */
int rlValueEntry(sqlite3_value *pIdx, sqlite3_value *pTerm,
                 sqlite3_value *pKind, sqlite3_value *pPayload,
                 raftlite_entry *pOut, char **pzErr);

/* Checks the payload of an entry given through the C API before anything
** reads it: data NULL with size > 0 is SQLITE_MISUSE; a size above nMax
** bytes (the connection's SQLITE_LIMIT_LENGTH) is SQLITE_RANGE with
** OutOfRange. On failure *pzErr holds the message (sqlite3_malloc'd; NULL
** on OOM) and *peKind its kind. */
int rlEntryPayloadCheck(const raftlite_entry *e, i64 nMax,
                        raftlite_violation_kind *peKind, char **pzErr);

/* Name of an entry kind ("normal"), or NULL for an unknown one. */
const char *rlKindName(int eKind);

/* ------------------------------------------------------------------ */
/* errors.c: the message table.                                        */

/* Every message raftlite composes, with the violation kind it reports.
** The texts are in errors.c, one line each. */
typedef enum RlMsg {
  RL_MSG_TERM_DOWN,
  RL_MSG_VOTE_CHANGED,
  RL_MSG_LOGS_EMPTY,
  RL_MSG_NOT_CONSECUTIVE,
  RL_MSG_NOT_CONSECUTIVE_BATCH,
  RL_MSG_APPLY_NOT_CONSECUTIVE,
  RL_MSG_APPLY_NOT_CONSECUTIVE_BATCH,
  RL_MSG_APPLY_MISMATCH,
  RL_MSG_PURGE_NOT_APPLIED,
  RL_MSG_PURGE_MISMATCH,
  RL_MSG_PURGE_BELOW_LAST,
  RL_MSG_PURGE_BELOW_PURGED,
  RL_MSG_PURGE_NEEDS_TERM,
  RL_MSG_TRUNCATE_APPLIED,
  RL_MSG_DIRTY_LOG,
  RL_MSG_NOT_FOUND,
  RL_MSG_INVALID_MEMBERSHIP,
  RL_MSG_OUT_OF_RANGE,
  RL_MSG_OUT_OF_RANGE_U64,
  RL_MSG_BAD_KIND,
  RL_MSG_BAD_PAYLOAD,
  RL_MSG_JSON_NOT_OBJECT,
  RL_MSG_JSON_UNKNOWN_KEYS,
  RL_MSG_APPLY_EMPTY,
  RL_MSG_SM_APPLY_FAILED,
  RL_MSG_BROKEN,
  RL_MSG_TXN_LOST,
  RL_MSG_CHECKS_OFF,
  RL_MSG_SM_RESTORE_REJECTED,
  RL_MSG_APPLY_BELOW,
  RL_MSG_NOT_DURABLE_DELETE,
  RL_MSG_PURGE_ABOVE_FIRST,
  RL_MSG_UPGRADE_MEMBERSHIP,
  RL_MSG_STREAM_HOLES,
  RL_MSG_SNAPSHOT_MEMBERSHIP,
  RL_MSG_STREAM_GONE,
  RL_MSG_SM_SNAPSHOT_FAILED,
  RL_MSG_NO_STREAM,
  RL_MSG_BAD_META,
  RL_MSG_SM_APPLY_SQL,
  RL_MSG_SM_APPLY_STMT_FAILED,
  RL_MSG_SM_NO_TABLE,
  RL_MSG_SM_NO_TABLES,
  RL_MSG_SM_IMAGE,
  RL_MSG_SNAPSHOT_INVALID,
  RL_MSG_SCHEMA_ARG,
  RL_MSG_PURGE_BELOW_FIRST,
  RL_MSG_PURGE_GAP,
  RL_MSG_NOTHING_APPLIED,
  RL_MSG_SNAPSHOT_STALE,
  RL_MSG_SNAPSHOT_ID,
  RL_MSG_NOT_RECEIVING,
  RL_MSG_STREAM_READ_ONLY,
  RL_MSG_SEEK,
  RL_MSG_SM_RESTORE_FAILED,
  RL_MSG_NOT_INSTALLED,
  RL_MSG_NOT_DURABLE_JOURNAL,
  RL_MSG_NOT_DURABLE_SYNC,
  RL_MSG_NOT_ATOMIC_JOURNAL,
  RL_MSG_WRITING_STATEMENT,
  RL_MSG_STORE_NEWER,
  RL_MSG_NO_SCHEMA,
  RL_MSG_TRIGGERS_OFF,
  RL_MSG_SM_IMAGE_FILE,
  RL_MSG_SM_INSTALL_FAILED,
  RL_MSG_STREAM_WRITE_RANGE,
  RL_MSG_STREAM_NULL_BUFFER,
  RL_MSG_SEEK_RANGE,
  RL_MSG_ENTRY_NULL_DATA,
  RL_MSG_ENTRY_TOO_BIG,
  RL_MSG_SEGMENT_DAMAGED,
  RL_MSG_UPGRADE_BROKEN,
  RL_MSG_NOT_BUILDING,
  RL_MSG_SNAPSHOT_DECLARED,
  RL_MSG_MEMBERSHIP_TERM_UNKNOWN,
  RL_MSG_COUNT
} RlMsg;

/* "TermNotAscending" for RAFTLITE_TERM_NOT_ASCENDING; "" for none. */
const char *rlViolationName(raftlite_violation_kind eKind);

/* The kind named in a trigger's RAISE text ("raft_log: DirtyLog"), or
** RAFTLITE_NO_VIOLATION when the text names none. */
raftlite_violation_kind rlViolationFromRaise(const char *zRaise);

/* Formats message eMsg with its arguments: "Kind: detail" (sqlite3_malloc'd;
** NULL on OOM). Sets *peKind to the message's violation kind and returns
** its result code. */
int rlMessage(RlMsg eMsg, raftlite_violation_kind *peKind, char **pzOut, ...);
int rlMessageV(RlMsg eMsg, raftlite_violation_kind *peKind, char **pzOut,
               va_list ap);

/* ------------------------------------------------------------------ */
/* store.c: one store = one schema on one connection.                  */

typedef enum RlStmtId {
  RL_STMT_SAVEPOINT,
  RL_STMT_RELEASE,
  RL_STMT_ROLLBACK_TO,
  RL_STMT_ROLLBACK,
  RL_STMT_BEGIN,
  RL_STMT_COMMIT,
  RL_STMT_IGNORE_CHECKS,
  RL_STMT_JOURNAL_MODE,
  RL_STMT_SYNCHRONOUS,
  RL_STMT_READ_STATE,
  RL_STMT_READ_ENTRY,
  RL_STMT_READ_ABOVE,
  RL_STMT_READ_SEGMENTS,
  RL_STMT_JSON_ENTRIES,
  RL_STMT_INSERT_SEGMENT,
  RL_STMT_SET_PURGED,
  RL_STMT_TRUNCATE,
  RL_STMT_SET_APPLIED,
  RL_STMT_SET_APPLIED_MEMBERSHIP,
  RL_STMT_READ_APPLIED,
  RL_STMT_READ_LOG_MEMBERSHIP,
  RL_STMT_READ_HARD_STATE,
  RL_STMT_SAVE_HARD_STATE,
  RL_STMT_CHUNK_ROWID,
  RL_STMT_CHUNK_INSERT,
  RL_STMT_SNAPSHOT_NEW,
  RL_STMT_SNAPSHOT_SET_SIZE,
  RL_STMT_SNAPSHOT_META,
  RL_STMT_SNAPSHOT_MAKE_CURRENT,
  RL_STMT_SNAPSHOT_INSTALL,
  RL_STMT_SCHEMA_VERSION,
  RL_STMT_SM_APPLY_SQL,
  RL_STMT_TEMP_SCHEMA_VERSION,
  RL_STMT_COUNT
} RlStmtId;

typedef struct RlStore RlStore;
struct RlStore {
  sqlite3 *db;
  char *zSchema;                      /* owned; "main", "aux", ... */
  int bPersistent;                    /* keep statements between calls */
  int bRelaxed;                       /* RAFTLITE_OPEN_RELAXED */
  int bInWritingStatement;            /* called from xUpdate: no savepoint */
  sqlite3_stmt *aStmt[RL_STMT_COUNT]; /* prepared lazily */
  raftlite_violation_kind eKind;      /* of the last failure */
  char *zErrMsg;                      /* of the last failure, or NULL */
  int bBroken;                        /* an I/O error on commit: no writes */
  int bDurableAtEpoch;                /* checkDurable passed at iDurableEpoch */
  sqlite3_uint64 iDurableEpoch;       /* ... the settings epoch (vfs_watch.c) */
  unsigned int nDepth;                /* rlBegin levels open; 1 savepoint */
  int bOuterTxn;                      /* the call opened the txn (BEGIN) */
  int rcStmt;                         /* why rlStmt() last returned NULL */
  raftlite_state_machine sm;          /* callbacks; NULL: the declared one */
  raftlite_state_machine smSql;       /* the declared one (sm_sql.c; ctx: this) */
  const raftlite_snapshot_meta *pRestoreMeta; /* install's, for smSql.restore */
  char *zSmApply;                     /* the declared apply statement's text */
  sqlite3_stmt *pSmApply;             /* ... prepared (sm_sql.c) */
  i64 iSmSchemaVersion;               /* schema versions it was prepared at */
  unsigned char *aRunPayloads;        /* an append's segment being built */
  i64 nRunPayloads, nRunPayloadsAlloc;
  unsigned char *aRunEnds;            /* ... and its end offsets */
  i64 nRunEnds, nRunEndsAlloc;
};

/* The C API's handle (capi.c). */
struct raftlite {
  RlStore store;
  raftlite_checkpointer *pCheckpointers; /* started on it, not yet stopped by
                                         ** close nor freed (checkpointer.c) */
};
/* checkpointer.c: stops the handle's checkpointers (raftlite_close()); the
** application frees them as before. */
void rlCheckpointersStop(raftlite *pHandle);

/* The checks every writing call makes first (rlBegin): triggers and CHECK
** constraints on, and settings under which a commit is durable. SQLITE_OK,
** or the refusal recorded on p. */
int rlCheckWritable(RlStore *p);
/* vfs_watch.c: the settings epoch of zSchema's file, when the file is
** opened through the "raftlite" VFS and in WAL mode (returns 1), else 0.
** An unchanged epoch means journal_mode and synchronous are unchanged. */
#define RL_FCNTL_SETTINGS_EPOCH 0x524c5745 /* "RLWE" */
int rlSettingsEpoch(sqlite3 *db, const char *zSchema, sqlite3_uint64 *pEpoch);

/* vtab_log.c: the store of the connected raft_log table of zSchema, lent
** to one SQL function call at a time (statements kept between calls), or
** NULL when there is none free; give it back with rlReturnStore(). */
RlStore *rlLendStore(sqlite3 *db, const char *zSchema);
void rlReturnStore(RlStore *p);

/* Sets up *p for schema zSchema (copied). bPersistent: prepare with
** SQLITE_PREPARE_PERSISTENT and keep statements until rlStoreClear(). */
int rlStoreInit(RlStore *p, sqlite3 *db, const char *zSchema, int bPersistent);
void rlStoreClear(RlStore *p); /* finalizes statements, frees memory */

/* zTemplate with each "$S" replaced by the quoted schema name
** (sqlite3_malloc'd; NULL on OOM). */
char *rlExpandSchema(const char *zTemplate, const char *zSchema);

/* The statement, reset and with its bindings cleared, or NULL with the
** error recorded on p. */
sqlite3_stmt *rlStmt(RlStore *p, RlStmtId eId);
/* SQLITE_OK, or SQLITE_ABORT when SQLite ended the call's transaction
** behind its back (then nothing more may be written). */
int rlCheckInCall(RlStore *p);
/* Whether rc says a resource ran out or was busy (memory, disk, a lock,
** an interrupt): an error that is no verdict on the input. */
int rlIsResourceError(int rc);

/* Records a failure: a composed message (rlFail) or the connection's error
** (rlFailSqlite, which recognises trigger RAISE texts). Both return rc. */
int rlFail(RlStore *p, RlMsg eMsg, ...);
int rlFailSqlite(RlStore *p, int rc);
/* Records a message already composed (owned; NULL means OOM). */
int rlFailOwned(RlStore *p, int rc, raftlite_violation_kind eKind, char *zMsg);
void rlResetError(RlStore *p);

/* Opens the operation's savepoint after checking the connection can make
** it durable (contract §5); rlEnd releases it on success and rolls it back
** otherwise, returning rc (or the release's error). */
int rlBegin(RlStore *p);
int rlEnd(RlStore *p, int rc);

/* The log state and applied state, read in one statement. */
typedef struct RlState {
  RlLogId first;      /* first present entry */
  RlLogId last;       /* last present entry, else last_purged */
  RlLogId purged;     /* last_purged_log_id */
  RlLogId applied;    /* last_applied */
  RlLogId membership; /* log id of the applied membership */
} RlState;
int rlReadState(RlStore *p, RlState *pState);

/* The applied state with the membership text (owned; rlAppliedStateFree). */
int rlReadApplied(RlStore *p, raftlite_applied_state *pOut);
void rlAppliedStateFree(raftlite_applied_state *s);

/* A sqlite3_malloc'd copy of n bytes plus a NUL; *ppOut is NULL for n == 0. */
int rlCopyBytes(const void *pData, size_t n, void **ppOut);

/* ------------------------------------------------------------------ */
/* ops.c: the operations (contract §2). Each is atomic.               */

/* A term or index given as u64: above 2^63-1 is OutOfRange. */
int rlCheckU64(RlStore *p, const char *zWhat, uint64_t v);
/* The term of the entry at iIndex, if the log holds one. */
int rlReadEntryTerm(RlStore *p, i64 iIndex, int *pbFound, i64 *piTerm);

/* Supplies entries one at a time: *pEof set at the end. Entries may point
** into memory valid only until the next call. */
typedef struct RlEntrySource RlEntrySource;
struct RlEntrySource {
  int (*xNext)(RlEntrySource *, raftlite_entry *pOut, int *pEof);
};

/* ------------------------------------------------------------------ */
/* segment.c: the log's segments (sql/001_tables.sql) read as entries.  */

/* The segments that may hold entries in [?1, ?2], in first_index order
** (zOrder "" or " DESC"), with last_purged's index (-1: none) as the
** last column. */
#define RL_SQL_READ_SEGMENTS(zOrder)                                       \
  "SELECT first_index, last_index, term, kind, payloads, ends,"            \
  " coalesce((SELECT purged_index FROM $S.raftlite_state), -1)"           \
  " FROM $S.raftlite_segment"                                              \
  " WHERE first_index >= coalesce((SELECT first_index"                     \
  "  FROM $S.raftlite_segment WHERE first_index <= ?1"                     \
  "  ORDER BY first_index DESC LIMIT 1), ?1)"                              \
  " AND first_index <= ?2 ORDER BY first_index" zOrder

/* Width of one end offset in raftlite_segment.ends. */
#define RL_END_WIDTH 10

/* An append cuts its runs into segments of at most this many payload bytes
** (an entry larger than that alone) and entries: a read of a few entries
** loads whole segments, so their size bounds what a read costs beyond what
** it returns, while a segment of 64 KiB still carries a 256-entry batch of
** 256-byte entries in one row (one trigger run). */
#define RL_SEGMENT_MAX_BYTES 65536
#define RL_SEGMENT_MAX_ENTRIES 1024

/* Reads the present entries of [iLo, iHi] from a statement of
** RL_SQL_READ_SEGMENTS. An entry's data points into the statement's row:
** valid until the next rlLogNext() or rlLogClose(). */
typedef struct RlLogReader {
  sqlite3_stmt *pStmt;
  int bDesc;
  i64 iLo, iHi;           /* what is left of the range */
  int bSeg;               /* on a segment */
  i64 iFirst, iLast, iTerm;
  raftlite_kind eKind;
  const unsigned char *aPayloads;
  i64 nPayloads;
  const unsigned char *aEnds;
  i64 nEnds;
  i64 iNext;              /* next index of the segment to return */
  i64 iKnownPos, iKnownEnd; /* one end offset already parsed: a walk in
                            ** order needs each offset once, not twice */
} RlLogReader;
/* Binds and starts pStmt (already reset) over [iLo, iHi]. */
void rlLogOpen(RlLogReader *r, sqlite3_stmt *pStmt, i64 iLo, i64 iHi, int bDesc);
/* The next entry, or *pbEof. SQLITE_CORRUPT when a segment's offsets do
** not fit its payloads (a store written with its rules off). */
int rlLogNext(RlLogReader *r, raftlite_entry *pOut, int *pbEof);
/* Resets the statement; returns its error, if any. */
int rlLogClose(RlLogReader *r);
/* Records a reader's failure rc on p (a damaged segment, or SQLite's). */
int rlLogFail(RlStore *p, const RlLogReader *r, int rc);

/* *pnEntries (when not NULL): how many entries were appended or removed. */
int rlSaveHardState(RlStore *p, i64 iTerm, int bHasVote, i64 iVote);
int rlAppend(RlStore *p, RlEntrySource *pSrc, i64 *pnEntries);
int rlTruncate(RlStore *p, i64 iIndex, i64 *pnEntries);
int rlPurge(RlStore *p, i64 iIndex, int bHasTerm, i64 iTerm, i64 *pnEntries);
/* purge_upto: rlPurge() without a term, which is also last_applied's when
** that is the id at iIndex (entries applied but never appended). */
int rlPurgeByIndex(RlStore *p, i64 iIndex);
/* raft_apply(n), raftlite_apply_upto(): applies the log from last_applied
** + 1 through iIndex; *piApplied is the new last_applied index (-1: none).
** pOut (may be NULL) gets one response per entry applied (empty on
** error). rlApplyUpTo() discards them. */
int rlApplyLog(RlStore *p, i64 iIndex, i64 *piApplied, raftlite_responses *pOut);
int rlApplyUpTo(RlStore *p, i64 iIndex, i64 *piApplied);
/* apply_to_state_machine: applies the n entries given, filling pOut with
** one response per entry (left empty on error). */
int rlApplyEntries(RlStore *p, const raftlite_entry *a, size_t n,
                   raftlite_responses *pOut);

/* ------------------------------------------------------------------ */
/* snapshot.c: snapshot streams and operations                         */

int rlReclaimReceiving(RlStore *p); /* drops streams a crash left behind */
int rlBeginReceiving(RlStore *p, raftlite_snapshot **ppStream);
int rlBuildSnapshot(RlStore *p, raftlite_snapshot_meta *pMeta,
                    raftlite_snapshot **ppStream);
int rlInstallSnapshot(RlStore *p, const raftlite_snapshot_meta *pMeta,
                      raftlite_snapshot *pData, raftlite_sm_changes *pOut);
/* commit_snapshot: the bytes of stream pData (taken, closed) become the
** current snapshot as of last_applied; *pMeta (may be NULL) its meta. */
int rlCommitSnapshot(RlStore *p, raftlite_snapshot *pData, raftlite_snapshot_meta *pMeta);
int rlGetCurrentSnapshot(RlStore *p, raftlite_snapshot_meta *pMeta,
                         raftlite_snapshot **ppStream);
/* A writable stream over receiving stream iRow (SQL: raft_snapshot_write). */
int rlOpenReceiving(RlStore *p, i64 iRow, raftlite_snapshot **ppStream);
i64 rlStreamId(const raftlite_snapshot *s); /* its raftlite_snapshot.id */

/* ------------------------------------------------------------------ */
/* sm_sql.c: the state machine declared in SQL                         */

/* Declares tables (a JSON array of names, or NULL) and the apply statement
** (NULL: none). *pnTables gets the number of tables declared. */
int rlSmDeclare(RlStore *p, const char *zTablesJson, const char *zApply, i64 *pnTables);

/* One state-machine interface. The state machine declared in SQL is a
** raftlite_state_machine like the one a C application sets (p->smSql,
** ctx p); with nothing declared it is the "none" machine (apply: an empty
** response; snapshot: no bytes; restore: reads none). rlSmFor() gives
** the machine that runs callback eCb — the C one when it has that
** callback, else the declared one — so that apply, build and install
** each have one path whatever the state machine is. The declared restore
** reads install's meta from p->pRestoreMeta (its image carries one). */
typedef enum RlSmCallback { RL_SM_APPLY, RL_SM_SNAPSHOT, RL_SM_RESTORE } RlSmCallback;
const raftlite_state_machine *rlSmFor(RlStore *p, RlSmCallback eCb);
/* Whether m is the declared machine, whose failures carry their own
** messages (a C callback's are composed by its caller). */
int rlSmIsDeclared(const RlStore *p, const raftlite_state_machine *m);
/* *pbDeclared: whether the store declares state-machine tables (then its
** snapshots are images the declared machine builds). */
int rlSmDeclared(RlStore *p, int *pbDeclared);
/* Prepares the declared apply statement (under its authorizer) when it is
** not ready and no C apply callback takes precedence; call it outside the
** store's savepoint, before rlBegin() of an operation that may apply
** (setting an authorizer expires every statement of the connection).
** Fails only for out of memory: an unusable statement is reported by the
** declared apply, which also prepares the statement itself when this was
** not called. */
int rlSmPrepare(RlStore *p);
/* Removes the private image files (<db>-raftlite-image-*) that a crash
** left next to the store's database: those of a process that is gone and
** that nobody holds locked. Call at open. */
int rlSmRemoveLeftoverImages(RlStore *p);

/* ------------------------------------------------------------------ */
/* schema.c                                                            */

/* Creates or upgrades the store in zSchema; a no-op when current. */
int rlInstall(RlStore *p);
/* Appends one "Kind: detail" line per problem to *pzReport (or leaves it
** NULL when all is well). */
int rlCheck(RlStore *p, char **pzReport);

/* ------------------------------------------------------------------ */
/* Registration, one function per file (called by raftlite.c).         */

/* The message refusing a host SQLite older than RAFTLITE_MIN_SQLITE
** (sqlite3_malloc'd), or NULL when iVersion is recent enough. */
char *rlCheckHostVersion(int iVersion, const char *zVersion);

int rlRegisterFuncHardState(sqlite3 *db);
int rlRegisterFuncAppend(sqlite3 *db);
int rlRegisterFuncTruncate(sqlite3 *db);
int rlRegisterFuncPurge(sqlite3 *db);
int rlRegisterFuncApply(sqlite3 *db);
int rlRegisterFuncMeta(sqlite3 *db);
int rlRegisterFuncStateMachine(sqlite3 *db);
int rlRegisterVtabLog(sqlite3 *db);
int rlRegisterVtabHardState(sqlite3 *db);
int rlRegisterVtabState(sqlite3 *db);
int rlRegisterVtabSnapshot(sqlite3 *db);
/* The operator's views (vtab_operator.h): eponymous, read-only. */
int rlRegisterVtabLogSummary(sqlite3 *db);
int rlRegisterVtabTerms(sqlite3 *db);
int rlRegisterVtabMemberships(sqlite3 *db);
int rlRegisterVtabUnapplied(sqlite3 *db);
int rlRegisterVtabSnapshots(sqlite3 *db);
int rlRegisterVtabSettings(sqlite3 *db);

/* func_common.c: shared by the SQL functions. */

/* The schema named by argument iArg when present ("main" otherwise), or
** NULL after reporting an error on ctx. */
const char *rlFuncSchema(sqlite3_context *ctx, const char *zFunc, int argc,
                         sqlite3_value **argv, int iArg);
/* Reports p's error on ctx as "zFunc: Kind: detail", with its code. */
void rlFuncError(sqlite3_context *ctx, const char *zFunc, RlStore *p, int rc);
/* Reports a value-decoding error (owned zErr) on ctx. */
void rlFuncValueError(sqlite3_context *ctx, const char *zFunc, int rc,
                      char *zErr);
/* Decodes an integer argument (rlValueU63); on failure reports it on ctx
** and returns 0. */
int rlFuncU63(sqlite3_context *ctx, const char *zFunc, sqlite3_value *pVal,
              const char *zName, i64 *pOut);
/* An operation a SQL function runs on its store, with the arguments it
** decoded; *piResult is the function's result (negative: NULL). */
typedef int (*RlFuncOp)(RlStore *p, void *pArg, i64 *piResult);
/* Runs xOp on the store of the schema in argv[iSchemaArg] ("main" when
** absent) and reports its result or error as function zFunc. */
void rlFuncRun(sqlite3_context *ctx, const char *zFunc, int argc,
               sqlite3_value **argv, int iSchemaArg, RlFuncOp xOp, void *pArg);
/* Registers xFunc as zName for every argument count nArgMin..nArgMax. */
int rlCreateFunction(sqlite3 *db, const char *zName, int nArgMin, int nArgMax,
                     int flags, void (*xFunc)(sqlite3_context *, int, sqlite3_value **));

#endif /* RAFTLITE_INT_H */
