/* sockman strategy: a model of the socket thread of a Bitcoin-style node as
 * it is today (Bitcoin Core's CConnman::ThreadSocketHandler with the poll()
 * backend of Sock::WaitMany). One thread runs, forever:
 *
 *   DisconnectNodes        close and free the connections flagged last time
 *   GenerateWaitSockets    build a new pollfd vector from scratch: the
 *                          listener, and every connection that may receive
 *                          (POLLIN, unless paused) or has something queued
 *                          to send (POLLOUT); one with neither is left out
 *   WaitMany               poll() with SELECT_TIMEOUT_MILLISECONDS (50 ms)
 *   SocketHandlerConnected every connection in turn: send its queue if the
 *                          socket is writable (and skip receiving this turn
 *                          if that sent something but not everything), then
 *                          one recv() into a 64 KiB stack buffer if readable
 *                          or in error, the bytes handed to the protocol
 *   SocketHandlerListening accept one connection if the listener is readable
 *   (collect)              send what the hub queued from outside the
 *                          connections' turns: relayed inv copies and
 *                          hand-off replies (see below)
 *
 * The node parses and answers messages on a second thread (the message
 * handler, ThreadMessageHandler); replies reach the socket through
 * PushMessage, which sends at once ("optimistic send") when the peer's send
 * queue was empty and otherwise leaves them for the next POLLOUT. Without
 * --handoff the protocol runs inline in session_input(), and what it queued
 * is sent the same way: right after the recv when the queue was empty before
 * it, else on a later writable turn.
 *
 * With --handoff N, N hub workers build the replies instead, standing in for
 * the message handler thread, and the loop keeps the socket thread's 50 ms
 * poll with NO wake-up (hub_opts.wake = NULL): a reply a worker finished is
 * collected with hub_next() only at the end of an iteration, once poll() has
 * returned because some socket became ready or the 50 ms ran out, and is sent
 * then. A lone client so waits about 50 ms per request; with several active
 * clients, a request arriving on one socket ends the wait for the replies
 * finished by then, and the cost shows in the tail. That is the latency cost
 * of a socket thread nothing wakes, which the benchmark measures. (The
 * node's message handler also sends a reply itself when the peer's send
 * queue was empty, PushMessage's optimistic send; the workers here build
 * replies apart from the sockets, so every handed-off reply takes the socket
 * thread's path. docs/sockman.md says more.) Copies of a relayed inv are
 * collected at the same point, after every iteration.
 *
 * What the node does differently from the session contract, the contract
 * wins: on EOF the node closes at once (CloseSocketDisconnect); here the
 * session is told (session_peer_closed) and its reply is still sent. A socket
 * error closes the socket at once, as CloseSocketDisconnect does; the
 * connection itself is removed at the start of the next iteration. A
 * connection the protocol is done with (session_should_close, nothing
 * pending) is flagged, like fDisconnect, and closed by DisconnectNodes. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../core/hub.h"
#include "../core/session.h"
#include "../net/control.h"
#include "../net/syscalls.h"

/* The node's constant: short enough that a connection accepted while the
 * thread waits is polled soon, since the set cannot change during a wait. */
#define SELECT_TIMEOUT_MILLISECONDS 50

typedef struct conn {
    int fd;          /* -1 once the socket is closed (CloseSocketDisconnect) */
    session *s;
    bool disconnect; /* fDisconnect: DisconnectNodes removes the connection */
    bool send_blocked; /* the last send left data queued: it waits for POLLOUT */
    long pfd;        /* index in this iteration's pollfd vector, -1 if absent */
} conn;

typedef struct {
    int listen_fd;
    int reserve_fd; /* spare descriptor, given up to shed a connection on EMFILE */
    bool tcp;
    session_opts opts;
    session_stats stats;
    hub *hub;       /* relay and hand-off; no wake-up */
    conn **nodes;   /* m_nodes, in accept order */
    size_t n_nodes, cap_nodes;
} connman;

/* CloseSocketDisconnect: the socket goes now, the connection at the next
 * DisconnectNodes. */
static void close_socket_disconnect(conn *c) {
    c->disconnect = true;
    if (c->fd < 0) return;
    sc_close(c->fd);
    CTR_ADD(closed, 1);
    c->fd = -1;
}

/* DisconnectNodes: drop every flagged connection, keeping the others in
 * order (the node erases from its vector the same way). */
static void disconnect_nodes(connman *cm) {
    size_t kept = 0;
    for (size_t i = 0; i < cm->n_nodes; i++) {
        conn *c = cm->nodes[i];
        if (!c->disconnect) {
            cm->nodes[kept++] = c;
            continue;
        }
        close_socket_disconnect(c);
        session_free(c->s);
        free(c);
    }
    cm->n_nodes = kept;
}

/* GenerateWaitSockets + the first half of WaitMany: a fresh pollfd vector
 * every iteration, O(connections) however few of them are busy. The node
 * builds a map socket -> events and converts it to a std::vector<pollfd> per
 * call; the vector is allocated anew here too, and each connection remembers
 * its slot instead of looking itself up in the map. Slot 0 is the listener. */
