#include "payload.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

/* Fixed so every process builds identical patterns. */
#define PATTERN_SEED 0x6d757862656e6368ull

struct payload_pattern {
    size_t piece_size;
    uint8_t *bytes;
    size_t len;
    uint64_t slot_hash[PAYLOAD_SLOTS];
    struct payload_pattern *next;
};

static pthread_mutex_t patterns_lock = PTHREAD_MUTEX_INITIALIZER;
static payload_pattern *patterns;

uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static payload_pattern *pattern_build(size_t piece_size) {
    payload_pattern *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->piece_size = piece_size;
    p->len = (size_t)(PAYLOAD_SLOTS - 1) * PAYLOAD_STRIDE + piece_size;
    p->bytes = malloc(p->len + 8); /* 8 bytes of slack for the word-wise fill */
    if (!p->bytes) {
        free(p);
        return NULL;
    }
    uint64_t st = PATTERN_SEED;
    for (size_t i = 0; i < p->len; i += 8) {
        uint64_t v = splitmix64(&st);
        memcpy(p->bytes + i, &v, 8);
    }
    for (size_t s = 0; s < PAYLOAD_SLOTS; s++)
        p->slot_hash[s] = XXH3_64bits(p->bytes + s * PAYLOAD_STRIDE, piece_size);
    return p;
}

int payload_init(payload_src *src, uint64_t seed, size_t piece_size) {
    memset(src, 0, sizeof *src);
    if (piece_size == 0 || piece_size > PAYLOAD_MAX_PIECE) return -1;
    pthread_mutex_lock(&patterns_lock);
    payload_pattern *p = patterns;
    while (p && p->piece_size != piece_size) p = p->next;
    if (!p && (p = pattern_build(piece_size))) {
        p->next = patterns;
        patterns = p;
    }
    pthread_mutex_unlock(&patterns_lock);
    if (!p) return -1;
    src->seed = seed;
    src->piece_size = piece_size;
    src->pat = p;
    return 0;
}

void payload_free(payload_src *src) { src->pat = NULL; }

static size_t slot_of(uint64_t seed, uint64_t index) {
    uint64_t st = seed ^ (index * 0xD1B54A32D192ED03ull);
    return (size_t)(splitmix64(&st) % PAYLOAD_SLOTS);
}

const uint8_t *payload_piece(const payload_src *src, uint64_t index, size_t len) {
    (void)len; /* every slot holds piece_size bytes; a short piece is a prefix */
    return src->pat->bytes + slot_of(src->seed, index) * PAYLOAD_STRIDE;
}

uint64_t payload_expected_hash(const payload_src *src, uint64_t index, size_t len) {
    size_t slot = slot_of(src->seed, index);
    if (len == src->piece_size) return src->pat->slot_hash[slot];
    return XXH3_64bits(src->pat->bytes + slot * PAYLOAD_STRIDE, len);
}

uint64_t payload_hash(const void *data, size_t len) { return XXH3_64bits(data, len); }

struct payload_hasher {
    XXH3_state_t st;
};

payload_hasher *payload_hasher_new(void) {
    /* XXH3_state_t wants 64-byte alignment. */
    payload_hasher *h = aligned_alloc(64, (sizeof(payload_hasher) + 63) & ~(size_t)63);
    if (h) payload_hasher_reset(h);
    return h;
}
void payload_hasher_free(payload_hasher *h) { free(h); }
void payload_hasher_reset(payload_hasher *h) { XXH3_64bits_reset(&h->st); }
void payload_hasher_update(payload_hasher *h, const void *data, size_t len) {
    XXH3_64bits_update(&h->st, data, len);
}
uint64_t payload_hasher_digest(const payload_hasher *h) { return XXH3_64bits_digest(&h->st); }
