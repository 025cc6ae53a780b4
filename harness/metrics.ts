/* From two server snapshots around the measured window and the load
 * generator's result to the metrics of one repetition (DESIGN.md §7).
 *
 * The events are checked field by field when read: a native program that
 * drifts from docs/control-channel.md should fail a cell with the field named,
 * not produce NaN in a report. */
import { ChannelEvent } from './jsonlines.js';
import { latencyFromBuckets, LatencyUs } from './stats.js';

export interface SyscallCounter {
  calls: number;
  bytes: number;
  eagain: number;
  errors: number;
}

export interface ServerSnapshot {
  t_ns: number;
  syscalls: Record<string, SyscallCounter>;
  /* Receives/sends a completion mechanism performed in the kernel (not syscalls). */
  async_ops: Record<string, SyscallCounter>;
  wakeups: number;
  events: number;
  connections: { accepted: number; closed: number; open: number };
  /* Servers with several loops: the connections each loop holds. */
  loop_connections?: number[];
  protocol: {
    messages_in: number;
    messages_out: number;
    payload_bytes_out: number;
    protocol_errors: number;
    payload_bytes_in: number;
    relayed: number;
    relay_dropped: number;
  };
  handoff: { workers: number; jobs: number; wakeups: number };
  rusage: { utime_us: number; stime_us: number; nvcsw: number; nivcsw: number; maxrss_kb: number };
  rss_kb: number;
  /* false under --no-counters: syscall counters stay at zero. */
  counting: boolean;
}

export interface LoadgenResult {
  ok: boolean;
  ops: number;
  bytes_sent: number;
  bytes_received: number;
  payload_bytes: number;
  verified_pieces: number;
  elapsed_ns: number;
  latency: { unit: string; count: number; buckets: [number, number][] };
  /* threads: the load generator's loops; cpus: CPUs it was allowed to run on (both 1 when not reported);
   * busiest_thread_ns: CPU time of its busiest thread (cpu_ns when not reported). */
  cpu: { utime_us: number; stime_us: number; cpu_ns: number; wall_ns: number; threads: number; cpus: number; busiest_thread_ns: number };
  errors: string[];
  /* How the load generator waited for events (see loadgen/conn.c wait_events); absent from older load generators. */
  waits?: { blocking: number; naps: number; nap_ns: number; max_nap_ns: number; late_naps: number };
  /* Open-loop runs (--rate): the schedule and how well it was kept. */
  rate?: { target_per_s: number; achieved_per_s: number; late_sends: number; max_send_lag_ns: number };
}

export class ProtocolMismatch extends Error {
  constructor(what: string, field: string, problem: string) {
    super(`${what}: field ${field} ${problem} (see docs/control-channel.md)`);
    this.name = 'ProtocolMismatch';
  }
}

function num(obj: Record<string, unknown>, key: string, what: string, at: string): number {
  const v = obj[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ProtocolMismatch(what, `${at}${key}`, `is ${v === undefined ? 'missing' : `not a number (${JSON.stringify(v)})`}`);
  return v;
}

function obj(parent: Record<string, unknown>, key: string, what: string, at = ''): Record<string, unknown> {
  const v = parent[key];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ProtocolMismatch(what, `${at}${key}`, 'is missing or not an object');
  return v as Record<string, unknown>;
}

function nums<K extends string>(o: Record<string, unknown>, keys: readonly K[], what: string, at: string): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const k of keys) out[k] = num(o, k, what, at);
  return out;
}

/* Fields a program may leave out (then 0); present, they must be numbers. */
function optionalNums<K extends string>(o: Record<string, unknown>, keys: readonly K[], what: string, at: string): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const k of keys) out[k] = o[k] === undefined ? 0 : num(o, k, what, at);
  return out;
}

function counterGroup(e: ChannelEvent, field: string, what: string): Record<string, SyscallCounter> {
  const group = obj(e, field, what);
  const out: Record<string, SyscallCounter> = {};
  for (const kind of Object.keys(group)) {
    out[kind] = nums(obj(group, kind, what, `${field}.`), ['calls', 'bytes', 'eagain', 'errors'] as const, what, `${field}.${kind}.`);
  }
  return out;
}

