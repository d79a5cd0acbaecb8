/* fuzz_join.c -- the rendezvous (job/job.c) on any sequence of messages:
 * rank 0 reading what comes to the master address while it waits for the
 * other ranks' JOIN (pmi_job_take_join), or a rank > 0 reading what comes
 * to its control socket while it waits for the DIR (pmi_job_take_dir).
 * These are the only messages of a job that travel with job id 0 and come
 * before the peers are known, so anyone who can reach the address can
 * send them.
 *
 * The job is made by hand, as in fuzz_job.c: a one-process engine of five
 * directory entries (three shards, two scheduler nodes) given a job of
 * three ranks, on ipc or tcp, with no sockets. The input's first byte
 * chooses the side (bit 0: rank 1, reading DIRs; else rank 0, reading
 * JOINs) and the transport (bit 1: tcp). Each message goes through the
 * same function the rendezvous loop calls, and the loop's ending is kept:
 * rank 0 stops when every rank joined or a JOIN was refused, rank 1 when a
 * DIR was taken or said the job failed. After each message the harness
 * checks what must hold whatever came: every rank counted once and only
 * once, rank 0's own entries untouched, every address and host name kept
 * whole (terminated, of the job's transport, a valid name). Then the
 * engine gets its own directory back. */
#include "fuzz.h"
#include "../src/job/job_state.h"

#define P 3

static pmls_engine *eng;
static pmi_job job;
static unsigned char joined[P];
static char ctl[P][PMI_ADDR_MAX];
static char hosts[P][PMI_HOST_MAX];
static char (*own_dir)[PMI_ADDR_MAX], (*start_dir)[PMI_ADDR_MAX];
static int naddr;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  eng = fuzz_engine("fuzz_join", 1, 3, 2);
  naddr = pmi_addr_count(eng);
  own_dir = malloc((size_t)naddr * sizeof *own_dir);
  start_dir = malloc((size_t)naddr * sizeof *start_dir);
  if (!own_dir || !start_dir) abort();
  memcpy(own_dir, eng->server_addr, (size_t)naddr * sizeof *own_dir);
  pthread_mutex_init(&job.mu, NULL);
  pthread_cond_init(&job.cv, NULL);
  job.master_sock = job.ctl_pull = -1;
  return 0;
}

static int terminated(const char *s, size_t cap) {
  return memchr(s, 0, cap) != NULL;
}

/* A directory entry as rank 0 may keep it: whole, of the transport. */
static void check_addr(const char *a, const char *scheme, const char *what) {
  if (!terminated(a, PMI_ADDR_MAX) || strncmp(a, scheme, 6) != 0) {
    fprintf(stderr, "fuzz_join: %s kept as '%.40s'\n", what, a);
    abort();
  }
}

static void check_rank0(const pmi_rendezvous *rv, const char *scheme, int rc) {
  int n = 0;
  for (int r = 0; r < P; r++) n += rv->joined[r];
  /* Until a refusal, every rank marked is a rank counted; a refusal marks
   * the refused rank (it hears why) without counting it. */
  if (rv->njoined < 1 || rv->njoined > P || !rv->joined[0] ||
      (rc == PMLS_OK ? n != rv->njoined : n < rv->njoined)) {
    fprintf(stderr, "fuzz_join: %d ranks joined, %d counted (rc %d)\n", n,
            rv->njoined, rc);
    abort();
  }
  for (int s = 0; s < naddr; s++) {
    if (pmi_addr_owner(eng, s) == 0) {
      if (strcmp(eng->server_addr[s], start_dir[s]) != 0) {
        fprintf(stderr, "fuzz_join: rank 0's entry %d was changed\n", s);
        abort();
      }
    } else if (strcmp(eng->server_addr[s], start_dir[s]) != 0) {
      check_addr(eng->server_addr[s], scheme, "an entry");
      if (!rv->joined[pmi_addr_owner(eng, s)]) {
        fprintf(stderr, "fuzz_join: entry %d set by a rank that did not "
                "join\n", s);
        abort();
      }
    }
  }
  for (int r = 1; r < P; r++) {
    if (rv->joined[r]) check_addr(rv->ctl[r], scheme, "a control address");
    if (hosts[r][0] && !pmi_host_ok(hosts[r])) {
      fprintf(stderr, "fuzz_join: host name of rank %d kept as '%.40s'\n", r,
              hosts[r]);
      abort();
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int tcp = (data[0] >> 1) & 1;
  const char *scheme = tcp ? "tcp://" : "ipc://";
  /* What the engine had, made the job's for this input. */
  int procs = eng->procs, rank = eng->rank, transport = eng->transport;
  uint32_t jobid = eng->job;
  eng->jobst = &job;
  eng->procs = P;
  eng->rank = data[0] & 1;
  eng->transport = tcp ? PMI_TCP : PMI_IPC;
  snprintf(job.master, sizeof job.master, "%s", tcp ? "tcp://127.0.0.1:7000"
                                                    : "ipc:///tmp/pmls-fuzz/m");
  for (int s = 0; s < naddr; s++)
    snprintf(eng->server_addr[s], PMI_ADDR_MAX, "%s%s/e%d", scheme,
             tcp ? "127.0.0.1:7100" : "/tmp/pmls-fuzz", s);
  memcpy(start_dir, eng->server_addr, (size_t)naddr * sizeof *start_dir);
  memset(hosts, 0, sizeof hosts);
  eng->hosts = hosts;
  fuzz_in in = {data + 1, size - 1, 0};
  pmi_buf b = {0};
  char why[PMI_ERRLEN];
  if (eng->rank == 0) {
    pmi_rendezvous rv = {0, joined, ctl};
    pmi_rendezvous_init(eng, &rv);
    int rc = PMLS_OK;
    while (rv.njoined < P && rc == PMLS_OK && fuzz_next(&in, 0, &b)) {
      rc = pmi_job_take_join(eng, &rv, b.data, b.len, why);
      check_rank0(&rv, scheme, rc);
      if (rc != PMLS_OK && !terminated(why, sizeof why)) abort();
    }
  } else {
    int rc = PMLS_SKIP;
    while (rc == PMLS_SKIP && fuzz_next(&in, 0, &b)) {
      rc = pmi_job_take_dir(eng, b.data, b.len, why);
      if (rc == PMLS_OK) {
        for (int s = 0; s < naddr; s++)
          check_addr(eng->server_addr[s], scheme, "a DIR entry");
      } else if (rc == PMLS_SKIP) {
        if (memcmp(eng->server_addr, start_dir,
                   (size_t)naddr * sizeof *start_dir) != 0 ||
            eng->job != jobid) {
          fprintf(stderr, "fuzz_join: a dropped DIR changed the directory\n");
          abort();
        }
      } else if (!terminated(why, sizeof why) || rc < 0 || rc > PMLS_EVALUE) {
        abort();
      } else {
        for (const char *c = why; *c; c++)
          if ((unsigned char)*c < 0x20) {
            fprintf(stderr, "fuzz_join: a control byte in '%s'\n", why);
            abort();
          }
      }
    }
  }
  pmi_buf_free(&b);
  pmi_buf_free(&job.out);
  memcpy(eng->server_addr, own_dir, (size_t)naddr * sizeof *own_dir);
  eng->hosts = NULL;
  eng->procs = procs;
  eng->rank = rank;
  eng->transport = transport;
  eng->job = jobid;
  eng->jobst = NULL;
  return 0;
}
