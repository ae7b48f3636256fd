/*
** consumer.c — the smallest program built against an installed raftlite,
** once with pkg-config (pkgconfig/Makefile) and once with
** find_package(raftlite) (cmake/CMakeLists.txt):
**
**     consumer DATABASE
**
** opens a store in DATABASE (created afresh), appends one entry, reads it
** back and prints it with the library's version. Exits 1 when anything
** differs from what it wrote. tests/install/run-consumers runs it.
*/
#include <raftlite.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static int fail(const char *zWhat, sqlite3 *db, raftlite *p) {
  fprintf(stderr, "consumer: %s: %s\n", zWhat, p ? raftlite_errmsg(p) : sqlite3_errmsg(db));
  raftlite_close(p);
  sqlite3_close(db);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: consumer DATABASE\n");
    return 2;
  }
  if (strcmp(raftlite_libversion(), RAFTLITE_VERSION) != 0) {
    fprintf(stderr, "consumer: header %s, library %s\n", RAFTLITE_VERSION,
            raftlite_libversion());
    return 1;
  }
  sqlite3 *db = NULL;
  raftlite *p = NULL;
  remove(argv[1]);
  if (sqlite3_open(argv[1], &db) != SQLITE_OK) return fail("open", db, p);
  /* raftlite_open refuses settings under which a commit is not durable. */
  if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL", 0, 0, 0) !=
      SQLITE_OK) {
    return fail("pragmas", db, p);
  }
  if (raftlite_open(db, "main", &p) != SQLITE_OK) return fail("raftlite_open", db, p);

  static const char zData[] = "hello from an installed raftlite";
  raftlite_entry e = {{1, 1}, RAFTLITE_NORMAL, zData, sizeof(zData) - 1};
  if (raftlite_append_to_log(p, &e, 1) != SQLITE_OK) return fail("append", db, p);

  raftlite_entries got;
  if (raftlite_try_get_log_entries(p, 1, 2, &got) != SQLITE_OK) return fail("read", db, p);
  int ok = got.n == 1 && got.a[0].log_id.term == 1 && got.a[0].log_id.index == 1 &&
           got.a[0].kind == RAFTLITE_NORMAL && got.a[0].size == e.size &&
           memcmp(got.a[0].data, zData, e.size) == 0;
  if (got.n == 1) {
    printf("raftlite %s on SQLite %s: entry %llu-%llu \"%.*s\"\n", raftlite_libversion(),
           sqlite3_libversion(), (unsigned long long)got.a[0].log_id.term,
           (unsigned long long)got.a[0].log_id.index, (int)got.a[0].size,
           (const char *)got.a[0].data);
  }
  raftlite_entries_free(&got);
  raftlite_close(p);
  sqlite3_close(db);
  if (!ok) {
    fprintf(stderr, "consumer: the entry read back is not the one appended\n");
    return 1;
  }
  return 0;
}
