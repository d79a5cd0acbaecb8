/* addr_test.c -- the tcp port a launcher picks for a job (addr.c) stays
 * reserved until the job binds it: the kernel gives it to no other bind of
 * port 0, to no plain bind and to no outgoing connection, while nanomsg's
 * listener (SO_REUSEADDR) binds it at once and a message crosses it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>

#include "harness.h"
#include "net.h"

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static int local_port(int fd) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  return getsockname(fd, (struct sockaddr *)&a, &len) == 0 ? ntohs(a.sin_port)
                                                           : -1;
}

static void t_reserved_for_nanomsg(void) {
  int port = pmi_free_tcp_port("127.0.0.1");
  CHECK(port > 0);

  /* A plain bind (no SO_REUSEADDR) is refused: the port is held. */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = loopback(port);
  CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) != 0);
  close(fd);

  /* Neither bind(0) nor connect() hands it out: a thousand of each. */
  int clash = 0;
  struct sockaddr_in any = loopback(0);
  for (int i = 0; i < 1000; i++) {
    int b = socket(AF_INET, SOCK_STREAM, 0);
    if (bind(b, (struct sockaddr *)&any, sizeof any) == 0 &&
        local_port(b) == port)
      clash++;
    close(b);
  }
  CHECK_EQ_INT(clash, 0);
  int lis = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(bind(lis, (struct sockaddr *)&any, sizeof any) == 0 &&
        listen(lis, 64) == 0);
  struct sockaddr_in to = loopback(local_port(lis));
  for (int i = 0; i < 1000; i++) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&to, sizeof to) == 0) {
      if (local_port(c) == port) clash++;
      int s = accept(lis, NULL, NULL);
      if (s >= 0) close(s);
    }
    close(c);
  }
  close(lis);
  CHECK_EQ_INT(clash, 0);

  /* nanomsg's listener binds it, and a message crosses. */
  char addr[64];
  snprintf(addr, sizeof addr, "tcp://127.0.0.1:%d", port);
  int pull = nn_socket(AF_SP, NN_PULL);
  CHECK(nn_bind(pull, addr) >= 0);
  int push = nn_socket(AF_SP, NN_PUSH);
  CHECK(nn_connect(push, addr) >= 0);
  int ms = 5000;
  nn_setsockopt(pull, NN_SOL_SOCKET, NN_RCVTIMEO, &ms, sizeof ms);
  CHECK_EQ_INT(nn_send(push, "hello", 5, 0), 5);
  char buf[8];
  CHECK_EQ_INT(nn_recv(pull, buf, sizeof buf, 0), 5);
  CHECK(memcmp(buf, "hello", 5) == 0);
  nn_close(push);
  nn_close(pull);
}

static void t_ports_differ(void) {
  int seen[64];
  for (int i = 0; i < 64; i++) {
    seen[i] = pmi_free_tcp_port("127.0.0.1");
    CHECK(seen[i] > 0);
    for (int j = 0; j < i; j++) CHECK(seen[j] != seen[i]);
  }
}

static const th_case cases[] = {
    {"a picked port is held from bind(0), plain binds and connects; nanomsg binds it", t_reserved_for_nanomsg},
    {"ports picked one after another all differ (each stays held)", t_ports_differ},
};

TH_MAIN(cases)
