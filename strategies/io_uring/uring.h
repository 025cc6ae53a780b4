/* Shared state of the io_uring strategy: one ring per loop thread (a `loop`
 * each, nothing shared between them), two modes.
 *
 * Completion mode (default, completion.c): the kernel does the I/O. A
 * multishot recv per connection fills buffers from a provided buffer ring,
 * sends are IORING_OP_SEND/SENDMSG, and the loop only sees finished work.
 * Readiness mode (--poll-mode, poll_mode.c): io_uring is used as a poller
 * only (multishot POLL_ADD for input, one-shot POLL_ADD for output), and the
 * loop reads and writes with plain counted syscalls, as an epoll loop would.
 *
 * Both modes share the ring, multishot accept, the main loop and the rule
 * that makes freeing safe: a connection counts its requests whose final CQE
 * has not arrived yet (`inflight`), and is freed only when that reaches 0.
 *
 * Output that does not come from a connection's own CQEs (a relayed inv, a
 * hand-off worker's reply) is collected from the hub after every batch; the
 * hand-off workers wake the loop through the ring itself (wake.c). */
#ifndef MUXBENCH_URING_H
#define MUXBENCH_URING_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/hub.h"
#include "../core/session.h"

#define MAX_IOV 64

/* Every SQE's user_data is a connection pointer (malloc'd, so 8-aligned)
 * with the operation kind in its low 3 bits. The listener's accept has no
 * connection. */
typedef enum {
    OP_ACCEPT = 1,
    OP_RECV,     /* completion: multishot recv */
    OP_SEND,     /* completion: send / sendmsg */
    OP_CANCEL,   /* both: cancellation of a connection's requests */
    OP_POLL_IN,  /* readiness: multishot POLLIN */
    OP_POLL_OUT, /* readiness: one-shot POLLOUT */
    OP_WAKE,     /* both: hand-off replies are ready (no connection; wake.c) */
} op_kind;
#define OP_MASK 7u

typedef struct conn {
    int fd;
    session *s;
    int inflight;       /* requests whose final CQE is still to come */
    bool retiring;      /* being closed: waiting for inflight to reach 0 */
    bool recv_armed;    /* completion: multishot recv live; readiness: multishot poll live */
    bool recv_cancel;   /* completion: a cancel of the recv was submitted */
    bool send_busy;     /* completion: a send is in flight; readiness: POLLOUT armed */
    bool readable;      /* readiness: input may be waiting in the socket */
    bool writable;      /* readiness: the socket buffer may have room */
    bool peer_shut;     /* readiness: POLLRDHUP seen, so read on until EOF */
    bool on_ready_list; /* readiness: has I/O left after its turn */
    struct conn *next_ready;
    /* completion: the send in flight refers to these until its CQE */
    struct msghdr msg;
    struct iovec iov[MAX_IOV];
} conn;

/* How hand-off workers wake the loop (wake.c). */
typedef enum {
    WAKE_NONE,         /* no hand-off workers */
    WAKE_MSG_RING,     /* completion mode: IORING_OP_MSG_RING from a ring per worker */
    WAKE_EVENTFD_READ, /* completion mode without MSG_RING: an async read of an eventfd */
    WAKE_EVENTFD_POLL, /* readiness mode: multishot POLL_ADD on an eventfd, then read() */
} wake_kind;

typedef struct {
    struct io_uring ring;
    int listen_fd;
    bool poll_mode, tcp;
    bool accept_stalled; /* out of descriptors: accept re-armed when one closes */
    bool accept_oneshot; /* listener shared with other rings: one accept at a time */
    bool accept_poll_first; /* ... queued behind the other rings' (IORING_ACCEPT_POLL_FIRST) */
    hub *hub;
    wake_kind wake;
    int wake_fd;         /* eventfd wake-ups only, else -1 */
    uint64_t wake_count; /* completion mode's eventfd read lands here */
    session_opts opts;
    session_stats stats;
    /* completion: provided buffers (group BGID), recycled right after use */
    struct io_uring_buf_ring *br;
    uint8_t *bufs;
    /* readiness: read buffer, and connections with I/O left after their turn */
    uint8_t *rbuf;
    conn *ready;
} loop;

static inline uint64_t op_data(conn *c, op_kind k) { return (uint64_t)(uintptr_t)c | k; }
static inline conn *op_conn(uint64_t ud) { return (conn *)(uintptr_t)(ud & ~(uint64_t)OP_MASK); }
static inline op_kind op_of(uint64_t ud) { return (op_kind)(ud & OP_MASK); }

/* io_uring.c: an SQE for c (submitting first if the SQ is full; counted),
 * with user_data set and c->inflight raised. */
struct io_uring_sqe *sqe_for(loop *l, conn *c, op_kind k);
/* Starts closing c: cancels its requests; conn_reap frees it later. */
void conn_retire(loop *l, conn *c);
/* The last thing done with c after handling one of its CQEs (or serving it
 * from the ready list): closes and frees it if it is retiring and nothing is
 * in flight any more. c must not be used afterwards. */
void conn_reap(loop *l, conn *c);

/* wake.c: picks the wake-up for `workers` hand-off workers (the eventfd one
 * if asked to), arms it, and fills in the hub's wake function. */
void wake_setup(loop *l, unsigned workers, bool want_eventfd, hub_opts *o);
const char *wake_name(wake_kind w);
/* The loop thread saw an OP_WAKE CQE: consume it and re-arm if needed (the
 * caller collects hub output after the batch). */
void wake_complete(loop *l, const struct io_uring_cqe *cqe);

/* completion.c */
bool bufring_setup(loop *l, char *why, size_t n);
void cmp_start(loop *l, conn *c);
/* c gained output (or may take input again) from outside its CQEs. */
void cmp_serve(loop *l, conn *c);
void cmp_complete(loop *l, conn *c, op_kind k, const struct io_uring_cqe *cqe);

/* poll_mode.c */
bool rdy_setup(loop *l);
void rdy_start(loop *l, conn *c);
void rdy_complete(loop *l, conn *c, op_kind k, const struct io_uring_cqe *cqe);
void rdy_drain_ready_list(loop *l);
/* c gained output (or may take input again) from outside its CQEs. */
void rdy_serve(loop *l, conn *c);

#endif
