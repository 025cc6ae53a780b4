/* Peer protocol over node:net: Bitcoin P2P v1 framing (strategies/core/p2p.c),
 * ping answered with pong, getdata with a stream of block messages drawn from
 * the seeded generator, unknown commands ignored, framing errors disconnect.
 * Like the C session, parsing pauses while a block stream is being written,
 * so replies keep the order of the requests. */
import crypto from 'node:crypto';
import net from 'node:net';
import { payloadPiece, PAYLOAD_MAX_PIECE } from './payload.js';
import { stats } from './stats.js';

export const P2P_MAGIC = 0xd9b4bef9;
export const P2P_HEADER_LEN = 24;
export const P2P_COMMAND_LEN = 12;
export const P2P_MAX_PAYLOAD = 4_000_000;
const GETDATA_LEN = 16;

/* First 4 bytes of SHA256(SHA256(payload)), as the u32 LE stored in the header. */
export function p2pChecksum(payload: Uint8Array): number {
  const h1 = crypto.createHash('sha256').update(payload).digest();
  return crypto.createHash('sha256').update(h1).digest().readUInt32LE(0);
}

/* The command at buf[off..off+12): printable ASCII then only NUL padding, not
 * empty (as Bitcoin Core checks it); null when malformed. */
function commandAt(buf: Buffer, off: number): string | null {
  let i = 0;
  while (i < P2P_COMMAND_LEN && buf[off + i] !== 0) {
    const c = buf[off + i];
    if (c < 0x20 || c > 0x7e) return null;
    i++;
  }
  if (i === 0) return null;
  for (let j = i; j < P2P_COMMAND_LEN; j++) if (buf[off + j] !== 0) return null;
  return buf.toString('latin1', off, off + i);
}

function encodeHeader(out: Buffer, command: string, length: number, checksum: number): void {
  out.writeUInt32LE(P2P_MAGIC, 0);
  out.fill(0, 4, 4 + P2P_COMMAND_LEN);
  out.write(command, 4, P2P_COMMAND_LEN, 'latin1');
  out.writeUInt32LE(length, 16);
  out.writeUInt32LE(checksum >>> 0, 20);
}

interface BlockStream {
  seed: bigint;
  size: number;
  next: number;
  count: number;
}

export interface PeerOptions {
  verifyChecksum: boolean;
}

const EMPTY = Buffer.alloc(0);

class PeerConnection {
  /* Unparsed input: `input` from `off`, then `parts` not yet joined to it. */
  private input: Buffer = EMPTY;
  private off = 0;
  private parts: Buffer[] = [];
  private partBytes = 0;
  /* Bytes the parser needs before it can make progress. */
  private need = 4;
  private stream: BlockStream | null = null;
  private eof = false;
  private closing = false;
  private waitingDrain = false;

  constructor(
    private readonly sock: net.Socket,
    private readonly opts: PeerOptions,
  ) {
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('end', () => {
      this.eof = true;
      this.maybeEnd();
    });
    sock.on('drain', () => this.onDrain());
    sock.on('error', () => {
      /* 'close' follows; the peer is gone */
    });
  }

  private onData(d: Buffer): void {
    stats.readCalls++;
    if (this.closing) return;
    this.parts.push(d);
    this.partBytes += d.length;
    if (this.input.length - this.off + this.partBytes < this.need) return;
    this.join();
    this.parse();
  }

  private join(): void {
    if (this.parts.length === 0) return;
    const rest = this.input.length - this.off;
    if (rest === 0 && this.parts.length === 1) this.input = this.parts[0];
    else this.input = Buffer.concat(rest ? [this.input.subarray(this.off), ...this.parts] : this.parts, rest + this.partBytes);
    this.off = 0;
    this.parts = [];
    this.partBytes = 0;
  }

  private fail(): void {
    stats.protocolErrors++;
    this.closing = true;
    this.stream = null;
    this.input = EMPTY;
    this.off = 0;
    this.parts = [];
    // Close once what is already queued is flushed, as the C session does.
    if (this.sock.writableLength === 0) this.sock.destroy();
    else {
      this.sock.pause();
      this.sock.once('finish', () => this.sock.destroy());
      this.sock.end();
    }
  }

