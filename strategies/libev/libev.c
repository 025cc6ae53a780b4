/* libev strategy: the loop as libev's users write it. One ev_loop; an ev_io
 * on the listener; one ev_io per connection over the shared sans-I/O session;
 * an ev_check that collects hub output after each poll phase; with
 * --handoff N an ev_async that the workers send to.
 *
 * The backend is chosen explicitly: ev_loop_new(EVBACKEND_EPOLL |
 * EVFLAG_NOENV). On Linux libev's automatic choice is epoll too (what a node
 * linking libev would get), but naming it means LIBEV_FLAGS in the
 * environment cannot switch this strategy to poll or select, whose calls
 * would go uncounted; main() checks that the loop really got epoll.
 *
 * Per connection, the watcher's interest is kept equal to what the session
 * needs, as the epoll strategy keeps its epoll interest: EV_READ while
 * session_wants_input() (false applies backpressure, and after EOF), EV_WRITE
 * only while output is pending. Output is written as soon as it is produced
 * (after a read, or when the hub hands the session back); EV_WRITE waits only
 * for room after a full socket. An interest change is made the libev way:
 * ev_io_stop, ev_io_modify (the same fd, new events), ev_io_start, and only
 * when it changes. One read per EV_READ event (level-triggered: libev reports
 * the socket again if more is buffered), as the epoll strategy does, so what
 * differs from it is libev's loop itself. Reading, writing, accepting and
 * closing are the shared steps of net/stream_io.h.
 *
 * What libev 4.33 does underneath (seen with strace -f and in its epoll
 * backend): ev_io_start/ev_io_stop make no syscall. They only mark the fd
 * changed; before each epoll_wait, fd_reify compares each changed fd's
 * combined interest with what it had and issues one epoll_ctl (ADD for a new
 * fd, MOD for a changed mask) only if it differs, so a stop and a start in
 * the same iteration cost nothing. Losing all interest issues no
 * EPOLL_CTL_DEL: the fd stays in the kernel set with its old mask, and only
 * if it then reports an event nobody wants does libev fix that up (MOD or
 * DEL) after the epoll_wait. A closed fd leaves the set by itself (the
 * watcher is stopped before close, as libev requires), and a new connection
 * on the same fd number is added again (ev_io_init sets EV__IOFDSET, which
 * forces the ADD). epoll_wait gets a 64-event array that libev enlarges
 * whenever a wait fills it (64, 130, 262, 680, 1704 at 1000 peers). The
 * timeout is 59.743 s when nothing else is due (no timers here). ev_async
 * uses one eventfd, created at ev_async_start: ev_async_send writes it only
 * while the loop is (about to be) blocked in epoll_wait, otherwise it only
 * sets a flag the loop checks after polling (a peer-ping run with --handoff
 * 2: 550 sends, 15 eventfd writes); the loop reads it once when it fires.
 * In a round trip the loop makes read + write and no epoll_ctl, as the
 * epoll strategy does (strace -f -c: 20,000 pings over 100 peers, 20,038
 * reads, 20,003 writes, 243 epoll_wait, 101 epoll_ctl: the 100 connections'
 * and the listener's ADDs; no DEL, no eventfd or timerfd without --handoff).
 *
 * Output that reaches a connection from outside its own events (a relayed
 * inv, a hand-off worker's reply) is collected with hub_next() by an
 * ev_check watcher, which libev runs once per iteration after epoll_wait.
 * libev invokes pending watchers by priority, and within one priority the
 * check watchers would come first, so the check gets EV_MINPRI: it runs
 * after every I/O callback of the batch, as the epoll strategy's serve_hub
 * after its event loop. The ev_async's callback collects too (at once; the
 * check then finds nothing).
 *
 * Counting: this program does its own I/O through the sc_* wrappers (via
 * stream_io), and libev makes only epoll_ctl, epoll_wait and, with
 * --handoff, the eventfd read; those are counted by linking
 * net/interpose_poll.o alone (net/interpose.h), which also counts epoll_wait
 * returns with events as wakeups. Linking the full interposer would count
 * every read and write twice. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "../core/hub.h"
#include "../core/session.h"
#include "../net/control.h"
#include "../net/counters.h"
#include "../net/stream_io.h"

#define READ_BUF (64 * 1024)

typedef struct conn {
    ev_io io; /* first: the callback's watcher is the connection */
    session *s;
} conn;

static struct {
    struct ev_loop *loop;
    ev_io listener;
    ev_check collect; /* after every poll phase: hub output */
    ev_async wake;    /* hand-off replies are ready (only with --handoff) */
    bool tcp;
    hub *hub;
    session_opts opts;
    session_stats stats;
    /* Each read is handed to its session at once, and the session copies
     * what it keeps: one buffer serves every connection. */
    uint8_t buf[READ_BUF];
} g;

static void conn_close(conn *c) {
    /* Stop first: libev must not watch an fd that is closed (and a pending
     * event of this watcher is dropped with it). */
    ev_io_stop(g.loop, &c->io);
    stream_close(c->io.fd, c->s);
    free(c);
}

/* Keeps the watcher's interest equal to what the session needs. libev
 * applies the change (if any remains by then) with one epoll_ctl before the
 * next epoll_wait. */
