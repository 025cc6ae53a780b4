/* Command line of muxbench-loadgen (docs/control-channel.md). Bad input is a
 * usage error: message on stderr, exit status 2, nothing on the channel. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../strategies/core/p2p.h"
#include "../strategies/core/payload.h"
#include "../strategies/net/address.h"
#include "loadgen.h"

static void usage(FILE *f) {
    fputs("usage: muxbench-loadgen --connect tcp:HOST:PORT|unix:PATH\n"
          "         --driver peer-ping|peer-block|http-rpc|http-bulk --connections N\n"
          "         [--active N] [--requests N] [--depth D] [--bytes B] [--chunk C]\n"
          "         [--seed S] [--timeout-ms T] [--verify-checksum]\n"
          "\n"
          "  --connections N   connections to open before the measured window\n"
          "  --active N        how many of them work (default: all); the rest stay idle\n"
          "  --requests N      peer-ping/http-rpc: round trips in total (required)\n"
          "  --depth D         peer-ping/http-rpc: requests in flight per connection (default 1)\n"
          "  --bytes B         peer-block/http-bulk: payload bytes in total (required)\n"
          "  --chunk C         peer-block/http-bulk: piece size (default 65536, at most 4000000)\n"
          "  --seed S          payload seed; connection k uses S+k (default 1)\n"
          "  --timeout-ms T    bound on the measured window (default 120000)\n"
          "  --verify-checksum peer: send real SHA256d checksums and check the server's\n"
          "Numbers may end in k, m or g (binary multiples: 64m = 67108864).\n"
          "Speaks JSON lines on stdin/stdout (see docs/control-channel.md).\n",
          f);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("muxbench-loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(muxbench-loadgen --help shows the usage)\n", stderr);
    exit(2);
}

static uint64_t number(const char *opt, const char *val, uint64_t max) {
    if (!val) die("%s needs a value", opt);
    if (*val < '0' || *val > '9') die("%s: not a non-negative integer: '%s'", opt, val);
    errno = 0;
    char *end;
    unsigned long long v = strtoull(val, &end, 10);
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    }
    if (errno || *end || (shift && v > (UINT64_MAX >> shift))) die("%s: bad number '%s'", opt, val);
    v <<= shift;
    if (v > max) die("%s: '%s' is too large", opt, val);
    return v;
}

void lg_args_parse(int argc, char **argv, lg_args *a) {
    memset(a, 0, sizeof *a);
    a->depth = 1;
    a->chunk = 65536;
    a->seed = 1;
    a->timeout_ms = 120000;
    bool have_driver = false, have_active = false;

    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = NULL;
        char name[32];
        /* Both "--opt value" and "--opt=value". */
        const char *eq = strchr(opt, '=');
        if (eq && (size_t)(eq - opt) < sizeof name) {
            memcpy(name, opt, (size_t)(eq - opt));
            name[eq - opt] = 0;
            opt = name;
            val = eq + 1;
        }
        bool flag = !strcmp(opt, "--help") || !strcmp(opt, "-h") || !strcmp(opt, "--verify-checksum");
        if (!flag && !val) val = i + 1 < argc ? argv[++i] : NULL;

        if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(opt, "--verify-checksum")) {
            if (val) die("%s takes no value (got '%s')", opt, val);
            a->verify_checksum = true;
        } else if (!strcmp(opt, "--connect")) {
            if (!val || !*val) die("%s needs an address", opt);
            a->connect = val;
        } else if (!strcmp(opt, "--driver")) {
            if (!val) die("%s needs a value", opt);
            if (!strcmp(val, "peer-ping")) a->driver = DRV_PEER_PING;
            else if (!strcmp(val, "peer-block")) a->driver = DRV_PEER_BLOCK;
            else if (!strcmp(val, "http-rpc")) a->driver = DRV_HTTP_RPC;
            else if (!strcmp(val, "http-bulk")) a->driver = DRV_HTTP_BULK;
            else die("%s: unknown driver '%s' (peer-ping, peer-block, http-rpc, http-bulk)", opt, val);
            have_driver = true;
        } else if (!strcmp(opt, "--connections")) {
            a->connections = (uint32_t)number(opt, val, 1000000);
        } else if (!strcmp(opt, "--active")) {
            a->active = (uint32_t)number(opt, val, 1000000);
            have_active = true;
        } else if (!strcmp(opt, "--requests")) {
            a->requests = number(opt, val, UINT64_MAX >> 1);
        } else if (!strcmp(opt, "--depth")) {
            a->depth = (uint32_t)number(opt, val, LG_MAX_DEPTH);
        } else if (!strcmp(opt, "--bytes")) {
            a->bytes = number(opt, val, UINT64_MAX >> 1);
        } else if (!strcmp(opt, "--chunk")) {
            a->chunk = (uint32_t)number(opt, val, PAYLOAD_MAX_PIECE);
        } else if (!strcmp(opt, "--seed")) {
            a->seed = number(opt, val, UINT64_MAX);
        } else if (!strcmp(opt, "--timeout-ms")) {
            a->timeout_ms = number(opt, val, 1000000000u); /* ~11 days: keeps ns arithmetic in range */
        } else {
            die("unknown option '%s'", opt);
        }
    }

    if (!a->connect) die("%s is required", "--connect");
    endpoint ep;
    char err[256];
    if (endpoint_parse(a->connect, &ep, err, sizeof err) != 0) die("--connect: %s", err);
    if (!have_driver) die("%s is required", "--driver");
    if (a->connections == 0) die("%s is required and must be at least 1", "--connections");
    if (!have_active) a->active = a->connections;
    if (a->active == 0) die("%s must be at least 1", "--active");
    if (a->active > a->connections) die("%s cannot exceed --connections", "--active");
    if (a->depth == 0) die("%s must be at least 1", "--depth");
    if (a->timeout_ms == 0) die("%s must be at least 1", "--timeout-ms");

    bool streaming = a->driver == DRV_PEER_BLOCK || a->driver == DRV_HTTP_BULK;
    if (!streaming && a->requests == 0)
        die("%s is required and must be at least 1 for this driver", "--requests");
    if (streaming) {
        if (a->bytes == 0) die("%s is required and must be at least 1 for this driver", "--bytes");
        if (a->chunk == 0) die("%s must be at least 1", "--chunk");
        /* A getdata carries a 32-bit block count. */
        uint64_t pieces = a->bytes / a->chunk + (a->bytes % a->chunk != 0);
        if (a->driver == DRV_PEER_BLOCK && lg_share(pieces, a->active, 0) > UINT32_MAX)
            die("%s: more than 2^32-1 blocks per connection; raise --chunk or --active", "--bytes");
    }
}
