/*
** sm_sql.c — the application's own tables as the state machine.
**
**     SELECT raft_state_machine('["kv"]',
**       'INSERT OR REPLACE INTO kv VALUES (json_extract(:payload, ''$.k''),
**                                          json_extract(:payload, ''$.v''))');
**     SELECT raft_apply(10);      -- each normal entry runs the statement
**     SELECT raft_snapshot_build();  -- an SQLite image of kv
**
** The declaration (raftlite_sm_table, raftlite_sm; sql/007) names tables of
** the store's schema and one statement run per normal entry with :index,
** :term, :payload (text) and :payload_blob bound. The statement must be one
** SELECT, INSERT, UPDATE, DELETE or REPLACE (WITH and VALUES included: no
** VACUUM, PRAGMA, ATTACH, DDL or transaction control), and is prepared
** under an authorizer that lets it read and write the declared tables and
** nothing else, and call only the deterministic built-in functions of
** azAllowedFunc[]. Its first result column, if it returns a row
** (RETURNING), is the entry's response. Whenever the statement is
** prepared (at declaration, when its text or the schema changed) the
** declared tables are checked to be ordinary tables of the store's schema:
** a declared table replaced by a virtual table (one over raft_log, say)
** is refused at the next apply.
**
** Precedence for each callback: the C state machine set on a handle, else
** this declaration, else nothing (apply is a no-op, a snapshot is empty).
**
** Snapshots. Building writes the declared tables (with their indexes) and
** a meta table raftlite_snapshot_meta (applied id, membership) into a
** fresh database file on a private connection, then streams the file into
** the snapshot's chunks: the image opens in the sqlite3 shell as an
** ordinary database. Installing is the reverse, with the image treated as
** input from the network: it is copied to a private file and checked on a
** private read-only connection (trusted_schema off, defensive, cell size
** checks, no mmap): integrity_check, exactly the declared tables as the
** store defines them, their indexes and the meta table, nothing else, and
** a meta equal to what install was told; after the copy, with foreign_keys
** on, the foreign keys of the tables involved. Anything else is
** SnapshotInvalid. A check that could not run (out of memory, I/O) is no
** verdict on the image: its code passes through with no violation kind.
** Rows move one at a time, so memory does not grow with the image. Text of
** the image enters messages only through safeText() (valid UTF-8, capped).
**
** The private files are <db>-raftlite-image-<pid>-<random>, locked with
** flock() while in use; rlSmRemoveLeftoverImages() removes those a crash
** left behind.
**
** Caveat: SQLite has one authorizer per connection and no way to read it
** back; preparing the apply statement replaces the connection's
** authorizer and clears it afterwards. Setting an authorizer expires
** every prepared statement of the connection: the statement is prepared
** before the store's savepoint opens (rlSmPrepare, rlSmDeclare), and the
** store's idle statements are finalized then, so that nothing the
** savepoint's end needs must be prepared again inside the call.
*/
#include "raftlite_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Untrusted text in messages                                          */

/* The length of the valid UTF-8 sequence at s (1 to 4), or 0. */
static int utf8Length(const unsigned char *s) {
  unsigned int c = s[0];
  if (c < 0x80) return 1;
  int n;
  unsigned int lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0; /* overlong */
    if (c == 0xed) hi = 0x9f; /* surrogates */
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90; /* overlong */
    if (c == 0xf4) hi = 0x8f; /* above U+10FFFF */
  } else {
    return 0;
  }
  if (s[1] < lo || s[1] > hi) return 0;
  for (int i = 2; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
  }
  return n;
}

/* Text raftlite did not write (an image's names and rows, SQLite's
** messages about them, an apply statement's text) as it may enter a
** message: valid UTF-8 is kept; any other byte, a control character and
** the backslash become \xNN; at most nMax bytes ("..." marks a cut).
** Messages must be valid UTF-8: Python, for one, raises UnicodeDecodeError
** on anything else instead of sqlite3.Error. sqlite3_malloc'd; NULL on
** OOM. */
static char *safeText(const char *z, int nMax) {
  sqlite3_str *pOut = sqlite3_str_new(NULL);
  const unsigned char *s = (const unsigned char *)(z ? z : "");
  while (*s) {
    int n = utf8Length(s);
    int bEscape = n == 0 || (n == 1 && (*s < 0x20 || *s == 0x7f || *s == '\\'));
    if (sqlite3_str_length(pOut) + (bEscape ? 4 : n) > nMax) {
      sqlite3_str_appendall(pOut, "...");
      break;
    }
    if (bEscape) {
      sqlite3_str_appendf(pOut, "\\x%02x", *s);
      s++;
    } else {
      sqlite3_str_append(pOut, (const char *)s, n);
      s += n;
    }
  }
  if (sqlite3_str_errcode(pOut) != SQLITE_OK) {
    sqlite3_free(sqlite3_str_finish(pOut));
    return NULL;
  }
  char *zOut = sqlite3_str_finish(pOut);
  return zOut ? zOut : sqlite3_mprintf("%s", ""); /* finish gives NULL for "" */
}

/* How long an untrusted piece of a message may be. */
#define SAFE_MAX 200

/* Records message eMsg with one argument, untrusted text z; returns rc (or
** SQLITE_NOMEM when the message cannot be made). */
static int failWithText(RlStore *p, int rc, RlMsg eMsg, const char *z) {
  char *zSafe = safeText(z, SAFE_MAX);
  if (zSafe == NULL) {
    rlResetError(p);
    return SQLITE_NOMEM;
  }
  int rcMsg = rlFail(p, eMsg, zSafe);
  sqlite3_free(zSafe);
  return rcMsg == SQLITE_NOMEM ? rcMsg : rc;
}

/* SnapshotInvalid: "zWhat: zDetail", zDetail untrusted (or NULL). */
static int failInvalid(RlStore *p, const char *zWhat, const char *zDetail) {
  char *zSafe = zDetail ? safeText(zDetail, SAFE_MAX) : NULL;
  char *zWhy = zDetail ? (zSafe ? sqlite3_mprintf("%s: %s", zWhat, zSafe) : NULL)
                       : sqlite3_mprintf("%s", zWhat);
  sqlite3_free(zSafe);
  if (zWhy == NULL) {
    rlResetError(p);
    return SQLITE_NOMEM;
  }
  int rc = rlFail(p, RL_MSG_SNAPSHOT_INVALID, zWhy);
  sqlite3_free(zWhy);
  return rc;
}

/* Whether a failed step on an image is the image's fault (corrupt, not a
** database, a schema or row that does not fit) rather than a check that
** could not run (memory, I/O, locks, interrupt: passed through). */
static int imageAtFault(int rc) {
  switch (rc & 0xff) {
    case SQLITE_ERROR:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_TOOBIG:
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_FORMAT:
    case SQLITE_EMPTY:
      return 1;
    default:
      return 0;
  }
}

/* Records a failure on db that says nothing of the image (out of memory,
** I/O, ...): rc passes through with no violation kind; eMsg (one %s) says
** what failed. */
static int failNoVerdict(RlStore *p, sqlite3 *db, int rc, RlMsg eMsg) {
  if ((rc & 0xff) == SQLITE_NOMEM || db == NULL) {
    rlResetError(p);
    return SQLITE_NOMEM;
  }
  if (db == p->db) return rlFailSqlite(p, rc);
  return failWithText(p, rc, eMsg, sqlite3_errmsg(db));
}

/* ------------------------------------------------------------------ */
/* The declaration and the apply statement                             */

/* The declared tables, for the authorizer, and what it refused first. */
typedef struct SmTables {
  const char *zSchema;
  char **azTable;
  int nTable;
  char zDenied[160]; /* "" or why the authorizer refused (untrusted) */
} SmTables;

static void freeTables(SmTables *t) {
  for (int i = 0; i < t->nTable; i++) sqlite3_free(t->azTable[i]);
  sqlite3_free(t->azTable);
  memset(t, 0, sizeof(*t));
}

static int addTable(SmTables *t, const char *zName) {
  char **azNew = sqlite3_realloc64(t->azTable, sizeof(char *) * (size_t)(t->nTable + 1));
  if (azNew == NULL) return SQLITE_NOMEM;
  t->azTable = azNew;
  t->azTable[t->nTable] = sqlite3_mprintf("%s", zName ? zName : "");
  if (t->azTable[t->nTable] == NULL) return SQLITE_NOMEM;
  t->nTable++;
  return SQLITE_OK;
}

static int tableAllowed(const SmTables *t, const char *zDb, const char *zTable) {
  /* SQLite names no schema for some reads of a table it resolved already
  ** (count(*)): the name alone then decides. */
  if (zTable == NULL || (zDb && sqlite3_stricmp(zDb, t->zSchema) != 0)) return 0;
  for (int i = 0; i < t->nTable; i++) {
    if (sqlite3_stricmp(zTable, t->azTable[i]) == 0) return 1;
  }
  return 0;
}

