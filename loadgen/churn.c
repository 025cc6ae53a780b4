/* http-churn: JSON-RPC getblockcount requests, each on a new connection.
 *
 * Every active connection is a slot that runs its share of --requests one
 * after the other: write the request (with "Connection: close"), read and
 * check the whole response (status 200, the request's id, the result
 * 870000), wait for the server to close (so TIME_WAIT stays on the server,
 * as with a node's RPC clients), close, connect again. The first connection
 * of each slot is opened in the connect phase; the later ones inside the
 * window -- connecting is the cost being measured. Latency: from the new
 * socket's creation (socket, bind, connect; for the first request: from its
 * write) to the server's EOF after the response. A new socket is registered
 * with epoll each time (its fd changes).
 *
 * A unix listener with a full backlog refuses a connect with EAGAIN: the
 * slot retries after RETRY_NS (counted in connect_retries, bounded by
 * --timeout-ms). Any other connect or read error fails the slot. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"

#define RETRY_NS 1000000u /* 1 ms, as in the connect phase */

typedef enum { CH_CONNECTING, CH_RETRY, CH_RESPONSE, CH_EOF } churn_phase;

typedef struct {
    llhttp_t parser;
    churn_phase phase;
    uint64_t t_start;  /* when the request in progress started */
    uint64_t retry_at; /* CH_RETRY: when to try connecting again */
    lg_rpc_body body;
} churn_state;

/* Filled by the first churn_setup, in the main thread before any shard's
 * thread starts; only read afterwards (llhttp reads it through the parser). */
static llhttp_settings_t settings;

/* The shard's (lg_run.drv_shared): its slots waiting to retry. */
typedef struct {
    uint32_t retrying; /* slots in CH_RETRY */
} churn_shard;

static uint32_t *retrying_of(lg_run *r) { return &((churn_shard *)r->drv_shared)->retrying; }

static lg_conn *conn_of(llhttp_t *p) { return p->data; }

static int on_message_begin(llhttp_t *p) {
    lg_conn *c = conn_of(p);
    churn_state *s = c->drv;
    if (s->phase != CH_RESPONSE) {
        lg_conn_fail(c, "data after the response, where the server should close the connection");
        return -1;
    }
    s->body.len = 0;
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
    lg_conn *c = conn_of(p);
    return lg_rpc_body_append(c, &((churn_state *)c->drv)->body, at, len);
}

static int on_message_complete(llhttp_t *p) {
    lg_conn *c = conn_of(p);
    churn_state *s = c->drv;
    s->body.text[s->body.len] = 0;
    if (!lg_rpc_reply_check(c, s->body.text, lg_head(c)->tag)) return -1;
    if (llhttp_should_keep_alive(p)) {
        lg_conn_fail(c, "the server keeps the connection alive although the request said Connection: close");
        return -1;
    }
    s->phase = CH_EOF;
    return 0;
}

static int churn_setup(lg_conn *c, char *err, size_t errlen) {
    const lg_args *a = c->run->args;
    if (!settings.on_message_complete) {
        llhttp_settings_init(&settings);
        settings.on_message_begin = on_message_begin;
        settings.on_headers_complete = lg_rpc_on_headers_complete;
        settings.on_body = on_body;
        settings.on_message_complete = on_message_complete;
    }
    c->ops_target = lg_share(a->requests, a->active, c->index);
    churn_state *s = calloc(1, sizeof *s);
    c->drv = s;
    lg_run *r = c->run;
    if (!r->drv_shared) r->drv_shared = calloc(1, sizeof(churn_shard));
    if (!s || !r->drv_shared || lg_conn_buffers(c, LG_RPC_REQ_MAX, 1) != 0) {
        snprintf(err, errlen, "out of memory for connection %u", c->index);
        return -1;
    }
    return 0;
}

/* t == 0: latency from the write (the first request of a slot). */
static void queue_request(lg_conn *c, churn_state *s, uint64_t t) {
    uint64_t id = lg_next_id(c->run);
    char *m = (char *)lg_out_reserve(c, LG_RPC_REQ_MAX);
    lg_out_commit(c, lg_rpc_request(m, id, true));
    if (t) lg_push_at(c, id, t);
    else lg_push(c, id);
    c->issued++;
    llhttp_init(&s->parser, HTTP_RESPONSE, &settings);
    s->parser.data = c;
}

static void churn_start(lg_conn *c) {
    churn_state *s = c->drv;
    s->phase = CH_RESPONSE;
    queue_request(c, s, 0); /* the window flushes it */
}

