/* The error list and the result event. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadgen.h"

void lg_error(lg_run *r, const char *fmt, ...) {
    /* Capped: a broken server can fail every connection, and the harness
     * needs the first reasons, not thousands of copies. */
    if (r->nerrors == LG_MAX_ERRORS) {
        r->errors_dropped++;
        return;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->errors[r->nerrors] = strdup(msg);
    if (r->errors[r->nerrors]) r->nerrors++;
    else r->errors_dropped++;
    fprintf(stderr, "muxbench-loadgen: %s\n", msg);
}

void lg_json_string(const char *s, FILE *f) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

bool lg_result_ok(const lg_run *r) {
    return r->nerrors == 0 && r->errors_dropped == 0 && r->active_left == 0 && r->ops == r->ops_target;
}

void lg_merge(lg_run *t, const lg_run *shards, uint32_t n) {
    memset(t, 0, sizeof *t);
    t->args = shards[0].args;
    t->drv = shards[0].drv;
    t->nshards = n;
    t->source_addrs = shards[0].source_addrs;
    t->t_go = UINT64_MAX;
    for (uint32_t k = 0; k < n; k++) {
        const lg_run *s = &shards[k];
        t->nconns += s->nconns;
        t->nwork += s->nwork;
        t->active_left += s->active_left;
        t->ops_target += s->ops_target;
        t->abort = t->abort || s->abort;
        /* Elapsed: from go until the last shard finished. */
        if (s->t_go < t->t_go) t->t_go = s->t_go;
        if (s->t_end > t->t_end) t->t_end = s->t_end;
        t->ops += s->ops;
        t->payload_bytes += s->payload_bytes;
        t->verified_pieces += s->verified_pieces;
        t->bytes_sent += s->bytes_sent;
        t->bytes_received += s->bytes_received;
        hist_merge(&t->lat, &s->lat);
        t->late_sends += s->late_sends;
        if (s->max_send_lag_ns > t->max_send_lag_ns) t->max_send_lag_ns = s->max_send_lag_ns;
        t->connect_retries += s->connect_retries;
        t->blocking_waits += s->blocking_waits;
        t->naps += s->naps;
        t->nap_ns += s->nap_ns;
        t->late_naps += s->late_naps;
        if (s->max_nap_ns > t->max_nap_ns) t->max_nap_ns = s->max_nap_ns;
        if (s->cpu_ns > t->cpu_ns) t->cpu_ns = s->cpu_ns; /* the busiest thread's */
        /* In shard order; still capped like one shard's list. */
        for (uint32_t i = 0; i < s->nerrors; i++) {
            if (t->nerrors < LG_MAX_ERRORS) t->errors[t->nerrors++] = s->errors[i];
            else t->errors_dropped++;
        }
        t->errors_dropped += s->errors_dropped;
    }
}

void lg_print_result(const lg_run *r, const lg_cpu *cpu) {
    FILE *f = stdout;
    fprintf(f,
            "{\"event\":\"result\",\"ok\":%s,\"ops\":%" PRIu64 ",\"bytes_sent\":%" PRIu64
            ",\"bytes_received\":%" PRIu64 ",\"payload_bytes\":%" PRIu64 ",\"verified_pieces\":%" PRIu64
            ",\"elapsed_ns\":%" PRIu64 ",\"latency\":",
            lg_result_ok(r) ? "true" : "false", r->ops, r->bytes_sent, r->bytes_received,
            r->payload_bytes, r->verified_pieces, r->t_end - r->t_go);
    hist_write_json(&r->lat, f);
    if (r->args->rate) {
        uint64_t ns = r->t_end - r->t_go;
        double achieved = ns ? (double)r->ops * 1e9 / (double)ns : 0.0;
        fprintf(f, ",\"rate\":{\"target_per_s\":%" PRIu64 ",\"achieved_per_s\":%.1f,\"late_sends\":%" PRIu64
                ",\"max_send_lag_ns\":%" PRIu64 "}",
                r->args->rate, achieved, r->late_sends, r->max_send_lag_ns);
    }
    if (r->args->driver == DRV_HTTP_CHURN) fprintf(f, ",\"connect_retries\":%" PRIu64, r->connect_retries);
    fprintf(f,
            ",\"waits\":{\"mode\":\"%s\",\"blocking\":%" PRIu64 ",\"naps\":%" PRIu64 ",\"nap_ns\":%" PRIu64
            ",\"max_nap_ns\":%" PRIu64 ",\"late_naps\":%" PRIu64 "}",
            r->args->wait_block ? "block" : "adaptive", r->blocking_waits, r->naps, r->nap_ns, r->max_nap_ns, r->late_naps);
    fprintf(f, ",\"cpu\":{\"utime_us\":%ld,\"stime_us\":%ld,\"cpu_ns\":%" PRIu64 ",\"wall_ns\":%" PRIu64
            ",\"threads\":%u,\"cpus\":%u,\"busiest_thread_ns\":%" PRIu64 "},\"errors\":[",
            cpu->utime_us, cpu->stime_us, cpu->cpu_ns, cpu->wall_ns, cpu->threads, cpu->cpus, r->cpu_ns);
    for (uint32_t i = 0; i < r->nerrors; i++) {
        if (i) fputc(',', f);
        lg_json_string(r->errors[i], f);
    }
    if (r->errors_dropped) {
        char more[96];
        snprintf(more, sizeof more, "... and %" PRIu64 " more errors", r->errors_dropped);
        if (r->nerrors) fputc(',', f);
        lg_json_string(more, f);
    }
    fputs("]}\n", f);
    fflush(f);
}
