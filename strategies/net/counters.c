#include "counters.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

const char *const sc_kind_names[SC_KINDS] = {
    [SC_ACCEPT] = "accept",         [SC_READ] = "read",
    [SC_WRITE] = "write",           [SC_WRITEV] = "writev",
    [SC_CLOSE] = "close",           [SC_EPOLL_WAIT] = "epoll_wait",
    [SC_EPOLL_CTL] = "epoll_ctl",   [SC_SELECT] = "select",
    [SC_POLL] = "poll",             [SC_IO_URING_ENTER] = "io_uring_enter",
    [SC_OTHER] = "other",           [SC_ASYNC_RECV] = "recv",
    [SC_ASYNC_SEND] = "send",
};

static int counts_bytes(sc_kind k) {
    return k == SC_READ || k == SC_WRITE || k == SC_WRITEV || k == SC_ASYNC_RECV || k == SC_ASYNC_SEND;
}

counters g_counters;
int g_counting = 1;
_Thread_local counters *tl_counters;

/* Every block, for the sums in snapshots. Blocks are never freed: loop
 * threads live as long as the process. */
static counters *blocks[COUNTERS_MAX_THREADS] = {&g_counters};
static _Atomic unsigned nblocks = 1;
static pthread_mutex_t attach_lock = PTHREAD_MUTEX_INITIALIZER;

/* The thread that runs constructors is the main thread: the loop thread of
 * every single-threaded server. */
__attribute__((constructor)) static void attach_main(void) { tl_counters = &g_counters; }

void counters_thread_attach(void) {
    counters *c = calloc(1, sizeof *c);
    pthread_mutex_lock(&attach_lock);
    unsigned n = atomic_load(&nblocks);
    bool ok = c && n < COUNTERS_MAX_THREADS;
    if (ok) {
        blocks[n] = c;
        atomic_store(&nblocks, n + 1); /* after the slot is filled: readers see it whole */
    }
    pthread_mutex_unlock(&attach_lock);
    if (!ok) {
        fprintf(stderr, "counters: cannot attach a loop thread (out of memory or more than %d)\n", COUNTERS_MAX_THREADS);
        abort();
    }
    tl_counters = c;
}

/* Sum of one counter over every block. */
static uint64_t sum_at(size_t offset) {
    uint64_t total = 0;
    unsigned n = atomic_load(&nblocks);
    for (unsigned i = 0; i < n; i++) total += ctr_get((_Atomic uint64_t *)((char *)blocks[i] + offset));
    return total;
}
#define SUM(member) sum_at(offsetof(counters, member))

void ctr_syscall(sc_kind k, long ret, int err) {
    if (!tl_counters) return;
    sc_counter *c = &tl_counters->sc[k];
    ctr_add(&c->calls, 1);
    if (ret >= 0) {
        if (counts_bytes(k)) ctr_add(&c->bytes, (uint64_t)ret);
    } else if (err == EAGAIN || err == EWOULDBLOCK) {
        ctr_add(&c->eagain, 1);
    } else {
        ctr_add(&c->errors, 1);
    }
}

/* Writes the kinds in [from, to) that were used, as "name":{...} members. */
static void write_kinds(FILE *f, int from, int to) {
    int first = 1;
    for (int k = from; k < to; k++) {
        uint64_t calls = SUM(sc[k].calls);
        if (!calls) continue; /* only kinds the strategy uses */
        fprintf(f, "%s\"%s\":{\"calls\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"eagain\":%" PRIu64
                   ",\"errors\":%" PRIu64 "}",
                first ? "" : ",", sc_kind_names[k], calls, SUM(sc[k].bytes), SUM(sc[k].eagain),
                SUM(sc[k].errors));
        first = 0;
    }
}

void ctr_write_json(FILE *f) {
    fputs("\"syscalls\":{", f);
    write_kinds(f, 0, SC_FIRST_ASYNC);
    fputs("},\"async_ops\":{", f);
    write_kinds(f, SC_FIRST_ASYNC, SC_KINDS);
    /* closed first: a connection is accepted before it is closed, so this
     * order cannot see more closes than accepts (clamped all the same). */
    uint64_t clo = SUM(closed), acc = SUM(accepted);
    if (clo > acc) clo = acc;
    fprintf(f, "},\"wakeups\":%" PRIu64 ",\"events\":%" PRIu64
               ",\"connections\":{\"accepted\":%" PRIu64 ",\"closed\":%" PRIu64 ",\"open\":%" PRIu64 "}",
            SUM(wakeups), SUM(events), acc, clo, acc - clo);
    /* With several loops: the connections each holds, to see how evenly the
     * threading model spread them. */
    unsigned n = atomic_load(&nblocks);
    if (n > 1) {
        fputs(",\"loop_connections\":[", f);
        for (unsigned i = 0; i < n; i++) {
            uint64_t a = ctr_get(&blocks[i]->accepted), c = ctr_get(&blocks[i]->closed);
            fprintf(f, "%s%" PRIu64, i ? "," : "", a > c ? a - c : 0);
        }
        fputc(']', f);
    }
}
