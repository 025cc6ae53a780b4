/* Planning the matrix: which (strategy variant x scenario x transport) cells
 * run, with which workload parameters. Pure functions over the catalog so the
 * rules can be tested without starting anything. */
import { Catalog, Params, Scenario, StrategyVariant, Transport, TRANSPORTS } from './catalog.js';
import { UsageError } from './errors.js';

export interface PlanRequest {
  strategies?: string[];
  scenarios?: string[];
  transports?: string[];
  quick: boolean;
  /* From --requests, --bytes, --chunk, ...: replace a scenario's value. */
  overrides: Params;
  /* Workload parameters given as lists (--connections 10,100,1000,
   * --message-size, --rate): one cell per value, stored in one run. */
  sweeps?: Record<string, number[]>;
  /* Server-side: hand-off worker threads (--handoff 0,4); 0 = none. */
  handoff?: number[];
  /* Server-side: loop threads (--threads 1,2); values above 1 run only for
   * strategies whose manifest has "threads". */
  threads?: number[];
  /* Server-side: false = syscall counters off (--no-counters), to measure their cost. */
  counters?: boolean;
  /* Load generator threads (--loadgen-threads); scenarios that need one loop get 1. */
  loadgenThreads?: number;
  /* How the load generator waits for events (--loadgen-wait). */
  loadgenWait?: LoadgenWait;
}

/* How the load generator runs (not part of the workload). */
export interface ClientParams {
  threads: number;
  wait: LoadgenWait;
}

/* adaptive: poll and nap while latency is high, so the server's writes do
 * not pay for waking the load generator; block: always sleep in epoll_wait. */
export const LOADGEN_WAITS = ['adaptive', 'block'] as const;
export type LoadgenWait = (typeof LOADGEN_WAITS)[number];

/* What the server is asked to do beyond serving the protocol. */
export interface ServerParams {
  handoff: number;
  /* Loop threads (--threads); 1 = one loop. */
  threads: number;
  /* Syscall counting (on by default; off only to measure what it costs). */
  counters: boolean;
}

export interface CellPlan {
  id: string;
  variant: StrategyVariant;
  scenario: Scenario;
  transport: Transport;
  params: Params;
  server: ServerParams;
  client: ClientParams;
  /* The swept values that tell this cell from its neighbours ("connections=100 handoff=4"), or "". */
  label: string;
}

export interface Plan {
  cells: CellPlan[];
  /* Strategies left out because their program is missing (only when the user did not name them). */
  unavailable: { strategy: string; reason: string }[];
  /* Overrides that no selected scenario uses (e.g. --bytes with only peer-ping). */
  unusedOverrides: string[];
  /* Combinations left out, one line per reason (e.g. a strategy that runs one loop, with --threads 2). */
  skipped: string[];
}

/* Splits "a,b" and repeated flags into one list; an empty result means "all". */
export function splitList(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  const parts = (Array.isArray(v) ? v : [v]).flatMap((x) => String(x).split(','));
  const out = parts.map((s) => s.trim()).filter(Boolean);
  return out.length ? [...new Set(out)] : undefined;
}

const plural = (kind: string) => (kind.endsWith('y') ? `${kind.slice(0, -1)}ies` : `${kind}s`);

export function checkNames(requested: string[], valid: string[], kind: string): void {
  const unknown = requested.filter((n) => !valid.includes(n));
  if (unknown.length) {
    throw new UsageError(`unknown ${unknown.length > 1 ? plural(kind) : kind}: ${unknown.join(', ')}; valid ${plural(kind)}: ${valid.join(', ')}`);
  }
}

/* The scenario's defaults, then its "quick" values, then the user's overrides
 * (only for parameters the scenario has: --bytes means nothing to peer-ping).
 * "active" defaults to every connection, and never exceeds connections. */