static struct pollfd *generate_wait_sockets(connman *cm, nfds_t *count) {
    struct pollfd *pfds = malloc((cm->n_nodes + 1) * sizeof *pfds);
    if (!pfds) control_fatal("out of memory for %zu pollfds", cm->n_nodes + 1);
    nfds_t n = 0;
    pfds[n++] = (struct pollfd){.fd = cm->listen_fd, .events = POLLIN};
    for (size_t i = 0; i < cm->n_nodes; i++) {
        conn *c = cm->nodes[i];
        c->pfd = -1;
        if (c->fd < 0) continue;
        bool select_recv = session_wants_input(c->s); /* !fPauseRecv */
        bool select_send = session_output_pending(c->s) > 0;
        if (!select_recv && !select_send) continue;
        c->pfd = (long)n;
        pfds[n++] = (struct pollfd){
            .fd = c->fd,
            .events = (short)((select_recv ? POLLIN : 0) | (select_send ? POLLOUT : 0)),
        };
    }
    *count = n;
    return pfds;
}

/* SocketSendData: sends the queue piece by piece, one send() per outq
 * segment, until it is empty, a send is short, or the kernel says EAGAIN.
 * send() and not writev because that is what the node does: it hands the
 * transport one message at a time (header, then payload) and send()s each
 * piece with MSG_MORE while more is queued, so the kernel can coalesce them
 * on TCP. (outq packs consecutive small messages into one segment, so small
 * replies take fewer sends here than the node's header+payload pair.)
 * Returns whether data is left; *sent gets the bytes sent. A hard error
 * closes the socket. */
static bool socket_send_data(const connman *cm, conn *c, size_t *sent) {
    *sent = 0;
    while (c->fd >= 0 && session_output_pending(c->s)) {
        struct iovec piece;
        if (session_output_iov(c->s, &piece, 1) != 1) break;
        int flags = MSG_NOSIGNAL | MSG_DONTWAIT;
        if (cm->tcp && session_output_pending(c->s) > piece.iov_len) flags |= MSG_MORE;
        ssize_t n = sc_send(c->fd, piece.iov_base, piece.iov_len, flags);
        if (n > 0) {
            session_output_done(c->s, (size_t)n);
            *sent += (size_t)n;
            if ((size_t)n != piece.iov_len) break; /* the socket buffer is full */
            continue;
        }
        /* The node gives up this turn on any failure, and disconnects on
         * anything but "try again" (EPIPE, ECONNRESET: the peer is gone). */
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) close_socket_disconnect(c);
        break;
    }
    c->send_blocked = c->fd >= 0 && session_output_pending(c->s) > 0;
    return c->send_blocked;
}

/* PushMessage's optimistic send: what the protocol queued onto an empty send
 * queue goes out at once; behind older data, it waits for POLLOUT. */
static void push_messages(const connman *cm, conn *c, bool queue_was_empty) {
    size_t sent;
    if (queue_was_empty && session_output_pending(c->s)) socket_send_data(cm, c, &sent);
}

/* The receive half of a connection's turn: one recv() per readiness into a
 * 64 KiB buffer on the stack, as the node's pchBuf[0x10000]. */
static void receive(const connman *cm, conn *c) {
    uint8_t pchBuf[0x10000]; /* "typical socket buffer is 8K-64K" */
    ssize_t n = sc_recv(c->fd, pchBuf, sizeof pchBuf, MSG_DONTWAIT);
    if (n > 0) {
        bool queue_was_empty = session_output_pending(c->s) == 0;
        session_input(c->s, pchBuf, (size_t)n); /* ReceiveMsgBytes + the message handler */
        push_messages(cm, c, queue_was_empty);
    } else if (n == 0) {
        /* The node closes here; the contract finishes the reply first. */
        bool queue_was_empty = session_output_pending(c->s) == 0;
        session_peer_closed(c->s);
        push_messages(cm, c, queue_was_empty);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        close_socket_disconnect(c);
    }
}

/* The protocol is done and its reply is out: flag it, as the message handler
 * sets fDisconnect; DisconnectNodes closes it next time. */
static void flag_if_done(conn *c) {
    if (c->fd >= 0 && session_should_close(c->s) && !session_output_pending(c->s)) c->disconnect = true;
}

/* SocketHandlerConnected: every connection, in order, whether or not it was
 * polled (the node also runs its inactivity check on each one here). */
static void socket_handler_connected(const connman *cm, const struct pollfd *pfds) {
    for (size_t i = 0; i < cm->n_nodes; i++) {
        conn *c = cm->nodes[i];
        if (c->fd >= 0 && c->pfd >= 0) {
            short re = pfds[c->pfd].revents;
            bool recv_set = re & POLLIN;
            bool send_set = re & POLLOUT;
            bool error_set = re & (POLLERR | POLLHUP | POLLNVAL);
            if (send_set) {
                size_t sent;
                bool data_left = socket_send_data(cm, c, &sent);
                /* Sent some but not all: the peer is slow to read, so do not
                 * take more input from it this turn (TCP flow control then
                 * slows it down). Only after progress, so both sides having
                 * data to send cannot deadlock. */
                if (sent && data_left) recv_set = false;
            }
            if (c->fd >= 0 && (recv_set || error_set)) {
                if (session_wants_input(c->s)) receive(cm, c);
                /* Not reading (paused, or EOF seen): an error or hang-up
                 * still means the connection is dead. */
                else if (error_set) close_socket_disconnect(c);
            }
        }
        flag_if_done(c);
    }
}

