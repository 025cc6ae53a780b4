/* Peer protocol: Bitcoin P2P v1 framing. The loop thread parses frames
 * (peer_parse); answering them (peer_work) may run on a hand-off worker:
 *   ping     -> pong with the same payload
 *   getdata  -> a stream of block messages (benchmark form, p2p.h)
 *   inv      -> relayed unchanged to every other peer
 *   upload   -> announces `count` blocks of `size` bytes from `seed` that
 *               the peer sends next; each is verified against the pattern,
 *               and after the last one the server answers "uploaded" with
 *               the same 16-byte payload
 * Unknown commands are ignored, as a node ignores them; framing errors and
 * blocks that fail verification disconnect the peer. */
#include <string.h>

#include "p2p.h"
#include "session_impl.h"

void peer_init(session *s) { (void)s; }

static void put_message(reply *r, const char *command, const uint8_t *payload, uint32_t len,
                        bool checksum) {
    uint8_t hdr[P2P_HEADER_LEN];
    p2p_encode_header(hdr, command, len, checksum ? p2p_checksum(payload, len) : 0);
    reply_emit(r, hdr, sizeof hdr);
    reply_emit(r, payload, len);
    r->messages++;
}

/* An inv payload: a CompactSize count (small counts only) and 36-byte entries. */
static bool inv_valid(const uint8_t *p, size_t len) {
    return len >= 1 && p[0] > 0 && p[0] < 0xfd && len == 1 + (size_t)p[0] * 36u;
}

static void work_block(job *j) {
    reply *r = &j->r;
    payload_src src;
    if (j->len != j->piece_size || payload_init(&src, j->seed, (size_t)j->piece_size) != 0) {
        r->protocol_error = true;
        return;
    }
    bool ok = payload_hash(j->data, j->len) == payload_expected_hash(&src, j->index, j->len);
    payload_free(&src);
    if (!ok) {
        r->protocol_error = true;
        return;
    }
    r->upload_block = true;
    if (j->index + 1 == j->pieces) {
        uint8_t echo[P2P_GETDATA_LEN];
        p2p_getdata g = {.count = (uint32_t)j->pieces, .size = (uint32_t)j->piece_size, .seed = j->seed};
        p2p_getdata_encode(echo, &g);
        put_message(r, "uploaded", echo, sizeof echo, j->verify_checksum);
    }
}

void peer_work(job *j) {
    reply *r = &j->r;
    p2p_getdata g;
    switch (j->kind) {
    case REQ_PEER_PING:
        put_message(r, "pong", j->data, (uint32_t)j->len, j->verify_checksum);
        break;
    case REQ_PEER_GETDATA:
    case REQ_PEER_UPLOAD:
        if (!p2p_getdata_decode(j->data, j->len, &g) || (g.count > 0 && (g.size == 0 || g.size > PAYLOAD_MAX_PIECE))) {
            r->protocol_error = true;
            break;
        }
        r->seed = g.seed;
        r->piece_size = g.size;
        r->pieces = g.count;
        if (j->kind == REQ_PEER_UPLOAD) {
            r->upload_start = true;
            /* Nothing to wait for: acknowledge at once. */
            if (g.count == 0) put_message(r, "uploaded", j->data, (uint32_t)j->len, j->verify_checksum);
        } else if (g.count > 0) {
            r->stream = STREAM_PEER_BLOCKS;
        }
        break;
    case REQ_PEER_INV:
        if (!inv_valid(j->data, j->len)) {
            r->protocol_error = true;
            break;
        }
        r->relay = true;
        put_message(r, "inv", j->data, (uint32_t)j->len, j->verify_checksum);
        r->messages = 0; /* counted per copy when relayed */
        break;
    case REQ_PEER_BLOCK:
        work_block(j);
        break;
    case REQ_HTTP:
        break;
    }
}

void peer_pump(session *s) {
    stream_state *st = &s->stream;
    uint32_t size = (uint32_t)st->src.piece_size;
    while (st->next < st->count && outq_bytes(&s->out) < SESSION_OUT_HIGH_WATER) {
        const uint8_t *piece = payload_piece(&st->src, st->next, size);
        uint8_t hdr[P2P_HEADER_LEN];
        uint32_t sum = s->opts.verify_checksum ? p2p_checksum(piece, size) : 0;
        p2p_encode_header(hdr, "block", size, sum);
        session_emit(s, hdr, sizeof hdr);
        /* The piece lives in the shared pattern: queue it by reference. */
        session_emit_ref(s, piece, size);
        stat_add(&s->stats->messages_out, 1);
        stat_add(&s->stats->payload_bytes_out, size);
        st->next++;
    }
    if (st->next == st->count) {
        payload_free(&st->src);
        st->kind = STREAM_NONE;
    }
}

/* Which request a frame is, or false for commands the server ignores. */
static bool classify(const session *s, const p2p_msg *m, job *j) {
    if (!strcmp(m->command, "ping")) j->kind = REQ_PEER_PING;
    else if (!strcmp(m->command, "getdata")) j->kind = REQ_PEER_GETDATA;
    else if (!strcmp(m->command, "inv")) j->kind = REQ_PEER_INV;
    else if (!strcmp(m->command, "upload")) j->kind = REQ_PEER_UPLOAD; /* during an upload: an error, below */
    else if (!strcmp(m->command, "block") && s->uploading) {
        j->kind = REQ_PEER_BLOCK;
        j->seed = s->upload_seed;
        j->piece_size = s->upload_size;
        j->index = s->upload_next;
        j->pieces = s->upload_count;
    } else return false;
    return true;
}

size_t peer_parse(session *s, const uint8_t *buf, size_t len) {
    size_t off = 0;
    while (!s->closing && s->stream.kind == STREAM_NONE && !s->job) {
        p2p_msg m;
        size_t used = 0;
        p2p_status st = p2p_decode(buf + off, len - off, s->opts.verify_checksum, &m, &used);
        if (st == P2P_NEED_MORE) break;
        if (st != P2P_OK) {
            stat_add(&s->stats->protocol_errors, 1);
            s->closing = true;
            break;
        }
        off += used;
        stat_add(&s->stats->messages_in, 1);
        job j = {.data = m.payload, .len = m.length};
        if (!classify(s, &m, &j)) continue;
        if (j.kind == REQ_PEER_UPLOAD && s->uploading) {
            /* A second announcement before the first upload finished. */
            stat_add(&s->stats->protocol_errors, 1);
            s->closing = true;
            break;
        }
        session_dispatch(s, &j);
    }
    return off;
}