export function scenarioParams(s: Scenario, quick: boolean, overrides: Params): Params {
  const p: Params = { ...s.defaults, ...(quick ? s.quick : {}) };
  for (const [k, v] of Object.entries(overrides)) {
    // connections is always in p (the scenario files require it); optional
    // parameters (rate, message_size) have no default but may be given.
    if (k in p || k === 'active' || s.optional.includes(k)) p[k] = v;
  }
  if (p.active === undefined || p.active > p.connections) p.active = p.connections;
  for (const [k, lim] of Object.entries(s.limits)) {
    const v = p[k];
    if (v === undefined) continue;
    const why = lim.why ? ` (${lim.why})` : '';
    if (lim.max !== undefined && v > lim.max) throw new UsageError(`--${k} ${v} is above ${s.name}'s limit of ${lim.max}${why}`);
    if (lim.min !== undefined && v < lim.min) throw new UsageError(`--${k} ${v} is below ${s.name}'s minimum of ${lim.min}${why}`);
  }
  return p;
}

/* A warm-up repetition does this share of the work, on the same connections. */
export const WARMUP_WORK_SHARE = 4;

/* The cell a warm-up repetition runs: the same connections, strategy and
 * settings, a quarter of the requests and bytes (at least one request per
 * working connection and one piece each, never more than the cell's own).
 * A warm-up exists to fault in pages, fill caches and let the CPU settle;
 * like tinybench's warm-up it need not be as long as a measurement. */
export function warmupCell(cell: CellPlan): CellPlan {
  const p = { ...cell.params };
  const working = p.active ?? p.connections;
  if (p.requests !== undefined) p.requests = Math.min(p.requests, Math.max(Math.ceil(p.requests / WARMUP_WORK_SHARE), working));
  if (p.bytes !== undefined) p.bytes = Math.min(p.bytes, Math.max(Math.ceil(p.bytes / WARMUP_WORK_SHARE), working * (p.chunk ?? 1)));
  return { ...cell, params: p };
}

/* Load generator flags for a scenario: --driver from the file, then each
 * parameter as --<name> (underscores become dashes). */
export function loadgenArgs(s: Scenario, params: Params): string[] {
  const args = ['--driver', s.driver];
  for (const [k, v] of Object.entries(params)) args.push(`--${k.replace(/_/g, '-')}`, String(v));
  return args;
}

/* connections and active apply to every scenario (every driver has idle connections). */
const accepts = (s: Scenario, k: string) => k === 'connections' || k === 'active' || k in s.defaults || k in s.quick || s.optional.includes(k);

/* Every combination of the swept values this scenario takes (a scenario
 * without message sizes runs once, whatever --message-size says). */
export function sweepPoints(s: Scenario, sweeps: Record<string, number[]>): Params[] {
  let points: Params[] = [{}];
  for (const [k, values] of Object.entries(sweeps)) {
    if (!accepts(s, k) || values.length === 0) continue;
    points = points.flatMap((p) => values.map((v) => ({ ...p, [k]: v })));
  }
  return points;
}

/* "connections=100 handoff=4 threads=2": what a reader needs to tell sweep cells apart. */
function describePoint(point: Params, sweeps: Record<string, number[]>, server: { handoff: number; threads: number }, swept: { handoff: boolean; threads: boolean }): string {
  const parts = Object.entries(point)
    .filter(([k]) => (sweeps[k]?.length ?? 0) > 1 || k === 'rate')
    .map(([k, v]) => `${k}=${v}`);
  if (server.handoff > 0 || swept.handoff) parts.push(`handoff=${server.handoff}`);
  if (server.threads > 1 || swept.threads) parts.push(`threads=${server.threads}`);
  return parts.join(' ');
}

/* Why a cell with several server loops is not run, or null. `lists` says
 * whether the reason names the strategies it applies to. */
interface ThreadsProblem {
  reason: string;
  lists: boolean;
  what: string;
}

function threadsProblem(variant: StrategyVariant, scenario: Scenario, handoff: number): ThreadsProblem | null {
  if (!variant.threads) return { reason: 'these strategies run one loop only (no "threads" in their manifest)', lists: true, what: variant.name };
  if (scenario.singleServerLoop) return { reason: `${scenario.name} runs with one server loop: ${scenario.singleServerLoop}`, lists: false, what: scenario.name };
  // epoll and asio refuse the combination; io_uring and libuv would give each
  // loop workers of its own, a design no cell compares.
  if (handoff > 0) return { reason: 'hand-off cells (--handoff above 0) run with one loop: hand-off workers serve one loop', lists: false, what: `handoff=${handoff}` };
  return null;
}

