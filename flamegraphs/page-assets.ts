/* d3 v7 and d3-flame-graph 5, read from node_modules to be inlined: a
 * flamegraph page is one file that opens from file:// (a CI artifact, a
 * mail attachment) with no network. The packages are resolved from this
 * module's own location (dist/flamegraphs/ after the build), so this works
 * from any working directory. */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const cache = new Map<string, string>();

/* A "</script" (or "</style") inside would end the inline element early;
 * "<\/" means the same in any JavaScript string, regular expression or
 * comment, and the CSS holds no such text at all. */
function inlineSafe(text: string): string {
  return text.replace(/<\/(script|style)/gi, '<\\/$1');
}

function packageFile(pkg: string, file: string): string {
  const key = `${pkg}/${file}`;
  let text = cache.get(key);
  if (text === undefined) {
    // The package's entry point sits in its dist/ folder beside the UMD
    // build; the packages' "exports" maps hide dist/ from direct requests.
    const dist = path.dirname(require.resolve(pkg));
    text = inlineSafe(fs.readFileSync(path.join(dist, file), 'utf8'));
    cache.set(key, text);
  }
  return text;
}

/* Defines window.d3; d3-flame-graph's UMD build expects it as a global. */
export function d3Source(): string {
  return packageFile('d3', 'd3.min.js');
}

/* Defines window.flamegraph ({ default, tooltip, colorMapper }). */
export function flameGraphSource(): string {
  return packageFile('d3-flame-graph', 'd3-flamegraph.umd.min.js');
}

export function flameGraphCss(): string {
  return packageFile('d3-flame-graph', 'd3-flamegraph.css');
}
