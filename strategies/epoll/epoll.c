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
 * fair, a connection gets at most READS_PER_TURN reads and
 * STREAM_WRITES_PER_TURN writes per turn; one
 * that could still do more goes on a ready list served after the batch, and
 * epoll_wait does not block while that list is non-empty.
 *
 * Threads (--threads N): N independent loops, each with its own epoll set,
 * connections, sessions and hub; nothing on the data path is shared. How new
 * connections reach a loop is the threading model:
 *   - default: one SO_REUSEPORT listener per loop (TCP); the kernel hashes
 *     each new connection to one socket, so no loop ever sees another's;
 *   - --shared-listener: one listener in every loop's epoll set with
 *     EPOLLEXCLUSIVE, so a new connection wakes one waiting loop, not all
 *     (without it every loop wakes and all but one find accept() empty).
 * Unix sockets have no SO_REUSEPORT: their loops always share the listener
 * with EPOLLEXCLUSIVE. A loop that shares the listener accepts one
 * connection per wake-up (SHARED_ACCEPTS), as nginx without multi_accept:
 * draining the queue would hand a whole burst to whichever loop woke first.
 * Even so the kernel often wakes the same loop again (the snapshot's
 * loop_connections shows the spread; 100/0 is common on a burst).
 * (EPOLLEXCLUSIVE acts between epoll sets watching one file; N threads
 * waiting on a single shared epoll set would need EPOLLONESHOT and a re-arm
 * per event instead, and a connection could not stay with one thread.)
 *
 * Both modes: a connection whose peer sent EOF is still written to until its
 * reply is complete. Output that arrives from outside a connection's own
 * events (a relayed inv, a hand-off worker's reply) is collected from the hub
 * after each batch; workers wake the loop through an eventfd in the set. Accepting, reading, writing and closing are the shared
 * steps of net/stream_io.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../core/hub.h"
#include "../core/session.h"
#include "../net/control.h"
#include "../net/loops.h"
#include "../net/stream_io.h"
#include "../net/syscalls.h"
#include "../net/wakefd.h"

#define MAX_EVENTS 512
#define READ_BUF (64 * 1024)
#define READS_PER_TURN 16
#define SHARED_ACCEPTS 1

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
    int wake_fd; /* hand-off replies are ready (-1 without hand-off) */
    bool edge, tcp;
    int accept_limit; /* accepts per listener event (shared listener), 0: until EAGAIN */
    hub *hub;
    session_opts opts;
    session_stats stats;
    uint8_t buf[READ_BUF];
    conn *ready; /* ET: connections with I/O left after their turn */
} loop;

