/*
** kv_node.c — a replicated key-value server on canonical/raft, its Raft
** storage in raftlite (include/raftlite_raft.h), one process per node,
** loopback only. docs/guide-raft.md walks through it.
**
**   kv_node serve ID DIR PEERS CLIENT_PORT [options]
**       PEERS       1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003
**                   (the cluster; this node is ID; all voters)
**       DIR/node.db the node's database: raftlite's tables (hard state,
**                   log, snapshots) and the key-value table kv
**       DIR/uv/     the stock raft_uv io's directory (transport only)
**     options:
**       --storage raftlite|uv   raftlite (default), or libraft's own disk
**                               storage in DIR/uv (the comparison)
**       --threshold N --trailing M   snapshot every N applied entries,
**                               keeping M (default 1024 and 128)
**       --heartbeat MS          heartbeat timeout (default 50 ms); the
**                               election timeout is 10 times it
**   kv_node put HOST:PORT KEY VALUE     through the leader: prints OK
**   kv_node get HOST:PORT KEY           the node's local value
**   kv_node stat HOST:PORT              id, state, leader, term, last index,
**                                       last applied, keys, hash of kv,
**                                       snapshots restored since start
**   kv_node bench HOST:PORT N [WINDOW] [PREFIX]
**                                       N puts, WINDOW in flight (default
**                                       64); prints commands per second
**
** The state machine is the table kv(k, v) of the node's database. libraft
** applies committed commands to it and rebuilds it at every start (from
** the last snapshot and the log after it), so its table is derived state:
** its writes go through a second connection with synchronous=OFF, and it
** is emptied when the node starts. A snapshot of it is "k=v\n" lines.
**
** A command is "k=v", NUL-padded to a multiple of 8 bytes: libraft 0.15's
** TCP transport needs that (it decodes a batch of entries as if each
** payload were padded to 8 bytes, but sends them as they are).
**
** The client protocol is one line per request over TCP on CLIENT_PORT:
** "put K V" (answered once applied: "OK", or "ERR notleader L" naming the
** leader L, 0 when none is known), "get K" ("VAL v" or "NONE"), "stat".
*/
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <raft.h>
#include <raft/uv.h>
#include <sqlite3.h>
#include <uv.h>

#include "raftlite.h"
#include "raftlite_raft.h"

/* ==================================================================== */
/* The server                                                            */
/* ==================================================================== */

typedef struct Node {
  raft_id id;
  uv_loop_t loop;
  struct raft_uv_transport transport;
  struct raft_io uvio; /* the stock io: transport only, or everything */
  struct raft_io io;   /* raftlite's */
  int bRaftlite;
  struct raft raft;
  struct raft_fsm fsm;
  sqlite3 *db;   /* raftlite's connection */
  sqlite3 *dbSm; /* the state machine's connection */
  sqlite3_stmt *pPut;
  uv_tcp_t server;
  uv_signal_t sigterm, sigint;
  int bStopping;
  struct Client *pClients;
  int nRestore; /* snapshots restored: at start, and each install */
} Node;

static void die(const char *zWhat, const char *zWhy) {
  fprintf(stderr, "kv_node: %s: %s\n", zWhat, zWhy);
  exit(1);
}

/* The adapter's worker thread holds the write lock while it commits
** appends (a fraction of a millisecond): retry every 50 us rather than
** sleep SQLite's default 1 ms and more, for 5 s at most. */
static int smBusy(void *arg, int nTry) {
  (void)arg;
  if (nTry >= 100000) return 0;
  usleep(50);
  return 1;
}

static int smApply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result) {
  Node *n = fsm->data;
  const char *z = buf->base;
  size_t nByte = strnlen(z, buf->len); /* without the padding */
  const char *zEq = memchr(z, '=', nByte);
  *result = NULL;
  if (zEq == NULL) return RAFT_MALFORMED;
  sqlite3_bind_text(n->pPut, 1, z, (int)(zEq - z), SQLITE_STATIC);
  sqlite3_bind_text(n->pPut, 2, zEq + 1, (int)(nByte - (size_t)(zEq - z) - 1), SQLITE_STATIC);
  sqlite3_step(n->pPut);
  int rc = sqlite3_reset(n->pPut);
  if (rc != SQLITE_OK) {
    fprintf(stderr, "kv_node %llu: apply: %s\n", n->id, sqlite3_errmsg(n->dbSm));
    return RAFT_IOERR;
  }
  return 0;
}

