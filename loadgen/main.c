/* muxbench-loadgen: the phases of docs/control-channel.md.
 *
 *   connect all -> {"event":"ready"} -> wait for {"cmd":"go"} -> measured work
 *   -> {"event":"result"} -> wait for {"cmd":"exit"} or EOF -> close, exit
 *
 * stdin is read (blocking) only outside the measured window, so the harness
 * never wakes the loop it is measuring. Exit status: 0 when the result is ok
 * (or no work was requested), 1 on failure, 2 on usage errors. */
#include <inttypes.h>
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

int main(int argc, char **argv) {
    static lg_args args;
    static lg_run run; /* large (histogram): not on the stack */
    char err[512];

    lg_args_parse(argc, argv, &args);
    signal(SIGPIPE, SIG_IGN); /* a closed socket is reported by write(), not a signal */
    raise_fd_limit(args.connections);

    if (lg_run_init(&run, &args, err, sizeof err) != 0) fatal(err);
    uint64_t connect_ns = 0;
    if (lg_connect_all(&run, &connect_ns, err, sizeof err) != 0) fatal(err);
    printf("{\"event\":\"ready\",\"connections\":%u,\"connect_ns\":%" PRIu64 ",\"source_addrs\":%u}\n",
           args.connections, connect_ns, run.source_addrs);
    fflush(stdout);

    if (read_command() != CMD_GO) { /* EOF or exit before go: no work */
        lg_run_close(&run);
        return 0;
    }

    /* CPU time is read around the window with the process CPU clock (exact,
     * unlike rusage's tick-sampled user/system split) and divided by the wall
     * time of the same interval, so the busy share cannot exceed 100%. */
    struct rusage ru0, ru1;
    lg_cpu cpu;
    getrusage(RUSAGE_SELF, &ru0);
    uint64_t cpu0 = lg_process_cpu_ns(), wall0 = lg_now();
    lg_run_window(&run);
    cpu.wall_ns = lg_now() - wall0;
    cpu.cpu_ns = lg_process_cpu_ns() - cpu0;
    getrusage(RUSAGE_SELF, &ru1);
    cpu.utime_us = usec_between(ru0.ru_utime, ru1.ru_utime);
    cpu.stime_us = usec_between(ru0.ru_stime, ru1.ru_stime);
    bool ok = lg_result_ok(&run);
    lg_print_result(&run, &cpu);

    /* Connections stay open so the server's closing work is not measured. */
    while (read_command() == CMD_GO)
        fprintf(stderr, "muxbench-loadgen: go after the result is ignored\n");
    lg_run_close(&run);
    return ok ? 0 : 1;
}
