/* The measured loop and the plumbing drivers share: output buffers, the
 * in-flight ring, per-operation accounting and connection failure. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "loadgen.h"

static const lg_driver *driver_of(driver_kind k) {
    switch (k) {
    case DRV_PEER_PING: return &lg_peer_ping;
    case DRV_PEER_BLOCK: return &lg_peer_block;
    case DRV_HTTP_RPC: return &lg_http_rpc;
    case DRV_HTTP_BULK: return &lg_http_bulk;
    case DRV_PEER_RELAY: return &lg_peer_relay;
    case DRV_PEER_UPLOAD: return &lg_peer_upload;
    case DRV_HTTP_CHURN: return &lg_http_churn;
    }
    return NULL;
}

int lg_run_init(lg_run *r, const lg_args *a, uint32_t shard, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    r->args = a;
    r->drv = driver_of(a->driver);
    r->shard = shard;
    r->nshards = a->threads;
    r->next_id = shard + 1; /* see lg_next_id */
    if (endpoint_parse(a->connect, &r->ep, err, errlen) != 0) return -1;
    /* Connection g is this shard's when g % N == shard: that many of all,
     * and of the working ones (which then come first, see loadgen.h). */
    r->nconns = (uint32_t)lg_share(a->connections, r->nshards, shard);
    r->nwork = (uint32_t)lg_share(r->drv->every_conn ? a->connections : a->active, r->nshards, shard);
    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    r->rbuf = malloc(LG_READ_BUF);
    r->conns = calloc(r->nconns, sizeof *r->conns);
    if (r->epfd < 0 || !r->rbuf || !r->conns) {
        snprintf(err, errlen, "setup: %s", strerror(errno));
        return -1;
    }
    for (uint32_t i = 0; i < r->nconns; i++) {
        lg_conn *c = &r->conns[i];
        c->run = r;
        c->fd = -1;
        c->index = shard + i * r->nshards;
        c->state = CONN_CONNECTING;
    }
    for (uint32_t i = 0; i < r->nwork; i++) {
        if (r->drv->setup(&r->conns[i], err, errlen) != 0) return -1;
        r->ops_target += r->conns[i].ops_target;
    }
    return lg_source_init(r, err, errlen);
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

void lg_push_at(lg_conn *c, uint64_t tag, uint64_t t) {
    lg_push(c, tag);
    /* Stamped already: not among the newest entries conn_flush stamps. */
    uint32_t i = c->rhead + c->rcount - 1;
    if (i >= c->rcap) i -= c->rcap;
    c->ring[i].t_sent = t;
    c->runstamped--;
}

void lg_pop(lg_conn *c) {
    if (++c->rhead == c->rcap) c->rhead = 0;
    c->rcount--;
    if (c->runstamped > c->rcount) c->runstamped = c->rcount;
}

static void leave_active(lg_run *r, uint64_t t) {
    if (r->active_left == 0) return; /* before go (prepare phase) */
    if (--r->active_left == 0) r->t_end = t;
}

void lg_op_done(lg_conn *c, uint64_t latency_ns, uint64_t payload, uint32_t pieces) {
    lg_run *r = c->run;
    lg_run_latency(r, latency_ns);
    r->ops++;
    r->payload_bytes += payload;
    r->verified_pieces += pieces;
    if (++c->ops_done == c->ops_target) {
        c->state = CONN_DONE;
        leave_active(r, c->t_read);
    }
}

void lg_ops_done(lg_conn *c, uint64_t n, uint64_t payload, uint64_t pieces) {
    lg_run *r = c->run;
    r->ops += n;
    r->payload_bytes += payload;
    r->verified_pieces += pieces;
    c->ops_done += n;
    if (c->ops_done == c->ops_target && c->state == CONN_ACTIVE) {
        c->state = CONN_DONE;
        leave_active(r, c->t_read);
    }
}

void lg_fill(lg_conn *c) {
    if (c->state != CONN_ACTIVE) return;
    if (c->run->args->rate) {
        lg_rate_pump(c);
        return;
    }
    while (c->issued < c->ops_target && c->rcount < c->rcap) c->run->drv->queue(c, 0);
}

void lg_wake(lg_conn *c) {
    if (c->woken) return;
    c->woken = true;
    c->wake_next = c->run->woken;
    c->run->woken = c;
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
    if (r->drv->every_conn) r->abort = true;
    /* Keep the socket open until exit, like the others, but stop its events. */
    epoll_ctl(r->epfd, EPOLL_CTL_DEL, c->fd, NULL);
}

