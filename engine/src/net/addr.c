/* addr.c -- the IPv4 address chores of a tcp job: resolving a host name,
 * finding which local address routes to a peer (what that peer must use to
 * reach us), and asking the kernel for a free port. The engine's rendezvous
 * (runtime/job.c) and the `pmls` launcher (cli/launch.c) both need them,
 * for its sockets and for the master address it hands to the ranks. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
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

int pmi_free_tcp_port(const char *ip) {
  struct sockaddr_in a;
  if (ipv4_of(ip, 0, &a)) return -1;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}
