/* Answering one parsed request, apart from any socket, so that it can run on
 * the loop or on a hand-off worker (worker.ts), as job_work() in the C core:
 * a job goes in, a reply comes out, and the loop applies the reply to its
 * connection. Everything here is plain data that survives postMessage. */
import crypto from 'node:crypto';
import http from 'node:http';
import { payloadMatches, PAYLOAD_MAX_PIECE } from './payload.js';

export const P2P_MAGIC = 0xd9b4bef9;
export const P2P_HEADER_LEN = 24;
export const P2P_COMMAND_LEN = 12;
export const P2P_MAX_PAYLOAD = 4_000_000;
const GETDATA_LEN = 16;
const INV_ENTRY_LEN = 36;

/* The fixed chain height that getblockcount reports. */
const CHAIN_HEIGHT = 870000;
/* Largest body /bulk serves (1 PiB), as in session_http.c. */
const HTTP_MAX_BULK = 2 ** 50;

/* {count, size, seed}: the payload of getdata, upload and uploaded. */
export interface Blocks {
  count: number;
  size: number;
  seed: bigint;
}

export type PeerJob =
  | { kind: 'ping' | 'getdata' | 'upload' | 'inv'; payload: Uint8Array; checksum: boolean }
  /* Block `index` of the upload `up`. */
  | { kind: 'block'; payload: Uint8Array; checksum: boolean; up: Blocks; index: number };

export interface PeerReply {
  bytes: Uint8Array | null; /* messages for the connection, or for every other peer */
  messages: number;
  relay: boolean;
  error: boolean;
  stream: Blocks | null; /* getdata: block messages to produce */
  upload: Blocks | null; /* upload: blocks to expect */
  block: boolean; /* one more uploaded block verified */
}

export interface HttpJob {
  method: string;
  path: string;
  query: string | null;
  body: string;
}

export type HttpReply =
  | { kind: 'text'; status: number; type: string; body: string }
  | { kind: 'bulk'; total: number; chunk: number; seed: bigint };

/* First 4 bytes of SHA256(SHA256(payload)), as the u32 LE stored in the header. */
export function p2pChecksum(payload: Uint8Array): number {
  const h1 = crypto.createHash('sha256').update(payload).digest();
  return crypto.createHash('sha256').update(h1).digest().readUInt32LE(0);
}

export function encodeHeader(out: Buffer, command: string, length: number, checksum: number): void {
  out.writeUInt32LE(P2P_MAGIC, 0);
  out.fill(0, 4, 4 + P2P_COMMAND_LEN);
  out.write(command, 4, P2P_COMMAND_LEN, 'latin1');
  out.writeUInt32LE(length, 16);
  out.writeUInt32LE(checksum >>> 0, 20);
}

function message(command: string, payload: Uint8Array, checksum: boolean): Buffer {
  const msg = Buffer.allocUnsafe(P2P_HEADER_LEN + payload.length);
  encodeHeader(msg, command, payload.length, checksum ? p2pChecksum(payload) : 0);
  msg.set(payload, P2P_HEADER_LEN);
  return msg;
}

/* p2p_getdata_decode: exactly 16 bytes, a piece size in 1..P2P_MAX_PAYLOAD. */
function decodeBlocks(p: Uint8Array): Blocks | null {
  if (p.length !== GETDATA_LEN) return null;
  const v = Buffer.from(p.buffer, p.byteOffset, p.length);
  const b = { count: v.readUInt32LE(0), size: v.readUInt32LE(4), seed: v.readBigUInt64LE(8) };
  return b.size > 0 && b.size <= P2P_MAX_PAYLOAD && b.size <= PAYLOAD_MAX_PIECE ? b : null;
}

function encodeBlocks(b: Blocks): Buffer {
  const p = Buffer.alloc(GETDATA_LEN);
  p.writeUInt32LE(b.count, 0);
  p.writeUInt32LE(b.size, 4);
  p.writeBigUInt64LE(b.seed, 8);
  return p;
}

/* An inv payload: a CompactSize count (small counts only) and 36-byte entries. */
function invValid(p: Uint8Array): boolean {
  return p.length >= 1 && p[0] > 0 && p[0] < 0xfd && p.length === 1 + p[0] * INV_ENTRY_LEN;
}

