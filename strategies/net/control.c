#include "control.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../core/hub.h"
#include "../core/payload.h"
#include "counters.h"

/* stdout is shared by the loop thread (errors) and the control thread. */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static session_stats *g_stats[SERVER_MAX_THREADS];
static unsigned g_nstats;
static unsigned g_handoff;
/* Loop threads (kernel thread ids) and how they share the work. */
static pid_t g_loop_tids[SERVER_MAX_THREADS];
static unsigned g_nloops;
static const char *g_threading = "one loop";
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

static void usage(const char *strategy, const char *msg) {
    if (msg) fprintf(stderr, "muxbench-%s: %s\n", strategy, msg);
    fprintf(stderr,
            "usage: muxbench-%s --protocol peer|http --listen tcp:127.0.0.1:PORT|unix:PATH\n"
            "       [--edge-triggered] [--verify-checksum] [--no-counters] [--backlog N]\n"
            "       [--handoff N]  (N worker threads build the replies and wake the loop)\n"
            "       [--threads N]  (N loop threads, for strategies that run several)\n"
            "Speaks JSON lines on stdin/stdout (see docs/control-channel.md).\n",
            strategy);
    exit(msg ? 2 : 0);
}

void server_args_parse(int argc, char **argv, const char *strategy, server_args *a) {
    memset(a, 0, sizeof *a);
    a->strategy = strategy;
    a->proto = PROTO_PEER;
    a->backlog = 4096;
    a->threads = 1;
    bool have_proto = false;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--protocol") && val) {
            if (!strcmp(val, "peer")) a->proto = PROTO_PEER;
            else if (!strcmp(val, "http")) a->proto = PROTO_HTTP;
            else usage(strategy, "--protocol must be peer or http");
            have_proto = true;
            i++;
        } else if (!strcmp(o, "--listen") && val) {
            a->listen = val;
            i++;
        } else if (!strcmp(o, "--backlog") && val) {
            a->backlog = atoi(val);
            if (a->backlog <= 0) usage(strategy, "--backlog must be a positive integer");
            i++;
        } else if (!strcmp(o, "--handoff") && val) {
            char *end;
            long n = strtol(val, &end, 10);
            if (*end || n < 0 || n > (long)HUB_MAX_WORKERS) usage(strategy, "--handoff must be 0..64 worker threads");
            a->handoff = (unsigned)n;
            i++;
        } else if (!strcmp(o, "--threads") && val) {
            char *end;
            long n = strtol(val, &end, 10);
            if (*end || n < 1 || n > (long)SERVER_MAX_THREADS) usage(strategy, "--threads must be 1..64 loop threads");
            a->threads = (unsigned)n;
            i++;
        } else if (!strcmp(o, "--edge-triggered")) {
            a->edge_triggered = true;
        } else if (!strcmp(o, "--verify-checksum")) {
            a->verify_checksum = true;
        } else if (!strcmp(o, "--no-counters")) {
            a->no_counters = true;
        } else if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            usage(strategy, NULL);
        } else {
            char msg[160];
            snprintf(msg, sizeof msg, "unknown or incomplete option '%s'", o);
            usage(strategy, msg);
        }
    }
    if (!have_proto || !a->listen) usage(strategy, "--protocol and --listen are required");
    g_counting = !a->no_counters;
    /* A peer that vanishes must cost an EPIPE, not the process (a parent
     * such as Node resets SIGPIPE to its default for children). */
    signal(SIGPIPE, SIG_IGN);
    /* Every peer is a descriptor; the default soft limit (often 1024) is
     * below a 1000-peer scenario plus our own files, so take the hard limit. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static bool is_loopback(const endpoint *ep) {
    if (ep->family == AF_UNIX) return true;
    if (ep->family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)&ep->sa)->sin_addr.s_addr) >> 24) == 127;
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *)&ep->sa)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a6);
}

int server_listen(const server_args *a, endpoint *bound) { return server_listen_with(a, false, bound); }

int server_listen_with(const server_args *a, bool reuseport, endpoint *bound) {
    endpoint ep;
    char err[256];
    if (endpoint_parse(a->listen, &ep, err, sizeof err) != 0) control_fatal("%s", err);
    /* Safe by default: benchmark servers are never reachable from outside. */
    if (!is_loopback(&ep)) control_fatal("refusing to listen on %s: only loopback addresses and unix sockets", a->listen);
    int fd = reuseport && ep.family != AF_UNIX ? listen_on_reuseport(&ep, a->backlog, bound, err, sizeof err)
                                               : listen_on(&ep, a->backlog, bound, err, sizeof err);
    if (fd < 0) control_fatal("%s", err);
    /* Start-up work stays out of every measured window. */
    if (payload_warm() != 0) control_fatal("out of memory for the payload pattern");
    return fd;
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

void control_fatal(const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&out_lock);
    fputs("{\"event\":\"error\",\"message\":", stdout);
    json_string(stdout, msg);
    fputs("}\n", stdout);
    fflush(stdout);
    fprintf(stderr, "error: %s\n", msg);
    exit(1);
}