export function planCells(catalog: Catalog, req: PlanRequest): Plan {
  const allStrategies = catalog.strategies.map((v) => v.name);
  const allScenarios = catalog.scenarios.map((s) => s.name);
  if (req.strategies) checkNames(req.strategies, allStrategies, 'strategy');
  if (req.scenarios) checkNames(req.scenarios, allScenarios, 'scenario');
  if (req.transports) checkNames(req.transports, [...TRANSPORTS], 'transport');

  const chosen = catalog.strategies.filter((v) => !req.strategies || req.strategies.includes(v.name));
  const missing = chosen.filter((v) => !v.available);
  // Named explicitly but not built: the user asked for something that cannot run.
  if (req.strategies && missing.length) {
    throw new UsageError(`${missing.map((v) => `${v.name}: ${v.unavailableReason}`).join('\n')}`);
  }
  const variants = chosen.filter((v) => v.available);
  const scenarios = catalog.scenarios.filter((s) => !req.scenarios || req.scenarios.includes(s.name));
  const transports = (req.transports ?? [...TRANSPORTS]) as Transport[];

  const sweeps = req.sweeps ?? {};
  const handoffs = req.handoff?.length ? req.handoff : [0];
  const threadCounts = req.threads?.length ? req.threads : [1];
  const cells: CellPlan[] = [];
  const skipped = new Map<string, { lists: boolean; what: Set<string> }>();
  // Scenario-major order keeps the cells that are compared with each other
  // next to each other; within a scenario, each sweep point runs every
  // strategy before the next point, so a series reads in order.
  for (const scenario of scenarios) {
    for (const point of sweepPoints(scenario, sweeps)) {
      const params = scenarioParams(scenario, req.quick, { ...req.overrides, ...point });
      for (const handoff of handoffs) {
        for (const serverThreads of threadCounts) {
          const counters = req.counters ?? true;
          const server = { handoff, threads: serverThreads, counters };
          const swept = { handoff: handoffs.length > 1, threads: threadCounts.length > 1 };
          const label = [describePoint(point, sweeps, server, swept), counters ? '' : 'counters=off'].filter(Boolean).join(' ');
          for (const transport of transports) {
            for (const variant of variants) {
              if (!variant.protocols.includes(scenario.protocol) || !variant.transports.includes(transport)) continue;
              const problem = serverThreads > 1 ? threadsProblem(variant, scenario, handoff) : null;
              if (problem) {
                const key = `threads=${serverThreads}: ${problem.reason}`;
                const entry = skipped.get(key) ?? { lists: problem.lists, what: new Set<string>() };
                skipped.set(key, entry);
                entry.what.add(problem.what);
                continue;
              }
              const id = `${variant.name}/${scenario.name}/${transport}${label ? `/${label.replace(/ /g, ',')}` : ''}`;
              // More threads than working connections would leave threads without work.
              const threads = scenario.singleLoadgenThread ? 1 : Math.min(req.loadgenThreads ?? 1, params.active ?? params.connections);
              cells.push({ id, variant, scenario, transport, params: { ...params }, server, client: { threads, wait: req.loadgenWait ?? 'adaptive' }, label });
            }
          }
        }
      }
    }
  }
  const given = [...Object.keys(req.overrides), ...Object.keys(sweeps)];
  const unusedOverrides = given.filter((k) => !scenarios.some((s) => accepts(s, k)));
  return {
    cells,
    unavailable: missing.map((v) => ({ strategy: v.name, reason: v.unavailableReason ?? 'unavailable' })),
    unusedOverrides,
    skipped: [...skipped].map(([why, e]) => (e.lists ? `${why}: ${[...e.what].join(', ')}` : why)),
  };
}
