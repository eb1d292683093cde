/**
 * OpenZeppelin's StandardMerkleTree (@openzeppelin/merkle-tree 1.0.8), built fast: the same tree,
 * root, proofs and `dump()` as `StandardMerkleTree.of(values, leafEncoding, options)`, and a real
 * `StandardMerkleTree` object, so everything that reads one (proofs, `dump`, `load`) is unchanged.
 *
 * What OZ does, and this does too: leaf = keccak256(keccak256(abi.encode(leafEncoding, value)));
 * with `sortLeaves` (OZ's default) the leaves ordered by hash (a stable sort, as Array.sort);
 * the tree an array of 2n − 1 nodes, leaf i at index 2n − 2 − i, node i = keccak256 of its
 * children 2i + 1 and 2i + 2 concatenated in ascending byte order; value i's `treeIndex` points at
 * its leaf. OZ spends about 250 µs a leaf on this (abi.encode through generic parsers, every hash
 * through hex strings, pairs ordered by BigInt subtraction). Here the leaves are encoded straight
 * into bytes and hashed by the Keccak-f[1600] permutation below (32-bit lane halves, rounds
 * unrolled), with no allocation per hash.
 *
 * Leaf types with this fast path: address, bool, bytes32 and uint8 … uint256, with values in
 * canonical form (an address or bytes32 as a 0x-prefixed hex string of the right length, a bool,
 * a bigint or a safe non-negative integer in range). Anything else — another type, a value OZ's
 * parser would coerce (a numeric string, a short address) or reject — is handed to OZ itself, so
 * the result, or the error, is always OZ's.
 */
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { type Address, getAddress } from "viem";

// ─────────────────────────────────────────── Keccak-256 ───────────────────────────────────────────

/** The 24 round constants (lo, hi), from the degree-8 LFSR of the Keccak specification. */
const RC = ((): Int32Array => {
  const rcBit = (t: number) => {
    let r = 1;
    for (let i = 0; i < t % 255; i++) {
      r <<= 1;
      if (r & 0x100) r ^= 0x171;
    }
    return r & 1;
  };
  const out = new Int32Array(48);
  for (let round = 0; round < 24; round++) {
    for (let j = 0; j < 7; j++) {
      if (rcBit(j + 7 * round) === 0) continue;
      const bit = 2 ** j - 1; // 0, 1, 3, 7, 15, 31, 63
      if (bit < 32) out[2 * round] = out[2 * round]! | (1 << bit);
      else out[2 * round + 1] = out[2 * round + 1]! | (1 << (bit - 32));
    }
  }
  return out;
})();

/**
 * Keccak-f[1600] in place on 25 lanes of 64 bits, each as (low, high) 32-bit halves: lane
 * x + 5y at s[2(x + 5y)], s[2(x + 5y) + 1]. Per round θ, ρ and π (into b), χ, ι, written out for
 * every lane (the rotation amounts are those of the specification's table).
 */
