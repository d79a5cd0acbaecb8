/* harness.h -- a tiny header-only, table-driven test harness for the C tests
 * of the engine (engine/src/<module>/<name>_test.c).
 *
 * Why: the tests must build with nothing but the compiler and libpmls, run
 * the same way under the plain and the sanitizer builds, and speak the
 * TAP-like lines tools/run-tests.sh counts. A test binary lists its cases
 * in an array and hands it to TH_MAIN:
 *
 *   static void t_add(void) { CHECK_EQ_INT(1 + 1, 2); }
 *   static const th_case cases[] = {{"add", t_add}};
 *   TH_MAIN(cases)
 *
 * Each case prints `ok - <name>` or `not ok - <name>: <file>:<line>: <what
 * failed, with the values>`; the last line is `N passed, N failed` and the
 * exit status is 0 only when nothing failed. A CHECK that fails records the
 * first failure and returns from the function it is in, so use CHECKs in
 * void functions only (a case, or a void helper followed by
 * `if (th_failed()) return;`). CHECKs belong to the thread running the case:
 * worker threads record what they saw and the case checks it after joining.
 * A case that runs longer than TH_CASE_TIMEOUT_S seconds is reported as
 * failed and the binary exits (a hang must not stall the whole run).
 * An optional argument runs only the cases whose name contains it. */
#ifndef PMLS_TEST_HARNESS_H
#define PMLS_TEST_HARNESS_H

#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef TH_CASE_TIMEOUT_S
#define TH_CASE_TIMEOUT_S 60
#endif

typedef struct {
  const char *name;
  void (*fn)(void);
} th_case;

static struct {
  int failed;          /* the running case has failed */
  char why[2048];      /* its first failure */
  const char *current; /* the running case's name, for the timeout */
} th_state __attribute__((unused));

static inline int th_failed(void) { return th_state.failed; }

__attribute__((format(printf, 3, 4))) static inline void
th_fail(const char *file, int line, const char *fmt, ...) {
  if (th_state.failed) return; /* keep the first failure */
  th_state.failed = 1;
  int off = snprintf(th_state.why, sizeof th_state.why, "%s:%d: ", file, line);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(th_state.why + off, sizeof th_state.why - (size_t)off, fmt, ap);
  va_end(ap);
}

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      th_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                         \
      return;                                                                  \
    }                                                                          \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                     \
  do {                                                                         \
    long long th_a_ = (long long)(a), th_b_ = (long long)(b);                  \
    if (th_a_ != th_b_) {                                                      \
      th_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, th_a_,     \
              th_b_);                                                          \
      return;                                                                  \
    }                                                                          \
  } while (0)

/* Exact equality of doubles (NaN never equals). */
#define CHECK_EQ_DBL(a, b)                                                     \
  do {                                                                         \
    double th_a_ = (double)(a), th_b_ = (double)(b);                           \
    if (!(th_a_ == th_b_)) {                                                   \
      th_fail(__FILE__, __LINE__, "%s == %s: %.17g != %.17g", #a, #b, th_a_,   \
              th_b_);                                                          \
      return;                                                                  \
    }                                                                          \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                  \
  do {                                                                         \
    double th_a_ = (double)(a), th_b_ = (double)(b), th_t_ = (double)(tol);    \
    if (!(fabs(th_a_ - th_b_) <= th_t_)) {                                     \
      th_fail(__FILE__, __LINE__, "%s ~= %s: %.17g vs %.17g (tolerance %g)",   \
              #a, #b, th_a_, th_b_, th_t_);                                    \
      return;                                                                  \
    }                                                                          \
  } while (0)

#define CHECK_STR_CONTAINS(haystack, needle)                                   \
  do {                                                                         \
    const char *th_h_ = (haystack), *th_n_ = (needle);                         \
    if (!th_h_ || !strstr(th_h_, th_n_)) {                                     \
      th_fail(__FILE__, __LINE__, "%s contains \"%s\": got \"%s\"",            \
              #haystack, th_n_, th_h_ ? th_h_ : "(null)");                     \
      return;                                                                  \
    }                                                                          \
  } while (0)

static inline void th_on_alarm(int sig) {
  (void)sig;
  const char *a = "not ok - ", *b = th_state.current ? th_state.current : "?",
             *c = ": timed out (TH_CASE_TIMEOUT_S)\n";
  if (write(1, a, strlen(a)) < 0 || write(1, b, strlen(b)) < 0 ||
      write(1, c, strlen(c)) < 0) {
  }
  _exit(1);
}

static inline int th_run(const th_case *cases, size_t n, int argc,
                         char **argv) {
  const char *only = argc > 1 ? argv[1] : NULL;
  int passed = 0, failed = 0;
  setvbuf(stdout, NULL, _IOLBF, 0); /* lines survive a crash */
  signal(SIGALRM, th_on_alarm);
  for (size_t i = 0; i < n; i++) {
    if (only && !strstr(cases[i].name, only)) continue;
    th_state.failed = 0;
    th_state.why[0] = 0;
    th_state.current = cases[i].name;
    alarm(TH_CASE_TIMEOUT_S);
    cases[i].fn();
    alarm(0);
    if (th_state.failed) {
      printf("not ok - %s: %s\n", cases[i].name, th_state.why);
      failed++;
    } else {
      printf("ok - %s\n", cases[i].name);
      passed++;
    }
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

#define TH_MAIN(cases)                                                         \
  int main(int argc, char **argv) {                                            \
    return th_run(cases, sizeof(cases) / sizeof((cases)[0]), argc, argv);      \
  }

#endif
