/* Discovery of strategies and scenarios from data files.
 *
 * The harness knows no strategy or scenario by name: strategies come from
 * strategies/<dir>/strategy.json manifests and scenarios from scenarios/*.json.
 * Files are validated on load so a typo fails the command with the file and
 * field named, instead of failing a cell halfway through a run. */
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { UsageError } from './errors.js';
import { NOT_BUILT_HINT } from './paths.js';

/* Transports are the harness's business (it creates the addresses), so they
 * are the one closed list here. */
export const TRANSPORTS = ['tcp', 'unix'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/* What kind of program a strategy is: profilers need to know (a Node
 * program needs its perf map, and 0x and clinic wrap only Node programs). */
export const RUNTIMES = ['native', 'node'] as const;
export type Runtime = (typeof RUNTIMES)[number];

export interface StrategyVariant {
  name: string;
  mechanism: string;
  /* argv relative to the repository root; the harness appends --protocol/--listen. */
  command: string[];
  args: string[];
  runtime: Runtime;
  protocols: string[];
  transports: Transport[];
  /* Manifest path relative to the root, for messages. */
  manifest: string;
  available: boolean;
  unavailableReason?: string;
  /* Known behaviour gaps of the mechanism itself (e.g. "half_close": why), shown by
   * `list` and respected by the behaviour tests instead of being hidden. */
  limitations: Record<string, string>;
  /* How the program serves with several loop threads (--threads N), from the
   * manifest's "threads"; undefined: it runs one loop only. */
  threads?: string;
}

/* Workload parameters; each key becomes a load generator flag (--key). */
export type Params = Record<string, number>;

export interface Scenario {
  name: string;
  protocol: string;
  driver: string;
  summary: string;
  operation: string;
  verifies?: string;
  defaults: Params;
  quick: Params;
  /* Bounds on parameters the user may override, with the reason shown when crossed. */
  limits: Record<string, ParamLimit>;
  /* Parameters without a default that the driver takes when given (e.g. rate). */
  optional: string[];
  /* Server counters that must equal a client figure ("ops" or "payload") in every repetition. */
  agrees: Record<string, 'ops' | 'payload'>;
  /* Why the load generator must run this scenario in one thread (--loadgen-threads is then 1), or undefined. */
  singleLoadgenThread?: string;
  /* Why the server must serve this scenario with one loop (no --threads cells), or undefined. */
  singleServerLoop?: string;
  file: string;
}

export interface ParamLimit {
  min?: number;
  max?: number;
  why?: string;
}

export interface Catalog {
  root: string;
  strategies: StrategyVariant[];
  scenarios: Scenario[];
}

/* Thrown for an invalid manifest or scenario file; a usage error because the
 * user has to fix a file before anything can run. */
export class CatalogError extends UsageError {
  constructor(file: string, field: string, problem: string) {
    super(`${file}: ${field} ${problem}`);
    this.name = 'CatalogError';
  }
}

const NAME_RE = /^[a-z0-9][a-z0-9._-]*$/;
const PARAM_RE = /^[a-z][a-z0-9_]*$/;

type Json = Record<string, unknown>;

function readJsonFile(file: string, rel: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${rel}: cannot read: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${rel}: not valid JSON: ${(err as Error).message}`);
  }
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(obj: Json, key: string, file: string, field: string, optional = false): string | undefined {
  const v = obj[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string' || v.trim() === '') throw new CatalogError(file, field, 'must be a non-empty string');
  return v;
}

function strArray(obj: Json, key: string, file: string, field: string, allowEmpty: boolean): string[] {
  const v = obj[key];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === '') || (!allowEmpty && v.length === 0)) {
    throw new CatalogError(file, field, `must be ${allowEmpty ? 'an' : 'a non-empty'} array of non-empty strings`);
  }
  return v as string[];
}

function params(v: unknown, file: string, field: string): Params {
  if (!isObject(v)) throw new CatalogError(file, field, 'must be an object of parameter: positive integer');
  const out: Params = {};
  for (const [k, n] of Object.entries(v)) {
    if (!PARAM_RE.test(k)) throw new CatalogError(file, `${field}.${k}`, 'is not a valid parameter name (lowercase letters, digits, _)');
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) {
      throw new CatalogError(file, `${field}.${k}`, `must be a positive integer, got ${JSON.stringify(n)}`);
    }
    out[k] = n;
  }
  return out;
}

/* True when `cmd` names an executable: a path relative to root, or a bare
 * program name found on PATH (e.g. "node" for a strategy written in JS). */
export function findExecutable(cmd: string, root: string): string | null {
  const candidates = cmd.includes('/')
    ? [path.resolve(root, cmd)]
    : (process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((d) => path.join(d, cmd));
  for (const c of candidates) {
    try {
      if (fs.statSync(c).isFile()) {
        fs.accessSync(c, fs.constants.X_OK);
        return c;
      }
    } catch {
      // not there or not executable: try the next candidate
    }
  }
  return null;
}

const PROBE_TIMEOUT_MS = 5000;

/* Runs `argv --probe`, which prints {"event":"probe","available":bool,"reason":"..."}. */
export function probeVariant(argv: string[], root: string): { available: boolean; reason: string } {
  const r = spawnSync(path.resolve(root, argv[0]), [...argv.slice(1), '--probe'], { cwd: root, encoding: 'utf8', timeout: PROBE_TIMEOUT_MS });
  const line = (r.stdout ?? '').split('\n').find((l) => l.includes('"probe"'));
  try {
    const e = JSON.parse(line ?? '');
    if (typeof e.available === 'boolean') return { available: e.available, reason: typeof e.reason === 'string' ? e.reason : 'unavailable on this host' };
  } catch {
    // fall through
  }
  const why = r.error ? r.error.message : `exit status ${r.status}${r.stderr ? `: ${r.stderr.trim().split('\n').pop()}` : ''}`;
  return { available: false, reason: `--probe gave no answer (${why})` };
}

export function parseManifest(data: unknown, rel: string, root: string): StrategyVariant[] {
  if (!isObject(data)) throw new CatalogError(rel, '(top level)', 'must be a JSON object with "variants"');
  const variants = data.variants;
  if (!Array.isArray(variants) || variants.length === 0) throw new CatalogError(rel, 'variants', 'must be a non-empty array');
  return variants.map((v, i): StrategyVariant => {
    const at = `variants[${i}]`;
    if (!isObject(v)) throw new CatalogError(rel, at, 'must be an object');
    const name = str(v, 'name', rel, `${at}.name`)!;
    if (!NAME_RE.test(name)) throw new CatalogError(rel, `${at}.name`, `"${name}" must be lowercase letters, digits, ".", "_" or "-"`);
    const command = strArray(v, 'command', rel, `${at}.command`, false);
    const args = v.args === undefined ? [] : strArray(v, 'args', rel, `${at}.args`, true);
    const protocols = strArray(v, 'protocols', rel, `${at}.protocols`, false);
    const transports = strArray(v, 'transports', rel, `${at}.transports`, false);
    for (const t of transports) {
      if (!(TRANSPORTS as readonly string[]).includes(t)) {
        throw new CatalogError(rel, `${at}.transports`, `contains "${t}"; known transports: ${TRANSPORTS.join(', ')}`);
      }
    }
    const runtime = v.runtime === undefined ? 'native' : v.runtime;
    if (!(RUNTIMES as readonly unknown[]).includes(runtime)) throw new CatalogError(rel, `${at}.runtime`, `must be one of ${RUNTIMES.join(', ')}`);
    const exe = findExecutable(command[0], root);
    if (v.probe !== undefined && typeof v.probe !== 'boolean') throw new CatalogError(rel, `${at}.probe`, 'must be true or false');
    const limitations: Record<string, string> = {};
    if (v.limitations !== undefined) {
      if (!isObject(v.limitations)) throw new CatalogError(rel, `${at}.limitations`, 'must be an object of name: explanation');
      for (const k of Object.keys(v.limitations)) limitations[k] = str(v.limitations, k, rel, `${at}.limitations.${k}`)!;
    }
    // A strategy that depends on the host (a kernel feature, a permission)
    // says so with "probe": its program then answers --probe with whether it can run here.
    const probed = exe !== null && v.probe === true ? probeVariant([...command, ...args], root) : null;
    return {
      name,
      mechanism: str(v, 'mechanism', rel, `${at}.mechanism`)!,
      command,
      args,
      runtime: runtime as Runtime,
      protocols,
      transports: transports as Transport[],
      manifest: rel,
      limitations,
      threads: str(v, 'threads', rel, `${at}.threads`, true),
      available: exe !== null && (probed === null || probed.available),
      unavailableReason:
        exe === null ? `${command[0]} missing or not executable (${NOT_BUILT_HINT})` : probed && !probed.available ? probed.reason : undefined,
    };
  });
}

export function loadStrategies(root: string): StrategyVariant[] {
  const dir = path.join(root, 'strategies');
  const out: StrategyVariant[] = [];
  const seen = new Map<string, string>();
  const entries = fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : [];
  for (const e of entries.filter((d) => d.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const file = path.join(dir, e.name, 'strategy.json');
    // Folders without a manifest (strategies/core, strategies/net) are shared code, not strategies.
    if (!fs.existsSync(file)) continue;
    const rel = path.relative(root, file);
    for (const v of parseManifest(readJsonFile(file, rel), rel, root)) {
      const other = seen.get(v.name);
      if (other) throw new CatalogError(rel, 'variants', `repeat the variant name "${v.name}" already defined in ${other}`);
      seen.set(v.name, rel);
      out.push(v);
    }
  }
  return out;
}

export function parseScenario(data: unknown, rel: string): Scenario {
  if (!isObject(data)) throw new CatalogError(rel, '(top level)', 'must be a JSON object');
  const name = str(data, 'name', rel, 'name')!;
  const expected = path.basename(rel, '.json');
  if (name !== expected) throw new CatalogError(rel, 'name', `"${name}" must match the file name ("${expected}")`);
  const defaults = params(data.defaults, rel, 'defaults');
  if (defaults.connections === undefined) throw new CatalogError(rel, 'defaults.connections', 'is required');
  const quick = data.quick === undefined ? {} : params(data.quick, rel, 'quick');
  const merged = { ...defaults, ...quick };
  if (merged.active !== undefined && merged.active > merged.connections) {
    throw new CatalogError(rel, 'active', `(${merged.active}) must not exceed connections (${merged.connections})`);
  }
  const limits: Record<string, ParamLimit> = {};
  if (data.limits !== undefined) {
    if (!isObject(data.limits)) throw new CatalogError(rel, 'limits', 'must be an object of {min?, max?, why?} per parameter');
    for (const [k, v] of Object.entries(data.limits)) {
      if (!isObject(v)) throw new CatalogError(rel, `limits.${k}`, 'must be an object');
      for (const b of ['min', 'max'] as const) {
        if (v[b] !== undefined && (typeof v[b] !== 'number' || !Number.isFinite(v[b]))) throw new CatalogError(rel, `limits.${k}.${b}`, 'must be a number');
      }
      limits[k] = { min: v.min as number | undefined, max: v.max as number | undefined, why: str(v, 'why', rel, `limits.${k}.why`, true) };
    }
  }
  const optional = data.optional === undefined ? [] : strArray(data, 'optional', rel, 'optional', true);
  for (const k of optional) if (!PARAM_RE.test(k)) throw new CatalogError(rel, 'optional', `contains "${k}", not a valid parameter name`);
  const agrees: Record<string, 'ops' | 'payload'> = {};
  if (data.server_agrees !== undefined) {
    if (!isObject(data.server_agrees)) throw new CatalogError(rel, 'server_agrees', 'must be an object of server counter: "ops" or "payload"');
    for (const [k, v] of Object.entries(data.server_agrees)) {
      if (v !== 'ops' && v !== 'payload') throw new CatalogError(rel, `server_agrees.${k}`, 'must be "ops" or "payload"');
      agrees[k] = v;
    }
  }
  return {
    name,
    optional,
    agrees,
    protocol: str(data, 'protocol', rel, 'protocol')!,
    driver: str(data, 'driver', rel, 'driver')!,
    summary: str(data, 'summary', rel, 'summary')!,
    operation: str(data, 'operation', rel, 'operation')!,
    verifies: str(data, 'verifies', rel, 'verifies', true),
    singleLoadgenThread: str(data, 'single_loadgen_thread', rel, 'single_loadgen_thread', true),
    singleServerLoop: str(data, 'single_server_loop', rel, 'single_server_loop', true),
    defaults,
    quick,
    limits,
    file: rel,
  };
}

export function loadScenarios(root: string): Scenario[] {
  const dir = path.join(root, 'scenarios');
  if (!fs.existsSync(dir)) throw new UsageError(`no scenarios folder at ${dir}`);
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const rel = path.join('scenarios', f);
      return parseScenario(readJsonFile(path.join(dir, f), rel), rel);
    });
}

export function loadCatalog(root: string): Catalog {
  return { root, strategies: loadStrategies(root), scenarios: loadScenarios(root) };
}
