/*
** schema.c — installing, upgrading and checking a store.
**
** raft_install(schema) runs the embedded sql/NNN_*.sql in the given schema,
** qualifying every object name that follows "IF NOT EXISTS " with the
** schema (the files are written unqualified so that they also run as they
** are in the sqlite3 shell). It then creates the store's single state row,
** records the schema version in raftlite_meta (PRAGMA user_version belongs
** to the application) and creates the virtual tables raft_log,
** raft_hard_state, raft_state and raft_snapshot in the same schema.
**
** Upgrades: triggers hold no data, so an older store gets all of them
** dropped and created anew; table changes of a future version go into
** upgradeTables() keyed on the stored version. A newer store is refused.
**
** raft_check(schema) compares the store's objects with a reference store
** built from the same embedded files in a private in-memory database, and
** re-checks the stored state against the rules (which triggers switched
** off on some connection could have let through).
*/
#include "raftlite_int.h"

#include <string.h>

/* The virtual tables raft_install() creates: table name, module name. */
static const char *const azVtab[][2] = {
    {"raft_log", "raftlite_log"},
    {"raft_hard_state", "raftlite_hard_state"},
    {"raft_state", "raftlite_state"},
    {"raft_snapshot", "raftlite_snapshot"},
};

/* Runs zSql with "IF NOT EXISTS raftlite_" qualified by zSchema (or as it
** is when zSchema is NULL). */
static int execSchemaSql(sqlite3 *db, const char *zSql, const char *zSchema) {
  static const char zMark[] = "IF NOT EXISTS raftlite_";
  sqlite3_str *pOut = sqlite3_str_new(db);
  const char *z = zSql;
  for (const char *zHit; zSchema && (zHit = strstr(z, zMark)) != NULL;) {
    sqlite3_str_append(pOut, z, (int)(zHit - z));
    sqlite3_str_appendf(pOut, "IF NOT EXISTS \"%w\".raftlite_", zSchema);
    z = zHit + sizeof(zMark) - 1;
  }
  sqlite3_str_appendall(pOut, z);
  char *zQualified = sqlite3_str_finish(pOut);
  if (zQualified == NULL) return SQLITE_NOMEM;
  int rc = sqlite3_exec(db, zQualified, NULL, NULL, NULL);
  sqlite3_free(zQualified);
  return rc;
}

static int execf(sqlite3 *db, const char *zFormat, ...) {
  va_list ap;
  va_start(ap, zFormat);
  char *zSql = sqlite3_vmprintf(zFormat, ap);
  va_end(ap);
  if (zSql == NULL) return SQLITE_NOMEM;
  int rc = sqlite3_exec(db, zSql, NULL, NULL, NULL);
  sqlite3_free(zSql);
  return rc;
}

/* The stored schema version: -1 when the store does not exist yet. */
static int readVersion(RlStore *p, i64 *piVersion) {
  *piVersion = -1;
  /* Look before reading: a failed prepare would go to SQLite's error log. */
  char *zExists = sqlite3_mprintf("SELECT 1 FROM \"%w\".sqlite_schema"
                                  " WHERE type = 'table' AND name = 'raftlite_meta'",
                                  p->zSchema);
  if (zExists == NULL) return SQLITE_NOMEM;
  sqlite3_stmt *pExists = NULL;
  int rcExists = sqlite3_prepare_v2(p->db, zExists, -1, &pExists, NULL);
  sqlite3_free(zExists);
  int bExists = rcExists == SQLITE_OK && sqlite3_step(pExists) == SQLITE_ROW;
  /* A failed step is not "no store": it must not lead to a fresh install. */
  if (rcExists == SQLITE_OK) rcExists = sqlite3_finalize(pExists);
  else sqlite3_finalize(pExists);
  if (rcExists != SQLITE_OK) return rlFailSqlite(p, rcExists);
  if (!bExists) return SQLITE_OK;
  char *zSql = sqlite3_mprintf(
      "SELECT value FROM \"%w\".raftlite_meta WHERE name = 'schema_version'",
      p->zSchema);
  if (zSql == NULL) return SQLITE_NOMEM;
  sqlite3_stmt *pStmt = NULL;
  int rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, NULL);
  sqlite3_free(zSql);
  if (rc != SQLITE_OK) {
    /* No raftlite_meta: a fresh schema (its absence is the answer). */
    return strstr(sqlite3_errmsg(p->db), "no such table") ? SQLITE_OK
                                                           : rlFailSqlite(p, rc);
  }
  if (sqlite3_step(pStmt) == SQLITE_ROW) *piVersion = sqlite3_column_int64(pStmt, 0);
  rc = sqlite3_finalize(pStmt);

  return rc == SQLITE_OK ? rc : rlFailSqlite(p, rc);
}

