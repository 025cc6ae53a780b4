/* The peer drivers, over the core's Bitcoin P2P v1 framing (p2p.h).
 *
 * peer-ping: every active connection keeps --depth pings in flight; pongs
 * must come back in order, each echoing the nonce of the oldest outstanding
 * ping and its filler (--message-size). Latency: pong read time - ping write
 * time, per round trip (--rate: - the ping's intended send time).
 *
 * peer-block: every active connection asks once for its share of --bytes and
 * verifies each block's payload with XXH3 while it streams through the read
 * buffer (never buffered whole). Latency: per block, the gap since the
 * previous block completed on that connection (the first block: since the
 * getdata was written). Their sum is the connection's transfer time, so the
 * mean reflects throughput and the tail shows stalls; blocks completed by the
 * same read share one timestamp, hence many near-zero gaps. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../strategies/core/p2p.h"
#include "../strategies/core/payload.h"
#include "loadgen.h"
#include "p2pmsg.h"

#define NONCE_LEN 8u
#define PING_LEN (P2P_HEADER_LEN + NONCE_LEN)
#define GETDATA_MSG_LEN (P2P_HEADER_LEN + P2P_GETDATA_LEN)

uint32_t lg_p2p_checksum(const lg_conn *c, const uint8_t *payload, size_t len) {
    /* Without --verify-checksum the field is carried, not checked: 0. */
    return c->run->args->verify_checksum ? p2p_checksum(payload, len) : 0;
}

