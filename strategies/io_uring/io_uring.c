/* io_uring strategy: a ring per loop thread, batched submission.
 *
 * One loop thread by default; --threads N runs N independent loops
 * (net/loops.h), each with its own ring, connections, sessions, hub and
 * statistics. A ring is created on the thread that uses it, as
 * SINGLE_ISSUER and DEFER_TASKRUN require. Over TCP each ring has a
 * SO_REUSEPORT listener of its own (the kernel spreads new connections);
 * unix sockets have no SO_REUSEPORT, so there all rings share one listener
 * and each keeps a one-shot accept on it, re-armed after every connection
 * (see arm_accept: a multishot accept would give one ring them all).
 * With --handoff M as well, each loop's hub has M workers of its own that
 * wake only that loop's ring.
 *
 * Each loop queues SQEs while it handles a batch of CQEs, then makes exactly
 * one io_uring_submit_and_wait per iteration: that single io_uring_enter
 * both submits the batch and waits for the next completions. (liburing 2.3
 * enters the kernel on every call with wait_nr > 0, so each call is counted.)
 * A listener of its own gets one multishot accept for its whole life.
 *
 * Per connection, completion mode (completion.c) lets the kernel read into
 * provided buffers and write from the output queue; --poll-mode
 * (poll_mode.c) uses the ring only to learn readiness, then reads and writes
 * with plain syscalls like epoll.
 *
 * Output from outside a connection's own CQEs (a relayed inv, a hand-off
 * worker's reply) is collected with hub_next() after every batch (and after
 * the readiness mode's ready list), as the last thing before the next enter:
 * each such connection gets a send if none is in flight (completion) or a
 * turn of reading and writing (readiness), and is closed when its session is
 * done. With --handoff N the workers wake the loop through the ring (wake.c):
 * completion mode posts an IORING_OP_MSG_RING message from a small ring per
 * worker straight into the loop's CQ (an eventfd read by an async READ where
 * the kernel lacks MSG_RING, or with --wake-eventfd); readiness mode watches
 * an eventfd with a multishot POLL_ADD. Either way the wake-up is a CQE in the
 * batch that io_uring_submit_and_wait returns.
 *
 * Closing: a connection's outstanding requests are cancelled, and the socket
 * is closed and the connection freed only when their last CQE is back, so no
 * CQE ever refers to freed memory or to a reused descriptor.
 *
 * --probe answers whether io_uring can run here at all (kernel switch,
 * seccomp in containers, provided buffer rings); a normal start fails with
 * the same reason on the control channel. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#include "../net/control.h"
#include "../net/loops.h"
#include "../net/syscalls.h"
#include "../net/stream_io.h"
#include "uring.h"
#include "../net/io_uring_sysctl.h"

#define RING_ENTRIES 4096 /* SQ size; the CQ gets twice as many */

/* liburing returns -errno instead of setting errno; sc_note reads errno. */
static int note_enter(int ret) {
    if (ret < 0) errno = -ret;
    sc_note(SC_IO_URING_ENTER, ret);
    return ret;
}

struct io_uring_sqe *sqe_for(loop *l, conn *c, op_kind k) {
    struct io_uring_sqe *sqe;
    while (!(sqe = io_uring_get_sqe(&l->ring))) {
        /* SQ full in the middle of a batch: hand it to the kernel now (with
         * SQEs queued, liburing always enters). Rare with 4096 entries. */
        note_enter(io_uring_submit(&l->ring));
    }
    io_uring_sqe_set_data64(sqe, op_data(c, k)); /* prep_* leaves user_data alone */
    if (c) c->inflight++;
    return sqe;
}

static void arm_accept(loop *l);

void conn_reap(loop *l, conn *c) {
    if (!c->retiring || c->inflight > 0) return;
    stream_close(c->fd, c->s);
    free(c);
    /* A descriptor is free again: accepting can resume. */
    if (l->accept_stalled) {
        l->accept_stalled = false;
        arm_accept(l);
    }
}

