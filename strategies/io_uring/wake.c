/* Hand-off wake-up: how a worker thread that finished a reply gets the loop
 * out of io_uring_submit_and_wait. Everything arrives as a CQE with user_data
 * OP_WAKE; the loop consumes it and then collects with hub_next().
 *
 * Completion mode: IORING_OP_MSG_RING (Linux 5.18). A worker cannot submit on
 * the loop's ring (SINGLE_ISSUER, and liburing's SQ is not thread-safe), so
 * each worker thread lazily makes a tiny ring of its own and posts a message
 * through it straight into the loop's CQ: no file descriptor to read, no
 * syscall on the loop side beyond the io_uring_enter it makes anyway. A
 * DEFER_TASKRUN target is fine: the kernel queues the CQE as task work for the
 * loop's thread and wakes its wait. MSG_RING is probed for on the loop's
 * ring (a cheap guard: every kernel new enough for completion mode has it);
 * without it, or with --wake-eventfd (to measure the difference),
 * the workers write an eventfd and the ring keeps an async read of it
 * pending, re-armed after each completion: the read itself consumes the
 * wake-up. The choice is printed on stderr at start.
 *
 * Readiness mode: the eventfd, watched with a multishot POLL_ADD like any
 * socket in that mode, and drained with a plain read when it fires.
 *
 * No wake-up is lost: the hub clears its "wake pending" flag when the loop
 * collects, which happens after the wake CQE has been consumed (and, for the
 * eventfd read, after the next read has been queued); a reply finished later
 * sends a new wake-up. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "../net/control.h"
#include "../net/wakefd.h"
#include "uring.h"

const char *wake_name(wake_kind w) {
    switch (w) {
    case WAKE_MSG_RING: return "IORING_OP_MSG_RING from a small ring per worker thread";
    case WAKE_EVENTFD_READ: return "eventfd, read by an async IORING_OP_READ";
    case WAKE_EVENTFD_POLL: return "eventfd, watched by a multishot POLL_ADD";
    default: return "none";
    }
}

/* --- MSG_RING (runs on worker threads) -------------------------------- */

/* Lives as long as the worker thread, which lives as long as the server. */
static _Thread_local struct io_uring t_ring;
static _Thread_local bool t_ring_ready;

/* hub_wake_fn: arg is the loop. Not counted: the counters belong to the loop
 * thread (the hub counts wake-ups instead). */
static void msg_ring_wake(void *arg) {
    const loop *l = arg;
    if (!t_ring_ready) {
        /* Two entries: one message at a time, no SQPOLL, no shared state. */
        int r = io_uring_queue_init(2, &t_ring, 0);
        if (r < 0) control_fatal("hand-off wake-up: io_uring_queue_init on a worker: %s", strerror(-r));
        t_ring_ready = true;
    }
    struct io_uring_sqe *sqe = io_uring_get_sqe(&t_ring);
    /* Never NULL: every earlier SQE was submitted at once. */
    io_uring_prep_msg_ring(sqe, l->ring.ring_fd, 0, op_data(NULL, OP_WAKE), 0);
    int r = io_uring_submit(&t_ring);
    if (r < 0) control_fatal("hand-off wake-up: io_uring_submit on a worker: %s", strerror(-r));
    /* The message is usually posted during the submit, and its own CQE is
     * here already; reap it (and any earlier one) without waiting, so the
     * worker never waits on the loop. A failed message would leave replies
     * uncollected: fail loudly instead. */
    struct io_uring_cqe *cqe;
    while (io_uring_peek_cqe(&t_ring, &cqe) == 0) {
        int res = cqe->res;
        io_uring_cqe_seen(&t_ring, cqe);
        if (res < 0) control_fatal("hand-off wake-up: IORING_OP_MSG_RING: %s", strerror(-res));
    }
}

/* --- setup and the loop side ---------------------------------------- */

static bool msg_ring_supported(loop *l) {
    struct io_uring_probe *p = io_uring_get_probe_ring(&l->ring);
    bool ok = p && io_uring_opcode_supported(p, IORING_OP_MSG_RING);
    io_uring_free_probe(p);
    return ok;
}

static void arm_wake(loop *l) {
    struct io_uring_sqe *sqe = sqe_for(l, NULL, OP_WAKE);
    if (l->wake == WAKE_EVENTFD_READ) io_uring_prep_read(sqe, l->wake_fd, &l->wake_count, sizeof l->wake_count, 0);
    else io_uring_prep_poll_multishot(sqe, l->wake_fd, POLLIN);
}

void wake_setup(loop *l, unsigned workers, bool want_eventfd, hub_opts *o) {
    l->wake_fd = -1;
    l->wake = WAKE_NONE;
    if (workers == 0) return;
    if (l->poll_mode) l->wake = WAKE_EVENTFD_POLL;
    else if (!want_eventfd && msg_ring_supported(l)) l->wake = WAKE_MSG_RING;
    else l->wake = WAKE_EVENTFD_READ;
    if (l->wake == WAKE_MSG_RING) {
        o->wake = msg_ring_wake;
        o->wake_arg = l;
    } else {
        l->wake_fd = wakefd_open();
        /* io_uring honours O_NONBLOCK: a read of an empty non-blocking
         * eventfd would complete with -EAGAIN at once instead of waiting. */
        if (l->wake == WAKE_EVENTFD_READ && fcntl(l->wake_fd, F_SETFL, 0) != 0)
            control_fatal("fcntl(eventfd): %s", strerror(errno));
        o->wake = wakefd_signal;
        o->wake_arg = &l->wake_fd;
        arm_wake(l);
    }
    fprintf(stderr, "io_uring: %u hand-off workers; wake-up: %s\n", workers, wake_name(l->wake));
}

void wake_complete(loop *l, const struct io_uring_cqe *cqe) {
    switch (l->wake) {
    case WAKE_MSG_RING:
        break; /* the CQE is the whole message */
    case WAKE_EVENTFD_READ:
        /* The read consumed the count. A failing read would fail again at
         * once, spinning the loop and never waking it: give up loudly. */
        if (cqe->res < 0 && cqe->res != -EINTR && cqe->res != -EAGAIN)
            control_fatal("hand-off wake-up: eventfd read: %s", strerror(-cqe->res));
        arm_wake(l);
        break;
    case WAKE_EVENTFD_POLL:
        if (cqe->res > 0) wakefd_drain(l->wake_fd);
        if (!(cqe->flags & IORING_CQE_F_MORE)) arm_wake(l); /* the multishot ended */
        break;
    default:
        break;
    }
}
