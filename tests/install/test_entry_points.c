/*
** test_entry_points.c — the version and the ways onto a connection, as an
** application linked to libraftlite.so sees them (this program links the
** shared library, not the static one):
**
**   - RAFTLITE_VERSION, _MAJOR/_MINOR/_PATCH, _NUMBER, raftlite_libversion(),
**     SQL raft_version() and CMake's project version agree;
**   - raftlite_register() and raftlite_init() (directly and through
**     sqlite3_auto_extension()) register the SQL surface;
**   - raftlite_init() refuses another SQLite's API table and registers
**     nothing;
**   - sqlite3_load_extension() loads the module (RAFTLITE_EXT) and refuses
**     the library (RAFTLITE_LIB), which exports no entry point.
**
** The environment names the two files (tests/CMakeLists.txt sets it).
*/
#include <raftlite.h>
/* sqlite3_api_routines' layout, for the foreign table; SQLITE_CORE keeps
** sqlite3ext.h from routing this program's sqlite3_* calls through a table. */
#define SQLITE_CORE 1
#include <sqlite3ext.h>

#include "../c/harness.h"

#if !defined(RAFTLITE_VERSION_NUMBER) || RAFTLITE_VERSION_NUMBER < 1000
#error "RAFTLITE_VERSION_NUMBER must be usable in #if"
#endif

/* The result of SELECT raft_version() on db, or NULL when the function
** does not exist there (nothing registered). Owned by the caller. */
static char *sqlVersion(sqlite3 *db) {
  sqlite3_stmt *pStmt = NULL;
  char *z = NULL;
  if (sqlite3_prepare_v2(db, "SELECT raft_version()", -1, &pStmt, NULL) == SQLITE_OK &&
      sqlite3_step(pStmt) == SQLITE_ROW) {
    z = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(pStmt, 0));
  }
  sqlite3_finalize(pStmt);
  return z;
}

static sqlite3 *openMemory(void) {
  sqlite3 *db = NULL;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) FAIL("open: %s", sqlite3_errmsg(db));
  return db;
}

TEST(version, macrosLibraryAndSqlAgree) {
  char zParts[64];
  snprintf(zParts, sizeof(zParts), "%d.%d.%d", RAFTLITE_VERSION_MAJOR, RAFTLITE_VERSION_MINOR,
           RAFTLITE_VERSION_PATCH);
  ASSERT_STR(RAFTLITE_VERSION, zParts);
  ASSERT_INT(RAFTLITE_VERSION_NUMBER, RAFTLITE_VERSION_MAJOR * 1000000 +
                                          RAFTLITE_VERSION_MINOR * 1000 + RAFTLITE_VERSION_PATCH);
  /* The version CMake read from the header: the SONAME, raftlite.pc and
  ** the CMake package carry it. */
  ASSERT_STR(RAFTLITE_CMAKE_VERSION, RAFTLITE_VERSION);
  ASSERT_STR(raftlite_libversion(), RAFTLITE_VERSION);

  sqlite3 *db = openMemory();
  ASSERT_INT(raftlite_register(db), SQLITE_OK);
  char *z = sqlVersion(db);
  sqlite3_close(db);
  ASSERT_STR(z, RAFTLITE_VERSION);
  sqlite3_free(z);
}

/* raftlite_init as an application calls it (no API table), and the old
** spelling raftlite.h keeps for C code. */
TEST(entry, initRegisters) {
  sqlite3 *db = openMemory();
  char *zErr = NULL;
  ASSERT_INT(raftlite_init(db, &zErr, NULL), SQLITE_OK);
  ASSERT(zErr == NULL);
  char *z = sqlVersion(db);
  sqlite3_close(db);
  ASSERT_STR(z, RAFTLITE_VERSION);
  sqlite3_free(z);

  db = openMemory();
  ASSERT_INT(sqlite3_raftlite_init(db, &zErr, NULL), SQLITE_OK);
  z = sqlVersion(db);
  sqlite3_close(db);
  ASSERT_STR(z, RAFTLITE_VERSION);
  sqlite3_free(z);
}

/* The API table SQLite passes to an auto-extension, captured. */
static const sqlite3_api_routines *pCaptured;
static int captureApi(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi) {
  (void)db;
  (void)pzErrMsg;
  pCaptured = pApi;
  return SQLITE_OK;
}

