#include "outq.h"

#include <stdlib.h>
#include <string.h>

/* Copies go into arena chunks of this size: a burst of small messages (pongs,
 * HTTP replies) packs into one iovec, and a stream of block headers between
 * by-reference payloads shares one chunk instead of a buffer per header. */
#define OUTQ_CHUNK 16384u
/* Copies larger than this get a chunk of their own. */
#define OUTQ_BIG (OUTQ_CHUNK / 2)

struct outq_chunk {
    size_t used, cap;
    unsigned refs; /* segments pointing into this chunk */
    uint8_t data[];
};

void outq_init(outq *q) { memset(q, 0, sizeof *q); }

static void chunk_release(outq *q, outq_chunk *c) {
    if (--c->refs > 0) return;
    if (c == q->arena) {
        c->used = 0; /* nothing points into it any more: reuse from the start */
    } else if (c->cap == OUTQ_CHUNK && !q->spare) {
        q->spare = c;
    } else {
        free(c);
    }
}

void outq_free(outq *q) {
    for (size_t i = 0; i < q->count; i++) {
        outq_chunk *c = q->segs[(q->head + i) % q->cap].chunk;
        if (c && --c->refs == 0 && c != q->arena) free(c);
    }
    free(q->arena);
    free(q->spare);
    free(q->segs);
    memset(q, 0, sizeof *q);
}

static outq_seg *push(outq *q) {
    if (q->count == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 8;
        outq_seg *n = malloc(ncap * sizeof *n);
        if (!n) return NULL;
        for (size_t i = 0; i < q->count; i++) n[i] = q->segs[(q->head + i) % q->cap];
        free(q->segs);
        q->segs = n;
        q->head = 0;
        q->cap = ncap;
    }
    outq_seg *s = &q->segs[(q->head + q->count) % q->cap];
    q->count++;
    memset(s, 0, sizeof *s);
    return s;
}

static outq_seg *tail(outq *q) { return q->count ? &q->segs[(q->head + q->count - 1) % q->cap] : NULL; }

static outq_chunk *chunk_new(outq *q, size_t cap) {
    outq_chunk *c;
    if (cap == OUTQ_CHUNK && q->spare) {
        c = q->spare;
        q->spare = NULL;
    } else if (!(c = malloc(sizeof *c + cap))) {
        return NULL;
    }
    c->used = 0;
    c->cap = cap;
    c->refs = 0;
    return c;
}

int outq_append(outq *q, const void *data, size_t len) {
    if (len == 0) return 0;
    outq_chunk *c;
    if (len > OUTQ_BIG) {
        if (!(c = chunk_new(q, len))) return -1;
    } else {
        if (!q->arena || q->arena->cap - q->arena->used < len) {
            outq_chunk *n = chunk_new(q, OUTQ_CHUNK);
            if (!n) return -1;
            /* The old arena lives on until its last segment is sent. */
            if (q->arena && q->arena->refs == 0) free(q->arena);
            q->arena = n;
        }
        c = q->arena;
    }
    uint8_t *dst = c->data + c->used;
    memcpy(dst, data, len);
    c->used += len;
    q->bytes += len;
    outq_seg *t = tail(q);
    if (t && t->chunk == c && t->data + t->len == dst) {
        t->len += len; /* contiguous with the last segment: extend it */
        return 0;
    }
    outq_seg *s = push(q);
    if (!s) {
        c->used -= len;
        q->bytes -= len;
        if (c->refs == 0 && c != q->arena) free(c);
        return -1;
    }
    s->data = dst;
    s->len = len;
    s->chunk = c;
    c->refs++;
    return 0;
}

int outq_append_ref(outq *q, const void *data, size_t len) {
    if (len == 0) return 0;
    outq_seg *s = push(q);
    if (!s) return -1;
    s->data = data;
    s->len = len;
    q->bytes += len;
    return 0;
}

size_t outq_iov(const outq *q, struct iovec *iov, size_t max) {
    size_t n = q->count < max ? q->count : max;
    for (size_t i = 0; i < n; i++) {
        const outq_seg *s = &q->segs[(q->head + i) % q->cap];
        iov[i].iov_base = (void *)s->data;
        iov[i].iov_len = s->len;
    }
    return n;
}

void outq_consume(outq *q, size_t n) {
    while (n > 0 && q->count > 0) {
        outq_seg *s = &q->segs[q->head];
        size_t k = n < s->len ? n : s->len;
        s->data += k;
        s->len -= k;
        q->bytes -= k;
        n -= k;
        if (s->len > 0) break;
        if (s->chunk) chunk_release(q, s->chunk);
        q->head = (q->head + 1) % q->cap;
        q->count--;
    }
}