/* Table changes from iFrom up to RAFTLITE_SCHEMA_VERSION, run after the
** old triggers are dropped. Version 2 adds only a table
** (raftlite_snapshot_install, created by the files) and triggers (re-made).
** Version 3 stores the log as segments (sql/001_tables.sql): each entry of
** the old table raftlite_log becomes a segment of its own, and the table
** makes way for the view of that name. Version 4 changes only triggers
** (the append's rules in one statement). */
static int upgradeTables(RlStore *p, i64 iFrom) {
  if (iFrom >= 3) return SQLITE_OK;
  /* 001_tables.sql creates raftlite_segment (the rest exists). */
  int rc = execSchemaSql(p->db, raftliteSqlFiles[0].zSql, p->zSchema);
  if (rc == SQLITE_OK) rc = rlCheckInCall(p);
  /* The old table, unless a store that says it is older already has the
  ** view (its version row set back by hand). */
  int bTable = 0;
  if (rc == SQLITE_OK) {
    char *zSql = sqlite3_mprintf("SELECT 1 FROM \"%w\".sqlite_schema"
                                 " WHERE type = 'table' AND name = 'raftlite_log'",
                                 p->zSchema);
    sqlite3_stmt *pStmt = NULL;
    rc = zSql ? sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, NULL) : SQLITE_NOMEM;
    sqlite3_free(zSql);
    if (rc == SQLITE_OK) bTable = sqlite3_step(pStmt) == SQLITE_ROW;
    int rcFin = sqlite3_finalize(pStmt);
    if (rc == SQLITE_OK) rc = rcFin;
  }
  if (rc == SQLITE_OK && bTable) {
    rc = execf(p->db,
               "INSERT INTO \"%w\".raftlite_segment(first_index, last_index, term,"
               " kind, payloads, ends)"
               " SELECT idx, idx, term, kind, payload,"
               " CAST(printf('%%010d', length(CAST(payload AS BLOB))) AS BLOB)"
               " FROM \"%w\".raftlite_log ORDER BY idx;"
               "DROP TABLE \"%w\".raftlite_log;",
               p->zSchema, p->zSchema, p->zSchema);
    /* A row the new CHECKs refuse breaks a rule version 2 had too. */
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
      rc = rlFail(p, RL_MSG_UPGRADE_BROKEN, p->zSchema, sqlite3_errmsg(p->db));
    }
  }
  return rc;
}

static int dropTriggers(RlStore *p) {
  char *zSql = sqlite3_mprintf(
      "SELECT name FROM \"%w\".sqlite_schema"
      " WHERE type = 'trigger' AND lower(name) GLOB 'raftlite_*'",
      p->zSchema);
  if (zSql == NULL) return SQLITE_NOMEM;
  sqlite3_stmt *pStmt = NULL;
  int rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, NULL);
  sqlite3_free(zSql);
  /* Collect first: dropping while the scan of sqlite_schema is open would
  ** modify the table being read. */
  sqlite3_str *pDrop = sqlite3_str_new(p->db);
  while (rc == SQLITE_OK && sqlite3_step(pStmt) == SQLITE_ROW) {
    sqlite3_str_appendf(pDrop, "DROP TRIGGER \"%w\".\"%w\";", p->zSchema,
                        (const char *)sqlite3_column_text(pStmt, 0));
  }
  if (rc == SQLITE_OK) rc = sqlite3_finalize(pStmt);
  char *zDrop = sqlite3_str_finish(pDrop);
  if (rc == SQLITE_OK && zDrop) rc = sqlite3_exec(p->db, zDrop, NULL, NULL, NULL);
  sqlite3_free(zDrop);
  return rc;
}

/* After an upgrade, every membership the store holds must pass this
** version's validator (version 2 refuses forms version 1 let through:
** non-canonical text, -0, escaped keys). Upgrading a store that holds one
** would wedge it (its apply refused forever), so the upgrade is refused,
** naming the first such membership. */
static int revalidateMemberships(RlStore *p) {
  char *zSql = sqlite3_mprintf(
      "SELECT format('entry %%d-%%d', term, first_index), payloads"
      " FROM \"%w\".raftlite_segment WHERE kind = 'membership'"
      " UNION ALL SELECT 'the applied membership', membership"
      " FROM \"%w\".raftlite_state WHERE membership IS NOT NULL"
      " UNION ALL SELECT format('the membership of snapshot %%s', quote(snapshot_id)),"
      " membership FROM \"%w\".raftlite_snapshot WHERE membership IS NOT NULL",
      p->zSchema, p->zSchema, p->zSchema);
  char *zCheck = sqlite3_mprintf(
      "INSERT INTO \"%w\".raftlite_membership_check VALUES (?1)", p->zSchema);
  sqlite3_stmt *pStmt = NULL, *pCheck = NULL;
  int rc = (zSql && zCheck) ? SQLITE_OK : SQLITE_NOMEM;
  if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(p->db, zCheck, -1, &pCheck, NULL);
  sqlite3_free(zSql);
  sqlite3_free(zCheck);
  while (rc == SQLITE_OK) {
    int rcStep = sqlite3_step(pStmt);
    if (rcStep == SQLITE_DONE) break;
    if (rcStep != SQLITE_ROW) {
      rc = rlFailSqlite(p, rcStep);
      break;
    }
    rc = sqlite3_bind_value(pCheck, 1, sqlite3_column_value(pStmt, 1));
    if (rc != SQLITE_OK) break;
    sqlite3_step(pCheck);
    int rcCheck = sqlite3_reset(pCheck);
    if (rlIsResourceError(rcCheck)) {
      rc = rlFailSqlite(p, rcCheck);
    } else if (rcCheck != SQLITE_OK) {
      rc = rlFail(p, RL_MSG_UPGRADE_MEMBERSHIP, p->zSchema,
                  (const char *)sqlite3_column_text(pStmt, 0));
    }
  }
  sqlite3_finalize(pCheck);
  sqlite3_finalize(pStmt);
  return rc;
}

