import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeBuckets, latencyFromBuckets, median, mergeEncoded, numericLeaves, spread, summarize } from '../harness/stats.js';
import { measure, parseResult, parseSnapshot, ServerSnapshot, LoadgenResult, ProtocolMismatch } from '../harness/metrics.js';

test('median, spread', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
  assert.throws(() => median([]));
  // sd 10; rme = t(0.975, 2) x 10 / sqrt(3) / 20 x 100, t = 4.302652729911275.
  const sp = spread([10, 30, 20]);
  assert.deepEqual({ ...sp, rme_percent: null }, { median: 20, min: 10, max: 30, mean: 20, sd: 10, rme_percent: null });
  assert.ok(Math.abs(sp.rme_percent! - 124.2068855875) < 1e-6, String(sp.rme_percent));
  // One value: no spread to speak of.
  assert.deepEqual(spread([7]), { median: 7, min: 7, max: 7, mean: 7, sd: null, rme_percent: null });
});

test('latency buckets merge into percentiles in microseconds', () => {
  // 900 samples at 100 µs, 90 at 1 ms, 9 at 5 ms, 1 at 20 ms: 1000 in all.
  const l = latencyFromBuckets([
    [100_000, 500],
    [1_000_000, 90],
    [100_000, 400], // same value twice: counts add up
    [5_000_000, 9],
    [20_000_000, 1],
  ])!;
  assert.equal(l.count, 1000);
  const close = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) <= expected * 0.001, `${actual} vs ${expected}`);
  close(l.p50, 100);
  close(l.p90, 100);
  close(l.p99, 1000);
  close(l.p99_9, 5000);
  close(l.max, 20000);
  assert.equal(latencyFromBuckets([]), null);
  assert.equal(latencyFromBuckets([[5000, 0]]), null);
});

test('summarize: median/min/max per dotted metric, over the repetitions that have it', () => {
  assert.deepEqual(numericLeaves({ a: { b: 1, c: 'x', d: null, e: true }, f: 2 }), { 'a.b': 1, f: 2 });
  const s = summarize([
    { throughput: { ops_per_s: 100 }, syscalls: { read: 1 } },
    { throughput: { ops_per_s: 300 } },
    { throughput: { ops_per_s: 200 }, syscalls: { read: 5 } },
  ]);
  const pick = (x: { median: number; min: number; max: number; mean: number; sd: number | null }) => [x.median, x.min, x.max, x.mean, x.sd];
  assert.deepEqual(pick(s['throughput.ops_per_s']), [200, 100, 300, 200, 100]);
  assert.deepEqual(pick(s['syscalls.read']), [3, 1, 5, 3, Math.sqrt(8)]);
});

function snap(over: Partial<ServerSnapshot> & { read?: [number, number]; write?: [number, number]; writev?: [number, number]; ep?: number }): ServerSnapshot {
  const sc = (calls: number, bytes: number) => ({ calls, bytes, eagain: 0, errors: 0 });
  return {
    t_ns: 0,
    syscalls: {
      read: sc(...(over.read ?? [0, 0])),
      write: sc(...(over.write ?? [0, 0])),
      writev: sc(...(over.writev ?? [0, 0])),
      epoll_wait: sc(over.ep ?? 0, 0),
    },
    async_ops: {},
    wakeups: 0,
    events: 0,
    connections: { accepted: 10, closed: 0, open: 10 },
    protocol: { messages_in: 0, messages_out: 0, payload_bytes_out: 0, protocol_errors: 0, payload_bytes_in: 0, relayed: 0, relay_dropped: 0 },
    handoff: { workers: 0, jobs: 0, wakeups: 0 },
    rusage: { utime_us: 0, stime_us: 0, nvcsw: 0, nivcsw: 0, maxrss_kb: 1000 },
    rss_kb: 900,
    ...over,
    counting: over.counting ?? true,
  };
}

const result = (over: Partial<LoadgenResult> = {}): LoadgenResult => ({
  ok: true,
  ops: 1000,
  bytes_sent: 24000,
  bytes_received: 32000,
  payload_bytes: 0,
  verified_pieces: 1000,
  elapsed_ns: 500_000_000,
  latency: { unit: 'ns', count: 1000, buckets: [[50_000, 1000]] },
  cpu: { utime_us: 200_000, stime_us: 100_000, cpu_ns: 300_000_000, wall_ns: 500_000_000, threads: 1, cpus: 1, busiest_thread_ns: 300_000_000 },
  errors: [],
  ...over,
});

