/*
** raftlite.h — a Raft node's storage in SQLite tables.
**
** raftlite keeps a Raft node's hard state, log, state-machine progress and
** snapshots in ordinary tables of a SQLite database, guarded by triggers so
** that no writer — this library, an application, or an operator typing into
** the sqlite3 shell — can store a state that breaks the rules of the
** storage contract (docs/contract.md §2).
**
** This header is the whole public C surface. It declares:
**   - the version of the library;
**   - the registration entry points of the SQL surface (raft_log,
**     raft_append(), ... — see docs/sql.md for the SQL reference);
**   - the value types of the storage contract (log ids, entries, ...),
**     shaped after openraft's RaftStorage trait.
**
** Building with it
**   An installed raftlite (cmake --install; docs/install.md) is found by
**   pkg-config or CMake; both also bring in SQLite (3.38.0 or later):
**
**       cc app.c $(pkg-config --cflags --libs raftlite)
**
**       find_package(raftlite REQUIRED)
**       target_link_libraries(app PRIVATE raftlite::raftlite)
**
**   (raftlite::raftlite_static for the static library.) The library is
**   compiled with SQLITE_CORE and calls the libsqlite3 it is linked to.
**
** Loading it into a host's SQLite instead (no linking): the loadable
** module, installed as <libdir>/raftlite/raftlite.so, is what hosts load:
**
**       sqlite> .load /usr/local/lib/raftlite/raftlite
**       sqlite3_load_extension(db, "/usr/local/lib/raftlite/raftlite", 0, &zErr);
**
**   Not libraftlite.so, which SQLite refuses to load (see raftlite_init()).
**
** Caveats
**   - Terms, indexes and node ids are uint64_t in the types, but SQLite
**     integers are signed: values above 2^63-1 are rejected, never wrapped.
**   - One thread at a time per connection, as for the sqlite3* itself.
*/
#ifndef RAFTLITE_H
#define RAFTLITE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
** RAFTLITE_API marks the public functions, which are all of, and the only,
** symbols libraftlite.so exports (the rest is built with hidden visibility;
** tests/install/symbols.cmake checks the list against this header). The
** loadable module defines it empty: the module exports its entry point only.
*/
#ifndef RAFTLITE_API
#if defined(_WIN32)
#define RAFTLITE_API __declspec(dllexport)
#else
#define RAFTLITE_API __attribute__((visibility("default")))
#endif
#endif

/*
** The version, written once: these three numbers. CMakeLists.txt reads
** them (the project version, the shared library's VERSION and SOVERSION,
** raftlite.pc, the CMake package's version file); the macros below are
** made from them.
*/
#define RAFTLITE_VERSION_MAJOR 0
#define RAFTLITE_VERSION_MINOR 1
#define RAFTLITE_VERSION_PATCH 0

#define RAFTLITE_STRINGIFY_(x) #x
#define RAFTLITE_XSTRINGIFY_(x) RAFTLITE_STRINGIFY_(x)
/* "0.1.0", a string literal */
#define RAFTLITE_VERSION                           \
  RAFTLITE_XSTRINGIFY_(RAFTLITE_VERSION_MAJOR) "." \
  RAFTLITE_XSTRINGIFY_(RAFTLITE_VERSION_MINOR) "." \
  RAFTLITE_XSTRINGIFY_(RAFTLITE_VERSION_PATCH)
/* major*1000000 + minor*1000 + patch (1000 for 0.1.0), as sqlite3.h's */
#define RAFTLITE_VERSION_NUMBER                                       \
  (RAFTLITE_VERSION_MAJOR * 1000000 + RAFTLITE_VERSION_MINOR * 1000 + \
   RAFTLITE_VERSION_PATCH)

/* The version of the library linked, RAFTLITE_VERSION when it was built.
** SQL: raft_version(). */
RAFTLITE_API const char *raftlite_libversion(void);

/*
** Registers raftlite's SQL functions and virtual-table modules on one
** connection. Creates nothing in any database: raft_install() does that.
** Returns SQLITE_OK, or SQLITE_ERROR when the SQLite library is older than
** 3.38.0, or the error of a failed registration.
*/
RAFTLITE_API int raftlite_register(sqlite3 *db);

