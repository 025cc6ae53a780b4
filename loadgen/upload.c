/* peer-upload: every active connection uploads its share of --bytes to the
 * server, which checks every block and acknowledges the whole upload once.
 *
 *   client: "upload" (16 bytes: count u32, size u32, seed u64 -- the getdata
 *           layout), then `count` "block" messages of `size` bytes: piece k
 *           of the shared payload pattern for (seed, size), k = 0..count-1
 *   server: "uploaded", echoing the upload payload, after the last block
 *           (a bad block closes the connection instead)
 *
 * The transfer is ceil(bytes/chunk) pieces, all of --chunk bytes (bytes is
 * rounded up to whole pieces; payload_bytes reports what was sent), split
 * over the active connections with the extra pieces on the first ones;
 * connection k uses seed --seed + k. Blocks are written straight from the
 * pattern with writev (header, piece, header, piece, ...): nothing is copied
 * through a buffer, and a partial write resumes mid-message on the next
 * EPOLLOUT edge.
 *
 * An operation is one block; all of a connection's blocks count when the
 * acknowledgement arrives. One latency sample per connection: from the
 * first write of its upload message to the acknowledgement. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "../strategies/core/payload.h"
#include "p2pmsg.h"

#define UPLOAD_MSG_LEN (P2P_HEADER_LEN + P2P_GETDATA_LEN)
#define IOV_BLOCKS 32u /* blocks per writev */

/* --verify-checksum: checksums of the pieces, computed once. Pieces are
 * slices of one shared pattern at a few offsets, so a piece pointer names
 * its bytes (the piece size is the same for the whole run). The table is
 * the shard's (lg_run.drv_shared): a piece the warm-up missed is added
 * inside the window, where shards run in parallel. */
#define SUM_SLOTS 256u
typedef struct {
    const uint8_t *piece;
    uint32_t sum;
} sum_entry;

static uint32_t piece_checksum(sum_entry *sums, const uint8_t *piece, uint32_t size) {
    uint32_t h = (uint32_t)(((uintptr_t)piece * 0x9E3779B97F4A7C15ull) >> 56) & (SUM_SLOTS - 1);
    for (uint32_t probe = 0; probe < SUM_SLOTS; probe++, h = (h + 1) & (SUM_SLOTS - 1)) {
        if (sums[h].piece == piece) return sums[h].sum;
        if (!sums[h].piece) {
            sums[h].piece = piece;
            sums[h].sum = p2p_checksum(piece, size);
            return sums[h].sum;
        }
    }
    return p2p_checksum(piece, size);
}

typedef struct {
    p2p_getdata g;
    payload_src src;
    uint8_t payload[P2P_GETDATA_LEN]; /* the upload message's, echoed by the ack */
    uint64_t sent, total;             /* block bytes written / to write */
    uint8_t ack[UPLOAD_MSG_LEN];
    uint32_t got;
} upload_state;

static int upload_setup(lg_conn *c, char *err, size_t errlen) {
    const lg_args *a = c->run->args;
    uint64_t pieces = a->bytes / a->chunk + (a->bytes % a->chunk != 0);
    upload_state *s = calloc(1, sizeof *s);
    c->drv = s;
    c->ops_target = lg_share(pieces, a->active, c->index);
    if (!s || lg_conn_buffers(c, UPLOAD_MSG_LEN, 1) != 0 ||
        payload_init(&s->src, a->seed + c->index, a->chunk) != 0) {
        snprintf(err, errlen, "out of memory for connection %u", c->index);
        return -1;
    }
    s->g.count = (uint32_t)c->ops_target; /* args.c bounds it */
    s->g.size = a->chunk;
    s->g.seed = a->seed + c->index;
    p2p_getdata_encode(s->payload, &s->g);
    s->total = (uint64_t)s->g.count * (P2P_HEADER_LEN + s->g.size);
    if (a->verify_checksum) { /* outside the window: every slot is hit with near certainty */
        lg_run *r = c->run;
        if (!r->drv_shared && !(r->drv_shared = calloc(SUM_SLOTS, sizeof(sum_entry)))) {
            snprintf(err, errlen, "out of memory for connection %u", c->index);
            return -1;
        }
        for (uint32_t k = 0; k < s->g.count && k < 1024; k++)
            piece_checksum(r->drv_shared, payload_piece(&s->src, k, s->g.size), s->g.size);
    }
    return 0;
}

static void upload_start(lg_conn *c) {
    upload_state *s = c->drv;
    uint8_t *m = lg_out_reserve(c, UPLOAD_MSG_LEN);
    memcpy(m + P2P_HEADER_LEN, s->payload, P2P_GETDATA_LEN);
    p2p_encode_header(m, "upload", P2P_GETDATA_LEN, lg_p2p_checksum(c, s->payload, P2P_GETDATA_LEN));
    lg_out_commit(c, UPLOAD_MSG_LEN);
    lg_push(c, 0); /* stamped at its first write: the latency sample starts there */
}

