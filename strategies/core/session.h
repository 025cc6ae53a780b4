/* One connection's protocol state, sans-I/O: bytes in, bytes out.
 *
 * A strategy owns the socket and does all I/O; for each connection it keeps a
 * session and follows this contract:
 *   - after reading bytes, call session_input();
 *   - while session_output_pending() > 0, write the bytes given by
 *     session_output_iov() and report them with session_output_done();
 *   - read only while session_wants_input() (it turns false to apply
 *     backpressure: while the peer does not drain its replies, or while a
 *     pipelined request waits behind a long response);
 *   - on EOF, call session_peer_closed() and keep writing;
 *   - when session_should_close() and no output is pending, close.
 * A session can also gain output without input of its own (a relayed
 * message, a reply from a hand-off worker): hub.h says how strategies learn
 * of it.
 * The same session code serves readiness loops (select/poll/epoll) and
 * completion loops (io_uring), which is what makes the comparison fair. */
#ifndef MUXBENCH_SESSION_H
#define MUXBENCH_SESSION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

typedef enum { PROTO_PEER = 0, PROTO_HTTP = 1 } proto_kind;

typedef struct session session;
typedef struct hub hub;

typedef struct {
    proto_kind proto;
    bool verify_checksum; /* peer: verify SHA256d of every received payload and fill it in sent headers */
    hub *hub;             /* relay and hand-off (hub.h); NULL: neither */
} session_opts;

/* Protocol statistics of one loop. One writer (the loop thread), read by the
 * control thread: relaxed load+store, no locked instruction on the hot path.
 * A server with several loop threads gives each loop its own block, and the
 * control thread sums them. */
typedef struct {
    _Atomic uint64_t messages_in;     /* peer messages or HTTP requests parsed */
    _Atomic uint64_t messages_out;    /* peer messages or HTTP responses queued */
    _Atomic uint64_t payload_bytes_out;
    _Atomic uint64_t protocol_errors; /* connections closed for bad input */
    _Atomic uint64_t payload_bytes_in;  /* uploaded block bytes verified against the pattern */
    _Atomic uint64_t relayed;           /* copies of relayed messages queued to other peers */
    _Atomic uint64_t relay_dropped;     /* copies not queued: the peer was not reading (1 MiB queued) */
    _Atomic uint64_t handoff_jobs;      /* requests handed to worker threads */
    _Atomic uint64_t handoff_wakeups;   /* wake-ups the workers sent (several writers: fetch_add) */
} session_stats;

/* Set once, before any session exists, by a server whose sessions are
 * served by several threads in turn (an io_context run by N threads): one
 * block then has several writers, and additions must be atomic. */
extern bool session_stats_shared;

static inline void stat_add(_Atomic uint64_t *c, uint64_t v) {
    if (session_stats_shared) atomic_fetch_add_explicit(c, v, memory_order_relaxed);
    else atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}

session *session_new(const session_opts *opts, session_stats *stats);
void session_free(session *s);

/* The strategy's connection for this session (hub_next() returns sessions). */
void session_set_owner(session *s, void *owner);
void *session_owner(const session *s);

/* Hands received bytes to the protocol. Never fails: bad input marks the
 * session closing (HTTP queues a 400/431 first). */
void session_input(session *s, const uint8_t *data, size_t len);

bool session_wants_input(const session *s);
size_t session_output_pending(const session *s);
size_t session_output_iov(const session *s, struct iovec *iov, size_t max);
void session_output_done(session *s, size_t n);
bool session_should_close(const session *s);

/* The peer sent EOF. The session stops wanting input, finishes the response
 * in progress, and then session_should_close() turns true. (A peer that is
 * gone entirely makes the strategy's writes fail; it closes then.) */
void session_peer_closed(session *s);

#endif
