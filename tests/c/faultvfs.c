/*
** faultvfs.c — the VFS shim of faultvfs.h: I/O errors on demand and a
** model of the disk under power loss. See the header for the contract.
*/
#define _POSIX_C_SOURCE 200809L

#include "faultvfs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

FvStats fvStats;

static sqlite3_vfs *pReal; /* the wrapped VFS */
static sqlite3_vfs fvVfs;

/******************************************************************************
 * I/O errors
 *****************************************************************************/

static struct {
  int eClass;        /* armed class, or -1 */
  long n;            /* the call that fails (1-based) */
  int bPersist;      /* and every one after it */
  int rc;            /* what the failed call returns */
  long nFired;
  long aCalls[FV_NCLASS];
} fault = {-1, 0, 0, 0, 0, {0}};

static const char *const azClass[FV_NCLASS] = {
    "read", "write", "sync", "truncate", "lock", "filesize", "open", "delete", "access", "shmmap"};

const char *fvClassName(int eClass) {
  return eClass >= 0 && eClass < FV_NCLASS ? azClass[eClass] : "?";
}

void fvArm(int eClass, long n, int bPersist, int rc) {
  memset(fault.aCalls, 0, sizeof(fault.aCalls));
  fault.eClass = eClass;
  fault.n = n;
  fault.bPersist = bPersist;
  fault.rc = rc;
  fault.nFired = 0;
}

long fvDisarm(void) {
  fault.eClass = -1;
  return fault.nFired;
}

long fvCalls(int eClass) { return fault.aCalls[eClass]; }

/* Counts a call of class eClass; non-zero when it must fail. */
static int faultHit(int eClass) {
  fault.aCalls[eClass]++;
  if (fault.eClass != eClass) return 0;
  long i = fault.aCalls[eClass];
  if (i == fault.n || (fault.bPersist && i > fault.n)) {
    fault.nFired++;
    fvStats.nFault++;
    return 1;
  }
  return 0;
}

/******************************************************************************
 * The disk model
 *****************************************************************************/

/* A write (a != NULL) or a truncation not yet synced. */
typedef struct FvOp {
  sqlite3_int64 iOff; /* offset of the write; size for a truncation */
  int n;
  unsigned char *a;
  struct FvOp *pNext;
} FvOp;

/* One file's bytes: as last synced, and the changes since. */
typedef struct FvInode {
  int nRef; /* paths and open files that refer to it */
  unsigned char *aDisk;
  sqlite3_int64 nDisk;
  FvOp *pFirst, *pLast;
} FvInode;

/* A path: the inode the directory shows, and the one a crash leaves. */
typedef struct FvNode {
  char *zPath;
  int bMainDb; /* its -shm goes with it */
  FvInode *pCur, *pDurable;
  /* the crash image (fvCrashNow) */
  int bImage;
  unsigned char *aImage;
  sqlite3_int64 nImage;
  struct FvNode *pNext;
} FvNode;

static struct {
  int bTrack;
  FvNode *pNodes;
  long nSync;       /* xSyncs of modelled files */
  long iCrashAt;    /* crash before this sync; 0: none */
  int bCrashed;
  int ePolicy;
  unsigned int seed;
} disk;

static unsigned int fvRand(void) {
  /* xorshift32: a reproducible sequence per seed */
  unsigned int x = disk.seed ? disk.seed : 0x9e3779b9u;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  disk.seed = x;
  return x;
}

static void opFree(FvOp *p) {
  while (p) {
    FvOp *pNext = p->pNext;
    free(p->a);
    free(p);
    p = pNext;
  }
}

static void inodeRef(FvInode *p) {
  if (p) p->nRef++;
}

static void inodeUnref(FvInode *p) {
  if (p && --p->nRef == 0) {
    opFree(p->pFirst);
    free(p->aDisk);
    free(p);
  }
}

static FvInode *inodeNew(const unsigned char *a, sqlite3_int64 n) {
  FvInode *p = calloc(1, sizeof(*p));
  if (n > 0) {
    p->aDisk = malloc((size_t)n);
    memcpy(p->aDisk, a, (size_t)n);
    p->nDisk = n;
  }
  return p;
}

