/* One parsed request on its way to a reply: built by the protocol half that
 * parsed it, answered by job_work() (on the loop thread, or on a hand-off
 * worker, which touches nothing but the job), applied by the loop thread. */
#ifndef MUXBENCH_JOB_H
#define MUXBENCH_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "reply.h"
#include "session.h"

typedef enum {
    REQ_PEER_PING,
    REQ_PEER_GETDATA,
    REQ_PEER_INV,
    REQ_PEER_UPLOAD,
    REQ_PEER_BLOCK,
    REQ_HTTP,
} req_kind;

typedef struct job job;
struct job {
    job *next;        /* hub queues */
    session *s;       /* NULL once the session is gone (loop thread only) */
    req_kind kind;
    bool verify_checksum;
    bool owned;       /* data/url are heap copies (hand-off) */
    const uint8_t *data; /* payload or request body */
    size_t len;
    /* HTTP */
    const char *url;  /* path, NUL-terminated */
    const char *query; /* or NULL */
    int method;       /* llhttp_method_t */
    bool close;       /* the client asked for Connection: close */
    bool url_too_long;
    /* Peer upload: which block this is of which stream. */
    uint64_t seed, piece_size, index, pieces;
    reply r;
};

/* Answers the request into j->r. Thread-safe: reads only the job. */
void job_work(job *j);
void peer_work(job *j);
void http_work(job *j);

/* Copies data (and the URL) so the job outlives the parser's buffers. */
job *job_clone(const job *j);
void job_free(job *j);

#endif
