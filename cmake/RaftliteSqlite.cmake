# -DRAFTLITE_SQLITE_DIR=<dir>: build and test against the SQLite in <dir>
# instead of the system's. <dir> is what scripts/build-sqlite makes:
# sqlite3.h, sqlite3ext.h, libsqlite3.so and the Tcl package (pkgIndex.tcl,
# libtclsqlite3.so). The C library and C tests link that libsqlite3 (with
# an RPATH to it), the extension compiles against its headers, and the Tcl
# tests load that Tcl package (see RaftliteTesting.cmake).
# Included before find_package(SQLite3), whose cache entries it sets.
set(RAFTLITE_SQLITE_VERSION "")
if(RAFTLITE_SQLITE_DIR)
  get_filename_component(RAFTLITE_SQLITE_DIR "${RAFTLITE_SQLITE_DIR}" ABSOLUTE)
  foreach(f sqlite3.h sqlite3ext.h libsqlite3.so pkgIndex.tcl)
    if(NOT EXISTS "${RAFTLITE_SQLITE_DIR}/${f}")
      message(FATAL_ERROR "RAFTLITE_SQLITE_DIR=${RAFTLITE_SQLITE_DIR} has no ${f}: "
                          "build one with scripts/build-sqlite VERSION DIR")
    endif()
  endforeach()
  file(STRINGS "${RAFTLITE_SQLITE_DIR}/sqlite3.h" line REGEX "^#define SQLITE_VERSION +\"")
  string(REGEX MATCH "[0-9]+\\.[0-9]+\\.[0-9]+" RAFTLITE_SQLITE_VERSION "${line}")
  set(SQLite3_INCLUDE_DIR "${RAFTLITE_SQLITE_DIR}" CACHE PATH "SQLite's headers" FORCE)
  set(SQLite3_LIBRARY "${RAFTLITE_SQLITE_DIR}/libsqlite3.so" CACHE FILEPATH "SQLite's library" FORCE)
  set(RAFTLITE_SQLITE_DIR_USED "${RAFTLITE_SQLITE_DIR}" CACHE INTERNAL "")
  message(STATUS "raftlite: SQLite ${RAFTLITE_SQLITE_VERSION} from ${RAFTLITE_SQLITE_DIR}")
elseif(RAFTLITE_SQLITE_DIR_USED)
  # The option was dropped from this build directory: find the system's again.
  unset(SQLite3_INCLUDE_DIR CACHE)
  unset(SQLite3_LIBRARY CACHE)
  unset(RAFTLITE_SQLITE_DIR_USED CACHE)
endif()