static int recheckState(RlStore *p);

int rlInstall(RlStore *p) {
  int rc = rlBegin(p);
  if (rc != SQLITE_OK) return rc;
  i64 iVersion = 0;
  rc = readVersion(p, &iVersion);
  if (rc == SQLITE_OK && iVersion > RAFTLITE_SCHEMA_VERSION) {
    rc = rlFail(p, RL_MSG_STORE_NEWER, p->zSchema, iVersion,
                RAFTLITE_SCHEMA_VERSION);
  }
  int bUpgrade = iVersion >= 0 && iVersion < RAFTLITE_SCHEMA_VERSION;
  if (rc == SQLITE_OK && bUpgrade) {
    rc = dropTriggers(p);
    if (rc == SQLITE_OK) rc = upgradeTables(p, iVersion);
  }
  /* Every object is created IF NOT EXISTS: on a current store this changes
  ** nothing, except that it puts back an object someone dropped. */
  for (const RlSqlFile *pFile = raftliteSqlFiles; rc == SQLITE_OK && pFile->zName; pFile++) {
    rc = rlCheckInCall(p);
    if (rc == SQLITE_OK) rc = execSchemaSql(p->db, pFile->zSql, p->zSchema);
  }
  if (rc == SQLITE_OK && bUpgrade) rc = revalidateMemberships(p);
  if (rc == SQLITE_OK && bUpgrade) rc = recheckState(p);
  if (rc == SQLITE_OK) rc = rlCheckInCall(p);
  if (rc == SQLITE_OK) {
    rc = execf(p->db,
               "INSERT INTO \"%w\".raftlite_state(id)"
               " SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM \"%w\".raftlite_state);"
               "INSERT INTO \"%w\".raftlite_meta(name, value)"
               " VALUES ('schema_version', %d)"
               " ON CONFLICT(name) DO UPDATE SET value = excluded.value;",
               p->zSchema, p->zSchema, p->zSchema, RAFTLITE_SCHEMA_VERSION);
  }
  for (size_t i = 0; rc == SQLITE_OK && i < sizeof(azVtab) / sizeof(azVtab[0]); i++) {
    rc = rlCheckInCall(p);
    if (rc == SQLITE_OK) rc = execf(p->db, "CREATE VIRTUAL TABLE IF NOT EXISTS \"%w\".%s USING %s",
               p->zSchema, azVtab[i][0], azVtab[i][1]);
  }
  if (rc != SQLITE_OK && p->zErrMsg == NULL) rc = rlFailSqlite(p, rc);
  return rlEnd(p, rc);
}

/* ------------------------------------------------------------------ */
/* raft_check                                                          */

/* Appends one "Kind: detail" line to the report. */
static void report(sqlite3_str *pReport, const char *zFormat, ...) {
  va_list ap;
  va_start(ap, zFormat);
  if (sqlite3_str_length(pReport) > 0) sqlite3_str_appendchar(pReport, 1, '\n');
  sqlite3_str_vappendf(pReport, zFormat, ap);
  va_end(ap);
}

/* Builds the reference store: the embedded files in a private database. */
static int openReference(sqlite3 **pDb) {
  int rc = sqlite3_open_v2(":memory:", pDb,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY, NULL);
  for (const RlSqlFile *pFile = raftliteSqlFiles; rc == SQLITE_OK && pFile->zName; pFile++) {
    rc = execSchemaSql(*pDb, pFile->zSql, NULL);
  }
  return rc;
}

