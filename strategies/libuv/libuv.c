/* libuv strategy: the loop as libuv's users (Node, and servers written in its
 * style) write it. One uv_loop_t per loop thread; the listener adopted with
 * uv_tcp_open / uv_pipe_open and uv_listen; one uv_tcp_t / uv_pipe_t per
 * connection, read with uv_read_start and written with uv_write.
 *
 * One loop thread by default; --threads N runs N independent uv_loop_t
 * (net/loops.h), each with its own listener handle, connections, sessions,
 * hub and statistics (a `uvloop`, reached from any handle through
 * handle->loop->data), as a server running one libuv loop per thread would.
 * Over TCP each loop adopts a SO_REUSEPORT socket of its own and the kernel
 * spreads new connections; unix sockets have no SO_REUSEPORT, so each loop
 * adopts a dup() of the one listener (libuv owns and closes what it adopts):
 * every loop's epoll set watches it, a connection wakes them all, one accept
 * wins and the others get EAGAIN, which libuv's accept loop takes as "nothing
 * more" (counted as accept EAGAIN). With --handoff M as well, each loop's
 * hub has M workers of its own and wakes only that loop's uv_async_t.
 *
 * What libuv 1.44 does underneath on Linux is the thing measured: epoll,
 * level-triggered; interest changes are queued and applied with epoll_ctl
 * (ADD/MOD) just before the next epoll_wait, and a closed fd is removed with
 * EPOLL_CTL_DEL; a read event reads until a short read (at most 32 reads);
 * uv_write tries the write at once and arms EPOLLOUT only if the socket
 * took less than everything; its callback runs on the next loop iteration.
 * After every completed write libuv re-applies the watcher's unchanged mask
 * (uv__io_stop of POLLOUT queues it whether or not POLLOUT was armed), so a
 * request/response costs read + write + EPOLL_CTL_MOD (seen with strace).
 *
 * Output that reaches a connection from outside its own callbacks (a relayed
 * inv, a hand-off worker's reply) is collected from the hub by a uv_check_t
 * handle, which libuv runs once per loop iteration right after the I/O
 * callbacks of the poll phase: each session hub_next() returns gets the same
 * treatment as after a read (write, restart reading if the reply lifted the
 * backpressure, close when done). With --handoff N the workers wake the loop
 * with uv_async_send on one uv_async_t (libuv's own eventfd, watched by its
 * epoll set; sends coalesce while one is pending); its callback collects at
 * once. Without hand-off no async handle is created.
 *
 * The syscalls libuv makes are counted by net/interpose.c (linked into this
 * program), which defines read, writev, accept4, epoll_wait, ... so libuv's
 * calls bind to counting versions, and counts wakeups at epoll_wait. The one
 * exception is close: see note_close(). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "../core/hub.h"
#include "../core/session.h"
#include "../net/control.h"
#include "../net/loops.h"
#include "../net/counters.h"
#include "../net/syscalls.h"

#define READ_BUF (64 * 1024)
/* iovecs per uv_write, as the other strategies' writev. libuv copies more
 * than 4 buffers into a malloc'd array per request: part of its cost. */
#define MAX_IOV 64

typedef struct conn {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    uv_write_t wreq;  /* at most one write in flight: the protocol's output is one ordered stream */
    session *s;
    size_t in_flight; /* bytes of the write in flight; 0: none */
    bool reading;     /* uv_read_start is in effect */
    bool eof;         /* the peer finished sending: never read again */
} conn;

/* One loop thread's state. */
typedef struct {
    uv_loop_t loop; /* loop.data points back here */
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } listener;
    bool tcp;
    hub *hub;
    uv_check_t collect;  /* after every poll phase: hub output */
    uv_async_t wake;     /* hand-off replies are ready (only with --handoff) */
    session_opts opts;
    session_stats stats;
    /* libuv calls the read callback right after each read, and the session
     * copies what it keeps, so one buffer serves every connection. */
    char buf[READ_BUF];
} uvloop;

static uvloop *of_loop(const uv_loop_t *loop) { return loop->data; }

/* libuv closes descriptors with syscall(SYS_close, fd) (uv__close_nocancel:
 * close() without being a cancellation point), which interposition cannot
 * see. uv_close() on a stream closes its fd before returning, so the call is
 * counted here, right after it, as a call made through a library is. */
static void note_close(void) { sc_note(SC_CLOSE, 0); }

static void on_closed(uv_handle_t *h) {
    conn *c = h->data;
    CTR_ADD(closed, 1);
    session_free(c->s);
    free(c);
}

/* Idempotent: a failed read and a cancelled write can both ask. A write in
 * flight is cancelled (its callback sees UV_ECANCELED) before on_closed
 * runs, so the connection is freed only once libuv is done with it. */
