/* addr.c -- the IPv4 address chores of a tcp job: resolving a host name,
 * finding which local address routes to a peer (what that peer must use to
 * reach us), and asking the kernel for a free port; and the host names the
 * ranks tell rank 0 at the rendezvous, for the metrics header. The engine's rendezvous
 * (runtime/job.c) and the `pmls` launcher (cli/launch.c) both need them,
 * for its sockets and for the master address it hands to the ranks. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"

int pmi_resolve_ipv4(const char *host, char *ip, size_t iplen) {
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_family = AF_INET;
  int rc = getaddrinfo(host, NULL, &hints, &res);
  if (rc || !res) return rc ? rc : EAI_NONAME;
  inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, ip,
            (socklen_t)iplen);
  freeaddrinfo(res);
  return 0;
}

static int ipv4_of(const char *ip, int port, struct sockaddr_in *a) {
  memset(a, 0, sizeof *a);
  a->sin_family = AF_INET;
  a->sin_port = htons((uint16_t)port);
  return inet_pton(AF_INET, ip, &a->sin_addr) == 1 ? 0 : -1;
}

int pmi_route_to(const char *ip, char *out, size_t outlen) {
  struct sockaddr_in a;
  if (ipv4_of(ip, 9, &a)) return -1;
  /* Connecting a UDP socket sends nothing; it only picks the route. */
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return -1;
  socklen_t len = sizeof a;
  int rc = connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
                   getsockname(fd, (struct sockaddr *)&a, &len) == 0
               ? 0
               : -1;
  if (rc == 0) inet_ntop(AF_INET, &a.sin_addr, out, (socklen_t)outlen);
  close(fd);
  return rc;
}

/* The port is left in TIME_WAIT on our side of a loopback connection, so
 * for the next minute the kernel hands it to no other bind(port 0) and to
 * no outgoing connection (a client retrying a connect to it could otherwise
 * get it as its own port and connect to itself), while a listener that sets
 * SO_REUSEADDR, as nanomsg's does, may still bind it. A port merely probed
 * and closed is free again at once, and a rank that binds it a moment later
 * lost that race now and then. */
int pmi_free_tcp_port(const char *ip) {
  struct sockaddr_in a;
  if (ipv4_of(ip, 0, &a)) return -1;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  socklen_t len = sizeof a;
  int port = -1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
      bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  if (port >= 0 && listen(fd, 1) == 0) {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c >= 0 && connect(c, (struct sockaddr *)&a, sizeof a) == 0) {
      int s = accept(fd, NULL, NULL);
      if (s >= 0) close(s); /* the side that closes first keeps TIME_WAIT */
    }
    if (c >= 0) close(c);
  }
  close(fd);
  return port;
}

/* Bytes a host name may hold: RFC 1123's, and '_' that local names use. */
static int host_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

int pmi_host_ok(const char *name) {
  size_t n = 0;
  for (; name[n]; n++)
    if (n >= PMI_HOST_MAX - 1 || !host_byte((unsigned char)name[n])) return 0;
  return n > 0;
}

void pmi_local_host(char out[PMI_HOST_MAX]) {
  char name[256] = "";
  if (gethostname(name, sizeof name - 1) != 0) name[0] = 0;
  size_t n = 0;
  for (; name[n] && n < PMI_HOST_MAX - 1; n++)
    out[n] = host_byte((unsigned char)name[n]) ? name[n] : '_';
  out[n] = 0;
  if (!n) snprintf(out, PMI_HOST_MAX, "unknown");
}
