/* sleep_test.c -- pmls_sleep and pmls_thread_time (util.c): a sleep lasts
 * as long as asked even when signals cut nanosleep short, and a thread's
 * CPU time does not count the time it slept. */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "pmls.h"

static void on_signal(int sig) { (void)sig; }

typedef struct {
  pthread_t target;
  volatile int stop;
} interrupter;

/* Signals the sleeping thread every 10 ms until told to stop. */
static void *interrupt_main(void *arg) {
  interrupter *it = arg;
  struct timespec gap = {0, 10 * 1000 * 1000};
  while (!it->stop) {
    pthread_kill(it->target, SIGUSR1);
    nanosleep(&gap, NULL);
  }
  return NULL;
}

static void t_sleep_survives_signals(void) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: nanosleep returns EINTR */
  sigemptyset(&sa.sa_mask);
  CHECK(sigaction(SIGUSR1, &sa, &old) == 0);
  interrupter it = {pthread_self(), 0};
  pthread_t th;
  CHECK(pthread_create(&th, NULL, interrupt_main, &it) == 0);
  double t0 = pmls_now(), c0 = pmls_thread_time();
  pmls_sleep(0.2);
  double slept = pmls_now() - t0, cpu = pmls_thread_time() - c0;
  it.stop = 1;
  pthread_join(th, NULL);
  sigaction(SIGUSR1, &old, NULL);
  CHECK(slept >= 0.2);
  CHECK(cpu >= 0 && cpu < 0.1);
}

static void t_sleep_nothing_for_zero_or_less(void) {
  double t0 = pmls_now();
  pmls_sleep(0);
  pmls_sleep(-5);
  CHECK(pmls_now() - t0 < 0.05);
}

static void t_thread_time_counts_work(void) {
  double c0 = pmls_thread_time();
  volatile double x = 0;
  while (pmls_thread_time() - c0 < 0.02) x += 1;
  CHECK(pmls_thread_time() - c0 >= 0.02);
}

static const th_case cases[] = {
    {"pmls_sleep lasts as long as asked while signals interrupt it", t_sleep_survives_signals},
    {"pmls_sleep of 0 or less returns at once", t_sleep_nothing_for_zero_or_less},
    {"pmls_thread_time counts the thread's work", t_thread_time_counts_work},
};

TH_MAIN(cases)
