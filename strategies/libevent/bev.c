/* libevent strategy: one event_base (epoll), an evconnlistener on the
 * harness's listening socket, one bufferevent per connection, and the shared
 * sans-I/O session for the protocol — the way an application built on
 * libevent's bufferevents moves bytes, with libevent's defaults except where
 * noted (MAX_WRITE, the watermark).
 *
 * Input: libevent reads into the input evbuffer; the read callback hands the
 * buffered bytes to the session straight from the evbuffer's chains
 * (evbuffer_peek, then evbuffer_drain). That is the zero-copy way here: the
 * session parses complete messages in place and copies only an incomplete
 * tail, whereas evbuffer_pullup would first linearise chains (a copy
 * whenever data spans two) and evbuffer_remove would always copy into a
 * separate buffer. Backpressure: reading is disabled while the session does
 * not want input (or the output evbuffer is full); bytes libevent already
 * read are still handed over, the session keeps them.
 *
 * Output: the session's queue is moved into the output evbuffer, and
 * session_output_done is called as soon as the bytes are added — from then
 * on libevent owns them. Segments inside the shared payload pattern (which
 * is never freed) are added by reference, without a copy, when they are
 * large; everything else (headers, small messages: memory that
 * session_output_done releases) is copied. The evbuffer is filled to
 * OUT_TARGET at most; a write low-watermark calls us back to refill from the
 * session's lazy stream, so a 1 GiB body never sits in memory.
 *
 * Output from outside a connection's own callbacks (a relayed inv, a
 * hand-off worker's reply) is collected from the hub where it can appear:
 * libevent has no per-iteration hook, so at the end of the read callback
 * (the only one that parses input, hence the only one that relays) and in
 * the wake-up event's callback. Each session hub_next() returns gets its
 * output moved into its bufferevent, as after a read. With --handoff N,
 * libevent runs with pthread locking (evthread_use_pthreads, in main) and
 * the workers make one event (fd -1, no flags) active with event_active:
 * libevent then wakes its base through its own notification eventfd, which
 * it watches in the epoll set (and does not write again while a
 * notification is pending); the callback runs on the loop thread. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "../core/hub.h"
#include "../core/payload.h"
#include "lev.h"

/* Output evbuffer fill level: as much as the other strategies keep queued
 * per connection (the session's own high-water mark). */
#define OUT_TARGET (256u * 1024u)
/* The write callback runs when a write leaves this little: refill then, so
 * the socket buffer does not run dry while we wait for the callback. */
#define OUT_LOWAT (64u * 1024u)
/* Pattern slices at least this long are added by reference; shorter ones are
 * cheaper to copy than an evbuffer chain per reference. */
#define REF_MIN 2048u
/* libevent's default caps every write per readiness event at 16 KiB; the
 * other strategies write until the socket is full, so lift it above
 * anything the output evbuffer holds: one writev (at most 128 iovecs) takes
 * whatever the socket accepts. Reads need no such knob because there is no
 * room to give: 2.1's evbuffer_read reads at most 4096 bytes per readv, each
 * after an ioctl(FIONREAD) — a library property this strategy measures. */
#define MAX_WRITE (16 * 1024 * 1024)
#define MAX_IOV 64
#define IN_EXTENTS 8

typedef struct {
    struct event_base *base;
    bool tcp;
    hub *hub;
    struct event *wake;     /* made active by hand-off workers (NULL without) */
    session_opts opts;
    session_stats *stats;
    const uint8_t *pattern; /* the shared payload pattern, for reference checks */
} bev_loop;

typedef struct {
    bev_loop *l;
    struct bufferevent *bev;
    session *s;
} conn;

static bev_loop L;

static void conn_free(conn *c) {
    /* BEV_OPT_CLOSE_ON_FREE: libevent closes the socket (counted close). The
     * output evbuffer holds only copies and pattern references, so the
     * session can go first. */
    bufferevent_free(c->bev);
    session_free(c->s);
    free(c);
    lev_closed();
}

static bool in_pattern(const bev_loop *l, const void *p, size_t len) {
    const uint8_t *b = p;
    return b >= l->pattern && len <= PAYLOAD_PATTERN_LEN && b <= l->pattern + PAYLOAD_PATTERN_LEN - len;
}

/* Moves session output into the output evbuffer up to OUT_TARGET.
 * Returns false on allocation failure. */
static bool fill(conn *c) {
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct iovec iov[MAX_IOV];
    while (session_output_pending(c->s) && evbuffer_get_length(out) < OUT_TARGET) {
        size_t n = session_output_iov(c->s, iov, MAX_IOV), moved = 0;
        for (size_t i = 0; i < n && evbuffer_get_length(out) < OUT_TARGET; i++) {
            const void *p = iov[i].iov_base;
            size_t len = iov[i].iov_len;
            int rc = len >= REF_MIN && in_pattern(c->l, p, len)
                         ? evbuffer_add_reference(out, p, len, NULL, NULL)
                         : evbuffer_add(out, p, len);
            if (rc != 0) {
                if (moved) session_output_done(c->s, moved);
                return false;
            }
            moved += len;
        }
        /* May produce more stream output (the lazy 1 GiB body), or free the
         * copy buffers just added by copy. */
        session_output_done(c->s, moved);
    }
    return true;
}

