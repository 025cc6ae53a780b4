/* --rate R: open loop, as wrk2 does it.
 *
 * The run's operations form one schedule at R per second: operation j is
 * intended at t_go + j/R and belongs to active connection j % active (so
 * connection c sends its k-th request, j = c + k*active, at rate R/active,
 * its first one at t_go + c/R: the connections' sends are interleaved).
 * A request is queued when it is due if fewer than --depth are in flight on
 * its connection, otherwise as soon as a reply frees a slot -- late. Its
 * latency counts from the intended time (coordinated-omission correction):
 * a server that stalls is charged for the requests it kept from being sent.
 *
 * The window's loop waits until the next intended time with a nanosecond
 * timeout (epoll_pwait2, or naps of the adaptive wait that stop before it;
 * conn.c) and then releases every operation that fell due, touching only
 * their connections: O(1) per operation, no busy wait.
 *
 * Threads: the schedule stays the run's (one t_go, operation j for
 * connection j % active). Shard k releases only the operations of its own
 * connections (j % active % N == k) and sleeps until its own next one, so
 * the shards together send what one loop would, each from its thread. */
#include "loadgen.h"

#define NS_PER_S 1000000000u

/* t_go + j * 1e9 / R, without overflow for j < 2^63 and R <= LG_MAX_RATE. */
uint64_t lg_rate_intended(const lg_run *r, uint64_t j) {
    uint64_t rate = r->args->rate;
    return r->t_go + j / rate * NS_PER_S + j % rate * NS_PER_S / rate;
}

void lg_rate_pump(lg_conn *c) {
    lg_run *r = c->run;
    uint32_t active = r->args->active;
    uint64_t now = 0;
    while (c->issued < c->ops_target && c->rcount < c->rcap) {
        uint64_t t = lg_rate_intended(r, c->index + c->issued * active);
        if (!now || t > now) now = lg_now();
        if (t > now) break;
        /* The request is written when this turn of the loop flushes. */
        uint64_t lag = now - t;
        if (lag > LG_LATE_NS) r->late_sends++;
        if (lag > r->max_send_lag_ns) r->max_send_lag_ns = lag;
        r->drv->queue(c, t);
    }
}

/* The first operation at or after j that belongs to this shard, or
 * args->requests when it has no more. Operation j's connection is
 * g = j % active, which is the shard's when g % N == shard. */
static uint64_t own_next(const lg_run *r, uint64_t j) {
    uint64_t total = r->args->requests, active = r->args->active, n = r->nshards, k = r->shard;
    if (k >= active || j >= total) return total; /* more threads than --active: none of them */
    uint64_t g = j % active, cycle = j - g;
    uint64_t own = g + (k + n - g % n) % n; /* first g' >= g with g' % N == k */
    if (own >= active) own = active + k;    /* none left in this cycle: the next one's first */
    uint64_t next = cycle + own;
    return next < total ? next : total;
}

void lg_rate_start(lg_run *r) { r->rate_next = own_next(r, 0); }

uint64_t lg_rate_tick(lg_run *r, uint64_t now) {
    uint64_t total = r->args->requests, rate = r->args->rate;
    uint32_t active = r->args->active, n = r->nshards;
    if (r->rate_next >= total) return 0;
    if (lg_rate_intended(r, r->rate_next) <= now) {
        /* Last operation due by now: floor((now - t_go) * R / 1e9). */
        uint64_t d = now - r->t_go;
        uint64_t last = d / NS_PER_S * rate + d % NS_PER_S * rate / NS_PER_S;
        uint64_t end = last + 1 < total ? last + 1 : total;
        /* Each connection needs one look however many of its requests fell
         * due: operations [rate_next, rate_next + active) cover all of them. */
        uint64_t stop = end - r->rate_next < active ? end : r->rate_next + active;
        for (uint64_t j = r->rate_next; j < stop; j = own_next(r, j + 1)) {
            lg_conn *c = &r->conns[j % active / n];
            if (c->state != CONN_ACTIVE) continue;
            uint64_t before = c->issued;
            lg_rate_pump(c);
            if (c->issued != before) lg_wake(c);
        }
        r->rate_next = own_next(r, end);
    }
    return r->rate_next < total ? lg_rate_intended(r, r->rate_next) : 0;
}
