/* poll strategy: one thread, one pollfd array, non-blocking sockets.
 *
 * The array is kept up to date as things change instead of being rebuilt:
 * an entry is appended on accept, removed on close by moving the last entry
 * into its slot, and its `events` rewritten in place when the connection's
 * needs change (POLLIN while the protocol wants input, POLLOUT while output
 * is pending) — a store, not a syscall. Each poll() still hands the whole
 * array to the kernel and the loop scans `revents` afterwards: the linear
 * cost per wakeup this strategy exists to measure, without select's set
 * rebuild or its FD_SETSIZE limit.
 *
 * The I/O per ready socket is that of level-triggered epoll: one read per
 * readiness (poll reports the socket again if more is buffered, which keeps
 * connections fair), a write as soon as input produced output, POLLOUT asked
 * for only while output is still pending.
 *
 * Output that arrives from outside a connection's own readiness (a relayed
 * inv, a reply built by a hand-off worker) is collected from the hub after
 * each poll() round and written at once, like any reply; what does not fit
 * sets POLLOUT as usual. Hand-off workers wake the loop through an eventfd,
 * one more pollfd right after the listener (created only with --handoff):
 * the loop reads it to re-arm it before collecting, so a reply that finishes
 * while the loop collects raises a new wake-up instead of being lost.
 * Without hand-off, poll() still waits with no timeout: relayed output is
 * produced by the loop itself, during a round, and collected at its end.
 *
 * A connection whose peer sent EOF is still written to until its reply is
 * complete. Accepting, reading, writing and closing are the shared steps of
 * net/stream_io.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/hub.h"
#include "../core/session.h"
#include "../net/control.h"
#include "../net/stream_io.h"
#include "../net/syscalls.h"
#include "../net/wakefd.h"

#define READ_BUF (64 * 1024)

typedef struct {
    int listen_fd;
    int wake_fd; /* hand-off replies are ready (-1 without hand-off) */
    bool tcp;
    hub *hub;
    session_opts opts;
    session_stats stats;
    /* Parallel arrays: pfds[0] is the listener, pfds[1] the eventfd when
     * there is one, and pfds[i] (i >= first) the socket of sessions[i]. n
     * counts entries in use, those fixed ones included. */
    struct pollfd *pfds;
    session **sessions;
    size_t n, cap, first;
    uint8_t buf[READ_BUF];
} loop;

/* A session's owner is its entry's index (the arrays move when they grow,
 * and closing moves entries). */
static void set_index(session *s, size_t i) { session_set_owner(s, (void *)(uintptr_t)i); }
static size_t index_of(const session *s) { return (size_t)(uintptr_t)session_owner(s); }

/* Closes entry i; the last entry (with its revents) takes its slot and
 * learns its new index, so the hub can still lead to it. */
static void conn_close(loop *l, size_t i) {
    stream_close(l->pfds[i].fd, l->sessions[i]);
    l->n--;
    l->pfds[i] = l->pfds[l->n];
    l->sessions[i] = l->sessions[l->n];
    if (i < l->n) set_index(l->sessions[i], i);
}

/* Keeps the entry's interest equal to what the connection needs. */
static void rearm(loop *l, size_t i) {
    const session *s = l->sessions[i];
    l->pfds[i].events = (short)((session_wants_input(s) ? POLLIN : 0) |
                                (session_output_pending(s) ? POLLOUT : 0));
}

/* After a connection's protocol may have produced output: write it, close
 * when the protocol is done with nothing left to send, else update the
 * interest. Returns false if the connection was closed (entry i now holds
 * another connection). */
static bool settle(loop *l, size_t i, bool failed) {
    if (!failed && stream_flush(l->pfds[i].fd, l->sessions[i]) == STREAM_FAILED) failed = true;
    if (failed || (session_should_close(l->sessions[i]) && !session_output_pending(l->sessions[i]))) {
        conn_close(l, i);
        return false;
    }
    rearm(l, i);
    return true;
}

