/* epoll strategy: one thread, one epoll set, non-blocking sockets.
 *
 * Level-triggered (default), the way most hand-written loops use epoll:
 * EPOLLIN is armed while the protocol wants input; one read per readiness
 * event (epoll reports the socket again if more is buffered, which keeps
 * connections fair); a write is tried as soon as output is produced and
 * EPOLLOUT is armed only while output is still pending.
 *
 * Edge-triggered (--edge-triggered): every socket is registered once with
 * EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET and never modified, so the data path
 * makes no epoll_ctl calls. An edge only says "something changed": the loop
 * remembers readiness per connection and reads/writes until the kernel says
 * EAGAIN (or a short read/write shows the socket is drained/full). To stay
 * fair, a connection gets at most IO_PER_TURN reads and writes per turn; one
 * that could still do more goes on a ready list served after the batch, and
 * epoll_wait does not block while that list is non-empty.
 *
 * Both modes: a connection whose peer sent EOF is still written to until its
 * reply is complete; accept survives EMFILE with a reserve descriptor. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../core/session.h"
#include "../net/control.h"
#include "../net/syscalls.h"

#define MAX_EVENTS 512
#define READ_BUF (64 * 1024)
#define MAX_IOV 64
#define IO_PER_TURN 16

typedef struct conn {
    int fd;
    session *s;
    uint32_t armed;       /* LT: events currently registered */
    bool readable;        /* ET: input may be waiting in the socket */
    bool writable;        /* ET: the socket buffer may have room */
    bool peer_shut;       /* ET: EPOLLRDHUP seen, so read on until EOF */
    bool on_ready_list;
    struct conn *next_ready;
} conn;

typedef struct {
    int ep, listen_fd;
    int reserve_fd; /* spare descriptor, given up to shed a connection on EMFILE */
    bool edge, tcp;
    session_opts opts;
    session_stats stats;
    uint8_t buf[READ_BUF];
    conn *ready; /* ET: connections with I/O left after their turn */
} loop;

static void conn_close(conn *c) {
    sc_close(c->fd); /* closing the fd also removes it from the epoll set */
    ctr_add(&g_counters.closed, 1);
    session_free(c->s);
    free(c);
}

/* LT: keep the registered interest equal to what the connection needs. */
static void rearm(loop *l, conn *c) {
    uint32_t want = 0;
    if (session_wants_input(c->s)) want |= EPOLLIN;
    if (session_output_pending(c->s)) want |= EPOLLOUT;
    if (want == c->armed) return;
    struct epoll_event ev = {.events = want, .data.ptr = c};
    sc_epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->armed = want;
}

/* Writes pending output until done, full, or IO_PER_TURN writes. Returns
 * false if the connection failed. */
static bool flush(conn *c) {
    struct iovec iov[MAX_IOV];
    for (int turn = 0; turn < IO_PER_TURN && session_output_pending(c->s); turn++) {
        size_t n = session_output_iov(c->s, iov, MAX_IOV);
        ssize_t w = n == 1 ? sc_write(c->fd, iov[0].iov_base, iov[0].iov_len)
                           : sc_writev(c->fd, iov, (int)n);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                c->writable = false;
                return true;
            }
            if (errno == EINTR) continue;
            return false; /* EPIPE, ECONNRESET: the peer is gone */
        }
        size_t asked = 0;
        for (size_t i = 0; i < n; i++) asked += iov[i].iov_len;
        session_output_done(c->s, (size_t)w);
        if ((size_t)w < asked) {
            /* A short write means the socket buffer is full: waiting for
             * EPOLLOUT saves the write that would only return EAGAIN. */
            c->writable = false;
            return true;
        }
    }
    return true;
}

/* One read into the loop's buffer. Returns false when the connection failed. */
static bool read_once(loop *l, conn *c) {
    ssize_t r = sc_read(c->fd, l->buf, sizeof l->buf);
    if (r > 0) {
        /* ET: a short read drained the socket; new data raises a new edge,
         * so the read that would only return EAGAIN is skipped (as nginx does). */
        if ((size_t)r < sizeof l->buf && !c->peer_shut) c->readable = false;
        session_input(c->s, l->buf, (size_t)r);
        return true;
    }
    if (r == 0) {
        c->readable = false;
        session_peer_closed(c->s); /* EOF: finish the replies, then close */
        return true;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        c->readable = false;
        return true;
    }
    return errno == EINTR;
}

/* Common tail of every event: write what the protocol produced, close when
 * it asks to, and (LT) adjust interest. Returns false if c was closed. */
static bool settle(loop *l, conn *c, bool failed) {
    if (!failed && (!l->edge || c->writable) && !flush(c)) failed = true;
    if (failed || (session_should_close(c->s) && !session_output_pending(c->s))) {
        conn_close(c);
        return false;
    }
    if (!l->edge) rearm(l, c);
    return true;
}

