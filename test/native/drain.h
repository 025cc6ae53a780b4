/* Test helpers: run a session like a strategy would, without sockets. */
#ifndef MUXBENCH_DRAIN_H
#define MUXBENCH_DRAIN_H

#include <stdlib.h>
#include <string.h>

#include "../../strategies/core/session.h"

/* Moves up to max bytes of pending output into out, as writes of at most
 * `step` bytes (to exercise partial writes). Returns bytes moved. */
static inline size_t drain(session *s, uint8_t *out, size_t max, size_t step) {
    size_t total = 0;
    struct iovec iov[16];
    while (session_output_pending(s) && total < max) {
        size_t n = session_output_iov(s, iov, 16), got = 0;
        for (size_t i = 0; i < n && got < step && total + got < max; i++) {
            size_t k = iov[i].iov_len;
            if (k > step - got) k = step - got;
            if (k > max - total - got) k = max - total - got;
            memcpy(out + total + got, iov[i].iov_base, k);
            got += k;
            if (k < iov[i].iov_len) break;
        }
        session_output_done(s, got);
        total += got;
    }
    return total;
}

#endif
