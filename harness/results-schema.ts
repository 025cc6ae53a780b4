/* The JSON Schema of results.json (version RESULTS_VERSION) and the check
 * every reader runs before it trusts a file: a results file may be
 * truncated by a full disk, hand-edited, or written by another version of
 * muxbench, and a report built on a wrong type would be quietly wrong.
 *
 * Ajv compiles the schema once. The schema is written by hand next to the
 * TypeScript types in results.ts (a generator would follow the types but
 * could not say what a reader relies on: which fields are required, which
 * numbers are counts, what may be null). Readers get every metric as a
 * tree of numbers, so a new metric does not need a schema change. */
import { Ajv, type ErrorObject } from 'ajv';

export const RESULTS_SCHEMA = 'muxbench-results';
/* 2: cpus are lists (several CPUs per side), client_params added. */
export const RESULTS_VERSION = 2;

const str = { type: 'string' } as const;
const num = { type: 'number' } as const;
const count = { type: 'integer', minimum: 0 } as const;
const strings = { type: 'array', items: str } as const;
const nullable = (s: object) => ({ anyOf: [s, { type: 'null' }] });
const object = (properties: Record<string, object>, required: string[] = Object.keys(properties)) => ({
  type: 'object',
  properties,
  required,
});

const latency = object({ count, p50: num, p90: num, p99: num, p99_9: num, max: num });

/* Metrics: nested objects whose leaves are numbers (null where a ratio had
 * no denominator), with the fields every reader uses required. */
const numberTree = {
  $id: 'numberTree',
  type: 'object',
  additionalProperties: { anyOf: [num, { type: 'null' }, { $ref: 'numberTree' }] },
};

const metrics = {
  allOf: [
    { $ref: 'numberTree' },
    object(
      {
        elapsed_ns: num,
        ops: count,
        throughput: object({ ops_per_s: num, payload_bytes_per_s: num }),
        latency_us: nullable(latency),
        server: object({ cpu_us_per_op: num, cpu_percent: num }, ['cpu_us_per_op', 'cpu_percent']),
        client: object({ cpu_percent: num }, ['cpu_percent']),
      },
      ['elapsed_ns', 'ops', 'throughput', 'server', 'client'],
    ),
  ],
};

const repetition = object(
  {
    rep: { type: 'integer' },
    status: { enum: ['ok', 'failed'] },
    error: str,
    wall_s: num,
    metrics,
    latency_hdr: nullable(str),
    consistency: object(
      { server_read_bytes: num, client_bytes_sent: num, server_written_bytes: num, client_bytes_received: num, ok: nullable({ type: 'boolean' }) },
    ),
    client_bound: { type: 'boolean' },
    client_errors: strings,
    connect_ns: num,
    warnings: strings,
    logs: object({ server: str, loadgen: str }),
    server_threads: object({ model: str, loop_threads: count, cpus: nullable({ type: 'array', items: count }), connections: { type: 'array', items: count } }, ['model', 'loop_threads', 'cpus']),
  },
  ['rep', 'status', 'wall_s', 'logs'],
);

const profileSummary = object({
  samples: count,
  cpu_ms: nullable(num),
  kernel_frames: { type: 'boolean' },
  kernel_percent: num,
  user_percent: num,
  mux_percent: num,
  mux_calls: { type: 'array', items: object({ call: str, percent: num }) },
  top_self: { type: 'array', items: object({ frame: str, percent: num }) },
}, ['samples', 'cpu_ms', 'kernel_percent', 'user_percent', 'mux_percent', 'mux_calls', 'top_self']);

const profile = object(
  {
    profiler: str,
    settings: str,
    status: { enum: ['ok', 'failed'] },
    error: str,
    files: { type: 'object', additionalProperties: str },
    summary: profileSummary,
    window: { enum: ['measured', 'process'] },
    ops: count,
    notes: strings,
    repetition,
  },
  ['profiler', 'settings', 'status', 'files', 'notes'],
);

const spread = object({ median: num, min: num, max: num, mean: num, sd: nullable(num), rme_percent: nullable(num) });
const cpuList = { type: 'array', items: count, minItems: 1 };