  private parse(): void {
    const buf = this.input;
    while (!this.closing && this.stream === null) {
      const avail = buf.length - this.off;
      const at = this.off;
      // The magic is checked as soon as 4 bytes are there, so garbage is rejected early.
      if (avail >= 4 && buf.readUInt32LE(at) !== P2P_MAGIC) return this.fail();
      if (avail < P2P_HEADER_LEN) {
        this.need = avail < 4 ? 4 : P2P_HEADER_LEN;
        break;
      }
      const command = commandAt(buf, at + 4);
      if (command === null) return this.fail();
      const length = buf.readUInt32LE(at + 16);
      if (length > P2P_MAX_PAYLOAD) return this.fail();
      if (avail - P2P_HEADER_LEN < length) {
        this.need = P2P_HEADER_LEN + length;
        break;
      }
      const payload = buf.subarray(at + P2P_HEADER_LEN, at + P2P_HEADER_LEN + length);
      if (this.opts.verifyChecksum && p2pChecksum(payload) !== buf.readUInt32LE(at + 20)) return this.fail();
      this.off = at + P2P_HEADER_LEN + length;
      this.need = 4;
      stats.messagesIn++;
      if (command === 'ping') {
        this.send('pong', payload);
      } else if (command === 'getdata') {
        if (length !== GETDATA_LEN) return this.fail();
        const count = payload.readUInt32LE(0);
        const size = payload.readUInt32LE(4);
        const seed = payload.readBigUInt64LE(8);
        if (size === 0 || size > PAYLOAD_MAX_PIECE) return this.fail();
        if (count > 0) this.stream = { seed, size, next: 0, count };
      }
      // Unknown commands are ignored, as a node ignores them.
    }
    if (this.off === this.input.length) {
      this.input = EMPTY;
      this.off = 0;
    }
    if (this.stream) {
      this.sock.pause(); // stop reading while the stream goes out
      this.pump();
    } else if (this.sock.writableNeedDrain) {
      this.pauseForDrain();
    } else {
      this.maybeEnd();
    }
  }

  private send(command: string, payload: Buffer): void {
    const msg = Buffer.allocUnsafe(P2P_HEADER_LEN + payload.length);
    encodeHeader(msg, command, payload.length, this.opts.verifyChecksum ? p2pChecksum(payload) : 0);
    payload.copy(msg, P2P_HEADER_LEN);
    this.sock.write(msg);
    stats.messagesOut++;
  }

  private pauseForDrain(): void {
    this.waitingDrain = true;
    this.sock.pause();
  }

  private pump(): void {
    const st = this.stream;
    if (!st || this.closing) return;
    while (st.next < st.count) {
      // The piece is a subarray of the shared pattern: written by reference.
      const piece = payloadPiece(st.seed, st.next, st.size);
      const hdr = Buffer.allocUnsafe(P2P_HEADER_LEN);
      encodeHeader(hdr, 'block', st.size, this.opts.verifyChecksum ? p2pChecksum(piece) : 0);
      st.next++;
      stats.messagesOut++;
      stats.payloadBytesOut += st.size;
      // Header and piece go out together (one writev) rather than as two writes.
      this.sock.cork();
      this.sock.write(hdr);
      const ok = this.sock.write(piece);
      this.sock.uncork();
      if (!ok || this.sock.writableNeedDrain) {
        this.waitingDrain = true;
        return; // continue on 'drain'
      }
    }
    this.stream = null;
    this.afterStream();
  }

  private afterStream(): void {
    // Requests that arrived behind the getdata are served now, in order.
    this.join();
    this.parse();
    if (!this.stream && !this.closing && !this.waitingDrain && !this.eof) this.sock.resume();
  }

  private onDrain(): void {
    if (!this.waitingDrain || this.closing) return;
    this.waitingDrain = false;
    if (this.stream) {
      this.pump();
      return;
    }
    this.afterStream();
  }

  /* A client that half-closed gets everything it asked for, then the close. */
  private maybeEnd(): void {
    if (!this.eof || this.closing || this.stream || this.waitingDrain) return;
    if (this.parts.length) {
      this.join();
      this.parse();
      if (this.stream || this.closing || this.waitingDrain) return;
    }
    this.closing = true;
    this.sock.end();
  }
}

export function createPeerServer(opts: PeerOptions, onConnection: (s: net.Socket) => void): net.Server {
  return net.createServer({ allowHalfOpen: true, noDelay: true }, (sock) => {
    onConnection(sock);
    new PeerConnection(sock, opts);
  });
}
