/* join_test.c -- what rank 0 does with the messages that come to the master
 * address during the rendezvous, and a rank with what comes while it waits
 * for the DIR (pmi_job_take_join, pmi_job_take_dir in job.c). Before they
 * were read whole, a JOIN said twice was counted twice (a job of three
 * could start without its last rank), a rank's JOIN could overwrite rank
 * 0's own directory entries before it was refused, a malformed JOIN ended
 * the rendezvous, and a host name was not carried at all. The job is made
 * by hand, as in engine/fuzz/fuzz_join.c: a one-process engine of five
 * directory entries given a job of three ranks on ipc, without sockets. */
#include "harness.h"
#include "pmls.h"
#include "job_state.h"

enum { P = 3, NADDR = 5 };

static pmls_engine *e;
static pmi_job job;
static unsigned char joined[P];
static char ctl[P][PMI_ADDR_MAX];
static char hosts[P][PMI_HOST_MAX];
static pmi_rendezvous rv;
static char (*own)[PMI_ADDR_MAX];
static pmi_buf b;

static void setup(void) {
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = 1;
  cfg.servers = 3;
  cfg.schedulers = 2;
  cfg.quiet = 2;
  char err[512];
  if (pmls_engine_create(&e, &cfg, err, sizeof err) != PMLS_OK) {
    fprintf(stderr, "join_test: %s\n", err);
    exit(1);
  }
  own = malloc(sizeof(char[NADDR][PMI_ADDR_MAX]));
  memcpy(own, e->server_addr, sizeof(char[NADDR][PMI_ADDR_MAX]));
  memset(&job, 0, sizeof job);
  job.master_sock = job.ctl_pull = -1;
  snprintf(job.master, sizeof job.master, "ipc:///tmp/pmls-t/m");
  e->jobst = &job;
  e->procs = P;
  e->transport = PMI_IPC;
  for (int s = 0; s < NADDR; s++)
    snprintf(e->server_addr[s], PMI_ADDR_MAX, "ipc:///tmp/pmls-t/e%d", s);
  memset(hosts, 0, sizeof hosts);
  e->hosts = hosts;
  rv = (pmi_rendezvous){0, joined, ctl};
  pmi_rendezvous_init(e, &rv);
}

static void teardown(void) {
  memcpy(e->server_addr, own, sizeof(char[NADDR][PMI_ADDR_MAX]));
  free(own);
  e->hosts = NULL;
  e->procs = 1;
  e->rank = 0;
  e->transport = PMI_INPROC;
  e->jobst = NULL;
  pmi_buf_free(&job.out);
  pmls_engine_destroy(e);
  pmi_buf_free(&b);
}

/* The payload's length into the header, as a send does. */
static void finish(void) {
  pmi_hdr h;
  memcpy(&h, b.data, sizeof h);
  h.len = (uint32_t)(b.len - sizeof h);
  memcpy(b.data, &h, sizeof h);
}

static int64_t dropped(void) { return atomic_load(&e->dropped); }

/* A JOIN of rank r (1 worker, 3 shards, 2 nodes); `entry` is the first
 * entry it names (its own: r), `host` its host name. */
static void join(int r, int procs, int entry, const char *host) {
  char a[PMI_ADDR_MAX];
  pmi_msg_begin(&b, 0, PMI_MSG_JOIN, r);
  pmi_put_i32(&b, r);
  pmi_put_i32(&b, procs);
  pmi_put_i32(&b, 1);
  pmi_put_i32(&b, 3);
  pmi_put_i32(&b, 2);
  snprintf(a, sizeof a, "ipc:///tmp/pmls-t/r%d", r);
  pmi_put_str(&b, a);
  pmi_put_i32(&b, r == 1 ? 2 : 1);
  int entries[2] = {entry, 4};
  for (int i = 0; i < (r == 1 ? 2 : 1); i++) {
    pmi_put_i32(&b, entries[i]);
    snprintf(a, sizeof a, "ipc:///tmp/pmls-t/r%d-e%d", r, entries[i]);
    pmi_put_str(&b, a);
  }
  pmi_put_str(&b, host);
  finish();
}

static int take(void) {
  char why[PMI_ERRLEN];
  return pmi_job_take_join(e, &rv, b.data, b.len, why);
}

static void t_twice(void) {
  setup();
  join(1, P, 1, "node-a");
  CHECK_EQ_INT(take(), PMLS_OK);
  CHECK_EQ_INT(take(), PMLS_OK); /* said again, the same address */
  CHECK_EQ_INT(rv.njoined, 2);   /* was 3: the rendezvous ended here */
  join(2, P, 2, "node-b");
  CHECK_EQ_INT(take(), PMLS_OK);
  CHECK_EQ_INT(rv.njoined, 3);
  CHECK(strcmp(e->server_addr[1], "ipc:///tmp/pmls-t/r1-e1") == 0);
  CHECK(strcmp(e->server_addr[4], "ipc:///tmp/pmls-t/r1-e4") == 0);
  CHECK(strcmp(e->hosts[1], "node-a") == 0);
  CHECK(strcmp(e->hosts[2], "node-b") == 0);
  teardown();
}