export function peerWork(job: PeerJob): PeerReply {
  const r: PeerReply = { bytes: null, messages: 0, relay: false, error: false, stream: null, upload: null, block: false };
  switch (job.kind) {
    case 'ping':
      r.bytes = message('pong', job.payload, job.checksum);
      r.messages = 1;
      break;
    case 'getdata':
    case 'upload': {
      const b = decodeBlocks(job.payload);
      if (!b) r.error = true;
      else if (job.kind === 'getdata') r.stream = b.count > 0 ? b : null;
      else {
        r.upload = b;
        if (b.count === 0) {
          // Nothing to wait for: acknowledged at once.
          r.bytes = message('uploaded', job.payload, job.checksum);
          r.messages = 1;
        }
      }
      break;
    }
    case 'inv':
      // Relayed unchanged; counted per copy when the loop hands it out.
      if (!invValid(job.payload)) r.error = true;
      else {
        r.bytes = message('inv', job.payload, job.checksum);
        r.relay = true;
      }
      break;
    case 'block':
      if (job.payload.length !== job.up.size || !payloadMatches(job.payload, job.up.seed, job.index)) {
        r.error = true;
        break;
      }
      r.block = true;
      if (job.index + 1 === job.up.count) {
        r.bytes = message('uploaded', encodeBlocks(job.up), job.checksum);
        r.messages = 1;
      }
      break;
  }
  return r;
}

const reason = (status: number) => http.STATUS_CODES[status] ?? 'Error';

export const textReply = (status: number): HttpReply => ({ kind: 'text', status, type: 'text/plain', body: `${reason(status)}\n` });

function rpcReply(status: number, result: unknown, error: unknown, id: unknown): HttpReply {
  return { kind: 'text', status, type: 'application/json', body: `${JSON.stringify({ result, error, id })}\n` };
}

function rpc(body: string): HttpReply {
  let rq: unknown;
  try {
    rq = JSON.parse(body);
  } catch {
    rq = undefined;
  }
  if (typeof rq !== 'object' || rq === null || Array.isArray(rq)) return rpcReply(500, null, { code: -32700, message: 'Parse error' }, null);
  const r = rq as { id?: unknown; method?: unknown };
  const id = r.id === undefined ? null : r.id;
  if (r.method === 'getblockcount') return rpcReply(200, CHAIN_HEIGHT, null, id);
  // Bitcoin Core answers unknown methods with 404 and a JSON-RPC error.
  return rpcReply(404, null, { code: -32601, message: 'Method not found' }, id);
}

/* name=<unsigned> from a query string, as session_http.c reads it: undefined
 * when absent, null when present but invalid (the first occurrence counts). */
function queryU64(query: string, name: string): bigint | null | undefined {
  for (const part of query.split('&')) {
    if (!part.startsWith(`${name}=`)) continue;
    const v = part.slice(name.length + 1);
    if (!/^[0-9]+$/.test(v)) return null;
    const n = BigInt(v);
    return n > 0xffffffffffffffffn ? 0xffffffffffffffffn : n; // strtoull saturates
  }
  return undefined;
}

/* GET /bulk?bytes=N[&chunk=C][&seed=S]: a body of N generated bytes in C-byte pieces. */
function bulk(query: string | null): HttpReply {
  const bytesQ = query === null ? undefined : queryU64(query, 'bytes');
  const chunkQ = query === null ? undefined : queryU64(query, 'chunk');
  const seedQ = query === null ? undefined : queryU64(query, 'seed');
  if (bytesQ === undefined || bytesQ === null || chunkQ === null || seedQ === null) return textReply(400);
  const chunk = chunkQ ?? 65536n;
  if (bytesQ > BigInt(HTTP_MAX_BULK) || chunk === 0n || chunk > BigInt(PAYLOAD_MAX_PIECE)) return textReply(400);
  return { kind: 'bulk', total: Number(bytesQ), chunk: Number(chunk), seed: seedQ ?? 1n };
}

export function httpWork(job: HttpJob): HttpReply {
  if (job.method === 'POST' && job.path === '/') return rpc(job.body);
  if (job.path === '/bulk') return job.method === 'GET' ? bulk(job.query) : textReply(405);
  return textReply(404);
}

/* What the loop posts to a hand-off worker. */
export type Task = { proto: 'peer'; job: PeerJob } | { proto: 'http'; job: HttpJob };