/* Reports, as "unexpected <what> on <table>", every row of zStoreSql (run
** on the store: columns key1, key2, what, table) for which zRefSql (run on
** the reference with the two keys bound) finds no row. A failed bind or
** step is an error, never a finding. */
static int reportUnknown(RlStore *p, sqlite3 *pRef, const char *zStoreSql,
                         const char *zRefSql, sqlite3_str *pReport) {
  sqlite3_stmt *pStmt = NULL, *pRefStmt = NULL;
  int rc = sqlite3_prepare_v2(p->db, zStoreSql, -1, &pStmt, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(pRef, zRefSql, -1, &pRefStmt, NULL);
  while (rc == SQLITE_OK) {
    int rcRow = sqlite3_step(pStmt);
    if (rcRow != SQLITE_ROW) {
      if (rcRow != SQLITE_DONE) rc = rcRow;
      break;
    }
    rc = sqlite3_bind_value(pRefStmt, 1, sqlite3_column_value(pStmt, 0));
    if (rc == SQLITE_OK) rc = sqlite3_bind_value(pRefStmt, 2, sqlite3_column_value(pStmt, 1));
    int rcStep = rc == SQLITE_OK ? sqlite3_step(pRefStmt) : rc;
    if (rcStep != SQLITE_ROW && rcStep != SQLITE_DONE) {
      rc = rcStep;
      break;
    }
    if (rcStep == SQLITE_DONE) {
      report(pReport, "SchemaAltered: unexpected %s on %s", sqlite3_column_text(pStmt, 2),
             sqlite3_column_text(pStmt, 3));
    }
    rc = sqlite3_reset(pRefStmt);
  }
  sqlite3_finalize(pRefStmt);
  int rc2 = sqlite3_finalize(pStmt);
  return rc == SQLITE_OK ? rc2 : rc;
}

/* Reports missing, altered and unexpected raftlite_* objects. */
static int checkObjects(RlStore *p, sqlite3 *pRef, sqlite3_str *pReport) {
  sqlite3_stmt *pStmt = NULL;
  char *zSql = sqlite3_mprintf(
      "SELECT type, name, sql FROM \"%w\".sqlite_schema"
      " WHERE name = ?1 AND type = ?2",
      p->zSchema);
  if (zSql == NULL) return SQLITE_NOMEM;
  int rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, NULL);
  sqlite3_free(zSql);
  sqlite3_stmt *pRefStmt = NULL;
  if (rc == SQLITE_OK) {
    rc = sqlite3_prepare_v2(pRef,
                            "SELECT type, name, sql FROM sqlite_schema"
                            " WHERE sql IS NOT NULL ORDER BY rowid",
                            -1, &pRefStmt, NULL);
  }
  while (rc == SQLITE_OK && sqlite3_step(pRefStmt) == SQLITE_ROW) {
    const char *zType = (const char *)sqlite3_column_text(pRefStmt, 0);
    const char *zName = (const char *)sqlite3_column_text(pRefStmt, 1);
    const char *zWant = (const char *)sqlite3_column_text(pRefStmt, 2);
    /* A failed bind or step is an error, never a finding. */
    rc = sqlite3_bind_text(pStmt, 1, zName, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(pStmt, 2, zType, -1, SQLITE_TRANSIENT);
    int rcStep = rc == SQLITE_OK ? sqlite3_step(pStmt) : rc;
    if (rcStep == SQLITE_DONE) {
      report(pReport, "SchemaAltered: %s %s is missing", zType, zName);
    } else if (rcStep != SQLITE_ROW) {
      sqlite3_reset(pStmt);
      rc = rcStep;
      break;
    } else if (zWant == NULL || sqlite3_column_text(pStmt, 2) == NULL) {
      /* A text that could not be read: out of memory, no finding. */
      sqlite3_reset(pStmt);
      rc = SQLITE_NOMEM;
      break;
    } else if (strcmp((const char *)sqlite3_column_text(pStmt, 2), zWant) != 0) {
      report(pReport, "SchemaAltered: %s %s differs from this library's", zType,
             zName);
    }
    rc = sqlite3_reset(pStmt);
  }
  sqlite3_finalize(pRefStmt);
  pRefStmt = NULL; /* prepared again below, maybe not (a failed prepare) */
  sqlite3_finalize(pStmt);
  if (rc != SQLITE_OK) return rc;

  /* Objects this library did not create (a trigger added by hand, say). */
  zSql = sqlite3_mprintf(
      "SELECT type, name, type || ' ' || name, tbl_name FROM \"%w\".sqlite_schema"
      " WHERE lower(tbl_name) GLOB 'raftlite_*' AND sql IS NOT NULL",
      p->zSchema);
  if (zSql == NULL) return SQLITE_NOMEM;
  rc = reportUnknown(p, pRef, zSql, "SELECT 1 FROM sqlite_schema WHERE type = ?1 AND name = ?2",
                     pReport);
  sqlite3_free(zSql);
  if (rc != SQLITE_OK) return rc;

  /* The virtual tables raft_install() creates, and TEMP triggers: a temp
  ** trigger on the store's tables runs before the store's own and could
  ** RAISE(IGNORE) a write past them. */
  zSql = sqlite3_mprintf(
      "SELECT 'virtual table ' || v.column1 || ' is missing' FROM (VALUES"
      " ('raft_log'), ('raft_hard_state'), ('raft_state'), ('raft_snapshot')) AS v"
      " WHERE NOT EXISTS (SELECT 1 FROM \"%w\".sqlite_schema"
      " WHERE name = v.column1 AND sql GLOB 'CREATE VIRTUAL TABLE*')",
      p->zSchema);
  if (zSql == NULL) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, NULL);
  sqlite3_free(zSql);
  while (rc == SQLITE_OK && sqlite3_step(pStmt) == SQLITE_ROW) {
    report(pReport, "SchemaAltered: %s", sqlite3_column_text(pStmt, 0));
  }
  if (rc == SQLITE_OK) rc = sqlite3_finalize(pStmt);
  else sqlite3_finalize(pStmt);
  if (rc != SQLITE_OK || sqlite3_stricmp(p->zSchema, "temp") == 0) return rc;

  /* Temp triggers on raftlite_* tables. A store installed in temp has its
  ** own, exactly this library's: those are no tampering. Any other could
  ** RAISE(IGNORE) a write past the store's rules. */
  return reportUnknown(p, pRef,
                       "SELECT name, sql, 'temp trigger ' || name, tbl_name"
                       " FROM temp.sqlite_schema WHERE type = 'trigger'"
                       " AND lower(tbl_name) GLOB 'raftlite_*'",
                       "SELECT 1 FROM sqlite_schema WHERE type = 'trigger'"
                       " AND name = ?1 AND sql = ?2",
                       pReport);
}