static void conn_close(conn *c) {
    stream_close(c->fd, c->s); /* closing the fd also removes it from the epoll set */
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

/* LT writes whenever output is pending (EPOLLOUT then waits for room); ET
 * only while no EAGAIN has been seen since the last EPOLLOUT edge. Returns
 * false if the connection failed. */
static bool flush(loop *l, conn *c) {
    if (l->edge) return stream_flush_edge(c->fd, c->s, &c->writable);
    return stream_flush(c->fd, c->s) != STREAM_FAILED;
}

static bool read_once(loop *l, conn *c) {
    return stream_read_edge(c->fd, c->s, l->buf, sizeof l->buf, &c->readable, c->peer_shut);
}

/* Common tail of every event: write what the protocol produced, close when
 * it asks to, and (LT) adjust interest. Returns false if c was closed. */
static bool settle(loop *l, conn *c, bool failed) {
    if (!failed && !flush(l, c)) failed = true;
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
    for (int reads = 0; c->readable && session_wants_input(c->s) && reads < READS_PER_TURN; reads++) {
        if (!read_once(l, c) || !flush(l, c)) {
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

/* Connections that gained output from outside their own events. */
static void serve_hub(loop *l) {
    session *s;
    while ((s = hub_next(l->hub))) {
        conn *c = session_owner(s);
        if (!l->edge) settle(l, c, false);
        else if (!c->on_ready_list) serve_et(l, c); /* may also read again: the reply unblocked input */
    }
}

static void accept_all(loop *l) {
    int fd;
    for (int n = 0; (l->accept_limit == 0 || n < l->accept_limit) && (fd = stream_accept(l->listen_fd, l->tcp, "epoll")) >= 0; n++) {
        conn *c = calloc(1, sizeof *c);
        if (c) c->s = session_new(&l->opts, &l->stats);
        if (!c || !c->s) {
            stream_close(fd, c ? c->s : NULL);
            free(c);
            continue;
        }
        c->fd = fd;
        session_set_owner(c->s, c);
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

typedef struct {
    server_args args;
    listeners ls;
} server;

static char wake_tag; /* marks the eventfds' events (its address is the tag) */

/* loops_spec.setup: loop i, on its own thread. */
static void *loop_setup(unsigned i, void *ctx) {
    server *sv = ctx;
    loop *l = calloc(1, sizeof *l); /* large read buffer: keep it off the stack */
    if (!l) control_fatal("out of memory for loop %u", i);
    l->edge = sv->args.edge_triggered;
    l->hub = wakefd_hub(sv->args.handoff, &l->stats, &l->wake_fd);
    l->opts = (session_opts){.proto = sv->args.proto, .verify_checksum = sv->args.verify_checksum, .hub = l->hub};
    l->listen_fd = sv->ls.fd[i];
    l->tcp = sv->ls.tcp;
    bool shared = sv->ls.n > 1 && !sv->ls.separate;
    l->accept_limit = shared ? SHARED_ACCEPTS : 0;
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    if (l->ep < 0) control_fatal("epoll_create1: %s", strerror(errno));
    /* The listener is always level-triggered: accept_all drains it (or takes
     * its share, when shared). */
    struct epoll_event lev = {.events = EPOLLIN | (shared ? EPOLLEXCLUSIVE : 0), .data.ptr = NULL};
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, l->listen_fd, &lev) != 0)
        control_fatal("epoll_ctl(listener): %s", strerror(errno));
    struct epoll_event wev = {.events = EPOLLIN, .data.ptr = &wake_tag};
    if (l->wake_fd >= 0 && epoll_ctl(l->ep, EPOLL_CTL_ADD, l->wake_fd, &wev) != 0)
        control_fatal("epoll_ctl(eventfd): %s", strerror(errno));
    control_add_stats(&l->stats);
    return l;
}

static void loop_run(void *arg) {
    loop *l = arg;
    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = sc_epoll_wait(l->ep, events, MAX_EVENTS, l->ready ? 0 : -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            control_fatal("epoll_wait: %s", strerror(errno));
        }
        /* A non-blocking poll that found nothing (ready list pending) is a
         * syscall, but not a wakeup. */
        if (n > 0) sc_wakeup((unsigned)n);
        for (int i = 0; i < n; i++) {
            conn *c = events[i].data.ptr;
            if (!c) accept_all(l);
            else if (c == (void *)&wake_tag) wakefd_drain(l->wake_fd);
            else if (l->edge) handle_et(l, c, events[i].events);
            else handle_lt(l, c, events[i].events);
        }
        if (l->edge) drain_ready_list(l);
        serve_hub(l);
    }
}

int main(int argc, char **argv) {
    static server sv;
    /* Our own flag comes out of argv before the common parser sees it. */
    bool shared = false;
    int kept = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--shared-listener")) shared = true;
        else argv[kept++] = argv[i];
    }
    argc = kept;
    argv[argc] = NULL;
    server_args_parse(argc, argv, "epoll", &sv.args);
    if (sv.args.threads > 1 && sv.args.handoff > 0)
        control_fatal("--handoff with --threads: hand-off workers serve one loop; use one or the other");
    listeners_open(&sv.args, shared ? LISTEN_SHARED : LISTEN_REUSEPORT, &sv.ls);
    const char *model = sv.ls.n == 1 ? "one loop"
                        : sv.ls.separate ? "loop per thread, SO_REUSEPORT listener per loop"
                                         : "loop per thread, one listener shared with EPOLLEXCLUSIVE";
    loops_run(&sv.args, &sv.ls.bound, model, &(loops_spec){.setup = loop_setup, .run = loop_run, .ctx = &sv});
}
