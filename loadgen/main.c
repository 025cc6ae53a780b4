/* muxbench-loadgen: the phases of docs/control-channel.md.
 *
 *   connect all -> {"event":"ready"} -> wait for {"cmd":"go"} -> measured work
 *   -> {"event":"result"} -> wait for {"cmd":"exit"} or EOF -> close, exit
 *
 * stdin is read (blocking) only outside the measured window, so the harness
 * never wakes the loop it is measuring. Exit status: 0 when the result is ok
 * (or no work was requested), 1 on failure, 2 on usage errors.
 *
 * --threads N: the connections are dealt over N shards (loadgen.h), set up
 * and connected here one after the other; at go, one thread per shard runs
 * its window and this thread waits for them, then merges their results. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "loadgen.h"

static void fatal(const char *msg) __attribute__((noreturn));
static void fatal(const char *msg) {
    fputs("{\"event\":\"error\",\"message\":", stdout);
    lg_json_string(msg, stdout);
    fputs("}\n", stdout);
    fflush(stdout);
    fprintf(stderr, "muxbench-loadgen: %s\n", msg);
    exit(1);
}

/* Every connection is a descriptor: the default soft limit (often 1024) is
 * below the 1000-connection scenarios plus our own files. */
static void raise_fd_limit(uint32_t conns) {
    struct rlimit rl;
    rlim_t want = (rlim_t)conns + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want) return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

typedef enum { CMD_EOF, CMD_GO, CMD_EXIT } command;

/* Next command from stdin; lines that are not a known command are skipped
 * (with a note on stderr) so a harness mistake does not look like EOF. */
static command read_command(void) {
    static char *line;
    static size_t cap;
    while (getline(&line, &cap, stdin) >= 0) {
        const char *p = strstr(line, "\"cmd\"");
        if (p) {
            p += 5;
            while (*p == ' ' || *p == '\t') p++;
            if (*p == ':') {
                p++;
                while (*p == ' ' || *p == '\t') p++;
                if (!strncmp(p, "\"go\"", 4)) return CMD_GO;
                if (!strncmp(p, "\"exit\"", 6)) return CMD_EXIT;
            }
        }
        line[strcspn(line, "\n")] = 0;
        fprintf(stderr, "muxbench-loadgen: ignoring command line: %s\n", line);
    }
    return CMD_EOF;
}

static long usec_between(struct timeval a, struct timeval b) {
    return (long)(b.tv_sec - a.tv_sec) * 1000000L + (long)(b.tv_usec - a.tv_usec);
}

/* One shard's thread: pinned to its own CPU of the process's mask when the
 * mask has a CPU for every thread (the harness gave the load generator CPUs
 * of its own), so the shards neither share a CPU nor migrate. With fewer
 * CPUs than threads the scheduler places them: pinning one to a CPU the
 * server also uses would stall that thread behind the server. */
typedef struct {
    lg_run *run;
    uint64_t t_go;
    pthread_t thread;
    int cpu; /* -1: not pinned */
} shard_thread;

static void *shard_main(void *arg) {
    shard_thread *t = arg;
    if (t->cpu >= 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(t->cpu, &one);
        int e = pthread_setaffinity_np(pthread_self(), sizeof one, &one);
        if (e) fprintf(stderr, "muxbench-loadgen: thread %u: pinning to CPU %d: %s\n", t->run->shard + 1, t->cpu,
                       strerror(e));
    }
    lg_run_window(t->run, t->t_go);
    return NULL;
}

/* The k-th CPU of the mask, counting round (k mod the mask's count). */
static int nth_cpu(const cpu_set_t *mask, uint32_t k) {
    int count = CPU_COUNT(mask);
    int want = (int)(k % (uint32_t)count);
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, mask) && want-- == 0) return cpu;
    return -1;
}

