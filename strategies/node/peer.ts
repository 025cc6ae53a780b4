/* Peer protocol over node:net: Bitcoin P2P v1 framing (strategies/core/p2p.c).
 * The connection parses frames; answering them (work.ts: pong for ping, a
 * stream of block messages for getdata, relay for inv, verification of an
 * upload's blocks) runs on the loop, or with --handoff on a worker thread
 * while the connection holds its further input: one request at a time, as in
 * the C core (the socket is read on until 64 KiB are held, then paused).
 * Unknown commands are ignored; framing errors and bad blocks disconnect.
 *
 * Relay: a valid inv is written, unchanged, to every other open peer; a peer
 * whose socket buffer is then over its high-water mark stops being read until
 * 'drain', as for its own replies, and one with 1 MiB unsent gets no more
 * copies (dropped and counted, as the C hub does). Like the C session, parsing
 * pauses while a block stream is being written, so replies keep the order of
 * the requests. */
import net from 'node:net';
import type { Handoff } from './handoff.js';
import { payloadPiece } from './payload.js';
import { stats } from './stats.js';
import { encodeHeader, p2pChecksum, peerWork, P2P_COMMAND_LEN, P2P_HEADER_LEN, P2P_MAGIC, P2P_MAX_PAYLOAD, type Blocks, type PeerJob, type PeerReply } from './work.js';

export interface PeerOptions {
  verifyChecksum: boolean;
  handoff: Handoff | null;
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

interface BlockStream extends Blocks {
  next: number;
}

interface Upload extends Blocks {
  next: number;
}

const EMPTY = Buffer.alloc(0);
/* While a worker answers a request, the socket is still read until this much
 * input is held, as the C session does (SESSION_PAUSED_INPUT_LIMIT). */
const HELD_INPUT_LIMIT = 64 * 1024;
/* Queued output above which a peer gets no more relayed copies (hub.c:
 * HUB_RELAY_LIMIT): a peer that does not read must not grow the server. */
const RELAY_LIMIT = 1024 * 1024;

class PeerConnection {
  /* Unparsed input: `input` from `off`, then `parts` not yet joined to it. */
  private input: Buffer = EMPTY;
  private off = 0;
  private parts: Buffer[] = [];
  private partBytes = 0;
  /* Bytes the parser needs before it can make progress. */
  private need = 4;
  private stream: BlockStream | null = null;
  private upload: Upload | null = null;
  /* A request is with a hand-off worker. */
  private busy = false;
  private eof = false;
  private closing = false;
  private waitingDrain = false;

  constructor(
    private readonly sock: net.Socket,
    private readonly opts: PeerOptions,
    private readonly peers: Set<PeerConnection>,
  ) {
    peers.add(this);
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('end', () => {
      this.eof = true;
      this.maybeEnd();
    });
    sock.on('drain', () => this.onDrain());
    sock.on('error', () => {
      /* 'close' follows; the peer is gone */
    });
    sock.on('close', () => {
      this.closing = true;
      peers.delete(this);
    });
  }

  private onData(d: Buffer): void {
    stats.readCalls++;
    if (this.closing) return;
    this.parts.push(d);
    this.partBytes += d.length;
    if (this.busy) return this.holdInput();
    if (this.held() < this.need) return;
    this.join();
    this.parse();
  }

  /* Input received and not parsed yet. */
  private held(): number {
    return this.input.length - this.off + this.partBytes;
  }

