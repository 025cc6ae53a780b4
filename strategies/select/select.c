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
 * A connection whose peer sent EOF is still written to until its reply is
 * complete; accept survives EMFILE with a reserve descriptor. */
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

#define READ_BUF (64 * 1024)
#define MAX_IOV 64
#define IO_PER_TURN 16
#define WORD_BITS (8 * sizeof(unsigned long))

typedef struct {
    int fd;
    session *s;
} conn;

typedef struct {
    int listen_fd;
    int reserve_fd; /* spare descriptor, given up to shed a connection on EMFILE */
    bool tcp;
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

/* Closes conns[i]; the last connection takes its slot. */
static void conn_close(loop *l, size_t i) {
    conn *c = &l->conns[i];
    sc_close(c->fd);
    ctr_add(&g_counters.closed, 1);
    session_free(c->s);
    *c = l->conns[--l->nconns];
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
            if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
            if (errno == EINTR) continue;
            return false; /* EPIPE, ECONNRESET: the peer is gone */
        }
        size_t asked = 0;
        for (size_t i = 0; i < n; i++) asked += iov[i].iov_len;
        session_output_done(c->s, (size_t)w);
        /* A short write means the socket buffer is full: waiting in the
         * write set saves the write that would only return EAGAIN. */
        if ((size_t)w < asked) return true;
    }
    return true;
}

/* One read into the loop's buffer. Returns false when the connection failed. */
static bool read_once(loop *l, conn *c) {
    ssize_t r = sc_read(c->fd, l->buf, sizeof l->buf);
    if (r > 0) {
        session_input(c->s, l->buf, (size_t)r);
        return true;
    }
    if (r == 0) {
        session_peer_closed(c->s); /* EOF: finish the replies, then close */
        return true;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

/* Serves one ready connection: read if it was in the read set (it was put
 * there only because it wanted input), then write what the protocol produced,
 * and close when it asks to. Select has no hang-up bit: a dead peer shows as
 * readable (the read fails or sees EOF) or writable (the write fails with
 * EPIPE/ECONNRESET). Returns false if the connection was closed. */
static bool handle(loop *l, size_t i, bool readable) {
    conn *c = &l->conns[i];
    bool failed = readable && !read_once(l, c);
    if (!failed && !flush(c)) failed = true;
    if (failed || (session_should_close(c->s) && !session_output_pending(c->s))) {
        conn_close(l, i);
        return false;
    }
    return true;
}

/* Rebuilds both sets from what each connection needs now. Returns nfds.
 * The whole capacity is cleared (the highest fd is only known at the end);
 * select reads only the first nfds bits. */
static int build_sets(loop *l) {
    memset(l->rset, 0, l->words * sizeof *l->rset);
    memset(l->wset, 0, l->words * sizeof *l->wset);
    bit_set(l->rset, l->listen_fd);
    int maxfd = l->listen_fd;
    for (size_t i = 0; i < l->nconns; i++) {
        const conn *c = &l->conns[i];
        bool r = session_wants_input(c->s), w = session_output_pending(c->s) > 0;
        if (r) bit_set(l->rset, c->fd);
        if (w) bit_set(l->wset, c->fd);
        if ((r || w) && c->fd > maxfd) maxfd = c->fd;
    }
    return maxfd + 1;
}

/* Out of descriptors: the pending connection would keep the listener readable
 * forever. Give up the reserve descriptor, accept and close the connection
 * (the client sees it refused), and take the reserve back — the approach
 * libuv and libev use. */
static void shed_connection(loop *l) {
    if (l->reserve_fd < 0) return;
    close(l->reserve_fd);
    int fd = sc_accept4(l->listen_fd, SOCK_CLOEXEC);
    if (fd >= 0) sc_close(fd);
    l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    fprintf(stderr, "select: out of file descriptors: shed one connection\n");
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
    l->conns[l->nconns++] = (conn){.fd = fd, .s = s};
    return true;
}

static void accept_all(loop *l) {
    for (;;) {
        int fd = sc_accept4(l->listen_fd, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE) shed_connection(l);
            else if (errno != EAGAIN && errno != EWOULDBLOCK) fprintf(stderr, "select: accept: %s\n", strerror(errno));
            return;
        }
        ctr_add(&g_counters.accepted, 1);
        if (l->tcp) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        if (!conn_add(l, fd)) {
            sc_close(fd);
            ctr_add(&g_counters.closed, 1);
        }
    }
}

/* Scans the connections for the bits select set. nready (select's count of
 * set bits) lets the scan stop once every ready descriptor has been served,
 * as in Stevens' loop. A closed connection's slot is taken by the last one,
 * not yet scanned, so the same index is looked at again. New connections are
 * accepted after the scan: appended then, they cannot be confused with the
 * bits of this round. */
static void serve(loop *l, int nready) {
    bool accept_ready = bit_isset(l->rset, l->listen_fd);
    nready -= accept_ready;
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
    l.opts = (session_opts){.proto = args.proto, .verify_checksum = args.verify_checksum};
    endpoint bound;
    l.listen_fd = server_listen(&args, &bound);
    l.tcp = bound.family != AF_UNIX;
    l.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    /* At least an fd_set's worth, so small runs never reallocate. */
    if (!sets_fit(&l, l.listen_fd > FD_SETSIZE - 1 ? l.listen_fd : FD_SETSIZE - 1))
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
    }
}
