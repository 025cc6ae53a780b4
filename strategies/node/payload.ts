/* The seeded payload generator of strategies/core/payload.c, byte for byte.
 *
 * One pattern of PAYLOAD_PATTERN_LEN bytes is filled with successive
 * splitmix64 outputs (little-endian words) from a fixed seed. Piece i of a
 * stream with seed S is the prefix of the slice at one of PAYLOAD_SLOTS
 * offsets, picked by splitmix64 of S ^ (i * 0xD1B54A32D192ED03). Pieces are
 * subarrays of the pattern: producing one copies nothing. The pattern lives in
 * a SharedArrayBuffer so hand-off workers (worker.ts) read the same bytes
 * instead of building their own copy.
 *
 * An uploaded block is verified by comparing it with its piece (payloadMatches):
 * the C core compares XXH3 hashes, which decides the same thing; Node has no
 * XXH3, and Buffer.equals is one memcmp in C++. */

export const PAYLOAD_SLOTS = 64;
export const PAYLOAD_STRIDE = 4099;
export const PAYLOAD_MAX_PIECE = 4_000_000;
export const PAYLOAD_PATTERN_LEN = (PAYLOAD_SLOTS - 1) * PAYLOAD_STRIDE + PAYLOAD_MAX_PIECE;

const PATTERN_SEED = 0x6d757862656e6368n;
const GAMMA = 0x9e3779b97f4a7c15n;
const M1 = 0xbf58476d1ce4e5b9n;
const M2 = 0x94d049bb133111ebn;
const PIECE_MUL = 0xd1b54a32d192ed03n;
const u64 = (v: bigint) => BigInt.asUintN(64, v);

/* One splitmix64 step: returns [output, next state]. */
export function splitmix64(state: bigint): [bigint, bigint] {
  const next = u64(state + GAMMA);
  let z = next;
  z = u64((z ^ (z >> 30n)) * M1);
  z = u64((z ^ (z >> 27n)) * M2);
  return [z ^ (z >> 31n), next];
}

/* 32-bit-limb splitmix64 for the pattern fill (BigInt would take seconds for
 * half a million words); checked against splitmix64() above at start-up. */
function mul64(ah: number, al: number, bh: number, bl: number): [number, number] {
  // (ah:al) * (bh:bl) mod 2^64 with 16-bit partial products.
  const a0 = al & 0xffff, a1 = al >>> 16, b0 = bl & 0xffff, b1 = bl >>> 16;
  const p00 = a0 * b0;
  const mid = a1 * b0 + ((p00 >>> 16) >>> 0);
  const mid2 = a0 * b1 + (mid & 0xffff);
  const lo = (((mid2 & 0xffff) << 16) | (p00 & 0xffff)) >>> 0;
  const carry = Math.floor(mid / 0x10000) + Math.floor(mid2 / 0x10000) + a1 * b1;
  const hi = (carry + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
  return [hi, lo];
}

function fillPattern(out: Buffer): void {
  const G_HI = 0x9e3779b9, G_LO = 0x7f4a7c15;
  const M1_HI = 0xbf58476d, M1_LO = 0x1ce4e5b9;
  const M2_HI = 0x94d049bb, M2_LO = 0x133111eb;
  let sh = Number(PATTERN_SEED >> 32n) >>> 0;
  let sl = Number(PATTERN_SEED & 0xffffffffn) >>> 0;
  const words = Math.floor(out.length / 8);
  for (let w = 0; w < words; w++) {
    // state += gamma
    const lo = sl + G_LO;
    sl = lo >>> 0;
    sh = (sh + G_HI + (lo > 0xffffffff ? 1 : 0)) >>> 0;
    let zh = sh, zl = sl;
    // z ^= z >> 30
    zl = (zl ^ ((zl >>> 30) | (zh << 2))) >>> 0;
    zh = (zh ^ (zh >>> 30)) >>> 0;
    [zh, zl] = mul64(zh, zl, M1_HI, M1_LO);
    // z ^= z >> 27
    zl = (zl ^ ((zl >>> 27) | (zh << 5))) >>> 0;
    zh = (zh ^ (zh >>> 27)) >>> 0;
    [zh, zl] = mul64(zh, zl, M2_HI, M2_LO);
    // z ^= z >> 31
    zl = (zl ^ ((zl >>> 31) | (zh << 1))) >>> 0;
    zh = (zh ^ (zh >>> 31)) >>> 0;
    out.writeUInt32LE(zl, w * 8);
    out.writeUInt32LE(zh, w * 8 + 4);
  }
}

let pattern: Buffer | null = null;

/* Builds the shared pattern (once) and checks the fast fill against the
 * BigInt reference on its first and last words. */
export function payloadWarm(): Buffer {
  if (pattern) return pattern;
  // Slack for the word-wise fill, as payload.c mallocs LEN + 8.
  const full = Buffer.from(new SharedArrayBuffer(PAYLOAD_PATTERN_LEN + 8));
  fillPattern(full);
  let st = PATTERN_SEED;
  let first = 0n;
  [first, st] = splitmix64(st);
  if (full.readBigUInt64LE(0) !== first) throw new Error('payload pattern: fast splitmix64 disagrees with the reference');
  const words = Math.floor(full.length / 8);
  const lastState = u64(PATTERN_SEED + BigInt(words - 1) * GAMMA);
  const [last] = splitmix64(lastState);
  if (full.readBigUInt64LE((words - 1) * 8) !== last) throw new Error('payload pattern: fast splitmix64 disagrees with the reference (last word)');
  pattern = full.subarray(0, PAYLOAD_PATTERN_LEN);
  return pattern;
}

/* The pattern's memory, to hand to worker threads. */
export function payloadShared(): SharedArrayBuffer {
  return payloadWarm().buffer as SharedArrayBuffer;
}

/* A worker thread uses the pattern its parent built. */
export function payloadAdopt(shared: SharedArrayBuffer): void {
  pattern = Buffer.from(shared, 0, PAYLOAD_PATTERN_LEN);
}

export function slotOf(seed: bigint, index: bigint): number {
  const [z] = splitmix64(u64(seed ^ u64(index * PIECE_MUL)));
  return Number(z % BigInt(PAYLOAD_SLOTS));
}

/* Piece `index` of length `len` (len ≤ PAYLOAD_MAX_PIECE) of the stream seeded with `seed`. */
export function payloadPiece(seed: bigint, index: number, len: number): Buffer {
  const p = pattern ?? payloadWarm();
  const off = slotOf(seed, BigInt(index)) * PAYLOAD_STRIDE;
  return p.subarray(off, off + len);
}

/* Whether `data` is piece `index` of the stream seeded with `seed`. */
export function payloadMatches(data: Uint8Array, seed: bigint, index: number): boolean {
  return data.length <= PAYLOAD_MAX_PIECE && payloadPiece(seed, index, data.length).equals(data);
}