static void conn_close(conn *c) {
    if (uv_is_closing(&c->h.handle)) return;
    uv_close(&c->h.handle, on_closed);
    note_close();
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    uvloop *u = of_loop(h->loop);
    *buf = uv_buf_init(u->buf, sizeof u->buf);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void on_write(uv_write_t *req, int status);

static bool read_start(conn *c) {
    if (uv_read_start(&c->h.stream, on_alloc, on_read) != 0) return false;
    c->reading = true;
    return true;
}

/* Hands libuv the oldest pending output. The iovecs point into the session's
 * output queue, which keeps those bytes in place until
 * session_output_done(), even while later input queues more. */
static bool start_write(conn *c) {
    struct iovec iov[MAX_IOV];
    uv_buf_t bufs[MAX_IOV];
    size_t n = session_output_iov(c->s, iov, MAX_IOV), total = 0;
    for (size_t i = 0; i < n; i++) {
        bufs[i].base = iov[i].iov_base;
        bufs[i].len = iov[i].iov_len;
        total += iov[i].iov_len;
    }
    if (uv_write(&c->wreq, &c->h.stream, bufs, (unsigned)n, on_write) != 0) return false;
    c->in_flight = total;
    return true;
}

/* Common tail of every callback: write what the protocol produced, close when
 * it is done, and read exactly while it wants input (backpressure). */
static void settle(conn *c) {
    if (!c->in_flight && session_output_pending(c->s) && !start_write(c)) {
        conn_close(c);
        return;
    }
    if (!c->in_flight && session_should_close(c->s)) {
        conn_close(c);
        return;
    }
    bool want = !c->eof && session_wants_input(c->s);
    if (want && !c->reading) {
        if (!read_start(c)) conn_close(c);
    } else if (!want && c->reading) {
        /* Also ends libuv's read burst on this socket. */
        uv_read_stop(&c->h.stream);
        c->reading = false;
    }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    conn *c = stream->data;
    if (nread > 0) {
        session_input(c->s, (const uint8_t *)buf->base, (size_t)nread);
    } else if (nread == UV_EOF) {
        /* libuv has stopped reading already; finish the replies, then close. */
        c->eof = true;
        c->reading = false;
        session_peer_closed(c->s);
    } else if (nread < 0) {
        conn_close(c); /* ECONNRESET and the like: the peer is gone */
        return;
    } else {
        return; /* 0: the socket was drained (EAGAIN); nothing changed */
    }
    settle(c);
}

static void on_write(uv_write_t *req, int status) {
    conn *c = req->handle->data;
    size_t n = c->in_flight;
    c->in_flight = 0;
    if (status < 0) {
        conn_close(c); /* EPIPE, ECONNRESET; or UV_ECANCELED while closing (a no-op then) */
        return;
    }
    /* uv_write completes only when every byte is written. */
    session_output_done(c->s, n);
    settle(c); /* writes what is left; reads again if the output has drained */
}

/* Connections that gained output from outside their own callbacks. A
 * connection already closing (uv_close called, on_closed not run yet: its
 * session is still registered for relay) is left alone. */
static void serve_hub(uvloop *u) {
    session *s;
    while ((s = hub_next(u->hub))) {
        conn *c = session_owner(s);
        if (!uv_is_closing(&c->h.handle)) settle(c);
    }
}

static void on_check(uv_check_t *h) { serve_hub(of_loop(h->loop)); }

/* A worker finished a reply; libuv has read its eventfd already. */
static void on_wake(uv_async_t *h) { serve_hub(of_loop(h->loop)); }

/* hub_wake_fn: runs on a worker thread. uv_async_send is libuv's one
 * thread-safe call; it writes the loop's eventfd unless a send is pending. */
static void wake_loop(void *arg) { uv_async_send(arg); }

static void on_closed_unaccepted(uv_handle_t *h) { free(h->data); }

static void on_connection(uv_stream_t *server, int status) {
    if (status < 0) {
        fprintf(stderr, "libuv: accept: %s\n", uv_strerror(status));
        return;
    }
    /* Without a handle to accept into, libuv would stop watching the
     * listener for good (it waits for the pending connection to be taken):
     * out of memory is fatal here, as it is in Node. */
    uvloop *u = of_loop(server->loop);
    conn *c = calloc(1, sizeof *c);
    if (!c) control_fatal("out of memory for a connection");
    /* Cannot fail for a loop that is running (both only initialise fields). */
    if (u->tcp) uv_tcp_init(&u->loop, &c->h.tcp);
    else uv_pipe_init(&u->loop, &c->h.pipe, 0);
    c->h.handle.data = c;
    int err = uv_accept(server, &c->h.stream);
    if (err != 0) {
        fprintf(stderr, "libuv: uv_accept: %s\n", uv_strerror(err));
        uv_close(&c->h.handle, on_closed_unaccepted);
        return;
    }
    CTR_ADD(accepted, 1);
    /* Replies are small and latency-bound: no Nagle delay, as every strategy. */
    if (u->tcp) uv_tcp_nodelay(&c->h.tcp, 1);
    c->s = session_new(&u->opts, &u->stats);
    if (c->s) session_set_owner(c->s, c);
    if (!c->s || !read_start(c)) conn_close(c);
}

typedef struct {
    server_args args;
    listeners ls;
} uv_ctx;

/* Runs on loop i's own thread, before the server is announced. */
static void *loop_setup(unsigned i, void *arg) {
    const uv_ctx *x = arg;
    uvloop *u = calloc(1, sizeof *u);
    if (!u) control_fatal("out of memory for loop %u", i);
    u->tcp = x->ls.tcp;
    u->hub = hub_new(&(hub_opts){.workers = x->args.handoff, .wake = wake_loop, .wake_arg = &u->wake}, &u->stats);
    if (!u->hub) control_fatal("cannot start %u hand-off workers: %s", x->args.handoff, strerror(errno));
    u->opts = (session_opts){.proto = x->args.proto, .verify_checksum = x->args.verify_checksum, .hub = u->hub};

    /* Setting the loop up makes syscalls through the interposed symbols:
     * libuv's signal-lock pipe write, and (on the first iteration) epoll_ctl
     * for its internal eventfd, signal pipe and the listener. That is set-up,
     * not data path, and other strategies register their listener with
     * uncounted calls too: counting is paused until the loop has applied
     * those registrations (one UV_RUN_NOWAIT iteration, before the address
     * is announced, so no connection can be waiting yet). The pause is this
     * thread's alone (its counters block set aside: calls of a thread
     * without one are not counted), so a loop that is set up while another
     * is already waiting neither stops that one's counting nor races with it. */
    counters *block = tl_counters;
    tl_counters = NULL;
    int err = uv_loop_init(&u->loop);
    if (err != 0) control_fatal("uv_loop_init: %s", uv_strerror(err));
    u->loop.data = u;
    /* libuv closes the descriptor it adopts: a loop sharing the listener
     * adopts a duplicate of it (same socket, own descriptor). */
    int fd = x->ls.fd[i];
    if (i > 0 && !x->ls.separate && (fd = fcntl(x->ls.fd[0], F_DUPFD_CLOEXEC, 0)) < 0)
        control_fatal("dup of the listener for loop %u: %s", i, strerror(errno));
    /* Adopt the listening socket; uv_listen then only re-issues listen() with
     * the same backlog and watches it for EPOLLIN. */
    if (u->tcp) {
        err = uv_tcp_init(&u->loop, &u->listener.tcp);
        if (err == 0) err = uv_tcp_open(&u->listener.tcp, fd);
    } else {
        err = uv_pipe_init(&u->loop, &u->listener.pipe, 0);
        if (err == 0) err = uv_pipe_open(&u->listener.pipe, fd);
    }
    if (err == 0) err = uv_listen(&u->listener.stream, x->args.backlog, on_connection);
    if (err != 0) control_fatal("adopting the listener: %s", uv_strerror(err));
    /* A check handle does not shorten libuv's poll timeout: the loop still
     * sleeps in epoll_wait until there is I/O, and this runs after each. */
    if (uv_check_init(&u->loop, &u->collect) != 0 || uv_check_start(&u->collect, on_check) != 0)
        control_fatal("uv_check_start failed");
    /* Workers call uv_async_send only after uv_run has started (they get
     * jobs from connections), so the handle is ready before any send. */
    if (x->args.handoff && (err = uv_async_init(&u->loop, &u->wake, on_wake)) != 0)
        control_fatal("uv_async_init: %s", uv_strerror(err));
    uv_run(&u->loop, UV_RUN_NOWAIT);
    tl_counters = block;
    control_add_stats(&u->stats);
    return u;
}

/* Runs as long as the listener is active: forever. */
static void loop_run(void *arg) {
    uvloop *u = arg;
    uv_run(&u->loop, UV_RUN_DEFAULT);
    control_fatal("uv_run returned");
}

int main(int argc, char **argv) {
    static uv_ctx x;
    server_args_parse(argc, argv, "libuv", &x.args);
    listeners_open(&x.args, LISTEN_REUSEPORT, &x.ls);
    const char *threading = x.args.threads == 1 ? "one uv_loop"
                            : x.ls.separate    ? "uv_loop per thread, SO_REUSEPORT listener per thread"
                                               : "uv_loop per thread, one shared listener (a dup per loop)";
    loops_run(&x.args, &x.ls.bound, threading, &(loops_spec){.setup = loop_setup, .run = loop_run, .ctx = &x});
}