/* Writes n bytes at iOff into a buffer, growing it (zeros in a gap). */
static void bufWrite(unsigned char **pa, sqlite3_int64 *pn, sqlite3_int64 iOff,
                     const unsigned char *aSrc, int n) {
  if (iOff + n > *pn) {
    *pa = realloc(*pa, (size_t)(iOff + n));
    memset(*pa + *pn, 0, (size_t)(iOff + n - *pn));
    *pn = iOff + n;
  }
  memcpy(*pa + iOff, aSrc, (size_t)n);
}

static void bufTruncate(unsigned char **pa, sqlite3_int64 *pn, sqlite3_int64 n) {
  if (n < *pn) {
    *pn = n;
  } else if (n > *pn) {
    *pa = realloc(*pa, (size_t)n);
    memset(*pa + *pn, 0, (size_t)(n - *pn));
    *pn = n;
  }
}

static void inodeRecord(FvInode *p, sqlite3_int64 iOff, const void *a, int n) {
  FvOp *pOp = calloc(1, sizeof(*pOp));
  pOp->iOff = iOff;
  pOp->n = n;
  if (a) {
    pOp->a = malloc(n > 0 ? (size_t)n : 1);
    memcpy(pOp->a, a, (size_t)n);
  }
  if (p->pLast) p->pLast->pNext = pOp;
  else p->pFirst = pOp;
  p->pLast = pOp;
}

/* xSync: what was written is on the disk. */
static void inodeSync(FvInode *p) {
  for (FvOp *pOp = p->pFirst; pOp; pOp = pOp->pNext) {
    if (pOp->a) bufWrite(&p->aDisk, &p->nDisk, pOp->iOff, pOp->a, pOp->n);
    else bufTruncate(&p->aDisk, &p->nDisk, pOp->iOff);
  }
  opFree(p->pFirst);
  p->pFirst = p->pLast = NULL;
}

static FvNode *nodeFind(const char *zPath, int bCreate) {
  for (FvNode *p = disk.pNodes; p; p = p->pNext) {
    if (strcmp(p->zPath, zPath) == 0) return p;
  }
  if (!bCreate) return NULL;
  FvNode *p = calloc(1, sizeof(*p));
  p->zPath = strdup(zPath);
  /* A file that was there before the model knew it: as it is, durable. */
  FILE *pIn = fopen(zPath, "rb");
  if (pIn) {
    unsigned char *a = NULL;
    sqlite3_int64 n = 0;
    unsigned char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof(buf), pIn)) > 0) bufWrite(&a, &n, n, buf, (int)got);
    fclose(pIn);
    p->pCur = inodeNew(a, n);
    free(a);
    inodeRef(p->pCur);
    p->pDurable = p->pCur;
    inodeRef(p->pDurable);
  }
  p->pNext = disk.pNodes;
  disk.pNodes = p;
  return p;
}

void fvDirSync(void) {
  for (FvNode *p = disk.pNodes; p; p = p->pNext) {
    if (p->pDurable == p->pCur) continue;
    inodeRef(p->pCur);
    inodeUnref(p->pDurable);
    p->pDurable = p->pCur;
  }
}

void fvTrack(int bOn) { disk.bTrack = bOn; }
void fvCrashPolicy(int ePolicy, unsigned int seed) {
  disk.ePolicy = ePolicy;
  disk.seed = seed;
}
void fvCrashAtSync(long k) { disk.iCrashAt = k; }
int fvCrashed(void) { return disk.bCrashed; }
long fvSyncs(void) { return disk.nSync; }

/* Applies one unsynced change to an image, by the policy. */
static void crashApply(unsigned char **pa, sqlite3_int64 *pn, const FvOp *pOp) {
  int eWhat = 0; /* 0 lost, 1 kept, 2 torn */
  if (disk.ePolicy == FV_KEEP_SOME) eWhat = fvRand() % 2;
  if (disk.ePolicy == FV_TORN) eWhat = pOp->a && pOp->n > 1 ? fvRand() % 3 : fvRand() % 2;
  if (eWhat == 0) {
    fvStats.nDropped++;
    return;
  }
  if (pOp->a == NULL) {
    fvStats.nKept++;
    bufTruncate(pa, pn, pOp->iOff);
    return;
  }
  if (eWhat == 1) {
    fvStats.nKept++;
    bufWrite(pa, pn, pOp->iOff, pOp->a, pOp->n);
    return;
  }
  /* Torn: 512-byte pieces kept or lost; one of them, kept, cut short (a
  ** partial sector). */
  fvStats.nTorn++;
  int nPiece = (pOp->n + 511) / 512;
  int iShort = (int)(fvRand() % (unsigned)nPiece);
  for (int i = 0; i < nPiece; i++) {
    int iStart = i * 512;
    int nFull = pOp->n - iStart < 512 ? pOp->n - iStart : 512;
    int n = nFull;
    if (i == iShort) {
      n = nFull > 1 ? 1 + (int)(fvRand() % (unsigned)(nFull - 1)) : nFull;
    } else if (fvRand() % 2) {
      continue;
    }
    bufWrite(pa, pn, pOp->iOff + iStart, pOp->a + iStart, n);
  }
}

