/* A hand-off worker thread: answers the jobs the loop posts (work.ts) and
 * posts each reply back on its MessagePort, which wakes the loop through
 * libuv's async handle. It reads the payload pattern its parent built. */
import { parentPort, workerData } from 'node:worker_threads';
import { payloadAdopt } from './payload.js';
import { httpWork, peerWork, type Task } from './work.js';

const port = parentPort;
if (!port) throw new Error('worker.js runs as a worker thread');
payloadAdopt((workerData as { pattern: SharedArrayBuffer }).pattern);

port.on('message', ({ id, task }: { id: number; task: Task }) => {
  if (task.proto === 'http') {
    port.postMessage({ id, reply: httpWork(task.job) });
    return;
  }
  const reply = peerWork(task.job);
  const b = reply.bytes;
  if (!b) {
    port.postMessage({ id, reply });
    return;
  }
  // Posting a view would copy its whole ArrayBuffer (small messages share
  // Buffer's pool): move a buffer that holds just these bytes.
  const bytes = b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : new Uint8Array(b);
  port.postMessage({ id, reply: { ...reply, bytes } }, [bytes.buffer as ArrayBuffer]);
});
port.postMessage({ ready: true });
