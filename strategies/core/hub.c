/* Relay fan-out and the hand-off worker pool (hub.h).
 *
 * Workers take jobs from one FIFO (mutex + condition variable, the plain
 * thread pool a node's message handler would use) and put finished jobs on a
 * done list. The first job finished since the loop last collected triggers
 * the strategy's wake-up; later ones ride on it. Everything else here runs
 * on the loop thread only. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "session_impl.h"

/* Queued output above which a peer gets no more relayed copies. */
#define HUB_RELAY_LIMIT (4u * SESSION_OUT_HIGH_WATER)

struct hub {
    hub_opts opts;
    session_stats *stats;
    session *peers;                /* every peer session (relay targets) */
    session *ready_head, *ready_tail;

    pthread_mutex_t lock;          /* guards the queues below */
    pthread_cond_t work;
    job *todo_head, *todo_tail;
    job *done;                     /* LIFO; reversed when collected */
    bool wake_pending;
    bool stopping;
    pthread_t threads[HUB_MAX_WORKERS];
};

static void *worker(void *arg) {
    hub *h = arg;
    for (;;) {
        pthread_mutex_lock(&h->lock);
        while (!h->todo_head && !h->stopping) pthread_cond_wait(&h->work, &h->lock);
        if (!h->todo_head) {
            pthread_mutex_unlock(&h->lock);
            return NULL;
        }
        job *j = h->todo_head;
        h->todo_head = j->next;
        if (!h->todo_head) h->todo_tail = NULL;
        pthread_mutex_unlock(&h->lock);

        job_work(j);

        pthread_mutex_lock(&h->lock);
        j->next = h->done;
        h->done = j;
        bool wake = !h->wake_pending;
        h->wake_pending = true;
        pthread_mutex_unlock(&h->lock);
        if (wake && h->opts.wake) {
            atomic_fetch_add_explicit(&h->stats->handoff_wakeups, 1, memory_order_relaxed);
            h->opts.wake(h->opts.wake_arg);
        }
    }
    return NULL;
}

hub *hub_new(const hub_opts *opts, session_stats *stats) {
    if (opts->workers > HUB_MAX_WORKERS) {
        errno = EINVAL;
        return NULL;
    }
    hub *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->opts = *opts;
    h->stats = stats;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->work, NULL);
    for (unsigned i = 0; i < opts->workers; i++) {
        int err = pthread_create(&h->threads[i], NULL, worker, h);
        if (err) {
            h->opts.workers = i;
            hub_free(h);
            errno = err;
            return NULL;
        }
    }
    return h;
}

void hub_free(hub *h) {
    if (!h) return;
    pthread_mutex_lock(&h->lock);
    h->stopping = true;
    pthread_cond_broadcast(&h->work);
    pthread_mutex_unlock(&h->lock);
    for (unsigned i = 0; i < h->opts.workers; i++) pthread_join(h->threads[i], NULL);
    while (h->done) {
        job *j = h->done;
        h->done = j->next;
        if (j->s) j->s->job = NULL;
        job_free(j);
    }
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->work);
    free(h);
}

unsigned hub_workers(const hub *h) { return h->opts.workers; }

void hub_register(hub *h, session *s) {
    s->peer_prev = NULL;
    s->peer_next = h->peers;
    if (h->peers) h->peers->peer_prev = s;
    h->peers = s;
}

static void ready_unlink(hub *h, session *s) {
    if (!s->on_ready) return;
    if (s->ready_prev) s->ready_prev->ready_next = s->ready_next;
    else h->ready_head = s->ready_next;
    if (s->ready_next) s->ready_next->ready_prev = s->ready_prev;
    else h->ready_tail = s->ready_prev;
    s->on_ready = false;
}

void hub_unregister(hub *h, session *s) {
    ready_unlink(h, s);
    if (s->opts.proto == PROTO_PEER) {
        if (s->peer_prev) s->peer_prev->peer_next = s->peer_next;
        else if (h->peers == s) h->peers = s->peer_next;
        if (s->peer_next) s->peer_next->peer_prev = s->peer_prev;
    }
    /* A reply still being built for it is dropped when it comes back. */
    if (s->job) s->job->s = NULL;
}

void hub_mark_ready(hub *h, session *s) {
    if (s->on_ready) return;
    s->on_ready = true;
    s->ready_next = NULL;
    s->ready_prev = h->ready_tail;
    if (h->ready_tail) h->ready_tail->ready_next = s;
    else h->ready_head = s;
    h->ready_tail = s;
}

void hub_submit(hub *h, job *j) {
    j->next = NULL;
    stat_add(&h->stats->handoff_jobs, 1);
    pthread_mutex_lock(&h->lock);
    if (h->todo_tail) h->todo_tail->next = j;
    else h->todo_head = j;
    h->todo_tail = j;
    pthread_cond_signal(&h->work);
    pthread_mutex_unlock(&h->lock);
}

void hub_relay(hub *h, session *from, const uint8_t *msg, size_t len) {
    uint64_t copies = 0, dropped = 0;
    for (session *p = h->peers; p; p = p->peer_next) {
        /* Never back to the announcer; a closing peer gets nothing more. */
        if (p == from || p->closing) continue;
        /* A peer that does not read must not grow the server without bound
         * (a node caps its send buffer too): its copy is dropped and counted;
         * the client sees the gap in the sequence. */
        if (outq_bytes(&p->out) >= HUB_RELAY_LIMIT) {
            dropped++;
            continue;
        }
        session_emit(p, msg, len);
        hub_mark_ready(h, p);
        copies++;
    }
    stat_add(&h->stats->relayed, copies);
    if (dropped) stat_add(&h->stats->relay_dropped, dropped);
    stat_add(&h->stats->messages_out, copies);
}

/* Applies the replies the workers finished, oldest first. */
static void collect(hub *h) {
    pthread_mutex_lock(&h->lock);
    job *list = h->done;
    h->done = NULL;
    h->wake_pending = false;
    pthread_mutex_unlock(&h->lock);
    job *fifo = NULL;
    while (list) {
        job *next = list->next;
        list->next = fifo;
        fifo = list;
        list = next;
    }
    while (fifo) {
        job *j = fifo;
        fifo = j->next;
        session *s = j->s;
        if (s) {
            s->job = NULL;
            session_apply(s, &j->r);
            hub_mark_ready(h, s);
            session_resume(s); /* may hand off the next request */
        }
        job_free(j);
    }
}

session *hub_next_ready(hub *h) {
    session *s = h->ready_head;
    if (s) ready_unlink(h, s);
    return s;
}

session *hub_next(hub *h) {
    if (h->opts.workers && !h->ready_head) collect(h);
    return hub_next_ready(h);
}
