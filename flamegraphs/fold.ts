/* Stack folding: `perf script` output (its default format) into Brendan
 * Gregg's folded stacks ("root;child;leaf count"), the one form every
 * renderer here reads. Frame names follow flamegraph.pl's conventions so a
 * folded file from here can also be fed to flamegraph.pl and friends. */
import path from 'node:path';

export interface Folded {
  /* Frames root first, joined by ';' -> number of samples. */
  stacks: Map<string, number>;
  /* Total samples (sum of stacks). */
  samples: number;
  /* CPU nanoseconds one sample stands for (perf's sample period for the cpu-clock event), or null when unknown or not the same for every sample. */
  periodNs: number | null;
}

const COMMENT_PREFIX = '# muxbench folded stacks: period_ns=';

/* "<comm> <pid>[/<tid>] [<cpu>] <time>: <rest>". The comm may hold spaces
 * ("node worker") and perf pads it, so the greedy comm group makes the time
 * the right-most one and everything is read outward from it. */
const HEADER = /^(.*\S)\s+(\d+)(?:\/\d+)?\s+(?:\[\d+\]\s+)?\d+\.\d+:\s+(.*)$/;
/* What follows the time: "[<period>] <event>:" and, in output recorded
 * without -g, the one frame on the same line. Tracepoint events hold a ':'
 * themselves ("sched:sched_switch:"), hence the greedy event. */
const HEADER_REST = /^(?:(\d+)\s+)?(\S+):(?:\s+(.*))?$/;
/* "<hex ip> <symbol>[+0x<off>] (<dso>)". */
const FRAME = /^\s*([0-9a-f]+)\s+(.*)$/;

/* gcc's clone suffixes name one source function several ways; flamegraphs
 * should merge them (settle.constprop.0 and settle are the same code). */
const CLONE_SUFFIXES = /(?:\.(?:constprop|isra|part)\.\d+|\.cold(?:\.\d+)?)+$/;
/* Kernel text lives in the top half of the address space on every 64-bit
 * Linux; a bracketed dso there is the kernel or one of its modules. */
const KERNEL_HALF = 0x8000_0000_0000_0000n;

function isKernelDso(dso: string, ip: string): boolean {
  if (dso.startsWith('[kernel') || dso.endsWith('vmlinux')) return true;
  // Modules print as "[nf_tables]", and output without the dso column has
  // only the address; [vdso] is user code at a user address, [vsyscall] the
  // one user page up there.
  if (dso === '[vsyscall]' || (dso !== '' && (!dso.startsWith('[') || dso === '[unknown]'))) return false;
  return BigInt(`0x${ip}`) >= KERNEL_HALF;
}

function frameName(ip: string, text: string): string {
  let symbol = text.trim();
  let dso = '';
  // The dso is the last parenthesised group: C++ and JS symbols hold " (" themselves.
  const open = symbol.lastIndexOf(' (');
  if (symbol.endsWith(')') && open >= 0) {
    dso = symbol.slice(open + 2, -1);
    symbol = symbol.slice(0, open).trim();
  }
  // Symbol versions (__libc_start_main@@GLIBC_2.34) name the same function as the plain symbol.
  symbol = symbol.replace(/\+0x[0-9a-f]+$/, '').replace(/@@?[A-Za-z0-9_.]+$/, '').replace(CLONE_SUFFIXES, '');
  let name: string;
  if (symbol === '' || symbol === '[unknown]') {
    if (dso === '' || dso === '[unknown]') name = '[unknown]';
    else if (dso.startsWith('[')) name = dso;
    else name = `[${path.posix.basename(dso)}]`;
  } else {
    name = symbol;
  }
  // ';' separates frames in the folded format.
  name = name.replace(/;/g, ':');
  return isKernelDso(dso, ip) ? `${name}_[k]` : name;
}

interface Sample {
  comm: string;
  /* Leaf first, as perf prints them. */
  frames: string[];
}

/* Folds `perf script` output line by line, so output of any size (long
 * DWARF recordings run to gigabytes) is folded as it streams in. Lines that
 * are neither a sample header nor a frame of one (perf's warnings, blank
 * lines) are skipped. */