static int smSnapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs) {
  Node *n = fsm->data;
  sqlite3_str *s = sqlite3_str_new(n->dbSm);
  sqlite3_stmt *pStmt;
  if (sqlite3_prepare_v2(n->dbSm, "SELECT k, v FROM kv ORDER BY k", -1, &pStmt, 0) != SQLITE_OK)
    return RAFT_IOERR;
  while (sqlite3_step(pStmt) == SQLITE_ROW) {
    sqlite3_str_appendf(s, "%s=%s\n", sqlite3_column_text(pStmt, 0),
                        sqlite3_column_text(pStmt, 1));
  }
  sqlite3_finalize(pStmt);
  int nByte = sqlite3_str_length(s);
  char *z = sqlite3_str_finish(s);
  *bufs = raft_malloc(sizeof(**bufs));
  (*bufs)[0].base = raft_malloc(nByte ? (size_t)nByte : 1);
  if (z) memcpy((*bufs)[0].base, z, (size_t)nByte);
  (*bufs)[0].len = (size_t)nByte;
  *n_bufs = 1;
  sqlite3_free(z);
  return 0;
}

static int smRestore(struct raft_fsm *fsm, struct raft_buffer *buf) {
  Node *n = fsm->data;
  n->nRestore++;
  sqlite3_exec(n->dbSm, "BEGIN; DELETE FROM kv", 0, 0, 0);
  const char *z = buf->base, *zEnd = z + buf->len;
  while (z < zEnd) {
    const char *zNl = memchr(z, '\n', (size_t)(zEnd - z));
    if (zNl == NULL) zNl = zEnd;
    struct raft_buffer line = {(void *)z, (size_t)(zNl - z)};
    void *res;
    if (line.len) smApply(fsm, &line, &res);
    z = zNl + 1;
  }
  sqlite3_exec(n->dbSm, "COMMIT", 0, 0, 0);
  raft_free(buf->base); /* the FSM owns it */
  return 0;
}

/* A client connection. Replies to puts come when they are applied; the
** connection lives until it is closed and no put waits on it. */
typedef struct Client {
  uv_tcp_t tcp;
  Node *node;
  char aBuf[4096];
  size_t nBuf;
  int nRef;
  int bClosed;
  struct Client *pNext, *pPrev; /* the node's open connections */
} Client;

typedef struct Put {
  struct raft_apply req;
  Client *c;
} Put;

static void clientUnref(Client *c) {
  if (--c->nRef == 0) free(c);
}

static void clientClosed(uv_handle_t *h) {
  clientUnref(h->data);
}

static void writeDone(uv_write_t *w, int status) {
  (void)status;
  free(w);
}

static void reply(Client *c, const char *zFmt, ...) {
  if (c->bClosed) return;
  uv_write_t *w = malloc(sizeof(*w) + 256);
  char *z = (char *)(w + 1);
  va_list ap;
  va_start(ap, zFmt);
  int n = vsnprintf(z, 256, zFmt, ap);
  va_end(ap);
  if (n > 255) n = 255;
  uv_buf_t b = uv_buf_init(z, (unsigned)n);
  if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, writeDone) != 0) free(w);
}

static void putDone(struct raft_apply *req, int status, void *result) {
  Put *p = req->data;
  (void)result;
  if (status == 0) {
    reply(p->c, "OK\n");
  } else {
    reply(p->c, "ERR %s\n", raft_strerror(status));
  }
  clientUnref(p->c);
  free(p);
}

static unsigned long long kvHash(Node *n, int *pnKey) {
  sqlite3_stmt *pStmt;
  unsigned long long h = 14695981039346656037ULL;
  *pnKey = 0;
  sqlite3_prepare_v2(n->dbSm, "SELECT k || '=' || v FROM kv ORDER BY k", -1, &pStmt, 0);
  while (sqlite3_step(pStmt) == SQLITE_ROW) {
    const unsigned char *z = sqlite3_column_text(pStmt, 0);
    for (; *z; z++) h = (h ^ *z) * 1099511628211ULL;
    h = (h ^ '\n') * 1099511628211ULL;
    (*pnKey)++;
  }
  sqlite3_finalize(pStmt);
  return h;
}