/* Output queued from outside a connection's own turn. Replies the hand-off
 * workers finished are taken right after poll() returns, before the sockets
 * are served: there is no wake-up, so a reply finished while the thread sits
 * in poll() waits until poll() returns (another socket became ready, or the
 * 50 ms timeout), and a reply to a message received in this iteration always
 * waits for the next one — as in the node, whose socket thread sends what the
 * message handler queued on a later pass. Relayed copies queued by the
 * socket thread itself go out at the end of the same iteration
 * (workers_too = false). Either is sent at once, as PushMessage's optimistic
 * send would, unless earlier data is already waiting for POLLOUT. */
static void collect_hub_output(const connman *cm, bool workers_too) {
    session *s;
    while ((s = workers_too ? hub_next(cm->hub) : hub_next_ready(cm->hub))) {
        conn *c = session_owner(s);
        if (c->fd < 0) continue; /* socket already closed: DisconnectNodes frees it */
        size_t sent;
        if (!c->send_blocked) socket_send_data(cm, c, &sent);
        flag_if_done(c);
    }
}

/* Out of descriptors: the pending connection keeps the listener readable, so
 * every poll would return at once. Give up the reserve descriptor, accept
 * and close the connection (the client sees it refused), and take the
 * reserve back — the approach libuv and libev use. */
static void shed_connection(connman *cm) {
    if (cm->reserve_fd < 0) return;
    close(cm->reserve_fd);
    int fd = sc_accept4(cm->listen_fd, SOCK_CLOEXEC);
    if (fd >= 0) sc_close(fd);
    cm->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    fprintf(stderr, "sockman: out of file descriptors: shed one connection\n");
}

/* AcceptConnection: one connection per readable listener per iteration; the
 * new connection is first polled in the next iteration. */
static void accept_connection(connman *cm) {
    int fd = sc_accept4(cm->listen_fd, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE) shed_connection(cm);
        else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
            fprintf(stderr, "sockman: accept: %s\n", strerror(errno));
        return;
    }
    CTR_ADD(accepted, 1);
    if (cm->tcp) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (cm->n_nodes == cm->cap_nodes) {
        size_t cap = cm->cap_nodes ? 2 * cm->cap_nodes : 64;
        conn **nodes = realloc(cm->nodes, cap * sizeof *nodes);
        if (!nodes) goto drop;
        cm->nodes = nodes;
        cm->cap_nodes = cap;
    }
    conn *c = calloc(1, sizeof *c);
    if (c) c->s = session_new(&cm->opts, &cm->stats);
    if (!c || !c->s) {
        free(c);
        goto drop;
    }
    c->fd = fd;
    c->pfd = -1;
    session_set_owner(c->s, c);
    cm->nodes[cm->n_nodes++] = c;
    return;
drop:
    sc_close(fd);
    CTR_ADD(closed, 1);
}

/* SocketHandlerListening: after all connections were served. */
static void socket_handler_listening(connman *cm, const struct pollfd *pfds) {
    if (pfds[0].revents & POLLIN) accept_connection(cm);
}

int main(int argc, char **argv) {
    server_args args;
    server_args_parse(argc, argv, "sockman", &args);
    connman cm = {0};
    /* No wake-up (.wake = NULL): see collect_hub_output. */
    cm.hub = hub_new(&(hub_opts){.workers = args.handoff, .wake = NULL}, &cm.stats);
    if (!cm.hub) control_fatal("cannot start %u hand-off workers: %s", args.handoff, strerror(errno));
    cm.opts = (session_opts){.proto = args.proto, .verify_checksum = args.verify_checksum, .hub = cm.hub};
    endpoint bound;
    cm.listen_fd = server_listen(&args, &bound);
    cm.tcp = bound.family != AF_UNIX;
    cm.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    control_start(&args, &bound, &cm.stats);

    for (;;) { /* ThreadSocketHandler */
        disconnect_nodes(&cm);
        nfds_t count;
        struct pollfd *pfds = generate_wait_sockets(&cm, &count);
        int n = sc_poll(pfds, count, SELECT_TIMEOUT_MILLISECONDS);
        if (n < 0) {
            if (errno != EINTR) control_fatal("poll: %s", strerror(errno));
            for (nfds_t i = 0; i < count; i++) pfds[i].revents = 0; /* no events this time */
        }
        /* A poll that timed out is a syscall, but not a wakeup. */
        if (n > 0) sc_wakeup((unsigned)n);
        collect_hub_output(&cm, true);
        socket_handler_connected(&cm, pfds);
        socket_handler_listening(&cm, pfds);
        collect_hub_output(&cm, false);
        free(pfds);
    }
}
