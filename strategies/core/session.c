#include "session_impl.h"

#include <stdlib.h>
#include <string.h>

bool session_stats_shared;

session *session_new(const session_opts *opts, session_stats *stats) {
    session *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->opts = *opts;
    s->stats = stats;
    outq_init(&s->out);
    if (opts->proto == PROTO_HTTP) http_init(s);
    else peer_init(s);
    if (opts->hub && opts->proto == PROTO_PEER) hub_register(opts->hub, s);
    return s;
}

void session_free(session *s) {
    if (!s) return;
    if (s->opts.hub) hub_unregister(s->opts.hub, s);
    if (s->opts.proto == PROTO_HTTP) http_free(s);
    outq_free(&s->out);
    free(s->in);
    free(s);
}

void session_set_owner(session *s, void *owner) { s->owner = owner; }
void *session_owner(const session *s) { return s->owner; }

void session_dispatch(session *s, job *j) {
    j->s = s;
    j->verify_checksum = s->opts.verify_checksum;
    hub *h = s->opts.hub;
    if (h && hub_workers(h) > 0) {
        job *copy = job_clone(j);
        if (!copy) {
            s->closing = true;
            return;
        }
        s->job = copy;
        hub_submit(h, copy);
        return;
    }
    /* On the loop thread: answer straight into the output queue, except a
     * relayed message, which goes to the other peers. */
    reply_init(&j->r, j->kind == REQ_PEER_INV ? NULL : &s->out);
    job_work(j);
    session_apply(s, &j->r);
    reply_free(&j->r);
}

void session_apply(session *s, reply *r) {
    if (r->oom) s->closing = true;
    if (r->protocol_error) {
        stat_add(&s->stats->protocol_errors, 1);
        s->closing = true;
    }
    if (r->relay) {
        if (s->opts.hub && r->len) hub_relay(s->opts.hub, s, r->buf, r->len);
    } else if (!r->direct && r->len) {
        session_emit(s, r->buf, r->len);
    }
    stat_add(&s->stats->messages_out, r->messages);
    stat_add(&s->stats->payload_bytes_out, r->payload_bytes);
    if (r->upload_start) {
        s->uploading = r->pieces > 0;
        s->upload_seed = r->seed;
        s->upload_size = r->piece_size;
        s->upload_next = 0;
        s->upload_count = r->pieces;
    }
    if (r->upload_block && !r->protocol_error && s->uploading) {
        stat_add(&s->stats->payload_bytes_in, s->upload_size);
        if (++s->upload_next == s->upload_count) s->uploading = false;
    }
    if (r->stream != STREAM_NONE && !s->closing) {
        if (payload_init(&s->stream.src, r->seed, (size_t)r->piece_size) != 0) {
            s->closing = true;
            return;
        }
        s->stream.kind = r->stream;
        s->stream.next = 0;
        s->stream.count = r->pieces;
        s->stream.bytes_left = r->body_bytes;
        s->http.close_after_stream = r->close;
    } else if (r->close) {
        s->closing = true;
    }
}

void session_emit(session *s, const void *data, size_t len) {
    if (outq_append(&s->out, data, len) != 0) s->closing = true;
}

void session_emit_ref(session *s, const void *data, size_t len) {
    if (outq_append_ref(&s->out, data, len) != 0) s->closing = true;
}

static size_t parse(session *s, const uint8_t *buf, size_t len) {
    return s->opts.proto == PROTO_HTTP ? http_parse(s, buf, len) : peer_parse(s, buf, len);
}

static void pump(session *s) {
    if (s->stream.kind == STREAM_NONE || s->closing) return;
    if (s->opts.proto == PROTO_HTTP) http_pump(s);
    else peer_pump(s);
}

static int keep(session *s, const uint8_t *data, size_t len) {
    if (s->in_len + len > s->in_cap) {
        size_t ncap = s->in_cap ? s->in_cap : 4096;
        while (ncap < s->in_len + len) ncap *= 2;
        uint8_t *n = realloc(s->in, ncap);
        if (!n) return -1;
        s->in = n;
        s->in_cap = ncap;
    }
    memcpy(s->in + s->in_len, data, len);
    s->in_len += len;
    return 0;
}

/* Moves the session forward as far as it can: produce stream output up to
 * the high-water mark and, whenever no stream is running, parse input that
 * was held back (it may start the next stream, which may finish at once if
 * it is short). Stops when waiting for output to drain or for more bytes. */
static void advance(session *s) {
    for (;;) {
        pump(s);
        if (s->stream.kind != STREAM_NONE || s->job || s->closing || s->in_len == 0) return;
        size_t used = parse(s, s->in, s->in_len);
        if (used == 0 && s->stream.kind == STREAM_NONE && !s->job) return; /* incomplete message */
        memmove(s->in, s->in + used, s->in_len - used);
        s->in_len -= used;
        if (s->in_len == 0 && s->in_cap > SESSION_INPUT_KEEP) {
            free(s->in); /* do not keep 4 MB per peer after one large message */
            s->in = NULL;
            s->in_cap = 0;
        }
    }
}

void session_input(session *s, const uint8_t *data, size_t len) {
    if (s->closing || len == 0) return;
    if (s->in_len == 0 && s->stream.kind == STREAM_NONE && !s->job) {
        /* Common case: parse straight from the strategy's read buffer and
         * keep only what was not consumed (an incomplete message, or
         * requests pipelined behind a stream or a handed-off request). */
        size_t used = parse(s, data, len);
        if (!s->closing && used < len && keep(s, data + used, len - used) != 0) s->closing = true;
        /* An incomplete tail needs more bytes; only a started stream has work. */
        if (s->stream.kind == STREAM_NONE) return;
    } else if (keep(s, data, len) != 0) {
        s->closing = true;
        return;
    }
    advance(s);
}

bool session_wants_input(const session *s) {
    if (s->closing || s->input_done) return false;
    /* Backpressure: a client that does not read its replies stops being read. */
    if (outq_bytes(&s->out) >= SESSION_OUT_HIGH_WATER) return false;
    return (s->stream.kind == STREAM_NONE && !s->job) || s->in_len < SESSION_PAUSED_INPUT_LIMIT;
}

size_t session_output_pending(const session *s) { return outq_bytes(&s->out); }

size_t session_output_iov(const session *s, struct iovec *iov, size_t max) {
    return outq_iov(&s->out, iov, max);
}

void session_output_done(session *s, size_t n) {
    outq_consume(&s->out, n);
    if (s->stream.kind != STREAM_NONE) advance(s);
}

bool session_should_close(const session *s) {
    /* After EOF, requests already received are still answered (a client may
     * half-close after its last request); the stream in progress finishes. */
    /* A request at a worker is answered first (or dropped, if the session is
     * freed meanwhile): closing under it would lose the reply. */
    return (s->closing || (s->input_done && s->stream.kind == STREAM_NONE)) && !s->job;
}

void session_resume(session *s) { advance(s); }

void session_peer_closed(session *s) { s->input_done = true; }
