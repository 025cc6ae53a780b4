/* Several loop threads in one server (--threads N).
 *
 * A strategy that can serve with N loops (epoll, io_uring, libuv, ...) gets
 * its listeners from listeners_open() and its threads from loops_run():
 *   - listeners: with SO_REUSEPORT each loop has a listening socket of its
 *     own on the same port and the kernel spreads new connections over them
 *     (TCP only: unix sockets have no SO_REUSEPORT); otherwise all loops
 *     share one listening socket;
 *   - loops_run() starts the threads, gives each its own syscall counters
 *     (counters.h) and registers it as a loop thread, lets each set its loop
 *     up on its own thread, announces the server once every loop is ready,
 *     and then runs them.
 * Each loop owns its connections, sessions, hub and statistics: nothing on
 * the data path is shared between threads, which is the point of the model.
 * (So a relayed message reaches only the peers of the same loop, and the
 * harness runs relay and hand-off cells with one loop only.) */
#ifndef MUXBENCH_LOOPS_H
#define MUXBENCH_LOOPS_H

#include <stdbool.h>

#include "control.h"

typedef enum {
    LISTEN_SHARED,    /* one listening socket, watched by every loop */
    LISTEN_REUSEPORT, /* TCP: one SO_REUSEPORT socket per loop; unix: shared */
} listen_mode;

typedef struct {
    unsigned n;                     /* loops */
    int fd[SERVER_MAX_THREADS];     /* the listener loop i accepts on */
    bool separate;                  /* each loop has its own socket (SO_REUSEPORT took effect) */
    bool tcp;
    endpoint bound;                 /* the address clients connect to */
} listeners;

/* Opens the listeners for a->threads loops (fatal on failure, with the
 * reason on the control channel). */
void listeners_open(const server_args *a, listen_mode mode, listeners *out);

typedef struct {
    /* Runs on loop thread i (i = 0 is the calling thread) before anything is
     * announced: creates loop i and registers its statistics with
     * control_add_stats(). Returns the loop, or calls control_fatal. */
    void *(*setup)(unsigned i, void *ctx);
    /* Serves loop i forever. */
    void (*run)(void *loop);
    void *ctx;
} loops_spec;

/* Runs a->threads loops (loop 0 on the calling thread), announcing the
 * server with control_start() once every loop is set up; `threading`
 * describes the model for the listening event and the results. Never
 * returns. */
_Noreturn void loops_run(const server_args *a, const endpoint *bound, const char *threading, const loops_spec *spec);

#endif
