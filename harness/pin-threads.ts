/* Pinning a server's loop threads one by one.
 *
 * The server is started under `taskset -c <server CPUs>`, which confines all
 * its threads to that set but lets the scheduler move them inside it. A
 * server with several loop threads announces their kernel thread ids; the
 * harness then pins loop thread i to the i-th server CPU (round robin when
 * there are more loops than CPUs), so each loop keeps its own CPU and cache
 * as the threading model intends. Helper threads (hand-off workers, the
 * control thread) keep the whole server set. */
import { execFile } from 'node:child_process';

/* The loop thread ids of a "listening" event (positive integers), or []. */
export function loopThreadIds(listening: Record<string, unknown>): number[] {
  const v = listening.loop_threads;
  return Array.isArray(v) ? v.filter((t): t is number => Number.isSafeInteger(t) && (t as number) > 0) : [];
}

/* The CPU for each loop thread: round robin over the server's CPUs. */
export function cpuPerThread(threads: number, cpus: number[]): number[] {
  return Array.from({ length: threads }, (_, i) => cpus[i % cpus.length]);
}

function tasksetThread(tid: number, cpu: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('taskset', ['-p', '-c', String(cpu), String(tid)], { timeout: 5000 }, (err, _out, stderr) => {
      if (err) reject(new Error(`taskset -p -c ${cpu} ${tid}: ${(stderr || err.message).trim()}`));
      else resolve();
    });
  });
}

/* Pins each thread to its CPU; returns the CPUs in thread order. */
export async function pinLoopThreads(tids: number[], cpus: number[]): Promise<number[]> {
  const each = cpuPerThread(tids.length, cpus);
  await Promise.all(tids.map((tid, i) => tasksetThread(tid, each[i])));
  return each;
}