void conn_retire(loop *l, conn *c) {
    if (c->retiring) return;
    c->retiring = true;
    if (c->inflight > 0) {
        /* One SQE cancels everything still pending on the socket (recv,
         * poll, a send stuck on a peer that does not read). */
        struct io_uring_sqe *sqe = sqe_for(l, c, OP_CANCEL);
        io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
    }
    /* Freed by conn_reap, which every CQE handler calls last. */
}

/* --- accepting ------------------------------------------------------- */

/* IORING_ACCEPT_POLL_FIRST (Linux 6.10), not in liburing 2.3's headers. */
#define ACCEPT_POLL_FIRST (1U << 2)

static void arm_accept(loop *l) {
    struct io_uring_sqe *sqe = sqe_for(l, NULL, OP_ACCEPT);
    /* Completion mode keeps sockets blocking: io_uring then waits for data
     * itself (internal poll) instead of completing sends/recvs with EAGAIN. */
    int flags = SOCK_CLOEXEC | (l->poll_mode ? SOCK_NONBLOCK : 0);
    /* A multishot accept waits on the listener as an exclusive waiter that
     * stays first in its wait queue, and takes every pending connection
     * when woken: on a listener shared by several rings one ring would get
     * them all. A one-shot accept leaves the queue when it fires and is
     * re-armed behind the other rings' (on_accept), so the wake-ups, and the
     * connections, go round the rings. */
    if (l->accept_oneshot) {
        io_uring_prep_accept(sqe, l->listen_fd, NULL, NULL, flags);
        /* Re-armed right after an accept, it would take the next pending
         * connection at once, inline, and a busy ring would keep them all:
         * wait in the queue first (Linux 6.10; dropped on -EINVAL). */
        if (l->accept_poll_first) sqe->ioprio |= ACCEPT_POLL_FIRST;
    } else {
        io_uring_prep_multishot_accept(sqe, l->listen_fd, NULL, NULL, flags);
    }
}

static void on_accept(loop *l, const struct io_uring_cqe *cqe) {
    bool out_of_fds = cqe->res == -EMFILE || cqe->res == -ENFILE;
    if (cqe->res == -EINVAL && l->accept_oneshot && l->accept_poll_first) {
        l->accept_poll_first = false; /* a kernel before 6.10: accept inline first */
        arm_accept(l);
        return;
    }
    if (!(cqe->flags & IORING_CQE_F_MORE)) { /* the multishot (or the one-shot) ended */
        /* io_uring reserves the descriptor before it looks for a connection,
         * so out of descriptors a re-armed accept fails at once, forever:
         * wait until a connection closes instead. */
        if (out_of_fds) l->accept_stalled = true;
        else arm_accept(l);
    }
    if (cqe->res < 0) {
        /* Shed one pending connection so its client is not left waiting. */
        if (out_of_fds) stream_shed(l->listen_fd, "io_uring");
        else if (cqe->res != -ECONNABORTED && cqe->res != -EINTR)
            fprintf(stderr, "io_uring: accept: %s\n", strerror(-cqe->res));
        return;
    }
    int fd = cqe->res;
    stream_accepted(fd, l->tcp);
    conn *c = calloc(1, sizeof *c);
    if (c) c->s = session_new(&l->opts, &l->stats);
    if (!c || !c->s) {
        stream_close(fd, c ? c->s : NULL);
        free(c);
        return;
    }
    c->fd = fd;
    session_set_owner(c->s, c);
    if (l->poll_mode) rdy_start(l, c);
    else cmp_start(l, c);
}

/* --- setup and probe ------------------------------------------------- */

/* Opens the ring (and, in completion mode, the provided buffer ring). On
 * failure writes a reason a user can act on and returns false. */