  /* Input waits behind the request a worker is answering; enough of it stops reading. */
  private holdInput(): void {
    if (this.held() >= HELD_INPUT_LIMIT) this.sock.pause();
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

  /* The job for a frame, or null for commands the server ignores (a block
   * counts only during an upload). */
  private classify(command: string, payload: Buffer): PeerJob | null {
    const checksum = this.opts.verifyChecksum;
    switch (command) {
      case 'ping':
      case 'getdata':
      case 'inv':
      case 'upload':
        return { kind: command, payload, checksum };
      case 'block':
        return this.upload ? { kind: 'block', payload, checksum, up: this.upload, index: this.upload.next } : null;
      default:
        return null;
    }
  }

  private parse(): void {
    const buf = this.input;
    while (!this.closing && this.stream === null && !this.busy) {
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
      const job = this.classify(command, payload);
      if (!job) continue;
      // A second announcement before the first upload finished.
      if (job.kind === 'upload' && this.upload) return this.fail();
      this.dispatch(job);
    }
    if (this.closing) return;
    if (this.off === this.input.length) {
      this.input = EMPTY;
      this.off = 0;
    }
    if (this.stream) {
      this.sock.pause(); // stop reading while the stream goes out
      this.pump();
    } else if (this.busy) {
      this.holdInput();
    } else if (this.sock.writableNeedDrain) {
      this.pauseForDrain();
    } else {
      this.maybeEnd();
    }
  }

  private dispatch(job: PeerJob): void {
    const pool = this.opts.handoff;
    if (!pool) {
      this.apply(peerWork(job));
      return;
    }
    this.busy = true;
    pool.peer(job, (reply) => {
      this.busy = false;
      // A reply for a peer that is gone is dropped.
      if (this.closing) return;
      this.apply(reply);
      if (!this.closing) this.proceed();
    });
  }

  /* What a reply does to the connection (session_apply in the C core). */
  private apply(r: PeerReply): void {
    if (r.error) return this.fail();
    if (r.relay) {
      if (r.bytes) this.relay(r.bytes);
    } else if (r.bytes) {
      this.sock.write(r.bytes);
    }
    stats.messagesOut += r.messages;
    if (r.upload) this.upload = r.upload.count > 0 ? { ...r.upload, next: 0 } : null;
    if (r.block && this.upload) {
      stats.payloadBytesIn += this.upload.size;
      if (++this.upload.next === this.upload.count) this.upload = null;
    }
    if (r.stream) this.stream = { ...r.stream, next: 0 };
  }

  /* An inv to every other open peer, counted per copy. */
  private relay(msg: Uint8Array): void {
    for (const p of this.peers) if (p !== this) p.deliver(msg);
  }

  /* Writes a relayed message, unless the peer is closing or has not read
   * the last megabyte it was sent (then the copy is dropped and counted). */
  private deliver(msg: Uint8Array): void {
    if (this.closing || !this.sock.writable) return;
    if (this.sock.writableLength >= RELAY_LIMIT) {
      stats.relayDropped++;
      return;
    }
    this.sock.write(msg);
    stats.relayed++;
    stats.messagesOut++;
    // A peer that does not read what it is sent stops being read.
    if (this.sock.writableNeedDrain && !this.waitingDrain) this.pauseForDrain();
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
    this.proceed();
  }

  /* After a stream or a worker's reply: requests that arrived behind it are
   * served now, in order, and reading resumes. */
  private proceed(): void {
    this.join();
    this.parse();
    const holding = this.busy && this.held() >= HELD_INPUT_LIMIT;
    if (!this.stream && !holding && !this.closing && !this.waitingDrain && !this.eof) this.sock.resume();
  }

  private onDrain(): void {
    if (!this.waitingDrain || this.closing) return;
    this.waitingDrain = false;
    if (this.stream) {
      this.pump();
      return;
    }
    this.proceed();
  }

  /* A client that half-closed gets everything it asked for, then the close. */
  private maybeEnd(): void {
    if (!this.eof || this.closing || this.stream || this.busy || this.waitingDrain) return;
    if (this.parts.length) {
      this.join();
      this.parse();
      if (this.stream || this.busy || this.closing || this.waitingDrain) return;
    }
    this.closing = true;
    this.sock.end();
  }
}

export function createPeerServer(opts: PeerOptions, onConnection: (s: net.Socket) => void): net.Server {
  // Every open peer: the targets of relay.
  const peers = new Set<PeerConnection>();
  return net.createServer({ allowHalfOpen: true, noDelay: true }, (sock) => {
    onConnection(sock);
    new PeerConnection(sock, opts, peers);
  });
}
