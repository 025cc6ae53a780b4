/* asio-io_uring only: counting the io_uring_enter calls asio makes through
 * liburing, and --probe.
 *
 * liburing makes io_uring_enter with inline assembly, so interposing a libc
 * symbol sees nothing. Asio (header-only, compiled into this program) reaches
 * the kernel through exactly two liburing functions: io_uring_submit, and
 * __io_uring_get_cqe, which liburing.h's inline io_uring_wait_cqe and
 * io_uring_peek_cqe call when the completion queue holds nothing. The link
 * (build.mk: -Wl,--wrap=...) sends this program's calls of those two to the
 * __wrap_ functions below, which forward to liburing's own (__real_) and
 * count an io_uring_enter exactly when liburing 2.3 makes one:
 *   - io_uring_submit enters when it has SQEs to hand over (it then returns
 *     their number, or -errno from the kernel) or when the CQ ring asks for
 *     an enter (overflowed completions, IORING_SQ_TASKRUN); it returns 0
 *     without entering otherwise;
 *   - __io_uring_get_cqe (submit 0, as asio calls it) returns at once when a
 *     completion is there and enough are (wait_nr), and returns -EAGAIN
 *     without entering when it must not wait and the CQ ring asks for
 *     nothing: those two outcomes are decided here, with liburing's inline
 *     peek, and everything else goes to liburing, which then enters.
 * A wakeup (counters.h: a return from the multiplexing call with events)
 * is an io_uring_enter after which the completion queue holds more than
 * before it: the kernel runs completion work when the task enters it, so
 * with a busy loop the submitting enter delivers most completions and the
 * waiting enter is rare. Events are the completions handed to handlers
 * (asio.cpp), as every strategy counts what its loop handles. Calls made on a
 * thread without a counters block (a hand-off worker whose asio::post
 * interrupts the ring with a NOP and submits it) are not counted, as every
 * strategy's workers' wake-ups are not. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <liburing.h>

#include "../net/counters.h"
#include "shim.h"
#include "../net/io_uring_sysctl.h"

int __real_io_uring_submit(struct io_uring *ring);
int __real___io_uring_get_cqe(struct io_uring *ring, struct io_uring_cqe **cqe_ptr, unsigned submit,
                              unsigned wait_nr, sigset_t *sigmask);
int __wrap_io_uring_submit(struct io_uring *ring);
int __wrap___io_uring_get_cqe(struct io_uring *ring, struct io_uring_cqe **cqe_ptr, unsigned submit,
                              unsigned wait_nr, sigset_t *sigmask);

/* liburing's cq_ring_needs_enter(): the kernel wants an enter to flush. */
static bool cq_wants_enter(const struct io_uring *ring) {
    unsigned kflags = __atomic_load_n(ring->sq.kflags, __ATOMIC_RELAXED);
    return (ring->flags & IORING_SETUP_IOPOLL) || (kflags & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN));
}

/* liburing returns -errno; ctr_syscall wants the errno apart. */
static void note_enter(int ret) {
    if (g_counting) ctr_syscall(SC_IO_URING_ENTER, ret, ret < 0 ? -ret : 0);
}

/* After an enter: a wakeup when it brought completions. */
static void note_delivered(const struct io_uring *ring, unsigned before) {
    if (g_counting && io_uring_cq_ready(ring) > before) CTR_ADD(wakeups, 1);
}

int __wrap_io_uring_submit(struct io_uring *ring) {
    bool cq = cq_wants_enter(ring);
    unsigned before = io_uring_cq_ready(ring);
    int ret = __real_io_uring_submit(ring);
    if (ret != 0 || cq) {
        note_enter(ret);
        note_delivered(ring, before);
    }
    return ret;
}

int __wrap___io_uring_get_cqe(struct io_uring *ring, struct io_uring_cqe **cqe_ptr, unsigned submit,
                              unsigned wait_nr, sigset_t *sigmask) {
    if (submit == 0) {
        unsigned avail = 0;
        struct io_uring_cqe *cqe = NULL;
        int err = __io_uring_peek_cqe(ring, &cqe, &avail);
        if (err) return err;
        if (cqe && wait_nr <= avail) {
            *cqe_ptr = cqe;
            return 0;
        }
        if (!cqe && wait_nr == 0 && !cq_wants_enter(ring)) {
            *cqe_ptr = NULL;
            return -EAGAIN;
        }
    }
    unsigned before = io_uring_cq_ready(ring);
    int ret = __real___io_uring_get_cqe(ring, cqe_ptr, submit, wait_nr, sigmask);
    note_enter(ret);
    note_delivered(ring, before);
    return ret;
}

/* What asio's io_uring backend sends to the ring. */
static const struct {
    int op;
    const char *name;
} needed[] = {
    {IORING_OP_ACCEPT, "ACCEPT"},   {IORING_OP_RECVMSG, "RECVMSG"}, {IORING_OP_SENDMSG, "SENDMSG"},
    {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"}, {IORING_OP_TIMEOUT, "TIMEOUT"},
    {IORING_OP_TIMEOUT_REMOVE, "TIMEOUT_REMOVE"}, {IORING_OP_NOP, "NOP"},     {IORING_OP_POLL_ADD, "POLL_ADD"},
};

bool mx_uring_probe(char *why, size_t n) {
    int disabled = io_uring_disabled_level();
    if (disabled == 2) {
        snprintf(why, n, "io_uring is disabled (kernel.io_uring_disabled=2)");
        return false;
    }
    struct io_uring ring;
    int r = io_uring_queue_init(16, &ring, 0);
    if (r < 0) {
        snprintf(why, n, "io_uring_queue_init: %s", strerror(-r));
        return false;
    }
    struct io_uring_probe *p = io_uring_get_probe_ring(&ring);
    bool ok = true;
    if (!p) {
        snprintf(why, n, "io_uring_get_probe_ring failed (Linux 5.6 or later is needed)");
        ok = false;
    } else {
        for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++) {
            if (!io_uring_opcode_supported(p, needed[i].op)) {
                snprintf(why, n, "the kernel lacks IORING_OP_%s, which asio's io_uring backend uses", needed[i].name);
                ok = false;
                break;
            }
        }
        io_uring_free_probe(p);
    }
    io_uring_queue_exit(&ring);
    if (ok) snprintf(why, n, "io_uring available (asio 1.22 backend: ACCEPT, RECVMSG, SENDMSG)");
    return ok;
}