static const char *stateName(int s) {
  switch (s) {
    case RAFT_FOLLOWER: return "follower";
    case RAFT_CANDIDATE: return "candidate";
    case RAFT_LEADER: return "leader";
  }
  return "unavailable";
}

static void handleLine(Client *c, char *zLine) {
  Node *n = c->node;
  char *zCmd = strtok(zLine, " \r");
  char *zKey = strtok(NULL, " \r");
  char *zVal = strtok(NULL, " \r");
  if (zCmd == NULL) return;
  if (strcmp(zCmd, "put") == 0 && zKey && zVal && !strchr(zKey, '=')) {
    if (raft_state(&n->raft) != RAFT_LEADER) {
      raft_id l = 0;
      const char *zAddr;
      raft_leader(&n->raft, &l, &zAddr);
      reply(c, "ERR notleader %llu\n", l);
      return;
    }
    /* libraft 0.15's TCP transport sends a payload as it is but decodes a
    ** batch of entries as if each were padded to 8 bytes: pad, with NULs. */
    size_t nKey = strlen(zKey), nVal = strlen(zVal);
    size_t nBuf = (nKey + 1 + nVal + 7) / 8 * 8;
    struct raft_buffer buf = {raft_calloc(1, nBuf), nBuf};
    memcpy(buf.base, zKey, nKey);
    ((char *)buf.base)[nKey] = '=';
    memcpy((char *)buf.base + nKey + 1, zVal, nVal);
    Put *p = malloc(sizeof(*p));
    p->req.data = p;
    p->c = c;
    c->nRef++;
    int rv = raft_apply(&n->raft, &p->req, &buf, 1, putDone);
    if (rv != 0) {
      raft_free(buf.base);
      reply(c, "ERR %s\n", raft_strerror(rv));
      clientUnref(c);
      free(p);
    }
  } else if (strcmp(zCmd, "get") == 0 && zKey) {
    sqlite3_stmt *pStmt;
    sqlite3_prepare_v2(n->dbSm, "SELECT v FROM kv WHERE k = ?1", -1, &pStmt, 0);
    sqlite3_bind_text(pStmt, 1, zKey, -1, SQLITE_STATIC);
    if (sqlite3_step(pStmt) == SQLITE_ROW) {
      reply(c, "VAL %s\n", sqlite3_column_text(pStmt, 0));
    } else {
      reply(c, "NONE\n");
    }
    sqlite3_finalize(pStmt);
  } else if (strcmp(zCmd, "stat") == 0) {
    raft_id l = 0;
    const char *zAddr;
    int nKey;
    raft_leader(&n->raft, &l, &zAddr);
    unsigned long long h = kvHash(n, &nKey);
    reply(c, "id=%llu state=%s leader=%llu term=%llu last_index=%llu applied=%llu keys=%d hash=%016llx restores=%d\n",
          n->id, stateName(raft_state(&n->raft)), l, n->raft.current_term,
          raft_last_index(&n->raft), raft_last_applied(&n->raft), nKey, h, n->nRestore);
  } else {
    reply(c, "ERR usage: put K V | get K | stat\n");
  }
}

static void allocCb(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  Client *c = h->data;
  (void)suggested;
  *b = uv_buf_init(c->aBuf + c->nBuf, (unsigned)(sizeof(c->aBuf) - c->nBuf - 1));
}

static void clientClose(Client *c) {
  if (c->bClosed) return;
  c->bClosed = 1;
  if (c->pPrev) c->pPrev->pNext = c->pNext; else c->node->pClients = c->pNext;
  if (c->pNext) c->pNext->pPrev = c->pPrev;
  uv_close((uv_handle_t *)&c->tcp, clientClosed);
}