/*
** raftlite_register() with the signature sqlite3_auto_extension() expects,
** for an application linked to the library:
**
**     sqlite3_auto_extension((void (*)(void))raftlite_init);
**
** registers raftlite on every connection opened afterwards. On failure
** *pzErrMsg holds a message (sqlite3_malloc'd, freed by SQLite).
**
** pApi is NULL or the API table of the SQLite the library is linked to;
** a table from another copy of SQLite is refused (SQLITE_ERROR): that
** copy's connections are not the library's to touch.
**
** This is not a loadable entry point. SQLite's load_extension() looks for
** sqlite3_<name>_init, <name> taken from the file name, and the library
** exports no such symbol: loading libraftlite.so fails (a host carrying
** its own SQLite, such as Node's better-sqlite3, would otherwise run the
** library on a second SQLite and crash). The loadable module exports
** sqlite3_raftlite_init and runs on the host's SQLite.
*/
RAFTLITE_API int raftlite_init(sqlite3 *db, char **pzErrMsg,
                               const sqlite3_api_routines *pApi);

/* The former name of raftlite_init() for C code; not a symbol of the
** library (see above). */
#define sqlite3_raftlite_init raftlite_init

/*
** The "raftlite" VFS: the default VFS, plus a watch on the settings that
** make a commit durable (docs/contract.md §5).
**
** Every writing call checks that its schema's journal_mode and synchronous
** keep a commit durable. SQLite reads these only through PRAGMA
** statements, compiled anew each time they run: about 2.5 µs a call. A
** connection opened through this VFS tells raftlite when a setting may
** have changed (a PRAGMA that sets a value, the WAL opened or closed), and
** the check runs its PRAGMAs only then. The guarantee is the same: a call
** on a connection whose settings would make it non-durable is refused.
** Only a schema in WAL mode is watched; in a rollback journal mode every
** call checks as before.
**
**     raftlite_vfs_register(NULL);
**     sqlite3_open_v2("node.db", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
**                     RAFTLITE_VFS);
**
** or the URI parameter vfs=raftlite. The VFS wraps zBase, the name of a
** registered VFS (NULL: the default one), and changes nothing else: same
** files, same locks, interoperable with connections opened without it. It
** is not made the default. Registering again over the same VFS does
** nothing. Returns SQLITE_OK; SQLITE_ERROR when zBase names no VFS;
** SQLITE_MISUSE when "raftlite" already wraps another VFS.
*/
#define RAFTLITE_VFS "raftlite"
RAFTLITE_API int raftlite_vfs_register(const char *zBase);

/* ==================================================================== */
/* Value types of the storage contract (contract §1, §6)                */
/* ==================================================================== */

/* A log id: ordered by term, then index. */
typedef struct raftlite_log_id {
  uint64_t term, index;
} raftlite_log_id;

/* The hard state: the current term and the vote cast in it, if any. */
typedef struct raftlite_hard_state {
  uint64_t current_term;
  int has_vote;       /* 0: no vote; voted_for is then ignored */
  uint64_t voted_for; /* 0 is a valid node id */
} raftlite_hard_state;

/* The log state. last_log_id is the last present entry, or last_purged
** when the log is empty, or none. */
typedef struct raftlite_log_state {
  int has_last_purged;
  raftlite_log_id last_purged_log_id;
  int has_last_log;
  raftlite_log_id last_log_id;
} raftlite_log_state;

typedef enum raftlite_kind {
  RAFTLITE_BLANK = 0,     /* no payload (stored as an empty blob) */
  RAFTLITE_NORMAL = 1,    /* application bytes, any length, NULs included */
  RAFTLITE_MEMBERSHIP = 2 /* JSON text, contract §1 */
} raftlite_kind;

/* A log entry. Entries passed in are read during the call only; entries
** returned point into memory owned by their raftlite_entries. */
typedef struct raftlite_entry {
  raftlite_log_id log_id;
  raftlite_kind kind;
  const void *data; /* the payload; may be NULL when size is 0 */
  size_t size;
} raftlite_entry;

typedef struct raftlite_entries {
  raftlite_entry *a;
  size_t n;
} raftlite_entries;

/* The applied state: last_applied, and the applied membership with the log
** id that carried it. membership_json is owned by the struct: free it with
** raftlite_applied_state_free(). */
typedef struct raftlite_applied_state {
  int has_applied;
  raftlite_log_id last_applied;
  int has_membership;
  raftlite_log_id membership_log_id;
  char *membership_json;
} raftlite_applied_state;

/* What applying one entry returned: bytes allocated with sqlite3_malloc(),
** owned by whoever holds the struct. */
typedef struct raftlite_response {
  void *data;
  size_t size;
} raftlite_response;

typedef struct raftlite_responses {
  raftlite_response *a;
  size_t n;
} raftlite_responses;