/* The measured window of every shard, from one t_go. */
static void run_shards(lg_run *shards, uint32_t n, const cpu_set_t *mask, uint32_t cpus) {
    uint64_t t_go = lg_now();
    if (n == 1) { /* the default: the loop runs here, as it always did */
        lg_run_window(&shards[0], t_go);
        return;
    }
    shard_thread *t = calloc(n, sizeof *t);
    if (!t) fatal("threads: out of memory");
    for (uint32_t k = 0; k < n; k++) {
        t[k] = (shard_thread){.run = &shards[k], .t_go = t_go, .cpu = cpus >= n ? nth_cpu(mask, k) : -1};
        int e = pthread_create(&t[k].thread, NULL, shard_main, &t[k]);
        if (e) {
            char msg[128];
            snprintf(msg, sizeof msg, "starting thread %u of %u: %s", k + 1, n, strerror(e));
            fatal(msg);
        }
    }
    for (uint32_t k = 0; k < n; k++) pthread_join(t[k].thread, NULL);
    free(t);
}

int main(int argc, char **argv) {
    static lg_args args;
    static lg_run total; /* the shards merged; large (histogram): not on the stack */
    char err[512];

    lg_args_parse(argc, argv, &args);
    signal(SIGPIPE, SIG_IGN); /* a closed socket is reported by write(), not a signal */
    raise_fd_limit(args.connections);

    /* The CPUs this process may use (taskset), as inherited: the threads are
     * spread over them, and the result reports how many there were. */
    cpu_set_t mask;
    CPU_ZERO(&mask);
    if (sched_getaffinity(0, sizeof mask, &mask) != 0) {
        fprintf(stderr, "muxbench-loadgen: sched_getaffinity: %s\n", strerror(errno));
        CPU_ZERO(&mask);
    }
    uint32_t cpus = (uint32_t)CPU_COUNT(&mask);

    uint32_t n = args.threads;
    lg_run *shards = calloc(n, sizeof *shards); /* each holds a histogram: heap, not stack */
    if (!shards) fatal("setup: out of memory");
    for (uint32_t k = 0; k < n; k++)
        if (lg_run_init(&shards[k], &args, k, err, sizeof err) != 0) fatal(err);
    uint64_t connect_ns = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint64_t ns = 0;
        if (lg_connect_all(&shards[k], &ns, err, sizeof err) != 0) fatal(err);
        connect_ns += ns;
    }
    printf("{\"event\":\"ready\",\"connections\":%u,\"connect_ns\":%" PRIu64 ",\"source_addrs\":%u,\"threads\":%u}\n",
           args.connections, connect_ns, shards[0].source_addrs, n);
    fflush(stdout);

    if (read_command() != CMD_GO) { /* EOF or exit before go: no work */
        for (uint32_t k = 0; k < n; k++) lg_run_close(&shards[k]);
        free(shards);
        return 0;
    }

    /* CPU time is read around the window with the process CPU clock (exact,
     * unlike rusage's tick-sampled user/system split) and divided by the wall
     * time of the same interval, so the busy share cannot exceed 100% per
     * thread (N x 100% with --threads N: the clock counts every thread). */
    struct rusage ru0, ru1;
    lg_cpu cpu;
    getrusage(RUSAGE_SELF, &ru0);
    uint64_t cpu0 = lg_process_cpu_ns(), wall0 = lg_now();
    run_shards(shards, n, &mask, cpus);
    cpu.wall_ns = lg_now() - wall0;
    cpu.cpu_ns = lg_process_cpu_ns() - cpu0; /* every thread's */
    getrusage(RUSAGE_SELF, &ru1);
    cpu.utime_us = usec_between(ru0.ru_utime, ru1.ru_utime);
    cpu.stime_us = usec_between(ru0.ru_stime, ru1.ru_stime);
    cpu.threads = n;
    cpu.cpus = cpus;
    lg_merge(&total, shards, n);
    bool ok = lg_result_ok(&total);
    lg_print_result(&total, &cpu);

    /* Connections stay open so the server's closing work is not measured. */
    while (read_command() == CMD_GO)
        fprintf(stderr, "muxbench-loadgen: go after the result is ignored\n");
    for (uint32_t k = 0; k < n; k++) lg_run_close(&shards[k]); /* frees the errors `total` borrowed */
    free(shards);
    return ok ? 0 : 1;
}
