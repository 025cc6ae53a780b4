/* 0x's list of samples as folded stacks, for our own flamegraph renderer.
 *
 * With --write-ticks, 0x saves every V8 --prof sample as an array of frames,
 * outermost first: [[{"name":"onStreamRead node:internal/...:168:22","type":"JS",...}, ...], ...].
 * clinic flame runs 0x the same way and keeps that list as its
 * `<id>.clinic-flame-samples` file. Folded stacks ("a;b;c 12", one line per
 * distinct stack, outermost frame first) are the common input of flamegraph
 * tools, so both end up in the same place as the native strategies' perf
 * profiles. */
import fs from 'node:fs';

export interface TickFrame {
  name: string;
  type?: string;
  kind?: string;
}

export interface FoldResult {
  /* Folded lines, sorted, each ending in a newline. */
  text: string;
  /* Samples that had a stack, and samples that had none (V8 could not walk the stack). */
  samples: number;
  empty: number;
}

/* A frame name as one folded-stack field: ';' separates frames there, and
 * 0x names an anonymous function by its location only (" file:///x.js:3:9"). */
export function frameName(frame: TickFrame): string {
  const name = String(frame.name ?? '').replace(/[;\r\n]/g, ':');
  return name.startsWith(' ') ? `(anonymous)${name}` : name || '(unknown)';
}

export function foldTicks(ticks: unknown): FoldResult {
  if (!Array.isArray(ticks)) throw new Error('not a list of samples (expected a JSON array of stacks)');
  const counts = new Map<string, number>();
  let samples = 0;
  let empty = 0;
  for (const stack of ticks) {
    if (!Array.isArray(stack)) throw new Error('not a list of samples (a sample is not an array of frames)');
    if (stack.length === 0) {
      empty++;
      continue;
    }
    samples++;
    const key = (stack as TickFrame[]).map(frameName).join(';');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const lines = [...counts].map(([stack, n]) => `${stack} ${n}\n`).sort();
  return { text: lines.join(''), samples, empty };
}

/* The whole list is parsed at once; a profile of minutes can make the file
 * hundreds of MB (each frame carries its source positions), beyond what is
 * sensible to hold in the harness's memory, so such files are left unfolded. */
export const MAX_TICKS_FILE_BYTES = 256 * 1024 * 1024;

export function foldTicksFile(input: string, output: string): FoldResult {
  const size = fs.statSync(input).size;
  if (size > MAX_TICKS_FILE_BYTES) {
    throw new Error(`${input} is ${Math.round(size / 1048576)} MB, over the ${MAX_TICKS_FILE_BYTES / 1048576} MB this folds in memory`);
  }
  const result = foldTicks(JSON.parse(fs.readFileSync(input, 'utf8')));
  fs.writeFileSync(output, result.text);
  return result;
}
