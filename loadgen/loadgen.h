/* muxbench-loadgen: shared types of the load generator.
 *
 * One epoll instance per shard (a thread). Every socket is registered once with
 * EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET and never modified (no epoll_ctl on the
 * data path): an edge means "something changed", so input is read until the
 * socket is drained and output is written until done or EAGAIN. EPOLLOUT
 * stays registered because toggling it would cost an epoll_ctl per request;
 * with EPOLLET it only reports transitions, so it never spins.
 *
 * Threads (--threads N): the connections are dealt over N shards, each an
 * lg_run with its own epoll fd, events array, read buffer, counters,
 * histogram and error list, so a shard's loop touches nothing another
 * thread writes: no locks and no shared counters on the data path.
 * Connection g (its global index, c->index) belongs to shard g % N at local
 * position g / N. Everything a driver derives from the index (its share of
 * --requests or --bytes, its seed, its payload, whether it is one of the
 * first --active) is therefore the same for any N, and the working
 * connections (g < nwork) are the first local positions of every shard.
 * Setup and connecting run in the main thread, shard after shard, before
 * "ready"; at "go" the main thread fixes one t_go and starts one thread per
 * shard (N = 1: it runs the only shard itself), joins them and merges the
 * shards into the one result (lg_merge). Shared during the window, and only
 * read: the arguments, the driver, t_go, and what drivers build at setup
 * (llhttp settings, the payload pattern, which payload.c guards itself).
 * A driver's mutable state shared between connections lives in the shard
 * (lg_run.drv_shared), never in a file-level variable. peer-relay, whose
 * connections wait for each other's invs, runs with one shard only.
 *
 * A driver (peer.c, http.c, relay.c, upload.c, churn.c) owns the protocol of
 * the working connections; the generic part (connect.c, conn.c, rate.c,
 * source.c) owns sockets, buffers, timing and accounting; main.c runs the
 * control channel and the threads. */
#ifndef MUXBENCH_LOADGEN_H
#define MUXBENCH_LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <time.h>

#include "../strategies/net/address.h"
#include "histogram.h"

#define LG_READ_BUF (256u * 1024u)
#define LG_MAX_ERRORS 20u
#define LG_CONNECT_TIMEOUT_MS 30000u
#define LG_MAX_DEPTH 65536u
#define LG_MAX_MESSAGE 1000000u   /* --message-size */
#define LG_MAX_RATE 1000000000u   /* --rate: keeps schedule arithmetic in 64 bits */
#define LG_MAX_SOURCE_ADDRS 254u  /* 127.0.0.1 .. 127.0.0.254 */
#define LG_LATE_NS 1000000u       /* --rate: a send more than 1 ms late is counted late */
/* Adaptive wait (conn.c wait_events): nap for 1/LG_NAP_SHARE of the recent
 * latency, between LG_NAP_MIN_NS and LG_NAP_MAX_NS; after LG_NAP_IDLE_NS
 * without an event, block. The recent latency averages about the last
 * LG_LAT_AVERAGE_OF samples. */
#define LG_NAP_SHARE 100u
#define LG_NAP_MIN_NS 5000u
#define LG_NAP_MAX_NS 50000u
#define LG_NAP_IDLE_NS 1000000u
#define LG_NAP_LATE_NS 100000u
#define LG_LAT_AVERAGE_OF 64u
#define LG_MAX_THREADS 64u        /* --threads */
#define LG_MAX_EVENTS 1024u       /* epoll events taken per wait, per shard */

typedef enum {
    DRV_PEER_PING,
    DRV_PEER_BLOCK,
    DRV_HTTP_RPC,
    DRV_HTTP_BULK,
    DRV_PEER_RELAY,
    DRV_PEER_UPLOAD,
    DRV_HTTP_CHURN,
} driver_kind;

typedef struct {
    const char *connect;
    driver_kind driver;
    uint32_t connections, active;
    uint64_t requests; /* round trips (peer-ping), requests (http-rpc, http-churn) or invs (peer-relay), in total */
    uint32_t depth;    /* requests in flight per active connection */
    uint64_t bytes;    /* payload bytes in total (peer-block, http-bulk, peer-upload) */
    uint32_t chunk;    /* piece size */
    uint64_t seed;
    bool wait_block;       /* --wait block: always sleep in epoll_wait (no naps) */
    uint64_t timeout_ms;
    bool verify_checksum;
    uint32_t message_size; /* peer-ping: ping payload bytes (8 = nonce only) */
    uint64_t rate;         /* open loop: operations per second in total; 0 = closed loop */
    uint32_t source_addrs; /* TCP source addresses; 0 = auto */
    uint32_t threads;      /* shards, one thread each (1..LG_MAX_THREADS, at most connections) */
} lg_args;

