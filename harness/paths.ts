/* Where the repository is at run time. The CLI must work from any working
 * directory, so the root is derived from this compiled file's location
 * (dist/harness/paths.js -> two levels up), never from process.cwd().
 * MUXBENCH_ROOT overrides it; the tests use that to point the CLI at a
 * fixture tree with stand-in programs. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function repoRoot(): string {
  const override = process.env.MUXBENCH_ROOT;
  if (override) return path.resolve(override);
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, '..', '..');
}

/* The one load generator drives every strategy (docs/control-channel.md). */
export const LOADGEN_COMMAND = 'build/muxbench-loadgen';

export const NOT_BUILT_HINT = 'native programs not built: run npm run build';