export class PerfScriptFolder {
  private readonly stacks = new Map<string, number>();
  private samples = 0;
  private event: string | null = null;
  private period: number | null = null;
  private periodKnown = true;
  private current: Sample | null = null;

  private finishSample(): void {
    if (!this.current) return;
    const key = [this.current.comm, ...this.current.frames.reverse()].join(';');
    this.stacks.set(key, (this.stacks.get(key) ?? 0) + 1);
    this.samples++;
    this.current = null;
  }

  line(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') {
      this.finishSample();
      return;
    }
    if (!/^\s/.test(line)) {
      const header = HEADER.exec(line);
      const rest = header && HEADER_REST.exec(header[3]);
      if (!header || !rest) return;
      this.finishSample();
      const [, periodText, eventName, inlineFrame] = rest;
      if (this.event === null) this.event = eventName;
      else if (eventName !== this.event) this.periodKnown = false;
      const samplePeriod = periodText === undefined ? null : Number(periodText);
      if (samplePeriod === null) this.periodKnown = false;
      else if (this.period === null) this.period = samplePeriod;
      else if (samplePeriod !== this.period) this.periodKnown = false;
      this.current = { comm: header[1].trim().replace(/;/g, ':'), frames: [] };
      const frame = inlineFrame && FRAME.exec(inlineFrame);
      if (frame) this.current.frames.push(frameName(frame[1], frame[2]));
      return;
    }
    const frame = FRAME.exec(line);
    if (frame && this.current) this.current.frames.push(frameName(frame[1], frame[2]));
  }

  result(): Folded {
    this.finishSample();
    const p = this.period;
    return { stacks: this.stacks, samples: this.samples, periodNs: this.periodKnown && p !== null && p > 0 ? p : null };
  }
}

export function foldPerfScript(text: string): Folded {
  const folder = new PerfScriptFolder();
  for (const line of text.split('\n')) folder.line(line);
  return folder.result();
}

export function formatFolded(f: Folded): string {
  const lines = [...f.stacks.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([stack, count]) => `${stack} ${count}\n`);
  return `${COMMENT_PREFIX}${f.periodNs ?? 'unknown'}\n${lines.join('')}`;
}

/* Reads formatFolded's output and plain folded files (flamegraph.pl's
 * stackcollapse-*.pl, 0x's, ...). The count follows the LAST space because
 * frame names (C++ templates, JS functions) hold spaces. A stack seen twice
 * adds up, as flamegraph.pl does. Counts are whole samples. */
export function parseFolded(text: string): Folded {
  const stacks = new Map<string, number>();
  let samples = 0;
  let periodNs: number | null = null;
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      if (line.startsWith(COMMENT_PREFIX)) {
        const value = line.slice(COMMENT_PREFIX.length).trim();
        periodNs = /^\d+(\.\d+)?$/.test(value) && Number(value) > 0 ? Number(value) : null;
      }
      return;
    }
    const space = line.lastIndexOf(' ');
    const stack = space > 0 ? line.slice(0, space) : '';
    const countText = space > 0 ? line.slice(space + 1) : '';
    if (stack.trim() === '' || !/^\d+$/.test(countText)) {
      throw new Error(`folded stacks line ${index + 1}: expected "frame;frame;... <count>", got ${JSON.stringify(line.slice(0, 200))}`);
    }
    const count = Number(countText);
    stacks.set(stack, (stacks.get(stack) ?? 0) + count);
    samples += count;
  });
  return { stacks, samples, periodNs };
}

/* The same profile with its root frames (thread names) renamed; stacks that
 * end up equal add up. Two strategies' programs have different names
 * (muxbench-epoll, muxbench-io_uri), so a differential profile of the two
 * lines up only once their threads share one name. */
export function renameThreads(f: Folded, rename: (thread: string) => string): Folded {
  const stacks = new Map<string, number>();
  for (const [stack, count] of f.stacks) {
    const cut = stack.indexOf(';');
    const thread = cut < 0 ? stack : stack.slice(0, cut);
    const key = rename(thread).replace(/;/g, ':') + (cut < 0 ? '' : stack.slice(cut));
    stacks.set(key, (stacks.get(key) ?? 0) + count);
  }
  return { stacks, samples: f.samples, periodNs: f.periodNs };
}
