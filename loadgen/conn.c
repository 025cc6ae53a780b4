/* The measured loop and the plumbing drivers share: output buffers, the
 * in-flight ring, per-operation accounting and connection failure. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loadgen.h"

#define MAX_EVENTS 1024

static struct epoll_event events[MAX_EVENTS];

static const lg_driver *driver_of(driver_kind k) {
    switch (k) {
    case DRV_PEER_PING: return &lg_peer_ping;
    case DRV_PEER_BLOCK: return &lg_peer_block;
    case DRV_HTTP_RPC: return &lg_http_rpc;
    case DRV_HTTP_BULK: return &lg_http_bulk;
    }
    return NULL;
}

int lg_run_init(lg_run *r, const lg_args *a, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    r->args = a;
    r->drv = driver_of(a->driver);
    r->next_id = 1;
    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    r->rbuf = malloc(LG_READ_BUF);
    r->conns = calloc(a->connections, sizeof *r->conns);
    if (r->epfd < 0 || !r->rbuf || !r->conns) {
        snprintf(err, errlen, "setup: %s", strerror(errno));
        return -1;
    }
    r->nconns = a->connections;
    for (uint32_t i = 0; i < r->nconns; i++) {
        lg_conn *c = &r->conns[i];
        c->run = r;
        c->fd = -1;
        c->index = i;
        c->state = CONN_CONNECTING;
    }
    for (uint32_t i = 0; i < a->active; i++) {
        if (r->drv->setup(&r->conns[i], err, errlen) != 0) return -1;
        r->ops_target += r->conns[i].ops_target;
    }
    return 0;
}

int lg_conn_buffers(lg_conn *c, size_t out_cap, uint32_t ring_cap) {
    c->obuf = malloc(out_cap);
    c->ring = calloc(ring_cap, sizeof *c->ring);
    if (!c->obuf || !c->ring) return -1;
    c->ocap = (uint32_t)out_cap;
    c->rcap = ring_cap;
    return 0;
}

uint8_t *lg_out_reserve(lg_conn *c, size_t n) {
    if (c->ocap - c->olen < n) {
        memmove(c->obuf, c->obuf + c->ooff, c->olen - c->ooff);
        c->olen -= c->ooff;
        c->ooff = 0;
    }
    if (c->ocap - c->olen < n) {
        /* Capacity is sized from --depth at setup; this is a driver bug. */
        fprintf(stderr, "muxbench-loadgen: output buffer overflow on connection %u\n", c->index);
        abort();
    }
    return c->obuf + c->olen;
}

void lg_push(lg_conn *c, uint64_t tag) {
    if (c->rcount == c->rcap) {
        fprintf(stderr, "muxbench-loadgen: in-flight ring overflow on connection %u\n", c->index);
        abort();
    }
    uint32_t i = c->rhead + c->rcount;
    if (i >= c->rcap) i -= c->rcap;
    c->ring[i].tag = tag;
    c->ring[i].t_sent = 0;
    c->rcount++;
    c->runstamped++;
}

void lg_pop(lg_conn *c) {
    if (++c->rhead == c->rcap) c->rhead = 0;
    c->rcount--;
    if (c->runstamped > c->rcount) c->runstamped = c->rcount;
}

static void leave_active(lg_run *r, uint64_t t) {
    if (--r->active_left == 0) r->t_end = t;
}

void lg_op_done(lg_conn *c, uint64_t latency_ns, uint64_t payload, uint32_t pieces) {
    lg_run *r = c->run;
    hist_record(&r->lat, latency_ns);
    r->ops++;
    r->payload_bytes += payload;
    r->verified_pieces += pieces;
    if (++c->ops_done == c->ops_target) {
        c->state = CONN_DONE;
        leave_active(r, c->t_read);
    }
}

void lg_conn_fail(lg_conn *c, const char *fmt, ...) {
    lg_run *r = c->run;
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lg_error(r, "connection %u: %s", c->index, msg);
    if (c->state == CONN_ACTIVE) leave_active(r, lg_now());
    c->state = CONN_FAILED;
    /* Keep the socket open until exit, like the others, but stop its events. */
    epoll_ctl(r->epfd, EPOLL_CTL_DEL, c->fd, NULL);
}

