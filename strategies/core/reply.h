/* What answering one request produces, built apart from the session so the
 * building can run on a hand-off worker thread: bytes for the connection (or,
 * for a relayed message, for every other peer), counts for the statistics,
 * and what the session must do next (start a stream, close). The loop thread
 * applies it to the session (session_apply in session.c). */
#ifndef MUXBENCH_REPLY_H
#define MUXBENCH_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outq.h"

typedef enum { STREAM_NONE, STREAM_PEER_BLOCKS, STREAM_HTTP_BODY } stream_kind;

#define REPLY_INLINE 256u /* most replies (pong, JSON-RPC, headers) fit here */

typedef struct {
    outq *direct; /* on the loop thread: bytes go straight to the session's queue */
    uint8_t small[REPLY_INLINE];
    uint8_t *buf; /* otherwise: small, or a heap buffer once small is full */
    size_t len, cap;
    bool oom;

    uint32_t messages;      /* responses / messages produced */
    uint64_t payload_bytes; /* of which payload (statistics) */
    bool relay;             /* the bytes go to every other peer, not back */
    bool close;             /* close once the bytes (and any stream) are sent */
    bool protocol_error;    /* bad input: count it and close */

    /* Start a lazily produced stream after the bytes. */
    stream_kind stream;
    uint64_t seed, piece_size, pieces, body_bytes;

    /* Peer upload: expect `pieces` blocks of `piece_size` from `seed`; or one
     * more block verified. */
    bool upload_start, upload_block;
} reply;

/* direct: the session's queue (loop thread) or NULL (build into the reply). */
void reply_init(reply *r, outq *direct);
void reply_emit(reply *r, const void *data, size_t len);
void reply_free(reply *r);

#endif