/* Exits 2 with a message on stderr for bad input; exits 0 after --help. */
void lg_args_parse(int argc, char **argv, lg_args *a);

typedef struct lg_conn lg_conn;
typedef struct lg_run lg_run;

typedef struct {
    const char *name;
    const char *unit; /* plural noun for the driver's operations, for messages */
    /* Before connecting (outside the window): sets c->ops_target and
     * allocates per-connection state and buffers. Returns 0 or -1 with err. */
    int (*setup)(lg_conn *c, char *err, size_t errlen);
    /* At go: queues the first requests (conn.c flushes them). */
    void (*start)(lg_conn *c);
    /* Bytes read from the socket; c->t_read is the time they were read. */
    void (*input)(lg_conn *c, const uint8_t *data, size_t len);
    void (*destroy)(lg_conn *c);

    /* Optional (NULL when unused). */
    /* --rate: queues one request whose latency counts from t_intended (ns);
     * closed loop passes 0 (latency from the write). See lg_fill. */
    void (*queue)(lg_conn *c, uint64_t t_intended);
    /* After every connection is up, before "ready" (outside the window). */
    int (*prepare)(lg_run *r, char *err, size_t errlen);
    /* Output that does not go through the output buffer (written after it
     * is empty): writes until done or EAGAIN; called at go and on events. */
    void (*output)(lg_conn *c);
    /* Takes over all events of a working connection (reads, writes, EOF). */
    void (*event)(lg_conn *c, uint32_t ev);
    /* Called on every turn of the window's loop; returns the next time (ns)
     * it wants to be called, or 0. */
    uint64_t (*tick)(lg_run *r, uint64_t now);
    /* Every connection works (not only the first --active): setup, start
     * and input run on all of them and the run waits for all of them. A
     * failed connection then ends the run (the others depend on it). */
    bool every_conn;
    /* Its latency samples are reply times (request -> reply): the adaptive
     * wait may nap while they are long. Streaming drivers (bulk, upload)
     * record gaps or whole transfers and always block. */
    bool replies;
    /* Appended to "closed by the server" and read errors, when the protocol
     * gives a closed connection a meaning. */
    const char *close_hint;
} lg_driver;

extern const lg_driver lg_peer_ping, lg_peer_block, lg_http_rpc, lg_http_bulk, lg_peer_relay,
    lg_peer_upload, lg_http_churn;

typedef enum {
    CONN_CONNECTING,
    CONN_IDLE,   /* connected, no work: any input is an error */
    CONN_ACTIVE, /* working */
    CONN_DONE,   /* all its operations verified */
    CONN_FAILED, /* deregistered after an error */
    CONN_CLOSED, /* the server closed it after it was done */
} conn_state;

/* A request in flight, oldest first. */
typedef struct {
    uint64_t tag;    /* ping nonce or JSON-RPC id */
    uint64_t t_sent; /* CLOCK_MONOTONIC ns of its first write; 0 = not written yet */
} lg_pending;

struct lg_conn {
    lg_run *run;
    int fd;
    uint32_t index;     /* global: 0..connections-1; the first `active` ones work.
                         * Its shard is index % nshards, at conns[index / nshards]. */
    conn_state state;
    bool retry;         /* unix connect said EAGAIN (backlog full): try again */

    /* Output: a flat buffer sized at setup for the most a driver can have
     * queued at once (depth requests), so it never grows in the window. */
    uint8_t *obuf;
    uint32_t ooff, olen, ocap;

    /* Requests in flight (ring of `depth` entries). */
    lg_pending *ring;
    uint32_t rhead, rcount, rcap, runstamped;

    uint64_t ops_target, ops_done;
    uint64_t issued;  /* requests queued so far */
    uint64_t t_read;  /* when the bytes being handed to the driver were read */
    uint64_t t_last;  /* streaming drivers: when the previous piece completed */
    void *drv;        /* driver state */
    lg_conn *wake_next; /* list of connections with output queued by others */
    bool woken;
};

/* One shard: its connections, its loop, its measurements. Fields marked
 * "shared" are equal in every shard and only read in the window. */
