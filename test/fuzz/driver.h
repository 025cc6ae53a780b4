/* Shared by the libFuzzer harnesses: plays one connection of a strategy's
 * event loop against fuzzer-chosen bytes, with no socket.
 *
 * The first two input bytes are not sent: they seed the sizes of the reads
 * and writes, so one input explores a message split anywhere across reads and
 * replies drained by partial writes (where framing bugs live). The rest is
 * what the peer sends. */
#ifndef MUXBENCH_FUZZ_DRIVER_H
#define MUXBENCH_FUZZ_DRIVER_H

#include <stdint.h>
#include <string.h>

#include "../../strategies/core/hub.h"
#include "../../strategies/core/session.h"

/* A peer that reads at most this much of the replies per input (in at most
 * so many writes), then goes away: a getdata for 2^32 blocks must not turn
 * into a timeout. */
#define FUZZ_READ_BUDGET (1u << 20)
#define FUZZ_WRITE_BUDGET 4096u

typedef struct {
    uint32_t rng;              /* xorshift: read/write sizes, deterministic per input */
    uint32_t max_read, max_write; /* 1..4096 */
    size_t budget, writes;     /* what the peer is still willing to read */
} fuzz_io;

static inline size_t fuzz_size(fuzz_io *io, uint32_t max) {
    io->rng ^= io->rng << 13;
    io->rng ^= io->rng >> 17;
    io->rng ^= io->rng << 5;
    return 1 + io->rng % max;
}

static inline void fuzz_io_init(fuzz_io *io, uint8_t a, uint8_t b) {
    io->rng = 0x9e3779b9u ^ ((uint32_t)a << 8 | b);
    /* Bits 0-1 of a: reads from 1-byte dribbles up to whole buffers; bits 4-5:
     * writes from whole buffers down to 1 byte (so 0x03 is "big everything"). */
    static const uint32_t scale[4] = {1, 24, 512, 4096};
    io->max_read = scale[a & 3];
    io->max_write = scale[3 - ((a >> 4) & 3)];
    io->budget = FUZZ_READ_BUDGET;
    io->writes = FUZZ_WRITE_BUDGET;
}

/* The strategy writes whatever is pending, in partial writes. memcpy makes
 * ASan check every byte of every iovec (a queued reference to freed memory
 * would be reported here, as the kernel's read of it would not be).
 * Returns false once the peer stopped reading. */
static inline bool fuzz_drain(session *s, fuzz_io *io) {
    static uint8_t sink[4096];
    struct iovec iov[16];
    while (session_output_pending(s) > 0) {
        if (io->budget == 0 || io->writes-- == 0) return false;
        size_t n = session_output_iov(s, iov, 16), want = fuzz_size(io, io->max_write), got = 0;
        if (want > io->budget) want = io->budget;
        for (size_t i = 0; i < n && got < want; i++) {
            size_t k = iov[i].iov_len < want - got ? iov[i].iov_len : want - got;
            memcpy(sink, iov[i].iov_base, k);
            got += k;
        }
        if (got == 0) __builtin_trap(); /* pending bytes but an empty iovec */
        io->budget -= got;
        session_output_done(s, got);
    }
    return true;
}

/* Feeds data to s as a readiness loop would and drains it; then EOF. Traps
 * when the session stalls: it refuses input while having nothing to write and
 * not closing, which in a server is a connection hung forever. */
static inline void fuzz_connection(session *s, hub *h, const uint8_t *data, size_t size) {
    fuzz_io io;
    fuzz_io_init(&io, size > 0 ? data[0] : 0, size > 1 ? data[1] : 0);
    size_t off = size < 2 ? size : 2;
    while (off < size && !session_should_close(s)) {
        if (!session_wants_input(s)) {
            if (session_output_pending(s) == 0) __builtin_trap();
            if (!fuzz_drain(s, &io)) return;
            continue;
        }
        size_t n = fuzz_size(&io, io.max_read);
        if (n > size - off) n = size - off;
        session_input(s, data + off, n);
        off += n;
        /* Output of other sessions (relayed invs) is written as the loop would. */
        for (session *o; h && (o = hub_next(h));)
            if (!fuzz_drain(o, &io)) return;
        if (!fuzz_drain(s, &io)) return;
    }
    session_peer_closed(s);
    if (!fuzz_drain(s, &io)) return;
    /* EOF and everything written: a live session must now want to close. */
    if (!session_should_close(s)) __builtin_trap();
}

#endif