static void rearm(conn *c) {
    int want = (session_wants_input(c->s) ? EV_READ : 0) | (session_output_pending(c->s) ? EV_WRITE : 0);
    int armed = ev_is_active(&c->io) ? c->io.events & (EV_READ | EV_WRITE) : 0;
    if (want == armed) return;
    if (armed) ev_io_stop(g.loop, &c->io);
    if (want) {
        ev_io_modify(&c->io, want);
        ev_io_start(g.loop, &c->io);
    }
}

/* Common tail of every event: write what the protocol produced, close when
 * it asks to, and adjust interest. Returns false if c was closed. */
static bool settle(conn *c, bool failed) {
    if (!failed && stream_flush(c->io.fd, c->s) == STREAM_FAILED) failed = true;
    if (failed || (session_should_close(c->s) && !session_output_pending(c->s))) {
        conn_close(c);
        return false;
    }
    rearm(c);
    return true;
}

static void on_conn(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop;
    conn *c = (conn *)w;
    /* EV_ERROR: libev could not watch the fd (never expected here). An
     * EPOLLHUP/EPOLLERR arrives as the events the watcher asked for: the read
     * or write then fails. EOF calls session_peer_closed(), which ends the
     * wish for input: settle() drops EV_READ and keeps writing the reply. */
    bool failed = (revents & EV_ERROR) != 0;
    if (!failed && (revents & EV_READ) && session_wants_input(c->s))
        failed = stream_read(w->fd, c->s, g.buf, sizeof g.buf) == READ_FAILED;
    settle(c, failed);
}

/* Connections that gained output from outside their own events: treated as
 * after a read (write, adjust interest, close when done). */
static void serve_hub(void) {
    session *s;
    while ((s = hub_next(g.hub))) settle(session_owner(s), false);
}

static void on_check(struct ev_loop *loop, ev_check *w, int revents) {
    (void)loop, (void)w, (void)revents;
    serve_hub();
}

/* A worker finished a reply; libev has read its eventfd already. */
static void on_wake(struct ev_loop *loop, ev_async *w, int revents) {
    (void)loop, (void)w, (void)revents;
    serve_hub();
}

/* hub_wake_fn: runs on a worker thread. ev_async_send is libev's
 * thread-safe call; it writes the eventfd only if the loop may be blocked
 * and no send is pending. */
static void wake_loop(void *arg) { ev_async_send(g.loop, arg); }

/* The listener is level-triggered: take every pending connection. */
static void on_accept(struct ev_loop *loop, ev_io *w, int revents) {
    (void)revents;
    int fd;
    while ((fd = stream_accept(w->fd, g.tcp, "libev")) >= 0) {
        conn *c = calloc(1, sizeof *c);
        if (c) c->s = session_new(&g.opts, &g.stats);
        if (!c || !c->s) {
            stream_close(fd, c ? c->s : NULL);
            free(c);
            continue;
        }
        session_set_owner(c->s, c);
        ev_io_init(&c->io, on_conn, fd, EV_READ);
        ev_io_start(loop, &c->io);
    }
}

int main(int argc, char **argv) {
    server_args args;
    server_args_parse(argc, argv, "libev", &args);
    endpoint bound;
    int listen_fd = server_listen(&args, &bound);
    g.tcp = bound.family != AF_UNIX;

    /* Setting up makes interposed calls: the eventfd of ev_async and, in the
     * first iteration, epoll_ctl for it and for the listener. That is
     * set-up, not data path, and the other strategies register their
     * listener with uncounted calls too: counting is paused until one
     * EVRUN_NOWAIT iteration has applied those registrations (before the
     * address is announced, so no connection can be waiting yet). */
    int counting = g_counting;
    g_counting = 0;
    g.loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
    if (!g.loop || ev_backend(g.loop) != EVBACKEND_EPOLL) control_fatal("libev: no epoll backend");
    /* The loop exists before the workers start: wake_loop reads g.loop. */
    g.hub = hub_new(&(hub_opts){.workers = args.handoff, .wake = wake_loop, .wake_arg = &g.wake}, &g.stats);
    if (!g.hub) control_fatal("cannot start %u hand-off workers: %s", args.handoff, strerror(errno));
    g.opts = (session_opts){.proto = args.proto, .verify_checksum = args.verify_checksum, .hub = g.hub};

    ev_io_init(&g.listener, on_accept, listen_fd, EV_READ);
    ev_io_start(g.loop, &g.listener);
    /* A check watcher does not shorten the poll timeout (an idle watcher
     * would): the loop still sleeps in epoll_wait until there is I/O. */
    ev_check_init(&g.collect, on_check);
    ev_set_priority(&g.collect, EV_MINPRI);
    ev_check_start(g.loop, &g.collect);
    /* Workers send only after the loop runs (they get jobs from
     * connections), so the watcher is started before any send. */
    if (args.handoff) {
        ev_async_init(&g.wake, on_wake);
        ev_async_start(g.loop, &g.wake);
    }
    ev_run(g.loop, EVRUN_NOWAIT);
    g_counting = counting;
    control_start(&args, &bound, &g.stats);

    /* Runs as long as the listener is active: forever. */
    ev_run(g.loop, 0);
    control_fatal("ev_run returned");
}
