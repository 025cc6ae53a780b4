/* peer-relay: transaction announcements relayed by the server to every
 * other peer (one-to-many fan-out, as a node relays an inv).
 *
 * Every connection works: the first --active ones (announcers) send invs,
 * and all of them receive the invs the others announced. An inv carries one
 * inventory vector (MSG_TX) whose 32-byte hash is made to be checked:
 *   0..3   announcer index        u32 LE
 *   4..11  sequence (0, 1, ...)   u64 LE, per announcer
 *   12..19 send time, ns           u64 LE (CLOCK_MONOTONIC of this process)
 *   20..27 XXH3-64 of bytes 0..19  u64 LE
 *   28..31 zero
 * A receiver checks every message: an inv of one MSG_TX entry, an intact
 * hash, from an announcer other than itself, next in that announcer's
 * sequence (the server relays one announcer's invs in order to everyone).
 *
 * An operation is one delivery (one copy at one peer): --requests invs make
 * requests x (connections - 1) operations. Latency: read time minus the send
 * time in the hash. An inv is complete when all its copies arrived; an
 * announcer keeps --depth invs incomplete at most and announces the next
 * when one completes.
 *
 * Before "ready" every connection pings once and waits for its pong, so the
 * server has registered every peer before the first inv is relayed.
 *
 * One shard only (args.c rejects --threads > 1): an announcer's next inv
 * waits for every other connection's copy (deliver() completes it from the
 * receiver's side), so all connections must live in one loop -- the code
 * indexes r->conns by the global announcer index. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "../strategies/core/payload.h"
#include "p2pmsg.h"

#define INV_LEN 37u /* count 1, type u32, hash[32] */
#define INV_MSG_LEN (P2P_HEADER_LEN + INV_LEN)
#define MSG_TX 1u
#define HS_LEN (P2P_HEADER_LEN + 8u) /* the handshake ping/pong */
#define HS_NONCE 0x72656c6179000000ull /* "relay" */

typedef struct {
    uint32_t *expect;    /* next sequence from each announcer (--active entries) */
    uint64_t share;      /* invs this connection announces */
    uint64_t sent;       /* invs queued (the next sequence) */
    uint64_t completed;  /* invs delivered to every other connection */
    uint32_t *remaining; /* copies still to deliver, by sequence % depth */
    uint8_t stash[INV_MSG_LEN]; /* a message split across reads */
    uint32_t got;
    uint8_t hs[HS_LEN];  /* the handshake pong */
    uint32_t hs_got;
} relay_state;

static int relay_setup(lg_conn *c, char *err, size_t errlen) {
    const lg_args *a = c->run->args;
    relay_state *s = calloc(1, sizeof *s);
    c->drv = s;
    if (s) s->share = c->index < a->active ? lg_share(a->requests, a->active, c->index) : 0;
    size_t out = (size_t)a->depth * INV_MSG_LEN;
    if (!s || !(s->expect = calloc(a->active, sizeof *s->expect)) ||
        (s->share && !(s->remaining = calloc(a->depth, sizeof *s->remaining))) ||
        lg_conn_buffers(c, out > HS_LEN ? out : HS_LEN, 1) != 0) {
        snprintf(err, errlen, "out of memory for connection %u", c->index);
        return -1;
    }
    c->ops_target = a->requests - s->share; /* every inv but its own */
    return 0;
}

static void inv_queue(lg_conn *c, relay_state *s) {
    lg_run *r = c->run;
    uint64_t seq = s->sent++;
    s->remaining[seq % r->args->depth] = r->nconns - 1;
    uint8_t *m = lg_out_reserve(c, INV_MSG_LEN), *p = m + P2P_HEADER_LEN, *h = p + 5;
    p[0] = 1; /* varint count */
    p2p_put_le32(p + 1, MSG_TX);
    p2p_put_le32(h, c->index);
    p2p_put_le64(h + 4, seq);
    p2p_put_le64(h + 12, lg_now());
    p2p_put_le64(h + 20, payload_hash(h, 20));
    memset(h + 28, 0, 4);
    p2p_encode_header(m, "inv", INV_LEN, lg_p2p_checksum(c, p, INV_LEN));
    lg_out_commit(c, INV_MSG_LEN);
}