/* The functions the apply statement may call: SQLite's built-in ones whose
** result depends on their arguments alone, so that every node applying the
** same entries reaches the same tables. Left out: random(), randomblob(),
** changes(), total_changes(), last_insert_rowid() (state of the node), the
** date and time functions ('now' and 'localtime' differ between nodes),
** the transcendental math functions (their last bits depend on the C
** library), sqlite_*(), load_extension(), raftlite's raft_*() (they would
** write the store from inside its own apply), and every function an
** application or extension registers (readfile(), writefile(), edit() of
** the shell...: effects outside the declared tables). Names a given SQLite
** does not have (unhex before 3.41, jsonb_* before 3.45) are harmless.
** json_each() and json_tree() are tables: see smAuthorizer(). */
static const char *const azAllowedFunc[] = {
    /* core scalar */
    "abs", "char", "coalesce", "concat", "concat_ws", "format", "glob", "hex", "if",
    "ifnull", "iif", "instr", "length", "like", "likelihood", "likely", "lower", "ltrim",
    "max", "min", "nullif", "octet_length", "printf", "quote", "replace", "round",
    "rtrim", "sign", "soundex", "substr", "substring", "trim", "typeof", "unhex",
    "unicode", "unistr", "unlikely", "upper", "zeroblob",
    /* exact math (SQLITE_ENABLE_MATH_FUNCTIONS) */
    "ceil", "ceiling", "floor", "mod", "trunc",
    /* aggregate and window */
    "avg", "count", "group_concat", "string_agg", "sum", "total", "row_number", "rank",
    "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead", "first_value",
    "last_value", "nth_value",
    /* JSON, and its -> and ->> operators */
    "json", "jsonb", "json_array", "jsonb_array", "json_array_length",
    "json_error_position", "json_extract", "jsonb_extract", "json_insert",
    "jsonb_insert", "json_object", "jsonb_object", "json_patch", "jsonb_patch",
    "json_pretty", "json_quote", "json_remove", "jsonb_remove", "json_replace",
    "jsonb_replace", "json_set", "jsonb_set", "json_type", "json_valid",
    "json_group_array", "jsonb_group_array", "json_group_object", "jsonb_group_object",
    "->", "->>",
};

static int functionAllowed(const char *zName) {
  for (size_t i = 0; zName && i < sizeof(azAllowedFunc) / sizeof(azAllowedFunc[0]); i++) {
    if (sqlite3_stricmp(zName, azAllowedFunc[i]) == 0) return 1;
  }
  return 0;
}

/* Records the first refusal of the authorizer, for the message: zFormat
** takes the object's name, schema-qualified when SQLite gave a schema. */
static int deny(SmTables *t, const char *zTrigger, const char *zFormat, const char *zDb,
                const char *zName) {
  if (t->zDenied[0] == 0) {
    char zObject[80], zWhat[140];
    if (zDb) sqlite3_snprintf(sizeof(zObject), zObject, "%s.%s", zDb, zName ? zName : "?");
    else sqlite3_snprintf(sizeof(zObject), zObject, "%s", zName ? zName : "?");
    sqlite3_snprintf(sizeof(zWhat), zWhat, zFormat, zObject);
    if (zTrigger) {
      sqlite3_snprintf(sizeof(t->zDenied), t->zDenied, "%s (in trigger %s)", zWhat, zTrigger);
    } else {
      sqlite3_snprintf(sizeof(t->zDenied), t->zDenied, "%s", zWhat);
    }
  }
  return SQLITE_DENY;
}

/* Lets the apply statement touch the declared tables only. */
static int smAuthorizer(void *pArg, int eAction, const char *z1, const char *z2,
                        const char *zDb, const char *zTrigger) {
  SmTables *t = pArg;
  switch (eAction) {
    case SQLITE_READ:
      /* json_each() and json_tree() decode payloads: read-only functions
      ** that SQLite presents as tables. */
      if (z1 && (sqlite3_stricmp(z1, "json_each") == 0 || sqlite3_stricmp(z1, "json_tree") == 0 ||
                 sqlite3_stricmp(z1, "jsonb_each") == 0 || sqlite3_stricmp(z1, "jsonb_tree") == 0)) {
        return SQLITE_OK;
      }
      return tableAllowed(t, zDb, z1) ? SQLITE_OK
                                      : deny(t, zTrigger, "it reads %s, not a declared table", zDb, z1);
    case SQLITE_UPDATE:
    case SQLITE_INSERT:
    case SQLITE_DELETE:
      return tableAllowed(t, zDb, z1) ? SQLITE_OK
                                      : deny(t, zTrigger, "it writes %s, not a declared table", zDb, z1);
    case SQLITE_SELECT:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    case SQLITE_FUNCTION:
      /* z2 is the function's name. */
      return functionAllowed(z2) ? SQLITE_OK
                                 : deny(t, zTrigger,
                                        "it calls %s(), not one of the deterministic built-in "
                                        "functions it may use", NULL, z2);
    case SQLITE_PRAGMA:
      return deny(t, zTrigger, "it runs PRAGMA %s", NULL, z1);
    default:
      return deny(t, zTrigger, "it does more than %s", NULL, "read and write tables");
  }
}

/* Reads the declared tables of the store, each checked to be an ordinary
** table of the store's schema (not a view, nor a virtual table: one over
** raft_log would let the apply statement or an install write the log). */
static int readTables(RlStore *p, SmTables *t) {
  memset(t, 0, sizeof(*t));
  t->zSchema = p->zSchema;
  char *zSql = rlExpandSchema(
      "SELECT t.name, EXISTS (SELECT 1 FROM $S.sqlite_schema AS s WHERE s.type = 'table'"
      " AND s.name = t.name AND s.sql NOT LIKE 'CREATE VIRTUAL%')"
      " FROM $S.raftlite_sm_table AS t ORDER BY t.name",
      p->zSchema);
  if (zSql == NULL) return SQLITE_NOMEM;
  sqlite3_stmt *pStmt = NULL;
  int rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, NULL);
  sqlite3_free(zSql);
  int bOrdinary = 1;
  while (rc == SQLITE_OK && bOrdinary && sqlite3_step(pStmt) == SQLITE_ROW) {
    bOrdinary = sqlite3_column_int(pStmt, 1);
    rc = addTable(t, (const char *)sqlite3_column_text(pStmt, 0));
  }
  int rc2 = sqlite3_finalize(pStmt);
  if (rc == SQLITE_OK) rc = rc2;
  if (rc == SQLITE_OK && !bOrdinary) {
    char *zName = safeText(t->azTable[t->nTable - 1], SAFE_MAX);
    rc = zName ? rlFail(p, RL_MSG_SM_NO_TABLE, zName, p->zSchema) : SQLITE_NOMEM;
    sqlite3_free(zName);
    freeTables(t);
    if (rc == SQLITE_NOMEM) rlResetError(p);
    return rc;
  }
  if (rc != SQLITE_OK) {
    freeTables(t);
    return rlFailSqlite(p, rc);
  }
  return SQLITE_OK;
}

int rlSmDeclared(RlStore *p, int *pbDeclared) {
  *pbDeclared = 0;
  char *zSql = rlExpandSchema("SELECT EXISTS (SELECT 1 FROM $S.raftlite_sm_table)", p->zSchema);
  if (zSql == NULL) return SQLITE_NOMEM;
  sqlite3_stmt *pStmt = NULL;
  int rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, NULL);
  sqlite3_free(zSql);
  if (rc == SQLITE_OK && sqlite3_step(pStmt) == SQLITE_ROW) {
    *pbDeclared = sqlite3_column_int(pStmt, 0);
  }
  int rc2 = sqlite3_finalize(pStmt);
  if (rc == SQLITE_OK) rc = rc2;
  return rc == SQLITE_OK ? rc : rlFailSqlite(p, rc);
}

/* The first keyword of zSql past blanks and comments, upper-cased. */
static void firstKeyword(const char *z, char *zOut, size_t nOut) {
  for (;;) {
    while (*z == ' ' || *z == '\t' || *z == '\n' || *z == '\r' || *z == '\f' || *z == '\v') z++;
    if (z[0] == '-' && z[1] == '-') {
      while (*z && *z != '\n') z++;
    } else if (z[0] == '/' && z[1] == '*') {
      const char *zEnd = strstr(z + 2, "*/");
      z = zEnd ? zEnd + 2 : z + strlen(z);
    } else {
      break;
    }
  }
  size_t n = 0;
  while (n + 1 < nOut && ((*z >= 'a' && *z <= 'z') || (*z >= 'A' && *z <= 'Z'))) {
    zOut[n++] = (*z >= 'a') ? (char)(*z - 'a' + 'A') : *z;
    z++;
  }
  zOut[n] = 0;
}