bool lg_p2p_expect(lg_conn *c, const uint8_t *h, const char *command, uint32_t length, p2p_msg *m) {
    p2p_status st = p2p_decode_header(h, P2P_HEADER_LEN, m);
    if (st != P2P_OK) {
        lg_conn_fail(c, "bad message header from the server: %s", p2p_status_name(st));
        return false;
    }
    if (strcmp(m->command, command) != 0) {
        lg_conn_fail(c, "expected a \"%s\" message, got \"%s\" (%" PRIu32 " payload bytes)", command,
                     m->command, m->length);
        return false;
    }
    if (m->length != length) {
        lg_conn_fail(c, "\"%s\" with %" PRIu32 " payload bytes, expected %" PRIu32, command, m->length,
                     length);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------ peer-ping */

/* A pong is checked as it arrives, in pieces if the reads split it: its
 * header as soon as it is whole, then the nonce (the oldest outstanding
 * ping's), then the filler, compared byte for byte with the shared pattern
 * the ping was filled from -- nothing is buffered beyond header and nonce. */
typedef struct {
    payload_src src;  /* the filler's pattern (--message-size > 8) */
    uint32_t size;    /* ping payload: nonce + filler */
    uint32_t *sums;   /* --verify-checksum: each ping's checksum, by ring slot */
    uint8_t stash[PING_LEN]; /* header and nonce of a pong split across reads */
    uint32_t got;     /* bytes of the current pong so far */
    uint32_t checksum;
    const uint8_t *expect; /* the current pong's filler, in the pattern */
} ping_state;

static int ping_setup(lg_conn *c, char *err, size_t errlen) {
    const lg_args *a = c->run->args;
    c->ops_target = lg_share(a->requests, a->active, c->index);
    ping_state *s = calloc(1, sizeof *s);
    c->drv = s;
    /* At most depth pings are queued or in flight: that bounds both buffers. */
    if (!s || lg_conn_buffers(c, (size_t)a->depth * (P2P_HEADER_LEN + a->message_size), a->depth) != 0 ||
        (a->verify_checksum && !(s->sums = calloc(a->depth, sizeof *s->sums))) ||
        (a->message_size > NONCE_LEN && payload_init(&s->src, a->seed, a->message_size - NONCE_LEN) != 0)) {
        snprintf(err, errlen, "out of memory for connection %u", c->index);
        return -1;
    }
    s->size = a->message_size;
    return 0;
}

static void ping_queue(lg_conn *c, uint64_t t_intended) {
    ping_state *s = c->drv;
    uint8_t *m = lg_out_reserve(c, P2P_HEADER_LEN + s->size);
    /* Unique per connection and readable in a capture: index, then sequence. */
    uint64_t nonce = (uint64_t)c->index << 40 | c->issued;
    uint8_t *payload = m + P2P_HEADER_LEN;
    p2p_put_le64(payload, nonce);
    uint32_t filler = s->size - NONCE_LEN;
    /* Filler: piece `nonce` of the shared pattern, so the echo can be checked. */
    if (filler) memcpy(payload + NONCE_LEN, payload_piece(&s->src, nonce, filler), filler);
    uint32_t sum = lg_p2p_checksum(c, payload, s->size);
    p2p_encode_header(m, "ping", s->size, sum);
    lg_out_commit(c, P2P_HEADER_LEN + s->size);
    if (s->sums) {
        uint32_t slot = c->rhead + c->rcount;
        s->sums[slot >= c->rcap ? slot - c->rcap : slot] = sum;
    }
    if (t_intended) lg_push_at(c, nonce, t_intended);
    else lg_push(c, nonce);
    c->issued++;
}

static void ping_start(lg_conn *c) { lg_fill(c); }

/* Header of a pong; false after failing the connection. */
static bool pong_header(lg_conn *c, ping_state *s, const uint8_t *h) {
    p2p_msg m;
    if (!lg_p2p_expect(c, h, "pong", s->size, &m)) return false;
    s->checksum = m.checksum;
    return true;
}

/* Its nonce: must be the oldest outstanding ping's. */
static bool pong_nonce(lg_conn *c, ping_state *s, const uint8_t *p) {
    uint64_t nonce = p2p_le64(p);
    lg_pending *q = lg_head(c);
    if (!q) {
        lg_conn_fail(c, "pong (nonce %#" PRIx64 ") with no ping outstanding", nonce);
        return false;
    }
    if (q->tag != nonce) {
        lg_conn_fail(c, "pong nonce %#" PRIx64 " is not the oldest outstanding ping's (%#" PRIx64 ")",
                     nonce, q->tag);
        return false;
    }
    /* The server checksums what it echoes: equal to the ping's if the bytes are. */
    if (s->sums && s->checksum != s->sums[c->rhead]) {
        lg_conn_fail(c, "pong checksum %08" PRIx32 " does not match its payload (%08" PRIx32 ")",
                     s->checksum, s->sums[c->rhead]);
        return false;
    }
    s->expect = s->size > NONCE_LEN ? payload_piece(&s->src, nonce, s->size - NONCE_LEN) : NULL;
    return true;
}

static void pong_done(lg_conn *c) {
    ping_state *s = c->drv;
    uint64_t latency = c->t_read - lg_head(c)->t_sent;
    lg_pop(c);
    lg_op_done(c, latency, s->size, 0);
    lg_fill(c);
}

static void ping_input(lg_conn *c, const uint8_t *p, size_t n) {
    ping_state *s = c->drv;
    const uint32_t total = P2P_HEADER_LEN + s->size;
    while (n > 0 && c->state != CONN_FAILED) {
        if (s->got == 0 && n >= PING_LEN) { /* header and nonce in one piece: the usual case */
            if (!pong_header(c, s, p) || !pong_nonce(c, s, p + P2P_HEADER_LEN)) return;
            s->got = PING_LEN;
            p += PING_LEN;
            n -= PING_LEN;
        } else if (s->got < PING_LEN) {
            /* Split across reads: the header is checked as soon as it is
             * whole, so a wrong message fails now instead of at the timeout. */
            uint32_t want = (s->got < P2P_HEADER_LEN ? P2P_HEADER_LEN : PING_LEN) - s->got;
            size_t take = n < want ? n : want;
            memcpy(s->stash + s->got, p, take);
            s->got += (uint32_t)take;
            p += take;
            n -= take;
            if (s->got == P2P_HEADER_LEN && !pong_header(c, s, s->stash)) return;
            if (s->got == PING_LEN && !pong_nonce(c, s, s->stash + P2P_HEADER_LEN)) return;
        } else {
            uint32_t off = s->got - PING_LEN;
            size_t take = total - s->got;
            if (take > n) take = n;
            if (memcmp(p, s->expect + off, take) != 0) {
                size_t at = 0;
                while (p[at] == s->expect[off + at]) at++;
                lg_conn_fail(c, "pong payload byte %zu (of %" PRIu32 ") differs from the ping's filler",
                             NONCE_LEN + off + at, s->size);
                return;
            }
            s->got += (uint32_t)take;
            p += take;
            n -= take;
        }
        if (s->got == total) {
            s->got = 0;
            pong_done(c);
        }
    }
}

static void ping_destroy(lg_conn *c) {
    ping_state *s = c->drv;
    if (!s) return;
    payload_free(&s->src);
    free(s->sums);
    free(s);
}

const lg_driver lg_peer_ping = {
    .name = "peer-ping",
    .replies = true,
    .unit = "round trips",
    .setup = ping_setup,
    .start = ping_start,
    .input = ping_input,
    .destroy = ping_destroy,
    .queue = ping_queue,
};

/* ----------------------------------------------------------- peer-block */

/* --verify-checksum: the server fills real SHA256d checksums. The pattern
 * behind every source depends only on the piece size, so all connections
 * share a handful of distinct pieces (PAYLOAD_SLOTS per size), each known by
 * its expected XXH3. Their checksums are computed once, at setup, into a
 * table, instead of running SHA256d over every received byte: the XXH3 check
 * already proves the bytes equal the expected piece. The table is the
 * shard's (lg_run.drv_shared): a piece the warm-up missed is added inside the
 * window, and shards run in parallel, so one table per thread needs no lock. */
#define CSUM_SLOTS 512u /* power of two, well above the distinct pieces of two sizes */
#define CSUM_WARM 1024u /* indices scanned at setup: every slot is hit with near certainty */

typedef struct {
    uint64_t key;
    uint32_t sum;
    bool used;
} csum_entry;

typedef struct {
    p2p_getdata g;
    payload_src src;
} block_req;

static uint32_t expected_checksum(csum_entry *csums, const block_req *rq, uint32_t idx, uint64_t key) {
    uint32_t h = (uint32_t)key & (CSUM_SLOTS - 1);
    for (uint32_t probe = 0; probe < CSUM_SLOTS; probe++, h = (h + 1) & (CSUM_SLOTS - 1)) {
        csum_entry *e = &csums[h];
        if (e->used && e->key == key) return e->sum;
        if (!e->used) {
            e->used = true;
            e->key = key;
            e->sum = p2p_checksum(payload_piece(&rq->src, idx, rq->g.size), rq->g.size);
            return e->sum;
        }
    }
    return p2p_checksum(payload_piece(&rq->src, idx, rq->g.size), rq->g.size);
}

typedef struct {
    /* A share that ends with the transfer's short last piece takes two
     * getdata: `count` full blocks, then one block of the remainder. */
    block_req req[2];
    uint32_t nreq, cur;
    uint32_t idx;      /* block of req[cur] being received */
    uint32_t left;     /* its payload bytes still to come; 0: a header is next */
    uint32_t checksum; /* its header's checksum */
    payload_hasher *h;
    uint8_t stash[P2P_HEADER_LEN]; /* a header split across reads */
    uint32_t stash_len;
} block_state;

static int add_request(lg_conn *c, block_state *s, uint32_t count, uint32_t size, uint64_t seed) {
    block_req *rq = &s->req[s->nreq++];
    rq->g.count = count;
    rq->g.size = size;
    rq->g.seed = seed;
    /* Pattern and hash table are built here, before "ready", not in the window. */
    if (payload_init(&rq->src, seed, size) != 0 || payload_prepare_hashes(&rq->src) != 0) return -1;
    lg_run *r = c->run;
    if (r->args->verify_checksum) {
        if (!r->drv_shared && !(r->drv_shared = calloc(CSUM_SLOTS, sizeof(csum_entry)))) return -1;
        for (uint32_t i = 0; i < count && i < CSUM_WARM; i++)
            expected_checksum(r->drv_shared, rq, i, payload_expected_hash(&rq->src, i, size));
    }
    return 0;
}

/* Share of connection k: the transfer is ceil(bytes/chunk) pieces, split as
 * evenly as possible with the extra pieces going to the first connections;
 * the short last piece (when chunk does not divide bytes) belongs to the last
 * connection that has any. Connection k asks for seed + k, so no two
 * connections receive the same stream. */
static int block_setup(lg_conn *c, char *err, size_t errlen) {
    const lg_args *a = c->run->args;
    uint64_t rem = a->bytes % a->chunk;
    uint64_t total = a->bytes / a->chunk + (rem != 0);
    uint64_t mine = lg_share(total, a->active, c->index);
    uint32_t last_owner = (total < a->active ? (uint32_t)total : a->active) - 1;
    bool short_last = rem != 0 && c->index == last_owner;
    block_state *s = calloc(1, sizeof *s);
    c->drv = s;
    c->ops_target = mine;
    if (!s || lg_conn_buffers(c, 2 * GETDATA_MSG_LEN, 1) != 0 || !(s->h = payload_hasher_new())) {
        snprintf(err, errlen, "out of memory for connection %u", c->index);
        return -1;
    }
    uint64_t seed = a->seed + c->index;
    uint64_t full = mine - (short_last ? 1 : 0);
    if ((full && add_request(c, s, (uint32_t)full, a->chunk, seed) != 0) ||
        (short_last && add_request(c, s, 1, (uint32_t)rem, seed) != 0)) {
        snprintf(err, errlen, "payload source for connection %u (piece size %u): out of memory",
                 c->index, a->chunk);
        return -1;
    }
    return 0;
}

static void block_start(lg_conn *c) {
    block_state *s = c->drv;
    for (uint32_t i = 0; i < s->nreq; i++) {
        uint8_t *m = lg_out_reserve(c, GETDATA_MSG_LEN);
        p2p_getdata_encode(m + P2P_HEADER_LEN, &s->req[i].g);
        p2p_encode_header(m, "getdata", P2P_GETDATA_LEN,
                          lg_p2p_checksum(c, m + P2P_HEADER_LEN, P2P_GETDATA_LEN));
        lg_out_commit(c, GETDATA_MSG_LEN);
    }
    lg_push(c, 0); /* only for its write time: the first block's gap starts there */
}

static void block_done(lg_conn *c, block_state *s, uint64_t digest) {
    block_req *rq = &s->req[s->cur];
    uint64_t want = payload_expected_hash(&rq->src, s->idx, rq->g.size);
    if (digest != want) {
        lg_conn_fail(c, "block %" PRIu32 " of %" PRIu32 " (seed %" PRIu64 ", %" PRIu32
                     " bytes) does not match the seeded payload (XXH3 %016" PRIx64 ", expected %016" PRIx64 ")",
                     s->idx, rq->g.count, rq->g.seed, rq->g.size, digest, want);
        return;
    }
    if (c->run->args->verify_checksum) {
        uint32_t sum = expected_checksum(c->run->drv_shared, rq, s->idx, want);
        if (sum != s->checksum) {
            lg_conn_fail(c, "block %" PRIu32 ": header checksum %08" PRIx32 ", expected %08" PRIx32,
                         s->idx, s->checksum, sum);
            return;
        }
    }
    uint64_t prev = c->t_last;
    if (c->rcount) { /* first block: measured from the getdata's write */
        prev = lg_head(c)->t_sent;
        lg_pop(c);
    }
    c->t_last = c->t_read;
    uint32_t size = rq->g.size;
    if (++s->idx == rq->g.count) {
        s->idx = 0;
        s->cur++;
    }
    lg_op_done(c, c->t_read - prev, size, 1);
}

static void block_input(lg_conn *c, const uint8_t *p, size_t n) {
    block_state *s = c->drv;
    while (n > 0 && c->state != CONN_FAILED) {
        if (c->state == CONN_DONE) {
            lg_conn_fail(c, "%zu unexpected bytes after the last block", n);
            return;
        }
        block_req *rq = &s->req[s->cur];
        if (s->left == 0) {
            const uint8_t *hdr = p;
            if (s->stash_len == 0 && n >= P2P_HEADER_LEN) {
                p += P2P_HEADER_LEN;
                n -= P2P_HEADER_LEN;
            } else {
                size_t take = P2P_HEADER_LEN - s->stash_len;
                if (take > n) take = n;
                memcpy(s->stash + s->stash_len, p, take);
                s->stash_len += (uint32_t)take;
                p += take;
                n -= take;
                if (s->stash_len < P2P_HEADER_LEN) return;
                s->stash_len = 0;
                hdr = s->stash;
            }
            p2p_msg m;
            if (!lg_p2p_expect(c, hdr, "block", rq->g.size, &m)) return;
            s->left = rq->g.size;
            s->checksum = m.checksum;
            continue;
        }
        size_t take = n < s->left ? n : s->left;
        uint64_t digest = 0;
        bool whole = take == rq->g.size; /* the usual case: one-shot hash, no state */
        if (whole) {
            digest = payload_hash(p, take);
        } else {
            if (s->left == rq->g.size) payload_hasher_reset(s->h);
            payload_hasher_update(s->h, p, take);
        }
        p += take;
        n -= take;
        s->left -= (uint32_t)take;
        if (s->left) continue;
        if (!whole) digest = payload_hasher_digest(s->h);
        block_done(c, s, digest);
    }
}

static void block_destroy(lg_conn *c) {
    block_state *s = c->drv;
    if (!s) return;
    for (uint32_t i = 0; i < s->nreq; i++) {
        payload_free(&s->req[i].src);
    }
    payload_hasher_free(s->h);
    free(s);
}

const lg_driver lg_peer_block = {
    .name = "peer-block",
    .unit = "blocks",
    .setup = block_setup,
    .start = block_start,
    .input = block_input,
    .destroy = block_destroy,
};