/* Three arguments for "%s%s%s": " (hint)" or nothing. */
#define HINT(d) (d)->close_hint ? " (" : "", (d)->close_hint ? (d)->close_hint : "", (d)->close_hint ? ")" : ""

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
        lg_conn_fail(c, "closed by the server after %llu of %llu %s%s%s%s",
                     (unsigned long long)c->ops_done, (unsigned long long)c->ops_target, r->drv->unit,
                     HINT(r->drv));
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
            lg_conn_fail(c, "read: %s%s%s%s", strerror(errno), HINT(r->drv));
            return;
        }
    }
}

/* Writes until the buffer is empty or the socket is full (EAGAIN; the next
 * EPOLLOUT edge resumes). Requests queued since the last flush are stamped
 * now: their latency starts when they are handed to the kernel. */
void lg_conn_flush(lg_conn *c) {
    lg_run *r = c->run;
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

/* Everything queued: the output buffer first, then the driver's own output. */
static void conn_output(lg_run *r, lg_conn *c) {
    if ((c->state == CONN_ACTIVE || c->state == CONN_DONE) && c->ooff < c->olen) lg_conn_flush(c);
    if (r->drv->output && c->state == CONN_ACTIVE && c->ooff == c->olen) r->drv->output(c);
}

/* Connections that others queued output for (peer-relay's next inv, --rate's
 * due requests). */
static void flush_woken(lg_run *r) {
    while (r->woken) {
        lg_conn *c = r->woken;
        r->woken = c->wake_next;
        c->woken = false;
        conn_output(r, c);
    }
}

static void handle_event(lg_run *r, lg_conn *c, uint32_t ev) {
    /* A connection failed earlier in this batch may still have an event. */
    if (c->state == CONN_FAILED || c->state == CONN_CLOSED) return;
    if (r->drv->event && lg_working(c)) {
        r->drv->event(c, ev);
    } else {
        if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) conn_read(r, c, ev);
        /* Replies just read may have queued requests: one write for all of them. */
        conn_output(r, c);
    }
    flush_woken(r);
}

/* Blocks in epoll until an event or `until` (ns, CLOCK_MONOTONIC), with a
 * timespec timeout (epoll_pwait2), so --rate's schedule is not rounded to
 * milliseconds; kernels without it get epoll_wait, rounded up. */
static int block_for_events(lg_run *r, uint64_t now, uint64_t until) {
    r->blocking_waits++;
    uint64_t ns = until > now ? until - now : 0;
    if (!r->no_pwait2) {
        struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u)};
        int n = epoll_pwait2(r->epfd, r->events, LG_MAX_EVENTS, &ts, NULL);
        if (n >= 0 || errno != ENOSYS) return n;
        r->no_pwait2 = true;
    }
    uint64_t ms = (ns + 999999u) / 1000000u;
    return epoll_wait(r->epfd, r->events, LG_MAX_EVENTS, ms > INT_MAX ? INT_MAX : (int)ms);
}

/* Waits for events (default: adaptive; --wait block: always blocks).
 *
 * Why not always block: on loopback the server's write runs the client's
 * wake-up. A load generator asleep in epoll_wait makes every reply the
 * server writes wake it on the other CPU (sock_def_readable ->
 * try_to_wake_up, an inter-processor interrupt), and that cost lands in the
 * server's CPU time -- a cost no server pays for a client on another
 * machine. A client that is not in epoll_wait when the data arrives is not
 * woken: the event just waits in the ready list. So while replies are due
 * at a high rate, the loop polls (epoll_wait with timeout 0) and, when
 * nothing is ready, naps with nanosleep -- a timer on its own CPU -- instead
 * of blocking.
 *
 * What it costs the measurement: a reply that arrives during a nap is read
 * up to one nap later. The nap asked for is 1% of the recent mean latency,
 * at least 5 us (shorter naps cost more than they save; so while the mean
 * is under 0.5 ms the loop blocks) and at most 50 us; the timer may wake a
 * little later than asked, so every nap is timed and the result reports
 * the count, the total and the longest. Only drivers whose latency is a
 * reply time nap (lg_driver.replies). After 1 ms without an event the loop
 * blocks. */
