/* A profile in a few numbers for results and reports: how much of the CPU
 * went to the kernel, how much to waiting in the multiplexing call itself
 * (the thing muxbench compares), and which frames burn the most. */
import type { Folded } from './fold.js';
import { isKernelFrame } from './tree.js';

export interface ProfileSummary {
  samples: number;
  cpu_ms: number | null;
  /* The profile has kernel frames at all (V8 --prof profiles do not: their 0% kernel means "not seen"). */
  kernel_frames: boolean;
  kernel_percent: number;
  user_percent: number;
  mux_percent: number;
  mux_calls: { call: string; percent: number }[];
  top_self: { frame: string; percent: number }[];
}

export const MUX_CALLS: readonly string[] = ['select', 'pselect6', 'poll', 'ppoll', 'epoll_wait', 'epoll_pwait', 'epoll_pwait2', 'io_uring_enter'];

const TOP_SELF = 10;

/* The kernel's syscall entry points (__x64_sys_poll, __arm64_sys_ppoll,
 * __do_sys_io_uring_enter, ...): present whenever kernel frames were
 * recorded, and named after the syscall whatever wrapper made it. */
const KERNEL_ENTRY = /^(?:__(?:x64|x32|ia32|arm64|riscv|s390x|powerpc|se|do)_(?:compat_)?sys_)([a-z_0-9]+?)(?:_\[k\])?$/;

/* Without kernel frames, the C library's wrapper (or liburing's) names the
 * call: after dropping glibc's aliases' prefixes what is left is the call.
 * The time64 variants and pselect (made with pselect6) map to the syscall. */
const WRAPPER_ALIASES: Record<string, string> = {
  select: 'select',
  select64: 'select',
  pselect: 'pselect6',
  pselect64: 'pselect6',
  pselect6: 'pselect6',
  poll: 'poll',
  ppoll: 'ppoll',
  ppoll64: 'ppoll',
  epoll_wait: 'epoll_wait',
  epoll_pwait: 'epoll_pwait',
  epoll_pwait2: 'epoll_pwait2',
  io_uring_enter: 'io_uring_enter',
  io_uring_enter2: 'io_uring_enter',
};

function wrapperCall(frame: string): string | undefined {
  if (isKernelFrame(frame)) return undefined;
  const bare = frame.replace(/^__GI_/, '').replace(/^__libc_/, '').replace(/^__sys_/, '').replace(/^_+/, '');
  return Object.hasOwn(WRAPPER_ALIASES, bare) ? WRAPPER_ALIASES[bare] : undefined;
}

/* The multiplexing call a frame stands for, if any. With kernel frames in
 * the profile only the kernel's entry counts (time in the call itself, not
 * the wrapper's user-space part); without them, the wrapper is all there is. */
export function muxCallOf(frame: string, kernelFrames = true): string | undefined {
  const entry = KERNEL_ENTRY.exec(frame);
  if (entry) return MUX_CALLS.includes(entry[1]) ? entry[1] : undefined;
  return kernelFrames ? undefined : wrapperCall(frame);
}

function percent(part: number, whole: number): number {
  return whole > 0 ? Math.round((10_000 * part) / whole) / 100 : 0;
}

/* Ties in name order, so the same profile always summarises the same way. */
function largestFirst(counts: Map<string, number>, limit: number): [string, number][] {
  return [...counts].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0)).slice(0, limit);
}

/* Percentages are of all samples, rounded to 0.01. A sample counts for one
 * multiplexing call only: the innermost one recognised in its stack. */
export function summarizeProfile(f: Folded): ProfileSummary {
  let kernel = 0;
  let mux = 0;
  const perCall = new Map<string, number>();
  const self = new Map<string, number>();
  const kernelFrames = [...f.stacks.keys()].some((stack) => stack.split(';').some(isKernelFrame));
  for (const [stack, count] of f.stacks) {
    const frames = stack.split(';');
    const leaf = frames[frames.length - 1];
    if (isKernelFrame(leaf)) kernel += count;
    self.set(leaf, (self.get(leaf) ?? 0) + count);
    for (let i = frames.length - 1; i >= 0; i--) {
      const call = muxCallOf(frames[i], kernelFrames);
      if (call) {
        mux += count;
        perCall.set(call, (perCall.get(call) ?? 0) + count);
        break;
      }
    }
  }
  const kernelPercent = percent(kernel, f.samples);
  return {
    samples: f.samples,
    cpu_ms: f.periodNs === null ? null : (f.samples * f.periodNs) / 1e6,
    kernel_frames: kernelFrames,
    kernel_percent: kernelPercent,
    user_percent: f.samples > 0 ? Math.round((100 - kernelPercent) * 100) / 100 : 0,
    mux_percent: percent(mux, f.samples),
    mux_calls: largestFirst(perCall, MUX_CALLS.length).map(([call, count]) => ({ call, percent: percent(count, f.samples) })),
    top_self: largestFirst(self, TOP_SELF).map(([frame, count]) => ({ frame, percent: percent(count, f.samples) })),
  };
}
