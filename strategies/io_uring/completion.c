/* Completion mode: the kernel reads and writes; the loop hands the results
 * to the session.
 *
 * Input: one multishot recv per connection, buffers picked by the kernel
 * from a provided buffer ring shared by all connections. A buffer goes back
 * to the ring as soon as session_input has copied what it needs, so the ring
 * only has to cover the completions of one batch, not the connections. The
 * multishot recv ends (a CQE without IORING_CQE_F_MORE) on EOF, errors, when
 * the ring ran dry (-ENOBUFS) or when cancelled; it is re-armed whenever the
 * session still wants input.
 *
 * Backpressure is applied lazily: a quiet peer costs nothing while its
 * session is paused, and only data that arrives while paused gets the recv
 * cancelled (that data is still handed over: the session keeps it, bounded
 * by one batch). Re-armed when the session wants input again.
 *
 * Output: at most one send in flight per connection, IORING_OP_SEND for one
 * segment and IORING_OP_SENDMSG for several; the segments stay valid until
 * session_output_done, and a short send just leads to the next send of what
 * is left.
 *
 * Output from outside the connection's CQEs (relay, hand-off replies) goes
 * through the same settle() when the loop collects it from the hub. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "../net/syscalls.h"
#include "uring.h"

#define BGID 0                 /* the one buffer group */
#define BUF_SIZE (64 * 1024)   /* as large as the readiness loops' read buffer */
#define BUF_COUNT 512          /* power of two; memory is touched only as used */

/* The receives and sends io_uring performs for us are not syscalls: they are
 * counted as async operations (with their bytes, for the byte totals). */
static void count_op(bool in, int res) {
    if (g_counting) ctr_syscall(in ? SC_ASYNC_RECV : SC_ASYNC_SEND, res, res < 0 ? -res : 0);
}

/* liburing 2.3 has no io_uring_setup_buf_ring: map the ring (page-aligned,
 * as the kernel requires), register it, and fill it. */
bool bufring_setup(loop *l, char *why, size_t n) {
    size_t ring_bytes = BUF_COUNT * sizeof(struct io_uring_buf);
    void *ring = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *bufs = mmap(NULL, (size_t)BUF_COUNT * BUF_SIZE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ring == MAP_FAILED || bufs == MAP_FAILED) {
        snprintf(why, n, "mmap of the provided buffers: %s", strerror(errno));
        return false;
    }
    struct io_uring_buf_reg reg = {.ring_addr = (uintptr_t)ring, .ring_entries = BUF_COUNT, .bgid = BGID};
    int r = io_uring_register_buf_ring(&l->ring, &reg, 0);
    if (r < 0) {
        snprintf(why, n, "io_uring_register_buf_ring: %s (provided buffer rings need Linux 5.19)", strerror(-r));
        munmap(ring, ring_bytes);
        munmap(bufs, (size_t)BUF_COUNT * BUF_SIZE);
        return false;
    }
    l->br = ring;
    l->bufs = bufs;
    io_uring_buf_ring_init(l->br);
    for (int i = 0; i < BUF_COUNT; i++)
        io_uring_buf_ring_add(l->br, l->bufs + (size_t)i * BUF_SIZE, BUF_SIZE, (unsigned short)i,
                              io_uring_buf_ring_mask(BUF_COUNT), i);
    io_uring_buf_ring_advance(l->br, BUF_COUNT);
    return true;
}

static void recycle(loop *l, unsigned bid) {
    io_uring_buf_ring_add(l->br, l->bufs + (size_t)bid * BUF_SIZE, BUF_SIZE, (unsigned short)bid,
                          io_uring_buf_ring_mask(BUF_COUNT), 0);
    io_uring_buf_ring_advance(l->br, 1);
}

static void arm_recv(loop *l, conn *c) {
    struct io_uring_sqe *sqe = sqe_for(l, c, OP_RECV);
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT; /* after prep, which clears flags */
    sqe->buf_group = BGID;
    c->recv_armed = true;
    c->recv_cancel = false;
}

static void cancel_recv(loop *l, conn *c) {
    struct io_uring_sqe *sqe = sqe_for(l, c, OP_CANCEL);
    io_uring_prep_cancel64(sqe, op_data(c, OP_RECV), 0);
    c->recv_cancel = true;
}

static void submit_send(loop *l, conn *c) {
    size_t n = session_output_iov(c->s, c->iov, MAX_IOV);
    struct io_uring_sqe *sqe = sqe_for(l, c, OP_SEND);
    if (n == 1) {
        io_uring_prep_send(sqe, c->fd, c->iov[0].iov_base, c->iov[0].iov_len, MSG_NOSIGNAL);
    } else {
        c->msg = (struct msghdr){.msg_iov = c->iov, .msg_iovlen = n};
        io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
    }
    c->send_busy = true;
}

/* Common tail: send what the protocol produced, close when it is done, keep
 * a recv armed while it wants input. */
static void settle(loop *l, conn *c) {
    bool pending = session_output_pending(c->s) > 0;
    if (!pending && session_should_close(c->s)) {
        conn_retire(l, c);
        return;
    }
    if (pending && !c->send_busy) submit_send(l, c);
    if (!c->recv_armed && session_wants_input(c->s)) arm_recv(l, c);
}

void cmp_start(loop *l, conn *c) { arm_recv(l, c); }

/* From the hub: a relayed message or a hand-off reply was queued. A send
 * already in flight picks it up on its completion; a reply may also have
 * unblocked input (the recv is re-armed if it had been cancelled). */
void cmp_serve(loop *l, conn *c) { settle(l, c); }

static void on_recv(loop *l, conn *c, const struct io_uring_cqe *cqe) {
    if (!(cqe->flags & IORING_CQE_F_MORE)) c->recv_armed = false;
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        if (cqe->res > 0 && !c->retiring) {
            count_op(true, cqe->res);
            session_input(c->s, l->bufs + (size_t)bid * BUF_SIZE, (size_t)cqe->res);
        }
        recycle(l, bid); /* the session copied what it keeps */
    }
    if (c->retiring) return;
    if (cqe->res == 0) {
        session_peer_closed(c->s); /* EOF: finish the replies, then close */
    } else if (cqe->res < 0 && cqe->res != -ENOBUFS && cqe->res != -ECANCELED) {
        conn_retire(l, c); /* ECONNRESET and the like: the peer is gone */
        return;
    } else if (cqe->res > 0 && c->recv_armed && !c->recv_cancel && !session_wants_input(c->s)) {
        cancel_recv(l, c); /* input while paused: stop receiving */
    }
    settle(l, c); /* re-arms after -ENOBUFS (buffers were recycled) or a cancel */
}

static void on_send(loop *l, conn *c, const struct io_uring_cqe *cqe) {
    c->send_busy = false;
    if (c->retiring) return;
    if (cqe->res < 0) {
        if (cqe->res == -EINTR || cqe->res == -EAGAIN) {
            settle(l, c); /* try again */
            return;
        }
        conn_retire(l, c); /* EPIPE, ECONNRESET: the peer is gone */
        return;
    }
    count_op(false, cqe->res);
    session_output_done(c->s, (size_t)cqe->res);
    settle(l, c); /* sends the rest after a short send, or what came next */
}

void cmp_complete(loop *l, conn *c, op_kind k, const struct io_uring_cqe *cqe) {
    if (k == OP_RECV) on_recv(l, c, cqe);
    else if (k == OP_SEND) on_send(l, c, cqe);
    else if (k == OP_CANCEL && !c->retiring) settle(l, c);
}