/* Prepares zApply under the authorizer for tables t; on failure records a
** message naming what it may not do. */
static int prepareApply(RlStore *p, SmTables *t, const char *zApply, sqlite3_stmt **ppStmt) {
  *ppStmt = NULL;
  /* The kinds of statement that read and write tables. VACUUM, ATTACH,
  ** DETACH, transaction control and some more never reach the authorizer
  ** as such: refused by their keyword. */
  static const char *const azKind[] = {"SELECT", "INSERT", "UPDATE", "DELETE",
                                       "REPLACE", "WITH", "VALUES"};
  char zKeyword[16];
  firstKeyword(zApply, zKeyword, sizeof(zKeyword));
  int bKind = 0;
  for (size_t i = 0; i < sizeof(azKind) / sizeof(azKind[0]); i++) {
    bKind |= strcmp(zKeyword, azKind[i]) == 0;
  }
  if (!bKind && zKeyword[0]) {
    char zWhy[96];
    sqlite3_snprintf(sizeof(zWhy), zWhy,
                     "it is %s, not a SELECT, INSERT, UPDATE, DELETE or REPLACE", zKeyword);
    return rlFail(p, RL_MSG_SM_APPLY_SQL, zWhy);
  }
  /* SQLite before 3.4x reports the first use of an eponymous virtual
  ** table on a connection to the authorizer as writes to sqlite_master:
  ** json_each() and json_tree() are made ready without it. */
  sqlite3_stmt *pJson = NULL;
  int rc = sqlite3_prepare_v2(p->db, "SELECT 1 FROM json_each(NULL), json_tree(NULL)", -1,
                              &pJson, NULL);
  sqlite3_finalize(pJson);
  if ((rc & 0xff) == SQLITE_NOMEM) {
    rlResetError(p);
    return SQLITE_NOMEM;
  }
  const char *zTail = NULL;
  t->zDenied[0] = 0;
  sqlite3_set_authorizer(p->db, smAuthorizer, t);
  rc = sqlite3_prepare_v3(p->db, zApply, -1, p->bPersistent ? SQLITE_PREPARE_PERSISTENT : 0,
                          ppStmt, &zTail);
  sqlite3_set_authorizer(p->db, NULL, NULL);
  if ((rc & 0xff) == SQLITE_NOMEM) {
    rlResetError(p);
    return SQLITE_NOMEM;
  }
  if (rc != SQLITE_OK) {
    return failWithText(p, SQLITE_ERROR, RL_MSG_SM_APPLY_SQL,
                        t->zDenied[0] ? t->zDenied : sqlite3_errmsg(p->db));
  }
  while (zTail && (*zTail == ' ' || *zTail == '\n' || *zTail == '\t' || *zTail == '\r' ||
                   *zTail == ';')) {
    zTail++;
  }
  if (*ppStmt == NULL || (zTail && *zTail)) {
    sqlite3_finalize(*ppStmt);
    *ppStmt = NULL;
    return rlFail(p, RL_MSG_SM_APPLY_SQL, "it must be exactly one statement");
  }
  return SQLITE_OK;
}

/* Finalizes the store's idle statements after an authorizer was set (which
** expired them all), so that the next call prepares them afresh before its
** savepoint opens rather than inside it. Outside the store's savepoint
** only. */
static void releaseStatements(RlStore *p) {
  if (p->nDepth > 0) return;
  for (int i = 0; i < RL_STMT_COUNT; i++) {
    if (p->aStmt[i] && !sqlite3_stmt_busy(p->aStmt[i])) {
      sqlite3_finalize(p->aStmt[i]);
      p->aStmt[i] = NULL;
    }
  }
}

/* The schema versions of the store's schema and of temp, as one value: a
** change of either (a trigger added on a declared table, a declared table
** replaced by a virtual one) makes SQLite re-prepare the apply statement
** without raftlite's authorizer, so it is prepared again under it, with
** the declared tables checked again. */
static int schemaVersion(RlStore *p, i64 *piVersion) {
  static const RlStmtId aId[] = {RL_STMT_SCHEMA_VERSION, RL_STMT_TEMP_SCHEMA_VERSION};
  *piVersion = 0;
  for (size_t i = 0; i < sizeof(aId) / sizeof(aId[0]); i++) {
    sqlite3_stmt *pStmt = rlStmt(p, aId[i]);
    if (pStmt == NULL) return p->rcStmt;
    i64 v = 0;
    if (sqlite3_step(pStmt) == SQLITE_ROW) v = sqlite3_column_int64(pStmt, 0);
    *piVersion = (i64)(((uint64_t)*piVersion << 32) ^ ((uint64_t)v & 0xffffffffu));
    int rc = sqlite3_reset(pStmt);
    if (rc != SQLITE_OK) return rlFailSqlite(p, rc);
  }
  return SQLITE_OK;
}

/* Loads (or reloads, when the declaration or the schema changed) the apply
** statement into p->pSmApply; leaves it NULL when nothing is declared.
** *pbAuthorized (if not NULL) is set when an authorizer was set. */
static int loadApply(RlStore *p, int *pbAuthorized) {
  i64 iVersion;
  int rc = schemaVersion(p, &iVersion);
  if (rc != SQLITE_OK) return rc;
  if (iVersion != p->iSmSchemaVersion) {
    sqlite3_free(p->zSmApply); /* forces a new prepare below */
    p->zSmApply = NULL;
    p->iSmSchemaVersion = iVersion;
  }
  sqlite3_stmt *pStmt = rlStmt(p, RL_STMT_SM_APPLY_SQL);
  if (pStmt == NULL) return p->rcStmt;
  /* Unchanged (the usual case): compare in place, copy nothing. */
  int bRow = sqlite3_step(pStmt) == SQLITE_ROW;
  const char *zStored = bRow ? (const char *)sqlite3_column_text(pStmt, 0) : NULL;
  if (zStored && p->zSmApply && p->pSmApply && strcmp(zStored, p->zSmApply) == 0) {
    return sqlite3_reset(pStmt);
  }
  char *zApply = zStored ? sqlite3_mprintf("%s", zStored) : NULL;
  rc = sqlite3_reset(pStmt);
  if (zStored && zApply == NULL && rc == SQLITE_OK) rc = SQLITE_NOMEM;
  if (rc != SQLITE_OK) {
    sqlite3_free(zApply);
    return rlFailSqlite(p, rc);
  }
  sqlite3_finalize(p->pSmApply);
  p->pSmApply = NULL;
  sqlite3_free(p->zSmApply);
  p->zSmApply = zApply;
  if (zApply == NULL) return SQLITE_OK;
  SmTables t;
  rc = readTables(p, &t);
  if (rc == SQLITE_OK) {
    if (pbAuthorized) *pbAuthorized = 1;
    rc = prepareApply(p, &t, zApply, &p->pSmApply);
  }
  freeTables(&t);
  if (rc != SQLITE_OK) {
    sqlite3_free(p->zSmApply);
    p->zSmApply = NULL;
  }
  return rc;
}

int rlSmPrepare(RlStore *p) {
  int bAutocommit = sqlite3_get_autocommit(p->db);
  int bAuthorized = 0;
  int rc = loadApply(p, &bAuthorized);
  if (bAuthorized) releaseStatements(p);
  /* A statement that cannot be used is reported by rlSmApply(), if an
  ** entry of the call needs it; running out of memory, disk or locks is
  ** reported now. */
  if (!rlIsResourceError(rc)) {
    rlResetError(p);
    rc = SQLITE_OK;
  }
  /* Reading the schema failed badly enough that SQLite rolled back the
  ** caller's transaction (found by test_fault's long run): say so, rather
  ** than go on in a transaction of the call's own. */
  if (rc == SQLITE_OK && !bAutocommit && sqlite3_get_autocommit(p->db)) {
    rc = rlFail(p, RL_MSG_TXN_LOST);
  }
  return rc;
}