function keccakF(s: Int32Array): void {
  let a0l = s[0]!;
  let a0h = s[1]!;
  let a1l = s[2]!;
  let a1h = s[3]!;
  let a2l = s[4]!;
  let a2h = s[5]!;
  let a3l = s[6]!;
  let a3h = s[7]!;
  let a4l = s[8]!;
  let a4h = s[9]!;
  let a5l = s[10]!;
  let a5h = s[11]!;
  let a6l = s[12]!;
  let a6h = s[13]!;
  let a7l = s[14]!;
  let a7h = s[15]!;
  let a8l = s[16]!;
  let a8h = s[17]!;
  let a9l = s[18]!;
  let a9h = s[19]!;
  let a10l = s[20]!;
  let a10h = s[21]!;
  let a11l = s[22]!;
  let a11h = s[23]!;
  let a12l = s[24]!;
  let a12h = s[25]!;
  let a13l = s[26]!;
  let a13h = s[27]!;
  let a14l = s[28]!;
  let a14h = s[29]!;
  let a15l = s[30]!;
  let a15h = s[31]!;
  let a16l = s[32]!;
  let a16h = s[33]!;
  let a17l = s[34]!;
  let a17h = s[35]!;
  let a18l = s[36]!;
  let a18h = s[37]!;
  let a19l = s[38]!;
  let a19h = s[39]!;
  let a20l = s[40]!;
  let a20h = s[41]!;
  let a21l = s[42]!;
  let a21h = s[43]!;
  let a22l = s[44]!;
  let a22h = s[45]!;
  let a23l = s[46]!;
  let a23h = s[47]!;
  let a24l = s[48]!;
  let a24h = s[49]!;
  for (let round = 0; round < 24; round++) {
    const c0l = a0l ^ a5l ^ a10l ^ a15l ^ a20l;
    const c0h = a0h ^ a5h ^ a10h ^ a15h ^ a20h;
    const c1l = a1l ^ a6l ^ a11l ^ a16l ^ a21l;
    const c1h = a1h ^ a6h ^ a11h ^ a16h ^ a21h;
    const c2l = a2l ^ a7l ^ a12l ^ a17l ^ a22l;
    const c2h = a2h ^ a7h ^ a12h ^ a17h ^ a22h;
    const c3l = a3l ^ a8l ^ a13l ^ a18l ^ a23l;
    const c3h = a3h ^ a8h ^ a13h ^ a18h ^ a23h;
    const c4l = a4l ^ a9l ^ a14l ^ a19l ^ a24l;
    const c4h = a4h ^ a9h ^ a14h ^ a19h ^ a24h;
    const d0l = c4l ^ ((c1l << 1) | (c1h >>> 31));
    const d0h = c4h ^ ((c1h << 1) | (c1l >>> 31));
    const d1l = c0l ^ ((c2l << 1) | (c2h >>> 31));
    const d1h = c0h ^ ((c2h << 1) | (c2l >>> 31));
    const d2l = c1l ^ ((c3l << 1) | (c3h >>> 31));
    const d2h = c1h ^ ((c3h << 1) | (c3l >>> 31));
    const d3l = c2l ^ ((c4l << 1) | (c4h >>> 31));
    const d3h = c2h ^ ((c4h << 1) | (c4l >>> 31));
    const d4l = c3l ^ ((c0l << 1) | (c0h >>> 31));
    const d4h = c3h ^ ((c0h << 1) | (c0l >>> 31));
    const b0l = a0l ^ d0l;
    const b0h = a0h ^ d0h;
    const t5l = a5l ^ d0l;
    const t5h = a5h ^ d0h;
    const b16l = (t5h << 4) | (t5l >>> 28);
    const b16h = (t5l << 4) | (t5h >>> 28);
    const t10l = a10l ^ d0l;
    const t10h = a10h ^ d0h;
    const b7l = (t10l << 3) | (t10h >>> 29);
    const b7h = (t10h << 3) | (t10l >>> 29);
    const t15l = a15l ^ d0l;
    const t15h = a15h ^ d0h;
    const b23l = (t15h << 9) | (t15l >>> 23);
    const b23h = (t15l << 9) | (t15h >>> 23);
    const t20l = a20l ^ d0l;
    const t20h = a20h ^ d0h;
    const b14l = (t20l << 18) | (t20h >>> 14);
    const b14h = (t20h << 18) | (t20l >>> 14);
    const t1l = a1l ^ d1l;
    const t1h = a1h ^ d1h;
    const b10l = (t1l << 1) | (t1h >>> 31);
    const b10h = (t1h << 1) | (t1l >>> 31);
    const t6l = a6l ^ d1l;
    const t6h = a6h ^ d1h;
    const b1l = (t6h << 12) | (t6l >>> 20);
    const b1h = (t6l << 12) | (t6h >>> 20);
    const t11l = a11l ^ d1l;
    const t11h = a11h ^ d1h;
    const b17l = (t11l << 10) | (t11h >>> 22);
    const b17h = (t11h << 10) | (t11l >>> 22);
    const t16l = a16l ^ d1l;
    const t16h = a16h ^ d1h;
    const b8l = (t16h << 13) | (t16l >>> 19);
    const b8h = (t16l << 13) | (t16h >>> 19);
    const t21l = a21l ^ d1l;
    const t21h = a21h ^ d1h;
    const b24l = (t21l << 2) | (t21h >>> 30);
    const b24h = (t21h << 2) | (t21l >>> 30);
    const t2l = a2l ^ d2l;
    const t2h = a2h ^ d2h;
    const b20l = (t2h << 30) | (t2l >>> 2);
    const b20h = (t2l << 30) | (t2h >>> 2);
    const t7l = a7l ^ d2l;
    const t7h = a7h ^ d2h;
    const b11l = (t7l << 6) | (t7h >>> 26);
    const b11h = (t7h << 6) | (t7l >>> 26);
    const t12l = a12l ^ d2l;
    const t12h = a12h ^ d2h;
    const b2l = (t12h << 11) | (t12l >>> 21);
    const b2h = (t12l << 11) | (t12h >>> 21);
    const t17l = a17l ^ d2l;
    const t17h = a17h ^ d2h;
    const b18l = (t17l << 15) | (t17h >>> 17);
    const b18h = (t17h << 15) | (t17l >>> 17);
    const t22l = a22l ^ d2l;
    const t22h = a22h ^ d2h;
    const b9l = (t22h << 29) | (t22l >>> 3);
    const b9h = (t22l << 29) | (t22h >>> 3);
    const t3l = a3l ^ d3l;
    const t3h = a3h ^ d3h;
    const b5l = (t3l << 28) | (t3h >>> 4);
    const b5h = (t3h << 28) | (t3l >>> 4);
    const t8l = a8l ^ d3l;
    const t8h = a8h ^ d3h;
    const b21l = (t8h << 23) | (t8l >>> 9);
    const b21h = (t8l << 23) | (t8h >>> 9);
    const t13l = a13l ^ d3l;
    const t13h = a13h ^ d3h;
    const b12l = (t13l << 25) | (t13h >>> 7);
    const b12h = (t13h << 25) | (t13l >>> 7);
    const t18l = a18l ^ d3l;
    const t18h = a18h ^ d3h;
    const b3l = (t18l << 21) | (t18h >>> 11);
    const b3h = (t18h << 21) | (t18l >>> 11);
    const t23l = a23l ^ d3l;
    const t23h = a23h ^ d3h;
    const b19l = (t23h << 24) | (t23l >>> 8);
    const b19h = (t23l << 24) | (t23h >>> 8);
    const t4l = a4l ^ d4l;
    const t4h = a4h ^ d4h;
    const b15l = (t4l << 27) | (t4h >>> 5);
    const b15h = (t4h << 27) | (t4l >>> 5);
    const t9l = a9l ^ d4l;
    const t9h = a9h ^ d4h;
    const b6l = (t9l << 20) | (t9h >>> 12);
    const b6h = (t9h << 20) | (t9l >>> 12);
    const t14l = a14l ^ d4l;
    const t14h = a14h ^ d4h;
    const b22l = (t14h << 7) | (t14l >>> 25);
    const b22h = (t14l << 7) | (t14h >>> 25);
    const t19l = a19l ^ d4l;
    const t19h = a19h ^ d4h;
    const b13l = (t19l << 8) | (t19h >>> 24);
    const b13h = (t19h << 8) | (t19l >>> 24);
    const t24l = a24l ^ d4l;
    const t24h = a24h ^ d4h;
    const b4l = (t24l << 14) | (t24h >>> 18);
    const b4h = (t24h << 14) | (t24l >>> 18);
    a0l = b0l ^ (~b1l & b2l);
    a0h = b0h ^ (~b1h & b2h);
    a1l = b1l ^ (~b2l & b3l);
    a1h = b1h ^ (~b2h & b3h);
    a2l = b2l ^ (~b3l & b4l);
    a2h = b2h ^ (~b3h & b4h);
    a3l = b3l ^ (~b4l & b0l);
    a3h = b3h ^ (~b4h & b0h);
    a4l = b4l ^ (~b0l & b1l);
    a4h = b4h ^ (~b0h & b1h);
    a5l = b5l ^ (~b6l & b7l);
    a5h = b5h ^ (~b6h & b7h);
    a6l = b6l ^ (~b7l & b8l);
    a6h = b6h ^ (~b7h & b8h);
    a7l = b7l ^ (~b8l & b9l);
    a7h = b7h ^ (~b8h & b9h);
    a8l = b8l ^ (~b9l & b5l);
    a8h = b8h ^ (~b9h & b5h);
    a9l = b9l ^ (~b5l & b6l);
    a9h = b9h ^ (~b5h & b6h);
    a10l = b10l ^ (~b11l & b12l);
    a10h = b10h ^ (~b11h & b12h);
    a11l = b11l ^ (~b12l & b13l);
    a11h = b11h ^ (~b12h & b13h);
    a12l = b12l ^ (~b13l & b14l);
    a12h = b12h ^ (~b13h & b14h);
    a13l = b13l ^ (~b14l & b10l);
    a13h = b13h ^ (~b14h & b10h);
    a14l = b14l ^ (~b10l & b11l);
    a14h = b14h ^ (~b10h & b11h);
    a15l = b15l ^ (~b16l & b17l);
    a15h = b15h ^ (~b16h & b17h);
    a16l = b16l ^ (~b17l & b18l);
    a16h = b16h ^ (~b17h & b18h);
    a17l = b17l ^ (~b18l & b19l);
    a17h = b17h ^ (~b18h & b19h);
    a18l = b18l ^ (~b19l & b15l);
    a18h = b18h ^ (~b19h & b15h);
    a19l = b19l ^ (~b15l & b16l);
    a19h = b19h ^ (~b15h & b16h);
    a20l = b20l ^ (~b21l & b22l);
    a20h = b20h ^ (~b21h & b22h);
    a21l = b21l ^ (~b22l & b23l);
    a21h = b21h ^ (~b22h & b23h);
    a22l = b22l ^ (~b23l & b24l);
    a22h = b22h ^ (~b23h & b24h);
    a23l = b23l ^ (~b24l & b20l);
    a23h = b23h ^ (~b24h & b20h);
    a24l = b24l ^ (~b20l & b21l);
    a24h = b24h ^ (~b20h & b21h);
    a0l ^= RC[2 * round]!;
    a0h ^= RC[2 * round + 1]!;
  }
  s[0] = a0l;
  s[1] = a0h;
  s[2] = a1l;
  s[3] = a1h;
  s[4] = a2l;
  s[5] = a2h;
  s[6] = a3l;
  s[7] = a3h;
  s[8] = a4l;
  s[9] = a4h;
  s[10] = a5l;
  s[11] = a5h;
  s[12] = a6l;
  s[13] = a6h;
  s[14] = a7l;
  s[15] = a7h;
  s[16] = a8l;
  s[17] = a8h;
  s[18] = a9l;
  s[19] = a9h;
  s[20] = a10l;
  s[21] = a10h;
  s[22] = a11l;
  s[23] = a11h;
  s[24] = a12l;
  s[25] = a12h;
  s[26] = a13l;
  s[27] = a13h;
  s[28] = a14l;
  s[29] = a14h;
  s[30] = a15l;
  s[31] = a15h;
  s[32] = a16l;
  s[33] = a16h;
  s[34] = a17l;
  s[35] = a17h;
  s[36] = a18l;
  s[37] = a18h;
  s[38] = a19l;
  s[39] = a19h;
  s[40] = a20l;
  s[41] = a20h;
  s[42] = a21l;
  s[43] = a21h;
  s[44] = a22l;
  s[45] = a22h;
  s[46] = a23l;
  s[47] = a23h;
  s[48] = a24l;
  s[49] = a24h;
}