void fvCrashNow(void) {
  if (disk.bCrashed) return;
  disk.bCrashed = 1;
  disk.iCrashAt = 0;
  fvStats.nCrash++;
  for (FvNode *p = disk.pNodes; p; p = p->pNext) {
    FvInode *pIno = p->pDurable;
    if (p->pDurable != p->pCur) {
      if (disk.ePolicy != FV_DROP && fvRand() % 2) {
        pIno = p->pCur;
      } else {
        fvStats.nDirLost++;
      }
    }
    free(p->aImage);
    p->aImage = NULL;
    p->nImage = 0;
    p->bImage = pIno != NULL;
    if (pIno == NULL) continue;
    if (pIno->nDisk > 0) bufWrite(&p->aImage, &p->nImage, 0, pIno->aDisk, (int)pIno->nDisk);
    for (FvOp *pOp = pIno->pFirst; pOp; pOp = pOp->pNext) crashApply(&p->aImage, &p->nImage, pOp);
  }
}

int fvMaterialize(void) {
  int rc = SQLITE_OK;
  for (FvNode *p = disk.pNodes; p; p = p->pNext) {
    if (p->bMainDb) {
      char *z = sqlite3_mprintf("%s-shm", p->zPath);
      remove(z);
      sqlite3_free(z);
    }
    if (disk.bCrashed) {
      remove(p->zPath);
      if (p->bImage) {
        FILE *pOut = fopen(p->zPath, "wb");
        if (pOut == NULL ||
            (p->nImage > 0 && fwrite(p->aImage, 1, (size_t)p->nImage, pOut) != (size_t)p->nImage)) {
          rc = SQLITE_IOERR;
        }
        if (pOut) fclose(pOut);
      }
    }
  }
  /* Forget everything. Files still open keep their inodes until closed. */
  while (disk.pNodes) {
    FvNode *p = disk.pNodes;
    disk.pNodes = p->pNext;
    inodeUnref(p->pCur);
    inodeUnref(p->pDurable);
    free(p->aImage);
    free(p->zPath);
    free(p);
  }
  disk.bCrashed = 0;
  disk.iCrashAt = 0;
  disk.nSync = 0;
  return rc;
}

/******************************************************************************
 * The file methods
 *****************************************************************************/

typedef struct FvFile {
  sqlite3_file base;  /* Base class - must be first */
  sqlite3_file *pRealFile;
  FvInode *pInode;    /* modelled files only */
  int bDirSyncOnSync; /* a new journal or WAL: its first sync syncs the dir */
} FvFile;

#define REALF(p) (((FvFile *)(p))->pRealFile)
#define INODE(p) (((FvFile *)(p))->pInode)

static int fvClose(sqlite3_file *p) {
  int rc = REALF(p)->pMethods->xClose(REALF(p));
  inodeUnref(INODE(p));
  INODE(p) = NULL;
  return rc;
}

static int fvRead(sqlite3_file *p, void *a, int n, sqlite3_int64 iOff) {
  if (disk.bCrashed) return SQLITE_IOERR_READ;
  if (faultHit(FV_READ)) return fault.rc;
  return REALF(p)->pMethods->xRead(REALF(p), a, n, iOff);
}

static int fvWrite(sqlite3_file *p, const void *a, int n, sqlite3_int64 iOff) {
  if (disk.bCrashed) return SQLITE_IOERR_WRITE;
  if (faultHit(FV_WRITE)) return fault.rc;
  int rc = REALF(p)->pMethods->xWrite(REALF(p), a, n, iOff);
  if (rc == SQLITE_OK && INODE(p)) inodeRecord(INODE(p), iOff, a, n);
  return rc;
}