const cell = object(
  {
    id: str,
    strategy: str,
    mechanism: str,
    scenario: str,
    protocol: str,
    transport: { enum: ['tcp', 'unix'] },
    params: { type: 'object', properties: { connections: count }, additionalProperties: num, required: ['connections'] },
    server_params: object({ handoff: count, counters: { type: 'boolean' }, threads: { type: 'integer', minimum: 1 } }, ['handoff', 'counters']),
    threading: str,
    client_params: object({ threads: { type: 'integer', minimum: 1 }, wait: { enum: ['adaptive', 'block'] } }),
    label: str,
    server_argv: strings,
    loadgen_argv: strings,
    cpus: nullable(object({ server: cpuList, loadgen: cpuList })),
    pinning: str,
    status: { enum: ['ok', 'failed', 'pending', 'interrupted'] },
    error: str,
    client_bound: { type: 'boolean' },
    warmup_repetitions: { type: 'array', items: repetition },
    repetitions: { type: 'array', items: repetition },
    window_stats: nullable(object({ samples: count, mean_ms: num, sd_ms: num, rme_percent: num, min_ms: num, max_ms: num, p50_ms: num })),
    summary: { type: 'object', additionalProperties: spread },
    latency_merged_us: nullable(latency),
    profile,
  },
  ['id', 'strategy', 'mechanism', 'scenario', 'protocol', 'transport', 'params', 'server_params', 'client_params', 'label', 'cpus', 'status', 'client_bound', 'warmup_repetitions', 'repetitions', 'window_stats', 'summary'],
);

export const resultsSchema = object({
  schema: { const: RESULTS_SCHEMA },
  version: { const: RESULTS_VERSION },
  run_id: str,
  status: { enum: ['running', 'finished', 'interrupted'] },
  started: str,
  finished: nullable(str),
  command_line: strings,
  options: object(
    {
      strategies: nullable(strings),
      scenarios: nullable(strings),
      transports: strings,
      overrides: { type: 'object', additionalProperties: num },
      sweeps: { type: 'object', additionalProperties: { type: 'array', items: num } },
      handoff: { type: 'array', items: count },
      threads: { type: 'array', items: { type: 'integer', minimum: 1 } },
      counters: { type: 'boolean' },
      loadgen_threads: { type: 'integer', minimum: 1 },
      loadgen_wait: { enum: ['adaptive', 'block'] },
      repeat: count,
      warmup: count,
      quick: { type: 'boolean' },
      verify_checksum: { type: 'boolean' },
      timeout_s: num,
      cpus: str,
      profile: nullable(object({ call_graph: str, frequency_hz: num, node: str, perf_problem: nullable(str) })),
    },
    ['strategies', 'scenarios', 'transports', 'overrides', 'sweeps', 'handoff', 'counters', 'loadgen_threads', 'loadgen_wait', 'repeat', 'warmup', 'quick', 'verify_checksum', 'timeout_s', 'cpus'],
  ),
  environment: object({ kernel: str, cpu_count: count, node: str }, ['kernel', 'cpu_count', 'node']),
  warnings: strings,
  unavailable: { type: 'array', items: object({ strategy: str, reason: str }) },
  skipped: strings,
  cells: { type: 'array', items: cell },
  // skipped came with --threads: files from before it lack it.
}, ['schema', 'version', 'run_id', 'status', 'started', 'finished', 'command_line', 'options', 'environment', 'warnings', 'unavailable', 'cells']);

let compiled: ReturnType<Ajv['compile']> | null = null;

function validator() {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: true, strict: true, schemas: [numberTree] });
    compiled = ajv.compile(resultsSchema);
  }
  return compiled;
}

/* "cells[3].repetitions[0].metrics.ops must be integer" */
function describe(e: ErrorObject): string {
  const where = e.instancePath
    .split('/')
    .slice(1)
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p.replace(/~1/g, '/').replace(/~0/g, '~')}`))
    .join('')
    .replace(/^\./, '');
  const what = e.keyword === 'required' ? `is missing "${String(e.params.missingProperty)}"` : e.keyword === 'enum' ? `must be one of ${JSON.stringify(e.params.allowedValues)}` : (e.message ?? 'is invalid');
  return `${where || '(top level)'} ${what}`;
}

/* Problems with the file's content, the first few of them; empty when valid.
 * The schema name and version are checked first, because a file of another
 * kind or version fails everywhere and only that is worth saying. */
export function resultsProblems(data: unknown): string[] {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return ['not a JSON object'];
  const d = data as Record<string, unknown>;
  if (d.schema !== RESULTS_SCHEMA) return [`not a muxbench results file ("schema" is ${JSON.stringify(d.schema)}, expected "${RESULTS_SCHEMA}")`];
  if (d.version !== RESULTS_VERSION) {
    return [`results format version ${JSON.stringify(d.version)} is not the one this muxbench reads (${RESULTS_VERSION}); rerun with this version, or read it with the muxbench that wrote it`];
  }
  const validate = validator();
  if (validate(data)) return [];
  // anyOf failures repeat each branch's error: keep the distinct messages.
  const messages = [...new Set((validate.errors ?? []).filter((e) => e.keyword !== 'anyOf').map(describe))];
  return messages.length ? messages : ['does not match the results schema'];
}
