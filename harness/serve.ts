/* The `serve` command: one strategy's server in the foreground, so other
 * tools (curl, wrk, ab, the load generator by hand) can drive it. The server
 * is the same program with the same flags as in a run; only the harness
 * around it differs (no window, no load generator). */
import fs from 'node:fs';
import path from 'node:path';
import { Params, Scenario, StrategyVariant } from './catalog.js';
import { UsageError, errorMessage } from './errors.js';
import { loadgenArgs } from './plan.js';
import { LOADGEN_COMMAND, NOT_BUILT_HINT } from './paths.js';
import { installCleanupHandlers, startProcess } from './process.js';
import { parseSnapshot, ServerSnapshot } from './metrics.js';
import { formatBytes, formatCount } from './units.js';

export interface ServeRequest {
  root: string;
  variant: StrategyVariant;
  protocol: string;
  listen: string;
  snapshotEveryS: number | null;
  verifyChecksum: boolean;
  /* Loop threads (--threads); only for strategies with a threading model. */
  threads: number;
  scenarios: Scenario[];
}

const LOOPBACK_RE = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])$/;

/* Checks --listen and makes a unix path absolute: the server runs in the
 * repository root, the user typed the path relative to their own folder. */
export function resolveListen(listen: string, supported: string[], cwd = process.cwd()): string {
  const m = /^(tcp|unix):(.+)$/.exec(listen);
  if (!m) throw new UsageError(`--listen: "${listen}" must be tcp:127.0.0.1:PORT or unix:PATH`);
  const [, transport, rest] = m;
  if (!supported.includes(transport)) throw new UsageError(`--listen: this strategy supports ${supported.join(', ')}, not ${transport}`);
  if (transport === 'tcp') {
    const hp = /^(.*):(\d{1,5})$/.exec(rest);
    if (!hp || Number(hp[2]) > 65535) throw new UsageError(`--listen: "${listen}" must be tcp:HOST:PORT (PORT 0 lets the kernel pick)`);
    // Benchmarks stay on loopback (DESIGN.md §9): never expose a test server.
    if (!LOOPBACK_RE.test(hp[1])) throw new UsageError(`--listen: only numeric loopback addresses (127.x.x.x, [::1]) or unix:PATH are allowed, got ${hp[1]}${hp[1] === "localhost" ? " (write 127.0.0.1)" : ""}`);
    return listen;
  }
  const p = path.resolve(cwd, rest);
  if (fs.existsSync(p)) throw new UsageError(`--listen: ${p} already exists; remove it or choose another path`);
  return `unix:${p}`;
}

function examples(address: string, protocol: string, scenarios: Scenario[], root: string, threads: number): string[] {
  const out: string[] = [];
  const unix = address.startsWith('unix:');
  const sock = address.slice('unix:'.length);
  const hostPort = address.slice('tcp:'.length);
  if (protocol === 'http') {
    // The HTTP side serves JSON-RPC on POST / and generated bodies on GET /bulk?bytes=N&chunk=C.
    const body = `'{"jsonrpc":"1.0","id":1,"method":"getblockcount","params":[]}'`;
    const base = unix ? 'http://localhost' : `http://${hostPort}`;
    const curl = unix ? `curl -s --unix-socket ${sock}` : 'curl -s';
    out.push(`${curl} --data-binary ${body} ${base}/`);
    out.push(`${curl} -o /dev/null -w '%{size_download} bytes\\n' '${base}/bulk?bytes=67108864&chunk=65536'`);
    if (unix) {
      out.push('(wrk and ab cannot connect to unix sockets; the load generator below can)');
    } else {
      out.push('(wrk and ab come from Debian: apt-get install wrk apache2-utils)');
      out.push(`wrk -t1 -c100 -d10s '${base}/bulk?bytes=1024'`);
      out.push(`printf '%s' ${body} > /tmp/rpc.json && ab -k -n 20000 -c 100 -p /tmp/rpc.json -T application/json ${base}/`);
    }
  }
  const abs = path.join(root, LOADGEN_COMMAND);
  const rel = path.relative(process.cwd(), abs);
  const loadgen = rel.startsWith('..') ? abs : rel;
  // With several loops, a scenario that needs one (a relay reaches only the
  // peers of the loop it arrived on) would wait forever: not suggested.
  for (const s of scenarios.filter((x) => x.protocol === protocol && !(threads > 1 && x.singleServerLoop))) {
    const p: Params = { ...s.defaults, ...s.quick };
    p.active = Math.min(p.active ?? p.connections, p.connections);
    // The load generator waits for "go" on stdin and exits at end of stdin.
    out.push(`printf '{"cmd":"go"}\\n' | ${loadgen} --connect ${address} ${loadgenArgs(s, p).join(' ')}`);
  }
  return out;
}