const RATE = 136;
const lanes = new Int32Array(50);

/** keccak256 of input[from, from + length) into out[at, at + 32). */
export function keccak256Into(
  input: Uint8Array,
  from: number,
  length: number,
  out: Uint8Array,
  at: number,
): void {
  const s = lanes;
  s.fill(0);
  let pos = from;
  const end = from + length;
  for (; end - pos >= RATE; pos += RATE) {
    for (let w = 0; w < RATE / 4; w++) {
      const o = pos + 4 * w;
      s[w] = s[w]! ^ (input[o]! | (input[o + 1]! << 8) | (input[o + 2]! << 16) | (input[o + 3]! << 24));
    }
    keccakF(s);
  }
  // The last, partial block with Keccak's padding 0x01 … 0x80 (not SHA-3's 0x06).
  const rest = end - pos;
  for (let i = 0; i < rest; i++) {
    const w = i >>> 2;
    s[w] = s[w]! ^ (input[pos + i]! << ((i & 3) << 3));
  }
  s[rest >>> 2] = s[rest >>> 2]! ^ (0x01 << ((rest & 3) << 3));
  s[(RATE - 1) >>> 2] = s[(RATE - 1) >>> 2]! ^ (0x80 << 24);
  keccakF(s);
  for (let w = 0; w < 8; w++) {
    const v = s[w]!;
    const o = at + 4 * w;
    out[o] = v;
    out[o + 1] = v >>> 8;
    out[o + 2] = v >>> 16;
    out[o + 3] = v >>> 24;
  }
}