int rlSmApply(RlStore *p, const raftlite_entry *e, raftlite_response *pOut) {
  /* Nothing to do when rlSmPrepare() ran before the savepoint opened. */
  int rc = loadApply(p, NULL);
  if (rc != SQLITE_OK || p->pSmApply == NULL) return rc;
  sqlite3_stmt *pStmt = p->pSmApply;
  sqlite3_reset(pStmt);
  sqlite3_clear_bindings(pStmt);
  int i;
  if ((i = sqlite3_bind_parameter_index(pStmt, ":index")) > 0) {
    rc = sqlite3_bind_int64(pStmt, i, (i64)e->log_id.index);
  }
  if (rc == SQLITE_OK && (i = sqlite3_bind_parameter_index(pStmt, ":term")) > 0) {
    rc = sqlite3_bind_int64(pStmt, i, (i64)e->log_id.term);
  }
  if (rc == SQLITE_OK && (i = sqlite3_bind_parameter_index(pStmt, ":payload")) > 0) {
    rc = sqlite3_bind_text64(pStmt, i, e->data ? e->data : "", e->size, SQLITE_STATIC, SQLITE_UTF8);
  }
  if (rc == SQLITE_OK && (i = sqlite3_bind_parameter_index(pStmt, ":payload_blob")) > 0) {
    if (e->size == 0) rc = sqlite3_bind_zeroblob(pStmt, i, 0);
    else rc = sqlite3_bind_blob64(pStmt, i, e->data, e->size, SQLITE_STATIC);
  }
  /* The first column of the first row, if any, is the response. */
  int bFirst = 1;
  while (rc == SQLITE_OK && (rc = sqlite3_step(pStmt)) == SQLITE_ROW) {
    if (bFirst && pOut && sqlite3_column_type(pStmt, 0) != SQLITE_NULL) {
      const void *pData = sqlite3_column_blob(pStmt, 0);
      size_t n = (size_t)sqlite3_column_bytes(pStmt, 0);
      rc = (pData || n == 0) ? rlCopyBytes(pData, n, &pOut->data) : SQLITE_NOMEM;
      if (rc != SQLITE_OK) break;
      pOut->size = n;
    }
    rc = SQLITE_OK;
    bFirst = 0;
  }
  if (rc == SQLITE_DONE) rc = SQLITE_OK;
  int rcReset = sqlite3_reset(pStmt);
  sqlite3_clear_bindings(pStmt); /* the payload is the caller's */
  if (rc != SQLITE_OK && rcReset != SQLITE_OK) rc = rcReset;
  if ((rc & 0xff) == SQLITE_NOMEM) {
    rlResetError(p);
    return SQLITE_NOMEM;
  }
  if (rc != SQLITE_OK) {
    char zId[RL_LOGID_BUF];
    RlLogId id = {1, (i64)e->log_id.term, (i64)e->log_id.index};
    char *zWhy = safeText(sqlite3_errmsg(p->db), SAFE_MAX);
    if (zWhy == NULL || rlFail(p, RL_MSG_SM_APPLY_STMT_FAILED, rlLogIdText(&id, zId), zWhy) ==
                            SQLITE_NOMEM) {
      rc = SQLITE_NOMEM;
    }
    sqlite3_free(zWhy);
  }
  return rc;
}