static void readCb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  Client *c = s->data;
  (void)b;
  if (nread < 0) {
    clientClose(c);
    return;
  }
  c->nBuf += (size_t)nread;
  c->aBuf[c->nBuf] = 0;
  char *z = c->aBuf, *zNl;
  while ((zNl = strchr(z, '\n')) != NULL) {
    *zNl = 0;
    handleLine(c, z);
    z = zNl + 1;
  }
  c->nBuf -= (size_t)(z - c->aBuf);
  memmove(c->aBuf, z, c->nBuf);
  if (c->nBuf >= sizeof(c->aBuf) - 1) clientClose(c); /* a line too long */
}

static void connectionCb(uv_stream_t *server, int status) {
  Node *n = server->data;
  if (status != 0 || n->bStopping) return;
  Client *c = calloc(1, sizeof(*c));
  c->node = n;
  c->nRef = 1;
  c->pNext = n->pClients;
  if (c->pNext) c->pNext->pPrev = c;
  n->pClients = c;
  uv_tcp_init(&n->loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    clientClose(c);
    return;
  }
  /* Replies are small writes: without this, Nagle holds each one until
  ** the client's delayed ACK of the previous one (40 ms). */
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, allocCb, readCb);
}

static void raftClosed(struct raft *r) {
  Node *n = r->data;
  uv_close((uv_handle_t *)&n->server, NULL);
  uv_close((uv_handle_t *)&n->sigterm, NULL);
  uv_close((uv_handle_t *)&n->sigint, NULL);
  while (n->pClients) clientClose(n->pClients);
}

static void stopCb(uv_signal_t *h, int signum) {
  Node *n = h->data;
  (void)signum;
  if (n->bStopping) return;
  n->bStopping = 1;
  raft_close(&n->raft, raftClosed);
}

static int parsePeers(const char *zPeers, struct raft_configuration *conf, raft_id self,
                      char *zSelf, size_t nSelf) {
  char *z = strdup(zPeers), *zTok, *zSave = NULL;
  int found = 0;
  raft_configuration_init(conf);
  for (zTok = strtok_r(z, ",", &zSave); zTok; zTok = strtok_r(NULL, ",", &zSave)) {
    char *zEq = strchr(zTok, '=');
    if (zEq == NULL) die("peers", "expected ID=HOST:PORT,...");
    *zEq = 0;
    raft_id id = strtoull(zTok, NULL, 10);
    if (raft_configuration_add(conf, id, zEq + 1, RAFT_VOTER) != 0) die("peers", zTok);
    if (id == self) {
      snprintf(zSelf, nSelf, "%s", zEq + 1);
      found = 1;
    }
  }
  free(z);
  return found;
}