/* A snapshot's meta. membership_json is owned by the struct: free it with
** raftlite_snapshot_meta_free() when raftlite filled it in.
** membership_term_unknown (given to install only; 0 otherwise): the
** membership is known by its index alone (canonical/raft's InstallSnapshot
** carries no term for it), membership_log_id.term is ignored, and install
** resolves it (see raftlite_install_snapshot()). */
typedef struct raftlite_snapshot_meta {
  raftlite_log_id last_log_id;
  char snapshot_id[128]; /* NUL-terminated, unique within the store */
  int has_membership;
  raftlite_log_id membership_log_id;
  char *membership_json;
  int membership_term_unknown;
} raftlite_snapshot_meta;

/* What install_snapshot changed. */
typedef struct raftlite_sm_changes {
  int has_last_applied;
  raftlite_log_id last_applied;
  int is_snapshot;
} raftlite_sm_changes;

/*
** The application's state machine. Every callback runs inside the store's
** transaction (a savepoint) on the store's connection db, so that what it
** writes to its own tables commits or rolls back with last_applied. A
** callback returns SQLITE_OK, or an SQLite result code that fails the call:
** the code is passed through and the store is left unchanged.
**
**   apply     applies one normal entry (blank and membership entries never
**             reach it) and may set *out to response bytes allocated with
**             sqlite3_malloc() (the store takes ownership).
**   snapshot  writes the state machine's content to w (raftlite_snapshot_
**             write); called by raftlite_build_snapshot().
**   restore   replaces the state machine's content by what r holds, read
**             from offset 0 (exactly the bytes snapshot wrote); called by
**             raftlite_install_snapshot().
** A NULL callback falls back to the state machine declared in SQL with
** raft_state_machine(), if the store has one: its apply statement, and an
** SQLite image of its tables as the snapshot (checked on restore). With
** no declaration either, it is a no-op: apply gives an empty response,
** snapshot writes no bytes, restore reads none. See docs/c-api.md.
*/
typedef struct raftlite_snapshot raftlite_snapshot; /* a byte stream */
typedef struct raftlite_state_machine {
  void *ctx;
  int (*apply)(void *ctx, sqlite3 *db, const raftlite_entry *e, raftlite_response *out);
  int (*snapshot)(void *ctx, sqlite3 *db, raftlite_snapshot *w);
  int (*restore)(void *ctx, sqlite3 *db, raftlite_snapshot *r);
} raftlite_state_machine;

/* Which rule a refused call broke (contract §2). */
typedef enum raftlite_violation_kind {
  RAFTLITE_NO_VIOLATION = 0,
  RAFTLITE_TERM_NOT_ASCENDING,
  RAFTLITE_VOTED_FOR_CHANGED,
  RAFTLITE_LOGS_EMPTY,
  RAFTLITE_LOGS_NON_CONSECUTIVE,
  RAFTLITE_APPLY_NON_CONSECUTIVE,
  RAFTLITE_PURGE_NON_APPLIED,
  RAFTLITE_APPLIED_WONT_CONFLICT,
  RAFTLITE_DIRTY_LOG,
  RAFTLITE_LOG_INDEX_NOT_FOUND,
  RAFTLITE_OUT_OF_RANGE,
  RAFTLITE_LOG_ID_MISMATCH,
  RAFTLITE_INVALID_MEMBERSHIP,
  RAFTLITE_NOTHING_APPLIED,
  RAFTLITE_SNAPSHOT_STALE,
  RAFTLITE_SNAPSHOT_INVALID
} raftlite_violation_kind;

#define RAFTLITE_UNBOUNDED UINT64_MAX
#define RAFTLITE_OPEN_RELAXED 0x1 /* accept settings that cannot make a successful call durable */

/* ==================================================================== */
/* The store handle                                                      */
/* ==================================================================== */

/*
** A raftlite handle is one store — the raftlite tables of one schema — on
** one connection. Like the connection, it is used by one thread at a time;
** it holds prepared statements of that connection until raftlite_close().
**
** Return codes are SQLite result codes. A call that breaks a rule of
** contract §2 returns SQLITE_CONSTRAINT (SQLITE_NOTFOUND for
** LogIndexNotFound, SQLITE_RANGE or SQLITE_MISMATCH for a value out of
** range), leaves the store unchanged, and raftlite_violation() names the
** rule; raftlite_errmsg() gives a sentence with the ids involved. The next
** successful call resets both. On error, out-parameters are left empty
** and need no freeing.
**
** Every call is atomic. Outside a caller's transaction, a call that
** returned SQLITE_OK is committed and durable. Inside one (BEGIN ...
** COMMIT on the connection), calls nest as savepoints and the caller's
** COMMIT is the durability point — so a node can make an append and a vote
** durable with one sync:
**
**     sqlite3_exec(db, "BEGIN", 0, 0, 0);
**     rc = raftlite_append_to_log(store, entries, n);
**     if (rc == SQLITE_OK) rc = raftlite_save_hard_state(store, &hs);
**     sqlite3_exec(db, rc == SQLITE_OK ? "COMMIT" : "ROLLBACK", 0, 0, 0);
**
** After an I/O error on commit, the handle refuses every write until the
** store is reopened: a failed sync is never retried.
*/
typedef struct raftlite raftlite;