test('measure: per-op metrics are the diff of the two snapshots', () => {
  const a = snap({ t_ns: 1e9, read: [100, 5000], write: [50, 800], ep: 10, wakeups: 10, events: 20, rusage: { utime_us: 1000, stime_us: 2000, nvcsw: 5, nivcsw: 1, maxrss_kb: 1000 } });
  const b = snap({
    t_ns: 1.6e9,
    read: [1100, 29000],
    write: [550, 16800],
    writev: [500, 16000],
    ep: 1010,
    wakeups: 1010,
    events: 2020,
    rusage: { utime_us: 201_000, stime_us: 302_000, nvcsw: 15, nivcsw: 4, maxrss_kb: 1200 },
    rss_kb: 1100,
  });
  const m = measure(a, b, result());
  assert.deepEqual(m.problems, []);
  assert.equal(m.consistency.ok, true);
  assert.equal(m.consistency.server_read_bytes, 24000);
  assert.equal(m.consistency.server_written_bytes, 32000);
  const s = m.metrics.server;
  assert.equal(m.metrics.window_ns, 0.6e9);
  assert.equal(m.metrics.throughput.ops_per_s, 2000);
  assert.equal(s.cpu_user_us, 200_000);
  assert.equal(s.cpu_sys_us, 300_000);
  assert.equal(s.cpu_us_per_op, 500);
  assert.equal(s.syscalls.read.calls, 1000);
  assert.equal(s.syscalls.read.calls_per_op, 1);
  assert.equal(s.syscalls.read.bytes_per_call, 24);
  assert.equal(s.syscalls.writev.bytes_per_call, 32);
  assert.equal(s.syscalls.epoll_wait.bytes, undefined, 'no bytes for non-I/O kinds');
  assert.equal(s.syscalls_per_op, (1000 + 500 + 500 + 1000) / 1000);
  assert.equal(s.wakeups_per_op, 1);
  assert.equal(s.events_per_wakeup, 2);
  assert.equal(s.voluntary_context_switches, 10);
  assert.equal(s.involuntary_context_switches, 3);
  assert.equal(s.maxrss_kb, 1200);
  assert.equal(s.rss_kb, 1100);
  assert.equal(m.metrics.client.cpu_percent, 60);
  assert.equal(m.client_bound, false);
  // HDR reports the highest value equivalent to 50 µs at 3 significant digits.
  assert.ok(Math.abs(m.metrics.latency_us!.p50 - 50) <= 0.05, String(m.metrics.latency_us!.p50));
});

test('measure: byte mismatches, client failure and a saturated client are reported', () => {
  const a = snap({});
  const b = snap({ read: [10, 23999], write: [10, 32000] });
  const m = measure(a, b, result({ cpu: { utime_us: 400_000, stime_us: 60_000, cpu_ns: 460_000_000, wall_ns: 500_000_000, threads: 1, cpus: 1, busiest_thread_ns: 460_000_000 } }));
  assert.equal(m.consistency.ok, false);
  assert.match(m.problems.join('\n'), /server read 23999 bytes in the window but the client sent 24000/);
  assert.equal(m.client_bound, true, '92% of the window on the client CPU');
  assert.equal(m.metrics.client.cpu_us_per_op, 460, '460 ms of client CPU over 1000 ops');
  // Threads: busy is judged against the CPUs the threads could use at once.
  const two = (cpu_ns: number, cpus: number, busiest = cpu_ns / 2) =>
    measure(a, snap({ read: [10, 24000], write: [10, 32000] }), result({ cpu: { utime_us: 0, stime_us: 0, cpu_ns, wall_ns: 500_000_000, threads: 2, cpus, busiest_thread_ns: busiest } }));
  assert.equal(two(800_000_000, 2).metrics.client.busy_percent, 80, '160% of one core over two CPUs');
  assert.equal(two(800_000_000, 2).client_bound, false);
  assert.equal(two(475_000_000, 1).metrics.client.busy_percent, 95, 'two threads on one CPU: that CPU is the limit');
  assert.equal(two(475_000_000, 1).client_bound, true);
  assert.equal(two(475_000_000, 1).metrics.client.threads, 2);
  // One saturated thread next to an idle one: 95% + 5% over two CPUs is 50% in all, but that thread is the limit.
  const lopsided = two(500_000_000, 2, 475_000_000);
  assert.equal(lopsided.metrics.client.busiest_thread_percent, 95);
  assert.equal(lopsided.metrics.client.busy_percent, 95);
  assert.equal(lopsided.client_bound, true);
  const m2 = measure(a, snap({ read: [10, 24000], write: [10, 31000] }), result({ ok: false, errors: ['connection 3 reset'] }));
  assert.deepEqual(m2.problems, ['load generator reported failure: connection 3 reset'], 'in-flight bytes of a failed run are no second error');
  assert.equal(m2.consistency.ok, false, 'but the mismatch is still recorded');
  const m3 = measure(a, snap({ read: [10, 24000], write: [10, 31000] }), result());
  assert.match(m3.problems.join('\n'), /server wrote 31000 bytes in the window but the client received 32000/);
});

