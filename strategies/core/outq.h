/* Output queue of a connection: an ordered list of byte segments, some copied
 * (small messages, headers), some referenced (payload pieces that live in a
 * payload pattern and outlive the queue). Strategies drain it with writev /
 * send from the iovec list it exposes, like libevent's evbuffer with
 * evbuffer_add_reference. */
#ifndef MUXBENCH_OUTQ_H
#define MUXBENCH_OUTQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

typedef struct outq_chunk outq_chunk; /* refcounted copy buffer */

typedef struct {
    const uint8_t *data; /* next unsent byte */
    size_t len;          /* unsent bytes */
    outq_chunk *chunk;   /* the copy buffer data points into, or NULL for a reference */
} outq_seg;

typedef struct {
    outq_seg *segs;    /* ring */
    size_t head, count, cap;
    size_t bytes;      /* total unsent bytes */
    outq_chunk *arena; /* where small copies go */
    outq_chunk *spare; /* one recycled chunk, to avoid malloc churn */
} outq;

void outq_init(outq *q);
void outq_free(outq *q);
/* Copies data into the queue. Returns 0 or -1 on ENOMEM. */
int outq_append(outq *q, const void *data, size_t len);
/* Queues a reference; the bytes must stay valid until sent. */
int outq_append_ref(outq *q, const void *data, size_t len);
/* Fills up to max iovecs with the oldest unsent bytes; returns the count. */
size_t outq_iov(const outq *q, struct iovec *iov, size_t max);
/* Marks n bytes (from the front) as sent. */
void outq_consume(outq *q, size_t n);
static inline size_t outq_bytes(const outq *q) { return q->bytes; }

#endif
