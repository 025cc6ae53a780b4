/* The server-wide side of the protocol: work that reaches a session from
 * outside its own input.
 *
 *   - Relay: a peer's `inv` is queued on every other peer's session.
 *   - Hand-off (--handoff N): every parsed request is built into a reply by
 *     one of N worker threads, as a node hands messages from its socket
 *     thread to a message-handler thread; the worker then wakes the loop.
 *
 * Sans-I/O like the session: the hub queues bytes and remembers which
 * sessions gained output; the strategy writes them. Contract for strategies:
 *   - create one hub (hub_new) and pass it in session_opts.hub;
 *   - give each session its connection with session_set_owner();
 *   - after each batch of events, and whenever the wake-up fires, call
 *     hub_next() until it returns NULL and treat each session it returns as
 *     one that just produced output: write it, update interest, and close it
 *     when session_should_close() with nothing pending;
 *   - supply the wake-up in hub_opts: a function a worker thread calls when it
 *     finished a reply and the loop may be asleep (eventfd write, uv_async_send,
 *     event_active, ...). Wake-ups are coalesced: one per batch of replies
 *     the loop has not collected yet. A NULL wake (sockman) means replies wait
 *     until the loop next returns from its wait for another reason. */
#ifndef MUXBENCH_HUB_H
#define MUXBENCH_HUB_H

#include <stdbool.h>

#include "session.h"

typedef void (*hub_wake_fn)(void *arg);

typedef struct {
    unsigned workers; /* 0: replies are built on the loop thread */
    hub_wake_fn wake; /* called on a worker thread; NULL: no wake-up */
    void *wake_arg;
} hub_opts;

#define HUB_MAX_WORKERS 64u

/* Starts the workers. Returns NULL on failure (errno set). */
hub *hub_new(const hub_opts *opts, session_stats *stats);

/* Finishes the requests the workers hold, stops them and frees the hub.
 * Free the sessions first. (Servers never need this; tests do.) */
void hub_free(hub *h);

/* Loop thread: collects finished hand-off replies into their sessions, then
 * returns the sessions that gained output since the last call, one per call;
 * NULL when there are none. Every session returned is alive. */
session *hub_next(hub *h);

/* Like hub_next(), without collecting the workers' replies: only output
 * queued on the loop thread itself (relays). For a loop that takes workers'
 * replies at one fixed point of its iteration (sockman). */
session *hub_next_ready(hub *h);

unsigned hub_workers(const hub *h);

#endif