/*
** Opens the store in schema zSchema ("main" when NULL) of db, installing or
** upgrading it as raft_install() does, and reclaiming receiving snapshot
** streams a crash left behind. The connection must have triggers enabled
** (SQLITE_DBCONFIG_ENABLE_TRIGGER), CHECK constraints on, a journal
** (journal_mode not OFF) and, for a file-backed schema, a journal_mode
** other than MEMORY and synchronous FULL or EXTRA (EXTRA with
** journal_mode DELETE); otherwise SQLITE_MISUSE, unless flags has
** RAFTLITE_OPEN_RELAXED (which waives the file-backed schema's journal and
** sync checks, never journal_mode OFF, never the triggers). See
** docs/contract.md §5. No setting of the connection is changed. raftlite_open(db, s, pp) is
** raftlite_open_v2(db, s, 0, pp).
**
** @param[in]  db      an open connection; must outlive the handle
** @param[in]  zSchema the schema ("main", "temp", an attached name)
** @param[in]  flags   0 or RAFTLITE_OPEN_RELAXED
** @param[out] ppStore the handle; NULL on error
** @return SQLITE_OK; SQLITE_MISUSE (settings, NULL arguments, unknown
** flags); SQLITE_ERROR (no such schema, a store newer than this library);
** SQLITE_NOMEM; another code from SQLite. On error the reason is also sent
** to SQLite's error log (sqlite3_config(SQLITE_CONFIG_LOG)), since no
** handle carries it.
*/
RAFTLITE_API int raftlite_open(sqlite3 *db, const char *zSchema, raftlite **ppStore);
RAFTLITE_API int raftlite_open_v2(sqlite3 *db, const char *zSchema, int flags,
                                  raftlite **ppStore);

/* Closes the handle and finalizes its statements; the connection's
** sqlite3_close() then succeeds. Stops the handle's background
** checkpointers that still run (raftlite_checkpointer_start(); they are
** still to be freed). Close every snapshot stream of the handle first. A
** NULL handle is a no-op. */
RAFTLITE_API void raftlite_close(raftlite *p);

/* The last error as a sentence ("LogsNonConsecutive: last log id is 1-2,
** got 1-4"), valid until the next call on the handle. */
RAFTLITE_API const char *raftlite_errmsg(raftlite *p);

/* The rule the last failed call broke, or RAFTLITE_NO_VIOLATION. */
RAFTLITE_API raftlite_violation_kind raftlite_violation(raftlite *p);

/* Plugs the application's state machine in (the struct is copied; NULL
** removes it). Normal entries then go to sm->apply instead of the
** declared state machine (or nothing). Returns SQLITE_OK. */
RAFTLITE_API int raftlite_set_state_machine(raftlite *p, const raftlite_state_machine *sm);

/* ==================================================================== */
/* RaftStorage: hard state and log                                       */
/* ==================================================================== */

/* save_hard_state. The term never decreases (TERM_NOT_ASCENDING); within a
** term a vote once set never changes and is never cleared
** (VOTED_FOR_CHANGED). Values above 2^63-1: SQLITE_RANGE, OUT_OF_RANGE. */
RAFTLITE_API int raftlite_save_hard_state(raftlite *p, const raftlite_hard_state *hs);

/* read_hard_state: *pFound is 0 (and *hs zeroed) if never saved. */
RAFTLITE_API int raftlite_read_hard_state(raftlite *p, raftlite_hard_state *hs, int *pFound);

/* get_log_state (contract §1). */
RAFTLITE_API int raftlite_get_log_state(raftlite *p, raftlite_log_state *out);

/*
** try_get_log_entries: the present entries with start <= index < stop, in
** order (missing ones are absent; start >= stop gives none). stop =
** RAFTLITE_UNBOUNDED means no upper bound; any other value above 2^63-1 is
** OUT_OF_RANGE. *out owns the entries and their payloads (a payload of
** size 0 has data NULL; a membership payload is followed by a NUL): free
** them with raftlite_entries_free(). Memory grows with the entries
** returned: read a long log in ranges.
*/
RAFTLITE_API int raftlite_try_get_log_entries(raftlite *p, uint64_t start, uint64_t stop,
                                              raftlite_entries *out);