static void handle_lt(loop *l, conn *c, uint32_t events) {
    bool failed = false;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        if (session_wants_input(c->s)) failed = !read_once(l, c);
        /* Not reading: HUP/ERR still mean the connection is dead (a peer that
         * only half-closed raises neither). */
        else if (events & (EPOLLHUP | EPOLLERR)) failed = true;
    }
    settle(l, c, failed);
}

static bool et_has_work(const conn *c) {
    return (c->readable && session_wants_input(c->s)) ||
           (c->writable && session_output_pending(c->s));
}

/* ET: read while the socket has data and the protocol takes it, writing
 * between reads so replies are not held back by a long read burst. */
static void serve_et(loop *l, conn *c) {
    bool failed = false;
    for (int reads = 0; c->readable && session_wants_input(c->s) && reads < IO_PER_TURN; reads++) {
        if (!read_once(l, c) || (c->writable && !flush(c))) {
            failed = true;
            break;
        }
    }
    if (!settle(l, c, failed)) return;
    if (et_has_work(c) && !c->on_ready_list) {
        c->on_ready_list = true;
        c->next_ready = l->ready;
        l->ready = c;
    }
}

static void handle_et(loop *l, conn *c, uint32_t events) {
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->readable = true;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->peer_shut = true;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) c->writable = true;
    if (c->on_ready_list) return; /* served when the ready list is drained */
    serve_et(l, c);
}

static void drain_ready_list(loop *l) {
    conn *list = l->ready;
    l->ready = NULL;
    while (list) {
        conn *c = list;
        list = c->next_ready;
        c->on_ready_list = false;
        serve_et(l, c);
    }
}

/* Out of descriptors: the pending connection would make a level-triggered
 * listener fire forever. Give up the reserve descriptor, accept and close the
 * connection (the client sees it refused), and take the reserve back — the
 * approach libuv and libev use. */
static void shed_connection(loop *l) {
    if (l->reserve_fd < 0) return;
    close(l->reserve_fd);
    int fd = sc_accept4(l->listen_fd, SOCK_CLOEXEC);
    if (fd >= 0) sc_close(fd);
    l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    fprintf(stderr, "epoll: out of file descriptors: shed one connection\n");
}

static void accept_all(loop *l) {
    for (;;) {
        int fd = sc_accept4(l->listen_fd, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE) shed_connection(l);
            else if (errno != EAGAIN && errno != EWOULDBLOCK) fprintf(stderr, "epoll: accept: %s\n", strerror(errno));
            return;
        }
        ctr_add(&g_counters.accepted, 1);
        if (l->tcp) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        conn *c = calloc(1, sizeof *c);
        if (c) c->s = session_new(&l->opts, &l->stats);
        if (!c || !c->s) {
            free(c);
            sc_close(fd);
            ctr_add(&g_counters.closed, 1);
            continue;
        }
        c->fd = fd;
        struct epoll_event ev = {.data.ptr = c};
        if (l->edge) {
            ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
            c->writable = true;
        } else {
            ev.events = c->armed = EPOLLIN;
        }
        if (sc_epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) != 0) conn_close(c);
    }
}

int main(int argc, char **argv) {
    server_args args;
    server_args_parse(argc, argv, "epoll", &args);
    static loop l; /* large read buffer: keep it off the stack */
    l.edge = args.edge_triggered;
    l.opts = (session_opts){.proto = args.proto, .verify_checksum = args.verify_checksum};
    endpoint bound;
    l.listen_fd = server_listen(&args, &bound);
    l.tcp = bound.family != AF_UNIX;
    l.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    l.ep = epoll_create1(EPOLL_CLOEXEC);
    if (l.ep < 0) control_fatal("epoll_create1: %s", strerror(errno));
    /* The listener is always level-triggered: accept_all drains it anyway. */
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(l.ep, EPOLL_CTL_ADD, l.listen_fd, &lev) != 0)
        control_fatal("epoll_ctl(listener): %s", strerror(errno));
    control_start(&args, &bound, &l.stats);

    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = sc_epoll_wait(l.ep, events, MAX_EVENTS, l.ready ? 0 : -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            control_fatal("epoll_wait: %s", strerror(errno));
        }
        /* A non-blocking poll that found nothing (ready list pending) is a
         * syscall, but not a wakeup. */
        if (n > 0) sc_wakeup((unsigned)n);
        for (int i = 0; i < n; i++) {
            conn *c = events[i].data.ptr;
            if (!c) accept_all(&l);
            else if (l.edge) handle_et(&l, c, events[i].events);
            else handle_lt(&l, c, events[i].events);
        }
        if (l.edge) drain_ready_list(&l);
    }
}