static int fvTruncate(sqlite3_file *p, sqlite3_int64 n) {
  if (disk.bCrashed) return SQLITE_IOERR_TRUNCATE;
  if (faultHit(FV_TRUNCATE)) return fault.rc;
  int rc = REALF(p)->pMethods->xTruncate(REALF(p), n);
  if (rc == SQLITE_OK && INODE(p)) inodeRecord(INODE(p), n, NULL, 0);
  return rc;
}

static int bNoSync = 0;
void fvNoSync(int bOn) { bNoSync = bOn; }

static int fvSync(sqlite3_file *p, int flags) {
  if (disk.bCrashed) return SQLITE_IOERR_FSYNC;
  if (INODE(p)) {
    disk.nSync++;
    if (disk.iCrashAt > 0 && disk.nSync == disk.iCrashAt) {
      fvCrashNow();
      return SQLITE_IOERR_FSYNC;
    }
  }
  if (faultHit(FV_SYNC)) return fault.rc;
  /* A modelled file's durability is the model's: no real fsync (which
  ** would only make the crash loops slow). */
  int rc = INODE(p) || bNoSync ? SQLITE_OK : REALF(p)->pMethods->xSync(REALF(p), flags);
  if (rc == SQLITE_OK && INODE(p)) {
    inodeSync(INODE(p));
    if (((FvFile *)p)->bDirSyncOnSync) {
      ((FvFile *)p)->bDirSyncOnSync = 0;
      fvDirSync();
    }
  }
  return rc;
}

static int fvFileSize(sqlite3_file *p, sqlite3_int64 *pn) {
  if (disk.bCrashed) return SQLITE_IOERR_FSTAT;
  if (faultHit(FV_FILESIZE)) return fault.rc;
  return REALF(p)->pMethods->xFileSize(REALF(p), pn);
}

static int fvLock(sqlite3_file *p, int e) {
  if (disk.bCrashed) return SQLITE_IOERR_LOCK;
  if (faultHit(FV_LOCK)) return fault.rc;
  return REALF(p)->pMethods->xLock(REALF(p), e);
}

static int fvUnlock(sqlite3_file *p, int e) {
  return REALF(p)->pMethods->xUnlock(REALF(p), e);
}

static int fvCheckReservedLock(sqlite3_file *p, int *pOut) {
  if (disk.bCrashed) return SQLITE_IOERR_CHECKRESERVEDLOCK;
  return REALF(p)->pMethods->xCheckReservedLock(REALF(p), pOut);
}

static int fvFileControl(sqlite3_file *p, int op, void *pArg) {
  return REALF(p)->pMethods->xFileControl(REALF(p), op, pArg);
}

static int fvSectorSize(sqlite3_file *p) {
  return REALF(p)->pMethods->xSectorSize(REALF(p));
}

static int fvDeviceCharacteristics(sqlite3_file *p) {
  return REALF(p)->pMethods->xDeviceCharacteristics(REALF(p));
}

static int fvShmMap(sqlite3_file *p, int iPg, int pgsz, int bExtend, void volatile **pp) {
  if (disk.bCrashed) return SQLITE_IOERR_SHMMAP;
  if (faultHit(FV_SHMMAP)) return fault.rc;
  return REALF(p)->pMethods->xShmMap(REALF(p), iPg, pgsz, bExtend, pp);
}

static int fvShmLock(sqlite3_file *p, int iOff, int n, int flags) {
  if (disk.bCrashed && (flags & SQLITE_SHM_LOCK)) return SQLITE_IOERR_SHMLOCK;
  return REALF(p)->pMethods->xShmLock(REALF(p), iOff, n, flags);
}

static void fvShmBarrier(sqlite3_file *p) { REALF(p)->pMethods->xShmBarrier(REALF(p)); }

static int fvShmUnmap(sqlite3_file *p, int bDelete) {
  return REALF(p)->pMethods->xShmUnmap(REALF(p), bDelete);
}

