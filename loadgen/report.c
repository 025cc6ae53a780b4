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
    fprintf(f, ",\"cpu\":{\"utime_us\":%ld,\"stime_us\":%ld,\"cpu_ns\":%" PRIu64 ",\"wall_ns\":%" PRIu64 "},\"errors\":[",
            cpu->utime_us, cpu->stime_us, cpu->cpu_ns, cpu->wall_ns);
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