RAFTLITE_API void raftlite_entries_free(raftlite_entries *e);

/*
** append_to_log: n entries, one atomic append. Refused: n == 0
** (LOGS_EMPTY); indexes not consecutive or terms going down inside the
** batch, or a first entry not following the reference id — the greatest
** of the last entry, last_purged and last_applied (LOGS_NON_CONSECUTIVE);
** an invalid membership (INVALID_MEMBERSHIP); an unknown kind or a value
** above 2^63-1 (OUT_OF_RANGE). The entries are read during the call only.
*/
RAFTLITE_API int raftlite_append_to_log(raftlite *p, const raftlite_entry *a, size_t n);

/* delete_conflict_logs_since: removes the entries with index >=
** since.index, which must be above last_applied (APPLIED_WONT_CONFLICT). */
RAFTLITE_API int raftlite_delete_conflict_logs_since(raftlite *p, raftlite_log_id since);

/*
** purge_logs_upto: removes the entries with index <= upto.index and sets
** last_purged = upto. Refused: upto above last_applied (PURGE_NON_APPLIED);
** a present entry at upto.index with another term, or upto past the last
** entry but below it (LOG_ID_MISMATCH). upto <= last_purged is a no-op.
*/
RAFTLITE_API int raftlite_purge_logs_upto(raftlite *p, raftlite_log_id upto);

/*
** purge_upto: raftlite_purge_logs_upto() by index alone, as SQL
** raft_purge(index) does: the term is the one of the entry at index, or of
** last_purged at its index; also (unlike SQL, which needs the term there)
** of last_applied when that is the log id at index, past the log's last
** entry (entries applied but never appended). Refused
** as raftlite_purge_logs_upto() is (PURGE_NON_APPLIED above last_applied),
** and with SQLITE_NOTFOUND and LOG_INDEX_NOT_FOUND when none of those
** holds index (below the first entry, or past the last entry and
** last_applied). index <= last_purged.index is a no-op. Atomic; inside a
** caller's transaction, a savepoint of it.
*/
RAFTLITE_API int raftlite_purge_upto(raftlite *p, uint64_t index);

/* get_log_id (provided): the log id of the entry at index; at the last
** purged index, the last purged log id (also right after
** raftlite_install_snapshot(), which purges up to the snapshot's last log
** id, and after raftlite_purge_upto()); otherwise SQLITE_NOTFOUND with
** LOG_INDEX_NOT_FOUND. */
RAFTLITE_API int raftlite_get_log_id(raftlite *p, uint64_t index, raftlite_log_id *out);

/* ==================================================================== */
/* RaftStorage: state machine                                            */
/* ==================================================================== */

/* last_applied_state. Free *out with raftlite_applied_state_free(). */
RAFTLITE_API int raftlite_last_applied_state(raftlite *p, raftlite_applied_state *out);
RAFTLITE_API void raftlite_applied_state_free(raftlite_applied_state *s);

/*
** apply_to_state_machine: applies n entries in one transaction with the
** state machine's own writes. Refused: n == 0 (LOGS_EMPTY); the first index
** not last_applied.index + 1 (any index on a fresh state machine), a log id
** not above the previous one, or indexes not consecutive
** (APPLY_NON_CONSECUTIVE); an index present in the log with another term
** (LOG_ID_MISMATCH); a log entry left above last_applied with a lower log id
** (DIRTY_LOG). A failing apply callback's code is returned as it is. Any
** failure applies none of the batch. *out gets one response per entry
** (empty for blank and membership entries): free it with
** raftlite_responses_free().
*/
RAFTLITE_API int raftlite_apply_to_state_machine(raftlite *p, const raftlite_entry *a, size_t n,
                                                 raftlite_responses *out);
RAFTLITE_API void raftlite_responses_free(raftlite_responses *r);