/* Each query returns rows of one problem each: (kind, detail). They re-check
** the invariants of sql/ on the stored rows, in full scans: raft_check is
** an operator's tool, not a hot path. */
static const char *const azStateCheck[] = {
    /* log-contiguous: a hole or terms going down between segments (inside
    ** one, indexes are consecutive and the term one by construction) */
    "SELECT 'LogsNonConsecutive', format('entry %d-%d follows %d-%d',"
    " b.term, b.first_index, a.term, a.last_index)"
    " FROM $S.raftlite_segment AS a JOIN $S.raftlite_segment AS b"
    " ON b.first_index = (SELECT first_index FROM $S.raftlite_segment"
    "  WHERE first_index > a.first_index ORDER BY first_index LIMIT 1)"
    " WHERE b.first_index <> a.last_index + 1 OR b.term < a.term",
    /* log-contiguous: the first present entry follows last_purged */
    "SELECT 'LogsNonConsecutive', format('first entry %d-%d after last purged"
    " log id %d-%d', g.term, max(g.first_index, s.purged_index + 1),"
    " s.purged_term, s.purged_index)"
    " FROM $S.raftlite_state AS s, $S.raftlite_segment AS g"
    " WHERE g.first_index = (SELECT min(first_index) FROM $S.raftlite_segment)"
    " AND s.purged_index IS NOT NULL AND g.last_index > s.purged_index"
    " AND (g.first_index > s.purged_index + 1 OR g.term < s.purged_term)",
    /* log-contiguous: every stored segment has a present entry */
    "SELECT 'LogsNonConsecutive', format('segment %d..%d lies at or below last"
    " purged log id %d-%d and is still stored', g.first_index, g.last_index,"
    " s.purged_term, s.purged_index)"
    " FROM $S.raftlite_state AS s JOIN $S.raftlite_segment AS g"
    " ON g.last_index <= s.purged_index",
    /* purge-applied */
    "SELECT 'PurgeNonApplied', format('last purged log id %d-%d, last applied"
    " %s', purged_term, purged_index, coalesce(applied_term || '-' ||"
    " applied_index, 'none')) FROM $S.raftlite_state"
    " WHERE purged_index > coalesce(applied_index, -1)",
    /* apply-consecutive: the entry at last_applied carries its term */
    "SELECT 'LogIdMismatch', format('last applied log id %d-%d, the log holds"
    " %d-%d', s.applied_term, s.applied_index, g.term, s.applied_index)"
    " FROM $S.raftlite_state AS s JOIN $S.raftlite_segment AS g"
    " ON g.first_index <= s.applied_index AND g.last_index >= s.applied_index"
    " WHERE s.applied_index > coalesce(s.purged_index, -1)"
    " AND g.term <> s.applied_term",
    /* ids-ordered: no entry below last_applied with a greater term; one
    ** line per entry */
    "WITH RECURSIVE e(idx, last, term, applied_term, applied_index) AS ("
    " SELECT max(g.first_index, coalesce(s.purged_index, -1) + 1),"
    "  min(g.last_index, s.applied_index - 1), g.term, s.applied_term, s.applied_index"
    " FROM $S.raftlite_state AS s JOIN $S.raftlite_segment AS g"
    " ON g.first_index < s.applied_index WHERE g.term > s.applied_term"
    " UNION ALL SELECT idx + 1, last, term, applied_term, applied_index FROM e"
    " WHERE idx < last)"
    " SELECT 'LogIdMismatch', format('entry %d-%d is below last applied log id"
    " %d-%d by index but above it by log id', term, idx, applied_term,"
    " applied_index) FROM e WHERE idx <= last ORDER BY idx",
    /* snapshot-install: a command, empty at rest */
    "SELECT 'SchemaAltered', format('raftlite_snapshot_install holds %d rows,"
    " not 0', count(*)) FROM $S.raftlite_snapshot_install HAVING count(*) > 0",
    /* snapshot-bytes-fixed: chunks lie within the size of a stored snapshot */
    "SELECT 'SnapshotInvalid', format('snapshot %s: a chunk at offset %d lies"
    " outside its %d bytes', quote(s.snapshot_id), c.seq * 65536, s.size)"
    " FROM $S.raftlite_snapshot AS s JOIN $S.raftlite_snapshot_chunk AS c"
    " ON c.snapshot = s.id WHERE s.snapshot_id IS NOT NULL"
    " AND (c.seq * 65536 >= s.size OR length(c.data) > 65536)",
    "SELECT 'SnapshotInvalid', format('snapshot %s: %d of its %d bytes are"
    " missing', quote(s.snapshot_id), s.size - coalesce((SELECT sum(min(length(c.data),"
    " s.size - c.seq * 65536)) FROM $S.raftlite_snapshot_chunk AS c"
    " WHERE c.snapshot = s.id), 0), s.size) FROM $S.raftlite_snapshot AS s"
    " WHERE s.snapshot_id IS NOT NULL AND s.size > coalesce((SELECT"
    " sum(min(length(c.data), s.size - c.seq * 65536))"
    " FROM $S.raftlite_snapshot_chunk AS c WHERE c.snapshot = s.id), 0)",
    /* no-dirty-log: one line per entry */
    "WITH RECURSIVE e(idx, last, term, applied_term, applied_index) AS ("
    " SELECT max(g.first_index, s.applied_index + 1,"
    "  coalesce(s.purged_index, -1) + 1), g.last_index, g.term,"
    "  s.applied_term, s.applied_index"
    " FROM $S.raftlite_state AS s JOIN $S.raftlite_segment AS g"
    " ON g.last_index > s.applied_index WHERE g.term < s.applied_term"
    " UNION ALL SELECT idx + 1, last, term, applied_term, applied_index FROM e"
    " WHERE idx < last)"
    " SELECT 'DirtyLog', format('entry %d-%d above last applied log id %d-%d',"
    " term, idx, applied_term, applied_index) FROM e WHERE idx <= last ORDER BY idx",
    /* truncate_from is a command, NULL at rest */
    "SELECT 'SchemaAltered', format('raftlite_state.truncate_from is %d, not"
    " NULL', truncate_from) FROM $S.raftlite_state"
    " WHERE truncate_from IS NOT NULL",
    /* memberships are stored canonical */
    "SELECT 'InvalidMembership', format('entry %d-%d is not canonical JSON',"
    " term, first_index) FROM $S.raftlite_segment WHERE kind = 'membership'"
    " AND typeof(payloads) = 'text' AND json_valid(payloads)"
    " AND payloads <> json(payloads)",
    "SELECT 'InvalidMembership', format('applied membership %d-%d is not"
    " canonical JSON', membership_term, membership_index)"
    " FROM $S.raftlite_state WHERE typeof(membership) = 'text'"
    " AND json_valid(membership) AND membership <> json(membership)",
    /* membership-applied */
    "SELECT 'InvalidMembership', format('applied membership %d-%d is above"
    " last applied log id %s', membership_term, membership_index,"
    " coalesce(applied_term || '-' || applied_index, 'none'))"
    " FROM $S.raftlite_state WHERE membership_index IS NOT NULL"
    " AND (applied_index IS NULL OR (membership_term, membership_index)"
    " > (applied_term, applied_index))",
    "SELECT 'InvalidMembership', format('applied membership %d-%d differs"
    " from the log''s entry %d-%d', s.membership_term, s.membership_index,"
    " g.term, s.membership_index) FROM $S.raftlite_state AS s"
    " JOIN $S.raftlite_segment AS g ON g.first_index <= s.membership_index"
    " AND g.last_index >= s.membership_index"
    " WHERE s.membership_index > coalesce(s.purged_index, -1)"
    " AND (g.term <> s.membership_term OR g.kind <> 'membership'"
    " OR g.payloads IS NOT s.membership)",
    /* log ids are both NULL or both set; values in range */
    "SELECT 'SchemaAltered', 'raftlite_state holds half a log id'"
    " FROM $S.raftlite_state WHERE (purged_term IS NULL) <> (purged_index IS NULL)"
    " OR (applied_term IS NULL) <> (applied_index IS NULL)"
    " OR (membership_term IS NULL) <> (membership_index IS NULL)"
    " OR (membership_term IS NULL) <> (membership IS NULL)",
    "SELECT 'SchemaAltered', format('raftlite_hard_state has %d rows', n)"
    " FROM (SELECT count(*) AS n FROM $S.raftlite_hard_state) WHERE n > 1",
    "SELECT 'OutOfRange', format('hard state term %s, vote %s',"
    " quote(current_term), quote(voted_for)) FROM $S.raftlite_hard_state"
    " WHERE typeof(current_term) <> 'integer' OR current_term < 0"
    " OR voted_for < 0 OR (voted_for IS NOT NULL AND typeof(voted_for) <> 'integer')",
    /* chunks go with their snapshot */
    "SELECT 'SchemaAltered', format('%d snapshot chunks belong to no snapshot', count(*))"
    " FROM $S.raftlite_snapshot_chunk AS c WHERE NOT EXISTS"
    " (SELECT 1 FROM $S.raftlite_snapshot AS s WHERE s.id = c.snapshot)"
    " HAVING count(*) > 0",
    /* state-single-row */
    "SELECT 'SchemaAltered', format('raftlite_state has %d rows, not 1', n)"
    " FROM (SELECT count(*) AS n FROM $S.raftlite_state) WHERE n <> 1",
    /* payloads the CHECKs would refuse (written with ignore_check_constraints) */
    "SELECT 'InvalidEntry', format(CASE WHEN kind IN ('blank', 'normal',"
    " 'membership') THEN 'entry %d-%d: a %s entry with a %s payload'"
    " ELSE 'entry %d-%d has unknown kind ''%s'' (%s payload)' END,"
    " term, first_index, kind, typeof(payloads)) FROM $S.raftlite_segment"
    " WHERE NOT (CASE kind WHEN 'blank' THEN typeof(payloads) = 'blob' AND"
    " length(payloads) = 0 WHEN 'normal' THEN typeof(payloads) = 'blob'"
    " WHEN 'membership' THEN typeof(payloads) = 'text'"
    " AND last_index = first_index ELSE 0 END)",
    /* segment-packing: one end offset per entry, digits, non-decreasing,
    ** the last one the payloads' length */
    "SELECT 'InvalidEntry', format('segment %d..%d: its end offsets do not fit"
    " its payloads', first_index, last_index) FROM $S.raftlite_segment AS g"
    " WHERE typeof(ends) <> 'blob' OR last_index < first_index"
    " OR length(ends) <> 10 * (last_index - first_index + 1)"
    " OR CAST(ends AS TEXT) GLOB '*[^0-9]*'"
    " OR CAST(substr(ends, -10) AS INTEGER) <> length(CAST(payloads AS BLOB))"
    " OR EXISTS (SELECT 1 FROM json_each('[' || substr(replace(hex(zeroblob("
    "  length(ends) / 10 - 1)), '00', '0,'), 1, 2 * (length(ends) / 10 - 1) - 1)"
    "  || ']') AS j WHERE substr(ends, 10 * j.key + 1, 10)"
    "  > substr(ends, 10 * j.key + 11, 10))",
};