/* Announces while fewer than --depth of its invs are incomplete. */
static bool inv_fill(lg_conn *c, relay_state *s) {
    bool any = false;
    while (s->sent < s->share && s->sent - s->completed < c->run->args->depth) {
        inv_queue(c, s);
        any = true;
    }
    return any;
}

static void relay_start(lg_conn *c) { inv_fill(c, c->drv); }

static void deliver(lg_conn *c, relay_state *s, const uint8_t *msg) {
    lg_run *r = c->run;
    p2p_msg m;
    if (!lg_p2p_expect(c, msg, "inv", INV_LEN, &m)) return;
    const uint8_t *p = msg + P2P_HEADER_LEN, *h = p + 5;
    if (r->args->verify_checksum && m.checksum != p2p_checksum(p, INV_LEN)) {
        lg_conn_fail(c, "inv checksum %08" PRIx32 " does not match its payload", m.checksum);
        return;
    }
    if (p[0] != 1 || p2p_le32(p + 1) != MSG_TX) {
        lg_conn_fail(c, "inv with count %u and type %" PRIu32 ", expected one MSG_TX entry", p[0], p2p_le32(p + 1));
        return;
    }
    if (p2p_le64(h + 20) != payload_hash(h, 20) || p2p_le32(h + 28) != 0) {
        lg_conn_fail(c, "inv hash was altered (its XXH3 check or zero tail does not match)");
        return;
    }
    uint32_t a = p2p_le32(h);
    uint64_t seq = p2p_le64(h + 4);
    if (a == c->index) {
        lg_conn_fail(c, "received its own inv %" PRIu64 " back (the server must relay to the other peers only)", seq);
        return;
    }
    if (a >= r->args->active) {
        lg_conn_fail(c, "inv from connection %" PRIu32 ", which is not an announcer", a);
        return;
    }
    lg_conn *ac = &r->conns[a];
    relay_state *as = ac->drv;
    if (seq != s->expect[a] || seq >= as->sent) {
        lg_conn_fail(c, "inv %" PRIu64 " from announcer %" PRIu32 " out of order: expected %" PRIu32
                     " (%" PRIu64 " announced)", seq, a, s->expect[a], as->sent);
        return;
    }
    s->expect[a]++;
    lg_op_done(c, c->t_read - p2p_le64(h + 12), INV_LEN, 0);
    /* Each receiver gets an announcer's invs in order, so they complete in order. */
    if (--as->remaining[seq % r->args->depth] == 0) {
        as->completed++;
        if (ac->state != CONN_FAILED && inv_fill(ac, as)) lg_wake(ac);
    }
}

static void relay_input(lg_conn *c, const uint8_t *p, size_t n) {
    relay_state *s = c->drv;
    while (n > 0 && c->state != CONN_FAILED) {
        if (s->got == 0 && n >= INV_MSG_LEN) {
            deliver(c, s, p);
            p += INV_MSG_LEN;
            n -= INV_MSG_LEN;
            continue;
        }
        /* Split across reads: the header is checked as soon as it is whole. */
        uint32_t want = (s->got < P2P_HEADER_LEN ? P2P_HEADER_LEN : INV_MSG_LEN) - s->got;
        size_t take = n < want ? n : want;
        memcpy(s->stash + s->got, p, take);
        s->got += (uint32_t)take;
        p += take;
        n -= take;
        p2p_msg m;
        if (s->got == P2P_HEADER_LEN) {
            if (!lg_p2p_expect(c, s->stash, "inv", INV_LEN, &m)) return;
        } else if (s->got == INV_MSG_LEN) {
            s->got = 0;
            deliver(c, s, s->stash);
        }
    }
}

/* ----------------------------------------------- handshake, before ready */

static int hs_fail(lg_run *r, lg_conn *c, char *err, size_t errlen, const char *why) {
    if (!why && r->nerrors) why = r->errors[r->nerrors - 1];
    snprintf(err, errlen, "handshake ping on connection %u: %s", c->index, why ? why : "failed");
    return -1;
}