/*
** apply_upto: applies the log's own entries from last_applied.index + 1
** (from the first entry when nothing was applied) through index, in one
** transaction, through the store's state machine — the C callbacks, else
** the state machine declared in SQL, else none — exactly as SQL
** raft_apply(index) does: membership entries become the applied
** membership, normal entries go to the state machine, blank entries only
** move last_applied. index <= last_applied.index is a no-op (SQLITE_OK,
** *out empty). Refused: an index of the range that the log does not hold
** (purged, or past the last entry): SQLITE_NOTFOUND, LOG_INDEX_NOT_FOUND;
** index above 2^63-1: SQLITE_RANGE, OUT_OF_RANGE; the rules of
** raftlite_apply_to_state_machine() otherwise (DIRTY_LOG, ...); a failing
** apply callback or statement: its code. Any failure applies nothing.
** out may be NULL (the responses are discarded); otherwise *out gets one
** response per entry applied, in index order (empty for blank and
** membership entries): free it with raftlite_responses_free(). Inside a
** caller's transaction, a savepoint of it.
*/
RAFTLITE_API int raftlite_apply_upto(raftlite *p, uint64_t index, raftlite_responses *out);

/* get_membership (provided): the last membership entry in the log above
** last_applied, else the applied membership; only the membership fields of
** *out are set. Free with raftlite_applied_state_free(). */
RAFTLITE_API int raftlite_get_membership(raftlite *p, raftlite_applied_state *out);

/* get_initial_state (provided): the log state, last_applied with the
** membership get_membership() returns, and the hard state (*pHasHardState
** 0 if never saved). When the log ends below last_applied it first purges
** the log up to last_applied, as openraft does. Free *applied with
** raftlite_applied_state_free(). */
RAFTLITE_API int raftlite_get_initial_state(raftlite *p, raftlite_log_state *log,
                                            raftlite_applied_state *applied,
                                            raftlite_hard_state *hs, int *pHasHardState);

/* ==================================================================== */
/* RaftStorage: snapshots                                                */
/* ==================================================================== */

/*
** build_snapshot: the state machine's snapshot callback writes its content
** as of last_applied into a new snapshot, which becomes the current one
** (the previous is deleted). Refused when nothing was applied
** (NOTHING_APPLIED). *meta gets its meta (free with
** raftlite_snapshot_meta_free()) and *ppData a read stream positioned at 0
** (close with raftlite_snapshot_close()).
*/
RAFTLITE_API int raftlite_build_snapshot(raftlite *p, raftlite_snapshot_meta *meta,
                                         raftlite_snapshot **ppData);

/* begin_receiving_snapshot: a new, empty, writable, readable, seekable
** stream. Its bytes are stored as they are written; if the process dies
** before install, the next raftlite_open() reclaims them. */
RAFTLITE_API int raftlite_begin_receiving_snapshot(raftlite *p, raftlite_snapshot **ppData);

/*
** install_snapshot: takes ownership of data, a stream from
** raftlite_begin_receiving_snapshot() of this store, and closes it whether
** it succeeds or not. Refused: meta->last_log_id below last_applied
** (SNAPSHOT_STALE); an invalid membership (INVALID_MEMBERSHIP); a failing
** restore callback (its code). Otherwise, in one transaction: the state
** machine's restore callback reads the stream from offset 0; last_applied
** and the applied membership become the meta's (a meta without membership
** leaves none); the log keeps the entries after meta->last_log_id if it
** holds exactly that id and loses all of them otherwise; last_purged =
** meta->last_log_id; the snapshot becomes the current one. *out says
** last_applied = meta->last_log_id, is_snapshot = 1.
**
** A membership known by its index alone (meta->membership_term_unknown
** set) takes the term that carried it at that index, first found of: the
** snapshot's own last log id (same index); the applied membership; the
** current snapshot's membership; a log entry of this store at that index
** holding that very membership (same canonical JSON). These are committed
** entries, or the same configuration, so the term is the leader's.
** Otherwise it is refused (INVALID_MEMBERSHIP, the message names the
** index): the caller must give the term (canonical/raft's snapshot_put
** holds the bytes in memory, so an adapter may install again with a term
** of its choice, e.g. the snapshot's last term, at or above the real one).
*/
RAFTLITE_API int raftlite_install_snapshot(raftlite *p, const raftlite_snapshot_meta *meta,
                                           raftlite_snapshot *data, raftlite_sm_changes *out);