static const size_t nStateCheck = sizeof(azStateCheck) / sizeof(azStateCheck[0]);

/* Runs one of azStateCheck[] and reports its rows. */
static int checkState(RlStore *p, const char *zTemplate, sqlite3_str *pReport) {
  char *zSql = rlExpandSchema(zTemplate, p->zSchema);
  if (zSql == NULL) return SQLITE_NOMEM;
  sqlite3_stmt *pStmt = NULL;
  int rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, NULL);
  sqlite3_free(zSql);
  while (rc == SQLITE_OK && sqlite3_step(pStmt) == SQLITE_ROW) {
    report(pReport, "%s: %s", sqlite3_column_text(pStmt, 0),
           sqlite3_column_text(pStmt, 1));
  }
  int rc2 = sqlite3_finalize(pStmt);
  return rc == SQLITE_OK ? rc2 : rc;
}

/* After an upgrade the stored state must keep every rule of this version
** (the old triggers could have been off when it was written): the first
** problem raft_check() would report refuses the upgrade. */
static int recheckState(RlStore *p) {
  sqlite3_str *pReport = sqlite3_str_new(p->db);
  int rc = SQLITE_OK;
  for (size_t i = 0; rc == SQLITE_OK && i < nStateCheck; i++) {
    rc = checkState(p, azStateCheck[i], pReport);
  }
  char *zReport = sqlite3_str_finish(pReport);
  if (rc == SQLITE_OK && zReport == NULL && sqlite3_str_errcode(pReport) != SQLITE_OK) {
    rc = SQLITE_NOMEM;
  }
  if (rc != SQLITE_OK) {
    sqlite3_free(zReport);
    return rlFailSqlite(p, rc);
  }
  if (zReport && zReport[0]) {
    char *zNl = strchr(zReport, '\n');
    if (zNl) *zNl = 0;
    rc = rlFail(p, RL_MSG_UPGRADE_BROKEN, p->zSchema, zReport);
  }
  sqlite3_free(zReport);
  return rc;
}

