/*
** raftlite.c — the extension's entry points.
**
**     sqlite3 node.db
**     sqlite> .load build/raftlite
**     sqlite> SELECT raft_install();
**
** Loading registers raftlite's SQL functions and virtual-table modules on
** the connection, and creates nothing: raft_install() creates a store.
**
** One source, two builds (CMakeLists.txt). The loadable module is compiled
** without SQLITE_CORE and calls SQLite through the sqlite3_api table the
** host passes to sqlite3_raftlite_init(), its only exported symbol. The
** library (static and shared, for applications that link raftlite) is
** compiled with SQLITE_CORE and calls libsqlite3 directly; it offers
** raftlite_register(db) for one connection and raftlite_init for
** sqlite3_auto_extension(), and defines no sqlite3_raftlite_init: SQLite
** would find that name in libraftlite.so and run the library on a host's
** own copy of SQLite.
*/
#include "sqlite3ext.h"
SQLITE_EXTENSION_INIT1

#include "raftlite_int.h"

const char *raftlite_libversion(void) { return RAFTLITE_VERSION; }

/* Registration, one function per SQL object, in no particular order. */
static int (*const axRegister[])(sqlite3 *) = {
    rlRegisterFuncAppend,   rlRegisterFuncTruncate, rlRegisterFuncPurge,
    rlRegisterFuncApply,    rlRegisterFuncHardState, rlRegisterFuncMeta,
    rlRegisterVtabLog,      rlRegisterVtabHardState, rlRegisterVtabState,
    rlRegisterVtabSnapshot, rlRegisterFuncStateMachine,
    /* The operator's views (docs/operator.md). */
    rlRegisterVtabLogSummary, rlRegisterVtabTerms, rlRegisterVtabMemberships,
    rlRegisterVtabUnapplied, rlRegisterVtabSnapshots, rlRegisterVtabSettings,
};

char *rlCheckHostVersion(int iVersion, const char *zVersion) {
  if (iVersion >= RAFTLITE_MIN_SQLITE) return NULL;
  return sqlite3_mprintf("raftlite requires SQLite 3.38.0 or later; this is SQLite %s",
                         zVersion);
}

/* Registers everything, or reports why not in *pzErrMsg (may be NULL). */
static int registerAll(sqlite3 *db, char **pzErrMsg) {
  /* Calling an API newer than the host would read past the end of its
  ** sqlite3_api table: refuse old hosts before anything else. */
  char *zTooOld = rlCheckHostVersion(sqlite3_libversion_number(), sqlite3_libversion());
  if (zTooOld) {
    if (pzErrMsg) *pzErrMsg = zTooOld;
    else sqlite3_free(zTooOld);
    return SQLITE_ERROR;
  }
  for (size_t i = 0; i < sizeof(axRegister) / sizeof(axRegister[0]); i++) {
    int rc = axRegister[i](db);
    if (rc != SQLITE_OK) {
      if (pzErrMsg) {
        *pzErrMsg = sqlite3_mprintf("raftlite: registration failed: %s",
                                    sqlite3_errmsg(db));
      }
      return rc;
    }
  }
  return SQLITE_OK;
}

int raftlite_register(sqlite3 *db) { return registerAll(db, NULL); }

int raftlite_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi) {
#ifdef SQLITE_CORE
  /* The table's functions are this library's SQLite only if they are the
  ** very functions it calls. Another copy's connection would be read with
  ** this copy's struct layout: refuse before touching db. The message is
  ** allocated by that copy, which frees it. */
  if (pApi && pApi->libversion_number != sqlite3_libversion_number) {
    if (pzErrMsg) {
      *pzErrMsg = pApi->mprintf(
          "raftlite: libraftlite runs on the copy of SQLite it is linked to (%s), "
          "not on this connection's (SQLite %s); load the module "
          "<libdir>/raftlite/raftlite instead",
          sqlite3_libversion(), pApi->libversion());
    }
    return SQLITE_ERROR;
  }
#else
  SQLITE_EXTENSION_INIT2(pApi);
#endif
  return registerAll(db, pzErrMsg);
}

#ifndef SQLITE_CORE
/* The module's entry point: the name SQLite's load_extension() derives
** from the file name raftlite.so. raftlite.h spells raftlite_init this way
** for C callers of the library; the module defines the real symbol. */
#undef sqlite3_raftlite_init
#ifdef _WIN32
__declspec(dllexport)
#else
__attribute__((visibility("default")))
#endif
int sqlite3_raftlite_init(sqlite3 *db, char **pzErrMsg,
                          const sqlite3_api_routines *pApi) {
  return raftlite_init(db, pzErrMsg, pApi);
}
#endif
