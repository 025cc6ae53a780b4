/* `npm run bench:anchors`: anchors muxbench's numbers to well-known tools,
 * measured side by side in one run, A then B, several rounds, medians and
 * ratios in a table (docs/anchors.md):
 *
 *   http-client  muxbench's load generator vs wrk, both driving one nginx worker
 *   http-server  muxbench's epoll HTTP server vs that nginx, both driven by wrk
 *   bulk         peer-block (epoll, via `muxbench run`) vs iperf3, TCP; and unix vs TCP
 *
 * A benchmark, not a test: it prints and records what it measured, goals met
 * or not. Exit status 0 when every run succeeded, 1 when a run failed, 2 for
 * a usage error or a missing tool, 130 on Ctrl-C. */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { foreignBenchPrograms, liveCount, refuseNewProcesses, machineBusySeconds, sleep, stopAll } from './anchors/procs.js';
import { ensureTools, versionOf } from './anchors/setup.js';
import {
  CLIENT_CPU, RPC_BODY, RPC_REPLY, Run, SERVER_CPU,
  runIperf, runLoadgen, runPeerBlock, runWrk, startEpollHttp, startIperfServer, startNginx, stopMuxServer, stopNginx, stopIperf, wrkScript,
} from './anchors/runs.js';
import type { IperfServer, MuxServer, Nginx } from './anchors/runs.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ANCHORS = ['http-client', 'http-server', 'bulk'] as const;

const USAGE = `usage: npm run bench:anchors [-- options]    (or: node dist/scripts/anchors.js [options])

  --rounds N          A/B rounds (default 5)
  --seconds S         length of each HTTP run in seconds (default 5)
  --connections N     HTTP connections (default 1000)
  --bytes SIZE        bulk transfer per run, iperf3 -n syntax (default 1G)
  --anchors LIST      ${ANCHORS.join(',')} (default all)
  --quiet-wait S      before each run, wait up to S seconds for a quiet machine
                      (no other benchmark programs, under 15% of a CPU busy; default 120)
  --no-install        never run apt-get; say what is missing
  --out FILE          JSON output (default results/anchors-<time>.json)
`;

interface Options {
  rounds: number;
  seconds: number;
  connections: number;
  bytes: string;
  anchors: Set<string>;
  install: boolean;
  quietWait: number;
  out: string | null;
}

function usage(msg: string): never {
  process.stderr.write(`anchors: ${msg}\n${USAGE}`);
  process.exit(2);
}