function snapshotLine(t0: number, prev: ServerSnapshot | null, s: ServerSnapshot): string {
  const dt = prev ? (s.t_ns - prev.t_ns) / 1e9 : 0;
  const rate = (a: number, b: number) => (prev && dt > 0 ? formatCount((b - a) / dt) : '-');
  const calls = Object.entries(s.syscalls)
    .filter(([, c]) => c.calls > 0)
    .map(([k, c]) => `${k} ${formatCount(c.calls)}`)
    .join(', ');
  const cpu = prev && dt > 0 ? `${(((s.rusage.utime_us + s.rusage.stime_us - prev.rusage.utime_us - prev.rusage.stime_us) / 1e6 / dt) * 100).toFixed(0)}%` : '-';
  return [
    `[${((Date.now() - t0) / 1000).toFixed(1)} s]`,
    `open ${s.connections.open} (accepted ${s.connections.accepted}, closed ${s.connections.closed})`,
    `msgs in ${formatCount(s.protocol.messages_in)} (${rate(prev?.protocol.messages_in ?? 0, s.protocol.messages_in)}/s)`,
    `out ${formatCount(s.protocol.messages_out)}`,
    `cpu ${cpu}`,
    `rss ${formatBytes(s.rss_kb * 1024)}`,
    `syscalls: ${calls || 'none'}`,
  ].join('  ');
}

export async function serve(req: ServeRequest): Promise<number> {
  const { variant } = req;
  if (!variant.available) throw new UsageError(`${variant.name}: ${NOT_BUILT_HINT}`);
  if (!variant.protocols.includes(req.protocol)) {
    throw new UsageError(`${variant.name} does not serve protocol "${req.protocol}"; it serves ${variant.protocols.join(', ')}`);
  }
  const listen = resolveListen(req.listen, variant.transports);
  const server = startProcess({
    label: `${variant.name} server`,
    argv: [...variant.command, ...variant.args, '--protocol', req.protocol, '--listen', listen, ...(req.verifyChecksum ? ['--verify-checksum'] : []), ...(req.threads > 1 ? ['--threads', String(req.threads)] : [])],
    cwd: req.root,
    echoStderr: true,
  });

  let stopping = false;
  installCleanupHandlers(() => {
    stopping = true;
    process.stdout.write('\nstopping the server…\n');
    void server.end();
  });

  let address: string;
  let threading = '';
  try {
    const ev = await server.waitFor('listening', 10_000);
    address = String(ev.address);
    if (req.threads > 1 && typeof ev.threading === 'string') threading = ` ${req.threads} loop threads: ${ev.threading}.`;
  } catch (err) {
    await server.end();
    if (stopping) return 0;
    throw new Error(errorMessage(err));
  }
  const lines = [
    `${variant.name} (${variant.mechanism}) is serving ${req.protocol} on ${address}, pid ${server.pid}.${threading}`,
    'Drive it from another terminal, for example:',
    ...examples(address, req.protocol, req.scenarios, req.root, req.threads).map((l) => `  ${l}`),
    'Press Ctrl-C to stop it.',
  ];
  process.stdout.write(lines.join('\n') + '\n');

  let timer: NodeJS.Timeout | null = null;
  if (req.snapshotEveryS) {
    const t0 = Date.now();
    let prev: ServerSnapshot | null = null;
    let busy = false;
    timer = setInterval(async () => {
      if (busy || !server.running) return;
      busy = true;
      try {
        const s = parseSnapshot(await server.request({ cmd: 'snapshot' }, 'snapshot', 5000));
        process.stdout.write(snapshotLine(t0, prev, s) + '\n');
        prev = s;
      } catch (err) {
        if (server.running) process.stderr.write(`snapshot failed: ${errorMessage(err)}\n`);
      } finally {
        busy = false;
      }
    }, req.snapshotEveryS * 1000);
  }

  const exit = await server.exited;
  if (timer) clearInterval(timer);
  // The server never unlinks its socket; the path did not exist before, so it is ours to remove.
  if (listen.startsWith('unix:')) {
    const sock = listen.slice('unix:'.length);
    try {
      if (fs.lstatSync(sock).isSocket()) fs.unlinkSync(sock);
    } catch {
      // never created (the server failed before binding)
    }
  }
  if (stopping) {
    process.stdout.write('server stopped.\n');
    return 0;
  }
  const err = server.events.failed;
  process.stderr.write(`${variant.name} server ${exit.signal ? `was ended by ${exit.signal}` : `exited with status ${exit.code}`}${err ? `: ${err.message}` : ''}\n`);
  return exit.code === 0 ? 0 : 1;
}
