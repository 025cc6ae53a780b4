/* Syscall and loop counters of a native process.
 *
 * Every syscall a strategy makes on the data path goes through a wrapper in
 * syscalls.h that bumps these counters. They have a single writer (the loop
 * thread) and are read by the control thread for snapshots, so updates are
 * relaxed atomic load+store pairs: plain moves on x86, no locked instructions
 * on the hot path, and no data race in the C11 sense. */
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