/* The blocks, after the upload message: until all are written or EAGAIN. */
static void upload_output(lg_conn *c) {
    upload_state *s = c->drv;
    const uint64_t msg = P2P_HEADER_LEN + (uint64_t)s->g.size;
    bool real_sums = c->run->args->verify_checksum;
    while (s->sent < s->total) {
        uint8_t hdr[IOV_BLOCKS][P2P_HEADER_LEN];
        struct iovec iov[2 * IOV_BLOCKS];
        int niov = 0;
        uint64_t k = s->sent / msg, off = s->sent % msg;
        for (uint32_t b = 0; b < IOV_BLOCKS && k < s->g.count; b++, k++, off = 0) {
            const uint8_t *piece = payload_piece(&s->src, k, s->g.size);
            if (off < P2P_HEADER_LEN) {
                p2p_encode_header(hdr[b], "block", s->g.size,
                                  real_sums ? piece_checksum(c->run->drv_shared, piece, s->g.size) : 0);
                iov[niov++] = (struct iovec){hdr[b] + off, P2P_HEADER_LEN - off};
                off = P2P_HEADER_LEN;
            }
            iov[niov++] = (struct iovec){(void *)(piece + (off - P2P_HEADER_LEN)), msg - off};
        }
        ssize_t n = writev(c->fd, iov, niov);
        if (n > 0) {
            s->sent += (uint64_t)n;
            c->run->bytes_sent += (uint64_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        } else if (n == 0 || errno != EINTR) {
            int e = n == 0 ? 0 : errno;
            lg_conn_fail(c, "writing block %" PRIu64 " of %" PRIu32 ": %s%s", s->sent / msg, s->g.count,
                         e ? strerror(e) : "no progress",
                         e == ECONNRESET || e == EPIPE ? " (the server closes a connection whose block fails verification)"
                                                       : "");
            return;
        }
    }
}

static void upload_input(lg_conn *c, const uint8_t *p, size_t n) {
    upload_state *s = c->drv;
    if (n > UPLOAD_MSG_LEN - s->got) {
        lg_conn_fail(c, "%zu bytes from the server where only the \"uploaded\" acknowledgement (%u) was due",
                     n, UPLOAD_MSG_LEN - s->got);
        return;
    }
    memcpy(s->ack + s->got, p, n);
    uint32_t before = s->got;
    s->got += (uint32_t)n;
    p2p_msg m;
    if (before < P2P_HEADER_LEN && s->got >= P2P_HEADER_LEN &&
        !lg_p2p_expect(c, s->ack, "uploaded", P2P_GETDATA_LEN, &m))
        return;
    if (s->got < UPLOAD_MSG_LEN) return;
    p2p_decode_header(s->ack, P2P_HEADER_LEN, &m);
    const uint8_t *echo = s->ack + P2P_HEADER_LEN;
    if (c->run->args->verify_checksum && m.checksum != p2p_checksum(echo, P2P_GETDATA_LEN)) {
        lg_conn_fail(c, "\"uploaded\" checksum %08" PRIx32 " does not match its payload", m.checksum);
        return;
    }
    p2p_getdata g;
    if (memcmp(echo, s->payload, P2P_GETDATA_LEN) != 0) {
        p2p_getdata_decode(echo, P2P_GETDATA_LEN, &g);
        lg_conn_fail(c, "\"uploaded\" says count %" PRIu32 ", size %" PRIu32 ", seed %" PRIu64
                     "; the upload was count %" PRIu32 ", size %" PRIu32 ", seed %" PRIu64,
                     g.count, g.size, g.seed, s->g.count, s->g.size, s->g.seed);
        return;
    }
    if (s->sent < s->total) {
        lg_conn_fail(c, "\"uploaded\" arrived before all blocks were written (%" PRIu64 " of %" PRIu64 " bytes)",
                     s->sent, s->total);
        return;
    }
    lg_latency(c, c->t_read - lg_head(c)->t_sent);
    lg_pop(c);
    lg_ops_done(c, s->g.count, (uint64_t)s->g.count * s->g.size, s->g.count);
}

static void upload_destroy(lg_conn *c) {
    upload_state *s = c->drv;
    if (!s) return;
    payload_free(&s->src);
    free(s);
}

const lg_driver lg_peer_upload = {
    .name = "peer-upload",
    .unit = "blocks",
    .setup = upload_setup,
    .start = upload_start,
    .input = upload_input,
    .destroy = upload_destroy,
    .output = upload_output,
    .close_hint = "the server closes a connection whose block fails verification",
};
