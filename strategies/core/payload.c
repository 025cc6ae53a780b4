#include "payload.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

/* Fixed so every process builds the identical pattern. */
#define PATTERN_SEED 0x6d757862656e6368ull

static uint8_t *pattern;
static pthread_once_t pattern_once = PTHREAD_ONCE_INIT;

/* Expected hashes of the 64 slots for one piece size. */
typedef struct hash_table {
    size_t piece_size;
    uint64_t slot_hash[PAYLOAD_SLOTS];
    struct hash_table *next;
} hash_table;
static hash_table *tables;
static pthread_mutex_t tables_lock = PTHREAD_MUTEX_INITIALIZER;

uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void pattern_build(void) {
    uint8_t *p = malloc(PAYLOAD_PATTERN_LEN + 8); /* slack for the word-wise fill */
    if (!p) return;
    uint64_t st = PATTERN_SEED;
    for (size_t i = 0; i < PAYLOAD_PATTERN_LEN; i += 8) {
        uint64_t v = splitmix64(&st);
        memcpy(p + i, &v, 8);
    }
    pattern = p;
}

int payload_warm(void) {
    pthread_once(&pattern_once, pattern_build);
    return pattern ? 0 : -1;
}

int payload_init(payload_src *src, uint64_t seed, size_t piece_size) {
    memset(src, 0, sizeof *src);
    if (piece_size == 0 || piece_size > PAYLOAD_MAX_PIECE) return -1;
    if (payload_warm() != 0) return -1;
    src->seed = seed;
    src->piece_size = piece_size;
    src->pattern = pattern;
    return 0;
}

void payload_free(payload_src *src) { src->pattern = NULL; }

static size_t slot_of(uint64_t seed, uint64_t index) {
    uint64_t st = seed ^ (index * 0xD1B54A32D192ED03ull);
    return (size_t)(splitmix64(&st) % PAYLOAD_SLOTS);
}

const uint8_t *payload_piece(const payload_src *src, uint64_t index, size_t len) {
    (void)len; /* every slot holds PAYLOAD_MAX_PIECE bytes; a piece is a prefix */
    return src->pattern + slot_of(src->seed, index) * PAYLOAD_STRIDE;
}

static const hash_table *table_for(const payload_src *src) {
    pthread_mutex_lock(&tables_lock);
    hash_table *t = tables;
    while (t && t->piece_size != src->piece_size) t = t->next;
    if (!t && (t = malloc(sizeof *t))) {
        t->piece_size = src->piece_size;
        for (size_t s = 0; s < PAYLOAD_SLOTS; s++)
            t->slot_hash[s] = XXH3_64bits(src->pattern + s * PAYLOAD_STRIDE, src->piece_size);
        t->next = tables;
        tables = t;
    }
    pthread_mutex_unlock(&tables_lock);
    return t;
}

int payload_prepare_hashes(payload_src *src) {
    if (!src->slot_hash) {
        const hash_table *t = table_for(src);
        if (!t) return -1;
        src->slot_hash = t->slot_hash;
    }
    return 0;
}

uint64_t payload_expected_hash(payload_src *src, uint64_t index, size_t len) {
    size_t slot = slot_of(src->seed, index);
    if (len == src->piece_size && payload_prepare_hashes(src) == 0) return src->slot_hash[slot];
    return XXH3_64bits(src->pattern + slot * PAYLOAD_STRIDE, len);
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
