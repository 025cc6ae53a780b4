#include "counters.h"

#include <errno.h>
#include <inttypes.h>

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

void ctr_syscall(sc_kind k, long ret, int err) {
    sc_counter *c = &g_counters.sc[k];
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
        sc_counter *c = &g_counters.sc[k];
        uint64_t calls = ctr_get(&c->calls);
        if (!calls) continue; /* only kinds the strategy uses */
        fprintf(f, "%s\"%s\":{\"calls\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"eagain\":%" PRIu64
                   ",\"errors\":%" PRIu64 "}",
                first ? "" : ",", sc_kind_names[k], calls, ctr_get(&c->bytes), ctr_get(&c->eagain),
                ctr_get(&c->errors));
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
    uint64_t clo = ctr_get(&g_counters.closed), acc = ctr_get(&g_counters.accepted);
    if (clo > acc) clo = acc;
    fprintf(f, "},\"wakeups\":%" PRIu64 ",\"events\":%" PRIu64
               ",\"connections\":{\"accepted\":%" PRIu64 ",\"closed\":%" PRIu64 ",\"open\":%" PRIu64 "}",
            ctr_get(&g_counters.wakeups), ctr_get(&g_counters.events), acc, clo, acc - clo);
}
