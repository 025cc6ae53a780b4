/* Readiness mode (--poll-mode): io_uring as a poller, plain syscalls for data.
 *
 * Each socket gets one multishot POLL_ADD for POLLIN, armed for the
 * connection's life, and a one-shot POLL_ADD for POLLOUT only while output
 * is pending and the last write found the socket full. Reads and writes are
 * the counted sc_read / sc_writev of the readiness loops, so this mode
 * isolates what io_uring changes about waiting (batched poll arming and
 * reaping through the rings, no epoll_ctl) from what it changes about I/O.
 *
 * A multishot poll posts one CQE per wakeup of the socket, not per level:
 * it behaves like an edge. So, as epoll-et does, the loop remembers that a
 * socket is readable and reads until a short read or EAGAIN. For fairness a
 * connection gets at most IO_PER_TURN reads and writes per turn; one that
 * could do more goes on a ready list served after the batch (the loop then
 * submits without waiting). While the session does not want input, the
 * connection is simply not read; the readable flag keeps the edge. A one-shot
 * POLLOUT is checked against the socket's state when armed: level, so it
 * needs no such care. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "../net/syscalls.h"
#include "uring.h"

#define READ_BUF (64 * 1024)
#define IO_PER_TURN 16

static void arm_pollin(loop *l, conn *c) {
    struct io_uring_sqe *sqe = sqe_for(l, c, OP_POLL_IN);
    io_uring_prep_poll_multishot(sqe, c->fd, POLLIN | POLLRDHUP);
    c->recv_armed = true;
}

static void arm_pollout(loop *l, conn *c) {
    struct io_uring_sqe *sqe = sqe_for(l, c, OP_POLL_OUT);
    io_uring_prep_poll_add(sqe, c->fd, POLLOUT);
    c->send_busy = true;
}

bool rdy_setup(loop *l) { return (l->rbuf = malloc(READ_BUF)) != NULL; }

void rdy_start(loop *l, conn *c) {
    c->writable = true; /* a new socket has room */
    arm_pollin(l, c);   /* posts at once if data is already there */
}

/* Writes pending output until done, full, or IO_PER_TURN writes. Returns
 * false if the connection failed. */
static bool flush(conn *c) {
    struct iovec iov[MAX_IOV];
    for (int turn = 0; turn < IO_PER_TURN && c->writable && session_output_pending(c->s); turn++) {
        size_t n = session_output_iov(c->s, iov, MAX_IOV);
        ssize_t w = n == 1 ? sc_write(c->fd, iov[0].iov_base, iov[0].iov_len) : sc_writev(c->fd, iov, (int)n);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) c->writable = false;
            else if (errno != EINTR) return false; /* EPIPE, ECONNRESET: the peer is gone */
            continue;
        }
        size_t asked = 0;
        for (size_t i = 0; i < n; i++) asked += iov[i].iov_len;
        session_output_done(c->s, (size_t)w);
        /* Short write: the socket buffer is full, so wait for POLLOUT
         * rather than make the write that would only return EAGAIN. */
        if ((size_t)w < asked) c->writable = false;
    }
    return true;
}

/* One read. Returns false when the connection failed. */
static bool read_once(loop *l, conn *c) {
    ssize_t r = sc_read(c->fd, l->rbuf, READ_BUF);
    if (r > 0) {
        /* A short read drained the socket; new data is a new wakeup, hence
         * a new CQE, so the read that would only return EAGAIN is skipped. */
        if ((size_t)r < READ_BUF && !c->peer_shut) c->readable = false;
        session_input(c->s, l->rbuf, (size_t)r);
        return true;
    }
    c->readable = false;
    if (r == 0) {
        session_peer_closed(c->s); /* EOF: finish the replies, then close */
        return true;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

static bool has_work(const conn *c) {
    return (c->readable && session_wants_input(c->s)) || (c->writable && session_output_pending(c->s));
}

/* One turn: read (writing between reads so replies are not held back), then
 * close, arm POLLOUT, or queue the connection for another turn. */
static void serve(loop *l, conn *c) {
    bool failed = false;
    for (int reads = 0; !failed && c->readable && session_wants_input(c->s) && reads < IO_PER_TURN; reads++)
        failed = !read_once(l, c) || !flush(c);
    if (!failed) failed = !flush(c);
    if (failed || (session_should_close(c->s) && !session_output_pending(c->s))) {
        conn_retire(l, c);
        return;
    }
    if (session_output_pending(c->s) && !c->writable && !c->send_busy) arm_pollout(l, c);
    /* The kernel may end a multishot poll (e.g. CQ overflow): arm a new one. */
    if (!c->recv_armed && session_wants_input(c->s)) arm_pollin(l, c);
    if (has_work(c) && !c->on_ready_list) {
        c->on_ready_list = true;
        c->next_ready = l->ready;
        l->ready = c;
    }
}

void rdy_complete(loop *l, conn *c, op_kind k, const struct io_uring_cqe *cqe) {
    bool more = cqe->flags & IORING_CQE_F_MORE;
    if (k == OP_POLL_IN) {
        if (!more) c->recv_armed = false;
        if (cqe->res > 0) c->readable = true; /* POLLIN, or HUP/ERR: a read will tell */
        /* The peer's FIN may come with the last data, and raises no wakeup
         * of its own afterwards: read on until EOF (as epoll-et does). */
        if (cqe->res > 0 && (cqe->res & (POLLRDHUP | POLLHUP | POLLERR))) c->peer_shut = true;
    } else if (k == OP_POLL_OUT) {
        c->send_busy = false;
        if (cqe->res > 0) c->writable = true; /* POLLOUT, or HUP/ERR: a write will tell */
    }
    if (c->retiring) return;
    /* Errors of the poll requests themselves (not of the socket) leave the
     * flags alone; serve re-arms what ended. */
    if (c->on_ready_list) return; /* served when the ready list is drained */
    serve(l, c);
}

void rdy_drain_ready_list(loop *l) {
    conn *list = l->ready;
    l->ready = NULL;
    while (list) {
        conn *c = list;
        list = c->next_ready;
        c->on_ready_list = false;
        serve(l, c);
        conn_reap(l, c);
    }
}