static void t_not_its_entry(void) {
  setup();
  int64_t d0 = dropped();
  join(1, P, 0, "node-a"); /* entry 0 is rank 0's shard */
  CHECK_EQ_INT(take(), PMLS_OK);
  CHECK_EQ_INT(dropped() - d0, 1);
  CHECK(strcmp(e->server_addr[0], "ipc:///tmp/pmls-t/e0") == 0);
  CHECK(strcmp(e->server_addr[4], "ipc:///tmp/pmls-t/e4") == 0);
  CHECK_EQ_INT(rv.njoined, 1);
  /* Refused for its options, nothing of it is kept either. */
  join(2, P + 1, 2, "node-b");
  CHECK_EQ_INT(take(), PMLS_EINVAL);
  CHECK(strcmp(e->server_addr[2], "ipc:///tmp/pmls-t/e2") == 0);
  CHECK_EQ_INT(rv.njoined, 1);
  CHECK(rv.joined[2]); /* it hears why */
  teardown();
}

static void t_host_names(void) {
  setup();
  int64_t d0 = dropped();
  char longest[PMI_HOST_MAX], over[PMI_HOST_MAX + 1];
  memset(longest, 'h', sizeof longest - 1);
  longest[sizeof longest - 1] = 0;
  memset(over, 'h', sizeof over - 1);
  over[sizeof over - 1] = 0;
  const char *bad[] = {"", "two words", "quote\"", "new\nline", over};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    join(1, P, 1, bad[i]);
    CHECK_EQ_INT(take(), PMLS_OK);
    CHECK_EQ_INT(dropped() - d0, (int64_t)i + 1);
    CHECK_EQ_INT(rv.njoined, 1);
  }
  join(1, P, 1, longest);
  CHECK_EQ_INT(take(), PMLS_OK);
  CHECK_EQ_INT(rv.njoined, 2);
  CHECK(strcmp(e->hosts[1], longest) == 0);
  CHECK(pmi_host_ok("a.b-c_d9") && !pmi_host_ok(over) && !pmi_host_ok(""));
  char mine[PMI_HOST_MAX];
  pmi_local_host(mine);
  CHECK(pmi_host_ok(mine));
  teardown();
}

static void t_garbage(void) {
  setup();
  int64_t d0 = dropped();
  char why[PMI_ERRLEN];
  CHECK_EQ_INT(pmi_job_take_join(e, &rv, "garbage", 7, why), PMLS_OK);
  pmi_msg_begin(&b, 0, PMI_MSG_JOIN, 1);
  pmi_put_i32(&b, 1); /* and nothing else: malformed */
  finish();
  CHECK_EQ_INT(take(), PMLS_OK); /* was the end of the rendezvous */
  pmi_msg_begin(&b, 0, PMI_MSG_BEAT, 1);
  finish();
  CHECK_EQ_INT(take(), PMLS_OK);
  CHECK_EQ_INT(dropped() - d0, 3);
  CHECK_EQ_INT(rv.njoined, 1);
  teardown();
}

static void dir(int status, const char *text, const char *scheme, int n) {
  pmi_msg_begin(&b, 0, PMI_MSG_DIR, 0);
  pmi_put_i32(&b, status);
  pmi_put_str(&b, text);
  pmi_put_u32(&b, 0xabcd1234u);
  pmi_put_i32(&b, n);
  for (int s = 0; s < n; s++) {
    char a[PMI_ADDR_MAX];
    snprintf(a, sizeof a, "%s/tmp/pmls-t/d%d", scheme, s);
    pmi_put_str(&b, a);
  }
  finish();
}

static void t_dir(void) {
  setup();
  e->rank = 1;
  uint32_t id = e->job;
  int64_t d0 = dropped();
  char why[PMI_ERRLEN];
  dir(0, "", "tcp://", NADDR); /* another transport */
  CHECK_EQ_INT(pmi_job_take_dir(e, b.data, b.len, why), PMLS_SKIP);
  dir(0, "", "ipc://", NADDR - 1); /* short */
  CHECK_EQ_INT(pmi_job_take_dir(e, b.data, b.len, why), PMLS_SKIP);
  dir(99, "no such code", "ipc://", NADDR);
  CHECK_EQ_INT(pmi_job_take_dir(e, b.data, b.len, why), PMLS_SKIP);
  CHECK_EQ_INT(dropped() - d0, 3);
  CHECK(e->job == id);
  CHECK(strcmp(e->server_addr[0], "ipc:///tmp/pmls-t/e0") == 0);
  dir(PMLS_EINVAL, "rank 0: bad\noptions\x1b[2J", "ipc://", 2);
  CHECK_EQ_INT(pmi_job_take_dir(e, b.data, b.len, why), PMLS_EINVAL);
  CHECK_STR_CONTAINS(why, "the job failed to start: rank 0: bad options [2J");
  dir(0, "", "ipc://", NADDR);
  CHECK_EQ_INT(pmi_job_take_dir(e, b.data, b.len, why), PMLS_OK);
  CHECK(e->job == 0xabcd1234u);
  CHECK(strcmp(e->server_addr[4], "ipc:///tmp/pmls-t/d4") == 0);
  e->job = id;
  teardown();
}

static const th_case cases[] = {
    {"a JOIN said twice counts once", t_twice},
    {"a JOIN naming another rank's entry is dropped; a refused one keeps nothing", t_not_its_entry},
    {"host names: a bad or cut one drops the JOIN, a good one is kept", t_host_names},
    {"garbage, a malformed JOIN and other messages are dropped, the rendezvous goes on", t_garbage},
    {"a DIR is taken whole or dropped; a refusal is one printable line", t_dir},
};
TH_MAIN(cases)