test('async operations (io_uring) count toward byte totals but not syscalls per op', () => {
  const io = (calls: number, recv: number, send: number) => ({ recv: { calls, bytes: recv, eagain: 0, errors: 0 }, send: { calls, bytes: send, eagain: 0, errors: 0 } });
  const a = snap({ async_ops: io(0, 0, 0) });
  const b = snap({ async_ops: io(1000, 24000, 32000), syscalls: { io_uring_enter: { calls: 500, bytes: 0, eagain: 0, errors: 0 } } });
  const m = measure(a, { ...b, t_ns: 1e9 }, result());
  assert.equal(m.consistency.ok, true, JSON.stringify(m.consistency));
  assert.equal(m.metrics.server.syscalls_per_op, 0.5, 'only io_uring_enter is a syscall');
  assert.equal(m.metrics.server.async_ops.recv.calls_per_op, 1);
  assert.equal(m.metrics.server.async_ops.send.bytes_per_call, 32);
});

test('parseSnapshot / parseResult name the field that drifts from the protocol', () => {
  const good = { event: 'snapshot', ...snap({}) };
  assert.equal(parseSnapshot(good).connections.open, 10);
  const { rusage: _r, ...noRusage } = good;
  assert.throws(() => parseSnapshot(noRusage as never), (e: Error) => e instanceof ProtocolMismatch && /field rusage is missing/.test(e.message));
  assert.throws(() => parseSnapshot({ ...good, syscalls: { read: { calls: 1, bytes: '2', eagain: 0, errors: 0 } } }), /field syscalls\.read\.bytes is not a number \("2"\)/);
  const r = { event: 'result', ...result() };
  assert.equal(parseResult(r).ops, 1000);
  assert.throws(() => parseResult({ ...r, latency: { unit: 'us', count: 0, buckets: [] } }), /latency\.unit is "us", expected "ns"/);
  assert.throws(() => parseResult({ ...r, latency: { unit: 'ns', count: 0, buckets: [[1]] } }), /latency\.buckets/);
  assert.throws(() => parseResult({ ...r, elapsed_ns: undefined }), /field elapsed_ns is missing/);
});