/*
** Building the current snapshot from the caller's bytes, for an engine
** whose state machine lives outside the store (canonical/raft's FSM):
**
**     raftlite_begin_snapshot(p, &w);
**     raftlite_snapshot_write(w, bytes, n);          (any number of writes)
**     raftlite_commit_snapshot(p, w, &meta);         (takes w)
**
** begin_snapshot: a new, empty, writable stream, as
** raftlite_begin_receiving_snapshot() gives (reclaimed at the next open if
** never committed or installed).
**
** commit_snapshot: takes ownership of data and closes it whether it
** succeeds or not. The stream's bytes become the current snapshot as of
** last_applied (the previous one is deleted): its meta's last_log_id is
** last_applied, its membership the applied membership, its snapshot_id
** made up as build_snapshot's. *meta (may be NULL) gets that meta: free
** it with raftlite_snapshot_meta_free(). The state machine's snapshot and
** restore callbacks are not called. Refused, the stream's bytes dropped:
** nothing applied (NOTHING_APPLIED); a stream with bytes never written
** (SNAPSHOT_INVALID); a store whose snapshots the SQL declaration makes
** (tables declared with raft_state_machine() and no C snapshot callback:
** its snapshots must be SQLite images raftlite builds, SNAPSHOT_INVALID:
** use raftlite_build_snapshot()); all with SQLITE_CONSTRAINT. A stream
** that is not a writable stream of this store: SQLITE_MISUSE. Inside a
** caller's transaction (apply_upto, begin/write/commit_snapshot and
** purge_upto in one BEGIN ... COMMIT), a savepoint of it.
*/
RAFTLITE_API int raftlite_begin_snapshot(raftlite *p, raftlite_snapshot **ppData);
RAFTLITE_API int raftlite_commit_snapshot(raftlite *p, raftlite_snapshot *data,
                                          raftlite_snapshot_meta *meta);

/* get_current_snapshot: the current snapshot's meta (free with
** raftlite_snapshot_meta_free()) and a read stream, or *ppData NULL when
** there is none. */
RAFTLITE_API int raftlite_get_current_snapshot(raftlite *p, raftlite_snapshot_meta *meta,
                                               raftlite_snapshot **ppData);
RAFTLITE_API void raftlite_snapshot_meta_free(raftlite_snapshot_meta *meta);

/*
** Snapshot streams. A stream holds no statement or blob handle between
** calls, so it never blocks a commit; it belongs to its handle's thread.
**   read   up to n bytes at the position into buf; *pRead is how many
**          (0 at the end, with SQLITE_OK).
**   write  n bytes at the position (receiving streams only; else
**          SQLITE_READONLY); past the end the gap reads as zeros. Each write
**          is atomic and, outside a caller's transaction, durable.
**   seek   SEEK_SET, SEEK_CUR or SEEK_END; *pPos (may be NULL) gets the new
**          position. A position below 0 is SQLITE_RANGE.
**   close  frees the stream (not its stored bytes). NULL is a no-op.
*/
RAFTLITE_API int raftlite_snapshot_read(raftlite_snapshot *s, void *buf, size_t n, size_t *pRead);
RAFTLITE_API int raftlite_snapshot_write(raftlite_snapshot *s, const void *buf, size_t n);
RAFTLITE_API int raftlite_snapshot_seek(raftlite_snapshot *s, int64_t offset, int whence,
                                        uint64_t *pPos);
RAFTLITE_API void raftlite_snapshot_close(raftlite_snapshot *s);

/* ==================================================================== */
/* Background checkpointer (WAL stores; docs/checkpointer.md)            */
/* ==================================================================== */

/*
** An opt-in thread that copies a WAL store's committed frames into its
** database file ("checkpoints") on a connection of its own, off the
** writer's commit path. Without it, the writer's call that takes the WAL
** past wal_autocheckpoint frames (SQLite's default: 1000) copies them all
** before it returns. With it, the thread copies every wal_frames frames
** (a PASSIVE checkpoint, which never blocks the writer or a reader) and
** the writer's own auto-checkpoint, set higher, only copies what is left:
** it stays the bound of the WAL, since the WAL starts over only when a
** transaction begins with every frame copied, which happens between the
** writer's transactions. The defaults fit SQLite's default
** wal_autocheckpoint (1000): the thread copies every 250 frames. The flag
** RAFTLITE_CHECKPOINTER_SET_WRITER_AUTOCHECKPOINT sets the writer's to
** writer_autocheckpoint; raftlite changes no setting unless asked. A writer
** with wal_autocheckpoint 0 has no bound: its WAL grows while it commits
** back to back, the thread's copies notwithstanding (docs/checkpointer.md).
**
** Durability is unchanged: a call is durable when it returns, as without
** the thread, which syncs as the writer's own checkpoint would (its
** connection takes the store's synchronous). The kill -9 and power-loss
** tests run with it on.
**
** With idle_ms set, the thread also runs a TRUNCATE checkpoint once no
** commit came for idle_ms, so that the -wal file of an idle store shrinks
** to zero bytes. It holds the write lock for a moment and never waits for
** it; a raftlite call that overlaps that moment fails with SQLITE_BUSY and
** changes nothing (raftlite's calls read before they write, and SQLite
** gives such a transaction SQLITE_BUSY without calling the busy handler):
** retry it, or leave idle_ms at 0 (the default).
**
** Order of calls: start, then stop (any thread, any number of times),
** then free (on the handle's thread, or after raftlite_close()).
** raftlite_close() stops the handle's checkpointers that still run (it
** returns once their threads are gone); free them afterwards as always.
** The thread touches neither the handle nor the store's connection.
*/
typedef struct raftlite_checkpointer raftlite_checkpointer;

