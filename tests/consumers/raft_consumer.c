/*
** raft_consumer.c — the smallest program built against an installed
** canonical/raft adapter (raftlite_raft.h), once with pkg-config
** (pkg-config raftlite-raft) and once with find_package(raftlite)
** (raftlite::raftlite_raft):
**
**     raft_consumer DATABASE
**
** makes a raft_io on a fresh store in DATABASE and closes it again (raft
** itself is not started: linking the adapter with libraft and libuv, and
** the store it opens, are what is checked), then prints the store's state.
** Exits 1 when anything fails. tests/install/run-consumers runs it.
*/
#include <raft.h>
#include <raftlite.h>
#include <raftlite_raft.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: raft_consumer DATABASE\n");
    return 2;
  }
  remove(argv[1]);
  sqlite3 *db = NULL;
  if (sqlite3_open(argv[1], &db) != SQLITE_OK ||
      sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL", NULL, NULL, NULL)) {
    fprintf(stderr, "raft_consumer: %s\n", sqlite3_errmsg(db));
    return 1;
  }
  /* A transport is only stored by init: a zeroed one will do, since raft
  ** is never started here. */
  struct raft_io transport, io;
  memset(&transport, 0, sizeof(transport));
  int rv = raftlite_raft_io_init(&io, &transport, NULL, db, "main");
  if (rv != 0) {
    fprintf(stderr, "raft_consumer: raftlite_raft_io_init: %d %s\n", rv, io.errmsg);
    return 1;
  }
  raftlite_raft_io_close(&io);
  sqlite3_stmt *pStmt = NULL;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM raftlite_segment", -1, &pStmt, NULL) ||
      sqlite3_step(pStmt) != SQLITE_ROW) {
    fprintf(stderr, "raft_consumer: no store: %s\n", sqlite3_errmsg(db));
    return 1;
  }
  printf("raftlite_raft %s: a store with %d log segments\n", raftlite_libversion(),
         sqlite3_column_int(pStmt, 0));
  sqlite3_finalize(pStmt);
  return sqlite3_close(db) == SQLITE_OK ? 0 : 1;
}
