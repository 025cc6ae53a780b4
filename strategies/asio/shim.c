/* The C side of the asio strategies (see shim.h): owns the server's
 * arguments, address, statistics block and session options, so the C++
 * server never touches a type with _Atomic members. */
#include "shim.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "../core/hub.h"
#include "../core/session.h"
#include "../net/control.h"
#include "../net/counters.h"

static struct {
    server_args args;
    endpoint bound;
    session_stats stats;
    session_opts opts;
} g;

void mx_parse(int argc, char **argv, const char *strategy) {
    server_args_parse(argc, argv, strategy, &g.args);
    g.opts = (session_opts){.proto = g.args.proto, .verify_checksum = g.args.verify_checksum, .hub = NULL};
}

unsigned mx_threads(void) { return g.args.threads; }
unsigned mx_handoff(void) { return g.args.handoff; }

int mx_listen(int *family) {
    int fd = server_listen(&g.args, &g.bound);
    *family = g.bound.family;
    return fd;
}

void mx_stats_shared(void) { session_stats_shared = true; }

hub *mx_hub_start(void (*wake)(void *), void *arg) {
    hub *h = hub_new(&(hub_opts){.workers = g.args.handoff, .wake = wake, .wake_arg = arg}, &g.stats);
    if (!h) control_fatal("cannot start %u hand-off workers: %s", g.args.handoff, strerror(errno));
    g.opts.hub = h;
    return h;
}

session *mx_session_new(void) { return session_new(&g.opts, &g.stats); }

void mx_start(void) { control_start(&g.args, &g.bound, &g.stats); }

void mx_count_recv(long res) {
    if (g_counting) ctr_syscall(SC_ASYNC_RECV, res, res < 0 ? (int)-res : 0);
}

/* Sends are counted when issued, not when their completion is reaped: with
 * several threads the completion may be reaped (and its handler run) well
 * after the kernel sent the bytes and the client read them, and a snapshot
 * taken in between would miss bytes the client already has. The correction
 * may land on another thread's block than the issue did: blocks are summed
 * modulo 2^64, so a block's own total may wrap but the sum is exact. */
void mx_count_send_issued(size_t asked) {
    if (g_counting) ctr_syscall(SC_ASYNC_SEND, (long)asked, 0);
}

void mx_count_send_done(size_t asked, long res, bool cancelled) {
    if (!g_counting || !tl_counters) return;
    sc_counter *c = &tl_counters->sc[SC_ASYNC_SEND];
    if (cancelled) {
        ctr_add(&c->calls, (uint64_t)-1);
        ctr_add(&c->bytes, -(uint64_t)asked);
    } else if (res < 0) {
        ctr_add(&c->bytes, -(uint64_t)asked);
        ctr_add(res == -EAGAIN || res == -EWOULDBLOCK ? &c->eagain : &c->errors, 1);
    } else if ((size_t)res < asked) {
        ctr_add(&c->bytes, -(uint64_t)(asked - (size_t)res));
    }
}

void mx_count_event(void) {
    if (g_counting) CTR_ADD(events, 1);
}

void mx_count_accepted(void) { CTR_ADD(accepted, 1); }
void mx_count_closed(void) { CTR_ADD(closed, 1); }