struct lg_run {
    const lg_args *args;    /* shared */
    const lg_driver *drv;   /* shared */
    endpoint ep;            /* --connect */
    uint32_t shard, nshards; /* this shard is number `shard` of `nshards` */
    int epfd;
    struct epoll_event events[LG_MAX_EVENTS];
    bool no_pwait2;         /* epoll_pwait2 said ENOSYS: use epoll_wait */
    lg_conn *conns;         /* this shard's: conns[i] has global index shard + i * nshards */
    uint32_t nconns;
    uint32_t nwork;       /* working connections: --active, or all (every_conn); the first nwork of conns */
    uint8_t *rbuf;
    void *drv_shared;     /* a driver's state shared by the shard's connections (one calloc; freed at close) */
    uint32_t source_addrs;  /* TCP source addresses in use (1: the kernel's choice); shared */
    uint64_t sources_used;  /* next source number for a connect (lg_next_source) */
    lg_conn *woken;         /* see lg_wake */
    bool abort;             /* an every_conn driver lost a connection */

    uint32_t active_left; /* working connections neither done nor failed */
    uint64_t ops_target;
    uint64_t next_id;     /* JSON-RPC ids, unique over the run (lg_next_id) */

    /* Measured window. */
    uint64_t t_go, t_end;
    uint64_t ops, payload_bytes, verified_pieces, bytes_sent, bytes_received;
    histogram lat;
    /* Adaptive wait (conn.c wait_events): recent latency, and how the loop waited. */
    uint64_t lat_recent_ns;   /* moving average of the latency samples */
    uint64_t blocking_waits;  /* epoll_wait calls that could sleep until an event */
    uint64_t naps;            /* timed sleeps between non-blocking polls */
    uint64_t nap_ns, max_nap_ns; /* their measured length: total and longest (asked for + the timer's lateness) */
    uint64_t late_naps;       /* naps that ended over LG_NAP_LATE_NS later than asked */
    uint64_t cpu_ns;          /* this shard's thread CPU time over its window */
    /* --rate: the schedule (rate.c) and how well it was kept. */
    uint64_t rate_next;       /* next operation of the global schedule this shard releases */
    uint64_t late_sends, max_send_lag_ns;
    uint64_t connect_retries; /* http-churn: unix connects retried after EAGAIN */

    char *errors[LG_MAX_ERRORS];
    uint32_t nerrors;
    uint64_t errors_dropped;
};

static inline uint64_t lg_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t lg_thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t lg_process_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Part k of `total` split over `parts`, the remainder going to the first ones. */
static inline uint64_t lg_share(uint64_t total, uint32_t parts, uint32_t k) {
    return total / parts + (k < total % parts ? 1u : 0u);
}

/* A JSON-RPC id unique over the run: shard k hands out k+1, k+1+N,
 * k+1+2N, ... -- about as short as one counter's ids (a shard with more
 * than its share of the requests reaches a digit more sooner, so the
 * request bytes can differ from --threads 1 by a few bytes in total). */
static inline uint64_t lg_next_id(lg_run *r) {
    uint64_t id = r->next_id;
    r->next_id += r->nshards;
    return id;
}

/* The source address number of a connect inside the window (http-churn):
 * after the connect phase's 0..connections-1, shard k takes
 * connections+k, connections+k+N, ... so shards never pick in lockstep. */
static inline uint64_t lg_next_source(lg_run *r) {
    uint64_t n = r->sources_used;
    r->sources_used += r->nshards;
    return n;
}

/* Whether c is one of the working connections (they come first in a shard). */
static inline bool lg_working(const lg_conn *c) { return (uint32_t)(c - c->run->conns) < c->run->nwork; }

/* conn.c: the run. lg_run_init sets up shard `shard` of a->threads and runs
 * the driver's setup on its working connections (outside the window, in the
 * main thread). lg_run_window runs the shard's measured loop from t_go (the
 * same for every shard); it ends when every working connection of the shard
 * is done or failed, or at t_go + --timeout-ms. */
int lg_run_init(lg_run *r, const lg_args *a, uint32_t shard, char *err, size_t errlen);
void lg_run_window(lg_run *r, uint64_t t_go);
void lg_run_close(lg_run *r);

/* connect.c: opens every connection (bounded by LG_CONNECT_TIMEOUT_MS),
 * then runs the driver's prepare hook; returns 0, or -1 with err. */
int lg_connect_all(lg_run *r, uint64_t *connect_ns, char *err, size_t errlen);
/* Opens a non-blocking socket to --connect (TCP_NODELAY, source address
 * number source_n) and starts connecting it for connection `index` (named
 * in messages). Returns LG_CONNECTED or LG_IN_PROGRESS with *fd set,
 * LG_RETRY when a unix listener's backlog is full (EAGAIN: try again
 * later), or -1 with err. The caller registers the fd with epoll. */
enum { LG_CONNECTED = 0, LG_IN_PROGRESS = 1, LG_RETRY = 2 };
#define LG_UNNAMED UINT32_MAX /* index: the caller names the connection itself */
int lg_open_socket(lg_run *r, uint32_t index, uint64_t source_n, int *fd, char *err, size_t errlen);

