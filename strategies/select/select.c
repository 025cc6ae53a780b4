/* select strategy: one thread, the classic select() loop, non-blocking sockets.
 *
 * Every iteration rebuilds the read and write sets from what each connection
 * needs (read interest while the protocol wants input, write interest while
 * output is pending), calls select() with no timeout, and scans the
 * connections for their bits. That rebuild-and-scan, linear in the number of
 * connections per wakeup in user space and again in the kernel, is the cost
 * this strategy exists to measure. The I/O per ready socket is that of
 * level-triggered epoll: one read per readiness (select reports the socket
 * again if more is buffered, which keeps connections fair), and a write as
 * soon as input produced output; the write set only waits for sockets whose
 * output did not fit.
 *
 * Sets beyond FD_SETSIZE: an fd_set is a fixed array of FD_SETSIZE (1024)
 * bits, and FD_SET on a larger descriptor writes past it (glibc's fortified
 * FD_SET aborts instead). 1000 peers plus the listener, stdio and the reserve
 * descriptor cross that. The sets here are therefore arrays of unsigned long
 * on the heap, sized for the highest descriptor, with bits set and tested by
 * hand: Linux's select() accepts any nfds up to RLIMIT_NOFILE and reads
 * exactly ceil(nfds / bits per long) longs from each set, in the same layout
 * as an fd_set (bit fd % bits-per-long of word fd / bits-per-long), so the
 * arrays are passed as fd_set pointers.
 *
 * Output that arrives from outside a connection's own readiness (a relayed
 * inv, a reply built by a hand-off worker) is collected from the hub after
 * each select() round and written at once, like any reply; what does not fit
 * waits for the write set as usual. Hand-off workers wake the loop through an
 * eventfd kept in the read set (created only with --handoff): the loop reads
 * it to re-arm it before collecting, so a reply that finishes while the loop
 * collects raises a new wake-up instead of being lost. Without hand-off,
 * select() still waits with no timeout: relayed output is produced by the
 * loop itself, during a round, and collected at its end.
 *
 * A connection whose peer sent EOF is still written to until its reply is
 * complete. Accepting, reading, writing and closing are the shared steps of
 * net/stream_io.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/hub.h"
#include "../core/session.h"
#include "../net/control.h"
#include "../net/stream_io.h"
#include "../net/syscalls.h"
#include "../net/wakefd.h"

#define READ_BUF (64 * 1024)
#define WORD_BITS (8 * sizeof(unsigned long))

typedef struct {
    int fd;
    session *s;
} conn;

typedef struct {
    int listen_fd;
    int wake_fd; /* hand-off replies are ready (-1 without hand-off) */
    bool tcp;
    hub *hub;
    session_opts opts;
    session_stats stats;
    conn *conns; /* dense: closing one moves the last into its place */
    size_t nconns, cap;
    unsigned long *rset, *wset; /* select's bitmaps, `words` longs each */
    size_t words;
    uint8_t buf[READ_BUF];
} loop;

static void bit_set(unsigned long *set, int fd) {
    set[(unsigned)fd / WORD_BITS] |= 1UL << ((unsigned)fd % WORD_BITS);
}

static bool bit_isset(const unsigned long *set, int fd) {
    return (set[(unsigned)fd / WORD_BITS] >> ((unsigned)fd % WORD_BITS)) & 1;
}

/* Grows both sets so they can hold fd. They only grow: the highest
 * descriptor seen bounds their size, which stays small (128 bytes per 1024). */
static bool sets_fit(loop *l, int fd) {
    size_t need = (unsigned)fd / WORD_BITS + 1;
    if (need <= l->words) return true;
    size_t words = l->words * 2 > need ? l->words * 2 : need;
    unsigned long *r = realloc(l->rset, words * sizeof *r);
    if (!r) return false;
    l->rset = r;
    unsigned long *w = realloc(l->wset, words * sizeof *w);
    if (!w) return false; /* rset is merely larger than `words` says */
    l->wset = w;
    l->words = words;
    return true;
}

/* A session's owner is its connection's index in the dense array (not a
 * pointer: the array moves when it grows, and closing moves entries). */
static void set_index(session *s, size_t i) { session_set_owner(s, (void *)(uintptr_t)i); }
static size_t index_of(const session *s) { return (size_t)(uintptr_t)session_owner(s); }

/* Closes conns[i]; the last connection takes its slot (and learns its new
 * index, so the hub can still lead to it). */
static void conn_close(loop *l, size_t i) {
    conn *c = &l->conns[i];
    stream_close(c->fd, c->s);
    *c = l->conns[--l->nconns];
    if (i < l->nconns) set_index(c->s, i);
}

/* After a connection's protocol may have produced output: write it, and close
 * when the protocol is done with nothing left to send. Returns false if the
 * connection was closed. */
static bool settle(loop *l, size_t i, bool failed) {
    conn *c = &l->conns[i];
    if (!failed && stream_flush(c->fd, c->s) == STREAM_FAILED) failed = true;
    if (failed || (session_should_close(c->s) && !session_output_pending(c->s))) {
        conn_close(l, i);
        return false;
    }
    return true;
}