test('measure: server counters the scenario names must equal the client figures; hand-off workers and jobs are checked; rate is reported', () => {
  const proto = (relayed: number, bytesIn: number, messagesIn = 0) => ({ messages_in: messagesIn, messages_out: 0, payload_bytes_out: 0, protocol_errors: 0, payload_bytes_in: bytesIn, relayed, relay_dropped: 0 });
  const io = { read: [10, 24000] as [number, number], write: [10, 32000] as [number, number] };
  const a = snap({ protocol: proto(0, 0), handoff: { workers: 4, jobs: 100, wakeups: 10 } });
  const b = snap({ ...io, protocol: proto(1000, 0, 1000), handoff: { workers: 4, jobs: 1100, wakeups: 260 } });
  const relay = { agrees: { relayed: 'ops' as const } };
  const ok = measure(a, b, result(), { ...relay, handoff: 4 });
  assert.deepEqual(ok.problems, []);
  assert.deepEqual(ok.metrics.server.handoff, { workers: 4, jobs: 1000, wakeups: 250, wakeups_per_job: 0.25 });
  const short = measure(a, snap({ ...io, protocol: proto(999, 0) }), result(), relay);
  assert.match(short.problems.join(), /server relayed was 999 in the window, expected the client's ops \(1000\)/);
  // A server that does not relay at all fails too (0 is not "not reported").
  assert.match(measure(a, snap({ ...io, protocol: proto(0, 0) }), result(), relay).problems.join(), /server relayed was 0/);
  const upload = measure(a, snap({ ...io, protocol: proto(0, 4096) }), result({ payload_bytes: 8192 }), { agrees: { payload_bytes_in: 'payload' } });
  assert.match(upload.problems.join(), /server payload_bytes_in was 4096 in the window, expected the client's payload \(8192\)/);
  // Hand-off: the server must run the workers it was asked for, and hand them every request.
  assert.match(measure(a, b, result(), { handoff: 2 }).problems.join(), /4 hand-off workers, expected 2/);
  const skipped = snap({ ...io, protocol: proto(0, 0, 1000), handoff: { workers: 4, jobs: 600, wakeups: 200 } });
  assert.match(measure(a, skipped, result(), { handoff: 4 }).problems.join(), /handed 500 requests to its workers but parsed 1000/);
  const open = measure(a, b, result({ rate: { target_per_s: 2000, achieved_per_s: 1999.5, late_sends: 3, max_send_lag_ns: 1_500_000 } }));
  assert.deepEqual(open.metrics.rate, { target_per_s: 2000, achieved_per_s: 1999.5, late_sends: 3, max_send_lag_us: 1500 });
});

test('latency histograms are stored encoded and merge across repetitions', () => {
  const a: [number, number][] = [[1000, 50]];
  const b: [number, number][] = [[3000, 50]];
  const ea = encodeBuckets(a);
  assert.equal(typeof ea, 'string');
  assert.deepEqual(mergeEncoded([ea]), latencyFromBuckets(a));
  const both = mergeEncoded([ea, encodeBuckets(b), null])!;
  assert.equal(both.count, 100);
  assert.ok(Math.abs(both.p50 - 1) < 0.01, `p50 ${both.p50}`);
  assert.ok(Math.abs(both.p99 - 3) < 0.01 && Math.abs(both.max - 3) < 0.01, `p99 ${both.p99} max ${both.max}`);
  assert.equal(encodeBuckets([]), null);
  assert.equal(mergeEncoded([]), null);
});

test('measure: per-operation CPU split, context switches per operation, memory per connection', () => {
  const a = snap({ rusage: { utime_us: 1000, stime_us: 2000, nvcsw: 10, nivcsw: 1, maxrss_kb: 1000 } });
  const b = snap({ read: [10, 24000], write: [10, 32000], rusage: { utime_us: 4000, stime_us: 8000, nvcsw: 510, nivcsw: 101, maxrss_kb: 1400 }, rss_kb: 1900 });
  const base = snap({ rss_kb: 900 });
  const m = measure(a, b, result(), { baseline: base, connections: 10 }).metrics;
  // 1000 operations: 3000 µs user, 6000 µs system, 500 voluntary and 100 involuntary switches.
  assert.equal(m.server.cpu_user_us_per_op, 3);
  assert.equal(m.server.cpu_sys_us_per_op, 6);
  assert.equal(m.server.cpu_us_per_op, 9);
  assert.equal(m.server.voluntary_context_switches_per_op, 0.5);
  assert.equal(m.server.involuntary_context_switches_per_op, 0.1);
  assert.equal(m.server.rss_kb_per_connection, 100); // (1900 - 900) / 10
  assert.equal(measure(a, b, result()).metrics.server.rss_kb_per_connection, undefined);
});

test('environment warnings: one CPU, a governor other than performance, load at the start', async () => {
  const { environmentWarnings } = await import('../harness/environment.js');
  const base = { kernel: 'k', arch: 'x64', cpu_model: null, cpu_count: 2, cpu_governor: null, node: 'v20', compiler: null, libraries: {}, git: null, load_at_start: 0.1 };
  assert.deepEqual(environmentWarnings(base), []);
  assert.deepEqual(environmentWarnings({ ...base, cpu_governor: 'performance' }), []);
  assert.deepEqual(environmentWarnings({ ...base, load_at_start: 0.7 }), [], 'the tail of a run that just ended is not other load');
  const w = environmentWarnings({ ...base, cpu_count: 1, cpu_governor: 'powersave', load_at_start: 1.5 });
  assert.equal(w.length, 3);
  assert.match(w[0], /only 1 CPU/);
  assert.match(w[1], /governor is "powersave"/);
  assert.match(w[2], /load average 1\.50 on 1 CPUs/);
});

test('measure: a server that does not count (--no-counters) is not held to the byte checks', () => {
  const m = measure(snap({ counting: false }), snap({ counting: false }), result(), { counted: false });
  assert.deepEqual(m.problems, []);
  assert.equal(m.consistency.ok, null);
  assert.equal(m.metrics.server.syscalls_per_op, 0);
});
