/* muxbench's Node.js strategy: one event loop (libuv, epoll underneath) driven
 * the way a Node program is written: node:net for the peer protocol,
 * node:http for JSON-RPC and bulk bodies. Command line and control channel as
 * in docs/control-channel.md; the control channel is read on the same loop
 * (Node has no second JavaScript thread for it), so a snapshot wakes the loop.
 * With --handoff N, N worker_threads build the replies (handoff.ts): each
 * reply comes back as a MessagePort message, which wakes the loop through
 * libuv's async handle.
 *
 *   node dist/strategies/node/server.js --protocol peer|http --listen tcp:127.0.0.1:PORT|unix:PATH
 *        [--verify-checksum] [--no-counters] [--backlog N] [--handoff N] */
import net from 'node:net';
import readline from 'node:readline';
import { Handoff } from './handoff.js';
import { payloadWarm } from './payload.js';
import { createPeerServer } from './peer.js';
import { createHttpServer } from './http.js';
import { stats, track, socketBytes } from './stats.js';

const STRATEGY = 'node';

function emit(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function fatal(message: string): never {
  emit({ event: 'error', message });
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
}

function usage(msg: string | null): never {
  if (msg) process.stderr.write(`muxbench-${STRATEGY}: ${msg}\n`);
  process.stderr.write(
    `usage: node dist/strategies/node/server.js --protocol peer|http --listen tcp:127.0.0.1:PORT|unix:PATH\n` +
      `       [--verify-checksum] [--no-counters] [--backlog N]\n` +
      `       [--handoff N]  (N worker threads build the replies and wake the loop)\n` +
      `Speaks JSON lines on stdin/stdout (see docs/control-channel.md).\n`,
  );
  process.exit(msg ? 2 : 0);
}

interface Args {
  protocol: 'peer' | 'http';
  listen: string;
  verifyChecksum: boolean;
  backlog: number;
  handoff: number;
}

/* As the C servers accept it (HUB_MAX_WORKERS). */
const MAX_HANDOFF = 64;

function parseArgs(argv: string[]): Args {
  let protocol: 'peer' | 'http' | undefined;
  let listen: string | undefined;
  let verifyChecksum = false;
  let backlog = 4096;
  let handoff = 0;
  for (let i = 0; i < argv.length; i++) {
    const o = argv[i];
    const val = i + 1 < argv.length ? argv[i + 1] : undefined;
    if (o === '--protocol' && val !== undefined) {
      if (val !== 'peer' && val !== 'http') usage('--protocol must be peer or http');
      protocol = val;
      i++;
    } else if (o === '--listen' && val !== undefined) {
      listen = val;
      i++;
    } else if (o === '--backlog' && val !== undefined) {
      backlog = Number.parseInt(val, 10);
      if (!(backlog > 0)) usage('--backlog must be a positive integer');
      i++;
    } else if (o === '--handoff' && val !== undefined) {
      handoff = /^[0-9]+$/.test(val) ? Number(val) : -1;
      if (!(handoff >= 0 && handoff <= MAX_HANDOFF)) usage(`--handoff must be 0..${MAX_HANDOFF} worker threads`);
      i++;
    } else if (o === '--verify-checksum') {
      verifyChecksum = true;
    } else if (o === '--no-counters') {
      // Nothing is counted at the syscall level anyway ("counting" is always false).
    } else if (o === '--help' || o === '-h') {
      usage(null);
    } else {
      usage(`unknown or incomplete option '${o}'`);
    }
  }
  if (!protocol || !listen) usage('--protocol and --listen are required');
  return { protocol, listen, verifyChecksum, backlog, handoff };
}

type Endpoint = { path: string } | { host: string; port: number };

function parseEndpoint(text: string): Endpoint {
  if (text.startsWith('unix:')) {
    const p = text.slice(5);
    // sun_path is 108 bytes including the NUL.
    if (!p || Buffer.byteLength(p) >= 108) fatal(`unix socket path empty or longer than 107 bytes: ${p}`);
    return { path: p };
  }
  const bad = () => fatal(`bad address '${text}': expected tcp:HOST:PORT (IP literal) or unix:PATH`);
  if (!text.startsWith('tcp:')) bad();
  const rest = text.slice(4);
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(rest) ?? /^([^:]+):(\d+)$/.exec(rest);
  if (!m) bad();
  const host = m![1];
  const port = Number(m![2]);
  if (!net.isIP(host) || port > 65535) bad();
  // Safe by default: benchmark servers are never reachable from outside.
  const loopback = net.isIPv4(host) ? host.split('.')[0] === '127' : new net.SocketAddress({ address: host, family: 'ipv6' }).address === '::1';
  if (!loopback) fatal(`refusing to listen on ${text}: only loopback addresses and unix sockets`);
  return { host, port };
}

function formatAddress(server: net.Server, ep: Endpoint): string {
  if ('path' in ep) return `unix:${ep.path}`;
  const a = server.address() as net.AddressInfo;
  return a.family === 'IPv6' ? `tcp:[${a.address}]:${a.port}` : `tcp:${a.address}:${a.port}`;
}

function snapshot(workers: number): Record<string, unknown> {
  const ru = process.resourceUsage();
  const b = socketBytes();
  return {
    event: 'snapshot',
    t_ns: Number(process.hrtime.bigint()),
    syscalls: {
      read: { calls: stats.readCalls, bytes: b.read, eagain: 0, errors: 0 },
      write: { calls: stats.writeCalls, bytes: b.written, eagain: 0, errors: 0 },
    },
    async_ops: {},
    wakeups: 0,
    events: 0,
    connections: { accepted: stats.accepted, closed: stats.closed, open: b.open },
    protocol: {
      messages_in: stats.messagesIn,
      messages_out: stats.messagesOut,
      payload_bytes_out: stats.payloadBytesOut,
      protocol_errors: stats.protocolErrors,
      payload_bytes_in: stats.payloadBytesIn,
      relayed: stats.relayed,
      relay_dropped: stats.relayDropped,
    },
    handoff: { workers, jobs: stats.handoffJobs, wakeups: stats.handoffWakeups },
    rusage: {
      utime_us: ru.userCPUTime,
      stime_us: ru.systemCPUTime,
      nvcsw: ru.voluntaryContextSwitches,
      nivcsw: ru.involuntaryContextSwitches,
      maxrss_kb: ru.maxRSS,
    },
    rss_kb: Math.round(process.memoryUsage.rss() / 1024),
    counting: false,
  };
}

function startControl(workers: number): void {
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  rl.on('line', (line) => {
    const cmd = line.replace(/[ \t\r\n]/g, '');
    if (cmd === '{"cmd":"snapshot"}') emit(snapshot(workers));
    else if (cmd === '{"cmd":"exit"}') process.exit(0);
    else if (cmd) process.stderr.write(`control: ignoring unknown command: ${cmd}\n`);
  });
  // End of stdin also means exit.
  rl.on('close', () => process.exit(0));
}

async function main(): Promise<void> {
  process.on('uncaughtException', (err) => fatal(`uncaught exception: ${err.stack ?? String(err)}`));
  const args = parseArgs(process.argv.slice(2));
  const ep = parseEndpoint(args.listen);
  // Start-up work stays out of every measured window.
  try {
    payloadWarm();
  } catch (err) {
    fatal(`payload pattern: ${(err as Error).message}`);
  }
  const handoff = args.handoff > 0 ? await Handoff.start(args.handoff, (err) => fatal(`hand-off worker: ${err.message}`)) : null;
  const server: net.Server =
    args.protocol === 'http' ? createHttpServer(handoff, track) : createPeerServer({ verifyChecksum: args.verifyChecksum, handoff }, track);
  server.on('error', (err: NodeJS.ErrnoException) => {
    const where = 'path' in ep ? ep.path : `${ep.host}:${ep.port}`;
    fatal(`listen ${where}: ${err.message}`);
  });
  const opts: net.ListenOptions = 'path' in ep ? { path: ep.path, backlog: args.backlog } : { host: ep.host, port: ep.port, backlog: args.backlog };
  server.listen(opts, () => {
    emit({ event: 'listening', strategy: STRATEGY, protocol: args.protocol, address: formatAddress(server, ep), pid: process.pid, counting: false, handoff: args.handoff });
    startControl(args.handoff);
  });
}

main().catch((err: unknown) => fatal(`start-up: ${err instanceof Error ? err.message : String(err)}`));