/* Memberships stored without the trigger's check: validated by the
** reference store's raftlite_membership_check. */
static int checkMemberships(RlStore *p, sqlite3 *pRef, sqlite3_str *pReport) {
  char *zSql = sqlite3_mprintf(
      "SELECT format('entry %%d-%%d', term, first_index), payloads"
      " FROM \"%w\".raftlite_segment WHERE kind = 'membership'"
      " UNION ALL SELECT format('applied membership %%d-%%d', membership_term,"
      " membership_index), membership FROM \"%w\".raftlite_state"
      " WHERE membership IS NOT NULL",
      p->zSchema, p->zSchema);
  if (zSql == NULL) return SQLITE_NOMEM;
  sqlite3_stmt *pStmt = NULL, *pCheck = NULL;
  int rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, NULL);
  sqlite3_free(zSql);
  if (rc == SQLITE_OK) {
    rc = sqlite3_prepare_v2(pRef, "INSERT INTO raftlite_membership_check VALUES (?1)",
                            -1, &pCheck, NULL);
  }
  while (rc == SQLITE_OK && sqlite3_step(pStmt) == SQLITE_ROW) {
    rc = sqlite3_bind_value(pCheck, 1, sqlite3_column_value(pStmt, 1));
    if (rc != SQLITE_OK) break;
    sqlite3_step(pCheck);
    /* The validator's verdict is a trigger's RAISE or malformed JSON (an
    ** error of the JSON functions); out of memory is no verdict. */
    int rcCheck = sqlite3_reset(pCheck);
    if (rlIsResourceError(rcCheck)) {
      rc = rcCheck;
      break;
    }
    if (rcCheck != SQLITE_OK) {
      report(pReport, "InvalidMembership: %s", sqlite3_column_text(pStmt, 0));
    }
  }
  sqlite3_finalize(pCheck);
  int rc2 = sqlite3_finalize(pStmt);
  return rc == SQLITE_OK ? rc2 : rc;
}