/* source.c: --source-addrs. lg_source_init picks K for the target (the
 * argument, or auto); lg_source_bind binds fd to 127.0.0.(1 + n % K) with
 * IP_BIND_ADDRESS_NO_PORT (nothing when K is 1). Both: 0, or -1 with err. */
int lg_source_init(lg_run *r, char *err, size_t errlen);
int lg_source_bind(const lg_run *r, int fd, uint64_t n, char *err, size_t errlen);

/* rate.c: the open-loop schedule of --rate. Operation j of the run (j =
 * connection + k * active for the k-th request of a connection) is due at
 * t_go + j / rate; each shard releases the operations of its connections. */
uint64_t lg_rate_intended(const lg_run *r, uint64_t j);
/* Queues the connection's due requests (up to --depth in flight). */
void lg_rate_pump(lg_conn *c);
/* Sets the shard's first operation of the schedule (before its window). */
void lg_rate_start(lg_run *r);
/* Releases the shard's operations that fell due by `now`; returns the time
 * its next one is due, or 0. */
uint64_t lg_rate_tick(lg_run *r, uint64_t now);

/* conn.c: helpers for drivers. Buffers: allocated in setup, never in the window. */
int lg_conn_buffers(lg_conn *c, size_t out_cap, uint32_t ring_cap);
uint8_t *lg_out_reserve(lg_conn *c, size_t n); /* room for n bytes, then lg_out_commit */
static inline void lg_out_commit(lg_conn *c, size_t n) { c->olen += (uint32_t)n; }
void lg_push(lg_conn *c, uint64_t tag);
/* A request whose latency starts at t (an intended send time), not at its write. */
void lg_push_at(lg_conn *c, uint64_t tag, uint64_t t);
static inline lg_pending *lg_head(lg_conn *c) { return c->rcount ? &c->ring[c->rhead] : NULL; }
void lg_pop(lg_conn *c);
/* One verified operation: latency in ns, payload bytes, pieces hash-verified. */
void lg_op_done(lg_conn *c, uint64_t latency_ns, uint64_t payload, uint32_t pieces);
/* n verified operations at once, without a latency sample. */
void lg_ops_done(lg_conn *c, uint64_t n, uint64_t payload, uint64_t pieces);
/* Records a latency sample, and follows recent latency for the adaptive
 * wait. The first sample starts the average (at most 1 ms, so a slow first
 * reply of a fast run is forgotten within ~44 samples); after it, a sample
 * counts at most 8 times the current average: a lasting rise is followed
 * within some tens of samples (the average can grow by 7/64 per sample),
 * while one stalled sample of a low-latency run moves it by 11% at most. */
static inline void lg_run_latency(lg_run *r, uint64_t ns) {
    hist_record(&r->lat, ns);
    if (r->lat_recent_ns == 0) {
        r->lat_recent_ns = ns < 1000000u ? ns : 1000000u;
        return;
    }
    uint64_t cap = 8 * r->lat_recent_ns;
    if (ns > cap) ns = cap;
    r->lat_recent_ns = r->lat_recent_ns - r->lat_recent_ns / LG_LAT_AVERAGE_OF + ns / LG_LAT_AVERAGE_OF;
}
static inline void lg_latency(lg_conn *c, uint64_t ns) { lg_run_latency(c->run, ns); }
/* Drivers with a queue hook: queues what may go now -- closed loop: up to
 * --depth in flight; --rate: the requests that are due, up to --depth. */
void lg_fill(lg_conn *c);
/* Output for c was queued while handling another connection: c is flushed
 * after the current event. */
void lg_wake(lg_conn *c);
/* Writes c's output buffer until empty or EAGAIN (fails c on errors). */
void lg_conn_flush(lg_conn *c);
/* Records an error naming the connection and stops using it. */
void lg_conn_fail(lg_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* report.c */
void lg_error(lg_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lg_json_string(const char *s, FILE *f);
bool lg_result_ok(const lg_run *r);
/* The shards' measurements as one run: counters and histograms added, errors
 * concatenated (capped, the rest counted as dropped), t_go the earliest,
 * t_end the latest. The total borrows the shards' error strings: it is
 * printed, never closed. */
void lg_merge(lg_run *total, const lg_run *shards, uint32_t n);
/* The load generator's CPU use over the window. */
typedef struct {
    long utime_us, stime_us;  /* rusage split (tick-sampled) */
    uint64_t cpu_ns, wall_ns; /* exact process CPU time (all threads), and the wall time it covers */
    uint32_t threads, cpus;   /* --threads, and the CPUs of the process's affinity mask */
} lg_cpu;
void lg_print_result(const lg_run *r, const lg_cpu *cpu);

#endif
