#include "stream_io.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>

#include "syscalls.h"

#define MAX_IOV 64

flush_status stream_flush(int fd, session *s) {
    struct iovec iov[MAX_IOV];
    for (int turn = 0; turn < STREAM_WRITES_PER_TURN && session_output_pending(s); turn++) {
        size_t n = session_output_iov(s, iov, MAX_IOV);
        ssize_t w = n == 1 ? sc_write(fd, iov[0].iov_base, iov[0].iov_len) : sc_writev(fd, iov, (int)n);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return STREAM_BLOCKED;
            if (errno == EINTR) continue;
            return STREAM_FAILED;
        }
        size_t asked = 0;
        for (size_t i = 0; i < n; i++) asked += iov[i].iov_len;
        session_output_done(s, (size_t)w);
        /* A short write means the socket buffer is full: waiting for
         * writability saves the write that would only return EAGAIN. */
        if ((size_t)w < asked) return STREAM_BLOCKED;
    }
    return STREAM_OK;
}

read_status stream_read(int fd, session *s, uint8_t *buf, size_t cap) {
    ssize_t r = sc_read(fd, buf, cap);
    if (r > 0) {
        session_input(s, buf, (size_t)r);
        return (size_t)r < cap ? READ_SHORT : READ_FULL;
    }
    if (r == 0) {
        session_peer_closed(s); /* EOF: finish the replies, then close */
        return READ_EOF;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return READ_AGAIN;
    return READ_FAILED;
}

bool stream_flush_edge(int fd, session *s, bool *writable) {
    if (!*writable) return true;
    flush_status st = stream_flush(fd, s);
    if (st == STREAM_BLOCKED) *writable = false;
    return st != STREAM_FAILED;
}

bool stream_read_edge(int fd, session *s, uint8_t *buf, size_t cap, bool *readable, bool peer_shut) {
    switch (stream_read(fd, s, buf, cap)) {
    case READ_FULL:
        return true;
    case READ_SHORT:
        if (!peer_shut) *readable = false;
        return true;
    case READ_EOF:
    case READ_AGAIN:
        *readable = false;
        return true;
    case READ_FAILED:
        break;
    }
    *readable = false;
    return false;
}

/* A descriptor held in reserve: given up to accept-and-close one connection
 * when the process is out of descriptors (the approach libuv and libev use).
 * One per loop thread, so threads never race for it. */
static _Thread_local int reserve_fd = -2; /* -2: not opened yet */

void stream_shed(int listen_fd, const char *strategy) {
    if (reserve_fd < 0) return;
    close(reserve_fd);
    int fd = sc_accept4(listen_fd, SOCK_CLOEXEC);
    if (fd >= 0) sc_close(fd);
    reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    fprintf(stderr, "%s: out of file descriptors: shed one connection\n", strategy);
}

static void reserve_once(void) {
    /* Opened at the first accept, while descriptors are still plentiful. */
    if (reserve_fd == -2) reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void stream_accepted(int fd, bool tcp) {
    reserve_once();
    CTR_ADD(accepted, 1);
    if (tcp) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
}

int stream_accept(int listen_fd, bool tcp, const char *strategy) {
    reserve_once();
    for (;;) {
        int fd = sc_accept4(listen_fd, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            stream_accepted(fd, tcp);
            return fd;
        }
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE) stream_shed(listen_fd, strategy);
        else if (errno != EAGAIN && errno != EWOULDBLOCK) fprintf(stderr, "%s: accept: %s\n", strategy, strerror(errno));
        return -1;
    }
}

void stream_close(int fd, session *s) {
    sc_close(fd);
    CTR_ADD(closed, 1);
    session_free(s);
}