export function parseSnapshot(e: ChannelEvent, what = 'server snapshot'): ServerSnapshot {
  return {
    t_ns: num(e, 't_ns', what, ''),
    syscalls: counterGroup(e, 'syscalls', what),
    async_ops: e.async_ops === undefined ? {} : counterGroup(e, 'async_ops', what),
    wakeups: num(e, 'wakeups', what, ''),
    events: num(e, 'events', what, ''),
    connections: nums(obj(e, 'connections', what), ['accepted', 'closed', 'open'] as const, what, 'connections.'),
    ...(Array.isArray(e.loop_connections) && e.loop_connections.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)
      ? { loop_connections: e.loop_connections as number[] }
      : {}),
    protocol: {
      ...nums(obj(e, 'protocol', what), ['messages_in', 'messages_out', 'payload_bytes_out', 'protocol_errors'] as const, what, 'protocol.'),
      // Added with relay and upload; a server that predates them reports neither.
      ...optionalNums(obj(e, 'protocol', what), ['payload_bytes_in', 'relayed', 'relay_dropped'] as const, what, 'protocol.'),
    },
    handoff: optionalNums(e.handoff === undefined ? {} : obj(e, 'handoff', what), ['workers', 'jobs', 'wakeups'] as const, what, 'handoff.'),
    rusage: nums(obj(e, 'rusage', what), ['utime_us', 'stime_us', 'nvcsw', 'nivcsw', 'maxrss_kb'] as const, what, 'rusage.'),
    rss_kb: num(e, 'rss_kb', what, ''),
    counting: e.counting !== false,
  };
}

export function parseResult(e: ChannelEvent, what = 'load generator result'): LoadgenResult {
  if (typeof e.ok !== 'boolean') throw new ProtocolMismatch(what, 'ok', 'is missing or not a boolean');
  const lat = obj(e, 'latency', what);
  if (lat.unit !== 'ns') throw new ProtocolMismatch(what, 'latency.unit', `is ${JSON.stringify(lat.unit)}, expected "ns"`);
  const buckets = lat.buckets;
  if (!Array.isArray(buckets) || !buckets.every((b) => Array.isArray(b) && b.length === 2 && b.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0))) {
    throw new ProtocolMismatch(what, 'latency.buckets', 'must be an array of [value_ns, count] pairs');
  }
  const errors = e.errors === undefined ? [] : e.errors;
  if (!Array.isArray(errors)) throw new ProtocolMismatch(what, 'errors', 'must be an array');
  return {
    ok: e.ok,
    ...nums(e, ['ops', 'bytes_sent', 'bytes_received', 'payload_bytes', 'verified_pieces', 'elapsed_ns'] as const, what, ''),
    latency: { unit: 'ns', count: num(lat, 'count', what, 'latency.'), buckets: buckets as [number, number][] },
    cpu: loadgenCpu(obj(e, 'cpu', what), what),
    errors: errors.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))),
    ...(e.waits === undefined ? {} : { waits: nums(obj(e, 'waits', what), ['blocking', 'naps', 'nap_ns', 'max_nap_ns', 'late_naps'] as const, what, 'waits.') }),
    ...(e.rate === undefined
      ? {}
      : { rate: nums(obj(e, 'rate', what), ['target_per_s', 'achieved_per_s', 'late_sends', 'max_send_lag_ns'] as const, what, 'rate.') }),
  };
}

