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
    int backlog;
} server_args;

/* Parses the common flags; exits with status 2 and a usage line on error. */
void server_args_parse(int argc, char **argv, const char *strategy, server_args *a);

/* Creates the listener described by a (exits with an error event on failure). */
int server_listen(const server_args *a, endpoint *bound);

/* Announces the address and starts the stdin thread. `stats` is included in
 * snapshots. Call once, after listening and before the loop. */
void control_start(const server_args *a, const endpoint *bound, session_stats *stats);

/* Reports a fatal error on the channel and exits(1). */
void control_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