/** keccak256 of `input` (a new 32-byte array). */
export function keccak256Bytes(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  keccak256Into(input, 0, input.length, out, 0);
  return out;
}

// ───────────────────────────────────────── leaf encoding ─────────────────────────────────────────

/** Writes one value's 32-byte ABI word at out[at]; false when the value is not in canonical form. */
type WordEncoder = (value: unknown, out: Uint8Array, at: number) => boolean;

const HEX_VALUE = ((): Int8Array => {
  const t = new Int8Array(128).fill(-1);
  for (let c = 0; c < 10; c++) t[48 + c] = c;
  for (let c = 0; c < 6; c++) {
    t[65 + c] = 10 + c;
    t[97 + c] = 10 + c;
  }
  return t;
})();

/** `hex` (0x + 2·bytes hex digits) into out[at, at + bytes); false if it is not exactly that. */
function hexInto(hex: string, bytes: number, out: Uint8Array, at: number): boolean {
  if (hex.length !== 2 + 2 * bytes || hex.charCodeAt(0) !== 48 || hex.charCodeAt(1) !== 120) return false;
  for (let i = 0; i < bytes; i++) {
    const c1 = hex.charCodeAt(2 + 2 * i);
    const c2 = hex.charCodeAt(3 + 2 * i);
    const hi = c1 < 128 ? HEX_VALUE[c1]! : -1;
    const lo = c2 < 128 ? HEX_VALUE[c2]! : -1;
    if (hi < 0 || lo < 0) return false;
    out[at + i] = (hi << 4) | lo;
  }
  return true;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A safe non-negative integer as the last 8 bytes of the word at out[at] (the rest zero). */
function safeIntWord(value: number, out: Uint8Array, at: number): void {
  out.fill(0, at, at + 24);
  const hi = Math.floor(value / 2 ** 32);
  const lo = value >>> 0;
  for (let i = 0; i < 4; i++) {
    out[at + 27 - i] = hi >>> (8 * i);
    out[at + 31 - i] = lo >>> (8 * i);
  }
}

function uintEncoder(bits: number): WordEncoder {
  const limit = 1n << BigInt(bits);
  return (value, out, at) => {
    if (typeof value === "number") {
      if (!Number.isSafeInteger(value) || value < 0 || (bits < 53 && value >= 2 ** bits)) return false;
      safeIntWord(value, out, at);
      return true;
    }
    if (typeof value !== "bigint" || value < 0n || value >= limit) return false;
    if (value <= MAX_SAFE) safeIntWord(Number(value), out, at);
    else {
      // 32 bits at a time from the low end: a few BigInt operations instead of a hex string.
      out.fill(0, at, at + 32);
      let v = value;
      for (let o = at + 28; o >= at && v > 0n; o -= 4) {
        const limb = Number(v & 0xffffffffn);
        out[o] = limb >>> 24;
        out[o + 1] = limb >>> 16;
        out[o + 2] = limb >>> 8;
        out[o + 3] = limb;
        v >>= 32n;
      }
    }
    return true;
  };
}

function encoderOf(type: string): WordEncoder | undefined {
  if (type === "address") {
    return (value, out, at) => {
      out.fill(0, at, at + 12);
      return typeof value === "string" && hexInto(value, 20, out, at + 12);
    };
  }
  if (type === "bytes32") return (value, out, at) => typeof value === "string" && hexInto(value, 32, out, at);
  if (type === "bool") {
    return (value, out, at) => {
      if (typeof value !== "boolean") return false;
      out.fill(0, at, at + 31);
      out[at + 31] = value ? 1 : 0;
      return true;
    };
  }
  const m = /^uint([0-9]*)$/.exec(type);
  if (m === null) return undefined;
  const bits = m[1] === "" ? 256 : Number(m[1]);
  if (!(bits >= 8 && bits <= 256 && bits % 8 === 0) || (m[1]!.length > 1 && m[1]!.startsWith("0"))) {
    return undefined;
  }
  return uintEncoder(bits);
}

/**
 * The leaf hashes of `values` (32 bytes each, in order), or undefined when a type or a value is
 * outside the fast path.
 */
function leafHashes(values: readonly unknown[], leafEncoding: readonly string[]): Uint8Array | undefined {
  const encoders: WordEncoder[] = [];
  for (const type of leafEncoding) {
    const e = encoderOf(type);
    if (e === undefined) return undefined;
    encoders.push(e);
  }
  const width = 32 * encoders.length;
  const encoded = new Uint8Array(Math.max(width, 32));
  const inner = new Uint8Array(32);
  const out = new Uint8Array(32 * values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (!Array.isArray(value) || value.length !== encoders.length) return undefined;
    for (let k = 0; k < encoders.length; k++) {
      if (!encoders[k]!(value[k], encoded, 32 * k)) return undefined;
    }
    keccak256Into(encoded, 0, width, inner, 0);
    keccak256Into(inner, 0, 32, out, 32 * i);
  }
  return out;
}

// ───────────────────────────────────────────── trees ─────────────────────────────────────────────

/** -1, 0, 1 as a[ai, ai + 32) compares with b[bi, bi + 32) (big-endian numbers: byte order). */
function compare32(a: Uint8Array, ai: number, b: Uint8Array, bi: number): number {
  for (let i = 0; i < 32; i++) {
    const d = a[ai + i]! - b[bi + i]!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** OZ's node hash: keccak256 of nodes[left] and nodes[right], the smaller first, into out[at]. */
function nodeHashInto(
  nodes: Uint8Array,
  left: number,
  right: number,
  pair: Uint8Array,
  out: Uint8Array,
  at: number,
): void {
  const swap = compare32(nodes, left, nodes, right) > 0;
  const first = swap ? right : left;
  const second = swap ? left : right;
  for (let i = 0; i < 32; i++) {
    pair[i] = nodes[first + i]!;
    pair[32 + i] = nodes[second + i]!;
  }
  keccak256Into(pair, 0, 64, out, at);
}

/** The hex strings OZ keeps: 0x + 64 lowercase digits per node. */
function nodeHex(nodes: Uint8Array, count: number): string[] {
  const buf = Buffer.from(nodes.buffer, nodes.byteOffset, nodes.byteLength);
  const out = new Array<string>(count);
  for (let i = 0; i < count; i++) out[i] = "0x" + buf.toString("hex", 32 * i, 32 * i + 32);
  return out;
}

/** A StandardMerkleTree made from a tree and values already computed (OZ's constructor is protected). */
class PrebuiltTree<T extends unknown[]> extends StandardMerkleTree<T> {
  constructor(tree: string[], values: { value: T; treeIndex: number }[], leafEncoding: string[]) {
    super(tree, values, leafEncoding);
  }
}

/**
 * `StandardMerkleTree.of(values, leafEncoding, options)`, the same tree (see the module comment),
 * built without OZ's per-leaf cost when every type and value is on the fast path, else by OZ.
 */
export function standardTreeOf<T extends unknown[]>(
  values: T[],
  leafEncoding: string[],
  options: { sortLeaves?: boolean } = {},
): StandardMerkleTree<T> {
  const n = values.length;
  const hashes = n === 0 ? undefined : leafHashes(values, leafEncoding);
  // No leaves (OZ refuses them) or a value off the fast path: OZ decides, and says why.
  if (hashes === undefined) return StandardMerkleTree.of<T>(values, leafEncoding, options);
  // Leaf order: as given, or by hash (stable, as OZ's Array.sort).
  const order = Array.from({ length: n }, (_, i) => i);
  if (options.sortLeaves ?? true) order.sort((a, b) => compare32(hashes, 32 * a, hashes, 32 * b) || a - b);
  const size = 2 * n - 1;
  const nodes = new Uint8Array(32 * size);
  const treeIndex = new Int32Array(n);
  for (let leaf = 0; leaf < n; leaf++) {
    const at = size - 1 - leaf;
    const v = order[leaf]!;
    nodes.set(hashes.subarray(32 * v, 32 * v + 32), 32 * at);
    treeIndex[v] = at;
  }
  const pair = new Uint8Array(64);
  for (let i = size - 1 - n; i >= 0; i--) {
    nodeHashInto(nodes, 32 * (2 * i + 1), 32 * (2 * i + 2), pair, nodes, 32 * i);
  }
  const indexed = values.map((value, i) => ({ value, treeIndex: treeIndex[i]! }));
  return new PrebuiltTree(nodeHex(nodes, size), indexed, [...leafEncoding]);
}

/**
 * `StandardMerkleTree.load(data)` with the same checks (every value's leaf in its place, every
 * node the hash of its children) done by the fast path; any dump it cannot check that way, or that
 * fails a check, goes to OZ's own `load`, so the result or the error is OZ's.
 */
export function loadStandardTree<T extends unknown[]>(data: {
  format: string;
  leafEncoding: string[];
  tree: string[];
  values: { value: T; treeIndex: number }[];
}): StandardMerkleTree<T> {
  const ozLoad = () => StandardMerkleTree.load<T>(data as Parameters<typeof StandardMerkleTree.load<T>>[0]);
  const { tree, values } = data;
  if (
    data.format !== "standard-v1" ||
    !Array.isArray(data.leafEncoding) ||
    !Array.isArray(tree) ||
    !Array.isArray(values) ||
    tree.length === 0 ||
    tree.length % 2 === 0
  ) {
    return ozLoad();
  }
  const size = tree.length;
  const nodes = new Uint8Array(32 * size);
  for (let i = 0; i < size; i++) {
    const node = tree[i];
    if (typeof node !== "string" || !hexInto(node, 32, nodes, 32 * i)) return ozLoad();
  }
  // OZ compares a value's leaf hash with its node as strings: lowercase hex, exactly.
  const hashes = leafHashes(
    values.map((v) => (v as { value?: unknown } | null)?.value),
    data.leafEncoding,
  );
  if (hashes === undefined) return ozLoad();
  const hex = nodeHex(hashes, values.length);
  for (let i = 0; i < values.length; i++) {
    const at = values[i]!.treeIndex;
    if (!Number.isInteger(at) || tree[at] !== hex[i]) return ozLoad();
  }
  const pair = new Uint8Array(64);
  const expected = new Uint8Array(32);
  for (let i = 0; 2 * i + 2 < size; i++) {
    nodeHashInto(nodes, 32 * (2 * i + 1), 32 * (2 * i + 2), pair, expected, 0);
    if (compare32(expected, 0, nodes, 32 * i) !== 0) return ozLoad();
  }
  return new PrebuiltTree(tree, values, data.leafEncoding);
}

// ─────────────────────────────────────────── addresses ───────────────────────────────────────────

const ADDRESS = /^0x[a-fA-F0-9]{40}$/;
const addressAscii = new Uint8Array(40);
const addressHash = new Uint8Array(32);
const addressOut = Buffer.alloc(42);

/**
 * viem's `getAddress(address)` (EIP-55 checksum casing) with the Keccak of this module: the same
 * string, and for anything that is not 0x + 40 hex digits viem's own error (viem is called then).
 * Trees of a whole network checksum millions of addresses; viem's hash makes that minutes.
 */
export function checksumAddress(address: string): Address {
  if (typeof address !== "string" || !ADDRESS.test(address)) return getAddress(address);
  for (let i = 0; i < 40; i++) {
    const c = address.charCodeAt(2 + i);
    addressAscii[i] = c >= 65 && c <= 70 ? c + 32 : c; // lowercase
  }
  keccak256Into(addressAscii, 0, 40, addressHash, 0);
  addressOut[0] = 48;
  addressOut[1] = 120;
  for (let i = 0; i < 40; i++) {
    const c = addressAscii[i]!;
    const nibble = i % 2 === 0 ? addressHash[i >> 1]! >> 4 : addressHash[i >> 1]! & 0x0f;
    addressOut[2 + i] = c >= 97 && nibble >= 8 ? c - 32 : c;
  }
  return addressOut.toString("latin1", 0, 42) as Address;
}
