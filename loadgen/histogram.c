#include "histogram.h"

#include <inttypes.h>

uint64_t hist_bucket_high(unsigned i) {
    if (i < 2u * HIST_SUB) return i;
    /* Inverse of hist_index: i = (p - SUB_BITS) * SUB + sub, sub in [SUB, 2*SUB). */
    unsigned p = i / HIST_SUB + HIST_SUB_BITS - 1u;
    unsigned shift = p - HIST_SUB_BITS;
    uint64_t sub = i % HIST_SUB + HIST_SUB;
    /* For the top bucket (sub+1) << shift is 2^64, which wraps to 0: the
     * unsigned arithmetic then yields UINT64_MAX, the right answer. */
    return ((sub + 1u) << shift) - 1u;
}

void hist_merge(histogram *dst, const histogram *src) {
    /* Same bucket layout everywhere: merging is adding counts. */
    for (unsigned i = 0; i < HIST_BUCKETS; i++) dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
}

void hist_write_json(const histogram *h, FILE *f) {
    fprintf(f, "{\"unit\":\"ns\",\"count\":%" PRIu64 ",\"buckets\":[", h->count);
    const char *sep = "";
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        if (!h->buckets[i]) continue;
        fprintf(f, "%s[%" PRIu64 ",%" PRIu64 "]", sep, hist_bucket_high(i), h->buckets[i]);
        sep = ",";
    }
    fputs("]}", f);
}
