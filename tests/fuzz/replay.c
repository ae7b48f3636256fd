/*
** replay.c — a main() for the fuzz targets without libFuzzer: runs
** LLVMFuzzerTestOneInput once on each file given (a directory: on each file
** in it), so that the corpora and the regression inputs replay under any
** compiler, in the normal test suite. A finding abort()s, failing the run.
*/
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData);

/* The input being run, named when a finding abort()s. */
static const char *zCurrent = NULL;

static void onAbort(int sig) {
  (void)sig;
  if (zCurrent) {
    static const char zMsg[] = "replay: the input that failed: ";
    if (write(2, zMsg, sizeof(zMsg) - 1) < 0 || write(2, zCurrent, strlen(zCurrent)) < 0 ||
        write(2, "\n", 1) < 0) {
    }
  }
  signal(SIGABRT, SIG_DFL);
  raise(SIGABRT);
}

static int runFile(const char *zPath) {
  zCurrent = zPath;
  FILE *f = fopen(zPath, "rb");
  if (!f) {
    fprintf(stderr, "cannot open %s\n", zPath);
    return 1;
  }
  size_t nAlloc = 4096, n = 0;
  uint8_t *a = malloc(nAlloc);
  size_t got;
  while ((got = fread(a + n, 1, nAlloc - n, f)) > 0) {
    n += got;
    if (n == nAlloc) a = realloc(a, nAlloc *= 2);
  }
  fclose(f);
  /* An exact-size copy, so that a read past the input is caught by ASan as
  ** it is under libFuzzer. */
  uint8_t *aExact = malloc(n ? n : 1);
  memcpy(aExact, a, n);
  free(a);
  LLVMFuzzerTestOneInput(aExact, n);
  free(aExact);
  return 0;
}

static int cmpName(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  int nRun = 0, nErr = 0;
  signal(SIGABRT, onAbort);
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "no such file: %s\n", argv[i]);
      nErr++;
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      nErr += runFile(argv[i]);
      nRun++;
      continue;
    }
    /* In name order, so that runs are reproducible. */
    DIR *d = opendir(argv[i]);
    char **az = NULL;
    size_t nName = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.') continue;
      az = realloc(az, (nName + 1) * sizeof(*az));
      az[nName] = malloc(strlen(argv[i]) + strlen(e->d_name) + 2);
      sprintf(az[nName], "%s/%s", argv[i], e->d_name);
      nName++;
    }
    if (d) closedir(d);
    if (nName > 1) qsort(az, nName, sizeof(*az), cmpName);
    for (size_t j = 0; j < nName; j++) {
      nErr += runFile(az[j]);
      nRun++;
      free(az[j]);
    }
    free(az);
  }
  printf("%d passed, %d failed\n", nRun - nErr, nErr);
  return nErr ? 1 : 0;
}
