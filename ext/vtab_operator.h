/*
** vtab_operator.h — raftlite's read-only virtual tables over a store.
**
** Two kinds, one machinery (vtab_operator.c):
**   - the operator's views (docs/operator.md): eponymous table-valued
**     functions, each taking the store's schema as an optional argument
**     ("main" when absent):
**
**         SELECT * FROM raft_terms;          SELECT * FROM raft_terms('aux');
**
**     vtab_log_summary.c, vtab_terms.c, vtab_memberships.c,
**     vtab_unapplied.c, vtab_snapshots.c, vtab_settings.c;
**   - the tables raft_install() creates in the store's schema (bInSchema:
**     CREATE VIRTUAL TABLE raft_state USING raftlite_state), which read
**     the schema they live in: vtab_hard_state.c, vtab_state.c,
**     vtab_snapshot.c.
** Each is one RlOpView, in a file of its own. What they share: the schema
** (argument or home), its checks, the statements prepared for it and kept
** between scans, and the errors, "raft_terms: ...".
**
** A view is either one fixed query (azSql[0], its columns in declared
** order: rlOpQuery* below) or a cursor of its own over its statements
** (xFilter/xNext/xColumn on a subclass of RlOpCursor).
*/
#ifndef RAFTLITE_VTAB_OPERATOR_H
#define RAFTLITE_VTAB_OPERATOR_H

#include "raftlite_int.h"

#define RL_OP_MAX_STMT 6

typedef struct RlOpCursor RlOpCursor;

typedef struct RlOpView {
  const char *zName;        /* module and SQL name: "raft_terms" */
  const char *zColumns;     /* declared columns, without the schema */
  int nCol;                 /* how many */
  const char *azSql[RL_OP_MAX_STMT]; /* statements, $S = schema */
  int nCursor;              /* sizeof the view's cursor (>= RlOpCursor) */
  /* Positions the cursor on its first row, or sets bEof. */
  int (*xFilter)(RlOpCursor *);
  int (*xNext)(RlOpCursor *);
  int (*xColumn)(RlOpCursor *, sqlite3_context *, int iCol);
  /* Ends a scan: releases what xFilter took (may be NULL). */
  void (*xEnd)(RlOpCursor *);
  /* A table of the store's schema, created by raft_install() as
  ** CREATE VIRTUAL TABLE zName USING zModule: it reads its own schema and
  ** has no schema column. 0 (and zModule NULL) for an operator's view. */
  int bInSchema;
  const char *zModule;
} RlOpView;

struct RlOpCursor {
  sqlite3_vtab_cursor base; /* Base class - must be first */
  const RlOpView *pView;
  RlStore store;            /* the scan's schema: zSchema, messages */
  sqlite3_stmt *apStmt[RL_OP_MAX_STMT]; /* azSql for store.zSchema */
  i64 iRowid;
  int bEof;
};

/* Statement i of the view for the scan's schema, reset; NULL after an
** error recorded by rlOpError (its code in *pRc). */
sqlite3_stmt *rlOpStmt(RlOpCursor *pCur, int i, int *pRc);

/* Reports rc as "raft_terms: <message>": the message recorded on
** pCur->store, else the connection's (a missing backing table says that
** the schema holds no store). Returns rc. */
int rlOpError(RlOpCursor *pCur, int rc);

/* A view that is one query (azSql[0]). */
int rlOpQueryFilter(RlOpCursor *pCur);
int rlOpQueryNext(RlOpCursor *pCur);
int rlOpQueryColumn(RlOpCursor *pCur, sqlite3_context *ctx, int iCol);

/* The RlOpView fields nCursor..xEnd of a view that is one query. */
#define RL_OP_ONE_QUERY \
  sizeof(RlOpCursor), rlOpQueryFilter, rlOpQueryNext, rlOpQueryColumn, 0

/* Registers the view (its module: zModule, or zName); pView must outlive
** the connection (a static). */
int rlRegisterOpView(sqlite3 *db, const RlOpView *pView);

#endif /* RAFTLITE_VTAB_OPERATOR_H */