/* The names of a JSON array of table names (errors are left to the
** declaration, which reports them in its own order). */
static int tablesOfJson(RlStore *p, const char *zTablesJson, SmTables *t) {
  memset(t, 0, sizeof(*t));
  t->zSchema = p->zSchema;
  if (zTablesJson == NULL) return SQLITE_OK;
  sqlite3_stmt *pStmt = NULL;
  int rc = sqlite3_prepare_v2(p->db, "SELECT value FROM json_each(?1)", -1, &pStmt, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(pStmt, 1, zTablesJson, -1, SQLITE_STATIC);
  while (rc == SQLITE_OK && sqlite3_step(pStmt) == SQLITE_ROW) {
    const char *zName = (const char *)sqlite3_column_text(pStmt, 0);
    if (zName == NULL && sqlite3_column_type(pStmt, 0) != SQLITE_NULL) rc = SQLITE_NOMEM;
    if (rc == SQLITE_OK) rc = addTable(t, zName);
  }
  int rc2 = sqlite3_finalize(pStmt);
  if (rc == SQLITE_OK) rc = rc2;
  return (rc & 0xff) == SQLITE_NOMEM ? SQLITE_NOMEM : SQLITE_OK;
}

int rlSmDeclare(RlStore *p, const char *zTablesJson, const char *zApply, i64 *pnTables) {
  rlResetError(p);
  /* The statement is prepared under the authorizer before the savepoint
  ** opens (setting an authorizer expires every statement: rlEnd's must not
  ** need preparing again inside the call). Its verdict is reported after
  ** the declaration's own checks, as if it came last. */
  int rcApply = SQLITE_OK;
  char *zApplyErr = NULL;
  if (zApply) {
    SmTables tNew;
    int rc = tablesOfJson(p, zTablesJson, &tNew);
    if (rc == SQLITE_OK) {
      sqlite3_stmt *pStmt = NULL;
      rcApply = prepareApply(p, &tNew, zApply, &pStmt);
      sqlite3_finalize(pStmt);
      releaseStatements(p);
      zApplyErr = p->zErrMsg;
      p->zErrMsg = NULL;
      if (rcApply == SQLITE_NOMEM) rc = SQLITE_NOMEM;
    }
    freeTables(&tNew);
    if (rc != SQLITE_OK) {
      sqlite3_free(zApplyErr);
      rlResetError(p);
      return rc;
    }
  }

  int rc = rlBegin(p);
  if (rc != SQLITE_OK) {
    sqlite3_free(zApplyErr);
    return rc; /* nothing to roll back */
  }
  char *zSql = rlExpandSchema(
      "DELETE FROM $S.raftlite_sm; DELETE FROM $S.raftlite_sm_table;"
      "INSERT INTO $S.raftlite_sm_table(name) SELECT value FROM json_each(?1);",
      p->zSchema);
  if (zSql == NULL) rc = SQLITE_NOMEM;
  /* Replace the declaration (three statements, one savepoint). */
  const char *zNext = zSql;
  while (rc == SQLITE_OK && zNext && *zNext) {
    sqlite3_stmt *pStmt = NULL;
    rc = sqlite3_prepare_v2(p->db, zNext, -1, &pStmt, &zNext);
    if (rc == SQLITE_OK && pStmt) {
      if (sqlite3_bind_parameter_count(pStmt) > 0) {
        rc = sqlite3_bind_text(pStmt, 1, zTablesJson, -1, SQLITE_STATIC);
      }
      if (rc == SQLITE_OK) sqlite3_step(pStmt);
      int rc2 = sqlite3_finalize(pStmt);
      if (rc == SQLITE_OK) rc = rc2;
    }
    if (rc != SQLITE_OK) rc = rlFailSqlite(p, rc);
  }
  sqlite3_free(zSql);

  /* Every declared table exists, as an ordinary table of this schema. */
  SmTables t;
  memset(&t, 0, sizeof(t));
  if (rc == SQLITE_OK) rc = readTables(p, &t);
  if (rc == SQLITE_OK && t.nTable == 0 && zApply) rc = rlFail(p, RL_MSG_SM_NO_TABLES);
  if (rc == SQLITE_OK && rcApply != SQLITE_OK) {
    rc = rlFailOwned(p, rcApply, RAFTLITE_NO_VIOLATION, zApplyErr);
    zApplyErr = NULL;
  }
  if (rc == SQLITE_OK && zApply) {
    sqlite3_stmt *pStmt = NULL;
    char *zInsert = rlExpandSchema("INSERT INTO $S.raftlite_sm(id, apply_sql) VALUES (1, ?1)",
                                   p->zSchema);
    rc = zInsert ? sqlite3_prepare_v2(p->db, zInsert, -1, &pStmt, NULL) : SQLITE_NOMEM;
    sqlite3_free(zInsert);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(pStmt, 1, zApply, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) sqlite3_step(pStmt);
    int rc2 = sqlite3_finalize(pStmt);
    if (rc == SQLITE_OK) rc = rc2;
    if (rc != SQLITE_OK) rc = rlFailSqlite(p, rc);
  }
  if (pnTables) *pnTables = t.nTable;
  freeTables(&t);
  sqlite3_free(zApplyErr);
  rc = rlEnd(p, rc);
  /* The declared tables may have changed: the next apply prepares again. */
  sqlite3_free(p->zSmApply);
  p->zSmApply = NULL;
  return rc;
}

/* ------------------------------------------------------------------ */
/* Private image files                                                 */

#define IMAGE_INFIX "-raftlite-image-"

/* A private image file, locked (flock) from its creation to its removal
** so that rlSmRemoveLeftoverImages() leaves it alone. */
typedef struct SmFile {
  char *zPath;
  int fd;
} SmFile;

/* A fresh path: next to the store's database when it has one (same file
** system), else in $TMPDIR or /tmp. The pid names the process using it. */
static char *tempImagePath(RlStore *p) {
  const char *zFile = sqlite3_db_filename(p->db, p->zSchema);
  unsigned int iRand;
  sqlite3_randomness(sizeof(iRand), &iRand);
  if (zFile && zFile[0]) {
    return sqlite3_mprintf("%s" IMAGE_INFIX "%d-%08x", zFile, (int)getpid(), iRand);
  }
  const char *zDir = getenv("TMPDIR");
  return sqlite3_mprintf("%s/raftlite-image-%d-%08x", zDir && zDir[0] ? zDir : "/tmp",
                         (int)getpid(), iRand);
}

static int fileError(RlStore *p, int rc, const char *zVerb, const char *zPath) {
  char zWhy[256];
  sqlite3_snprintf(sizeof(zWhy), zWhy, "cannot %s %s: %s", zVerb, zPath, strerror(errno));
  return failWithText(p, rc, RL_MSG_SM_IMAGE_FILE, zWhy);
}

/* Creates the file (it must not exist) and locks it. */
static int imageCreate(RlStore *p, SmFile *pFile) {
  pFile->fd = -1;
  pFile->zPath = tempImagePath(p);
  if (pFile->zPath == NULL) return SQLITE_NOMEM;
  pFile->fd = open(pFile->zPath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (pFile->fd < 0) return fileError(p, SQLITE_CANTOPEN, "create", pFile->zPath);
  /* Where flock() is not supported, the pid in the name still protects. */
  (void)flock(pFile->fd, LOCK_EX);
  return SQLITE_OK;
}

/* Removes the file and what SQLite may have put next to it; unlocks it
** last. */
static void imageRemove(SmFile *pFile) {
  if (pFile->zPath && pFile->fd >= 0) { /* created here */
    static const char *const azSuffix[] = {"-journal", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof(azSuffix) / sizeof(azSuffix[0]); i++) {
      char *z = sqlite3_mprintf("%s%s", pFile->zPath, azSuffix[i]);
      if (z) unlink(z);
      sqlite3_free(z);
    }
    unlink(pFile->zPath);
  }
  if (pFile->fd >= 0) close(pFile->fd);
  sqlite3_free(pFile->zPath);
  pFile->zPath = NULL;
  pFile->fd = -1;
}

/* Whether process iPid is certainly gone. */
static int processGone(long iPid) {
  return iPid > 0 && kill((pid_t)iPid, 0) != 0 && errno == ESRCH;
}

/* A file is a leftover when the process named in it is gone and nobody
** holds its lock: a build or install of a live handle (of this process or
** another) keeps both. The lock covers what the pid cannot: another PID
** namespace (a container) sharing the database's directory. Best effort:
** it never fails (out of memory, an unreadable directory: the files wait
** for the next open), so that an open that installed the store does not
** report a failure after committing. */
int rlSmRemoveLeftoverImages(RlStore *p) {
  const char *zFile = sqlite3_db_filename(p->db, p->zSchema);
  if (zFile == NULL || zFile[0] == 0) return SQLITE_OK; /* in memory, temp */
  const char *zSlash = strrchr(zFile, '/');
  char *zDir = zSlash == NULL    ? sqlite3_mprintf(".")
               : zSlash == zFile ? sqlite3_mprintf("/")
                                 : sqlite3_mprintf("%.*s", (int)(zSlash - zFile), zFile);
  char *zPrefix = sqlite3_mprintf("%s" IMAGE_INFIX, zSlash ? zSlash + 1 : zFile);
  int rc = (zDir && zPrefix) ? SQLITE_OK : SQLITE_NOMEM;
  DIR *pDir = rc == SQLITE_OK ? opendir(zDir) : NULL;
  size_t nPrefix = zPrefix ? strlen(zPrefix) : 0;
  struct dirent *pEntry;
  while (pDir && rc == SQLITE_OK && (pEntry = readdir(pDir)) != NULL) {
    if (strncmp(pEntry->d_name, zPrefix, nPrefix) != 0) continue;
    const char *zPid = pEntry->d_name + nPrefix;
    char *zEnd = NULL;
    long iPid = strtol(zPid, &zEnd, 10);
    if (zEnd == zPid || *zEnd != '-' || !processGone(iPid)) continue;
    char *zPath = sqlite3_mprintf("%s/%s", zDir, pEntry->d_name);
    if (zPath == NULL) {
      rc = SQLITE_NOMEM;
      break;
    }
    int fd = open(zPath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
      if (flock(fd, LOCK_EX | LOCK_NB) == 0) unlink(zPath);
      close(fd);
    }
    sqlite3_free(zPath);
  }
  if (pDir) closedir(pDir);
  sqlite3_free(zDir);
  sqlite3_free(zPrefix);
  (void)rc;
  return SQLITE_OK;
}

/* ------------------------------------------------------------------ */
/* Images                                                              */

static int execOn(sqlite3 *db, const char *zSql) {
  return sqlite3_exec(db, zSql, NULL, NULL, NULL);
}

/* The columns of table zTable that hold data (not generated), as a quoted
** list: "a", "b" (NULL in *pzOut when there is none). */
static int columnList(sqlite3 *db, const char *zSchema, const char *zTable, char **pzOut) {
  *pzOut = NULL;
  char *zSql = sqlite3_mprintf("SELECT group_concat('\"' || replace(name, '\"', '\"\"') || '\"', ', ')"
                               " FROM pragma_table_xinfo(%Q, %Q) WHERE hidden IN (0, 1)",
                               zTable, zSchema);
  if (zSql == NULL) return SQLITE_NOMEM;
  sqlite3_stmt *pStmt = NULL;
  int rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, NULL);
  sqlite3_free(zSql);
  if (rc == SQLITE_OK && sqlite3_step(pStmt) == SQLITE_ROW &&
      sqlite3_column_type(pStmt, 0) != SQLITE_NULL) {
    *pzOut = sqlite3_mprintf("%s", sqlite3_column_text(pStmt, 0));
    if (*pzOut == NULL) rc = SQLITE_NOMEM;
  }
  int rc2 = sqlite3_finalize(pStmt);
  if (rc == SQLITE_OK) rc = rc2;
  if (rc == SQLITE_OK && *pzOut == NULL) rc = SQLITE_ERROR; /* no such table */
  if (rc != SQLITE_OK) {
    sqlite3_free(*pzOut);
    *pzOut = NULL;
  }
  return rc;
}

/* Copies every row of zTable from (dbFrom, zFromSchema) into (dbTo,
** zToSchema), one row at a time. On failure *ppFailed is the connection
** whose step failed. */
static int copyRows(sqlite3 *dbFrom, const char *zFromSchema, sqlite3 *dbTo,
                    const char *zToSchema, const char *zTable, sqlite3 **ppFailed) {
  *ppFailed = dbFrom;
  char *zCols = NULL;
  int rc = columnList(dbFrom, zFromSchema, zTable, &zCols);
  if (rc != SQLITE_OK) return rc;
  int nCol = 1;
  for (const char *z = zCols; *z; z++) nCol += *z == ',';
  sqlite3_str *pIns = sqlite3_str_new(dbTo);
  sqlite3_str_appendf(pIns, "INSERT INTO \"%w\".\"%w\"(%s) VALUES (?", zToSchema, zTable, zCols);
  for (int i = 1; i < nCol; i++) sqlite3_str_appendall(pIns, ", ?");
  sqlite3_str_appendall(pIns, ")");
  char *zIns = sqlite3_str_finish(pIns);
  char *zSel = sqlite3_mprintf("SELECT %s FROM \"%w\".\"%w\"", zCols, zFromSchema, zTable);
  sqlite3_stmt *pSel = NULL, *pIns2 = NULL;
  rc = (zIns && zSel) ? SQLITE_OK : SQLITE_NOMEM;
  if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(dbFrom, zSel, -1, &pSel, NULL);
  if (rc == SQLITE_OK) {
    *ppFailed = dbTo;
    rc = sqlite3_prepare_v2(dbTo, zIns, -1, &pIns2, NULL);
  }
  int rcSel = SQLITE_OK;
  while (rc == SQLITE_OK && (rcSel = sqlite3_step(pSel)) == SQLITE_ROW) {
    for (int i = 0; rc == SQLITE_OK && i < nCol; i++) {
      rc = sqlite3_bind_value(pIns2, i + 1, sqlite3_column_value(pSel, i));
    }
    if (rc != SQLITE_OK) break;
    sqlite3_step(pIns2);
    rc = sqlite3_reset(pIns2);
  }
  if (rc == SQLITE_OK && rcSel != SQLITE_DONE) {
    *ppFailed = dbFrom;
    rc = sqlite3_reset(pSel);
    if (rc == SQLITE_OK) rc = SQLITE_ERROR;
  }
  sqlite3_finalize(pSel);
  sqlite3_finalize(pIns2);
  sqlite3_free(zCols);
  sqlite3_free(zIns);
  sqlite3_free(zSel);
  return rc;
}

/* The meta table every image carries. */
#define IMAGE_META_SQL                                                    \
  "CREATE TABLE raftlite_snapshot_meta(last_term INTEGER NOT NULL,"       \
  " last_index INTEGER NOT NULL, membership_term INTEGER,"                \
  " membership_index INTEGER, membership TEXT)"

/* Writes the declared tables t and the meta into the image pImg. */
static int buildImage(RlStore *p, const SmTables *t, sqlite3 *pImg, sqlite3 **ppFailed) {
  *ppFailed = pImg;
  /* A scratch file: no journal, no sync. */
  int rc = execOn(pImg, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN");
  for (int i = 0; rc == SQLITE_OK && i < t->nTable; i++) {
    /* The table as the store defines it, its rows, then its indexes. */
    char *zSql = sqlite3_mprintf(
        "SELECT sql FROM \"%w\".sqlite_schema WHERE tbl_name = %Q AND sql IS NOT NULL"
        " AND type IN ('table', 'index') ORDER BY type = 'index'", p->zSchema, t->azTable[i]);
    sqlite3_stmt *pStmt = NULL;
    *ppFailed = p->db;
    rc = zSql ? sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, NULL) : SQLITE_NOMEM;
    sqlite3_free(zSql);
    int bFirst = 1, rcStep = SQLITE_OK;
    while (rc == SQLITE_OK && (rcStep = sqlite3_step(pStmt)) == SQLITE_ROW) {
      const char *zCreate = (const char *)sqlite3_column_text(pStmt, 0);
      *ppFailed = pImg;
      rc = zCreate ? execOn(pImg, zCreate) : SQLITE_NOMEM;
      if (rc == SQLITE_OK && bFirst) {
        rc = copyRows(p->db, p->zSchema, pImg, "main", t->azTable[i], ppFailed);
      }
      bFirst = 0;
    }
    if (rc == SQLITE_OK && rcStep != SQLITE_DONE) {
      *ppFailed = p->db;
      rc = sqlite3_reset(pStmt);
      if (rc == SQLITE_OK) rc = SQLITE_ERROR;
    }
    sqlite3_finalize(pStmt);
  }
  if (rc == SQLITE_OK) {
    *ppFailed = pImg;
    rc = execOn(pImg, IMAGE_META_SQL);
  }
  if (rc == SQLITE_OK) {
    sqlite3_stmt *pStmt = NULL;
    rc = sqlite3_prepare_v2(pImg, "INSERT INTO raftlite_snapshot_meta VALUES (?,?,?,?,?)", -1,
                            &pStmt, NULL);
    raftlite_applied_state as;
    memset(&as, 0, sizeof(as));
    if (rc == SQLITE_OK) {
      rc = rlReadApplied(p, &as);
      if (rc != SQLITE_OK) *ppFailed = p->db;
    }
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(pStmt, 1, (i64)as.last_applied.term);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(pStmt, 2, (i64)as.last_applied.index);
    if (rc == SQLITE_OK && as.has_membership) {
      rc = sqlite3_bind_int64(pStmt, 3, (i64)as.membership_log_id.term);
      if (rc == SQLITE_OK) rc = sqlite3_bind_int64(pStmt, 4, (i64)as.membership_log_id.index);
      if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(pStmt, 5, as.membership_json, -1, SQLITE_TRANSIENT);
      }
    }
    if (rc == SQLITE_OK) sqlite3_step(pStmt);
    rlAppliedStateFree(&as);
    int rc2 = sqlite3_finalize(pStmt);
    if (rc == SQLITE_OK) rc = rc2;
  }
  if (rc == SQLITE_OK) rc = execOn(pImg, "COMMIT");
  return rc;
}

