import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadStrategies, loadScenarios, loadCatalog, parseManifest, parseScenario, CatalogError } from '../harness/catalog.js';
import { planCells, scenarioParams, loadgenArgs, splitList, warmupCell } from '../harness/plan.js';
import { UsageError } from '../harness/errors.js';
import { tempRoot, writeJson, echoScenario, REPO } from './harness-fixture.js';

const variant = { name: 'x', mechanism: 'm', command: ['build/x'], args: [], protocols: ['peer'], transports: ['tcp'] };

function manifestError(data: unknown): string {
  try {
    parseManifest(data, 'strategies/x/strategy.json', '/nonexistent');
  } catch (e) {
    assert.ok(e instanceof CatalogError, `expected CatalogError, got ${e}`);
    return (e as Error).message;
  }
  assert.fail('no error thrown');
}

test('manifest validation names the file and the field', () => {
  assert.match(manifestError({}), /^strategies\/x\/strategy\.json: variants must be a non-empty array/);
  assert.match(manifestError({ variants: [] }), /variants must be a non-empty array/);
  assert.match(manifestError({ variants: [{ ...variant, name: 'Bad Name' }] }), /variants\[0\]\.name "Bad Name"/);
  assert.match(manifestError({ variants: [variant, { ...variant, command: [] }] }), /variants\[1\]\.command must be a non-empty array/);
  assert.match(manifestError({ variants: [{ ...variant, protocols: 'peer' }] }), /variants\[0\]\.protocols/);
  assert.match(manifestError({ variants: [{ ...variant, transports: ['tcp', 'udp'] }] }), /variants\[0\]\.transports contains "udp"; known transports: tcp, unix/);
  assert.match(manifestError({ variants: [{ ...variant, mechanism: '' }] }), /variants\[0\]\.mechanism must be a non-empty string/);
  assert.match(manifestError({ variants: [{ ...variant, args: [1] }] }), /variants\[0\]\.args/);
});

test('a missing or non-executable program makes a variant unavailable, not an error', () => {
  const root = tempRoot();
  const [missing] = parseManifest({ variants: [variant] }, 'm.json', root);
  assert.equal(missing.available, false);
  assert.match(missing.unavailableReason!, /build\/x .*run npm run build/);
  fs.mkdirSync(path.join(root, 'build'));
  fs.writeFileSync(path.join(root, 'build/x'), '#!/bin/sh\n', { mode: 0o644 });
  assert.equal(parseManifest({ variants: [variant] }, 'm.json', root)[0].available, false, 'not executable');
  fs.chmodSync(path.join(root, 'build/x'), 0o755);
  assert.equal(parseManifest({ variants: [variant] }, 'm.json', root)[0].available, true);
  // Bare program names are looked up on PATH (a strategy run by node, say).
  assert.equal(parseManifest({ variants: [{ ...variant, command: ['node', 'x.js'] }] }, 'm.json', root)[0].available, true);
});