static int serve(int argc, char **argv) {
  static Node node;
  Node *n = &node;
  char zSelf[64], zPath[1024];
  struct raft_configuration conf;
  unsigned threshold = 1024, trailing = 128, heartbeat = 50;
  const char *zDir = argv[3];
  int rv;

  n->id = strtoull(argv[2], NULL, 10);
  int port = atoi(argv[5]);
  n->bRaftlite = 1;
  for (int i = 6; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--storage") == 0) {
      n->bRaftlite = strcmp(argv[i + 1], "uv") != 0;
    } else if (strcmp(argv[i], "--threshold") == 0) {
      threshold = (unsigned)atoi(argv[i + 1]);
    } else if (strcmp(argv[i], "--trailing") == 0) {
      trailing = (unsigned)atoi(argv[i + 1]);
    } else if (strcmp(argv[i], "--heartbeat") == 0) {
      heartbeat = (unsigned)atoi(argv[i + 1]);
    } else {
      die("unknown option", argv[i]);
    }
  }
  if (!parsePeers(argv[4], &conf, n->id, zSelf, sizeof(zSelf))) die("peers", "own id missing");

  /* libuv does not ignore SIGPIPE: a peer closing its socket would kill us. */
  signal(SIGPIPE, SIG_IGN);
  mkdir(zDir, 0755);
  snprintf(zPath, sizeof(zPath), "%s/uv", zDir);
  mkdir(zPath, 0755);

  /* The node's database: raftlite's tables and the state machine's kv. */
  snprintf(zPath, sizeof(zPath), "%s/node.db", zDir);
  /* Through the raftlite VFS: each storage call then skips the durability
  ** PRAGMAs while the settings stay as set here (raftlite_vfs_register). */
  if (raftlite_vfs_register(NULL) != SQLITE_OK) die("raftlite_vfs_register", "failed");
  if (sqlite3_open_v2(zPath, &n->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, RAFTLITE_VFS) !=
      SQLITE_OK)
    die(zPath, sqlite3_errmsg(n->db));
  sqlite3_exec(n->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL", 0, 0, 0);
  sqlite3_busy_timeout(n->db, 5000);
  if (sqlite3_open(zPath, &n->dbSm) != SQLITE_OK) die(zPath, sqlite3_errmsg(n->dbSm));
  sqlite3_busy_handler(n->dbSm, smBusy, NULL);
  /* Derived state, rebuilt by libraft at start: no sync, emptied. */
  char *zErr = NULL;
  if (sqlite3_exec(n->dbSm,
                   "PRAGMA synchronous=OFF;"
                   "CREATE TABLE IF NOT EXISTS kv(k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;"
                   "DELETE FROM kv",
                   0, 0, &zErr) != SQLITE_OK)
    die("kv table", zErr);
  sqlite3_prepare_v2(n->dbSm, "INSERT OR REPLACE INTO kv(k, v) VALUES (?1, ?2)", -1, &n->pPut, 0);

  if (uv_loop_init(&n->loop) != 0) die("uv_loop_init", "failed");
  if (raft_uv_tcp_init(&n->transport, &n->loop) != 0) die("raft_uv_tcp_init", "failed");
  snprintf(zPath, sizeof(zPath), "%s/uv", zDir);
  rv = raft_uv_init(&n->uvio, &n->loop, zPath, &n->transport);
  if (rv != 0) die("raft_uv_init", n->uvio.errmsg);
  raft_uv_set_connect_retry_delay(&n->uvio, 100);
  struct raft_io *io = &n->uvio;
  if (n->bRaftlite) {
    rv = raftlite_raft_io_init(&n->io, &n->uvio, &n->loop, n->db, "main");
    if (rv != 0) die("raftlite_raft_io_init", n->io.errmsg);
    io = &n->io;
  }

  n->fsm.version = 1;
  n->fsm.data = n;
  n->fsm.apply = smApply;
  n->fsm.snapshot = smSnapshot;
  n->fsm.restore = smRestore;
  rv = raft_init(&n->raft, io, &n->fsm, n->id, zSelf);
  if (rv != 0) die("raft_init", raft_errmsg(&n->raft));
  n->raft.data = n;
  raft_set_heartbeat_timeout(&n->raft, heartbeat);
  raft_set_election_timeout(&n->raft, 10 * heartbeat);
  raft_set_install_snapshot_timeout(&n->raft, 1000);
  raft_set_snapshot_threshold(&n->raft, threshold);
  raft_set_snapshot_trailing(&n->raft, trailing);
  rv = raft_bootstrap(&n->raft, &conf);
  if (rv != 0 && rv != RAFT_CANTBOOTSTRAP) die("raft_bootstrap", raft_errmsg(&n->raft));
  raft_configuration_close(&conf);
  rv = raft_start(&n->raft);
  if (rv != 0) die("raft_start", raft_errmsg(&n->raft));

  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", port, &addr);
  uv_tcp_init(&n->loop, &n->server);
  n->server.data = n;
  if (uv_tcp_bind(&n->server, (const struct sockaddr *)&addr, 0) != 0 ||
      uv_listen((uv_stream_t *)&n->server, 128, connectionCb) != 0)
    die("client port", "cannot listen");
  uv_signal_init(&n->loop, &n->sigterm);
  uv_signal_init(&n->loop, &n->sigint);
  n->sigterm.data = n->sigint.data = n;
  uv_signal_start(&n->sigterm, stopCb, SIGTERM);
  uv_signal_start(&n->sigint, stopCb, SIGINT);
  fprintf(stderr, "kv_node %llu: raft on %s, clients on 127.0.0.1:%d, storage %s\n", n->id,
          zSelf, port, n->bRaftlite ? "raftlite" : "raft_uv");

  uv_run(&n->loop, UV_RUN_DEFAULT);

  if (n->bRaftlite) raftlite_raft_io_close(&n->io);
  raft_uv_close(&n->uvio);
  raft_uv_tcp_close(&n->transport);
  uv_run(&n->loop, UV_RUN_DEFAULT);
  uv_loop_close(&n->loop);
  sqlite3_finalize(n->pPut);
  sqlite3_close(n->dbSm);
  sqlite3_close(n->db);
  return 0;
}

