/*
** harness.h — a small test runner for raftlite's C tests, in the style of
** canonical/raft's munit-based runner: TEST(suite, name) { ... } defines a
** case; the runner runs them all (or those whose "suite/name" contains
** argv[1]) and exits non-zero if any failed.
**
**   TEST(append, gapIsRefused) {
**     ...
**     ASSERT_INT(rc, SQLITE_CONSTRAINT);
**   }
**
** Each case runs in a fresh fixture (setUp/tearDown of the test file,
** passed to RUN_TESTS). A failed assertion prints file:line and ends the
** case.
*/
#ifndef RAFTLITE_TEST_HARNESS_H
#define RAFTLITE_TEST_HARNESS_H

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct TestCase {
  const char *zSuite;
  const char *zName;
  void (*xRun)(void *pFixture);
} TestCase;

#define MAX_TESTS 512
static TestCase aTest[MAX_TESTS];
static int nTest = 0;
static jmp_buf testJump;
static int testFailed;

#define TEST(suite, name)                                                 \
  static void test_##suite##_##name(void *f __attribute__((unused)));     \
  __attribute__((constructor)) static void register_##suite##_##name(void) { \
    if (nTest < MAX_TESTS) {                                              \
      aTest[nTest].zSuite = #suite;                                       \
      aTest[nTest].zName = #name;                                         \
      aTest[nTest].xRun = test_##suite##_##name;                          \
      nTest++;                                                            \
    }                                                                     \
  }                                                                       \
  static void test_##suite##_##name(void *f __attribute__((unused)))

#define FAIL(...)                                                         \
  do {                                                                    \
    fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                     \
    fprintf(stderr, __VA_ARGS__);                                         \
    fprintf(stderr, "\n");                                                \
    testFailed = 1;                                                       \
    longjmp(testJump, 1);                                                 \
  } while (0)

#define ASSERT(cond)                                                      \
  do {                                                                    \
    if (!(cond)) FAIL("assertion failed: %s", #cond);                     \
  } while (0)

#define ASSERT_INT(got, want)                                             \
  do {                                                                    \
    long long got_ = (long long)(got), want_ = (long long)(want);         \
    if (got_ != want_) FAIL("%s is %lld, expected %lld", #got, got_, want_); \
  } while (0)

#define ASSERT_STR(got, want)                                             \
  do {                                                                    \
    const char *got_ = (got), *want_ = (want);                            \
    if (got_ == NULL || strcmp(got_, want_) != 0)                         \
      FAIL("%s is \"%s\", expected \"%s\"", #got, got_ ? got_ : "(null)", want_); \
  } while (0)

/* Runs one case; a failed assertion longjmp()s back here. */
static inline void runOne(const TestCase *pCase, void *pFixture) {
  if (setjmp(testJump) == 0) pCase->xRun(pFixture);
}

/* Runs every case (or those matching argv[1]) with setUp/tearDown. */
static inline int runTests(int argc, char **argv, void *(*xSetUp)(void),
                    void (*xTearDown)(void *)) {
  int nFail = 0, nRun = 0;
  for (int i = 0; i < nTest; i++) {
    char zFull[256];
    snprintf(zFull, sizeof(zFull), "%s/%s", aTest[i].zSuite, aTest[i].zName);
    if (argc > 1 && strstr(zFull, argv[1]) == NULL) continue;
    nRun++;
    testFailed = 0;
    void *pFixture = xSetUp ? xSetUp() : NULL;
    runOne(&aTest[i], pFixture);
    if (xTearDown) xTearDown(pFixture);
    printf("%s... %s\n", zFull, testFailed ? "FAILED" : "Ok");
    nFail += testFailed;
  }
  printf("%d errors out of %d tests\n", nFail, nRun);
  return nFail ? 1 : 0;
}

#define RUN_TESTS(setUp, tearDown)                                        \
  int main(int argc, char **argv) { return runTests(argc, argv, setUp, tearDown); }

#endif /* RAFTLITE_TEST_HARNESS_H */