/* Serves entry i: read once if the protocol wants input, then settle. */
static bool handle(loop *l, size_t i, short revents) {
    int fd = l->pfds[i].fd;
    session *s = l->sessions[i];
    bool failed = false;
    if (revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
        if (session_wants_input(s)) failed = stream_read(fd, s, l->buf, sizeof l->buf) == READ_FAILED;
        /* Not reading: HUP/ERR still mean the connection is dead (a peer that
         * only half-closed raises neither). poll reports them whatever
         * `events` asks for, so ignoring them would spin. */
        else if (revents & (POLLHUP | POLLERR | POLLNVAL)) failed = true;
    }
    return settle(l, i, failed);
}

/* Connections that gained output from outside their own readiness. */
static void serve_hub(loop *l) {
    session *s;
    while ((s = hub_next(l->hub))) settle(l, index_of(s), false);
}

/* Appends an entry for fd with `events` and a cleared revents. */
static bool entry_add(loop *l, int fd, session *s, short events) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct pollfd *p = realloc(l->pfds, cap * sizeof *p);
        if (!p) return false;
        l->pfds = p;
        session **ss = realloc(l->sessions, cap * sizeof *ss);
        if (!ss) return false; /* pfds is merely larger than `cap` says */
        l->sessions = ss;
        l->cap = cap;
    }
    l->pfds[l->n] = (struct pollfd){.fd = fd, .events = events};
    l->sessions[l->n] = s;
    if (s) set_index(s, l->n);
    l->n++;
    return true;
}

static void accept_all(loop *l) {
    int fd;
    while ((fd = stream_accept(l->listen_fd, l->tcp, "poll")) >= 0) {
        session *s = session_new(&l->opts, &l->stats);
        if (!s || !entry_add(l, fd, s, POLLIN)) stream_close(fd, s);
    }
}

/* Scans revents. nready (poll's count of entries with events) lets the scan
 * stop once every ready entry has been served. The eventfd is read first,
 * before the hub is asked for replies at the end of the round. A closed
 * entry's slot is taken by the last one, not yet scanned, so the same index
 * is looked at again. New connections are accepted after the scan, so an
 * appended entry is never mistaken for one this poll() reported on. */
static void serve(loop *l, int nready) {
    bool accept_ready = l->pfds[0].revents != 0;
    nready -= accept_ready;
    if (l->first > 1 && l->pfds[1].revents) {
        wakefd_drain(l->wake_fd);
        nready--;
    }
    for (size_t i = l->first; i < l->n && nready > 0;) {
        short revents = l->pfds[i].revents;
        if (!revents) {
            i++;
            continue;
        }
        nready--;
        if (handle(l, i, revents)) i++;
    }
    if (accept_ready) accept_all(l);
}

int main(int argc, char **argv) {
    server_args args;
    server_args_parse(argc, argv, "poll", &args);
    static loop l; /* large read buffer: keep it off the stack */
    l.hub = wakefd_hub(args.handoff, &l.stats, &l.wake_fd);
    l.opts = (session_opts){.proto = args.proto, .verify_checksum = args.verify_checksum, .hub = l.hub};
    endpoint bound;
    l.listen_fd = server_listen(&args, &bound);
    l.tcp = bound.family != AF_UNIX;
    if (!entry_add(&l, l.listen_fd, NULL, POLLIN)) control_fatal("poll: out of memory");
    if (l.wake_fd >= 0 && !entry_add(&l, l.wake_fd, NULL, POLLIN)) control_fatal("poll: out of memory");
    l.first = l.n; /* connections follow the fixed entries; only they are ever swapped */
    control_start(&args, &bound, &l.stats);

    for (;;) {
        int n = sc_poll(l.pfds, (nfds_t)l.n, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            control_fatal("poll: %s", strerror(errno));
        }
        if (n > 0) sc_wakeup((unsigned)n);
        serve(&l, n);
        serve_hub(&l);
    }
}