function loadgenCpu(cpu: Record<string, unknown>, what: string): LoadgenResult['cpu'] {
  const n = nums(cpu, ['utime_us', 'stime_us', 'cpu_ns', 'wall_ns'] as const, what, 'cpu.');
  const count = (k: 'threads' | 'cpus') => {
    if (cpu[k] === undefined) return 1;
    const v = cpu[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ProtocolMismatch(what, `cpu.${k}`, 'must be a positive integer');
    return v;
  };
  const busiest = cpu.busiest_thread_ns === undefined ? n.cpu_ns : num(cpu, 'busiest_thread_ns', what, 'cpu.');
  return { ...n, threads: count('threads'), cpus: count('cpus'), busiest_thread_ns: busiest };
}

/* Syscall kinds that move data in or out, by name, so a strategy may add
 * kinds (recvmsg, sendmsg, ...) without a harness change. */
export const isReadKind = (kind: string) => /^(read|recv)/.test(kind);
export const isWriteKind = (kind: string) => /^(write|send)/.test(kind);

export interface SyscallMetrics {
  calls: number;
  calls_per_op: number;
  eagain: number;
  errors: number;
  bytes?: number;
  bytes_per_call?: number;
}

export interface RepetitionMetrics {
  elapsed_ns: number;
  /* Server clock between the two snapshots; includes the go/result round trips. */
  window_ns: number;
  ops: number;
  bytes: { sent: number; received: number; payload: number };
  throughput: { ops_per_s: number; payload_bytes_per_s: number };
  latency_us: LatencyUs | null;
  server: {
    cpu_user_us: number;
    cpu_sys_us: number;
    cpu_us_per_op: number;
    cpu_user_us_per_op: number;
    cpu_sys_us_per_op: number;
    /* Busy share of one CPU over the server's window (100 = one core saturated). */
    cpu_percent: number;
    syscalls_per_op: number;
    syscalls: Record<string, SyscallMetrics>;
    /* Receives/sends performed in the kernel by a completion mechanism (io_uring): not syscalls. */
    async_ops: Record<string, SyscallMetrics>;
    wakeups: number;
    wakeups_per_op: number;
    events_per_wakeup: number;
    voluntary_context_switches: number;
    involuntary_context_switches: number;
    voluntary_context_switches_per_op: number;
    involuntary_context_switches_per_op: number;
    rss_kb: number;
    maxrss_kb: number;
    /* (RSS at the end of the window - RSS before any connection) / connections; absent without a baseline. */
    rss_kb_per_connection?: number;
    messages_in: number;
    messages_out: number;
    /* Payload bytes the server queued (block payloads, HTTP bodies): should equal the client's verified payload in bulk cells. */
    payload_bytes_out: number;
    protocol_errors: number;
    /* Uploaded block bytes the server verified (peer-upload). */
    payload_bytes_in: number;
    /* Relayed copies queued to other peers (peer-relay), and copies dropped for peers that were not reading. */
    relayed: number;
    relay_dropped: number;
    /* Hand-off: worker threads, requests they answered, wake-ups they sent the loop. */
    handoff: { workers: number; jobs: number; wakeups: number; wakeups_per_job: number };
  };
  /* cpu_percent: CPU time / window (100 = one core; more with threads);
   * busy_percent: what client-bound is judged on -- the larger of the CPU
   * time over the CPUs its threads could use at once (min(threads, allowed
   * CPUs)) and the busiest thread's share (one saturated thread limits
   * its connections however idle the others are). */
  client: {
    cpu_user_us: number;
    cpu_sys_us: number;
    cpu_us_per_op: number;
    cpu_percent: number;
    busy_percent: number;
    threads: number;
    /* CPUs the load generator was allowed to run on. */
    cpus: number;
    busiest_thread_percent: number;
    verified_pieces: number;
    /* epoll waits that could sleep, and naps between polls (adaptive wait), per operation;
     * the naps' share of the window and the longest nap measured. */
    blocking_waits_per_op?: number;
    naps_per_op?: number;
    nap_percent?: number;
    max_nap_us?: number;
    /* Naps that ended over 100 µs later than asked, in all (the timer woke late). */
    late_naps?: number;
    naps?: number;
  };
  /* Open loop only: requested and achieved rates, sends made late by a slow server. */
  rate?: { target_per_s: number; achieved_per_s: number; late_sends: number; max_send_lag_us: number };
}

export interface Consistency {
  server_read_bytes: number;
  client_bytes_sent: number;
  server_written_bytes: number;
  client_bytes_received: number;
  /* null when the server did not count (--no-counters): nothing to compare. */
  ok: boolean | null;
}

export interface Measurement {
  metrics: RepetitionMetrics;
  consistency: Consistency;
  client_bound: boolean;
  /* Reasons the repetition is not valid (empty when it is). */
  problems: string[];
}

/* A client this busy (percent of the CPUs its threads could use) during the window is the bottleneck. */
export const CLIENT_BOUND_PERCENT = 90;

const per = (a: number, b: number) => (b > 0 ? a / b : 0);

/* What a cell's server must have done besides moving the client's bytes:
 * server counters that must equal a client figure (from the scenario file's
 * "server_agrees", e.g. relayed copies = operations), and the hand-off
 * workers it was started with. */
export interface Expectations {
  agrees?: Record<string, 'ops' | 'payload'>;
  handoff?: number;
  /* false when the server was started with --no-counters: its byte counters stay at zero. */
  counted?: boolean;
  /* The server before any connection (for memory per connection), and how many there are. */
  baseline?: ServerSnapshot;
  connections?: number;
}

export function measure(a: ServerSnapshot, b: ServerSnapshot, r: LoadgenResult, expect: Expectations = {}): Measurement {
  const ops = r.ops;
  let readBytes = 0;
  let writtenBytes = 0;
  /* Per-kind differences over the window; I/O kinds add to the byte totals. */
  const diff = (after: Record<string, SyscallCounter>, before: Record<string, SyscallCounter>) => {
    const out: Record<string, SyscallMetrics> = {};
    let calls = 0;
    for (const kind of Object.keys(after)) {
      const b0 = before[kind] ?? { calls: 0, bytes: 0, eagain: 0, errors: 0 };
      const b1 = after[kind];
      const m: SyscallMetrics = { calls: b1.calls - b0.calls, calls_per_op: per(b1.calls - b0.calls, ops), eagain: b1.eagain - b0.eagain, errors: b1.errors - b0.errors };
      if (isReadKind(kind) || isWriteKind(kind)) {
        const bytes = b1.bytes - b0.bytes;
        m.bytes = bytes;
        m.bytes_per_call = per(bytes, m.calls);
        if (isReadKind(kind)) readBytes += bytes;
        else writtenBytes += bytes;
      }
      calls += m.calls;
      // Kinds never called in the window are noise in the results.
      if (m.calls > 0 || m.errors > 0) out[kind] = m;
    }
    return { out, calls };
  };
  const sys = diff(b.syscalls, a.syscalls);
  const asyncOps = diff(b.async_ops, a.async_ops);
  const syscalls = sys.out;
  const totalCalls = sys.calls;
  const utime = b.rusage.utime_us - a.rusage.utime_us;
  const stime = b.rusage.stime_us - a.rusage.stime_us;
  const wakeups = b.wakeups - a.wakeups;
  const seconds = r.elapsed_ns / 1e9;
  // Exact CPU time over the interval it was measured on (see docs/control-channel.md).
  const clientCpuPercent = per(r.cpu.cpu_ns, r.cpu.wall_ns) * 100;
  const busiestThreadPercent = per(r.cpu.busiest_thread_ns, r.cpu.wall_ns) * 100;
  const clientBusyPercent = Math.max(clientCpuPercent / Math.max(1, Math.min(r.cpu.threads, r.cpu.cpus)), busiestThreadPercent);

  const metrics: RepetitionMetrics = {
    elapsed_ns: r.elapsed_ns,
    window_ns: b.t_ns - a.t_ns,
    ops,
    bytes: { sent: r.bytes_sent, received: r.bytes_received, payload: r.payload_bytes },
    throughput: { ops_per_s: per(ops, seconds), payload_bytes_per_s: per(r.payload_bytes, seconds) },
    latency_us: latencyFromBuckets(r.latency.buckets),
    server: {
      cpu_user_us: utime,
      cpu_sys_us: stime,
      cpu_us_per_op: per(utime + stime, ops),
      cpu_user_us_per_op: per(utime, ops),
      cpu_sys_us_per_op: per(stime, ops),
      cpu_percent: per((utime + stime) * 1000, b.t_ns - a.t_ns) * 100,
      syscalls_per_op: per(totalCalls, ops),
      syscalls,
      async_ops: asyncOps.out,
      wakeups,
      wakeups_per_op: per(wakeups, ops),
      events_per_wakeup: per(b.events - a.events, wakeups),
      voluntary_context_switches: b.rusage.nvcsw - a.rusage.nvcsw,
      involuntary_context_switches: b.rusage.nivcsw - a.rusage.nivcsw,
      voluntary_context_switches_per_op: per(b.rusage.nvcsw - a.rusage.nvcsw, ops),
      involuntary_context_switches_per_op: per(b.rusage.nivcsw - a.rusage.nivcsw, ops),
      rss_kb: b.rss_kb,
      maxrss_kb: b.rusage.maxrss_kb,
      messages_in: b.protocol.messages_in - a.protocol.messages_in,
      messages_out: b.protocol.messages_out - a.protocol.messages_out,
      payload_bytes_out: b.protocol.payload_bytes_out - a.protocol.payload_bytes_out,
      protocol_errors: b.protocol.protocol_errors - a.protocol.protocol_errors,
      payload_bytes_in: b.protocol.payload_bytes_in - a.protocol.payload_bytes_in,
      relayed: b.protocol.relayed - a.protocol.relayed,
      relay_dropped: b.protocol.relay_dropped - a.protocol.relay_dropped,
      handoff: {
        workers: b.handoff.workers,
        jobs: b.handoff.jobs - a.handoff.jobs,
        wakeups: b.handoff.wakeups - a.handoff.wakeups,
        wakeups_per_job: per(b.handoff.wakeups - a.handoff.wakeups, b.handoff.jobs - a.handoff.jobs),
      },
    },
    client: {
      cpu_user_us: r.cpu.utime_us,
      cpu_sys_us: r.cpu.stime_us,
      cpu_us_per_op: per(r.cpu.cpu_ns / 1000, ops),
      cpu_percent: clientCpuPercent,
      busy_percent: clientBusyPercent,
      threads: r.cpu.threads,
      cpus: r.cpu.cpus,
      busiest_thread_percent: busiestThreadPercent,
      verified_pieces: r.verified_pieces,
    },
  };
  if (expect.baseline && expect.connections) {
    metrics.server.rss_kb_per_connection = (b.rss_kb - expect.baseline.rss_kb) / expect.connections;
  }
  if (r.waits) {
    metrics.client.blocking_waits_per_op = per(r.waits.blocking, ops);
    metrics.client.naps_per_op = per(r.waits.naps, ops);
    metrics.client.nap_percent = per(r.waits.nap_ns, r.cpu.wall_ns * Math.max(1, r.cpu.threads)) * 100;
    metrics.client.max_nap_us = r.waits.max_nap_ns / 1000;
    metrics.client.naps = r.waits.naps;
    metrics.client.late_naps = r.waits.late_naps;
  }
  if (r.rate) {
    metrics.rate = { target_per_s: r.rate.target_per_s, achieved_per_s: r.rate.achieved_per_s, late_sends: r.rate.late_sends, max_send_lag_us: r.rate.max_send_lag_ns / 1000 };
  }

  // What the client sent is exactly what the server read in the window, and
  // the other way round: anything else means lost, duplicated or uncounted I/O.
  const consistency: Consistency = {
    server_read_bytes: readBytes,
    client_bytes_sent: r.bytes_sent,
    server_written_bytes: writtenBytes,
    client_bytes_received: r.bytes_received,
    ok: expect.counted !== false ? readBytes === r.bytes_sent && writtenBytes === r.bytes_received : null,
  };

  const problems: string[] = [];
  if (!r.ok) {
    // A failed run leaves bytes in flight, so the byte counts cannot match;
    // the load generator's reason is the one worth reading.
    problems.push(`load generator reported failure: ${r.errors.join('; ') || '(no reason given)'}`);
  } else if (expect.counted !== false) {
    if (readBytes !== r.bytes_sent) problems.push(`server read ${readBytes} bytes in the window but the client sent ${r.bytes_sent}`);
    if (writtenBytes !== r.bytes_received) problems.push(`server wrote ${writtenBytes} bytes in the window but the client received ${r.bytes_received}`);
  }
  if (metrics.server.protocol_errors > 0) problems.push(`server counted ${metrics.server.protocol_errors} protocol errors`);
  if (r.ok) {
    // The server's own account must agree with what the client verified.
    const server = metrics.server as unknown as Record<string, number>;
    for (const [counter, client] of Object.entries(expect.agrees ?? {})) {
      const want = client === 'ops' ? ops : r.payload_bytes;
      if (server[counter] !== want) problems.push(`server ${counter} was ${server[counter]} in the window, expected the client's ${client} (${want})`);
    }
    const h = metrics.server.handoff;
    if (expect.handoff) {
      if (h.workers !== expect.handoff) problems.push(`server reports ${h.workers} hand-off workers, expected ${expect.handoff}`);
      else if (h.jobs !== metrics.server.messages_in) problems.push(`server handed ${h.jobs} requests to its workers but parsed ${metrics.server.messages_in}`);
    }
  }
  if (ops <= 0 && r.ok) problems.push('load generator reported 0 operations');

  return { metrics, consistency, client_bound: clientBusyPercent >= CLIENT_BOUND_PERCENT, problems };
}
