/* Peer protocol: Bitcoin P2P v1 framing; answers ping with pong and getdata
 * with a stream of block messages. Unknown commands are ignored, as a node
 * ignores them; framing errors disconnect the peer. */
#include <string.h>

#include "p2p.h"
#include "session_impl.h"

void peer_init(session *s) { (void)s; }

static void send_message(session *s, const char *command, const uint8_t *payload, uint32_t len) {
    uint8_t hdr[P2P_HEADER_LEN];
    uint32_t sum = s->opts.verify_checksum ? p2p_checksum(payload, len) : 0;
    p2p_encode_header(hdr, command, len, sum);
    session_emit(s, hdr, sizeof hdr);
    session_emit(s, payload, len);
    stat_add(&s->stats->messages_out, 1);
}

static void start_blocks(session *s, const p2p_getdata *g) {
    if (g->count == 0) return;
    if (payload_init(&s->stream.src, g->seed, g->size) != 0) {
        s->closing = true;
        return;
    }
    s->stream.kind = STREAM_PEER_BLOCKS;
    s->stream.next = 0;
    s->stream.count = g->count;
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

size_t peer_parse(session *s, const uint8_t *buf, size_t len) {
    size_t off = 0;
    while (!s->closing && s->stream.kind == STREAM_NONE) {
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
        if (strcmp(m.command, "ping") == 0) {
            send_message(s, "pong", m.payload, m.length);
        } else if (strcmp(m.command, "getdata") == 0) {
            p2p_getdata g;
            if (!p2p_getdata_decode(m.payload, m.length, &g)) {
                stat_add(&s->stats->protocol_errors, 1);
                s->closing = true;
                break;
            }
            start_blocks(s, &g);
        }
    }
    return off;
}
