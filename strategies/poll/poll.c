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
 * for only while output is still pending. A connection whose peer sent EOF is
 * still written to until its reply is complete. Accepting, reading, writing
 * and closing are the shared steps of net/stream_io.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../core/session.h"
#include "../net/control.h"
#include "../net/stream_io.h"
#include "../net/syscalls.h"

#define READ_BUF (64 * 1024)

typedef struct {
    int listen_fd;
    bool tcp;
    session_opts opts;
    session_stats stats;
    /* Parallel arrays: pfds[0] is the listener, pfds[i] (i >= 1) the socket
     * of sessions[i]. n counts entries in use, the listener included. */
    struct pollfd *pfds;
    session **sessions;
    size_t n, cap;
    uint8_t buf[READ_BUF];
} loop;

/* Closes entry i; the last entry (with its revents) takes its slot. */
static void conn_close(loop *l, size_t i) {
    stream_close(l->pfds[i].fd, l->sessions[i]);
    l->n--;
    l->pfds[i] = l->pfds[l->n];
    l->sessions[i] = l->sessions[l->n];
}

/* Keeps the entry's interest equal to what the connection needs. */
static void rearm(loop *l, size_t i) {
    const session *s = l->sessions[i];
    l->pfds[i].events = (short)((session_wants_input(s) ? POLLIN : 0) |
                                (session_output_pending(s) ? POLLOUT : 0));
}

/* Serves entry i: read once if the protocol wants input, write what it
 * produced, close when it asks to, and update the interest. Returns false if
 * the connection was closed (entry i now holds another connection). */
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
    if (!failed && stream_flush(fd, s) == STREAM_FAILED) failed = true;
    if (failed || (session_should_close(s) && !session_output_pending(s))) {
        conn_close(l, i);
        return false;
    }
    rearm(l, i);
    return true;
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
 * stop once every ready entry has been served. A closed entry's slot is taken
 * by the last one, not yet scanned, so the same index is looked at again.
 * New connections are accepted after the scan, so an appended entry is never
 * mistaken for one this poll() reported on. */
static void serve(loop *l, int nready) {
    bool accept_ready = l->pfds[0].revents != 0;
    nready -= accept_ready;
    for (size_t i = 1; i < l->n && nready > 0;) {
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
    l.opts = (session_opts){.proto = args.proto, .verify_checksum = args.verify_checksum};
    endpoint bound;
    l.listen_fd = server_listen(&args, &bound);
    l.tcp = bound.family != AF_UNIX;
    if (!entry_add(&l, l.listen_fd, NULL, POLLIN)) control_fatal("poll: out of memory");
    control_start(&args, &bound, &l.stats);

    for (;;) {
        int n = sc_poll(l.pfds, (nfds_t)l.n, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            control_fatal("poll: %s", strerror(errno));
        }
        if (n > 0) sc_wakeup((unsigned)n);
        serve(&l, n);
    }
}
