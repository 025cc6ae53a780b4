#include <stdlib.h>
#include <string.h>

#include "../../strategies/core/outq.h"
#include "../../strategies/core/payload.h"
#include "check.h"

void test_payload_outq(void) {
    payload_src a, b, c;
    CHECK(payload_init(&a, 42, 65536) == 0);
    CHECK(payload_init(&b, 42, 65536) == 0);
    CHECK(payload_init(&c, 43, 65536) == 0);
    CHECK(payload_init(&c, 43, 0) == -1);
    CHECK(payload_init(&c, 43, PAYLOAD_MAX_PIECE + 1) == -1);
    CHECK(payload_init(&c, 43, 65536) == 0);

    /* Same seed, same bytes; expected hashes match the bytes. */
    int differ = 0;
    for (uint64_t i = 0; i < 32; i++) {
        const uint8_t *pa = payload_piece(&a, i, 65536), *pb = payload_piece(&b, i, 65536);
        CHECK(memcmp(pa, pb, 65536) == 0);
        CHECK(payload_hash(pa, 65536) == payload_expected_hash(&a, i, 65536));
        CHECK(payload_hash(pa, 1000) == payload_expected_hash(&a, i, 1000));
        differ += memcmp(pa, payload_piece(&c, i, 65536), 65536) != 0;
    }
    CHECK(differ > 16); /* another seed orders the pieces differently */
    /* Consecutive pieces differ, so a dropped or repeated piece is detected. */
    int distinct = 0;
    for (uint64_t i = 0; i < 64; i++)
        distinct += payload_expected_hash(&a, i, 65536) != payload_expected_hash(&a, i + 1, 65536);
    CHECK(distinct > 56);

    /* Streaming hash equals one-shot hash whatever the fragmentation. */
    payload_hasher *h = payload_hasher_new();
    const uint8_t *p = payload_piece(&a, 5, 65536);
    for (size_t off = 0; off < 65536; off += 1000)
        payload_hasher_update(h, p + off, off + 1000 > 65536 ? 65536 - off : 1000);
    CHECK(payload_hasher_digest(h) == payload_expected_hash(&a, 5, 65536));
    payload_hasher_free(h);

    /* outq: copies and references come out in order, across partial writes. */
    outq q;
    outq_init(&q);
    CHECK(outq_append(&q, "abc", 3) == 0);
    CHECK(outq_append(&q, "def", 3) == 0); /* packed into the same segment */
    CHECK(outq_append_ref(&q, p, 100) == 0);
    CHECK(outq_append(&q, "xyz", 3) == 0);
    CHECK(outq_bytes(&q) == 109);
    struct iovec iov[8];
    size_t n = outq_iov(&q, iov, 8);
    CHECK(n == 3 && iov[0].iov_len == 6 && memcmp(iov[0].iov_base, "abcdef", 6) == 0);
    CHECK(iov[1].iov_base == (void *)p && iov[1].iov_len == 100);
    outq_consume(&q, 4);
    n = outq_iov(&q, iov, 8);
    CHECK(n == 3 && iov[0].iov_len == 2 && memcmp(iov[0].iov_base, "ef", 2) == 0);
    outq_consume(&q, 2 + 50);
    n = outq_iov(&q, iov, 1);
    CHECK(n == 1 && iov[0].iov_base == (void *)(p + 50));
    outq_consume(&q, 53);
    CHECK(outq_bytes(&q) == 0 && outq_iov(&q, iov, 8) == 0);
    /* Many segments force the ring to grow and wrap. */
    for (int i = 0; i < 100; i++) {
        outq_append_ref(&q, p + i, 1);
        if (i % 3 == 0) outq_consume(&q, 1);
    }
    size_t total = 0;
    while ((n = outq_iov(&q, iov, 8)) > 0) {
        CHECK(iov[0].iov_len == 1);
        total += iov[0].iov_len;
        outq_consume(&q, 1);
    }
    CHECK(total == 66);
    /* Headers between referenced payloads share one arena chunk, back to
     * back, instead of a buffer each. */
    for (int i = 0; i < 100; i++) {
        outq_append(&q, "headerheaderheaderheader", 24);
        outq_append_ref(&q, p, 1000);
    }
    struct iovec big[200];
    CHECK(outq_iov(&q, big, 200) == 200);
    int packed = 1;
    for (int i = 2; i < 200; i += 2) packed &= (uint8_t *)big[i].iov_base == (uint8_t *)big[i - 2].iov_base + 24;
    CHECK(packed);
    outq_consume(&q, outq_bytes(&q));
    CHECK(outq_bytes(&q) == 0);
    outq_free(&q);
    payload_free(&a);
    payload_free(&b);
    payload_free(&c);
}
