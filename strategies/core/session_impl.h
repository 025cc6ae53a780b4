/* Internals shared by session.c and the two protocol halves. Strategies use
 * session.h only. */
#ifndef MUXBENCH_SESSION_IMPL_H
#define MUXBENCH_SESSION_IMPL_H

#include <llhttp.h>

#include "hub.h"
#include "job.h"
#include "outq.h"
#include "payload.h"
#include "reply.h"
#include "session.h"

/* Output is produced from a stream only while less than this is queued:
 * enough to fill a socket buffer, small enough to keep memory flat. */
#define SESSION_OUT_HIGH_WATER (256u * 1024u)
/* While a stream is being sent, pipelined input is held back up to this. */
#define SESSION_PAUSED_INPUT_LIMIT (64u * 1024u)
/* An input buffer grown past this (for one large message) is released once empty. */
#define SESSION_INPUT_KEEP (64u * 1024u)
#define HTTP_MAX_HEAD 8192u   /* request line + headers; more → 431 */
#define HTTP_MAX_BODY 65536u  /* JSON-RPC request body; more → 413 */

/* A long response produced lazily, piece by piece, as output drains. */
typedef struct {
    stream_kind kind;
    payload_src src;
    uint64_t next, count; /* pieces */
    uint64_t bytes_left;  /* HTTP body: the last piece may be short */
} stream_state;

typedef struct {
    llhttp_t parser;
    size_t head_bytes;    /* counted toward HTTP_MAX_HEAD */
    char url[1024];
    size_t url_len;
    bool url_too_long;
    uint8_t *body;
    size_t body_len, body_cap;
    int error;               /* why parsing failed, for the status code */
    bool paused;             /* llhttp paused after a message; resume before feeding */
    bool close_after_stream; /* "Connection: close" on a streamed response */
} http_state;

struct session {
    session_opts opts;
    session_stats *stats;
    outq out;
    uint8_t *in;          /* received bytes not parsed yet */
    size_t in_len, in_cap;
    bool closing;         /* close once output is flushed (error, Connection: close) */
    bool input_done;      /* the peer sent EOF: finish what was asked, then close */
    stream_state stream;
    http_state http;

    void *owner;           /* the strategy's connection */
    job *job;              /* a request at a hand-off worker: parsing waits for its reply */
    /* Peer upload in progress: blocks expected from a seeded stream. */
    bool uploading;
    uint64_t upload_seed, upload_size, upload_next, upload_count;
    /* Hub membership (loop thread only). */
    session *peer_prev, *peer_next; /* every peer session: relay targets */
    session *ready_prev, *ready_next;
    bool on_ready;
};

/* Answers a parsed request: on the loop thread at once (then applied), or,
 * with hand-off workers, later (parsing stops until hub_next() applies the
 * reply). j may live on the caller's stack; it is cloned when handed off. */
void session_dispatch(session *s, job *j);
/* Applies a finished reply to its session (loop thread). */
void session_apply(session *s, reply *r);
/* After a handed-off reply was applied: resume held input and streams. */
void session_resume(session *s);

/* Hub internals used by the session (hub.c). */
void hub_register(hub *h, session *s);
void hub_unregister(hub *h, session *s);
void hub_mark_ready(hub *h, session *s);
void hub_submit(hub *h, job *j);
void hub_relay(hub *h, session *from, const uint8_t *msg, size_t len);

/* Each protocol parses as much of buf as it can and returns bytes consumed.
 * It stops early when a stream starts (to keep responses in order) or on a
 * protocol error (after setting s->closing). */
size_t peer_parse(session *s, const uint8_t *buf, size_t len);
void peer_pump(session *s);
void peer_init(session *s);

size_t http_parse(session *s, const uint8_t *buf, size_t len);
void http_pump(session *s);
void http_init(session *s);
void http_free(session *s);

/* Queues bytes; on allocation failure the connection is closed. */
void session_emit(session *s, const void *data, size_t len);
void session_emit_ref(session *s, const void *data, size_t len);

#endif