static bool ring_open(loop *l, char *why, size_t n) {
    int disabled = io_uring_disabled_level();
    if (disabled == 2) {
        snprintf(why, n, "io_uring is disabled (kernel.io_uring_disabled=2)");
        return false;
    }
    /* The opcodes exist on older kernels, but the multishot flags and fd
     * cancellation this loop relies on would fail per request there. */
    struct utsname u;
    int major = 0, minor = 0;
    if (uname(&u) == 0 && sscanf(u.release, "%d.%d", &major, &minor) == 2) {
        int need_minor = l->poll_mode ? 19 : 0, need_major = l->poll_mode ? 5 : 6;
        if (major < need_major || (major == need_major && minor < need_minor)) {
            snprintf(why, n, "Linux %d.%d is too old: %s needs %d.%d", major, minor,
                     l->poll_mode ? "multishot accept and fd cancellation" : "multishot recv",
                     need_major, need_minor);
            return false;
        }
    }
    /* DEFER_TASKRUN: completions are posted only when this thread enters the
     * kernel to wait, so they arrive in batches and never interrupt the loop
     * (needs 6.1 and SINGLE_ISSUER, which fits: only the loop thread uses it). */
    struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN};
    int r = io_uring_queue_init_params(RING_ENTRIES, &l->ring, &p);
    if (r == -EINVAL) {
        memset(&p, 0, sizeof p); /* an older kernel: plain ring */
        r = io_uring_queue_init_params(RING_ENTRIES, &l->ring, &p);
    }
    if (r < 0) {
        if (r == -ENOSYS)
            snprintf(why, n, "io_uring_setup: ENOSYS (kernel without io_uring, or blocked by a seccomp filter such as a container's default profile)");
        else if (r == -EPERM && disabled == 1)
            snprintf(why, n, "io_uring_setup: EPERM (kernel.io_uring_disabled=1: only members of kernel.io_uring_group may use io_uring)");
        else if (r == -EPERM)
            snprintf(why, n, "io_uring_setup: EPERM (io_uring disabled, or denied by a seccomp filter or LSM)");
        else snprintf(why, n, "io_uring_setup: %s", strerror(-r));
        return false;
    }
    if (!(p.features & IORING_FEAT_NODROP)) {
        snprintf(why, n, "io_uring without IORING_FEAT_NODROP (kernel older than 5.5)");
        io_uring_queue_exit(&l->ring);
        return false;
    }
    if (l->poll_mode && !rdy_setup(l)) {
        snprintf(why, n, "out of memory");
        io_uring_queue_exit(&l->ring);
        return false;
    }
    if (!l->poll_mode && !bufring_setup(l, why, n)) {
        io_uring_queue_exit(&l->ring);
        return false;
    }
    return true;
}

/* Connections that gained output (or may read again) from outside their own
 * CQEs. Last before the next enter, so nothing found here waits for another
 * event; serving them queues SQEs and, in readiness mode, may fill the ready
 * list, which only makes the next enter not wait. */
static void serve_hub(loop *l) {
    session *s;
    while ((s = hub_next(l->hub))) {
        conn *c = session_owner(s);
        if (c->retiring) continue; /* its requests are being cancelled; nothing more to send */
        if (l->poll_mode) rdy_serve(l, c);
        else cmp_serve(l, c);
        conn_reap(l, c); /* frees c if that closed it with nothing in flight */
    }
}

static void probe(loop *l) {
    char why[256] = "";
    bool ok = ring_open(l, why, sizeof why);
    /* The reasons above contain no quotes or backslashes: safe as JSON. */
    printf("{\"event\":\"probe\",\"available\":%s,\"reason\":\"%s\"}\n", ok ? "true" : "false",
           ok ? (l->poll_mode ? "io_uring poll available" : "io_uring with provided buffer rings available") : why);
    exit(0);
}

/* --- loops ------------------------------------------------------------ */

typedef struct {
    server_args args;
    listeners ls;
    bool poll_mode, want_eventfd;
} uring_ctx;

/* Runs on loop i's own thread: the ring must be created by the thread that
 * submits to it (SINGLE_ISSUER, DEFER_TASKRUN). */
