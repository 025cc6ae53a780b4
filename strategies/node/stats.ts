/* Counters of the Node.js strategy, reported by the control channel.
 *
 * Node makes its syscalls inside libuv, out of reach: "read" and "write"
 * stand for what JavaScript sees. Their byte totals are exact socket totals
 * (socket.bytesRead / socket.bytesWritten, summed over open sockets plus a
 * running total of closed ones), so the harness's byte checks hold; their
 * call counts are 'data' events (peer) or requests (HTTP, whose parser reads
 * the socket in C++) and socket.write() calls. */
import type net from 'node:net';

export const stats = {
  accepted: 0,
  closed: 0,
  readCalls: 0,
  writeCalls: 0,
  messagesIn: 0,
  messagesOut: 0,
  payloadBytesOut: 0,
  protocolErrors: 0,
  /* Verified upload blocks. */
  payloadBytesIn: 0,
  /* Copies of relayed inv messages (also in messagesOut). */
  relayed: 0,
  /* Copies not written: the peer had 1 MiB queued and was not reading. */
  relayDropped: 0,
  /* Requests posted to hand-off workers, and replies posted back (each one
   * wakes the loop through its MessagePort). */
  handoffJobs: 0,
  handoffWakeups: 0,
};

const open = new Set<net.Socket>();
let closedRead = 0;
let closedWritten = 0;

type AnyWrite = (...args: unknown[]) => boolean;

/* Counts a new connection, its write() calls and, when it closes, its bytes. */
export function track(socket: net.Socket): void {
  stats.accepted++;
  open.add(socket);
  const write = socket.write as unknown as AnyWrite;
  socket.write = function (this: net.Socket, ...args: unknown[]): boolean {
    stats.writeCalls++;
    return write.apply(this, args);
  } as unknown as net.Socket['write'];
  socket.once('close', () => {
    closedRead += socket.bytesRead ?? 0;
    closedWritten += socket.bytesWritten ?? 0;
    open.delete(socket);
    stats.closed++;
  });
}

export function socketBytes(): { read: number; written: number; open: number } {
  let read = closedRead;
  let written = closedWritten;
  for (const s of open) {
    read += s.bytesRead ?? 0;
    written += s.bytesWritten ?? 0;
  }
  return { read, written, open: open.size };
}
