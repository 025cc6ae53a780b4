/* Latency histogram, HDR-style: log-linear buckets over nanoseconds.
 *
 * Values below 256 get a bucket each; above, every power of two [2^p, 2^p+1)
 * is cut into 128 equal sub-buckets, so a bucket is never wider than 1/128 of
 * its values (< 0.8 % error, better than 2 significant digits) over the whole
 * uint64 range. Recording is a shift and an increment: cheap enough to run
 * once per operation inside the measured loop, with no allocation. */
#ifndef MUXBENCH_LOADGEN_HISTOGRAM_H
#define MUXBENCH_LOADGEN_HISTOGRAM_H

#include <stdint.h>
#include <stdio.h>

#define HIST_SUB_BITS 7u
#define HIST_SUB (1u << HIST_SUB_BITS)        /* sub-buckets per power of two */
#define HIST_BUCKETS ((64u - HIST_SUB_BITS + 1u) * HIST_SUB)

typedef struct {
    uint64_t count;
    uint64_t buckets[HIST_BUCKETS];
} histogram;

static inline unsigned hist_index(uint64_t v) {
    if (v < 2u * HIST_SUB) return (unsigned)v;
    unsigned p = 63u - (unsigned)__builtin_clzll(v); /* >= HIST_SUB_BITS + 1 */
    unsigned shift = p - HIST_SUB_BITS;
    return (p - HIST_SUB_BITS) * HIST_SUB + (unsigned)(v >> shift);
}

static inline void hist_record(histogram *h, uint64_t v) {
    h->buckets[hist_index(v)]++;
    h->count++;
}

/* Largest value that maps to bucket i (HDR's "highest equivalent value"). */
uint64_t hist_bucket_high(unsigned i);

/* Adds src's samples to dst (the shards' histograms into the run's). */
void hist_merge(histogram *dst, const histogram *src);

/* Writes {"unit":"ns","count":N,"buckets":[[value_ns,count],...]} (sparse). */
void hist_write_json(const histogram *h, FILE *f);

#endif