/* config.flags: set the writer's wal_autocheckpoint to writer_autocheckpoint
** at start (sqlite3_wal_autocheckpoint() on the store's connection). Not
** undone by stop. */
#define RAFTLITE_CHECKPOINTER_SET_WRITER_AUTOCHECKPOINT 0x1

/* The settings of a checkpointer. A zeroed struct (or a NULL pointer) gives
** the defaults; a negative value is refused. */
typedef struct raftlite_checkpointer_config {
  int wal_frames;            /* PASSIVE when this many frames wait; 0: 250 */
  int writer_autocheckpoint; /* with the flag: the writer's wal_autocheckpoint,
                             ** above wal_frames; 0: 4 * wal_frames (1000 with
                             ** the defaults: SQLite's own default) */
  int idle_ms;               /* TRUNCATE after this long without a commit;
                             ** 0: never */
  int poll_ms;               /* how often the thread looks at the WAL; 0: 10 */
  unsigned int flags;        /* 0 or RAFTLITE_CHECKPOINTER_SET_WRITER_AUTOCHECKPOINT */
} raftlite_checkpointer_config;

/* What a checkpointer did since it started. */
typedef struct raftlite_checkpointer_stats {
  int running;             /* 1 until stop */
  uint64_t n_passive;      /* PASSIVE checkpoints run */
  uint64_t n_truncate;     /* TRUNCATE checkpoints run */
  uint64_t n_busy;         /* checkpoints that found the writer's own under
                           ** way, TRUNCATEs that met the writer or a reader
                           ** (not errors: they are tried again) */
  uint64_t n_frames;       /* WAL frames copied into the database file */
  uint64_t max_wal_frames; /* the longest WAL seen, in frames */
  uint64_t n_errors;       /* checkpoints that failed (I/O error, ...) */
  int first_rc;            /* the first failure's result code, or SQLITE_OK */
  int last_rc;             /* the last failure's result code, or SQLITE_OK */
  char first_error[256];   /* the first failure as a sentence, or "" */
} raftlite_checkpointer_stats;

/*
** Starts a checkpointer for the store: opens a connection of its own to
** the store's database file, with the VFS and the synchronous setting of
** the store's connection, and starts its thread. Refused with
** SQLITE_MISUSE and a sentence in raftlite_errmsg(store): a store in
** memory or in a temporary schema (no file to open again); a journal_mode
** other than WAL; locking_mode EXCLUSIVE (no other connection can read the
** WAL); a config value out of range. A file the new connection cannot open
** (deleted, renamed, not writable) gives that error code, with a sentence.
** When start fails, nothing has changed. Call it on the store's thread.
**
** @param[in]  store the handle
** @param[in]  cfg   the settings (copied), or NULL for the defaults
** @param[out] ppOut the checkpointer; NULL on error
** @return SQLITE_OK, an error above, or SQLITE_NOMEM.
*/
RAFTLITE_API int raftlite_checkpointer_start(raftlite *store,
                                             const raftlite_checkpointer_config *cfg,
                                             raftlite_checkpointer **ppOut);

/* Stops the thread (waking it at once; a checkpoint under way finishes
** first), joins it and closes its connection. Safe to call again, and from
** several threads at once: each call returns once it is stopped. Returns
** the first error the thread met (its sentence: the stats' first_error),
** or SQLITE_OK. A NULL handle is a no-op. */
RAFTLITE_API int raftlite_checkpointer_stop(raftlite_checkpointer *p);

/* Copies the statistics into *out, at any time before free, from any
** thread. SQLITE_OK, or SQLITE_MISUSE for a NULL argument. */
RAFTLITE_API int raftlite_checkpointer_get_stats(raftlite_checkpointer *p,
                                                 raftlite_checkpointer_stats *out);

/* Stops the checkpointer if it runs, and frees it. NULL is a no-op. */
RAFTLITE_API void raftlite_checkpointer_free(raftlite_checkpointer *p);

#ifdef __cplusplus
}
#endif
#endif /* RAFTLITE_H */