static void *loop_setup(unsigned i, void *arg) {
    const uring_ctx *x = arg;
    loop *l = calloc(1, sizeof *l);
    if (!l) control_fatal("out of memory for loop %u", i);
    l->poll_mode = x->poll_mode;
    l->listen_fd = x->ls.fd[i];
    l->tcp = x->ls.tcp;
    l->accept_oneshot = l->accept_poll_first = x->ls.n > 1 && !x->ls.separate;
    char why[256];
    if (!ring_open(l, why, sizeof why)) control_fatal("%s", why);
    /* The wake-up depends on what the ring supports, so the hub (and its
     * workers) start only now, before any connection exists. */
    hub_opts ho = {.workers = x->args.handoff};
    wake_setup(l, x->args.handoff, x->want_eventfd, &ho);
    l->hub = hub_new(&ho, &l->stats);
    if (!l->hub) control_fatal("cannot start %u hand-off workers: %s", x->args.handoff, strerror(errno));
    l->opts = (session_opts){.proto = x->args.proto, .verify_checksum = x->args.verify_checksum, .hub = l->hub};
    /* Queued now, submitted by the loop's first enter. With a shared
     * listener every ring has an accept of its own pending on it. */
    arm_accept(l);
    control_add_stats(&l->stats);
    return l;
}

static void loop_run(void *arg) {
    loop *l = arg;
    for (;;) {
        /* Readiness mode may have connections with work left over from their
         * turn: then do not wait, but still enter with GETEVENTS — with
         * DEFER_TASKRUN completions are posted only then, and skipping it
         * would starve every other connection while the ready list is busy. */
        int r = note_enter(l->ready ? io_uring_submit_and_get_events(&l->ring)
                                    : io_uring_submit_and_wait(&l->ring, 1));
        if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY)
            control_fatal("io_uring_submit: %s", strerror(-r));
        unsigned head, n = 0;
        struct io_uring_cqe *cqe;
        io_uring_for_each_cqe(&l->ring, head, cqe) {
            n++;
            uint64_t ud = io_uring_cqe_get_data64(cqe);
            conn *c = op_conn(ud);
            op_kind k = op_of(ud);
            if (k == OP_ACCEPT) {
                on_accept(l, cqe);
                continue;
            }
            if (k == OP_WAKE) { /* collected below, with everything else */
                wake_complete(l, cqe);
                continue;
            }
            /* A request's last CQE (multishot ones say so by dropping F_MORE). */
            if (!(cqe->flags & IORING_CQE_F_MORE)) c->inflight--;
            if (l->poll_mode) rdy_complete(l, c, k, cqe);
            else cmp_complete(l, c, k, cqe);
            conn_reap(l, c); /* frees c if retiring and that was its last CQE */
        }
        io_uring_cq_advance(&l->ring, n);
        if (n > 0) sc_wakeup(n);
        if (l->poll_mode) rdy_drain_ready_list(l);
        serve_hub(l);
    }
}

int main(int argc, char **argv) {
    static uring_ctx x;
    /* Our own flags come out of argv before the common parser sees it. The
     * harness appends --probe after the variant's args, so look everywhere. */
    bool want_probe = false;
    int kept = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--poll-mode")) x.poll_mode = true;
        else if (!strcmp(argv[i], "--probe")) want_probe = true;
        else if (!strcmp(argv[i], "--wake-eventfd")) x.want_eventfd = true; /* test the fallback */
        else argv[kept++] = argv[i];
    }
    argc = kept;
    argv[argc] = NULL;
    if (want_probe) {
        static loop l;
        l.poll_mode = x.poll_mode;
        probe(&l);
    }

    server_args_parse(argc, argv, "io_uring", &x.args);
    /* TCP: a SO_REUSEPORT socket per ring, the kernel spreads connections;
     * unix: one listener, every ring has a one-shot accept pending on it. */
    listeners_open(&x.args, LISTEN_REUSEPORT, &x.ls);
    const char *threading = x.args.threads == 1 ? "one ring"
                            : x.ls.separate    ? "ring per thread, SO_REUSEPORT listener per thread"
                                               : "ring per thread, one shared listener";
    loops_run(&x.args, &x.ls.bound, threading, &(loops_spec){.setup = loop_setup, .run = loop_run, .ctx = &x});
}