/* ==================================================================== */
/* The client                                                            */
/* ==================================================================== */

static int dial(const char *zAddr) {
  char zHost[64];
  const char *zColon = strrchr(zAddr, ':');
  if (zColon == NULL || (size_t)(zColon - zAddr) >= sizeof(zHost)) die(zAddr, "expected HOST:PORT");
  memcpy(zHost, zAddr, (size_t)(zColon - zAddr));
  zHost[zColon - zAddr] = 0;
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)atoi(zColon + 1));
  if (inet_pton(AF_INET, zHost, &a.sin_addr) != 1) die(zAddr, "not an IPv4 address");
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) die(zAddr, strerror(errno));
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

/* Reads one line into z (without its newline). */
static int readLine(int fd, char *z, size_t n) {
  size_t i = 0;
  while (i + 1 < n) {
    ssize_t got = read(fd, z + i, 1);
    if (got <= 0) return -1;
    if (z[i] == '\n') break;
    i++;
  }
  z[i] = 0;
  return 0;
}

static void writeAll(int fd, const char *z, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, z, n);
    if (w <= 0) die("write", strerror(errno));
    z += w;
    n -= (size_t)w;
  }
}

static int client(int argc, char **argv) {
  char zLine[512];
  int fd = dial(argv[2]);
  if (strcmp(argv[1], "bench") == 0 && argc >= 4) {
    long nTotal = atol(argv[3]);
    long nWindow = argc > 4 ? atol(argv[4]) : 64;
    const char *zPrefix = argc > 5 ? argv[5] : "b";
    struct timespec t0, t1;
    long nDone = 0, nErr = 0;
    char *zBatch = malloc((size_t)nWindow * 64);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (nDone < nTotal) {
      long nThis = nTotal - nDone < nWindow ? nTotal - nDone : nWindow;
      size_t nByte = 0;
      for (long i = 0; i < nThis; i++) {
        nByte += (size_t)sprintf(zBatch + nByte, "put %s%ld %ld\n", zPrefix, nDone + i, nDone + i);
      }
      writeAll(fd, zBatch, nByte);
      for (long i = 0; i < nThis; i++) {
        if (readLine(fd, zLine, sizeof(zLine)) != 0) die("bench", "connection lost");
        if (strcmp(zLine, "OK") != 0) nErr++;
      }
      nDone += nThis;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%ld commands in %.3f s: %.0f commands/s, %ld errors\n", nTotal, s, (double)nTotal / s,
           nErr);
    free(zBatch);
    close(fd);
    return nErr ? 1 : 0;
  }
  if (strcmp(argv[1], "put") == 0 && argc == 5) {
    snprintf(zLine, sizeof(zLine), "put %s %s\n", argv[3], argv[4]);
  } else if (strcmp(argv[1], "get") == 0 && argc == 4) {
    snprintf(zLine, sizeof(zLine), "get %s\n", argv[3]);
  } else if (strcmp(argv[1], "stat") == 0 && argc == 3) {
    snprintf(zLine, sizeof(zLine), "stat\n");
  } else {
    die("usage", "kv_node put|get|stat|bench HOST:PORT ...");
  }
  writeAll(fd, zLine, strlen(zLine));
  if (readLine(fd, zLine, sizeof(zLine)) != 0) die(argv[2], "no reply");
  printf("%s\n", zLine);
  close(fd);
  return strncmp(zLine, "ERR", 3) == 0 ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc >= 6 && strcmp(argv[1], "serve") == 0) return serve(argc, argv);
  if (argc >= 3) return client(argc, argv);
  fprintf(stderr,
          "usage: kv_node serve ID DIR PEERS CLIENT_PORT [--storage raftlite|uv]"
          " [--threshold N] [--trailing M]\n"
          "       kv_node put|get|stat|bench HOST:PORT ...\n");
  return 2;
}
