/* Hand-off (--handoff N): N worker_threads build the replies, as a node hands
 * messages from its socket thread to message-handler threads. The loop posts
 * each job to the next worker in turn; the worker posts the reply back on its
 * MessagePort, and that message is the wake-up: libuv's async handle
 * (uv_async_send from the worker thread) wakes the loop from epoll_wait, and
 * the port's callback hands the reply to the connection that asked. Every
 * reply message counts as one wake-up. */
import { Worker } from 'node:worker_threads';
import { payloadShared } from './payload.js';
import { stats } from './stats.js';
import type { HttpJob, HttpReply, PeerJob, PeerReply, Task } from './work.js';

export class Handoff {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, (reply: PeerReply | HttpReply) => void>();
  private nextId = 0;
  private turn = 0;

  private constructor() {}

  /* Starts n workers and resolves once each has loaded its code. */
  static async start(n: number, onError: (err: Error) => void): Promise<Handoff> {
    const h = new Handoff();
    const url = new URL('./worker.js', import.meta.url);
    const ready: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      const w = new Worker(url, { workerData: { pattern: payloadShared() } });
      w.on('error', onError);
      w.on('exit', (code) => onError(new Error(`hand-off worker exited with status ${code}`)));
      // Its first message says it is ready; the rest are replies.
      ready.push(new Promise((resolve) => w.once('message', resolve)));
      h.workers.push(w);
    }
    await Promise.all(ready);
    for (const w of h.workers) w.on('message', (m: { id: number; reply: PeerReply | HttpReply }) => h.onReply(m.id, m.reply));
    return h;
  }

  peer(job: PeerJob, done: (reply: PeerReply) => void): void {
    // The payload may be a view into a large read buffer: post a copy of
    // just these bytes, and move it rather than copy it again.
    const payload = Buffer.allocUnsafeSlow(job.payload.length); // no zero fill
    payload.set(job.payload);
    this.submit({ proto: 'peer', job: { ...job, payload } }, [payload.buffer], (r) => done(r as PeerReply));
  }

  http(job: HttpJob, done: (reply: HttpReply) => void): void {
    this.submit({ proto: 'http', job }, [], (r) => done(r as HttpReply));
  }

  private submit(task: Task, transfer: ArrayBuffer[], done: (reply: PeerReply | HttpReply) => void): void {
    const id = this.nextId++;
    this.waiting.set(id, done);
    stats.handoffJobs++;
    const w = this.workers[this.turn];
    this.turn = (this.turn + 1) % this.workers.length;
    w.postMessage({ id, task }, transfer);
  }

  private onReply(id: number, reply: PeerReply | HttpReply): void {
    stats.handoffWakeups++;
    const done = this.waiting.get(id);
    this.waiting.delete(id);
    done?.(reply);
  }
}
