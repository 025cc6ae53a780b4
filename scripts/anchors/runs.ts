/* One measured run of each kind, and the servers they drive. Every run
 * reports its rate and the CPU seconds of both sides over the run:
 * - a client (wrk, the load generator, the iperf3 client) runs under a shell
 *   that prints its cutime + cstime after it exited: its whole life;
 * - a server's CPU time (procs.ts cpuSeconds: schedstat, else /proc/<pid>/stat)
 *   is read just before the client starts and just after it exited.
 * Both sides therefore include the client's connects and closes (1000
 * connections: a few ms against seconds of work). */
import fs from 'node:fs';
import path from 'node:path';
import { within, Started, childCpuFromStat, childrenOf, cpuSeconds, freePort, sleep, start, stop, waitExit, waitForPort, waitLine, withChildCpu } from './procs.js';
import { ECHO_MODULE } from './setup.js';

export const SERVER_CPU = 0;
export const CLIENT_CPU = 1;
const pin = (cpu: number, argv: string[]) => ['taskset', '-c', String(cpu), ...argv];

/* The JSON-RPC request of the http-rpc driver (loadgen/http.c), with a
 * six-digit id: 66 body bytes, as the load generator's ids reach six digits. */
export const RPC_BODY = '{"jsonrpc":"1.0","id":123456,"method":"getblockcount","params":[]}';
export const RPC_REPLY = '{"result":870000,"error":null,"id":123456}';

export interface Run {
  ok: boolean;
  error?: string;
  /* operations (requests, or bytes for bulk) and the seconds they took */
  ops: number;
  seconds: number;
  rate: number;
  server_cpu_s: number;
  client_cpu_s: number;
  /* wall seconds from the client's start to its exit (for CPU shares) */
  wall_s: number;
  /* CPU the rest of the machine used meanwhile (all CPUs busy time less both
   * sides'; includes kernel work not charged to either), % of one CPU */
  other_cpu_percent?: number;
  /* set when the machine was not quiet before the run (other programs running) */
  busy?: string;
  detail?: unknown;
}

function failed(error: string): Run {
  return { ok: false, error, ops: 0, seconds: 0, rate: 0, server_cpu_s: 0, client_cpu_s: 0, wall_s: 0 };
}

/* ------------------------------------------------------------------ nginx */

export interface Nginx {
  proc: Started;
  master: number;
  worker: number;
  port: number;
  conf: string;
}

/* nginx, one worker, answering POST / the way muxbench's HTTP servers do:
 * the request body is read (echo module), the JSON-RPC id is taken from it
 * by a map regex, and an internal redirect to a `return 200` builds the
 * reply with a Content-Length, the same 43-byte body muxbench's servers
 * send. /static answers with a fixed body without reading the request body
 * (nginx's cheapest possible reply). */
