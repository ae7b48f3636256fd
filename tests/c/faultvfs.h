/*
** faultvfs.h — a VFS shim for raftlite's fault tests: I/O errors on
** demand, and power loss.
**
** fvRegister() registers the VFS "faultvfs", a wrapper of the default (unix)
** VFS; a test opens its store with it (sqlite3_open_v2(..., FV_VFS)) and
** reopens what is left with the plain VFS. One process, one thread.
**
** I/O errors (after SQLite's test_vfs.c "tvfs" ioerr technique): fvArm(cls,
** n, bPersist, rc) makes the nth call of one class of method (counted over
** every file of the VFS from the moment of arming) return rc instead of
** doing its work, and with bPersist every call of the class after it too.
** fvDisarm() stops it and says how many calls failed.
**
** Power loss (after SQLite's test6.c crash simulation, written anew): with
** fvTrack(1), every main database, rollback journal and WAL file opened
** through the VFS gets a model of what the disk holds, as opposed to what
** the page cache of the operating system shows:
**   - each file (inode) has the bytes its last successful xSync made
**     durable, and the list of writes and truncations made since;
**   - each path has the inode the directory shows now and the one a crash
**     would leave: a created file, a deleted file, becomes durable only
**     when the directory is synced. The unix VFS syncs the directory on
**     the first xSync of a journal or WAL it created, and on xDelete with
**     dirSync set (synchronous=EXTRA); fvDirSync() does it by hand (the
**     test's setup).
** Modelled files are never really synced: the model is their durability.
** fvCrashAtSync(k) arms a crash just before the xSync that makes fvSyncs()
** (the xSyncs of modelled files since the last fvMaterialize) reach k;
** fvCrashNow() crashes at once. A crash captures the image a power
** cut would leave, by the policy of fvCrashPolicy():
**   FV_DROP      every unsynced write, truncation and directory change lost;
**   FV_KEEP_SOME each of them kept or lost at random (in order);
**   FV_TORN      as FV_KEEP_SOME, and a write may also be torn: some of its
**                512-byte pieces kept, one of them kept cut short (a
**                partial sector), the rest lost (never beyond the bytes
**                written:
**                SQLITE_IOCAP_POWERSAFE_OVERWRITE, which the unix VFS
**                reports).
** From the crash on, every read, write, sync, truncation, lock and delete
** through the VFS fails with an I/O error, so that the program can only
** close its connections. fvMaterialize() then writes the captured image
** over the real files (removing the -shm files, which SQLite rebuilds) and
** forgets the model; the test reopens the database with the plain VFS.
*/
#ifndef RAFTLITE_FAULTVFS_H
#define RAFTLITE_FAULTVFS_H

#include <sqlite3.h>

#define FV_VFS "faultvfs"

/* Classes of methods a fault can hit. */
enum {
  FV_READ,     /* xRead */
  FV_WRITE,    /* xWrite */
  FV_SYNC,     /* xSync */
  FV_TRUNCATE, /* xTruncate */
  FV_LOCK,     /* xLock (not xUnlock: SQLite ignores its errors) */
  FV_FILESIZE, /* xFileSize */
  FV_OPEN,     /* the VFS's xOpen */
  FV_DELETE,   /* the VFS's xDelete */
  FV_ACCESS,   /* the VFS's xAccess */
  FV_SHMMAP,   /* xShmMap (WAL) */
  FV_NCLASS
};

/* The name of a class ("write"). */
const char *fvClassName(int eClass);

/* Registers the VFS (once; not as the default). */
void fvRegister(void);

/* I/O errors. */
void fvArm(int eClass, long n, int bPersist, int rc);
long fvDisarm(void);              /* calls failed since fvArm() */
long fvCalls(int eClass);         /* calls of the class since fvArm() */
/* No real fsync at all (for tests that never cut the power: speed). */
void fvNoSync(int bOn);

/* Power loss. */
enum { FV_DROP, FV_KEEP_SOME, FV_TORN };
void fvTrack(int bOn);            /* model the files opened from now on */
void fvDirSync(void);             /* make the directory durable as it is */
void fvCrashPolicy(int ePolicy, unsigned int seed);
void fvCrashAtSync(long k);       /* 0: no crash armed */
void fvCrashNow(void);
int fvCrashed(void);
long fvSyncs(void);               /* xSyncs of modelled files since fvTrack(1) */
int fvMaterialize(void);          /* SQLITE_OK, or an error writing files */

/* What the crashes dropped and tore, since the start of the program. */
typedef struct FvStats {
  long nFault;    /* calls failed by fvArm() */
  long nCrash;    /* crashes */
  long nDropped;  /* unsynced writes/truncations lost */
  long nKept;     /* ... kept */
  long nTorn;     /* ... torn */
  long nDirLost;  /* directory changes (creation, deletion) lost */
} FvStats;
extern FvStats fvStats;

#endif /* RAFTLITE_FAULTVFS_H */
