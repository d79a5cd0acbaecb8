/* mf_time.c -- whole-job wall time and peak RSS of one command.
 *
 * bench/mf.sh times every job of the mf benchmarks (the serial loop's and
 * pmls run's) from spawn to exit with this, and takes the peak resident set
 * from wait4's rusage: /usr/bin/time -v is not installed everywhere, and a
 * shell cannot read a child's rusage. On Linux the rusage wait4 returns for
 * a child covers the child and every descendant it waited for, and its
 * ru_maxrss is the largest of theirs (so for `pmls run -p 2` it is the
 * biggest process's peak, not their sum).
 *
 * Usage: mf_time [-o LOG] [-t SECONDS] -- COMMAND [ARGS...]. The command's
 * stdout and stderr go to LOG (default: inherited). It runs in a process
 * group of its own, killed whole after SECONDS (default 900). Prints one
 * line "wall_s=... peak_rss_mb=... exit=..." (exit is the command's status,
 * or 128 + the signal that ended it) and exits 0 when the command did. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static volatile sig_atomic_t child_group;

static void on_alarm(int sig) {
  (void)sig;
  if (child_group > 0) kill(-child_group, SIGKILL);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  const char *log = NULL;
  unsigned timeout = 900;
  int opt;
  while ((opt = getopt(argc, argv, "+o:t:")) != -1) {
    if (opt == 'o') log = optarg;
    else if (opt == 't') timeout = (unsigned)strtoul(optarg, NULL, 10);
    else break;
  }
  if (optind >= argc) {
    fprintf(stderr, "usage: %s [-o LOG] [-t SECONDS] -- COMMAND [ARGS...]\n", argv[0]);
    return 2;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (log) {
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
  }
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&at, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);

  double t0 = now();
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[optind], &fa, &at, argv + optind, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  if (rc != 0) {
    fprintf(stderr, "mf_time: cannot run %s: %s\n", argv[optind], strerror(rc));
    return 1;
  }
  child_group = pid;
  alarm(timeout);
  int status;
  struct rusage ru;
  while (wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) {
      perror("mf_time: wait4");
      return 1;
    }
  }
  double wall = now() - t0;
  alarm(0);
  /* What the job left behind in its group (a -p 2 launcher's stray child). */
  kill(-pid, SIGKILL);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  printf("wall_s=%.3f peak_rss_mb=%.1f exit=%d\n", wall, (double)ru.ru_maxrss / 1024.0, code);
  return code == 0 ? 0 : 1;
}
