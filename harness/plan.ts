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
  /* From --connections, --requests, --bytes, --chunk: replace a scenario's value. */
  overrides: Params;
}

export interface CellPlan {
  id: string;
  variant: StrategyVariant;
  scenario: Scenario;
  transport: Transport;
  params: Params;
}

export interface Plan {
  cells: CellPlan[];
  /* Strategies left out because their program is missing (only when the user did not name them). */
  unavailable: { strategy: string; reason: string }[];
  /* Overrides that no selected scenario uses (e.g. --bytes with only peer-ping). */
  unusedOverrides: string[];
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
    if (k in p) p[k] = v; // connections is always in p (the scenario files require it)
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

/* Load generator flags for a scenario: --driver from the file, then each
 * parameter as --<name> (underscores become dashes). */
export function loadgenArgs(s: Scenario, params: Params): string[] {
  const args = ['--driver', s.driver];
  for (const [k, v] of Object.entries(params)) args.push(`--${k.replace(/_/g, '-')}`, String(v));
  return args;
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

  const cells: CellPlan[] = [];
  // Scenario-major order keeps the cells that are compared with each other next to each other.
  for (const scenario of scenarios) {
    const params = scenarioParams(scenario, req.quick, req.overrides);
    for (const transport of transports) {
      for (const variant of variants) {
        if (!variant.protocols.includes(scenario.protocol) || !variant.transports.includes(transport)) continue;
        cells.push({ id: `${variant.name}/${scenario.name}/${transport}`, variant, scenario, transport, params: { ...params } });
      }
    }
  }
  const unusedOverrides = Object.keys(req.overrides).filter(
    (k) => k !== 'connections' && !scenarios.some((s) => k in s.defaults || k in s.quick),
  );
  return {
    cells,
    unavailable: missing.map((v) => ({ strategy: v.name, reason: v.unavailableReason ?? 'unavailable' })),
    unusedOverrides,
  };
}
