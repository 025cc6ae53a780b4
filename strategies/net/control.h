/* Control channel of a native server: JSON lines on stdin/stdout.
 *
 * stdout events:  {"event":"listening",...} once, {"event":"snapshot",...}
 *                 per request, {"event":"error","message":...} on failure.
 * stdin commands: {"cmd":"snapshot"} and {"cmd":"exit"}; EOF means exit.
 * A background thread serves stdin so strategies never see the channel: the
 * measured loop is the strategy's own, and snapshots do not wake it. */
#ifndef MUXBENCH_CONTROL_H
#define MUXBENCH_CONTROL_H

#include <stdbool.h>

#include "../core/session.h"
#include "address.h"

/* What every native server takes on its command line. */
typedef struct {
    const char *strategy;   /* name reported in events */
    proto_kind proto;
    const char *listen;     /* endpoint text */
    bool verify_checksum;
    bool edge_triggered;    /* only for strategies that have the notion */
    bool no_counters;       /* disable syscall counting */
    unsigned handoff;       /* worker threads that build replies (0: the loop does) */
    unsigned threads;       /* loop threads asked for (--threads; 1 unless given) */
    int backlog;
} server_args;

#define SERVER_MAX_THREADS 64u

/* Parses the common flags; exits with status 2 and a usage line on error. */
void server_args_parse(int argc, char **argv, const char *strategy, server_args *a);

/* Creates the listener described by a (exits with an error event on failure). */
int server_listen(const server_args *a, endpoint *bound);
/* The same, with SO_REUSEPORT on a TCP listener when reuseport is set (more
 * sockets can then join its port: net/loops.h). */
int server_listen_with(const server_args *a, bool reuseport, endpoint *bound);

/* Announces the address and starts the stdin thread. `stats` is included in
 * snapshots (NULL: only what control_add_stats registered). Call once, after
 * listening and after every loop thread has registered, before the loops
 * serve. The listening event names the loop threads (for the harness to pin
 * each to a CPU) and the threading model; a server that registered fewer
 * loop threads than --threads asked for is refused here, so a strategy that
 * runs one loop needs no code to reject --threads 2. */
void control_start(const server_args *a, const endpoint *bound, session_stats *stats);

/* Another loop's statistics, summed into snapshots (one per loop thread).
 * Call before control_start. */
void control_add_stats(session_stats *stats);

/* Registers the calling thread as a loop thread (its kernel thread id goes
 * in the listening event). Without any, the main thread is the loop thread. */
void control_add_loop_thread(void);

/* How the loop threads share the work, for the listening event and results
 * ("one loop, SO_REUSEPORT listener per thread", ...). Default: "one loop". */
void control_set_threading(const char *model);

/* Reports a fatal error on the channel and exits(1). */
void control_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
