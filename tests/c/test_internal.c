/*
** test_internal.c — internal helpers that the SQL and C surfaces cannot
** reach on this machine, called directly (the static library links them;
** hidden visibility only keeps them out of shared objects' exports).
*/
#include "fixture.h"
#include "raftlite_int.h"

/* A host SQLite older than 3.38.0 is refused with a message naming both
** versions; 3.38.0 itself and later are accepted. The machines run 3.40.1,
** so sqlite3_raftlite_init's refusal is checked through this function. */
TEST(hostVersion, tooOldIsRefused) {
  char *z = rlCheckHostVersion(3037002, "3.37.2");
  ASSERT_STR(z, "raftlite requires SQLite 3.38.0 or later; this is SQLite 3.37.2");
  sqlite3_free(z);
  ASSERT(rlCheckHostVersion(3038000, "3.38.0") == NULL);
  ASSERT(rlCheckHostVersion(sqlite3_libversion_number(), sqlite3_libversion()) == NULL);
}

/* Every violation kind has a name, and a trigger's RAISE text maps back to
** its kind; an unknown or unnamed text maps to none. */
TEST(errors, kindsAndRaiseTexts) {
  for (int k = RAFTLITE_TERM_NOT_ASCENDING; k <= RAFTLITE_SNAPSHOT_INVALID; k++) {
    const char *zName = rlViolationName((raftlite_violation_kind)k);
    ASSERT(zName[0] != 0);
    char zRaise[80];
    snprintf(zRaise, sizeof(zRaise), "raft_log: %s", zName);
    ASSERT_INT(rlViolationFromRaise(zRaise), k);
  }
  ASSERT_INT(rlViolationFromRaise("raft_log: EntryImmutable"), RAFTLITE_NO_VIOLATION);
  ASSERT_INT(rlViolationFromRaise("no colon here"), RAFTLITE_NO_VIOLATION);
  ASSERT_INT(rlViolationFromRaise(NULL), RAFTLITE_NO_VIOLATION);
}

RUN_TESTS(NULL, NULL)
