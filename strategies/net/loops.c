#include "loops.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/payload.h"
#include "counters.h"

void listeners_open(const server_args *a, listen_mode mode, listeners *out) {
    memset(out, 0, sizeof *out);
    out->n = a->threads;
    bool reuseport = mode == LISTEN_REUSEPORT && out->n > 1;
    out->fd[0] = server_listen_with(a, reuseport, &out->bound);
    out->tcp = out->bound.family != AF_UNIX;
    out->separate = reuseport && out->tcp;
    if (!out->separate) {
        for (unsigned i = 1; i < out->n; i++) out->fd[i] = out->fd[0];
        return;
    }
    /* The first socket has SO_REUSEPORT and the real port: the others join it. */
    for (unsigned i = 1; i < out->n; i++) {
        char err[256];
        endpoint again;
        out->fd[i] = listen_on_reuseport(&out->bound, a->backlog, &again, err, sizeof err);
        if (out->fd[i] < 0) control_fatal("listener %u of %u: %s", i + 1, out->n, err);
    }
}

typedef struct {
    const loops_spec *spec;
    unsigned index;
    pthread_mutex_t *lock;
    pthread_cond_t *cond;
    unsigned *ready;
    void *loop;
} loop_start;

/* Sets loop i up on its own thread, reports it ready, then serves it. */
static void *loop_thread(void *arg) {
    loop_start *st = arg;
    /* Counter blocks and loop thread ids are listed in the same order (under
     * one lock), so the snapshot's loop_connections[i] is the loop the
     * harness pinned as loop_threads[i]. */
    static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&order_lock);
    counters_thread_attach();
    control_add_loop_thread();
    pthread_mutex_unlock(&order_lock);
    st->loop = st->spec->setup(st->index, st->spec->ctx);
    pthread_mutex_lock(st->lock);
    (*st->ready)++;
    pthread_cond_signal(st->cond);
    pthread_mutex_unlock(st->lock);
    st->spec->run(st->loop);
    control_fatal("loop %u returned", st->index);
}

void loops_run(const server_args *a, const endpoint *bound, const char *threading, const loops_spec *spec) {
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
    static unsigned ready;
    static loop_start starts[SERVER_MAX_THREADS];
    unsigned n = a->threads;
    /* Loop 0 first, on this thread, so its thread id is listed first. */
    control_add_loop_thread();
    void *first = spec->setup(0, spec->ctx);
    for (unsigned i = 1; i < n; i++) {
        starts[i] = (loop_start){.spec = spec, .index = i, .lock = &lock, .cond = &cond, .ready = &ready};
        pthread_t t;
        int err = pthread_create(&t, NULL, loop_thread, &starts[i]);
        if (err) control_fatal("cannot start loop thread %u: %s", i, strerror(err));
        pthread_detach(t);
    }
    pthread_mutex_lock(&lock);
    while (ready < n - 1) pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    control_set_threading(threading);
    control_start(a, bound, NULL);
    spec->run(first);
    control_fatal("loop 0 returned");
}