static int wait_events(lg_run *r, uint64_t now, uint64_t until) {
    uint64_t nap = r->args->wait_block || !r->drv->replies ? 0 : r->lat_recent_ns / LG_NAP_SHARE;
    if (nap >= LG_NAP_MIN_NS) {
        if (nap > LG_NAP_MAX_NS) nap = LG_NAP_MAX_NS;
        uint64_t give_up = now + LG_NAP_IDLE_NS;
        for (;;) {
            int n = epoll_wait(r->epfd, r->events, LG_MAX_EVENTS, 0);
            if (n != 0) return n;
            now = lg_now();
            if (now + nap > until || now >= give_up) break;
            struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)nap};
            nanosleep(&ts, NULL);
            uint64_t slept = lg_now() - now;
            r->naps++;
            r->nap_ns += slept;
            if (slept > r->max_nap_ns) r->max_nap_ns = slept;
            if (slept > nap + LG_NAP_LATE_NS) r->late_naps++;
        }
    }
    return block_for_events(r, now, until);
}

/* Runs in the shard's thread: it touches only the shard and its connections. */
void lg_run_window(lg_run *r, uint64_t t_go) {
    const lg_args *a = r->args;
    /* --rate sleeps to exact send times and naps are short: no 50 us timer
     * slack on top (the slack is per thread, so every shard sets its own). */
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    uint64_t cpu0 = lg_thread_cpu_ns();
    r->bytes_sent = r->bytes_received = 0; /* a prepare hook's are not the window's */
    /* One t_go for all shards: the --rate schedule and the elapsed time are
     * the run's, not a thread's (threads start a little after it). */
    r->t_go = t_go;
    uint64_t deadline = r->t_go + a->timeout_ms * 1000000u;
    r->active_left = r->nwork;
    if (r->nwork == 0) r->t_end = t_go; /* more threads than --active: nothing to do here */
    if (a->rate) lg_rate_start(r);
    for (uint32_t i = 0; i < r->nwork; i++) {
        lg_conn *c = &r->conns[i];
        c->state = CONN_ACTIVE;
        if (c->ops_target == 0 && !r->drv->every_conn) { /* fewer operations than active connections */
            c->state = CONN_DONE;
            leave_active(r, r->t_go);
            continue;
        }
        /* every_conn: a connection with nothing to receive may still send. */
        r->drv->start(c);
        if (c->ops_target == 0 && c->state == CONN_ACTIVE) {
            c->state = CONN_DONE;
            leave_active(r, r->t_go);
        }
    }
    for (uint32_t i = 0; i < r->nwork; i++) conn_output(r, &r->conns[i]);
    flush_woken(r);

    while (r->active_left > 0 && !r->abort) {
        uint64_t now = lg_now();
        if (now >= deadline) {
            r->t_end = now;
            char where[48] = "";
            if (r->nshards > 1) snprintf(where, sizeof where, " of thread %u of %u", r->shard + 1, r->nshards);
            lg_error(r, "timeout: %llu ms passed with %llu of %llu %s left on %u of %u working connections%s",
                     (unsigned long long)a->timeout_ms, (unsigned long long)(r->ops_target - r->ops),
                     (unsigned long long)r->ops_target, r->drv->unit, r->active_left, r->nwork, where);
            break;
        }
        uint64_t until = deadline;
        if (a->rate) {
            uint64_t t = lg_rate_tick(r, now);
            flush_woken(r);
            if (t && t < until) until = t;
        }
        if (r->drv->tick) {
            uint64_t t = r->drv->tick(r, now);
            flush_woken(r);
            if (t && t < until) until = t;
        }
        if (r->active_left == 0 || r->abort) break;
        if (until < deadline) now = lg_now();
        int n = wait_events(r, now, until);
        if (n < 0) {
            if (errno == EINTR) continue;
            r->t_end = lg_now();
            lg_error(r, "epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) handle_event(r, r->events[i].data.ptr, r->events[i].events);
    }
    if (r->abort && r->active_left > 0) r->t_end = lg_now();
    r->cpu_ns = lg_thread_cpu_ns() - cpu0;
}

void lg_run_close(lg_run *r) {
    for (uint32_t i = 0; i < r->nconns; i++) {
        lg_conn *c = &r->conns[i];
        if (i < r->nwork) r->drv->destroy(c);
        if (c->fd >= 0) close(c->fd);
        free(c->obuf);
        free(c->ring);
    }
    free(r->conns);
    free(r->rbuf);
    free(r->drv_shared);
    for (uint32_t i = 0; i < r->nerrors; i++) free(r->errors[i]);
    if (r->epfd >= 0) close(r->epfd);
}