/* Common tail of every callback: move output, close when done, and keep
 * reading enabled exactly while input is wanted. Returns false if c is gone. */
static bool settle(conn *c) {
    if (!fill(c)) {
        conn_free(c);
        return false;
    }
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (session_should_close(c->s) && !session_output_pending(c->s)) {
        if (evbuffer_get_length(out) == 0) {
            conn_free(c);
            return false;
        }
        /* Close once libevent has written the rest: the write callback
         * runs when the buffer is empty with a low-watermark of 0. */
        bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    }
    bool want = session_wants_input(c->s) && evbuffer_get_length(out) < OUT_TARGET;
    bool reading = (bufferevent_get_enabled(c->bev) & EV_READ) != 0;
    if (want && !reading) bufferevent_enable(c->bev, EV_READ);
    else if (!want && reading) bufferevent_disable(c->bev, EV_READ);
    return true;
}

/* Connections that gained output from outside their own callbacks; settle
 * may free one, which also takes it off the hub's list. */
static void serve_hub(bev_loop *l) {
    session *s;
    while ((s = hub_next(l->hub))) settle(session_owner(s));
}

/* The wake-up event: hand-off replies are ready. */
static void on_wake(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    serve_hub(arg);
}

/* hub_wake_fn, on a worker thread: thread-safe under evthread_use_pthreads. */
static void wake_loop(void *arg) { event_active(arg, EV_TIMEOUT, 0); }

static void on_read(struct bufferevent *bev, void *arg) {
    conn *c = arg;
    bev_loop *l = c->l;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_iovec v[IN_EXTENTS];
    while (evbuffer_get_length(in) > 0) {
        int n = evbuffer_peek(in, -1, NULL, v, IN_EXTENTS);
        if (n > IN_EXTENTS) n = IN_EXTENTS; /* the rest on the next turn */
        size_t used = 0;
        for (int i = 0; i < n; i++) {
            session_input(c->s, v[i].iov_base, v[i].iov_len);
            used += v[i].iov_len;
        }
        evbuffer_drain(in, used);
    }
    settle(c);
    serve_hub(l); /* an inv just parsed is queued on every other peer */
}

static void on_write(struct bufferevent *bev, void *arg) {
    (void)bev;
    settle(arg);
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
    (void)bev;
    conn *c = arg;
    if ((what & BEV_EVENT_READING) && (what & BEV_EVENT_EOF)) {
        /* libevent has stopped reading; the reply in progress still goes out. */
        session_peer_closed(c->s);
        settle(c);
        return;
    }
    /* A read or write error (ECONNRESET, EPIPE): the peer is gone. */
    conn_free(c);
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg) {
    (void)lis, (void)sa, (void)salen;
    bev_loop *l = arg;
    lev_accepted(fd, l->tcp);
    conn *c = calloc(1, sizeof *c);
    if (c) c->s = session_new(&l->opts, l->stats);
    if (c && c->s) c->bev = bufferevent_socket_new(l->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c || !c->s || !c->bev) {
        close(fd);
        if (c) session_free(c->s);
        free(c);
        lev_closed();
        return;
    }
    c->l = l;
    session_set_owner(c->s, c);
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_setwatermark(c->bev, EV_WRITE, OUT_LOWAT, 0);
    bufferevent_set_max_single_write(c->bev, MAX_WRITE);
    /* A new bufferevent has writing enabled (idle until output is added)
     * and reading disabled. */
    bufferevent_enable(c->bev, EV_READ);
}

void bev_setup(struct event_base *base, int listen_fd, bool tcp, const session_opts *opts,
               session_stats *stats, unsigned handoff) {
    L.base = base;
    L.tcp = tcp;
    L.stats = stats;
    if (handoff) {
        L.wake = event_new(base, -1, 0, on_wake, &L);
        if (!L.wake) control_fatal("event_new failed");
    }
    L.hub = hub_new(&(hub_opts){.workers = handoff, .wake = wake_loop, .wake_arg = L.wake}, stats);
    if (!L.hub) control_fatal("cannot start %u hand-off workers: %s", handoff, strerror(errno));
    L.opts = *opts;
    L.opts.hub = L.hub;
    payload_src probe;
    if (payload_init(&probe, 1, 1) != 0) control_fatal("out of memory for the payload pattern");
    L.pattern = probe.pattern;
    payload_free(&probe);
    /* Backlog 0: the socket is listening already. */
    struct evconnlistener *lis = evconnlistener_new(
        base, on_accept, &L, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 0, listen_fd);
    if (!lis) control_fatal("evconnlistener_new failed");
    lev_listener_guard(lis, "libevent");
}
