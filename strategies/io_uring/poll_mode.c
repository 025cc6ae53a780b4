/* Readiness mode (--poll-mode): io_uring as a poller, plain syscalls for data.
 *
 * Each socket gets one multishot POLL_ADD for POLLIN, armed for the
 * connection's life, and a one-shot POLL_ADD for POLLOUT only while output
 * is pending and the last write found the socket full. Reads and writes are
 * the counted reads and writes of the readiness loops (net/stream_io.h), so this mode
 * isolates what io_uring changes about waiting (batched poll arming and
 * reaping through the rings, no epoll_ctl) from what it changes about I/O.
 *
 * A multishot poll posts one CQE per wakeup of the socket, not per level:
 * it behaves like an edge. So, as epoll-et does, the loop remembers that a
 * socket is readable and reads until a short read or EAGAIN. For fairness a
 * connection gets at most READS_PER_TURN reads and STREAM_WRITES_PER_TURN
 * writes per turn; one that
 * could do more goes on a ready list served after the batch (the loop then
 * submits without waiting). While the session does not want input, the
 * connection is simply not read; the readable flag keeps the edge. A one-shot
 * POLLOUT is checked against the socket's state when armed: level, so it
 * needs no such care.
 *
 * Output from outside the connection's CQEs (relay, hand-off replies) gets
 * a turn through the same serve() when the loop collects it from the hub. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "../net/stream_io.h"
#include "../net/syscalls.h"
#include "uring.h"

#define READ_BUF (64 * 1024)
#define READS_PER_TURN 16

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

static bool flush(conn *c) { return stream_flush_edge(c->fd, c->s, &c->writable); }

static bool read_once(loop *l, conn *c) {
    return stream_read_edge(c->fd, c->s, l->rbuf, READ_BUF, &c->readable, c->peer_shut);
}

static bool has_work(const conn *c) {
    return (c->readable && session_wants_input(c->s)) || (c->writable && session_output_pending(c->s));
}

/* One turn: read (writing between reads so replies are not held back), then
 * close, arm POLLOUT, or queue the connection for another turn. */
static void serve(loop *l, conn *c) {
    bool failed = false;
    for (int reads = 0; !failed && c->readable && session_wants_input(c->s) && reads < READS_PER_TURN; reads++)
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

/* From the hub: output was queued (relay, a hand-off reply, which may also
 * let held-back input be read). A connection on the ready list gets its turn
 * there anyway. */
void rdy_serve(loop *l, conn *c) {
    if (!c->on_ready_list) serve(l, c);
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
