/*
** raftlite.h — a Raft node's storage in SQLite tables.
**
** raftlite keeps a Raft node's hard state, log, state-machine progress and
** snapshots in ordinary tables of a SQLite database, guarded by triggers so
** that no writer — this library, an application, or an operator typing into
** the sqlite3 shell — can store a state that breaks the rules of the
** storage contract (SPEC.md §2).
**
** This header is the whole public C surface. It declares:
**   - the version of the library;
**   - the registration entry points of the SQL surface (raft_log,
**     raft_append(), ... — see README.md for the SQL reference);
**   - the value types of the storage contract (log ids, entries, ...),
**     shaped after openraft's RaftStorage trait.
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

#ifndef RAFTLITE_API
#if defined(_WIN32)
#define RAFTLITE_API __declspec(dllexport)
#else
#define RAFTLITE_API __attribute__((visibility("default")))
#endif
#endif

/* Library version; CMakeLists.txt reads it from here. */
#define RAFTLITE_VERSION "0.1.0"
#define RAFTLITE_VERSION_NUMBER 1000 /* major*1000000 + minor*1000 + patch */

/* The library version, as the macros above. SQL: raft_version(). */
RAFTLITE_API const char *raftlite_libversion(void);

/*
** Registers raftlite's SQL functions and virtual-table modules on one
** connection. Creates nothing in any database: raft_install() does that.
** Returns SQLITE_OK, or SQLITE_ERROR when the SQLite library is older than
** 3.38.0, or the error of a failed registration.
*/
RAFTLITE_API int raftlite_register(sqlite3 *db);

/*
** The extension entry point, with the signature sqlite3_auto_extension()
** and sqlite3_load_extension() expect:
**
**     sqlite3_auto_extension((void (*)(void))sqlite3_raftlite_init);
**
** registers raftlite on every connection opened afterwards. On failure
** *pzErrMsg holds a message (sqlite3_malloc'd, freed by SQLite).
*/
RAFTLITE_API int sqlite3_raftlite_init(sqlite3 *db, char **pzErrMsg,
                                       const sqlite3_api_routines *pApi);

/* ------------------------------------------------------------------ */
/* Value types of the storage contract (SPEC.md §6).                   */

typedef struct raftlite_log_id {
  uint64_t term, index;
} raftlite_log_id;

typedef struct raftlite_hard_state {
  uint64_t current_term;
  int has_vote; /* 0: no vote; voted_for is then ignored */
  uint64_t voted_for;
} raftlite_hard_state;

typedef struct raftlite_log_state {
  int has_last_purged;
  raftlite_log_id last_purged_log_id;
  int has_last_log;
  raftlite_log_id last_log_id;
} raftlite_log_state;

typedef enum raftlite_kind {
  RAFTLITE_BLANK = 0,     /* no payload (stored as an empty blob) */
  RAFTLITE_NORMAL = 1,    /* application bytes, any length */
  RAFTLITE_MEMBERSHIP = 2 /* JSON text, SPEC.md §1 */
} raftlite_kind;

typedef struct raftlite_entry {
  raftlite_log_id log_id;
  raftlite_kind kind;
  const void *data; /* payload; may be NULL when size is 0 */
  size_t size;
} raftlite_entry;

typedef struct raftlite_entries {
  raftlite_entry *a;
  size_t n;
} raftlite_entries;

typedef struct raftlite_response {
  void *data; /* sqlite3_malloc'd */
  size_t size;
} raftlite_response;

/* Which rule a refused call broke (SPEC.md §2). */
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

#ifdef __cplusplus
}
#endif
#endif /* RAFTLITE_H */