export function nginxConf(dir: string, port: number, connections: number): string {
  const rpcReply = RPC_REPLY.replace('123456', '$rpc_id').replace(/"/g, '\\"');
  const fixed = RPC_REPLY.replace(/"/g, '\\"');
  return `# written by muxbench's anchors benchmark (scripts/anchors.ts)
daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
load_module ${ECHO_MODULE};
worker_rlimit_nofile ${connections * 2 + 256};
events {
    worker_connections ${connections * 2 + 256};
}
http {
    access_log off;
    server_tokens off;
    default_type application/json;
    keepalive_requests 1000000000;
    keepalive_timeout 600s;
    client_body_buffer_size 16k;
    client_body_in_single_buffer on;
    client_body_temp_path ${dir}/body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    map $request_body $rpc_id {
        "~\\"id\\":(?<n>[0-9]+)" $n;
        default null;
    }
    server {
        listen 127.0.0.1:${port} backlog=4096;
        location = / {
            echo_read_request_body;
            echo_exec @rpc;
        }
        location @rpc {
            return 200 "${rpcReply}\\n";
        }
        location = /static {
            return 200 "${fixed}\\n";
        }
    }
}
`;
}

export async function startNginx(dir: string, connections: number, lifetimeS: number): Promise<Nginx> {
  const port = await freePort();
  const conf = nginxConf(dir, port, connections);
  const confPath = path.join(dir, 'nginx.conf');
  fs.writeFileSync(confPath, conf);
  const test = await runQuiet('nginx -t', ['nginx', '-t', '-q', '-c', confPath, '-p', dir + '/'], 20000);
  if (test.code !== 0) throw new Error(`nginx rejects its configuration: ${test.stderr.trim()}`);
  // timeout(1) bounds nginx's life should this command die without ending it.
  const proc = start('nginx', ['timeout', '-k', '5', String(lifetimeS), ...pin(SERVER_CPU, ['nginx', '-c', confPath, '-p', dir + '/'])]);
  await waitForPort(port, 10000, proc);
  const master = Number(fs.readFileSync(path.join(dir, 'nginx.pid'), 'utf8').trim());
  let worker = 0;
  for (let i = 0; i < 100 && !worker; i++) {
    worker = childrenOf(master).find((p) => readCmd(p).includes('worker process')) ?? 0;
    if (!worker) await sleep(50);
  }
  if (!worker) throw new Error('nginx started but its worker process was not found');
  return { proc, master, worker, port, conf };
}

export async function stopNginx(n: Nginx): Promise<void> {
  // SIGQUIT: graceful shutdown (the worker closes its idle keep-alive connections and exits).
  try {
    process.kill(n.master, 'SIGQUIT');
  } catch {
    /* gone */
  }
  await within(n.proc.exited, 5000);
  await stop(n.proc);
}

function readCmd(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

async function runQuiet(label: string, argv: string[], ms: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = start(label, argv);
  p.child.stdin!.end();
  const e = await waitExit(p, ms);
  return { code: e.code, stdout: p.stdout.join('\n'), stderr: p.stderr };
}

/* ------------------------------------------------------- muxbench servers */

export interface MuxServer {
  proc: Started;
  pid: number;
  port: number;
}

export async function startEpollHttp(root: string): Promise<MuxServer> {
  const proc = start('epoll server', pin(SERVER_CPU, [path.join(root, 'build/muxbench-epoll'), '--protocol', 'http', '--listen', 'tcp:127.0.0.1:0']));
  const line = await waitLine(proc, (l) => l.includes('"listening"'), 10000);
  const ev = JSON.parse(line) as { address: string; pid: number };
  const port = Number(/:(\d+)$/.exec(ev.address)?.[1]);
  if (!port) throw new Error(`epoll server: cannot read the port from ${line}`);
  return { proc, pid: ev.pid || proc.pid, port };
}

export async function stopMuxServer(s: MuxServer): Promise<void> {
  // End of stdin means exit (docs/control-channel.md).
  s.proc.child.stdin!.end();
  await within(s.proc.exited, 3000);
  await stop(s.proc);
}

/* -------------------------------------------------------------------- wrk */

/* wrk's Lua script: the http-rpc request; done() prints one JSON line. */
export function wrkScript(): string {
  return `-- written by muxbench's anchors benchmark: the load generator's http-rpc request
wrk.method = "POST"
wrk.headers["Host"] = "127.0.0.1"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '${RPC_BODY}'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout))
end
`;
}

interface WrkSummary {
  requests: number;
  duration_us: number;
  bytes: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
}

/* wrk, one thread, `connections` keep-alive connections, for `seconds`. */
export async function runWrk(script: string, url: string, connections: number, seconds: number, serverPid: number): Promise<Run> {
  const argv = withChildCpu(['wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', script, url]);
  const s0 = cpuSeconds(serverPid);
  const t0 = process.hrtime.bigint();
  const p = start('wrk', pin(CLIENT_CPU, argv));
  p.child.stdin!.end();
  const e = await waitExit(p, (seconds + 60) * 1000);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const s1 = cpuSeconds(serverPid);
  const line = p.stdout.find((l) => l.startsWith('{"requests"'));
  if (e.code !== 0 || !line) return failed(`wrk failed (status ${e.code ?? e.signal}): ${(p.stderr || p.stdout.join('\n')).trim().slice(-400)}`);
  const w = JSON.parse(line) as WrkSummary;
  const secs = w.duration_us / 1e6;
  const run: Run = {
    ok: true,
    ops: w.requests,
    seconds: secs,
    rate: w.requests / secs,
    server_cpu_s: s1 - s0,
    client_cpu_s: childCpuFromStat(p.stdout[p.stdout.length - 1]),
    wall_s: wall,
    detail: { errors: w.errors, bytes: w.bytes },
  };
  const errs = w.errors.connect + w.errors.read + w.errors.write + w.errors.status + w.errors.timeout;
  if (errs > 0) {
    run.ok = false;
    run.error = `wrk counted errors: ${JSON.stringify(w.errors)}`;
  }
  return run;
}

/* ------------------------------------------------------- muxbench loadgen */

/* The value at a quantile of [value_ns, count] buckets, in µs. */
function percentileUs(buckets: [number, number][], q: number): number | null {
  const total = buckets.reduce((n, [, c]) => n + c, 0);
  let seen = 0;
  for (const [v, c] of buckets) {
    seen += c;
    if (seen >= q * total) return v / 1000;
  }
  return null;
}

/* `wait`: the load generator's --wait (adaptive, its default, or block). */
export async function runLoadgen(root: string, port: number, connections: number, requests: number, serverPid: number, wait: 'adaptive' | 'block' = 'adaptive'): Promise<Run> {
  const lg = path.join(root, 'build/muxbench-loadgen');
  const argv = withChildCpu([lg, '--connect', `tcp:127.0.0.1:${port}`, '--driver', 'http-rpc', '--connections', String(connections), '--requests', String(requests), '--wait', wait]);
  const s0 = cpuSeconds(serverPid);
  const t0 = process.hrtime.bigint();
  const p = start('load generator', pin(CLIENT_CPU, argv));
  try {
    await waitLine(p, (l) => l.includes('"event":"ready"'), 60000);
    p.child.stdin!.write('{"cmd":"go"}\n');
    const line = await waitLine(p, (l) => l.includes('"event":"result"'), Math.max(120000, requests / 5));
    p.child.stdin!.write('{"cmd":"exit"}\n');
    p.child.stdin!.end();
    const e = await waitExit(p, 30000);
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const s1 = cpuSeconds(serverPid);
    const r = JSON.parse(line) as {
      ok: boolean;
      ops: number;
      elapsed_ns: number;
      errors: string[];
      cpu: { cpu_ns: number; wall_ns: number };
      latency: { buckets: [number, number][] };
      waits?: { naps: number; max_nap_ns: number };
    };
    const secs = r.elapsed_ns / 1e9;
    const run: Run = {
      ok: r.ok && e.code === 0,
      ops: r.ops,
      seconds: secs,
      rate: r.ops / secs,
      server_cpu_s: s1 - s0,
      client_cpu_s: childCpuFromStat(p.stdout[p.stdout.length - 1]),
      wall_s: wall,
      detail: {
        window_cpu_s: r.cpu.cpu_ns / 1e9,
        window_wall_s: r.cpu.wall_ns / 1e9,
        // What the adaptive wait costs in latency: compare with the --wait block runs.
        p50_us: percentileUs(r.latency.buckets, 0.5),
        p99_us: percentileUs(r.latency.buckets, 0.99),
        naps: r.waits?.naps ?? 0,
        max_nap_us: (r.waits?.max_nap_ns ?? 0) / 1000,
      },
    };
    if (!run.ok) run.error = `load generator: ${r.errors?.join('; ') || `exit status ${e.code ?? e.signal}`}`;
    return run;
  } catch (err) {
    await stop(p);
    return failed((err as Error).message);
  }
}

/* ----------------------------------------------------------------- iperf3 */

export interface IperfServer {
  proc: Started;
  pid: number;
  port: number;
}

export async function startIperfServer(lifetimeS: number): Promise<IperfServer> {
  const port = await freePort();
  const proc = start('iperf3 server', ['timeout', '-k', '5', String(lifetimeS), ...pin(SERVER_CPU, ['iperf3', '-s', '-B', '127.0.0.1', '-p', String(port)])]);
  await waitForPort(port, 10000, proc);
  const pid = childrenOf(proc.pid)[0];
  if (!pid) throw new Error('iperf3 server started but its process was not found');
  return { proc, pid, port };
}

export async function stopIperf(s: IperfServer): Promise<void> {
  await stop(s.proc);
}

/* One iperf3 test, -R: the server (CPU 0) sends, the client (CPU 1)
 * receives, as in peer-block where the muxbench server sends. */
export async function runIperf(srv: IperfServer, bytes: string, chunk: string): Promise<Run> {
  const argv = withChildCpu(['iperf3', '-c', '127.0.0.1', '-p', String(srv.port), '-n', bytes, '-l', chunk, '-R', '-J']);
  const s0 = cpuSeconds(srv.pid);
  const t0 = process.hrtime.bigint();
  const p = start('iperf3 client', pin(CLIENT_CPU, argv));
  p.child.stdin!.end();
  const e = await waitExit(p, 300000);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const s1 = cpuSeconds(srv.pid);
  const statLine = p.stdout[p.stdout.length - 1];
  let j: { end?: { sum_received?: { bytes: number; seconds: number } }; error?: string };
  try {
    j = JSON.parse(p.stdout.slice(0, -1).join('\n'));
  } catch {
    return failed(`iperf3 client printed no JSON (status ${e.code}): ${p.stderr.trim().slice(-400)}`);
  }
  if (e.code !== 0 || !j.end?.sum_received) return failed(`iperf3 failed: ${j.error ?? p.stderr.trim().slice(-400)}`);
  const { bytes: got, seconds } = j.end.sum_received;
  return { ok: true, ops: got, seconds, rate: got / seconds, server_cpu_s: s1 - s0, client_cpu_s: childCpuFromStat(statLine), wall_s: wall };
}

/* ------------------------------------------------ peer-block (the harness) */

interface CellSummary {
  transport: string;
  status: string;
  client_bound?: boolean;
  summary: Record<string, { median: number }>;
}

/* One harness run of peer-block (epoll, tcp and unix; its own warm-up, one
 * measured repetition per transport): the harness verifies every byte and
 * checks the server's byte counters against the client's. */
export async function runPeerBlock(root: string, outDir: string, bytes: string, connections: number): Promise<Record<string, Run>> {
  const argv = [
    process.execPath, path.join(root, 'dist/harness/cli.js'), 'run',
    '--strategies', 'epoll', '--scenarios', 'peer-block', '--transports', 'tcp,unix',
    '--connections', String(connections), '--bytes', bytes, '--repeat', '1', '--cpus', `${SERVER_CPU},${CLIENT_CPU}`, '--out', outDir,
  ];
  const p = start('muxbench run (peer-block)', argv, { cwd: root });
  p.child.stdin!.end();
  const e = await waitExit(p, 600000);
  const file = path.join(outDir, 'results.json');
  const out: Record<string, Run> = {};
  let cells: CellSummary[] = [];
  try {
    cells = (JSON.parse(fs.readFileSync(file, 'utf8')) as { cells: CellSummary[] }).cells;
  } catch {
    const why = `muxbench run exited ${e.code ?? e.signal} without results.json: ${p.stderr.trim().slice(-400)}`;
    return { tcp: failed(why), unix: failed(why) };
  }
  for (const t of ['tcp', 'unix']) {
    const c = cells.find((x) => x.transport === t);
    if (!c || c.status !== 'ok') {
      out[t] = failed(`peer-block ${t}: cell ${c ? c.status : 'missing'} (see ${file}); ${p.stderr.trim().slice(-300)}`);
      continue;
    }
    const m = (k: string) => c.summary[k]?.median ?? 0;
    const secs = m('elapsed_ns') / 1e9;
    out[t] = {
      ok: true,
      ops: m('bytes.payload'),
      seconds: secs,
      rate: m('throughput.payload_bytes_per_s'),
      server_cpu_s: (m('server.cpu_user_us') + m('server.cpu_sys_us')) / 1e6,
      client_cpu_s: (m('client.cpu_user_us') + m('client.cpu_sys_us')) / 1e6,
      wall_s: secs,
      detail: { client_bound: c.client_bound, results: file },
    };
  }
  return out;
}

