#include "outq.h"

#include <stdlib.h>
#include <string.h>

/* Small messages are packed into copy buffers of this size, so a burst of
 * pongs or HTTP replies becomes one writev element, not one per message. */
#define OUTQ_CHUNK 16384u

void outq_init(outq *q) { memset(q, 0, sizeof *q); }

void outq_free(outq *q) {
    for (size_t i = 0; i < q->count; i++) free(q->segs[(q->head + i) % q->cap].own);
    free(q->segs);
    free(q->spare);
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

static outq_seg *tail(outq *q) {
    return q->count ? &q->segs[(q->head + q->count - 1) % q->cap] : NULL;
}

int outq_append(outq *q, const void *data, size_t len) {
    if (len == 0) return 0;
    outq_seg *t = tail(q);
    /* Append to the tail copy buffer while the bytes are contiguous with it. */
    if (t && t->own && t->data + t->len == t->own + t->own_used && t->own_cap - t->own_used >= len) {
        memcpy(t->own + t->own_used, data, len);
        t->own_used += len;
        t->len += len;
        q->bytes += len;
        return 0;
    }
    size_t cap = len > OUTQ_CHUNK ? len : OUTQ_CHUNK;
    uint8_t *buf;
    if (cap == OUTQ_CHUNK && q->spare) {
        buf = q->spare;
        q->spare = NULL;
    } else if (!(buf = malloc(cap))) {
        return -1;
    }
    outq_seg *s = push(q);
    if (!s) {
        free(buf);
        return -1;
    }
    memcpy(buf, data, len);
    s->own = buf;
    s->own_cap = cap;
    s->own_used = len;
    s->data = buf;
    s->len = len;
    q->bytes += len;
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
        if (s->own) {
            if (!q->spare && s->own_cap == OUTQ_CHUNK) q->spare = s->own;
            else free(s->own);
        }
        q->head = (q->head + 1) % q->cap;
        q->count--;
    }
}