/* sqlite3_auto_extension() with raftlite_init, as raftlite.h shows: every
** connection opened afterwards has raftlite, and raftlite_init accepted
** the API table of the SQLite the library is linked to. */
TEST(entry, autoExtension) {
  ASSERT_INT(sqlite3_auto_extension((void (*)(void))raftlite_init), SQLITE_OK);
  ASSERT_INT(sqlite3_auto_extension((void (*)(void))captureApi), SQLITE_OK);
  sqlite3 *db = openMemory();
  sqlite3_reset_auto_extension();
  char *z = sqlVersion(db);
  sqlite3_close(db);
  ASSERT_STR(z, RAFTLITE_VERSION);
  sqlite3_free(z);
  ASSERT(pCaptured != NULL);

  db = openMemory();
  char *zErr = NULL;
  ASSERT_INT(raftlite_init(db, &zErr, pCaptured), SQLITE_OK);
  ASSERT(zErr == NULL);
  z = sqlVersion(db);
  sqlite3_close(db);
  ASSERT_STR(z, RAFTLITE_VERSION);
  sqlite3_free(z);
}

static int otherLibversionNumber(void) { return sqlite3_libversion_number(); }

/* An API table whose functions are not the library's SQLite (as when a host
** carrying its own copy loads libraftlite.so by an explicit entry point):
** refused with a message that says what to load instead, and nothing is
** registered. The message comes from the table's own mprintf. */
TEST(entry, foreignApiTableIsRefused) {
  ASSERT_INT(sqlite3_auto_extension((void (*)(void))captureApi), SQLITE_OK);
  sqlite3 *db = openMemory();
  sqlite3_reset_auto_extension();
  ASSERT(pCaptured != NULL);
  sqlite3_api_routines foreign = *pCaptured;
  foreign.libversion_number = otherLibversionNumber;

  char *zErr = NULL;
  int rc = raftlite_init(db, &zErr, &foreign);
  char *z = sqlVersion(db);
  sqlite3_close(db);
  ASSERT_INT(rc, SQLITE_ERROR);
  ASSERT(z == NULL);
  ASSERT(zErr != NULL);
  int bNamesFix = strstr(zErr, "libraftlite") != NULL &&
                  strstr(zErr, "load the module <libdir>/raftlite/raftlite instead") != NULL;
  if (!bNamesFix) {
    char zCopy[300];
    snprintf(zCopy, sizeof(zCopy), "%s", zErr);
    sqlite3_free(zErr);
    FAIL("message does not say what to do: %s", zCopy);
  }
  sqlite3_free(zErr);
}

static const char *envPath(const char *zName) {
  const char *z = getenv(zName);
  if (z == NULL || z[0] == 0) FAIL("%s is not set: run this test through ctest", zName);
  return z;
}

/* load_extension() of the module finds sqlite3_raftlite_init and registers
** raftlite; of libraftlite.so it finds no entry point, fails, and leaves the
** connection without raftlite. */
TEST(load, moduleLoadsLibraryIsRefused) {
  const char *zExt = envPath("RAFTLITE_EXT");
  const char *zLib = envPath("RAFTLITE_LIB");

  sqlite3 *db = openMemory();
  ASSERT_INT(sqlite3_enable_load_extension(db, 1), SQLITE_OK);
  char *zErr = NULL;
  int rc = sqlite3_load_extension(db, zLib, NULL, &zErr);
  char *z = sqlVersion(db);
  sqlite3_free(zErr);
  if (rc == SQLITE_OK || z != NULL) {
    sqlite3_free(z);
    sqlite3_close(db);
    FAIL("load_extension(%s) registered raftlite", zLib);
  }

  zErr = NULL;
  rc = sqlite3_load_extension(db, zExt, NULL, &zErr);
  if (rc != SQLITE_OK) {
    char zCopy[300];
    snprintf(zCopy, sizeof(zCopy), "%s", zErr ? zErr : "");
    sqlite3_free(zErr);
    sqlite3_close(db);
    FAIL("load_extension(%s): %s", zExt, zCopy);
  }
  z = sqlVersion(db);
  sqlite3_close(db);
  ASSERT_STR(z, RAFTLITE_VERSION);
  sqlite3_free(z);
}

RUN_TESTS(NULL, NULL)