function options(): Options {
  let v;
  try {
    v = parseArgs({
      options: {
        rounds: { type: 'string', default: '5' },
        seconds: { type: 'string', default: '5' },
        connections: { type: 'string', default: '1000' },
        bytes: { type: 'string', default: '1G' },
        anchors: { type: 'string', default: ANCHORS.join(',') },
        'no-install': { type: 'boolean', default: false },
        'quiet-wait': { type: 'string', default: '120' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    usage((err as Error).message);
  }
  if (v.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const int = (name: string, text: string, min: number, max: number) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) usage(`--${name} must be an integer from ${min} to ${max}`);
    return n;
  };
  const anchors = new Set(v.anchors.split(',').map((s) => s.trim()).filter(Boolean));
  for (const a of anchors) if (!(ANCHORS as readonly string[]).includes(a)) usage(`unknown anchor ${a}`);
  if (!/^\d+[KMG]?$/.test(v.bytes)) usage('--bytes takes a count with an optional K, M or G (e.g. 1G)');
  return {
    rounds: int('rounds', v.rounds, 1, 100),
    seconds: int('seconds', v.seconds, 1, 600),
    connections: int('connections', v.connections, 1, 20000),
    bytes: v.bytes,
    anchors,
    install: !v['no-install'],
    quietWait: int('quiet-wait', v['quiet-wait'], 0, 3600),
    out: v.out ?? null,
  };
}

const log = (s: string) => process.stderr.write(`${s}\n`);

/* ------------------------------------------------------------- statistics */

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/* What a series of runs is worth per operation: operations are requests
 * (CPU in µs per request) or bytes (CPU in µs per MiB). */
interface SeriesStats {
  runs: number;
  failed: number;
  rate: number | null;
  rate_min: number | null;
  rate_max: number | null;
  server_cpu_per_op: number | null;
  client_cpu_per_op: number | null;
  server_busy_percent: number | null;
  client_busy_percent: number | null;
  other_cpu_percent: number | null;
  busy_runs: number;
}

function stats(runs: Run[], opsPerUnit: number): SeriesStats {
  const ok = runs.filter((r) => r.ok);
  const per = (f: (r: Run) => number) => median(ok.map(f));
  const rates = ok.map((r) => r.rate);
  return {
    runs: runs.length,
    failed: runs.length - ok.length,
    rate: median(rates),
    rate_min: rates.length ? Math.min(...rates) : null,
    rate_max: rates.length ? Math.max(...rates) : null,
    server_cpu_per_op: per((r) => (r.server_cpu_s * 1e6) / (r.ops / opsPerUnit)),
    client_cpu_per_op: per((r) => (r.client_cpu_s * 1e6) / (r.ops / opsPerUnit)),
    server_busy_percent: per((r) => (100 * r.server_cpu_s) / r.wall_s),
    client_busy_percent: per((r) => (100 * r.client_cpu_s) / r.wall_s),
    other_cpu_percent: median(ok.filter((r) => r.other_cpu_percent !== undefined).map((r) => r.other_cpu_percent!)),
    busy_runs: runs.filter((r) => r.busy).length,
  };
}

/* ------------------------------------------------------------------ table */

type Kind = 'rate' | 'server-cpu' | 'client-cpu';

interface RowSpec {
  anchor: string;
  metric: string;
  a: string;
  b: string;
  aSeries: string;
  bSeries: string;
  kind: Kind;
  bulk: boolean;
  goal: { op: '>=' | '<='; value: number } | null;
}

interface Row {
  anchor: string;
  metric: string;
  a: string;
  b: string;
  a_value: number | null;
  b_value: number | null;
  ratio: number | null;
  goal: string;
  met: boolean | null;
  cpu_unit: string;
  a_cpu: { server: number | null; client: number | null };
  b_cpu: { server: number | null; client: number | null };
  a_busy_percent: { server: number | null; client: number | null };
  b_busy_percent: { server: number | null; client: number | null };
}

const ROWS: RowSpec[] = [
  { anchor: 'http-client', metric: 'req/s', a: 'muxbench-loadgen', b: 'wrk', aSeries: 'loadgen>nginx', bSeries: 'wrk>nginx', kind: 'rate', bulk: false, goal: { op: '>=', value: 1.0 } },
  { anchor: 'http-client', metric: 'client CPU µs/req', a: 'muxbench-loadgen', b: 'wrk', aSeries: 'loadgen>nginx', bSeries: 'wrk>nginx', kind: 'client-cpu', bulk: false, goal: { op: '<=', value: 0.9 } },
  { anchor: 'http-client (info)', metric: 'req/s', a: 'loadgen --wait block', b: 'wrk', aSeries: 'loadgen-block>nginx', bSeries: 'wrk>nginx', kind: 'rate', bulk: false, goal: null },
  { anchor: 'http-client (info)', metric: 'client CPU µs/req', a: 'loadgen --wait block', b: 'wrk', aSeries: 'loadgen-block>nginx', bSeries: 'wrk>nginx', kind: 'client-cpu', bulk: false, goal: null },
  { anchor: 'http-server', metric: 'req/s', a: 'epoll (wrk)', b: 'nginx (wrk)', aSeries: 'wrk>epoll', bSeries: 'wrk>nginx', kind: 'rate', bulk: false, goal: { op: '>=', value: 1.0 } },
  { anchor: 'http-server', metric: 'server CPU µs/req', a: 'epoll (wrk)', b: 'nginx (wrk)', aSeries: 'wrk>epoll', bSeries: 'wrk>nginx', kind: 'server-cpu', bulk: false, goal: { op: '<=', value: 1.0 } },
  { anchor: 'http-server (info)', metric: 'req/s', a: 'epoll (wrk)', b: 'nginx static (wrk)', aSeries: 'wrk>epoll', bSeries: 'wrk>nginx-static', kind: 'rate', bulk: false, goal: null },
  { anchor: 'http-server (info)', metric: 'server CPU µs/req', a: 'epoll (wrk)', b: 'nginx static (wrk)', aSeries: 'wrk>epoll', bSeries: 'wrk>nginx-static', kind: 'server-cpu', bulk: false, goal: null },
  { anchor: 'bulk', metric: 'payload B/s', a: 'peer-block tcp', b: 'iperf3 -R tcp', aSeries: 'peer-block-tcp', bSeries: 'iperf3', kind: 'rate', bulk: true, goal: { op: '>=', value: 0.95 } },
  { anchor: 'bulk (info)', metric: 'payload B/s', a: 'peer-block unix', b: 'peer-block tcp', aSeries: 'peer-block-unix', bSeries: 'peer-block-tcp', kind: 'rate', bulk: true, goal: null },
];

function rowOf(spec: RowSpec, st: Record<string, SeriesStats>): Row {
  const a = st[spec.aSeries];
  const b = st[spec.bSeries];
  const pick = (s: SeriesStats) => (spec.kind === 'rate' ? s.rate : spec.kind === 'server-cpu' ? s.server_cpu_per_op : s.client_cpu_per_op);
  const av = pick(a);
  const bv = pick(b);
  const ratio = av !== null && bv !== null && bv > 0 ? av / bv : null;
  const met = spec.goal && ratio !== null ? (spec.goal.op === '>=' ? ratio >= spec.goal.value : ratio <= spec.goal.value) : null;
  return {
    anchor: spec.anchor,
    metric: spec.metric,
    a: spec.a,
    b: spec.b,
    a_value: av,
    b_value: bv,
    ratio,
    goal: spec.goal ? `${spec.goal.op === '>=' ? '≥' : '≤'} ${spec.goal.value.toFixed(2)}` : '—',
    met,
    cpu_unit: spec.bulk ? 'µs/MiB' : 'µs/req',
    a_cpu: { server: a.server_cpu_per_op, client: a.client_cpu_per_op },
    b_cpu: { server: b.server_cpu_per_op, client: b.client_cpu_per_op },
    a_busy_percent: { server: a.server_busy_percent, client: a.client_busy_percent },
    b_busy_percent: { server: b.server_busy_percent, client: b.client_busy_percent },
  };
}

function fmtValue(v: number | null, metric: string): string {
  if (v === null) return 'n/a';
  if (metric === 'payload B/s') return `${(v / 2 ** 30).toFixed(2)} GiB/s`;
  if (metric === 'req/s') return v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(0);
  return v.toFixed(2);
}

const f1 = (v: number | null, d = 2) => (v === null ? 'n/a' : v.toFixed(d));
const pair = (x: { server: number | null; client: number | null }, d: number) => `${f1(x.server, d)} / ${f1(x.client, d)}`;

function renderTable(rows: Row[]): string {
  const head = ['anchor', 'metric', 'A', 'B', 'A value', 'B value', 'A/B', 'goal', 'met?', 'A CPU srv/cli', 'B CPU srv/cli', 'CPU unit', 'A busy% srv/cli', 'B busy% srv/cli'];
  const body = rows.map((r) => [
    r.anchor, r.metric, r.a, r.b, fmtValue(r.a_value, r.metric), fmtValue(r.b_value, r.metric), f1(r.ratio, 3), r.goal,
    r.met === null ? '—' : r.met ? 'yes' : 'NO', pair(r.a_cpu, r.cpu_unit === 'µs/MiB' ? 1 : 2), pair(r.b_cpu, r.cpu_unit === 'µs/MiB' ? 1 : 2), r.cpu_unit,
    pair(r.a_busy_percent, 0), pair(r.b_busy_percent, 0),
  ]);
  const numeric = new Set([4, 5, 6, 9, 10, 12, 13]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/* ------------------------------------------------------------ sanity checks */

/* One POST like the load generator's, the reply body returned. */
function post(port: number, reqPath: string, body: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: reqPath, method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }, timeout: 5000, agent: false }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error(`no reply from 127.0.0.1:${port} in 5 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function checkReply(label: string, port: number, reqPath: string, expectId: boolean): Promise<void> {
  const body = RPC_BODY.replace('123456', '987');
  const r = await post(port, reqPath, body);
  const want = expectId ? RPC_REPLY.replace('123456', '987') : RPC_REPLY;
  if (r.status !== 200 || r.body.trim() !== want || !r.headers['content-length'])
    throw new Error(`${label} answered ${r.status} ${JSON.stringify(r.body)} (content-length ${r.headers['content-length'] ?? 'none'}), expected 200 ${want}`);
}

/* ------------------------------------------------------------------- main */

function git(args: string[]): string {
  const r = spawnSync('git', args, { cwd: root, encoding: 'utf8', timeout: 10000 });
  return r.status === 0 ? r.stdout.trim() : 'unknown';
}

function timestamp(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

let tmp: string | null = null;
let cleaning = false;

async function cleanup(): Promise<void> {
  await stopAll();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  tmp = null;
}

function onSignal(sig: NodeJS.Signals): void {
  if (cleaning) return;
  cleaning = true;
  refuseNewProcesses();
  log(`\nanchors: ${sig}: ending the ${liveCount()} process(es) this command started`);
  void cleanup().finally(() => process.exit(130));
}

async function main(): Promise<number> {
  const o = options();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  // A closed terminal or pipe (… | head) must not end the command before it has ended its processes.
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
  process.on('uncaughtException', (err) => {
    if (cleaning) return;
    cleaning = true;
    refuseNewProcesses();
    void cleanup().finally(() => {
      try {
        process.stderr.write(`anchors: ${err.stack ?? err}\n`);
      } catch {
        /* nowhere to say it */
      }
      process.exit(1);
    });
  });

  const http1 = o.anchors.has('http-client');
  const http2 = o.anchors.has('http-server');
  const bulk = o.anchors.has('bulk');
  for (const f of ['build/muxbench-loadgen', 'build/muxbench-epoll', 'dist/harness/cli.js'])
    if (!fs.existsSync(path.join(root, f))) usage(`${f} is missing: run \`npm run build\` first (npm run bench:anchors does)`);
  const missing = ensureTools(o.anchors, o.install, log);
  if (missing) {
    process.stderr.write(`anchors: ${missing}`);
    return 2;
  }

  const started = new Date();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'muxbench-anchors-'));
  fs.chmodSync(tmp, 0o755); // nginx's worker runs as nobody when started as root
  const series: Record<string, Run[]> = {};
  const warmups: Record<string, Run> = {};
  const add = (k: string, r: Run) => {
    (series[k] ??= []).push(r);
    return r;
  };
  const errors: string[] = [];
  const say = (label: string, r: Run, bulkRun = false) => {
    if (!r.ok) {
      errors.push(`${label}: ${r.error}`);
      log(`  ${label}: FAILED: ${r.error}`);
      return;
    }
    const unit = bulkRun ? r.ops / 2 ** 20 : r.ops;
    const rate = bulkRun ? `${(r.rate / 2 ** 30).toFixed(2)} GiB/s` : `${(r.rate / 1e3).toFixed(1)}k req/s`;
    const cu = bulkRun ? 'µs/MiB' : 'µs/req';
    const other = r.other_cpu_percent === undefined ? '' : `   other ${r.other_cpu_percent.toFixed(0)}%`;
    const d = r.detail as { p50_us?: number | null; p99_us?: number | null; naps?: number; max_nap_us?: number } | undefined;
    const lat = d?.p50_us != null ? `   p50 ${(d.p50_us / 1000).toFixed(2)} ms, p99 ${(d.p99_us! / 1000).toFixed(2)} ms, ${d.naps} naps (longest ${d.max_nap_us!.toFixed(0)} µs)` : '';
    log(`  ${label.padEnd(20)} ${rate.padStart(12)}   CPU ${cu} server ${((r.server_cpu_s * 1e6) / unit).toFixed(2)}, client ${((r.client_cpu_s * 1e6) / unit).toFixed(2)}   busy% ${((100 * r.server_cpu_s) / r.wall_s).toFixed(0)}/${((100 * r.client_cpu_s) / r.wall_s).toFixed(0)}${other}${lat}${r.busy ? '   [busy machine]' : ''}`);
  };

  let waitedNote = false;
  /* Waits (bounded) until no other benchmark program runs and the machine is
   * under 15% of a CPU busy; returns why it is not quiet when it gave up. */
  const waitQuiet = async (): Promise<string | null> => {
    const deadline = Date.now() + o.quietWait * 1000;
    for (;;) {
      const foreign = foreignBenchPrograms();
      const b0 = machineBusySeconds();
      await sleep(500);
      const cpus = (machineBusySeconds() - b0) / 0.5;
      if (foreign.length === 0 && cpus < 0.15) return null;
      const why = `machine not quiet: ${cpus.toFixed(2)} CPUs busy${foreign.length ? `; other benchmark programs: ${foreign.slice(0, 3).join('; ')}` : ''}`;
      if (Date.now() >= deadline) {
        log(`  warning: ${why}; measuring anyway (the run is marked busy)`);
        return why;
      }
      if (!waitedNote) log(`  waiting up to ${o.quietWait} s for a quiet machine (${why})`);
      waitedNote = true;
      await sleep(1000);
    }
  };
  const measured = async (label: string, fn: () => Promise<Run>, bulkRun = false): Promise<Run> => {
    const busy = await waitQuiet();
    waitedNote = false;
    const m0 = machineBusySeconds();
    const r = await fn();
    const m1 = machineBusySeconds();
    if (r.ok && r.wall_s > 0) r.other_cpu_percent = (100 * (m1 - m0 - r.server_cpu_s - r.client_cpu_s)) / r.wall_s;
    if (busy) r.busy = busy;
    say(label, r, bulkRun);
    return r;
  };

  let nginx: Nginx | null = null;
  let epoll: MuxServer | null = null;
  let iperf: IperfServer | null = null;
  let loadgenRequests = 0;
  const script = path.join(tmp, 'post.lua');
  fs.writeFileSync(script, wrkScript());
  const perRound = (http1 ? 3 : 0) + (http2 ? 3 : 0);
  const lifetime = 300 + o.rounds * (perRound * (o.seconds + 10)) + 4 * (o.seconds + 10) + (bulk ? o.rounds * 120 : 0);

  try {
    log(`anchors: ${o.rounds} rounds; server side on CPU ${SERVER_CPU}, client side on CPU ${CLIENT_CPU}; temp ${tmp}`);
    if (http1 || http2) {
      nginx = await startNginx(tmp, o.connections, lifetime);
      log(`${versionOf(['nginx', '-v']).replace(/^nginx version: /, '')}: master ${nginx.master}, worker ${nginx.worker}, 127.0.0.1:${nginx.port}`);
      await checkReply('nginx', nginx.port, '/', true);
      await checkReply('nginx /static', nginx.port, '/static', false);
      const url = `http://127.0.0.1:${nginx.port}/`;
      log('warm-up:');
      warmups['wrk>nginx'] = await measured('wrk > nginx', () => runWrk(script, url, o.connections, 2, nginx!.worker));
      if (http1) {
        const w = (warmups['loadgen>nginx'] = await measured('loadgen > nginx', () => runLoadgen(root, nginx!.port, o.connections, 50000, nginx!.worker)));
        if (!w.ok) throw new Error(`the load generator cannot drive nginx: ${w.error}`);
        loadgenRequests = Math.max(10000, Math.round((w.rate * o.seconds) / 1000) * 1000);
        log(`  load generator runs: ${loadgenRequests} requests (about ${o.seconds} s at the warm-up rate); wrk runs: ${o.seconds} s`);
      }
      if (http2) {
        epoll = await startEpollHttp(root);
        await checkReply('epoll server', epoll.port, '/', true);
        warmups['wrk>epoll'] = await measured('wrk > epoll', () => runWrk(script, `http://127.0.0.1:${epoll!.port}/`, o.connections, 2, epoll!.pid));
        warmups['wrk>nginx-static'] = await measured('wrk > nginx static', () => runWrk(script, `${url}static`, o.connections, 2, nginx!.worker));
      }
      for (let r = 1; r <= o.rounds; r++) {
        log(`round ${r}/${o.rounds} (HTTP):`);
        // The clients of one nginx take turns in a rotating order, so a drift of
        // the machine during a round does not always fall on the same one.
        const clients: [string, () => Promise<unknown>][] = [
          ['wrk>nginx', async () => add('wrk>nginx', await measured('wrk > nginx', () => runWrk(script, url, o.connections, o.seconds, nginx!.worker)))],
        ];
        if (http1) {
          clients.unshift(
            ['loadgen>nginx', async () => add('loadgen>nginx', await measured('loadgen > nginx', () => runLoadgen(root, nginx!.port, o.connections, loadgenRequests, nginx!.worker)))],
            ['loadgen-block>nginx', async () => add('loadgen-block>nginx', await measured('loadgen --wait block > nginx', () => runLoadgen(root, nginx!.port, o.connections, loadgenRequests, nginx!.worker, 'block')))],
          );
        }
        for (let i = 0; i < clients.length; i++) await clients[(i + r - 1) % clients.length][1]();
        if (http2 && epoll) {
          add('wrk>epoll', await measured('wrk > epoll', () => runWrk(script, `http://127.0.0.1:${epoll!.port}/`, o.connections, o.seconds, epoll!.pid)));
          add('wrk>nginx-static', await measured('wrk > nginx static', () => runWrk(script, `${url}static`, o.connections, o.seconds, nginx!.worker)));
        }
      }
      if (epoll) await stopMuxServer(epoll);
      epoll = null;
      await stopNginx(nginx);
      nginx = null;
    }
    if (bulk) {
      iperf = await startIperfServer(lifetime);
      log(`${versionOf(['iperf3', '-v'])}: server ${iperf.pid}, 127.0.0.1:${iperf.port}`);
      log('warm-up:');
      warmups['iperf3'] = await measured('iperf3 -R', () => runIperf(iperf!, o.bytes, '64K'), true);
      for (let r = 1; r <= o.rounds; r++) {
        log(`round ${r}/${o.rounds} (bulk, ${o.bytes}):`);
        // The harness run holds its own warm-up and node's start-up: no machine accounting, only the quiet gate.
        const busy = await waitQuiet();
        const pb = await runPeerBlock(root, path.join(tmp, `peer-block-${r}`), o.bytes, 1);
        for (const t of ['tcp', 'unix']) {
          if (busy) pb[t].busy = busy;
          say(`peer-block ${t}`, add(`peer-block-${t}`, pb[t]), true);
        }
        add('iperf3', await measured('iperf3 -R', () => runIperf(iperf!, o.bytes, '64K'), true));
      }
      await stopIperf(iperf);
      iperf = null;
    }
  } catch (err) {
    errors.push((err as Error).message);
    log(`anchors: ${(err as Error).message}`);
  } finally {
    if (epoll) await stopMuxServer(epoll);
    if (nginx) await stopNginx(nginx);
    if (iperf) await stopIperf(iperf);
  }

  const st: Record<string, SeriesStats> = {};
  const empty = stats([], 1);
  for (const spec of ROWS) for (const k of [spec.aSeries, spec.bSeries]) st[k] = series[k] ? stats(series[k], spec.bulk ? 2 ** 20 : 1) : empty;
  const wanted = (spec: RowSpec) => o.anchors.has(spec.anchor.replace(' (info)', ''));
  const rows = ROWS.filter(wanted).map((spec) => rowOf(spec, st));

  const table = renderTable(rows);
  process.stdout.write(`\n${table}\n\n`);
  process.stdout.write(
    'A/B is the ratio of the medians over the rounds. CPU: µs of CPU time per request (per MiB for bulk), server / client side,\n' +
      'medians over the rounds; busy%: CPU time over wall time, 100 = one core. Server side pinned to CPU 0, client side to CPU 1.\n',
  );
  const noisy = Object.entries(st).filter(([, s]) => s.rate !== null && s.rate_min !== null && s.rate_max !== null && (s.rate_max - s.rate_min) / s.rate > 0.15);
  if (noisy.length) process.stdout.write(`noisy (max-min over 15% of the median): ${noisy.map(([k, s]) => `${k} ${((100 * (s.rate_max! - s.rate_min!)) / s.rate!).toFixed(0)}%`).join(', ')}\n`);

  const busyRuns = Object.entries(series).flatMap(([k, rs]) => rs.filter((r) => r.busy).map(() => k));
  if (busyRuns.length) process.stdout.write(`measured on a busy machine (other programs competed for the CPUs): ${busyRuns.length} run(s): ${[...new Set(busyRuns)].join(', ')}\n`);
  const finished = new Date();
  const outFile = o.out ?? path.join(root, 'results', `anchors-${timestamp(started)}.json`);
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  const doc = {
    schema: 'muxbench-anchors',
    version: 1,
    started: started.toISOString(),
    finished: finished.toISOString(),
    status: errors.length ? 'failed' : 'ok',
    errors,
    command_line: process.argv.slice(1),
    options: { ...o, anchors: [...o.anchors], loadgen_requests: loadgenRequests, cpus: { server: SERVER_CPU, client: CLIENT_CPU } },
    environment: {
      kernel: os.release(),
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cpus: os.cpus().length,
      load_average_at_start: os.loadavg(),
      node: process.version,
      git_commit: git(['rev-parse', 'HEAD']),
      git_dirty: git(['status', '--porcelain']) !== '',
      wrk: versionOf(['wrk', '-v']),
      nginx: versionOf(['nginx', '-v']),
      iperf3: versionOf(['iperf3', '-v']),
    },
    request: { body: RPC_BODY, reply_body: RPC_REPLY },
    nginx_conf: fs.existsSync(path.join(tmp!, 'nginx.conf')) ? fs.readFileSync(path.join(tmp!, 'nginx.conf'), 'utf8') : null,
    wrk_script: wrkScript(),
    rows,
    table,
    series: st,
    runs: series,
    warmups,
  };
  fs.writeFileSync(outFile, JSON.stringify(doc, null, 2) + '\n');
  process.stdout.write(`results: ${path.relative(process.cwd(), outFile) || outFile}\n`);
  if (errors.length) process.stderr.write(`anchors: ${errors.length} run(s) failed:\n  ${errors.join('\n  ')}\n`);
  return errors.length ? 1 : 0;
}

main()
  .then(async (code) => {
    await cleanup();
    process.exitCode = code;
  })
  .catch(async (err) => {
    process.stderr.write(`anchors: ${(err as Error).stack ?? err}\n`);
    await cleanup();
    process.exitCode = 1;
  });