/* Version 2: WAL, but no memory-mapped I/O (xFetch), whose writes the
** model would not see. */
static const sqlite3_io_methods fvMethods = {
    2,                       /* iVersion */
    fvClose,                 /* xClose */
    fvRead,                  /* xRead */
    fvWrite,                 /* xWrite */
    fvTruncate,              /* xTruncate */
    fvSync,                  /* xSync */
    fvFileSize,              /* xFileSize */
    fvLock,                  /* xLock */
    fvUnlock,                /* xUnlock */
    fvCheckReservedLock,     /* xCheckReservedLock */
    fvFileControl,           /* xFileControl */
    fvSectorSize,            /* xSectorSize */
    fvDeviceCharacteristics, /* xDeviceCharacteristics */
    fvShmMap,                /* xShmMap */
    fvShmLock,               /* xShmLock */
    fvShmBarrier,            /* xShmBarrier */
    fvShmUnmap,              /* xShmUnmap */
    0,                       /* xFetch */
    0,                       /* xUnfetch */
};

/******************************************************************************
 * The VFS methods
 *****************************************************************************/

static int fvOpen(sqlite3_vfs *pVfs, const char *zName, sqlite3_file *pFile, int flags,
                  int *pOutFlags) {
  (void)pVfs;
  FvFile *p = (FvFile *)pFile;
  memset(p, 0, sizeof(*p));
  p->pRealFile = (sqlite3_file *)&p[1];
  if (disk.bCrashed) return SQLITE_CANTOPEN;
  if (faultHit(FV_OPEN)) return fault.rc;
  int eType = flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_WAL |
                       SQLITE_OPEN_SUPER_JOURNAL | SQLITE_OPEN_TEMP_DB |
                       SQLITE_OPEN_TEMP_JOURNAL | SQLITE_OPEN_SUBJOURNAL |
                       SQLITE_OPEN_TRANSIENT_DB);
  int bModel = disk.bTrack && zName != NULL && !(flags & SQLITE_OPEN_DELETEONCLOSE) &&
               (eType == SQLITE_OPEN_MAIN_DB || eType == SQLITE_OPEN_MAIN_JOURNAL ||
                eType == SQLITE_OPEN_WAL || eType == SQLITE_OPEN_SUPER_JOURNAL);
  FvNode *pNode = bModel ? nodeFind(zName, 1) : NULL;
  int bExisted = pNode && pNode->pCur != NULL;
  int rc = pReal->xOpen(pReal, zName, p->pRealFile, flags, pOutFlags);
  if (rc != SQLITE_OK || p->pRealFile->pMethods == NULL) {
    p->base.pMethods = NULL;
    return rc;
  }
  p->base.pMethods = &fvMethods;
  if (pNode) {
    if (eType == SQLITE_OPEN_MAIN_DB) pNode->bMainDb = 1;
    if (!bExisted) {
      /* A new file: the directory shows it; a crash keeps it only once the
      ** directory is synced. */
      pNode->pCur = inodeNew(NULL, 0);
      inodeRef(pNode->pCur);
      p->bDirSyncOnSync = eType != SQLITE_OPEN_MAIN_DB;
    }
    p->pInode = pNode->pCur;
    inodeRef(p->pInode);
  }
  return rc;
}

static int fvDelete(sqlite3_vfs *pVfs, const char *zName, int bDirSync) {
  (void)pVfs;
  if (disk.bCrashed) return SQLITE_IOERR_DELETE;
  if (faultHit(FV_DELETE)) return fault.rc;
  int rc = pReal->xDelete(pReal, zName, bDirSync);
  FvNode *pNode = disk.bTrack ? nodeFind(zName, 0) : NULL;
  if (pNode && (rc == SQLITE_OK || rc == SQLITE_IOERR_DELETE_NOENT)) {
    inodeUnref(pNode->pCur);
    pNode->pCur = NULL;
    if (bDirSync && rc == SQLITE_OK) fvDirSync();
  }
  return rc;
}

static int fvAccess(sqlite3_vfs *pVfs, const char *zName, int flags, int *pOut) {
  (void)pVfs;
  if (disk.bCrashed) return SQLITE_IOERR_ACCESS;
  if (faultHit(FV_ACCESS)) return fault.rc;
  return pReal->xAccess(pReal, zName, flags, pOut);
}

void fvRegister(void) {
  if (pReal) return;
  pReal = sqlite3_vfs_find(NULL);
  fvVfs = *pReal;
  fvVfs.zName = FV_VFS;
  fvVfs.szOsFile = (int)sizeof(FvFile) + pReal->szOsFile;
  fvVfs.pNext = NULL;
  fvVfs.xOpen = fvOpen;
  fvVfs.xDelete = fvDelete;
  fvVfs.xAccess = fvAccess;
  sqlite3_vfs_register(&fvVfs, 0);
}