/* Whether every backing table exists (the state checks read them all). */
static int tablesPresent(RlStore *p, int *pbAll) {
  char *zSql = sqlite3_mprintf(
      "SELECT count(*) FROM \"%w\".sqlite_schema WHERE type = 'table'"
      " AND name IN ('raftlite_meta', 'raftlite_hard_state', 'raftlite_segment',"
      " 'raftlite_state', 'raftlite_snapshot', 'raftlite_snapshot_chunk',"
      " 'raftlite_membership_check', 'raftlite_snapshot_install')",
      p->zSchema);
  if (zSql == NULL) return SQLITE_NOMEM;
  sqlite3_stmt *pStmt = NULL;
  int rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, NULL);
  sqlite3_free(zSql);
  *pbAll = rc == SQLITE_OK && sqlite3_step(pStmt) == SQLITE_ROW &&
           sqlite3_column_int(pStmt, 0) == 8;
  int rc2 = sqlite3_finalize(pStmt);
  return rc == SQLITE_OK ? rc2 : rc;
}

int rlCheck(RlStore *p, char **pzReport) {
  *pzReport = NULL;
  rlResetError(p);
  if (sqlite3_db_filename(p->db, p->zSchema) == NULL &&
      sqlite3_stricmp(p->zSchema, "temp") != 0) {
    return rlFail(p, RL_MSG_NO_SCHEMA, p->zSchema);
  }
  i64 iVersion = 0;
  int rc = readVersion(p, &iVersion);
  if (rc != SQLITE_OK) return rc;
  if (iVersion < 0) return rlFail(p, RL_MSG_NOT_INSTALLED, p->zSchema, p->zSchema);

  sqlite3_str *pReport = sqlite3_str_new(p->db);
  if (iVersion != RAFTLITE_SCHEMA_VERSION) {
    report(pReport, "SchemaVersion: the store has schema version %lld, this library %d%s",
           iVersion, RAFTLITE_SCHEMA_VERSION,
           iVersion < RAFTLITE_SCHEMA_VERSION ? " (run raft_install to upgrade)" : "");
  }
  sqlite3 *pRef = NULL;
  rc = openReference(&pRef);
  if (rc == SQLITE_OK) rc = checkObjects(p, pRef, pReport);
  int bAll = 0;
  if (rc == SQLITE_OK) rc = tablesPresent(p, &bAll);
  for (size_t i = 0; rc == SQLITE_OK && bAll && i < nStateCheck; i++) {
    rc = checkState(p, azStateCheck[i], pReport);
  }
  if (rc == SQLITE_OK && bAll) rc = checkMemberships(p, pRef, pReport);
  sqlite3_close(pRef);
  if (rc != SQLITE_OK) {
    sqlite3_free(sqlite3_str_finish(pReport));
    return rlFailSqlite(p, rc);
  }
  if (sqlite3_str_length(pReport) > 0) {
    *pzReport = sqlite3_str_finish(pReport);
    return *pzReport ? SQLITE_OK : SQLITE_NOMEM;
  }
  sqlite3_free(sqlite3_str_finish(pReport));
  return SQLITE_OK;
}