int rlSmSnapshot(RlStore *p, raftlite_snapshot *w) {
  SmTables t;
  int rc = readTables(p, &t);
  if (rc != SQLITE_OK) return rc;
  if (t.nTable == 0) {
    freeTables(&t);
    return SQLITE_OK; /* nothing declared: an empty snapshot */
  }
  SmFile file = {NULL, -1};
  sqlite3 *pImg = NULL;
  rc = imageCreate(p, &file);
  if (rc == SQLITE_OK) {
    rc = sqlite3_open_v2(file.zPath, &pImg, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) rc = failNoVerdict(p, pImg, rc, RL_MSG_SM_IMAGE);
  }
  if (rc == SQLITE_OK) {
    sqlite3 *pFailed = NULL;
    rc = buildImage(p, &t, pImg, &pFailed);
    if (rc != SQLITE_OK && p->zErrMsg == NULL) rc = failNoVerdict(p, pFailed, rc, RL_MSG_SM_IMAGE);
  }
  sqlite3_close(pImg);
  freeTables(&t);

  /* Stream the file into the snapshot. */
  FILE *pIn = NULL;
  if (rc == SQLITE_OK) {
    pIn = fopen(file.zPath, "rb");
    if (pIn == NULL) rc = fileError(p, SQLITE_IOERR_READ, "read", file.zPath);
  }
  if (pIn) {
    static const size_t nBuf = 65536;
    void *pBuf = sqlite3_malloc64(nBuf);
    if (pBuf == NULL) rc = SQLITE_NOMEM;
    size_t n;
    while (rc == SQLITE_OK && (n = fread(pBuf, 1, nBuf, pIn)) > 0) {
      rc = raftlite_snapshot_write(w, pBuf, n);
    }
    if (rc == SQLITE_OK && ferror(pIn)) rc = fileError(p, SQLITE_IOERR_READ, "read", file.zPath);
    sqlite3_free(pBuf);
    fclose(pIn);
  }
  imageRemove(&file);
  return rc;
}

/* Copies the stream r into the (locked, empty) file. */
static int streamToFile(RlStore *p, raftlite_snapshot *r, SmFile *pFile) {
  static const size_t nBuf = 65536;
  char *pBuf = sqlite3_malloc64(nBuf);
  int rc = pBuf ? SQLITE_OK : SQLITE_NOMEM;
  for (;;) {
    size_t n = 0;
    if (rc == SQLITE_OK) rc = raftlite_snapshot_read(r, pBuf, nBuf, &n);
    if (rc != SQLITE_OK || n == 0) break;
    for (size_t iOff = 0; rc == SQLITE_OK && iOff < n;) {
      ssize_t nWritten = write(pFile->fd, pBuf + iOff, n - iOff);
      if (nWritten > 0) iOff += (size_t)nWritten;
      else if (nWritten < 0 && errno == EINTR) continue;
      else rc = fileError(p, SQLITE_IOERR_WRITE, "write", pFile->zPath);
    }
  }
  sqlite3_free(pBuf);
  return rc;
}

/* The first column of the one-row query zSql on db, copied (NULL when no
** row or a NULL value). */
static int queryText(sqlite3 *db, const char *zSql, char **pzOut) {
  *pzOut = NULL;
  if (zSql == NULL) return SQLITE_NOMEM;
  sqlite3_stmt *pStmt = NULL;
  int rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, NULL);
  if (rc == SQLITE_OK && sqlite3_step(pStmt) == SQLITE_ROW &&
      sqlite3_column_type(pStmt, 0) != SQLITE_NULL) {
    *pzOut = sqlite3_mprintf("%s", sqlite3_column_text(pStmt, 0));
    if (*pzOut == NULL) rc = SQLITE_NOMEM;
  }
  int rc2 = sqlite3_finalize(pStmt);
  if (rc == SQLITE_OK) rc = rc2;
  if (rc != SQLITE_OK) {
    sqlite3_free(*pzOut);
    *pzOut = NULL;
  }
  return rc;
}

/* After query zWhat on the image failed with rc: the image's fault (a
** verdict in *pzWhy, SQLITE_OK) or a check that could not run (rc,
** recorded on p). */
static int imageQueryFailed(RlStore *p, sqlite3 *pImg, int rc, const char *zWhat, char **pzWhy) {
  if (!imageAtFault(rc)) return failNoVerdict(p, pImg, rc, RL_MSG_SM_INSTALL_FAILED);
  char *zSafe = safeText(sqlite3_errmsg(pImg), SAFE_MAX);
  *pzWhy = zSafe ? sqlite3_mprintf("%s: %s", zWhat, zSafe) : NULL;
  sqlite3_free(zSafe);
  if (*pzWhy == NULL) {
    rlResetError(p);
    return SQLITE_NOMEM;
  }
  return SQLITE_OK;
}

/* The schema entries of table zTable in db as one text, sorted: its own
** entries only ("table, index" of the store's schema) or all of them. */
static int schemaText(sqlite3 *db, const char *zSchema, const char *zTable, int bTablesAndIndexes,
                      char **pzOut) {
  char *zSql = sqlite3_mprintf(
      "SELECT group_concat(type || ' ' || name || ' ' || coalesce(sql, ''), char(10))"
      " FROM (SELECT type, name, sql FROM \"%w\".sqlite_schema WHERE tbl_name = %Q%s"
      " ORDER BY type, name)",
      zSchema, zTable, bTablesAndIndexes ? " AND type IN ('table', 'index')" : "");
  int rc = queryText(db, zSql, pzOut);
  sqlite3_free(zSql);
  return rc;
}

/* integrity_check reports a page it could not read as a finding ("unable
** to get the page. error code=7"), not as an error: when that code is out
** of memory or an I/O error, the check could not run and says nothing of
** the image (seen on SQLite 3.53). Returns that code, or SQLITE_OK. If
** SQLite words it otherwise, such a finding is judged as the image's. */
static int pageFetchFailure(const char *zCheck) {
  static const char zMark[] = "error code=";
  for (const char *z = zCheck ? strstr(zCheck, zMark) : NULL; z; z = strstr(z + 1, zMark)) {
    int rc = atoi(z + sizeof(zMark) - 1);
    if (rc != SQLITE_OK && rlIsResourceError(rc)) return rc;
  }
  return SQLITE_OK;
}

