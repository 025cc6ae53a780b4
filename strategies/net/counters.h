/* Syscall and loop counters of a native process.
 *
 * Every syscall a strategy makes on the data path goes through a wrapper in
 * syscalls.h that bumps these counters. Each loop thread has its own block
 * (the main thread's is g_counters; a server with --threads N gives each
 * further loop thread one with counters_thread_attach), so every block has a
 * single writer and is read by the control thread, which sums the blocks for
 * snapshots. Updates are relaxed atomic load+store pairs: plain moves on
 * x86, no locked instructions and no shared cache lines on the hot path, and
 * no data race in the C11 sense. Threads that are not loop threads (hand-off
 * workers, the control thread) have no block, and their calls are not
 * counted. */
#ifndef MUXBENCH_COUNTERS_H
#define MUXBENCH_COUNTERS_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    SC_ACCEPT = 0,
    SC_READ,       /* read / recv */
    SC_WRITE,      /* write / send */
    SC_WRITEV,     /* writev / sendmsg */
    SC_CLOSE,
    SC_EPOLL_WAIT,
    SC_EPOLL_CTL,
    SC_SELECT,
    SC_POLL,
    SC_IO_URING_ENTER,
    SC_OTHER,
    /* Not syscalls: receives and sends a completion mechanism (io_uring)
     * performs in the kernel on the strategy's behalf. Counted with their
     * bytes so byte totals stay exact, and reported apart from syscalls. */
    SC_ASYNC_RECV,
    SC_FIRST_ASYNC = SC_ASYNC_RECV,
    SC_ASYNC_SEND,
    SC_KINDS
} sc_kind;

extern const char *const sc_kind_names[SC_KINDS];

typedef struct {
    _Atomic uint64_t calls, bytes, eagain, errors;
} sc_counter;

typedef struct {
    sc_counter sc[SC_KINDS];
    _Atomic uint64_t wakeups;  /* returns from the multiplexing call */
    _Atomic uint64_t events;   /* readiness events / completions handled */
    _Atomic uint64_t accepted, closed;
} counters;

extern counters g_counters;
extern int g_counting; /* 0 disables counting (to measure its overhead) */

/* The calling thread's block: g_counters on the main thread, NULL on threads
 * that never attached (their calls are not counted). */
extern _Thread_local counters *tl_counters;

/* Gives the calling loop thread a block of its own (fatal when out of
 * memory or past COUNTERS_MAX_THREADS). Call first thing on the thread. */
#define COUNTERS_MAX_THREADS 64
void counters_thread_attach(void);

/* Adds v to one counter of the calling thread's block, if it has one:
 * field is a member of counters (e.g. closed, wakeups). */
#define CTR_ADD(field, v) \
    do { \
        if (tl_counters) ctr_add(&tl_counters->field, (v)); \
    } while (0)

static inline void ctr_add(_Atomic uint64_t *c, uint64_t v) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                          memory_order_relaxed);
}
static inline uint64_t ctr_get(_Atomic uint64_t *c) {
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* Records one call's outcome: ret >= 0 adds ret bytes (for I/O kinds);
 * ret < 0 counts EAGAIN separately from other errors. */
void ctr_syscall(sc_kind k, long ret, int err);

/* Appends the counters as a JSON object body (no braces) to f. */
void ctr_write_json(FILE *f);

#endif
