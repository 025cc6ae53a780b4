/* --source-addrs K: spreads TCP connections over K loopback source
 * addresses. A client connection needs a free ephemeral port for its
 * (source, destination) pair, and loopback has one destination, so one
 * source address caps the run at the size of ip_local_port_range
 * (28232 ports by default) -- counting the server's TIME_WAIT entries, which
 * share the host's connection table. All of 127.0.0.0/8 is local, so
 * connection n binds 127.0.0.(1 + n % K) first; IP_BIND_ADDRESS_NO_PORT
 * leaves the port to connect(), which then only needs the 4-tuple unique. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "loadgen.h"

#define PORT_MARGIN 1000u  /* ports left for everything else on the host */
#define CHURN_SOURCES 16u  /* http-churn over TCP: TIME_WAIT entries pile up */

/* Ephemeral ports the kernel hands out (ip_local_port_range), less the margin. */
static uint32_t usable_ports(void) {
    unsigned lo = 32768, hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%u %u", &lo, &hi) != 2 || hi < lo) lo = 32768, hi = 60999;
        fclose(f);
    }
    uint32_t n = hi - lo + 1;
    return n > PORT_MARGIN ? n - PORT_MARGIN : 1;
}

int lg_source_init(lg_run *r, char *err, size_t errlen) {
    const endpoint ep = r->ep;
    bool v4_loopback = ep.family == AF_INET &&
        (ntohl(((const struct sockaddr_in *)&ep.sa)->sin_addr.s_addr) >> 24) == 127;
    uint32_t k = r->args->source_addrs;
    if (k > 1 && !v4_loopback) { /* args.c rejects this already */
        snprintf(err, errlen, "--source-addrs %u needs an IPv4 loopback target (tcp:127.x.x.x)", k);
        return -1;
    }
    if (k == 0) {
        k = 1;
        if (v4_loopback) {
            uint32_t ports = usable_ports();
            /* All connections, not the shard's: the ports are the host's. */
            uint64_t need = ((uint64_t)r->args->connections + ports - 1) / ports;
            if (r->args->driver == DRV_HTTP_CHURN && need < CHURN_SOURCES) need = CHURN_SOURCES;
            k = need > LG_MAX_SOURCE_ADDRS ? LG_MAX_SOURCE_ADDRS : (uint32_t)need;
        }
    }
    r->source_addrs = k;
    return 0;
}

int lg_source_bind(const lg_run *r, int fd, uint64_t n, char *err, size_t errlen) {
    if (r->source_addrs <= 1) return 0;
    int one = 1;
    if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) != 0) {
        snprintf(err, errlen, "IP_BIND_ADDRESS_NO_PORT: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET};
    uint32_t host = 1 + (uint32_t)(n % r->source_addrs);
    sa.sin_addr.s_addr = htonl(0x7f000000u | host);
    if (bind(fd, (const struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(err, errlen, "bind to source address 127.0.0.%u: %s", host, strerror(errno));
        return -1;
    }
    return 0;
}