/* Serves one ready connection: read if it was in the read set (it was put
 * there only because it wanted input), then write what the protocol produced,
 * and close when it asks to. Select has no hang-up bit: a dead peer shows as
 * readable (the read fails or sees EOF) or writable (the write fails with
 * EPIPE/ECONNRESET). Returns false if the connection was closed. */
static bool handle(loop *l, size_t i, bool readable) {
    conn *c = &l->conns[i];
    bool failed = readable && stream_read(c->fd, c->s, l->buf, sizeof l->buf) == READ_FAILED;
    return settle(l, i, failed);
}

/* Connections that gained output from outside their own readiness. */
static void serve_hub(loop *l) {
    session *s;
    while ((s = hub_next(l->hub))) settle(l, index_of(s), false);
}

/* Rebuilds both sets from what each connection needs now. Returns nfds.
 * The whole capacity is cleared (the highest fd is only known at the end);
 * select reads only the first nfds bits. */
static int build_sets(loop *l) {
    memset(l->rset, 0, l->words * sizeof *l->rset);
    memset(l->wset, 0, l->words * sizeof *l->wset);
    bit_set(l->rset, l->listen_fd);
    int maxfd = l->listen_fd;
    if (l->wake_fd >= 0) {
        bit_set(l->rset, l->wake_fd);
        if (l->wake_fd > maxfd) maxfd = l->wake_fd;
    }
    for (size_t i = 0; i < l->nconns; i++) {
        const conn *c = &l->conns[i];
        bool r = session_wants_input(c->s), w = session_output_pending(c->s) > 0;
        if (r) bit_set(l->rset, c->fd);
        if (w) bit_set(l->wset, c->fd);
        if ((r || w) && c->fd > maxfd) maxfd = c->fd;
    }
    return maxfd + 1;
}

static bool conn_add(loop *l, int fd) {
    if (l->nconns == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        conn *grown = realloc(l->conns, cap * sizeof *grown);
        if (!grown) return false;
        l->conns = grown;
        l->cap = cap;
    }
    if (!sets_fit(l, fd)) return false;
    session *s = session_new(&l->opts, &l->stats);
    if (!s) return false;
    set_index(s, l->nconns);
    l->conns[l->nconns++] = (conn){.fd = fd, .s = s};
    return true;
}

static void accept_all(loop *l) {
    int fd;
    while ((fd = stream_accept(l->listen_fd, l->tcp, "select")) >= 0)
        if (!conn_add(l, fd)) stream_close(fd, NULL);
}

/* Scans the connections for the bits select set. nready (select's count of
 * set bits) lets the scan stop once every ready descriptor has been served,
 * as in Stevens' loop. The eventfd is read first, before the hub is asked
 * for replies at the end of the round. A closed connection's slot is taken
 * by the last one, not yet scanned, so the same index is looked at again.
 * New connections are accepted after the scan: appended then, they cannot be
 * confused with the bits of this round. */
static void serve(loop *l, int nready) {
    bool accept_ready = bit_isset(l->rset, l->listen_fd);
    nready -= accept_ready;
    if (l->wake_fd >= 0 && bit_isset(l->rset, l->wake_fd)) {
        wakefd_drain(l->wake_fd);
        nready--;
    }
    for (size_t i = 0; i < l->nconns && nready > 0;) {
        int fd = l->conns[i].fd;
        bool r = bit_isset(l->rset, fd), w = bit_isset(l->wset, fd);
        if (!r && !w) {
            i++;
            continue;
        }
        nready -= r + w;
        if (handle(l, i, r)) i++;
    }
    if (accept_ready) accept_all(l);
}

int main(int argc, char **argv) {
    server_args args;
    server_args_parse(argc, argv, "select", &args);
    static loop l; /* large read buffer: keep it off the stack */
    l.hub = wakefd_hub(args.handoff, &l.stats, &l.wake_fd);
    l.opts = (session_opts){.proto = args.proto, .verify_checksum = args.verify_checksum, .hub = l.hub};
    endpoint bound;
    l.listen_fd = server_listen(&args, &bound);
    l.tcp = bound.family != AF_UNIX;
    /* At least an fd_set's worth, so small runs never reallocate; and room
     * for the eventfd, opened before the listener. */
    int top = l.listen_fd > l.wake_fd ? l.listen_fd : l.wake_fd;
    if (!sets_fit(&l, top > FD_SETSIZE - 1 ? top : FD_SETSIZE - 1))
        control_fatal("select: out of memory for the fd sets");
    control_start(&args, &bound, &l.stats);

    for (;;) {
        int nfds = build_sets(&l);
        int n = sc_select(nfds, (fd_set *)l.rset, (fd_set *)l.wset, NULL, NULL);
        if (n < 0) {
            if (errno == EINTR) continue;
            control_fatal("select: %s", strerror(errno));
        }
        /* n counts set bits: a descriptor both readable and writable counts twice. */
        if (n > 0) sc_wakeup((unsigned)n);
        serve(&l, n);
        serve_hub(&l);
    }
}