static long rss_kb(void) {
    long pages_total, pages_resident;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    int n = fscanf(f, "%ld %ld", &pages_total, &pages_resident);
    fclose(f);
    return n == 2 ? pages_resident * (sysconf(_SC_PAGESIZE) / 1024) : -1;
}

/* One statistic summed over the loops' blocks. */
static uint64_t stat_sum(size_t offset) {
    uint64_t total = 0;
    for (unsigned i = 0; i < g_nstats; i++) total += ctr_get((_Atomic uint64_t *)((char *)g_stats[i] + offset));
    return total;
}
#define STAT(member) stat_sum(offsetof(session_stats, member))

static void write_snapshot(void) {
    struct rusage ru;
    struct timespec ts;
    getrusage(RUSAGE_SELF, &ru);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    pthread_mutex_lock(&out_lock);
    printf("{\"event\":\"snapshot\",\"t_ns\":%" PRIu64 ",", (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
    ctr_write_json(stdout);
    printf(",\"protocol\":{\"messages_in\":%" PRIu64 ",\"messages_out\":%" PRIu64
           ",\"payload_bytes_out\":%" PRIu64 ",\"protocol_errors\":%" PRIu64
           ",\"payload_bytes_in\":%" PRIu64 ",\"relayed\":%" PRIu64 ",\"relay_dropped\":%" PRIu64 "}",
           STAT(messages_in), STAT(messages_out), STAT(payload_bytes_out), STAT(protocol_errors),
           STAT(payload_bytes_in), STAT(relayed), STAT(relay_dropped));
    printf(",\"handoff\":{\"workers\":%u,\"jobs\":%" PRIu64 ",\"wakeups\":%" PRIu64 "}", g_handoff,
           STAT(handoff_jobs), STAT(handoff_wakeups));
    printf(",\"rusage\":{\"utime_us\":%" PRIu64 ",\"stime_us\":%" PRIu64 ",\"nvcsw\":%ld,\"nivcsw\":%ld,\"maxrss_kb\":%ld}",
           (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec,
           (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec, ru.ru_nvcsw,
           ru.ru_nivcsw, ru.ru_maxrss);
    printf(",\"rss_kb\":%ld,\"counting\":%s}\n", rss_kb(), g_counting ? "true" : "false");
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
}

/* Serves commands until exit or end of stdin, then ends the process: the
 * strategy's loop never has to know about the channel. */
static void *control_thread(void *arg) {
    (void)arg;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, stdin) >= 0) {
        /* Commands are whole lines; whitespace is ignored. */
        char *w = line;
        for (char *r = line; *r; r++)
            if (*r != ' ' && *r != '\t' && *r != '\r' && *r != '\n') *w++ = *r;
        *w = 0;
        if (!strcmp(line, "{\"cmd\":\"snapshot\"}")) write_snapshot();
        else if (!strcmp(line, "{\"cmd\":\"exit\"}")) break;
        else if (*line) fprintf(stderr, "control: ignoring unknown command: %s\n", line);
    }
    fflush(stdout);
    _exit(0);
    return NULL;
}

void control_add_stats(session_stats *stats) {
    pthread_mutex_lock(&reg_lock);
    if (g_nstats == SERVER_MAX_THREADS) control_fatal("more than %u statistics blocks", SERVER_MAX_THREADS);
    g_stats[g_nstats++] = stats;
    pthread_mutex_unlock(&reg_lock);
}

void control_add_loop_thread(void) {
    pthread_mutex_lock(&reg_lock);
    if (g_nloops == SERVER_MAX_THREADS) control_fatal("more than %u loop threads", SERVER_MAX_THREADS);
    g_loop_tids[g_nloops++] = gettid();
    pthread_mutex_unlock(&reg_lock);
}

void control_set_threading(const char *model) { g_threading = model; }

void control_start(const server_args *a, const endpoint *bound, session_stats *stats) {
    char addr[160];
    if (stats) control_add_stats(stats);
    if (g_nloops == 0) control_add_loop_thread();
    if (g_nloops < a->threads)
        control_fatal("--threads %u: muxbench-%s runs %u loop thread%s", a->threads, a->strategy, g_nloops,
                      g_nloops == 1 ? "" : "s");
    g_handoff = a->handoff;
    endpoint_format(bound, addr, sizeof addr);
    /* The control thread first: it inherits the whole CPU set before the
     * harness, reading the event, pins the loop threads one by one. */
    pthread_t t;
    if (pthread_create(&t, NULL, control_thread, NULL) != 0) control_fatal("cannot start the control thread");
    pthread_detach(t);
    pthread_mutex_lock(&out_lock);
    printf("{\"event\":\"listening\",\"strategy\":");
    json_string(stdout, a->strategy);
    printf(",\"protocol\":\"%s\",\"address\":", a->proto == PROTO_HTTP ? "http" : "peer");
    json_string(stdout, addr);
    printf(",\"pid\":%ld,\"counting\":%s,\"handoff\":%u,\"threading\":", (long)getpid(),
           g_counting ? "true" : "false", a->handoff);
    json_string(stdout, g_threading);
    printf(",\"loop_threads\":[");
    for (unsigned i = 0; i < g_nloops; i++) printf("%s%ld", i ? "," : "", (long)g_loop_tids[i]);
    printf("]}\n");
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
}
