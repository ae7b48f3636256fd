/*
** test_memory.c — memory does not grow with snapshot size
** (docs/contract.md §5, issue: bounded memory for snapshots).
**
**     test_memory [MiB ...]        (default: 64 256)
**
** For each size, in one process: build a snapshot of that many bytes (the
** state machine's snapshot callback writes them), read it all back,
** receive a copy into a new stream and install it (the restore callback
** reads it all), checking every byte. The process's peak resident set
** (getrusage ru_maxrss) is taken before and after each size; the growth
** must stay small and must not follow the size. CTest runs 64 and 256 MiB;
** `ctest -L big` adds a 1 GiB run.
*/
#include <sys/resource.h>

#include "fixture.h"

#define PIECE 65536
#define MAX_GROWTH_KIB (24 * 1024) /* SQLite's page cache and our buffers */

static unsigned char pattern(uint64_t i) { return (unsigned char)((i * 2654435761u) >> 13); }

static long peakKib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

typedef struct Sm {
  uint64_t nBytes; /* what snapshot writes */
  uint64_t nRestored;
  int bBad;
} Sm;

static int writeBytes(raftlite_snapshot *w, uint64_t n) {
  static unsigned char buf[PIECE];
  for (uint64_t done = 0; done < n;) {
    size_t k = n - done < PIECE ? (size_t)(n - done) : PIECE;
    for (size_t i = 0; i < k; i++) buf[i] = pattern(done + i);
    int rc = raftlite_snapshot_write(w, buf, k);
    if (rc != SQLITE_OK) return rc;
    done += k;
  }
  return SQLITE_OK;
}

/* Reads the stream to its end; returns the bytes read, counting mismatches
** in *pBad. */
static uint64_t readBytes(raftlite_snapshot *r, int *pBad) {
  static unsigned char buf[PIECE];
  uint64_t n = 0;
  for (;;) {
    size_t got = 0;
    if (raftlite_snapshot_read(r, buf, PIECE, &got) != SQLITE_OK) {
      *pBad = 1;
      break;
    }
    if (got == 0) break;
    for (size_t i = 0; i < got; i++) {
      if (buf[i] != pattern(n + i)) *pBad = 1;
    }
    n += got;
  }
  return n;
}

static int smSnapshot(void *ctx, sqlite3 *db, raftlite_snapshot *w) {
  (void)db;
  return writeBytes(w, ((Sm *)ctx)->nBytes);
}

static int smRestore(void *ctx, sqlite3 *db, raftlite_snapshot *r) {
  (void)db;
  Sm *sm = ctx;
  sm->nRestored = readBytes(r, &sm->bBad);
  return SQLITE_OK;
}

/* One round at nMib; returns the peak growth in KiB, or -1 on failure. */
static long runRound(Fixture *f, Sm *sm, int nMib, uint64_t iIndex) {
  uint64_t n = (uint64_t)nMib << 20;
  long before = peakKib();
  sm->nBytes = n;

  raftlite_entry e = {{1, iIndex}, RAFTLITE_BLANK, NULL, 0};
  raftlite_responses r;
  if (raftlite_append_to_log(f->store, &e, 1) != SQLITE_OK) return -1;
  if (raftlite_apply_to_state_machine(f->store, &e, 1, &r) != SQLITE_OK) return -1;
  raftlite_responses_free(&r);

  raftlite_snapshot_meta meta;
  raftlite_snapshot *s = NULL;
  if (raftlite_build_snapshot(f->store, &meta, &s) != SQLITE_OK) return -1;
  int bBad = 0;
  uint64_t nRead = readBytes(s, &bBad);
  raftlite_snapshot_close(s);
  if (bBad || nRead != n) {
    fprintf(stderr, "build/read: %llu bytes, bad=%d\n", (unsigned long long)nRead, bBad);
    return -1;
  }

  /* Receive a copy, batching the writes into one transaction (one sync),
  ** then install it one index further. */
  meta.last_log_id.index = iIndex + 1;
  snprintf(meta.snapshot_id, sizeof(meta.snapshot_id), "copy-%llu", (unsigned long long)iIndex);
  sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL);
  int rc = raftlite_begin_receiving_snapshot(f->store, &s);
  if (rc == SQLITE_OK) rc = writeBytes(s, n);
  sqlite3_exec(f->db, rc == SQLITE_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
  raftlite_sm_changes ch;
  if (rc == SQLITE_OK) rc = raftlite_install_snapshot(f->store, &meta, s, &ch);
  raftlite_snapshot_meta_free(&meta);
  if (rc != SQLITE_OK || sm->bBad || sm->nRestored != n) {
    fprintf(stderr, "receive/install: rc=%d %s restored=%llu\n", rc,
            raftlite_errmsg(f->store), (unsigned long long)sm->nRestored);
    return -1;
  }
  return peakKib() - before;
}

int main(int argc, char **argv) {
  Fixture *f = setUp();
  Sm sm = {0, 0, 0};
  raftlite_state_machine machine = {&sm, NULL, smSnapshot, smRestore};
  raftlite_set_state_machine(f->store, &machine);

  static const char *const azDefault[] = {"64", "256"};
  int nSize = argc > 1 ? argc - 1 : 2;
  const char *const *azSize = argc > 1 ? (const char *const *)&argv[1] : azDefault;
  int nFail = 0;
  long firstGrowth = -1;
  for (int i = 0; i < nSize; i++) {
    int nMib = atoi(azSize[i]);
    long growth = runRound(f, &sm, nMib, (uint64_t)(2 * i + 1));
    printf("snapshot of %4d MiB: built, read, received, installed; peak RSS grew by %ld KiB\n",
           nMib, growth);
    if (growth < 0 || growth > MAX_GROWTH_KIB) nFail++;
    /* A larger snapshot may not raise the peak much beyond a smaller one. */
    if (firstGrowth >= 0 && growth > firstGrowth + 8 * 1024) nFail++;
    if (firstGrowth < 0) firstGrowth = growth;
  }
  tearDown(f);
  printf("%d errors out of %d sizes\n", nFail, nSize);
  return nFail ? 1 : 0;
}
