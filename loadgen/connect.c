/* Connect phase, outside the measured window: all connections of a shard
 * are opened at once with non-blocking connects, bounded by
 * LG_CONNECT_TIMEOUT_MS; main.c connects the shards one after the other. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loadgen.h"

int lg_open_socket(lg_run *r, uint32_t index, uint64_t source_n, int *fdp, char *err, size_t errlen) {
    const endpoint *ep = &r->ep;
    char name[32] = "";
    if (index != LG_UNNAMED) snprintf(name, sizeof name, " (connection %u)", index);
    int fd = socket(ep->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket%s: %s%s", name, strerror(errno),
                 errno == EMFILE ? " (raise the open-files limit)" : "");
        return -1;
    }
    if (ep->family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    char why[160];
    if (lg_source_bind(r, fd, source_n, why, sizeof why) != 0) {
        snprintf(err, errlen, "%s%s", why, name);
        close(fd);
        return -1;
    }
    int rc;
    if (connect(fd, (const struct sockaddr *)&ep->sa, ep->sa_len) == 0) {
        rc = LG_CONNECTED;
    } else if (errno == EINPROGRESS) {
        rc = LG_IN_PROGRESS;
    } else if (errno == EAGAIN && ep->family == AF_UNIX) {
        close(fd);
        return LG_RETRY;
    } else {
        int e = errno;
        snprintf(err, errlen, "connect %s%s: %s%s", r->args->connect, name, strerror(e),
                 e == EADDRNOTAVAIL ? " (out of ephemeral ports: raise --source-addrs)" : "");
        close(fd);
        return -1;
    }
    *fdp = fd;
    return rc;
}

/* Starts one connect. A unix socket whose listen backlog is full fails with
 * EAGAIN instead of queueing; that connection is retried (c->retry). */
static int open_one(lg_run *r, lg_conn *c, char *err, size_t errlen) {
    c->retry = false;
    int fd = -1;
    int rc = lg_open_socket(r, c->index, c->index, &fd, err, errlen);
    if (rc < 0) return -1;
    if (rc == LG_RETRY) {
        c->retry = true;
        return 0;
    }
    c->state = rc == LG_CONNECTED ? CONN_IDLE : CONN_CONNECTING;
    c->fd = fd;
    /* Registered after connect(): an unconnected socket would report HUP. */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int lg_connect_all(lg_run *r, uint64_t *connect_ns, char *err, size_t errlen) {
    uint64_t t0 = lg_now(), deadline = t0 + (uint64_t)LG_CONNECT_TIMEOUT_MS * 1000000u;
    uint32_t pending = 0, retries = 0;
    for (uint32_t i = 0; i < r->nconns; i++) {
        lg_conn *c = &r->conns[i];
        if (open_one(r, c, err, errlen) != 0) return -1;
        if (c->state != CONN_IDLE) pending++;
        if (c->retry) retries++;
    }
    while (pending > 0) {
        uint64_t now = lg_now();
        if (now >= deadline) {
            snprintf(err, errlen, "%u of %u connections to %s not established after %u ms", pending,
                     r->nconns, r->args->connect, LG_CONNECT_TIMEOUT_MS);
            return -1;
        }
        if (retries > 0) {
            retries = 0;
            for (uint32_t i = 0; i < r->nconns; i++) {
                lg_conn *c = &r->conns[i];
                if (!c->retry) continue;
                if (open_one(r, c, err, errlen) != 0) return -1;
                if (c->retry) retries++;
                else if (c->state == CONN_IDLE) pending--;
            }
            if (pending == 0) break;
        }
        /* Retrying unix connects poll every millisecond for backlog room. */
        int wait_ms = retries ? 1 : (int)((deadline - now) / 1000000u + 1);
        int n = epoll_wait(r->epfd, r->events, LG_MAX_EVENTS, wait_ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            snprintf(err, errlen, "epoll_wait: %s", strerror(errno));
            return -1;
        }
        for (int i = 0; i < n; i++) {
            lg_conn *c = r->events[i].data.ptr;
            uint32_t e = r->events[i].events;
            if (c->state == CONN_CONNECTING) {
                int soerr = 0;
                socklen_t len = sizeof soerr;
                if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) soerr = errno;
                if (soerr) {
                    snprintf(err, errlen, "connect %s (connection %u): %s", r->args->connect,
                             c->index, strerror(soerr));
                    return -1;
                }
                if (e & EPOLLOUT) {
                    c->state = CONN_IDLE;
                    pending--;
                }
            } else if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                /* Edge-triggered: this edge would be lost, so fail now. */
                snprintf(err, errlen, "connection %u was closed by the server or received data before go",
                         c->index);
                return -1;
            }
        }
    }
    /* Later connects (http-churn) continue after the connect phase's
     * 0..connections-1, interleaved over the shards (lg_next_source). */
    r->sources_used = (uint64_t)r->args->connections + r->shard;
    /* E.g. peer-relay: every peer registered with the server before go. */
    if (r->drv->prepare && r->drv->prepare(r, err, errlen) != 0) return -1;
    *connect_ns = lg_now() - t0;
    return 0;
}

