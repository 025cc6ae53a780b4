/* Socket steps every readiness loop takes the same way (select, poll, epoll,
 * io_uring's poll mode): accept a connection, read once into the protocol,
 * write what the protocol queued, close. Keeping them here means those loops
 * differ only in how they wait and what they ask to be woken for — the part
 * being compared. Every call is counted (syscalls.h). */
#ifndef MUXBENCH_STREAM_IO_H
#define MUXBENCH_STREAM_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/session.h"

/* Writes per flush call: bounds the time one fast reader of a long stream can
 * hold the loop. */
#define STREAM_WRITES_PER_TURN 16

typedef enum {
    STREAM_OK,      /* output done, or the turn's writes used up */
    STREAM_BLOCKED, /* socket buffer full (EAGAIN or a short write): wait for writability */
    STREAM_FAILED,  /* the peer is gone (EPIPE, ECONNRESET, ...) */
} flush_status;

flush_status stream_flush(int fd, session *s);

typedef enum {
    READ_FULL,    /* filled the buffer: more may be waiting */
    READ_SHORT,   /* fewer bytes than asked: the socket is drained for now */
    READ_EOF,     /* the peer finished sending: session_peer_closed() was called */
    READ_AGAIN,   /* nothing to read (EAGAIN/EINTR) */
    READ_FAILED,  /* the connection failed */
} read_status;

/* One read into buf; what was read is handed to the session. */
read_status stream_read(int fd, session *s, uint8_t *buf, size_t cap);

/* Edge-style loops (epoll-et, io_uring's poll mode) remember readiness per
 * connection: these variants clear *writable when the socket is full, and
 * *readable when it is drained (a short read is taken as drained unless the
 * peer has shut down, as nginx does: new data would raise a new edge).
 * Both return false when the connection failed. */
bool stream_flush_edge(int fd, session *s, bool *writable);
bool stream_read_edge(int fd, session *s, uint8_t *buf, size_t cap, bool *readable, bool peer_shut);

/* Accepts one pending connection: non-blocking, close-on-exec, TCP_NODELAY on
 * TCP, counted. Returns its fd, or -1 when none is pending now. Out of
 * descriptors (EMFILE/ENFILE) it sheds the pending connection so a
 * level-triggered listener does not fire forever, and returns -1. */
int stream_accept(int listen_fd, bool tcp, const char *strategy);

/* For loops where the kernel accepts (io_uring multishot accept): count a
 * new connection and set TCP_NODELAY; and shed one pending connection when
 * the accept failed with EMFILE/ENFILE. */
void stream_accepted(int fd, bool tcp);
void stream_shed(int listen_fd, const char *strategy);

/* Closes a connection's socket (counted) and frees its session. */
void stream_close(int fd, session *s);

#endif