/* Reads the pong; returns 1 when it is whole, 0 for more later, -1 on error. */
static int hs_read(lg_run *r, lg_conn *c, char *err, size_t errlen) {
    relay_state *s = c->drv;
    for (;;) {
        ssize_t n = read(c->fd, r->rbuf, LG_READ_BUF);
        if (n > 0) {
            if ((size_t)n > HS_LEN - s->hs_got) {
                p2p_msg m;
                bool p2p = s->hs_got == 0 && (size_t)n >= P2P_HEADER_LEN &&
                           p2p_decode_header(r->rbuf, P2P_HEADER_LEN, &m) == P2P_OK;
                return hs_fail(r, c, err, errlen, p2p ? "the server sent more than the pong"
                                                      : "the answer is not a P2P message (is the server serving --protocol peer?)");
            }
            memcpy(s->hs + s->hs_got, r->rbuf, (size_t)n);
            s->hs_got += (uint32_t)n;
        } else if (n == 0) {
            return hs_fail(r, c, err, errlen, "closed by the server");
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        } else if (errno != EINTR) {
            return hs_fail(r, c, err, errlen, strerror(errno));
        }
    }
    if (s->hs_got < HS_LEN) return 0;
    p2p_msg m;
    p2p_status st = p2p_decode_header(s->hs, P2P_HEADER_LEN, &m);
    if (st != P2P_OK) return hs_fail(r, c, err, errlen, p2p_status_name(st));
    if (strcmp(m.command, "pong") != 0 || m.length != 8 ||
        p2p_le64(s->hs + P2P_HEADER_LEN) != (HS_NONCE | c->index))
        return hs_fail(r, c, err, errlen, "the answer is not the pong of its ping");
    return 1;
}

static int relay_prepare(lg_run *r, char *err, size_t errlen) {
    for (uint32_t i = 0; i < r->nconns; i++) {
        lg_conn *c = &r->conns[i];
        uint8_t *m = lg_out_reserve(c, HS_LEN);
        p2p_put_le64(m + P2P_HEADER_LEN, HS_NONCE | c->index);
        p2p_encode_header(m, "ping", 8, lg_p2p_checksum(c, m + P2P_HEADER_LEN, 8));
        lg_out_commit(c, HS_LEN);
        lg_conn_flush(c);
        if (c->state == CONN_FAILED) return hs_fail(r, c, err, errlen, NULL);
    }
    struct epoll_event *events = r->events; /* the shard's; the window has not started */
    uint32_t pending = r->nconns;
    uint64_t deadline = lg_now() + (uint64_t)LG_CONNECT_TIMEOUT_MS * 1000000u;
    while (pending > 0) {
        uint64_t now = lg_now();
        if (now >= deadline) {
            snprintf(err, errlen, "%u of %u connections got no pong to their handshake ping within %u ms",
                     pending, r->nconns, LG_CONNECT_TIMEOUT_MS);
            return -1;
        }
        int n = epoll_wait(r->epfd, events, LG_MAX_EVENTS, (int)((deadline - now) / 1000000u + 1));
        if (n < 0) {
            if (errno == EINTR) continue;
            snprintf(err, errlen, "epoll_wait: %s", strerror(errno));
            return -1;
        }
        for (int i = 0; i < n; i++) {
            lg_conn *c = events[i].data.ptr;
            relay_state *s = c->drv;
            if (c->ooff < c->olen) {
                lg_conn_flush(c);
                if (c->state == CONN_FAILED) return hs_fail(r, c, err, errlen, NULL);
            }
            if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                bool had = s->hs_got == HS_LEN;
                int rc = hs_read(r, c, err, errlen);
                if (rc < 0) return -1;
                if (rc == 1 && !had) pending--;
            }
        }
    }
    return 0;
}

static void relay_destroy(lg_conn *c) {
    relay_state *s = c->drv;
    if (!s) return;
    free(s->expect);
    free(s->remaining);
    free(s);
}

const lg_driver lg_peer_relay = {
    .name = "peer-relay",
    .replies = true,
    .unit = "deliveries",
    .setup = relay_setup,
    .start = relay_start,
    .input = relay_input,
    .destroy = relay_destroy,
    .prepare = relay_prepare,
    .every_conn = true,
};
