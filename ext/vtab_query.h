/*
** vtab_query.h — a read-only virtual table whose rows are one fixed query
** on the store's backing tables. raft_hard_state, raft_state and
** raft_snapshot are each one RlQueryVtab definition (their own files);
** this is the machinery they share (vtab_query.c).
*/
#ifndef RAFTLITE_VTAB_QUERY_H
#define RAFTLITE_VTAB_QUERY_H

#include "raftlite_int.h"

typedef struct RlQueryVtab {
  const char *zModule;  /* module name, e.g. "raftlite_state" */
  const char *zTable;   /* the SQL name, for messages: "raft_state" */
  const char *zDeclare; /* CREATE TABLE x(...) */
  const char *zQuery;   /* its rows, in declared column order; $S = schema */
} RlQueryVtab;

/* Registers the module; pDef must outlive the connection (a static). */
int rlRegisterQueryVtab(sqlite3 *db, const RlQueryVtab *pDef);

#endif /* RAFTLITE_VTAB_QUERY_H */