test('"probe": true asks the program whether it can run on this host', () => {
  const root = tempRoot();
  fs.mkdirSync(path.join(root, 'build'));
  const prog = (body: string) => fs.writeFileSync(path.join(root, 'build/x'), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  const load = () => parseManifest({ variants: [{ ...variant, probe: true }] }, 'm.json', root)[0];
  prog(`[ "$1" = --probe ] && echo '{"event":"probe","available":false,"reason":"io_uring is disabled (kernel.io_uring_disabled=2)"}'`);
  assert.deepEqual([load().available, load().unavailableReason], [false, 'io_uring is disabled (kernel.io_uring_disabled=2)']);
  prog(`echo '{"event":"probe","available":true}'`);
  assert.equal(load().available, true);
  prog('echo oops >&2; exit 3');
  assert.equal(load().available, false);
  assert.match(load().unavailableReason!, /--probe gave no answer \(exit status 3: oops\)/);
  assert.throws(() => parseManifest({ variants: [{ ...variant, probe: 'yes' }] }, 'm.json', root), /probe must be true or false/);
});

test('loadStrategies discovers manifests, skips folders without one, rejects duplicate names', () => {
  const root = tempRoot();
  fs.mkdirSync(path.join(root, 'strategies/core'), { recursive: true });
  writeJson(root, 'strategies/b/strategy.json', { variants: [{ ...variant, name: 'b1' }, { ...variant, name: 'b2' }] });
  writeJson(root, 'strategies/a/strategy.json', { variants: [{ ...variant, name: 'a1' }] });
  assert.deepEqual(loadStrategies(root).map((v) => v.name), ['a1', 'b1', 'b2']);
  assert.equal(loadStrategies(root)[0].manifest, 'strategies/a/strategy.json');
  writeJson(root, 'strategies/c/strategy.json', { variants: [{ ...variant, name: 'a1' }] });
  assert.throws(() => loadStrategies(root), /strategies\/c\/strategy\.json: variants repeat the variant name "a1" already defined in strategies\/a\/strategy\.json/);
  writeJson(root, 'strategies/c/strategy.json', '{ "variants": [ ');
  assert.throws(() => loadStrategies(root), (e: Error) => e instanceof UsageError && /strategies\/c\/strategy\.json: not valid JSON/.test(e.message));
});

test('scenario validation names the file and the field', () => {
  const err = (data: unknown, file = 'scenarios/echo.json') => {
    assert.throws(() => parseScenario(data, file), CatalogError);
    try {
      parseScenario(data, file);
    } catch (e) {
      return (e as Error).message;
    }
    return '';
  };
  assert.equal(parseScenario(echoScenario, 'scenarios/echo.json').driver, 'echo');
  assert.match(err(echoScenario, 'scenarios/other.json'), /^scenarios\/other\.json: name "echo" must match the file name \("other"\)/);
  assert.match(err({ ...echoScenario, driver: 7 }), /^scenarios\/echo\.json: driver must be a non-empty string/);
  assert.match(err({ ...echoScenario, defaults: { requests: 5 } }), /defaults\.connections is required/);
  assert.match(err({ ...echoScenario, defaults: { connections: -1 } }), /defaults\.connections must be a positive integer, got -1/);
  assert.match(err({ ...echoScenario, quick: { bytes: '8M' } }), /quick\.bytes must be a positive integer, got "8M"/);
  assert.match(err({ ...echoScenario, defaults: { connections: 5, 'Bad-Key': 1 } }), /defaults\.Bad-Key is not a valid parameter name/);
  assert.match(err({ ...echoScenario, defaults: { connections: 5, active: 6 } }), /active \(6\) must not exceed connections \(5\)/);
  assert.match(err({ ...echoScenario, limits: { chunk: { max: '4M' } } }), /limits\.chunk\.max must be a number/);
  assert.match(err({ ...echoScenario, limits: [] }), /limits must be an object/);
});

test('scenario limits turn out-of-range overrides into usage errors with the reason', () => {
  const bulk = parseScenario({ ...echoScenario, name: 'bulk', defaults: { connections: 10, chunk: 65536 }, limits: { chunk: { min: 1, max: 4000000, why: 'protocol limit' } } }, 'scenarios/bulk.json');
  assert.equal(scenarioParams(bulk, false, { chunk: 4000000 }).chunk, 4000000);
  assert.throws(() => scenarioParams(bulk, false, { chunk: 4000001 }), /--chunk 4000001 is above bulk's limit of 4000000 \(protocol limit\)/);
  assert.throws(() => scenarioParams(bulk, false, { chunk: 0 }), UsageError);
});

test('the repository\'s own scenarios and manifests are valid', () => {
  const catalog = loadCatalog(REPO);
  assert.ok(catalog.scenarios.length >= 4);
  assert.ok(catalog.strategies.length >= 1);
  for (const s of catalog.scenarios) assert.ok(s.defaults.connections > 0, s.name);
  const ping = loadScenarios(REPO).find((s) => s.name === 'peer-ping');
  assert.deepEqual(ping?.quick, { connections: 100, requests: 20000 });
});

test('scenario parameters: defaults, then quick, then overrides it has; active defaults to connections', () => {
  const bulk = parseScenario({ ...echoScenario, name: 'bulk', defaults: { connections: 1000, active: 1, bytes: 1 << 30, chunk: 65536 }, quick: { connections: 100, bytes: 8 << 20 } }, 'scenarios/bulk.json');
  const ping = parseScenario(echoScenario, 'scenarios/echo.json');
  assert.deepEqual(scenarioParams(bulk, false, {}), { connections: 1000, active: 1, bytes: 1 << 30, chunk: 65536 });
  assert.deepEqual(scenarioParams(bulk, true, {}), { connections: 100, active: 1, bytes: 8 << 20, chunk: 65536 });
  assert.deepEqual(scenarioParams(bulk, true, { bytes: 4096, requests: 9 }), { connections: 100, active: 1, bytes: 4096, chunk: 65536 });
  assert.deepEqual(scenarioParams(ping, false, { connections: 7, bytes: 4096 }), { connections: 7, requests: 2000, depth: 1, active: 7 });
  // --active applies to every scenario, with or without an "active" default.
  assert.deepEqual(scenarioParams(ping, false, { connections: 7, active: 2 }), { connections: 7, requests: 2000, depth: 1, active: 2 });
  // An override below the scenario's active count caps active.
  assert.equal(scenarioParams({ ...bulk, defaults: { ...bulk.defaults, active: 50 } }, false, { connections: 10 }).active, 10);
  assert.deepEqual(loadgenArgs(ping, { connections: 7, requests: 20, max_depth: 2 }), ['--driver', 'echo', '--connections', '7', '--requests', '20', '--max-depth', '2']);
});

test('planCells: unknown names list the valid ones; unsupported combinations are left out', () => {
  const root = tempRoot();
  fs.mkdirSync(path.join(root, 'build'));
  for (const f of ['a', 'b']) fs.writeFileSync(path.join(root, 'build', f), '', { mode: 0o755 });
  writeJson(root, 'strategies/s/strategy.json', {
    variants: [
      { ...variant, name: 'a', command: ['build/a'], protocols: ['peer', 'http'], transports: ['tcp', 'unix'] },
      { ...variant, name: 'b', command: ['build/b'], protocols: ['peer'], transports: ['tcp'] },
      { ...variant, name: 'c', command: ['build/not-built'], protocols: ['peer'], transports: ['tcp'] },
    ],
  });
  writeJson(root, 'scenarios/echo.json', echoScenario);
  writeJson(root, 'scenarios/web.json', { ...echoScenario, name: 'web', protocol: 'http', driver: 'web' });
  const catalog = loadCatalog(root);
  const plan = planCells(catalog, { quick: false, overrides: {} });
  assert.deepEqual(plan.cells.map((c) => c.id), ['a/echo/tcp', 'b/echo/tcp', 'a/echo/unix', 'a/web/tcp', 'a/web/unix']);
  assert.deepEqual(plan.unavailable.map((u) => u.strategy), ['c']);
  assert.throws(() => planCells(catalog, { strategies: ['a', 'zz'], quick: false, overrides: {} }), /unknown strategy: zz; valid strategies: a, b, c/);
  assert.throws(() => planCells(catalog, { scenarios: ['nope'], quick: false, overrides: {} }), /unknown scenario: nope; valid scenarios: echo, web/);
  assert.throws(() => planCells(catalog, { transports: ['udp'], quick: false, overrides: {} }), /unknown transport: udp; valid transports: tcp, unix/);
  assert.throws(() => planCells(catalog, { strategies: ['c'], quick: false, overrides: {} }), /c: build\/not-built missing.*npm run build/);
  const one = planCells(catalog, { strategies: ['b'], scenarios: ['echo'], quick: true, overrides: { bytes: 5 } });
  assert.deepEqual(one.cells.map((c) => c.id), ['b/echo/tcp']);
  assert.deepEqual(one.unusedOverrides, ['bytes']);
  assert.deepEqual(splitList(['a,b', 'c', ' b ']), ['a', 'b', 'c']);
  assert.equal(splitList(''), undefined);
});

test('sweeps: one cell per value (and per hand-off setting), labelled, in series order; scenarios without the parameter run once', () => {
  const root = tempRoot();
  fs.mkdirSync(path.join(root, 'build'));
  fs.writeFileSync(path.join(root, 'build', 'a'), '', { mode: 0o755 });
  writeJson(root, 'strategies/s/strategy.json', { variants: [{ ...variant, name: 'a', command: ['build/a'] }] });
  writeJson(root, 'scenarios/echo.json', { ...echoScenario, optional: ['message_size', 'rate'] });
  writeJson(root, 'scenarios/bulk.json', { ...echoScenario, name: 'bulk', driver: 'bulk', defaults: { connections: 10, bytes: 4096 } });
  const catalog = loadCatalog(root);
  const plan = planCells(catalog, { quick: false, overrides: {}, sweeps: { connections: [10, 100], message_size: [8, 512] }, handoff: [0, 4] });
  const echo = plan.cells.filter((c) => c.scenario.name === 'echo');
  assert.deepEqual(
    echo.map((c) => c.label),
    [
      'connections=10 message_size=8 handoff=0', 'connections=10 message_size=8 handoff=4',
      'connections=10 message_size=512 handoff=0', 'connections=10 message_size=512 handoff=4',
      'connections=100 message_size=8 handoff=0', 'connections=100 message_size=8 handoff=4',
      'connections=100 message_size=512 handoff=0', 'connections=100 message_size=512 handoff=4',
    ],
  );
  assert.equal(echo[1].id, 'a/echo/tcp/connections=10,message_size=8,handoff=4');
  assert.deepEqual(echo[7].params, { connections: 100, requests: 2000, depth: 1, active: 100, message_size: 512 });
  assert.deepEqual(echo[7].server, { handoff: 4, threads: 1, counters: true });
  // bulk has no message_size: swept over connections and hand-off only.
  assert.deepEqual(plan.cells.filter((c) => c.scenario.name === 'bulk').map((c) => c.label), [
    'connections=10 handoff=0', 'connections=10 handoff=4', 'connections=100 handoff=0', 'connections=100 handoff=4',
  ]);
  assert.deepEqual(plan.unusedOverrides, []);
  // A single value is a plain override: no label, except rate and hand-off, which change what is measured.
  const single = planCells(catalog, { scenarios: ['echo'], quick: false, overrides: {}, sweeps: { connections: [5], rate: [1000] }, handoff: [2] });
  assert.deepEqual(single.cells.map((c) => [c.id, c.params.connections, c.params.rate]), [['a/echo/tcp/rate=1000,handoff=2', 5, 1000]]);
  assert.deepEqual(planCells(catalog, { scenarios: ['bulk'], quick: false, overrides: {}, sweeps: { rate: [1000] } }).unusedOverrides, ['rate']);
  // Counting off (to measure its cost) is a server setting the label shows.
  const off = planCells(catalog, { scenarios: ['bulk'], quick: false, overrides: {}, counters: false }).cells[0];
  assert.deepEqual([off.id, off.server], ['a/bulk/tcp/counters=off', { handoff: 0, threads: 1, counters: false }]);
});

test('every scenario file in the repository loads, and its driver is one the load generator knows', () => {
  const drivers = new Set(['peer-ping', 'peer-block', 'peer-relay', 'peer-upload', 'http-rpc', 'http-bulk', 'http-churn']);
  const names = loadScenarios(REPO).map((s) => s.name);
  for (const want of ['peer-idle', 'peer-relay', 'peer-block-spread', 'peer-upload', 'http-churn', 'http-bulk-spread']) assert.ok(names.includes(want), want);
  for (const s of loadScenarios(REPO)) assert.ok(drivers.has(s.driver), `${s.name}: ${s.driver}`);
});

test('warm-up cells: a quarter of the requests or bytes on the same connections, at least one unit per working connection', () => {
  const base = { connections: 1000, active: 10, requests: 200_000, depth: 1 };
  const cell = (params: Record<string, number>) => ({ params }) as unknown as Parameters<typeof warmupCell>[0];
  assert.deepEqual(warmupCell(cell(base)).params, { ...base, requests: 50_000 });
  assert.equal(warmupCell(cell({ ...base, requests: 21 })).params.requests, 10, 'ceil(21/4) = 6 is raised to one per active connection');
  assert.equal(warmupCell(cell({ ...base, requests: 5 })).params.requests, 5, 'never more than the cell itself');
  const bulk = { connections: 1000, active: 1000, bytes: 2 ** 30, chunk: 65536 };
  assert.equal(warmupCell(cell(bulk)).params.bytes, 2 ** 28);
  assert.equal(warmupCell(cell({ ...bulk, bytes: 2 ** 26 })).params.bytes, 1000 * 65536, 'one piece per uploader');
  assert.equal(warmupCell(cell(bulk)).params.connections, 1000);
});