/* Opens the slot's next connection (its request is written once connected). */
static void connect_next(lg_conn *c, churn_state *s) {
    lg_run *r = c->run;
    uint32_t *retrying = retrying_of(r);
    char err[320];
    int fd = -1;
    int rc = lg_open_socket(r, LG_UNNAMED, lg_next_source(r), &fd, err, sizeof err);
    if (rc < 0) {
        if (s->phase == CH_RETRY) --*retrying;
        lg_conn_fail(c, "reconnecting: %s", err);
        return;
    }
    if (rc == LG_RETRY) {
        r->connect_retries++;
        if (s->phase != CH_RETRY) ++*retrying;
        s->phase = CH_RETRY;
        s->retry_at = lg_now() + RETRY_NS;
        return;
    }
    if (s->phase == CH_RETRY) --*retrying;
    c->fd = fd;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        lg_conn_fail(c, "epoll_ctl: %s", strerror(errno));
        return;
    }
    queue_request(c, s, s->t_start);
    s->phase = rc == LG_CONNECTED ? CH_RESPONSE : CH_CONNECTING;
    if (s->phase == CH_RESPONSE) lg_conn_flush(c);
}

/* The server closed after the response: one request done. */
static void finish(lg_conn *c, churn_state *s) {
    uint64_t latency = c->t_read - lg_head(c)->t_sent;
    lg_pop(c);
    close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    lg_op_done(c, latency, s->body.len, 0);
    if (c->state != CONN_ACTIVE) return;
    s->t_start = lg_now();
    connect_next(c, s);
}

static void churn_read(lg_conn *c, churn_state *s, uint32_t ev) {
    lg_run *r = c->run;
    bool to_eof = (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    for (;;) {
        ssize_t n = read(c->fd, r->rbuf, LG_READ_BUF);
        if (n > 0) {
            r->bytes_received += (uint64_t)n;
            c->t_read = lg_now();
            lg_http_feed(c, &s->parser, r->rbuf, (size_t)n);
            if (c->state != CONN_ACTIVE) return;
            if ((size_t)n < LG_READ_BUF && !to_eof) return;
        } else if (n == 0) {
            c->t_read = lg_now();
            if (s->phase == CH_EOF) finish(c, s);
            else lg_conn_fail(c, "the server closed the connection before the whole response to request %" PRIu64,
                              lg_head(c) ? lg_head(c)->tag : 0);
            return;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else if (errno != EINTR) {
            lg_conn_fail(c, "read: %s", strerror(errno));
            return;
        }
    }
}

static void churn_event(lg_conn *c, uint32_t ev) {
    churn_state *s = c->drv;
    if (c->state != CONN_ACTIVE || c->fd < 0) return;
    if (s->phase == CH_CONNECTING) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) soerr = errno;
        if (soerr) {
            lg_conn_fail(c, "reconnecting to %s: %s", c->run->args->connect, strerror(soerr));
            return;
        }
        if (!(ev & EPOLLOUT)) return;
        s->phase = CH_RESPONSE;
    }
    if (c->ooff < c->olen) lg_conn_flush(c);
    if (c->state == CONN_ACTIVE && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) churn_read(c, s, ev);
}

/* The shard's slots waiting to retry a refused unix connect. */
static uint64_t churn_tick(lg_run *r, uint64_t now) {
    if (!r->drv_shared) return 0; /* no working connection here (its window never ticks; be safe) */
    uint32_t *retrying = retrying_of(r);
    if (!*retrying) return 0;
    uint64_t next = 0;
    for (uint32_t i = 0; i < r->nwork && *retrying; i++) {
        lg_conn *c = &r->conns[i];
        churn_state *s = c->drv;
        if (c->state != CONN_ACTIVE || s->phase != CH_RETRY) continue;
        if (s->retry_at <= now) connect_next(c, s);
        if (c->state == CONN_ACTIVE && s->phase == CH_RETRY && (!next || s->retry_at < next)) next = s->retry_at;
    }
    return next;
}

static void churn_destroy(lg_conn *c) { free(c->drv); }

const lg_driver lg_http_churn = {
    .name = "http-churn",
    .replies = true,
    .unit = "requests",
    .setup = churn_setup,
    .start = churn_start,
    .input = NULL, /* churn_event reads */
    .destroy = churn_destroy,
    .event = churn_event,
    .tick = churn_tick,
};
