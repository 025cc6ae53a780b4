/* Command line of muxbench-loadgen (docs/control-channel.md). Bad input is a
 * usage error: message on stderr, exit status 2, nothing on the channel. */
#include <arpa/inet.h>
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
          "         --driver peer-ping|peer-block|peer-relay|peer-upload|http-rpc|http-bulk|http-churn\n"
          "         --connections N [--active N] [--requests N] [--depth D] [--bytes B] [--chunk C]\n"
          "         [--message-size S] [--rate R] [--source-addrs K|auto] [--threads N] [--wait adaptive|block]\n"
          "         [--seed S] [--timeout-ms T] [--verify-checksum]\n"
          "\n"
          "drivers:\n"
          "  peer-ping    ping/pong round trips, --depth in flight per connection\n"
          "  peer-block   one getdata per connection, its share of --bytes streamed back in blocks\n"
          "  peer-relay   the first --active connections announce --requests invs in total; the\n"
          "               server relays each to every other connection (an operation: one delivery)\n"
          "  peer-upload  each connection uploads its share of --bytes in blocks, acknowledged once\n"
          "  http-rpc     keep-alive JSON-RPC getblockcount requests, --depth pipelined\n"
          "  http-bulk    one GET per connection, its share of --bytes in the body\n"
          "  http-churn   JSON-RPC requests, each on a new connection (Connection: close)\n"
          "\n"
          "  --connections N   connections to open before the measured window\n"
          "  --active N        how many of them work (default: all); the rest stay idle\n"
          "                    (peer-relay: how many announce; all of them receive)\n"
          "  --requests N      peer-ping/http-rpc/http-churn: round trips in total;\n"
          "                    peer-relay: invs announced in total (required)\n"
          "  --depth D         requests (peer-relay: invs) in flight per connection (default 1;\n"
          "                    http-churn: must be 1)\n"
          "  --bytes B         peer-block/http-bulk/peer-upload: payload bytes in total (required;\n"
          "                    peer-upload sends ceil(B/C) whole pieces)\n"
          "  --chunk C         peer-block/http-bulk/peer-upload: piece size (default 65536, at most 4000000)\n"
          "  --message-size S  peer-ping: ping payload bytes, 8-byte nonce + filler (default 8, at most 1000000)\n"
          "  --rate R          peer-ping/http-rpc: open loop at R requests/s in total, latency from each\n"
          "                    request's intended send time (default 0: closed loop)\n"
          "  --source-addrs K  TCP to 127.x.x.x: connection i binds 127.0.0.(1 + i % K) (default auto:\n"
          "                    enough for the ephemeral port range; http-churn at least 16)\n"
          "  --threads N       threads, each with its own epoll instance (default 1; 1..64, at most\n"
          "                    --connections): connection i runs on thread i % N; shares, seeds and ids\n"
          "                    do not depend on N, and the one result merges the threads. When the\n"
          "                    affinity mask has at least N CPUs, thread k is pinned to its k-th CPU.\n"
          "                    Not for peer-relay (one loop relays to every peer)\n"
          "  --wait W          adaptive (default): while latency is over 0.5 ms, poll and nap 1% of\n"
          "                    it (5..50 us) instead of sleeping in epoll_wait, so the server's writes\n"
          "                    do not pay for waking this process; block: always sleep in epoll_wait\n"
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
    a->message_size = 8;
    a->threads = 1;
    bool have_driver = false, have_active = false, have_message_size = false, have_depth = false;

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
            else if (!strcmp(val, "peer-relay")) a->driver = DRV_PEER_RELAY;
            else if (!strcmp(val, "peer-upload")) a->driver = DRV_PEER_UPLOAD;
            else if (!strcmp(val, "http-churn")) a->driver = DRV_HTTP_CHURN;
            else die("%s: unknown driver '%s' (peer-ping, peer-block, peer-relay, peer-upload, "
                     "http-rpc, http-bulk, http-churn)", opt, val);
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
            have_depth = true;
        } else if (!strcmp(opt, "--bytes")) {
            a->bytes = number(opt, val, UINT64_MAX >> 1);
        } else if (!strcmp(opt, "--chunk")) {
            a->chunk = (uint32_t)number(opt, val, PAYLOAD_MAX_PIECE);
        } else if (!strcmp(opt, "--seed")) {
            a->seed = number(opt, val, UINT64_MAX);
        } else if (!strcmp(opt, "--message-size")) {
            a->message_size = (uint32_t)number(opt, val, LG_MAX_MESSAGE);
            have_message_size = true;
        } else if (!strcmp(opt, "--rate")) {
            a->rate = number(opt, val, LG_MAX_RATE);
        } else if (!strcmp(opt, "--source-addrs")) {
            a->source_addrs = val && !strcmp(val, "auto") ? 0 : (uint32_t)number(opt, val, LG_MAX_SOURCE_ADDRS);
        } else if (!strcmp(opt, "--threads")) {
            uint64_t n = number(opt, val, UINT32_MAX);
            if (n < 1 || n > LG_MAX_THREADS) die("%s must be between 1 and %u (got %s)", opt, LG_MAX_THREADS, val);
            a->threads = (uint32_t)n;
        } else if (!strcmp(opt, "--wait")) {
            if (val && !strcmp(val, "adaptive")) a->wait_block = false;
            else if (val && !strcmp(val, "block")) a->wait_block = true;
            else die("%s must be adaptive or block (got %s)", opt, val ? val : "nothing");
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
    if (a->threads > a->connections)
        die("--threads %u exceeds --connections %u: every thread needs at least one connection", a->threads,
            a->connections);
    if (a->timeout_ms == 0) die("%s must be at least 1", "--timeout-ms");

    if (a->source_addrs > 1) {
        const char *why = NULL;
        if (ep.family == AF_UNIX) why = "a unix socket has no source address to choose";
        else if (ep.family == AF_INET6) why = "IPv6 loopback is the single address ::1";
        else if ((ntohl(((const struct sockaddr_in *)&ep.sa)->sin_addr.s_addr) >> 24) != 127)
            why = "only 127.0.0.0/8 offers other local source addresses";
        if (why) die("--source-addrs %u needs an IPv4 loopback target (tcp:127.x.x.x): %s", a->source_addrs, why);
    }

    const char *name = a->driver == DRV_PEER_PING ? "peer-ping" : a->driver == DRV_PEER_BLOCK ? "peer-block"
                     : a->driver == DRV_HTTP_RPC ? "http-rpc" : a->driver == DRV_HTTP_BULK ? "http-bulk"
                     : a->driver == DRV_PEER_RELAY ? "peer-relay" : a->driver == DRV_PEER_UPLOAD ? "peer-upload"
                     : "http-churn";
    if (have_message_size && a->driver != DRV_PEER_PING)
        die("%s applies to peer-ping only (not %s)", "--message-size", name);
    if (a->message_size < 8) die("%s must be at least 8 (the nonce)", "--message-size");
    if ((uint64_t)a->depth * (P2P_HEADER_LEN + a->message_size) > INT32_MAX)
        die("--depth %u x --message-size %u needs over 2 GiB of output buffer per connection", a->depth,
            a->message_size);
    if (a->rate && a->driver != DRV_PEER_PING && a->driver != DRV_HTTP_RPC)
        die("%s applies to peer-ping and http-rpc only (not %s)", "--rate", name);

    bool streaming = a->driver == DRV_PEER_BLOCK || a->driver == DRV_HTTP_BULK || a->driver == DRV_PEER_UPLOAD;
    if (!streaming && a->requests == 0)
        die("%s is required and must be at least 1 for this driver", "--requests");
    if (streaming) {
        if (a->bytes == 0) die("%s is required and must be at least 1 for this driver", "--bytes");
        if (a->chunk == 0) die("%s must be at least 1", "--chunk");
        /* A getdata (and an upload) carries a 32-bit block count. */
        uint64_t pieces = a->bytes / a->chunk + (a->bytes % a->chunk != 0);
        if ((a->driver == DRV_PEER_BLOCK || a->driver == DRV_PEER_UPLOAD) &&
            lg_share(pieces, a->active, 0) > UINT32_MAX)
            die("%s: more than 2^32-1 blocks per connection; raise --chunk or --active", "--bytes");
    }
    if (a->driver == DRV_PEER_RELAY) {
        if (a->threads > 1)
            die("--threads: peer-relay relays every inv to every connection in one loop; it runs with --threads 1");
        if (a->connections < 2)
            die("peer-relay needs --connections of at least 2 (an inv is relayed to the other connections)");
        if (lg_share(a->requests, a->active, 0) > UINT32_MAX)
            die("%s: more than 2^32-1 invs per announcer; raise --active", "--requests");
        if (a->requests > (UINT64_MAX >> 1) / (a->connections - 1))
            die("%s x (--connections - 1) deliveries is too large", "--requests");
    }
    if (a->driver == DRV_HTTP_CHURN && have_depth && a->depth != 1)
        die("http-churn sends one request per connection: --depth must be 1");
}