/* The checks of an untrusted image. SQLITE_OK with *pzWhy NULL: valid;
** SQLITE_OK with a reason in *pzWhy (untrusted text made safe): invalid;
** any other code: a check could not run (recorded on p), no verdict. */
static int checkImage(RlStore *p, sqlite3 *pImg, const SmTables *t,
                      const raftlite_snapshot_meta *pMeta, char **pzWhy) {
  *pzWhy = NULL;
  char *zCheck = NULL;
  int rc = queryText(pImg, "SELECT group_concat(integrity_check, '; ') FROM pragma_integrity_check",
                     &zCheck);
  if (rc != SQLITE_OK) return imageQueryFailed(p, pImg, rc, "integrity_check", pzWhy);
  int rcPage = pageFetchFailure(zCheck);
  if (rcPage != SQLITE_OK) {
    sqlite3_free(zCheck);
    return failNoVerdict(p, pImg, rcPage, RL_MSG_SM_INSTALL_FAILED);
  }
  if (zCheck == NULL || strcmp(zCheck, "ok") != 0) {
    char *zSafe = safeText(zCheck ? zCheck : "no result", SAFE_MAX);
    *pzWhy = zSafe ? sqlite3_mprintf("integrity_check: %s", zSafe) : NULL;
    sqlite3_free(zSafe);
    sqlite3_free(zCheck);
    return *pzWhy ? SQLITE_OK : SQLITE_NOMEM;
  }
  sqlite3_free(zCheck);

  /* Nothing but the declared tables, their indexes and the meta table.
  ** sqlite_sequence comes with AUTOINCREMENT tables: allowed as SQLite
  ** itself creates it. */
  sqlite3_str *pIn = sqlite3_str_new(NULL);
  sqlite3_str_appendall(pIn, "SELECT group_concat(type || ' ' || name, ', ') FROM sqlite_schema"
                             " WHERE NOT (type = 'table' AND name = 'sqlite_sequence'"
                             " AND sql = 'CREATE TABLE sqlite_sequence(name,seq)')"
                             " AND (tbl_name NOT IN ('raftlite_snapshot_meta'");
  for (int i = 0; i < t->nTable; i++) sqlite3_str_appendf(pIn, ", %Q", t->azTable[i]);
  sqlite3_str_appendall(pIn, ") OR type NOT IN ('table', 'index'))");
  char *zSql = sqlite3_str_finish(pIn);
  char *zOthers = NULL;
  rc = queryText(pImg, zSql, &zOthers);
  sqlite3_free(zSql);
  if (rc != SQLITE_OK) return imageQueryFailed(p, pImg, rc, "its schema cannot be read", pzWhy);
  if (zOthers) {
    char *zSafe = safeText(zOthers, SAFE_MAX);
    *pzWhy = zSafe ? sqlite3_mprintf("objects that are not the declared tables: %s", zSafe) : NULL;
    sqlite3_free(zSafe);
    sqlite3_free(zOthers);
    return *pzWhy ? SQLITE_OK : SQLITE_NOMEM;
  }

  /* Exactly: the declared tables and their indexes as the store defines
  ** them (no triggers), and the meta table. */
  int bSame = 1;
  for (int i = 0; rc == SQLITE_OK && bSame && i < t->nTable; i++) {
    char *zWant = NULL, *zGot = NULL;
    rc = schemaText(p->db, p->zSchema, t->azTable[i], 1, &zWant);
    if (rc != SQLITE_OK) {
      sqlite3_free(zWant);
      return failNoVerdict(p, p->db, rc, RL_MSG_SM_INSTALL_FAILED);
    }
    rc = schemaText(pImg, "main", t->azTable[i], 0, &zGot);
    if (rc == SQLITE_OK) bSame = zWant && zGot && strcmp(zWant, zGot) == 0;
    sqlite3_free(zWant);
    sqlite3_free(zGot);
  }
  if (rc == SQLITE_OK && bSame) {
    char *zMeta = NULL;
    rc = queryText(pImg, "SELECT type || ' ' || name || ' ' || sql FROM sqlite_schema"
                         " WHERE tbl_name = 'raftlite_snapshot_meta'", &zMeta);
    bSame = zMeta && strcmp(zMeta, "table raftlite_snapshot_meta " IMAGE_META_SQL) == 0;
    sqlite3_free(zMeta);
  }
  if (rc != SQLITE_OK) return imageQueryFailed(p, pImg, rc, "its schema cannot be read", pzWhy);
  if (!bSame) {
    *pzWhy = sqlite3_mprintf("its tables differ from the declared ones of schema \"%s\"",
                             p->zSchema);
    return *pzWhy ? SQLITE_OK : SQLITE_NOMEM;
  }

  /* Its meta is the one install was told. */
  sqlite3_stmt *pStmt = NULL;
  int nRow = 0, bMatch = 0;
  rc = sqlite3_prepare_v2(pImg,
                          "SELECT last_term, last_index, membership_term, membership_index,"
                          " CASE WHEN json_valid(membership) THEN json(membership) END,"
                          " ?1 IS NULL, json(?1) FROM raftlite_snapshot_meta",
                          -1, &pStmt, NULL);
  if (rc == SQLITE_OK && pMeta->has_membership) {
    rc = sqlite3_bind_text(pStmt, 1, pMeta->membership_json, -1, SQLITE_STATIC);
  }
  int rcStep = SQLITE_OK;
  while (rc == SQLITE_OK && (rcStep = sqlite3_step(pStmt)) == SQLITE_ROW) {
    nRow++;
    int bSameLast = sqlite3_column_int64(pStmt, 0) == (i64)pMeta->last_log_id.term &&
                    sqlite3_column_int64(pStmt, 1) == (i64)pMeta->last_log_id.index;
    int bSameMembership;
    if (!pMeta->has_membership) {
      bSameMembership = sqlite3_column_type(pStmt, 3) == SQLITE_NULL &&
                        sqlite3_column_type(pStmt, 4) == SQLITE_NULL;
    } else {
      const char *zA = (const char *)sqlite3_column_text(pStmt, 4);
      const char *zB = (const char *)sqlite3_column_text(pStmt, 6);
      if ((zA == NULL && sqlite3_column_type(pStmt, 4) != SQLITE_NULL) ||
          (zB == NULL && sqlite3_column_type(pStmt, 6) != SQLITE_NULL)) {
        rc = SQLITE_NOMEM;
        break;
      }
      bSameMembership = sqlite3_column_int64(pStmt, 2) == (i64)pMeta->membership_log_id.term &&
                        sqlite3_column_int64(pStmt, 3) == (i64)pMeta->membership_log_id.index &&
                        zA && zB && strcmp(zA, zB) == 0;
    }
    bMatch = bSameLast && bSameMembership;
  }
  if (rc == SQLITE_OK && rcStep != SQLITE_DONE) {
    rc = sqlite3_reset(pStmt);
    if (rc == SQLITE_OK) rc = SQLITE_ERROR;
  }
  sqlite3_finalize(pStmt);
  if (rc != SQLITE_OK) return imageQueryFailed(p, pImg, rc, "its meta cannot be read", pzWhy);
  if (nRow != 1 || !bMatch) {
    *pzWhy = sqlite3_mprintf("its raftlite_snapshot_meta does not match the snapshot's meta");
    return *pzWhy ? SQLITE_OK : SQLITE_NOMEM;
  }
  return SQLITE_OK;
}

/* The value (0 or 1) of a flag pragma of db. */
static int pragmaFlag(sqlite3 *db, const char *zPragma, int *pbOn) {
  sqlite3_stmt *pStmt = NULL;
  int rc = sqlite3_prepare_v2(db, zPragma, -1, &pStmt, NULL);
  *pbOn = 0;
  if (rc == SQLITE_OK && sqlite3_step(pStmt) == SQLITE_ROW) *pbOn = sqlite3_column_int(pStmt, 0);
  int rc2 = sqlite3_finalize(pStmt);
  return rc == SQLITE_OK ? rc2 : rc;
}

/* Sets PRAGMA defer_foreign_keys. SQLite applies a flag pragma when it
** prepares it ("some pragmas take effect during the SQL compilation
** stage", pragma.html); stepping it would then also expire every prepared
** statement of the connection, the store's ROLLBACK TO among them, which
** would have to be prepared again inside the call. So it is stepped only
** when preparing it did not set the flag. */
static int setDeferForeignKeys(sqlite3 *db, int bOn) {
  sqlite3_stmt *pSet = NULL;
  int rc = sqlite3_prepare_v2(db, bOn ? "PRAGMA defer_foreign_keys=1" : "PRAGMA defer_foreign_keys=0",
                              -1, &pSet, NULL);
  int bNow = !bOn;
  if (rc == SQLITE_OK) rc = pragmaFlag(db, "PRAGMA defer_foreign_keys", &bNow);
  if (rc == SQLITE_OK && bNow != bOn) {
    sqlite3_step(pSet);
    rc = sqlite3_reset(pSet);
  }
  sqlite3_finalize(pSet);
  return rc;
}

