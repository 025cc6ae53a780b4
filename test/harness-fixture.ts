/* Builds throw-away repository trees for the harness tests: manifests,
 * scenarios, and the stand-in programs of test/fixtures/ installed as
 * executables under build/, so the CLI can run end to end without the
 * native programs. Not a test file itself. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/* dist/test/harness-fixture.js -> repository root */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = path.join(REPO, 'dist', 'harness', 'cli.js');

const created: string[] = [];
// Remove every temp tree when the test file's process ends (pass or fail).
process.on('exit', () => {
  for (const dir of created) fs.rmSync(dir, { recursive: true, force: true });
});

export function tempRoot(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muxbench-test-'));
  created.push(dir);
  return dir;
}

export function writeJson(root: string, rel: string, data: unknown): string {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, typeof data === 'string' ? data : JSON.stringify(data, null, 2));
  return file;
}

export function installProgram(root: string, fixture: string, rel: string): void {
  const dest = path.join(root, rel);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.copyFileSync(path.join(REPO, 'test', 'fixtures', fixture), dest);
  fs.chmodSync(dest, 0o755);
}

export const echoScenario = {
  name: 'echo',
  protocol: 'peer',
  driver: 'echo',
  summary: 'Echo round trips.',
  operation: 'round trip',
  defaults: { connections: 20, requests: 2000, depth: 1 },
  quick: { connections: 5, requests: 300 },
};

/* A tree with one working fake strategy ("fake"), one that lies about its
 * byte counts ("fake-liar"), and the fake load generator. */
export function fakeRepo(opts: { loadgen?: boolean } = {}): string {
  const root = tempRoot();
  installProgram(root, 'fake-server.mjs', 'build/fake-server');
  if (opts.loadgen !== false) installProgram(root, 'fake-loadgen.mjs', 'build/muxbench-loadgen');
  writeJson(root, 'strategies/fake/strategy.json', {
    variants: [
      { name: 'fake', mechanism: 'node net echo', command: ['build/fake-server'], args: [], protocols: ['peer'], transports: ['tcp', 'unix'] },
      { name: 'fake-liar', mechanism: 'miscounts reads', command: ['build/fake-server'], args: ['--lie-bytes'], protocols: ['peer'], transports: ['tcp'] },
    ],
  });
  writeJson(root, 'scenarios/echo.json', echoScenario);
  return root;
}
