/*
** raftlite_raft.h — raftlite as the storage of a canonical/raft node.
**
** canonical/raft (libraft, the C engine dqlite is built on; Debian's
** libraft-dev 0.15) takes its disk and network I/O from a struct raft_io.
** This header gives one whose storage methods (load, bootstrap, recover,
** set_term, set_vote, append, truncate, snapshot_put, snapshot_get) keep
** the node's hard state, log and snapshots in a raftlite store, and whose
** transport and timers (init, close, start, send, time, random,
** async_work) are forwarded to a stock raft_uv io the caller made with
** raft_uv_init() and raft_uv_tcp_init(). docs/guide-raft.md is the guide.
**
**     uv_loop_t loop;                 struct raft_uv_transport tcp;
**     struct raft_io uvio, io;        struct raft r;
**     uv_loop_init(&loop);
**     raft_uv_tcp_init(&tcp, &loop);
**     raft_uv_init(&uvio, &loop, zEmptyDir, &tcp);   (its own, empty dir)
**     raftlite_raft_io_init(&io, &uvio, &loop, db, "main");
**     raft_init(&r, &io, &fsm, id, zAddress);
**     raft_bootstrap(&r, &conf);      (RAFT_CANTBOOTSTRAP once stored)
**     raft_start(&r);
**     uv_run(&loop, UV_RUN_DEFAULT);
**     ...
**     raft_close(&r, cb);             then, once cb ran and the loop is idle:
**     raftlite_raft_io_close(&io); raft_uv_close(&uvio); raft_uv_tcp_close(&tcp);
**
** Building: the library raftlite_raft (libraftlite_raft.a), built when
** CMake finds libraft (RAFTLITE_RAFT=AUTO, the default; ON requires it,
** OFF skips it), and installed with raftlite when built; link it with
** raftlite, libraft, libuv:
**
**     cc node.c $(pkg-config --cflags --libs raftlite-raft)
**     target_link_libraries(node PRIVATE raftlite::raftlite_raft)   (CMake)
**
** The core raftlite library never depends on libraft.
*/
#ifndef RAFTLITE_RAFT_H
#define RAFTLITE_RAFT_H

#include <raft.h>
#include <sqlite3.h>

#ifdef __cplusplus
extern "C" {
#endif

struct uv_loop_s; /* libuv's uv_loop_t */

/*
** Makes *io a raft_io (version 2) whose storage is the raftlite store in
** schema zSchema ("main" when NULL) of db, opened (installed if new) as
** raftlite_open() does, and whose transport and timers are transport's.
**
** What it does for libraft (docs/guide-raft.md has the mapping):
**   - set_term and set_vote are committed before they return (a new term
**     clears the vote; voted_for 0 means no vote);
**   - the appends of one event-loop iteration are written in one
**     transaction by a job on libuv's thread pool (so that the loop runs
**     on during the sync; the appends that arrive meanwhile form the next
**     transaction), and their callbacks fire on the loop after its commit,
**     never inside append(); a truncate, a snapshot_put, a recover or a
**     close first waits for that job and writes the queued appends;
**   - entries: RAFT_COMMAND is a normal entry, RAFT_BARRIER a blank one,
**     RAFT_CHANGE a membership entry whose JSON names the voters in
**     "configs" and every server in "nodes" with its address and role:
**     {"configs":[[1,2]],"nodes":{"1":{"address":"a:1","role":"voter"},
**     "2":{...},"3":{"address":"c:1","role":"standby"}}};
**   - snapshot_put(trailing > 0) applies the log up to the snapshot's
**     index, stores the FSM's bytes as the current snapshot (its
**     membership is the last one applied, which is committed) and purges
**     the log up to index - trailing, in one transaction;
**     snapshot_put(trailing = 0) installs the leader's snapshot and drops
**     the whole log, in one transaction.
**
** The connection must meet raftlite_open()'s settings (synchronous FULL or
** EXTRA for a file database) and must outlive the io. Opened through the
** raftlite VFS (raftlite_vfs_register(NULL)), its storage calls skip the
** durability PRAGMAs while the settings are unchanged. It is the io's: a
** thread-pool job uses it while appends are written, so the application
** uses another connection (to the same file) for its own tables. With a
** SQLite built without threads (sqlite3_threadsafe() 0) the loop writes
** the appends itself. The transport must
** be a raft_uv io that raft is never given directly: its storage methods
** are not used, and its directory must be a dedicated one (its init
** deletes files it does not know there). Call raft_uv_set_*() on
** transport, not on io. Errors of forwarded calls are copied to
** io->errmsg; storage errors name raftlite's rule there.
**
** @param[out] io        the io to give raft_init()
** @param[in]  transport a raft_uv io (raft_uv_init), not yet initialised by
**                       raft; must outlive io
** @param[in]  loop      the loop transport runs on
** @param[in]  db        an open connection
** @param[in]  zSchema   the store's schema, or NULL for "main"
** @return 0, or RAFT_NOMEM, or RAFT_IOERR when the store cannot be opened
** (io->errmsg says why).
*/
int raftlite_raft_io_init(struct raft_io *io, struct raft_io *transport,
                          struct uv_loop_s *loop, sqlite3 *db, const char *zSchema);

/*
** Frees what raftlite_raft_io_init() allocated and closes the raftlite
** handle (not db, not the transport). Call it after raft_close()'s
** callback ran, or instead of raft_init() when that was never called. A
** zeroed or already closed io is a no-op.
*/
void raftlite_raft_io_close(struct raft_io *io);

#ifdef __cplusplus
}
#endif
#endif /* RAFTLITE_RAFT_H */