/* With foreign_keys on: the first table whose foreign keys the install
** broke, among the declared tables and the tables referring to one
** (*pzTable NULL when none). */
static int brokenForeignKeys(RlStore *p, char **pzTable) {
  *pzTable = NULL;
  char *zSql = rlExpandSchema(
      "SELECT m.name FROM $S.sqlite_schema AS m WHERE m.type = 'table'"
      " AND m.sql NOT LIKE 'CREATE VIRTUAL%' AND EXISTS (SELECT 1 FROM"
      " pragma_foreign_key_list(m.name, ?1) AS f WHERE m.name IN (SELECT name FROM"
      " $S.raftlite_sm_table) OR f.\"table\" COLLATE NOCASE IN (SELECT name FROM"
      " $S.raftlite_sm_table)) ORDER BY m.name",
      p->zSchema);
  if (zSql == NULL) return SQLITE_NOMEM;
  sqlite3_stmt *pTables = NULL, *pCheck = NULL;
  int rc = sqlite3_prepare_v2(p->db, zSql, -1, &pTables, NULL);
  sqlite3_free(zSql);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(pTables, 1, p->zSchema, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) {
    rc = sqlite3_prepare_v2(p->db, "SELECT 1 FROM pragma_foreign_key_check(?1, ?2) LIMIT 1", -1,
                            &pCheck, NULL);
  }
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(pCheck, 2, p->zSchema, -1, SQLITE_STATIC);
  int rcStep = SQLITE_OK;
  while (rc == SQLITE_OK && *pzTable == NULL && (rcStep = sqlite3_step(pTables)) == SQLITE_ROW) {
    const char *zName = (const char *)sqlite3_column_text(pTables, 0);
    rc = zName ? sqlite3_bind_text(pCheck, 1, zName, -1, SQLITE_TRANSIENT) : SQLITE_NOMEM;
    int rcCheck = rc == SQLITE_OK ? sqlite3_step(pCheck) : SQLITE_DONE;
    if (rcCheck == SQLITE_ROW) {
      *pzTable = sqlite3_mprintf("%s", zName);
      if (*pzTable == NULL) rc = SQLITE_NOMEM;
    }
    int rc2 = sqlite3_reset(pCheck);
    if (rc == SQLITE_OK) rc = rc2;
  }
  if (rc == SQLITE_OK && *pzTable == NULL && rcStep != SQLITE_DONE) {
    rc = sqlite3_reset(pTables);
    if (rc == SQLITE_OK) rc = SQLITE_ERROR;
  }
  sqlite3_finalize(pTables);
  sqlite3_finalize(pCheck);
  if (rc != SQLITE_OK) {
    sqlite3_free(*pzTable);
    *pzTable = NULL;
  }
  return rc;
}

/* Replaces the declared tables' rows by the image's, inside install's
** savepoint. With foreign_keys on, they are checked once all rows are in
** (defer_foreign_keys, as it was before when done), then with
** foreign_key_check: a broken key is the image's fault, reported before
** the savepoint ends rather than as a bare failure of its commit. */
static int copyImage(RlStore *p, sqlite3 *pImg, const SmTables *t) {
  int bForeignKeys = 0, bDefer = 0, nPending = 0, nHigh = 0;
  int rc = pragmaFlag(p->db, "PRAGMA foreign_keys", &bForeignKeys);
  if (rc == SQLITE_OK && bForeignKeys) rc = pragmaFlag(p->db, "PRAGMA defer_foreign_keys", &bDefer);
  if (rc == SQLITE_OK && bForeignKeys) {
    rc = sqlite3_db_status(p->db, SQLITE_DBSTATUS_DEFERRED_FKS, &nPending, &nHigh, 0);
  }
  /* Turning defer_foreign_keys off forgets the violations pending in the
  ** transaction: when the caller's transaction has some, it is left on
  ** (they are all checked at its commit, none is lost). */
  int bRestore = bForeignKeys && !bDefer && nPending == 0;
  if (rc == SQLITE_OK && bForeignKeys && !bDefer) rc = setDeferForeignKeys(p->db, 1);
  if (rc != SQLITE_OK) return failNoVerdict(p, p->db, rc, RL_MSG_SM_INSTALL_FAILED);

  for (int i = 0; rc == SQLITE_OK && i < t->nTable; i++) {
    char *zDel = sqlite3_mprintf("DELETE FROM \"%w\".\"%w\"", p->zSchema, t->azTable[i]);
    rc = zDel ? execOn(p->db, zDel) : SQLITE_NOMEM;
    sqlite3_free(zDel);
    if (rc != SQLITE_OK) {
      rc = failNoVerdict(p, p->db, rc, RL_MSG_SM_INSTALL_FAILED);
      break;
    }
    sqlite3 *pFailed = NULL;
    rc = copyRows(pImg, "main", p->db, p->zSchema, t->azTable[i], &pFailed);
    if (rc != SQLITE_OK) {
      /* Rows the image holds that the store's table refuses, or rows that
      ** cannot be read: the image's fault. */
      int bImage = pFailed == pImg ? imageAtFault(rc)
                                   : ((rc & 0xff) == SQLITE_CONSTRAINT ||
                                      (rc & 0xff) == SQLITE_MISMATCH || (rc & 0xff) == SQLITE_TOOBIG);
      if (bImage) {
        char *zWhat = sqlite3_mprintf("its rows of table \"%w\" cannot be installed", t->azTable[i]);
        rc = zWhat ? failInvalid(p, zWhat, sqlite3_errmsg(pFailed)) : SQLITE_NOMEM;
        sqlite3_free(zWhat);
      } else {
        rc = failNoVerdict(p, pFailed, rc, RL_MSG_SM_INSTALL_FAILED);
      }
    }
  }
  if (rc == SQLITE_OK && bForeignKeys) {
    char *zTable = NULL;
    rc = brokenForeignKeys(p, &zTable);
    if (rc != SQLITE_OK) {
      rc = failNoVerdict(p, p->db, rc, RL_MSG_SM_INSTALL_FAILED);
    } else if (zTable) {
      char *zSafe = safeText(zTable, SAFE_MAX);
      char *zWhy = zSafe ? sqlite3_mprintf("its rows break the foreign keys of table \"%s\""
                                           " (see PRAGMA foreign_key_check)", zSafe)
                         : NULL;
      rc = zWhy ? failInvalid(p, zWhy, NULL) : SQLITE_NOMEM;
      if (rc == SQLITE_NOMEM) rlResetError(p);
      sqlite3_free(zSafe);
      sqlite3_free(zWhy);
    }
    sqlite3_free(zTable);
  }
  if (bRestore) {
    int rc2 = setDeferForeignKeys(p->db, 0);
    if (rc == SQLITE_OK && rc2 != SQLITE_OK) rc = failNoVerdict(p, p->db, rc2, RL_MSG_SM_INSTALL_FAILED);
  }
  return rc;
}

int rlSmRestore(RlStore *p, raftlite_snapshot *r, const raftlite_snapshot_meta *pMeta) {
  SmTables t;
  int rc = readTables(p, &t);
  if (rc != SQLITE_OK) return rc;
  if (t.nTable == 0) {
    freeTables(&t);
    return SQLITE_OK; /* nothing declared: nothing to restore */
  }
  SmFile file = {NULL, -1};
  rc = imageCreate(p, &file);
  if (rc == SQLITE_OK) rc = streamToFile(p, r, &file);

  /* The image is input from the network: a private read-only connection
  ** that trusts nothing in it. Opening it reads nothing yet: a failure
  ** here is no verdict on the image. */
  sqlite3 *pImg = NULL;
  if (rc == SQLITE_OK) {
    rc = sqlite3_open_v2(file.zPath, &pImg, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_db_config(pImg, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_db_config(pImg, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_db_config(pImg, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_db_config(pImg, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
    if (rc == SQLITE_OK) rc = execOn(pImg, "PRAGMA cell_size_check=ON; PRAGMA mmap_size=0");
    if (rc != SQLITE_OK) rc = failNoVerdict(p, pImg, rc, RL_MSG_SM_INSTALL_FAILED);
  }
  if (rc == SQLITE_OK) {
    char *zWhy = NULL;
    rc = checkImage(p, pImg, &t, pMeta, &zWhy);
    if (rc == SQLITE_OK && zWhy) rc = failInvalid(p, zWhy, NULL);
    sqlite3_free(zWhy);
  }
  if (rc == SQLITE_OK) rc = copyImage(p, pImg, &t);
  sqlite3_close(pImg);
  imageRemove(&file);
  freeTables(&t);
  return rc;
}
