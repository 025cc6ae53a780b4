/* Endpoint strings shared by the harness and native programs:
 *   tcp:HOST:PORT   (HOST an IPv4 or [IPv6] literal; PORT 0 = kernel's choice)
 *   unix:PATH */
#ifndef MUXBENCH_ADDRESS_H
#define MUXBENCH_ADDRESS_H

#include <sys/socket.h>
#include <sys/un.h>

typedef struct {
    int family; /* AF_INET, AF_INET6 or AF_UNIX */
    struct sockaddr_storage sa;
    socklen_t sa_len;
} endpoint;

/* Returns 0, or -1 with a message in err. */
int endpoint_parse(const char *text, endpoint *ep, char *err, size_t errlen);
/* Formats ep back to its text form (with the real port once bound). */
void endpoint_format(const endpoint *ep, char *out, size_t outlen);

/* Non-blocking listening socket on ep (loopback is the caller's choice; the
 * harness passes only loopback or unix paths). Unlinks nothing: a unix path
 * that exists is an error. On success fills *bound with the real address. */
int listen_on(const endpoint *ep, int backlog, endpoint *bound, char *err, size_t errlen);

/* The same with SO_REUSEPORT set before bind (TCP only): several sockets
 * bound to one address, the kernel spreading connections over them. */
int listen_on_reuseport(const endpoint *ep, int backlog, endpoint *bound, char *err, size_t errlen);

#endif