static void closed_by_server(lg_run *r, lg_conn *c) {
    if (c->state == CONN_DONE) {
        /* Its work is complete and verified; not a failure of the run. */
        fprintf(stderr, "muxbench-loadgen: connection %u closed by the server after its last reply\n",
                c->index);
        c->state = CONN_CLOSED;
        epoll_ctl(r->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    } else if (c->state == CONN_IDLE) {
        lg_conn_fail(c, "idle connection closed by the server");
    } else {
        lg_conn_fail(c, "closed by the server after %llu of %llu %s",
                     (unsigned long long)c->ops_done, (unsigned long long)c->ops_target, r->drv->unit);
    }
}

/* Reads until drained. A read shorter than the buffer means the socket was
 * drained at that moment (epoll(7)): any later data raises a new edge, so
 * the EAGAIN read is skipped -- unless the peer shut down, whose EOF raises
 * no further edge and must be read now. */
static void conn_read(lg_run *r, lg_conn *c, uint32_t ev) {
    bool to_eof = (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    for (;;) {
        ssize_t n = read(c->fd, r->rbuf, LG_READ_BUF);
        if (n > 0) {
            r->bytes_received += (uint64_t)n;
            if (c->state == CONN_IDLE) {
                lg_conn_fail(c, "idle connection received %zd unexpected bytes", n);
                return;
            }
            c->t_read = lg_now();
            r->drv->input(c, r->rbuf, (size_t)n);
            if (c->state == CONN_FAILED) return;
            if ((size_t)n < LG_READ_BUF && !to_eof) return;
        } else if (n == 0) {
            closed_by_server(r, c);
            return;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else if (errno != EINTR) {
            lg_conn_fail(c, "read: %s", strerror(errno));
            return;
        }
    }
}

/* Writes until the buffer is empty or the socket is full (EAGAIN; the next
 * EPOLLOUT edge resumes). Requests queued since the last flush are stamped
 * now: their latency starts when they are handed to the kernel. */
static void conn_flush(lg_run *r, lg_conn *c) {
    if (c->runstamped) {
        uint64_t t = lg_now();
        uint32_t i = c->rhead + c->rcount - c->runstamped;
        if (i >= c->rcap) i -= c->rcap;
        for (; c->runstamped; c->runstamped--) {
            c->ring[i].t_sent = t;
            if (++i == c->rcap) i = 0;
        }
    }
    while (c->ooff < c->olen) {
        ssize_t n = write(c->fd, c->obuf + c->ooff, c->olen - c->ooff);
        if (n > 0) {
            r->bytes_sent += (uint64_t)n;
            c->ooff += (uint32_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        } else if (n == 0 || errno != EINTR) {
            lg_conn_fail(c, "write: %s", n == 0 ? "no progress" : strerror(errno));
            return;
        }
    }
    c->ooff = c->olen = 0;
}

static void handle_event(lg_run *r, lg_conn *c, uint32_t ev) {
    /* A connection failed earlier in this batch may still have an event. */
    if (c->state == CONN_FAILED || c->state == CONN_CLOSED) return;
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) conn_read(r, c, ev);
    /* Replies just read may have queued requests: one write for all of them. */
    if ((c->state == CONN_ACTIVE || c->state == CONN_DONE) && c->ooff < c->olen) conn_flush(r, c);
}

void lg_run_window(lg_run *r) {
    const lg_args *a = r->args;
    r->t_go = lg_now();
    uint64_t deadline = r->t_go + a->timeout_ms * 1000000u;
    r->active_left = a->active;
    for (uint32_t i = 0; i < a->active; i++) {
        lg_conn *c = &r->conns[i];
        c->state = CONN_ACTIVE;
        if (c->ops_target == 0) { /* fewer operations than active connections */
            c->state = CONN_DONE;
            leave_active(r, r->t_go);
        } else {
            r->drv->start(c);
        }
    }
    for (uint32_t i = 0; i < a->active; i++)
        if (r->conns[i].state == CONN_ACTIVE) conn_flush(r, &r->conns[i]);

    while (r->active_left > 0) {
        uint64_t now = lg_now();
        if (now >= deadline) {
            r->t_end = now;
            lg_error(r, "timeout: %llu ms passed with %llu of %llu %s left on %u of %u active connections",
                     (unsigned long long)a->timeout_ms, (unsigned long long)(r->ops_target - r->ops),
                     (unsigned long long)r->ops_target, r->drv->unit, r->active_left, a->active);
            break;
        }
        uint64_t wait = (deadline - now + 999999u) / 1000000u;
        int n = epoll_wait(r->epfd, events, MAX_EVENTS, wait > INT_MAX ? INT_MAX : (int)wait);
        if (n < 0) {
            if (errno == EINTR) continue;
            r->t_end = lg_now();
            lg_error(r, "epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) handle_event(r, events[i].data.ptr, events[i].events);
    }
}

void lg_run_close(lg_run *r) {
    for (uint32_t i = 0; i < r->nconns; i++) {
        lg_conn *c = &r->conns[i];
        if (i < r->args->active) r->drv->destroy(c);
        if (c->fd >= 0) close(c->fd);
        free(c->obuf);
        free(c->ring);
    }
    free(r->conns);
    free(r->rbuf);
    for (uint32_t i = 0; i < r->nerrors; i++) free(r->errors[i]);
    if (r->epfd >= 0) close(r->epfd);
}
